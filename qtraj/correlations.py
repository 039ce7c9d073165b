"""Two-time correlation functions and spectra by the quantum regression theorem, exactly.

For a time-independent generator L and a state rho at time 0, the quantum regression theorem
gives correlations of system operators as traces of the propagated operators

    <A(t + tau) B(t)> = Tr[A exp(tau L)(B rho(t))],
    <A(t) B(t + tau)> = Tr[B exp(tau L)(rho(t) A)],
    <A(t) B(t + tau) C(t)> = Tr[B exp(tau L)(C rho(t) A)],

with rho(t) = exp(t L) rho.  B rho and C rho A are not states, so they are evolved with
`qtraj.propagate` (the linear map exp(tau L) itself), exactly (matrix exponentials, no ODE
tolerances).  Names, argument order and conventions are those of QuTiP 5
(`qutip.correlation_2op_1t`, ..., `qutip.spectrum`) with the model in place of (H, c_ops):

* ``state0=None`` means the steady state (`qtraj.steady_state`; a degenerate kernel raises
  `NonUniqueSteadyState`: pass ``qt.steady_state(model, rho0)`` as state0 instead);
* ``reverse=True`` computes <A(t) B(t + tau)> instead of <A(t + tau) B(t)>;
* delays tau are measured from 0 and must be >= 0 (QuTiP requires taulist to start at 0;
  here any non-decreasing tau >= 0 is exact).  In the two-time functions state0 is the state
  at times[0], as in `qtraj.mesolve`.

The spectrum is the Fourier transform of the stationary correlation,

    S(omega) = int_{-inf}^{inf} e^{-i omega tau} <A(tau) B(0)>_ss dtau
             = 2 Re int_0^inf e^{-i omega tau} <A(tau) B(0)>_ss dtau,

(the second form, QuTiP's, assumes <A(-tau)B(0)> = <A(tau)B(0)>^*, i.e. B = A^dag).  It is
computed from the resolvent of L, not by an FFT of a sampled correlation: with
u = B rho_ss and P0 the spectral projector onto the kernel of L,

    <A(tau) B(0)> = W + Tr[A exp(tau L) Q u],   W = Tr[A P0 u],   Q = 1 - P0,
    S(omega) = 2 Re Tr[A (i omega - L)^-1 Q u]  +  2 pi W delta(omega).

The constant W (|<A>|^2 for a unique steady state and B = A^dag) is the coherent part, a delta
peak at omega = 0, reported separately; the incoherent part is what QuTiP's `spectrum` returns.
(i omega - L) x = Q u is solved for x in the range of Q with the kernel bordered off,

    [[i omega - L, R], [Lf^dag, 0]] [x, y] = [Q u, 0],

R and Lf the right and left null vectors of L, which is non-singular also at omega = 0 (sparse
LU per frequency for large spaces).  Small spaces (Liouville dimension <= DENSE_SOLVE_LIMIT) use
one Schur form L = Z T Z^dag with the kernel eigenvalues ordered first: one triangular solve per
frequency on the damped block, the kernel block fixed by P0 x = 0 (a dense bordered LU per
frequency if the eigenvalues near 0 are not exactly the kernel's).
Requirement: L has no purely imaginary eigenvalues other than 0 on the sectors u touches
(undamped oscillations would put further delta peaks into the spectrum).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .deterministic import kernel_basis, mesolve, propagate, sector_indices, steady_state
from .lindblad import vec
from .validation import as_square_matrix, as_state, as_times

__all__ = ["correlation_2op_1t", "correlation_2op_2t", "correlation_3op_1t",
           "correlation_3op_2t", "coherence_function_g1", "coherence_function_g2",
           "spectrum", "Spectrum"]

#: Liouville-space size up to which the bordered resolvent is solved with dense LU
DENSE_SOLVE_LIMIT = 600


# --------------------------------------------------------------------------- input checks
def _check_model(model) -> int:
    if not hasattr(model, "liouvillian") or not hasattr(model, "dim"):
        raise TypeError(f"expected a Lindblad or CollisionModel, got {type(model).__name__}")
    return model.dim


def _op(a, name: str, d: int) -> np.ndarray:
    if a is None:
        return np.eye(d, dtype=complex)
    return as_square_matrix(a, name, d)


def _taus(taus) -> np.ndarray:
    t = np.asarray(taus, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError("taus must be a non-empty 1-d sequence of finite delays")
    if np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("taus must be non-decreasing delays >= 0")
    return t


def _state(model, state0) -> np.ndarray:
    d = model.dim
    return steady_state(model) if state0 is None else as_state(state0, d, "state0")


def _trace_with(obs: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Tr[obs Y[i]] for a stack of operators Y."""
    return np.einsum("ij,...ji->...", obs, Y)


