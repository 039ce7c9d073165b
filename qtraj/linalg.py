"""Linear algebra shared by the solvers: diagonalisation, the no-jump propagator, sparse forms.

Everything here is plain numpy/scipy, computed once per run before any trajectory starts:

* `diagonalise` — A = V diag(lam) V^-1, by the Schur form for a normal matrix (V unitary) and by
  `eig` otherwise, refusing (nearly) defective matrices with `DefectiveMatrix`.
* `no_jump_propagator` — the eigen-decomposition of -i H_eff, block by block over the decoupled
  sectors of H_eff, as an `EigenPropagator` (the data the Numba jump step reads).
* `csc` / `csc_stack` — compressed sparse column forms of dense matrices (jump operators, the
  block-sparse eigenvector matrices) in the layout the kernels multiply with.
* `initial_mixture` — a density matrix as a mixture of orthogonal kets (its eigen-decomposition),
  from which each trajectory draws its initial ket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["COND_LIMIT", "DefectiveMatrix", "diagonalise", "EigenPropagator",
           "no_jump_propagator", "KrylovPropagator", "krylov_propagator", "choose_propagator",
           "PROPAGATOR_METHODS", "EIGEN_MAX_DIM", "KRYLOV_DIM", "KRYLOV_TOL", "csc", "csc_stack",
           "initial_mixture", "is_normal", "null_space"]

#: methods of `choose_propagator`
PROPAGATOR_METHODS = ("auto", "eigen", "krylov")
#: largest dimension for which method="auto" uses the eigen-decomposition (dense, O(d^3) once)
EIGEN_MAX_DIM = 256
#: dimension of the Krylov spaces of the Krylov propagator (at most d)
KRYLOV_DIM = 30
#: default tolerance of a Krylov step (error of the ket relative to its norm)
KRYLOV_TOL = 1e-10

#: condition number of the eigenvector matrix above which a matrix counts as defective
COND_LIMIT = 1e6


class DefectiveMatrix(ValueError):
    """A generator that is (nearly) not diagonalisable (an exceptional point)."""


def is_normal(A: np.ndarray) -> bool:
    """Whether A commutes with its adjoint (to rounding, relative to max|A|^2)."""
    scale2 = max(1.0, np.abs(A).max() ** 2) if A.size else 1.0
    return bool(np.allclose(A @ A.conj().T, A.conj().T @ A, atol=1e-13 * scale2))


def diagonalise(A: np.ndarray, normal: bool | None = None):
    """Eigen-decomposition A = V diag(lam) V^-1.

    Parameters
    ----------
    A : (n, n) complex array
    normal : bool, optional
        Whether A is normal; tested when not given.

    Returns
    -------
    lam : (n,) complex eigenvalues
    V : (n, n) eigenvectors as columns (unitary when A is normal)
    Vinv : (n, n) inverse of V (exactly V^dag when A is normal)

    Raises
    ------
    DefectiveMatrix
        If A is not normal and the condition number of V exceeds `COND_LIMIT`.

    Examples
    --------
    >>> lam, V, Vinv = diagonalise(np.array([[0, 1], [1, 0]], complex))
    >>> np.allclose(V @ np.diag(lam) @ Vinv, [[0, 1], [1, 0]])
    True
    """
    A = np.asarray(A, dtype=complex)
    if normal is None:
        normal = is_normal(A)
    if normal:
        T, V = sla.schur(A, output="complex")
        return np.diag(T).copy(), V, V.conj().T
    lam, V = np.linalg.eig(A)
    cond = np.linalg.cond(V)
    if not np.isfinite(cond) or cond > COND_LIMIT:
        raise DefectiveMatrix(f"eigenvector condition number {cond:.3g} > {COND_LIMIT:g}")
    return lam, V, np.linalg.inv(V)


@dataclass(frozen=True, eq=False)
class EigenPropagator:
    """No-jump propagator exp(-i H_eff t) from -i H_eff = V diag(lam) V^-1.

    A ket psi has coefficients c = V^-1 psi; after a time t without jumps they are
    c * exp(lam t), and the squared norm of the ket is c(t)^dag G c(t) with G = V^dag V.

    Attributes
    ----------
    lam : (d,) complex eigenvalues of -i H_eff (real parts <= 0)
    V, Vinv : (d, d) eigenvector matrix and its inverse (block sparse)
    gram : (d, d) G = V^dag V (the identity when H_eff is normal)
    normal : bool, H_eff normal (V unitary)
    diagonal : bool, H_eff diagonal (V the identity: coefficients are the ket itself)
    """

    lam: np.ndarray
    V: np.ndarray
    Vinv: np.ndarray
    gram: np.ndarray
    normal: bool
    diagonal: bool


def no_jump_propagator(H_eff: np.ndarray) -> EigenPropagator:
    """Eigen-decomposition of -i H_eff for exact no-jump evolution.

    H_eff is first split into its decoupled blocks (connected components of its sparsity
    pattern, e.g. excitation-number sectors), each diagonalised on its own, so V stays block
    sparse.  A normal H_eff (H commuting with sum_k L_k^dag L_k) is diagonalised by a unitary V,
    and the kernels then skip the Gram product.

    Parameters
    ----------
    H_eff : (d, d) complex array, H - (i/2) sum_k L_k^dag L_k

    Returns
    -------
    EigenPropagator

    Raises
    ------
    ValueError
        If H_eff is (nearly) defective (an exceptional point), where exact jump times by
        eigen-decomposition are unreliable.

    Examples
    --------
    >>> p = no_jump_propagator(np.diag([0.0, -0.5j]))
    >>> p.diagonal, p.lam
    (True, array([ 0. +0.j, -0.5+0.j]))
    """
    A = -1j * np.asarray(H_eff, dtype=complex)
    d = A.shape[0]
    normal = is_normal(A)
    n_comp, labels = connected_components(sp.csr_matrix((np.abs(A) + np.abs(A).T) > 0),
                                          directed=False)
    lam = np.empty(d, dtype=complex)
    V = np.zeros((d, d), dtype=complex)
    Vinv = np.zeros((d, d), dtype=complex)
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        try:
            lb, Vb, Vbinv = diagonalise(A[np.ix_(idx, idx)], normal)
        except DefectiveMatrix as exc:
            raise ValueError(
                f"the effective Hamiltonian is (nearly) defective ({exc}): exact jump times by "
                f"eigen-decomposition are not reliable for this model (an exceptional point); "
                f"perturb a parameter slightly") from None
        lam[idx] = lb
        V[np.ix_(idx, idx)] = Vb
        Vinv[np.ix_(idx, idx)] = Vbinv
    lam = np.minimum(lam.real, 0.0) + 1j * lam.imag
    diagonal = n_comp == d          # every block 1 x 1: V is the identity
    if diagonal:
        V = np.eye(d, dtype=complex)
        Vinv = np.eye(d, dtype=complex)
    G = np.eye(d, dtype=complex) if normal else V.conj().T @ V
    return EigenPropagator(lam, np.ascontiguousarray(V), np.ascontiguousarray(Vinv),
                           np.ascontiguousarray(G), bool(normal), bool(diagonal))


@dataclass(frozen=True, eq=False)
class KrylovPropagator:
    """No-jump propagator by adaptive Krylov steps (Arnoldi) of A = -i H_eff, for large,
    sparse or (nearly) defective H_eff.

    Attributes
    ----------
    A : (d, d) array, -i H_eff
    tol : float, largest error of one step, relative to the norm of the ket (the jump time is
        then located to within about this relative accuracy)
    """

    A: np.ndarray
    tol: float


def krylov_propagator(H_eff: np.ndarray, tol: float = KRYLOV_TOL) -> KrylovPropagator:
    """The Krylov no-jump propagator of H_eff (see `KrylovPropagator`).

    Parameters
    ----------
    H_eff : (d, d) array
    tol : float in (0, 1e-3]

    Returns
    -------
    KrylovPropagator

    Raises
    ------
    ValueError
        If tol is not in (0, 1e-3].

    Examples
    --------
    >>> krylov_propagator(np.diag([0.0, -0.5j])).tol
    1e-10
    """
    tol = float(tol)
    if not (0.0 < tol <= 1e-3):
        raise ValueError(f"tol must be in (0, 1e-3], got {tol!r}")
    return KrylovPropagator(-1j * np.asarray(H_eff, dtype=complex), tol)


def choose_propagator(H_eff: np.ndarray, method: str = "auto", tol: float = KRYLOV_TOL):
    """The no-jump propagator of H_eff: `EigenPropagator` or `KrylovPropagator`.

    Parameters
    ----------
    H_eff : (d, d) array
    method : {"auto", "eigen", "krylov"}
        "eigen": exact eigen-decomposition (refused for a (nearly) defective H_eff); "krylov":
        adaptive Krylov steps to tolerance `tol`; "auto": eigen when d <= EIGEN_MAX_DIM and
        H_eff is well conditioned, Krylov otherwise (never a refusal).
    tol : float
        Tolerance of the Krylov steps.

    Returns
    -------
    EigenPropagator or KrylovPropagator

    Raises
    ------
    ValueError
        For an unknown method, or method="eigen" with a (nearly) defective H_eff.

    Examples
    --------
    >>> H = np.array([[0, 0.25], [0.25, -0.5j]])        # an exceptional point
    >>> type(choose_propagator(H)).__name__
    'KrylovPropagator'
    """
    if method not in PROPAGATOR_METHODS:
        raise ValueError(f"method must be one of {PROPAGATOR_METHODS}, got {method!r}")
    d = np.asarray(H_eff).shape[0]
    if method == "krylov" or (method == "auto" and d > EIGEN_MAX_DIM):
        return krylov_propagator(H_eff, tol)
    try:
        return no_jump_propagator(H_eff)
    except ValueError:
        if method == "eigen":
            raise
        return krylov_propagator(H_eff, tol)


def csc(A: np.ndarray, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr) of a dense matrix in CSC form.

    Parameters
    ----------
    A : (n, m) array
    tol : float
        Entries with |A_ij| <= tol * max|A| are dropped.

    Returns
    -------
    data : complex128, indices : int64, indptr : int64 (sorted indices, no explicit zeros)

    Examples
    --------
    >>> csc(np.array([[0, 2], [3, 0]]))[0]
    array([3.+0.j, 2.+0.j])
    """
    A = np.asarray(A, dtype=complex)
    big = np.abs(A) > tol * (np.abs(A).max() if A.size else 0.0)
    M = sp.csc_matrix(np.where(big, A, 0))
    M.eliminate_zeros()
    M.sort_indices()
    return (np.ascontiguousarray(M.data, dtype=complex),
            np.ascontiguousarray(M.indices, dtype=np.int64),
            np.ascontiguousarray(M.indptr, dtype=np.int64))


