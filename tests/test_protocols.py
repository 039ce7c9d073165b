"""Piecewise-constant protocols: cycle map, periodic state, energetics, jump kernel."""

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.protocols import Protocol
from helpers import assert_consistent, random_lindblad


def thermal_qubit(w=1.0, gamma=0.7, nbar=0.4, bath="b"):
    return qt.Lindblad(0.5 * w * op.sigma_z(),
                       [qt.Channel(op.sigma_minus(), gamma * (nbar + 1), bath),
                        qt.Channel(op.sigma_plus(), gamma * nbar, bath)])


def driven_protocol():
    """Three segments: driven decay (jump op no eigenoperator of H), thermal bath, unitary kick."""
    A = qt.Lindblad(0.5 * op.sigma_z() + 0.6 * op.sigma_x(),
                    [qt.Channel(op.sigma_minus(), 0.8, "a")])
    B = thermal_qubit(1.6, 0.5, 0.3, "b")
    C = qt.Lindblad(0.3 * op.sigma_x() + 0.2 * op.sigma_y(), [])
    return Protocol([(1.0, A, "A"), (0.7, B, "B"), (0.3, C, "C")])


def test_single_segment_reduces_to_the_time_independent_model():
    L = thermal_qubit()
    P = Protocol([(1.3, L)])
    assert np.allclose(P.periodic_state(), qt.steady_state(L), atol=1e-12)
    rho0 = op.ket2dm((op.basis(2, 0) + 1j * op.basis(2, 1)) / np.sqrt(2))
    t = np.array([0.0, 0.4, 1.3, 2.0, 3.9])
    assert np.allclose(P.mesolve(rho0, t), qt.mesolve(L, rho0, t), atol=1e-12)


def test_piecewise_mesolve_and_cycle_map():
    P = driven_protocol()
    segs = P.segments
    rho0 = op.ket2dm(op.basis(2, 1))
    # by hand: segment after segment with qt.mesolve of each model
    r = rho0
    for s in segs:
        r = qt.mesolve(s.model, r, [0, s.duration])[-1]
    assert np.allclose(P.mesolve(rho0, [0.0, P.period])[-1], r, atol=1e-12)
    assert np.allclose(qt.unvec(P.cycle_map() @ qt.vec(rho0)), r, atol=1e-12)
    # a time inside the second cycle's segment B
    t = P.period + 1.0 + 0.25
    r2 = qt.mesolve(segs[0].model, r, [0, 1.0])[-1]
    r2 = qt.mesolve(segs[1].model, r2, [0, 0.25])[-1]
    assert np.allclose(P.mesolve(rho0, [0.0, t])[-1], r2, atol=1e-12)
    # periodic state: fixed point, reached from anywhere
    ps = P.periodic_state()
    assert np.allclose(qt.unvec(P.cycle_map() @ qt.vec(ps)), ps, atol=1e-12)
    assert np.allclose(P.mesolve(rho0, [0, 40 * P.period])[-1], ps, atol=1e-8)


def test_energetics_first_law():
    P = driven_protocol()
    E = P.energetics()
    assert abs(E["heat_per_cycle"].sum() + E["work_per_cycle"]) < 1e-12   # limit cycle: dE = 0
    rho0 = op.ket2dm(op.basis(2, 1))
    E3 = P.energetics(rho0, n_cycles=3)
    H0 = P.segments[0].model.H
    dE = np.trace(H0 @ E3["states"][-1]).real - np.trace(H0 @ rho0).real
    assert E3["heat"].sum() + E3["work"].sum() == pytest.approx(dE, abs=1e-12)
    assert np.allclose(E3["states"][-1], P.mesolve(rho0, [0, 3 * P.period])[-1], atol=1e-12)
    assert P.baths == ["a", "b"] and np.all(E3["heat"][:, 2] == 0)


def test_no_jump_is_lost_or_invented_at_boundaries():
    """Splitting a segment in two (same model) or running mcsolve gives the same jumps: the
    threshold carried over a boundary as r/n(T) is an exact rewrite."""
    L = qt.Lindblad(0.5 * op.sigma_z() + 0.4 * op.sigma_x(),
                    [qt.Channel(op.sigma_minus(), 1.1, "h"), qt.Channel(op.sigma_plus(), 0.3, "h")])
    psi0 = op.basis(2, 1)
    one = Protocol([(2.0, L)]).simulate(1, 300, state0=psi0, seed=4, keep_jumps=True,
                                        heat="expected", progress=False)
    split = Protocol([(0.7, L), (0.5, L), (0.0, L), (0.8, L)]).simulate(
        1, 300, state0=psi0, seed=4, keep_jumps=True, heat="expected", progress=False)
    mc = qt.mcsolve(L, psi0, [0, 2.0], 300, seed=4, keep_jumps=True, heat="expected",
                    progress=False)
    assert len(one["jump_time"]) > 300
    for other in (split, mc):
        assert np.array_equal(one["jump_traj"], other["jump_traj"])
        assert np.array_equal(one["jump_channel"] % 2, other["jump_channel"] % 2)
        assert np.allclose(one["jump_time"], other["jump_time"], rtol=0, atol=1e-11)
    assert np.allclose(one["heat_per_cycle"], mc["heat"], atol=1e-10)
    assert np.allclose(split["heat_segment"][0].sum(axis=0), one["heat_per_cycle"], atol=1e-10)


