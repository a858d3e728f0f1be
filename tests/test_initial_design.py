from __future__ import annotations

import contextlib
import itertools
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace, EqualsCondition, Integer

from smacx import InitialDesign, ScenarioError
from smacx.initial_design import sample_seeded, unit_to_configs
from tests.conftest import (
    space_with_a_conjunction_on_a_conditional_parent,
    space_with_inactive_parents,
)


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


def test_integers_get_equal_bins_ends_included() -> None:
    """Each of 0, 1, 2 owns a third of the unit interval: rounding 2 * u gave the ends a
    quarter each (Sobol's 64 points came out 16, 32, 16)."""
    space = ConfigurationSpace({"a": (0, 2)}, seed=0)
    n = 300  # midpoints of 300 equal cells: exactly 100 in each third
    grid = (np.arange(n) + 0.5)[:, None] / n
    configs = unit_to_configs(space, grid, np.random.default_rng(0))
    assert np.bincount([c["a"] for c in configs]).tolist() == [100, 100, 100]
    # Scrambled Sobol puts one of 64 points in each 1/64th: the outer thirds hold 21 whole
    # cells and share one, the middle one holds 20 whole cells and shares two.
    design = InitialDesign(n_configs=64).select(
        ConfigurationSpace({"a": (0, 2), "z": (0.0, 1.0)}, seed=0), n_trials=1000, seed=0
    )
    counts = np.bincount([c["a"] for c in design]).tolist()
    assert sum(counts) == 64 and {counts[0], counts[2]} <= {21, 22} and 20 <= counts[1] <= 22


def test_log_integers_get_log_spaced_bins() -> None:
    """k of Integer(1, 4, log) owns [log(k - 0.5), log(k + 0.5)) of [log 0.5, log 4.5): 1 gets
    log(3) / log(9) = exactly half."""
    space = ConfigurationSpace(seed=0)
    space.add([Integer("b", (1, 4), log=True), Integer("c", (7, 8), log=True)])
    n = 9000
    grid = np.repeat((np.arange(n) + 0.5)[:, None] / n, 2, axis=1)
    configs = unit_to_configs(space, grid, np.random.default_rng(0))
    for name, lo, hi in (("b", 1, 4), ("c", 7, 8)):
        counts = np.bincount([c[name] for c in configs], minlength=hi + 1)[lo:]
        k = np.arange(lo, hi + 1)
        expected = n * np.log((k + 0.5) / (k - 0.5)) / np.log((hi + 0.5) / (lo - 0.5))
        assert np.abs(counts - expected).max() <= 1, (name, counts, expected)
    assert np.bincount([c["b"] for c in configs])[1] == n // 2
    # every configuration holds its value's own vector (encode/decode round trip)
    for config in configs[:: n // 50]:
        assert Configuration(space, vector=config.get_array()) == config


def test_size_is_what_select_returns(space: ConfigurationSpace) -> None:
    """Additional configurations beyond n_configs are all in the design, and size says so."""
    extra = [Configuration(space, values={"x": 0.5 * i, "y": 0.5}) for i in range(4)]
    for design in (
        InitialDesign(n_configs=2, additional_configs=extra),  # 4, not 2
        InitialDesign(n_configs=6, additional_configs=extra),  # 4 + 2 drawn
        InitialDesign(n_configs=0),
        InitialDesign(n_configs=3, additional_configs=extra[:1] * 2),  # a repeat counts once
        InitialDesign(min_configs=1, n_configs_per_hyperparameter=1, additional_configs=extra),
        InitialDesign(kind="default", additional_configs=extra[:2]),
        InitialDesign(kind="default", additional_configs=[space.get_default_configuration()]),
    ):
        selected = design.select(space, n_trials=100, seed=0)
        assert design.size(space, n_trials=100) == len(selected), design
    assert InitialDesign(n_configs=2, additional_configs=extra).size(space, 100) == 4
    assert InitialDesign(n_configs=3, additional_configs=extra[:1] * 2).size(space, 100) == 3
    default = InitialDesign(kind="default", additional_configs=[space.get_default_configuration()])
    assert default.size(space, 100) == 1


def test_bad_settings_raise() -> None:
    with pytest.raises(ScenarioError, match="InitialDesign.kind"):
        InitialDesign(kind="grid")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="max_ratio"):
        InitialDesign(max_ratio=0)


