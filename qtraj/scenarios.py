"""Named scenarios for the command line.

A scenario is built from its model module's own functions (the `--set` names are the model
function's argument names, plus `t_max`/`n_times` for the output grid).  Building returns a
`Prepared`: `run(options)` performs the shot-by-shot ensemble under a `RunOptions` (every run
option reaches the solver; an option a scenario cannot honour is listed in `unsupported` with
the reason, and the command line refuses it), and `observables(res)` gives
{name: (estimate, stderr, deterministic reference)} for the summary and z-scores.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .ensemble import RunOptions

__all__ = ["Scenario", "Prepared", "SCENARIOS", "get"]


@dataclass(frozen=True)
class Prepared:
    """A built scenario.

    Parameters
    ----------
    run : callable
        ``run(options: RunOptions) -> EnsembleResult``.
    observables : callable
        ``observables(result) -> {name: (estimate, stderr, reference)}``.
    unsupported : Mapping[str, str], optional
        Run options (names as in `RunOptions`) that this scenario cannot use, each with the
        reason; the command line exits with a one-line error when one is given.
    default_ntraj : int or None, default 1000
        `ntraj` when neither the user nor a stopping rule (target or timeout) sets one; None
        lets the solver choose.
    """

    run: Callable[[RunOptions], Any]
    observables: Callable[[Any], dict]
    unsupported: Mapping[str, str] = field(default_factory=dict)
    default_ntraj: int | None = 1000


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Callable[..., Prepared]

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in inspect.signature(self.build).parameters.items()}


def _collective(n_atoms: int = 2, nbar: float = 1.0, gamma0: float = 1.0, f0: float = 0.0,
                t_max: float = 3.0, n_times: int = 7) -> Prepared:
    from . import deterministic as det
    from . import operators as op
    from .jumps import mcsolve
    from .models import collective
    L = collective.lindblad(int(n_atoms), nbar, gamma0, f0)
    psi0 = collective.ground_state(int(n_atoms))
    times = np.linspace(0, t_max, int(n_times))
    n_exc = op.collective(op.number_op(), int(n_atoms))

    def observables(res):
        exact = det.mesolve(L, psi0, times)
        return {"n_excitations": (res.expect[0], res.expect_stderr[0],
                                  np.einsum("ij,tji->t", n_exc, exact).real)}
    return Prepared(lambda o: mcsolve(L, psi0, times, e_ops=[n_exc], **o.as_kwargs()),
                    observables)


def _harvest(nbar: float = 1.0, g_tau: float = 0.2, rate: float = 1.0, omega0: float = 1.0,
             dephased: bool = False, t_max: float = 40.0, n_times: int = 9) -> Prepared:
    from .models import harvest
    pair = harvest.pair_state_from_bath(nbar)
    if dephased:
        pair = harvest.dephased(pair)
    scheme = harvest.HarvestScheme(pair, g_tau, rate, omega0)
    q0 = np.diag([1.0, 0.0]).astype(complex)
    times = np.linspace(0, t_max, int(n_times))

    def observables(res):
        exact = scheme.mesolve(q0, times)
        return {"p_excited": (res.mean[:, 1, 1].real, res.stderr[:, 1, 1].real,
                              exact[:, 1, 1].real)}
    return Prepared(lambda o: scheme.simulate(q0, times, **o.as_kwargs()), observables)


def _machine(E1: float = 1.5, E2: float = 2.5, beta1: float = 1.2, beta2_ratio: float = 0.2,
             gamma0: float = 0.0025, rate: float = 2.0, phi: float = 0.02, p0: float = 0.75,
             coherence: float = 0.2, n_collisions: int | None = None) -> Prepared:
    # n_collisions: recorded atom collisions (the maximum when a target or timeout ends the
    # run); default 4e5, or 1e9 with a target or timeout.  --ntraj = trajectories they are
    # split over (default: the machine's own choice).
    from .models import machine as mm
    m = mm.Machine(E1, E2, beta1, beta2_ratio * beta1, gamma0, rate, phi,
                   mm.atom_state(p0, coherence))
    exact = {"coherence_rate_per_phi2": m.coherence_rate() / phi**2, **m.flows()}

    def run(o: RunOptions):
        n = n_collisions if n_collisions is not None else \
            10**9 if o.target is not None or o.timeout is not None else 400_000
        return m.simulate(n, **o.as_kwargs())

    def observables(res):
        out = {"coherence_rate_per_phi2": (res["coherence_rate"] / phi**2,
                                           res["coherence_rate_stderr"] / phi**2,
                                           exact["coherence_rate_per_phi2"])}
        for k in ("E_a", "Q1", "Q2"):
            out[k] = (res[k], res[k + "_stderr"], exact[k])
        return {k: tuple(np.atleast_1d(np.asarray(x, dtype=float)) for x in v)
                for k, v in out.items()}
    return Prepared(run, observables, default_ntraj=None)


def _transistor(T_B: float = 1 / 0.015, gamma_B: float = 1.0, gamma0: float = 1.0,
                t_max: float = 2.0, n_times: int = 5) -> Prepared:
    from .models.transistor import Transistor
    tr = Transistor(gamma_B=gamma_B, gamma0=gamma0, T_B=T_B)
    times = np.linspace(0, t_max, int(n_times))
    J = tr.currents()

    def observables(res):
        return {f"heat_{b}": (res["heat_cumulative"][i], res["heat_cumulative_stderr"][i],
                              J[b] * times) for i, b in enumerate(res.meta["baths"])}
    return Prepared(lambda o: tr.simulate(t_max, n_times=int(n_times), **o.as_kwargs()),
                    observables)


def _otto(omega_a: float = 1.0, omega_b: float = 4.0, beta_c: float = 1.0, beta_h: float = 0.5,
          gamma_c: float = 1.0, gamma_h: float = 1.0, tau_c: float = 1.0, tau_h: float = 1.0,
          tau_adi: float = 1.0, n_cycles: int = 3) -> Prepared:
    from .models.otto import OttoRefrigerator
    fr = OttoRefrigerator(omega_a, omega_b, beta_c, beta_h, gamma_c, gamma_h, tau_c, tau_h,
                          tau_adi)
    ex = fr.protocol().energetics(n_cycles=int(n_cycles))

    def observables(res):
        out = {}
        for i, b in enumerate(res.meta["baths"]):
            ref = np.concatenate([[0.0], np.cumsum(ex["heat"][:, :, i].ravel())])
            out[f"Q_{b[0]}"] = (res["heat_cumulative"][i], res["heat_cumulative_stderr"][i], ref)
        out["W"] = (res["work_cumulative"], res["work_cumulative_stderr"],
                    np.concatenate([[0.0], np.cumsum(ex["work"].ravel())]))
        return out
    return Prepared(lambda o: fr.simulate(int(n_cycles), **o.as_kwargs()), observables)


SCENARIOS: dict[str, Scenario] = {
    "collective": Scenario("collective", "N atoms in a common thermal bath from |g...g> "
                           "(Çakmak, Manatuly & Müstecaplıoğlu 2017): quantum jumps vs "
                           "mesolve", _collective),
    "harvest": Scenario("harvest", "qubit hit by atom pairs from the collective bath at "
                        "Poisson times (Çakmak, Manatuly & Müstecaplıoğlu 2017): collisions "
                        "vs exact map", _harvest),
    "machine": Scenario("machine", "two-qubit machine fed by a Poisson stream of atoms "
                        "(Manzano, Silva & Parrondo 2019): C_a-dot/phi^2 and flows shot by "
                        "shot (--set n_collisions=N; stop with --target-rel-stderr)", _machine),
    "transistor": Scenario("transistor", "three-level thermal transistor (Su, Zhang, Andresen "
                           "& Chen 2021, Lindblad reading): jump-counted heat vs J_i t",
                           _transistor),
    "otto": Scenario("otto", "two-level Otto refrigerator with finite-time isochores: cycles "
                     "shot by shot vs the periodic state of the protocol", _otto),
}


def get(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; available: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
