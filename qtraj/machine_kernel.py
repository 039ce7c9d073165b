"""Shot-by-shot coherence machine (paper 004; PHYSICS.md section 3): Numba kernel, job and
estimators.  One machine, or an array of equal machines that each atom crosses in turn.

Unravelling.  Each machine is a pure 4-dim ket.  Between arrivals it evolves by quantum jumps
of its two baths with exact jump times: the no-jump Hamiltonian -i/2 sum_k L_k^dag L_k is
diagonal, so the no-jump norm is sum_i |psi_i|^2 exp(-Gamma_i t) and its crossing of the uniform
threshold is found by Newton's method (jumps._jump_time).  Atoms arrive at Poisson times (rate r).
At an arrival the first machine meets a pure atom |a_n> drawn from the eigen-decomposition of
rho_a (probability p_n); the joint ket Psi = U (psi (x) a) is formed, the atom's reduced state
rho_out = Tr_m |Psi><Psi| is recorded together with the kick rho_out - rho_in
(rho_in = |a><a|), and the machine's pre-collision state |psi><psi| is recorded too.  Then:
* the last machine of the line (the only one for a single machine) measures the atom in a fixed
  basis (default: energy basis), Born rule, and keeps its conditional ket;
* every other machine passes the atom on: Psi is split along its Schmidt decomposition
  Psi = sum_s sqrt(l_s) |m_s>|e_s> (e_s = eigenvectors of rho_out): s is drawn with probability
  l_s, the machine keeps |m_s> and the atom continues as |e_s>.  Averaged over s the machine
  gets Tr_a|Psi><Psi| and the atom carries rho_out, so each machine's marginal dynamics and each
  atom's state are exact; quantum correlations between machines (which Eq. 16 neglects,
  Appendix B 3) become classical ones.  `measure="schmidt"` uses this split for the last machine
  too.

Estimators (computed in `estimates`), all from independent trajectories, each a burn-in followed
by a fixed number of recorded collisions:
* pi_m: mean of the pre-collision machine state over collisions.  Poisson arrivals see time
  averages (PASTA), so this is the time-averaged machine state.
* output_kick = A(rho_a) - rho_a: mean of rho_out - rho_in (control variate: rho_in has the known
  mean rho_a and removes the O(1) spread of the drawn input states); output_state =
  rho_a + output_kick.  "output_state_naive" is the plain mean of rho_out (for comparison).
* coherence_rate Cdot_a = r [C(rho_a + kick) - C(rho_a)]: C is nonlinear, so its standard error
  is propagated by the delta method, Var = r^2 g^T Cov(kick) g, g = gradient of C at the
  estimated A(rho_a) with respect to (rho_00, Re rho_01, Im rho_01) (machine.coherence_gradient),
  evaluated per trajectory (linearised values g . k_i) and combined across trajectories.
* E_a = r Tr[H_a kick].  Q1, Q2: heat counted from bath jumps (each jump of s_k moves -E_k into
  the machine, s_k^dag +E_k), total heat over total recorded time (ratio estimator, delta-method
  error).  "Q1_state", "Q2_state" = Tr[H_m D_k(pi_m estimate)] (lower variance).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from .ensemble import run_ensemble
from . import kernel_inputs as ki
from ._kernels.step import jump_step, ket_to_coefficients, settle
from ._kernels.structs import Channels, Propagators, new_ket_scratch
from .results import EnsembleResult
from .rng import next_double, next_exponential, next_open, root_key, seed_info, stream_state
from .validation import as_count, as_state

__all__ = ["MachineJob", "make_job", "simulate_machine", "estimates", "default_burn_in"]


# =========================================================================== kernel
@njit(cache=True, nogil=True, _nrt=False)
def _evolve(prop, chans, ket, st, psi, j, r, dt, cnt, rec, no_factors):
    """Advance machine j's normalised ket psi[j] by dt of bath dynamics (the shared jump step:
    no-jump decay and exact jumps).  Returns the rescaled jump threshold.  Jumps are counted in
    cnt[j] if rec."""
    d = psi.shape[1]
    for i in range(d):
        ket.tmp[i] = psi[j, i]
    ket_to_coefficients(prop, 0, ket.tmp, ket.c)
    tref = 0.0
    while True:
        k, t, n, r, q = jump_step(prop, chans, 0, st, ket, tref, r, dt, no_factors, -1)
        if k < 0:
            break
        tref = t
        if rec:
            cnt[j, k] += 1.0
    r = settle(prop, chans, 0, ket, n, r, True)
    for i in range(d):
        psi[j, i] = ket.psi[i]
    return r


@njit(cache=True, nogil=True)
def _machine_block(prop, chans, ket, rate, anc_cum, anc_kets, cond0, Ublk, B, schmidt_last, cum0,
                   kets0, n_burn, n_rec, key, start, stop, scal, kick, outs, pis, jumps):
    """Trajectories start..stop-1 of n_machines = pis.shape[0] machines in a line.

    Per trajectory (column t = traj - start): scal[:, t] = (recorded collisions, recorded
    time); per machine j: kick[j, :, t], outs[j, :, t] sums of (rho_out - rho_in) and rho_out as
    (00, Re 01, Im 01); pis[j, :, t] sum of the pre-collision |psi><psi| (16 real parts then 16
    imaginary parts, row major); jumps[j, k, t] jump counts of channel k.
    """
    M = pis.shape[0]
    d = prop.lam.shape[1]
    K = chans.bath.shape[0]
    no_factors = ket.no_factors
    psi = np.empty((M, d), np.complex128)
    rj = np.empty(M)
    cnt = np.zeros((M, max(K, 1)))
    P0 = np.empty(d, np.complex128)
    P1 = np.empty(d, np.complex128)
    x = np.empty(d, np.complex128)
    na = anc_cum.shape[0]
    for traj in range(start, stop):
        t = traj - start
        s = stream_state(key, traj)
        for j in range(M):
            i0 = 0
            u = next_double(s) * cum0[-1]
            while i0 < cum0.shape[0] - 1 and u >= cum0[i0]:
                i0 += 1
            for i in range(d):
                psi[j, i] = kets0[i0, i]
            rj[j] = next_open(s)
        cnt[:, :] = 0.0
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
                rj[j] = _evolve(prop, chans, ket, s, psi, j, rj[j], dt, cnt, rec, no_factors)
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
                    in00 = a0.real ** 2 + a0.imag ** 2
                    in01 = a0 * a1.conjugate()
                    kick[j, 0, t] += r00 - in00
                    kick[j, 1, t] += r01.real - in01.real
                    kick[j, 2, t] += r01.imag - in01.imag
                    outs[j, 0, t] += r00
                    outs[j, 1, t] += r01.real
                    outs[j, 2, t] += r01.imag
                    for a in range(d):
                        for b in range(d):
                            z = pj[a] * pj[b].conjugate()
                            pis[j, a * d + b, t] += z.real
                            pis[j, d * d + a * d + b, t] += z.imag
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
        scal[0, t] = n_rec
        scal[1, t] = T
        for j in range(M):
            for k in range(K):
                jumps[j, k, t] = cnt[j, k]


# =========================================================================== job
@dataclass
class MachineJob:
    """Picklable worker job: `run_block(start, stop)` runs whole trajectories in one call."""

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
    block_size: int = 1

    def run_block(self, start: int, stop: int) -> dict:
        n, M, K = stop - start, self.n_machines, self.channels.bath.shape[0]
        scal = np.zeros((2, n))
        kick = np.zeros((M, 3, n))
        outs = np.zeros((M, 3, n))
        pis = np.zeros((M, 32, n))
        jumps = np.zeros((M, max(K, 1), n))
        _machine_block(self.propagators, self.channels,
                       new_ket_scratch(self.propagators.lam.shape[1], K), self.rate, self.anc_cum, self.anc_kets, self.cond0,
                       self.Ublk,
                       self.B, self.schmidt_last, self.cum0, self.kets0, self.n_burn,
                       self.n_rec, self.key, start, stop, scal, kick, outs, pis, jumps)
        return {"per_traj": (scal, kick, outs, pis, jumps)}


def _c(a, dtype=complex):
    return np.ascontiguousarray(np.asarray(a, dtype=dtype))


def make_job(machine, n_rec: int, n_burn: int, seed=0, n_machines: int = 1, state0="thermal",
             measure="energy") -> tuple[MachineJob, np.random.SeedSequence]:
    """Precompute everything the kernel needs (see module docstring)."""
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
    job = MachineJob(ki.propagators_of([L0]), ki.channels([L0]), float(machine.rate), _c(np.cumsum(p), float),
                     _c(A.T), _c(cond0), Ublk, B, bool(schmidt), cum0, _c(Q[:, k0].T),
                     int(n_machines), int(n_burn), int(n_rec), key)
    return job, ss


def _bath_gibbs(machine) -> np.ndarray:
    """Product of the two qubits' bath Gibbs states (the machine without atoms)."""
    def q(n):
        return np.diag([(n + 1) / (2 * n + 1), n / (2 * n + 1)])
    return np.kron(q(machine.n1), q(machine.n2)).astype(complex)


