"""Tune an SVM on two dask workers, sending the data set to each worker once.

``optimize(data_to_scatter=...)`` sends large arrays (a pickle over 256 KiB) to each worker once,
when the first trial starts, and hands them to each call of the target as keyword arguments, so a
large data set is not sent again with every trial; small ones travel with each trial. With
``Scenario(n_workers=2)`` and no client, smacx starts (and closes) a local cluster of two worker
processes itself.
"""

from __future__ import annotations

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace, Float
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

from smacx import SMAC, Scenario


def train(config: Configuration, seed: int, X: np.ndarray, y: np.ndarray) -> float:
    """1 - 3-fold cross-validated accuracy of an RBF SVM."""
    model = SVC(C=config["C"], gamma=config["gamma"], random_state=seed)
    return 1.0 - float(np.mean(cross_val_score(model, X, y, cv=3)))


if __name__ == "__main__":  # dask starts worker processes that import this file
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]  # a quick demo
    space = ConfigurationSpace(seed=0)
    space.add([Float("C", (1e-2, 1e3), log=True), Float("gamma", (1e-5, 1e-1), log=True)])
    scenario = Scenario(space, n_trials=20, n_workers=2, output_directory=None, seed=0)
    with SMAC(scenario, train, progress=False) as smac:  # closing SMAC closes the cluster
        incumbent = smac.optimize(data_to_scatter={"X": X, "y": y})
        print(smac.summary())
    print(f"incumbent: C={incumbent['C']:.4g} gamma={incumbent['gamma']:.4g}")
