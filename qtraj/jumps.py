"""Quantum-jump (Monte Carlo wave-function) trajectories with exact jump times.

Unravelling of a `Lindblad` model: between jumps the unnormalised ket evolves under
H_eff = H - i/2 sum_k L_k^dag L_k; a jump happens when its squared norm n(t) falls to a uniform
random number r, and channel k is chosen with probability ||L_k psi||^2 / sum_j ||L_j psi||^2.

Jump times are exact.  With the eigen-decomposition -i H_eff = V diag(lam) V^-1 (computed once),
a ket with coefficients c = V^-1 psi at time t_ref has norm
    n(t) = c(t)^dag G c(t),  c(t) = c * exp(lam (t - t_ref)),  G = V^dag V,
and dn/dt = 2 Re c(t)^dag G (lam * c(t)) = -<psi|sum_k L_k^dag L_k|psi> <= 0, so the jump time is
the root of the monotone function n(t) - r, found by safeguarded Newton iteration to machine
precision (no time step).  Mixed initial states are sampled from their eigen-decomposition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import connected_components

from .ensemble import RunOptions, run
from .results import EnsembleResult
from .rng import next_double, next_open, root_key, seed_info, stream_state
from .stats import Moments, count_mean_stderr
from .validation import as_square_matrix, as_state, as_times

__all__ = ["mcsolve", "JumpJob", "no_jump_propagator"]

#: condition number of V above which the effective Hamiltonian counts as defective
COND_LIMIT = 1e6


# --------------------------------------------------------------------------- numba kernels
@njit(cache=True, nogil=True, inline="always")
def _norm(work, lam, G, normal):
    """n = w^dag G w and dn/dt = 2 Re (lam w)^dag G w for coefficients w = c(t)."""
    d = work.shape[0]
    n = 0.0
    dn = 0.0
    if normal:  # V unitary, G = identity
        for i in range(d):
            a2 = work[i].real ** 2 + work[i].imag ** 2
            n += a2
            dn += 2.0 * lam[i].real * a2
        return n, dn
    for i in range(d):
        gi = 0j
        for j in range(d):
            gi += G[i, j] * work[j]
        wc = work[i].conjugate()
        n += (wc * gi).real
        dn += 2.0 * (wc * lam[i].conjugate() * gi).real
    return n, dn


@njit(cache=True, nogil=True, inline="always")
def _norm_and_slope(c, lam, G, normal, dt, work):
    """n(t) and dn/dt at t_ref + dt; leaves c(t) = c * exp(lam dt) in `work`."""
    for i in range(c.shape[0]):
        if c[i] == 0:   # states often live in one symmetry sector: skip the others' modes
            work[i] = 0
            continue
        a = math.exp(lam[i].real * dt)
        w = lam[i].imag * dt
        if w == 0.0:
            work[i] = c[i] * a
        else:
            work[i] = c[i] * complex(a * math.cos(w), a * math.sin(w))
    return _norm(work, lam, G, normal)


@njit(cache=True, nogil=True, inline="always")
def _norm_normal(c, lam, dt):
    """n and dn/dt for a normal H_eff: n(t) = sum_i |c_i|^2 exp(2 Re lam_i dt) (real
    exponentials only; none at dt = 0)."""
    n = 0.0
    dn = 0.0
    for i in range(c.shape[0]):
        if c[i] != 0:
            g = 2.0 * lam[i].real
            x = c[i].real ** 2 + c[i].imag ** 2
            if dt != 0.0:
                x *= math.exp(g * dt)
            n += x
            dn += g * x
    return n, dn


@njit(cache=True, nogil=True, inline="always")
def _jump_time(c, lam, G, normal, r, a, b, tref, work):
    """Root of n(t) = r in [a, b], where n(a) > r >= n(b) (absolute times).

    Safeguarded Newton on log n(t) - log r, started at a.  For a normal H_eff, log n(t) is
    convex, so the iterates increase monotonically to the root (quadratic convergence); in
    general, steps leaving the bracket fall back to bisection.  `work` is scratch: callers
    recompute c(t) at the root.
    """
    logr = math.log(r)
    t = a
    for _ in range(200):
        if normal:
            n, dn = _norm_normal(c, lam, t - tref)
        else:
            n, dn = _norm_and_slope(c, lam, G, normal, t - tref, work)
        if n <= 0.0:
            b = t
            t = 0.5 * (a + b)
            continue
        f = math.log(n) - logr
        if f > 0.0:
            a = t
        elif f < 0.0:
            b = t
        else:
            return t
        tol = 4e-16 * max(1.0, abs(t))
        if dn < 0.0:
            tn = t - f * n / dn
            if abs(tn - t) <= tol:
                return t
        else:
            tn = 0.5 * (a + b)
        if not (a < tn < b):
            tn = 0.5 * (a + b)
        if (b - a) <= tol:
            return tn
        t = tn
    return t


@njit(cache=True, nogil=True, inline="always")
def _matvec(A, x, out):
    d = x.shape[0]
    for i in range(d):
        s = 0j
        for j in range(A.shape[1]):
            s += A[i, j] * x[j]
        out[i] = s


@njit(cache=True, nogil=True, inline="always")
def _matvec_k(A, k, x, out):
    """out = A[k] @ x for a stack of matrices A (no view created)."""
    d = x.shape[0]
    for i in range(d):
        s = 0j
        for j in range(d):
            s += A[k, i, j] * x[j]
        out[i] = s


@njit(cache=True, nogil=True, inline="always")
def _csc_matvec(data, indices, indptr, k, x, out):
    """out = A_k @ x for a stack of CSC matrices (shared data/indices, indptr of shape
    (K, d + 1); no view is created).  Column-wise, skipping x_j == 0: kets usually live in
    one symmetry sector, so the cost is that of the sector's columns only."""
    for i in range(out.shape[0]):
        out[i] = 0
    for j in range(x.shape[0]):
        xj = x[j]
        if xj == 0:
            continue
        for p in range(indptr[k, j], indptr[k, j + 1]):
            out[indices[p]] += data[p] * xj


