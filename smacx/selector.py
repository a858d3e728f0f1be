"""Where new configurations come from: the initial design, then the model (or random sampling).

:meth:`ConfigSelector.next_configs` is the iterator the intensifier pulls challengers from. It
yields the initial design first (skipping configurations the run already has), then, for every
further pull, either a random configuration (with probability ``random_probability``, or always
when there is no model; ``plateau_probability`` while several configurations share the lowest
cost) or the configuration that maximizes the acquisition function of a model trained on the run
history as it is at that moment.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace

from smacx.acquisition import PriorWeighted
from smacx.encoding import INACTIVE, inactive_as_code, rows_in
from smacx.errors import (
    ScenarioError,
    SearchSpaceExhaustedError,
    is_real,
    is_whole,
    safe_repr,
)
from smacx.initial_design import finite_vectors, sample_seeded, unit_to_configs
from smacx.maximizer import Region, worst_where
from smacx.models.random_forest import COST_LIMIT, RandomForest
from smacx.runhistory import plain_value
from smacx.trial import StatusType

if TYPE_CHECKING:
    from smacx.encoding import Encoder
    from smacx.models import Model
    from smacx.runhistory import RunHistory

__all__ = ["ConfigSelector", "Proposer", "ModelProposer", "RegionMaximizer"]

logger = logging.getLogger("smacx")


class Proposer(Protocol):
    """The model-based part of a selector: one new configuration from the history, or None."""

    def __call__(self, history: RunHistory, rng: np.random.Generator) -> Configuration | None:
        """The configuration to evaluate next (without trials in ``history``), or None."""
        ...


class Acquisition(Protocol):
    """Acquisition settings: bound to a fitted model and the incumbent's cost for each proposal."""

    def bind(self, model: Model, best_y: float) -> Callable[[np.ndarray], np.ndarray]:
        """Scores of ``(n, d)`` encoded configurations, shape ``(n,)``, higher is better."""
        ...


class Maximizer(Protocol):
    """Searches the encoded space for the configurations an acquisition function scores best."""

    def maximize(
        self,
        acq: Callable[[np.ndarray], np.ndarray],
        n: int,
        start_points: np.ndarray,
        exclude: np.ndarray,
    ) -> np.ndarray:
        """Up to ``n`` distinct ``(n, d)`` encodings, best first, none of them in ``exclude``."""
        ...


class RegionMaximizer(Protocol):
    """A maximizer that can also stay inside a trust region (as both of smacx's can)."""

    def maximize(
        self,
        acq: Callable[[np.ndarray], np.ndarray],
        n: int,
        start_points: np.ndarray,
        exclude: np.ndarray,
        *,
        region: Region | None = None,
    ) -> np.ndarray:
        """As :meth:`Maximizer.maximize`; with a ``region``, the configurations inside it come
        first, best first, and configurations outside it (in no particular order) only when
        too few inside are new."""
        ...


def _takes_region(maximizer: object) -> bool:
    """Whether ``maximizer.maximize`` can be called with and without ``region=``."""
    try:
        parameters = inspect.signature(maximizer.maximize).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return True
    region = parameters.get("region")
    return (
        region is not None
        and region.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and region.default is not inspect.Parameter.empty
    )


class _Marginalized:
    """A model whose predictions for a configuration are averaged over all instances.

    Uses the model's own ``predict_marginalized`` where it has one (the random forest averages
    every tree over the instances first); otherwise it predicts every (configuration,
    instance) pair and averages the means and the variances over the instances.
    """

    def __init__(self, model: Any, features: np.ndarray) -> None:
        self.model = model
        self.features = features

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Marginalized:
        raise NotImplementedError("a marginalized view only predicts")

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        marginalized = getattr(self.model, "predict_marginalized", None)
        if marginalized is not None:
            mean, var = marginalized(X, self.features)
            return np.asarray(mean), np.asarray(var)
        n, m = X.shape[0], self.features.shape[0]
        mean, var = np.empty(n), np.empty(n)
        chunk = max(1, 100_000 // m)
        for lo in range(0, n, chunk):
            rows = X[lo : lo + chunk]
            k = rows.shape[0]
            joint = np.hstack([np.repeat(rows, m, axis=0), np.tile(self.features, (k, 1))])
            mu, v = self.model.predict(joint)
            mean[lo : lo + k] = np.asarray(mu).reshape(k, m).mean(axis=1)
            var[lo : lo + k] = np.asarray(v).reshape(k, m).mean(axis=1)
        return mean, var

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.transform_y(y))


#: With k trials running, one fit and one search serve at most about _late_cap(k) + 1
#: proposals, and proposals may be at most _late_cap(k) results late (see :class:`ModelProposer`).
_LATE_SHARE = 4
#: Running trials (queued ones included) up to which no proposal is late. On 8 workers with
#: 0.2 s trials (13 running with the trials dask queued then), late proposals made the runs need a
#: median of 210 trials instead of 176 to reach a serial run's 100-trial cost on Hartmann-6,
#: 141 instead of 101 on Branin and 359 instead of 194 on Levy-5 (benchmarks/speedup.py, 20, 12
#: and 12 seeds), while fitting for every result kept as many workers busy. On 64 workers with
#: 1 s trials the loop cannot fit for every result: a cap of k / 16 kept 0.88 of them busy
#: where k / 4 kept 0.92; this one keeps as many busy as k / 4 (benchmarks/parallel.py).
_FRESH_RUNNING = 16
#: Largest share of the time between two results that fits and searches may take.
_BUSY_SHARE = 0.5


def _late_cap(n_running: int) -> int:
    """Most results a proposal may be late with ``n_running`` trials running: a quarter of
    those beyond the first ``_FRESH_RUNNING`` (0 up to 16 running, 1 for 20, 12 for 64)."""
    return max(n_running - _FRESH_RUNNING, 0) // _LATE_SHARE


def _sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """`(n, m)` squared Euclidean distances between the rows of ``A`` `(n, d)` and ``B``."""
    # Above 2**16 products, OpenBLAS spreads a matrix product over threads, which on a busy
    # machine took 16 ms instead of 0.5 (32 rows by 2,100, in an 8-d space) and slowed what
    # ran beside it: numpy's own loop (einsum) stays on this thread, at 2 ms for 32 by 6,000.
    products = A @ B.T if A.shape[0] * B.shape[0] <= _BLAS_PAIRS else np.einsum("ik,jk->ij", A, B)
    sq = (A**2).sum(axis=1)[:, None] + (B**2).sum(axis=1)[None, :] - 2.0 * products
    out: np.ndarray = np.maximum(sq, 0.0)
    return out


#: Most row pairs whose products :func:`_sq_dists` leaves to BLAS.
_BLAS_PAIRS = 2**16


#: Above this many row-to-evaluated pairs, :func:`_radii` finds nearest neighbours with a k-d
#: tree instead of the full distance matrix (960 candidates against 3,000 evaluated
#: configurations: 144 ms as a matrix, 3 ms with the tree; at 64 workers the matrices took
#: over a third of every search).
_DENSE_PAIRS = 200_000

#: Most one-hot columns of a space's categoricals whose embedding distances are searched with
#: k-d trees (see :class:`_Coverage`); beyond, every pair is compared.
_WIDE_EMBEDDING = 64


def _as_they_are(rows: np.ndarray) -> np.ndarray:
    """The rows, as an embedding that changes nothing."""
    return rows


#: Sizes a trust region takes (each half the one before) before the search covers the whole
#: space again; see :class:`ModelProposer`.
_REGION_SHRINKS = 3

#: Most results a search made ahead may miss while no result lowers the best cost (see
#: ModelProposer._ahead_lag).
_AHEAD_RESULTS = 2

#: Smallest and largest standard deviation (encoded units) of the steps that perturb the best
#: configuration while trials run; see :class:`ModelProposer`.
_PERTURB_SCALES = (0.001, 0.05)


def incumbent_level_best(trial_ids: Sequence[int], ids: Sequence[int], y: np.ndarray) -> float:
    """The lowest mean of ``y`` per configuration among those with the most trials.

    With instances or noisy seeds a configuration has several trials and the model predicts
    their mean, so the cost to beat is the incumbent's mean at its level (the most instances
    or seeds), not the lowest single row; with one row each, simply the lowest ``y``.

    Args:
        trial_ids: `(t,)` configuration id of each trial (its level counts them).
        ids: `(n,)` configuration id of each row of ``y``: a trial, or with a noisy target
            the mean of a configuration's seeds on one instance.
        y: `(n,)` costs (in the model's space).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        return float(np.min(y))
    level = _at_incumbent_level(trial_ids, ids)
    _, group = np.unique(np.asarray(ids)[level], return_inverse=True)
    means = np.bincount(group, weights=y[level]) / np.bincount(group)
    return float(np.min(means))


def _at_incumbent_level(trial_ids: Sequence[int], ids: Sequence[int]) -> np.ndarray:
    """`(n,)` whether each of the rows ``ids`` is of a configuration with the most trials
    (``trial_ids``: the configuration id of every trial)."""
    unique, counts = np.unique(np.asarray(trial_ids), return_counts=True)
    return np.isin(np.asarray(ids), unique[counts == counts.max()])


def _seed_means(
    ids: Sequence[int], instances: Sequence[str | None], y: np.ndarray
) -> tuple[list[int], list[str | None], np.ndarray]:
    """One row per (configuration, instance), in the order of their first results, with the
    mean of ``y`` `(n,)` or of each column of ``y`` `(n, k)` over its rows (a noisy target's
    seeds)."""
    first: dict[tuple[int, str | None], int] = {}
    group = np.array([first.setdefault((i, s), len(first)) for i, s in zip(ids, instances)])
    counts = np.bincount(group)
    if y.ndim == 1:
        means = np.bincount(group, weights=y) / counts
    else:
        sums = [np.bincount(group, weights=column, minlength=counts.size) for column in y.T]
        means = np.stack(sums, axis=1) / counts[:, None]
    keys = list(first)
    return [k[0] for k in keys], [k[1] for k in keys], means


def _radii(
    rows: np.ndarray, evaluated: np.ndarray, largest: float, kept: _Coverage | None = None
) -> np.ndarray:
    """`(n,)` exclusion radius of each row: half its distance to the nearest evaluated row,
    at most ``largest``. A fine refinement next to the incumbent blocks only a small ball,
    a point in unexplored territory a large one.

    ``kept``, a :class:`_Coverage` of the encodings as they are, kept between calls, has its
    k-d trees over ``evaluated`` updated instead of one built afresh (6 ms per proposal at
    20,000 configurations, a long-run study)."""
    if evaluated.shape[0] == 0 or rows.shape[0] == 0:
        return np.full(rows.shape[0], largest)
    if rows.shape[0] * evaluated.shape[0] <= _DENSE_PAIRS:
        nearest = np.sqrt(_sq_dists(rows, evaluated).min(axis=1))
    elif kept is not None:
        kept.update(evaluated)
        nearest = kept.distance(rows)
    else:
        from scipy.spatial import cKDTree

        nearest, _ = cKDTree(evaluated).query(rows, k=1)
    out: np.ndarray = np.minimum(largest, 0.5 * nearest)
    return out


def _tie_tolerance(size: np.ndarray | float, spread: float) -> np.ndarray:
    """How far apart two costs of magnitude ``size`` may be and still count as equal, among
    costs that span ``spread``: within 1e-12 of the size and 1e-9 of the spread, and never
    less than a few units of rounding. (With 1e-9 of the size alone, costs of 1e10 + f tied
    whenever within 10 of each other; with the spread alone, one huge cost made distinct
    ones a tie.)"""
    size = np.abs(np.asarray(size, dtype=np.float64))
    with np.errstate(over="ignore"):  # (the spacing of the largest float is inf)
        out: np.ndarray = np.maximum(np.minimum(1e-12 * size, 1e-9 * spread), 8 * np.spacing(size))
    return out


def _tied(values: np.ndarray) -> np.ndarray:
    """`(n,)` mask of the ``values`` `(n,)` equal (up to rounding) to at least one other."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    if ordered.size < 2:
        return np.zeros(ordered.size, dtype=bool)
    spread = float(ordered[-1] - ordered[0])
    equal = np.diff(ordered) <= _tie_tolerance(ordered[:-1], spread)
    mask = np.zeros(ordered.size, dtype=bool)
    mask[:-1] |= equal
    mask[1:] |= equal
    out = np.empty_like(mask)
    out[order] = mask
    return out


