"""Fault injection: runs survive faults and misuse, lose nothing computed, and say so in one line.

Faults: two runs on one directory, truncated / bit-flipped / foreign checkpoints, a worker
killed or out of memory (its blocks rerun), a full disk (a patched writer), the parent killed
at seeded random moments.  Each check ends with the surviving result equal, bit for bit, to an
undisturbed run, and every message a user sees is one line.  The default tests run in this
process or the threading backend; those that start loky workers or several interpreters are
marked slow.
"""

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import qtraj as qt
from qtraj import cli
from qtraj import ensemble
from qtraj import kernel_inputs as ki
from qtraj import operators as op
from qtraj.ensemble import (CheckpointError, LostWorkError, RunDirectoryBusy, RunOptions,
                            RunStorageError, RunWarning, load_checkpoint, run, run_lock)
from qtraj.jumps import JumpJob
from qtraj.rng import root_key
from qtraj.stats import Moments
from helpers import random_lindblad

ROOT = Path(__file__).resolve().parents[1]
TIMES = [0.0, 0.5, 1.0]
EOPS = [np.diag([1.0, 0.0, 0.0])]
L3 = random_lindblad(d=3, n_channels=2, seed=1)
# every task checkpointed (tiny tasks: the default throttle could skip some)
EVERY = 1e-9


def _mc(**kw):
    kw = dict(dict(ntraj=2048, seed=7, e_ops=EOPS, progress=False, batch_size=256), **kw)
    return qt.mcsolve(L3, op.basis(3, 0), TIMES, **kw)


def _same(a, b):
    assert a.ntraj == b.ntraj
    for k in a.keys():
        assert np.array_equal(a[k], b[k], equal_nan=True), k


def _one_line(text):
    lines = [s for s in text.strip().splitlines() if s.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _job(seed=7):
    prop = ki.propagators_of([L3])
    return JumpJob(propagators=prop, channels=ki.channels([L3]),
                   initial=ki.mixture(op.basis(3, 0)[:, None] * op.basis(3, 0)[None, :]),
                   outputs=ki.jump_outputs(np.array(TIMES), prop, ki.as_eops(EOPS, 3), False,
                                           False),
                   key=root_key(seed)[1], n_baths=len(L3.baths), block_size=64)


@dataclass
class FaultyJob:
    """A job whose block `fault_block` fails the first `times` times it runs (in any process:
    a marker file per failure in `marker`); "kill" SIGKILLs the worker, "memory" raises
    MemoryError.  A file `marker`/disarm switches the fault off."""
    inner: Any
    marker: str
    fault: str = "memory"
    fault_block: int = 3
    times: int = 1
    block_size: int = 64

    def run_block(self, start, stop):
        m = Path(self.marker)
        if start == self.fault_block * self.block_size and not (m / "disarm").exists():
            n = len(list(m.glob("hit*")))
            if n < self.times:
                (m / f"hit{n}").write_text(str(os.getpid()))
                if self.fault == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise MemoryError("injected")
        return self.inner.run_block(start, stop)


def _totals_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, Moments):
            assert x.n == y.n and np.array_equal(x.mean, y.mean) and np.array_equal(x.m2, y.m2)
        else:
            assert np.array_equal(x, y), k


class _Totals(dict):
    def save(self, path):       # run() saves the result of a run with out=DIR
        Path(path).write_text("totals")


def _totals(job, **kw):
    return run(job, RunOptions(**dict(dict(ntraj=1024, progress=False), **kw)),
               to_result=lambda total, info: _Totals(total))


# --------------------------------------------------------------------------- run lock
_HOLDER = textwrap.dedent("""
    import sys, time
    from qtraj.ensemble import run_lock
    cm = run_lock(sys.argv[1]); cm.__enter__()
    print("held", flush=True)
    time.sleep(120)
""")