@njit(cache=True, nogil=True, inline="always")
def _draw_initial(cum0, kets0, s, psi):
    """psi <- a ket of the initial mixture, drawn with its weight (cum0: cumulative weights)."""
    i0 = _sample_index(cum0, next_double(s) * cum0[-1])
    for i in range(psi.shape[0]):
        psi[i] = kets0[i0, i]


@njit(cache=True, nogil=True, inline="always")
def _sample_index(cum, u):
    """Index i with cum[i-1] <= u < cum[i] (cum increasing, last entry the total)."""
    for i in range(cum.shape[0]):
        if u < cum[i]:
            return i
    return cum.shape[0] - 1


@njit(cache=True, nogil=True, inline="always")
def _accumulate(x, first, k_ref, s_acc, q_acc, i, j):
    """Shifted sums of x - K and its componentwise square at [i, j] of 2-d accumulators
    (K = the block's first trajectory's value)."""
    if first:
        k_ref[i, j] = x
    y = x - k_ref[i, j]
    s_acc[i, j] += y
    q_acc[i, j] += complex(y.real * y.real, y.imag * y.imag)


@njit(cache=True, nogil=True, inline="always")
def _expected_jump_energy(Ld, Li, Lp, k, Hm, psi, Lpsi, wk, hpsi, u):
    """Heat of one jump of channel L from the normalised pre-jump ket psi (Lpsi = L psi,
    wk = |L psi|^2): q = (<L psi|H|L psi> - Re <L H psi|L psi>) / wk.

    Its mean over jumps is Tr[H D[L](rho)] per unit time, for any L (not only eigenoperators of
    H, for which q is the fixed transition energy): rate x q = <L^dag H L> - Re <H L^dag L>."""
    d = psi.shape[0]
    _matvec(Hm, psi, hpsi)
    _csc_matvec(Ld, Li, Lp, k, hpsi, u)
    a = 0.0
    b = 0.0
    for i in range(d):
        s = 0j
        for j in range(d):
            s += Hm[i, j] * Lpsi[j]
        a += (Lpsi[i].conjugate() * s).real
        b += (u[i].conjugate() * Lpsi[i]).real
    return (a - b) / wk


