"""Quantum-jump (Monte Carlo wave-function) trajectories with exact jump times: `mcsolve`.

Unravelling of a `Lindblad` model: between jumps the unnormalised ket evolves under
H_eff = H - i/2 sum_k L_k^dag L_k; a jump happens when its squared norm n(t) falls to a uniform
random number r, and channel k is chosen with probability ||L_k psi||^2 / sum_j ||L_j psi||^2.

Jump times are exact.  With the eigen-decomposition -i H_eff = V diag(lam) V^-1 (computed once,
`qtraj.linalg.no_jump_propagator`), a ket with coefficients c = V^-1 psi at time t_ref has norm
    n(t) = c(t)^dag G c(t),  c(t) = c * exp(lam (t - t_ref)),  G = V^dag V,
and dn/dt = -<psi|sum_k L_k^dag L_k|psi> <= 0, so the jump time is the root of the monotone
function n(t) - r, found by safeguarded Newton iteration to machine precision (no time step).
Mixed initial states are sampled from their eigen-decomposition.

Pipeline: model -> kernel inputs (`qtraj.kernel_inputs`) -> `JumpJob` (blocks of trajectories
in one Numba call, `qtraj._kernels.jumps`) -> ensemble (`qtraj.ensemble`) -> `EnsembleResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernel_inputs as ki
from ._kernels.jumps import jump_block
from ._kernels.structs import (REC_CHANNEL, REC_TIME, REC_TRAJ, Channels, JumpOutputs, Mixture,
                               Propagators, new_jump_records)
from .ensemble import RunOptions, run
from .results import EnsembleResult
from .linalg import KRYLOV_TOL
from .rng import root_key, seed_info
from .stats import count_mean_stderr
from .validation import as_state, as_times

__all__ = ["mcsolve", "JumpJob"]


@dataclass
class JumpJob:
    """Everything a worker needs to run blocks of quantum-jump trajectories (picklable).

    Attributes
    ----------
    propagators : `Propagators` of the model's H_eff (one segment)
    channels : `Channels` (jump operators, heat per jump, bath of each channel)
    initial : `Mixture` the initial state is drawn from
    outputs : `JumpOutputs` (times, e_ops, what is stored)
    key : (4,) uint64 root key of the random streams
    n_baths : number of baths (heat records)
    block_size : trajectories per block (fixed: results do not depend on how blocks are spread)
    """

    propagators: Propagators
    channels: Channels
    initial: Mixture
    outputs: JumpOutputs
    key: np.ndarray
    n_baths: int
    block_size: int = 256
    memory_remedy = "give e_ops (then states are not stored by default) or store_states=False, " \
                    "or use fewer output times"

    @property
    def block_bytes(self) -> int:
        """Size of one block's reductions (three complex accumulators per recorded number)."""
        out = self.outputs
        nt, d = out.times.shape[0], self.propagators.lam.shape[1]
        n = (nt * d * d if out.store_states else 0) + nt * (out.e_isdiag.shape[0] + self.n_baths)
        return 3 * 16 * n

    def run_block(self, start: int, stop: int) -> dict:
        """Run trajectories start..stop-1; return their reductions (Moments and exact sums)."""
        out = self.outputs
        d, nt = self.propagators.lam.shape[1], out.times.shape[0]
        K = self.channels.bath.shape[0]
        capacity = 64 * (stop - start) if out.keep_jumps else 0
        while True:   # kept jumps: rerun the block with more room if the records overflow
            sums = ki.jump_sums(out, d, self.n_baths, K)
            records = new_jump_records(capacity)
            ket = ki.ket_scratch(self.propagators, self.channels)
            nrec = jump_block(self.propagators, self.channels, self.initial, out, sums, ket,
                              records, self.key, start, stop)
            if nrec >= 0:
                break
            capacity *= 4
        n = stop - start
        res = {"counts": sums.counts, "counts_sq": sums.counts_sq}
        if out.store_states:
            res["rho"] = ki.moments(sums.rho, n, (nt, d, d))
        if out.e_isdiag.shape[0]:
            res["expect"] = ki.moments(sums.expect, n)
        if self.n_baths:
            res["heat"] = ki.moments(sums.heat, n)
        if out.keep_jumps:
            res["jumps"] = (records.ints[:, :nrec].copy(), records.floats[:, :nrec].copy())
        return res


