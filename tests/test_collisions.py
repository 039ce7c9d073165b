"""CollisionModel: exact collision map and averaged generator, and both Numba unravellings
checked against the master equation of the same object."""

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import trapezoid

import qtraj as qt
from qtraj import operators as op
from qtraj._kernels.collisions import collide, collide_until
from qtraj.collisions import CollisionModel
from qtraj.rng import stream_state
from helpers import assert_consistent, random_lindblad
from helpers import random_state as _random_state, random_unitary as _random_unitary


def damped_qubit(omega_drive=0.4, rate=1.5, theta=0.8):
    """Driven qubit with its own thermal bath, hit by qubit ancillas carrying coherence
    (partial-swap collisions); the ancilla eigenstates are not energy eigenstates."""
    H = 0.5 * op.sigma_z() + 0.5 * omega_drive * op.sigma_x()
    L0 = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), 0.3 * 1.5, "bath"),
                         qt.Channel(op.sigma_plus(), 0.3 * 0.5, "bath")])
    V = op.kron(op.sigma_plus(), op.sigma_minus()) + op.kron(op.sigma_minus(), op.sigma_plus())
    rho_a = np.array([[0.7, 0.2], [0.2, 0.3]])
    return CollisionModel(L0, rho_a, sla.expm(-1j * theta * V), rate,
                          ancilla_hamiltonian=0.5 * op.sigma_z())


# --------------------------------------------------------------------------- deterministic side
def test_collision_map_kraus_and_liouvillian_match_definitions():
    L0 = random_lindblad(d=3, n_channels=2, seed=3)
    rho_a = _random_state(2, 1)
    U = _random_unitary(6, 2)
    cm = CollisionModel(L0, rho_a, U, 0.7, measure_basis=_random_unitary(2, 5))
    rho = _random_state(3, 4)
    ref = op.partial_trace(U @ np.kron(rho, rho_a) @ U.conj().T, [3, 2], [0])
    assert np.allclose(cm.collision_map(rho), ref, atol=1e-14)
    K = cm.kraus_operators()
    assert np.allclose(np.einsum("kji,kjl->il", K.conj(), K), np.eye(3), atol=1e-13)
    lhs = qt.unvec(cm.liouvillian() @ qt.vec(rho))
    assert np.allclose(lhs, L0.rhs(rho) + 0.7 * (ref - rho), atol=1e-13)
    assert np.allclose(cm.liouvillian(sparse=True).toarray(), cm.liouvillian())
    ss = cm.steady_state()
    assert np.allclose(L0.rhs(ss) + 0.7 * (cm.collision_map(ss) - ss), 0, atol=1e-12)
    assert np.allclose(cm.ancilla_output(rho),
                       op.partial_trace(U @ np.kron(rho, rho_a) @ U.conj().T, [3, 2], [1]))


def test_energy_operator_is_minus_ancilla_energy_change():
    cm = damped_qubit()
    rho = _random_state(2, 9)
    Ha = cm.ancilla_hamiltonian
    change = np.trace(Ha @ (cm.ancilla_output(rho) - cm.ancilla_state)).real
    assert cm.collision_energy_current(rho) == pytest.approx(-cm.rate * change, abs=1e-14)
    # the cumulative mean energy is the time integral of the current along mesolve
    t = np.linspace(0, 2, 2001)
    cur = [cm.collision_energy_current(r) for r in cm.mesolve(op.basis(2, 1), t)]
    E = cm.expected_collision_energy(op.basis(2, 1), [0.0, 2.0])
    assert E[0] == 0 and E[1] == pytest.approx(trapezoid(cur, t), rel=1e-6)


# --------------------------------------------------------------------------- shot by shot
@pytest.mark.parametrize("method", ["pure", "density"])
def test_damped_qubit_shot_by_shot_matches_averaged_generator(method):
    cm = damped_qubit()
    psi0 = op.basis(2, 1)
    times = np.linspace(0, 3, 7)
    res = cm.simulate(psi0, times, ntraj=3000, seed=1, method=method, progress=False)
    assert_consistent(res.mean, res.stderr, cm.mesolve(psi0, times), name="rho")
    # collision energy (change of <H_a>: ancilla states are not energy eigenstates)
    assert res.meta["two_point_energy"] is False
    E = cm.expected_collision_energy(psi0, times)
    assert_consistent(res["collision_energy_cumulative"][1:],
                      res["collision_energy_cumulative_stderr"][1:], E[1:], name="energy")
    assert_consistent(res["heat_current_collisions"], res["heat_current_collisions_stderr"],
                      E[-1] / 3, name="heat_current")
    # Poisson arrivals: mean r T and variance r T
    n = res["collisions"]
    assert_consistent(n, res["collisions_stderr"], 1.5 * 3, name="collisions")
    assert res["collisions_stderr"] ** 2 * 3000 == pytest.approx(1.5 * 3, rel=0.12)
    if method == "pure":  # the system's own bath jumps too
        assert np.all(res["jump_counts"] > 0.1)


