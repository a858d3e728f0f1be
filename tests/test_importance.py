from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import (
    Categorical,
    Configuration,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
)
from ConfigSpace.hyperparameters import OrdinalHyperparameter

from smacx import SMAC, RunHistory, Scenario, StatusType, TrialInfo, TrialValue, param_importances
from smacx.encoding import Encoder
from smacx.errors import ArgumentError, ScenarioError
from smacx.importance import _cdf, _fanova_shares, _measure, analysed

INF = np.inf


def tree(*leaves: tuple[list[float], list[float], float]) -> tuple[np.ndarray, ...]:
    """A tree as ``RandomForest.leaf_boxes`` gives it: each leaf's lower and upper bounds
    per column, and its value."""
    lower, upper, value = zip(*leaves, strict=True)
    return np.array(lower, dtype=float), np.array(upper, dtype=float), np.array(value)


def unit_cdfs(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The measure of ``n`` float columns."""
    return [_cdf(None)] * n


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


def test_choices_weigh_alike_and_integers_as_smacx_draws_them() -> None:
    space = ConfigurationSpace(seed=0)
    kind = Categorical("kind", ["a", "b", "c"])
    level = OrdinalHyperparameter("level", ["low", "mid", "high"])
    flag = Integer("flag", (0, 1))
    width = Integer("width", (1, 8), log=True)
    space.add([kind, level, flag, width])
    encoder = Encoder(space)
    j = encoder.names.index
    cdf = {name: _cdf(_measure(encoder, j(name))) for name in encoder.names}
    # kind: codes 0, 1, 2 with a third each; a split between codes 0 and 1 leaves a third
    assert np.interp(0.5, *cdf["kind"]) == pytest.approx(1 / 3)
    # level: positions 0, 0.5, 1; "low" and "mid" below 0.75
    assert np.interp(0.75, *cdf["level"]) == pytest.approx(2 / 3)
    # flag: 0 and 1 at the ends of [0, 1], half each wherever a tree splits between them
    for threshold in (0.01, 0.5, 0.99):
        assert np.interp(threshold, *cdf["flag"]) == pytest.approx(0.5)
    # width: 1 .. 8 in bins equal on the log scale, [0.5, 1.5) for 1 of [0.5, 8.5)
    at_one = float(space["width"].to_vector(1))
    share_of_one = np.log(1.5 / 0.5) / np.log(8.5 / 0.5)
    assert np.interp(at_one + 1e-3, *cdf["width"]) == pytest.approx(share_of_one)
    # f = [kind is "a"] on a tree splitting kind at 0.5: Bernoulli(1/3), all of the variance
    boxes = tree(([-INF] * 4, [0.5, INF, INF, INF], 1.0), ([0.5, -INF, -INF, -INF], [INF] * 4, 0.0))
    shares = _fanova_shares([boxes], [cdf[name] for name in encoder.names])
    np.testing.assert_allclose(shares, [1.0, 0.0, 0.0, 0.0])


def test_an_integer_with_two_values_gets_its_share() -> None:
    space = ConfigurationSpace(seed=0)
    space.add([Integer("on", (0, 1)), Float("x", (0.0, 1.0))])
    scenario = Scenario(space, n_trials=200, seed=2, output_directory=None)
    # Var(on) = 1/4 and Var(sqrt(3) x) = 1/4: half each
    f = lambda config, seed: config["on"] + 3**0.5 * config["x"]  # noqa: E731
    smac = SMAC(scenario, f, preset="random")
    smac.optimize()
    shares = param_importances(smac)
    assert shares["on"] == pytest.approx(0.5, abs=0.05)  # (0.36 when its ends had half a bin)


def test_a_parent_keeps_the_share_its_inactive_child_marks() -> None:
    space = ConfigurationSpace(seed=0)
    parent = Categorical("parent", ["on", "off"])
    child = Float("child", (0.0, 1.0))  # active only when parent is "on", and does nothing
    space.add([child, parent, Float("noise", (0.0, 1.0)), EqualsCondition(child, parent, "on")])
    history = RunHistory(space)
    for config in space.sample_configuration(150):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=float(config["parent"] == "off")))
    shares = param_importances(history)
    assert shares["parent"] > 0.95  # (the child had 0.7 to 0.98 of it)
    assert shares["child"] < 0.03


def test_costs_far_from_zero_and_equal_costs(caplog: pytest.LogCaptureFixture) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0), "z": (0.0, 1.0)}, seed=0)
    # (1.2e6 + 1e-5 x: a log-likelihood's spread, 1e-11 of its size, counted as no spread)
    for offset, scale in ((1e6, 1.0), (1e4, 1e-3), (0.0, 1e-160), (0.0, 1e300), (1.2e6, 1e-5)):
        history = RunHistory(space)
        for config in space.sample_configuration(60):
            info = TrialInfo(config, seed=0)
            history.add_running(info)
            history.add(info, TrialValue(cost=offset + scale * config["x"]))
        assert param_importances(history)["x"] > 0.95, (offset, scale)
    for cost in (lambda x: 3.0, lambda x: (0.1 * x + 0.3) - 0.1 * x):  # (rounding: 3 values)
        history = RunHistory(space)
        for config in space.sample_configuration(20):
            info = TrialInfo(config, seed=0)
            history.add_running(info)
            history.add(info, TrialValue(cost=cost(config["x"])))
        assert param_importances(history) == {"x": 0.0, "z": 0.0}
        assert "all 20 configurations have the same cost" in caplog.text
        caplog.clear()


def test_instances_of_unequal_difficulty_are_taken_out() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0), "z": (0.0, 1.0)}, seed=0)
    history = RunHistory(space)
    rng = np.random.default_rng(1)
    for config in space.sample_configuration(120):
        # a racing-like run: a configuration with a high z runs on the hard instances only
        chosen = [3, 4] if config["z"] > 0.5 else list(rng.choice(5, size=2, replace=False))
        for instance in chosen:
            info = TrialInfo(config, instance=f"i{instance}", seed=0)
            history.add_running(info)
            history.add(info, TrialValue(cost=config["x"] + 10.0 * instance))
    shares = param_importances(history)
    assert shares["x"] > 0.9 and shares["z"] < 0.05  # (z had a third as a mean over instances)


def test_costs_set_by_the_instance_alone_give_no_shares(caplog: pytest.LogCaptureFixture) -> None:
    """Knobs that never reached the program, raced over instances: the instance fit left
    costs equal but for rounding (1e-14), whose standardized noise gave one knob 100% (a
    review's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0), "z": (0.0, 1.0)}, seed=0)
    history = RunHistory(space)
    rng = np.random.default_rng(2)
    for config in space.sample_configuration(50):
        for instance in rng.choice(4, size=int(rng.integers(1, 5)), replace=False):
            info = TrialInfo(config, instance=f"i{instance}", seed=0)
            history.add_running(info)
            history.add(info, TrialValue(cost=[0.31, 1.7, 2.9, 13.3][instance]))
    assert param_importances(history) == {"x": 0.0, "z": 0.0}
    assert "all 50 configurations have the same cost" in caplog.text


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
    assert analysed(history) == (9.0, 60)  # (what smacx show --importance says)
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
    with pytest.raises(ScenarioError, match="at least 2 configurations, got 0"):
        param_importances(history, objective=0, budget=1)  # (no results: that is the reason)
    with pytest.raises(ScenarioError, match="n_trees must be an int >= 1, got 0"):
        param_importances(history, objective=0, n_trees=0)
    with pytest.raises(ScenarioError, match="normalize: expected True or False, got 'no'"):
        param_importances(history, objective=0, normalize="no")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"budget must be a number .* got \[1\]"):
        param_importances(history, objective=0, budget=[1])  # type: ignore[arg-type]
    for config in space.sample_configuration(3):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=[config["x"], 1.0]))
    with pytest.raises(ScenarioError, match="budget=1, but the run's trials have no budget"):
        param_importances(history, objective=0, budget=1)
    shares = param_importances(history, objective=0, n_trees=np.int64(8), seed=np.int64(1))
    assert list(shares) == ["x"]
    assert param_importances(history, objective=np.int64(0)) == param_importances(
        history, objective=0
    )


