"""Acquisition functions: how promising an encoded configuration is, given a surrogate model.

Each class holds only settings, e.g. ``LCB(beta=2.0)``. For every proposal the optimizer calls
``bind(model, best_y)`` with the freshly fitted model and the incumbent's cost *in the model's y
space* (``model.transform_y(cost)``); the returned function maps `(n, d)` encoded
configurations to `(n,)` scores where **higher is better** for *minimizing* the cost.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr, ndtri

from smacx.errors import ScenarioError, keyword_hints

if TYPE_CHECKING:
    from smacx.models import Model

__all__ = [
    "EI",
    "LogEI",
    "PI",
    "LogPI",
    "LCB",
    "ThompsonSampling",
    "PriorWeighted",
    "AcquisitionFunction",
    "log_h",
]

#: A bound acquisition function: `(n, d)` encoded configurations to `(n,)` scores.
AcquisitionFunction = Callable[[np.ndarray], np.ndarray]

#: Predictive standard deviations below this share of the cost scale at a point (the larger of
#: the target's and the mean's magnitude) count as none: the model is certain there. Relative,
#: so that costs around 1e-12 keep their uncertainty (an absolute 1e-12 made every EI zero).
_TINY_REL = 1e-12


def _tiny(target: float, mean: np.ndarray) -> np.ndarray:
    """`(n,)` smallest standard deviation that counts as uncertainty at each point."""
    scale: np.ndarray = np.maximum(np.maximum(abs(target), np.abs(mean)), 1e-300)
    return _TINY_REL * scale


def _check_xi(owner: str, xi: object) -> None:
    if not isinstance(xi, numbers.Real) or isinstance(xi, bool) or not math.isfinite(xi):
        raise ScenarioError(f"{owner}.xi: expected a finite number, got {xi!r}")


_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_SQRT_2 = math.sqrt(2.0)
# Below this z, 1 + z * Phi(z) / phi(z) is ~1/z^2 and loses digits to cancellation (all of them
# near z = -5e7, where it can round to log1p(-1) = -inf), while the asymptotic series of h(z)
# below is exact to double precision (its first omitted term is 945 / z^8).
_Z_ASYMPTOTIC = -1e3


def model_moments(model: Model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(n,)` mean and `(n,)` standard deviation of the model at `(n, d)` inputs."""
    predicted = model.predict(X)
    if not (isinstance(predicted, tuple) and len(predicted) == 2):
        raise ScenarioError(
            f"{type(model).__name__}.predict must return (mean, variance), two arrays of "
            f"shape ({len(X)},); got {type(predicted).__name__} {predicted!r:.80}"
        )
    mean = np.asarray(predicted[0], dtype=np.float64).ravel()
    var = np.asarray(predicted[1], dtype=np.float64).ravel()
    if mean.shape != (len(X),) or var.shape != (len(X),):
        raise ScenarioError(
            f"{type(model).__name__}.predict must return (mean, variance), two arrays of "
            f"shape ({len(X)},); got shapes {mean.shape} and {var.shape}"
        )
    return mean, np.sqrt(np.maximum(var, 0.0))


def _check_best(best_y: float) -> float:
    best = float(best_y)
    if not math.isfinite(best):
        raise ScenarioError(f"best_y: expected a finite cost in model space, got {best_y!r}")
    return best


def log_h(z: np.ndarray) -> np.ndarray:
    """``log(z * Phi(z) + phi(z))``, accurate for every finite ``z``.

    ``h(z)`` is the expected improvement of a standard normal over ``-z``; ``Phi`` and ``phi``
    are the standard normal distribution and density.

    Args:
        z: Standardized improvements, any shape.

    Returns:
        Same shape as ``z``.
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    mid = z > -1.0
    zm = z[mid]
    out[mid] = np.log(zm * ndtr(zm) + np.exp(-0.5 * zm * zm - _LOG_SQRT_2PI))
    tail = (~mid) & (z > _Z_ASYMPTOTIC)
    zt = z[tail]
    # h(z) = phi(z) * (1 + z * Phi(z) / phi(z)); Phi(z) / phi(z) = sqrt(pi/2) * erfcx(-z/sqrt2).
    out[tail] = -0.5 * zt * zt - _LOG_SQRT_2PI + np.log1p(zt * _SQRT_HALF_PI * erfcx(-zt / _SQRT_2))
    far = ~(mid | tail)
    zf = z[far]
    # h(z) = phi(z) / z^2 * (1 - 3/z^2 + 15/z^4 - 105/z^6 + ...) as z -> -inf.
    w = 1.0 / (zf * zf)
    series = np.log1p(w * (-3.0 + w * (15.0 - 105.0 * w)))
    out[far] = -0.5 * zf * zf - _LOG_SQRT_2PI - 2.0 * np.log(-zf) + series
    return out


@keyword_hints()
@dataclass(frozen=True)
class EI:
    """Expected improvement over the incumbent, ``E[max(best_y - xi - Y, 0)]``.

    Args:
        xi: Improvement (in model y-space units) that counts as none; larger explores more.
    """

    xi: float = 0.0

    def __post_init__(self) -> None:
        _check_xi("EI", self.xi)

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` given the incumbent's ``best_y``."""
        target = _check_best(best_y) - self.xi

        def acquisition(X: np.ndarray) -> np.ndarray:
            mean, std = model_moments(model, X)
            gap = target - mean
            tiny = _tiny(target, mean)
            safe = np.maximum(std, tiny)
            z = gap / safe
            ei = gap * ndtr(z) + safe * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
            return np.where(std > tiny, np.maximum(ei, 0.0), np.maximum(gap, 0.0))

        return acquisition


