"""Acquisition maximizers: validity, exclusion, distinctness and quality."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    EqualsCondition,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    GreaterThanCondition,
    InCondition,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from smacx.encoding import Encoder, row_keys, rows_in
from smacx.errors import ScenarioError
from smacx.maximizer import LocalAndRandomSearch, RandomSearch, Region


def random_space(seed: int) -> ConfigurationSpace:
    """A random mixed space with conditions (on earlier parents) and forbidden clauses."""
    rng = np.random.default_rng(seed)
    cs = ConfigurationSpace(seed=seed)
    hps: list[Any] = []
    for i in range(int(rng.integers(2, 9))):
        kind = rng.integers(0, 5)
        name = f"h{i}"
        if kind == 0:
            hp: Any = UniformFloatHyperparameter(name, 1e-3, 10.0, log=bool(rng.integers(2)))
        elif kind == 1:
            hp = UniformIntegerHyperparameter(
                name, 1, int(rng.integers(2, 300)), log=bool(rng.integers(2))
            )
        elif kind == 2:
            hp = OrdinalHyperparameter(name, [f"o{j}" for j in range(int(rng.integers(2, 5)))])
        else:
            hp = CategoricalHyperparameter(name, [f"c{j}" for j in range(int(rng.integers(2, 5)))])
        hps.append(hp)
    cs.add(hps)
    for i, child in enumerate(hps[1:], start=1):
        if rng.random() < 0.5:
            continue
        parent = hps[int(rng.integers(0, i))]
        if isinstance(parent, CategoricalHyperparameter):
            values = list(parent.choices[: int(rng.integers(1, len(parent.choices)))])
            cs.add(InCondition(child, parent, values))
        elif isinstance(parent, OrdinalHyperparameter):
            cs.add(GreaterThanCondition(child, parent, parent.sequence[0]))
        elif isinstance(parent, UniformIntegerHyperparameter):
            cs.add(GreaterThanCondition(child, parent, parent.lower))
        else:
            cs.add(GreaterThanCondition(child, parent, float(parent.lower) * 2))
    discrete = [
        hp for hp in hps if isinstance(hp, CategoricalHyperparameter | OrdinalHyperparameter)
    ]
    for _ in range(int(rng.integers(0, 4))):
        if len(discrete) < 2:
            break
        a, b = (discrete[j] for j in rng.choice(len(discrete), 2, replace=False))
        va = list(getattr(a, "choices", None) or a.sequence)[-1]
        vb = list(getattr(b, "choices", None) or b.sequence)[-1]
        with contextlib.suppress(ValueError, TypeError):  # it would forbid the default
            cs.add(
                ForbiddenAndConjunction(ForbiddenEqualsClause(a, va), ForbiddenEqualsClause(b, vb))
            )
    return cs


def random_acq(d: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    weights = np.random.default_rng(seed).normal(size=d)

    def acq(X: np.ndarray) -> np.ndarray:
        return np.asarray(np.sin(X @ weights * 3.0) + 0.1 * X.sum(axis=1))

    return acq


@settings(max_examples=25, deadline=None, database=None)
@given(seed=st.integers(0, 2**20))
def test_returned_configurations_are_valid_distinct_and_not_excluded(seed: int) -> None:
    cs = random_space(seed)
    enc = Encoder(cs)
    rng = np.random.default_rng(seed)
    observed = enc.encode(cs.sample_configuration(12))
    exclude = np.vstack([observed, enc.sample(30, rng)])
    region = Region.around(enc, observed[0], 0.1)
    for maximizer, within in itertools.product(
        (
            LocalAndRandomSearch(enc, n_random=200, max_steps=10, seed=seed),
            RandomSearch(enc, n_random=300, seed=seed),
        ),
        (None, region),
    ):
        acq = random_acq(enc.n_dims, seed)
        if within is None:
            found = maximizer.maximize(acq, 20, observed[:5], exclude)
        else:
            found = maximizer.maximize(acq, 20, observed[:5], exclude, region=within)
            inside = within.contains(found)  # rows outside score worst: all come last
            assert not (~inside[:-1] & inside[1:]).any()
        assert found.shape[1] == enc.n_dims and found.shape[0] <= 20
        assert enc.is_valid(found).all()
        assert not rows_in(found, exclude).any()
        assert len(np.unique(row_keys(found))) == found.shape[0]
        for config in enc.decode(found):  # decodes to configurations ConfigSpace accepts
            config.check_valid_configuration()


def test_excluded_configurations_never_come_back_in_a_finite_space() -> None:
    cs = ConfigurationSpace({"a": ["x", "y", "z"], "b": ["u", "v", "w"]}, seed=0)
    enc = Encoder(cs)
    everything = np.array([[i, j] for i in range(3) for j in range(3)], dtype=float)
    acq = lambda X: -np.abs(X - 1.0).sum(axis=1)  # noqa: E731
    for maximizer in (LocalAndRandomSearch(enc, n_random=50), RandomSearch(enc, n_random=100)):
        found = maximizer.maximize(acq, 10, everything[:2], everything[:7])
        assert sorted(map(tuple, found)) == [(2.0, 1.0), (2.0, 2.0)]
        assert tuple(found[0]) == (2.0, 1.0)  # best first
        assert maximizer.maximize(acq, 3, everything[:1], everything).shape == (0, 2)
        assert maximizer.maximize(acq, 0, everything[:1], everything[:0]).shape == (0, 2)


def test_exclusion_matches_configurations_rebuilt_from_values() -> None:
    cs = ConfigurationSpace({"x": (0.0, 1.0), "n": (1, 5)}, seed=0)
    enc = Encoder(cs)
    peak = enc.encode([cs.get_default_configuration()])
    acq = lambda X: -np.abs(X - peak).sum(axis=1)  # noqa: E731
    maximizer = LocalAndRandomSearch(enc, n_random=100, seed=1)
    best = maximizer.maximize(acq, 1, peak, np.empty((0, 2)))
    np.testing.assert_array_equal(best, peak)
    assert not rows_in(maximizer.maximize(acq, 5, peak, peak), peak).any()


@pytest.mark.parametrize("d", [2, 5])
def test_local_search_finds_the_optimum_of_a_quadratic(d: int) -> None:
    cs = ConfigurationSpace({f"x{i}": (-5.0, 5.0) for i in range(d)}, seed=0)
    enc = Encoder(cs)
    optimum = np.linspace(0.2, 0.9, d)

    def acq(X: np.ndarray) -> np.ndarray:
        return np.asarray(-np.sum((X - optimum) ** 2, axis=1))

    found = LocalAndRandomSearch(enc, seed=0).maximize(acq, 3, np.empty((0, d)), np.empty((0, d)))
    assert found.shape == (3, d)
    np.testing.assert_allclose(found[0], optimum, atol=0.01)
    scores = acq(found)
    assert np.all(np.diff(scores) <= 0)  # best first


def test_local_search_uses_start_points_and_moves_integers() -> None:
    cs = ConfigurationSpace({"x": (0.0, 1.0), "n": (1, 1000), "c": ["a", "b", "c", "d"]}, seed=0)
    enc = Encoder(cs)
    target = enc.encode([cs.get_default_configuration()])[0]
    target[:] = [3.0, 0.5005005005005005, 0.123]  # c=d, n=501, x=0.123 (columns c, n, x)
    target = enc.canonicalize(target[None, :])[0]
    start = target.copy()
    start[1] = enc.canonicalize(np.array([[3.0, 0.45, 0.123]]))[0, 1]

    def acq(X: np.ndarray) -> np.ndarray:
        # A needle: zero away from the target's neighbourhood, so random search cannot find it.
        close = np.all(np.abs(X - target) < 0.06, axis=1)
        return np.where(close, 1.0 - np.abs(X - target).sum(axis=1), 0.0)

    found = LocalAndRandomSearch(enc, n_random=100, seed=0).maximize(
        acq, 1, start[None, :], np.empty((0, 3))
    )
    np.testing.assert_allclose(found[0], target, atol=2e-3)


def test_conditional_children_get_valid_values() -> None:
    cs = ConfigurationSpace(seed=0)
    algo = CategoricalHyperparameter("algo", ["a", "b"])
    child = UniformFloatHyperparameter("child", 0.0, 1.0)
    cs.add([algo, child, EqualsCondition(child, algo, "b")])
    enc = Encoder(cs)
    col = enc.names.index("child")
    acq = lambda X: np.where(X[:, col] >= 0, -np.abs(X[:, col] - 0.7), -5.0)  # noqa: E731
    start = enc.encode([cs.get_default_configuration()])  # algo=a, child inactive
    found = LocalAndRandomSearch(enc, n_random=20, seed=3).maximize(acq, 1, start, start)
    assert enc.is_valid(found).all()
    assert found[0, col] == pytest.approx(0.7, abs=0.01)


def test_bad_arguments_raise() -> None:
    enc = Encoder(ConfigurationSpace({"x": (0.0, 1.0)}))
    acq = lambda X: X[:, 0]  # noqa: E731
    with pytest.raises(ScenarioError, match="exclude"):
        LocalAndRandomSearch(enc).maximize(acq, 1, np.zeros((0, 1)), np.zeros((2, 3)))
    with pytest.raises(ScenarioError, match="start_points"):
        LocalAndRandomSearch(enc).maximize(acq, 1, np.zeros((2, 3)), np.zeros((0, 1)))
    with pytest.raises(ScenarioError, match="n:"):
        RandomSearch(enc).maximize(acq, -1, np.zeros((0, 1)), np.zeros((0, 1)))
    with pytest.raises(ScenarioError, match="one score per row"):
        RandomSearch(enc).maximize(
            lambda X: np.hstack([X, X]), 1, np.zeros((0, 1)), np.zeros((0, 1))
        )
    with pytest.raises(ScenarioError, match="step_size"):
        LocalAndRandomSearch(enc, step_size=0.0)


def test_region_bounds_numeric_columns_active_in_its_centre() -> None:
    cs = ConfigurationSpace(seed=0)
    algo = CategoricalHyperparameter("algo", ["a", "b"])
    child = UniformFloatHyperparameter("child", 0.0, 1.0)
    cs.add(
        [algo, child, UniformFloatHyperparameter("x", 0.0, 10.0), EqualsCondition(child, algo, "b")]
    )
    enc = Encoder(cs)
    col = {name: j for j, name in enumerate(enc.names)}
    center = enc.encode([cs.get_default_configuration()])[0]  # algo=a: child inactive
    center[col["x"]] = 0.95
    region = Region.around(enc, center, 0.1)
    np.testing.assert_array_equal(region.columns, [col["x"]])  # not algo, not inactive child
    np.testing.assert_allclose(region.lower, [0.85])
    np.testing.assert_allclose(region.upper, [1.0])  # clipped to the unit interval
    rng = np.random.default_rng(0)
    inside = region.sample(enc, 400, rng)
    assert region.contains(inside).all() and enc.is_valid(inside).all()
    changed = inside[:, col["algo"]] != center[col["algo"]]
    assert 0.05 < changed.mean() < 0.16  # a random choice one time in five, of two: 0.1
    assert (inside[changed, col["child"]] >= 0).all()  # activated children got values
    outside = inside.copy()
    outside[:, col["x"]] = 0.5
    assert not region.contains(outside).any()
    with pytest.raises(ScenarioError, match="half_width"):
        Region.around(enc, center, 0.0)
    with pytest.raises(ScenarioError, match="center: expected shape"):
        Region.around(enc, center[:2], 0.1)


@pytest.mark.parametrize("kind", ["local", "random"])
def test_maximizers_stay_inside_a_region(kind: str) -> None:
    """The acquisition peaks at (0.9, 0.9), outside the box [0.2, 0.4]^2: the best point the
    search can return is the box's corner nearest the peak."""
    cs = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0)}, seed=0)
    enc = Encoder(cs)
    region = Region.around(enc, np.array([0.3, 0.3]), 0.1)

    def acq(X: np.ndarray) -> np.ndarray:
        return np.asarray(-np.sum((X - 0.9) ** 2, axis=1))

    maximizer: Any = (
        LocalAndRandomSearch(enc, n_random=200, seed=0)
        if kind == "local"
        else RandomSearch(enc, n_random=2000, seed=0)
    )
    found = maximizer.maximize(acq, 5, np.array([[0.3, 0.3]]), np.empty((0, 2)), region=region)
    assert found.shape == (5, 2) and region.contains(found).all()
    np.testing.assert_allclose(found[0], [0.4, 0.4], atol=0.02)
    unbounded = maximizer.maximize(acq, 1, np.array([[0.3, 0.3]]), np.empty((0, 2)))
    assert not region.contains(unbounded).any()


