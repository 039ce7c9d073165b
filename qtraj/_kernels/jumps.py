"""Quantum-jump trajectories of a time-independent model (the kernel of `qt.mcsolve`).

Between output times the ket advances through `step.jump_step`; at each output time it is
renormalised (`step.settle`), and the state, the e_ops and the heat counted so far are added to
the block's shifted sums.  The output-step exponentials are precomputed (`JumpOutputs.step_factors`)
because consecutive output times without a jump in between are the common case.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..rng import next_open, stream_state
from .primitives import accumulate, csc_matvec, draw_initial
from .step import jump_step, ket_to_coefficients, settle
from .structs import new_ket_scratch

__all__ = ["jump_block"]


@njit(cache=True, nogil=True, inline="always")
def _record_expectations(out, psi, first, it, acc):
    """Add <psi|E_m|psi> of every e_op at output index it."""
    d = psi.shape[0]
    idiag = 0
    idense = 0
    for m in range(out.e_isdiag.shape[0]):
        x = 0j
        if out.e_isdiag[m]:  # diagonal e_op (e.g. populations): sum_i E_ii |psi_i|^2
            for i in range(d):
                x += out.e_diag[idiag, i] * (psi[i].real ** 2 + psi[i].imag ** 2)
            idiag += 1
        else:
            for i in range(d):
                y = 0j
                for j in range(d):
                    y += out.e_dense[idense, i, j] * psi[j]
                x += psi[i].conjugate() * y
            idense += 1
        accumulate(acc, first, m, it, x)


@njit(cache=True, nogil=True)
def jump_block(prop, chans, init, out, sums, key, start, stop):
    """Trajectories start..stop-1 of the one-segment model (prop, chans) from the mixture init.

    Adds to `sums` (`JumpSums`) and returns (traj, time, channel) arrays of every jump when
    out.keep_jumps (empty otherwise).  Heat: each jump adds its heat q (see `jump_step`) to its
    bath; the cumulative heat per bath is recorded at every output time.
    """
    d = prop.lam.shape[1]
    times = out.times
    nt = times.shape[0]
    K = chans.bath.shape[0]
    nb = sums.heat.sum.shape[0]
    ket = new_ket_scratch(d, K)
    cnt = np.zeros(max(K, 1), np.int64)
    heat = np.zeros(max(nb, 1))
    cap = 16 if out.keep_jumps else 1
    j_traj = np.empty(cap, np.int64)
    j_time = np.empty(cap)
    j_chan = np.empty(cap, np.int64)
    nrec = 0
    for traj in range(start, stop):
        st = stream_state(key, traj)
        first = traj == start
        draw_initial(init, st, ket.psi)
        ket_to_coefficients(prop, 0, ket.psi, ket.c)
        tref = times[0]
        r = next_open(st)
        cnt[:] = 0
        heat[:] = 0.0
        for it in range(nt):
            T = times[it]
            while True:
                row = it - 1 if (it > 0 and tref == times[it - 1]) else -1
                k, t, n, r, q = jump_step(prop, chans, 0, st, ket, tref, r, T,
                                          out.step_factors, row)
                if k < 0:
                    break
                tref = t
                cnt[k] += 1
                heat[chans.bath[k]] += q
                if out.keep_jumps:
                    if nrec == j_time.shape[0]:
                        j_traj = np.concatenate((j_traj, np.empty(nrec, np.int64)))
                        j_time = np.concatenate((j_time, np.empty(nrec)))
                        j_chan = np.concatenate((j_chan, np.empty(nrec, np.int64)))
                    j_traj[nrec] = traj
                    j_time[nrec] = t
                    j_chan[nrec] = k
                    nrec += 1
            # renormalise at T (exact rewrite: same jump times) and record the state
            r = settle(prop, chans, 0, ket, n, r, True)
            tref = T
            psi = ket.psi
            if out.store_states:
                for a in range(d):
                    for b in range(d):
                        accumulate(sums.rho, first, it, a * d + b, psi[a] * psi[b].conjugate())
            _record_expectations(out, psi, first, it, sums.expect)
            for b in range(nb):   # heat from each bath up to T, counted jump by jump
                accumulate(sums.heat, first, b, it, complex(heat[b], 0.0))
        for k in range(K):
            sums.counts[k] += cnt[k]
            sums.counts_sq[k] += cnt[k] * cnt[k]
    return j_traj[:nrec], j_time[:nrec], j_chan[:nrec]
