"""Racing: decides which trial runs next and which configurations are the incumbents.

Configurations are evaluated on one fixed, ordered list of *keys* (instance, seed) pairs at the
largest budget: deterministic scenarios use one seed per instance, others draw a fresh seed for
every pass over the instances. A configuration's *level* is how many of its keys have finished.

The incumbents are compared on the first *comparison level* keys of the list, all of them
finished, so a challenger is compared on the very same keys. With one objective that is the
highest level any candidate has reached: a challenger can only become incumbent once it has run
every key of the incumbent. With several, the Pareto front is compared on keys all its members
have: on one key less than the highest level while a member of that front has yet to run the
next key, else on all of them. A challenger is raced in stages (``min_samples_per_config``
keys, then twice as many, up to the comparison level), taking those keys in an order of its
own, and is rejected as soon as it is worse than an incumbent on the keys both have. Each time
a new challenger starts, an incumbent gets one more key, up to ``max_config_calls``: the best
one, or with several objectives a member of the front with the fewest keys, so that the
members stay at most one key apart and the front never shrinks to the one member that went
ahead (SMAC3 also intensifies every member of the front).

A key that failed (a cost that is not finite: ``crash_cost`` is inf by default, also for
timeouts) counts apart from the costs: fewer failures win, then the aggregate cost over the keys
that did not fail. An instance that every configuration fails on thus decides nothing, and a
challenger that fails where the incumbent did not is rejected at once. With a finite
``crash_cost`` (a penalty such as PAR10) a failure is a cost like any other, in the aggregate. A
configuration none of whose trials succeeded is never reported as an incumbent, but racing
goes on from it while nothing else has done better (as when no configuration solves the first
instance).

All of this is a function of the run history, so the state is rebuilt from it on resume and is
the same in every process sharing it. The intensifier never waits: when the trials it needs are
running it starts another challenger, so parallel workers always have work.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, SupportsFloat

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
from smacx.trial import (
    COSTS_LOGGED,
    StatusType,
    TrialInfo,
    TrialKey,
    aggregate_costs,
    cost_text,
    halved_if_wide,
)

if TYPE_CHECKING:
    from smacx.runhistory import RunHistory
    from smacx.scenario import Scenario
    from smacx.selector import ConfigSelector

__all__ = [
    "Intensifier",
    "Racing",
    "Intensification",
    "IntensifierSettings",
    "make_keys",
    "check_instance_order",
    "SMAC3_SETTINGS",
    "KeyIndex",
    "finite_costs",
    "overdue_trials",
    "rank_configs",
    "pareto_fronts",
    "first_front",
]

logger = logging.getLogger("smacx")


def finite_costs(costs: Sequence[float]) -> bool:
    """Whether a trial counts as done rather than failed when configurations are ranked.

    Args:
        costs: The trial's costs, one per objective.

    Returns:
        True if all are finite; False for a trial that failed at an infinite ``crash_cost``,
        which racing and Hyperband count apart instead of averaging.
    """
    return all(math.isfinite(c) for c in costs)


#: What the live intensifiers (:class:`Racing`, and Hyperband's ``Halving``) call what SMAC3's
#: intensifiers offer under these names.
SMAC3_NAMES = {
    "get_incumbent": "SMAC.incumbent (the best; with several objectives, SMAC.incumbents is "
    "the Pareto front)",
    "get_incumbents": "incumbents()",
    "get_incumbent_instance_seed_budget_keys": "incumbent_keys()",
    "get_instance_seed_budget_keys": "SMAC.runhistory.get_trials(config)",
    "get_instance_seed_keys_of_interest": "the attribute keys",
    "trajectory": "SMAC.trajectory or RunHistory.trajectory()",
}


#: Hints for keywords of SMAC3's intensifiers and configuration selector that smacx takes
#: elsewhere or does without.
SMAC3_SETTINGS = {
    "n_seeds": "racing a scenario that is not deterministic (Scenario(deterministic=False)) "
    "draws a fresh seed per instance on every pass, and max_config_calls bounds the "
    "instance-seed pairs of a configuration (3 per instance by default); Hyperband(n_seeds=...) "
    "sets the seeds per instance of its stages",
    "seed": "a run's random seed is Scenario(seed=...)",
    "retries": "when the model proposes no new configuration, random ones are drawn; there is "
    "nothing to set",
    "retrain_after": "the model is refitted for every proposal up to 200 observations and "
    "every few results after; there is nothing to set",
    "instance_seed_order": "smacx calls it instance_order: 'shuffled' (SMAC3's 'shuffle_once') "
    "or 'fixed' (SMAC3's None)",
}

#: SMAC3's ``instance_seed_order`` values, and what smacx calls them.
_SMAC3_ORDERS = {
    "shuffle_once": "SMAC3's 'shuffle_once' is 'shuffled' here: one seeded order per pass",
    "shuffle": "smacx has no 'shuffle': 'shuffled' draws one seeded order per pass",
    None: "SMAC3's None is 'fixed' here",
}


def check_instance_order(owner: str, value: object) -> None:
    """Refuse an ``instance_order`` other than ``"shuffled"`` and ``"fixed"``, with the smacx
    name of SMAC3's values."""
    if isinstance(value, str) and value in ("shuffled", "fixed"):
        return
    hint = _SMAC3_ORDERS.get(value) if isinstance(value, (str, type(None))) else None
    raise ScenarioError(
        f"{owner}.instance_order must be 'shuffled' or 'fixed'; got {value!r}."
        + (f" {hint}." if hint else "")
    )


def make_keys(scenario: Scenario, n_passes: int, order: str) -> list[tuple[str | None, int]]:
    """The ordered instance-seed pairs configurations are evaluated on (a prefix of them).

    Deterministic scenarios get one pass over the instances with one seed for all; others get
    ``n_passes`` passes, each with a fresh seed per instance. ``order`` is ``"shuffled"`` (a
    seeded permutation per pass) or ``"fixed"``. The same scenario always gives the same keys.
    """
    instances: list[str | None] = (
        list(scenario.instances) if scenario.instances is not None else [None]
    )
    rng = np.random.default_rng(scenario.seed)
    fixed_seed = int(rng.integers(2**31))
    keys: list[tuple[str | None, int]] = []
    for _ in range(1 if scenario.deterministic else n_passes):
        names = list(instances)
        if order == "shuffled" and len(names) > 1:
            names = [names[i] for i in rng.permutation(len(names))]
        for instance in names:
            seed = fixed_seed if scenario.deterministic else int(rng.integers(2**31))
            keys.append((instance, seed))
    return keys


