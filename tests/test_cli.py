"""The qtraj command line and the README example."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def test_every_scenario_runs_in_quick_mode_and_json_parses(capsys):
    n_shots = {"machine": "400000"}        # the machine scenario counts atom collisions
    for name in scenarios.SCENARIOS:
        n = n_shots.get(name, "256")
        assert cli.main(["run", name, "--ntraj", n, "--seed", "1", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["scenario"] == name
        assert summary["ntraj"] == 256 if name not in n_shots else summary["ntraj"] >= 2
        _assert_summary_consistent(summary)
        assert set(summary["estimates"]) == set(summary["reference"]) == set(summary["zscores"])


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
