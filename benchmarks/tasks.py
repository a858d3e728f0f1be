"""Benchmark tasks: a search space, an objective and (where known) the optimum.

Every task is a :class:`Task`: a name, a function building its ConfigSpace
``ConfigurationSpace``, an objective ``f(config_dict, seed) -> float`` that is minimized, and the
known optimum value (``None`` where it is unknown). All objectives here are deterministic: the
seed is accepted (the optimizers hand one over) and ignored. A noisy task (``noise > 0``) has a
noise-free objective too; ``run.py`` adds Gaussian noise of that standard deviation to every
evaluation and scores the configuration each optimizer returns by its noise-free cost.

The synthetic functions use their standard domains and known optima (see e.g. the "Virtual
Library of Simulation Experiments" by Surjanovic & Bingham for the definitions). The optima are
given to full double precision where they are not exact, so that regrets down to ~1e-12 mean
something.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    InCondition,
    Integer,
    Normal,
)

__all__ = [
    "FULL_EXTRA",
    "LARGE",
    "NOISY",
    "PRIORS",
    "QUICK",
    "SUITES",
    "Task",
    "get_task",
    "suite_tasks",
]

Objective = Callable[[Mapping[str, Any], int], float]


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        name: Unique name, used on the command line and in results.
        make_space: Builds a fresh search space (fresh, so seeding one run never affects another).
        objective: The cost to minimize, ``objective(config_dict, seed)``; inactive
            hyperparameters are absent from ``config_dict``.
        optimum: The known global minimum of the objective on the space, or None.
        description: One line for reports.
        noise: Standard deviation of the Gaussian noise added to every evaluation by
            ``run.py`` (0: the task is deterministic); ``objective`` itself is noise-free.
    """

    name: str
    make_space: Callable[[], ConfigurationSpace]
    objective: Objective
    optimum: float | None
    description: str = ""
    noise: float = 0.0


# ---------------------------------------------------------------------------------------------
# Helpers


def _box_space(prefix: str, bounds: list[tuple[float, float]]) -> Callable[[], ConfigurationSpace]:
    """Returns a builder for a box-bounded continuous space ``prefix0 .. prefix{d-1}``."""

    def make() -> ConfigurationSpace:
        return ConfigurationSpace(
            space=[Float(f"{prefix}{i}", (lo, hi)) for i, (lo, hi) in enumerate(bounds)]
        )

    return make


def _vector(config: Mapping[str, Any], dim: int, prefix: str = "x") -> np.ndarray:
    return np.array([float(config[f"{prefix}{i}"]) for i in range(dim)], dtype=float)


# ---------------------------------------------------------------------------------------------
# Synthetic functions (vector in, float out)


