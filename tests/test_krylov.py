"""The Krylov no-jump propagator: models the eigen-decomposition cannot take, and agreement
with the exact propagator where both work."""

import numpy as np
import pytest

import qtraj as qt
from helpers import assert_consistent, random_state
from qtraj import operators as op
from qtraj.linalg import EigenPropagator, KrylovPropagator, choose_propagator
from qtraj.protocols import Protocol


def _exceptional_qubit(gamma=1.0):
    """Driven decaying qubit at its exceptional point: H_eff = (Omega/2) sigma_x
    - (i gamma/2)|1><1| is defective for Omega = gamma/2."""
    return qt.Lindblad(0.25 * gamma * op.sigma_x(), [qt.Channel(op.sigma_minus(), gamma)])


def _chain(d=64, seed=1):
    """A sparse non-normal model beyond the Krylov dimension (30)."""
    rng = np.random.default_rng(seed)
    H = np.diag(rng.normal(size=d)) + 0.7 * (np.eye(d, k=1) + np.eye(d, k=-1))
    return qt.Lindblad(H, [qt.Channel(np.eye(d, k=1), 0.3),
                           qt.Channel(np.diag(np.linspace(0, 1, d)), 0.2)])


def _real_parts(res, exact, idx):
    return res.mean.real[:, idx[0], idx[1]], res.stderr.real[:, idx[0], idx[1]], \
        exact.real[:, idx[0], idx[1]]


def test_exceptional_point_is_run_by_krylov_and_matches_mesolve():
    L = _exceptional_qubit()
    H_eff = L.effective_hamiltonian()
    assert isinstance(choose_propagator(H_eff), KrylovPropagator)
    with pytest.raises(ValueError, match="defective"):
        qt.mcsolve(L, op.basis(2, 1), [0.0, 1.0], 8, method="eigen", progress=False)
    times = np.linspace(0.0, 6.0, 7)
    res = qt.mcsolve(L, op.basis(2, 1), times, 4000, seed=1, progress=False)
    assert res.meta["propagator"] == "krylov"
    exact = qt.mesolve(L, op.basis(2, 1), times)
    est = np.concatenate([res.mean.real[1:, 1, 1], res.mean.real[1:, 0, 1],
                          res.mean.imag[1:, 0, 1]])
    se = np.concatenate([res.stderr.real[1:, 1, 1], res.stderr.real[1:, 0, 1],
                         res.stderr.imag[1:, 0, 1]])
    ex = np.concatenate([exact.real[1:, 1, 1], exact.real[1:, 0, 1], exact.imag[1:, 0, 1]])
    assert_consistent(est, se, ex, name="exceptional-point qubit")


def test_krylov_takes_the_jumps_of_the_eigen_propagator():
    """Beyond the Krylov dimension (d = 64 > 30): the same jumps (channels exactly, times to
    the Krylov tolerance) and the same averaged states."""
    L = _chain()
    assert isinstance(choose_propagator(L.effective_hamiltonian()), EigenPropagator)
    psi0 = np.eye(64)[32]
    times = np.linspace(0.0, 5.0, 11)
    kw = dict(seed=4, keep_jumps=True, progress=False)
    a = qt.mcsolve(L, psi0, times, 60, method="eigen", **kw)
    b = qt.mcsolve(L, psi0, times, 60, method="krylov", **kw)
    assert (a.meta["propagator"], b.meta["propagator"]) == ("eigen", "krylov")
    assert len(a["jump_time"]) == len(b["jump_time"]) > 50
    assert np.array_equal(a["jump_channel"], b["jump_channel"])
    np.testing.assert_allclose(b["jump_time"], a["jump_time"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(b.mean, a.mean, rtol=0, atol=1e-8)


def test_protocol_with_a_defective_segment():
    P = Protocol([(1.0, _exceptional_qubit()), (0.5, qt.Lindblad(0.5 * op.sigma_z(),
                                                                   [qt.Channel(op.sigma_plus(),
                                                                               0.4)]))])
    rho0 = random_state(2, 3)
    res = P.simulate(2, 4000, state0=rho0, seed=2, progress=False)
    exact = P.mesolve(rho0, res.times)
    est, se, ex = _real_parts(res, exact, (1, 1))
    assert_consistent(est[1:], se[1:], ex[1:], name="protocol excited population")


def test_bad_method_and_tolerance_are_refused():
    L = _exceptional_qubit()
    with pytest.raises(ValueError, match="method"):
        qt.mcsolve(L, op.basis(2, 1), [0.0, 1.0], 8, method="rk45", progress=False)
    with pytest.raises(ValueError, match="tol"):
        qt.mcsolve(L, op.basis(2, 1), [0.0, 1.0], 8, method="krylov", krylov_tol=0.5,
                   progress=False)
