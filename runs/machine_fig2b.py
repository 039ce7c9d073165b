"""Manzano, Silva & Parrondo (2019) Fig. 2(b): Cdot_a / phi^2 over the x-z section of the
atom's Bloch disk (rotating frame; x = 2 Re rho_01, z = rho_11 - rho_00, excited up) at
beta2 = 0.2 beta1, exact generator and output map; the Cdot_a = 0 contour in bold; the two
Fig. 2(a) atom states marked.  Parameters as Fig. 2(a).  Writes machine_fig2b.png/.npz/.json
to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.machine import FIG2, atom_state, bloch_xz_state, coherence_rate_map
from qtraj.measures import bloch_vector


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    n = 41 if a.quick else 121
    params = dict(FIG2, beta2=0.2 * FIG2["beta1"])
    xs = np.linspace(-1, 1, n)
    zs = np.linspace(-1, 1, n)
    Xg, Zg = np.meshgrid(xs, zs)
    rad = np.hypot(Xg, Zg)
    inside = rad <= 1.0
    # grid points outside the disk are drawn with the value on its edge (radius 0.9999) so that
    # the filled contours reach the circle; the drawing is clipped to the disk and the stored
    # data keep NaN there
    shrink = np.where(inside, 1.0, 0.9999 / np.maximum(rad, 1e-300))
    states = [bloch_xz_state(x, z) for x, z in zip((Xg * shrink).ravel(), (Zg * shrink).ravel())]
    drawn = (coherence_rate_map(states, **params) / FIG2["phi"] ** 2).reshape(Xg.shape)
    vals = np.where(inside, drawn, np.nan)
    fig, ax = plotting.figure(figsize=(5.2, 4.6))
    lim = np.nanmax(np.abs(vals))
    from matplotlib.patches import Circle
    cf = ax.contourf(Xg, Zg, drawn, levels=np.linspace(-lim, lim, 41), cmap="RdBu_r")
    cl = ax.contour(Xg, Zg, drawn, levels=np.linspace(-lim, lim, 21), colors="k",
                    linewidths=0.3)
    c0 = ax.contour(Xg, Zg, drawn, levels=[0.0], colors="k", linewidths=2.0)
    disk = Circle((0, 0), 1.0, transform=ax.transData, fc="none", ec="k", lw=0.8)
    ax.add_patch(disk)
    for c in (cf, cl, c0):
        c.set_clip_path(disk)
    marks = {}
    for p0, name in ((0.75, "south"), (0.25, "north")):
        b = bloch_vector(atom_state(p0))
        ax.plot(b[0], b[2], "o", ms=7, mfc="white", mec="k")
        ax.annotate(name, (b[0], b[2]), xytext=(6, 4), textcoords="offset points", fontsize=8)
        marks[f"{name}_x"], marks[f"{name}_z"] = b[0], b[2]
    fig.colorbar(cf, ax=ax, label="Ċ_a / φ²")
    ax.set_aspect("equal")
    ax.set_xlabel("x = 2 Re ρ01")
    ax.set_ylabel("z = ρ11 − ρ00 (excited up)")
    ax.set_title("β2 = 0.2 β1; bold: Ċ_a = 0", fontsize=9)
    return plotting.save(fig, a.out, "machine_fig2b",
                         dict(x=xs, z=zs, Cdot_over_phi2=vals, beta2_over_beta1=0.2, **marks))


if __name__ == "__main__":
    print(main())
