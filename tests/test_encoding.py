"""Encoder: canonical encoding, round trips, validity, sampling and neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from ConfigSpace import (
    AndConjunction,
    Categorical,
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    GreaterThanCondition,
    InCondition,
    Integer,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from smacx.encoding import INACTIVE, Encoder, rows_in, unit_to_integers
from smacx.errors import ScenarioError


def make_space(seed: int = 0) -> ConfigurationSpace:
    """Every kind of hyperparameter, nested conditions, a conjunction and a forbidden clause."""
    cs = ConfigurationSpace(seed=seed)
    algo = CategoricalHyperparameter("algo", ["svm", "tree", "knn"])
    c = UniformFloatHyperparameter("c", 1e-3, 1e3, log=True)
    kernel = CategoricalHyperparameter("kernel", ["rbf", "poly"])
    degree = UniformIntegerHyperparameter("degree", 2, 5)
    depth = UniformIntegerHyperparameter("depth", 1, 1000, log=True)
    size = OrdinalHyperparameter("size", ["s", "m", "l"])
    k = UniformIntegerHyperparameter("k", -3, 7)
    x = UniformFloatHyperparameter("x", -1.0, 1.0)
    const = Constant("const", "on")
    cs.add([algo, c, kernel, degree, depth, size, k, x, const])
    cs.add(
        [
            EqualsCondition(c, algo, "svm"),
            EqualsCondition(kernel, algo, "svm"),
            EqualsCondition(degree, kernel, "poly"),
            AndConjunction(
                InCondition(depth, algo, ["tree", "knn"]), GreaterThanCondition(depth, size, "s")
            ),
            EqualsCondition(k, algo, "knn"),
        ]
    )
    cs.add(
        ForbiddenAndConjunction(
            ForbiddenEqualsClause(algo, "tree"), ForbiddenEqualsClause(size, "l")
        )
    )
    return cs


def test_encode_shapes_ranges_and_markers() -> None:
    cs = make_space()
    enc = Encoder(cs)
    configs = cs.sample_configuration(300)
    X = enc.encode(configs)
    assert X.shape == (300, len(cs)) and X.dtype == np.float64
    assert enc.n_dims == len(cs)
    cat = [enc.names.index(name) for name in ("algo", "kernel")]
    assert enc.is_categorical.tolist() == [name in ("algo", "kernel") for name in enc.names]
    assert sorted(enc.n_categories[cat].tolist()) == [2, 3]
    assert np.all(enc.n_categories[~enc.is_categorical] == 0)
    # Categorical codes are integers; everything active is on [0, 1] otherwise.
    active = X != INACTIVE
    assert np.all(X[:, cat] == np.round(X[:, cat]))
    numeric = ~enc.is_categorical
    assert np.all(
        (X[:, numeric][active[:, numeric]] >= 0) & (X[:, numeric][active[:, numeric]] <= 1)
    )
    # Inactive children carry the marker.
    svm = X[:, enc.names.index("algo")] == 0
    assert np.all(X[~svm, enc.names.index("c")] == INACTIVE)
    assert np.all(X[svm, enc.names.index("c")] != INACTIVE)
    # Ordinals are spread over [0, 1].
    assert set(np.unique(X[:, enc.names.index("size")])) <= {0.0, 0.5, 1.0}


def test_round_trip_both_ways() -> None:
    cs = make_space()
    enc = Encoder(cs)
    configs = cs.sample_configuration(200)
    X = enc.encode(configs)
    decoded = enc.decode(X)
    assert decoded == configs
    assert enc.encode(decoded).tobytes() == X.tobytes()
    # A configuration rebuilt from its values (as a run history does) encodes identically.
    rebuilt = [Configuration(cs, values=dict(config)) for config in configs]
    assert enc.encode(rebuilt).tobytes() == X.tobytes()
    assert rows_in(X, enc.encode(rebuilt)).all()


def test_canonicalize_is_idempotent_and_snaps() -> None:
    cs = make_space()
    enc = Encoder(cs)
    rng = np.random.default_rng(3)
    X = enc.canonicalize(rng.random((500, enc.n_dims)) * 1.2 - 0.1)
    assert enc.canonicalize(X).tobytes() == X.tobytes()
    degree = enc.names.index("degree")
    assert set(np.unique(X[:, degree])) <= {0.0, 1 / 3, 2 / 3, 1.0}


def test_is_valid_detects_each_kind_of_violation() -> None:
    cs = make_space()
    enc = Encoder(cs)
    X = enc.encode(cs.sample_configuration(100))
    assert enc.is_valid(X).all()
    col = enc.names.index
    svm_row = X[X[:, col("algo")] == 0][0]
    off_grid = svm_row.copy()
    off_grid[col("x")] = 1.5
    missing_child = svm_row.copy()
    missing_child[col("c")] = INACTIVE
    inactive_set = svm_row.copy()
    inactive_set[col("k")] = 0.5
    forbidden = svm_row.copy()
    forbidden[[col("algo"), col("size"), col("c"), col("kernel"), col("degree")]] = INACTIVE
    forbidden[col("algo")] = 1.0  # tree
    forbidden[col("size")] = 1.0  # "l"
    forbidden[col("depth")] = 0.5
    bad = np.stack([off_grid, missing_child, inactive_set, forbidden])
    assert not enc.is_valid(bad).any()
    assert enc.is_forbidden(bad).tolist() == [False, False, False, True]
    with pytest.raises(ScenarioError, match="forbidden"):
        enc.decode(forbidden[None, :])


def test_decode_repairs_activity() -> None:
    cs = make_space()
    enc = Encoder(cs)
    row = enc.encode([cs.get_default_configuration()])[0]
    row[enc.names.index("algo")] = 2.0  # knn: k becomes active, svm children inactive
    (config,) = enc.decode(row[None, :])
    assert config["algo"] == "knn" and "k" in config and "c" not in config


def test_sample_is_valid_reproducible_and_covers_values() -> None:
    cs = make_space()
    enc = Encoder(cs)
    A = enc.sample(2000, np.random.default_rng(7))
    B = enc.sample(2000, np.random.default_rng(7))
    assert A.shape == (2000, enc.n_dims)
    assert A.tobytes() == B.tobytes()
    assert enc.is_valid(A).all()
    assert enc.canonicalize(A).tobytes() == A.tobytes()
    assert set(np.unique(A[:, enc.names.index("algo")])) == {0.0, 1.0, 2.0}
    k = A[:, enc.names.index("k")]
    assert len(np.unique(k[k != INACTIVE])) == 11  # every integer in [-3, 7]
    assert enc.sample(0, np.random.default_rng(0)).shape == (0, enc.n_dims)


def test_unit_to_integers_gives_every_integer_its_full_bin() -> None:
    # linear: k of 0 .. 2 owns [k / 3, (k + 1) / 3); 1.0 counts as just below 1
    u = np.array([0.0, 1 / 3 - 1e-12, 1 / 3, 2 / 3 - 1e-12, 2 / 3, 1 - 1e-12, 1.0])
    assert unit_to_integers(u, 0, 2, log=False).tolist() == [0, 0, 1, 1, 2, 2, 2]
    # log: k of 1 .. 4 owns [log(k - 0.5), log(k + 0.5)) of [log 0.5, log 4.5); 1 owns
    # log(3) / log(9) = half of it, 2 up to log(5) / log(9) = 0.7325 ...
    edges = np.log(np.array([1.5, 2.5, 3.5]) / 0.5) / np.log(9)
    u = np.concatenate([[0.0], edges - 1e-9, edges + 1e-9, [1.0]])
    assert unit_to_integers(u, 1, 4, log=True).tolist() == [1, 1, 2, 3, 2, 3, 4, 4]
    out = unit_to_integers(np.zeros((2, 3)), -5, 5, log=False)
    assert out.shape == (2, 3) and out.dtype == np.int64


@pytest.mark.parametrize(("lower", "upper"), [(1, 10), (1, 3), (7, 8)])
def test_log_integers_are_sampled_log_uniformly_ends_included(lower: int, upper: int) -> None:
    """P(k) = log((k + 0.5) / (k - 0.5)) / log((upper + 0.5) / (lower - 0.5)), falling with k:
    rounding a log-uniform value in [lower, upper] gave the ends half a bin (on 1 .. 10,
    P(1) = 0.176 < P(2) = 0.219)."""
    cs = ConfigurationSpace(seed=0)
    cs.add(UniformIntegerHyperparameter("k", lower, upper, log=True))
    enc = Encoder(cs)
    n = 60_000
    X = enc.sample(n, np.random.default_rng(0))
    assert enc.canonicalize(X).tobytes() == X.tobytes()
    values = np.array([c["k"] for c in enc.decode(X[:2000])])
    assert enc.encode(enc.decode(X[:2000])).tobytes() == X[:2000].tobytes()
    k = np.arange(lower, upper + 1)
    p = np.log((k + 0.5) / (k - 0.5)) / np.log((upper + 0.5) / (lower - 0.5))
    # the encoded value of k is ConfigSpace's log(k / lower) / log(upper / lower)
    codes = (np.log(k) - np.log(lower)) / (np.log(upper) - np.log(lower))
    counts = np.array([np.count_nonzero(np.isclose(X[:, 0], c, atol=1e-12)) for c in codes])
    assert counts.sum() == n
    sd = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < 5 * sd), (counts, n * p)
    assert set(values.tolist()) <= set(k.tolist())


def test_neighbours_are_valid_one_exchange_moves() -> None:
    cs = make_space()
    enc = Encoder(cs)
    rng = np.random.default_rng(1)
    X = enc.sample(50, rng)
    N, owner = enc.neighbours(X, 20, rng)
    assert N.shape[0] == owner.shape[0] > 500
    assert enc.is_valid(N).all()
    assert enc.canonicalize(N).tobytes() == N.tobytes()
    changed = X[owner] != N
    assert changed.any(axis=1).all()  # every neighbour differs from its origin
    # Only the moved hyperparameter and its conditional descendants change.
    roots = [enc.names.index(n) for n in ("algo", "size", "x")]
    assert np.all(changed[:, roots].sum(axis=1) <= 1)


def test_instance_features() -> None:
    cs = ConfigurationSpace({"a": (0.0, 1.0), "b": ["x", "y"]}, seed=0)
    features = {"i1": [1.0, 10.0], "i2": [3.0, 10.0], "i3": [2.0, 10.0]}
    enc = Encoder(cs, instance_features=features)
    F = enc.instance_feature_matrix()
    assert F is not None
    np.testing.assert_allclose(F, [[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]])
    configs = cs.sample_configuration(3)
    X = enc.encode_with_instances(configs, ["i3", "i1", "i3"])
    assert X.shape == (3, 4)
    np.testing.assert_allclose(X[:, 2], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(X[:, :2], enc.encode(configs))
    with pytest.raises(ScenarioError, match="i9"):
        enc.encode_with_instances(configs[:1], ["i9"])
    with pytest.raises(ScenarioError, match="one instance per configuration"):
        enc.encode_with_instances(configs, ["i1"])
    assert Encoder(cs).instance_feature_matrix() is None
    # features near the largest float: their span overflowed, and the run stopped at its first
    # fit with NaN features (an audit's finding)
    huge = Encoder(cs, instance_features={"i1": [1e308, -1e308], "i2": [-1e308, 1e308]})
    np.testing.assert_array_equal(huge.instance_feature_matrix(), [[1.0, 0.0], [0.0, 1.0]])
    tiny = Encoder(cs, instance_features={"i1": [0.0, 1e-320], "i2": [5e-324, 1e-320]})
    np.testing.assert_array_equal(tiny.instance_feature_matrix(), [[0.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ScenarioError, match="same length"):
        Encoder(cs, instance_features={"i1": [1.0], "i2": [1.0, 2.0]})
    with pytest.raises(ScenarioError, match="expected a mapping of instance name to feature"):
        Encoder(cs, [1])  # type: ignore[arg-type]


def test_bad_shapes_raise() -> None:
    enc = Encoder(make_space())
    with pytest.raises(ScenarioError, match="shape"):
        enc.is_valid(np.zeros((3, 2)))
    with pytest.raises(ScenarioError, match="shape"):
        enc.decode(np.zeros(enc.n_dims))


def test_an_integer_range_too_wide_to_encode_is_named() -> None:
    """-2**62 to 2**62 overflowed numpy's int64 inside (a fuzzing audit's finding); up to
    2**63 - 1 values they are encoded, as before."""
    space = ConfigurationSpace({"i": (-(2**62), 2**62)}, seed=0)
    with pytest.raises(ScenarioError, match=r"'i' spans 9.22e\+18 values .* Use a Float"):
        Encoder(space)
    Encoder(ConfigurationSpace({"i": (1, 2**62)}, seed=0))
    # refused by the Scenario, for every preset: the random preset ran a trial, then failed
    # with numpy's bare "high is out of bounds for int64" (an audit's finding)
    from smacx import Scenario

    with pytest.raises(ScenarioError, match=r"'i' spans 9.22e\+18 values"):
        Scenario(space, output_directory=None)


def test_a_float_range_configspace_holds_as_inf_is_named() -> None:
    """ConfigSpace rounds a bound of 1e300 to inf, and SMAC() failed deep inside it ("active
    but has no value set"); an integer beyond 2**53, whose values the floats skip, warns."""
    import warnings

    from smacx import SMAC, Scenario

    for bounds in ((0.0, 1e300), (1.0, 1e300)):
        space = ConfigurationSpace({"a": Float("a", bounds, default=1.0)}, seed=0)
        with pytest.raises(ScenarioError, match=r"'a' must have a range of finite numbers"):
            Scenario(space, output_directory=None)
    Scenario(ConfigurationSpace({"a": (-1e290, 1e290)}, seed=0), output_directory=None)
    wide = ConfigurationSpace({"i": (2**53, 2**53 + 20), "j": (0, 2**53)}, seed=0)
    with pytest.warns(UserWarning, match=r"'i' \(9007199254740992 to 9007199254741012\) reach"):
        SMAC(Scenario(wide, output_directory=None), lambda config, seed: 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        narrow = ConfigurationSpace({"j": (0, 2**53)}, seed=0)
        SMAC(Scenario(narrow, output_directory=None), lambda config, seed: 0.0)


def test_canonical_rows_equal_the_encoding_of_their_configurations() -> None:
    """Arbitrary unit values, canonicalized, are exactly what ConfigSpace stores for the
    configurations they decode to (log floats, log integers, odd bounds), so rows can be
    compared byte for byte with encoded history."""
    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            UniformFloatHyperparameter("lr", 1e-7, 0.3, log=True),
            UniformFloatHyperparameter("w", -3.7, 12.1),
            UniformFloatHyperparameter("unit", 0.0, 1.0),
            UniformIntegerHyperparameter("n", 1, 4096, log=True),
            UniformIntegerHyperparameter("m", -17, 5),
        ]
    )
    enc = Encoder(cs)
    rng = np.random.default_rng(3)
    X = np.vstack([rng.random((3000, 5)), np.zeros((1, 5)), np.ones((1, 5))])
    C = enc.canonicalize(X)
    assert enc.canonicalize(C).tobytes() == C.tobytes()
    assert enc.encode(enc.decode(C)).tobytes() == C.tobytes()