def branin(x: np.ndarray) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; minimum 5/(4*pi) at three points."""
    a, b, c = 1.0, 5.1 / (4.0 * math.pi**2), 5.0 / math.pi
    r, s, t = 6.0, 10.0, 1.0 / (8.0 * math.pi)
    x1, x2 = float(x[0]), float(x[1])
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1.0 - t) * math.cos(x1) + s


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(x: np.ndarray, a: np.ndarray, p: np.ndarray) -> float:
    inner = np.sum(a * (x[None, :] - p) ** 2, axis=1)
    return float(-np.sum(_H_ALPHA * np.exp(-inner)))


def hartmann3(x: np.ndarray) -> float:
    """Hartmann 3-d on [0, 1]^3."""
    return _hartmann(x, _H3_A, _H3_P)


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-d on [0, 1]^6."""
    return _hartmann(x, _H6_A, _H6_P)


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock on [-5, 10]^d; minimum 0 at (1, ..., 1)."""
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    """Ackley (a=20, b=0.2, c=2*pi) on [-32.768, 32.768]^d; minimum 0 at the origin."""
    d = x.size
    term1 = -20.0 * math.exp(-0.2 * math.sqrt(float(np.sum(x**2)) / d))
    term2 = -math.exp(float(np.sum(np.cos(2.0 * math.pi * x))) / d)
    return max(term1 + term2 + 20.0 + math.e, 0.0)


def levy(x: np.ndarray) -> float:
    """Levy on [-10, 10]^d; minimum 0 at (1, ..., 1)."""
    w = 1.0 + (x - 1.0) / 4.0
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(math.pi * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def goldstein_price(x: np.ndarray) -> float:
    """Goldstein-Price on [-2, 2]^2; minimum 3 at (0, -1)."""
    x1, x2 = float(x[0]), float(x[1])
    fact1a = (x1 + x2 + 1.0) ** 2
    fact1b = 19 - 14 * x1 + 3 * x1**2 - 14 * x2 + 6 * x1 * x2 + 3 * x2**2
    fact2a = (2 * x1 - 3 * x2) ** 2
    fact2b = 18 - 32 * x1 + 12 * x1**2 + 48 * x2 - 36 * x1 * x2 + 27 * x2**2
    return (1.0 + fact1a * fact1b) * (30.0 + fact2a * fact2b)


def six_hump_camel(x: np.ndarray) -> float:
    """Six-hump camel on [-3, 3] x [-2, 2]; minimum about -1.0316 at two points."""
    x1, x2 = float(x[0]), float(x[1])
    return (4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2


def _box_task(
    name: str,
    fn: Callable[[np.ndarray], float],
    bounds: list[tuple[float, float]],
    optimum: float,
    description: str,
    noise: float = 0.0,
) -> Task:
    dim = len(bounds)

    def objective(config: Mapping[str, Any], seed: int) -> float:
        del seed
        return fn(_vector(config, dim))

    return Task(name, _box_space("x", bounds), objective, optimum, description, noise)


def _prior_task(
    name: str,
    fn: Callable[[np.ndarray], float],
    bounds: list[tuple[float, float]],
    optimum: float,
    mode: list[float],
    description: str,
) -> Task:
    """A box task whose every hyperparameter has a normal prior (a user's belief about where
    the optimum lies) with its mode at ``mode`` and a standard deviation of a tenth of its
    range, as the strong priors of the piBO paper (Hvarfner et al., 2022)."""
    dim = len(bounds)

    def make() -> ConfigurationSpace:
        return ConfigurationSpace(
            space=[
                Float(f"x{i}", (lo, hi), distribution=Normal(m, 0.1 * (hi - lo)))
                for i, ((lo, hi), m) in enumerate(zip(bounds, mode))
            ]
        )

    def objective(config: Mapping[str, Any], seed: int) -> float:
        del seed
        return fn(_vector(config, dim))

    return Task(name, make, objective, optimum, description)


def _near(point: list[float], bounds: list[tuple[float, float]]) -> list[float]:
    """``point`` moved by 5% of each range, alternately up and down (a good prior is close
    to the optimum, not on it)."""
    return [
        min(max(x + (0.05 if i % 2 == 0 else -0.05) * (hi - lo), lo), hi)
        for i, (x, (lo, hi)) in enumerate(zip(point, bounds))
    ]


def _prior_tasks() -> list[Task]:
    """Branin, Hartmann-6 and Levy-5 with a good prior (near an optimum) and a misleading one
    (on the far side of the box from it, where the costs are poor)."""
    branin_box = [(-5.0, 10.0), (0.0, 15.0)]
    h6_argmin = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    far_h6 = [0.9 if x < 0.5 else 0.1 for x in h6_argmin]
    cases = [
        ("branin", branin, branin_box, _BRANIN_OPT, [math.pi, 2.275], [6.0, 13.0]),
        ("hartmann6", hartmann6, [(0.0, 1.0)] * 6, _HARTMANN6_OPT, h6_argmin, far_h6),
        ("levy5", levy, [(-10.0, 10.0)] * 5, 0.0, [1.0] * 5, [-8.0] * 5),
    ]
    tasks = []
    for name, fn, box, optimum, argmin, far in cases:
        good, bad = _near(argmin, box), far
        tasks.append(_prior_task(f"{name}_prior_good", fn, box, optimum, good, "good prior"))
        tasks.append(_prior_task(f"{name}_prior_bad", fn, box, optimum, bad, "misleading prior"))
    return tasks


# ---------------------------------------------------------------------------------------------
# Mixed space: integer, categorical, log-scale float and conditional hyperparameters


def _make_mixed_space() -> ConfigurationSpace:
    cs = ConfigurationSpace(
        space=[
            Categorical("branch", ["quadratic", "valley"]),
            Float("x", (-5.0, 5.0)),
            Integer("n", (1, 10)),
            Float("y", (-4.0, 4.0)),
            Float("lr", (1e-5, 1.0), log=True),
        ]
    )
    cs.add(
        EqualsCondition(cs["y"], cs["branch"], "quadratic"),
        EqualsCondition(cs["lr"], cs["branch"], "valley"),
    )
    return cs


def mixed_objective(config: Mapping[str, Any], seed: int) -> float:
    """Two sub-functions chosen by a categorical, each with its own conditional child.

    * ``quadratic`` (child ``y``): ``(x-1)^2 + 0.5 (y+2)^2 + 0.1 (n-3)^2``; minimum 0 at
      x=1, y=-2, n=3. This is the global optimum.
    * ``valley`` (child ``lr``, log-scale): ``0.5 + 0.2 |x| + 0.05 (n-7)^2 + 0.1 (log10 lr + 2)^2``;
      minimum 0.5 at x=0, n=7, lr=0.01. A wider, easier but worse basin.
    """
    del seed
    x = float(config["x"])
    n = int(config["n"])
    if config["branch"] == "quadratic":
        y = float(config["y"])
        return (x - 1.0) ** 2 + 0.5 * (y + 2.0) ** 2 + 0.1 * (n - 3) ** 2
    lr = float(config["lr"])
    return 0.5 + 0.2 * abs(x) + 0.05 * (n - 7) ** 2 + 0.1 * (math.log10(lr) + 2.0) ** 2


# ---------------------------------------------------------------------------------------------
# Real HPO: an SVM on scikit-learn's digits, 3-fold cross-validation error


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = np.asarray(data.data, dtype=float) / 16.0
    return x, np.asarray(data.target)


def _make_svm_space() -> ConfigurationSpace:
    cs = ConfigurationSpace(
        space=[
            Categorical("kernel", ["rbf", "poly"]),
            Float("C", (1e-3, 1e3), log=True),
            Float("gamma", (1e-4, 1e1), log=True),
            Integer("degree", (2, 5)),
        ]
    )
    cs.add(EqualsCondition(cs["degree"], cs["kernel"], "poly"))
    return cs


def svm_digits_objective(config: Mapping[str, Any], seed: int) -> float:
    """3-fold cross-validated error of an SVC on digits (features scaled to [0, 1]).

    Folds are fixed (stratified, shuffled with seed 0), so the cost is deterministic. One
    evaluation takes about 0.1-0.4 s on one core.
    """
    del seed
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = _digits()
    model = SVC(
        kernel=str(config["kernel"]),
        C=float(config["C"]),
        gamma=float(config["gamma"]),
        degree=int(config.get("degree", 3)),
        coef0=1.0,
        cache_size=200,
        max_iter=20_000,
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    with _quiet_convergence():
        scores = cross_val_score(model, x, y, cv=folds)
    return float(1.0 - np.mean(scores))


@contextmanager
def _quiet_convergence() -> Iterator[None]:
    """Silences scikit-learn's ConvergenceWarning (raised when ``max_iter`` is hit)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ---------------------------------------------------------------------------------------------
