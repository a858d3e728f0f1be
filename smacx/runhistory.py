"""The run history: every configuration and trial of an experiment, kept in a storage.

The history is the only state of a run. Everything else (the incumbent, racing state, the model's
training data) is derived from it, so a run that is continued, or shared by several processes,
needs nothing but its storage. Each trial is written through the moment it starts and the moment
it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter

from smacx.errors import (
    ScenarioError,
    StorageError,
    TrialError,
    is_whole,
    one_line,
    printable,
    smac3_method,
    smac3_names,
)
from smacx.storage import (
    ConfigRecord,
    Storage,
    TrialRecord,
    abandoned,
    comes_after,
    json_default,
    owner_id,
)
from smacx.storage.memory import MemoryStorage
from smacx.trial import (
    StatusType,
    TrialInfo,
    TrialKey,
    TrialValue,
    aggregate_costs,
    halved_if_wide,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RunHistory",
    "config_from_json",
    "config_to_json",
    "failure_reasons",
    "objective_column",
    "plain_config",
    "same_space",
    "SeedNoise",
    "seed_noise",
    "settings_text",
]

logger = logging.getLogger("smacx")

_D = TypeVar("_D")


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, also inside a tuple (a categorical's
    choice ``(np.int64(64), 64)`` failed as JSON); other values as they are."""
    if isinstance(value, tuple):
        return tuple(plain_value(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float in it, at any depth of dicts, lists and tuples,
    replaced by None.

    Python's json writes ``Infinity`` and ``NaN`` (the cost of a crashed trial is inf), which
    jq, JavaScript and most other parsers reject; JavaScript's own writer uses null instead.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def plain_config(config: Configuration) -> Configuration:
    """``config`` with plain Python values, as targets get every configuration.

    A configuration built from a vector holds numpy scalars (``np.int64``, ``np.str_``) for
    categorical and ordinal values; one built from values, as the initial design's and the
    stored ones are, holds what the user gave. A target that e.g. logs its configuration as
    JSON would then work on some trials and crash on others.
    """
    if not any(isinstance(value, np.generic) for value in config.values()):
        return config
    return Configuration(
        config.config_space,
        values={name: plain_value(value) for name, value in config.items()},
        origin=config.origin,
    )


def _from_json(value: Any) -> Any:
    """A stored value as the space holds it: JSON turns tuples (e.g. a categorical's choice
    ``(50, 50)`` of layer sizes) into lists, which no choice is, since lists do not hash."""
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


def same_space(a: ConfigurationSpace, b: ConfigurationSpace) -> bool:
    """Whether two ConfigSpace spaces are the same space.

    Identity first (comparing is slow), then ConfigSpace's ``==``, then their serialized
    forms: ConfigSpace 1.2's ``==`` finds a space with a log-scale integer unequal to its own
    copy through pickle (its distribution object compares by identity), so a configuration
    that came back from a process pool seemed to be of another space.
    """
    if a is b or bool(a == b):
        return True
    try:
        return bool(a.to_serialized_dict() == b.to_serialized_dict())
    except (AttributeError, TypeError, ValueError):  # not spaces, or spaces it cannot write
        return False


def config_from_json(configspace: ConfigurationSpace, text: str) -> Configuration:
    """The configuration of ``configspace`` whose :func:`config_to_json` is ``text``."""
    values = {name: _from_json(value) for name, value in json.loads(text).items()}
    return Configuration(configspace, values=values)


#: The numbers in a failed trial's reason (see failure_reasons).
_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
#: How many reasons that differ only in their numbers failure_reasons lists apart.
_NUMBER_VARIANTS = 4


def failure_reasons(
    trials: Iterable[tuple[TrialKey, TrialValue]], command: str | None = None
) -> list[dict[str, Any]]:
    """The finished trials that did not succeed, grouped by status and reason, most frequent
    first: each group's ``status``, ``reason`` (on one line; where more than four reasons
    differ only in their numbers, one, with ``...`` for the numbers that differ), ``count`` of
    trials, number of ``configs`` and the first five ``config_ids``. With the ``command``
    template of a knob file, a reason shows the template where it quoted the trial's command,
    so that trials that failed alike with other knob values or seeds count together.

    Args:
        trials: (key, value) pairs, such as :meth:`RunHistory.items`.
        command: A knob file's command template, if the target is one.
    """
    exact: dict[tuple[str, str], list[int]] = {}
    for key, value in trials:
        if value.status in (StatusType.RUNNING, StatusType.SUCCESS):
            continue
        reason = _reason(value.additional_info, command)
        exact.setdefault((value.status.name, reason), []).append(key.config_id)
    # Reasons that differ only in their numbers, in more than _NUMBER_VARIANTS ways, are one
    # (their numbers shown where they agree): 20 trials that ran out of GPU memory were
    # listed as 7 reasons, one per size they tried to allocate (an audit). A few variants
    # stay apart: exit statuses 1, 2, 137 and 139 say different things (a review).
    shapes: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for status, reason in exact:
        shapes.setdefault((status, tuple(_NUMBER.split(reason)[::2])), []).append(reason)
    groups: dict[tuple[str, str], list[int]] = {}
    for (status, _), reasons in shapes.items():
        if len(reasons) <= _NUMBER_VARIANTS:
            for reason in reasons:
                groups[status, reason] = exact[status, reason]
            continue
        split = [_NUMBER.split(reason) for reason in reasons]
        merged = [
            part if i % 2 == 0 or len({s[i] for s in split}) == 1 else "..."
            for i, part in enumerate(split[0])
        ]
        groups[status, "".join(merged)] = [c for r in reasons for c in exact[status, r]]
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "status": status,
            "reason": reason,
            "count": len(ids),
            "configs": len(set(ids)),
            "config_ids": sorted(set(ids))[:5],
        }
        for (status, reason), ids in ranked
    ]