@keyword_hints()
@dataclass(frozen=True)
class LogEI:
    """Logarithm of the expected improvement, numerically stable far into the tails.

    Ranks configurations exactly like :class:`EI`, but stays finite and informative where EI
    underflows to zero (improvements many standard deviations away), which keeps the
    maximizer's search guided. ``-inf`` only where the model is certain of no improvement.

    Args:
        xi: Improvement (in model y-space units) that counts as none; larger explores more.
    """

    xi: float = 0.0

    def __post_init__(self) -> None:
        _check_xi("LogEI", self.xi)

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` given the incumbent's ``best_y``."""
        target = _check_best(best_y) - self.xi

        def acquisition(X: np.ndarray) -> np.ndarray:
            mean, std = model_moments(model, X)
            gap = target - mean
            tiny = _tiny(target, mean)
            safe = np.maximum(std, tiny)
            scores = np.log(safe) + log_h(gap / safe)
            with np.errstate(divide="ignore"):
                certain = np.log(np.maximum(gap, 0.0))
            return np.where(std > tiny, scores, certain)

        return acquisition


@keyword_hints()
@dataclass(frozen=True)
class PI:
    """Probability of improving on the incumbent by more than ``xi``, ``P(Y < best_y - xi)``.

    Args:
        xi: Improvement (in model y-space units) that counts as none.
    """

    xi: float = 0.0

    def __post_init__(self) -> None:
        _check_xi("PI", self.xi)

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` given the incumbent's ``best_y``."""
        target = _check_best(best_y) - self.xi

        def acquisition(X: np.ndarray) -> np.ndarray:
            mean, std = model_moments(model, X)
            gap = target - mean
            tiny = _tiny(target, mean)
            z = gap / np.maximum(std, tiny)
            return np.where(std > tiny, ndtr(z), (gap > 0).astype(np.float64))

        return acquisition


