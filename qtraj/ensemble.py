"""Ensembles: fixed trajectory blocks, batched over workers, merged in block order.

A stochastic solver supplies a *job*: a picklable object with `block_size` and
`run_block(start, stop)` that simulates trajectories start..stop-1 (each seeded by its own
index, see rng.py) inside one Numba call and returns a dict of `Moments` (and exact integer
sums).  The block size belongs to the job, never to n_jobs or the batch size, and the parent
merges block results strictly in block order; so results are bitwise identical for any n_jobs,
batch size and backend.

Workers receive several consecutive blocks per task (no per-trajectory task overhead) and
return per-block reductions; the parent keeps only the running merge, so memory does not grow
with the number of trajectories.

Stopping rules are checked after every merged block (so where a run stops does not depend on
the batch size either): `ntraj` (maximum), `target_stderr` (with a function giving the largest
standard error of the requested quantities), `timeout` (seconds).  With `out=DIR` the running
merge is checkpointed atomically to DIR/checkpoint.npz every few batches and on Ctrl-C;
`resume=True` continues from it and ends with exactly the result of an uninterrupted run.

Backends: "loky" (processes, default), "threading" (kernels release the GIL), "sequential",
and "dask" (dask.distributed: `scheduler` address of a running cluster, or an in-process
LocalCluster on 127.0.0.1 with n_jobs workers).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .stats import Moments
from .validation import as_count

__all__ = ["run_ensemble", "merge_blocks", "BACKENDS", "fingerprint", "load_checkpoint"]

BACKENDS = ("loky", "threading", "sequential", "dask")
CHECKPOINT = "checkpoint.npz"
#: default upper bound on blocks per worker task (keeps tasks short and stops responsive)
MAX_TASK_BLOCKS = 64
#: bound on the size of one task's returned block reductions (jobs report `block_bytes`)
TASK_RESULT_BYTES = 64 * 2**20


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
    """Hash of everything that defines a job's trajectories (arrays, flags, block size)."""
    h = hashlib.sha256()
    items = ([(f.name, getattr(job, f.name)) for f in fields(job)] if is_dataclass(job)
             else sorted(vars(job).items()))
    for name, v in items:
        h.update(name.encode())
        if isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        elif isinstance(v, (int, float, bool, str, type(None), tuple)):
            h.update(repr(v).encode())
        else:
            h.update(type(v).__name__.encode())
    return h.hexdigest()[:32]


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
def run_ensemble(job, ntraj: int, n_jobs: int = 1, backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 unit: str = "traj", target_stderr: float | None = None,
                 stderr_fn: Callable[[dict], float] | None = None,
                 timeout: float | None = None, out: str | os.PathLike | None = None,
                 resume: bool = False, checkpoint_every: float | None = None,
                 scheduler: str | None = None) -> tuple[dict, dict[str, Any]]:
    """Run up to `ntraj` trajectories of `job`; return (merged reductions, run information).

    batch_size : trajectories per worker task (rounded up to a multiple of job.block_size,
        and capped so that a task's block reductions stay below TASK_RESULT_BYTES);
        default: about four tasks per worker.
    target_stderr, stderr_fn : stop after the first block where stderr_fn(total) <= target.
    timeout : stop (after the current block) once this many seconds have passed.
    out, resume : checkpoint directory; continue from its checkpoint when resume=True.
    checkpoint_every : seconds between checkpoints; default None = after every worker task,
        throttled so that writing takes at most ~10 % of the run.  Checkpoints are also
        written at the end, on Ctrl-C and when a worker dies, so an interruption loses at most
        the tasks in flight (and, with the throttle, the last few seconds).
    The returned info holds "ntraj" (trajectories actually merged), "stop_reason" ("ntraj",
    "target_stderr" or "timeout"), "target_reached", "wall_time" and the parallel settings.
    """
    ntraj = as_count(ntraj, "ntraj")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or \
            (n_jobs < 1 and n_jobs != -1):
        raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if target_stderr is not None:
        if not (isinstance(target_stderr, (int, float)) and target_stderr > 0):
            raise ValueError(f"target_stderr must be a positive number, got {target_stderr!r}")
        if stderr_fn is None:
            raise ValueError("target_stderr needs the quantities whose error is targeted")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    bs = job.block_size
    fp = fingerprint(job)
    total, next_block, done = None, 0, 0
    out_dir = Path(out) if out is not None else None
    if resume:
        if out_dir is None:
            raise ValueError("resume=True needs out=DIR")
        if (out_dir / CHECKPOINT).exists():
            total, st = load_checkpoint(out_dir)
            if st["fingerprint"] != fp or st["block_size"] != bs:
                raise ValueError(f"the checkpoint in {out_dir} belongs to a different run "
                                 "(model, times, seed or options differ)")
            next_block, done = st["next_block"], st["ntraj_done"]
            if done > ntraj:
                raise ValueError(f"the checkpoint in {out_dir} already holds {done} "
                                 f"trajectories, more than ntraj = {ntraj}")
            if st.get("finished") and st["ntraj_max"] == ntraj:
                return total, dict(st["info"], resumed=True)
    n_blocks = math.ceil(ntraj / bs)
    workers = max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1))
    if batch_size is None:   # ~4 tasks per worker, at most MAX_TASK_BLOCKS blocks per task
        per_task = min(MAX_TASK_BLOCKS, max(1, math.ceil((n_blocks - next_block) / (4 * workers))))
    else:
        per_task = max(1, math.ceil(as_count(batch_size, "batch_size") / bs))
    # a task returns one reduction per block: bound the memory a task's result holds
    per_task = min(per_task, max(1, int(TASK_RESULT_BYTES // max(1, getattr(job, "block_bytes",
                                                                            0) or 1))))

    def batch_iter():   # lazy: a large ntraj maximum (with target_stderr) costs nothing
        for first in range(next_block, n_blocks, per_task):
            yield [(i * bs, min((i + 1) * bs, ntraj))
                   for i in range(first, min(first + per_task, n_blocks))]
    batches = batch_iter()

    t0 = time.perf_counter()
    reason = "ntraj"
    reached = None
    if target_stderr is not None and total is not None and stderr_fn(total) <= target_stderr:
        reason, reached, results = "target_stderr", True, iter(())   # resumed, already there
    elif backend == "dask":
        results = _dask(job, batches, workers, scheduler)
    elif workers == 1 or backend == "sequential" or n_blocks - next_block <= per_task:
        results = _sequential(job, batches)
    else:
        results = _joblib(job, batches, n_jobs, backend)

    def state(finished=False, info=None):
        return {"fingerprint": fp, "block_size": bs, "next_block": next_block,
                "ntraj_done": done, "ntraj_max": ntraj, "finished": finished,
                "info": info or {}}

    bar = _progress_bar(progress, ntraj, unit, initial=done)
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
                done = min(next_block * bs, ntraj)
                if target_stderr is not None and stderr_fn(total) <= target_stderr:
                    reason, reached = "target_stderr", True
                    break
                if timeout is not None and time.perf_counter() - t0 > timeout:
                    reason = "timeout"
                    break
            if bar is not None:
                bar.update(done - bar.n)
            if reason != "ntraj":
                break
            since = time.perf_counter() - last_ckpt
            if out_dir is not None and (since > checkpoint_every if checkpoint_every is not None
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
    if target_stderr is not None and reached is None:
        reached = bool(total is not None and stderr_fn(total) <= target_stderr)
    info = {"ntraj": done, "stop_reason": reason, "target_stderr": target_stderr,
            "target_reached": reached, "wall_time": time.perf_counter() - t0,
            "n_jobs": n_jobs, "backend": backend, "batch_size": per_task * bs,
            "block_size": bs, "timeout": timeout}
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
