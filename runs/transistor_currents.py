"""Su et al. (2021), shot by shot: heat currents J_E, J_C, J_B counted from quantum jumps
(lindblad reading; ensembles started in the steady state) against J_i = Tr[H_S D_i(rho_ss)]
versus T_B.
Filled points: heat="expected" (state-dependent per-jump estimator, unbiased for the full J_i);
open points: fixed transition energies (eps1, eps2, omega per jump), which count only the
population parts J_E1, J_C1 (dotted lines) and the full J_B: the coherent parts J_E2, J_C2 flow
during the no-jump evolution.  Error bars: 1 sigma.  The paper reading has no unravelling (it is
not trace preserving).  Writes transistor_currents.png/.npz to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.transistor import Transistor, sweep


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    TB = np.linspace(5.0, 330.0, 60)
    TB_mc = np.array([10.0, 60.0, 150.0, 300.0] if a.quick else
                     [5.0, 20.0, 40.0, 80.0, 135.0, 200.0, 250.0, 330.0])
    ntraj, t_max = (1000, 3.0) if a.quick else (20000, 10.0)
    base = Transistor()
    s = sweep(base, "T_B", TB)
    fig, ax = plotting.figure(figsize=(6.5, 4.5))
    data = {"T_B": TB, "T_B_mc": TB_mc, "ntraj": ntraj, "t_max": t_max}
    colors = dict(zip("ECB", ("C0", "C3", "C2")))
    for b in "ECB":
        ax.plot(TB, s[f"J_{b}"], "-", color=colors[b], label=f"J_{b}")
        data[f"J_{b}"] = s[f"J_{b}"]
        if b != "B":
            ax.plot(TB, s[f"J_{b}1"], ":", color=colors[b], lw=1, label=f"J_{b}1")
            data[f"J_{b}1"] = s[f"J_{b}1"]
    for heat, mfc in (("expected", None), ("transition", "white")):
        est = np.empty((len(TB_mc), 3))
        se = np.empty((len(TB_mc), 3))
        for i, T in enumerate(TB_mc):
            res = base.replace(T_B=T).simulate(t_max, ntraj, seed=500 + i, n_jobs=a.n_jobs,
                                               heat=heat, progress=False, store_states=False,
                                               backend="threading")
            est[i], se[i] = res["heat_current"], res["heat_current_stderr"]
        shift = 1.0 if mfc is None else 1.03        # open points drawn slightly to the right
        for j, b in enumerate("ECB"):
            kw = {"mfc": mfc} if mfc else {}
            plotting.mc_points(ax, TB_mc * shift, est[:, j], se[:, j], color=colors[b], **kw)
        data[f"mc_{heat}"] = est
        data[f"mc_{heat}_stderr"] = se
    ax.axhline(0, color="gray", lw=0.5)
    ax.set_xlabel("T_B / Δ")
    ax.set_ylabel("heat current into the system")
    ax.set_title(f"Jump-counted currents ({ntraj} trajectories × t = {t_max:g}); filled: "
                 "expected-heat estimator, open: transition energies", fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    return plotting.save(fig, a.out, "transistor_currents", data)


if __name__ == "__main__":
    print(main())
