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

Photon statistics of one channel's clicks (its jumps), exact and from trajectories:
`g2_from_clicks` (click-click correlation), `waiting_times` / `waiting_time_histogram`
(delays between consecutive clicks) and `mandel_q_from_clicks` (counts in a window) estimate
from the jump records of `mcsolve(..., keep_jumps=True)` what `qtraj.coherence_function_g2`
(of the jump operator), `waiting_time_distribution` and `mandel_q` give exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .deterministic import NonUniqueSteadyState, propagate, steady_state
from .lindblad import Lindblad, vec
from .linalg import null_space
from .validation import as_state, as_times

__all__ = ["window_heat", "cycle_heat", "heat_distribution", "exact_heat_distribution",
           "TiltedGenerator", "heat_increments", "entropy_flow_increments", "heat_scgf",
           "entropy_flow_scgf", "heat_cumulants", "entropy_flow_cumulants",
           "thermodynamic_uncertainty_ratio", "g2_from_clicks", "waiting_times",
           "waiting_time_histogram", "waiting_time_distribution", "mandel_q",
           "mandel_q_from_clicks"]


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


# --------------------------------------------------------------------------- photon clicks
def _channel_index(channel, names: list, what: str) -> int:
    """Index of a channel given by position or by name (`Channel.name`, else "bath:k")."""
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        if not 0 <= int(channel) < len(names):
            raise ValueError(f"channel {channel} out of range: {what} has {len(names)} channels")
        return int(channel)
    if isinstance(channel, str) and channel in names:
        return names.index(channel)
    raise ValueError(f"no channel {channel!r} in {what}; channels are {names} (or 0.."
                     f"{len(names) - 1})")


def _model_channel(model, channel) -> np.ndarray:
    """Jump operator L_k of a model's channel (by index or name)."""
    if not isinstance(model, Lindblad):
        raise TypeError(f"expected a qtraj.Lindblad, got {type(model).__name__}")
    names = [c.name or f"{c.bath}:{k}" for k, c in enumerate(model.channels)]
    return model.channels[_channel_index(channel, names, "the model")].jump_operator


def _clicks(result, channel, t_start: float):
    """(window start, window end, per-trajectory sorted click times of the channel at or
    after t_start) from mcsolve jump records."""
    rec = result.records
    if "jump_time" not in rec or "jump_channel" not in rec:
        raise ValueError("the result has no jump records: run mcsolve with keep_jumps=True")
    k = _channel_index(channel, list(result.meta.get("channels", [])), "this result")
    t0, t1 = float(result.times[0]), float(result.times[-1])
    t_start = float(t_start)
    if not (np.isfinite(t_start) and t0 <= t_start < t1):
        raise ValueError(f"t_start = {t_start} must lie in [{t0}, {t1}), the simulated window")
    traj, t = np.asarray(rec["jump_traj"]), np.asarray(rec["jump_time"], dtype=float)
    sel = (np.asarray(rec["jump_channel"]) == k) & (t >= t_start)
    traj, t = traj[sel], t[sel]
    order = np.lexsort((t, traj))
    return t_start, t1, traj[order], t[order]


def _edges(tau_edges, span: float) -> np.ndarray:
    e = np.asarray(tau_edges, dtype=float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)):
        raise ValueError("tau_edges must be a 1-d sequence of at least two finite edges")
    if e[0] < 0 or np.any(np.diff(e) <= 0):
        raise ValueError("tau_edges must be increasing and >= 0")
    if e[-1] > span:
        raise ValueError(f"tau_edges reach {e[-1]}, beyond the observed window of length {span}")
    return e


def _pair_counts(traj, t, edges, consecutive: bool, ntraj: int) -> np.ndarray:
    """(ntraj, n_bins) numbers of ordered click pairs (i before j, same trajectory) with
    t_j - t_i in each bin [e_b, e_{b+1}); only i, i+1 pairs if `consecutive`."""
    nb = edges.size - 1
    out = np.zeros((ntraj, nb))
    if t.size == 0:
        return out
    if consecutive:
        same = traj[1:] == traj[:-1]
        dt = (t[1:] - t[:-1])[same]
        b = np.searchsorted(edges, dt, side="right") - 1
        ok = (b >= 0) & (b < nb)
        np.add.at(out, (traj[:-1][same][ok], b[ok]), 1.0)
        return out
    key = traj + 1j * t                       # complex sort order is lexicographic (traj, t)
    pos = np.arange(t.size)
    idx = np.array([np.maximum(np.searchsorted(key, traj + 1j * (t + e), side="left"), pos + 1)
                    for e in edges])          # (n_edges, n_clicks): first j >= i+1 at t_i + e
    per_click = np.diff(idx, axis=0).T        # pairs of each click i in each bin
    np.add.at(out, traj, per_click)
    return out


