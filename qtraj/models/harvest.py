"""Atomic-beam coherence harvesting (Çakmak, Manatuly & Müstecaplıoğlu (2017), PRA 96, 032117,
Sec. III C and Appendix B; equation and table numbers below are theirs).

A qubit q (H_q = omega0/2 sigma_z) meets atom pairs at Poisson times (rate p = `rate`); each pair
arrives fresh in `pair_state` rho_b and interacts for a time tau through
H_int = g sum_{i=1,2} (sigma_i^+ sigma_0^- + h.c.) (Eq. 9).  In the interaction picture of
H_q + H_b (resonant, so H_int is time independent) the qubit does not evolve between collisions,
and one collision is the exact map Phi(rho) = Tr_b[U (rho (x) rho_b) U^dag],
U = exp(-i g_tau S), S = sigma_0^+ J^- + sigma_0^- J^+ on qubit (x) pair (Eq. B1, not expanded).
Averaged over arrival times: drho/dt = p (Phi(rho) - rho) (Eq. 10).

Basis mapping.  qtraj's pair basis is atom 1 (x) atom 2, index 0 = ground: |gg> = 0, |ge> = 1,
|eg> = 2, |ee> = 3.  The paper lists |ee>, |eg>, |ge>, |gg> (first letter = atom 1), so the
paper's a_ij (1-based) is rho_b[4 - i, 4 - j] here (`to_paper_basis`); e.g. the heat-exchange
coherence a_23 = <eg|rho_b|ge> is rho_b[2, 1].  Table I in expectation values (J^- = sum_i
sigma_i^-): lam = <J^-> = a_12 + a_13 + a_24 + a_34, eps = <(J^-)^2>/2 = a_14,
r_e = <J^+ J^-> = 2a_11 + a_22 + a_23 + a_32 + a_33, r_d = <J^- J^+> = 2a_44 + a_22 + a_23 + a_32 + a_33.

The paper's second-order equation (Eqs. 11-16), mu = p g_tau^2:
    drho/dt = -i[p g_tau (lam sigma^+ + lam* sigma^-), rho] + mu r_e D[sigma^+] + mu r_d D[sigma^-]
              + 2 mu (eps sigma^+ rho sigma^+ + eps* sigma^- rho sigma^-),
a GKS generator with Kossakowski matrix mu [[r_e, 2 eps], [2 eps*, r_d]] on (sigma^+, sigma^-)
(positive: |<J^- J^->|^2 <= r_e r_d).  For lam = eps = 0 its steady state is Eq. (30), which in
qtraj's order (ground first) is diag(r_d, r_e)/(r_e + r_d); the exact Phi has the same fixed
point for every g_tau (per collision P(g->e) = sin^2(sqrt2 g_tau) r_e/2, P(e->g) =
sin^2(sqrt2 g_tau) r_d/2).  With lam != 0 the second-order equation is order-inconsistent (O(g_tau)
drive against O(g_tau^2) damping): the exact map is the reference.  Effective temperature
T = -omega0 / ln(r_e/r_d) (the printed T = -(hbar omega0/k_B) ln(r_e/r_d) has the logarithm in the
wrong place: it must divide, as the Gibbs ratio r_e/r_d = exp(-omega0/T) requires).
"""

from __future__ import annotations

import warnings
from math import factorial

import numpy as np
import scipy.linalg as sla

from .. import deterministic as det
from ..collisions import CollisionModel
from ..ensemble import RunOptions
from ..lindblad import Channel, Lindblad, vec
from ..measures import effective_temperature as _temperature
from ..operators import collective, kron, partial_trace, sigma_minus, sigma_plus, sigma_z
from ..results import EnsembleResult
from ..validation import as_count, as_density_matrix, as_rate, as_state, as_times

__all__ = ["HarvestScheme", "pair_state_from_bath", "dephased", "to_paper_basis",
           "from_paper_basis", "temperature_estimate"]

