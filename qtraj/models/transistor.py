"""Three-level quantum thermal transistor (Su, Zhang, Andresen & Chen (2021), Physica A;
equation, appendix and figure numbers below are theirs).

H_S = eps1|1><1| + eps2|2><2| + delta(|1><2| + |2><1|) (Eq. 1), eps0 = 0; dressed states
|+> = cos(th)|1> + sin(th)|2>, |-> = sin(th)|1> - cos(th)|2>, tan 2th = 2 delta/(eps1 - eps2),
omega = e+ - e- = sqrt((eps1 - eps2)^2 + 4 delta^2).  Basis index = level label (0, 1, 2).

reading="lindblad" (default; the consistent model, Eqs. 6, A.1, A.3): emitter on |0><1| and
collector on |0><2| in the local basis (rates Gamma(n+1) down, Gamma n up, n_E = n(eps1, T_E),
n_C = n(eps2, T_C)); base in the dressed basis, gamma0 cos^2 2th D[tau_z] +
Gamma_B sin^2 2th [(n_B+1) D[tau^-] + n_B D[tau^+]], n_B = n(omega, T_B).  Currents
J_i = Tr[H_S D_i(rho_ss)] (Eqs. 9-10, and Eq. 11 with its missing factor rho11 + rho22), so
J_E + J_C + J_B = 0.  Reproduces the paper's qualitative claims (sigma_E < 0, |alpha| > 1, a pole
where sigma_B = 0, alpha falling with gamma0) but not its pole positions.

reading="paper": the printed rate equations (A.4) with Appendix C, repaired where the print is
wrong (C.1's Gamma_F(1+n_F) is Gamma_E(1+n_E); M12 = (Gamma_E(1+3n_E) - Gamma_C(1+3n_C))/2;
M33 = 2 gamma0 cos^4 2th + Gamma_B(1+2n_B) sin^2 2th (sin^2 2th + 1)/2 + Gamma_E(1+n_E)/2
+ Gamma_C(1+n_C)/2), whose base terms are constants instead of multiples of rho11 + rho22
(not trace preserving), n_B = n(eps1 - eps2, T_B), and Eqs. (9)-(11) as printed.  Reproduces the
Fig. 3 pole T_B = 135.3 (within 0.1 %); its J_E + J_C + J_B = 0 holds too.  It has no unravelling.

Poles (sigma_B = 0, brentq; paper parameters of Figs. 2-4):
    reading     T_B* (Fig. 3, printed 135.3)    Gamma_B* at T_B = 1/0.015 (Fig. 4, printed 1.287)
    paper       135.2175  (-0.06 %)              1.3442  (+4.4 %)
    lindblad    245.3933                         1.8929

Coherence split (Eqs. 9-13): J_i = J_i1 + J_i2 with J_i2 the terms in Re rho12;
sigma_i = -dJ_i/dT_B = sigma_i1 + sigma_i2 (exact linear response of the steady state);
alpha_{E/C} = sigma_{E/C}/sigma_B (Eq. 14).

Shot by shot (`simulate`, lindblad reading): jump-counted heat from mcsolve.  Each channel
carries its transition energy (E: eps1, C: eps2, base: omega, dephasing: 0); counted so
(heat="transition") the jumps give J_E1, J_C1 and J_B: the coherent parts J_E2, J_C2 flow during
the no-jump evolution (|0><1| is no eigenoperator of H_S).  heat="expected" (default) gives the
full J_i through the state-dependent per-jump estimator of `qtraj.mcsolve`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .. import deterministic as det
from .. import operators as op
from ..ensemble import RunOptions
from ..lindblad import Channel, Lindblad, vec, unvec
from ..results import EnsembleResult
from ..validation import as_count, as_rate

__all__ = ["Transistor", "sweep", "PAPER_POLE_TB", "PAPER_POLE_GAMMA_B"]

#: pole positions printed by Su et al. (2021) (units of delta): Fig. 3 (T_B) and Fig. 4 (Gamma_B)
PAPER_POLE_TB = 135.3
PAPER_POLE_GAMMA_B = 1.287

_PARTS = ("J_E1", "J_E2", "J_C1", "J_C2", "J_B1", "J_B2")


def _dn_dT(w: float, T: float) -> float:
    n = op.thermal_occupation(w, 1.0 / T)
    return w / T ** 2 * n * (n + 1)


def _proj(i: int, j: int) -> np.ndarray:
    A = np.zeros((3, 3), dtype=complex)
    A[i, j] = 1.0
    return A


@dataclass(frozen=True)
class Transistor:
    """Three-level thermal transistor; parameters in units of delta (paper defaults: Fig. 2,
    T_B of Figs. 4-5)."""

    eps1: float = 10.0
    eps2: float = 7.0
    delta: float = 1.0
    gamma_E: float = 1.0
    gamma_C: float = 1.0
    gamma_B: float = 1.0
    gamma0: float = 1.0
    T_E: float = 1 / 0.003
    T_C: float = 1 / 0.15
    T_B: float = 1 / 0.015
    reading: str = "lindblad"

    def __post_init__(self):
        if self.reading not in ("lindblad", "paper"):
            raise ValueError(f"reading must be 'lindblad' or 'paper', got {self.reading!r}")
        for k in ("eps1", "eps2", "T_E", "T_C", "T_B"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be positive, got {v!r}")
        for k in ("delta", "gamma_E", "gamma_C", "gamma_B", "gamma0"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{k} must be >= 0, got {v!r}")
        if self.reading == "paper" and self.eps1 <= self.eps2:
            raise ValueError("the paper reading needs eps1 > eps2 (n_B at eps1 - eps2)")

    def replace(self, **changes) -> "Transistor":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ spectrum
    @property
    def theta(self) -> float:
        return 0.5 * float(np.arctan2(2 * self.delta, self.eps1 - self.eps2))

    @property
    def omega(self) -> float:
        return float(np.hypot(self.eps1 - self.eps2, 2 * self.delta))

    @property
    def omega_B(self) -> float:
        """Frequency of the base's thermal occupation: omega, or eps1 - eps2 (paper)."""
        return self.omega if self.reading == "lindblad" else self.eps1 - self.eps2

    @property
    def n_E(self) -> float:
        return op.thermal_occupation(self.eps1, 1.0 / self.T_E)

    @property
    def n_C(self) -> float:
        return op.thermal_occupation(self.eps2, 1.0 / self.T_C)

    @property
    def n_B(self) -> float:
        return op.thermal_occupation(self.omega_B, 1.0 / self.T_B)

    def hamiltonian(self) -> np.ndarray:
        """H_S (Eq. 1) in the basis |0>, |1>, |2>."""
        H = np.zeros((3, 3), dtype=complex)
        H[1, 1], H[2, 2] = self.eps1, self.eps2
        H[1, 2] = H[2, 1] = self.delta
        return H

    def dressed_states(self) -> tuple[np.ndarray, np.ndarray]:
        th = self.theta
        return (np.array([0, np.cos(th), np.sin(th)], dtype=complex),
                np.array([0, np.sin(th), -np.cos(th)], dtype=complex))

    def _base_ops(self):
        p, m = self.dressed_states()
        return np.outer(m, p.conj()), np.outer(p, p.conj()) - np.outer(m, m.conj())

    # ------------------------------------------------------------------ models
    def lindblad(self) -> Lindblad:
        """The Lindblad model (lindblad reading), channels tagged E, C, B with their transition
        energies (emitter eps1, collector eps2, base omega, dephasing 0) and the bath
        temperatures T_E, T_C, T_B (each bath satisfies local detailed balance)."""
        if self.reading != "lindblad":
            raise ValueError("the paper reading (Eq. A.4 with Appendix C) is not a Lindblad "
                             "model: it is not trace preserving")
        s2, c2 = np.sin(2 * self.theta) ** 2, np.cos(2 * self.theta) ** 2
        tm, tz = self._base_ops()
        nE, nC, nB, w = self.n_E, self.n_C, self.n_B, self.omega
        ch = [Channel(_proj(0, 1), self.gamma_E * (nE + 1), "E", -self.eps1, "E-"),
              Channel(_proj(1, 0), self.gamma_E * nE, "E", self.eps1, "E+"),
              Channel(_proj(0, 2), self.gamma_C * (nC + 1), "C", -self.eps2, "C-"),
              Channel(_proj(2, 0), self.gamma_C * nC, "C", self.eps2, "C+"),
              Channel(tz, self.gamma0 * c2, "B", 0.0, "Bz"),
              Channel(tm, self.gamma_B * s2 * (nB + 1), "B", -w, "B-"),
              Channel(tm.conj().T, self.gamma_B * s2 * nB, "B", w, "B+")]
        return Lindblad(self.hamiltonian(), ch,
                        temperatures={"E": self.T_E, "C": self.T_C, "B": self.T_B})

    def rate_matrix(self, n_B: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(M, b) of Eq. (A.4), d/dt x = -M x + b, x = (rho11 - rho22, rho11 + rho22, Re rho12,
        Im rho12), as printed in Appendix C with the repairs listed in the module docstring
        (paper reading)."""
        nB = self.n_B if n_B is None else n_B
        GE, GC, GB, g0 = self.gamma_E, self.gamma_C, self.gamma_B, self.gamma0
        nE, nC, w = self.n_E, self.n_C, self.omega
        s, c = np.sin(2 * self.theta), np.cos(2 * self.theta)
        B = GB * (1 + 2 * nB)
        M = np.zeros((4, 4))
        M[0, 0] = 2 * g0 * s**2 * c**2 + 0.5 * B * s**2 * (c**2 + 1) \
            + 0.5 * GE * (1 + nE) + 0.5 * GC * (1 + nC)                            # C.1
        M[0, 1] = 0.5 * GE * (1 + 3 * nE) - 0.5 * GC * (1 + 3 * nC)                # C.2
        M[0, 2] = -4 * g0 * s * c**3 + B * s**3 * c                                # C.3
        M[0, 3] = 2 * w * s                                                        # C.4
        M[3, 0] = -M[0, 3] / 4
        M[1, 0] = 0.5 * GE * (1 + nE) - 0.5 * GC * (1 + nC)                        # C.5
        M[1, 1] = 0.5 * GE * (1 + 3 * nE) + 0.5 * GC * (1 + 3 * nC)                # C.6
        M[2, 0] = -g0 * s * c**3 + 0.25 * B * s**3 * c                             # C.7
        M[2, 2] = 2 * g0 * c**4 + 0.5 * B * s**2 * (s**2 + 1) \
            + 0.5 * GE * (1 + nE) + 0.5 * GC * (1 + nC)                            # C.8
        M[2, 3], M[3, 2] = -w * c, w * c                                           # C.9
        M[3, 3] = 2 * g0 * c**2 + 0.5 * B * s**2 + 0.5 * GC * (nC + 1) + 0.5 * GE * (nE + 1)
        b = np.array([GE * nE - GC * nC - GB * s**2 * c, GE * nE + GC * nC,
                      -0.5 * GB * s**3, 0.0])
        return M, b

    @staticmethod
    def _rho_from_x(x) -> np.ndarray:
        D, P, R, I = x
        return np.array([[1 - P, 0, 0], [0, (P + D) / 2, R + 1j * I],
                         [0, R - 1j * I, (P - D) / 2]], dtype=complex)

    # ------------------------------------------------------------------ steady state
    def steady_state(self) -> np.ndarray:
        """rho_ss (3, 3): the Lindblad kernel, or the solution of M x = b (paper reading)."""
        if self.reading == "paper":
            M, b = self.rate_matrix()
            return self._rho_from_x(np.linalg.solve(M, b))
        return det.steady_state(self.lindblad())

    def coherence(self) -> complex:
        """rho_12 of the steady state (local basis)."""
        return complex(self.steady_state()[1, 2])

    def _parts(self, rho, n_B: float) -> np.ndarray:
        """[J_E1, J_E2, J_C1, J_C2, J_B1, J_B2] of Eqs. (9)-(11) (affine in rho and n_B)."""
        r0, r1, r2 = rho[0, 0].real, rho[1, 1].real, rho[2, 2].real
        R = rho[1, 2].real
        GE, GC, GB, D = self.gamma_E, self.gamma_C, self.gamma_B, self.delta
        nE, nC = self.n_E, self.n_C
        s2 = np.sin(2 * self.theta) ** 2
        P = r1 + r2 if self.reading == "lindblad" else 1.0   # Eq. (11) as printed: no rho11+rho22
        return np.array([
            -GE * (nE + 1) * self.eps1 * r1 + GE * nE * self.eps1 * r0, -GE * (nE + 1) * D * R,
            -GC * (nC + 1) * self.eps2 * r2 + GC * nC * self.eps2 * r0, -GC * (nC + 1) * D * R,
            -GB * s2 * ((2 * n_B + 1) * (self.eps1 - self.eps2) / 2 * (r1 - r2)
                        + self.omega / 2 * P),
            -GB * s2 * (2 * n_B + 1) * 2 * D * R])

    def currents(self) -> dict[str, float]:
        """{"E", "C", "B"}: heat currents into the system (Eqs. 8-11)."""
        p = self._parts(self.steady_state(), self.n_B)
        return {"E": p[0] + p[1], "C": p[2] + p[3], "B": p[4] + p[5]}

    # ------------------------------------------------------------------ linear response
    def _drho_dTB(self, rho) -> np.ndarray:
        """d rho_ss / d T_B, exact: L drho = -(dL/dT_B) rho with Tr drho = 0 (or the paper's
        M dx = (db - dM x) dn_B/dT_B)."""
        dn = _dn_dT(self.omega_B, self.T_B)
        if self.reading == "paper":
            M, b = self.rate_matrix()
            M1, b1 = self.rate_matrix(self.n_B + 1.0)       # M, b are affine in n_B
            x = np.linalg.solve(M, b)
            dx = np.linalg.solve(M, (b1 - b) - (M1 - M) @ x) * dn
            return self._rho_from_x(dx) - self._rho_from_x(np.zeros(4))
        tm, _ = self._base_ops()
        g = self.gamma_B * np.sin(2 * self.theta) ** 2
        dL = Lindblad(np.zeros((3, 3)), [Channel(tm, g), Channel(tm.conj().T, g)]).liouvillian()
        A = np.vstack([self.lindblad().liouvillian(), vec(np.eye(3))[None, :]])
        rhs = np.concatenate([-dL @ vec(rho) * dn, [0.0]])
        return unvec(np.linalg.lstsq(A, rhs, rcond=None)[0], 3)

    def _sigma_parts(self) -> tuple[np.ndarray, np.ndarray]:
        rho = self.steady_state()
        nB = self.n_B
        drho = self._drho_dTB(rho)
        zero = np.zeros((3, 3), dtype=complex)
        dJ = (self._parts(drho, nB) - self._parts(zero, nB)) \
            + (self._parts(rho, nB + 1.0) - self._parts(rho, nB)) * _dn_dT(self.omega_B, self.T_B)
        return self._parts(rho, nB), -dJ

    def conductances(self) -> dict[str, float]:
        """{"E", "C", "B"}: sigma_i = -dJ_i/dT_B (Eq. 13), exact linear response."""
        s = self._sigma_parts()[1]
        return {"E": s[0] + s[1], "C": s[2] + s[3], "B": s[4] + s[5]}

    def amplification(self) -> dict[str, float]:
        """{"E", "C"}: alpha_i = sigma_i / sigma_B (Eqs. 12, 14)."""
        s = self.conductances()
        return {"E": s["E"] / s["B"], "C": s["C"] / s["B"]}

    def coherence_parts(self) -> dict[str, float]:
        """J_i1, J_i2 (Eqs. 9-11: J_i2 = the terms in Re rho12) and sigma_i1, sigma_i2 (Eq. 13)."""
        J, s = self._sigma_parts()
        out = {k: float(v) for k, v in zip(_PARTS, J)}
        out.update({"sigma" + k[1:]: float(v) for k, v in zip(_PARTS, s)})
        return out

    def pole(self, parameter: str = "T_B", bracket: tuple[float, float] | None = None,
             n_grid: int = 60) -> float:
        """Value of `parameter` (default T_B) where sigma_B = 0 (alpha diverges): first sign
        change of sigma_B on a geometric grid over `bracket`, refined by brentq.  Default
        bracket: (1, T_E) for T_B, (1e-2, 1e2) times the current value otherwise."""
        x0 = getattr(self, parameter)
        lo, hi = bracket if bracket is not None else \
            ((1.0, self.T_E) if parameter == "T_B" else (1e-2 * x0, 1e2 * x0))

        def sB(x):
            return self.replace(**{parameter: x}).conductances()["B"]
        grid = np.geomspace(lo, hi, n_grid)
        vals = np.array([sB(x) for x in grid])
        idx = np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))
        if idx.size == 0:
            raise ValueError(f"sigma_B does not change sign for {parameter} in {lo:g}..{hi:g}")
        i = idx[0]
        return float(brentq(sB, grid[i], grid[i + 1], xtol=1e-12 * grid[i], rtol=1e-13))

    # ------------------------------------------------------------------ shot by shot
    def simulate(self, t_max: float = 10.0, ntraj: int | None = 2000, seed=0, n_jobs: int = 1,
                 heat: str = "expected", n_times: int = 2, *, e_ops=None,
                 store_states: bool | None = None, keep_jumps: bool = False,
                 backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 target_stderr: float | None = None, target_rel_stderr: float | None = None,
                 timeout: float | None = None, out=None, resume: bool = False,
                 checkpoint_every: float | None = None,
                 scheduler: str | None = None) -> EnsembleResult:
        """Quantum-jump ensemble from the steady state over [0, t_max] (`qtraj.mcsolve` of
        `lindblad()`; lindblad reading only).

        Parameters
        ----------
        t_max : float, default 10.0
            Length of the window (> 0).
        ntraj : int or None, default 2000
            Maximum number of trajectories; None needs `target_stderr`, `target_rel_stderr`
            or `timeout` to end the run.
        seed : int, numpy.random.SeedSequence or None, default 0
            Root of the random streams: trajectory i uses stream (seed, i), so the numbers do
            not depend on `n_jobs`, `batch_size` or `backend`.
        n_jobs : int, default 1
            Worker processes/threads; -1 for one per CPU.
        heat : {"expected", "transition"}, default "expected"
            "expected": the state-dependent per-jump estimator of `qtraj.mcsolve`, whose mean
            is the full current J_i; "transition": each jump carries its channel's transition
            energy (E: eps1, C: eps2, base: omega, dephasing: 0), giving J_E1, J_C1 and J_B
            (the coherent parts J_E2, J_C2 flow between jumps).
        n_times : int, default 2
            Number of evenly spaced output times in [0, t_max] (>= 2).
        e_ops : list of (3, 3) array_like or None, default None
            Operators whose averages are returned in ``result.expect``.
        store_states : bool or None, default None
            Average the density matrix at the output times; None: only without `e_ops`.
        keep_jumps : bool, default False
            Also record every jump (memory grows with ntraj).
        backend, batch_size, progress, timeout, out, resume, checkpoint_every, scheduler
            Run options, as in `qtraj.ensemble.RunOptions`.
        target_stderr, target_rel_stderr : float or None, default None
            Stop once the largest (relative) standard error of the `e_ops` averages (without
            e_ops: of the averaged density matrix, which needs `store_states`) is at most
            this; the heat records are not targeted.  `ntraj` stays the maximum.

        Returns
        -------
        EnsembleResult
            The result of `qtraj.mcsolve`, unchanged: records "heat_current" (+ "_stderr")
            per bath, ordered as ``meta["baths"]`` = ["E", "C", "B"] (J_i for
            heat="expected", (J_E1, J_C1, J_B) for heat="transition"), "heat",
            "heat_cumulative" and "jump_counts", each with "_stderr".

        Raises
        ------
        ValueError
            For reading="paper" (not trace preserving: no quantum-jump unravelling), a bad
            t_max, n_times or heat, a target without e_ops or stored states, or a bad run
            option (naming it).

        Examples
        --------
        >>> from qtraj.models.transistor import Transistor
        >>> tr = Transistor()
        >>> res = tr.simulate(t_max=1.0, ntraj=200, seed=1, progress=False)
        >>> res.meta["baths"], res["heat_current"].shape
        (['E', 'C', 'B'], (3,))
        """
        opts = RunOptions.from_mapping(locals())
        if self.reading != "lindblad":
            raise ValueError("simulate needs reading='lindblad': the paper reading (Eq. A.4 "
                             "with Appendix C) is not trace preserving, so it has no "
                             "quantum-jump unravelling")
        t_max = as_rate(t_max, "t_max", allow_zero=False)
        n_times = as_count(n_times, "n_times", minimum=2)
        from ..jumps import mcsolve
        times = np.linspace(0.0, t_max, n_times)
        return mcsolve(self.lindblad(), self.steady_state(), times, e_ops=e_ops, heat=heat,
                       store_states=store_states, keep_jumps=keep_jumps, **opts.as_kwargs())


def sweep(base: Transistor, parameter: str, values) -> dict[str, np.ndarray]:
    """Steady-state quantities of `base` with `parameter` set to each of `values`: arrays
    "J_E", "sigma_E", "alpha_E" (likewise C, B; alpha for E, C), the coherence parts
    "J_E1" ... "sigma_B2", and "rho12" (complex)."""
    out: dict[str, list] = {}
    for v in np.asarray(values, dtype=float):
        tr = base.replace(**{parameter: float(v)})
        parts = tr.coherence_parts()
        row = dict(parts)
        for b in "ECB":
            row[f"J_{b}"] = parts[f"J_{b}1"] + parts[f"J_{b}2"]
            row[f"sigma_{b}"] = parts[f"sigma_{b}1"] + parts[f"sigma_{b}2"]
        row["alpha_E"] = row["sigma_E"] / row["sigma_B"]
        row["alpha_C"] = row["sigma_C"] / row["sigma_B"]
        row["rho12"] = tr.coherence()
        for k, x in row.items():
            out.setdefault(k, []).append(x)
    return {k: np.array(x) for k, x in out.items()}
