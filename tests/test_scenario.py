from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ConfigSpace import ConfigurationSpace

from smacx import Scenario, ScenarioError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("configspace", {"x": (0.0, 1.0)}),
        ("name", ""),
        ("name", "a/b"),
        ("name", "."),
        ("name", ".."),
        ("name", "a\x00b"),
        ("output_directory", 3),
        ("output_directory", "runs\x00old"),
        ("deterministic", "yes"),
        ("objectives", []),
        ("objectives", ["a", "a"]),
        ("crash_cost", math.nan),
        ("crash_cost", "high"),
        ("crash_cost", 10**400),
        ("crash_cost", -math.inf),  # (a crash would rank first: successive halving promoted it)
        ("walltime_limit", 10**400),
        ("trial_memory_limit", 2**43),
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


def test_numpy_values_are_taken_as_python_ones(space: ConfigurationSpace) -> None:
    """The run's identity is JSON: numpy ints, floats and arrays are converted first."""
    import json

    import numpy as np

    s = Scenario(
        space,
        seed=np.int64(3),
        n_trials=np.int64(5),
        n_workers=np.int64(2),
        trial_memory_limit=np.int64(500),
        objectives=["a", "b"],
        crash_cost=np.array([1.0, 2.0]),
        instances=np.array(["i", "j"]),
        instance_features={"i": np.array([0.0, 1.0]), "j": np.array([1.0, 0.5])},
        output_directory=None,
    )
    assert (s.seed, s.n_trials, s.n_workers, s.trial_memory_limit) == (3, 5, 2, 500)
    assert type(s.seed) is int and s.crash_cost == (1.0, 2.0)
    assert s.instances == ("i", "j") and s.instance_features == {"i": (0.0, 1.0), "j": (1.0, 0.5)}
    json.dumps(s.identity())
    assert len(s.run_name) == 16


def test_scenario_error_is_a_value_error(space: ConfigurationSpace) -> None:
    with pytest.raises(ValueError, match="got 0"):
        Scenario(space, n_trials=0)


def test_n_trials_none_bounds_a_run_by_time_alone(space: ConfigurationSpace) -> None:
    """Optuna's optimize(timeout=...) has no trial count; n_trials=None was refused (a porting
    audit). It needs a time limit to end the run."""
    s = Scenario(space, n_trials=None, walltime_limit=60)
    assert s.n_trials is None and s.run_name == Scenario(space, walltime_limit=60).run_name
    assert Scenario(space, n_trials=None, cputime_limit=5).n_trials is None
    with pytest.raises(
        ScenarioError, match=r"n_trials may be None .* only with a walltime_limit or cputime_limit"
    ):
        Scenario(space, n_trials=None)
    with pytest.raises(ScenarioError, match=r"n_trials must be an int >= 1, or None; got inf"):
        Scenario(space, n_trials=math.inf, walltime_limit=60)  # type: ignore[arg-type]


def test_budgets_must_come_together_and_be_ordered(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match="given together"):
        Scenario(space, min_budget=1)
    with pytest.raises(ScenarioError, match="min_budget must be <= max_budget"):
        Scenario(space, min_budget=10, max_budget=1)


def test_repeated_instances_are_named(space: ConfigurationSpace) -> None:
    """The error printed the whole list, unreadable with hundreds of instance paths."""
    names = [f"/data/instance-{i:04d}.cnf" for i in range(500)] + ["/data/instance-0007.cnf"]
    with pytest.raises(
        ScenarioError, match=r"1 more than once \(of 501\): \['/data/instance-0007.cnf'\]\. Remove"
    ) as err:
        Scenario(space, instances=names)
    assert "instance-0008" not in str(err.value)


def test_instance_names_that_are_not_strings_are_pointed_at(space: ConfigurationSpace) -> None:
    """The error printed the whole list (15 KB for 1,000 paths) and not which entry was wrong."""
    with pytest.raises(
        ScenarioError,
        match=r"got 1000 of 1000 entries that are not: \[0\] = 0, \[1\] = 1, \[2\] = 2 and 997 "
        r"more\. .*instances=\[str\(i\) for i in \.\.\.\]",
    ) as err:
        Scenario(space, instances=list(range(1000)))
    assert len(str(err.value)) < 400
    names = [f"cnf/{k}.cnf" for k in range(999)] + [None, ""]
    with pytest.raises(ScenarioError, match=r"got 2 of 1001 .*: \[999\] = None, \[1000\] = ''\."):
        Scenario(space, instances=names)
    with pytest.raises(ScenarioError, match=r"got ndarray\. .*dict\(zip\(instances, rows\)\)"):
        Scenario(space, instances=["a", "b"], instance_features=np.ones((2, 3)))


