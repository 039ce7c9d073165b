"""Deterministic solvers of a time-independent generator: evolution, long-time states, heat currents.

Everything here reads a generator through two attributes, `dim` and `liouvillian(sparse=...)`
(column-stacking superoperator), so a `Lindblad` and a `CollisionModel` are solved by the same
code.

* `mesolve`: exact propagation, rho(t) = exp(L (t - t0)) rho0, with dense `scipy.linalg.expm`
  for small spaces and `scipy.sparse.linalg.expm_multiply` for large ones (both accurate to
  machine precision; no ODE tolerances).
* `steady_state`: the kernel of L.  A unique kernel gives the steady state.  A degenerate kernel
  (conserved quantities, e.g. the dark singlet of two collective atoms) has no single steady
  state: the long-time limit depends on rho0 and equals P0 rho0, with P0 the spectral projector
  onto the kernel, P0 = R (Lᴴ R)^-1 Lᴴ built from right (R) and left (Lf) null vectors.  Without
  rho0 a degenerate kernel raises `NonUniqueSteadyState` with the kernel dimension.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .lindblad import unvec, vec
from .validation import as_square_matrix, as_state, as_times

__all__ = ["mesolve", "steady_state", "heat_currents", "NonUniqueSteadyState",
           "kernel_dimension", "DENSE_LIMIT"]

#: Liouville-space dimension (d**2) up to which dense linear algebra is used.
DENSE_LIMIT = 1024


class NonUniqueSteadyState(ValueError):
    """The generator has more than one steady state; pass rho0 to get the long-time limit."""

    def __init__(self, n_states: int, exact: bool = True):
        self.n_states = n_states
        qual = "" if exact else "at least "
        super().__init__(
            f"the steady state is not unique: the kernel of the Liouvillian has dimension "
            f"{qual}{n_states}; pass rho0 to get the long-time limit reached from rho0")


def _superop(model, sparse: bool):
    if not hasattr(model, "liouvillian") or not hasattr(model, "dim"):
        raise TypeError(f"expected a Lindblad or CollisionModel, got {type(model).__name__}")
    return model.liouvillian(sparse=sparse)


def _use_dense(model) -> bool:
    return model.dim ** 2 <= DENSE_LIMIT


def _hermitian_normalised(rho: np.ndarray) -> np.ndarray:
    rho = 0.5 * (rho + rho.conj().T)
    return rho / np.trace(rho).real


# --------------------------------------------------------------------------- evolution
def mesolve(model, rho0, times) -> np.ndarray:
    """Density matrices at `times` (array (len(times), d, d)); rho0 is the state at times[0].

    rho0 may be a ket or a density matrix.  Exact for time-independent generators.
    """
    d = model.dim
    rho0 = as_state(rho0, d, "rho0")
    times = as_times(times)
    out = np.empty((len(times), d, d), dtype=complex)
    v = vec(rho0)
    out[0] = rho0
    if _use_dense(model):
        Lsup = _superop(model, sparse=False)
        cache: dict[float, np.ndarray] = {}
        for i in range(1, len(times)):
            dt = float(times[i] - times[i - 1])
            key = round(dt, 15)
            if key not in cache:
                cache[key] = sla.expm(Lsup * dt)
            v = cache[key] @ v
            out[i] = unvec(v, d)
    else:
        Lsup = _superop(model, sparse=True).tocsc()
        for i in range(1, len(times)):
            dt = float(times[i] - times[i - 1])
            if dt > 0:
                v = spla.expm_multiply(Lsup * dt, v)
            out[i] = unvec(v, d)
    return out


# --------------------------------------------------------------------------- kernel
def _null_space_dense(A: np.ndarray, rtol: float) -> np.ndarray:
    u, s, vh = np.linalg.svd(A)
    tol = rtol * max(s[0], 1e-300)
    return vh[s <= tol].conj().T


def _dense_kernel(Lsup: np.ndarray, rtol: float = 1e-9):
    R = _null_space_dense(Lsup, rtol)            # right null vectors (columns)
    Lf = _null_space_dense(Lsup.conj().T, rtol)  # left null vectors (columns)
    return R, Lf


class _ShiftInvert:
    """x -> s (s - L)^-1 x by sparse LU: repeated, it converges to P0 x (inverse iteration)."""

    def __init__(self, Lsup: sp.spmatrix):
        n = Lsup.shape[0]
        scale = float(abs(Lsup).sum(axis=0).max()) or 1.0
        self.s = 1e-7 * scale
        self.lu = spla.splu((self.s * sp.identity(n, dtype=complex, format="csc") - Lsup).tocsc())

    def project(self, X: np.ndarray, tol: float = 1e-14, max_iter: int = 60) -> np.ndarray:
        for _ in range(max_iter):
            Y = self.s * self.lu.solve(X)
            change = np.max(np.abs(Y - X)) / max(np.max(np.abs(Y)), 1e-300)
            X = Y
            if change < tol:
                break
        return X


def kernel_dimension(model, rtol: float = 1e-9) -> tuple[int, bool]:
    """(dimension of the kernel of L, exact?).  Dense SVD for small spaces; for large ones the
    rank of the kernel projector applied to growing blocks of random vectors (exact unless the
    probe budget, 4096 vectors, is exhausted)."""
    if _use_dense(model):
        R, _ = _dense_kernel(_superop(model, sparse=False), rtol)
        return R.shape[1], True
    Lsup = _superop(model, sparse=True)
    si = _ShiftInvert(Lsup)
    rng = np.random.default_rng(12345)
    n = Lsup.shape[0]
    m = 8
    while True:
        X = rng.standard_normal((n, m)) + 1j * rng.standard_normal((n, m))
        P = si.project(X)
        s = np.linalg.svd(P, compute_uv=False)
        rank = int(np.sum(s > rtol * 1e2 * s[0]))
        if rank < m:
            return rank, True
        if m >= 4096 or m >= n:
            return rank, m >= n
        m *= 4


def steady_state(model, rho0=None, rtol: float = 1e-9) -> np.ndarray:
    """Steady state of the generator; with a degenerate kernel, the long-time limit from rho0.

    Parameters
    ----------
    model : Lindblad or CollisionModel
    rho0 : optional ket or density matrix.  Required when the steady state is not unique
        (otherwise `NonUniqueSteadyState` is raised, giving the kernel dimension).
    rtol : relative singular-value threshold that decides the kernel dimension.

    Returns the (d, d) density matrix P0 rho0 (or the unique steady state).  When L has purely
    imaginary eigenvalues (undamped oscillations) P0 rho0 is the time average of rho(t).
    """
    d = model.dim
    if rho0 is not None:
        rho0 = as_state(rho0, d, "rho0")
    if _use_dense(model):
        Lsup = _superop(model, sparse=False)
        R, Lf = _dense_kernel(Lsup, rtol)
        k = R.shape[1]
        if k == 0:  # cannot happen for a valid generator (trace preservation); be explicit
            raise RuntimeError("the Liouvillian has no kernel; is the generator trace preserving?")
        if k == 1:
            return _hermitian_normalised(unvec(R[:, 0], d))
        if rho0 is None:
            raise NonUniqueSteadyState(k)
        v = R @ np.linalg.solve(Lf.conj().T @ R, Lf.conj().T @ vec(rho0))
        return _hermitian_normalised(unvec(v, d))
    # large: inverse iteration with a sparse LU
    Lsup = _superop(model, sparse=True)
    si = _ShiftInvert(Lsup)
    if rho0 is None:
        k, exact = kernel_dimension(model, rtol)
        if k > 1:
            raise NonUniqueSteadyState(k, exact)
        start = vec(np.eye(d, dtype=complex) / d)
    else:
        start = vec(rho0)
    v = si.project(start[:, None])[:, 0]
    return _hermitian_normalised(unvec(v, d))


# --------------------------------------------------------------------------- energetics
def heat_currents(model, rho, H=None) -> dict[str, float]:
    """Heat current of each bath, J_k = Tr[H D_k(rho)] (positive: energy flows into the system).

    H defaults to the model's Hamiltonian; pass the bare (energy) Hamiltonian for models written
    in an interaction picture.
    """
    lind = getattr(model, "system", model)
    rho = as_square_matrix(rho, "rho", lind.dim)
    Hm = lind.H if H is None else as_square_matrix(H, "H", lind.dim)
    return {b: float(np.trace(Hm @ lind.dissipator_of(b, rho)).real) for b in lind.baths}


def expect(op, rho) -> np.ndarray:
    """Tr[op rho] for one state (d, d) or a stack (..., d, d)."""
    return np.einsum("ij,...ji->...", np.asarray(op), np.asarray(rho))