def test_finite_vectors_counts_conditions_and_forbidden_clauses() -> None:
    from ConfigSpace import (
        Categorical,
        EqualsCondition,
        Float,
        ForbiddenAndConjunction,
        ForbiddenEqualsClause,
        Integer,
    )

    from smacx.initial_design import finite_vectors

    cs = ConfigurationSpace(seed=0)
    a, i, j = Categorical("a", ["x", "y", "z"]), Integer("i", (1, 4)), Integer("j", (0, 1))
    cs.add([a, i, j])
    assert len(finite_vectors(cs)) == 3 * 4 * 2  # type: ignore[arg-type]
    cs.add(EqualsCondition(i, a, "x"))  # x: 4 * 2, y and z: 2 each
    assert len(finite_vectors(cs)) == 8 + 2 + 2  # type: ignore[arg-type]
    cs.add(
        ForbiddenAndConjunction(ForbiddenEqualsClause(a, "x"), ForbiddenEqualsClause(i, 4))
    )  # drops (x, 4, j) for both j
    vectors = finite_vectors(cs)
    assert vectors is not None and len(vectors) == 10
    assert np.isnan(vectors).any(axis=1).sum() == 4  # i inactive for y and z
    assert finite_vectors(cs, limit=23) is None  # the grid has 24 rows
    cs.add(Float("f", (0.0, 1.0)))
    assert finite_vectors(cs) is None


def test_finite_vectors_counts_a_wide_integer_before_building_its_values() -> None:
    """An integer spanning 1e12 values is not finite enough to enumerate, and finding that
    out builds none of them (it once allocated terabytes)."""
    import tracemalloc

    from ConfigSpace import Categorical, Integer

    from smacx.initial_design import finite_vectors

    cs = ConfigurationSpace(seed=0)
    cs.add([Integer("n", (1, 10**12)), Categorical("c", ["a", "b"])])
    tracemalloc.start()
    try:
        assert finite_vectors(cs) is None
        assert tracemalloc.get_traced_memory()[1] < 10_000_000
    finally:
        tracemalloc.stop()
    small = ConfigurationSpace(seed=0)
    small.add([Categorical("c", ["a", "b"]), Integer("n", (1, 50_000))])
    assert finite_vectors(small) is not None  # 100,000 rows: at the limit
    assert finite_vectors(small, limit=99_999) is None


def test_unit_to_configs_replaces_forbidden_points_in_bulk(
    mixed_space: ConfigurationSpace,
) -> None:
    import time

    rng = np.random.default_rng(0)
    points = rng.random((4096, len(mixed_space)))
    started = time.perf_counter()
    configs = unit_to_configs(mixed_space, points, rng)
    assert time.perf_counter() - started < 2.0  # 0.8 s one row at a time on a simpler space
    assert len(configs) == 4096
    for c in configs[:500]:
        c.check_valid_configuration()
        assert not (c["kind"] == "c" and c["depth"] == 1)


def test_design_configurations_hold_plain_values() -> None:
    from ConfigSpace import Categorical, Float, Integer

    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("k", ["a", "b"]), Float("x", (0.0, 1.0)), Integer("n", (1, 9))])
    for config in InitialDesign(n_configs=8).select(cs, n_trials=100, seed=0):
        assert type(config["k"]) is str and type(config["x"]) is float
        assert type(config["n"]) is int


