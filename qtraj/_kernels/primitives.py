"""Numba primitives shared by every kernel: sparse products, sampling, accumulation, the
no-jump norm of a ket in eigen-coefficients and the exact root of its threshold crossing.

With -i H_eff = V diag(lam) V^-1 (segment s of a `Propagators`), a ket with coefficients c at
time t_ref has at t_ref + dt the coefficients w = c exp(lam dt) and the squared norm
    n = w^dag G w,   dn/dt = 2 Re (lam w)^dag G w = -<psi|sum_k L_k^dag L_k|psi> <= 0,
so the jump time, where n falls to the threshold r, is the root of a monotone function.
"""

from __future__ import annotations

import math

from numba import njit

from ..rng import next_double

__all__ = ["matvec", "csc_matvec", "sample_index", "draw_initial", "accumulate",
           "coefficient_norm", "norm_and_slope", "norm_normal", "jump_time",
           "expected_jump_energy", "root_update"]


# --------------------------------------------------------------------------- products
@njit(cache=True, nogil=True, inline="always")
def matvec(A, x, out):
    """out = A @ x for a dense (d, m) matrix."""
    for i in range(out.shape[0]):
        s = 0j
        for j in range(A.shape[1]):
            s += A[i, j] * x[j]
        out[i] = s


@njit(cache=True, nogil=True, inline="always")
def csc_matvec(A, k, x, out):
    """out = A_k @ x for matrix k of a `CSCStack` (no view created).

    Column-wise, skipping x_j == 0: kets usually live in one symmetry sector, so the cost is
    that of the sector's columns only."""
    data = A.data
    indices = A.indices
    indptr = A.indptr
    for i in range(out.shape[0]):
        out[i] = 0
    for j in range(x.shape[0]):
        xj = x[j]
        if xj == 0:
            continue
        for p in range(indptr[k, j], indptr[k, j + 1]):
            out[indices[p]] += data[p] * xj


# --------------------------------------------------------------------------- sampling
@njit(cache=True, nogil=True, inline="always")
def sample_index(cum, n, u):
    """Index i < n with cum[i-1] <= u < cum[i] (cum[:n] increasing, cum[n-1] the total)."""
    for i in range(n):
        if u < cum[i]:
            return i
    return n - 1


@njit(cache=True, nogil=True, inline="always")
def draw_initial(mix, st, psi):
    """psi <- a ket of the `Mixture` mix, drawn with its weight from the stream st."""
    cum = mix.cum
    kets = mix.kets
    n = cum.shape[0]
    i0 = sample_index(cum, n, next_double(st) * cum[n - 1])
    for i in range(psi.shape[0]):
        psi[i] = kets[i0, i]


# --------------------------------------------------------------------------- accumulation
@njit(cache=True, nogil=True, inline="always")
def accumulate(acc, first, i, j, x):
    """Add x at [i, j] of the `Accumulator` acc: shifted sum of x - K and the componentwise
    square of it (K = the value of the block's first trajectory, set when first is True)."""
    shift = acc.shift
    if first:
        shift[i, j] = x
    y = x - shift[i, j]
    acc.sum[i, j] += y
    acc.sumsq[i, j] += complex(y.real * y.real, y.imag * y.imag)


# --------------------------------------------------------------------------- no-jump norm
@njit(cache=True, nogil=True, inline="always")
def coefficient_norm(prop, s, work):
    """n = w^dag G w and dn/dt = 2 Re (lam w)^dag G w for coefficients w (segment s)."""
    d = work.shape[0]
    lam = prop.lam
    n = 0.0
    dn = 0.0
    if prop.normal[s]:  # V unitary, G = identity
        for i in range(d):
            a2 = work[i].real ** 2 + work[i].imag ** 2
            n += a2
            dn += 2.0 * lam[s, i].real * a2
        return n, dn
    G = prop.gram
    for i in range(d):
        gi = 0j
        for j in range(d):
            gi += G[s, i, j] * work[j]
        wc = work[i].conjugate()
        n += (wc * gi).real
        dn += 2.0 * (wc * lam[s, i].conjugate() * gi).real
    return n, dn