@keyword_hints()
@dataclass(frozen=True)
class LogPI:
    """Logarithm of :class:`PI` (``log Phi(z)``), stable far into the lower tail.

    Args:
        xi: Improvement (in model y-space units) that counts as none.
    """

    xi: float = 0.0

    def __post_init__(self) -> None:
        _check_xi("LogPI", self.xi)

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` given the incumbent's ``best_y``."""
        target = _check_best(best_y) - self.xi

        def acquisition(X: np.ndarray) -> np.ndarray:
            mean, std = model_moments(model, X)
            gap = target - mean
            tiny = _tiny(target, mean)
            z = gap / np.maximum(std, tiny)
            certain = np.where(gap > 0, 0.0, -np.inf)
            return np.where(std > tiny, log_ndtr(z), certain)

        return acquisition


@keyword_hints()
@dataclass(frozen=True)
class LCB:
    """Lower confidence bound, negated: ``-(mean - beta * std)``.

    ``best_y`` is not used. Larger ``beta`` explores more.

    Args:
        beta: How many standard deviations below the mean the optimistic bound lies.
    """

    beta: float = 2.0

    def __post_init__(self) -> None:
        beta = self.beta
        if (
            not isinstance(beta, numbers.Real)
            or isinstance(beta, bool)
            or not math.isfinite(beta)
            or beta < 0
        ):
            raise ScenarioError(f"LCB.beta: expected a finite number >= 0, got {beta!r}")

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` (``best_y`` is ignored)."""
        beta = self.beta

        def acquisition(X: np.ndarray) -> np.ndarray:
            mean, std = model_moments(model, X)
            return -(mean - beta * std)

        return acquisition


@keyword_hints()
@dataclass(frozen=True)
class ThompsonSampling:
    """Negated draw from every configuration's predictive distribution.

    Each bound function draws an independent standard normal per configuration that is a fixed
    function of the configuration's encoding (a seeded random hash), so scoring the same
    configuration twice gives the same score, as local search needs. Each ``bind`` uses a new
    hash, so successive proposals see different samples. The hashes come from a random stream
    the instance holds: like a seed, give every run a fresh instance (a reused one continues its
    stream, and the run differs from the first).

    Args:
        seed: Seed of the sequence of hashes.
    """

    #: Whether scores change at any change of a row (here a change of 1e-13 draws anew), so
    #: that the model-based proposer scores every row as its canonical form, which is what a
    #: search returns.
    per_row_draws: ClassVar[bool] = True

    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_seed("ThompsonSampling", self.seed)
        object.__setattr__(self, "_rng", np.random.default_rng(self.seed))

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """Scores of encoded configurations under ``model`` (``best_y`` is ignored)."""
        key = self._rng.integers(0, 2**62)

        def acquisition(X: np.ndarray) -> np.ndarray:
            X = np.asarray(X, dtype=np.float64)
            mean, std = model_moments(model, X)
            z = np.asarray(ndtri(_uniform_hash(X, int(key))), dtype=np.float64)
            return -(mean + std * z)

        return acquisition


#: The acquisition functions :class:`PriorWeighted` can weigh, by how it combines them with the
#: prior: added to the logarithm, multiplied, or multiplied as an optimistic improvement.
_LOG_SCORES = (LogEI, LogPI)
_IMPROVEMENTS = (EI, PI)
_OPTIMISTIC = (LCB, ThompsonSampling)


@keyword_hints()
@dataclass(frozen=True)
class PriorWeighted:
    """An acquisition function weighted by the user's prior beliefs about where the optimum
    lies (piBO, Hvarfner et al., ICLR 2022), as SMAC3's ``PriorAcquisitionFunction``.

    The priors are those of the space's hyperparameters: ConfigSpace's normal and beta
    distributions (``Float("lr", (1e-5, 1.0), log=True, distribution=Normal(1e-3, 10))``) and
    a categorical's ``weights``. The score of a configuration ``x`` is
    ``a(x) * pi(x) ** (beta / t)`` (``t`` below), where ``a`` is the wrapped acquisition and
    ``pi`` the product of the priors' densities, each mixed with the uniform distribution in
    ``uniform_share`` and relative to its largest (see
    :meth:`smacx.encoding.Encoder.log_prior`). Early proposals stay close to what the priors
    believe; as results come in, the exponent decays and the model takes over. A belief far
    off still costs many trials: with the benchmark's misleading priors (modes 7 standard
    deviations from the optimum in every dimension), neither this nor SMAC3's weighting caught
    up with an unweighted run within 100 trials on Hartmann-6 and Levy-5 (this one did on
    Branin; docs/presets.rst has the table); give a prior only as much confidence as it
    deserves (a wider distribution). ``t`` counts the
    configurations the run has tried beyond its initial design's, plus one, so a continued run
    or one shared by several processes weighs as a single run would.

    How ``a`` and the prior combine: log-scale acquisitions (:class:`LogEI`, :class:`LogPI`)
    add ``(beta / t) * log(pi)``; :class:`EI` and :class:`PI` are multiplied (the scores
    returned are their logarithms, which rank alike); :class:`LCB` and
    :class:`ThompsonSampling`, whose scores can be negative, are turned into the optimistic
    improvement over the incumbent, ``max(best_y - bound, 0)``, before they are multiplied, as
    SMAC3 does.

    With priors, ``SMAC`` also starts the local search from the priors' mode (see
    :meth:`smacx.encoding.Encoder.prior_mode`) and, unless ``initial_design`` is given,
    evaluates it first in the initial design (SMAC3's example of priors adds the default
    configuration there).

    Args:
        acquisition: The acquisition function to weigh (:class:`LogEI` by default).
        beta: How strongly the prior counts: the exponent right after the initial design.
            ``None`` takes ``n_trials / 10`` of the scenario (10 when it has no ``n_trials``),
            SMAC3's advice.
        uniform_share: How much doubt the priors are held with: each is mixed with the
            uniform distribution in this share before it weighs, so that its tails keep that
            share of density (0 is SMAC3's pure prior). On the benchmark's good and misleading
            normal priors (Branin, Hartmann-6, Levy-5; 6 seeds, 100 trials) 0.1 lowered the
            sum of the mean log10 regret from 0.69 to -0.32 at 25 trials, from -1.49 to -2.92
            at 50 and from -4.44 to -5.96 at 100, better with the good priors too (0.3:
            -0.28, -2.52, -5.61).
        discretize: Whether a float's prior is rounded to ``ceil(10 * beta / t)`` levels,
            fewer as it weakens, so that it is constant in steps, as a random forest's
            acquisition is (SMAC3 does so for its forests: a smooth prior drew the local
            search to just beside the priors' mode, which the design had tried already).
            ``None``: for :class:`~smacx.models.RandomForest` models only.

    Example:
        >>> from smacx.acquisition import LogEI, PriorWeighted
        >>> PriorWeighted(LogEI(), beta=5.0).beta
        5.0
    """

    acquisition: EI | LogEI | PI | LogPI | LCB | ThompsonSampling = field(default_factory=LogEI)
    beta: float | None = None
    uniform_share: float = 0.1
    discretize: bool | None = None

    #: Whether scores change at any change of a row (that of the wrapped acquisition).
    @property
    def per_row_draws(self) -> bool:
        return bool(getattr(self.acquisition, "per_row_draws", False))

    def __post_init__(self) -> None:
        kinds = _LOG_SCORES + _IMPROVEMENTS + _OPTIMISTIC
        if not isinstance(self.acquisition, kinds):
            raise ScenarioError(
                "PriorWeighted.acquisition: expected one of smacx.acquisition's "
                f"{', '.join(k.__name__ for k in kinds)} (e.g. PriorWeighted(LogEI())); got "
                f"{self.acquisition!r:.100}"
            )
        beta = self.beta
        if beta is not None and (
            not isinstance(beta, numbers.Real)
            or isinstance(beta, bool)
            or not math.isfinite(beta)
            or beta <= 0
        ):
            raise ScenarioError(
                "PriorWeighted.beta: expected a finite number > 0, or None for n_trials / 10; "
                f"got {beta!r}"
            )
        if self.discretize is not None and not isinstance(self.discretize, bool):
            raise ScenarioError(
                "PriorWeighted.discretize: expected True, False or None (for random forests "
                f"only), got {self.discretize!r}"
            )
        share = self.uniform_share
        if not (
            isinstance(share, numbers.Real) and not isinstance(share, bool) and 0 <= share <= 1
        ):
            raise ScenarioError(
                f"PriorWeighted.uniform_share: expected a share in [0, 1], got {share!r}"
            )

    def bind(self, model: Model, best_y: float) -> AcquisitionFunction:
        """The wrapped acquisition alone, without the prior (see :meth:`weigh`)."""
        return self.acquisition.bind(model, best_y)

    def weigh(
        self,
        model: Model,
        best_y: float,
        log_prior: Callable[[np.ndarray], np.ndarray],
        exponent: float,
    ) -> AcquisitionFunction:
        """Scores of encoded configurations weighted by the prior.

        Args:
            model: The fitted surrogate.
            best_y: The incumbent's cost in the model's y space.
            log_prior: `(n, d)` encoded configurations to `(n,)` log prior beliefs (at most 0).
            exponent: The prior's weight now, ``beta / t``.
        """
        inner = self.acquisition.bind(model, best_y)
        if isinstance(self.acquisition, _LOG_SCORES):

            def scores(X: np.ndarray) -> np.ndarray:
                out: np.ndarray = inner(X) + exponent * log_prior(X)
                return out

            return scores
        shift = _check_best(best_y) if isinstance(self.acquisition, _OPTIMISTIC) else 0.0

        def weighted(X: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore"):
                base = np.log(np.maximum(shift + inner(X), 0.0))
            out: np.ndarray = base + exponent * log_prior(X)
            return out

        return weighted


def _check_seed(owner: str, seed: object) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ScenarioError(f"{owner}.seed: expected an int >= 0, got {seed!r}")


def _uniform_hash(X: np.ndarray, key: int) -> np.ndarray:
    """`(n,)` values in (0, 1), a pseudo-random function of the bytes of each row of ``X``."""
    n = X.shape[0]
    if n == 0:
        return np.empty(0)
    bits = np.ascontiguousarray(X + 0.0).view(np.uint64).reshape(n, -1)
    with np.errstate(over="ignore"):
        h = np.full(n, np.uint64(key) ^ np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
        for col in bits.T:  # loop over dimensions, vectorized over configurations
            h ^= col
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    # 53 random bits to a float in (0, 1).
    unit: np.ndarray = ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(2**53)
    return unit
