"""Exact two-time correlations and spectra (qtraj.propagate, qtraj.correlations):
closed forms (damped oscillator, resonance fluorescence), an independent eigen-expansion,
degenerate steady states, bad input, and QuTiP 5's functions on the same models."""

import doctest

import numpy as np
import pytest

import qtraj as qt
from qtraj import correlations, deterministic
from qtraj import operators as op

from helpers import random_lindblad, random_state, two_atom_model


def cavity(d=30, w=1.5, down=1.0, up=0.25):
    """Damped mode at frequency w: kappa = down - up, thermal occupation up / kappa."""
    a = op.destroy(d)
    return qt.Lindblad(w * a.conj().T @ a, [qt.Channel(a, down), qt.Channel(a.conj().T, up)]), a


def fluorescence(omega=1.3, gamma=1.0):
    """Resonantly driven two-level atom: H = (Omega/2) sigma_x, decay gamma."""
    return qt.Lindblad(0.5 * omega * op.sigma_x(), [qt.Channel(op.sigma_minus(), gamma)])


# --------------------------------------------------------------------------- propagate
@pytest.mark.parametrize("d", [4, pytest.param(21, marks=pytest.mark.slow)])   # dense, sparse
def test_propagate_is_the_exponential_of_the_liouvillian(d):
    L = random_lindblad(d, 3, seed=d) if d < 10 else cavity(d, up=0.5)[0]
    rng = np.random.default_rng(d)
    X = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))    # not Hermitian, any trace
    t = np.array([0.0, 0.3, 0.3, 1.1])
    Y = qt.propagate(L, X, t)
    lam, V = np.linalg.eig(L.liouvillian())             # independent: eigen-expansion
    c = np.linalg.solve(V, qt.vec(X))
    for ti, Yi in zip(t, Y):
        np.testing.assert_allclose(qt.vec(Yi), V @ (np.exp(lam * ti) * c), atol=1e-10)


def test_propagate_is_linear_and_agrees_with_mesolve_on_states():
    L = random_lindblad(4, 3, seed=1)
    rho = random_state(4, 2)
    X, Y = random_state(4, 3) @ np.diag([1, 2j, 3, 4]), np.triu(np.ones((4, 4)))
    t = np.linspace(0, 2, 5)
    np.testing.assert_allclose(qt.propagate(L, 2 * X - 1j * Y, t),
                               2 * qt.propagate(L, X, t) - 1j * qt.propagate(L, Y, t),
                               atol=1e-12)
    np.testing.assert_allclose(qt.propagate(L, rho, t), qt.mesolve(L, rho, t), atol=1e-12)
    with pytest.raises(ValueError, match="not Hermitian"):
        qt.mesolve(L, np.outer(op.basis(4, 0), op.basis(4, 1)), t)   # mesolve keeps validating


def test_propagate_long_time_limit_is_the_kernel_projection():
    L = random_lindblad(4, 3, seed=5)
    X = np.arange(16.0).reshape(4, 4) + 1j
    P = qt.propagate(L, X, [np.inf])[0]
    np.testing.assert_allclose(P, np.trace(X) * qt.steady_state(L), atol=1e-10)
    two = two_atom_model(0.7)                  # degenerate kernel: the limit depends on X
    rho0 = random_state(4, 9)
    np.testing.assert_allclose(qt.propagate(two, rho0, [0.0, np.inf])[1],
                               qt.steady_state(two, rho0), atol=1e-10)


@pytest.mark.parametrize("times, match", [([-1.0, 0.0], "times"), ([1.0, 0.5], "times"),
                                          ([], "times"), ([np.nan], "times")])
def test_propagate_rejects_bad_times(times, match):
    with pytest.raises(ValueError, match=match):
        qt.propagate(random_lindblad(3, 1), np.eye(3), times)


def test_propagate_rejects_bad_operator_and_model():
    with pytest.raises(ValueError, match="X"):
        qt.propagate(random_lindblad(3, 1), np.eye(4), [0.0])
    with pytest.raises(TypeError, match="Lindblad"):
        qt.propagate(object(), np.eye(3), [0.0])


