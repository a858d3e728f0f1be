"""The contract every runner keeps, checked on SerialRunner and on DaskParallelRunner alike.

Each submitted trial comes back exactly once; a failing target is recorded, never raised; the
target gets the arguments it declares plus the data passed along; limits give the same status
whatever runs the trial.
"""

# distributed's Client methods carry no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace
from distributed import Client, LocalCluster

from smacx import AbstractRunner, Scenario, SerialRunner, StatusType, TrialInfo, TrialValue
from smacx.runners.dask import DaskParallelRunner

pytestmark = pytest.mark.timeout(120)

MakeRunner = Callable[..., AbstractRunner]


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    """Two single-threaded worker processes, shared by the module's dask runners."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(params=["serial", "dask"])
def make_runner(request: pytest.FixtureRequest) -> Iterator[MakeRunner]:
    """Builds runners of one kind as ``make_runner(target_fn, space, **scenario_fields)``."""
    made: list[AbstractRunner] = []

    def make(target: Any, space: ConfigurationSpace, **fields: Any) -> AbstractRunner:
        single = SerialRunner(target, Scenario(space, output_directory=None, **fields))
        runner: AbstractRunner = single
        if request.param == "dask":
            client = request.getfixturevalue("dask_client")
            runner = DaskParallelRunner(single, dask_client=client)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()


@pytest.fixture
def space() -> ConfigurationSpace:
    return ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)


def run_all(
    runner: AbstractRunner, todo: list[TrialInfo], **data: Any
) -> list[tuple[TrialInfo, TrialValue]]:
    """Drive a runner as the optimizer does and return the results in arrival order."""
    results: list[tuple[TrialInfo, TrialValue]] = []
    for info in todo:
        while runner.count_available_workers() <= 0:
            runner.wait()
            results.extend(runner.iter_results())
        runner.submit_trial(info, **data)
        results.extend(runner.iter_results())
    while runner.is_running():
        runner.wait()
        results.extend(runner.iter_results())
    return results


def seeded(space: ConfigurationSpace, n: int, **fields: Any) -> list[TrialInfo]:
    return [TrialInfo(space.sample_configuration(), seed=i, **fields) for i in range(n)]


# -- targets (module level: dask workers import them) ---------------------------------------


def square(config: Configuration, seed: int) -> float:
    time.sleep(0.05)
    return float(config["x"]) ** 2 + seed


def fails_on_odd_seeds(config: Configuration, seed: int) -> float:
    if seed % 2:
        raise ValueError(f"odd seed {seed}")
    return 1.0


def echo(config: Configuration, seed: int, instance: str, weights: Any, tag: str) -> Any:
    return float(weights[seed]), {"instance": instance, "tag": tag, "pid": os.getpid()}


def sleeps_on_seed_zero(config: Configuration, seed: int) -> float:
    if seed == 0:
        time.sleep(20)
    return 2.0


def two_costs(config: Configuration, seed: int) -> dict[str, float]:
    if seed == 1:
        raise RuntimeError("boom")
    return {"b": 2.0, "a": 1.0}


def clamps_in_place(config: Configuration, seed: int) -> float:
    x = float(config["x"])
    config["x"] = 4.5  # ConfigSpace allows it: some targets clamp or normalize in place
    return x


# -- the contract --------------------------------------------------------------------------------


def test_each_trial_comes_back_exactly_once(
    make_runner: MakeRunner, space: ConfigurationSpace
) -> None:
    runner = make_runner(square, space)
    todo = seeded(space, 7)
    results = run_all(runner, todo)
    assert sorted(info.seed for info, _ in results) == list(range(7))  # type: ignore[type-var]
    for info, value in results:
        assert info in todo
        assert value.status is StatusType.SUCCESS
        assert info.seed is not None
        assert value.cost == pytest.approx(float(info.config["x"]) ** 2 + info.seed)
        assert value.starttime <= value.endtime and value.time >= 0.05
    assert not runner.is_running()
    assert list(runner.iter_results()) == []


def test_a_target_assigning_into_its_configuration_leaves_the_trial_as_asked(
    make_runner: MakeRunner, space: ConfigurationSpace
) -> None:
    """The result comes back under the configuration that was asked, which stays unchanged
    (in-process trials once recorded every result under the changed configuration)."""
    runner = make_runner(clamps_in_place, space)
    todo = seeded(space, 3)
    asked = [dict(info.config) for info in todo]
    results = run_all(runner, todo)
    assert [dict(info.config) for info in todo] == asked
    for info, value in results:
        assert info in todo and value.cost == pytest.approx(info.config["x"])


def test_idle_runner(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    runner = make_runner(square, space)
    runner.wait()  # returns at once: nothing runs
    assert not runner.is_running()
    assert list(runner.iter_results()) == []
    assert runner.count_available_workers() >= 1


def test_running_until_collected(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    runner = make_runner(square, space)
    [info] = seeded(space, 1)
    runner.submit_trial(info)
    assert runner.is_running()
    runner.wait()
    [(got, value)] = list(runner.iter_results())
    assert got == info and value.status is StatusType.SUCCESS
    assert not runner.is_running()


def test_target_errors_are_recorded_not_raised(
    make_runner: MakeRunner, space: ConfigurationSpace
) -> None:
    runner = make_runner(fails_on_odd_seeds, space, crash_cost=99.0)
    values = {info.seed: value for info, value in run_all(runner, seeded(space, 4))}
    for seed in (1, 3):
        assert values[seed].status is StatusType.CRASHED
        assert values[seed].cost == 99.0
        assert f"ValueError: odd seed {seed}" in values[seed].additional_info["error"]
        assert "fails_on_odd_seeds" in values[seed].additional_info["traceback"]
    assert values[0].status is values[2].status is StatusType.SUCCESS


def test_target_gets_declared_arguments_and_data(
    make_runner: MakeRunner, space: ConfigurationSpace
) -> None:
    runner = make_runner(echo, space, instances=["i1", "i2"])
    weights = np.arange(4.0) * 10
    todo = [
        TrialInfo(space.sample_configuration(), instance=f"i{s % 2 + 1}", seed=s) for s in range(4)
    ]
    values = {
        info.seed: (info, value) for info, value in run_all(runner, todo, weights=weights, tag="t")
    }
    for seed, (info, value) in values.items():
        assert value.status is StatusType.SUCCESS, value.additional_info
        assert value.cost == 10.0 * seed  # type: ignore[operator]
        assert value.additional_info["instance"] == info.instance
        assert value.additional_info["tag"] == "t"


def test_time_limit_gives_timeout(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    runner = make_runner(sleeps_on_seed_zero, space, trial_walltime_limit=1)
    values = {info.seed: value for info, value in run_all(runner, seeded(space, 2))}
    assert values[0].status is StatusType.TIMEOUT
    assert values[0].cost == math.inf
    assert 1.0 <= values[0].time < 10
    assert "trial_walltime_limit" in values[0].additional_info["error"]
    assert values[1].status is StatusType.SUCCESS and values[1].cost == 2.0


def test_multi_objective_costs(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    runner = make_runner(two_costs, space, objectives=["a", "b"], crash_cost=[5.0, 6.0])
    values = {info.seed: value for info, value in run_all(runner, seeded(space, 2))}
    assert values[0].cost == [1.0, 2.0]
    assert values[1].status is StatusType.CRASHED and values[1].cost == [5.0, 6.0]


def test_run_returns_a_value(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    runner = make_runner(square, space)
    value = runner.run(space.get_default_configuration(), seed=2)
    assert value.status is StatusType.SUCCESS and value.cost == 2.0


def test_close_is_idempotent(make_runner: MakeRunner, space: ConfigurationSpace) -> None:
    with make_runner(square, space) as runner:
        run_all(runner, seeded(space, 1))
    runner.close()
