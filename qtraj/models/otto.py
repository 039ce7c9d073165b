"""Two-level quantum Otto refrigerator with finite-time isochores (the Otto refrigerator model;
equation and figure numbers below are those of its source paper).

Levels eps_g = omega, eps_e = 2 omega (index 0 = g); H(omega) = diag(omega, 2 omega).  On an
isochore at (omega, beta): k_down = gamma(1 + s) on sigma^-, k_up = gamma(1 - s) on sigma^+,
s = tanh(beta omega / 2) (Eq. 4; total relaxation rate 2 gamma).  Cycle (Fig. 1): cold isochore
(omega_a, beta_c, tau_c), adiabat (tau_adi/2, populations frozen, omega_a -> omega_b), hot
isochore (omega_b, beta_h, tau_h), adiabat back (tau_adi/2).  As a `Protocol` the adiabats are
segments without channels whose Hamiltonian switches at their start (the work of a frozen
population is the same as for a slow sweep).

Periodic state (Eqs. 9-12, read with the vector (p_g, p_e) or, as printed, (p_e, p_g)):
p_e0 = [p_h (1 - b) + p_c (1 - a) b]/(1 - ab), p_{c,h} = (1 - s_{c,h})/2, a = e^{-2 gamma_c tau_c},
b = e^{-2 gamma_h tau_h}.  Per cycle (Eqs. 14-19; heat positive into the system):
Q_c = omega_a Dp f, Q_h = -omega_b Dp f, W = (omega_b - omega_a) Dp f = -(Q_c + Q_h),
Dp = [tanh(beta_h omega_b/2) - tanh(beta_c omega_a/2)]/2, f = (1 - a)(1 - b)/(1 - ab),
COP eps = Q_c/W = omega_a/(omega_b - omega_a), chi = eps Q_c / t_cycle (the text's extra
/t_cycle is a typo), t_cycle = tau_c + tau_h + tau_adi.

Optimum (chi = G(omega_a, omega_b) F(tau_c, tau_h) factorises): Eq. (20) holds with the total
rates 2 gamma, (2g_c)[cosh(2g_h tau_h) - 1] = (2g_h)[cosh(2g_c tau_c) - 1]; Eqs. (21)-(22) hold
with x = e^{+beta omega}:
  (21) beta_c x_c (omega_b - omega_a)/(x_c + 1)
           = (x_h - x_c)/(x_h + 1) (2 omega_b - omega_a)/omega_a
  (22) beta_h x_h (omega_b - omega_a)/(x_h + 1) = (x_h - x_c)/(x_c + 1).
The COP at maximum chi depends only on eps_C = T_c/(T_h - T_c) (Fig. 2): a few percent above
eps_CA = sqrt(1 + eps_C) - 1, below eps_+ = (sqrt(9 + 8 eps_C) - 3)/2 (Eq. 23).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, root

from ..ensemble import RunOptions
from ..lindblad import Channel, Lindblad
from ..operators import sigma_minus, sigma_plus
from ..protocols import Protocol
from ..results import EnsembleResult

__all__ = ["OttoRefrigerator", "optimal_cop", "eps_ca", "eps_plus", "qc_distribution"]


def eps_ca(eps_C):
    """Curzon-Ahlborn COP sqrt(1 + eps_C) - 1."""
    return np.sqrt(1 + np.asarray(eps_C, float)) - 1


def eps_plus(eps_C):
    """High-temperature-limit COP (sqrt(9 + 8 eps_C) - 3)/2 (Eq. 23)."""
    return (np.sqrt(9 + 8 * np.asarray(eps_C, float)) - 3) / 2


@dataclass(frozen=True)
class OttoRefrigerator:
    """Two-level Otto refrigerator (the model's symbols; omega_a < omega_b, beta_c > beta_h)."""

    omega_a: float = 1.0
    omega_b: float = 4.0
    beta_c: float = 1.0
    beta_h: float = 0.5
    gamma_c: float = 1.0
    gamma_h: float = 1.0
    tau_c: float = 1.0
    tau_h: float = 1.0
    tau_adi: float = 1.0

    def __post_init__(self):
        for k in ("omega_a", "omega_b", "beta_c", "beta_h", "gamma_c", "gamma_h"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be positive, got {v!r}")
        for k in ("tau_c", "tau_h", "tau_adi"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{k} must be >= 0, got {v!r}")
        if self.tau_c + self.tau_h + self.tau_adi <= 0:
            raise ValueError("the cycle must have a positive duration")

    def replace(self, **changes) -> "OttoRefrigerator":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ analytic cycle
    @property
    def t_cycle(self) -> float:
        return self.tau_c + self.tau_h + self.tau_adi

    def _ab(self):
        return np.exp(-2 * self.gamma_c * self.tau_c), np.exp(-2 * self.gamma_h * self.tau_h)

    def cycle(self) -> dict[str, float]:
        """Analytic per-cycle quantities of the periodic state: Q_c, Q_h (heat into the
        system), W (work on it), cop, chi, p_e0 (excited population at the start of the cold
        isochore), plus f and dp."""
        s_c = np.tanh(self.beta_c * self.omega_a / 2)
        s_h = np.tanh(self.beta_h * self.omega_b / 2)
        a, b = self._ab()
        f = (1 - a) * (1 - b) / (1 - a * b) if a * b < 1 else 0.0
        dp = 0.5 * (s_h - s_c)
        p_c, p_h = (1 - s_c) / 2, (1 - s_h) / 2
        p_e0 = (p_h * (1 - b) + p_c * (1 - a) * b) / (1 - a * b) if a * b < 1 else p_h
        Q_c = self.omega_a * dp * f
        W = (self.omega_b - self.omega_a) * dp * f
        cop = self.omega_a / (self.omega_b - self.omega_a)
        return {"Q_c": Q_c, "Q_h": -self.omega_b * dp * f, "W": W, "cop": cop,
                "chi": cop * Q_c / self.t_cycle, "p_e0": p_e0, "f": f, "dp": dp}

    # ------------------------------------------------------------------ model objects
    def isochore(self, omega: float, beta: float, gamma: float, bath: str) -> Lindblad:
        s = np.tanh(beta * omega / 2)
        H = np.diag([omega, 2 * omega]).astype(complex)
        return Lindblad(H, [Channel(sigma_minus(), gamma * (1 + s), bath, name=f"{bath}-"),
                            Channel(sigma_plus(), gamma * (1 - s), bath, name=f"{bath}+")],
                        temperatures={bath: 1 / beta})

    def protocol(self) -> Protocol:
        """Cold isochore, compression adiabat, hot isochore, expansion adiabat."""
        Ha = np.diag([self.omega_a, 2 * self.omega_a]).astype(complex)
        Hb = np.diag([self.omega_b, 2 * self.omega_b]).astype(complex)
        return Protocol([
            (self.tau_c, self.isochore(self.omega_a, self.beta_c, self.gamma_c, "cold"), "cold"),
            (self.tau_adi / 2, Lindblad(Hb, []), "compression"),
            (self.tau_h, self.isochore(self.omega_b, self.beta_h, self.gamma_h, "hot"), "hot"),
            (self.tau_adi / 2, Lindblad(Ha, []), "expansion")])

    # ------------------------------------------------------------------ optimisation
    def _log_chi_grad(self, z):
        """Gradient of log chi in (omega_a, omega_b, tau_c, tau_h)."""
        wa, wb, tc, th = z
        bc, bh, kc, kh = self.beta_c, self.beta_h, 2 * self.gamma_c, 2 * self.gamma_h
        xc, xh = np.exp(bc * wa), np.exp(bh * wb)
        dp = (xh - xc) / ((xh + 1) * (xc + 1))
        a, b = np.exp(-kc * tc), np.exp(-kh * th)
        f = (1 - a) * (1 - b) / (1 - a * b)
        t = tc + th + self.tau_adi
        g_wa = 2 / wa + 1 / (wb - wa) - bc * xc / (xc + 1) ** 2 / dp
        g_wb = -1 / (wb - wa) + bh * xh / (xh + 1) ** 2 / dp
        g_tc = kc * a * (1 - b) ** 2 / (1 - a * b) ** 2 / f - 1 / t
        g_th = kh * b * (1 - a) ** 2 / (1 - a * b) ** 2 / f - 1 / t
        return np.array([g_wa, g_wb, g_tc, g_th])

    def optimize(self) -> "OttoRefrigerator":
        """The refrigerator with (omega_a, omega_b, tau_c, tau_h) maximising chi (beta's,
        gamma's and tau_adi fixed), started from this one: Nelder-Mead on log chi in
        unconstrained variables, then the stationarity equations solved to machine precision."""
        def unpack(u):
            wa = np.exp(u[0])
            return np.array([wa, wa * (1 + np.exp(u[1])), np.exp(u[2]), np.exp(u[3])])

        def neg_log_chi(u):
            wa, wb, tc, th = unpack(u)
            c = self.replace(omega_a=wa, omega_b=wb, tau_c=tc, tau_h=th).cycle()["chi"]
            return -np.log(c) if c > 0 else 1e3 - c
        x0 = self
        if x0.cycle()["chi"] <= 0:     # start inside the refrigerator window
            x0 = self.replace(omega_b=self.omega_a * 1.2 * self.beta_c / self.beta_h)
        u0 = np.log([x0.omega_a, x0.omega_b / x0.omega_a - 1, max(x0.tau_c, 1e-3),
                     max(x0.tau_h, 1e-3)])
        opt = minimize(neg_log_chi, u0, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000,
                                "maxfev": 40000})
        z = unpack(opt.x)
        sol = root(self._log_chi_grad, z, method="hybr", tol=1e-14)
        if np.all(sol.x > 0) and sol.x[1] > sol.x[0] and \
                np.linalg.norm(self._log_chi_grad(sol.x)) < np.linalg.norm(self._log_chi_grad(z)):
            z = sol.x
        return self.replace(omega_a=z[0], omega_b=z[1], tau_c=z[2], tau_h=z[3])

    def optimality_residuals(self) -> dict[str, float]:
        """Relative residuals of Eq. (20) (total rates 2 gamma) and Eqs. (21)-(22) (x = e^{+beta
        omega}); all vanish at the maximum of chi."""
        kc, kh = 2 * self.gamma_c, 2 * self.gamma_h
        l20 = kc * (np.cosh(kh * self.tau_h) - 1)
        r20 = kh * (np.cosh(kc * self.tau_c) - 1)
        wa, wb = self.omega_a, self.omega_b
        xc, xh = np.exp(self.beta_c * wa), np.exp(self.beta_h * wb)
        l21 = self.beta_c * xc * (wb - wa) / (xc + 1)
        r21 = (xh - xc) / (xh + 1) * (2 * wb - wa) / wa
        l22 = self.beta_h * xh * (wb - wa) / (xh + 1)
        r22 = (xh - xc) / (xc + 1)
        return {"eq20": (l20 - r20) / r20, "eq21": (l21 - r21) / r21, "eq22": (l22 - r22) / r22}

    # ------------------------------------------------------------------ shot by shot
    def simulate(self, n_cycles: int, ntraj: int | None = 2000, seed=0, n_jobs: int = 1,
                 state0=None, *, heat: str = "transition", keep_jumps: bool = False,
                 store_states: bool | None = None, backend: str = "loky",
                 batch_size: int | None = None, progress: bool | None = None,
                 target_stderr: float | None = None, target_rel_stderr: float | None = None,
                 timeout: float | None = None, out=None, resume: bool = False,
                 checkpoint_every: float | None = None,
                 scheduler: str | None = None) -> EnsembleResult:
        """Cycles shot by shot: quantum-jump trajectories of `protocol()` (`Protocol.simulate`).

        Each jump on an isochore carries +-omega of that isochore, each adiabat the change
        <H(omega_next) - H(omega)> of the frozen populations.  The result is that of
        `Protocol.simulate` with the refrigerator's per-cycle estimates of
        `cycle_estimates` added as records (a new EnsembleResult: the solver's own result
        object is not modified).

        Parameters
        ----------
        n_cycles : int
            Number of cycles per trajectory (>= 1).
        ntraj : int or None, default 2000
            Maximum number of trajectories; None needs `target_stderr`, `target_rel_stderr`
            or `timeout` to end the run.
        seed : int, numpy.random.SeedSequence or None, default 0
            Root of the random streams: trajectory i uses stream (seed, i), so the numbers do
            not depend on `n_jobs`, `batch_size` or `backend`.
        n_jobs : int, default 1
            Worker processes/threads; -1 for one per CPU.
        state0 : (2,) or (2, 2) array_like or None, default None
            Qubit state at the start of the cold isochore; default the periodic state.
        heat : {"transition", "expected"}, default "transition"
            How jumps are counted as heat (see `Protocol.simulate`); both give the exact
            mean here, since every channel is an eigenoperator of its isochore's Hamiltonian.
        keep_jumps : bool, default False
            Also record every jump (memory grows with ntraj), e.g. for
            `qtraj.counting.cycle_heat`.
        store_states : bool or None, default None
            Average the density matrix at the segment boundaries; None: True.
        backend, batch_size, progress, timeout, out, resume, checkpoint_every, scheduler
            Run options, as in `qtraj.ensemble.RunOptions`.
        target_stderr, target_rel_stderr : float or None, default None
            Stop once the largest (relative) standard error of the per-cycle heats
            ("heat_per_cycle": Q_c and Q_h) and of the per-cycle work ("work_per_cycle": W)
            is at most this; `ntraj` stays the maximum.  The COP is not targeted.

        Returns
        -------
        EnsembleResult
            Every record of `Protocol.simulate` (baths ordered as ``meta["baths"]``) plus
            those of `cycle_estimates`: "Q_c", "Q_h", "W", "cop" (per cycle, averaged over
            cycles and trajectories), "Q_c_cycle", "W_cycle" (per cycle index), each with
            "_stderr".  ``meta["parameters"]`` holds the refrigerator's parameters.  With
            `out`, ``out/result.npz`` holds the result of `Protocol.simulate`; apply
            `cycle_estimates` to ``qtraj.load(out)`` for the derived records.

        Raises
        ------
        ValueError
            For a bad n_cycles, state0 or heat, or a bad run option (naming it).

        Examples
        --------
        >>> from qtraj.models.otto import OttoRefrigerator
        >>> fr = OttoRefrigerator()
        >>> res = fr.simulate(2, ntraj=200, seed=1, progress=False)
        >>> sorted(k for k in res.keys() if k in ("Q_c", "Q_h", "W", "cop"))
        ['Q_c', 'Q_h', 'W', 'cop']
        """
        opts = RunOptions.from_mapping(locals())
        res = self.protocol().simulate(n_cycles, state0=state0, heat=heat,
                                       keep_jumps=keep_jumps, store_states=store_states,
                                       **opts.as_kwargs())
        return dataclasses.replace(res, records={**res.records, **self.cycle_estimates(res)},
                                   meta={**res.meta, "parameters": dataclasses.asdict(self)})

    @staticmethod
    def cycle_estimates(res: EnsembleResult) -> dict[str, np.ndarray | float]:
        """The refrigerator's per-cycle estimates from a `Protocol.simulate` result of its
        `protocol()` (heat positive into the qubit).

        Parameters
        ----------
        res : EnsembleResult
            A result of ``fridge.protocol().simulate(...)`` (or `simulate`, or one loaded with
            `qtraj.load`); it is not modified.

        Returns
        -------
        dict
            "Q_c", "Q_h", "W" (per cycle, averaged over cycles and trajectories) and "cop" =
            Q_c / W (ratio of the means, delta-method error from the covariance of the
            per-trajectory totals, ``res["cycle_cov"]``); "Q_c_cycle", "W_cycle" (per cycle
            index); each with "_stderr".

        Raises
        ------
        ValueError
            If `res` lacks the baths "cold" and "hot" or the records of `Protocol.simulate`.

        Examples
        --------
        >>> from qtraj.models.otto import OttoRefrigerator
        >>> fr = OttoRefrigerator()
        >>> res = fr.protocol().simulate(2, 200, seed=1, progress=False)
        >>> est = OttoRefrigerator.cycle_estimates(res)
        >>> bool(est["Q_c"] == res["heat_per_cycle"][res.meta["baths"].index("cold")])
        True
        """
        baths = list(res.meta.get("baths", ()))
        need = ("heat_per_cycle", "work_per_cycle", "cycle_cov", "heat_cycle", "work_cycle")
        if "cold" not in baths or "hot" not in baths or any(k not in res.records for k in need):
            raise ValueError("res must be a Protocol.simulate result of an Otto refrigerator's "
                             "protocol() (baths 'cold' and 'hot', per-cycle records)")
        ic, ih = baths.index("cold"), baths.index("hot")
        q, qs = res["heat_per_cycle"], res["heat_per_cycle_stderr"]
        W, Ws = res["work_per_cycle"], res["work_per_cycle_stderr"]
        cov = res["cycle_cov"]
        cop = q[ic] / W
        var = (cov[ic, ic] - 2 * cop * cov[ic, -1] + cop ** 2 * cov[-1, -1]) / W ** 2
        return {"Q_c": q[ic], "Q_c_stderr": qs[ic], "Q_h": q[ih], "Q_h_stderr": qs[ih],
                "W": W, "W_stderr": Ws, "cop": cop, "cop_stderr": np.sqrt(max(var, 0.0)),
                "Q_c_cycle": res["heat_cycle"][:, ic],
                "Q_c_cycle_stderr": res["heat_cycle_stderr"][:, ic],
                "W_cycle": res["work_cycle"], "W_cycle_stderr": res["work_cycle_stderr"]}


def qc_distribution(fridge: OttoRefrigerator) -> dict[float, float]:
    """Exact distribution of Q_c in one cycle of the periodic state: the cold isochore moves
    the qubit g -> e (Q_c = +omega_a), e -> g (-omega_a) or leaves it (0), since the net jump
    count equals the change of level:
    P(+) = (1 - p_e0) p_c (1 - a),  P(-) = p_e0 (1 - p_c)(1 - a),  p_c = (1 - s_c)/2."""
    c = fridge.cycle()
    a = np.exp(-2 * fridge.gamma_c * fridge.tau_c)
    p_c = (1 - np.tanh(fridge.beta_c * fridge.omega_a / 2)) / 2
    up = (1 - c["p_e0"]) * p_c * (1 - a)
    down = c["p_e0"] * (1 - p_c) * (1 - a)
    w = fridge.omega_a
    return {-w: down, 0.0: 1 - up - down, w: up}


def optimal_cop(eps_C: float, gamma: float = 1.0, tau_adi: float = 1.0) -> float:
    """COP at maximum chi for Carnot COP eps_C = T_c/(T_h - T_c) (Fig. 2): beta_c = 1,
    beta_h = eps_C/(1 + eps_C), gamma_c = gamma_h = gamma.  (The time allocation factorises out
    of chi, so the result does not depend on gamma or tau_adi.)"""
    eps_C = float(eps_C)
    if not eps_C > 0:
        raise ValueError(f"eps_C must be positive, got {eps_C!r}")
    bh = eps_C / (1 + eps_C)
    # start: omega_a ~ 2 T_c, COP near eps_CA
    e0 = float(eps_ca(eps_C))
    wa = 2.0
    fr = OttoRefrigerator(omega_a=wa, omega_b=wa * (1 + 1 / e0), beta_c=1.0, beta_h=bh,
                          gamma_c=gamma, gamma_h=gamma, tau_c=1 / gamma, tau_h=1 / gamma,
                          tau_adi=tau_adi)
    return float(fr.optimize().cycle()["cop"])