def mcsolve(model, state0, times, ntraj: int | None = None, seed=0, n_jobs: int = 1, e_ops=None,
            backend: str = "loky", batch_size: int | None = None, store_states: bool | None = None,
            keep_jumps: bool = False, progress: bool | None = None,
            target_stderr: float | None = None, timeout: float | None = None,
            out=None, resume: bool = False, scheduler: str | None = None,
            checkpoint_every: float | None = None, heat: str = "transition", *,
            target_rel_stderr: float | None = None, method: str = "auto",
            krylov_tol: float = KRYLOV_TOL) -> EnsembleResult:
    """Quantum-jump (Monte Carlo wave-function) ensemble of a Lindblad model.

    Each trajectory starts from a ket drawn from `state0`, evolves under
    H_eff = H - (i/2) sum_k L_k^dag L_k and jumps at exact times (module docstring).

    Parameters
    ----------
    model : Lindblad
    state0 : (d,) ket or (d, d) density matrix at times[0]
    times : increasing output times
    e_ops : (d, d) array or list of them, optional
        Operators whose expectation values are averaged at every output time.
    store_states : bool or None, default None
        Average the density matrix at every output time (memory 3 * 16 * nt * d^2 bytes per
        block's sums, and as much again for the running mean and its error).  None: only
        when no e_ops are given (as in QuTiP).  A run whose estimated memory exceeds the
        budget is refused before it allocates (`qtraj.ensemble.memory_budget`).
    keep_jumps : bool, default False
        Record every jump (memory grows with ntraj).
    heat : {"transition", "expected"}
        "transition": each jump of channel k moves `Lindblad.channel_energies()[k]` into the
        system.  "expected": the jump from ket psi counts
        ``q_k = (<L_k psi|H|L_k psi> - Re<L_k H psi|L_k psi>) / |L_k psi|^2``, whose mean is exactly
        the integral of Tr[H D_k(rho)] for every channel, also channels that are not
        eigenoperators of H (e.g. local dissipators); an unbiased estimator of the mean heat,
        not a physical per-jump energy.
    method : {"auto", "eigen", "krylov"}
        No-jump propagator (`qtraj.linalg.choose_propagator`): "eigen" (exact
        eigen-decomposition of -i H_eff; refused for a (nearly) defective H_eff), "krylov"
        (adaptive Krylov steps, each accurate to `krylov_tol` relative to the ket's norm; jump
        times located inside a step), or "auto": eigen for d <= 256 and a well-conditioned
        H_eff, Krylov otherwise.  ``result.meta["propagator"]`` says which was used.
    krylov_tol : float
        Tolerance of a Krylov step.
    ntraj, seed, n_jobs, backend, batch_size, progress, target_stderr, target_rel_stderr,
    timeout, out, resume, checkpoint_every, scheduler
        The run options of every qtraj solver (`qtraj.ensemble.RunOptions`).  The targets
        refer to the e_ops, or without e_ops to the density matrix.  Trajectory i uses its own
        random stream (seed, i): identical numbers for any n_jobs, batch_size or backend.

    Returns
    -------
    EnsembleResult
        With these fields (records are read as ``result[name]``, each with its standard
        error ``result[name + "_stderr"]``; baths ordered as ``result.meta["baths"]``, heat
        positive into the system, NaN for a bath whose jump energies are undefined under
        heat="transition"):

        - ``times``: the output times;
        - ``mean``, ``stderr``: (nt, d, d) averaged density matrix and its standard error
          (None when store_states=False);
        - ``expect``, ``expect_stderr``: (n_e, nt) for the e_ops (real when all are
          Hermitian);
        - "jump_counts" (K,): mean number of jumps per channel in [times[0], times[-1]];
        - "heat" (n_baths,): heat from each bath over the window, counted jump by jump;
        - "heat_cumulative" (n_baths, nt): the same up to each output time;
        - "heat_current" (n_baths,): heat / (times[-1] - times[0]);
        - with keep_jumps: "jump_traj", "jump_time", "jump_channel" (one entry per jump);
        - ``meta``: run information (stop_reason, target_reached, wall_time, ...), "baths",
          "channels", "heat".

    Raises
    ------
    TypeError
        If `model` is not a Lindblad.
    ValueError
        For a bad state, times, e_op, heat or run option, a target with nothing to target,
        or a (nearly) defective H_eff (an exceptional point).
    qtraj.ensemble.MemoryBudgetError
        (a ValueError) If the run would need more memory than its budget, e.g. the averaged
        density matrix of a large system at many times; the message gives the GiB needed,
        the budget and the remedy.

    Examples
    --------
    >>> import qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> res = qt.mcsolve(L, op.basis(2, 1), [0.0, 1.0], 500, seed=1, e_ops=[op.number_op()],
    ...                  progress=False)
    >>> res.expect.shape, res["jump_counts"].shape
    ((1, 2), (1,))
    """
    opts = RunOptions.from_mapping(locals())
    from .lindblad import Lindblad
    if not isinstance(model, Lindblad):
        raise TypeError(f"mcsolve needs a qtraj.Lindblad, got {type(model).__name__}")
    d = model.dim
    rho0 = as_state(state0, d, "state0")
    times = as_times(times)
    eops = ki.as_eops(e_ops, d)
    ss, key = root_key(seed)
    store_states = not len(eops) if store_states is None else bool(store_states)
    if not store_states and not len(eops) and opts.target is not None:
        raise ValueError("target_stderr/target_rel_stderr need e_ops or store_states=True")
    if heat not in ("transition", "expected"):
        raise ValueError(f"heat must be 'transition' or 'expected', got {heat!r}")
    energies = model.channel_energies()
    prop = ki.propagators_of([model], method, krylov_tol)
    job = JumpJob(propagators=prop,
                  channels=ki.channels([model], state_heat=(heat == "expected")),
                  initial=ki.mixture(rho0),
                  outputs=ki.jump_outputs(times, prop, eops, store_states, keep_jumps),
                  key=key, n_baths=len(model.baths))
    return run(job, opts, target_fn=_targeted,
               to_result=lambda total, info: _to_result(
                   total, info, model, times, eops, ss, info["ntraj"], keep_jumps,
                   heat == "expected", energies, ki.propagator_name(prop)))


