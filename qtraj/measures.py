"""Coherence, entropy and correlation measures of density matrices (all in nats, hbar = k_B = 1).

Definitions (Manzano, Silva & Parrondo (2019), PRE 99, 042135, Eqs. 1-4):

- von Neumann entropy S(rho) = -Tr rho ln rho, relative entropy S(rho||sigma) = Tr rho (ln rho - ln sigma).
- l1 coherence C_l1(rho) = sum_{i != j} |rho_ij| in a chosen basis.
- Relative entropy of coherence (REC), Eq. (1): C(rho) = S(rho||rho_bar) = S(rho_bar) - S(rho), with
  rho_bar the fully dephased state (diagonal of rho in the computational basis), Eq. (2).
- Relative entropy of asymmetry (REA), Eq. (3): A(rho) = S(rho_tilde) - S(rho), with the
  partially dephased state rho_tilde = sum_j P_j rho P_j, P_j the spectral projectors of H, Eq. (4).
  Coherences inside degenerate energy eigenspaces survive, so C(rho) >= A(rho) >= 0, with equality
  C = A when H is non-degenerate and diagonal.
- Mutual information I(A:B) = S(rho_A) + S(rho_B) - S(rho).
- Qubit (index 0 = ground |g>, 1 = excited |e>): Bloch vector x = 2 Re rho_01, y = -2 Im rho_01,
  z = rho_11 - rho_00; effective temperature T = omega / ln(p_g / p_e) (Gibbs ratio
  p_e / p_g = exp(-omega / T)), negative for population inversion.

Every function validates its density-matrix arguments (square, finite, Hermitian, unit trace,
positive semidefinite) and raises ValueError naming the problem.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .operators import partial_trace
from .validation import as_density_matrix, as_square_matrix, check_hermitian

__all__ = [
    "l1_coherence", "von_neumann_entropy", "dephase", "relative_entropy_of_coherence",
    "relative_entropy_of_asymmetry", "mutual_information", "bloch_vector",
    "effective_temperature", "relative_entropy",
]

_EIG_TOL = 1e-12  # eigenvalues below this are treated as zero (support / kernel decisions)


def _entropy_of_eigs(p: np.ndarray) -> float:
    p = np.clip(np.real(p), 0.0, None)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def l1_coherence(rho: np.ndarray, basis: np.ndarray | None = None) -> float:
    """Sum of |rho_ij| over i != j, in the computational basis or in the columns of unitary `basis`."""
    rho = as_density_matrix(rho, "rho")
    if basis is not None:
        u = as_square_matrix(basis, "basis", rho.shape[0])
        if not np.allclose(u.conj().T @ u, np.eye(u.shape[0]), atol=1e-8):
            raise ValueError("basis is not unitary (its columns must be an orthonormal basis)")
        rho = u.conj().T @ rho @ u
    return float(np.sum(np.abs(rho)) - np.sum(np.abs(np.diag(rho))))


def von_neumann_entropy(rho: np.ndarray) -> float:
    """S(rho) = -Tr rho ln rho in nats (0 ln 0 = 0; tiny negative eigenvalues are clipped)."""
    rho = as_density_matrix(rho, "rho")
    return _entropy_of_eigs(np.linalg.eigvalsh(0.5 * (rho + rho.conj().T)))


def dephase(rho: np.ndarray, H: np.ndarray | None = None, rtol: float = 1e-9) -> np.ndarray:
    """Dephased state: the diagonal of rho (H None), or sum_j P_j rho P_j over H's eigenspaces.

    Eigenvalues of H closer than rtol * max|eigenvalue| are treated as one degenerate eigenspace,
    whose internal coherences are kept (block dephasing, Manzano et al. (2019) Eq. 4).
    """
    rho = as_density_matrix(rho, "rho")
    if H is None:
        return np.diag(np.diag(rho))
    h = as_square_matrix(H, "H", rho.shape[0])
    check_hermitian(h, "H")
    w, v = np.linalg.eigh(0.5 * (h + h.conj().T))  # ascending eigenvalues
    tol = rtol * float(np.max(np.abs(w)))
    labels = np.concatenate([[0], np.cumsum(np.diff(w) > tol)])  # eigenspace label per eigenvector
    r = v.conj().T @ rho @ v
    r = np.where(labels[:, None] == labels[None, :], r, 0.0)
    return v @ r @ v.conj().T


def relative_entropy_of_coherence(rho: np.ndarray) -> float:
    """REC C(rho) = S(diag rho) - S(rho) (Manzano et al. 2019, Eq. 1), computational basis, nats."""
    rho = as_density_matrix(rho, "rho")
    return max(0.0, von_neumann_entropy(dephase(rho)) - von_neumann_entropy(rho))


def relative_entropy_of_asymmetry(rho: np.ndarray, H: np.ndarray) -> float:
    """REA A(rho) = S(sum_j P_j rho P_j) - S(rho), P_j spectral projectors of H (Eqs. 3-4), nats."""
    rho = as_density_matrix(rho, "rho")
    return max(0.0, von_neumann_entropy(dephase(rho, H)) - von_neumann_entropy(rho))


def mutual_information(rho: np.ndarray, dims: Sequence[int], part_a: Sequence[int]) -> float:
    """I(A:B) = S(rho_A) + S(rho_B) - S(rho); subsystems `part_a` form A, the rest B."""
    rho = as_density_matrix(rho, "rho")
    dims = [int(d) for d in dims]
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"dims must be a non-empty list of positive integers, got {dims}")
    if int(np.prod(dims)) != rho.shape[0]:
        raise ValueError(f"dims {dims} multiply to {int(np.prod(dims))}, but rho has dimension "
                         f"{rho.shape[0]}")
    part_a = [int(k) for k in part_a]
    if len(set(part_a)) != len(part_a) or any(not 0 <= k < len(dims) for k in part_a):
        raise ValueError(f"part_a must list distinct subsystem indices in [0, {len(dims)}), "
                         f"got {part_a}")
    part_b = [k for k in range(len(dims)) if k not in part_a]
    if not part_a or not part_b:
        raise ValueError("part_a must be a non-empty proper subset of the subsystems")
    s_a = von_neumann_entropy(partial_trace(rho, dims, part_a))
    s_b = von_neumann_entropy(partial_trace(rho, dims, part_b))
    return s_a + s_b - von_neumann_entropy(rho)


def bloch_vector(rho: np.ndarray) -> np.ndarray:
    """Qubit Bloch vector (x, y, z) = (2 Re rho_01, -2 Im rho_01, rho_11 - rho_00)."""
    rho = as_density_matrix(rho, "rho", dim=2)
    r01 = rho[0, 1]
    return np.array([2 * r01.real, -2 * r01.imag, (rho[1, 1] - rho[0, 0]).real])


def effective_temperature(rho: np.ndarray, omega: float) -> float:
    """T = omega / ln(p_g / p_e) of a qubit with gap omega > 0.

    +inf for equal populations (|p_g - p_e| <= 1e-12), negative for population inversion.
    ValueError if rho is not 2x2 or a population is zero or negative (T = 0 is not representable).
    """
    rho = as_density_matrix(rho, "rho", dim=2)
    omega = float(omega)
    if not np.isfinite(omega) or omega <= 0:
        raise ValueError(f"omega must be a finite positive gap, got {omega}")
    p_g, p_e = rho[0, 0].real, rho[1, 1].real
    if p_g <= 0 or p_e <= 0:
        raise ValueError(f"populations must be positive for a finite temperature, "
                         f"got p_g = {p_g:.3g}, p_e = {p_e:.3g}")
    if abs(p_g - p_e) <= 1e-12:
        return float("inf")
    return float(omega / np.log(p_g / p_e))


def relative_entropy(rho: np.ndarray, sigma: np.ndarray) -> float:
    """S(rho||sigma) = Tr rho (ln rho - ln sigma) in nats; +inf if supp rho is not inside supp sigma."""
    rho = as_density_matrix(rho, "rho")
    sigma = as_density_matrix(sigma, "sigma", dim=rho.shape[0])
    q, v = np.linalg.eigh(0.5 * (sigma + sigma.conj().T))
    # weight of rho on each eigenvector of sigma: <v_j|rho|v_j>
    w = np.real(np.einsum("ij,ik,kj->j", v.conj(), rho, v))
    kernel = q <= _EIG_TOL
    if np.any(w[kernel] > 1e-10):
        return float("inf")
    cross = float(np.sum(w[~kernel] * np.log(q[~kernel])))
    return max(0.0, -von_neumann_entropy(rho) - cross)
