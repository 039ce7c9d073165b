"""Bath temperatures, local detailed balance, entropy production (Spohn) and the exact
statistics of entropy flow and heat (tilted generator: SCGF, Gallavotti-Cohen symmetry,
cumulants, thermodynamic uncertainty ratio)."""

import pickle

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import simpson

import qtraj as qt
from qtraj import operators as op
from qtraj import thermodynamics
from qtraj.counting import (TiltedGenerator, entropy_flow_cumulants, entropy_flow_increments,
                            entropy_flow_scgf, exact_heat_distribution, heat_cumulants,
                            heat_increments, heat_scgf, thermodynamic_uncertainty_ratio)
from qtraj.measures import relative_entropy
from qtraj.models.otto import OttoRefrigerator, qc_distribution
from qtraj.models.transistor import Transistor
from qtraj.protocols import Protocol, Segment
from helpers import integrated_heat, two_bath_qubit

#: temperatures for which `two_bath_qubit` (gap 1) satisfies local detailed balance
TEMPS = {"hot": 1 / np.log(2.0), "cold": 1 / np.log(6.0)}


def thermal_qubit():
    L = two_bath_qubit()
    return qt.Lindblad(L.H, L.channels, TEMPS)


def gibbs(H, T):
    w = np.exp(-np.diag(H).real / T)
    return np.diag(w / w.sum()).astype(complex)


def absorption_machine(seed=7):
    """Three-level absorption machine: cold bath on 0-1, hot bath on 0-2, room bath on 1-2
    (one cycle through all three), written in a random basis so that H and the jump operators
    are complex, non-diagonal matrices (the channel energies are inferred from H)."""
    E = np.array([0.0, 1.0, 3.0])
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))[0]
    temps = {"c": 0.6, "h": 4.0, "r": 1.0}
    ch = []
    for (i, j, gam, b) in ((0, 1, 0.7, "c"), (0, 2, 1.3, "h"), (1, 2, 0.4, "r")):
        n = 1 / np.expm1((E[j] - E[i]) / temps[b])
        A = np.zeros((3, 3), complex)
        A[i, j] = 1.0
        A = U @ A @ U.conj().T
        ch += [qt.Channel(A, gam * (n + 1), b), qt.Channel(A.conj().T, gam * n, b)]
    return qt.Lindblad(U @ np.diag(E) @ U.conj().T, ch, temps)


# --------------------------------------------------------------------------- temperatures
def test_temperatures_are_validated_naming_the_argument():
    L = two_bath_qubit()
    with pytest.raises(ValueError, match="temperatures.*unknown bath 'warm'"):
        qt.Lindblad(L.H, L.channels, {"warm": 1.0})
    for bad in (0.0, -1.0, np.nan, -np.inf):
        with pytest.raises(ValueError, match=r"temperatures\['hot'\]"):
            qt.Lindblad(L.H, L.channels, {"hot": bad})
    for bad in ("1", True, None, 1j):
        with pytest.raises(ValueError, match=r"temperatures\['hot'\]"):
            qt.Lindblad(L.H, L.channels, {"hot": bad})
    with pytest.raises(TypeError, match="temperatures"):
        qt.Lindblad(L.H, L.channels, [("hot", 1.0)])
    ok = qt.Lindblad(L.H, L.channels, {"cold": 2, "hot": np.inf})
    assert ok.temperatures == {"hot": np.inf, "cold": 2.0}
    assert list(ok.temperatures) == ["hot", "cold"]           # bath order
    assert qt.Lindblad(L.H, L.channels).temperatures == {}
    with pytest.raises(TypeError, match="read-only"):
        ok.temperatures["hot"] = 1.0


def test_temperatures_take_part_in_equality_and_are_carried():
    L = two_bath_qubit()
    a = qt.Lindblad(L.H, L.channels, TEMPS)
    assert a == qt.Lindblad(L.H, L.channels, dict(TEMPS))
    assert a != L
    assert a != qt.Lindblad(L.H, L.channels, {**TEMPS, "hot": 2.0})
    assert pickle.loads(pickle.dumps(a)) == a
    # with_channels keeps the temperatures of the baths still present
    hot_only = a.with_channels([c for c in a.channels if c.bath == "hot"])
    assert hot_only.temperatures == {"hot": TEMPS["hot"]}
    # sums merge them, and refuse a bath at two temperatures
    cold = a.with_channels([c for c in a.channels if c.bath == "cold"])
    assert hot_only + qt.Lindblad(0 * L.H, cold.channels, cold.temperatures) == a
    with pytest.raises(ValueError, match="temperatures: bath 'hot'"):
        hot_only + qt.Lindblad(L.H * 0, hot_only.channels, {"hot": 9.0})
    # protocol segments carry their model's temperatures (and compare by them)
    P = Protocol([(1.0, a), (0.5, L)])
    assert P.segments[0].model.temperatures == TEMPS
    assert Segment(1.0, a) != Segment(1.0, L)
    assert Transistor().lindblad().temperatures == {"E": 1 / 0.003, "C": 1 / 0.15,
                                                    "B": 1 / 0.015}


