"""The named structures every kernel reads (Numba-compatible named tuples of arrays).

A kernel takes a handful of these instead of dozens of positional arrays.  Each is built by one
function on the Python side (`qtraj.kernel_inputs`); here they are only declared.  Stacks carry
a leading segment axis S: a time-independent model has S = 1, a piecewise-constant protocol one
entry per segment.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["CSCStack", "Propagators", "Channels", "Mixture", "Accumulator", "KetScratch",
           "JumpOutputs", "JumpSums", "CycleSpec", "CycleSums", "Collisions", "CollisionOutputs",
           "CollisionSums", "DensityUnravelling", "JumpRecords", "new_ket_scratch", "REC_TRAJ",
           "REC_CYCLE", "REC_SEGMENT", "REC_CHANNEL", "REC_BATH", "REC_TIME", "REC_HEAT",
           "new_jump_records"]


class CSCStack(NamedTuple):
    """K sparse (d, d) matrices in compressed-sparse-column form sharing data/indices.

    Matrix k has columns j with entries data[p], rows indices[p], p in
    indptr[k, j] .. indptr[k, j + 1] - 1."""

    data: np.ndarray        # (nnz,) complex128
    indices: np.ndarray     # (nnz,) int64
    indptr: np.ndarray      # (K, d + 1) int64


class Propagators(NamedTuple):
    """No-jump propagators of S segments by eigen-decomposition, -i H_eff = V diag(lam) V^-1.

    A ket psi is carried as coefficients c = V^-1 psi; without a jump they evolve as
    c exp(lam t) and the squared norm of the ket is c^dag G c (G = V^dag V)."""

    lam: np.ndarray         # (S, d) complex eigenvalues (real parts <= 0)
    V: CSCStack             # S eigenvector matrices
    Vinv: CSCStack          # their inverses
    gram: np.ndarray        # (S, d, d) G = V^dag V (identity where normal)
    normal: np.ndarray      # (S,) bool: H_eff normal, V unitary, G = 1
    diagonal: np.ndarray    # (S,) bool: V = identity, coefficients are the ket itself
    krylov: np.ndarray      # (S,) bool: segment s uses the Krylov propagator (`krylov.py`)
                            # instead (then lam = 0, V = 1 and the ket is carried as itself)
    A: CSCStack             # S matrices -i H_eff (Krylov segments; empty for the others)
    krylov_tol: np.ndarray  # (S,) tolerance of the Krylov steps (relative to the ket's norm)


class Channels(NamedTuple):
    """Jump channels L_k = sqrt(rate_k) op_k of all segments and what one jump records."""

    ops: CSCStack           # K jump operators
    first: np.ndarray       # (S + 1,) int64: segment s uses channels first[s] .. first[s+1]-1
    energy: np.ndarray      # (K,) float: energy a jump moves into the system (0 if unknown)
    bath: np.ndarray        # (K,) int64: bath index of each channel
    heat_H: np.ndarray      # (S, d, d) complex: H of each segment for the state-dependent
                            # heat estimator, or shape (0, d, d) to use `energy`


class Mixture(NamedTuple):
    """A density matrix as a mixture of kets, sampled for each trajectory's initial ket."""

    cum: np.ndarray         # (n,) cumulative weights (last entry the total)
    kets: np.ndarray        # (n, d) complex kets


class Accumulator(NamedTuple):
    """Shifted sums of a block's values x at each index: sum of (x - shift) and of its
    componentwise squares (real and imaginary parts separately), shift = the block's first
    trajectory's value (numerically stable variances)."""

    sum: np.ndarray
    sumsq: np.ndarray
    shift: np.ndarray


