"""The :class:`SMAC` facade: builds a run from a scenario and drives it (ask, tell, optimize)."""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import functools
import gc
import hashlib
import inspect
import json
import logging
import math
import numbers
import sqlite3
import statistics
import sys
import textwrap
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.hyperparameters import IntegerHyperparameter

from smacx.callback import Callback, as_callback, check_callback
from smacx.command import CommandTarget
from smacx.errors import (
    ArgumentError,
    ConcurrencyError,
    NoWorkersError,
    ScenarioError,
    ScenarioMismatchError,
    SearchSpaceExhaustedError,
    SmacxError,
    StorageError,
    TargetCrashedError,
    TrialError,
    check_flag,
    is_real,
    keyword_hints,
    method_keyword_hints,
    safe_repr,
    smac3_names,
    warn_caller,
)
from smacx.heap import collect_now_and_then, freeze_heap, thaw_heap
from smacx.initial_design import InitialDesign
from smacx.intensifier import (
    Intensification,
    Intensifier,
    IntensifierSettings,
    finite_costs,
)
from smacx.models import Model
from smacx.multifidelity import Hyperband, SuccessiveHalving
from smacx.presets import (
    PRESETS,
    RANDOM_PRESETS,
    Preset,
    check_parts,
    preset_parts,
    prior_modes,
    try_model,
    weighs_priors,
)
from smacx.progress import Bar, NoBar
from smacx.runhistory import (
    MAX_DEATHS,
    RunHistory,
    failure_reasons,
    plain_value,
    same_space,
    seed_noise,
    settings_text,
)
from smacx.runners.base import AbstractRunner
from smacx.runners.serial import (
    PROGRESS_LOCK,
    TRIAL_ARGUMENTS,
    SerialRunner,
    TargetFunction,
    check_data,
    diverged,
    warn_of_inherited_memory,
)
from smacx.scenario import (
    MINIMIZES,
    OBJECTIVE_WEIGHTS,
    OPTUNA_KEYWORDS,
    RAY_ORION_KEYWORDS,
    RESUMABLE_FIELDS,
    USE_DEFAULT_CONFIG,
    Scenario,
    comparable_identity,
    identity_difference,
)
from smacx.selector import Acquisition, ConfigSelector, Maximizer
from smacx.session import (
    SESSIONS,
    Spent,
    close_session_record,
    cpu_seconds,
    end_session,
    folder_lock,
    give_up,
    live_local_sessions,
    live_owners,
    live_owners_of,
)
from smacx.signals import (
    SIGINT_ARRIVED,
    SIGTERM_ARRIVED,
    Terminated,
    sigint_noted,
    sigterm_stops_the_run,
)
from smacx.storage import (
    RUN_FORMAT,
    Storage,
    check_run_format,
    database_url,
    is_database_url,
    is_local,
    open_storage,
    owner_id,
    redact,
)
from smacx.trial import (
    COSTS_LOGGED,
    StatusType,
    TrialInfo,
    TrialKey,
    TrialValue,
    aggregate_costs,
)

__all__ = ["SMAC", "PRESETS", "Preset"]

logger = logging.getLogger("smacx")

DATABASE_NAME = "runhistory.db"


# Keywords that users of SMAC3 or of smacx's Scenario pass to SMAC(...): where they belong.
_ELSEWHERE = {
    **{
        f.name: f"it is a field of Scenario(...): Scenario(configspace, {f.name}=...)"
        for f in dataclasses.fields(Scenario)
        if f.init and f.name != "configspace"
    },
    "configspace": "it is Scenario's first argument: SMAC(Scenario(configspace, ...), ...)",
    "target_function": "smacx calls it target_fn",
    "acquisition_function": "smacx calls it acquisition, for example acquisition=LogEI()",
    "acquisition_maximizer": "smacx calls it maximizer",
    "random_design": "the share of random proposals is random_probability",
    "logging_level": "smacx logs to logging.getLogger('smacx'); set that logger's level",
    "config_selector": "smacx has no selector object: set random_probability, "
    "plateau_probability, model, acquisition or maximizer",
    "runhistory_encoder": "the model transforms costs itself, e.g. RandomForest(log_y=True)",
    "multi_objective_algorithm": "several objectives use ParEGO built in: give "
    "Scenario(objectives=[...])",
    "objective_weights": OBJECTIVE_WEIGHTS,
    **dict.fromkeys(("maximize", "direction", "directions"), MINIMIZES),
    **OPTUNA_KEYWORDS,
    **RAY_ORION_KEYWORDS,
    "show_progress_bar": "smacx calls it progress: SMAC(..., progress=True)",
    "use_default_config": USE_DEFAULT_CONFIG,
}

#: Keywords passed to optimize() that belong to the Scenario or to SMAC (Optuna's
#: Study.optimize takes n_trials, timeout, n_jobs, callbacks, ...): where they go.
_NOT_OPTIMIZES = {
    **{
        name: f"it is a field of Scenario: Scenario(configspace, {name}=...)"
        for name in ("n_trials", "walltime_limit", "n_workers")
    },
    **OPTUNA_KEYWORDS,
    **RAY_ORION_KEYWORDS,
    "callbacks": "they are SMAC(..., callbacks=[...]), smacx.Callback instances or functions",
    "catch": "a target's exceptions are recorded as CRASHED trials, and the run goes on "
    "(SMAC(..., raise_on_first_crash=False) also at the first trial)",
}

#: Keywords of SMAC3's and Optuna's validation that smacx spells otherwise
_NOT_VALIDATES = {
    "seed": "SMAC.validate(config, seeds=[...]) takes a list of seeds",
    "instance": "SMAC.validate(config, instances=[...]) takes a list of instances",
}

#: Attributes of Optuna's Study, and what SMAC calls them
_OPTUNA_ATTRIBUTES = {
    "best_params": "dict(smac.incumbent)",
    "best_value": "smac.incumbent_cost",
    "best_values": "smac.incumbent_costs",
    "best_trial": "smac.incumbent, and smac.runhistory.get_trials(smac.incumbent)",
    "best_trials": "smac.incumbents (the Pareto front, at most Intensifier(max_incumbents=...) "
    "members of it, 10 by default, spread along it; open a finished run again with more to "
    "read all of it)",
    "stop": "a callback that returns False: SMAC(..., callbacks=[fn]) with fn(smac, info, "
    "value) (or smac.close(), which also gives up the running trials)",
    "trials": "smac.runhistory (smac.runhistory.finished() for the finished trials)",
    "trials_dataframe": "smac.runhistory.to_dataframe()",
    "enqueue_trial": "SMAC(..., initial_design=InitialDesign(additional_configs=[{...}]))",
}


#: What SMAC3's facade class methods (``HyperparameterOptimizationFacade.get_intensifier(
#: scenario, ...)``) are here: each part is built from its settings alone and given to SMAC.
_SMAC3_CLASS_METHODS = {
    "get_intensifier": "Intensifier(...), or SuccessiveHalving(...) or Hyperband(...), given to "
    "SMAC(..., intensifier=...)",
    "get_initial_design": "InitialDesign(...), given to SMAC(..., initial_design=...)",
    "get_model": "smacx.models.RandomForest(...) or GaussianProcess(...), given to "
    "SMAC(..., model=...)",
    "get_acquisition_function": "smacx.acquisition.LogEI(...), EI(...), LCB(...) and so on, "
    "given to SMAC(..., acquisition=...)",
    "get_acquisition_maximizer": "smacx.maximizer.LocalAndRandomSearch(...), given to "
    "SMAC(..., maximizer=...)",
    "get_random_design": "SMAC(..., random_probability=...), the share of random proposals",
    "get_multi_objective_algorithm": "Scenario(objectives=[...]), which uses ParEGO",
    "get_runhistory_encoder": "the model's own transform, e.g. RandomForest(log_y=True)",
    "get_config_selector": "SMAC's keywords random_probability, model, acquisition and maximizer",
}


class _FacadeType(type):
    """SMAC's type: answers SMAC3's facade class methods (``SMAC.get_intensifier(...)``, as
    ported from ``HyperparameterOptimizationFacade.get_intensifier``) with what to use; a
    plain ``AttributeError`` said nothing. Only where Python's own lookup has failed."""

    if not TYPE_CHECKING:  # (so that type checkers still flag SMAC.get_intensifier)

        def __getattr__(cls, name: str) -> Any:
            if name in _SMAC3_CLASS_METHODS:
                raise AttributeError(
                    f"type object {cls.__name__!r} has no attribute {name!r}, as SMAC3's "
                    f"facades have: smacx's parts take no scenario; use "
                    f"{_SMAC3_CLASS_METHODS[name]}."
                )
            raise AttributeError(
                f"type object {cls.__name__!r} has no attribute {name!r}", name=name, obj=cls
            )


#: How many of the other runs in an output directory a new, empty unnamed run compares its
#: scenario with (the latest first), to name one made with the same scenario.
_RUNS_COMPARED = 20


