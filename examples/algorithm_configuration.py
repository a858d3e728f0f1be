"""Configure one classifier for several datasets at once (algorithm configuration).

Each scikit-learn dataset is an *instance* with features (size, width, classes). The racing
intensifier evaluates challengers on more and more datasets and keeps the configuration with the
lowest mean error over the datasets it was compared on; the random forest marginalizes its
predictions over the instances' features. One dataset is held out of the tuning, and the
incumbent is validated on it at the end, as a test set.
"""

from __future__ import annotations

import math
import warnings

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from smacx import SMAC, Intensifier, Scenario

TRAIN, TEST = ("digits", "breast_cancer", "wine"), ("iris",)
DATA = {name: getattr(datasets, f"load_{name}")(return_X_y=True) for name in TRAIN + TEST}


def error(config, instance: str, seed: int) -> float:
    X, y = DATA[instance]
    clf = SGDClassifier(
        loss=config["loss"],
        penalty=config["penalty"],
        alpha=config["alpha"],
        l1_ratio=config.get("l1_ratio", 0.15),
        max_iter=30,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return 1 - cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=3).mean()


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    penalty = Categorical("penalty", ["l2", "l1", "elasticnet"])
    l1_ratio = Float("l1_ratio", (0.0, 1.0))
    space.add(
        [
            Categorical("loss", ["hinge", "log_loss", "modified_huber"]),
            penalty,
            Float("alpha", (1e-6, 1e-1), log=True),
            l1_ratio,
        ]
    )
    space.add(EqualsCondition(l1_ratio, penalty, "elasticnet"))
    features = {
        name: [math.log(X.shape[0]), math.log(X.shape[1]), len(set(y))]
        for name, (X, y) in DATA.items()
        if name in TRAIN
    }
    scenario = Scenario(
        space,
        name="sgd_datasets",
        instances=list(TRAIN),
        instance_features=features,
        deterministic=True,
        n_trials=60,
        seed=0,
    )
    smac = SMAC(scenario, error, intensifier=Intensifier(max_config_calls=3), overwrite=True)
    incumbent = smac.optimize()
    print(smac.summary())
    # the incumbent's stored trials: one per instance, at the seed the run gave it
    assert incumbent is not None
    for key, value in sorted(smac.runhistory.get_trial_values(incumbent).items()):
        print(f"{key.instance:>14}: error {value.cost:.4f} (seed {key.seed})")
    # the held-out dataset, run afresh (not stored in the history)
    print(f"held out {', '.join(TEST)}: error {smac.validate(incumbent, instances=list(TEST)):.4f}")