def csc_stack(As, tol: float = 0.0, dim: int | None = None):
    """CSC forms of a stack of (d, d) matrices sharing one data/indices array.

    Parameters
    ----------
    As : (K, d, d) array (K may be 0)
    tol : float, relative drop tolerance as in `csc`
    dim : int, optional
        d, needed when the stack is empty.

    Returns
    -------
    data, indices : concatenated CSC arrays of all matrices
    indptr : (K, d + 1) int64, row k holding matrix k's column pointers into data/indices

    Examples
    --------
    >>> data, idx, ptr = csc_stack(np.array([np.eye(2), 2 * np.eye(2)]))
    >>> ptr
    array([[0, 1, 2],
           [2, 3, 4]])
    """
    As = np.asarray(As, dtype=complex)
    d = As.shape[1] if As.ndim == 3 and len(As) else int(dim or 0)
    parts = [csc(A, tol) for A in As]
    offs = np.cumsum([0] + [len(p[0]) for p in parts])
    data = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, complex)
    idx = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    ptr = np.array([p[2] + o for p, o in zip(parts, offs)], dtype=np.int64).reshape(len(parts),
                                                                                 d + 1)
    return data, idx, ptr


def initial_mixture(rho0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A density matrix as a mixture of orthonormal kets (its eigen-decomposition).

    Parameters
    ----------
    rho0 : (d, d) density matrix

    Returns
    -------
    cumulative_weights : (n,) increasing, last entry 1 (weights below 1e-14 dropped)
    kets : (n, d) the corresponding eigenvectors, one per row

    Examples
    --------
    >>> cum, kets = initial_mixture(np.diag([0.25, 0.75]).astype(complex))
    >>> cum
    array([0.25, 1.  ])
    """
    w, U = np.linalg.eigh(rho0)
    keep = w > 1e-14
    w, U = w[keep], U[:, keep]
    return np.cumsum(w / w.sum()), np.ascontiguousarray(U.T)


def null_space(A: np.ndarray, rtol: float) -> np.ndarray:
    """Orthonormal basis (columns) of the numerical null space of a dense matrix, by SVD.

    Parameters
    ----------
    A : (m, n) array
    rtol : float, singular values <= rtol * (largest singular value) count as zero

    Returns
    -------
    (n, k) array, k = the dimension of the null space

    Examples
    --------
    >>> null_space(np.array([[1.0, 1.0], [1.0, 1.0]]), 1e-12).shape
    (2, 1)
    """
    u, s, vh = np.linalg.svd(A)
    tol = rtol * max(s[0], 1e-300)
    return vh[s <= tol].conj().T
