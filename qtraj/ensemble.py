"""Ensembles: fixed trajectory blocks, batched over workers, merged in block order.

Every stochastic solver takes the same run options (`RunOptions`: ntraj, seed, n_jobs,
backend, batch_size, progress, target_stderr, target_rel_stderr, timeout, out, resume,
checkpoint_every, scheduler) as keyword arguments, and hands them with its *job* to `run`.

A job is a picklable dataclass with `block_size` and `run_block(start, stop)` that simulates
trajectories start..stop-1 (each seeded by its own index, see rng.py) inside one Numba call and
returns a dict of `Moments` (and exact integer sums).  The block size belongs to the job, never
to n_jobs or the batch size, and the parent merges block results strictly in block order; so
results are bitwise identical for any n_jobs, batch size and backend.

Workers receive several consecutive blocks per task (no per-trajectory task overhead) and
return per-block reductions; the parent keeps only the running merge, so memory does not grow
with the number of trajectories.

Stopping rules are checked after every merged block (so where a run stops does not depend on
the batch size either): `ntraj` (maximum), `target_stderr` / `target_rel_stderr` (on the
quantities the solver's `target_fn` names), `timeout` (seconds).  With `out=DIR` the running
merge is checkpointed atomically to DIR/checkpoint.npz every few batches and on Ctrl-C, and the
result is written to DIR/result.npz; `resume=True` continues from the checkpoint (refusing one
whose job `fingerprint` differs) and ends with exactly the result of an uninterrupted run.

Backends: "loky" (processes, default), "threading" (kernels release the GIL), "sequential",
and "dask" (dask.distributed: `scheduler` address of a running cluster, or an in-process
LocalCluster on 127.0.0.1 with n_jobs workers).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, fields, is_dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .stats import Moments
from .validation import as_count

__all__ = ["RunOptions", "RUN_OPTIONS", "run", "merge_blocks", "BACKENDS",
           "fingerprint", "load_checkpoint"]

BACKENDS = ("loky", "threading", "sequential", "dask")
CHECKPOINT = "checkpoint.npz"
#: default upper bound on blocks per worker task (keeps tasks short and stops responsive)
MAX_TASK_BLOCKS = 64
#: bound on the size of one task's returned block reductions (jobs report `block_bytes`)
TASK_RESULT_BYTES = 64 * 2**20
#: trajectory limit of a run without an ntraj maximum (ended by a target or a timeout)
_UNLIMITED = 2**62


RESULT = "result.npz"
#: the run options every stochastic solver takes, in the order of `RunOptions`
RUN_OPTIONS = ("ntraj", "seed", "n_jobs", "backend", "batch_size", "progress", "target_stderr",
               "target_rel_stderr", "timeout", "out", "resume", "checkpoint_every", "scheduler")


def _positive_number(v, name: str, unit: str = "") -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number{unit} or None, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class RunOptions:
    """How a stochastic ensemble is run: the same options, with the same meaning and defaults,
    for every solver (`qtraj.mcsolve`, `CollisionModel.simulate`, `Protocol.simulate`, ...).

    Solvers take these as keyword arguments of the same names and build one `RunOptions`
    from them (validated once, here); `run` then executes the ensemble.

    Parameters
    ----------
    ntraj : int or None, default None
        Maximum number of trajectories.  None means no maximum: the run then needs
        `target_stderr`, `target_rel_stderr` or `timeout` to end (a solver whose amount of
        work is fixed otherwise, e.g. by a number of collisions, documents its own meaning of
        None).
    seed : int, numpy.random.SeedSequence or None, default 0
        Root of the random streams: trajectory i draws from its own stream (seed, i), so the
        numbers do not depend on `n_jobs`, `batch_size` or `backend`.  None: fresh entropy
        (recorded in ``result.seed``; such a run cannot be resumed).
    n_jobs : int, default 1
        Worker processes/threads; -1 for one per CPU.
    backend : {"loky", "threading", "sequential", "dask"}, default "loky"
        "loky": processes; "threading": threads (the kernels release the GIL);
        "sequential": in this process; "dask": a dask.distributed cluster (see `scheduler`).
    batch_size : int or None, default None
        Trajectories per worker task (rounded up to whole blocks of the job); default about
        four tasks per worker.  Changes speed and memory only, never the numbers.
    progress : bool or None, default None
        Progress bar; None: only when stderr is a terminal.
    target_stderr : float or None, default None
        Stop after the first block where the largest standard error of the solver's targeted
        quantities (documented by each solver) is at most this.  `ntraj` stays the maximum;
        ``result.meta["target_reached"]`` says whether the target was met.
    target_rel_stderr : float or None, default None
        As `target_stderr`, for the largest *relative* standard error, stderr / abs(estimate),
        of the same quantities (an estimate that is exactly zero with zero error counts as
        known; one near zero keeps the target out of reach).  Use it for quantities whose
        scale is not known in advance, e.g. the coherence rate of the coherence machine,
        which scales with the square of a small coupling.  At most one of the two targets.
    timeout : float or None, default None
        Seconds after which the run stops (after the current block).
    out : str, os.PathLike or None, default None
        Run directory: the running sums are checkpointed atomically to
        ``out/checkpoint.npz`` and the result is written to ``out/result.npz``.
    resume : bool, default False
        Continue from ``out/checkpoint.npz`` (needs `out`); a checkpoint of a different
        model, state, times, seed or solver option is refused with a ValueError.  A resumed
        run ends with exactly the numbers of an uninterrupted one.
    checkpoint_every : float or None, default None
        Seconds between checkpoints (needs `out`); default after every worker task,
        throttled so that writing takes at most about 10 % of the run.  Checkpoints are also
        written at the end, on Ctrl-C and when a worker dies.
    scheduler : str or None, default None
        Address of a running dask.distributed scheduler (needs ``backend="dask"``); without
        it, "dask" starts an in-process LocalCluster on 127.0.0.1 with `n_jobs` workers.

    Raises
    ------
    ValueError
        Naming the offending option (TypeError for `ntraj`/`batch_size` that are not
        integers).

    Examples
    --------
    >>> opts = RunOptions(ntraj=1000, seed=3, target_stderr=0.01)
    >>> opts.batch_size is None and opts.backend
    'loky'
    >>> RunOptions(ntraj=10, resume=True)
    Traceback (most recent call last):
    ...
    ValueError: resume=True needs out=DIR (the run directory holding the checkpoint)
    """

    ntraj: int | None = None
    seed: Any = 0
    n_jobs: int = 1
    backend: str = "loky"
    batch_size: int | None = None
    progress: bool | None = None
    target_stderr: float | None = None
    target_rel_stderr: float | None = None
    timeout: float | None = None
    out: str | os.PathLike | None = None
    resume: bool = False
    checkpoint_every: float | None = None
    scheduler: str | None = None

    def __post_init__(self):
        put = partial(object.__setattr__, self)
        if self.ntraj is not None:
            put("ntraj", as_count(self.ntraj, "ntraj"))
        s = self.seed
        if not (s is None or isinstance(s, np.random.SeedSequence) or
                (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0)):
            raise ValueError(f"seed must be a non-negative integer, a SeedSequence or None, "
                             f"got {s!r}")
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer)) or \
                (self.n_jobs < 1 and self.n_jobs != -1):
            raise ValueError(f"n_jobs must be a positive integer or -1, got {self.n_jobs!r}")
        put("n_jobs", int(self.n_jobs))
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.batch_size is not None:
            put("batch_size", as_count(self.batch_size, "batch_size"))
        if self.progress is not None and not isinstance(self.progress, (bool, np.bool_)):
            raise ValueError(f"progress must be True, False or None, got {self.progress!r}")
        put("target_stderr", _positive_number(self.target_stderr, "target_stderr"))
        put("target_rel_stderr", _positive_number(self.target_rel_stderr, "target_rel_stderr"))
        if self.target_stderr is not None and self.target_rel_stderr is not None:
            raise ValueError("give target_stderr or target_rel_stderr, not both")
        put("timeout", _positive_number(self.timeout, "timeout", " of seconds"))
        if self.out is not None:
            if not isinstance(self.out, (str, os.PathLike)):
                raise ValueError(f"out must be a directory path or None, got {self.out!r}")
            put("out", Path(self.out))
        if not isinstance(self.resume, (bool, np.bool_)):
            raise ValueError(f"resume must be True or False, got {self.resume!r}")
        put("resume", bool(self.resume))
        if self.resume and self.out is None:
            raise ValueError("resume=True needs out=DIR (the run directory holding the "
                             "checkpoint)")
        put("checkpoint_every",
            _positive_number(self.checkpoint_every, "checkpoint_every", " of seconds"))
        if self.checkpoint_every is not None and self.out is None:
            raise ValueError("checkpoint_every needs out=DIR (where checkpoints are written)")
        if self.scheduler is not None:
            if not isinstance(self.scheduler, str) or not self.scheduler:
                raise ValueError(f"scheduler must be a dask scheduler address, got "
                                 f"{self.scheduler!r}")
            if self.backend != "dask":
                raise ValueError(f"scheduler is only used by backend='dask', got backend="
                                 f"{self.backend!r}")

    @property
    def target(self) -> float | None:
        """The stopping target (`target_stderr` or `target_rel_stderr`), or None."""
        return self.target_stderr if self.target_stderr is not None else self.target_rel_stderr

    def as_kwargs(self) -> dict[str, Any]:
        """The options as keyword arguments of a solver, e.g. ``mcsolve(..., **o.as_kwargs())``.

        Returns
        -------
        dict
            {name: value} for every name in `RUN_OPTIONS`.
        """
        return {name: getattr(self, name) for name in RUN_OPTIONS}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "RunOptions":
        """The options named in `values` (other keys are ignored), e.g. a solver's ``locals()``.

        Parameters
        ----------
        values : Mapping
            Holds some or all of the names in `RUN_OPTIONS`; missing ones take their defaults.

        Returns
        -------
        RunOptions

        Raises
        ------
        ValueError
            As `RunOptions`.

        Examples
        --------
        >>> def solve(model, ntraj=None, seed=0, n_jobs=1, backend="loky", batch_size=None,
        ...           progress=None, target_stderr=None, target_rel_stderr=None,
        ...           timeout=None, out=None, resume=False, checkpoint_every=None,
        ...           scheduler=None):
        ...     return RunOptions.from_mapping(locals())
        >>> solve("m", ntraj=50).ntraj
        50
        """
        return cls(**{k: values[k] for k in RUN_OPTIONS if k in values})


def _run_batch(job, blocks: list[tuple[int, int]]) -> list[dict]:
    return [job.run_block(a, b) for a, b in blocks]


def merge_blocks(total: dict | None, block: dict) -> dict:
    """Merge one block's reductions into the running total: Moments merge, integer sums add,
    tuples of per-event arrays concatenate."""
    if total is None:
        total = {}
    for k, v in block.items():
        if k not in total:
            total[k] = (Moments(v.n, v.mean.copy(), v.m2.copy()) if isinstance(v, Moments) else
                        v if isinstance(v, tuple) else np.array(v, copy=True))
        elif isinstance(v, Moments):
            total[k].merge(v)
        elif isinstance(v, tuple):  # records kept per event: concatenate along the last axis
            total[k] = tuple(np.concatenate([a, b], axis=-1) for a, b in zip(total[k], v))
        else:
            total[k] = total[k] + v
    return total


def fingerprint(job) -> str:
    """Hash of everything that defines a job's trajectories.

    Every array is hashed by dtype, shape and bytes; containers recursively (tuples, lists,
    dicts, sets, named tuples with their field names, dataclasses by their declared fields
    only, so derived data set in ``__post_init__`` is left out); scalars by their exact value
    (floats via `float.hex`); strings, bytes, None and bools by value.  Anything else is an
    error: two jobs must never share a fingerprint merely because an attribute has the same
    type.

    Parameters
    ----------
    job : dataclass instance
        The job of a run (see `run`), e.g. arrays, flags, the random key and the block size.

    Returns
    -------
    str
        32 hexadecimal digits (a truncated SHA-256).

    Raises
    ------
    TypeError
        If `job` is not a dataclass instance or holds an object that cannot be hashed by
        value; the message names where (e.g. ``job.args[3]``).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import numpy as np
    >>> @dataclass
    ... class Job:
    ...     a: np.ndarray
    ...     block_size: int = 64
    >>> fingerprint(Job(np.zeros(2000))) == fingerprint(Job(np.zeros(2000)))
    True
    >>> b = np.zeros(2000); b[1000] = 1e-300
    >>> fingerprint(Job(np.zeros(2000))) == fingerprint(Job(b))
    False
    """
    if not (is_dataclass(job) and not isinstance(job, type)):
        raise TypeError(f"fingerprint needs a dataclass job, got {type(job).__name__}")
    h = hashlib.sha256()
    _feed(h, job, "job")
    return h.hexdigest()[:32]


def _tag(h, tag: bytes, text: str = "") -> None:
    """Unambiguous framing: a one-byte tag, the length of the text, the text."""
    b = text.encode()
    h.update(tag + len(b).to_bytes(8, "little") + b)


def _digest(v, where: str) -> bytes:
    h = hashlib.sha256()
    _feed(h, v, where)
    return h.digest()


def _feed(h, v, where: str) -> None:
    if v is None:
        _tag(h, b"N")
    elif isinstance(v, (bool, np.bool_)):
        _tag(h, b"B", "1" if v else "0")
    elif isinstance(v, np.generic):                     # numpy scalar: a 0-d array
        _feed(h, np.asarray(v), where)
    elif isinstance(v, int):
        _tag(h, b"I", repr(int(v)))
    elif isinstance(v, float):
        _tag(h, b"F", float.hex(v))
    elif isinstance(v, complex):
        _tag(h, b"C", float.hex(v.real) + "," + float.hex(v.imag))
    elif isinstance(v, str):
        _tag(h, b"S", v)
    elif isinstance(v, bytes):
        _tag(h, b"Y", str(len(v)))
        h.update(v)
    elif isinstance(v, np.ndarray):
        _tag(h, b"A", f"{v.dtype.str}{v.shape}")
        if v.dtype == object:
            for i, x in enumerate(v.ravel()):
                _feed(h, x, f"{where}.flat[{i}]")
        elif v.dtype.hasobject:
            raise TypeError(f"fingerprint cannot hash {where}: structured array with objects")
        else:
            h.update(np.ascontiguousarray(v).tobytes())
    elif isinstance(v, tuple):
        fields_ = getattr(type(v), "_fields", None)
        if fields_ is not None:                          # named tuple: field names count
            _tag(h, b"T", f"{type(v).__qualname__}{tuple(fields_)!r}")
            for name, x in zip(fields_, v):
                _feed(h, x, f"{where}.{name}")
        else:
            _tag(h, b"t", str(len(v)))
            for i, x in enumerate(v):
                _feed(h, x, f"{where}[{i}]")
    elif isinstance(v, list):
        _tag(h, b"L", str(len(v)))
        for i, x in enumerate(v):
            _feed(h, x, f"{where}[{i}]")
    elif isinstance(v, dict):                            # order-independent: sorted by key hash
        _tag(h, b"D", str(len(v)))
        for kd, vd in sorted((_digest(k, f"{where} key {k!r}"), _digest(x, f"{where}[{k!r}]"))
                             for k, x in v.items()):
            h.update(kd + vd)
    elif isinstance(v, (set, frozenset)):
        _tag(h, b"E", str(len(v)))
        for d in sorted(_digest(x, f"{where} element") for x in v):
            h.update(d)
    elif is_dataclass(v) and not isinstance(v, type):    # declared fields only
        fs = fields(v)
        _tag(h, b"O", f"{type(v).__qualname__}:{len(fs)}")
        for f in fs:
            _tag(h, b"n", f.name)
            _feed(h, getattr(v, f.name), f"{where}.{f.name}")
    else:
        raise TypeError(f"fingerprint cannot hash {where}: object of type "
                        f"{type(v).__module__}.{type(v).__qualname__} (jobs hold arrays, "
                        "numbers, strings, containers of them and dataclasses)")


# --------------------------------------------------------------------------- checkpoints
def _save_checkpoint(out: Path, total: dict, state: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    kinds = {}
    for k, v in (total or {}).items():
        if isinstance(v, Moments):
            kinds[k] = "moments"
            arrays[f"{k}::n"] = np.array(v.n)
            arrays[f"{k}::mean"] = v.mean
            arrays[f"{k}::m2"] = v.m2
        elif isinstance(v, tuple):
            kinds[k] = f"tuple{len(v)}"
            for i, a in enumerate(v):
                arrays[f"{k}::{i}"] = a
        else:
            kinds[k] = "array"
            arrays[f"{k}::a"] = v
    arrays["__state__"] = np.array(json.dumps(dict(state, kinds=kinds)))
    tmp = out / (CHECKPOINT + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out / CHECKPOINT)


def load_checkpoint(out: str | Path) -> tuple[dict | None, dict]:
    """(running merge, state) stored in DIR/checkpoint.npz."""
    path = Path(out) / CHECKPOINT
    with np.load(path, allow_pickle=False) as z:
        state = json.loads(str(z["__state__"]))
        total: dict = {}
        for k, kind in state["kinds"].items():
            if kind == "moments":
                total[k] = Moments(int(z[f"{k}::n"]), z[f"{k}::mean"], z[f"{k}::m2"])
            elif kind.startswith("tuple"):
                total[k] = tuple(z[f"{k}::{i}"] for i in range(int(kind[5:])))
            else:
                total[k] = z[f"{k}::a"]
    return (total or None), state


# --------------------------------------------------------------------------- executors
def _sequential(job, batches) -> Iterator[list[dict]]:
    for b in batches:
        yield _run_batch(job, b)


def _joblib(job, batches, n_jobs: int, backend: str) -> Iterator[list[dict]]:
    from joblib import Parallel, delayed
    par = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
    return par(delayed(_run_batch)(job, b) for b in batches)


def _dask(job, batches, n_jobs: int, scheduler: str | None) -> Iterator[list[dict]]:
    """Ordered results from dask.distributed, with a bounded window of tasks in flight."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("backend='dask' needs dask.distributed: pip install 'qtraj[dask]'") \
            from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, n_jobs), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        jf = client.scatter(job, broadcast=True)
        window = 4 * max(1, sum(client.ncores().values()))
        pending = []
        it = iter(batches)
        for b in it:
            pending.append(client.submit(_run_batch, jf, b, pure=False))
            if len(pending) >= window:
                break
        while pending:
            fut = pending.pop(0)
            res = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(client.submit(_run_batch, jf, nxt, pure=False))
            yield res
    finally:
        for f in locals().get("pending", []):
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- driver
def run(job, options: RunOptions, *, to_result: Callable[[dict, dict], Any],
        target_fn: Callable[[dict], Any] | None = None, unit: str = "traj"):
    """Run the ensemble of `job` under `options`; the one driver behind every solver.

    Parameters
    ----------
    job : dataclass instance
        Picklable, with `block_size` (trajectories per block, part of the job so that the
        numbers never depend on `n_jobs`, `batch_size` or `backend`) and
        ``run_block(start, stop) -> dict`` returning the block's reductions (`Moments`,
        exact integer sums, or tuples of per-event arrays; see `merge_blocks`).  Every
        declared field enters the checkpoint `fingerprint`, so it must hold only arrays,
        numbers, strings, containers of them or dataclasses.
    options : RunOptions
        How to run (stopping rules, parallelism, checkpoints).
    to_result : callable
        ``to_result(total, info)`` turns the merged reductions and the run information into
        the solver's result (an `EnsembleResult`).  `info` holds "ntraj" (trajectories
        merged), "ntraj_max", "stop_reason" ("ntraj", "target_stderr", "target_rel_stderr"
        or "timeout"), "target_stderr", "target_rel_stderr", "target_reached", "wall_time",
        "n_jobs", "backend", "batch_size", "block_size", "timeout" (and "resumed" when a
        finished checkpoint was returned as it was); solvers put it into ``result.meta``.
    target_fn : callable, optional
        ``target_fn(total)`` gives the quantities a target refers to: a `Moments`, or a
        pair (estimates, standard errors) of arrays (complex standard errors as in `Moments`:
        real part for Re, imaginary part for Im).  The absolute error is the largest
        standard error; the relative one the largest stderr / abs(estimate).  NaN standard
        errors are ignored, all NaN (e.g. fewer than two samples) counts as not reached.
        Needed when `options` has a target.
    unit : str, default "traj"
        Unit shown by the progress bar.

    Returns
    -------
    object
        ``to_result(total, info)``; when ``options.out`` is set it is also saved (its
        ``save`` method) as ``options.out / "result.npz"``.

    Raises
    ------
    ValueError
        ntraj=None without a target or timeout; a target without `target_fn`; a checkpoint
        in `out` that belongs to a different run (different fingerprint) or already holds
        more than `ntraj` trajectories.
    TypeError
        If `options` is not a RunOptions, or the job holds something `fingerprint` cannot
        hash.
    KeyboardInterrupt
        On Ctrl-C, after saving a checkpoint (when `out` is set).

    Examples
    --------
    >>> import qtraj as qt
    >>> from qtraj.ensemble import RunOptions, run
    >>> from qtraj.jumps import mcsolve
    >>> L = qt.Lindblad(qt.operators.sigma_z(), [qt.Channel(qt.operators.sigma_minus(), 1.0)])
    >>> r = mcsolve(L, qt.operators.basis(2, 1), [0, 1], ntraj=64, progress=False)
    >>> r.meta["stop_reason"], r.ntraj
    ('ntraj', 64)
    """
    if not isinstance(options, RunOptions):
        raise TypeError(f"options must be a RunOptions, got {type(options).__name__}")
    if options.ntraj is None and options.target is None and options.timeout is None:
        raise ValueError("ntraj=None (no maximum) needs target_stderr, target_rel_stderr or "
                         "timeout to end the run")
    measure = None
    if options.target is not None:
        name = "target_stderr" if options.target_stderr is not None else "target_rel_stderr"
        if target_fn is None:
            raise ValueError(f"{name}: this run has no quantity whose error could be targeted")
        measure = partial(_target_error, target_fn, options.target_rel_stderr is not None)
    total, info = _drive(job, options, measure, unit)
    res = to_result(total, info)
    if options.out is not None:
        res.save(Path(options.out) / RESULT)
    return res


