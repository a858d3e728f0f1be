"""How much each hyperparameter matters, read from a run's results.

:func:`param_importances` fits a random forest to the costs of a run's configurations and
splits the variance of its predictions over the search space into the parts that each
hyperparameter explains alone: a functional ANOVA (fANOVA; Hutter, Hoos and Leyton-Brown,
ICML 2014), the computation of Optuna's ``FanovaImportanceEvaluator``. It is exact for the
fitted trees: each tree is a sum of constant values on boxes, whose averages are sums of box
volumes.

The space is measured as the search space defines it: floats uniformly on their (log) scale,
integers as smacx draws them (each value its bin on the linear or log scale), every choice of
a categorical or ordinal alike. (Optuna measures a log-scale float on its linear scale, where
nearly all of a learning rate's range is its top decade: its shares for such parameters
differ, and can rank them the other way.)
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from smacx.encoding import INACTIVE, Encoder
from smacx.errors import (
    ArgumentError,
    ScenarioError,
    check_flag,
    is_real,
    is_whole,
    warn_caller,
)
from smacx.models.random_forest import RandomForest
from smacx.runhistory import RunHistory, objective_column
from smacx.trial import StatusType, TrialKey

if TYPE_CHECKING:
    from smacx.facade import SMAC

__all__ = ["param_importances"]

logger = logging.getLogger("smacx")

#: The fewest configurations with results at a budget for it to be the one analysed, when
#: a higher budget has fewer; with fewer, the shares are warned of as rough.
ENOUGH_CONFIGS = 10

#: Groups of trees that see the columns in orders of their own (see _forest_boxes).
_COLUMN_ORDERS = 8

#: Spread of the centred and scaled costs (at most 1 in magnitude) below which they count as
#: equal.
_SAME_COST = 1e-10

#: Spread of the costs, relative to their largest magnitude, that is rounding (about 450
#: units in the last place): costs that differ by no more count as equal.
_ROUNDING = 1e-13

#: Integers with more values than this are measured as a continuous range.
_MOST_STEPS = 100_000


def param_importances(
    run: SMAC | RunHistory,
    *,
    objective: str | int | None = None,
    budget: float | None = None,
    n_trees: int = 64,
    seed: int = 0,
    normalize: bool = True,
) -> dict[str, float]:
    """The share of the cost's variance that each hyperparameter explains on its own.

    A random forest is fitted to each configuration's cost and its functional ANOVA computed
    exactly per tree: the variance, over the search space, of the forest's prediction
    averaged over every other hyperparameter, as a share of the prediction's total variance;
    the shares are averaged over trees. This is the computation of Optuna's
    ``FanovaImportanceEvaluator`` (the default of ``optuna.importance.get_param_importances``
    before Optuna 5, whose default, PED-ANOVA, asks what sets the best trials apart
    instead), except that a log-scale hyperparameter is measured on its log scale.

    - Only trials that ended in SUCCESS count: the cost of a crash or a time-out is a
      penalty, not a measurement. A configuration's cost is its mean over its seeds; with
      instances, its part of a fit of ``configuration + instance`` to the costs, so that a
      configuration raced on the hard instances only is not taken for a bad one.
    - An inactive conditional hyperparameter is given random values for the fit, so the
      variance that its parent's choice explains is not split with it.
    - Costs are taken as they are (not on a log scale), as Optuna does.

    Args:
        run: A :class:`~smacx.SMAC` (after or during a run, or opened on a stored run) or its
            :class:`~smacx.RunHistory`.
        objective: With several objectives, which one, by name or position.
        budget: With multi-fidelity runs, the budget whose results are analysed. By default the
            highest budget at which 10 or more configurations have results (the budget with the
            most results when none has 10).
        n_trees: Trees of the forest; more give steadier shares.
        seed: Seed of the forest's bootstrap samples and of the values given to inactive
            hyperparameters.
        normalize: Whether the shares are scaled to sum to 1, as Optuna's are. Without it each
            share is of the total variance, and one minus their sum is what no single
            hyperparameter explains: interactions, and, with few results, the forest's own
            error (it was 0.12 to 0.24 of an additive function's variance at 1,000 and 200
            results).

    Returns:
        Hyperparameter name to share, most important first; all 0 when every configuration
        has the same cost (a warning says so). Constants are left out. With fewer than 10
        configurations a ``UserWarning`` says the shares are rough: a forest fitted to so
        few points makes up shares (on 3 random configurations of ``x, y, z`` with a cost of
        ``z`` alone, y got 0.40 and z 0.33).

    Raises:
        ArgumentError: ``run`` is neither a SMAC nor a RunHistory.
        ScenarioError: ``objective`` or ``budget`` names none of the run's, ``n_trees``,
            ``seed`` or ``normalize`` is not what it should be, or fewer than two
            configurations have a measured cost.
    """
    history = getattr(run, "runhistory", run)
    if not isinstance(history, RunHistory):
        raise ArgumentError(
            "param_importances: run must be a SMAC or a RunHistory, got "
            f"{type(run).__name__} {run!r:.100}."
        )
    for name, value, smallest in (("n_trees", n_trees, 1), ("seed", seed, 0)):
        if not is_whole(value) or value < smallest:
            raise ScenarioError(
                f"param_importances: {name} must be an int >= {smallest}, got {value!r}."
            )
    check_flag("param_importances", "normalize", normalize)
    if budget is not None and not is_real(budget):
        raise ScenarioError(
            f"param_importances: budget must be a number (one of the run's budgets) or None, "
            f"got {budget!r:.100}."
        )
    column = objective_column(history.objectives, objective, "param_importances")
    budget, ids, y = _measured_costs(history, column, budget)
    at = "" if budget is None else f" at budget {budget:g}"
    logger.debug("param_importances: %d configurations%s", len(ids), at)
    if len(ids) < ENOUGH_CONFIGS:
        warn_caller(
            f"param_importances: only {len(ids)} configurations have measured costs{at}, so "
            "the shares are rough: the forest fitted to them can give a share to a "
            f"hyperparameter that does not matter. Take them as a guide from {ENOUGH_CONFIGS} "
            "configurations on; they steady with more (the error of the fit was 0.24 of the "
            "variance at 200)."
        )
    encoder = Encoder(history.configspace)
    measures = [_measure(encoder, j) for j in range(encoder.n_dims)]
    X = _choices_by_cost(encoder, encoder.encode([history.get_config(i) for i in ids]), y)
    X = _inactive_filled(X, measures, np.random.default_rng([int(seed), 1]))
    varying = [j for j in range(encoder.n_dims) if encoder.n_values[j] != 1]
    shares = np.zeros(encoder.n_dims)
    # (costs centred and scaled to at most 1: a spread below this is the rounding of the
    # instance fit, on costs that all configurations share; trees fitted to it made up shares)
    if np.ptp(y) > _SAME_COST:
        boxes = _forest_boxes(X, (y - y.mean()) / y.std(), int(n_trees), int(seed))
        shares = _fanova_shares(boxes, [_cdf(m) for m in measures])
    else:
        logger.warning(
            "param_importances: all %d configurations have the same cost, so no hyperparameter "
            "explains any of it; every share is 0.",
            len(ids),
        )
    total = float(shares[varying].sum())
    if normalize and total > 0:
        shares = shares / total
    ranked = sorted(varying, key=lambda j: (-shares[j], j))
    return {encoder.names[j]: float(shares[j]) for j in ranked}


def _forest_boxes(
    X: np.ndarray, y: np.ndarray, n_trees: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The leaf boxes (see ``RandomForest.leaf_boxes``) of ``n_trees`` fully grown trees
    fitted to ``X`` `(n, D)` and ``y`` `(n,)`, in groups that each see the columns in an
    order of their own, put back in ``X``'s order.

    A tree splits on the first of the columns that cut a node's points alike, as every
    column cuts a node of two: one forest on the columns as they come gave all of the share
    of 2 configurations to the first hyperparameter, whatever the cost depended on, and of
    20 configurations with a cost of the last of 10 columns (mean of 10 draws, shares of
    the variance) 0.022 to the first and 0.0055 to the ninth. In other orders that first
    column is another: 0.003 to 0.011, in no order, and the last column's share went from
    0.863 to 0.895.
    """
    rng = np.random.default_rng([seed, 2])
    boxes = []
    for group, trees in enumerate(np.array_split(np.arange(n_trees), min(n_trees, _COLUMN_ORDERS))):
        order = rng.permutation(X.shape[1])
        back = np.argsort(order)
        forest = RandomForest(
            n_trees=len(trees),
            ratio_features=1.0,
            min_samples_split=2,
            min_samples_leaf=1,
            seed=seed * _COLUMN_ORDERS + group,
        )
        for lower, upper, value in forest.fit(X[:, order], y).leaf_boxes():
            boxes.append((lower[:, back], upper[:, back], value))
    return boxes