# --------------------------------------------------------------------------- detailed balance
def test_local_detailed_balance_check():
    assert thermal_qubit().detailed_balance_violations() == {}
    assert Transistor().lindblad().detailed_balance_violations() == {}
    fr = OttoRefrigerator()
    for seg in fr.protocol().segments:
        seg.model.check_detailed_balance()
    # wrong rate ratio: named bath, energy, and the expected ratio
    bad = qt.Lindblad(thermal_qubit().H, thermal_qubit().channels, {**TEMPS, "cold": 2.0})
    v = bad.detailed_balance_violations()
    assert list(v) == ["cold"] and "energy 1" in v["cold"] and "rate 0.05" in v["cold"]
    with pytest.raises(qt.DetailedBalanceError, match="bath 'cold'"):
        bad.check_detailed_balance()
    bad.check_detailed_balance(["hot"])                 # the hot bath alone is fine
    with pytest.raises(ValueError, match="baths: no bath named 'x'"):
        bad.check_detailed_balance(["x"])
    # a missing temperature
    with pytest.raises(qt.DetailedBalanceError, match="'cold' has no temperature"):
        qt.Lindblad(bad.H, bad.channels, {"hot": TEMPS["hot"]}).check_detailed_balance()
    # a channel without a transition energy (not an eigenoperator, no Channel.energy)
    x = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_x(), 1.0, "b")], {"b": 1.0})
    with pytest.raises(qt.DetailedBalanceError, match="without a transition energy"):
        x.check_detailed_balance()
    # jumps of +w that are not the adjoints of the jumps of -w (different operators)
    H = np.diag([0.0, 1.0, 2.0]).astype(complex)
    down01, up12 = np.zeros((3, 3), complex), np.zeros((3, 3), complex)
    down01[0, 1], up12[2, 1] = 1, 1
    mism = qt.Lindblad(H, [qt.Channel(down01, 1.0, "b"), qt.Channel(up12, np.exp(-1), "b")],
                       {"b": 1.0})
    with pytest.raises(qt.DetailedBalanceError, match="not the reverses"):
        mism.check_detailed_balance()
    # T = inf wants equal up and down rates; dephasing passes at any temperature
    inf = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "b"),
                                           qt.Channel(op.sigma_plus(), 1.0, "b"),
                                           qt.Channel(op.sigma_z(), 3.0, "b")], {"b": np.inf})
    inf.check_detailed_balance()
    assert "rate 0.5" in qt.Lindblad(inf.H, [inf.channels[0], qt.Channel(
        op.sigma_plus(), 0.5, "b")], {"b": np.inf}).detailed_balance_violations()["b"]
    # the condition is about the dissipator, not the channel list: a phase, and one channel
    # split in two, still pass
    w = np.exp(-1.0)
    split = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 0.4, "b"),
                                             qt.Channel(1j * op.sigma_minus(), 0.6, "b"),
                                             qt.Channel(op.sigma_plus(), w, "b")], {"b": 1.0})
    split.check_detailed_balance()


def test_quantities_needing_detailed_balance_raise_instead_of_returning_a_number():
    L = two_bath_qubit()                                            # no temperatures
    skewed = qt.Lindblad(L.H, L.channels, {**TEMPS, "hot": 5.0})    # wrong ratio on 'hot'
    rho = qt.steady_state(L)
    for model in (L, skewed):
        with pytest.raises(qt.DetailedBalanceError, match="bath 'hot'"):
            qt.entropy_production_rate(model, rho)
        with pytest.raises(qt.DetailedBalanceError, match="bath 'hot'"):
            qt.entropy_production(model, rho, [0, 1])
        with pytest.raises(qt.DetailedBalanceError, match="bath 'hot'"):
            entropy_flow_scgf(model, [0.5])
        with pytest.raises(qt.DetailedBalanceError, match="bath 'hot'"):
            entropy_flow_cumulants(model)
        with pytest.raises(qt.DetailedBalanceError, match="bath 'hot'"):
            thermodynamic_uncertainty_ratio(model, "hot")
    # heat statistics need no temperatures
    assert heat_cumulants(L, "hot")["mean"] == pytest.approx(qt.heat_currents(L, rho)["hot"])
    with pytest.raises(ValueError, match="bath: no bath named 'warm'"):
        heat_cumulants(L, "warm")
    with pytest.raises(TypeError, match="Lindblad"):
        qt.entropy_production_rate(object(), rho)


