"""DaskParallelRunner when workers die often, lose data, or the run is closing.

Every test runs a real LocalCluster (no mocks).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace
from distributed import Client

from smacx import SerialRunner, StatusType, TrialInfo
from smacx.runners.dask import DaskParallelRunner
from smacx.trial import TrialValue
from tests.test_runners_dask import (
    by_seed,
    cluster,
    finish_then_lose_the_worker,
    run_all,
    scenario,
    thread_client,
    trials,
)

pytestmark = pytest.mark.timeout(120)


# -- targets (module level: the workers import them) -----------------------------------------


def kill_low_seeds(config: Configuration, seed: int, log: str, below: int = 2) -> float:
    """Logs its seed; seeds under ``below`` SIGKILL their worker every time, others take
    0.2 s."""
    with open(log, "a") as f:
        f.write(f"{seed}\n")
    if seed < below:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return float(seed)


def echo_data(config: Configuration, seed: int, **data: Any) -> tuple[float, dict[str, Any]]:
    data = {k: v for k, v in data.items() if k not in ("instance", "budget")}
    return float(seed), {"data": data, "pid": os.getpid()}


def sum_of_X(config: Configuration, seed: int, X: np.ndarray) -> tuple[float, dict[str, Any]]:
    time.sleep(0.3)  # so that both workers get trials
    return float(X.sum()), {"pid": os.getpid(), "x_id": id(X)}


def seed_as_cost(config: Configuration, seed: int) -> float:
    return float(seed)


def starts(log: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in log.read_text().split():
        counts[int(line)] = counts.get(int(line), 0) + 1
    return counts


# -- the runner's own cluster --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_own_cluster_restarts_the_workers_dask_closed_after_repeated_deaths(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """distributed closes a nanny whose worker is not back lost-worker-timeout after a death:
    with a timeout shorter than a restart, every death closes one (both, as seed 0's two
    attempts kill both workers). The runner starts them again, so the run goes on and ends
    with the cluster at full size."""
    log = tmp_path / "log"
    sc = scenario(space, n_workers=2)
    # (read when a worker is removed: it must hold while the run goes on)
    with (
        dask.config.set({"distributed.deploy.lost-worker-timeout": "50ms"}),
        DaskParallelRunner(SerialRunner(kill_low_seeds, sc), patience=20) as runner,
    ):
        values = by_seed(run_all(runner, trials(space, 5), log=str(log), below=1))
        assert runner._cluster is not None
        deadline = time.monotonic() + 60
        while runner._total_threads() < 2:  # (counting the workers restores them)
            assert time.monotonic() < deadline, runner._cluster.workers
            time.sleep(0.2)
    assert values[0].status is StatusType.CRASHED, values[0]
    assert values[0].additional_info["attempts"] == 2
    assert starts(log)[0] == 2  # max_retries=1: two attempts, no more
    assert [values[s].status for s in (1, 2, 3, 4)] == [StatusType.SUCCESS] * 4, values
    # (said without claiming deaths: a worker the user retired is started again alike)
    assert re.search(r"is short of [12] of its 2 worker process\(es\) \(closed after", caplog.text)
    # the death names the configuration whose trial ran (an audit: only instance, seed, budget)
    assert re.search(
        r"The dask worker running trial of \{.*\} \(instance=None, seed=0, budget=None\) died "
        r"\(attempt 1 of 2\)",
        caplog.text,
    ), caplog.text


@pytest.mark.timeout(90)
def test_own_cluster_is_restored_while_a_gather_waits_for_a_lost_result(
    space: ConfigurationSpace,
) -> None:
    """The cluster loses its only worker after a trial finished, with its result (in CI,
    distributed closed the nanny of a worker killed twice): a gather begun on the finished
    result waits for dask to compute it again, so the runner restores its cluster meanwhile.
    The whole run hung there."""
    with DaskParallelRunner(
        SerialRunner(seed_as_cost, scenario(space, n_workers=1)), patience=5
    ) as runner:
        assert runner._cluster is not None
        finish_then_lose_the_worker(runner, runner._cluster, space)
        [(future, _)] = runner._running.values()
        values, errors = runner._gather([future])  # (as iter_results calls it, when finished)
        assert errors == {}
        assert [(v.status, v.cost) for v in values.values()] == [(StatusType.SUCCESS, 7.0)]


@pytest.mark.timeout(90)
def test_own_cluster_waits_beyond_patience_for_a_worker_it_starts_again(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process that the runner asks its cluster to start again enters
    ``cluster.workers`` only once it has started: a start slower than patience (a loaded
    machine; made so here) raised NoWorkersError instead of waiting RESTART_PATIENCE."""
    import asyncio

    from distributed.nanny import Nanny

    original = Nanny.start_unsafe

    async def slow_start(self: Nanny) -> Any:
        await asyncio.sleep(4)
        return await original(self)

    with DaskParallelRunner(
        SerialRunner(seed_as_cost, scenario(space, n_workers=1)), patience=1
    ) as runner:
        assert runner._cluster is not None
        finish_then_lose_the_worker(runner, runner._cluster, space)
        monkeypatch.setattr(Nanny, "start_unsafe", slow_start)
        [(future, _)] = runner._running.values()
        values, errors = runner._gather([future])
        assert errors == {}
        assert [(v.status, v.cost) for v in values.values()] == [(StatusType.SUCCESS, 7.0)]


