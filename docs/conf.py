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


def _resolve_reexport(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a reference to a name smacx re-exports (``smacx.SMAC``,
    ``smacx.runners.DaskParallelRunner``) to the place the API page documents it."""
    import importlib

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("smacx."):
        return None
    package, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(package), name)
    except (ImportError, AttributeError):
        return None
    real = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', name)}"
    if real == target:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], real, node, contnode
    )


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_reexport)