@smac3_names(_OPTUNA_ATTRIBUTES, whose="Optuna's Study")
@keyword_hints(elsewhere=_ELSEWHERE)
class SMAC(metaclass=_FacadeType):
    """Optimize a target function over a scenario's search space.

    Args:
        scenario: What to optimize and under which limits.
        target_fn: The function to minimize, called as ``target_fn(config, seed=..., ...)``
            (see :class:`~smacx.SerialRunner`). None when trials are run by the caller through
            :meth:`ask` and :meth:`tell`.
        preset: ``"hpo"`` (random forest on log costs, log-EI, local and random search in a
            trust region around the best configuration, one random configuration in twenty
            proposals; see :class:`~smacx.selector.ModelProposer`), ``"blackbox"`` (Gaussian
            process, log-EI, for low-dimensional continuous spaces), ``"random"`` (random
            search after the initial design), ``"hyperband"`` (Hyperband over random
            configurations) or ``"multifidelity"`` (Hyperband over proposals of the ``"hpo"``
            forest, log-EI and search, as BOHB does with its density model, but without
            ``"hpo"``'s trust region, plateau radius and plateau share). The two
            multi-fidelity presets need a scenario with ``min_budget`` and ``max_budget``, or
            with instances and no budgets, whose stages then count instances (as in SMAC3).
        model: The surrogate, replacing the preset's (e.g. ``RandomForest(n_trees=20)``).
        acquisition: The acquisition settings, replacing the preset's (e.g. ``LCB(beta=2)``).
        maximizer: The acquisition maximizer, replacing the preset's (and its trust region).
        initial_design: Which configurations start the run: by default a Sobol design, led
            by the space's default configuration when the scenario has instances (algorithm
            configuration races challengers against the solver's default) and the preset
            is model-based.
        intensifier: Intensification settings: :class:`~smacx.Intensifier` (racing, the
            default), or ``SuccessiveHalving``/``Hyperband`` for multi-fidelity scenarios
            (budgets, or instances raced on more and more of them).
            None continues a stored run with the settings it was started with.
        random_probability: Share of proposals drawn at random after the initial design
            (the preset's default when None: 0.05 for ``"hpo"``, 0.5 with two or more
            instances that have no features, 0.08 for ``"blackbox"``). Before the model has
            ``max(3, d + 1)`` results for ``d`` hyperparameters that vary (in a space with
            conditions, no more than the initial design or 10), every proposal is random (see
            :class:`InitialDesign`).
        plateau_probability: Share drawn at random instead while two or more configurations
            share the lowest cost, a plateau the model cannot see past (see
            :class:`~smacx.selector.ConfigSelector`). By default 0.5 with the ``"hpo"`` and
            ``"blackbox"`` presets on a scenario without budgets, else 0 (off).
        plateau_radius: How far (Euclidean, in encoded units: every hyperparameter's range
            spans 1) the model's proposals keep from each evaluated configuration whose cost
            another configuration shares (see :class:`~smacx.selector.ModelProposer`). By
            default 0.015 with the ``"hpo"`` and ``"blackbox"`` presets and 0 (off) with the
            others; 0 turns it off.
        runner: Runs the trials; by default a :class:`~smacx.SerialRunner` of ``target_fn``,
            or a :class:`~smacx.runners.DaskParallelRunner` when ``dask_client`` is given or
            ``scenario.n_workers > 1`` (a ``SerialRunner`` passed here is run on such a
            cluster too). A runner must be built on a scenario with the same space,
            objectives, crash costs, trial limits, instances and budgets. Its own
            LocalCluster starts with ``SMAC``, or, when a stored run has no trial left to
            run, with the first ``optimize()`` or ``validate()`` that runs trials (``runner``
            is the serial runner until then).
        dask_client: A ``dask.distributed.Client`` to run trials on; it is never closed by smacx.
            Trials are queued ahead of its workers as ``DaskParallelRunner`` does by default;
            pass ``runner=DaskParallelRunner(SerialRunner(f, scenario), dask_client=client,
            queue_ahead=0)`` instead to turn that off.
        dask_tls: Whether the LocalCluster that ``Scenario(n_workers > 1)`` starts speaks TLS
            with credentials made for it, which only this process holds (see
            ``DaskParallelRunner(tls=True)``): for a machine shared with other users, who
            could otherwise connect to its loopback scheduler and run code as you.
        callbacks: Hooks called during the run: :class:`~smacx.Callback` instances, or functions
            called after each result is recorded as ``fn(smac, info, value)`` (returning False
            stops the run).
        storage: Where the run history lives. None: in ``runhistory.db`` (SQLite) in the run's
            folder ``output_directory / name``, or in memory without an output directory. A
            PostgreSQL URL, ``"postgresql://user:password@host:port/database"``: in that
            database, under the scenario's name, so that processes on several machines that
            give the same URL and scenario share the run (needs ``pip install
            'smacx[postgres]'``; the database must exist). SQLAlchemy's spelling
            (``postgresql+psycopg2://``) and libpq's ``key=value`` strings (``"host=db
            dbname=runs"``, ``"service=runs"``) are taken too.
        overwrite: Start afresh even if the output directory (or ``storage``) holds a run of
            this scenario (its history is deleted). By default such a run is continued. The ``SMAC``
            objects that this thread built on the run are closed first, unless one is in
            ``optimize()``; another process or thread with the run open makes it fail.
        progress: Show a progress bar (tqdm); by default only when stderr is a terminal.
        raise_on_first_crash: Raise :class:`~smacx.TargetCrashedError` when the first trial
            that this object's :meth:`optimize` runs crashes while no trial of the run has
            worked yet (none ended SUCCESS, TIMEOUT or MEMORYOUT, in any process sharing the
            run or earlier session): usually a bug in the target rather than a bad
            configuration. A NaN or infinite cost the target returned (a diverged training
            run) is recorded CRASHED without raising.

    Raises:
        ScenarioError: An argument holds a value that is not allowed.
        ScenarioMismatchError: The output directory holds a run of a different scenario,
            or one started with other intensifier settings than ``intensifier``.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> from smacx import SMAC, Scenario
        >>> cs = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
        >>> scenario = Scenario(cs, n_trials=15, deterministic=True, output_directory=None)
        >>> smac = SMAC(scenario, lambda config, seed: (config["x"] - 1) ** 2, progress=False)
        >>> abs(smac.optimize()["x"] - 1) < 1.5
        True
    """

    def __init__(
        self,
        scenario: Scenario,
        target_fn: TargetFunction | None = None,
        *,
        preset: Preset = "hpo",
        model: Model | None = None,
        acquisition: Acquisition | None = None,
        maximizer: Maximizer | None = None,
        initial_design: InitialDesign | None = None,
        intensifier: IntensifierSettings | None = None,
        random_probability: float | None = None,
        plateau_probability: float | None = None,
        plateau_radius: float | None = None,
        runner: AbstractRunner | None = None,
        dask_client: Any = None,
        dask_tls: bool = False,
        callbacks: Sequence[Callback | Callable[[SMAC, TrialInfo, TrialValue], bool | None]] = (),
        storage: str | None = None,
        overwrite: bool = False,
        progress: bool | None = None,
        raise_on_first_crash: bool = True,
    ) -> None:
        if not isinstance(scenario, Scenario):
            raise ScenarioError(_not_a_scenario(scenario))
        scenario.check_unchanged()
        if preset not in PRESETS:
            raise ScenarioError(f"SMAC's preset must be one of {list(PRESETS)}; got {preset!r}.")
        check_flag("SMAC", "dask_tls", dask_tls)
        if dask_tls and (dask_client is not None or runner is not None):
            raise ScenarioError(
                "SMAC's dask_tls is for the LocalCluster of Scenario(n_workers=...); with "
                "dask_client= or runner=, their cluster has the security it was created with."
            )
        self._dask_tls = dask_tls
        for name, share in (
            ("random_probability", random_probability),
            ("plateau_probability", plateau_probability),
        ):
            if share is not None and not _is_probability(share):
                raise ScenarioError(f"SMAC's {name} must be a number in [0, 1]; got {share!r}.")
        if plateau_radius is not None and not (
            is_real(plateau_radius) and 0.0 <= float(plateau_radius) < 0.5
        ):
            raise ScenarioError(
                "SMAC's plateau_radius must be a distance in [0, 0.5) in encoded units (every "
                "hyperparameter's range spans 1), or None for the preset's; got "
                f"{plateau_radius!r}."
            )
        if (
            isinstance(callbacks, Callback)
            or callable(callbacks)
            or not isinstance(callbacks, Iterable)
        ):
            raise ScenarioError(
                "SMAC's callbacks must be a list of smacx.Callback instances or functions; "
                f"got {callbacks!r}. Pass callbacks=[...]."
            )
        hooks = [as_callback(c) for c in callbacks]  # (a generator is read once)
        for callback in hooks:
            check_callback(callback)
        if initial_design is not None and not isinstance(initial_design, InitialDesign):
            raise ScenarioError(
                "SMAC's initial_design must be a smacx.InitialDesign, e.g. "
                f"InitialDesign(kind='sobol', n_configs=10); got {initial_design!r}."
            )
        for name, flag, allowed in (
            ("overwrite", overwrite, "True or False"),
            ("progress", progress, "True, False or None (a bar when stderr is a terminal)"),
            ("raise_on_first_crash", raise_on_first_crash, "True or False"),
        ):
            if not (isinstance(flag, (bool, np.bool_)) or (flag is None and name == "progress")):
                raise ScenarioError(f"SMAC's {name} must be {allowed}; got {flag!r}.")
        if isinstance(intensifier, type):
            raise ScenarioError(
                "SMAC's intensifier must be intensifier settings (an instance, not the class), "
                f"e.g. {intensifier.__name__}(); got the class {intensifier!r}."
            )
        if intensifier is not None and not callable(getattr(intensifier, "build", None)):
            raise ScenarioError(
                "SMAC's intensifier must be intensifier settings such as smacx.Intensifier() "
                f"or Hyperband(); got {intensifier!r}."
            )
        check_parts(model=model, acquisition=acquisition, maximizer=maximizer)
        if model is not None and preset != "random":
            try_model(model, scenario)
        if storage is not None and not is_database_url(storage):
            shown = redact(storage) if isinstance(storage, str) else repr(storage)
            raise ScenarioError(
                "SMAC's storage must be None (the run in output_directory/name/runhistory.db, "
                "or in memory without an output_directory) or a PostgreSQL URL "
                f"'postgresql://user:password@host:port/database'; got {shown!r}. For SQLite, "
                "set the scenario's output_directory instead."
            )
        self.scenario = scenario
        # (as libpq reads it: postgresql+psycopg:// and postgresql:// name one run)
        self._storage_url = None if storage is None else database_url(storage)
        #: Whether the run history outlives this process (in a file or a database).
        self._stored = storage is not None or scenario.output_path is not None
        self.callbacks = hooks
        # (stderr may be None: a GUI application's, a process started with stderr closed)
        terminal = getattr(sys.stderr, "isatty", None)
        self.progress = bool(terminal and terminal()) if progress is None else bool(progress)
        self.raise_on_first_crash = bool(raise_on_first_crash)

        # Everything that can be checked is checked before the storage is opened (overwrite=True
        # wipes it); a cluster of the runner's own is started last, so that no error below
        # leaves it running.
        self.runner = self._make_runner(target_fn, runner, dask_client)
        design = initial_design if initial_design is not None else InitialDesign()
        if initial_design is None and scenario.instances and preset not in RANDOM_PRESETS:
            # Algorithm configuration: the solver's default is the configuration to beat,
            # raced first (as SMAC3's algorithm-configuration facade, ParamILS and irace do).
            # Without it, an audit's run returned a configuration worse than the default.
            default = scenario.configspace.get_default_configuration()
            extra = [default]
            if weighs_priors(acquisition, scenario):  # (and where the priors peak, below)
                extra += [c for c in prior_modes(scenario) if c != default]
            design = InitialDesign(additional_configs=extra)
        elif initial_design is None and weighs_priors(acquisition, scenario):
            # piBO: the priors' mode is where the user believes the optimum lies; SMAC3's
            # example of priors adds the default configuration to the design.
            design = InitialDesign(additional_configs=prior_modes(scenario))
        n_design = design.size(scenario.configspace, scenario.n_trials)
        if (
            initial_design is not None
            and preset in ("hpo", "blackbox")
            and n_design >= _trial_limit(scenario)
        ):
            _warn(
                f"the initial design holds {n_design} configurations, as many as "
                f"n_trials={scenario.n_trials} or more: the run ends before preset={preset!r} "
                "proposes a configuration. Give InitialDesign fewer n_configs, or raise n_trials."
            )
        proposer, default_probability = preset_parts(
            preset,
            scenario,
            model=model,
            acquisition=acquisition,
            maximizer=maximizer,
            plateau_radius=plateau_radius,
            random_probability=random_probability,
            plateau_probability=plateau_probability,
            design_size=n_design,
        )
        self.selector = ConfigSelector(
            scenario.configspace,
            design.select(scenario.configspace, scenario.n_trials, scenario.seed),
            n_given=design.n_given(scenario.configspace),
            random_probability=default_probability
            if random_probability is None
            else random_probability,
            # Chosen on benchmarks/tasks.py (14 tasks, 100 trials, 10 seeds): on svm_digits,
            # whose costs count misclassified digits, the median best cost fell from 0.0100
            # to 0.0086 (seeds ending on the polynomial kernel's plateau, above 0.011: 5 of
            # 10, then 2); no other task has ties, and none changed.
            # Off with budgets: configurations' costs at different budgets do not compare.
            # The same with "blackbox" (an audit's finding): on a plateau its process's kernel
            # collapsed, log-EI peaked at the box's corners, and a flat 2-d function's small
            # basin was never found on 3 of 5 seeds (random search found it).
            plateau_probability=(
                0.5 if preset in ("hpo", "blackbox") and scenario.max_budget is None else 0.0
            )
            if plateau_probability is None
            else plateau_probability,
            seed=scenario.seed,
            proposer=proposer,
        )
        settings: IntensifierSettings
        if intensifier is not None:
            settings = intensifier
        elif preset in ("hyperband", "multifidelity"):
            settings = Hyperband()
        else:
            settings = Intensifier()
        if isinstance(settings, (SuccessiveHalving, Hyperband)):
            _warn_of_instance_counts(scenario, target_fn, type(settings).__name__)
        _warn_of_coarse_integers(scenario)
        # Ends this object's session of a stored run (see live_owners); set once it is open.
        self._end_session: weakref.finalize[..., SMAC] | None = None
        self._session: str | None = None  # registered by _open_storage
        self._in_flight: set[TrialInfo] = set()  # submitted by optimize(), not yet told
        self._asked: set[TrialInfo] = set()  # handed out by ask(), not yet told
        self._warned_twin = False  # (see _asked_twin)
        self._warned_late = False  # (a result told for a trial that has one: warned once)
        self._waited_for_lease = False  # (said once: see _wait_for_a_silent_lease)
        # Held by ask(), tell(), close() and optimize()'s own asks and searches: callers of
        # ask and tell in several threads (their own executor's) take turns.
        self._lock = threading.RLock()
        if overwrite and self._stored:
            # The settings' own checks (budgets, brackets) on a history in memory, so that an
            # error leaves the stored run as it was rather than after the wipe; what the
            # build logs, the real one below logs again.
            with _unlogged_in_this_thread():
                settings.build(
                    scenario,
                    self.selector,
                    RunHistory(scenario.configspace, objectives=scenario.objectives),
                )
        store = self._open_storage(overwrite)
        try:
            self.runhistory = RunHistory(
                scenario.configspace,
                objectives=scenario.objectives,
                storage=store,
                # A run in a database may be shared with processes on other hosts, which see
                # only the leases of this one's trials (renewed every minute while it lives).
                lease_seconds=LEASE_SECONDS if self._stored else math.inf,
            )
        except BaseException:  # (a damaged history, an interrupt while reading a large one)
            if self._session is not None:
                with contextlib.suppress(Exception):
                    close_session_record(store, self._session)
            store.close()
            raise
        # A process joining a stored run (a resumed, restarted or late worker) must not replay
        # the random draws of the processes that started before it (see ConfigSelector.join).
        self.selector.join(self.runhistory.n_configs)
        if self._session is not None:
            # Seen by a later overwrite=True, which must not delete the file under this one
            # while it lives (see live_owners). Ended by close(), or when this object is
            # collected or the interpreter exits without it (optimize() does not close).
            self._end_session = weakref.finalize(
                self, end_session, self.runhistory, self._session, self._asked, self._in_flight
            )
            _open_here.add(self)
        # The thread in optimize(), if any: an overwrite=True of this thread closes this object
        # only when it is not optimizing, and close() asks that thread to stop.
        self._optimizer: threading.Thread | None = None
        self._optimize_over = threading.Event()  # clear while optimize() runs
        self._optimize_over.set()
        self._depth = 0  # ask() and tell() calls under way in the lock's holder (nested)
        # close() was called by a callback or signal handler inside ask(), tell() or
        # optimize() of the same thread, or by another thread during optimize(): the call
        # under way closes as it ends.
        self._close_requested = False
        self._closing = False  # _close() runs (its tells of the last results must not close)
        # (the thread itself, not its ident, which the system gives again to a later thread)
        self._thread = weakref.ref(threading.current_thread())
        try:
            stored = self.runhistory.storage.get_meta("intensifier")
            if stored is not None:
                if intensifier is None and stored != repr(settings):
                    restored = _settings_from_repr(stored)
                    if restored is not None:
                        logger.info(
                            "Continuing the run in %s with the intensifier it was started with: %s",
                            self.where,
                            stored,
                        )
                        settings = restored
                self._check_stored_settings(stored, settings)
            #: The live intensification (built from the settings and the run history).
            self.intensifier: Intensification = settings.build(
                scenario, self.selector, self.runhistory
            )
            # recorded once it is known to fit the scenario
            self._check_stored_settings(
                self.runhistory.storage.set_meta_if_absent("intensifier", repr(settings)),
                settings,
            )
            no_room = getattr(self.intensifier, "no_room_to_halve", None)
            advice = no_room() if no_room is not None else None
            if advice is not None:
                _warn(advice)
            short = getattr(self.intensifier, "short_of_the_top", None)
            advice = short(scenario.n_trials) if short is not None else None
            if advice is not None:
                _warn(advice)
            if (
                intensifier is None
                and stored is None  # (a continued run keeps the intensifier it started with)
                and isinstance(settings, Intensifier)
                and scenario.max_budget is not None
                and scenario.min_budget != scenario.max_budget
            ):
                _warn(
                    f"the scenario has budgets from {scenario.min_budget:g} to "
                    f"{scenario.max_budget:g}, but preset={preset!r} races configurations at "
                    f"max_budget only, so every trial runs at {scenario.max_budget:g}. For "
                    "multi-fidelity, use preset='multifidelity' (Hyperband over the model's "
                    "proposals) or 'hyperband'; to run at max_budget on purpose, pass "
                    "intensifier=Intensifier()."
                )
            self._warn_if_target_changed(target_fn)
            # Without a target (nor a runner), recorded at the first ask(): an object built
            # only to read a stored run proposes nothing, and must not record its default
            # preset as the run's (the run's next resume then warned of a change it made).
            self._preset_unrecorded: str | None = preset
            # The preset the run last ran with, as summary() says it (also once closed).
            self._run_preset: str | None = self.runhistory.storage.get_meta("preset")
            if self.runner is not None:
                self._record_preset()
            self._warn_if_a_seedless_target_repeats()
        except BaseException:
            self._close_unbuilt()
            raise

        self._stop_requested = False
        self._stop_reason: str | None = None
        self._ended_by: str | None = None  # (see stop_reason)
        # (walltime_limit's and cputime_limit's count, from the first optimize())
        self._spent: Spent | None = None
        self._run_start = math.nan  # Unix time at which the run started (see _run_clock)
        self._target_time = 0.0
        self._target_cpu_time = 0.0
        self._own_time = 0.0
        self._callback_time = 0.0  # (seconds in the callbacks' hooks: not smacx's own)
        self._durations: deque[float] = deque(maxlen=32)  # seconds of the latest trials
        self._told_here = 0
        self._told_keys: set[TrialKey] = set()  # (a second tell of one of them is the user's)
        self._ran_told = 0  # of the results told, those of trials optimize() ran
        self._closed = False
        # the trajectory when closed (None: not read)
        self._final_trajectory: list[dict[str, Any]] | None = None
        self._untold: list[tuple[TrialInfo, TrialValue]] = []  # results whose tell failed
        self._scattered: dict[str, Any] = {}  # optimize()'s data_to_scatter
        self._instance_set = frozenset(scenario.instances or ())  # what tell() accepts
        # A knob file's command template, by which failures of its commands group together
        self._command = target_fn.command if isinstance(target_fn, CommandTarget) else None
        # (config ids, costs) of the last trajectory entry: the best, or the whole front
        self._last_incumbent: tuple[Any, ...] = (None, [])
        if self.runhistory.n_finished:
            logger.info(
                "Continuing run %r: %d finished trial(s), %d left running by a stopped process.",
                scenario.run_name,
                self.runhistory.n_finished,
                self.runhistory.n_stale(),
            )
            if self.runner is not None:
                # (An object without a target only reads the run, or tells it results, whose
                # first tell() stores what changed: read with a larger max_incumbents to see
                # the whole front, the front stored a change that never happened.)
                self._update_incumbent()
        elif storage is None and scenario.name is None and self.runhistory.n_configs == 0:
            self._say_if_other_runs_are_there()
        # With n_workers > 1, a LocalCluster goes around the serial runner: started here, last,
        # unless the stored run has no trial left to run (continued to be read, or to be
        # validated): then by optimize() or validate(), if they run trials.
        self._wants_cluster = isinstance(self.runner, SerialRunner) and scenario.n_workers > 1
        if not self._nothing_to_run():
            try:
                self._use_cluster()
            except BaseException:
                self._close_unbuilt()
                raise

    def _say_if_other_runs_are_there(self) -> None:
        """A new run of an unnamed scenario, in an output directory that holds other runs:
        its name is a fingerprint of the scenario, so a scenario that differs from the one a
        run was made with (another seed, a range changed) starts a new, empty run instead of
        reading or continuing that one. Said at WARNING to an object without a target (built
        to read a run, or for ask and tell), else at INFO; with what differs from the latest
        of the others. A run made with this very scenario under another name (an older
        smacx's fingerprint) is named in a ``UserWarning``."""
        here = self.scenario.output_path
        if here is None:
            return
        found = []
        for path in here.parent.glob(f"*/{DATABASE_NAME}"):
            with contextlib.suppress(OSError):  # (a run deleted meanwhile)
                if path.parent != here:
                    found.append((path.stat().st_mtime, path))
        others = [path for _, path in sorted(found, reverse=True)]
        if not others:
            return
        given = json.loads(json.dumps(self.scenario.identity()))
        shown, what, same = others[0].parent, f", the latest {others[0].parent.name!r}", False
        # The latest run, unless one of the latest few was made with this very scenario: a run
        # named by an older smacx's fingerprint (it changed once), which a user who upgraded
        # means to continue, so that is said as a UserWarning, even with a target.
        for path in others[:_RUNS_COMPARED]:
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
                ) as conn:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'scenario'").fetchone()
                differs = identity_difference(comparable_identity(json.loads(row[0])), given)
            except (sqlite3.Error, ValueError, TypeError, AttributeError):  # (not one of ours)
                continue
            if not differs:
                shown, same = path.parent, True
                what = (
                    f", among them {shown.name!r}, made with this scenario: pass "
                    f"Scenario(name={shown.name!r}) to read or continue it"
                )
                break
            if path == others[0]:
                what += (
                    f"; it differs from this scenario in {differs}: to read or continue it, "
                    "build the Scenario it was made with"
                )
        message = (
            f"Run {self.scenario.run_name!r} is new and empty: no run in {here.parent} has its "
            "name (an unnamed run's name is a fingerprint of the scenario's fields), though it "
            f"holds {len(others)} other run(s){what}; smacx show {shown} prints what it holds."
        )
        if same:  # (shown where no logging is set up)
            _warn(message)
        elif self.runner is None:
            logger.warning(message)
        else:
            logger.info(message)

    def _close_unbuilt(self) -> None:
        """End the session and close the storage of an object whose construction failed."""
        if self._end_session is not None:
            self._end_session()
        self.runhistory.close()

    # -- construction --------------------------------------------------------------------------

    def _make_runner(
        self, target_fn: TargetFunction | None, runner: AbstractRunner | None, dask_client: Any
    ) -> AbstractRunner | None:
        if runner is not None:
            if not isinstance(runner, AbstractRunner):
                raise ScenarioError(f"SMAC's runner must be an AbstractRunner; got {runner!r}.")
            if dask_client is not None:
                raise ScenarioError(
                    "SMAC got both runner= and dask_client=; a runner runs its own trials: pass "
                    "DaskParallelRunner(single_worker, dask_client=client) as the runner, or "
                    "target_fn with dask_client and no runner."
                )
            inner = getattr(runner, "single_worker", runner)
            if target_fn is not None and getattr(inner, "target_fn", target_fn) is not target_fn:
                raise ScenarioError(
                    f"SMAC got target_fn={target_fn!r:.100} and a runner that runs another "
                    "function; pass only the runner (it calls its own target)."
                )
            own = getattr(getattr(inner, "scenario", None), "configspace", None)
            if own is not None and not same_space(own, self.scenario.configspace):
                # The dask runner rebuilds configurations in its own space from their arrays:
                # another space would silently evaluate other points.
                raise ScenarioError(
                    "SMAC got a runner built on another scenario's configspace; build the "
                    "runner on this scenario, e.g. DaskParallelRunner(SerialRunner(f, "
                    "scenario)), or pass target_fn instead of runner."
                )
            theirs = getattr(inner, "scenario", None)
            if isinstance(theirs, Scenario):
                differ = [
                    f"{name}: the runner's {getattr(theirs, name)!r:.60}, "
                    f"SMAC's {getattr(self.scenario, name)!r:.60}"
                    for name in _RUNNER_FIELDS
                    if getattr(theirs, name) != getattr(self.scenario, name)
                ]
                if differ:
                    # The runner applies its own limits, objectives and crash costs to every
                    # trial, and checks the target's arguments against its own instances and
                    # budgets: a different scenario there is silently the one that counts.
                    raise ScenarioError(
                        "SMAC got a runner built on a scenario that differs from SMAC's in what "
                        f"the runner uses ({'; '.join(differ)}); build the runner on this "
                        "scenario, e.g. SerialRunner(f, scenario), or pass target_fn instead "
                        "of runner."
                    )
            return runner
        if target_fn is None:
            if dask_client is not None:
                raise ScenarioError("SMAC got a dask_client but no target_fn to run on it.")
            return None
        single = SerialRunner(target_fn, self.scenario)
        if dask_client is None:
            return single  # with n_workers > 1, __init__ puts a LocalCluster around it, last
        from smacx.runners.dask import DaskParallelRunner

        # Scenario(n_workers=k) with a client: k trials are kept submitted, so that an adaptive
        # cluster, whose scheduler starts workers only for the tasks it sees, grows to k.
        keep = self.scenario.n_workers if self.scenario.n_workers > 1 else 0
        try:
            runner = DaskParallelRunner(single, dask_client=dask_client, keep_submitted=keep)
        except SmacxError as err:  # (the user called SMAC, not DaskParallelRunner)
            message = str(err).replace(
                "DaskParallelRunner(dask_client=...)", "SMAC(dask_client=...)"
            )
            raise type(err)(message) from None
        threads = sum(dask_client.nthreads().values())
        if keep > threads:
            logger.info(
                "Scenario.n_workers=%d with a dask_client: %d trials are kept submitted; the "
                "client's cluster has %d worker thread(s) now (an adaptive one grows to the "
                "trials its scheduler sees).",
                keep,
                keep,
                threads,
            )
        return runner

    @property
    def where(self) -> str:
        """Where the run history is, in words: ``"output directory 'smacx_output/name'"``,
        ``"database postgresql://user:***@host/db (run 'name')"`` or ``"run in memory"``."""
        if self._storage_url is not None:
            return f"database {redact(self._storage_url)} (run {self.scenario.run_name!r})"
        if self.scenario.output_path is not None:
            return f"output directory {str(self.scenario.output_path)!r}"
        return "run in memory"

    @property
    def _run_key(self) -> tuple[str, ...] | None:
        """What names this object's stored run among others: its folder, or its database and
        name (None in memory)."""
        if self._storage_url is not None:
            return ("database", self._storage_url, self.scenario.run_name)
        path = self.scenario.output_path
        return None if path is None else ("folder", str(path))

    def _open_storage(self, overwrite: bool) -> Storage:
        """The run's storage, opened (after deleting the stored run, with ``overwrite``) and
        checked against the scenario; a stored run gets this object's session (see
        ``live_owners``). All of it under a lock on the run (its folder, or its name in the
        database): an ``overwrite=True`` of another process started at the same moment cannot
        delete the run between this one's opening it and registering its session (it went on
        into the deleted file, and its results were lost)."""
        if self._storage_url is not None:
            return self._open_database(overwrite)
        path = self.scenario.output_path
        with folder_lock(path):
            if path is not None and overwrite:
                self._refuse_overwrite_while_live(lambda: live_owners(path / DATABASE_NAME))
                try:
                    for suffix in ("", "-wal", "-shm"):
                        (path / (DATABASE_NAME + suffix)).unlink(missing_ok=True)
                except OSError as err:
                    raise StorageError(
                        f"overwrite=True cannot delete the run in {str(path)!r}: {err}. Check "
                        "that the folder is writable, or give this scenario another name or "
                        "output_directory."
                    ) from err
            storage = open_storage(None if path is None else path / DATABASE_NAME)
            self._check_identity(storage)
            if path is not None:
                self._register_session(storage)
        return storage

    def _open_database(self, overwrite: bool) -> Storage:
        """:meth:`_open_storage` for a run in a database server (``storage=URL``)."""
        from smacx.storage.postgres import PostgresStorage

        assert self._storage_url is not None
        storage = PostgresStorage(self._storage_url, self.scenario.run_name)
        try:
            with storage.exclusive():
                if overwrite:
                    self._refuse_overwrite_while_live(lambda: live_owners_of(storage))
                    storage.delete_run()
                self._check_identity(storage)
                self._register_session(storage)
        except BaseException:
            storage.close()
            raise
        return storage

    def _refuse_overwrite_while_live(self, live_owners: Callable[[], list[str]]) -> None:
        """Raise unless no other process works on the run that ``overwrite=True`` is about to
        delete; ``live_owners`` reads their owner ids (see :func:`live_owners_of`). This
        thread's idle SMAC objects on the run are closed first (see
        :func:`_close_idle_objects_on`)."""
        live = live_owners()
        if owner_id() in live:
            gc.collect()  # a SMAC object of this process left for the collector ends it
            live = live_owners()
        if set(live) == {owner_id()}:
            live = _close_idle_objects_on(self._run_key, live, live_owners)
        if live:
            # Their results would go on into the deleted run and be lost without a word.
            mine = " (this process: close() the SMAC object that has it open)"
            raise StorageError(
                f"overwrite=True would delete the run in {self.where} while other processes still "
                f"work on it ({', '.join(live)}; as host:pid:...)"
                f"{mine if owner_id() in live else ''}. Stop them first, or give this "
                "scenario another name"
                + (" or output_directory." if self._storage_url is None else ".")
            )

    def _register_session(self, storage: Storage) -> None:
        """Record this object's session in the stored run (see ``live_owners``)."""
        self._session = f"{owner_id()}#{uuid.uuid4().hex[:8]}"
        try:
            storage.append_meta(SESSIONS, json.dumps(self._session))
        except BaseException:
            storage.close()
            raise

    def _check_identity(self, storage: Storage) -> None:
        """Store the scenario's identity with a new run, or check it against a stored one;
        closes ``storage`` if it raises."""
        identity = self.scenario.identity()
        try:
            check_run_format(storage.get_meta("format"), self.where)
        except StorageError:
            storage.close()
            raise
        try:
            stored = json.loads(storage.set_meta_if_absent("scenario", json.dumps(identity)))
            if not isinstance(stored, dict):
                raise TypeError(f"a {type(stored).__name__}, not a dict")
        except (ValueError, TypeError) as err:
            storage.close()
            raise StorageError(
                f"cannot read the scenario stored with the run in {self.where}: it is damaged "
                f"({type(err).__name__}: {err}). Start the run afresh (overwrite=True), or give "
                "the scenario another name."
            ) from err
        stored = comparable_identity(stored)
        given = json.loads(json.dumps(identity))
        # The per-trial limits may change (raised after trials timed out, or added after one
        # hung): the trials that ended under the old ones keep their status.
        limits = {k: stored.get(k) for k in _TRIAL_LIMITS if stored.get(k) != given.get(k)}
        stored.update({k: given.get(k) for k in limits})
        if stored != given:
            storage.close()
            unknown = sorted(set(stored) - set(given))
            newer = (
                f" It stores fields this smacx does not know ({', '.join(unknown)}): a newer "
                "smacx may have written it; then upgrade smacx here rather than overwrite it."
                if unknown
                else ""
            )
            raise ScenarioMismatchError(
                f"{self.where} holds a run of a different scenario: "
                f"{identity_difference(stored, given)}. Only "
                f"{sorted(RESUMABLE_FIELDS - {'name', 'output_directory'})} may change when a "
                "run is continued. Pass overwrite=True to replace it (its trials are deleted), "
                "or give the scenario another name; to start that one from this run's results, "
                "tell() it the trials of `smacx show RUN --json --trials` (their values and "
                f"costs; docs/usage.rst, Continuing and warm-starting).{newer}"
            )
        storage.set_meta_if_absent("format", str(RUN_FORMAT))
        if limits:
            storage.set_meta("scenario", json.dumps(identity))
            logger.info(
                "Run %r continues with %s: trials that ended TIMEOUT or MEMORYOUT before keep "
                "their status.",
                self.scenario.run_name,
                ", ".join(f"{k}={given.get(k)} (was {old})" for k, old in limits.items()),
            )

    def _check_stored_settings(self, stored: str, settings: IntensifierSettings) -> None:
        """A run is continued with the intensifier it was started with (its state depends on
        it); ``stored`` is the ``repr`` of the settings it was started with. Only
        ``max_incumbents`` may change: reopened with more, a finished run of several
        objectives shows more of its Pareto front (it could not be read beyond the first 10)."""
        restored = _settings_from_repr(stored) if stored != repr(settings) else None
        if (
            restored is not None
            and type(restored) is type(settings)
            and dataclasses.is_dataclass(settings)
            and hasattr(settings, "max_incumbents")
            and repr(dataclasses.replace(restored, max_incumbents=settings.max_incumbents))
            == repr(settings)
        ):
            return
        if stored != repr(settings):
            raise ScenarioMismatchError(
                f"{self.where} holds a run made with "
                f"intensifier {stored}, not {settings!r}; continue it with the same "
                "intensifier (SMAC(..., intensifier=...)), or pass overwrite=True to start "
                "afresh."
            )

    # -- ask and tell --------------------------------------------------------------------------

    def ask(self) -> TrialInfo:
        """The next trial to run, recorded as running; never the same trial twice.

        Trials left running by a process that died (or given up by this one) are handed out
        again first. ``n_trials`` bounds :meth:`optimize`, not ``ask()``: with ask and tell,
        the loop decides when to stop (as in SMAC3). A trial asked and never told is given up
        by :meth:`close`.

        ``ask()``, :meth:`tell` and :meth:`close` may be called from several threads (say,
        those of a ``concurrent.futures`` executor that runs the trials): they take turns.

        Raises:
            SearchSpaceExhaustedError: Every configuration of a finite space has been tried.
                While trials still run, their results may call for more seeds or instances
                of one: the message then says to tell them and ask again.
            StorageError: This object was closed (see :meth:`close`).
        """
        with self._turn():
            self._check_open("ask()")
            self._record_preset()
            self._run_clock()  # started by the first of ask, tell and optimize
            try:
                info = self._ask(stale_only=False)
            except SearchSpaceExhaustedError as err:
                running = self.runhistory.n_running
                if running:
                    raise SearchSpaceExhaustedError(
                        f"{err} {running} trial(s) are still running: tell their results and "
                        "ask again, as they may call for more trials of the configurations "
                        "there are (further seeds or instances)."
                    ) from None
                raise
            assert info is not None
            self._asked.add(info)  # close() gives it up if it is never told
            return info

    def _check_open(self, method: str) -> None:
        if self._closed:
            raise StorageError(
                f"SMAC.{method} after close(): this SMAC's storage is closed. Build a new "
                "SMAC on the same scenario to continue the run."
            )

    def _ask(self, stale_only: bool, max_trials: int | None = None) -> TrialInfo | None:
        """:meth:`ask`; with ``stale_only``, only a trial left by a dead process, or None
        (then callbacks saw ``on_ask_start`` but get no ``on_ask_end``: no trial was asked).
        With ``max_trials``, also None when the history holds that many trials by the time a
        new one would be claimed (other processes sharing the run started them)."""
        t0 = time.perf_counter()
        for cb in self.callbacks:
            cb.on_ask_start(self)
        t0 += self._timed_callbacks(t0)
        self._retire_overdue()
        info = self.runhistory.take_over_stale()
        while info is not None:
            if not self._of_this_scenario(info):
                pass  # (recorded CRASHED, not run)
            elif self.runhistory.deaths(info) >= MAX_DEATHS:
                self._record_deadly(info)
            else:
                break
            info = self.runhistory.take_over_stale()
        if info is None and stale_only:
            self._own_time += time.perf_counter() - t0
            return None
        while info is None:
            candidate = self.intensifier.ask()
            try:
                key = self.runhistory.add_running(candidate, max_trials=max_trials)
            except TrialError:  # another process took it first
                continue
            if key is None:  # other processes sharing the run spent the rest of the budget
                self._own_time += time.perf_counter() - t0
                return None
            info = candidate
        t1 = time.perf_counter()
        try:
            for cb in self.callbacks:
                cb.on_ask_end(self, info)
        except BaseException:
            # Nobody holds the trial yet (an error or Ctrl-C in a callback): give it up, so
            # that a later ask() runs it rather than leaving it RUNNING for good.
            self.runhistory.release(info)
            raise
        self._own_time += t1 - t0
        self._timed_callbacks(t1)
        return info

    def _timed_callbacks(self, since: float) -> float:
        """Count the seconds since ``since`` (a ``perf_counter()``), spent in callbacks, as
        theirs rather than smacx's own (a monitoring callback writing to a slow disk showed
        as 50 ms of smacx per trial: a watching audit's finding); returns them."""
        spent = time.perf_counter() - since
        self._callback_time += spent
        return spent

    def _request_stop(self, reason: str) -> None:
        """Stop the running ``optimize()`` after this result (a callback asked), for
        ``reason``; the first reason stands."""
        if not self._stop_requested:
            self._stop_requested = True
            self._stop_reason = reason
            logger.info("Stopping: %s.", reason)

    def _of_this_scenario(self, info: TrialInfo) -> bool:
        """Whether a trial taken over from the run's storage is on an instance and budget of
        this scenario; one that is not is recorded CRASHED, never run. (A row written into
        a shared run's database with an instance `--delete-everything=/home` was run with
        it, then refused when told, and broke every later start of the run: a security
        audit's finding.)"""
        try:
            self._check_instance_and_budget(info)
        except TrialError as err:
            error = (
                f"not a trial of this run's scenario, so it was not run: "
                f"{str(err).removeprefix('tell: ')} The run's storage holds a trial that "
                "smacx did not ask for with this scenario (written by hand, or by another "
                "program)."
            )
            self.runhistory.add(info, self._not_run(info, error))
            return False
        return True

    def _not_run(self, info: TrialInfo, error: str) -> TrialValue:
        """A CRASHED result, now, for a trial that is recorded rather than run, for the reason
        ``error`` (also logged)."""
        logger.warning("Trial of %.200s: %s", dict(info.config), error)
        now = time.time()
        return TrialValue(
            cost=self.scenario.crash_value,
            time=math.nan,
            cpu_time=math.nan,
            status=StatusType.CRASHED,
            starttime=now,
            endtime=now,
            additional_info={"error": error},
        )

    def _record_deadly(self, info: TrialInfo) -> None:
        """Record as CRASHED a trial that ``MAX_DEATHS`` processes died running: without
        per-trial limits, a configuration whose target segfaults (or calls ``os._exit``, or
        draws the out-of-memory killer) killed the run, and every resumed run that took it
        over again."""
        deaths = self.runhistory.deaths(info)
        s = self.scenario
        limited = s.trial_walltime_limit is not None or s.trial_memory_limit is not None
        error = (
            f"{deaths} processes died while they ran this trial (a segfault or os._exit of the "
            "target, the out-of-memory killer, or kill -9): recorded CRASHED rather than run "
            "again. "
            + (
                "Its trials ran in processes of their own (per-trial limits), so the processes "
                "that ran the run died: was it killed (kill -9, SIGTERM, a batch system)?"
                if limited
                else "Set trial_walltime_limit or trial_memory_limit to run each trial in a "
                "process of its own, whose death is then the trial's alone."
            )
        )
        self._tell(info, self._not_run(info, error))

    def _retire_overdue(self) -> None:
        for info in self.intensifier.overdue(self.runhistory.now()):
            timeout = getattr(
                getattr(self.intensifier, "settings", None), "pending_config_timeout", "?"
            )
            logger.warning(
                "Retiring a trial of config %s: its samples were pending for more than %s s.",
                self.runhistory.get_config_id(info.config),
                timeout,
            )
            if self.runner is not None:
                self.runner.cancel(info)  # frees its worker if it hangs
            self.tell(
                info,
                TrialValue(
                    cost=self.scenario.crash_value,
                    status=StatusType.RETIRED,
                    starttime=time.time(),
                    endtime=time.time(),
                    additional_info={"error": f"pending for more than {timeout} s; retired"},
                ),
            )

    @method_keyword_hints(
        {
            "save": "smacx stores each result as it is told (in the run's database, with an "
            "output_directory or a storage), so it takes no save=; leave it out"
        }
    )
    def tell(self, info: TrialInfo, value: TrialValue) -> None:
        """Record the result of a trial; it is in storage when this returns.

        A result for a trial that already has one is dropped and the first result stands,
        with a warning: each time when this object was told it before (Optuna raises then);
        for a retired trial that came back late, or one another process finished, the first
        time, then at INFO. A SUCCESS with a NaN or infinite cost is recorded as
        CRASHED, as the runners record it; another status with a NaN or -inf cost at
        ``crash_cost``. Trials that were not asked (results from elsewhere, a warm start) are
        stored and train the model. They count towards the incumbent when the intensifier
        races on their instance (and seed, unless the scenario is deterministic: then any seed
        stands for all) and budget; otherwise, with racing (not with successive halving or
        Hyperband, whose brackets take the configurations they sample), their configuration
        is raced like any challenger, on the intensifier's own keys.

        Raises:
            TargetCrashedError: This is the crash of the first trial that :meth:`optimize`
                ran, and no trial of the run has worked yet (see ``raise_on_first_crash``); a
                crash told by the caller of ``ask()`` is recorded as it is.
            TrialError: ``info`` is not a TrialInfo of the scenario's configspace, names an
                instance the scenario does not have or a budget the intensifier does not run
                trials at (or none, in a scenario with budgets), or ``value`` is not a
                TrialValue.
            StorageError: This object was closed (see :meth:`close`).
        """
        with self._turn():
            self._tell(info, value)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Hold the object's lock for an :meth:`ask` or :meth:`tell`. A :meth:`close` that a
        callback or signal handler of the same thread called meanwhile closes the object as
        the outermost such call ends (inside :meth:`optimize`, as it ends)."""
        with self._lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if not self._depth and self._close_requested and self._optimizer is None:
                    self._close()

    def _tell(self, info: TrialInfo, value: TrialValue) -> None:
        """:meth:`tell`, with the object's lock held."""
        self._check_open("tell()")
        self._run_clock()
        t0 = time.perf_counter()
        if not isinstance(info, TrialInfo):
            raise TrialError(
                "tell: info must be the TrialInfo that ask() returned (or one built as "
                "TrialInfo(config, instance=..., seed=..., budget=...) for a result from "
                f"elsewhere); got {type(info).__name__} {info!r:.200}."
            )
        if not isinstance(value, TrialValue):
            example = "TrialValue(cost=..., status=StatusType.SUCCESS)"
            if is_real(value):
                example = f"TrialValue(cost={value!r})"
            raise TrialError(
                f"tell: value must be a smacx.TrialValue, e.g. {example}; got "
                f"{type(value).__name__} {value!r:.200}."
            )
        if not same_space(info.config.config_space, self.scenario.configspace):
            raise TrialError(
                "tell: info.config must be a configuration of the scenario's configspace; got "
                f"one of another space: {info.config!r:.300}. Build it with "
                "Configuration(scenario.configspace, values=...)."
            )
        info = self._check_instance_and_budget(info)
        for name in ("time", "cpu_time"):  # (NaN: not known, as for a trial's killed process)
            seconds = getattr(value, name)
            if seconds < 0 or seconds == math.inf:  # stats["target_time"] went negative or NaN
                raise TrialError(
                    f"tell: value.{name} must be a duration in seconds, >= 0 and finite (or "
                    f"NaN when not known); got {seconds!r}."
                )
        if value.status is StatusType.SUCCESS or value.costs() != [math.inf]:
            # (before a non-finite cost is replaced: [0.1, 0.2, nan] for two objectives was
            # recorded at crash_cost, its length never checked; a failure told without a cost
            # has TrialValue's one inf for all objectives)
            self.runhistory.check_result(info, value)
        if value.status is StatusType.SUCCESS and not all(map(math.isfinite, value.costs())):
            # as the runners record it: a NaN would poison every mean it enters
            value = dataclasses.replace(
                value,
                cost=self.scenario.crash_value,
                status=StatusType.CRASHED,
                additional_info={
                    **value.additional_info,
                    "error": f"a non-finite cost {value.costs()} came back as a SUCCESS",
                },
            )
        elif value.status is not StatusType.SUCCESS and (
            any(math.isnan(c) or c == -math.inf for c in value.costs())
            or value.costs() == [math.inf]
        ):
            # a failure at NaN or -inf would rank as no failure, or as the best there is; one
            # told without a cost (TrialValue's default, inf) has one cost for all objectives:
            # the runners record failures at crash_cost
            value = dataclasses.replace(value, cost=self.scenario.crash_value)
        ran_here = info in self._in_flight  # ran by optimize(), not told by the user
        if not ran_here and info not in self._asked and self._asked:
            info = self._asked_twin(info)
        # run in this session (by optimize(), or by the caller after ask()), not a result of
        # another time told as a warm start
        ran_now = ran_here or info in self._asked
        key_id = self.runhistory.get_config_id(info.config)
        if key_id is not None:
            key = TrialKey(key_id, info.instance, info.seed, info.budget)
            if key in self.runhistory and self.runhistory[key].status.finished:
                if key in self._told_keys and not ran_here:
                    stored = self.runhistory[key]
                    logger.warning(
                        "tell: trial %s was told already (%s, cost %s); this second result is "
                        "dropped and the first stands. To measure the configuration again, "
                        "tell it under another seed or instance.",
                        key,
                        stored.status.name,
                        stored.cost,
                    )
                elif not ran_here:  # retired, or another process took it over and finished
                    # (once per object, then at INFO: a script that tells its warm-start
                    # results again at every resume would get one warning per result)
                    stored = self.runhistory[key]
                    log = logger.info if self._warned_late else logger.warning
                    self._warned_late = True
                    log(
                        "tell: trial %s has a result already (%s, cost %s%s); the result "
                        "told now is dropped and the first stands.%s",
                        key,
                        stored.status.name,
                        stored.cost,
                        ", given up after pending_config_timeout"
                        if stored.status is StatusType.RETIRED
                        else "",
                        "" if log is logger.info else " (Further such results: at INFO.)",
                    )
                else:  # (a trial another process took over and finished first)
                    logger.info(
                        "Dropping a late result for trial %s: it was recorded already.", key
                    )
                self._in_flight.discard(info)
                self._asked.discard(info)
                return
        self.runhistory.check_result(info, value)  # before the callbacks hear of it
        t1 = time.perf_counter()
        # An on_tell_start that fails is raised once the result is recorded and the other
        # hooks had it: the result was lost otherwise, unless close() was called (a stopping
        # audit's finding), and a tracker's on_tell_end then missed a result the run holds.
        hook_error: Exception | None = None
        for cb in self.callbacks:
            try:
                if _says_stop(cb.on_tell_start(self, info, value)):
                    self._request_stop(f"the on_tell_start of callback {cb!r} returned False")
            except Exception as err:
                hook_error = hook_error or err
        t0 += self._timed_callbacks(t1)
        # This process's first result from optimize(), while no trial of the run (of any
        # process sharing it, or of an earlier session) has worked: a crash then is most
        # likely a bug in the target, not this configuration.
        first = (
            ran_here
            and not self._ran_told
            and value.status is StatusType.CRASHED
            # A NaN (a training run that diverged) is a result of the configuration, not a
            # bug: a 1e-5 to 1 learning rate gives one at budget 1 in a fifth of the first
            # trials (a multi-fidelity audit's finding: the run ended after one trial).
            # (so is a command's measurement of nan: smacx run ended at a diverged first trial)
            and not diverged(str(value.additional_info.get("error", "")))
        )
        self.runhistory.add(info, value)
        # (after add(), which read what the processes sharing the run stored meanwhile)
        first = first and not any(v.status in _RAN for _, v in self.runhistory.finished())
        # Only now: a result the history refused (say, one cost for two objectives) leaves the
        # trial asked, to be told again or given up by close().
        self._in_flight.discard(info)
        self._asked.discard(info)
        self._told_here += 1
        if value.status is not StatusType.RETIRED:  # (a retired trial's late result is late)
            self._told_keys.add(self.runhistory.key_of(info))
        self._ran_told += int(ran_here)
        if ran_now and not math.isnan(value.time):  # (NaN: a time the caller did not know)
            # (a warm start's 20 results of 600 s each made summary() say 12,000 s in the
            # target for a run of a second; an audit)
            self._target_time += value.time
        # Times of trials that ran: not of retired ones (0) nor of crashes (often instant, or
        # a dead worker's whole wait).
        if value.status in _RAN and math.isfinite(value.time) and value.time >= 0.0:
            self._durations.append(value.time)
        self._target_cpu_time += value.cpu_time if math.isfinite(value.cpu_time) else 0.0
        self._update_incumbent()
        t1 = time.perf_counter()
        try:
            for cb in self.callbacks:
                if _says_stop(cb.on_tell_end(self, info, value)):
                    self._request_stop(f"the on_tell_end of callback {cb!r} returned False")
        finally:
            self._own_time += t1 - t0
            self._timed_callbacks(t1)
        if hook_error is not None:
            raise hook_error
        # Only for trials optimize() ran: a user of ask() and tell() reports failures on purpose.
        if first and self.raise_on_first_crash:
            details = (
                value.additional_info.get("traceback")
                or value.additional_info.get("error")
                or "(the runner gave no details)"
            )
            crashed = TargetCrashedError(
                f"the first trial this process ran crashed, and no trial of the run has worked "
                f"yet, which usually means a bug in the target function rather than a bad "
                f"configuration:\n{details}\n"
                "The crash is recorded in the run's history: once the target is fixed, "
                "SMAC(..., overwrite=True) starts the run afresh (resuming keeps the crash "
                "and counts it towards n_trials). Pass raise_on_first_crash=False to SMAC to "
                "record such crashes and go on."
            )
            error = value.additional_info.get("error")
            crashed.error = None if error is None else str(error)
            raise crashed

    def _asked_twin(self, info: TrialInfo) -> TrialInfo:
        """The trial :meth:`ask` handed out that a told ``info`` stands for: the asked one of
        its configuration, instance and budget when ``info`` has no seed (an Optuna user
        rebuilds the trial as ``TrialInfo(config, budget=...)``); ``info`` itself otherwise,
        with a warning (once per object) when a trial of its configuration is still asked
        and not told: a race or a bracket waits for that trial, which stays running.

        Without this, a noisy run told 30 results that way finished 30 trials, left 30
        running and never had an incumbent.
        """
        twins = [a for a in self._asked if a.config == info.config]
        if info.seed is None:
            same = [a for a in twins if (a.instance, a.budget) == (info.instance, info.budget)]
            if len(same) == 1:
                logger.debug("tell: %s told without a seed stands for asked %s.", info, same[0])
                return same[0]
        if twins and not self._warned_twin:
            self._warned_twin = True
            asked = twins[0]
            _warn(
                f"tell: the trial told (instance {info.instance!r}, seed {info.seed!r}, budget "
                f"{info.budget!r}) is not the one ask() handed out for its configuration "
                f"(instance {asked.instance!r}, seed {asked.seed!r}, budget {asked.budget!r}). "
                "Both are stored; the asked trial stays running until it is told, and the "
                "intensifier waits for it. Tell the TrialInfo that ask() returned. (This "
                "warning is given once.)"
            )
        return info

    def _check_instance_and_budget(self, info: TrialInfo) -> TrialInfo:
        """Refuse a told trial on an instance or budget the run does not use: stored, it
        would count as finished for good but never reach the incumbent (a misspelled
        instance, a budget from another experiment or of another ``eta``). Returns ``info``
        with its budget set to the intensifier's own float when it differs by rounding."""
        scenario = self.scenario
        instances = scenario.instances or ()
        if info.instance is not None and info.instance not in self._instance_set:
            expected = (
                f"one of the scenario's instances {list(instances)!r:.300}"
                if instances
                else "None (the scenario has no instances)"
            )
            raise TrialError(
                f"tell: info.instance must be {expected}; got {info.instance!r}. Check its "
                "name for a typo: results on other instances never count for the incumbent."
            )
        if info.instance is None and instances:
            raise TrialError(
                "tell: info.instance must be one of the scenario's instances "
                f"{list(instances)!r:.300}; got None."
            )
        low, high = scenario.min_budget, scenario.max_budget
        if low is None or high is None:
            if info.budget is None:
                return info
            raise TrialError(
                "tell: info.budget must be None (the scenario has no min_budget and max_budget); "
                f"got {info.budget!r}."
            )
        slack = 1e-9 * max(abs(low), abs(high))  # budgets computed by division
        budgets = getattr(self.intensifier, "budgets", None)
        if budgets is None:  # an intensifier that does not say: the scenario's range
            if info.budget is None or low - slack <= info.budget <= high + slack:
                return info
            expected = f"between the scenario's min_budget {low:g} and max_budget {high:g}"
        else:
            near = [b for b in budgets if info.budget is not None and abs(info.budget - b) <= slack]
            if near:
                return dataclasses.replace(info, budget=near[0])
            shown = ", ".join(f"{b:.15g}" for b in budgets)  # (3.33333 was refused)
            expected = f"one of the budgets the intensifier runs trials at ({shown})"
        raise TrialError(
            f"tell: info.budget must be {expected}; got {info.budget!r}. A result at another "
            "budget would never count for the incumbent."
        )

    def _update_incumbent(self) -> None:
        """Store a trajectory entry when the incumbent or its cost changed."""
        incumbents = self.intensifier.incumbents()
        if not incumbents:
            return
        config_id = self.runhistory.get_config_id(incumbents[0])
        costs = self._incumbent_costs()
        # With budgets, the budget the cost is at: the incumbent is taken at the highest
        # budget any configuration succeeded at, so its cost may rise as that budget does.
        keys = self._incumbent_keys()
        budgets = [k.budget for k in keys or [] if k.budget is not None]
        at = {"budget": float(max(budgets))} if budgets else {}
        front: dict[str, Any] = {}
        if len(self.scenario.objectives) > 1:
            # A configuration that joins or leaves the front changes it, as a new best does.
            front = {
                "config_ids": [self.runhistory.get_config_id(c) for c in incumbents],
                "costs": self._front_costs(incumbents),
            }
            if keys is not None:
                # The front is compared on the keys all its members have, which may be fewer
                # than the first member ran: what its costs are over (`smacx show` counted
                # every finished trial, "over 5 trials" for a cost over 4).
                values = [self.runhistory[k] for k in keys]
                front["compared"] = {
                    "n_trials": len(keys),
                    "n_failed": sum(not finite_costs(v.costs()) for v in values),
                    "n_instances": len({k.instance for k in keys} - {None}),
                }
        state = (
            (config_id, costs, at)
            if not front
            else (front["config_ids"], front["costs"], at, front.get("compared"))
        )
        if self._last_incumbent == state:
            return
        self._last_incumbent = state
        last = self.runhistory.trajectory()[-1:]
        if last and all(
            last[0].get(key) == value
            for key, value in {"config_id": config_id, "cost": costs, **at, **front}.items()
            if key != "budget" or key in last[0]  # (a run stored before budgets were)
        ):
            return  # a continued run: the stored trajectory already ends here
        entry = {
            "config_id": config_id,
            "cost": costs,
            **at,
            **front,
            "n_finished": self.runhistory.n_finished,
            "walltime": self._run_clock(),
        }
        if not self.runhistory.add_incumbent(entry):
            # Another process sharing the run stored a change seen after more trials than
            # this process has read: this one's view is older. Try again at the next result.
            self._last_incumbent = (None, [])
            return
        logger.debug("Incumbent: config %s with cost %s.", config_id, costs)

    def _finished_for_the_bar(self) -> int:
        """The finished trials the progress bar shows: the run's, those of other processes
        sharing it included (``n_trials`` counts them all; counting this process's own, the
        bar of one of two processes stopped at half), up to ``n_trials``."""
        return int(min(self.runhistory.n_finished, _trial_limit(self.scenario)))

    def _run_clock(self) -> float:
        """Seconds since the run started: at the first ``ask()``, ``tell()`` or ``optimize()``
        of any process on it. The start is stored with the run, so a continued run counts on
        (the time in between included). A run stored before the start was kept starts at its
        earliest trial."""
        if math.isnan(self._run_start):
            storage = self.runhistory.storage
            stored = storage.get_meta("started_at")
            if stored is None:
                starts = [v.starttime for _, v in self.runhistory.finished() if v.starttime > 0]
                stored = storage.set_meta_if_absent(
                    "started_at", repr(min(starts, default=self.runhistory.now()))
                )
            try:
                self._run_start = float(stored)
            except ValueError:  # a damaged record: counts from now
                self._run_start = self.runhistory.now()
        # (on the storage's clock: processes on machines whose clocks differ count alike)
        return self.runhistory.now() - self._run_start

    # -- optimize ------------------------------------------------------------------------------

    def _incumbent_costs(self) -> list[float]:
        """The incumbent's cost as its intensifier compared it (its keys, budget and
        aggregate); the history's mean at its highest budget for intensifiers that do not
        say. Empty without an incumbent."""
        costs = getattr(self.intensifier, "incumbent_costs", None)
        if costs is not None:
            return list(costs())
        incumbent = self.incumbent
        return [] if incumbent is None else self.runhistory.get_costs(incumbent)

    def _incumbent_keys(self) -> list[TrialKey] | None:
        """The finished trials the incumbent's cost comes from, as its intensifier says; None
        for an intensifier that does not say."""
        keys = getattr(self.intensifier, "incumbent_keys", None)
        return None if keys is None else list(keys())

    def _at_top_fidelity(self) -> bool:
        """Whether the incumbent's cost comes from trials at the scenario's ``max_budget`` or,
        with an intensifier that races instances, from trials on all of them."""
        trial_keys = self._incumbent_keys() or []
        if getattr(self.intensifier, "races_keys", False):
            return len(trial_keys) >= len(getattr(self.intensifier, "keys", ()))
        top = self.scenario.max_budget
        if top is None:
            return True
        budgets = [key.budget for key in trial_keys]
        return bool(budgets) and all(b is not None and b >= top * (1 - 1e-9) for b in budgets)

    def _front_costs(self, incumbents: list[Configuration]) -> list[list[float]]:
        """Every incumbent's cost, as :meth:`_incumbent_costs` gives the best one's."""
        costs = getattr(self.intensifier, "incumbents_costs", None)
        if costs is not None:
            return [list(c) for c in costs()]
        return [self.runhistory.get_costs(c) for c in incumbents]

    @property
    def trajectory(self) -> list[dict[str, Any]]:
        """Every change of incumbent (config id, cost, finished trials, wall time), as stored;
        after :meth:`close`, as it was then. With budgets, also the ``budget`` its cost is at:
        the incumbent is taken at the highest budget a configuration has succeeded at, so the
        cost may rise when that budget does. With several objectives, every change of the
        Pareto front, whose members are in ``config_ids`` and their costs in ``costs``."""
        if self._closed:
            if self._final_trajectory is None:
                raise StorageError(
                    "SMAC.trajectory after close(): it could not be read when the storage "
                    "closed (see the warning logged then). Build a new SMAC on the same "
                    "scenario to read the stored run."
                )
            return copy.deepcopy(self._final_trajectory)
        return self.runhistory.trajectory()

    @property
    def incumbent(self) -> Configuration | None:
        """The best configuration so far (the first of :attr:`incumbents`), or None."""
        incumbents = self.intensifier.incumbents()
        return incumbents[0] if incumbents else None

    @property
    def incumbents(self) -> list[Configuration]:
        """The best configurations, best first.

        With one objective, up to the intensifier's ``max_incumbents``. With several, the
        Pareto front, of which at most ``max_incumbents`` that spread along it
        (``Intensifier(max_incumbents=...)`` keeps more).
        """
        return self.intensifier.incumbents()

    @property
    def incumbent_cost(self) -> float | None:
        """The incumbent's cost as the intensifier compared it (Optuna's ``best_value``): the
        aggregate, by default the mean, over the instances and seeds it ran on and did not
        fail, at its highest budget; None without an incumbent.

        Raises:
            ScenarioError: The scenario has several objectives, so there is no one cost; read
                :attr:`incumbent_costs`, or :attr:`incumbents_costs` for the front's.
        """
        if self.scenario.n_objectives > 1:
            raise ScenarioError(
                f"SMAC.incumbent_cost: the scenario has {self.scenario.n_objectives} "
                f"objectives {list(self.scenario.objectives)}, so the incumbent has no one "
                "cost. Read smac.incumbent_costs (one per objective) instead."
            )
        costs = self._incumbent_costs()
        return costs[0] if costs else None

    @property
    def incumbent_costs(self) -> list[float]:
        """The incumbent's cost per objective, as :attr:`incumbent_cost` gives it for one
        objective; empty without an incumbent.

        With several objectives and instances or seeds, the front is compared on the
        instance-seed pairs all its members have: a member that ran one more pair is compared,
        and its costs given, without it until the others have run it too, so they may differ
        from ``runhistory.get_costs(config)`` (the mean over all its trials).
        """
        return self._incumbent_costs()

    @property
    def incumbents_costs(self) -> list[list[float]]:
        """The cost per objective of each of :attr:`incumbents` (Optuna's ``values`` of
        ``best_trials``), in their order, as :attr:`incumbent_costs` gives the first's."""
        incumbents = self.intensifier.incumbents()
        return self._front_costs(incumbents) if incumbents else []

    def _trials_done(self) -> bool:
        """Whether ``n_trials`` trials are finished or running in live processes."""
        h = self.runhistory
        return h.n_submitted - h.n_stale() >= _trial_limit(self.scenario)

    def _spent_record(self) -> Spent:
        """The record of the time this object's ``optimize()`` calls spend (made once)."""
        if self._spent is None:
            self._spent = Spent(
                self.runhistory.storage,
                self._session or "in memory",
                # (the runner at each reading: optimize() may put a cluster around it;
                # weakly, lest the object and its database outlive its last reference)
                functools.partial(_cpu_with_runner, weakref.ref(self)),
                # (in memory nobody else reads it; an extra thread makes Python 3.12 warn of
                # every fork, as a limited trial's)
                beat=self._session is not None,
            )
        return self._spent

    def _nothing_to_run(self) -> bool:
        """Whether ``n_trials`` trials are finished or running in live processes, the run's
        ``optimize()`` calls spent its ``walltime_limit`` or ``cputime_limit``, or its
        incumbent meets ``termination_cost_threshold``: then no cluster is started for it
        (one was, 8 s for a run that then ran nothing: a stopping audit's finding)."""
        if self._trials_done() or self._threshold_met() is not None:
            return True
        s = self.scenario
        if not (math.isfinite(s.walltime_limit) or math.isfinite(s.cputime_limit)):
            return False
        return bool(self._spent_limits(*self._spent_record().so_far()))

    def _spent_limits(self, wall: float, cpu: float) -> list[str]:
        """Of ``walltime_limit`` and ``cputime_limit``, those that ``wall`` and ``cpu``
        seconds spend, each as ``name=limit s (took s spent)``."""
        s = self.scenario
        return [
            f"{name}={limit:g} s ({took:.1f} s spent)"
            for name, limit, took in (
                ("walltime_limit", s.walltime_limit, wall),
                ("cputime_limit", s.cputime_limit, cpu),
            )
            if math.isfinite(limit) and took >= limit
        ]

    def _use_cluster(self) -> None:
        """Put the LocalCluster of ``n_workers`` worker processes around the serial runner,
        if the scenario asks for one and it is not there yet."""
        if self._wants_cluster and isinstance(self.runner, SerialRunner):
            from smacx.runners.dask import DaskParallelRunner

            self.runner = DaskParallelRunner(self.runner, tls=self._dask_tls)  # starts it

    def _budget_left(self) -> bool:
        """Whether another trial may start."""
        s = self.scenario
        h = self.runhistory
        submitted = h.n_submitted
        limit = _trial_limit(s)
        if submitted >= limit and h.n_running:
            # Trials left running by a process that died are run again within the budget.
            submitted -= h.n_stale()
        if self._stop_requested or submitted >= limit:
            return False
        reason = None
        spent = self._spent
        assert spent is not None  # (set by optimize())
        spent.note()
        if math.isfinite(s.walltime_limit) and (
            spent.wall() + max(self._durations, default=0.0) >= s.walltime_limit
        ):
            # Near the limit: another process's record may be as old as the trial it was in
            # when this call started (a worker that joined 4 s into another's 5 s trial ran
            # a trial past walltime_limit=8), so it is read again.
            spent.reread()
        if spent.wall() >= s.walltime_limit:
            reason = f"walltime_limit of {s.walltime_limit:g} s reached"
        # (process_time sums over all threads: slow with many dask threads in this process)
        elif math.isfinite(s.cputime_limit) and spent.cpu() >= s.cputime_limit:
            reason = f"cputime_limit of {s.cputime_limit:g} s reached"
        else:
            met = self._threshold_met()
            if met is not None:
                reason = f"the incumbent's cost {met} reached the threshold"
        if reason is None:
            return True
        if reason != self._stop_reason:  # once, not on every turn while running trials drain
            logger.info("Stopping: %s.", reason)
            self._stop_reason = reason
        return False

    @method_keyword_hints(_NOT_OPTIMIZES)
    def optimize(self, *, data_to_scatter: Mapping[str, Any] | None = None) -> Configuration | None:
        """Run trials until the scenario's budget is spent, and return the incumbent.

        The incumbent is one configuration, with several objectives too (a member of the
        Pareto front, as :attr:`incumbent` gives it; SMAC3 returns a list then):
        :attr:`incumbents` lists the front.

        Args:
            data_to_scatter: Keyword arguments passed to every target call (a parallel runner
                sends them to each worker once).

        Raises:
            KeyboardInterrupt: Re-raised after the history is saved (it always is); the
                interrupted trial runs again at the next :meth:`optimize`. A SIGTERM, in the
                main thread of a process that leaves it to its default action, stops the run
                alike, then ends the process as SIGTERM does.

        A finite space whose every configuration (on every instance and seed the intensifier
        asks for) has been tried ends the run before ``n_trials`` with a warning that says so;
        :meth:`ask` raises :class:`~smacx.SearchSpaceExhaustedError` then. Trials handed out
        by :meth:`ask` and not told count towards ``n_trials``, but are not run here: tell
        their results, or :meth:`close` to give them up.

        :meth:`close`, called from another thread (or by a callback or signal handler), stops
        the run: ``optimize()`` gives up the trials still running (a serial runner's trial
        under way ends first), closes the object and returns the incumbent.
        """
        with self._lock:
            if self._optimizer is not None:
                raise ConcurrencyError(
                    "SMAC.optimize() was called while this object's optimize() runs in thread "
                    f"{self._optimizer.name!r}; one call at a time (a callback of the run "
                    "stops it by returning False from on_tell_end). To work on one run from "
                    "several threads, build a SMAC object in each on the same Scenario (with "
                    "an output_directory), or use ask() and tell()."
                )
            try:
                self._optimizer = threading.current_thread()
                self._optimize_over.clear()
                # Checked once this thread is the optimizer: a signal handler's close() that
                # came earlier closed the object, and this says so; one from here on waits
                # for the run (between the check and the record, it closed the storage under
                # the run, which then reported the database as damaged).
                self._check_open("optimize()")
            except BaseException:
                self._optimizer = None
                self._optimize_over.set()
                raise
        with sigterm_stops_the_run(), sigint_noted():
            try:
                incumbent = self._optimize(data_to_scatter)
            finally:
                with self._lock:
                    self._optimizer = None
                    try:
                        if self._close_requested:
                            self._close()
                    finally:
                        self._optimize_over.set()
        # (closing told the results that came in meanwhile)
        return self.incumbent if self._closed else incumbent

    def _optimize(self, data_to_scatter: Mapping[str, Any] | None) -> Configuration | None:
        """:meth:`optimize`, with this thread recorded as the optimizer."""
        if self.runner is None:
            raise ScenarioError(
                "SMAC.optimize needs a target_fn (or a runner); without one, run trials "
                "yourself with ask() and tell()."
            )
        data = self._checked_data(data_to_scatter, "optimize")
        warned_elsewhere = False
        if self.runhistory.n_finished >= _trial_limit(self.scenario) and not self._told_here:
            # e.g. a script run again after its target changed, on the same default run_name
            message = (
                f"run {self.scenario.run_name!r} has finished its n_trials="
                f"{self.scenario.n_trials} trials already: optimize() runs none and returns "
                f"the stored incumbent, if any. Raise n_trials to go on, or start the run "
                f"afresh with SMAC(..., overwrite=True) or another Scenario(name=...)."
            )
            _warn(message)
        elif self.runhistory.n_finished >= _trial_limit(self.scenario):
            # (a second optimize() of one object: Optuna's runs n_trials more each time)
            _warn(
                f"optimize(): run {self.scenario.run_name!r} has finished its n_trials="
                f"{self.scenario.n_trials} trials, so this call runs none and returns the "
                "incumbent. n_trials counts every trial of the run, not of one call: to run "
                "more, build SMAC again with dataclasses.replace(scenario, n_trials=...), "
                "which continues the run."
            )
        elif self._trials_done() and not self._told_here and not self._silent_leases():
            # (a silent lease is waited for, and its trial run: see _wait_for_a_silent_lease)
            warned_elsewhere = self._warn_of_trials_elsewhere()
        if self._asked:
            _warn(
                f"optimize(): {len(self._asked)} trial(s) handed out by ask() are not told "
                f"yet. optimize() does not run them, and they count towards n_trials="
                f"{self.scenario.n_trials} until they are told (tell(info, value)) or given "
                "up (close())."
            )
        if not self._nothing_to_run():
            self._use_cluster()
        self._scattered = data  # validate() passes the same data
        self._reclaim_in_flight()
        self._run_clock()
        self._stop_requested = False
        self._stop_reason = None
        self._ended_by = None
        bar: Any = NoBar()
        if self.progress and sys.stderr is not None:
            # (not built when off, and given a lock of threads: tqdm's own lock is a
            # multiprocessing one, whose creation fixes the process's start method for good,
            # so that a later set_start_method("spawn") raised)
            from tqdm.auto import tqdm

            class _Tqdm(tqdm):  # type: ignore[misc]
                pass

            _Tqdm.set_lock(PROGRESS_LOCK)  # (one for all runs of the process)
            bar = Bar(
                _Tqdm(
                    total=self.scenario.n_trials,  # (None: a count without a bar)
                    initial=min(self.runhistory.n_finished, _trial_limit(self.scenario)),
                    unit="trial",
                    desc="smacx",
                )
            )
        begun: list[Callback] = []
        try:
            for cb in self.callbacks:
                cb.on_start(self)
                begun.append(cb)
            self._spent_record().start()
            self._warn_if_time_spent()
            if isinstance(self.runner, SerialRunner) and self.runner.memory_limit is not None:
                # Before the first trial (under -W error it raises here, with no trial left
                # RUNNING); the runner's own check, per process, then finds it said.
                warn_of_inherited_memory(self.runner.memory_limit, on_a_worker=False)
        except BaseException as err:
            bar.close()  # (and the logger's filter with it)
            self._ended_by = _ended_by(err)
            if self._spent is not None and self._spent.running():
                # (a warning raised under -W error left the record's thread writing, and
                # the idle time after the call counted towards walltime_limit: a review)
                self._spent.stop()
            # (those whose on_start ran get their on_end: a tracker opened there stayed open)
            self._end_callbacks(begun)
            raise
        parallel = not isinstance(self.runner, SerialRunner)  # other threads wait on this one
        frozen = False
        idle_since: float | None = None  # (see _no_workers_yet)
        try:
            if parallel:
                freeze_heap()
                frozen = True
            while True:
                stalled = False  # nothing to ask for until a result comes back
                while (
                    not stalled
                    and not self._close_requested
                    and self._budget_left()
                    and (free := self._free_workers()) > 0
                ):
                    # Fill every free worker before telling what finished meanwhile: no worker
                    # waits for those tells, and the proposals of one burst share one search.
                    for i in range(int(free)):
                        if i and (
                            self._close_requested
                            or not self._budget_left()
                            or self._free_workers() <= 0
                        ):
                            break
                        # Past n_trials the budget is open only for trials of dead processes:
                        # another process may have claimed them first.
                        spent = self.runhistory.n_submitted >= _trial_limit(self.scenario)
                        try:
                            with self._lock:
                                next_info = self._ask(
                                    stale_only=spent, max_trials=self.scenario.n_trials
                                )
                        except SearchSpaceExhaustedError as err:
                            if not self.runner.is_running():
                                # Every trial the space allows has run: that is the result,
                                # as with a grid that is done.
                                why = f"Stopping before n_trials: {err}{self._repeats_hint()}"
                                _warn(why)
                                self._stop_requested = True
                                self._stop_reason = "the search space is exhausted"
                            # Else no new configuration now; the running trials' results may
                            # call for more trials of the ones there are (seeds, instances).
                            next_info = None
                        if next_info is None:
                            stalled = True
                            break
                        try:
                            self.runner.submit_trial(next_info, **data)
                        except BaseException:
                            # The runner does not hold the trial (a serial target interrupted
                            # by Ctrl-C, data dask cannot send): let a later ask() run it again.
                            self.runhistory.release(next_info)
                            raise
                        self._in_flight.add(next_info)
                    told = self._collect()
                    bar.show(self._finished_for_the_bar())
                    if frozen:
                        collect_now_and_then(told)
                if self._close_requested:
                    # by close(): the trials still running are given up as it closes
                    logger.info("Stopping: close() was called.")
                    break
                done = self.runhistory.n_finished >= _trial_limit(self.scenario)
                left = self._budget_left()
                # Trials of this process still run until their results are told, even when
                # other processes sharing the run have finished n_trials meanwhile; a retired
                # trial (told) may still run in the runner: its close() stops it.
                if not left and (not self.runner.is_running() or (done and not self._in_flight)):
                    pause = self._wait_for_a_silent_lease()
                    if pause is None:
                        break
                    # (then the trial, if its lease ran out, is taken over; close() ends it)
                    deadline = time.monotonic() + pause
                    while not self._close_requested and time.monotonic() < deadline:
                        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                    continue
                if left and self.runner.is_running():
                    # Every worker is busy: search ahead for the results to come.
                    started = time.perf_counter()
                    with self._lock:
                        self.selector.prepare(self.runhistory)
                    self._own_time += time.perf_counter() - started
                # Wait for a result, or (nothing running, no free worker) for a worker to join;
                # wake up in time to retire overdue trials.
                idle_since = self._no_workers_yet(idle_since)
                self.runner.wait(timeout=self._poll_interval())
                with self._lock:
                    self._retire_overdue()
                told = self._collect()
                bar.show(self._finished_for_the_bar())
                if frozen:
                    collect_now_and_then(told)
        except BaseException as err:
            self._ended_by = _ended_by(err)
            if isinstance(err, KeyboardInterrupt):
                logger.warning(
                    "Interrupted: %d finished trial(s) are saved.", self.runhistory.n_finished
                )
            # Trials still running are given up, so that another SMAC on this history (in this
            # process too, as when a notebook cell runs again) runs them; the next optimize()
            # of this one takes back those nobody else has taken.
            for info in list(self._in_flight):
                try:
                    self.runhistory.release(info)
                except Exception as release_error:  # e.g. the storage failed: keep `err`
                    logger.warning("Could not release trial %s: %s", info, release_error)
            raise
        finally:
            if self._ended_by is None:
                self._ended_by = self._why_ended()
            try:
                self._spent_record().stop()
                if frozen:
                    thaw_heap()
            finally:
                bar.close()  # (and the logger's filter with it), whatever the steps above raise
            callback_error = self._end_callbacks()
            logger.info("%s", self.summary(), extra={COSTS_LOGGED: tuple(self._incumbent_costs())})
        if callback_error is not None:
            self._ended_by = _ended_by(callback_error)
            raise callback_error
        self._warn_if_nothing_worked()
        if not (
            warned_elsewhere or self._stop_reason or self._stop_requested or self._close_requested
        ):
            self._warn_of_trials_elsewhere(ending=True)
        return self.incumbent

    def _warn_if_target_changed(self, target_fn: TargetFunction | None) -> None:
        """Record the target function's source code with the run, and warn when a run
        continued with finished trials has a target whose source differs: its stored results
        came from the old code (as after a bug was fixed and the script run again)."""
        fingerprint = _source_fingerprint(target_fn)
        if fingerprint is None:
            return
        storage = self.runhistory.storage
        stored = storage.set_meta_if_absent("target", fingerprint)
        if stored == fingerprint:
            return
        try:
            before, now = json.loads(stored)["name"], json.loads(fingerprint)["name"]
        except (ValueError, KeyError, TypeError):  # (a record this code did not write)
            return
        run = self.scenario.run_name
        if before != now and self.scenario.name is None:
            # A run named by the scenario's fields alone is the run of every target given that
            # scenario: a sweep over models (one after another, or in threads at once) mixed
            # their costs in one run, each warned of only once it had results (an audit).
            raise ScenarioMismatchError(
                f"run {run!r} (named by the scenario's fields, as Scenario(name=...) was not "
                f"given) is a run of the target function {before!r}; this SMAC's target is "
                f"{now!r}. Give each target a run of its own, Scenario(..., name={now!r}); "
                f"to go on with this run under the renamed target, pass Scenario(..., "
                f"name={run!r}); or start it afresh with SMAC(..., overwrite=True)."
            )
        storage.set_meta("target", fingerprint)  # (warned once)
        if not self.runhistory.n_finished:
            return  # (no result of the old code to speak of)
        changed = (
            f"the target function's code changed since run {run!r} last ran it"
            if before == now
            else f"the target function is {now!r}, where run {run!r} last ran {before!r}"
        )
        _warn(
            f"{changed}: its {self.runhistory.n_finished} finished trial(s) came from the old "
            "code, and the run continues on them. If the change alters the costs (a bug "
            "fixed, or another target), start the run afresh with SMAC(..., overwrite=True) "
            "or another Scenario(name=...)."
        )

    def _warn_if_a_seedless_target_repeats(self) -> None:
        """Say so when a target that takes no seed is raced on several seeds: a scenario that
        is not deterministic (the default) runs promising configurations again. An Optuna
        objective ported as it is spent a third of its trials on exact repeats."""
        inner = getattr(self.runner, "single_worker", self.runner)
        arguments = getattr(inner, "arguments", None)
        keys = getattr(self.intensifier, "keys", [])  # the (instance, seed) pairs raced on
        if (
            self.scenario.deterministic
            or arguments is None
            or "seed" in arguments
            or len(keys) <= len({instance for instance, _ in keys})
        ):
            return
        _warn(
            "the target takes no seed, and the scenario is not deterministic (deterministic="
            "False, the default): smacx runs promising configurations again, on other seeds, "
            "to average a noisy cost. If the target returns the same cost for the same "
            "configuration, pass Scenario(..., deterministic=True) to run each configuration "
            "once; if it is noisy, give it a seed argument to make its runs reproducible."
        )

    def _record_preset(self) -> None:
        """Record this object's preset with the run, once, and warn when a run continued with
        finished trials last ran with another one: comparing presets on one scenario continues
        the first preset's run instead of starting a run of the second. Each change warns once
        (the record is the latest preset)."""
        preset, self._preset_unrecorded = self._preset_unrecorded, None
        if preset is None:
            return
        self._run_preset = preset
        stored = self.runhistory.storage.set_meta_if_absent("preset", preset)
        if stored == preset:
            return
        self.runhistory.storage.set_meta("preset", preset)  # (warned once)
        if self.runhistory.n_finished:
            _warn(
                f"run {self.scenario.run_name!r} ran with preset={stored!r} so far; this SMAC "
                f"uses preset={preset!r} and continues on its {self.runhistory.n_finished} "
                "finished trial(s). To compare presets, give each its own "
                "Scenario(name=...); to start afresh, pass SMAC(..., overwrite=True)."
            )
        elif self.runhistory.running_elsewhere() or self._other_live_sessions():
            # (workers started together: none has a result yet, and they shared the run
            # without a word)
            _warn(
                f"run {self.scenario.run_name!r} is open in another process (or SMAC object) with "
                f"preset={stored!r}; this SMAC uses preset={preset!r} on the same run, so the "
                "processes propose configurations in different ways and race them under "
                "one history. Start every process of a shared run with one preset, or give "
                "each preset its own Scenario(name=...)."
            )

    def _other_live_sessions(self) -> bool:
        """Whether another SMAC object has the run open, alive on this host (sessions on
        other hosts cannot be checked)."""
        return bool(live_local_sessions(self.runhistory.storage, but=self._session))

    @property
    def stop_reason(self) -> str | None:
        """Why the latest :meth:`optimize` returned or raised, in words: ``"n_trials=50
        reached"``, ``"walltime_limit of 60 s reached"``, ``"cputime_limit of ... reached"``,
        ``"the incumbent's cost [...] reached the threshold"``, ``"the on_tell_start (or
        on_tell_end) of callback ... returned False"``, ``"the search space is exhausted"``,
        ``"close() was called"``, ``"no trial was left to run (the rest run in other
        processes)"``, ``"interrupted"`` or ``"an error: <its type>"``; None before the
        first call. The limits, the threshold and callbacks are logged at INFO too
        (``Stopping: ...``), as SMAC3 logs them."""
        return self._ended_by

    def _why_ended(self) -> str:
        """The reason ``optimize()`` returns normally (see :attr:`stop_reason`)."""
        if self._stop_reason is not None:
            return self._stop_reason
        if self._close_requested:
            return "close() was called"
        if self.runhistory.n_finished >= _trial_limit(self.scenario):
            return f"n_trials={self.scenario.n_trials} reached"
        return "no trial was left to run (the rest run in other processes)"

    def _threshold_met(self) -> list[float] | None:
        """The incumbent's costs (a member of the front's, with several objectives) if they
        meet ``termination_cost_threshold`` at the top fidelity, else None."""
        s = self.scenario
        # Several objectives: any member of the front, as each is an answer.
        costs = []
        if max(s.termination_costs) > -math.inf:
            multi = len(s.objectives) > 1
            costs = self._front_costs(self.incumbents) if multi else [self._incumbent_costs()]
        # (-inf, the default, is no threshold: [-inf, 0.1] stops at a cost <= 0.1 in the
        # second objective, whatever the first; it used to be a threshold never met)
        met = [
            c
            for c in costs
            if c and all(x <= t or t == -math.inf for x, t in zip(c, s.termination_costs))
        ]
        if not met or not self._at_top_fidelity():
            return None  # (a cost at a lower budget, or on fewer instances, says little)
        return met[0]

    def _warn_if_time_spent(self) -> None:
        """Say so when earlier ``optimize()`` calls on the run (of this object or of one
        before it) spent its ``walltime_limit`` or ``cputime_limit`` already, or its
        incumbent meets ``termination_cost_threshold``: this one runs no trial (as a run
        whose ``n_trials`` are done, which says so too)."""
        s, spent = self.scenario, self._spent
        if spent is None or self.runhistory.n_finished >= _trial_limit(s):
            return
        used = self._spent_limits(spent.wall(), spent.cpu())
        met = self._threshold_met()
        if not used and met is None:
            return
        what = (
            f"has spent its {' and '.join(used)} in the optimize() calls made on it so far"
            if used
            else f"has an incumbent whose cost {met} meets termination_cost_threshold="
            f"{s.termination_cost_threshold}"
        )
        if self._told_here:
            # (a second optimize() of one object: Optuna's runs for its timeout again)
            more = (
                "The limits count every optimize() call of the run, not one: to run more, "
                "build SMAC again with dataclasses.replace(scenario, ...) and a higher limit"
                if used
                else "To run more, build SMAC again with dataclasses.replace(scenario, "
                "termination_cost_threshold=...) and a lower threshold (or none)"
            )
            _warn(
                f"optimize(): run {s.run_name!r} {what}, so this call runs no trial and "
                f"returns the incumbent. {more}, which continues the run."
            )
            return
        go_on = "Raise the limit" if used else "Lower the threshold (or drop it)"
        _warn(
            f"run {s.run_name!r} {what}: this one runs no trial and returns the stored "
            f"incumbent, if any ({self.runhistory.n_finished} "
            f"{'' if s.n_trials is None else f'of n_trials={s.n_trials} '}"
            f"finished). {go_on} to go on, or start the run afresh with "
            f"SMAC(..., overwrite=True) or another Scenario(name=...)."
        )

    def _repeats_hint(self) -> str:
        """For a noisy run that tried its whole finite space: how a run spends more of
        ``n_trials`` on repeats (racing gives them to the incumbent and its challengers)."""
        settings = getattr(self.intensifier, "settings", None)
        if self.scenario.deterministic or not isinstance(settings, Intensifier):
            return ""
        return (
            " With a noisy target, a run with SMAC(..., intensifier=Intensifier("
            "max_config_calls=...)) gives the incumbent more samples (the default is 3 per "
            "instance), and challengers race it on as many."
        )

    def _warn_if_nothing_worked(self) -> None:
        """Say so when the run ended with finished trials of which none succeeded: resuming a
        run whose budget a broken target spent runs nothing and returns None."""
        h = self.runhistory
        if self.incumbent is not None or not h.n_finished:
            return
        statuses = h.status_counts()
        if statuses.get(StatusType.SUCCESS.name):
            return
        counts = ", ".join(
            f"{n} {status}" for status, n in sorted(statuses.items()) if status != "RUNNING"
        )
        first = failure_reasons(h.items(), self._command)[:1]
        most = f"; most often, {first[0]['count']} times: {first[0]['reason']}" if first else ""
        message = (
            f"optimize() ended without an incumbent: none of the run's {h.n_finished} finished "
            f"trial(s) succeeded ({counts}{most}). If the target has been fixed since they "
            f"ran, start the run afresh with SMAC(..., overwrite=True) or another "
            f"Scenario(name=...), or raise n_trials."
        )
        _warn(message)

    def _end_callbacks(self, callbacks: Sequence[Callback] | None = None) -> Exception | None:
        """Call the ``on_end`` of every callback (or of ``callbacks``); returns the first
        error one raised, after the others had theirs (it is raised unless ``optimize()``
        raises another: an ``on_end`` that failed hid a ``TargetCrashedError`` or a Ctrl-C,
        and the others' ``on_end``)."""
        first: Exception | None = None
        for cb in self.callbacks if callbacks is None else callbacks:
            try:
                cb.on_end(self)
            except Exception as err:
                name = type(err).__name__
                logger.error("The on_end of callback %r failed: %s: %s", cb, name, err)
                first = err if first is None else first
        return first

    def _wait_for_a_silent_lease(self) -> float | None:
        """Seconds to wait before this ``optimize()``, which has nothing left to start, looks
        again for a trial to take over; None to return.

        It waits while a trial of ``n_trials`` is held by a process on another host that has
        not renewed its lease for two turns (it renews every fifth of the lease): most
        likely a process that died, whose trial is taken over once the lease runs out. The
        workers that outlived a killed one used to return, and leave the run short of
        ``n_trials`` with nobody to take the trial over. A process whose lease was renewed
        lately may be alive: that is said when the call returns (see
        :meth:`_warn_of_trials_elsewhere`), and not waited for.
        """
        h = self.runhistory
        if (
            self._stop_reason is not None  # (a time budget or threshold: no more trials)
            or self._stop_requested
            or self._close_requested
            or h.n_finished >= _trial_limit(self.scenario)
        ):
            return None
        h.sync()  # (the trial may have finished there: its process was alive after all)
        if h.n_finished >= _trial_limit(self.scenario):
            return None
        silent = self._silent_leases()
        if not silent:
            return None
        now = h.now()
        wait = max(0.0, min(silent) - now) + 0.1
        assert self._spent is not None  # (set by optimize())
        if self._spent.wall() + wait >= self.scenario.walltime_limit:
            return None
        if not self._waited_for_lease:
            self._waited_for_lease = True
            logger.warning(
                "Waiting %.0f s for the lease of a trial whose process, on another host, has "
                "not renewed it for %.0f s (it seems to have died): the trial is then run "
                "here, to complete n_trials=%s.",
                wait,
                h.lease_seconds - (min(silent) - now),
                self.scenario.n_trials,
            )
        return min(wait, 1.0)

    def _silent_leases(self) -> list[float]:
        """When the leases end (Unix time) of the running trials of processes on other hosts
        that have not renewed them for two turns (see :meth:`_wait_for_a_silent_lease`)."""
        h = self.runhistory
        now = h.now()
        renewed = h.lease_seconds * (1 - 2 / 5)  # (a lease renewed within two turns ends later)
        return [
            until
            for _, owner, until in h.running_elsewhere()
            if not is_local(owner) and math.isfinite(until) and until - now < renewed
        ]

    def _warn_of_trials_elsewhere(self, ending: bool = False) -> bool:
        """Say why an ``optimize()`` that starts no trial returns at once (or, ``ending``, why
        one returns with the run incomplete): every trial of ``n_trials`` has started, and
        some run in other processes. One on another host that was killed holds its trial
        until its lease ends; a process started before then found the run incomplete and
        returned without a word, and so did one that ran until then.

        Ending, only trials on other hosts are named: those of living processes here will
        end (one that dies leaves its trial to any process started after it).

        Returns:
            Whether it warned.
        """
        elsewhere = self.runhistory.running_elsewhere()
        if ending:
            if self.runhistory.n_finished >= _trial_limit(self.scenario):
                return False
            elsewhere = [item for item in elsewhere if not is_local(item[1])]
        if not elsewhere:
            return False
        key, owner, lease_until = min(elsewhere, key=lambda item: item[2])
        wait = lease_until - self.runhistory.now()
        if is_local(owner):
            takeover = "its trial is taken over by a process started once it has ended"
        elif math.isinf(lease_until):
            takeover = "its trial is never taken over (its claim has no lease to run out)"
        else:
            takeover = (
                "its trial is taken over by a process started once its lease ends (in "
                f"{wait:.0f} s)"
            )
        host, _, rest = owner.partition(":")
        _warn(
            f"optimize(): every one of the n_trials={self.scenario.n_trials} trials has "
            f"started, and {len(elsewhere)} still run(s) in other processes (the first to be "
            f"free: config {key.config_id}, seed {key.seed}, on host {host.split('+')[0]}, pid "
            f"{rest.partition(':')[0] or '?'}), so this call "
            f"{'returns before they end' if ending else 'runs none'}. The run is complete "
            f"when they finish; if such a process is gone, {takeover}."
        )
        return True

    def _reclaim_in_flight(self) -> None:
        """Take back the trials an interrupted :meth:`optimize` left in the runner; those that
        finished meanwhile or another process took over are dropped from the runner."""
        assert self.runner is not None
        for info in list(self._in_flight):
            try:
                self.runhistory.add_running(info)
            except TrialError:
                self._in_flight.discard(info)
                self.runner.cancel(info)

    def _free_workers(self) -> int:
        """Trials to submit now: ``count_available_workers()``, minus ``runner.ahead()`` once
        less than the median time of the latest 32 trials is left of ``walltime_limit``
        (times one plus the trials ahead per worker thread: those queued before run first).

        A trial queued then could only start after another one ends, and would keep the run
        going past its time budget (see ``DaskParallelRunner(queue_ahead=...)``). Trials
        queued before still run.
        """
        assert self.runner is not None
        free = self.runner.count_available_workers()
        if self._durations and math.isfinite(self.scenario.walltime_limit):
            assert self._spent is not None  # (set by optimize())
            left = self.scenario.walltime_limit - self._spent.wall()
            ahead = self.runner.ahead()
            # A trial queued now starts once the threads have run those queued before it:
            # with DaskParallelRunner(keep_submitted=k) on fewer threads, k of them (a review:
            # 1 s trials, a 4 s walltime_limit and k=4 on one thread ended after 6.1 s).
            threads = max(free - ahead + len(self._in_flight), 1)
            if left < statistics.median(self._durations) * (1 + ahead / threads):
                free -= ahead
        return free

    def _poll_interval(self) -> float | None:
        timeout = getattr(
            getattr(self.intensifier, "settings", None), "pending_config_timeout", None
        )
        return None if timeout is None else max(0.05, float(timeout) / 4)

    def _collect(self) -> int:
        """Tell every result the runner has; returns how many. A result whose tell fails (the
        storage is locked past its timeout) is kept and told first by the next call."""
        n = 0
        assert self.runner is not None
        terminated = SIGTERM_ARRIVED.is_set()
        if (terminated or SIGINT_ARRIVED.is_set()) and (
            threading.current_thread() is threading.main_thread()
        ):
            # The target caught the interrupt and returned: what the serial runner holds is
            # cut short, and not recorded; the trial runs again when the run continues.
            if isinstance(self.runner, SerialRunner):
                self._untold.clear()
                for _ in self.runner.iter_results():  # (left in flight: given back)
                    pass
            raise Terminated("SIGTERM") if terminated else KeyboardInterrupt()
        results = self.runner.iter_results()
        while True:
            if not self._untold:  # one at a time: after an error the rest stay in the runner
                result = next(results, None)
                if result is None:
                    return n
                self._untold.append(self._checked_result(result, self._in_flight))
            info, value = self._untold[0]
            if value.status is StatusType.RUNNING:
                # no result: the runner stopped the trial for a reason not its own (e.g. a
                # SIGTERM the application handles); given up, it runs again
                self.runhistory.release(info)
                self._in_flight.discard(info)
            else:
                try:
                    self.tell(info, value)
                except BaseException:
                    # Recorded before the error (a first crash's, or a callback's that raised
                    # after the result was added): not told again by the next call or close().
                    if info not in self._in_flight:
                        self._untold.pop(0)
                    raise
                n += 1
            self._untold.pop(0)

    def _no_workers_yet(self, since: float | None) -> float | None:
        """With a runner of the user's own that runs nothing and has no free worker: since
        when (monotonic seconds) that is so, after a pause of 0.1 s (its ``wait()`` returns at
        once, and the loop spun at a full core); None otherwise.

        Raises:
            NoWorkersError: So for longer than the runner's ``patience`` (5 s if it has none),
                as DaskParallelRunner does.
        """
        runner = self.runner
        assert runner is not None
        if not _users_own(runner) or runner.is_running() or runner.count_available_workers() > 0:
            return None
        now = time.monotonic()
        since = now if since is None else since
        patience: Any = getattr(runner, "patience", None)
        patience = float(patience) if is_real(patience) else 5.0
        if now - since > patience:
            raise NoWorkersError(
                f"{type(runner).__name__} has run no trial and had no free worker for "
                f"{patience:g} s (count_available_workers() gave "
                f"{runner.count_available_workers()!r}): nothing can run. The run is saved; "
                "optimize() again once workers are there."
            )
        time.sleep(0.1)
        return since

    def _checked_result(self, result: Any, submitted: Container[TrialInfo]) -> Any:
        """A result of the runner's ``iter_results()``, checked when the runner is the user's
        own: a pair of a ``TrialInfo`` that was submitted and its ``TrialValue``.

        Raises:
            ArgumentError: Not such a pair.
            TrialError: A trial that was not submitted (a runner that rebuilt the info, its
                values rounded on the way: the results went under configurations never
                proposed, the trials submitted stayed RUNNING, and the run ended early).
        """
        runner = self.runner
        if not _users_own(runner):
            return result
        name = f"{type(runner).__name__}.iter_results()"
        if not (
            isinstance(result, tuple)
            and len(result) == 2
            and isinstance(result[0], TrialInfo)
            and isinstance(result[1], TrialValue)
        ):
            raise ArgumentError(
                f"{name} must yield (TrialInfo, TrialValue) pairs: the TrialInfo given to "
                f"submit_trial, and its result; got {safe_repr(result):.160}."
            )
        if result[0] not in submitted and not self._was_retired(result[0]):
            raise TrialError(
                f"{name} gave a result for a trial that was not submitted to it, or came back "
                f"already: {result[0]}. Yield each TrialInfo passed to submit_trial, unchanged, "
                "exactly once."
            )
        return result

    def _was_retired(self, info: TrialInfo) -> bool:
        """Whether ``info`` is a trial recorded RETIRED (its late result is told, and dropped)."""
        config_id = self.runhistory.get_config_id(info.config)  # (stores nothing new)
        if config_id is None:
            return False
        key = TrialKey(config_id, info.instance, info.seed, info.budget)
        try:
            return self.runhistory[key].status is StatusType.RETIRED
        except (KeyError, TrialError, ValueError):
            return False

    def _checked_data(
        self, data_to_scatter: Mapping[str, Any] | None, method: str
    ) -> dict[str, Any]:
        """``data_to_scatter`` of ``optimize`` or ``validate`` (``method``) as a dict of keyword
        arguments that the target takes."""
        data = _scatter_arguments(data_to_scatter, f"SMAC.{method}")
        assert self.runner is not None
        target = getattr(getattr(self.runner, "single_worker", self.runner), "target_fn", None)
        if target is not None:
            check_data(target, data)
        return data

    @method_keyword_hints(_NOT_VALIDATES)
    def validate(
        self,
        config: Configuration,
        *,
        seeds: Sequence[int] | None = None,
        instances: Sequence[str] | None = None,
        data_to_scatter: Mapping[str, Any] | None = None,
    ) -> float | list[float]:
        """Evaluate a configuration afresh, through the runner, and return its mean cost.

        The trials are not added to the run history. A crashed trial counts with the
        scenario's crash cost, and is logged.

        Args:
            config: The configuration (typically the incumbent).
            seeds: Seeds to run it with; by default 5 seeds (1 if the scenario is deterministic)
                drawn from the scenario's seed.
            instances: Instances to run it on; by default the scenario's instances. Others
                may be given too, such as held-out test instances.
            data_to_scatter: Keyword arguments for every target call; by default those the
                last :meth:`optimize` was given.
        """
        if self.runner is None:
            raise ScenarioError("SMAC.validate needs a target_fn (or a runner) to run trials.")
        self._check_open("validate()")
        if not isinstance(config, Configuration) or not same_space(
            config.config_space, self.scenario.configspace
        ):
            hint = ""
            if isinstance(config, str) and config in self.scenario.configspace:
                # SMAC3's `for incumbent in smac.optimize()`, with several objectives
                hint = (
                    " That is a hyperparameter's name, as iterating over a configuration gives: "
                    "optimize() returns one configuration (SMAC3's returns a list with several "
                    "objectives); smac.incumbents lists the Pareto front."
                )
            raise ScenarioError(
                "SMAC.validate's config must be a Configuration of the scenario's configspace "
                f"(e.g. smac.incumbent); got {config!r:.200}.{hint}"
            )
        seeds = _listed("seeds", seeds, numbers.Integral, "ints")
        instances = _listed("instances", instances, str, "instance names (str)")
        if instances is not None and self.scenario.instances is None:
            raise ScenarioError(
                f"SMAC.validate's instances need a scenario with instances (its target takes an "
                f"'instance' argument); this one has none, got instances={instances!r:.200}. "
                "Build the Scenario with instances=[...] to run on some."
            )
        # A stream of its own: default_rng(seed + 1) drew the trial seeds of the run with the
        # next seed, so a study over seeds 0..N validated each run on its neighbour's noise.
        rng = np.random.default_rng([self.scenario.seed, _VALIDATION_STREAM])
        if seeds is None:
            seeds = [
                int(s) for s in rng.integers(2**31, size=1 if self.scenario.deterministic else 5)
            ]
        chosen = instances if instances is not None else self.scenario.instances
        trials = [
            TrialInfo(config, instance, seed, self.scenario.max_budget)
            for instance in (chosen if chosen is not None else [None])
            for seed in seeds
        ]
        if not trials:
            raise ScenarioError(
                "SMAC.validate needs at least one seed and one instance to run; got "
                f"seeds={list(seeds)!r}, instances={None if chosen is None else list(chosen)!r}."
            )
        data = self._checked_data(
            data_to_scatter if data_to_scatter is not None else self._scattered, "validate"
        )
        self._use_cluster()
        values: list[TrialValue] = []
        pending = list(trials)
        owed = Counter(trials)
        while pending or self.runner.is_running():
            while pending and self.runner.count_available_workers() > 0:
                self.runner.submit_trial(pending.pop(0), **data)
            self.runner.wait()
            for result in self.runner.iter_results():
                known = set(self._in_flight) | {i for i, left in owed.items() if left > 0}
                info, value = self._checked_result(result, known)
                if value.status is StatusType.RUNNING:  # stopped without a result: again
                    if owed[info] > 0:
                        pending.append(info)
                    else:
                        self.runhistory.release(info)
                        self._in_flight.discard(info)
                elif owed[info] > 0:
                    owed[info] -= 1
                    values.append(value)
                else:  # a trial of an interrupted optimize() that came back only now
                    self.tell(info, value)
        if all(v.status is not StatusType.SUCCESS for v in values):
            logger.warning(
                "validate: all %d trial(s) of the configuration ended %s (first: %s)",
                len(values),
                sorted({v.status.name for v in values}),
                values[0].additional_info.get("error", "no error recorded"),
            )
        costs = aggregate_costs([v.costs() for v in values])
        return float(costs[0]) if costs.size == 1 else [float(c) for c in costs]

    # -- reporting -----------------------------------------------------------------------------

    def summary(self) -> str:
        """One screen on the run: trials by status, the incumbent and where the time went."""
        h = self.runhistory
        # (the finished trials' statuses: the line says how many run, and how many were given up
        # and stay RUNNING in the history; "0 running, 1 left unfinished (RUNNING 1, ...)"
        # read as a contradiction)
        counts = ", ".join(
            f"{k} {v}" for k, v in sorted(h.status_counts().items()) if k != StatusType.RUNNING.name
        )
        # (given up at Ctrl-C, or by processes that are gone: nothing runs them now)
        left = h.n_stale()
        lines = [
            f"smacx run {self.scenario.run_name!r}"
            + (
                f" in {redact(self._storage_url)}"
                if self._storage_url is not None
                else f" in {self.scenario.output_path}"
                if self.scenario.output_path
                else " (in memory)"
            ),
            f"  trials: {h.n_finished} finished, {h.n_running - left} running"
            + (f", {left} left unfinished (they run again when the run goes on)" if left else "")
            + (f" ({counts})" if counts else ""),
        ]
        made = settings_text(self.scenario.seed, self.scenario.deterministic, self._run_preset)
        lines.insert(1, f"  {made}")
        reasons = failure_reasons(h.items(), self._command)
        if reasons:
            lines.append("  failed, most often:")
            lines.extend(
                f"    {r['count']} {r['status']}: {r['reason']}" for r in reasons[:_SHOWN_REASONS]
            )
            if len(reasons) > _SHOWN_REASONS:
                more = sum(r["count"] for r in reasons[_SHOWN_REASONS:])
                lines.append(f"    {more} more, for {len(reasons) - _SHOWN_REASONS} other reasons")
        incumbent = self.incumbent
        if incumbent is None:
            lines.append("  incumbent: none yet")
        else:
            costs = self._incumbent_costs()
            cost = costs[0] if len(costs) == 1 else costs
            trial_keys = self._incumbent_keys()
            values = (
                [h[k] for k in trial_keys]
                if trial_keys is not None
                else list(h.get_trial_values(incumbent).values())
            )
            n = len(values)
            # A failed key (crash_cost inf) is counted apart, not in the cost: say so.
            failed = sum(not finite_costs(v.costs()) for v in values)
            failures = f", {failed} of them failed (not in the cost)" if failed else ""
            budget = max((k.budget for k in trial_keys or () if k.budget is not None), default=None)
            top = self.scenario.max_budget
            at = ""
            if budget is not None and top is not None:
                at = f", at budget {budget:g}"
                if budget < top:
                    at += (
                        f" (below max_budget={top:g}: none has succeeded at it on every "
                        "instance-seed pair yet)"
                    )
            every = len(getattr(self.intensifier, "keys", ()))
            most = getattr(self.intensifier, "most_keys", None)
            if (
                getattr(self.intensifier, "races_keys", False)
                and isinstance(most, int)
                and n < most
            ):
                at = (
                    f", on {n} of {every} instance-seed pairs (better on them than "
                    f"configurations that ran {most}; it runs the next one first)"
                )
            elif getattr(self.intensifier, "races_keys", False) and n < every:
                at = f", on {n} of {every} instance-seed pairs (none with a success has run on all)"
            if len(self.scenario.objectives) > 1:
                lines.append(
                    f"  Pareto front: {len(self.incumbents)} configuration(s) "
                    "(SMAC.incumbents, at most the intensifier's max_incumbents); the first:"
                )
            lines.append(
                f"  incumbent: config {h.get_config_id(incumbent)}, cost {cost:.6g} "
                f"over {n} trial(s){failures}{at}"
                if isinstance(cost, float)
                else f"  incumbent: config {h.get_config_id(incumbent)}, costs {cost} over "
                f"{n} trial(s){failures}{at}"
            )
            lines.append(
                "    " + json.dumps({k: plain_value(v) for k, v in dict(incumbent).items()})
            )
            if not self.scenario.deterministic and len(self.scenario.objectives) == 1:
                noise = seed_noise(h.items(), h.get_config_id(incumbent), budget)
                if noise is not None:
                    lines.append(f"  noise: {noise.text()}")
        if self._spent is not None:
            wall = self._spent.own_wall()
            per = 1000 * self._own_time / max(self._told_here, 1)
            lines.append(
                f"  wall time {wall:.2f} s: {self._target_time:.2f} s in the target, "
                f"{self._own_time:.2f} s in smacx ({per:.1f} ms per trial)"
                + (f", {self._callback_time:.2f} s in callbacks" if self._callbacks_shown() else "")
            )
        return "\n".join(lines)

    @property
    def stats(self) -> dict[str, float]:
        """Time accounting of this process, in seconds in the target, in smacx's own work and
        in the callbacks' hooks (not counted as smacx's)."""
        return {
            "target_time": self._target_time,
            "target_cpu_time": self._target_cpu_time,
            "smacx_time": self._own_time,
            "callback_time": self._callback_time,
            "trials_told": float(self._told_here),
        }

    def __repr__(self) -> str:
        # (short, for a notebook: what the run is and how far it got; no secrets, no storage)
        preset = getattr(self, "_run_preset", None) or getattr(self, "_preset_unrecorded", None)
        history = getattr(self, "runhistory", None)
        if history is None:  # (a debugger's look at one being built)
            return object.__repr__(self)
        return (
            f"SMAC(run={self.scenario.run_name!r}, preset={preset!r}, "
            f"finished={history.n_finished}, running={history.n_running}, "
            f"configurations={history.n_configs})"
        )

    def _callbacks_shown(self) -> bool:
        """Whether the summary names the time in callbacks: at 5 ms or more."""
        return bool(self.callbacks) and self._callback_time >= 0.005

    def close(self) -> None:
        """Tell the results the runner has finished, close it and the storage.

        Trials still running then (after an interrupted :meth:`optimize`, or handed out by
        :meth:`ask` and never told) are given up: the next run on this history, in this
        process or another, runs them again. :meth:`ask`, :meth:`tell` and :meth:`optimize`
        raise :class:`~smacx.errors.StorageError` afterwards; closing again does nothing.
        Called from another thread while an :meth:`ask` or :meth:`tell` is under way, it
        waits for that call to end. Called from another thread during :meth:`optimize`, it
        stops the run and returns once ``optimize()`` has closed the object (a serial
        runner's trial under way ends first). Called by a callback or a signal handler inside
        one of these calls in the same thread, it closes the object as that call ends (inside
        an ``ask()`` or ``tell()`` during another thread's ``optimize()``, it returns at once,
        and ``optimize()`` closes the object once that call has ended).
        """
        with self._lock:
            optimizer = self._optimizer
            if optimizer is None:
                if self._depth:  # a callback or signal handler inside this thread's call
                    self._close_requested = True
                else:
                    self._close()
                return
            self._close_requested = True
            # Inside an ask() or tell() of this thread (a callback or a signal handler of
            # another thread than the optimizing one), this thread holds the lock that the
            # optimizing one needs to stop: waiting would never end. optimize() closes the
            # object once that call has ended.
            waits = optimizer is not threading.current_thread() and not self._depth
        if self.runner is not None:
            self.runner.interrupt()  # a wait for results under way returns
        if waits:
            self._optimize_over.wait()

    def _close(self) -> None:
        """:meth:`close`, with the object's lock held."""
        if self._closed or self._closing:
            return
        self._closing = True
        _open_here.discard(self)
        try:
            if self.runner is not None:
                # Collect only what has finished: no resubmission of lost trials, no wait for
                # workers (after a NoWorkersError that would take another `patience`).
                begin_close = getattr(self.runner, "begin_close", None)
                if begin_close is not None:
                    begin_close()
                try:
                    self._collect()
                except Exception as err:  # e.g. a broken cluster: close it anyway
                    logger.warning("Could not collect the last results before closing: %s", err)
                self.runner.close()
        finally:
            self._closed = True
            try:
                give_up(self.runhistory, self._in_flight, self._asked)
            finally:
                try:
                    try:  # kept for reading after the storage is closed
                        self._final_trajectory = self.runhistory.trajectory()
                    except Exception as err:  # e.g. the storage failed: close it anyway
                        logger.warning("Could not read the trajectory before closing: %s", err)
                finally:
                    if self._end_session is not None:
                        self._end_session()
                    self.runhistory.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickle, joblib.dump and copy.deepcopy failed deep inside, on a lock or a lambda)
        raise TypeError(
            "a SMAC object cannot be pickled or copied: it holds a run under way (its storage, "
            "runner and model). Pickle smac.runhistory instead (a snapshot of the run's "
            "trials, trajectory included), or give the scenario an output_directory and open "
            "the stored run again with SMAC(scenario)."
        )

    def __enter__(self) -> SMAC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Seconds after which a trial claimed by a process on another host that stopped renewing its