# CASH-like space: an algorithm choice with ten conditional sub-spaces, preprocessing choices
# with their own children, nested conditions and forbidden clauses (118 hyperparameters)


@dataclass(frozen=True)
class _Knob:
    """One hyperparameter of the ``cash`` space and its share of the cost.

    A numeric knob costs ``weight * d**2``, where ``d`` is its distance from ``best`` on the
    scale it is searched on (log scale when ``log``), divided by the largest distance its range
    allows, so the cost rises smoothly from 0 at ``best`` to ``weight`` at the far end. A
    categorical knob costs its choice's entry in ``choices`` (the best choice costs 0).

    Attributes:
        name: Name within its group; the space holds ``group:name``.
        kind: ``"float"``, ``"int"`` or ``"cat"``.
        lower: Lower bound of a float or integer.
        upper: Upper bound of a float or integer.
        best: Value of a float or integer at which it costs nothing (within the bounds).
        weight: Cost of a float or integer at the end of its range farthest from ``best``.
        log: Whether a float or integer is searched on the log scale.
        choices: A categorical's choices with their costs; the first is the default.
        when: ``(sibling, values)``: the knob is active only while the categorical
            ``group:sibling`` takes one of ``values`` (a nested condition).
    """

    name: str
    kind: str
    lower: float = 0.0
    upper: float = 1.0
    best: float = 0.0
    weight: float = 0.0
    log: bool = False
    choices: tuple[tuple[str, float], ...] = ()
    when: tuple[str, tuple[str, ...]] | None = None

    def unit(self, value: float) -> float:
        """``value`` on the unit interval of the knob's search scale."""
        if self.log:
            lo, hi = math.log(self.lower), math.log(self.upper)
            return (math.log(value) - lo) / (hi - lo)
        return (value - self.lower) / (self.upper - self.lower)

    def deviation(self, value: float) -> float:
        """Signed distance of a numeric ``value`` from ``best``, in ``[-1, 1]``."""
        target = self.unit(self.best)
        return (self.unit(value) - target) / max(target, 1.0 - target)

    def cost(self, value: Any) -> float:
        """The knob's share of the cost at ``value``."""
        if self.kind == "cat":
            return dict(self.choices)[str(value)]
        return self.weight * self.deviation(float(value)) ** 2

    def hyperparameter(self, group: str) -> Any:
        """The ConfigSpace hyperparameter ``group:name``."""
        full = f"{group}:{self.name}"
        if self.kind == "cat":
            return Categorical(full, [c for c, _ in self.choices])
        if self.kind == "int":
            return Integer(full, (int(self.lower), int(self.upper)), log=self.log)
        return Float(full, (self.lower, self.upper), log=self.log)


def _f(name: str, lower: float, upper: float, best: float, weight: float, **kw: Any) -> _Knob:
    return _Knob(name, "float", lower, upper, best, weight, **kw)


def _i(name: str, lower: int, upper: int, best: int, weight: float, **kw: Any) -> _Knob:
    return _Knob(name, "int", lower, upper, best, weight, **kw)


def _c(name: str, *choices: tuple[str, float], **kw: Any) -> _Knob:
    return _Knob(name, "cat", choices=choices, **kw)


_GAMMA = (2.0**-15, 8.0)  # the usual RBF-kernel width range