def test_adjacent_values_of_integers_and_ordinals() -> None:
    from ConfigSpace import Configuration, OrdinalHyperparameter, UniformIntegerHyperparameter

    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            UniformIntegerHyperparameter("huge", 0, 10**14),
            UniformIntegerHyperparameter("log", 1, 1000, log=True),
            OrdinalHyperparameter("o", ["a", "b", "c"]),
        ]
    )
    enc = Encoder(cs)
    for values, expected in [
        ({"huge": 5 * 10**13, "log": 1, "o": "a"}, ({"huge": 5 * 10**13 - 1, "log": 2, "o": "b"})),
        ({"huge": 10**14, "log": 1000, "o": "c"}, ({"huge": 10**14 - 1, "log": 999, "o": "b"})),
    ]:
        x = enc.encode([Configuration(cs, values)])[0]
        below, above = enc.adjacent(x)
        got_below, got_above = enc.decode(np.vstack([below, above]))
        up = {
            "huge": values["huge"] + 1 if values["huge"] < 10**14 else values["huge"] - 1,
            "log": values["log"] + 1 if values["log"] < 1000 else 999,
            "o": "b",
        }
        assert dict(got_above) == up
        assert dict(got_below) == expected


def test_long_ordinals_match_conditions_and_forbidden_clauses_exactly() -> None:
    """With 23 values an index comes back inexactly from ``index / 22`` (``15 / 22 * 22`` is
    14.999999999999998), and ConfigSpace compares condition and forbidden values exactly."""
    seq = list(range(100, 123))
    cs = ConfigurationSpace(seed=0)
    o = OrdinalHyperparameter("o", seq)
    x = UniformFloatHyperparameter("x", 0.0, 1.0)
    cs.add([o, x, EqualsCondition(x, o, seq[15]), ForbiddenEqualsClause(o, seq[13])])
    enc = Encoder(cs)
    good = Configuration(cs, {"o": seq[15], "x": 0.3})
    X = enc.encode([good])
    assert enc.is_valid(X).all()
    assert enc.decode(X) == [good]  # the active child survives
    forbidden = np.array([[13 / 22, INACTIVE]])
    assert enc.is_forbidden(forbidden).all() and not enc.is_valid(forbidden).any()
    S = enc.sample(1000, np.random.default_rng(0))
    o_col = S[:, enc.names.index("o")]
    assert not np.any(o_col == 13 / 22)  # never the forbidden value
    at_15 = o_col == 15 / 22
    assert at_15.any() and np.all(S[at_15, enc.names.index("x")] != INACTIVE)
    for config in enc.decode(S[at_15]):  # rebuilt from values, as a run history does
        Configuration(cs, values=dict(config))
    # Repair activates the child of a row that lacks it, with a value or its default.
    row = np.array([[15 / 22, INACTIVE]])
    assert enc.repair(row, np.random.default_rng(0))[0, 1] != INACTIVE
    assert dict(enc.decode(row)[0]) == {"o": seq[15], "x": 0.5}
    N, _ = enc.neighbours(S[:50], 20, np.random.default_rng(1))
    assert enc.is_valid(N).all() and not np.any(N[:, enc.names.index("o")] == 13 / 22)


