"""Su et al. (2021) Fig. 5: steady coherence |rho12| and Re rho12 (a) and amplification factors
(b) versus the base dephasing rate gamma0 at T_B = delta/0.015, both readings (solid: Lindblad,
dashed: paper).  Dephasing destroys the coherence and with it the amplification.
Writes transistor_fig5.png/.npz to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.transistor import Transistor, sweep

READINGS = {"lindblad": "-", "paper": "--"}


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    g0 = np.linspace(0.0, 5.0, 40 if a.quick else 200)
    fig, axes = plotting.figure(1, 2, figsize=(10, 4))
    data = {"gamma0": g0, "T_B": 1 / 0.015}
    for reading, ls in READINGS.items():
        s = sweep(Transistor(reading=reading, T_B=1 / 0.015), "gamma0", g0)
        data.update({f"abs_rho12_{reading}": np.abs(s["rho12"]),
                     f"re_rho12_{reading}": s["rho12"].real,
                     f"alpha_E_{reading}": s["alpha_E"], f"alpha_C_{reading}": s["alpha_C"]})
        axes[0].plot(g0, np.abs(s["rho12"]), ls, color="C0", label=f"|ρ12| ({reading})")
        axes[0].plot(g0, s["rho12"].real, ls, color="C1", label=f"Re ρ12 ({reading})")
        axes[1].plot(g0, s["alpha_E"], ls, color="C0", label=f"α_E ({reading})")
        axes[1].plot(g0, s["alpha_C"], ls, color="C3", label=f"α_C ({reading})")
    for ax, yl in zip(axes, ("coherence", "α")):
        ax.set_xlabel("γ0 / Δ")
        ax.set_ylabel(yl)
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend(fontsize=7)
    return plotting.save(fig, a.out, "transistor_fig5", data)


if __name__ == "__main__":
    print(main())