#: Cost of each algorithm tuned to its best (the cost's floor on its branch).
_CASH_BASE: dict[str, float] = {
    "adaboost": 0.12,
    "extra_trees": 0.05,
    "gradient_boosting": 0.0,
    "knn": 0.22,
    "lda": 0.26,
    "logreg": 0.15,
    "mlp": 0.09,
    "random_forest": 0.03,
    "sgd": 0.18,
    "svm": 0.07,
}

#: How much the choice of scaler (and its children) costs each algorithm, as a factor.
_CASH_SCALER_SENSITIVITY: dict[str, float] = {
    a: 0.2 if a in ("adaboost", "extra_trees", "gradient_boosting", "random_forest") else 1.0
    for a in _CASH_BASE
}
_CASH_SCALER_SENSITIVITY["lda"] = 0.6

#: The children of every choice of the top-level categoricals: ``(parent, choice) -> knobs``;
#: the space names them ``choice:knob``.
_CASH_GROUPS: dict[tuple[str, str], tuple[_Knob, ...]] = {
    ("algorithm", "adaboost"): (
        _i("n_estimators", 25, 500, 250, 0.05, log=True),
        _f("learning_rate", 0.01, 2.0, 0.5, 0.1, log=True),
        _c("base", ("stump", 0.04), ("tree", 0.0)),
        _i("max_depth", 2, 10, 4, 0.06, when=("base", ("tree",))),
        _i("min_samples_leaf", 1, 50, 5, 0.03, when=("base", ("tree",))),
        _c("splitter", ("best", 0.0), ("random", 0.02)),
        _f("subsample", 0.3, 1.0, 0.8, 0.03),
        _c("variant", ("SAMME", 0.0), ("SAMME.R", 0.01)),
    ),
    ("algorithm", "extra_trees"): (
        _i("n_estimators", 10, 1000, 600, 0.04, log=True),
        _c("criterion", ("gini", 0.0), ("entropy", 0.01)),
        _f("max_features", 0.05, 1.0, 0.6, 0.1),
        _i("min_samples_split", 2, 20, 2, 0.05),
        _i("min_samples_leaf", 1, 20, 1, 0.07),
        _c("bootstrap", ("false", 0.0), ("true", 0.03)),
        _f("max_samples", 0.1, 1.0, 0.9, 0.03, when=("bootstrap", ("true",))),
        _f("min_impurity_decrease", 0.0, 0.1, 0.0, 0.05),
    ),
    ("algorithm", "gradient_boosting"): (
        _f("learning_rate", 0.01, 1.0, 0.08, 0.15, log=True),
        _i("max_iter", 32, 512, 200, 0.06, log=True),
        _i("max_leaf_nodes", 3, 2047, 31, 0.08, log=True),
        _i("min_samples_leaf", 1, 200, 12, 0.04, log=True),
        _f("l2_regularization", 1e-10, 1.0, 1e-3, 0.02, log=True),
        _i("max_bins", 32, 255, 255, 0.01),
        _c("loss", ("log_loss", 0.0), ("exponential", 0.03)),
        _c("early_stop", ("off", 0.02), ("valid", 0.0), ("train", 0.01)),
        _f("validation_fraction", 0.01, 0.4, 0.12, 0.03, when=("early_stop", ("valid",))),
        _i("n_iter_no_change", 1, 20, 10, 0.03, when=("early_stop", ("valid", "train"))),
    ),
    ("algorithm", "knn"): (
        _i("n_neighbors", 1, 100, 7, 0.15, log=True),
        _c("weights", ("uniform", 0.02), ("distance", 0.0)),
        _c(
            "metric",
            ("euclidean", 0.01),
            ("manhattan", 0.0),
            ("minkowski", 0.005),
            ("chebyshev", 0.05),
        ),
        _f("p", 1.0, 5.0, 1.5, 0.03, when=("metric", ("minkowski",))),
        _c("search", ("auto", 0.0), ("ball_tree", 0.005), ("kd_tree", 0.005), ("brute", 0.01)),
        _i("leaf_size", 5, 100, 30, 0.01, when=("search", ("ball_tree", "kd_tree"))),
        _c("feature_weighting", ("none", 0.02), ("mutual_info", 0.0)),
        _f("bandwidth", 0.1, 10.0, 1.5, 0.03, log=True),
    ),
    ("algorithm", "lda"): (
        _c("solver", ("svd", 0.02), ("lsqr", 0.0), ("eigen", 0.01)),
        _c(
            "shrinkage_mode",
            ("none", 0.03),
            ("auto", 0.01),
            ("manual", 0.0),
            when=("solver", ("lsqr", "eigen")),
        ),
        _f("shrinkage", 0.0, 1.0, 0.2, 0.06, when=("shrinkage_mode", ("manual",))),
        _f("tol", 1e-6, 1e-2, 1e-4, 0.02, log=True),
        _i("n_components", 1, 9, 6, 0.04),
        _c("store_covariance", ("false", 0.0), ("true", 0.005)),
        _c("priors", ("empirical", 0.0), ("uniform", 0.02)),
        _c(
            "covariance_estimator",
            ("empirical", 0.02),
            ("oas", 0.0),
            when=("solver", ("lsqr", "eigen")),
        ),
    ),
    ("algorithm", "logreg"): (
        _f("C", 1e-4, 1e4, 2.0, 0.12, log=True),
        _c("penalty", ("l2", 0.0), ("l1", 0.02), ("elasticnet", 0.01)),
        _f("l1_ratio", 0.0, 1.0, 0.3, 0.03, when=("penalty", ("elasticnet",))),
        _c("solver", ("lbfgs", 0.0), ("saga", 0.01), ("liblinear", 0.02)),
        _f("intercept_scaling", 0.01, 100.0, 1.0, 0.02, log=True, when=("solver", ("liblinear",))),
        _f("tol", 1e-6, 1e-2, 1e-4, 0.02, log=True),
        _i("max_iter", 50, 5000, 1000, 0.03, log=True),
        _c("fit_intercept", ("true", 0.0), ("false", 0.03)),
        _c("class_weight", ("none", 0.01), ("balanced", 0.0)),
    ),
    ("algorithm", "mlp"): (
        _i("hidden_layer_depth", 1, 3, 2, 0.05),
        _i("num_nodes_per_layer", 16, 264, 128, 0.06, log=True),
        _c("activation", ("relu", 0.0), ("tanh", 0.02), ("logistic", 0.05)),
        _f("alpha", 1e-7, 1e-1, 1e-4, 0.06, log=True),
        _f("learning_rate_init", 1e-4, 0.5, 3e-3, 0.12, log=True),
        _c("solver", ("adam", 0.0), ("sgd", 0.03)),
        _f("momentum", 0.0, 0.99, 0.9, 0.05, when=("solver", ("sgd",))),
        _c("nesterov", ("true", 0.0), ("false", 0.01), when=("solver", ("sgd",))),
        _f("beta_1", 0.5, 0.999, 0.9, 0.03, when=("solver", ("adam",))),
        _f("beta_2", 0.9, 0.9999, 0.999, 0.02, when=("solver", ("adam",))),
        _i("batch_size", 16, 512, 64, 0.04, log=True),
        _c("early_stopping", ("valid", 0.0), ("train", 0.02)),
        _f("validation_fraction", 0.05, 0.3, 0.1, 0.02, when=("early_stopping", ("valid",))),
        _i("n_iter_no_change", 5, 64, 32, 0.02),
    ),
    ("algorithm", "random_forest"): (
        _i("n_estimators", 10, 1000, 400, 0.04, log=True),
        _c("criterion", ("gini", 0.01), ("entropy", 0.0), ("log_loss", 0.005)),
        _f("max_features", 0.05, 1.0, 0.35, 0.12),
        _i("min_samples_split", 2, 20, 4, 0.05),
        _i("min_samples_leaf", 1, 20, 2, 0.06),
        _c("bootstrap", ("true", 0.0), ("false", 0.02)),
        _f("max_samples", 0.1, 1.0, 0.8, 0.04, when=("bootstrap", ("true",))),
        _c("depth_limit", ("none", 0.0), ("limited", 0.015)),
        _i("max_depth", 2, 50, 30, 0.05, when=("depth_limit", ("limited",))),
        _f("min_impurity_decrease", 0.0, 0.1, 0.0, 0.05),
        _f("ccp_alpha", 1e-6, 0.1, 1e-5, 0.03, log=True),
    ),
    ("algorithm", "sgd"): (
        _c(
            "loss",
            ("hinge", 0.02),
            ("log_loss", 0.0),
            ("modified_huber", 0.01),
            ("squared_hinge", 0.04),
            ("perceptron", 0.06),
        ),
        _c("penalty", ("l2", 0.0), ("l1", 0.03), ("elasticnet", 0.01)),
        _f("l1_ratio", 1e-9, 1.0, 0.15, 0.03, log=True, when=("penalty", ("elasticnet",))),
        _f("alpha", 1e-7, 1e-1, 1e-4, 0.1, log=True),
        _c(
            "learning_rate",
            ("optimal", 0.0),
            ("invscaling", 0.02),
            ("constant", 0.04),
            ("adaptive", 0.01),
        ),
        _f(
            "eta0",
            1e-7,
            1e-1,
            1e-2,
            0.05,
            log=True,
            when=("learning_rate", ("invscaling", "constant", "adaptive")),
        ),
        _f("power_t", 1e-5, 1.0, 0.5, 0.03, when=("learning_rate", ("invscaling",))),
        _f("epsilon", 1e-5, 1e-1, 1e-4, 0.02, log=True, when=("loss", ("modified_huber",))),
        _c("average", ("false", 0.01), ("true", 0.0)),
        _f("tol", 1e-5, 1e-1, 1e-3, 0.02, log=True),
        _i("max_iter", 5, 1000, 300, 0.05, log=True),
    ),
    ("algorithm", "svm"): (
        _f("C", 0.03125, 32768.0, 50.0, 0.15, log=True),
        _c("kernel", ("rbf", 0.0), ("poly", 0.02), ("sigmoid", 0.08), ("linear", 0.05)),
        _f("gamma", *_GAMMA, 0.01, 0.15, log=True, when=("kernel", ("rbf", "poly", "sigmoid"))),
        _i("degree", 2, 5, 3, 0.04, when=("kernel", ("poly",))),
        _f("coef0", -1.0, 1.0, 0.2, 0.04, when=("kernel", ("poly", "sigmoid"))),
        _c("shrinking", ("true", 0.0), ("false", 0.005)),
        _f("tol", 1e-5, 1e-1, 1e-3, 0.02, log=True),
        _i("max_iter", 100, 10000, 5000, 0.03, log=True),
        _c("class_weight", ("none", 0.01), ("balanced", 0.0)),
        _i("cache_size", 100, 2000, 1000, 0.005),
    ),
    ("scaler", "robust"): (
        _f("q_min", 0.001, 0.3, 0.1, 0.03),
        _f("q_max", 0.7, 0.999, 0.9, 0.03),
    ),
    ("scaler", "quantile"): (
        _i("n_quantiles", 10, 2000, 1000, 0.02, log=True),
        _c("output_distribution", ("uniform", 0.0), ("normal", 0.01)),
    ),
    ("feature_preproc", "pca"): (
        _f("keep_variance", 0.5, 0.9999, 0.95, 0.05),
        _c("whiten", ("false", 0.0), ("true", 0.01)),
    ),
    ("feature_preproc", "select_percentile"): (
        _f("percentile", 1.0, 99.0, 60.0, 0.05),
        _c("score_func", ("f_classif", 0.0), ("chi2", 0.01), ("mutual_info", 0.005)),
    ),
    ("feature_preproc", "nystroem"): (
        _c("kernel", ("rbf", 0.0), ("poly", 0.01), ("sigmoid", 0.03), ("cosine", 0.02)),
        _i("n_components", 50, 10000, 1000, 0.03, log=True),
        _f("gamma", *_GAMMA, 0.1, 0.04, log=True, when=("kernel", ("rbf", "poly", "sigmoid"))),
        _i("degree", 2, 5, 3, 0.02, when=("kernel", ("poly",))),
        _f("coef0", -1.0, 1.0, 0.0, 0.02, when=("kernel", ("poly", "sigmoid"))),
    ),
    ("feature_preproc", "polynomial"): (
        _i("degree", 2, 3, 2, 0.02),
        _c("interaction_only", ("false", 0.0), ("true", 0.01)),
        _c("include_bias", ("true", 0.0), ("false", 0.005)),
    ),
}

