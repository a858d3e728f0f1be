"""Where new configurations come from: the initial design, then the model (or random sampling).

:meth:`ConfigSelector.next_configs` is a generator the intensifier pulls challengers from. It
yields the initial design first (skipping configurations the run already has), then, for every
further pull, either a random configuration (with probability ``random_probability``, or always
when there is no model) or the configuration that maximizes the acquisition function of a model
trained on the run history as it is at that moment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace

from smacx.errors import SearchSpaceExhaustedError

if TYPE_CHECKING:
    from smacx.runhistory import RunHistory

__all__ = ["ConfigSelector", "Proposer"]

logger = logging.getLogger("smacx")


class Proposer(Protocol):
    """The model-based part of a selector: one new configuration from the history, or None."""

    def __call__(self, history: RunHistory, rng: np.random.Generator) -> Configuration | None:
        """The configuration to evaluate next (without trials in ``history``), or None."""
        ...


class ConfigSelector:
    """Proposes configurations no trial has used yet.

    Args:
        configspace: The space to propose from.
        initial_design: Configurations proposed first, in order.
        random_probability: Share of proposals after the initial design drawn at random; 1.0
            turns the selector into random search.
        seed: Seed of every random choice.
        proposer: The model-based part: a callable ``proposer(history, rng) -> Configuration |
            None`` (None: it found nothing new). Without one, every proposal is random.
    """

    def __init__(
        self,
        configspace: ConfigurationSpace,
        initial_design: Sequence[Configuration],
        *,
        random_probability: float = 1.0,
        seed: int = 0,
        proposer: Proposer | None = None,
    ) -> None:
        self.configspace = configspace
        self.initial_design = list(initial_design)
        self.random_probability = random_probability
        self.proposer = proposer
        self.rng = np.random.default_rng(seed)
        size = configspace.estimate_size()
        self.space_size = float(size) if size is not None else math.inf

    def next_configs(self, history: RunHistory) -> Iterator[Configuration]:
        """Yield configurations to evaluate, each new to ``history`` when yielded.

        Raises:
            SearchSpaceExhaustedError: Every configuration of a finite space has trials.
        """
        for design_config in self.initial_design:
            if not history.has_trials(design_config):
                yield design_config
        while True:
            proposed: Configuration | None = None
            if self.proposer is not None and self.rng.random() >= self.random_probability:
                proposed = self.proposer(history, self.rng)
            yield proposed if proposed is not None else self.random_config(history)

    def random_config(self, history: RunHistory) -> Configuration:
        """A random configuration without trials in ``history``.

        Raises:
            SearchSpaceExhaustedError: Every configuration of a finite space has trials.
        """
        batch = 16
        for _ in range(64):
            self.configspace.seed(int(self.rng.integers(2**31)))
            sample = self.configspace.sample_configuration(batch)
            for config in sample if isinstance(sample, list) else [sample]:
                if not history.has_trials(config):
                    return config
            if history.n_configs >= self.space_size:
                break
            batch = min(batch * 2, 4096)
        raise SearchSpaceExhaustedError(
            f"no untried configuration found: the search space holds about {self.space_size:g} "
            f"configurations and the run has tried {history.n_configs}. Enlarge the space or "
            "lower n_trials."
        )
