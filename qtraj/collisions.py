"""Poisson-arrival collision models: exact collision map, averaged generator, Numba unravellings.

A system (a `Lindblad` L0, whose own baths act between collisions) meets ancillas at the times of
a Poisson process of rate r.  Each ancilla arrives fresh in `ancilla_state` rho_a and interacts
through `unitary` U on system (x) ancilla.  One collision is the exact CPTP map

    Phi(rho) = Tr_a[U (rho (x) rho_a) U^dag] = sum_{n,m} K_nm rho K_nm^dag,
    K_nm = sqrt(p_n) (1 (x) <b_m|) U (1 (x) |a_n>),

with rho_a = sum_n p_n |a_n><a_n| and {|b_m>} the ancilla measurement basis; averaged over
arrival times the system obeys drho/dt = L0 rho + r (Phi - id) rho (Çakmak, Manatuly &
Müstecaplıoğlu (2017), Eq. 10, with the exact collision map in place of its second-order
expansion).

Two unravellings, whole trajectories per Numba call (no Python per collision):

* ``method="pure"``: the system is a ket.  Between arrivals, quantum jumps of L0's channels with
  exact jump times (eigen-decomposition of H_eff, as in jumps.py; a jump competes with the next
  arrival, drawn as an exponential waiting time).  At an arrival |a_n> is drawn with probability
  p_n, the joint ket U(psi (x) a_n) is formed and the ancilla measured in {|b_m>} (Born rule); the
  system keeps (1 (x) <b_m|) U (psi (x) a_n), normalised.
* ``method="density"``: the system is a density matrix; only the arrival times are random.
  Between arrivals rho -> exp(L0 dt) rho exactly, from the eigen-decomposition
  L0 = R diag(mu) R^-1 of the superoperator (computed once; the state is carried in the
  coefficients R^-1 vec(rho)); at an arrival rho -> Phi(rho).

Energy records (need `ancilla_hamiltonian` H_a).  The energy a collision moves into the system
is minus the change of the ancilla energy.  If every drawn |a_n> and every |b_m> is an H_a
eigenstate, it is the two-point-measurement value E(a_n) - E(b_m); otherwise (and always in the
density method) the change of <H_a>: <a_n|H_a|a_n> - <Psi|1 (x) H_a|Psi>, or Tr[W rho] with
W = Tr[H_a rho_a] 1 - Tr_a[(1 (x) rho_a) U^dag (1 (x) H_a) U].  All three have mean r Tr[W rho]
per unit time (`collision_energy_current`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from . import deterministic as det
from . import kernel_inputs as ki
from ._kernels.collisions import density_block, pure_block
from ._kernels.structs import (Channels, CollisionOutputs, Collisions, CollisionSums,
                               DensityUnravelling, Mixture, Propagators,
                               new_jump_records, new_ket_scratch)
from .ensemble import RunOptions, run
from .linalg import DefectiveMatrix, diagonalise
from .lindblad import Lindblad, vec
from .results import EnsembleResult
from .rng import root_key, seed_info
from .stats import batch_means, count_mean_stderr
from .validation import (as_count, as_density_matrix, as_rate, as_square_matrix, as_state,
                         as_times, check_hermitian)

__all__ = ["CollisionModel", "PureCollisionJob", "DensityCollisionJob"]

_TOL = 1e-9


# =========================================================================== jobs
def _collision_sums(out: CollisionOutputs, d: int, n_bins: int, n_channels: int
                    ) -> CollisionSums:
    nt = out.times.shape[0]
    rows = n_bins if out.time_average else nt
    return CollisionSums(rho=ki.accumulator((rows, d * d) if out.store_states else (0, 0)),
                         records=ki.accumulator((2, nt), float),
                         counts=np.zeros(n_channels, np.int64),
                         counts_sq=np.zeros(n_channels, np.int64))


def _collision_block_bytes(out: CollisionOutputs, d: int, n_bins: int) -> int:
    """Bytes of `_collision_sums` (three arrays per accumulated number)."""
    nt = out.times.shape[0]
    rows = n_bins if out.time_average else nt
    return 3 * (16 * rows * d * d * bool(out.store_states) + 8 * 2 * nt)


def _collision_results(out: CollisionOutputs, sums: CollisionSums, d: int, n: int) -> dict:
    if out.time_average:
        return {"rho_bins": sums.rho.sum, "rec_values": sums.records.sum}
    res = {"rec": ki.moments(sums.records, n)}
    if out.store_states:
        res["rho"] = ki.moments(sums.rho, n, (out.times.shape[0], d, d))
    return res


@dataclass
class PureCollisionJob:
    """Worker job of the pure-state unravelling (picklable): the system's propagator and
    channels, the initial mixture, the collision tables and the outputs."""

    propagators: Propagators
    channels: Channels
    initial: Mixture
    collisions: Collisions
    outputs: CollisionOutputs
    key: np.ndarray
    n_bins: int = 0
    block_size: int = 64
    memory_remedy = "use fewer output times or store_states=False"

    @property
    def block_bytes(self) -> int:
        """Size of one block's sums (`qtraj.ensemble.memory_estimate`)."""
        return _collision_block_bytes(self.outputs, self.propagators.lam.shape[1], self.n_bins)

    def run_block(self, start: int, stop: int) -> dict:
        """Run trajectories start..stop-1; return their reductions."""
        d = self.propagators.lam.shape[1]
        K = self.channels.bath.shape[0]
        sums = _collision_sums(self.outputs, d, self.n_bins, K)
        ket = ki.ket_scratch(self.propagators, self.channels)
        pure_block(self.propagators, self.channels, self.initial, self.collisions, self.outputs,
                   sums, ket, new_jump_records(0), self.key, start, stop)
        res = _collision_results(self.outputs, sums, d, stop - start)
        if not self.outputs.time_average:
            res.update(counts=sums.counts, counts_sq=sums.counts_sq)
        return res


