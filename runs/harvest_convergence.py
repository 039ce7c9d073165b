"""Çakmak et al. (2017), Sec. III C: shot-by-shot estimates of the harvested qubit's excited
population converging to the exact fixed point of the collision map (coherent pairs from the
collective bath at n̄ = 1, gτ = 0.8, rate p = 1; exact p_e = r_e/(r_e + r_d) = 1/3).

Two estimators, each plotted against N = the number of collisions it consumed:
* time average: one trajectory from |g>, burn-in of 20/p, then averaged over a window of N/p
  (`simulate_time_average`, 32 batches; batch-means error bars).  The state is sampled about once
  per mean collision interval (samples_per_batch scaled with N: the default fixed number of
  samples would cap the precision whatever the run length);
* ensemble average: M independent trajectories from |g> to t = 30/p (about 16 relaxation
  times), p_e(30/p) averaged over them (`simulate`), N = M x (collisions per trajectory).
Left: estimates with 1-sigma error bars and the exact value (log x).  Right: the error bars and
|estimate - exact| against N (log-log) with a N^(-1/2) reference slope and the fitted slopes.
Each N uses its own seed, so the points are independent.  Writes harvest_convergence.png/.npz/
.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.harvest import HarvestScheme, pair_state_from_bath

NBAR, G_TAU, RATE, OMEGA0 = 1.0, 0.8, 1.0, 1.0
BURN_IN, T_ENS, N_BATCHES = 20.0, 30.0, 32


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    h = HarvestScheme(pair_state_from_bath(NBAR), G_TAU, RATE, OMEGA0)
    exact = float(h.steady_state()[1, 1].real)
    g = np.array([1.0, 0.0])
    n_max_tavg, m_max = (1e5, 10 ** 3.5) if a.quick else (1e7, 1e5)
    n_tavg = np.logspace(3, np.log10(n_max_tavg), 9 if a.quick else 13)
    m_ens = np.unique(np.rint(np.logspace(1.5, np.log10(m_max), 7 if a.quick else 11))).astype(int)

    ta_pe, ta_se, ta_n = [], [], []
    for i, n in enumerate(n_tavg):
        t_total = n / RATE
        spb = max(50, int(round(RATE * t_total / N_BATCHES)))
        r = h.simulate_time_average(g, t_total, burn_in=BURN_IN, n_batches=N_BATCHES,
                                    samples_per_batch=spb, seed=1000 + i)
        ta_pe.append(r.mean[0, 1, 1].real)
        ta_se.append(r.stderr[0, 1, 1].real)
        ta_n.append(r["collisions"])
    en_pe, en_se, en_n = [], [], []
    for i, m in enumerate(m_ens):
        r = h.simulate(g, np.array([0.0, T_ENS]), int(m), seed=2000 + i, n_jobs=a.n_jobs,
                       progress=False)
        en_pe.append(r.mean[-1, 1, 1].real)
        en_se.append(r.stderr[-1, 1, 1].real)
        en_n.append(r["collisions"] * m)
    ta_pe, ta_se, ta_n, en_pe, en_se, en_n = map(np.asarray,
                                                 (ta_pe, ta_se, ta_n, en_pe, en_se, en_n))

    fig, (ax, bx) = plotting.figure(1, 2)
    plotting.mc_points(ax, ta_n, ta_pe, ta_se, color="tab:blue",
                       label="time average (1 trajectory)")
    plotting.mc_points(ax, en_n, en_pe, en_se, fmt="s", color="tab:orange",
                       label=f"ensemble average at t = {T_ENS:g}/p")
    ax.axhline(exact, color="k", lw=1, label=f"exact fixed point {exact:.4f}")
    ax.set_xscale("log")
    ax.set_xlabel("collisions N")
    ax.set_ylabel("excited population p_e")
    ax.legend(fontsize=7)

    data = {"exact_pe": exact, "g_tau": G_TAU, "nbar": NBAR, "rate": RATE,
            "tavg_collisions": ta_n, "tavg_pe": ta_pe, "tavg_stderr": ta_se,
            "ens_ntraj": m_ens, "ens_collisions": en_n, "ens_pe": en_pe, "ens_stderr": en_se}
    for n, pe, se, col, mk, key in ((ta_n, ta_pe, ta_se, "tab:blue", "o", "tavg"),
                                    (en_n, en_pe, en_se, "tab:orange", "s", "ens")):
        slope, icpt = np.polyfit(np.log(n), np.log(se), 1)
        bx.loglog(n, se, mk, color=col, ms=4,
                  label=f"{'time' if key == 'tavg' else 'ensemble'} error bar, slope {slope:.2f}")
        bx.loglog(n, np.abs(pe - exact), mk, color=col, ms=4, mfc="none", alpha=0.6)
        bx.loglog(n, np.exp(icpt) * n ** slope, "-", color=col, lw=0.8)
        data[f"{key}_fitted_slope"] = slope
    nref = np.array([n_tavg[0], max(n_tavg[-1], en_n[-1])])
    bx.loglog(nref, 2 * ta_se[0] * (nref / nref[0]) ** -0.5, "k--", lw=1, label="∝ N^(-1/2)")
    bx.plot([], [], "o", color="0.4", mfc="none", label="|estimate - exact| (open)")
    bx.set_xlabel("collisions N")
    bx.set_ylabel("1σ error of p_e")
    bx.legend(fontsize=7)
    fig.suptitle(f"Harvested qubit, coherent pairs n̄ = {NBAR:g}, gτ = {G_TAU}: shot-by-shot "
                 f"estimates vs number of collisions", fontsize=9)
    return plotting.save(fig, a.out, "harvest_convergence", data)


if __name__ == "__main__":
    print(main())