# --------------------------------------------------------------------------- closed forms
def test_damped_oscillator_correlations():
    L, a = cavity()
    ad = a.conj().T
    w, kappa, n = 1.5, 0.75, 1 / 3
    tau = np.linspace(0, 4, 9)
    decay = np.exp(-kappa * tau / 2)
    np.testing.assert_allclose(qt.correlation_2op_1t(L, None, tau, ad, a),
                               n * np.exp(1j * w * tau) * decay, atol=1e-10)
    np.testing.assert_allclose(qt.correlation_2op_1t(L, None, tau, a, ad),
                               (n + 1) * np.exp(-1j * w * tau) * decay, atol=1e-10)
    np.testing.assert_allclose(qt.correlation_2op_1t(L, None, tau, ad, a, reverse=True),
                               n * np.exp(-1j * w * tau) * decay, atol=1e-10)
    g1, G1 = qt.coherence_function_g1(L, None, tau, a)
    np.testing.assert_allclose(g1, np.exp(1j * w * tau) * decay, atol=1e-10)
    g2, G2 = qt.coherence_function_g2(L, None, tau, a)      # chaotic light: 1 + |g1|^2
    np.testing.assert_allclose(g2, 1 + decay ** 2, atol=1e-10)
    np.testing.assert_allclose(G2, n ** 2 * (1 + decay ** 2), atol=1e-10)


def test_damped_oscillator_from_a_fock_state():
    """Non-stationary: from |1>, <a^dag(t + tau) a(t)> = e^{-kappa t} e^{(i w - kappa/2) tau}
    at zero temperature; g2 of a single photon is 0 at tau = 0."""
    L, a = cavity(d=6, up=0.0)
    ad = a.conj().T
    t, tau = np.array([0.0, 0.7]), np.linspace(0, 3, 7)
    c = qt.correlation_2op_2t(L, op.basis(6, 1), t, tau, ad, a)
    np.testing.assert_allclose(c, np.exp(-t)[:, None] * np.exp((1.5j - 0.5) * tau)[None, :],
                               atol=1e-12)
    c3 = qt.correlation_3op_2t(L, op.basis(6, 1), t, tau, None, ad @ a, None)
    np.testing.assert_allclose(c3, np.exp(-(t[:, None] + tau[None, :])), atol=1e-12)
    g2, G2 = qt.coherence_function_g2(L, op.basis(6, 2), [0.0], a)
    np.testing.assert_allclose(g2, [0.5], atol=1e-12)       # Fock |n>: 1 - 1/n


def bloch(omega, gamma):
    """Homogeneous Bloch matrix for (sigma+, sigma-, sigma_z) and the steady state."""
    M = np.array([[-gamma / 2, 0, -0.5j * omega], [0, -gamma / 2, 0.5j * omega],
                  [-1j * omega, 1j * omega, -gamma]])
    ss = np.linalg.solve(M, [0, 0, gamma])
    return M, ss


def test_resonance_fluorescence_g2_closed_form():
    omega, gamma = 1.3, 1.0
    L = fluorescence(omega, gamma)
    tau = np.linspace(0, 8, 33)
    mu = np.sqrt(complex(gamma ** 2 / 16 - omega ** 2))
    exact = 1 - np.exp(-3 * gamma * tau / 4) * (np.cosh(mu * tau)
                                                 + 3 * gamma / (4 * mu) * np.sinh(mu * tau))
    g2, _ = qt.coherence_function_g2(L, None, tau, op.sigma_minus())
    np.testing.assert_allclose(g2, exact.real, atol=1e-12)
    M, (sp_, sm_, sz) = bloch(omega, gamma)
    np.testing.assert_allclose(sm_, -1j * omega * gamma / (gamma ** 2 + 2 * omega ** 2))


