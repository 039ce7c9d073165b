"""Quantum-jump trajectories through a piecewise-constant cycle (the kernel of
`Protocol.simulate`).

Within segment s the ket advances through `step.jump_step` with that segment's propagator and
channels; at the end of the segment it is renormalised (`step.settle`: the jump threshold is
carried over as r / n, an exact rewrite of the waiting-time law, so no jump is lost or invented
at a boundary) and the Hamiltonian switches, which costs the work <psi|H_next - H_s|psi>.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..rng import next_open, stream_state
from .primitives import accumulate, draw_initial, matvec
from .step import jump_step, ket_to_coefficients, settle
from .structs import new_ket_scratch

__all__ = ["protocol_block"]


@njit(cache=True, nogil=True, inline="always")
def _record_state(psi, first, row, acc):
    d = psi.shape[0]
    for a in range(d):
        for b in range(d):
            accumulate(acc, first, row, a * d + b, psi[a] * psi[b].conjugate())


@njit(cache=True, nogil=True, inline="always")
def _switch_work(H, s, nx, psi, hpsi, tmp):
    """<psi|H[nx] - H[s]|psi>."""
    matvec(H[nx], psi, hpsi)
    matvec(H[s], psi, tmp)
    w = 0.0
    for i in range(psi.shape[0]):
        w += (psi[i].conjugate() * (hpsi[i] - tmp[i])).real
    return w


@njit(cache=True, nogil=True)
def protocol_block(prop, chans, init, spec, sums, key, start, stop):
    """Trajectories start..stop-1 over spec.n_cycles cycles of the S segments.

    Row b = cycle * S + s of sums.segment holds [heat per bath..., work of the switch] of
    segment s; sums.cycle per cycle; sums.cumulative and sums.rho at boundary b + 1 (row 0 =
    start).  Returns the jump records (int rows: traj, cycle, segment, channel, bath; float
    rows: time, heat) when spec.keep_jumps.
    """
    S = spec.durations.shape[0]
    d = prop.lam.shape[1]
    K = chans.bath.shape[0]
    nb = sums.cycle.sum.shape[1] - 1
    ket = new_ket_scratch(d, K)
    no_factors = np.empty((0, d), np.complex128)
    cnt = np.zeros(max(K, 1), np.int64)
    heat_cum = np.zeros(nb + 1)       # cumulative [heat per bath..., work]
    seg_x = np.zeros(nb + 1)
    cyc_x = np.zeros(nb + 1)
    cap = 16 if spec.keep_jumps else 1
    j_int = np.empty((5, cap), np.int64)
    j_flt = np.empty((2, cap))
    nrec = 0
    for traj in range(start, stop):
        st = stream_state(key, traj)
        first = traj == start
        draw_initial(init, st, ket.psi)
        r = next_open(st)
        cnt[:] = 0
        heat_cum[:] = 0.0
        if spec.store_states:
            _record_state(ket.psi, first, 0, sums.rho)
        for m in range(nb + 1):
            accumulate(sums.cumulative, first, 0, m, 0j)
        t_seg = 0.0
        for cyc in range(spec.n_cycles):
            cyc_x[:] = 0.0
            for sg in range(S):
                tau = spec.durations[sg]
                seg_x[:] = 0.0
                ket_to_coefficients(prop, sg, ket.psi, ket.c)
                tref = 0.0
                while True:
                    k, t, n, r, q = jump_step(prop, chans, sg, st, ket, tref, r, tau,
                                              no_factors, -1)
                    if k < 0:
                        break
                    tref = t
                    cnt[k] += 1
                    seg_x[chans.bath[k]] += q
                    if spec.keep_jumps:
                        if nrec == j_flt.shape[1]:
                            j_int = np.concatenate((j_int, np.empty((5, nrec), np.int64)),
                                                   axis=1)
                            j_flt = np.concatenate((j_flt, np.empty((2, nrec))), axis=1)
                        j_int[0, nrec] = traj
                        j_int[1, nrec] = cyc
                        j_int[2, nrec] = sg
                        j_int[3, nrec] = k
                        j_int[4, nrec] = chans.bath[k]
                        j_flt[0, nrec] = t_seg + t
                        j_flt[1, nrec] = q
                        nrec += 1
                # end of the segment: renormalise (exact rewrite of the threshold) ...
                r = settle(prop, chans, sg, ket, n, r, True)
                # ... and switch the Hamiltonian: work <psi|H_next - H_s|psi>
                seg_x[nb] = _switch_work(spec.H, sg, (sg + 1) % S, ket.psi, ket.hpsi, ket.tmp)
                row = cyc * S + sg
                for m in range(nb + 1):
                    cyc_x[m] += seg_x[m]
                    heat_cum[m] += seg_x[m]
                    accumulate(sums.segment, first, row, m, complex(seg_x[m], 0.0))
                    accumulate(sums.cumulative, first, row + 1, m, complex(heat_cum[m], 0.0))
                if spec.store_states:
                    _record_state(ket.psi, first, row + 1, sums.rho)
                t_seg += tau
            for m in range(nb + 1):
                accumulate(sums.cycle, first, cyc, m, complex(cyc_x[m], 0.0))
        for m in range(nb + 1):
            accumulate(sums.totals, first, 0, m, complex(heat_cum[m], 0.0))
            for m2 in range(nb + 1):
                accumulate(sums.pairs, first, m, m2, complex(heat_cum[m] + heat_cum[m2], 0.0))
        for k in range(K):
            sums.counts[k] += cnt[k]
            sums.counts_sq[k] += cnt[k] * cnt[k]
    return j_int[:, :nrec].copy(), j_flt[:, :nrec].copy()
