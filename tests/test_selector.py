from __future__ import annotations

import pytest
from ConfigSpace import Categorical, ConfigurationSpace

from smacx import RunHistory, SearchSpaceExhaustedError, TrialInfo, TrialValue
from smacx.selector import ConfigSelector


def test_initial_design_first_then_new_random_configs(space: ConfigurationSpace) -> None:
    design = space.sample_configuration(3)
    rh = RunHistory(space)
    rh.add_running(TrialInfo(design[1]))
    gen = ConfigSelector(space, design, seed=0).next_configs(rh)
    assert [next(gen), next(gen)] == [design[0], design[2]]
    tried = set(design)
    for _ in range(20):
        c = next(gen)
        assert c not in tried
        rh.add_running(TrialInfo(c))
        tried.add(c)


def test_finite_space_is_exhausted_with_a_clear_error() -> None:
    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("a", [1, 2]), Categorical("b", ["x", "y"])])
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    for _ in range(4):
        info = TrialInfo(next(gen))
        rh.add_running(info)
        rh.add(info, TrialValue(cost=1.0))
    with pytest.raises(SearchSpaceExhaustedError, match="holds about 4"):
        next(gen)


def test_proposals_while_trials_run_are_distinct(space: ConfigurationSpace) -> None:
    """The constant liar: 8 asks without a tell give 8 different, separated configurations."""
    import numpy as np

    from smacx import SMAC, Scenario

    smac = SMAC(
        Scenario(space, n_trials=100, deterministic=True, output_directory=None),
        random_probability=0.0,
    )
    for _ in range(20):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=(info.config["x"] - 1) ** 2 + (info.config["y"] + 2) ** 2))
    batch = [smac.ask() for _ in range(8)]
    points = np.array([[b.config["x"], b.config["y"]] for b in batch])
    gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))[~np.eye(8, dtype=bool)]
    assert len({b.config for b in batch}) == 8
    assert gaps.min() > 0.02  # not the same point with tiny perturbations
