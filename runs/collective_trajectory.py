"""One quantum-jump trajectory of two collective atoms: excitation number vs time, jumps marked.

Emission jumps (J^-) lower the excitation number by one, absorption jumps (J^+) raise it;
between jumps the conditional state changes continuously (no-jump evolution).
"""

import numpy as np

import qtraj as qt
from qtraj import operators as op
from qtraj import plotting
from qtraj.models import collective


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args(argv)
    n_atoms, nbar = 2, 1.0
    L = collective.lindblad(n_atoms, nbar, gamma0=1.0, f0=1.0)
    n_exc = op.collective(op.number_op(), n_atoms)
    times = np.linspace(0, 6, 1201)
    res = qt.mcsolve(L, collective.ground_state(n_atoms), times, 1, seed=a.seed,
                     e_ops=[n_exc], keep_jumps=True, store_states=False, progress=False)
    fig, ax = plotting.figure()
    labels = [c.name or f"channel {k}" for k, c in enumerate(L.channels)]
    plotting.trajectory_plot(ax, times, res.expect[0], res["jump_time"], res["jump_channel"],
                             labels)
    ax.set_xlabel("γ0 t")
    ax.set_ylabel("⟨N_exc⟩ on the trajectory")
    ax.set_title(f"Two collective atoms, n̄ = {nbar:g}, one trajectory (seed {a.seed})",
                 fontsize=9)
    return plotting.save(fig, a.out, "collective_trajectory",
                         {"t": times, "n_exc": res.expect[0], "jump_time": res["jump_time"],
                          "jump_channel": res["jump_channel"]})


if __name__ == "__main__":
    print(main())