def _other_system(kind):
    if kind == "qutrit_with_baths":      # non-normal H_eff, 3 levels, generic kernel paths
        return random_lindblad(d=3, n_channels=2, seed=1)
    if kind == "hamiltonian_only":       # evolves between collisions, never jumps
        return qt.Lindblad(0.5 * op.sigma_z() + 0.3 * op.sigma_x())
    return qt.Lindblad(np.zeros((3, 3)))  # static qutrit: collisions only


@pytest.mark.parametrize("method", ["pure", "density"])
@pytest.mark.parametrize("kind", ["qutrit_with_baths", "hamiltonian_only", "static_qutrit"])
def test_engine_generality_matches_averaged_generator(kind, method):
    L0 = _other_system(kind)
    d = L0.dim
    cm = CollisionModel(L0, _random_state(2, 3), _random_unitary(2 * d, 4), 1.2,
                        ancilla_hamiltonian=np.diag([0.0, 1.0]))
    rho0 = _random_state(d, 5)
    times = np.linspace(0, 2, 5)
    res = cm.simulate(rho0, times, ntraj=2000, seed=3, method=method, progress=False)
    assert_consistent(res.mean, res.stderr, cm.mesolve(rho0, times), name="rho")
    E = cm.expected_collision_energy(rho0, times)
    assert_consistent(res["collision_energy_cumulative"][1:],
                      res["collision_energy_cumulative_stderr"][1:], E[1:], name="energy")


@pytest.mark.parametrize("method", ["pure", "density"])
def test_time_average_of_one_long_run_matches_steady_state(method):
    cm = damped_qubit()
    res = cm.simulate_time_average(op.basis(2, 0), t_total=3000.0, burn_in=10.0, n_batches=30,
                                   seed=4, method=method)
    ss = cm.steady_state()
    assert res.mean.shape == (1, 2, 2) and res["batch_means"].shape == (30, 2, 2)
    dof = res["batch_means"].shape[0] - 1         # error bars from batch means
    assert_consistent(res.mean[0], res.stderr[0], ss, name="rho", dof=dof)
    J = cm.collision_energy_current(ss)
    assert_consistent(res["heat_current_collisions"], res["heat_current_collisions_stderr"], J,
                      name="heat_current", dof=dof)
    assert_consistent(res["collisions"], res["collisions_stderr"], 4500, name="collisions",
                      dof=dof)


def test_two_point_energy_records_with_energy_eigenstate_ancillas():
    cm0 = damped_qubit()
    cm = CollisionModel(cm0.system, np.diag([0.35, 0.65]), cm0.unitary, 2.0,
                        ancilla_hamiltonian=0.5 * op.sigma_z())
    times = np.linspace(0, 2, 5)
    res = cm.simulate(op.basis(2, 0), times, 3000, seed=8, progress=False)
    assert res.meta["two_point_energy"] is True
    E = cm.expected_collision_energy(op.basis(2, 0), times)
    assert_consistent(res["collision_energy_cumulative"][1:],
                      res["collision_energy_cumulative_stderr"][1:], E[1:], name="energy")
    assert_consistent(res.mean, res.stderr, cm.mesolve(op.basis(2, 0), times), name="rho")
    # two-point records: each trajectory's energy is a whole number of ancilla quanta (gap 1)
    for seed in range(5):
        one = cm.simulate(op.basis(2, 0), times, 1, seed=seed, progress=False)
        e = one["collision_energy_cumulative"]
        assert np.allclose(e, np.round(e), atol=1e-12)
    # without ancilla energy there are no energy records
    bare = CollisionModel(cm.system, cm.ancilla_state, cm.unitary, 2.0)
    r2 = bare.simulate(op.basis(2, 0), times, 50, seed=8, progress=False)
    assert "collision_energy" not in r2.records and "collisions" in r2.records


def test_exceptional_point_refused_by_density_method_but_pure_works():
    # drive Omega = gamma/4 is an exceptional point of the driven damped qubit's Liouvillian
    L0 = qt.Lindblad(0.125 * op.sigma_x(), [qt.Channel(op.sigma_minus(), 1.0)])
    cm = CollisionModel(L0, np.diag([0.5, 0.5]), _random_unitary(4, 3), 1.0)
    with pytest.raises(ValueError, match="exceptional point"):
        cm.simulate(op.basis(2, 1), [0, 1], 10, method="density", progress=False)
    times = [0.0, 0.5, 1.5]
    res = cm.simulate(op.basis(2, 1), times, 2000, seed=2, method="pure", progress=False)
    assert_consistent(res.mean, res.stderr, cm.mesolve(op.basis(2, 1), times), name="rho")