class KeyIndex:
    """Where an (instance, seed) pair stands in the ordered keys of an intensifier."""

    def __init__(self, keys: Sequence[tuple[str | None, int]], deterministic: bool) -> None:
        self._index: dict[tuple[str | None, int | None], int] = {
            key: i for i, key in enumerate(keys)
        }
        # A deterministic target gives the same result with any seed: a result told with
        # another seed (a warm start, say) stands for its instance's key.
        self._by_instance = (
            {instance: i for i, (instance, _) in enumerate(keys)} if deterministic else {}
        )

    def of(self, key: TrialKey) -> int | None:
        """The index of the key ``key`` (a trial's) stands for, or None: another instance, or
        another seed of a scenario that is not deterministic. Budgets are not looked at."""
        index = self._index.get((key.instance, key.seed))
        return self._by_instance.get(key.instance) if index is None else index


def rank_configs(ids: Sequence[int], costs: np.ndarray) -> list[int]:
    """Config ids from best to worst.

    One objective: by cost, ties by id. Several: by Pareto front (non-dominated sorting), then by
    the mean of the costs scaled to [0, 1] over the group, then by id. NaN counts as +inf.
    """
    if len(ids) == 0:
        return []
    costs = np.where(np.isnan(costs), np.inf, costs)
    id_arr = np.asarray(ids)
    if costs.shape[1] == 1:
        return [int(i) for i in id_arr[np.lexsort((id_arr, costs[:, 0]))]]
    front = pareto_fronts(costs)
    return [int(i) for i in id_arr[np.lexsort((id_arr, _scaled_mean(costs), front))]]


def _scaled_mean(costs: np.ndarray) -> np.ndarray:
    """`(n,)` mean of each row of ``costs`` `(n, m)` (NaN already +inf) with every objective
    scaled to [0, 1] by the range of its finite costs in the group: the tie-break of
    :func:`rank_configs` within a front. A row that is not finite scores +inf."""
    costs = halved_if_wide(costs)
    finite = np.isfinite(costs)
    lo = np.min(np.where(finite, costs, np.inf), axis=0)
    hi = np.max(np.where(finite, costs, -np.inf), axis=0)
    lo, hi = np.where(np.isfinite(lo), lo, 0.0), np.where(np.isfinite(hi), hi, 0.0)
    span = np.where(hi > lo, hi - lo, 1.0)
    with np.errstate(invalid="ignore"):
        score = np.mean((costs - lo) / span, axis=1)
    out: np.ndarray = np.where(np.isnan(score), np.inf, score)
    return out


def pareto_fronts(costs: np.ndarray) -> np.ndarray:
    """Pareto front index (0 = non-dominated) of each row of ``costs`` (n, m).

    Builds the `(n, n)` dominance matrix and peels it front by front: for the ranks of a
    bracket's members. The first front alone is :func:`first_front`'s, at a fraction of the
    cost."""
    leq = np.all(costs[None, :, :] <= costs[:, None, :], axis=2)  # [i, j]: j weakly better
    lt = np.any(costs[None, :, :] < costs[:, None, :], axis=2)
    dominated_by = leq & lt  # [i, j]: j dominates i
    front = np.full(len(costs), -1)
    level = 0
    while np.any(front < 0):
        left = front < 0
        free = left & ~np.any(dominated_by[:, left], axis=1)
        front[free] = level
        level += 1
    return front


def first_front(costs: np.ndarray) -> np.ndarray:
    """`(n,)` mask of the rows of ``costs`` `(n, m)` that no other row dominates: the rows of
    Pareto front 0, as ``pareto_fronts(costs) == 0``.

    A row can only be dominated by one before it in lexicographic order (the first objective
    in which the two differ is lower in the dominating one). So the lexicographically first
    row still left is on the front; the rows it dominates are dropped and the next row left
    is taken. A row dominated by a dropped one is dominated by the row that dropped it too.
    This takes one pass over the rows left per member of the front: ``O(n * front * m)``
    instead of the ``O(n^2 * m)`` of the dominance matrix. With two objectives one sweep does:
    a row is dominated exactly when a row before it in that order, other than its own
    duplicates, has a second cost as low or lower.
    """
    costs = np.asarray(costs, dtype=float)
    if costs.ndim != 2 or np.isnan(costs).any():
        # (NaN is neither better nor worse than anything: no order to sweep in)
        out: np.ndarray = pareto_fronts(costs) == 0
        return out
    on_front = np.zeros(costs.shape[0], dtype=bool)
    left = np.lexsort(costs.T[::-1])  # by the first objective, ties by the next, ...
    if costs.shape[1] == 2 and left.size:
        ordered = costs[left]
        # position of the first of each row's duplicates (equal rows are adjacent)
        new = np.concatenate([[True], np.any(ordered[1:] != ordered[:-1], axis=1)])
        first = np.maximum.accumulate(np.where(new, np.arange(left.size), 0))
        lowest_before = np.concatenate([[np.inf], np.minimum.accumulate(ordered[:, 1])])
        on_front[left] = (first == 0) | (lowest_before[first] > ordered[:, 1])
        return on_front
    while left.size:
        head, left = left[0], left[1:]
        on_front[head] = True
        rest, best = costs[left], costs[head]
        dominated = np.all(best <= rest, axis=1) & np.any(best < rest, axis=1)
        left = left[~dominated]
    return on_front