@dataclasses.dataclass(frozen=True)
class SeedNoise:
    """How much one configuration's cost varies between seeds, as a noisy run's repeated
    trials show it.

    Attributes:
        sd: The pooled standard deviation of the first objective between the successful
            trials of one configuration on one instance at one budget (seeds only differ), in
            the cost's own units.
        configs: How many configurations it is pooled over: those with two or more such
            trials on an instance at a budget.
        incumbent_n: The incumbent's successful trials at its budget, on all instances; None
            without an incumbent.
        incumbent_se: The standard error of the incumbent's mean cost, ``sd`` over the square
            root of ``incumbent_n``; None without an incumbent.
        close: How many other configurations, run on at least as many seeds at the
            incumbent's budget, have a mean cost within two standard errors of a difference
            (``2 * sd * sqrt(1/n + 1/m)``) of the incumbent's: noise could have put any of
            them first. None with instances (means over other instances do not compare) or
            without an incumbent.
    """

    sd: float
    configs: int
    incumbent_n: int | None = None
    incumbent_se: float | None = None
    close: int | None = None

    def text(self) -> str:
        """The estimate on one line, as ``SMAC.summary()`` and ``smacx show`` print it after
        ``noise:``."""
        line = (
            f"the cost varies by sd {self.sd:.4g} between seeds of one configuration "
            f"(pooled over {self.configs} configuration{'s' if self.configs != 1 else ''} "
            "run on several)"
        )
        if self.incumbent_se is None:
            return line
        line += (
            f"; the incumbent's mean over {self.incumbent_n} trials has a standard error of "
            f"{self.incumbent_se:.3g}"
        )
        if self.close:
            line += (
                f", and {self.close} other configuration{'s' if self.close > 1 else ''} run on "
                "as many seeds lie within two standard errors of it: rerun it on fresh seeds "
                "before trusting its cost (SMAC.validate() does)"
            )
        return line


def settings_text(seed: int | None, deterministic: bool | None, preset: str | None) -> str:
    """What a run was made with, on one line, as ``SMAC.summary()`` and ``smacx show`` print
    it: its seed, whether it is deterministic, its preset (the latest it ran with); each left
    out when not known."""
    parts = [] if seed is None else [f"seed {seed}"]
    if deterministic is not None:
        parts.append("deterministic" if deterministic else "not deterministic")
    if preset:
        parts.append(f"preset {preset!r}")
    return ", ".join(parts) or "not stored"


def seed_noise(
    trials: Iterable[tuple[TrialKey, TrialValue]],
    incumbent: int | None = None,
    budget: float | None = None,
) -> SeedNoise | None:
    """The noise between seeds of a run's trials: see :class:`SeedNoise`.

    Args:
        trials: (key, value) pairs, such as :meth:`RunHistory.items`.
        incumbent: The incumbent's config id, for its standard error and the configurations
            close to it.
        budget: The budget the incumbent's cost is at (None without budgets).

    Returns:
        The estimate, or None when fewer than two degrees of freedom (e.g. two trials of one
        configuration) are there to pool, or the costs' spread is not finite.
    """
    groups: dict[tuple[int, str | None, float | None], list[float]] = {}
    for key, value in trials:
        if value.status is StatusType.SUCCESS:
            cost = value.costs()[0]
            if math.isfinite(cost):
                groups.setdefault((key.config_id, key.instance, key.budget), []).append(cost)
    repeated = [np.asarray(costs) for costs in groups.values() if len(costs) > 1]
    n_configs = len({k[0] for k, costs in groups.items() if len(costs) > 1})
    dof = sum(len(costs) - 1 for costs in repeated)
    if dof < 2:
        return None
    # (equal costs deviate by 0, not by the mean's rounding: a target whose cost did not vary
    # between seeds was said to vary by sd 7.7e-16)
    deviations = np.concatenate(
        [
            costs - aggregate_costs(costs[:, None])[0] if costs.min() < costs.max() else 0.0 * costs
            for costs in repeated
        ]
    )
    scale = float(np.max(np.abs(deviations)))
    if not math.isfinite(scale):
        return None
    sd = scale * math.sqrt(float(np.sum((deviations / scale) ** 2)) / dof) if scale > 0 else 0.0
    if incumbent is None:
        return SeedNoise(sd, n_configs)
    # each configuration's costs at the incumbent's budget, on every instance
    at_budget: dict[int, list[float]] = {}
    for (config_id, _, group_budget), costs in groups.items():
        if group_budget == budget:
            at_budget.setdefault(config_id, []).extend(costs)
    mine = at_budget.get(incumbent)
    if not mine:
        return SeedNoise(sd, n_configs)
    n = len(mine)
    close = None
    if all(k[1] is None for k in groups):
        centre = float(aggregate_costs(np.asarray(mine)[:, None])[0])
        others = [c for config_id, c in at_budget.items() if config_id != incumbent and len(c) >= n]
        close = sum(
            abs(float(aggregate_costs(np.asarray(c)[:, None])[0]) - centre)
            <= 2 * sd * math.sqrt(1 / n + 1 / len(c))
            for c in others
        )
    return SeedNoise(sd, n_configs, n, sd / math.sqrt(n), close)


def _with_template(text: str, template: str) -> str:
    """``text`` (a reason, its whitespace collapsed) with the command that ``template`` (a
    knob file's) made replaced by the template: found by the template's literal parts, in
    order, after the reason's first ``": "`` (each placeholder a word between them). In one
    pass, whatever the template: a text without them is returned as it is."""
    import string

    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return text
    literals = [" ".join(literal.split()) for literal, _, _, _ in parts]
    found = [literal for literal in literals if literal]
    head = text.find(": ")
    if not found or head < 0:
        return text
    start = text.find(found[0], head + 2)
    if start < 0:
        return text
    end = start + len(found[0])
    for literal in found[1:]:
        at = text.find(literal, end)
        if at < 0:
            return text
        end = at + len(literal)
    # The words of placeholders before the first literal part and after the last.
    flat = " ".join(
        "".join(
            literal + ("\0" if field is not None else "") for literal, field, *_ in parts
        ).split()
    )
    first, last = flat.find(found[0]), flat.rfind(found[-1]) + len(found[-1])
    for _ in flat[:first].split():
        start = text.rfind(" ", 0, max(start - 1, 0)) + 1
    for _ in flat[last:].split():
        space = text.find(" ", end + 1)
        end = len(text) if space < 0 else space
    return text[:start] + " ".join(template.split()) + text[end:]


#: The path of a command's ``{trial_dir}``: a temporary ``smacx-trial-...`` folder, or one
#: ``trial-XXXXXXXX`` under a knob file's ``trial_root``.
_TRIAL_FOLDER = re.compile(r"(?:/[^\s/'\"]+)*/(?:smacx-trial-[\w-]+|trial-[a-z0-9_]{8}(?![\w.-]))")


