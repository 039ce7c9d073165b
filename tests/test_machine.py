"""Coherence machine fed by a Poisson stream of atoms (Manzano, Silva & Parrondo 2019):
exact vs second-order generators, thermodynamic identities, arrays (Eq. 16), and the
shot-by-shot kernel vs the deterministic model within standard errors."""

import numpy as np
import pytest
import scipy.linalg as sla

import qtraj as qt
from qtraj.models.machine import (FIG2, FIG4_CONFIGS, Machine, array_trajectory, atom_state,
                                  bloch_xz_state, coherence, coherence_gradient,
                                  coherence_rate_map)
from helpers import assert_consistent, random_state

SOUTH, NORTH = atom_state(0.75), atom_state(0.25)
SWAP = np.eye(4)[[0, 2, 1, 3]]                  # |i1 i2> -> |i2 i1>
X = np.array([[0, 1], [1, 0]], dtype=complex)


def fig2(ratio=0.2, rho_a=SOUTH, **over):
    p = dict(FIG2, beta2=ratio * FIG2["beta1"])
    p.update(over)
    return Machine(**p, rho_a=rho_a)


def _random_atom(seed):
    return random_state(2, seed)


def _consistent(res, key, exact, j=None):
    """res[key] (machine j of an array) agrees with `exact`; the standard errors come from
    res.ntraj independent trajectories (Student's t with ntraj - 1 degrees of freedom)."""
    est, se = (res[key], res[key + "_stderr"]) if j is None else \
        (res[key][j], res[key + "_stderr"][j])
    assert_consistent(est, se, exact, name=key if j is None else f"{key}[{j}]",
                      dof=res.ntraj - 1)


# --------------------------------------------------------------------------- the model
def test_operators_rates_and_unitary():
    m = fig2(gamma0=(0.002, 0.003))
    assert np.allclose(m.s_v, np.outer(np.eye(4)[2], np.eye(4)[1]))    # |10><01|
    assert np.allclose(np.diag(m.H_m).real, [0, m.E2, m.E1, m.E1 + m.E2])
    assert np.allclose(m.U, sla.expm(-1j * m.phi * m.V), atol=1e-15)
    assert np.allclose(m.V @ m.V @ m.V, m.V)
    assert np.allclose(m.V @ (np.kron(m.H_m, np.eye(2)) + np.kron(np.eye(4), m.H_a)),
                       (np.kron(m.H_m, np.eye(2)) + np.kron(np.eye(4), m.H_a)) @ m.V)
    ch = m.lindblad.channels
    assert [c.bath for c in ch] == ["bath1", "bath1", "bath2", "bath2"]
    for k, g in ((0, 0.002), (2, 0.003)):
        assert ch[k].rate - ch[k + 1].rate == pytest.approx(g, rel=1e-12)   # k_down - k_up = gamma0
    assert ch[0].rate / ch[1].rate == pytest.approx(np.exp(m.beta1 * m.E1))
    assert ch[2].rate / ch[3].rate == pytest.approx(np.exp(m.beta2 * m.E2))
    assert m.virtual_beta() == pytest.approx((m.beta2 * m.E2 - m.beta1 * m.E1) / (m.E2 - m.E1))


def test_invalid_parameters():
    with pytest.raises(ValueError, match="E1 < E2"):
        Machine(2.5, 1.5, 1.2, 0.24, 0.0025, 2.0, 0.02, SOUTH)
    with pytest.raises(ValueError, match="gamma0"):
        Machine(1.5, 2.5, 1.2, 0.24, (0.1, 0.2, 0.3), 2.0, 0.02, SOUTH)
    with pytest.raises(ValueError):
        Machine(1.5, 2.5, 1.2, 0.24, 0.0025, 2.0, 0.02, np.array([[0.5, 0.6], [0.6, 0.5]]))
    with pytest.raises(ValueError, match="missing"):
        array_trajectory(SOUTH, 3, E1=1.5)