def _regression(model, rhos, taus, A, B, C) -> np.ndarray:
    """<A(t) B(t + tau) C(t)> = Tr[B exp(tau L)(C rho(t) A)] for each rho(t) in rhos."""
    return np.array([_trace_with(B, propagate(model, C @ r @ A, taus)) for r in rhos])


# --------------------------------------------------------------------------- correlations
def correlation_2op_1t(model, state0, taus, a_op, b_op, reverse: bool = False) -> np.ndarray:
    """Two-operator correlation <A(tau) B(0)> (or <A(0) B(tau)> with reverse=True).

    By the quantum regression theorem, <A(tau) B(0)> = Tr[A exp(tau L)(B rho0)] and
    <A(0) B(tau)> = Tr[B exp(tau L)(rho0 A)], exactly (QuTiP's `correlation_2op_1t`).

    Parameters
    ----------
    model : Lindblad or CollisionModel
        The generator L.
    state0 : (d,) ket, (d, d) density matrix or None
        The state at tau = 0; None: the steady state.
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op, b_op : (d, d) array_like
        The operators A and B (any, not necessarily Hermitian).
    reverse : bool, default False
        If True, <A(0) B(tau)> instead of <A(tau) B(0)>.

    Returns
    -------
    (len(taus),) complex ndarray

    Raises
    ------
    ValueError
        For a bad state, delays or operator (named), or `NonUniqueSteadyState` if state0 is
        None and the steady state is not unique.

    Examples
    --------
    Decay of a damped cavity's field correlation, <a^dag(tau) a(0)> = n e^{(i w - k/2) tau}:

    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> a = op.destroy(25)
    >>> L = qt.Lindblad(1.5 * a.conj().T @ a, [qt.Channel(a, 1.0), qt.Channel(a.conj().T, 0.25)])
    >>> c = qt.correlation_2op_1t(L, None, [0.0, 1.0], a.conj().T, a)
    >>> np.allclose(c, 1 / 3 * np.exp((1.5j - 0.375) * np.array([0.0, 1.0])), atol=1e-6)
    True
    """
    d = _check_model(model)
    A, B = _op(a_op, "a_op", d), _op(b_op, "b_op", d)
    taus = _taus(taus)
    rho = _state(model, state0)
    I = np.eye(d, dtype=complex)
    if reverse:
        return _regression(model, [rho], taus, A, B, I)[0]
    return _regression(model, [rho], taus, I, A, B)[0]


