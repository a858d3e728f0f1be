"""Timings of the model-side hot paths: forest fit + predict, and one acquisition maximization.

Run ``PYTHONPATH=. python benchmarks/micro_model.py`` from the repository root. Prints median
wall-clock (and CPU) milliseconds; not a test.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from ConfigSpace import ConfigurationSpace

from smacx.acquisition import LogEI
from smacx.encoding import Encoder
from smacx.maximizer import LocalAndRandomSearch
from smacx.models import RandomForest


def _median_ms(fn: Callable[[], object], repeats: int) -> str:
    """Median wall-clock and CPU milliseconds of ``fn()`` (CPU time is robust to a busy host)."""
    fn()  # warm up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return f"{1e3 * statistics.median(wall):7.1f} ms ({1e3 * statistics.median(cpu):6.1f} cpu)"


def _cost(X: np.ndarray) -> np.ndarray:
    return np.asarray(np.sum((X - 0.3) ** 2, axis=1) + 0.1 * np.sin(20 * X[:, 0]))


def bench_forest(d: int = 10, n_predict: int = 1000) -> None:
    """Fit on n observations, then predict n_predict rows, per backend."""
    rng = np.random.default_rng(0)
    Xq = rng.random((n_predict, d))
    for n in (100, 1000, 5000):
        X = rng.random((n, d))
        y = _cost(X)
        row = [f"RF fit+predict({n_predict}) n={n:5d} d={d}:"]
        for backend in ("auto", "numpy", "sklearn"):  # type: Literal["auto", "numpy", "sklearn"]
            model = RandomForest(backend=backend, seed=0)

            def cycle(model: RandomForest = model, X: np.ndarray = X, y: np.ndarray = y) -> None:
                model.fit(X, y).predict(Xq)

            row.append(f"{backend} {_median_ms(cycle, 11 if n <= 1000 else 3)}")
        print("  ".join(row))


def bench_maximizer() -> None:
    """One maximize() call on a LogEI of a forest fitted on 200 observations."""
    for d in (2, 10, 50):
        space = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(d)}, seed=0)
        encoder = Encoder(space)
        rng = np.random.default_rng(0)
        X = rng.random((200, d))
        y = _cost(X)
        model = RandomForest(seed=0).fit(X, y)
        acq = LogEI().bind(model, float(model.transform_y(y.min())))
        maximizer = LocalAndRandomSearch(encoder, seed=0)
        starts = X[np.argsort(y)[:10]]

        def call(maximizer: LocalAndRandomSearch = maximizer, acq=acq, starts=starts, X=X) -> None:  # type: ignore[no-untyped-def]
            maximizer.maximize(acq, 1, starts, X)

        print(f"maximize d={d:2d} (200 obs, RF + LogEI): {_median_ms(call, 7)}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help only
    bench_forest()
    bench_maximizer()
