"""The `qtraj` command: list / run scenarios, reproduce the papers' figures.

    qtraj list
    qtraj run SCENARIO [--set name=value ...] [--config file.toml]
                       [--ntraj N] [--target-stderr X | --target-rel-stderr X] [--timeout T]
                       [--seed S] [--n-jobs J] [--backend B] [--scheduler ADDR]
                       [--batch-size B] [--out DIR] [--resume] [--checkpoint-every SEC]
                       [--progress | --no-progress] [--json]
    qtraj plot DIR
    qtraj reproduce [--quick] [--out DIR] [--n-jobs J]

The run options are those of `qtraj.ensemble.RunOptions`, the same for every scenario (also
as keys of the config file's [run] table); a scenario that cannot use one says so.
Argument errors print one line and exit with code 2; so do the faults a run cannot survive
(its directory busy with another run, no readable checkpoint to resume, blocks that failed on
every attempt, a full disk), after keeping what was computed.  Faults it survives (a worker
killed and its blocks rerun, a damaged newest checkpoint skipped) print one warning line.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import json
import runpy
import sys
import time
import warnings
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


def _load_config(path: str | None) -> dict:
    if not path:
        return {}
    import tomllib
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {path!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path!r}: {exc}") from None
    return cfg


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _run_options(args, cfg: dict, config_path: str | None, prepared, scenario: str):
    """RunOptions from the command line (which wins) and the config's [run] table."""
    from .ensemble import RUN_OPTIONS, RunOptions
    run_cfg = cfg.get("run", {})
    for k in run_cfg:
        if k not in RUN_OPTIONS:
            raise UsageError(f"unknown run option {k!r} in {config_path}; run options: "
                             f"{', '.join(RUN_OPTIONS)}")
    given = dict(run_cfg)
    given.update({k: getattr(args, k) for k in RUN_OPTIONS
                  if getattr(args, k) is not None and not (k == "resume" and not args.resume)})
    if given.get("target_stderr") is not None and given.get("target_rel_stderr") is not None:
        raise UsageError("give --target-stderr or --target-rel-stderr, not both")
    for k, v in given.items():
        if k in prepared.unsupported and v is not None and v is not False:
            raise UsageError(f"scenario {scenario!r} cannot use {_flag(k)}: "
                             f"{prepared.unsupported[k]}")
    if given.get("ntraj") is None:
        stops = any(given.get(k) is not None for k in ("target_stderr", "target_rel_stderr",
                                                       "timeout"))
        given["ntraj"] = None if stops else prepared.default_ntraj
    if given.get("progress") is None and args.json:
        given["progress"] = False
    if given.get("resume") and not given.get("out"):
        raise UsageError("--resume needs --out DIR")
    try:
        return RunOptions(**given)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def cmd_run(args) -> int:
    from .ensemble import run_lock
    from .scenarios import get
    try:
        sc = get(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    defaults = sc.defaults()
    cfg = _load_config(args.config)
    cfg_params = cfg.get("parameters", {})
    for k in cfg_params:
        if k not in defaults:
            raise UsageError(f"unknown parameter {k!r} in {args.config}; "
                             f"parameters: {', '.join(defaults)}")
    params = dict(defaults, **cfg_params, **_parse_set(args.set, defaults))
    try:
        prepared = sc.build(**params)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad parameters: {exc}") from None
    options = _run_options(args, cfg, args.config, prepared, sc.name)
    out = options.out
    # the run directory stays locked until result.npz and summary.json are written
    with (run_lock(out) if out is not None else contextlib.nullcontext()):
        return _run_and_report(args, sc, params, prepared, options)


def _run_and_report(args, sc, params, prepared, options) -> int:
    from .stats import zscore
    out = options.out
    try:
        res = prepared.run(options)
    except KeyboardInterrupt:
        where = f"; continue with --resume --out {out}" if out else ""
        print(f"qtraj: interrupted{where}", file=sys.stderr)
        return 130
    table = prepared.observables(res)
    res = dataclasses.replace(res, meta={**res.meta, "scenario": sc.name, "parameters": params})
    summary = {"scenario": sc.name, "parameters": params, "ntraj": res.ntraj,
               "seed": res.seed,
               "times": None if res.times is None else np.asarray(res.times).tolist(),
               "stop_reason": res.meta.get("stop_reason"),
               "target_stderr": options.target_stderr,
               "target_rel_stderr": options.target_rel_stderr,
               "target_reached": res.meta.get("target_reached"),
               "wall_time": res.meta.get("wall_time"), "estimates": {}, "stderr": {},
               "reference": {}, "zscores": {}}
    zmax = 0.0
    for name, (est, se, ref) in table.items():
        z = zscore(est, se, ref)
        zmax = max(zmax, float(np.max(np.abs(z))))
        summary["estimates"][name] = np.asarray(est).tolist()
        summary["stderr"][name] = np.asarray(se).tolist()
        summary["reference"][name] = np.asarray(ref).tolist()
        summary["zscores"][name] = np.asarray(z).tolist()
    summary["max_abs_z"] = zmax
    if out is not None:
        res.save(out / "result.npz")     # again: now with the scenario and its parameters
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary))
    else:
        target = options.target
        kind = "relative " if options.target_rel_stderr is not None else ""
        reached = "" if target is None else \
            f", {kind}target {target:g} " \
            f"{'reached' if res.meta.get('target_reached') else 'NOT reached'}"
        print(f"{sc.name}: {res.ntraj} trajectories in {res.meta['wall_time']:.2f} s "
              f"(stopped by {res.meta.get('stop_reason')}{reached}); "
              f"max |z| vs deterministic = {zmax:.2f}")
        for name, (est, se, ref) in table.items():
            print(f"  {name}(t_end) = {est[-1]:.6f} ± {se[-1]:.6f} (exact {ref[-1]:.6f})")
    return 0


