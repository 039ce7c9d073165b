"""The README's first example (kept runnable by tests/test_cli.py)."""

import numpy as np
import qtraj as qt
from qtraj import operators as op
from qtraj.stats import zscore

# a thermally damped qubit: H = (omega/2) sigma_z, rates gamma(n+1) down, gamma n up
omega, gamma, nbar = 1.0, 0.5, 0.3
L = qt.Lindblad(0.5 * omega * op.sigma_z(),
                [qt.Channel(op.sigma_minus(), gamma * (nbar + 1), bath="hot"),
                 qt.Channel(op.sigma_plus(), gamma * nbar, bath="hot")])

times = np.linspace(0, 10, 51)
exact = qt.mesolve(L, op.basis(2, 1), times)                 # (51, 2, 2), exact propagation
res = qt.mcsolve(L, op.basis(2, 1), times, ntraj=20000, seed=1, n_jobs=2,
                 e_ops=[op.number_op()], store_states=True)   # states too, not only e_ops
print(res.mean[-1], res.stderr[-1])                          # averaged state and its error bars
print(abs(zscore(res.mean, res.stderr, exact)).max())       # agreement in standard errors
print(qt.steady_state(L), qt.heat_currents(L, qt.steady_state(L)))
res.save("qubit.npz"); again = qt.load("qubit.npz")