def _target_error(target_fn, relative: bool, total: dict) -> float:
    """The number a target is compared with (inf while it is undefined)."""
    q = target_fn(total)
    if isinstance(q, Moments):
        est, se = q.mean, q.stderr
    else:
        est, se = q
    est, se = np.asarray(est), np.asarray(se)
    err = np.maximum(se.real, se.imag) if np.iscomplexobj(se) else se.astype(float)
    if relative:
        mag = np.abs(est)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.where(err == 0, 0.0, err / mag)
    if err.size == 0 or np.all(np.isnan(err)):
        return np.inf
    return float(np.nanmax(err))


def _drive(job, o: RunOptions, measure: Callable[[dict], float] | None,
           unit: str) -> tuple[dict, dict[str, Any]]:
    """Run blocks of `job` until a stopping rule holds; (merged reductions, run info).

    `measure(total)` is compared with `o.target` after every merged block (None: no target).
    """
    ntraj, n_jobs, backend, target = o.ntraj, o.n_jobs, o.backend, o.target
    target_name = "target_stderr" if o.target_stderr is not None else "target_rel_stderr"
    limit = ntraj if ntraj is not None else _UNLIMITED
    bs = job.block_size
    fp = fingerprint(job)
    total, next_block, done = None, 0, 0
    out_dir = o.out
    if o.resume and (out_dir / CHECKPOINT).exists():
        total, st = load_checkpoint(out_dir)
        if st["fingerprint"] != fp or st["block_size"] != bs:
            raise ValueError(f"resume: the checkpoint in {out_dir} belongs to a different run "
                             "(model, initial state, times, seed or solver options differ); "
                             "use another out directory, or resume=False to start afresh")
        next_block, done = st["next_block"], st["ntraj_done"]
        if done > limit:
            raise ValueError(f"the checkpoint in {out_dir} already holds {done} "
                             f"trajectories, more than ntraj = {ntraj}")
        if done == limit and st.get("finished") and st["ntraj_max"] == ntraj:
            return total, dict(st["info"], resumed=True)      # nothing left to run
        if done % bs and done < limit:
            raise ValueError(f"the checkpoint in {out_dir} ends with a partial block ({done} "
                             f"trajectories, block size {bs}): resume it with ntraj={done}")
    n_blocks = math.ceil(limit / bs)
    workers = max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    if o.batch_size is None:   # ~4 tasks per worker, at most MAX_TASK_BLOCKS blocks per task
        per_task = min(MAX_TASK_BLOCKS, max(1, math.ceil((n_blocks - next_block) / (4 * workers))))
    else:
        per_task = max(1, math.ceil(o.batch_size / bs))
    # a task returns one reduction per block: bound the memory a task's result holds
    per_task = min(per_task, max(1, int(TASK_RESULT_BYTES // max(1, getattr(job, "block_bytes",
                                                                            0) or 1))))

    def batch_iter():   # lazy: a large ntraj maximum (with a target) costs nothing
        for first in range(next_block, n_blocks, per_task):
            yield [(i * bs, min((i + 1) * bs, limit))
                   for i in range(first, min(first + per_task, n_blocks))]
    batches = batch_iter()

    t0 = time.perf_counter()
    reason = "ntraj"
    reached = None
    if target is not None and total is not None and measure(total) <= target:
        reason, reached, results = target_name, True, iter(())   # resumed, already there
    elif backend == "dask":
        results = _dask(job, batches, workers, o.scheduler)
    elif workers == 1 or backend == "sequential" or n_blocks - next_block <= per_task:
        results = _sequential(job, batches)
    else:
        results = _joblib(job, batches, n_jobs, backend)

    def state(finished=False, info=None):
        return {"fingerprint": fp, "block_size": bs, "next_block": next_block,
                "ntraj_done": done, "ntraj_max": ntraj, "finished": finished,
                "info": info or {}}

    bar = _progress_bar(o.progress, ntraj, unit, initial=done)
    last_ckpt = time.perf_counter()
    ckpt_cost = 0.0
    stop = _InterruptFlag()
    try:
        for res in results:
            if stop.set:
                raise KeyboardInterrupt
            for blk in res:
                total = merge_blocks(total, blk)
                next_block += 1
                done = min(next_block * bs, limit)
                if target is not None and measure(total) <= target:
                    reason, reached = target_name, True
                    break
                if o.timeout is not None and time.perf_counter() - t0 > o.timeout:
                    reason = "timeout"
                    break
            if bar is not None:
                bar.update(done - bar.n)
            if reason != "ntraj":
                break
            since = time.perf_counter() - last_ckpt
            if out_dir is not None and (since > o.checkpoint_every
                                        if o.checkpoint_every is not None
                                        else since > 10 * ckpt_cost):
                t_save = time.perf_counter()
                _save_checkpoint(out_dir, total, state())
                last_ckpt = time.perf_counter()
                ckpt_cost = last_ckpt - t_save
        if stop.set:
            raise KeyboardInterrupt
    except Exception:
        if not stop.set:       # a worker died: keep what is merged, then report the error
            if out_dir is not None and total is not None:
                _save_checkpoint(out_dir, total, state())
            raise
        interrupted = True     # a worker killed by the same Ctrl-C counts as the interrupt
    except KeyboardInterrupt:
        interrupted = True
    else:
        interrupted = False
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
        if hasattr(results, "close"):
            with warnings.catch_warnings():   # joblib reports the tasks cancelled by a stop
                warnings.simplefilter("ignore", UserWarning)
                try:
                    results.close()
                except Exception:
                    pass
    if interrupted:
        if out_dir is not None and total is not None:
            _save_checkpoint(out_dir, total, state())
            print(f"\ninterrupted: {done} {unit} saved in {out_dir}; continue with resume",
                  file=sys.stderr)
        raise KeyboardInterrupt
    if target is not None and reached is None:
        reached = bool(total is not None and measure(total) <= target)
    info = {"ntraj": done, "ntraj_max": ntraj, "stop_reason": reason,
            "target_stderr": o.target_stderr, "target_rel_stderr": o.target_rel_stderr,
            "target_reached": reached, "wall_time": time.perf_counter() - t0,
            "n_jobs": n_jobs, "backend": backend, "batch_size": per_task * bs,
            "block_size": bs, "timeout": o.timeout}
    if out_dir is not None:
        _save_checkpoint(out_dir, total, state(finished=(reason != "timeout"), info=info))
    return total, info


def _progress_bar(progress: bool | None, total: int, unit: str, initial: int = 0):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit=unit, mininterval=1.0, delay=2.0)


class _InterruptFlag:
    """Ctrl-C during a run sets a flag checked between blocks (a KeyboardInterrupt raised
    inside a Numba call is not catchable cleanly); a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.set = False
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def restore(self):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None