@pytest.mark.parametrize("omega", [1.3, 10.0])          # 10: the Mollow triplet
def test_resonance_fluorescence_spectrum_closed_form(omega):
    gamma = 1.0
    L = fluorescence(omega, gamma)
    M, (sp_, sm_, sz) = bloch(omega, gamma)
    pe = (1 + sz.real) / 2
    # fluctuations <d sigma_i(tau) sigma-(0)> evolve with M; initial values from sigma algebra
    x0 = np.array([pe - sp_ * sm_, -sm_ * sm_, -sm_ - sz * sm_])
    w = np.linspace(-15, 15, 61)
    exact = np.array([2 * np.linalg.solve(1j * wi * np.eye(3) - M, x0)[0].real for wi in w])
    S = qt.spectrum(L, w, op.sigma_plus(), op.sigma_minus())
    np.testing.assert_allclose(S.incoherent, exact, atol=1e-12)
    np.testing.assert_allclose(S.coherent, abs(sm_) ** 2, atol=1e-14)
    if omega == 10.0:          # three peaks, at 0 and near +-Omega, side peaks 1/3 as high
        fine = np.linspace(-12, 12, 2401)
        s = qt.spectrum(L, fine, op.sigma_plus(), op.sigma_minus()).incoherent
        peaks = fine[1:-1][(s[1:-1] > s[:-2]) & (s[1:-1] > s[2:])]
        np.testing.assert_allclose(peaks, [-omega, 0.0, omega], atol=0.05)
        ratio = s[np.argmin(abs(fine - omega))] / s[np.argmin(abs(fine))]
        assert abs(ratio - 1 / 3) < 0.02


@pytest.mark.parametrize("path", ["schur", "dense_lu", "sparse_lu"])
def test_the_three_resolvent_solvers_agree(path, monkeypatch):
    """Schur form (small spaces), dense bordered LU (its fallback) and sparse bordered LU
    (large spaces) give the eigen-expansion's spectrum, also for a degenerate kernel."""
    if path == "dense_lu":
        monkeypatch.setattr(correlations, "_schur_spectrum", lambda *a: None)
    if path == "sparse_lu":
        monkeypatch.setattr(correlations, "DENSE_SOLVE_LIMIT", 0)
    w = np.linspace(-4, 4, 9)
    L = random_lindblad(4, 3, seed=11)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    S_ref, W_ref = eigen_spectrum(L, qt.steady_state(L), A, A.conj().T, w)
    S = qt.spectrum(L, w, A, A.conj().T)
    np.testing.assert_allclose(S.incoherent, S_ref, atol=1e-10)
    np.testing.assert_allclose(S.coherent, W_ref, atol=1e-10)
    two, rho0 = two_atom_model(0.5), random_state(4, 1)
    Jm = op.collective(op.sigma_minus(), 2)
    N = Jm.conj().T @ Jm          # N rho_ss lies in the sector of the two-dimensional kernel
    rho_ss = qt.steady_state(two, rho0)
    S_ref, W_ref = eigen_spectrum(two, rho_ss, N, N, w)
    S = qt.spectrum(two, w, N, N, state0=rho0)
    np.testing.assert_allclose(S.incoherent, S_ref, atol=1e-10)
    np.testing.assert_allclose(S.coherent, W_ref, atol=1e-10)
    mean = np.trace(N @ rho_ss).real
    assert abs(W_ref - mean ** 2) > 1e-3          # not |<N>|^2: the kernel is degenerate


def test_spectrum_of_a_damped_cavity():
    """d = 30: a Lorentzian at +w0 (the U(1) symmetry leaves a small sector to solve)."""
    L, a = cavity(d=30, w=2.0, up=0.2)
    n, k = 0.25, 0.8
    w = np.linspace(-1, 5, 25)
    S = qt.spectrum(L, w, a.conj().T, a)
    np.testing.assert_allclose(S.incoherent, n * k / (k ** 2 / 4 + (w - 2.0) ** 2), atol=1e-12)
    assert abs(S.coherent) < 1e-14


@pytest.mark.slow
def test_coherent_drive_has_a_coherent_spectrum():
    """Driven damped cavity: a coherent state, g2 = 1, all power in the delta peak."""
    d, delta, E, kappa = 10, 0.4, 0.25, 1.0
    a = op.destroy(d)
    L = qt.Lindblad(delta * a.conj().T @ a + E * (a + a.conj().T), [qt.Channel(a, kappa)])
    alpha = -1j * E / (kappa / 2 + 1j * delta)
    g2, _ = qt.coherence_function_g2(L, None, [0.0, 1.0], a)
    np.testing.assert_allclose(g2, 1.0, atol=1e-9)
    S = qt.spectrum(L, np.linspace(-2, 2, 9), a.conj().T, a)
    np.testing.assert_allclose(S.coherent, abs(alpha) ** 2, atol=1e-9)
    np.testing.assert_allclose(S.incoherent, 0.0, atol=1e-9)


