"""One set of run options (RunOptions) for every stochastic solver, one driver (`run`)."""

import dataclasses
import inspect

import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.ensemble import RUN_OPTIONS, RunOptions, run
from qtraj.models.harvest import HarvestScheme, pair_state_from_bath
from qtraj.models.machine import FIG2, Machine, atom_state
from qtraj.models.otto import OttoRefrigerator
from qtraj.models.transistor import Transistor
from qtraj.protocols import Protocol
from conftest import random_lindblad

SOLVERS = {"mcsolve": qt.mcsolve, "CollisionModel.simulate": qt.CollisionModel.simulate,
           "Protocol.simulate": Protocol.simulate,
           "HarvestScheme.simulate": HarvestScheme.simulate,
           "OttoRefrigerator.simulate": OttoRefrigerator.simulate,
           "Transistor.simulate": Transistor.simulate,
           "Machine.simulate": Machine.simulate, "Machine.simulate_array": Machine.simulate_array}
#: model wrappers with their own default maximum (so that a call without options is a run)
OWN_DEFAULTS = {"OttoRefrigerator.simulate": {"ntraj": 2000},
                "Transistor.simulate": {"ntraj": 2000}}
TIMES = [0.0, 0.5, 1.0]
EOPS = [np.diag([1.0, 0.0, 0.0])]


def test_run_options_are_the_dataclass_fields():
    assert RUN_OPTIONS == tuple(f.name for f in dataclasses.fields(RunOptions))
    assert len(RUN_OPTIONS) == 13


@pytest.mark.parametrize("name", SOLVERS)
def test_every_solver_takes_every_run_option_with_the_same_default(name):
    params = inspect.signature(SOLVERS[name]).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), "no **kwargs"
    defaults = {f.name: f.default for f in dataclasses.fields(RunOptions)}
    defaults.update(OWN_DEFAULTS.get(name, {}))
    for opt in RUN_OPTIONS:
        assert opt in params, f"{name} lacks {opt}"
        assert params[opt].default == defaults[opt], (name, opt)


class _Stop(Exception):
    pass


def _wrapper_calls():
    """name -> (module whose `run` the call reaches, call(**options))."""
    psi = op.basis(2, 0)
    h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.3)
    m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75, 0.2))
    return {
        "HarvestScheme.simulate": ("qtraj.collisions",
                                   lambda **o: h.simulate(psi, [0.0, 1.0], **o)),
        "OttoRefrigerator.simulate": ("qtraj.protocols",
                                      lambda **o: OttoRefrigerator().simulate(1, **o)),
        "Transistor.simulate": ("qtraj.jumps", lambda **o: Transistor().simulate(1.0, **o)),
        "Machine.simulate": ("qtraj.models.machine.driver", lambda **o: m.simulate(1000, **o)),
        "Machine.simulate_array": ("qtraj.models.machine.driver",
                                   lambda **o: m.simulate_array(2, 1000, **o)),
    }


@pytest.mark.parametrize("name", list(_wrapper_calls()))
def test_model_wrappers_pass_every_run_option_to_the_driver(name, tmp_path, monkeypatch):
    import importlib
    module, call = _wrapper_calls()[name]
    seen = []

    def fake_run(job, opts, **kw):
        seen.append(opts)
        raise _Stop
    monkeypatch.setattr(importlib.import_module(module), "run", fake_run)
    common = dict(seed=3, n_jobs=2, backend="dask", batch_size=5, progress=False,
                  timeout=9.0, out=tmp_path / "o", resume=True, checkpoint_every=4.0,
                  scheduler="tcp://127.0.0.1:1")
    for given in (dict(common, ntraj=7, target_stderr=0.25),
                  dict(common, ntraj=9, target_rel_stderr=0.5, backend="threading",
                       scheduler=None, n_jobs=-1, progress=True)):
        with pytest.raises(_Stop):
            call(**given)
        assert seen.pop() == RunOptions(**given), name
    with pytest.raises(ValueError, match="timeout"):        # validated before any work
        call(ntraj=7, timeout=-1.0)
    assert not seen


