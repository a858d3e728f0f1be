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
    Integer,
    Normal,
)

__all__ = [
    "FULL_EXTRA",
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
    """Returns the tasks of a suite (``quick``, ``full`` or ``noisy``) or of a comma-separated
    task list."""
    names = SUITES[suite] if suite in SUITES else tuple(s for s in suite.split(",") if s)
    return [get_task(n) for n in names]