# =========================================================================== estimators
def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the last axis (independent trajectories)."""
    n = x.shape[-1]
    m = x.mean(axis=-1)
    se = x.std(axis=-1, ddof=1) / np.sqrt(n) if n > 1 else np.full_like(m, np.nan)
    return m, se


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum(num)/sum(den) over trajectories and its delta-method standard error."""
    n = den.shape[-1]
    q = num.sum(axis=-1) / den.sum()
    if n < 2:
        return q, np.full_like(q, np.nan)
    res = num - q[..., None] * den
    se = np.sqrt((res ** 2).sum(axis=-1) / (n * (n - 1))) / den.mean()
    return q, se


def _vec_to_mat(v):
    """(..., 3) (00, Re 01, Im 01) of a kick -> (..., 2, 2) traceless Hermitian."""
    v = np.asarray(v)
    out = np.zeros(v.shape[:-1] + (2, 2), complex)
    out[..., 0, 0] = v[..., 0]
    out[..., 1, 1] = -v[..., 0]
    out[..., 0, 1] = v[..., 1] + 1j * v[..., 2]
    out[..., 1, 0] = v[..., 1] - 1j * v[..., 2]
    return out


def _se_mat(vse):
    """Standard errors (..., 3) -> (..., 2, 2) (real part = SE of Re, imaginary = SE of Im)."""
    vse = np.asarray(vse)
    out = np.zeros(vse.shape[:-1] + (2, 2), complex)
    out[..., 0, 0] = vse[..., 0]
    out[..., 1, 1] = vse[..., 0]
    out[..., 0, 1] = vse[..., 1] + 1j * vse[..., 2]
    out[..., 1, 0] = vse[..., 1] + 1j * vse[..., 2]
    return out


