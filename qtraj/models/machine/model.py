"""Autonomous coherence machine fed by a Poisson stream of two-level atoms (Manzano, Silva &
Parrondo 2019): the model, its steady state and thermodynamics, and arrays of machines (Eq. 16).

Machine: qubits 1, 2 with spacings E1 < E2, H_m = E1 s1^dag s1 + E2 s2^dag s2 (s_k = |0><1|_k),
basis |i1 i2> in the order |00>, |01>, |10>, |11> (index 2 i1 + i2).  Each qubit has its own
bath, D_k with rates gamma0_k (n_k + 1) on s_k and gamma0_k n_k on s_k^dag,
n_k = 1/(exp(beta_k E_k) - 1); gamma0_k is the spontaneous rate k_down - k_up (Eq. B3 with the
erratum "gamma_up" = k_up).  Virtual qubit |0>_v = |10>, |1>_v = |01>, s_v = s1^dag s2 =
|10><01|, inverse temperature beta_v = (beta2 E2 - beta1 E1)/(E2 - E1) (Eq. 9).

Atoms: H_a = (E2 - E1) s_a^dag s_a, all in rho_a (rotating frame), arriving at Poisson times
(rate r); each collides once through V = s_v s_a^dag + s_v^dag s_a (Eq. 10), exactly:
U = exp(-i phi V) = 1 + (cos phi - 1) V^2 - i sin phi V on machine (x) atom.  Everything lives
in the interaction picture of H_m + H_a: V and the D_k are time independent, the Lindblad model
has H = 0, and energies (H_m, H_a) enter only the energetics.

Two generators of the machine (both kept, they differ by O(phi^2) relatively):
* exact: L0 + r (E - id), E(rho_m) = Tr_a[U (rho_m (x) rho_a) U^dag] (`collision_model`);
* Eq. (11a): -i r phi [V_m, .] + D_v + L0, V_m = s_v <s_a^dag> + s_v^dag <s_a>, D_v with
  rates r phi^2 <s_a s_a^dag> on s_v and r phi^2 <s_a^dag s_a> on s_v^dag (Eq. B8).
Output atom: A(rho_a) = Tr_m[U (pi_m (x) rho_a) U^dag] (exact) or Eq. (11b),
A(rho) = rho - i phi [V_a, rho] + D_a(rho), V_a = s_a^dag <s_v> + s_a <s_v^dag>, D_a with rates
phi^2 <s_v s_v^dag> = phi^2 pi_10 on s_a, phi^2 <s_v^dag s_v> = phi^2 pi_01 on s_a^dag (Eq. B10).

Thermodynamics (Sec. II, Eqs. 1, 5-8, 13-15, C2-C6): C = S(rho_bar) - S(rho) (REC, nats);
Cdot_a = r [C(A(rho_a)) - C(rho_a)]; Edot_a = r Tr[H_a (A(rho_a) - rho_a)]; Q_k = Tr[H_m D_k(pi_m)];
first law Edot_a = Q1 + Q2 and Eq. (C6) Edot_a/(E2 - E1) = Q2/E2 = -Q1/E1 hold exactly for both
generators (V conserves n1 + n2 and n1 + n_a);
Cdot_a^max = (beta1 - beta2) Q2 - beta1 Fdot(rho_bar_a), Fdot = Edot_a - T1 Sdot(rho_bar_a)
(Eq. 8); entropy production Sdot_tot = Sdot_a - beta1 Q1 - beta2 Q2 = Cdot_a^max - Cdot_a (Eq. 6).
Two misprints of the paper's Appendix C: Eq. (C3) as printed is -Edot_a, and its "D_m" is D_v.

Arrays (Sec. IV, Eq. 16): rho^(n) = A_n(rho^(n-1)), A_n built from pi_m(rho^(n-1)):
`array_trajectory`.  Shot by shot: `Machine.simulate`, `Machine.simulate_array` (the kernel in
`kernel`, the estimators documented in `estimators`, the run in `driver`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ... import deterministic as det
from ...collisions import CollisionModel
from ...lindblad import Channel, Lindblad, dissipator
from ...measures import relative_entropy_of_coherence, von_neumann_entropy
from ...operators import kron, sigma_minus, thermal_occupation
from ...validation import as_density_matrix, as_rate
from .driver import simulate_machine

__all__ = ["Machine", "array_trajectory", "coherence", "atom_state", "FIG2", "FIG4_CONFIGS",
           "coherence_rate_map", "bloch_xz_state"]

#: Fig. 2 parameters of Manzano, Silva & Parrondo (2019) (beta2 is the swept variable).
FIG2 = dict(E1=1.5, E2=2.5, beta1=1.2, gamma0=0.0025, rate=2.0, phi=0.02)

#: Fig. 4 configurations (the paper does not give them; chosen here and recorded): beta2 =
#: 0.1 beta1 with beta1 = 1.2; (c) swaps the bath temperatures (paper: "interchanging the role
#: of the qubits").  beta_v = -1.5, -0.15 and +2.82.
FIG4_CONFIGS = {
    "a": dict(E1=1.5, E2=2.5, beta1=1.2, beta2=0.12, gamma0=0.0025, rate=2.0, phi=0.02),
    "b": dict(E1=0.5, E2=2.5, beta1=1.2, beta2=0.12, gamma0=0.0025, rate=2.0, phi=0.02),
    "c": dict(E1=1.5, E2=2.5, beta1=0.12, beta2=1.2, gamma0=0.0025, rate=2.0, phi=0.02),
}

_MACHINE_PARAMS = ("E1", "E2", "beta1", "beta2", "gamma0", "rate", "phi")


def atom_state(p0: float, coherence: complex = 0.2) -> np.ndarray:
    """rho_a = [[p0, c], [c*, 1 - p0]] (index 0 = ground).  The Fig. 2 atom states used here:
    p0 = 0.75 (ground-dominated, "south") and p0 = 0.25 ("north"), c = 0.2."""
    c = complex(coherence)
    return np.array([[p0, c], [np.conj(c), 1.0 - p0]], dtype=complex)


def bloch_xz_state(x: float, z: float, y: float = 0.0) -> np.ndarray:
    """Atom state with Bloch vector (x, y, z) in qtraj's convention:
    x = 2 Re rho_01, y = -2 Im rho_01, z = rho_11 - rho_00 (excited up)."""
    return 0.5 * np.array([[1 - z, x - 1j * y], [x + 1j * y, 1 + z]], dtype=complex)


def coherence(rho) -> float:
    """Relative entropy of coherence C = S(rho_bar) - S(rho) (Eq. 1, nats)."""
    return relative_entropy_of_coherence(rho)


def _entropy_diag(rho) -> float:
    p = np.clip(np.real(np.diag(rho)), 0.0, None)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def _ops():
    sm, eye = sigma_minus(), np.eye(2, dtype=complex)
    s1, s2 = kron(sm, eye), kron(eye, sm)
    return s1, s2, s1.conj().T @ s2, sm


class Machine:
    """Two-qubit coherence machine fed by a Poisson stream of atoms in rho_a (Manzano, Silva &
    Parrondo 2019).

    Parameters (paper symbols): E1 < E2 qubit spacings; beta1, beta2 bath inverse temperatures;
    gamma0 spontaneous rate of both baths, or a pair (gamma0_1, gamma0_2); rate r of atom
    arrivals; phi interaction strength (Eq. 10); rho_a (2, 2) atom state, index 0 = ground.

    Models: `lindblad` (the baths), `collision_model` (exact), `second_order_lindblad()` (Eq. 11a).
    Steady state and atom: `steady_state(exact)`, `output_state(exact)`, `output_kick(exact)`.
    Thermodynamics: `flows()`, `paper_flows()` (Eqs. C4-C5), `coherence_rate()`,
    `coherence_rate_bound()` (Eq. 8), `entropy_production()` (Eq. 6), `virtual_beta()` (Eq. 9).
    Every steady-state quantity takes exact=True (L0 + r(E - id), exact A) or exact=False
    (Eqs. 11a-b).  Arrays: `array_trajectory` (Eq. 16).  Shot by shot: `simulate`,
    `simulate_array` (`driver.simulate_machine`).
    """

    def __init__(self, E1, E2, beta1, beta2, gamma0, rate, phi, rho_a):
        self.E1 = as_rate(E1, "E1", allow_zero=False)
        self.E2 = as_rate(E2, "E2", allow_zero=False)
        if not self.E1 < self.E2:
            raise ValueError(f"the machine needs E1 < E2, got E1 = {E1}, E2 = {E2}")
        self.beta1 = as_rate(beta1, "beta1", allow_zero=False)
        self.beta2 = as_rate(beta2, "beta2", allow_zero=False)
        g = np.atleast_1d(np.asarray(gamma0, dtype=float))
        if g.shape not in ((1,), (2,)):
            raise ValueError(f"gamma0 must be a number or a pair, got {gamma0!r}")
        g = np.broadcast_to(g, (2,))
        self.gamma0 = (as_rate(g[0], "gamma0[0]"), as_rate(g[1], "gamma0[1]"))
        self.rate = as_rate(rate, "rate", allow_zero=False)
        phi = float(phi)
        if not np.isfinite(phi):
            raise ValueError("phi must be finite")
        self.phi = phi
        self.rho_a = as_density_matrix(rho_a, "rho_a", dim=2)
        self.omega_a = self.E2 - self.E1
        self.n1 = thermal_occupation(self.E1, self.beta1)
        self.n2 = thermal_occupation(self.E2, self.beta2)
        self.s1, self.s2, self.s_v, self.s_a = _ops()
        self.H_m = self.E1 * self.s1.conj().T @ self.s1 + self.E2 * self.s2.conj().T @ self.s2
        self.H_a = self.omega_a * self.s_a.conj().T @ self.s_a
        self.V = kron(self.s_v, self.s_a.conj().T) + kron(self.s_v.conj().T, self.s_a)
        V2 = self.V @ self.V
        self.U = (np.eye(8) + (np.cos(phi) - 1) * V2 - 1j * np.sin(phi) * self.V)
        self._W = self.U - np.eye(8)                       # U = 1 + W, for cancellation-free kicks
        self._cache: dict = {}

    @property
    def parameters(self) -> dict:
        return dict(E1=self.E1, E2=self.E2, beta1=self.beta1, beta2=self.beta2,
                    gamma0=self.gamma0, rate=self.rate, phi=self.phi)

    def with_atom(self, rho_a) -> "Machine":
        """The same machine fed with atoms in another state."""
        return Machine(**self.parameters, rho_a=rho_a)

    def virtual_beta(self) -> float:
        """beta_v = (beta2 E2 - beta1 E1)/(E2 - E1) (Eq. 9)."""
        return (self.beta2 * self.E2 - self.beta1 * self.E1) / (self.E2 - self.E1)

    def virtual_gibbs(self) -> np.ndarray:
        """Atom Gibbs state at beta_v, exp(-beta_v H_a)/Z (fixed point of the array, Sec. IV)."""
        x = np.exp(-self.virtual_beta() * self.omega_a)
        return np.diag([1.0, x]).astype(complex) / (1.0 + x)

    # ------------------------------------------------------------------ models
    @property
    def lindblad(self) -> Lindblad:
        """The two local baths (H = 0: interaction picture).  Channel energies are the heat one
        jump moves into the machine (-E_k for s_k, +E_k for s_k^dag); baths "bath1", "bath2"."""
        if "lindblad" not in self._cache:
            ch = []
            for k, (s, E, n) in enumerate(((self.s1, self.E1, self.n1),
                                           (self.s2, self.E2, self.n2)), start=1):
                g = self.gamma0[k - 1]
                ch.append(Channel(s, g * (n + 1), bath=f"bath{k}", energy=-E, name=f"s{k}"))
                ch.append(Channel(s.conj().T, g * n, bath=f"bath{k}", energy=E,
                                  name=f"s{k}^dag"))
            self._cache["lindblad"] = Lindblad(np.zeros((4, 4), complex), ch)
        return self._cache["lindblad"]

    @property
    def collision_model(self) -> CollisionModel:
        """CollisionModel(L0, rho_a, U = exp(-i phi V), r): the exact averaged generator
        L0 + r (E - id); atoms measured in the energy basis of H_a."""
        if "cm" not in self._cache:
            self._cache["cm"] = CollisionModel(self.lindblad, self.rho_a, self.U, self.rate,
                                               ancilla_hamiltonian=self.H_a)
        return self._cache["cm"]

    def second_order_lindblad(self, rho_a=None) -> Lindblad:
        """Eq. (11a) as a Lindblad model: H = r phi V_m, channels of L0 plus s_v (rate
        r phi^2 <s_a s_a^dag>) and s_v^dag (rate r phi^2 <s_a^dag s_a>), bath "atoms"."""
        rho = self.rho_a if rho_a is None else rho_a
        sa = self.s_a
        ev = lambda A: np.trace(A @ rho)  # noqa: E731
        H = self.rate * self.phi * (self.s_v * ev(sa.conj().T) + self.s_v.conj().T * ev(sa))
        rp2 = self.rate * self.phi ** 2
        ch = list(self.lindblad.channels) + [
            Channel(self.s_v, rp2 * ev(sa @ sa.conj().T).real, bath="atoms", name="s_v"),
            Channel(self.s_v.conj().T, rp2 * ev(sa.conj().T @ sa).real, bath="atoms",
                    name="s_v^dag")]
        return Lindblad(0.5 * (H + H.conj().T), ch)

    # ------------------------------------------------------------------ machine state
    def steady_state(self, exact: bool = True) -> np.ndarray:
        """pi_m: kernel of L0 + r (E - id) (exact) or of Eq. (11a) (exact=False)."""
        key = ("pi", bool(exact))
        if key not in self._cache:
            model = self.collision_model if exact else self.second_order_lindblad()
            self._cache[key] = det.steady_state(model)
        return self._cache[key]

    def generator(self, exact: bool = True) -> np.ndarray:
        """Superoperator (column stacking, 16 x 16) of the exact or Eq. (11a) generator."""
        m = self.collision_model if exact else self.second_order_lindblad()
        return np.asarray(m.liouvillian())

    def relaxation_rate(self, exact: bool = True) -> float:
        """Slowest decay rate of the machine (spectral gap of the generator)."""
        ev = np.linalg.eigvals(self.generator(exact))
        re = np.sort(-ev.real)
        return float(re[1])

    # ------------------------------------------------------------------ atom output
    def _kick_exact(self, pi, rho_a) -> np.ndarray:
        """A(rho_a) - rho_a = Tr_m[W X + X W^dag + W X W^dag], X = pi (x) rho_a, U = 1 + W
        (no cancellation of O(1) terms)."""
        X = np.kron(pi, rho_a)
        W = self._W
        Y = W @ X + X @ W.conj().T + W @ X @ W.conj().T
        return np.einsum("iaib->ab", Y.reshape(4, 2, 4, 2))

    def _kick_second_order(self, pi, rho_a) -> np.ndarray:
        """Eq. (11b) minus rho_a: -i phi [V_a, rho_a] + D_a(rho_a)."""
        sv, sa = self.s_v, self.s_a
        ev = lambda A: np.trace(A @ pi)  # noqa: E731
        Va = sa.conj().T * ev(sv) + sa * ev(sv.conj().T)
        p2 = self.phi ** 2
        out = -1j * self.phi * (Va @ rho_a - rho_a @ Va)
        out = out + p2 * ev(sv @ sv.conj().T).real * dissipator(sa, rho_a)
        out = out + p2 * ev(sv.conj().T @ sv).real * dissipator(sa.conj().T, rho_a)
        return out

    def output_kick(self, exact: bool = True) -> np.ndarray:
        """A(rho_a) - rho_a, computed without cancellation (exact map, or Eq. 11b with the
        Eq. 11a steady state when exact=False)."""
        pi = self.steady_state(exact)
        k = self._kick_exact(pi, self.rho_a) if exact else \
            self._kick_second_order(pi, self.rho_a)
        return 0.5 * (k + k.conj().T)

    def output_state(self, exact: bool = True) -> np.ndarray:
        """A(rho_a) = Tr_m[U (pi_m (x) rho_a) U^dag] (exact) or Eq. (11b) (exact=False)."""
        return self.rho_a + self.output_kick(exact)

    # ------------------------------------------------------------------ thermodynamics
    def flows(self, exact: bool = True) -> dict:
        """{"E_a": r Tr[H_a (A - rho_a)] (Eq. 13), "Q1", "Q2": Tr[H_m D_k(pi_m)] (Eq. 15)}."""
        pi = self.steady_state(exact)
        q = det.heat_currents(self.lindblad, pi, H=self.H_m)
        e_a = self.rate * np.trace(self.H_a @ self.output_kick(exact)).real
        return {"E_a": float(e_a), "Q1": q["bath1"], "Q2": q["bath2"]}

    def paper_flows(self) -> dict:
        """Eqs. (C4)-(C5) with the Eq. (11a) steady state: Q2 = E2 (dp + zeta_c),
        Q1 = -E1 (dp + zeta_c), Edot_a = (E2 - E1)(dp + zeta_c)."""
        pi = self.steady_state(exact=False)
        rp, r2 = self.rate * self.phi, self.rate * self.phi ** 2
        sa, rho = self.s_a, self.rho_a
        g, e = rho[0, 0].real, rho[1, 1].real         # <s_a s_a^dag>, <s_a^dag s_a>
        pv = np.trace(self.s_v @ pi)
        dp = r2 * (pi[1, 1].real * g - pi[2, 2].real * e)
        zeta = (1j * rp * (np.conj(pv) * np.trace(sa @ rho) -
                           pv * np.trace(sa.conj().T @ rho))).real
        x = dp + zeta
        return {"E_a": self.omega_a * x, "Q1": -self.E1 * x, "Q2": self.E2 * x,
                "dp": float(dp), "zeta_c": float(zeta)}

    def _atom_rates(self, exact: bool) -> dict:
        A = self.output_state(exact)
        r = self.rate
        return {"A": A,
                "S": r * (von_neumann_entropy(A) - von_neumann_entropy(self.rho_a)),
                "S_bar": r * (_entropy_diag(A) - _entropy_diag(self.rho_a)),
                "C": r * (coherence(A) - coherence(self.rho_a))}

    def coherence_rate(self, exact: bool = True) -> float:
        """Cdot_a = r [C(A(rho_a)) - C(rho_a)] (paper's figures: divide by phi^2)."""
        return float(self._atom_rates(exact)["C"])

    def coherence_rate_bound(self, exact: bool = True) -> float:
        """Cdot_a^max = (beta1 - beta2) Q2 - beta1 Fdot(rho_bar_a) (Eq. 8),
        Fdot(rho_bar_a) = Edot_a - T1 Sdot(rho_bar_a)."""
        f = self.flows(exact)
        s_bar = self._atom_rates(exact)["S_bar"]
        fdot = f["E_a"] - s_bar / self.beta1
        return float((self.beta1 - self.beta2) * f["Q2"] - self.beta1 * fdot)

    def entropy_production(self, exact: bool = True) -> float:
        """Sdot_tot = Sdot_a - beta1 Q1 - beta2 Q2 (Eq. 6) = Cdot_a^max - Cdot_a."""
        f = self.flows(exact)
        s = self._atom_rates(exact)["S"]
        return float(s - self.beta1 * f["Q1"] - self.beta2 * f["Q2"])

    def summary(self, exact: bool = True) -> dict:
        """All steady-state quantities at once (flows, rates, bound, entropy production)."""
        out = dict(self.flows(exact))
        out.update(coherence_rate=self.coherence_rate(exact),
                   coherence_rate_bound=self.coherence_rate_bound(exact),
                   entropy_production=self.entropy_production(exact))
        return out

    # ------------------------------------------------------------------ arrays (Sec. IV)
    def array_trajectory(self, n_machines: int, rho_a0=None, exact: bool = True) -> np.ndarray:
        """Eq. (16) from rho_a0 (default: this machine's rho_a): (n_machines, 2, 2)."""
        return array_trajectory(self.rho_a if rho_a0 is None else rho_a0, n_machines,
                                exact=exact, **self.parameters)

    # ------------------------------------------------------------------ shot by shot
    def simulate(self, n_collisions: int | None = None, burn_in: int | None = None,
                 state0="thermal", measure="energy", *, ntraj: int | None = None, seed=0,
                 n_jobs: int = 1, backend: str = "loky", batch_size: int | None = None,
                 progress: bool | None = None, target_stderr: float | None = None,
                 target_rel_stderr: float | None = None, timeout: float | None = None,
                 out=None, resume: bool = False, checkpoint_every: float | None = None,
                 scheduler: str | None = None):
        """Shot-by-shot steady state of one machine: `driver.simulate_machine` with
        n_machines=1 (same parameters, run options and result)."""
        return simulate_machine(self, n_collisions, 1, burn_in, state0, measure, ntraj=ntraj,
                                seed=seed, n_jobs=n_jobs, backend=backend,
                                batch_size=batch_size, progress=progress,
                                target_stderr=target_stderr,
                                target_rel_stderr=target_rel_stderr, timeout=timeout, out=out,
                                resume=resume, checkpoint_every=checkpoint_every,
                                scheduler=scheduler)

    def simulate_array(self, n_machines: int, n_collisions: int | None = None,
                       burn_in: int | None = None, state0="thermal", measure="energy", *,
                       ntraj: int | None = None, seed=0, n_jobs: int = 1,
                       backend: str = "loky", batch_size: int | None = None,
                       progress: bool | None = None, target_stderr: float | None = None,
                       target_rel_stderr: float | None = None, timeout: float | None = None,
                       out=None, resume: bool = False, checkpoint_every: float | None = None,
                       scheduler: str | None = None):
        """Shot-by-shot array of n_machines equal machines, atoms passed on one after another:
        `driver.simulate_machine` (same parameters, run options and result)."""
        return simulate_machine(self, n_collisions, n_machines, burn_in, state0, measure,
                                ntraj=ntraj, seed=seed, n_jobs=n_jobs, backend=backend,
                                batch_size=batch_size, progress=progress,
                                target_stderr=target_stderr,
                                target_rel_stderr=target_rel_stderr, timeout=timeout, out=out,
                                resume=resume, checkpoint_every=checkpoint_every,
                                scheduler=scheduler)

    def __repr__(self) -> str:
        return (f"Machine(E1={self.E1}, E2={self.E2}, beta1={self.beta1}, beta2={self.beta2}, "
                f"gamma0={self.gamma0}, rate={self.rate}, phi={self.phi})")


# =========================================================================== Eq. (16)
class _FastMaps:
    """The generators and the output map as explicit linear/bilinear functions of rho_a and pi,
    for iterating Eq. (16) over tens of thousands of machines and for Fig. 2(b)-style maps
    (cross-checked against `Machine` in the tests).

    Generator: L(rho_a) = Lbase + sum_ij rho_a[i, j] Sl[2 i + j] with Lbase = L0 - r 1,
    Sl = r S_ij, S_ij the superoperator of rho_m -> Tr_a[U (rho_m (x) |i><j|) U^dag] (exact);
    Lbase = L0 and Sl = the atom part of Eq. (11a) (exact=False).
    Kick: (A - 1)(rho_a)[a, b] = sum_{kl, ij} pi[k, l] rho_a[i, j] Kt[2 a + b, 4 k + l, 2 i + j],
    from `Machine._kick_exact` or `_kick_second_order` on basis matrices.
    """

    def __init__(self, m: Machine):
        self.m = m
        L0 = m.lindblad.liouvillian()
        self.tables = {}
        for exact in (True, False):
            Sl = np.zeros((4, 16, 16), complex)
            Kt = np.zeros((4, 16, 4), complex)
            for i in range(2):
                for j in range(2):
                    e = np.zeros((2, 2), complex)
                    e[i, j] = 1.0
                    Sl[2 * i + j] = (m.rate * _collision_superop(m.U, e) if exact
                                     else _second_order_part(m, e))
                    for k in range(4):
                        for l in range(4):
                            p = np.zeros((4, 4), complex)
                            p[k, l] = 1.0
                            kk = m._kick_exact(p, e) if exact else m._kick_second_order(p, e)
                            Kt[:, 4 * k + l, 2 * i + j] = kk.reshape(-1)
            Lbase = L0 - m.rate * np.eye(16) if exact else L0.copy()
            self.tables[exact] = (np.ascontiguousarray(Lbase), Sl, Kt)

    def generator(self, rho_a, exact: bool) -> np.ndarray:
        Lbase, Sl, _ = self.tables[bool(exact)]
        return Lbase + np.einsum("k,kab->ab", np.asarray(rho_a).reshape(-1), Sl)

    def steady_state(self, rho_a, exact: bool) -> np.ndarray:
        return _steady(self.generator(rho_a, exact))

    def kick(self, pi, rho_a, exact: bool) -> np.ndarray:
        Kt = self.tables[bool(exact)][2]
        k = np.einsum("akj,k,j->a", Kt, pi.reshape(-1), np.asarray(rho_a).reshape(-1))
        k = k.reshape(2, 2)
        return 0.5 * (k + k.conj().T)

    def iterate(self, rho0, n: int, exact: bool, return_machines: bool):
        Lbase, Sl, Kt = self.tables[bool(exact)]
        out = np.empty((n, 2, 2), complex)
        pis = np.empty((n if return_machines else 0, 4, 4), complex)
        _iterate_eq16(Lbase, Sl, Kt, np.ascontiguousarray(rho0, dtype=complex), out, pis)
        return out, pis


def _collision_superop(U, e) -> np.ndarray:
    """Superoperator (column stacking) of rho_m -> Tr_a[U (rho_m (x) e) U^dag]."""
    S = np.zeros((16, 16), complex)
    for col in range(16):
        rm = np.zeros((4, 4), complex)
        rm[col % 4, col // 4] = 1.0
        Y = U @ np.kron(rm, e) @ U.conj().T
        S[:, col] = np.einsum("iaja->ij", Y.reshape(4, 2, 4, 2)).reshape(-1, order="F")
    return S


def _steady(L: np.ndarray) -> np.ndarray:
    """Unique kernel of a 16 x 16 generator: L x = 0 with one equation replaced by Tr = 1."""
    A = L.copy()
    A[0, :] = np.eye(4).reshape(-1)
    b = np.zeros(16, complex)
    b[0] = 1.0
    pi = np.linalg.solve(A, b).reshape(4, 4, order="F")
    return 0.5 * (pi + pi.conj().T)


@njit(cache=True)
def _iterate_eq16(Lbase, Sl, Kt, rho0, out, pis):
    """rho^(n) = rho^(n-1) + kick(pi(rho^(n-1)), rho^(n-1)) for n = 1..len(out) (Eq. 16)."""
    rho = rho0.copy()
    A = np.empty((16, 16), np.complex128)
    b = np.zeros(16, np.complex128)
    b[0] = 1.0
    keep = pis.shape[0] > 0
    for it in range(out.shape[0]):
        for p in range(16):
            for q in range(16):
                A[p, q] = Lbase[p, q] + rho[0, 0] * Sl[0, p, q] + rho[0, 1] * Sl[1, p, q] + \
                    rho[1, 0] * Sl[2, p, q] + rho[1, 1] * Sl[3, p, q]
        for q in range(16):
            A[0, q] = 1.0 if (q % 5) == 0 else 0.0      # trace row: vec index i + 4 i
        x = np.linalg.solve(A, b)
        pi = np.empty((4, 4), np.complex128)            # column stacking, Hermitian part
        for k in range(4):
            for l in range(4):
                pi[k, l] = 0.5 * (x[k + 4 * l] + np.conj(x[l + 4 * k]))
        kick = np.zeros(4, np.complex128)
        for a in range(4):
            acc = 0j
            for k in range(4):
                for l in range(4):
                    pkl = pi[k, l]
                    acc += pkl * (Kt[a, 4 * k + l, 0] * rho[0, 0] + Kt[a, 4 * k + l, 1] * rho[0, 1]
                                  + Kt[a, 4 * k + l, 2] * rho[1, 0]
                                  + Kt[a, 4 * k + l, 3] * rho[1, 1])
            kick[a] = acc
        k00 = 0.5 * (kick[0] + np.conj(kick[0])).real
        k01 = 0.5 * (kick[1] + np.conj(kick[2]))
        rho[0, 0] += k00
        rho[1, 1] -= k00
        rho[0, 1] += k01
        rho[1, 0] += np.conj(k01)
        out[it] = rho
        if keep:
            pis[it] = pi


def _second_order_part(m: Machine, e: np.ndarray) -> np.ndarray:
    """Superoperator of the atom-induced part of Eq. (11a) for an atom 'state' e (linear in e):
    -i r phi [V_m(e), .] + r phi^2 (<s_a s_a^dag>_e D[s_v] + <s_a^dag s_a>_e D[s_v^dag])."""
    sa, sv = m.s_a, m.s_v
    ev = lambda A: np.trace(A @ e)  # noqa: E731
    H = m.rate * m.phi * (sv * ev(sa.conj().T) + sv.conj().T * ev(sa))
    g, x = m.rate * m.phi ** 2 * ev(sa @ sa.conj().T), m.rate * m.phi ** 2 * ev(sa.conj().T @ sa)
    eye = np.eye(4, dtype=complex)

    def dsup(L):
        LdL = L.conj().T @ L
        return np.kron(L.conj(), L) - 0.5 * np.kron(eye, LdL) - 0.5 * np.kron(LdL.T, eye)
    return -1j * (np.kron(eye, H) - np.kron(H.T, eye)) + g * dsup(sv) + x * dsup(sv.conj().T)


def array_trajectory(rho_a0, n_machines: int, exact: bool = True, return_machines: bool = False,
                     **machine_parameters):
    """Atom state after each machine of the Sec. IV array (Eq. 16): (n_machines, 2, 2).

    rho^(n) = A_n(rho^(n-1)), A_n the exact output map (or Eq. 11b if exact=False) of a machine
    in its steady state pi_m(rho^(n-1)) (exact generator or Eq. 11a).  machine_parameters:
    E1, E2, beta1, beta2, gamma0, rate, phi.  With return_machines=True also returns the
    machine steady states (n_machines, 4, 4).
    """
    n = int(n_machines)
    if n < 1:
        raise ValueError(f"n_machines must be >= 1, got {n_machines!r}")
    rho = as_density_matrix(rho_a0, "rho_a0", dim=2).copy()
    fm = _fast_maps(machine_parameters)
    out, pis = fm.iterate(rho, n, exact, return_machines)
    return (out, pis) if return_machines else out


_FAST_CACHE: dict = {}


def _fast_maps(params: dict) -> _FastMaps:
    """_FastMaps of a parameter set (cached: building them takes a few milliseconds)."""
    missing = [k for k in _MACHINE_PARAMS if k not in params]
    extra = [k for k in params if k not in _MACHINE_PARAMS]
    if missing or extra:
        raise ValueError(f"machine parameters are {_MACHINE_PARAMS}; missing {missing}, "
                         f"unknown {extra}")
    key = tuple((k, np.asarray(params[k], dtype=float).tobytes()) for k in _MACHINE_PARAMS)
    if key not in _FAST_CACHE:
        if len(_FAST_CACHE) > 64:
            _FAST_CACHE.clear()
        _FAST_CACHE[key] = _FastMaps(Machine(**params, rho_a=np.eye(2) / 2))
    return _FAST_CACHE[key]


def coherence_rate_map(rho_list, exact: bool = True, **machine_parameters) -> np.ndarray:
    """Cdot_a = r [C(A(rho)) - C(rho)] for many atom states at once (Fig. 2b), using the fast
    linear maps: array of len(rho_list)."""
    fm = _fast_maps(machine_parameters)
    r = float(machine_parameters["rate"])
    out = np.empty(len(rho_list))
    for i, rho in enumerate(rho_list):
        rho = np.asarray(rho, dtype=complex)
        pi = fm.steady_state(rho, exact)
        A = rho + fm.kick(pi, rho, exact)
        out[i] = r * (coherence(A) - coherence(rho))
    return out
