"""Quantum vs P-averaged classical light (after Mukamel & Dorfman 2015): two-level atom from |g>,
thermal field (nbar), interaction time t.  Left: P_e versus coupling g for the quantized mode
(Jaynes–Cummings) and for the Glauber–Sudarshan average of classical drives, with the
second-order (linear-in-intensity) and fourth-order expansions.  Right: |P_e^q - P_e^cl| versus g
(log-log) against the predicted fourth-order gap (t^4 nbar / 3) g^4.  Writes
quantum_light_response.png/.npz/.json to --out.
"""

import numpy as np

from qtraj import plotting
from qtraj.models import quantum_light as ql


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    nbar, t, n_max = 1.0, 1.0, 60
    field = ql.thermal(nbar)
    ng = 40 if a.quick else 200
    g = np.linspace(0.0, 2.0, ng)
    pq = np.array([ql.quantum_pe(x, t, field, n_max) for x in g])
    pc = np.array([ql.classical_pe(x, t, field) for x in g])
    c2q, c4q = ql.quantum_coefficients(t, field, n_max)
    c2c, c4c = ql.classical_coefficients(t, field)
    gl = np.logspace(-2.5, 0, 30 if a.quick else 80)
    dq = np.array([ql.quantum_pe(x, t, field, n_max) - ql.classical_pe(x, t, field) for x in gl])
    g_lin = np.sqrt(0.1 * c2q / abs(c4q))          # |c4| g^2 = 10% of c2: end of linear regime

    fig, (ax, bx) = plotting.figure(1, 2)
    ax.axvspan(0, g_lin, color="0.9", label="linear (2nd-order) regime")
    ax.plot(g, pq, "C0", label="quantum JC")
    ax.plot(g, pc, "C3", label="P-averaged classical")
    ax.plot(g, c2q * g ** 2, "k:", label=f"c2 g², c2 = {c2q:.6f}")
    ax.plot(g, c2q * g ** 2 + c4q * g ** 4, "C0--", lw=0.8, label=f"+ c4 g⁴ (q), c4 = {c4q:.4f}")
    ax.plot(g, c2c * g ** 2 + c4c * g ** 4, "C3--", lw=0.8, label=f"+ c4 g⁴ (cl), c4 = {c4c:.4f}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("g t")
    ax.set_ylabel("P_e(t)")
    ax.set_title(f"thermal field n̄ = {nbar}, atom from |g⟩", fontsize=8)
    ax.legend(fontsize=6)
    bx.loglog(gl, np.abs(dq), "o", ms=3, label="|P_e^q − P_e^cl| (computed)")
    bx.loglog(gl, t ** 4 * nbar / 3 * gl ** 4, "k-", lw=0.8, label="(t⁴ n̄/3) g⁴ (predicted)")
    bx.axvline(g_lin, color="0.6", ls=":", label="end of linear regime")
    bx.set_xlabel("g t")
    bx.set_ylabel("quantum − classical")
    bx.set_title("difference starts at 4th order", fontsize=8)
    bx.legend(fontsize=6)
    data = {"g": g, "pe_quantum": pq, "pe_classical": pc, "g_log": gl, "diff_log": dq,
            "c2_quantum": c2q, "c4_quantum": c4q, "c2_classical": c2c, "c4_classical": c4c,
            "nbar": nbar, "t": t, "n_max": n_max, "g_linear_end": g_lin}
    return plotting.save(fig, a.out, "quantum_light_response", data)


if __name__ == "__main__":
    print(main())
