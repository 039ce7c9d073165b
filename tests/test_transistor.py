"""Three-level thermal transistor of Su, Zhang, Andresen & Chen (2021): both readings."""

import numpy as np
import pytest

import qtraj as qt
from qtraj.models.transistor import PAPER_POLE_TB, Transistor
from helpers import assert_consistent, assert_inconsistent

SWEEP = np.geomspace(2.0, 330.0, 12)

#: pole of the lindblad reading (documented in the report / module; T_B in units of delta)
LINDBLAD_POLE_TB = 245.3933


@pytest.mark.parametrize("reading", ["lindblad", "paper"])
def test_first_law_on_a_sweep(reading):
    for TB in SWEEP:
        J = Transistor(T_B=TB, reading=reading).currents()
        assert abs(J["E"] + J["C"] + J["B"]) < 1e-12
        assert J["E"] > 0 > J["C"]


def test_lindblad_currents_are_the_generic_heat_currents_and_eqs_9_to_11():
    tr = Transistor(T_B=80.0)
    L, rho = tr.lindblad(), tr.steady_state()
    J = qt.heat_currents(L, rho)
    mine = tr.currents()
    parts = tr.coherence_parts()
    for b in "ECB":
        assert mine[b] == pytest.approx(J[b], rel=1e-12, abs=1e-13)
        assert parts[f"J_{b}1"] + parts[f"J_{b}2"] == pytest.approx(J[b], rel=1e-12)
    # J_i2 are the Re(rho12) terms of Eqs. (9)-(11)
    R = rho[1, 2].real
    nE = tr.n_E
    assert parts["J_E2"] == pytest.approx(-(nE + 1) * tr.delta * R)
    assert parts["J_B2"] == pytest.approx(-np.sin(2 * tr.theta) ** 2 * (2 * tr.n_B + 1)
                                          * 2 * tr.delta * R)


def test_paper_rate_matrix_is_the_lindblad_generator_but_for_the_base_constants():
    """Appendix C (with its repairs, see the module) = the x-equations of the Lindblad model, except
    that the base terms which multiply rho11 + rho22 there are constants in Eq. (A.4)."""
    tr = Transistor(T_B=100.0)
    L = tr.lindblad()

    def xdot(x):
        d = L.rhs(Transistor._rho_from_x(x))
        return np.array([(d[1, 1] - d[2, 2]).real, (d[1, 1] + d[2, 2]).real,
                         d[1, 2].real, d[1, 2].imag])
    b_true = xdot(np.zeros(4))
    M_true = np.array([-(xdot(e) - b_true) for e in np.eye(4)]).T
    M, b = tr.replace(reading="paper").rate_matrix(tr.n_B)    # same n_B (at omega)
    base = b - b_true                                         # the base constants of (A.4)
    s, c = np.sin(2 * tr.theta), np.cos(2 * tr.theta)
    assert np.allclose(base, [-s**2 * c, 0, -0.5 * s**3, 0], atol=1e-12)
    M_fixed = M.copy()
    M_fixed[:, 1] -= base                                     # move them to the P column
    assert np.allclose(M_fixed, M_true, atol=1e-11)


@pytest.mark.parametrize("reading", ["lindblad", "paper"])
@pytest.mark.parametrize("TB", [20.0, 135.0])
def test_conductances_linear_response_matches_finite_differences(reading, TB):
    tr = Transistor(T_B=TB, reading=reading)
    s = tr.conductances()
    parts = tr.coherence_parts()
    h = 1e-4 * TB
    up = tr.replace(T_B=TB + h)
    dn = tr.replace(T_B=TB - h)
    Jp, Jm = up.currents(), dn.currents()
    Pp, Pm = up.coherence_parts(), dn.coherence_parts()
    for b in "ECB":
        fd = -(Jp[b] - Jm[b]) / (2 * h)
        assert s[b] == pytest.approx(fd, rel=1e-6, abs=1e-10)
        for j in "12":
            fdj = -(Pp[f"J_{b}{j}"] - Pm[f"J_{b}{j}"]) / (2 * h)
            assert parts[f"sigma_{b}{j}"] == pytest.approx(fdj, rel=1e-5, abs=1e-10)
    assert abs(s["E"] + s["C"] + s["B"]) < 1e-12