@pytest.mark.parametrize("extra", [[0.5], [{1: 0.5}], {"x": 0.5}, "x"])
def test_additional_configs_must_be_configurations_or_dicts(extra: object) -> None:
    with pytest.raises(ScenarioError, match="additional_configs(\\[0\\])? must"):
        InitialDesign(additional_configs=extra)  # type: ignore[arg-type]


def test_additional_configs_may_be_dicts(space: ConfigurationSpace) -> None:
    """Dicts of values, as Optuna's enqueue_trial takes them, become configurations of the
    scenario's space (numpy values as plain ones), first in the design, counted once."""
    known = {name: np.float64(0.25) for name in space}
    design = InitialDesign(n_configs=3, additional_configs=[known, dict(known)])
    assert design.size(space, 100) == 3
    configs = design.select(space, 100, 0)
    assert len(configs) == 3
    assert dict(configs[0]) == {name: 0.25 for name in space}
    assert all(type(value) is float for value in configs[0].values())
    assert configs[0].config_space == space


def test_a_whole_float_for_an_integer_in_a_dict_is_an_integer() -> None:
    """JSON and pandas give 3.0: ConfigSpace kept the float, a target got n=3.0 (range()
    raised), and the same point became a second configuration (a review's finding)."""
    cs = ConfigurationSpace({"n": (1, 9), "x": (0.0, 1.0)}, seed=0)
    [config] = InitialDesign(n_configs=1, additional_configs=[{"n": 3.0, "x": 1.0}]).select(
        cs, 100, 0
    )
    assert type(config["n"]) is int and config["n"] == 3 and type(config["x"]) is float
    assert config == Configuration(cs, values={"n": 3, "x": 1.0})
    with pytest.raises(ScenarioError, match=r"additional_configs\[0\].*not allowed"):
        InitialDesign(additional_configs=[{"n": 3.5, "x": 1.0}]).select(cs, 100, 0)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"x": 9.0, "y": 0.0}, "not allowed"),
        ({"x": 0.0}, "active but has no value"),
        ({"x": 0.0, "y": 0.0, "z": 1.0}, "Unknown hyperparameter"),
    ],
)
def test_a_bad_dict_names_its_place_and_the_space(
    space: ConfigurationSpace, values: dict[str, float], reason: str
) -> None:
    extra = [space.get_default_configuration(), values]
    with pytest.raises(ScenarioError, match=rf"additional_configs\[1\].*{reason}.*that is active"):
        InitialDesign(additional_configs=extra).select(space, 100, 0)


def test_rows_of_a_dataframe_with_nan_for_inactive_hyperparameters_are_taken() -> None:
    """A row of ``to_dataframe()`` or a CSV has NaN (JSON: None) where a hyperparameter is
    inactive; it is the configuration without it. NaN for an active one is still refused."""
    cs = ConfigurationSpace({"opt": ["sgd", "adam"], "mom": (0.0, 0.9), "lr": (1e-4, 1e-1)})
    cs.add(EqualsCondition(cs["mom"], cs["opt"], "sgd"))
    rows = [
        {"opt": "adam", "mom": float("nan"), "lr": np.float64(0.01)},
        {"opt": "adam", "mom": None, "lr": 0.02},
    ]
    design = InitialDesign(additional_configs=rows, n_configs=0).select(cs, 100, 0)
    assert design[:2] == [
        Configuration(cs, values={"opt": "adam", "lr": 0.01}),
        Configuration(cs, values={"opt": "adam", "lr": 0.02}),
    ]
    # None as a categorical's choice (scikit-learn's max_depth=None) is a value; a misspelt
    # name is refused whatever its value (a review's findings)
    none = ConfigurationSpace({"depth": [None, "3"], "lr": (1e-4, 1e-1)})
    [chosen] = InitialDesign(additional_configs=[{"depth": None, "lr": 0.01}], n_configs=0).select(
        none, 100, 0
    )[:1]
    assert chosen["depth"] is None
    with pytest.raises(ScenarioError, match="Unknown hyperparameter"):
        InitialDesign(additional_configs=[{"depht": None, "lr": 0.01}]).select(none, 100, 0)
    bad = {"opt": "sgd", "mom": float("nan"), "lr": 0.01}
    with pytest.raises(ScenarioError, match=r"active but has no value set\. mom.*none \(or NaN\)"):
        InitialDesign(additional_configs=[bad]).select(cs, 100, 0)