def test_a_long_ordinal_filled_in_by_repair_activates_its_own_children() -> None:
    """Repair gives a newly active ordinal its default (index 15 of 23); the grandchild
    conditioned on that value must see the exact index and become active too."""
    seq = list(range(100, 123))
    cs = ConfigurationSpace(seed=0)
    a = CategoricalHyperparameter("a", ["on", "off"], default_value="off")
    o = OrdinalHyperparameter("o", seq, default_value=seq[15])
    x = UniformFloatHyperparameter("x", 0.0, 1.0)
    cs.add([a, o, x, EqualsCondition(o, a, "on"), EqualsCondition(x, o, seq[15])])
    enc = Encoder(cs)
    row = enc.encode([cs.get_default_configuration()])  # a = off: o and x inactive
    row[0, enc.names.index("a")] = 0.0  # a = on
    (config,) = enc.decode(row)
    assert dict(config) == {"a": "on", "o": seq[15], "x": 0.5}
    Configuration(cs, values=dict(config))  # ConfigSpace accepts it
    assert enc.is_valid(enc.encode([config])).all()


def test_an_encoder_of_no_space_or_of_text_features_is_refused() -> None:
    with pytest.raises(ScenarioError, match="expected a ConfigSpace ConfigurationSpace, got None"):
        Encoder(None)  # type: ignore[arg-type]
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with pytest.raises(ScenarioError, match="instance_features: expected a list of numbers"):
        Encoder(space, {"a": "ab"})  # type: ignore[dict-item]


