from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
)
from ConfigSpace.hyperparameters import OrdinalHyperparameter

from smacx import SMAC, RunHistory, Scenario, StatusType, TrialInfo, TrialValue, param_importances
from smacx.encoding import Encoder
from smacx.errors import ArgumentError, ScenarioError
from smacx.importance import _cdfs, _fanova_shares

INF = np.inf


def tree(*leaves: tuple[list[float], list[float], float]) -> tuple[np.ndarray, ...]:
    """A tree as ``RandomForest.leaf_boxes`` gives it: each leaf's lower and upper bounds
    per column, and its value."""
    lower, upper, value = zip(*leaves, strict=True)
    return np.array(lower, dtype=float), np.array(upper, dtype=float), np.array(value)


def unit_cdfs(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The measure of ``n`` float columns, never inactive."""
    space = ConfigurationSpace({f"x{j}": (0.0, 1.0) for j in range(n)})
    return _cdfs(Encoder(space), np.full((1, n), 0.5))


def test_an_additive_tree_splits_its_variance_by_column() -> None:
    # f = [x0 > 0.5] + 2 [x1 > 0.25]: variances 1/4 and 4 * 3/16 = 3/4, no interaction
    boxes = tree(
        ([-INF, -INF], [0.5, 0.25], 0.0),
        ([-INF, 0.25], [0.5, INF], 2.0),
        ([0.5, -INF], [INF, 0.25], 1.0),
        ([0.5, 0.25], [INF, INF], 3.0),
    )
    np.testing.assert_allclose(_fanova_shares([boxes], unit_cdfs(2)), [0.25, 0.75])


def test_a_pure_interaction_has_no_main_effects() -> None:
    boxes = tree(  # exclusive or of the two halves
        ([-INF, -INF], [0.5, 0.5], 0.0),
        ([-INF, 0.5], [0.5, INF], 1.0),
        ([0.5, -INF], [INF, 0.5], 1.0),
        ([0.5, 0.5], [INF, INF], 0.0),
    )
    np.testing.assert_allclose(_fanova_shares([boxes], unit_cdfs(2)), [0.0, 0.0], atol=1e-12)


def test_shares_are_averaged_over_trees_and_constant_trees_are_left_out() -> None:
    only_x0 = tree(([-INF, -INF], [0.5, INF], 0.0), ([0.5, -INF], [INF, INF], 1.0))
    only_x1 = tree(([-INF, -INF], [INF, 0.9], 0.0), ([-INF, 0.9], [INF, INF], 1.0))
    constant = tree(([-INF, -INF], [INF, INF], 5.0))
    shares = _fanova_shares([only_x0, only_x1, constant], unit_cdfs(2))
    np.testing.assert_allclose(shares, [0.5, 0.5])


def test_choices_weigh_alike_and_inactive_values_as_often_as_seen() -> None:
    space = ConfigurationSpace(seed=0)
    kind = Categorical("kind", ["a", "b", "c"])
    level = OrdinalHyperparameter("level", ["low", "mid", "high"])
    child = Float("child", (0.0, 1.0))
    space.add([kind, level, child, EqualsCondition(child, kind, "a")])
    encoder = Encoder(space)
    X = encoder.encode(list(space.sample_configuration(400)))
    cdfs = _cdfs(encoder, X)
    j = encoder.names.index
    # kind: codes 0, 1, 2 with a third each; a split between codes 0 and 1 leaves a third
    assert np.interp(0.5, *cdfs[j("kind")]) == pytest.approx(1 / 3)
    # level: positions 0, 0.5, 1; "low" and "mid" below 0.75
    assert np.interp(0.75, *cdfs[j("level")]) == pytest.approx(2 / 3)
    # child: inactive (-1) in the share of the rows where kind is not "a"
    inactive = float(np.mean(X[:, j("child")] == -1.0))
    assert 0.5 < inactive < 0.8
    assert np.interp(-0.5, *cdfs[j("child")]) == pytest.approx(inactive)
    assert np.interp(0.5, *cdfs[j("child")]) == pytest.approx(inactive + (1 - inactive) / 2)
    # f = [kind is "a"] on a tree splitting kind at 0.5: Bernoulli(1/3), all of the variance
    boxes = tree(([-INF] * 3, [0.5, INF, INF], 1.0), ([0.5, -INF, -INF], [INF] * 3, 0.0))
    np.testing.assert_allclose(_fanova_shares([boxes], cdfs), [1.0, 0.0, 0.0])


def linear_run(n_trials: int = 150) -> SMAC:
    """Random search on ``3 x + y`` over three floats (z does nothing) and a constant."""
    space = ConfigurationSpace(seed=0)
    space.add([Float("x", (0, 1)), Float("y", (0, 1)), Float("z", (0, 1))])
    space.add(Categorical("fixed", ["only"]))
    scenario = Scenario(space, n_trials=n_trials, seed=3, output_directory=None)
    smac = SMAC(scenario, lambda config, seed: 3 * config["x"] + config["y"], preset="random")
    smac.optimize()
    return smac


def test_a_linear_function_gets_the_shares_of_its_terms() -> None:
    smac = linear_run()
    shares = param_importances(smac, normalize=False)
    # Var(3x) = 9/12 and Var(y) = 1/12: 0.9 and 0.1 of the variance; constants are left out
    assert list(shares) == ["x", "y", "z"]
    assert shares["x"] == pytest.approx(0.9, abs=0.05)
    assert shares["y"] == pytest.approx(0.1, abs=0.04)
    assert shares["z"] < 0.02
    normalized = param_importances(smac.runhistory)  # a RunHistory does as well
    assert sum(normalized.values()) == pytest.approx(1.0)
    assert normalized["x"] == pytest.approx(shares["x"] / sum(shares.values()))
    assert param_importances(smac, seed=1) != normalized  # another forest


def test_failed_trials_and_other_budgets_are_left_out() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    history = RunHistory(space)
    rng = np.random.default_rng(0)
    for config in space.sample_configuration(60):
        for budget in (1.0, 9.0):
            info = TrialInfo(config, seed=0, budget=budget)
            history.add_running(info)
            # y matters at budget 1, x at budget 9; crashes cost what x says at budget 1
            if budget == 1.0 and rng.random() < 0.3:
                value = TrialValue(cost=10 * config["x"], status=StatusType.CRASHED)
            else:
                value = TrialValue(cost=config["x" if budget == 9.0 else "y"])
            history.add(info, value)
    top = param_importances(history)  # the highest budget with 10 or more results
    assert list(top) == ["x", "y"] and top["x"] > 0.9
    low = param_importances(history, budget=1.0)
    assert list(low) == ["y", "x"] and low["y"] > 0.9
    with pytest.raises(
        ScenarioError, match=r"budget must be one at which .*\(\[1\.0, 9\.0\]\), got 3"
    ):
        param_importances(history, budget=3)


def test_wrong_input_says_what_was_expected() -> None:
    with pytest.raises(ArgumentError, match="run must be a SMAC or a RunHistory, got dict"):
        param_importances({})
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    history = RunHistory(space, objectives=("error", "time"))
    with pytest.raises(ScenarioError, match=r"2 objectives \['error', 'time'\]; say which"):
        param_importances(history)
    with pytest.raises(ScenarioError, match="objective must be one of .* got 'loss'"):
        param_importances(history, objective="loss")
    with pytest.raises(ScenarioError, match="at least 2 configurations, got 0"):
        param_importances(history, objective=1)
    with pytest.raises(ScenarioError, match="budget=1, but the run's trials have no budget"):
        param_importances(history, objective=0, budget=1)
    with pytest.raises(ScenarioError, match="n_trees must be an int >= 1, got 0"):
        param_importances(history, objective=0, n_trees=0)


def test_each_objective_of_a_run_with_several(tmp_path: Path) -> None:
    space = ConfigurationSpace(seed=0)
    space.add([Integer("n", (1, 64), log=True), Float("rate", (0.0, 1.0))])
    history = RunHistory(space, objectives=("error", "time"))
    for config in space.sample_configuration(80):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=[config["rate"], np.log2(config["n"])]))
    assert next(iter(param_importances(history, objective="error"))) == "rate"
    assert next(iter(param_importances(history, objective=1))) == "n"


def test_a_choice_between_two_others_gets_its_share() -> None:
    space = ConfigurationSpace(seed=0)
    space.add([Float("x", (0.0, 1.0)), Categorical("c", ["a", "b", "c"])])
    space.add([Float("y", (0.0, 1.0)), Float("z", (0.0, 1.0))])
    scenario = Scenario(space, n_trials=100, seed=5, output_directory=None)
    f = lambda config, seed: 4 * config["x"] + 1.5 * (config["c"] == "b")  # noqa: E731
    smac = SMAC(scenario, f, preset="random")
    smac.optimize()
    # Var(4 x) = 16/12, Var(1.5 [c = b]) = 2.25 * 2/9: shares 0.727 and 0.273. With the codes
    # in the space's order a tree needs two splits to set "b" apart: c got 0.08 to 0.19.
    shares = param_importances(smac)
    assert shares["c"] == pytest.approx(0.273, abs=0.05)
    assert shares["x"] == pytest.approx(0.727, abs=0.05)
