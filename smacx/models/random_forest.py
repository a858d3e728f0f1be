"""A random forest of regression trees, grown and queried with vectorized numpy.

All trees are grown together, one depth level at a time: at every level the best split of every
open node of every tree is found at once from per-feature orders of the observations, sorted by
(node, feature value) and carried to the next level by a stable radix sort on child ids (never a
full re-sort). A fit costs ``O(depth * trees * n * D)`` numpy work in a few dozen numpy calls
per level, instead of one Python-level fit per tree; this wins for small data, scikit-learn's
compiled per-tree fits win for large data (see ``RandomForest.backend``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from smacx.errors import ScenarioError, check_flag, is_real, is_whole, keyword_hints

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["RandomForest"]

logger = logging.getLogger("smacx")

# Largest n * D for which the "auto" backend grows trees with numpy (measured crossover).
_NUMPY_MAX_CELLS = 5000


#: The largest cost magnitude the models tell apart; costs beyond it count as at it, so that
#: the span between the costs, their log margin and their variance (a square) stay finite
#: floats: a penalty of sys.float_info.max made the GP predict NaN.
COST_LIMIT = 1e150


@dataclass
class _Forest:
    """Flat node arrays of all trees; ``roots[t]`` is the root of tree ``t``.

    A leaf has ``feature == 0``, ``threshold == inf`` and both children pointing to itself, so
    descending further never leaves it.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf_var: np.ndarray
    roots: np.ndarray
    depth: int
    children: np.ndarray = field(init=False, repr=False)  # (2M,): left, right of node i at 2i
    is_leaf: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.children = np.stack([self.left, self.right], axis=1).ravel()
        self.is_leaf = self.left == np.arange(self.left.size)


