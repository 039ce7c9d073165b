"""Shot-by-shot coherence machine: the Numba kernel and the picklable job.

One machine, or a line of equal machines that each atom crosses in turn.

Unravelling.  Each machine is a pure 4-dim ket.  Between arrivals it evolves by quantum jumps
of its two baths with exact jump times, through the jump step shared by every qtraj solver
(`qtraj._kernels.step`; the machine's no-jump Hamiltonian is diagonal, so its propagator needs
no change of basis).  Atoms arrive at Poisson times
(rate r).  At an arrival the first machine meets a pure atom |a_n> drawn from the
eigen-decomposition of rho_a (probability p_n); the joint ket Psi = U (psi (x) a) is formed, the
atom's reduced state rho_out = Tr_m |Psi><Psi| is recorded together with the kick
rho_out - rho_in (rho_in = |a><a|), and the machine's pre-collision state |psi><psi| is recorded
too.  Then:
* the last machine of the line (the only one for a single machine) measures the atom in a fixed
  basis (default: energy basis), Born rule, and keeps its conditional ket;
* every other machine passes the atom on: Psi is split along its Schmidt decomposition
  Psi = sum_s sqrt(l_s) |m_s>|e_s> (e_s = eigenvectors of rho_out): s is drawn with probability
  l_s, the machine keeps |m_s> and the atom continues as |e_s>.  Averaged over s the machine
  gets Tr_a|Psi><Psi| and the atom carries rho_out, so each machine's marginal dynamics and each
  atom's state are exact; quantum correlations between machines (which the Eq. 16 iteration of
  Manzano, Silva & Parrondo (2019) neglects) become classical ones.  `measure="schmidt"` uses
  this split for the last machine too.

Reductions.  Each trajectory (a burn-in, then `n_rec` recorded collisions) yields, per machine
j, a vector y_j of per-trajectory quantities (layout below: the constants N_COLL ... JUMPS).  A
block of trajectories returns only n, sum_i (y_i - c) and sum_i (y_i - c)(y_i - c)^T per machine,
c = `MachineJob.centre` a reference fixed before the run (see `make_job`), so block results do
not grow with the number of trajectories and merge by addition (in block order: the same bits
for any n_jobs and batch size).  Centring at c keeps the second moments free of cancellation
(the recorded time, for instance, has mean n_rec / r and a spread ~ sqrt(n_rec) / r).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from ... import kernel_inputs as ki
from ..._kernels.step import ket_to_coefficients, run_jumps, settle
from ..._kernels.structs import Channels, Propagators, new_jump_records
from ...rng import next_double, next_exponential, next_open, root_key, seed_stream
from ...validation import as_state

__all__ = ["MachineJob", "make_job", "N_COLL", "TIME", "KICK", "CUM_BEFORE", "OUT", "PI",
           "JUMPS", "layout_size"]

# --------------------------------------------------------------------------- layout of y_j
#: recorded collisions N_i of the trajectory (the same for every machine)
N_COLL = 0
#: recorded time T_i of the trajectory (the same for every machine)
TIME = 1
#: mean kick of machine j, mean of rho_out - rho_in over the recorded collisions, as
#: (00, Re 01, Im 01)
KICK = slice(2, 5)
#: sum of the mean kicks of the machines before j (zero for the first): the kick the atom
#: carries into machine j
CUM_BEFORE = slice(5, 8)
#: mean rho_out of machine j as (00, Re 01, Im 01)
OUT = slice(8, 11)
#: mean pre-collision |psi><psi| of machine j: 16 real parts then 16 imaginary parts, row major
PI = slice(11, 43)
#: jump counts of each bath channel of machine j (the rest of the vector)
JUMPS = slice(43, None)


def layout_size(n_channels: int) -> int:
    """Length of the per-machine vector y_j for a machine with n_channels bath channels."""
    return PI.stop + int(n_channels)


_KICK0, _CUM0, _OUT0, _PI0, _JUMPS0 = KICK.start, CUM_BEFORE.start, OUT.start, PI.start, \
    JUMPS.start


# =========================================================================== kernel
class LineScratch(NamedTuple):
    """Work arrays of the machine kernel (made on the Python side: the kernel allocates
    nothing)."""

    psi: np.ndarray          # (M, d) ket of each machine
    threshold: np.ndarray    # (M,) jump threshold of each machine
    counts: np.ndarray       # (M, K) int64 recorded jumps of each machine's channels
    parts: np.ndarray        # (3, d) the atom-resolved parts P0, P1 of U (psi x a) and a result


def new_line_scratch(n_machines: int, d: int, n_channels: int) -> LineScratch:
    """Work arrays for a line of n_machines d-level machines with n_channels bath channels."""
    return LineScratch(np.zeros((n_machines, d), np.complex128), np.zeros(n_machines),
                       np.zeros((n_machines, max(n_channels, 1)), np.int64),
                       np.zeros((3, d), np.complex128))


@njit(cache=True, nogil=True, inline="always")
def _evolve(prop, chans, ket, no_records, st, psi, j, r, dt, cnt, rec):
    """Advance machine j's normalised ket psi[j] by dt of bath dynamics through the shared jump
    step (no-jump decay, exact jump times, channel choice).  Returns the rescaled threshold;
    jumps are counted in cnt[j] if rec."""
    d = psi.shape[1]
    for i in range(d):
        ket.tmp[i] = psi[j, i]
    ket_to_coefficients(prop, 0, ket.tmp, ket.c)
    counts = cnt[j] if rec else ket.counts      # jumps of the burn-in are not recorded
    n, r, _ = run_jumps(prop, chans, int(0), st, ket, 0.0, r, dt, ket.no_factors, int(-1),
                        counts, ket.tally[0], bool(False), no_records, int(0), int(0), int(0),
                        0.0)
    r = settle(prop, chans, 0, ket, n, r, True)
    for i in range(d):
        psi[j, i] = ket.psi[i]
    return r


@njit(cache=True, nogil=True, _nrt=False)
def _machine_block(prop, chans, ket, no_records, line, rate, anc_cum, anc_kets, cond0, Ublk, B,
                   schmidt_last, cum0, kets0, n_burn, n_rec, key, start, stop, ys):
    """Trajectories start..stop-1 of n_machines = ys.shape[1] machines in a line.

    ys (stop - start, n_machines, layout_size(K)), zero on entry: ys[t, j] receives the
    per-trajectory vector of machine j in trajectory start + t (layout: N_COLL ... JUMPS).
    """
    M = ys.shape[1]
    d = prop.lam.shape[1]
    K = chans.bath.shape[0]
    psi = line.psi
    rj = line.threshold
    cnt = line.counts
    P0 = line.parts[0]
    P1 = line.parts[1]
    x = line.parts[2]
    na = anc_cum.shape[0]
    for traj in range(start, stop):
        t = traj - start
        s = ket.stream
        seed_stream(key, traj, s)
        for j in range(M):
            i0 = 0
            u = next_double(s) * cum0[cum0.shape[0] - 1]
            while i0 < cum0.shape[0] - 1 and u >= cum0[i0]:
                i0 += 1
            for i in range(d):
                psi[j, i] = kets0[i0, i]
            rj[j] = next_open(s)
        cnt[:, :] = 0
        T = 0.0
        for icoll in range(n_burn + n_rec):
            rec = icoll >= n_burn
            dt = next_exponential(s, rate)
            if rec:
                T += dt
            # the atom entering the line
            u = next_double(s) * anc_cum[na - 1]
            n = 0
            while n < na - 1 and u >= anc_cum[n]:
                n += 1
            a0 = anc_kets[n, 0]
            a1 = anc_kets[n, 1]
            for j in range(M):
                pj = psi[j]
                rj[j] = _evolve(prop, chans, ket, no_records, s, psi, j, rj[j], dt, cnt, rec)
                # Psi = U (psi (x) a): components P_m = (1 (x) <m|) Psi, m = 0, 1 (energy basis)
                if j == 0:      # tabulated <m|U|a_n> for the drawn input states
                    for i in range(d):
                        y0 = 0j
                        y1 = 0j
                        for k in range(d):
                            y0 += cond0[n, 0, i, k] * pj[k]
                            y1 += cond0[n, 1, i, k] * pj[k]
                        P0[i] = y0
                        P1[i] = y1
                else:
                    for i in range(d):
                        y0 = 0j
                        y1 = 0j
                        for k in range(d):
                            v = pj[k]
                            y0 += (Ublk[0, 0, i, k] * a0 + Ublk[0, 1, i, k] * a1) * v
                            y1 += (Ublk[1, 0, i, k] * a0 + Ublk[1, 1, i, k] * a1) * v
                        P0[i] = y0
                        P1[i] = y1
                r00 = 0.0
                r11 = 0.0
                r01 = 0j
                for i in range(d):
                    r00 += P0[i].real ** 2 + P0[i].imag ** 2
                    r11 += P1[i].real ** 2 + P1[i].imag ** 2
                    r01 += P0[i] * P1[i].conjugate()      # <0|rho_out|1> = <P1|P0>
                if rec:
                    yj = ys[t, j]
                    in00 = a0.real ** 2 + a0.imag ** 2
                    in01 = a0 * a1.conjugate()
                    yj[_KICK0] += r00 - in00
                    yj[_KICK0 + 1] += r01.real - in01.real
                    yj[_KICK0 + 2] += r01.imag - in01.imag
                    yj[_OUT0] += r00
                    yj[_OUT0 + 1] += r01.real
                    yj[_OUT0 + 2] += r01.imag
                    for a in range(d):
                        for b in range(d):
                            z = pj[a] * pj[b].conjugate()
                            yj[_PI0 + a * d + b] += z.real
                            yj[_PI0 + d * d + a * d + b] += z.imag
                if j < M - 1 or schmidt_last:
                    # Schmidt split: eigenvectors of rho_out = [[r00, r01], [r01*, r11]]
                    tr = r00 + r11
                    h = 0.5 * (r00 - r11)
                    rad = math.sqrt(h * h + r01.real ** 2 + r01.imag ** 2)
                    lp = 0.5 * tr + rad
                    if next_double(s) * tr < lp:
                        lsel = lp
                        sgn = 1.0
                    else:
                        lsel = 0.5 * tr - rad
                        sgn = -1.0
                    # eigenvector (e0, e1) of eigenvalue h*sgn + tr/2 (relative to the trace/2)
                    if rad == 0.0:
                        e0 = complex(1.0 if sgn > 0 else 0.0, 0.0)
                        e1 = complex(0.0 if sgn > 0 else 1.0, 0.0)
                    elif h * sgn >= 0.0:
                        e0 = complex(h + sgn * rad, 0.0)
                        e1 = r01.conjugate()
                        nn = math.sqrt(e0.real ** 2 + e1.real ** 2 + e1.imag ** 2)
                        e0 = e0 / nn
                        e1 = e1 / nn
                    else:
                        e0 = r01
                        e1 = complex(sgn * rad - h, 0.0)
                        nn = math.sqrt(e0.real ** 2 + e0.imag ** 2 + e1.real ** 2)
                        e0 = e0 / nn
                        e1 = e1 / nn
                    nrm = 0.0
                    for i in range(d):
                        y = e0.conjugate() * P0[i] + e1.conjugate() * P1[i]
                        x[i] = y
                        nrm += y.real ** 2 + y.imag ** 2
                    if nrm <= 0.0:
                        nrm = lsel
                    scale = 1.0 / math.sqrt(nrm)
                    for i in range(d):
                        pj[i] = x[i] * scale
                    a0 = e0
                    a1 = e1
                else:
                    # measurement of the atom in the basis B[:, m] (Born rule)
                    b0 = B[0, 0].conjugate()
                    b1 = B[1, 0].conjugate()
                    n0 = 0.0
                    for i in range(d):
                        y = b0 * P0[i] + b1 * P1[i]
                        x[i] = y
                        n0 += y.real ** 2 + y.imag ** 2
                    nrm = n0
                    if not (next_double(s) * (r00 + r11) < n0):
                        b0 = B[0, 1].conjugate()
                        b1 = B[1, 1].conjugate()
                        n1 = 0.0
                        for i in range(d):
                            n1 += abs(b0 * P0[i] + b1 * P1[i]) ** 2
                        if n1 > 0.0:
                            nrm = n1
                            for i in range(d):
                                x[i] = b0 * P0[i] + b1 * P1[i]
                    scale = 1.0 / math.sqrt(nrm)
                    for i in range(d):
                        pj[i] = x[i] * scale
        # sums over the recorded collisions -> per-trajectory means
        N = float(n_rec)
        for j in range(M):
            yj = ys[t, j]
            yj[N_COLL] = N
            yj[TIME] = T
            for i in range(3):
                yj[_KICK0 + i] /= N
                yj[_OUT0 + i] /= N
                if j > 0:
                    yj[_CUM0 + i] = ys[t, j - 1, _CUM0 + i] + ys[t, j - 1, _KICK0 + i]
            for i in range(2 * d * d):
                yj[_PI0 + i] /= N
            for k in range(K):
                yj[_JUMPS0 + k] = cnt[j, k]


# =========================================================================== job
@dataclass
class MachineJob:
    """Picklable worker job: `run_block(start, stop)` runs whole trajectories in one call and
    returns their reductions (see the module docstring): {"n": number of trajectories,
    "sum": (n_machines, p) sum of y - centre, "sumsq": (n_machines, p, p) sum of
    (y - centre)(y - centre)^T}, p = layout_size(K).  Its size does not depend on the number of
    trajectories."""

    propagators: Propagators
    channels: Channels
    rate: float
    anc_cum: np.ndarray
    anc_kets: np.ndarray
    cond0: np.ndarray
    Ublk: np.ndarray
    B: np.ndarray
    schmidt_last: bool
    cum0: np.ndarray
    kets0: np.ndarray
    n_machines: int
    n_burn: int
    n_rec: int
    key: np.ndarray
    centre: np.ndarray
    block_size: int = 1

    def per_trajectory(self, start: int, stop: int) -> np.ndarray:
        """The per-trajectory vectors y of trajectories start..stop-1:
        (stop - start, n_machines, p)."""
        ys = np.zeros((stop - start, self.n_machines, self.centre.shape[0]))
        d, K = self.propagators.lam.shape[1], self.channels.bath.shape[0]
        ket = ki.ket_scratch(self.propagators, self.channels)
        _machine_block(self.propagators, self.channels, ket, new_jump_records(0),
                       new_line_scratch(self.n_machines, d, K), self.rate, self.anc_cum,
                       self.anc_kets, self.cond0, self.Ublk, self.B, self.schmidt_last,
                       self.cum0, self.kets0, self.n_burn, self.n_rec, self.key, start, stop, ys)
        return ys

    def run_block(self, start: int, stop: int) -> dict:
        z = self.per_trajectory(start, stop) - self.centre
        return {"n": np.array(stop - start), "sum": z.sum(axis=0),
                "sumsq": np.einsum("tjp,tjq->jpq", z, z)}

    @property
    def block_bytes(self) -> int:
        """Size of one block's reductions."""
        p = self.centre.shape[0]
        return 8 * (1 + self.n_machines * p * (p + 1))