def analysed(
    history: RunHistory, objective: str | int | None = None, budget: float | None = None
) -> tuple[float | None, int]:
    """The budget that :func:`param_importances` analyses (None without budgets) and how many
    configurations have measured costs there, for its ``objective`` and ``budget``
    arguments (``smacx show --importance`` says them).

    Raises:
        ScenarioError: As :func:`param_importances`.
    """
    column = objective_column(history.objectives, objective, "param_importances")
    chosen, ids, _ = _measured_costs(history, column, budget)
    return chosen, len(ids)


def _measured_costs(
    history: RunHistory, column: int, budget: float | None
) -> tuple[float | None, list[int], np.ndarray]:
    """The analysed budget, the ids of the configurations with a measured cost there, and
    their costs `(n,)` (see :func:`_config_costs`), less their median and scaled by the
    largest magnitude (the shares depend on neither, and no sum of costs near ``1e308``
    overflows)."""
    rows: dict[float | None, list[tuple[TrialKey, float]]] = defaultdict(list)
    for key, value in history.items():
        if value.status is StatusType.SUCCESS:
            cost = value.costs()[column]
            if math.isfinite(cost):
                rows[key.budget].append((key, cost))
    budgets = sorted(rows, key=lambda b: -math.inf if b is None else b)
    n_configs = {b: len({key.config_id for key, _ in rows[b]}) for b in budgets}
    if budget is None and budgets:
        enough = [b for b in budgets if n_configs[b] >= ENOUGH_CONFIGS]
        budget = enough[-1] if enough else max(budgets, key=n_configs.__getitem__)
    elif budget is not None and budget not in rows and any(b is not None for b in budgets):
        known = [b for b in budgets if b is not None]
        raise ScenarioError(
            f"param_importances: budget must be one at which the run has measured costs "
            f"({known}), got {budget!r}."
        )
    elif budget is not None and budget not in rows and budgets:
        raise ScenarioError(
            f"param_importances: budget={budget!r}, but the run's trials have no budget; "
            "leave it out."
        )
    found = rows.get(budget, [])
    n_found = n_configs.get(budget, 0)
    if n_found < 2:
        raise ScenarioError(
            "param_importances: needs measured costs (trials ended in SUCCESS) of at least 2 "
            f"configurations, got {n_found}; run more trials first."
        )
    keys = [key for key, _ in found]
    raw = np.array([cost for _, cost in found])
    if np.ptp(raw) <= _ROUNDING * float(np.abs(raw).max()):
        # costs equal but for the rounding of the target's arithmetic (0.1 x + 0.3 - 0.1 x)
        return (budget, *_config_costs(keys, np.zeros_like(raw)))
    # Centred first (halved, so that no difference of costs near 1e308 overflows): distinct
    # costs that share a large offset, as log-likelihoods of 1.2e6 + 1e-5 * f do, kept a
    # relative spread below _SAME_COST, and every share was 0.
    half = raw * 0.5
    half -= np.median(half)
    costs = half / max(float(np.abs(half).max()), np.finfo(float).tiny)
    return (budget, *_config_costs(keys, costs))


