"""Run smacx's trials on your own dask cluster: two trials at a time on a local one here.

Any ``distributed.Client`` works the same way (e.g. one connected to a cluster on a batch
system). smacx never closes a client it is given: the ``with`` blocks close it and its cluster.
Per-trial limits (``trial_walltime_limit``, ``trial_memory_limit``) work on dask's default,
daemonic, worker processes. The scheduler's ``worker-saturation`` of 1.0 lets a trial that smacx
queues ahead start on whichever worker frees up first (dask's default, 1.1, hands it to one busy
worker at once).
"""

from __future__ import annotations

import time

import dask
from ConfigSpace import Configuration, ConfigurationSpace
from distributed import Client, LocalCluster

from smacx import SMAC, Scenario


def bowl(config: Configuration, seed: int) -> float:
    """A slow-ish target: 0.05 s per call; minimum 0 at x = 1, y = -0.5."""
    time.sleep(0.05)
    return (config["x"] - 1) ** 2 + 2 * (config["y"] + 0.5) ** 2


if __name__ == "__main__":  # dask starts worker processes that import this file
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space,
        n_trials=50,
        deterministic=True,
        trial_walltime_limit=10,  # seconds; a slower trial is recorded as TIMEOUT
        output_directory=None,  # keep the run history in memory only
        seed=0,
    )
    with (
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),  # read by the scheduler
        # on loopback only, the dashboard too (dask's default serves it on every interface)
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
        SMAC(scenario, bowl, dask_client=client, progress=False) as smac,
    ):
        incumbent = smac.optimize()
        print(smac.summary())
    if incumbent is not None:  # None only if no trial succeeded
        print(f"incumbent: x={incumbent['x']:.3f} y={incumbent['y']:.3f}")
