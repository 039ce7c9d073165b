"""Photon statistics of clicks: exact waiting times and Mandel Q against closed forms, and the
click-record estimators (g2, waiting-time density, Mandel Q) of quantum-jump trajectories
against the exact values within their (jackknife) standard errors."""

import doctest

import numpy as np
import pytest

import qtraj as qt
from qtraj import counting
from qtraj import operators as op
from qtraj.counting import (g2_from_clicks, mandel_q, mandel_q_from_clicks,
                            waiting_time_distribution, waiting_time_histogram, waiting_times)

from helpers import assert_consistent, assert_stderr_scaling

OMEGA, GAMMA, T = 2.0, 1.0, 40.0
EDGES = np.linspace(0.0, 6.0, 13)


def fluorescence(omega=OMEGA, gamma=GAMMA):
    return qt.Lindblad(0.5 * omega * op.sigma_x(), [qt.Channel(op.sigma_minus(), gamma)])


def bin_average(f, edges, window):
    """(window - tau)-weighted average of f over each bin (Gauss-Legendre, 20 nodes)."""
    x, w = np.polynomial.legendre.leggauss(20)
    a, b = edges[:-1, None], edges[1:, None]
    tt = 0.5 * (b - a) * x + 0.5 * (a + b)                   # (n_bins, 20), increasing
    ft = np.reshape(f(tt.ravel()), tt.shape)
    return np.sum(w * (window - tt) * ft, axis=1) / np.sum(w * (window - tt), axis=1)


@pytest.fixture(scope="module")
def runs():
    L = fluorescence()
    rho = qt.steady_state(L)
    return L, {n: qt.mcsolve(L, rho, [0.0, T], n, seed=11, keep_jumps=True, store_states=False,
                             progress=False) for n in (150, 600)}


# --------------------------------------------------------------------------- exact
def test_waiting_time_distribution_closed_form_and_normalisation():
    L = fluorescence()
    tau = np.linspace(0, 12, 49)
    Wp = np.sqrt(OMEGA ** 2 - GAMMA ** 2 / 4)
    exact = GAMMA * OMEGA ** 2 / Wp ** 2 * np.exp(-GAMMA * tau / 2) * np.sin(Wp * tau / 2) ** 2
    np.testing.assert_allclose(waiting_time_distribution(L, 0, tau), exact, atol=1e-12)
    x, w = np.polynomial.legendre.leggauss(200)
    tt = 30 * (x + 1)
    assert np.sum(30 * w * waiting_time_distribution(L, "bath:0", np.sort(tt))) == \
        pytest.approx(1.0, abs=1e-9)


def test_mandel_q_closed_forms():
    # chaotic light from a thermal cavity: G2 - r^2 = r^2 e^{-kappa tau}
    a = op.destroy(24)
    down, up = 1.0, 0.25
    L = qt.Lindblad(a.conj().T @ a, [qt.Channel(a, down, name="out"),
                                    qt.Channel(a.conj().T, up)])
    kappa = down - up
    r = down * up / kappa
    for window in (0.5, 3.0):
        exact = 2 * r * (1 / kappa - (1 - np.exp(-kappa * window)) / (kappa ** 2 * window))
        assert mandel_q(L, "out", window) == pytest.approx(exact, abs=1e-9)
    # coherent light (driven cavity): Poissonian clicks
    drive = qt.Lindblad(0.3 * a.conj().T @ a + 0.4 * (a + a.conj().T), [qt.Channel(a, 1.0)])
    assert abs(mandel_q(drive, 0, 2.0)) < 1e-9
    # resonance fluorescence: Q = 2 r int_0^T (1 - tau/T)(g2 - 1) dtau
    L = fluorescence()
    x, w = np.polynomial.legendre.leggauss(80)
    tt = 2.5 * (x + 1)
    g2, _ = qt.coherence_function_g2(L, None, np.sort(tt), op.sigma_minus())
    r = GAMMA * qt.steady_state(L)[1, 1].real
    q = 2 * r * np.sum(2.5 * w[np.argsort(tt)] * (1 - np.sort(tt) / 5.0) * (g2.real - 1))
    assert mandel_q(L, 0, 5.0) == pytest.approx(q, abs=1e-9)


# --------------------------------------------------------------------------- from clicks
def test_g2_from_clicks_matches_exact_within_errors(runs):
    L, res = runs
    sm = np.sqrt(GAMMA) * op.sigma_minus()
    exact = bin_average(lambda t: qt.coherence_function_g2(L, None, t, sm)[0].real, EDGES, T)
    for n, r in res.items():
        tau, g2, se = g2_from_clicks(r, 0, EDGES)
        np.testing.assert_allclose(tau, 0.5 * (EDGES[1:] + EDGES[:-1]))
        assert_consistent(g2, se, exact, name=f"g2 ({n} trajectories)")
    assert g2[0] < 0.2 and g2[3] > 1.2        # antibunching and the Rabi overshoot resolved


