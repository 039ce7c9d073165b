"""The models, one module per scheme, imported on first use (``qtraj.models.otto`` or
``from qtraj.models import otto``):

- ``collective``    -- N atoms in a common thermal bath (Çakmak, Manatuly &
  Müstecaplıoğlu 2017)
- ``harvest``       -- coherence harvesting by a qubit from an atomic beam (same authors)
- ``machine``       -- coherence machine fed by a Poisson stream of atoms (Manzano, Silva &
  Parrondo 2019)
- ``transistor``    -- three-level thermal transistor (Su, Zhang, Andresen & Chen 2021)
- ``otto``          -- the two-level Otto refrigerator model with finite-time isochores
- ``quantum_light`` -- quantum vs classical light (Mukamel & Dorfman 2015)
"""

import importlib

__all__ = ["collective", "harvest", "machine", "transistor", "otto", "quantum_light"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