# --------------------------------------------------------------------------- Spohn
def test_entropy_production_rate_is_spohns_formula():
    L = thermal_qubit()
    rho = np.array([[0.7, 0.2 - 0.1j], [0.2 + 0.1j, 0.3]])
    got = qt.entropy_production_rate(L, rho)
    # -sum_b Tr[D_b(rho)(ln rho - ln pi_b)], written independently with matrix logarithms
    ref = -sum(np.trace(L.dissipator_of(b, rho) @ (sla.logm(rho) - sla.logm(gibbs(L.H, T)))).real
               for b, T in TEMPS.items())
    assert got == pytest.approx(ref, rel=1e-10)
    assert got > 0
    ss = qt.steady_state(L)
    J = qt.heat_currents(L, ss)
    assert qt.entropy_production_rate(L, ss) == pytest.approx(
        -sum(J[b] / TEMPS[b] for b in J), rel=1e-9)
    assert qt.entropy_production_rate(L, ss) > 1e-3
    # a pure state that the dynamics mixes: the entropy rises with infinite slope
    assert qt.entropy_production_rate(L, op.ket2dm(op.basis(2, 1))) == np.inf
    # a bath at infinite temperature exchanges heat without entropy
    hot_inf = qt.Lindblad(L.H, [qt.Channel(op.sigma_minus(), 1.0, "hot"),
                                qt.Channel(op.sigma_plus(), 1.0, "hot")], {"hot": np.inf})
    r = np.diag([0.6, 0.4]).astype(complex)
    dS = -np.trace(hot_inf.rhs(r) @ sla.logm(r)).real
    assert qt.entropy_production_rate(hot_inf, r) == pytest.approx(dS, rel=1e-12)
    with pytest.raises(ValueError, match="rho"):
        qt.entropy_production_rate(L, np.eye(2))


def test_integrated_entropy_production_single_bath_is_a_relative_entropy_difference():
    T = 0.7
    H = 0.5 * op.sigma_z() + 0.3 * op.sigma_x()   # not diagonal: the channels act in its basis
    w, U = np.linalg.eigh(H)
    n = 1 / np.expm1((w[1] - w[0]) / T)
    lower = U @ np.array([[0, 1], [0, 0]]) @ U.conj().T
    L = qt.Lindblad(H, [qt.Channel(lower, 0.8 * (n + 1), "b"),
                          qt.Channel(lower.conj().T, 0.8 * n, "b")], {"b": T})
    L.check_detailed_balance()
    pi = sla.expm(-L.H / T)
    pi /= np.trace(pi)
    rho0 = np.array([[0.2, 0.3j], [-0.3j, 0.8]])
    times = np.linspace(0, 6, 13)
    out = qt.entropy_production(L, rho0, times, full=True)
    states = qt.mesolve(L, rho0, times)
    expect = [relative_entropy(rho0, pi) - relative_entropy(0.5 * (r + r.conj().T), pi)
              for r in states]
    assert np.allclose(out["entropy_production"], expect, atol=1e-10, rtol=0)
    assert np.allclose(out["states"], states, atol=1e-12)
    assert np.all(np.diff(out["entropy_production"]) > 0)
    assert np.allclose(out["entropy_change"] + out["entropy_flow"], out["entropy_production"])


def test_integrated_entropy_production_is_the_time_integral_of_the_rate():
    L = absorption_machine()
    rho0 = op.ket2dm((op.basis(3, 0) + op.basis(3, 1)) / np.sqrt(2)) * 0.9 + 0.1 * np.eye(3) / 3
    t = np.linspace(0.0, 2.0, 401)
    states = qt.mesolve(L, rho0, t)
    rate = [qt.entropy_production_rate(L, 0.5 * (r + r.conj().T)) for r in states]
    sigma = qt.entropy_production(L, rho0, [0.0, 1.0, 2.0])
    assert sigma[0] == 0
    assert sigma[1] == pytest.approx(simpson(rate[:201], x=t[:201]), rel=1e-6)  # Simpson's
    assert sigma[2] == pytest.approx(simpson(rate, x=t), rel=1e-6)                # error
    assert min(rate) > 0


