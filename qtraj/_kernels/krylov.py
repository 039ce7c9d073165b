"""The Krylov no-jump propagator: exact-to-tolerance evolution under a large, sparse or
defective H_eff, with the jump time located inside a step.

Within one step of length h from the ket psi (norm beta), the Arnoldi process builds an
orthonormal basis V (m vectors) of the Krylov space of A = -i H_eff and the Hessenberg matrix
H_m = V^dag A V; then psi(tau) ~ beta V exp(H_m tau) e_1 for 0 <= tau <= h, with the a posteriori
error estimate beta h_{m+1,m} |e_m^T exp(H_m h) e_1| (Saad 1992) kept below `tol` beta by the
choice of h.  Because V is orthonormal, the no-jump norm inside the step is
n(tau) = beta^2 |exp(H_m tau) e_1|^2 and dn/dtau = 2 beta^2 Re(y^dag H_m y): the crossing
n(tau) = r is found by safeguarded Newton iteration in the m-dimensional space, to machine
precision of that approximation.  exp(H_m tau) e_1 is a Taylor series in sub-steps of norm
<= 1/2 (H_m is small; no allocation, so it runs inside the reference-count-free kernels).

A ket is carried as itself (the propagator's basis is the identity).
"""

from __future__ import annotations

import math

from numba import njit

from .primitives import csc_matvec, root_update

__all__ = ["arnoldi", "expv_small", "small_norm_and_slope", "krylov_evolve"]


@njit(cache=True, nogil=True, _nrt=False)
def arnoldi(A, s, v, beta, basis, hess, m_max):
    """Orthonormal Krylov basis of A_s from v (norm beta) into basis[0..m], Hessenberg matrix
    into hess (modified Gram-Schmidt, one reorthogonalisation).  Returns (m, h_next): the basis
    size and h_{m+1,m} (0 on a happy breakdown: the space is invariant, the step exact)."""
    d = v.shape[0]
    for i in range(d):
        basis[0, i] = v[i] / beta
    for a in range(m_max + 1):
        for b in range(m_max):
            hess[a, b] = 0.0
    for j in range(m_max):
        w = basis[j + 1]
        csc_matvec(A, s, basis[j], w)
        wn0 = 0.0
        for i in range(d):
            wn0 += w[i].real ** 2 + w[i].imag ** 2
        for rep in range(2):
            for i2 in range(j + 1):
                h = 0j
                for i in range(d):
                    h += basis[i2, i].conjugate() * w[i]
                hess[i2, j] += h
                for i in range(d):
                    w[i] -= h * basis[i2, i]
        wn = 0.0
        for i in range(d):
            wn += w[i].real ** 2 + w[i].imag ** 2
        wn = math.sqrt(wn)
        if wn <= 1e-13 * max(math.sqrt(wn0), 1e-300):
            return j + 1, 0.0
        hess[j + 1, j] = wn
        for i in range(d):
            w[i] /= wn
    return m_max, hess[m_max, m_max - 1].real


@njit(cache=True, nogil=True, _nrt=False)
def expv_small(hess, m, tau, y, term, acc):
    """y = exp(H tau) e_1 for the leading m x m block H of hess (Taylor series in sub-steps of
    norm <= 1/2, each summed until the terms fall below 1e-17 of the sum)."""
    norm1 = 0.0
    for b in range(m):
        col = 0.0
        for a in range(m):
            col += abs(hess[a, b])
        norm1 = max(norm1, col)
    nsub = max(1, int(math.ceil(2.0 * norm1 * abs(tau))))
    delta = tau / nsub
    for a in range(m):
        y[a] = 0.0
    y[0] = 1.0
    for _ in range(nsub):
        for a in range(m):
            term[a] = y[a]
            acc[a] = y[a]
        for kk in range(1, 40):
            # term <- H term delta / kk (term holds the previous term; y used as scratch)
            for a in range(m):
                x = 0j
                for b in range(max(a - 1, 0), m):
                    x += hess[a, b] * term[b]
                y[a] = x * (delta / kk)
            small = 0.0
            big = 0.0
            for a in range(m):
                term[a] = y[a]
                acc[a] += term[a]
                small += term[a].real ** 2 + term[a].imag ** 2
                big += acc[a].real ** 2 + acc[a].imag ** 2
            if small <= 1e-34 * big:
                break
        for a in range(m):
            y[a] = acc[a]