def test_sampling_a_space_whose_clauses_forbid_nearly_all_of_it_comes_up_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One allowed value of 1000: 999 of 1000 draws are forbidden, and still every call
    returns as many configurations as asked for, without a warning."""
    from ConfigSpace import Categorical, Float, ForbiddenInClause

    cs = ConfigurationSpace(seed=0)
    a = Categorical("a", [f"a{i}" for i in range(1000)], default="a999")
    cs.add([a, Float("x", (0.0, 1.0))])
    cs.add(ForbiddenInClause(a, [f"a{i}" for i in range(999)]))
    encoder = Encoder(cs)
    rng = np.random.default_rng(0)
    with caplog.at_level("WARNING", logger="smacx"):
        for _ in range(20):
            assert encoder.sample(500, rng).shape == (500, 2)
    assert not caplog.records


def test_decode_snaps_a_root_value_below_the_range_and_a_one_item_ordinal() -> None:
    """A value below -0.5 of a hyperparameter without parents was taken for the inactive
    marker, and decode gave a configuration without it; a sequence of one item kept the
    encoded value 1, and decode failed inside ConfigSpace (an audit's findings)."""
    from ConfigSpace import Categorical, OrdinalHyperparameter

    enc = Encoder(ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}))
    assert enc.canonicalize(np.array([[-0.7, 0.3]])).tolist() == [[0.0, 0.3]]
    (config,) = enc.decode(np.array([[-0.7, 0.3]]))
    config.check_valid_configuration()
    assert dict(config) == {"x": 0.0, "y": 0.3}
    space = ConfigurationSpace(seed=0)
    space.add([Categorical("a", ["p", "q"]), OrdinalHyperparameter("o", ["only"])])
    one = Encoder(space)
    assert one.canonicalize(np.array([[0.0, 1.0]])).tolist() == [[0.0, 0.0]]
    assert dict(one.decode(np.array([[0.0, 1.0]]))[0]) == {"a": "p", "o": "only"}
    assert not one.is_valid(np.array([[0.0, 1.0]]))[0]


