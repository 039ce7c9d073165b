"""Photon statistics of quantum and classical light (after Mukamel & Dorfman 2015).
Left: g2(0) against the mean photon number for thermal (2), coherent (1) and Fock (1 - 1/n)
fields, with g2(0) of random P-averaged classical fields (never below 1).  Middle: g2(tau) of the
cavity mode coupled to a two-level atom (Jaynes-Cummings with atomic decay and cavity loss) for
the three fields, by quantum regression.  Right: antibunching of a driven atom's fluorescence
measured shot by shot: g2 from the photon clicks of quantum-jump trajectories (jackknife error
bars) against the exact curve.  Writes quantum_light_g2.png/.npz/.json to --out.
"""

import numpy as np

import qtraj as qt
from qtraj import operators as op
from qtraj import plotting
from qtraj.models import quantum_light as ql


def main(argv=None):
    ap = plotting.run_parser(__doc__)
    a = ap.parse_args(argv)
    n_max = 30 if a.quick else 40
    # left: g2(0) of the three kinds of field, and random classical (P >= 0) fields
    nb = np.linspace(0.2, 6, 12)
    fock_n = np.arange(1, 7)
    g2_th = [ql.photon_statistics(ql.thermal(x), n_max + 40)[1] for x in nb]
    g2_coh = [ql.photon_statistics(ql.coherent(np.sqrt(x)), n_max + 40)[1] for x in nb]
    g2_fock = [ql.photon_statistics(ql.fock(int(n)), n_max)[1] for n in fock_n]
    rng = np.random.default_rng(1)
    cl_n, cl_g2 = [], []
    for _ in range(100 if a.quick else 400):
        k = rng.integers(1, 5)
        p, b = rng.random(k), rng.normal(size=k) + 1j * rng.normal(size=k)
        b *= np.sqrt(rng.uniform(0.2, 6) / np.dot(p / p.sum(), np.abs(b) ** 2))
        cl_n.append(np.dot(p / p.sum(), np.abs(b) ** 2))
        cl_g2.append(ql.classical_g2(p, b))
    # middle: cavity g2(tau) with the atom
    g, gamma, kappa = 1.0, 0.3, 0.5
    tau = np.linspace(0, 6, 31 if a.quick else 121)
    fields = {"thermal n̄=1": ql.thermal(1.0), "coherent |α|²=1": ql.coherent(1.0),
              "Fock n=2": ql.fock(2)}
    g2_tau = {k: ql.cavity_g2(g, f, 12 if a.quick else 20, tau, gamma, kappa)
              for k, f in fields.items()}
    # right: resonance fluorescence, g2 from clicks
    Om, gam = 2.0, 1.0
    L = qt.Lindblad(0.5 * Om * op.sigma_x(), [qt.Channel(op.sigma_minus(), gam)])
    T = 40.0
    ntraj = 200 if a.quick else 2000
    res = qt.mcsolve(L, qt.steady_state(L), [0.0, T], ntraj, seed=7, keep_jumps=True,
                     store_states=False, progress=False)
    edges = np.linspace(0, 6, 25)
    tc, g2c, se = qt.counting.g2_from_clicks(res, 0, edges)
    tf = np.linspace(0, 6, 200)
    g2_exact, _ = qt.coherence_function_g2(L, None, tf, op.sigma_minus())

    fig, (ax, bx, cx) = plotting.figure(1, 3)
    ax.axhspan(1, 2.6, color="0.92", label="classical region (P ≥ 0)")
    ax.plot(cl_n, cl_g2, ".", color="0.6", ms=2, label="random P-averaged classical")
    ax.plot(nb, g2_th, "C3o-", ms=3, label="thermal")
    ax.plot(nb, g2_coh, "C0s-", ms=3, label="coherent")
    ax.plot(fock_n, g2_fock, "C2^", label="Fock: 1 − 1/n")
    ax.set_ylim(-0.05, 2.6)
    ax.set_xlabel("mean photon number")
    ax.set_ylabel("g2(0)")
    ax.legend(fontsize=6)
    for k, y in g2_tau.items():
        bx.plot(tau, y, label=k)
    bx.axhline(1, color="k", lw=0.5)
    bx.set_xlabel("τ (1/g)")
    bx.set_ylabel("cavity g2(τ)")
    bx.set_title(f"JC, g={g}, γ={gamma}, κ={kappa}", fontsize=8)
    bx.legend(fontsize=6)
    cx.plot(tf, g2_exact.real, "k-", lw=1, label="exact (quantum regression)")
    plotting.mc_points(cx, tc, g2c, se, label=f"from clicks, {ntraj} trajectories")
    cx.axhline(1, color="0.6", lw=0.5)
    cx.set_xlabel("τ (1/γ)")
    cx.set_ylabel("fluorescence g2(τ)")
    cx.set_title(f"driven atom, Ω={Om}γ", fontsize=8)
    cx.legend(fontsize=6)
    data = {"nbar": nb, "g2_thermal": g2_th, "g2_coherent": g2_coh, "fock_n": fock_n,
            "g2_fock": g2_fock, "classical_nbar": cl_n, "classical_g2": cl_g2, "tau": tau,
            **{f"cavity_g2_{f.kind}": y for f, y in zip(fields.values(), g2_tau.values())},
            "click_tau": tc, "click_g2": g2c, "click_g2_stderr": se, "exact_tau": tf,
            "exact_g2": g2_exact.real, "ntraj": ntraj}
    return plotting.save(fig, a.out, "quantum_light_g2", data)


if __name__ == "__main__":
    print(main())
