"""A noisy objective: how much to trust the incumbent's cost.

The cross-validated error of an RBF support vector machine on a subsample of the digits
dataset, with folds shuffled by the trial's seed: the same configuration scores differently
on every seed. The scenario is not deterministic, so racing runs promising configurations on
several seeds and compares them on the same ones. The summary's ``noise:`` line says how much
one configuration's error varies between seeds and how sure the incumbent's mean is; the
incumbent is the lowest of many such means, so :meth:`smacx.SMAC.validate` measures it again
on fresh seeds (40 trials and 10 validation runs, about 5 s of one core).
"""

from __future__ import annotations

from ConfigSpace import ConfigurationSpace, Float
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, cross_val_score
from sklearn.svm import SVC

from smacx import SMAC, Scenario

X, y = load_digits(return_X_y=True)
X, y = X[:600] / 16.0, y[:600]


def error(config, seed: int) -> float:
    folds = KFold(n_splits=3, shuffle=True, random_state=seed)
    model = SVC(C=config["C"], gamma=config["gamma"])
    return 1.0 - cross_val_score(model, X, y, cv=folds).mean()


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add([Float("C", (1e-2, 1e3), log=True), Float("gamma", (1e-4, 1.0), log=True)])
    scenario = Scenario(space, n_trials=40, seed=0, deterministic=False, output_directory=None)
    smac = SMAC(scenario, error, progress=False)
    incumbent = smac.optimize()
    print(smac.summary())
    fresh = smac.validate(incumbent, seeds=range(1000, 1010))
    print(f"error on its {len(smac.runhistory.get_trials(incumbent))} seeds of the run: "
          f"{smac.incumbent_cost:.4f}; on 10 fresh seeds: {fresh:.4f}")  # fmt: skip
