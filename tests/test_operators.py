"""qtraj.operators: the Bose-Einstein occupation."""

import numpy as np
import pytest

from qtraj.operators import thermal_occupation


@pytest.mark.parametrize("omega, beta", [(1.0, 0.05), (1.0, 1.0), (2.5, 0.4), (0.3, 7.0)])
def test_thermal_occupation_is_the_mean_of_the_bose_einstein_distribution(omega, beta):
    """n = <k> of the Gibbs distribution p_k ~ exp(-beta omega k) of a harmonic mode (summed
    to a cutoff far in the tail), and detailed balance (n + 1) / n = exp(beta omega)."""
    k = np.arange(0, 4000)
    p = np.exp(-beta * omega * k)
    n = thermal_occupation(omega, beta)
    assert n == pytest.approx((k * p).sum() / p.sum(), rel=1e-12)
    assert (n + 1) / n == pytest.approx(np.exp(beta * omega), rel=1e-12)


def test_thermal_occupation_limits():
    assert thermal_occupation(1.0, np.inf) == 0.0                  # zero temperature
    assert thermal_occupation(1.0, 800.0) == 0.0                   # no overflow warning
    x = 1e-7                                                       # high temperature
    assert thermal_occupation(1.0, x) == pytest.approx(1 / x - 0.5 + x / 12, rel=1e-15)
    assert thermal_occupation(2.0, 0.5) == thermal_occupation(1.0, 1.0)   # depends on beta omega
    assert thermal_occupation(np.float32(1.0), 2) == pytest.approx(1 / np.expm1(2.0))


@pytest.mark.parametrize("omega, beta, match", [
    (0.0, 1.0, "omega"), (-1.0, 1.0, "omega"), (np.inf, 1.0, "omega"), (np.nan, 1.0, "omega"),
    ("1.0", 1.0, "omega"), (True, 1.0, "omega"), (None, 1.0, "omega"),
    (1.0, 0.0, "beta"), (1.0, -2.0, "beta"), (1.0, np.nan, "beta"), (1.0, [1.0, 2.0], "beta"),
    (1e-300, 1e-10, "overflows"),
])
def test_thermal_occupation_bad_input(omega, beta, match):
    with pytest.raises(ValueError, match=match):
        thermal_occupation(omega, beta)