def _hold_in_other_process(out):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_busy_directory_is_refused_in_one_line_and_a_dead_owners_lock_is_taken_over(
        tmp_path, capsys):
    out = tmp_path / "run"
    holder = _hold_in_other_process(out)
    try:
        with pytest.raises(RunDirectoryBusy, match=f"pid {holder.pid} on ") as exc:
            _mc(out=out)
        assert "\n" not in str(exc.value) and "another out directory" in str(exc.value)
        assert not (out / "checkpoint.npz").exists()       # nothing touched
        rc = cli.main(["run", "collective", "--set", "n_atoms=2", "--ntraj", "64",
                       "--out", str(out)])
        assert rc == 2
        assert "in use" in _one_line(capsys.readouterr().err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / "run.lock").exists()       # left behind by the killed owner: stale
    (out / "checkpoint.npz.4242.1.tmp").write_bytes(b"PK half written")
    _same(_mc(out=out), _mc())
    assert {p.name for p in out.iterdir()} <= {"checkpoint.npz", "checkpoint.prev.npz",
                                               "result.npz"}     # no lock, no .tmp left


def test_lock_is_per_thread_and_reentrant_in_the_owning_thread(tmp_path):
    out = tmp_path / "run"
    errors = []
    with run_lock(out):
        _same(_mc(out=out), _mc())                          # same thread: re-entrant
        t = threading.Thread(target=lambda: errors.append(_catch(lambda: _mc(out=out))))
        t.start()
        t.join()
    assert isinstance(errors[0], RunDirectoryBusy) and "another thread" in str(errors[0])
    _mc(out=out, resume=True)                               # free again


def _catch(f):
    try:
        f()
    except Exception as exc:   # noqa: BLE001 - handed to the test thread
        return exc
    return None


@pytest.mark.slow
def test_two_cli_runs_on_one_directory(tmp_path):
    """Two `qtraj run ... --out B` at once: one refused in one line (exit 2), the other's
    result equals an undisturbed run bit for bit."""
    out = tmp_path / "B"
    args = [sys.executable, "-m", "qtraj.cli", "run", "collective", "--set", "n_atoms=3",
            "--ntraj", "300000", "--seed", "4", "--no-progress", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=env)
    deadline = time.time() + 60
    while not (out / "run.lock").exists() and time.time() < deadline:
        time.sleep(0.02)
    second = subprocess.run(args, capture_output=True, text=True, env=env)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 2
    assert "in use" in _one_line(second.stderr)
    ref = tmp_path / "ref"
    subprocess.run(args[:-1] + [str(ref)], check=True, capture_output=True, env=env)
    _same(qt.load(out), qt.load(ref))


# --------------------------------------------------------------------------- checkpoints
def _two_checkpoints(out):
    """A finished run of 2048 trajectories checkpointed after every task: checkpoint.npz
    (2048) and checkpoint.prev.npz (1792)."""
    _mc(out=out, checkpoint_every=EVERY)
    assert load_checkpoint(out)[1]["ntraj_done"] == 2048
    assert load_checkpoint(out / "checkpoint.prev.npz")[1]["ntraj_done"] == 1792


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _flip(path, pos):
    data = bytearray(path.read_bytes())
    data[pos % len(data)] ^= 0x10
    path.write_bytes(bytes(data))


def test_truncated_newest_checkpoint_costs_one_interval(tmp_path):
    out = tmp_path / "run"
    _two_checkpoints(out)
    _truncate(out / "checkpoint.npz")
    with pytest.raises(CheckpointError, match="cannot be read") as exc:
        load_checkpoint(out)
    assert "\n" not in str(exc.value) and "checkpoint.npz" in str(exc.value)
    with pytest.warns(RunWarning, match=r"previous checkpoint .*\(1792 trajectories\)"):
        resumed = _mc(ntraj=4096, out=out, resume=True)
    _same(resumed, _mc(ntraj=4096))
    _same(qt.load(out), _mc(ntraj=4096))


def test_bit_flips_anywhere_never_change_the_resumed_numbers(tmp_path):
    """Seeded flips over the whole newest file: each is detected (and the previous checkpoint
    used) or touched nothing the run reads; the resumed result is always the undisturbed one."""
    base = tmp_path / "base"
    _two_checkpoints(base)
    full = _mc(ntraj=4096)
    size = (base / "checkpoint.npz").stat().st_size
    detected = 0
    for k, pos in enumerate(np.random.default_rng(11).integers(0, size, 6)):
        out = tmp_path / f"flip{k}"
        shutil.copytree(base, out)
        _flip(out / "checkpoint.npz", int(pos))
        try:
            load_checkpoint(out)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            detected += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunWarning)     # the skipped damaged file
            _same(_mc(ntraj=4096, out=out, resume=True), full)
    assert detected >= 1