def _jackknife(f, *sums_and_parts):
    """Delete-one-trajectory jackknife standard error of f(totals...), with per-trajectory
    contributions `parts` (arrays whose first axis is the trajectory)."""
    parts = sums_and_parts
    n = parts[0].shape[0]
    totals = [p.sum(axis=0) for p in parts]
    est = f(*totals, n)
    loo = f(*[tot - p for tot, p in zip(totals, parts)], n - 1)
    se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return est, se


def _window_weights(edges, T: float) -> np.ndarray:
    """int over each bin of (T - tau) dtau: the time a pair with that delay can start in."""
    a, b = edges[:-1], edges[1:]
    return (b - a) * (T - 0.5 * (a + b))


def g2_from_clicks(result, channel, tau_edges, t_start: float = 0.0):
    """Normalised click-click correlation g2(tau) of one channel from quantum-jump records.

    All ordered pairs of clicks of the channel in one trajectory, the first at or after
    t_start, are binned by their delay tau.  For a stationary click stream of rate r observed
    in a window of length T = t_end - t_start, a bin [a, b) expects
    r^2 int_a^b (T - tau) g2(tau) dtau pairs per trajectory, so

        g2_b = pairs_b / (ntraj r_hat^2 w_b),   w_b = int_a^b (T - tau) dtau,
        r_hat = clicks / (ntraj T),

    an estimate of the (T - tau)-weighted bin average of g2 (for narrow bins, g2 at the bin
    centre).  Standard errors are delete-one-trajectory jackknife errors (trajectories are
    independent; clicks within one are not), so they shrink as 1/sqrt(ntraj).

    Parameters
    ----------
    result : EnsembleResult
        From ``mcsolve(..., keep_jumps=True)``, started in the steady state (or with t_start
        after the transient): the estimator assumes a stationary click stream.
    channel : int or str
        The channel whose jumps are the clicks (index into the model's channels, or its name
        as in ``result.meta["channels"]``).
    tau_edges : 1-d array_like
        Increasing delay bin edges >= 0, at most t_end - t_start.
    t_start : float, default 0.0
        Pairs whose first click is before t_start are ignored.

    Returns
    -------
    tau_centres : (n_bins,) ndarray
    g2 : (n_bins,) ndarray
    g2_stderr : (n_bins,) ndarray

    Raises
    ------
    ValueError
        Without jump records, for an unknown channel, bad edges or t_start, fewer than two
        trajectories or no clicks.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> sm = op.sigma_minus()
    >>> L = qt.Lindblad(0.5 * 2.0 * op.sigma_x(), [qt.Channel(sm, 1.0)])
    >>> res = qt.mcsolve(L, qt.steady_state(L), [0.0, 40.0], 200, seed=1, keep_jumps=True,
    ...                  store_states=False, progress=False)
    >>> tau, g2, se = qt.counting.g2_from_clicks(res, 0, np.linspace(0, 4, 9))
    >>> bool(g2[0] < 0.5 < g2[3])              # antibunched, then the Rabi bump
    True
    """
    t_start, t_end, traj, t = _clicks(result, channel, t_start)
    T = t_end - t_start
    edges = _edges(tau_edges, T)
    n = int(result.ntraj)
    if n < 2:
        raise ValueError("g2_from_clicks needs at least two trajectories (jackknife errors)")
    if t.size == 0:
        raise ValueError("no clicks of this channel after t_start")
    pairs = _pair_counts(traj, t, edges, False, n)
    counts = np.bincount(traj, minlength=n)[:, None].astype(float)
    w = _window_weights(edges, T)

    def g2(P, C, m):
        return P * m * T ** 2 / (w * np.maximum(C, 1e-300) ** 2)

    est, se = _jackknife(g2, pairs, counts)
    return 0.5 * (edges[:-1] + edges[1:]), est, se


def waiting_times(result, channel, t_start: float = 0.0) -> np.ndarray:
    """Delays between consecutive clicks of one channel in each trajectory (samples).

    Parameters
    ----------
    result : EnsembleResult
        From ``mcsolve(..., keep_jumps=True)``.
    channel : int or str
        The channel (index or name as in ``result.meta["channels"]``).
    t_start : float, default 0.0
        Only intervals starting with a click at or after t_start.

    Returns
    -------
    (n_intervals,) ndarray
        Note that a finite window censors long intervals (an interval longer than the time
        left after its first click is never completed), so their histogram under-weights long
        delays by the factor (T - tau) / T; `waiting_time_histogram` corrects for it.

    Raises
    ------
    ValueError
        Without jump records, for an unknown channel or a bad t_start.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0),
    ...                                    qt.Channel(op.sigma_plus(), 1.0)])
    >>> res = qt.mcsolve(L, op.basis(2, 0), [0.0, 50.0], 50, seed=2, keep_jumps=True,
    ...                  store_states=False, progress=False)
    >>> w = qt.counting.waiting_times(res, 0)   # decay clicks: an excitation must come first
    >>> bool(w.min() > 0), bool(abs(w.mean() - 2.0) < 0.5)
    (True, True)
    """
    _, _, traj, t = _clicks(result, channel, t_start)
    same = traj[1:] == traj[:-1]
    return (t[1:] - t[:-1])[same]


