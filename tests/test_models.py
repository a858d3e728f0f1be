"""Surrogate models: the vectorized random forest and the Gaussian process."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from typing import Any, Literal

import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from smacx.errors import ScenarioError
from smacx.models import GaussianProcess, Model, RandomForest

Backend = Literal["numpy", "sklearn"]


def smooth(X: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(8 * X[:, 0]))


def test_random_forest_shapes_and_determinism() -> None:
    rng = np.random.default_rng(0)
    X, Xt = rng.random((120, 4)), rng.random((50, 4))
    y = smooth(X)
    a = RandomForest(seed=3).fit(X, y).predict(Xt)
    b = RandomForest(seed=3).fit(X, y).predict(Xt)
    assert a[0].shape == a[1].shape == (50,)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.all(a[1] >= 0)
    assert isinstance(RandomForest(), Model) and isinstance(GaussianProcess(), Model)


@pytest.mark.parametrize("leaf", [5, 10])
def test_numpy_tree_equals_sklearn_tree(leaf: int) -> None:
    """One tree without bootstrap or feature sampling is plain CART: it must match sklearn.

    Thresholds are drawn between neighbouring values rather than at their midpoint, so the two
    agree on every training point (not necessarily between them).
    """
    rng = np.random.default_rng(1)
    X, Xt = rng.random((300, 5)), rng.random((500, 5))
    y = smooth(X)
    ours = RandomForest(
        n_trees=1,
        bootstrap=False,
        ratio_features=1.0,
        min_samples_leaf=leaf,
        min_samples_split=2 * leaf,
        backend="numpy",
    ).fit(X, y)
    ref = DecisionTreeRegressor(min_samples_leaf=leaf, min_samples_split=2 * leaf).fit(X, y)
    np.testing.assert_allclose(ours.predict(X)[0], ref.predict(X), atol=1e-12)
    agree = np.isclose(ours.predict(Xt)[0], ref.predict(Xt), atol=1e-12)
    assert agree.mean() > 0.5  # same tree: only points near a threshold may differ


def test_forest_mean_varies_between_neighbouring_observations() -> None:
    """Trees cut at different points between two observations, so the mean ramps between them."""
    x = np.linspace(0.0, 1.0, 11)[:, None]
    model = RandomForest(
        n_trees=20, bootstrap=False, ratio_features=1.0, min_samples_leaf=1, min_samples_split=2
    ).fit(x, x[:, 0])
    grid = np.linspace(0.3, 0.4, 101)[1:-1, None]  # strictly between observations 0.3 and 0.4
    mean = model.predict(grid)[0]
    assert np.all(np.diff(mean) >= -1e-12)  # monotone, like the data
    assert len(np.unique(np.round(mean, 12))) > 5  # not one step at the midpoint
    assert mean[0] < 0.33 and mean[-1] > 0.37


@pytest.mark.parametrize("backend", ["numpy", "sklearn"])
def test_backends_learn_the_function(backend: Backend) -> None:
    rng = np.random.default_rng(2)
    X, Xt = rng.random((400, 3)), rng.random((400, 3))
    y, yt = smooth(X), smooth(Xt)
    model = RandomForest(backend=backend, seed=1).fit(X, y)
    mean, var = model.predict(Xt)
    assert np.corrcoef(mean, yt)[0, 1] > 0.9
    assert np.all(var >= 0) and var.mean() > 0


def test_random_forest_splits_categorical_codes_and_inactive_marker() -> None:
    # Column 0: category code 0/1/2, cost 1 only for code 1; column 1: -1 (inactive) or value.
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 3, 200).astype(float)
    child = np.where(rng.random(200) < 0.5, -1.0, rng.random(200))
    X = np.column_stack([codes, child])
    y = (codes == 1) + 2.0 * (child == -1)
    model = RandomForest(n_trees=5, bootstrap=False, ratio_features=1.0).fit(X, y)
    mean, var = model.predict(np.array([[0.0, 0.5], [1.0, 0.5], [2.0, -1.0]]))
    np.testing.assert_allclose(mean, [0.0, 1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(var, 0.0, atol=1e-12)


def test_log_y_predicts_in_log_space() -> None:
    rng = np.random.default_rng(5)
    X = rng.random((60, 2))
    y = np.exp(3 * X[:, 0])
    model = RandomForest(log_y=True, bootstrap=False, ratio_features=1.0, seed=0).fit(X, y)
    np.testing.assert_allclose(model.transform_y(y), np.log(y))
    mean, _ = model.predict(X)
    assert np.corrcoef(mean, 3 * X[:, 0])[0, 1] > 0.95
    # Non-positive costs are shifted so the smallest one maps to a finite value.
    y_neg = y - 2.0
    model.fit(X, y_neg)
    z = model.transform_y(y_neg)
    assert np.all(np.isfinite(z)) and np.argmin(z) == np.argmin(y_neg)
    assert float(model.transform_y(np.array([y_neg.min()]))[0]) == pytest.approx(z.min())
    # Without log_y, transform_y is the identity.
    np.testing.assert_array_equal(RandomForest().transform_y(y_neg), y_neg)


def test_within_leaf_variance_adds_spread() -> None:
    rng = np.random.default_rng(6)
    X = rng.random((200, 2))
    y = X[:, 0] + rng.normal(0, 0.3, 200)
    Xt = rng.random((30, 2))
    plain = RandomForest(seed=0, min_samples_leaf=10, min_samples_split=20).fit(X, y)
    total = RandomForest(
        seed=0, min_samples_leaf=10, min_samples_split=20, within_leaf_variance=True
    ).fit(X, y)
    np.testing.assert_array_equal(plain.predict(Xt)[0], total.predict(Xt)[0])
    assert np.all(total.predict(Xt)[1] > plain.predict(Xt)[1])


def test_predict_marginalized_averages_trees_over_instances() -> None:
    rng = np.random.default_rng(7)
    F = rng.random((4, 2))
    configs = rng.random((100, 3))
    inst = rng.integers(0, 4, 100)
    X = np.hstack([configs, F[inst]])
    y = configs[:, 0] + F[inst, 0]
    model = RandomForest(seed=2).fit(X, y)
    Xq = rng.random((7, 3))
    mean, var = model.predict_marginalized(Xq, F)
    per_tree = np.stack(
        [model.predict_trees(np.hstack([Xq, np.repeat(f[None, :], 7, axis=0)]))[0] for f in F]
    ).mean(axis=0)  # (trees, 7)
    np.testing.assert_allclose(mean, per_tree.mean(axis=0))
    np.testing.assert_allclose(var, per_tree.var(axis=0))
    with pytest.raises(ScenarioError, match="d \\+ f"):
        model.predict_marginalized(Xq, F[:, :1])


@pytest.mark.parametrize("backend", ["numpy", "sklearn"])
def test_marginalizing_over_many_instances_walks_each_tree_once(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above _WALK_INSTANCES instances, each configuration descends a tree once, into both
    children of a split on an instance feature, and the leaves count by the share of the
    instances that reach them: the same mean and variance as averaging one path per
    instance (a second per proposal with 200 instances), also after a new fit and for other
    features (the shares are kept per forest and features)."""
    from smacx.models import random_forest
    from smacx.models.random_forest import _WALK_INSTANCES

    monkeypatch.setattr(random_forest, "_SHARE_CHUNK", 7)  # (instances in several chunks)
    rng = np.random.default_rng(3)
    for m, trees in ((60, 10), (_WALK_INSTANCES + 1, 4)):
        F = rng.normal(size=(m, 3))
        configs = rng.random((400, 2))
        inst = rng.integers(0, m, 400)
        X = np.hstack([configs, F[inst]])
        y = np.sin(6 * configs[:, 0]) + F[inst, 0] * configs[:, 1] + 0.1 * F[inst, 2]
        model = RandomForest(n_trees=trees, seed=4, backend=backend, within_leaf_variance=True)
        for refit in range(2):
            model.fit(X, y + refit)
            for G in (F, F[::-1] * 0.5):
                Xq = rng.random((50, 2))
                joint = np.hstack([np.repeat(Xq, m, axis=0), np.tile(G, (50, 1))])
                means, leaf_vars = model.predict_trees(joint)
                T = means.shape[0]
                expected = (
                    means.reshape(T, 50, m).mean(axis=2).mean(axis=0),
                    means.reshape(T, 50, m).mean(axis=2).var(axis=0)
                    + leaf_vars.reshape(T, 50, m).mean(axis=2).mean(axis=0),
                )
                got = model.predict_marginalized(Xq, G)
                np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=1e-12)
                np.testing.assert_allclose(got[1], expected[1], rtol=0, atol=1e-12)
        empty = model.predict_marginalized(np.empty((0, 2)), F)  # (a review's finding)
        assert empty[0].shape == empty[1].shape == (0,)