@pytest.mark.parametrize("reading", ["lindblad", "paper"])
def test_transistor_effect_on_a_TB_sweep(reading):
    """sigma_E < 0 (negative differential thermal resistance), |alpha| > 1, alpha_E + alpha_C
    = -1; sigma_B1 > 0 > sigma_B2 (the coherence makes sigma_B vanish)."""
    for TB in SWEEP:
        tr = Transistor(T_B=TB, reading=reading)
        s, a, p = tr.conductances(), tr.amplification(), tr.coherence_parts()
        assert s["E"] < 0 < s["C"]
        assert abs(a["E"]) > 1 and abs(a["C"]) > 1
        assert a["E"] + a["C"] == pytest.approx(-1.0, abs=1e-9)
        assert p["sigma_B1"] > 0 > p["sigma_B2"]


def test_pole_positions():
    paper = Transistor(reading="paper").pole()
    assert abs(paper / PAPER_POLE_TB - 1) < 0.005          # Fig. 3: 135.3 (we get 135.22)
    tr = Transistor()
    pole = tr.pole()
    assert pole == pytest.approx(LINDBLAD_POLE_TB, rel=1e-5)
    below, above = tr.replace(T_B=0.99 * pole), tr.replace(T_B=1.01 * pole)
    assert below.conductances()["B"] > 0 > above.conductances()["B"]
    assert abs(below.amplification()["E"]) > 50 and abs(above.amplification()["C"]) > 50
    assert abs(tr.replace(T_B=pole).conductances()["B"]) < 1e-14


def test_amplification_falls_with_dephasing_and_coherence_with_it():
    """Fig. 5: |rho12| and |alpha| decrease with gamma0."""
    g0 = [0.1, 0.5, 1.0, 2.0, 5.0]
    for reading in ("lindblad", "paper"):
        trs = [Transistor(gamma0=g, reading=reading) for g in g0]
        amp = [abs(t.amplification()["C"]) for t in trs]
        coh = [abs(t.coherence()) for t in trs]
        assert np.all(np.diff(amp) < 0) and np.all(np.diff(coh) < 0)


def test_jump_counted_currents_agree_with_currents():
    tr = Transistor(T_B=100.0)
    J = tr.currents()
    parts = tr.coherence_parts()
    res = tr.simulate(t_max=4.0, ntraj=3000, seed=3, progress=False, store_states=False)
    assert res.meta["baths"] == ["E", "C", "B"] and res.meta["heat"] == "expected"
    assert_consistent(res["heat_current"], res["heat_current_stderr"], [J["E"], J["C"], J["B"]],
                      name="heat_current")
    # transition energies (eps1, eps2, omega per jump): the population parts J_E1, J_C1 and J_B
    tra = tr.simulate(t_max=4.0, ntraj=3000, seed=3, heat="transition", progress=False,
                      store_states=False)
    assert_consistent(tra["heat_current"], tra["heat_current_stderr"],
                      [parts["J_E1"], parts["J_C1"], J["B"]], name="heat_current(transition)")
    # base jumps are eigenoperators: both estimators count exactly the same heat
    assert tra["heat_current"][2] == pytest.approx(res["heat_current"][2], rel=1e-12)


@pytest.mark.slow
def test_slow_transition_counting_misses_the_coherent_part():
    """With ~40x the statistics, jump counting with fixed transition energies is resolved to
    differ from J_E by J_E2 (carried by the no-jump evolution), and the expected-heat estimator
    still agrees with J_E."""
    tr = Transistor(T_B=100.0)
    J, parts = tr.currents(), tr.coherence_parts()
    tra = tr.simulate(t_max=10.0, ntraj=40000, seed=8, heat="transition", progress=False,
                      store_states=False, n_jobs=2)
    exp = tr.simulate(t_max=10.0, ntraj=40000, seed=9, progress=False, store_states=False,
                      n_jobs=2)
    assert_consistent(tra["heat_current"][0], tra["heat_current_stderr"][0], parts["J_E1"],
                      name="J_E(transition) vs J_E1")
    assert_inconsistent(tra["heat_current"][0], tra["heat_current_stderr"][0], J["E"],
                        name="J_E(transition) vs J_E")
    assert_consistent(exp["heat_current"], exp["heat_current_stderr"], [J["E"], J["C"], J["B"]],
                      name="heat_current")


def test_paper_reading_has_no_unravelling_and_bad_parameters_are_refused():
    tp = Transistor(reading="paper")
    with pytest.raises(ValueError, match="not trace preserving"):
        tp.simulate(t_max=1.0, ntraj=10)
    with pytest.raises(ValueError, match="not a Lindblad"):
        tp.lindblad()
    with pytest.raises(ValueError):
        Transistor(reading="nope")
    with pytest.raises(ValueError):
        Transistor(T_B=-1.0)