def _coherence_and_se(rho_a, cum_kicks):
    """C(rho_a + mean kick) per machine and delta-method SEs of the values and of the
    differences C^(j) - C^(j-1); cum_kicks: (M, 3, n) per-trajectory cumulative mean kicks.
    Delta method: C(rho_a + mean_i k_i) ~ C(rho_a + kbar) + g . (mean_i k_i - kbar), g the
    gradient at the estimate, so its standard error is that of the mean of g . k_i."""
    from .models.machine import coherence, coherence_gradient
    M = cum_kicks.shape[0]
    C = np.empty(M)
    lin = np.empty((M, cum_kicks.shape[-1]))
    for j in range(M):
        km = cum_kicks[j].mean(axis=-1)
        rho = rho_a + _vec_to_mat(km)
        C[j] = coherence(0.5 * (rho + rho.conj().T))
        try:
            g = coherence_gradient(rho)
        except ValueError:
            g = np.full(3, np.nan)
        lin[j] = g @ cum_kicks[j]
    C0 = coherence(rho_a)
    dC = np.diff(np.concatenate([[C0], C]))
    dlin = np.diff(np.concatenate([np.zeros((1, lin.shape[1])), lin]), axis=0)
    return C, _mean_se(lin)[1], dC, _mean_se(dlin)[1]


