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

import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from .linalg import null_space
from .lindblad import unvec, vec
from .validation import as_square_matrix, as_state, as_times

__all__ = ["mesolve", "steady_state", "heat_currents", "NonUniqueSteadyState",
           "kernel_dimension", "DENSE_LIMIT"]

#: Liouville-space dimension (d**2, or a sector's size) up to which dense linear algebra is used.
DENSE_LIMIT = 400
#: sector size up to which the shift-invert factorisation is a dense LU.
DENSE_LU_LIMIT = 6000


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


# --------------------------------------------------------------------------- sectors
def _sectors(Lsup: sp.spmatrix) -> list[np.ndarray]:
    """Index sets of the decoupled blocks of L (connected components of its sparsity graph).

    Symmetries (e.g. conservation of excitation-number differences) make L block diagonal in
    the vec basis; each block is solved on its own, and only the blocks that rho0 touches are
    needed for evolution and long-time limits.
    """
    pattern = (abs(Lsup) + abs(Lsup).T).tocsr()
    n_comp, labels = connected_components(pattern, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_comp + 1))
    return [order[bounds[i]:bounds[i + 1]] for i in range(n_comp)]


def _touched(sectors: list[np.ndarray], v: np.ndarray) -> np.ndarray:
    """Union of the sectors on which the vector v has support."""
    nz = np.abs(v) > 0
    idx = [s for s in sectors if nz[s].any()]
    return np.sort(np.concatenate(idx)) if idx else np.zeros(0, dtype=int)


