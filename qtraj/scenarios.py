"""Named scenarios for the command line.

A scenario is built from its model module's own functions (the `--set` names are the model
function's argument names, plus `t_max`/`n_times` for the output grid).  Building returns a
`Prepared`: a `run(**options)` that performs the shot-by-shot ensemble, and `observables(res)`
giving {name: (estimate, stderr, deterministic reference)} for the summary and z-scores.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Scenario", "Prepared", "SCENARIOS", "get"]


@dataclass(frozen=True)
class Prepared:
    run: Callable[..., Any]                 # run(ntraj=..., seed=..., n_jobs=..., ...) -> result
    observables: Callable[[Any], dict]      # result -> {name: (estimate, stderr, reference)}


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
    return Prepared(lambda **kw: mcsolve(L, psi0, times, e_ops=[n_exc], **kw), observables)


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
    return Prepared(lambda **kw: scheme.simulate(q0, times, **kw), observables)


def _machine(E1: float = 1.5, E2: float = 2.5, beta1: float = 1.2, beta2_ratio: float = 0.2,
             gamma0: float = 0.0025, rate: float = 2.0, phi: float = 0.02, p0: float = 0.75,
             coherence: float = 0.2) -> Prepared:
    from .models import machine as mm
    m = mm.Machine(E1, E2, beta1, beta2_ratio * beta1, gamma0, rate, phi,
                   mm.atom_state(p0, coherence))
    exact = {"coherence_rate_per_phi2": m.coherence_rate() / phi**2, **m.flows()}

    def run(ntraj, seed, n_jobs, backend, target_stderr, timeout, out, resume, progress,
            scheduler=None):
        # --ntraj counts atom collisions; --target-stderr is the relative error of C_a-dot
        return m.simulate(ntraj, seed=seed, n_jobs=n_jobs, backend=backend,
                          target_rel_stderr=target_stderr, timeout=timeout, out=out,
                          resume=resume, progress=progress, scheduler=scheduler)

    def observables(res):
        out = {"coherence_rate_per_phi2": (res["coherence_rate"] / phi**2,
                                           res["coherence_rate_stderr"] / phi**2,
                                           exact["coherence_rate_per_phi2"])}
        for k in ("E_a", "Q1", "Q2"):
            out[k] = (res[k], res[k + "_stderr"], exact[k])
        return {k: tuple(np.atleast_1d(np.asarray(x, dtype=float)) for x in v)
                for k, v in out.items()}
    return Prepared(run, observables)


def _transistor(T_B: float = 1 / 0.015, gamma_B: float = 1.0, gamma0: float = 1.0,
                t_max: float = 2.0, n_times: int = 5) -> Prepared:
    from .models.transistor import Transistor
    tr = Transistor(gamma_B=gamma_B, gamma0=gamma0, T_B=T_B)
    times = np.linspace(0, t_max, int(n_times))
    J = tr.currents()

    def observables(res):
        return {f"heat_{b}": (res["heat_cumulative"][i], res["heat_cumulative_stderr"][i],
                              J[b] * times) for i, b in enumerate(res.meta["baths"])}
    return Prepared(lambda **kw: tr.simulate(t_max, n_times=int(n_times), **kw), observables)


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
    return Prepared(lambda **kw: fr.simulate(int(n_cycles), **kw), observables)


SCENARIOS: dict[str, Scenario] = {
    "collective": Scenario("collective", "N atoms in a common thermal bath from |g...g> "
                           "(paper 003, Secs. II-IV): quantum jumps vs mesolve", _collective),
    "harvest": Scenario("harvest", "qubit hit by atom pairs from the collective bath at "
                        "Poisson times (paper 003, Sec. III C): collisions vs exact map",
                        _harvest),
    "machine": Scenario("machine", "two-qubit machine fed by a Poisson stream of atoms "
                        "(Manzano, Silva & Parrondo 2019): C_a-dot/phi^2 and flows shot by shot "
                        "(--ntraj counts collisions; --target-stderr is relative, for C_a-dot)",
                        _machine),
    "transistor": Scenario("transistor", "three-level thermal transistor (paper 000, lindblad "
                           "reading): jump-counted heat vs J_i t", _transistor),
    "otto": Scenario("otto", "two-level Otto refrigerator (paper 001): cycles shot by shot vs "
                     "the periodic state of the protocol", _otto),
}


def get(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; available: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
