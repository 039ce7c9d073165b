"""Test configuration: the Hypothesis profile.  Shared models and statistical assertions live
in helpers.py (importable as `helpers`: pyproject.toml puts tests/ on the path).

Hypothesis runs derandomized by default (profile "deterministic": examples derived from each
test's source, no example database), so the suite gives the same result on every run and in
CI.  Set HYPOTHESIS_PROFILE=explore to search new random examples locally.
"""

import os

# One BLAS thread (set before numpy is imported): the tests' matrices are small, and BLAS
# threads competing for two cores made small SVDs and LUs up to 10x slower.  The solvers'
# parallelism is n_jobs, not BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# re-exported for tests written before helpers.py existed (new code: import from helpers)
from helpers import random_lindblad, two_atom_model  # noqa: F401

try:
    from hypothesis import settings
except ImportError:  # hypothesis is only needed by test_fuzz.py
    settings = None

if settings is not None:
    settings.register_profile("deterministic", derandomize=True, database=None)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

