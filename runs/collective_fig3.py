"""Çakmak et al. (2017) Fig. 3: C_l1(t) for the two initial states affected by dipolar coupling.

States (|ge> + i|eg>)/sqrt2 and (sqrt3|ge> + |eg>)/2, nbar = 10, f0/gamma0 in {1, 100}.
Exact mesolve curves (dense sampling: the f0 = 100 oscillation period is pi/f0 ~ 0.03) with
quantum-jump ensemble points.  The long-time value differs from the |gg> value because the
singlet weight is conserved (dashed: qt.steady_state with rho0).
"""

import numpy as np

import qtraj as qt
from qtraj import plotting
from qtraj.models import collective


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    ntraj = 1000 if a.quick else 20000
    nbar = 10.0
    t = np.concatenate([np.linspace(0, 0.1, 201), np.linspace(0.1, 1.0, 181)[1:]])
    t_mc = np.array([0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.4, 0.7, 1.0])
    states = collective.fig3_initial_states()
    fig, axes = plotting.figure(1, 2, sharey=True)
    data = {"t": t, "t_mc": t_mc}
    for j, psi in enumerate(states):
        ax = axes[j]
        for f0, style in [(1.0, "-"), (100.0, "-")]:
            L = collective.lindblad(2, nbar, gamma0=1.0, f0=f0)
            c = [qt.measures.l1_coherence(r) for r in qt.mesolve(L, psi, t)]
            res = qt.mcsolve(L, psi, t_mc, ntraj, seed=300 + 10 * j + int(f0),
                             n_jobs=a.n_jobs, progress=False)
            cm, se = plotting.l1_of_mean(res.mean, res.stderr)
            line, = ax.plot(t, c, style, lw=1, label=f"f0/γ0 = {f0:g}")
            plotting.mc_points(ax, t_mc, cm, se, color=line.get_color())
            data.update({f"state{j}_f{f0:g}": c, f"state{j}_f{f0:g}_mc": cm,
                         f"state{j}_f{f0:g}_mc_se": se})
        c_inf = qt.measures.l1_coherence(qt.steady_state(L, rho0=psi))
        c_gg = collective.longtime_c_l1(2, nbar)
        ax.axhline(c_inf, ls="--", color="gray", lw=0.8, label="long-time limit (steady_state)")
        ax.axhline(c_gg, ls=":", color="gray", lw=0.8, label="long-time limit from |gg⟩")
        data[f"state{j}_longtime"] = c_inf
        ax.set_xscale("symlog", linthresh=0.05)
        ax.set_xlabel("γ0 t")
        ax.set_title(["(|ge⟩ + i|eg⟩)/√2", "(√3|ge⟩ + |eg⟩)/2"][j] + f", n̄ = {nbar:g}",
                     fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("C_l1")
    return plotting.save(fig, a.out, "collective_fig3", data)


if __name__ == "__main__":
    print(main())
