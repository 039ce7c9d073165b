"""Piecewise-constant periodic protocols: a cycle of (duration, Lindblad) segments.

Deterministic side: segment s propagates by P_s = exp(L_s tau_s); one cycle is the map
Phi = P_{S-1} ... P_1 P_0, and the periodic (limit-cycle) state is its fixed point Phi(rho) = rho
(`Protocol.periodic_state`).  Mean heat of bath b in segment s is Tr[H_s D_{s,b}(int rho dt)]
(the integral by the augmented-matrix exponential); the work of the switch at the end of
segment s is Tr[(H_{s+1} - H_s) rho] (sudden change of the Hamiltonian, populations and
coherences unchanged) (`Protocol.energetics`).

Shot by shot (`Protocol.simulate`): one Numba call runs whole trajectories across all segments
and cycles.  Within a segment jump times are exact (root of the no-jump norm, from
`qtraj.jumps.no_jump_propagator` of that segment's H_eff); at a boundary the ket is
renormalised and the jump threshold r is carried over as r / n(T) (an exact rewrite of the
waiting-time law: no jump is lost or invented at a boundary).  Each jump adds its heat to its
bath (the channel's transition energy, or with heat="expected" the state-dependent estimator of
`qtraj.jumps._expected_jump_energy`); each switch adds <psi|H_{s+1} - H_s|psi> of work.
Records are per segment, per cycle and cumulative at every segment boundary, with standard
errors; per-trajectory totals also give the covariance of the per-cycle estimates (for ratio
estimators such as a COP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.linalg as sla
from numba import njit

from .deterministic import NonUniqueSteadyState, _null_space_dense
from .ensemble import RunOptions, run
from .jumps import (_accumulate, _csc_matvec, _csc_stack, _draw_initial, _expected_jump_energy,
                    _initial_mixture, _jump_time, _matvec, _norm_and_slope, _sample_index,
                    _shifted_to_moments, no_jump_propagator)
from .lindblad import Lindblad, unvec, vec
from .results import EnsembleResult
from .rng import next_double, next_open, root_key, seed_info, stream_state
from .stats import count_mean_stderr
from .validation import as_count, as_state, as_times

__all__ = ["Segment", "Protocol"]


@dataclass(frozen=True)
class Segment:
    """One piece of a protocol: `model` acts for `duration`."""

    duration: float
    model: Lindblad
    name: str = ""


def _integral_propagator(Lsup: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """(exp(L tau), int_0^tau exp(L t) dt) from one exponential of [[L, 1], [0, 0]] tau."""
    n = Lsup.shape[0]
    A = np.zeros((2 * n, 2 * n), dtype=complex)
    A[:n, :n] = Lsup
    A[:n, n:] = np.eye(n)
    E = sla.expm(A * tau)
    return E[:n, :n], E[:n, n:]


class Protocol:
    """A periodic schedule of (duration, Lindblad) segments, all of one dimension.

    segments : sequence of `Segment` or (duration, Lindblad[, name]) tuples; durations >= 0 with
        a positive total.  Time t lies in cycle floor(t / period), segment by t mod period.
    """

    def __init__(self, segments: Sequence):
        segs = []
        for i, s in enumerate(segments):
            if not isinstance(s, Segment):
                s = Segment(*s)
            tau = float(s.duration)
            if not (np.isfinite(tau) and tau >= 0):
                raise ValueError(f"segment {i}: duration must be finite and >= 0, got {tau!r}")
            if not isinstance(s.model, Lindblad):
                raise TypeError(f"segment {i}: expected a qtraj.Lindblad, got "
                                f"{type(s.model).__name__}")
            segs.append(Segment(tau, s.model, s.name or f"segment{i}"))
        if not segs:
            raise ValueError("a protocol needs at least one segment")
        if len({s.model.dim for s in segs}) != 1:
            raise ValueError("all segments must act on the same dimension")
        self.segments = tuple(segs)
        self.period = float(sum(s.duration for s in segs))
        if self.period <= 0:
            raise ValueError("the cycle must have a positive total duration")

    # ------------------------------------------------------------------ basic data
    @property
    def dim(self) -> int:
        return self.segments[0].model.dim

    @property
    def n_segments(self) -> int:
        return len(self.segments)

    @property
    def baths(self) -> list[str]:
        """Bath names over all segments, in order of first appearance."""
        out: list[str] = []
        for s in self.segments:
            out += [b for b in s.model.baths if b not in out]
        return out

    @property
    def starts(self) -> np.ndarray:
        """Start time of each segment within a cycle."""
        return np.concatenate([[0.0], np.cumsum([s.duration for s in self.segments])[:-1]])

    def boundary_times(self, n_cycles: int) -> np.ndarray:
        """Times of all segment boundaries of n_cycles cycles (n_cycles * S + 1 values)."""
        ends = np.cumsum([s.duration for s in self.segments])
        return np.concatenate([[0.0]] + [c * self.period + ends for c in range(n_cycles)])

    # ------------------------------------------------------------------ deterministic
    def propagators(self) -> list[np.ndarray]:
        """exp(L_s tau_s) of every segment (column-stacking superoperators)."""
        return [sla.expm(s.model.liouvillian() * s.duration) for s in self.segments]

    def cycle_map(self) -> np.ndarray:
        """Phi = P_{S-1} ... P_0: one cycle started at the beginning of segment 0."""
        Phi = np.eye(self.dim ** 2, dtype=complex)
        for P in self.propagators():
            Phi = P @ Phi
        return Phi

    def periodic_state(self, rho0=None, rtol: float = 1e-10) -> np.ndarray:
        """Fixed point of the cycle map (state at the start of segment 0 in the limit cycle).

        If the fixed point is not unique, rho0 is required and the limit of Phi^n rho0 (its
        projection onto the fixed points along the conserved quantities) is returned.
        """
        d = self.dim
        A = self.cycle_map() - np.eye(d * d)
        R = _null_space_dense(A, rtol)
        if R.shape[1] == 0:
            raise RuntimeError("the cycle map has no fixed point; is it trace preserving?")
        if R.shape[1] == 1:
            rho = unvec(R[:, 0], d)
            rho = rho / np.trace(rho)
        else:
            if rho0 is None:
                raise NonUniqueSteadyState(R.shape[1])
            Lf = _null_space_dense(A.conj().T, rtol)
            v = vec(as_state(rho0, d, "rho0"))
            rho = unvec(R @ np.linalg.solve(Lf.conj().T @ R, Lf.conj().T @ v), d)
        rho = 0.5 * (rho + rho.conj().T)
        return rho / np.trace(rho).real

    def mesolve(self, rho0, times) -> np.ndarray:
        """States at `times` (ascending); rho0 is the state at times[0].  The protocol's clock
        is absolute: time t lies in segment (t mod period).  Exact (matrix exponentials)."""
        d = self.dim
        times = as_times(times)
        v = vec(as_state(rho0, d, "rho0"))
        Ls = [s.model.liouvillian() for s in self.segments]
        ends = np.cumsum([s.duration for s in self.segments])
        out = np.empty((len(times), d, d), dtype=complex)
        t = float(times[0])
        out[0] = unvec(v, d)
        for i in range(1, len(times)):
            target = float(times[i])
            while t < target:
                c, ph = divmod(t, self.period)
                s = int(np.searchsorted(ends, ph, side="right"))
                s = min(s, self.n_segments - 1)
                seg_end = c * self.period + ends[s]
                if seg_end <= t:      # rounding at a boundary: move on
                    t = np.nextafter(t, np.inf)
                    continue
                step = min(target, seg_end) - t
                v = sla.expm(Ls[s] * step) @ v
                t = min(target, seg_end)
            out[i] = unvec(v, d)
        return out

    def energetics(self, rho0=None, n_cycles: int = 1) -> dict:
        """Mean heat and work of n_cycles cycles from rho0 (default: the periodic state).

        Returns "heat" (n_cycles, S, n_baths): Tr[H_s D_{s,b}(int rho dt)] per segment and bath
        (baths ordered as `baths`, positive into the system); "work" (n_cycles, S): work of the
        switch at the end of each segment, Tr[(H_{s+1} - H_s) rho]; "heat_cycle" (n_cycles,
        n_baths), "work_cycle" (n_cycles,); "states" (n_cycles * S + 1, d, d) at the
        boundaries; and "heat_per_cycle", "work_per_cycle" averaged over the cycles.
        """
        d, S, baths = self.dim, self.n_segments, self.baths
        n_cycles = as_count(n_cycles, "n_cycles")
        rho = self.periodic_state() if rho0 is None else as_state(rho0, d, "rho0")
        v = vec(rho)
        props = [_integral_propagator(s.model.liouvillian(), s.duration) for s in self.segments]
        heat = np.zeros((n_cycles, S, len(baths)))
        work = np.zeros((n_cycles, S))
        states = [rho]
        for c in range(n_cycles):
            for s, seg in enumerate(self.segments):
                P, I = props[s]
                avg = unvec(I @ v, d)
                for b in seg.model.baths:
                    heat[c, s, baths.index(b)] = np.trace(
                        seg.model.H @ seg.model.dissipator_of(b, avg)).real
                v = P @ v
                r = unvec(v, d)
                Hn = self.segments[(s + 1) % S].model.H
                work[c, s] = np.trace((Hn - seg.model.H) @ r).real
                states.append(r)
        return {"heat": heat, "work": work, "heat_cycle": heat.sum(axis=1),
                "work_cycle": work.sum(axis=1), "states": np.array(states),
                "heat_per_cycle": heat.sum(axis=1).mean(axis=0),
                "work_per_cycle": float(work.sum(axis=1).mean())}

    # ------------------------------------------------------------------ shot by shot
    def simulate(self, n_cycles: int, ntraj: int | None = None, state0=None, seed=0,
                 n_jobs: int = 1, heat: str = "transition", keep_jumps: bool = False,
                 store_states: bool = True, backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 target_stderr: float | None = None, timeout: float | None = None,
                 out=None, resume: bool = False, scheduler: str | None = None,
                 checkpoint_every: float | None = None, *,
                 target_rel_stderr: float | None = None) -> EnsembleResult:
        """Quantum-jump ensemble over n_cycles cycles from state0 (default: periodic state).

        Output times are the segment boundaries (`boundary_times`).  Records (each with
        "_stderr"), baths ordered as `result.meta["baths"]`, heat positive into the system:
          "heat_segment" (n_cycles, S, nb), "work_segment" (n_cycles, S);
          "heat_cycle" (n_cycles, nb), "work_cycle" (n_cycles,);
          "heat_cumulative" (nb, n_times), "work_cumulative" (n_times,);
          "heat_per_cycle" (nb,), "work_per_cycle" (averages over all cycles), and
          "cycle_cov" ((nb+1, nb+1): covariance of the estimates [heat_per_cycle...,
          work_per_cycle], from per-trajectory totals); "jump_counts" per channel (channels of
          all segments in order).  heat="transition" gives each jump its channel's transition
          energy (NaN records for a bath with an undefined one); heat="expected" the
          state-dependent unbiased estimator (see `qtraj.mcsolve`).  keep_jumps=True adds
          "jump_traj", "jump_cycle", "jump_segment", "jump_channel", "jump_bath",
          "jump_time", "jump_energy" (heat of each jump).  Run options as in
          `qtraj.ensemble.RunOptions`; the targets refer to "heat_per_cycle" and
          "work_per_cycle".
        """
        opts = RunOptions.from_mapping(locals())
        if heat not in ("transition", "expected"):
            raise ValueError(f"heat must be 'transition' or 'expected', got {heat!r}")
        n_cycles = as_count(n_cycles, "n_cycles")
        d = self.dim
        rho0 = self.periodic_state() if state0 is None else as_state(state0, d, "state0")
        ss, key = root_key(seed)
        job = self._job(n_cycles, rho0, key, store_states, keep_jumps, heat == "expected")
        undefined = _undefined_baths(job, heat)
        return run(job, opts, target_fn=lambda tot: _per_cycle(tot, n_cycles, undefined),
                   to_result=lambda total, info: self._to_result(total, info, job, ss,
                                                                 n_cycles, keep_jumps, heat))

    def _job(self, n_cycles, rho0, key, store_states, keep_jumps, expected) -> "ProtocolJob":
        d, baths = self.dim, self.baths
        parts = [no_jump_propagator(s.model.effective_hamiltonian()) for s in self.segments]
        Ls, energies, bidx, k0 = [], [], [], [0]
        for s in self.segments:
            m = s.model
            Ls += list(m.jump_operators())
            energies += list(m.channel_energies())
            bidx += [baths.index(c.bath) for c in m.channels]
            k0.append(len(Ls))
        cum0, kets0 = _initial_mixture(rho0)
        return ProtocolJob(
            lam=np.array([p[0] for p in parts]), V=np.array([p[1] for p in parts]),
            Vinv=np.array([p[2] for p in parts]), G=np.array([p[3] for p in parts]),
            normal=np.array([p[4] for p in parts], dtype=np.bool_),
            Ls=np.array(Ls, dtype=complex).reshape(-1, d, d),
            seg_k0=np.array(k0, dtype=np.int64),
            chan_energy=np.array(energies, dtype=float),
            chan_bath=np.array(bidx, dtype=np.int64),
            Hs=np.array([s.model.H for s in self.segments]),
            durations=np.array([s.duration for s in self.segments]),
            cum0=cum0, kets0=kets0, n_cycles=int(n_cycles), n_baths=len(baths), key=key,
            store_states=bool(store_states), keep_jumps=bool(keep_jumps),
            expected_heat=bool(expected))

    def _to_result(self, total, info, job, ss, n_cycles, keep_jumps, heat) -> EnsembleResult:
        n, S, nb, d = info["ntraj"], self.n_segments, len(self.baths), self.dim
        undefined = _undefined_baths(job, heat)

        def mask(a):  # last axis = bath
            return np.where(undefined, np.nan, a)

        seg, cyc, cum = total["segment"], total["cycle"], total["cumulative"]
        tot, pair = total["totals"], total["pairs"]
        var = tot.variance.real[0]
        pv = pair.variance.real
        cov = 0.5 * (pv - var[:, None] - var[None, :]) / (n * n_cycles ** 2)
        undef_all = np.concatenate([undefined, [False]])
        cov = np.where(undef_all[:, None] | undef_all[None, :], np.nan, cov)
        m_tot = tot.mean.real[0] / n_cycles
        se_tot = tot.stderr.real[0] / n_cycles
        cmean, cse = count_mean_stderr(total["counts"], total["counts_sq"], n)
        rec = {
            "heat_segment": mask(seg.mean.real[:, :nb].reshape(n_cycles, S, nb)),
            "heat_segment_stderr": mask(seg.stderr.real[:, :nb].reshape(n_cycles, S, nb)),
            "work_segment": seg.mean.real[:, nb].reshape(n_cycles, S),
            "work_segment_stderr": seg.stderr.real[:, nb].reshape(n_cycles, S),
            "heat_cycle": mask(cyc.mean.real[:, :nb]),
            "heat_cycle_stderr": mask(cyc.stderr.real[:, :nb]),
            "work_cycle": cyc.mean.real[:, nb], "work_cycle_stderr": cyc.stderr.real[:, nb],
            "heat_cumulative": mask(cum.mean.real[:, :nb]).T.copy(),
            "heat_cumulative_stderr": mask(cum.stderr.real[:, :nb]).T.copy(),
            "work_cumulative": cum.mean.real[:, nb],
            "work_cumulative_stderr": cum.stderr.real[:, nb],
            "heat_per_cycle": mask(m_tot[:nb]), "heat_per_cycle_stderr": mask(se_tot[:nb]),
            "work_per_cycle": m_tot[nb], "work_per_cycle_stderr": se_tot[nb],
            "cycle_cov": cov,
            "jump_counts": cmean, "jump_counts_stderr": cse,
        }
        if keep_jumps:
            ints, flts = total["jumps"]
            if heat == "transition":      # undefined transition energies: NaN, never a guess
                flts = flts.copy()
                flts[1, np.isnan(job.chan_energy[ints[3]])] = np.nan
            rec.update({"jump_traj": ints[0], "jump_cycle": ints[1], "jump_segment": ints[2],
                        "jump_channel": ints[3], "jump_bath": ints[4], "jump_time": flts[0],
                        "jump_energy": flts[1]})
        mean = stderr = None
        if "rho" in total:
            mean = total["rho"].mean.reshape(-1, d, d)
            stderr = total["rho"].stderr.reshape(-1, d, d)
        meta = dict(info, solver="protocol", heat=heat, baths=self.baths,
                    segments=[s.name for s in self.segments],
                    durations=[s.duration for s in self.segments], period=self.period,
                    n_cycles=n_cycles)
        return EnsembleResult(times=self.boundary_times(n_cycles), mean=mean, stderr=stderr,
                              ntraj=n, seed=seed_info(ss), records=rec, meta=meta)

    def __repr__(self) -> str:
        segs = ", ".join(f"{s.name}:{s.duration:g}" for s in self.segments)
        return f"Protocol(dim={self.dim}, period={self.period:g}, [{segs}])"


def _undefined_baths(job, heat: str) -> np.ndarray:
    """Baths whose heat is undefined (a channel without a transition energy, heat="transition")."""
    undefined = np.zeros(job.n_baths, dtype=bool)
    if heat == "transition":
        for e, b in zip(job.chan_energy, job.chan_bath):
            undefined[b] |= bool(np.isnan(e))
    return undefined


def _per_cycle(total: dict, n_cycles: int, undefined: np.ndarray):
    """Targeted quantities: heat per cycle (per bath; NaN = undefined, ignored) and work per
    cycle, with standard errors."""
    t = total["totals"]
    keep = np.append(~undefined, True)
    return (np.where(keep, t.mean.real[0], np.nan) / n_cycles,
            np.where(keep, t.stderr.real[0], np.nan) / n_cycles)


# --------------------------------------------------------------------------- kernel
@njit(cache=True, nogil=True)
def _protocol_block(lam, Vd, Vi, Vp, Wd, Wi, Wp, G, normal, Ld, Li, Lp, seg_k0, chan_energy,
                    chan_bath, Hs, dur, cum0, kets0, n_cycles, nb, key, start, stop,
                    store_states, keep_jumps, expected, rho_s, rho_q, rho_k, seg_s, seg_q,
                    seg_k, cyc_s, cyc_q, cyc_k, cum_s, cum_q, cum_k, tot_s, tot_q, tot_k,
                    pair_s, pair_q, pair_k, counts, counts_sq):
    """Trajectories start..stop-1 over n_cycles cycles of the S segments (see module doc).

    Row b = cycle * S + s of seg_* holds [heat per bath..., work of the switch] of segment s;
    cyc_* per cycle; cum_* and rho_* at boundary b + 1 (row 0 = start).  tot_* and pair_*
    hold per-trajectory totals x and x_i + x_j (for covariances)."""
    S = dur.shape[0]
    d = lam.shape[1]
    K = Lp.shape[0]
    period = 0.0
    for s in range(S):
        period += dur[s]
    c = np.empty(d, np.complex128)
    psi = np.empty(d, np.complex128)
    work = np.empty(d, np.complex128)
    tmp = np.empty(d, np.complex128)
    hpsi = np.empty(d, np.complex128)
    tmp2 = np.empty(d, np.complex128)
    weights = np.empty(max(K, 1))
    cnt = np.zeros(max(K, 1), np.int64)
    heat_cum = np.zeros(nb + 1)       # cumulative [heat per bath..., work]
    seg_x = np.zeros(nb + 1)
    cyc_x = np.zeros(nb + 1)
    cap = 16 if keep_jumps else 1
    j_int = np.empty((5, cap), np.int64)
    j_flt = np.empty((2, cap))
    nrec = 0
    for traj in range(start, stop):
        st = stream_state(key, traj)
        first = traj == start
        _draw_initial(cum0, kets0, st, psi)
        r = next_open(st)
        cnt[:] = 0
        heat_cum[:] = 0.0
        if store_states:
            for a in range(d):
                for b in range(d):
                    _accumulate(psi[a] * psi[b].conjugate(), first, rho_k, rho_s, rho_q, 0,
                                a * d + b)
        for m in range(nb + 1):
            _accumulate(0j, first, cum_k, cum_s, cum_q, 0, m)
        t_seg = 0.0
        for cyc in range(n_cycles):
            cyc_x[:] = 0.0
            for sg in range(S):
                tau = dur[sg]
                k0 = seg_k0[sg]
                k1 = seg_k0[sg + 1]
                seg_x[:] = 0.0
                _csc_matvec(Wd, Wi, Wp, sg, psi, c)
                lam_s = lam[sg]
                G_s = G[sg]
                nrm = normal[sg]
                tref = 0.0
                while True:
                    nT = _norm_and_slope(c, lam_s, G_s, nrm, tau - tref, work)[0]
                    if k1 == k0 or nT > r:
                        break
                    tj = _jump_time(c, lam_s, G_s, nrm, r, tref, tau, tref, work)
                    nj = _norm_and_slope(c, lam_s, G_s, nrm, tj - tref, work)[0]
                    _csc_matvec(Vd, Vi, Vp, sg, work, psi)
                    scale = 1.0 / math.sqrt(nj)
                    for i in range(d):
                        psi[i] *= scale
                    tot = 0.0
                    for k in range(k0, k1):
                        _csc_matvec(Ld, Li, Lp, k, psi, tmp)
                        w = 0.0
                        for i in range(d):
                            w += tmp[i].real ** 2 + tmp[i].imag ** 2
                        tot += w
                        weights[k - k0] = tot
                    kl = _sample_index(weights[:k1 - k0], next_double(st) * tot)
                    k = k0 + kl
                    _csc_matvec(Ld, Li, Lp, k, psi, tmp)
                    wk = weights[kl] - (weights[kl - 1] if kl > 0 else 0.0)
                    if expected:
                        q = _expected_jump_energy(Ld, Li, Lp, k, Hs[sg], psi, tmp, wk, hpsi,
                                                  tmp2)
                    else:
                        q = chan_energy[k]
                    scale = 1.0 / math.sqrt(wk)
                    for i in range(d):
                        psi[i] = tmp[i] * scale
                    _csc_matvec(Wd, Wi, Wp, sg, psi, c)
                    tref = tj
                    r = next_open(st)
                    cnt[k] += 1
                    seg_x[chan_bath[k]] += q
                    if keep_jumps:
                        if nrec == j_flt.shape[1]:
                            more = np.empty((5, nrec), np.int64)
                            j_int = np.concatenate((j_int, more), axis=1)
                            j_flt = np.concatenate((j_flt, np.empty((2, nrec))), axis=1)
                        j_int[0, nrec] = traj
                        j_int[1, nrec] = cyc
                        j_int[2, nrec] = sg
                        j_int[3, nrec] = k
                        j_int[4, nrec] = chan_bath[k]
                        j_flt[0, nrec] = t_seg + tj
                        j_flt[1, nrec] = q
                        nrec += 1
                # end of the segment: renormalise (exact rewrite of the threshold) ...
                _csc_matvec(Vd, Vi, Vp, sg, work, psi)
                scale = 1.0 / math.sqrt(nT)
                for i in range(d):
                    psi[i] *= scale
                if k1 > k0:
                    r = r / nT
                # ... and switch the Hamiltonian: work <psi|H_next - H_s|psi>
                nx = (sg + 1) % S
                _matvec(Hs[nx], psi, hpsi)
                _matvec(Hs[sg], psi, tmp)
                w = 0.0
                for i in range(d):
                    w += (psi[i].conjugate() * (hpsi[i] - tmp[i])).real
                seg_x[nb] = w
                row = cyc * S + sg
                for m in range(nb + 1):
                    cyc_x[m] += seg_x[m]
                    heat_cum[m] += seg_x[m]
                    _accumulate(complex(seg_x[m], 0.0), first, seg_k, seg_s, seg_q, row, m)
                    _accumulate(complex(heat_cum[m], 0.0), first, cum_k, cum_s, cum_q,
                                row + 1, m)
                if store_states:
                    for a in range(d):
                        for b in range(d):
                            _accumulate(psi[a] * psi[b].conjugate(), first, rho_k, rho_s,
                                        rho_q, row + 1, a * d + b)
                t_seg += tau
            for m in range(nb + 1):
                _accumulate(complex(cyc_x[m], 0.0), first, cyc_k, cyc_s, cyc_q, cyc, m)
        for m in range(nb + 1):
            _accumulate(complex(heat_cum[m], 0.0), first, tot_k, tot_s, tot_q, 0, m)
            for m2 in range(nb + 1):
                _accumulate(complex(heat_cum[m] + heat_cum[m2], 0.0), first, pair_k, pair_s,
                            pair_q, m, m2)
        for k in range(K):
            counts[k] += cnt[k]
            counts_sq[k] += cnt[k] * cnt[k]
    return j_int[:, :nrec].copy(), j_flt[:, :nrec].copy()


@dataclass
class ProtocolJob:
    """Everything a worker needs to run blocks of protocol trajectories (picklable).

    Per segment s: lam[s], V[s], Vinv[s], G[s], normal[s] (no-jump propagator), Hs[s],
    durations[s]; channels of segment s are Ls[seg_k0[s]:seg_k0[s+1]] with their transition
    energies and (global) bath indices."""

    lam: np.ndarray
    V: np.ndarray
    Vinv: np.ndarray
    G: np.ndarray
    normal: np.ndarray
    Ls: np.ndarray
    seg_k0: np.ndarray
    chan_energy: np.ndarray
    chan_bath: np.ndarray
    Hs: np.ndarray
    durations: np.ndarray
    cum0: np.ndarray
    kets0: np.ndarray
    n_cycles: int
    n_baths: int
    key: np.ndarray
    store_states: bool = True
    keep_jumps: bool = False
    expected_heat: bool = False
    block_size: int = 64

    def __post_init__(self):
        self._kernel_args = (
            *_csc_stack(np.asarray(self.V), 1e-15), *_csc_stack(np.asarray(self.Vinv), 1e-15),
            np.ascontiguousarray(self.G),
            np.ascontiguousarray(self.normal), *_csc_stack(self.Ls), self.seg_k0,
            np.nan_to_num(self.chan_energy), self.chan_bath, np.ascontiguousarray(self.Hs),
            np.asarray(self.durations, float), self.cum0, self.kets0)

    def run_block(self, start: int, stop: int) -> dict:
        S, d = self.lam.shape
        nb, nc = self.n_baths, self.n_cycles
        nt = nc * S + 1
        z = lambda *shape: tuple(np.zeros(shape, complex) for _ in range(3))   # noqa: E731
        rho = z(nt, d * d) if self.store_states else z(0, 0)
        seg, cyc, cum = z(nc * S, nb + 1), z(nc, nb + 1), z(nt, nb + 1)
        tot, pair = z(1, nb + 1), z(nb + 1, nb + 1)
        K = self.Ls.shape[0]
        counts = np.zeros(K, np.int64)
        counts_sq = np.zeros(K, np.int64)
        ints, flts = _protocol_block(
            self.lam, *self._kernel_args, nc, nb, self.key, start, stop, self.store_states,
            self.keep_jumps, self.expected_heat, *rho, *seg, *cyc, *cum, *tot, *pair,
            counts, counts_sq)
        n = stop - start
        out = {"segment": _shifted_to_moments(n, *seg), "cycle": _shifted_to_moments(n, *cyc),
               "cumulative": _shifted_to_moments(n, *cum),
               "totals": _shifted_to_moments(n, *tot), "pairs": _shifted_to_moments(n, *pair),
               "counts": counts, "counts_sq": counts_sq}
        if self.store_states:
            out["rho"] = _shifted_to_moments(n, *rho)
        if self.keep_jumps:
            out["jumps"] = (ints, flts)
        return out
