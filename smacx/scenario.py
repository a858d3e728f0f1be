"""The scenario: what is optimized, under which limits, and where the run is kept."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace
from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter

from smacx.encoding import check_float_range, integer_span
from smacx.errors import ScenarioError, keyword_hints, safe_repr

__all__ = ["Scenario"]

#: Fields that may change when a run is continued (they bound the run, not its meaning). The
#: per-trial limits are part of the fingerprint that names a run without a ``name``, so a run
#: continues with other limits only under its name; its trials that ended TIMEOUT or MEMORYOUT
#: under the old limits keep their status.
RESUMABLE_FIELDS = frozenset(
    {
        "name",
        "output_directory",
        "n_trials",
        "walltime_limit",
        "cputime_limit",
        "termination_cost_threshold",
        "n_workers",
        "trial_walltime_limit",
        "trial_memory_limit",
    }
)


def _short_repr(value: Any, first: int = 3) -> str:
    """``repr(value)``, with a space as its hyperparameters' names and a list or table of
    more than ``first`` + 2 entries as its first ones and its length."""
    if isinstance(value, ConfigurationSpace):
        return f"ConfigurationSpace({_short_repr(list(value), 8)})"
    if isinstance(value, Mapping) and len(value) > first + 2:
        shown = ", ".join(f"{k!r}: {_short_repr(v)}" for k, v in list(value.items())[:first])
        return f"{{{shown}, ... ({len(value)} in all)}}"
    if isinstance(value, (list, tuple)) and len(value) > first + 2:
        shown = ", ".join(_short_repr(v) for v in value[:first])
        return f"[{shown}, ... ({len(value)} in all)]"
    return repr(value)


class _ReadOnly(dict[str, tuple[float, ...]]):
    """The instance features a scenario keeps: a dict that refuses changes in place (a plain
    one could be changed, and the run's name and checks would then describe other features).
    A dict still, for ``json.dumps``, ``isinstance(..., dict)``, ``.copy()`` and ``|``."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Scenario.instance_features cannot be changed in place: build another "
            "Scenario(..., instance_features=...), or dataclasses.replace(scenario, "
            "instance_features=...)."
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # (pickle's and copy's default for a dict subclass fill it with __setitem__)
        return (_ReadOnly, (dict(self),))


def _fail(name: str, expected: str, got: object) -> ScenarioError:
    return ScenarioError(f"Scenario.{name} must be {expected}; got {got!r}.")


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as Python lists and numbers (other values as they are)."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) and not isinstance(value, (str, bytes)) else value


def _json_ready(value: Any, where: str) -> Any:
    """``value`` (nested dicts and lists of the serialized space) with numpy arrays and scalars
    as lists and plain numbers, tuples as lists.

    Raises:
        ScenarioError: A value that JSON cannot hold, e.g. an object in a hyperparameter's
            ``meta``; ``where`` says where it sits.
    """
    if isinstance(value, dict):
        return {str(k): _json_ready(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, f"{where}[{i}]") for i, v in enumerate(value)]
    value = _plain(value)
    if isinstance(value, list):
        return _json_ready(value, where)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ScenarioError(
        f"Scenario.configspace must hold values a run can store as JSON (numbers, strings, "
        f"booleans, None, and lists or tuples of them); got {value!r} of type "
        f"{type(value).__name__} at {where}. Use plain values there."
    )


def canonical_clauses(space: dict[str, Any]) -> dict[str, Any]:
    """``space`` (a serialized ConfigSpace, JSON-ready) with the values of ``IN`` conditions and
    clauses, and the members of conjunctions, in one order: ConfigSpace calls two spaces equal
    whatever their order, and a script that builds them from a set gets another order in each
    interpreter (``PYTHONHASHSEED``), which must neither start a new run nor refuse the old."""

    def canonical(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        entry = dict(entry)
        if entry.get("type") == "IN" and isinstance(entry.get("values"), list):
            entry["values"] = sorted(entry["values"], key=_sort_key)
        for members in ("conditions", "clauses"):
            if isinstance(entry.get(members), list):
                entry[members] = sorted((canonical(e) for e in entry[members]), key=_sort_key)
        return entry

    space = dict(space)
    for part in ("conditions", "forbiddens"):
        if isinstance(space.get(part), list):
            space[part] = [canonical(e) for e in space[part]]
    return space


def _sort_key(value: Any) -> str:
    """A total order over JSON-ready values of mixed types (by their JSON text)."""
    return json.dumps(value, sort_keys=True)


def _as_float(value: object) -> float:
    """``float(value)`` of a real number, NaN when it has no float (an int beyond 1e308)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.nan


def _positive_or_inf(name: str, value: object) -> float:
    if not _is_real(value) or math.isnan(_as_float(value)) or _as_float(value) <= 0:
        raise _fail(name, "a number > 0 (seconds; math.inf for no limit)", value)
    return _as_float(value)


# Keywords of SMAC(...), which users also pass to Scenario (a test keeps the list whole).
_SMAC_KEYWORDS = (
    "target_fn",
    "preset",
    "model",
    "acquisition",
    "maximizer",
    "initial_design",
    "intensifier",
    "random_probability",
    "plateau_probability",
    "plateau_radius",
    "runner",
    "dask_client",
    "dask_tls",
    "storage",
    "callbacks",
    "overwrite",
    "progress",
    "raise_on_first_crash",
)


#: What a run's name may be (it names the run's folder in the output directory).
RUN_NAME = "a folder name (not '.' or '..'; no '/', '\\' or NUL)"


def is_run_name(name: object) -> bool:
    """Whether ``name`` may name a run (see ``RUN_NAME``)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in "/\\\x00")
    )


