"""Estimates of the shot-by-shot coherence machine from the reduced sums of its trajectories.

A run returns, per machine j of the line, the number n of independent trajectories and the sums
of y_i - c and (y_i - c)(y_i - c)^T over trajectories i, y_i the per-trajectory vector of
`kernel` (layout N_COLL ... JUMPS) and c the job's fixed `centre`.  From them: the mean of y and
its sample covariance (`line_moments`).  Every estimate below is a mean of a per-trajectory
quantity, a smooth function of such means, or a ratio of two means; standard errors come from the
covariance (delta method where the function is nonlinear):

* pi_m: mean of the pre-collision machine state over collisions.  Poisson arrivals see time
  averages, so this is the time-averaged machine state.
* output_kick = A(rho_a) - rho_a: mean of rho_out - rho_in (a control variate: rho_in has the
  known mean rho_a and removes the O(1) spread of the drawn input states); output_state =
  rho_a + the kicks of machines 1..j.  "output_state_naive" is the plain mean of rho_out.
* coherence C(rho_a + K_j) of the atom leaving machine j, K_j its cumulative kick, and
  coherence_rate r [C^(j) - C^(j-1)] (C^(0) = C(rho_a)): C is nonlinear, so the standard error
  is propagated by the delta method, Var = g^T Cov(K_j) g / n with g = `coherence_gradient` at the
  final estimate; for the rate the linearised value is g_j . k_j + (g_j - g_{j-1}) . K_{j-1}
  (k_j the machine's own kick, K_{j-1} the kick the atom brings), which avoids cancelling the
  large common part of K_j and K_{j-1} far down a line.
  "coherence_rate_naive": the same from the plain mean of rho_out (first machine).
* E_a = r Tr[H_a kick].  Q1, Q2: heat counted from bath jumps (each jump of s_k moves -E_k into
  the machine, s_k^dag +E_k), total heat over total recorded time: a ratio of means q = mean(num)
  / mean(den) with delta-method standard error sqrt(Var(num - q den) / n) / mean(den).
  "Q1_state", "Q2_state" = Tr[H_m D_k(pi_m estimate)] (lower variance).  "jump_rate" per
  channel and "collision_rate" are ratios too.
"""

from __future__ import annotations

import numpy as np

from ...measures import relative_entropy_of_coherence
from .kernel import CUM_BEFORE, JUMPS, KICK, N_COLL, OUT, PI, TIME

__all__ = ["coherence_gradient", "kick_to_vector", "vector_to_kick", "line_moments",
           "estimates", "coherence_rate_rel_stderr"]


# =========================================================================== 2x2 helpers
def kick_to_vector(k) -> np.ndarray:
    """(d00, Re k01, Im k01) of a traceless Hermitian 2x2 kick (or of a state's 00, 01)."""
    k = np.asarray(k)
    return np.array([k[0, 0].real, k[0, 1].real, k[0, 1].imag])


def vector_to_kick(v) -> np.ndarray:
    """Inverse of `kick_to_vector` for traceless Hermitian 2x2 matrices."""
    a, u, w = v
    return np.array([[a, u + 1j * w], [u - 1j * w, -a]], dtype=complex)


def coherence_gradient(rho) -> np.ndarray:
    """Gradient of C(rho) with respect to (d rho_00, Re d rho_01, Im d rho_01) along traceless
    Hermitian directions (d rho_11 = -d rho_00): dC = -sum_i ln rho_ii d rho_ii + Tr[ln rho d rho].
    Used for the delta-method error of the shot-by-shot Cdot_a.  rho must be full rank."""
    rho = np.asarray(rho, dtype=complex)
    w, v = np.linalg.eigh(0.5 * (rho + rho.conj().T))
    if w.min() <= 0:
        raise ValueError("coherence_gradient needs a full-rank state")
    M = (v * np.log(w)) @ v.conj().T
    p = np.real(np.diag(rho))
    return np.array([-np.log(p[0]) + np.log(p[1]) + (M[0, 0] - M[1, 1]).real,
                     2 * M[0, 1].real, 2 * M[0, 1].imag])


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


