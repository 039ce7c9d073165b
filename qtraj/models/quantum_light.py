"""Quantum versus classical light (after Mukamel & Dorfman (2015), PRA 91, 053844).

A two-level atom (index 0 = |g>, 1 = |e>; hbar = 1) interacts for a time t with

* a **quantized mode** (resonant Jaynes–Cummings, RWA, interaction picture)
      H_q = g (a sigma+ + a^dag sigma-),
  Fock space truncated at n_max (joint basis |atom> (x) |n>, index = atom * (n_max+1) + n),
  optionally with atomic decay Channel(sigma-, gamma) and cavity loss Channel(a, kappa);
* a **classical field** of complex amplitude beta
      H_cl = g (beta sigma+ + beta* sigma-),
  optionally with the same atomic decay.

Field states: coherent |alpha>, thermal (mean nbar) and Fock |n>.  The "classical light" model of
a field state is the Glauber–Sudarshan average  <P_e^cl>_P = ∫ P(beta) P_e^cl(beta) d^2beta.

Which comparisons are meaningful
--------------------------------
Only for field states whose P function is a regular, non-negative probability density is the
P-average of classical responses a legitimate model of the light as a *classical random field*:
thermal light (P = exp(-|beta|^2/nbar)/(pi nbar)) is the proper case, and a coherent state
(P = delta^2(beta - alpha), a degenerate but positive P) is the single-classical-field case.
A Fock state has a P function that is not a probability density (it is a derivative of a
delta distribution); `classical_coefficients` still evaluates the *formal* P-"average" order by
order (replacing <|beta|^{2k}>_P by the normally ordered moment <a^dag^k a^k>, which is how any
P-average of a polynomial is computed), but this is a formal identity only, not a classical
model, and `classical_pe` refuses a Fock state.

Photon statistics
-----------------
The second-order coherence at zero delay, g2(0) = <a^dag^2 a^2> / <a^dag a>^2, is 2 for thermal
light, 1 for coherent light and 1 - 1/n for a Fock state |n>.  For a field described by a
Glauber-Sudarshan P function, g2(0) = <|beta|^4>_P / <|beta|^2>_P^2, and when P is a probability
density (a P-averaged classical field) the Cauchy-Schwarz inequality gives
<|beta|^4>_P >= <|beta|^2>_P^2, i.e. g2(0) >= 1: antibunching, g2(0) < 1, has no classical
model.  `photon_statistics` gives (nbar, g2(0), Mandel Q) of a field, `field_g2` g2(0) of the
mode during the atom-mode evolution, `cavity_g2` g2(tau) of the mode by quantum regression
(`qtraj.coherence_function_g2`), `classical_g2` / `p_averaged_g2` the classical values.

Physics checked by tests/test_quantum_light.py
----------------------------------------------
Atom from |g>, closed system (gamma = kappa = 0).  From |g, n> the JC dynamics stays in
span{|g,n>, |e,n-1>} with Rabi frequency g sqrt(n), and different n end in orthogonal states, so
for ANY field state with photon distribution p_n

    P_e^q = sum_n p_n sin^2(g sqrt(n) t),      Delta N = <a^dag a>(t) - <a^dag a>(0) = -P_e^q

(absorption = -Delta N = P_e).  Classically P_e^cl(beta) = sin^2(g |beta| t).  With
sin^2 x = x^2 - x^4/3 + ... and writing P_e = c2 g^2 + c4 g^4 + ...:

    quantum:    c2 = t^2 <n>,                    c4 = -(t^4/3) <n^2>
    classical:  c2 = t^2 <|beta|^2>_P = t^2 <n>, c4 = -(t^4/3) <|beta|^4>_P = -(t^4/3) <a^dag^2 a^2>

so the second order (linear in the field intensity) agrees for every state, while at fourth order
c4^q - c4^cl = -(t^4/3) (<n^2> - <a^dag^2 a^2>) = -(t^4/3) <n>   (the ordering / vacuum term).
Thermal: <n^2> = 2 nbar^2 + nbar, <|beta|^4>_P = 2 nbar^2.  Coherent: <n^2> = |a|^4 + |a|^2.

Coefficient extraction (method and accuracy)
--------------------------------------------
P_e(g) is an entire function of the coupling for finite n_max (matrix exponentials of a generator
linear in g), even in g when the atom starts in |g>.  `taylor_coefficients` evaluates the
analytic continuation at N points on a circle |g| = r in the complex plane (U^{-1} = exp(+iHt)
instead of U^dag; for open systems the Liouvillian L0 + g L1 continued to complex g) and takes
the discrete Fourier transform (Cauchy's integral formula with the trapezoid rule).  The error is
aliasing c_{k+N} r^N (exponentially small) plus round-off ~ eps max|P_e| / r^k, i.e. ~1e-13
relative here.  An independent real-axis check, `fit_coefficients` (least-squares polynomial in
g^2 of P_e(g)/g^2 at 12 Chebyshev points g <= 0.2/t, degree 5), agrees to ~1e-14 (c2) and
~1e-11 (c4) relative for thermal nbar = 1 (tests assert 1e-10 / 1e-8, also against qt.mesolve and
with decay).  Truncation: `converged_n_max` grows n_max until the observables change < tol (1e-10).
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np
import scipy.linalg as sla
from scipy.special import roots_laguerre

from ..correlations import coherence_function_g2
from ..deterministic import mesolve
from ..lindblad import Channel, Lindblad, vec, unvec

__all__ = ["FieldState", "coherent", "thermal", "fock", "atom_ops", "jc_model", "jc_coupling",
           "classical_model", "initial_state", "quantum_observables", "quantum_pe",
           "classical_pe_amplitude", "classical_pe", "taylor_coefficients", "fit_coefficients",
           "quantum_coefficients", "classical_coefficients", "normal_moment", "converged_n_max",
           "analytic_coefficients", "mode_operator", "photon_statistics", "field_g2",
           "cavity_g2", "classical_g2", "p_averaged_g2"]


# --------------------------------------------------------------------------- field states
class FieldState:
    """A single-mode field state: kind in {"coherent", "thermal", "fock"} and its parameter
    (alpha, nbar or n).  `density(n_max)` gives the truncated (renormalised) density matrix."""

    def __init__(self, kind: str, param):
        if kind not in ("coherent", "thermal", "fock"):
            raise ValueError(f"unknown field kind {kind!r}")
        if kind == "thermal" and not float(param) > 0:
            raise ValueError("thermal nbar must be > 0")
        if kind == "fock" and (int(param) != param or param < 0):
            raise ValueError("Fock n must be a non-negative integer")
        self.kind = kind
        self.param = complex(param) if kind == "coherent" else (
            int(param) if kind == "fock" else float(param))

    @property
    def p_regular(self) -> bool:
        """True when P is a (regular or delta) non-negative distribution: classical model valid."""
        return self.kind in ("coherent", "thermal")

    @property
    def nbar(self) -> float:
        return abs(self.param) ** 2 if self.kind == "coherent" else float(self.param)

    def populations(self, n_max: int) -> np.ndarray:
        n = np.arange(n_max + 1)
        if self.kind == "thermal":
            q = self.param / (1 + self.param)
            p = q ** n
        elif self.kind == "coherent":
            lg = n * np.log(abs(self.param) + 1e-300) * 2 - np.array(
                [np.sum(np.log(np.arange(1, k + 1))) for k in n])
            p = np.exp(lg - lg.max())
            if self.param == 0:
                p = (n == 0).astype(float)
        else:
            if self.param > n_max:
                raise ValueError("Fock n exceeds n_max")
            p = (n == self.param).astype(float)
        return p / p.sum()

    def density(self, n_max: int) -> np.ndarray:
        if self.kind != "coherent":
            return np.diag(self.populations(n_max)).astype(complex)
        n = np.arange(n_max + 1)
        lf = np.array([np.sum(np.log(np.arange(1, k + 1))) for k in n])
        a = self.param
        c = np.exp(-0.5 * lf) * (a ** n if a != 0 else (n == 0))
        c = c / np.linalg.norm(c)
        return np.outer(c, c.conj())

    def __repr__(self):
        return f"FieldState({self.kind!r}, {self.param!r})"


def coherent(alpha) -> FieldState:
    return FieldState("coherent", alpha)


def thermal(nbar) -> FieldState:
    return FieldState("thermal", nbar)


def fock(n) -> FieldState:
    return FieldState("fock", n)


def normal_moment(field: FieldState, k: int) -> float:
    """<a^dag^k a^k> of the untruncated state = <|beta|^{2k}>_P (formal for Fock states)."""
    if field.kind == "thermal":
        return factorial(k) * field.param ** k
    if field.kind == "coherent":
        return abs(field.param) ** (2 * k)
    n = field.param
    return float(factorial(n) // factorial(n - k)) if k <= n else 0.0


# --------------------------------------------------------------------------- operators / models
def atom_ops():
    """(sigma_minus, sigma_plus) in the basis index 0 = |g>, 1 = |e>."""
    sm = np.array([[0, 1], [0, 0]], dtype=complex)
    return sm, sm.conj().T


def _mode_ops(n_max: int):
    a = np.diag(np.sqrt(np.arange(1, n_max + 1)), 1).astype(complex)
    return a, a.conj().T


def jc_coupling(n_max: int) -> np.ndarray:
    """V with H_q = g V, V = a sigma+ + a^dag sigma- on C^2 (x) C^{n_max+1}."""
    sm, sp = atom_ops()
    a, ad = _mode_ops(n_max)
    return np.kron(sp, a) + np.kron(sm, ad)


def _jc_channels(n_max, gamma, kappa):
    sm, _ = atom_ops()
    a, _ = _mode_ops(n_max)
    I2, If = np.eye(2), np.eye(n_max + 1)
    ch = []
    if gamma > 0:
        ch.append(Channel(np.kron(sm, If), gamma, bath="atom", energy=0.0, name="atom decay"))
    if kappa > 0:
        ch.append(Channel(np.kron(I2, a), kappa, bath="cavity", energy=0.0, name="cavity loss"))
    return tuple(ch)


def jc_model(g: float, n_max: int, gamma: float = 0.0, kappa: float = 0.0) -> Lindblad:
    """Resonant JC (interaction picture) with atomic decay gamma and cavity loss kappa."""
    return Lindblad(g * jc_coupling(n_max), _jc_channels(n_max, gamma, kappa))


def classical_model(g: float, beta, gamma: float = 0.0) -> Lindblad:
    """Atom driven by a classical field: H_cl = g (beta sigma+ + beta* sigma-), decay gamma."""
    sm, sp = atom_ops()
    H = g * (beta * sp + np.conj(beta) * sm)
    ch = (Channel(sm, gamma, bath="atom", energy=0.0),) if gamma > 0 else ()
    return Lindblad(H, ch)


def initial_state(field: FieldState, n_max: int, atom: int = 0) -> np.ndarray:
    """rho_atom (x) rho_field with the atom in |atom> (0 = ground)."""
    ra = np.zeros((2, 2), dtype=complex)
    ra[atom, atom] = 1
    return np.kron(ra, field.density(n_max))


def _observables_ops(n_max):
    If = np.eye(n_max + 1)
    Pe = np.kron(np.diag([0.0, 1.0]), If).astype(complex)
    N = np.kron(np.eye(2), np.diag(np.arange(n_max + 1.0))).astype(complex)
    return Pe, N


# --------------------------------------------------------------------------- propagation
@lru_cache(maxsize=32)
def _jc_eig(n_max):
    lam, W = np.linalg.eigh(jc_coupling(n_max).real)
    return lam, W

def _evolve(V, channels, g, t, rho0):
    """rho(t) for generator -i[gV, .] + dissipators, analytic in (possibly complex) g."""
    if not channels:
        U = sla.expm(-1j * g * t * V)
        Ui = sla.expm(1j * g * t * V)          # = U^dag for real g; analytic continuation
        return U @ rho0 @ Ui
    d = V.shape[0]
    I = np.eye(d)
    L = Lindblad(np.zeros((d, d)), channels).liouvillian(sparse=False)
    L = np.asarray(L) - 1j * g * (np.kron(I, V) - np.kron(V.T, I))
    return unvec(sla.expm(L * t) @ vec(rho0), d)


def quantum_observables(g, t, field: FieldState, n_max: int, gamma=0.0, kappa=0.0,
                        atom: int = 0) -> tuple[complex, complex]:
    """(P_e(t), Delta N(t)) of the JC model; accepts complex g (analytic continuation)."""
    V = jc_coupling(n_max)
    rho0 = initial_state(field, n_max, atom)
    chans = _jc_channels(n_max, gamma, kappa)
    if chans:
        rho_diag = np.diagonal(_evolve(V, chans, g, t, rho0))
    else:                                   # closed: spectral propagation (V real symmetric)
        lam, W = _jc_eig(n_max)
        ph = np.exp(-1j * g * t * lam)
        M = (ph[:, None] * (W.T @ rho0 @ W)) * (1.0 / ph)[None, :]
        rho_diag = np.einsum("ij,ji->i", W @ M, W.T)
    d1 = n_max + 1
    nn = np.tile(np.arange(d1, dtype=float), 2)
    pe = np.sum(rho_diag[d1:])
    dn = np.dot(nn, rho_diag) - np.dot(nn, np.diagonal(rho0))
    if np.isrealobj(g) or np.imag(g) == 0:
        return float(pe.real), float(dn.real)
    return pe, dn


def quantum_pe(g, t, field, n_max, gamma=0.0, kappa=0.0):
    return quantum_observables(g, t, field, n_max, gamma, kappa)[0]


def classical_pe_amplitude(x, t, gamma=0.0):
    """P_e^cl for an atom from |g> driven with g|beta| = x (complex x allowed).  The phase of
    beta can be rotated away, so the response depends on g|beta| only."""
    sm, sp = atom_ops()
    V = sp + sm
    ch = (Channel(sm, gamma, bath="atom"),) if gamma > 0 else ()
    rho0 = np.diag([1.0, 0.0]).astype(complex)
    pe = _evolve(V, ch, x, t, rho0)[1, 1]
    return float(pe.real) if np.imag(x) == 0 else pe


def classical_pe(g, t, field: FieldState, gamma=0.0, n_quad: int = 80):
    """P-averaged classical response ∫ P(beta) P_e^cl(beta) d^2 beta (coherent: exact delta;
    thermal: Gauss–Laguerre in u = |beta|^2, exact for the Taylor coefficients of order
    <= 2(2 n_quad - 1)).  Refuses Fock states (P not a probability density)."""
    if not field.p_regular:
        raise ValueError("Fock state: P is not a probability density; the P-average of "
                         "classical responses is only formal (use classical_coefficients)")
    if field.kind == "coherent":
        return classical_pe_amplitude(g * abs(field.param), t, gamma)
    x, w = roots_laguerre(n_quad)
    vals = [classical_pe_amplitude(g * np.sqrt(field.param * xi), t, gamma) for xi in x]
    return np.dot(w, vals)


# --------------------------------------------------------------------------- coefficients
def taylor_coefficients(f, orders=(2, 4), radius=0.5, n_points=64) -> np.ndarray:
    """Taylor coefficients c_k of an entire function f(g) at g = 0 by the trapezoid rule on
    the circle |g| = radius (Cauchy's formula); returns real parts."""
    z = radius * np.exp(2j * np.pi * np.arange(n_points) / n_points)
    fz = np.array([f(zi) for zi in z], dtype=complex)
    c = np.fft.fft(fz) / n_points
    return np.array([(c[k] / radius ** k).real for k in orders])


def fit_coefficients(pe_of_g, g_max, n_g=12, degree=5) -> tuple[float, float]:
    """Real-axis check: fit P_e(g)/g^2 = c2 + c4 g^2 + ... (polynomial of `degree` in g^2) at
    n_g Chebyshev-spaced g in (0, g_max]; returns (c2, c4)."""
    k = np.arange(n_g)
    g = g_max * np.cos(np.pi * (k + 0.5) / (2 * n_g))
    y = np.array([pe_of_g(gi) for gi in g]) / g ** 2
    coef = np.polynomial.polynomial.polyfit(g ** 2 / g_max ** 2, y, degree)
    return float(coef[0]), float(coef[1] / g_max ** 2)


def _radius(t, nbar_eff):
    return 0.5 / (t * np.sqrt(max(nbar_eff, 1.0)))


def quantum_coefficients(t, field, n_max, gamma=0.0, kappa=0.0, radius=None, n_points=64):
    """(c2, c4) of P_e^q(g) for the atom from |g>."""
    r = radius or _radius(t, field.nbar + 1)
    return tuple(taylor_coefficients(lambda z: quantum_pe(z, t, field, n_max, gamma, kappa),
                                     (2, 4), r, n_points))


def classical_coefficients(t, field, gamma=0.0, radius=None, n_points=64):
    """(c2, c4) of the P-averaged classical response: P_e^cl = F(g|beta|) = sum_k a_k
    (g|beta|)^{2k}, so c_{2k} = a_k <|beta|^{2k}>_P = a_k <a^dag^k a^k> (formal for Fock)."""
    r = radius or 0.5 / t
    a1, a2 = taylor_coefficients(lambda z: classical_pe_amplitude(z, t, gamma), (2, 4), r,
                                 n_points)
    return a1 * normal_moment(field, 1), a2 * normal_moment(field, 2)


def analytic_coefficients(t, field):
    """Closed-system analytic (c2_q, c4_q, c2_cl, c4_cl) (see module docstring)."""
    m1, m2 = normal_moment(field, 1), normal_moment(field, 2)
    n2 = m2 + m1                                   # <n^2> = <a^dag^2 a^2> + <n>
    return t ** 2 * m1, -t ** 4 * n2 / 3, t ** 2 * m1, -t ** 4 * m2 / 3


def converged_n_max(fun, n_start=10, step=10, tol=1e-10, n_limit=400):
    """Smallest n_max (in steps) with |fun(n_max + step) - fun(n_max)| < tol (fun may return an
    array).  Returns (n_max, change)."""
    n = n_start
    prev = np.asarray(fun(n))
    while n + step <= n_limit:
        cur = np.asarray(fun(n + step))
        change = float(np.max(np.abs(cur - prev)))
        if change < tol:
            return n, change
        n, prev = n + step, cur
    raise RuntimeError(f"not converged to {tol} by n_max = {n_limit}")


# --------------------------------------------------------------------------- photon statistics
def mode_operator(n_max: int) -> np.ndarray:
    """The mode's annihilation operator on the joint space C^2 (x) C^{n_max+1}.

    Parameters
    ----------
    n_max : int
        Fock cutoff of the mode.

    Returns
    -------
    (2 (n_max + 1), 2 (n_max + 1)) complex ndarray

    Examples
    --------
    >>> mode_operator(3).shape
    (8, 8)
    """
    return np.kron(np.eye(2), _mode_ops(n_max)[0])


def photon_statistics(field: FieldState, n_max: int) -> tuple[float, float, float]:
    """(nbar, g2(0), Mandel Q) of the truncated field state (exact for the truncated density).

    Parameters
    ----------
    field : FieldState
    n_max : int
        Fock cutoff.

    Returns
    -------
    nbar, g2_0, Q : float
        <n>, <a^dag^2 a^2> / <n>^2 and (<n^2> - <n>^2 - <n>) / <n> = nbar (g2_0 - 1).

    Raises
    ------
    ValueError
        If the field has no photons.

    Examples
    --------
    >>> nbar, g2, Q = photon_statistics(fock(3), 10)
    >>> round(g2, 12), round(Q, 12)                  # 1 - 1/n, and Q = -1 for any Fock state
    (0.666666666667, -1.0)
    """
    p = np.real(np.diagonal(field.density(n_max)))
    n = np.arange(n_max + 1.0)
    m1 = float(np.dot(n, p))
    m2 = float(np.dot(n * (n - 1), p))               # <a^dag^2 a^2>
    if not m1 > 0:
        raise ValueError("the field has no photons: g2 is undefined")
    return m1, m2 / m1 ** 2, (m2 - m1 ** 2) / m1


def field_g2(g: float, t: float, field: FieldState, n_max: int, gamma: float = 0.0,
             kappa: float = 0.0, atom: int = 0) -> float:
    """g2(0) = <a^dag^2 a^2> / <a^dag a>^2 of the mode at time t of the atom-mode evolution
    (`jc_model`) from the atom in |atom> and the field `field`.

    Parameters
    ----------
    g, t : float
        Coupling and interaction time.
    field : FieldState
    n_max : int
        Fock cutoff.
    gamma, kappa : float
        Atomic decay and cavity loss rates.
    atom : int
        Initial atomic level (0 = ground).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the mode has no photons at time t.

    Examples
    --------
    >>> round(field_g2(0.0, 1.0, thermal(0.5), 40), 9)   # no coupling: thermal stays 2
    2.0
    """
    a = mode_operator(n_max)
    rho = mesolve(jc_model(g, n_max, gamma, kappa), initial_state(field, n_max, atom),
                  [0.0, float(t)])[-1]
    N = a.conj().T @ a
    m1 = np.trace(N @ rho).real
    if not m1 > 0:
        raise ValueError("the mode has no photons at time t: g2 is undefined")
    return float(np.trace(a.conj().T @ N @ a @ rho).real / m1 ** 2)


def cavity_g2(g: float, field: FieldState, n_max: int, taus, gamma: float = 0.0,
              kappa: float = 0.0, atom: int = 0) -> np.ndarray:
    """Normalised g2(tau) = <a^dag(0) a^dag a(tau) a(0)> / (n(0) n(tau)) of the mode, from the
    initial product state at time 0 (quantum regression, `qtraj.coherence_function_g2`).

    Parameters
    ----------
    g : float
        Coupling.
    field : FieldState
    n_max : int
    taus : 1-d array_like
        Non-decreasing delays >= 0.
    gamma, kappa : float
        Atomic decay and cavity loss rates.
    atom : int
        Initial atomic level.

    Returns
    -------
    (len(taus),) ndarray

    Raises
    ------
    ValueError
        If the mode has no photons (g2 undefined).

    Examples
    --------
    Pure cavity loss keeps the photon statistics: g2(tau) = g2(0) for every field.

    >>> np.round(cavity_g2(0.0, fock(2), 4, [0.0, 1.0], kappa=1.0), 9)
    array([0.5, 0.5])
    """
    L = jc_model(g, n_max, gamma, kappa)
    g2, _ = coherence_function_g2(L, initial_state(field, n_max, atom), taus,
                                  mode_operator(n_max))
    return g2.real


def classical_g2(weights, betas) -> float:
    """g2(0) of a P-averaged classical field with a discrete P: the field has amplitude
    betas[k] with probability weights[k] (>= 0), so g2 = <|beta|^4> / <|beta|^2>^2 >= 1.

    Parameters
    ----------
    weights : 1-d array_like of float >= 0
    betas : 1-d array_like of complex, one amplitude per weight

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For negative or mismatched weights, or zero intensity.

    Examples
    --------
    >>> classical_g2([0.5, 0.5], [1.0, 2.0])          # intensity noise: bunched
    1.36
    """
    p = np.asarray(weights, dtype=float)
    b2 = np.abs(np.asarray(betas, dtype=complex)) ** 2
    if p.shape != b2.shape or p.ndim != 1 or np.any(p < 0) or not p.sum() > 0:
        raise ValueError("weights must be non-negative, not all zero, one per amplitude")
    p = p / p.sum()
    m1 = np.dot(p, b2)
    if not m1 > 0:
        raise ValueError("the field has zero intensity: g2 is undefined")
    return float(np.dot(p, b2 ** 2) / m1 ** 2)


def p_averaged_g2(field: FieldState, n_quad: int = 80) -> float:
    """g2(0) of the P-averaged classical model of a field (coherent: 1; thermal: 2 by
    Gauss-Laguerre quadrature of the exponential P).  Refuses a Fock state, whose P is not a
    probability density.

    Parameters
    ----------
    field : FieldState
        Coherent or thermal.
    n_quad : int
        Gauss-Laguerre nodes for the thermal average.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For a Fock state.

    Examples
    --------
    >>> round(p_averaged_g2(thermal(1.5)), 12)
    2.0
    """
    if not field.p_regular:
        raise ValueError("Fock state: P is not a probability density; no classical model")
    if field.kind == "coherent":
        return classical_g2([1.0], [field.param])
    x, w = roots_laguerre(n_quad)
    return classical_g2(w, np.sqrt(field.param * x))
