"""Property-based input validation: malformed states, operators and parameters give a clear
ValueError/TypeError, never a crash, a hang or NaN results."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import qtraj as qt
from qtraj import operators as op

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
anyfloat = st.floats(allow_nan=True, allow_infinity=True)
entries = st.one_of(st.complex_numbers(max_magnitude=3),
                    st.sampled_from([complex("nan"), complex("inf"), complex(0, -np.inf)]))


def _model(d=2):
    return qt.Lindblad(0.5 * np.diag(np.arange(d, dtype=float)),
                       [qt.Channel(np.eye(d, k=1), 0.7, "b"), qt.Channel(np.eye(d, k=-1), 0.2, "b")])


@FAST
@given(arrays(np.complex128, st.tuples(st.integers(1, 4), st.integers(1, 4)),
              elements=entries))
def test_random_matrices_as_states_are_accepted_only_if_valid(a):
    L = _model(2)
    try:
        out = qt.mesolve(L, a, [0.0, 0.3])
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    # accepted: must really be a 2x2 density matrix, and the output is finite and physical
    assert a.shape == (2, 2)
    assert np.allclose(a, a.conj().T, atol=1e-7) and abs(np.trace(a) - 1) < 1e-7
    assert np.all(np.isfinite(out)) and np.allclose(np.trace(out, axis1=1, axis2=2), 1)


@FAST
@given(st.one_of(anyfloat, st.integers(-3, 3), st.text(max_size=3), st.none()))
def test_rates_are_validated(rate):
    try:
        ch = qt.Channel(op.sigma_minus(), rate)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert np.isfinite(ch.rate) and ch.rate >= 0


@FAST
@given(st.integers(1, 3), st.integers(1, 3), anyfloat)
def test_operator_shapes_and_values(d1, d2, x):
    H = np.full((d1, d1), x)
    try:
        L = qt.Lindblad(H, [qt.Channel(np.ones((d2, d2)), 1.0)])
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert d1 == d2 and np.isfinite(x)
    try:
        rho = qt.steady_state(L)
    except qt.NonUniqueSteadyState as exc:   # a ValueError saying how many there are
        assert exc.n_states >= 2
        rho = qt.steady_state(L, rho0=np.eye(d1) / d1)
    assert np.all(np.isfinite(rho)) and abs(np.trace(rho) - 1) < 1e-9


@FAST
@given(st.lists(finite, min_size=4, max_size=4), st.floats(0, 3), st.integers(1, 40),
       st.integers(0, 2**31))
def test_valid_random_models_never_give_nan(hv, rate, ntraj, seed):
    H = np.array([[hv[0], hv[1] + 1j * hv[2]], [hv[1] - 1j * hv[2], hv[3]]])
    L = qt.Lindblad(H, [qt.Channel(op.sigma_minus(), rate), qt.Channel(op.sigma_z(), 0.3)])
    try:
        res = qt.mcsolve(L, op.basis(2, 1), [0, 0.5, 1.0], ntraj, seed=seed, progress=False)
    except ValueError as exc:        # exceptional points are refused, with a clear message
        assert "defective" in str(exc)
        return
    assert np.all(np.isfinite(res.mean))
    assert np.allclose(np.trace(res.mean, axis1=1, axis2=2), 1)
    if ntraj > 1:
        assert np.all(np.isfinite(res.stderr))


@FAST
@given(st.one_of(st.integers(-5, 0), st.floats(-1, 1e9), st.text(max_size=2), st.none()),
       st.one_of(st.integers(-3, 3), st.text(max_size=2)))
def test_run_parameters_are_validated(ntraj, seed):
    try:
        res = qt.mcsolve(_model(2), op.basis(2, 1), [0, 0.1], ntraj, seed=seed, progress=False,
                         timeout=0.2)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert res.ntraj >= 1 and np.all(np.isfinite(res.mean))


@FAST
@given(arrays(np.complex128, st.tuples(st.integers(1, 5), st.integers(1, 5)),
              elements=entries),
       st.one_of(st.floats(-1, 3), st.just(float("nan"))))
def test_collision_model_inputs(anc, rate):
    U = np.eye(4, dtype=complex)
    try:
        cm = qt.CollisionModel(_model(2), anc, U, rate)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert anc.shape == (2, 2) and rate > 0
    assert np.all(np.isfinite(cm.steady_state(rho0=op.basis(2, 0))))