def test_shot_by_shot_agrees_with_piecewise_mesolve():
    P = driven_protocol()
    rho0 = op.ket2dm(op.basis(2, 1))                 # a transient: not the periodic state
    res = P.simulate(3, 4000, state0=rho0, seed=7, heat="expected", progress=False)
    ex = P.energetics(rho0, n_cycles=3)
    assert np.allclose(res.times, P.boundary_times(3))
    assert_consistent(res.mean, res.stderr, ex["states"], name="rho")
    assert_consistent(res["heat_segment"], res["heat_segment_stderr"], ex["heat"], name="heat")
    assert_consistent(res["work_segment"], res["work_segment_stderr"], ex["work"], name="work")
    assert_consistent(res["heat_cycle"], res["heat_cycle_stderr"], ex["heat_cycle"],
                      name="heat_cycle")
    assert_consistent(res["heat_per_cycle"], res["heat_per_cycle_stderr"],
                      ex["heat_per_cycle"], name="heat_per_cycle")
    cum = np.concatenate([np.zeros((1, 2)), np.cumsum(ex["heat"].reshape(-1, 2), axis=0)]).T
    assert_consistent(res["heat_cumulative"], res["heat_cumulative_stderr"], cum,
                      name="heat_cumulative")
    # the covariance of the per-cycle estimates: its diagonal is their squared standard error
    se = np.concatenate([res["heat_per_cycle_stderr"], [res["work_per_cycle_stderr"]]])
    assert np.allclose(np.diag(res["cycle_cov"]), se ** 2, rtol=1e-8)
    # transition energies are undefined for bath "a" (sigma^- is no eigenoperator of H_A)
    tr = P.simulate(1, 64, state0=rho0, seed=7, progress=False)
    assert np.isnan(tr["heat_per_cycle"][0]) and np.isfinite(tr["heat_per_cycle"][1])


def test_reproducible_for_any_n_jobs_and_batch_size():
    P = driven_protocol()
    kw = dict(state0=op.basis(2, 0), seed=11, heat="expected", progress=False)
    a = P.simulate(2, 300, **kw)
    b = P.simulate(2, 300, n_jobs=2, backend="threading", batch_size=64, **kw)
    for k in ("heat_segment", "work_cumulative", "cycle_cov"):
        assert np.array_equal(a[k], b[k])
    assert np.array_equal(a.mean, b.mean)


def test_bad_protocols_are_refused():
    L = thermal_qubit()
    with pytest.raises(ValueError):
        Protocol([])
    with pytest.raises(ValueError):
        Protocol([(-1.0, L)])
    with pytest.raises(ValueError):
        Protocol([(0.0, L)])
    with pytest.raises(ValueError):
        Protocol([(1.0, L), (1.0, qt.Lindblad(np.eye(3), []))])
    with pytest.raises(ValueError, match="heat"):
        Protocol([(1.0, L)]).simulate(1, 4, heat="nope")


def test_mcsolve_expected_heat_is_unbiased_for_any_channel():
    """heat="expected" (state-dependent per-jump estimator): for a random model whose jump
    operators are no eigenoperators of H, the jump-counted heat of each bath matches the
    integral of Tr[H D_b(rho(t))]; heat="transition" reports NaN there."""
    L = random_lindblad(d=3, n_channels=3, seed=5)
    psi0 = op.basis(3, 0)
    times = np.linspace(0, 1.5, 4)
    res = qt.mcsolve(L, psi0, times, 6000, seed=2, heat="expected", store_states=False,
                     progress=False)
    fine = np.linspace(0, 1.5, 3001)
    J = np.array([[qt.heat_currents(L, r)[b] for b in res.meta["baths"]]
                  for r in qt.mesolve(L, psi0, fine)])
    cum = np.array([np.trapezoid(J[: 1000 * i + 1], fine[: 1000 * i + 1], axis=0)
                    for i in range(4)]).T
    assert_consistent(res["heat_cumulative"][:, 1:], res["heat_cumulative_stderr"][:, 1:],
                      cum[:, 1:], name="heat_cumulative")
    assert res.meta["heat"] == "expected"
    assert np.all(np.abs(cum[:, -1]) > 5 * res["heat_cumulative_stderr"][:, -1])   # resolved
    tr = qt.mcsolve(L, psi0, times, 64, seed=2, store_states=False, progress=False)
    assert np.all(np.isnan(tr["heat"]))