def test_shares_of_few_configurations_are_warned_of_as_rough() -> None:
    """With 2 configurations every hyperparameter tells them apart alike; the forest gave all
    of the share to the first (x: 1.0 for a cost of z alone). Fewer than 10 configurations
    are warned of; 10 are not."""
    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0), "z": (0.0, 1.0)}, seed=0)
    history = RunHistory(space)
    configs = space.sample_configuration(10)
    for i, config in enumerate(configs):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=config["z"]))
        if i == 1:
            with pytest.warns(UserWarning, match="only 2 configurations have measured costs"):
                shares = param_importances(history)
            assert max(shares.values()) < 0.9  # (none gets it all)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert next(iter(param_importances(history))) == "z"


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


@pytest.mark.parametrize("matters", [False, True])
def test_a_categorical_of_many_choices_gets_the_share_its_choices_earn(matters: bool) -> None:
    """Choices ordered by costs that were their only results: a categorical of 2,000 choices
    the cost ignored was the cost itself to the forest, and got 60% of the variance of 300
    results (an audit of large spaces). Where the cost does depend on it, it gets its share."""
    import math
    import zlib

    space = ConfigurationSpace(seed=0)
    space.add(
        [
            Categorical("word", [f"w{i:04d}" for i in range(2000)]),
            Float("lr", (1e-5, 1.0), log=True),
            Integer("depth", (1, 12)),
        ]
    )

    def cost(config: Configuration) -> float:
        word = (zlib.crc32(config["word"].encode()) % 1000) / 1000 if matters else 0.0
        lr = (math.log10(config["lr"]) + 3) ** 2
        return word + 0.1 * lr + 0.01 * (config["depth"] - 6) ** 2

    scenario = Scenario(space, n_trials=300, seed=0, deterministic=True, output_directory=None)
    smac = SMAC(scenario, cost, preset="random", progress=False)
    smac.optimize()
    shares = param_importances(smac)
    if matters:  # (its variance 1/12 against lr's 0.056: about 60%)
        assert shares["word"] > 0.4
    else:  # (lr 0.82, depth 0.18)
        assert shares["word"] < 0.05 and shares["lr"] > 0.7