@dataclass
class DensityCollisionJob:
    """Worker job of the density-matrix unravelling (picklable)."""

    unravelling: DensityUnravelling
    outputs: CollisionOutputs
    key: np.ndarray
    n_bins: int = 0
    block_size: int = 64
    memory_remedy = "use fewer output times, store_states=False or method='pure'"

    @property
    def block_bytes(self) -> int:
        """Size of one block's sums, and the d^2 x d^2 work arrays of the density matrix."""
        d2 = self.unravelling.mu.shape[0]
        d = int(round(np.sqrt(d2)))
        return _collision_block_bytes(self.outputs, d, self.n_bins) + 16 * d2 * d2

    def run_block(self, start: int, stop: int) -> dict:
        """Run trajectories start..stop-1; return their reductions."""
        d = int(round(np.sqrt(self.unravelling.mu.shape[0])))
        sums = _collision_sums(self.outputs, d, self.n_bins, 0)
        density_block(self.unravelling, self.outputs, sums,
                      new_ket_scratch(self.unravelling.mu.shape[0], 0), self.key, start, stop)
        return _collision_results(self.outputs, sums, d, stop - start)


# =========================================================================== the model
def _contiguous(a) -> np.ndarray:
    """C-contiguous copy with a fixed dtype, so each kernel compiles for one signature only."""
    a = np.asarray(a)
    return np.ascontiguousarray(a, dtype=complex if np.iscomplexobj(a) else a.dtype)


def _is_unitary(U: np.ndarray) -> float:
    """max |U^dag U - 1|."""
    return float(np.max(np.abs(U.conj().T @ U - np.eye(U.shape[0]))))


