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


SCENARIOS: dict[str, Scenario] = {
    "collective": Scenario("collective", "N atoms in a common thermal bath from |g...g> "
                           "(paper 003, Secs. II-IV): quantum jumps vs mesolve", _collective),
    "harvest": Scenario("harvest", "qubit hit by atom pairs from the collective bath at "
                        "Poisson times (paper 003, Sec. III C): collisions vs exact map",
                        _harvest),
}


def get(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; available: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