@pytest.mark.slow
def test_own_cluster_waits_for_the_workers_it_restarts_beyond_patience(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A worker restart takes longer than patience=0.5 s: while its own cluster restarts
    worker processes, the runner waits for them (RESTART_PATIENCE) rather than raising
    NoWorkersError after three trials."""
    log = tmp_path / "log"
    sc = scenario(space, n_workers=1)
    with DaskParallelRunner(SerialRunner(kill_low_seeds, sc), patience=0.5) as runner:
        values = by_seed(run_all(runner, trials(space, 4), log=str(log), below=1))
    assert values[0].status is StatusType.CRASHED, values[0]
    assert [values[s].status for s in (1, 2, 3)] == [StatusType.SUCCESS] * 3, values


# -- a user's client -----------------------------------------------------------------------------


@pytest.mark.slow
def test_worker_deaths_on_user_client_count_as_attempts_and_spare_healthy_trials(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A trial that kills its worker takes the scattered runner's copy with it: before, the
    trials depending on it came back cancelled, were resubmitted as "lost data" without
    counting an attempt (the killer ran up to 13 times), and healthy ones were recorded
    CRASHED after ten losses."""
    log = tmp_path / "log"
    # No dask retries (default: 3 on top of max_retries), to keep the test short.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        cluster(2) as user_cluster,
        Client(user_cluster) as client,
    ):
        target = SerialRunner(kill_low_seeds, scenario(space))
        with DaskParallelRunner(target, patience=20, dask_client=client) as runner:
            values = by_seed(run_all(runner, trials(space, 6), log=str(log), below=1))
    assert values[0].status is StatusType.CRASHED, values[0]
    assert "died" in values[0].additional_info["error"]
    assert values[0].additional_info["attempts"] == 2
    assert starts(log)[0] == 2  # max_retries=1: two attempts, no more
    assert {s: values[s].status for s in range(1, 6)} == dict.fromkeys(
        range(1, 6), StatusType.SUCCESS
    ), values
    assert [values[s].cost for s in range(1, 6)] == [float(s) for s in range(1, 6)]


def test_a_death_on_a_worker_of_several_threads_says_another_trial_may_have_caused_it(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """dask charges a worker's death to every trial on it: a good configuration running next
    to one that took all the memory was recorded CRASHED, with a reason that blamed it alone
    (an audit of users' clusters). The reason now says the worker ran several trials at once,
    and how to give each trial a death of its own."""
    log = tmp_path / "log"
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        cluster(1, threads=2) as user_cluster,
        Client(user_cluster) as client,
    ):
        target = SerialRunner(kill_low_seeds, scenario(space))
        with DaskParallelRunner(target, patience=20, dask_client=client, max_retries=0) as runner:
            values = by_seed(run_all(runner, trials(space, 3), log=str(log), below=1))
    assert values[0].status is StatusType.CRASHED, values[0]
    assert re.search(
        r"died, 1 time\(s\) in a row: .*\. The worker ran up to 2 trials at once, and each of "
        r"them was charged with its death, so another trial may have caused it: "
        r"trial_memory_limit or trial_walltime_limit runs each trial in a process of its own",
        values[0].additional_info["error"],
    ), values[0].additional_info


def segfaults(config: Configuration, seed: int) -> float:
    os.kill(os.getpid(), signal.SIGSEGV)
    return 0.0  # (never)