def test_model_wrappers_forward_their_own_options(monkeypatch):
    import qtraj.jumps
    seen = {}

    def spy(name):
        def f(*args, **kwargs):
            seen[name] = kwargs
            raise _Stop
        return f
    monkeypatch.setattr(qt.CollisionModel, "simulate", spy("collisions"))
    monkeypatch.setattr(Protocol, "simulate", spy("protocol"))
    monkeypatch.setattr(qtraj.jumps, "mcsolve", spy("mcsolve"))
    h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.3)
    e = [np.diag([0.0, 1.0, 0.0])]
    calls = {
        "collisions": (lambda: h.simulate(op.basis(2, 0), [0.0, 1.0], 5, method="density",
                                          store_states=False),
                       dict(method="density", store_states=False, ntraj=5)),
        "protocol": (lambda: OttoRefrigerator().simulate(2, state0=op.basis(2, 1),
                                                         heat="expected", keep_jumps=True,
                                                         store_states=False),
                     dict(heat="expected", keep_jumps=True, store_states=False, ntraj=2000)),
        "mcsolve": (lambda: Transistor().simulate(1.0, 11, heat="transition", e_ops=e,
                                                  store_states=False, keep_jumps=True),
                    dict(heat="transition", e_ops=e, store_states=False, keep_jumps=True,
                         ntraj=11)),
    }
    for name, (call, expect) in calls.items():
        with pytest.raises(_Stop):
            call()
        for k, v in expect.items():
            assert seen[name][k] is v or seen[name][k] == v, (name, k)
        assert set(RUN_OPTIONS) <= set(seen[name]), name     # every run option, explicitly
    assert np.array_equal(seen["protocol"]["state0"], op.basis(2, 1))


