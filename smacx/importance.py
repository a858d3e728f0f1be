"""How much each hyperparameter matters, read from a run's results.

:func:`param_importances` fits a random forest to the costs of a run's configurations and
splits the variance of its predictions over the search space into the parts that each
hyperparameter explains alone: a functional ANOVA (fANOVA; Hutter, Hoos and Leyton-Brown,
ICML 2014), as Optuna's default importance evaluator computes it. It is exact for the fitted
trees: each tree is a sum of constant values on boxes, whose averages are sums of box volumes.

The space is measured as the search space defines it: floats and integers uniformly on their
(log) scale, every choice of a categorical or ordinal alike, and an inactive conditional
hyperparameter as often as it was inactive in the run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from smacx.encoding import INACTIVE, Encoder
from smacx.errors import ArgumentError, ScenarioError
from smacx.models.random_forest import RandomForest
from smacx.runhistory import RunHistory
from smacx.trial import StatusType

__all__ = ["param_importances"]

#: Statuses whose costs measure a configuration (a crash's cost is a penalty, not a measure).
_MEASURED = (StatusType.SUCCESS, StatusType.TIMEOUT)

#: The fewest configurations with results at a budget for it to be the one analysed, when
#: a higher budget has fewer.
_ENOUGH = 10


def param_importances(
    run: Any,
    *,
    objective: str | int | None = None,
    budget: float | None = None,
    n_trees: int = 64,
    seed: int = 0,
    normalize: bool = True,
) -> dict[str, float]:
    """The share of the cost's variance that each hyperparameter explains on its own.

    A random forest is fitted to each configuration's mean cost (over its instances and
    seeds) and its functional ANOVA computed exactly per tree: the variance, over the search
    space, of the forest's prediction averaged over every other hyperparameter, as a share of
    the prediction's total variance; the shares are averaged over trees. What no single
    hyperparameter explains comes from interactions.

    Only trials that ended in SUCCESS or TIMEOUT count: a crash's cost is a penalty, not a
    measurement. Costs are taken as they are (not on a log scale), as Optuna does.

    Args:
        run: A :class:`~smacx.SMAC` (after or during a run, or opened on a stored run) or its
            :class:`~smacx.RunHistory`.
        objective: With several objectives, which one, by name or position.
        budget: With multi-fidelity runs, the budget whose results are analysed. By default the
            highest budget at which 10 or more configurations have results (the budget with the
            most results when none has 10).
        n_trees: Trees of the forest; more give steadier shares.
        seed: Seed of the forest's bootstrap samples.
        normalize: Whether the shares are scaled to sum to 1, as Optuna's are. Without it each
            share is of the total variance, and one minus their sum is what interactions explain.

    Returns:
        Hyperparameter name to share, most important first. Constants are left out.

    Raises:
        ArgumentError: ``run`` is neither a SMAC nor a RunHistory.
        ScenarioError: ``objective`` or ``budget`` names none of the run's, or fewer than two
            configurations have a measured cost.
    """
    history = getattr(run, "runhistory", run)
    if not isinstance(history, RunHistory):
        raise ArgumentError(
            "param_importances: run must be a SMAC or a RunHistory, got "
            f"{type(run).__name__} {run!r:.100}."
        )
    for name, value, smallest in (("n_trees", n_trees, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
            raise ScenarioError(
                f"param_importances: {name} must be an int >= {smallest}, got {value!r}."
            )
    column = _objective_column(history.objectives, objective)
    ids, y = _measured_costs(history, column, budget)
    encoder = Encoder(history.configspace)
    X = _choices_by_cost(encoder, encoder.encode([history.get_config(i) for i in ids]), y)
    forest = RandomForest(
        n_trees=n_trees,
        ratio_features=1.0,
        min_samples_split=2,
        min_samples_leaf=1,
        seed=seed,
    ).fit(X, y)
    shares = _fanova_shares(forest.leaf_boxes(), _cdfs(encoder, X))
    varying = [j for j in range(encoder.n_dims) if encoder.n_values[j] != 1]
    total = float(shares[varying].sum())
    if normalize and total > 0:
        shares = shares / total
    ranked = sorted(varying, key=lambda j: (-shares[j], j))
    return {encoder.names[j]: float(shares[j]) for j in ranked}


def _objective_column(objectives: Sequence[str], objective: str | int | None) -> int:
    """Position of ``objective`` among the run's ``objectives``."""
    if objective is None:
        if len(objectives) == 1:
            return 0
        raise ScenarioError(
            f"param_importances: the run has {len(objectives)} objectives {list(objectives)}; "
            "say which one with objective=<name or position>."
        )
    if isinstance(objective, str) and objective in objectives:
        return list(objectives).index(objective)
    positions = range(len(objectives))
    if isinstance(objective, int) and not isinstance(objective, bool) and objective in positions:
        return objective
    raise ScenarioError(
        f"param_importances: objective must be one of {list(objectives)} or a position below "
        f"{len(objectives)}, got {objective!r}."
    )