@pytest.mark.parametrize("backend", ["numpy", "sklearn"])
def test_random_forest_is_accurate_at_any_cost_scale(backend: Backend) -> None:
    rng = np.random.default_rng(8)
    X = rng.random((200, 2))
    step = (X[:, 0] > 0.5).astype(float)
    for y, low, high in ((1e9 + step * 1e-3, 1e9, 1e9 + 1e-3), (step * 1e-12, 0.0, 1e-12)):
        model = RandomForest(n_trees=3, bootstrap=False, ratio_features=1.0, backend=backend)
        mean, _ = model.fit(X, y).predict(np.array([[0.2, 0.5], [0.8, 0.5]]))
        np.testing.assert_allclose(mean, [low, high], rtol=0, atol=(high - low) * 1e-3)


def test_random_forest_edge_cases_and_errors() -> None:
    one = RandomForest().fit(np.array([[0.5, 0.5]]), np.array([2.0]))
    np.testing.assert_allclose(one.predict(np.zeros((3, 2)))[0], 2.0)
    flat = RandomForest().fit(np.random.default_rng(0).random((20, 2)), np.full(20, 1.5))
    np.testing.assert_allclose(flat.predict(np.ones((2, 2))), [[1.5, 1.5], [0.0, 0.0]])
    with pytest.raises(ScenarioError, match="fit"):
        RandomForest().predict(np.zeros((1, 2)))
    with pytest.raises(ScenarioError, match="finite"):
        RandomForest().fit(np.zeros((2, 1)), np.array([1.0, np.nan]))
    with pytest.raises(ScenarioError, match="shapes"):
        RandomForest().fit(np.zeros((2, 1)), np.zeros(3))
    with pytest.raises(ScenarioError, match="shape"):
        one.predict(np.zeros((1, 3)))
    with pytest.raises(ScenarioError, match="ratio_features"):
        RandomForest(ratio_features=0.0)


