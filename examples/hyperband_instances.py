"""Hyperband over problem instances: cheap looks at a few instances weed out bad settings.

Nine generated classification problems are the instances, and the scenario has no budgets, so
Hyperband races on the instances, as SMAC3's multi-fidelity facade does: a bracket runs many
configurations on one problem, the best third of them on three, and the best of those on all
nine. A configuration that goes on keeps the results it has; configurations are compared by
their mean error over the problems of their stage.
"""

from __future__ import annotations

import warnings

from ConfigSpace import Categorical, ConfigurationSpace, Float
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score

from smacx import SMAC, Hyperband, Scenario

PROBLEMS = {
    f"problem{k}": make_classification(
        n_samples=300, n_features=20, n_informative=5, class_sep=0.5 + k / 8, random_state=k
    )
    for k in range(9)
}


def error(config, instance: str, seed: int) -> float:
    X, y = PROBLEMS[instance]
    clf = SGDClassifier(
        loss=config["loss"], alpha=config["alpha"], max_iter=50, tol=None, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return 1 - cross_val_score(clf, X, y, cv=3).mean()


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add(
        [
            Categorical("loss", ["hinge", "log_loss", "modified_huber", "perceptron"]),
            Float("alpha", (1e-6, 1.0), log=True),
        ]
    )
    scenario = Scenario(
        space,
        name="sgd_problems",
        instances=list(PROBLEMS),
        deterministic=True,
        n_trials=90,
        seed=0,
    )
    smac = SMAC(
        scenario, error, preset="multifidelity", intensifier=Hyperband(eta=3), overwrite=True
    )
    incumbent = smac.optimize()
    print(smac.summary())
    runs = [len(smac.runhistory.get_trials(config)) for config in smac.runhistory.get_configs()]
    print(f"{len(runs)} configurations: {runs.count(1)} on one problem, {runs.count(3)} on "
          f"three, {runs.count(9)} on all nine")  # fmt: skip
    assert incumbent is not None and len(smac.runhistory.get_trials(incumbent)) == 9