def test_model_wrappers_never_modify_the_solvers_result(monkeypatch, tmp_path):
    """The solver's EnsembleResult is left as the run made it: harvest and transistor return
    it as is; the Otto refrigerator returns a new result with its derived records added."""
    import copy

    import qtraj.jumps
    made = []

    def keep(orig):
        def f(*args, **kwargs):
            r = orig(*args, **kwargs)
            made.append((r, dict(r.records), copy.deepcopy(r.meta)))
            return r
        return f
    monkeypatch.setattr(qt.CollisionModel, "simulate", keep(qt.CollisionModel.simulate))
    monkeypatch.setattr(Protocol, "simulate", keep(Protocol.simulate))
    monkeypatch.setattr(qtraj.jumps, "mcsolve", keep(qtraj.jumps.mcsolve))
    fr = OttoRefrigerator()
    results = [
        HarvestScheme(pair_state_from_bath(1.0), g_tau=0.3).simulate(
            op.basis(2, 0), [0.0, 1.0], 64, progress=False),
        Transistor().simulate(1.0, 64, progress=False),
        fr.simulate(2, 64, progress=False, out=tmp_path),
    ]
    assert len(made) == 3
    for res, (inner, records, meta) in zip(results, made):
        assert inner.records.keys() == records.keys()
        assert all(inner.records[k] is records[k] for k in records)
        assert inner.meta == meta
        for k in records:
            assert np.array_equal(res[k], inner[k], equal_nan=True)
    assert results[0] is made[0][0] and results[1] is made[1][0]
    otto, inner = results[2], made[2][0]
    assert otto is not inner and otto.records is not inner.records
    derived = {"Q_c", "Q_h", "W", "cop", "Q_c_cycle", "W_cycle"}
    assert derived <= set(otto.keys()) and not derived & set(inner.keys())
    assert "parameters" in otto.meta and "parameters" not in inner.meta
    # the derived records follow from the solver's result alone, e.g. the one written to out
    est = OttoRefrigerator.cycle_estimates(qt.load(tmp_path))
    assert set(est) == {k for d in derived for k in (d, d + "_stderr")}
    for k, v in est.items():
        assert np.array_equal(v, otto[k]), k
    with pytest.raises(ValueError, match="res must be"):
        OttoRefrigerator.cycle_estimates(results[1])


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(ntraj=0), ValueError, "ntraj"),
    (dict(ntraj=2.5), TypeError, "ntraj"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed="a"), ValueError, "seed"),
    (dict(n_jobs=0), ValueError, "n_jobs"),
    (dict(n_jobs=True), ValueError, "n_jobs"),
    (dict(backend="mpi"), ValueError, "backend"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(progress="yes"), ValueError, "progress"),
    (dict(target_stderr=0), ValueError, "target_stderr"),
    (dict(target_stderr=float("nan")), ValueError, "target_stderr"),
    (dict(target_rel_stderr=-0.1), ValueError, "target_rel_stderr"),
    (dict(target_stderr=0.1, target_rel_stderr=0.1), ValueError, "not both"),
    (dict(timeout=0), ValueError, "timeout"),
    (dict(out=3), ValueError, "out"),
    (dict(resume=True), ValueError, "resume"),
    (dict(resume="yes", out="d"), ValueError, "resume"),
    (dict(checkpoint_every=5.0), ValueError, "checkpoint_every needs out"),
    (dict(checkpoint_every=-1, out="d"), ValueError, "checkpoint_every"),
    (dict(scheduler="tcp://h:8786"), ValueError, "scheduler"),
    (dict(scheduler="", backend="dask"), ValueError, "scheduler"),
])
def test_bad_options_name_the_argument(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        RunOptions(**dict(dict(ntraj=10), **kwargs))
    # the solvers validate through the same class, before any work
    with pytest.raises(exc, match=msg):
        qt.mcsolve(random_lindblad(d=3, n_channels=1), op.basis(3, 0), TIMES,
                   **dict(dict(ntraj=10), **kwargs))


def test_options_round_trip_and_normalise(tmp_path):
    o = RunOptions(ntraj=np.int64(7), out=str(tmp_path), resume=True, n_jobs=np.int32(2),
                   target_rel_stderr=1)
    assert o.ntraj == 7 and type(o.ntraj) is int and o.out == tmp_path
    assert o.target == 1.0 and o.target_stderr is None
    assert RunOptions(**o.as_kwargs()) == o
    assert RunOptions.from_mapping(dict(o.as_kwargs(), model="ignored")) == o
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.ntraj = 3


def test_no_maximum_needs_a_stopping_rule():
    L = random_lindblad(d=3, n_channels=2, seed=1)
    with pytest.raises(ValueError, match="ntraj"):
        qt.mcsolve(L, op.basis(3, 0), TIMES, e_ops=EOPS, progress=False)
    r = qt.mcsolve(L, op.basis(3, 0), TIMES, e_ops=EOPS, progress=False, target_stderr=0.02,
                   seed=2)
    assert r.meta["target_reached"] is True and r.meta["ntraj_max"] is None
    assert r.expect_stderr.max() <= 0.02


def _rel(res):
    se, est = res.expect_stderr, np.abs(res.expect)
    return np.max(np.where(se == 0, 0.0, se / est))


def test_relative_target_stops_at_the_first_block_where_it_holds():
    L = random_lindblad(d=3, n_channels=2, seed=1)
    kw = dict(seed=5, e_ops=EOPS, store_states=False, progress=False)
    a = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=100000, target_rel_stderr=0.03,
                   batch_size=64, **kw)
    assert a.meta["stop_reason"] == "target_rel_stderr" and a.meta["target_reached"] is True
    assert a.meta["target_rel_stderr"] == 0.03 and a.meta["target_stderr"] is None
    assert _rel(a) <= 0.03
    bs = a.meta["block_size"]
    assert a.ntraj % bs == 0 and a.ntraj > bs
    before = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=a.ntraj - bs, **kw)
    assert _rel(before) > 0.03
    b = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=100000, target_rel_stderr=0.03,
                   batch_size=1024, n_jobs=2, backend="threading", **kw)
    assert b.ntraj == a.ntraj and np.array_equal(a.expect, b.expect)