#: lease (it died) may be run by another process; see :class:`~smacx.RunHistory`.
LEASE_SECONDS = 300.0


@contextlib.contextmanager
def _unlogged_in_this_thread() -> Iterator[None]:
    """Drop the ``"smacx"`` logger's records made by this thread while the block runs (those
    of other threads pass)."""
    here = threading.get_ident()

    def other_threads(record: logging.LogRecord) -> bool:
        return record.thread != here

    logger.addFilter(other_threads)
    try:
        yield
    finally:
        logger.removeFilter(other_threads)


#: Fields of ``Scenario.identity()`` that a continued run may change (see RESUMABLE_FIELDS).
_TRIAL_LIMITS = ("trial_walltime_limit", "trial_memory_limit")


#: The fields of a Scenario that its runner applies to every trial (see _make_runner).
_RUNNER_FIELDS = (
    "objectives",
    "crash_cost",
    "trial_walltime_limit",
    "trial_memory_limit",
    "instances",
    "min_budget",
    "max_budget",
)


#: The SMAC objects of this process with a stored run open (see _close_idle_objects_on).
_open_here: weakref.WeakSet[SMAC] = weakref.WeakSet()


def _close_idle_objects_on(
    location: tuple[str, ...] | None, live: list[str], live_owners: Callable[[], list[str]]
) -> list[str]:
    """Close the SMAC objects of this process that have the run at ``location`` (see
    ``SMAC._run_key``) open, if this thread built them all and none is in ``optimize()``;
    returns the run's ``live`` owners afterwards, as ``live_owners`` reads them (see
    :func:`live_owners_of`).

    Re-running a notebook cell ``smac = SMAC(scenario, f, overwrite=True)`` builds the new
    object while the old one, bound to ``smac``, still has the run open: ``overwrite=True``
    failed there, saying that other processes still worked on it. Now the old one is closed
    (its later calls raise), as a user of SMAC3 or Optuna expects the cell to start afresh.
    An object that another thread built may be in use there: it is left alone, and the
    overwrite refused.
    """
    here = threading.current_thread()
    mine = [smac for smac in list(_open_here) if smac._run_key == location]
    if not mine or any(smac._optimizer is not None or smac._thread() is not here for smac in mine):
        return live
    for smac in mine:
        smac.close()
    logger.info(
        "overwrite=True: closed %d SMAC object(s) of this process that had the run in %s open",
        len(mine),
        location[-1] if location else None,
    )
    return live_owners()