def estimates(machine, per_traj, n_machines: int = 1) -> dict:
    """Records (estimates and "_stderr") from the per-trajectory sums (see module docstring)."""
    from .models.machine import kick_to_vector
    scal, kick, outs, pis, jumps = per_traj
    N = scal[0]                                  # recorded collisions per trajectory
    T = scal[1]
    r = machine.rate
    M = n_machines
    kmean = kick / N                             # (M, 3, n) per-trajectory mean kick
    cum = np.cumsum(kmean, axis=0)               # kick accumulated along the line
    rec = {}
    km, kse = _mean_se(kmean)
    rec["output_kick"], rec["output_kick_stderr"] = _vec_to_mat(km), _se_mat(kse)
    cm, cse = _mean_se(cum)
    rho_a = machine.rho_a
    rec["output_state"] = rho_a + _vec_to_mat(cm)
    rec["output_state_stderr"] = _se_mat(cse)
    om, ose = _mean_se(outs / N)
    rec["output_state_naive"] = _vec_to_mat(om) + np.diag([0.0, 1.0])
    rec["output_state_naive_stderr"] = _se_mat(ose)
    C, Cse, dC, dCse = _coherence_and_se(rho_a, cum)
    rec["coherence"], rec["coherence_stderr"] = C, Cse
    rec["coherence_rate"], rec["coherence_rate_stderr"] = r * dC, r * dCse
    # the same from the plain mean of rho_out (no control variate), first machine
    naive = outs[0] / N - kick_to_vector(rho_a)[:, None]
    _, _, dCn, dCnse = _coherence_and_se(rho_a, naive[None])
    rec["coherence_rate_naive"], rec["coherence_rate_naive_stderr"] = r * dCn[0], r * dCnse[0]
    ea = -machine.omega_a * kmean[:, 0]          # Tr[H_a k] = omega_a k_11 = -omega_a k_00
    rec["E_a"], rec["E_a_stderr"] = (r * v for v in _mean_se(ea))
    pm, pse = _mean_se(pis / N)
    rec["pi_m"] = (pm[:, :16] + 1j * pm[:, 16:]).reshape(M, 4, 4)
    rec["pi_m_stderr"] = (pse[:, :16] + 1j * pse[:, 16:]).reshape(M, 4, 4)
    energies = machine.lindblad.channel_energies()
    baths = [c.bath for c in machine.lindblad.channels]
    for k, b in ((1, "bath1"), (2, "bath2")):
        sel = np.array([x == b for x in baths])
        heat = np.einsum("c,jcn->jn", energies[sel], jumps[:, sel, :])
        rec[f"Q{k}"], rec[f"Q{k}_stderr"] = _ratio(heat, T)
        qs, qse = _heat_from_state(machine, pis / N, b)
        rec[f"Q{k}_state"], rec[f"Q{k}_state_stderr"] = qs, qse
    rec["jump_rate"], rec["jump_rate_stderr"] = _ratio(jumps, T)
    cr, crse = _ratio(N[None], T)
    rec["collision_rate"], rec["collision_rate_stderr"] = cr[0], crse[0]
    if M == 1:
        rec = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 1
                   else v) for k, v in rec.items()}
    return rec


def coherence_rate_rel_stderr(machine, per_traj, min_traj: int = 8) -> float:
    """Relative standard error of Cdot_a of the last machine (inf before min_traj
    trajectories): the stopping rule of `simulate_machine(target_rel_stderr=...)`."""
    scal, kick = per_traj[0], per_traj[1]
    if scal.shape[1] < min_traj:
        return np.inf
    cum = np.cumsum(kick / scal[0], axis=0)[-2:]
    C, _, dC, dCse = _coherence_and_se(machine.rho_a, cum)
    # with one machine _coherence_and_se sees a line of length 1; otherwise the last pair
    v, se = (dC[-1], dCse[-1])
    return float(se / abs(v)) if v != 0 else np.inf


def _heat_from_state(machine, pis_mean, bath):
    """Tr[H_m D_bath(pi_i)] per trajectory (linear in pi), mean and SE: (M,), (M,)."""
    L0 = machine.lindblad
    # linear functional: Tr[H D(rho)] = sum_ab F[a, b] rho[b, a]... build from basis images
    F = np.zeros((4, 4), complex)
    for a in range(4):
        for b in range(4):
            e = np.zeros((4, 4), complex)
            e[a, b] = 1.0
            F[a, b] = np.trace(machine.H_m @ L0.dissipator_of(bath, e))
    re, im = pis_mean[:, :16], pis_mean[:, 16:]
    vals = np.einsum("k,jkn->jn", F.reshape(-1).real, re) - \
        np.einsum("k,jkn->jn", F.reshape(-1).imag, im)
    return _mean_se(vals)