def correlation_2op_2t(model, state0, times, taus, a_op, b_op,
                       reverse: bool = False) -> np.ndarray:
    """Two-time correlation <A(t + tau) B(t)> (or <A(t) B(t + tau)> with reverse=True).

    rho(t) is evolved from state0 at times[0] (`qtraj.mesolve`), then
    <A(t + tau) B(t)> = Tr[A exp(tau L)(B rho(t))] (QuTiP's `correlation_2op_2t`).

    Parameters
    ----------
    model : Lindblad or CollisionModel
    state0 : (d,) ket, (d, d) density matrix or None
        The state at times[0]; None: the steady state.
    times : 1-d array_like or None
        Non-decreasing times t; None means [0].
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op, b_op : (d, d) array_like
    reverse : bool, default False

    Returns
    -------
    (len(times), len(taus)) complex ndarray

    Raises
    ------
    ValueError
        For a bad state, times, delays or operator, or `NonUniqueSteadyState`.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> sp_, sm = op.sigma_plus(), op.sigma_minus()
    >>> c = qt.correlation_2op_2t(L, op.basis(2, 1), [0.0, 1.0], [0.0, 2.0], sp_, sm)
    >>> c.shape, np.allclose(c[:, 0], np.exp(-np.array([0.0, 1.0])))
    ((2, 2), True)
    """
    d = _check_model(model)
    A, B = _op(a_op, "a_op", d), _op(b_op, "b_op", d)
    taus = _taus(taus)
    times = np.zeros(1) if times is None else as_times(times)
    rhos = mesolve(model, _state(model, state0), times)
    I = np.eye(d, dtype=complex)
    if reverse:
        return _regression(model, rhos, taus, A, B, I)
    return _regression(model, rhos, taus, I, A, B)


def correlation_3op_1t(model, state0, taus, a_op, b_op, c_op) -> np.ndarray:
    """Three-operator correlation <A(0) B(tau) C(0)> = Tr[B exp(tau L)(C rho0 A)].

    QuTiP's `correlation_3op_1t`; e.g. <a^dag(0) a^dag a(tau) a(0)> with
    (A, B, C) = (a^dag, a^dag a, a) is the unnormalised g2(tau).

    Parameters
    ----------
    model : Lindblad or CollisionModel
    state0 : (d,) ket, (d, d) density matrix or None (the steady state)
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op, b_op, c_op : (d, d) array_like, or None for the identity

    Returns
    -------
    (len(taus),) complex ndarray

    Raises
    ------
    ValueError
        For a bad state, delays or operator, or `NonUniqueSteadyState`.

    Examples
    --------
    Resonance fluorescence is antibunched: <s+(0) s+s-(tau) s-(0)> vanishes at tau = 0.

    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> sm, sp_ = op.sigma_minus(), op.sigma_plus()
    >>> L = qt.Lindblad(0.5 * (sm + sp_), [qt.Channel(sm, 1.0)])
    >>> G2 = qt.correlation_3op_1t(L, None, [0.0, 5.0], sp_, sp_ @ sm, sm)
    >>> bool(abs(G2[0]) < 1e-12), bool(G2[1].real > 0)
    (True, True)
    """
    d = _check_model(model)
    A, B, C = _op(a_op, "a_op", d), _op(b_op, "b_op", d), _op(c_op, "c_op", d)
    return _regression(model, [_state(model, state0)], _taus(taus), A, B, C)[0]


def correlation_3op_2t(model, state0, times, taus, a_op, b_op, c_op) -> np.ndarray:
    """Three-operator two-time correlation <A(t) B(t + tau) C(t)> (QuTiP's
    `correlation_3op_2t`): Tr[B exp(tau L)(C rho(t) A)], rho(t) from state0 at times[0].

    Parameters
    ----------
    model : Lindblad or CollisionModel
    state0 : (d,) ket, (d, d) density matrix or None (the steady state)
    times : 1-d array_like or None ([0])
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op, b_op, c_op : (d, d) array_like, or None for the identity

    Returns
    -------
    (len(times), len(taus)) complex ndarray

    Raises
    ------
    ValueError
        For a bad state, times, delays or operator, or `NonUniqueSteadyState`.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> L = qt.Lindblad(np.zeros((2, 2)), [qt.Channel(op.sigma_minus(), 1.0)])
    >>> qt.correlation_3op_2t(L, op.basis(2, 1), [0.0, 1.0], [0.0], None,
    ...                       op.sigma_plus() @ op.sigma_minus(), None).real.round(6)
    array([[1.      ],
           [0.367879]])
    """
    d = _check_model(model)
    A, B, C = _op(a_op, "a_op", d), _op(b_op, "b_op", d), _op(c_op, "c_op", d)
    taus = _taus(taus)
    times = np.zeros(1) if times is None else as_times(times)
    return _regression(model, mesolve(model, _state(model, state0), times), taus, A, B, C)