def test_instance_features_must_cover_every_instance(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match=r"without features: 1 \('b'\), and features of no "):
        Scenario(space, instances=["a", "b"], instance_features={"a": [1.0]})
    # features keyed by paths, instances by basenames: 2,000 of each made an 84 KB message
    names = [f"i{k:04d}.cnf" for k in range(2000)]
    with pytest.raises(
        ScenarioError, match=r"2000 \('i0000.cnf', .* and 1995 more\).*\(a path and"
    ) as e:
        Scenario(space, instances=names, instance_features={f"/d/{n}": [1.0] for n in names})
    assert len(str(e.value)) < 1000
    with pytest.raises(
        ScenarioError, match=r"one length; got lengths 1 for \['a'\]; 2 for \['b'\]"
    ):
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
    # frozen, so hashable: equal scenarios (on equal spaces) hash alike
    twin = Scenario(
        ConfigurationSpace(dict(space)),
        output_directory=tmp_path,
        objectives=("a", "b"),
        crash_cost=5,
        instances=("i1", "i2"),
    )
    assert twin == s and hash(twin) == hash(s) and len({s, twin}) == 1


def test_what_a_scenario_holds_cannot_change_under_its_name(tmp_path: Path) -> None:
    """The scenario named the run after its space and features as built, but a space grown
    afterwards (``space.add``) or a features table changed in place ran under that name: two
    equal scenarios named different runs, and the run was stored as another experiment's
    (an API audit's findings)."""
    import dataclasses
    import pickle

    from ConfigSpace import Float

    from smacx import SMAC

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    s = Scenario(
        space,
        output_directory=tmp_path,
        instances=["a", "b"],
        instance_features={"a": np.array([1.0, 2.0]), "b": [3, 4]},
    )
    features = s.instance_features
    assert features == {"a": (1.0, 2.0), "b": (3.0, 4.0)} and repr(features) == repr(dict(features))
    # a dict still, as users' code reads one (a review)
    assert isinstance(features, dict) and json.loads(json.dumps(features)) == {
        "a": [1.0, 2.0],
        "b": [3.0, 4.0],
    }
    assert features.copy() == features | {} == dict(features)
    for change in (
        lambda: features.update(a=(0.0, 0.0)),
        lambda: features.pop("a"),
        lambda: features.setdefault("c", (0.0, 0.0)),
        features.clear,
        features.popitem,
    ):
        with pytest.raises(TypeError, match=r"instance_features cannot be changed in place"):
            change()
    with pytest.raises(TypeError, match=r"instance_features cannot be changed in place"):
        features["a"] = (100.0, -7.0)  # type: ignore[index]
    with pytest.raises(TypeError, match=r"instance_features cannot be changed in place"):
        del features["a"]  # type: ignore[attr-defined]
    copied = pickle.loads(pickle.dumps(s))
    assert copied == s and copied.run_name == s.run_name
    other = dataclasses.replace(s, instance_features={"a": [0, 0], "b": [1, 1]})
    assert other != s and other.run_name != s.run_name
    space.add(Float("y", (0.0, 1.0)))
    with pytest.raises(
        ScenarioError,
        match=r"Scenario.configspace was changed after the Scenario was built \(it now has the "
        r"hyperparameters \['x', 'y'\]\).* Build the Scenario once the space is complete",
    ):
        SMAC(s, lambda config, seed, instance: 0.0, progress=False)
    assert not list(tmp_path.iterdir())  # refused before anything was stored
    SMAC(Scenario(space, output_directory=None), progress=False).close()  # built afterwards: fine


