"""Sphinx configuration of the qtraj documentation (build: see docs/README.md)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "qtraj"
author = "the qtraj developers"
copyright = "2026, the qtraj developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()
exclude_patterns = ["_build", "README.md", "architecture.md"]
html_theme = "furo" if __import__("importlib").util.find_spec("furo") else "alabaster"
html_title = "qtraj"
