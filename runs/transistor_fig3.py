"""Su et al. (2021) Fig. 3: amplification factors alpha_E, alpha_C = sigma_{E/C}/sigma_B (Eq. 14)
versus T_B for both readings, with the poles T_B* (sigma_B = 0) located by brentq.  The paper
reading (Eq. A.4 + Appendix C, n_B at eps1 - eps2) puts the pole at 135.2 (printed: 135.3); the
consistent Lindblad model at 245.4.  Parameters as in Fig. 2.
Writes transistor_fig3.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.transistor import PAPER_POLE_TB, Transistor, sweep

READINGS = {"lindblad": "-", "paper": "--"}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    TB = np.linspace(5.0, 330.0, 60 if a.quick else 400)
    fig, ax = plotting.figure(figsize=(6.5, 4.2))
    data = {"T_B": TB, "paper_printed_pole": PAPER_POLE_TB}
    for reading, ls in READINGS.items():
        base = Transistor(reading=reading)
        s = sweep(base, "T_B", TB)
        pole = base.pole()
        data.update({f"alpha_E_{reading}": s["alpha_E"], f"alpha_C_{reading}": s["alpha_C"],
                     f"pole_T_B_{reading}": pole})
        for k, c in (("alpha_E", "C0"), ("alpha_C", "C3")):
            y = s[k].copy()
            y[np.abs(y) > 60] = np.nan              # break the line at the pole
            ax.plot(TB, y, ls, color=c, label=f"{k} ({reading})")
        ax.axvline(pole, color="gray", ls=ls, lw=0.8)
        ax.text(pole, 17, f" T_B* = {pole:.2f}", fontsize=7, rotation=90, va="top")
    ax.axhline(1, color="gray", lw=0.4, ls=":")
    ax.axhline(-1, color="gray", lw=0.4, ls=":")
    ax.set_ylim(-20, 20)
    ax.set_xlabel("T_B / Δ")
    ax.set_ylabel("α")
    ax.set_title(f"Amplification — solid: Lindblad, dashed: paper reading "
                 f"(Su et al. (2021) print the pole at {PAPER_POLE_TB})", fontsize=8)
    ax.legend(fontsize=7)
    return plotting.save(fig, a.out, "transistor_fig3", data)


if __name__ == "__main__":
    print(main())
