"""Counting statistics of heat and entropy flow: distributions, generating functions, cumulants.

From trajectories: `window_heat` sums, per trajectory, the heat of the jumps of one bath in
[t0, t1) from the jump records of `mcsolve(..., keep_jumps=True)` (jump energies from the
model's `channel_energies()`) or of `Protocol.simulate(..., keep_jumps=True)` (which records
each jump's heat); `cycle_heat` gives the heat per trajectory and cycle of a protocol run;
`heat_distribution` turns samples into probabilities with binomial standard errors.

Exact: everything builds on one tilted (counting-field) generator, `TiltedGenerator`,
L(s) = L + sum_k (e^{s x_k} - 1) J_k,  J_k rho = L_k rho L_k^dag,
where x_k is what a jump of channel k adds to the counted quantity.
`exact_heat_distribution` takes x_k = m_k = E_k / unit (integers) and s = i chi:
Z(chi) = Tr[exp(L(i chi) t) rho0] is the generating function of the net count m, and P(m) is
its discrete Fourier inversion; for a `Protocol` the tilted propagators of the segments are
chained.  Only transition-energy heat has a distribution: the state-dependent estimator
(heat="expected") is a mean estimator, not a per-jump energy.

Long-time statistics: the largest real eigenvalue theta(s) of L(s) is the scaled cumulant
generating function lim (1/t) ln <e^{s X(t)}> (for a `Protocol`, ln of the dominant eigenvalue
of the tilted cycle map, per unit time).  `heat_scgf` counts a bath's heat (x_k = E_k),
`entropy_flow_scgf` the entropy flow to the baths (x_k = -E_k / T_b, sign-flipped so that the
Gallavotti-Cohen symmetry reads theta(lambda) = theta(1 - lambda)); `heat_cumulants` and
`entropy_flow_cumulants` give theta'(0) and theta''(0) exactly by perturbation theory of the
dominant eigenvalue, and `thermodynamic_uncertainty_ratio` combines them.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .deterministic import NonUniqueSteadyState
from .lindblad import Lindblad, vec
from .linalg import null_space
from .validation import as_state

__all__ = ["window_heat", "cycle_heat", "heat_distribution", "exact_heat_distribution",
           "TiltedGenerator", "heat_increments", "entropy_flow_increments", "heat_scgf",
           "entropy_flow_scgf", "heat_cumulants", "entropy_flow_cumulants",
           "thermodynamic_uncertainty_ratio"]


def _bath_index(result, bath) -> int:
    baths = list(result.meta.get("baths", []))
    if bath not in baths:
        raise ValueError(f"no bath {bath!r} in this result; baths are {baths}")
    return baths.index(bath)


def _jump_energies(result, model):
    """(traj, time, bath index, heat) of every recorded jump."""
    rec = result.records
    if "jump_time" not in rec:
        raise ValueError("the result has no jump records: simulate with keep_jumps=True")
    if "jump_energy" in rec:                      # protocol runs record each jump's heat
        if result.meta.get("heat") == "expected":
            raise ValueError("heat='expected' jump values are an estimator of the mean heat, "
                             "not a distribution: simulate with heat='transition'")
        return rec["jump_traj"], rec["jump_time"], rec["jump_bath"], rec["jump_energy"]
    if model is None:
        raise ValueError("pass the Lindblad model whose channel energies the jumps carry")
    ch = np.asarray(rec["jump_channel"], dtype=int)
    energies = model.channel_energies()
    bidx = np.array([model.baths.index(c.bath) for c in model.channels], dtype=int)
    return rec["jump_traj"], rec["jump_time"], bidx[ch], energies[ch]


def window_heat(result, bath: str, t0: float | None = None, t1: float | None = None,
                model: Lindblad | None = None) -> np.ndarray:
    """Heat from `bath` into the system of each trajectory in [t0, t1), shape (ntraj,).

    Trajectories without jumps in the window contribute 0.  NaN if a jump of the bath has an
    undefined energy."""
    b = _bath_index(result, bath)
    traj, t, jb, e = _jump_energies(result, model)
    lo = -np.inf if t0 is None else t0
    hi = np.inf if t1 is None else t1
    sel = (jb == b) & (t >= lo) & (t < hi)
    return np.bincount(np.asarray(traj)[sel], weights=np.asarray(e)[sel],
                       minlength=result.ntraj)[: result.ntraj]


def cycle_heat(result, bath: str, segment: int | None = None) -> np.ndarray:
    """Heat from `bath` per trajectory and cycle of a protocol run, shape (ntraj, n_cycles)
    (only the jumps of one segment if `segment` is given)."""
    b = _bath_index(result, bath)
    rec = result.records
    if "jump_cycle" not in rec:
        raise ValueError("needs a Protocol.simulate result with keep_jumps=True")
    if result.meta.get("heat") == "expected":
        raise ValueError("simulate with heat='transition' for heat distributions")
    nc = int(result.meta["n_cycles"])
    sel = rec["jump_bath"] == b
    if segment is not None:
        sel &= rec["jump_segment"] == segment
    flat = np.asarray(rec["jump_traj"])[sel] * nc + np.asarray(rec["jump_cycle"])[sel]
    out = np.bincount(flat, weights=np.asarray(rec["jump_energy"])[sel],
                      minlength=result.ntraj * nc)
    return out[: result.ntraj * nc].reshape(result.ntraj, nc)


def heat_distribution(samples, unit: float | None = None):
    """(values, probabilities, standard errors) of heat samples.

    With `unit`, samples are put on the lattice m * unit (they must lie on it to 1e-6 of a
    unit); otherwise their distinct values (to 12 significant digits) are used.  Standard
    error of each probability: sqrt(p (1 - p) / N)."""
    x = np.asarray(samples, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("heat samples must be finite and non-empty")
    if unit is not None:
        m = np.round(x / unit)
        if np.max(np.abs(x / unit - m)) > 1e-6:
            raise ValueError(f"heat samples are not multiples of unit={unit}")
        keys, counts = np.unique(m.astype(np.int64), return_counts=True)
        values = keys * float(unit)
    else:
        values, counts = np.unique(np.round(x, 12 - int(np.floor(np.log10(
            max(np.max(np.abs(x)), 1e-300))))), return_counts=True)
    p = counts / x.size
    return values, p, np.sqrt(p * (1 - p) / x.size)


# --------------------------------------------------------------------------- tilting
class TiltedGenerator:
    """The counting-field (tilted) generator of a Lindblad model, L(s) = L + sum_k (e^{s x_k} - 1) J_k.

    Every jump of channel k adds x_k to a counted quantity X (its heat, its entropy, a net
    number of quanta); J_k rho = L_k rho L_k^dagger is the jump part of L, so L(0) = L.  Then
    Z(s, t) = Tr[exp(L(s) t) rho0] = <e^{s X(t)}> is the moment generating function of X over
    [0, t) (s = i chi gives the characteristic function), and the largest real eigenvalue of
    L(s), theta(s), is the scaled cumulant generating function lim_t (1/t) ln <e^{s X(t)}>.
    This is the one tilted generator of the package: heat distributions, heat and entropy-flow
    statistics all build on it.

    Parameters
    ----------
    model : Lindblad
        The model (its dense Liouvillian is built once).
    increments : (K,) array_like
        x_k for each of the model's K channels, finite (0 for channels not counted).

    Raises
    ------
    ValueError
        If `increments` does not have one finite value per channel.
    TypeError
        If `model` is not a `Lindblad`.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import TiltedGenerator
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0),
    ...                                      qt.Channel(op.sigma_plus(), 1.0)])
    >>> tg = TiltedGenerator(L, [1.0, 1.0])           # count every jump
    >>> bool(np.allclose(tg(0.0), L.liouvillian()))
    True
    >>> round(tg.scgf(np.log(2.0)), 12)              # e^s - 1: jumps at rate 1
    1.0
    """

    def __init__(self, model: Lindblad, increments):
        if not isinstance(model, Lindblad):
            raise TypeError(f"model must be a qtraj.Lindblad, got {type(model).__name__}")
        x = np.asarray(increments, dtype=float)
        if x.shape != (len(model.channels),) or not np.all(np.isfinite(x)):
            raise ValueError(f"increments must hold one finite value per channel "
                             f"({len(model.channels)}), got shape {x.shape}")
        self.model = model
        self.increments = x
        self.L = model.liouvillian()
        self._jumps: dict[float, np.ndarray] = {}        # J summed over channels of equal x
        for xk, c in zip(x, model.channels):
            if xk != 0 and c.rate > 0:
                Lk = c.jump_operator
                J = np.kron(Lk.conj(), Lk)
                self._jumps[xk] = self._jumps[xk] + J if xk in self._jumps else J

    def __call__(self, s) -> np.ndarray:
        """Dense L(s) (column stacking), for a real or complex counting field s."""
        out = self.L.copy()
        for xk, J in self._jumps.items():
            out += np.expm1(s * xk) * J
        return out

    @property
    def counts_nothing(self) -> bool:
        """True when no channel that can jump has a nonzero increment (L(s) = L)."""
        return not self._jumps

    def derivative(self, n: int) -> np.ndarray:
        """d^n L(s) / ds^n at s = 0, sum_k x_k^n J_k (n >= 1)."""
        out = np.zeros_like(self.L)
        for xk, J in self._jumps.items():
            out += xk ** n * J
        return out

    def scgf(self, s: float) -> float:
        """theta(s): the eigenvalue of L(s) with the largest real part (real for real s)."""
        return float(np.max(np.linalg.eigvals(self(float(s))).real))


def _channel_heat(model: Lindblad, bath: str) -> np.ndarray:
    """Heat per jump of each channel counted for `bath` (0 for other baths' channels)."""
    E = model.channel_energies()
    out = np.zeros(len(model.channels))
    for k, (e, c) in enumerate(zip(E, model.channels)):
        if c.bath != bath or c.rate == 0:
            continue
        if np.isnan(e):
            raise ValueError(f"a channel of bath {bath!r} ({c.name or k}) has no defined jump "
                             "energy: give Channel.energy, or use an eigenoperator of H")
        out[k] = e
    return out


def heat_increments(model: Lindblad, bath: str) -> np.ndarray:
    """Heat a jump of each channel brings into the system from `bath` (0 for other baths).

    Parameters
    ----------
    model : Lindblad
    bath : str
        One of ``model.baths``.

    Returns
    -------
    numpy.ndarray
        Shape (K,): ``model.channel_energies()`` on the channels of `bath`, 0 elsewhere.

    Raises
    ------
    ValueError
        If `bath` is unknown, or one of its channels (rate > 0) has no defined energy.

    Examples
    --------
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import heat_increments
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "a"),
    ...                                      qt.Channel(op.sigma_plus(), 1.0, "b")])
    >>> heat_increments(L, "a").tolist()
    [-1.0, 0.0]
    """
    if bath not in model.baths:
        raise ValueError(f"bath: no bath named {bath!r}; the model's baths are {model.baths}")
    return _channel_heat(model, bath)


def entropy_flow_increments(model: Lindblad) -> np.ndarray:
    """Entropy a jump of each channel delivers to its bath: -omega_k / T_b (nats).

    omega_k is the energy the jump brings from bath b into the system
    (``model.channel_energies()``); a bath at T = inf receives none.

    Parameters
    ----------
    model : Lindblad
        With a temperature for every bath and local detailed balance.

    Returns
    -------
    numpy.ndarray
        Shape (K,).

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance
        (`Lindblad.check_detailed_balance`).

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import entropy_flow_increments
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "b"),
    ...                                      qt.Channel(op.sigma_plus(), np.exp(-2.0), "b")],
    ...                 temperatures={"b": 0.5})
    >>> entropy_flow_increments(L).tolist()        # emitting 1 at T = 1/2 gives the bath 2
    [2.0, -2.0]
    """
    if not isinstance(model, Lindblad):
        raise TypeError(f"model must be a qtraj.Lindblad, got {type(model).__name__}")
    model.check_detailed_balance()
    E = model.channel_energies()
    out = np.zeros(len(model.channels))
    for k, (e, c) in enumerate(zip(E, model.channels)):
        T = model.temperatures[c.bath]
        if c.rate > 0 and np.isfinite(T):
            out[k] = -e / T
    return out


def _tilt_data(model: Lindblad, bath: str, unit: float):
    """(TiltedGenerator of the net count m_k = E_k / unit of `bath`, max |m_k|)."""
    m = _channel_heat(model, bath) / unit
    for e, mk in zip(m * unit, m):
        if abs(mk - round(mk)) > 1e-9 * max(1.0, abs(mk)):
            raise ValueError(f"jump energy {e} is not a multiple of unit={unit}")
    m = np.round(m)
    return TiltedGenerator(model, m), int(np.max(np.abs(m), initial=0))


def _pieces(model, duration: float):
    """[(Lindblad, duration)] covering [0, duration) (protocols from the start of segment 0)."""
    from .protocols import Protocol
    if isinstance(model, Lindblad):
        return [(model, float(duration))]
    if not isinstance(model, Protocol):
        raise TypeError(f"expected a Lindblad or Protocol, got {type(model).__name__}")
    out, left = [], float(duration)
    while left > 1e-15 * model.period:
        for s in model.segments:
            step = min(s.duration, left)
            if step > 0:
                out.append((s.model, step))
            left -= step
            if left <= 1e-15 * model.period:
                break
    return out


def exact_heat_distribution(model, rho0, duration: float, bath: str,
                            unit: float | None = None, n_max: int | None = None):
    """Exact distribution of the heat from `bath` in [0, duration) from rho0 at time 0.

    model : Lindblad, or Protocol (time 0 = start of segment 0).  Jump energies of the bath
    must be integer multiples of `unit` (default: the smallest nonzero |energy|).  n_max bounds
    the |net count| kept (default: from the largest possible jump rate, with a wide margin).
    Returns (values, probabilities) on the lattice m * unit, m = -n_max..n_max.
    """
    pieces = _pieces(model, duration)
    models = [m for m, _ in pieces] or [model if isinstance(model, Lindblad) else
                                        model.segments[0].model]
    energies = np.concatenate([[e for e, c in zip(m.channel_energies(), m.channels)
                                if c.bath == bath] for m in models] + [[]])
    nz = energies[np.isfinite(energies) & (np.abs(energies) > 1e-12)]
    if unit is None:
        unit = float(np.min(np.abs(nz))) if nz.size else 1.0
    data = [(_tilt_data(m, bath, unit), tau) for m, tau in pieces]
    if n_max is None:
        mu = 0.0
        for ((_, mmax), tau), (m, _) in zip(data, pieces):
            if mmax:
                R = sum(c.jump_operator.conj().T @ c.jump_operator for c in m.channels
                        if c.bath == bath)
                mu += tau * float(np.linalg.eigvalsh(R)[-1]) * mmax
        n_max = int(np.ceil(mu + 12 * np.sqrt(mu) + 20))
    N = 2 * n_max + 1
    d = models[0].dim
    v0 = vec(as_state(rho0, d, "rho0"))
    tr = vec(np.eye(d))
    Z = np.empty(N, dtype=complex)
    for j in range(N):
        chi = 2 * np.pi * j / N
        v = v0
        for (tg, _), tau in data:
            v = sla.expm(tg(1j * chi) * tau) @ v
        Z[j] = tr @ v
    P = np.fft.fft(Z).real / N            # P(m) at index m mod N
    ms = np.arange(-n_max, n_max + 1)
    p = np.clip(P[ms % N], 0.0, None)
    return ms * unit, p


# --------------------------------------------------------------------------- long-time statistics
def _protocol_class():
    from .protocols import Protocol
    return Protocol


def _check_model(model):
    if isinstance(model, Lindblad):
        return
    if not isinstance(model, _protocol_class()):
        raise TypeError(f"model must be a qtraj.Lindblad or a Protocol, got "
                        f"{type(model).__name__}")


def _segments(model):
    """[(Lindblad, duration)] of one period (a Lindblad is one segment of duration 1)."""
    if isinstance(model, Lindblad):
        return [(model, 1.0)]
    return [(s.model, s.duration) for s in model.segments if s.duration > 0]


def _scgf(model, increments_of, s_values) -> np.ndarray:
    """theta(s) = lim (1/t) ln <e^{s X(t)}>: the dominant eigenvalue of the tilted generator
    (Lindblad), or ln(dominant eigenvalue of the tilted cycle map) / period (Protocol)."""
    _check_model(model)
    s_values = np.asarray(s_values, dtype=float)
    if s_values.ndim > 1 or not np.all(np.isfinite(s_values)):
        raise ValueError("the counting fields must be a finite scalar or 1-d sequence")
    tilted = [(TiltedGenerator(m, increments_of(m)), tau) for m, tau in _segments(model)]
    out = np.empty(s_values.size)
    for i, s in enumerate(s_values.ravel()):
        if isinstance(model, Lindblad):
            out[i] = tilted[0][0].scgf(s)
        else:
            Phi = np.eye(model.dim ** 2, dtype=complex)
            for tg, tau in tilted:
                Phi = sla.expm(tg(s) * tau) @ Phi
            mu = np.max(np.abs(np.linalg.eigvals(Phi)))
            out[i] = np.log(mu) / model.period
    return out.reshape(s_values.shape)


def _bordered_solve(M: np.ndarray, r: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with M x = b and Tr x = 0, for M with the one-dimensional kernel r and left kernel
    the trace (b must have zero trace)."""
    n = M.shape[0]
    d = int(round(np.sqrt(n)))
    A = np.zeros((n + 1, n + 1), dtype=complex)
    A[:n, :n] = M
    A[:n, n] = r
    A[n, :n] = vec(np.eye(d))
    return np.linalg.solve(A, np.append(b, 0.0))[:n]


def _series_expm(A0, A1, A2):
    """Taylor coefficients (E0, E1, E2) of exp(A0 + s A1 + s^2 A2) in s, exactly, from one
    exponential of the block-Toeplitz matrix [[A0, A1, A2], [0, A0, A1], [0, 0, A0]]."""
    n = A0.shape[0]
    M = np.zeros((3 * n, 3 * n), dtype=complex)
    for i in range(3):
        M[i * n:(i + 1) * n, i * n:(i + 1) * n] = A0
    for i in range(2):
        M[i * n:(i + 1) * n, (i + 1) * n:(i + 2) * n] = A1
    M[:n, 2 * n:] = A2
    E = sla.expm(M)
    return E[:n, :n], E[:n, n:2 * n], E[:n, 2 * n:]


def _cumulants(model, increments_of) -> tuple[float, float]:
    """(mean, variance) of X(t) per unit time in the long-time limit: theta'(0), theta''(0),
    from first- and second-order perturbation theory of the dominant eigenvalue at s = 0."""
    _check_model(model)
    d = model.dim
    tr = vec(np.eye(d))
    if isinstance(model, Lindblad):
        tg = TiltedGenerator(model, increments_of(model))
        R = null_space(tg.L, 1e-9)
        if R.shape[1] != 1:
            raise NonUniqueSteadyState(R.shape[1])
        r = R[:, 0] / (tr @ R[:, 0])
        L1, L2 = tg.derivative(1), tg.derivative(2)
        k1 = tr @ L1 @ r
        r1 = _bordered_solve(tg.L, r, k1 * r - L1 @ r)
        k2 = tr @ L2 @ r + 2 * (tr @ L1 @ r1)
        return float(k1.real), float(k2.real)
    # Protocol: Phi(s) = Phi0 + s Phi1 + s^2 Phi2 + O(s^3), eigenvalue mu(s) = 1 + mu1 s + mu2 s^2
    n = d * d
    P0, P1, P2 = np.eye(n, dtype=complex), np.zeros((n, n), complex), np.zeros((n, n), complex)
    for m, tau in _segments(model):
        tg = TiltedGenerator(m, increments_of(m))
        if tg.counts_nothing:
            E0 = sla.expm(tg.L * tau)
            E1 = E2 = np.zeros_like(E0)
        else:
            E0, E1, E2 = _series_expm(tg.L * tau, tg.derivative(1) * tau,
                                      tg.derivative(2) * tau / 2)
        P0, P1, P2 = E0 @ P0, E0 @ P1 + E1 @ P0, E0 @ P2 + E1 @ P1 + E2 @ P0
    r = vec(model.periodic_state())
    mu1 = tr @ P1 @ r
    r1 = _bordered_solve(P0 - np.eye(n), r, mu1 * r - P1 @ r)
    mu2 = tr @ P2 @ r + tr @ P1 @ r1
    T = model.period
    return float(mu1.real) / T, float((2 * mu2 - mu1 ** 2).real) / T


def _bath_heat(bath: str):
    return lambda m: _channel_heat(m, bath)


def _check_bath(model, bath: str):
    if bath not in model.baths:
        raise ValueError(f"bath: no bath named {bath!r}; the model's baths are {model.baths}")


def entropy_flow_scgf(model, lambdas) -> np.ndarray:
    """Scaled cumulant generating function of the entropy flow to the baths.

    Along a trajectory every jump of channel k (energy omega_k from bath b into the system)
    gives the bath the entropy -omega_k / T_b; S_e(t) is their sum over [0, t), the entropy
    flow.  This returns

        theta(lambda) = lim_{t -> inf} (1/t) ln <exp(-lambda S_e(t))>,

    the largest real eigenvalue of the tilted generator L + sum_k (e^{lambda omega_k / T_b} - 1)
    J_k (`TiltedGenerator`).  theta(0) = theta(1) = 0, and local detailed balance gives the
    Gallavotti-Cohen symmetry theta(lambda) = theta(1 - lambda) (for jump operators that are
    eigenoperators of H, or for H and jump operators that are real in one basis); the mean
    entropy flow rate is -theta'(0) >= 0 (`entropy_flow_cumulants`).  For a `Protocol` the
    tilted cycle map replaces the generator and theta is per unit time.

    Parameters
    ----------
    model : Lindblad or Protocol
        Every bath (of every segment) with a temperature and local detailed balance.
    lambdas : float or 1-d array_like
        Counting fields.

    Returns
    -------
    numpy.ndarray
        theta at each lambda (same shape as `lambdas`), per unit time.

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance.
    ValueError
        If `lambdas` is not a finite scalar or 1-d sequence.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import entropy_flow_scgf
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 2.0, "hot"),
    ...                  qt.Channel(op.sigma_plus(), 1.0, "hot"),
    ...                  qt.Channel(op.sigma_minus(), 1.0, "cold"),
    ...                  qt.Channel(op.sigma_plus(), 0.1, "cold")],
    ...                 temperatures={"hot": 1 / np.log(2), "cold": 1 / np.log(10)})
    >>> th = entropy_flow_scgf(L, [0.0, 0.3, 0.7, 1.0])
    >>> bool(abs(th[1] - th[2]) < 1e-12 and abs(th[0]) < 1e-12 and th[1] < 0)
    True
    """
    return _scgf(model, entropy_flow_increments, -np.asarray(lambdas, dtype=float))


def heat_scgf(model, bath: str, chis) -> np.ndarray:
    """Scaled cumulant generating function of the heat from `bath`:
    theta(chi) = lim_{t -> inf} (1/t) ln <exp(chi Q_b(t))>.

    Q_b(t) sums the energies omega_k of the jumps of `bath` in [0, t) (heat into the
    system).  theta'(0) is the mean heat current and theta''(0) the variance per unit time
    (`heat_cumulants`).  For a `Protocol`, per unit time of the periodic drive.  Needs no
    temperatures.

    Parameters
    ----------
    model : Lindblad or Protocol
    bath : str
        One of ``model.baths``; its channels need defined jump energies.
    chis : float or 1-d array_like
        Counting fields.

    Returns
    -------
    numpy.ndarray
        theta at each chi.

    Raises
    ------
    ValueError
        For an unknown bath, a channel without a jump energy, or bad `chis`.

    Examples
    --------
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import heat_scgf
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0, "b"),
    ...                                      qt.Channel(op.sigma_plus(), 1.0, "b")])
    >>> th = heat_scgf(L, "b", [0.0, 1.0, -1.0])
    >>> bool(abs(th[0]) < 1e-12 and abs(th[1] - th[2]) < 1e-12)     # symmetric at T = inf
    True
    """
    _check_model(model)
    _check_bath(model, bath)
    return _scgf(model, _bath_heat(bath), chis)


def entropy_flow_cumulants(model) -> dict[str, float]:
    """Mean and variance per unit time of the entropy flow S_e(t) to the baths (long times).

    mean = lim <S_e(t)> / t = -theta'(0) and variance = lim Var S_e(t) / t = theta''(0) of
    `entropy_flow_scgf`, computed exactly by perturbation theory of the tilted generator's
    dominant eigenvalue (no finite differences).  In the steady state (or the periodic state
    of a `Protocol`) the mean is the entropy production rate, as the system's entropy stays
    bounded.

    Parameters
    ----------
    model : Lindblad or Protocol
        With a unique steady (periodic) state, temperatures and local detailed balance.

    Returns
    -------
    dict
        {"mean": ..., "variance": ...}, nats per unit time and nats^2 per unit time.

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance.
    NonUniqueSteadyState
        If the steady state is not unique.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import entropy_flow_cumulants
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 2.0, "hot"),
    ...                  qt.Channel(op.sigma_plus(), 1.0, "hot"),
    ...                  qt.Channel(op.sigma_minus(), 1.0, "cold"),
    ...                  qt.Channel(op.sigma_plus(), 0.1, "cold")],
    ...                 temperatures={"hot": 1 / np.log(2), "cold": 1 / np.log(10)})
    >>> c = entropy_flow_cumulants(L)
    >>> bool(np.isclose(c["mean"], qt.entropy_production_rate(L, qt.steady_state(L))))
    True
    """
    mean, var = _cumulants(model, entropy_flow_increments)
    return {"mean": mean, "variance": var}


def heat_cumulants(model, bath: str) -> dict[str, float]:
    """Mean and variance per unit time of the heat Q_b(t) from `bath` (long times):
    theta'(0) and theta''(0) of `heat_scgf`, exact (perturbation theory at chi = 0).

    Parameters
    ----------
    model : Lindblad or Protocol
        With a unique steady (periodic) state.
    bath : str
        One of ``model.baths``; its channels need defined jump energies.

    Returns
    -------
    dict
        {"mean": ..., "variance": ...} per unit time (heat into the system positive).

    Raises
    ------
    ValueError
        For an unknown bath or a channel without a jump energy.
    NonUniqueSteadyState
        If the steady state is not unique.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import heat_cumulants
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 2.0, "hot"),
    ...                  qt.Channel(op.sigma_plus(), 1.0, "hot"),
    ...                  qt.Channel(op.sigma_minus(), 1.0, "cold"),
    ...                  qt.Channel(op.sigma_plus(), 0.1, "cold")])
    >>> c = heat_cumulants(L, "hot")
    >>> bool(np.isclose(c["mean"], qt.heat_currents(L, qt.steady_state(L))["hot"]))
    True
    """
    _check_model(model)
    _check_bath(model, bath)
    mean, var = _cumulants(model, _bath_heat(bath))
    return {"mean": mean, "variance": var}


def thermodynamic_uncertainty_ratio(model, bath: str) -> dict[str, float]:
    """Thermodynamic uncertainty ratio of the heat current of `bath`:
    Q = Var(J) Sigma_dot / <J>^2.

    <J> and Var(J) are the mean and variance per unit time of the heat Q_b(t) counted jump
    by jump (`heat_cumulants`); Sigma_dot is the mean entropy flow rate to the baths
    (`entropy_flow_cumulants`), the entropy production rate of the long-time state.  For
    classical Markov jump processes in a steady state Q >= 2 (the thermodynamic uncertainty
    relation of Barato & Seifert (2015)); coherent quantum dynamics, and periodic driving, can
    go below 2.  Q is the same per unit time and per cycle.

    Parameters
    ----------
    model : Lindblad or Protocol
        With a unique steady (periodic) state, temperatures and local detailed balance.
    bath : str
        The bath whose heat current is the current J.

    Returns
    -------
    dict
        "mean" <J>, "variance" Var(J) (per unit time), "entropy_production" Sigma_dot, and
        "ratio" Q (NaN if <J> = 0).

    Raises
    ------
    DetailedBalanceError
        If a bath has no temperature or fails local detailed balance.
    ValueError
        For an unknown bath or a channel without a jump energy.

    Examples
    --------
    >>> import numpy as np
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> from qtraj.counting import thermodynamic_uncertainty_ratio
    >>> L = qt.Lindblad(0.5 * op.sigma_z(),
    ...                 [qt.Channel(op.sigma_minus(), 2.0, "hot"),
    ...                  qt.Channel(op.sigma_plus(), 1.0, "hot"),
    ...                  qt.Channel(op.sigma_minus(), 1.0, "cold"),
    ...                  qt.Channel(op.sigma_plus(), 0.1, "cold")],
    ...                 temperatures={"hot": 1 / np.log(2), "cold": 1 / np.log(10)})
    >>> bool(thermodynamic_uncertainty_ratio(L, "hot")["ratio"] >= 2)
    True
    """
    h = heat_cumulants(model, bath)
    sigma = entropy_flow_cumulants(model)["mean"]
    ratio = h["variance"] * sigma / h["mean"] ** 2 if h["mean"] != 0 else float("nan")
    return {"mean": h["mean"], "variance": h["variance"], "entropy_production": sigma,
            "ratio": ratio}