#: The answer to a keyword of Optuna's or of other optimizers that maximize.
MINIMIZES = (
    "smacx minimizes every objective: have the target return the metric negated (-accuracy), "
    "or a loss such as 1 - accuracy"
)

#: Where Optuna's keywords of create_study and Study.optimize go in smacx (their field or
#: keyword, as a Scenario field's hint says it; SMAC's and optimize()'s hints reuse them).
OPTUNA_KEYWORDS = {
    "timeout": "the run's time budget is Scenario(..., walltime_limit=...), in seconds (with "
    "n_trials=None for no limit on the number of trials)",
    "n_jobs": "trials at once: Scenario(..., n_workers=...), on a dask cluster",
    "study_name": "the run's name is Scenario(..., name=...)",
    "load_if_exists": "a stored run is continued by default; SMAC(..., overwrite=True) "
    "starts it afresh",
    "sampler": "how configurations are proposed is SMAC(..., preset=...) with its parts",
    "pruner": "stop poor configurations early with Hyperband: Scenario(..., min_budget=..., "
    "max_budget=...) and SMAC(..., preset='multifidelity')",
    "show_progress_bar": "SMAC(..., progress=True)",
    "gc_after_trial": "smacx collects garbage itself where runs need it; a target that "
    "leaves large cycles behind can call gc.collect() before it returns",
}

#: Where Ray Tune's keywords (TuneConfig, RunConfig, Tuner) and Oríon's go in smacx: the
#: nearest spelling sent its users elsewhere (num_samples to sampler, time_budget_s to the
#: budgets of multi-fidelity, mode to model).
RAY_ORION_KEYWORDS = {
    "num_samples": "the number of trials is Scenario(..., n_trials=...) (with budgets, each "
    "configuration's run at each budget is a trial)",
    "max_trials": "the number of trials is Scenario(..., n_trials=...)",
    "time_budget_s": OPTUNA_KEYWORDS["timeout"],
    "max_concurrent_trials": OPTUNA_KEYWORDS["n_jobs"],
    "mode": MINIMIZES,
    "metric": "the target returns the cost; name it, or several, with Scenario(..., "
    "objectives=[...]) and return a dict of them (its other keys are kept with the trial)",
    "scheduler": OPTUNA_KEYWORDS["pruner"],
    "search_alg": OPTUNA_KEYWORDS["sampler"],
    "resume": OPTUNA_KEYWORDS["load_if_exists"],
    "restore": OPTUNA_KEYWORDS["load_if_exists"],
    "max_broken": "crashed trials are recorded and the run goes on; to stop after too many, "
    "pass SMAC(..., callbacks=[fn]) with fn(smac, info, value) returning False",
    "resources_per_trial": "each dask worker thread runs one trial at a time: give "
    "single-threaded workers (dask worker --nthreads 1) the resources of a trial, and pass "
    "SMAC(..., dask_client=...) a client of that cluster",
}


