"""Coherence machine of Manzano, Silva & Parrondo (2019): a two-qubit machine fed by a Poisson
stream of two-level atoms, deterministically and shot by shot.

Modules: `model` (Machine, generators, thermodynamics, arrays of machines by Eq. 16), `kernel`
(Numba kernel of the shot-by-shot unravelling and its picklable job), `estimators` (estimates
and standard errors from the reduced sums of the trajectories), `driver` (`simulate_machine`,
behind `Machine.simulate` and `Machine.simulate_array`).
"""

from .driver import default_burn_in, simulate_machine
from .estimators import (coherence_gradient, coherence_rate_estimate, coherence_rate_rel_stderr,
                         estimates, kick_to_vector, line_moments, vector_to_kick)
from .kernel import MachineJob, make_job
from .model import (FIG2, FIG4_CONFIGS, Machine, array_trajectory, atom_state, bloch_xz_state,
                    coherence, coherence_rate_map)

__all__ = ["Machine", "array_trajectory", "coherence", "atom_state", "FIG2", "FIG4_CONFIGS",
           "coherence_gradient", "kick_to_vector", "vector_to_kick", "coherence_rate_map",
           "bloch_xz_state", "simulate_machine", "default_burn_in", "MachineJob", "make_job",
           "estimates", "line_moments", "coherence_rate_estimate", "coherence_rate_rel_stderr"]
