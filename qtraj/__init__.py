"""qtraj: open quantum systems shot by shot.

Quantum-jump trajectories and Poisson-arrival collision models (Numba kernels), whose ensemble
averages are checked against deterministic master-equation solutions of the same model object.
"""

from .lindblad import Channel, Lindblad, vec, unvec
from .deterministic import mesolve, steady_state, heat_currents, NonUniqueSteadyState
from . import operators, measures
from .results import EnsembleResult, load
from .jumps import mcsolve
from .collisions import CollisionModel

__version__ = "0.1.0"

__all__ = [
    "Channel", "Lindblad", "vec", "unvec", "mesolve", "steady_state", "heat_currents",
    "NonUniqueSteadyState", "operators", "measures", "EnsembleResult", "load", "mcsolve",
    "CollisionModel",
]