def _targeted(total: dict):
    """The quantities a target refers to: the e_ops, else the density matrix."""
    return total.get("expect", total.get("rho"))


def _to_result(total, info, model, times, eops, ss, ntraj, keep_jumps,
               expected_heat=False, job_energies=None, propagator="eigen") -> EnsembleResult:
    n = ntraj
    cmean, cse = count_mean_stderr(total["counts"], total["counts_sq"], n)
    records = {"jump_counts": cmean, "jump_counts_stderr": cse}
    mean = stderr = expect = expect_se = None
    if "rho" in total:
        mean, stderr = total["rho"].mean, total["rho"].stderr
    if "expect" in total:
        expect, expect_se = total["expect"].mean, total["expect"].stderr
        if all(np.allclose(e, e.conj().T) for e in eops):
            expect, expect_se = expect.real.copy(), expect_se.real.copy()
    if "heat" in total:
        # baths with a channel whose jump energy is undefined get NaN (never a silent guess)
        energies = job_energies if job_energies is not None else model.channel_energies()
        undefined = np.array([not expected_heat and
                              any(np.isnan(e) for e, c in zip(energies, model.channels)
                                  if c.bath == b)
                              for b in model.baths])
        hm = np.where(undefined[:, None], np.nan, total["heat"].mean.real)
        hs = np.where(undefined[:, None], np.nan, total["heat"].stderr.real)
        dur = times[-1] - times[0]
        records.update({"heat_cumulative": hm, "heat_cumulative_stderr": hs,
                        "heat": hm[:, -1], "heat_stderr": hs[:, -1],
                        "heat_current": hm[:, -1] / dur if dur > 0 else hm[:, -1] * np.nan,
                        "heat_current_stderr": hs[:, -1] / dur if dur > 0 else hs[:, -1] * np.nan})
    if keep_jumps:
        ints, floats = total["jumps"]
        records.update({"jump_traj": ints[REC_TRAJ], "jump_channel": ints[REC_CHANNEL],
                        "jump_time": floats[REC_TIME]})
    meta = dict(info, solver="mcsolve", propagator=propagator,
                heat="expected" if expected_heat else "transition",
                baths=list(model.baths), channels=[c.name or f"{c.bath}:{k}" for k, c in
                                                  enumerate(model.channels)])
    return EnsembleResult(times=times, mean=mean, stderr=stderr, ntraj=n, seed=seed_info(ss),
                          expect=expect, expect_stderr=expect_se, records=records, meta=meta)
