"""Su et al. (2021) Fig. 2: thermal conductances sigma_i = -dJ_i/dT_B (a), their population parts
sigma_i1 (b) and coherence parts sigma_i2 (c) (Eqs. 9-13), and Re rho12 (d) versus the base
temperature T_B, for both readings (qtraj.models.transistor): solid = consistent Lindblad model,
dashed = the paper's printed Eq. (A.4) + Appendix C ("paper" reading).  Conductances by exact
linear response of the steady state.  Parameters (units of delta): Gamma_E = Gamma_C = Gamma_B =
gamma0 = 1, eps1 = 10, eps2 = 7, T_E = 1/0.003, T_C = 1/0.15.
Writes transistor_fig2.png/.npz to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.transistor import Transistor, sweep

READINGS = {"lindblad": "-", "paper": "--"}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    TB = np.linspace(5.0, 330.0, 40 if a.quick else 200)
    fig, axes = plotting.figure(2, 2, figsize=(10, 7))
    data = {"T_B": TB}
    for reading, ls in READINGS.items():
        s = sweep(Transistor(reading=reading), "T_B", TB)
        for k, v in s.items():
            data[f"{k}_{reading}"] = v
        for b, c in zip("ECB", ("C0", "C3", "C2")):
            lab = f"{b} ({reading})"
            axes[0, 0].plot(TB, s[f"sigma_{b}"], ls, color=c, label=lab)
            axes[0, 1].plot(TB, s[f"sigma_{b}1"], ls, color=c, label=lab)
            axes[1, 0].plot(TB, s[f"sigma_{b}2"], ls, color=c, label=lab)
        axes[1, 1].plot(TB, s["rho12"].real, ls, color="k", label=reading)
    for ax, yl in zip(axes.flat, ("σ_i", "σ_i1 (populations)", "σ_i2 (coherence)", "Re ρ12")):
        ax.set_xlabel("T_B / Δ")
        ax.set_ylabel(yl)
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend(fontsize=7)
    fig.suptitle("Thermal conductances vs T_B — solid: Lindblad reading, dashed: paper "
                 "reading (Su et al. (2021), Eq. A.4)", fontsize=9)
    return plotting.save(fig, a.out, "transistor_fig2", data)


if __name__ == "__main__":
    print(main())