# --------------------------------------------------------------------------- coherence
def _photon_numbers(model, rho, taus, N, stationary: bool) -> np.ndarray:
    if stationary:
        return np.full(taus.shape, np.trace(N @ rho).real)
    return _trace_with(N, propagate(model, rho, taus)).real


def coherence_function_g1(model, state0, taus, a_op):
    """First-order coherence g1(tau) = <A^dag(tau) A(0)> / sqrt(<A^dag A>(0) <A^dag A>(tau)).

    Parameters
    ----------
    model : Lindblad or CollisionModel
    state0 : (d,) ket, (d, d) density matrix or None (the steady state)
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op : (d, d) array_like
        The operator A (e.g. a cavity's a, or sigma- of an emitter).

    Returns
    -------
    g1 : (len(taus),) complex ndarray
        The normalised coherence.
    G1 : (len(taus),) complex ndarray
        The unnormalised <A^dag(tau) A(0)>.

    Raises
    ------
    ValueError
        For bad input, or if <A^dag A> vanishes (g1 undefined); `NonUniqueSteadyState`.

    Notes
    -----
    The normalisation is the formula of QuTiP's docstring, sqrt(n(0) n(tau)) with
    n(t) = <A^dag A>(t).  For the steady state (state0=None) n is constant and the result
    equals QuTiP 5.3.1's; for a non-stationary state0 that version divides by n(0) only.

    Examples
    --------
    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> a = op.destroy(20)
    >>> L = qt.Lindblad(a.conj().T @ a, [qt.Channel(a, 1.0), qt.Channel(a.conj().T, 0.2)])
    >>> g1, G1 = qt.coherence_function_g1(L, None, [0.0, 2.0], a)
    >>> np.round(abs(g1), 6)                   # |g1| = exp(-(k_down - k_up) tau / 2)
    array([1.      , 0.449329])
    """
    d = _check_model(model)
    A = _op(a_op, "a_op", d)
    taus = _taus(taus)
    rho = _state(model, state0)
    Ad = A.conj().T
    n = _photon_numbers(model, rho, taus, Ad @ A, state0 is None)
    if not n[0] > 0 or np.any(n <= 0):
        raise ValueError("<a_op^dag a_op> vanishes: g1 is undefined")
    G1 = _regression(model, [rho], taus, np.eye(d), Ad, A)[0]
    return G1 / np.sqrt(n[0] * n), G1


def coherence_function_g2(model, state0, taus, a_op):
    """Second-order coherence g2(tau) = <A^dag(0) A^dag A(tau) A(0)> / (n(0) n(tau)),
    n(t) = <A^dag A>(t) (QuTiP's `coherence_function_g2`).

    Parameters
    ----------
    model : Lindblad or CollisionModel
    state0 : (d,) ket, (d, d) density matrix or None (the steady state)
    taus : 1-d array_like
        Non-decreasing delays tau >= 0.
    a_op : (d, d) array_like

    Returns
    -------
    g2 : (len(taus),) complex ndarray
        The normalised coherence (real up to rounding for physical states).
    G2 : (len(taus),) complex ndarray
        The unnormalised <A^dag(0) A^dag A(tau) A(0)>.

    Raises
    ------
    ValueError
        For bad input, or if <A^dag A> vanishes; `NonUniqueSteadyState`.

    Examples
    --------
    Resonance fluorescence: g2(0) = 0 (antibunching), g2 -> 1 at long delays.

    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> sm = op.sigma_minus()
    >>> L = qt.Lindblad(2.0 * (sm + sm.T), [qt.Channel(sm, 1.0)])
    >>> g2, _ = qt.coherence_function_g2(L, None, [0.0, 30.0], sm)
    >>> np.round(g2.real, 6)
    array([0., 1.])
    """
    d = _check_model(model)
    A = _op(a_op, "a_op", d)
    taus = _taus(taus)
    rho = _state(model, state0)
    Ad = A.conj().T
    N = Ad @ A
    n = _photon_numbers(model, rho, taus, N, state0 is None)
    if not n[0] > 0 or np.any(n <= 0):
        raise ValueError("<a_op^dag a_op> vanishes: g2 is undefined")
    G2 = _regression(model, [rho], taus, Ad, N, A)[0]
    return G2 / (n[0] * n), G2


