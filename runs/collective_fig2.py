"""Çakmak et al. (2017) Fig. 2: C_l1(t) of two collective atoms from |gg> for several nbar.

Exact: Eq. (5) and qt.mesolve of the same model; shot by shot: quantum-jump ensembles (points
with 1-sigma error bars).  Writes collective_fig2.png/.npz to --out.
"""

import numpy as np

import qtraj as qt
from qtraj import plotting
from qtraj.models import collective


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    ntraj = 2000 if a.quick else 40000
    nbars = [0.5, 1.0, 2.0, 10.0]
    t_fine = np.linspace(0, 3, 301)
    t_mc = np.linspace(0, 3, 16)
    fig, ax = plotting.figure()
    data = {"t": t_fine, "t_mc": t_mc, "nbar": nbars}
    for i, nbar in enumerate(nbars):
        L = collective.lindblad(2, nbar, gamma0=1.0, f0=1.0)
        gg = collective.ground_state(2)
        eq5 = collective.c_l1_two_atoms(t_fine, nbar, 1.0)
        me = [qt.measures.l1_coherence(r) for r in qt.mesolve(L, gg, t_fine)]
        res = qt.mcsolve(L, gg, t_mc, ntraj, seed=100 + i, n_jobs=a.n_jobs, progress=False)
        c, se = plotting.l1_of_mean(res.mean, res.stderr)
        line, = ax.plot(t_fine, eq5, label=f"n̄ = {nbar}")
        ax.plot(t_fine, me, ":", color="k", lw=0.8)
        plotting.mc_points(ax, t_mc, c, se, color=line.get_color())
        data.update({f"eq5_{nbar}": eq5, f"mesolve_{nbar}": me, f"mc_{nbar}": c,
                     f"mc_se_{nbar}": se})
    ax.set_xlabel("γ0 t")
    ax.set_ylabel("C_l1")
    ax.set_title(f"Two atoms from |gg⟩ — lines: Eq. 5 of Çakmak et al. (2017),\ndots: mesolve, "
                 f"points: {ntraj} trajectories", fontsize=8)
    ax.legend(fontsize=8)
    return plotting.save(fig, a.out, "collective_fig2", data)


if __name__ == "__main__":
    print(main())
