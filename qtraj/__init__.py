"""qtraj: open quantum systems shot by shot.

Quantum-jump trajectories and Poisson-arrival collision models (Numba kernels), whose ensemble
averages are checked against deterministic master-equation solutions of the same model object.
"""

from .lindblad import Channel, Lindblad, vec, unvec, DetailedBalanceError
from .deterministic import mesolve, steady_state, heat_currents, NonUniqueSteadyState
from .thermodynamics import entropy_production_rate, entropy_production, integrated_heat
from . import operators, measures, counting
from .results import EnsembleResult, load
from .jumps import mcsolve
from .collisions import CollisionModel

__version__ = "0.1.0"

__all__ = [
    "Channel", "Lindblad", "vec", "unvec", "mesolve", "steady_state", "heat_currents",
    "NonUniqueSteadyState", "operators", "measures", "EnsembleResult", "load", "mcsolve",
    "CollisionModel", "DetailedBalanceError", "entropy_production_rate", "entropy_production",
    "integrated_heat", "counting",
]
