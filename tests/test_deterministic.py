import numpy as np
import pytest
import scipy.linalg as sla
from scipy.integrate import solve_ivp

import qtraj as qt
from qtraj import operators as op
from qtraj.lindblad import unvec, vec
from helpers import random_lindblad, two_atom_model


def test_mesolve_matches_independent_ode_solution():
    L = random_lindblad(d=3, n_channels=2, seed=5)
    rho0 = op.ket2dm(op.basis(3, 0))
    times = np.linspace(0, 2, 7)
    sol = solve_ivp(lambda t, y: vec(L.rhs(unvec(y, 3))), (0, 2), vec(rho0).astype(complex),
                    t_eval=times, rtol=1e-11, atol=1e-12)
    ode = unvec(sol.y.T, 3)
    res = qt.mesolve(L, rho0, times)
    assert res.shape == (7, 3, 3)
    assert np.max(np.abs(res - ode)) < 1e-8


def test_mesolve_nonuniform_times_and_ket_input():
    L = random_lindblad(d=3, seed=2)
    times = np.array([0.0, 0.1, 0.5, 0.55, 2.0])
    res = qt.mesolve(L, op.basis(3, 1), times)
    Ls = L.liouvillian()
    for t, r in zip(times, res):
        assert np.allclose(r, unvec(sla.expm(Ls * t) @ vec(op.ket2dm(op.basis(3, 1)))), atol=1e-12)


def test_unique_steady_state_is_fixed_point():
    L = random_lindblad()
    rho = qt.steady_state(L)
    assert np.allclose(L.rhs(rho), 0, atol=1e-10)
    assert np.trace(rho).real == pytest.approx(1.0)
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    # with rho0 the (unique) answer is the same
    assert np.allclose(qt.steady_state(L, rho0=op.basis(4, 2)), rho, atol=1e-10)


def test_degenerate_kernel_two_collective_atoms():
    L = two_atom_model(nbar=2.0, f0=0.7)
    with pytest.raises(qt.NonUniqueSteadyState, match="dimension 2"):
        qt.steady_state(L)
    # long-time limit from |gg>: matches mesolve at long times
    gg = op.basis(4, 0)
    rho_inf = qt.steady_state(L, rho0=gg)
    late = qt.mesolve(L, gg, [0.0, 60.0])[-1]
    assert np.allclose(rho_inf, late, atol=1e-10)
    # the singlet (|eg> - |ge>)/sqrt2 is dark: stationary by itself
    singlet = (op.basis(4, 1) - op.basis(4, 2)) / np.sqrt(2)
    assert np.allclose(qt.steady_state(L, rho0=singlet), op.ket2dm(singlet), atol=1e-10)


def test_sparse_path_matches_dense(monkeypatch):
    """Inverse iteration with a sparse LU (used for large spaces) agrees with the dense SVD."""
    from qtraj import deterministic
    L = two_atom_model(nbar=1.0, f0=0.3)
    rho0 = op.ket2dm((op.basis(4, 0) + op.basis(4, 1)) / np.sqrt(2))
    dense = qt.steady_state(L, rho0=rho0)
    times = np.linspace(0, 1, 3)
    dense_t = qt.mesolve(L, rho0, times)
    monkeypatch.setattr(deterministic, "DENSE_LIMIT", 0)
    assert np.allclose(qt.steady_state(L, rho0=rho0), dense, atol=1e-10)
    assert np.allclose(qt.mesolve(L, rho0, times), dense_t, atol=1e-10)
    with pytest.raises(qt.NonUniqueSteadyState, match="dimension 2"):
        qt.steady_state(L)
    Lr = random_lindblad()
    assert np.allclose(qt.steady_state(Lr), _dense_ss(Lr), atol=1e-9)


def _dense_ss(L):
    w, v = np.linalg.eig(L.liouvillian())
    rho = unvec(v[:, np.argmin(np.abs(w))], L.dim)
    return rho / np.trace(rho)


@pytest.mark.parametrize("bad, msg", [
    (np.diag([0.5, 0.6, 0, 0]), "trace"),
    (np.array([[0.5, 0.5j, 0, 0], [0.5j, 0.5, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]), "Hermitian"),
    (np.diag([1.5, -0.5, 0, 0]), "positive"),
    (np.eye(3) / 3, "dimension"),
    (np.ones(4), "norm"),
])
def test_bad_states_raise(bad, msg):
    L = random_lindblad()
    with pytest.raises(ValueError, match=msg):
        qt.mesolve(L, bad, [0, 1])


def test_bad_times_raise():
    with pytest.raises(ValueError, match="non-decreasing"):
        qt.mesolve(random_lindblad(), op.basis(4, 0), [0, 2, 1])
