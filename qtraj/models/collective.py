"""N two-level atoms in a common thermal bath (Çakmak, Manatuly & Müstecaplıoğlu (2017), PRA 96,
032117, Secs. II-IV; equation and figure numbers below are theirs).

Physics (interaction picture of H_s = omega0/2 sum_i sigma_i^z, so no sigma_z term), Eqs. (1)-(3):

    drho/dt = -i[H_d, rho]
              + sum_ij gamma_ij (nbar+1) (sigma_j^- rho sigma_i^+ - 1/2 {sigma_i^+ sigma_j^-, rho})
              + sum_ij gamma_ij nbar     (sigma_j^+ rho sigma_i^- - 1/2 {sigma_i^- sigma_j^+, rho}),
    H_d = sum_{i != j} f_ij sigma_i^+ sigma_j^-.

f_ij and gamma_ij follow from the geometry (formulas after Eq. 3, `geometry_matrices`).  The
Kossakowski matrix gamma is real symmetric and positive semidefinite; diagonalising it,
gamma = sum_k lam_k v_k v_k^T, turns the double sums into channels (`lindblad_from_matrices`)

    emit_k:   sqrt(lam_k (nbar+1)) A_k,    absorb_k: sqrt(lam_k nbar) A_k^dag,
    A_k = sum_j v_kj sigma_j^-   (unit-norm v_k, so A_k is the "normalised" collective operator).

In the collective limit (xi -> 0) gamma_ij = gamma0 for all i, j: one direction (1,...,1)/sqrt(N)
with lam = N gamma0, i.e. the channels sqrt(gamma0 (nbar+1)) J^- and sqrt(gamma0 nbar) J^+,
J^+- = sum_i sigma_i^+-.  This limit is not generic: it conserves total spin (the two-atom
singlet is dark, the steady state is not unique), while any finite separation gives a unique,
product-thermal steady state reached at a rate that vanishes as xi -> 0 (`slowest_decay_rate`).

Basis mapping.  qtraj's basis is atom 1 (x) atom 2 (x) ..., index 0 = ground, so the basis index
of a configuration is the binary number (b_1 b_2 ... b_N) with b_i = 1 for an excited atom i.
The paper lists the basis from |e...e> down to |g...g> (for two atoms |ee>, |eg>, |ge>, |gg>,
first letter = atom 1): paper index p (1-based) is qtraj index 2^N - p, i.e. the order is
reversed.  For two atoms: |gg> = 0, |ge> = 1, |eg> = 2, |ee> = 3, and the paper's heat-exchange
coherence a_23 = <eg|rho|ge> is rho[2, 1] here.  The l1 coherence does not depend on the order.
"""

from __future__ import annotations

from math import comb

import numpy as np

from ..lindblad import Channel, Lindblad
from ..operators import collective, embed, ket2dm, sigma_minus
from ..validation import as_count, as_rate

__all__ = [
    "lindblad_from_matrices", "lindblad", "geometry_matrices", "lindblad_from_geometry",
    "c_l1_two_atoms", "longtime_c_l1", "ground_state", "dicke_state", "longtime_state",
    "pair_longtime_state", "dephase_pair", "fig3_initial_states", "slowest_decay_rate",
    "coherence_lifetime",
]

#: Kossakowski eigenvalues below DROP_RTOL * max are dropped; below -NEG_RTOL * max are an error.
DROP_RTOL = 1e-12
NEG_RTOL = 1e-10


def _real_symmetric(a, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n}, {n})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    scale = max(1.0, float(np.max(np.abs(arr))))
    if np.iscomplexobj(arr):
        if np.max(np.abs(arr.imag)) > 1e-12 * scale:
            raise ValueError(f"{name} must be real")
        arr = arr.real
    arr = arr.astype(float)
    if np.max(np.abs(arr - arr.T)) > 1e-12 * scale:
        raise ValueError(f"{name} must be symmetric")
    return 0.5 * (arr + arr.T)


