"""Piecewise-constant periodic protocols: a cycle of (duration, Lindblad) segments.

Deterministic side: segment s propagates by P_s = exp(L_s tau_s); one cycle is the map
Phi = P_{S-1} ... P_1 P_0, and the periodic (limit-cycle) state is its fixed point Phi(rho) = rho
(`Protocol.periodic_state`).  Mean heat of bath b in segment s is Tr[H_s D_{s,b}(int rho dt)]
(the integral by the augmented-matrix exponential); the work of the switch at the end of
segment s is Tr[(H_{s+1} - H_s) rho] (sudden change of the Hamiltonian, populations and
coherences unchanged) (`Protocol.energetics`).

Shot by shot (`Protocol.simulate`): one Numba call runs whole trajectories across all segments
and cycles.  Within a segment jump times are exact (root of the no-jump norm, from
`qtraj.linalg.no_jump_propagator` of that segment's H_eff); at a boundary the ket is
renormalised and the jump threshold r is carried over as r / n(T) (an exact rewrite of the
waiting-time law: no jump is lost or invented at a boundary).  Each jump adds its heat to its
bath (the channel's transition energy, or with heat="expected" the state-dependent estimator of
`qtraj.jumps._expected_jump_energy`); each switch adds <psi|H_{s+1} - H_s|psi> of work.
Records are per segment, per cycle and cumulative at every segment boundary, with standard
errors; per-trajectory totals also give the covariance of the per-cycle estimates (for ratio
estimators such as a COP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.linalg as sla

from . import kernel_inputs as ki
from ._kernels.protocol import protocol_block
from ._kernels.structs import (REC_BATH, REC_CHANNEL, REC_CYCLE, REC_HEAT, REC_SEGMENT,
                               REC_TIME, REC_TRAJ, Channels, CycleSpec, CycleSums, Mixture,
                               Propagators, new_jump_records)
from .deterministic import NonUniqueSteadyState
from .ensemble import RunOptions, run
from .lindblad import Lindblad, unvec, vec
from .linalg import null_space
from .results import EnsembleResult
from .rng import root_key, seed_info
from .stats import count_mean_stderr
from .validation import as_count, as_state, as_times

__all__ = ["Segment", "Protocol"]


@dataclass(frozen=True)
class Segment:
    """One piece of a protocol: `model` acts for `duration`.

    Segments compare by value (equal durations, names and models, see `Lindblad`) and, holding
    arrays, are not hashable."""

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
        R = null_space(A, rtol)
        if R.shape[1] == 0:
            raise RuntimeError("the cycle map has no fixed point; is it trace preserving?")
        if R.shape[1] == 1:
            rho = unvec(R[:, 0], d)
            rho = rho / np.trace(rho)
        else:
            if rho0 is None:
                raise NonUniqueSteadyState(R.shape[1])
            Lf = null_space(A.conj().T, rtol)
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
                 store_states: bool | None = None, backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 target_stderr: float | None = None, timeout: float | None = None,
                 out=None, resume: bool = False, scheduler: str | None = None,
                 checkpoint_every: float | None = None, *,
                 target_rel_stderr: float | None = None) -> EnsembleResult:
        """Quantum-jump ensemble over n_cycles cycles of the protocol.

        Parameters
        ----------
        n_cycles : int
        state0 : ket or density matrix at the start of segment 0, optional
            Default: the periodic state (`periodic_state`).
        heat : {"transition", "expected"}
            Heat of a jump: the channel's transition energy, or the state-dependent unbiased
            estimator (see `qtraj.mcsolve`).
        keep_jumps : bool, default False
            Record every jump (memory grows with ntraj).
        store_states : bool or None, default None
            Average the density matrix at every segment boundary.  None: True (this solver
            takes no e_ops).
        ntraj, seed, n_jobs, backend, batch_size, progress, target_stderr, target_rel_stderr,
        timeout, out, resume, checkpoint_every, scheduler
            The run options of every qtraj solver (`qtraj.ensemble.RunOptions`); the targets
            refer to "heat_per_cycle" and "work_per_cycle".

        Returns
        -------
        EnsembleResult
            With these fields (records are read as ``result[name]``, each with its standard
            error ``result[name + "_stderr"]``; baths ordered as ``result.meta["baths"]``, heat
            positive into the system, NaN for a bath with an undefined transition energy under
            heat="transition"):

            - ``times``: the segment boundaries (`boundary_times(n_cycles)`);
            - ``mean``, ``stderr``: density matrix at the boundaries (None when
              store_states=False);
            - "heat_segment" (n_cycles, S, nb), "work_segment" (n_cycles, S): per segment
              (work = that of the switch at the segment's end);
            - "heat_cycle" (n_cycles, nb), "work_cycle" (n_cycles,): per cycle;
            - "heat_cumulative" (nb, nt), "work_cumulative" (nt,): up to each boundary;
            - "heat_per_cycle" (nb,), "work_per_cycle": averages over all cycles;
            - "cycle_cov" (nb + 1, nb + 1): covariance of the estimates [heat_per_cycle...,
              work_per_cycle], from per-trajectory totals (for ratio estimators);
            - "jump_counts": per channel (channels of all segments in order);
            - with keep_jumps: "jump_traj", "jump_cycle", "jump_segment", "jump_channel",
              "jump_bath", "jump_time", "jump_energy" (one entry per jump).

        Raises
        ------
        ValueError
            For a bad count, state, heat or run option.

        Examples
        --------
        >>> import qtraj as qt
        >>> from qtraj import operators as op
        >>> from qtraj.protocols import Protocol
        >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0)])
        >>> res = Protocol([(1.0, L)]).simulate(2, 100, seed=1, progress=False)
        >>> res["heat_cycle"].shape, res.times.shape
        ((2, 1), (3,))
        """
        opts = RunOptions.from_mapping(locals())
        if heat not in ("transition", "expected"):
            raise ValueError(f"heat must be 'transition' or 'expected', got {heat!r}")
        n_cycles = as_count(n_cycles, "n_cycles")
        d = self.dim
        rho0 = self.periodic_state() if state0 is None else as_state(state0, d, "state0")
        ss, key = root_key(seed)
        store_states = True if store_states is None else bool(store_states)
        job = self._job(n_cycles, rho0, key, store_states, keep_jumps, heat == "expected")
        undefined = _undefined_baths(job, heat, self._channel_energies())
        return run(job, opts, target_fn=lambda tot: _per_cycle(tot, n_cycles, undefined),
                   to_result=lambda total, info: self._to_result(total, info, job, ss,
                                                                 n_cycles, keep_jumps, heat))

    def _channel_energies(self) -> np.ndarray:
        """Transition energy of every channel of every segment, in order (NaN: undefined)."""
        return np.concatenate([s.model.channel_energies() for s in self.segments])

    def _job(self, n_cycles, rho0, key, store_states, keep_jumps, expected) -> "ProtocolJob":
        models = [s.model for s in self.segments]
        return ProtocolJob(
            propagators=ki.propagators_of(models),
            channels=ki.channels(models, self.baths, state_heat=expected),
            initial=ki.mixture(rho0),
            spec=CycleSpec(H=np.ascontiguousarray([m.H for m in models], dtype=complex),
                           durations=np.array([s.duration for s in self.segments], float),
                           n_cycles=int(n_cycles), store_states=bool(store_states),
                           keep_jumps=bool(keep_jumps)),
            n_baths=len(self.baths), key=key)

    def _to_result(self, total, info, job, ss, n_cycles, keep_jumps, heat) -> EnsembleResult:
        n, S, nb, d = info["ntraj"], self.n_segments, len(self.baths), self.dim
        energies = self._channel_energies()
        undefined = _undefined_baths(job, heat, energies)

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
                flts[REC_HEAT, np.isnan(energies[ints[REC_CHANNEL]])] = np.nan
            rec.update({"jump_traj": ints[REC_TRAJ], "jump_cycle": ints[REC_CYCLE],
                        "jump_segment": ints[REC_SEGMENT], "jump_channel": ints[REC_CHANNEL],
                        "jump_bath": ints[REC_BATH], "jump_time": flts[REC_TIME],
                        "jump_energy": flts[REC_HEAT]})
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


def _undefined_baths(job, heat: str, energies: np.ndarray) -> np.ndarray:
    """Baths whose heat is undefined (a channel without a transition energy, heat="transition");
    energies: the transition energy of every channel of every segment, NaN where undefined."""
    undefined = np.zeros(job.n_baths, dtype=bool)
    if heat == "transition":
        for e, b in zip(energies, job.channels.bath):
            undefined[b] |= bool(np.isnan(e))
    return undefined


def _per_cycle(total: dict, n_cycles: int, undefined: np.ndarray):
    """Targeted quantities: heat per cycle (per bath; NaN = undefined, ignored) and work per
    cycle, with standard errors."""
    t = total["totals"]
    keep = np.append(~undefined, True)
    return (np.where(keep, t.mean.real[0], np.nan) / n_cycles,
            np.where(keep, t.stderr.real[0], np.nan) / n_cycles)


# --------------------------------------------------------------------------- job
@dataclass
class ProtocolJob:
    """Everything a worker needs to run blocks of protocol trajectories (picklable).

    Attributes
    ----------
    propagators : `Propagators`, one per segment
    channels : `Channels` of all segments (segment s uses channels first[s]..first[s+1]-1),
        bath indices over the protocol's baths
    initial : `Mixture` the initial ket is drawn from
    spec : `CycleSpec` (Hamiltonians, durations, number of cycles, what is stored)
    n_baths : number of baths
    key : (4,) uint64 root key of the random streams
    block_size : trajectories per block
    """

    propagators: Propagators
    channels: Channels
    initial: Mixture
    spec: CycleSpec
    n_baths: int
    key: np.ndarray
    block_size: int = 64
    memory_remedy = "use store_states=False or fewer cycles"

    @property
    def block_bytes(self) -> int:
        """Size of one block's sums (`qtraj.ensemble.memory_estimate`)."""
        S, d = self.propagators.lam.shape
        nb1, nc = self.n_baths + 1, self.spec.n_cycles
        nt = nc * S + 1
        n = (nt * d * d if self.spec.store_states else 0) + \
            nb1 * (nc * S + nc + nt + 1 + nb1)
        return 3 * 16 * n

    def run_block(self, start: int, stop: int) -> dict:
        """Run trajectories start..stop-1; return their reductions."""
        spec = self.spec
        S, d = self.propagators.lam.shape
        nb, nc = self.n_baths, spec.n_cycles
        nt = nc * S + 1
        K = self.channels.bath.shape[0]
        capacity = 64 * (stop - start) if spec.keep_jumps else 0
        while True:   # kept jumps: rerun the block with more room if the records overflow
            sums = CycleSums(rho=ki.accumulator((nt, d * d) if spec.store_states else (0, 0)),
                             segment=ki.accumulator((nc * S, nb + 1)),
                             cycle=ki.accumulator((nc, nb + 1)),
                             cumulative=ki.accumulator((nt, nb + 1)),
                             totals=ki.accumulator((1, nb + 1)),
                             pairs=ki.accumulator((nb + 1, nb + 1)),
                             counts=np.zeros(K, np.int64), counts_sq=np.zeros(K, np.int64))
            records = new_jump_records(capacity)
            ket = ki.ket_scratch(self.propagators, self.channels, extra_tally=1)   # + work
            nrec = protocol_block(self.propagators, self.channels, self.initial, spec, sums,
                                  ket, records, self.key, start, stop)
            if nrec >= 0:
                break
            capacity *= 4
        n = stop - start
        out = {"segment": ki.moments(sums.segment, n), "cycle": ki.moments(sums.cycle, n),
               "cumulative": ki.moments(sums.cumulative, n),
               "totals": ki.moments(sums.totals, n), "pairs": ki.moments(sums.pairs, n),
               "counts": sums.counts, "counts_sq": sums.counts_sq}
        if spec.store_states:
            out["rho"] = ki.moments(sums.rho, n)
        if spec.keep_jumps:
            out["jumps"] = (records.ints[:, :nrec].copy(), records.floats[:, :nrec].copy())
        return out