class _Balls:
    """Balls of one ``radius`` (Euclidean, encoded units) around the rows of ``centers``
    `(m, d)`: the configurations whose cost another one shares (see ``plateau_radius`` of
    :class:`ModelProposer`), looked up in a k-d tree."""

    def __init__(self, centers: np.ndarray, radius: float) -> None:
        from scipy.spatial import cKDTree

        self.tree = cKDTree(centers)
        self.radius = radius

    def contain(self, X: np.ndarray) -> np.ndarray:
        """`(n,)` mask of the rows of ``X`` `(n, d)` inside a ball."""
        if X.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        nearest, _ = self.tree.query(X, k=1, distance_upper_bound=self.radius)
        inside: np.ndarray = nearest < self.radius
        return inside


def _canonical_scores(
    acq: Callable[[np.ndarray], np.ndarray], encoder: Encoder
) -> Callable[[np.ndarray], np.ndarray]:
    """``acq`` scoring every row as its canonical form (see ``per_row_draws`` of
    :class:`~smacx.acquisition.ThompsonSampling`): local search walks unrounded rows and
    returns them canonical, so it ranks what it returns. (A log-scale float on [1e-8, 1]
    moves by up to about 1e-5 in the encoding when its value is rounded.)"""

    def scores(X: np.ndarray) -> np.ndarray:
        return np.asarray(acq(encoder.canonicalize(X)), dtype=np.float64)

    return scores