def _measured_costs(
    history: RunHistory, column: int, budget: float | None
) -> tuple[list[int], np.ndarray]:
    """Ids of the configurations with a measured cost at the analysed budget and their mean
    costs `(n,)`."""
    costs: dict[float | None, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for key, value in history.items():
        if value.status in _MEASURED:
            cost = value.costs()[column]
            if math.isfinite(cost):
                costs[key.budget][key.config_id].append(cost)
    if budget is None and costs:
        budgets = sorted(costs, key=lambda b: -math.inf if b is None else b)
        enough = [b for b in budgets if len(costs[b]) >= _ENOUGH]
        budget = enough[-1] if enough else max(budgets, key=lambda b: len(costs[b]))
    elif budget is not None and budget not in costs:
        known = sorted(b for b in costs if b is not None)
        raise ScenarioError(
            f"param_importances: budget must be one at which the run has measured costs "
            f"({known}), got {budget!r}."
            if known
            else f"param_importances: budget={budget!r}, but the run's trials have no budget; "
            "leave it out."
        )
    found = costs.get(budget, {})
    if len(found) < 2:
        raise ScenarioError(
            "param_importances: needs measured costs (trials ended in SUCCESS or TIMEOUT) of "
            f"at least 2 configurations, got {len(found)}; run more trials first."
        )
    ids = sorted(found)
    return ids, np.array([np.mean(found[i]) for i in ids])


def _choices_by_cost(encoder: Encoder, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``X`` `(n, D)` with each categorical's codes renumbered by the mean cost `(n,)` of its
    choices (choices without a result in the middle).

    A tree splits codes by thresholds, so a choice whose code lies between two others takes
    two splits to set apart; in the order of their mean costs, one split separates the good
    choices from the bad (Breiman's ordering for regression trees). With the codes in the
    space's order, a categorical that set a third of the variance apart got a sixth of its
    share on 100 results; the measure, a share of ``1 / k`` per choice, is unchanged.
    """
    X = X.copy()
    for j in np.flatnonzero(encoder.is_categorical):
        codes = X[:, j]
        active = codes != INACTIVE
        k = int(encoder.n_values[j])
        counts = np.bincount(codes[active].astype(np.intp), minlength=k)
        sums = np.bincount(codes[active].astype(np.intp), weights=y[active], minlength=k)
        middle = float(y[active].mean()) if active.any() else 0.0
        means = np.where(counts > 0, sums / np.maximum(counts, 1), middle)
        rank = np.empty(k)
        rank[np.argsort(means, kind="stable")] = np.arange(k)
        X[active, j] = rank[codes[active].astype(np.intp)]
    return X


def _cdfs(encoder: Encoder, X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per column, the share of the space's measure at or below each encoded value, as
    points ``(x, share)`` to interpolate between (a step at each discrete value).

    ``X`` `(n, D)` are the run's encoded configurations; a conditional column is
    :data:`INACTIVE` as often as it is there.
    """
    cdfs = []
    for j in range(encoder.n_dims):
        inactive = float(np.mean(X[:, j] == INACTIVE)) if X.size else 0.0
        k = int(encoder.n_values[j])
        if encoder.is_categorical[j] or encoder.is_ordinal[j]:
            values = np.arange(k, dtype=float) if encoder.is_categorical[j] else _ordinal(k)
            # a step of 1/k at each value: just below and at it
            x = np.repeat(values, 2) + np.tile([-1e-9, 0.0], k)
            share = np.repeat(np.arange(k + 1, dtype=float) / k, 2)[1:-1]
        else:
            x, share = np.array([0.0, 1.0]), np.array([0.0, 1.0])
        share = inactive + (1.0 - inactive) * share
        x = np.concatenate([[INACTIVE - 1e-9, INACTIVE], x])
        cdfs.append((x, np.concatenate([[0.0, inactive], share])))
    return cdfs


def _ordinal(k: int) -> np.ndarray:
    """Encoded values of an ordinal's ``k`` positions."""
    return np.arange(k, dtype=float) / max(k - 1, 1)


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
        if not variance > 1e-12 * max(mean * mean, 1e-300):
            continue  # a constant tree explains nothing
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
