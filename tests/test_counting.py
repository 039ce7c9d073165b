"""Counting statistics: heat per time window from jump records against the tilted generator."""

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.counting import exact_heat_distribution, heat_distribution, window_heat
from qtraj.protocols import Protocol
from helpers import assert_frequencies_consistent, integrated_heat, two_bath_qubit


def on_common_support(values, p_hat, exact_values, exact_p):
    """Observed and exact probabilities on the union of both supports (an exact value never
    observed has frequency 0; an observed value missing from the exact list has probability 0)."""
    obs = dict(zip(np.round(values, 9).tolist(), p_hat))
    ex = dict(zip(np.round(exact_values, 9).tolist(), exact_p))
    keys = sorted(set(obs) | set(ex))
    return np.array([obs.get(k, 0.0) for k in keys]), np.array([ex.get(k, 0.0) for k in keys])


def test_exact_distribution_is_normalised_and_has_the_integrated_current_as_mean():
    L = two_bath_qubit()
    rho0 = op.ket2dm(op.basis(2, 1))
    v, p = exact_heat_distribution(L, rho0, 2.0, "hot")
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    hot = L.baths.index("hot")
    assert (v * p).sum() == pytest.approx(integrated_heat(L, rho0, [0, 2.0], 4000)[hot, -1],
                                          abs=1e-6)
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
        observed, exact = on_common_support(v, p, ve, pe)
        assert_frequencies_consistent(observed, n, exact, name=f"P(Q_{bath})")
        assert np.count_nonzero(n * exact >= 5) >= 3                 # several well-filled bins
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