# --------------------------------------------------------------------------- spectrum
def _schur_spectrum(Ld, R, Lf, Qu, arow, w):
    """2 Re a.(i w - L)^-1 Q u for all w from one Schur form L = Z T Z^H (small spaces).

    The k kernel eigenvalues are ordered first; the damped block T22 gives x2 by one
    triangular solve per frequency, and x1 follows from P0 x = 0 (Lf^H Z x = 0), which also
    holds at w = 0.  None if the eigenvalues near 0 are not exactly the k kernel ones."""
    k = R.shape[1]
    scale = max(float(np.abs(Ld).sum(axis=0).max()), 1e-300)
    T, Z, sdim = sla.schur(Ld, output="complex", sort=lambda z: abs(z) <= 1e-8 * scale)
    if sdim != k or np.min(np.abs(np.diag(T)[k:]), initial=np.inf) < 1e-6 * scale:
        return None
    y2 = (Z.conj().T @ Qu)[k:]
    c = arow @ Z
    G = c[k:]
    if k:
        M = Lf.conj().T @ Z
        G = G - c[:k] @ np.linalg.solve(M[:, :k], M[:, k:])
    T22 = T[k:, k:]
    idx = np.arange(T22.shape[0])
    out = np.empty(w.size)
    A = -T22
    d0 = A[idx, idx].copy()
    for j, om in enumerate(w):
        A[idx, idx] = d0 + 1j * om
        out[j] = 2 * (G @ sla.solve_triangular(A, y2)).real
    return out


class Spectrum(NamedTuple):
    """A spectrum split into its parts: S(omega) = incoherent(omega) + 2 pi W delta(omega)."""

    #: (len(omegas),) real ndarray: the incoherent spectrum (QuTiP's `spectrum`)
    incoherent: np.ndarray
    #: complex: W = lim_{tau -> inf} <A(tau) B(0)>, the weight of the delta peak at omega = 0
    coherent: complex