def test_counts_may_be_numpy_integers_but_not_bools() -> None:
    assert InitialDesign(n_configs=np.int64(3)).n_configs == 3
    assert type(InitialDesign(n_configs=np.int64(3)).n_configs) is int
    with pytest.raises(ScenarioError, match="n_configs must be an int"):
        InitialDesign(n_configs=True)
    with pytest.raises(ScenarioError, match=r"max_ratio must be in \(0, 1\]; got 'a'"):
        InitialDesign(max_ratio="a")  # type: ignore[arg-type]


def test_sampling_leaves_the_users_space_seeded_as_it_was(
    mixed_space: ConfigurationSpace,
) -> None:
    before = mixed_space.random.get_state()[1].copy()
    rng = np.random.default_rng(0)
    InitialDesign(kind="random", n_configs=8).select(mixed_space, 100, seed=2)
    unit_to_configs(mixed_space, rng.random((256, len(mixed_space))), rng)  # forbidden points
    sample_seeded(mixed_space, 5, rng)
    assert np.array_equal(mixed_space.random.get_state()[1], before)
    # and the draws themselves are seeded by the generator
    a = sample_seeded(mixed_space, 5, np.random.default_rng(7))
    assert a == sample_seeded(mixed_space, 5, np.random.default_rng(7))


@pytest.mark.parametrize("kind", ["sobol", "lhs", "random"])
def test_a_design_follows_configspace_where_a_parent_is_inactive(kind: str) -> None:
    cs = space_with_inactive_parents(finite=False)
    configs = InitialDesign(kind=kind, n_configs=64).select(cs, 100, seed=0)  # type: ignore[arg-type]
    assert len(configs) == 64
    for c in configs:
        c.check_valid_configuration()
        if "q" not in c:  # the OR holds through r alone; "!=" holds for an inactive q
            assert ("t" in c) == (c["r"] == "u") and "u" in c


@pytest.mark.parametrize("kind", ["sobol", "lhs", "random", "sampler"])
def test_a_design_is_valid_where_a_conjunction_hangs_on_a_conditional_parent(kind: str) -> None:
    """Sobol and LHS designs raised InactiveHyperparameterSetError at SMAC(...), and random
    ones (ConfigSpace's sampler) held configurations ConfigSpace refuses (an audit's
    finding): the conditions are applied parents first."""
    cs = space_with_a_conjunction_on_a_conditional_parent(finite=False)
    if kind == "sampler":
        configs = sample_seeded(cs, 200, np.random.default_rng(0))
    else:
        configs = InitialDesign(kind=kind, n_configs=64).select(cs, 300, seed=0)  # type: ignore[arg-type]
    # (a design keeps one of configurations that repeat: most here leave h7 inactive)
    assert len(configs) == 200 if kind == "sampler" else len(configs) >= 10
    for c in configs:
        c.check_valid_configuration()
        assert ("h7" in c) == ("h4" in c and c["h0"] == "c1")
    assert any("h7" in c for c in configs)