def _reason(info: Any, command: str | None = None) -> str:
    """A failed trial's reason on one line: its ``error`` (the last line of its traceback if
    it has none), without what differs between trials that failed alike: the measured time
    a time-out's reason ends with, the memory a command held, the path of a command's
    ``{trial_dir}``, and the address of a dask worker that died."""
    if not isinstance(info, dict):
        return "(no reason stored)"
    text = str(info.get("error") or "").strip()
    if not text:
        text = (str(info.get("traceback") or "").strip().splitlines() or [""])[-1]
    text = re.sub(r" \(\d+(\.\d+)? s\)$", "", " ".join(text.split()))
    text = re.sub(r"\bheld \d+ MB of memory\b", "held ... MB of memory", text)  # (as measured)
    if command:
        text = _with_template(text, command)
    text = _TRIAL_FOLDER.sub("{trial_dir}", text)
    text = re.sub(r"\b(tcp|tls|inproc|ucx|ws|wss)://[^\s),]+", r"\1://...", text)
    # (safe to print: what a target or another writer of the run stored, the summary and
    # the warning of a run without incumbent quote)
    text = printable(text)
    return (text[:197] + "...") if len(text) > 200 else text or "(no reason stored)"


def _keep_leases(history: RunHistory, stop: threading.Event) -> None:
    """Start a daemon thread that renews the leases of ``history``'s running trials every
    fifth of its ``lease_seconds``, until ``stop`` is set (the history is closed) or the
    history is garbage.

    A renewal that fails (the database unreachable for a while) is tried again at the next
    turn, and renews leases that ran out meanwhile too, unless another process has taken the
    trial over: one failure used to end the renewals for good, and the process's trials went
    to other hosts while it still ran them.
    """
    ref = weakref.ref(history)
    interval = history.lease_seconds / 5.0

    def renew() -> None:
        failing = False
        while not stop.wait(interval):
            current = ref()
            if current is None:
                return
            try:
                now = current.now()
                current.storage.renew_leases(current.owner, now + current.lease_seconds, now)
                if failing:
                    logger.info("The leases of this process's running trials are renewed again.")
                failing = False
            except Exception as err:
                if stop.is_set():  # closed meanwhile
                    return
                if not failing:
                    logger.warning(
                        "Cannot renew the leases of this process's running trials (%s); trying "
                        "again every %.0f s. Processes on other hosts take a trial over once "
                        "its lease of %.0f s has run out.",
                        one_line(err),
                        interval,
                        current.lease_seconds,
                    )
                failing = True
            finally:
                del current

    threading.Thread(target=renew, name="smacx-leases", daemon=True).start()


def config_to_json(config: Configuration) -> str:
    """Canonical JSON of a configuration's active values (sorted keys, plain Python types),
    each spelled as its hyperparameter spells it (see :func:`canonical_value`)."""
    space = config.config_space
    return json.dumps(
        {k: canonical_value(space[k], v) for k, v in dict(config).items()}, sort_keys=True
    )


def canonical_value(hp: Any, value: Any) -> Any:
    """``value`` of hyperparameter ``hp`` as one spelling of all the values ConfigSpace finds
    equal: a float's as a float (``0``, ``0.0`` and ``-0.0`` are one), a categorical's or an
    ordinal's as the item of its choices it equals (``1.0`` for the choice ``1``, ``True`` for
    ``1``). Spelled differently, one configuration was evaluated again and again in a
    deterministic run (four spellings in an initial design, four trials)."""
    value = plain_value(value)
    if isinstance(hp, FloatHyperparameter):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) + 0.0  # (+ 0.0: -0.0 is 0.0)
        return value
    if isinstance(hp, IntegerHyperparameter):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    items = getattr(hp, "choices", None) or getattr(hp, "sequence", None)
    if items:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            return plain_value(items[items.index(value)])
    return value


#: Key in a running trial's ``additional_info``: how many processes died while they ran it.
DEATHS = "smacx_deaths"

#: Deaths after which a trial is recorded CRASHED instead of run again (see ``SMAC``): without
#: per-trial limits a configuration that kills its process would kill every resumed run.
MAX_DEATHS = 3


def _deaths(value: TrialValue) -> int:
    """The death count a running trial's value holds (0 if none or damaged)."""
    count = value.additional_info.get(DEATHS, 0)
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


#: How to read a stored run, for SMAC3's names of loading one.
_REOPEN = (
    "SMAC(scenario) on the run's output_directory and name, which reopens a stored run (its "
    "runhistory attribute), or `smacx show RUN --json`"
)


