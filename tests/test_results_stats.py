"""EnsembleResult persistence, streaming statistics, random streams, plotting helpers."""

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.ensemble import merge_blocks
from qtraj.plotting import l1_of_mean
from qtraj.rng import next_double, root_key, stream_state
from qtraj.stats import Moments, batch_means, zscore
from helpers import assert_consistent, random_lindblad


def test_save_load_round_trip(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    res = qt.mcsolve(L, op.basis(3, 0), [0, 0.5, 1], ntraj=200, seed=9,
                     e_ops=[np.diag([1.0, 0, 0])], keep_jumps=True, progress=False)
    path = res.save(tmp_path / "run" / "result")
    assert path.suffix == ".npz"
    back = qt.load(path)
    for k in ("times", "mean", "stderr", "expect", "expect_stderr"):
        assert np.array_equal(getattr(back, k), getattr(res, k))
    assert back.keys() == res.keys()
    for k in res.keys():
        assert np.array_equal(back[k], res[k], equal_nan=True)
    assert back.ntraj == 200 and back.seed == res.seed
    assert back.meta["solver"] == "mcsolve"
    assert np.array_equal(qt.load(tmp_path / "run").mean, res.mean)  # a run directory
    with pytest.raises(FileNotFoundError):
        qt.load(tmp_path / "nothing")
    with pytest.raises(KeyError, match="available"):
        res["no_such_record"]


def test_keys_list_exactly_what_getitem_accepts(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    e = [np.diag([1.0, 0, 0])]
    full = qt.mcsolve(L, op.basis(3, 0), [0, 1], ntraj=50, e_ops=e, progress=False,
                      store_states=True)
    bare = qt.mcsolve(L, op.basis(3, 0), [0, 1], ntraj=50, e_ops=e, progress=False,
                      store_states=False)
    assert full.keys()[:5] == ["times", "mean", "stderr", "expect", "expect_stderr"]
    assert full.keys()[5:] == sorted(full.records)
    assert "mean" not in bare.keys() and "expect" in bare.keys()
    for r in (full, bare):
        for k in r.keys():
            assert k in r and r[k] is not None
        for k in ("times", "mean", "stderr", "expect", "expect_stderr", "jump_counts", "x"):
            if k not in r.keys():
                assert k not in r
                with pytest.raises(KeyError, match="available"):
                    r[k]
    with pytest.raises(ValueError, match="records may not be named"):
        qt.EnsembleResult(times=None, mean=None, stderr=None, ntraj=1, seed={},
                          records={"times": np.array(3.0)})
    # a result without a time axis: times is None, and stays None through save/load
    r = qt.EnsembleResult(times=None, mean=None, stderr=None, ntraj=2, seed={"entropy": 1},
                          records={"rate": np.array(0.5), "rate_stderr": np.array(0.1)},
                          meta={"recorded_time": 123.5})
    back = qt.load(r.save(tmp_path / "steady"))
    assert back.times is None and back.keys() == ["rate", "rate_stderr"]
    assert back.meta["recorded_time"] == 123.5


def test_moments_merge_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3)) + 1j * rng.normal(size=(1000, 3)) * 2
    total = Moments.empty_like(x[0])
    for a in range(0, 1000, 77):
        blk = x[a:a + 77]
        m = blk.mean(axis=0)
        d = blk - m
        total.merge(Moments(len(blk), m, (d.real ** 2).sum(0) + 1j * (d.imag ** 2).sum(0)))
    se = total.stderr
    assert np.allclose(total.mean, x.mean(0))
    assert np.allclose(se.real, x.real.std(0, ddof=1) / np.sqrt(1000))
    assert np.allclose(se.imag, x.imag.std(0, ddof=1) / np.sqrt(1000))
    # merge_blocks adds exact integer sums
    t = merge_blocks(None, {"c": np.array([1, 2])})
    t = merge_blocks(t, {"c": np.array([3, 4])})
    assert t["c"].tolist() == [4, 6]


def test_batch_means_and_zscore():
    rng = np.random.default_rng(1)
    # AR(1) series: naive standard error underestimates, batch means does not
    x = np.empty(200000)
    x[0] = 0
    e = rng.normal(size=x.size)
    for i in range(1, x.size):
        x[i] = 0.9 * x[i - 1] + e[i]
    mean, se = batch_means(x, 50)
    true_se = np.sqrt(1 / (1 - 0.9) ** 2 / x.size)   # long-run variance of AR(1), unit noise
    assert 0.7 < se / true_se < 1.3
    assert abs(mean) < 5 * true_se
    assert zscore(1.2, 0.1, 1.0) == pytest.approx(2.0)
    assert zscore(1.0 + 0.3j, 0.1 + 0.1j, 1.0) == pytest.approx(3.0)
    assert zscore(1.0, 0.0, 1.0) == 0.0


def test_random_streams_uniform_and_distinct():
    _, key = root_key(5)
    s0, s1 = stream_state(key, 0), stream_state(key, 1)
    u0 = np.array([next_double(s0) for _ in range(20000)])
    u1 = np.array([next_double(s1) for _ in range(200)])
    assert 0 <= u0.min() and u0.max() < 1
    assert_consistent(u0.mean(), np.sqrt(1 / 12 / u0.size), 0.5, name="mean of U(0, 1)")
    assert not np.allclose(u0[:200], u1)
    assert np.array_equal(stream_state(key, 7), stream_state(key, 7))
    with pytest.raises(ValueError, match="seed"):
        root_key(-1)


def test_l1_of_mean_error_propagation():
    mean = np.array([[0.5, 0.3], [0.3, 0.5]], dtype=complex)
    se = np.array([[0.01, 0.02], [0.02, 0.01]]) * (1 + 1j)
    c, s = l1_of_mean(mean, se)
    assert c == pytest.approx(0.6)
    assert s == pytest.approx(0.04)