@njit(cache=True, nogil=True)
def _jump_block(lam, Vd, Vi, Vp, Wd, Wi, Wp, G, normal, Ld, Li, Lp, cum0, kets0, times, e_step,
                e_diag, e_dense, e_isdiag, chan_energy, chan_bath, heat_H, key, start, stop,
                store_states, keep_jumps, rho_s, rho_q, rho_k, e_s, e_q, e_k, h_s, h_q, h_k,
                counts, counts_sq):
    """Trajectories start..stop-1.

    At each output time the state is renormalised (c -> c(T)/sqrt(n(T)), threshold
    r -> r/n(T)), an exact rewrite that keeps numbers O(1) and lets consecutive outputs use the
    precomputed factors e_step[it] = exp(lam (times[it+1] - times[it])).  Accumulates shifted
    sums into rho_*/e_* and jump counts into counts/counts_sq; returns (traj, time, channel)
    of every jump if keep_jumps.  Heat: each jump adds chan_energy[k] to its bath, or, when
    heat_H is a (d, d) matrix (not (0, 0)), the state-dependent `_expected_jump_energy`.
    """
    d = lam.shape[0]
    nt = times.shape[0]
    ne = e_isdiag.shape[0]
    K = Lp.shape[0]
    c = np.empty(d, np.complex128)
    psi = np.empty(d, np.complex128)
    work = np.empty(d, np.complex128)
    tmp = np.empty(d, np.complex128)
    hpsi = np.empty(d, np.complex128)
    tmp2 = np.empty(d, np.complex128)
    state_heat = heat_H.shape[0] > 0
    cnt = np.zeros(K, np.int64)
    nb = h_s.shape[0]
    heat = np.zeros(max(nb, 1))
    weights = np.empty(K)
    cap = 16 if keep_jumps else 1
    j_traj = np.empty(cap, np.int64)
    j_time = np.empty(cap)
    j_chan = np.empty(cap, np.int64)
    nrec = 0
    for traj in range(start, stop):
        s = stream_state(key, traj)
        first = traj == start
        _draw_initial(cum0, kets0, s, psi)
        _csc_matvec(Wd, Wi, Wp, 0, psi, c)
        tref = times[0]
        r = next_open(s)
        cnt[:] = 0
        heat[:] = 0.0
        for it in range(nt):
            T = times[it]
            while True:
                if it > 0 and tref == times[it - 1]:
                    for i in range(d):
                        work[i] = c[i] * e_step[it - 1, i]
                    nT = _norm(work, lam, G, normal)[0]
                elif normal:   # real exponentials decide; c(T) only if no jump comes first
                    nT = _norm_normal(c, lam, T - tref)[0]
                    if nT > r:
                        nT = _norm_and_slope(c, lam, G, normal, T - tref, work)[0]
                else:
                    nT = _norm_and_slope(c, lam, G, normal, T - tref, work)[0]
                if nT > r:
                    break
                tj = _jump_time(c, lam, G, normal, r, tref, T, tref, work)
                nj = _norm_and_slope(c, lam, G, normal, tj - tref, work)[0]
                _csc_matvec(Vd, Vi, Vp, 0, work, psi)
                scale = 1.0 / math.sqrt(nj)
                for i in range(d):
                    psi[i] *= scale
                tot = 0.0
                for k in range(K):
                    _csc_matvec(Ld, Li, Lp, k, psi, tmp)
                    w = 0.0
                    for i in range(d):
                        w += tmp[i].real ** 2 + tmp[i].imag ** 2
                    tot += w
                    weights[k] = tot
                k = _sample_index(weights, next_double(s) * tot)
                _csc_matvec(Ld, Li, Lp, k, psi, tmp)
                wk = weights[k] - (weights[k - 1] if k > 0 else 0.0)
                if state_heat:
                    q = _expected_jump_energy(Ld, Li, Lp, k, heat_H, psi, tmp, wk, hpsi, tmp2)
                else:
                    q = chan_energy[k]
                scale = 1.0 / math.sqrt(wk)
                for i in range(d):
                    psi[i] = tmp[i] * scale
                _csc_matvec(Wd, Wi, Wp, 0, psi, c)
                tref = tj
                r = next_open(s)
                cnt[k] += 1
                heat[chan_bath[k]] += q
                if keep_jumps:
                    if nrec == j_time.shape[0]:
                        j_traj = np.concatenate((j_traj, np.empty(nrec, np.int64)))
                        j_time = np.concatenate((j_time, np.empty(nrec)))
                        j_chan = np.concatenate((j_chan, np.empty(nrec, np.int64)))
                    j_traj[nrec] = traj
                    j_time[nrec] = tj
                    j_chan[nrec] = k
                    nrec += 1
            # renormalise at T (exact rewrite: same jump times) and record the state
            scale = 1.0 / math.sqrt(nT)
            for i in range(d):
                c[i] = work[i] * scale
            r = r / nT
            tref = T
            _csc_matvec(Vd, Vi, Vp, 0, c, psi)
            if store_states:
                for a in range(d):
                    for b in range(d):
                        _accumulate(psi[a] * psi[b].conjugate(), first, rho_k, rho_s, rho_q,
                                    it, a * d + b)
            idiag = 0
            idense = 0
            for m in range(ne):
                x = 0j
                if e_isdiag[m]:  # diagonal e_op (e.g. populations): sum_i E_ii |psi_i|^2
                    for i in range(d):
                        x += e_diag[idiag, i] * (psi[i].real ** 2 + psi[i].imag ** 2)
                    idiag += 1
                else:
                    for i in range(d):
                        y = 0j
                        for j in range(d):
                            y += e_dense[idense, i, j] * psi[j]
                        x += psi[i].conjugate() * y
                    idense += 1
                _accumulate(x, first, e_k, e_s, e_q, m, it)
            for b in range(nb):   # heat from each bath up to T, counted jump by jump
                _accumulate(complex(heat[b], 0.0), first, h_k, h_s, h_q, b, it)
        for k in range(K):
            counts[k] += cnt[k]
            counts_sq[k] += cnt[k] * cnt[k]
    return j_traj[:nrec], j_time[:nrec], j_chan[:nrec]