def test_gaussian_process_interpolates_and_is_uncertain_away_from_data() -> None:
    X = np.linspace(0.0, 0.6, 8)[:, None]
    y = np.sin(6 * X[:, 0]) * 10 + 50
    gp = GaussianProcess(seed=0).fit(X, y)
    mean, var = gp.predict(X)
    np.testing.assert_allclose(mean, y, atol=0.5)
    _, var_far = gp.predict(np.array([[1.0]]))
    assert np.all(var >= 0) and var_far[0] > 10 * var.max()
    np.testing.assert_array_equal(gp.transform_y(y), y)
    with pytest.raises(ScenarioError, match="shape"):
        gp.predict(np.zeros((1, 2)))


@pytest.mark.parametrize(
    "model", [GaussianProcess(seed=0), RandomForest(seed=0), RandomForest(log_y=False, seed=0)]
)
def test_a_penalty_near_the_largest_float_leaves_predictions_finite(model: Any) -> None:
    """A penalty of sys.float_info.max for infeasible points made the GP predict NaN and the
    forest an infinite variance, and the search went on at random (a GP audit's finding)."""
    X = np.linspace(0.0, 1.0, 12)[:, None]
    y = np.where(X[:, 0] > 0.7, sys.float_info.max, (X[:, 0] - 0.3) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # (no overflow on the way)
        mean, var = model.fit(X, y).predict(np.array([[0.3], [0.9]]))
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)
    assert mean[0] < mean[1]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: RandomForest(n_trees=2.5), "RandomForest.n_trees"),  # type: ignore[arg-type]
        (lambda: RandomForest(max_depth=2.5), "RandomForest.max_depth"),  # type: ignore[arg-type]
        (lambda: RandomForest(seed=-1), "RandomForest.seed"),
        (lambda: GaussianProcess(max_iter=0), "GaussianProcess.max_iter"),
        (lambda: GaussianProcess(n_restarts=1.5), "GaussianProcess.n_restarts"),  # type: ignore[arg-type]
        (lambda: GaussianProcess(seed=-1), "GaussianProcess.seed"),
        (
            lambda: GaussianProcess(length_scale_bounds=(1.0, math.inf)),
            "GaussianProcess.length_scale_bounds",
        ),
    ],
)
def test_model_settings_are_checked_when_built(make: object, name: str) -> None:
    with pytest.raises(ScenarioError, match=name.replace(".", r"\.")):
        make()  # type: ignore[operator]