def lindblad_from_matrices(gamma, f, nbar: float, omega0: float | None = None) -> Lindblad:
    """The master equation (1)-(3) for the rate matrix gamma and dipole couplings f, both (N, N).

    gamma must be real symmetric positive semidefinite (a valid Lindblad generator); the
    diagonal of f is ignored (H_d sums over i != j).  Each Kossakowski direction v_k with
    eigenvalue lam_k gives the channels "emit_k" (op A_k = sum_j v_kj sigma_j^-, rate
    lam_k (nbar+1)) and "absorb_k" (op A_k^dag, rate lam_k nbar), all in bath "thermal", in order
    of decreasing lam_k.  If `omega0` is given, each jump carries energy -omega0 (emission) or
    +omega0 (absorption) for heat counting; otherwise the energies are left unset.
    """
    gamma = _real_symmetric(gamma, "gamma")
    n = gamma.shape[0]
    f = _real_symmetric(f, "f", n)
    nbar = as_rate(nbar, "nbar")
    if omega0 is not None:
        omega0 = as_rate(omega0, "omega0")

    lam, vecs = np.linalg.eigh(gamma)
    scale = float(np.max(np.abs(lam)))
    if lam.min() < -NEG_RTOL * scale:
        raise ValueError(f"gamma has a negative eigenvalue {lam.min():.3g}: not a valid Lindblad "
                         "(completely positive) model")

    dims = [2] * n
    sm = [embed(sigma_minus(), j, dims) for j in range(n)]
    H = np.zeros((2 ** n, 2 ** n), dtype=complex)
    for i in range(n):
        for j in range(n):
            if i != j and f[i, j] != 0.0:
                H += f[i, j] * sm[i].conj().T @ sm[j]

    channels = []
    order = [k for k in np.argsort(lam)[::-1] if lam[k] > DROP_RTOL * scale]
    for m, k in enumerate(order):
        v = vecs[:, k] * np.sign(vecs[np.argmax(np.abs(vecs[:, k])), k])  # fix the sign
        A = collective(sigma_minus(), n, v)
        e = (None, None) if omega0 is None else (-omega0, omega0)
        channels.append(Channel(A, lam[k] * (nbar + 1), "thermal", energy=e[0], name=f"emit_{m}"))
        channels.append(Channel(A.conj().T, lam[k] * nbar, "thermal", energy=e[1],
                                name=f"absorb_{m}"))
    return Lindblad(H, channels)


def lindblad(n_atoms: int, nbar: float, gamma0: float = 1.0, f0: float = 0.0,
             omega0: float | None = None) -> Lindblad:
    """Collective limit (xi -> 0): gamma_ij = gamma0 for all i, j and f_ij = f0 for i != j.

    Channels: sqrt(gamma0 (nbar+1)) J^- and sqrt(gamma0 nbar) J^+ (op J^-+/sqrt(N), rate
    N gamma0 (nbar+1) and N gamma0 nbar), H_d = f0 sum_{i != j} sigma_i^+ sigma_j^-.
    """
    n = as_count(n_atoms, "n_atoms")
    gamma0 = as_rate(gamma0, "gamma0")
    f0 = float(f0)
    if not np.isfinite(f0):
        raise ValueError("f0 must be finite")
    return lindblad_from_matrices(np.full((n, n), gamma0), f0 * (1.0 - np.eye(n)), nbar, omega0)


# --------------------------------------------------------------------------- geometry
def _g_radial(xi: np.ndarray) -> np.ndarray:
    """cos(xi)/xi^2 - sin(xi)/xi^3, with its Taylor series for small xi (no cancellation)."""
    xi = np.asarray(xi, dtype=float)
    small = xi < 0.1
    out = np.empty_like(xi)
    x = xi[~small]
    out[~small] = np.cos(x) / x ** 2 - np.sin(x) / x ** 3
    x2 = xi[small] ** 2
    # sum_{n>=1} (-1)^n 2n / (2n+1)! xi^(2n-2) = -1/3 + xi^2/30 - xi^4/840 + ...
    out[small] = sum((-1) ** m * 2 * m / np.prod(np.arange(1.0, 2 * m + 2)) * x2 ** (m - 1)
                     for m in range(1, 7))
    return out