#: The top-level categoricals besides ``algorithm``, with the cost of each choice.
_CASH_TOP: tuple[_Knob, ...] = (
    _c("imputation", ("mean", 0.005), ("median", 0.0), ("most_frequent", 0.02)),
    _c("balancing", ("none", 0.015), ("weighting", 0.0)),
    _c(
        "scaler",
        ("none", 0.08),
        ("standard", 0.01),
        ("minmax", 0.02),
        ("robust", 0.0),
        ("quantile", 0.005),
    ),
    _c(
        "feature_preproc",
        ("none", 0.03),
        ("pca", 0.0),
        ("select_percentile", 0.01),
        ("nystroem", 0.02),
        ("polynomial", 0.04),
    ),
)

#: Pairs of children of an algorithm whose costs interact: ``weight * (d_a + sign * d_b)**2``
#: on top of their own costs, a valley along which one trades off against the other (a
#: larger learning rate wants fewer boosting iterations, a larger batch a larger rate).
_CASH_RIDGES: dict[str, tuple[tuple[str, str, float, float], ...]] = {
    "gradient_boosting": (("learning_rate", "max_iter", 1.0, 0.1),),
    "mlp": (("learning_rate_init", "batch_size", -1.0, 0.06),),
}

#: Every child of a top-level choice by full name, with the group it belongs to.
_CASH_KNOBS: dict[str, tuple[str, _Knob]] = {
    f"{choice}:{knob.name}": (parent, knob)
    for (parent, choice), knobs in _CASH_GROUPS.items()
    for knob in knobs
}


