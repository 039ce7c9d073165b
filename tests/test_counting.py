"""Counting statistics: heat per time window from jump records against the tilted generator."""

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.counting import exact_heat_distribution, heat_distribution, window_heat
from qtraj.protocols import Protocol


def two_bath_qubit():
    H = 0.5 * op.sigma_z()
    return qt.Lindblad(H, [qt.Channel(op.sigma_minus(), 1.0, "hot"),
                           qt.Channel(op.sigma_plus(), 0.5, "hot"),
                           qt.Channel(op.sigma_minus(), 0.3, "cold"),
                           qt.Channel(op.sigma_plus(), 0.05, "cold")])


def binomial_z(values, p_hat, n, exact_values, exact_p, min_expected=5.0):
    """z-scores of the observed frequencies against exact probabilities (exact-p standard
    error), for bins expected to hold >= min_expected samples; and the pooled rest."""
    lookup = dict(zip(np.round(exact_values, 9), exact_p))
    p_ex = np.array([lookup.get(np.round(v, 9), 0.0) for v in values])
    big = n * p_ex >= min_expected
    z = (p_hat[big] - p_ex[big]) / np.sqrt(p_ex[big] * (1 - p_ex[big]) / n)
    rest_hat = p_hat[~big].sum()
    rest_ex = 1.0 - sum(p for v, p in zip(np.round(exact_values, 9), exact_p)
                        if n * p >= min_expected)
    z_rest = (rest_hat - rest_ex) / np.sqrt(max(rest_ex * (1 - rest_ex), 1e-300) / n)
    return z, z_rest


def test_exact_distribution_is_normalised_and_has_the_integrated_current_as_mean():
    L = two_bath_qubit()
    rho0 = op.ket2dm(op.basis(2, 1))
    v, p = exact_heat_distribution(L, rho0, 2.0, "hot")
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    t = np.linspace(0, 2.0, 4001)
    J = [qt.heat_currents(L, r)["hot"] for r in qt.mesolve(L, rho0, t)]
    assert (v * p).sum() == pytest.approx(np.trapezoid(J, t), abs=1e-6)
    # a Protocol made of one segment gives the same distribution
    v2, p2 = exact_heat_distribution(Protocol([(1.0, L)]), rho0, 2.0, "hot")
    assert np.allclose(p2[np.isin(v2, v)], p[np.isin(v, v2)], atol=1e-12)


def test_window_heat_distribution_from_jump_records_matches_exact():
    L = two_bath_qubit()
    psi0 = op.basis(2, 1)
    n = 20000
    res = qt.mcsolve(L, psi0, [0.0, 1.0, 3.0], n, seed=3, keep_jumps=True, store_states=False,
                     progress=False)
    rho1 = qt.mesolve(L, psi0, [0.0, 1.0])[-1]
    for bath in ("hot", "cold"):
        q = window_heat(res, bath, 1.0, 3.0, model=L)
        assert q.shape == (n,)
        v, p, se = heat_distribution(q, unit=1.0)
        assert np.allclose(se, np.sqrt(p * (1 - p) / n))
        ve, pe = exact_heat_distribution(L, rho1, 2.0, bath)
        z, z_rest = binomial_z(v, p, n, ve, pe)
        assert np.max(np.abs(z)) < 4 and abs(z_rest) < 4
        assert len(z) >= 3
    # the whole run: the same total as the heat records
    tot = window_heat(res, "hot", model=L)
    assert tot.mean() == pytest.approx(res["heat"][0], abs=1e-12)


def test_counting_errors():
    L = two_bath_qubit()
    res = qt.mcsolve(L, op.basis(2, 1), [0, 1], 10, seed=1, progress=False)
    with pytest.raises(ValueError, match="keep_jumps"):
        window_heat(res, "hot", model=L)
    with pytest.raises(ValueError, match="bath"):
        window_heat(res, "warm", model=L)
    with pytest.raises(ValueError, match="multiples"):
        heat_distribution([0.5, 1.0], unit=1.0)
    odd = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_x(), 1.0, "x")])
    with pytest.raises(ValueError, match="energy"):
        exact_heat_distribution(odd, op.basis(2, 0), 1.0, "x")