class CollisionModel:
    """System `Lindblad` + Poisson stream (rate `rate`) of ancillas in `ancilla_state`, each
    interacting once through `unitary` on system (x) ancilla.

    measure_basis : (d_a, d_a) unitary whose columns are the ancilla measurement basis of the
        pure-state unravelling (default: eigenbasis of `ancilla_hamiltonian`, else computational).
    ancilla_hamiltonian : (d_a, d_a) Hermitian energy operator of an ancilla; only used for the
        measurement basis and the energy records (collision dynamics is fixed by `unitary`).
    """

    def __init__(self, system, ancilla_state, unitary, rate, measure_basis=None,
                 ancilla_hamiltonian=None):
        if not isinstance(system, Lindblad):
            raise ValueError(f"system must be a qtraj.Lindblad, got {type(system).__name__}")
        self.system = system
        self.ancilla_state = as_density_matrix(ancilla_state, "ancilla_state")
        ds, da = system.dim, self.ancilla_state.shape[0]
        U = as_square_matrix(unitary, "unitary")
        if U.shape[0] != ds * da:
            raise ValueError(f"unitary has dimension {U.shape[0]}, expected system x ancilla = "
                             f"{ds} x {da} = {ds * da}")
        dev = _is_unitary(U)
        if dev > 1e-8:
            raise ValueError(f"unitary is not unitary (max |U^dag U - 1| = {dev:.3g})")
        self.unitary = U
        self.rate = as_rate(rate, "rate", allow_zero=False)
        self.ancilla_hamiltonian = None
        if ancilla_hamiltonian is not None:
            Ha = as_square_matrix(ancilla_hamiltonian, "ancilla_hamiltonian", da)
            check_hermitian(Ha, "ancilla_hamiltonian")
            self.ancilla_hamiltonian = 0.5 * (Ha + Ha.conj().T)
        if measure_basis is None:
            B = (np.linalg.eigh(self.ancilla_hamiltonian)[1] if self.ancilla_hamiltonian is not
                 None else np.eye(da, dtype=complex))
        else:
            B = as_square_matrix(measure_basis, "measure_basis", da)
            dev = _is_unitary(B)
            if dev > 1e-8:
                raise ValueError(f"measure_basis columns are not an orthonormal basis "
                                 f"(max |B^dag B - 1| = {dev:.3g})")
        self.measure_basis = B
        self._p, self._a = self._ancilla_decomposition()

    # ------------------------------------------------------------------ precomputation
    def _ancilla_decomposition(self):
        """(p_n, |a_n> as columns).  If rho_a commutes with H_a, rho_a is diagonalised inside
        each energy eigenspace, so every |a_n> is an energy eigenstate (two-point records)."""
        rho, Ha = self.ancilla_state, self.ancilla_hamiltonian
        if Ha is not None and np.allclose(rho @ Ha, Ha @ rho, atol=1e-10 * max(1, np.abs(Ha).max())):
            w, Q = np.linalg.eigh(Ha)
            ps, vs = [], []
            i = 0
            while i < len(w):
                j = i + 1
                while j < len(w) and abs(w[j] - w[i]) <= _TOL * max(1.0, abs(w).max()):
                    j += 1
                p, X = np.linalg.eigh(Q[:, i:j].conj().T @ rho @ Q[:, i:j])
                ps.extend(p)
                vs.extend((Q[:, i:j] @ X).T)
                i = j
            p, A = np.array(ps), np.array(vs).T
        else:
            p, A = np.linalg.eigh(rho)
        keep = p > 1e-14
        return p[keep] / p[keep].sum(), A[:, keep]

    @property
    def dim(self) -> int:
        return self.system.dim

    @property
    def ancilla_dim(self) -> int:
        return self.ancilla_state.shape[0]

    def _isometries(self) -> np.ndarray:
        """M_n = U (1 (x) |a_n>): (n_a, d_s d_a, d_s)."""
        ds = self.dim
        return np.array([self.unitary @ np.kron(np.eye(ds), a[:, None]) for a in self._a.T])

    def _conditional_ops(self) -> np.ndarray:
        """(1 (x) <b_m|) U (1 (x) |a_n>) without sqrt(p_n): (n_a, d_a, d_s, d_s)."""
        ds, da = self.dim, self.ancilla_dim
        M = self._isometries().reshape(-1, ds, da, ds)
        return np.einsum("am,nsat->nmst", self.measure_basis.conj(), M)

    def kraus_operators(self) -> np.ndarray:
        """``K_nm = sqrt(p_n) (1 (x) <b_m|) U (1 (x) |a_n>)``, stacked: (n_a * d_a, d_s, d_s)."""
        K = self._conditional_ops() * np.sqrt(self._p)[:, None, None, None]
        return K.reshape(-1, self.dim, self.dim)

    # ------------------------------------------------------------------ deterministic side
    def collision_map(self, rho_s) -> np.ndarray:
        """Phi(rho_s) = Tr_anc[U (rho_s (x) rho_anc) U^dag], exact."""
        rho_s = as_square_matrix(rho_s, "rho_s", self.dim)
        K = self.kraus_operators()
        return np.einsum("kij,jl,kml->im", K, rho_s, K.conj())

    def ancilla_output(self, rho_s) -> np.ndarray:
        """State of the outgoing ancilla, Tr_sys[U (rho_s (x) rho_anc) U^dag]."""
        rho_s = as_square_matrix(rho_s, "rho_s", self.dim)
        ds, da = self.dim, self.ancilla_dim
        out = self.unitary @ np.kron(rho_s, self.ancilla_state) @ self.unitary.conj().T
        return np.einsum("iaib->ab", out.reshape(ds, da, ds, da))

    def collision_superop(self) -> np.ndarray:
        """Superoperator of Phi (column stacking): sum_k conj(K_k) kron K_k."""
        K = self.kraus_operators()
        return sum(np.kron(k.conj(), k) for k in K)

    def liouvillian(self, sparse: bool = False):
        """Superoperator of the averaged generator L0 + r (Phi - id) (column stacking)."""
        D = self.dim ** 2
        A = self.system.liouvillian(sparse=False) + self.rate * (self.collision_superop()
                                                                 - np.eye(D))
        if sparse:
            import scipy.sparse as sp
            return sp.csr_matrix(A)
        return A

    def steady_state(self, rho0=None) -> np.ndarray:
        """Steady state of L0 + r (Phi - id) (long-time limit from rho0 if not unique)."""
        return det.steady_state(self, rho0)

    def mesolve(self, rho0, times) -> np.ndarray:
        """Exact averaged evolution exp[(L0 + r (Phi - id)) t] rho0 at `times`."""
        return det.mesolve(self, rho0, times)

    def energy_operator(self) -> np.ndarray:
        """W with Tr[W rho] = mean energy one collision moves into the system (minus the mean
        change of the ancilla energy); requires ancilla_hamiltonian."""
        Ha = self._require_Ha()
        ds, da = self.dim, self.ancilla_dim
        U = self.unitary
        X = U.conj().T @ np.kron(np.eye(ds), Ha) @ U @ np.kron(np.eye(ds), self.ancilla_state)
        return np.trace(Ha @ self.ancilla_state).real * np.eye(ds) - \
            np.einsum("iaja->ij", X.reshape(ds, da, ds, da))

    def collision_energy_current(self, rho) -> float:
        """Energy per unit time into the system from collisions, r Tr[W rho]."""
        rho = as_square_matrix(rho, "rho", self.dim)
        return float(self.rate * np.trace(self.energy_operator() @ rho).real)

    def expected_collision_energy(self, rho0, times) -> np.ndarray:
        """Mean cumulative collision energy int_{t0}^{t} r Tr[W rho(s)] ds at `times` (exact:
        exponential of the generator augmented by the energy row)."""
        rho0 = as_state(rho0, self.dim, "rho0")
        times = as_times(times)
        D = self.dim ** 2
        A = np.zeros((D + 1, D + 1), complex)
        A[:D, :D] = self.liouvillian()
        A[D, :D] = self.rate * vec(self.energy_operator().T)
        x = np.append(vec(rho0), 0.0)
        return np.array([(sla.expm(A * (t - times[0])) @ x)[D].real for t in times])

    def _require_Ha(self) -> np.ndarray:
        if self.ancilla_hamiltonian is None:
            raise ValueError("this needs the ancilla energy: pass ancilla_hamiltonian")
        return self.ancilla_hamiltonian

    # ------------------------------------------------------------------ stochastic side
    def _collision_tables(self) -> Collisions:
        """What one collision of the pure-state unravelling needs (see `Collisions`)."""
        sysm = self.system
        Ls = sysm.jump_operators()
        cond = self._conditional_ops()
        na, nm = cond.shape[:2]
        nz = np.array([[np.any(np.abs(cond[n, m]) > 1e-14) for m in range(nm)] for n in range(na)])
        kcount = nz.sum(axis=1).astype(np.int64)
        kidx = np.zeros((na, nm), np.int64)
        for n in range(na):
            kidx[n, :kcount[n]] = np.nonzero(nz[n])[0]
        energy_on = self.ancilla_hamiltonian is not None
        tpm, e_before, e_after, Wn = self._energy_tables(energy_on)
        has_jumps = bool(Ls.shape[0] > 0 and np.any(np.abs(Ls) > 0))
        static = not has_jumps and not np.any(sysm.effective_hamiltonian() != 0)
        c = _contiguous
        return Collisions(rate=self.rate, ancilla_cum=c(np.cumsum(self._p)), kraus=c(cond),
                          kcount=kcount, kidx=kidx, two_point=bool(tpm),
                          e_before=c(e_before).astype(float), e_after=c(e_after).astype(float),
                          W=c(Wn).astype(complex), energy_on=energy_on,
                          system_jumps=has_jumps, static_system=bool(static))

    def _energy_tables(self, energy_on: bool):
        na, da, ds = len(self._p), self.ancilla_dim, self.dim
        if not energy_on:
            return False, np.zeros(na), np.zeros(da), np.zeros((na, ds, ds), complex)
        Ha = self.ancilla_hamiltonian

        def is_eig(v):
            e = (v.conj() @ Ha @ v).real
            return np.linalg.norm(Ha @ v - e * v) <= 1e-9 * max(1.0, np.abs(Ha).max())
        tpm = all(is_eig(a) for a in self._a.T) and all(is_eig(b) for b in self.measure_basis.T)
        e_before = np.einsum("in,ij,jn->n", self._a.conj(), Ha, self._a).real
        e_after = np.einsum("im,ij,jm->m", self.measure_basis.conj(), Ha,
                            self.measure_basis).real
        M = self._isometries()
        HaI = np.kron(np.eye(ds), Ha)
        Wn = np.einsum("nji,jk,nkl->nil", M.conj(), HaI, M)
        return tpm, e_before, e_after, np.ascontiguousarray(Wn)

    def _density_unravelling(self, rho0: np.ndarray) -> DensityUnravelling:
        L0 = self.system.liouvillian()
        D = L0.shape[0]
        static = not np.any(L0 != 0)
        if static:
            mu, R, Rinv = np.zeros(D, complex), np.eye(D, dtype=complex), np.eye(D, dtype=complex)
        else:
            try:
                mu, R, Rinv = diagonalise(L0)
            except DefectiveMatrix as exc:
                raise ValueError(
                    f"method='density' needs a diagonalisable system Liouvillian, but its "
                    f"{exc} (an exceptional point); use method='pure' or perturb a parameter "
                    f"slightly") from None
        mu = np.minimum(mu.real, 0.0) + 1j * mu.imag
        Sp = Rinv @ self.collision_superop() @ R
        energy_on = self.ancilla_hamiltonian is not None
        wR = vec(self.energy_operator().T) @ R if energy_on else np.zeros(D, complex)
        c = _contiguous
        return DensityUnravelling(mu=c(mu), R=c(R), c0=c(Rinv @ vec(rho0)), collision=c(Sp),
                                  energy_row=c(wR).astype(complex), static=bool(static),
                                  rate=self.rate, energy_on=energy_on)

    def _job(self, state0, times, seed, method, time_average=False, bin_of=None, n_bins=0,
             store_states=True):
        if method not in ("pure", "density"):
            raise ValueError(f"method must be 'pure' or 'density', got {method!r}")
        rho0 = as_state(state0, self.dim, "state0")
        times = as_times(times)
        ss, key = root_key(seed)
        if bin_of is None:
            bin_of = np.arange(len(times), dtype=np.int64)
        out = CollisionOutputs(times=np.ascontiguousarray(times, dtype=float),
                               time_average=bool(time_average),
                               bin_of=np.asarray(bin_of, np.int64),
                               store_states=bool(store_states))
        if method == "pure":
            job = PureCollisionJob(propagators=ki.propagators_of([self.system]),
                                   channels=ki.channels([self.system]),
                                   initial=ki.mixture(rho0),
                                   collisions=self._collision_tables(),
                                   outputs=out, key=key, n_bins=n_bins)
        else:
            job = DensityCollisionJob(self._density_unravelling(rho0), out, key, n_bins)
        return job, ss, times

    def simulate(self, state0, times, ntraj: int | None = None, seed=0, n_jobs: int = 1,
                 method: str = "pure",
                 backend: str = "loky", batch_size: int | None = None,
                 progress: bool | None = None, store_states: bool | None = None,
                 target_stderr: float | None = None, timeout: float | None = None, out=None,
                 resume: bool = False, scheduler: str | None = None,
                 checkpoint_every: float | None = None, *,
                 target_rel_stderr: float | None = None) -> EnsembleResult:
        """Shot-by-shot ensemble of the collision model.

        Parameters
        ----------
        state0 : (d,) ket or (d, d) density matrix of the system at times[0]
        times : increasing output times
        method : {"pure", "density"}
            "pure": the system is a ket (its own jumps with exact times, ancilla measured at
            each collision); "density": the system is a density matrix and only the arrival
            times are random (see the module docstring).
        store_states : bool or None, default None
            Average the system density matrix at every output time.  None: True (the
            density matrix is this solver's main output; it takes no e_ops).
        ntraj, seed, n_jobs, backend, batch_size, progress, target_stderr, target_rel_stderr,
        timeout, out, resume, checkpoint_every, scheduler
            The run options of every qtraj solver (`qtraj.ensemble.RunOptions`); the targets
            refer to the density matrix.  Trajectory i uses random stream (seed, i): identical
            for any n_jobs, batch_size or backend.

        Returns
        -------
        EnsembleResult
            With these fields (records are read as ``result[name]``, each with its standard
            error ``result[name + "_stderr"]``):

            - ``times``: the output times;
            - ``mean``, ``stderr``: (nt, d, d) system density matrix and its standard error
              (None when store_states=False);
            - "collisions": collisions per trajectory in [times[0], times[-1]];
              "collisions_cumulative" (nt,): up to each output time;
            - with ancilla_hamiltonian: "collision_energy" (energy into the system from
              collisions over the window), "collision_energy_cumulative" (nt,),
              "heat_current_collisions" (= collision_energy / duration);
            - method="pure": "jump_counts" (K,) of the system's own channels;
            - ``meta``: run information, "method", "rate", "two_point_energy" (whether
              energies are two-point-measurement values).

        Raises
        ------
        ValueError
            For a bad state, times, method or run option; method="density" with a (nearly)
            defective system Liouvillian.

        Examples
        --------
        >>> import numpy as np, qtraj as qt
        >>> from qtraj import operators as op
        >>> cm = qt.CollisionModel(qt.Lindblad(np.zeros((2, 2))), np.diag([0.5, 0.5]),
        ...                        np.eye(4), rate=1.0)
        >>> res = cm.simulate(op.basis(2, 0), [0.0, 2.0], 200, seed=1, progress=False)
        >>> res.mean.shape, round(float(res["collisions"]), 1) > 0
        ((2, 2, 2), True)
        """
        opts = RunOptions.from_mapping(locals())
        store_states = True if store_states is None else bool(store_states)
        job, ss, times = self._job(state0, times, seed, method, store_states=store_states)
        if opts.target is not None and not store_states:
            raise ValueError("target_stderr/target_rel_stderr need store_states=True")
        return run(job, opts, target_fn=lambda total: total["rho"],
                   to_result=lambda total, info: self._to_result(total, info, job, ss, times,
                                                                 method))

    def _to_result(self, total, info, job, ss, times, method) -> EnsembleResult:
        n = info["ntraj"]
        rec = total["rec"]
        mean_r, se_r = rec.mean, rec.stderr
        records = {"collisions_cumulative": mean_r[0], "collisions_cumulative_stderr": se_r[0],
                   "collisions": mean_r[0, -1], "collisions_stderr": se_r[0, -1]}
        if self.ancilla_hamiltonian is not None:
            dur = times[-1] - times[0]
            records.update({
                "collision_energy_cumulative": mean_r[1],
                "collision_energy_cumulative_stderr": se_r[1],
                "collision_energy": mean_r[1, -1], "collision_energy_stderr": se_r[1, -1],
                "heat_current_collisions": mean_r[1, -1] / dur if dur > 0 else np.nan,
                "heat_current_collisions_stderr": se_r[1, -1] / dur if dur > 0 else np.nan})
        if method == "pure":
            cmean, cse = count_mean_stderr(total["counts"], total["counts_sq"], n)
            records.update({"jump_counts": cmean, "jump_counts_stderr": cse})
        mean = stderr = None
        if "rho" in total:
            mean, stderr = total["rho"].mean, total["rho"].stderr
        meta = dict(info, solver="CollisionModel.simulate", method=method, rate=self.rate,
                    two_point_energy=bool(method == "pure" and job.collisions.two_point))
        return EnsembleResult(times=times, mean=mean, stderr=stderr, ntraj=n,
                              seed=seed_info(ss), records=records, meta=meta)

    def simulate_time_average(self, state0, t_total: float, burn_in: float = 0.0,
                              n_batches: int = 32, seed=0, method: str = "pure",
                              samples_per_batch: int = 200) -> EnsembleResult:
        """Time average of one long trajectory over [burn_in, burn_in + t_total].

        The state is sampled at `samples_per_batch` evenly spaced times in each of `n_batches`
        consecutive windows; error bars are batch means (windows must be much longer than the
        relaxation time for them to be honest).  Returns an EnsembleResult with times =
        [burn_in + t_total], mean/stderr of shape (1, d, d), records "collisions" and
        "collision_energy" (totals over the averaging window), "heat_current_collisions"
        (= collision_energy / t_total), each with a batch-means "_stderr", and "batch_means"
        (n_batches, d, d).  Uses random stream (seed, 0).
        """
        t_total = as_rate(t_total, "t_total", allow_zero=False)
        burn_in = as_rate(burn_in, "burn_in")
        nb = as_count(n_batches, "n_batches", minimum=2)
        spb = as_count(samples_per_batch, "samples_per_batch")
        Tb = t_total / nb
        times, bins, edges = [0.0], [-1], []
        for b in range(nb + 1):
            edges.append(len(times))
            times.append(burn_in + b * Tb)
            bins.append(-1)
            if b < nb:
                times.extend(burn_in + b * Tb + (np.arange(spb) + 0.5) * Tb / spb)
                bins.extend([b] * spb)
        job, ss, times = self._job(state0, np.array(times), seed, method, time_average=True,
                                   bin_of=np.array(bins, np.int64), n_bins=nb)
        out = job.run_block(0, 1)
        d = self.dim
        bmeans = out["rho_bins"].reshape(nb, d, d) / spb
        mean, se = batch_means(bmeans, nb)
        vals = out["rec_values"][:, edges]              # cumulative records at window edges
        per = np.diff(vals, axis=1)                      # (2, nb) per-window totals
        records = {"batch_means": bmeans}
        cm, cse = batch_means(per[0], nb)
        records.update({"collisions": cm * nb, "collisions_stderr": cse * nb})
        if self.ancilla_hamiltonian is not None:
            em, ese = batch_means(per[1], nb)
            records.update({"collision_energy": em * nb, "collision_energy_stderr": ese * nb,
                            "heat_current_collisions": em / Tb,
                            "heat_current_collisions_stderr": ese / Tb})
        meta = dict(solver="CollisionModel.simulate_time_average", method=method,
                    rate=self.rate, burn_in=burn_in, t_total=t_total, n_batches=nb,
                    samples_per_batch=spb)
        return EnsembleResult(times=np.array([burn_in + t_total]), mean=mean[None],
                              stderr=se[None], ntraj=1, seed=seed_info(ss), records=records,
                              meta=meta)

    def __repr__(self) -> str:
        return (f"CollisionModel(dim={self.dim}, ancilla_dim={self.ancilla_dim}, rate={self.rate}, "
                f"system={self.system!r})")