def _make_cash_space() -> ConfigurationSpace:
    cs = ConfigurationSpace()
    cs.add(Categorical("algorithm", list(_CASH_BASE)))
    for knob in _CASH_TOP:
        cs.add(Categorical(knob.name, [c for c, _ in knob.choices]))
    for (parent, choice), knobs in _CASH_GROUPS.items():
        hps = {knob.name: knob.hyperparameter(choice) for knob in knobs}
        cs.add(*hps.values())
        for knob in knobs:
            child = hps[knob.name]
            if knob.when is None:
                cs.add(EqualsCondition(child, cs[parent], choice))
                continue
            sibling, values = knob.when
            if len(values) == 1:
                cs.add(EqualsCondition(child, hps[sibling], values[0]))
            else:
                cs.add(InCondition(child, hps[sibling], list(values)))
    cs.add(
        # Combinations a real library refuses (logistic regression's solvers and penalties)
        # or that are too expensive (polynomial features for kernel and distance methods).
        ForbiddenAndConjunction(
            ForbiddenEqualsClause(cs["logreg:penalty"], "l1"),
            ForbiddenEqualsClause(cs["logreg:solver"], "lbfgs"),
        ),
        ForbiddenAndConjunction(
            ForbiddenEqualsClause(cs["logreg:penalty"], "elasticnet"),
            ForbiddenInClause(cs["logreg:solver"], ["lbfgs", "liblinear"]),
        ),
        ForbiddenAndConjunction(
            ForbiddenEqualsClause(cs["feature_preproc"], "polynomial"),
            ForbiddenInClause(cs["algorithm"], ["knn", "mlp", "svm"]),
        ),
    )
    return cs


