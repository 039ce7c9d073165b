"""Ensemble driver: stopping rules, checkpoint/resume (incl. SIGKILL), backends incl. dask."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.ensemble import load_checkpoint
from helpers import random_lindblad

ROOT = Path(__file__).resolve().parents[1]
TIMES = [0.0, 0.5, 1.0]
EOPS = [np.diag([1.0, 0.0, 0.0])]


def _model():
    return random_lindblad(d=3, n_channels=2, seed=1)


def test_target_stderr_stops_at_target_and_is_batch_independent():
    L = _model()
    kw = dict(ntraj=100000, seed=3, e_ops=EOPS, store_states=False, progress=False,
              target_stderr=0.01)
    a = qt.mcsolve(L, op.basis(3, 0), TIMES, batch_size=64, **kw)
    b = qt.mcsolve(L, op.basis(3, 0), TIMES, batch_size=640, n_jobs=2, **kw)
    assert a.meta["target_reached"] is True and a.meta["stop_reason"] == "target_stderr"
    assert a.expect_stderr.max() <= 0.01
    assert a.ntraj < 100000 and a.ntraj % 64 == 0
    # one block fewer would not have reached the target -> stopped at the first possible block
    assert a.ntraj == b.ntraj and np.array_equal(a.expect, b.expect)


def test_target_not_reached_is_reported_honestly():
    L = _model()
    r = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=300, seed=3, e_ops=EOPS, progress=False,
                   target_stderr=1e-6)
    assert r.ntraj == 300
    assert r.meta["target_reached"] is False and r.meta["stop_reason"] == "ntraj"
    t = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=10**8, seed=3, e_ops=EOPS, progress=False,
                   target_stderr=1e-9, timeout=0.5)
    assert t.meta["stop_reason"] == "timeout" and t.meta["target_reached"] is False
    assert 0 < t.ntraj < 10**8


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    out = tmp_path / "run"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})
        import numpy as np, qtraj as qt
        from helpers import random_lindblad
        L = random_lindblad(d=3, n_channels=2, seed=1)
        qt.mcsolve(L, qt.operators.basis(3, 0), {TIMES}, ntraj=400000, seed=21,
                   e_ops=[np.diag([1.0, 0.0, 0.0])], batch_size=64, progress=False,
                   store_states=True, out={str(out)!r})   # default: checkpoint after every task
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    ckpt = out / "checkpoint.npz"
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists():
            try:
                if load_checkpoint(out)[1]["next_block"] >= 5:
                    break
            except Exception:   # a checkpoint being replaced: try again
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = load_checkpoint(out)[1]
    assert not partial["finished"] and 0 < partial["ntraj_done"] < 400000
    resumed = qt.mcsolve(_model(), op.basis(3, 0), TIMES, ntraj=400000, seed=21, e_ops=EOPS,
                         batch_size=640, progress=False, out=out, resume=True,
                         store_states=True)
    full = qt.mcsolve(_model(), op.basis(3, 0), TIMES, ntraj=400000, seed=21, e_ops=EOPS,
                      progress=False, store_states=True)
    assert full.mean is not None
    assert resumed.ntraj == full.ntraj == 400000
    assert np.array_equal(resumed.mean, full.mean)
    assert np.array_equal(resumed.expect_stderr, full.expect_stderr)
    assert np.array_equal(qt.load(out).mean, full.mean)
    # a checkpoint of a different run is refused
    with pytest.raises(ValueError, match="different run"):
        qt.mcsolve(_model(), op.basis(3, 0), TIMES, ntraj=400000, seed=22, e_ops=EOPS,
                   progress=False, out=out, resume=True, store_states=True)


def test_dask_local_cluster_gives_identical_numbers():
    pytest.importorskip("dask.distributed")
    L = _model()
    kw = dict(ntraj=640, seed=8, e_ops=EOPS, progress=False, batch_size=128, store_states=True)
    ref = qt.mcsolve(L, op.basis(3, 0), TIMES, n_jobs=1, **kw)
    d = qt.mcsolve(L, op.basis(3, 0), TIMES, n_jobs=2, backend="dask", **kw)
    assert np.array_equal(d.mean, ref.mean) and np.array_equal(d.expect, ref.expect)
    assert d.meta["backend"] == "dask"


@pytest.mark.parametrize("kwargs, msg", [
    (dict(target_stderr=-1.0), "target_stderr"),
    (dict(timeout=0), "timeout"),
    (dict(resume=True), "out=DIR"),
    (dict(n_jobs=0), "n_jobs"),
])
def test_bad_run_options(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        qt.mcsolve(_model(), op.basis(3, 0), TIMES, ntraj=10, progress=False, **kwargs)


def test_task_results_are_memory_bounded():
    """Large states: fewer blocks per worker task, so a task's reductions stay small."""
    from qtraj.ensemble import TASK_RESULT_BYTES
    L = random_lindblad(d=24, n_channels=1, seed=2)
    res = qt.mcsolve(L, op.basis(24, 0), np.linspace(0, 0.2, 101), ntraj=128, seed=1,
                     batch_size=64 * 64, progress=False)
    per_block = 3 * 16 * 101 * 24 * 24
    blocks_per_task = res.meta["batch_size"] // res.meta["block_size"]
    assert 1 <= blocks_per_task <= TASK_RESULT_BYTES // per_block < 64
