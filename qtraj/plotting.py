"""Plot helpers shared by the scripts in runs/: Monte Carlo points with error bars over exact
curves, single trajectories with their jumps, and writing PNG + data files side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["run_parser", "figure", "save", "l1_of_mean", "mc_points", "trajectory_plot"]


def run_parser(doc: str | None):
    """Argument parser shared by the runs/ scripts: --quick, --out DIR, --n-jobs J."""
    import argparse
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--quick", action="store_true", help="small, fast variant")
    ap.add_argument("--out", default="results", help="output directory (PNG + data)")
    ap.add_argument("--n-jobs", type=int, default=1, help="parallel workers")
    return ap


def figure(nrows: int = 1, ncols: int = 1, **kw):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kw.setdefault("figsize", (5.0 * ncols, 3.6 * nrows))
    kw.setdefault("constrained_layout", True)
    return plt.subplots(nrows, ncols, **kw)


def save(fig, outdir: str | Path, name: str, data: dict | None = None) -> Path:
    """Write outdir/name.png and, if given, outdir/name.npz (arrays) + name.json (scalars)."""
    import matplotlib.pyplot as plt
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=130)
    plt.close(fig)
    if data:
        arrays = {k: np.asarray(v) for k, v in data.items() if not np.isscalar(v)}
        scalars = {k: (float(v) if np.isreal(v) else str(v)) for k, v in data.items()
                   if np.isscalar(v)}
        if arrays:
            np.savez(out / f"{name}.npz", **arrays)
        if scalars:
            (out / f"{name}.json").write_text(json.dumps(scalars, indent=2))
    return png


def l1_of_mean(mean: np.ndarray, stderr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """l1 coherence of averaged density matrices (..., d, d) and a conservative standard error.

    C_l1 = sum_{i != j} |rho_ij|.  The error propagates sigma(|z|) ~ |Re z sigma_Re + Im z
    sigma_Im| / |z| per element, summed linearly (upper bound for correlated elements).
    """
    d = mean.shape[-1]
    off = ~np.eye(d, dtype=bool)
    z = mean[..., off]
    s = stderr[..., off]
    az = np.abs(z)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.where(az > 0, np.sqrt((z.real * s.real) ** 2 + (z.imag * s.imag) ** 2) / az,
                      np.hypot(s.real, s.imag))
    return az.sum(axis=-1), se.sum(axis=-1)


def mc_points(ax, t, y, se, **kw):
    """Monte Carlo estimates as markers with 1-sigma error bars."""
    kw.setdefault("fmt", "o")
    kw.setdefault("ms", 3.5)
    kw.setdefault("capsize", 2)
    return ax.errorbar(t, y, yerr=se, **kw)


def trajectory_plot(ax, times, values, jump_times, jump_channels, labels=None):
    """One trajectory's observable vs time, its jumps marked by channel."""
    ax.plot(times, values, "k-", lw=1)
    jump_times = np.asarray(jump_times)
    jump_channels = np.asarray(jump_channels)
    for k in np.unique(jump_channels):
        sel = jump_channels == k
        yv = np.interp(jump_times[sel], times, values)
        lab = labels[k] if labels is not None else f"channel {k}"
        ax.plot(jump_times[sel], yv, "v" if k % 2 == 0 else "^", ms=5, label=lab)
    ax.legend(loc="best", fontsize=8)
