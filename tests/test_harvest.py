"""Atomic-beam coherence harvesting (Çakmak et al. 2017, Sec. III C): exact map vs the paper's
second-order equation, and the shot-by-shot scheme vs the exact averaged dynamics."""

import warnings

import numpy as np
import pytest

from qtraj import operators as op
from qtraj.models.harvest import (HarvestScheme, dephased, from_paper_basis, pair_state_from_bath,
                                  temperature_estimate, to_paper_basis)
from helpers import assert_consistent, assert_inconsistent, random_state

#: the density method's states are nearly deterministic once every trajectory sits at the
#: fixed point: differences at rounding level (standard errors < 1e-9) are no evidence
ATOL = 1e-9


def _random_pair(seed):
    return random_state(4, seed)


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


GTAUS = np.array([0.2, 0.1, 0.05, 0.025, 0.0125])


# --------------------------------------------------------------------------- Table I, basis
def test_table_I_coefficients_in_paper_basis():
    rho = _random_pair(3)
    a = to_paper_basis(rho)  # a[i-1, j-1] = a_ij, order |ee>, |eg>, |ge>, |gg>
    assert np.allclose(from_paper_basis(a), rho)
    ee = np.zeros((4, 4)); ee[3, 3] = 1                     # |ee> is qtraj index 3
    assert to_paper_basis(ee)[0, 0] == 1
    c = HarvestScheme(rho, 0.1).coefficients()
    blk = a[1, 1] + a[1, 2] + a[2, 1] + a[2, 2]
    assert c["r_e"] == pytest.approx((2 * a[0, 0] + blk).real, abs=1e-14)
    assert c["r_d"] == pytest.approx((2 * a[3, 3] + blk).real, abs=1e-14)
    assert c["lam"] == pytest.approx(a[0, 1] + a[0, 2] + a[1, 3] + a[2, 3], abs=1e-14)
    assert c["eps"] == pytest.approx(a[0, 3], abs=1e-14)
    assert c["mu"] == pytest.approx(0.01)


def test_collective_pair_states():
    p = np.array([4, 2, 1]) / 7                              # nbar = 1: p_k ~ (1/2)^k
    pair = pair_state_from_bath(1.0)
    assert pair[2, 1] == pytest.approx(p[1] / 2)             # a_23 = <eg|rho|ge>
    deph = dephased(pair)
    assert deph[2, 1] == 0 and deph[1, 2] == 0 and np.allclose(np.diag(deph), np.diag(pair))
    for r in (pair, deph):
        c = HarvestScheme(r, 0.5).coefficients()
        assert c["lam"] == 0 and c["eps"] == 0
    assert HarvestScheme(pair, 0.5).coefficients()["r_e"] == pytest.approx(6 / 7)
    assert HarvestScheme(deph, 0.5).coefficients()["r_e"] == pytest.approx(4 / 7)


