"""Shot-by-shot runs of the coherence machine: `simulate_machine` (behind `Machine.simulate` and
`Machine.simulate_array`)."""

from __future__ import annotations

import inspect
import math
import time

import numpy as np

from ...ensemble import run_ensemble
from ...results import EnsembleResult
from ...rng import seed_info
from ...validation import as_count
from .estimators import coherence_rate_rel_stderr, estimates
from .kernel import N_COLL, MachineJob, make_job

__all__ = ["simulate_machine", "default_burn_in", "run_options"]


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


def run_options(machine, job: MachineJob, ntraj: int, n_jobs: int = 1, backend: str = "loky",
                batch_size: int | None = None, progress: bool | None = None,
                target_rel_stderr: float | None = None, timeout: float | None = None,
                out=None, resume: bool = False, scheduler: str | None = None) -> dict:
    """Keyword arguments of `run_ensemble` for a machine run: the one place where the run
    options of `simulate_machine` are interpreted.

    Parameters
    ----------
    machine : Machine
    job : MachineJob
    ntraj : int
        Trajectories (maximum, with a stopping rule).
    n_jobs, backend, batch_size, progress, timeout, out, resume, scheduler
        As in `qtraj.ensemble.run_ensemble`; batch_size defaults to at most 8 trajectories per
        task, about four tasks per worker.
    target_rel_stderr : float, optional
        Stop once the relative standard error of coherence_rate of the last machine is below
        this (checked after every trajectory, from at least 8 trajectories on).

    Returns
    -------
    dict

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state, make_job
    >>> m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    >>> job, _ = make_job(m, 1000, 100)
    >>> run_options(m, job, 64, n_jobs=2)["batch_size"]
    8
    """
    if batch_size is None:
        batch_size = max(1, min(8, ntraj // (4 * max(1, n_jobs if n_jobs > 0 else 2))))

    def stderr_fn(total):
        return coherence_rate_rel_stderr(machine, total, job.centre)
    return dict(n_jobs=n_jobs, backend=backend, batch_size=batch_size, progress=progress,
                unit="traj", target_stderr=target_rel_stderr, stderr_fn=stderr_fn,
                timeout=timeout, out=out, resume=resume, scheduler=scheduler)


def simulate_machine(machine, n_collisions: int, seed=0, n_jobs: int = 1, n_machines: int = 1,
                     ntraj: int | None = None, burn_in: int | None = None, state0="thermal",
                     measure="energy", **options) -> EnsembleResult:
    """Shot-by-shot steady state of a machine (or a line of n_machines) fed with rho_a atoms.

    Parameters
    ----------
    machine : Machine
    n_collisions : int
        Recorded atom arrivals in total (maximum, if a stopping rule is given), split over
        `ntraj` independent trajectories.
    seed : int or numpy.random.SeedSequence
        Trajectory i uses random stream (seed, i): identical results for any n_jobs, batch
        size or backend.
    n_jobs : int
        Workers (-1: all cores).
    n_machines : int
        Machines in the line (each atom crosses them in turn).
    ntraj : int, optional
        Trajectories; default about 2e5 recorded collisions per trajectory, at least 32 and at
        most 4096 trajectories.
    burn_in : int, optional
        Arrivals discarded at the start of each trajectory (default: `default_burn_in`).
    state0 : "thermal", "steady", ket or density matrix
        Initial machine state: the baths' Gibbs product state, pi_m, or a given state.
    measure : "energy", "schmidt" or (2, 2) unitary
        Basis in which the last machine measures the atom.
    **options
        Run options of `run_options`: backend, batch_size, progress, target_rel_stderr (stop
        once the relative standard error of coherence_rate, last machine, is below this),
        timeout (seconds), out / resume (checkpoint directory), scheduler (dask).

    Returns
    -------
    EnsembleResult
        records: the estimates of `qtraj.models.machine.estimators` (result[key],
        result[key + "_stderr"]; arrays gain a leading machine axis when n_machines > 1) and
        "recorded_time", the total recorded time of all trajectories (also in meta).  The
        machine's estimates are stationary averages with no time axis: `times` is empty and
        `mean` / `stderr` are None.

    Raises
    ------
    ValueError
        For a bad count, state0, measure or run option.

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state
    >>> m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    >>> res = simulate_machine(m, 40_000, seed=1, ntraj=4, burn_in=100)
    >>> res.meta["collisions_recorded"], res.times.shape
    (40000, (0,))
    """
    n_collisions = as_count(n_collisions, "n_collisions")
    M = as_count(n_machines, "n_machines")
    if ntraj is None:
        ntraj = int(min(4096, max(32, n_collisions // 200_000)))
    ntraj = as_count(ntraj, "ntraj", minimum=2)
    n_rec = max(1, n_collisions // ntraj)
    n_burn = default_burn_in(machine) if burn_in is None else as_count(burn_in, "burn_in",
                                                                       minimum=0)
    job, ss = make_job(machine, n_rec, n_burn, seed, M, state0, measure)
    allowed = list(inspect.signature(run_options).parameters)[4:]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown run option(s) {unknown}; run options are {allowed}")
    t0 = time.perf_counter()
    total, info = run_ensemble(job, ntraj, **run_options(machine, job, ntraj, n_jobs=n_jobs,
                                                         **options))
    rec = estimates(machine, total, job.centre, M)
    n_done = int(total["n"])
    n_recorded = int(round(n_done * job.centre[N_COLL] + total["sum"][0, N_COLL]))
    out = options.get("out")
    meta = dict(info, solver="Machine.simulate", n_machines=M, n_rec_per_traj=n_rec,
                n_burn_per_traj=n_burn, collisions_recorded=n_recorded,
                collisions_total=int(n_done * (n_rec + n_burn)) * M,
                recorded_time=rec["recorded_time"],
                measure=measure if isinstance(measure, str) else "custom",
                state0=state0 if isinstance(state0, str) else "custom",
                parameters=machine.parameters, rho_a=machine.rho_a,
                elapsed=time.perf_counter() - t0)
    res = EnsembleResult(times=np.empty(0), mean=None, stderr=None, ntraj=n_done,
                         seed=seed_info(ss), records=rec, meta=meta)
    if out is not None:
        from pathlib import Path
        res.save(Path(out) / "result.npz")
    return res