def _shifted_to_moments(n: int, s: np.ndarray, q: np.ndarray, k: np.ndarray) -> Moments:
    """Moments from sums of (x - k) and componentwise squares (x - k)^2."""
    mean_shift = s / n
    m2 = q - (mean_shift.real ** 2 + 1j * mean_shift.imag ** 2) * n
    return Moments(n, k + mean_shift, m2)


# --------------------------------------------------------------------------- job
class DefectiveMatrix(ValueError):
    """A generator that is (nearly) not diagonalisable (an exceptional point)."""


def diagonalise(A: np.ndarray, normal: bool | None = None):
    """(lam, V, Vinv) with A = V diag(lam) V^-1.

    Normal matrices use the Schur form (V unitary, exact inverse V^dag); otherwise `eig`,
    refused with `DefectiveMatrix` when the eigenvectors' condition number exceeds COND_LIMIT.
    """
    if normal is None:
        scale2 = max(1.0, np.abs(A).max() ** 2)
        normal = bool(np.allclose(A @ A.conj().T, A.conj().T @ A, atol=1e-13 * scale2))
    if normal:
        T, V = sla.schur(A, output="complex")
        return np.diag(T).copy(), V, V.conj().T
    lam, V = np.linalg.eig(A)
    cond = np.linalg.cond(V)
    if not np.isfinite(cond) or cond > COND_LIMIT:
        raise DefectiveMatrix(f"eigenvector condition number {cond:.3g} > {COND_LIMIT:g}")
    return lam, V, np.linalg.inv(V)


def no_jump_propagator(H_eff: np.ndarray):
    """(lam, V, Vinv, G, normal) of -i H_eff = V diag(lam) V^-1, G = V^dag V.

    H_eff is first split into its decoupled blocks (connected components of its sparsity
    pattern, e.g. excitation-number sectors), each diagonalised on its own, so V stays block
    sparse.  A normal H_eff (commuting H and sum_k L_k^dag L_k) is diagonalised by a unitary
    V (then G = 1 and the kernel skips the Gram product).  Raises if H_eff is (nearly)
    defective (an exceptional point).
    """
    A = -1j * np.asarray(H_eff, dtype=complex)
    d = A.shape[0]
    scale2 = max(1.0, np.abs(A).max() ** 2)
    normal = bool(np.allclose(A @ A.conj().T, A.conj().T @ A, atol=1e-13 * scale2))
    n_comp, labels = connected_components(sp.csr_matrix((np.abs(A) + np.abs(A).T) > 0),
                                          directed=False)
    lam = np.empty(d, dtype=complex)
    V = np.zeros((d, d), dtype=complex)
    Vinv = np.zeros((d, d), dtype=complex)
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        try:
            lb, Vb, Vbinv = diagonalise(A[np.ix_(idx, idx)], normal)
        except DefectiveMatrix as exc:
            raise ValueError(
                f"the effective Hamiltonian is (nearly) defective ({exc}): exact jump times by "
                f"eigen-decomposition are not reliable for this model (an exceptional point); "
                f"perturb a parameter slightly") from None
        lam[idx] = lb
        V[np.ix_(idx, idx)] = Vb
        Vinv[np.ix_(idx, idx)] = Vbinv
    lam = np.minimum(lam.real, 0.0) + 1j * lam.imag
    G = np.eye(d, dtype=complex) if normal else V.conj().T @ V
    return lam, np.ascontiguousarray(V), np.ascontiguousarray(Vinv), np.ascontiguousarray(G), \
        normal