def test_integrated_heat_is_exact_and_the_sparse_path_agrees(monkeypatch):
    L = two_bath_qubit()
    psi0 = op.basis(2, 1)
    times = [0.0, 0.5, 2.0]
    Q = qt.integrated_heat(L, psi0, times)
    ref = integrated_heat(L, psi0, times, 300)          # trapezoid rule, error ~1e-6
    for i, b in enumerate(L.baths):
        assert np.allclose(Q[b], ref[i], atol=1e-5)
    monkeypatch.setattr(thermodynamics, "DENSE_LIMIT", 0)
    Qs = qt.integrated_heat(L, psi0, times)
    for b in L.baths:
        assert np.allclose(Qs[b], Q[b], atol=1e-12)


# --------------------------------------------------------------------------- tilting
def test_one_tilted_generator_for_heat_and_entropy():
    assert qt.counting.entropy_flow_scgf is entropy_flow_scgf        # qt.counting is public
    L = thermal_qubit()
    tg = TiltedGenerator(L, np.zeros(len(L.channels)))
    assert np.array_equal(tg(0.3), L.liouvillian())
    assert heat_increments(L, "hot").tolist() == [-1.0, 1.0, 0.0, 0.0]
    assert np.allclose(entropy_flow_increments(L),
                       [1 / TEMPS["hot"], -1 / TEMPS["hot"], 1 / TEMPS["cold"],
                        -1 / TEMPS["cold"]])
    with pytest.raises(ValueError, match="one finite value per channel"):
        TiltedGenerator(L, [1.0])
    with pytest.raises(ValueError, match="bath: no bath named"):
        heat_increments(L, "warm")
    # characteristic function at chi = 2 pi: every count is an integer
    x = heat_increments(L, "hot")
    assert np.allclose(sla.expm(TiltedGenerator(L, x)(2j * np.pi) * 1.3),
                       sla.expm(L.liouvillian() * 1.3), atol=1e-12)


# --------------------------------------------------------------------------- Gallavotti-Cohen
@pytest.mark.parametrize("name", ["two-bath qubit", "absorption machine", "transistor", "otto"])
def test_gallavotti_cohen_symmetry(name):
    model = {"two-bath qubit": thermal_qubit, "absorption machine": absorption_machine,
             "transistor": lambda: Transistor().lindblad(),
             "otto": lambda: OttoRefrigerator(beta_c=1.0, beta_h=0.5).protocol()}[name]()
    lam = np.linspace(-0.6, 1.6, 23)
    th = entropy_flow_scgf(model, lam)
    scale = np.max(np.abs(th))
    assert scale > 1e-2                                      # a non-trivial function
    assert np.max(np.abs(th - th[::-1])) < 1e-8 * max(1.0, scale)
    assert abs(th[6]) < 1e-10 and abs(th[16]) < 1e-10        # theta(0) = theta(1) = 0
    assert th[11] < 0                                        # convex, below zero in between


def test_cumulants_are_the_derivatives_of_the_scgf():
    h = 1e-3
    for model, bath in ((absorption_machine(), "h"), (Transistor().lindblad(), "B"),
                        (OttoRefrigerator().protocol(), "cold")):
        th = heat_scgf(model, bath, [-h, 0.0, h])
        c = heat_cumulants(model, bath)
        assert c["mean"] == pytest.approx((th[2] - th[0]) / (2 * h), rel=1e-5)
        assert c["variance"] == pytest.approx((th[2] - 2 * th[1] + th[0]) / h ** 2, rel=1e-4)
        es = entropy_flow_scgf(model, [-h, 0.0, h])
        ce = entropy_flow_cumulants(model)
        assert ce["mean"] == pytest.approx(-(es[2] - es[0]) / (2 * h), rel=1e-5)
        assert ce["variance"] == pytest.approx((es[2] - 2 * es[1] + es[0]) / h ** 2, rel=1e-4)
        assert ce["mean"] > 0


def test_mean_flows_are_the_exact_currents():
    L = absorption_machine()
    ss = qt.steady_state(L)
    J = qt.heat_currents(L, ss)
    for b in L.baths:
        assert heat_cumulants(L, b)["mean"] == pytest.approx(J[b], rel=1e-10)
    assert entropy_flow_cumulants(L)["mean"] == pytest.approx(
        qt.entropy_production_rate(L, ss), rel=1e-10)
    fr = OttoRefrigerator(beta_c=1.0, beta_h=0.5)
    P, c = fr.protocol(), fr.cycle()
    assert heat_cumulants(P, "cold")["mean"] * P.period == pytest.approx(c["Q_c"], rel=1e-10)
    assert heat_cumulants(P, "hot")["mean"] * P.period == pytest.approx(c["Q_h"], rel=1e-10)
    assert entropy_flow_cumulants(P)["mean"] * P.period == pytest.approx(
        -c["Q_c"] * fr.beta_c - c["Q_h"] * fr.beta_h, rel=1e-10)


