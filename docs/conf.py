"""Sphinx configuration for the smacx manual (build: ``sphinx-build docs docs/_build``)."""

from __future__ import annotations

import smacx

project = "smacx"
release = smacx.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
