"""A qubit hit by a Poisson stream of ancilla qubits: shot by shot vs the exact averaged map.

Each ancilla arrives in a thermal state and swaps part of its excitation with the system
(partial swap); between arrivals the system also decays into its own bath.  The averaged
generator is L0 + r (Phi - id), with Phi the exact collision map.
"""

import numpy as np
import scipy.linalg as sla

import qtraj as qt
from qtraj import operators as op
from qtraj.stats import zscore

# system: a qubit decaying at rate 0.2 into a zero-temperature bath
L0 = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 0.2, bath="own")])
# ancillas: excited with probability 0.3, partial swap of strength 0.6 (system x ancilla)
swap = op.kron(op.sigma_plus(), op.sigma_minus()) + op.kron(op.sigma_minus(), op.sigma_plus())
U = sla.expm(-0.6j * swap)
cm = qt.CollisionModel(L0, np.diag([0.7, 0.3]), U, rate=1.5,
                       ancilla_hamiltonian=0.5 * op.sigma_z())

times = np.linspace(0.0, 6.0, 13)
psi0 = op.basis(2, 0)                                     # system starts in the ground state
exact = cm.mesolve(psi0, times)                           # exp[(L0 + r(Phi - id)) t] rho0
res = cm.simulate(psi0, times, ntraj=4000, seed=3, progress=False)

print("excited population at the end:", res.mean[-1, 1, 1].real, "+-",
      res.stderr[-1, 1, 1].real, " exact:", exact[-1, 1, 1].real)
print("largest |z| over all times and entries:", np.abs(zscore(res.mean, res.stderr, exact)).max())
print("collisions per trajectory:", res["collisions"], "+-", res["collisions_stderr"])
print("energy from the ancillas:", res["collision_energy"], "+-", res["collision_energy_stderr"],
      " exact:", cm.expected_collision_energy(psi0, times)[-1])
print("steady state of the averaged generator:\n", cm.steady_state())
