"""The jump step: the one place where a ket evolves without jumps, jumps, and is renormalised.

Every stochastic kernel (quantum jumps, protocols, collision models, the coherence machine)
advances its ket only through these functions, so a change of how jumps happen is made here
once.  State of a trajectory between calls: the eigen-coefficients `ket.c` at a reference time
t_ref (see `structs.Propagators`) and the jump threshold r in (0, 1].  Per call:

1. `jump_step(..., t_stop)`: the no-jump norm n at t_stop.  If n > r, no jump happens before
   t_stop: returns k = -1 and leaves the coefficients c(t_stop) in `ket.work`.  Otherwise the
   exact jump time t_j (n(t_j) = r) is found, the ket there is normalised, channel k of the
   segment is drawn with probability |L_k psi|^2 / sum_j |L_j psi|^2, psi <- L_k psi / |L_k psi|,
   a new threshold is drawn, and (k, t_j, ...) is returned; the caller sets t_ref = t_j and
   calls again.
2. `settle(..., n)` after a step that returned k = -1: the ket is renormalised at t_stop
   (c <- c(t_stop) / sqrt(n), r <- r / n, an exact rewrite of the waiting-time law that keeps
   numbers O(1)), and psi = V c if the caller needs the ket (to record it, to collide it or to
   switch segment).
"""

from __future__ import annotations

import math

from numba import njit

from ..rng import next_double, next_open
from .krylov import krylov_evolve
from .primitives import (coefficient_norm, csc_matvec, expected_jump_energy, jump_time,
                         norm_and_slope, norm_normal, sample_index)
from .structs import (REC_BATH, REC_CHANNEL, REC_CYCLE, REC_HEAT, REC_SEGMENT, REC_TIME,
                      REC_TRAJ)

__all__ = ["jump_step", "run_jumps", "settle", "coefficients_to_ket", "ket_to_coefficients",
           "no_jump_norm"]

# Performance note.  With Numba's reference counting on, every read of an array out of a named
# tuple costs an atomic increment and decrement, which in these loops costs more than the
# arithmetic.  The kernels are therefore compiled without it (`_nrt=False`), which forbids them
# to allocate: all work arrays are made on the Python side (`structs.new_ket_scratch`,
# `structs.new_jump_records`) and passed in.  `jump_step` and `run_jumps` are compiled once
# as functions of their own (inlining them into every kernel at Numba's level doubled the
# compile time); the small helpers are inlined.


@njit(cache=True, nogil=True, inline="always")
def coefficients_to_ket(prop, s, c, psi):
    """psi = V_s c."""
    if prop.diagonal[s]:
        for i in range(c.shape[0]):
            psi[i] = c[i]
    else:
        csc_matvec(prop.V, s, c, psi)


@njit(cache=True, nogil=True, inline="always")
def ket_to_coefficients(prop, s, psi, c):
    """c = V_s^-1 psi."""
    if prop.diagonal[s]:
        for i in range(c.shape[0]):
            c[i] = psi[i]
    else:
        csc_matvec(prop.Vinv, s, psi, c)


@njit(cache=True, nogil=True, inline="always")
def no_jump_norm(prop, s, c, dt, r, work, factors, row):
    """Squared no-jump norm n at t_ref + dt; when n > r, `work` holds c exp(lam dt).

    factors[row] = exp(lam dt), if row >= 0, saves the exponentials (fixed output steps).  For a
    normal H_eff the real exponentials decide first and the complex ones are computed only when
    no jump comes before t_ref + dt."""
    if row >= 0:
        for i in range(c.shape[0]):
            work[i] = c[i] * factors[row, i]
        return coefficient_norm(prop, s, work)[0]
    if prop.normal[s]:
        n = norm_normal(prop, s, c, dt)[0]
        if n <= r:
            return n
    return norm_and_slope(prop, s, c, dt, work)[0]


