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

Faults.  A run holds DIR/run.lock (the owner's pid and host) while it works in DIR: a second
run on the same directory is refused with `RunDirectoryBusy`; the lock of a run that died is
taken over.  Checkpoints carry a format version, a checksum of their arrays and the job's
fingerprint and are verified when read; the previous one is kept (DIR/checkpoint.prev.npz),
so a damaged newest checkpoint costs one checkpoint interval, and a damaged or foreign file
is named by `CheckpointError`.  Blocks lost to a dead worker process or to a MemoryError are
run again (at most `MAX_RETRIES` times, then `LostWorkError`); since a block is a pure
function of (seed, trajectory indices), the result is unchanged, bit for bit.

Backends: "loky" (processes, default), "threading" (kernels release the GIL), "sequential",
and "dask" (dask.distributed: `scheduler` address of a running cluster, or an in-process
LocalCluster on 127.0.0.1 with n_jobs workers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
import signal
import socket
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
           "fingerprint", "load_checkpoint", "run_lock", "RunDirectoryBusy", "CheckpointError",
           "LostWorkError", "RunStorageError", "RunWarning", "MemoryBudgetError",
           "memory_budget", "memory_estimate", "available_memory"]

BACKENDS = ("loky", "threading", "sequential", "dask")
CHECKPOINT = "checkpoint.npz"
#: the checkpoint before the newest (a damaged newest checkpoint costs one interval)
PREVIOUS_CHECKPOINT = "checkpoint.prev.npz"
#: version of the checkpoint file layout (a file of another version is refused, not misread)
CHECKPOINT_FORMAT = 2
#: lock file of a run directory, held while a run works in it
LOCK = "run.lock"
#: reruns of a batch of blocks lost to a dead worker or a transient error, before giving up
MAX_RETRIES = 3
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
        ``out/checkpoint.npz`` (the one before is kept as ``out/checkpoint.prev.npz``) and
        the result is written to ``out/result.npz``.  The directory is locked
        (``out/run.lock``) while the run works in it: a second run on it is refused
        (`RunDirectoryBusy`).
    resume : bool, default False
        Continue from ``out/checkpoint.npz`` (needs `out`); a checkpoint of a different
        model, state, times, seed or solver option is refused with a ValueError.  A damaged
        newest checkpoint is skipped for the previous one (with a `RunWarning`); if none can
        be read, `CheckpointError` names the file.  A resumed run ends with exactly the
        numbers of an uninterrupted one.
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


@dataclass
class _BlockFailure:
    """Marks the block of trajectories start..stop-1 that failed with a transient error; the
    blocks of its batch before it are returned (and merged) as usual."""
    start: int
    stop: int
    error: BaseException


def _run_batch(job, blocks: list[tuple[int, int]]) -> list:
    out: list = []
    for a, b in blocks:
        try:
            out.append(job.run_block(a, b))
        except MemoryError as exc:   # the parent keeps the blocks before it and reruns it
            out.append(_BlockFailure(a, b, exc))
            break
    return out


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


# --------------------------------------------------------------------------- faults
class RunDirectoryBusy(RuntimeError):
    """Another run (this or another process) holds the lock of the run directory."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, of another format, or not a checkpoint."""


class LostWorkError(RuntimeError):
    """Blocks that failed on every attempt (dead workers or transient errors)."""


class RunStorageError(OSError):
    """The run directory could not be written (e.g. a full disk)."""


class RunWarning(RuntimeWarning):
    """A fault the run survived (a rerun block, a damaged checkpoint skipped, a checkpoint
    that could not be written)."""


def _one_line(exc: BaseException, limit: int = 160) -> str:
    """'Type: first line of the message', shortened: an error cause that fits in one line."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _warn(message: str) -> None:
    warnings.warn(message, RunWarning, stacklevel=3)


# --------------------------------------------------------------------------- run lock
try:
    import fcntl
except ImportError:          # pragma: no cover - Windows: exclusive creation + pid check
    fcntl = None

_held: dict[str, list] = {}          # resolved directory -> [fd, thread id, depth]
_held_guard = threading.Lock()


def _owner_text(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another run"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info.get('pid')} on {info.get('host')}, since {since}"


def _busy(out: Path, owner: str) -> RunDirectoryBusy:
    return RunDirectoryBusy(f"run directory {out} is in use ({owner}); wait for that run to "
                            f"finish or use another out directory")


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":                # pragma: no cover - cannot tell: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire(out: Path) -> int:
    """Open and lock DIR/run.lock, write the owner (pid, host, start time) into it."""
    path = out / LOCK
    me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
    for _ in range(50):
        if fcntl is not None:
            # flock: released by the kernel when the owner dies (kill -9 included), so a
            # lock file left by a dead run is simply taken over
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _busy(out, _owner_text(path)) from None
            except OSError:      # pragma: no cover - no flock on this file system
                os.close(fd)
                return _acquire_exclusive(out, me)
            try:                 # the owner before us may have removed the file meanwhile
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, me.encode())
            return fd
        return _acquire_exclusive(out, me)    # pragma: no cover
    raise _busy(out, _owner_text(path))       # pragma: no cover - lock changing hands


def _acquire_exclusive(out: Path, me: str) -> int:   # pragma: no cover - no flock
    """Lock by exclusive creation; a lock whose owner on this host is gone is stale."""
    path = out / LOCK
    for _ in range(50):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                info = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                info = {}
            if info.get("host") == socket.gethostname() and not _pid_alive(info.get("pid", 0)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise _busy(out, _owner_text(path)) from None
        os.write(fd, me.encode())
        return fd
    raise _busy(out, _owner_text(path))


@contextlib.contextmanager
def run_lock(out: str | os.PathLike):
    """Hold the lock of run directory `out` (DIR/run.lock) for the duration of a ``with``.

    The lock file records the owner's pid, host and start time.  It is held with `flock`, which
    the operating system releases when the owner dies, so the lock left by a run that was
    killed (kill -9 included) is taken over by the next run; where `flock` is not available
    a lock whose owner process on this host is gone counts as stale.  The same thread may
    take the lock again (`run` inside the command line's own ``with run_lock``).

    Parameters
    ----------
    out : str or os.PathLike
        The run directory (created if needed).

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    RunDirectoryBusy
        If another run (another process, or another thread of this one) holds the lock; the
        one-line message names its pid and host.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with run_lock(d) as lock:
    ...         print(lock.name)
    run.lock
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = str(out.resolve())
    me = threading.get_ident()
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            if held[1] != me:
                raise _busy(out, f"pid {os.getpid()} (this process), another thread")
            held[2] += 1
    if held is not None:
        try:
            yield out / LOCK
        finally:
            with _held_guard:
                held[2] -= 1
        return
    fd = _acquire(out)
    with _held_guard:
        _held[key] = [fd, me, 1]
    try:
        yield out / LOCK
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(OSError):
            (out / LOCK).unlink()          # before unlocking: a waiting run re-checks the inode
        os.close(fd)


# --------------------------------------------------------------------------- checkpoints
def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        _tag(h, b"K", f"{k}|{a.dtype.str}|{a.shape}")
        h.update(a.tobytes())
    return h.hexdigest()


def _save_checkpoint(out: Path, total: dict, state: dict, rotate: bool = True) -> None:
    """Write DIR/checkpoint.npz atomically (temporary file, fsync, rename); the checkpoint it
    replaces becomes DIR/checkpoint.prev.npz (`rotate`; else the previous one is removed).

    Raises OSError when the file cannot be written; the checkpoints on disk are then
    unchanged."""
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
    arrays["__state__"] = np.array(json.dumps(dict(state, kinds=kinds,
                                                   format=CHECKPOINT_FORMAT)))
    arrays["__checksum__"] = np.array(_checksum(arrays))
    tmp = out / f"{CHECKPOINT}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    newest, prev = out / CHECKPOINT, out / PREVIOUS_CHECKPOINT
    if newest.exists():
        if rotate:
            os.replace(newest, prev)
        else:
            with contextlib.suppress(FileNotFoundError):
                prev.unlink()
    os.replace(tmp, newest)


def load_checkpoint(out: str | Path) -> tuple[dict | None, dict]:
    """The running merge and the run state stored in a checkpoint, verified.

    Parameters
    ----------
    out : str or os.PathLike
        A run directory (reads DIR/checkpoint.npz) or a checkpoint file.

    Returns
    -------
    total : dict or None
        The merged block reductions (None for a checkpoint of no trajectories).
    state : dict
        "fingerprint", "block_size", "next_block", "ntraj_done", "ntraj_max", "finished",
        "info", "format".

    Raises
    ------
    FileNotFoundError
        If there is no such checkpoint.
    CheckpointError
        If the file cannot be read (truncated, not a zip file), is not a qtraj checkpoint or
        one of another format, or its checksum does not match its contents (damaged).  The
        one-line message names the file and what to do.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from qtraj.stats import Moments
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _save_checkpoint(Path(d), {"x": Moments(2, np.ones(3), np.zeros(3))},
    ...                      {"next_block": 1})
    ...     total, state = load_checkpoint(d)
    >>> total["x"].n, state["next_block"]
    (2, 1)
    """
    path = Path(out)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:          # truncated, bit-flipped (zip CRC), not a zip file
        raise _damaged(path, f"cannot be read ({_one_line(exc, 80)})") from None
    if "__state__" not in arrays or "__checksum__" not in arrays:
        raise _damaged(path, "is not a qtraj checkpoint of this version")
    checksum = str(arrays.pop("__checksum__"))
    if _checksum(arrays) != checksum:
        raise _damaged(path, "is damaged (its checksum does not match its contents)")
    try:
        state = json.loads(str(arrays["__state__"]))
        if state.get("format") != CHECKPOINT_FORMAT:
            raise _damaged(path, f"has format {state.get('format')}, this qtraj reads format "
                                 f"{CHECKPOINT_FORMAT}")
        total: dict = {}
        for k, kind in state["kinds"].items():
            if kind == "moments":
                total[k] = Moments(int(arrays[f"{k}::n"]), arrays[f"{k}::mean"],
                                   arrays[f"{k}::m2"])
            elif kind.startswith("tuple"):
                total[k] = tuple(arrays[f"{k}::{i}"] for i in range(int(kind[5:])))
            else:
                total[k] = arrays[f"{k}::a"]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise _damaged(path, f"is inconsistent ({_one_line(exc, 80)})") from None
    return (total or None), state


def _damaged(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} {what}; delete it to start afresh, or use "
                           f"another out directory")


def _resume_point(out: Path) -> tuple[dict | None, dict | None]:
    """The newest good checkpoint in `out`: (total, state), or (None, None) if there is none.

    A damaged newest checkpoint is skipped (with a `RunWarning`) for the previous one; if no
    checkpoint is good, the newest one's `CheckpointError` is raised."""
    errors = []
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        path = out / name
        if not path.exists():
            continue
        try:
            total, st = load_checkpoint(path)
        except CheckpointError as exc:
            errors.append(exc)
            continue
        if errors:
            _warn(f"{errors[0]}: resuming from the previous checkpoint {path} "
                  f"({st.get('ntraj_done')} trajectories)".replace(
                      "; delete it to start afresh, or use another out directory", ""))
        return total, st
    if len(errors) == 1:
        raise errors[0]
    if errors:
        why = "; ".join(str(e).split("; delete it")[0] for e in errors)
        raise CheckpointError(f"no checkpoint in {out} can be read ({why}); start afresh "
                              f"without resume (they are replaced), or use another out "
                              f"directory")
    return None, None


# --------------------------------------------------------------------------- memory
class MemoryBudgetError(ValueError):
    """A run refused before it allocates: its estimated memory exceeds the budget."""


#: share of the available memory a run may plan to use (see `memory_budget`)
MEMORY_FRACTION = 0.8
#: environment variable: the memory budget of a run in GiB (instead of MEMORY_FRACTION of
#: the available memory)
MEMORY_ENV = "QTRAJ_MEMORY_BUDGET_GIB"
_GIB = 2.0**30


def available_memory() -> float | None:
    """Bytes of memory available to this process now, or None when unknown.

    The smaller of the system's MemAvailable (Linux ``/proc/meminfo``; elsewhere the free
    physical pages) and the room left under a cgroup (container) memory limit.

    Returns
    -------
    float or None

    Examples
    --------
    >>> m = available_memory()
    >>> m is None or m > 0
    True
    """
    found = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(float(line.split()[1]) * 1024)
                    break
    except OSError:
        try:
            found.append(float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = float(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(max(0.0, float(limit) - used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def memory_budget() -> tuple[float | None, str]:
    """Bytes a run may plan to use, and how that number was set.

    ``QTRAJ_MEMORY_BUDGET_GIB`` (environment, in GiB) when set, else `MEMORY_FRACTION`
    (80 %) of `available_memory`; None when neither is known (then nothing is refused).

    Returns
    -------
    budget : float or None
    source : str

    Raises
    ------
    ValueError
        If QTRAJ_MEMORY_BUDGET_GIB is not a positive number.
    """
    env = os.environ.get(MEMORY_ENV)
    if env:
        try:
            gib = float(env)
        except ValueError:
            gib = -1.0
        if not (gib > 0 and math.isfinite(gib)):
            raise ValueError(f"{MEMORY_ENV} must be a positive number of GiB, got {env!r}")
        return gib * _GIB, f"{MEMORY_ENV}={env}"
    avail = available_memory()
    if avail is None:
        return None, "unknown"
    return MEMORY_FRACTION * avail, f"{MEMORY_FRACTION:.0%} of the {avail / _GIB:.1f} GiB " \
                                    f"available"


def _nbytes(v) -> int:
    """Bytes of the arrays a job holds (its declared fields, recursively)."""
    if isinstance(v, np.ndarray):
        return v.nbytes
    if isinstance(v, (tuple, list)):
        return sum(_nbytes(x) for x in v)
    if isinstance(v, dict):
        return sum(_nbytes(x) for x in v.values())
    if is_dataclass(v) and not isinstance(v, type):
        return sum(_nbytes(getattr(v, f.name)) for f in fields(v))
    return 0


def memory_estimate(job, workers: int, per_task: int, backend: str) -> int:
    """Bytes a run of `job` needs beyond the job itself (held by the caller already).

    Counts, from the job's `block_bytes` (the size of one block's shifted sums, three arrays
    per accumulated number; 0 if the job does not say) and its reductions (two thirds of
    that: mean and m2): the parent's running merge and the task results it may hold (joblib
    keeps about two tasks per worker in flight), and per worker one block's sums plus one
    task's reductions; process backends add the copies of the job (loky shares the large
    arrays of one copy, dask sends one to each worker).

    Parameters
    ----------
    job : the run's job
    workers : int
        Number of workers.
    per_task : int
        Blocks per worker task.
    backend : str
        As `RunOptions.backend` ("sequential" or one worker: everything in this process).

    Returns
    -------
    int
    """
    blk = int(getattr(job, "block_bytes", 0) or 0)
    red = 2 * blk // 3     # a block's reductions: mean and m2 of its three shifted sums
    if backend == "sequential" or workers == 1:
        return red + blk + per_task * red
    in_flight = (2 if backend != "dask" else 4) * workers * per_task
    est = red + workers * (blk + per_task * red) + in_flight * red
    if backend == "loky":
        est += _nbytes(job)
    elif backend == "dask":
        est += workers * _nbytes(job)
    return est


def _check_memory(job, workers: int, per_task: int, backend: str) -> None:
    need = memory_estimate(job, workers, per_task, backend)
    budget, source = memory_budget()
    if budget is None or need <= budget:
        return
    blk = int(getattr(job, "block_bytes", 0) or 0)
    remedy = getattr(job, "memory_remedy",
                     "store fewer quantities (e.g. store_states=False), use fewer output times "
                     "or fewer n_jobs")
    raise MemoryBudgetError(
        f"this run would need about {_gib(need)} of memory ({_gib(blk)} of sums per block, "
        f"{workers} worker{'s' if workers > 1 else ''}) but its budget is {_gib(budget)} "
        f"({source}); {remedy}")


def _gib(n: float) -> str:
    return f"{n / _GIB:.1f} GiB" if n >= 0.1 * _GIB else f"{n / _GIB:.2g} GiB"


# --------------------------------------------------------------------------- executors
def _sequential(job, batches) -> Iterator[list[dict]]:
    for b in batches:
        yield _run_batch(job, b)


def _joblib(job, batches, n_jobs: int, backend: str) -> Iterator[list[dict]]:
    from joblib import Parallel, delayed
    par = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
    return par(delayed(_run_batch)(job, b) for b in batches)


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Errors after which a block is run again: a dead worker process (killed, out of memory,
    crashed) and a MemoryError in a worker."""
    from concurrent.futures import BrokenExecutor
    return (MemoryError, BrokenExecutor)


def _rerunning(start: Callable[[int], Iterator[list[dict]]], first_block: int,
               blocks_of: Callable[[int], tuple[int, int]], stopping: Callable[[], bool],
               retries: int = MAX_RETRIES) -> Iterator[list[dict]]:
    """Ordered batch results of ``start(first_block)``, restarted after a transient error.

    `start(b)` runs the batches from block b on, in order.  The batches it has yielded are
    merged by the caller; when it fails with a dead worker or a MemoryError, the batches not
    yet yielded (those in flight included) are started again from the first of them.  A block
    depends only on (seed, its trajectory indices), so the rerun gives the same bits.  After
    `retries` failed reruns without progress, `LostWorkError` names the blocks and the cause.
    `stopping()` true (a Ctrl-C is being handled) re-raises the error unchanged.
    """
    transient = _transient_errors()
    pos, failures = first_block, 0
    while True:
        it = start(pos)
        failure = cause = None
        try:
            for res in it:
                if res and isinstance(res[-1], _BlockFailure):
                    failure = res.pop()
                    cause = failure.error
                if res:
                    yield res
                    pos += len(res)
                    failures = 0
                if failure is not None:
                    break
            else:
                return
        except transient as exc:         # a dead worker: whatever it held is lost
            if stopping():
                raise
            cause = exc
        finally:
            if hasattr(it, "close"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    with contextlib.suppress(Exception):
                        it.close()
        failures += 1
        if failure is not None:
            where = f"the block of trajectories {failure.start}..{failure.stop - 1}"
        else:
            a, b = blocks_of(pos)
            where = f"the blocks in flight from trajectory {a} on"
        if failures > retries:
            raise LostWorkError(f"{where} failed {failures} times in a row; last cause: "
                                f"{_one_line(cause)}") from cause
        _warn(f"{where} lost ({_one_line(cause)}); rerunning "
              f"(rerun {failures} of at most {retries})")


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
    RunDirectoryBusy
        If another run works in ``options.out`` (see `run_lock`).
    CheckpointError
        On resume, if no checkpoint in ``options.out`` can be read (a damaged newest one is
        skipped for the previous one, with a `RunWarning`).
    LostWorkError
        If a batch of blocks fails `MAX_RETRIES` + 1 times in a row through dead workers or
        MemoryError (a checkpoint of the work merged so far is written first).
    RunStorageError
        If the final checkpoint or the result cannot be written (a checkpoint that cannot be
        written during the run only gives a `RunWarning`).
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
    if options.out is None:
        return to_result(*_drive(job, options, measure, unit))
    with run_lock(options.out):
        # files half-written by a run that was killed (no other run can be writing now)
        for tmp in [*Path(options.out).glob(CHECKPOINT + ".*.tmp"),
                    *Path(options.out).glob(RESULT + ".tmp")]:
            with contextlib.suppress(OSError):
                tmp.unlink()
        total, info = _drive(job, options, measure, unit)
        res = to_result(total, info)
        try:
            res.save(Path(options.out) / RESULT)
        except OSError as exc:
            raise RunStorageError(f"cannot write {Path(options.out) / RESULT} "
                                  f"({_one_line(exc, 100)}); the finished checkpoint there "
                                  "holds the whole run: free space, then resume") from None
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
    st = None
    if o.resume:
        total, st = _resume_point(out_dir)
    if st is not None:
        if st.get("fingerprint") != fp or st.get("block_size") != bs:
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

    if not (target is not None and total is not None and measure(total) <= target):
        _check_memory(job, workers, per_task, "sequential" if workers == 1 or
                      n_blocks - next_block <= per_task else backend)   # before allocating

    def batch_iter(start):   # lazy: a large ntraj maximum (with a target) costs nothing
        for first in range(start, n_blocks, per_task):
            yield [(i * bs, min((i + 1) * bs, limit))
                   for i in range(first, min(first + per_task, n_blocks))]

    def blocks_of(first):    # trajectories of the batch starting at block `first`
        return first * bs, min((first + per_task) * bs, limit)

    stop = None
    t0 = time.perf_counter()
    reason = "ntraj"
    reached = None
    if target is not None and total is not None and measure(total) <= target:
        reason, reached, results = target_name, True, iter(())   # resumed, already there
    else:
        if backend == "dask":         # dask.distributed itself reruns the tasks of a lost worker
            start = lambda b: _dask(job, batch_iter(b), workers, o.scheduler)  # noqa: E731
        elif workers == 1 or backend == "sequential" or n_blocks - next_block <= per_task:
            start = lambda b: _sequential(job, batch_iter(b))                  # noqa: E731
        else:
            start = lambda b: _joblib(job, batch_iter(b), n_jobs, backend)     # noqa: E731
        results = _rerunning(start, next_block, blocks_of, lambda: stop is not None and stop.set)

    def state(finished=False, info=None):
        return {"fingerprint": fp, "block_size": bs, "next_block": next_block,
                "ntraj_done": done, "ntraj_max": ntraj, "finished": finished,
                "info": info or {}}

    # the first checkpoint of a fresh run replaces whatever DIR held without keeping it as
    # the previous one (a previous checkpoint of another run could never be resumed)
    rotate = [st is not None]
    failed_write = [False]

    def save(final=False, finished=False, info=None):
        """Checkpoint now.  A failed write (e.g. a full disk) during the run is reported once
        and the run goes on (the last good checkpoint stays); at the end it is an error."""
        try:
            _save_checkpoint(out_dir, total, state(finished=finished, info=info),
                             rotate=rotate[0])
            rotate[0] = True
        except OSError as exc:
            if final:
                raise RunStorageError(f"cannot write the checkpoint in {out_dir} "
                                      f"({_one_line(exc, 100)}); the older checkpoints there "
                                      "are intact: free space, then resume") from None
            if not failed_write[0]:
                _warn(f"cannot write the checkpoint in {out_dir} ({_one_line(exc, 100)}); "
                      "the run goes on, keeping the last good checkpoint")
            failed_write[0] = True

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
            if out_dir is not None and done < limit and (since > o.checkpoint_every
                                        if o.checkpoint_every is not None
                                        else since > 10 * ckpt_cost):
                t_save = time.perf_counter()
                save()
                last_ckpt = time.perf_counter()
                ckpt_cost = last_ckpt - t_save
        if stop.set:
            raise KeyboardInterrupt
    except Exception:
        if not stop.set:       # a block failed for good: keep what is merged, then report
            if out_dir is not None and total is not None:
                save()
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
            save()
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
        save(final=True, finished=(reason != "timeout"), info=info)
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
