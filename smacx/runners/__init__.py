"""Runners execute trials: in this process, or on a dask cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smacx.runners.base import AbstractRunner
from smacx.runners.serial import SerialRunner

if TYPE_CHECKING:  # type checkers see the class; at run time it is imported on first use
    from smacx.runners.dask import DaskParallelRunner

__all__ = ["AbstractRunner", "SerialRunner", "DaskParallelRunner"]


if not TYPE_CHECKING:  # (so that a type checker refuses a name smacx does not have)

    def __getattr__(name: str) -> Any:
        # dask.distributed is imported only by code that asks for the dask runner.
        if name == "DaskParallelRunner":
            from smacx.runners.dask import DaskParallelRunner

            return DaskParallelRunner
        raise AttributeError(f"module 'smacx.runners' has no attribute {name!r}")