def test_exact_generator_is_the_collision_model():
    m = fig2(rho_a=_random_atom(1))
    cm = m.collision_model
    rho = _random_atom(2)
    pm = np.kron(rho, _random_atom(3))
    direct = np.einsum("iaja->ij", (m.U @ np.kron(pm, m.rho_a) @ m.U.conj().T)
                       .reshape(4, 2, 4, 2))
    assert np.allclose(cm.collision_map(pm), direct, atol=1e-15)
    assert np.allclose(m.generator(), cm.liouvillian())
    pi = m.steady_state()
    assert np.allclose(m.output_state(), cm.ancilla_output(pi), atol=1e-14)
    # the cancellation-free kick equals A(rho_a) - rho_a
    assert np.allclose(m.output_kick(), cm.ancilla_output(pi) - m.rho_a, atol=1e-15)


# --------------------------------------------------------------------------- thermodynamics
@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.6, 1.0])
@pytest.mark.parametrize("state", ["south", "north", "random"])
def test_first_law_and_eq_C6(exact, ratio, state):
    rho = {"south": SOUTH, "north": NORTH, "random": _random_atom(7)}[state]
    m = fig2(ratio, rho, gamma0=(0.0025, 0.004))
    f = m.flows(exact)
    assert abs(f["E_a"] - f["Q1"] - f["Q2"]) < 1e-12
    x = f["E_a"] / (m.E2 - m.E1)
    assert abs(x - f["Q2"] / m.E2) < 1e-12 and abs(x + f["Q1"] / m.E1) < 1e-12
    assert abs(f["E_a"]) > 1e-9                        # not trivially zero
    # entropy production = bound - rate (Eq. 6 rewritten with Eq. 8)
    s = m.entropy_production(exact)
    assert abs(s - (m.coherence_rate_bound(exact) - m.coherence_rate(exact))) < 1e-12


