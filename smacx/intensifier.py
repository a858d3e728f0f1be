"""Decides which trial runs next and which configuration is the incumbent.

This intensifier evaluates every configuration on the same set of *keys*: each instance (or the
single instance None) with one seed per instance, at the largest budget. A configuration can be
compared with another once all its keys are finished. The keys are fixed by the scenario's seed,
so its state follows from the run history alone: a resumed run, or another process sharing the
history, continues exactly where the history stands.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from ConfigSpace import Configuration

from smacx.trial import StatusType, TrialInfo

if TYPE_CHECKING:
    from smacx.runhistory import RunHistory
    from smacx.scenario import Scenario
    from smacx.selector import ConfigSelector

__all__ = ["Intensifier"]

logger = logging.getLogger("smacx")


class Intensifier:
    """Hands out trials for new configurations and tracks the incumbent(s).

    Args:
        scenario: Supplies the instances, determinism, budgets and seed.
        selector: Source of new configurations.
        history: The run history trials are derived from.
    """

    def __init__(self, scenario: Scenario, selector: ConfigSelector, history: RunHistory) -> None:
        self.scenario = scenario
        self.selector = selector
        self.history = history
        rng = np.random.default_rng(scenario.seed)
        instances = list(scenario.instances) if scenario.instances is not None else [None]
        if scenario.deterministic:
            seeds = [int(rng.integers(2**31))] * len(instances)
        else:
            seeds = [int(s) for s in rng.integers(2**31, size=len(instances))]
        #: The (instance, seed) pairs every configuration is evaluated on.
        self.keys: list[tuple[str | None, int]] = list(zip(instances, seeds))
        self.budget = scenario.max_budget
        self._queue: deque[TrialInfo] = deque()
        self._seen = 0
        self._complete: dict[int, list[float]] = {}
        self._challengers: Iterator[Configuration] = selector.next_configs(history)
        self._rebuild()

    def _rebuild(self) -> None:
        """Queue the missing keys of configurations the history holds only part of."""
        for config in self.history.get_configs():
            self._queue.extend(self._missing(config))

    def _missing(self, config: Configuration) -> list[TrialInfo]:
        started = {
            (t.instance, t.seed, t.budget) for t in self.history.get_trials(config, finished=False)
        }
        return [
            TrialInfo(config, instance, seed, self.budget)
            for instance, seed in self.keys
            if (instance, seed, self.budget) not in started
        ]

    def ask(self) -> TrialInfo:
        """The next trial to run; never one that has already started.

        Raises:
            SearchSpaceExhaustedError: A finite space has no untried configuration left.
        """
        while self._queue:
            info = self._queue.popleft()
            if info not in self.history:
                return info
        config = next(self._challengers)
        trials = self._missing(config)
        self._queue.extend(trials[1:])
        return trials[0]

    def _refresh(self) -> None:
        """Update the costs of configurations that got results since the last refresh."""
        new = self.history.finished_since(self._seen)
        self._seen += len(new)
        for config_id in {k.config_id for k in new}:
            config = self.history.get_config(config_id)
            values = self.history.get_trial_values(config)
            done = {(k.instance, k.seed) for k, v in values.items() if k.budget == self.budget}
            succeeded = any(v.status is StatusType.SUCCESS for v in values.values())
            if succeeded and all(key in done for key in self.keys):
                self._complete[config_id] = self.history.get_costs(config)

    def incumbents(self) -> list[Configuration]:
        """The best configurations among those with every key finished, best first.

        With one objective: the single lowest-cost configuration (ties go to the earlier one).
        With several: the Pareto front, ordered by the normalized mean cost.
        """
        self._refresh()
        if not self._complete:
            return []
        ids = list(self._complete)
        costs = np.array([self._complete[i] for i in ids])
        if costs.shape[1] == 1:
            return [self.history.get_config(ids[int(np.argmin(costs[:, 0]))])]
        # row i is dominated if some row is <= everywhere and < somewhere: (n, n) comparisons
        leq = np.all(costs[None, :, :] <= costs[:, None, :], axis=2)
        lt = np.any(costs[None, :, :] < costs[:, None, :], axis=2)
        dominated = np.any(leq & lt, axis=1)
        front = [self.history.get_config(i) for i, d in zip(ids, dominated) if not d]
        return sorted(front, key=self.history.get_cost)
