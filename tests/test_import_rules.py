"""The layer rules of the package, checked on the source (see docs/architecture.md).

* The Numba kernels (qtraj/_kernels/) import nothing from qtraj but the random streams.
* The engine (everything but qtraj/models/, cli.py, scenarios.py) never imports qtraj.models.
* No module uses another module's private names (``_name``), by ``from m import _name`` or by
  ``m._name`` on an imported module.
* The engine's layers import only from layers below them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "qtraj"

#: engine layers, bottom to top (a module may import from its own layer and the ones below)
LAYERS = [
    {"operators", "validation", "rng", "stats", "measures", "plotting", "results"},
    {"lindblad", "linalg", "_kernels"},
    {"kernel_inputs", "deterministic", "ensemble", "thermodynamics", "correlations"},
    {"jumps", "collisions", "protocols", "counting"},
    {"models"},
    {"scenarios", "cli", "__init__"},
]
APPLICATION = {"models", "scenarios", "cli", "__init__"}


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _dotted(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """Absolute name of the module a `from ... import` statement imports from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path):
    """(imported module, imported name or None, line) of every import of a qtraj module,
    module-level or inside functions, plus private attributes used on imported modules."""
    tree = ast.parse(path.read_text(), str(path))
    module = _dotted(path)
    is_package = path.name == "__init__.py"
    aliases: dict[str, str] = {}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("qtraj"):
                    out.append((a.name, None, node.lineno))
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "qtraj"
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(module, node, is_package)
            if not src.startswith("qtraj"):
                continue
            for a in node.names:
                sub = f"{src}.{a.name}"
                if (PKG.parent / Path(*sub.split("."))).with_suffix(".py").exists() or \
                        (PKG.parent / Path(*sub.split("."))).is_dir():
                    out.append((sub, None, node.lineno))      # a module
                    aliases[a.asname or a.name] = sub
                else:
                    out.append((src, a.name, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in aliases and node.attr.startswith("_") and \
                not node.attr.startswith("__"):
            out.append((aliases[node.value.id], node.attr, node.lineno))
    return module, out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if name in layer)


ALL = {path: _imports(path) for path in _modules()}


def test_every_module_has_a_layer():
    for module, _ in ALL.values():
        _layer(_top(module))


@pytest.mark.parametrize("path", [p for p in ALL if "_kernels" in p.parts],
                         ids=lambda p: p.name)
def test_kernels_import_only_the_random_streams(path):
    module, imports = ALL[path]
    bad = [(m, n, line) for m, n, line in imports
           if not (m.startswith("qtraj._kernels") or m == "qtraj.rng")]
    assert not bad, f"{module} imports {bad}"


def test_engine_never_imports_models():
    bad = [(module, m, line) for module, imports in ALL.values()
           if _top(module) not in APPLICATION
           for m, _, line in imports if m.startswith("qtraj.models")]
    assert not bad, bad


def test_no_private_names_of_other_modules():
    bad = []
    for module, imports in ALL.values():
        for m, name, line in imports:
            if name is not None and name.startswith("_") and not name.startswith("__") \
                    and m != module:
                bad.append(f"{module}:{line} uses {m}.{name}")
    assert not bad, bad


def test_layers_import_only_downwards():
    bad = []
    for module, imports in ALL.values():
        here = _layer(_top(module))
        for m, _, line in imports:
            if m == "qtraj":
                continue
            there = _layer(_top(m))
            if there > here:
                bad.append(f"{module}:{line} imports {m} (layer {there} > {here})")
    assert not bad, bad


def test_the_rules_can_fail(tmp_path):
    """The checker sees a private import, a model import and an upward import."""
    probe = PKG / "_probe_import_rules.py"
    probe.write_text("from .jumps import _private\nfrom .models import collective\n"
                     "from . import cli\n")
    try:
        module, imports = _imports(probe)
    finally:
        probe.unlink()
    names = {(m, n) for m, n, _ in imports}
    assert ("qtraj.jumps", "_private") in names
    assert ("qtraj.models.collective", None) in names and ("qtraj.cli", None) in names
