"""QuTiP objects accepted everywhere (duck-typed, no qutip dependency) and Lindblad.from_qutip."""

import numpy as np
import pytest

import qtraj as qt
from helpers import assert_consistent
from qtraj import operators as op


class FakeQobj:
    """What qtraj relies on: a `full()` returning the dense matrix (as qutip.Qobj does)."""

    def __init__(self, a):
        self._a = np.asarray(a, dtype=complex)

    def full(self):
        return self._a.copy()


def test_objects_with_full_are_accepted_everywhere():
    H, sm = FakeQobj(0.5 * op.sigma_z()), FakeQobj(op.sigma_minus())
    L = qt.Lindblad(H, [qt.Channel(sm, 0.5)])
    assert L == qt.Lindblad(0.5 * op.sigma_z(), [qt.Channel(op.sigma_minus(), 0.5)])
    ket = FakeQobj(op.basis(2, 1)[:, None])                       # qutip kets are (d, 1)
    rho = qt.mesolve(L, ket, [0.0, 1.0])
    assert np.allclose(rho, qt.mesolve(L, op.basis(2, 1), [0.0, 1.0]))
    res = qt.mcsolve(L, ket, [0.0, 1.0], 64, seed=1, e_ops=[FakeQobj(op.number_op())],
                     progress=False)
    ref = qt.mcsolve(L, op.basis(2, 1), [0.0, 1.0], 64, seed=1, e_ops=[op.number_op()],
                     progress=False)
    assert np.array_equal(res.expect, ref.expect)
    one = qt.mcsolve(L, ket, [0.0, 1.0], 64, seed=1, e_ops=FakeQobj(op.number_op()),
                     progress=False)                                   # a single e_op
    assert np.array_equal(one.expect, ref.expect)
    cm = qt.CollisionModel(L, FakeQobj(np.eye(2) / 2), FakeQobj(np.eye(4)), 1.0)
    assert np.allclose(cm.steady_state(rho0=op.basis(2, 0)), qt.steady_state(L))
    with pytest.raises(ValueError, match="c_ops\\[1\\]"):
        qt.Lindblad.from_qutip(H, [sm, FakeQobj(np.eye(3))])


def test_from_qutip_folds_the_rates_into_the_operators():
    a = np.diag(np.sqrt(np.arange(1, 5)), 1)
    L = qt.Lindblad.from_qutip(a.T @ a, [np.sqrt(0.3) * a, np.sqrt(0.1) * a.T])
    ref = qt.Lindblad(a.T @ a, [qt.Channel(a, 0.3, bath="bath"), qt.Channel(a.T, 0.1)])
    assert np.allclose(L.liouvillian(), ref.liouvillian(), atol=1e-14)


def test_a_qutip_users_damped_cavity_matches_qutip_mesolve():
    qutip = pytest.importorskip("qutip")
    N, kappa, delta, F = 8, 0.6, 0.4, 0.3
    a = qutip.destroy(N)
    H = delta * a.dag() * a + F * (a + a.dag())
    c_ops = [np.sqrt(kappa) * a]
    psi0 = qutip.basis(N, 0)
    times = np.linspace(0.0, 6.0, 7)
    ref = qutip.mesolve(H, psi0, times, c_ops, e_ops=[a.dag() * a],
                        options={"atol": 1e-12, "rtol": 1e-10}).expect[0]
    L = qt.Lindblad.from_qutip(H, c_ops)
    exact = qt.mesolve(L, psi0, times)
    n_exact = np.einsum("tii,i->t", exact, np.arange(N)).real
    assert np.allclose(n_exact, ref, atol=1e-8)
    res = qt.mcsolve(L, psi0, times, 2000, seed=3, e_ops=[a.dag() * a], store_states=False,
                     progress=False)
    assert_consistent(res.expect[0], res.expect_stderr[0], ref, name="<a^dag a>(t)")