def _spread_out(front: np.ndarray, kept: np.ndarray, k: int) -> np.ndarray:
    """Positions of the rows of ``front`` `(n, m)` left after dropping, again and again, the
    row with the smallest crowding distance (ties: the first row), never one that ``kept``
    `(n,)` marks, until ``max(k, kept.sum())`` are left.

    A drop changes the distances of its neighbours in each objective's order only, so those
    orders are linked lists and the distances sit in a heap, updated as rows go: ``O(n log n)``
    for a front of n rows (recomputing every distance after each drop took 0.12 s per call
    at 2,000 rows, on every result of a run). The rows left are the objectives' extremes,
    whose distance is infinite, once the smallest is: dropping one of those moves a range,
    and every distance is recomputed from then on (over at most 2m rows and the kept ones).

    Args:
        front: `(n, m)` costs of the front's members.
        kept: `(n,)` mask of the members that must stay.
        k: How many members to keep, at least.

    Returns:
        `(max(k, kept.sum()),)` positions of the rows left, ascending (all n if n is fewer).
    """
    n, m = front.shape
    target = max(k, int(kept.sum()))
    front = halved_if_wide(front)
    orders = [np.argsort(front[:, j], kind="stable") for j in range(m)]
    spans = [float(front[order[-1], j] - front[order[0], j]) for j, order in enumerate(orders)]
    start = np.zeros(n)  # every distance at once, summed in the objectives' order
    before, after = [], []  # each objective's neighbours of every row (-1: none)
    for j, order in enumerate(orders):
        gaps = np.full(n, np.inf)
        if spans[j] > 0:
            gaps[1:-1] = (front[order[2:], j] - front[order[:-2], j]) / spans[j]
        start[order] += gaps
        lo, hi = np.full(n, -1, dtype=np.intp), np.full(n, -1, dtype=np.intp)
        lo[order[1:]], hi[order[:-1]] = order[:-1], order[1:]
        before.append(lo.tolist())
        after.append(hi.tolist())
    values = front.T.tolist()  # (m lists of n floats: plain indexing in the loop below)

    def distance(row: int) -> float:
        total = 0.0  # (summed as the vectorized pass sums, to compare equal)
        for j in range(m):
            lo, hi = before[j][row], after[j][row]
            if spans[j] > 0 and lo >= 0 and hi >= 0:
                total += (values[j][hi] - values[j][lo]) / spans[j]
            else:
                total += math.inf
        return total

    current = start.tolist()
    alive = [True] * n
    # (a cost that is not finite makes distances NaN, whose order a heap cannot keep: the
    # full passes alone, as before; racing and Hyperband pass finite costs)
    finite = bool(np.isfinite(front).all())
    heap = [(d, row) for row, d in enumerate(current) if finite and not kept[row]]
    heapq.heapify(heap)
    left = n
    while left > target and heap:
        d, row = heapq.heappop(heap)
        if not alive[row] or d != current[row]:
            continue  # a stale entry: the row went, or its distance changed
        if d == math.inf:
            break  # only extremes left to drop: the full passes below
        alive[row] = False
        left -= 1
        changed = set()
        for j in range(m):
            lo, hi = before[j][row], after[j][row]
            if lo >= 0:
                after[j][lo] = hi
                changed.add(lo)
            if hi >= 0:
                before[j][hi] = lo
                changed.add(hi)
        for neighbour in changed:
            current[neighbour] = distance(neighbour)
            if not kept[neighbour]:
                heapq.heappush(heap, (current[neighbour], neighbour))
    rows = np.flatnonzero(alive)
    while len(rows) > target:  # every distance recomputed per drop: a few rows at most
        left_front = front[rows]
        if np.isfinite(left_front).all() and np.any(np.ptp(left_front, axis=0) == 0):
            # An objective all share: every distance is infinite, now and after each drop,
            # and the first row not kept goes, again and again (recomputed, 0.25 s at 2,000).
            others = np.flatnonzero(~kept[rows])
            return np.delete(rows, others[: len(rows) - target])
        dist = np.zeros(len(rows))
        for j in range(m):
            order = np.argsort(front[rows, j], kind="stable")
            ordered = front[rows[order], j]
            span = ordered[-1] - ordered[0]
            gaps = np.full(len(order), np.inf)
            if span > 0:
                gaps[1:-1] = (ordered[2:] - ordered[:-2]) / span
            dist[order] += gaps
        others = np.flatnonzero(~kept[rows])
        rows = np.delete(rows, int(others[np.argmin(dist[others])]))
    return rows


def front_incumbents(
    ids: Sequence[int], costs: np.ndarray, k: int, threshold: Sequence[float] | None = None
) -> list[int]:
    """The Pareto front of configurations ``ids`` with ``costs`` (n, m), best first (see
    :func:`rank_configs`); of a front larger than ``k``, the best-ranked member and the
    ``k - 1`` that spread along it most: each objective's best member while ``k`` allows,
    and of the others the one with the smallest crowding distance (NSGA-II's: the sum over
    objectives of the gap between its neighbours, scaled by the front's range) goes first,
    again and again, so each objective's other end stays too while ``k`` allows. The
    best-ranked member at or below ``threshold`` in every objective (the run's
    ``termination_cost_threshold``) stays too, beyond ``k`` if need be: dropped, it would
    have met the threshold unseen, and the run gone on."""
    # Racing calls this after every result with every configuration at the top level, so
    # only the first front is computed (pareto_fronts ranked all of them, O(n^2) each), and
    # the members are ranked as rank_configs ranks them: by scaled mean over the whole
    # group, then by id.
    members = np.flatnonzero(first_front(costs))
    ranked_costs = np.where(np.isnan(costs), np.inf, costs)
    score = _scaled_mean(ranked_costs)
    id_arr = np.asarray(ids)
    position: np.ndarray | None = None  # each row's place in rank_configs's order
    if np.isnan(costs).any():
        # (Racing passes finite costs only.) A member with a NaN cost, as +inf, may rank
        # behind other fronts: rank every row as rank_configs does.
        order = np.lexsort((id_arr, score, pareto_fronts(ranked_costs)))
        position = np.empty(len(order), dtype=np.intp)
        position[order] = np.arange(len(order))

    def best_first(rows: np.ndarray) -> np.ndarray:
        if position is not None:
            return rows[np.argsort(position[rows])]
        return rows[np.lexsort((id_arr[rows], score[rows]))]

    first = best_first(members)[0] if len(members) else None
    kept: list[int] = [] if first is None else [int(first)]
    if threshold is not None and len(members) > k:
        meeting = members[np.all(costs[members] <= np.asarray(threshold, dtype=float), axis=1)]
        best_meeting = int(best_first(meeting)[0]) if len(meeting) else None
        if best_meeting is not None and best_meeting not in kept:
            kept.append(best_meeting)
    if len(members) > max(k, len(kept)):
        # Each objective's best member stays while k allows: crowding prizes both ends of
        # every objective alike, and with 3 objectives and k = 4 kept the worst in one and
        # dropped the best in another (a multi-objective audit's finding).
        for j in range(costs.shape[1]):
            if len(kept) >= k:
                break
            lowest = members[ranked_costs[members, j] == ranked_costs[members, j].min()]
            best = int(best_first(lowest)[0])
            if best not in kept:
                kept.append(best)
        members = members[_spread_out(costs[members], np.isin(members, kept), k)]
    return [int(i) for i in id_arr[best_first(members)]]


