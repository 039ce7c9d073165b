"""Two-level Otto refrigerator with finite-time isochores (qtraj.models.otto)."""

import numpy as np
import pytest

from qtraj.counting import cycle_heat, exact_heat_distribution, heat_distribution
from qtraj.models.otto import (OttoRefrigerator, eps_ca, eps_plus, optimal_cop,
                               qc_distribution)
from helpers import assert_consistent, assert_frequencies_consistent

FRIDGE = OttoRefrigerator(omega_a=1.0, omega_b=3.5, beta_c=1.0, beta_h=0.4, gamma_c=1.0,
                          gamma_h=0.6, tau_c=0.8, tau_h=1.3, tau_adi=0.5)


def test_analytic_cycle_is_the_periodic_state_of_the_piecewise_mesolve():
    c = FRIDGE.cycle()
    P = FRIDGE.protocol()
    rho = P.periodic_state()
    assert rho[1, 1].real == pytest.approx(c["p_e0"], abs=1e-13)
    E = P.energetics()
    ic, ih = P.baths.index("cold"), P.baths.index("hot")
    assert E["heat_per_cycle"][ic] == pytest.approx(c["Q_c"], abs=1e-13)
    assert E["heat_per_cycle"][ih] == pytest.approx(c["Q_h"], abs=1e-13)
    assert E["work_per_cycle"] == pytest.approx(c["W"], abs=1e-13)
    # heat only on the isochores; work when omega switches (end of each isochore)
    assert np.allclose(E["heat"][0, [1, 3]], 0) and np.allclose(E["work"][0, [1, 3]], 0)
    assert c["Q_c"] > 0 and c["W"] > 0 and c["Q_c"] + c["Q_h"] + c["W"] == pytest.approx(0)
    assert c["cop"] == pytest.approx(c["Q_c"] / c["W"])
    assert c["chi"] == pytest.approx(c["cop"] * c["Q_c"] / (0.8 + 1.3 + 0.5))
    # Eqs. (11)-(12): p(tau_c) from p(0) by relaxation on the cold isochore
    st = E["states"]
    assert st[1][1, 1].real - st[0][1, 1].real == pytest.approx(c["Q_c"] / FRIDGE.omega_a)


def test_optimum_satisfies_eqs_20_to_22():
    opt = FRIDGE.optimize()
    res = opt.optimality_residuals()
    assert max(abs(v) for v in res.values()) < 1e-9
    chi = opt.cycle()["chi"]
    assert chi > FRIDGE.cycle()["chi"]
    for k in ("omega_a", "omega_b", "tau_c", "tau_h"):
        for f in (0.99, 1.01):
            assert opt.replace(**{k: getattr(opt, k) * f}).cycle()["chi"] < chi
    # unequal rates: tau_c != tau_h, and Eq. (20) with 2*gamma (not gamma) is what holds
    assert opt.tau_c != pytest.approx(opt.tau_h)
    wrong = FRIDGE.gamma_c * (np.cosh(FRIDGE.gamma_h * opt.tau_h) - 1) \
        - FRIDGE.gamma_h * (np.cosh(FRIDGE.gamma_c * opt.tau_c) - 1)
    assert abs(wrong) > 1e-3


def test_cop_at_maximum_chi_between_curzon_ahlborn_and_eps_plus():
    grid = np.geomspace(0.1, 10.0, 9)
    cops = np.array([optimal_cop(e) for e in grid])
    assert np.all(cops > eps_ca(grid)) and np.all(cops < eps_plus(grid))
    over = cops / eps_ca(grid) - 1
    assert np.all((over > 0.02) & (over < 0.07))          # "a few percent above eps_CA"
    assert optimal_cop(1.0, gamma=3.0, tau_adi=0.2) == pytest.approx(optimal_cop(1.0), rel=1e-8)


def test_shot_by_shot_cycles_agree_with_analytic_values():
    c = FRIDGE.cycle()
    res = FRIDGE.simulate(10, ntraj=4000, seed=5, progress=False)
    keys = ("Q_c", "Q_h", "W", "cop")
    assert_consistent([res[k] for k in keys], [res[k + "_stderr"] for k in keys],
                      [c[k] for k in keys], name="per cycle (Q_c, Q_h, W, cop)")
    assert_consistent(res["Q_c_cycle"], res["Q_c_cycle_stderr"], c["Q_c"], name="Q_c_cycle")
    assert_consistent(res["W_cycle"], res["W_cycle_stderr"], c["W"], name="W_cycle")
    assert res["cop_stderr"] > 0


def test_per_cycle_qc_distribution_matches_exact():
    n = 12000
    res = FRIDGE.simulate(2, ntraj=n, seed=6, keep_jumps=True, store_states=False,
                          progress=False)
    q = cycle_heat(res, "cold")
    assert q.shape == (n, 2)
    assert q.mean() == pytest.approx(res["Q_c"], abs=1e-12)
    exact = qc_distribution(FRIDGE)
    P = FRIDGE.protocol()
    ve, pe = exact_heat_distribution(P, P.periodic_state(), P.period, "cold")
    for v, p in exact.items():                                  # closed form = tilted generator
        assert pe[np.argmin(np.abs(ve - v))] == pytest.approx(p, abs=1e-12)
    assert pe.sum() == pytest.approx(1.0, abs=1e-12)
    v, p, se = heat_distribution(q[:, 0], unit=FRIDGE.omega_a)  # first cycle: independent shots
    assert set(np.round(v, 9)) <= {-1.0, 0.0, 1.0}
    obs = dict(zip(np.round(v, 9).tolist(), p))
    values = sorted(set(exact) | set(obs))                     # unobserved bins count too
    assert_frequencies_consistent([obs.get(x, 0.0) for x in values], n,
                                  [exact.get(x, 0.0) for x in values], name="P(Q_c)")