def _c(a, dtype=complex):
    return np.ascontiguousarray(np.asarray(a, dtype=dtype))


def make_job(machine, n_rec: int, n_burn: int, seed=0, n_machines: int = 1, state0="thermal",
             measure="energy") -> tuple[MachineJob, np.random.SeedSequence]:
    """Precompute everything the kernel needs.

    Parameters
    ----------
    machine : Machine
        The machine (read: lindblad, rho_a, U, rate, n1, n2, steady_state()).
    n_rec, n_burn : int
        Recorded and discarded collisions per trajectory.
    seed : int or numpy.random.SeedSequence
        Root seed; trajectory i draws from stream (seed, i).
    n_machines : int
        Machines in the line.
    state0 : "thermal", "steady", ket or density matrix
        Initial machine state (see `simulate_machine`).
    measure : "energy", "schmidt" or (2, 2) unitary
        How the last machine measures the atom (see the module docstring).

    Returns
    -------
    job : MachineJob
    seed_sequence : numpy.random.SeedSequence

    Raises
    ------
    ValueError
        For an unknown `measure` or `state0`.

    Notes
    -----
    The reference `centre` subtracted before the sums: recorded collisions n_rec, recorded time
    n_rec / r, rho_out at rho_a, |psi><psi| at the machine's steady state, zero for the kicks
    and the jump counts (their means are small compared with their spread, and counts are exact
    integers).

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state
    >>> m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    >>> job, _ = make_job(m, n_rec=1000, n_burn=100)
    >>> job.run_block(0, 1)["sum"].shape
    (1, 47)
    """
    L0 = machine.lindblad
    p, A = np.linalg.eigh(machine.rho_a)
    keep = p > 1e-14
    p, A = p[keep] / p[keep].sum(), A[:, keep]
    U = machine.U.reshape(4, 2, 4, 2)                 # U[i, m, k, b] = <i m|U|k b>
    Ublk = np.ascontiguousarray(U.transpose(1, 3, 0, 2))   # Ublk[m, b, i, k]
    if isinstance(measure, str):
        if measure == "energy":
            B, schmidt = np.eye(2, dtype=complex), False
        elif measure == "schmidt":
            B, schmidt = np.eye(2, dtype=complex), True
        else:
            raise ValueError(f"measure must be 'energy', 'schmidt' or a 2x2 unitary, "
                             f"got {measure!r}")
    else:
        B, schmidt = _c(measure), False
        if B.shape != (2, 2) or not np.allclose(B.conj().T @ B, np.eye(2), atol=1e-10):
            raise ValueError("measure basis must be a 2x2 unitary (columns = basis kets)")
    if isinstance(state0, str):
        if state0 == "thermal":
            rho0 = _bath_gibbs(machine)
        elif state0 == "steady":
            rho0 = machine.steady_state()
        else:
            raise ValueError(f"state0 must be 'thermal', 'steady' or a state, got {state0!r}")
    else:
        rho0 = as_state(state0, 4, "state0")
    w, Q = np.linalg.eigh(rho0)
    k0 = w > 1e-14
    ss, key = root_key(seed)
    cond0 = np.einsum("mbik,bn->nmik", Ublk, A)         # <m|U|a_n> on the machine
    cum0 = _c(np.cumsum(w[k0] / w[k0].sum()), float)
    centre = np.zeros(layout_size(len(L0.channels)))
    centre[N_COLL] = n_rec
    centre[TIME] = n_rec / machine.rate
    rho_a = machine.rho_a
    centre[OUT] = rho_a[0, 0].real, rho_a[0, 1].real, rho_a[0, 1].imag
    pi = machine.steady_state()
    centre[PI] = np.concatenate([pi.real.ravel(), pi.imag.ravel()])
    job = MachineJob(ki.propagators_of([L0]), ki.channels([L0]), float(machine.rate),
                     _c(np.cumsum(p), float),
                     _c(A.T), _c(cond0), Ublk, B, bool(schmidt), cum0, _c(Q[:, k0].T),
                     int(n_machines), int(n_burn), int(n_rec), key, centre)
    return job, ss


def _bath_gibbs(machine) -> np.ndarray:
    """Product of the two qubits' bath Gibbs states (the machine without atoms)."""
    def q(n):
        return np.diag([(n + 1) / (2 * n + 1), n / (2 * n + 1)])
    return np.kron(q(machine.n1), q(machine.n2)).astype(complex)


