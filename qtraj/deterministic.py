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

__all__ = ["mesolve", "propagate", "steady_state", "heat_currents", "NonUniqueSteadyState",
           "kernel_dimension", "kernel_basis", "sector_indices", "DENSE_LIMIT"]

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
def _evolve(model, v: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """exp(s_i L) v for non-decreasing finite offsets s_i >= 0, shape (len(steps), d*d).

    The exact machinery shared by `mesolve` and `propagate`: dense `expm` (one per distinct
    step, cached) for small spaces, `expm_multiply` restricted to the sectors v touches
    otherwise.  v may be any vector (any operator, not only a state)."""
    d = model.dim
    out = np.zeros((len(steps), d * d), dtype=complex)
    if _use_dense(model):
        Lsup = _superop(model, sparse=False)
        cache: dict[float, np.ndarray] = {}
        prev = 0.0
        for i, s in enumerate(steps):
            dt = float(s - prev)
            if dt > 0:
                key = round(dt, 15)
                if key not in cache:
                    cache[key] = sla.expm(Lsup * dt)
                v = cache[key] @ v
            out[i] = v
            prev = s
        return out
    Lsup = _superop(model, sparse=True)
    idx = _touched(_sectors(Lsup), v)
    Lr = Lsup[idx][:, idx].tocsc()
    vr = v[idx]
    prev = 0.0
    for i, s in enumerate(steps):
        dt = float(s - prev)
        if dt > 0:
            vr = spla.expm_multiply(Lr * dt, vr)
        out[i, idx] = vr
        prev = s
    return out


def mesolve(model, rho0, times) -> np.ndarray:
    """Density matrices at `times` (array (len(times), d, d)); rho0 is the state at times[0].

    rho0 may be a ket or a density matrix.  Exact for time-independent generators: dense
    `expm` for small spaces, `expm_multiply` restricted to the sectors rho0 touches otherwise.
    To evolve an operator that is not a state (quantum regression), use `propagate`.
    """
    d = model.dim
    rho0 = as_state(rho0, d, "rho0")
    times = as_times(times)
    out = unvec(_evolve(model, vec(rho0), times - times[0]), d)
    out[0] = rho0
    return out


def propagate(model, X, times) -> np.ndarray:
    """The linear map itself: exp(t L) X at each t in `times`, for any operator X.

    Unlike `mesolve`, X need not be a state: it may be non-Hermitian, traceless or of any
    trace (e.g. B rho or C rho A in the quantum regression theorem).  The map is linear, so
    propagate(model, a X + b Y, t) = a propagate(model, X, t) + b propagate(model, Y, t).

    Parameters
    ----------
    model : Lindblad or CollisionModel
        The generator L (anything with `dim` and `liouvillian(sparse=...)`).
    X : (d, d) array_like
        The operator at time 0.
    times : 1-d array_like of float
        Non-decreasing times t >= 0, measured from 0 (not from times[0]).  Entries equal to
        ``np.inf`` give the long-time limit P0 X, with P0 the spectral projector onto the
        kernel of L (as in `steady_state`).

    Returns
    -------
    (len(times), d, d) complex ndarray

    Raises
    ------
    TypeError
        If `model` is not a generator.
    ValueError
        If X is not a finite (d, d) matrix or `times` is not a non-decreasing sequence of
        non-negative times.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 2.0)])
    >>> X = np.array([[0, 1], [0, 0]], dtype=complex)   # |g><e|: not a state
    >>> Y = qt.propagate(L, X, [0.0, 1.0, np.inf])
    >>> np.round(Y[:, 0, 1].real, 6)                      # coherence decays as exp(-t)
    array([1.      , 0.367879, 0.      ])
    """
    if not hasattr(model, "liouvillian") or not hasattr(model, "dim"):
        raise TypeError(f"expected a Lindblad or CollisionModel, got {type(model).__name__}")
    d = model.dim
    X = as_square_matrix(X, "X", d)
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(np.isnan(t)):
        raise ValueError("times must be a non-empty 1-d sequence of numbers")
    if np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing and >= 0 (times are measured from 0)")
    finite = np.isfinite(t)
    out = np.empty((t.size, d * d), dtype=complex)
    v = vec(X)
    if finite.any():
        out[finite] = _evolve(model, v, t[finite])
    if not finite.all():
        out[~finite] = _long_time(model, v)
    return unvec(out, d)


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
        basis, exact = _probe_range(self.si, self.n, self.rtol)
        return basis.shape[1], exact

    def basis(self, Lb: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
        """(right, left) null vectors of the sector, as columns (orthonormal for large ones)."""
        if self.dense:
            return self.R, self.Lf
        R, _ = _probe_range(self.si, self.n, self.rtol)
        Lf, _ = _probe_range(_ShiftInvert(Lb.conj().T.tocsr()), self.n, self.rtol)
        return R, Lf


def _probe_range(si: _ShiftInvert, n: int, rtol: float) -> tuple[np.ndarray, bool]:
    """(orthonormal basis of the range of P0, exact?): P0 applied to growing blocks of random
    vectors until the rank stops growing (exact unless the probe budget, 4096, is used up)."""
    rng = np.random.default_rng(12345)
    m = 8
    while True:
        X = rng.standard_normal((n, m)) + 1j * rng.standard_normal((n, m))
        P = si.project(X)
        u, s, _ = np.linalg.svd(P, full_matrices=False)
        rank = int(np.sum(s > rtol * 1e2 * max(s[0], 1e-300))) if s[0] > 1e-12 else 0
        if rank < m or m >= n:
            return u[:, :rank], True
        if m >= 4096:
            return u[:, :rank], False
        m = min(4 * m, n)


def sector_indices(model, v) -> np.ndarray:
    """Sorted Liouville-space indices of the decoupled sectors of L that the vectorised
    operator `v` has support on (everything exp(t L) v can reach).

    Parameters
    ----------
    model : Lindblad or CollisionModel
    v : (d*d,) array_like, a column-stacked operator (`qtraj.vec`)

    Returns
    -------
    (n,) int ndarray

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> sector_indices(L, qt.vec(op.sigma_minus())).tolist()    # a coherence: one sector
    [2]
    """
    Lsup = _superop(model, sparse=True)
    return _touched(_sectors(Lsup), np.asarray(v))


def kernel_basis(model, v=None, rtol: float = 1e-9):
    """Right and left null vectors of L on the sectors a vector touches.

    L is block diagonal in its decoupled sectors (see `steady_state`); this returns the kernel
    of the blocks that `v` (a vectorised operator) has support on, or of all blocks.

    Parameters
    ----------
    model : Lindblad or CollisionModel
    v : (d*d,) array_like, optional
        Column-stacked operator; None: every sector.
    rtol : float
        Relative singular-value threshold that decides the kernel dimension.

    Returns
    -------
    idx : (n,) int ndarray
        Liouville-space indices of the sectors used (sorted).
    R, Lf : (n, k) complex ndarrays
        Right (L R = 0) and left (Lf^dag L = 0) null vectors restricted to `idx`; the spectral
        projector onto the kernel is P0 = R (Lf^dag R)^-1 Lf^dag.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> idx, R, Lf = kernel_basis(L)
    >>> idx.size, R.shape[1]
    (4, 1)
    """
    Lsup = _superop(model, sparse=True)
    sectors = _sectors(Lsup)
    if v is not None:
        nz = np.abs(np.asarray(v)) > 0
        sectors = [s for s in sectors if nz[s].any()]
    if not sectors:
        return np.zeros(0, dtype=int), np.zeros((0, 0), complex), np.zeros((0, 0), complex)
    n = sum(len(s) for s in sectors)
    idx = np.concatenate(sectors)
    Rs, Ls = [], []
    off = 0
    for sec in sectors:
        Lb = Lsup[sec][:, sec]
        R, Lf = _Block(Lb, rtol).basis(Lb)
        for out, B in ((Rs, R), (Ls, Lf)):
            full = np.zeros((n, B.shape[1]), dtype=complex)
            full[off:off + len(sec)] = B
            out.append(full)
        off += len(sec)
    order = np.argsort(idx, kind="stable")
    return idx[order], np.hstack(Rs)[order], np.hstack(Ls)[order]


def kernel_dimension(model, rtol: float = 1e-9) -> tuple[int, bool]:
    """(dimension of the kernel of L, exact?), summed over the decoupled sectors of L.

    Small sectors: dense SVD.  Large ones: rank of the kernel projector applied to growing
    blocks of random vectors (exact unless the probe budget, 4096 vectors, is exhausted)."""
    Lsup = _superop(model, sparse=True)
    return _kernel_dimension(_blocks(Lsup, _sectors(Lsup), rtol))


def _blocks(Lsup, sectors, rtol: float) -> list:
    """(indices, kernel data) of every decoupled sector of L (built once, used for both the
    kernel dimension and the projection)."""
    return [(idx, _Block(Lsup[idx][:, idx], rtol)) for idx in sectors]


def _kernel_dimension(blocks) -> tuple[int, bool]:
    total, exact = 0, True
    for _, block in blocks:
        k, ex = block.kernel_dimension()
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
        blocks = _blocks(Lsup, sectors, rtol)
        k, exact = _kernel_dimension(blocks)
        if k == 0:
            raise RuntimeError("the Liouvillian has no kernel; is the generator trace preserving?")
        if k > 1:
            raise NonUniqueSteadyState(k, exact)
        start = vec(np.eye(d, dtype=complex) / d)   # has weight on the unique steady state
        return _hermitian_normalised(unvec(_project(blocks, start), d))
    start = vec(as_state(rho0, d, "rho0"))
    return _hermitian_normalised(unvec(_long_time(model, start, rtol, Lsup, sectors), d))


def _project(blocks, v: np.ndarray) -> np.ndarray:
    """P0 v with the sectors' kernel data (sectors v does not touch are skipped)."""
    out = np.zeros(v.shape[0], dtype=complex)
    nz = np.abs(v) > 0
    for idx, block in blocks:
        if nz[idx].any():
            out[idx] = block.project(v[idx])
    return out


def _long_time(model, v: np.ndarray, rtol: float = 1e-9, Lsup=None, sectors=None) -> np.ndarray:
    """P0 v: the long-time limit of exp(t L) v, sector by sector (any vector v); only the
    sectors v touches are solved."""
    if Lsup is None:
        Lsup = _superop(model, sparse=True)
        sectors = _sectors(Lsup)
    nz = np.abs(v) > 0
    return _project(_blocks(Lsup, [idx for idx in sectors if nz[idx].any()], rtol), v)


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
