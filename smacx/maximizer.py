"""Acquisition maximizers: search the encoded space for the configurations scored best.

Both maximizers work on canonical encodings from :class:`~smacx.encoding.Encoder`, return
valid configurations only (conditions and forbidden clauses hold), never return a row of
``exclude`` (compared byte for byte after canonicalization) and never return the same row twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smacx.encoding import INACTIVE, Encoder, row_keys
from smacx.errors import ScenarioError, is_real, is_whole, keyword_hints

__all__ = ["LocalAndRandomSearch", "RandomSearch", "Region"]

logger = logging.getLogger("smacx")


def _scores(acq: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """`(n,)` acquisition values of `(n, d)` rows; NaN counts as the worst score."""
    if X.shape[0] == 0:
        return np.empty(0)
    values = one_per_row(acq(X), X)
    return np.where(np.isnan(values), -np.inf, values)


def one_per_row(values: Any, X: np.ndarray) -> np.ndarray:
    """An acquisition function's scores of the `(n, d)` rows ``X`` as `(n,)` floats; an
    `(n, 1)` column (a posterior mean's shape) is taken too.

    Raises:
        ScenarioError: Not one score per row.
    """
    scores = np.asarray(values, dtype=np.float64)
    if scores.size != X.shape[0] or scores.ndim > 2 or (scores.ndim == 2 and 1 not in scores.shape):
        raise ScenarioError(
            f"The acquisition function (SMAC(acquisition=...), the function its bind() "
            f"returns) must give one score per row of its input: expected shape "
            f"({X.shape[0]},), got {scores.shape}."
        )
    return scores.reshape(-1)


def _best_distinct(
    encoder: Encoder, X: np.ndarray, scores: np.ndarray, n: int, exclude: np.ndarray
) -> np.ndarray:
    """The ``n`` best distinct canonical rows of ``X`` `(p, d)` that are not in ``exclude``.

    ``X`` may hold float values not yet rounded to their canonical form; ``exclude`` `(e, d)`
    must be canonical. Rows are canonicalized best first, a slice at a time, so a large pool
    costs little more than its best rows. Rows that canonicalization makes invalid are dropped:
    rounding a float can break a forbidden clause, and it can flip a condition on that float
    (e.g. move it onto or across a threshold), so the activity of its children no longer
    matches.
    """
    d = encoder.n_dims
    if X.shape[0] == 0 or n <= 0:
        return np.empty((0, d))
    if d == 0:
        return X[:1] if not exclude.shape[0] else np.empty((0, 0))
    order = np.argsort(-scores, kind="stable")  # (rows are taken a slice at a time)
    exclude_keys = row_keys(exclude) if exclude.shape[0] else None
    found: list[np.ndarray] = []
    seen: np.ndarray = np.empty(0, dtype=row_keys(X[:1]).dtype)
    have, lo, size = 0, 0, 4 * n + 64
    while have < n and lo < X.shape[0]:
        part = encoder.canonicalize(X[order[lo : lo + size]])
        lo, size = lo + size, 4 * size
        part = part[encoder.is_valid(part, canonical=True)]
        keys = row_keys(part)
        _, first = np.unique(keys, return_index=True)
        first.sort()  # first occurrence of each distinct row holds its best score
        part, keys = part[first], keys[first]
        fresh = ~np.isin(keys, seen)
        if exclude_keys is not None:
            fresh &= ~np.isin(keys, exclude_keys)
        part, keys = part[fresh][: n - have], keys[fresh][: n - have]
        found.append(part)
        seen = np.concatenate([seen, keys])
        have += part.shape[0]
    return np.concatenate(found) if found else np.empty((0, d))


@dataclass(frozen=True, eq=False)
class Region:
    """A box of the encoded space around one configuration (a trust region).

    Numeric hyperparameters that are active in the centre are bounded; categorical ones are
    not, and hyperparameters inactive in a configuration count as inside. The bounds of integer
    and ordinal columns lie on their grids and take in at least the neighbouring values, so a
    coarse grid is never frozen at the centre's value.

    Args:
        center: `(d,)` encoding of the configuration the box is built around.
        columns: `(c,)` indices of the bounded columns.
        lower: `(c,)` lower bounds of those columns, encoded units.
        upper: `(c,)` upper bounds.
    """

    center: np.ndarray
    columns: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def around(cls, encoder: Encoder, center: np.ndarray, half_width: float) -> Region:
        """The box ``half_width`` (encoded units) on each side of ``center``, clipped to the
        unit interval, on every numeric non-constant column active in ``center`` (widened to
        the neighbouring values of integers and ordinals, and snapped to their grids)."""
        center = np.asarray(center, dtype=np.float64)
        if center.shape != (encoder.n_dims,):
            raise ScenarioError(
                f"Region.around: center: expected shape ({encoder.n_dims},), got {center.shape}"
            )
        if not 0.0 < half_width <= 1.0:
            raise ScenarioError(
                f"Region.around: half_width: expected a value in (0, 1] (encoded units), "
                f"got {half_width!r}"
            )
        cols = np.flatnonzero(
            ~encoder.is_categorical & (encoder.n_values != 1) & (center != INACTIVE)
        )
        below, above = encoder.adjacent(center)
        rows = np.repeat(center[None, :], 2, axis=0)
        rows[0, cols] = np.maximum(np.minimum(center[cols] - half_width, below[cols]), 0.0)
        rows[1, cols] = np.minimum(np.maximum(center[cols] + half_width, above[cols]), 1.0)
        # Canonical encodings are monotone in the raw ones: every sample drawn between the
        # snapped bounds snaps to a value between them.
        lower, upper = encoder.canonicalize(rows)[:, cols]
        return cls(center, cols, lower, upper)

    def contains(self, X: np.ndarray) -> np.ndarray:
        """`(n,)` mask of the rows of ``X`` `(n, d)` inside the box."""
        Xc = X[:, self.columns]
        inside = ((Xc >= self.lower) & (Xc <= self.upper)) | (Xc == INACTIVE)
        mask: np.ndarray = inside.all(axis=1)
        return mask

    def sample(self, encoder: Encoder, n: int, rng: np.random.Generator) -> np.ndarray:
        """`(n, d)` random canonical configurations inside the box (conditions repaired;
        forbidden clauses not checked): bounded columns uniform in their range, categorical
        ones the centre's choice or, one time in five, a random one, the rest as the centre
        has them."""
        X = np.repeat(self.center[None, :], n, axis=0)
        cols = self.columns
        X[:, cols] = self.lower + rng.random((n, cols.size)) * (self.upper - self.lower)
        cat = np.flatnonzero(encoder.is_categorical & (self.center != INACTIVE))
        choices = np.floor(rng.random((n, cat.size)) * encoder.n_categories[cat])
        X[:, cat] = np.where(rng.random((n, cat.size)) < 0.2, choices, X[:, cat])
        return encoder.repair(X, rng)


def worst_where(
    acq: Callable[[np.ndarray], np.ndarray], excluded: Callable[[np.ndarray], np.ndarray]
) -> Callable[[np.ndarray], np.ndarray]:
    """``acq`` with the worst score (-inf) on the rows of ``X`` `(n, d)` where
    ``excluded(X)`` `(n,)` is True."""

    def scores(X: np.ndarray) -> np.ndarray:
        if X.shape[0] == 0:
            return np.asarray(acq(X), dtype=np.float64).reshape(-1)
        return np.where(excluded(X), -np.inf, one_per_row(acq(X), X))

    return scores


def _inside(
    acq: Callable[[np.ndarray], np.ndarray], region: Region
) -> Callable[[np.ndarray], np.ndarray]:
    """``acq`` with the worst score (-inf) outside ``region``."""
    return worst_where(acq, lambda X: ~region.contains(X))


def _random_candidates(
    encoder: Encoder,
    n: int,
    rng: np.random.Generator,
    acq: Callable[[np.ndarray], np.ndarray],
    region: Region | None,
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``n`` uniformly random valid configurations, plus ``n`` inside ``region`` when there is
    one, and the acquisition function to score them with (worst outside ``region``)."""
    X = encoder.sample(n, rng)
    if region is None:
        return X, acq
    near = region.sample(encoder, n, rng)
    return np.concatenate([X, near[encoder.is_valid(near, canonical=True)]]), _inside(acq, region)


def _check_settings(
    maximizer: object, positive: tuple[str, ...], non_negative: tuple[str, ...]
) -> None:
    """A maximizer's encoder is an :class:`Encoder` and its counts are whole numbers."""
    owner = type(maximizer).__name__
    encoder = getattr(maximizer, "encoder", None)
    if not isinstance(encoder, Encoder):
        raise ScenarioError(
            f"{owner}.encoder: expected an Encoder of the search space, such as "
            f"Encoder(scenario.configspace), got {encoder!r:.120}"
        )
    for names, lowest, what in ((positive, 1, "a positive"), (non_negative, 0, "a non-negative")):
        for name in names:
            value = getattr(maximizer, name)
            if not is_whole(value) or value < lowest:
                raise ScenarioError(f"{owner}.{name}: expected {what} integer, got {value!r}")


def _check_call(encoder: Encoder, n: int, exclude: np.ndarray) -> np.ndarray:
    if n < 0:
        raise ScenarioError(f"n: expected a non-negative number of configurations, got {n}")
    exclude = np.asarray(exclude, dtype=np.float64)
    if exclude.size == 0:
        return np.empty((0, encoder.n_dims))
    if exclude.ndim != 2 or exclude.shape[1] != encoder.n_dims:
        raise ScenarioError(f"exclude: expected shape (e, {encoder.n_dims}), got {exclude.shape}")
    return encoder.canonicalize(exclude)


@keyword_hints()
@dataclass
class RandomSearch:
    """Scores uniformly random valid configurations and returns the best.

    Args:
        encoder: Encoding of the search space.
        n_random: Random configurations scored per call.
        seed: Seed of the random configurations.
    """

    encoder: Encoder
    n_random: int = 5000
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_settings(self, positive=("n_random",), non_negative=("seed",))
        self._rng = np.random.default_rng(self.seed)

    def maximize(
        self,
        acq: Callable[[np.ndarray], np.ndarray],
        n: int,
        start_points: np.ndarray,
        exclude: np.ndarray,
        *,
        region: Region | None = None,
    ) -> np.ndarray:
        """The best distinct random configurations by acquisition value.

        Args:
            acq: Bound acquisition function, `(k, d)` to `(k,)` scores, higher is better.
            n: How many configurations to return at most.
            start_points: `(k, d)` encoded configurations; unused by random search.
            exclude: `(e, d)` encoded configurations never to return.
            region: A box to stay in: configurations outside it score worst, and
                ``n_random`` random configurations inside it join the uniform ones.

        Returns:
            `(<= n, d)` encoded configurations, best first; fewer (possibly none) when the
            random sample holds fewer distinct configurations outside ``exclude``.
        """
        exclude = _check_call(self.encoder, n, exclude)
        if n == 0:
            return np.empty((0, self.encoder.n_dims))
        X, acq = _random_candidates(self.encoder, self.n_random, self._rng, acq, region)
        return _best_distinct(self.encoder, X, _scores(acq, X), n, exclude)


@keyword_hints()
@dataclass
class LocalAndRandomSearch:
    """Local search from promising points plus random search, run as batched matrix operations.

    One call scores ``n_random`` uniformly random valid configurations, then runs a local search
    from each of the best ``n_local_starts`` given start points (typically the best observed
    configurations) and from each of the ``n_local_starts`` best random configurations. All
    walkers move together: every step draws ``n_neighbours`` one-exchange neighbours per walker
    (see :meth:`Encoder.neighbours <smacx.encoding.Encoder.neighbours>`), scores all of them in
    one acquisition call, and moves each walker to its best neighbour if that is better, or
    equally good for at most ``max_plateau_steps`` consecutive steps; a walker without such a
    neighbour stops. Every configuration scored (random or neighbour) is a candidate for the
    result.

    Args:
        encoder: Encoding of the search space.
        n_random: Random configurations scored per call.
        n_local_starts: Walkers started from the given start points, and again from the best
            random configurations.
        max_steps: Most moves of any walker per call.
        n_neighbours: Neighbours drawn per walker and step.
        max_plateau_steps: Most consecutive moves to an equally good neighbour.
        step_size: Largest standard deviation of numeric neighbour steps, in encoded units.
        seed: Seed of the random configurations and neighbours.
    """

    encoder: Encoder
    n_random: int = 1000
    n_local_starts: int = 10
    max_steps: int = 100
    n_neighbours: int = 20
    max_plateau_steps: int = 5
    step_size: float = 0.2
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_settings(
            self,
            positive=("n_random", "n_neighbours"),
            non_negative=("n_local_starts", "max_steps", "max_plateau_steps", "seed"),
        )
        step = self.step_size
        if not is_real(step) or not 0.0 < step <= 1.0:
            raise ScenarioError(
                f"LocalAndRandomSearch.step_size: expected a value in (0, 1], got {step!r}"
            )
        self._rng = np.random.default_rng(self.seed)

    def maximize(
        self,
        acq: Callable[[np.ndarray], np.ndarray],
        n: int,
        start_points: np.ndarray,
        exclude: np.ndarray,
        *,
        region: Region | None = None,
    ) -> np.ndarray:
        """The best distinct configurations found by acquisition value.

        Args:
            acq: Bound acquisition function, `(k, d)` to `(k,)` scores, higher is better.
            n: How many configurations to return at most.
            start_points: `(k, d)` encoded configurations to start local searches from (may be
                empty; invalid rows are repaired or ignored). They may lie in ``exclude``.
            exclude: `(e, d)` encoded configurations never to return (evaluated or running).
            region: A box to stay in: configurations outside it score worst, and
                ``n_random`` random configurations inside it join the uniform ones.

        Returns:
            `(<= n, d)` valid encoded configurations, best first, distinct, none in
            ``exclude``; fewer (possibly none) when the search found fewer such configurations.
        """
        enc = self.encoder
        exclude = _check_call(enc, n, exclude)
        d = enc.n_dims
        if n == 0:
            return np.empty((0, d))
        rng = self._rng
        randoms, acq = _random_candidates(enc, self.n_random, rng, acq, region)
        pool_X = [randoms]
        pool_s = [_scores(acq, randoms)]
        walkers = [self._top(randoms, pool_s[0], self.n_local_starts)]
        starts = np.asarray(start_points, dtype=np.float64)
        if starts.size and self.n_local_starts:
            if starts.ndim != 2 or starts.shape[1] != d:
                raise ScenarioError(f"start_points: expected shape (k, {d}), got {starts.shape}")
            starts = enc.repair(starts, rng)
            starts = starts[enc.is_valid(starts, canonical=True)]
            s_starts = _scores(acq, starts)
            pool_X.append(starts)
            pool_s.append(s_starts)
            walkers.insert(0, self._top(starts, s_starts, self.n_local_starts))
        W = np.concatenate(walkers)
        if W.shape[0] and self.max_steps:
            found_X, found_s = self._local_search(acq, W, rng)
            pool_X.extend(found_X)
            pool_s.extend(found_s)
        X = np.concatenate(pool_X)
        scores = np.concatenate(pool_s)
        return _best_distinct(enc, X, scores, n, exclude)

    def _top(self, X: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` best distinct rows of ``X`` by ``scores``."""
        return _best_distinct(self.encoder, X, scores, k, np.empty((0, X.shape[1])))

    def _local_search(
        self, acq: Callable[[np.ndarray], np.ndarray], W: np.ndarray, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Walk all rows of ``W`` `(s, d)` uphill at once; every scored neighbour is returned."""
        enc = self.encoder
        f = _scores(acq, W)
        active = np.ones(W.shape[0], dtype=bool)
        plateau = np.zeros(W.shape[0], dtype=np.int64)
        seen_X: list[np.ndarray] = []
        seen_s: list[np.ndarray] = []
        steps = 0
        for _ in range(self.max_steps):
            live = np.flatnonzero(active)
            if live.size == 0:
                break
            steps += 1
            C, owner = enc.neighbours(
                W[live],
                self.n_neighbours,
                rng,
                self.step_size,
                round_floats=False,
            )
            s = _scores(acq, C)
            seen_X.append(C)
            seen_s.append(s)
            # Best neighbour of every live walker (walkers without neighbours stop).
            best = np.full(live.size, -np.inf)
            np.maximum.at(best, owner, s)
            pick = np.full(live.size, -1, dtype=np.intp)
            hit = np.flatnonzero(s == best[owner])
            pick[owner[hit[::-1]]] = hit[::-1]  # first best neighbour wins
            current = f[live]
            margin = np.where(np.isfinite(current), 1e-12 * np.abs(current), 0.0)  # -inf scores
            better = (pick >= 0) & (best > current + margin)
            level = (pick >= 0) & ~better & (best >= current) & np.isfinite(best)
            level &= plateau[live] < self.max_plateau_steps
            move = better | level
            W[live[move]] = C[pick[move]]
            f[live[move]] = best[move]
            plateau[live[better]] = 0
            plateau[live[level]] += 1
            active[live[~move]] = False
        logger.debug("local search: %d walkers, %d steps", W.shape[0], steps)
        return seen_X, seen_s