class KetScratch(NamedTuple):
    """Work arrays of one trajectory (allocated once per block, outside the kernel: kernels
    allocate nothing, see `step`)."""

    c: np.ndarray           # (d,) coefficients of the ket at the reference time
    psi: np.ndarray         # (d,) the ket
    work: np.ndarray        # (d,) coefficients at the end of a no-jump stretch
    tmp: np.ndarray         # (d,) L_k psi
    hpsi: np.ndarray        # (d,) scratch for the heat estimator
    tmp2: np.ndarray        # (d,) scratch for the heat estimator
    weights: np.ndarray     # (K,) cumulative channel weights
    counts: np.ndarray      # (K,) int64 jumps of each channel in the current trajectory
    tally: np.ndarray       # (3, m) float per-trajectory running totals (heat, work, ...)
    stream: np.ndarray      # (4,) uint64 state of the trajectory's random stream
    no_factors: np.ndarray  # (0, d) complex: "no precomputed exponentials" for `jump_step`
    basis: np.ndarray       # (m + 1, d) complex Krylov basis (m = 0 without Krylov segments)
    hess: np.ndarray        # (m + 1, m) complex Hessenberg matrix
    small: np.ndarray       # (3, m + 1) complex work vectors in the Krylov space


class JumpOutputs(NamedTuple):
    """What `jumps.jump_block` records at its output times."""

    times: np.ndarray         # (nt,) output times, times[0] = start
    step_factors: np.ndarray  # (nt - 1, d) exp(lam (times[i+1] - times[i])) of segment 0
    e_diag: np.ndarray        # (n_diag, d) diagonals of the diagonal e_ops
    e_dense: np.ndarray       # (n_dense, d, d) the other e_ops
    e_isdiag: np.ndarray      # (ne,) bool: e_op m is diagonal (taken in order from the two)
    store_states: bool        # accumulate |psi><psi| at every output time
    keep_jumps: bool          # return (trajectory, time, channel) of every jump


class JumpSums(NamedTuple):
    """Block reductions of `jumps.jump_block`."""

    rho: Accumulator          # (nt, d*d) states, or (0, 0) when not stored
    expect: Accumulator       # (ne, nt) e_ops
    heat: Accumulator         # (n_baths, nt) cumulative heat per bath
    counts: np.ndarray        # (K,) int64 jumps per channel, summed over trajectories
    counts_sq: np.ndarray     # (K,) int64 sum of squared per-trajectory counts


def new_ket_scratch(d: int, n_channels: int, n_tally: int = 1, krylov_dim: int = 0) -> KetScratch:
    """Work arrays for a d-dimensional ket, n_channels channels, n_tally running totals and
    Krylov spaces of dimension krylov_dim (0: no Krylov segments)."""
    m = int(krylov_dim)
    return KetScratch(*(np.zeros(d, np.complex128) for _ in range(6)),
                      np.zeros(max(n_channels, 1)), np.zeros(max(n_channels, 1), np.int64),
                      np.zeros((3, max(n_tally, 1))), np.zeros(4, np.uint64),
                      np.zeros((0, d), np.complex128), np.zeros((m + 1, d), np.complex128),
                      np.zeros((m + 1, max(m, 1)), np.complex128),
                      np.zeros((3, m + 1), np.complex128))


#: rows of `JumpRecords.ints`
REC_TRAJ, REC_CYCLE, REC_SEGMENT, REC_CHANNEL, REC_BATH = range(5)
#: rows of `JumpRecords.floats`
REC_TIME, REC_HEAT = range(2)


class JumpRecords(NamedTuple):
    """Every jump of a block (filled when jumps are kept; capacity = the arrays' length)."""

    ints: np.ndarray          # (5, cap) int64: rows REC_TRAJ ... REC_BATH
    floats: np.ndarray        # (2, cap) float: rows REC_TIME, REC_HEAT


def new_jump_records(capacity: int) -> JumpRecords:
    """Empty jump records with room for `capacity` jumps."""
    return JumpRecords(np.zeros((5, capacity), np.int64), np.zeros((2, capacity)))