@pytest.mark.slow
def test_a_user_cluster_emptied_by_crashing_trials_is_named_as_the_cause(
    space: ConfigurationSpace,
) -> None:
    """Segfaulting configurations left a user's LocalCluster without workers for good (it
    drops a worker that died too often), and the NoWorkersError advised waiting for workers
    or raising patience (a dask audit's finding). It now says that trials killed them, and
    how to keep a crash to its trial."""
    from smacx import SMAC, NoWorkersError

    sc = scenario(space, n_trials=30, deterministic=True)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        user_cluster = cluster(1)
        try:
            with Client(user_cluster) as client:
                target = SerialRunner(segfaults, sc)
                runner = DaskParallelRunner(target, dask_client=client, patience=2)
                with (
                    SMAC(sc, runner=runner, progress=False, raise_on_first_crash=False) as smac,
                    pytest.raises(
                        NoWorkersError,
                        match=r"Trials killed their dask workers: \d+ time\(s\) .* Set "
                        r"trial_walltime_limit or trial_memory_limit",
                    ),
                ):
                    smac.optimize()
        finally:
            # (distributed's close may race the removal of the workers that died: KeyError)
            with contextlib.suppress(KeyError):
                user_cluster.close()


def test_data_named_like_submit_keywords_reaches_the_target(space: ConfigurationSpace) -> None:
    data = {
        "key": "k",
        "workers": ["w1"],
        "priority": 5,
        "resources": {"GPU": 1},
        "retries": 3,
        "fifo_timeout": "1s",
        "allow_other_workers": "maybe",
        "actor": "a",
        "actors": ["b"],
        "pure": None,
    }
    with thread_client(1) as (_, client):
        target = SerialRunner(echo_data, scenario(space))
        with DaskParallelRunner(target, dask_client=client) as runner:
            values = by_seed(run_all(runner, trials(space, 2), **data))
    for seed in (0, 1):
        assert values[seed].status is StatusType.SUCCESS, values[seed]
        assert values[seed].additional_info["data"] == data


def test_large_data_reaches_a_worker_that_joined_after_it_was_scattered(
    space: ConfigurationSpace,
) -> None:
    """A large object is scattered, not a dependency of the trials: a worker that joined
    later fetches it from a peer once, and its trials all see that one copy."""
    X = np.arange(500_000.0)  # 4 MB: scattered
    with cluster(1) as grow, Client(grow) as client:
        target = SerialRunner(sum_of_X, scenario(space))
        with DaskParallelRunner(target, dask_client=client, queue_ahead=0) as runner:
            first = by_seed(run_all(runner, trials(space, 1), X=X))
            grow.scale(2)
            client.wait_for_workers(2, timeout=30)
            runner._threads_checked = -float("inf")
            values = list(run_all(runner, trials(space, 8), X=X))
    assert first[0].status is StatusType.SUCCESS
    assert all(v.status is StatusType.SUCCESS and v.cost == X.sum() for _, v in values), values
    ids: dict[int, set[int]] = {}
    for _, v in values:
        ids.setdefault(v.additional_info["pid"], set()).add(v.additional_info["x_id"])
    assert len(ids) == 2, ids  # both workers ran trials
    assert all(len(s) == 1 for s in ids.values()), ids


# -- closing ---------------------------------------------------------------------------------------


def test_closing_gives_up_a_lost_trial_without_waiting_for_workers(
    space: ConfigurationSpace,
) -> None:
    """The only worker leaves after a trial finished, taking its result: once closing has
    begun, collecting neither resubmits it nor waits ``patience`` for a worker."""
    with thread_client(1) as (one, client):
        runner = DaskParallelRunner(
            SerialRunner(seed_as_cost, scenario(space)), 60, dask_client=client
        )
        finish_then_lose_the_worker(runner, one, space)
        runner.begin_close()
        start = time.monotonic()
        results: list[tuple[TrialInfo, TrialValue]] = list(runner.iter_results())
        assert results == []
        assert time.monotonic() - start < 5  # not patience (60 s)
        runner.close()
        assert client.status == "running"


def cached_prefixes() -> list[str]:
    """On a worker: the runners whose objects it keeps."""
    from smacx.runners import dask as dask_runner

    return [prefix for prefix, objects in dask_runner._objects.items() if objects]


def test_closing_frees_the_copies_workers_kept_of_the_data(space: ConfigurationSpace) -> None:
    """On a user's cluster, which outlives the run, the workers' copies of the runner and of
    scattered data are dropped when the runner closes."""
    X = np.arange(500_000.0)  # 4 MB: scattered
    with cluster(2) as two, Client(two) as client:
        runner = DaskParallelRunner(SerialRunner(sum_of_X, scenario(space)), dask_client=client)
        values = list(run_all(runner, trials(space, 4), X=X))
        assert all(v.status is StatusType.SUCCESS for _, v in values)
        assert any(client.run(cached_prefixes).values())
        runner.close()
        assert not any(client.run(cached_prefixes).values())
