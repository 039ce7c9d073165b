"""EnsembleResult: ensemble estimates with standard errors, records and metadata; save/load.

Files are a single `.npz` holding the arrays and a JSON string with the metadata (parameters,
seed, versions, wall time, ntraj, stopping information), loadable without re-running.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EnsembleResult", "load"]

_ARRAYS = ("times", "mean", "stderr", "expect", "expect_stderr")


@dataclass
class EnsembleResult:
    """Result of a stochastic ensemble.

    times : (nt,) output times; empty (shape (0,)) for stationary estimates without a time
        axis (the coherence machine), whose numbers are all in `records`.
    mean, stderr : (nt, d, d) averaged density matrices and their standard errors (real part of
        `stderr` = standard error of Re, imaginary part = of Im).
    expect, expect_stderr : (n_e, nt) for the e_ops (real if every e_op is Hermitian), or None.
    ntraj : number of trajectories (or independent runs) averaged.
    seed : {"entropy": int, "spawn_key": list} of the root numpy SeedSequence.
    records : named estimates (e.g. "jump_counts": mean jumps per channel); `records[k +
        "_stderr"]` holds their standard errors.  `result[key]` reads records.
    meta : free-form metadata (parameters, versions, wall time, stopping rule ...).
    """

    times: np.ndarray
    mean: np.ndarray | None
    stderr: np.ndarray | None
    ntraj: int
    seed: dict
    expect: np.ndarray | None = None
    expect_stderr: np.ndarray | None = None
    records: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str):
        if key in self.records:
            return self.records[key]
        if key in _ARRAYS:
            return getattr(self, key)
        raise KeyError(f"{key!r}; available: {sorted(self.records)}")

    def keys(self) -> list[str]:
        return sorted(self.records)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write `path` (.npz appended if missing); atomic (temporary file + rename)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}
        arrays.update({f"rec__{k}": np.asarray(v) for k, v in self.records.items()})
        meta = {"ntraj": int(self.ntraj), "seed": self.seed, "meta": self.meta,
                "versions": _versions(), "format": "qtraj-ensemble-1"}
        arrays["__meta__"] = np.array(json.dumps(meta, default=_json_default))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
        return path

    def summary(self) -> dict:
        """JSON-friendly summary of the scalar records and run information."""
        out = {"ntraj": int(self.ntraj), "seed": self.seed}
        for k, v in self.records.items():
            out[k] = np.asarray(v).tolist() if np.isrealobj(v) else \
                [np.real(v).tolist(), np.imag(v).tolist()]
        out.update({k: v for k, v in self.meta.items() if _is_jsonable(v)})
        return out


def load(path: str | os.PathLike) -> EnsembleResult:
    """Load an EnsembleResult written by `save` (a .npz file, or a run directory holding
    `result.npz`)."""
    path = Path(path)
    if path.is_dir():
        path = path / "result.npz"
    if not path.exists() and path.with_suffix(".npz").exists():
        path = path.with_suffix(".npz")
    if not path.exists():
        raise FileNotFoundError(f"no qtraj result at {path}")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        arrays = {k: z[k] for k in z.files if k in _ARRAYS}
        records = {k[5:]: z[k] for k in z.files if k.startswith("rec__")}
    return EnsembleResult(times=arrays.get("times"), mean=arrays.get("mean"),
                          stderr=arrays.get("stderr"), ntraj=meta["ntraj"], seed=meta["seed"],
                          expect=arrays.get("expect"), expect_stderr=arrays.get("expect_stderr"),
                          records=records, meta=meta.get("meta", {}))


def _versions() -> dict:
    import numba
    import scipy

    from . import __version__
    return {"qtraj": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__, "python": platform.python_version()}


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, complex):
        return [o.real, o.imag]
    return str(o)


def _is_jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False