def test_protocol_variance_with_thermalising_strokes_is_that_of_one_cycle():
    # each isochore thermalises (e^{-2 gamma tau} = e^{-40}): cycles are independent, so the
    # variance per cycle is that of the one-cycle distribution of Q_c
    fr = OttoRefrigerator(tau_c=20.0, tau_h=20.0)
    dist = qc_distribution(fr)
    q, p = np.array(list(dist)), np.array(list(dist.values()))
    var1 = p @ q ** 2 - (p @ q) ** 2
    c = heat_cumulants(fr.protocol(), "cold")
    assert c["variance"] * fr.t_cycle == pytest.approx(var1, rel=1e-9)
    # and the exact distribution over 3 cycles has 3 times that variance (|net count| <= 3)
    P = fr.protocol()
    v, pk = exact_heat_distribution(P, P.periodic_state(), 3 * P.period, "cold", n_max=4)
    assert pk @ v ** 2 - (pk @ v) ** 2 == pytest.approx(3 * var1, rel=1e-8)


def test_protocol_cumulants_are_the_growth_of_the_exact_finite_time_cumulants():
    # strokes too short to thermalise: cycles are correlated; the variance over K cycles from
    # the exact distribution grows by the per-cycle variance once the correlations are spent
    fr = OttoRefrigerator(omega_b=1.5, beta_h=0.1, tau_c=1.0, tau_h=0.7)
    P = fr.protocol()
    rho = P.periodic_state()
    mom = []
    for K in (10, 20):       # the net cold-bath count of K cycles lies in [-K, K]
        v, p = exact_heat_distribution(P, rho, K * P.period, "cold", n_max=K + 1)
        mom.append((p @ v, p @ v ** 2 - (p @ v) ** 2))
    c = heat_cumulants(P, "cold")
    assert (mom[1][0] - mom[0][0]) / 10 == pytest.approx(c["mean"] * P.period, rel=1e-10)
    assert (mom[1][1] - mom[0][1]) / 10 == pytest.approx(c["variance"] * P.period, rel=1e-8)


# --------------------------------------------------------------------------- uncertainty
def test_uncertainty_ratio_of_classical_steady_states_is_at_least_two():
    rng = np.random.default_rng(4)
    for _ in range(8):
        g = rng.uniform(0.1, 3.0, 2)
        T = rng.uniform(0.2, 5.0, 2)
        ch = []
        for gam, temp, b in zip(g, T, ("hot", "cold")):
            n = 1 / np.expm1(1 / temp)
            ch += [qt.Channel(op.sigma_minus(), gam * (n + 1), b),
                   qt.Channel(op.sigma_plus(), gam * n, b)]
        L = qt.Lindblad(0.5 * op.sigma_z(), ch, {"hot": T[0], "cold": T[1]})
        r = thermodynamic_uncertainty_ratio(L, "hot")
        assert r["ratio"] >= 2 - 1e-9
        assert r["entropy_production"] == pytest.approx(
            qt.entropy_production_rate(L, qt.steady_state(L)), rel=1e-9)


def test_uncertainty_ratio_of_the_transistor_and_the_otto_cycle():
    tr = Transistor()
    L = tr.lindblad()
    for b in ("E", "C", "B"):
        assert thermodynamic_uncertainty_ratio(L, b)["ratio"] > 2
    # the local master equation: the jump-counted emitter current is J_E1 (the coherent part
    # J_E2 flows between jumps), and Spohn's rate with the full currents differs from the
    # entropy flow counted jump by jump
    parts = tr.coherence_parts()
    assert heat_cumulants(L, "E")["mean"] == pytest.approx(parts["J_E1"], rel=1e-9)
    spohn = qt.entropy_production_rate(L, qt.steady_state(L))
    assert abs(spohn - entropy_flow_cumulants(L)["mean"]) > 1e-4
    # the Otto cycle: above 2 at the default strokes, below 2 with long, thermalising strokes
    # (periodic driving: the populations never develop coherence here)
    assert thermodynamic_uncertainty_ratio(OttoRefrigerator().protocol(), "cold")["ratio"] > 2
    slow = OttoRefrigerator(omega_b=1.5, beta_h=0.1, tau_c=5.0, tau_h=5.0).protocol()
    assert thermodynamic_uncertainty_ratio(slow, "hot")["ratio"] < 1.96
