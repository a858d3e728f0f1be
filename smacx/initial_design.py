"""The configurations evaluated before any model is trusted.

Space-filling designs (Sobol, Latin hypercube) draw points in the unit cube, one dimension per
hyperparameter, and map each coordinate onto the hyperparameter's range (log scales and integer
grids respected). Hyperparameters whose conditions do not hold are dropped from a configuration,
and points that hit a forbidden clause are replaced by random valid configurations, so every
configuration of a design is valid.
"""

from __future__ import annotations

import logging
import math
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
from ConfigSpace import (
    BetaIntegerHyperparameter,
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    Constant,
    NormalIntegerHyperparameter,
    OrdinalHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.hyperparameters import IntegerHyperparameter
from scipy.stats import qmc

from smacx.encoding import INACTIVE, inactive_as_code, unit_to_integers
from smacx.errors import ScenarioError, is_real, is_whole, keyword_hints
from smacx.runhistory import config_to_json, plain_value, same_space

__all__ = [
    "InitialDesign",
    "unit_to_configs",
    "valid_vectors",
    "finite_vectors",
    "sample_seeded",
]

logger = logging.getLogger("smacx")

DesignKind = Literal["sobol", "lhs", "random", "default"]


#: Rounds of draws :func:`sample_seeded` makes before it gives up on a space whose forbidden
#: clauses rule out nearly every configuration.
_MAX_DRAWS = 200


def sample_seeded(
    configspace: ConfigurationSpace, n: int, rng: np.random.Generator
) -> list[Configuration]:
    """Draw ``n`` configurations from the space's priors, all valid, seeded from ``rng``.

    ConfigSpace's own sampler, unless it applies the conditions in an order that gives
    invalid configurations (see :func:`conditions_in_order`): then the same draws from the
    priors with the conditions applied parents first. The space's random state is swapped
    for a seeded one and put back afterwards, so a user's ``ConfigurationSpace(seed=...)``
    draws the same configurations after a run as before it.

    Raises:
        ScenarioError: The forbidden clauses ruled out every draw, many times over.
    """
    if not _sampler_is_sound(configspace):
        return _sample_in_order(configspace, n, np.random.RandomState(int(rng.integers(2**31))))
    _check_some_are_allowed(configspace)
    saved = configspace.random
    configspace.random = np.random.RandomState(int(rng.integers(2**31)))
    try:
        # (one is drawn with size None, the same draw: size=1 is deprecated in ConfigSpace)
        drawn = configspace.sample_configuration(n if n != 1 else None)
    finally:
        configspace.random = saved
    return drawn if isinstance(drawn, list) else [drawn]


def unit_to_configs(
    configspace: ConfigurationSpace, points: np.ndarray, rng: np.random.Generator
) -> list[Configuration]:
    """Map points of the unit cube to valid configurations.

    The whole batch is mapped at once in ConfigSpace's vector representation: conditions
    deactivate children column-wise and forbidden clauses are tested on all rows together
    (checking and repairing one row at a time took 0.8 s for 4,096 rows of a space with a
    forbidden clause, most of a 40 s give-up on an exhausted space).

    Args:
        configspace: The space; its hyperparameters in ``configspace`` order are the columns.
        points: ``(n, d)`` coordinates in [0, 1), d the number of hyperparameters. A
            coordinate picks a float linearly (log scale respected) and a categorical or
            ordinal value by equal bins; an integer ``k`` gets the bin ``[k - 0.5, k + 0.5)``
            of ``[lower - 0.5, upper + 0.5)``, on the log scale for log integers (see
            :func:`smacx.encoding.unit_to_integers`).
        rng: Seeds the replacement samples for points that hit a forbidden clause.

    Returns:
        ``n`` configurations, in the order of the points.
    """
    n = points.shape[0]
    hps = list(configspace.values())
    vectors = np.empty((n, len(hps)), dtype=np.float64)
    columns = {}
    for j, hp in enumerate(hps):
        lo, hi, size = hp.lower_vectorized, hp.upper_vectorized, hp.size
        u = np.clip(points[:, j], 0.0, np.nextafter(1.0, 0.0))
        if isinstance(hp, IntegerHyperparameter):
            # every integer its full bin (rounding a linear map gave the ends half a bin)
            columns[hp.name] = unit_to_integers(u, int(hp.lower), int(hp.upper), bool(hp.log))
        else:
            if math.isfinite(size) and float(hi - lo + 1) == float(size):  # categorical, ordinal
                vec = lo + np.floor(u * size)
            else:
                vec = lo + u * (hi - lo)
            columns[hp.name] = hp.to_value(vec)
        # the vectors of the values, as a configuration built from these values holds them
        vectors[:, j] = hp.to_vector(columns[hp.name])
    vectors, allowed = valid_vectors(configspace, vectors)
    active = ~np.isnan(vectors)
    # Built from plain values, as a user's would be: numpy scalars would show in the
    # target's configuration, and the space's scalar conversion gives the vectors every
    # configuration of these values has (the array conversion can differ in the last bits).
    configs: list[Configuration | None] = [
        Configuration(
            configspace,
            values={
                hp.name: plain_value(columns[hp.name][i])
                for j, hp in enumerate(hps)
                if active[i, j]
            },
        )
        if allowed[i]
        else None
        for i in range(n)
    ]
    n_bad = n - int(np.count_nonzero(allowed))
    if n_bad:
        # One seeded batch from the space's own sampler (vectorized, always valid) replaces
        # every forbidden point; seeding per point cost more than the sampling.
        spares = iter(sample_seeded(configspace, n_bad, rng))
        configs = [c if c is not None else next(spares) for c in configs]
    return cast("list[Configuration]", configs)


def _sample_in_order(
    configspace: ConfigurationSpace, n: int, state: np.random.RandomState
) -> list[Configuration]:
    """ConfigSpace's sampling (each hyperparameter's prior, then the conditions and forbidden
    clauses, drawing again for forbidden rows), with the conditions parents first."""
    hps = list(configspace.values())
    configs: list[Configuration] = []
    for _ in range(_MAX_DRAWS):
        size = max(2 * (n - len(configs)), 8)
        drawn = np.column_stack([hp.sample_vector(size, seed=state) for hp in hps])
        vectors, allowed = valid_vectors(configspace, drawn)
        for vector in vectors[allowed][: n - len(configs)]:
            values = {
                hp.name: plain_value(hp.to_value(vector[j]))
                for j, hp in enumerate(hps)
                if not np.isnan(vector[j])
            }
            configs.append(Configuration(configspace, values=values))
        if len(configs) >= n:
            return configs
    raise ScenarioError(
        f"The configuration space's forbidden clauses left {len(configs)} of the {n} "
        f"configuration(s) asked for after {_MAX_DRAWS} rounds of random draws: check that "
        "they leave some configurations allowed."
    )


#: Random draws :func:`_check_some_are_allowed` tries on a space with forbidden clauses.
_PROBE_DRAWS = 10_000

#: The spaces :func:`_check_some_are_allowed` found to allow some draws, by id (with a weak
#: reference, lest another space take the id of one that is gone).
_ALLOWING: dict[tuple[int, int, int], weakref.ref[ConfigurationSpace]] = {}


def _check_some_are_allowed(configspace: ConfigurationSpace) -> None:
    """Refuse a space whose forbidden clauses allow none of :data:`_PROBE_DRAWS` random draws
    (a fixed, seeded batch, tried once per space).

    ConfigSpace's sampler draws until it has what it was asked for, without a bound: on a
    space whose clauses left only ``x == y``, ``SMAC()`` never returned, and on one that
    allowed one draw in a million, an ``ask()`` took 460 s, without a word (an audit).

    Raises:
        ScenarioError: No draw was allowed.
    """
    if not configspace.forbidden_clauses:
        return
    # (by the clauses too: a notebook adds one to a space already probed)
    key = (id(configspace), len(configspace.forbidden_clauses), len(configspace.conditions))
    known = _ALLOWING.get(key)
    if known is not None and known() is configspace:
        return
    state = np.random.RandomState(0)
    drawn = np.column_stack(
        [hp.sample_vector(_PROBE_DRAWS, seed=state) for hp in configspace.values()]
    )
    _, allowed = valid_vectors(configspace, drawn)
    if not allowed.any() and not _enumerates_some(configspace):
        raise ScenarioError(
            f"configspace: its forbidden clauses rule out every one of {_PROBE_DRAWS:,} random "
            "configurations, so smacx cannot draw the configurations it starts from and "
            "explores with. Check that the clauses leave a share of the space allowed; a "
            "relation that only x == y satisfies is better a single hyperparameter, and a "
            "choice that is forbidden but for one value a Constant."
        )
    _ALLOWING[key] = weakref.ref(configspace)


def _enumerates_some(configspace: ConfigurationSpace) -> bool:
    """Whether the space is small and finite with some configuration allowed (the sampler
    finds them in time, and the selector lists them: five integers of 0..9 held equal by
    their clauses allow ten configurations, one random draw in 10,000; a review)."""
    vectors = finite_vectors(configspace)
    return vectors is not None and vectors.shape[0] > 0


def conditions_in_order(configspace: ConfigurationSpace) -> list[Any]:
    """The space's condition nodes, every parent's own condition before those on it.

    ConfigSpace orders them by their shallowest parent, which can put an AND or OR over a
    conditional parent before that parent's condition: a child then stayed active when the
    parent was switched off later, and ConfigSpace's sampler gave configurations it refuses
    itself. By the deepest parent, every parent's condition comes first (a parent is always
    shallower than its children).
    """
    dag = configspace._dag
    return sorted(
        dag.minimum_conditions,
        key=lambda node: max(dag.nodes[p].maximum_depth for p in node.node_parents()),
    )


def _sampler_is_sound(configspace: ConfigurationSpace) -> bool:
    """Whether ConfigSpace's order of the conditions applies every parent's own condition
    before the conditions on that parent (its sampler's configurations are then valid)."""
    later: set[str] = set()  # children of the conditions after the one looked at
    for node in reversed(configspace._dag.minimum_conditions):
        if later.intersection(node.node_parents()):
            return False
        later.update(child.name for child in node.unique_children.values())
    return True


def valid_vectors(
    configspace: ConfigurationSpace, vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the space's conditions and forbidden clauses to a batch of vectors at once.

    Follows ConfigSpace's own sampler: unconditional forbidden clauses first, then the
    conditions parents first (:func:`conditions_in_order`), then the forbidden clauses on
    conditional hyperparameters.

    Args:
        configspace: The space.
        vectors: ``(n, d)`` vector representations with every hyperparameter set.

    Returns:
        The ``(n, d)`` vectors with inactive hyperparameters set to NaN, and the ``(n,)``
        mask of rows that no forbidden clause rules out.
    """
    arr = np.array(vectors, dtype=np.float64).T  # ConfigSpace's clauses take (d, n)
    forbidden = np.zeros(arr.shape[1], dtype=bool)
    dag = configspace._dag
    for clause in dag.unconditional_forbiddens:
        forbidden |= clause.is_forbidden_vector_array(arr)
    for node in conditions_in_order(configspace):
        condition = node.condition
        # Exactly as ConfigSpace decides, which checks every configuration built: an inactive
        # (NaN) parent fails "==", "in", "<" and ">" but satisfies "!=", and an OR holds when
        # one of its parts does, whatever the other parents.
        active = np.asarray(condition.satisfied_by_vector_array(arr), dtype=bool)
        arr[np.ix_(node.children_indices, ~active)] = np.nan
    for clause in dag.conditional_forbiddens:
        forbidden |= clause.is_forbidden_vector_array(arr)
    return arr.T, ~forbidden


#: Largest product of the hyperparameters' sizes that :func:`finite_vectors` enumerates
#: (100,000 rows of 10 hyperparameters: 8 MB and a few tens of milliseconds).
MAX_ENUMERATED = 100_000


def finite_vectors(
    configspace: ConfigurationSpace, limit: int = MAX_ENUMERATED
) -> np.ndarray | None:
    """Every valid configuration of a small finite space, as vectors.

    ConfigSpace's ``estimate_size()`` multiplies the hyperparameters' sizes and ignores
    conditions and forbidden clauses (a conditional space of 15 configurations counts 108),
    so a run could not tell that it had tried them all. This enumerates the grid of every
    value combination in one array, deactivates children whose conditions fail, drops
    forbidden rows and merges rows that became equal.

    Args:
        configspace: The space.
        limit: Most grid rows (product of the sizes) to enumerate.

    Returns:
        ``(k, d)`` distinct vectors (NaN for inactive hyperparameters), or None when a
        hyperparameter is not finite (floats) or the grid has more than ``limit`` rows.
    """
    axes: list[np.ndarray] = []
    total = 1
    for hp in configspace.values():
        values = _all_values(hp, limit // total)
        if values is None:
            return None
        total *= len(values)
        axes.append(np.asarray(hp.to_vector(values), dtype=np.float64))
    if not axes:
        return np.empty((1, 0))
    index = np.indices([len(a) for a in axes]).reshape(len(axes), -1).T
    grid = np.column_stack([a[index[:, j]] for j, a in enumerate(axes)])
    grid, allowed = valid_vectors(configspace, grid)
    grid = grid[allowed]
    # Inactive children collapse grid rows into one configuration; NaN never equals NaN, so
    # compare with INACTIVE (vector values are >= 0) and +0.0 (-0.0 has other bytes).
    unique = np.unique(inactive_as_code(grid) + 0.0, axis=0)
    out: np.ndarray = np.where(unique == INACTIVE, np.nan, unique)
    return out


def _objects(items: Sequence[Any]) -> np.ndarray:
    """`(n,)` object array of ``items``, one per element also where they are tuples (which
    ``np.asarray`` would make a second axis of)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _all_values(hp: object, limit: int) -> np.ndarray | None:
    """Every value of a finite hyperparameter, or None for any other kind or when it has more
    than ``limit`` values (counted before any is built: an integer may span 1e12 values)."""
    values: np.ndarray
    if isinstance(hp, CategoricalHyperparameter):
        values = _objects(hp.choices)
    elif isinstance(hp, OrdinalHyperparameter):
        values = _objects(hp.sequence)
    elif isinstance(hp, Constant):
        values = _objects([hp.value])
    elif isinstance(
        hp, UniformIntegerHyperparameter | NormalIntegerHyperparameter | BetaIntegerHyperparameter
    ):
        if int(hp.upper) - int(hp.lower) + 1 > limit:
            return None
        values = np.arange(int(hp.lower), int(hp.upper) + 1)
    else:
        return None
    return values if len(values) <= limit else None


@keyword_hints()
@dataclass(frozen=True)
class InitialDesign:
    """Which configurations start a run, and how many.

    Args:
        kind: ``"sobol"`` (scrambled Sobol sequence), ``"lhs"`` (Latin hypercube), ``"random"``
            (the space's own sampler) or ``"default"`` (only the default configuration).
        n_configs: How many configurations to draw; by default
            ``min(max(min_configs, n_configs_per_hyperparameter * d), cap)`` where ``cap`` is
            ``max(max_ratio * n_trials, min(short_run_configs, n_trials / 4))`` (at least 1,
            and at least the ``additional_configs``). A model-based preset proposes at random
            after a design smaller than ``d + 1`` until the model has ``max(3, d + 1)``
            results, ``d`` counting the hyperparameters that vary (in a space with conditions,
            no more than the design or 10; ``ModelProposer``'s ``min_observations``).
        n_configs_per_hyperparameter: Design size per hyperparameter (when n_configs is None).
        min_configs: Design size wanted at the least, where ``max_ratio`` of the budget allows
            it (when n_configs is None). With 5 instead of 10, the hpo preset stayed in a poor
            basin on 2-d Goldstein-Price and six-hump camel (median regret at 100 trials 27.9
            and 0.070, against 0.31 and 0.019 with 10).
        max_ratio: Largest share of ``n_trials`` the design may take beyond
            ``short_run_configs`` (when n_configs is None).
        additional_configs: Configurations evaluated first, before the drawn ones (e.g. known
            good settings), as ``Configuration`` objects or as dicts of every active
            hyperparameter's value (as Optuna's ``enqueue_trial`` takes them); they count toward
            the design's size, and all of them are evaluated even when they are more than
            ``n_configs`` (see :meth:`size`).
        short_run_configs: Design size of a run too short for ``max_ratio`` to reach it, as
            long as it fits in a quarter of the budget (when n_configs is None). Capped at 10%
            alone, a 25-trial run started its model from 2 points; 6 points lowered the sum
            over the benchmark's 14 tasks of the mean log10 regret from 6.80 to 6.04 (10
            seeds). At 50 trials, 6 points instead of 10 (this floor was ``min_configs``
            before) lowered the sum over the 13 synthetic tasks from -1.67 to -3.00 on seeds
            0-19 and from -2.25 to -2.36 on seeds 20-39 (hpo preset with its trust region).

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> from smacx import InitialDesign
        >>> cs = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
        >>> len(InitialDesign(n_configs=8).select(cs, n_trials=100, seed=0))
        8
    """

    kind: DesignKind = "sobol"
    n_configs: int | None = None
    n_configs_per_hyperparameter: int = 2
    min_configs: int = 10
    max_ratio: float = 0.1
    additional_configs: Sequence[Configuration | Mapping[str, Any]] = field(default_factory=tuple)
    short_run_configs: int = 6

    def __post_init__(self) -> None:
        if self.kind not in ("sobol", "lhs", "random", "default"):
            raise ScenarioError(
                "InitialDesign.kind must be 'sobol', 'lhs', 'random' or 'default'; "
                f"got {self.kind!r}."
            )
        if self.n_configs is not None and (not is_whole(self.n_configs) or self.n_configs < 0):
            raise ScenarioError(
                f"InitialDesign.n_configs must be an int >= 0 or None; got {self.n_configs!r}."
            )
        if self.n_configs is not None:
            object.__setattr__(self, "n_configs", int(self.n_configs))
        for name in ("n_configs_per_hyperparameter", "min_configs", "short_run_configs"):
            value = getattr(self, name)
            if not is_whole(value) or value < 0:
                raise ScenarioError(f"InitialDesign.{name} must be an int >= 0; got {value!r}.")
        if not is_real(self.max_ratio) or not 0.0 < self.max_ratio <= 1.0:
            raise ScenarioError(
                f"InitialDesign.max_ratio must be in (0, 1]; got {self.max_ratio!r}."
            )
        if isinstance(self.additional_configs, (str, bytes, Configuration)) or not isinstance(
            self.additional_configs, Sequence
        ):
            raise ScenarioError(
                "InitialDesign.additional_configs must be a list of Configurations or dicts; "
                f"got {self.additional_configs!r:.100}."
            )
        for i, config in enumerate(self.additional_configs):
            if isinstance(config, Mapping) and all(isinstance(key, str) for key in config):
                continue
            if not isinstance(config, Configuration):
                raise ScenarioError(
                    f"InitialDesign.additional_configs[{i}] must be a Configuration or a dict "
                    f"of hyperparameter names to values; got {type(config).__name__} "
                    f"{config!r:.100}."
                )

    def _extra(self, configspace: ConfigurationSpace) -> list[Configuration]:
        """The additional configurations as configurations of ``configspace``: dicts are built
        into one, and every one is checked to belong to the space."""
        extra = []
        for i, config in enumerate(self.additional_configs):
            if isinstance(config, Configuration):
                if not same_space(config.config_space, configspace):
                    raise ScenarioError(
                        f"InitialDesign.additional_configs[{i}] must belong to the scenario's "
                        f"configspace; got a configuration of another space: {config}."
                    )
                extra.append(config)
                continue
            try:
                # An inactive hyperparameter is NaN in a row of ``to_dataframe()`` or a CSV
                # (None in JSON): such entries are left out, as if not given, unless the value
                # is one of a categorical's choices (``max_depth=None``) or the name is none
                # of the space's (refused as unknown).
                values = {
                    name: plain_value(value)
                    for name, value in config.items()
                    if not _is_missing(plain_value(value))
                    or name not in configspace
                    or _is_choice(configspace[name], plain_value(value))
                }
                for name, value in values.items():
                    # (3.0 for an integer, as JSON or pandas give it: ConfigSpace keeps the
                    # float, and the same point would be a second configuration)
                    if (
                        isinstance(configspace.get(name), IntegerHyperparameter)
                        and isinstance(value, float)
                        and value.is_integer()
                    ):
                        values[name] = int(value)
                extra.append(Configuration(configspace, values=values))
            except (ValueError, TypeError, KeyError) as error:
                reason = " ".join(str(error).split())
                names = ", ".join(repr(name) for name in configspace)
                raise ScenarioError(
                    f"InitialDesign.additional_configs[{i}] is no configuration of the "
                    f"scenario's configspace: {reason}. Give a value, within its range, for "
                    f"each hyperparameter of ({names:.200}) that is active in this "
                    f"configuration, and none (or NaN) for the inactive ones; got "
                    f"{dict(config)!r:.200}."
                ) from None
        return extra

    def n_given(self, configspace: ConfigurationSpace) -> int:
        """How many distinct ``additional_configs`` there are: the first configurations of
        :meth:`select`'s list."""
        return len({config_to_json(config) for config in self._extra(configspace)})

    def size(self, configspace: ConfigurationSpace, n_trials: int | None) -> int:
        """How many configurations the design holds for this space and trial budget: the
        length of :meth:`select`'s list.

        Every distinct additional configuration is part of the design, and they count toward
        its target size (``n_configs``, or the default computed from ``n_trials``): the draw
        tops them up to it, so the size is ``max(target, distinct additional configs)``. With
        ``kind="default"`` the default configuration joins them (unless it is one of them)
        whatever the target. :meth:`select` returns fewer only when a drawn configuration
        repeats another one (possible on a small finite space), as it drops repeats.
        """
        extra = {config_to_json(config) for config in self._extra(configspace)}
        if self.kind == "default":
            return len(extra | {config_to_json(configspace.get_default_configuration())})
        return max(self._target(configspace, n_trials), len(extra))

    def _target(self, configspace: ConfigurationSpace, n_trials: int | None) -> int:
        """The design's target size, additional configurations included: ``n_configs``, or the
        default computed from the number of hyperparameters and ``n_trials`` (None: no bound,
        so no cap)."""
        if self.n_configs is not None:
            return self.n_configs
        d = len(list(configspace.values()))
        wanted = max(self.min_configs, self.n_configs_per_hyperparameter * d)
        if n_trials is None:
            return max(1, wanted)
        cap = max(int(self.max_ratio * n_trials), min(self.short_run_configs, n_trials // 4))
        return max(1, min(wanted, cap))

    def select(
        self, configspace: ConfigurationSpace, n_trials: int | None, seed: int
    ) -> list[Configuration]:
        """The design's configurations, the additional ones first, without duplicates: as many
        as :meth:`size` says, unless the draw repeats a configuration.

        Args:
            configspace: The space to draw from.
            n_trials: The run's trial budget (bounds the design's size through ``max_ratio``;
                None bounds nothing).
            seed: Seed of the draw; the same seed gives the same design.
        """
        rng = np.random.default_rng(seed)
        extra = self._extra(configspace)
        n_extra = len({config_to_json(config) for config in extra})
        n_draw = max(0, self._target(configspace, n_trials) - n_extra)
        d = len(list(configspace.values()))
        drawn: list[Configuration]
        if self.kind == "default":
            drawn = [configspace.get_default_configuration()]
        elif n_draw == 0:
            drawn = []
        elif self.kind == "random":
            drawn = sample_seeded(configspace, n_draw, rng)
        else:
            engine: qmc.QMCEngine
            if self.kind == "sobol":
                engine = qmc.Sobol(d, scramble=True, seed=rng)
            else:
                engine = qmc.LatinHypercube(d, seed=rng)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # Sobol prefers powers of two
                points = engine.random(n_draw)
            drawn = unit_to_configs(configspace, points, rng)
        # Keyed as the run history stores them: a configuration's hash is that of its repr,
        # which differs between numpy and plain values of equal configurations (drawn ones
        # hold numpy values, as the space's own sampler gives them).
        unique: dict[str, Configuration] = {}
        for config in extra + drawn:
            unique.setdefault(config_to_json(config), config)
        logger.debug("Initial design: %d configuration(s) (%s).", len(unique), self.kind)
        return list(unique.values())


def _is_missing(value: Any) -> bool:
    """Whether a given value stands for "no value": None, or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_choice(hp: Any, value: Any) -> bool:
    """Whether ``value`` (None or NaN) is one of categorical ``hp``'s choices."""
    choices = getattr(hp, "choices", None) or getattr(hp, "sequence", None) or ()
    return any(c is value or c == value for c in choices)