def cash_objective(config: Mapping[str, Any], seed: int) -> float:
    """A synthetic combined algorithm selection and hyperparameter optimization (CASH) cost.

    The space (118 hyperparameters, 10 to 25 active at once) is shaped like auto-sklearn's: a
    top-level ``algorithm`` with ten choices, each with 8 to 14 children (log-scale and linear
    floats, integers, categoricals), some of those active only for one value of a sibling
    categorical (``svm:degree`` only for ``svm:kernel=poly``; ``lda:shrinkage`` only for
    ``lda:shrinkage_mode=manual``, itself only for some ``lda:solver``), and the preprocessing
    choices ``scaler`` and ``feature_preproc`` with children of their own, plus ``imputation``
    and ``balancing``. Three forbidden clauses rule out logistic regression's unsupported
    penalty/solver pairs and polynomial features for knn, mlp and svm.

    The cost adds up, with no noise:

    * the algorithm's floor (0 for gradient boosting, then random forest 0.03, extra trees
      0.05, svm 0.07, mlp 0.09, adaboost 0.12, logreg 0.15, sgd 0.18, knn 0.22, lda 0.26),
    * for every active child: ``weight * d**2``, where ``d`` is its distance from its best
      value on its search scale (log for log-scale ones) relative to the largest distance its
      range allows (weights 0.005 to 0.15, about 0.3 per algorithm in all), or its choice's
      cost for a categorical (0 for the best choice),
    * for gradient boosting and mlp, a valley coupling two children (learning rate against
      iterations, against batch size): ``weight * (d_a +- d_b)**2``,
    * the preprocessing choices' and their children's costs alike, the scaler's scaled by how
      much the algorithm cares (0.2 for tree ensembles, 0.6 for lda, 1 otherwise).

    Every term is 0 at its best value and no forbidden clause touches the best choices, so the
    global minimum is 0: gradient boosting with learning_rate 0.08, max_iter 200,
    max_leaf_nodes 31, min_samples_leaf 12, l2_regularization 1e-3, max_bins 255, log_loss,
    early_stop=valid with validation_fraction 0.12 and n_iter_no_change 10; median
    imputation, weighting, the robust scaler with q_min 0.1 and q_max 0.9, and PCA keeping
    0.95 of the variance without whitening. Each algorithm's best is its floor.
    """
    del seed
    algorithm = str(config["algorithm"])
    sensitivity = _CASH_SCALER_SENSITIVITY[algorithm]
    cost = _CASH_BASE[algorithm]
    for knob in _CASH_TOP:
        share = knob.cost(config[knob.name])
        cost += sensitivity * share if knob.name == "scaler" else share
    for name, value in config.items():
        entry = _CASH_KNOBS.get(str(name))
        if entry is None:
            continue
        parent, knob = entry
        share = knob.cost(value)
        cost += sensitivity * share if parent == "scaler" else share
    for a, b, sign, weight in _CASH_RIDGES.get(algorithm, ()):
        name_a, name_b = f"{algorithm}:{a}", f"{algorithm}:{b}"
        da = _CASH_KNOBS[name_a][1].deviation(float(config[name_a]))
        db = _CASH_KNOBS[name_b][1].deviation(float(config[name_b]))
        cost += weight * (da + sign * db) ** 2
    return float(cost)


# ---------------------------------------------------------------------------------------------
# Registry

_BRANIN_OPT = 5.0 / (4.0 * math.pi)  # 0.39788735772973816
_HARTMANN3_OPT = -3.862779787332663
_HARTMANN6_OPT = -3.3223680114155147
_CAMEL_OPT = -1.0316284534898774


