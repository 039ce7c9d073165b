"""The model object: dissipative channels tagged by bath, and the Lindblad generator.

    drho/dt = -i[H, rho] + sum_k rate_k (A_k rho A_k^dag - 1/2 {A_k^dag A_k, rho})

A `Channel(op, rate, bath)` has jump operator L_k = sqrt(rate) * op.  Both the deterministic
solvers (deterministic.py) and the quantum-jump kernel (jumps.py) read the same `Lindblad`.

Superoperators use **column stacking**: vec(rho) = rho.reshape(-1, order="F"), so that
vec(A rho B) = (B^T kron A) vec(rho).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import scipy.sparse as sp

from .validation import as_rate, as_square_matrix, check_hermitian

__all__ = ["Channel", "Lindblad", "vec", "unvec", "dissipator", "DetailedBalanceError"]


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


class DetailedBalanceError(ValueError):
    """A quantity needs local detailed balance (and bath temperatures) that the model lacks.

    Raised by `Lindblad.check_detailed_balance` and by everything that calls it (entropy
    production, entropy-flow statistics); the message names each failing bath and why.
    """


class _Temperatures(dict):
    """Read-only {bath: temperature} dict (mutators raise; pickles by value)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("Lindblad.temperatures is read-only; build a new Lindblad instead")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return (_Temperatures, (dict(self),))


