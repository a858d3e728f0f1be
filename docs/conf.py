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
    ``smacx.runners.DaskParallelRunner``), or to a member of one (``smacx.SMAC.ask``), to the
    place the API page documents it."""
    import importlib

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("smacx."):
        return None
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        break
    else:
        return None
    real = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', parts[-1])}"
    if real == target:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], real, node, contnode
    )


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_reexport)
