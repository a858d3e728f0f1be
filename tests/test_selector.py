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