def test_flip_in_array_data_is_caught_by_the_checksum(tmp_path):
    """A changed number inside a valid file: only the checksum can see it."""
    import zipfile
    out = tmp_path / "run"
    _two_checkpoints(out)
    path = out / "checkpoint.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["expect::mean"] = arrays["expect::mean"].copy()
    arrays["expect::mean"].flat[0] += 1e-12
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(out)


def test_no_good_checkpoint_names_the_file_and_the_remedy(tmp_path, capsys):
    out = tmp_path / "run"
    _two_checkpoints(out)
    _truncate(out / "checkpoint.npz")
    _flip(out / "checkpoint.prev.npz", 200)
    _truncate(out / "checkpoint.prev.npz")
    with pytest.raises(CheckpointError, match="start afresh without resume") as exc:
        _mc(ntraj=4096, out=out, resume=True)
    msg = str(exc.value)
    assert str(out / "checkpoint.npz") in msg and "checkpoint.prev.npz" in msg
    assert "\n" not in msg
    # the same through the command line: one line, exit 2
    bad = tmp_path / "cli"
    bad.mkdir()
    (bad / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    rc = cli.main(["run", "collective", "--set", "n_atoms=2", "--ntraj", "64", "--out",
                   str(bad), "--resume"])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "checkpoint.npz" in line and "delete it" in line
    # starting afresh (no --resume) is the documented way out
    assert cli.main(["run", "collective", "--set", "n_atoms=2", "--ntraj", "64", "--out",
                     str(bad), "--no-progress"]) == 0


def test_foreign_and_old_format_files_are_refused(tmp_path, monkeypatch):
    out = tmp_path / "foreign"
    out.mkdir()
    np.savez(out / "checkpoint.npz", x=np.arange(3))
    with pytest.raises(CheckpointError, match="not a qtraj checkpoint"):
        _mc(out=out, resume=True)
    old = tmp_path / "old"
    monkeypatch.setattr(ensemble, "CHECKPOINT_FORMAT", 1)
    _mc(out=old)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="has format 1"):
        _mc(out=old, resume=True)
    # a good checkpoint of another run stays "a different run", never silently replaced
    other = tmp_path / "other"
    _mc(out=other)
    with pytest.raises(ValueError, match="different run"):
        _mc(out=other, seed=8, resume=True)