def geometry_matrices(positions, dipole, k0: float, gamma0: float) -> tuple[np.ndarray, np.ndarray]:
    """(gamma, f), each (N, N), from atom positions (N, 3) and a common real dipole (formulas
    after Eq. 3).  xi_ij = k0 r_ij, alpha_ij = angle between r_ij and the dipole:

        f_ij     = 3 gamma0/4 [(1 - 3cos^2 a)(sin xi/xi^2 + cos xi/xi^3) - (1 - cos^2 a) cos xi/xi]
        gamma_ij = 3 gamma0/2 [(1 - 3cos^2 a)(cos xi/xi^2 - sin xi/xi^3) + (1 - cos^2 a) sin xi/xi]

    with gamma_ii = gamma0, f_ii = 0.  gamma_ij -> gamma0 as xi -> 0 and -> 0 as xi -> inf.
    """
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] == 0:
        raise ValueError(f"positions must have shape (n_atoms, 3), got {pos.shape}")
    d = np.asarray(dipole, dtype=float)
    if d.shape != (3,):
        raise ValueError(f"dipole must be a 3-vector, got shape {d.shape}")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(d))):
        raise ValueError("positions and dipole must be finite")
    if np.linalg.norm(d) == 0:
        raise ValueError("dipole must be nonzero")
    k0 = as_rate(k0, "k0", allow_zero=False)
    gamma0 = as_rate(gamma0, "gamma0")

    n = pos.shape[0]
    rvec = pos[:, None, :] - pos[None, :, :]
    r = np.linalg.norm(rvec, axis=-1)
    off = ~np.eye(n, dtype=bool)
    if np.any(k0 * r[off] == 0):
        raise ValueError("two atoms are at the same position (f_ij diverges)")
    xi = k0 * r[off]
    cos2 = (rvec[off] @ d / (r[off] * np.linalg.norm(d))) ** 2
    gamma = np.full((n, n), gamma0)
    f = np.zeros((n, n))
    gamma[off] = 1.5 * gamma0 * ((1 - 3 * cos2) * _g_radial(xi) + (1 - cos2) * np.sin(xi) / xi)
    f[off] = 0.75 * gamma0 * ((1 - 3 * cos2) * (np.sin(xi) / xi ** 2 + np.cos(xi) / xi ** 3)
                              - (1 - cos2) * np.cos(xi) / xi)
    if not np.all(np.isfinite(f)):
        raise ValueError("atoms too close: f_ij overflows")
    return gamma, f


def lindblad_from_geometry(positions, dipole, k0: float, gamma0: float, nbar: float,
                           omega0: float | None = None) -> Lindblad:
    """Master equation (1)-(3) for atoms at `positions` (N, 3) with a common dipole."""
    return lindblad_from_matrices(*geometry_matrices(positions, dipole, k0, gamma0), nbar, omega0)


