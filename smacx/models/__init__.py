"""Surrogate models: predict the cost distribution of encoded configurations.

Every model follows the :class:`Model` protocol. Predictions are in the model's *y space*; a
cost is mapped into that space with ``transform_y`` (the identity unless the model transforms
its targets, e.g. ``RandomForest(log_y=True)``), so the incumbent's cost given to an acquisition
function must pass through it first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from smacx.models.gp import GaussianProcess
from smacx.models.random_forest import RandomForest

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Model", "RandomForest", "GaussianProcess"]


@runtime_checkable
class Model(Protocol):
    """What the optimizer needs from a surrogate model."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        """Train on `(n, D)` encoded inputs and their `(n,)` costs; returns the model."""
        ...

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`(n,)` mean and `(n,)` non-negative variance of `(n, D)` inputs, in y space."""
        ...

    def transform_y(self, y: np.ndarray | float) -> np.ndarray:
        """Costs mapped into the space :meth:`predict` works in, same shape as ``y``."""
        ...
