"""Collision-model trajectories (the kernels of `CollisionModel.simulate`).

* `pure_block` — the system is a ket.  Between Poisson arrivals it advances through
  `step.run_jumps` (its own channels' jumps compete with the next arrival); at an arrival it is
  renormalised (`step.settle`) and collides (`collide`: draw |a_n>, measure the ancilla, Born
  rule).  A system with H_eff = 0 does nothing between arrivals, so all collisions up to the next
  output time run in one call (`collide_until`, with a qubit branch that keeps the amplitudes in
  registers: a function call per collision would cost more than a qubit collision itself).
* `density_block` — the system is a density matrix: exact exp(L0 dt) in the eigen-coefficients
  of L0, the collision map at each arrival; only the arrival times are random.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..rng import next_double, next_exponential, next_open, seed_stream
from .primitives import accumulate, draw_initial, matvec, sample_index
from .step import ket_to_coefficients, run_jumps, settle

__all__ = ["collide", "collide_until", "pure_block", "density_block"]


@njit(cache=True, nogil=True, inline="always")
def _energy_before(coll, psi, n):
    """E(a_n) (two-point) or <a_n|H_a|a_n> - psi^dag W[n] psi (= minus the <H_a> change)."""
    if coll.two_point:
        return coll.e_before[n]
    d = psi.shape[0]
    q = 0.0
    for i in range(d):
        x = 0j
        for j in range(d):
            x += coll.W[n, i, j] * psi[j]
        q += (psi[i].conjugate() * x).real
    return coll.e_before[n] - q


@njit(cache=True, nogil=True, _nrt=False)
def collide(coll, st, psi, phi):
    """One collision on the normalised ket psi (overwritten); returns the energy into the system.

    Draw |a_n> (prob. p_n), then the outcome m with Born weight ||K_nm psi||^2 (only outcomes
    kidx[n, :kcount[n]] that can occur), psi -> K_nm psi / norm.
    """
    d = psi.shape[0]
    na = coll.ancilla_cum.shape[0]
    n = sample_index(coll.ancilla_cum, na, next_double(st) * coll.ancilla_cum[na - 1])
    energy = _energy_before(coll, psi, n) if coll.energy_on else 0.0
    u = next_double(st)
    acc = 0.0
    w = 0.0
    chosen = -1
    last = 0
    for rep in range(2):  # second pass only if u exceeds the rounded total
        for jm in range(coll.kcount[n]):
            m = coll.kidx[n, jm] if rep == 0 else last
            w = 0.0
            for i in range(d):
                x = 0j
                for j in range(d):
                    x += coll.kraus[n, m, i, j] * psi[j]
                phi[i] = x
                w += x.real * x.real + x.imag * x.imag
            if rep == 1 or w > 0.0:
                last = m
                acc += w
                if rep == 1 or u < acc:
                    chosen = m
                    break
        if chosen >= 0:
            break
    scale = 1.0 / math.sqrt(w)
    for i in range(d):
        psi[i] = phi[i] * scale
    if coll.energy_on and coll.two_point:
        energy -= coll.e_after[chosen]
    return energy


@njit(cache=True, nogil=True, _nrt=False)
def collide_until(coll, st, psi, phi, t_arr, T):
    """All collisions of a static system (no evolution between arrivals) with t_arr <= T.

    Returns (next arrival time, collisions, energy).  Draws exactly the random numbers of
    repeated `collide` calls; the qubit loop body is written out (amplitudes in registers).
    """
    ncoll = 0
    energy = 0.0
    rate = coll.rate
    if psi.shape[0] != 2:
        while t_arr <= T:
            energy += collide(coll, st, psi, phi)
            ncoll += 1
            t_arr += next_exponential(st, rate)
        return t_arr, ncoll, energy
    p0 = psi[0]
    p1 = psi[1]
    anc_cum = coll.ancilla_cum
    kraus = coll.kraus
    Wn = coll.W
    na = anc_cum.shape[0]
    energy_on = coll.energy_on
    tpm = coll.two_point
    while t_arr <= T:
        u = next_double(st) * anc_cum[na - 1]
        n = 0
        while n < na - 1 and u >= anc_cum[n]:
            n += 1
        if energy_on:
            if tpm:
                energy += coll.e_before[n]
            else:
                y0 = Wn[n, 0, 0] * p0 + Wn[n, 0, 1] * p1
                y1 = Wn[n, 1, 0] * p0 + Wn[n, 1, 1] * p1
                energy += coll.e_before[n] - (p0.conjugate() * y0 + p1.conjugate() * y1).real
        u = next_double(st)
        acc = 0.0
        w = 0.0
        x0 = 0j
        x1 = 0j
        chosen = -1
        last = 0
        for rep in range(2):
            for jm in range(coll.kcount[n]):
                m = coll.kidx[n, jm] if rep == 0 else last
                x0 = kraus[n, m, 0, 0] * p0 + kraus[n, m, 0, 1] * p1
                x1 = kraus[n, m, 1, 0] * p0 + kraus[n, m, 1, 1] * p1
                w = x0.real * x0.real + x0.imag * x0.imag + x1.real * x1.real + x1.imag * x1.imag
                if rep == 1 or w > 0.0:
                    last = m
                    acc += w
                    if rep == 1 or u < acc:
                        chosen = m
                        break
            if chosen >= 0:
                break
        scale = 1.0 / math.sqrt(w)
        p0 = x0 * scale
        p1 = x1 * scale
        if energy_on and tpm:
            energy -= coll.e_after[chosen]
        ncoll += 1
        t_arr += next_exponential(st, rate)
    psi[0] = p0
    psi[1] = p1
    return t_arr, ncoll, energy


@njit(cache=True, nogil=True, inline="always")
def _record_state(out, sums, first, it, x, a, b, d):
    """State entry rho[a, b] = x at output it: shifted sums, or the bin sum (time average)."""
    if out.time_average:
        bn = out.bin_of[it]
        if bn >= 0:
            sums.rho.sum[bn, a * d + b] += x
    else:
        accumulate(sums.rho, first, it, a * d + b, x)


@njit(cache=True, nogil=True, inline="always")
def _record_scalar(out, acc, first, r, it, x):
    """Record r at output it: shifted sums (ensemble) or the raw value (time average)."""
    if out.time_average:
        acc.sum[r, it] = x
        return
    if first:
        acc.shift[r, it] = x
    y = x - acc.shift[r, it]
    acc.sum[r, it] += y
    acc.sumsq[r, it] += y * y


@njit(cache=True, nogil=True, _nrt=False)
def pure_block(prop, chans, init, coll, out, sums, ket, no_records, key, start, stop):
    """Pure-state collision trajectories start..stop-1 (see module docstring).

    Ensemble mode adds shifted sums over trajectories at each output time; time-average mode
    (one trajectory) sums the state into bins and stores the cumulative records at every
    output time.  ket: `KetScratch` with a tally row per bath of the system; no_records: an
    empty `JumpRecords` (system jumps are counted, not recorded).
    """
    d = prop.lam.shape[1]
    times = out.times
    nt = times.shape[0]
    K = chans.bath.shape[0]
    cnt = ket.counts
    for traj in range(start, stop):
        st = ket.stream
        seed_stream(key, traj, st)
        first = traj == start
        draw_initial(init, st, ket.psi)
        ket_to_coefficients(prop, 0, ket.psi, ket.c)
        tref = times[0]
        r = next_open(st) if coll.system_jumps else 0.0
        t_arr = times[0] + next_exponential(st, coll.rate)
        ncoll = 0
        energy = 0.0
        cnt[:] = 0
        for it in range(nt):
            T = times[it]
            n = 1.0
            if coll.static_system:  # V = 1, coefficients are the ket: collisions only
                t_arr, nc, en = collide_until(coll, st, ket.c, ket.tmp, t_arr, T)
                ncoll += nc
                energy += en
                for i in range(d):
                    ket.work[i] = ket.c[i]
            else:
                while True:
                    # jumps of the system's own channels up to the next arrival (or T)
                    tev = t_arr if t_arr <= T else T
                    n, r, _ = run_jumps(prop, chans, int(0), st, ket, tref, r, tev,
                                        ket.no_factors, int(-1), cnt, ket.tally[0], bool(False),
                                        no_records, int(0), traj, int(0), 0.0)
                    if t_arr > T:
                        break
                    # arrival at t_arr: the ket there (renormalised, threshold rescaled)
                    r = settle(prop, chans, 0, ket, n, r, True)
                    energy += collide(coll, st, ket.psi, ket.tmp)
                    ncoll += 1
                    ket_to_coefficients(prop, 0, ket.psi, ket.c)
                    tref = t_arr
                    t_arr += next_exponential(st, coll.rate)
            # output time T: ket.work holds c(T)
            r = settle(prop, chans, 0, ket, n, r, out.store_states)
            tref = T
            if out.store_states:
                for a in range(d):
                    for b in range(d):
                        _record_state(out, sums, first, it, ket.psi[a] * ket.psi[b].conjugate(),
                                      a, b, d)
            _record_scalar(out, sums.records, first, 0, it, float(ncoll))
            _record_scalar(out, sums.records, first, 1, it, energy)
        for k in range(K):
            sums.counts[k] += cnt[k]
            sums.counts_sq[k] += cnt[k] * cnt[k]


@njit(cache=True, nogil=True, _nrt=False)
def density_block(dens, out, sums, work, key, start, stop):
    """Density-matrix collision trajectories start..stop-1: exact exp(L0 dt) in the eigen-
    coefficients c of L0 (vec(rho) = R c), collisions c -> S c, energy Re(energy_row . c).
    work: `KetScratch` of dimension D = d^2 (its c, tmp, psi and stream are used)."""
    D = dens.mu.shape[0]
    d = int(round(math.sqrt(D)))
    times = out.times
    nt = times.shape[0]
    c = work.c
    tmp = work.tmp
    v = work.psi
    for traj in range(start, stop):
        st = work.stream
        seed_stream(key, traj, st)
        first = traj == start
        for i in range(D):
            c[i] = dens.c0[i]
        tref = times[0]
        t_arr = times[0] + next_exponential(st, dens.rate)
        ncoll = 0
        energy = 0.0
        for it in range(nt):
            T = times[it]
            while t_arr <= T:
                if not dens.static:
                    for i in range(D):
                        c[i] *= np.exp(dens.mu[i] * (t_arr - tref))
                if dens.energy_on:
                    e = 0j
                    for i in range(D):
                        e += dens.energy_row[i] * c[i]
                    energy += e.real
                matvec(dens.collision, c, tmp)
                for i in range(D):
                    c[i] = tmp[i]
                ncoll += 1
                tref = t_arr
                t_arr += next_exponential(st, dens.rate)
            if not dens.static:
                for i in range(D):
                    c[i] *= np.exp(dens.mu[i] * (T - tref))
            tref = T
            if out.store_states:
                matvec(dens.R, c, v)
                for a in range(d):
                    for col in range(d):
                        # column stacking: vec(rho)[a + col d] = rho[a, col]
                        _record_state(out, sums, first, it, v[a + col * d], a, col, d)
            _record_scalar(out, sums.records, first, 0, it, float(ncoll))
            _record_scalar(out, sums.records, first, 1, it, energy)