def _all_tasks() -> list[Task]:
    tasks = [
        _box_task("branin", branin, [(-5, 10), (0, 15)], _BRANIN_OPT, "Branin, 2-d"),
        _box_task("hartmann3", hartmann3, [(0, 1)] * 3, _HARTMANN3_OPT, "Hartmann, 3-d"),
        _box_task("hartmann6", hartmann6, [(0, 1)] * 6, _HARTMANN6_OPT, "Hartmann, 6-d"),
        _box_task("goldstein_price", goldstein_price, [(-2, 2)] * 2, 3.0, "Goldstein-Price, 2-d"),
        _box_task("six_hump_camel", six_hump_camel, [(-3, 3), (-2, 2)], _CAMEL_OPT, "Camel, 2-d"),
        _box_task("rosenbrock2", rosenbrock, [(-5, 10)] * 2, 0.0, "Rosenbrock, 2-d"),
        _box_task("rosenbrock5", rosenbrock, [(-5, 10)] * 5, 0.0, "Rosenbrock, 5-d"),
        _box_task("ackley2", ackley, [(-32.768, 32.768)] * 2, 0.0, "Ackley, 2-d"),
        _box_task("ackley5", ackley, [(-32.768, 32.768)] * 5, 0.0, "Ackley, 5-d"),
        _box_task("levy2", levy, [(-10, 10)] * 2, 0.0, "Levy, 2-d"),
        _box_task("levy5", levy, [(-10, 10)] * 5, 0.0, "Levy, 5-d"),
        _box_task("levy10", levy, [(-10, 10)] * 10, 0.0, "Levy, 10-d"),
        Task(
            "mixed",
            _make_mixed_space,
            mixed_objective,
            0.0,
            "categorical + integer + log float + 2 conditionals, 4 active dims",
        ),
        Task(
            "cash",
            _make_cash_space,
            cash_objective,
            0.0,
            "CASH-like: 10 algorithms, preprocessing, nested conditions, forbiddens; 118 dims",
        ),
        Task(
            "svm_digits",
            _make_svm_space,
            svm_digits_objective,
            None,
            "SVC on sklearn digits, 3-fold CV error (C, gamma log; degree | kernel=poly)",
        ),
        # Noisy tasks: Gaussian noise with a standard deviation of about a tenth of the range
        # between the optimum and a typical value (Hartmann) or of 1 near Branin's optimum.
        _box_task(
            "branin_noisy", branin, [(-5, 10), (0, 15)], _BRANIN_OPT, "Branin, noise sd 1", 1.0
        ),
        _box_task(
            "hartmann3_noisy", hartmann3, [(0, 1)] * 3, _HARTMANN3_OPT, "Hartmann-3, sd 0.3", 0.3
        ),
        _box_task(
            "hartmann6_noisy", hartmann6, [(0, 1)] * 6, _HARTMANN6_OPT, "Hartmann-6, sd 0.3", 0.3
        ),
        # Extra tasks for the full suite.
        _box_task("ackley10", ackley, [(-32.768, 32.768)] * 10, 0.0, "Ackley, 10-d"),
        _box_task("rosenbrock10", rosenbrock, [(-5, 10)] * 10, 0.0, "Rosenbrock, 10-d"),
        _box_task("levy20", levy, [(-10, 10)] * 20, 0.0, "Levy, 20-d"),
        *_prior_tasks(),
    ]
    return tasks


TASKS: dict[str, Task] = {t.name: t for t in _all_tasks()}

#: The quick suite: 14 tasks, cheap enough for 4 optimizers x 5 seeds x 100 trials.
QUICK: tuple[str, ...] = (
    "branin",
    "hartmann3",
    "hartmann6",
    "goldstein_price",
    "six_hump_camel",
    "rosenbrock2",
    "rosenbrock5",
    "ackley2",
    "ackley5",
    "levy2",
    "levy5",
    "levy10",
    "mixed",
    "svm_digits",
)
#: Tasks added on top of the quick suite by the full suite.
FULL_EXTRA: tuple[str, ...] = ("ackley10", "rosenbrock10", "levy20")

#: Noisy targets (``Task.noise > 0``), scored by the noise-free cost of the returned
#: configuration.
NOISY: tuple[str, ...] = ("branin_noisy", "hartmann3_noisy", "hartmann6_noisy")

#: Large conditional spaces, where the optimizers' own cost per trial grows most.
LARGE: tuple[str, ...] = ("cash",)

#: Tasks whose spaces carry priors over the optimum, a good and a misleading one per function
#: (optimizers ``smacx_prior`` and ``smac3_prior`` use them; the others do not, though
#: ConfigSpace's sampler, and so random search, draws from them).
PRIORS: tuple[str, ...] = tuple(
    f"{name}_prior_{kind}" for name in ("branin", "hartmann6", "levy5") for kind in ("good", "bad")
)

SUITES: dict[str, tuple[str, ...]] = {
    "quick": QUICK,
    "priors": PRIORS,
    "full": QUICK + FULL_EXTRA,
    "noisy": NOISY,
    "large": LARGE,
}


def get_task(name: str) -> Task:
    """Returns the task called ``name``.

    Raises:
        KeyError: If there is no such task.
    """
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None


def suite_tasks(suite: str) -> list[Task]:
    """Returns the tasks of a suite (``quick``, ``full``, ``noisy``, ``priors`` or ``large``) or
    of a comma-separated task list."""
    names = SUITES[suite] if suite in SUITES else tuple(s for s in suite.split(",") if s)
    return [get_task(n) for n in names]