# =========================================================================== driver
def default_burn_in(machine) -> int:
    """Collisions discarded per trajectory: 10 relaxation times of the exact generator."""
    return int(math.ceil(10.0 * machine.rate / machine.relaxation_rate()))


def simulate_machine(machine, n_collisions: int, seed=0, n_jobs: int = 1, n_machines: int = 1,
                     ntraj: int | None = None, burn_in: int | None = None, state0="thermal",
                     measure="energy", backend: str = "loky", batch_size: int | None = None,
                     progress: bool | None = None, target_rel_stderr: float | None = None,
                     timeout: float | None = None, out=None, resume: bool = False
                     ) -> EnsembleResult:
    """Shot-by-shot steady state of a machine (or a line of n_machines) fed with rho_a atoms.

    n_collisions : recorded atom arrivals in total (maximum, if a stopping rule is given),
        split over `ntraj` independent trajectories (default: about 2e5 per trajectory, at
        least 32 trajectories); each trajectory first discards `burn_in` arrivals (default:
        10 relaxation times of the exact generator) starting from `state0` ("thermal": the
        baths' Gibbs product state; "steady": pi_m; or a ket / density matrix).
    measure : basis in which the last machine measures the atom: "energy", "schmidt", or a
        2x2 unitary.
    target_rel_stderr : stop once the relative standard error of coherence_rate (last machine)
        is below this; timeout in seconds; out/resume: checkpoint directory.
    Returns an EnsembleResult whose records hold the estimates of the module docstring
    (result[key], result[key + "_stderr"]); arrays gain a leading machine axis when
    n_machines > 1.  Trajectory i uses random stream (seed, i): identical for any n_jobs.
    """
    n_collisions = as_count(n_collisions, "n_collisions")
    M = as_count(n_machines, "n_machines")
    if ntraj is None:
        ntraj = int(min(4096, max(32, n_collisions // 200_000)))
    ntraj = as_count(ntraj, "ntraj", minimum=2)
    n_rec = max(1, n_collisions // ntraj)
    n_burn = default_burn_in(machine) if burn_in is None else as_count(burn_in, "burn_in",
                                                                       minimum=0)
    job, ss = make_job(machine, n_rec, n_burn, seed, M, state0, measure)
    def stderr_fn(total):
        return coherence_rate_rel_stderr(machine, total["per_traj"])
    if batch_size is None:
        batch_size = max(1, min(8, ntraj // (4 * max(1, n_jobs if n_jobs > 0 else 2))))
    t0 = time.perf_counter()
    total, info = run_ensemble(job, ntraj, n_jobs=n_jobs, backend=backend,
                               batch_size=batch_size, progress=progress, unit="traj",
                               target_stderr=target_rel_stderr, stderr_fn=stderr_fn,
                               timeout=timeout, out=out, resume=resume)
    pt = total["per_traj"]
    rec = estimates(machine, pt, M)
    n_done = pt[0].shape[1]
    rec["per_traj_collisions"] = pt[0][0]
    meta = dict(info, solver="Machine.simulate", n_machines=M, n_rec_per_traj=n_rec,
                n_burn_per_traj=n_burn, collisions_recorded=int(pt[0][0].sum()),
                collisions_total=int(n_done * (n_rec + n_burn)) * M,
                measure=measure if isinstance(measure, str) else "custom",
                state0=state0 if isinstance(state0, str) else "custom",
                parameters=machine.parameters, rho_a=machine.rho_a,
                elapsed=time.perf_counter() - t0)
    res = EnsembleResult(times=np.array([float(pt[0][1].sum())]), mean=None, stderr=None,
                         ntraj=n_done, seed=seed_info(ss), records=rec, meta=meta)
    if out is not None:
        from pathlib import Path
        res.save(Path(out) / "result.npz")
    return res