def test_region_lets_coarse_integers_and_ordinals_move_one_value() -> None:
    """An integer of 5 values and an ordinal of 4 sit 0.25 and 0.33 encoded units apart: a
    box 0.05 wide on each side still reaches their neighbouring values, and every sample lies
    inside it after snapping to the grid."""
    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            UniformIntegerHyperparameter("k", 1, 5),
            OrdinalHyperparameter("o", ["a", "b", "c", "d"]),
            UniformIntegerHyperparameter("big", 1, 1000, log=True),
            UniformFloatHyperparameter("x", 0.0, 1.0),
        ]
    )
    enc = Encoder(cs)
    col = {name: j for j, name in enumerate(enc.names)}
    center = enc.encode([cs.get_default_configuration()])[0]
    below, above = enc.adjacent(center)
    region = Region.around(enc, center, 0.05)
    samples = region.sample(enc, 2000, np.random.default_rng(1))
    assert region.contains(samples).all()
    values = enc.decode(samples)
    k0, o0 = cs.get_default_configuration()["k"], cs.get_default_configuration()["o"]
    assert {c["k"] for c in values} == {k0 - 1, k0, k0 + 1}
    order = ["a", "b", "c", "d"]
    assert {c["o"] for c in values} == set(order[max(order.index(o0) - 1, 0) : order.index(o0) + 2])
    assert below[col["x"]] == above[col["x"]] == center[col["x"]]  # floats: no grid
    assert below[col["k"]] < center[col["k"]] < above[col["k"]]


