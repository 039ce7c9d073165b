"""The `qtraj` command: list / run scenarios, reproduce the papers' figures.

    qtraj list
    qtraj run SCENARIO [--set name=value ...] [--ntraj N] [--seed S] [--n-jobs J]
                       [--backend B] [--out DIR] [--json]
    qtraj reproduce [--quick] [--out DIR] [--n-jobs J]

Argument errors print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import ast
import json
import runpy
import sys
import time
from pathlib import Path

import numpy as np

RUNS_DIR = Path(__file__).resolve().parents[1] / "runs"


class UsageError(Exception):
    pass


def _parse_set(items: list[str], defaults: dict) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--set expects name=value, got {item!r}")
        k, v = item.split("=", 1)
        if k not in defaults:
            raise UsageError(f"unknown parameter {k!r}; parameters: {', '.join(defaults)}")
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            raise UsageError(f"cannot parse value {v!r} of {k}") from None
    return out


def cmd_list(args) -> int:
    from .scenarios import SCENARIOS
    for s in SCENARIOS.values():
        print(f"{s.name:14s} {s.description}")
    return 0


def cmd_run(args) -> int:
    import qtraj as qt
    from .scenarios import get
    from .stats import zscore
    try:
        sc = get(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    params = dict(sc.defaults(), **_parse_set(args.set, sc.defaults()))
    try:
        spec = sc.build(**params)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad parameters: {exc}") from None
    res = qt.mcsolve(spec["model"], spec["state0"], spec["times"], args.ntraj, seed=args.seed,
                     n_jobs=args.n_jobs, backend=args.backend, e_ops=spec["e_ops"],
                     progress=None if not args.json else False)
    exact = qt.mesolve(spec["model"], spec["state0"], spec["times"])
    ref = np.array([np.einsum("ij,tji->t", e, exact).real for e in spec["e_ops"]])
    z = zscore(res.expect, res.expect_stderr, ref)
    res.meta.update(scenario=sc.name, parameters=params)
    summary = {"scenario": sc.name, "parameters": params, "ntraj": res.ntraj,
               "seed": res.seed, "times": res.times.tolist(),
               "estimates": {n: res.expect[i].tolist() for i, n in enumerate(spec["e_names"])},
               "stderr": {n: res.expect_stderr[i].tolist() for i, n in enumerate(spec["e_names"])},
               "reference": {n: ref[i].tolist() for i, n in enumerate(spec["e_names"])},
               "zscores": {n: z[i].tolist() for i, n in enumerate(spec["e_names"])},
               "max_abs_z": float(np.max(np.abs(z))), "wall_time": res.meta["wall_time"]}
    if args.out:
        path = res.save(Path(args.out) / "result.npz")
        (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["saved"] = str(path)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{sc.name}: {res.ntraj} trajectories in {res.meta['wall_time']:.2f} s, "
              f"max |z| vs mesolve = {summary['max_abs_z']:.2f}")
        for i, n in enumerate(spec["e_names"]):
            print(f"  {n}(t_end) = {res.expect[i, -1]:.6f} ± {res.expect_stderr[i, -1]:.6f} "
                  f"(exact {ref[i, -1]:.6f})")
    return 0


def cmd_reproduce(args) -> int:
    if not RUNS_DIR.is_dir():
        raise UsageError(f"runs/ not found next to the package ({RUNS_DIR}); "
                         "reproduce needs a source checkout (pip install -e .)")
    scripts = sorted(RUNS_DIR.glob("*.py"))
    out = Path(args.out)
    for s in scripts:
        t0 = time.perf_counter()
        argv = ["--out", str(out), "--n-jobs", str(args.n_jobs)] if _takes_jobs(s) else \
            ["--out", str(out)]
        if args.quick:
            argv.append("--quick")
        mod = runpy.run_path(str(s))
        path = mod["main"](argv)
        print(f"{s.name:32s} -> {path}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


def _takes_jobs(script: Path) -> bool:
    return "--n-jobs" in script.read_text()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qtraj", description="open quantum systems shot by shot")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list scenarios").set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="run a scenario's quantum-jump ensemble")
    r.add_argument("scenario")
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    r.add_argument("--ntraj", type=int, default=1000)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--n-jobs", type=int, default=1)
    r.add_argument("--backend", default="loky", choices=["loky", "threading", "sequential"])
    r.add_argument("--out")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_run)
    rp = sub.add_parser("reproduce", help="reproduce the papers' figures into --out")
    rp.add_argument("--quick", action="store_true")
    rp.add_argument("--out", default="results")
    rp.add_argument("--n-jobs", type=int, default=1)
    rp.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"qtraj: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"qtraj: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
