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
    """Result of a stochastic ensemble: estimates with standard errors, records, metadata.

    Every estimate has one meaning: the arrays below are the ensemble averages at the output
    times; named estimates live in `records`; run information (stopping rule, wall time,
    totals such as a recorded time span) lives in `meta`.

    Parameters
    ----------
    times : (nt,) ndarray or None
        Output times of the time-resolved estimates (`mean`, `expect`, per-time records).
        None for a result without a time axis (e.g. a steady-state estimator); it never holds
        anything else (a total simulated time belongs in `meta`).
    mean, stderr : (nt, d, d) ndarray or None
        Averaged density matrices and their standard errors (real part of `stderr` = standard
        error of Re, imaginary part = of Im); None when states were not stored.
    ntraj : int
        Number of trajectories (or independent runs) averaged.
    seed : dict
        {"entropy": int, "spawn_key": list} of the root numpy SeedSequence.
    expect, expect_stderr : (n_e, nt) ndarray or None
        Averages of the e_ops (real if every e_op is Hermitian) and their standard errors.
    records : dict of str to ndarray
        Named estimates (e.g. "jump_counts"); ``records[k + "_stderr"]`` holds the standard
        error of ``records[k]``.  Names may not be those of the arrays above.
    meta : dict
        Free-form metadata: parameters, versions, wall time, stopping rule, totals ...

    Raises
    ------
    ValueError
        If a record is named like one of the arrays ("times", "mean", "stderr", "expect",
        "expect_stderr").

    Examples
    --------
    >>> import numpy as np
    >>> r = EnsembleResult(times=None, mean=None, stderr=None, ntraj=4, seed={},
    ...                    records={"x": np.array(1.0), "x_stderr": np.array(0.1)})
    >>> r.keys(), r["x"], "times" in r
    (['x', 'x_stderr'], array(1.), False)
    """

    times: np.ndarray | None
    mean: np.ndarray | None
    stderr: np.ndarray | None
    ntraj: int
    seed: dict
    expect: np.ndarray | None = None
    expect_stderr: np.ndarray | None = None
    records: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        clash = sorted(set(self.records) & set(_ARRAYS))
        if clash:
            raise ValueError(f"records may not be named {clash}: those are EnsembleResult "
                             "arrays")

    def __getitem__(self, key: str):
        """A record, or one of the arrays (times, mean, stderr, expect, expect_stderr) that
        is set; KeyError (listing `keys()`) otherwise."""
        if key in self.records:
            return self.records[key]
        if key in _ARRAYS and getattr(self, key) is not None:
            return getattr(self, key)
        raise KeyError(f"{key!r}; available: {self.keys()}")

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        """Everything ``result[key]`` accepts.

        Returns
        -------
        list of str
            The arrays that are set (in the order times, mean, stderr, expect,
            expect_stderr), then the record names, sorted.
        """
        return [k for k in _ARRAYS if k not in self.records and getattr(self, k) is not None] \
            + sorted(self.records)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the result to one .npz file (atomic: temporary file, then rename).

        Parameters
        ----------
        path : str or os.PathLike
            File name; ".npz" is appended if missing.  Parent directories are created.

        Returns
        -------
        pathlib.Path
            The file written; `load` reads it back.
        """
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
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        except BaseException:      # e.g. a full disk: leave no partial file behind
            if tmp.exists():
                tmp.unlink()
            raise
        os.replace(tmp, path)
        return path

    def summary(self) -> dict:
        """JSON-friendly summary: ntraj, seed, the records and the JSON-able metadata.

        Returns
        -------
        dict
        """
        out = {"ntraj": int(self.ntraj), "seed": self.seed}
        for k, v in self.records.items():
            out[k] = np.asarray(v).tolist() if np.isrealobj(v) else \
                [np.real(v).tolist(), np.imag(v).tolist()]
        out.update({k: v for k, v in self.meta.items() if _is_jsonable(v)})
        return out


def load(path: str | os.PathLike) -> EnsembleResult:
    """Load an EnsembleResult written by `EnsembleResult.save`.

    Parameters
    ----------
    path : str or os.PathLike
        A .npz file (the suffix may be left out), or a run directory holding `result.npz`
        (as written by a solver called with ``out=DIR``).

    Returns
    -------
    EnsembleResult

    Raises
    ------
    FileNotFoundError
        If there is no result at `path`.
    """
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
