"""Named scenarios for the command line: a model, an initial state, output times and e_ops,
built from the model module's own functions (argument names = the model function's)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Scenario", "SCENARIOS", "get"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Callable[..., dict]      # keyword parameters -> {"model", "state0", "times", "e_ops"}

    def defaults(self) -> dict[str, Any]:
        sig = inspect.signature(self.build)
        return {k: p.default for k, p in sig.parameters.items()}


def _collective(n_atoms: int = 2, nbar: float = 1.0, gamma0: float = 1.0, f0: float = 0.0,
                t_max: float = 3.0, n_times: int = 7) -> dict:
    from .models import collective
    from . import operators as op
    L = collective.lindblad(int(n_atoms), nbar, gamma0, f0)
    return {"model": L, "state0": collective.ground_state(int(n_atoms)),
            "times": np.linspace(0, t_max, int(n_times)),
            "e_ops": [op.collective(op.number_op(), int(n_atoms))],
            "e_names": ["n_excitations"]}


SCENARIOS: dict[str, Scenario] = {
    "collective": Scenario("collective", "N atoms in a common thermal bath from |g...g> "
                           "(paper 003, Secs. II-IV): quantum jumps vs mesolve", _collective),
}


def get(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; available: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]
