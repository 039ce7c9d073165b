"""Quantum-jump trajectories of a time-independent model (the kernel of `qt.mcsolve`).

Between output times the ket advances through `step.run_jumps` (the jump step, jump after
jump); at each output time it is renormalised (`step.settle`), and the state, the e_ops and the
heat counted so far are added to the block's shifted sums.  The output-step exponentials are
precomputed (`JumpOutputs.step_factors`) because consecutive output times without a jump in
between are the common case.
"""

from __future__ import annotations

from numba import njit

from ..rng import next_open, seed_stream
from .primitives import accumulate, draw_initial
from .step import ket_to_coefficients, run_jumps, settle

__all__ = ["jump_block"]


@njit(cache=True, nogil=True, inline="always")
def record_outputs(out, sums, psi, first, it, heat):
    """Add the state |psi><psi| (if stored), <psi|E_m|psi> of every e_op and the cumulative
    heat per bath at output index it to the block's sums."""
    d = psi.shape[0]
    if out.store_states:
        for a in range(d):
            for b in range(d):
                accumulate(sums.rho, first, it, a * d + b, psi[a] * psi[b].conjugate())
    for b in range(sums.heat.sum.shape[0]):   # heat from each bath up to T, jump by jump
        accumulate(sums.heat, first, b, it, complex(heat[b], 0.0))
    acc = sums.expect
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


@njit(cache=True, nogil=True, _nrt=False)
def jump_block(prop, chans, init, out, sums, ket, records, key, start, stop):
    """Trajectories start..stop-1 of the one-segment model (prop, chans) from the mixture init.

    Adds to `sums` (`JumpSums`); with out.keep_jumps, records every jump in `records`
    (`JumpRecords`, rows REC_TRAJ ... REC_HEAT).  Returns the number of jumps
    recorded, or -1 if records is too small (the caller enlarges it and reruns the block: the
    trajectories depend only on (key, index)).  Heat: each jump adds its heat q (see
    `jump_step`) to its bath; the cumulative heat per bath is recorded at every output time.
    """
    times = out.times
    nt = times.shape[0]
    K = chans.bath.shape[0]
    psi = ket.psi
    cnt = ket.counts
    heat = ket.tally[0]
    nrec = int(0)             # int(): a plain int64, not a literal (one compiled run_jumps)
    for traj in range(start, stop):
        st = ket.stream
        seed_stream(key, traj, st)
        first = traj == start
        draw_initial(init, st, psi)
        ket_to_coefficients(prop, 0, psi, ket.c)
        tref = times[0]
        r = next_open(st)
        cnt[:] = 0
        heat[:] = 0.0
        for it in range(nt):
            T = times[it]
            row = it - 1 if (it > 0 and tref == times[it - 1]) else -1
            n, r, nrec = run_jumps(prop, chans, int(0), st, ket, tref, r, T, out.step_factors,
                                   int(row), cnt, heat, out.keep_jumps, records, nrec, traj,
                                   int(0), 0.0)
            if nrec < 0:
                return -1
            # renormalise at T (exact rewrite: same jump times) and record the state
            r = settle(prop, chans, 0, ket, n, r, True)
            tref = T
            record_outputs(out, sums, psi, first, it, heat)
        for k in range(K):
            sums.counts[k] += cnt[k]
            sums.counts_sq[k] += cnt[k] * cnt[k]
    return nrec