# -- priors -----------------------------------------------------------------------------------


def _prior_space() -> ConfigurationSpace:
    from ConfigSpace import Beta, Categorical, Float, Integer, Normal

    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            Float("x", (0.0, 10.0), distribution=Normal(7.0, 1.0)),
            Integer("n", (8, 256), log=True, distribution=Beta(4, 2)),
            Categorical("c", ["a", "b", "c"], weights=[1, 1, 3]),
            Float("y", (0.0, 1.0), distribution=Beta(2, 2)),
            Integer("k", (1, 5)),
            Categorical("u", ["p", "q"], weights=[2, 2]),
        ]
    )
    cs.add(EqualsCondition(cs["y"], cs["c"], "a"))
    return cs


def test_log_prior_is_zero_at_the_mode_and_counts_only_non_uniform_priors() -> None:
    cs = _prior_space()
    enc = Encoder(cs)
    # a float's normal and beta priors, an integer's beta prior, a categorical's unequal
    # weights; not the uniform integer nor the categorical of equal weights
    assert set(enc.prior_names) == {"x", "n", "c", "y"}
    assert enc.log_prior(enc.encode([cs.get_default_configuration()]))[0] == pytest.approx(
        0.0, abs=1e-6
    )
    # x one standard deviation from its mean: log density -1/2 relative to the peak
    values = {"x": 8.0, "n": cs["n"].default_value, "c": "c", "k": 1, "u": "q"}
    one_sd = enc.log_prior(enc.encode([Configuration(cs, values=values)]))[0]
    assert one_sd == pytest.approx(-0.5, abs=1e-6)
    # a choice of weight 1 of a largest 3; y at its beta prior's mode 0.5 counts as 0
    values = {"x": 7.0, "n": cs["n"].default_value, "c": "a", "y": 0.5, "k": 1, "u": "p"}
    assert enc.log_prior(enc.encode([Configuration(cs, values=values)]))[0] == pytest.approx(
        np.log(1 / 3)
    )


def test_log_prior_floors_a_vanishing_density_and_ignores_inactive_columns() -> None:
    cs = _prior_space()
    enc = Encoder(cs)
    X = enc.encode([cs.get_default_configuration()] * 2)
    j = enc.names.index("y")
    assert X[0, j] == INACTIVE  # c is "c": y is inactive and adds nothing
    X[1, enc.names.index("c")] = 0.0  # "a"
    X[1, j] = 0.0  # y at a bound, where its beta prior's density is 0
    scores = enc.log_prior(X)
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] == pytest.approx(np.log(1 / 3) + np.log(1e-12))


def test_a_uniform_share_bounds_how_little_a_prior_believes() -> None:
    """Mixed with the uniform distribution, a prior's tails keep that share of density: a
    value far outside a narrow normal prior counts as ``share * 1 / peak`` of the mixture's
    peak, not as nothing."""
    from ConfigSpace import Float, Normal

    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (0.0, 1.0), distribution=Normal(0.2, 0.05)))
    enc = Encoder(cs)
    X = np.array([[0.2], [0.9]])
    peak = float(cs["x"].pdf_vector(np.array([0.2]))[0])  # about 8: 1 / (0.05 sqrt(2 pi))
    pure = enc.log_prior(X)
    assert pure[0] == pytest.approx(0.0, abs=1e-6)
    assert pure[1] == pytest.approx(np.log(1e-12))  # 14 standard deviations off: the floor
    mixed = enc.log_prior(X, uniform_share=0.1)
    assert mixed[0] == pytest.approx(0.0, abs=1e-6)
    expected = np.log(0.1 / peak / (0.9 + 0.1 / peak))
    assert mixed[1] == pytest.approx(expected, rel=1e-6)


def test_a_uniform_share_mixes_with_an_integer_prior_as_a_distribution() -> None:
    """ConfigSpace's densities of an integer's values need not sum to 1 (5e21 for a mean 50
    steps above the range, 1.88 for a mean at its top): mixed as they were, the uniform share
    left every value but the top one at the floor of 1e-12."""
    from ConfigSpace import Integer, Normal
    from scipy.stats import norm

    for lower, upper, mu, sigma in ((0, 100, 150.0, 1.0), (1, 8, 8.0, 1.0), (0, 100, 50.0, 9.0)):
        cs = ConfigurationSpace(seed=0)
        cs.add(Integer("n", (lower, upper), distribution=Normal(mu, sigma)))
        enc = Encoder(cs)
        values = np.arange(lower, upper + 1)
        X = np.asarray(cs["n"].to_vector(values), dtype=np.float64)[:, None]
        log_pmf = norm.logpdf(values, mu, sigma)
        pmf = np.exp(log_pmf - np.logaddexp.reduce(log_pmf))
        mix = 0.9 * pmf + 0.1 / len(values)
        expected = np.log(mix / mix.max())
        assert enc.log_prior(X, uniform_share=0.1) == pytest.approx(expected, abs=1e-6)