#: How many reasons for failed trials :meth:`SMAC.summary` names (``smacx show --json``
#: lists them all).
_SHOWN_REASONS = 3


def _not_a_scenario(given: object) -> str:
    """Why ``given`` is no scenario of SMAC's, and what to pass: the mistakes users of Optuna
    (a search space) and SMAC3 (its own Scenario) make first. (The object's repr is cut: a
    SMAC3 scenario of 2,000 instances made a message of 190,000 characters.)"""
    kind = type(given)
    got = f"{kind.__module__}.{kind.__qualname__} {' '.join(safe_repr(given).split())[:100]}"
    if isinstance(given, ConfigurationSpace):
        fix = " Wrap the search space in one: SMAC(Scenario(space, n_trials=...), target)."
    elif kind.__module__.split(".")[0] == "smac":
        fix = (
            " SMAC3's Scenario is not smacx's: build smacx.Scenario(configspace, ...) with the "
            "same fields (docs/migrating.rst lists them)."
        )
    else:
        fix = ""
    return f"SMAC's scenario must be a smacx.Scenario; got {got}.{fix}"


#: Names a target call already passes (or a runner's submit takes), so scattered data cannot.
_RESERVED_ARGUMENTS = frozenset({"config", "trial_info", "self", *TRIAL_ARGUMENTS})