# --------------------------------------------------------------------------- closed forms
def c_l1_two_atoms(t, nbar: float, gamma0: float = 1.0):
    """Eq. (5): C_l1(t) of two collective atoms starting in |gg> (independent of f0).

    C = n(n+1)/D - n e^{-at}[(n+1) s cosh(bt) - n^2 sinh(bt)]/(D s), s = sqrt(n(n+1)),
    D = 3n(n+1) + 1, a = 2 gamma0 (2n+1), b = 2 gamma0 s.  Vectorised in t (t >= 0); 0 for n = 0.
    """
    n = as_rate(nbar, "nbar")
    gamma0 = as_rate(gamma0, "gamma0")
    t = np.asarray(t, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("t must be finite and non-negative")
    s = np.sqrt(n * (n + 1))
    a, b = 2 * gamma0 * (2 * n + 1), 2 * gamma0 * s
    em, ep = np.exp(-(a - b) * t), np.exp(-(a + b) * t)   # e^{-at} cosh, sinh without overflow
    cosh, sinh = 0.5 * (em + ep), 0.5 * (em - ep)
    ratio = np.sqrt(n / (n + 1))                           # n / s, = 0 at n = 0
    out = (n * (n + 1) * (1 - cosh) + n ** 2 * ratio * sinh) / (3 * n * (n + 1) + 1)
    return out if out.ndim else float(out)


def _dicke_weights(n_atoms: int, nbar: float) -> np.ndarray:
    """p_k proportional to (nbar/(nbar+1))^k, k = 0..N (the Dicke-ladder detailed balance)."""
    x = nbar / (nbar + 1)
    p = x ** np.arange(n_atoms + 1)
    return p / p.sum()


def longtime_c_l1(n_atoms: int, nbar: float) -> float:
    """Long-time C_l1 from |g...g> in the collective limit (the exact law behind Fig. 4).

    From |g...g> the state stays in the symmetric (Dicke) ladder and relaxes to
    sum_k p_k |D_k><D_k|, so C_l1 = sum_k p_k (C(N,k) - 1), p_k proportional to
    (nbar/(nbar+1))^k, k = 0..N; it tends to 2^N/(N+1) - 1 as nbar -> infinity.  The law is not
    the cubic that Çakmak et al. (2017) fit to their Fig. 4."""
    n = as_count(n_atoms, "n_atoms")
    p = _dicke_weights(n, as_rate(nbar, "nbar"))
    return float(sum(p[k] * (comb(n, k) - 1) for k in range(n + 1)))


# --------------------------------------------------------------------------- states
def ground_state(n_atoms: int) -> np.ndarray:
    """|g...g><g...g| (qtraj index 0)."""
    d = 2 ** as_count(n_atoms, "n_atoms")
    rho = np.zeros((d, d), dtype=complex)
    rho[0, 0] = 1.0
    return rho


def dicke_state(n_atoms: int, k: int) -> np.ndarray:
    """Ket |D_k>: the symmetric state with k excitations (uniform over k-excitation configurations)."""
    n = as_count(n_atoms, "n_atoms")
    k = as_count(k, "k", minimum=0)
    if k > n:
        raise ValueError(f"k = {k} excitations exceed n_atoms = {n}")
    idx = np.arange(2 ** n)
    weight = np.array([bin(i).count("1") for i in idx])
    psi = (weight == k).astype(complex)
    return psi / np.sqrt(comb(n, k))


def longtime_state(n_atoms: int, nbar: float) -> np.ndarray:
    """Long-time state of the collective model from |g...g>: sum_k p_k |D_k><D_k|."""
    n = as_count(n_atoms, "n_atoms")
    p = _dicke_weights(n, as_rate(nbar, "nbar"))
    return sum(p[k] * ket2dm(dicke_state(n, k)) for k in range(n + 1))


def pair_longtime_state(nbar: float) -> np.ndarray:
    """Two-atom long-time state from |gg>: p_0|gg><gg| + p_1|D_1><D_1| + p_2|ee><ee|, (4, 4),
    |D_1> = (|eg> + |ge>)/sqrt2.  It carries the heat-exchange coherence a_23 = p_1/2 (rho[2, 1])."""
    return longtime_state(2, nbar)


def dephase_pair(rho) -> np.ndarray:
    """Copy of a two-atom state with the coherence a_23 (|eg><ge| and |ge><eg|) removed."""
    rho = np.array(rho, dtype=complex)
    if rho.shape != (4, 4):
        raise ValueError(f"dephase_pair needs a (4, 4) two-atom state, got shape {rho.shape}")
    rho[1, 2] = rho[2, 1] = 0.0
    return rho


def fig3_initial_states() -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3 kets (a) (|ge> + i|eg>)/sqrt2 and (b) (sqrt3|ge> + |eg>)/2 (first letter = atom 1;
    |ge> is index 1 and |eg> index 2 here)."""
    a = np.array([0, 1, 1j, 0], dtype=complex) / np.sqrt(2)
    b = np.array([0, np.sqrt(3) / 2, 0.5, 0], dtype=complex)
    return a, b


# --------------------------------------------------------------------------- finite separation
def slowest_decay_rate(xi, nbar: float, gamma0: float = 1.0, dipole_coupling: bool = True):
    """Slowest nonzero Liouvillian decay rate of two atoms at separation xi = k0 r, placed on a
    line perpendicular to the dipole (alpha = 90 deg).  It is the inverse lifetime of the
    coherence built from |gg>, and -> 0 as xi -> 0 (to leading order gamma_12 = gamma0(1 - xi^2/5)).

    Dense eigenvalues of the 16x16 Liouvillian: the steady-state eigenvalue (closest to 0) is
    skipped and the next smallest -Re(lambda) returned.  With `dipole_coupling` the couplings
    f_12 ~ xi^-3 set the matrix norm, so rates below ~1e-15 |f_12| are not resolved (xi >~ 1e-2 is
    safe).  For xi <~ 1 the slowest mode is a population mode in the (anti)symmetric basis, where
    H_d is diagonal, so `dipole_coupling=False` (f = 0) gives the same rate and resolves much
    smaller xi.  Vectorised in xi.
    """
    xis = np.asarray(xi, dtype=float)
    out = np.empty(xis.shape)
    for i, x in np.ndenumerate(xis):
        if not x > 0:
            raise ValueError("the separation xi must be positive")
        gamma, f = geometry_matrices([[0, 0, 0], [x, 0, 0]], [0, 0, 1], 1.0, gamma0)
        L = lindblad_from_matrices(gamma, f if dipole_coupling else 0 * f, nbar)
        rates = np.sort(-np.linalg.eigvals(L.liouvillian()).real)
        out[i] = max(rates[1], 0.0)
    return out if out.ndim else float(out)


def coherence_lifetime(xi, nbar: float, gamma0: float = 1.0, dipole_coupling: bool = True):
    """1 / `slowest_decay_rate`: the lifetime of the long-lived coherence at separation xi."""
    rate = np.asarray(slowest_decay_rate(xi, nbar, gamma0, dipole_coupling))
    with np.errstate(divide="ignore"):
        out = 1.0 / rate
    return out if out.ndim else float(out)