def _as_temperatures(temperatures, baths: list[str]) -> _Temperatures:
    """Validate `Lindblad(..., temperatures=...)`: a mapping bath name -> T > 0 (inf allowed)."""
    if temperatures is None:
        return _Temperatures({})
    if not isinstance(temperatures, Mapping):
        raise TypeError(f"temperatures must be a mapping {{bath name: temperature}}, got "
                        f"{type(temperatures).__name__}")
    out = {}
    for b, T in temperatures.items():
        if b not in baths:
            raise ValueError(f"temperatures: unknown bath {b!r}; the model's baths are {baths}")
        if isinstance(T, bool) or not isinstance(T, numbers.Real):
            raise ValueError(f"temperatures[{b!r}] must be a real number, got {T!r}")
        T = float(T)
        if np.isnan(T) or T <= 0:
            raise ValueError(f"temperatures[{b!r}] must be > 0 (np.inf allowed), got {T}")
        out[b] = T
    return _Temperatures((b, out[b]) for b in baths if b in out)     # in bath order


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
    temperatures : mapping {bath name: T}, optional
        Temperature of each thermal bath (k_B = 1; ``np.inf`` allowed, T > 0).  Baths left out
        have no temperature: the dynamics never needs one, but entropy production and
        entropy-flow statistics do (see `check_detailed_balance`).  Stored read-only, in the
        order of `baths`.

    Raises
    ------
    ValueError
        For a non-Hermitian H, a channel of the wrong shape, or bad `temperatures` (an unknown
        bath name, T <= 0 or NaN); the message names the argument.

    Notes
    -----
    Equality is by value: two models are equal when their Hamiltonians are equal arrays
    (same shape, dtype and entries), their channel tuples are equal, channel by channel and
    in the same order (see `Channel`), and their temperatures are equal.  Models are not
    hashable (they hold mutable arrays).

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> n = 0.5                                   # occupation of the bath mode at the gap
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 1 + n, "hot"),
    ...                  qt.Channel(op.sigma_plus(), n, "hot")],
    ...                 temperatures={"hot": 1 / np.log((1 + n) / n)})
    >>> round(L.temperatures["hot"], 6)
    0.910239
    >>> L.check_detailed_balance()                # passes silently
    """

    H: np.ndarray
    channels: tuple = field(default_factory=tuple)
    temperatures: Mapping = None

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
        object.__setattr__(self, "temperatures", _as_temperatures(self.temperatures, self.baths))

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
        return (_same_array(self.H, other.H) and self.channels == other.channels
                and self.temperatures == other.temperatures)

    __hash__ = None

    def with_channels(self, channels: Iterable[Channel]) -> "Lindblad":
        """The same H with new channels; temperatures of the baths still present are kept."""
        chans = tuple(channels)
        baths = {c.bath for c in chans if isinstance(c, Channel)}
        return Lindblad(self.H, chans,
                        {b: T for b, T in self.temperatures.items() if b in baths})

    def __add__(self, other: "Lindblad") -> "Lindblad":
        """Sum of generators on the same space (Hamiltonians add, channel lists concatenate)."""
        if not isinstance(other, Lindblad):
            return NotImplemented
        if other.dim != self.dim:
            raise ValueError(f"cannot add Lindblad models of dimensions {self.dim} and {other.dim}")
        temps = dict(self.temperatures)
        for b, T in other.temperatures.items():
            if temps.setdefault(b, T) != T:
                raise ValueError(f"temperatures: bath {b!r} is at T = {temps[b]} in one model "
                                 f"and T = {T} in the other")
        return Lindblad(self.H + other.H, self.channels + other.channels, temps)

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

    # ------------------------------------------------------------------ detailed balance
    def detailed_balance_violations(self, baths: Iterable[str] | None = None,
                                    rtol: float = 1e-8) -> dict[str, str]:
        """Why each bath fails local detailed balance: {bath: reason}, empty if all pass.

        Bath b at temperature T_b satisfies local detailed balance when every jump of b has a
        defined transition energy omega_k (the energy it moves from the bath into the system,
        `channel_energies`) and the jumps of energy +omega are the reverses of those of
        energy -omega with relative weight e^{-omega/T_b}.  For a single pair this is
        L_up = e^{-omega/(2 T_b)} L_down^dagger, i.e. rate ratio
        gamma_up / gamma_down = e^{-omega/T_b} for operators that are each other's adjoints.
        In general (several channels per energy, any phases or mixing among them) the
        condition checked is, for every omega >= 0,

            sum_{k: omega_k = omega} L_k X L_k^dagger
                = e^{-omega/T_b} sum_{k: omega_k = -omega} L_k^dagger X L_k   for all X,

        to a relative tolerance `rtol` of the bath's largest rate.  Zero-energy channels (e.g.
        dephasing by a Hermitian operator) pass at any temperature; T_b = inf asks for equal up
        and down weights.  A bath without a temperature fails.

        This is what makes -omega_k / T_b the entropy a jump gives to bath b, so that entropy
        flow obeys a fluctuation theorem.  Note that it does not require the jump operators
        to be eigenoperators of H (a "local" master equation can pass); Spohn's inequality
        (non-negative `qtraj.entropy_production_rate`) needs that as well.

        Parameters
        ----------
        baths : iterable of str, optional
            Baths to check (default: all of `baths`).
        rtol : float, default 1e-8
            Relative tolerance.

        Returns
        -------
        dict
            {bath: reason} for each failing bath.

        Raises
        ------
        ValueError
            If `baths` names a bath the model does not have.

        Examples
        --------
        >>> import qtraj as qt
        >>> from qtraj import operators as op
        >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "c"),
        ...                                      qt.Channel(op.sigma_plus(), 0.5, "c")],
        ...                 temperatures={"c": 1.0})
        >>> print(L.detailed_balance_violations()["c"])  # doctest: +ELLIPSIS
        has jumps of energy 1 at rate 0.5, but e^(-1/T) times the rate of the reverse jumps is 0.367...
        """
        names = self.baths if baths is None else list(baths)
        for b in names:
            if b not in self.baths:
                raise ValueError(f"baths: no bath named {b!r}; the model's baths are {self.baths}")
        energies = self.channel_energies()
        out: dict[str, str] = {}
        for b in names:
            T = self.temperatures.get(b)
            if T is None:
                out[b] = ("has no temperature: pass temperatures={" + repr(b) + ": T} "
                          "to Lindblad")
                continue
            ks = [k for k, c in enumerate(self.channels) if c.bath == b and c.rate > 0]
            bad = [k for k in ks if np.isnan(energies[k])]
            if bad:
                c = self.channels[bad[0]]
                out[b] = (f"has a channel ({bad[0]}, {c.name or 'unnamed'}) without a "
                          "transition energy: its operator is not an eigenoperator of H and no "
                          "Channel.energy is given")
                continue
            reason = self._pairing_failure(ks, energies, T, rtol)
            if reason:
                out[b] = reason
        return out

    def _pairing_failure(self, ks: list[int], energies: np.ndarray, T: float,
                         rtol: float) -> str | None:
        """Reason the channels `ks` (one bath, energies defined) fail the pairing at T.

        The two maps X -> sum L X L^dagger are compared on fixed random matrices X (equal maps
        agree on every X; different ones differ on random X with probability one), which
        costs O(d^3) instead of building d^2 x d^2 superoperators."""
        if not ks:
            return None
        d = self.dim
        X = np.random.default_rng(20130731).standard_normal((2, d, d, 2)) @ np.array([1.0, 1j])
        e = energies[ks]
        tol_e = 1e-9 * max(1.0, float(np.max(np.abs(e))))
        scale = max(self.channels[k].rate * float(np.max(np.abs(self.channels[k].op))) ** 2
                    for k in ks) * d * float(np.max(np.abs(X)))
        for w in np.unique(np.round(np.abs(e) / tol_e)) * tol_e:
            A = np.zeros_like(X)
            B = np.zeros_like(X)
            for k, x in zip(ks, e):
                L = self.channels[k].jump_operator
                if abs(x - w) <= tol_e:
                    A += L @ X @ L.conj().T
                if abs(x + w) <= tol_e:
                    B += L.conj().T @ X @ L
            f = float(np.exp(-w / T))
            if np.max(np.abs(A - f * B)) <= rtol * scale:
                continue
            na, nb = np.linalg.norm(A), np.linalg.norm(B)
            if w == 0:
                return "has zero-energy jumps that are not closed under the adjoint"
            if na > 0 and nb > 0 and abs(np.vdot(A, B)) < (1 - 1e-9) * na * nb:
                return (f"has jumps of energy {w:.6g} that are not the reverses (adjoint "
                        f"operators) of its jumps of energy {-w:.6g}")
            wa = max(self.channels[k].rate for k, x in zip(ks, e) if abs(x - w) <= tol_e) \
                if na > 0 else 0.0
            wb = max(self.channels[k].rate for k, x in zip(ks, e) if abs(x + w) <= tol_e) \
                if nb > 0 else 0.0
            return (f"has jumps of energy {w:.6g} at rate {wa:.6g}, but e^(-{w:.6g}/T) times "
                    f"the rate of the reverse jumps is {f * wb:.6g} (T = {T:.6g})")
        return None

    def check_detailed_balance(self, baths: Iterable[str] | None = None,
                               rtol: float = 1e-8) -> None:
        """Raise `DetailedBalanceError` unless the baths satisfy local detailed balance.

        See `detailed_balance_violations` for the condition.

        Parameters
        ----------
        baths : iterable of str, optional
            Baths to check (default: all).
        rtol : float, default 1e-8
            Relative tolerance.

        Raises
        ------
        DetailedBalanceError
            Naming every failing bath and the reason.

        Examples
        --------
        >>> import qtraj as qt
        >>> from qtraj import operators as op
        >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "c")])
        >>> L.check_detailed_balance()
        Traceback (most recent call last):
        ...
        qtraj.lindblad.DetailedBalanceError: local detailed balance fails: bath 'c' has no \
temperature: pass temperatures={'c': T} to Lindblad
        """
        bad = self.detailed_balance_violations(baths, rtol)
        if bad:
            raise DetailedBalanceError("local detailed balance fails: " + "; ".join(
                f"bath {b!r} {r}" for b, r in bad.items()))

    def __repr__(self) -> str:
        t = f", temperatures={dict(self.temperatures)}" if self.temperatures else ""
        return f"Lindblad(dim={self.dim}, channels={len(self.channels)}, baths={self.baths}{t})"

    @classmethod
    def from_qutip(cls, H, c_ops=(), bath: str = "bath", temperatures=None) -> "Lindblad":
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
        temperatures : dict, optional
            {bath: temperature}, as for `Lindblad`.

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
        return cls(H, [Channel(c, 1.0, bath=bath) for c in ops], temperatures=temperatures)
