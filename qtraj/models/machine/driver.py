"""Shot-by-shot runs of the coherence machine: `simulate_machine` (behind `Machine.simulate` and
`Machine.simulate_array`)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ...ensemble import RunOptions, run
from ...results import EnsembleResult
from ...rng import seed_info
from ...validation import as_count
from .estimators import coherence_rate_estimate, estimates
from .kernel import N_COLL, make_job

__all__ = ["simulate_machine", "default_burn_in"]


def default_burn_in(machine) -> int:
    """Collisions discarded per trajectory: 10 relaxation times of the exact generator.

    Parameters
    ----------
    machine : Machine

    Returns
    -------
    int

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state
    >>> default_burn_in(Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))) > 0
    True
    """
    return int(math.ceil(10.0 * machine.rate / machine.relaxation_rate()))


def simulate_machine(machine, n_collisions: int | None = None, n_machines: int = 1,
                     burn_in: int | None = None, state0="thermal", measure="energy", *,
                     ntraj: int | None = None, seed=0, n_jobs: int = 1, backend: str = "loky",
                     batch_size: int | None = None, progress: bool | None = None,
                     target_stderr: float | None = None,
                     target_rel_stderr: float | None = None, timeout: float | None = None,
                     out=None, resume: bool = False, checkpoint_every: float | None = None,
                     scheduler: str | None = None) -> EnsembleResult:
    """Shot-by-shot steady state of a machine (or a line of n_machines) fed with rho_a atoms.

    Parameters
    ----------
    machine : Machine
    n_collisions : int, optional
        Recorded atom arrivals in total, split over the trajectories (n_rec = n_collisions //
        ntraj per trajectory).  Default: 2e5 per trajectory when `ntraj` is given, else 4e5.
    n_machines : int
        Machines in the line (each atom crosses them in turn).
    burn_in : int, optional
        Arrivals discarded at the start of each trajectory (default: `default_burn_in`).
    state0 : "thermal", "steady", ket or density matrix
        Initial machine state: the baths' Gibbs product state, pi_m, or a given state.
    measure : "energy", "schmidt" or (2, 2) unitary
        Basis in which the last machine measures the atom.
    ntraj, seed, n_jobs, backend, batch_size, progress, target_stderr, target_rel_stderr,
    timeout, out, resume, checkpoint_every, scheduler
        The run options of every qtraj solver (`qtraj.ensemble.RunOptions`).  A trajectory is
        one independent machine history (burn-in + n_rec recorded arrivals); default ntraj:
        about 2e5 recorded collisions per trajectory, between 32 and 4096 trajectories.  The
        targets refer to the coherence rate Cdot_a of the last machine ("coherence_rate"):
        `target_stderr` its standard error, `target_rel_stderr` its relative standard error
        (both checked from 8 trajectories on).  batch_size defaults to at most 8 trajectories
        per task, about four tasks per worker.

    Returns
    -------
    EnsembleResult
        records: the estimates of `qtraj.models.machine.estimators` (result[key],
        result[key + "_stderr"]; arrays gain a leading machine axis when n_machines > 1) and
        "recorded_time", the total recorded time of all trajectories (also in meta).  The
        machine's estimates are stationary averages with no time axis: `times` is None and
        `mean` / `stderr` are None.

    Raises
    ------
    ValueError
        For a bad count, state0, measure or run option.

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state
    >>> m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    >>> res = simulate_machine(m, 40_000, ntraj=4, burn_in=100, seed=1)
    >>> res.meta["collisions_recorded"], res.times is None
    (40000, True)
    """
    opts = RunOptions.from_mapping(locals())
    M = as_count(n_machines, "n_machines")
    if n_collisions is None:
        n_collisions = 200_000 * opts.ntraj if opts.ntraj is not None else 400_000
    n_collisions = as_count(n_collisions, "n_collisions")
    if opts.ntraj is None:
        opts = dataclasses.replace(opts, ntraj=int(min(4096, max(32, n_collisions // 200_000))))
    ntraj = as_count(opts.ntraj, "ntraj", minimum=2)
    if opts.batch_size is None:
        workers = opts.n_jobs if opts.n_jobs > 0 else 2
        opts = dataclasses.replace(opts, batch_size=max(1, min(8, ntraj // (4 * workers))))
    n_rec = max(1, n_collisions // ntraj)
    n_burn = default_burn_in(machine) if burn_in is None else as_count(burn_in, "burn_in",
                                                                       minimum=0)
    job, ss = make_job(machine, n_rec, n_burn, seed, M, state0, measure)
    t0 = time.perf_counter()

    def to_result(total, info):
        rec = estimates(machine, total, job.centre, M)
        n_done = int(total["n"])
        n_recorded = int(round(n_done * job.centre[N_COLL] + total["sum"][0, N_COLL]))
        meta = dict(info, solver="Machine.simulate", n_machines=M, n_rec_per_traj=n_rec,
                    n_burn_per_traj=n_burn, collisions_recorded=n_recorded,
                    collisions_total=int(n_done * (n_rec + n_burn)) * M,
                    recorded_time=rec["recorded_time"],
                    measure=measure if isinstance(measure, str) else "custom",
                    state0=state0 if isinstance(state0, str) else "custom",
                    parameters=machine.parameters, rho_a=machine.rho_a,
                    elapsed=time.perf_counter() - t0)
        return EnsembleResult(times=None, mean=None, stderr=None, ntraj=n_done,
                              seed=seed_info(ss), records=rec, meta=meta)

    def targeted(total):
        est, se = coherence_rate_estimate(machine, total, job.centre)
        return np.array([est]), np.array([se])

    return run(job, opts, to_result=to_result, target_fn=targeted)
