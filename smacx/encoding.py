"""Numeric encoding of configurations for the surrogate models and the acquisition maximizer.

An :class:`Encoder` maps configurations of a ``ConfigurationSpace`` to rows of a float64 matrix
and back. Column ``j`` holds hyperparameter ``j`` in the space's own order
(``configspace.index_of``):

* float and integer hyperparameters: ConfigSpace's normalized value on ``[0, 1]`` (log scale
  respected; integers sit on their grid of values),
* ordinal hyperparameters: the position of the value divided by ``size - 1``, on ``[0, 1]``,
* categorical hyperparameters: the integer code of the choice (``0 .. size - 1``), which a tree
  separates with thresholds,
* constants: ConfigSpace's vector value,
* inactive conditional hyperparameters: :data:`INACTIVE` (``-1``), below every active value, so a
  single threshold separates inactive from active.

The encoding is canonical: two configurations with equal values have byte-identical rows, so rows
can be compared for equality (e.g. to exclude configurations already evaluated).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from ConfigSpace import (
    Configuration,
    ConfigurationSpace,
    EqualsCondition,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    InCondition,
)
from ConfigSpace.hyperparameters import (
    BetaFloatHyperparameter,
    BetaIntegerHyperparameter,
    CategoricalHyperparameter,
    Constant,
    FloatHyperparameter,
    IntegerHyperparameter,
    NormalFloatHyperparameter,
    NormalIntegerHyperparameter,
    OrdinalHyperparameter,
)

from smacx.errors import ScenarioError
from smacx.trial import halved_if_wide

__all__ = [
    "INACTIVE",
    "Encoder",
    "has_prior",
    "inactive_as_code",
    "row_keys",
    "rows_in",
    "unit_to_integers",
]

logger = logging.getLogger("smacx")

#: Encoded value of an inactive conditional hyperparameter.
INACTIVE = -1.0

# Kinds of columns.
_FLOAT, _INT, _ORDINAL, _CATEGORICAL, _CONSTANT = 0, 1, 2, 3, 4
# How a column's random values are drawn (see Encoder._draw_values): ``rng.random`` (floats,
# log integers), ``rng.integers`` over the values (integers) or over the codes (ordinals,
# categoricals), none (constants), or one column at a time by Encoder._uniform_column.
_DRAW_UNIT, _DRAW_INTEGERS, _DRAW_CODES, _DRAW_CONSTANT, _DRAW_COLUMN = 0, 1, 2, 3, 4
#: Integer columns of at most this many values draw through tables of their encodings (16
#: bytes a value), while all tables together hold at most _INT_TABLE_BUDGET values; wider
#: ones (and those beyond the budget) through ConfigSpace, one column at a time.
_INT_TABLE_MAX = 65_536
_INT_TABLE_BUDGET = 1 << 20
# ConfigSpace rounds float values to this many decimals; canonical rows do the same.
_ROUND_PLACES = 13


def inactive_as_code(V: np.ndarray) -> np.ndarray:
    """ConfigSpace vectors `(n, d)` with their inactive (NaN) entries set to :data:`INACTIVE`,
    so that rows compare exactly (NaN never equals itself)."""
    out: np.ndarray = np.where(np.isnan(V), INACTIVE, V)
    return out


def unit_to_integers(u: np.ndarray, lower: int, upper: int, log: bool) -> np.ndarray:
    """Map unit-interval values onto the integers ``lower .. upper``, each with its full bin.

    Rounding ``lower + u * (upper - lower)`` gives the two end values half a bin each (Sobol
    points on ``0 .. 2`` came out 16, 32, 16 of 64). Instead every integer ``k`` owns the
    interval ``[k - 0.5, k + 0.5)`` of the range ``[lower - 0.5, upper + 0.5)``, which ``u``
    spans linearly, or on the log scale when ``log`` (then ``k`` gets probability
    ``log((k + 0.5) / (k - 0.5)) / log((upper + 0.5) / (lower - 0.5))`` for uniform ``u``,
    falling with ``k`` as for a log-uniform value; ``lower >= 1``).

    Args:
        u: Values in ``[0, 1]``, any shape (1 counts as just below 1).
        lower: Smallest integer.
        upper: Largest integer (``>= lower``).
        log: Whether the bins are equal on the log scale rather than the linear one.

    Returns:
        int64 array of ``u``'s shape, values in ``lower .. upper``.
    """
    u = np.asarray(u, dtype=np.float64)
    if log:
        a, b = math.log(lower - 0.5), math.log(upper + 0.5)
        values = np.floor(np.exp(a + u * (b - a)) + 0.5)
    else:
        values = lower + np.floor(u * (upper - lower + 1))
    out: np.ndarray = np.clip(values, lower, upper).astype(np.int64)
    return out


def row_keys(X: np.ndarray) -> np.ndarray:
    """Byte keys of rows, for exact row comparison (``-0.0`` and ``0.0`` compare equal).

    Args:
        X: `(n, d)` encoded configurations with ``d >= 1``.

    Returns:
        `(n,)` array of opaque void scalars, equal exactly when the float64 rows are equal.
    """
    Xc = np.ascontiguousarray(X, dtype=np.float64) + 0.0  # +0.0 turns -0.0 into 0.0
    return Xc.view(np.dtype((np.void, Xc.dtype.itemsize * max(Xc.shape[1], 1)))).ravel()


def rows_in(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Which rows of ``X`` also occur in ``Y`` (exact byte equality of float64 rows).

    Args:
        X: `(n, d)` encoded configurations to test.
        Y: `(m, d)` encoded configurations to test against.

    Returns:
        `(n,)` boolean mask, True where row ``i`` of ``X`` equals some row of ``Y``.
    """
    if X.shape[0] == 0 or Y.shape[0] == 0:
        return np.zeros(X.shape[0], dtype=bool)
    if X.shape[1] == 0:
        return np.ones(X.shape[0], dtype=bool)
    return np.isin(row_keys(X), row_keys(Y))


#: Smallest density a prior gives a value, as a share of its largest (see Encoder.log_prior).
_PRIOR_FLOOR = 1e-12


def has_prior(hp: Any) -> bool:
    """Whether ``hp`` has a prior other than the uniform one: a normal or beta distribution,
    or a categorical's weights that are not all equal."""
    if isinstance(
        hp,
        NormalFloatHyperparameter
        | NormalIntegerHyperparameter
        | BetaFloatHyperparameter
        | BetaIntegerHyperparameter,
    ):
        return True
    if isinstance(hp, CategoricalHyperparameter) and hp.weights is not None:
        return len(set(hp.weights)) > 1
    return False


#: Points of the table a float's log prior is read from (see _log_prior_table).
_PRIOR_GRID = 65_537