def test_cli_resume_skips_a_damaged_newest_checkpoint_with_one_warning(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["run", "collective", "--set", "n_atoms=2", "--seed", "3", "--no-progress",
            "--batch-size", "256", "--checkpoint-every", "1e-9"]
    assert cli.main(base + ["--ntraj", "2048", "--out", str(out)]) == 0
    _truncate(out / "checkpoint.npz")
    capsys.readouterr()
    assert cli.main(base + ["--ntraj", "4096", "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert _one_line(err).startswith("qtraj: warning: checkpoint ")
    ref = tmp_path / "ref"
    assert cli.main(base + ["--ntraj", "4096", "--out", str(ref)]) == 0
    a, b = qt.load(out), qt.load(ref)
    assert np.array_equal(a.expect, b.expect) and np.array_equal(a.expect_stderr,
                                                                 b.expect_stderr)


# --------------------------------------------------------------------------- lost work
@pytest.mark.parametrize("backend", ["sequential", "threading"])
def test_block_with_a_transient_memory_error_is_rerun_bit_for_bit(backend, tmp_path):
    job = _job()
    ref = _totals(job)
    with pytest.warns(RunWarning, match=r"trajectories 192\.\.255 lost \(MemoryError"):
        got = _totals(FaultyJob(job, str(tmp_path), "memory"), n_jobs=2, backend=backend,
                      batch_size=128)
    _totals_equal(got, ref)


def test_block_failing_every_time_is_named_and_merged_work_is_kept(tmp_path):
    job = _job()
    out = tmp_path / "run"
    faulty = FaultyJob(job, str(tmp_path), "memory", times=100)
    with pytest.warns(RunWarning), pytest.raises(LostWorkError) as exc:
        _totals(faulty, n_jobs=2, backend="threading", batch_size=64, out=out)
    msg = str(exc.value)
    assert "\n" not in msg and "192..255" in msg and "4 times" in msg and "MemoryError" in msg
    assert len(list(tmp_path.glob("hit*"))) == ensemble.MAX_RETRIES + 1
    kept = load_checkpoint(out)
    assert kept[1]["ntraj_done"] == 192                 # the three blocks before it
    _totals_equal(kept[0], _totals(job, ntraj=192))
    (tmp_path / "disarm").write_text("")                # the cause is gone: resume
    _totals_equal(_totals(faulty, out=out, resume=True), _totals(job))


def test_cli_reports_lost_work_in_one_line(tmp_path, capsys, monkeypatch):
    def always_oom(self, start, stop):
        raise MemoryError("injected")
    monkeypatch.setattr(JumpJob, "run_block", always_oom)
    rc = cli.main(["run", "collective", "--set", "n_atoms=2", "--ntraj", "64",
                   "--backend", "sequential", "--no-progress"])
    assert rc == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == ensemble.MAX_RETRIES + 1 and "Traceback" not in "".join(lines)
    assert all(s.startswith("qtraj: warning: ") for s in lines[:-1])
    assert lines[-1].startswith("qtraj: error: the block of trajectories 0..")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["kill", "memory"])
def test_loky_worker_killed_or_out_of_memory_is_rerun_bit_for_bit(fault, tmp_path):
    job = _job()
    ref = _totals(job, ntraj=4096)
    with pytest.warns(RunWarning, match="TerminatedWorkerError" if fault == "kill"
                      else "MemoryError"):
        got = _totals(FaultyJob(job, str(tmp_path), fault), ntraj=4096, n_jobs=2,
                      backend="loky", batch_size=128)
    _totals_equal(got, ref)


@pytest.mark.slow
def test_cli_worker_sigkilled_from_outside_is_rerun_bit_for_bit(tmp_path):
    psutil = pytest.importorskip("psutil")
    out, ref = tmp_path / "B", tmp_path / "ref"
    args = [sys.executable, "-m", "qtraj.cli", "run", "collective", "--set", "n_atoms=3",
            "--ntraj", "400000", "--seed", "9", "--no-progress", "--n-jobs", "2",
            "--batch-size", "4096"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(args + ["--out", str(out)], stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    deadline, killed = time.time() + 120, None
    delay = np.random.default_rng(5).uniform(0.0, 1.0)    # a seeded random moment
    while not (out / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    while killed is None and time.time() < deadline and proc.poll() is None:
        try:
            workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                       if "popen_loky" in " ".join(p.cmdline())]
            if workers:
                workers[0].send_signal(signal.SIGKILL)
                killed = workers[0]
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    assert killed is not None
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        # Known and not handled yet: a worker killed while it writes its result leaves
        # loky's result reader blocked in the middle of a message; joblib then waits forever
        # (no TerminatedWorkerError).  Clean up what this test started and say so.
        for p in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        proc.kill()
        proc.communicate()
        pytest.xfail("loky hangs when a worker dies in the middle of writing its result")
    assert proc.returncode == 0, err
    assert "lost (TerminatedWorkerError" in _one_line(err)
    subprocess.run(args + ["--out", str(ref)], check=True, capture_output=True, env=env)
    _same(qt.load(out), qt.load(ref))


# --------------------------------------------------------------------------- full disk
class _FullDisk:
    """np.savez that writes a few bytes and then fails like a full disk, after `allow`
    successful calls."""

    def __init__(self, allow):
        self.allow, self.calls = allow, 0
        self.real = np.savez

    def __call__(self, fh, *args, **kw):
        self.calls += 1
        if self.calls > self.allow:
            fh.write(b"PK\x03\x04partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(fh, *args, **kw)


def test_full_disk_keeps_the_last_good_checkpoint_and_resume_is_exact(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(np, "savez", _FullDisk(allow=3))
    with pytest.warns(RunWarning, match="No space left") as rec, \
            pytest.raises(RunStorageError, match="free space, then resume") as exc:
        _mc(ntraj=4096, out=out, checkpoint_every=EVERY)
    monkeypatch.undo()
    assert len([w for w in rec if issubclass(w.category, RunWarning)]) == 1   # reported once
    assert "\n" not in str(exc.value)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "checkpoint.prev.npz"]
    assert load_checkpoint(out)[1]["ntraj_done"] == 3 * 256
    _same(_mc(ntraj=4096, out=out, resume=True), _mc(ntraj=4096))


def test_full_disk_at_the_result_then_resume_through_the_cli(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    base = ["run", "collective", "--set", "n_atoms=2", "--seed", "3", "--no-progress",
            "--ntraj", "2048", "--batch-size", "256"]
    # all checkpoints written (8 tasks + the final one), then result.npz fails
    full = _FullDisk(allow=10**6)
    monkeypatch.setattr(np, "savez", full)
    real_save = qt.EnsembleResult.save

    def failing_save(self, path):
        full.allow = full.calls
        return real_save(self, path)
    monkeypatch.setattr(qt.EnsembleResult, "save", failing_save)
    rc = cli.main(base + ["--out", str(out)])
    monkeypatch.undo()
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "result.npz" in line and "No space left" in line
    assert not (out / "result.npz").exists() and not list(out.glob("*.tmp"))
    assert cli.main(base + ["--out", str(out), "--resume"]) == 0
    ref = tmp_path / "ref"
    assert cli.main(base + ["--out", str(ref)]) == 0
    a, b = qt.load(out), qt.load(ref)
    assert np.array_equal(a.expect, b.expect) and np.array_equal(a.expect_stderr,
                                                                 b.expect_stderr)


# --------------------------------------------------------------------------- parent killed
@pytest.mark.slow
def test_parent_sigkilled_at_seeded_random_moments_resumes_bit_for_bit(tmp_path):
    rng = np.random.default_rng(2024)
    full = _mc(ntraj=200000, batch_size=2048)
    for k, delay in enumerate(rng.uniform(0.0, 1.5, 3)):
        out = tmp_path / f"run{k}"
        script = textwrap.dedent(f"""
            import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})
            import numpy as np, qtraj as qt
            from helpers import random_lindblad
            L = random_lindblad(d=3, n_channels=2, seed=1)
            qt.mcsolve(L, qt.operators.basis(3, 0), {TIMES}, ntraj=200000, seed=7,
                       e_ops=[np.diag([1.0, 0.0, 0.0])], batch_size=2048, progress=False,
                       out={str(out)!r}, checkpoint_every={EVERY})
        """)
        proc = subprocess.Popen([sys.executable, "-c", script],
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.time() + 120
        while not (out / "checkpoint.npz").exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _same(_mc(ntraj=200000, batch_size=2048, out=out, resume=True), full)


# --------------------------------------------------------------------------- memory
def test_states_are_stored_by_default_only_without_e_ops():
    with_e = _mc(ntraj=64)
    assert with_e.mean is None and with_e.expect is not None
    without = qt.mcsolve(L3, op.basis(3, 0), TIMES, ntraj=64, seed=7, progress=False)
    assert without.mean.shape == (3, 3, 3)
    both = _mc(ntraj=64, store_states=True)
    assert both.mean is not None and np.array_equal(both.expect, with_e.expect)
    _same(_mc(ntraj=64, store_states=False), with_e)


@dataclass
class _HugeJob:
    """The sums of mcsolve at d = 4096 with 101 output times and stored states."""
    block_size: int = 256
    memory_remedy = "give e_ops or store_states=False"

    @property
    def block_bytes(self):
        return 3 * 16 * 101 * 4096**2

    def run_block(self, start, stop):    # pragma: no cover - refused before
        raise AssertionError("a refused run must not start")


def test_memory_refusal_before_allocating(monkeypatch):
    monkeypatch.setenv(ensemble.MEMORY_ENV, "16")
    with pytest.raises(ensemble.MemoryBudgetError) as exc:
        run(_HugeJob(), RunOptions(ntraj=10, progress=False),
            to_result=lambda total, info: total)
    msg = str(exc.value)
    assert "\n" not in msg and "176.8 GiB" in msg and "budget is 16.0 GiB" in msg
    assert "store_states=False" in msg
    assert isinstance(exc.value, ValueError)
    monkeypatch.setenv(ensemble.MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match=ensemble.MEMORY_ENV):
        run(_HugeJob(), RunOptions(ntraj=10), to_result=lambda total, info: total)


def test_memory_refusal_names_the_remedy_and_e_ops_avoid_it(monkeypatch, tmp_path, capsys):
    L = random_lindblad(d=24, n_channels=1, seed=2)
    times = np.linspace(0, 0.2, 101)
    e = [np.diag(np.arange(24.0))]
    monkeypatch.setenv(ensemble.MEMORY_ENV, "0.004")   # states: 2.8 MB per block
    with pytest.raises(ensemble.MemoryBudgetError, match="give e_ops") as exc:
        qt.mcsolve(L, op.basis(24, 0), times, ntraj=64, progress=False, out=tmp_path / "r")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "r" / "checkpoint.npz").exists()
    r = qt.mcsolve(L, op.basis(24, 0), times, ntraj=64, e_ops=e, progress=False)
    assert r.mean is None and r.expect.shape == (1, 101)
    # the command line: one line, exit 2
    monkeypatch.setenv(ensemble.MEMORY_ENV, "1e-7")
    assert cli.main(["run", "harvest", "--ntraj", "64", "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "GiB" in line and "store_states=False" in line


# --------------------------------------------------------------------------- every solver
def _solvers():
    """(name, job class, run(**options)) for every solver; each run has at least 4 blocks."""
    from qtraj.collisions import DensityCollisionJob, PureCollisionJob
    from qtraj.models.machine import FIG2, Machine, atom_state
    from qtraj.models.machine.kernel import MachineJob
    from qtraj.protocols import Protocol, ProtocolJob
    cm = qt.CollisionModel(random_lindblad(d=2, n_channels=1, seed=3), np.diag([0.7, 0.3]),
                           np.eye(4)[[0, 2, 1, 3]], 1.0, ancilla_hamiltonian=np.diag([0., 1.]))
    proto = Protocol([(0.3, random_lindblad(d=2, n_channels=1, seed=5)),
                      (0.3, random_lindblad(d=2, n_channels=1, seed=6))])
    machine = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75, 0.2))
    psi = op.basis(2, 0)
    return [
        ("mcsolve", JumpJob, lambda **o: _mc(ntraj=1024, **o)),
        ("collisions-pure", PureCollisionJob,
         lambda **o: cm.simulate(psi, [0.0, 0.5, 1.0], ntraj=256, seed=2, **o)),
        ("collisions-density", DensityCollisionJob,
         lambda **o: cm.simulate(psi, [0.0, 0.5, 1.0], ntraj=256, seed=2, method="density",
                                 **o)),
        ("protocol", ProtocolJob,
         lambda **o: proto.simulate(2, ntraj=256, state0=psi, seed=3, **o)),
        ("machine", MachineJob,
         lambda **o: machine.simulate(n_collisions=2000, ntraj=8, burn_in=10, seed=5, **o)),
    ]


SOLVERS = _solvers()


def _kw(name):
    # the machine's block is one trajectory: at most 2 per task, so there are several tasks
    return dict(progress=False, batch_size=2 if name == "machine" else 64)


@pytest.mark.parametrize("name, job_class, solve", SOLVERS, ids=[s[0] for s in SOLVERS])
def test_every_solver_survives_a_truncated_newest_checkpoint(name, job_class, solve, tmp_path):
    out = tmp_path / "run"
    ref = solve(**_kw(name))
    solve(out=out, checkpoint_every=EVERY, **_kw(name))
    assert (out / "checkpoint.prev.npz").exists()
    _truncate(out / "checkpoint.npz")
    with pytest.warns(RunWarning, match="resuming from the previous checkpoint"):
        _same(solve(out=out, resume=True, **_kw(name)), ref)


@pytest.mark.parametrize("backend", ["threading", "sequential"])
@pytest.mark.parametrize("name, job_class, solve", SOLVERS, ids=[s[0] for s in SOLVERS])
def test_every_solver_reruns_a_block_lost_to_memory_error(name, job_class, solve, backend,
                                                          monkeypatch):
    ref = solve(**_kw(name))
    real, hits = job_class.run_block, []

    def once(self, start, stop):
        if start == 2 * self.block_size and not hits:
            hits.append(start)
            raise MemoryError("injected")
        return real(self, start, stop)
    monkeypatch.setattr(job_class, "run_block", once)
    with pytest.warns(RunWarning, match=r"lost \(MemoryError: injected\)"):
        got = solve(n_jobs=2, backend=backend, **_kw(name))
    assert hits
    _same(got, ref)
