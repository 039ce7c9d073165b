"""The statistical assertions of helpers.py: thresholds, complex and deterministic components,
calibration of the family-wise false-alarm probability."""

import numpy as np
import pytest
from scipy import stats

from helpers import (ALPHA, assert_consistent, assert_frequencies_consistent,
                     assert_inconsistent, assert_stderr_scaling, bonferroni_threshold,
                     random_state, random_unitary)


def test_bonferroni_threshold_values():
    assert bonferroni_threshold(1, 1e-3) == pytest.approx(stats.norm.isf(5e-4))
    assert bonferroni_threshold(4, 1e-3) == pytest.approx(3.66, abs=0.01)
    assert bonferroni_threshold(100, ALPHA) > bonferroni_threshold(10, ALPHA) > 3.8
    assert bonferroni_threshold(4, 1e-3, dof=7) > bonferroni_threshold(4, 1e-3)


def test_threshold_is_applied_per_component_count():
    zstar = bonferroni_threshold(3)
    se = np.ones(3)
    assert_consistent([0.0, 0.0, zstar - 0.01], se, 0.0)
    with pytest.raises(AssertionError, match=r"\[2\].*z = .*threshold z\* = .* m = 3"):
        assert_consistent([0.0, 0.0, zstar + 0.01], se, 0.0)
    # the same deviation is acceptable among many more components
    assert_consistent(np.r_[np.zeros(999), zstar + 0.01], np.ones(1000), 0.0)


def test_complex_components_use_their_own_standard_errors():
    est = np.array([1.0 + 0.5j])
    assert_consistent(est, 0.1 + 0.2j, 1.0 + 0.0j)                   # Im: z = 2.5
    with pytest.raises(AssertionError, match=r"\.im"):
        assert_consistent(est, 0.2 + 0.1j, 1.0 + 0.0j)               # Im: z = 5
    with pytest.raises(TypeError, match="stderr"):
        assert_consistent(est, 0.1, 1.0)


def test_zero_stderr_components_must_match_exactly():
    assert_consistent([1.0, 2.0], [0.0, 0.1], [1.0 + 1e-14, 2.0])
    with pytest.raises(AssertionError, match="stderr 0"):
        assert_consistent([1.0, 2.0], [0.0, 0.1], [1.001, 2.0])
    assert_consistent([1.0], [0.0], [1.0 + 1e-10], atol=1e-9)
    with pytest.raises(AssertionError, match="non-finite"):
        assert_consistent([np.nan], [1.0], [0.0])


def test_inconsistent_is_the_negation():
    zstar = bonferroni_threshold(2)
    assert_inconsistent([0.0, zstar + 0.1], [1.0, 1.0], 0.0)
    with pytest.raises(AssertionError, match="not resolved"):
        assert_inconsistent([0.0, zstar - 0.1], [1.0, 1.0], 0.0)


def test_false_alarm_probability_is_at_most_alpha():
    """Monte Carlo calibration at a large alpha: 4000 families of 20 independent normal
    estimates fail about alpha of the time (Bonferroni: slightly less)."""
    rng = np.random.default_rng(0)
    alpha, fails = 0.2, 0
    for x in rng.normal(size=(4000, 20)):
        try:
            assert_consistent(x, np.ones(20), 0.0, alpha=alpha)
        except AssertionError:
            fails += 1
    rate, se = fails / 4000, np.sqrt(alpha * (1 - alpha) / 4000)
    assert 1 - (1 - alpha / 20) ** 20 - 4 * se < rate < alpha + 4 * se


def test_frequencies_exact_binomial():
    n = 1000
    assert_frequencies_consistent([0.5, 0.5, 0.0], n, [0.5, 0.5, 0.0])
    with pytest.raises(AssertionError, match=r"\[2\]: 1 of 1000"):
        assert_frequencies_consistent([0.5, 0.499, 0.001], n, [0.5, 0.5, 0.0])
    with pytest.raises(AssertionError, match="p-value"):
        assert_frequencies_consistent([0.6, 0.4], n, [0.5, 0.5])
    with pytest.raises(ValueError, match="whole counts"):
        assert_frequencies_consistent([0.5005, 0.4995], n, [0.5, 0.5])


def test_stderr_scaling():
    assert assert_stderr_scaling([0.2, 0.4 + 0.2j], [0.1, 0.2 + 0.1j], 100, 400) == 2.0
    with pytest.raises(AssertionError, match="1/sqrt"):
        assert_stderr_scaling([0.2, 0.4], [0.1, 0.2], 100, 900)


def test_random_objects():
    rho = random_state(3, 1)
    assert np.allclose(rho, rho.conj().T) and np.trace(rho) == pytest.approx(1)
    assert np.linalg.eigvalsh(rho).min() > 0
    assert np.linalg.matrix_rank(random_state(4, 2, rank=1)) == 1
    U = random_unitary(3, 1)
    assert np.allclose(U @ U.conj().T, np.eye(3))
    assert np.array_equal(random_state(3, 1), rho)                      # seeded