def test_a_prior_in_steps_takes_bins_levels() -> None:
    from ConfigSpace import Float, Normal

    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (0.0, 1.0), distribution=Normal(0.5, 0.1)))
    enc = Encoder(cs)
    X = np.linspace(0.0, 1.0, 1001)[:, None]
    levels = np.unique(np.round(np.exp(enc.log_prior(X, bins=4)), 12))
    assert levels.tolist() == [0.25, 0.5, 0.75, 1.0]
    smooth = np.exp(enc.log_prior(X))
    stepped = np.exp(enc.log_prior(X, bins=4))
    assert np.all(stepped >= smooth - 1e-12) and np.all(stepped - smooth <= 0.25 + 1e-12)


def test_a_space_without_priors_has_no_prior_names() -> None:
    cs = ConfigurationSpace({"a": (0.0, 1.0), "b": (1, 9), "c": ["x", "y"]})
    enc = Encoder(cs)
    assert enc.prior_names == ()
    np.testing.assert_array_equal(enc.log_prior(enc.sample(5, np.random.default_rng(0))), 0.0)


def test_priors_peak_where_they_are_centred_and_huge_integers_are_read_quickly() -> None:
    """The mode is the priors' (the default may differ), children a mode activates included;
    an integer prior over 10**9 values was normalized by ConfigSpace over every value (a
    priors audit's finding: minutes and a gigabyte at the first proposal)."""
    from ConfigSpace import Beta, Categorical, Float, Integer, Normal

    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            Float("lr", (1e-5, 1.0), log=True, distribution=Normal(1e-3, 10), default=0.1),
            Integer("n", (1, 100), distribution=Normal(30, 5), default=2),
            Integer("big", (0, 10**9), distribution=Normal(123_456_789, 10**7)),
            Categorical("c", ["a", "b"], weights=[1, 3], default="a"),
            Float("y", (0.0, 1.0), distribution=Beta(2, 2)),
        ]
    )
    cs.add(EqualsCondition(cs["y"], cs["c"], "b"))  # active only at the heavier choice
    enc = Encoder(cs)
    [mode] = enc.decode(enc.prior_mode())
    assert (mode["lr"], mode["n"], mode["c"]) == (pytest.approx(1e-3), 30, "b")
    assert mode["y"] == pytest.approx(0.5, abs=1e-4)
    assert abs(mode["big"] - 123_456_789) < 10**9 / 20_000
    assert enc.log_prior(enc.prior_mode())[0] == pytest.approx(0.0, abs=1e-6)


def test_priors_of_huge_log_integers_narrow_floats_and_deep_conditions_peak_right() -> None:
    """A review's findings: a log integer over 10**7 values read its prior on a grid even in
    value (its mode came out 154, not 50) and got almost no uniform share; a normal prior
    narrower than the table's step peaked beside its mean; a mode three levels of conditions
    deep kept its default."""
    from ConfigSpace import Categorical, Float, Integer, Normal

    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            Integer("n", (1, 10**7), log=True, distribution=Normal(50, 1)),
            Float("lr", (1e-5, 1.0), log=True, distribution=Normal(1e-3, 1)),
            Categorical("a", ["off", "on"], weights=[1, 3]),
            Categorical("b", ["off", "on"], weights=[1, 3]),
            Categorical("c", ["off", "on"], weights=[1, 3]),
            Float("d", (0.0, 1.0), distribution=Normal(0.8, 0.1)),
        ]
    )
    cs.add(
        [
            EqualsCondition(cs["b"], cs["a"], "on"),
            EqualsCondition(cs["c"], cs["b"], "on"),
            EqualsCondition(cs["d"], cs["c"], "on"),
        ]
    )
    enc = Encoder(cs)
    [mode] = enc.decode(enc.prior_mode())
    assert mode["n"] == 50 and mode["lr"] == pytest.approx(1e-3)
    assert (mode["a"], mode["b"], mode["c"], mode["d"]) == ("on", "on", "on", 0.8)
    far = enc.encode([Configuration(cs, values={**dict(mode), "n": 10**6, "lr": 0.5})])
    near = enc.encode([mode])
    # each far value keeps the uniform share: about log(0.1 / peak), not the 1e-12 floor
    assert enc.log_prior(near, uniform_share=0.1)[0] == pytest.approx(0.0, abs=1e-6)
    assert -40.0 < enc.log_prior(far, uniform_share=0.1)[0] < -10.0


