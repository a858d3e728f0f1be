"""Which hyperparameters of a classifier matter: tune it, then ask the run.

Random search over four hyperparameters of scikit-learn's SGDClassifier on the digits
dataset (60 trials, about 15 s of one core), then :func:`smacx.param_importances` splits the
variance of the cross-validated error over the hyperparameters. Random search gives the
shares over the whole space; a model-based run's results cluster near the good
configurations.
"""

from __future__ import annotations

import warnings

from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score

from smacx import SMAC, Scenario, param_importances

X, y = load_digits(return_X_y=True)
X = X / 16.0
# (few iterations are part of the space: the warning that they did not converge is expected)
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def error(config, seed: int) -> float:
    model = SGDClassifier(
        alpha=config["alpha"],
        l1_ratio=config["l1_ratio"],
        penalty="elasticnet",
        loss=config["loss"],
        max_iter=config["max_iter"],
        random_state=seed,
    )
    return 1.0 - cross_val_score(model, X, y, cv=3).mean()


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add(
        [
            Float("alpha", (1e-6, 1.0), log=True),
            Float("l1_ratio", (0.0, 1.0)),
            Categorical("loss", ["hinge", "log_loss", "modified_huber"]),
            Integer("max_iter", (5, 50)),
        ]
    )
    scenario = Scenario(space, n_trials=60, seed=0, output_directory=None)
    smac = SMAC(scenario, error, preset="random")
    smac.optimize()
    print(f"best error {smac.incumbent_cost:.4f}: {dict(smac.incumbent)}")
    for name, share in param_importances(smac).items():
        print(f"{name:>9}: {share:.1%} of the variance of the error")
