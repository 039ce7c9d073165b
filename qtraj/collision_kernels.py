"""Numba kernels of the collision unravellings (see collisions.py for the physics).

Whole trajectories per call: `_pure_block` (system ket; exact jump times of the system's own
channels competing with Poisson arrivals; Born-rule ancilla measurement) and `_density_block`
(system density matrix; exact exp(L0 dt) in the eigen-coefficients of L0).  Per collision only
small dense matvecs on precomputed tables: conditional maps K_nm = (1 x <b_m|) U (1 x |a_n>),
ancilla weights, energies.  A Numba function call per collision costs more than a qubit
collision itself (array reference counting), so static systems run all collisions up to the
next output time in one call, `_collide_until`, whose qubit branch keeps the amplitudes in
registers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .jumps import (_accumulate, _draw_initial, _jump_time, _matvec, _matvec_k, _norm_and_slope,
                    _sample_index)
from .rng import next_double, next_exponential, next_open, stream_state

@njit(cache=True, nogil=True, inline="always")
def _energy_before(psi, n, tpm, e_before, Wn):
    """E(a_n) (two-point) or <a_n|H_a|a_n> - psi^dag Wn[n] psi (= minus the <H_a> change)."""
    if tpm:
        return e_before[n]
    d = psi.shape[0]
    q = 0.0
    for i in range(d):
        x = 0j
        for j in range(d):
            x += Wn[n, i, j] * psi[j]
        q += (psi[i].conjugate() * x).real
    return e_before[n] - q


@njit(cache=True, nogil=True)
def _collide(s, psi, phi, anc_cum, kraus, kcount, kidx, tpm, e_before, e_after, Wn, energy_on):
    """One collision on the normalised ket psi (overwritten); returns the energy into the system.

    Draw |a_n> (prob. p_n), then the outcome m with Born weight ||K_nm psi||^2 (only outcomes
    kidx[n, :kcount[n]] that can occur), psi -> K_nm psi / norm.
    """
    d = psi.shape[0]
    n = _sample_index(anc_cum, next_double(s) * anc_cum[-1])
    energy = _energy_before(psi, n, tpm, e_before, Wn) if energy_on else 0.0
    u = next_double(s)
    acc = 0.0
    w = 0.0
    chosen = -1
    last = 0
    for rep in range(2):  # second pass only if u exceeds the rounded total
        for jm in range(kcount[n]):
            m = kidx[n, jm] if rep == 0 else last
            w = 0.0
            for i in range(d):
                x = 0j
                for j in range(d):
                    x += kraus[n, m, i, j] * psi[j]
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
    if energy_on and tpm:
        energy -= e_after[chosen]
    return energy


@njit(cache=True, nogil=True)
def _collide_until(s, psi, phi, t_arr, T, rate, anc_cum, kraus, kcount, kidx, tpm, e_before,
                   e_after, Wn, energy_on):
    """All collisions of a static system (no evolution between arrivals) with t_arr <= T.

    Returns (next arrival time, collisions, energy).  The loop body is written out (qubit
    amplitudes kept in registers) because a function call per collision costs more than the
    collision itself.
    """
    ncoll = 0
    energy = 0.0
    if psi.shape[0] != 2:
        while t_arr <= T:
            energy += _collide(s, psi, phi, anc_cum, kraus, kcount, kidx, tpm, e_before,
                               e_after, Wn, energy_on)
            ncoll += 1
            t_arr += next_exponential(s, rate)
        return t_arr, ncoll, energy
    p0 = psi[0]
    p1 = psi[1]
    na = anc_cum.shape[0]
    while t_arr <= T:
        u = next_double(s) * anc_cum[na - 1]
        n = 0
        while n < na - 1 and u >= anc_cum[n]:
            n += 1
        if energy_on:
            if tpm:
                energy += e_before[n]
            else:
                y0 = Wn[n, 0, 0] * p0 + Wn[n, 0, 1] * p1
                y1 = Wn[n, 1, 0] * p0 + Wn[n, 1, 1] * p1
                energy += e_before[n] - (p0.conjugate() * y0 + p1.conjugate() * y1).real
        u = next_double(s)
        acc = 0.0
        w = 0.0
        x0 = 0j
        x1 = 0j
        chosen = -1
        last = 0
        for rep in range(2):
            for jm in range(kcount[n]):
                m = kidx[n, jm] if rep == 0 else last
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
            energy -= e_after[chosen]
        ncoll += 1
        t_arr += next_exponential(s, rate)
    psi[0] = p0
    psi[1] = p1
    return t_arr, ncoll, energy


@njit(cache=True, nogil=True, inline="always")
def _record_rho(psi, first, tavg, b, it, rho_s, rho_q, rho_k):
    d = psi.shape[0]
    for a in range(d):
        for c in range(d):
            x = psi[a] * psi[c].conjugate()
            if tavg:
                if b >= 0:
                    rho_s[b, a * d + c] += x
            else:
                _accumulate(x, first, rho_k, rho_s, rho_q, it, a * d + c)


@njit(cache=True, nogil=True, inline="always")
def _record_scalar(x, first, tavg, r, it, rec_s, rec_q, rec_k):
    if tavg:
        rec_s[r, it] = x
        return
    if first:
        rec_k[r, it] = x
    y = x - rec_k[r, it]
    rec_s[r, it] += y
    rec_q[r, it] += y * y


@njit(cache=True, nogil=True)
def _pure_block(lam, V, Vinv, G, normal, has_jumps, evolves, Ls, cum0, kets0, times, rate,
                anc_cum, kraus, kcount, kidx, tpm, e_before, e_after, Wn, energy_on, key,
                start, stop, tavg, bin_of, store_states, rho_s, rho_q, rho_k, rec_s, rec_q,
                rec_k, counts, counts_sq):
    """Pure-state collision trajectories start..stop-1 (see module docstring).

    Ensemble mode accumulates shifted sums over trajectories at each output time; time-average
    mode (tavg, one trajectory) sums the state into bins bin_of[it] and stores the cumulative
    records at every output time.  Records: 0 = collisions so far, 1 = energy into the system.
    """
    d = lam.shape[0]
    nt = times.shape[0]
    K = Ls.shape[0]
    c = np.empty(d, np.complex128)
    psi = np.empty(d, np.complex128)
    work = np.empty(d, np.complex128)
    tmp = np.empty(d, np.complex128)
    cnt = np.zeros(K, np.int64)
    weights = np.empty(max(K, 1))
    for traj in range(start, stop):
        s = stream_state(key, traj)
        first = traj == start
        _draw_initial(cum0, kets0, s, psi)
        _matvec(Vinv, psi, c)
        tref = times[0]
        rj = next_open(s) if has_jumps else 0.0
        t_arr = times[0] + next_exponential(s, rate)
        ncoll = 0
        energy = 0.0
        cnt[:] = 0
        for it in range(nt):
            T = times[it]
            nev = 1.0
            if not (has_jumps or evolves):  # static system (V = 1): collisions only
                t_arr, nc, en = _collide_until(s, c, tmp, t_arr, T, rate, anc_cum, kraus, kcount,
                                               kidx, tpm, e_before, e_after, Wn, energy_on)
                ncoll += nc
                energy += en
                for i in range(d):
                    work[i] = c[i]
            while True:
                tev = t_arr if t_arr <= T else T
                if has_jumps:
                    nev = _norm_and_slope(c, lam, G, normal, tev - tref, work)[0]
                    if nev <= rj:  # a jump of L0's channels comes first
                        tj = _jump_time(c, lam, G, normal, rj, tref, tev, tref, work)
                        nj = _norm_and_slope(c, lam, G, normal, tj - tref, work)[0]
                        _matvec(V, work, psi)
                        scale = 1.0 / math.sqrt(nj)
                        for i in range(d):
                            psi[i] *= scale
                        tot = 0.0
                        for k in range(K):
                            _matvec_k(Ls, k, psi, tmp)
                            wk = 0.0
                            for i in range(d):
                                wk += tmp[i].real ** 2 + tmp[i].imag ** 2
                            tot += wk
                            weights[k] = tot
                        k = _sample_index(weights[:K], next_double(s) * tot)
                        _matvec_k(Ls, k, psi, tmp)
                        wk = weights[k] - (weights[k - 1] if k > 0 else 0.0)
                        scale = 1.0 / math.sqrt(wk)
                        for i in range(d):
                            psi[i] = tmp[i] * scale
                        _matvec(Vinv, psi, c)
                        tref = tj
                        rj = next_open(s)
                        cnt[k] += 1
                        continue
                elif evolves:
                    _norm_and_slope(c, lam, G, normal, tev - tref, work)
                else:
                    for i in range(d):
                        work[i] = c[i]
                if t_arr > T:
                    break
                # arrival at t_arr: state there (renormalised; threshold rescaled exactly)
                _matvec(V, work, psi)
                if has_jumps:
                    scale = 1.0 / math.sqrt(nev)
                    for i in range(d):
                        psi[i] *= scale
                    rj = rj / nev
                energy += _collide(s, psi, tmp, anc_cum, kraus, kcount, kidx, tpm, e_before,
                                   e_after, Wn, energy_on)
                ncoll += 1
                _matvec(Vinv, psi, c)
                tref = t_arr
                t_arr += next_exponential(s, rate)
            # output time T: work holds c(T)
            scale = 1.0 / math.sqrt(nev) if has_jumps else 1.0
            for i in range(d):
                c[i] = work[i] * scale
            if has_jumps:
                rj = rj / nev
            tref = T
            if store_states:
                _matvec(V, c, psi)
                _record_rho(psi, first, tavg, bin_of[it], it, rho_s, rho_q, rho_k)
            _record_scalar(float(ncoll), first, tavg, 0, it, rec_s, rec_q, rec_k)
            _record_scalar(energy, first, tavg, 1, it, rec_s, rec_q, rec_k)
        for k in range(K):
            counts[k] += cnt[k]
            counts_sq[k] += cnt[k] * cnt[k]


@njit(cache=True, nogil=True)
def _density_block(mu, R, c0, Sp, wR, static, times, rate, energy_on, key, start, stop, tavg,
                   bin_of, store_states, rho_s, rho_q, rho_k, rec_s, rec_q, rec_k):
    """Density-matrix collision trajectories start..stop-1: exact exp(L0 dt) in the eigen-
    coefficients c of L0 (vec(rho) = R c), collisions c -> Sp c, energy Re(wR . c)."""
    D = mu.shape[0]
    d = int(round(math.sqrt(D)))
    nt = times.shape[0]
    c = np.empty(D, np.complex128)
    tmp = np.empty(D, np.complex128)
    v = np.empty(D, np.complex128)
    for traj in range(start, stop):
        s = stream_state(key, traj)
        first = traj == start
        for i in range(D):
            c[i] = c0[i]
        tref = times[0]
        t_arr = times[0] + next_exponential(s, rate)
        ncoll = 0
        energy = 0.0
        for it in range(nt):
            T = times[it]
            while t_arr <= T:
                if not static:
                    for i in range(D):
                        c[i] *= np.exp(mu[i] * (t_arr - tref))
                if energy_on:
                    e = 0j
                    for i in range(D):
                        e += wR[i] * c[i]
                    energy += e.real
                _matvec(Sp, c, tmp)
                for i in range(D):
                    c[i] = tmp[i]
                ncoll += 1
                tref = t_arr
                t_arr += next_exponential(s, rate)
            if not static:
                for i in range(D):
                    c[i] *= np.exp(mu[i] * (T - tref))
            tref = T
            if store_states:
                _matvec(R, c, v)
                b = bin_of[it]
                for a in range(d):
                    for col in range(d):
                        x = v[a + col * d]  # column stacking: vec(rho)[a + col d] = rho[a, col]
                        if tavg:
                            if b >= 0:
                                rho_s[b, a * d + col] += x
                        else:
                            _accumulate(x, first, rho_k, rho_s, rho_q, it, a * d + col)
            _record_scalar(float(ncoll), first, tavg, 0, it, rec_s, rec_q, rec_k)
            _record_scalar(energy, first, tavg, 1, it, rec_s, rec_q, rec_k)