#: g_tau from which the second-order (Eqs. 11-16) equation is flagged as unreliable
SECOND_ORDER_WARN = 0.3


def to_paper_basis(rho_b) -> np.ndarray:
    """Pair matrix in the paper's order |ee>, |eg>, |ge>, |gg> (a_ij = result[i-1, j-1])."""
    rho_b = np.asarray(rho_b, dtype=complex)
    return rho_b[::-1, ::-1].copy()


def from_paper_basis(a) -> np.ndarray:
    """Inverse of `to_paper_basis` (the reversal is its own inverse)."""
    return to_paper_basis(a)


def pair_state_from_bath(nbar: float) -> np.ndarray:
    """Long-time state of two collective atoms started in |gg> (collective limit, Dicke ladder):
    p_0|gg><gg| + p_1|D_1><D_1| + p_2|ee><ee|, p_k ~ (nbar/(nbar+1))^k (a_23 = p_1/2)."""
    from .collective import pair_longtime_state
    return pair_longtime_state(nbar)


def dephased(pair) -> np.ndarray:
    """The pair state without its heat-exchange coherence a_23 = a_32 (rho[1,2] = rho[2,1] = 0)."""
    from .collective import dephase_pair
    return dephase_pair(pair)


def temperature_estimate(p_e: float, p_e_stderr: float, omega0: float = 1.0):
    """T = omega0 / ln((1 - p_e)/p_e) of a qubit and its delta-method standard error."""
    x = np.log((1 - p_e) / p_e)
    return float(omega0 / x), float(omega0 / x ** 2 / (p_e * (1 - p_e)) * p_e_stderr)


class _Generator:
    """A bare superoperator readable by qtraj.deterministic (dim, liouvillian)."""

    def __init__(self, sup: np.ndarray):
        self.sup, self.dim = sup, int(round(np.sqrt(sup.shape[0])))

    def liouvillian(self, sparse: bool = False):
        if sparse:
            import scipy.sparse as sp
            return sp.csr_matrix(self.sup)
        return self.sup