def waiting_time_histogram(result, channel, tau_edges, t_start: float = 0.0):
    """Waiting-time density of one channel's clicks from jump records, corrected for the
    finite window, with jackknife standard errors.

    A bin [a, b) expects r int_a^b (T - tau) w(tau) dtau intervals per trajectory in a window of
    length T = t_end - t_start (a stationary stream of rate r), so
    w_b = intervals_b / (ntraj r_hat w_b'), w_b' = int_a^b (T - tau) dtau, estimates the
    (T - tau)-weighted bin average of the density w (`waiting_time_distribution`).  Errors:
    delete-one-trajectory jackknife.

    Parameters
    ----------
    result : EnsembleResult
        From ``mcsolve(..., keep_jumps=True)`` in the stationary regime (see `g2_from_clicks`).
    channel : int or str
    tau_edges : 1-d array_like
        Increasing bin edges >= 0, at most t_end - t_start.
    t_start : float, default 0.0

    Returns
    -------
    tau_centres, density, density_stderr : (n_bins,) ndarrays

    Raises
    ------
    ValueError
        As `g2_from_clicks`.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0),
    ...                                    qt.Channel(op.sigma_plus(), 1.0)])
    >>> res = qt.mcsolve(L, op.basis(2, 0), [0.0, 50.0], 100, seed=2, keep_jumps=True,
    ...                  store_states=False, progress=False)
    >>> tau, w, se = qt.counting.waiting_time_histogram(res, 0, [0.0, 1.0, 2.0, 4.0])
    >>> w.shape, bool(np.all(se > 0))
    ((3,), True)
    """
    t_start, t_end, traj, t = _clicks(result, channel, t_start)
    T = t_end - t_start
    edges = _edges(tau_edges, T)
    n = int(result.ntraj)
    if n < 2:
        raise ValueError("waiting_time_histogram needs at least two trajectories")
    if t.size == 0:
        raise ValueError("no clicks of this channel after t_start")
    inter = _pair_counts(traj, t, edges, True, n)
    counts = np.bincount(traj, minlength=n)[:, None].astype(float)
    wts = _window_weights(edges, T)

    def dens(P, C, m):
        return P * T / (wts * np.maximum(C, 1e-300))

    est, se = _jackknife(dens, inter, counts)
    return 0.5 * (edges[:-1] + edges[1:]), est, se


class _WithoutClicks:
    """The generator with one channel's jump term removed: L0 = L - J_k (no click of k)."""

    def __init__(self, model: Lindblad, Lk: np.ndarray):
        self.dim = model.dim
        self._L = model
        self._Lk = Lk

    def liouvillian(self, sparse: bool = False):
        import scipy.sparse as sp
        J = np.kron(self._Lk.conj(), self._Lk)
        if sparse:
            return (self._L.liouvillian(sparse=True) - sp.csr_matrix(J)).tocsr()
        return self._L.liouvillian() - J


def waiting_time_distribution(model, channel, taus, state0=None) -> np.ndarray:
    """Exact density w(tau) of the delay between consecutive clicks of one channel in the
    stationary state,

        w(tau) = Tr[J exp(tau L0)(J rho_ss)] / Tr[J rho_ss],

    J rho = L_k rho L_k^dag the click (jump) of channel k and L0 = L - J the evolution without
    its clicks (other channels still act).  The integral of w over tau >= 0 is 1 when clicks
    always recur.

    Parameters
    ----------
    model : Lindblad
    channel : int or str
        Index into model.channels, or a channel's name ("bath:k" for unnamed channels).
    taus : 1-d array_like
        Non-decreasing delays >= 0.
    state0 : ket or density matrix, optional
        Selects the stationary state steady_state(model, state0) when the kernel is degenerate
        (`qtraj.steady_state`'s rules).

    Returns
    -------
    (len(taus),) ndarray

    Raises
    ------
    ValueError
        For an unknown channel, bad delays, or a channel that never clicks in the steady state.

    Examples
    --------
    A driven atom (Rabi frequency W, decay g) must be re-excited after each photon:
    w(tau) = g W^2 / W'^2 e^{-g tau / 2} sin^2(W' tau / 2), W' = sqrt(W^2 - g^2 / 4).

    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * 2.0 * op.sigma_x(), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> w = qt.counting.waiting_time_distribution(L, 0, [0.0, 1.0])
    >>> Wp = np.sqrt(4 - 0.25)
    >>> np.allclose(w, 4 / Wp ** 2 * np.exp(-0.5 * np.array([0, 1.0]))
    ...             * np.sin(Wp * np.array([0, 1.0]) / 2) ** 2)
    True
    """
    Lk = _model_channel(model, channel)
    taus = as_times(taus, "taus")
    if taus[0] < 0:
        raise ValueError("taus must be >= 0")
    rho = steady_state(model, state0)
    Jrho = Lk @ rho @ Lk.conj().T
    rate = np.trace(Jrho).real
    if not rate > 0:
        raise ValueError("this channel never clicks in the steady state")
    Y = propagate(_WithoutClicks(model, Lk), Jrho, taus)
    return np.einsum("ij,tji->t", Lk.conj().T @ Lk, Y).real / rate