def spectrum(model, omegas, a_op, b_op, state0=None) -> Spectrum:
    """Spectrum S(omega) = int e^{-i omega tau} <A(tau) B(0)>_ss dtau, exactly, from the
    resolvent of L (module docstring), with the coherent part reported separately.

    Parameters
    ----------
    model : Lindblad or CollisionModel
    omegas : 1-d array_like of float
        Angular frequencies.  With the e^{-i omega tau} convention a field oscillating as
        e^{-i w0 t} (a(tau) ~ a e^{-i w0 tau}) shows up at omega = +w0 for A = a^dag, B = a.
    a_op, b_op : (d, d) array_like
        A and B; the two-sided integral equals 2 Re int_0^inf ... when B = A^dag.
    state0 : ket or density matrix, optional
        Selects the stationary state when the steady state is not unique: the correlation is
        taken in steady_state(model, state0) (`qtraj.steady_state`'s rules; without it a
        degenerate kernel raises `NonUniqueSteadyState`).

    Returns
    -------
    Spectrum
        ``incoherent``: 2 Re int_0^inf e^{-i omega tau} (<A(tau)B(0)> - W) dtau at each omega,
        which is what QuTiP 5's ``qutip.spectrum`` returns; ``coherent``: the constant
        W = Tr[A P0(B rho_ss)] (|<A>|^2 for a unique steady state and B = A^dag), whose
        contribution 2 pi W delta(omega) is not in ``incoherent``.

    Raises
    ------
    ValueError
        For bad frequencies or operators; `NonUniqueSteadyState`; numpy/scipy LinAlgError if
        i omega is an eigenvalue of L (an undamped mode, see the module docstring).

    Examples
    --------
    A damped cavity at frequency 2 (decay 1): a Lorentzian of half-width 1/2 at omega = 2.

    >>> import numpy as np, qtraj as qt
    >>> from qtraj import operators as op
    >>> a = op.destroy(20)
    >>> L = qt.Lindblad(2.0 * a.conj().T @ a, [qt.Channel(a, 1.0), qt.Channel(a.conj().T, 0.2)])
    >>> S, W = qt.spectrum(L, [2.0, 3.0], a.conj().T, a)
    >>> n, k = 0.25, 0.8                       # steady occupation, net decay rate
    >>> np.allclose(S, n * k / (k ** 2 / 4 + np.array([0.0, 1.0]) ** 2)), abs(W) < 1e-12
    (True, True)
    """
    d = _check_model(model)
    A, B = _op(a_op, "a_op", d), _op(b_op, "b_op", d)
    w = np.asarray(omegas, dtype=float)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError("omegas must be a non-empty 1-d sequence of finite frequencies")
    rho = steady_state(model, state0)
    u_full = vec(B @ rho)
    a_full = vec(A.T)                          # Tr[A X] = vec(A^T) . vec(X)
    if not np.any(u_full):
        return Spectrum(np.zeros(w.size), 0j)
    if state0 is None:            # unique kernel: right null vector rho_ss, left one vec(I)
        idx = sector_indices(model, u_full)
        R = vec(rho)[idx][:, None]
        Lf = vec(np.eye(d, dtype=complex))[idx][:, None]
        if not np.any(R):
            R = Lf = np.zeros((idx.size, 0), dtype=complex)
    else:
        idx, R, Lf = kernel_basis(model, u_full)
    u, arow = u_full[idx], a_full[idx]
    k = R.shape[1]
    if k:
        P0u = R @ np.linalg.solve(Lf.conj().T @ R, Lf.conj().T @ u)
    else:
        P0u = np.zeros_like(u)
    W = complex(arow @ P0u)
    rhs = np.concatenate([u - P0u, np.zeros(k, dtype=complex)])
    n = idx.size
    Lr = model.liouvillian(sparse=True)[idx][:, idx]
    out = np.empty(w.size)
    if n + k <= DENSE_SOLVE_LIMIT:
        S = _schur_spectrum(Lr.toarray(), R, Lf, u - P0u, arow, w)
        if S is not None:
            return Spectrum(S, W)
        M = np.zeros((n + k, n + k), dtype=complex)
        M[:n, :n] = -Lr.toarray()
        M[:n, n:] = R
        M[n:, :n] = Lf.conj().T
        diag = np.arange(n)
        d0 = M[diag, diag].copy()
        for j, om in enumerate(w):
            M[diag, diag] = d0 + 1j * om
            out[j] = 2 * (arow @ sla.solve(M, rhs)[:n]).real
        return Spectrum(out, W)
    base = sp.bmat([[-Lr, sp.csr_matrix(R)], [sp.csr_matrix(Lf.conj().T), None]],
                   format="csc").astype(complex)
    shift = sp.diags(np.concatenate([np.ones(n), np.zeros(k)]).astype(complex), format="csc")
    for j, om in enumerate(w):
        x = spla.splu((base + 1j * om * shift).tocsc()).solve(rhs)
        out[j] = 2 * (arow @ x[:n]).real
    return Spectrum(out, W)
