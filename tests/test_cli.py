"""The qtraj command line and the README example."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qtraj as qt
from qtraj import cli, scenarios
from helpers import ALPHA, assert_consistent

ROOT = Path(__file__).resolve().parents[1]


def _assert_summary_consistent(summary):
    """Every estimate of a `qtraj run --json` summary agrees with its reference; the Bonferroni
    budget alpha is shared among the observables."""
    names = list(summary["estimates"])
    for name in names:
        assert_consistent(summary["estimates"][name], summary["stderr"][name],
                          summary["reference"][name], alpha=ALPHA / len(names),
                          name=f"{summary['scenario']}: {name}", dof=summary["ntraj"] - 1)


def test_list_names_every_scenario(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in scenarios.SCENARIOS:
        assert name in out


def test_run_json_and_out(tmp_path, capsys):
    rc = cli.main(["run", "collective", "--set", "n_atoms=2", "--set", "nbar=1.0",
                   "--ntraj", "2000", "--seed", "4", "--json", "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ntraj"] == 2000 and summary["seed"]["entropy"] == 4
    _assert_summary_consistent(summary)
    zs = [np.max(np.abs(z)) for z in summary["zscores"].values()]
    assert summary["max_abs_z"] == max(zs)
    res = qt.load(tmp_path)
    assert np.allclose(res.expect[0], summary["estimates"]["n_excitations"])
    assert res.meta["parameters"]["nbar"] == 1.0


def test_bad_arguments_exit_2_with_one_line(capsys):
    assert cli.main(["run", "collective", "--set", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown parameter 'bogus'" in err
    assert cli.main(["run", "nope"]) == 2
    assert cli.main(["run", "collective", "--set", "nbar=-1"]) == 2
    assert cli.main(["run", "collective", "--ntraj", "0"]) == 2


def test_console_script_and_readme_example(tmp_path):
    # the example runs from another directory: make it import this tree's qtraj, not an
    # installed copy
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=path)
    out = subprocess.run([sys.executable, "-m", "qtraj.cli", "list"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0 and "collective" in out.stdout
    ex = subprocess.run([sys.executable, str(ROOT / "examples" / "first_example.py")],
                        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert ex.returncode == 0, ex.stderr
    assert (tmp_path / "qubit.npz").exists()


def test_every_scenario_runs_in_quick_mode_and_json_parses(capsys, tmp_path):
    # the machine's amount of work is its number of atom collisions; --ntraj = trajectories
    size = {"machine": ["--set", "n_collisions=400000"]}
    for name in scenarios.SCENARIOS:
        run = size.get(name, ["--ntraj", "256"])
        out = tmp_path / name
        assert cli.main(["run", name, *run, "--seed", "1", "--json", "--batch-size", "64",
                         "--timeout", "600", "--out", str(out)]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["scenario"] == name
        assert summary["ntraj"] == 256 if name not in size else summary["ntraj"] >= 2
        _assert_summary_consistent(summary)
        assert set(summary["estimates"]) == set(summary["reference"]) == set(summary["zscores"])
        meta = qt.load(out).meta                 # the run options reached the solver
        bs = meta["block_size"]                  # batch_size: whole blocks of the job
        assert meta["timeout"] == 600 and meta["batch_size"] == -(-64 // bs) * bs, name


def _probe(seen):
    """A scenario that records the RunOptions it is given."""
    def build(x: float = 1.0):
        def run(options):
            seen.append(options)
            return qt.EnsembleResult(times=None, mean=None, stderr=None, ntraj=1, seed={},
                                     meta={"wall_time": 0.0})
        return scenarios.Prepared(run, lambda res: {},
                                  unsupported={"scheduler": "the probe has no cluster"})
    return scenarios.Scenario("probe", "records its options", build)


def test_every_run_option_reaches_the_scenario(monkeypatch, tmp_path, capsys):
    from qtraj.ensemble import RUN_OPTIONS
    seen = []
    monkeypatch.setitem(scenarios.SCENARIOS, "probe", _probe(seen))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[run]\nseed = 9\nn_jobs = 2\n")
    argv = ["run", "probe", "--config", str(cfg), "--ntraj", "77", "--n-jobs", "3",
            "--backend", "threading", "--batch-size", "11", "--no-progress",
            "--target-rel-stderr", "0.25", "--timeout", "5", "--out", str(tmp_path / "o"),
            "--resume", "--checkpoint-every", "2", "--json"]
    assert cli.main(argv) == 0
    o = seen[-1]
    assert {k: getattr(o, k) for k in RUN_OPTIONS} == dict(
        ntraj=77, seed=9, n_jobs=3, backend="threading", batch_size=11, progress=False,
        target_stderr=None, target_rel_stderr=0.25, timeout=5.0, out=tmp_path / "o",
        resume=True, checkpoint_every=2.0, scheduler=None)
    assert json.loads(capsys.readouterr().out)["target_rel_stderr"] == 0.25
    # defaults: ntraj from the scenario unless a stopping rule ends the run
    assert cli.main(["run", "probe", "--json"]) == 0 and seen[-1].ntraj == 1000
    assert cli.main(["run", "probe", "--json", "--timeout", "1"]) == 0 and seen[-1].ntraj is None
    capsys.readouterr()
    # an option the scenario cannot use: one line, exit 2, nothing run
    n = len(seen)
    assert cli.main(["run", "probe", "--backend", "dask", "--scheduler", "tcp://h:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot use --scheduler: the probe has no cluster" in err
    assert len(seen) == n
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nntrajs = 3\n")
    assert cli.main(["run", "probe", "--config", str(bad)]) == 2
    assert "unknown run option 'ntrajs'" in capsys.readouterr().err


def test_every_scenario_takes_every_option_and_bad_values_are_refused(capsys):
    from qtraj import scenarios
    for name in scenarios.SCENARIOS:       # no real scenario drops or refuses an option
        assert not scenarios.SCENARIOS[name].build().unsupported, name
    # bad values of any option: one line, exit 2
    for argv in (["--scheduler", "tcp://h:1"], ["--checkpoint-every", "3"],
                 ["--batch-size", "0"]):
        assert cli.main(["run", "collective", *argv]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:      # argparse: one line, exit 2
        cli.main(["run", "collective", "--target-stderr", "0.1", "--target-rel-stderr", "0.1"])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_target_stderr_config_and_plot(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[parameters]\nnbar = 2.0\n[run]\nseed = 5\n")
    out = tmp_path / "run"
    rc = cli.main(["run", "collective", "--config", str(cfg), "--target-stderr", "0.02",
                   "--out", str(out), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["parameters"]["nbar"] == 2.0 and s["seed"]["entropy"] == 5
    assert s["target_reached"] is True and max(s["stderr"]["n_excitations"]) <= 0.02
    assert cli.main(["plot", str(out)]) == 0
    assert (out / "plot.png").exists()
    assert cli.main(["plot", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters]\nwrong = 1\n")
    assert cli.main(["run", "collective", "--config", str(bad)]) == 2


def test_ctrl_c_saves_and_exits_cleanly(tmp_path):
    import signal
    import time
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "qtraj.cli", "run", "collective",
                             "--set", "n_atoms=3", "--ntraj", "100000000", "--out", str(out)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert (out / "checkpoint.npz").exists()