@smac3_names(
    {
        "save": "to_json(path); a run with an output_directory is stored as it goes",
        "save_json": "to_json(path)",
        "load": _REOPEN,
        "load_json": _REOPEN,
        "update_from_json": _REOPEN,
        "empty": "n_finished == 0",
        "submitted": "n_submitted (trials started: finished or running)",
        "get_running_trials": "running()",
        "get_instance_seed_budget_keys": "trial_keys(config_id) or get_trials(config)",
        "ids_config": "get_config(config_id)",
        "average_cost": "get_cost(config), the mean over its finished trials (several "
        "objectives: get_costs(config), the mean of each, as SMAC3's average_cost gives them; "
        "get_cost scales them into one number)",
        "get_instance_costs_for_config": "get_trial_values(config), by trial key (instance, "
        "seed, budget)",
        "min_cost": "get_min_cost(config)",
        "sum_cost": "sum(v.cost for v in get_trial_values(config).values())",
    }
)
class RunHistory:
    """Configurations and trials of one experiment, backed by a :class:`~smacx.storage.Storage`.

    Args:
        configspace: The search space the stored configurations belong to.
        objectives: Names of the costs; a trial's cost has one entry per objective.
        storage: Where the history is kept; in memory by default.
        lease_seconds: How long a trial this process claims stays its own, for processes on
            other hosts (or in other containers), without a sign of life. Processes on the
            same host see whether the claimant still runs, and never take over a live one's
            trial (even one suspended with SIGSTOP: such a run can end short of ``n_trials``
            while it stays stopped). With a finite lease, a background thread renews the
            leases of this process's running trials every fifth of it while the history is
            in use, so a trial runs again about that long after its process died elsewhere.
            ``math.inf``: trials are never taken over from a process that looks alive.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> from smacx import RunHistory, TrialInfo, TrialValue
        >>> cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
        >>> rh = RunHistory(cs)
        >>> info = TrialInfo(cs.get_default_configuration(), seed=0)
        >>> key = rh.add_running(info)
        >>> key = rh.add(info, TrialValue(cost=0.25))
        >>> rh.get_cost(info.config), rh.n_finished
        (0.25, 1)
    """

    def __init__(
        self,
        configspace: ConfigurationSpace,
        *,
        objectives: Sequence[str] = ("cost",),
        storage: Storage | None = None,
        lease_seconds: float = math.inf,
    ) -> None:
        if not lease_seconds > 0:
            raise TrialError(
                f"RunHistory.lease_seconds must be > 0 (seconds); got {lease_seconds!r}."
            )
        self.configspace = configspace
        self.objectives = tuple(objectives)
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self._clock: Callable[[], float] = getattr(self.storage, "now", time.time)
        self.owner = owner_id()
        self.lease_seconds = float(lease_seconds)
        self._configs: dict[int, Configuration] = {}
        self._origins: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._finished: dict[TrialKey, TrialValue] = {}
        self._running: dict[TrialKey, TrialRecord] = {}
        self._running_per_config: dict[int, dict[TrialKey, None]] = {}  # insertion-ordered
        self._by_config: dict[int, dict[TrialKey, TrialValue]] = {}
        self._cost_cache: dict[int, list[float]] = {}
        self._finished_log: list[TrialKey] = []
        self._last_config_id = 0
        self._last_version = 0
        self._meta_at_close: dict[str, str] | None = None
        # One sync at a time: a thread that applied rows it read before another thread's sync
        # read and applied newer ones brought a finished trial back as RUNNING, for good.
        self._sync_lock = threading.RLock()
        self.sync()
        self._closed = threading.Event()
        if math.isfinite(self.lease_seconds) and callable(
            getattr(self.storage, "renew_leases", None)
        ):
            _keep_leases(self, self._closed)
            weakref.finalize(self, self._closed.set)  # collected unclosed: the thread ends too

    def __repr__(self) -> str:
        return (
            f"RunHistory(objectives={list(self.objectives)}, configurations={self.n_configs}, "
            f"finished={self.n_finished}, running={self.n_running}, "
            f"storage={type(self.storage).__name__})"
        )

    def close(self) -> None:
        """Stop renewing the leases of this process's running trials and close the storage."""
        self._closed.set()
        # (what a pickled copy holds besides the trials: read now, as `with SMAC(...)` ends,
        # the usual moment to keep a run; a review found the trajectory lost)
        self._meta_at_close = self._snapshot_meta()
        self.storage.close()

    def _snapshot_meta(self) -> dict[str, str]:
        """The stored records a pickled copy keeps: the scenario and the trajectory."""
        if self._meta_at_close is not None:
            return dict(self._meta_at_close)
        meta = {}
        for name in ("scenario", "trajectory"):
            with contextlib.suppress(Exception):  # (a damaged or unreachable storage)
                text = self.storage.get_meta(name)
                if text is not None:
                    meta[name] = text
        return meta

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (``pickle``, ``joblib.dump``, ``copy.deepcopy``) as a snapshot in memory:
        its configurations, trials, trajectory and scenario as they are now, unbound from the
        storage (a database connection, locks and the lease thread cannot be pickled; an
        audit found none of a finished run's histories could be saved so). A closed history
        gives what it held as it closed."""
        configs = [
            ConfigRecord(config_id, config_to_json(config), self._origins.get(config_id, ""))
            for config_id, config in sorted(self._configs.items())
        ]
        trials = [
            TrialRecord(key, value, self.owner, 0.0, i)
            for i, (key, value) in enumerate(self._finished.items(), start=1)
        ] + [
            dataclasses.replace(record, version=len(self._finished) + i)
            for i, record in enumerate(self._running.values(), start=1)
        ]
        storage = MemoryStorage.copy_of(configs, trials, self._snapshot_meta())
        return (_unpickled_history, (self.configspace, self.objectives, storage))

    # -- reading from storage ------------------------------------------------------------------

    def sync(self) -> int:
        """Read what was written to storage since the last sync (by this or other processes).

        Returns:
            How many trial rows changed.
        """
        # Trials first: a trial's configuration is stored before the trial, so every trial
        # read here finds its configuration in the read that follows, even while other
        # processes write between the two reads.
        with self._sync_lock:
            records = self.storage.read_trials(self._last_version)
            for rec in self.storage.read_configs(self._last_config_id):
                config = config_from_json(self.configspace, rec.config_json)
                config.config_id = rec.config_id
                self._configs[rec.config_id] = config
                self._origins[rec.config_id] = rec.origin
                self._ids[rec.config_json] = rec.config_id
                self._last_config_id = max(self._last_config_id, rec.config_id)
            for record in records:
                if record.value.status is not StatusType.RUNNING:
                    self._check_objectives(record)
                self._apply(record)
            return len(records)

    def _check_objectives(self, rec: TrialRecord) -> None:
        """Refuse a stored result with another number of costs than this history's objectives
        (a run of several opened as one of one took its first cost for the only one)."""
        n = len(rec.value.costs())
        if n == len(self.objectives):
            return
        stored = None
        with contextlib.suppress(Exception):  # (the stored scenario names them, if there is one)
            stored = json.loads(self.storage.get_meta("scenario") or "{}").get("objectives")
        names = f" {stored}" if stored else ""
        raise ScenarioError(
            f"RunHistory: the stored trials have {n} costs each (objectives{names}), but this "
            f"history has {len(self.objectives)} objective(s) {list(self.objectives)}. Pass "
            f"the run's objectives: RunHistory(space, objectives={stored or ['...'] * n}, "
            "storage=...)."
        )

    def _apply(self, rec: TrialRecord) -> None:
        self._last_version = max(self._last_version, rec.version)
        key = rec.key
        if rec.value.status is StatusType.RUNNING:
            self._running_per_config.setdefault(key.config_id, {})[key] = None
            self._running[key] = rec
            return
        if self._running.pop(key, None) is not None:
            left = self._running_per_config[key.config_id]
            left.pop(key, None)
            if not left:
                del self._running_per_config[key.config_id]
        if key not in self._finished:
            self._finished_log.append(key)
        self._finished[key] = rec.value
        self._by_config.setdefault(key.config_id, {})[key] = rec.value
        self._cost_cache.pop(key.config_id, None)

    # -- writing -------------------------------------------------------------------------------

    def add_config(self, config: Configuration, origin: str = "") -> int:
        """The stable id of ``config``, storing it first if it is new.

        Sets ``config.config_id`` to that id unless another history set it first; every
        configuration this history holds has its own.

        Args:
            config: A configuration of this history's space.
            origin: Where it came from (``"sobol"``, ``"random"``, ``"local search"``, ...).
        """
        text = config_to_json(config)
        config_id = self._ids.get(text)
        if config_id is None:
            config_id = self.storage.add_config(text, origin)
            kept = plain_config(config)
            if kept is config and config.config_id not in (None, config_id):
                # another history's (a run's incumbent told to another run): its id stays
                kept = Configuration(config.config_space, values=dict(config), origin=config.origin)
            kept.config_id = config_id
            self._configs[config_id] = kept
            self._origins[config_id] = origin
            self._ids[text] = config_id
        # (as SMAC3's history does: code ported from it reads ``incumbent.config_id``), unless
        # another history named it first: that one's stored object it may be (a review)
        if config.config_id is None:
            config.config_id = config_id
        return config_id

    def add_incumbent(self, entry: dict[str, Any]) -> bool:
        """Append a change of incumbent to the stored trajectory (see :meth:`trajectory`).

        Returns:
            Whether it was appended: not if the trajectory already has an entry made after as
            many finished trials (``n_finished``) or more, by a process whose view of a shared
            run was as new as this one's or newer.
        """
        item = json.dumps(entry, default=repr)
        append = getattr(self.storage, "append_meta", None)
        if append is not None:
            return bool(append("trajectory", item, order_by="n_finished"))
        # a storage written before append_meta: not atomic across processes
        trajectory = self.trajectory()
        if not comes_after(trajectory, json.loads(item), "n_finished"):
            return False
        self.storage.set_meta("trajectory", json.dumps([*trajectory, json.loads(item)]))
        return True

    def trajectory(self) -> list[dict[str, Any]]:
        """Every change of incumbent so far, oldest first, as stored with the run.

        Each entry holds the incumbent's ``config_id``, its ``cost`` (one per objective), the
        number of finished trials (``n_finished``) and the seconds since the run started
        (``walltime``: since the first ``ask()``, ``tell()`` or ``optimize()`` of any process
        on it, a continued run's time in between included). With several objectives also the
        whole Pareto front: ``config_ids`` and their ``costs``, best first.
        """
        if self._meta_at_close is not None:  # (the storage is closed: what it held then)
            stored = self._meta_at_close.get("trajectory")
        else:
            stored = self.storage.get_meta("trajectory")
        return [] if stored is None else list(json.loads(stored))

    def now(self) -> float:
        """The time (Unix seconds) that leases and the start of running trials are kept in: the
        storage's clock if it has one (a PostgreSQL server's, which every machine sharing the
        run reads alike), else this machine's."""
        return self._clock()

    def key_of(self, info: TrialInfo) -> TrialKey:
        """The key of a trial, storing its configuration first if it is new."""
        return TrialKey(self.add_config(info.config), info.instance, info.seed, info.budget)

    def add_running(
        self,
        info: TrialInfo,
        *,
        lease_seconds: float | None = None,
        max_trials: int | None = None,
    ) -> TrialKey | None:
        """Record that a trial starts, claiming it for this process.

        Args:
            info: The trial.
            lease_seconds: How long processes on other hosts must wait before taking the trial
                over when this process stops renewing (inf: never while it may be alive); by
                default the history's ``lease_seconds``.
            max_trials: Claim a new trial only while the storage holds fewer trials (checked in
                the claim's transaction, so processes sharing the history cannot overshoot).

        Returns:
            The trial's key; None when ``max_trials`` trials were there already.

        Raises:
            TrialError: The trial is already finished or running.
        """
        key = self.key_of(info)
        now = self.now()
        record = TrialRecord(
            key,
            TrialValue(status=StatusType.RUNNING, starttime=now),
            self.owner,
            now + (self.lease_seconds if lease_seconds is None else lease_seconds),
        )
        claimed = (  # (a storage of one's own may not take max_trials: only pass it if set)
            self.storage.claim_trial(record, now)
            if max_trials is None
            else self.storage.claim_trial(record, now, max_trials=max_trials)
        )
        if not claimed:
            self.sync()
            if max_trials is not None and key not in self._finished and key not in self._running:
                return None  # the budget is spent
            state = "finished" if key in self._finished else "running"
            raise TrialError(f"trial {_describe(key)} is already {state}; every trial is run once.")
        self.sync()
        return key

    def add(self, info: TrialInfo, value: TrialValue) -> TrialKey:
        """Record a trial's result; it is in storage when this returns.

        A result for a trial that another process already finished is dropped with a warning (the
        first result wins).

        Raises:
            TrialError: ``value`` has the wrong number of costs or the status RUNNING.
        """
        self.check_result(info, value)
        if len(self.objectives) == 1 and isinstance(value.cost, list):
            # (told as [0.1]: stored as the float every other single-objective cost is, which
            # min() over the costs compares with, as SMAC3 does)
            value = dataclasses.replace(value, cost=value.cost[0])
        key = self.key_of(info)
        running = self._running.get(key)
        if value.starttime == 0.0 and value.endtime == 0.0 and running is not None:
            # A result told by hand (TrialValue's times default to 0) of a trial asked here:
            # it ran from its claim to now, not from 1970 (where `smacx show --trials` and
            # to_dataframe() put it, first of all).
            value = dataclasses.replace(
                value,
                starttime=running.value.starttime,
                endtime=max(self.now(), running.value.starttime),
            )
        try:
            stored = self.storage.finish_trial(TrialRecord(key, value, self.owner, 0.0))
        except StorageError as err:
            # (the result, which may have taken hours, is at least in the error)
            raise StorageError(
                f"{err} The result of trial {_describe(key)}, {value.status.name} with cost "
                f"{value.cost!r}, was not stored: the trial runs again when the run continues."
            ) from err
        if not stored:
            logger.warning("Trial %s was finished already; this result is dropped.", _describe(key))
        self.sync()
        return key

    def check_result(self, info: TrialInfo, value: TrialValue) -> None:
        """Refuse a result :meth:`add` would not record, without recording anything.

        Raises:
            TrialError: ``value`` has the wrong number of costs or the status RUNNING.
        """
        if value.status is StatusType.RUNNING:
            raise TrialError(f"a result needs a final status, got RUNNING for {info}.")
        costs = value.costs()
        if len(costs) != len(self.objectives):
            names = list(self.objectives)
            config_id = self.get_config_id(info.config)
            config = "a new configuration" if config_id is None else f"config {config_id}"
            raise TrialError(
                f"value.cost must hold one cost per objective: expected {len(names)}, in the "
                f"order of the objectives {names}, as TrialValue(cost=[{', '.join(names)}]); got "
                f"{len(costs)} ({value.cost!r:.100}) for the trial of {config} "
                f"(instance={info.instance!r}, seed={info.seed}, budget={info.budget})."
            )

    def release(self, info: TrialInfo) -> bool:
        """Give up a trial this process claimed and will not finish (its target was interrupted,
        or its runner closed): it stays RUNNING, and the next :meth:`take_over_stale`, here or
        in another process, claims it to run it again.

        Returns:
            Whether the trial was running under this process (and the storage can release).
        """
        release = getattr(self.storage, "release_trial", None)
        key = self._key_if_known(info)
        if release is None or key is None:
            return False
        released = bool(release(key, self.owner))
        self.sync()
        return released

    def _key_if_known(self, info: TrialInfo) -> TrialKey | None:
        config_id = self.get_config_id(info.config)
        return (
            None
            if config_id is None
            else TrialKey(config_id, info.instance, info.seed, info.budget)
        )

    def _is_stale(self, rec: TrialRecord, now: float) -> bool:
        # This process's own trials only when released (a lease of 0): one that ran out while
        # the process was suspended, or its lease thread starved, still runs here. Others'
        # when their lease ran out or their process is gone.
        if rec.owner == self.owner:
            return rec.lease_until <= 0.0
        return abandoned(rec, now)

    def is_stale(self, key: TrialKey) -> bool:
        """Whether a running trial was left by a process that is gone (or its lease ran out),
        so that :meth:`take_over_stale` would claim it."""
        rec = self._running.get(key)
        return rec is not None and self._is_stale(rec, self.now())

    def running_elsewhere(self) -> list[tuple[TrialKey, str, float]]:
        """The running trials of other processes that are not stale (see :meth:`is_stale`):
        ``(key, owner, lease_until)``, the owner's id (``host:pid:...``) and the Unix time
        until which its lease holds the trial (inf: while the process lives)."""
        now = self.now()
        return [
            (key, rec.owner, rec.lease_until)
            for key, rec in self._running.items()
            if rec.owner != self.owner and not self._is_stale(rec, now)
        ]

    def n_stale(self) -> int:
        """Running trials left by a process that is gone (or whose lease ran out), which
        :meth:`take_over_stale` would claim."""
        now = self.now()
        return sum(self._is_stale(rec, now) for rec in self._running.values())

    def take_over_stale(self) -> TrialInfo | None:
        """Claim one trial left RUNNING by a process that is gone (or whose lease ran out).

        Returns:
            The trial, now running under this process, or None if there is none.
        """
        self.sync()
        now = self.now()
        for key, rec in list(self._running.items()):
            if not self._is_stale(rec, now):
                continue
            # A trial given up by a living process (lease 0) is no death; otherwise the
            # process that ran it died (or, on another host, went silent) while it ran.
            deaths = _deaths(rec.value) + (rec.lease_until != 0)
            fresh = TrialRecord(
                key,
                TrialValue(
                    status=StatusType.RUNNING,
                    starttime=now,
                    additional_info={DEATHS: deaths} if deaths else {},
                ),
                self.owner,
                now + self.lease_seconds,
            )
            if self.storage.claim_trial(fresh, now):
                self.sync()
                if rec.lease_until != 0:
                    logger.warning(
                        "Re-running trial %s: the process that ran it (%s) died while it ran "
                        "(%d time(s) for this trial; at %d it is recorded CRASHED instead).",
                        key,
                        rec.owner,
                        deaths,
                        MAX_DEATHS,
                    )
                else:
                    logger.info("Re-running trial %s, given up by %s.", key, rec.owner)
                return self.trial_info(key)
        return None

    def deaths(self, info: TrialInfo) -> int:
        """How many processes died while they ran this running trial (a segfault of the
        target, the out-of-memory killer, ``kill -9``): counted by :meth:`take_over_stale`.
        0 for a trial that is not running here."""
        config_id = self.get_config_id(info.config)
        if config_id is None:
            return 0
        rec = self._running.get(TrialKey(config_id, info.instance, info.seed, info.budget))
        return 0 if rec is None else _deaths(rec.value)

    # -- reading -------------------------------------------------------------------------------

    def trial_info(self, key: TrialKey) -> TrialInfo:
        """The trial a key stands for."""
        return TrialInfo(self._configs[key.config_id], key.instance, key.seed, key.budget)

    def get_config_id(self, config: Configuration) -> int | None:
        """The id of a stored configuration, or None if the history does not know it."""
        return self._ids.get(config_to_json(config))

    def has_trials(self, config: Configuration) -> bool:
        """Whether the configuration has a finished or running trial."""
        config_id = self.get_config_id(config)
        return config_id is not None and (
            config_id in self._by_config or config_id in self._running_per_config
        )

    def get_config(self, config_id: int) -> Configuration:
        """The configuration with this id."""
        try:
            return self._configs[config_id]
        except KeyError:
            raise TrialError(f"no configuration with id {config_id} in the run history.") from None

    @smac3_method(
        "dict of configurations to ids",
        "get_config_id(config), n_configs, or config_ids() for the ids",
    )
    def config_ids(self, after: int = 0) -> list[int]:
        """Ids of every stored configuration above ``after``, in increasing order.

        Ids are increasing but may have gaps (ids taken by other processes arrive on sync).
        """
        return sorted(i for i in self._configs if i > after)

    def get_origin(self, config: Configuration) -> str:
        """Where a stored configuration came from."""
        config_id = self.get_config_id(config)
        return "" if config_id is None else self._origins[config_id]

    def n_told_configs(self) -> int:
        """Configurations with a finished trial that no optimizer proposed: results told to
        the run (a warm start), stored without an origin."""
        return sum(1 for config_id in self._by_config if not self._origins.get(config_id))

    def origins(self) -> set[str]:
        """The distinct origins of the stored configurations (see :meth:`add_config`), e.g.
        ``{"initial design", "model", "random"}``."""
        return set(self._origins.values())

    def get_configs(self, sort_by: str | None = None) -> list[Configuration]:
        """Configurations with at least one trial.

        Args:
            sort_by: None (by id), ``"cost"`` (lowest aggregated cost first) or ``"num_trials"``
                (most finished trials first).

        Raises:
            ScenarioError: ``sort_by`` is none of these.
        """
        ids = sorted({k.config_id for k in self._finished} | {k.config_id for k in self._running})
        if sort_by == "cost":
            scalar = dict(zip(ids, self.costs_by_id(ids)))
            ids.sort(key=scalar.__getitem__)
        elif sort_by == "num_trials":
            ids.sort(key=lambda i: -len(self._by_config.get(i, {})))
        elif sort_by is not None:
            raise ScenarioError(
                "RunHistory.get_configs: sort_by must be None (by id), 'cost' or 'num_trials'; "
                f"got {sort_by!r}."
            )
        return [self._configs[i] for i in ids]

    def get_trials(self, config: Configuration, *, finished: bool = True) -> list[TrialInfo]:
        """The trials of a configuration: finished ones, or also the running ones."""
        config_id = self.get_config_id(config)
        if config_id is None:
            return []
        return [self.trial_info(k) for k in self.trial_keys(config_id, finished=finished)]

    def trial_keys(self, config_id: int, *, finished: bool = True) -> list[TrialKey]:
        """Keys of a configuration's finished trials, or also of its running ones, by its id."""
        keys = list(self._by_config.get(config_id, {}))
        if not finished:
            keys += self._running_per_config.get(config_id, ())
        return keys

    def get_trial_values(self, config: Configuration) -> dict[TrialKey, TrialValue]:
        """Finished trials of a configuration, key to value."""
        config_id = self.get_config_id(config)
        return dict(self._by_config.get(config_id, {})) if config_id is not None else {}

    def get_costs(
        self, config: Configuration, keys: Sequence[TrialKey] | None = None
    ) -> list[float]:
        """Mean cost per objective of a configuration's finished trials (inf if it has none).

        Args:
            config: The configuration.
            keys: Average over these trials only (all must be finished). By default over the
                trials at the highest budget the configuration has results for.
        """
        if not isinstance(config, Configuration):
            raise TrialError(
                "RunHistory.get_costs: config must be a Configuration (for example "
                f"history.get_config(config_id)); got {type(config).__name__} {config!r:.100}."
            )
        config_id = self.get_config_id(config)
        if config_id is None:
            return [math.inf] * len(self.objectives)
        if keys is not None:
            missing = [k for k in keys if k not in self._finished]
            if missing:
                raise TrialError(
                    "RunHistory.get_costs: keys must be keys of finished trials (see "
                    f"finished()); got {missing!r:.200}, which have no result here."
                )
            values = [self._finished[k] for k in keys]
            return _mean_costs(values, len(self.objectives))
        return self._costs_of(config_id)

    def _costs_of(self, config_id: int) -> list[float]:
        """:meth:`get_costs` of the stored configuration ``config_id``, at the highest budget
        it has results for (kept until its next result)."""
        if config_id not in self._cost_cache:
            trials = self._by_config.get(config_id, {})
            budgets = [k.budget for k in trials if k.budget is not None]
            top = max(budgets) if budgets else None
            values = [v for k, v in trials.items() if k.budget == top]
            self._cost_cache[config_id] = _mean_costs(values, len(self.objectives))
        return list(self._cost_cache[config_id])

    def get_cost(self, config: Configuration, keys: Sequence[TrialKey] | None = None) -> float:
        """The configuration's aggregated cost (see :meth:`get_costs`) as one number.

        With several objectives, the mean of the per-objective costs, each scaled to [0, 1] by
        the range of finite costs observed so far.
        """
        return self._scalarized([self.get_costs(config, keys)])[0]

    def costs_by_id(self, config_ids: Sequence[int]) -> list[float]:
        """:meth:`get_cost` of each stored configuration of ``config_ids`` (ids as in
        ``TrialKey.config_id``), without the look-up of each configuration by its values
        (a JSON encoding of each) that :meth:`get_cost` makes.

        Raises:
            TrialError: An id the history does not know.
        """
        unknown = [i for i in config_ids if i not in self._configs]
        if unknown:
            raise TrialError(f"no configuration with id {unknown[0]} in the run history.")
        return self._scalarized([self._costs_of(i) for i in config_ids])

    def _scalarized(self, costs: Sequence[Sequence[float]]) -> list[float]:
        """Each cost vector (one cost per objective) as one number, as :meth:`get_cost` says.
        With several objectives the bounds of every finished trial's costs are read once for
        all, not once per vector (O(n) each: sorting 5,000 configurations by cost took
        O(n^2))."""
        if len(self.objectives) == 1:
            return [c[0] for c in costs]
        lo, hi = self.objective_bounds()
        vectors = np.asarray(costs, dtype=float).reshape(-1, len(self.objectives))
        rows = halved_if_wide(np.vstack([lo, hi, vectors]))  # (bounds beyond the floats' range)
        lo, hi, vectors = rows[0], rows[1], rows[2:]
        span = np.where(hi > lo, hi - lo, 1.0)
        return [float(x) for x in ((vectors - lo) / span).mean(axis=1)]

    def objective_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest finite cost per objective, each of shape ``(n_objectives,)``."""
        costs = np.array([v.costs() for v in self._finished.values()], dtype=float)
        costs = costs.reshape(-1, len(self.objectives))
        finite = np.where(np.isfinite(costs), costs, np.nan)
        if costs.size == 0 or np.all(np.isnan(finite)):
            zeros = np.zeros(len(self.objectives))
            return zeros, zeros
        return np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)

    def get_min_cost(self, config: Configuration | None = None) -> float:
        """Lowest aggregated cost of any configuration (inf when nothing finished); with
        ``config``, as in SMAC3, the lowest cost of that configuration's finished trials."""
        if config is not None:
            values = [v.costs() for v in self.get_trial_values(config).values()]
            return min(self._scalarized(values), default=math.inf)
        costs = self.costs_by_id(list(self._by_config))
        return min(costs, default=math.inf)

    def finished_since(self, position: int) -> list[TrialKey]:
        """Keys of trials that finished after the first ``position`` ones, in finishing order.

        ``finished_since(0)`` lists every finished trial; a reader that remembers how many it has
        seen reads only what is new.
        """
        return self._finished_log[position:]

    @smac3_method("number of running trials", "n_running, or running() for the trials")
    def running(self) -> list[TrialInfo]:
        """Trials that are running, in this or another process."""
        return [self.trial_info(k) for k in self._running]

    def running_items(self) -> list[tuple[TrialKey, TrialValue]]:
        """Running trials as (key, value); the value's ``starttime`` says when each started."""
        return [(key, rec.value) for key, rec in self._running.items()]

    @smac3_method("number of finished trials", "n_finished, or finished() for the trials")
    def finished(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        """Finished trials with their values, in the order they were read."""
        for key, value in self._finished.items():
            yield self.trial_info(key), value

    def _as_key(self, item: object) -> object:
        """``item``, or the key of a :class:`TrialInfo` (whose configuration may be unknown:
        then a key of no trial)."""
        if isinstance(item, TrialInfo):
            return TrialKey(
                self.get_config_id(item.config) or -1, item.instance, item.seed, item.budget
            )
        return item

    def __contains__(self, item: object) -> bool:
        item = self._as_key(item)
        return item in self._finished or item in self._running

    def __getitem__(self, key: TrialKey | TrialInfo) -> TrialValue:
        """The value of a trial, by its key or its :class:`TrialInfo`."""
        found = cast("TrialKey", self._as_key(key))
        if found in self._finished:
            return self._finished[found]
        return self._running[found].value

    def __len__(self) -> int:
        return len(self._finished) + len(self._running)

    def __iter__(self) -> Iterator[TrialKey]:
        """Every trial's key, finished ones first (as SMAC3's run history, a mapping of keys
        to values, iterates); of the trials there were when the iteration began."""
        return iter([*self._finished, *self._running])

    def keys(self) -> list[TrialKey]:
        """Every trial's key, finished ones first."""
        return list(self)

    def values(self) -> list[TrialValue]:
        """Every trial's value, finished ones first."""
        return [value for _, value in self.items()]

    @overload
    def get(self, key: TrialKey | TrialInfo) -> TrialValue | None: ...

    @overload
    def get(self, key: TrialKey | TrialInfo, default: _D) -> TrialValue | _D: ...

    def get(self, key: TrialKey | TrialInfo, default: Any = None) -> Any:
        """The value of a trial (by its key or its :class:`TrialInfo`), or ``default`` when
        there is no such trial."""
        try:
            return self[key]
        except KeyError:
            return default

    def items(self) -> Iterator[tuple[TrialKey, TrialValue]]:
        """Every trial, finished or running, as (key, value)."""
        yield from self._finished.items()
        for key, rec in self._running.items():
            yield key, rec.value

    @property
    def n_submitted(self) -> int:
        """Trials started so far (finished or running)."""
        return len(self)

    @property
    def n_finished(self) -> int:
        """Trials with a final result."""
        return len(self._finished)

    @property
    def n_running(self) -> int:
        """Trials running now, in this or another process."""
        return len(self._running)

    @property
    def n_configs(self) -> int:
        """Configurations the history knows."""
        return len(self._configs)

    def status_counts(self) -> dict[str, int]:
        """Number of trials per status name, running trials included."""
        counts: dict[str, int] = {}
        for _, value in self.items():
            counts[value.status.name] = counts.get(value.status.name, 0) + 1
        return counts

    # -- export --------------------------------------------------------------------------------

    def to_records(self) -> list[dict[str, Any]]:
        """Every trial as a JSON-ready dict (configuration values included)."""
        rows = []
        for key, value in self.items():
            costs = value.costs()
            if value.status is StatusType.RUNNING:  # (no cost yet: NaN in every column)
                costs = [math.nan] * len(self.objectives)
            rows.append(
                {
                    "config_id": key.config_id,
                    "config": json.loads(config_to_json(self._configs[key.config_id])),
                    "origin": self._origins.get(key.config_id, ""),
                    "instance": key.instance,
                    "seed": key.seed,
                    "budget": key.budget,
                    "status": value.status.name,
                    **{
                        f"cost_{o}" if len(self.objectives) > 1 else "cost": c
                        for o, c in zip(self.objectives, costs)
                    },
                    "time": value.time,
                    "cpu_time": value.cpu_time,
                    "starttime": value.starttime,
                    "endtime": value.endtime,
                    "additional_info": value.additional_info,
                }
            )
        return rows

    def to_json(self, path: str | Path) -> None:
        """Write every trial to a JSON file (a list of :meth:`to_records` dicts).

        Costs and other numbers that are not finite (a crashed trial's inf cost) are written as
        null, so that any JSON parser reads the file; a trial's ``status`` says why.
        """
        records = json_safe(self.to_records())
        # (numpy values a target or tell() put in additional_info, as a stored run reads them
        # back: a run in memory keeps them as they were given)
        Path(path).write_text(json.dumps(records, indent=1, default=json_default))

    def to_dataframe(self) -> pd.DataFrame:
        """Every trial as a pandas DataFrame, one row a trial (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RunHistory.to_dataframe needs pandas: pip install 'smacx[pandas]'"
            ) from err
        rows = self.to_records()
        for row in rows:
            config = row.pop("config")
            row.update({f"config:{k}": v for k, v in config.items()})
        return pd.DataFrame(rows)


def objective_column(objectives: Sequence[str], objective: str | int | None, caller: str) -> int:
    """Position of ``objective`` (a name or a position; None for a run's only one) among a
    run's ``objectives``, or a ScenarioError that ``caller`` names."""
    if objective is None:
        if len(objectives) == 1:
            return 0
        raise ScenarioError(
            f"{caller}: the run has {len(objectives)} objectives {list(objectives)}; "
            "say which one with objective=<name or position>."
        )
    if isinstance(objective, str) and objective in objectives:
        return list(objectives).index(objective)
    positions = range(len(objectives))
    if is_whole(objective) and int(objective) in positions:
        return int(objective)
    raise ScenarioError(
        f"{caller}: objective must be one of {list(objectives)} or a position below "
        f"{len(objectives)}, got {objective!r}."
    )


def _unpickled_history(
    configspace: ConfigurationSpace, objectives: Sequence[str], storage: MemoryStorage
) -> RunHistory:
    """A history pickled by :meth:`RunHistory.__reduce__`, on its snapshot."""
    return RunHistory(configspace, objectives=objectives, storage=storage)


def _describe(key: TrialKey) -> str:
    return (
        f"(config {key.config_id}, instance={key.instance!r}, seed={key.seed}, budget={key.budget})"
    )


def _mean_costs(values: Sequence[TrialValue], n_objectives: int) -> list[float]:
    if not values:
        return [math.inf] * n_objectives
    if len(values) == 1:  # (its mean, without numpy's cost per configuration)
        return [float(c) for c in values[0].costs()]
    return [float(c) for c in aggregate_costs([v.costs() for v in values])]