def test_paper_eq_C4_C5_equal_second_order_flows():
    for rho in (SOUTH, NORTH, _random_atom(4)):
        m = fig2(0.3, rho)
        f, p = m.flows(exact=False), m.paper_flows()
        for k in ("E_a", "Q1", "Q2"):
            assert p[k] == pytest.approx(f[k], rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("exact", [True, False])
def test_mirror_states_at_ratio_0_6(exact):
    s, n = fig2(0.6, SOUTH), fig2(0.6, NORTH)
    assert s.beta2 * s.E2 == pytest.approx(s.beta1 * s.E1)      # beta_v = 0
    assert np.allclose(X @ SOUTH @ X, NORTH)
    ps, pn = s.steady_state(exact), n.steady_state(exact)
    assert np.allclose(SWAP @ ps @ SWAP, pn, atol=1e-12)
    assert not np.allclose(ps, pn, atol=1e-4)                    # a real mirror, not equality
    assert np.allclose(X @ s.output_state(exact) @ X, n.output_state(exact), atol=1e-13)
    assert n.coherence_rate(exact) == pytest.approx(s.coherence_rate(exact), rel=1e-9)


def test_exact_and_second_order_agree_to_order_phi2():
    # generators at the Fig. 2 point: relative difference O(phi^2), halving phi divides it by 4
    gaps = []
    for phi in (0.04, 0.02, 0.01):
        m = fig2(phi=phi)
        L0 = m.lindblad.liouvillian()
        Le, L2 = m.generator(True), m.generator(False)
        gaps.append(np.linalg.norm(Le - L2) / np.linalg.norm(Le - L0))
        assert gaps[-1] < phi ** 2
    assert gaps[0] / gaps[1] == pytest.approx(4, rel=0.02)
    assert gaps[1] / gaps[2] == pytest.approx(4, rel=0.02)
    # steady state, output kick and Cdot_a, at fixed coherent drive r phi (so that only the
    # expansion order changes): relative differences shrink by 4 per halving
    rel = []
    phis = np.array([0.01, 0.005, 0.0025])
    for phi in phis:
        m = fig2(phi=phi, rate=0.04 / phi)
        rel.append([np.linalg.norm(m.steady_state(True) - m.steady_state(False))
                    / np.linalg.norm(m.steady_state(True)),
                    np.linalg.norm(m.output_kick(True) - m.output_kick(False))
                    / np.linalg.norm(m.output_kick(True)),
                    abs(m.coherence_rate(True) / m.coherence_rate(False) - 1)])
    rel = np.array(rel)
    ratios = rel[:-1] / rel[1:]
    assert np.all((ratios > 3.5) & (ratios < 4.6)), ratios
    assert np.all(rel < phis[:, None] ** 2)


def test_sign_of_coherence_rate_and_second_law():
    assert fig2(0.2, SOUTH).coherence_rate() > 0
    assert fig2(1.0, SOUTH).coherence_rate() < 0
    assert fig2(0.2, NORTH).coherence_rate() < 0 < fig2(1.0, NORTH).coherence_rate()
    for ratio in np.linspace(0.05, 1.0, 20):
        for rho in (SOUTH, NORTH, _random_atom(int(ratio * 100))):
            for exact in (True, False):
                m = fig2(ratio, rho)
                c, cmax = m.coherence_rate(exact), m.coherence_rate_bound(exact)
                assert c <= cmax + 1e-15
                assert m.entropy_production(exact) >= 0


def test_virtual_gibbs_is_the_fixed_point():
    for name, cfg in FIG4_CONFIGS.items():
        g = Machine(**cfg, rho_a=np.eye(2) / 2).virtual_gibbs()
        m = Machine(**cfg, rho_a=g)
        for exact in (True, False):
            assert np.allclose(m.output_kick(exact), 0, atol=1e-15)
            pi = m.steady_state(exact)
            thermal = np.kron(np.diag([m.n1 + 1, m.n1]) / (2 * m.n1 + 1),
                              np.diag([m.n2 + 1, m.n2]) / (2 * m.n2 + 1))
            assert np.allclose(pi, thermal, atol=1e-12)


def test_coherence_gradient():
    rho = _random_atom(5)
    g = coherence_gradient(rho)
    h = 1e-6
    for k, d in enumerate([np.diag([1.0, -1.0]), np.array([[0, 1], [1, 0]]),
                           np.array([[0, 1j], [-1j, 0]])]):
        num = (coherence(rho + h * d) - coherence(rho - h * d)) / (2 * h)
        assert g[k] == pytest.approx(num, rel=1e-6, abs=1e-9)


# --------------------------------------------------------------------------- arrays (Eq. 16)
def test_array_trajectory_equals_concatenated_machine_maps():
    m = fig2(0.1, SOUTH)
    for exact in (True, False):
        traj, pis = array_trajectory(SOUTH, 3, exact=exact, return_machines=True,
                                     **m.parameters)
        rho = SOUTH
        for i in range(3):
            mi = m.with_atom(rho)
            assert np.allclose(pis[i], mi.steady_state(exact), atol=1e-12)
            rho = mi.output_state(exact)
            assert np.allclose(traj[i], rho, atol=1e-14)
    states = [SOUTH, NORTH, bloch_xz_state(0.3, 0.1)]
    assert np.allclose(coherence_rate_map(states, **m.parameters),
                       [m.with_atom(s).coherence_rate() for s in states], rtol=1e-9)


def test_array_converges_to_virtual_gibbs_state():
    starts = [SOUTH, bloch_xz_state(0.9, 0.1), bloch_xz_state(0.0, -0.6)]
    for name, cfg in FIG4_CONFIGS.items():
        g = Machine(**cfg, rho_a=np.eye(2) / 2).virtual_gibbs()
        for rho0 in starts:
            traj = array_trajectory(rho0, 50000, **cfg)
            assert np.abs(traj[-1] - g).max() < 3e-4, (name, np.abs(traj[-1] - g).max())
            assert np.abs(traj[-1] - g).max() < 0.05 * np.abs(rho0 - g).max()


def test_array_transient_coherence_growth():
    cfg = FIG4_CONFIGS["a"]
    traj = array_trajectory(SOUTH, 30000, **cfg)
    C = np.array([coherence(r) for r in traj[::100]])
    c0 = coherence(SOUTH)
    k = int(np.argmax(C))
    assert C[k] > 1.5 * c0 and 0 < k < len(C) - 1       # grows well above the input ...
    assert C[-1] < 0.05 * c0                              # ... then collapses
    assert np.all(np.diff(C[k:]) <= 1e-12)
    # no coherence from an incoherent input
    inc = array_trajectory(bloch_xz_state(0.0, -0.5), 2000, **cfg)
    assert np.abs(inc[:, 0, 1]).max() == 0


# --------------------------------------------------------------------------- shot by shot
@pytest.fixture(scope="module")
def shots():
    m = fig2(0.2, SOUTH)
    return m, m.simulate(4_000_000, seed=11)


def test_shot_by_shot_machine_state_and_coherence_rate(shots):
    m, res = shots
    assert res.meta["collisions_recorded"] == 4_000_000
    _consistent(res, "pi_m", m.steady_state())
    _consistent(res, "output_kick", m.output_kick())
    c, se = res["coherence_rate"] / m.phi ** 2, res["coherence_rate_stderr"] / m.phi ** 2
    assert_consistent([c, res["collision_rate"]], [se, res["collision_rate_stderr"]],
                      [m.coherence_rate() / m.phi ** 2, m.rate], dof=res.ntraj - 1,
                      name="[coherence rate / phi^2, collision rate]")
    assert se < 0.1 * abs(c)
    # the control variate: the plain mean of rho_out is far noisier
    assert res["coherence_rate_naive_stderr"] > 5 * res["coherence_rate_stderr"]


def test_shot_by_shot_heat_from_jumps(shots):
    m, res = shots
    f = m.flows()
    keys = ["E_a", "Q1", "Q2", "Q1_state", "Q2_state"]
    assert_consistent([res[k] for k in keys], [res[k + "_stderr"] for k in keys],
                      [f[k.split("_state")[0]] for k in keys], dof=res.ntraj - 1,
                      name=", ".join(keys))
    for k in ("E_a", "Q1", "Q2"):
        assert res[k + "_stderr"] < 0.25 * abs(f[k])


def test_shot_by_shot_reproducible_and_saved(tmp_path):
    m = fig2(0.2, SOUTH)
    a = m.simulate(200_000, seed=3, ntraj=4, burn_in=500)
    b = m.simulate(200_000, seed=3, ntraj=4, burn_in=500, n_jobs=2, backend="threading")
    for k in a.keys():
        assert np.array_equal(a[k], b[k]), k
    path = a.save(tmp_path / "m.npz")
    c = qt.load(path)
    for k in ("pi_m", "coherence_rate", "coherence_rate_stderr", "Q1", "Q2_stderr"):
        assert np.array_equal(c[k], a[k])
    assert c.meta["collisions_recorded"] == 200_000
    # checkpointed run, then "resumed" from its finished checkpoint: the same numbers
    d = m.simulate(200_000, seed=3, ntraj=4, burn_in=500, out=tmp_path / "run")
    e = m.simulate(200_000, seed=3, ntraj=4, burn_in=500, out=tmp_path / "run", resume=True)
    assert np.array_equal(d["coherence_rate"], a["coherence_rate"])
    assert np.array_equal(e["pi_m"], a["pi_m"])
    assert qt.load(tmp_path / "run")["Q1"] == a["Q1"]


def test_shot_by_shot_without_atoms_is_the_bath_gibbs_state():
    m = fig2(0.5, SOUTH, phi=0.0)
    res = m.simulate(400_000, seed=4, ntraj=8, burn_in=2000)
    thermal = np.kron(np.diag([m.n1 + 1, m.n1]) / (2 * m.n1 + 1),
                      np.diag([m.n2 + 1, m.n2]) / (2 * m.n2 + 1))
    _consistent(res, "pi_m", thermal)
    assert np.allclose(res["output_kick"], 0, atol=1e-12)
    assert_consistent([res["Q1"], res["Q2"]], [res["Q1_stderr"], res["Q2_stderr"]], [0, 0],
                      dof=res.ntraj - 1, name="[Q1, Q2] without atoms")


def test_shot_by_shot_array_matches_concatenated_maps():
    m = fig2(0.2, SOUTH)
    traj, pis = array_trajectory(SOUTH, 3, return_machines=True, **m.parameters)
    res = m.simulate_array(3, 1_500_000, seed=21)
    assert res["output_state"].shape == (3, 2, 2)
    for j in range(3):
        _consistent(res, "output_state", traj[j], j)
        _consistent(res, "pi_m", pis[j], j)
    C = [coherence(r) for r in traj]
    assert_consistent(res["coherence"], res["coherence_stderr"], C, dof=res.ntraj - 1,
                      name="coherence along the line")


def test_schmidt_unravelling_of_a_single_machine():
    m = fig2(0.2, SOUTH)
    res = m.simulate(1_000_000, seed=5, measure="schmidt")
    _consistent(res, "pi_m", m.steady_state())
    _consistent(res, "output_kick", m.output_kick())


# --------------------------------------------------------------------------- slow
@pytest.mark.slow
@pytest.mark.parametrize("ratio,rho", [(1.0, SOUTH), (0.2, NORTH), (1.0, NORTH), (0.6, SOUTH)])
def test_shot_by_shot_other_points(ratio, rho):
    m = fig2(ratio, rho)
    res = m.simulate(12_000_000, seed=31, n_jobs=2)
    _consistent(res, "pi_m", m.steady_state())
    f = dict(m.flows(), coherence_rate=m.coherence_rate())
    keys = ["coherence_rate", "E_a", "Q1", "Q2"]
    assert_consistent([res[k] for k in keys], [res[k + "_stderr"] for k in keys],
                      [f[k] for k in keys], dof=res.ntraj - 1, name=", ".join(keys))


@pytest.mark.slow
def test_shot_by_shot_one_percent_coherence_rate():
    m = fig2(0.2, SOUTH)
    res = m.simulate(400_000_000, seed=41, n_jobs=2, target_rel_stderr=0.01, timeout=600)
    assert res.meta["target_reached"]
    _consistent(res, "coherence_rate", m.coherence_rate())


@pytest.mark.slow
def test_shot_by_shot_longer_array():
    m = fig2(0.1, bloch_xz_state(0.8, -0.2))
    traj = array_trajectory(m.rho_a, 5, **m.parameters)
    res = m.simulate_array(5, 6_000_000, seed=51, n_jobs=2)
    for j in range(5):
        _consistent(res, "output_state", traj[j], j)


def test_simulate_machine_entry_point_is_the_method_and_reproducible():
    from qtraj.models import machine
    m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    a = machine.simulate_machine(m, 100000, seed=3, ntraj=4)
    b = m.simulate(100000, seed=3, ntraj=4, n_jobs=2, backend="threading")
    assert np.array_equal(a["pi_m"], b["pi_m"])
    assert np.array_equal(a["output_kick"], b["output_kick"])
    assert machine.default_burn_in(m) > 0
    with pytest.raises(ValueError, match="target_stderr"):
        m.simulate(100000, ntraj=4, target_stderr=-0.1)


# --------------------------------------------------------------------------- reductions
def test_block_reductions_do_not_grow_with_ntraj():
    from qtraj.ensemble import RunOptions, run
    from qtraj.models.machine import make_job
    m = fig2(0.2, SOUTH)
    for n_machines in (1, 3):
        job, _ = make_job(m, 2000, 100, seed=1, n_machines=n_machines)
        sizes = set()
        for ntraj in (2, 5, 11):
            blk = job.run_block(0, ntraj)
            total = run(job, RunOptions(ntraj=ntraj, progress=False),
                        to_result=lambda tot, info: tot)
            assert int(total["n"]) == ntraj
            sizes.add(sum(np.asarray(v).nbytes for v in blk.values()))
            sizes.add(sum(np.asarray(v).nbytes for v in total.values()))
        assert sizes == {job.block_bytes}, (n_machines, sizes, job.block_bytes)


def test_same_numbers_for_any_n_jobs_and_batch_size():
    m = fig2(0.2, SOUTH)
    kw = dict(seed=8, ntraj=7, burn_in=200)
    ref = m.simulate_array(2, 70_000, **kw)
    for n_jobs, batch in ((1, 3), (2, 1), (2, 4), (2, None)):
        r = m.simulate_array(2, 70_000, n_jobs=n_jobs, batch_size=batch, backend="threading",
                             **kw)
        for k in ref.keys():
            assert np.array_equal(ref[k], r[k]), (n_jobs, batch, k)
    # the stopping rule too: it sees the same running sums after every block
    kw = dict(seed=9, ntraj=400, burn_in=100, target_rel_stderr=0.3)
    a = m.simulate(400 * 5000, **kw)
    b = m.simulate(400 * 5000, n_jobs=2, batch_size=5, backend="threading", **kw)
    assert a.meta["stop_reason"] == "target_rel_stderr" and 8 <= a.ntraj < 400
    assert a.ntraj == b.ntraj and np.array_equal(a["coherence_rate"], b["coherence_rate"])


def test_estimates_from_sums_equal_per_trajectory_formulas():
    # the reduced sums give what the plain per-trajectory formulas give (means, sample standard
    # errors, delta method, ratio estimators), here for a line of two machines
    from qtraj.models.machine import coherence_gradient, estimates, make_job
    from qtraj.models.machine.kernel import CUM_BEFORE, JUMPS, KICK, PI, TIME
    m = fig2(0.2, SOUTH)
    n = 24
    job, _ = make_job(m, 3000, 300, seed=5, n_machines=2)
    y = job.per_trajectory(0, n)                                  # (n, 2, p)
    total = None
    for i in range(n):
        b = job.run_block(i, i + 1)
        total = b if total is None else {k: total[k] + b[k] for k in b}
    rec = estimates(m, total, job.centre, 2)

    def mse(x):
        return x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(n)
    pm, pse = mse(y[:, :, PI])
    assert np.allclose(rec["pi_m"].real.reshape(2, 16), pm[:, :16], rtol=1e-12, atol=1e-15)
    assert np.allclose(rec["pi_m_stderr"].imag.reshape(2, 16), pse[:, 16:], rtol=1e-9, atol=1e-15)
    cum = y[:, :, KICK] + y[:, :, CUM_BEFORE]                    # kick after machine j
    assert np.allclose(cum[:, 1], y[:, :, KICK].sum(axis=1), rtol=1e-13, atol=1e-18)
    km, kse = mse(cum)
    assert np.allclose(rec["output_state"][:, 0, 1].imag, SOUTH[0, 1].imag + km[:, 2],
                       rtol=1e-12, atol=1e-18)
    assert np.allclose(rec["output_state_stderr"][:, 0, 0].real, kse[:, 0], rtol=1e-9)
    lin = np.empty((n, 2))
    for j in range(2):
        rho = SOUTH + np.array([[km[j, 0], km[j, 1] + 1j * km[j, 2]],
                                [km[j, 1] - 1j * km[j, 2], -km[j, 0]]])
        assert rec["coherence"][j] == pytest.approx(coherence(rho), rel=1e-12)
        lin[:, j] = cum[:, j] @ coherence_gradient(rho)
    assert np.allclose(rec["coherence_stderr"], mse(lin)[1], rtol=1e-9)
    dlin = np.diff(np.concatenate([np.zeros((n, 1)), lin], axis=1), axis=1)
    assert np.allclose(rec["coherence_rate_stderr"], m.rate * mse(dlin)[1], rtol=1e-9)
    T = y[:, 0, TIME]
    assert rec["recorded_time"] == pytest.approx(T.sum(), rel=1e-14)
    jumps = y[:, :, JUMPS]                                        # (n, 2, K)
    q = jumps.sum(axis=0) / T.sum()
    res = jumps - q * T[:, None, None]
    se = np.sqrt((res ** 2).sum(axis=0) / (n * (n - 1))) / T.mean()
    assert np.allclose(rec["jump_rate"], q, rtol=1e-13)
    assert np.allclose(rec["jump_rate_stderr"], se, rtol=1e-9)


def test_result_has_no_time_axis_and_records_the_recorded_time(tmp_path):
    m = fig2(0.2, SOUTH)
    res = m.simulate(100_000, seed=2, ntraj=4, burn_in=100)
    assert res.times is None and res.mean is None
    assert res["recorded_time"] == res.meta["recorded_time"]
    # the total recorded time is about collisions / rate (Poisson arrivals)
    n = res.meta["collisions_recorded"]
    assert_consistent(res["recorded_time"], np.sqrt(n) / m.rate, n / m.rate,
                      name="recorded time (n Poisson arrivals)")
    c = qt.load(res.save(tmp_path / "m.npz"))
    assert c.times is None and c["recorded_time"] == res["recorded_time"]
    # the command line handles the missing time axis (summary and plot)
    from qtraj import cli
    out = tmp_path / "run"
    assert cli.main(["run", "machine", "--ntraj", "4", "--set", "n_collisions=100000", "--out",
                     str(out), "--json"]) == 0
    assert cli.main(["plot", str(out)]) == 0
    assert (out / "plot.png").exists()