def cmd_plot(args) -> int:
    from . import plotting
    from .results import load
    d = Path(args.dir)
    try:
        res = load(d)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    summ = d / "summary.json"
    if not summ.exists():
        raise UsageError(f"{summ} not found (written by `qtraj run ... --out DIR`)")
    summary = json.loads(summ.read_text())
    fig, ax = plotting.figure()
    t = np.asarray(summary["times"] or [], dtype=float)
    if t.size == 0:    # stationary estimates (no time axis): each one's z-score vs its reference
        names = list(summary["zscores"])
        for i, name in enumerate(names):
            z = np.ravel(summary["zscores"][name])
            plotting.mc_points(ax, np.full(z.shape, i), z, np.ones(z.shape),
                               label=f"{name} ({res.ntraj} shots)")
        ax.axhline(0.0, color="gray", lw=0.6)
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_ylabel("(estimate − deterministic) / stderr")
    else:
        for name in summary["estimates"]:
            line, = ax.plot(t, summary["reference"][name], "-", label=f"{name} (deterministic)")
            plotting.mc_points(ax, t, summary["estimates"][name], summary["stderr"][name],
                               color=line.get_color(), label=f"{name} ({res.ntraj} shots)")
        ax.set_xlabel("t")
    ax.set_title(f"{summary['scenario']}: {summary['parameters']}", fontsize=7)
    ax.legend(fontsize=8)
    print(plotting.save(fig, d, "plot"))
    return 0


def cmd_reproduce(args) -> int:
    if not RUNS_DIR.is_dir():
        raise UsageError(f"runs/ not found next to the package ({RUNS_DIR}); "
                         "reproduce needs a source checkout (pip install -e .)")
    scripts = sorted(RUNS_DIR.glob("*.py"))
    out = Path(args.out)
    for s in scripts:
        t0 = time.perf_counter()
        argv = ["--out", str(out), "--n-jobs", str(args.n_jobs)]
        if args.quick:
            argv.append("--quick")
        mod = runpy.run_path(str(s))
        path = mod["main"](argv)
        print(f"{s.name:32s} -> {path}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors: one line on stderr, exit code 2 (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog="qtraj", description="open quantum systems shot by shot")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    sub.add_parser("list", help="list scenarios").set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="run a scenario's shot-by-shot ensemble")
    r.add_argument("scenario")
    r.add_argument("--set", action="append", metavar="NAME=VALUE")
    r.add_argument("--config", metavar="FILE.toml",
                   help="[parameters] and [run] tables (command-line options win)")
    r.add_argument("--ntraj", type=int, help="maximum number of trajectories")
    target = r.add_mutually_exclusive_group()
    target.add_argument("--target-stderr", type=float, metavar="X",
                        help="stop once the largest standard error is <= X")
    target.add_argument("--target-rel-stderr", type=float, metavar="X",
                        help="stop once the largest relative standard error is <= X")
    r.add_argument("--timeout", type=float, metavar="SEC")
    r.add_argument("--seed", type=int)
    r.add_argument("--n-jobs", type=int)
    r.add_argument("--backend", choices=["loky", "threading", "sequential", "dask"])
    r.add_argument("--scheduler", metavar="ADDR", help="dask.distributed scheduler address")
    r.add_argument("--batch-size", type=int, metavar="N", help="trajectories per worker task")
    r.add_argument("--out", metavar="DIR")
    r.add_argument("--resume", action="store_true")
    r.add_argument("--checkpoint-every", type=float, metavar="SEC")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plot", help="plot a run directory written with --out")
    pl.add_argument("dir")
    pl.set_defaults(func=cmd_plot)
    rp = sub.add_parser("reproduce", help="reproduce the papers' figures into --out")
    rp.add_argument("--quick", action="store_true")
    rp.add_argument("--out", default="results")
    rp.add_argument("--n-jobs", type=int, default=1)
    rp.set_defaults(func=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    from .ensemble import RunWarning
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        # faults a run survives (a rerun block, a damaged checkpoint skipped): one line each
        warnings.simplefilter("always", RunWarning)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, RunWarning):
                print(f"qtraj: warning: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)
        warnings.showwarning = show
        return _main(args)


def _main(args) -> int:
    from .ensemble import LostWorkError, RunDirectoryBusy, RunStorageError
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"qtraj: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RunDirectoryBusy, LostWorkError, RunStorageError) as exc:
        # bad input, a busy run directory, an unusable checkpoint, blocks that failed on
        # every attempt, a full disk: one line, exit 2 (what was computed is checkpointed)
        print(f"qtraj: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