def plain_number(value: SupportsFloat) -> int | float:
    """A setting's number as settings store it: a whole number as an int, else a float
    (numpy's numbers included), so that equal settings print alike."""
    number = float(value)
    return int(number) if number.is_integer() else number


def overdue_trials(history: RunHistory, timeout: float | None, now: float) -> list[TrialInfo]:
    """Every running trial of a configuration that has a trial running for over ``timeout`` s
    (trials left by a process that is gone do not count).

    Args:
        history: The run history.
        timeout: Seconds a trial may be pending; None: never overdue.
        now: Unix time to measure against.
    """
    if timeout is None:
        return []
    # Trials of a process that died are run again (take_over_stale), not retired.
    running = [(key, value) for key, value in history.running_items() if not history.is_stale(key)]
    late = {key.config_id for key, value in running if now - value.starttime > timeout}
    return [history.trial_info(key) for key, _ in running if key.config_id in late]


class Intensification(Protocol):
    """A live intensifier: hands out trials and names the incumbents of one run."""

    def ask(self) -> TrialInfo:
        """The next trial to run; never one that has already started."""
        ...

    def incumbents(self) -> list[Configuration]:
        """The best configurations so far, best first."""
        ...

    def incumbent_costs(self) -> list[float]:
        """The best incumbent's cost per objective, as the incumbents were chosen by (on
        their keys, budget and aggregate); empty without an incumbent."""
        ...

    def incumbents_costs(self) -> list[list[float]]:
        """Every incumbent's cost per objective (several objectives: the Pareto front), as
        :meth:`incumbent_costs` gives the best one's; in the order of :meth:`incumbents`."""
        ...

    def overdue(self, now: float) -> list[TrialInfo]:
        """Running trials to record as RETIRED because they are pending for too long."""
        ...


class IntensifierSettings(Protocol):
    """What ``SMAC(intensifier=...)`` takes: settings that start an intensification."""

    def build(
        self, scenario: Scenario, selector: ConfigSelector, history: RunHistory
    ) -> Intensification:
        """Start intensifying on ``history``, taking challengers from ``selector``."""
        ...


@keyword_hints(elsewhere=SMAC3_SETTINGS)
@dataclass(frozen=True)
class Intensifier:
    """Settings of SMAC-style racing; ``SMAC(..., intensifier=Intensifier(max_config_calls=5))``.

    Args:
        max_config_calls: Most keys (instance-seed pairs) a configuration is evaluated on. By
            default every instance once for deterministic scenarios, otherwise 3 per instance.
        max_incumbents: How many incumbents are kept: the best configurations at the highest
            level (one objective) or the Pareto front (several), best first; of a larger
            front, the best-ranked one and those that spread along it most.
        min_samples_per_config: Samples (keys) a configuration runs before it is compared or
            made incumbent, whether they succeeded or failed; its first samples are handed out
            together so they can run in parallel.
        aggregate: How samples of a configuration are combined: ``"mean"`` or ``"median"``
            (with instances, the median of each instance's samples, then their mean).
        pending_config_timeout: Seconds after which a configuration whose samples are still
            running is retired: its outstanding trials are recorded as RETIRED and it is not
            raced further, so a sample that hangs or is lost cannot stall the run. A retired
            configuration cannot be (or stay) the incumbent: its hung sample counts as a
            failure, as a trial over the time limit would.
        instance_order: The order of the keys the incumbent runs on: ``"shuffled"`` (a
            seeded random order per pass, SMAC3's ``"shuffle_once"``) or ``"fixed"`` (the
            scenario's order of instances). Either way a challenger runs the keys the
            incumbent has run in an order of its own, so that no one instance decides which
            challengers go further.
    """

    max_config_calls: int | None = None
    max_incumbents: int = 10
    min_samples_per_config: int = 1
    aggregate: Literal["mean", "median"] = "mean"
    pending_config_timeout: float | None = None
    instance_order: Literal["shuffled", "fixed"] = "shuffled"

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> ScenarioError:
            return ScenarioError(
                f"Intensifier.{name} must be {expected}; got {getattr(self, name)!r}."
            )

        if self.max_config_calls is not None and (
            not is_whole(self.max_config_calls) or self.max_config_calls < 1
        ):
            raise fail("max_config_calls", "an int >= 1 or None")
        if not is_whole(self.max_incumbents) or self.max_incumbents < 1:
            raise fail("max_incumbents", "an int >= 1")
        if not is_whole(self.min_samples_per_config) or self.min_samples_per_config < 1:
            raise fail("min_samples_per_config", "an int >= 1")
        if self.aggregate not in ("mean", "median"):
            raise fail("aggregate", "'mean' or 'median'")
        if (
            self.max_config_calls is not None
            and self.min_samples_per_config > self.max_config_calls
        ):
            raise ScenarioError(
                f"Intensifier.min_samples_per_config must be at most max_config_calls; got "
                f"{self.min_samples_per_config!r} > {self.max_config_calls!r}. A configuration "
                "is never evaluated on more keys than max_config_calls: raise it, or ask for "
                "fewer samples."
            )
        timeout = self.pending_config_timeout
        if timeout is not None and (not is_real(timeout) or not 0 < timeout < math.inf):
            raise fail("pending_config_timeout", "a number of seconds > 0 or None")
        # Plain numbers, so that equal settings have one repr (a run stores it to be resumed
        # with the same settings): 60 and 60.0 are both 60.
        for name in ("max_config_calls", "max_incumbents", "min_samples_per_config"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, int(getattr(self, name)))
        if timeout is not None:
            object.__setattr__(self, "pending_config_timeout", plain_number(timeout))
        check_instance_order("Intensifier", self.instance_order)

    def build(self, scenario: Scenario, selector: ConfigSelector, history: RunHistory) -> Racing:
        """Start racing on ``history``, taking challengers from ``selector``."""
        return Racing(self, scenario, selector, history)