def test_qubit_fast_path_equals_generic_collision():
    """collide_until (unrolled qubit loop) consumes the same random numbers and produces the
    same state and energy as repeated generic collide calls."""
    from qtraj.rng import next_exponential
    cm = CollisionModel(qt.Lindblad(np.zeros((2, 2))), _random_state(3, 2), _random_unitary(6, 1),
                        1.0, ancilla_hamiltonian=np.diag([0.0, 1.0, 2.5]))
    job, _, _ = cm._job(np.diag([1.0, 0.0]), np.array([0.0, 1.0]), 0, "pure")
    coll = job.collisions
    assert coll.static_system and not coll.two_point
    key = np.arange(4, dtype=np.uint64)
    psi_fast = np.array([0.6, 0.8j])
    s1 = stream_state(key, 3)
    t_fast, n_fast, e_fast = collide_until(coll, s1, psi_fast, np.empty(2, complex), 0.1, 40.0)
    psi = np.array([0.6, 0.8j])
    s2 = stream_state(key, 3)
    t, n, e = 0.1, 0, 0.0
    while t <= 40.0:
        e += collide(coll, s2, psi, np.empty(2, complex))
        n += 1
        t += next_exponential(s2, 1.0)
    assert n == n_fast > 20 and t == t_fast
    assert np.allclose(psi, psi_fast, atol=1e-12) and e == pytest.approx(e_fast, abs=1e-10)
    assert np.array_equal(s1, s2)


@pytest.mark.parametrize("method", ["pure", "density"])
def test_same_seed_same_numbers_any_jobs_and_batch(method):
    cm = damped_qubit()
    times = np.linspace(0, 1, 3)
    kw = dict(ntraj=400, seed=42, method=method, progress=False)
    ref = cm.simulate(op.basis(2, 0), times, n_jobs=1, batch_size=64, **kw)
    for v in (cm.simulate(op.basis(2, 0), times, n_jobs=1, batch_size=192, **kw),
              cm.simulate(op.basis(2, 0), times, n_jobs=2, batch_size=128, **kw),
              cm.simulate(op.basis(2, 0), times, n_jobs=2, batch_size=64, backend="threading",
                          **kw)):
        assert np.array_equal(v.mean, ref.mean) and np.array_equal(v.stderr, ref.stderr)
        for k in ref.records:
            assert np.array_equal(v[k], ref[k]), k
    other = cm.simulate(op.basis(2, 0), times, n_jobs=1, **dict(kw, seed=43))
    assert not np.array_equal(other.mean, ref.mean)


# --------------------------------------------------------------------------- validation
def _args(**over):
    L0 = qt.Lindblad(np.zeros((2, 2)))
    a = dict(system=L0, ancilla_state=np.diag([0.5, 0.5]), unitary=np.eye(4), rate=1.0)
    a.update(over)
    return a


@pytest.mark.parametrize("over, msg", [
    (dict(ancilla_state=np.diag([0.5, 0.6])), "ancilla_state has trace"),
    (dict(ancilla_state=np.array([[0.5, 0.1], [0.3, 0.5]])), "ancilla_state is not Hermitian"),
    (dict(ancilla_state=np.diag([1.5, -0.5])), "ancilla_state is not positive"),
    (dict(ancilla_state=np.ones(3)), "ancilla_state must be a square"),
    (dict(unitary=2 * np.eye(4)), "unitary is not unitary"),
    (dict(unitary=np.eye(6)), "unitary has dimension 6"),
    (dict(rate=0.0), "rate must be positive"),
    (dict(rate=-1.0), "rate must be positive"),
    (dict(system=np.zeros((2, 2))), "system must be a qtraj.Lindblad"),
    (dict(measure_basis=np.ones((2, 2))), "measure_basis"),
    (dict(ancilla_hamiltonian=np.array([[0, 1], [0, 0]])), "ancilla_hamiltonian is not Hermitian"),
])
def test_invalid_input_raises_value_error_naming_problem(over, msg):
    with pytest.raises(ValueError, match=msg):
        CollisionModel(**_args(**over))


def test_invalid_simulate_arguments():
    cm = CollisionModel(**_args())
    with pytest.raises(ValueError, match="method"):
        cm.simulate([1, 0], [0, 1], 10, method="mixed", progress=False)
    with pytest.raises(ValueError, match="state0"):
        cm.simulate([1, 0, 0], [0, 1], 10, progress=False)
    with pytest.raises(ValueError, match="ntraj"):
        cm.simulate([1, 0], [0, 1], 0, progress=False)
    with pytest.raises(ValueError, match="ancilla_hamiltonian"):
        cm.energy_operator()
