"""Otto refrigerator model, Fig. 2: COP at maximum chi, eps*, versus the Carnot COP
eps_C = T_c/(T_h - T_c), with the Curzon-Ahlborn value eps_CA = sqrt(1 + eps_C) - 1 and the
high-temperature bound eps_+ = (sqrt(9 + 8 eps_C) - 3)/2 (Eq. 23).  eps* from maximising
chi = eps Q_c / t_cycle over (omega_a, omega_b, tau_c, tau_h) (beta_c = 1, gamma_c = gamma_h = 1,
tau_adi = 1; eps* depends on eps_C only).  Lower panel: eps*/eps_CA - 1 (the paper's "nice
agreement" is a 3-6 % overshoot).  Writes otto_fig2.png/.npz to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models.otto import eps_ca, eps_plus, optimal_cop


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    eC = np.geomspace(0.1, 10.0, 30 if a.quick else 120)
    opt = np.array([optimal_cop(e) for e in eC])
    ca, ep = eps_ca(eC), eps_plus(eC)
    fig, (ax, ax2) = plotting.figure(2, 1, figsize=(6, 6), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
    ax.plot(eC, opt, "k-", label="ε* (max χ)")
    ax.plot(eC, ca, "r--", label="ε_CA = √(1+ε_C) − 1")
    ax.plot(eC, ep, "b:", label="ε_+ = (√(9+8ε_C) − 3)/2")
    ax.set_ylabel("COP")
    ax.legend(fontsize=8)
    ax.set_title("Two-level Otto refrigerator: COP at maximum χ", fontsize=9)
    ax2.plot(eC, 100 * (opt / ca - 1), "k-")
    ax2.set_ylabel("ε*/ε_CA − 1 (%)")
    ax2.set_xlabel("ε_C")
    ax2.set_xscale("log")
    return plotting.save(fig, a.out, "otto_fig2",
                         {"eps_C": eC, "eps_star": opt, "eps_CA": ca, "eps_plus": ep})


if __name__ == "__main__":
    print(main())