def _csc(A: np.ndarray, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr) of a dense matrix in CSC form, dropping |entries| <= tol max|A|."""
    A = np.asarray(A, dtype=complex)
    M = sp.csc_matrix(np.where(np.abs(A) > tol * np.abs(A).max(), A, 0))
    M.eliminate_zeros()
    M.sort_indices()
    return (np.ascontiguousarray(M.data, dtype=complex),
            np.ascontiguousarray(M.indices, dtype=np.int64),
            np.ascontiguousarray(M.indptr, dtype=np.int64))


def _csc_stack(As: np.ndarray, tol: float = 0.0):
    """CSC of a stack of matrices: shared data/indices, indptr of shape (K, d + 1)."""
    parts = [_csc(A, tol) for A in As]
    offs = np.cumsum([0] + [len(p[0]) for p in parts])
    d = As.shape[1] if len(As) else 0
    data = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, complex)
    idx = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    ptr = np.array([p[2] + o for p, o in zip(parts, offs)], dtype=np.int64).reshape(len(As), d + 1)
    return data, idx, ptr


@dataclass
class JumpJob:
    """Everything a worker needs to run blocks of quantum-jump trajectories (picklable)."""

    lam: np.ndarray
    V: np.ndarray
    Vinv: np.ndarray
    G: np.ndarray
    normal: bool
    Ls: np.ndarray
    cum0: np.ndarray
    kets0: np.ndarray
    times: np.ndarray
    eops: np.ndarray
    key: np.ndarray
    store_states: bool = True
    keep_jumps: bool = False
    chan_energy: np.ndarray | None = None    # energy each jump moves into the system
    chan_bath: np.ndarray | None = None      # bath index of each channel
    block_size: int = 256
    heat_H: np.ndarray | None = None         # set: state-dependent jump heat (heat="expected")

    def __post_init__(self):
        """Kernel-side forms (derived data, not part of the job's identity): CSC matrices
        (V is block sparse, jump operators usually sparse), output-step exponentials, and
        the e_ops split into diagonal ones (populations) and dense ones."""
        d = self.lam.shape[0]
        isdiag = np.array([np.count_nonzero(e - np.diag(np.diag(e))) == 0 for e in self.eops],
                          dtype=np.bool_)
        self._kernel_args = (
            *_csc_stack(self.V[None], 1e-15), *_csc_stack(self.Vinv[None], 1e-15), self.G,
            self.normal,
            *_csc_stack(self.Ls), self.cum0, self.kets0, self.times,
            np.exp(np.outer(np.diff(self.times), self.lam)),
            np.array([np.diag(e) for e in self.eops[isdiag]]).reshape(-1, d),
            np.ascontiguousarray(self.eops[~isdiag]).reshape(-1, d, d), isdiag,
            *self._heat_args())

    def _heat_args(self):
        K, d = self.Ls.shape[0], self.lam.shape[0]
        hH = np.zeros((0, 0), complex) if self.heat_H is None else \
            np.ascontiguousarray(self.heat_H, dtype=complex).reshape(d, d)
        if self.chan_energy is None:
            return np.zeros(K), np.zeros(K, np.int64), hH
        return (np.nan_to_num(np.asarray(self.chan_energy, float)),
                np.asarray(self.chan_bath, np.int64), hH)

    @property
    def block_bytes(self) -> int:
        """Size of one block's reductions (three complex accumulators per recorded number)."""
        nt, d = self.times.shape[0], self.lam.shape[0]
        n = (nt * d * d if self.store_states else 0) + nt * (self.eops.shape[0] + self.n_baths)
        return 3 * 16 * n

    @property
    def n_baths(self) -> int:
        return 0 if self.chan_bath is None or not len(self.chan_bath) else \
            int(np.max(self.chan_bath)) + 1

    def run_block(self, start: int, stop: int) -> dict:
        d, nt, ne, K = self.lam.shape[0], self.times.shape[0], self.eops.shape[0], self.Ls.shape[0]
        shape_rho = (nt, d * d) if self.store_states else (0, 0)
        rho_s, rho_q, rho_k = (np.zeros(shape_rho, complex) for _ in range(3))
        e_s, e_q, e_k = (np.zeros((ne, nt), complex) for _ in range(3))
        h_s, h_q, h_k = (np.zeros((self.n_baths, nt), complex) for _ in range(3))
        counts = np.zeros(K, np.int64)
        counts_sq = np.zeros(K, np.int64)
        jt, jtime, jc = _jump_block(self.lam, *self._kernel_args, self.key, start, stop,
                                    self.store_states, self.keep_jumps, rho_s, rho_q, rho_k,
                                    e_s, e_q, e_k, h_s, h_q, h_k, counts, counts_sq)
        n = stop - start
        out = {"counts": counts, "counts_sq": counts_sq}
        if self.store_states:
            out["rho"] = _shifted_to_moments(n, rho_s.reshape(nt, d, d), rho_q.reshape(nt, d, d),
                                             rho_k.reshape(nt, d, d))
        if ne:
            out["expect"] = _shifted_to_moments(n, e_s, e_q, e_k)
        if self.n_baths:
            out["heat"] = _shifted_to_moments(n, h_s, h_q, h_k)
        if self.keep_jumps:
            out["jumps"] = np.stack([jt, jc]).astype(np.int64), jtime
        return out


def _initial_mixture(rho0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative weights and kets of the eigen-decomposition of rho0 (zero weights dropped)."""
    w, U = np.linalg.eigh(rho0)
    keep = w > 1e-14
    w, U = w[keep], U[:, keep]
    return np.cumsum(w / w.sum()), np.ascontiguousarray(U.T)


def _as_eops(e_ops, d: int) -> np.ndarray:
    if e_ops is None:
        return np.zeros((0, d, d), complex)
    if isinstance(e_ops, np.ndarray) and e_ops.ndim == 2:
        e_ops = [e_ops]
    return np.array([as_square_matrix(e, f"e_ops[{i}]", d) for i, e in enumerate(e_ops)])


def mcsolve(model, state0, times, ntraj: int | None = None, seed=0, n_jobs: int = 1, e_ops=None,
            backend: str = "loky", batch_size: int | None = None, store_states: bool = True,
            keep_jumps: bool = False, progress: bool | None = None,
            target_stderr: float | None = None, timeout: float | None = None,
            out=None, resume: bool = False, scheduler: str | None = None,
            checkpoint_every: float | None = None, heat: str = "transition", *,
            target_rel_stderr: float | None = None) -> EnsembleResult:
    """Quantum-jump ensemble of `model` (a Lindblad) from `state0` (ket or density matrix).

    Returns an EnsembleResult with `mean`/`stderr` (trajectory-averaged density matrix at
    `times` and its standard error; None if store_states=False), `expect`/`expect_stderr` for
    `e_ops` (list of (d, d) arrays), and records "jump_counts" (mean number of jumps per channel
    over [times[0], times[-1]]) with "jump_counts_stderr".  Heat counted jump by jump (each
    jump of a channel moves `Lindblad.channel_energies()` into the system): "heat" (per bath,
    ordered as `result.meta["baths"]`, over the window), "heat_cumulative" (per bath and
    output time) and "heat_current" (= heat / duration), each with "_stderr"; NaN for a bath
    whose jump energies are undefined.  heat="expected" instead gives each jump of channel k
    from the ket psi the heat q_k = (<L_k psi|H|L_k psi> - Re<L_k H psi|L_k psi>)/|L_k psi|^2,
    whose mean is exactly the integral of Tr[H D_k(rho)] for every channel, also those that are
    not eigenoperators of H (e.g. local dissipators); for eigenoperators q_k is the transition
    energy.  It is an unbiased estimator of the mean heat, not a physical per-jump energy.
    With keep_jumps=True, records
    "jump_traj", "jump_time", "jump_channel" list every jump (memory grows with ntraj).

    Run options (`ntraj`, `seed`, `n_jobs`, `backend`, `batch_size`, `progress`,
    `target_stderr`, `target_rel_stderr`, `timeout`, `out`, `resume`, `checkpoint_every`,
    `scheduler`) are those of `qtraj.ensemble.RunOptions`; the targets refer to the e_ops
    (or, without e_ops, to the density matrix).  `result.meta` says why the run stopped and
    whether the target was reached; `out=DIR` also receives DIR/result.npz.

    Trajectory i uses its own random stream (seed, i): identical numbers for any n_jobs,
    batch_size or backend.
    """
    opts = RunOptions.from_mapping(locals())
    from .lindblad import Lindblad
    if not isinstance(model, Lindblad):
        raise TypeError(f"mcsolve needs a qtraj.Lindblad, got {type(model).__name__}")
    d = model.dim
    rho0 = as_state(state0, d, "state0")
    times = as_times(times)
    eops = _as_eops(e_ops, d)
    ss, key = root_key(seed)
    lam, V, Vinv, G, normal = no_jump_propagator(model.effective_hamiltonian())
    cum0, kets0 = _initial_mixture(rho0)
    Ls = model.jump_operators()
    if not store_states and not len(eops) and opts.target is not None:
        raise ValueError("target_stderr/target_rel_stderr need e_ops or store_states=True")
    if heat not in ("transition", "expected"):
        raise ValueError(f"heat must be 'transition' or 'expected', got {heat!r}")
    energies = model.channel_energies()
    bath_index = np.array([model.baths.index(c.bath) for c in model.channels], dtype=np.int64)
    job = JumpJob(lam, V, Vinv, G, normal, Ls, cum0, kets0, times, eops, key,
                  bool(store_states), bool(keep_jumps), energies, bath_index,
                  heat_H=model.H if heat == "expected" else None)
    return run(job, opts, target_fn=_targeted,
               to_result=lambda total, info: _to_result(
                   total, info, model, times, eops, ss, info["ntraj"], keep_jumps,
                   heat == "expected", energies))


def _targeted(total: dict):
    """The quantities a target refers to: the e_ops, else the density matrix."""
    return total.get("expect", total.get("rho"))


def _to_result(total, info, model, times, eops, ss, ntraj, keep_jumps,
               expected_heat=False, job_energies=None) -> EnsembleResult:
    n = ntraj
    cmean, cse = count_mean_stderr(total["counts"], total["counts_sq"], n)
    records = {"jump_counts": cmean, "jump_counts_stderr": cse}
    mean = stderr = expect = expect_se = None
    if "rho" in total:
        mean, stderr = total["rho"].mean, total["rho"].stderr
    if "expect" in total:
        expect, expect_se = total["expect"].mean, total["expect"].stderr
        if all(np.allclose(e, e.conj().T) for e in eops):
            expect, expect_se = expect.real.copy(), expect_se.real.copy()
    if "heat" in total:
        # baths with a channel whose jump energy is undefined get NaN (never a silent guess)
        energies = job_energies if job_energies is not None else model.channel_energies()
        undefined = np.array([not expected_heat and
                              any(np.isnan(e) for e, c in zip(energies, model.channels)
                                  if c.bath == b)
                              for b in model.baths])
        hm = np.where(undefined[:, None], np.nan, total["heat"].mean.real)
        hs = np.where(undefined[:, None], np.nan, total["heat"].stderr.real)
        dur = times[-1] - times[0]
        records.update({"heat_cumulative": hm, "heat_cumulative_stderr": hs,
                        "heat": hm[:, -1], "heat_stderr": hs[:, -1],
                        "heat_current": hm[:, -1] / dur if dur > 0 else hm[:, -1] * np.nan,
                        "heat_current_stderr": hs[:, -1] / dur if dur > 0 else hs[:, -1] * np.nan})
    if keep_jumps:
        idx, tj = total["jumps"]
        records.update({"jump_traj": idx[0], "jump_channel": idx[1], "jump_time": tj})
    meta = dict(info, solver="mcsolve", heat="expected" if expected_heat else "transition",
                baths=list(model.baths), channels=[c.name or f"{c.bath}:{k}" for k, c in
                                                  enumerate(model.channels)])
    return EnsembleResult(times=times, mean=mean, stderr=stderr, ntraj=n, seed=seed_info(ss),
                          expect=expect, expect_stderr=expect_se, records=records, meta=meta)
