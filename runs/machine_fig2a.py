"""Manzano, Silva & Parrondo (2019) Fig. 2(a): coherence amplification Cdot_a and its bound
Cdot_a^max (Eq. 8), in units of phi^2, versus beta2/beta1 for two atom states (c = 0.2,
p0 = 0.75 "south" and p0 = 0.25 "north").  The shaded band between the two curves is the entropy
production Sdot_tot = Cdot_a^max - Cdot_a.  Lines: exact generator L0 + r(E - id) and exact output
map; thin dotted: the paper's second-order Eqs. (11a)-(11b).  Points: shot-by-shot estimates
(pure machine with bath jumps, Poisson atoms, control-variate kick estimator) with 1-sigma error
bars.  Parameters: beta1 = 1.2, gamma0 = 0.0025, r = 2, phi = 0.02, E1 = 1.5, E2 = 2.5.
Writes machine_fig2a.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.machine import FIG2, Machine, atom_state

STATES = {"south (p0 = 0.75)": 0.75, "north (p0 = 0.25)": 0.25}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    ratios = np.linspace(0.02, 1.0, 50 if a.quick else 99)
    mc_ratios = np.array([0.2, 0.6, 1.0] if a.quick else [0.1, 0.2, 0.4, 0.6, 0.8, 1.0])
    n_coll = 1_500_000 if a.quick else 40_000_000
    backend = "threading"               # the kernel releases the GIL: no process start-up
    phi2 = FIG2["phi"] ** 2
    fig, ax = plotting.figure(figsize=(6.0, 4.2))
    data = {"beta2_over_beta1": ratios, "mc_beta2_over_beta1": mc_ratios,
            "mc_collisions_per_point": n_coll, "phi": FIG2["phi"]}
    for i, (label, p0) in enumerate(STATES.items()):
        key = "south" if p0 > 0.5 else "north"
        rho = atom_state(p0)
        c, cmax, c2, cmax2 = (np.empty(len(ratios)) for _ in range(4))
        for k, x in enumerate(ratios):
            m = Machine(**FIG2, beta2=x * FIG2["beta1"], rho_a=rho)
            c[k], cmax[k] = m.coherence_rate() / phi2, m.coherence_rate_bound() / phi2
            c2[k] = m.coherence_rate(exact=False) / phi2
            cmax2[k] = m.coherence_rate_bound(exact=False) / phi2
        color = f"C{1 if key == 'south' else 0}"
        ax.plot(ratios, c, "-", color=color, label=f"Ċ_a, {label}")
        ax.plot(ratios, cmax, "--", color=color, lw=1.2, label=f"Ċ_a^max, {label}")
        ax.plot(ratios, c2, ":", color="k", lw=0.7)
        ax.plot(ratios, cmax2, ":", color="k", lw=0.7)
        ax.fill_between(ratios, c, cmax, color=color, alpha=0.15, lw=0)
        mc, mc_se, ex = [], [], []
        for j, x in enumerate(mc_ratios):
            m = Machine(**FIG2, beta2=x * FIG2["beta1"], rho_a=rho)
            res = m.simulate(n_coll, seed=1000 + 10 * i + j, n_jobs=a.n_jobs, backend=backend,
                             progress=False)
            mc.append(res["coherence_rate"] / phi2)
            mc_se.append(res["coherence_rate_stderr"] / phi2)
            ex.append(m.coherence_rate() / phi2)
        plotting.mc_points(ax, mc_ratios, mc, mc_se, color=color, mfc="white", zorder=5)
        data.update({f"Cdot_{key}": c, f"Cdot_max_{key}": cmax, f"Cdot_2nd_{key}": c2,
                     f"Cdot_max_2nd_{key}": cmax2, f"entropy_production_{key}": cmax - c,
                     f"mc_Cdot_{key}": np.array(mc), f"mc_Cdot_stderr_{key}": np.array(mc_se),
                     f"mc_exact_{key}": np.array(ex),
                     f"mc_z_{key}": (np.array(mc) - np.array(ex)) / np.array(mc_se)})
    ax.axhline(0, color="gray", lw=0.6)
    ax.set_xlabel("β2 / β1")
    ax.set_ylabel("rate / φ²")
    ax.set_title("Ċ_a (solid), Ċ_a^max (dashed, Eq. 8), shaded: entropy production\n"
                 f"points: shot by shot, {n_coll:.1e} atoms each (1σ); dotted: Eqs. (11a-b)",
                 fontsize=8)
    ax.legend(fontsize=7, loc="best")
    return plotting.save(fig, a.out, "machine_fig2a", data)


if __name__ == "__main__":
    print(main())