def test_repair_shares_a_condition_between_children_and_rounds_every_value_it_draws() -> None:
    """Children hanging on one condition are checked once per call, and the values drawn
    for columns no condition reads are rounded after the loop, together: the rows must
    still be valid, canonical and accepted by ConfigSpace, with numeric parents and
    conjunctions in the conditions."""
    cs = ConfigurationSpace(seed=0)
    model = Categorical("model", ["a", "b", "c"])
    cs.add(model)
    children = [Float(f"a{i}", (1e-4, 1e2), log=True) for i in range(6)]
    children += [Integer(f"b{i}", (1, 1000), log=i % 2 == 0) for i in range(4)]
    cs.add(children)
    cs.add([EqualsCondition(child, model, child.name[0]) for child in children])
    depth = Integer("depth", (1, 50), log=True)  # a numeric parent of a numeric child
    rate = Float("rate", (0.0, 1.0))
    cs.add([depth, rate])
    cs.add(
        [
            InCondition(depth, model, ["a", "b"]),
            AndConjunction(EqualsCondition(rate, model, "a"), GreaterThanCondition(rate, depth, 5)),
        ]
    )
    enc = Encoder(cs)
    rng = np.random.default_rng(3)
    X = enc.sample(400, rng)
    noisy = np.clip(X + rng.normal(0.0, 0.4, X.shape), 0.0, 1.0)
    Z = enc.repair(noisy, np.random.default_rng(4))
    N, _ = enc.neighbours(X[:100], 10, np.random.default_rng(5))
    for rows in (Z, N):
        assert enc.is_valid(rows).all()
        assert np.allclose(enc.canonicalize(rows), rows, rtol=0.0, atol=1e-12)
        for config in enc.decode(rows[:60]):
            Configuration(cs, values=dict(config)).check_valid_configuration()
    rate_on = Z[:, enc.names.index("rate")] != INACTIVE
    assert 0 < rate_on.sum() < (Z[:, 0] == 0).sum()  # only "a" rows with depth > 5


def make_wide_space(seed: int = 0) -> ConfigurationSpace:
    """A CASH-like space: a choice with many children each, children of those children
    (equals and in conditions), numeric parents, a conjunction, constants and ordinals,
    integers too wide for a table, and forbidden clauses of every form."""
    from ConfigSpace import (
        ForbiddenGreaterThanRelation,
        ForbiddenInClause,
        LessThanCondition,
        OrConjunction,
    )

    cs = ConfigurationSpace(seed=seed)
    choice = Categorical("choice", ["a", "b", "c", "d"])
    order = OrdinalHyperparameter("order", ["s", "m", "l", "xl"])
    cs.add([choice, order, Constant("fixed", "yes"), Integer("huge", (1, 10**12), log=True)])
    for name in ("a", "b", "c", "d"):
        kids = [
            Float(f"{name}:f", (1e-3, 1e2), log=True),
            Float(f"{name}:g", (-1.0, 1.0)),
            Integer(f"{name}:n", (1, 300), log=True),
            Integer(f"{name}:k", (-4, 9)),
            Categorical(f"{name}:kind", ["p", "q", "r"]),
            OrdinalHyperparameter(f"{name}:o", [1, 2, 3]),
            Constant(f"{name}:const", 1.5),
        ]
        cs.add(kids)
        cs.add([EqualsCondition(kid, choice, name) for kid in kids])
        deep = [Float(f"{name}:p", (0.0, 1.0)), Integer(f"{name}:q", (2, 6))]
        cs.add(deep)
        cs.add(
            [
                EqualsCondition(deep[0], cs[f"{name}:kind"], "p"),
                InCondition(deep[1], cs[f"{name}:kind"], ["q", "r"]),
            ]
        )
    rate = Float("rate", (0.0, 1.0))
    mix = Integer("mix", (0, 5))
    cs.add([rate, mix])
    cs.add(
        [
            AndConjunction(
                EqualsCondition(rate, choice, "a"), GreaterThanCondition(rate, cs["a:g"], 0.0)
            ),
            OrConjunction(
                EqualsCondition(mix, choice, "b"), LessThanCondition(mix, cs["huge"], 1000)
            ),
        ]
    )
    cs.add(
        [
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(choice, "c"), ForbiddenInClause(order, ["s", "xl"])
            ),
            ForbiddenInClause(cs["d:kind"], ["r"]),
            ForbiddenGreaterThanRelation(cs["a:k"], cs["a:q"]),
        ]
    )
    return cs


def _repair_column_by_column(
    enc: Encoder, X: np.ndarray, rng: np.random.Generator | None
) -> np.ndarray:
    """What ``Encoder.repair`` does, the slow way: the conditional columns, parents first, one
    at a time, each checked by ConfigSpace and drawing its missing values by itself (or, with
    no ``rng``, taking the hyperparameter's default, as ``decode`` does)."""
    X = enc.canonicalize(X)
    for j in enc._conditional:
        V = enc._to_cs(X)
        holds = np.ones(X.shape[0], dtype=bool)
        for condition in enc._conditions[j]:
            holds &= np.asarray(condition.satisfied_by_vector_array(V.T), dtype=bool)
        missing = holds & (X[:, j] == INACTIVE)
        if missing.any() and rng is None:
            hp = enc.configspace[enc.names[j]]
            default = float(np.asarray(hp.to_vector(hp.default_value)))
            X[missing, j] = default / enc._ordinal_scale[j]
        elif missing.any():
            X[missing, j] = enc._uniform_column(j, int(missing.sum()), rng)
        X[~holds, j] = INACTIVE
    return X


