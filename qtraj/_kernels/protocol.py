"""Quantum-jump trajectories through a piecewise-constant cycle (the kernel of
`Protocol.simulate`).

Within segment s the ket advances through `step.run_jumps` (the jump step) with that segment's
propagator and channels; at the end of the segment it is renormalised (`step.settle`: the jump
threshold is carried over as r / n, an exact rewrite of the waiting-time law, so no jump is lost
or invented at a boundary) and the Hamiltonian switches, which costs the work
<psi|H_next - H_s|psi>.
"""

from __future__ import annotations

from numba import njit

from ..rng import next_open, seed_stream
from .primitives import accumulate, draw_initial
from .step import ket_to_coefficients, run_jumps, settle

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
    d = psi.shape[0]
    w = 0.0
    for i in range(d):
        x = 0j
        for j in range(d):
            x += (H[nx, i, j] - H[s, i, j]) * psi[j]
        w += (psi[i].conjugate() * x).real
    return w


@njit(cache=True, nogil=True, _nrt=False)
def protocol_block(prop, chans, init, spec, sums, ket, records, key, start, stop):
    """Trajectories start..stop-1 over spec.n_cycles cycles of the S segments.

    Row b = cycle * S + s of sums.segment holds [heat per bath..., work of the switch] of
    segment s; sums.cycle per cycle; sums.cumulative and sums.rho at boundary b + 1 (row 0 =
    start).  With spec.keep_jumps, every jump's (traj, cycle, segment, channel, bath) and
    (time, heat) go to records; returns their number, or -1 if records is too small (the
    caller enlarges it and reruns the block).
    """
    S = spec.durations.shape[0]
    K = chans.bath.shape[0]
    nb = sums.cycle.sum.shape[1] - 1
    psi = ket.psi
    cnt = ket.counts
    heat_cum = ket.tally[0]           # cumulative [heat per bath..., work]
    seg_x = ket.tally[1]
    cyc_x = ket.tally[2]
    nrec = int(0)
    for traj in range(start, stop):
        st = ket.stream
        seed_stream(key, traj, st)
        first = traj == start
        draw_initial(init, st, psi)
        r = next_open(st)
        cnt[:] = 0
        heat_cum[:] = 0.0
        if spec.store_states:
            _record_state(psi, first, 0, sums.rho)
        for m in range(nb + 1):
            accumulate(sums.cumulative, first, 0, m, 0j)
        t_seg = 0.0
        for cyc in range(spec.n_cycles):
            cyc_x[:] = 0.0
            for sg in range(S):
                tau = spec.durations[sg]
                seg_x[:] = 0.0
                ket_to_coefficients(prop, sg, psi, ket.c)
                n, r, nrec = run_jumps(prop, chans, sg, st, ket, 0.0, r, tau, ket.no_factors,
                                       int(-1), cnt, seg_x, spec.keep_jumps, records, nrec,
                                       traj, cyc, t_seg)
                if nrec < 0:
                    return -1
                # end of the segment: renormalise (exact rewrite of the threshold) ...
                r = settle(prop, chans, sg, ket, n, r, True)
                # ... and switch the Hamiltonian: work <psi|H_next - H_s|psi>
                seg_x[nb] = _switch_work(spec.H, sg, (sg + 1) % S, psi, ket.hpsi, ket.tmp)
                row = cyc * S + sg
                for m in range(nb + 1):
                    cyc_x[m] += seg_x[m]
                    heat_cum[m] += seg_x[m]
                    accumulate(sums.segment, first, row, m, complex(seg_x[m], 0.0))
                    accumulate(sums.cumulative, first, row + 1, m, complex(heat_cum[m], 0.0))
                if spec.store_states:
                    _record_state(psi, first, row + 1, sums.rho)
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
    return nrec
