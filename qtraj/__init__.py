"""qtraj: open quantum systems shot by shot.

Quantum-jump trajectories and Poisson-arrival collision models (Numba kernels), whose ensemble
averages are checked against deterministic master-equation solutions of the same model object.
"""

from .lindblad import Channel, Lindblad, vec, unvec, DetailedBalanceError
from .deterministic import mesolve, propagate, steady_state, heat_currents, NonUniqueSteadyState
from .thermodynamics import entropy_production_rate, entropy_production, integrated_heat
from .correlations import (correlation_2op_1t, correlation_2op_2t, correlation_3op_1t,
                           correlation_3op_2t, coherence_function_g1, coherence_function_g2,
                           spectrum)
from . import operators, measures, counting
from .results import EnsembleResult, load
from .jumps import mcsolve
from .collisions import CollisionModel

__version__ = "0.1.0"

__all__ = [
    "Channel", "Lindblad", "vec", "unvec", "mesolve", "propagate", "steady_state",
    "heat_currents", "correlation_2op_1t", "correlation_2op_2t", "correlation_3op_1t",
    "correlation_3op_2t", "coherence_function_g1", "coherence_function_g2", "spectrum",
    "NonUniqueSteadyState", "operators", "measures", "counting", "EnsembleResult", "load",
    "mcsolve", "CollisionModel", "DetailedBalanceError", "entropy_production_rate",
    "entropy_production", "integrated_heat",
]
