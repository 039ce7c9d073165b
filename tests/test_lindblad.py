import numpy as np
import pytest

import qtraj as qt
from qtraj import operators as op
from qtraj.lindblad import dissipator, unvec, vec
from helpers import random_lindblad


def test_liouvillian_column_stacking_matches_rhs():
    L = random_lindblad(d=3, n_channels=2, seed=3)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    assert np.allclose(unvec(L.liouvillian() @ vec(X)), L.rhs(X), atol=1e-12)
    assert np.allclose(L.liouvillian(sparse=True).toarray(), L.liouvillian(), atol=1e-14)
    # column stacking: vec(A X B) = (B^T kron A) vec(X)
    A, B = rng.normal(size=(2, 3, 3))
    assert np.allclose(vec(A @ X @ B), np.kron(B.T, A) @ vec(X))


def test_trace_preserving_and_dissipator():
    L = random_lindblad()
    # trace preservation: vec(1)^dagger L = 0
    assert np.allclose(vec(np.eye(4)).conj() @ L.liouvillian(), 0, atol=1e-12)
    sm = op.sigma_minus()
    rho = np.array([[0.3, 0.2], [0.2, 0.7]], dtype=complex)
    assert np.allclose(dissipator(sm, rho), [[0.7, -0.1], [-0.1, -0.7]])


def test_heat_currents_per_bath():
    sm = op.sigma_minus()
    H = 0.5 * op.sigma_z()
    L = qt.Lindblad(H, [qt.Channel(sm, 1.0, "hot"), qt.Channel(sm.T, 0.5, "hot"),
                        qt.Channel(sm, 0.2, "cold")])
    rho = np.diag([0.6, 0.4]).astype(complex)
    J = qt.heat_currents(L, rho)
    # d<H>/dt from hot: -rate_down p_e + rate_up p_g (energy gap 1)
    assert J["hot"] == pytest.approx(-1.0 * 0.4 + 0.5 * 0.6)
    assert J["cold"] == pytest.approx(-0.2 * 0.4)
    assert L.channel_energies().tolist() == pytest.approx([-1.0, 1.0, -1.0])


@pytest.mark.parametrize("bad, msg", [
    (lambda: qt.Lindblad(np.ones((2, 3)), []), "square"),
    (lambda: qt.Lindblad(np.array([[0, 1], [0, 0]]), []), "Hermitian"),
    (lambda: qt.Lindblad(np.eye(2), [qt.Channel(np.eye(3), 1.0)]), "shape"),
    (lambda: qt.Channel(np.eye(2), -1.0), "non-negative"),
    (lambda: qt.Channel(np.eye(2), float("nan")), "finite"),
    (lambda: qt.Lindblad(np.eye(2), [np.eye(2)]), "Channel"),
    (lambda: qt.Lindblad(np.full((2, 2), np.nan), []), "NaN"),
])
def test_bad_models_raise(bad, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        bad()


def test_model_sum_and_baths():
    a = random_lindblad(seed=1)
    b = random_lindblad(seed=2)
    c = a + b
    assert len(c.channels) == 6 and c.baths == ["b0", "b1"]
    assert np.allclose(c.liouvillian(), a.liouvillian() + b.liouvillian())


def test_value_equality_and_no_hash():
    from qtraj.protocols import Segment
    a, b = random_lindblad(seed=1), random_lindblad(seed=1)
    assert a is not b and a == b and not (a != b)
    assert a.channels[0] == b.channels[0] and a.channels[0] in b.channels
    assert a != random_lindblad(seed=2) and a != "a model"
    assert a != qt.Lindblad(a.H, a.channels[:-1])                     # one channel fewer
    assert a != qt.Lindblad(a.H, a.channels[::-1])                    # order matters
    assert a != qt.Lindblad(a.H + 1e-12 * np.eye(a.dim), a.channels)   # exact, not approximate
    assert qt.Lindblad(np.zeros((2, 2))) != qt.Lindblad(np.zeros((3, 3)))
    ch = a.channels[0]
    for other in (qt.Channel(ch.op, ch.rate + 0.1, ch.bath), qt.Channel(ch.op, ch.rate, "x"),
                  qt.Channel(ch.op, ch.rate, ch.bath, energy=1.0),
                  qt.Channel(ch.op, ch.rate, ch.bath, name="n"),
                  qt.Channel(ch.op.T, ch.rate, ch.bath)):
        assert other != ch
    assert qt.Channel(ch.op.copy(), ch.rate, ch.bath) == ch
    # a protocol segment compares its model by value too
    assert Segment(1.0, a, "s") == Segment(1.0, b, "s") != Segment(1.0, a, "t")
    for obj in (a, ch, Segment(1.0, a)):                 # hold mutable arrays: not hashable
        with pytest.raises(TypeError, match="unhashable"):
            hash(obj)