@dataclass
class _ConfigState:
    """What racing knows of one configuration (rebuilt from the history)."""

    done: dict[int, list[float]] = field(default_factory=dict)  # key index -> costs
    trials: dict[int, TrialKey] = field(default_factory=dict)  # key index -> the trial's key
    failed: int = 0  # keys of ``done`` with a cost that is not finite (crash_cost inf)
    succeeded: bool = False  # whether a key of ``done`` ended in SUCCESS
    rejected: bool = False
    retired: bool = False
    # The keys it and the incumbents had when it was last found no worse than them: until
    # either gains one, it still is not (results only add keys).
    judged: tuple[Any, ...] | None = None
    # Costs of its results on keys that are not raced (told by the user: a warm start)
    told: list[list[float]] = field(default_factory=list)


def _mean_costs(costs: list[list[float]]) -> np.ndarray:
    """`(m,)` mean costs of the cost vectors `costs` whose costs are all finite (inf when
    none is)."""
    finite = [c for c in costs if all(math.isfinite(x) for x in c)]
    return aggregate_costs(np.array(finite)) if finite else np.full(len(costs[0]), np.inf)


@smac3_names(SMAC3_NAMES)
class Racing:
    """The live racing state of one run; built by :meth:`Intensifier.build`."""

    def __init__(
        self,
        settings: Intensifier,
        scenario: Scenario,
        selector: ConfigSelector,
        history: RunHistory,
    ) -> None:
        self.settings = settings
        self.history = history
        self.budget = scenario.max_budget
        # (the run's termination_cost_threshold, which a member of a cut front may meet)
        self._threshold = scenario.termination_costs
        #: Every budget a trial may get (none without budgets).
        self.budgets: tuple[float, ...] = () if self.budget is None else (self.budget,)
        instances: list[str | None] = (
            list(scenario.instances) if scenario.instances is not None else [None]
        )
        default_calls = len(instances) * (1 if scenario.deterministic else 3)
        n_keys = settings.max_config_calls or default_calls
        if scenario.deterministic:
            if n_keys > len(instances):
                logger.warning(
                    "Intensifier.max_config_calls=%d: a deterministic scenario evaluates a "
                    "configuration once per instance, so at most %d time(s) here. Pass "
                    "Scenario(deterministic=False) to evaluate it on more seeds.",
                    n_keys,
                    len(instances),
                )
            n_keys = min(n_keys, len(instances))
        #: The ordered keys every configuration is evaluated on a prefix of.
        passes = -(-n_keys // len(instances))
        self.keys = make_keys(scenario, passes, settings.instance_order)[:n_keys]
        #: The incumbent's cost may come from a prefix of :attr:`keys` (it gains one more per
        #: new challenger), so only a cost on all of them meets ``termination_cost_threshold``.
        self.races_keys = True
        self._index = KeyIndex(self.keys, scenario.deterministic)
        self.n_first = min(settings.min_samples_per_config, len(self.keys))
        self._challengers: Iterator[Configuration] = selector.next_configs(history)
        self._queue: deque[TrialInfo] = deque()
        self._states: dict[int, _ConfigState] = {}
        self._active: set[int] = set()  # neither rejected nor retired
        # Candidates at the highest level, with their failed keys and aggregate costs; and
        # those with one key less or more, over one key less (_below).
        self._top: dict[int, tuple[int, list[float]]] = {}
        self._below: dict[int, tuple[int, list[float]]] = {}
        self._top_level = 0
        self._level = 0  # the comparison level: how many keys the incumbents are compared on
        self._multi = len(scenario.objectives) > 1
        self._selected_level = -1  # _top_level when the incumbents were last selected
        self._lead_below: int | None = None  # the best of _below when last selected
        self._seen = 0
        self._incumbent_ids: list[int] = []
        self._logged: int | None = None  # the last incumbent logged as new
        self._any_success = False  # whether any raced key has finished in SUCCESS
        self._key_seed = scenario.seed
        self._resuming = True  # (reading a stored run: its incumbent is not new)
        self._refresh()
        self._resuming = False
        for config_id in self._states:  # resume: finish stages a stopped process began
            self._queue.extend(self._stage_trials(config_id))

    # -- reading the history -------------------------------------------------------------------

    def _state(self, config_id: int) -> _ConfigState:
        if config_id not in self._states:
            self._states[config_id] = _ConfigState()
            self._active.add(config_id)
        return self._states[config_id]

    def _refresh(self) -> None:
        """Take in results that arrived since the last call, then re-derive the incumbents."""
        new = self.history.finished_since(self._seen)
        self._seen += len(new)
        changed = set()
        for key in new:
            index = self._key_index(key)
            if index is None:
                # A result on a seed or instance that is not raced (told by the user, e.g. a
                # warm start) is not part of the race, but its configuration is: it runs on
                # the raced keys like any challenger.
                if key.budget == self.budget:
                    self._state(key.config_id).told.append(self.history[key].costs())
                continue
            value = self.history[key]
            state = self._state(key.config_id)
            if index in state.done:
                continue  # (deterministic: the same key under two seeds counts once)
            state.done[index] = value.costs()
            state.trials[index] = key  # (deterministic: maybe told with a seed of its own)
            state.succeeded |= value.status is StatusType.SUCCESS
            state.retired |= value.status is StatusType.RETIRED
            changed.add(key.config_id)
        if not changed:
            return
        for config_id in changed:
            state = self._states[config_id]
            state.failed = sum(not finite_costs(costs) for costs in state.done.values())
        if not self._any_success and any(self._states[c].succeeded for c in changed):
            # The first success: configurations none of whose trials succeeded (that failed
            # on every key, or crashed at a finite crash_cost) are candidates no more.
            self._any_success = True
            changed |= set(self._top) | set(self._below)
        for config_id in changed:
            self._update_top(config_id)
        self._incumbent_ids = self._select_incumbents(changed)
        for config_id in self._intensified():
            # An incumbent is raced on: one rejected while another led (a challenger lucky on
            # its first key) was never run on another key when it led again, and the run kept
            # to the keys it had (an audit: 2 of 4 instances for 97 trials; on a finite space
            # ask() then looped for ever, handing out its trial and dropping it).
            state = self._states[config_id]
            if state.rejected and not state.retired:
                state.rejected, state.judged = False, None
                self._active.add(config_id)
        best = self._incumbent_ids[0] if self._incumbent_ids else None
        failed, cost = self._compared(best) if best is not None else (0, [])
        if (
            best is not None
            and best != self._logged
            and self._states[best].succeeded
            and failed < self._level  # else no answer (see _reported), only the race's lead
        ):
            self._logged = best
            logger.info(
                "%s: config %d, %s over %d instance-seed pair(s)%s.",
                "Incumbent of the stored run" if self._resuming else "New incumbent",
                best,
                cost_text(cost),
                self._level,
                f" (failed on {failed} of them, not in the cost)" if failed else "",
                extra={COSTS_LOGGED: tuple(cost)},
            )
        for config_id in changed:
            self._maybe_reject(config_id)

    def _cost(self, config_id: int, indices: list[int]) -> list[float]:
        """The aggregate costs over those of ``indices`` whose costs are all finite (inf when
        none is): failures are counted apart (``_ConfigState.failed``), so that a key every
        configuration fails on, such as an instance none solves, leaves the others to decide."""
        done = self._states[config_id].done
        rows = [done[i] for i in indices if finite_costs(done[i])]
        if not rows:
            return [math.inf] * len(done[indices[0]]) if indices else []
        if len(rows) == 1:  # (its mean and median; numpy costs more, once per configuration
            # when a reopened run rebuilds its racing state)
            return [float(c) for c in rows[0]]
        if self.settings.aggregate == "median":
            # The median of each instance's samples, then their mean: one median over every
            # instance's samples (costs 1, 10 and 150 on three instances) was the middle
            # instance's cost whatever the others', and a knob that mattered on one instance
            # was ignored (an audit's finding).
            by_instance: dict[Any, list[list[float]]] = {}
            for i in indices:
                if finite_costs(done[i]):
                    by_instance.setdefault(self.keys[i][0], []).append(done[i])
            medians = [aggregate_costs(r, median=True) for r in by_instance.values()]
            aggregate = medians[0] if len(medians) == 1 else aggregate_costs(medians)
        else:
            aggregate = aggregate_costs(rows)
        return [float(c) for c in aggregate]

    def _eligible(self, config_id: int) -> bool:
        """Whether a configuration has run its first stage (``min_samples_per_config`` keys, a
        finished prefix) and was not retired: however those keys went. (It once needed that
        many successes: a configuration with a failure among them, or with a finite
        ``crash_cost`` any crash, never qualified, and a first instance none solves kept every
        trial of the run on that instance, with no incumbent.)"""
        state = self._states[config_id]
        return (
            not state.retired
            and len(state.done) >= self.n_first
            and all(i in state.done for i in range(len(state.done)))  # a finished prefix
        )

    def _candidate(self, config_id: int) -> bool:
        """Whether a configuration may be an incumbent: eligible, with a successful trial
        among its keys. Until the run has any success, one without is a candidate too (ranked
        by its failures and costs, see :meth:`_select_incumbents`): when the first key fails
        for every configuration (an instance none solves), an incumbent still moves on to the
        next keys. (A crash at a finite ``crash_cost`` below the successes' costs would
        otherwise lead the race, and dominate a Pareto front.)"""
        state = self._states[config_id]
        if not self._eligible(config_id) or not state.done:
            return False
        return state.succeeded or not self._any_success

    def _on_keys(self, config_id: int, level: int) -> tuple[int, list[float]]:
        """A configuration's failed keys and aggregate costs over the first ``level`` keys."""
        done = self._states[config_id].done
        indices = list(range(level))
        return sum(not finite_costs(done[i]) for i in indices), self._cost(config_id, indices)

    def _compared(self, config_id: int) -> tuple[int, list[float]]:
        """An incumbent's failed keys and aggregate costs on the compared keys."""
        return (self._below if self._level < self._top_level else self._top)[config_id]

    def _update_top(self, config_id: int) -> None:
        """Keep ``_top`` = candidates (:meth:`_candidate`) at the highest level, and
        ``_below`` = those with at least one key less, on one key less.
        When the last one at the highest level drops out (it crashed on a further key, or was
        retired), the highest level that still has candidates takes over."""
        self._top.pop(config_id, None)
        self._below.pop(config_id, None)
        if self._candidate(config_id):
            level = len(self._states[config_id].done)
            if level > self._top_level:
                # One level up, the old top is the new one-key-less group, on the same keys.
                one_up = level == self._top_level + 1
                self._below = self._top if one_up else self._group(level - 1, above=True)
                self._top, self._top_level = {}, level
            if level == self._top_level:
                self._top[config_id] = self._on_keys(config_id, level)
            if level >= self._top_level - 1 >= 1:
                self._below[config_id] = self._on_keys(config_id, self._top_level - 1)
        if not self._top and self._top_level > 0:
            levels = [len(s.done) for c, s in self._states.items() if self._candidate(c)]
            self._top_level = max(levels, default=0)
            self._top = self._group(self._top_level, above=False)
            self._below = self._group(self._top_level - 1, above=True)
            self._selected_level = -1  # select among all of them

    def _group(self, level: int, above: bool) -> dict[int, tuple[int, list[float]]]:
        """Candidates with ``level`` keys (``above``: or more), on their first ``level``
        keys."""
        if level < 1:
            return {}
        return {
            c: self._on_keys(c, level)
            for c, state in self._states.items()
            if (len(state.done) >= level if above else len(state.done) == level)
            and self._candidate(c)
        }

    def _select_incumbents(self, changed: set[int]) -> list[int]:
        """The incumbents after the costs of ``changed`` configurations changed, and the
        comparison level (how many keys they are compared on).

        The incumbents are compared on keys they all have. While the best configuration on
        one key less than the highest level (the best of ``_below``) has yet to run the next
        key, it leads, on those keys: it beat every configuration above it on the keys they
        share. (A configuration that gained a key while it led, with that trial still running
        when another beat it, came back as the incumbent when the trial ended: with two
        workers the run returned a configuration of cost 34.4 over one of 0.022 on the same
        seed; SMAC3 keeps the better one.) Otherwise the best of ``_top``; with several
        objectives, the fronts of the same groups. Such a leader is intensified first.

        This depends on the history only, not on the order results came in, so it is the same
        after a resume and in every process sharing the run.
        """
        if not self._top:
            self._level = 0
            return []
        fast = self._selected_level == self._top_level  # (the same groups as last time)
        self._selected_level = self._top_level
        if self._top_level - 1 >= self.n_first and self._below:
            if self._multi:
                front = self._best(self._below, sorted(self._below))
                leads = any(c not in self._top for c in front)
            else:
                lead = self._lead_below
                if fast and lead in self._below and lead not in changed:
                    # (this runs after every result; keep it O(changed))
                    ids = sorted({lead} | {c for c in changed if c in self._below})
                else:
                    ids = sorted(self._below)
                self._lead_below = self._best(self._below, ids)[0]
                leads = self._lead_below not in self._top
                front = self._best(self._below, sorted(self._below)) if leads else []
            if leads:
                self._level = self._top_level - 1
                return front
        self._level = self._top_level
        if self._multi:
            return self._best(self._top, sorted(self._top))
        previous = self._incumbent_ids
        if fast and previous and all(c in self._top and c not in changed for c in previous):
            # One objective, the others' costs unchanged: only the changed configurations can
            # join the incumbents (this runs after every result; keep it O(changed)).
            ids = sorted(set(previous) | {c for c in changed if c in self._top})
        else:
            ids = sorted(self._top)
        return self._best(self._top, ids)

    def _best(self, group: dict[int, tuple[int, list[float]]], ids: list[int]) -> list[int]:
        """The best of configurations ``ids`` of ``group`` (all compared on the same keys):
        fewest failed keys first, then by cost (several objectives: the Pareto front)."""
        failed = np.array([group[c][0] for c in ids])
        fewest = failed.min()  # (once: in the comprehension it cost O(n) per configuration)
        ids = [c for c, f in zip(ids, failed.tolist()) if f == fewest]
        costs = np.array([group[c][1] for c in ids], dtype=float)
        finite = np.all(np.isfinite(costs), axis=1)
        if not finite.any():  # every key failed for all of them (see _candidate)
            return ids[:1]
        if costs.shape[1] == 1:  # by cost, ties by id; vectorized: this runs after every result
            id_arr, cost = np.asarray(ids)[finite], costs[finite, 0]
            best = np.lexsort((id_arr, cost))[: self.settings.max_incumbents]
            return [int(i) for i in id_arr[best]]
        kept = [c for c, ok in zip(ids, finite.tolist()) if ok]
        return front_incumbents(kept, costs[finite], self.settings.max_incumbents, self._threshold)

    def _intensified(self) -> list[int]:
        """The incumbents that get further keys: the best one, or with several objectives the
        whole front (compared on keys they share, as SMAC3's)."""
        return self._incumbent_ids if self._multi else self._incumbent_ids[:1]

    def _maybe_reject(self, config_id: int) -> None:
        """Stop racing a challenger that is worse than an incumbent (one that gets further
        keys, see :meth:`_intensified`) on their common keys."""
        state = self._states[config_id]
        if state.retired:
            state.rejected = True
        if state.rejected:
            self._active.discard(config_id)
            return
        incumbents = self._intensified()
        if not state.done or config_id in incumbents:
            return
        # (every ask looks at every configuration in the race; one tied with the incumbent,
        # on a plateau or off a front of two objectives, stays in it, and comparing them all
        # again made each ask slower as the run went on)
        judged = (len(state.done), *((b, len(self._states[b].done)) for b in incumbents))
        if state.judged == judged:
            return
        for best in incumbents:
            if self._worse(config_id, best):
                state.rejected = True
                self._active.discard(config_id)
                return
        state.judged = judged

    def _worse(self, config_id: int, best: int) -> bool:
        """Whether a challenger is worse than incumbent ``best`` on their common keys: it
        failed on more of them, or its costs are dominated there (one objective: higher)."""
        state = self._states[config_id]
        incumbent = self._states[best]
        common = sorted(set(state.done) & set(incumbent.done))
        if not common:
            return False
        # A failed sample (crash_cost, inf by default) where the incumbent had none drops a
        # challenger at once; a key both failed on (an instance none solves) decides nothing.
        my_failed = sum(not finite_costs(state.done[i]) for i in common)
        their_failed = sum(not finite_costs(incumbent.done[i]) for i in common)
        if my_failed != their_failed:
            return my_failed > their_failed
        # compared once it has its first samples (they may fail at crash_cost, too)
        both = [
            i for i in common if finite_costs(state.done[i]) and finite_costs(incumbent.done[i])
        ]
        if not both or len(state.done) < self.n_first:
            return False
        mine = np.array(self._cost(config_id, both))
        theirs = np.array(self._cost(best, both))
        if len(mine) == 1:
            return bool(mine[0] > theirs[0])
        return bool(np.all(mine >= theirs) and np.any(mine > theirs))

    # -- handing out trials --------------------------------------------------------------------

    def _started(self, config_id: int) -> set[int]:
        """Key indices of a configuration that are finished or running."""
        started = set(self._states[config_id].done) if config_id in self._states else set()
        for key in self.history.trial_keys(config_id, finished=False):
            index = self._key_index(key)
            if index is not None:
                started.add(index)
        return started

    def _key_index(self, key: TrialKey) -> int | None:
        """The index of the raced key a trial stands for, or None (another budget, instance
        or seed)."""
        if key.budget != self.budget:
            return None
        return self._index.of(key)

    def _stage_trials(self, config_id: int) -> list[TrialInfo]:
        """Trials that bring a configuration to the end of its current stage (maybe none)."""
        state = self._states.get(config_id) or _ConfigState()
        if state.rejected or state.retired:
            return []
        started = self._started(config_id)
        if len(state.done) < len(started):  # the stage still runs: wait for it
            return []
        level = len(state.done)
        order: Sequence[int]
        if self._incumbent_ids and config_id not in self._incumbent_ids:
            target = min(self._level, max(2 * level, self.n_first))
            if target <= len(started):
                return []
            # The compared keys (a prefix) in this challenger's own order: were every
            # challenger first compared on the first key, that one instance would decide
            # which configurations get any further.
            rng = np.random.default_rng([self._key_seed, config_id])
            order = [i for i in rng.permutation(len(self.keys)).tolist() if i < self._level]
        else:
            target = max(level, self.n_first)
            order = range(len(self.keys))
        config = self.history.get_config(config_id)
        new = [i for i in order if i not in started][: max(target - len(started), 0)]
        return [TrialInfo(config, *self.keys[i], self.budget) for i in new]

    def _intensify_incumbent(self) -> list[TrialInfo]:
        """One more key for an incumbent that has fewer than it may and none running: the best
        one, or with several objectives the first of the front with the fewest keys (the
        others wait for it, so that the front's members stay at most one key apart)."""
        ids = self._intensified()
        if not ids:
            return []
        fewest = min(len(self._states[c].done) for c in ids)
        for config_id in ids:
            level = len(self._states[config_id].done)
            if level > fewest or level >= len(self.keys):
                continue
            if self._started(config_id) == set(self._states[config_id].done):
                config = self.history.get_config(config_id)
                return [TrialInfo(config, *self.keys[level], self.budget)]
        return []

    def _racing_trials(self) -> list[TrialInfo]:
        """Next-stage trials of challengers that are still in the race."""
        # Configurations whose stage still runs (a raced key running, not done): they have no
        # trial to hand out. Found in one pass over the running trials, since on many workers
        # most configurations in the race are such, and this runs for every proposal.
        waiting = set()
        for key, _ in self.history.running_items():
            index = self._key_index(key)
            state = self._states.get(key.config_id)
            if index is not None and (state is None or index not in state.done):
                waiting.add(key.config_id)
        intensified = set(self._intensified())
        for config_id in self._race_order():
            if config_id in intensified:
                continue
            if len(self._states[config_id].done) >= len(self.keys):
                # Run on every key: it has no trial left to hand out (an incumbent gets its
                # keys from _intensify_incumbent). Left in, a configuration tied with the
                # incumbent, or off a Pareto front the incumbents do not dominate, was looked
                # at on every ask: 42 ms per ask at 1,000 of them, 104 ms at 2,000.
                self._active.discard(config_id)
                continue
            self._maybe_reject(config_id)  # the incumbent may have changed since its last result
            if config_id in waiting:
                continue
            trials = self._stage_trials(config_id)
            if trials:
                return trials
        return []

    def _race_order(self) -> list[int]:
        """The configurations in the race, in the order they get their next trials: by id,
        then those known only from results on keys that are not raced (a warm start's, told
        by the user): with one objective those whose told cost is as low as the incumbent's
        or lower, best first; with several, those on the front of every told cost and the
        incumbents' (in the order told).

        A warm start of 50 results on a run that is not deterministic had every one of them
        run on the raced keys, in the order told, before the model proposed anything: with
        n_trials of 60 the run ended at a cost 28 times that of the best result it was told
        (an audit's finding), and with two objectives 30 of 30 (a multi-objective audit's).
        Those left out are still the model's data."""
        order = sorted(self._active)
        told_only = [i for i in order if self._states[i].told and not self._states[i].done]
        if not told_only:
            return order
        told_only_set = set(told_only)
        rest = [i for i in order if i not in told_only_set]
        if self._multi:
            # (against the told costs of those raced since too: one that a raced one's told
            # costs dominate stays out when its raced costs came out worse)
            raced = [i for i, state in self._states.items() if state.told and state.done]
            rows = [_mean_costs(self._states[i].told) for i in told_only + raced]
            rows += [np.asarray(self._compared(j)[1], float) for j in self._incumbent_ids]
            on_front = first_front(np.nan_to_num(np.array(rows), nan=np.inf))
            return rest + [i for i, on in zip(told_only, on_front) if on]
        told_cost = {i: float(_mean_costs(self._states[i].told)[0]) for i in told_only}
        ranked = sorted(told_only, key=lambda i: (told_cost[i], i))
        bar = math.inf
        if self._incumbent_ids:
            bar = self._compared(self._incumbent_ids[0])[1][0]
        return rest + [i for i in ranked if told_cost[i] <= bar]

    def ask(self) -> TrialInfo:
        """The next trial to run; never one that has already started.

        Raises:
            SearchSpaceExhaustedError: A finite space has no untried configuration left.
        """
        self._refresh()
        while True:
            while self._queue:
                info = self._queue.popleft()
                if info not in self.history and not self._dropped(info):
                    return info
            trials = self._racing_trials()
            if not trials:
                trials = self._intensify_incumbent()
                try:
                    trials += self._new_challenger()
                except SearchSpaceExhaustedError:
                    # (else the incumbent's further seeds or instances still run; a trial
                    # of a configuration out of the race would be dropped, and this loop
                    # would hand it out again for ever)
                    if not trials or all(self._dropped(t) for t in trials):
                        raise
            self._queue.extend(trials)

    def _dropped(self, info: TrialInfo) -> bool:
        """Whether a queued trial's configuration left the race since it was queued."""
        config_id = self.history.get_config_id(info.config)
        if config_id is None or config_id not in self._states:
            return False
        self._maybe_reject(config_id)
        state = self._states[config_id]
        return state.rejected or state.retired

    def _new_challenger(self) -> list[TrialInfo]:
        config = next(self._challengers)
        config_id = self.history.add_config(config, origin=str(config.origin or ""))
        self._state(config_id)
        return self._stage_trials(config_id)

    def _reported(self) -> list[int]:
        """The incumbents, unless none of the best's trials succeeded (while none in the run
        has, as when every configuration fails on the first instance: racing goes on from it,
        see :meth:`_candidate`, but it is no answer) or it failed on every key it is compared
        on."""
        self._refresh()
        ids = self._incumbent_ids
        if not ids or self._compared(ids[0])[0] == self._level:
            return []
        return ids if self._states[ids[0]].succeeded else []

    @property
    def most_keys(self) -> int:
        """How many of :attr:`keys` the configurations that ran the most of them, and may be
        incumbents, have run (the incumbents may lead on one key less, see
        :meth:`_select_incumbents`)."""
        self._refresh()
        return self._top_level

    def incumbents(self) -> list[Configuration]:
        """The incumbents, best first: see :class:`Intensifier`'s ``max_incumbents``."""
        return [self.history.get_config(c) for c in self._reported()]

    def incumbent_costs(self) -> list[float]:
        """The best incumbent's cost: ``aggregate`` over the compared keys (see
        :class:`Racing`) that it did not fail on (a key it failed on, at an infinite
        ``crash_cost``, failed for every configuration compared); empty if none."""
        ids = self._reported()
        return list(self._compared(ids[0])[1]) if ids else []

    def incumbents_costs(self) -> list[list[float]]:
        """Every incumbent's cost, as :meth:`incumbent_costs` gives the best one's."""
        return [list(self._compared(c)[1]) for c in self._reported()]

    def incumbent_keys(self) -> list[TrialKey]:
        """The finished trials the best incumbent's cost is computed from."""
        ids = self._reported()
        if not ids:
            return []
        return [self._states[ids[0]].trials[i] for i in range(self._level)]

    def overdue(self, now: float) -> list[TrialInfo]:
        """Running trials of configurations pending for longer than ``pending_config_timeout``.

        The caller records them as RETIRED; their configurations are raced no further.
        """
        return overdue_trials(self.history, self.settings.pending_config_timeout, now)