def test_relative_target_for_protocol_and_collisions():
    L = random_lindblad(d=3, n_channels=2, seed=1)
    P = Protocol([(0.4, L), (0.3, random_lindblad(d=3, n_channels=2, seed=2))])
    for heat in ("expected", "transition"):    # transition: these baths' heat is undefined
        r = P.simulate(2, state0=op.basis(3, 0), seed=1, progress=False, heat=heat,
                       target_rel_stderr=0.1, ntraj=100000)
        assert r.meta["target_reached"] is True and r.ntraj < 100000
        q = np.append(r["heat_per_cycle"], r["work_per_cycle"])
        qs = np.append(r["heat_per_cycle_stderr"], r["work_per_cycle_stderr"])
        assert np.isnan(q).sum() == (2 if heat == "transition" else 0)
        assert np.nanmax(qs / np.abs(q)) <= 0.1
    cm = qt.CollisionModel(L, np.diag([0.6, 0.4]), np.eye(6), 1.0)
    c = cm.simulate(op.basis(3, 0), TIMES, seed=1, progress=False, timeout=30,
                    target_stderr=0.05)
    assert c.meta["target_reached"] is True and np.max(c.stderr.real) <= 0.05


def test_every_solver_writes_result_npz(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    runs = {
        "mcsolve": lambda out: qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=40, progress=False,
                                          out=out),
        "collisions": lambda out: qt.CollisionModel(L, np.diag([0.6, 0.4]), np.eye(6), 1.0)
        .simulate(op.basis(3, 0), TIMES, ntraj=40, progress=False, out=out),
        "protocol": lambda out: Protocol([(0.5, L)]).simulate(2, 40, progress=False, out=out),
    }
    for name, f in runs.items():
        res = f(tmp_path / name)
        back = qt.load(tmp_path / name)
        assert back.ntraj == res.ntraj == 40 and back.keys() == res.keys(), name


def test_run_contract(tmp_path):
    from test_resume_safety import _Job
    with pytest.raises(TypeError, match="RunOptions"):
        run(_Job(1), dict(ntraj=3), to_result=lambda t, i: t)
    with pytest.raises(ValueError, match="target_rel_stderr"):
        run(_Job(1), RunOptions(ntraj=32, target_rel_stderr=0.1), to_result=lambda t, i: t)
    # a Moments or an (estimate, stderr) pair; all-NaN errors never stop a run
    total, info = run(_Job(1), RunOptions(ntraj=64), to_result=lambda t, i: (t, i))
    assert total["n"].tolist() == [64] and info["stop_reason"] == "ntraj"
    t, i = run(_Job(1), RunOptions(ntraj=64, target_stderr=1.0),
               target_fn=lambda tot: (np.ones(2), np.full(2, np.nan)),
               to_result=lambda t, i: (t, i))
    assert i["ntraj"] == 64 and i["target_reached"] is False
    t, i = run(_Job(1), RunOptions(ntraj=64, target_rel_stderr=0.5),
               target_fn=lambda tot: (np.array([0.0, 4.0]), np.array([0.0, 1.0])),
               to_result=lambda t, i: (t, i))
    assert i["ntraj"] == 16 and i["stop_reason"] == "target_rel_stderr"


def test_resume_continues_under_new_stopping_rules(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    kw = dict(seed=7, e_ops=EOPS, store_states=False, progress=False, ntraj=100000)
    out = tmp_path / "run"
    loose = qt.mcsolve(L, op.basis(3, 0), TIMES, target_stderr=0.03, out=out, **kw)
    tight = qt.mcsolve(L, op.basis(3, 0), TIMES, target_stderr=0.02, out=out, resume=True,
                       **kw)
    ref = qt.mcsolve(L, op.basis(3, 0), TIMES, target_stderr=0.02, **kw)
    assert loose.ntraj < tight.ntraj == ref.ntraj
    assert np.array_equal(tight.expect, ref.expect)
    assert np.array_equal(qt.load(out).expect, ref.expect)


def test_resume_refuses_to_extend_a_partial_last_block(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    kw = dict(seed=7, e_ops=EOPS, progress=False, out=tmp_path)
    qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=100, **kw)       # one partial block
    with pytest.raises(ValueError, match="partial block"):
        qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=300, resume=True, **kw)
    with pytest.raises(ValueError, match="already holds 100"):
        qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=50, resume=True, **kw)
    same = qt.mcsolve(L, op.basis(3, 0), TIMES, ntraj=100, resume=True, **kw)
    assert same.meta["resumed"] is True and same.ntraj == 100