def _grow(
    X: np.ndarray,
    y: np.ndarray,
    n_trees: int,
    max_features: int,
    min_samples_split: int,
    min_samples_leaf: int,
    max_depth: int,
    bootstrap: bool,
    rng: np.random.Generator,
) -> _Forest:
    """Grow ``n_trees`` CART regression trees on ``X`` `(n, D)` and ``y`` `(n,)` together."""
    n, D = X.shape
    T = n_trees
    NT = T * n
    center = float(y.mean())  # split scores are computed on centered costs for accuracy
    rows = rng.integers(0, n, size=NT) if bootstrap else np.tile(np.arange(n), T)
    ys = y[rows] - center  # one slot per (tree, bootstrap draw), tree-major
    XT = np.ascontiguousarray(X[rows].T)  # (D, NT)
    XT_flat = XT.ravel()
    offsets = (np.arange(D) * NT)[:, None]
    # order[f]: slots of open nodes sorted by (node, feature f); initially node == tree.
    within = np.argsort(XT.reshape(D, T, n), axis=2, kind="stable")
    order = (within + (np.arange(T) * n)[None, :, None]).reshape(D, NT)
    counts = np.full(T, n, dtype=np.intp)  # slots of every open node of the current level
    node_ids = np.arange(T)  # global ids of the open nodes
    next_id = T
    parts: list[tuple[np.ndarray, ...]] = []
    depth = 0
    while counts.size:
        K = counts.size
        N = order.shape[1]
        starts = np.zeros(K, dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        y_sorted = ys.take(order)  # (D, N)
        first = y_sorted[0]
        tot = np.add.reduceat(first, starts)
        mean = tot / counts
        sq = np.add.reduceat(first * first, starts)
        var = np.maximum(sq / counts - mean * mean, 0.0)
        feat = np.zeros(K, dtype=np.intp)
        thr = np.full(K, np.inf)
        left = node_ids.copy()
        right = node_ids.copy()
        parts.append((node_ids, feat, thr, left, right, mean, var))
        split = (counts >= min_samples_split) & (counts >= 2 * min_samples_leaf)
        split &= var > 1e-12 * mean * mean  # beyond rounding noise, at any cost scale
        if depth >= max_depth or not split.any():
            break
        x_sorted = XT_flat.take(order + offsets)  # (D, N)
        csum = np.zeros((D, N + 1))
        np.cumsum(y_sorted, axis=1, out=csum[:, 1:])
        s_left = csum[:, 1:] - np.repeat(csum[:, starts], counts, axis=1)
        n_left = np.arange(1, N + 1) - np.repeat(starts, counts)
        n_right = np.repeat(counts, counts) - n_left
        s_right = np.repeat(tot, counts) - s_left
        score = s_left * s_left / n_left + s_right * s_right / np.maximum(n_right, 1)
        ok = (n_left >= min_samples_leaf) & (n_right >= min_samples_leaf)
        ok &= np.repeat(split, counts)
        valid = np.zeros((D, N), dtype=bool)
        np.greater(x_sorted[:, 1:], x_sorted[:, :-1], out=valid[:, :-1])
        valid &= ok
        if max_features < D:
            keys = rng.random((K, D))
            kth = np.partition(keys, max_features - 1, axis=1)[:, max_features - 1 : max_features]
            valid &= np.repeat((keys <= kth).T, counts, axis=1)
        np.putmask(score, ~valid, -np.inf)
        best_fk = np.maximum.reduceat(score, starts, axis=1)  # (D, K)
        best_f = np.argmax(best_fk, axis=0)
        best = best_fk[best_f, np.arange(K)]
        # A split must reduce the squared error by more than the rounding noise of the scores.
        split &= np.isfinite(best) & (best - tot * tot / counts > 1e-10 * sq)
        if not split.any():
            break
        # First position of every split node holding its best score.
        chosen = score[np.repeat(best_f, counts), np.arange(N)]
        hit = np.flatnonzero((chosen == np.repeat(best, counts)) & np.repeat(split, counts))
        hit_node = np.repeat(np.arange(K), counts)[hit]
        first_hit = np.ones(hit.size, dtype=bool)
        np.not_equal(hit_node[1:], hit_node[:-1], out=first_hit[1:])
        p = hit[first_hit]
        k = hit_node[first_hit]
        fk = best_f[k]
        lo, hi = x_sorted[fk, p], x_sorted[fk, p + 1]
        # A threshold drawn uniformly between the two neighbouring values (not their midpoint):
        # the trees' boundaries then differ, so the forest's mean varies smoothly between
        # observations instead of in a few shared steps.
        cut = lo + rng.random(lo.size) * (hi - lo)
        feat[k] = fk
        thr[k] = np.where(cut < hi, cut, lo)
        rank = np.cumsum(split) - 1
        left[k] = next_id + 2 * rank[k]
        right[k] = next_id + 2 * rank[k] + 1
        # Move the slots of split nodes to their children, keeping each feature's order.
        keep = np.repeat(split, counts)
        kept = order[:, keep]  # (D, M)
        slots = kept[0]
        slot_feat = np.repeat(feat, counts)[keep]
        slot_thr = np.repeat(thr, counts)[keep]
        goes_right = np.zeros(NT, dtype=bool)
        goes_right[slots] = XT_flat.take(slot_feat * NT + slots) > slot_thr
        child = 2 * np.repeat(rank, counts)[keep] + goes_right[slots]
        n_children = 2 * int(rank[-1] + 1)
        key_type = np.uint16 if n_children <= 65535 else np.int64
        child_key = 2 * np.repeat(rank, counts)[keep].astype(key_type) + goes_right.take(
            kept
        ).astype(key_type)
        order = np.take_along_axis(kept, np.argsort(child_key, axis=1, kind="stable"), axis=1)
        counts = np.bincount(child, minlength=n_children).astype(np.intp)
        node_ids = np.arange(next_id, next_id + n_children)
        next_id += n_children
        depth += 1
    M = next_id
    feature, left, right = (np.zeros(M, dtype=np.intp) for _ in range(3))
    threshold, value, leaf_var = (np.zeros(M) for _ in range(3))
    for ids, *cols in parts:
        for target, values in zip((feature, threshold, left, right, value, leaf_var), cols):
            target[ids] = values
    forest = _Forest(feature, threshold, left, right, value, leaf_var, np.arange(T), depth)
    forest.value += center
    return forest


def _grow_sklearn(
    X: np.ndarray,
    y: np.ndarray,
    n_trees: int,
    max_features: int,
    min_samples_split: int,
    min_samples_leaf: int,
    max_depth: int,
    bootstrap: bool,
    seed: int,
) -> _Forest:
    """Grow the trees with scikit-learn and flatten them into a :class:`_Forest`."""
    from sklearn.ensemble import RandomForestRegressor  # imported on first use: it is slow

    forest = RandomForestRegressor(
        n_estimators=n_trees,
        max_features=max_features,
        min_samples_split=min_samples_split,
        min_samples_leaf=min_samples_leaf,
        max_depth=max_depth,
        bootstrap=bootstrap,
        random_state=seed,
        n_jobs=1,
    ).fit(X, y)
    feats, thrs, lefts, rights, values, leaf_vars, roots = [], [], [], [], [], [], []
    offset = 0
    depth = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        count = int(tree.node_count)
        ids = np.arange(offset, offset + count)
        is_leaf = tree.children_left < 0
        feats.append(np.where(is_leaf, 0, tree.feature))
        thrs.append(np.where(is_leaf, np.inf, tree.threshold))
        lefts.append(np.where(is_leaf, ids, tree.children_left + offset))
        rights.append(np.where(is_leaf, ids, tree.children_right + offset))
        values.append(tree.value.reshape(count, -1)[:, 0])
        leaf_vars.append(np.maximum(tree.impurity, 0.0))
        roots.append(offset)
        depth = max(depth, int(tree.max_depth))
        offset += count
    return _Forest(
        feature=np.concatenate(feats).astype(np.intp),
        threshold=np.concatenate(thrs).astype(np.float64),
        left=np.concatenate(lefts).astype(np.intp),
        right=np.concatenate(rights).astype(np.intp),
        value=np.concatenate(values).astype(np.float64),
        leaf_var=np.concatenate(leaf_vars).astype(np.float64),
        roots=np.asarray(roots, dtype=np.intp),
        depth=depth,
    )


def _leaves(forest: _Forest, X: np.ndarray) -> np.ndarray:
    """`(T, n)` leaf id reached by every row of ``X`` `(n, D)` in every tree.

    All (tree, row) pairs descend together one level per step; every third level the pairs
    already at a leaf are set aside, so shallow leaves stop costing work.
    """
    n, D = X.shape
    T = forest.roots.size
    flat = np.ascontiguousarray(X, dtype=np.float64).ravel()
    offset = np.tile(np.arange(n, dtype=np.intp) * D, T)  # start of each pair's row in flat
    node = np.repeat(forest.roots, n)
    pair = np.arange(T * n)
    out = np.empty(T * n, dtype=np.intp)
    for level in range(forest.depth):
        x = flat.take(offset + forest.feature.take(node))
        node = forest.children.take(2 * node + (x > forest.threshold.take(node)))
        if level % 3 == 2:
            done = forest.is_leaf.take(node)
            if done.any():
                out[pair[done]] = node[done]
                rest = ~done
                node, offset, pair = node[rest], offset[rest], pair[rest]
                if node.size == 0:
                    break
    out[pair] = node
    return out.reshape(T, n)


#: Above this many instances, :meth:`RandomForest.predict_marginalized` walks each tree once
#: per configuration (:func:`_marginal_walk`) instead of once per configuration and instance:
#: 5 to 100 times faster with 40 to 200 instances, and slower below about 12.
_WALK_INSTANCES = 12

#: Instances :func:`_instance_shares` follows down the trees at once.
_SHARE_CHUNK = 512


def _instance_shares(forest: _Forest, F: np.ndarray, d: int) -> np.ndarray:
    """`(M,)` share of the instances (rows of ``F`` `(m, f)`, the inputs' columns ``d`` on)
    that reach each node: those meeting every split on an instance feature on the node's
    path (a split on a configuration's column lets every instance through).

    Computed level by level from the roots, for all trees at once.
    """
    m = F.shape[0]
    counts = np.zeros(forest.feature.size)
    for lo in range(0, m, _SHARE_CHUNK):  # (nodes by instances in one piece: 42 MB for 3,000)
        chunk = F[lo : lo + _SHARE_CHUNK]
        member = np.zeros((forest.feature.size, chunk.shape[0]), dtype=bool)
        member[forest.roots] = True
        frontier = forest.roots
        for _ in range(forest.depth):
            inner = frontier[~forest.is_leaf[frontier]]
            if inner.size == 0:
                break
            feature = forest.feature[inner]
            on_instances = feature >= d
            goes_right = np.zeros((inner.size, chunk.shape[0]), dtype=bool)
            if on_instances.any():
                rows = np.flatnonzero(on_instances)
                values = chunk[:, feature[rows] - d].T  # (k, instances of the chunk)
                goes_right[rows] = values > forest.threshold[inner[rows]][:, None]
            reach = member[inner]
            left, right = forest.left[inner], forest.right[inner]
            member[left] = reach & ~(goes_right & on_instances[:, None])
            member[right] = reach & (goes_right | ~on_instances[:, None])
            frontier = np.concatenate([left, right])
        counts += member.sum(axis=1)
    out: np.ndarray = counts / m
    return out


def _marginal_walk(
    forest: _Forest, X: np.ndarray, shares: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`(T * n,)` every tree's prediction for the configurations ``X`` `(n, d)` averaged over
    the instances, and the same of the within-leaf variances; ``shares`` from
    :func:`_instance_shares`.

    A tree's average over the instances is the sum over the leaves a configuration can reach
    of the leaf's value times the share of the instances that reach it: each (tree, row) pair
    descends one child at a split on a configuration's column and both at a split on an
    instance feature (where instances reach them). Only those leaves are visited, not one path
    per instance: with 200 instances, a search took a second per proposal.
    """
    n, d = X.shape
    T = forest.roots.size
    flat = np.ascontiguousarray(X, dtype=np.float64).ravel()
    pair = np.arange(T * n)
    offset = np.tile(np.arange(n, dtype=np.intp) * d, T)
    node = np.repeat(forest.roots, n)
    for _ in range(forest.depth):
        feature = forest.feature.take(node)
        on_instances = (feature >= d) & ~forest.is_leaf.take(node)
        if on_instances.any():
            split = np.flatnonzero(on_instances)
            keep = np.flatnonzero(~on_instances)
            both = np.concatenate([forest.left.take(node[split]), forest.right.take(node[split])])
            twice = np.concatenate([split, split])
            reached = shares.take(both) > 0.0
            pair = np.concatenate([pair[keep], pair[twice[reached]]])
            offset = np.concatenate([offset[keep], offset[twice[reached]]])
            moved = np.concatenate([node[keep], both[reached]])
            stays = np.zeros(moved.size, dtype=bool)
            stays[keep.size :] = True  # (the children just reached: they descend next level)
            node, feature = moved, forest.feature.take(moved)
        else:
            stays = np.zeros(node.size, dtype=bool)
        step = ~stays & (feature < d)
        x = flat.take(offset[step] + feature[step])
        node[step] = forest.children.take(2 * node[step] + (x > forest.threshold.take(node[step])))
    weight = shares.take(node)
    means = np.bincount(pair, weights=forest.value.take(node) * weight, minlength=T * n)
    leaf_vars = np.bincount(pair, weights=forest.leaf_var.take(node) * weight, minlength=T * n)
    return means, leaf_vars


@keyword_hints()
@dataclass
class RandomForest:
    """Random forest surrogate: mean and variance of the predictions of its trees.

    Trees are CART regression trees (squared-error splits, axis-aligned thresholds; categorical
    codes are split like numbers). Every tree sees a bootstrap sample of the observations and
    considers ``ratio_features`` of the features at each split.

    Costs are modelled either as given or, with ``log_y``, as ``log(y + offset)`` where
    ``offset`` is 0 when every training cost is positive and otherwise lifts the smallest cost
    to a small positive margin. :meth:`predict` returns mean and variance in this *model space*;
    map a cost into it (e.g. the incumbent's, for an acquisition function) with
    :meth:`transform_y`.

    Args:
        n_trees: Number of trees.
        ratio_features: Share of the features considered at every split (at least one).
        min_samples_split: Fewest observations a node needs to be split.
        min_samples_leaf: Fewest observations in each leaf.
        max_depth: Deepest level of any tree (the root is level 0).
        bootstrap: Whether every tree sees a bootstrap sample (else all observations).
        log_y: Whether to model ``log(y + offset)`` instead of ``y``.
        log_margin: With ``log_y``, where the smallest cost lands when some costs are not
            positive: this share of the costs' range above zero. The smaller it is, the
            further below all others the lowest cost lies in model space; with noisy costs
            the lowest is often a lucky sample, and a larger margin keeps the search from
            piling up around it (the ``"hpo"`` preset uses 0.1 for scenarios that are not
            deterministic).
        within_leaf_variance: Whether the predicted variance adds the mean spread of the
            observations inside the leaves (law of total variance) to the spread of the tree
            means.
        backend: Who grows the trees: ``"numpy"`` (all trees at once, level by level; fastest
            for small data), ``"sklearn"`` (scikit-learn's ``RandomForestRegressor``, one
            compiled fit per tree; fastest for large data) or ``"auto"`` (numpy up to
            ``n * D <= 5000`` cells, else scikit-learn). Predictions always use the same
            vectorized traversal.
        seed: Seed of the bootstrap samples and feature choices.
    """

    n_trees: int = 10
    ratio_features: float = 5.0 / 6.0
    min_samples_split: int = 3
    min_samples_leaf: int = 3
    max_depth: int = 64
    bootstrap: bool = True
    log_y: bool = False
    log_margin: float = 1e-2
    within_leaf_variance: bool = False
    backend: Literal["auto", "numpy", "sklearn"] = "auto"
    seed: int = 0
    _forest: _Forest | None = field(default=None, init=False, repr=False, compare=False)
    # (the fitted forest and instance features that predict_marginalized's shares are of)
    _shares: tuple[_Forest, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _offset: float = field(default=0.0, init=False, repr=False, compare=False)
    _n_features: int = field(default=0, init=False, repr=False, compare=False)
    _n_fits: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("n_trees", "min_samples_split", "min_samples_leaf", "max_depth", "seed"):
            value = getattr(self, name)
            if not is_whole(value):
                raise ScenarioError(f"RandomForest.{name}: expected an int, got {value!r}")
        if self.seed < 0:
            raise ScenarioError(f"RandomForest.seed: expected an int >= 0, got {self.seed}")
        if self.n_trees < 1:
            raise ScenarioError(
                f"RandomForest.n_trees: expected a positive integer, got {self.n_trees}"
            )
        for flag in ("bootstrap", "log_y", "within_leaf_variance"):
            check_flag("RandomForest", flag, getattr(self, flag))
        if not is_real(self.ratio_features) or not 0.0 < self.ratio_features <= 1.0:
            raise ScenarioError(
                "RandomForest.ratio_features: expected a share in (0, 1], "
                f"got {self.ratio_features}"
            )
        if not is_real(self.log_margin) or not 0.0 < self.log_margin < math.inf:
            raise ScenarioError(
                f"RandomForest.log_margin: expected a share > 0, got {self.log_margin!r}"
            )
        if self.min_samples_leaf < 1 or self.min_samples_split < 2:
            raise ScenarioError(
                "RandomForest.min_samples_leaf, min_samples_split: expected at least 1 and 2, got "
                f"{self.min_samples_leaf} and {self.min_samples_split}"
            )
        if self.backend not in ("auto", "numpy", "sklearn"):
            raise ScenarioError(
                f"RandomForest.backend: expected 'auto', 'numpy' or 'sklearn', got {self.backend!r}"
            )
        if self.max_depth < 0:
            raise ScenarioError(
                f"RandomForest.max_depth: expected a non-negative integer, got {self.max_depth}"
            )

    def preload(self, n_rows: int, n_features: int) -> None:
        """Import now the backend that fits of up to ``n_rows`` observations of ``n_features``
        inputs will use.

        scikit-learn's forest module (with pandas, which it imports) takes about 0.7 s of one
        core to import. Imported by the first fit that needs it, that time falls in the middle
        of a run: on 64 dask workers in the optimizer's process the loop stood still for as
        long, and every object the import created made each later full garbage collection
        slower. Does nothing when only the numpy backend will be used.
        """
        if self.backend == "sklearn" or (
            self.backend == "auto" and n_rows * max(n_features, 1) > _NUMPY_MAX_CELLS
        ):
            import sklearn.ensemble  # noqa: F401

    def transform_y(self, y: np.ndarray | float) -> np.ndarray:
        """Map costs into the space the model is trained on and predicts in.

        Args:
            y: Costs, any shape.

        Returns:
            ``log(y + offset)`` with ``log_y`` (costs at or below ``-offset`` are mapped as if
            they were a tiny positive amount above it), else ``y``; same shape as ``y``.
        """
        # (costs beyond +-COST_LIMIT as if at it: a span of 2e308 is no float)
        y_arr = np.clip(np.asarray(y, dtype=np.float64), -COST_LIMIT, COST_LIMIT)
        if not self.log_y:
            return y_arr
        return np.log(np.maximum(y_arr + self._offset, 1e-300))

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Grow the forest on observations.

        Args:
            X: `(n, D)` encoded inputs (configurations, optionally with instance features).
            y: `(n,)` finite costs (original space; transformed here when ``log_y``).

        Returns:
            The fitted model.

        Raises:
            ScenarioError: Shapes disagree, there are no observations, or a cost is not finite.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ScenarioError(
                f"X, y: expected shapes (n, D) and (n,) with n >= 1, got {X.shape} and {y.shape}"
            )
        if not np.all(np.isfinite(y)) or not np.all(np.isfinite(X)):
            raise ScenarioError("X, y: expected finite numbers, got NaN or inf")
        if self.log_y:
            low, high = (float(np.clip(v, -COST_LIMIT, COST_LIMIT)) for v in (y.min(), y.max()))
            margin = max(self.log_margin * (high - low), 1e-8 * max(abs(high), 1.0), 1e-12)
            self._offset = 0.0 if low > 0 else margin - low
        target = self.transform_y(y)
        D = X.shape[1]
        max_features = max(1, round(self.ratio_features * D)) if D else 1
        rng = np.random.default_rng([self.seed, self._n_fits])
        self._n_fits += 1
        if D == 0:
            X = np.zeros((X.shape[0], 1))
        settings = {
            "n_trees": self.n_trees,
            "max_features": min(max_features, X.shape[1]),
            "min_samples_split": self.min_samples_split,
            "min_samples_leaf": self.min_samples_leaf,
            "max_depth": self.max_depth if D else 0,
            "bootstrap": self.bootstrap,
        }
        backend = self.backend
        if backend == "auto":
            backend = "numpy" if X.size <= _NUMPY_MAX_CELLS or D == 0 else "sklearn"
        # Trees are grown on standardized costs, so splitting works alike at every cost scale.
        center = float(target.mean())
        scale = float(target.std())
        scale = scale if scale > 0 and np.isfinite(scale) else 1.0
        standard = (target - center) / scale
        if backend == "numpy":
            forest = _grow(X, standard, rng=rng, **settings)
        else:
            forest = _grow_sklearn(X, standard, seed=int(rng.integers(2**31 - 1)), **settings)
        forest.value = forest.value * scale + center
        forest.leaf_var = forest.leaf_var * (scale * scale)
        self._forest = forest
        self._shares = None  # (see predict_marginalized)
        self._n_features = D
        logger.debug(
            "random forest: %d observations, %d features, %s backend, depth %d",
            X.shape[0],
            D,
            backend,
            forest.depth,
        )
        return self

    def _check(self, X: np.ndarray) -> tuple[_Forest, np.ndarray]:
        if self._forest is None:
            raise ScenarioError("model: expected a fitted model, got one without fit() called")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._n_features:
            raise ScenarioError(f"X: expected shape (n, {self._n_features}), got {X.shape}")
        if self._n_features == 0:
            X = np.zeros((X.shape[0], 1))
        return self._forest, X

    def leaf_boxes(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The regions of the input space on which each tree predicts one value.

        Returns:
            One ``(lower, upper, value)`` per tree: leaf ``l`` holds the inputs ``x`` with
            ``lower[l, j] < x[j] <= upper[l, j]`` in every column ``j`` (`(L, D)` each,
            ``-inf`` and ``inf`` where no split bounds it) and predicts ``value[l]`` `(L,)`
            there, in model space. A tree's leaves partition the input space.

        Raises:
            ScenarioError: The model is not fitted.
        """
        forest, _ = self._check(np.zeros((0, self._n_features)))
        D = max(self._n_features, 1)
        boxes = []
        for root in forest.roots.tolist():
            node = np.array([root], dtype=np.intp)
            lower, upper = np.full((1, D), -np.inf), np.full((1, D), np.inf)
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            while node.size:
                leaf = forest.is_leaf[node]
                parts.append((lower[leaf], upper[leaf], forest.value[node[leaf]]))
                node, lower, upper = node[~leaf], lower[~leaf], upper[~leaf]
                rows = np.arange(node.size)
                feature, threshold = forest.feature[node], forest.threshold[node]
                left_upper, right_lower = upper.copy(), lower.copy()
                left_upper[rows, feature] = np.minimum(upper[rows, feature], threshold)
                right_lower[rows, feature] = np.maximum(lower[rows, feature], threshold)
                node = np.concatenate([forest.left[node], forest.right[node]])
                lower = np.concatenate([lower, right_lower])
                upper = np.concatenate([left_upper, upper])
            lo, hi, value = (np.concatenate(arrays) for arrays in zip(*parts))
            boxes.append((lo[:, : self._n_features], hi[:, : self._n_features], value))
        return boxes

    def predict_trees(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-tree predictions in model space.

        Args:
            X: `(n, D)` encoded inputs.

        Returns:
            `(T, n)` leaf means and `(T, n)` within-leaf variances.
        """
        forest, X = self._check(X)
        leaves = _leaves(forest, X)
        return forest.value[leaves], forest.leaf_var[leaves]

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted cost distribution in model space (see :meth:`transform_y`).

        Args:
            X: `(n, D)` encoded inputs.

        Returns:
            `(n,)` mean over trees and `(n,)` variance over trees (plus the mean within-leaf
            variance with ``within_leaf_variance``), never negative.
        """
        means, leaf_vars = self.predict_trees(X)
        return self._combine(means, leaf_vars)

    def _combine(self, means: np.ndarray, leaf_vars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = means.mean(axis=0)
        var = means.var(axis=0)
        if self.within_leaf_variance:
            var = var + leaf_vars.mean(axis=0)
        return mean, np.maximum(var, 0.0)

    def predict_marginalized(
        self, X_config: np.ndarray, instance_features: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted cost of configurations averaged over instances, in model space.

        Every tree's prediction is averaged over the instances first; mean and variance are then
        taken over trees.

        Args:
            X_config: `(n, d)` encoded configurations.
            instance_features: `(m, f)` features of the instances to average over; the model
                must have been fitted on `(., d + f)` inputs.

        Returns:
            `(n,)` mean and `(n,)` variance.
        """
        X_config = np.asarray(X_config, dtype=np.float64)
        F = np.asarray(instance_features, dtype=np.float64)
        if X_config.ndim != 2 or F.ndim != 2 or X_config.shape[1] + F.shape[1] != self._n_features:
            raise ScenarioError(
                f"X_config, instance_features: expected shapes (n, d) and (m, f) with "
                f"d + f = {self._n_features}, got {X_config.shape} and {F.shape}"
            )
        n, m = X_config.shape[0], F.shape[0]
        if m == 0:
            raise ScenarioError("instance_features: expected at least one instance, got none")
        if m > _WALK_INSTANCES and n:
            forest, _ = self._check(np.zeros((0, self._n_features)))
            cached = self._shares
            if cached is None or cached[0] is not forest or not np.array_equal(cached[1], F):
                shares = _instance_shares(forest, F, X_config.shape[1])
                cached = self._shares = (forest, F.copy(), shares)
            walked, walked_vars = _marginal_walk(forest, X_config, cached[2])
            return self._combine(walked.reshape(-1, n), walked_vars.reshape(-1, n))
        T = self.n_trees
        means = np.empty((T, n))
        leaf_vars = np.empty((T, n))
        chunk = max(1, 200_000 // m)
        for lo in range(0, n, chunk):
            Xc = X_config[lo : lo + chunk]
            k = Xc.shape[0]
            joint = np.hstack([np.repeat(Xc, m, axis=0), np.tile(F, (k, 1))])
            mu, lv = self.predict_trees(joint)
            means[:, lo : lo + k] = mu.reshape(T, k, m).mean(axis=2)
            leaf_vars[:, lo : lo + k] = lv.reshape(T, k, m).mean(axis=2)
        return self._combine(means, leaf_vars)