@pytest.mark.parametrize("space", [make_space, make_wide_space])
def test_repair_draws_what_repairing_one_column_at_a_time_draws(space) -> None:
    """Repair handles a depth of the conditions at once and draws consecutive columns of a
    kind in one call: the rows, and the generator's state after, are those of repairing
    one column after another."""
    enc = Encoder(space())
    rng = np.random.default_rng(0)
    X = enc.sample(300, rng)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.3] = INACTIVE  # children to fill in, parents switched off
    moved = np.clip(X + rng.normal(0.0, 0.3, X.shape) * (X != INACTIVE), 0.0, 1.0)
    moved[:, enc.is_categorical] = np.floor(rng.random((X.shape[0], enc.is_categorical.sum())) * 4)
    for rows in (holes, moved, X):
        ours, theirs = np.random.default_rng(7), np.random.default_rng(7)
        got = enc.repair(rows, ours)
        assert got.tobytes() == _repair_column_by_column(enc, rows, theirs).tobytes()
        assert ours.random(4).tobytes() == theirs.random(4).tobytes()
        # without a generator (decode): every child that should be active takes its default
        got = enc._repair(enc.canonicalize(rows), None)
        assert got.tobytes() == _repair_column_by_column(enc, rows, None).tobytes()
    off = X.copy()
    off[:, enc._conditional] = INACTIVE
    decoded = enc.encode(enc.decode(off))
    assert enc.is_valid(decoded).all()
    assert decoded.tobytes() == enc.canonicalize(_repair_column_by_column(enc, off, None)).tobytes()


@pytest.mark.parametrize("space", [make_space, make_wide_space])
def test_drawing_many_columns_at_once_gives_the_values_and_state_of_one_at_a_time(space) -> None:
    """Generator calls of consecutive columns are merged; numpy's generators give the same
    numbers and leave the same state as one call per column (checked here, as it is relied
    on)."""
    enc = Encoder(space())
    pick = np.random.default_rng(1)
    for _ in range(30):
        cols = pick.integers(0, enc.n_dims, size=int(pick.integers(1, 25)))
        counts = pick.integers(1, 6, size=cols.size)
        if pick.random() < 0.3:
            counts[:] = int(pick.integers(50, 300))  # a matrix, as sample() draws
        ours, theirs = np.random.default_rng(2), np.random.default_rng(2)
        got = enc._draw_values(cols, counts, ours)
        want = np.concatenate(
            [enc._uniform_column(int(j), int(c), theirs) for j, c in zip(cols, counts)]
        )
        assert got.tobytes() == want.tobytes()
        assert ours.integers(0, 7, size=3).tobytes() == theirs.integers(0, 7, size=3).tobytes()
        assert ours.random(3).tobytes() == theirs.random(3).tobytes()


def test_conditions_and_clauses_checked_at_once_agree_with_configspace() -> None:
    """The equals and in conditions and clauses the encoder checks itself hold exactly where
    ConfigSpace's own checks hold, inactive (NaN) parents included."""
    enc = Encoder(make_wide_space())
    rng = np.random.default_rng(3)
    X = enc.sample(400, rng)
    X[rng.random(X.shape) < 0.2] = INACTIVE
    X[:, enc.is_categorical] = np.where(
        X[:, enc.is_categorical] == INACTIVE, INACTIVE, np.floor(rng.random((400, 1)) * 3)
    )
    V = enc._to_cs(X)
    for level in enc._levels:
        got = enc._level_satisfied(level, V, {})
        for c, j in enumerate(level.col_list):
            want = np.ones(X.shape[0], dtype=bool)
            for condition in enc._conditions[j]:
                want &= np.asarray(condition.satisfied_by_vector_array(V.T), dtype=bool)
            assert np.array_equal(got[:, c], want)
    want = np.zeros(X.shape[0], dtype=bool)
    for clause in enc._forbiddens:
        want |= np.asarray(clause.is_forbidden_vector_array(V.T), dtype=bool)
    assert want.any() and not want.all()
    assert np.array_equal(enc._forbidden(V), want)
    assert np.array_equal(enc.is_forbidden(X), want)


def test_moves_of_many_columns_snap_as_moves_of_one_column_do() -> None:
    """Integers and ordinals moved by neighbours() snap to their grids together, as each
    column's own snapping does, and canonicalize() makes all columns canonical together as
    each column alone."""
    enc = Encoder(make_wide_space())
    rng = np.random.default_rng(4)
    X = enc.sample(500, rng)
    cols = np.flatnonzero((enc._kind == 1) | enc.is_ordinal)
    cols = cols[enc._int_snap[cols] | enc.is_ordinal[cols]]
    dim = rng.choice(cols, size=2000)
    current = X[rng.integers(0, 500, size=2000), dim]
    current = np.where(current == INACTIVE, 0.5, current)
    current = np.array([enc._canon_column(int(j), np.array([v]))[0] for j, v in zip(dim, current)])
    proposed = np.clip(current + rng.normal(0.0, 0.1, dim.size), 0.0, 1.0)
    got = enc._snap_discrete_all(dim, current, proposed)
    for j in np.unique(dim):
        sel = dim == j
        want = enc._snap_discrete(int(j), current[sel], proposed[sel])
        assert got[sel].tobytes() == want.tobytes()
    noisy = np.where(X == INACTIVE, INACTIVE, X + rng.normal(0.0, 0.05, X.shape))
    got = enc.canonicalize(noisy)
    for j in range(enc.n_dims):
        active = noisy[:, j] != INACTIVE
        want = enc._canon_column(j, noisy[active, j]) + 0.0
        assert got[active, j].tobytes() == want.tobytes()
        assert (got[~active, j] == INACTIVE).all()