#: The answer to SMAC3's objective_weights (passed to Scenario or to SMAC).
OBJECTIVE_WEIGHTS = (
    "smacx has no objective weights: ParEGO draws new random weights at each fit of the "
    "model, to spread proposals along the whole Pareto front; to favour an objective, scale "
    "its cost in the target, or return one cost that combines the objectives as you weigh them"
)


#: Where SMAC3's ``use_default_config=True`` goes (passed to Scenario or to SMAC).
USE_DEFAULT_CONFIG = (
    "put the default configuration in the initial design: SMAC(..., "
    "initial_design=InitialDesign(additional_configs=[cs.get_default_configuration()]))"
)


# An unknown field gets the close matches; SMAC(...)'s keywords, and a field of SMAC3's
# Scenario that smacx has elsewhere, say where they belong.
@keyword_hints(
    elsewhere={
        **{
            name: "it is a keyword of SMAC(...), not a field of Scenario" for name in _SMAC_KEYWORDS
        },
        "use_default_config": USE_DEFAULT_CONFIG,
        "objective_weights": OBJECTIVE_WEIGHTS,
        **dict.fromkeys(("maximize", "direction", "directions"), MINIMIZES),
        **OPTUNA_KEYWORDS,
        **RAY_ORION_KEYWORDS,
    }
)
@dataclass(frozen=True)
class Scenario:
    """Everything that defines an optimization run; validated when built, immutable after.

    Args:
        configspace: The search space.
        name: Folder name of the run inside ``output_directory``. By default a hash of the fields
            that define the run, so building the same scenario again continues the same run.
        output_directory: Where runs are kept (a SQLite database per run); a ``Path`` once
            built. None keeps the run history in memory only: nothing survives the process.
        deterministic: Whether the target returns the same cost for the same configuration and
            instance whatever the seed. Deterministic runs use one seed per instance.
        objectives: Name(s) of the cost(s) to minimize. More than one makes the run
            multi-objective and the target must return a dict (or a sequence in this order).
        crash_cost: Cost recorded for a crashed, timed-out or memory-out trial, one value per
            objective or one for all. Infinite values are recorded as given but never shown to a
            model: it sees an imputed cost instead (the worst finite cost observed). With
            several objectives the model sees that imputed cost for every failed trial,
            whatever its crash cost: a large finite one (1e6) would squeeze the successes into
            a sliver of ParEGO's normalized range.
        termination_cost_threshold: Stop as soon as the incumbent's cost is at or below this
            (several objectives: a member of the Pareto front, in every objective whose
            threshold is not ``-inf``, the default, which sets none; with
            budgets, a cost at ``max_budget``; with instances or a noisy target, a cost on every
            instance-seed pair a configuration is raced on, as ``max_config_calls`` or
            Hyperband's last stage sets them).
        n_trials: How many finished trials the run should hold (trials of a resumed run count).
            None sets no such limit: the run ends when ``walltime_limit`` or ``cputime_limit``
            (one of them is required) is spent, as Optuna's ``optimize(timeout=...)`` does.
        walltime_limit: Seconds of wall-clock time the run's ``optimize()`` calls may take in
            all: those of a resumed run, in this process or an earlier one, count (as
            ``n_trials`` counts the trials already finished), and processes sharing the run at
            once count their common time once (one on another host that writes no record of
            its time for a minute, killed say, up to its last record). No trial is submitted
            once it is spent; those
            running then finish (bound them with ``trial_walltime_limit``), as do those that
            wait on dask workers for a free thread.
        cputime_limit: Seconds of CPU time the run's ``optimize()`` calls may use in all, over
            resumes: each process's own (smacx and in-process targets) plus its finished
            child processes (trials under limits, with the programs they waited for; not
            those of a trial killed at its limit, which no process waits for) plus the
            ``cpu_time`` of trials that ran in dask worker processes, as SMAC3 counts them
            (a worker with several threads charges each trial the CPU of those beside it).
            A process sharing the run counts what the others had used when its
            ``optimize()`` started, not what they use while it runs.
        trial_walltime_limit: Seconds one trial may take; a trial over it is a TIMEOUT.
            Enforced with pynisher in a subprocess.
        trial_memory_limit: Megabytes of memory one trial may use; a trial over it is a
            MEMORYOUT. Enforced with pynisher in a subprocess, as a limit of its address
            space, which starts with all that the process it is forked from maps. Each
            program the trial starts inherits the limit for its own address space (it is no
            limit on their sum), and one that exceeds it fails as that program does: the
            trial is what the target makes of that, often CRASHED. Linux only (pynisher
            cannot limit memory on macOS): where it cannot be set (also under a lower hard
            ``ulimit -v``), the first trial stops the run with a ``MachineError``.
        instances: Names of the problem instances the configurations are evaluated on.
        instance_features: Feature vector of every instance (same length for all).
        min_budget: Smallest fidelity handed to the target as ``budget`` (multi-fidelity).
        max_budget: Largest fidelity; configurations are compared at this budget.
        seed: Seed of every random choice smacx makes, and of the preset's own model and
            maximizer; a model or maximizer passed to ``SMAC`` keeps its own ``seed`` (and its
            state: pass a fresh one to each run that should repeat another).
        n_workers: With more than 1 and no ``dask_client``, the number of single-threaded
            worker processes of the dask cluster smacx starts for the run. How many trials
            run at once is up to the cluster: workers that join it later, or a user's own
            client, run more. With a ``dask_client``, at least this many trials are kept
            submitted, so that an adaptive cluster (``cluster.adapt(maximum=...)``) grows to
            them: its scheduler starts workers only for the tasks it sees.

    Raises:
        ScenarioError: A field holds a value that is not allowed; the message names the field.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> from smacx import Scenario
        >>> s = Scenario(ConfigurationSpace({"x": (-5.0, 5.0)}), n_trials=20, output_directory=None)
        >>> s.n_trials
        20
    """

    configspace: ConfigurationSpace
    name: str | None = None
    output_directory: str | os.PathLike[str] | None = Path("smacx_output")
    deterministic: bool = False
    objectives: str | Sequence[str] = "cost"
    crash_cost: float | Sequence[float] = math.inf
    termination_cost_threshold: float | Sequence[float] = -math.inf
    n_trials: int | None = 100
    walltime_limit: float = math.inf
    cputime_limit: float = math.inf
    trial_walltime_limit: float | None = None
    trial_memory_limit: int | None = None
    instances: Sequence[str] | None = None
    instance_features: Mapping[str, Sequence[float] | np.ndarray] | None = None
    min_budget: float | None = None
    max_budget: float | None = None
    seed: int = 0
    n_workers: int = 1
    _fingerprint: str = field(init=False, repr=False, compare=False, default="")

    def __repr__(self) -> str:
        # (the space by its hyperparameters' names, and long lists and tables by their length
        # and first entries: a notebook showed a scenario of 2,000 instances in 190,000
        # characters, and so did an error that quoted it)
        parts = [f"{f.name}={_short_repr(getattr(self, f.name))}" for f in fields(self) if f.repr]
        return f"Scenario({', '.join(parts)})"

    def __hash__(self) -> int:
        # The generated hash would hash every field, and a ConfigurationSpace cannot be
        # hashed: equal scenarios share these fields, so they hash alike.
        return hash((self.name, self.deterministic, self.n_trials, self.seed, self.n_workers))

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # the documented way to normalize fields of a frozen dataclass
        if not isinstance(self.configspace, ConfigurationSpace):
            raise _fail("configspace", "a ConfigSpace.ConfigurationSpace", self.configspace)
        if len(list(self.configspace.values())) == 0:
            raise _fail("configspace", "a space with at least one hyperparameter", "an empty space")
        for hp in self.configspace.values():  # (refused here, for every preset)
            if isinstance(hp, IntegerHyperparameter):
                integer_span(hp)
            elif isinstance(hp, FloatHyperparameter):
                check_float_range(hp)
        if self.name is not None and not is_run_name(self.name):
            raise _fail("name", f"{RUN_NAME}, or None", self.name)
        if self.output_directory is not None:
            if not isinstance(self.output_directory, (str, os.PathLike)) or "\0" in str(
                self.output_directory
            ):
                raise _fail("output_directory", "a path (no NUL character) or None",
                            self.output_directory)  # fmt: skip
            set_(self, "output_directory", Path(self.output_directory).expanduser())
        if not isinstance(self.deterministic, bool):
            raise _fail("deterministic", "True or False", self.deterministic)

        objectives = (self.objectives,) if isinstance(self.objectives, str) else self.objectives
        if (
            not isinstance(objectives, Sequence)
            or not objectives
            or not all(isinstance(o, str) and o for o in objectives)
            or len(set(objectives)) != len(objectives)
        ):
            raise _fail("objectives", "a name or a sequence of distinct names", self.objectives)
        set_(self, "objectives", tuple(objectives))
        set_(self, "crash_cost", self._per_objective("crash_cost", self.crash_cost))
        if -math.inf in self.crash_costs:
            # -inf ranks a crash above every result: successive halving promoted crashes.
            raise _fail(
                "crash_cost", "numbers > -inf (inf, the default, or finite)", self.crash_cost
            )
        set_(
            self,
            "termination_cost_threshold",
            self._per_objective("termination_cost_threshold", self.termination_cost_threshold),
        )

        set_(self, "walltime_limit", _positive_or_inf("walltime_limit", self.walltime_limit))
        set_(self, "cputime_limit", _positive_or_inf("cputime_limit", self.cputime_limit))
        if self.n_trials is None:
            # Optuna's optimize(timeout=...) alone: a run bounded by time only
            if math.isinf(self.walltime_limit) and math.isinf(self.cputime_limit):
                raise ScenarioError(
                    "Scenario.n_trials may be None (no limit on the number of trials) only "
                    "with a walltime_limit or cputime_limit to end the run; got n_trials=None "
                    "and neither. Give one, e.g. Scenario(..., n_trials=None, "
                    "walltime_limit=3600), or an int n_trials."
                )
        else:
            if not isinstance(self.n_trials, numbers.Integral) or isinstance(self.n_trials, bool):
                raise _fail("n_trials", "an int >= 1, or None", self.n_trials)
            if self.n_trials < 1:
                raise _fail("n_trials", "an int >= 1, or None", self.n_trials)
            set_(self, "n_trials", int(self.n_trials))  # e.g. numpy ints, which JSON cannot hold
        if self.trial_walltime_limit is not None:
            limit = _positive_or_inf("trial_walltime_limit", self.trial_walltime_limit)
            if limit < 1:
                raise _fail(
                    "trial_walltime_limit",
                    "at least 1 second (pynisher enforces no shorter limit) or None",
                    self.trial_walltime_limit,
                )
            set_(self, "trial_walltime_limit", None if math.isinf(limit) else limit)
        if self.trial_memory_limit is not None:
            if (
                not isinstance(self.trial_memory_limit, numbers.Integral)
                or isinstance(self.trial_memory_limit, bool)
                or not 1 <= self.trial_memory_limit < 2**43  # bytes must fit in 63 bits
            ):
                raise _fail(
                    "trial_memory_limit",
                    "an int in [1, 2**43) (megabytes) or None",
                    self.trial_memory_limit,
                )
            set_(self, "trial_memory_limit", int(self.trial_memory_limit))

        self._validate_instances(set_)
        self._validate_budgets(set_)

        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool):
            raise _fail("seed", "an int >= 0", self.seed)
        if not 0 <= self.seed < 2**32:
            raise _fail("seed", "an int in [0, 2**32)", self.seed)
        set_(self, "seed", int(self.seed))
        if (
            not isinstance(self.n_workers, numbers.Integral)
            or isinstance(self.n_workers, bool)
            or self.n_workers < 1
        ):
            raise _fail(
                "n_workers",
                "an int >= 1 (for one worker per core, as Optuna's n_jobs=-1, give os.cpu_count())",
                self.n_workers,
            )
        set_(self, "n_workers", int(self.n_workers))

        identity = json.dumps(self.identity(), sort_keys=True)
        set_(self, "_fingerprint", hashlib.sha256(identity.encode()).hexdigest()[:16])

    def _per_objective(self, name: str, value: object) -> float | tuple[float, ...]:
        n = len(self.objectives)
        value = _plain(value)
        if _is_real(value) and not math.isnan(_as_float(value)):
            return _as_float(value) if n == 1 else (_as_float(value),) * n
        if (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and len(value) == n
            and all(_is_real(v) and not math.isnan(_as_float(v)) for v in value)
        ):
            floats = tuple(_as_float(v) for v in value)
            return floats[0] if n == 1 else floats
        raise _fail(name, f"a number or a sequence of {n} numbers (one per objective)", value)

    def _validate_instances(self, set_: Any) -> None:
        set_(self, "instances", _plain(self.instances))
        if self.instances is not None:
            if (
                isinstance(self.instances, str)
                or not isinstance(self.instances, Sequence)
                or not self.instances
            ):
                raise _fail(
                    "instances", "a non-empty sequence of non-empty strings", self.instances
                )
            bad = [k for k, i in enumerate(self.instances) if not (isinstance(i, str) and i)]
            if bad:  # which entries, not the whole list (1,000 names made a 15 KB message)
                shown = ", ".join(
                    f"[{k}] = {safe_repr(self.instances[k])[:80]}" for k in bad[:3]
                ) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
                raise ScenarioError(
                    "Scenario.instances must be a non-empty sequence of non-empty strings "
                    f"(instance names); got {len(bad)} of {len(self.instances)} entries that "
                    f"are not: {shown}. Name every instance, e.g. instances=[str(i) for i in "
                    "...] for numbered ones."
                )
            if len(set(self.instances)) != len(self.instances):
                twice = sorted(name for name, n in Counter(self.instances).items() if n > 1)
                raise ScenarioError(
                    f"Scenario.instances must be distinct instance names; got {len(twice)} "
                    f"more than once (of {len(self.instances)}): {twice[:10]!r}"
                    f"{' ...' if len(twice) > 10 else ''}. Remove the repeats."
                )
            set_(self, "instances", tuple(self.instances))
        if self.instance_features is None:
            return
        if self.instances is None:
            raise ScenarioError(
                "Scenario.instance_features was given without Scenario.instances; "
                "pass instances=[...] naming every instance that has features."
            )
        if not isinstance(self.instance_features, Mapping):
            raise ScenarioError(
                "Scenario.instance_features must be a mapping of instance name to features; "
                f"got {type(self.instance_features).__name__}. For one row of features per "
                "instance, in the order of Scenario.instances, pass "
                "dict(zip(instances, rows))."
            )
        missing = [i for i in self.instances if i not in self.instance_features]
        extra = [i for i in self.instance_features if i not in self.instances]
        if missing or extra:

            def few(names: list[Any]) -> str:  # (2,000 path names made 84 KB)
                more = f" and {len(names) - 5} more" if len(names) > 5 else ""
                return f"{len(names)} ({', '.join(safe_repr(n)[:80] for n in names[:5])}{more})"

            raise ScenarioError(
                "Scenario.instance_features must have exactly one entry per instance, keyed "
                f"by the names in Scenario.instances; got instances without features: "
                f"{few(missing)}, and features of no instance: {few(extra)}. Key the features "
                "by the instances' names as given (a path and its basename differ)."
            )
        features: dict[str, tuple[float, ...]] = {}
        for inst in self.instances:
            vec = _plain(self.instance_features[inst])
            if (
                isinstance(vec, str)
                or not isinstance(vec, Sequence)
                or not all(_is_real(v) and math.isfinite(_as_float(v)) for v in vec)
            ):
                raise _fail(f"instance_features[{inst!r}]", "a sequence of finite numbers", vec)
            features[inst] = tuple(float(v) for v in vec)
        by_length: dict[int, list[str]] = {}
        for inst, vec in features.items():
            by_length.setdefault(len(vec), []).append(inst)
        if len(by_length) != 1 or 0 in by_length:
            shown = "; ".join(
                f"{n} for {names[:3]!r}{' and more' if len(names) > 3 else ''}"
                for n, names in sorted(by_length.items())
            )
            raise ScenarioError(
                "Scenario.instance_features must be non-empty feature vectors of one length; "
                f"got lengths {shown}."
            )
        set_(self, "instance_features", _ReadOnly(features))

    def _validate_budgets(self, set_: Any) -> None:
        if (self.min_budget is None) != (self.max_budget is None):
            raise ScenarioError(
                "Scenario.min_budget and Scenario.max_budget must be given together; "
                f"got min_budget={self.min_budget!r}, max_budget={self.max_budget!r}."
            )
        if self.min_budget is None:
            return
        for name in ("min_budget", "max_budget"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(_as_float(value)) or value <= 0:
                raise _fail(name, "a finite number > 0", value)
            set_(self, name, float(value))
        assert self.max_budget is not None
        if self.min_budget > self.max_budget:
            raise ScenarioError(
                "Scenario.min_budget must be <= max_budget; "
                f"got min_budget={self.min_budget}, max_budget={self.max_budget}."
            )

    @property
    def n_objectives(self) -> int:
        """How many costs the target returns."""
        return len(self.objectives)

    @property
    def crash_costs(self) -> tuple[float, ...]:
        """``crash_cost`` as one value per objective."""
        c = self.crash_cost
        return (float(c),) if isinstance(c, (int, float)) else tuple(c)

    @property
    def crash_value(self) -> float | list[float]:
        """``crash_cost`` as :class:`~smacx.TrialValue` takes it.

        A number with one objective, else a list with one per objective.
        """
        costs = list(self.crash_costs)
        return costs[0] if len(costs) == 1 else costs

    @property
    def termination_costs(self) -> tuple[float, ...]:
        """``termination_cost_threshold`` as one value per objective."""
        c = self.termination_cost_threshold
        return (float(c),) if isinstance(c, (int, float)) else tuple(c)

    def check_unchanged(self) -> None:
        """Raise :class:`~smacx.errors.ScenarioError` if the search space this scenario holds
        was changed in place (``space.add(...)``) since the scenario was built: the scenario
        checked that space and named the run after it as it was then.

        ``SMAC(scenario, ...)`` calls this.
        """
        identity = json.dumps(self.identity(), sort_keys=True)
        if hashlib.sha256(identity.encode()).hexdigest()[:16] == self._fingerprint:
            return
        names = list(self.configspace)
        raise ScenarioError(
            "Scenario.configspace was changed after the Scenario was built (it now has the "
            f"hyperparameters {_short_repr(names, 8)}): the scenario checked the space and "
            "named the run after it as it was then, so the run would be stored as another "
            "experiment's. Build the Scenario once the space is complete: Scenario(space, ...) "
            "after the last space.add(...)."
        )

    @property
    def run_name(self) -> str:
        """``name``, or the fingerprint of the fields that define the run."""
        return self.name if self.name is not None else self._fingerprint

    @property
    def output_path(self) -> Path | None:
        """Folder of this run (``output_directory / run_name``), or None for in-memory runs."""
        if self.output_directory is None:
            return None
        return Path(self.output_directory) / self.run_name

    def identity(self) -> dict[str, Any]:
        """The fields that define the run, as JSON-ready values.

        Two scenarios with the same identity describe the same experiment; a run may be continued
        under a scenario that differs only in the fields of :data:`RESUMABLE_FIELDS`.
        """
        space = canonical_clauses(_json_ready(self.configspace.to_serialized_dict(), "configspace"))
        # ConfigSpace's own version is no part of the experiment: an upgrade of it must neither
        # rename a run nor keep it from being continued.
        space.pop("python_module_version", None)
        return {
            "configspace": space,
            "deterministic": self.deterministic,
            "objectives": list(self.objectives),
            "crash_cost": list(self.crash_costs),
            "trial_walltime_limit": self.trial_walltime_limit,
            "trial_memory_limit": self.trial_memory_limit,
            "instances": None if self.instances is None else list(self.instances),
            "instance_features": None
            if self.instance_features is None
            else {k: list(v) for k, v in self.instance_features.items()},
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "seed": self.seed,
        }


def comparable_identity(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored scenario identity as :meth:`Scenario.identity` gives it now: an earlier
    smacx stored ConfigSpace's version with the space, which is no part of the run, and the
    values and members of conditions and clauses in the order the script gave them."""
    if isinstance(stored.get("configspace"), dict):
        stored["configspace"].pop("python_module_version", None)
        stored["configspace"] = canonical_clauses(stored["configspace"])
    return stored


def identity_difference(stored: dict[str, Any], given: dict[str, Any]) -> str:
    """What differs between two scenario identities (``Scenario.identity()``), field by field,
    as "field: stored ..., given ..."; for the space, which of its parts."""
    parts = []
    objectives = stored.get("objectives"), given.get("objectives")
    # The objectives first; a crash cost per objective differs in length only because they
    # do (a message led with "crash_cost: 1 stored, 2 given", its cause after it).
    keys = sorted(set(stored) | set(given), key=lambda f: (f != "objectives", f))
    for name in keys:
        old, new = stored.get(name), given.get(name)
        if old == new:
            continue
        if (
            name == "crash_cost"
            and all(isinstance(x, list) for x in (old, new, *objectives))
            and (len(old), len(new)) == (len(objectives[0]), len(objectives[1]))  # type: ignore[arg-type]
            and len(old) != len(new)  # type: ignore[arg-type]
        ):
            continue
        if name == "configspace" and isinstance(old, dict) and isinstance(new, dict):
            parts.append(f"configspace ({_space_difference(old, new)})")
        elif isinstance(old, (list, dict)) and isinstance(new, type(old)):
            parts.append(f"{name}: {_collection_difference(old, new)}")
        else:
            parts.append(f"{name}: stored {old!r:.160}, given {new!r:.160}")
    return "; ".join(parts)


def _collection_difference(old: list[Any] | dict[str, Any], new: list[Any] | dict[str, Any]) -> str:
    """What differs between two lists (say, of instances) or dicts (instance features): the
    entries only one has, else the first place they differ; a long list's reprs cut at the
    same length would look alike."""

    def listed(items: list[Any]) -> str:
        shown = ", ".join(repr(x) for x in items[:5])
        return f"{shown}{f' and {len(items) - 5} more' if len(items) > 5 else ''}"

    if isinstance(old, dict) and isinstance(new, dict):
        gone, added = [k for k in old if k not in new], [k for k in new if k not in old]
        changed = [k for k in old if k in new and old[k] != new[k]]
        parts = [f"no longer given {listed(gone)}"] * bool(gone)
        parts += [f"new {listed(added)}"] * bool(added)
        parts += [f"changed {listed(changed)}"] * bool(changed)
        if changed:
            parts[-1] += f" (the first: {old[changed[0]]!r:.80} -> {new[changed[0]]!r:.80})"
        return ", ".join(parts) or "the order of its entries"
    assert isinstance(old, list) and isinstance(new, list)
    with contextlib.suppress(TypeError):  # (entries that are not hashable)
        old_set, new_set = set(old), set(new)
        gone = [x for x in old if x not in new_set]
        added = [x for x in new if x not in old_set]
        if gone or added:
            parts = [f"no longer given {listed(gone)}"] * bool(gone)
            parts += [f"new {listed(added)}"] * bool(added)
            return f"{', '.join(parts)} ({len(old)} stored, {len(new)} given)"
    at = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
    return (
        f"{len(old)} stored, {len(new)} given; the first difference at position {at}: stored "
        f"{old[at : at + 3]!r:.120}, given {new[at : at + 3]!r:.120}"
    )


def _space_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Which hyperparameters, conditions, forbidden clauses or other entries of two serialized
    spaces (``ConfigurationSpace.to_serialized_dict()``) differ."""
    parts = []
    old_hps = {hp.get("name"): hp for hp in old.get("hyperparameters") or []}
    new_hps = {hp.get("name"): hp for hp in new.get("hyperparameters") or []}
    if set(old_hps) - set(new_hps):
        parts.append(f"hyperparameters no longer given: {sorted(set(old_hps) - set(new_hps))}")
    if set(new_hps) - set(old_hps):
        parts.append(f"new hyperparameters: {sorted(set(new_hps) - set(old_hps))}")
    for name in sorted(set(old_hps) & set(new_hps)):
        if old_hps[name] != new_hps[name]:
            keys = set(old_hps[name]) | set(new_hps[name])
            changes = [
                f"{k} {old_hps[name].get(k)!r:.160} -> {new_hps[name].get(k)!r:.160}"
                for k in sorted(keys)
                if old_hps[name].get(k) != new_hps[name].get(k)
            ]
            parts.append(f"{name!r}: {', '.join(changes)}")
    for key in sorted((set(old) | set(new)) - {"hyperparameters"}):
        if old.get(key) != new.get(key):
            parts.append(f"{key}: stored {old.get(key)!r:.160}, given {new.get(key)!r:.160}")
    return "; ".join(parts) or "the order of its entries"
