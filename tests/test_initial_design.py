from __future__ import annotations

import numpy as np
import pytest
from ConfigSpace import ConfigurationSpace

from smacx import InitialDesign, ScenarioError
from smacx.initial_design import unit_to_configs


@pytest.mark.parametrize("kind", ["sobol", "lhs", "random", "default"])
def test_every_design_config_is_valid(mixed_space: ConfigurationSpace, kind: str) -> None:
    configs = InitialDesign(kind=kind, n_configs=32).select(mixed_space, n_trials=100, seed=1)  # type: ignore[arg-type]
    assert len(configs) == (1 if kind == "default" else 32)
    for c in configs:
        c.check_valid_configuration()  # conditions and forbidden clauses hold
        assert not (c["kind"] == "c" and c["depth"] == 1)
        assert ("child" in dict(c)) == (c["kind"] == "a")


def test_design_is_seeded(space: ConfigurationSpace) -> None:
    a = InitialDesign().select(space, 100, seed=3)
    assert a == InitialDesign().select(space, 100, seed=3)
    assert a != InitialDesign().select(space, 100, seed=4)


def test_default_size_is_bounded_by_the_budget(space: ConfigurationSpace) -> None:
    d = InitialDesign()
    assert d.size(space, 400) == 10  # max(10, 2 * 2 hyperparameters), under 10% of 400
    assert d.size(space, 100) == 10  # 10% of the budget
    assert d.size(space, 70) == 7  # 10% of the budget
    assert d.size(space, 50) == 6  # short_run_configs, as they fit in a quarter of the budget
    assert d.size(space, 25) == 6  # a quarter of the budget (10% would be 2)
    assert d.size(space, 20) == 5
    assert d.size(space, 3) == 1
    # the floor for short runs is a keyword; at most min_configs or 2 per hyperparameter
    assert InitialDesign(short_run_configs=10).size(space, 50) == 10
    assert InitialDesign(short_run_configs=12, min_configs=8).size(space, 50) == 8


@pytest.mark.parametrize(
    "field", ["n_configs_per_hyperparameter", "min_configs", "short_run_configs"]
)
@pytest.mark.parametrize("value", [-1, 2.5, True, "6"])
def test_bad_sizes_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ScenarioError, match=rf"InitialDesign\.{field} must be an int >= 0; got"):
        InitialDesign(**{field: value})  # type: ignore[arg-type]


def test_additional_configs_come_first(space: ConfigurationSpace) -> None:
    default = space.get_default_configuration()
    configs = InitialDesign(n_configs=4, additional_configs=[default]).select(space, 100, 0)
    assert configs[0] == default and len(configs) == 4


def test_sobol_covers_the_cube(space: ConfigurationSpace) -> None:
    configs = InitialDesign(n_configs=64).select(space, 1000, 0)
    xs = np.array([c["x"] for c in configs])
    # every eighth of [-5, 5] holds some of the 64 points
    assert len(np.unique(np.floor((xs + 5) / 1.25))) == 8


def test_unit_points_map_onto_ranges(mixed_space: ConfigurationSpace) -> None:
    names = list(mixed_space.keys())
    low = unit_to_configs(mixed_space, np.zeros((1, len(names))), np.random.default_rng(0))[0]
    assert low["lr"] == pytest.approx(1e-4) and low["depth"] == 1 and low["kind"] == "a"


def test_bad_settings_raise() -> None:
    with pytest.raises(ScenarioError, match="InitialDesign.kind"):
        InitialDesign(kind="grid")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="max_ratio"):
        InitialDesign(max_ratio=0)