def _scatter_arguments(data: Mapping[str, Any] | None, method: str) -> dict[str, Any]:
    """The ``data_to_scatter`` of ``method`` (for messages) as a dict of keyword arguments,
    checked."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"{method}'s data_to_scatter must be a dict of argument name to value, e.g. "
            f"{{'X': X, 'y': y}}; got {type(data).__name__} {data!r:.100}."
        )
    bad = [k for k in data if not isinstance(k, str) or not k.isidentifier()]
    taken = sorted(k for k in data if k in _RESERVED_ARGUMENTS)
    if bad or taken:
        raise ScenarioError(
            f"{method}'s data_to_scatter keys are keyword arguments of the target, so they "
            f"must be identifiers other than {sorted(_RESERVED_ARGUMENTS)}; got "
            f"{bad + taken!r}. Rename them in the dict and in the target's signature."
        )
    return dict(data)


def _listed(name: str, given: Any, kind: type, what: str) -> list[Any] | None:
    """``given`` as a list of ``kind`` (None stays None), for :meth:`SMAC.validate`."""
    if given is None:
        return None
    if not isinstance(given, (str, bytes)) and isinstance(given, Iterable):
        items = list(given)
        if all(isinstance(v, kind) and not isinstance(v, bool) for v in items):
            return items
    raise ScenarioError(
        f"SMAC.validate's {name} must be a list of {what} or None; got {given!r:.200}."
    )


def _is_probability(value: object) -> bool:
    return is_real(value) and 0.0 <= float(value) <= 1.0  # type: ignore[arg-type]


#: Intensifier settings that a stored run's record rebuilds (see _settings_from_repr).
_OWN_SETTINGS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Intensifier, SuccessiveHalving, Hyperband)
}


def _settings_from_repr(text: str) -> IntensifierSettings | None:
    """smacx's own intensifier settings rebuilt from the ``repr`` stored with a run, e.g.
    ``Intensifier(max_config_calls=5, ...)``; None for other settings (a class of the user's)
    or a record this smacx does not read back exactly. Only literal keyword values are read;
    nothing in the record is executed."""
    try:
        node = ast.parse(text, mode="eval").body
        if (
            not isinstance(node, ast.Call)
            or not isinstance(node.func, ast.Name)
            or node.func.id not in _OWN_SETTINGS
            or node.args
            or any(keyword.arg is None for keyword in node.keywords)
        ):
            return None
        kwargs = {str(kw.arg): ast.literal_eval(kw.value) for kw in node.keywords}
        settings: IntensifierSettings = _OWN_SETTINGS[node.func.id](**kwargs)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    return settings if repr(settings) == text else None


def _users_own(runner: object) -> bool:
    """Whether ``runner`` is the user's own, not one of smacx's (which keep the runner contract
    that SMAC checks the user's against)."""
    return not type(runner).__module__.startswith("smacx.")


def _ended_by(err: BaseException) -> str:
    """``SMAC.stop_reason`` of an ``optimize()`` that raised ``err``."""
    return (
        "interrupted" if isinstance(err, KeyboardInterrupt) else f"an error: {type(err).__name__}"
    )


def _says_stop(answer: object) -> bool:
    """Whether a callback's ``on_tell_start`` or ``on_tell_end`` answer asks the run to stop:
    ``False``, also as
    numpy's ``False`` (``return costs.min() > 1.0`` on an array), not ``None`` nor 0."""
    return answer is False or (isinstance(answer, np.bool_) and not answer)


#: Tags the random stream of :meth:`SMAC.validate`'s seeds, apart from every run's own.
_VALIDATION_STREAM = 0x76616C69  # "vali"


def _trial_limit(scenario: Scenario) -> float:
    """The scenario's ``n_trials`` as a bound to compare counts with: infinite for None."""
    return math.inf if scenario.n_trials is None else scenario.n_trials


#: Statuses of trials whose time is the target's own.
_RAN = frozenset({StatusType.SUCCESS, StatusType.TIMEOUT, StatusType.MEMORYOUT})


def _warn_of_instance_counts(
    scenario: Scenario, target_fn: Callable[..., Any] | None, intensifier: str
) -> None:
    """Warn when a multi-fidelity scenario's budgets look like counts of its instances (whole
    numbers up to their number) and the target does not name ``budget``: SMAC3 reads such
    budgets as instance counts, smacx passes them to the target (here taken by ``**kwargs`` and
    ignored, so that every stage ran all instances)."""
    instances, low, high = scenario.instances, scenario.min_budget, scenario.max_budget
    if not instances or low is None or high is None or target_fn is None:
        return
    if not (float(low).is_integer() and float(high).is_integer() and high <= len(instances)):
        return
    try:
        named = "budget" in inspect.signature(target_fn).parameters
    except (TypeError, ValueError):
        named = False
    if not named:
        _warn(
            f"the scenario has {len(instances)} instances and budgets from {low:g} to {high:g}, "
            "which SMAC3 reads as numbers of instances to race on; smacx passes them to the "
            "target as its budget, which this target does not name, and runs every stage on "
            "all the instances. To race on the instances, leave min_budget and max_budget "
            "unset" + (f" (and give {intensifier} min_keys={low:g})." if low > 1 else "."),
        )


def _source_fingerprint(target_fn: Any) -> str | None:
    """The target function's qualified name and a hash of its source code, as JSON; None
    for a target without source to read (a builtin, a callable object, a partial) and for a
    lambda, whose source is the whole statement it is written in."""
    if not inspect.isfunction(target_fn) or target_fn.__name__ == "<lambda>":
        return None
    try:
        source = inspect.getsource(target_fn)
    except (OSError, TypeError):  # defined interactively, or its file is gone
        return None
    digest = hashlib.sha256(textwrap.dedent(source).encode()).hexdigest()[:16]
    return json.dumps({"name": target_fn.__qualname__, "source_sha256": digest})


def _warn_of_coarse_integers(scenario: Scenario) -> None:
    """Warn of integer hyperparameters with values beyond 2**53: smacx (as ConfigSpace's
    sampler) holds values as 64-bit floats, which there hold only every second integer or
    fewer. On (2**53, 2**53 + 20), the run called the space exhausted after 11 of its 21
    values. (The CLI's knob files refuse such ranges.)"""
    coarse = [
        f"{hp.name!r} ({hp.lower} to {hp.upper})"
        for hp in scenario.configspace.values()
        if isinstance(hp, IntegerHyperparameter) and max(abs(hp.lower), abs(hp.upper)) > 2**53
    ]
    if coarse:
        _warn(
            f"integer hyperparameter(s) {', '.join(coarse[:5])} reach beyond 2**53 "
            f"({2**53:,}), where the 64-bit floats that hold their values skip integers: only "
            "some of those values can be proposed. Shift the range to start at 0 and add the "
            "offset in the target, or use a Float with log=True for a wide range."
        )


def _warn(message: str) -> None:
    """Say ``message``, about the run as a whole and for its caller to act on, as a Python
    ``UserWarning`` at the application's line that called smacx: shown when the application
    set up no logging (the "smacx" logger has only a NullHandler), routed to logging by
    ``logging.captureWarnings(True)``, an error under ``-W error``. Not logged too, which
    showed it twice once logging was set up.
    """
    warn_caller(message)


def _cpu_with_runner(smac: weakref.ref[SMAC]) -> float:
    """:func:`cpu_seconds` plus the CPU seconds of the trials that ``smac``'s runner ran in
    other processes (see ``AbstractRunner.cpu_time_elsewhere``)."""
    alive = smac()
    runner = None if alive is None else alive.runner
    return cpu_seconds() + (0.0 if runner is None else runner.cpu_time_elsewhere())