class HarvestScheme:
    """Qubit harvesting pair coherences from an atomic beam (Çakmak et al. (2017), Sec. III C).

    pair_state : (4, 4) pair density matrix in qtraj's basis (atom 1 (x) atom 2, index 0 = g).
    g_tau : interaction strength times duration (> 0).  rate : pair arrival rate p.
    omega0 : transition frequency (enters energies only: the dynamics is in the interaction
        picture).  `self.model` is the underlying CollisionModel (system = qubit with zero
        Hamiltonian and no channels, ancilla = pair, energies H_q, H_b = omega0/2 sigma_z sums).
    """

    def __init__(self, pair_state, g_tau: float, rate: float = 1.0, omega0: float = 1.0):
        self.pair_state = as_density_matrix(pair_state, "pair_state", dim=4)
        self.g_tau = as_rate(g_tau, "g_tau", allow_zero=False)
        self.rate = as_rate(rate, "rate", allow_zero=False)
        self.omega0 = as_rate(omega0, "omega0", allow_zero=False)
        self.Jm = collective(sigma_minus(), 2)
        self.Jp = self.Jm.conj().T
        self.H_q = 0.5 * self.omega0 * sigma_z()
        self.H_b = 0.5 * self.omega0 * collective(sigma_z(), 2)
        self.S = kron(sigma_plus(), self.Jm) + kron(sigma_minus(), self.Jp)
        self.unitary = sla.expm(-1j * self.g_tau * self.S)
        self.model = CollisionModel(Lindblad(np.zeros((2, 2))), self.pair_state, self.unitary,
                                    self.rate, ancilla_hamiltonian=self.H_b)

    # ------------------------------------------------------------------ Table I
    def coefficients(self) -> dict:
        """Table I as pair expectation values: r_e = <J+J->, r_d = <J-J+> (real), lam = <J->,
        eps = <(J-)^2>/2 (complex), and mu = p g_tau^2."""
        ev = lambda A: np.trace(self.pair_state @ A)  # noqa: E731
        return {"r_e": float(ev(self.Jp @ self.Jm).real), "r_d": float(ev(self.Jm @ self.Jp).real),
                "lam": complex(ev(self.Jm)), "eps": complex(ev(self.Jm @ self.Jm) / 2),
                "mu": self.rate * self.g_tau ** 2}

    # ------------------------------------------------------------------ second order (paper)
    def second_order_model(self) -> Lindblad:
        """Eqs. (11)-(16) as a Lindblad model (channels from the Kossakowski matrix)."""
        c = self.coefficients()
        mu, lam, eps = c["mu"], c["lam"], c["eps"]
        H = self.rate * self.g_tau * (lam * sigma_plus() + np.conj(lam) * sigma_minus())
        kos = mu * np.array([[c["r_e"], 2 * eps], [2 * np.conj(eps), c["r_d"]]])
        w, v = np.linalg.eigh(kos)
        ops = (sigma_plus(), sigma_minus())
        chans = [Channel(v[0, k] * ops[0] + v[1, k] * ops[1], float(w[k]), bath="beam")
                 for k in range(2) if w[k] > 1e-14 * max(1.0, abs(w).max())]
        return Lindblad(H, chans)

    def second_order_steady_state(self, rho0=None) -> np.ndarray:
        """Steady state of Eqs. (11)-(16); warns for g_tau >= 0.3 (expansion unreliable)."""
        if self.g_tau >= SECOND_ORDER_WARN:
            warnings.warn(f"g_tau = {self.g_tau} >= {SECOND_ORDER_WARN}: the second-order master "
                          f"equation (Eqs. 11-16) is unreliable; use steady_state() (exact map)",
                          stacklevel=2)
        return det.steady_state(self.second_order_model(), rho0)

    def expanded_liouvillian(self, order: int = 3) -> np.ndarray:
        """Superoperator of p (Phi_n - id), Phi expanded to `order` in g_tau:
        Phi_n(rho) = sum_{j+l<=n} (-i g_tau)^j (i g_tau)^l / (j! l!) Tr_b[S^j (rho x rho_b) S^l].
        order=2 is Eqs. (11)-(16); order=3 adds the O(g_tau^3) term the paper omits."""
        order = as_count(order, "order")
        powers = [np.linalg.matrix_power(self.S, k) for k in range(order + 1)]
        sup = np.zeros((4, 4), complex)
        for k in range(4):                         # columns: images of the basis |i><j|
            rho = np.zeros((2, 2), complex)
            rho[k % 2, k // 2] = 1.0               # column stacking: vec index k = i + 2 j
            big = np.kron(rho, self.pair_state)
            out = np.zeros((8, 8), complex)
            for j in range(order + 1):
                for l in range(order + 1 - j):
                    if j + l:
                        out += ((-1j * self.g_tau) ** j * (1j * self.g_tau) ** l
                                / (factorial(j) * factorial(l))) * (powers[j] @ big @ powers[l])
            sup[:, k] = vec(partial_trace(out, [2, 4], [0]))
        return self.rate * sup

    def expanded_steady_state(self, order: int = 3, rho0=None) -> np.ndarray:
        """Steady state of the order-`order` expansion (`expanded_liouvillian`)."""
        return det.steady_state(_Generator(self.expanded_liouvillian(order)), rho0)

    def eq30_state(self) -> np.ndarray:
        """Eq. (30) in qtraj's order: diag(r_d, r_e)/(r_e + r_d) (ground first)."""
        c = self.coefficients()
        return np.diag([c["r_d"], c["r_e"]]).astype(complex) / (c["r_e"] + c["r_d"])

    def effective_mu(self) -> float:
        """p sin^2(sqrt2 g_tau)/2: the exact map's rate constant replacing mu = p g_tau^2 when
        lam = eps = 0 (population relaxation rate = effective_mu (r_e + r_d))."""
        return self.rate * np.sin(np.sqrt(2) * self.g_tau) ** 2 / 2

    # ------------------------------------------------------------------ exact
    def steady_state(self, rho0=None) -> np.ndarray:
        """Exact fixed point of the collision map Phi (kernel of p (Phi - id))."""
        return self.model.steady_state(rho0)

    def mesolve(self, rho0, times) -> np.ndarray:
        """Exact averaged evolution exp[p (Phi - id) t] rho0."""
        return self.model.mesolve(rho0, times)

    def effective_temperature(self, rho=None) -> float:
        """T = omega0 / ln(p_g/p_e) of the exact steady state (or of rho); equals
        -omega0/ln(r_e/r_d) whenever Eq. (30) holds."""
        return _temperature(self.steady_state() if rho is None else rho, self.omega0)

    def effective_temperature_eq30(self) -> float:
        """-omega0 / ln(r_e / r_d) from Table I."""
        c = self.coefficients()
        return float(-self.omega0 / np.log(c["r_e"] / c["r_d"]))

    def heat_current(self, rho=None) -> float:
        """Energy per unit time into the qubit from the beam, Tr[H_q p (Phi(rho) - rho)].

        Default rho: the exact steady state, where it vanishes (no other bath); pass a
        non-steady rho (or use `heat_current_transient`) for the transient value.
        """
        rho = self.steady_state() if rho is None else as_state(rho, 2, "rho")
        return float(self.rate * np.trace(self.H_q @ (self.model.collision_map(rho) - rho)).real)

    def heat_current_transient(self, rho0, times) -> np.ndarray:
        """Heat current into the qubit along the exact averaged evolution from rho0."""
        times = as_times(times)
        return np.array([self.heat_current(r) for r in self.mesolve(rho0, times)])

    # ------------------------------------------------------------------ shot by shot
    def simulate(self, state0, times, ntraj: int | None = None, seed=0, n_jobs: int = 1,
                 method: str = "pure", *, store_states: bool | None = None,
                 backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 target_stderr: float | None = None, target_rel_stderr: float | None = None,
                 timeout: float | None = None, out=None, resume: bool = False,
                 checkpoint_every: float | None = None,
                 scheduler: str | None = None) -> EnsembleResult:
        """Shot-by-shot ensemble of the qubit under the pair beam (`CollisionModel.simulate`).

        Pairs arrive at Poisson times; each is drawn from rho_b's eigen-decomposition (within
        the energy eigenspaces when rho_b commutes with H_b), collides with the qubit through
        the exact unitary and is then measured in the energy basis, so the energy it hands
        over is a two-point measurement whenever the drawn pair states have sharp energies
        (otherwise the change of the mean pair energy, see `qtraj.collisions`).

        Parameters
        ----------
        state0 : (2,) or (2, 2) array_like
            Qubit ket or density matrix at ``times[0]``.
        times : 1-d array_like
            Non-decreasing output times.
        ntraj : int or None, default None
            Maximum number of trajectories; None needs `target_stderr`, `target_rel_stderr`
            or `timeout` to end the run.
        seed : int, numpy.random.SeedSequence or None, default 0
            Root of the random streams: trajectory i uses stream (seed, i), so the numbers do
            not depend on `n_jobs`, `batch_size` or `backend`.
        n_jobs : int, default 1
            Worker processes/threads; -1 for one per CPU.
        method : {"pure", "density"}, default "pure"
            "pure": qubit kets with sampled pair states (the shot-by-shot unravelling);
            "density": the qubit density matrix under the exact collision map at each
            arrival (only the arrival times are random; collision energies are changes of
            the mean pair energy).
        store_states : bool or None, default None
            Average the qubit density matrix at `times` (``result.mean``/``stderr``); None:
            True.
        backend, batch_size, progress, timeout, out, resume, checkpoint_every, scheduler
            Run options, as in `qtraj.ensemble.RunOptions`.
        target_stderr, target_rel_stderr : float or None, default None
            Stop once the largest (relative) standard error of the averaged qubit density
            matrix, over all output times and entries, is at most this (needs
            `store_states`); `ntraj` stays the maximum.

        Returns
        -------
        EnsembleResult
            The result of `CollisionModel.simulate`, unchanged: `mean`/`stderr` of the qubit
            density matrix at `times`, records "collisions", "collision_energy" (energy into
            the qubit from the pairs over the window), "heat_current_collisions", their
            time-resolved "_cumulative" versions, each with "_stderr", and for
            method="pure" "jump_counts".

        Raises
        ------
        ValueError
            For a bad state, bad times, an unknown method, a target with
            store_states=False, or a bad run option (naming it).

        Examples
        --------
        >>> import numpy as np
        >>> from qtraj.models.harvest import HarvestScheme, pair_state_from_bath
        >>> h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.3)
        >>> res = h.simulate(np.array([1.0, 0.0]), [0.0, 5.0], ntraj=200, seed=1,
        ...                  progress=False)
        >>> res.mean.shape, res.ntraj
        ((2, 2, 2), 200)
        """
        opts = RunOptions.from_mapping(locals())
        return self.model.simulate(state0, times, method=method, store_states=store_states,
                                   **opts.as_kwargs())

    def simulate_time_average(self, state0, t_total: float, burn_in: float = 0.0, *,
                              n_batches: int = 32, seed=0, method: str = "pure",
                              samples_per_batch: int = 200) -> EnsembleResult:
        """Time average of one long trajectory (`CollisionModel.simulate_time_average`).

        One trajectory, simulated in this process in a single call: the ensemble run options
        of `simulate` (ntraj, n_jobs, targets, checkpoints ...) do not apply; its error bars
        are batch means over consecutive windows.

        Parameters
        ----------
        state0 : (2,) or (2, 2) array_like
            Qubit ket or density matrix at time 0.
        t_total : float
            Length of the averaging window [burn_in, burn_in + t_total] (> 0).
        burn_in : float, default 0.0
            Time discarded before the window (>= 0).
        n_batches : int, default 32
            Number of consecutive windows for the batch-means error (>= 2); each must be much
            longer than the relaxation time for the error bars to be honest.
        seed : int, numpy.random.SeedSequence or None, default 0
            The trajectory uses random stream (seed, 0).
        method : {"pure", "density"}, default "pure"
            As in `simulate`.
        samples_per_batch : int, default 200
            Evenly spaced samples of the state in each window.

        Returns
        -------
        EnsembleResult
            times = [burn_in + t_total]; `mean`/`stderr` of shape (1, 2, 2); records
            "collisions" and "collision_energy" (totals over the window),
            "heat_current_collisions" (= collision_energy / t_total), each with a
            batch-means "_stderr", and "batch_means" (n_batches, 2, 2).

        Raises
        ------
        ValueError
            For a bad state, a non-positive t_total, a negative burn_in or too few batches.

        Examples
        --------
        >>> import numpy as np
        >>> from qtraj.models.harvest import HarvestScheme, pair_state_from_bath
        >>> h = HarvestScheme(pair_state_from_bath(1.0), g_tau=0.3)
        >>> res = h.simulate_time_average(np.array([1.0, 0.0]), t_total=200.0, burn_in=10.0,
        ...                               n_batches=8, seed=2)
        >>> res.mean.shape, res["batch_means"].shape
        ((1, 2, 2), (8, 2, 2))
        """
        return self.model.simulate_time_average(state0, t_total, burn_in, n_batches=n_batches,
                                                 seed=seed, method=method,
                                                 samples_per_batch=samples_per_batch)

    def __repr__(self) -> str:
        c = self.coefficients()
        return (f"HarvestScheme(g_tau={self.g_tau}, rate={self.rate}, omega0={self.omega0}, "
                f"r_e={c['r_e']:.4g}, r_d={c['r_d']:.4g}, lam={c['lam']:.3g}, eps={c['eps']:.3g})")