def test_default_name_depends_on_identity_not_on_budget(space: ConfigurationSpace) -> None:
    a = Scenario(space, n_trials=10, seed=1)
    b = Scenario(space, n_trials=500, walltime_limit=60, seed=1)
    c = Scenario(space, n_trials=10, seed=2)
    assert a.run_name == b.run_name
    assert a.run_name != c.run_name
    assert a.output_path == Path("smacx_output") / a.run_name


def test_the_order_within_conditions_and_clauses_is_no_part_of_the_name() -> None:
    """ConfigSpace calls spaces equal whatever the order of an IN clause's values or of a
    conjunction's members; a script building them from a set gets another order per
    interpreter, and must still continue its run (same fingerprint)."""
    from ConfigSpace import (
        AndConjunction,
        EqualsCondition,
        ForbiddenAndConjunction,
        ForbiddenEqualsClause,
        ForbiddenInClause,
        InCondition,
    )

    def built(order: int) -> ConfigurationSpace:
        cs = ConfigurationSpace({"a": ["w", "x", "y", "z"], "b": (0, 10), "d": ["p", "q"]})
        values, members = ["z", "x"], [0, 1]
        if order:
            values, members = values[::-1], members[::-1]
        conditions = [InCondition(cs["b"], cs["a"], values), EqualsCondition(cs["b"], cs["d"], "p")]
        cs.add(AndConjunction(*(conditions[i] for i in members)))
        clauses = [ForbiddenInClause(cs["a"], values), ForbiddenEqualsClause(cs["d"], "q")]
        cs.add(ForbiddenAndConjunction(*(clauses[i] for i in members)))
        return cs

    first, second = built(0), built(1)  # (ConfigSpace 1.2's == minds an InCondition's order)
    assert Scenario(first, seed=1).run_name == Scenario(second, seed=1).run_name
    other = ConfigurationSpace({"a": ["w", "x", "y", "z"], "b": (0, 10), "d": ["p", "q"]})
    other.add(ForbiddenInClause(other["a"], ["z", "y"]))
    assert Scenario(other, seed=1).run_name != Scenario(first, seed=1).run_name


def test_in_memory_scenario_has_no_output_path(space: ConfigurationSpace) -> None:
    assert Scenario(space, output_directory=None).output_path is None


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("max_budget", {"min_budget": 1, "max_budget": 10**400}),
        ("instance_features", {"instances": ["a"], "instance_features": {"a": [10**400]}}),
    ],
)
def test_integers_beyond_a_float_are_refused_by_name(field: str, kwargs: dict[str, Any]) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    with pytest.raises(ScenarioError, match=field):
        Scenario(space, output_directory=None, **kwargs)


def test_spaces_built_from_numpy_values_are_stored_as_plain_ones() -> None:
    import numpy as np
    from ConfigSpace import Categorical, Float, OrdinalHyperparameter

    space = ConfigurationSpace(seed=0)
    space.add(
        [
            Categorical("batch", np.array([16, 32, 64])),
            OrdinalHyperparameter("width", list(np.array([1.5, 2.5], dtype=np.float32))),
        ]
    )
    assert Scenario(space).identity()["configspace"]["hyperparameters"][0]["choices"] == [
        16,
        32,
        64,
    ]
    bad = ConfigurationSpace({"x": (0.0, 1.0)})
    bad.add(Float("y", (0.0, 1.0), meta={"owner": object()}))
    with pytest.raises(
        ScenarioError, match=r"configspace.*object.*hyperparameters\[1\]\.meta\.owner"
    ):
        Scenario(bad)


def test_output_directory_expands_the_home_folder() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    assert Scenario(space, output_directory="~/runs").output_directory == Path.home() / "runs"


def test_the_repr_of_a_scenario_of_many_instances_is_short() -> None:
    """A notebook showed a scenario of 2,000 instances in 190,000 characters (an audit)."""
    names = [f"i{i}" for i in range(2000)]
    sc = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}),
        instances=names,
        instance_features={name: [float(i)] for i, name in enumerate(names)},
        output_directory=None,
    )
    text = repr(sc)
    assert len(text) < 600
    assert "configspace=ConfigurationSpace(['x'])" in text
    assert "instances=['i0', 'i1', 'i2', ... (2000 in all)]" in text
    assert "instance_features={'i0': (0.0,), 'i1': (1.0,), 'i2': (2.0,), ... (2000 in all)}" in text
