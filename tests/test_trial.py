from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import textwrap
import traceback

import pytest
from ConfigSpace import ConfigurationSpace

from smacx import ArgumentError, StatusType, TrialError, TrialInfo, TrialKey, TrialValue


def test_costs_is_a_list_for_one_or_many_objectives() -> None:
    assert TrialValue(cost=1.5).costs() == [1.5]
    assert TrialValue(cost=[1.0, 2.0]).costs() == [1.0, 2.0]


def test_only_running_is_unfinished() -> None:
    assert not StatusType.RUNNING.finished
    assert all(s.finished for s in StatusType if s is not StatusType.RUNNING)


def test_status_numbers_are_stable() -> None:
    # stored in databases: renumbering would corrupt existing runs
    assert [s.value for s in StatusType] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("MEMOUT", "a SMAC 1.x name): use StatusType.MEMORYOUT"),
        ("STOP", "return False from a callback's on_tell_end"),
        ("CAPPED", "is TIMEOUT"),
        ("DONOTADVANCE", "the intensifier's to decide"),
        ("SUCESS", "did you mean SUCCESS?"),
        ("crashed", "did you mean CRASHED?"),
    ],
)
def test_an_unknown_status_names_the_one_meant(name: str, says: str) -> None:
    with pytest.raises(AttributeError, match="StatusType has no member") as err:
        getattr(StatusType, name)
    assert says in str(err.value)
    assert "MEMORYOUT, RETIRED" in str(err.value)
    # (Python's own "Did you mean" came after the hint, on Python 3.10 and later)
    shown = "".join(traceback.format_exception_only(err.value)).lower()
    assert shown.count("did you mean") <= 1
    assert not hasattr(StatusType, "_no_such_thing")
    assert StatusType.MEMORYOUT is StatusType["MEMORYOUT"] is StatusType(4)


def test_trial_keys_order_and_hash() -> None:
    a, b = TrialKey(1, None, 0, None), TrialKey(2, None, 0, None)
    assert a < b
    assert len({a, TrialKey(1, None, 0, None)}) == 1


@pytest.mark.parametrize("cost", [None, "abc", [], [1.0, "x"], True, {"a": 1.0}])
def test_trial_value_rejects_a_cost_that_is_not_numbers(cost: object) -> None:
    with pytest.raises(TrialError, match="TrialValue.cost must be a number"):
        TrialValue(cost=cost)  # type: ignore[arg-type]


def test_trial_value_takes_tuples_and_numpy_costs() -> None:
    import numpy as np

    assert TrialValue(cost=(1, 2.5)).cost == [1.0, 2.5]
    assert TrialValue(cost=np.array([1.0, 2.0])).cost == [1.0, 2.0]
    assert type(TrialValue(cost=np.float32(0.5)).cost) is float
    assert TrialValue(cost=[np.float32(0.5), np.int64(1)]).cost == [0.5, 1.0]
    with pytest.raises(TrialError, match="TrialValue.cost"):
        TrialValue(cost=10**400)
    with pytest.raises(TrialError, match="TrialValue.status"):
        TrialValue(cost=1.0, status="SUCCESS")  # type: ignore[arg-type]


def test_trial_info_wants_a_configuration() -> None:
    # a dict (as an Optuna user might warm-start with) fails here, not deep inside tell()
    with pytest.raises(TrialError, match=r"config must be a ConfigSpace Configuration; got dict"):
        TrialInfo({"x": 1.0}, None, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("budget", [math.nan, math.inf, -1.0, 0])
def test_trial_info_refuses_budgets_that_are_not_positive_and_finite(
    budget: float, space: ConfigurationSpace
) -> None:
    with pytest.raises(TrialError, match="budget must be a finite number > 0"):
        TrialInfo(space.sample_configuration(), budget=budget)


@pytest.mark.parametrize("info", [None, "text", [("a", 1)]])
def test_trial_value_additional_info_must_be_a_dict(info: object) -> None:
    with pytest.raises(TrialError, match="additional_info must be a dict"):
        TrialValue(cost=1.0, additional_info=info)  # type: ignore[arg-type]


def test_a_cost_given_as_a_dict_says_to_list_the_objectives_in_order() -> None:
    """A target may return a dict of objective name to cost; a TrialValue takes a list."""
    with pytest.raises(TrialError, match=r"in the order of Scenario\(objectives=\.\.\.\)"):
        TrialValue(cost={"error": 0.1, "size": 3.0})  # type: ignore[arg-type]


def test_a_misspelled_keyword_gets_the_one_meant() -> None:
    with pytest.raises(ArgumentError, match=r"'costs': did you mean 'cost'\?"):
        TrialValue(costs=1.0)  # type: ignore[call-arg]
    with pytest.raises(ArgumentError, match=r"'seeds': did you mean 'seed'\?"):
        TrialInfo(None, seeds=1)  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize("cls", [TrialInfo, TrialValue])
def test_the_constructor_type_checkers_see_takes_the_fields_in_order(cls: type) -> None:
    """TrialInfo and TrialValue show type checkers a constructor of their own (it takes numpy's
    numbers, which the fields do not hold): it must name the fields, in order, with their
    defaults."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    (init,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    ]
    names = [a.arg for a in init.args.args[1:]]
    fields = dataclasses.fields(cls)
    assert names == [f.name for f in fields]
    namespace = vars(inspect.getmodule(cls))
    defaults = [eval(ast.unparse(d), namespace) for d in init.args.defaults]
    assert defaults == [
        Ellipsis if f.default is dataclasses.MISSING else f.default
        for f in fields
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]


def test_costs_near_the_largest_float_average_without_overflow() -> None:
    """1e308 and 1.5e308 averaged to inf, which racing then counted as a failure."""
    import numpy as np

    from smacx.trial import aggregate_costs

    rows = [[1e308, -1.5e308, 0.0], [1.5e308, -1e308, 0.0]]
    expected = pytest.approx([1.25e308, -1.25e308, 0.0], rel=1e-15)
    assert aggregate_costs(rows).tolist() == expected
    assert aggregate_costs(rows, median=True).tolist() == expected
    assert aggregate_costs([[1.0, 2.0], [3.0, 4.0], [8.0, 0.0]]).tolist() == [4.0, 2.0]
    assert aggregate_costs([[1e308, 1.0], [math.inf, 2.0]]).tolist() == [math.inf, 1.5]
    assert aggregate_costs([[1e308, math.inf], [1e308, 2.0]]).tolist() == [1e308, math.inf]
    assert np.isnan(aggregate_costs([[math.inf], [-math.inf]])[0])