@pytest.mark.parametrize(
    "make", [space_with_inactive_parents, space_with_a_conjunction_on_a_conditional_parent]
)
def test_finite_vectors_follows_configspace_where_a_parent_is_inactive(make: Any) -> None:
    from itertools import product

    from ConfigSpace import Configuration

    from smacx.initial_design import finite_vectors

    cs = make(finite=True)
    vectors = finite_vectors(cs)
    assert vectors is not None
    found = {frozenset(Configuration(cs, vector=v).items()) for v in vectors}
    # every assignment ConfigSpace accepts, built value by value
    valid = set()
    names = list(cs)
    domains = [[*cs[n].choices] if hasattr(cs[n], "choices") else [*range(1, 6)] for n in names]
    for values in product(*[[None, *d] for d in domains]):
        given = {n: v for n, v in zip(names, values) if v is not None}
        with contextlib.suppress(ValueError):  # not a valid configuration
            valid.add(frozenset(Configuration(cs, values=given).items()))
    assert found == valid and len(vectors) == len(valid)


def test_a_space_whose_clauses_allow_no_random_draw_is_refused_at_once() -> None:
    """ConfigSpace's sampler draws until it has enough, without a bound: a space whose clauses
    left only x == y never got past SMAC(), and one that allowed one draw in a million took
    460 s over an ask(), without a word (an audit of large spaces)."""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        Float,
        ForbiddenGreaterThanRelation,
        ForbiddenInClause,
        ForbiddenLessThanRelation,
    )

    from smacx import SMAC, Scenario, ScenarioError

    equal = ConfigurationSpace(seed=0)
    x, y = Float("x", (0.0, 1.0)), Float("y", (0.0, 1.0))
    equal.add([x, y, ForbiddenLessThanRelation(x, y), ForbiddenGreaterThanRelation(x, y)])
    rare = ConfigurationSpace(seed=0)
    choices = [Categorical(f"c{i}", ["a", "b", "c", "d"], default="a") for i in range(10)]
    rare.add(choices)
    rare.add([ForbiddenInClause(c, ["b", "c", "d"]) for c in choices])
    for space in (equal, rare):
        with pytest.raises(ScenarioError, match="rule out every one of 10,000 random"):
            SMAC(Scenario(space, n_trials=8, seed=0, output_directory=None))
    # a space whose clauses forbid much, not all, is sampled as before
    some = ConfigurationSpace(seed=0)
    some.add(choices[:3])
    some.add([ForbiddenInClause(c, ["b", "c"]) for c in choices[:3]])
    smac = SMAC(Scenario(some, n_trials=8, seed=0, output_directory=None))
    assert smac.ask().config["c0"] in ("a", "d")


def test_a_small_finite_space_of_rare_allowed_configurations_is_run_and_a_new_clause_probed() -> (
    None
):
    """From a review: five integers of 0..9 held equal by their clauses allow one random draw
    in 10,000, but ten configurations, which the selector lists; they were refused. And the
    probe's cache kept a space whose clauses a notebook then changed to allow none."""
    from ConfigSpace import (
        ConfigurationSpace,
        Float,
        ForbiddenGreaterThanRelation,
        ForbiddenLessThanRelation,
        Integer,
    )

    from smacx import SMAC, Scenario, ScenarioError

    space = ConfigurationSpace(seed=0)
    ints = [Integer(f"i{k}", (0, 9)) for k in range(5)]
    space.add(ints)
    for a, b in itertools.pairwise(ints):
        space.add([ForbiddenLessThanRelation(a, b), ForbiddenGreaterThanRelation(a, b)])
    scenario = Scenario(space, n_trials=10, seed=0, deterministic=True, output_directory=None)
    smac = SMAC(scenario, lambda c: float(c["i0"]), progress=False)
    smac.optimize()
    assert smac.runhistory.n_finished == 10
    notebook = ConfigurationSpace(seed=0)
    x, y = Float("x", (0.0, 1.0)), Float("y", (0.0, 1.0))
    notebook.add([x, y, ForbiddenGreaterThanRelation(x, y)])
    SMAC(Scenario(notebook, n_trials=3, seed=0, output_directory=None))
    notebook.add(ForbiddenLessThanRelation(x, y))  # (now only x == y)
    with pytest.raises(ScenarioError, match="rule out every one of 10,000 random"):
        SMAC(Scenario(notebook, n_trials=3, seed=0, output_directory=None))
