"""Safe resume: a checkpoint is continued only by the run it belongs to.

`fingerprint` hashes every array by dtype, shape and bytes (however large), containers
recursively, scalars by exact value, and refuses what it cannot hash by value; every solver
refuses a checkpoint of a model that differs in one interior entry of a large array.
"""

from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import scipy.linalg as sla

import qtraj as qt
from qtraj import operators as op
from qtraj.ensemble import RunOptions, fingerprint, run
from qtraj.protocols import Protocol
from conftest import random_lindblad


@dataclass
class _Job:
    payload: Any
    block_size: int = 16
    _derived: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self._cache = object()          # derived, not declared: never hashed

    def run_block(self, start, stop):
        return {"n": np.array([stop - start])}


Pair = namedtuple("Pair", "a b")
Other = namedtuple("Other", "a c")


def _big(i=None, eps=1e-300):
    x = np.zeros(5000)
    if i is not None:
        x[i] += eps
    return x


def test_fingerprint_sees_every_entry_of_large_arrays_in_containers():
    fp = lambda payload: fingerprint(_Job(payload))          # noqa: E731
    base = fp((_big(), [_big()], {"k": _big()}, Pair(_big(), 1.0)))
    assert base == fp((_big(), [_big()], {"k": _big()}, Pair(_big(), 1.0)))
    # one interior entry, anywhere in the nesting (numpy's repr would hide all of these)
    assert base != fp((_big(2500), [_big()], {"k": _big()}, Pair(_big(), 1.0)))
    assert base != fp((_big(), [_big(2500)], {"k": _big()}, Pair(_big(), 1.0)))
    assert base != fp((_big(), [_big()], {"k": _big(2500)}, Pair(_big(), 1.0)))
    assert base != fp((_big(), [_big()], {"k": _big()}, Pair(_big(2500), 1.0)))
    # dtype and shape count, not only bytes
    assert fp(np.zeros(4)) != fp(np.zeros(4, np.int64))
    assert fp(np.zeros(4)) != fp(np.zeros((2, 2)))
    # non-contiguous arrays hash their values
    a = np.arange(20.0).reshape(4, 5)
    assert fp(a[:, 1]) == fp(a[:, 1].copy())


def test_fingerprint_scalars_names_and_structure():
    fp = lambda payload: fingerprint(_Job(payload))          # noqa: E731
    assert fp(0.1) != fp(np.nextafter(0.1, 1.0))              # exact float value
    assert fp(True) != fp(1) and fp(1) != fp(1.0) and fp(None) != fp(0)
    assert fp("ab") != fp(("a", "b")) and fp([1, 2]) != fp((1, 2))
    assert fp(1 + 2j) != fp(1 - 2j)
    assert fp(Pair(1, 2)) != fp(Other(1, 2)) != fp((1, 2))   # named tuples: field names count
    assert fp({"a": 1, "b": 2}) == fp({"b": 2, "a": 1})       # dict order is not identity
    assert fp({"a": 1}) != fp({"a": 2}) != fp({"b": 1})
    assert fingerprint(_Job(1, block_size=16)) != fingerprint(_Job(1, block_size=32))
    # only declared dataclass fields: the derived attribute set in __post_init__ is ignored
    j = _Job(1)
    j._cache = object()
    assert fingerprint(j) == fp(1)
    # nested dataclasses by their declared fields
    assert fp(_Job(_big())) != fp(_Job(_big(2500)))


class _Opaque:
    pass


@pytest.mark.parametrize("payload, where", [
    (_Opaque(), "job.payload"),
    ((np.zeros(3), [1, _Opaque()]), r"job.payload\[1\]\[1\]"),
    (Pair(np.zeros(2), lambda x: x), "job.payload.b"),
    ({"k": _Opaque()}, r"job.payload\['k'\]"),
    (np.array([1, _Opaque()], dtype=object), r"job.payload.flat\[1\]"),
])
def test_fingerprint_refuses_what_it_cannot_hash(payload, where):
    with pytest.raises(TypeError, match=f"cannot hash {where}"):
        fingerprint(_Job(payload))


def test_run_refuses_a_job_with_an_unhashable_object(tmp_path):
    with pytest.raises(TypeError, match="cannot hash job.payload"):
        run(_Job(_Opaque()), RunOptions(ntraj=32, out=tmp_path),
            to_result=lambda total, info: total)
    with pytest.raises(TypeError, match="dataclass"):
        fingerprint(object())


# --------------------------------------------------------------------------- every solver
def _refuses(first, second, tmp_path):
    """`first` checkpoints into DIR; `second` (a different model) must refuse it; `first`
    resumes its own finished run with the same numbers."""
    out = tmp_path / "run"
    a = first(out=out)
    assert (out / "checkpoint.npz").exists() and (out / "result.npz").exists()
    with pytest.raises(ValueError, match="belongs to a different run"):
        second(out=out, resume=True)
    again = first(out=out, resume=True)
    assert again.ntraj == a.ntraj
    for k in a.keys():
        assert np.array_equal(again[k], a[k], equal_nan=True), k


