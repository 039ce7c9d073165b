"""Ensembles: fixed trajectory blocks, batched over joblib workers, merged in block order.

A stochastic solver supplies a *job*: a picklable object with `run_block(start, stop)` that
simulates trajectories start..stop-1 (each seeded by its own index, see rng.py) inside one Numba
call and returns a dict of `Moments` (and exact integer sums).  The block size is a property
of the job, never of n_jobs or of the batch size, and the parent merges block results strictly
in block order; so results are bitwise identical for any n_jobs, batch size and backend.

Workers receive `batch_blocks` consecutive blocks per task (no per-trajectory task overhead)
and return per-block reductions; the parent keeps only the running merge, so memory does not
grow with the number of trajectories.
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterator

import numpy as np
from joblib import Parallel, delayed

from .stats import Moments
from .validation import as_count

__all__ = ["run_ensemble", "merge_blocks", "BACKENDS"]

BACKENDS = ("loky", "threading", "sequential")


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


def _block_edges(ntraj: int, block_size: int) -> list[tuple[int, int]]:
    return [(a, min(a + block_size, ntraj)) for a in range(0, ntraj, block_size)]


def run_ensemble(job, ntraj: int, n_jobs: int = 1, backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 unit: str = "traj") -> tuple[dict, dict[str, Any]]:
    """Run `ntraj` trajectories of `job`; return (merged reductions, run information).

    batch_size : trajectories per worker task (rounded up to a multiple of job.block_size);
        default: about four tasks per worker.
    backend : "loky" (processes, default), "threading" (the kernels release the GIL) or
        "sequential".
    """
    ntraj = as_count(ntraj, "ntraj")
    n_jobs = as_count(n_jobs, "n_jobs") if n_jobs != -1 else -1
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    bs = job.block_size
    blocks = _block_edges(ntraj, bs)
    workers = max(1, n_jobs if n_jobs > 0 else (__import__("os").cpu_count() or 1))
    if batch_size is None:
        per_task = max(1, math.ceil(len(blocks) / (4 * workers)))
    else:
        per_task = max(1, math.ceil(as_count(batch_size, "batch_size") / bs))
    batches = [blocks[i:i + per_task] for i in range(0, len(blocks), per_task)]

    t0 = time.perf_counter()
    if workers == 1 or backend == "sequential" or len(batches) == 1:
        results: Iterator[list[dict]] = (_run_batch(job, b) for b in batches)
    else:
        par = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")
        results = par(delayed(_run_batch)(job, b) for b in batches)

    bar = _progress_bar(progress, ntraj, unit)
    total = None
    for batch, res in zip(batches, results):
        for blk in res:
            total = merge_blocks(total, blk)
        if bar is not None:
            bar.update(batch[-1][1] - batch[0][0])
    if bar is not None:
        bar.close()
    info = {"wall_time": time.perf_counter() - t0, "n_jobs": n_jobs, "backend": backend,
            "batch_size": per_task * bs, "block_size": bs}
    return total, info


def _progress_bar(progress: bool | None, total: int, unit: str):
    import sys
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit=unit, mininterval=1.0, delay=2.0)
