"""Build the kernels' named inputs from models: one function per structure.

The Numba kernels (`qtraj._kernels`) read named tuples of arrays (`qtraj._kernels.structs`);
this module is the only place that fills them, from the model objects and the linear algebra of
`qtraj.linalg`.  Solvers call these functions and never assemble kernel arrays by hand.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._kernels.structs import (Accumulator, Channels, CSCStack, JumpOutputs, JumpSums,
                               KetScratch, Mixture, Propagators, new_ket_scratch)
from .linalg import (KRYLOV_DIM, KRYLOV_TOL, EigenPropagator, KrylovPropagator,
                     choose_propagator, csc_stack, initial_mixture)
from .stats import Moments, shifted_moments

__all__ = ["propagators", "propagators_of", "propagator_name", "krylov_dim", "ket_scratch", "channels",
           "mixture", "accumulator", "moments", "jump_outputs", "jump_sums", "as_eops"]


def _stack(As, tol: float = 0.0, dim: int | None = None) -> CSCStack:
    return CSCStack(*csc_stack(As, tol, dim))


def propagators(parts: Sequence[EigenPropagator | KrylovPropagator]) -> Propagators:
    """Stack the no-jump propagators of S segments (S = 1 for a constant model).  A Krylov
    segment carries its ket as itself: zero eigenvalues and identity eigenvectors there."""
    d = (parts[0].lam if isinstance(parts[0], EigenPropagator) else parts[0].A).shape[0]
    eye = np.eye(d, dtype=complex)
    zero = np.zeros((d, d), dtype=complex)
    eig = [isinstance(p, EigenPropagator) for p in parts]
    return Propagators(
        lam=np.ascontiguousarray([p.lam if e else np.zeros(d) for p, e in zip(parts, eig)],
                                 dtype=complex),
        V=_stack([p.V if e else eye for p, e in zip(parts, eig)], 1e-15),
        Vinv=_stack([p.Vinv if e else eye for p, e in zip(parts, eig)], 1e-15),
        gram=np.ascontiguousarray([p.gram if e else eye for p, e in zip(parts, eig)],
                                  dtype=complex),
        normal=np.array([p.normal if e else True for p, e in zip(parts, eig)], dtype=np.bool_),
        diagonal=np.array([p.diagonal if e else True for p, e in zip(parts, eig)],
                          dtype=np.bool_),
        krylov=np.array([not e for e in eig], dtype=np.bool_),
        A=_stack([zero if e else p.A for p, e in zip(parts, eig)], dim=d),
        krylov_tol=np.array([0.0 if e else p.tol for p, e in zip(parts, eig)], dtype=float))


def propagators_of(models: Sequence, method: str = "auto", tol: float = KRYLOV_TOL
                   ) -> Propagators:
    """`propagators` of the effective Hamiltonians of a sequence of `Lindblad` models (see
    `qtraj.linalg.choose_propagator` for `method` and `tol`)."""
    return propagators([choose_propagator(m.effective_hamiltonian(), method, tol)
                        for m in models])


def propagator_name(prop: Propagators) -> str:
    """"eigen", "krylov" or "eigen+krylov" (a protocol with both kinds of segment)."""
    kinds = {bool(k) for k in prop.krylov}
    return "eigen+krylov" if len(kinds) == 2 else ("krylov" if True in kinds else "eigen")


def ket_scratch(prop: Propagators, chans: Channels, extra_tally: int = 0) -> KetScratch:
    """Work arrays of one trajectory for the kernels of (prop, chans): a tally row per bath
    (plus `extra_tally` more, e.g. the work of a protocol) and room for the Krylov spaces."""
    K = chans.bath.shape[0]
    n_baths = int(chans.bath.max()) + 1 if K else 0
    return new_ket_scratch(prop.lam.shape[1], K, n_baths + extra_tally, krylov_dim(prop))


def krylov_dim(prop: Propagators) -> int:
    """Dimension of the Krylov spaces the kernels' scratch must hold (0 without Krylov)."""
    return min(KRYLOV_DIM, prop.lam.shape[1]) if bool(np.any(prop.krylov)) else 0


