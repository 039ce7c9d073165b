"""Çakmak et al. (2017), Sec. III C: one qubit trajectory shot by shot, pairs from the collective
bath (n̄ = 1).  Top: coherent pairs (the two-atom long-time state, with the heat-exchange
coherence a_23); bottom: the same pairs dephased (a_23 = 0).  Seeds --seed and --seed + 1 (the same
seed would reuse the same random numbers and give nearly identical paths).  Plotted: the excited
population <e|psi(t)><psi(t)|e> of the qubit's conditional ket, its running time average, and the
exact fixed point of the collision map (dashed).

How the collision times are obtained.  `HarvestScheme.simulate` does not return per-trajectory
event lists, so the path is reconstructed from a single-trajectory ensemble (ntraj = 1) on a dense
output grid (step dt): each output is then the conditional state of that one trajectory, and the
record "collisions_cumulative" (collisions so far, exact integer count for ntraj = 1) increases
in the grid intervals that contain an arrival.  A collision is marked at the end t_k of its
interval (t_{k-1}, t_k], so its time is known to within dt (several arrivals in one interval are
marked once, with the count in the data file).  The energy the qubit took,
"collision_energy_cumulative" (two-point measurement of the pair energies), tells the three kinds
apart: +omega0 (g -> e, up triangle), -omega0 (e -> g, down triangle), 0 (grey tick: the pair
was measured but nothing was exchanged; the conditional state may still change when it was a
superposition).  The qubit starts in |+> = (|g> + |e>)/sqrt2, so the first collisions show
conditional superpositions being collapsed; with lam = eps = 0 every later state is |g> or |e>
and the trajectory is a telegraph signal whose time average tends to r_e/(r_e + r_d).
Writes harvest_trajectory.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.harvest import HarvestScheme, dephased, pair_state_from_bath

NBAR, G_TAU, RATE, OMEGA0 = 1.0, 0.8, 1.0, 1.0


def one_path(pair, times, seed, n_jobs):
    """(p_e(t), collision grid indices, collisions per index, energy per index, exact p_e)."""
    h = HarvestScheme(pair, G_TAU, RATE, OMEGA0)
    plus = np.array([1.0, 1.0]) / np.sqrt(2)
    res = h.simulate(plus, times, 1, seed=seed, n_jobs=n_jobs, progress=False)
    pe = res.mean[:, 1, 1].real
    ncum = np.rint(res["collisions_cumulative"]).astype(int)
    ecum = res["collision_energy_cumulative"]
    dn = np.diff(ncum, prepend=0)
    de = np.diff(ecum, prepend=0.0)
    idx = np.nonzero(dn)[0]
    return pe, idx, dn[idx], de[idx], float(h.steady_state()[1, 1].real)


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    t_end, dt = (60.0, 0.01) if a.quick else (150.0, 0.005)
    times = np.linspace(0.0, t_end, int(round(t_end / dt)) + 1)
    pair = pair_state_from_bath(NBAR)
    cases = [("coherent pairs", pair), ("dephased pairs (a_23 = 0)", dephased(pair))]
    fig, axes = plotting.figure(2, 1, sharex=True, figsize=(7.0, 5.6))
    data = {"t": times, "nbar": NBAR, "g_tau": G_TAU, "rate": RATE, "omega0": OMEGA0,
            "seed": a.seed, "dt": dt}
    for k, (ax, (label, rho_b), key) in enumerate(zip(axes, cases, ("coh", "deph"))):
        pe, idx, dn, de, exact = one_path(rho_b, times, a.seed + k, a.n_jobs)
        run_avg = np.cumsum(pe) / np.arange(1, len(pe) + 1)
        ax.plot(times, pe, "k-", lw=0.8, label="p_e of the conditional state")
        ax.plot(times, run_avg, "-", color="tab:green", lw=1.2, label="running time average")
        ax.axhline(exact, ls="--", color="tab:red", lw=1, label=f"exact fixed point {exact:.4f}")
        kinds = [(de > 0.5 * OMEGA0, "^", "tab:orange", "collision, qubit gains ω0"),
                 (de < -0.5 * OMEGA0, "v", "tab:blue", "collision, qubit loses ω0"),
                 (np.abs(de) <= 0.5 * OMEGA0, "|", "0.5", "collision, no exchange")]
        for sel, mk, col, lab in kinds:
            ax.plot(times[idx[sel]], pe[idx[sel]], mk, color=col, ms=5, label=lab)
        ax.set_ylim(-0.08, 1.38)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_ylabel("excited population")
        ax.set_title(f"{label} (seed {a.seed + k}): {dn.sum()} collisions, time-average p_e "
                     f"on the path {pe.mean():.3f}", fontsize=8)
        data.update({f"pe_{key}": pe, f"collision_t_{key}": times[idx],
                     f"collision_count_{key}": dn, f"collision_energy_{key}": de,
                     f"exact_pe_{key}": exact})
    axes[0].legend(fontsize=6.5, loc="upper center", ncol=3)
    axes[1].set_xlabel("p t (rate p = 1)")
    fig.suptitle(f"Qubit harvesting from a pair beam, one trajectory (n̄ = {NBAR:g}, "
                 f"gτ = {G_TAU}, qubit from |+⟩, grid dt = {dt})", fontsize=9)
    return plotting.save(fig, a.out, "harvest_trajectory", data)


if __name__ == "__main__":
    print(main())
