"""Manzano, Silva & Parrondo (2019) Fig. 4: trajectories of single atoms crossing an array of
machines (Sec. IV, Eq. 16: each machine in the steady state made by the atoms it receives,
exact maps), on the x-z section of the atom's Bloch disk (x = 2 Re rho_01,
z = rho_11 - rho_00, excited up), coloured by the modulus of the kick per machine
|Delta r| / phi^2 (Bloch-vector length).  Three configurations (the paper does not give its
energies; chosen here and written to the data):
beta2 = 0.1 beta1, (a) E1 = 1.5, E2 = 2.5; (b) E1 = 0.5, E2 = 2.5; (c) E1 = 1.5, E2 = 2.5 with the
bath temperatures swapped.  Black dots: the incoherent fixed points, Gibbs states at beta_v
(Eq. 9).  beta1 = 1.2, gamma0 = 0.0025, r = 2, phi = 0.02.  Writes machine_fig4.png/.npz/.json.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.machine import FIG4_CONFIGS, Machine, array_trajectory, bloch_xz_state


def _starts(quick: bool):
    ang = np.linspace(-0.85, 0.85, 5 if quick else 9) * np.pi / 2     # from the +x axis
    outer = [(0.95 * np.cos(t), 0.95 * np.sin(t)) for t in ang]
    inner = [(0.35, -0.5), (0.35, 0.5)] + ([] if quick else [(0.1, -0.9), (0.1, 0.9)])
    axis = [(0.0, -0.8), (0.0, 0.8)]
    return outer + inner + axis


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm
    n_mach = 20000 if a.quick else 60000
    stride = 20
    starts = _starts(a.quick)
    fig, axes = plotting.figure(1, 3, figsize=(12.0, 4.6))
    data = {"n_machines": n_mach, "stride": stride, "starts_xz": np.array(starts)}
    norm = LogNorm(1e-3, 3.0)
    t = np.linspace(0, 2 * np.pi, 400)
    for ax, (name, cfg) in zip(axes, FIG4_CONFIGS.items()):
        m = Machine(**cfg, rho_a=np.eye(2) / 2)
        phi2 = cfg["phi"] ** 2
        gz = np.real(np.diag(m.virtual_gibbs()) @ [-1, 1])
        ax.plot(np.cos(t), np.sin(t), "k-", lw=0.8)
        ax.axvline(0, color="gray", lw=0.4)
        for k, (x0, z0) in enumerate(starts):
            rho0 = bloch_xz_state(x0, z0)
            tr = np.concatenate([rho0[None], array_trajectory(rho0, n_mach, **cfg)])
            x = 2 * tr[:, 0, 1].real
            z = (tr[:, 1, 1] - tr[:, 0, 0]).real
            kick = np.hypot(np.diff(x), np.diff(z)) / phi2
            xs, zs, ks = x[::stride], z[::stride], kick[::stride]
            seg = np.stack([np.column_stack([xs[:-1], zs[:-1]]),
                            np.column_stack([xs[1:], zs[1:]])], axis=1)
            lc = LineCollection(seg, cmap="viridis", norm=norm, lw=1.6)
            lc.set_array(np.maximum(ks[:-1], 1e-6))
            ax.add_collection(lc)
            ax.plot(x0, z0, "o", ms=3, color="k", mfc="white")
            data[f"{name}_traj{k}_x"], data[f"{name}_traj{k}_z"] = xs, zs
            data[f"{name}_traj{k}_kick_over_phi2"] = ks
        ax.plot(0, gz, "o", ms=7, color="k")
        data[f"{name}_gibbs_z"] = gz
        data[f"{name}_beta_v"] = m.virtual_beta()
        for p, v in cfg.items():
            data[f"{name}_{p}"] = v
        ax.set_aspect("equal")
        ax.set_xlim(-0.3, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("x = 2 Re ρ01")
        ax.set_title(f"({name}) E1 = {cfg['E1']}, E2 = {cfg['E2']}, β1 = {cfg['beta1']}, "
                     f"β2 = {cfg['beta2']:.2f}; β_v = {m.virtual_beta():.2f}", fontsize=8)
    axes[0].set_ylabel("z = ρ11 − ρ00 (excited up)")
    sm = plotting_scalar_mappable(norm)
    fig.colorbar(sm, ax=axes, label="|kick| / φ² per machine", shrink=0.8)
    fig.suptitle(f"Atoms crossing {n_mach} machines (Eq. 16, exact maps); "
                 "dots: Gibbs state at β_v", fontsize=9)
    return plotting.save(fig, a.out, "machine_fig4", data)


def plotting_scalar_mappable(norm):
    import matplotlib.cm as cm
    sm = cm.ScalarMappable(norm=norm, cmap="viridis")
    sm.set_array([])
    return sm


if __name__ == "__main__":
    print(main())
