"""qtraj.models lists every model module, and each imports (lazily, on attribute access)."""

import importlib
import pkgutil

import pytest

import qtraj.models as models

MODULES = sorted(m.name for m in pkgutil.iter_modules(models.__path__)
                 if not m.name.startswith("_"))


def test_all_lists_every_model_module():
    assert sorted(models.__all__) == MODULES
    assert set(models.__all__) == {"collective", "harvest", "machine", "transistor", "otto",
                                   "quantum_light"}
    assert set(models.__all__) <= set(dir(models))


@pytest.mark.parametrize("name", MODULES)
def test_model_imports_by_attribute_and_by_name(name):
    mod = getattr(models, name)
    assert mod is importlib.import_module(f"qtraj.models.{name}")
    assert mod.__doc__ and mod.__name__ == f"qtraj.models.{name}"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_model"):
        models.no_such_model
