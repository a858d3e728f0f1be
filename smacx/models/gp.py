"""Gaussian-process surrogate on scikit-learn, for low-dimensional continuous spaces."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from smacx.errors import ScenarioError, is_real, is_whole, keyword_hints
from smacx.models.random_forest import COST_LIMIT

if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from typing_extensions import Self

__all__ = ["GaussianProcess"]

logger = logging.getLogger("smacx")

# The matrices here are small: multi-threaded BLAS only adds synchronization (up to 20x slower
# on a busy host), so fits and predictions run single-threaded.
_THREADPOOLS = ThreadpoolController()

#: Length-scale bounds the kernel can use: with (1e-300, 1e300) its distances overflowed, and a
#: run of 25 trials printed about 1,100 numpy warnings and found nothing.
_LENGTH_SCALE_RANGE = (1e-8, 1e8)


@keyword_hints()
@dataclass
class GaussianProcess:
    """Gaussian process with a ``constant * Matern(nu=2.5) + white noise`` kernel.

    The Matérn kernel has one length scale per input dimension (automatic relevance
    determination); hyperparameters are fitted by maximizing the marginal likelihood. Costs are
    normalized to zero mean and unit variance internally, and :meth:`predict` returns mean and
    variance in the original cost space (:meth:`transform_y` is the identity).

    Inputs are expected on roughly unit scale, as :class:`~smacx.encoding.Encoder` produces.
    Categorical codes are treated as numbers, which suits few categories at best: prefer the
    random forest for mixed or conditional spaces.

    Args:
        length_scale_bounds: Lower and upper bound of every length scale (encoded units).
        noise_bounds: Lower and upper bound of the white-noise variance (normalized cost units).
        n_restarts: Extra optimizer restarts from random kernel hyperparameters (the first run
            starts from the previous fit's hyperparameters when there is one).
        max_iter: Most L-BFGS-B iterations per optimizer run.
        seed: Seed of the restarts.
    """

    length_scale_bounds: tuple[float, float] = (1e-2, 1e2)
    noise_bounds: tuple[float, float] = (1e-8, 1e-1)
    n_restarts: int = 2
    max_iter: int = 100
    seed: int = 0
    _gp: GaussianProcessRegressor | None = field(default=None, init=False, repr=False)
    _n_features: int = field(default=0, init=False, repr=False)
    _n_fits: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        for name, least in (("n_restarts", 0), ("max_iter", 1), ("seed", 0)):
            value = getattr(self, name)
            if not is_whole(value) or value < least:
                raise ScenarioError(
                    f"GaussianProcess.{name}: expected an int >= {least}, got {value!r}"
                )
        for name in ("length_scale_bounds", "noise_bounds"):
            bounds = getattr(self, name)
            try:
                pair = len(bounds) == 2 and all(map(is_real, bounds))
            except TypeError:  # None, a number
                pair = False
            if not (pair and 0 < bounds[0] < bounds[1] < math.inf):
                raise ScenarioError(
                    f"GaussianProcess.{name}: expected (lower, upper) with 0 < lower < upper, "
                    f"got {bounds!r}"
                )
        low, high = _LENGTH_SCALE_RANGE
        if not low <= self.length_scale_bounds[0] < self.length_scale_bounds[1] <= high:
            raise ScenarioError(
                f"GaussianProcess.length_scale_bounds: expected bounds within [{low:g}, "
                f"{high:g}] (inputs lie on the unit interval, so a length scale beyond them "
                f"changes nothing but overflows the kernel), got {self.length_scale_bounds!r}"
            )

    def _optimize(
        self, objective: Callable[..., Any], theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """L-BFGS-B on the negative log marginal likelihood, capped at ``max_iter`` steps."""
        result = minimize(
            objective,
            theta,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": self.max_iter},
        )
        return np.asarray(result.x, dtype=np.float64), float(result.fun)

    def transform_y(self, y: np.ndarray | float) -> np.ndarray:
        """The identity: the process predicts in the original cost space.

        Args:
            y: Costs, any shape.

        Returns:
            ``y`` as a float array.
        """
        return np.asarray(y, dtype=np.float64)

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Fit kernel hyperparameters and condition the process on observations.

        Args:
            X: `(n, D)` encoded inputs.
            y: `(n,)` finite costs.

        Returns:
            The fitted model.

        Raises:
            ScenarioError: Shapes disagree, there are no observations, or a value is not finite.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ScenarioError(
                f"X, y: expected shapes (n, D) and (n,) with n >= 1, got {X.shape} and {y.shape}"
            )
        if not np.all(np.isfinite(y)) or not np.all(np.isfinite(X)):
            raise ScenarioError("X, y: expected finite numbers, got NaN or inf")
        y = np.clip(y, -COST_LIMIT, COST_LIMIT)  # (their variance overflowed past 1e154)
        # scikit-learn is imported on first use: importing it costs about a second
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        D = max(X.shape[1], 1)
        if X.shape[1] == 0:
            X = np.zeros((X.shape[0], 1))
        if self._gp is not None and self._n_features == X.shape[1]:
            kernel = self._gp.kernel_  # warm start from the last fit's hyperparameters
        else:
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
                length_scale=np.full(D, 0.5), length_scale_bounds=self.length_scale_bounds, nu=2.5
            ) + WhiteKernel(noise_level=1e-4, noise_level_bounds=self.noise_bounds)
        gp = GaussianProcessRegressor(
            kernel=kernel,
            normalize_y=True,
            optimizer=self._optimize,
            n_restarts_optimizer=self.n_restarts,
            random_state=int(np.random.default_rng([self.seed, self._n_fits]).integers(2**31 - 1)),
        )
        self._n_fits += 1
        with warnings.catch_warnings(), _THREADPOOLS.limit(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(X, y)
        self._gp = gp
        self._n_features = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the cost.

        Args:
            X: `(n, D)` encoded inputs.

        Returns:
            `(n,)` mean and `(n,)` variance (non-negative) in the original cost space.
        """
        if self._gp is None:
            raise ScenarioError("model: expected a fitted model, got one without fit() called")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2 and X.shape[1] == 0 and self._n_features == 1:
            X = np.zeros((X.shape[0], 1))
        if X.ndim != 2 or X.shape[1] != self._n_features:
            raise ScenarioError(f"X: expected shape (n, {self._n_features}), got {X.shape}")
        if X.shape[0] == 0:
            return np.empty(0), np.empty(0)
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            mean, std = self._gp.predict(X, return_std=True)
        return np.asarray(mean, dtype=np.float64).ravel(), np.square(
            np.asarray(std, dtype=np.float64).ravel()
        )