def test_mcsolve_refuses_checkpoint_of_a_model_differing_in_one_interior_entry(tmp_path):
    d = 40
    L1 = random_lindblad(d=d, n_channels=1, seed=4)
    H2 = L1.H.copy()
    H2[17, 23] += 1e-9
    H2[23, 17] += 1e-9
    L2 = qt.Lindblad(H2, L1.channels)
    kw = dict(ntraj=8, seed=1, e_ops=[op.basis(d, 0)[:, None] * op.basis(d, 0)[None, :]],
              store_states=False, progress=False)
    psi = op.basis(d, 0)
    _refuses(lambda **o: qt.mcsolve(L1, psi, [0.0, 0.05], **kw, **o),
             lambda **o: qt.mcsolve(L2, psi, [0.0, 0.05], **kw, **o), tmp_path)


def _collision_pair(d):
    """Two CollisionModels whose unitaries differ only in interior rows d-1 and d (of 2d)."""
    L = random_lindblad(d=d, n_channels=1, seed=3)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(2 * d, 2 * d)) + 1j * rng.normal(size=(2 * d, 2 * d))
    U1 = sla.expm(-0.3j * (A + A.conj().T))
    c, s = np.cos(0.01), np.sin(0.01)
    R = np.eye(2 * d, dtype=complex)
    R[np.ix_([d - 1, d], [d - 1, d])] = [[c, -s], [s, c]]
    U2 = R @ U1
    assert set(np.nonzero(np.abs(U1 - U2).max(axis=1) > 0)[0]) == {d - 1, d}
    rho_a = np.diag([0.7, 0.3])
    return (qt.CollisionModel(L, rho_a, U1, 1.0, ancilla_hamiltonian=np.diag([0.0, 1.0])),
            qt.CollisionModel(L, rho_a, U2, 1.0, ancilla_hamiltonian=np.diag([0.0, 1.0])))


@pytest.mark.parametrize("method, d", [("pure", 16), ("density", 12)])   # density: d^2 = 144
def test_collision_model_refuses_checkpoint_of_a_different_unitary(method, d, tmp_path):
    cm1, cm2 = _collision_pair(d)
    psi = op.basis(d, 0)
    kw = dict(ntraj=8, seed=2, method=method, progress=False)
    _refuses(lambda **o: cm1.simulate(psi, [0.0, 0.5], **kw, **o),
             lambda **o: cm2.simulate(psi, [0.0, 0.5], **kw, **o), tmp_path)


def test_protocol_refuses_checkpoint_of_a_different_segment_hamiltonian(tmp_path):
    d = 16
    A = random_lindblad(d=d, n_channels=1, seed=5)
    B = random_lindblad(d=d, n_channels=1, seed=6)
    H2 = B.H.copy()
    H2[7, 9] += 1e-9
    H2[9, 7] += 1e-9
    B2 = qt.Lindblad(H2, B.channels)
    P1 = Protocol([(0.05, A), (0.05, B)])
    P2 = Protocol([(0.05, A), (0.05, B2)])
    psi = op.basis(d, 0)
    kw = dict(ntraj=8, state0=psi, seed=3, progress=False, store_states=False)
    _refuses(lambda **o: P1.simulate(1, **kw, **o), lambda **o: P2.simulate(1, **kw, **o),
             tmp_path)


def test_a_different_seed_or_option_is_refused_too(tmp_path):
    L = random_lindblad(d=3, n_channels=2, seed=1)
    kw = dict(ntraj=64, e_ops=[np.diag([1.0, 0, 0])], progress=False, out=tmp_path)
    qt.mcsolve(L, op.basis(3, 0), [0, 0.5], seed=1, **kw)
    for change in (dict(seed=2), dict(heat="expected"), dict(store_states=True)):
        with pytest.raises(ValueError, match="different run"):
            qt.mcsolve(L, op.basis(3, 0), [0, 0.5], resume=True, **dict(dict(seed=1), **change),
                       **kw)
    with pytest.raises(ValueError, match="different run"):
        qt.mcsolve(L, op.basis(3, 0), [0, 0.6], seed=1, resume=True, **kw)


def test_machine_refuses_checkpoint_of_a_machine_with_another_atom_state(tmp_path):
    from qtraj.models.machine import FIG2, Machine, atom_state
    m1 = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75, 0.2))
    m2 = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75, 0.2 + 1e-12))
    kw = dict(n_collisions=4000, ntraj=4, burn_in=10, seed=5)
    _refuses(lambda **o: m1.simulate(**kw, **o), lambda **o: m2.simulate(**kw, **o), tmp_path)