def _prior_table(hp: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """``hp``'s prior relative to its largest, as a table ``(xs, ys)`` of ConfigSpace vector
    values to read with ``np.interp``, and the uniform distribution's density (over the
    vector's range, or each value alike) relative to the same largest.

    ConfigSpace's ``pdf_vector`` goes through scipy for every call, a third of a millisecond
    per hyperparameter, and local search scores a few thousand batches per run. The priors are
    smooth: a float's table holds 65,537 points (its density interpolated between them is off
    by a relative 1e-6 or less for a prior as narrow as 1% of the range). An integer's table
    holds its values, a categorical's its choices, each exact. An integer of more values
    than the float's grid gets the values nearest the float's grid, with the density of the
    float hyperparameter of the same range and prior (per unit of the vector, as a float's).
    """
    uniform = 1.0  # a density on the vector's range, [0, 1]; or each value's probability:
    discrete = True
    # (a mean far outside the range: scipy's densities underflow to 0 and divide by them)
    with np.errstate(all="ignore"):
        if isinstance(hp, CategoricalHyperparameter):
            xs = np.arange(len(hp.choices), dtype=np.float64)
            density = np.asarray(hp.pdf_vector(xs), dtype=np.float64)
            uniform = 1.0 / len(hp.choices)
        elif isinstance(hp, IntegerHyperparameter) and integer_span(hp) <= _PRIOR_GRID:
            values = np.arange(int(hp.lower), int(hp.upper) + 1)
            xs = np.asarray(hp.to_vector(values), np.float64)
            density = np.asarray(hp.pdf_vector(xs), dtype=np.float64)
            uniform = 1.0 / integer_span(hp)
        elif isinstance(hp, IntegerHyperparameter):
            # ConfigSpace normalizes an integer's prior over all its values at the first
            # call, in time linear in their number (minutes at 10**9): read the float twin's
            # density (per unit of the vector, as a float's) at the values nearest the float
            # grid, even on the vector's scale (a log scale's too).
            twin = _float_twin(hp)
            values = np.unique(np.round(np.asarray(twin.to_value(_float_grid(twin)), np.float64)))
            values = np.clip(values, hp.lower, hp.upper)
            xs = np.asarray(hp.to_vector(values), dtype=np.float64)
            density = np.asarray(twin.pdf_values(values), dtype=np.float64)
            discrete = False
        else:
            xs = _float_grid(hp)
            density = np.asarray(hp.pdf_vector(xs), dtype=np.float64)
            discrete = False
    density = np.where(np.isfinite(density), density, 0.0)
    # Normalized, so that the uniform share mixes with a distribution: ConfigSpace's
    # integer densities are not (those of Normal(mu=150, sigma=1) on 0..100 summed to 5e21,
    # which left the uniform share nothing), nor a log float's on the vector.
    if discrete:
        total = float(density.sum())
    else:
        total = float(np.sum((density[1:] + density[:-1]) * np.diff(xs)) / 2.0)
    if total > 0.0 and math.isfinite(total):
        density = density / total
    peak = max(float(density.max()), 1e-300)
    return xs, density / peak, uniform / peak


def _float_grid(hp: Any) -> np.ndarray:
    """The vector values a float's prior is tabled at: :data:`_PRIOR_GRID` even points, and
    as many again within four of their steps of a normal prior's mean, so that a prior
    narrower than the grid's step (a log-scale normal with a sigma of 1 is one: about 1e-6 of
    the vector) still peaks at its mean."""
    xs = np.linspace(0.0, 1.0, _PRIOR_GRID)
    mu = getattr(hp, "mu", None)
    if mu is None:
        return xs
    centre = float(np.clip(np.asarray(hp.to_vector(np.clip(mu, hp.lower, hp.upper))), 0, 1))
    step = 1.0 / (_PRIOR_GRID - 1)
    fine = np.clip(centre + np.linspace(-4.0 * step, 4.0 * step, _PRIOR_GRID), 0.0, 1.0)
    grid: np.ndarray = np.unique(np.concatenate([xs, fine, [centre]]))
    return grid


def _float_twin(hp: Any) -> Any:
    """The float hyperparameter with an integer one's range, scale and prior."""
    if isinstance(hp, NormalIntegerHyperparameter):
        return NormalFloatHyperparameter(hp.name, hp.mu, hp.sigma, hp.lower, hp.upper, log=hp.log)
    return BetaFloatHyperparameter(hp.name, hp.alpha, hp.beta, hp.lower, hp.upper, log=hp.log)


def check_float_range(hp: FloatHyperparameter) -> None:
    """Refuse a float hyperparameter whose range ConfigSpace cannot work with.

    ConfigSpace rounds a float's bounds to 13 decimals, which turns a bound beyond about
    1e295 into inf; its values were then inf or NaN, and ``SMAC()`` failed deep inside
    ConfigSpace ("Hyperparameter is active but has no value set").

    Raises:
        ScenarioError: A bound, or a value in between, is not finite.
    """
    with np.errstate(all="ignore"):
        values = np.asarray(hp.to_value(np.array([0.0, 0.5, 1.0])), dtype=np.float64)
    if not (math.isfinite(hp.lower) and math.isfinite(hp.upper) and np.isfinite(values).all()):
        raise ScenarioError(
            f"configspace: float hyperparameter {hp.name!r} must have a range of finite "
            f"numbers; ConfigSpace holds it as ({hp.lower!r}, {hp.upper!r}) (it turns a bound "
            "beyond about 1e295 into inf). Rescale it, e.g. a Float of its log10 or in "
            "larger units, and convert it back in the target."
        )


def integer_span(hp: IntegerHyperparameter) -> int:
    """How many values integer hyperparameter ``hp`` takes.

    Raises:
        ScenarioError: More than 2**63 - 1 (counted in int64 here, and drawn in int64 by
            ConfigSpace's sampler, which failed with numpy's bare "high is out of bounds"
            after a trial of the random preset).
    """
    count = int(hp.upper) - int(hp.lower) + 1
    if count > np.iinfo(np.int64).max:
        raise ScenarioError(
            f"configspace: integer hyperparameter {hp.name!r} spans {count:.3g} values "
            f"({hp.lower} to {hp.upper}), more than 2**63 - 1. Use a Float (with log=True for "
            "a wide range) and round it in the target."
        )
    return count


def _condition_key(condition: Any) -> Hashable:
    """What a condition checks, without its child: equal keys hold for the same rows.

    A condition of a kind not known here gets a key of its own.
    """
    components = getattr(condition, "components", None)
    if components is not None:  # AndConjunction, OrConjunction
        return (type(condition).__qualname__, tuple(map(_condition_key, components)))
    parent = getattr(condition, "parent", None)
    if parent is None or not (hasattr(condition, "value") or hasattr(condition, "values")):
        return ("own", id(condition))
    value = getattr(condition, "values", getattr(condition, "value", None))
    return (type(condition).__qualname__, parent.name, repr(value))


#: A test that a column's ConfigSpace vector value is one of some values: ``(column,
#: values)``. ConfigSpace checks ``EqualsCondition`` and ``ForbiddenEqualsClause`` with one
#: comparison (``==``) and ``InCondition`` and ``ForbiddenInClause`` with ``np.isin``, which
#: for values that are not NaN holds where some comparison does.
_ValueTest = tuple[int, np.ndarray]


def _value_test(item: Any) -> _ValueTest | None:
    """The test an equals or in condition or forbidden clause makes (of exactly those
    ConfigSpace classes), or None for any other."""
    kind = type(item)
    if kind is EqualsCondition:
        return int(item.parent_vector_id), np.array([item.vector_value], dtype=np.float64)
    if kind is InCondition:
        return int(item.parent_vector_id), np.asarray(item.vector_values, dtype=np.float64)
    if kind is ForbiddenEqualsClause:
        return int(item.vector_id), np.array([item.vector_value], dtype=np.float64)
    if kind is ForbiddenInClause:
        return int(item.vector_id), np.asarray(item.vector_values, dtype=np.float64)
    return None


#: Tests of more values than this compare by ``np.isin`` (sorting) rather than one by one.
_FEW_VALUES = 8


def _holds(V: np.ndarray, test: _ValueTest) -> np.ndarray:
    """`(n,)` mask: the rows of ConfigSpace vectors ``V`` `(n, d)` that pass ``test``."""
    col, values = test
    if values.size == 1:
        out: np.ndarray = V[:, col] == values[0]
        return out
    if values.size > _FEW_VALUES:
        out = np.isin(V[:, col], values)
    else:
        out = np.any(V[:, col, None] == values, axis=1)
    return out


def _forbidden_tests(clause: Any) -> list[_ValueTest] | None:
    """The tests a forbidden clause's rows must all pass to be forbidden (an equals or in
    clause, or an and-conjunction of them), or None for another kind of clause."""
    if type(clause) is ForbiddenAndConjunction:
        tests = [_value_test(component) for component in clause.components]
        if not tests or any(test is None for test in tests):
            return None
        return [test for test in tests if test is not None]
    test = _value_test(clause)
    return None if test is None else [test]


@dataclass(frozen=True, eq=False)
class _Level:
    """The conditional columns of one depth of the condition graph (their parents all lie at
    smaller depths), which :meth:`Encoder._repair` updates together.

    Attributes:
        cols: `(L,)` the columns, in the order their random values are drawn.
        col_list: ``cols`` as Python ints.
        reps: One column of every condition group of the level, in order of appearance
            (columns of a group share their conditions, so one mask serves them all).
        group_of: `(L,)` index into ``reps`` of each column's group.
        parent_cols: `(P,)` the level's columns some condition reads.
        parent_pos: `(P,)` their positions in ``cols``.
        equal_pos: `(E,)` positions in ``reps`` of the groups whose one condition is an
            ``EqualsCondition``, checked together in one comparison.
        equal_parent: `(E,)` the parent column of each of those conditions.
        equal_value: `(E,)` the parent's vector value each of them requires.
        in_pos: `(I,)` positions in ``reps`` of the groups whose one condition is an
            ``InCondition``, checked together.
        in_parent: `(I,)` the parent column of each of those conditions.
        in_values: `(I, m)` the parent's vector values each of them accepts (NaN-padded).
        other_pos: Positions in ``reps`` of the other groups (checked by ConfigSpace).
    """

    cols: np.ndarray
    col_list: list[int]
    reps: list[int]
    group_of: np.ndarray
    parent_cols: np.ndarray
    parent_pos: np.ndarray
    equal_pos: np.ndarray
    equal_parent: np.ndarray
    equal_value: np.ndarray
    in_pos: np.ndarray
    in_parent: np.ndarray
    in_values: np.ndarray
    other_pos: list[int]


class Encoder:
    """Encodes configurations (and optionally instance features) as float64 matrices.

    Args:
        configspace: The search space whose configurations are encoded.
        instance_features: Feature vector of every instance, by instance name; all vectors have
            the same length ``f``. Features are min-max scaled to ``[0, 1]`` per feature over the
            given instances (constant features become 0).

    Attributes:
        configspace: The search space.
        names: Hyperparameter name of every column, `(d,)`.
        n_dims: Number of configuration columns ``d``.
        is_categorical: `(d,)` mask of categorical columns (integer codes).
        is_ordinal: `(d,)` mask of ordinal columns (positions divided by ``size - 1``).
        n_categories: `(d,)` number of choices of categorical columns, 0 elsewhere.
        n_values: `(d,)` number of distinct values of each column: choices of categoricals and
            ordinals, integers in range, 1 for constants, 0 for continuous floats.
        instance_names: Names of the instances with features, in the order of
            :meth:`instance_feature_matrix`.
        n_instance_features: Length ``f`` of the instance feature vectors (0 without features).
        prior_names: Names of the hyperparameters with a prior that is not uniform (a normal
            or beta distribution, or a categorical's unequal weights), in column order.
    """

    def __init__(
        self,
        configspace: ConfigurationSpace,
        instance_features: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    ) -> None:
        if not isinstance(configspace, ConfigurationSpace):
            raise ScenarioError(
                f"Encoder's configspace: expected a ConfigSpace ConfigurationSpace, got "
                f"{configspace!r:.100}"
            )
        self.configspace = configspace
        self.names: tuple[str, ...] = tuple(configspace.keys())
        self.n_dims = len(self.names)
        self._hps = [configspace[name] for name in self.names]
        d = self.n_dims
        self._kind = np.empty(d, dtype=np.int64)
        self.n_values = np.zeros(d, dtype=np.int64)
        self._constant_value = np.zeros(d)
        for j, hp in enumerate(self._hps):
            if isinstance(hp, Constant):
                self._kind[j] = _CONSTANT
                self.n_values[j] = 1
                self._constant_value[j] = float(hp.to_vector(hp.value))
            elif isinstance(hp, CategoricalHyperparameter):
                self._kind[j] = _CATEGORICAL
                self.n_values[j] = len(hp.choices)
            elif isinstance(hp, OrdinalHyperparameter):
                self._kind[j] = _ORDINAL
                self.n_values[j] = len(hp.sequence)
            elif isinstance(hp, IntegerHyperparameter):
                self._kind[j] = _INT
                self.n_values[j] = integer_span(hp)
            elif isinstance(hp, FloatHyperparameter):
                self._kind[j] = _FLOAT
            else:
                raise ScenarioError(
                    f"configspace: hyperparameter {hp.name!r} has type {type(hp).__name__}; "
                    "expected a float, integer, categorical, ordinal or constant hyperparameter"
                )
        self._init_fast_numeric()
        self.is_categorical = self._kind == _CATEGORICAL
        self.is_ordinal = self._kind == _ORDINAL
        self.n_categories = np.where(self.is_categorical, self.n_values, 0)
        self._ordinal_scale = np.where(
            self._kind == _ORDINAL, np.maximum(self.n_values - 1, 1), 1
        ).astype(np.float64)
        self._ordinal_cols = np.flatnonzero(self._kind == _ORDINAL)
        self._categorical_cols = np.flatnonzero(self.is_categorical)
        self._constant_cols = np.flatnonzero(self._kind == _CONSTANT)
        # (float and integer columns that canonicalize through ConfigSpace, one at a time)
        self._slow_numeric_cols: list[int] = np.flatnonzero(
            ~self._fast & ((self._kind == _FLOAT) | (self._kind == _INT))
        ).tolist()
        self._init_draws()
        # Hyperparameters with parent conditions, parents before children.
        index_of = configspace.index_of
        conditional = [index_of[name] for name in configspace.conditional_hyperparameters]
        depth: dict[int, int] = {}

        def _depth(j: int) -> int:
            if j not in depth:
                parents = configspace.parents_of[self.names[j]]
                depth[j] = 1 + max((_depth(index_of[p.name]) for p in parents), default=-1)
            return depth[j]

        self._conditional = sorted(conditional, key=lambda j: (_depth(j), j))
        self._conditions = {
            j: list(configspace.parent_conditions_of[self.names[j]]) for j in self._conditional
        }
        # Columns whose conditions are the same (as the 10 children of an estimator choice
        # each hang on classifier == that estimator) share one group, checked once per call.
        groups: dict[Hashable, int] = {}
        self._condition_group = {
            j: groups.setdefault(tuple(map(_condition_key, self._conditions[j])), len(groups))
            for j in self._conditional
        }
        # Columns some condition reads: their values must be up to date as children are set.
        self._is_parent = np.zeros(d, dtype=bool)
        for j in self._conditional:
            for parent in configspace.parents_of[self.names[j]]:
                self._is_parent[index_of[parent.name]] = True
        self._levels = self._repair_levels(_depth)
        self._forbiddens = list(configspace.forbidden_clauses)
        self._forbidden_tests = [_forbidden_tests(clause) for clause in self._forbiddens]
        # (the columns the clauses read, when every clause is checked without ConfigSpace)
        self._forbidden_cols: np.ndarray | None = None
        if all(tests is not None for tests in self._forbidden_tests):
            read = {col for tests in self._forbidden_tests if tests for col, _ in tests}
            self._forbidden_cols = np.array(sorted(read), dtype=np.intp)
        self._is_root = np.ones(d, dtype=bool)
        self._is_root[conditional] = False
        self._prior_cols = [j for j, hp in enumerate(self._hps) if has_prior(hp)]
        self.prior_names: tuple[str, ...] = tuple(self.names[j] for j in self._prior_cols)
        # (column -> table of its log prior, built at the first log_prior() that needs it)
        self._prior_tables: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        # Instance features.
        self.instance_names: tuple[str, ...] = ()
        self._instance_index: dict[str, int] = {}
        self._features: np.ndarray | None = None
        self.n_instance_features = 0
        if instance_features is not None:
            self._set_instance_features(instance_features)

    def _repair_levels(self, depth_of: Callable[[int], int]) -> list[_Level]:
        """The conditional columns split by depth (see :class:`_Level`), shallowest first,
        each level in the order of :attr:`_conditional`."""
        levels = []
        by_depth: dict[int, list[int]] = {}
        for j in self._conditional:  # (sorted by depth, then column)
            by_depth.setdefault(depth_of(j), []).append(j)
        for cols in by_depth.values():
            groups: dict[int, int] = {}
            group_of = [groups.setdefault(self._condition_group[j], len(groups)) for j in cols]
            reps: dict[int, int] = {}
            for j, g in zip(cols, group_of):
                reps.setdefault(g, j)
            col_array = np.asarray(cols, dtype=np.intp)
            parent_pos = np.flatnonzero(self._is_parent[col_array])
            equal: list[tuple[int, int, float]] = []
            within: list[tuple[int, int, np.ndarray]] = []
            other: list[int] = []
            for g, j in enumerate(reps.values()):
                conditions = self._conditions[j]
                test = _value_test(conditions[0]) if len(conditions) == 1 else None
                if test is None or test[1].size > _FEW_VALUES:
                    other.append(g)
                elif type(conditions[0]) is EqualsCondition:
                    equal.append((g, test[0], float(test[1][0])))
                else:
                    within.append((g, *test))
            width = max((values.size for _, _, values in within), default=0)
            in_values = np.full((len(within), width), np.nan)
            for row, (_, _, values) in enumerate(within):
                in_values[row, : values.size] = values
            levels.append(
                _Level(
                    cols=col_array,
                    col_list=list(cols),
                    reps=list(reps.values()),
                    group_of=np.asarray(group_of, dtype=np.intp),
                    parent_cols=col_array[parent_pos],
                    parent_pos=parent_pos,
                    equal_pos=np.array([g for g, _, _ in equal], dtype=np.intp),
                    equal_parent=np.array([p for _, p, _ in equal], dtype=np.intp),
                    equal_value=np.array([v for _, _, v in equal], dtype=np.float64),
                    in_pos=np.array([g for g, _, _ in within], dtype=np.intp),
                    in_parent=np.array([p for _, p, _ in within], dtype=np.intp),
                    in_values=in_values,
                    other_pos=other,
                )
            )
        return levels

    def _level_satisfied(
        self, level: _Level, V: np.ndarray, known: dict[int, np.ndarray]
    ) -> np.ndarray:
        """`(n, L)` mask: the parent conditions of each column of ``level`` hold for the
        ConfigSpace vectors ``V`` `(n, d)` (see :meth:`_satisfied`; ``known`` as there).

        Groups whose one condition is an ``EqualsCondition`` or an ``InCondition`` are
        checked together (see :data:`_ValueTest`), the others by ConfigSpace.
        """
        masks = np.empty((V.shape[0], len(level.reps)), dtype=bool)
        if level.equal_pos.size:
            masks[:, level.equal_pos] = V[:, level.equal_parent] == level.equal_value
        if level.in_pos.size:
            parents = V[:, level.in_parent, None]
            masks[:, level.in_pos] = np.any(parents == level.in_values, axis=2)
        Vt = V.T
        for g in level.other_pos:
            masks[:, g] = self._satisfied(level.reps[g], Vt, known)
        out: np.ndarray = masks[:, level.group_of]
        return out

    def _init_draws(self) -> None:
        """Set up :meth:`_draw_values`: every column's way of drawing (``_DRAW_*``) with its
        bounds, and the canonical encodings of the values of integer columns, looked up
        instead of converting drawn values through ConfigSpace one column at a time.

        An integer column's table holds what :meth:`_uniform_column` returns for each of its
        values (ConfigSpace's vector of the value, made canonical), so a look-up gives the same
        bytes; a log-scale integer's draw is mapped to its value as :func:`unit_to_integers`
        maps it, with the same bounds of its bins.
        """
        d = self.n_dims
        mode = np.full(d, _DRAW_COLUMN, dtype=np.int64)
        low, high = [0] * d, [0] * d
        self._int_lower = np.zeros(d, dtype=np.int64)
        self._int_upper = np.zeros(d, dtype=np.int64)
        self._int_offset = np.zeros(d, dtype=np.int64)
        self._log_int_a = np.zeros(d)
        self._log_int_b = np.zeros(d)
        # (ConfigSpace's bounds of an integer's unit scale: its own, or their logs)
        self._int_scale_lo = np.zeros(d)
        self._int_scale_hi = np.ones(d)
        self._int_log = np.zeros(d, dtype=bool)
        tables: list[np.ndarray] = []
        vector_tables: list[np.ndarray] = []
        size = 0
        for j, hp in enumerate(self._hps):
            kind = self._kind[j]
            if kind == _FLOAT and self._fast[j]:
                mode[j] = _DRAW_UNIT
            elif kind in (_ORDINAL, _CATEGORICAL):
                mode[j], high[j] = _DRAW_CODES, int(self.n_values[j])
            elif kind == _CONSTANT:
                mode[j] = _DRAW_CONSTANT
            elif (
                kind == _INT
                and self.n_values[j] <= _INT_TABLE_MAX
                and size + self.n_values[j] <= _INT_TABLE_BUDGET
            ):
                numeric: Any = hp
                lower, upper = int(numeric.lower), int(numeric.upper)
                values = np.arange(lower, upper + 1)
                vector = np.asarray(numeric.to_vector(values), dtype=np.float64)
                tables.append(self._canon_column(j, vector))
                vector_tables.append(vector)
                self._int_lower[j], self._int_upper[j] = lower, upper
                self._int_offset[j] = size
                size += values.size
                if getattr(hp, "log", False):  # (bins as unit_to_integers draws them)
                    mode[j] = _DRAW_UNIT
                    self._log_int_a[j] = math.log(lower - 0.5)
                    self._log_int_b[j] = math.log(upper + 0.5)
                else:
                    mode[j], low[j], high[j] = _DRAW_INTEGERS, lower, upper + 1
        # (each column's default, encoded: what a child that becomes active gets without rng)
        self._defaults = np.array(
            [
                float(np.asarray(hp.to_vector(hp.default_value))) / self._ordinal_scale[j]
                for j, hp in enumerate(self._hps)
            ]
        )
        self._draw_mode = mode
        # (the generator call of each mode: rng.integers for integers and codes alike)
        self._draw_call = np.where(mode == _DRAW_CODES, _DRAW_INTEGERS, mode)
        self._draw_low = np.asarray(low, dtype=np.int64)
        self._draw_high = np.asarray(high, dtype=np.int64)
        self._int_table = np.concatenate(tables) if tables else np.empty(0)
        self._int_vector_table = np.concatenate(vector_tables) if vector_tables else np.empty(0)
        self._init_int_snap()

    def _init_int_snap(self) -> None:
        """Find the tabled integer columns whose values :meth:`_int_values` computes as
        ConfigSpace's ``to_value`` does (byte-identical on a probe of unit values, the
        table's vectors and the points halfway between them); :meth:`neighbours` moves those
        all at once, the others one column at a time through ConfigSpace."""
        d = self.n_dims
        self._int_snap = np.zeros(d, dtype=bool)
        tabled = np.flatnonzero((self._kind == _INT) & (self._draw_mode != _DRAW_COLUMN))
        for j in tabled.tolist():
            hp: Any = self._hps[j]
            log = bool(getattr(hp, "log", False))
            lower, upper = np.float64(int(hp.lower)), np.float64(int(hp.upper))
            self._int_log[j] = log
            self._int_scale_lo[j] = np.log(lower) if log else lower
            self._int_scale_hi[j] = np.log(upper) if log else upper
            start = self._int_offset[j]
            vectors = self._int_vector_table[start : start + int(self.n_values[j])]
            probe = np.concatenate(
                [
                    [0.0, 1.0, 0.5],
                    np.random.default_rng(0).random(1021),
                    vectors,
                    (vectors[1:] + vectors[:-1]) / 2.0,
                ]
            )
            probe = np.clip(probe, 0.0, 1.0)
            ours = self._int_values(np.full(probe.size, j), probe)
            theirs = np.asarray(hp.to_value(probe), dtype=np.int64)
            self._int_snap[j] = ours.tobytes() == theirs.tobytes()

    def _int_values(self, cols: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Integer values of unit values ``u`` `(m,)` of integer columns ``cols`` `(m,)`,
        computed as ConfigSpace's ``to_value`` computes them (scaled to the range, or to its
        logs and exponentiated, then rounded)."""
        lo, hi = self._int_scale_lo[cols], self._int_scale_hi[cols]
        scaled = u * (hi - lo) + lo
        log = self._int_log[cols]
        values = scaled.copy()
        values[log] = np.exp(scaled[log])
        out: np.ndarray = values.round().astype(np.int64)
        return out

    def _draw_values(
        self, cols: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Uniformly random canonical values: ``counts[i]`` of column ``cols[i]`` for each
        ``i`` in turn, as :meth:`_uniform_column` returns them when called column after
        column (the same draws from ``rng``, the same bytes), in one flat array.

        Consecutive columns drawn by the same kind of generator call (``rng.random`` for
        floats and log integers, ``rng.integers`` for integers and codes) draw in one call:
        numpy's generators give the numbers of one call per column, and leave the same state
        (``tests/test_encoding.py`` checks it). The values are then mapped to their
        encodings for all columns at once.

        Args:
            cols: `(k,)` column indices.
            counts: `(k,)` values to draw of each (positive).
            rng: Source of randomness.

        Returns:
            `(sum(counts),)` encoded values, those of ``cols[0]`` first.
        """
        raw = self._draw_raw(cols, counts, rng)
        out: np.ndarray
        if cols.size and raw.size == cols.size * int(counts[0]) and (counts == counts[0]).all():
            # (as many of every column, as sample() draws: columns of a matrix)
            out = self._encode_draws(cols, raw.reshape(cols.size, -1).T).T.ravel()
        else:
            out = self._encode_draws(np.repeat(cols, counts), raw[None, :])[0]
        return out

    def _draw_raw(
        self, cols: np.ndarray, counts: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """:meth:`_draw_values`'s draws before :meth:`_encode_draws` maps them to their
        encodings (the values of columns drawn by :meth:`_uniform_column` are final)."""
        ends = np.cumsum(counts)
        starts = ends - counts
        raw = np.empty(int(ends[-1]) if ends.size else 0)
        call = self._draw_call[cols]
        first = np.ones(cols.size, dtype=bool)  # (a column of _uniform_column: its own run)
        first[1:] = (call[1:] != call[:-1]) | (call[1:] == _DRAW_COLUMN)
        edges = np.append(np.flatnonzero(first), cols.size).tolist()
        # (bounds per value cost more per value than a column's bounds: long columns, as
        # those of sample(), draw their integers a column at a time)
        by_column = raw.size >= 64 * cols.size
        for a, b in pairwise(edges):
            lo, hi, kind = int(starts[a]), int(ends[b - 1]), call[a]
            if kind == _DRAW_UNIT:
                raw[lo:hi] = rng.random(hi - lo)
            elif kind == _DRAW_INTEGERS and by_column:
                for j, start, end in zip(cols[a:b].tolist(), starts[a:b], ends[a:b]):
                    low, high = int(self._draw_low[j]), int(self._draw_high[j])
                    raw[start:end] = rng.integers(low, high, size=int(end - start))
            elif kind == _DRAW_INTEGERS:
                run = cols[a:b]
                raw[lo:hi] = rng.integers(
                    np.repeat(self._draw_low[run], counts[a:b]),
                    np.repeat(self._draw_high[run], counts[a:b]),
                )
            elif kind == _DRAW_COLUMN:
                raw[lo:hi] = self._uniform_column(int(cols[a]), hi - lo, rng)
        return raw

    def _encode_draws(self, cols: np.ndarray, R: np.ndarray) -> np.ndarray:
        """The canonical encodings of :meth:`_draw_values`'s draws ``R`` `(n, k)` of columns
        ``cols`` `(k,)`: unit values of floats and log integers, integer values of integers,
        codes of categoricals and ordinals; columns drawn by :meth:`_uniform_column` hold
        their encodings already. Returns ``R``, changed in place."""
        mode, kind = self._draw_mode[cols], self._kind[cols]
        sel = np.flatnonzero((mode == _DRAW_UNIT) & (kind == _FLOAT))
        if sel.size:
            R[:, sel] = self._numeric_canon(cols[sel], R[:, sel])
        sel = np.flatnonzero((mode == _DRAW_UNIT) & (kind == _INT))
        if sel.size:  # (unit_to_integers with each column's bins)
            c = cols[sel]
            a, b = self._log_int_a[c], self._log_int_b[c]
            values = np.floor(np.exp(a + R[:, sel] * (b - a)) + 0.5)
            values = np.clip(values, self._int_lower[c], self._int_upper[c]).astype(np.int64)
            R[:, sel] = self._int_table[self._int_offset[c] + values - self._int_lower[c]]
        sel = np.flatnonzero(mode == _DRAW_INTEGERS)
        if sel.size:
            c = cols[sel]
            index = self._int_offset[c] + R[:, sel].astype(np.int64) - self._int_lower[c]
            R[:, sel] = self._int_table[index]
        sel = np.flatnonzero(kind == _ORDINAL)
        if sel.size:
            R[:, sel] = R[:, sel] / self._ordinal_scale[cols[sel]]
        sel = np.flatnonzero(mode == _DRAW_CONSTANT)
        if sel.size:
            R[:, sel] = self._constant_value[cols[sel]]
        return R

    def _init_fast_numeric(self) -> None:
        """Find the float and integer columns whose canonical form numpy formulas reproduce.

        ConfigSpace maps a unit value ``v`` of a numeric hyperparameter to ``lower + v *
        (upper - lower)`` (on the log scale for log hyperparameters) and back. Doing that for all
        such columns in one array operation is much cheaper than one ConfigSpace call per column,
        so :meth:`canonicalize` does it for every column where it gives byte-identical results
        on a probe of values (checked here, so a ConfigSpace that computes differently only
        costs speed).
        """
        d = self.n_dims
        self._fast = np.zeros(d, dtype=bool)
        self._fast_lo = np.zeros(d)
        self._fast_hi = np.ones(d)
        self._fast_log = np.zeros(d, dtype=bool)
        self._fast_int = self._kind == _INT
        for j, hp in enumerate(self._hps):
            if self._kind[j] not in (_FLOAT, _INT):
                continue
            numeric: Any = hp
            self._fast_lo[j], self._fast_hi[j] = float(numeric.lower), float(numeric.upper)
            self._fast_log[j] = bool(getattr(hp, "log", False))
        # (each column's unit scale: from a to a + span, its bounds or their logs)
        with np.errstate(divide="ignore", invalid="ignore"):
            self._canon_a = np.where(self._fast_log, np.log(self._fast_lo), self._fast_lo)
            self._canon_span = (
                np.where(self._fast_log, np.log(self._fast_hi), self._fast_hi) - self._canon_a
            )
        candidates = np.flatnonzero((self._kind == _FLOAT) | (self._kind == _INT))
        if candidates.size == 0:
            return
        probe = np.concatenate(
            [[0.0, 1.0, 0.5, 1e-300, 1.0 - 1e-16], np.random.default_rng(0).random(2043)]
        )
        slow = [self._canon_column(int(j), probe.copy()) + 0.0 for j in candidates]
        fast = self._numeric_canon(candidates, np.repeat(probe[:, None], candidates.size, axis=1))
        for col, j in enumerate(candidates.tolist()):
            self._fast[j] = fast[:, col].tobytes() == slow[col].tobytes()
        if not self._fast[candidates].all():
            logger.debug(
                "encoder: ConfigSpace rounding not reproduced for %s; using ConfigSpace there",
                [self.names[j] for j in candidates if not self._fast[j]],
            )

    def _numeric_canon(self, cols: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Canonical encoded values of float/integer columns ``cols`` `(k,)`, ``V`` `(n, k)`.

        Floats are rounded as ConfigSpace rounds values; integers are snapped to their grid.
        """
        lo, hi = self._fast_lo[cols], self._fast_hi[cols]
        log, is_int = self._fast_log[cols], self._fast_int[cols]
        a, span = self._canon_a[cols], self._canon_span[cols]
        # (steps that no column needs are skipped: the others' values are the same)
        any_log, all_log = bool(log.any()), bool(log.all())
        any_int, all_int = bool(is_int.any()), bool(is_int.all())
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = np.clip(V, 0.0, 1.0) * span + a
            if all_log:
                values = np.exp(scaled)
            elif any_log:
                values = np.where(log, np.exp(scaled), scaled)
            else:
                values = scaled
            if all_int:
                values = np.round(values)
            else:
                floats = np.clip(np.round(np.clip(values, lo, hi), _ROUND_PLACES), lo, hi)
                values = np.where(is_int, np.round(values), floats) if any_int else floats
            if all_log:
                values = np.log(values)
            elif any_log:
                values = np.where(log, np.log(values), values)
            back = (values - a) / span
        if not all_int:
            clipped = np.clip(back, 0.0, 1.0)
            back = np.where(is_int, back, clipped) if any_int else clipped
        out: np.ndarray = back + 0.0
        return out

    # ------------------------------------------------------------------ instances

    def _set_instance_features(
        self, instance_features: Mapping[str, Sequence[float] | np.ndarray]
    ) -> None:
        if not isinstance(instance_features, Mapping):
            raise ScenarioError(
                "Encoder's instance_features: expected a mapping of instance name to feature "
                f"vector, as Scenario.instance_features; got {instance_features!r:.100}"
            )
        names = tuple(instance_features)
        if not names:
            raise ScenarioError("instance_features: expected at least one instance, got none")
        try:
            rows = [np.asarray(instance_features[name], dtype=np.float64) for name in names]
        except (TypeError, ValueError) as err:
            raise ScenarioError(
                f"instance_features: expected a list of numbers per instance, got {err}"
            ) from err
        lengths = {row.shape for row in rows}
        if len(lengths) != 1 or rows[0].ndim != 1:
            raise ScenarioError(
                "instance_features: expected one flat feature vector of the same length per "
                f"instance, got shapes {sorted(lengths)}"
            )
        F = np.stack(rows)
        if not np.all(np.isfinite(F)):
            raise ScenarioError("instance_features: expected finite numbers, got NaN or inf")
        # (features of 1e308 and -1e308, whose span overflowed to NaN features that stopped
        # the run at its first fit, in halves)
        F = halved_if_wide(F)
        low = F.min(axis=0)
        span = F.max(axis=0) - low
        self._features = (F - low) / np.where(span > 0, span, 1.0)
        self.instance_names = names
        self._instance_index = {name: i for i, name in enumerate(names)}
        self.n_instance_features = F.shape[1]

    def instance_feature_matrix(self) -> np.ndarray | None:
        """Scaled features of all instances, `(m, f)` in :attr:`instance_names` order.

        Returns:
            The matrix, or None when the encoder was built without instance features.
        """
        return None if self._features is None else self._features.copy()

    def encode_with_instances(
        self, configs: Sequence[Configuration], instances: Sequence[str]
    ) -> np.ndarray:
        """Encode (configuration, instance) pairs.

        Args:
            configs: ``n`` configurations.
            instances: ``n`` instance names; ``instances[i]`` is paired with ``configs[i]``.

        Returns:
            `(n, d + f)`: row ``i`` is the encoding of ``configs[i]`` followed by the scaled
            features of ``instances[i]``. Without instance features this is :meth:`encode`.

        Raises:
            ScenarioError: The lengths differ or an instance has no features.
        """
        if len(configs) != len(instances):
            raise ScenarioError(
                f"instances: expected one instance per configuration ({len(configs)}), "
                f"got {len(instances)}"
            )
        X = self.encode(configs)
        if self._features is None:
            return X
        try:
            idx = np.fromiter(
                (self._instance_index[name] for name in instances), dtype=np.intp, count=len(X)
            )
        except KeyError as err:
            raise ScenarioError(
                f"instances: expected names of instances with features, got {err.args[0]!r}"
            ) from None
        return np.hstack([X, self._features[idx]])

    # ------------------------------------------------------------------ conversion

    def _to_cs(self, X: np.ndarray) -> np.ndarray:
        """ConfigSpace vectors `(n, d)` (NaN for inactive) of encoded rows `(n, d)`.

        An ordinal's vector value is the index of its value, which ConfigSpace compares exactly
        with the indices in conditions and forbidden clauses. ``index / (size - 1)`` multiplied
        back by ``size - 1`` can miss the index by an ulp (``15 / 22 * 22`` is
        ``14.999999999999998``), so ordinal columns are rounded to whole indices.
        """
        V = X * self._ordinal_scale
        if self._ordinal_cols.size:
            V[:, self._ordinal_cols] = np.round(V[:, self._ordinal_cols])
        V[X == INACTIVE] = np.nan
        return V

    def _to_cs_column(self, j: int, col: np.ndarray) -> np.ndarray:
        """ConfigSpace vector values of active encoded values ``col`` of column ``j`` (ordinal
        indices rounded to whole numbers, as in :meth:`_to_cs`)."""
        scaled: np.ndarray = col * self._ordinal_scale[j]
        if self._kind[j] == _ORDINAL:
            scaled = np.round(scaled)
        return scaled

    def log_prior(self, X: np.ndarray, uniform_share: float = 0.0, bins: int = 0) -> np.ndarray:
        """How much the space's priors believe in each encoded configuration.

        The sum, over the active hyperparameters of :attr:`prior_names`, of the log of the
        prior's density (or a categorical's weight) at the row's value, relative to the
        prior's largest: 0 where every such hyperparameter sits at its prior's mode, and the
        same for a hyperparameter that is inactive. Uniform hyperparameters add nothing. A
        density that vanishes (a beta prior at its bounds) counts as ``1e-12`` of the largest,
        so that no configuration is ruled out.

        Args:
            X: `(n, d)` encoded configurations.
            uniform_share: Each prior is first mixed with the uniform distribution (over its
                vector's range, or its values alike) in this share: a belief held with that
                much doubt, whose tails stay at the uniform's share of density.
            bins: With more than 0, a float's relative density is rounded to one of that many
                levels first, so that the prior is constant in steps (as SMAC3 does for
                its random forests, whose acquisition is constant in steps too).

        Returns:
            `(n,)` values of at most 0.
        """
        out = np.zeros(X.shape[0])
        for j in self._prior_cols:
            col = X[:, j]
            active = col != INACTIVE
            if not active.any():
                continue
            xs, ys, uniform = self._prior_table(j)
            relative = np.interp(self._to_cs_column(j, col[active]), xs, ys)
            if bins > 0 and self._kind[j] == _FLOAT:
                relative = np.ceil(relative * bins) / bins
            # (over the mixture's largest, at the prior's mode: 0 there)
            peak = 1.0 - uniform_share + uniform_share * uniform
            mixed = ((1.0 - uniform_share) * relative + uniform_share * uniform) / peak
            out[active] += np.log(np.clip(mixed, _PRIOR_FLOOR, 1.0))
        return out

    def _prior_table(self, j: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Column ``j``'s prior as a table (see :func:`_prior_table`), built once."""
        if j not in self._prior_tables:
            self._prior_tables[j] = _prior_table(self._hps[j])
        return self._prior_tables[j]

    def _mode_of(self, j: int) -> float:
        """Column ``j``'s value where its prior peaks: a normal's mean when it lies in the
        range (the table's grid holds it only approximately), else the table's highest point."""
        xs, ys, _ = self._prior_table(j)
        best = float(xs[int(np.argmax(ys))])
        hp: Any = self._hps[j]
        mu = getattr(hp, "mu", None)
        if mu is not None and hp.lower <= mu <= hp.upper:
            at_mu = float(np.asarray(hp.to_vector(np.asarray(mu, dtype=np.float64))).item())
            if np.interp(at_mu, xs, ys) >= float(ys.max()) * (1.0 - 1e-6):
                best = at_mu
        return best / float(self._ordinal_scale[j])

    def prior_mode(self) -> np.ndarray:
        """Where the priors peak: the default configuration with each active hyperparameter
        of :attr:`prior_names` at its prior's mode (a normal's mean, a beta's mode, the
        heaviest choice), children its choices activate included. ConfigSpace lets a default
        differ from the prior's mode (a solver's shipped setting against the user's belief).

        Returns:
            `(1, d)` canonical encoded row; the default configuration's when the modes make
            no valid configuration (a forbidden clause), `(0, d)` when it is none either.
        """
        try:
            default = self.encode([self.configspace.get_default_configuration()])
        except (ValueError, TypeError):  # ConfigSpace's errors for a forbidden default
            return np.empty((0, self.n_dims))
        row = default.copy()
        for _ in range(len(self._prior_cols) + 1):  # (a mode may activate children: a level
            before = row.copy()  # of the conditions per pass, until nothing changes)
            for j in self._prior_cols:
                if row[0, j] != INACTIVE:
                    row[0, j] = self._mode_of(j)
            row = self.canonicalize(self._repair(self.canonicalize(row), None))
            if np.array_equal(row, before):
                break
        return row if bool(self.is_valid(row)[0]) else default

    def _from_cs(self, V: np.ndarray) -> np.ndarray:
        """Canonical encoded rows of ConfigSpace vectors `(n, d)`."""
        X = inactive_as_code(V / self._ordinal_scale)
        return self.canonicalize(X)

    def encode(self, configs: Sequence[Configuration]) -> np.ndarray:
        """Encode configurations.

        Args:
            configs: ``n`` configurations of :attr:`configspace`.

        Returns:
            `(n, d)` canonical encoded configurations.
        """
        if len(configs) == 0:
            return np.empty((0, self.n_dims))
        V = np.stack([np.asarray(config.get_array(), dtype=np.float64) for config in configs])
        if V.shape[1] != self.n_dims:
            raise ScenarioError(
                f"configs: expected configurations with {self.n_dims} hyperparameters, "
                f"got {V.shape[1]}"
            )
        return self._from_cs(V)

    def decode(self, X: np.ndarray) -> list[Configuration]:
        """Configurations of encoded rows.

        Values are snapped to the hyperparameters' grids and inactive hyperparameters are set
        from the conditions (a child that should be active but holds :data:`INACTIVE` gets its
        default), so any row near a valid configuration decodes to a valid one. Values come from
        ConfigSpace's own conversion of the vector, which can miss a bound by a rounding error
        (``999.9999999999998`` for the upper bound 1000 of a log float).

        Args:
            X: `(n, d)` encoded configurations.

        Returns:
            ``n`` valid configurations; ``decode(encode(configs)) == configs`` for every
            configuration whose values survive ConfigSpace's own round trip through its vector
            (``Configuration(space, vector=config.get_array()) == config``).

        Raises:
            ScenarioError: ``X`` has the wrong shape, or a row violates a forbidden clause.
        """
        X = self._check(X, "X")
        X = self.canonicalize(self._repair(self.canonicalize(X), None))
        bad = self._forbidden(self._to_cs(X))
        if bad.any():
            raise ScenarioError(
                f"X: expected rows that satisfy the forbidden clauses, got {int(bad.sum())} "
                f"violating rows (first: row {int(np.flatnonzero(bad)[0])})"
            )
        V = self._to_cs(X)
        return [Configuration(self.configspace, vector=v.copy()) for v in V]

    def canonicalize(self, X: np.ndarray) -> np.ndarray:
        """Snap encoded rows to the canonical encoding (grids, rounding, inactive marker).

        Active values are clipped to their range, integers, ordinals and categoricals snapped to
        their values, floats rounded as ConfigSpace rounds values. Conditions are not checked.

        Args:
            X: `(n, d)` encoded configurations.

        Returns:
            `(n, d)` canonical copy.
        """
        X = np.array(X, dtype=np.float64, copy=True)
        if X.shape[0] == 0:
            return X
        # (a hyperparameter without parents is never inactive: its value below -0.5 is
        # clipped, as any other; it was taken for the marker, and decode gave a configuration
        # without it)
        inactive = ((X < -0.5) & ~self._is_root) | np.isnan(X)
        fast = np.flatnonzero(self._fast)
        if fast.size:
            X[:, fast] = np.where(
                inactive[:, fast], INACTIVE, self._numeric_canon(fast, np.nan_to_num(X[:, fast]))
            )
        # (categorical, ordinal and constant columns together, as _canon_column does each)
        cat = self._categorical_cols
        if cat.size:
            codes = np.clip(np.round(X[:, cat]), 0, self.n_values[cat] - 1)
            X[:, cat] = np.where(inactive[:, cat], INACTIVE, codes)
        ordinal = self._ordinal_cols
        if ordinal.size:
            k = self._ordinal_scale[ordinal]
            index = np.clip(np.round(X[:, ordinal] * k), 0, self.n_values[ordinal] - 1)
            X[:, ordinal] = np.where(inactive[:, ordinal], INACTIVE, index / k)
        constant = self._constant_cols
        if constant.size:
            X[:, constant] = np.where(
                inactive[:, constant], INACTIVE, self._constant_value[constant]
            )
        for j in self._slow_numeric_cols:
            act = ~inactive[:, j]
            if act.all():
                X[:, j] = self._canon_column(j, X[:, j])
            else:
                X[act, j] = self._canon_column(j, X[act, j])
                X[~act, j] = INACTIVE
        return X + 0.0

    def _canon_column(self, j: int, col: np.ndarray) -> np.ndarray:
        """Canonical form of active encoded values ``col`` of column ``j``."""
        if col.size == 0:
            return col
        if self._fast[j]:
            return self._numeric_canon(np.array([j]), col[:, None])[:, 0]
        hp: Any = self._hps[j]
        kind = self._kind[j]
        if kind == _FLOAT:
            col = np.clip(col, 0.0, 1.0)
            values = np.round(np.asarray(hp.to_value(col), dtype=np.float64), _ROUND_PLACES)
            values = np.clip(values, hp.lower, hp.upper)
            return np.clip(np.asarray(hp.to_vector(values), dtype=np.float64), 0.0, 1.0)
        if kind == _INT:
            values = np.asarray(hp.to_value(np.clip(col, 0.0, 1.0)))
            return np.asarray(hp.to_vector(values), dtype=np.float64)
        if kind == _ORDINAL:
            k = self._ordinal_scale[j]  # (1 for a sequence of one: its only value is 0)
            last = self.n_values[j] - 1
            return np.asarray(np.clip(np.round(col * k), 0, last) / k, dtype=np.float64)
        if kind == _CATEGORICAL:
            return np.asarray(np.clip(np.round(col), 0, self.n_values[j] - 1), dtype=np.float64)
        return np.full_like(col, self._constant_value[j])

    # ------------------------------------------------------------------ validity

    def _check(self, X: np.ndarray, name: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_dims:
            raise ScenarioError(
                f"{name}: expected an array of shape (n, {self.n_dims}), got shape {X.shape}"
            )
        return X

    def _forbidden(self, V: np.ndarray) -> np.ndarray:
        """`(n,)` mask of ConfigSpace vectors `(n, d)` violating a forbidden clause.

        Clauses of equals and in clauses (and and-conjunctions of them) are checked here as
        ConfigSpace checks them (see :data:`_ValueTest`), the others by ConfigSpace.
        """
        bad = np.zeros(V.shape[0], dtype=bool)
        if self._forbiddens and V.shape[0]:
            Vt = V.T
            for clause, tests in zip(self._forbiddens, self._forbidden_tests):
                if tests is None:
                    bad |= np.asarray(clause.is_forbidden_vector_array(Vt), dtype=bool)
                    continue
                hit = _holds(V, tests[0])
                for test in tests[1:]:
                    hit &= _holds(V, test)
                bad |= hit
        return bad

    def _forbidden_rows(self, X: np.ndarray) -> np.ndarray:
        """`(n,)` mask of encoded rows `(n, d)` violating a forbidden clause: as
        ``_forbidden(_to_cs(X))``, converting only the columns the clauses read when all of
        them are checked here."""
        cols = self._forbidden_cols
        if cols is None or X.shape[0] == 0:
            return self._forbidden(self._to_cs(X))
        V = np.empty_like(X)  # (only the columns the clauses read are set)
        scaled = X[:, cols] * self._ordinal_scale[cols]
        ordinal = self._kind[cols] == _ORDINAL
        if ordinal.any():
            scaled[:, ordinal] = np.round(scaled[:, ordinal])
        V[:, cols] = np.where(X[:, cols] == INACTIVE, np.nan, scaled)
        return self._forbidden(V)

    def _satisfied(
        self, j: int, Vt: np.ndarray, known: dict[int, np.ndarray] | None = None
    ) -> np.ndarray:
        """`(n,)` mask: the parent conditions of column ``j`` hold for ``Vt`` `(d, n)`.

        ``known`` keeps the masks of condition groups already checked on ``Vt`` (valid while
        the parents' columns stay as they were): columns of one group share a mask.
        """
        group = self._condition_group[j]
        if known is not None and group in known:
            return known[group]
        ok = np.ones(Vt.shape[1], dtype=bool)
        for condition in self._conditions[j]:
            ok &= np.asarray(condition.satisfied_by_vector_array(Vt), dtype=bool)
        if known is not None:
            known[group] = ok
        return ok

    def is_valid(self, X: np.ndarray, *, canonical: bool = False) -> np.ndarray:
        """Which encoded rows are valid configurations.

        A row is valid when every active value is a legal canonical value, exactly the
        hyperparameters whose conditions hold are active, and no forbidden clause is violated.

        Args:
            X: `(n, d)` encoded configurations.
            canonical: ``X`` is known to be canonical (as :meth:`canonicalize` returns rows):
                its values are not checked again, only conditions and forbidden clauses.

        Returns:
            `(n,)` boolean mask.
        """
        X = self._check(X, "X")
        n = X.shape[0]
        if n == 0:
            return np.zeros(0, dtype=bool)
        inactive = X == INACTIVE
        with np.errstate(invalid="ignore"):
            ok = np.all(np.isfinite(X), axis=1)
            if not canonical:
                canon = self.canonicalize(np.where(np.isfinite(X), X, INACTIVE))
                close = np.abs(canon - X) <= 1e-9 * np.maximum(1.0, np.abs(X))
                ok &= np.all(close | inactive, axis=1)
        ok &= ~np.any(inactive[:, self._is_root], axis=1)
        V = self._to_cs(X)
        known: dict[int, np.ndarray] = {}
        for level in self._levels:
            sat = self._level_satisfied(level, V, known)
            ok &= ~np.any(sat == inactive[:, level.cols], axis=1)
        ok &= ~self._forbidden(V)
        return np.asarray(ok, dtype=bool)

    def _repair(self, X: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """Make activity match the conditions, in place; returns ``X``.

        Inactive children whose conditions hold get a random value (``rng``) or their default
        (``rng`` None); active children whose conditions fail become :data:`INACTIVE`.
        ``X`` must be canonical.

        The columns are handled a depth of the condition graph at a time (see
        :class:`_Level`): a level's masks and updates are whole-array operations, and the
        columns with rows to fill draw their values one column after another in the order of
        :attr:`_conditional` (see :meth:`_draw_values`), so the random stream is that of
        one column at a time.
        """
        if not self._conditional or X.shape[0] == 0:
            return X
        V = self._to_cs(X)
        known: dict[int, np.ndarray] = {}
        # Draws of columns no condition reads are mapped to their encodings all at once, after
        # the loop (a parent's at once: its children's conditions read it).
        later: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for level in self._levels:
            sat = self._level_satisfied(level, V, known)  # (its parents are all set by now)
            missing = sat & np.isnan(V[:, level.cols])
            need = np.flatnonzero(missing.any(axis=0))
            if need.size:
                cols = level.cols[need]
                # (column-major: each column's rows in order, as the draws come)
                at, rows = np.nonzero(missing[:, need].T)
                counts = np.bincount(at, minlength=need.size)
                entry_cols = cols[at]
                parent = self._is_parent[entry_cols]
                if rng is None:
                    fresh = self._defaults[entry_cols]
                    X[rows, entry_cols] = fresh
                else:
                    raw = self._draw_raw(cols, counts, rng)
                    later.append((rows[~parent], entry_cols[~parent], raw[~parent]))
                    fresh = raw
                    if parent.any():
                        fresh = raw.copy()
                        fresh[parent] = self._encode_draws(entry_cols[parent], raw[parent][None])[0]
                        X[rows[parent], entry_cols[parent]] = fresh[parent]
                if parent.any():
                    pc = entry_cols[parent]
                    scaled = fresh[parent] * self._ordinal_scale[pc]
                    ordinal = self._kind[pc] == _ORDINAL
                    V[rows[parent], pc] = np.where(ordinal, np.round(scaled), scaled)
            X[:, level.cols] = np.where(sat, X[:, level.cols], INACTIVE)
            if level.parent_cols.size:
                V[:, level.parent_cols] = np.where(
                    sat[:, level.parent_pos], V[:, level.parent_cols], np.nan
                )
        if later:
            rows, cols, raw = (np.concatenate(parts) for parts in zip(*later))
            X[rows, cols] = self._encode_draws(cols, raw[None, :])[0]
        return X

    def repair(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Canonical rows whose activity matches the conditions.

        Hyperparameters whose conditions fail become :data:`INACTIVE`; inactive ones whose
        conditions hold get a uniformly random value. Forbidden clauses are not checked (see
        :meth:`is_valid`).

        Args:
            X: `(n, d)` encoded configurations.
            rng: Source of the random values.

        Returns:
            `(n, d)` repaired canonical copy.
        """
        return self._repair(self.canonicalize(self._check(X, "X")), rng)

    def is_forbidden(self, X: np.ndarray) -> np.ndarray:
        """Which encoded rows violate a forbidden clause (only those; see :meth:`is_valid`).

        Args:
            X: `(n, d)` encoded configurations.

        Returns:
            `(n,)` boolean mask.
        """
        return self._forbidden_rows(self._check(X, "X"))

    def neighbours(
        self,
        X: np.ndarray,
        k: int,
        rng: np.random.Generator,
        step_size: float = 0.2,
        *,
        round_floats: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random one-exchange neighbours of encoded configurations.

        Every neighbour changes one active, non-constant hyperparameter of its origin: floats,
        integers and ordinals move by a normal step on the ``[0, 1]`` scale whose standard
        deviation is log-uniform between ``step_size / 1000`` and ``step_size`` (integers and
        ordinals move at least to the adjacent value), categoricals to another choice. Children
        activated by the change get uniformly random values; children it deactivates become
        :data:`INACTIVE`. Neighbours violating a forbidden clause are dropped.

        Args:
            X: `(s, d)` valid encoded configurations (at least their activity must match the
                conditions: only neighbours that move a column some condition reads are
                repaired).
            k: Neighbours drawn per configuration (before dropping forbidden ones).
            rng: Source of randomness.
            step_size: Largest standard deviation of numeric steps, in encoded units.
            round_floats: Whether moved float values are rounded as ConfigSpace rounds them.
                Without rounding (several times cheaper on many walkers) they differ from their
                canonical form by about 1e-13 of the range; :meth:`canonicalize` the rows
                before comparing them for equality.

        Returns:
            `(m, d)` valid neighbours (canonical when ``round_floats`` and ``X`` are) and
            `(m,)` index of each one's origin row.
        """
        X = self._check(X, "X")
        s, d = X.shape
        owner = np.repeat(np.arange(s), k)
        base = np.repeat(X, k, axis=0)
        movable = (base != INACTIVE) & (self.n_values != 1)[None, :]
        has_move = movable.any(axis=1)
        if not has_move.all():
            base, owner, movable = base[has_move], owner[has_move], movable[has_move]
        m = base.shape[0]
        if m == 0:
            return np.empty((0, d)), np.empty(0, dtype=np.intp)
        dim = np.argmax(rng.random((m, d)) * movable, axis=1)
        rows = np.arange(m)
        current = base[rows, dim]
        kind = self._kind[dim]
        # Step lengths spread log-uniformly over three decades below step_size, so walkers both
        # travel and converge finely.
        scale = step_size * 10.0 ** (-3.0 * rng.random(m))
        new = np.clip(current + rng.normal(0.0, 1.0, m) * scale, 0.0, 1.0)
        cat = kind == _CATEGORICAL
        if cat.any():
            size = self.n_values[dim[cat]]
            new[cat] = (current[cat] + rng.integers(1, size)) % size
        # Moved values onto their grids: ordinals and most integers all at once, the rest
        # (and floats when rounded) a column at a time.
        snap = np.flatnonzero((kind == _ORDINAL) | ((kind == _INT) & self._int_snap[dim]))
        if snap.size:
            new[snap] = self._snap_discrete_all(dim[snap], current[snap], new[snap])
        moved = (kind == _FLOAT) | ((kind == _INT) & ~self._int_snap[dim])
        if not round_floats:
            moved &= kind != _FLOAT  # floats keep their clipped value
        fast = moved & (kind == _FLOAT) & self._fast[dim]
        if fast.any():
            new[fast] = self._numeric_canon(dim[fast], new[fast][None, :])[0]
            moved &= ~fast
        for j in np.unique(dim[moved]):
            sel = np.flatnonzero(dim == j)
            if self._kind[j] == _FLOAT:
                new[sel] = self._canon_column(int(j), new[sel])
            else:
                new[sel] = self._snap_discrete(int(j), current[sel], new[sel])
        base[rows, dim] = new + 0.0
        # Only a move of a column that some condition reads can change which columns are
        # active; the other rows keep their origin's (valid) activity, and repairing them
        # would draw nothing, so they are left out.
        touched = np.flatnonzero(self._is_parent[dim])
        if touched.size:
            base[touched] = self._repair(base[touched], rng)
        keep = ~self._forbidden_rows(base)
        return base[keep], owner[keep]

    def adjacent(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The encodings of the next value below and above in every integer and ordinal column.

        Args:
            x: `(d,)` canonical encoded configuration.

        Returns:
            `(d,)` encodings one value below and `(d,)` one value above ``x`` in its active
            integer and ordinal columns (at either end of a range, the one neighbouring value
            on both sides); elsewhere ``x``'s own values.
        """
        x = self._check(np.asarray(x, dtype=np.float64)[None, :], "x")[0]
        below, above = x.copy(), x.copy()
        for j in np.flatnonzero(
            ((self._kind == _INT) | (self._kind == _ORDINAL)) & (x != INACTIVE)
        ):
            if self.n_values[j] <= 1:
                continue
            hp: Any = self._hps[j]
            if self._kind[j] == _ORDINAL:
                scale = self._ordinal_scale[j]
                index = round(float(x[j]) * scale)
                down = index - 1 if index > 0 else index + 1
                up = index + 1 if index < scale else index - 1
                below[j], above[j] = down / scale, up / scale
                continue
            value = int(np.asarray(hp.to_value(np.array([x[j]])))[0])
            lower, upper = int(hp.lower), int(hp.upper)
            down = value - 1 if value > lower else value + 1
            up = value + 1 if value < upper else value - 1
            below[j], above[j] = np.asarray(hp.to_vector(np.array([down, up])), dtype=np.float64)
        return below, above

    def _snap_discrete_all(
        self, cols: np.ndarray, current: np.ndarray, proposed: np.ndarray
    ) -> np.ndarray:
        """:meth:`_snap_discrete` for values `(m,)` of many columns at once: ``cols`` `(m,)`
        ordinal columns and integer columns of :attr:`_int_snap` (the same values)."""
        direction = np.where(proposed >= current, 1, -1)
        out = np.empty(cols.size)
        ordinal = self._kind[cols] == _ORDINAL
        o = np.flatnonzero(ordinal)
        if o.size:
            scale = self._ordinal_scale[cols[o]]
            cur_idx = np.round(current[o] * scale)
            idx = np.round(proposed[o] * scale)
            step = direction[o]
            idx = np.where(idx == cur_idx, cur_idx + step, idx)
            idx = np.where((idx < 0) | (idx > scale), cur_idx - step, idx)
            out[o] = np.clip(idx, 0, scale) / scale
        i = np.flatnonzero(~ordinal)
        if i.size:
            c = cols[i]
            lower, upper = self._int_lower[c], self._int_upper[c]
            cur_val = self._int_values(c, current[i])
            val = self._int_values(c, np.clip(proposed[i], 0.0, 1.0))
            step = direction[i]
            val = np.where(val == cur_val, cur_val + step, val)
            val = np.where((val < lower) | (val > upper), cur_val - step, val)
            val = np.clip(val, lower, upper)
            out[i] = self._int_vector_table[self._int_offset[c] + val - lower]
        return out

    def _snap_discrete(self, j: int, current: np.ndarray, proposed: np.ndarray) -> np.ndarray:
        """Snap ``proposed`` encoded values of integer/ordinal column ``j`` to its grid, at
        least one value away from ``current`` (in the direction of the move)."""
        hp: Any = self._hps[j]
        direction = np.where(proposed >= current, 1, -1)
        if self._kind[j] == _ORDINAL:
            scale = self._ordinal_scale[j]
            cur_idx = np.round(current * scale)
            idx = np.round(proposed * scale)
            stuck = idx == cur_idx
            idx = np.where(stuck, cur_idx + direction, idx)
            idx = np.where((idx < 0) | (idx > scale), cur_idx - direction, idx)
            return np.asarray(np.clip(idx, 0, scale) / scale, dtype=np.float64)
        lower, upper = int(hp.lower), int(hp.upper)
        cur_val = np.asarray(hp.to_value(current), dtype=np.int64)
        val = np.asarray(hp.to_value(np.clip(proposed, 0.0, 1.0)), dtype=np.int64)
        stuck = val == cur_val
        val = np.where(stuck, cur_val + direction, val)
        val = np.where((val < lower) | (val > upper), cur_val - direction, val)
        val = np.clip(val, lower, upper)
        return np.asarray(hp.to_vector(val), dtype=np.float64)

    # ------------------------------------------------------------------ sampling

    def _uniform_column(self, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` canonical encoded values of column ``j``: uniform over its values, on the log
        scale for log floats and log integers (each integer with its full log-spaced bin, see
        :func:`unit_to_integers`)."""
        u = self._draw_column(j, n, rng)
        if self._kind[j] in (_FLOAT, _INT):
            return self._canon_column(j, u)
        return u

    def _draw_column(self, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """:meth:`_uniform_column`'s values before float and integer columns are made
        canonical (the same draws from ``rng``)."""
        kind = self._kind[j]
        hp: Any = self._hps[j]
        if kind == _FLOAT:
            u = rng.random(n)
        elif kind == _INT:
            lower, upper = int(hp.lower), int(hp.upper)
            if getattr(hp, "log", False):  # log-spaced bins: see unit_to_integers
                values = unit_to_integers(rng.random(n), lower, upper, log=True)
            else:
                values = rng.integers(lower, upper + 1, size=n)
            u = np.asarray(hp.to_vector(values), dtype=np.float64)
        elif kind == _ORDINAL:
            u = rng.integers(0, self.n_values[j], size=n) / self._ordinal_scale[j]
        elif kind == _CATEGORICAL:
            u = rng.integers(0, self.n_values[j], size=n).astype(np.float64)
        else:
            u = np.full(n, self._constant_value[j])
        return np.asarray(u, dtype=np.float64)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Random valid encoded configurations, uniform over each hyperparameter's values.

        Log-scale floats and integers are uniform on the log scale (an integer ``k`` of
        ``lower .. upper`` has probability ``log((k + 0.5) / (k - 0.5)) / log((upper + 0.5) /
        (lower - 0.5))``). Priors (normal, beta, weighted choices) are ignored on purpose: the
        samples are meant to cover the space. Conditions and forbidden clauses are respected
        (forbidden rows are rejected and redrawn).

        Args:
            n: Number of configurations.
            rng: Source of randomness.

        Returns:
            `(n, d)` canonical encoded configurations; fewer rows only when forbidden clauses
            reject nearly every draw (a warning is logged).
        """
        if n < 0:
            raise ScenarioError(f"n: expected a non-negative number, got {n}")
        d = self.n_dims
        chunks: list[np.ndarray] = []
        have, batch, drawn = 0, n, 0
        for _ in range(50):
            if have >= n:
                break
            X = self._draw_values(np.arange(d), np.full(d, batch), rng).reshape(d, batch).T.copy()
            X = self._repair(X, None)  # every column was drawn: this only deactivates
            X = X[~self._forbidden_rows(X)]
            chunks.append(X)
            have += X.shape[0]
            drawn += batch
            # The acceptance rate over every draw so far (a rate floored at 1% made a space
            # whose clauses forbid 99.9% of it come up short, with a warning, every time).
            rate = max(have / drawn, 1e-5)
            batch = min(math.ceil((n - have) / rate * 1.2) + 1, 100_000)
        out = np.concatenate(chunks)[:n] if chunks else np.empty((0, d))
        if out.shape[0] < n:
            logger.warning(
                "sampled only %d of %d configurations: forbidden clauses reject almost all",
                out.shape[0],
                n,
            )
        return out
