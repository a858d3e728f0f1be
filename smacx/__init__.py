"""smacx: sequential model-based algorithm configuration.

Find the best configuration of an expensive black box (a model's hyperparameters, a solver's
flags, a system's knobs) with a random-forest surrogate, on one core, a dask cluster, or many
independent workers sharing one database.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if os.name != "posix":  # (fcntl, resource, signals and fork: import failed deep inside)
    raise ImportError(
        f"smacx runs on Linux and macOS (POSIX); this is {os.name!r}. On Windows, install it "
        "in WSL (the Windows Subsystem for Linux)."
    )

from smacx.callback import Callback, FunctionCallback
from smacx.command import CommandTarget, load_workload
from smacx.errors import (
    ArgumentError,
    CommandError,
    ConcurrencyError,
    MachineError,
    NoWorkersError,
    RunnerClosedError,
    ScenarioError,
    ScenarioMismatchError,
    SearchSpaceExhaustedError,
    SmacxError,
    StorageError,
    TargetCrashedError,
    TrialError,
)
from smacx.facade import SMAC
from smacx.importance import param_importances
from smacx.initial_design import InitialDesign
from smacx.intensifier import Intensifier
from smacx.multifidelity import Hyperband, SuccessiveHalving
from smacx.plot import plot_history
from smacx.runhistory import RunHistory
from smacx.runners.base import AbstractRunner
from smacx.runners.serial import SerialRunner
from smacx.scenario import Scenario
from smacx.trial import StatusType, TrialInfo, TrialKey, TrialValue

__version__ = "0.1.0"

__all__ = [
    "SMAC",
    "Scenario",
    "TrialInfo",
    "TrialValue",
    "TrialKey",
    "StatusType",
    "RunHistory",
    "Callback",
    "FunctionCallback",
    "AbstractRunner",
    "SerialRunner",
    "InitialDesign",
    "Intensifier",
    "SuccessiveHalving",
    "Hyperband",
    "SmacxError",
    "ScenarioError",
    "ScenarioMismatchError",
    "TargetCrashedError",
    "StorageError",
    "MachineError",
    "SearchSpaceExhaustedError",
    "TrialError",
    "NoWorkersError",
    "RunnerClosedError",
    "ArgumentError",
    "ConcurrencyError",
    "CommandError",
    "CommandTarget",
    "load_workload",
    "param_importances",
    "plot_history",
    "__version__",
]

logging.getLogger("smacx").addHandler(logging.NullHandler())

#: SMAC3's facades, and the preset of SMAC that does what each does.
_SMAC3_FACADES = {
    "HyperparameterOptimizationFacade": 'SMAC(scenario, f) (preset="hpo", the default)',
    "HPOFacade": 'SMAC(scenario, f) (preset="hpo", the default)',
    "BlackBoxFacade": 'SMAC(scenario, f, preset="blackbox")',
    "RandomFacade": 'SMAC(scenario, f, preset="random")',
    "HyperbandFacade": 'SMAC(scenario, f, preset="hyperband")',
    "MultiFidelityFacade": 'SMAC(scenario, f, preset="multifidelity")',
    "AlgorithmConfigurationFacade": "SMAC(scenario, f) with Scenario(instances=...)",
}

#: Parts that live in a module of their own, and the module.
_IN_SUBMODULES = {
    "DaskParallelRunner": "smacx.runners",
    "RandomForest": "smacx.models",
    "GaussianProcess": "smacx.models",
    **{
        name: "smacx.acquisition"
        for name in ("EI", "LogEI", "PI", "LogPI", "LCB", "ThompsonSampling", "PriorWeighted")
    },
    **{name: "smacx.maximizer" for name in ("LocalAndRandomSearch", "RandomSearch")},
}


if not TYPE_CHECKING:  # (so that a type checker refuses a name smacx does not have)

    def __getattr__(name: str) -> object:
        # (an ImportError: `from smacx import X` turns an AttributeError into its own message)
        if name in _SMAC3_FACADES:
            raise ImportError(
                f"smacx has no {name}, as SMAC3 has: one class, SMAC, takes a preset; use "
                f"{_SMAC3_FACADES[name]}.",
                name=name,
            )
        if name in _IN_SUBMODULES:
            raise ImportError(
                f"smacx has no {name} at its top level: from {_IN_SUBMODULES[name]} import {name}.",
                name=name,
            )
        raise AttributeError(f"module 'smacx' has no attribute {name!r}")