def test_a_region_with_nothing_new_inside_is_ranked_after_the_inside() -> None:
    """Every configuration inside the region is excluded: the maximizer still returns new
    configurations, from outside it (unranked: they all score worst)."""
    cs = ConfigurationSpace({"a": (0, 9), "b": (0, 9)}, seed=0)
    enc = Encoder(cs)
    every = enc.encode(list(cs.sample_configuration(400)))
    every = every[np.unique(row_keys(every), return_index=True)[1]]
    region = Region.around(enc, enc.encode([cs.get_default_configuration()])[0], 0.05)
    exclude = every[region.contains(every)]
    acq = lambda X: -np.abs(X - 0.5).sum(axis=1)  # noqa: E731
    for maximizer in (LocalAndRandomSearch(enc, n_random=300, seed=0), RandomSearch(enc, seed=0)):
        found = maximizer.maximize(acq, 3, exclude, exclude, region=region)
        assert found.shape[0] == 3 and not region.contains(found).any()


@pytest.mark.parametrize("with_forbidden", [False, True])
def test_rows_whose_rounding_flips_a_condition_are_not_returned(with_forbidden: bool) -> None:
    """Local search moves floats without rounding them. On a float with a coarse grid of
    values (1e-13 steps over 1e-11) rounding moves a value onto or across a condition's
    threshold: the row's children no longer match its conditions, and decoding would switch
    a child on with its default (which may be forbidden)."""
    cs = ConfigurationSpace(seed=0)
    p = UniformFloatHyperparameter("p", 0.0, 1e-11, default_value=0.0)
    c = CategoricalHyperparameter("c", ["on", "off"])
    q = CategoricalHyperparameter("q", ["u", "v"])
    cs.add([p, c, q])
    if with_forbidden:
        cs.add(EqualsCondition(c, p, 5e-12))
        cs.add(
            ForbiddenAndConjunction(ForbiddenEqualsClause(c, "on"), ForbiddenEqualsClause(q, "v"))
        )
    else:
        cs.add(GreaterThanCondition(c, p, 5e-12))
    enc = Encoder(cs)
    jp, jq = enc.names.index("p"), enc.names.index("q")
    acq = lambda X: -np.abs(X[:, jp] - 0.502) + X[:, jq]  # noqa: E731  # near p = 5e-12, q = v
    empty = np.empty((0, enc.n_dims))
    for seed in range(3):
        search = LocalAndRandomSearch(enc, n_random=50, n_local_starts=5, max_steps=30, seed=seed)
        found = search.maximize(acq, 10, empty, empty)
        assert found.shape[0] == 10
        assert enc.is_valid(found).all()
        for config in enc.decode(found):
            config.check_valid_configuration()


