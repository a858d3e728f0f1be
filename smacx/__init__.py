"""smacx: sequential model-based algorithm configuration.

Find the best configuration of an expensive black box (a model's hyperparameters, a solver's
flags, a system's knobs) with a random-forest surrogate, on one core, a dask cluster, or many
independent workers sharing one database.
"""

from __future__ import annotations

import logging

from smacx.callback import Callback
from smacx.command import CommandTarget, load_workload
from smacx.errors import (
    ArgumentError,
    CommandError,
    ConcurrencyError,
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
from smacx.initial_design import InitialDesign
from smacx.intensifier import Intensifier
from smacx.multifidelity import Hyperband, SuccessiveHalving
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
    "SearchSpaceExhaustedError",
    "TrialError",
    "NoWorkersError",
    "RunnerClosedError",
    "ArgumentError",
    "ConcurrencyError",
    "CommandError",
    "CommandTarget",
    "load_workload",
    "__version__",
]

logging.getLogger("smacx").addHandler(logging.NullHandler())