# --------------------------------------------------------------------------- evolution
def mesolve(model, rho0, times) -> np.ndarray:
    """Density matrices at `times` (array (len(times), d, d)); rho0 is the state at times[0].

    rho0 may be a ket or a density matrix.  Exact for time-independent generators: dense
    `expm` for small spaces, `expm_multiply` restricted to the sectors rho0 touches otherwise.
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
        return out
    Lsup = _superop(model, sparse=True)
    idx = _touched(_sectors(Lsup), v)
    Lr = Lsup[idx][:, idx].tocsc()
    vr = v[idx]
    full = np.zeros(d * d, dtype=complex)
    for i in range(1, len(times)):
        dt = float(times[i] - times[i - 1])
        if dt > 0:
            vr = spla.expm_multiply(Lr * dt, vr)
        full[idx] = vr
        out[i] = unvec(full, d)
    return out


# --------------------------------------------------------------------------- kernel
class _ShiftInvert:
    """x -> s (s - L)^-1 x, repeated: converges to P0 x (inverse iteration on the kernel).

    Each application damps a decaying mode lambda by |s / (s - lambda)|, while rounding in the
    factorisation perturbs the kernel eigenvalues by ~eps ||L||, a relative error ~eps ||L|| / s
    per step (visible when the kernel is degenerate); s = 1e-6 ||L|| balances the two.  The
    iteration stops at machine precision or when the change stops shrinking (rounding floor).
    Dense LU up to DENSE_LU_LIMIT unknowns (faster than sparse LU once fill-in is heavy).
    """

    def __init__(self, Lsup: sp.spmatrix):
        n = Lsup.shape[0]
        scale = float(abs(Lsup).sum(axis=0).max()) or 1.0
        self.s = s = 1e-6 * scale
        if n <= DENSE_LU_LIMIT:
            lu = sla.lu_factor(s * np.eye(n, dtype=complex) - Lsup.toarray())
            self.solve = lambda X: sla.lu_solve(lu, X)
        else:
            self.solve = spla.splu((s * sp.identity(n, dtype=complex, format="csc")
                                    - Lsup).tocsc()).solve

    def project(self, X: np.ndarray, tol: float = 1e-14, max_iter: int = 500) -> np.ndarray:
        prev = np.inf
        ref = max(np.max(np.abs(X)), 1e-300)   # changes relative to the start (P0 X may be 0)
        for it in range(max_iter):
            Y = self.s * self.solve(X)
            change = np.max(np.abs(Y - X)) / ref
            X = Y
            if change < tol or (it >= 3 and change > 0.5 * prev):
                break
            prev = change
        if change > 1e-8:
            warnings.warn(f"long-time limit converged only to a relative change of {change:.2g}; "
                          "the Liouvillian has very slow modes", RuntimeWarning, stacklevel=3)
        return X


class _Block:
    """Kernel data of one sector of L: dense SVD for small sectors, sparse LU otherwise."""

    def __init__(self, Lb: sp.spmatrix, rtol: float):
        self.rtol = rtol
        self.dense = Lb.shape[0] <= DENSE_LIMIT
        if self.dense:
            A = Lb.toarray()
            self.R = null_space(A, rtol)            # right null vectors
            self.Lf = null_space(A.conj().T, rtol)  # left null vectors
        else:
            self.si = _ShiftInvert(Lb)
            self.n = Lb.shape[0]

    def project(self, x: np.ndarray) -> np.ndarray:
        """P0 x: component of x in the kernel along the conserved quantities."""
        if self.dense:
            if self.R.shape[1] == 0:
                return np.zeros_like(x)
            return self.R @ np.linalg.solve(self.Lf.conj().T @ self.R, self.Lf.conj().T @ x)
        return self.si.project(x[:, None])[:, 0]

    def kernel_dimension(self) -> tuple[int, bool]:
        if self.dense:
            return self.R.shape[1], True
        rng = np.random.default_rng(12345)
        m = 8
        while True:
            X = rng.standard_normal((self.n, m)) + 1j * rng.standard_normal((self.n, m))
            P = self.si.project(X)
            s = np.linalg.svd(P, compute_uv=False)
            rank = int(np.sum(s > self.rtol * 1e2 * max(s[0], 1e-300))) if s[0] > 1e-12 else 0
            if rank < m or m >= self.n:
                return rank, True
            if m >= 4096:
                return rank, False
            m = min(4 * m, self.n)


def kernel_dimension(model, rtol: float = 1e-9) -> tuple[int, bool]:
    """(dimension of the kernel of L, exact?), summed over the decoupled sectors of L.

    Small sectors: dense SVD.  Large ones: rank of the kernel projector applied to growing
    blocks of random vectors (exact unless the probe budget, 4096 vectors, is exhausted)."""
    Lsup = _superop(model, sparse=True)
    total, exact = 0, True
    for idx in _sectors(Lsup):
        k, ex = _Block(Lsup[idx][:, idx], rtol).kernel_dimension()
        total += k
        exact &= ex
    return total, exact


def steady_state(model, rho0=None, rtol: float = 1e-9) -> np.ndarray:
    """Steady state of the generator; with a degenerate kernel, the long-time limit from rho0.

    Parameters
    ----------
    model : Lindblad or CollisionModel
    rho0 : optional ket or density matrix.  Required when the steady state is not unique
        (otherwise `NonUniqueSteadyState` is raised, giving the kernel dimension).
    rtol : relative singular-value threshold that decides the kernel dimension.

    Returns the (d, d) density matrix P0 rho0 (or the unique steady state).  L is split into
    its decoupled sectors first; with rho0 only the sectors rho0 touches are solved.  When L
    has purely imaginary eigenvalues (undamped oscillations) P0 rho0 is the time average of
    rho(t).
    """
    d = model.dim
    Lsup = _superop(model, sparse=True)
    sectors = _sectors(Lsup)
    if rho0 is None:
        k, exact = kernel_dimension(model, rtol)
        if k == 0:
            raise RuntimeError("the Liouvillian has no kernel; is the generator trace preserving?")
        if k > 1:
            raise NonUniqueSteadyState(k, exact)
        start = vec(np.eye(d, dtype=complex) / d)   # has weight on the unique steady state
    else:
        start = vec(as_state(rho0, d, "rho0"))
    out = np.zeros(d * d, dtype=complex)
    nz = np.abs(start) > 0
    for idx in sectors:
        if nz[idx].any():
            out[idx] = _Block(Lsup[idx][:, idx], rtol).project(start[idx])
    return _hermitian_normalised(unvec(out, d))


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