def test_preload_imports_the_sklearn_backend_only_when_fits_will_need_it() -> None:
    """Fresh interpreters: the numpy backend needs no import; the forest module comes in when
    the largest fit has more than 5,000 cells (auto) or the backend is scikit-learn's."""

    def loaded_after(*calls: str) -> list[str]:
        code = "import sys; from smacx.models import RandomForest\n" + "".join(
            f"RandomForest{call}; print('sklearn.ensemble' in sys.modules)\n" for call in calls
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        return out.stdout.split()

    assert loaded_after(
        "().preload(100, 6)", "(backend='numpy').preload(10**6, 6)", "().preload(1000, 6)"
    ) == ["False", "False", "True"]
    assert loaded_after("(backend='sklearn').preload(10, 2)") == ["True"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RandomForest(bootstrap="no"), r"bootstrap: expected True or False, got 'no'"),
        (lambda: RandomForest(log_y="yes"), r"log_y: expected True or False"),
        (lambda: RandomForest(within_leaf_variance=1), r"within_leaf_variance: expected True"),
        (lambda: RandomForest(ratio_features="a"), r"ratio_features: expected a share"),
        (lambda: GaussianProcess(length_scale_bounds=None), r"length_scale_bounds: expected"),
        (lambda: GaussianProcess(length_scale_bounds=(1.0,)), r"length_scale_bounds: expected"),
        (lambda: GaussianProcess(noise_bounds=("a", "b")), r"noise_bounds: expected"),
        (
            lambda: GaussianProcess(length_scale_bounds=(1e-300, 1e300)),
            r"length_scale_bounds: expected bounds within \[1e-08, 1e\+08\] .* got \(1e-300",
        ),
        (lambda: GaussianProcess(length_scale_bounds=(1e-2, 1e9)), r"within \[1e-08, 1e\+08\]"),
    ],
)
def test_settings_of_the_wrong_kind_are_refused_by_name(build: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        build()  # type: ignore[operator]


def test_numpy_integers_are_counts_too() -> None:
    assert RandomForest(n_trees=np.int64(4)).n_trees == 4
    assert RandomForest(bootstrap=np.bool_(False)).bootstrap == np.bool_(False)


def test_gp_bounds_may_be_any_pair() -> None:
    assert GaussianProcess(length_scale_bounds=np.array([1e-3, 1e3])) is not None
    assert GaussianProcess(noise_bounds=[1e-6, 1e-2]) is not None
    assert GaussianProcess(length_scale_bounds=(1e-8, 1e8)) is not None  # (the widest)


def test_log_margin_sets_where_the_lowest_cost_lands() -> None:
    import numpy as np

    from smacx.models import RandomForest

    X, y = np.linspace(0, 1, 8)[:, None], np.linspace(-1.0, 1.0, 8)
    for margin in (0.01, 0.1):
        forest = RandomForest(log_y=True, log_margin=margin).fit(X, y)
        assert forest.transform_y(-1.0) == pytest.approx(np.log(margin * 2.0))
    with pytest.raises(ScenarioError, match="log_margin"):
        RandomForest(log_margin=0.0)


@pytest.mark.parametrize("backend", ["numpy", "sklearn"])
def test_leaf_boxes_partition_the_inputs_as_the_trees_predict(backend: Backend) -> None:
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.random(80), rng.integers(0, 3, 80), rng.random(80)])
    model = RandomForest(n_trees=5, backend=backend, seed=1).fit(X, smooth(X))
    queries = np.column_stack(
        [rng.random(200) * 1.4 - 0.2, rng.integers(-1, 4, 200), rng.random(200)]
    )
    means, _ = model.predict_trees(queries)
    boxes = model.leaf_boxes()
    assert len(boxes) == 5
    for t, (lower, upper, value) in enumerate(boxes):
        assert lower.shape == upper.shape == (value.size, 3)
        inside = np.all((lower[:, None, :] < queries) & (queries <= upper[:, None, :]), axis=2)
        assert np.all(inside.sum(axis=0) == 1)  # every input in exactly one leaf
        np.testing.assert_array_equal(value[inside.argmax(axis=0)], means[t])
    with pytest.raises(ScenarioError, match="expected a fitted model"):
        RandomForest().leaf_boxes()
