"""Çakmak et al. (2017), Sec. III C: temperature harvested from a pair beam vs the bath's n̄.

Pairs arrive in the two-atom long-time state of the collective bath at n̄ (Dicke ladder:
p_0|gg><gg| + p_1|D_1><D_1| + p_2|ee><ee|, p_k ~ x^k, x = n̄/(n̄+1)), either coherent (with the
heat-exchange coherence a_23 = p_1/2) or dephased (a_23 = 0).  Lines: T = omega0/ln(p_g/p_e) of
the exact fixed point of the collision map (`HarvestScheme.effective_temperature`, which for
these lam = eps = 0 states equals -omega0/ln(r_e/r_d) for every gτ), and the bath's own
temperature omega0/ln(1 + 1/n̄) (dotted).  Points: one long shot-by-shot trajectory per n̄
(`simulate_time_average`, batch-means error on p_e, delta-method error on T via
`temperature_estimate`).  Bottom: the same divided by the bath temperature.

For these states r_e/r_d = x with the coherence (the qubit thermalises exactly to the bath
temperature) and (2x^2 + x)/(2 + x) < x without it (colder): the coherence is what carries the
bath's heat to the qubit.  gτ = 0.8, rate p = 1.  Writes harvest_temperature.png/.npz/.json.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.harvest import (HarvestScheme, dephased, pair_state_from_bath,
                                  temperature_estimate)

G_TAU, RATE, OMEGA0 = 0.8, 1.0, 1.0
BURN_IN, N_BATCHES = 20.0, 32


def bath_temperature(nbar):
    return OMEGA0 / np.log1p(1.0 / np.asarray(nbar, float))


def schemes(nbar):
    pair = pair_state_from_bath(nbar)
    return {"coherent": HarvestScheme(pair, G_TAU, RATE, OMEGA0),
            "dephased": HarvestScheme(dephased(pair), G_TAU, RATE, OMEGA0)}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    nbar_fine = np.logspace(-1, 1, 61)
    nbar_mc = np.array([0.1, 0.3, 1.0, 3.0, 10.0]) if a.quick else \
        np.array([0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
    n_coll = 1e5 if a.quick else 2e6
    T_bath = bath_temperature(nbar_fine)
    data = {"nbar": nbar_fine, "T_bath": T_bath, "nbar_mc": nbar_mc, "collisions_per_point": n_coll,
            "g_tau": G_TAU, "rate": RATE, "omega0": OMEGA0}
    exact = {"coherent": [], "dephased": []}
    for nb in nbar_fine:
        for key, h in schemes(nb).items():
            T = h.effective_temperature()
            assert np.isclose(T, h.effective_temperature_eq30(), rtol=1e-8)
            exact[key].append(T)
    mc = {k: ([], [], [], []) for k in exact}          # T, se(T), p_e, se(p_e)
    g = np.array([1.0, 0.0])
    spb = max(50, int(round(n_coll / N_BATCHES)))
    for i, nb in enumerate(nbar_mc):
        for j, (key, h) in enumerate(schemes(nb).items()):
            r = h.simulate_time_average(g, n_coll / RATE, burn_in=BURN_IN, n_batches=N_BATCHES,
                                        samples_per_batch=spb, seed=100 * i + j)
            pe, se = r.mean[0, 1, 1].real, r.stderr[0, 1, 1].real
            T, Tse = temperature_estimate(pe, se, OMEGA0)
            for lst, v in zip(mc[key], (T, Tse, pe, se)):
                lst.append(v)

    fig, (ax, bx) = plotting.figure(2, 1, sharex=True, figsize=(5.6, 6.0),
                                    gridspec_kw={"height_ratios": [2, 1]})
    styles = {"coherent": ("tab:red", "o", "coherent pairs (a_23 = p_1/2)"),
              "dephased": ("tab:blue", "s", "dephased pairs (a_23 = 0)")}
    Tb_mc = bath_temperature(nbar_mc)
    for key, (col, mk, lab) in styles.items():
        Tex = np.asarray(exact[key])
        T, Tse, pe, pse = map(np.asarray, mc[key])
        ax.loglog(nbar_fine, Tex, "-", color=col, lw=1.4, label=f"{lab}: exact map")
        plotting.mc_points(ax, nbar_mc, T, Tse, fmt=mk, color=col, mfc="none",
                           label="shot by shot (time average)")
        bx.semilogx(nbar_fine, Tex / T_bath, "-", color=col, lw=1.4)
        plotting.mc_points(bx, nbar_mc, T / Tb_mc, Tse / Tb_mc, fmt=mk, color=col, mfc="none")
        data.update({f"T_exact_{key}": Tex, f"T_mc_{key}": T, f"T_mc_stderr_{key}": Tse,
                     f"pe_mc_{key}": pe, f"pe_mc_stderr_{key}": pse})
    ax.loglog(nbar_fine, T_bath, "k:", lw=1.6, label="pair bath  ω0 / ln(1 + 1/n̄)")
    bx.axhline(1.0, color="k", ls=":", lw=1.6)
    ax.set_ylabel("qubit temperature  k_B T / ħω0")
    ax.legend(fontsize=7)
    ax.set_title(f"Harvested temperature, gτ = {G_TAU}; points: {n_coll:.0e} collisions each",
                 fontsize=9)
    bx.set_xlabel("n̄ of the collective bath that prepared the pairs")
    bx.set_ylabel("T / T_bath")
    return plotting.save(fig, a.out, "harvest_temperature", data)


if __name__ == "__main__":
    print(main())
