from __future__ import annotations

import math
from pathlib import Path

import pytest
from ConfigSpace import ConfigurationSpace

from smacx import Scenario, ScenarioError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("configspace", {"x": (0.0, 1.0)}),
        ("name", ""),
        ("name", "a/b"),
        ("output_directory", 3),
        ("deterministic", "yes"),
        ("objectives", []),
        ("objectives", ["a", "a"]),
        ("crash_cost", math.nan),
        ("crash_cost", "high"),
        ("termination_cost_threshold", [1.0, 2.0]),
        ("n_trials", 0),
        ("n_trials", 2.5),
        ("n_trials", True),
        ("walltime_limit", -1),
        ("walltime_limit", 0),
        ("cputime_limit", math.nan),
        ("trial_walltime_limit", 0.5),
        ("trial_walltime_limit", -3),
        ("trial_memory_limit", 0),
        ("trial_memory_limit", 1.5),
        ("instances", "abc"),
        ("instances", []),
        ("instances", ["a", "a"]),
        ("seed", -1),
        ("seed", 1.0),
        ("n_workers", 0),
        ("min_budget", 0),
    ],
)
def test_bad_field_raises_scenario_error_naming_it(
    space: ConfigurationSpace, field: str, value: object
) -> None:
    kwargs: dict[str, object] = {"configspace": space, field: value}
    if field == "min_budget":
        kwargs["max_budget"] = 10
    with pytest.raises(ScenarioError, match=f"Scenario.{field}"):
        Scenario(**kwargs)  # type: ignore[arg-type]


def test_scenario_error_is_a_value_error(space: ConfigurationSpace) -> None:
    with pytest.raises(ValueError, match="got 0"):
        Scenario(space, n_trials=0)


def test_budgets_must_come_together_and_be_ordered(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match="given together"):
        Scenario(space, min_budget=1)
    with pytest.raises(ScenarioError, match="min_budget must be <= max_budget"):
        Scenario(space, min_budget=10, max_budget=1)


def test_instance_features_must_cover_every_instance(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match="missing \\['b'\\]"):
        Scenario(space, instances=["a", "b"], instance_features={"a": [1.0]})
    with pytest.raises(ScenarioError, match="one length"):
        Scenario(space, instances=["a", "b"], instance_features={"a": [1.0], "b": [1.0, 2.0]})
    with pytest.raises(ScenarioError, match="without Scenario.instances"):
        Scenario(space, instance_features={"a": [1.0]})


def test_scenario_is_frozen_and_normalized(space: ConfigurationSpace, tmp_path: Path) -> None:
    s = Scenario(
        space,
        output_directory=str(tmp_path),
        objectives=["a", "b"],
        crash_cost=5,
        instances=["i1", "i2"],
    )
    assert s.output_directory == tmp_path
    assert s.objectives == ("a", "b")
    assert s.crash_costs == (5.0, 5.0)
    assert s.instances == ("i1", "i2")
    with pytest.raises(AttributeError):
        s.n_trials = 3  # type: ignore[misc]


def test_default_name_depends_on_identity_not_on_budget(space: ConfigurationSpace) -> None:
    a = Scenario(space, n_trials=10, seed=1)
    b = Scenario(space, n_trials=500, walltime_limit=60, seed=1)
    c = Scenario(space, n_trials=10, seed=2)
    assert a.run_name == b.run_name
    assert a.run_name != c.run_name
    assert a.output_path == Path("smacx_output") / a.run_name


def test_in_memory_scenario_has_no_output_path(space: ConfigurationSpace) -> None:
    assert Scenario(space, output_directory=None).output_path is None
