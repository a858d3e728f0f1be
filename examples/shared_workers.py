"""Three independent processes work on one run, with no master process.

Each worker builds the same Scenario and calls ``optimize()``; they meet in the run's database,
each proposing from the whole history, and together they run the scenario's ``n_trials``. On one
machine the run is a SQLite file (here ``smacx_output/shared_workers``); a worker may start or
stop at any time. To share a run between machines, give every worker the same PostgreSQL URL:

    python examples/shared_workers.py postgresql://user:password@dbhost/runs

(``pip install 'smacx[postgres]'``; the database must exist.) In practice you start the same
script once per core or machine; here one script starts three processes to show it.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import sys
import time

from ConfigSpace import ConfigurationSpace, Float

from smacx import SMAC, Scenario


def rosenbrock(config, seed: int) -> tuple[float, dict[str, int]]:
    """Rosenbrock's valley in 3 dimensions (minimum 0 at x = (1, 1, 1)), with a little sleep
    to stand in for a real target; the info dict records which process ran the trial."""
    time.sleep(0.05)
    x = [config[f"x{i}"] for i in range(3)]
    cost = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(2))
    return cost, {"pid": os.getpid()}


def scenario() -> Scenario:
    space = ConfigurationSpace(seed=0)
    space.add([Float(f"x{i}", (-2.0, 2.0)) for i in range(3)])
    return Scenario(space, name="shared_workers", n_trials=90, deterministic=True, seed=0)


def work(storage: str | None) -> None:
    """One worker: what each process (or machine) runs."""
    smac = SMAC(scenario(), rosenbrock, storage=storage, progress=False)
    smac.optimize()
    smac.close()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else None
    SMAC(scenario(), rosenbrock, storage=url, overwrite=True).close()  # a fresh run each time
    workers = [multiprocessing.Process(target=work, args=(url,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    smac = SMAC(scenario(), rosenbrock, storage=url)  # reopens the run the workers shared
    per_process = collections.Counter(
        value.additional_info.get("pid") for _, value in smac.runhistory.finished()
    )
    print(f"{smac.runhistory.n_finished} trials, by processes {dict(per_process)}")
    incumbent = smac.incumbent
    if incumbent is not None:
        cost = smac.incumbent_cost
        values = ", ".join(f"{incumbent[f'x{i}']:.3f}" for i in range(3))
        print(f"best: x=({values}) cost={cost:.4f}")
    smac.close()
