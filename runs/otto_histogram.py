"""Otto refrigerator model, shot by shot: heat from the cold bath counted jump by jump
(+-omega_a per jump) in the periodic state of the refrigerator, against exact results.
(a) Q_c in one cycle: histogram of independent trajectories vs the exact distribution (net
    jump count = change of level, so Q_c in {-omega_a, 0, omega_a}).
(b) Q_c summed over 5 cycles vs the counting-field (tilted generator) distribution over the
    protocol.
(c) per-cycle Q_c and W (points, 1 sigma) vs the analytic values Q_c = omega_a Dp f,
    W = (omega_b - omega_a) Dp f of `OttoRefrigerator` (lines), and the COP <Q_c>/<W> with its
    delta-method error.
Parameters: the chi-optimal refrigerator for beta_c = 1, beta_h = 0.5 (eps_C = 1),
gamma_c = gamma_h = 1, tau_adi = 1.  Writes otto_histogram.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.counting import cycle_heat, exact_heat_distribution, heat_distribution
from qtraj.models.otto import OttoRefrigerator, qc_distribution

K_CYCLES = 5


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    ntraj = 4000 if a.quick else 100000
    n_cycles = 10
    fr = OttoRefrigerator(beta_c=1.0, beta_h=0.5).optimize()
    c = fr.cycle()
    res = fr.simulate(n_cycles, ntraj=ntraj, seed=21, n_jobs=a.n_jobs, keep_jumps=True,
                      store_states=False, progress=False, backend="threading")
    q = cycle_heat(res, "cold")                                   # (ntraj, n_cycles)
    wa = fr.omega_a
    fig, axes = plotting.figure(1, 3, figsize=(14, 4))
    data = {"ntraj": ntraj, "n_cycles": n_cycles, "omega_a": wa, "omega_b": fr.omega_b,
            "tau_c": fr.tau_c, "tau_h": fr.tau_h, **{f"exact_{k}": v for k, v in c.items()}}
    # (a) one cycle
    v, p, se = heat_distribution(q[:, 0], unit=wa)
    ex = qc_distribution(fr)
    xe = np.array(sorted(ex))
    axes[0].bar(xe / wa, [ex[x] for x in xe], width=0.6, color="C0", alpha=0.4, label="exact")
    plotting.mc_points(axes[0], v / wa, p, se, color="k", label=f"{ntraj} trajectories")
    axes[0].set_xlabel("Q_c / ω_a (one cycle)")
    axes[0].set_ylabel("probability")
    axes[0].legend(fontsize=7)
    data.update({"one_cycle_values": v, "one_cycle_p": p, "one_cycle_stderr": se,
                 "one_cycle_exact_values": xe, "one_cycle_exact_p": [ex[x] for x in xe]})
    # (b) K cycles
    P = fr.protocol()
    vk, pk, sek = heat_distribution(q[:, :K_CYCLES].sum(axis=1), unit=wa)
    vek, pek = exact_heat_distribution(P, P.periodic_state(), K_CYCLES * P.period, "cold")
    keep = pek > 1e-7
    axes[1].bar(vek[keep] / wa, pek[keep], width=0.6, color="C1", alpha=0.4, label="exact")
    plotting.mc_points(axes[1], vk / wa, pk, sek, color="k", label="trajectories")
    axes[1].set_yscale("log")
    axes[1].set_xlabel(f"Q_c / ω_a ({K_CYCLES} cycles)")
    axes[1].legend(fontsize=7)
    data.update({"k_cycles_values": vk, "k_cycles_p": pk, "k_cycles_stderr": sek,
                 "k_cycles_exact_values": vek[keep], "k_cycles_exact_p": pek[keep]})
    # (c) per cycle
    cyc = np.arange(1, n_cycles + 1)
    for k, col in (("Q_c", "C0"), ("W", "C3")):
        axes[2].axhline(c[k], color=col, lw=1)
        plotting.mc_points(axes[2], cyc, res[f"{k}_cycle"], res[f"{k}_cycle_stderr"], color=col,
                           label=f"{k} per cycle")
        data.update({f"mc_{k}_cycle": res[f"{k}_cycle"],
                     f"mc_{k}_cycle_stderr": res[f"{k}_cycle_stderr"],
                     f"mc_{k}": res[k], f"mc_{k}_stderr": res[f"{k}_stderr"]})
    data.update({"mc_cop": res["cop"], "mc_cop_stderr": res["cop_stderr"]})
    axes[2].set_xlabel("cycle")
    axes[2].set_ylabel("energy per cycle")
    axes[2].set_title(f"COP = {res['cop']:.4f} ± {res['cop_stderr']:.4f} "
                      f"(exact {c['cop']:.4f})", fontsize=8)
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Otto refrigerator at max χ: ω_a = {wa:.3f}, ω_b = {fr.omega_b:.3f}, "
                 f"τ_c = τ_h = {fr.tau_c:.3f}", fontsize=9)
    return plotting.save(fig, a.out, "otto_histogram", data)


if __name__ == "__main__":
    print(main())