# --------------------------------------------------------------------------- eigen expansion
def eigen_spectrum(L, rho, A, B, w):
    """Independent reference: <A(tau)B(0)> = sum_j c_j e^{lam_j tau} by diagonalising L."""
    lam, V = np.linalg.eig(L.liouvillian())
    c = (qt.vec(A.T) @ V) * np.linalg.solve(V, qt.vec(B @ rho))
    zero = np.abs(lam) < 1e-9
    S = np.array([2 * np.sum(c[~zero] / (1j * wi - lam[~zero])).real for wi in w])
    return S, np.sum(c[zero])


def test_spectrum_matches_the_eigen_expansion_for_any_operators():
    L = random_lindblad(4, 3, seed=11)
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    B = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    w = np.linspace(-4, 4, 17)
    S_ref, W_ref = eigen_spectrum(L, qt.steady_state(L), A, B, w)
    S = qt.spectrum(L, w, A, B)
    np.testing.assert_allclose(S.incoherent, S_ref, atol=1e-10)
    np.testing.assert_allclose(S.coherent, W_ref, atol=1e-10)


def test_degenerate_steady_state_follows_steady_state_rules():
    L = two_atom_model(0.5)
    Jm = op.collective(op.sigma_minus(), 2)
    with pytest.raises(qt.NonUniqueSteadyState):
        qt.spectrum(L, [0.0], Jm.conj().T, Jm)
    with pytest.raises(qt.NonUniqueSteadyState):
        qt.coherence_function_g2(L, None, [0.0], Jm)
    rho0 = random_state(4, 1)
    rho_ss = qt.steady_state(L, rho0)
    w = np.linspace(-3, 3, 13)
    S_ref, W_ref = eigen_spectrum(L, rho_ss, Jm.conj().T, Jm, w)
    S = qt.spectrum(L, w, Jm.conj().T, Jm, state0=rho0)
    np.testing.assert_allclose(S.incoherent, S_ref, atol=1e-10)
    np.testing.assert_allclose(S.coherent, W_ref, atol=1e-10)
    # the constant part is the long-delay limit of the correlation in that state
    c = qt.correlation_2op_1t(L, rho_ss, [200.0], Jm.conj().T, Jm)
    np.testing.assert_allclose(c, W_ref, atol=1e-10)


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_value_errors_naming_the_argument():
    L = fluorescence()
    sm = op.sigma_minus()
    with pytest.raises(ValueError, match="taus"):
        qt.correlation_2op_1t(L, None, [-1.0, 0.0], sm.T, sm)
    with pytest.raises(ValueError, match="b_op"):
        qt.correlation_2op_1t(L, None, [0.0], sm, np.eye(3))
    with pytest.raises(ValueError, match="state0"):
        qt.correlation_3op_1t(L, np.ones(2), [0.0], sm, sm, sm)
    with pytest.raises(ValueError, match="omegas"):
        qt.spectrum(L, [np.inf], sm.T, sm)
    with pytest.raises(ValueError, match="vanishes"):
        qt.coherence_function_g2(qt.Lindblad(np.zeros((2, 2)), [qt.Channel(sm, 1.0)]),
                                 None, [0.0], sm)


def test_docstring_examples_run():
    for mod in (correlations, deterministic):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0 and res.attempted > 0


# --------------------------------------------------------------------------- QuTiP
@pytest.fixture(scope="module")
def qutip():
    return pytest.importorskip("qutip")


def as_qutip(qutip, L):
    return qutip.Qobj(L.H), [qutip.Qobj(c.jump_operator) for c in L.channels]