def mandel_q(model, channel, duration: float, state0=None) -> float:
    """Exact Mandel Q = (Var N - <N>) / <N> of the number N of clicks of one channel in a
    window of length `duration` in the stationary state (Q < 0: sub-Poissonian light).

    The factorial moments come from one matrix exponential of the block generator
    [[L, 0, 0], [J, L, 0], [0, J, L]] (J the click superoperator): its action on
    (rho_ss, 0, 0) gives <N> = Tr of the second block and <N(N-1)> = 2 Tr of the third.

    Parameters
    ----------
    model : Lindblad
    channel : int or str
    duration : float
        Window length > 0.
    state0 : ket or density matrix, optional
        Selects steady_state(model, state0) for a degenerate kernel.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For an unknown channel, a bad duration, or no clicks in the steady state.

    Examples
    --------
    Resonance fluorescence is sub-Poissonian:

    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * op.sigma_x(), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> bool(qt.counting.mandel_q(L, 0, 10.0) < 0)
    True
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    Lk = _model_channel(model, channel)
    T = float(duration)
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"duration must be positive and finite, got {duration}")
    rho = steady_state(model, state0)
    d = model.dim
    n = d * d
    J = sp.csr_matrix(np.kron(Lk.conj(), Lk))
    L = model.liouvillian(sparse=True)
    Z = None
    M = sp.bmat([[L, Z, Z], [J, L, Z], [Z, J, L]], format="csr")
    v = np.zeros(3 * n, dtype=complex)
    v[:n] = vec(rho)
    if 3 * n <= 300:
        out = sla.expm(M.toarray() * T) @ v
    else:
        out = spla.expm_multiply((M * T).tocsc(), v)
    tr = vec(np.eye(d))
    mean = (tr @ out[n:2 * n]).real
    fact2 = 2 * (tr @ out[2 * n:]).real
    if not mean > 0:
        raise ValueError("this channel never clicks in the steady state")
    return float((fact2 - mean ** 2) / mean)


def mandel_q_from_clicks(result, channel, t_start: float = 0.0, t_end: float | None = None):
    """Mandel Q of the clicks of one channel counted in [t_start, t_end) per trajectory, with
    its delete-one-trajectory jackknife standard error.

    Q = (s^2 - m) / m with m and s^2 the sample mean and (unbiased) variance of the counts.
    Compare with `mandel_q(model, channel, t_end - t_start)` for a stationary ensemble.

    Parameters
    ----------
    result : EnsembleResult
        From ``mcsolve(..., keep_jumps=True)``.
    channel : int or str
    t_start : float, default 0.0
    t_end : float, optional
        Default: the end of the simulated window.

    Returns
    -------
    Q : float
    Q_stderr : float

    Raises
    ------
    ValueError
        Without jump records, for an unknown channel or window, fewer than three
        trajectories, or no clicks.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * op.sigma_x(), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> res = qt.mcsolve(L, qt.steady_state(L), [0.0, 10.0], 300, seed=4, keep_jumps=True,
    ...                  store_states=False, progress=False)
    >>> Q, se = qt.counting.mandel_q_from_clicks(res, 0)
    >>> bool(se > 0), bool(abs(Q - qt.counting.mandel_q(L, 0, 10.0)) < 5 * se)
    (True, True)
    """
    t_start, t1, traj, t = _clicks(result, channel, t_start)
    t_end = t1 if t_end is None else float(t_end)
    if not (np.isfinite(t_end) and t_start < t_end <= t1):
        raise ValueError(f"t_end = {t_end} must lie in (t_start, {t1}]")
    n = int(result.ntraj)
    if n < 3:
        raise ValueError("mandel_q_from_clicks needs at least three trajectories")
    N = np.bincount(traj[t < t_end], minlength=n).astype(float)
    if not N.sum() > 0:
        raise ValueError("no clicks of this channel in the window")

    def q(S1, S2, m):
        mean = S1 / m
        var = (S2 - m * mean ** 2) / (m - 1)
        return (var - mean) / mean

    est, se = _jackknife(q, N, N ** 2)
    return float(est), float(se)
