"""Tune a small neural network on the digits data with Hyperband: budget = training epochs.

Most configurations get a few epochs; only the best third of each stage trains three times longer,
up to 27 epochs. The run is kept in ``smacx_output/multifidelity``; pass ``--fresh`` to start over.
"""

from __future__ import annotations

import sys
import warnings

from ConfigSpace import Configuration, ConfigurationSpace, Float, Integer
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import ThreadpoolController

from smacx import SMAC, Scenario
from smacx.multifidelity import Hyperband

X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
# Matrices this small train fastest on one BLAS thread; threads that wait for a busy core made
# an epoch up to 30 times slower.
blas = ThreadpoolController()


def train(config: Configuration, seed: int, budget: float) -> float:
    """Validation error of an MLP trained for ``budget`` epochs."""
    model = MLPClassifier(
        hidden_layer_sizes=(config["n_units"],),
        alpha=config["alpha"],
        learning_rate_init=config["learning_rate_init"],
        max_iter=round(budget),
        random_state=seed,
    )
    with warnings.catch_warnings(), blas.limit(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # few epochs do not converge
        model.fit(X_train, y_train)
    return 1.0 - float(model.score(X_valid, y_valid))


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add(Integer("n_units", (8, 64), log=True))
    space.add(Float("alpha", (1e-6, 1e-1), log=True))
    space.add(Float("learning_rate_init", (1e-4, 1e-1), log=True))
    # A Hyperband iteration (brackets of 27, 12, 6 and 4 configurations) is 69 trials: run two
    # (846 epochs in all, a few seconds; the time limit only guards a machine far slower).
    scenario = Scenario(
        space, name="multifidelity", n_trials=138, walltime_limit=120, min_budget=1, max_budget=27
    )
    smac = SMAC(scenario, train, intensifier=Hyperband(eta=3), overwrite="--fresh" in sys.argv)
    incumbent = smac.optimize()
    print(smac.summary())
    if incumbent is not None:
        error = smac.incumbent_cost
        print(f"validation error {error:.4f} after 27 epochs: {dict(incumbent)}")