# =========================================================================== moments
def line_moments(total: dict, centre: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Number of trajectories, mean and sample covariance of the per-trajectory vectors.

    Parameters
    ----------
    total : dict
        Merged block reductions {"n", "sum", "sumsq"} of a `MachineJob`.
    centre : (p,) array
        The job's `centre` (subtracted before summing).

    Returns
    -------
    n : int
    mean : (n_machines, p) array
    cov : (n_machines, p, p) array
        Sample covariance (divisor n - 1; NaN for n < 2).

    Examples
    --------
    >>> import numpy as np
    >>> total = {"n": np.array(2), "sum": np.array([[1.0, 3.0]]),
    ...          "sumsq": np.array([[[1.0, 1.0], [1.0, 5.0]]])}
    >>> n, mean, cov = line_moments(total, np.array([0.0, 1.0]))
    >>> mean.tolist(), cov.tolist()
    ([[0.5, 2.5]], [[[0.5, -0.5], [-0.5, 0.5]]])
    """
    n = int(total["n"])
    s1, s2 = np.asarray(total["sum"]), np.asarray(total["sumsq"])
    mean = centre + s1 / n
    if n < 2:
        return n, mean, np.full_like(s2, np.nan)
    cov = (s2 - s1[:, :, None] * s1[:, None, :] / n) / (n - 1)
    return n, mean, cov


def _stderr(cov: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """Standard errors of the means of the linear functionals a (..., p) of y, per machine:
    cov (M, p, p); a (M, p) or (M, r, p) -> (M,) or (M, r)."""
    if a.ndim == 2:
        var = np.einsum("jp,jpq,jq->j", a, cov, a)
    else:
        var = np.einsum("jrp,jpq,jrq->jr", a, cov, a)
    return np.sqrt(np.maximum(var, 0.0) / n)


def _diag_stderr(cov: np.ndarray, sl: slice, n: int) -> np.ndarray:
    """Standard errors of the components sl of the mean of y: (M, len)."""
    return np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2)[:, sl], 0.0) / n)


def _ratio(mean, cov, n, a_num):
    """q = mean(a_num . y) / mean(T) per machine and functional, with its delta-method standard
    error sqrt(Var(num - q T) / n) / mean(T).  a_num (r, p) -> q, se (M, r)."""
    den = mean[:, TIME]
    q = (mean @ a_num.T) / den[:, None]
    res = np.broadcast_to(a_num, q.shape + a_num.shape[-1:]).copy()
    res[:, :, TIME] -= q
    return q, _stderr(cov, res, n) / den[:, None]


def _coherence(rho_a, cum_kick):
    """C(rho_a + K) and its gradient there (NaN if rho_a + K is not full rank)."""
    rho = rho_a + vector_to_kick(cum_kick)
    C = relative_entropy_of_coherence(0.5 * (rho + rho.conj().T))
    try:
        g = coherence_gradient(rho)
    except ValueError:
        g = np.full(3, np.nan)
    return C, g


def _line_coherence(rho_a, mean, cov, n, first: int = 0):
    """C^(j), its standard error, C^(j) - C^(j-1) and its standard error for machines
    j = first..M-1 (module docstring)."""
    M, p = mean.shape
    js = range(max(first - 1, 0), M)
    terms = {j: _coherence(rho_a, mean[j, KICK] + mean[j, CUM_BEFORE]) for j in js}
    terms[-1] = (relative_entropy_of_coherence(rho_a), np.zeros(3))
    sel = np.arange(first, M)
    C = np.array([terms[j][0] for j in sel])
    prev = np.array([terms[j - 1][0] for j in sel])
    g = np.array([terms[j][1] for j in sel]).reshape(len(sel), 3)
    g_prev = np.array([terms[j - 1][1] for j in sel]).reshape(len(sel), 3)
    a = np.zeros((len(sel), p))
    a[:, KICK] = g
    a[:, CUM_BEFORE] = g
    C_se = _stderr(cov[sel], a, n)
    a[:, CUM_BEFORE] = g - g_prev
    return C, C_se, C - prev, _stderr(cov[sel], a, n)


def _heat_functional(machine, bath: str) -> np.ndarray:
    """f (32,) with f . (Re pi, Im pi) = Tr[H_m D_bath(pi)] (linear in pi, row-major parts)."""
    F = np.zeros((4, 4), complex)
    for a in range(4):
        for b in range(4):
            e = np.zeros((4, 4), complex)
            e[a, b] = 1.0
            F[a, b] = np.trace(machine.H_m @ machine.lindblad.dissipator_of(bath, e))
    return np.concatenate([F.reshape(-1).real, -F.reshape(-1).imag])


# =========================================================================== estimates
def estimates(machine, total: dict, centre: np.ndarray, n_machines: int = 1) -> dict:
    """Records (estimates and their "_stderr") from the reduced sums of a run.

    Parameters
    ----------
    machine : Machine
        The simulated machine.
    total : dict
        Merged block reductions {"n", "sum", "sumsq"} of its `MachineJob`.
    centre : (p,) array
        The job's `centre`.
    n_machines : int
        Machines in the line; with one machine the leading machine axis is dropped.

    Returns
    -------
    dict
        The estimates of the module docstring and "recorded_time" (total recorded time of all
        trajectories); arrays have a leading machine axis when n_machines > 1.

    Examples
    --------
    >>> from qtraj.models.machine import FIG2, Machine, atom_state, make_job
    >>> m = Machine(**FIG2, beta2=0.24, rho_a=atom_state(0.75))
    >>> job, _ = make_job(m, n_rec=2000, n_burn=100)
    >>> rec = estimates(m, job.run_block(0, 4), job.centre)
    >>> rec["pi_m"].shape, rec["recorded_time"] > 0
    ((4, 4), True)
    """
    n, mean, cov = line_moments(total, centre)
    r = machine.rate
    M, p = mean.shape
    rho_a = machine.rho_a
    rec = {}
    rec["output_kick"] = _vec_to_mat(mean[:, KICK])
    rec["output_kick_stderr"] = _se_mat(_diag_stderr(cov, KICK, n))
    rec["output_state"] = rho_a + _vec_to_mat(mean[:, KICK] + mean[:, CUM_BEFORE])
    a = np.zeros((M, 3, p))
    for i in range(3):
        a[:, i, KICK.start + i] = a[:, i, CUM_BEFORE.start + i] = 1.0
    rec["output_state_stderr"] = _se_mat(_stderr(cov, a, n))
    rec["output_state_naive"] = _vec_to_mat(mean[:, OUT]) + np.diag([0.0, 1.0])
    rec["output_state_naive_stderr"] = _se_mat(_diag_stderr(cov, OUT, n))
    C, Cse, dC, dCse = _line_coherence(rho_a, mean, cov, n)
    rec["coherence"], rec["coherence_stderr"] = C, Cse
    rec["coherence_rate"], rec["coherence_rate_stderr"] = r * dC, r * dCse
    # the same from the plain mean of rho_out (no control variate), first machine
    c_naive, g = _coherence(rho_a, np.asarray(total["sum"])[0, OUT] / n)   # centre[OUT] = rho_a
    a = np.zeros((1, p))
    a[0, OUT] = g
    rec["coherence_rate_naive"] = np.float64(r * (c_naive - relative_entropy_of_coherence(rho_a)))
    rec["coherence_rate_naive_stderr"] = r * _stderr(cov[:1], a, n)[0]
    # Tr[H_a k] = omega_a k_11 = -omega_a k_00
    rec["E_a"] = -r * machine.omega_a * mean[:, KICK.start]
    rec["E_a_stderr"] = r * machine.omega_a * _diag_stderr(cov, KICK, n)[:, 0]
    pm, pse = mean[:, PI], _diag_stderr(cov, PI, n)
    rec["pi_m"] = (pm[:, :16] + 1j * pm[:, 16:]).reshape(M, 4, 4)
    rec["pi_m_stderr"] = (pse[:, :16] + 1j * pse[:, 16:]).reshape(M, 4, 4)
    energies = machine.lindblad.channel_energies()
    baths = [c.bath for c in machine.lindblad.channels]
    K = len(baths)
    for k, b in ((1, "bath1"), (2, "bath2")):
        a = np.zeros((1, p))
        a[0, JUMPS] = np.where([x == b for x in baths], energies, 0.0)
        q, se = _ratio(mean, cov, n, a)
        rec[f"Q{k}"], rec[f"Q{k}_stderr"] = q[:, 0], se[:, 0]
        f = np.zeros((M, p))
        f[:, PI] = _heat_functional(machine, b)
        rec[f"Q{k}_state"] = np.einsum("jp,jp->j", f, mean)
        rec[f"Q{k}_state_stderr"] = _stderr(cov, f, n)
    a = np.zeros((K, p))
    a[:, JUMPS] = np.eye(K)
    rec["jump_rate"], rec["jump_rate_stderr"] = _ratio(mean, cov, n, a)
    a = np.zeros((1, p))
    a[0, N_COLL] = 1.0
    cr, crse = _ratio(mean[:1], cov[:1], n, a)
    rec["collision_rate"], rec["collision_rate_stderr"] = cr[0, 0], crse[0, 0]
    if M == 1:
        rec = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 1
                   else v) for k, v in rec.items()}
    rec["recorded_time"] = float(n * centre[TIME] + np.asarray(total["sum"])[0, TIME])
    return rec


def coherence_rate_estimate(machine, total: dict | None, centre: np.ndarray,
                            min_traj: int = 8) -> tuple[float, float]:
    """Cdot_a of the last machine of the line and its standard error, from the reduced sums
    (the quantity the run options' targets refer to).

    Parameters
    ----------
    machine : Machine
    total : dict or None
        Merged block reductions so far.
    centre : (p,) array
        The job's `centre`.
    min_traj : int
        (nan, nan) before this many trajectories (the error estimate is not yet meaningful).

    Returns
    -------
    (estimate, stderr) : floats, in units of the machine's rates

    Examples
    --------
    >>> import numpy as np
    >>> coherence_rate_estimate(None, {"n": np.array(1)}, np.zeros(47))
    (nan, nan)
    """
    if total is None or int(total["n"]) < min_traj:
        return np.nan, np.nan
    n, mean, cov = line_moments(total, centre)
    _, _, dC, dCse = _line_coherence(machine.rho_a, mean, cov, n, first=mean.shape[0] - 1)
    return float(machine.rate * dC[-1]), float(machine.rate * dCse[-1])


def coherence_rate_rel_stderr(machine, total: dict | None, centre: np.ndarray,
                              min_traj: int = 8) -> float:
    """Relative standard error of Cdot_a of the last machine of the line.

    The stopping rule of `simulate_machine(target_rel_stderr=...)`; it reads only the reduced
    sums, so its cost does not grow with the number of trajectories.

    Parameters
    ----------
    machine : Machine
    total : dict or None
        Merged block reductions so far.
    centre : (p,) array
        The job's `centre`.
    min_traj : int
        inf before this many trajectories.

    Returns
    -------
    float
        stderr / |estimate| (inf before min_traj trajectories or for a zero estimate).

    Examples
    --------
    >>> import numpy as np
    >>> coherence_rate_rel_stderr(None, {"n": np.array(1)}, np.zeros(47))
    inf
    """
    v, se = coherence_rate_estimate(machine, total, centre, min_traj)
    return float(se / abs(v)) if np.isfinite(se) and v != 0 else np.inf