def channels(models: Sequence, baths: Sequence[str] | None = None,
             state_heat: bool = False) -> Channels:
    """Jump channels of a sequence of `Lindblad` models (one per segment), in order.

    Parameters
    ----------
    models : the segments' models (one for a constant model)
    baths : bath names defining the bath index of each channel (default: the first model's)
    state_heat : give each jump the state-dependent heat estimator (the segment's H) instead of
        the channel's transition energy

    Returns
    -------
    Channels
    """
    d = models[0].dim
    baths = list(models[0].baths if baths is None else baths)
    ops, energy, bath, first = [], [], [], [0]
    for m in models:
        ops += list(m.jump_operators())
        energy += list(m.channel_energies())
        bath += [baths.index(c.bath) for c in m.channels]
        first.append(len(ops))
    heat_H = (np.ascontiguousarray([m.H for m in models], dtype=complex) if state_heat
              else np.zeros((0, d, d), complex))
    return Channels(ops=_stack(np.array(ops, dtype=complex).reshape(-1, d, d), dim=d),
                    first=np.array(first, dtype=np.int64),
                    energy=np.nan_to_num(np.asarray(energy, dtype=float).reshape(-1)),
                    bath=np.array(bath, dtype=np.int64).reshape(-1),
                    heat_H=heat_H)


def mixture(rho0: np.ndarray) -> Mixture:
    """The initial state as a mixture of kets (its eigen-decomposition)."""
    cum, kets = initial_mixture(rho0)
    return Mixture(np.ascontiguousarray(cum, dtype=float),
                   np.ascontiguousarray(kets, dtype=complex))


def accumulator(shape, dtype=complex) -> Accumulator:
    """Zeroed shifted-sum accumulator of the given shape."""
    return Accumulator(np.zeros(shape, dtype), np.zeros(shape, dtype), np.zeros(shape, dtype))


def moments(acc: Accumulator, n: int, shape=None) -> Moments:
    """Moments of n trajectories from a block's accumulator (optionally reshaped)."""
    s, q, k = acc
    if shape is not None:
        s, q, k = s.reshape(shape), q.reshape(shape), k.reshape(shape)
    return shifted_moments(n, s, q, k)


def as_eops(e_ops, d: int) -> np.ndarray:
    """e_ops (None, one (d, d) operator or a list of them; arrays or QuTiP Qobj) as a
    (ne, d, d) complex array."""
    from .validation import as_square_matrix
    if e_ops is None:
        return np.zeros((0, d, d), complex)
    one = isinstance(e_ops, np.ndarray) and e_ops.ndim == 2
    if one or callable(getattr(e_ops, "full", None)):
        e_ops = [e_ops]                 # one operator (an array or a QuTiP Qobj)
    return np.array([as_square_matrix(e, f"e_ops[{i}]", d) for i, e in enumerate(e_ops)],
                    dtype=complex).reshape(-1, d, d)


def jump_outputs(times: np.ndarray, prop: Propagators, eops: np.ndarray, store_states: bool,
                 keep_jumps: bool) -> JumpOutputs:
    """Output times, output-step exponentials of segment 0, and the e_ops split into diagonal
    ones (populations: O(d) per evaluation) and dense ones."""
    d = prop.lam.shape[1]
    isdiag = np.array([np.count_nonzero(e - np.diag(np.diag(e))) == 0 for e in eops],
                      dtype=np.bool_)
    return JumpOutputs(
        times=np.ascontiguousarray(times, dtype=float),
        step_factors=np.ascontiguousarray(np.exp(np.outer(np.diff(times), prop.lam[0]))),
        e_diag=np.ascontiguousarray(np.array([np.diag(e) for e in eops[isdiag]]).reshape(-1, d),
                                    dtype=complex),
        e_dense=np.ascontiguousarray(eops[~isdiag], dtype=complex).reshape(-1, d, d),
        e_isdiag=isdiag, store_states=bool(store_states), keep_jumps=bool(keep_jumps))


def jump_sums(out: JumpOutputs, d: int, n_baths: int, n_channels: int) -> JumpSums:
    """Zeroed block reductions of the jump kernel."""
    nt = out.times.shape[0]
    return JumpSums(rho=accumulator((nt, d * d) if out.store_states else (0, 0)),
                    expect=accumulator((out.e_isdiag.shape[0], nt)),
                    heat=accumulator((n_baths, nt)),
                    counts=np.zeros(n_channels, np.int64),
                    counts_sq=np.zeros(n_channels, np.int64))
