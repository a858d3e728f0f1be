"""The data every part of smacx exchanges: what to run, what came back, and its status.

A *trial* is one evaluation of the target: a configuration on one instance, with one seed, at one
budget. :class:`TrialInfo` says what to run, :class:`TrialValue` what came back, and
:class:`TrialKey` is how the run history indexes it (the configuration replaced by its stable id).
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import EnumMeta, IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from ConfigSpace import Configuration

from smacx.errors import keyword_hints

__all__ = ["StatusType", "TrialInfo", "TrialKey", "TrialValue"]


_END_THE_RUN = (
    "to end the run, return False from a callback's on_tell_end (see smacx.FunctionCallback), "
    "or stop calling ask()"
)

#: What SMAC 1.x's statuses are called here, or why there is no counterpart.
_OLD_STATUSES = {
    "MEMOUT": "use StatusType.MEMORYOUT",
    "CAPPED": "smacx does not cap trials; a trial stopped at its time limit is TIMEOUT",
    "ABORT": _END_THE_RUN,
    "STOP": _END_THE_RUN,
    "DONOTADVANCE": "tell the trial's real status and cost; which configurations advance is "
    "the intensifier's to decide",
}


class _StatusTypeMeta(EnumMeta):
    """Answers an unknown status name with the one meant (SMAC 1.x's names, misspellings)."""

    if not TYPE_CHECKING:  # (so that type checkers still flag StatusType.CRASHD)

        def __getattr__(cls, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            members = list(cls.__members__)
            if name in _OLD_STATUSES:
                hint = f" (a SMAC 1.x name): {_OLD_STATUSES[name]}"
            else:
                close = difflib.get_close_matches(name.upper(), members, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
            # (no name= nor obj=: Python would add its own "Did you mean" to the hint)
            raise AttributeError(
                f"StatusType has no member {name!r}{hint} (members: {', '.join(members)})"
            )


class StatusType(IntEnum, metaclass=_StatusTypeMeta):
    """How a trial ended (or that it has not ended yet).

    The numeric values are stored in the run-history database; never renumber them.
    """

    RUNNING = 0
    SUCCESS = 1
    CRASHED = 2
    TIMEOUT = 3
    MEMORYOUT = 4
    #: A sample that never came back in time and was given up (see the intensifier).
    RETIRED = 5

    @property
    def finished(self) -> bool:
        """Whether the trial has a final result (anything but RUNNING)."""
        return self is not StatusType.RUNNING


@keyword_hints()
@dataclass(frozen=True)
class TrialInfo:
    """One evaluation to run.

    Attributes:
        config: The configuration to evaluate.
        instance: The problem instance, or None when the scenario has no instances.
        seed: The random seed of the trial (the intensifier always sets one; the target gets
            it when its signature declares ``seed``). None only in trials built by hand.
        budget: The fidelity (e.g. epochs or a data fraction) for multi-fidelity runs, else None.
    """

    config: Configuration
    instance: str | None = None
    seed: int | None = None
    budget: float | None = None

    if TYPE_CHECKING:  # (what the constructor takes: numpy's numbers too)

        def __init__(
            self,
            config: Configuration,
            instance: str | None = None,
            seed: int | np.integer[Any] | None = None,
            budget: float | np.number[Any] | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        # numpy integers and floats (from rng.integers, arrays of budgets) become Python ones,
        # so that every storage keys the trial alike.
        from smacx.errors import TrialError

        if not isinstance(self.config, Configuration):
            raise TrialError(
                f"TrialInfo.config must be a ConfigSpace Configuration; got "
                f"{type(self.config).__name__} {self.config!r:.100}. Build it with "
                "Configuration(scenario.configspace, values={...})."
            )
        if self.instance is not None and not isinstance(self.instance, str):
            raise TrialError(
                f"TrialInfo.instance must be a str or None; got {self.instance!r:.100}."
            )
        if self.seed is not None:
            if isinstance(self.seed, (bool, np.bool_)) or not isinstance(
                self.seed, numbers.Integral
            ):
                raise TrialError(f"TrialInfo.seed must be an int or None; got {self.seed!r:.100}.")
            object.__setattr__(self, "seed", int(self.seed))
        if self.budget is not None:
            if not _is_real(self.budget):
                raise TrialError(
                    f"TrialInfo.budget must be a number or None; got {self.budget!r:.100}."
                )
            if isinstance(self.budget, np.generic):
                object.__setattr__(self, "budget", self.budget.item())
            if not 0.0 < float(self.budget) < math.inf:
                # a NaN budget never equals itself: the trial could never be found again
                raise TrialError(
                    f"TrialInfo.budget must be a finite number > 0 or None; got {self.budget!r}."
                )


@functools.total_ordering
@dataclass(frozen=True)
class TrialKey:
    """Index of a trial in the run history: ``TrialInfo`` with the configuration's stable id.

    Keys sort by configuration id, then instance, seed and budget, a missing one (None)
    before any given one: a history holding a result told without a seed and one of the same
    configuration on a seed sorts (``sorted(runhistory)``).
    """

    config_id: int
    instance: str | None = None
    seed: int | None = None
    budget: float | None = None

    def _order(self) -> tuple[Any, ...]:
        return (
            self.config_id,
            self.instance is not None,
            self.instance or "",
            self.seed is not None,
            self.seed or 0,
            self.budget is not None,
            self.budget or 0.0,
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, TrialKey):
            return NotImplemented
        return self._order() < other._order()


@keyword_hints()
@dataclass(frozen=True)
class TrialValue:
    """The outcome of a trial.

    Attributes:
        cost: The cost to minimize; a list with one entry per objective for multi-objective runs
            (given as any sequence of numbers, or numpy values; stored as a float or a list
            of floats). A failure's may be None, as ``to_json()`` writes it: infinite, which
            a run records at its ``crash_cost``.
        time: Wall-clock seconds the target took.
        cpu_time: CPU seconds of the process that ran the target (pynisher's child process
            when the trial has limits); processes the target starts are not counted. NaN when
            not known (the trial's process was killed). On a dask worker with several threads
            (a user's client; smacx's own cluster has one per worker) it counts the trials
            running beside it too, and so does ``Scenario(cputime_limit=...)``.
        status: How the trial ended.
        starttime: Unix time at which the trial started.
        endtime: Unix time at which the trial ended.
        additional_info: Free-form, JSON-serializable data the target returned, or the error and
            traceback of a crash.
    """

    cost: float | list[float] = math.inf
    time: float = 0.0
    cpu_time: float = 0.0
    status: StatusType = StatusType.SUCCESS
    starttime: float = 0.0
    endtime: float = 0.0
    additional_info: dict[str, Any] = field(default_factory=dict)

    if TYPE_CHECKING:  # (what the constructor takes: any sequence of costs, numpy's numbers)

        def __init__(
            self,
            cost: float | Sequence[float] | np.ndarray | np.number[Any] = math.inf,
            time: float | np.number[Any] = 0.0,
            cpu_time: float | np.number[Any] = 0.0,
            status: StatusType = StatusType.SUCCESS,
            starttime: float | np.number[Any] = 0.0,
            endtime: float | np.number[Any] = 0.0,
            additional_info: Mapping[str, Any] = ...,
        ) -> None: ...

    def __post_init__(self) -> None:
        cost: Any = self.cost
        if cost is None and self.status is not StatusType.SUCCESS:
            # a failure as to_json() and `smacx show --json` write it (its infinite cost as
            # null): told back as it is, in a warm start (an audit); recorded at crash_cost
            cost = math.inf
        tolist = getattr(cost, "tolist", None)
        if callable(tolist):  # numpy scalars and arrays
            cost = tolist()
        if isinstance(cost, tuple):
            cost = list(cost)
        values = cost if isinstance(cost, list) else [cost]
        if not values or not all(_is_real(v) for v in values):
            from smacx.errors import TrialError

            hint = (
                " (for several objectives, list their costs in the order of "
                "Scenario(objectives=...), e.g. TrialValue(cost=[0.1, 3.0]))"
                if isinstance(cost, Mapping)
                else ""
            )
            raise TrialError(
                "TrialValue.cost must be a number, or a list of numbers with one per objective"
                f"{hint}; got {self.cost!r:.200}."
            )
        if not isinstance(self.status, StatusType):
            from smacx.errors import TrialError

            raise TrialError(f"TrialValue.status must be a StatusType; got {self.status!r}.")
        for name in ("time", "cpu_time", "starttime", "endtime"):
            value = getattr(self, name)
            if not _is_real(value):
                from smacx.errors import TrialError

                raise TrialError(
                    f"TrialValue.{name} must be a number of seconds; got {value!r:.100}."
                )
            object.__setattr__(self, name, float(value))
        if not isinstance(self.additional_info, Mapping):
            from smacx.errors import TrialError

            raise TrialError(
                "TrialValue.additional_info must be a dict of name to JSON-serializable value; "
                f"got {type(self.additional_info).__name__} {self.additional_info!r:.100}."
            )
        object.__setattr__(self, "additional_info", dict(self.additional_info))
        object.__setattr__(
            self, "cost", [float(v) for v in cost] if isinstance(cost, list) else float(cost)
        )

    def costs(self) -> list[float]:
        """The cost as a list with one entry per objective."""
        cost: Any = self.cost  # a float or a list of floats once built
        return list(cost) if isinstance(cost, list) else [float(cost)]


def aggregate_costs(rows: Any, median: bool = False) -> np.ndarray:
    """The mean (or median) of each column of cost vectors, without overflow.

    Finite costs near the largest float (1e308 and 1.5e308) averaged to inf, which then
    counted as a failure: such a column's costs are divided by their largest magnitude
    first. A column holding inf or NaN aggregates as numpy says.

    Args:
        rows: `(n, m)` costs, one row per trial and one column per objective (n >= 1).
        median: Whether to take the median instead of the mean.

    Returns:
        `(m,)` aggregates.
    """
    costs = np.asarray(rows, dtype=np.float64)
    aggregate = np.median if median else np.mean
    with np.errstate(over="ignore", invalid="ignore"):
        plain: np.ndarray = aggregate(costs, axis=0)
    overflowed = ~np.isfinite(plain) & np.all(np.isfinite(costs), axis=0)
    if not overflowed.any():
        return plain
    scale = np.where(overflowed, np.max(np.abs(costs), axis=0), 1.0)
    scaled: np.ndarray = aggregate(costs / scale, axis=0) * scale
    return np.where(overflowed, scaled, plain)


def halved_if_wide(values: Any) -> np.ndarray:
    """``values`` `(n, m)` as floats, with each column whose finite values span more than the
    largest float (-1e308 to 1e308) halved: differences of halves do not overflow, and a
    column's values keep their ratios to its range. Halving is exact but for subnormal
    numbers (5e-324 / 2 is 0), so only there."""
    out = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(out)
    if out.size == 0 or not finite.any():
        return out
    with np.errstate(over="ignore", invalid="ignore"):
        span = np.max(np.where(finite, out, -np.inf), axis=0) - np.min(
            np.where(finite, out, np.inf), axis=0
        )
    wide = span == np.inf
    return np.where(wide, out * 0.5, out) if wide.any() else out


def _is_real(value: Any) -> bool:
    """A real number (numpy's included) that has a float, but not a bool."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


#: Attribute of a log record whose message gives costs as :func:`cost_text` writes them: those
#: costs (a tuple), for a handler that shows them otherwise (``smacx run`` with a maximized
#: measurement shows the measurement).
COSTS_LOGGED = "smacx_costs"


def cost_text(costs: Sequence[float]) -> str:
    """Costs as a log line gives them: "cost 14.219" for one objective, "costs [0.5, 2.1]" for
    several, each to 6 significant digits (see :data:`COSTS_LOGGED`)."""
    if len(costs) == 1:
        return f"cost {float(costs[0]):.6g}"
    return "costs [" + ", ".join(f"{float(c):.6g}" for c in costs) + "]"
