"""Qubit and spin operators, tensor products and collective operators.

Conventions: index 0 is the ground state |g> = |0>, index 1 the excited state
|e> = |1>; sigma_minus = |0><1|, sigma_plus = |1><0|, sigma_z = |1><1| - |0><0|.  Tensor
products are ordered left to right as the subsystems are listed (atom 1 is the leftmost factor).
"""

from __future__ import annotations

from functools import reduce
from typing import Sequence

import numpy as np

__all__ = [
    "basis", "ket2dm", "sigma_minus", "sigma_plus", "sigma_z", "sigma_x", "sigma_y",
    "identity", "kron", "embed", "collective", "number_op", "thermal_occupation",
    "dagger", "partial_trace", "destroy",
]


def basis(d: int, i: int) -> np.ndarray:
    """Ket |i> of a d-level system (complex column of length d)."""
    v = np.zeros(d, dtype=complex)
    v[i] = 1.0
    return v


def ket2dm(psi: np.ndarray) -> np.ndarray:
    """|psi><psi| of a (normalised) ket."""
    psi = np.asarray(psi, dtype=complex).ravel()
    return np.outer(psi, psi.conj())


def dagger(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).conj().T


def sigma_minus() -> np.ndarray:
    """Lowering operator |g><e| = |0><1|."""
    return np.array([[0, 1], [0, 0]], dtype=complex)


def sigma_plus() -> np.ndarray:
    """Raising operator |e><g| = |1><0|."""
    return np.array([[0, 0], [1, 0]], dtype=complex)


def sigma_z() -> np.ndarray:
    """|e><e| - |g><g| (excited up)."""
    return np.array([[-1, 0], [0, 1]], dtype=complex)


def sigma_x() -> np.ndarray:
    return np.array([[0, 1], [1, 0]], dtype=complex)


def sigma_y() -> np.ndarray:
    """Pauli y with <sigma_y> = -2 Im rho_01 (Bloch vector x = 2 Re rho_01, y = -2 Im rho_01)."""
    return np.array([[0, -1j], [1j, 0]], dtype=complex)


def number_op() -> np.ndarray:
    """|e><e| of a qubit."""
    return np.array([[0, 0], [0, 1]], dtype=complex)


def destroy(d: int) -> np.ndarray:
    """Annihilation operator a of a harmonic mode truncated to the Fock states 0..d-1
    (a|n> = sqrt(n)|n-1>)."""
    return np.diag(np.sqrt(np.arange(1, d, dtype=float)), 1).astype(complex)


def identity(d: int) -> np.ndarray:
    return np.eye(d, dtype=complex)


def kron(*ops: np.ndarray) -> np.ndarray:
    """Tensor product ops[0] (x) ops[1] (x) ... (leftmost = first subsystem)."""
    return reduce(np.kron, [np.asarray(o, dtype=complex) for o in ops])


def embed(op: np.ndarray, site: int, dims: Sequence[int]) -> np.ndarray:
    """Operator `op` acting on subsystem `site` of a product space with local dimensions `dims`."""
    if not 0 <= site < len(dims):
        raise ValueError(f"site {site} out of range for {len(dims)} subsystems")
    factors = [np.eye(d, dtype=complex) for d in dims]
    factors[site] = np.asarray(op, dtype=complex)
    return kron(*factors)


def collective(op: np.ndarray, n: int, weights: Sequence[complex] | None = None) -> np.ndarray:
    """sum_j w_j op_j over n identical qubits (default w_j = 1: e.g. J^- = sum_j sigma_j^-)."""
    w = np.ones(n) if weights is None else np.asarray(weights)
    dims = [op.shape[0]] * n
    return sum(w[j] * embed(op, j, dims) for j in range(n))


def thermal_occupation(omega: float, beta: float) -> float:
    """Bose-Einstein occupation of a mode of frequency `omega` at inverse temperature `beta`.

    n = 1 / (exp(beta omega) - 1)   (hbar = k_B = 1),

    evaluated as exp(-x) / (1 - exp(-x)) with x = beta omega and `expm1`, so it stays accurate
    at high temperature (x << 1, where n ~ 1/x - 1/2) and goes to 0 without overflow at low
    temperature.

    Parameters
    ----------
    omega : float
        Mode frequency (energy quantum), positive and finite.
    beta : float
        Inverse temperature 1/T, positive; ``np.inf`` (zero temperature) gives 0.  For a
        temperature T pass ``1 / T``.

    Returns
    -------
    float
        The mean number of quanta, n >= 0.

    Raises
    ------
    ValueError
        If `omega` is not positive and finite, or `beta` is not positive (beta = 0, infinite
        temperature, makes n diverge) or is NaN, or either is not a real number, or
        beta * omega is so small that n overflows.

    Examples
    --------
    >>> round(thermal_occupation(1.0, np.log(2.0)), 12)      # exp(beta omega) = 2
    1.0
    >>> thermal_occupation(1.0, np.inf)
    0.0
    """
    values = {}
    for name, x in (("omega", omega), ("beta", beta)):
        if isinstance(x, (bool, np.bool_, str, bytes)):
            raise ValueError(f"{name} must be a real number, got {x!r}")
        try:
            values[name] = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {x!r}") from None
    w, b = values["omega"], values["beta"]
    if not (np.isfinite(w) and w > 0):
        raise ValueError(f"omega must be positive and finite, got {omega!r}")
    if not b > 0:                                   # also catches NaN
        raise ValueError(f"beta must be positive (np.inf for zero temperature), got {beta!r}")
    x = w * b
    with np.errstate(over="ignore"):
        n = float(np.exp(-x) / -np.expm1(-x))
    if not np.isfinite(n):
        raise ValueError(f"beta * omega = {x:.3g} is too small: the occupation overflows")
    return n


def partial_trace(rho: np.ndarray, dims: Sequence[int], keep: Sequence[int]) -> np.ndarray:
    """Reduced density matrix on the subsystems `keep` (in the order given)."""
    dims = list(dims)
    n = len(dims)
    keep = list(keep)
    rho = np.asarray(rho).reshape(dims + dims)
    trace_out = [i for i in range(n) if i not in keep]
    # move kept row indices first, then kept column indices, traced pairs last
    perm = keep + [n + k for k in keep] + trace_out + [n + t for t in trace_out]
    rho = rho.transpose(perm)
    dk = int(np.prod([dims[k] for k in keep])) if keep else 1
    dt = int(np.prod([dims[t] for t in trace_out])) if trace_out else 1
    rho = rho.reshape(dk, dk, dt, dt)
    return np.einsum("abcc->ab", rho)
