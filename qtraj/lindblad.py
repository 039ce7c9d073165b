"""The model object: dissipative channels tagged by bath, and the Lindblad generator.

    drho/dt = -i[H, rho] + sum_k rate_k (A_k rho A_k^dag - 1/2 {A_k^dag A_k, rho})

A `Channel(op, rate, bath)` has jump operator L_k = sqrt(rate) * op.  Both the deterministic
solvers (deterministic.py) and the quantum-jump kernel (jumps.py) read the same `Lindblad`.

Superoperators use **column stacking**: vec(rho) = rho.reshape(-1, order="F"), so that
vec(A rho B) = (B^T kron A) vec(rho).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import scipy.sparse as sp

from .validation import as_rate, as_square_matrix, check_hermitian

__all__ = ["Channel", "Lindblad", "vec", "unvec", "dissipator"]


def vec(rho: np.ndarray) -> np.ndarray:
    """Column-stacking vectorisation."""
    return np.asarray(rho).reshape(-1, order="F")


def unvec(v: np.ndarray, d: int | None = None) -> np.ndarray:
    """Inverse of `vec`; also works on a stack of vectors (..., d*d) -> (..., d, d)."""
    v = np.asarray(v)
    if d is None:
        d = int(round(np.sqrt(v.shape[-1])))
    return v.reshape(v.shape[:-1] + (d, d)).swapaxes(-1, -2)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


def dissipator(L: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """D[L](rho) = L rho L^dag - 1/2 {L^dag L, rho}."""
    LdL = L.conj().T @ L
    return L @ rho @ L.conj().T - 0.5 * (LdL @ rho + rho @ LdL)


@dataclass(frozen=True, eq=False)
class Channel:
    """A dissipative channel: jump operator sqrt(rate) * op, belonging to `bath`.

    `energy` (optional) is the energy one jump moves from the bath into the system; it is used
    to count heat from jump records.  Left as None, it is inferred (when possible) from the
    Hamiltonian's eigen-energies by `Lindblad.channel_energies()`.

    Equality is by value: two channels are equal when their operators have the same shape,
    dtype and entries (exactly, `np.array_equal`) and rate, bath, energy and name are equal.
    Channels are not hashable (they hold a mutable array).
    """

    op: np.ndarray
    rate: float = 1.0
    bath: str = "bath"
    energy: float | None = None
    name: str | None = None

    def __post_init__(self):
        op = as_square_matrix(self.op, "Channel op")
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "rate", as_rate(self.rate, "Channel rate"))
        if not isinstance(self.bath, str):
            raise TypeError(f"Channel bath must be a string, got {type(self.bath).__name__}")
        if self.energy is not None:
            e = float(self.energy)
            if not np.isfinite(e):
                raise ValueError("Channel energy must be finite")
            object.__setattr__(self, "energy", e)

    @property
    def jump_operator(self) -> np.ndarray:
        """L = sqrt(rate) * op."""
        return np.sqrt(self.rate) * self.op

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return ((self.rate, self.bath, self.energy, self.name)
                == (other.rate, other.bath, other.energy, other.name)
                and _same_array(self.op, other.op))

    __hash__ = None


@dataclass(frozen=True, eq=False)
class Lindblad:
    """Time-independent Lindblad generator: Hamiltonian H (d, d) plus channels.

    Parameters
    ----------
    H : (d, d) Hermitian array (use np.zeros((d, d)) for no Hamiltonian).
    channels : iterable of Channel, all of dimension d.  Channels with rate 0 are kept (they
        never jump).

    Equality is by value: two models are equal when their Hamiltonians are equal arrays
    (same shape, dtype and entries) and their channel tuples are equal, channel by channel and
    in the same order (see `Channel`).  Models are not hashable (they hold mutable arrays).
    """

    H: np.ndarray
    channels: tuple = field(default_factory=tuple)

    def __post_init__(self):
        H = as_square_matrix(self.H, "H")
        check_hermitian(H, "H")
        H = 0.5 * (H + H.conj().T)
        object.__setattr__(self, "H", H)
        chans = tuple(self.channels) if self.channels is not None else ()
        for k, c in enumerate(chans):
            if not isinstance(c, Channel):
                raise TypeError(f"channels[{k}] is a {type(c).__name__}, expected qtraj.Channel")
            if c.op.shape != H.shape:
                raise ValueError(f"channels[{k}] (bath {c.bath!r}) has operator shape {c.op.shape}, "
                                 f"but H has shape {H.shape}")
        object.__setattr__(self, "channels", chans)

    # ------------------------------------------------------------------ basic data
    @property
    def dim(self) -> int:
        return self.H.shape[0]

    @property
    def baths(self) -> list[str]:
        """Bath names in order of first appearance."""
        out: list[str] = []
        for c in self.channels:
            if c.bath not in out:
                out.append(c.bath)
        return out

    def jump_operators(self) -> np.ndarray:
        """(K, d, d) array of L_k = sqrt(rate_k) op_k."""
        if not self.channels:
            return np.zeros((0, self.dim, self.dim), dtype=complex)
        return np.array([c.jump_operator for c in self.channels])

    def effective_hamiltonian(self) -> np.ndarray:
        """H_eff = H - i/2 sum_k L_k^dag L_k (no-jump evolution of the unravelling)."""
        G = np.zeros_like(self.H)
        for L in self.jump_operators():
            G += L.conj().T @ L
        return self.H - 0.5j * G

    def __eq__(self, other) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _same_array(self.H, other.H) and self.channels == other.channels

    __hash__ = None

    def with_channels(self, channels: Iterable[Channel]) -> "Lindblad":
        return Lindblad(self.H, tuple(channels))

    def __add__(self, other: "Lindblad") -> "Lindblad":
        """Sum of generators on the same space (Hamiltonians add, channel lists concatenate)."""
        if not isinstance(other, Lindblad):
            return NotImplemented
        if other.dim != self.dim:
            raise ValueError(f"cannot add Lindblad models of dimensions {self.dim} and {other.dim}")
        return Lindblad(self.H + other.H, self.channels + other.channels)

    # ------------------------------------------------------------------ action on states
    def rhs(self, rho: np.ndarray) -> np.ndarray:
        """L(rho) computed directly (no superoperator)."""
        out = -1j * (self.H @ rho - rho @ self.H)
        for c in self.channels:
            out = out + dissipator(c.jump_operator, rho)
        return out

    def dissipator_of(self, bath: str, rho: np.ndarray) -> np.ndarray:
        """D_bath(rho): the part of the generator due to one bath."""
        if bath not in self.baths:
            raise ValueError(f"no bath named {bath!r}; baths are {self.baths}")
        out = np.zeros_like(rho, dtype=complex)
        for c in self.channels:
            if c.bath == bath:
                out = out + dissipator(c.jump_operator, rho)
        return out

    # ------------------------------------------------------------------ superoperators
    def liouvillian(self, sparse: bool = False):
        """Superoperator of the generator in the column-stacking convention.

        L = -i (I kron H - H^T kron I) + sum_k [conj(L_k) kron L_k - 1/2 I kron L_k^dag L_k
        - 1/2 (L_k^dag L_k)^T kron I].  Returns a dense array, or scipy CSR if sparse=True.
        """
        d = self.dim
        if sparse:
            kr, eye = sp.kron, sp.identity(d, dtype=complex, format="csr")
            H = sp.csr_matrix(self.H)
            Lsup = -1j * (kr(eye, H) - kr(H.T, eye))
            for L in self.jump_operators():
                Ls = sp.csr_matrix(L)
                LdL = (Ls.conj().T @ Ls).tocsr()
                Lsup = Lsup + kr(Ls.conj(), Ls) - 0.5 * kr(eye, LdL) - 0.5 * kr(LdL.T, eye)
            return sp.csr_matrix(Lsup)
        eye = np.eye(d, dtype=complex)
        Lsup = -1j * (np.kron(eye, self.H) - np.kron(self.H.T, eye))
        for L in self.jump_operators():
            LdL = L.conj().T @ L
            Lsup += np.kron(L.conj(), L) - 0.5 * np.kron(eye, LdL) - 0.5 * np.kron(LdL.T, eye)
        return Lsup

    # ------------------------------------------------------------------ energetics
    def channel_energies(self, H: np.ndarray | None = None) -> np.ndarray:
        """Energy each jump moves from its bath into the system, per channel.

        Uses `Channel.energy` when given; otherwise, if the jump operator maps every eigenstate of
        H (default: the model's H) onto eigenstates with one fixed energy difference, that
        difference; otherwise NaN (heat of that channel is not defined jump by jump).
        """
        Hm = self.H if H is None else np.asarray(H, dtype=complex)
        w, U = np.linalg.eigh(Hm)
        out = np.full(len(self.channels), np.nan)
        for k, c in enumerate(self.channels):
            if c.energy is not None:
                out[k] = c.energy
                continue
            A = U.conj().T @ c.op @ U
            rows, cols = np.nonzero(np.abs(A) > 1e-12 * max(1.0, np.abs(A).max()))
            if rows.size == 0:
                out[k] = 0.0
                continue
            gaps = w[rows] - w[cols]
            if np.ptp(gaps) <= 1e-9 * max(1.0, np.abs(w).max()):
                out[k] = float(np.mean(gaps))
        return out

    def __repr__(self) -> str:
        return f"Lindblad(dim={self.dim}, channels={len(self.channels)}, baths={self.baths})"

    @classmethod
    def from_qutip(cls, H, c_ops=(), bath: str = "bath") -> "Lindblad":
        """A model from QuTiP's convention: a Hamiltonian and collapse operators with the rates
        folded in (C_k = sqrt(gamma_k) A_k), as passed to ``qutip.mesolve(H, rho0, t, c_ops)``.

        qutip is not imported: `H` and the `c_ops` may be ``qutip.Qobj`` (anything with a
        ``full()`` method), numpy arrays or scipy.sparse matrices.  Each collapse operator
        becomes a `Channel(C_k, rate=1, bath=bath)`, so the jump operators, and with them every
        solver's result, are exactly QuTiP's.

        Parameters
        ----------
        H : (d, d) Hermitian operator
        c_ops : iterable of (d, d) operators
        bath : str
            Bath name given to every channel (for heat records); name channels individually by
            building `Channel` objects instead.

        Returns
        -------
        Lindblad

        Raises
        ------
        ValueError
            If H is not Hermitian or an operator has the wrong shape (naming it).

        Examples
        --------
        >>> import numpy as np
        >>> a = np.diag(np.sqrt(np.arange(1, 4)), 1)                  # destroy(4)
        >>> L = Lindblad.from_qutip(a.T @ a, [np.sqrt(0.5) * a])
        >>> L.channels[0].rate, L.dim
        (1.0, 4)
        """
        H = as_square_matrix(H, "H")
        ops = [as_square_matrix(c, f"c_ops[{k}]", H.shape[0]) for k, c in enumerate(c_ops)]
        return cls(H, [Channel(c, 1.0, bath=bath) for c in ops])