def _away_from(
    acq: Callable[[np.ndarray], np.ndarray], avoid: np.ndarray, radii: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """``acq`` with the worst score (-inf) inside the ball ``radii[i]`` around row ``i`` of
    ``avoid`` `(m, d)`.

    Keeps the maximizer's walkers off configurations that are running already, so one search
    yields candidates that are all far enough from them. Above ``_TREE_PAIRS`` row pairs, the
    balls are looked up in a k-d tree: a row is held if one of its ``_NEAR_BALLS`` nearest
    centres within the largest radius holds it, and a row with that many such centres and none
    holding it is checked against all of them (exact as the matrix). With budgets, hundreds of
    configurations tried at lower budgets only are avoided, and local search scores its
    candidates at every step: the matrix took a third of such a run's time (400 centres by
    300 candidates: 0.8 ms, the tree 0.1 ms).
    """
    squared = (radii * radii)[None, :]
    largest = float(radii.max()) if radii.size else 0.0
    trees: list[Any] = []  # (built at the first call that needs it)

    def dense(X: np.ndarray) -> np.ndarray:
        return np.asarray((_sq_dists(X, avoid) < squared).any(axis=1))

    def inside(X: np.ndarray) -> np.ndarray:
        if X.shape[0] * avoid.shape[0] <= _TREE_PAIRS:
            return dense(X)
        if not trees:
            from scipy.spatial import cKDTree

            trees.append(cKDTree(avoid))
        k = min(_NEAR_BALLS, avoid.shape[0])
        dist, index = trees[0].query(X, k=k, distance_upper_bound=largest)
        dist = np.asarray(dist).reshape(len(X), k)
        index = np.asarray(index).reshape(len(X), k)
        found = index < avoid.shape[0]  # (missing neighbours get the index len(avoid))
        held = np.zeros(index.shape, dtype=bool)
        held[found] = dist[found] < radii[index[found]]
        out: np.ndarray = np.asarray(held.any(axis=1))
        crowded = found[:, -1] & ~out  # a centre beyond the k nearest may hold it
        if crowded.any():
            out[crowded] = dense(X[crowded])
        return out

    return worst_where(acq, inside)


#: Nearest ball centres :func:`_away_from` looks at per row when it uses a k-d tree, and the
#: row-to-centre pairs above which it does.
_NEAR_BALLS = 8
_TREE_PAIRS = 2**14


class _Coverage:
    """The distinct configurations evaluated so far, embedded, and the distance from any
    configuration to the nearest of them.

    The training rows only grow between two searches (by the results told meanwhile), so the
    k-d tree over them is kept, and the distinct rows added since go into a small second
    tree; the first is rebuilt once those outnumber an eighth of it. (``np.unique`` and a
    tree over every row took about 25 ms per proposal at 20,000 trials, a long-run audit.)
    The trees split at sliding midpoints (``balanced_tree=False``): the same distances, in
    half the query time of median splits.
    Rows that are not the last call's with more at the end start it afresh.

    With ``categories``, the rows are encodings compared as ``_embed`` compares them, without
    embedding them or building trees: each categorical column adds 1 to the squared distance
    where two choices differ, 0.5 where only one row has a choice (the other is inactive).
    For spaces whose categoricals have hundreds of choices, whose one-hot embedding a k-d tree
    searched at the cost of every row (0.6 s per proposal with 2,000 choices and 220 results;
    an audit of large spaces), the distances are then computed for all pairs at once.

    Args:
        embed: Maps `(k, d)` encodings to `(k, e)` embeddings (rows alone, as ``_embed``).
        categories: The categorical columns of the encodings, and each one's number of
            choices (two `(c,)` arrays).
    """

    def __init__(
        self,
        embed: Callable[[np.ndarray], np.ndarray],
        categories: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.embed = embed
        self.categories = categories
        self._stacked: np.ndarray | None = None  # _kept and _added as one array (categories)
        self._rows: np.ndarray | None = None  # the rows of the last update
        self._keys: set[bytes] = set()  # every distinct row
        self._kept: list[np.ndarray] = []  # distinct rows in the main tree
        self._added: list[np.ndarray] = []  # distinct rows since, in the second tree
        self._main: Any = None  # the k-d tree over _kept, None while it is empty
        self._extra: Any = None  # the k-d tree over _added, None while it is empty

    @classmethod
    def of(cls, points: np.ndarray) -> _Coverage:
        """The coverage of the `(n, e)` embedded ``points`` as they are."""
        coverage = cls(lambda rows: rows)
        coverage.update(points)
        return coverage

    def update(self, X: np.ndarray) -> int:
        """Take in the `(n, d)` encoded rows evaluated so far; return how many are distinct.

        As ``np.unique(X, axis=0).shape[0]``, with the trees over those distinct rows."""
        from scipy.spatial import cKDTree

        last = self._rows
        if last is not None and X.shape[0] >= last.shape[0] and X.shape[1] == last.shape[1]:
            same = np.array_equal(X[: last.shape[0]], last)
        else:
            same = False
        if not same:
            self._keys, self._kept, self._added = set(), [], []
        new = X if not same or last is None else X[last.shape[0] :]
        self._rows = X
        added = False
        for row in new:
            key = (row + 0.0).tobytes()  # (-0.0 as 0.0, as np.unique has them)
            if key not in self._keys:
                self._keys.add(key)
                self._added.append(row.copy())  # (a view would keep all of X alive)
                added = True
        if added or not same:
            self._stacked = None
            if self.categories is not None:
                return len(self._keys)  # (no trees: see distance)
            if len(self._added) > max(64, len(self._kept) // 8):
                self._kept += self._added
                self._added = []
                self._main = cKDTree(self.embed(np.array(self._kept)), balanced_tree=False)
            elif not self._kept:
                self._main = None
            self._extra = (
                cKDTree(self.embed(np.array(self._added)), balanced_tree=False)
                if self._added
                else None
            )
        return len(self._keys)

    def __len__(self) -> int:
        """How many distinct rows were taken in."""
        return len(self._keys)

    def distance(self, Z: np.ndarray) -> np.ndarray:
        """`(k,)` distance from each of the `(k, e)` embedded rows ``Z`` to the nearest row
        taken in (as one tree over all of them gives it); with ``categories``, of the `(k,
        d)` encoded rows ``Z``."""
        if self.categories is not None:
            return self._mixed_distance(Z)
        nearest = np.full(Z.shape[0], np.inf)
        for tree in (self._main, self._extra):
            if tree is not None:
                nearest = np.minimum(nearest, np.asarray(tree.query(Z)[0]))
        return nearest

    def _mixed_distance(self, Z: np.ndarray) -> np.ndarray:
        """:meth:`distance` with ``categories``: every pair, a block of ``Z``'s rows at a
        time (at most ``_DENSE_PAIRS`` pairs in memory)."""
        assert self.categories is not None
        if self._stacked is None:
            rows = self._kept + self._added
            self._stacked = np.array(rows) if rows else np.empty((0, Z.shape[1]))
        points = self._stacked
        nearest = np.full(Z.shape[0], np.inf)
        if points.shape[0] == 0 or Z.shape[0] == 0:
            return nearest
        columns, choices = self.categories
        numeric = np.setdiff1d(np.arange(Z.shape[1]), columns)
        # (a code that is no choice, as INACTIVE, is a row of zeros in the embedding)
        chosen = [(points[:, j] >= 0) & (points[:, j] < n) for j, n in zip(columns, choices)]
        block = max(1, _DENSE_PAIRS // points.shape[0])
        for start in range(0, Z.shape[0], block):
            z = Z[start : start + block]
            sq = _sq_dists(z[:, numeric], points[:, numeric])
            for (j, n), has in zip(zip(columns, choices), chosen):
                mine = (z[:, j] >= 0) & (z[:, j] < n)
                differ = z[:, j, None] != points[None, :, j]
                sq += differ * (0.5 * mine[:, None] + 0.5 * has[None, :])
            nearest[start : start + block] = np.sqrt(sq.min(axis=1))
        return nearest


class _Extrapolating:
    """A model whose variance grows with the distance to the nearest observation.

    A forest predicts far from every observation with the leaves of the nearest ones, so its
    trees agree there about as much as they do next to those observations: it is as sure of
    an unexplored region as of a well-sampled one, and expected improvement keeps refining the
    first basin it found. This view adds ``scale * (1 - exp(-dist**2 / (2 * length**2)))`` to
    the predicted variance: nothing at an observation, ``scale`` far from all of them.

    Args:
        model: The fitted model (or a marginalized view of it).
        points: `(n, e)` embeddings (:func:`_embed`) of the observed configurations, or
            their :class:`_Coverage`.
        length: Distance (embedded units) over which the added variance reaches 39% of
            ``scale``.
        scale: Added variance far from every observation, in the model's y space.
        embed: Maps `(k, d)` encodings to `(k, e)` embeddings.
    """

    def __init__(
        self,
        model: Any,
        points: np.ndarray | _Coverage,
        length: float,
        scale: float,
        embed: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.model = model
        self.coverage = points if isinstance(points, _Coverage) else _Coverage.of(points)
        self.length = length
        self.scale = scale
        self.embed = embed

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Extrapolating:
        raise NotImplementedError("an extrapolating view only predicts")

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self.model.predict(X)
        if X.shape[0] == 0:
            return np.asarray(mean), np.asarray(var)
        dist = self.coverage.distance(self.embed(X))
        far = -np.expm1(-0.5 * (dist / self.length) ** 2)
        return np.asarray(mean), np.asarray(var) + self.scale * far

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.transform_y(y))


# Origins of the configurations a selector proposes after its initial design.
_PROPOSED = frozenset({"model", "random", "random (plateau)"})


class ConfigSelector:
    """Proposes configurations no trial has used yet.

    Args:
        configspace: The space to propose from.
        initial_design: Configurations proposed first, in order.
        random_probability: Share of proposals after the initial design drawn at random; 1.0
            turns the selector into random search.
        plateau_probability: Share drawn at random instead while two or more configurations
            share the lowest cost (within a relative 1e-9), when that is more than
            ``random_probability``. Such a tie marks a plateau, as when the cost counts
            misclassified samples: the model sees no slope around the incumbent, and its
            proposals keep landing on the plateau or on its edges. Random proposals look for
            another basin until a lower cost breaks the tie. Only for a single objective;
            costs are compared as :meth:`RunHistory.get_cost` gives them (each configuration
            at its highest budget), so with budgets leave it at 0.
        seed: Seed of every random choice.
        proposer: The model-based part: a callable ``proposer(history, rng) -> Configuration |
            None`` (None: it found nothing new). Without one, every proposal is random. If it
            has a method ``prepare(history, rng)``, :meth:`prepare` calls it (see
            :meth:`ModelProposer.prepare`).
        n_given: How many of ``initial_design``'s first configurations the user gave
            (:class:`~smacx.InitialDesign`'s ``additional_configs``); the rest were drawn.
            In a run whose history already holds proposals made after a design (a run
            continued, perhaps with a larger ``n_trials`` and so a larger design), the drawn
            configurations it has not tried are skipped, as a space-filling start the model
            no longer needs; the given ones are still evaluated.
    """

    def __init__(
        self,
        configspace: ConfigurationSpace,
        initial_design: Sequence[Configuration],
        *,
        random_probability: float = 1.0,
        plateau_probability: float = 0.0,
        seed: int = 0,
        proposer: Proposer | None = None,
        n_given: int = 0,
    ) -> None:
        for name, value in (
            ("random_probability", random_probability),
            ("plateau_probability", plateau_probability),
        ):
            if not 0.0 <= value <= 1.0:
                raise ScenarioError(
                    f"ConfigSelector.{name}: expected a share in [0, 1], got {value!r}"
                )
        self.configspace = configspace
        self.initial_design = list(initial_design)
        if not is_whole(n_given) or not 0 <= n_given <= len(self.initial_design):
            raise ScenarioError(
                "ConfigSelector.n_given: expected a whole number from 0 to the initial "
                f"design's {len(self.initial_design)} configurations, got {n_given!r}"
            )
        self.n_given = int(n_given)
        self.random_probability = random_probability
        self.plateau_probability = plateau_probability
        self.proposer = proposer
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._random_pool: list[Configuration] = []  # drawn but not yet handed out, last first
        self._design_at = 0  # initial-design configurations handed out (or skipped)
        self._designed = False  # whether next_config has handed out the initial design
        self._costs: dict[int, float] = {}  # cost of every configuration with results, by id
        self._read = 0  # finished trials read into _costs
        self._tied = 1  # configurations sharing the lowest cost at the last check
        # Exact for small finite spaces (conditions and forbidden clauses included); else
        # ConfigSpace's product of the sizes, exact only without conditions and forbidden
        # clauses, which otherwise only bounds the size from above.
        self._finite = finite_vectors(configspace)
        size = configspace.estimate_size() if self._finite is None else len(self._finite)
        self.space_size = float(size) if size is not None else math.inf
        self._size_exact = self._finite is not None or not (
            configspace.conditions or configspace.forbidden_clauses
        )

    def join(self, n_configs: int) -> None:
        """Switch to a random stream of this start's own when the run already holds
        ``n_configs`` configurations (a new run, 0, keeps the seed's stream).

        All processes on a stored run share its seed, and each one started with the seed
        alone drew the same random configurations as every earlier start. :meth:`random_config`
        skips those already tried, but gives up after 4,080 draws in a row without a new one,
        and processes started together push one another onto its larger batches, whose
        configurations later starts then find tried as well: after about twenty restarts of
        two random-search workers on one run (5,686 configurations), every new process
        stopped at once, calling a continuous space exhausted. A stream of the seed and the
        number of stored configurations is new at each start that finds more of them, and
        still the same for a run continued from the same stored history. Processes that open
        the run at the same moment find the same number, and share a stream, as workers
        started together on a new run do (they skip one another's draws).

        Args:
            n_configs: How many configurations the run's history holds as this start
                opens it.
        """
        if n_configs > 0:
            self.rng = np.random.default_rng([self.seed, n_configs])

    def next_configs(self, history: RunHistory) -> Iterator[Configuration]:
        """An endless iterator of :meth:`next_config` ``(history)``.

        An exception raised by one ``next()`` (``SearchSpaceExhaustedError``, or a
        ``KeyboardInterrupt`` during a fit) reaches the caller and leaves the iterator usable:
        the next ``next()`` makes a new attempt. (A generator would be finished for good.)
        """
        return _Pulls(self.next_config, history)

    def next_config(self, history: RunHistory) -> Configuration:
        """The next configuration to evaluate, new to ``history``: the initial design's first,
        then random or model-based proposals. Its ``origin`` (ConfigSpace's attribute, stored
        with it in the run history) says which: ``"initial design"``, ``"model"``,
        ``"random"``, or ``"random (plateau)"`` for the extra random share on a plateau.

        Raises:
            SearchSpaceExhaustedError: Every configuration of a finite space has trials.
        """
        while self._design_at < len(self.initial_design):
            design_config = self.initial_design[self._design_at]
            self._design_at += 1
            if history.has_trials(design_config):
                continue
            if self._design_at > self.n_given and (
                not history.origins().isdisjoint(_PROPOSED)
                or self._design_at - self.n_given
                > len(self.initial_design) - self.n_given - history.n_told_configs()
            ):
                # The run went past a design before (this is a continued run, or a process
                # joining it late): a design drawn for a larger n_trials has points the first
                # start did not draw, and the model, trained on every result, does not need
                # them. (An audit's run continued from 160 to 200 trials spent 12 on them.)
                # Or results told before (a warm start) stand for as many design points, as
                # Optuna's TPE counts added trials towards its random start: 200 told results
                # were followed by a fresh design's 10 points (a warm-start audit).
                self._design_at = len(self.initial_design)
                break
            design_config.origin = "initial design"
            return design_config
        self._designed = True
        probability = self.random_probability
        origin = "random"
        if self.plateau_probability > probability and self._on_plateau(history):
            probability = self.plateau_probability
            origin = "random (plateau)"
        proposed: Configuration | None = None
        if self.proposer is not None and self.rng.random() >= probability:
            proposed = self.proposer(history, self.rng)
        if proposed is not None:
            proposed.origin = "model"
            return proposed
        config = self.random_config(history)
        config.origin = origin
        return config

    def _on_plateau(self, history: RunHistory) -> bool:
        """Whether two or more configurations share the lowest finite cost (single objective).

        Reads only the trials finished since the previous call.
        """
        if len(history.objectives) != 1:
            return False
        keys = history.finished_since(self._read)
        if not keys:  # nothing finished since the last check: its answer stands
            return self._tied >= 2
        self._read += len(keys)
        ids = sorted({key.config_id for key in keys})
        self._costs.update(zip(ids, history.costs_by_id(ids)))
        costs = np.fromiter(self._costs.values(), dtype=np.float64, count=len(self._costs))
        costs = costs[np.isfinite(costs)]
        if costs.size < 2:
            return False
        best = float(costs.min())
        tolerance = float(_tie_tolerance(best, float(costs.max()) - best))
        tied = int(np.count_nonzero(costs <= best + tolerance))
        if tied >= 2 and self._tied < 2:
            logger.info(
                "%d configurations share the lowest cost %g: %.0f%% of the proposals are random "
                "until a lower cost is found",
                tied,
                best,
                100 * self.plateau_probability,
            )
        self._tied = tied
        return tied >= 2

    def prepare(self, history: RunHistory) -> None:
        """Let the proposer work ahead while the caller waits for results, once the initial
        design is handed out (see :meth:`ModelProposer.prepare`; other proposers ignore it)."""
        prepare = getattr(self.proposer, "prepare", None)
        if prepare is not None and self._designed and self.random_probability < 1.0:
            prepare(history, self.rng)

    def random_config(self, history: RunHistory) -> Configuration:
        """A random configuration without trials in ``history``.

        Draws batches (doubling from 16) from the space's sampler, then, since its priors may
        all but never draw the values still untried, uniformly over every value. Gives up
        once every configuration of a space of known size has trials, or after
        ``_BARREN_BATCHES`` batches in a row found no new one; a small finite space is then
        searched exhaustively for a configuration the draws missed.

        Raises:
            SearchSpaceExhaustedError: No untried configuration is left (small finite
                spaces), or none turned up in the draws.
        """
        batch = 16
        draws = 0
        for attempt in range(_BARREN_BATCHES):
            while self._random_pool:
                config = self._random_pool.pop()
                if not history.has_trials(config):
                    return config
            # An estimate needs a batch first: the history may know configurations without
            # trials. An enumerated space is checked exactly below.
            if (attempt > 0 or self._finite is not None) and history.n_configs >= self.space_size:
                break
            if attempt < _PRIOR_BATCHES:
                # Seeding ConfigSpace costs more than sampling: draw a batch, keep the rest.
                sample = sample_seeded(self.configspace, batch, self.rng)
            else:
                # The space's sampler follows its priors (weights), which may all but never
                # draw the values still untried: draw every value alike instead.
                points = self.rng.random((batch, len(self.configspace)))
                sample = unit_to_configs(self.configspace, points, self.rng)
            self._random_pool = sample[::-1]
            draws += batch
            batch *= 2
        else:
            while self._random_pool:  # the last batch
                config = self._random_pool.pop()
                if not history.has_trials(config):
                    return config
        if self._finite is not None:
            untried, n_tried = self._untried(history, self._finite)
            if len(untried):
                row = untried[int(self.rng.integers(len(untried)))]
                found = Configuration(self.configspace, vector=row)
                return Configuration(  # with plain values, as the target should see them
                    self.configspace,
                    values={k: plain_value(v) for k, v in found.items()},
                )
            raise SearchSpaceExhaustedError(
                f"no untried configuration found: the search space holds "
                f"{_configurations(len(self._finite))} and the run has tried {n_tried}. "
                "Enlarge the space or lower n_trials."
            )
        if self._size_exact and history.n_configs >= self.space_size:
            raise SearchSpaceExhaustedError(
                f"no untried configuration found: the search space holds "
                f"{_configurations(self.space_size)} and the run has tried "
                f"{history.n_configs}. Enlarge the space or lower n_trials."
            )
        # The size is unknown, or an upper bound only: say what was seen, not a size.
        raise SearchSpaceExhaustedError(
            f"no untried configuration found: the run has tried {history.n_configs} distinct "
            f"configurations and {draws} random draws found no new one. Enlarge the space "
            "or lower n_trials."
        )

    @staticmethod
    def _untried(history: RunHistory, finite: np.ndarray) -> tuple[np.ndarray, int]:
        """The rows of ``finite`` (the enumerated space) without trials in ``history``, and
        how many of its configurations have trials."""
        tried = [
            config.get_array()
            for config in (history.get_config(i) for i in history.config_ids())
            if history.has_trials(config)
        ]
        d = finite.shape[1]
        tried_rows = np.array(tried, dtype=np.float64).reshape(len(tried), d)

        # (NaN, inactive, never equals itself)
        done = rows_in(inactive_as_code(finite), inactive_as_code(tried_rows))
        return finite[~done], int(np.count_nonzero(done))


def _configurations(n: float) -> str:
    return "1 configuration" if n == 1 else f"{n:g} configurations"


#: Batches from the space's own sampler (16 to 128 configurations) before uniform draws.
_PRIOR_BATCHES = 4
#: Batches in a row without a new configuration before :meth:`ConfigSelector.random_config`
#: gives up: 4,080 draws, about 0.1 s. (It used to draw up to 230,000, 15 to 40 s for a
#: conditional space whose size ConfigSpace overestimates.) A finite space too large to
#: enumerate and missing fewer than about one configuration in a thousand may end early.
_BARREN_BATCHES = 8


class _Pulls:
    """Endless iterator that calls ``pull(history)`` for every ``next()``."""

    def __init__(self, pull: Callable[[RunHistory], Configuration], history: RunHistory) -> None:
        self.pull = pull
        self.history = history

    def __iter__(self) -> _Pulls:
        return self

    def __next__(self) -> Configuration:
        return self.pull(self.history)


class ModelProposer:
    """Proposes the configuration that maximizes an acquisition function of a fitted surrogate.

    A search fits the model on the history as it is (or reuses the last fit, see
    ``refit_above`` and the rules for running trials below), binds the acquisition function to
    it and the incumbent's cost, and maximizes it over configurations without trials.

    * Training data: one row per finished trial at the largest budget that has at least
      ``min_observations`` results (multi-fidelity runs), the configuration's encoding with the
      instance's features appended when the scenario has them. Costs that are not finite
      (crashes with an infinite crash cost) are replaced by the worst finite cost seen. With
      several objectives each call draws random weights and scalarizes the normalized costs
      (ParEGO), so successive proposals explore the Pareto front.
    * Pending trials: the acquisition function is worst inside a ball around every running
      configuration (local penalization), so proposals made while trials run spread out
      instead of piling onto the same point. (A pessimistic constant liar, which trains on
      running configurations as if they had the worst cost, needed about four times as many
      trials on 8 workers to match a serial run's result on Branin; the balls alone need about
      as many as the serial run.) A ball's radius is half the distance from its
      centre to the nearest evaluated configuration, at most ``min_spread``: a refinement next
      to the incumbent blocks a small ball (several refinements run at once), a point in
      unexplored territory a large one.
    * With instance features, the acquisition function sees predictions averaged over all
      instances.
    * Trust region (``trust_region > 0``): the search stays inside a box around the
      configuration with the lowest cost, ``trust_region`` wide on each side of it (encoded
      units, numeric hyperparameters; integers and ordinals reach at least their neighbouring
      values; the candidates drawn inside keep the incumbent's categorical choices except
      one time in five, when a random choice is drawn). The box halves after every
      ``max(2, D // 2)`` results without a new lowest cost (``D`` free dimensions), and after
      three halvings the search covers the whole space again, until the next improvement
      brings the box back. This is the exploitation short runs lack: a forest's expected
      improvement is highest where its trees disagree, in the corners no one has tried, and
      on the benchmark's 14 tasks a run of 25 trials spent many of its proposals there. With
      the region the sum over tasks of the mean log10 regret fell from 6.04 to 4.08 at 25
      trials and from -1.91 to -3.86 at 50 (10 seeds), and from -13.74 to -15.07 at 100 (5
      seeds). The centre is the single trial with the lowest cost (with noise, possibly a
      lucky seed of a configuration rather than the incumbent). When fewer new
      configurations inside it are found than the search keeps, the whole space is searched
      too. It is off with several objectives (whose costs are scalarized differently for
      every proposal) and with instances (whose costs do not compare across instances), and
      needs a :class:`RegionMaximizer`.
    * Plateaus (``plateau_radius > 0``, one objective, no instances): the search returns no
      configuration within ``plateau_radius`` (Euclidean, encoded units) of an evaluated one
      whose cost another configuration shares (crashes aside: their imputed cost ties with
      the worst one); with nothing found outside, the selector draws a random configuration.
      A ball holds only configurations with the same categorical values and active
      hyperparameters (a radius below 0.5 never reaches across them). No step from the best
      (``perturb``, below) is taken while another configuration shares the lowest cost, nor
      into a ball of the last search. Equal costs are the mark of a flat region, as when a
      cost counts misclassified examples; a forest's trees agree that it is flat where they
      have seen it, and disagree a little just past its last point, so expected improvement
      kept proposing points a hair beyond it, each returning the same cost. On the SVM of
      ``benchmarks/tasks.py`` (svm_digits, 50 trials, seeds 0-39) one run spent 12 of its 50
      trials within 0.005 encoded units of one configuration, all at its best cost. With a
      radius of 0.015, 100-trial runs on 80 seeds ended at a median of 15 instead of 16 (46
      runs at 15 or fewer instead of 32; 31 runs better, 16 worse), and after 50 trials had
      30 runs at 15 or fewer instead of 19 (25 better, 11 worse; median 16 both). A radius
      of 0.03 did as well at 50 trials but not at 100. Continuous costs never tie, and their
      proposals are as before.
    * Unexplored regions (``extrapolation > 0``): the acquisition function sees a variance
      that grows with the distance to the nearest evaluated configuration (see
      ``_extrapolating``), so a forest that has found one basin still looks at others
      once the observations are dense enough to afford it.
    * Between results: each fit keeps up to ``batch_size`` of the best candidates the maximizer
      found (more when it may be late, below), outside each other's balls (Euclidean, encoded
      units). Further calls hand out the next of them that is still new instead of fitting
      and maximizing again, as long as no more results have arrived since the fit than it may
      be late. A serial run always has a new result and nothing running, so it fits every
      time. With k trials running it may be as many results late as a proposal with a fit
      takes times the rate of results, doubled (fits may take half the time between
      results), and at most (k - 16) / 4: with slow trials it still fits for every result,
      with up to 16 running it always does (each missing outcome is a large share of what
      the model lacks, and the loop keeps up with 8 workers), and with many fast ones one
      search serves up to (k - 16) / 4 + 1 proposals, which keeps the proposal rate up with the
      results. (With k trials running the model lacks k outcomes anyway; a quarter more late
      ones change little.) On 8 workers, fitting for every result instead of every third one
      reached a serial run's result in about a quarter fewer trials
      (``benchmarks/async_sim.py``), and instead of every second one in a sixth to a half
      fewer (``benchmarks/speedup.py``, Hartmann-6, Branin, Levy-5).
    * Bursts: every result told since the previous call freed a worker whose proposal is
      asked next (at most one more than the most trials seen running), so a search asks for
      that many candidates that are still owed, plus what may serve later results: workers
      freed together get proposals from one search.
    * Ahead of results (:meth:`prepare`, called by ``SMAC.optimize`` while every worker is
      busy): when proposals may be late, the search for the next results runs while the
      workers are busy instead of after a result has freed one of them. Together with the
      burst rule and the loop that fills every free worker first, this kept 0.07 more of 64
      workers with 1 s trials busy on average (0 to 0.14 over six alternating pairs of runs
      against the code before; ``benchmarks/parallel.py``, figures in its README). When
      proposals may not be late (up to 16 running), ``search_ahead`` fits on every result
      there is and keeps candidates for the next one or two results, which use them only if
      none of those results lowers the best cost (a new best is searched for afresh). On 8
      workers with 1 s trials the median idle time of a worker between trials fell from 40
      to 20 ms (efficiency 0.95 to 0.96).
    * Steps from the best (``perturb > 0``): while trials run, that share of the proposals
      is the configuration with the lowest cost with its active numeric values moved by one
      Gaussian step (standard deviation drawn log-uniformly from 0.001 to 0.05 encoded units;
      categorical values kept), new and outside the running trials' balls. A serial run's
      model refines its incumbent in small steps once it has found the basin; with trials
      running, the balls and the spread of the kept candidates push most proposals away from
      it, and the refinement lags. On 8 workers with 1 s trials a quarter of such steps cut
      the wall time to reach a serial run's 100-trial cost from 0.173 to 0.165 of the serial
      run's time (pooled median, 13 tasks, seeds 10-19, ``benchmarks/speedup.py``; 0.162 to
      0.144 on seeds 10-14, 0.192 to 0.179 on 15-19). No step is taken with several
      objectives or with instances, nor before the model has data.

    Args:
        encoder: Maps configurations to ``(n, d)`` model inputs and back.
        model: The surrogate; fitted by every search that finds the last fit too old.
        acquisition: Acquisition settings, bound to the model on every call.
        maximizer: Searches the encoded space for the acquisition's maximum.
        n_objectives: How many costs a trial has.
        min_observations: Results a budget needs before the model trains on it; by default
            the number of dimensions that vary (not constants) plus one, in a space with
            conditions at most ``design_size`` (or 10), and at least 3.
        n_start_points: How many of the best observed configurations seed the local search.
        batch_size: Candidates kept from one fit for the calls made before the next result.
        min_spread: Largest radius of the ball around a running or kept candidate that
            later candidates stay out of.
        refit_above: Up to this many observations the model is fitted for every proposal;
            above, once per ``1 + (n - refit_above) // 100`` new results (every 9th at 1,000),
            with the acquisition still bound to the current incumbent's cost. With k trials
            running, possibly less often: at most once per (k - 16) / 4 + 1 new results (see
            above).
        extrapolation: Variance added far from every observation, as a share of the variance
            of the training costs in the model's y space (0 turns it off; suits models whose
            own variance ignores that distance, such as random forests).
        trust_region: Half the side of the trust region at its largest, in encoded units
            (0 turns it off: every search covers the whole space).
        plateau_radius: Radius of the ball around each configuration with a shared cost that
            proposals stay out of, in encoded units below 0.5 (0 turns it off; see above).
        perturb: Share of the proposals made while trials run that step away from the
            configuration with the lowest cost instead of maximizing the acquisition function
            (0 turns it off; see above). Serial runs never perturb.
        search_ahead: Whether :meth:`prepare` searches for the next results while every
            worker is busy also when proposals may not be late (see above).
        design_size: How many configurations the initial design holds; a
            :class:`~smacx.acquisition.PriorWeighted` acquisition's prior weighs less with
            every configuration beyond them.
        noisy: Whether the target is noisy (the scenario is not deterministic): the model then
            trains on one row per configuration (and instance) holding its mean cost over its
            seeds, as SMAC3 does, instead of one row per trial, so a lucky seed does not pull
            the search to it.
    """

    def __init__(
        self,
        encoder: Encoder,
        model: Model,
        acquisition: Acquisition,
        maximizer: Maximizer,
        *,
        n_objectives: int = 1,
        min_observations: int | None = None,
        n_start_points: int = 10,
        batch_size: int = 4,
        min_spread: float = 0.05,
        refit_above: int = 200,
        extrapolation: float = 0.0,
        trust_region: float = 0.0,
        plateau_radius: float = 0.0,
        perturb: float = 0.0,
        search_ahead: bool = True,
        noisy: bool = False,
        design_size: int = 0,
    ) -> None:
        self.encoder = encoder
        self.design_size = design_size
        self.model = model
        self.acquisition = acquisition
        self.maximizer = maximizer
        self.n_objectives = n_objectives
        self._n_free_dims = int(np.count_nonzero(encoder.n_values != 1))
        if min_observations is None:
            # As many results as the space has dimensions that vary, and one more. In a space
            # with conditions, where most of them are inactive in any configuration, no more
            # than the initial design (or 10): an AutoML space of 140 hyperparameters, about 21
            # of them active at once, was random search for its first 141 trials (an audit).
            min_observations = self._n_free_dims + 1
            if encoder.configspace.conditional_hyperparameters:
                min_observations = min(min_observations, max(design_size, 10))
            min_observations = max(3, min_observations)
        self.min_observations = min_observations
        self.n_start_points = n_start_points
        self.batch_size = batch_size
        self.min_spread = min_spread
        self.refit_above = refit_above
        if not 0.0 <= extrapolation < math.inf:
            raise ScenarioError(
                f"ModelProposer.extrapolation: expected a finite share >= 0, got {extrapolation!r}"
            )
        self.extrapolation = extrapolation
        if not 0.0 <= trust_region <= 1.0:
            raise ScenarioError(
                "ModelProposer.trust_region: expected a half width in [0, 1] (encoded units), "
                f"got {trust_region!r}"
            )
        if trust_region > 0.0 and not _takes_region(maximizer):
            raise ScenarioError(
                "ModelProposer.trust_region: expected a maximizer whose maximize() takes an "
                f"optional region= keyword (see RegionMaximizer), got "
                f"{type(maximizer).__name__}; "
                "pass trust_region=0 or such a maximizer"
            )
        self.trust_region = trust_region
        if not (is_real(plateau_radius) and 0.0 <= plateau_radius < 0.5):
            raise ScenarioError(
                "ModelProposer.plateau_radius: expected a radius in [0, 0.5) (encoded units), "
                f"got {plateau_radius!r}"
            )
        self.plateau_radius = plateau_radius
        if not 0.0 <= perturb <= 1.0:
            raise ScenarioError(
                f"ModelProposer.perturb: expected a share of proposals in [0, 1], got {perturb!r}"
            )
        self.perturb = perturb
        self.search_ahead = search_ahead
        self.noisy = noisy  # the scenario is not deterministic
        # With a PriorWeighted acquisition on a space with priors: the prior's weight right
        # after the initial design, and the priors' mode (encoded), where the local search
        # also starts.
        self._prior_beta = 0.0
        self._prior_mode = np.empty((0, encoder.n_dims))
        if isinstance(acquisition, PriorWeighted) and encoder.prior_names:
            self._prior_beta = acquisition.beta if acquisition.beta is not None else 10.0
            self._prior_mode = encoder.prior_mode()
        # (history.n_finished, lowest training value, training rows) at the last search made
        # ahead by prepare() for proposals that may not be late; None before the first one
        self._ahead: tuple[int, float, int] | None = None
        # categorical columns, one-hot encoded for distances (see _embed)
        self._categorical = np.flatnonzero(encoder.is_categorical)
        # the configurations evaluated so far, for the distance to the nearest (extrapolation);
        # with categoricals of many choices, compared without their one-hot embedding (the
        # coverage then compares the encodings as _embed would)
        choices = np.asarray(encoder.n_categories)[self._categorical].astype(int)
        wide = int(choices.sum()) > _WIDE_EMBEDDING
        self._distance_embed = _as_they_are if wide else self._embed
        self._coverage = _Coverage(
            self._distance_embed, (self._categorical, choices) if wide else None
        )
        self._fitted_at = -1  # observations at the last fit
        self._fitted_best = math.inf  # lowest training value at the last fit
        # ParEGO's weights, and each objective's lowest and highest cost, at the last fit
        self._parego: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._fit_seconds = 0.0  # moving average of a search's time when it refits
        self._arrivals: deque[tuple[float, int]] = deque(maxlen=9)  # (time, n_finished)
        self._spare: np.ndarray = np.empty((0, encoder.n_dims))  # candidates left from a fit
        self._spare_at = -1  # history.n_finished when they were found
        self._seen = 0  # history.n_finished at the previous call
        self._owed = 0  # proposals still owed to workers freed by results told so far
        self._peak_running = 0  # most trials seen running at a call
        # scaled features of every instance (the encoder's), or None without instance features
        self.features = encoder.instance_feature_matrix()
        self._instance_row = {name: row for row, name in enumerate(encoder.instance_names)}
        # encoding of every configuration by id (row i: config id i), filled as ids appear
        self._codes = np.empty((0, encoder.n_dims))
        self._encoded = np.zeros(0, dtype=bool)
        # finished trials read so far, by budget: (config id, instance, costs)
        self._rows: dict[float | None, list[tuple[int, str | None, list[float]]]] = {}
        self._read = 0
        # what _lowest read of the training rows: the list, the configuration id of each row
        # read, the index and cost of the lowest, and whether a row was on an instance
        self._lowest_of: list[tuple[int, str | None, list[float]]] | None = None
        self._lowest_ids: list[int] = []
        self._lowest_at, self._lowest_cost, self._on_instances = -1, math.inf, False
        # the two lowest finite first costs of distinct configurations read, with their ids,
        # and the highest (see _lowest_is_shared)
        self._lows: list[tuple[float, int]] = []
        self._highest_cost = -math.inf
        self._balls: _Balls | None = None  # the plateau balls of the last search
        # encoding (bytes) -> (radius of its ball, training rows it was computed from); see
        # _running_radii
        self._radius_of: dict[bytes, tuple[float, int]] = {}
        # the encodings of the configurations with results, for _radii
        self._evaluated = _Coverage(lambda rows: rows)

    def _prior_step(self, history: RunHistory) -> int:
        """piBO's ``t``: one plus the configurations the run has tried beyond the initial
        design's ``design_size`` (see :class:`~smacx.acquisition.PriorWeighted`). Counted, not
        read from the configurations' origins: Hyperband's brackets store their own."""
        return 1 + max(0, history.n_configs - self.design_size)

    def _encode_ids(self, history: RunHistory, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """`(len(ids), d)` encodings of configurations by id, each encoded once per run."""
        index = np.asarray(ids, dtype=np.intp)
        if index.size == 0:
            return np.empty((0, self.encoder.n_dims))
        if index.max() >= len(self._encoded):
            grow = max(int(index.max()) + 1, 2 * len(self._encoded))
            self._codes = np.vstack(
                [self._codes, np.empty((grow - len(self._codes), self.encoder.n_dims))]
            )
            self._encoded = np.concatenate(
                [self._encoded, np.zeros(grow - len(self._encoded), bool)]
            )
        missing = ~self._encoded[index]
        if missing.any():  # (the common case, all encoded, takes no more array operations)
            new = np.unique(index[missing])
            self._codes[new] = self.encoder.encode([history.get_config(int(i)) for i in new])
            self._encoded[new] = True
        rows: np.ndarray = self._codes[index]
        return rows

    def _training_rows(self, history: RunHistory) -> list[tuple[int, str | None, list[float]]]:
        """The finished trials the model trains on, ``(config id, instance, costs)`` in the
        order their results arrived: those at the largest budget with at least
        ``min_observations`` results; empty while no budget has that many."""
        new = history.finished_since(self._read)
        self._read += len(new)
        for key in new:
            value = history[key]
            costs = value.costs()
            if len(costs) > 1 and value.status is not StatusType.SUCCESS:
                # A failure's cost as unknown, as at crash_cost=inf: imputed at the worst of
                # each objective, and no part of ParEGO's normalization. A finite crash_cost
                # (1e6) squeezed every success into a sliver of [0, 1] (the hypervolume fell
                # from 0.805 to 0.745 on ZDT1, a multi-objective audit's finding).
                costs = [math.inf] * len(costs)
            self._rows.setdefault(key.budget, []).append((key.config_id, key.instance, costs))
        by_budget = self._rows
        usable = [b for b, rows in by_budget.items() if len(rows) >= self.min_observations]
        if not usable:
            return []
        return by_budget[max(usable, key=lambda b: -math.inf if b is None else b)]

    def _training_data(
        self, history: RunHistory
    ) -> tuple[list[int], list[str | None], np.ndarray] | None:
        """The training rows' configuration ids, instances and `(n, m)` costs (``m``
        objectives); None while the model has too few."""
        rows = self._training_rows(history)
        if not rows:
            return None
        costs = np.array([r[2] for r in rows], dtype=float)
        return [r[0] for r in rows], [r[1] for r in rows], costs

    def _scalarize(self, costs: np.ndarray, rng: np.random.Generator, due: bool) -> np.ndarray:
        """``(n, m)`` costs to ``(n,)`` finite values: a cost that is not finite becomes the
        worst finite one of its objective; with m > 1, ParEGO's augmented Chebyshev
        scalarization of the costs normalized to [0, 1] per objective.

        ParEGO's random weights and its normalization are drawn and measured when the model is
        ``due`` for a fit, and kept until the next one: the model and the cost to beat then
        see one scalarization, also in proposals made without a fit.
        """
        finite = np.isfinite(costs)
        if not finite.any():
            return np.zeros(len(costs))
        m = costs.shape[1]
        if m > 1 and not due and self._parego is not None and self._parego[0].shape[0] == m:
            weights, best, worst = self._parego
        else:
            worst = np.where(finite, costs, -np.inf).max(axis=0)
            best = np.where(finite, costs, np.inf).min(axis=0)
            worst = np.where(np.isfinite(worst), worst, 0.0)
            best = np.where(np.isfinite(best), best, 0.0)
            if m > 1:
                weights = rng.dirichlet(np.ones(m))
                self._parego = (weights, best, worst)
        costs = np.where(finite, costs, worst)
        if m == 1:
            return costs[:, 0]
        span = np.where(worst > best, worst - best, 1.0)
        weighted = (costs - best) / span * weights
        scalar: np.ndarray = weighted.max(axis=1) + 0.05 * weighted.sum(axis=1)
        return scalar

    def _from_spare(self, history: RunHistory, late: int) -> Configuration | None:
        """The best kept candidate without trials in ``history``, or None when none is left or
        the candidates are more than ``late`` results old. Candidates are used up as they are
        looked at (see :meth:`_new_config`)."""
        if not 0 <= history.n_finished - self._spare_at <= late:
            return None
        while len(self._spare):
            row, self._spare = self._spare[:1], self._spare[1:]
            config = self._new_config(history, row)
            if config is not None:
                return config
        return None

    def _new_config(self, history: RunHistory, row: np.ndarray) -> Configuration | None:
        """The configuration of the encoded ``(1, d)`` ``row``, or None when it has trials in
        ``history`` or cannot be decoded.

        A row ConfigSpace rejects is skipped (logged at debug level): smacx and ConfigSpace
        can disagree on which hyperparameters are active (ConfigSpace 1.2 with an
        OR-conjunction and an AND-conjunction over the same parents), and the history rebuilds
        every configuration from its values, which ConfigSpace checks. The check costs a few
        microseconds against the decoding's hundred and more.
        """
        try:
            config = self.encoder.decode(row)[0]
            if history.has_trials(config):
                return None
            config.check_valid_configuration()
        except ValueError as err:  # ConfigSpace's errors and ScenarioError (forbidden)
            logger.debug(
                "selector: skipped a candidate ConfigSpace rejects (%s: %s)",
                type(err).__name__,
                str(err).splitlines()[0] if str(err) else "",
            )
            return None
        return config

    def _late_allowance(self, history: RunHistory) -> int:
        """How many results late a proposal may be: none without running trials; with k
        running, as many as one fit and search last times the rate of results (median over
        the last 8 arrivals) divided by ``_BUSY_SHARE``, at most ``(k - 16) // 4`` (also
        while that rate is unknown). Notes the time when ``history`` has new results."""
        n = history.n_finished
        if not self._arrivals or self._arrivals[-1][1] != n:
            self._arrivals.append((time.perf_counter(), n))
        cap = _late_cap(history.n_running)
        if cap == 0 or len(self._arrivals) < 2 or not self._fit_seconds > 0.0:
            return cap
        # Median time per result over the last few arrivals: one slow start does not count.
        # (In plain Python: numpy's median of eight numbers took 5% of the main thread at 64
        # workers.)
        per_result = statistics.median(
            (t1 - t0) / (n1 - n0) for (t0, n0), (t1, n1) in itertools.pairwise(self._arrivals)
        )
        if not per_result > 0.0:
            return cap
        rate = 1.0 / per_result  # results per second
        return min(cap, int(self._fit_seconds * rate / _BUSY_SHARE + 1e-9))

    def __call__(self, history: RunHistory, rng: np.random.Generator) -> Configuration | None:
        late = self._late_allowance(history)
        # Each result since the previous call freed a worker, and its proposal is asked next
        # (with nothing ever running, as in a serial ask/tell loop, only this one).
        self._peak_running = max(self._peak_running, history.n_running)
        new, self._seen = history.n_finished - self._seen, history.n_finished
        self._owed = min(self._owed + new, self._peak_running + 1)
        spare = self._perturbed(history, rng)
        if spare is None:
            spare = self._from_spare(history, max(late, self._ahead_lag(history)))
        if spare is None:
            # for the proposals still owed, and for up to ``late`` results after them
            keep = max(self.batch_size, self._owed + late)
            self._search(history, rng, late, keep)
            spare = self._from_spare(history, late)
        self._owed = max(self._owed - 1, 0)
        return spare

    def _perturbed(self, history: RunHistory, rng: np.random.Generator) -> Configuration | None:
        """With trials running, a ``perturb`` share of the calls: the configuration of the
        lowest training value with its numeric values moved by a Gaussian step; None for the
        other calls, while the lowest cost is shared (a plateau, with ``plateau_radius``), or
        when ten steps found nothing new outside the running trials' balls and the last
        search's plateau balls.

        Each step's standard deviation is drawn log-uniformly from ``_PERTURB_SCALES``
        (encoded units), for every active numeric value at once; categorical values stay.
        """
        if (
            self.perturb <= 0.0
            or history.n_running == 0
            or self.n_objectives > 1
            or rng.random() >= self.perturb
        ):
            return None
        lowest = self._lowest(history)
        if lowest is None or not math.isfinite(lowest[1]):
            return None
        if self.plateau_radius > 0.0 and self._lowest_is_shared():
            return None
        center = self._encode_ids(history, [lowest[0]])[0]
        movable = ~self.encoder.is_categorical & (center != INACTIVE) & (self.encoder.n_values != 1)
        if not movable.any():
            return None
        running = self._encode_ids(history, [key.config_id for key, _ in history.running_items()])
        self._prune_radii(running)
        low, high = np.log(_PERTURB_SCALES)
        for _ in range(10):
            step = rng.normal(0.0, np.exp(rng.uniform(low, high)), int(movable.sum()))
            x = center.copy()
            x[movable] = np.clip(x[movable] + step, 0.0, 1.0)
            if running.shape[0]:
                # Only running configurations within ``min_spread`` (the largest radius) can
                # hold the step in their balls: only their radii are looked up.
                sq = ((running - x) ** 2).sum(axis=1)
                near = np.flatnonzero(sq < self.min_spread**2)
                if near.size:
                    radii = self._running_radii(history, running[near])
                    if (sq[near] < radii * radii).any():
                        continue
            if self._balls is not None and self._balls.contain(x[None, :])[0]:
                continue  # next to a configuration whose cost another one shares
            config = self._new_config(history, x[None, :])
            if config is not None:
                return config
        return None

    def _running_radii(self, history: RunHistory, rows: np.ndarray) -> np.ndarray:
        """`(k,)` radii (:func:`_radii`) of the balls around the encoded configurations
        ``rows`` `(k, d)`, against the training rows :meth:`_lowest` has read.

        A radius only shrinks as rows are added, so each is kept (by its encoding) with the
        number of rows it was computed from and updated from the newer rows alone: while
        trials run, this is asked for the same running configurations call after call.
        A search (:meth:`_search`) stores the radii of the candidates it keeps as spares.
        """
        n = len(self._lowest_ids)
        keys = [row.tobytes() for row in rows]
        radii = np.full(len(keys), self.min_spread)
        seen = np.zeros(len(keys), dtype=np.intp)
        for k, key in enumerate(keys):
            radii[k], seen[k] = self._radius_of.get(key, (self.min_spread, 0))
        stale = np.flatnonzero(seen < n)
        if stale.size:
            newer = self._encode_ids(history, self._lowest_ids[int(seen[stale].min()) :])
            radii[stale] = np.minimum(radii[stale], _radii(rows[stale], newer, self.min_spread))
            for k in stale.tolist():
                self._radius_of[keys[k]] = (float(radii[k]), n)
        return radii

    def _prune_radii(self, running: np.ndarray) -> None:
        """Forget the kept radii (see :meth:`_running_radii`) of all but the `(m, d)` running
        rows once there are many more than those."""
        if len(self._radius_of) > 4 * max(len(running), 16):
            kept = {row.tobytes() for row in running}
            self._radius_of = {k: v for k, v in self._radius_of.items() if k in kept}

    def _lowest(self, history: RunHistory) -> tuple[int, float] | None:
        """The configuration id of the training row with the lowest first cost (the first of
        ties) and that cost (``inf`` when none is finite); None when the model has no data
        yet or the costs are on instances, which do not compare.

        Reads only the rows added since the previous call (this runs for many proposals while
        trials run, with thousands of rows), and keeps their configuration ids in
        ``_lowest_ids``.
        """
        rows = self._training_rows(history)
        if not rows:
            return None
        if self._lowest_of is not rows or len(self._lowest_ids) > len(rows):
            # first call, or the model moved to another budget
            self._lowest_of, self._lowest_ids = rows, []
            self._lowest_at, self._lowest_cost, self._on_instances = -1, math.inf, False
            self._lows, self._highest_cost = [], -math.inf
            self._radius_of = {}
        start = len(self._lowest_ids)
        new = rows[start:]
        if new:
            self._on_instances = self._on_instances or any(row[1] is not None for row in new)
            costs = np.array([row[2][0] for row in new], dtype=float)
            costs = np.where(np.isfinite(costs), costs, np.inf)  # a NaN would win argmin
            self._note_lows(costs, [row[0] for row in new])
            i = int(np.argmin(costs))
            if costs[i] < self._lowest_cost:
                self._lowest_at, self._lowest_cost = start + i, float(costs[i])
            self._lowest_ids.extend(row[0] for row in new)  # (amortized: runs of 100,000)
        if self._on_instances:
            return None
        at = max(self._lowest_at, 0)  # (all inf: the first row, as argmin gives)
        return self._lowest_ids[at], self._lowest_cost

    def _note_lows(self, costs: np.ndarray, ids: list[int]) -> None:
        """Take the first costs `(k,)` of new training rows of configurations ``ids`` into the
        two lowest of distinct configurations and the highest (finite costs only)."""
        finite = np.isfinite(costs)
        if not finite.any():
            return
        values, owners = costs[finite], np.asarray(ids)[finite]
        self._highest_cost = max(self._highest_cost, float(values.max()))
        order = np.argsort(values, kind="stable")
        _, first = np.unique(owners[order], return_index=True)  # each configuration's lowest
        lowest: dict[int, float] = {}
        new = [(float(values[k]), int(owners[k])) for k in order[np.sort(first)[:2]]]
        for cost, owner in self._lows + new:
            lowest[owner] = min(cost, lowest.get(owner, math.inf))
        self._lows = sorted((cost, owner) for owner, cost in lowest.items())[:2]

    def _lowest_is_shared(self) -> bool:
        """Whether another configuration than the one :meth:`_lowest` found has the lowest
        first cost too (up to rounding, as :func:`_tied` has it), among the rows it read."""
        if len(self._lows) < 2:
            return False
        (low, _), (second, _) = self._lows
        return second <= low + float(_tie_tolerance(low, self._highest_cost - low))

    def prepare(self, history: RunHistory, rng: np.random.Generator) -> None:
        """Search ahead while every worker is busy, so that the proposals for the next results
        are ready when they arrive (the loop calls this before it blocks).

        When those proposals may be late (results arrive faster than a fit takes, see
        ``_late_allowance``), this search serves them as long as it is not too many results
        old. Otherwise (``search_ahead``) it serves the next results only if none of them
        lowers the best cost (see ``_ahead_lag``); a new best is searched for afresh. Does
        nothing when the history has not changed since the last search, or when the kept
        candidates still serve the results that may use them.
        """
        # the allowance the next call will see, with one trial fewer running
        late = min(self._late_allowance(history), _late_cap(history.n_running - 1))
        window = late - (history.n_finished - self._spare_at)  # results the spares may serve
        fresh = self._spare_at == history.n_finished
        if late <= 0:
            self._search_ahead(history, rng, fresh)
            return
        if fresh or (window > 0 and len(self._spare) >= window):
            return
        self._search(history, rng, late, max(self.batch_size, late + 1))

    def _search_ahead(self, history: RunHistory, rng: np.random.Generator, fresh: bool) -> None:
        """The search of :meth:`prepare` for proposals that may not be late: fitted on every
        result there is, for the results to come, with what ``_ahead_lag`` checks."""
        if not self.search_ahead or history.n_running == 0 or self.n_objectives > 1:
            return
        lowest = self._lowest(history)
        if lowest is None:
            return
        if not (fresh and len(self._spare)):  # else the last search saw every result
            self._search(history, rng, 0, self.batch_size)
        self._ahead = (history.n_finished, lowest[1], len(self._lowest_ids))

    def _ahead_lag(self, history: RunHistory) -> int:
        """How many results old the candidates of the last search ahead may be: all the
        results since it (at most ``_AHEAD_RESULTS``) if none of them lowered the lowest
        training value, else 0.

        With up to 16 trials running every proposal is fitted on every result (see
        ``_late_allowance``), and the worker that a result frees waits for that search: about
        40 ms per trial on 8 workers with 1 s trials (95% of them busy). A result that does
        not lower the best leaves the centres of the trust region and of the steps where they
        were (it adds one to the region's count of stale results), and the search made before
        it kept that trial's ball free already.
        """
        ahead = self._ahead
        if ahead is None or self._spare_at != ahead[0]:
            return 0
        since, best, n_rows = ahead
        lag = history.n_finished - since
        if not 0 < lag <= _AHEAD_RESULTS:
            return 0
        rows = self._training_rows(history)
        if len(rows) != n_rows + lag:
            return 0  # results of other budgets arrived, or the model moved to another budget
        if any(not row[2][0] >= best for row in rows[n_rows:]):
            return 0  # a new best (or a cost that does not compare): search afresh
        return lag

    def _search(self, history: RunHistory, rng: np.random.Generator, late: int, keep: int) -> None:
        """Fit the model if due, maximize the acquisition function, and keep the ``keep`` best
        spread-out candidates as spares (none if the search found nothing usable)."""
        self._spare, self._spare_at = self._spare[:0], history.n_finished
        started = time.perf_counter()
        data = self._training_data(history)
        if data is None:
            return
        ids, instances, costs = data
        # Finite costs beyond the models' range as if at its edge: a mean, a span or a
        # scalarization of costs near 1e308 overflowed to inf, and every later ask failed.
        limit = COST_LIMIT
        costs = np.where(np.isfinite(costs), np.clip(costs, -limit, limit), costs)
        n_rows = len(ids)  # trials, also once y holds one mean per configuration
        new_results = n_rows - self._fitted_at  # < 0: trained on a higher budget now
        gap = max(self._refit_gap(n_rows), late)
        due = self._fitted_at < 0 or not 0 <= new_results < gap
        y = self._scalarize(costs, rng, due)
        measured = np.isfinite(costs).all(axis=1)  # not a crash's imputed cost
        trial_ids = ids  # the cost to beat is the incumbent's mean over its trials
        if self.noisy:  # one grouping of the seeds for both
            ids, instances, means = _seed_means(ids, instances, np.column_stack([y, measured]))
            y, measured = means[:, 0], means[:, 1] == 1.0
        pending = [key.config_id for key, _ in history.running_items()]
        X = self._encode_ids(history, ids)
        model: Any = self.model
        if self.features is not None:
            rows = [self._instance_row.get(i, 0) if i is not None else 0 for i in instances]
            X = np.hstack([X, self.features[rows]])
        # A new best below the last fit's range is always fitted: the model's transform (a
        # log's offset) maps costs beyond its training range to an arbitrary floor.
        best = float(np.min(y))
        refit = due or best < self._fitted_best
        if refit:
            self.model.fit(X, y)
            self._fitted_at = n_rows
            self._fitted_best = best
        if self.features is not None:
            model = _Marginalized(self.model, self.features)
        X_config = X[:, : self.encoder.n_dims]
        best_y = self._best_y(model, trial_ids, ids, y, X_config)
        model = self._extrapolating(model, X_config, y)
        exponent = 0.0
        if self._prior_beta > 0.0:
            exponent = self._prior_beta / self._prior_step(history)
            acquisition = cast("PriorWeighted", self.acquisition)
            discretize = acquisition.discretize
            if discretize is None:
                discretize = isinstance(self.model, RandomForest)
            log_prior = functools.partial(
                self.encoder.log_prior,
                uniform_share=acquisition.uniform_share,
                bins=math.ceil(10.0 * exponent) if discretize else 0,
            )
            acq = acquisition.weigh(model, best_y, log_prior, exponent)
        else:
            acq = self.acquisition.bind(model, best_y)
            if not callable(acq):
                raise ScenarioError(
                    f"{type(self.acquisition).__name__}.bind(model, best_y) must return a "
                    "function of an (n, d) array of encoded configurations that gives their "
                    f"(n,) scores; got {type(acq).__name__} {safe_repr(acq):.80}."
                )
        if getattr(self.acquisition, "per_row_draws", False):
            acq = _canonical_scores(acq, self.encoder)
        # Kept away from: the running configurations, and those the model has no row of, as
        # under budgets a configuration tried at lower budgets only (a bracket's first stage
        # asks for many while the rows of the top budget stay as they were, and the same
        # model proposed next to its previous proposals: 13 of 294 configurations within 1e-4
        # of an earlier one in three Hyperband runs on Branin).
        known_ids = np.asarray(history.config_ids(), dtype=np.intp)
        trained = np.asarray(trial_ids, dtype=np.intp)
        # (np.setdiff1d sorted 20,000 ids twice per proposal: 7 ms)
        has_rows = np.zeros(max(known_ids.max(initial=-1), trained.max(initial=-1)) + 1, bool)
        has_rows[trained] = True
        avoid = np.union1d(known_ids[~has_rows[known_ids]], np.asarray(pending, dtype=np.intp))
        X_running = self._encode_ids(history, avoid)
        running_radii = _radii(X_running, X_config, self.min_spread, self._evaluated)
        if avoid.size:
            acq = _away_from(acq, X_running, running_radii)
        balls = self._balls = self._plateau_balls(y, measured, X_config, ids, instances)
        if balls is not None:
            acq = worst_where(acq, balls.contain)
        order = np.argsort(y, kind="stable")
        starts = X[order[: self.n_start_points], : self.encoder.n_dims]
        if self._prior_mode.size:
            starts = np.vstack([starts, self._prior_mode])
        # While the priors outweigh the model (beta / t >= 1), the search goes where they
        # point, not only around the best configuration: a strong prior far from the design's
        # best point was never followed (14 to 19 of 19 proposals 0.83 from its mode).
        region = None if exponent >= 1.0 else self._region(y, X_config[order[0]], instances)
        known = self._encode_ids(history, known_ids)
        # Many candidates of one search sit close together; with trials running, scan more of
        # them to find ``keep`` that are spread out. (None spread out: every candidate is
        # next to a running trial, and the selector draws a random configuration.)
        size = (32 if avoid.size else 8) * keep
        found = np.empty((0, self.encoder.n_dims))
        if region is not None:
            searcher = cast("RegionMaximizer", self.maximizer)
            found = self._checked(searcher.maximize(acq, size, starts, known, region=region))
            found = found[region.contains(found)]  # rows outside it come back unranked
        if found.shape[0] < keep:
            # No region, or too few new configurations inside it: search everywhere too.
            more = self._checked(self.maximizer.maximize(acq, size, starts, known))
            found = np.concatenate([found, more[~rows_in(more, found)]])
        if balls is not None:  # a search that found nothing better returns rows inside
            found = found[~balls.contain(found)]
        if len(found):
            self._spare, radii = self._spread(found, X_running, running_radii, X_config, keep)
            if self.perturb > 0.0 and pending and self.n_objectives == 1:  # _perturbed reads
                self._prune_radii(X_running)
                for row, radius in zip(self._spare, radii.tolist()):  # see _running_radii
                    self._radius_of[row.tobytes()] = (radius, n_rows)
        if refit:  # moving average of what a proposal with a fit costs
            spent = time.perf_counter() - started
            self._fit_seconds = (
                spent if self._fit_seconds == 0.0 else 0.7 * self._fit_seconds + 0.3 * spent
            )

    def _plateau_balls(
        self,
        y: np.ndarray,
        measured: np.ndarray,
        X_config: np.ndarray,
        ids: Sequence[int],
        instances: Sequence[str | None],
    ) -> _Balls | None:
        """The balls of ``plateau_radius`` around the configurations (rows ``X_config``
        `(n, d)`, configuration ``ids``) whose training value `(n,)` ``y`` another
        configuration shares, among the rows whose cost was ``measured`` `(n,)` (a crash's
        imputed cost ties with the worst one and says nothing about flatness); None when there
        are none, when the radius is 0, with several objectives, and with instances, whose
        costs do not compare across instances."""
        if (
            self.plateau_radius <= 0.0
            or self.n_objectives > 1
            or self.features is not None
            or any(i is not None for i in instances)
        ):
            return None
        rows = np.flatnonzero(measured)
        _, first = np.unique(np.asarray(ids, dtype=np.intp)[rows], return_index=True)
        rows = rows[np.sort(first)]  # one per configuration: its repeats share nothing
        tied = rows[_tied(y[rows])]
        if tied.size == 0:
            return None
        return _Balls(np.unique(X_config[tied], axis=0), self.plateau_radius)

    def _region(
        self, y: np.ndarray, center: np.ndarray, instances: Sequence[str | None]
    ) -> Region | None:
        """The trust region around ``center`` (the encoding of the lowest training value) for
        training values ``y`` in the order their results arrived; None to search everywhere."""
        if (
            self.trust_region <= 0.0
            or self.n_objectives > 1
            or any(i is not None for i in instances)
        ):
            return None
        # results since the lowest value arrived (ties with it are no improvement)
        stale = len(y) - 1 - int(np.argmin(y))
        shrinks = stale // max(2, self._n_free_dims // 2)
        if shrinks >= _REGION_SHRINKS:
            return None
        return Region.around(self.encoder, center, self.trust_region * 0.5**shrinks)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """`(k, e)` rows for distances: numeric columns as encoded (inactive at -1), every
        categorical one-hot and scaled so that two different choices lie 1 apart."""
        if self._categorical.size == 0:
            return X
        parts = [np.delete(X, self._categorical, axis=1)]
        for j in self._categorical:
            choices = np.arange(int(self.encoder.n_categories[j]))
            parts.append((X[:, j : j + 1] == choices[None, :]) * math.sqrt(0.5))
        return np.hstack(parts)

    def _extrapolating(self, model: Any, X_config: np.ndarray, y: np.ndarray) -> Any:
        """``model`` seen through :class:`_Extrapolating`, or as is where that adds nothing.

        The added variance far from the observations is ``extrapolation`` times the variance
        of the training costs (model space), scaled by how densely the ``n`` evaluated
        configurations cover the ``D`` free dimensions: ``n ** (1 / D)`` per axis, from none of
        it at 3 per axis to all of it at 6 (2-d: 36 configurations; 3-d: 216). With fewer per axis
        the budget cannot explore every basin and refining the best one pays more. The length
        scale is half the typical spacing ``n ** (-1 / D)``.
        """
        D = max(self._n_free_dims, 1)
        if self.extrapolation <= 0.0 or X_config.shape[0] ** (1.0 / D) <= 3.0:
            return model  # cheap exit: even counting every row, the space is sparsely covered
        n = self._coverage.update(X_config)  # one per configuration (seeds, instances)
        per_axis = n ** (1.0 / D)
        share = self.extrapolation * min(max((per_axis - 3.0) / 3.0, 0.0), 1.0)
        if share <= 0.0 or n < 2:
            return model
        spread = float(np.var(np.asarray(self.model.transform_y(y), dtype=np.float64)))
        if not spread > 0.0:
            return model
        return _Extrapolating(
            model, self._coverage, 0.5 / per_axis, share * spread, self._distance_embed
        )

    def _refit_gap(self, n: int) -> int:
        """New results needed before the model is fitted again, with ``n`` observations."""
        return 1 if n <= self.refit_above else 1 + (n - self.refit_above) // 100

    def _checked(self, found: Any) -> np.ndarray:
        """What the maximizer returned, as `(m, d)` encoded rows.

        Raises:
            ScenarioError: Not such rows (a maximizer of the user's own that returned a list,
                rows of another width, or values in the hyperparameters' own units, which were
                clipped to the box's edges without a word).
        """
        name = f"{type(self.maximizer).__name__}.maximize"
        try:
            rows = np.asarray(found, dtype=np.float64)
        except (TypeError, ValueError):
            rows = np.empty(0)
        d = self.encoder.n_dims
        if rows.ndim != 2 or rows.shape[1] != d:
            raise ScenarioError(
                f"{name} must return an (m, {d}) numpy array of encoded configurations (see "
                f"Encoder); got {type(found).__name__} of shape {rows.shape}."
            )
        # (a categorical's column holds its code, 0 to its number of choices less one)
        top = np.where(self.encoder.is_categorical, self.encoder.n_categories - 1, 1.0)
        outside = ~((rows == INACTIVE) | ((rows >= 0.0) & (rows <= top)))
        if outside.any():
            column = int(np.flatnonzero(outside.any(axis=0))[0])
            raise ScenarioError(
                f"{name} must return encoded configurations (Encoder.encode's: numbers in "
                f"[0, 1], a categorical's codes, {INACTIVE:g} for an inactive hyperparameter); "
                f"got {float(rows[outside.any(axis=1)][0, column]):g} in column {column} "
                f"({self.encoder.names[column]!r}). Encode with Encoder.encode, or work in the "
                "unit cube as RandomSearch does."
            )
        return rows

    def _spread(
        self,
        found: np.ndarray,
        running: np.ndarray,
        running_radii: np.ndarray,
        evaluated: np.ndarray,
        keep: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best-first rows of ``found`` outside each other's and the running rows' balls, and
        `(k,)` the radii of their balls.

        Every row's ball has the radius of :func:`_radii`: half the distance to the nearest
        evaluated configuration, at most ``min_spread``.

        Args:
            found: ``(n, d)`` candidates, best first.
            running: ``(m, d)`` encodings of running configurations.
            running_radii: ``(m,)`` radii of their balls (:func:`_radii`).
            evaluated: ``(e, d)`` encodings of configurations with results.
            keep: Most rows to return.
        """
        found_radii = _radii(found, evaluated, self.min_spread, self._evaluated)
        free = np.ones(found.shape[0], dtype=bool)
        if running.shape[0]:
            limit = np.maximum(running_radii[None, :], found_radii[:, None])
            free = ~(_sq_dists(found, running) < limit * limit).any(axis=1)
        kept: list[int] = []
        norms = (found**2).sum(axis=1)[:, None]  # (as _sq_dists has them, computed once)
        while len(kept) < keep and free.any():
            i = int(np.argmax(free))  # the best candidate still outside every ball
            kept.append(i)
            free[i] = False
            limit = np.maximum(found_radii, found_radii[i])
            sq = np.maximum(norms + norms[i][None, :] - 2.0 * (found @ found[i : i + 1].T), 0.0)
            free &= sq[:, 0] >= limit * limit
        return found[kept], found_radii[kept]

    def _best_y(
        self,
        model: Any,
        trial_ids: Sequence[int],
        ids: Sequence[int],
        y: np.ndarray,
        X_config: np.ndarray,
    ) -> float:
        """The cost, in the model's space, that the acquisition compares predictions with.

        The incumbent's cost as the model sees it: with one row per configuration (seeds
        averaged for a noisy target), the lowest training value among the configurations
        with the most trials, mapped as the model maps its training values (the log of the
        mean, not the mean of the logs of the seeds), averaged over the instances they ran
        where instances have no features. With instance features, the model's mean over
        all instances at those configurations, which is what it predicts for a candidate;
        their observed mean covers only the instances they ran.

        Args:
            model: What the acquisition reads (marginalized over the instances, if any).
            trial_ids: `(t,)` configuration id of every training trial.
            ids: `(n,)` configuration id of every training row.
            y: `(n,)` training values (original space).
            X_config: `(n, d)` encoded configurations of the rows.
        """
        if self.features is not None:
            level = _at_incumbent_level(trial_ids, ids)
            mean, _ = model.predict(np.unique(X_config[level], axis=0))
            return float(np.min(mean))
        transform: Any = getattr(self.model, "transform_y", None)
        if callable(transform):
            y = np.asarray(transform(np.asarray(y, dtype=np.float64)), dtype=np.float64)
        return incumbent_level_best(trial_ids, ids, y)