@njit(cache=True, nogil=True, _nrt=False)
def jump_step(prop, chans, s, st, ket, tref, r, t_stop, factors, row):
    """Evolve the ket of segment s from tref towards t_stop; jump if its norm reaches r first.

    Parameters: prop (`Propagators`), chans (`Channels`), s segment index, st random stream,
    ket (`KetScratch`, coefficients in ket.c at tref), r threshold, factors/row precomputed
    exponentials for t_stop - tref (row -1: none).

    Returns (k, t, n, r, q): k = -1 with t = t_stop, n = the norm there (ket.work = c(t_stop),
    r unchanged, q = 0); or the channel k that jumped at time t, n the norm just before the jump,
    r the new threshold, q the heat of the jump (chans.energy[k], or the state-dependent estimator
    when chans.heat_H is given).  After a jump ket.psi is the normalised post-jump ket and ket.c
    its coefficients.
    """
    k0 = chans.first[s]
    k1 = chans.first[s + 1]
    # without channels no jump can happen: always compute c(t_stop) (threshold -1)
    r_eff = r if k1 > k0 else -1.0
    if prop.krylov[s]:
        tj, nj, crossed = krylov_evolve(prop, s, ket.c, tref, r_eff, t_stop, ket.work,
                                        ket.basis, ket.hess, ket.small)
        if not crossed:
            return -1, t_stop, nj, r, 0.0
    else:
        n = no_jump_norm(prop, s, ket.c, t_stop - tref, r_eff, ket.work, factors, row)
        if n > r or k1 == k0:
            return -1, t_stop, n, r, 0.0
        tj = jump_time(prop, s, ket.c, r, tref, t_stop, tref, ket.work)
        nj = norm_and_slope(prop, s, ket.c, tj - tref, ket.work)[0]
    psi = ket.psi
    tmp = ket.tmp
    d = psi.shape[0]
    coefficients_to_ket(prop, s, ket.work, psi)
    scale = 1.0 / math.sqrt(nj)
    for i in range(d):
        psi[i] *= scale
    tot = 0.0
    for k in range(k0, k1):
        csc_matvec(chans.ops, k, psi, tmp)
        w = 0.0
        for i in range(d):
            w += tmp[i].real ** 2 + tmp[i].imag ** 2
        tot += w
        ket.weights[k - k0] = tot
    kl = sample_index(ket.weights, k1 - k0, next_double(st) * tot)
    k = k0 + kl
    csc_matvec(chans.ops, k, psi, tmp)
    wk = ket.weights[kl] - (ket.weights[kl - 1] if kl > 0 else 0.0)
    if chans.heat_H.shape[0] > 0:
        q = expected_jump_energy(chans, s, k, psi, tmp, wk, ket.hpsi, ket.tmp2)
    else:
        q = chans.energy[k]
    scale = 1.0 / math.sqrt(wk)
    for i in range(d):
        psi[i] = tmp[i] * scale
    ket_to_coefficients(prop, s, psi, ket.c)
    return k, tj, nj, next_open(st), q


@njit(cache=True, nogil=True, inline="always")
def settle(prop, chans, s, ket, n, r, want_ket):
    """Renormalise at the stop time of a jump-free `jump_step`: c <- c(t_stop) / sqrt(n) and
    r <- r / n (when the segment has channels); psi = V c if want_ket.  Returns r."""
    scale = 1.0 / math.sqrt(n)
    for i in range(ket.c.shape[0]):
        ket.c[i] = ket.work[i] * scale
    if chans.first[s + 1] > chans.first[s]:
        r = r / n
    if want_ket:
        coefficients_to_ket(prop, s, ket.c, ket.psi)
    return r


@njit(cache=True, nogil=True, _nrt=False)
def run_jumps(prop, chans, s, st, ket, tref, r, t_stop, factors, row, counts, heat, keep,
              records, nrec, traj, cycle, t_offset):
    """All jumps of segment s from tref up to t_stop, by `jump_step` after `jump_step`.

    Each jump of channel k adds 1 to counts[k] and its heat to heat[chans.bath[k]]; with keep,
    it is recorded in records (`JumpRecords`) at index nrec: (traj, cycle, s, k, bath) and
    (t_offset + time, heat).  factors/row as in `jump_step` (used for the first step only).

    Returns (n, r, nrec): the no-jump norm at t_stop (ket.work holds the coefficients there;
    call `settle` next), the threshold, and the number of recorded jumps, or -1 if records is
    full (the caller reruns with more room).
    """
    while True:
        k, t, n, r, q = jump_step(prop, chans, s, st, ket, tref, r, t_stop, factors, row)
        if k < 0:
            return n, r, nrec
        row = int(-1)     # a plain int64 (one compiled jump_step)
        tref = t
        counts[k] += 1
        b = chans.bath[k]
        heat[b] += q
        if keep:
            if nrec == records.ints.shape[1]:
                return n, r, -1
            records.ints[REC_TRAJ, nrec] = traj
            records.ints[REC_CYCLE, nrec] = cycle
            records.ints[REC_SEGMENT, nrec] = s
            records.ints[REC_CHANNEL, nrec] = k
            records.ints[REC_BATH, nrec] = b
            records.floats[REC_TIME, nrec] = t_offset + t
            records.floats[REC_HEAT, nrec] = q
            nrec += 1
