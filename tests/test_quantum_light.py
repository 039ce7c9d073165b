"""Quantum vs P-averaged classical light (qtraj.models.quantum_light; Mukamel & Dorfman 2015)."""

import numpy as np
import pytest
from scipy.integrate import quad

import qtraj as qt
from qtraj.models import quantum_light as ql
from helpers import assert_consistent

T = 1.0
N_MAX = 60          # thermal nbar <= 1: converged far below 1e-10 (see test_truncation)


def _pe_diag_formula(g, t, field, n_max):
    p = field.populations(n_max)
    return float(np.dot(p, np.sin(g * np.sqrt(np.arange(n_max + 1)) * t) ** 2))


@pytest.mark.parametrize("field", [ql.thermal(0.7), ql.coherent(0.9 + 0.4j), ql.fock(3)])
def test_closed_jc_matches_rabi_sum_and_mesolve(field):
    n_max = 30
    for g in (0.2, 1.1):
        pe, dn = ql.quantum_observables(g, T, field, n_max)
        assert pe == pytest.approx(_pe_diag_formula(g, T, field, n_max), abs=1e-12)
        assert dn == pytest.approx(-pe, abs=1e-12)          # excitation conservation
        rho = qt.mesolve(ql.jc_model(g, n_max), ql.initial_state(field, n_max), [0, T])[-1]
        assert np.real(np.trace(rho[n_max + 1:, n_max + 1:])) == pytest.approx(pe, abs=1e-10)


def test_truncation_converged():
    f = ql.thermal(1.0)
    obs = lambda n: [ql.quantum_observables(g, T, f, n) for g in (0.1, 0.5, 1.0)]
    n, change = ql.converged_n_max(obs, tol=1e-10)
    assert change < 1e-10 and n <= N_MAX
    assert np.max(np.abs(np.subtract(obs(N_MAX), obs(N_MAX + 20)))) < 1e-10
    # and a too-small truncation is detectably wrong
    assert np.max(np.abs(np.subtract(obs(8), obs(N_MAX)))) > 1e-4


def test_classical_thermal_average_quadrature():
    nbar, g = 0.8, 0.9
    exact = quad(lambda u: np.exp(-u / nbar) / nbar * np.sin(g * np.sqrt(u) * T) ** 2,
                 0, np.inf, limit=200)[0]
    assert ql.classical_pe(g, T, ql.thermal(nbar)) == pytest.approx(exact, rel=1e-9)
    with pytest.raises(ValueError):
        ql.classical_pe(g, T, ql.fock(1))


@pytest.mark.parametrize("nbar,t", [(0.5, 1.0), (1.0, 1.0), (1.0, 1.3)])
def test_thermal_c2_agree_c4_differ_by_vacuum_term(nbar, t):
    f = ql.thermal(nbar)
    c2q, c4q = ql.quantum_coefficients(t, f, N_MAX)
    c2c, c4c = ql.classical_coefficients(t, f)
    # linear order (linear in the intensity nbar) agrees
    assert abs(c2q - c2c) / abs(c2c) < 1e-6
    assert c2q == pytest.approx(t ** 2 * nbar, rel=1e-10)
    # fourth order: quantum -(t^4/3)(2 nbar^2 + nbar), classical -(t^4/3) 2 nbar^2
    assert c4q == pytest.approx(-t ** 4 * (2 * nbar ** 2 + nbar) / 3, rel=1e-9)
    assert c4c == pytest.approx(-t ** 4 * 2 * nbar ** 2 / 3, rel=1e-9)
    diff, expected = c4q - c4c, -t ** 4 * nbar / 3
    assert abs(diff - expected) / abs(expected) < 1e-6


def test_coherent_and_fock_fourth_order():
    fc = ql.coherent(1.2)
    c2q, c4q = ql.quantum_coefficients(T, fc, N_MAX)
    c2c, c4c = ql.classical_coefficients(T, fc)
    assert abs(c2q - c2c) < 1e-9 * c2c
    assert c4q - c4c == pytest.approx(-1.44 / 3, rel=1e-6)
    # Fock |1>: formal P-moment <|beta|^4> = <a^dag^2 a^2> = 0, quantum c4 = -1/3
    c2q, c4q = ql.quantum_coefficients(T, ql.fock(1), 10)
    c2c, c4c = ql.classical_coefficients(T, ql.fock(1))
    assert c2q == pytest.approx(c2c, rel=1e-10) and abs(c4c) < 1e-12
    assert c4q == pytest.approx(-1 / 3, rel=1e-9)


def test_contour_coefficients_agree_with_real_axis_fit():
    f = ql.thermal(1.0)
    ref = ql.quantum_coefficients(T, f, N_MAX)
    me = lambda g: np.real(np.trace(qt.mesolve(ql.jc_model(g, N_MAX), ql.initial_state(f, N_MAX),
                                               [0, T])[-1][N_MAX + 1:, N_MAX + 1:]))
    c2, c4 = ql.fit_coefficients(me, 0.2)
    assert c2 == pytest.approx(ref[0], rel=1e-10)
    assert c4 == pytest.approx(ref[1], rel=1e-8)
    c2, c4 = ql.fit_coefficients(lambda g: ql.classical_pe(g, T, f), 0.2)
    ref_c = ql.classical_coefficients(T, f)
    assert c2 == pytest.approx(ref_c[0], rel=1e-10) and c4 == pytest.approx(ref_c[1], rel=1e-8)


def test_open_system_coefficients_analytic_continuation():
    # with decay the contour coefficients must still match a real-axis fit of mesolve
    f, n_max, gam, kap = ql.thermal(0.3), 8, 0.5, 0.2
    ref = ql.quantum_coefficients(T, f, n_max, gamma=gam, kappa=kap, n_points=32)
    me = lambda g: ql.quantum_pe(g, T, f, n_max, gamma=gam, kappa=kap)
    mes = lambda g: np.real(np.trace(qt.mesolve(ql.jc_model(g, n_max, gam, kap),
                                                ql.initial_state(f, n_max), [0, T])[-1]
                                     [n_max + 1:, n_max + 1:]))
    assert me(0.37) == pytest.approx(mes(0.37), abs=1e-12)
    c2, c4 = ql.fit_coefficients(mes, 0.2)
    assert c2 == pytest.approx(ref[0], rel=1e-9) and c4 == pytest.approx(ref[1], rel=1e-6)


def test_jumps_match_mesolve():
    n_max, g, gam, kap = 6, 1.0, 0.4, 0.3
    model = ql.jc_model(g, n_max, gam, kap)
    rho0 = ql.initial_state(ql.coherent(1.0), n_max, atom=1)
    times = np.linspace(0, 3, 7)
    Pe = np.kron(np.diag([0.0, 1.0]), np.eye(n_max + 1))
    exact = [np.real(np.trace(Pe @ r)) for r in qt.mesolve(model, rho0, times)]
    res = qt.mcsolve(model, rho0, times, 3000, seed=7, e_ops=[Pe], progress=False,
                     store_states=False)
    m, se = np.real(res.expect[0]), res.expect_stderr[0]
    assert_consistent(m, se, exact, name="P_e")
    assert np.max(se[1:]) < 0.02 and np.min(se[1:]) > 0