def _config_costs(keys: list[TrialKey], costs: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Each configuration's cost from its trials' ``keys`` and ``costs`` `(t,)`: the mean over
    its seeds on each instance, then, with instances, ``a`` of the least-squares fit
    ``cost(c, i) = a[c] + b[i]`` with ``b`` centred (by alternating means, which converge
    to it): a configuration raced on hard instances only keeps the cost it would have on
    the average instance. Returns the configurations' ids, sorted, and `(n,)` costs."""
    ids = sorted({key.config_id for key in keys})
    instances = sorted({str(key.instance) for key in keys})
    config = np.searchsorted(ids, [key.config_id for key in keys])
    instance = np.searchsorted(instances, [str(key.instance) for key in keys])
    # one row per (configuration, instance): the mean over its seeds
    pair, where = np.unique(config * len(instances) + instance, return_inverse=True)
    mean = np.bincount(where, weights=costs) / np.bincount(where)
    config, instance = pair // len(instances), pair % len(instances)
    per_config = np.bincount(config, minlength=len(ids))
    a = np.bincount(config, weights=mean, minlength=len(ids)) / per_config
    if len(instances) > 1:
        per_instance = np.bincount(instance, minlength=len(instances))
        for _ in range(200):
            b = np.bincount(instance, weights=mean - a[config]) / per_instance
            b -= b.mean()
            before, a = a, np.bincount(config, weights=mean - b[instance]) / per_config
            if np.abs(a - before).max() <= 1e-12:
                break
    return ids, a


def _choices_by_cost(encoder: Encoder, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``X`` `(n, D)` with each categorical's codes renumbered by the mean cost `(n,)` of its
    choices (choices without a result in the middle).

    A tree splits codes by thresholds, so a choice whose code lies between two others takes
    two splits to set apart; in the order of their mean costs, one split separates the good
    choices from the bad (Breiman's ordering for regression trees). With the codes in the
    space's order, a categorical that set a third of the variance apart got a sixth of its
    share on 100 results; the measure, a share of ``1 / k`` per choice, is unchanged.

    Only where the results show that the choices differ (a one-way analysis of variance at
    the 5% level): ordered by costs that are the choices' only results, a categorical of
    2,000 choices the cost ignored was the cost itself to the forest, and got 60% of the
    variance on 300 results (an audit of large spaces).
    """
    from scipy.stats import f as f_distribution

    X = X.copy()
    for j in np.flatnonzero(encoder.is_categorical):
        active = X[:, j] != INACTIVE
        codes = X[active, j].astype(np.intp)
        k = int(encoder.n_values[j])
        counts = np.bincount(codes, minlength=k)
        sums = np.bincount(codes, weights=y[active], minlength=k)
        middle = float(y[active].mean()) if active.any() else 0.0
        means = np.where(counts > 0, sums / np.maximum(counts, 1), middle)
        groups, n = int(np.count_nonzero(counts)), int(codes.size)
        if groups < 2 or n <= groups:
            continue  # (no choice has two results: nothing tells them apart from noise)
        between = float(np.sum(counts * (means - middle) ** 2)) / (groups - 1)
        within = float(np.sum((y[active] - means[codes]) ** 2)) / (n - groups)
        if within > 0 and f_distribution.sf(between / within, groups - 1, n - groups) >= 0.05:
            continue
        rank = np.empty(k)
        rank[np.argsort(means, kind="stable")] = np.arange(k)
        X[active, j] = rank[codes]
    return X


def _measure(encoder: Encoder, j: int) -> tuple[np.ndarray, np.ndarray] | None:
    """How the space weighs column ``j``'s encoded values: its values `(k,)` and their
    probabilities `(k,)`, or None for the uniform measure on ``[0, 1]`` (floats, and
    integers of more than :data:`_MOST_STEPS` values)."""
    k = int(encoder.n_values[j])
    if encoder.is_categorical[j]:
        return np.arange(k, dtype=float), np.full(k, 1.0 / k)
    if encoder.is_ordinal[j]:
        return np.arange(k, dtype=float) / max(k - 1, 1), np.full(k, 1.0 / k)
    hp: Any = encoder.configspace[encoder.names[j]]
    if k < 2 or k > _MOST_STEPS or not hasattr(hp, "lower"):
        return None  # a float, a huge integer, or a constant (whose share is left out)
    values = np.arange(int(hp.lower), int(hp.upper) + 1)
    if getattr(hp, "log", False):  # each value its log-scale bin, as unit_to_integers draws it
        edges = np.log(np.append(values - 0.5, values[-1] + 0.5))
        mass = np.diff(edges) / (edges[-1] - edges[0])
    else:
        mass = np.full(values.size, 1.0 / values.size)
    return np.asarray(hp.to_vector(values), dtype=float), mass


def _cdf(measure: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """A column's measure as its cumulative distribution: points ``(x, share at or below
    x)`` to interpolate between, a step just below each discrete value."""
    if measure is None:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    values, mass = measure
    below = np.concatenate([[0.0], np.cumsum(mass)])
    below[-1] = 1.0
    x = np.repeat(values, 2) + np.tile([-1e-9 * max(float(np.ptp(values)), 1.0), 0.0], values.size)
    return x, np.repeat(below, 2)[1:-1]


def _inactive_filled(
    X: np.ndarray,
    measures: list[tuple[np.ndarray, np.ndarray] | None],
    rng: np.random.Generator,
) -> np.ndarray:
    """``X`` `(n, D)` with each :data:`INACTIVE` entry replaced by a value drawn from its
    column's measure.

    An inactive child separates the rows exactly as its parent's choice does, and a tree
    that split on the child rather than the parent gave it the parent's share (a child that
    did nothing got 0.7). Random values carry no trace of the parent, and the child's own
    effect, where it is active, is averaged over the space as for any other column.
    """
    X = X.copy()
    for j, measure in enumerate(measures):
        inactive = np.flatnonzero(X[:, j] == INACTIVE)
        if inactive.size == 0:
            continue
        if measure is None:
            X[inactive, j] = rng.random(inactive.size)
        else:
            X[inactive, j] = rng.choice(measure[0], size=inactive.size, p=measure[1])
    return X


def _fanova_shares(
    boxes: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    cdfs: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """`(D,)` mean over trees of the share of each tree's variance that each column's main
    effect explains.

    In each column's measure (``cdfs``) a box is an interval of ``[0, 1]``, so a tree is a
    sum of values on boxes of the unit cube under the uniform measure. The main effect of
    column ``j`` at ``u`` is the sum over leaves that span ``u`` of their value times the
    volume of their box in the other columns: piecewise constant between the leaves' bounds,
    which a cumulative sum over the sorted bounds gives for every column at once.
    """
    D = len(cdfs)
    shares, used = np.zeros(D), 0
    for lower, upper, value in boxes:
        a = np.column_stack([np.interp(lower[:, j], *cdfs[j]) for j in range(D)])
        b = np.column_stack([np.interp(upper[:, j], *cdfs[j]) for j in range(D)])
        length = np.maximum(b - a, 0.0)  # (L, D)
        volume = length.prod(axis=1)
        mean = float(volume @ value)
        centered = value - mean
        variance = float(volume @ centered**2)
        if not variance > 1e-18 * max(mean * mean, 1.0):
            continue  # a constant tree explains nothing (the costs are standardized)
        # volume of each box in every column but j, without dividing by a zero length
        ones = np.ones((len(value), 1))
        before = np.cumprod(np.hstack([ones, length[:, :-1]]), axis=1)
        after = np.cumprod(np.hstack([ones, length[:, :0:-1]]), axis=1)[:, ::-1]
        weight = centered[:, None] * before * after  # (L, D)
        bounds = np.concatenate([a, b]).T  # (D, 2L)
        steps = np.concatenate([weight, -weight]).T
        order = np.argsort(bounds, axis=1, kind="stable")
        bounds = np.take_along_axis(bounds, order, axis=1)
        effect = np.cumsum(np.take_along_axis(steps, order, axis=1), axis=1)
        main = (np.diff(bounds, axis=1) * effect[:, :-1] ** 2).sum(axis=1)
        shares += main / variance
        used += 1
    return np.clip(shares / max(used, 1), 0.0, None)
