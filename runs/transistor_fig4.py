"""Su et al. (2021) Fig. 4: conductances sigma_i (a), the base's parts sigma_B1, sigma_B2 (b) and
the amplification factors (c) versus Gamma_B at T_B = delta/0.015, both readings (solid: Lindblad,
dashed: paper).  The pole in Gamma_B (sigma_B = 0) by brentq: the paper prints 1.287; the paper
reading gives 1.344 and the Lindblad reading 1.893 (Fig. 3's pole is the one the paper reading
reproduces).  Writes transistor_fig4.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.transistor import PAPER_POLE_GAMMA_B, Transistor, sweep

READINGS = {"lindblad": "-", "paper": "--"}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    GB = np.linspace(0.05, 5.0, 50 if a.quick else 250)
    fig, axes = plotting.figure(1, 3, figsize=(14, 4))
    data = {"Gamma_B": GB, "paper_printed_pole": PAPER_POLE_GAMMA_B, "T_B": 1 / 0.015}
    for reading, ls in READINGS.items():
        base = Transistor(reading=reading, T_B=1 / 0.015)
        s = sweep(base, "gamma_B", GB)
        pole = base.pole("gamma_B", (0.05, 5.0))
        data[f"pole_Gamma_B_{reading}"] = pole
        for k, v in s.items():
            data[f"{k}_{reading}"] = v
        for b, c in zip("ECB", ("C0", "C3", "C2")):
            axes[0].plot(GB, s[f"sigma_{b}"], ls, color=c, label=f"σ_{b} ({reading})")
        axes[1].plot(GB, s["sigma_B1"], ls, color="C1", label=f"σ_B1 ({reading})")
        axes[1].plot(GB, s["sigma_B2"], ls, color="C4", label=f"σ_B2 ({reading})")
        axes[1].plot(GB, s["sigma_B"], ls, color="C2", label=f"σ_B ({reading})")
        for k, c in (("alpha_E", "C0"), ("alpha_C", "C3")):
            y = s[k].copy()
            y[np.abs(y) > 80] = np.nan
            axes[2].plot(GB, y, ls, color=c, label=f"{k} ({reading})")
        for ax in axes:
            ax.axvline(pole, color="gray", ls=ls, lw=0.8)
    axes[2].set_ylim(-30, 30)
    for ax, yl in zip(axes, ("σ_i", "σ_Bj", "α")):
        ax.set_xlabel("Γ_B / Δ")
        ax.set_ylabel(yl)
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend(fontsize=7)
    fig.suptitle(f"T_B = Δ/0.015; vertical lines: σ_B = 0 "
                 f"(Su et al. (2021) print Γ_B = {PAPER_POLE_GAMMA_B})",
                 fontsize=9)
    return plotting.save(fig, a.out, "transistor_fig4", data)


if __name__ == "__main__":
    print(main())