def test_correlations_match_qutip(qutip):
    L = random_lindblad(4, 3, seed=3)
    H, c_ops = as_qutip(qutip, L)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    B = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    QA, QB, QC = qutip.Qobj(A), qutip.Qobj(B), qutip.Qobj(A @ B)
    rho0 = random_state(4, 5)
    taus, tl = np.linspace(0, 3, 7), [0.0, 0.5, 1.2]
    for st in (None, rho0):
        qs = None if st is None else qutip.Qobj(st)
        for rev in (False, True):
            np.testing.assert_allclose(
                qt.correlation_2op_1t(L, st, taus, A, B, reverse=rev),
                qutip.correlation_2op_1t(H, qs, taus, c_ops, QA, QB, solver="es",
                                         reverse=rev), atol=1e-8)
            np.testing.assert_allclose(
                qt.correlation_2op_2t(L, st, tl, taus, A, B, reverse=rev),
                qutip.correlation_2op_2t(H, qs, tl, taus, c_ops, QA, QB, solver="es",
                                         reverse=rev), atol=1e-8)
        np.testing.assert_allclose(
            qt.correlation_3op_1t(L, st, taus, A, B, A @ B),
            qutip.correlation_3op_1t(H, qs, taus, c_ops, QA, QB, QC, solver="es"), atol=1e-8)
        np.testing.assert_allclose(
            qt.correlation_3op_2t(L, st, tl, taus, A, B, A @ B),
            qutip.correlation_3op_2t(H, qs, tl, taus, c_ops, QA, QB, QC, solver="es"),
            atol=1e-8)
        g2, G2 = qt.coherence_function_g2(L, st, taus, A)
        q2, Q2 = qutip.coherence_function_g2(H, qs, taus, c_ops, QA, solver="es")
        np.testing.assert_allclose(g2, q2, atol=1e-8)
        np.testing.assert_allclose(G2, Q2, atol=1e-8)
        g1, G1 = qt.coherence_function_g1(L, st, taus, A)
        q1, Q1 = qutip.coherence_function_g1(H, qs, taus, c_ops, QA, solver="es")
        np.testing.assert_allclose(G1, Q1, atol=1e-8)
        if st is None:
            np.testing.assert_allclose(g1, q1, atol=1e-8)
        else:   # QuTiP 5.3.1 divides by n(0) only; qtraj by sqrt(n(0) n(tau)) as documented
            n = np.einsum("ij,tji->t", A.conj().T @ A, qt.mesolve(L, st, taus)).real
            np.testing.assert_allclose(q1, G1 / n[0], atol=1e-8)
            np.testing.assert_allclose(g1, G1 / np.sqrt(n[0] * n), atol=1e-12)


def test_spectra_match_qutip(qutip):
    """Resonance fluorescence, a random model with non-adjoint operators, and a small driven
    Jaynes-Cummings model (QuTiP's default exponential-series spectrum)."""
    w = np.linspace(-6, 6, 49)
    L = fluorescence(3.0, 1.0)
    H, c_ops = as_qutip(qutip, L)
    sp_, sm = op.sigma_plus(), op.sigma_minus()
    np.testing.assert_allclose(qt.spectrum(L, w, sp_, sm).incoherent,
                               qutip.spectrum(H, w, c_ops, qutip.Qobj(sp_), qutip.Qobj(sm)),
                               atol=1e-8)
    L = random_lindblad(4, 3, seed=3)
    H, c_ops = as_qutip(qutip, L)
    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    B = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    np.testing.assert_allclose(qt.spectrum(L, w, A, B).incoherent,
                               qutip.spectrum(H, w, c_ops, qutip.Qobj(A), qutip.Qobj(B)),
                               atol=1e-8)
    N = 6
    a = np.kron(np.eye(2), op.destroy(N))
    s = np.kron(op.sigma_minus(), np.eye(N))
    Hjc = 0.3 * a.conj().T @ a + (a.conj().T @ s + s.conj().T @ a) + 0.2 * (a + a.conj().T)
    L = qt.Lindblad(Hjc, [qt.Channel(a, 0.5), qt.Channel(s, 0.1)])
    H, c_ops = as_qutip(qutip, L)
    ad = a.conj().T
    np.testing.assert_allclose(qt.spectrum(L, w, ad, a).incoherent,
                               qutip.spectrum(H, w, c_ops, qutip.Qobj(ad), qutip.Qobj(a)),
                               atol=1e-8)