def test_the_proposer_skips_a_kept_candidate_that_configspace_rejects() -> None:
    """ConfigSpace 1.2 leaves ``h3`` inactive at h0 = 1, h1 >= 0.5 although its OR-condition
    holds (an AND-conjunction over the same parents confuses it); smacx counts it active. The
    proposer hands out the next kept candidate instead of one the run history cannot store."""
    from ConfigSpace import (
        AndConjunction,
        Configuration,
        Constant,
        LessThanCondition,
        OrConjunction,
    )

    from smacx.acquisition import LogEI
    from smacx.models import RandomForest
    from smacx.runhistory import RunHistory
    from smacx.selector import ModelProposer

    cs = ConfigurationSpace(seed=0)
    h0 = OrdinalHyperparameter("h0", [0, 1, 2, 3])
    h1 = UniformFloatHyperparameter("h1", 0.0, 1.0)
    h2 = Constant("h2", "k")
    h3 = UniformIntegerHyperparameter("h3", 1, 11)
    cs.add([h0, h1, h2, h3])
    cs.add(
        [
            AndConjunction(LessThanCondition(h2, h1, 0.5), InCondition(h2, h0, [1])),
            OrConjunction(InCondition(h3, h0, [1]), LessThanCondition(h3, h1, 0.5)),
            InCondition(h1, h0, [1]),
        ]
    )
    enc = Encoder(cs)
    col = {name: enc.names.index(name) for name in ("h0", "h1", "h2", "h3")}
    rejected = np.full(enc.n_dims, -1.0)
    rejected[[col["h0"], col["h1"], col["h3"]]] = [1 / 3, 0.93, 0.6]  # h3 active
    assert enc.is_valid(rejected[None, :]).all()  # valid for smacx ...
    try:  # ... but not for ConfigSpace
        Configuration(cs, values=dict(enc.decode(rejected[None, :])[0]))
    except ValueError:
        pass
    else:
        pytest.skip("this ConfigSpace accepts the configuration: nothing to skip")
    accepted = enc.encode([Configuration(cs, {"h0": 2})])[0]
    proposer = ModelProposer(enc, RandomForest(seed=0), LogEI(), LocalAndRandomSearch(enc))
    history = RunHistory(cs)
    proposer._spare, proposer._spare_at = np.stack([rejected, accepted]), history.n_finished
    config = proposer(history, np.random.default_rng(0))
    assert config is not None and dict(config) == {"h0": 2}
    assert proposer._spare.shape[0] == 0  # both used up


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda e: LocalAndRandomSearch(e, n_random=1.5), r"n_random: expected a positive"),
        (lambda e: LocalAndRandomSearch(e, max_steps=2.5), r"max_steps: expected a non-neg"),
        (lambda e: LocalAndRandomSearch(e, step_size="a"), r"step_size: expected a value"),
        (lambda e: LocalAndRandomSearch(e, seed=-1), r"seed: expected a non-negative"),
        (lambda e: RandomSearch(e, n_random=True), r"n_random: expected a positive"),
        (lambda e: RandomSearch(e.configspace), r"encoder: expected an Encoder"),
        (lambda e: LocalAndRandomSearch(None), r"encoder: expected an Encoder"),
    ],
)
def test_settings_of_the_wrong_kind_are_refused_at_construction(
    build: Callable[[Encoder], object], message: str
) -> None:
    encoder = Encoder(ConfigurationSpace({"x": (0.0, 1.0)}, seed=0))
    with pytest.raises(ScenarioError, match=message):
        build(encoder)