class CycleSpec(NamedTuple):
    """The schedule `protocol.protocol_block` runs: S segments repeated n_cycles times."""

    H: np.ndarray             # (S, d, d) Hamiltonian of each segment (work at the switches)
    durations: np.ndarray     # (S,) float
    n_cycles: int
    store_states: bool        # accumulate |psi><psi| at every segment boundary
    keep_jumps: bool          # return every jump's (traj, cycle, segment, channel, bath) and
                              # (time, heat)


class CycleSums(NamedTuple):
    """Block reductions of `protocol.protocol_block`; the last column of each holds work, the
    others the heat of each bath."""

    rho: Accumulator          # (n_cycles S + 1, d*d) states at the boundaries, or (0, 0)
    segment: Accumulator      # (n_cycles S, nb + 1) per segment
    cycle: Accumulator        # (n_cycles, nb + 1) per cycle
    cumulative: Accumulator   # (n_cycles S + 1, nb + 1) cumulative at the boundaries
    totals: Accumulator       # (1, nb + 1) per-trajectory totals
    pairs: Accumulator        # (nb + 1, nb + 1) totals x_i + x_j (for covariances)
    counts: np.ndarray        # (K,) int64
    counts_sq: np.ndarray     # (K,) int64


class Collisions(NamedTuple):
    """Poisson arrivals of ancillas and what one collision does to a system ket.

    Ancilla |a_n> arrives with probability p_n; outcome m of measuring it in {|b_m>} maps the
    system ket psi to kraus[n, m] psi (Born weight |kraus[n, m] psi|^2)."""

    rate: float               # arrival rate
    ancilla_cum: np.ndarray   # (na,) cumulative p_n
    kraus: np.ndarray         # (na, nm, d, d) (1 x <b_m|) U (1 x |a_n>)
    kcount: np.ndarray        # (na,) int64 number of outcomes that can occur for n
    kidx: np.ndarray          # (na, nm) int64 those outcomes first
    two_point: bool           # energy = E(a_n) - E(b_m) (all states are H_a eigenstates)
    e_before: np.ndarray      # (na,) <a_n|H_a|a_n>
    e_after: np.ndarray       # (nm,) <b_m|H_a|b_m>
    W: np.ndarray             # (na, d, d) M_n^dag (1 x H_a) M_n (mean ancilla energy after)
    energy_on: bool           # record collision energies
    system_jumps: bool        # the system has jump channels (draw jump thresholds)
    static_system: bool       # H_eff = 0: nothing happens between arrivals


class CollisionOutputs(NamedTuple):
    """Output times of a collision kernel, and its time-average mode (one long trajectory
    whose state is summed into bins bin_of[it] >= 0, records stored raw)."""

    times: np.ndarray         # (nt,)
    time_average: bool
    bin_of: np.ndarray        # (nt,) int64 bin of each output time (-1: none)
    store_states: bool


class CollisionSums(NamedTuple):
    """Block reductions of the collision kernels (records: 0 = collisions so far, 1 = energy
    into the system from collisions)."""

    rho: Accumulator          # (nt or n_bins, d*d) complex, or (0, 0)
    records: Accumulator      # (2, nt) float
    counts: np.ndarray        # (K,) int64 jumps of the system's channels
    counts_sq: np.ndarray     # (K,) int64


class DensityUnravelling(NamedTuple):
    """The density-matrix unravelling: exp(L0 t) = R diag(exp(mu t)) R^-1 between arrivals,
    the collision map in the same coefficients, and the energy functional."""

    mu: np.ndarray            # (D,) eigenvalues of L0 (real parts <= 0)
    R: np.ndarray             # (D, D) eigenvectors of L0
    c0: np.ndarray            # (D,) coefficients of the initial state, R^-1 vec(rho0)
    collision: np.ndarray     # (D, D) R^-1 Phi R
    energy_row: np.ndarray    # (D,) vec(W^T) R: energy one collision moves in, as a row
    static: bool              # L0 = 0
    rate: float
    energy_on: bool