# --------------------------------------------------------------------------- exact vs Eq. (30)
@pytest.mark.parametrize("nbar", [0.3, 1.0, 10.0])
@pytest.mark.parametrize("coherent", [True, False])
def test_exact_fixed_point_equals_eq30_for_every_g_tau(nbar, coherent):
    pair = pair_state_from_bath(nbar)
    pair = pair if coherent else dephased(pair)
    for g_tau in (0.05, 0.3, 1.0, 2.0, 3.0):
        h = HarvestScheme(pair, g_tau, rate=0.7)
        assert np.allclose(h.steady_state(), h.eq30_state(), atol=1e-12)
        assert np.allclose(h.model.collision_map(h.eq30_state()), h.eq30_state(), atol=1e-14)
        assert h.effective_temperature() == pytest.approx(h.effective_temperature_eq30(),
                                                          rel=1e-9)
        # g_tau only sets the relaxation rate: effective mu = p sin^2(sqrt2 g_tau)/2
        c = h.coefficients()
        Lpop = h.model.liouvillian()[np.ix_([0, 3], [0, 3])]    # populations decouple
        rates = sorted(-np.linalg.eigvals(Lpop).real)
        assert rates[0] == pytest.approx(0, abs=1e-12)
        assert rates[1] == pytest.approx(h.effective_mu() * (c["r_e"] + c["r_d"]), rel=1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.allclose(h.second_order_steady_state(), h.eq30_state(), atol=1e-12)


def test_second_order_error_vanishes_with_measured_power_law():
    """lam != 0: exact and second-order fixed points differ by O(g_tau) (both tend to 1/2 with
    O(g_tau) coherences); the relative error of the coherence does not vanish (~0.43 here).
    The third-order expansion is off by O(g_tau^3) only."""
    pair = _random_pair(3)
    assert abs(HarvestScheme(pair, 0.1).coefficients()["lam"]) > 0.1
    d2, d3, rel = [], [], []
    for g in GTAUS:
        h = HarvestScheme(pair, g)
        ex, s2, s3 = h.steady_state(), h.second_order_steady_state(), h.expanded_steady_state(3)
        d2.append(np.abs(ex - s2).max())
        d3.append(np.abs(ex - s3).max())
        rel.append(abs(ex[0, 1] - s2[0, 1]) / abs(ex[0, 1]))
    assert min(d2) > 1e-3
    assert _slope(GTAUS, d2) == pytest.approx(1.0, abs=0.1)
    assert _slope(GTAUS, d3) > 2.5
    assert rel[-1] > 0.3 and abs(rel[-1] - rel[-2]) < 0.02      # saturates, does not -> 0


def test_lam_zero_but_one_sided_coherences_also_first_order():
    """lam = 0 with a_12 + a_13 = -(a_24 + a_34) != 0: the exact fixed point has an O(g_tau)
    coherence that the second-order equation misses entirely."""
    pair = np.diag([0.4, 0.3, 0.2, 0.1]).astype(complex)
    pair[0, 1] = pair[1, 0] = 0.1                  # <gg|rho|ge>: a_34 in the paper's order
    pair[3, 1] = pair[1, 3] = -0.1                 # <ee|rho|ge>: a_13
    h0 = HarvestScheme(pair, 0.1)
    assert abs(h0.coefficients()["lam"]) < 1e-15
    d2 = []
    for g in GTAUS:
        h = HarvestScheme(pair, g)
        s2 = h.second_order_steady_state()
        assert abs(s2[0, 1]) < 1e-12
        d2.append(np.abs(h.steady_state() - s2).max())
    assert _slope(GTAUS, d2) == pytest.approx(1.0, abs=0.1)


def test_eps_only_x_state_fixed_points_agree_but_generators_differ():
    """Finding: eps != 0 alone (X state, lam = 0) does not change the fixed point (Eq. 30 holds
    exactly); it only enters the coherence dynamics, where the exact and second-order
    generators differ."""
    psi = np.array([np.sqrt(0.7), 0, 0, np.sqrt(0.3)])
    pair = 0.8 * np.outer(psi, psi) + 0.2 * np.diag([0.1, 0.4, 0.4, 0.1])
    for g in (0.05, 0.2, 1.0):
        h = HarvestScheme(pair, g)
        assert abs(h.coefficients()["eps"]) > 0.3
        assert np.allclose(h.steady_state(), h.eq30_state(), atol=1e-12)
    h = HarvestScheme(pair, 0.2)
    assert np.abs(h.model.liouvillian() - h.second_order_model().liouvillian()).max() > 1e-3


def test_expansion_orders():
    h = HarvestScheme(_random_pair(5), 0.2)
    assert np.allclose(h.expanded_liouvillian(2), h.second_order_model().liouvillian(),
                       atol=1e-15)
    assert np.allclose(h.expanded_liouvillian(30), h.model.liouvillian(), atol=1e-13)


def test_second_order_warns_for_large_g_tau():
    with pytest.warns(UserWarning, match="g_tau"):
        HarvestScheme(pair_state_from_bath(1.0), 0.3).second_order_steady_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HarvestScheme(pair_state_from_bath(1.0), 0.29).second_order_steady_state()


# --------------------------------------------------------------------------- heat current
def test_heat_current_definitions():
    h = HarvestScheme(pair_state_from_bath(1.0), 0.5, rate=2.0, omega0=1.3)
    assert h.heat_current() == pytest.approx(0, abs=1e-14)          # steady state: no net flow
    g = np.diag([1.0, 0.0])
    J = h.heat_current(g)
    assert J > 0 and J == pytest.approx(h.model.collision_energy_current(g), abs=1e-14)
    times = np.linspace(0, 3, 301)
    Jt = h.heat_current_transient(g, times)
    energy = np.einsum("ij,tji->t", h.H_q, h.mesolve(g, times)).real
    assert np.allclose(np.gradient(energy, times)[5:-5], Jt[5:-5], atol=2e-4)


# --------------------------------------------------------------------------- shot by shot
@pytest.mark.parametrize("method", ["pure", "density"])
@pytest.mark.parametrize("which", ["collective", "random"])
def test_shot_by_shot_matches_exact_dynamics_and_heat(method, which):
    pair = pair_state_from_bath(1.0) if which == "collective" else _random_pair(4)
    h = HarvestScheme(pair, 0.5, rate=1.0, omega0=1.0)
    times = np.array([0.0, 1.0, 2.5, 5.0, 80.0])
    res = h.simulate(op.basis(2, 0), times, ntraj=4000, seed=7, method=method, progress=False)
    exact = h.mesolve(op.basis(2, 0), times)
    assert_consistent(res.mean, res.stderr, exact, name="rho", atol=ATOL)
    assert np.allclose(exact[-1], h.steady_state(), atol=1e-9)      # relaxed by t = 80
    assert_consistent(res.mean[-1], res.stderr[-1], h.steady_state(), name="rho_ss", atol=ATOL)
    if which == "random":  # coherences are resolved, not only populations
        assert abs(res.mean[-1, 0, 1]) > 8 * abs(res.stderr[-1, 0, 1])
    # energy into the qubit from collision records = Tr[H_q (rho(t) - rho(0))]
    dE = np.einsum("ij,tji->t", h.H_q, exact).real - np.trace(h.H_q @ exact[0]).real
    assert_consistent(res["collision_energy_cumulative"][1:],
                      res["collision_energy_cumulative_stderr"][1:], dE[1:], name="energy",
                      atol=ATOL)
    assert_consistent(res["heat_current_collisions"], res["heat_current_collisions_stderr"],
                      dE[-1] / 80, name="heat_current", atol=ATOL)
    assert res.meta["two_point_energy"] is (which == "collective" and method == "pure")


def test_shot_by_shot_confirms_exact_map_and_rejects_second_order():
    """lam != 0 at g_tau = 0.2: the relaxed shot-by-shot coherence agrees with the exact fixed
    point and is many standard errors away from the second-order (paper) steady state."""
    h = HarvestScheme(_random_pair(3), 0.2)
    T = 400.0
    assert np.allclose(h.mesolve(op.basis(2, 0), [0.0, T])[-1], h.steady_state(), atol=1e-6)
    res = h.simulate(op.basis(2, 0), [0.0, T], ntraj=16000, seed=5, progress=False)
    assert_consistent(res.mean[-1], res.stderr[-1], h.steady_state(), name="rho_ss")
    assert_inconsistent(res.mean[-1], res.stderr[-1], h.second_order_steady_state(),
                        name="rho_ss vs second order")                   # |z| ~ 10 expected


def test_harvested_temperature_coherent_vs_dephased_shot_by_shot():
    """nbar = 1: the coherent pairs heat the qubit to T = 1/ln 2 = 1.443, the dephased ones only
    to 1/ln 2.5 = 1.091 (omega0 = 1); shot-by-shot estimates separate them by many SE."""
    est = {}
    for name, pair in (("coherent", pair_state_from_bath(1.0)),
                       ("dephased", dephased(pair_state_from_bath(1.0)))):
        h = HarvestScheme(pair, 0.5)
        res = h.simulate(op.basis(2, 0), [0.0, 25.0], ntraj=40000, seed=11, progress=False)
        T, se = temperature_estimate(res.mean[-1, 1, 1].real, res.stderr[-1, 1, 1].real)
        assert_consistent(T, se, h.effective_temperature(), name=f"T_{name}")
        est[name] = (T, se)
    assert est["coherent"][0] - est["dephased"][0] > 8 * np.hypot(est["coherent"][1],
                                                                est["dephased"][1])


def test_time_average_of_one_long_run():
    h = HarvestScheme(pair_state_from_bath(1.0), 0.5)
    res = h.simulate_time_average(op.basis(2, 0), t_total=4000.0, burn_in=20.0, seed=3)
    dof = res["batch_means"].shape[0] - 1         # error bars from batch means
    assert_consistent(res.mean[0], res.stderr[0], h.steady_state(), name="rho", dof=dof)
    # no net heat in the steady state
    assert_consistent(res["heat_current_collisions"], res["heat_current_collisions_stderr"], 0.0,
                      name="heat_current", dof=dof)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw, msg", [
    (dict(pair_state=np.eye(2) / 2), "pair_state has dimension 2"),
    (dict(pair_state=np.diag([0.5, 0.5, 0.5, -0.5])), "pair_state is not positive"),
    (dict(g_tau=0.0), "g_tau must be positive"),
    (dict(rate=-1.0), "rate must be positive"),
    (dict(omega0=0.0), "omega0 must be positive"),
])
def test_invalid_input(kw, msg):
    args = dict(pair_state=pair_state_from_bath(1.0), g_tau=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=msg):
        HarvestScheme(**args)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pure", "density"])
def test_slow_high_statistics_transient_and_heat(method):
    """400k trajectories: agreement with the exact averaged dynamics at the 1e-3 level."""
    h = HarvestScheme(_random_pair(8), 0.7, rate=1.3, omega0=2.0)
    times = np.linspace(0, 4, 9)
    res = h.simulate(op.basis(2, 1), times, ntraj=400_000, seed=21, method=method, n_jobs=2,
                     progress=False)
    exact = h.mesolve(op.basis(2, 1), times)
    assert_consistent(res.mean, res.stderr, exact, name="rho", atol=ATOL)
    dE = np.einsum("ij,tji->t", h.H_q, exact).real - np.trace(h.H_q @ exact[0]).real
    assert_consistent(res["collision_energy_cumulative"][1:],
                      res["collision_energy_cumulative_stderr"][1:], dE[1:], name="energy",
                      atol=ATOL)