@njit(cache=True, nogil=True, _nrt=False)
def small_norm_and_slope(hess, m, beta, tau, y, term, acc):
    """n(tau) = beta^2 |y|^2 and dn/dtau = 2 beta^2 Re(y^dag H y), y = exp(H tau) e_1 (left in
    y)."""
    expv_small(hess, m, tau, y, term, acc)
    n = 0.0
    dn = 0.0
    for a in range(m):
        n += y[a].real ** 2 + y[a].imag ** 2
        x = 0j
        for b in range(max(a - 1, 0), m):
            x += hess[a, b] * y[b]
        dn += (y[a].conjugate() * x).real
    return beta * beta * n, 2.0 * beta * beta * dn


@njit(cache=True, nogil=True, _nrt=False)
def _crossing(hess, m, beta, r, h, y, term, acc):
    """tau in (0, h] with n(tau) = r, where n(0) = beta^2 > r >= n(h) (safeguarded Newton on
    log n, as the eigen propagator's root)."""
    logr = math.log(r)
    a = 0.0
    b = h
    t = 0.0
    for _ in range(200):
        n, dn = small_norm_and_slope(hess, m, beta, t, y, term, acc)
        t, a, b, done = root_update(t, a, b, n, dn, logr)
        if done:
            return t
    return t


@njit(cache=True, nogil=True, _nrt=False)
def krylov_evolve(prop, s, c, tref, r, t_stop, work, basis, hess, small):
    """No-jump evolution of the ket c (at tref) under segment s's Krylov propagator, towards
    t_stop, stopping where the squared norm reaches r (r < 0: never).

    Returns (t, n, crossed): the time reached (t_stop, or the crossing), the squared norm there
    (relative to |c|^2 at tref), and whether the threshold was crossed; work holds the ket at t.
    """
    d = c.shape[0]
    m_max = hess.shape[1]
    tol = prop.krylov_tol[s]
    y = small[0]
    term = small[1]
    acc = small[2]
    for i in range(d):
        work[i] = c[i]
    t = tref
    h_try = t_stop - tref
    while True:
        beta2 = 0.0
        for i in range(d):
            beta2 += work[i].real ** 2 + work[i].imag ** 2
        if t >= t_stop or beta2 == 0.0:
            return t_stop, beta2, False
        beta = math.sqrt(beta2)
        m, h_next = arnoldi(prop.A, s, work, beta, basis, hess, m_max)
        rest = t_stop - t
        h = min(h_try, rest)
        while True:
            expv_small(hess, m, h, y, term, acc)
            err = beta * h_next * abs(y[m - 1]) if h_next > 0.0 else 0.0
            if err <= tol * beta or h <= 1e-14 * max(1.0, abs(t)):
                break
            h *= max(0.2, 0.9 * (tol * beta / err) ** (1.0 / m))
        n_end = 0.0
        for a in range(m):
            n_end += y[a].real ** 2 + y[a].imag ** 2
        n_end *= beta2
        crossed = n_end <= r
        if crossed:
            h = _crossing(hess, m, beta, r, h, y, term, acc)
            expv_small(hess, m, h, y, term, acc)
        for i in range(d):
            x = 0j
            for a in range(m):
                x += basis[a, i] * y[a]
            work[i] = beta * x
        t = t_stop if (h == rest and not crossed) else t + h
        if crossed:
            n = 0.0
            for i in range(d):
                n += work[i].real ** 2 + work[i].imag ** 2
            return t, n, True
        h_try = 2.0 * h