def test_waiting_time_histogram_matches_exact_within_errors(runs):
    L, res = runs
    exact = bin_average(lambda t: waiting_time_distribution(L, 0, t), EDGES, T)
    for n, r in res.items():
        tau, w, se = waiting_time_histogram(r, 0, EDGES)
        assert_consistent(w, se, exact, name=f"w ({n} trajectories)")
    w_samples = waiting_times(res[600], 0)
    assert w_samples.size == np.sum(np.bincount(res[600]["jump_traj"]) - 1)
    assert np.all(w_samples > 0)


def test_mandel_q_from_clicks_matches_exact_within_errors(runs):
    L, res = runs
    for n, r in res.items():
        Q, se = mandel_q_from_clicks(r, 0, 10.0, 30.0)
        assert_consistent(Q, se, mandel_q(L, 0, 20.0), name=f"Q ({n} trajectories)")
        assert Q < 0


def test_click_errors_shrink_as_one_over_sqrt_ntraj(runs):
    _, res = runs
    se = {n: g2_from_clicks(r, 0, EDGES)[2] for n, r in res.items()}
    assert_stderr_scaling(se[150], se[600], 150, 600, rtol=0.2)
    se = {n: waiting_time_histogram(r, 0, EDGES)[2] for n, r in res.items()}
    assert_stderr_scaling(se[150], se[600], 150, 600, rtol=0.2)


def test_pair_counts_against_brute_force():
    rng = np.random.default_rng(0)
    traj = np.sort(rng.integers(0, 5, 60))
    t = np.concatenate([np.sort(rng.uniform(0, 10, np.sum(traj == k))) for k in range(5)])
    edges = np.array([0, 0.5, 1, 2, 3.5])
    brute = np.zeros((5, 4))
    consecutive = np.zeros((5, 4))
    for i in range(t.size):
        for j in range(i + 1, t.size):
            if traj[i] == traj[j]:
                b = np.searchsorted(edges, t[j] - t[i], side="right") - 1
                if 0 <= b < 4:
                    brute[traj[i], b] += 1
                    consecutive[traj[i], b] += j == i + 1
    np.testing.assert_array_equal(counting._pair_counts(traj, t, edges, False, 5), brute)
    np.testing.assert_array_equal(counting._pair_counts(traj, t, edges, True, 5), consecutive)


def test_click_estimator_errors(runs):
    L, res = runs
    r = res[150]
    plain = qt.mcsolve(L, op.basis(2, 0), [0, 1], 5, seed=1, progress=False)
    with pytest.raises(ValueError, match="keep_jumps"):
        g2_from_clicks(plain, 0, EDGES)
    with pytest.raises(ValueError, match="channel"):
        g2_from_clicks(r, 3, EDGES)
    with pytest.raises(ValueError, match="channel"):
        waiting_times(r, "laser")
    with pytest.raises(ValueError, match="tau_edges"):
        g2_from_clicks(r, 0, [1.0, 0.5])
    with pytest.raises(ValueError, match="tau_edges"):
        g2_from_clicks(r, 0, [0.0, 2 * T])
    with pytest.raises(ValueError, match="t_start"):
        waiting_time_histogram(r, 0, EDGES, t_start=-1.0)
    with pytest.raises(ValueError, match="t_end"):
        mandel_q_from_clicks(r, 0, 10.0, 5.0)
    with pytest.raises(ValueError, match="duration"):
        mandel_q(L, 0, 0.0)
    with pytest.raises(ValueError, match="channel"):
        waiting_time_distribution(L, 1, [0.0])


def test_counting_docstring_examples_run():
    res = doctest.testmod(counting, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def test_clicks_of_one_channel_among_several():
    """Thermal qubit: emission clicks (channel "emit") while absorptions (not counted) also
    happen.  After an emission the atom must absorb (rate u) and then emit (rate e):
    w(tau) = u e / (e - u) (e^{-u tau} - e^{-e tau}); clicks from records agree."""
    e, u = 1.0, 0.4
    L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_plus(), u, name="absorb"),
                                         qt.Channel(op.sigma_minus(), e, name="emit")])
    tau = np.linspace(0, 10, 21)
    exact_w = u * e / (e - u) * (np.exp(-u * tau) - np.exp(-e * tau))
    np.testing.assert_allclose(waiting_time_distribution(L, "emit", tau), exact_w, atol=1e-12)
    res = qt.mcsolve(L, qt.steady_state(L), [0.0, 60.0], 300, seed=3, keep_jumps=True,
                     store_states=False, progress=False)
    edges = np.linspace(0, 8, 9)
    _, w, se = waiting_time_histogram(res, "emit", edges, t_start=5.0)
    exact = bin_average(lambda t: u * e / (e - u) * (np.exp(-u * t) - np.exp(-e * t)),
                        edges, 55.0)
    assert_consistent(w, se, exact, name="w(emit)")
    Lk = np.sqrt(e) * op.sigma_minus()
    _, g2, se = g2_from_clicks(res, 1, edges, t_start=5.0)
    exact = bin_average(lambda t: qt.coherence_function_g2(L, None, t, Lk)[0].real, edges, 55.0)
    assert_consistent(g2, se, exact, name="g2(emit)")
    Q, se = mandel_q_from_clicks(res, "emit", 5.0, 25.0)
    assert_consistent(Q, se, mandel_q(L, "emit", 20.0), name="Q(emit)")
