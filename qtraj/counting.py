"""Counting statistics of heat: the distribution of the heat exchanged in a time window.

From trajectories: `window_heat` sums, per trajectory, the heat of the jumps of one bath in
[t0, t1) from the jump records of `mcsolve(..., keep_jumps=True)` (jump energies from the
model's `channel_energies()`) or of `Protocol.simulate(..., keep_jumps=True)` (which records
each jump's heat); `cycle_heat` gives the heat per trajectory and cycle of a protocol run;
`heat_distribution` turns samples into probabilities with binomial standard errors.

Exact: `exact_heat_distribution` from the tilted (counting-field) generator
L_chi = L + sum_{k in bath} (e^{i chi m_k} - 1) J_k,  J_k rho = L_k rho L_k^dag,
with m_k = E_k / unit integers: Z(chi) = Tr[exp(L_chi t) rho0] is the generating function
of the net count m, and P(m) is its discrete Fourier inversion.  For a `Protocol` the tilted
propagators of the segments are chained.  Only transition-energy heat has a distribution:
the state-dependent estimator (heat="expected") is a mean estimator, not a per-jump energy.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .lindblad import Lindblad, vec
from .validation import as_state

__all__ = ["window_heat", "cycle_heat", "heat_distribution", "exact_heat_distribution"]


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


# --------------------------------------------------------------------------- exact
def _tilt_data(model: Lindblad, bath: str, unit: float):
    """(L, [(m_k, J_k superoperator)]) for the channels of `bath` with nonzero count m_k."""
    E = model.channel_energies()
    terms = []
    for e, c in zip(E, model.channels):
        if c.bath != bath:
            continue
        if np.isnan(e):
            raise ValueError(f"a channel of bath {bath!r} has no defined jump energy")
        m = e / unit
        if abs(m - round(m)) > 1e-9 * max(1.0, abs(m)):
            raise ValueError(f"jump energy {e} is not a multiple of unit={unit}")
        if round(m) != 0:
            L = c.jump_operator
            terms.append((int(round(m)), np.kron(L.conj(), L)))
    return model.liouvillian(), terms


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
        for ((_, terms), tau), (m, _) in zip(data, pieces):
            if terms:
                R = sum(c.jump_operator.conj().T @ c.jump_operator for c in m.channels
                        if c.bath == bath)
                mmax = max(abs(k) for k, _ in terms)
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
        for (L, terms), tau in data:
            Lc = L + sum((np.exp(1j * chi * k) - 1) * J for k, J in terms) if terms else L
            v = sla.expm(Lc * tau) @ v
        Z[j] = tr @ v
    P = np.fft.fft(Z).real / N            # P(m) at index m mod N
    ms = np.arange(-n_max, n_max + 1)
    p = np.clip(P[ms % N], 0.0, None)
    return ms * unit, p
