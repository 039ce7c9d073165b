"""Input checks shared by the public API: every failure is a ValueError/TypeError naming the problem."""

from __future__ import annotations

import numbers

import numpy as np

ATOL = 1e-10
#: largest accepted matrix entry / rate: beyond it superoperators overflow double precision
MAX_ENTRY = 1e100


def as_array(a):
    """`a` itself, or its dense matrix when it is a QuTiP ``Qobj`` (anything with a callable
    ``full()``, duck-typed: qutip is not imported) or a scipy.sparse matrix.

    Examples
    --------
    >>> class Q:
    ...     def full(self):
    ...         return np.eye(2)
    >>> as_array(Q()).shape
    (2, 2)
    """
    full = getattr(a, "full", None)
    if callable(full):
        return full()
    if hasattr(a, "toarray") and callable(a.toarray):
        return a.toarray()
    return a


def as_square_matrix(a, name: str, dim: int | None = None) -> np.ndarray:
    """Return `a` (an array, a QuTiP ``Qobj`` or a sparse matrix) as a complex (d, d) array, or
    raise naming `name`."""
    try:
        arr = np.asarray(as_array(a), dtype=complex)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}") from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} has dimension {arr.shape[0]}, expected {dim}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    if arr.size and np.abs(arr).max() > MAX_ENTRY:
        raise ValueError(f"{name} has entries of magnitude {np.abs(arr).max():.3g} > "
                         f"{MAX_ENTRY:g}; rescale the units (products would overflow)")
    return arr


def check_hermitian(a: np.ndarray, name: str, atol: float = ATOL) -> None:
    scale = max(1.0, float(np.max(np.abs(a))))
    if not np.allclose(a, a.conj().T, atol=atol * scale, rtol=0):
        raise ValueError(f"{name} is not Hermitian (max |A - A^dagger| = "
                         f"{np.max(np.abs(a - a.conj().T)):.3g})")


def as_density_matrix(rho, name: str = "rho", dim: int | None = None,
                      atol: float = 1e-8) -> np.ndarray:
    """Validate a density matrix: square, Hermitian, unit trace, positive semidefinite."""
    rho = as_square_matrix(rho, name, dim)
    check_hermitian(rho, name, atol)
    tr = np.trace(rho).real
    if abs(tr - 1.0) > atol:
        raise ValueError(f"{name} has trace {tr:.12g}, expected 1")
    wmin = np.linalg.eigvalsh(0.5 * (rho + rho.conj().T)).min()
    if wmin < -atol:
        raise ValueError(f"{name} is not positive semidefinite (smallest eigenvalue {wmin:.3g})")
    return rho


def as_state(state, dim: int, name: str = "state0") -> np.ndarray:
    """A ket (d,) or (d, 1) is normalised-checked and turned into its density matrix; a (d, d)
    is validated.  QuTiP ``Qobj`` kets and density matrices are accepted."""
    arr = np.asarray(as_array(state), dtype=complex) if not isinstance(state, str) else None
    if arr is None:
        raise TypeError(f"{name} must be a ket or a density matrix, got a string")
    if arr.ndim == 2 and arr.shape[1] == 1 and arr.shape[0] == dim:
        arr = arr[:, 0]
    if arr.ndim == 1:
        if arr.shape[0] != dim:
            raise ValueError(f"{name} is a ket of length {arr.shape[0]}, expected {dim}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
        nrm = np.linalg.norm(arr)
        if abs(nrm - 1.0) > 1e-8:
            raise ValueError(f"{name} is a ket with norm {nrm:.12g}, expected 1")
        return np.outer(arr, arr.conj())
    return as_density_matrix(arr, name, dim)


def as_rate(x, name: str, allow_zero: bool = True) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if x > MAX_ENTRY:
        raise ValueError(f"{name} = {x:.3g} is too large (> {MAX_ENTRY:g}); rescale the units")
    if x < 0 or (x == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {x}")
    return x


def as_times(times, name: str = "times") -> np.ndarray:
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} contains NaN or inf")
    if np.any(np.diff(t) < 0):
        raise ValueError(f"{name} must be non-decreasing")
    return t


def as_count(n, name: str, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        if isinstance(n, float) and n.is_integer():
            n = int(n)
        else:
            raise TypeError(f"{name} must be an integer, got {n!r}")
    n = int(n)
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n