@njit(cache=True, nogil=True, inline="always")
def norm_and_slope(prop, s, c, dt, work):
    """n and dn/dt at t_ref + dt; leaves w = c exp(lam dt) in `work`."""
    lam = prop.lam
    for i in range(c.shape[0]):
        if c[i] == 0:   # states often live in one symmetry sector: skip the others' modes
            work[i] = 0
            continue
        a = math.exp(lam[s, i].real * dt)
        w = lam[s, i].imag * dt
        if w == 0.0:
            work[i] = c[i] * a
        else:
            work[i] = c[i] * complex(a * math.cos(w), a * math.sin(w))
    return coefficient_norm(prop, s, work)


@njit(cache=True, nogil=True, inline="always")
def norm_normal(prop, s, c, dt):
    """n and dn/dt for a normal H_eff: n(t) = sum_i |c_i|^2 exp(2 Re lam_i dt) (real
    exponentials only; none at dt = 0)."""
    lam = prop.lam
    n = 0.0
    dn = 0.0
    for i in range(c.shape[0]):
        if c[i] != 0:
            g = 2.0 * lam[s, i].real
            x = c[i].real ** 2 + c[i].imag ** 2
            if dt != 0.0:
                x *= math.exp(g * dt)
            n += x
            dn += g * x
    return n, dn


@njit(cache=True, nogil=True, inline="always")
def jump_time(prop, s, c, r, a, b, tref, work):
    """Root of n(t) = r in [a, b], where n(a) > r >= n(b) (absolute times, c given at tref).

    Safeguarded Newton on log n(t) - log r, started at a.  For a normal H_eff, log n(t) is
    convex, so the iterates increase monotonically to the root (quadratic convergence); in
    general, steps leaving the bracket fall back to bisection.  `work` is scratch.
    """
    logr = math.log(r)
    normal = prop.normal[s]
    t = a
    for _ in range(200):
        if normal:
            n, dn = norm_normal(prop, s, c, t - tref)
        else:
            n, dn = norm_and_slope(prop, s, c, t - tref, work)
        t, a, b, done = root_update(t, a, b, n, dn, logr)
        if done:
            return t
    return t


@njit(cache=True, nogil=True, inline="always")
def root_update(t, a, b, n, dn, logr):
    """One safeguarded Newton step on log n(t) - log r towards the root in the bracket [a, b],
    given n(t) and dn/dt (shared by every propagator's jump-time search).

    Returns (t, a, b, done): the next iterate and bracket, done when t is the root to machine
    precision.  Steps leaving the bracket fall back to bisection."""
    if n <= 0.0:
        return 0.5 * (a + t), a, t, False
    f = math.log(n) - logr
    if f > 0.0:
        a = t
    elif f < 0.0:
        b = t
    else:
        return t, a, b, True
    tol = 4e-16 * max(1.0, abs(t))
    if dn < 0.0:
        tn = t - f * n / dn
        if abs(tn - t) <= tol:
            return t, a, b, True
    else:
        tn = 0.5 * (a + b)
    if not (a < tn < b):
        tn = 0.5 * (a + b)
    if (b - a) <= tol:
        return tn, a, b, True
    return tn, a, b, False


# --------------------------------------------------------------------------- heat
@njit(cache=True, nogil=True, inline="always")
def expected_jump_energy(chans, s, k, psi, Lpsi, wk, hpsi, u):
    """Heat of a jump of channel k from the normalised pre-jump ket psi (Lpsi = L_k psi,
    wk = |L_k psi|^2), H = chans.heat_H[s]:  q = (<L psi|H|L psi> - Re <L H psi|L psi>) / wk.

    Its mean over jumps is Tr[H D[L](rho)] per unit time, for any L (not only eigenoperators of
    H, for which q is the fixed transition energy): rate x q = <L^dag H L> - Re <H L^dag L>."""
    d = psi.shape[0]
    H = chans.heat_H
    for i in range(d):
        x = 0j
        for j in range(d):
            x += H[s, i, j] * psi[j]
        hpsi[i] = x
    csc_matvec(chans.ops, k, hpsi, u)
    a = 0.0
    b = 0.0
    for i in range(d):
        x = 0j
        for j in range(d):
            x += H[s, i, j] * Lpsi[j]
        a += (Lpsi[i].conjugate() * x).real
        b += (u[i].conjugate() * Lpsi[i]).real
    return (a - b) / wk
