"""Multi-fidelity intensification: successive halving and Hyperband.

A *bracket* starts ``n_0`` new configurations at a small budget, runs every one on the same
ordered keys (instance-seed pairs), keeps the best ``1/eta`` of them (fewest failed keys first,
then by mean cost over the keys that did not fail, as racing ranks them: a key that failed at an
infinite ``crash_cost``, such as an instance no configuration solves, decides nothing),
multiplies the budget by ``eta`` and repeats until the largest budget is reached. Hyperband
cycles through the brackets ``s = s_max, ..., 0`` (from the most aggressive, starting at the
smallest budget, to plain evaluation at the largest); successive halving always runs one of
them.

A scenario with instances and no ``min_budget``/``max_budget`` races on the instances instead,
as SMAC3 does: a stage's "budget" is a number of keys, from ``min_keys`` (one by default) to all
of them. A configuration runs on the first ``c_i`` keys in stage ``i`` (its trials have no
budget), keeps the results of the stages before, and is compared by its mean cost over those
``c_i`` keys. The counts are the budgets of :func:`hyperband_brackets` from ``min_keys`` to the
number of keys, rounded down. The same holds for a scenario that is not deterministic with
``n_seeds > 1`` and no instances: the stages add seeds.

With ``R = max_budget / min_budget`` and ``s_max = floor(log_eta(R))``, bracket ``s`` starts
``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations at budget ``max_budget / eta**s``.
Stage ``i`` holds ``n_i = floor(n * eta**-i)`` (at least one) of them, as in Li et al. (2018),
computed exactly (for an integer ``eta`` this equals flooring ``n_{i-1} / eta`` stage by stage),
so the budget a bracket spends is fixed in advance: :meth:`Hyperband.total_budget` gives it.

Everything is a function of the run history, so a run killed in the middle of a bracket continues
it on resume, and processes sharing one history agree on it. Each configuration is stored with the
origin ``"<name> bracket <b>"`` (``b`` counts brackets from 0; bracket ``b`` follows schedule
``b mod (number of schedules)``), which fixes the first stage of every bracket; a later stage is
made of the configurations of the stage before that have trials at its budget, completed (once
every trial of the stage before is finished) by the best of the rest. A stage waiting for results
never blocks: the next bracket is opened instead, so parallel workers always have work.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from ConfigSpace import Configuration

from smacx.errors import (
    ScenarioError,
    SearchSpaceExhaustedError,
    is_real,
    is_whole,
    keyword_hints,
    smac3_names,
)
from smacx.intensifier import (
    SMAC3_NAMES,
    SMAC3_SETTINGS,
    KeyIndex,
    check_instance_order,
    finite_costs,
    front_incumbents,
    make_keys,
    overdue_trials,
    plain_number,
    rank_configs,
)
from smacx.trial import (
    COSTS_LOGGED,
    StatusType,
    TrialInfo,
    TrialKey,
    aggregate_costs,
    cost_text,
)

if TYPE_CHECKING:
    from smacx.runhistory import RunHistory
    from smacx.scenario import Scenario
    from smacx.selector import ConfigSelector

__all__ = [
    "BracketSchedule",
    "Halving",
    "Hyperband",
    "SuccessiveHalving",
    "hyperband_brackets",
    "key_brackets",
]

logger = logging.getLogger("smacx")

#: Relative slack when deciding whether ``eta**s`` fits into ``max_budget / min_budget``, so that
#: e.g. ``0.9 / 0.1 = 8.999...`` still counts as 9.
_RATIO_SLACK = 1e-9
#: How many proposals in a row may be unusable (already in a bracket) before the space counts as
#: exhausted.
_MAX_SKIPS = 100


# -- schedules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BracketSchedule:
    """One successive-halving bracket: how many configurations run at which budget, per stage.

    Attributes:
        s: The bracket's place in Hyperband: the number of halvings (``s + 1`` stages).
        n_configs: Configurations per stage, first stage first.
        budgets: Budget of each stage (in the scenario's budget unit), increasing; the last is
            ``max_budget``.
    """

    s: int
    n_configs: tuple[int, ...]
    budgets: tuple[float, ...]

    def total_budget(self, n_keys: int = 1) -> float:
        """The exact sum of the budgets of every trial of the bracket.

        Args:
            n_keys: Trials per configuration and stage (instance-seed pairs).

        Returns:
            ``n_keys * sum(n_i * budget_i)``, summed exactly and rounded once, so it equals the
            correctly rounded sum (``math.fsum``) of the budgets of the bracket's trials.
        """
        return float(self.exact_budget(n_keys))

    def exact_budget(self, n_keys: int = 1) -> Fraction:
        """:meth:`total_budget` as an exact fraction (of the float budgets' exact values)."""
        return sum(
            (Fraction(b) * n * n_keys for n, b in zip(self.n_configs, self.budgets)), Fraction()
        )


def _check_keys(n_keys: object) -> None:
    if not is_whole(n_keys) or n_keys < 1:  # type: ignore[operator]
        raise ScenarioError(
            f"n_keys must be an int >= 1 (instances times seeds per stage); got {n_keys!r}."
        )


def _check_real(owner: str, name: str, value: object, lower: float, strict: bool) -> float:
    number = float(value) if is_real(value) else math.nan  # type: ignore[arg-type]
    ok = math.isfinite(number) and (number > lower if strict else number >= lower)
    if not ok:
        relation = ">" if strict else ">="
        raise ScenarioError(
            f"{owner}.{name} must be a finite number {relation} {lower:g}; got {value!r}."
        )
    return number


#: The most brackets (and stages in one) that Hyperband's budgets and eta may make.
MAX_BRACKETS = 100


def hyperband_brackets(
    min_budget: float, max_budget: float, eta: float
) -> tuple[BracketSchedule, ...]:
    """Every Hyperband bracket for these budgets, the most aggressive (``s = s_max``) first.

    Bracket ``s`` starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configurations; its stage
    ``i`` holds ``floor(n * eta**-i)`` of them (at least one, computed exactly from the float
    ``eta``) at budget ``max_budget * eta**(i - s)``, never below ``min_budget`` (Li et al.,
    2018, Algorithm 1).

    Args:
        min_budget: The smallest budget a trial may get (> 0).
        max_budget: The largest budget (>= min_budget); every bracket ends there.
        eta: The halving rate (> 1): a stage keeps the best ``1/eta`` of the one before and
            gives them ``eta`` times the budget.

    Raises:
        ScenarioError: An argument is out of range.
    """
    lo = _check_real("Hyperband", "min_budget", min_budget, 0.0, strict=True)
    hi = _check_real("Hyperband", "max_budget", max_budget, lo, strict=False)
    rate = _check_real("Hyperband", "eta", eta, 1.0, strict=True)
    # (from logarithms: an eta near 1 took minutes in the exact arithmetic below, and a ratio
    # of 1e600 overflows a float)
    log_ratio = math.log(hi) - math.log(lo) + math.log1p(_RATIO_SLACK)
    if log_ratio / math.log(rate) > MAX_BRACKETS:
        least = math.exp(log_ratio / MAX_BRACKETS)
        step = 10.0 ** (math.floor(math.log10(least)) - 2)  # (3 digits, rounded up)
        raise ScenarioError(
            f"Hyperband: eta={rate!r} on budgets from {lo:g} to {hi:g} makes more than "
            f"{MAX_BRACKETS} brackets, each with as many stages; pass an eta of at least "
            f"{math.ceil(least / step) * step:.3g} (typically 2, 3 or 4), or bring "
            "min_budget and max_budget closer."
        )
    exact_eta = Fraction(rate)  # exact: the stage sizes never suffer float rounding
    ratio = hi / lo * (1.0 + _RATIO_SLACK)
    s_max = 0
    # (compared as a Fraction: a power of eta beyond a float's range raised OverflowError, for
    # budgets from 1e-300 to 1 with eta=1e10)
    while math.log(rate) * (s_max + 1) <= log_ratio and exact_eta ** (s_max + 1) <= ratio:
        s_max += 1
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil(Fraction(s_max + 1, s + 1) * exact_eta**s)
        # Li et al.'s n_i = floor(n * eta**-i), from n itself: flooring stage by stage
        # (floor(n_{i-1} / eta)) loses more for an eta that is no integer (eta=1.5 on [1, 100]:
        # ..., 16, 10, 6, 4 instead of ..., 17, 11, 7, 5). Exact, so integer eta is unchanged.
        sizes = [max(1, math.floor(n / exact_eta**i)) for i in range(s + 1)]
        budgets = tuple(max(lo, _divided(hi, exact_eta ** (s - i))) for i in range(s + 1))
        brackets.append(BracketSchedule(s, tuple(sizes), budgets))
    return tuple(brackets)


def _divided(budget: float, power: Fraction) -> float:
    """``budget / power`` as the float division gives it (stored runs hold those budgets),
    or exactly where ``power`` is beyond a float's range (budgets from 1e-300 to 1e300 with
    ``eta=1e30`` raised OverflowError)."""
    try:
        return budget / float(power)
    except OverflowError:
        return float(Fraction(budget) / power)


def _key_trials(schedule: BracketSchedule) -> float:
    """Trials of one bracket of a race on keys: each stage runs its configurations on the
    keys beyond the stage before's."""
    levels = schedule.budgets
    return sum(
        n * (b - (levels[i - 1] if i else 0))
        for i, (n, b) in enumerate(zip(schedule.n_configs, levels))
    )


def _count(n: float) -> str:
    """A number of configurations or trials for a message: exact up to a million, else in
    four digits (or a power of ten beyond a float's range)."""
    if n < 10**6:
        return f"{n:.0f}"
    if n < 10**300:
        return f"{n:.4g}"
    return f"about 10**{len(str(int(n))) - 1}"


def key_brackets(n_keys: int, eta: float, min_keys: int = 1) -> tuple[BracketSchedule, ...]:
    """The Hyperband brackets of a race on keys (instance-seed pairs) instead of budgets.

    The brackets of :func:`hyperband_brackets` from ``min_keys`` to ``n_keys``, each stage's
    budget rounded down to a whole number of keys (10 instances, ``eta=3``: the first
    bracket's stages run on 1, 3 and 10 of them). Where two stages round to the same count,
    the later one only narrows the field.

    Args:
        n_keys: The number of keys a configuration runs on in the last stage (>= 1).
        eta: The halving rate (> 1).
        min_keys: The fewest keys a stage runs a configuration on (1 to ``n_keys``).

    Raises:
        ScenarioError: An argument is out of range.
    """
    _check_keys(n_keys)
    if not is_whole(min_keys) or not 1 <= min_keys <= n_keys:
        raise ScenarioError(
            f"min_keys must be an int from 1 to n_keys = {n_keys} (instance-seed pairs); got "
            f"{min_keys!r}."
        )
    brackets = hyperband_brackets(min_keys, n_keys, eta)
    return tuple(
        BracketSchedule(
            br.s,
            br.n_configs,
            tuple(float(max(1, math.floor(b * (1 + _RATIO_SLACK)))) for b in br.budgets),
        )
        for br in brackets
    )


# -- settings ----------------------------------------------------------------------------------


#: Settings added after runs were stored with their settings' repr, with their defaults: shown
#: only when set, so that such a run's record still matches the settings it was made with.
_LATER_FIELDS = {"min_keys": 1}


@dataclass(frozen=True, repr=False)
class _HalvingSettings:
    """Fields and validation shared by :class:`SuccessiveHalving` and :class:`Hyperband`."""

    eta: float = 3
    n_seeds: int = 1
    instance_order: Literal["shuffled", "fixed"] = "shuffled"
    max_incumbents: int = 10
    pending_config_timeout: float | None = None
    # (keyword only: a field added later must not move the positional ones after it, such as
    # SuccessiveHalving's bracket)
    min_keys: int = field(default=1, kw_only=True)

    #: Written into the origin of every configuration, as ``"<label> bracket <b>"``.
    label: ClassVar[str] = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__

        def fail(name: str, expected: str) -> ScenarioError:
            return ScenarioError(f"{owner}.{name} must be {expected}; got {getattr(self, name)!r}.")

        eta = self.eta
        if not is_real(eta) or not 1 < eta < math.inf:
            raise fail("eta", "a finite number > 1 (typically 2, 3 or 4)")
        if isinstance(eta, np.generic):  # numpy's, as a Python number (its repr is stored)
            object.__setattr__(self, "eta", eta.item())
        if not is_whole(self.n_seeds) or self.n_seeds < 1:
            raise fail("n_seeds", "an int >= 1")
        check_instance_order(owner, self.instance_order)
        if not is_whole(self.max_incumbents) or self.max_incumbents < 1:
            raise fail("max_incumbents", "an int >= 1")
        timeout = self.pending_config_timeout
        if timeout is not None and (not is_real(timeout) or not 0 < timeout < math.inf):
            raise fail("pending_config_timeout", "a number of seconds > 0 or None")
        if not is_whole(self.min_keys) or self.min_keys < 1:
            raise fail("min_keys", "an int >= 1 (instance-seed pairs of a first stage)")
        object.__setattr__(self, "n_seeds", int(self.n_seeds))
        object.__setattr__(self, "max_incumbents", int(self.max_incumbents))
        object.__setattr__(self, "min_keys", int(self.min_keys))
        # Plain numbers, so that equal settings have one repr (a run stores it to be resumed
        # with the same settings): eta=3 and eta=3.0 are both 3.
        object.__setattr__(self, "eta", plain_number(eta))
        if timeout is not None:
            object.__setattr__(self, "pending_config_timeout", plain_number(timeout))

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if _LATER_FIELDS.get(f.name, object()) != getattr(self, f.name)
        ]
        return f"{type(self).__qualname__}({', '.join(shown)})"

    def _schedules(self, scenario: Scenario) -> tuple[BracketSchedule, ...]:
        """The brackets this intensifier cycles through on ``scenario``; without budgets, the
        stages' budgets are numbers of keys (instance-seed pairs)."""
        if scenario.min_budget is not None and scenario.max_budget is not None:
            if self.min_keys != 1:
                raise ScenarioError(
                    f"{type(self).__name__}.min_keys is for a race on instances, a scenario "
                    f"without budgets; got min_keys={self.min_keys} with min_budget="
                    f"{scenario.min_budget!r}. Set the first stage's budget with min_budget, "
                    "or leave the budgets unset to race on the instances."
                )
            return hyperband_brackets(scenario.min_budget, scenario.max_budget, self.eta)
        n_keys = len(make_keys(scenario, self.n_seeds, self.instance_order))
        if n_keys < 2 and self.n_seeds > 1:  # (deterministic: n_seeds was passed in vain)
            instances = len(scenario.instances or ())
            raise ScenarioError(
                f"{type(self).__name__}(n_seeds={self.n_seeds}) races on seeds, but the "
                "scenario is deterministic (one seed stands for all); got deterministic=True, "
                f"{instances or 'no'} instance{'' if instances == 1 else 's'} and no "
                "min_budget/max_budget. Pass Scenario(deterministic=False) for a noisy target, "
                "or set Scenario.min_budget and Scenario.max_budget."
            )
        if n_keys < 2:
            raise ScenarioError(
                f"{type(self).__name__} needs a multi-fidelity scenario: set "
                "Scenario.min_budget and Scenario.max_budget (e.g. epochs or a data fraction), "
                "or give the scenario instances to race on (stages then run configurations on "
                "more and more of them), or, for a target that is not deterministic, race on "
                f"seeds ({type(self).__name__}(n_seeds=3)); got min_budget="
                f"{scenario.min_budget!r}, max_budget={scenario.max_budget!r} and {n_keys} "
                "instance-seed pair."
            )
        if self.min_keys > n_keys:
            raise ScenarioError(
                f"{type(self).__name__}.min_keys must be at most the {n_keys} instance-seed "
                f"pairs of the scenario; got {self.min_keys}."
            )
        return key_brackets(n_keys, self.eta, self.min_keys)

    def build(self, scenario: Scenario, selector: ConfigSelector, history: RunHistory) -> Halving:
        """Start on ``history``, taking new configurations from ``selector``.

        Raises:
            ScenarioError: The scenario has neither ``min_budget``/``max_budget`` nor more than
                one key to race on, or a setting does not fit it.
        """
        schedules = self._schedules(scenario)  # (its errors first)
        if scenario.deterministic and self.n_seeds > 1:
            logger.warning(
                "%s(n_seeds=%d): a deterministic scenario runs a configuration on one seed per "
                "instance, so n_seeds is not used. Pass Scenario(deterministic=False) to race "
                "on %d seeds.",
                type(self).__name__,
                self.n_seeds,
                self.n_seeds,
            )
        return Halving(self, schedules, scenario, selector, history)


#: Hints for SMAC3's keywords of the multi-fidelity settings, which smacx takes elsewhere.
_ELSEWHERE = {
    "min_budget": "budgets are Scenario(min_budget=..., max_budget=...); in a race on "
    "instances, the fewest instance-seed pairs of a stage are min_keys",
    "max_budget": "budgets are Scenario(min_budget=..., max_budget=...); a race on instances "
    "ends on all of them",
    "incumbent_selection": "incumbents are always chosen at the highest budget with results "
    "(SMAC3's 'highest_observed_budget'); there is no other choice",
    **{k: v for k, v in SMAC3_SETTINGS.items() if k != "n_seeds"},
}


@keyword_hints(elsewhere=_ELSEWHERE)
@dataclass(frozen=True, repr=False)
class SuccessiveHalving(_HalvingSettings):
    """Settings of successive halving: ``SMAC(..., intensifier=SuccessiveHalving(eta=3))``.

    Every bracket is the same Hyperband bracket: by default the most aggressive one, which starts
    at the smallest budget the scenario allows. A scenario with instances and no budgets races
    on the instances: the budgets count instance-seed pairs (see :func:`key_brackets`).

    Args:
        eta: The halving rate (> 1): each stage keeps the best ``1/eta`` configurations of the
            one before and runs them at ``eta`` times the budget.
        n_seeds: Seeds per instance each configuration is run on in every stage, for scenarios
            that are not deterministic (deterministic ones use one seed per instance).
        instance_order: ``"shuffled"`` (a seeded random order of the instances per seed) or
            ``"fixed"``.
        max_incumbents: How many incumbents are kept: the best configurations at the highest
            budget with results (one objective) or their Pareto front (several), best first;
            of a larger front, the best-ranked one and those that spread along it most.
        pending_config_timeout: Seconds after which a configuration whose trials are still
            running is retired: its running trials are recorded as RETIRED (with the crash cost),
            so a trial that hangs or is lost cannot hold a stage back.
        min_keys: In a race on instances or seeds (a scenario without budgets), the fewest
            instance-seed pairs a stage runs a configuration on: the stages' counts are
            Hyperband's budgets from ``min_keys`` to all pairs, rounded down, so the first
            stage may run on a few more (SMAC3's ``min_budget`` with instances). Raise it when
            one instance says too little.
        bracket: Which Hyperband bracket ``s`` to run (``s + 1`` stages, the first at
            ``max_budget / eta**s``); None means ``s_max``, the one starting closest to
            ``min_budget``.
    """

    bracket: int | None = None

    label: ClassVar[str] = "successive halving"

    def __post_init__(self) -> None:
        super().__post_init__()
        b = self.bracket
        if b is not None and (not is_whole(b) or b < 0):
            raise ScenarioError(
                f"SuccessiveHalving.bracket must be an int >= 0 or None; got {b!r}."
            )
        if b is not None:
            object.__setattr__(self, "bracket", int(b))

    def _schedules(self, scenario: Scenario) -> tuple[BracketSchedule, ...]:
        brackets = super()._schedules(scenario)
        s_max = brackets[0].s
        if self.bracket is None:
            return brackets[:1]
        if self.bracket > s_max:
            over = (
                f"min_budget={scenario.min_budget}, max_budget={scenario.max_budget}"
                if scenario.min_budget is not None
                else f"a race on {brackets[0].budgets[-1]:g} instance-seed pairs"
            )
            raise ScenarioError(
                f"SuccessiveHalving.bracket must be at most s_max = {s_max} for {over}, "
                f"eta={self.eta}; got {self.bracket!r}."
            )
        return (brackets[s_max - self.bracket],)

    @staticmethod
    def total_budget(
        min_budget: float,
        max_budget: float,
        eta: float,
        bracket: int | None = None,
        n_keys: int = 1,
    ) -> float:
        """The exact budget one bracket spends (the sum of its trials' budgets).

        Args:
            min_budget: The scenario's smallest budget.
            max_budget: The scenario's largest budget.
            eta: The halving rate.
            bracket: The Hyperband bracket ``s`` run; None for ``s_max``.
            n_keys: Trials per configuration and stage (instances times seeds).
        """
        _check_keys(n_keys)
        brackets = hyperband_brackets(min_budget, max_budget, eta)
        if bracket is not None and not is_whole(bracket):
            raise ScenarioError(f"bracket must be an int >= 0 or None; got {bracket!r}.")
        index = 0 if bracket is None else brackets[0].s - int(bracket)
        if not 0 <= index < len(brackets):
            raise ScenarioError(
                f"SuccessiveHalving.bracket must be in [0, {brackets[0].s}]; got {bracket!r}."
            )
        return brackets[index].total_budget(n_keys)


@keyword_hints(elsewhere=_ELSEWHERE)
@dataclass(frozen=True, repr=False)
class Hyperband(_HalvingSettings):
    """Settings of Hyperband: ``SMAC(..., intensifier=Hyperband(eta=3))``.

    Runs the brackets ``s = s_max, s_max - 1, ..., 0`` in turn (one *iteration*), then starts
    over; see :func:`hyperband_brackets` for their sizes and budgets. A scenario with instances
    and no budgets races on the instances: the budgets count instance-seed pairs (see
    :func:`key_brackets`).

    Args:
        eta: The halving rate (> 1): each stage keeps the best ``1/eta`` configurations of the
            one before and runs them at ``eta`` times the budget.
        n_seeds: Seeds per instance each configuration is run on in every stage, for scenarios
            that are not deterministic (deterministic ones use one seed per instance).
        instance_order: ``"shuffled"`` (a seeded random order of the instances per seed) or
            ``"fixed"``.
        max_incumbents: How many incumbents are kept: the best configurations at the highest
            budget with results (one objective) or their Pareto front (several), best first;
            of a larger front, the best-ranked one and those that spread along it most.
        pending_config_timeout: Seconds after which a configuration whose trials are still
            running is retired: its running trials are recorded as RETIRED (with the crash cost),
            so a trial that hangs or is lost cannot hold a stage back.
        min_keys: In a race on instances or seeds (a scenario without budgets), the fewest
            instance-seed pairs a stage runs a configuration on: the stages' counts are
            Hyperband's budgets from ``min_keys`` to all pairs, rounded down, so the first
            stage may run on a few more (SMAC3's ``min_budget`` with instances). Raise it when
            one instance says too little.
    """

    label: ClassVar[str] = "hyperband"

    @staticmethod
    def total_budget(min_budget: float, max_budget: float, eta: float, n_keys: int = 1) -> float:
        """The exact budget of one Hyperband iteration (every bracket once).

        Args:
            min_budget: The scenario's smallest budget.
            max_budget: The scenario's largest budget.
            eta: The halving rate.
            n_keys: Trials per configuration and stage (instances times seeds).

        Returns:
            The sum of the budgets of every trial of the iteration, summed exactly and rounded
            once; ``[b.total_budget(n_keys) for b in hyperband_brackets(...)]`` is the breakdown
            per bracket.
        """
        _check_keys(n_keys)
        brackets = hyperband_brackets(min_budget, max_budget, eta)
        return float(sum((br.exact_budget(n_keys) for br in brackets), Fraction()))


# -- live state --------------------------------------------------------------------------------


@dataclass
class _Bracket:
    """One bracket of the run (rebuilt from the history)."""

    number: int
    schedule: BracketSchedule
    members: list[list[int]] = field(default_factory=lambda: [[]])  # config ids per stage
    cursor: int = 0  # trials of the current stage before this one have all started
    exhausted: bool = False  # the selector ran dry while filling the first stage
    # stage -> how many of the stage before may go on to it (not those that failed on every
    # key there); set as the stage before completes
    promotable: dict[int, int] = field(default_factory=dict)

    @property
    def stage(self) -> int:
        return len(self.members) - 1

    def target(self, stage: int) -> int:
        """How many configurations the stage holds once complete."""
        sizes = self.schedule.n_configs
        if stage == 0:
            return len(self.members[0]) if self.exhausted else sizes[0]
        wanted = sizes[stage]
        if self.exhausted:  # fewer than scheduled to start with: keep the same share of them
            wanted = max(1, len(self.members[0]) * wanted // sizes[0])
        return min(wanted, len(self.members[stage - 1]), self.promotable.get(stage, wanted))


#: Brackets one ask may open, each filled by other processes sharing the run meanwhile,
#: before it gives up.
_MAX_OPENINGS = 100


@smac3_names(SMAC3_NAMES)
class Halving:
    """The live successive-halving / Hyperband state of one run.

    Built by :meth:`SuccessiveHalving.build` or :meth:`Hyperband.build`; everything it knows is
    re-derived from the run history.

    Attributes:
        settings: The settings it was built from.
        brackets: The bracket schedules cycled through (Hyperband: ``s_max`` down to 0;
            successive halving: one).
        races_keys: Whether the stages count keys instead of budgets (a scenario with
            instances, or seeds, and no ``min_budget``/``max_budget``): stage ``i`` runs a
            configuration on the first ``budgets[i]`` keys, and its trials have no budget.
        budgets: Every budget a trial may get, increasing; when racing keys, every number of
            keys a stage may run a configuration on.
        keys: The ordered instance-seed pairs each configuration runs on in every stage (when
            racing keys, a prefix of them per stage).
        iteration_budget: Exact budget of one pass over :attr:`brackets`, all keys included;
            when racing keys, the number of trials of one pass.
    """

    def __init__(
        self,
        settings: _HalvingSettings,
        brackets: tuple[BracketSchedule, ...],
        scenario: Scenario,
        selector: ConfigSelector,
        history: RunHistory,
    ) -> None:
        self.settings = settings
        self.history = history
        self.brackets = brackets
        # (the run's termination_cost_threshold, which a member of a cut front may meet)
        self._threshold = scenario.termination_costs
        self.budgets: tuple[float, ...] = tuple(sorted({b for br in brackets for b in br.budgets}))
        self.keys = make_keys(scenario, settings.n_seeds, settings.instance_order)
        self.races_keys = scenario.min_budget is None
        # the first stage's least budget: min_keys when racing keys, else min_budget
        self._lowest = float(settings.min_keys if self.races_keys else scenario.min_budget or 1)
        if self.races_keys:  # new trials per stage: the keys beyond the stage before's
            self.iteration_budget = float(sum(_key_trials(br) for br in brackets))
        else:
            self.iteration_budget = float(
                sum((br.exact_budget(len(self.keys)) for br in brackets), Fraction())
            )
        self._n_keys = len(self.keys)
        self._key_index = KeyIndex(self.keys, scenario.deterministic)
        self._label = type(settings).label or "halving"
        self._origin = re.compile(re.escape(self._label) + r" bracket (\d+)")
        self._challengers: Iterator[Configuration] = selector.next_configs(history)
        self._open: dict[int, _Bracket] = {}
        self._closed: set[int] = set()
        self._bracket_of: dict[int, int] = {}
        self._next_number = 0
        # (config id, trial budget) -> key index -> costs, and the trial's key (deterministic:
        # maybe told with a seed of its own); and, per stage budget, the mean once every key of
        # the stage is in
        self._results: dict[tuple[int, float | None], dict[int, list[float]]] = {}
        self._trials: dict[tuple[int, float | None], dict[int, TrialKey]] = {}
        self._complete: dict[float, dict[int, list[float]]] = {b: {} for b in self.budgets}
        # ... and how many of the stage's keys failed (costs not finite, left out of the mean)
        self._failed: dict[float, dict[int, int]] = {b: {} for b in self.budgets}
        # (config id, trial budget) -> the first key index with a successful trial; without
        # one among a stage's keys, no incumbent there
        self._first_success: dict[tuple[int, float | None], int] = {}
        self._handed: set[TrialKey] = set()  # handed out, not yet seen in the history
        self._seen = 0
        self._scanned: set[int] = set()
        self._incumbent_ids: list[int] = []
        self._dirty = False
        self._resuming = True  # (reading a stored run: its incumbent is not new)
        self._refresh()
        self._resuming = False
        logger.info(
            "%s: %s %s, %d bracket schedule(s), %d key(s) per configuration%s; "
            "%d open bracket(s) continued from the history.",
            self._label,
            "stages on numbers of keys" if self.races_keys else "budgets",
            [float(f"{b:.6g}") for b in self.budgets],
            len(brackets),
            self._n_keys,
            " in the last stage" if self.races_keys else " and stage",
            len(self._open),
        )

    # -- reading the history -------------------------------------------------------------------

    def _refresh(self) -> None:
        """Take in configurations and results that arrived since the last call."""
        self._scan_configs()
        new = self.history.finished_since(self._seen)
        self._seen += len(new)
        for key in new:
            self._take_result(key)
        if self._handed:
            self._handed = {k for k in self._handed if k not in self.history}
        for bracket in list(self._open.values()):
            self._advance(bracket)
        if self._dirty:
            self._dirty = False
            previous = self._incumbent_ids[:1]
            self._incumbent_ids = self._select_incumbents()
            if self._incumbent_ids and self._incumbent_ids[:1] != previous:
                best = self._incumbent_ids[0]
                budget = self._incumbent_budget()
                failed = self._failed[budget].get(best, 0) if budget is not None else 0
                costs = self._complete[budget][best] if budget is not None else []
                logger.info(
                    "%s: config %d, %s %s%s.",
                    "Incumbent of the stored run" if self._resuming else "New incumbent",
                    best,
                    cost_text(costs) if budget is not None else "no cost",
                    self._at(budget),
                    f" (failed on {failed} of them, not in the cost)" if failed else "",
                    extra={COSTS_LOGGED: tuple(costs)},
                )

    def _scan_configs(self) -> None:
        """Assign stored configurations with one of our origins to their brackets."""
        if len(self._scanned) == self.history.n_configs:
            return
        for config_id in self.history.config_ids():
            if config_id in self._scanned:
                continue
            self._scanned.add(config_id)
            origin = self.history.get_origin(self.history.get_config(config_id))
            match = self._origin.fullmatch(origin)
            if match:
                self._join(int(match[1]), config_id)

    def _join(self, number: int, config_id: int) -> None:
        """Record that a configuration was started in bracket ``number``."""
        if config_id in self._bracket_of or number in self._closed:
            return
        self._next_number = max(self._next_number, number + 1)
        bracket = self._open.get(number)
        if bracket is None:
            schedule = self.brackets[number % len(self.brackets)]
            bracket = self._open[number] = _Bracket(number, schedule)
        if bracket.stage == 0 and len(bracket.members[0]) < bracket.schedule.n_configs[0]:
            bracket.members[0].append(config_id)
            self._bracket_of[config_id] = number
        # else: a surplus configuration (another process filled the stage first): not raced

    def _slot(self, level: float) -> float | None:
        """The budget of a stage's trials: ``level`` itself, or None when racing keys."""
        return None if self.races_keys else level

    def _width(self, level: float) -> int:
        """How many keys a configuration runs on in a stage at ``level``."""
        return int(level) if self.races_keys else self._n_keys

    def _at(self, level: float | None) -> str:
        """A stage's level in words, for the log."""
        if level is None:
            return "at no budget"
        if self.races_keys:
            return f"on {int(level)} of {self._n_keys} instance-seed pairs"
        return f"at budget {level:g}"

    def _take_result(self, key: TrialKey) -> None:
        index = self._key_index.of(key)
        ours = key.budget is None if self.races_keys else key.budget in self._complete
        if index is None or not ours:
            return  # not one of our trials (validation, another intensifier)
        slot = (key.config_id, key.budget)
        done = self._results.setdefault(slot, {})
        if index in done:
            return  # (deterministic: the same key under two seeds counts once)
        value = self.history[key]
        done[index] = value.costs()
        self._trials.setdefault(slot, {})[index] = key
        if value.status is StatusType.SUCCESS:
            self._first_success[slot] = min(index, self._first_success.get(slot, index))
        # (racing budgets, key.budget is one of the stages' budgets)
        levels = self.budgets if key.budget is None else (key.budget,)
        for level in levels:
            n = self._width(level)
            complete = self._complete[level]
            if key.config_id in complete or len(done) < n or index >= n:
                continue
            if all(i in done for i in range(n)):
                rows = [done[i] for i in range(n) if finite_costs(done[i])]
                mean = aggregate_costs(rows) if rows else [math.inf] * len(done[0])
                complete[key.config_id] = [float(c) for c in mean]
                self._failed[level][key.config_id] = n - len(rows)
                self._dirty = True

    def _rank(self, ids: list[int], level: float) -> list[int]:
        """Config ids with complete results at a stage's ``level``, best first: fewest failed
        keys first, then by :func:`rank_configs` on the mean over the keys that did not fail."""
        failed = self._failed[level]
        ranked: list[int] = []
        for count in sorted({failed[c] for c in ids}):
            group = [c for c in ids if failed[c] == count]
            costs = np.array([self._complete[level][c] for c in group], dtype=float)
            ranked += rank_configs(group, costs)
        return ranked

    def _started(self, key: TrialKey) -> bool:
        return key in self._handed or key in self.history

    def _has_trials_at(self, config_id: int, level: float, below: int) -> bool:
        """Whether a trial of the configuration at a stage's ``level`` has started; when racing
        keys, on a key the stage before (on ``below`` keys) did not run."""
        budget = self._slot(level)
        keys = self.keys[below : self._width(level)] if self.races_keys else self.keys
        return any(self._started(TrialKey(config_id, i, s, budget)) for i, s in keys)

    # -- stages --------------------------------------------------------------------------------

    def _stage_complete(self, bracket: _Bracket) -> bool:
        stage = bracket.stage
        members = bracket.members[stage]
        done = self._complete[bracket.schedule.budgets[stage]]
        return len(members) >= bracket.target(stage) and all(c in done for c in members)

    def _advance(self, bracket: _Bracket) -> bool:
        """Promote through every complete stage; close the bracket once its last stage is.

        Returns:
            Whether the bracket is complete.
        """
        schedule = bracket.schedule
        while self._stage_complete(bracket):
            stage = bracket.stage
            members = bracket.members[stage]
            if stage == len(schedule.budgets) - 1 or not members:
                del self._open[bracket.number]
                self._closed.add(bracket.number)
                logger.debug(
                    "%s bracket %d (s=%d) is complete.", self._label, bracket.number, schedule.s
                )
                return True
            ranked = self._rank(members, schedule.budgets[stage])
            budget = schedule.budgets[stage + 1]
            n_next = bracket.target(stage + 1)
            # Configurations already started at the next budget stay (none are lost on resume).
            below = self._width(schedule.budgets[stage])
            kept = {c for c in members if self._has_trials_at(c, budget, below)}
            # A configuration that failed on every key of the stage is not promoted to a
            # higher budget, though the stage has room: one that crashed or ran out of memory
            # at budget 9 did again at 27 (an audit's finding: 108 of 423 epochs spent so).
            # The next stage holds only as many as may go on; with none, the bracket ends.
            # (Stages that count instances go on to other instances, where it may succeed:
            # an instance no configuration solves decides nothing.)
            failed = self._failed[schedule.budgets[stage]]
            eligible = [c for c in ranked if c in kept or self.races_keys or failed[c] < below]
            bracket.promotable[stage + 1] = len(eligible)
            n_next = min(n_next, len(eligible))
            for c in eligible:
                if len(kept) >= n_next:
                    break
                kept.add(c)
            bracket.members.append([c for c in ranked if c in kept])
            bracket.cursor = 0
            logger.debug(
                "%s bracket %d: stage %d, %d configuration(s) %s.",
                self._label,
                bracket.number,
                stage + 1,
                len(kept),
                self._at(budget),
            )
        return False

    def _unstarted(self, bracket: _Bracket) -> TrialInfo | None:
        """The first trial of the bracket's current stage that has not started, if any."""
        stage = bracket.stage
        members = bracket.members[stage]
        level = bracket.schedule.budgets[stage]
        budget, width = self._slot(level), self._width(level)
        while bracket.cursor < len(members) * width:
            config_id = members[bracket.cursor // width]
            instance, seed = self.keys[bracket.cursor % width]
            bracket.cursor += 1
            key = TrialKey(config_id, instance, seed, budget)
            if not self._started(key):
                self._handed.add(key)
                return TrialInfo(self.history.get_config(config_id), instance, seed, budget)
        return None

    def _add_challenger(self, bracket: _Bracket) -> bool:
        """Store a new configuration in the bracket's first stage; False if none is left.

        The configuration is not added if another process filled the stage meanwhile.
        """
        origin = f"{self._label} bracket {bracket.number}"
        for _ in range(_MAX_SKIPS):
            try:
                config = next(self._challengers)
            except (StopIteration, SearchSpaceExhaustedError):
                return False
            config_id = self.history.add_config(config, origin=origin)
            # Read what other processes stored before it: ids follow the order in which the
            # configurations were stored, and a bracket's members are its first configurations
            # by id, which every process then agrees on. (Joined before that read, a process
            # counted its own configuration in ahead of another's, and stages overfilled.)
            self.history.sync()
            if config_id in self._bracket_of or self.history.get_origin(config) != origin:
                continue  # known already (another bracket, or stored by someone else)
            self._scan_configs()  # joins it (and whatever other processes stored)
            return True
        return False

    def _next_in(self, bracket: _Bracket) -> TrialInfo | None:
        """The next trial of a bracket, or None if it waits for results (or is complete)."""
        while not self._advance(bracket):
            info = self._unstarted(bracket)
            if info is not None:
                return info
            if bracket.stage > 0 or bracket.exhausted:
                return None
            if len(bracket.members[0]) >= bracket.schedule.n_configs[0]:
                return None
            if not self._add_challenger(bracket):
                bracket.exhausted = True
                if not bracket.members[0]:
                    del self._open[bracket.number]
                    self._closed.add(bracket.number)
                    return None
        return None

    # -- the interface -------------------------------------------------------------------------

    def ask(self) -> TrialInfo:
        """The next trial to run; never one that has started (or that was handed out before).

        Open brackets are served oldest first; when each waits for results, a new bracket is
        opened, so the call never blocks.

        Raises:
            SearchSpaceExhaustedError: Every bracket waits and no new configuration is left.
        """
        self._refresh()
        for number in sorted(self._open):
            info = self._next_in(self._open[number])
            if info is not None:
                return info
        for _ in range(_MAX_OPENINGS):
            number = self._next_number
            self._next_number += 1
            schedule = self.brackets[number % len(self.brackets)]
            logger.debug(
                "%s: opening bracket %d (s=%d): %d configuration(s) %s.",
                self._label,
                number,
                schedule.s,
                schedule.n_configs[0],
                self._at(schedule.budgets[0]),
            )
            bracket = self._open.setdefault(number, _Bracket(number, schedule))
            info = self._next_in(bracket)
            if info is not None:
                return info
            if bracket.exhausted:
                break
            # (other processes filled the bracket meanwhile, and run its first stage)
        raise SearchSpaceExhaustedError(
            f"{self._label}: no bracket has a trial to run (any still open waits for "
            "results) and the search space has no untried configuration left "
            f"({self.history.n_configs} tried)."
        )

    @property
    def open_brackets(self) -> dict[int, int]:
        """Brackets not complete yet: bracket number -> index of its current stage."""
        self._refresh()
        return {number: bracket.stage for number, bracket in sorted(self._open.items())}

    @property
    def completed_brackets(self) -> list[int]:
        """Numbers of the brackets whose last stage has every result, in order."""
        self._refresh()
        return sorted(self._closed)

    def short_of_the_top(self, n_trials: int | None) -> str | None:
        """What to change when ``n_trials`` trials end a new run before its first bracket's
        last stage (serially, none reaches the top fidelity, and the incumbent is one at a
        lower budget), or None: enough trials, none set, or a run with results already."""
        if n_trials is None or self.history.n_finished:
            return None
        first = self.brackets[0]
        levels = first.budgets
        trials = _key_trials(first) if self.races_keys else sum(first.n_configs) * self._n_keys
        if n_trials >= trials:
            return None
        top = (
            f"all {self._n_keys} instance-seed pairs"
            if self.races_keys
            else f"max_budget={self.budgets[-1]:g}"
        )
        unit = " keys" if self.races_keys else ""
        shown = [f"{_count(n)} at {b:.3g}{unit}" for n, b in zip(first.n_configs, levels)]
        if len(shown) > 6:  # (budgets from 1e-300 to 1 with eta=1e10: 31 stages)
            shown[3:-2] = ["..."]
        stages = ", ".join(shown)
        if not self.races_keys and self._n_keys > 1:
            stages += f"; each configuration on {self._n_keys} instance-seed pairs"
        fix = (
            "raise eta or min_keys"
            if self.races_keys
            else "raise eta, or bring min_budget closer to max_budget"
        )
        return (
            f"{self._label}: n_trials={n_trials} is less than the {_count(trials)} trials of "
            f"the first bracket (configurations per stage: {stages}), so a run on one worker "
            f"ends before any configuration reaches {top}, and its incumbent is one at a "
            f"lower fidelity. Raise n_trials to at least {_count(trials)}, or {fix}."
        )

    def no_room_to_halve(self) -> str | None:
        """What to change when no bracket has a stage to halve (every configuration runs at
        the top fidelity only, as without budgets), or None: there is room, or the single
        one-stage bracket was chosen (``SuccessiveHalving(bracket=0)``)."""
        if any(len(br.budgets) > 1 for br in self.brackets):
            return None
        if getattr(self.settings, "bracket", None) is not None:
            return None
        low = self._lowest
        ratio = self.budgets[-1] / low

        def exact(x: float) -> str:  # (":g" advised an eta of 1 for a ratio of 1.0000001)
            return f"{x:g}" if float(f"{x:g}") == x else repr(float(x))

        span = (
            f"{self._n_keys} instance-seed pairs"
            if self.races_keys
            else f"budgets from {exact(low)} to {exact(self.budgets[-1])}"
        )
        # min_keys is a whole number of pairs: at most the top's count over eta, rounded down
        # (advice of 1.66667 was refused by the min_keys check).
        most_keys = math.floor(self.budgets[-1] / self.settings.eta)
        if self.races_keys and low > 1 and most_keys >= 1:
            fix = f"Use a min_keys of at most {most_keys}" + (
                f", or an eta of at most {exact(ratio)}." if ratio > 1 else "."
            )
        else:
            fix = f"Use an eta of at most {exact(ratio)}." if ratio > 1 else "Widen the budgets."
        return (
            f"{self._label}: {span} leave no room to halve with eta={self.settings.eta:g}: "
            "every bracket runs its configurations at the top fidelity only, as a run without "
            f"budgets would. {fix}"
        )

    def bracket_of(self, config: Configuration) -> int | None:
        """The bracket a configuration was started in, or None if it is not in one."""
        config_id = self.history.get_config_id(config)
        return None if config_id is None else self._bracket_of.get(config_id)

    def _incumbent_budget(self) -> float | None:
        """The highest budget at which a configuration has results on every key of its stage
        and may lead (:meth:`_may_lead`)."""
        for budget in reversed(self.budgets):
            if any(self._may_lead(c, budget) for c in self._complete[budget]):
                return budget
        return None

    def _may_lead(self, config_id: int, budget: float) -> bool:
        """Whether a configuration may be the incumbent at ``budget``: a trial of it there
        succeeded (with a finite ``crash_cost``, one that only crashed must not lead; one
        that timed out on a hard instance still may, with the penalty in its mean, or with
        an infinite ``crash_cost`` counted among its failed keys)."""
        costs = self._complete[budget][config_id]
        first = self._first_success.get((config_id, self._slot(budget)))
        succeeded = first is not None and first < self._width(budget)
        return succeeded and all(map(math.isfinite, costs))

    def _select_incumbents(self) -> list[int]:
        budget = self._incumbent_budget()
        if budget is None:
            return []
        ids = sorted(c for c in self._complete[budget] if self._may_lead(c, budget))
        if len(self.history.objectives) > 1:  # the front of those with the fewest failures
            fewest = min(self._failed[budget][c] for c in ids)
            ids = [c for c in ids if self._failed[budget][c] == fewest]
            costs = np.array([self._complete[budget][c] for c in ids], dtype=float)
            return front_incumbents(ids, costs, self.settings.max_incumbents, self._threshold)
        return self._rank(ids, budget)[: self.settings.max_incumbents]

    def incumbents(self) -> list[Configuration]:
        """The best configurations at the highest budget with results, best first.

        One objective: lowest mean cost over the keys (ties by config id). Several: the Pareto
        front. Configurations with no successful trial there are never incumbents.
        """
        self._refresh()
        return [self.history.get_config(c) for c in self._incumbent_ids]

    def incumbent_costs(self) -> list[float]:
        """The best incumbent's mean cost over its keys at the incumbents' budget; empty if
        there is no incumbent."""
        self._refresh()
        budget = self._incumbent_budget()
        if not self._incumbent_ids or budget is None:
            return []
        return list(self._complete[budget][self._incumbent_ids[0]])

    def incumbents_costs(self) -> list[list[float]]:
        """Every incumbent's mean cost at the incumbents' budget, in the order of
        :meth:`incumbents`."""
        self._refresh()
        budget = self._incumbent_budget()
        if budget is None:
            return []
        return [list(self._complete[budget][c]) for c in self._incumbent_ids]

    def incumbent_keys(self) -> list[TrialKey]:
        """The finished trials the best incumbent's cost is computed from."""
        self._refresh()
        if not self._incumbent_ids:
            return []
        budget = self._incumbent_budget()
        if budget is None:
            return []
        trials = self._trials[(self._incumbent_ids[0], self._slot(budget))]
        return [trials[i] for i in range(self._width(budget))]

    def overdue(self, now: float) -> list[TrialInfo]:
        """Running trials of configurations pending for longer than ``pending_config_timeout``.

        The caller records them as RETIRED (with the crash cost); they then count as finished,
        so the stage they hold back can complete. Empty without a timeout.
        """
        return overdue_trials(self.history, self.settings.pending_config_timeout, now)
