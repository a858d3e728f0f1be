from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import (
    SMAC,
    AbstractRunner,
    ArgumentError,
    Callback,
    ConcurrencyError,
    Hyperband,
    InitialDesign,
    Intensifier,
    NoWorkersError,
    RunHistory,
    Scenario,
    ScenarioError,
    ScenarioMismatchError,
    SerialRunner,
    StatusType,
    StorageError,
    TargetCrashedError,
    TrialError,
    TrialInfo,
    TrialValue,
)
from smacx import facade as facade_module
from smacx import heap as heap_module
from smacx import session as session_module
from tests.conftest import (
    optimize_keeps_what_finished,
    quadratic,
    space_with_inactive_parents,
)


def scenario(space: ConfigurationSpace, tmp_path: Path | None = None, **kw: Any) -> Scenario:
    kw.setdefault("deterministic", True)
    return Scenario(space, output_directory=tmp_path, **kw)


def test_optimize_finds_the_minimum_of_a_quadratic(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space, n_trials=150), quadratic, preset="random", progress=False)
    incumbent = smac.optimize()
    assert incumbent is not None
    assert smac.runhistory.n_finished == 150
    assert quadratic(incumbent) < 0.5  # random search over 150 trials of a 10 x 10 box
    assert smac.runhistory.get_cost(incumbent) == pytest.approx(quadratic(incumbent))
    assert smac.trajectory[-1]["cost"] == [smac.runhistory.get_cost(incumbent)]
    costs = [t["cost"][0] for t in smac.trajectory]
    assert costs == sorted(costs, reverse=True)


@pytest.mark.parametrize("preset", ["hpo", "random"])
def test_a_run_leaves_the_users_space_seeded_as_it_was(
    mixed_space: ConfigurationSpace, preset: str
) -> None:
    before = mixed_space.random.get_state()[1].copy()
    smac = SMAC(
        scenario(mixed_space, n_trials=30, seed=5),
        lambda config, seed: float(config["lr"]) + float(config.get("child", 0.5)),
        preset=preset,
        progress=False,
    )
    smac.optimize()
    assert smac.runhistory.n_finished == 30
    # the user's own draws from ConfigurationSpace(seed=0) are the same as without the run
    assert np.array_equal(mixed_space.random.get_state()[1], before)


def test_ask_many_before_tell_never_repeats(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space, n_trials=50))
    infos = [smac.ask() for _ in range(30)]
    assert len({(i.config, i.instance, i.seed) for i in infos}) == 30
    assert smac.runhistory.n_running == 30
    for info in infos:
        smac.tell(info, TrialValue(cost=quadratic(info.config)))
    assert smac.runhistory.n_finished == 30 and smac.runhistory.n_running == 0
    assert smac.incumbent is not None


def test_tell_of_a_trial_that_was_not_asked(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space))
    config = space.get_default_configuration()
    smac.tell(TrialInfo(config, seed=0), TrialValue(cost=0.5))
    assert smac.incumbent is None or smac.runhistory.get_cost(config) == 0.5


@pytest.mark.parametrize("preset", ["hpo", "hyperband"])
def test_a_trial_told_without_its_seed_is_the_asked_one(
    space: ConfigurationSpace, preset: str
) -> None:
    """An Optuna user rebuilds the asked trial as TrialInfo(config, budget=...), without the
    seed: in a noisy run the result is the asked trial's, which does not stay running (30
    such tells left 30 trials running and never an incumbent)."""
    extra: dict[str, Any] = {"min_budget": 1, "max_budget": 9} if preset == "hyperband" else {}
    smac = SMAC(
        Scenario(space, n_trials=30, deterministic=False, seed=3, output_directory=None, **extra),
        preset=preset,
    )
    for _ in range(30):
        info = smac.ask()
        assert info.seed is not None
        told = TrialInfo(info.config, instance=info.instance, budget=info.budget)
        smac.tell(told, TrialValue(cost=quadratic(info.config)))
    assert smac.runhistory.n_running == 0
    assert smac.runhistory.n_finished == 30
    assert smac.incumbent is not None
    assert all(key.seed is not None for key, _ in smac.runhistory.finished())


def test_a_trial_told_under_another_seed_than_asked_warns_once(
    space: ConfigurationSpace,
) -> None:
    """A told trial of an asked configuration under another seed is stored as told, and the
    warning says the asked one stays running; given once."""
    smac = SMAC(Scenario(space, n_trials=10, deterministic=False, seed=3, output_directory=None))
    asked = [smac.ask() for _ in range(2)]
    with pytest.warns(UserWarning, match=r"not the one ask\(\) handed out.*stays running"):
        smac.tell(dataclasses.replace(asked[0], seed=12345), TrialValue(cost=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        smac.tell(dataclasses.replace(asked[1], seed=12345), TrialValue(cost=2.0))
    assert smac.runhistory.n_running == 2 and smac.runhistory.n_finished == 2


def test_optimize_says_that_it_does_not_run_trials_asked_and_not_told(
    space: ConfigurationSpace,
) -> None:
    smac = SMAC(scenario(space, n_trials=5), quadratic, progress=False)
    asked = [smac.ask() for _ in range(2)]
    with pytest.warns(UserWarning, match=r"2 trial\(s\) handed out by ask\(\) are not told"):
        smac.optimize()
    assert smac.runhistory.n_finished == 3
    assert {i.config for i in asked} <= set(smac.runhistory.get_configs())
    assert smac.runhistory.n_running == 2


@pytest.mark.parametrize(
    ("settings", "where", "message"),
    [
        ({"instances": ["i1", "i2"]}, {"instance": "i3"}, r"instances \['i1', 'i2'\]; got 'i3'"),
        ({"instances": ["i1", "i2"]}, {}, r"instances \['i1', 'i2'\]; got None"),
        ({}, {"instance": "i1"}, r"must be None \(the scenario has no instances\); got 'i1'"),
        ({}, {"budget": 9.0}, r"budget must be None .*; got 9.0"),
        (
            {"min_budget": 1, "max_budget": 9},
            {"budget": 27.0},
            r"runs trials at \(9\); got 27.0",
        ),
        # Racing runs every trial at max_budget: other results would never count.
        (
            {"min_budget": 1, "max_budget": 9},
            {"budget": 5.0},
            r"runs trials at \(9\); got 5.0",
        ),
        ({"min_budget": 1, "max_budget": 9}, {}, r"runs trials at \(9\); got None"),
    ],
)
def test_tell_refuses_an_instance_or_budget_the_scenario_does_not_have(
    space: ConfigurationSpace, settings: dict[str, Any], where: dict[str, Any], message: str
) -> None:
    """Stored, such a trial would count as finished for good and never reach the incumbent."""
    smac = SMAC(scenario(space, **settings))
    info = TrialInfo(space.get_default_configuration(), seed=0, **where)
    with pytest.raises(TrialError, match=message):
        smac.tell(info, TrialValue(cost=0.0))
    assert smac.runhistory.n_finished == 0
    ok = TrialInfo(info.config, seed=0, instance=settings.get("instances", [None])[0], budget=9.0)
    smac.tell(ok if "max_budget" in settings else dataclasses.replace(ok, budget=None),
              TrialValue(cost=0.0))  # fmt: skip
    assert smac.runhistory.n_finished == 1


@pytest.mark.parametrize("field", ["time", "cpu_time"])
@pytest.mark.parametrize("seconds", [-1.0, math.inf])
def test_tell_refuses_a_negative_or_endless_duration(
    space: ConfigurationSpace, field: str, seconds: float
) -> None:
    """smac.stats["target_time"] went negative or NaN with such times (an audit's finding);
    NaN stays: a time not known. A TrialValue holds them, as a stored history may."""
    smac = SMAC(scenario(space), progress=False)
    info = smac.ask()
    with pytest.raises(TrialError, match=f"value.{field} must be a duration"):
        smac.tell(info, TrialValue(cost=1.0, **{field: seconds}))
    smac.tell(info, TrialValue(cost=1.0, **{field: math.nan}))
    assert smac.stats["target_time"] == 0.0 and smac.runhistory.n_finished == 1


def test_tell_takes_a_budget_off_by_rounding_as_the_intensifiers_own(
    space: ConfigurationSpace,
) -> None:
    """Hyperband's budgets are computed by division: 100/3 told a rounding off is the same
    stage; 50, between its budgets, is none."""
    smac = SMAC(scenario(space, min_budget=100 / 9, max_budget=100), preset="hyperband")
    info = TrialInfo(space.get_default_configuration(), seed=0, budget=50.0)
    with pytest.raises(
        TrialError, match=r"runs trials at \(11.1111111111111, 33.3333333333333, 100\); got 50.0"
    ):
        smac.tell(info, TrialValue(cost=0.0))
    smac.tell(  # as the message shows it (3 digits less, "33.3333", was refused)
        TrialInfo(space.get_default_configuration(), seed=1, budget=33.3333333333333),
        TrialValue(cost=0.0),
    )
    budget = 100 / 3
    info = TrialInfo(space.get_default_configuration(), seed=0, budget=budget * (1 + 1e-15))
    assert info.budget != budget
    smac.tell(info, TrialValue(cost=0.0))
    assert [k.budget for k, _ in smac.runhistory.items()] == [budget, budget]


class Recorder(Callback):
    def __init__(self, stop_after: int) -> None:
        self.events: list[str] = []
        self.stop_after = stop_after

    def on_start(self, smac: SMAC) -> None:
        self.events.append("start")

    def on_end(self, smac: SMAC) -> None:
        self.events.append("end")

    def on_ask_start(self, smac: SMAC) -> None:
        self.events.append("ask")

    def on_ask_end(self, smac: SMAC, info: TrialInfo) -> None:
        self.events.append("asked")

    def on_tell_start(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
        self.events.append("tell")

    def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> bool | None:
        self.events.append("told")
        return smac.runhistory.n_finished < self.stop_after


def test_a_second_optimize_of_one_object_warns_that_it_runs_nothing(
    space: ConfigurationSpace,
) -> None:
    """As Optuna's study.optimize(n_trials=10) runs 10 more each call, a user may expect a
    second optimize() to go on; n_trials counts the run's trials."""
    smac = SMAC(Scenario(space, n_trials=4, output_directory=None), lambda c, seed: 1.0)
    smac.optimize()
    with pytest.warns(UserWarning, match=r"optimize\(\): run .* has finished its n_trials=4"):
        smac.optimize()
    assert smac.runhistory.n_finished == 4


def test_callbacks_run_in_order_and_can_stop(space: ConfigurationSpace, caplog: Any) -> None:
    cb = Recorder(stop_after=3)
    smac = SMAC(scenario(space, n_trials=50), quadratic, callbacks=[cb], progress=False)
    with caplog.at_level("INFO", logger="smacx"):
        smac.optimize()
    assert smac.runhistory.n_finished == 3
    assert cb.events == ["start"] + ["ask", "asked", "tell", "told"] * 3 + ["end"]
    assert "Stopping: the on_tell_end of callback" in caplog.text  # as for the other reasons


class FailsAtTheEnd(Callback):
    def on_end(self, smac: SMAC) -> None:
        raise RuntimeError("a bug in my plotting")


def test_a_callback_that_fails_at_the_end_hides_no_error_and_no_other_callback(
    space: ConfigurationSpace, caplog: Any
) -> None:
    """Its error took the place of a TargetCrashedError, and the callbacks after it and the
    summary were skipped (an audit's finding). It is logged, and raised when optimize() has
    no error of its own."""

    def broken(config: Configuration) -> float:
        raise ZeroDivisionError("a bug in the target")

    for target, raised in ((broken, TargetCrashedError), (quadratic, RuntimeError)):
        after = Recorder(stop_after=100)
        sc = scenario(space, n_trials=3)
        smac = SMAC(sc, target, callbacks=[FailsAtTheEnd(), after], progress=False)
        caplog.clear()
        with caplog.at_level("INFO", logger="smacx"), pytest.raises(raised):
            smac.optimize()
        assert after.events[-1] == "end"
        assert "on_end of callback" in caplog.text and "a bug in my plotting" in caplog.text
        assert "trials:" in caplog.text  # the summary


def test_first_crash_raises_with_traceback(space: ConfigurationSpace) -> None:
    def broken(config: Configuration) -> float:
        raise ZeroDivisionError("a bug in the target")

    with pytest.raises(TargetCrashedError, match="(?s)first trial.*in broken.*ZeroDivisionError"):
        SMAC(scenario(space, n_trials=5), broken, progress=False).optimize()


def test_first_crash_is_told_once(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """The crash is recorded before the error is raised: closing the run afterwards has no
    result left to tell (it logged one as late and recorded already)."""
    smac = SMAC(scenario(space, n_trials=5), broken_target, progress=False)
    with caplog.at_level("INFO", logger="smacx"):
        with pytest.raises(TargetCrashedError):
            smac.optimize()
        smac.close()
    assert "Dropping a late result" not in caplog.text
    [(_, value)] = list(smac.runhistory.items())
    assert value.status is StatusType.CRASHED


def test_a_trial_told_twice_keeps_its_first_result_and_says_so(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """The second result was dropped with a line at INFO, which nobody saw (Optuna raises)."""
    smac = SMAC(scenario(space, n_trials=5))
    info = smac.ask()
    smac.tell(info, TrialValue(cost=1.0))
    with caplog.at_level("WARNING", logger="smacx"):
        smac.tell(info, TrialValue(cost=2.0))
    assert "was told already (SUCCESS, cost 1.0); this second result is dropped" in caplog.text
    assert [v.cost for _, v in smac.runhistory.items()] == [1.0]
    # a trial retired as overdue, whose result comes late, was told once (a review's finding)
    retiring = SMAC(
        scenario(space, n_trials=5, deterministic=True),
        intensifier=Intensifier(pending_config_timeout=0.2),
    )
    late = retiring.ask()
    time.sleep(0.5)
    retiring.ask()  # (retires it)
    caplog.clear()
    with caplog.at_level("WARNING", logger="smacx"):
        retiring.tell(late, TrialValue(cost=1.0))
    assert "was told already" not in caplog.text
    # ... but its result is dropped, which the caller of tell() hears of (it was at INFO)
    assert "has a result already (RETIRED" in caplog.text
    assert "given up after pending_config_timeout); the result told now is dropped" in caplog.text
    caplog.clear()  # once per object (warm-start results told again at every resume)
    with caplog.at_level("WARNING", logger="smacx"):
        retiring.tell(late, TrialValue(cost=1.0))
    assert "has a result already" not in caplog.text


def broken_target(config: Configuration) -> float:
    raise ZeroDivisionError("a bug in the target")


def test_first_crash_raises_in_every_process_until_a_trial_of_the_run_works(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Each process sharing a run (here: each SMAC on it, one after the other) stops at its
    first trial's crash while no trial of the run has worked: an audit's third worker, whose
    first result came after the others' crashes, spent the whole budget on a broken command."""
    sc = scenario(space, tmp_path, n_trials=10, name="fixed")  # (a run of both targets)
    for _ in range(2):
        smac = SMAC(sc, broken_target, progress=False)
        with pytest.raises(TargetCrashedError, match="first trial"):
            smac.optimize()
        smac.close()
    smac = SMAC(sc, quadratic, progress=False)  # the bug fixed
    assert smac.optimize() is not None
    assert smac.runhistory.status_counts() == {"CRASHED": 2, "SUCCESS": 8}
    smac.close()
    # Once a trial has worked, a crash is the configuration's: recorded, and the run goes on.
    smac = SMAC(dataclasses.replace(sc, n_trials=12), broken_target, progress=False)
    smac.optimize()
    assert smac.runhistory.status_counts() == {"CRASHED": 4, "SUCCESS": 8}


def test_a_first_crash_after_another_process_succeeded_is_recorded(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Another process sharing the run stored successes while this one's first trial ran:
    its crash is then a configuration's, not the target's (a review's finding: the check
    read the history as it was when the trial started)."""
    sc = scenario(space, tmp_path, n_trials=4, name="shared")
    with SMAC(sc, quadratic, progress=False) as other:
        calls: list[Configuration] = []

        def first_crashes_once_the_other_succeeded(config: Configuration) -> float:
            calls.append(config)
            if len(calls) > 1:
                return quadratic(config)
            for _ in range(2):  # the other process's trials, while this one runs
                info = other.ask()
                other.tell(info, TrialValue(cost=quadratic(info.config)))
            raise RuntimeError("this configuration fails")

        with SMAC(sc, first_crashes_once_the_other_succeeded, progress=False) as smac:
            smac.optimize()
            assert smac.runhistory.status_counts() == {"SUCCESS": 3, "CRASHED": 1}


def test_a_run_that_ends_with_no_trial_succeeded_says_how_to_start_afresh(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A broken target spent the budget (raise_on_first_crash=False): resuming with the bug
    fixed runs nothing and returns None, so optimize() warns and names the way out."""
    sc = scenario(space, tmp_path, n_trials=3, name="crashes")
    smac = SMAC(sc, broken_target, progress=False, raise_on_first_crash=False)
    with pytest.warns(UserWarning, match=r"without an incumbent.*3 finished.*3 CRASHED"):
        assert smac.optimize() is None
    smac.close()
    smac = SMAC(sc, quadratic, progress=False)
    with pytest.warns(UserWarning) as warned:
        assert smac.optimize() is None
    assert [str(w.message).split(":")[0] for w in warned] == [
        "run 'crashes' has finished its n_trials=3 trials already",
        "optimize() ended without an incumbent",
    ]
    assert all("overwrite=True" in str(w.message) for w in warned)
    smac.close()
    smac = SMAC(sc, quadratic, progress=False, overwrite=True)
    assert smac.optimize() is not None


def test_crashes_are_recorded_and_the_run_goes_on(space: ConfigurationSpace) -> None:
    def flaky(config: Configuration) -> Any:
        return math.nan if config["x"] > 0 else "oops" if config["y"] > 3 else quadratic(config)

    smac = SMAC(scenario(space, n_trials=40), flaky, progress=False, raise_on_first_crash=False)
    smac.optimize()
    counts = smac.runhistory.status_counts()
    assert smac.runhistory.n_finished == 40 and counts["CRASHED"] > 0 and counts["SUCCESS"] > 0
    assert smac.incumbent is not None and smac.incumbent["x"] <= 0


@pytest.mark.parametrize("deterministic", [True, False])
def test_costs_near_the_largest_float_do_not_stop_the_run(
    space: ConfigurationSpace, deterministic: bool
) -> None:
    """Finite costs of +-9e307 overflowed a mean or a span to inf inside the model, and every
    later proposal failed (a fuzzing audit's finding)."""
    costs = iter([9e307, -9e307, 1.0] * 10)
    sc = scenario(space, n_trials=25, deterministic=deterministic)
    smac = SMAC(sc, lambda config, seed: next(costs), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (numpy's, of the overflows)
        smac.optimize()
    assert smac.runhistory.status_counts() == {"SUCCESS": 25}
    assert smac.incumbent_cost is not None and smac.incumbent_cost < 0


def test_termination_cost_threshold_stops_early(space: ConfigurationSpace) -> None:
    smac = SMAC(
        scenario(space, n_trials=500, termination_cost_threshold=5.0), quadratic, progress=False
    )
    incumbent = smac.optimize()
    assert incumbent is not None and quadratic(incumbent) <= 5.0
    assert smac.runhistory.n_finished < 500


@pytest.mark.parametrize(("threshold", "stops"), [(0.3, False), (0.9, True)])
def test_termination_cost_threshold_counts_a_cost_on_every_instance(
    threshold: float, stops: bool
) -> None:
    """Cost x + i/10 on instance i of 0..8: every configuration is below 0.3 on i0, and its
    mean over all nine is x + 0.4. The run stops only on that mean."""
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    instances = [f"i{i}" for i in range(9)]
    sc = Scenario(cs, instances=instances, n_trials=60, deterministic=True, seed=1,
                  termination_cost_threshold=threshold, output_directory=None)  # fmt: skip
    smac = SMAC(sc, lambda config, instance: config["x"] + int(instance[1:]) / 10, progress=False)
    smac.optimize()
    assert (smac.runhistory.n_finished < 60) is stops
    if stops:
        assert len(smac.intensifier.incumbent_keys()) == 9
        assert smac.incumbent_cost is not None and smac.incumbent_cost <= threshold


def test_termination_cost_threshold_of_several_objectives_takes_any_front_member(
    space: ConfigurationSpace,
) -> None:
    """f1 = x + 5, f2 = 5 - x: every configuration is on the front; the run stops at the
    first trial with x <= -4 (at or below [1, 10]), whichever member ranks first."""

    def target(config: Configuration) -> dict[str, float]:
        return {"f1": config["x"] + 5, "f2": 5 - config["x"]}

    smac = SMAC(
        scenario(space, objectives=["f1", "f2"], n_trials=200, termination_cost_threshold=[1, 10]),
        target,
        preset="random",
        progress=False,
    )
    smac.optimize()
    xs = [smac.runhistory.get_config(k.config_id)["x"] for k in smac.runhistory.finished_since(0)]
    first = next(i for i, x in enumerate(xs) if x <= -4)
    assert len(xs) == first + 1
    assert any(c["x"] <= -4 for c in smac.incumbents)
    # -inf is no threshold, in one objective too: [-inf, 6] stops at the first x >= -1 (it
    # was a threshold never met, a multi-objective audit's finding)
    smac = SMAC(
        scenario(
            space, objectives=["f1", "f2"], n_trials=200, termination_cost_threshold=[-math.inf, 6]
        ),
        target,
        preset="random",
        progress=False,
    )
    smac.optimize()
    xs = [smac.runhistory.get_config(k.config_id)["x"] for k in smac.runhistory.finished_since(0)]
    assert len(xs) == next(i for i, x in enumerate(xs) if x >= -1) + 1 < 200


def test_a_finished_run_reopened_with_more_incumbents_shows_its_whole_front(
    tmp_path: Path,
) -> None:
    """The front is cut to max_incumbents=10; reopening the run with more was refused as
    another intensifier, so its whole front could not be read (a multi-objective audit's
    finding). Only max_incumbents may change."""

    def target(config: Configuration) -> list[float]:
        return [config["x"], 1 - config["x"] ** 0.5 + 0.2 * config["y"]]

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    sc = scenario(space, tmp_path, objectives=["f1", "f2"], n_trials=60)
    with SMAC(sc, target, preset="random", progress=False) as smac:
        smac.optimize()
        assert len(smac.incumbents) == 10
    more = Intensifier(max_incumbents=1000)
    with SMAC(sc, preset="random", intensifier=more) as reopened:
        front = reopened.incumbents
        costs = np.array([v.costs() for _, v in reopened.runhistory.finished()])
        ids = [
            reopened.runhistory.get_config_id(i.config) for i, _ in reopened.runhistory.finished()
        ]
    dominated = [
        any((o <= c).all() and (o < c).any() for o in costs) for c in costs
    ]  # (brute force)
    expected = {i for i, d in zip(ids, dominated) if not d}
    assert len(expected) > 10
    assert {reopened.runhistory.get_config_id(c) for c in front} == expected
    with pytest.raises(ScenarioMismatchError, match="holds a run made with intensifier"):
        SMAC(sc, preset="random", intensifier=Intensifier(max_config_calls=2))


def test_walltime_limit_stops_early(space: ConfigurationSpace) -> None:
    import time

    def slow(config: Configuration) -> float:
        time.sleep(0.02)
        return quadratic(config)

    smac = SMAC(scenario(space, n_trials=10_000, walltime_limit=0.3), slow, progress=False)
    smac.optimize()
    assert 3 <= smac.runhistory.n_finished < 100


def test_a_run_without_n_trials_ends_at_its_walltime_limit(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """n_trials=None: the run goes on until the time is spent (Optuna's timeout), and a
    continued run with n_trials set stops at that count."""
    import time

    def slow(config: Configuration) -> float:
        time.sleep(0.01)
        return quadratic(config)

    sc = scenario(space, tmp_path, name="timed", n_trials=None, walltime_limit=0.6)
    started = time.monotonic()
    with SMAC(sc, slow) as smac:  # (the progress bar counts without a total)
        assert smac.optimize() is not None
        n = smac.runhistory.n_finished
    assert 0.6 <= time.monotonic() - started < 10 and n > 10  # (the design alone holds 10)
    with SMAC(dataclasses.replace(sc, n_trials=n + 3, walltime_limit=60), slow) as smac:
        smac.optimize()
        assert smac.runhistory.n_finished == n + 3


def test_cputime_limit_stops_early(space: ConfigurationSpace) -> None:
    import time

    def busy(config: Configuration) -> float:
        end = time.process_time() + 0.02
        while time.process_time() < end:
            pass
        return quadratic(config)

    s = scenario(space, n_trials=10_000, cputime_limit=0.5)
    smac = SMAC(s, busy, preset="random", progress=False)
    smac.optimize()
    assert 3 <= smac.runhistory.n_finished < 200


def test_the_time_limits_count_every_optimize_call_and_resume(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Each optimize() started walltime_limit and cputime_limit afresh, so a run resumed after
    a kill had no cap on its total time (an audit's finding; SMAC3 restores the time used)."""

    def slow(config: Configuration) -> float:
        time.sleep(0.02)
        return quadratic(config)

    sc = scenario(space, tmp_path, n_trials=10_000, walltime_limit=0.5)
    with SMAC(sc, slow, progress=False) as smac:
        smac.optimize()
        first = smac.runhistory.n_finished
        assert 3 <= first < 100
        smac.optimize()  # the same object again
        assert smac.runhistory.n_finished == first
    with SMAC(sc, slow, progress=False) as smac:  # resumed
        smac.optimize()
        assert smac.runhistory.n_finished == first
    started = time.monotonic()
    with SMAC(dataclasses.replace(sc, walltime_limit=1.0), slow, progress=False) as smac:
        smac.optimize()  # half a second more
        assert smac.runhistory.n_finished > first
    assert 0.4 < time.monotonic() - started < 5

    def busy(config: Configuration) -> float:
        end = time.process_time() + 0.02
        while time.process_time() < end:
            pass
        return quadratic(config)

    sc = scenario(space, tmp_path, name="cpu", n_trials=10_000, cputime_limit=0.5)
    with SMAC(sc, busy, preset="random", progress=False) as smac:
        smac.optimize()
        first = smac.runhistory.n_finished
        assert 3 <= first < 200
    with SMAC(sc, busy, preset="random", progress=False) as smac:
        smac.optimize()
        assert smac.runhistory.n_finished == first


KILLED_MID_RUN = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
def slow(config):
    with open(sys.argv[2], "a") as calls:
        calls.write(f"{time.time()}\\n")
    time.sleep(0.05)
    return config["x"] ** 2
space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
scenario = Scenario(space, n_trials=10_000, walltime_limit=60, output_directory=sys.argv[1])
SMAC(scenario, slow, progress=False).optimize()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGKILL there")
def test_the_walltime_of_a_killed_process_counts_when_the_run_resumes(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    process = subprocess.Popen([sys.executable, "-c", KILLED_MID_RUN, str(tmp_path), str(calls)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # 2.5 s of trials
            times = [float(t) for t in calls.read_text().split()] if calls.exists() else []
            if times and times[-1] - times[0] > 2.5:
                break
            time.sleep(0.05)
        process.kill()
    finally:
        process.wait(timeout=30)
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    # the record is at most a second old: at least 1.5 s were spent
    sc = Scenario(space, n_trials=10_000, walltime_limit=1.2, output_directory=tmp_path)
    with SMAC(sc, lambda config: 0.0, progress=False) as smac:
        before = smac.runhistory.n_finished
        assert before > 10
        smac.optimize()
        assert smac.runhistory.n_finished == before


def test_a_session_writes_its_time_during_a_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial run in this process wrote no record of the time spent, so a session on another
    host took this one for dead a lease after its last write (and one that joined then ran
    past walltime_limit, a batch-system audit's finding): the record's own thread writes it
    every _BEAT seconds, and stops with the call."""
    from smacx.session import SPENT

    monkeypatch.setattr(session_module.Spent, "_BEAT", 0.05)
    seen: list[tuple[float, float]] = []

    def target(config: Configuration, seed: int = 0) -> float:
        for _ in range(2):
            record = json.loads(smac.runhistory.storage.get_meta(SPENT + session) or "{}")
            seen.append((record["written"], record["wall"][-1][1]))
            time.sleep(0.3)
        return 1.0

    space = ConfigurationSpace({"x": (0.0, 1.0)})
    run = Scenario(space, n_trials=1, output_directory=tmp_path, deterministic=True)
    smac = SMAC(run, target)
    session = json.loads(smac.runhistory.storage.get_meta(session_module.SESSIONS) or "[]")[-1]
    before = set(threading.enumerate())
    smac.optimize()
    (written_then, end_then), (written_later, end_later) = seen
    assert written_later - written_then >= 0.2 and end_later - end_then >= 0.2
    time.sleep(0.2)
    assert not [t for t in set(threading.enumerate()) - before if t.name == "smacx-spent"]
    record = json.loads(smac.runhistory.storage.get_meta(SPENT + session) or "{}")
    assert record["open"] is False


def test_validate_averages_over_seeds(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space, deterministic=False), lambda config, seed: float(seed % 2))
    mean = smac.validate(space.get_default_configuration(), seeds=[1, 2, 3, 5])
    assert mean == pytest.approx(0.75)
    assert smac.runhistory.n_finished == 0  # validation trials stay out of the history
    # (finite costs near the largest float: their mean overflowed to inf)
    huge = SMAC(
        scenario(space, deterministic=False), lambda config, seed: 1e308 * (1 + seed % 2 / 2)
    )
    assert huge.validate(space.get_default_configuration(), seeds=[1, 2]) == pytest.approx(1.25e308)


def test_resume_continues_and_counts_finished(space: ConfigurationSpace, tmp_path: Path) -> None:
    first = SMAC(scenario(space, tmp_path, n_trials=10), quadratic, progress=False)
    first.optimize()
    trajectory = first.trajectory
    first.close()
    second = SMAC(scenario(space, tmp_path, n_trials=25), quadratic, progress=False)
    assert second.runhistory.n_finished == 10
    assert second.trajectory == trajectory != []  # stored with the run
    second.optimize()
    assert second.runhistory.n_finished == 25
    assert len(second.runhistory.get_configs()) == 25  # no configuration evaluated twice


def test_a_run_continued_with_more_trials_draws_no_new_design_points(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A larger n_trials sizes a larger design, whose points the first start did not draw; a
    run that went past its design skips them (an audit's run continued from 160 to 200
    trials spent 12 of its 40 on them), but still evaluates configurations the user gives."""

    def origins(smac: SMAC) -> Counter[str]:
        return Counter(smac.runhistory.get_origin(c) for c in smac.runhistory.get_configs())

    with SMAC(scenario(space, tmp_path, n_trials=30), quadratic, progress=False) as first:
        first.optimize()
        assert origins(first)["initial design"] == len(first.selector.initial_design) == 6
    given = {"x": 1.0, "y": -2.0}
    design = InitialDesign(additional_configs=[given])
    with SMAC(
        scenario(space, tmp_path, n_trials=80), quadratic, initial_design=design, progress=False
    ) as second:
        assert len(second.selector.initial_design) == 8  # 1 given + 7 drawn, 1 of them new
        second.optimize()
        assert second.runhistory.n_finished == 80
        assert origins(second)["initial design"] == 7  # the first start's 6, and the given one
        assert second.runhistory.get_cost(Configuration(space, values=given)) == 0.0


def test_results_told_before_a_run_stand_for_as_many_design_points(
    space: ConfigurationSpace,
) -> None:
    """200 results told before optimize() were followed by the 10 points of a fresh initial
    design (a warm-start audit): told results count towards it, as Optuna's TPE counts added
    trials towards its random start. Configurations the user gives are still run."""
    rng = np.random.default_rng(0)

    def told(smac: SMAC, n: int) -> None:
        for _ in range(n):
            values = {"x": float(rng.uniform(-5, 5)), "y": float(rng.uniform(-5, 5))}
            config = Configuration(space, values=values)
            smac.tell(TrialInfo(config), TrialValue(cost=quadratic(config)))

    given = {"x": 1.0, "y": -2.0}
    design = InitialDesign(n_configs=8, additional_configs=[given])  # 1 given, 7 drawn
    for n_told, designed in ((3, 1 + 4), (7, 1), (20, 1)):
        with SMAC(scenario(space, n_trials=40), initial_design=design, progress=False) as smac:
            told(smac, n_told)
            origins = [smac.ask().config.origin for _ in range(12)]
        assert origins[:designed] == ["initial design"] * designed, (n_told, origins)
        assert "initial design" not in origins[designed:], (n_told, origins)
    # their times are not this session's time in the target (20 results of 600 s made
    # summary() say 12,000 s for a run of a second); a trial asked and told is
    with SMAC(scenario(space, n_trials=40), progress=False) as smac:
        config = Configuration(space, values={"x": 0.5, "y": 0.5})
        smac.tell(TrialInfo(config), TrialValue(cost=1.0, time=600.0))
        info = smac.ask()
        smac.tell(info, TrialValue(cost=2.0, time=2.0))
        assert smac.stats["target_time"] == 2.0


def test_a_run_stopped_within_its_design_continues_it(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    design = InitialDesign(n_configs=8)
    with pytest.warns(UserWarning, match="initial design holds 8"):
        first = SMAC(
            scenario(space, tmp_path, n_trials=4), quadratic, initial_design=design, progress=False
        )
    with first:
        first.optimize()
    with SMAC(
        scenario(space, tmp_path, n_trials=12), quadratic, initial_design=design, progress=False
    ) as second:
        second.optimize()
        origins = [second.runhistory.get_origin(c) for c in second.runhistory.get_configs()]
    assert origins[:8] == ["initial design"] * 8 and "initial design" not in origins[8:]


def test_reading_the_whole_front_of_a_run_leaves_its_trajectory_alone(tmp_path: Path) -> None:
    """usage.rst reads a finished run's whole front with a larger max_incumbents: the object
    built for it stored a change of the front to 30 members that never happened."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = scenario(space, tmp_path, n_trials=30, objectives=["a", "b"], name="mo")

    def target(config: Configuration, seed: int) -> dict[str, float]:
        return {"a": config["x"], "b": (1 - config["x"]) ** 2}  # every point on the front

    with SMAC(sc, target, progress=False) as run:
        run.optimize()
        stored = run.runhistory.trajectory()
    with SMAC(sc, intensifier=Intensifier(max_incumbents=1000)) as reader:
        assert len(reader.incumbents) == 30
    with SMAC(sc) as reader:
        assert reader.runhistory.trajectory() == stored


def test_the_trajectorys_walltime_runs_on_over_ask_tell_and_continued_runs(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """It was 0.0 for every entry of an ask/tell run, and restarted at each optimize()."""
    sc = scenario(space, tmp_path, n_trials=6)
    first = SMAC(sc, progress=False)
    for cost in (3.0, 2.0, 1.0):  # every result a new incumbent
        info = first.ask()
        time.sleep(0.05)
        first.tell(info, TrialValue(cost=cost))
    walltimes = [e["walltime"] for e in first.trajectory]
    assert len(walltimes) == 3 and 0.05 <= walltimes[0] < walltimes[1] < walltimes[2]
    first.close()
    time.sleep(0.05)
    second = SMAC(sc, lambda config, seed: -1.0 - config["x"] ** 2, progress=False)
    second.optimize()
    later = [e["walltime"] for e in second.trajectory[3:]]
    assert later and later[0] > walltimes[-1] + 0.05  # counts on from the stored start
    assert later == sorted(later)


def test_a_run_continues_with_the_intensifier_it_was_started_with(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Continuing without intensifier= takes the stored settings (as docs/usage.rst says);
    other settings given explicitly are refused."""
    racing = Intensifier(max_config_calls=5, min_samples_per_config=2)
    first = SMAC(scenario(space, tmp_path, n_trials=6, deterministic=False), intensifier=racing)
    for _ in range(6):
        info = first.ask()
        first.tell(info, TrialValue(cost=quadratic(info.config)))
    first.close()
    more = scenario(space, tmp_path, n_trials=12, deterministic=False)
    second = SMAC(more, quadratic, progress=False)
    assert second.intensifier.settings == racing  # type: ignore[attr-defined]
    second.optimize()
    assert second.runhistory.n_finished == 12
    second.close()
    with pytest.raises(ScenarioMismatchError, match=r"max_config_calls=5.*not Intensifier\("):
        SMAC(more, quadratic, intensifier=Intensifier())


def test_intensifier_settings_are_read_back_only_from_literal_records() -> None:
    assert facade_module._settings_from_repr(repr(Hyperband(eta=2))) == Hyperband(eta=2)
    for record in (
        "Intensifier(max_config_calls=__import__('os').getpid())",
        "MyRacing(k=1)",
        "Intensifier(5)",
        "Intensifier(max_config_calls=0)",  # refused by Intensifier itself
        "Intensifier(",
    ):
        assert facade_module._settings_from_repr(record) is None


def test_different_scenario_in_same_directory_raises(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    SMAC(scenario(space, tmp_path, name="exp", seed=1), quadratic).close()
    with pytest.raises(ScenarioMismatchError, match="seed: stored 1, given 2") as caught:
        SMAC(scenario(space, tmp_path, name="exp", seed=2), quadratic)
    # (another name or folder is another run, not a continued one)
    assert "'name'" not in str(caught.value) and "'n_trials'" in str(caught.value)
    assert "(its trials are deleted)" in str(caught.value)
    # and how to reuse its results in a run of another name (a warm-start audit)
    assert "; to start that one from this run's results, tell() it the trials of `smacx show " in (
        str(caught.value)
    )
    wider = ConfigurationSpace({"x": (-5.0, 6.0), "y": (-5.0, 5.0)}, seed=0)
    with pytest.raises(ScenarioMismatchError, match=r"configspace \('x': .*upper 5.0 -> 6.0\)"):
        SMAC(scenario(wider, tmp_path, name="exp", seed=1), quadratic)
    smac = SMAC(scenario(space, tmp_path, name="exp", seed=2), quadratic, overwrite=True)
    assert smac.runhistory.n_finished == 0
    # the objectives first, without the crash cost whose length follows from them (the
    # message led with "crash_cost: 1 stored, 2 given")
    with pytest.raises(
        ScenarioMismatchError, match=r"scenario: objectives: no longer given 'cost', new 'a', 'b'"
    ) as err:
        SMAC(scenario(space, tmp_path, name="exp", seed=2, objectives=["a", "b"]))
    assert "crash_cost" not in str(err.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda i: [*i, "inst_030.cnf"], r"instances: new 'inst_030.cnf' \(30 stored, 31 given\)"),
        (lambda i: i[1:], r"instances: no longer given 'inst_000.cnf' \(30 stored, 29 given\)"),
        (lambda i: i[::-1], r"first difference at position 0: stored \['inst_000.cnf'"),
    ],
)
def test_a_changed_instance_list_is_named_by_what_changed(
    space: ConfigurationSpace, tmp_path: Path, change: Any, expected: str
) -> None:
    """Two reprs of 30 long instance names cut at the same length looked alike."""
    instances = [f"inst_{k:03d}.cnf" for k in range(30)]
    features = {name: [float(k)] for k, name in enumerate(instances)}
    sc = scenario(space, tmp_path, name="exp", instances=instances, instance_features=features)
    SMAC(sc).close()
    changed = change(instances)
    with pytest.raises(ScenarioMismatchError, match=expected):
        SMAC(
            dataclasses.replace(
                sc, instances=changed, instance_features={n: [0.0] for n in changed}
            )
        )
    features["inst_004.cnf"] = [-1.0]
    with pytest.raises(ScenarioMismatchError, match=r"changed 'inst_004.cnf' \(.*\[4.0\] -> "):
        SMAC(dataclasses.replace(sc, instance_features=features))


def sleeps_at_the_edge(config: Configuration, seed: int) -> float:
    import time

    if config["x"] > 0:
        time.sleep(3)
    return quadratic(config)


@pytest.mark.slow
def test_a_named_run_continues_with_other_trial_limits(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Raising trial_walltime_limit after trials timed out (or adding a memory limit after a
    trial hung) refused to continue the run, so every result had to go (two audits'
    findings): the limits may change; the trials that ended under the old ones stay so."""
    design = InitialDesign(
        n_configs=2, additional_configs=[{"x": 4.0, "y": 0.0}, {"x": -4.0, "y": 0.0}]
    )
    short = scenario(space, tmp_path, name="exp", n_trials=2, trial_walltime_limit=1)
    SMAC(short, sleeps_at_the_edge, initial_design=design, progress=False).optimize()
    longer = scenario(
        space, tmp_path, name="exp", n_trials=3, trial_walltime_limit=10, trial_memory_limit=4000
    )
    with caplog.at_level("INFO", logger="smacx"):
        smac = SMAC(longer, sleeps_at_the_edge, initial_design=design, progress=False)
    assert re.search(r"trial_walltime_limit=10(\.0)? \(was 1(\.0)?\)", caplog.text)
    assert re.search(r"trial_memory_limit=4000(\.0)? \(was None\)", caplog.text)
    smac.optimize()
    statuses = sorted(v.status.name for _, v in smac.runhistory.items())
    assert statuses == ["SUCCESS", "SUCCESS", "TIMEOUT"]
    smac.close()
    with pytest.raises(ScenarioMismatchError, match=r"deterministic: stored True, given False"):
        SMAC(scenario(space, tmp_path, name="exp", deterministic=False), quadratic)


@pytest.mark.parametrize(
    "damage",
    ["UPDATE meta SET value = '[1' WHERE key = 'scenario'", "UPDATE trials SET status = 42"],
)
def test_a_damaged_run_says_so_and_overwrite_starts_afresh(
    space: ConfigurationSpace, tmp_path: Path, damage: str
) -> None:
    import sqlite3

    sc = scenario(space, tmp_path, name="exp", n_trials=3)
    with SMAC(sc, quadratic, progress=False) as smac:
        smac.optimize()
    with sqlite3.connect(sc.output_path / facade_module.DATABASE_NAME) as conn:
        conn.execute(damage)
    conn.close()
    with pytest.raises(StorageError, match="cannot read .*exp.* damaged"):
        SMAC(sc, quadratic, progress=False)
    with SMAC(sc, quadratic, progress=False, overwrite=True) as smac:
        smac.optimize()
        assert smac.runhistory.status_counts() == {"SUCCESS": 3}


def test_overwrite_never_takes_a_locked_run_for_a_damaged_one(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged run has no live owners and may be overwritten; one that another process
    holds locked past the timeout has, and must not be deleted under it."""
    import sqlite3

    from smacx.storage.sqlite import SQLiteStorage

    sc = scenario(space, tmp_path, name="exp", n_trials=2)
    with SMAC(sc, quadratic, progress=False) as smac:
        smac.optimize()
    database = sc.output_path / facade_module.DATABASE_NAME

    def locked(self: SQLiteStorage, after: int) -> Any:
        with self._reading("the trials"):
            raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(SQLiteStorage, "read_trials", locked)
    with pytest.raises(StorageError, match="locked"):
        SMAC(sc, quadratic, progress=False, overwrite=True)
    with contextlib.closing(sqlite3.connect(database)) as conn:  # the run is still there
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 2

    def damaged(self: SQLiteStorage, after: int) -> Any:
        with self._reading("the trials"):
            raise ValueError("not JSON")

    monkeypatch.setattr(SQLiteStorage, "read_trials", damaged)
    assert session_module.live_owners(database) == []


def test_a_run_stored_with_configspaces_version_continues(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs stored before smacx left ConfigSpace's version out of a scenario's identity, and
    runs of another ConfigSpace version, are continued (and keep their name)."""
    unnamed = scenario(space, tmp_path, n_trials=3).run_name
    serialize = ConfigurationSpace.to_serialized_dict
    monkeypatch.setattr(
        ConfigurationSpace,
        "to_serialized_dict",
        lambda self: {**serialize(self), "python_module_version": "9.9.9"},
    )
    assert scenario(space, tmp_path, n_trials=3).run_name == unnamed  # after an upgrade
    monkeypatch.undo()
    sc = scenario(space, tmp_path, name="exp", n_trials=3)
    _continued_after_editing_its_scenario(
        sc, lambda stored: stored["configspace"].update(python_module_version="0.6.1")
    )


def _continued_after_editing_its_scenario(sc: Scenario, edit: Any) -> None:
    """Store a run of ``sc``, change its stored scenario with ``edit`` (of the JSON dict), and
    check that ``sc`` continues it."""
    import json

    from smacx.storage.sqlite import SQLiteStorage

    SMAC(sc, quadratic, progress=False).close()
    storage = SQLiteStorage(sc.output_path / facade_module.DATABASE_NAME)
    stored = json.loads(storage.get_meta("scenario") or "{}")
    edit(stored)
    storage.set_meta("scenario", json.dumps(stored))
    storage.close()
    smac = SMAC(sc, quadratic, progress=False)
    smac.optimize()
    assert smac.runhistory.n_finished == 3
    smac.close()


def test_a_run_stored_with_another_order_of_an_in_clauses_values_continues(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A run stored by an earlier smacx kept an IN clause's values in the script's order (from
    a set, another order per interpreter); the same space in another order continues it."""
    from ConfigSpace import ForbiddenInClause

    cs = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0), "z": ["a", "b", "c", "d"]})
    cs.add(ForbiddenInClause(cs["z"], ["d", "b"]))

    def as_stored_before(stored: dict[str, Any]) -> None:
        assert stored["configspace"]["forbiddens"][0]["values"] == ["b", "d"]
        stored["configspace"]["forbiddens"][0]["values"] = ["d", "b"]

    _continued_after_editing_its_scenario(
        scenario(cs, tmp_path, name="exp", n_trials=3), as_stored_before
    )


def interrupted_at(call: int) -> Any:
    """``quadratic`` that raises KeyboardInterrupt (Ctrl-C) on its ``call``-th call."""
    calls = []

    def interrupted(config: Configuration) -> float:
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return quadratic(config)

    return interrupted


def test_keyboard_interrupt_keeps_finished_trials(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    sc = scenario(space, tmp_path, n_trials=20, name="interrupted")  # (a run of both targets)
    with pytest.raises(KeyboardInterrupt):
        SMAC(sc, interrupted_at(5), progress=False).optimize()
    again = SMAC(sc, quadratic, progress=False)
    assert again.runhistory.n_finished == 4 and again.runhistory.n_running == 1
    # The interrupted trial was given up, so this process (a notebook, say) runs it again
    # within the budget instead of leaving it RUNNING.
    assert again.runhistory.n_stale() == 1
    again.optimize()
    assert again.runhistory.n_finished == 20 and again.runhistory.n_running == 0


def test_optimize_again_after_an_interrupt_runs_every_trial(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space, n_trials=6), interrupted_at(3), progress=False)
    with pytest.raises(KeyboardInterrupt):
        smac.optimize()
    smac.optimize()
    counts = Counter(v.status for _, v in smac.runhistory.finished())
    assert counts == {StatusType.SUCCESS: 6} and smac.runhistory.n_running == 0


def test_a_dead_processs_trial_is_run_again_not_retired(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    from smacx.storage import TrialRecord
    from tests.test_storage import dead_owner

    racing = Intensifier(pending_config_timeout=60)
    first = SMAC(scenario(space, tmp_path, n_trials=3), quadratic, intensifier=racing)
    first.optimize()
    config = space.sample_configuration()
    key = first.runhistory.key_of(TrialInfo(config, seed=0))
    # a trial that a killed process started an hour ago
    left = TrialValue(status=StatusType.RUNNING, starttime=time.time() - 3600)
    first.runhistory.storage.claim_trial(TrialRecord(key, left, dead_owner()), time.time())
    first.close()
    again = SMAC(scenario(space, tmp_path, n_trials=3), quadratic, intensifier=racing)
    assert again.ask() == TrialInfo(config, seed=0)  # taken over: not RETIRED
    assert again.runhistory.n_stale() == 0


def test_tell_checks_the_space_and_records_nan_costs_as_crashes(
    space: ConfigurationSpace,
) -> None:
    from smacx import TrialError

    smac = SMAC(scenario(space, n_trials=10), raise_on_first_crash=False)
    other = ConfigurationSpace({"y": (0.0, 1.0)})
    with pytest.raises(TrialError, match="scenario's configspace"):
        smac.tell(TrialInfo(other.sample_configuration(), seed=0), TrialValue(cost=1.0))
    assert smac.runhistory.n_configs == 0  # nothing stored: the run stays usable
    info = smac.ask()
    smac.tell(info, TrialValue(cost=math.nan))
    (value,) = [v for _, v in smac.runhistory.finished()]
    assert value.status is StatusType.CRASHED and "non-finite" in value.additional_info["error"]
    assert not math.isnan(value.cost)  # the crash cost, not the NaN
    smac.ask()


def test_a_failure_told_without_a_cost_is_recorded_at_the_crash_cost(
    space: ConfigurationSpace,
) -> None:
    """TrialValue(status=CRASHED) was refused with two objectives (one cost, inf, for two),
    and recorded at inf, not crash_cost, with one (a multi-objective audit's finding)."""
    for objectives, crash in ((["a", "b"], [7.0, 7.0]), (["cost"], [7.0])):
        sc = scenario(space, n_trials=5, objectives=objectives, crash_cost=7.0)
        smac = SMAC(sc, raise_on_first_crash=False)
        smac.tell(smac.ask(), TrialValue(status=StatusType.CRASHED))
        [(_, value)] = smac.runhistory.finished()
        assert value.status is StatusType.CRASHED and value.costs() == crash


@pytest.mark.parametrize(
    ("status", "cost"),
    [
        (StatusType.SUCCESS, [0.1, 0.2, math.nan]),
        (StatusType.SUCCESS, [math.nan]),
        (StatusType.SUCCESS, math.inf),
        (StatusType.CRASHED, [0.1, 0.2, math.inf, 5.0]),
        (StatusType.TIMEOUT, [math.nan]),
    ],
)
def test_a_told_cost_of_the_wrong_length_is_refused_whatever_its_values(
    space: ConfigurationSpace, status: StatusType, cost: Any
) -> None:
    """With a NaN or inf among them, costs of the wrong length were recorded at crash_cost,
    their length never checked (a multi-objective audit's finding)."""
    from smacx import TrialError

    smac = SMAC(scenario(space, n_trials=5, objectives=["a", "b"]), raise_on_first_crash=False)
    info = smac.ask()
    with pytest.raises(TrialError, match=r"one cost per objective: expected 2"):
        smac.tell(info, TrialValue(cost=cost, status=status))
    smac.tell(info, TrialValue(cost=[1.0, 2.0]))  # (still asked: told right, recorded)
    assert smac.runhistory.n_finished == 1


def test_numpy_seeds_are_stored_like_ints(space: ConfigurationSpace, tmp_path: Path) -> None:
    import numpy as np

    smac = SMAC(scenario(space, tmp_path, n_trials=10))
    info = TrialInfo(space.sample_configuration(), seed=np.int64(7))
    assert type(info.seed) is int
    smac.tell(info, TrialValue(cost=1.0, time=np.float32(0.5)))
    assert smac.runhistory.n_finished == 1


def test_a_failed_construction_leaves_the_stored_run_alone(
    space: ConfigurationSpace, tmp_path: Path
) -> None:

    SMAC(scenario(space, tmp_path, n_trials=5), quadratic, progress=False).optimize()
    with pytest.raises(ScenarioError, match="model must be an object with method"):
        SMAC(scenario(space, tmp_path, n_trials=5), quadratic, model="rf", overwrite=True)  # type: ignore[arg-type]
    again = SMAC(scenario(space, tmp_path, n_trials=5), quadratic, progress=False)
    assert again.runhistory.n_finished == 5  # not wiped
    # overwrite=True with settings that do not fit the scenario: refused before the wipe
    with pytest.raises(ScenarioError, match="needs a multi-fidelity scenario"):
        SMAC(scenario(space, tmp_path, n_trials=5), quadratic, preset="hyperband", overwrite=True)
    again = SMAC(scenario(space, tmp_path, n_trials=5), quadratic, progress=False)
    assert again.runhistory.n_finished == 5
    fresh = tmp_path / "fresh"
    with pytest.raises(ScenarioError, match="needs a multi-fidelity scenario"):
        SMAC(scenario(space, fresh, n_trials=5), quadratic, intensifier=Hyperband())
    SMAC(scenario(space, fresh, n_trials=5), quadratic).optimize()  # not tied to Hyperband


def test_swappable_parts_and_arguments_are_checked_up_front(space: ConfigurationSpace) -> None:
    from smacx.models import RandomForest

    sc = scenario(space, n_trials=5)
    for kw, part in (
        ({"model": RandomForest}, "model"),
        ({"acquisition": "ei"}, "acquisition"),
        ({"maximizer": object()}, "maximizer"),
    ):
        with pytest.raises(ScenarioError, match=f"SMAC's {part} must be an object"):
            SMAC(sc, quadratic, **kw)
    with pytest.raises(ScenarioError, match="initial_design must be"):
        SMAC(sc, quadratic, initial_design=5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="callbacks must be a list"):
        SMAC(sc, quadratic, callbacks=Callback())  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="random_probability must be a number"):
        SMAC(sc, quadratic, random_probability="0.1")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="runner that runs another function"):
        SMAC(sc, quadratic, runner=SerialRunner(lambda config: 0.0, sc))
    SMAC(sc, quadratic, runner=SerialRunner(quadratic, sc))  # the same function is fine

    class Counting(Callback):
        def __init__(self) -> None:
            self.told = 0

        def on_tell_end(self, smbo: Any, info: TrialInfo, value: TrialValue) -> None:
            self.told += 1

    counting = Counting()
    smac = SMAC(sc, quadratic, callbacks=(c for c in [counting]), progress=False)
    smac.optimize()
    assert counting.told == 5  # a generator of callbacks is kept, not used up by a check
    incumbent = smac.incumbent
    assert incumbent is not None
    with pytest.raises(ScenarioError, match="instances must be a list"):
        smac.validate(incumbent, instances="ab")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="seeds must be a list of ints"):
        smac.validate(incumbent, seeds=3)  # type: ignore[arg-type]
    assert smac.validate(incumbent, seeds=iter([1, 2])) == pytest.approx(quadratic(incumbent))


def test_validate_passes_the_data_optimize_scattered(space: ConfigurationSpace) -> None:
    def target(config: Configuration, seed: int, offset: float) -> float:
        return quadratic(config) + offset

    smac = SMAC(scenario(space, n_trials=5), target, progress=False)
    incumbent = smac.optimize(data_to_scatter={"offset": 100.0})
    assert incumbent is not None
    assert smac.validate(incumbent) == pytest.approx(quadratic(incumbent) + 100.0)
    assert smac.validate(incumbent, data_to_scatter={"offset": 0.0}) == pytest.approx(
        quadratic(incumbent)
    )
    # checked as optimize() checks it, instead of crashing every trial or deep inside
    for data, message in (
        ({}, r"requires argument\(s\) \['offset'\]"),
        ({"offset": 0.0, "offest": 1.0}, r"\['offest'\] that target_fn does not take"),
        ({"offset": 0.0, "seed": 1}, r"SMAC.validate's data_to_scatter keys .* got \['seed'\]"),
        (5, "SMAC.validate's data_to_scatter must be a dict"),
    ):
        with pytest.raises(ScenarioError, match=message):
            smac.validate(incumbent, data_to_scatter=data)  # type: ignore[arg-type]


def test_validate_with_nothing_to_run_names_the_arguments(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space), quadratic)
    with pytest.raises(ScenarioError, match=r"seeds=\[\]"):
        smac.validate(space.get_default_configuration(), seeds=[])


def test_summary_counts_the_incumbents_trials_at_its_budget(space: ConfigurationSpace) -> None:
    def target(config: Configuration, seed: int, budget: float) -> float:
        return quadratic(config) + 10.0 / budget

    smac = SMAC(
        scenario(space, n_trials=13, min_budget=1, max_budget=9),  # Hyperband's first bracket
        target,
        preset="hyperband",
        progress=False,
    )
    incumbent = smac.optimize()
    assert incumbent is not None
    trials = smac.runhistory.get_trial_values(incumbent)
    at_top = [k for k in trials if k.budget == max(k.budget for k in trials)]
    assert len(at_top) < len(trials)  # promoted from lower budgets
    assert f"over {len(at_top)} trial(s)" in smac.summary()


def test_importing_off_posix_says_where_smacx_runs() -> None:
    """On Windows the import failed deep inside, on fcntl (a platforms audit)."""
    import subprocess

    code = "import os; os.name = 'nt'; import smacx"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: smacx runs on Linux and macOS (POSIX); this is 'nt'. On Windows, install "
        "it in WSL (the Windows Subsystem for Linux)."
    )


@pytest.mark.parametrize("progress", [False, True])
def test_a_run_leaves_the_start_method_unset(tmp_path: Path, progress: bool) -> None:
    """Even a disabled tqdm bar fixes multiprocessing's start method, and a later
    set_start_method("spawn") failed (a user's report); the bar shown by default in a
    terminal did the same (a platforms audit). In a fresh interpreter."""
    import subprocess

    script = tmp_path / "run.py"
    script.write_text(
        "import multiprocessing\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, Scenario\n"
        "sc = Scenario(ConfigurationSpace({'x': (0.0, 1.0)}), n_trials=3, output_directory=None)\n"
        f"SMAC(sc, lambda config, seed: 1.0, progress={progress}).optimize()\n"
        "print(multiprocessing.get_start_method(allow_none=True))\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"
    assert ("3/3" in out.stderr) is progress


def test_progress_bar_and_summary(
    space: ConfigurationSpace, capsys: pytest.CaptureFixture[str]
) -> None:
    smac = SMAC(scenario(space, n_trials=5), quadratic, progress=True)
    smac.optimize()
    assert "5/5" in capsys.readouterr().err
    text = smac.summary()
    assert "5 finished" in text and "incumbent: config" in text and "in smacx" in text


def test_the_progress_bar_counts_the_trials_of_others_sharing_the_run(
    space: ConfigurationSpace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """n_trials counts every process's trials: the bar of one of two processes stopped at
    about half while the run was complete (an audit). Another SMAC object on the run tells
    results while this one optimizes; the bar ends at 12/12."""
    sc = scenario(space, tmp_path, n_trials=12)
    other = SMAC(sc, quadratic)

    def tell_one_more(smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
        if smac.runhistory.n_finished < 10:
            theirs = other.ask()
            other.tell(theirs, TrialValue(cost=quadratic(theirs.config)))

    with SMAC(sc, quadratic, progress=True, callbacks=[tell_one_more]) as smac:
        smac.optimize()
        assert other.runhistory.n_finished < 12  # (it did tell some of them)
    assert "12/12" in capsys.readouterr().err
    other.close()


def test_the_summary_does_not_count_trials_given_up_as_running(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """After Ctrl-C the summary said "1 running" though nothing ran (an audit): a trial given
    up stays RUNNING in the history, for the next run to run again, and is said so. The
    statuses in parentheses are the finished trials' ("0 running, 1 left unfinished (RUNNING
    1, ...)" read as a contradiction)."""
    with SMAC(scenario(space, tmp_path, n_trials=5), quadratic) as smac:
        smac.optimize()
        info = smac.ask()
        assert "5 finished, 1 running (" in smac.summary()
        assert smac.runhistory.release(info)
        assert (
            "5 finished, 0 running, 1 left unfinished (they run again when the run goes on) "
            "(SUCCESS 5)\n" in smac.summary()
        )
        assert "RUNNING" not in smac.summary()


def test_the_summary_of_an_incumbent_one_seed_behind_says_why_it_leads(
    space: ConfigurationSpace,
) -> None:
    """ "b" ran all 3 seeds, "a" 2 and is better on them: a leads, and the summary said no
    configuration with a success had run on all pairs (a review): b had."""
    smac = SMAC(Scenario(space, n_trials=100, output_directory=None), progress=False)
    a, b = space.sample_configuration(2)
    for config, costs in ((b, [1.0, 1.2, 1.1]), (a, [0.5, 0.9])):
        for (instance, seed), cost in zip(smac.intensifier.keys, costs):
            smac.tell(TrialInfo(config, instance=instance, seed=seed), TrialValue(cost=cost))
    assert smac.incumbent == a and smac.incumbent_cost == pytest.approx(0.7)
    assert (
        "cost 0.7 over 2 trial(s), on 2 of 3 instance-seed pairs (better on them than "
        "configurations that ran 3; it runs the next one first)" in smac.summary()
    )


def test_a_run_without_stderr_shows_no_bar(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sys.stderr is None in a GUI application's process and in one started with stderr
    closed (``2>&-``): SMAC() raised AttributeError on its isatty (an audit)."""
    monkeypatch.setattr(sys, "stderr", None)
    for progress in (None, True):
        smac = SMAC(scenario(space, n_trials=3), quadratic, progress=progress)
        assert smac.optimize() is not None


def test_bad_arguments_are_named(space: ConfigurationSpace) -> None:
    s = scenario(space)
    with pytest.raises(ScenarioError, match="scenario must be a smacx.Scenario"):
        SMAC({"n_trials": 3}, quadratic)  # type: ignore[arg-type]
    # (a search space, as Optuna's users pass one: a message of 2,500 characters for 40
    # hyperparameters, with no word of how to mend it; an audit)
    wide = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(40)})
    with pytest.raises(ScenarioError) as caught:
        SMAC(wide, quadratic)  # type: ignore[arg-type]
    assert len(str(caught.value)) < 300
    assert str(caught.value).endswith(
        "Wrap the search space in one: SMAC(Scenario(space, n_trials=...), target)."
    )
    with pytest.raises(ScenarioError, match="preset must be one of"):
        SMAC(s, quadratic, preset="fast")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="random_probability must be a number in"):
        SMAC(s, quadratic, random_probability=2.0)
    with pytest.raises(ScenarioError, match="plateau_probability must be a number in"):
        SMAC(s, quadratic, plateau_probability=-0.1)
    for radius in (-0.01, 0.5, float("nan"), True, "0.1"):
        with pytest.raises(ScenarioError, match=r"plateau_radius must be a distance in \[0, 0.5\)"):
            SMAC(s, quadratic, plateau_radius=radius)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="plateau_radius with preset='random', which uses no"):
        SMAC(s, quadratic, preset="random", plateau_radius=0.02)
    with pytest.raises(ScenarioError, match="callbacks must be"):
        SMAC(s, quadratic, callbacks=[42])  # type: ignore[list-item]
    with pytest.raises(ScenarioError, match="needs a target_fn"):
        SMAC(s).optimize()
    # flags read from strings (environment variables, argparse) are not taken as True
    with pytest.raises(ScenarioError, match="overwrite must be True or False; got 'no'"):
        SMAC(s, quadratic, overwrite="no")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="progress must be True, False or None"):
        SMAC(s, quadratic, progress="no")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="raise_on_first_crash must be True or False"):
        SMAC(s, quadratic, raise_on_first_crash=0)  # type: ignore[arg-type]

    for settings in (Intensifier, Hyperband):
        with pytest.raises(ScenarioError, match="an instance, not the class"):
            SMAC(s, quadratic, intensifier=settings)  # type: ignore[arg-type]
    smac = SMAC(scenario(space, n_trials=2), quadratic, progress=False)
    with pytest.raises(ScenarioError, match=r"data_to_scatter .* got \['seed'\]"):
        smac.optimize(data_to_scatter={"seed": 3})
    with pytest.raises(ScenarioError, match="data_to_scatter must be a dict"):
        smac.optimize(data_to_scatter=[1, 2])  # type: ignore[arg-type]
    assert smac.runhistory.n_submitted == 0  # refused before any trial started


KILLED_RUN = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
calls = 0
def target(config, seed, instance=None, budget=None):
    global calls
    calls += 1
    if calls == 10:
        print("ready", flush=True)  # 9 trials are finished and stored
        time.sleep(120)
    return (config["x"] - 1) ** 2 + (config["y"] + 2) ** 2 + len(instance or "") + (budget or 0)
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
kind = sys.argv[2]
extra = {"racing": dict(instances=["a", "bb", "ccc"]),
         "hyperband": dict(min_budget=1, max_budget=9),
         "plain": {}}[kind]
scenario = Scenario(space, n_trials=30, deterministic=True, output_directory=sys.argv[1],
                    name="killed", **extra)
preset = "hyperband" if kind == "hyperband" else "hpo"
SMAC(scenario, target, progress=False, preset=preset).optimize()
"""


KILLED_EXTRA: dict[str, dict[str, Any]] = {
    "racing": {"instances": ["a", "bb", "ccc"]},
    "hyperband": {"min_budget": 1, "max_budget": 9},
    "plain": {},
}


def killed_target(
    config: Configuration, seed: int, instance: str | None = None, budget: float | None = None
) -> float:
    """The killed run's target, for the run that continues it."""
    return quadratic(config) + len(instance or "") + (budget or 0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["plain", "racing", "hyperband"])
def test_sigkill_loses_no_finished_trial(
    kind: str, space: ConfigurationSpace, tmp_path: Path
) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), kind],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    resumed = SMAC(
        scenario(space, tmp_path, n_trials=30, name="killed", **KILLED_EXTRA[kind]),
        killed_target,
        progress=False,
        preset="hyperband" if kind == "hyperband" else "hpo",
    )
    before = dict(resumed.runhistory.items())
    assert sum(v.status is StatusType.SUCCESS for v in before.values()) == 9
    assert resumed.runhistory.n_running == 1  # the trial the kill interrupted
    optimize_keeps_what_finished(resumed, before, 30)


def spent_run_with_a_dead_processs_trial(space: ConfigurationSpace, tmp_path: Path) -> int:
    """A stored run of n_trials=3: two finished trials and one RUNNING under a process that is
    gone (as if killed while running the run's last trial). Returns that trial's config id."""
    from smacx.storage import TrialRecord, owner_id
    from smacx.trial import TrialKey

    first = SMAC(scenario(space, tmp_path, n_trials=3), progress=False)
    for _ in range(2):
        info = first.ask()
        first.tell(info, TrialValue(cost=quadratic(info.config)))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"{owner_id().split(':')[0]}:{gone.stdout.strip()}:0.000:dead"
    config_id = first.runhistory.add_config(space.sample_configuration())
    running = TrialRecord(TrialKey(config_id), TrialValue(status=StatusType.RUNNING), dead)
    assert first.runhistory.storage.claim_trial(running, time.time())
    first.close()
    return config_id


def test_last_trial_left_running_by_a_dead_process_is_run_again(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The budget is spent but one trial is RUNNING under a process that is gone (killed while
    running the run's last trial): continuing the run runs it, and ends with none RUNNING."""
    spent_run_with_a_dead_processs_trial(space, tmp_path)
    again = SMAC(scenario(space, tmp_path, n_trials=3), quadratic, progress=False)
    assert again.runhistory.n_running == 1 and again.runhistory.n_submitted == 3
    again.optimize()
    assert again.runhistory.n_finished == 3 and again.runhistory.n_running == 0
    again.close()


def test_a_trial_of_a_dead_process_claimed_by_another_is_not_replaced(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Two live processes share a spent run with one trial of a dead process: the one that
    loses the race to re-run it starts nothing else (n_trials stays a bound)."""
    from smacx.storage import owner_id

    config_id = spent_run_with_a_dead_processs_trial(space, tmp_path)
    sc = scenario(space, tmp_path, n_trials=3)

    calls: list[int] = []
    winner = SMAC(sc, progress=False)
    loser = SMAC(sc, lambda config, seed: calls.append(1) or 1.0, progress=False)
    loser.runhistory.owner = owner_id() + "-other"  # as another live process
    claimed = winner.ask()  # re-runs the dead process's trial
    assert winner.runhistory.get_config_id(claimed.config) == config_id
    loser.optimize()
    assert calls == [] and loser.runhistory.n_submitted == 3
    winner.close()
    loser.close()


def test_failed_construction_keeps_the_run_it_would_overwrite(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    sc = scenario(space, tmp_path, n_trials=3)
    with SMAC(sc, quadratic, progress=False) as smac:
        smac.optimize()
    with pytest.raises(ScenarioError, match="runner must be an AbstractRunner"):
        SMAC(sc, runner="not a runner", overwrite=True)  # type: ignore[arg-type]
    with SMAC(sc, quadratic, progress=False) as again:
        assert again.runhistory.n_finished == 3


def test_instances_with_features_end_to_end(space: ConfigurationSpace) -> None:
    offsets = {"a": 0.0, "b": 1.0, "c": 2.0}

    def target(config: Configuration, instance: str, seed: int) -> float:
        return quadratic(config) + offsets[instance]

    s = scenario(
        space,
        n_trials=60,
        instances=list(offsets),
        instance_features={k: [v, v * v] for k, v in offsets.items()},
    )
    smac = SMAC(s, target, progress=False)
    incumbent = smac.optimize()
    assert incumbent is not None and quadratic(incumbent) < 1.0
    assert len(smac.runhistory.get_trial_values(incumbent)) == 3  # raced on every instance
    assert smac.runhistory.get_cost(incumbent) == pytest.approx(quadratic(incumbent) + 1.0)


def test_model_presets_beat_random_on_a_quadratic(space: ConfigurationSpace) -> None:
    best = {}
    for preset in ("random", "hpo"):
        smac = SMAC(scenario(space, n_trials=40, seed=3), quadratic, preset=preset, progress=False)
        best[preset] = quadratic(smac.optimize())
    assert best["hpo"] < best["random"] and best["hpo"] < 0.1


def test_model_parts_can_be_swapped_by_keyword(space: ConfigurationSpace) -> None:
    from smacx.acquisition import LCB
    from smacx.models import RandomForest

    model = RandomForest(n_trees=5, seed=1)
    smac = SMAC(
        scenario(space, n_trials=25),
        quadratic,
        model=model,
        acquisition=LCB(beta=1.0),
        progress=False,
    )
    assert quadratic(smac.optimize()) < 2.0
    with pytest.raises(ScenarioError, match="uses no model"):
        SMAC(scenario(space), quadratic, preset="random", model=model)
    # (accepted, and without effect, until a GP/forest audit's finding)
    with pytest.raises(ScenarioError, match="got random_probability with preset='random'"):
        SMAC(scenario(space), quadratic, preset="random", random_probability=0.5)
    with pytest.raises(ScenarioError, match="got plateau_probability with preset='hyperband'"):
        SMAC(scenario(space), quadratic, preset="hyperband", plateau_probability=0.5)


def test_forest_backend_is_imported_when_built_for_a_run_that_will_need_it() -> None:
    """A fresh interpreter: a 6-d run of 1,000 trials will fit more than 5,000 cells, so the
    scikit-learn backend is imported by SMAC(...), not in the middle of optimize(); a run of
    100 trials never needs it."""
    code = textwrap.dedent(
        """
        import sys
        from ConfigSpace import ConfigurationSpace
        from smacx import SMAC, Scenario
        cs = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(6)})
        for n in (100, 1000):
            SMAC(Scenario(cs, n_trials=n, output_directory=None), progress=False)
            print("sklearn.ensemble" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True"]


def hangs_once(config: Configuration, seed: int) -> float:
    """Hangs (no trial time limit) on configurations in the left tenth of the box."""
    import time

    if config["x"] < -4.0:
        time.sleep(600)
    return quadratic(config)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_hung_sample_is_retired_and_the_run_finishes(space: ConfigurationSpace) -> None:
    from smacx import InitialDesign, Intensifier

    design = InitialDesign(
        n_configs=1, additional_configs=[Configuration(space, {"x": -5.0, "y": 0.0})]
    )
    s = scenario(space, n_trials=10, n_workers=2)
    with SMAC(
        s,
        hangs_once,
        preset="random",
        progress=False,
        initial_design=design,
        intensifier=Intensifier(pending_config_timeout=1.0),
    ) as smac:
        smac.optimize()
        counts = smac.runhistory.status_counts()
    assert smac.runhistory.n_finished == 10
    assert counts.get("RETIRED", 0) >= 1 and "RUNNING" not in counts


def seed_parity(config: Configuration, seed: int) -> float:
    return float(seed % 2)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_validate_runs_through_the_dask_runner(space: ConfigurationSpace) -> None:
    s = scenario(space, n_trials=4, n_workers=2, deterministic=False)
    with SMAC(s, seed_parity, progress=False) as smac:
        assert smac.validate(space.get_default_configuration(), seeds=[1, 2, 3, 5]) == 0.75
        assert smac.runhistory.n_finished == 0


def test_two_objectives_end_to_end() -> None:
    """ZDT1-like: the Pareto front is y = 0 with f2 = 1 - sqrt(f1)."""
    import math

    cs = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)

    def two(config: Configuration, seed: int) -> dict[str, float]:
        return {"f1": config["x"], "f2": 1 - math.sqrt(config["x"]) + config["y"]}

    s = Scenario(
        cs, n_trials=40, objectives=["f1", "f2"], deterministic=True, output_directory=None
    )
    smac = SMAC(s, two, progress=False)
    smac.optimize()
    front = smac.incumbents
    assert 2 <= len(front) <= 10
    costs = [smac.runhistory.get_costs(c) for c in front]
    for a in costs:  # no member dominates another
        assert not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in costs)
    assert all(c["y"] < 0.3 for c in front)
    assert f"Pareto front: {len(front)} configuration(s)" in smac.summary()
    # the trajectory follows the whole front, as the intensifier compared its members
    last = smac.trajectory[-1]
    assert last["config_ids"] == [smac.runhistory.get_config_id(c) for c in front]
    assert np.allclose(last["costs"], costs) and last["cost"] == last["costs"][0]
    assert len(smac.trajectory) >= len(front)


class _Pool(AbstractRunner):
    """``workers`` slots running the target here; a trial's result is handed out only once
    ``wait()`` was called after it started (``instant``: at once)."""

    def __init__(self, single: SerialRunner, workers: int, instant: bool) -> None:
        self.single, self.workers, self.instant = single, workers, instant
        self.started: list[tuple[TrialInfo, TrialValue]] = []
        self.done: list[tuple[TrialInfo, TrialValue]] = []
        self.log: list[str] = []

    def submit_trial(self, trial_info: TrialInfo, **data: Any) -> None:
        self.log.append("submit")
        result = (trial_info, self.run(trial_info.config, None, None, trial_info.seed))
        (self.done if self.instant else self.started).append(result)

    def iter_results(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        if self.done:
            self.log.append(f"collect {len(self.done)}")
        while self.done:
            yield self.done.pop(0)

    def wait(self, timeout: float | None = None) -> None:
        self.log.append("wait")
        if self.started:
            self.done.append(self.started.pop(0))

    def is_running(self) -> bool:
        return bool(self.done or self.started)

    def count_available_workers(self) -> int:
        return self.workers - len(self.done) - len(self.started)

    def run(self, config: Configuration, *args: Any, **data: Any) -> TrialValue:
        return self.single.run(config, *args)


def test_trials_running_when_optimize_is_interrupted_are_run_by_the_next_smac(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Ctrl-C while 3 of 4 workers hold trials: a new SMAC on the run in the same process (a
    notebook cell run again) runs them, instead of counting them as running forever."""
    sc = scenario(space, tmp_path, n_trials=12)
    pool = _Pool(SerialRunner(interrupted_at(8), sc), workers=4, instant=False)
    first = SMAC(sc, runner=pool, progress=False)
    with pytest.raises(KeyboardInterrupt):
        first.optimize()
    again = SMAC(sc, quadratic, progress=False)
    assert again.runhistory.n_running == 4 and again.runhistory.n_stale() == 4
    again.optimize()
    assert again.runhistory.n_finished == 12 and again.runhistory.n_running == 0
    assert len(again.runhistory.config_ids()) == 12


def test_optimize_again_takes_back_its_trials_still_in_the_runner(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    sc = scenario(space, tmp_path, n_trials=12)
    pool = _Pool(SerialRunner(interrupted_at(8), sc), workers=4, instant=False)
    smac = SMAC(sc, runner=pool, progress=False)
    with pytest.raises(KeyboardInterrupt):
        smac.optimize()
    held = len(pool.started) + len(pool.done)
    assert held == 3
    smac.optimize()  # their results are told, not run a second time
    counts = Counter(v.status for _, v in smac.runhistory.finished())
    assert counts == {StatusType.SUCCESS: 12} and smac.runhistory.n_running == 0
    assert pool.log.count("submit") == 12 + 1  # the interrupted submission, and 12 that ran


def test_optimize_fills_every_free_worker_before_telling(space: ConfigurationSpace) -> None:
    """4 workers whose trials end at once: optimize() submits a trial to each free worker,
    then collects all four results, and again; the budget of 10 stops the last round at 2."""
    sc = scenario(space, n_trials=10)
    pool = _Pool(SerialRunner(quadratic, sc), workers=4, instant=True)
    with SMAC(sc, runner=pool) as smac:
        smac.optimize()
        assert smac.runhistory.n_finished == 10
    rounds = [["submit"] * 4 + ["collect 4"]] * 2 + [["submit"] * 2 + ["collect 2"]]
    assert pool.log == [event for r in rounds for event in r]


class _Queue(AbstractRunner):
    """One worker that also takes ``ahead`` trials queued behind it. ``wait()`` ends the oldest
    submitted trial, whose target takes 0.2 s of the ``clock`` (``clock[0]``, seconds).
    ``submits`` holds (clock, trials already waiting) of every submission."""

    def __init__(self, ahead: int, clock: list[float]) -> None:
        self.queue, self.clock = ahead, clock
        self.waiting: list[TrialInfo] = []
        self.done: list[tuple[TrialInfo, TrialValue]] = []
        self.submits: list[tuple[float, int]] = []

    def submit_trial(self, trial_info: TrialInfo, **data: Any) -> None:
        self.submits.append((self.clock[0], len(self.waiting)))
        self.waiting.append(trial_info)

    def iter_results(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        while self.done:
            yield self.done.pop(0)

    def wait(self, timeout: float | None = None) -> None:
        if self.waiting:
            self.clock[0] += 0.2
            info = self.waiting.pop(0)
            self.done.append((info, self.run(info.config)))

    def is_running(self) -> bool:
        return bool(self.done or self.waiting)

    def count_available_workers(self) -> int:
        return 1 + self.queue - len(self.waiting) - len(self.done)

    def ahead(self) -> int:
        return self.queue

    def run(self, config: Configuration, *args: Any, **data: Any) -> TrialValue:
        return TrialValue(cost=quadratic(config), time=0.2)


def test_optimize_queues_no_trial_in_the_last_trial_time_of_the_walltime(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trials of 0.2 s on a runner that queues 2 ahead, with a walltime of 1.5 s (on a clock
    the runner moves): trials are queued behind the busy worker from the start, and none once
    less than a trial's time, times one plus the 2 ahead per thread, is left: such a trial
    would start only after those before it and run past the budget. (Queued until one
    trial's time was left, at 1.0 and 1.2 s, they ran until 1.6 and 1.8 s.)"""
    clock = [1000.0]
    fake_time = SimpleNamespace(
        time=lambda: clock[0],
        monotonic=lambda: clock[0],
        perf_counter=time.perf_counter,
        process_time=time.process_time,
    )
    monkeypatch.setattr(facade_module, "time", fake_time)
    monkeypatch.setattr(session_module, "time", fake_time)
    sc = scenario(space, n_trials=1000, walltime_limit=1.5)
    pool = _Queue(ahead=2, clock=clock)
    with SMAC(sc, runner=pool, preset="random") as smac:
        smac.optimize()
        assert smac.runhistory.n_finished == smac.runhistory.n_submitted == len(pool.submits)
    queued = [round(t - 1000.0, 6) for t, waiting in pool.submits if waiting > 0]
    # Results end at 0.2, 0.4, ...; at 1.0 s 0.5 s is left, less than 0.2 * (1 + 2 / 1): no
    # trial is queued from then on, and the last one queued, at 0.8 s, ends at 1.4 s.
    assert queued == [0.0, 0.0, 0.2, 0.4, 0.6, 0.8]
    # (a worker that frees up still gets a trial while time is left, as in a serial run)
    assert [round(t - 1000.0, 6) for t, _ in pool.submits][-1] == 1.4


def test_optimize_lets_the_selector_search_ahead_while_every_worker_is_busy(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before each wait with every worker busy and budget left, optimize() calls the
    selector's prepare(); never with a serial runner."""
    sc = scenario(space, n_trials=30)
    pool = _Pool(SerialRunner(quadratic, sc), workers=4, instant=False)
    with SMAC(sc, runner=pool) as smac:
        calls: list[int] = []
        real = smac.selector.prepare

        def prepare(history: Any) -> None:
            calls.append(history.n_submitted)
            real(history)

        monkeypatch.setattr(smac.selector, "prepare", prepare)
        smac.optimize()
        assert smac.runhistory.n_finished == 30
    assert calls and calls == sorted(calls)
    assert len(calls) == pool.log.count("wait") - 4  # not while the last 4 trials drain
    serial_calls: list[Any] = []
    with SMAC(scenario(space, n_trials=5), quadratic) as serial:
        monkeypatch.setattr(serial.selector, "prepare", serial_calls.append)
        serial.optimize()
        assert serial.runhistory.n_finished == 5
    assert serial_calls == []


def test_a_result_whose_tell_failed_is_told_by_the_next_collect(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    smac = SMAC(scenario(space, n_trials=4), quadratic, progress=False)
    add = smac.runhistory.add
    failed = []

    def fail_once(info: TrialInfo, value: TrialValue) -> None:
        if not failed:  # as a storage locked past its timeout would
            failed.append(info)
            raise RuntimeError("storage unavailable")
        add(info, value)

    monkeypatch.setattr(smac.runhistory, "add", fail_once)
    with pytest.raises(RuntimeError, match="storage unavailable"):
        smac.optimize()
    assert smac.runhistory.n_finished == 0 and smac.runhistory.n_running == 1
    smac.optimize()  # the kept result is told first: the trial is not run again
    assert smac.runhistory.n_finished == 4 and smac.runhistory.n_running == 0
    assert smac.stats["trials_told"] == 4


def test_every_configuration_records_where_it_came_from(space: ConfigurationSpace) -> None:
    smac = SMAC(scenario(space, n_trials=30), quadratic, progress=False)
    smac.optimize()
    origins = Counter(smac.runhistory.get_origin(c) for c in smac.runhistory.get_configs())
    assert set(origins) <= {"initial design", "model", "random", "random (plateau)"}
    assert origins["initial design"] == len(smac.selector.initial_design)
    assert origins["model"] > origins["random"] > 0


def test_optimize_on_an_exhausted_space_returns_the_best_with_a_warning() -> None:
    from ConfigSpace import Categorical

    small = ConfigurationSpace(seed=0)
    small.add([Categorical("c", ["a", "bb", "ccc"])])
    smac = SMAC(scenario(small, n_trials=20), lambda config: len(config["c"]), progress=False)
    # a Python warning: the "smacx" logger has no handler unless the application adds one
    with pytest.warns(UserWarning, match="Stopping before n_trials") as warned:
        best = smac.optimize()
    assert best is not None and best["c"] == "a"
    assert smac.runhistory.n_finished == 3
    text = " ".join(str(w.message) for w in warned)
    assert "max_config_calls" not in text  # deterministic: nothing more to learn


def test_a_noisy_run_that_tried_its_whole_space_says_how_to_repeat_more() -> None:
    """2 x 2 knobs, noisy, n_trials=30: racing ends once the incumbent has 3 samples and
    the others lost to it. For noisy measurements, more repeats are the useful advice (an
    audit's finding)."""
    from ConfigSpace import Categorical

    small = ConfigurationSpace(seed=0)
    small.add([Categorical("a", [1, 2]), Categorical("b", [1, 2])])
    rng = np.random.default_rng(0)
    sc = scenario(small, n_trials=30, deterministic=False)
    smac = SMAC(sc, lambda config, seed: config["a"] + rng.normal(), progress=False)
    with pytest.warns(UserWarning, match="n_trials") as warned:
        smac.optimize()
    few = smac.runhistory.n_finished
    assert 4 <= few < 30
    assert any("Intensifier(max_config_calls=...)" in str(w.message) for w in warned)
    more = Intensifier(max_config_calls=20)
    smac = SMAC(sc, lambda config, seed: config["a"] + rng.normal(), intensifier=more)
    with pytest.warns(UserWarning, match="n_trials"):  # the losers are not raced again
        smac.optimize()
    assert smac.runhistory.n_finished > few
    assert max(len(smac.runhistory.get_trials(c)) for c in smac.runhistory.get_configs()) > 3


SHARED_RUN = """
import os, sys, time
from pathlib import Path
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
scenario = Scenario(space, n_trials=24, deterministic=True, output_directory=sys.argv[1],
                    name="shared", seed=int(sys.argv[2]))  # one run: one seed
def target(config):
    return (config["x"] - 1) ** 2 + config["y"] ** 2
smac = SMAC(scenario, target, progress=False)  # a model fit between budget check and claim
(Path(sys.argv[1]) / f"ready-{os.getpid()}").touch()
while len(list(Path(sys.argv[1]).glob("ready-*"))) < 3:  # all three start together
    time.sleep(0.01)
smac.optimize()
"""


def test_processes_sharing_a_run_start_exactly_n_trials_together(tmp_path: Path) -> None:
    """Three processes on one history, instant trials: the budget is checked in the claim's
    transaction, so together they run n_trials, not up to two more (24 to 26 before, as each
    checked its own view of the history before a fit and then claimed). Their trajectory
    goes forwards."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = [
        subprocess.Popen([sys.executable, "-c", SHARED_RUN, str(tmp_path), "0"], env=env)
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    sc = Scenario(space, n_trials=24, deterministic=True, output_directory=tmp_path, name="shared")
    with SMAC(sc, progress=False) as smac:
        assert smac.runhistory.n_finished == 24 and smac.runhistory.n_running == 0
        # Each process appends to the trajectory from its own view of the run: one with an
        # older view went backwards in it (an audit's finding, 1 run in 6 of 4 processes).
        seen = [entry["n_finished"] for entry in smac.trajectory]
        assert seen == sorted(set(seen))


def test_a_failure_told_through_ask_and_tell_is_recorded_without_raising(
    space: ConfigurationSpace,
) -> None:
    # raise_on_first_crash is about targets optimize() runs; a user of tell() reports it.
    seen: list[str] = []

    class Told(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            seen.append(value.status.name)

    smac = SMAC(scenario(space, n_trials=5), callbacks=[Told()])
    info = smac.ask()
    smac.tell(info, TrialValue(cost=math.nan))
    smac.tell(smac.ask(), TrialValue(cost=1.0))
    assert seen == ["CRASHED", "SUCCESS"]
    assert smac.runhistory.status_counts() == {"CRASHED": 1, "SUCCESS": 1}
    assert smac.incumbent is not None


def test_a_trial_asked_and_never_told_runs_again_after_close(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    first = SMAC(scenario(space, tmp_path, n_trials=4), quadratic, progress=False)
    for _ in range(2):
        info = first.ask()
        first.tell(info, TrialValue(cost=quadratic(info.config)))
    lost = first.ask()  # e.g. the user's code raised before tell()
    first.close()
    again = SMAC(scenario(space, tmp_path, n_trials=4), quadratic, progress=False)
    assert again.runhistory.n_stale() == 1
    again.optimize()
    assert again.runhistory.status_counts() == {"SUCCESS": 4}
    assert lost.config in again.runhistory.get_configs()
    again.close()


def test_a_trial_whose_tell_was_refused_is_given_up_by_close(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    heard: list[TrialValue] = []

    class Listening(Callback):
        def on_tell_start(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            heard.append(value)

    sc = scenario(space, tmp_path, n_trials=4, objectives=["loss", "time"])
    first = SMAC(sc, progress=False, callbacks=[Listening()])
    info = first.ask()
    with pytest.raises(TrialError, match="expected 2"):
        first.tell(info, TrialValue(cost=1.0))  # one cost for two objectives
    with pytest.raises(TrialError, match="RUNNING"):
        first.tell(info, TrialValue(cost=[1.0, 1.0], status=StatusType.RUNNING))
    assert heard == []  # no callback hears of a result that is not recorded
    first.close()
    again = SMAC(sc, lambda config, seed: [quadratic(config), 1.0], progress=False)
    assert again.runhistory.n_stale() == 1
    again.optimize()
    assert again.runhistory.status_counts() == {"SUCCESS": 4}
    again.close()


def test_trials_asked_by_an_object_dropped_unclosed_run_again_in_this_process(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A notebook cell that builds SMAC again: the old object, collected without close(),
    gives up the trials it asked, which would otherwise be RUNNING for this process's life."""
    import gc

    smac = SMAC(scenario(space, tmp_path, n_trials=4), quadratic, progress=False)
    lost = smac.ask()
    smac = SMAC(scenario(space, tmp_path, n_trials=4), quadratic, progress=False)
    gc.collect()
    smac.runhistory.sync()  # the release, written by the other object
    assert smac.runhistory.n_stale() == 1
    smac.optimize()
    assert smac.runhistory.status_counts() == {"SUCCESS": 4}
    assert lost.config in smac.runhistory.get_configs()
    smac.close()


def test_a_closed_smac_says_so(space: ConfigurationSpace, tmp_path: Path) -> None:

    smac = SMAC(scenario(space, tmp_path, n_trials=4), quadratic, progress=False)
    done = smac.ask()
    smac.tell(done, TrialValue(cost=2.0))
    info = smac.ask()
    trajectory = smac.trajectory
    smac.close()
    smac.close()  # again: nothing to do
    for call in (
        smac.ask,
        lambda: smac.tell(info, TrialValue(cost=1.0)),
        smac.optimize,
    ):
        with pytest.raises(StorageError, match=r"after close\(\)"):
            call()
    # what a run found stays readable, as after ``with SMAC(...) as smac: smac.optimize()``
    assert smac.trajectory == trajectory and [e["cost"] for e in trajectory] == [[2.0]]
    assert smac.incumbent == done.config


def test_a_runner_built_on_another_space_is_refused(space: ConfigurationSpace) -> None:
    other = ConfigurationSpace({"x": (100.0, 200.0)}, seed=0)
    runner = SerialRunner(quadratic, scenario(other, n_trials=3))
    with pytest.raises(ScenarioError, match="another scenario's configspace"):
        SMAC(scenario(space, n_trials=3), runner=runner)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trial_walltime_limit", 1),
        ("trial_memory_limit", 4000),
        ("objectives", ["cost", "time"]),
        ("crash_cost", 100.0),
        ("instances", ["a", "b"]),
    ],
)
def test_a_runner_built_on_a_scenario_with_other_trial_settings_is_refused(
    space: ConfigurationSpace, field: str, value: Any
) -> None:
    """The runner applies its own scenario's limits and objectives: a 1 s limit on SMAC's
    scenario and none on the runner's ran 2 s trials as successes (a user's report)."""
    plain = scenario(space, n_trials=3)
    runner = SerialRunner(lambda config, seed=0, instance=None: 0.0, plain)
    with pytest.raises(ScenarioError, match=rf"in what the runner uses \({field}: the runner's"):
        SMAC(scenario(space, n_trials=3, **{field: value}), runner=runner)
    SMAC(scenario(space, n_trials=3), runner=runner)  # an equal scenario is fine


def test_targets_that_cannot_be_called_as_smacx_calls_them_are_refused_early(
    space: ConfigurationSpace,
) -> None:
    async def coroutine(config: Configuration, seed: int) -> float:
        return 0.0

    with pytest.raises(ScenarioError, match="async def"):
        SMAC(scenario(space, n_trials=3), coroutine)

    def needs_data(config: Configuration, seed: int, X: Any) -> float:
        return quadratic(config) + X

    smac = SMAC(scenario(space, n_trials=3), needs_data, progress=False)
    with pytest.raises(ScenarioError, match=r"requires argument\(s\) \['X'\]"):
        smac.optimize()
    assert smac.runhistory.n_submitted == 0
    assert smac.optimize(data_to_scatter={"X": 1.0}) is not None
    assert smac.runhistory.n_finished == 3


def test_validate_refuses_configs_of_another_space_and_unknown_instances(
    space: ConfigurationSpace,
) -> None:
    smac = SMAC(scenario(space, n_trials=3), quadratic, progress=False)
    other = ConfigurationSpace({"x": (100.0, 200.0)}, seed=0)
    with pytest.raises(ScenarioError, match="configspace"):
        smac.validate(other.sample_configuration())
    with pytest.raises(ScenarioError, match="this one has none, got instances=\\['nope'\\]"):
        smac.validate(space.sample_configuration(), instances=["nope"])
    # SMAC3's `for incumbent in smac.optimize(): smac.validate(incumbent)` (a list there, with
    # several objectives) walks over the names here
    with pytest.raises(ScenarioError, match=r"got 'x'\. That is a hyperparameter's name, .* "):
        smac.validate(next(iter(space.sample_configuration())))  # type: ignore[arg-type]


def test_validate_runs_on_held_out_instances(space: ConfigurationSpace) -> None:
    """An algorithm designer tunes on training instances and validates on test ones."""
    sc = scenario(space, n_trials=4, instances=["1", "2"], deterministic=True)
    smac = SMAC(sc, lambda config, instance: quadratic(config) + float(instance), progress=False)
    incumbent = smac.optimize()
    assert incumbent is not None
    held_out = smac.validate(incumbent, instances=["10", "20"])
    assert held_out == pytest.approx(quadratic(incumbent) + 15)
    assert smac.runhistory.n_finished == 4  # (validation trials are not stored)


OWNER = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
smac = SMAC(Scenario(space, n_trials=5, deterministic=True, output_directory=sys.argv[1]))
smac.ask()
print("claimed", flush=True)
time.sleep(120)
"""


def test_overwrite_is_refused_while_another_process_runs_trials_of_the_run(
    space: ConfigurationSpace, tmp_path: Path
) -> None:

    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "claimed"
        with pytest.raises(StorageError, match="other processes still work on it"):
            SMAC(scenario(space, tmp_path, n_trials=5), overwrite=True)
        assert SMAC(scenario(space, tmp_path, n_trials=5)).runhistory.n_running == 1  # intact
    finally:
        proc.kill()
        proc.wait()
    fresh = SMAC(scenario(space, tmp_path, n_trials=5), overwrite=True)  # its owner is gone
    assert fresh.runhistory.n_submitted == 0
    fresh.close()


IDLE_OWNER = """
import sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
smac = SMAC(Scenario(space, n_trials=5, deterministic=True, output_directory=sys.argv[1]))
print("opened", flush=True)
sys.stdin.readline()  # e.g. loading data before optimize(): no trial runs yet
smac.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def test_overwrite_is_refused_while_another_process_has_the_run_open(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Between trials a worker holds no RUNNING trial, but deleting the file under it would
    send its results into an unlinked file; once it closed the run, overwriting is fine."""

    proc = subprocess.Popen(
        [sys.executable, "-c", IDLE_OWNER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "opened"
        with pytest.raises(StorageError, match=rf"still work on it \(.*:{proc.pid}:"):
            SMAC(scenario(space, tmp_path, n_trials=5), overwrite=True)
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "closed"
        SMAC(scenario(space, tmp_path, n_trials=5), overwrite=True).close()  # still alive
    finally:
        proc.kill()
        proc.wait()


FINISHED_AND_DROPPED = """
import gc, sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
scenario = Scenario(space, n_trials=3, deterministic=True, output_directory=sys.argv[1])
SMAC(scenario, lambda config, seed: 1.0, progress=False).optimize()  # never closed
gc.collect()
print("done", flush=True)
sys.stdin.readline()  # a notebook kernel that lives on
"""


def test_overwrite_after_a_run_whose_object_was_dropped_unclosed(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """README's one-liner SMAC(scenario, f).optimize() never closes; once the object is gone
    its session ends, and another process may start the run over while that one lives."""
    proc = subprocess.Popen(
        [sys.executable, "-c", FINISHED_AND_DROPPED, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "done"
        fresh = SMAC(scenario(space, tmp_path, n_trials=3), overwrite=True)
        assert fresh.runhistory.n_finished == 0
        fresh.close()
    finally:
        proc.kill()
        proc.wait()


def test_overwrite_is_refused_while_this_process_has_the_run_open(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """... by another thread, or by this one inside optimize(); an idle object this thread
    built (a notebook cell run again) is closed instead."""
    sc = scenario(space, tmp_path, n_trials=5)
    built: list[SMAC] = []
    other = threading.Thread(target=lambda: built.append(SMAC(sc, quadratic, progress=False)))
    other.start()
    other.join()
    with pytest.raises(StorageError, match=r"this process: close\(\) the SMAC object"):
        SMAC(sc, overwrite=True)
    built[0].close()
    SMAC(sc, overwrite=True).close()
    dropped = SMAC(sc, progress=False)
    del dropped  # left to the collector: no longer in the way
    SMAC(sc, overwrite=True).close()

    class OverwritesMidRun(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            with pytest.raises(StorageError, match=r"this process: close\(\) the SMAC object"):
                SMAC(sc, overwrite=True)

    with SMAC(sc, quadratic, callbacks=[OverwritesMidRun()], progress=False) as running:
        running.optimize()
        assert running.runhistory.n_finished == 5

    # A later thread that the system gives the ident of the finished builder (a review's
    # finding) did not build it either.
    refused: list[BaseException] = []

    def overwrite() -> None:
        try:
            SMAC(sc, overwrite=True)
        except StorageError as err:
            refused.append(err)

    built.clear()
    other = threading.Thread(target=lambda: built.append(SMAC(sc, progress=False)))
    other.start()
    other.join()
    later = threading.Thread(target=overwrite)
    later.start()
    later.join()
    assert refused and built[0].runhistory.n_finished == 5  # still open
    built[0].close()


def test_overwrite_in_a_notebook_cell_run_again_closes_the_old_object(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """``smac = SMAC(sc, f, overwrite=True); smac.optimize()`` run twice: the second failed,
    saying that other processes still worked on the run (an audit's finding)."""
    sc = scenario(space, tmp_path, n_trials=5)
    smac = SMAC(sc, quadratic, overwrite=True, progress=False)
    smac.optimize()
    old = smac
    smac = SMAC(sc, quadratic, overwrite=True, progress=False)
    assert smac.runhistory.n_finished == 0  # a fresh run
    smac.optimize()
    assert smac.runhistory.n_finished == 5
    with pytest.raises(StorageError, match="after close"):
        old.ask()
    smac.close()


def test_overwrite_waits_for_a_run_being_opened_and_then_refuses(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several processes started at once with overwrite=True: one could delete the database
    that another had just opened and not yet registered in, which went on into the deleted
    file and lost its results (a user's report). Here the first object pauses right after
    opening the run; the overwrite in the meantime waits for it, then sees it and refuses."""
    opened = threading.Event()
    original = SMAC._check_identity

    def slow(self: SMAC, *args: Any) -> None:
        original(self, *args)
        if not opened.is_set():
            opened.set()
            time.sleep(0.5)  # between opening the run and registering in it

    monkeypatch.setattr(SMAC, "_check_identity", slow)
    sc = scenario(space, tmp_path, n_trials=4)
    built: list[SMAC] = []
    first = threading.Thread(target=lambda: built.append(SMAC(sc, quadratic, progress=False)))
    first.start()
    assert opened.wait(10)
    with pytest.raises(StorageError, match="overwrite=True would delete the run"):
        SMAC(sc, quadratic, overwrite=True)
    first.join()
    database = sc.output_path / "runhistory.db"
    inode = database.stat().st_ino
    built[0].optimize()
    built[0].close()
    assert database.stat().st_ino == inode  # its own file, not a deleted one
    with SMAC(sc, quadratic) as again:
        assert again.runhistory.n_finished == 4


def test_a_construction_interrupted_while_reading_the_run_leaves_it_free_to_overwrite(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session, registered as the run opens, is ended when the history cannot be read
    (a review's finding: every later overwrite in this process was refused)."""
    sc = scenario(space, tmp_path, n_trials=3)
    SMAC(sc, quadratic, progress=False).close()

    def interrupted(self: RunHistory) -> int:
        raise KeyboardInterrupt("Ctrl-C while a large stored run is read")

    with monkeypatch.context() as patch:
        patch.setattr(RunHistory, "sync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            SMAC(sc, quadratic, progress=False)
    SMAC(sc, quadratic, progress=False, overwrite=True).close()


def test_overwrite_of_a_run_that_cannot_be_deleted_names_the_folder(
    space: ConfigurationSpace, tmp_path: Path
) -> None:

    SMAC(scenario(space, tmp_path, n_trials=5)).close()
    [folder] = {p.parent for p in tmp_path.rglob("runhistory.db")}
    folder.chmod(0o555)
    chattr = os.access(folder, os.W_OK)  # root ignores modes; an immutable folder stops it too
    if chattr and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        folder.chmod(0o755)
        pytest.skip("cannot make a folder unwritable for this user here")
    try:
        with pytest.raises(
            StorageError, match=r"overwrite=True cannot delete the run in .*writable"
        ):
            SMAC(scenario(space, tmp_path, n_trials=5), overwrite=True)
    finally:
        if chattr:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_dask_client_that_is_not_a_client_is_refused_by_name(space: ConfigurationSpace) -> None:
    from smacx import ArgumentError

    with pytest.raises(ArgumentError, match=r"^SMAC\(dask_client=\.\.\.\) must be a distributed"):
        SMAC(scenario(space, n_trials=3), quadratic, dask_client=object())


def test_n_workers_with_a_dask_client_keeps_that_many_trials_submitted(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """Scenario(n_workers=4) with a client of one worker ran one trial at a time without a
    word (a dask audit's finding); an adaptive cluster never grew, its scheduler seeing one
    task at a time (another's). Now 4 trials are kept submitted, and the log says so."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        with caplog.at_level(logging.INFO, logger="smacx"):
            smac = SMAC(scenario(space, n_trials=3, n_workers=4), quadratic, dask_client=client)
        assert "n_workers=4 with a dask_client: 4 trials are kept submitted" in caplog.text
        assert "has 1 worker thread(s) now" in caplog.text
        assert smac.runner is not None and smac.runner.count_available_workers() == 4
        smac.close()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            smac = SMAC(scenario(space, n_trials=3), quadratic, dask_client=client)
            assert smac.runner is not None and smac.runner.count_available_workers() == 1
            smac.close()


def test_instances_without_features_get_half_their_proposals_at_random(
    space: ConfigurationSpace,
) -> None:
    """Without features the forest takes an easy instance for a good configuration: "hpo"
    drew 5% at random there, and did worse than SMAC3's algorithm-configuration facade (an
    audit's finding). 0.5 there, 0.05 with features or without instances; a value given
    stays."""
    names = ["a", "b", "c"]
    features = {name: [float(i)] for i, name in enumerate(names)}

    def target(config: Configuration, instance: str, seed: int) -> float:
        return quadratic(config, seed)

    def probability(smac: SMAC) -> float:
        with smac:
            return smac.selector.random_probability

    assert probability(SMAC(scenario(space, instances=names), target)) == 0.5
    with_features = scenario(space, instances=names, instance_features=features)
    assert probability(SMAC(with_features, target)) == 0.05
    assert probability(SMAC(scenario(space), quadratic)) == 0.05
    assert (
        probability(SMAC(scenario(space, instances=names), target, random_probability=0.1)) == 0.1
    )
    # (one instance is plain HPO; the multifidelity preset was not measured so)
    assert probability(SMAC(scenario(space, instances=["a"]), target)) == 0.05


def test_a_maximizer_built_on_another_space_is_refused(space: ConfigurationSpace) -> None:
    """Same width, other columns: it would search the wrong space (the run quietly became
    random search)."""
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch

    other = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0)}, seed=0)
    with pytest.raises(ScenarioError, match=r"maximizer searches another space.*\('a', 'b'\)"):
        SMAC(scenario(space, n_trials=5), quadratic, maximizer=LocalAndRandomSearch(Encoder(other)))
    ok = LocalAndRandomSearch(Encoder(space))
    assert SMAC(scenario(space, n_trials=5), quadratic, maximizer=ok, progress=False).optimize()


def test_every_configuration_reaches_the_target_with_plain_values(tmp_path: Path) -> None:
    """Initial design, model and random proposals alike: a target that stores its
    configuration as JSON works on every trial (numpy scalars do not serialize), and a
    categorical whose choices are tuples survives the run's storage."""
    import json

    from ConfigSpace import Categorical, Float, Integer, OrdinalHyperparameter

    space = ConfigurationSpace(seed=0)
    space.add(
        [
            Float("x", (-1.0, 1.0)),
            Integer("n", (1, 9)),
            Categorical("opt", ["adam", "sgd"]),
            Categorical("layers", [(50,), (100,), (50, 50)]),
            OrdinalHyperparameter("batch", [16, 32, 64]),
        ]
    )
    seen: list[dict[str, Any]] = []

    def target(config: Configuration) -> float:
        seen.append(json.loads(json.dumps(dict(config))))
        return (config["x"] - 0.3) ** 2 + sum(config["layers"]) / 100 + config["n"] / 10

    for _ in range(2):  # the second run continues from the database
        smac = SMAC(scenario(space, tmp_path, n_trials=25 + 5 * len(seen)), target, progress=False)
        smac.optimize()
        assert smac.runhistory.status_counts() == {"SUCCESS": smac.runhistory.n_finished}
        assert isinstance(smac.incumbent["layers"], tuple)  # type: ignore[index]
        smac.close()
    assert {type(v) for row in seen for v in row.values()} <= {float, int, str, list}


def test_a_callback_that_fails_in_on_ask_end_leaves_no_trial_running(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    class Broken(Callback):
        calls = 0

        def on_ask_end(self, smac: SMAC, info: TrialInfo) -> None:
            Broken.calls += 1
            if Broken.calls == 3:
                raise RuntimeError("a bug in the callback")

    smac = SMAC(
        scenario(space, tmp_path, n_trials=8), quadratic, callbacks=[Broken()], progress=False
    )
    with pytest.raises(RuntimeError, match="bug in the callback"):
        smac.optimize()
    smac.optimize()  # runs the trial the failing callback saw, too
    assert smac.runhistory.n_finished == 8 and smac.runhistory.n_running == 0


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (lambda **kwargs: 0.0, r"first argument.*signature is <lambda>\(\*\*kwargs\)"),
        (lambda seed, config: 0.0, r"its first argument is 'seed'.*Put the configuration first"),
    ],
)
def test_targets_that_cannot_take_the_configuration_first_are_refused(
    space: ConfigurationSpace, target: Any, match: str
) -> None:
    with pytest.raises(ScenarioError, match=match):
        SMAC(scenario(space, n_trials=5), target)


def test_scattered_data_the_target_does_not_take_is_refused(space: ConfigurationSpace) -> None:
    def target(config: Configuration, seed: int, X: Any = None) -> float:
        return 0.0

    smac = SMAC(scenario(space, n_trials=5), target, progress=False)
    with pytest.raises(ScenarioError, match=r"key\(s\) \['y'\] that target_fn does not take"):
        smac.optimize(data_to_scatter={"X": [1, 2], "y": [3]})
    assert smac.runhistory.n_finished == 0
    smac.optimize(data_to_scatter={"X": [1, 2]})
    assert smac.runhistory.n_finished == 5


def test_ask_on_a_tried_finite_space_says_when_running_trials_may_call_for_more() -> None:
    from ConfigSpace import Categorical

    from smacx import SearchSpaceExhaustedError

    space = ConfigurationSpace(seed=0)
    space.add(Categorical("c", ["a", "b", "c"]))
    smac = SMAC(Scenario(space, deterministic=False, output_directory=None), preset="random")
    asked = [smac.ask() for _ in range(3)]
    with pytest.raises(SearchSpaceExhaustedError, match=r"3 trial\(s\) are still running"):
        smac.ask()
    for info in asked:
        smac.tell(info, TrialValue(cost=0.0 if info.config["c"] == "a" else 1.0))
    assert smac.ask().config["c"] == "a"  # the incumbent's next seed


def test_a_failure_told_at_nan_or_minus_inf_is_stored_at_crash_cost(
    space: ConfigurationSpace,
) -> None:
    smac = SMAC(scenario(space, crash_cost=50.0))
    for cost in (math.nan, -math.inf):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=cost, status=StatusType.TIMEOUT))
        assert smac.runhistory[smac.runhistory.key_of(info)].cost == 50.0


def test_cyclic_garbage_of_a_target_on_a_threads_cluster_is_collected_now_and_then(
    space: ConfigurationSpace,
) -> None:
    """A parallel run raises the collector's first threshold (to 20,000 objects); a target
    on a threads cluster that leaves few objects but large ones in a cycle per trial (a
    model pointing to itself) had 80 of them, 940 MB, alive at once. The run now collects
    every 16 results, as the default threshold does about every 3 such trials."""
    import gc

    from distributed import Client, LocalCluster

    alive, peak = [0], [0]

    class Model:
        def __init__(self) -> None:
            self.me = self
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])

        def __del__(self) -> None:
            alive[0] -= 1

    def leaves_a_cycle(config: Configuration, seed: int = 0) -> float:
        Model()
        return quadratic(config)

    before = gc.get_threshold()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        sc = scenario(space, n_trials=80, n_workers=2)
        with SMAC(sc, leaves_a_cycle, preset="random", dask_client=client) as smac:
            smac.optimize()
    assert smac.runhistory.n_finished == 80
    assert peak[0] <= heap_module._RESULTS_BETWEEN_COLLECTIONS + 8, peak[0]
    assert gc.get_threshold() == before
    # An application that turned the collector off collects when it wants (a review).
    collections = []

    def counted(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            collections.append(1)

    gc.disable()
    gc.callbacks.append(counted)
    try:
        heap_module.freeze_heap()
        collections.clear()  # (the one as the run starts)
        heap_module.collect_now_and_then(3 * heap_module._RESULTS_BETWEEN_COLLECTIONS)
        assert collections == []
    finally:
        heap_module.thaw_heap()
        gc.callbacks.remove(counted)
        gc.enable()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_smac_objects_dropped_without_close_release_their_database_at_once(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A loop that builds a SMAC per dataset and seed and never closes them: each object
    dropped gives its database files back at once, not at the next full collection (the
    sqlite3 connection is in a reference cycle of its own: 3 descriptors per run stayed
    open until then, dozens of them between two full collections)."""
    import gc

    def open_databases() -> int:
        found = 0
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                found += os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path))
        return found

    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for i in range(3):
            sc = Scenario(
                space, n_trials=3, deterministic=True, name=f"r{i}", output_directory=tmp_path
            )
            smac = SMAC(sc, quadratic, progress=False)
            smac.optimize()
            assert open_databases() > 0
            del smac
            assert open_databases() == 0
    finally:
        if enabled:
            gc.enable()


def test_a_trajectory_that_could_not_be_read_at_close_says_so(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() reads the trajectory before the storage closes; when that read fails (the
    storage broke), close() still closes the storage, and ``trajectory`` afterwards raises
    instead of claiming the run never had an incumbent."""

    smac = SMAC(scenario(space, tmp_path, n_trials=2), quadratic, progress=False)
    smac.optimize()

    def broken() -> list[dict[str, object]]:
        raise StorageError("the disk went away")

    monkeypatch.setattr(smac.runhistory, "trajectory", broken)
    smac.close()
    with pytest.raises(StorageError, match=r"could not be read when the storage closed"):
        smac.trajectory  # noqa: B018


def test_proposals_follow_configspace_where_a_parent_is_inactive() -> None:
    cs = space_with_inactive_parents(finite=False)
    smac = SMAC(scenario(cs, n_trials=40, seed=1), lambda config, seed: float(config["p"]))
    smac.optimize()
    configs = smac.runhistory.get_configs()
    assert smac.runhistory.n_finished == 40 and len(configs) == 40  # deterministic: distinct
    for c in configs:
        c.check_valid_configuration()


def test_a_resumed_run_logs_its_stored_incumbent_as_such(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Reading a stored run logged "New incumbent" for a configuration that was not new (an
    audit's finding); with racing and with successive halving."""
    for preset in ("hpo", "multifidelity"):
        budgets = {"min_budget": 1, "max_budget": 9} if preset == "multifidelity" else {}
        sc = scenario(space, tmp_path, n_trials=6, name=preset, **budgets)

        def target(config: Configuration, budget: float = 1.0) -> float:
            return quadratic(config)

        with SMAC(sc, target, preset=preset, progress=False) as smac:
            smac.optimize()
        caplog.clear()
        with caplog.at_level("INFO", logger="smacx"), SMAC(sc, target, preset=preset) as again:
            stored = [r.getMessage() for r in caplog.records if "ncumbent" in r.getMessage()]
            assert again.incumbent is not None
        assert any(m.startswith("Incumbent of the stored run: config") for m in stored), stored
        assert not any(m.startswith("New incumbent") for m in stored), stored


def _ask_and_tell_in_threads(smac: SMAC, n_threads: int, per_thread: int) -> list[TrialInfo]:
    """Run ``n_threads`` threads that each ask and tell ``per_thread`` trials of
    :func:`quadratic` on ``smac`` at once; returns the trials asked. Errors are raised."""
    asked: list[TrialInfo] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                info = smac.ask()
                asked.append(info)
                smac.tell(info, TrialValue(cost=quadratic(info.config)))
            except BaseException as err:  # reported below
                errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return asked


def test_ask_and_tell_from_several_threads_leave_no_trial_running(tmp_path: Path) -> None:
    """Users of Optuna's ask/tell call them from the threads of their own executor: every
    asked trial is distinct, and once all are told none is left running (before, a stored
    run ended with trials both finished and RUNNING in the history)."""
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    for seed in range(3):
        sc = scenario(space, tmp_path, n_trials=48, seed=seed, name=f"threads{seed}")
        smac = SMAC(sc, progress=False)
        asked = _ask_and_tell_in_threads(smac, 8, 6)
        assert len({(frozenset(dict(i.config).items()), i.seed) for i in asked}) == 48
        assert smac.runhistory.n_finished == 48
        assert smac.runhistory.n_running == 0
        smac.close()


def test_close_from_another_thread_waits_for_an_ask_under_way(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """close() while another thread is inside ask() closed the storage under it: ask raised
    a StorageError that called the database damaged. Now close() waits for the ask, and
    gives up the trial it handed out, which the next SMAC on the run runs again."""
    inside, resume = threading.Event(), threading.Event()

    class Hold(Callback):
        def on_ask_start(self, smac: SMAC) -> None:
            inside.set()
            resume.wait(1.0)

    sc = scenario(space, tmp_path, n_trials=5, name="close_race")
    smac = SMAC(sc, callbacks=[Hold()], progress=False)
    outcome: list[object] = []

    def ask() -> None:
        try:
            outcome.append(smac.ask())
        except BaseException as err:  # reported below
            outcome.append(err)

    asker = threading.Thread(target=ask)
    asker.start()
    assert inside.wait(5.0)
    closer = threading.Thread(target=smac.close)
    closer.start()
    closer.join(0.3)  # (with the fix it waits for the ask; the ask waits at most 1 s)
    resume.set()
    asker.join(5.0)
    closer.join(5.0)
    assert isinstance(outcome[0], TrialInfo), outcome[0]
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_stale() == 1
    assert again.ask() == outcome[0]
    again.close()


def test_close_from_another_thread_stops_a_serial_optimize(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """close() from another thread during optimize() (a notebook's or a service's thread):
    the trial under way ends and is told, then optimize() closes the object and returns the
    incumbent. Before, optimize() raised StorageError from the tell of that trial."""

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.05)
        return quadratic(config)

    sc = scenario(space, tmp_path, n_trials=1000, name="close_serial")
    smac = SMAC(sc, slow, progress=False)
    stopper = threading.Timer(0.5, smac.close)
    stopper.start()
    incumbent = smac.optimize()
    stopper.join(5.0)
    assert not stopper.is_alive()
    assert incumbent is not None
    with pytest.raises(StorageError, match=r"after close\(\)"):
        smac.tell(TrialInfo(incumbent), TrialValue(cost=0.0))
    again = SMAC(sc, progress=False)
    assert 1 <= again.runhistory.n_finished < 1000
    assert again.runhistory.n_running == 0  # the last trial was told before the close
    assert again.incumbent == incumbent
    again.close()


def test_close_from_a_callback_takes_effect_as_the_call_ends(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """close() by a callback (or a signal handler) of the same thread, inside optimize() or
    ask(): it closed the storage under the call, which then failed. Now the call completes,
    and the object closes as it ends."""

    class CloseAtThree(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            if smac.runhistory.n_finished == 3:
                smac.close()

    sc = scenario(space, tmp_path, n_trials=50, name="close_cb")
    smac = SMAC(sc, quadratic, callbacks=[CloseAtThree()], progress=False)
    assert smac.optimize() is not None
    assert smac.runhistory.n_finished == 3
    with pytest.raises(StorageError, match=r"ask\(\) after close\(\)"):
        smac.ask()

    class CloseInAsk(Callback):
        def on_ask_end(self, smac: SMAC, info: TrialInfo) -> None:
            smac.close()

    sc = scenario(space, tmp_path, n_trials=50, name="close_in_ask")
    smac = SMAC(sc, callbacks=[CloseInAsk()], progress=False)
    info = smac.ask()  # handed out, then given up by the close
    with pytest.raises(StorageError, match=r"tell\(\) after close\(\)"):
        smac.tell(info, TrialValue(cost=1.0))
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_stale() == 1
    assert again.ask() == info
    again.close()


def test_close_inside_another_threads_tell_during_optimize_returns_at_once(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """optimize() in one thread, ask() and tell() in another, whose callback (or a signal
    handler inside that tell) calls close(): close() waited for optimize() to end while its
    thread held the object's lock, which optimize() needed to tell its trial and stop: both
    hung. Now close() returns, and optimize() closes the object once that tell has ended."""
    running, release = threading.Event(), threading.Event()
    tellers: list[threading.Thread] = []

    def target(config: Configuration, seed: int) -> float:
        running.set()
        release.wait(10.0)
        return quadratic(config)

    class CloseInTell(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            if threading.current_thread() in tellers:
                release.set()  # optimize()'s trial ends: its tell waits for this one's lock
                smac.close()

    sc = scenario(space, tmp_path, n_trials=50, name="close_in_tell")
    smac = SMAC(sc, target, callbacks=[CloseInTell()], progress=False)
    optimizer = threading.Thread(target=smac.optimize, daemon=True)
    optimizer.start()
    assert running.wait(10.0)
    info = smac.ask()
    tellers.append(
        threading.Thread(target=smac.tell, args=(info, TrialValue(cost=1.0)), daemon=True)
    )
    tellers[0].start()
    tellers[0].join(10.0)
    assert not tellers[0].is_alive(), "close() in the tell hung"
    optimizer.join(10.0)
    assert not optimizer.is_alive()
    with pytest.raises(StorageError, match=r"after close\(\)"):
        smac.ask()
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_finished == 2  # optimize()'s trial and the one told
    assert again.runhistory.n_running == 0
    again.close()


def test_a_close_just_as_optimize_starts_is_not_taken_for_a_damaged_database(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A signal handler's close() that ran in optimize()'s own start, after its check that the
    object is open and before it counted as optimizing, closed the storage under the run,
    which then reported the database as damaged. Now that close() waits for the run, which
    stops at once (simulated: the check calls close(), as the handler would right after)."""
    sc = scenario(space, tmp_path, n_trials=5, name="close_at_start")
    smac = SMAC(sc, quadratic, progress=False)
    check = smac._check_open

    def check_then_close(method: str) -> None:
        check(method)
        if method == "optimize()":
            smac.close()

    smac._check_open = check_then_close  # type: ignore[method-assign]
    assert smac.optimize() is None  # stopped before any trial
    with pytest.raises(StorageError, match=r"ask\(\) after close\(\)"):
        smac.ask()
    again = SMAC(sc, progress=False)
    assert (again.runhistory.n_finished, again.runhistory.n_running) == (0, 0)
    again.close()


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM there")
def test_a_sigterm_handler_that_closes_during_a_limited_trial_records_no_result(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM handler that calls close() (a graceful stop under Slurm or Kubernetes) while
    a trial runs under trial_memory_limit: pynisher kills the trial's process with SIGKILL at
    the SIGTERM and, when the signal came just after it polled for the result, reports that
    death, which under a memory limit was recorded MEMORYOUT. The trial has no result: it is
    given up, and runs again when the run continues. (pynisher's report, simulated.)"""
    import pynisher

    def limit(*args: Any, **kwargs: Any) -> Any:
        def killed_at_a_sigterm(*args: Any, **kwargs: Any) -> Any:
            os.kill(os.getpid(), signal.SIGTERM)  # handled at once: the application's close()
            raise pynisher.PynisherException("Subprocess ended with exitcode -9")

        return killed_at_a_sigterm

    monkeypatch.setattr(pynisher, "limit", limit)
    sc = scenario(
        space, tmp_path, n_trials=5, name="sigterm", trial_walltime_limit=30,
        trial_memory_limit=4000,
    )  # fmt: skip
    smac = SMAC(sc, quadratic, progress=False)
    before = signal.signal(signal.SIGTERM, lambda signum, frame: smac.close())
    try:
        assert smac.optimize() is None
    finally:
        signal.signal(signal.SIGTERM, before)
    with pytest.raises(StorageError, match=r"after close\(\)"):
        smac.ask()
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_finished == 0, again.runhistory.status_counts()
    assert again.runhistory.n_running == again.runhistory.n_stale() == 1
    again.close()


def test_a_second_optimize_while_one_runs_says_so(space: ConfigurationSpace) -> None:
    """optimize() of one object from two threads at once shared its loop's state; the second
    call now raises, naming the thread that runs the first (from a callback too)."""
    errors: list[BaseException] = []
    others: list[threading.Thread] = []

    class SecondOptimize(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            if smac.runhistory.n_finished == 2:
                # (it waits for this tell to end; the run has three trials of 0.2 s to go)
                others.append(threading.Thread(target=_catch, args=(smac.optimize, errors)))
                others[0].start()
                _catch(smac.optimize, errors)  # and from this thread, inside the run

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.2)
        return quadratic(config)

    smac = SMAC(scenario(space, n_trials=5), slow, callbacks=[SecondOptimize()], progress=False)
    assert smac.optimize() is not None
    others[0].join(5.0)
    assert smac.runhistory.n_finished == 5
    assert [type(e) for e in errors] == [ConcurrencyError, ConcurrencyError]
    here = f"optimize() runs in thread {threading.current_thread().name!r}"
    assert all(here in str(e) for e in errors), errors
    smac.close()


def _catch(call: Any, errors: list[BaseException]) -> None:
    try:
        call()
    except BaseException as err:  # reported by the caller
        errors.append(err)


def test_tell_names_the_argument_that_is_not_a_trial_info_or_a_trial_value(
    space: ConfigurationSpace,
) -> None:
    """A SMAC3 or Optuna user passes the cost itself, or the configuration: the message says
    which argument is wrong and how to build the right one, not both reprs in one line."""
    smac = SMAC(scenario(space, n_trials=5), progress=False)
    info = smac.ask()
    with pytest.raises(TrialError, match=r"value must be a smacx\.TrialValue.*got float 1\.5") as e:
        smac.tell(info, 1.5)  # type: ignore[arg-type]
    assert "TrialValue(cost=1.5)" in str(e.value)
    with pytest.raises(TrialError, match=r"info must be the TrialInfo that ask\(\) returned"):
        smac.tell(info.config, TrialValue(cost=1.0))  # type: ignore[arg-type]
    smac.tell(info, TrialValue(cost=1.5))  # nothing was recorded by the refused calls
    assert smac.runhistory.n_finished == 1


def test_a_cost_of_the_wrong_length_says_how_to_give_one_per_objective(
    space: ConfigurationSpace,
) -> None:
    smac = SMAC(scenario(space, n_trials=5, objectives=["error", "size"]), progress=False)
    info = smac.ask()
    with pytest.raises(TrialError) as e:
        smac.tell(info, TrialValue(cost=0.5))
    message = str(e.value)
    assert "value.cost" in message and "['error', 'size']" in message
    assert "TrialValue(cost=[error, size])" in message and "got 1 (0.5)" in message
    assert smac.runhistory.n_running == 1  # still asked: it may be told again
    smac.tell(info, TrialValue(cost=[0.5, 3.0]))
    assert smac.runhistory.n_finished == 1


_EXHAUSTED_SPACE_SCRIPT = """
import logging, sys
from ConfigSpace import Categorical, ConfigurationSpace
from smacx import SMAC, Scenario

logging.basicConfig(level=logging.INFO)
if "capture" in sys.argv:
    logging.captureWarnings(True)
space = ConfigurationSpace(seed=0)
space.add(Categorical("c", ["a", "bb", "ccc"]))
sc = Scenario(space, n_trials=10, deterministic=True, seed=0, output_directory=None)
SMAC(sc, lambda config: len(config["c"]), progress=False).optimize()
"""


@pytest.mark.parametrize("capture", [False, True])
def test_a_warning_about_the_run_is_shown_once_with_logging_set_up(capture: bool) -> None:
    """With the README's ``logging.basicConfig(level=logging.INFO)`` (and with
    ``logging.captureWarnings(True)``), the early stop of an exhausted space was printed twice:
    once by the "smacx" logger and once as a Python warning (an audit's finding)."""
    out = subprocess.run(
        [sys.executable, "-c", _EXHAUSTED_SPACE_SCRIPT, *(["capture"] if capture else [])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Stopping before n_trials") == 1, out.stderr


def test_log_records_do_not_run_into_the_progress_bar(
    space: ConfigurationSpace, capsys: pytest.CaptureFixture[str]
) -> None:
    """An application that logs to stderr saw each of smacx's records glued to the end of the
    progress bar ("... ?trial/s]INFO:smacx:New incumbent ...", an audit's finding): the bar is
    cleared before a record and drawn again after it."""
    import logging

    handler = logging.StreamHandler(sys.stderr)  # (sys.stderr is capsys's here)
    log = logging.getLogger("smacx")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        smac = SMAC(scenario(space, n_trials=12), quadratic, progress=True)
        smac.optimize()
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    err = capsys.readouterr().err
    segments = [s for line in err.split("\n") for s in line.split("\r")]
    assert any("New incumbent" in s for s in segments), err
    glued = [s for s in segments if "trial/s]" in s and "ncumbent" in s]
    assert not glued, glued
    assert "\nsmacx run" in err, err  # the summary, after the bar's last line
    assert not log.filters  # the bar's filter is gone with the bar


def test_workers_restarted_on_a_shared_run_do_not_replay_one_another_into_exhaustion(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pairs of random-search workers (same scenario, hence the same seed) restarted on one run,
    as preempted workers are: each start used to replay the draws of the earlier ones, and
    workers started together pushed one another to the larger batches, until every draw of the
    give-up horizon had been tried and a fresh process called the continuous space exhausted
    (at the real horizon of 4,080 draws after some 20 restarts and 5,686 configurations;
    here the horizon is shortened to 112 draws, reached at the fourth pair before)."""
    from smacx import selector as selector_module

    monkeypatch.setattr(selector_module, "_BARREN_BATCHES", 3)  # 16 + 32 + 64 draws
    sc = scenario(space, tmp_path, n_trials=10**6, name="restarted", seed=0)
    for _ in range(6):
        workers = [SMAC(sc, preset="random", progress=False) for _ in range(2)]
        try:
            for _ in range(40):
                for smac in workers:  # taking turns, as two processes started together
                    info = smac.ask()
                    smac.tell(info, TrialValue(cost=quadratic(info.config)))
        finally:
            for smac in workers:
                smac.close()
    with SMAC(sc, preset="random", progress=False) as smac:
        assert smac.runhistory.n_finished == 6 * 2 * 40
        info = smac.ask()  # raised SearchSpaceExhaustedError before
        assert not smac.runhistory.get_trial_values(info.config)


def test_warnings_of_optimize_point_at_the_applications_line(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A warning about the run as a whole names the line that called optimize(), not a line
    inside smacx (they pointed into facade.py, one call too shallow; an audit's finding)."""

    def broken(config: Configuration, seed: int) -> float:
        raise ValueError("a bug")

    sc = scenario(space, tmp_path, n_trials=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SMAC(sc, broken, progress=False, raise_on_first_crash=False).optimize()  # no incumbent
        SMAC(sc, broken, progress=False, raise_on_first_crash=False).optimize()  # done already
    messages = [(str(w.message)[:40], w.filename) for w in caught if w.category is UserWarning]
    assert len(messages) == 3, messages  # without an incumbent, twice; n_trials done, once
    assert all(filename == __file__ for _, filename in messages), messages


def test_a_continued_run_whose_walltime_is_spent_says_so(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A script run again (say, after a fix to its target) on a run whose walltime_limit its
    earlier optimize() spent runs nothing: it says so, as for n_trials (it was silent)."""

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.3)
        return float(config["x"])

    sc = scenario(space, tmp_path, n_trials=50, walltime_limit=1.0)
    SMAC(sc, slow, progress=False).optimize()
    again = SMAC(sc, slow, progress=False)
    before = again.runhistory.n_finished
    with pytest.warns(UserWarning, match=r"spent its walltime_limit=1 s \(\d+\.\d s spent\)"):
        again.optimize()
    assert again.runhistory.n_finished == before and 0 < before < 50


def test_a_stored_trial_on_an_instance_of_no_scenario_is_recorded_not_run(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A running trial written into a shared run's database with an instance the knob file
    never listed was taken over and run with it (a security audit's finding: the command got
    `--delete-everything=/home`), then refused when told, on every later start. It is now
    recorded CRASHED, and never run."""
    ran: list[str] = []

    def target(config: Configuration, instance: str, seed: int) -> float:
        ran.append(instance)
        return 1.0

    sc = scenario(space, tmp_path, n_trials=4, instances=["i1", "i2"], name="r")
    with SMAC(sc, target, progress=False) as smac:
        planted = TrialInfo(space.get_default_configuration(), "--delete-everything=/home", 0)
        smac.runhistory.add_running(planted)
        smac.runhistory.release(planted)
    with SMAC(sc, target, progress=False) as smac:
        smac.optimize()
        value = smac.runhistory[smac.runhistory.key_of(planted)]
    assert "--delete-everything=/home" not in ran and set(ran) <= {"i1", "i2"}
    assert value.status is StatusType.CRASHED
    assert "not a trial of this run's scenario" in value.additional_info["error"]
    assert smac.runhistory.n_running == 0


def test_a_call_that_fails_as_it_starts_leaves_no_thread_counting_its_time(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under -W error, the warning of a second optimize() on a spent walltime_limit raised
    after the record of the call's time started, and its thread went on writing: the idle
    time after the call counted towards walltime_limit (a review's finding)."""
    from smacx.session import SPENT

    monkeypatch.setattr(session_module.Spent, "_BEAT", 0.05)

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.2)
        return float(config["x"])

    smac = SMAC(scenario(space, tmp_path, n_trials=50, walltime_limit=0.5), slow, progress=False)
    smac.optimize()
    before = set(threading.enumerate())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="spent its walltime_limit"):
            smac.optimize()
    assert smac.stop_reason == "an error: UserWarning"
    session = json.loads(smac.runhistory.storage.get_meta(session_module.SESSIONS) or "[]")[-1]
    ended = json.loads(smac.runhistory.storage.get_meta(SPENT + session) or "{}")["wall"]
    time.sleep(0.3)
    assert not [t for t in set(threading.enumerate()) - before if t.name == "smacx-spent"]
    record = json.loads(smac.runhistory.storage.get_meta(SPENT + session) or "{}")
    assert record["wall"] == ended and record["open"] is False


def test_a_run_whose_time_is_spent_starts_no_cluster(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A run with n_workers=2 whose walltime_limit earlier calls spent started a LocalCluster
    of 2 processes (8 s) as SMAC was built, to run nothing (a stopping audit's finding)."""
    from smacx.runners.serial import SerialRunner

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.2)
        return float(config["x"])

    one = scenario(space, tmp_path, n_trials=50, walltime_limit=0.5, name="r")
    SMAC(one, slow, progress=False).optimize()
    two = dataclasses.replace(one, n_workers=2)
    smac = SMAC(two, slow, progress=False)
    assert isinstance(smac.runner, SerialRunner)
    with pytest.warns(UserWarning, match="spent its walltime_limit"):
        smac.optimize()
    assert isinstance(smac.runner, SerialRunner) and smac.runhistory.n_running == 0
    smac.close()
    # nor one whose incumbent meets termination_cost_threshold (a review's finding)
    met = scenario(space, tmp_path, n_trials=50, termination_cost_threshold=0.9, name="t")
    SMAC(met, slow, progress=False).optimize()
    with SMAC(dataclasses.replace(met, n_workers=2), slow, progress=False) as smac:
        assert isinstance(smac.runner, SerialRunner)
        with pytest.warns(UserWarning, match="meets termination_cost_threshold"):
            smac.optimize()
        assert isinstance(smac.runner, SerialRunner)


def test_optimize_again_after_a_limit_or_threshold_says_so_and_why_it_stopped(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """optimize() called again on one object whose walltime_limit was spent, or whose
    incumbent met termination_cost_threshold, ran nothing and said nothing; a new object on a
    run that met its threshold said nothing either. stop_reason says why each call returned
    (a stopping audit's findings)."""

    def slow(config: Configuration, seed: int) -> float:
        time.sleep(0.3)
        return float(config["x"])

    smac = SMAC(scenario(space, tmp_path, n_trials=50, walltime_limit=1.0), slow, progress=False)
    assert smac.stop_reason is None
    smac.optimize()
    assert smac.stop_reason == "walltime_limit of 1 s reached"
    with pytest.warns(UserWarning, match=r"optimize\(\): run .* spent its walltime_limit=1 s "):
        smac.optimize()
    sc = scenario(space, tmp_path / "t", n_trials=50, termination_cost_threshold=0.9)
    smac = SMAC(sc, lambda config, seed: float(config["x"]), progress=False)
    smac.optimize()
    assert smac.stop_reason.startswith("the incumbent's cost ")
    with pytest.warns(
        UserWarning,
        match=r"optimize\(\): .* meets termination_cost_threshold.* a lower threshold \(or none\)",
    ):
        smac.optimize()
    with pytest.warns(
        UserWarning,
        match=r"run .* meets termination_cost_threshold=0\.9: this.* Lower the threshold",
    ):
        SMAC(sc, lambda config, seed: float(config["x"]), progress=False).optimize()
    smac = SMAC(scenario(space, n_trials=3), lambda config, seed: 1.0, progress=False)
    smac.optimize()
    assert smac.stop_reason == "n_trials=3 reached"
    smac = SMAC(scenario(space, n_trials=3), lambda config, seed: 1 / 0, progress=False)
    with pytest.raises(TargetCrashedError):
        smac.optimize()
    assert smac.stop_reason == "an error: TargetCrashedError"


def test_budgets_under_the_racing_preset_are_warned_of(space: ConfigurationSpace) -> None:
    """Budgets with preset="hpo" ran every trial at max_budget without a word: a user of
    SMAC3's multi-fidelity facade who forgot the preset got no multi-fidelity at all."""
    sc = scenario(space, n_trials=40, min_budget=1, max_budget=27)
    with pytest.warns(UserWarning, match=r"every trial runs at 27\. For multi-fidelity, use "):
        SMAC(sc, progress=False).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(sc, preset="multifidelity", progress=False).close()
        SMAC(sc, intensifier=Intensifier(), progress=False).close()  # at max_budget on purpose
        one = scenario(space, n_trials=3, min_budget=27, max_budget=27)
        SMAC(one, progress=False).close()  # (a single budget: nothing to say)


def test_summary_and_the_no_incumbent_warning_name_why_trials_failed(tmp_path: Path) -> None:
    """summary() and the warning at the end of a run where nothing worked counted failed
    trials but gave no reason (smacx show did). Reading a conditional hyperparameter that is
    inactive says so (a KeyError of ConfigSpace's alone, in 7 of 30 trials of an audit's run)."""
    from ConfigSpace import Categorical, EqualsCondition, Float

    space = ConfigurationSpace(seed=0)
    space.add([Categorical("kernel", ["poly", "rbf"]), Float("degree", (1.0, 5.0))])
    space.add(EqualsCondition(space["degree"], space["kernel"], "poly"))

    def reads_degree(config: Configuration, seed: int) -> float:
        return float(config["degree"]) if config["kernel"] == "poly" else config["degree"]

    smac = SMAC(scenario(space, tmp_path, n_trials=12), reads_degree, raise_on_first_crash=False)
    smac.optimize()
    crashed = smac.runhistory.status_counts().get("CRASHED", 0)
    assert crashed > 0
    summary = smac.summary()
    assert "  failed, most often:\n" in summary
    assert (
        f"    {crashed} CRASHED: KeyError: 'degree' ('degree' is inactive in this "
        "configuration, its condition unmet, so it holds no value: read it with "
        "config.get('degree'), which gives None then)"
    ) in summary

    def broken(config: Configuration, seed: int) -> float:
        raise ValueError("the data file is missing")

    quad = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with pytest.warns(UserWarning, match=r"most often, 3 times: ValueError: the data file is"):
        SMAC(scenario(quad, n_trials=3), broken, raise_on_first_crash=False).optimize()


def test_an_initial_design_as_large_as_the_run_is_warned_of(space: ConfigurationSpace) -> None:
    """InitialDesign(n_configs=30) in a run of 20 trials made the whole run a design, with no
    word (a porting audit's finding); one smaller than the run says nothing."""
    sc = scenario(space, n_trials=20)
    with pytest.warns(UserWarning, match=r"holds 30 configurations, as many as n_trials=20 or"):
        SMAC(sc, quadratic, initial_design=InitialDesign(n_configs=30), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(sc, quadratic, initial_design=InitialDesign(n_configs=5), progress=False)


def test_an_initial_design_of_dicts_runs_them_first(space: ConfigurationSpace) -> None:
    """Known settings given as dicts (Optuna's enqueue_trial) are the first trials; a dict
    that is no configuration of the space is refused when SMAC is built, by its place."""
    design = InitialDesign(n_configs=3, additional_configs=[{"x": 1.5, "y": -2.0}])
    smac = SMAC(scenario(space, n_trials=4), quadratic, initial_design=design, progress=False)
    assert dict(smac.ask().config) == {"x": 1.5, "y": -2.0}
    bad = InitialDesign(additional_configs=[{"x": 1.5, "y": -2.0}, {"x": 1.5}])
    with pytest.raises(ScenarioError, match=r"additional_configs\[1\] is no configuration"):
        SMAC(scenario(space, n_trials=4), quadratic, initial_design=bad, progress=False)


def _target_from(path: Path, body: str) -> Any:
    """A function ``target`` written to the file ``path`` and imported from it (its source,
    as a script's function has one)."""
    import importlib.util

    path.write_text(f"def target(config, seed):\n    {body}\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.target


def test_a_run_continued_with_a_changed_target_says_so(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A script run again after its target was fixed continued the run on the old code's
    results, saying so only at INFO (a porting audit's finding): the target's source is
    recorded with the run, and a change is warned of once."""
    buggy = _target_from(tmp_path / "v1.py", 'return -float(config["x"])  # the sign is wrong')
    fixed = _target_from(tmp_path / "v2.py", 'return float(config["x"])')
    runs = tmp_path / "runs"
    SMAC(scenario(space, runs, n_trials=3), buggy, progress=False).optimize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(scenario(space, runs, n_trials=4), buggy, progress=False).close()  # the same code
    with pytest.warns(UserWarning, match=r"code changed since run .* its 3 finished trial\(s\)"):
        SMAC(scenario(space, runs, n_trials=4), fixed, progress=False).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(scenario(space, runs, n_trials=4), fixed, progress=False).close()  # warned once
        # A first session that finished nothing leaves no old results: the new code's are
        # not taken for old ones later (a review's finding).
        other = scenario(space, runs, n_trials=3, name="other")
        SMAC(other, buggy, progress=False).close()
        SMAC(other, fixed, progress=False).optimize()
        SMAC(other, fixed, progress=False).close()
    # A function of another name, as a script's `buggy` replaced by `fixed`, is named.
    renamed = _target_from(tmp_path / "v3.py", 'return 2 * float(config["x"])')
    renamed.__qualname__ = "fixed_again"
    with pytest.warns(UserWarning, match=r"is 'fixed_again', where run .* last ran 'target': "):
        SMAC(other, renamed, progress=False).close()


def test_a_run_without_a_name_is_refused_to_another_target(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A sweep over models on one Scenario without a name, in threads at once or one after
    another, mixed the models' costs in one run, named by the scenario alone; the later
    models were warned of it only when the run had results (an audit's finding)."""
    import threading

    first = _target_from(tmp_path / "a.py", 'return float(config["x"])')
    second = _target_from(tmp_path / "b.py", 'return 1000 + float(config["x"])')
    first.__qualname__, second.__qualname__ = "model_a", "model_b"
    runs = tmp_path / "runs"
    SMAC(scenario(space, runs, n_trials=3), first, progress=False).close()  # nothing finished
    with pytest.raises(
        ScenarioMismatchError,
        match=r"is a run of the target function 'model_a'; this SMAC's target is 'model_b'\. "
        r"Give each target a run of its own, Scenario\(\.\.\., name='model_b'\)",
    ):
        SMAC(scenario(space, runs, n_trials=3), second, progress=False)
    # named runs of their own, at once in threads: each has its own costs
    results: dict[str, float] = {}

    def sweep(target: Any) -> None:
        named = scenario(space, runs, n_trials=4, name=target.__qualname__)
        with SMAC(named, target, progress=False) as smac:
            smac.optimize()
            results[target.__qualname__] = min(v.costs()[0] for v in smac.runhistory.values())

    threads = [threading.Thread(target=sweep, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["model_a"] < 500 < results["model_b"]
    # the renamed target goes on with the run under its name, with the warning
    named = scenario(space, runs, n_trials=3, name=scenario(space, runs).run_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (nothing finished in it)
        SMAC(named, second, progress=False).close()


def test_a_run_continued_with_another_preset_says_so(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Comparing presets on one Scenario continued the first preset's run (a porting audit's
    finding): the preset is recorded with the run, and a change is warned of once."""
    runs = tmp_path / "runs"
    SMAC(scenario(space, runs, n_trials=3), quadratic, progress=False).optimize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(scenario(space, runs, n_trials=4), quadratic, progress=False).close()
    with pytest.warns(
        UserWarning, match=r"ran with preset='hpo' so far; this SMAC uses .*'random'"
    ):
        SMAC(scenario(space, runs, n_trials=4), quadratic, preset="random", progress=False).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(scenario(space, runs, n_trials=4), quadratic, preset="random", progress=False).close()
        # a run that finished nothing under its first preset has no results to speak of
        other = scenario(space, runs, n_trials=3, name="other")
        SMAC(other, quadratic, progress=False).close()
        SMAC(other, quadratic, preset="random", progress=False).close()
    # workers started together, with no result yet: the run is open in the other (a
    # shared-run audit's finding: such workers shared the run without a word)
    together = scenario(space, runs, n_trials=3, name="together")
    both = r"open in another process \(or SMAC object\) with preset='hpo'; this SMAC uses "
    with SMAC(together, quadratic, progress=False), pytest.warns(UserWarning, match=both):
        SMAC(together, quadratic, preset="random", progress=False).close()


def test_a_nan_from_the_first_trial_is_recorded_and_the_run_goes_on() -> None:
    """A diverged training run is a result, not a bug: with a learning rate up to 1, one in
    five first trials returns NaN, and the run ended after it (a multi-fidelity audit's
    finding). A target that raises still stops it."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)

    def diverges_first(config: Configuration, seed: int) -> float:
        return math.nan if smac.runhistory.n_finished == 0 else config["x"]

    smac = SMAC(Scenario(space, n_trials=4, output_directory=None), diverges_first)
    smac.optimize()
    statuses = [v.status for _, v in smac.runhistory.items()]
    assert statuses[0] is StatusType.CRASHED and statuses[1:] == [StatusType.SUCCESS] * 3


def test_a_result_told_by_hand_keeps_when_its_trial_ran() -> None:
    """TrialValue's times default to 0: a told trial started in 1970, and `smacx show
    --trials` listed the last one told first (a docs audit's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    smac = SMAC(Scenario(space, n_trials=3, output_directory=None), progress=False)
    before = time.time()
    for _ in range(3):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=info.config["x"]))
    values = [v for _, v in smac.runhistory.finished()]
    starts = [v.starttime for v in values]
    assert before <= starts[0] <= starts[1] <= starts[2] <= time.time()
    assert all(v.endtime >= v.starttime for v in values)
    # times given are kept as given, as are those of a trial never asked
    info = smac.ask()
    smac.tell(info, TrialValue(cost=1.0, starttime=5.0, endtime=6.0))
    config = space.sample_configuration()
    smac.tell(TrialInfo(config, seed=1), TrialValue(cost=1.0))
    values = [v for _, v in smac.runhistory.finished()]
    assert (values[3].starttime, values[3].endtime) == (5.0, 6.0)
    assert (values[4].starttime, values[4].endtime) == (0.0, 0.0)


def test_a_trial_info_that_went_through_pickle_can_be_told() -> None:
    """Trials run in a process pool come back pickled; ConfigSpace 1.2 finds a space with a
    log-scale integer unequal to its copy (an audit's finding: tell() refused the config as
    one of another space, and the trials stayed running)."""
    import pickle

    from ConfigSpace import Integer

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    space.add(Integer("n", (1, 100), log=True))
    smac = SMAC(Scenario(space, n_trials=4, output_directory=None), progress=False)
    for _ in range(2):
        info = pickle.loads(pickle.dumps(smac.ask()))
        smac.tell(info, TrialValue(cost=info.config["x"]))
    assert smac.runhistory.n_finished == 2 and smac.runhistory.n_running == 0


def test_a_new_unnamed_run_next_to_others_says_what_differs_from_the_latest(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An analysis script rebuilt a finished run's scenario with another seed and read an
    empty new run without a word (an audit's finding)."""
    runs = tmp_path / "runs"
    SMAC(scenario(space, runs, n_trials=3, seed=0), quadratic, progress=False).optimize()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smacx"):
        reader = SMAC(scenario(space, runs, n_trials=3, seed=1), progress=False)
    assert reader.runhistory.n_finished == 0
    [record] = [r for r in caplog.records if "is new and empty" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "differs from this scenario in seed: stored 0, given 1" in record.getMessage()
    reader.close()
    # with a target, a new run is what one expects more often: said at INFO
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smacx"):
        SMAC(scenario(space, runs, n_trials=3, seed=2), quadratic, progress=False).close()
    [record] = [r for r in caplog.records if "is new and empty" in r.getMessage()]
    assert record.levelno == logging.INFO
    # the same scenario continues its run, and a named one is the user's choice: not said
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="smacx"):
        SMAC(scenario(space, runs, n_trials=3, seed=0), progress=False).close()
        SMAC(scenario(space, runs, n_trials=3, seed=1, name="mine"), progress=False).close()
    assert "is new and empty" not in caplog.text


def test_a_run_of_this_scenario_under_an_older_fingerprint_is_named_at_warning(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An upgrade changed unnamed runs' fingerprints once: the same script then started a new,
    empty run and said so at INFO only (an upgrade audit's finding). A run made with the very
    same scenario is named in a UserWarning, even when it is not the latest."""
    runs = tmp_path / "runs"
    first = scenario(space, runs, n_trials=3, seed=0)
    SMAC(first, quadratic, progress=False).optimize()
    assert first.output_path is not None
    first.output_path.rename(runs / "0123456789abcdef")  # (as an older smacx named it)
    SMAC(scenario(space, runs, n_trials=3, seed=3), quadratic, progress=False).optimize()
    with pytest.warns(UserWarning, match="is new and empty") as caught:
        SMAC(scenario(space, runs, n_trials=3, seed=0), quadratic, progress=False).close()
    [message] = [str(w.message) for w in caught if "is new and empty" in str(w.message)]
    assert "among them '0123456789abcdef', made with this scenario: pass " in message
    assert "Scenario(name='0123456789abcdef')" in message


def test_a_run_stored_by_a_newer_smacx_is_refused_not_overwritten(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A run states the format it is stored in; one from a newer smacx is refused with advice
    to upgrade, and a stored identity with fields this smacx does not know says a newer smacx
    may have written it, rather than only "pass overwrite=True" (an upgrade audit's finding)."""
    import sqlite3

    from smacx.cli import run_report
    from smacx.errors import ScenarioMismatchError, StorageError
    from smacx.storage import RUN_FORMAT

    sc = scenario(space, tmp_path, n_trials=3)
    SMAC(sc, quadratic, progress=False).optimize()
    assert sc.output_path is not None
    database = sc.output_path / "runhistory.db"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        (stamped,) = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        assert stamped == str(RUN_FORMAT)
        with conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (str(RUN_FORMAT + 1),))
    with pytest.raises(StorageError, match=r"stored by a newer smacx \(run format '2'.*upgrade"):
        SMAC(sc, quadratic, progress=False)
    with pytest.raises(StorageError, match=r"^smacx show: .*stored by a newer smacx"):
        run_report(sc.output_path)
    # the same run at this format, with an identity field this smacx does not know
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (str(RUN_FORMAT),))
        (text,) = conn.execute("SELECT value FROM meta WHERE key = 'scenario'").fetchone()
        identity = {**json.loads(text), "objective_directions": ["minimize"]}
        conn.execute("UPDATE meta SET value = ? WHERE key = 'scenario'", (json.dumps(identity),))
    with pytest.raises(ScenarioMismatchError, match="a newer smacx may have written it"):
        SMAC(sc, quadratic, progress=False)
    assert run_report(sc.output_path)["trials"] == {"SUCCESS": 3}


def test_with_instances_and_priors_the_design_holds_the_default_and_the_priors_mode() -> None:
    """Algorithm configuration races the default first; with weighted priors, where they
    peak is tried too (a review's finding: the instances' design left the mode out)."""
    from ConfigSpace import Float, Normal

    from smacx.acquisition import PriorWeighted

    space = ConfigurationSpace(seed=0)
    space.add(Float("x", (0.0, 10.0), default=0.0, distribution=Normal(7.0, 1.0)))
    scenario = Scenario(
        space, n_trials=6, instances=["a", "b"], deterministic=True, output_directory=None
    )
    smac = SMAC(scenario, lambda config, instance: config["x"], acquisition=PriorWeighted())
    smac.optimize()
    tried = {c["x"] for c in smac.runhistory.get_configs()}
    assert {0.0, 7.0} <= tried


def test_reading_a_run_leaves_its_preset_and_ask_records_it(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """An object built without a target only to read a run (an audit's finding) recorded
    its default preset as the run's, and the run's next resume warned of a change."""
    runs = tmp_path / "runs"
    SMAC(scenario(space, runs, n_trials=3), quadratic, preset="random", progress=False).optimize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reader = SMAC(scenario(space, runs, n_trials=3), progress=False)
        assert reader.runhistory.n_finished == 3
        reader.close()
        SMAC(scenario(space, runs, n_trials=4), quadratic, preset="random", progress=False).close()
    asker = SMAC(scenario(space, runs, n_trials=4), progress=False)  # preset "hpo"
    with pytest.warns(UserWarning, match=r"ran with preset='random' so far; this SMAC uses "):
        asker.ask()
    asker.close()


def test_incumbent_cost_is_the_cost_the_incumbent_was_chosen_by(
    space: ConfigurationSpace,
) -> None:
    """Optuna's best_value: the mean over the seeds the incumbent did not fail on."""

    def fails_on_odd_seeds(config: Configuration, seed: int) -> float:
        if seed % 2:
            raise RuntimeError("odd seed")
        return quadratic(config)

    sc = scenario(space, n_trials=12, deterministic=False)
    smac = SMAC(sc, fails_on_odd_seeds, progress=False, raise_on_first_crash=False)
    assert smac.incumbent_cost is None and smac.incumbent_costs == []
    incumbent = smac.optimize()
    assert incumbent is not None
    values = smac.runhistory.get_trial_values(incumbent).values()
    ok = [v.cost for v in values if math.isfinite(v.cost)]
    assert ok and len(ok) < len(values)
    assert smac.incumbent_cost == pytest.approx(sum(ok) / len(ok))
    assert smac.incumbent_costs == [smac.incumbent_cost]
    two = SMAC(
        scenario(space, n_trials=3, objectives=["a", "b"]),
        lambda config, seed: {"a": 1.0, "b": 2.0},
        progress=False,
    )
    two.optimize()
    assert two.incumbent_costs == [1.0, 2.0]
    with pytest.raises(ScenarioError, match=r"2 objectives \['a', 'b'\].*incumbent_costs"):
        _ = two.incumbent_cost


def test_a_categorical_of_tuples_is_optimized_and_continued(tmp_path: Path) -> None:
    """Tuple choices became a second axis of a numpy array, and SMAC() raised ConfigSpace's
    "unhashable type" (a fuzzing audit's finding; ConfigSpace samples such a space)."""
    from ConfigSpace import Categorical

    cs = ConfigurationSpace({"c": Categorical("c", [(1, 2), (3, 4)]), "x": (0.0, 1.0)}, seed=0)
    sc = Scenario(cs, n_trials=6, output_directory=tmp_path, deterministic=True)

    def target(config: Configuration, seed: int) -> float:
        return config["x"] + config["c"][0]

    with SMAC(sc, target, progress=False) as smac:
        assert smac.optimize()["c"] == (1, 2)  # type: ignore[index]
    with SMAC(dataclasses.replace(sc, n_trials=10), target, progress=False) as smac:
        assert smac.optimize()["c"] == (1, 2)  # type: ignore[index]
        assert smac.runhistory.n_finished == 10


def test_the_blackbox_preset_warns_of_a_space_it_suits_poorly(space: ConfigurationSpace) -> None:
    """The GP ran on categorical, conditional and 20-d spaces without a word, far behind the
    forest on them (a GP audit's finding)."""
    from ConfigSpace import Categorical

    from smacx.models import RandomForest

    mixed = ConfigurationSpace({"x": (0.0, 1.0), "c": Categorical("c", ["a", "b", "d"])})
    with pytest.warns(UserWarning, match=r"has categorical hyperparameters \['c'\]\. preset='hpo'"):
        SMAC(scenario(mixed), preset="blackbox")
    wide = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(12)})
    with pytest.warns(UserWarning, match="this one has 12 dimensions"):
        SMAC(scenario(wide), preset="blackbox")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(scenario(space), preset="blackbox")  # (2-d, continuous)
        SMAC(scenario(mixed), preset="blackbox", model=RandomForest())  # (the user's choice)
        SMAC(scenario(space, n_trials=300), preset="blackbox")


def test_the_blackbox_preset_warns_of_a_run_too_long_for_a_gp(space: ConfigurationSpace) -> None:
    """The GP's fit takes about 13 s at 500 observations: a run of 1,000 trials with it slowed
    to a crawl without a word."""
    with pytest.warns(UserWarning, match=r"n_trials=1000\. Its fit .* preset='hpo'"):
        SMAC(scenario(space, n_trials=1000), preset="blackbox")


DEADLY_CONFIG = """
import os, signal, sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario

def target(config, seed):
    if config["x"] < -1.0:  # a configuration the target's process does not survive
        os.kill(os.getpid(), signal.SIGSEGV)
    return config["x"] ** 2

space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
sc = Scenario(space, n_trials=8, deterministic=True, output_directory=sys.argv[1], seed=1)
with SMAC(sc, target, raise_on_first_crash=False, progress=False) as smac:
    smac.optimize()
    print(smac.runhistory.status_counts())
    print([v.additional_info.get("error") for _, v in smac.runhistory.items() if v.cost > 99])
"""


@pytest.mark.slow
def test_a_trial_that_kills_its_process_is_recorded_crashed_after_three_deaths(
    tmp_path: Path,
) -> None:
    """Without per-trial limits, a configuration that segfaults killed the run, and every
    resumed run took its RUNNING trial over first and died the same way (5 of 5 sessions, a
    failure audit's finding). The third process to die running it is the last."""
    from smacx.runhistory import MAX_DEATHS

    codes = []
    for _ in range(MAX_DEATHS + 1):
        done = subprocess.run(
            [sys.executable, "-c", DEADLY_CONFIG, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        codes.append(done.returncode)
    assert codes == [-signal.SIGSEGV] * MAX_DEATHS + [0], done.stderr
    counts, errors = done.stdout.splitlines()
    assert counts == "{'CRASHED': 1, 'SUCCESS': 7}", done.stdout
    assert "3 processes died while they ran this trial" in errors


@pytest.mark.parametrize(
    "settings", [Intensifier(), Hyperband(n_seeds=2)], ids=["racing", "hyperband"]
)
def test_a_seedless_target_raced_on_several_seeds_warns(
    space: ConfigurationSpace, settings: Any
) -> None:
    """A target without ``seed`` on a scenario that is not deterministic runs configurations
    again on other seeds: exact repeats (Hyperband(n_seeds=2) repeated 15 of 40 trials, with
    no warning; racing warned). A target with a seed, or a deterministic scenario, does not
    warn."""
    extra: dict[str, Any] = (
        {} if isinstance(settings, Intensifier) else {"min_budget": 1, "max_budget": 9}
    )

    def seedless(config: Configuration, budget: float = 1.0) -> float:
        return quadratic(config)

    def seeded(config: Configuration, seed: int, budget: float = 1.0) -> float:
        return quadratic(config)

    sc = Scenario(space, output_directory=None, deterministic=False, **extra)
    with pytest.warns(UserWarning, match="the target takes no seed, and the scenario is not"):
        SMAC(sc, seedless, intensifier=settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(sc, seeded, intensifier=settings)
        SMAC(dataclasses.replace(sc, deterministic=True), seedless, intensifier=Intensifier())


def test_hyperband_seeds_on_a_deterministic_scenario_say_they_are_not_used(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """Hyperband(n_seeds=3) on a deterministic scenario: with instances, one seed per instance
    and a warning (as racing's max_config_calls warns); without, the error names
    deterministic (it told the user to pass the n_seeds=3 they had passed)."""
    sc = Scenario(space, output_directory=None, deterministic=True, instances=["a", "b", "c"])
    with caplog.at_level("WARNING", logger="smacx"):
        smac = SMAC(sc, intensifier=Hyperband(n_seeds=3))
    assert "Hyperband(n_seeds=3): a deterministic scenario runs a" in caplog.text
    assert len(smac.intensifier.keys) == 3
    alone = dataclasses.replace(sc, instances=None)
    with pytest.raises(ScenarioError, match=r"races on seeds, but the scenario is deterministic"):
        SMAC(alone, intensifier=Hyperband(n_seeds=3))


def test_with_instances_the_spaces_default_configuration_is_raced_first(
    space: ConfigurationSpace,
) -> None:
    """Algorithm configuration (SMAC3's facade for it, ParamILS, irace) races challengers
    against the solver's default; an audit's run never tried it and returned a configuration
    worse than the default. The random baselines and a design given keep theirs."""
    default = space.get_default_configuration()
    sc = scenario(space, n_trials=20, instances=["a", "b"])
    for preset in ("hpo", "multifidelity"):
        smac = SMAC(sc, preset=preset)
        assert smac.ask().config == default
    for preset in ("random", "hyperband"):
        assert SMAC(sc, preset=preset).ask().config != default
    assert SMAC(scenario(space, n_trials=20)).ask().config != default  # no instances
    given = InitialDesign(kind="random", n_configs=3)
    assert SMAC(sc, initial_design=given).ask().config != default


def test_optimize_says_when_the_last_trials_run_in_another_process(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Every trial of n_trials started, one in a process on another host (killed, say): a
    process started then returned at once, without a word (a shared-run audit's finding). It
    now names the trial's process and when its lease lets another process take it over."""
    from smacx.storage import TrialRecord
    from smacx.trial import TrialKey

    sc = scenario(space, tmp_path, n_trials=2)
    with SMAC(sc, quadratic, progress=False) as smac:
        info = smac.ask()
        smac.tell(info, TrialValue(cost=quadratic(info.config)))
        history = smac.runhistory
        config_id = history.add_config(space.sample_configuration())
        now = history.now()
        running = TrialValue(status=StatusType.RUNNING, starttime=now)
        record = TrialRecord(
            TrialKey(config_id, None, 0, None), running, "far+m1:4242:0:x", now + 300
        )
        assert history.storage.claim_trial(record, now)
    with SMAC(sc, quadratic, progress=False) as smac:
        elsewhere = (
            r"1 still run\(s\) .* \(the first to be free: config 2, seed 0, on host far, pid 4242"
        )
        with pytest.warns(
            UserWarning, match=elsewhere + r".* once its lease ends \(in (2\d\d|300) s\)"
        ):
            smac.optimize()
        assert smac.runhistory.n_finished == 1


def _claim_elsewhere(history: Any, config: Any, lease: float) -> None:
    """Store ``config`` as running in a process on another host whose lease ends in
    ``lease`` seconds."""
    from smacx.storage import TrialRecord
    from smacx.trial import TrialKey

    config_id = history.add_config(config)
    now = history.now()
    running = TrialValue(status=StatusType.RUNNING, starttime=now)
    record = TrialRecord(
        TrialKey(config_id, None, 0, None), running, "far+m1:4242:0:x", now + lease
    )
    assert history.storage.claim_trial(record, now)


def test_a_worker_that_ends_waits_for_the_trial_of_a_silent_host(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The workers that outlived one killed on another host returned, and left its trial
    RUNNING and the run short of n_trials, with nobody to take it over (a shared-run audit's
    finding). A lease not renewed for two turns is waited for, and its trial run here."""
    sc = scenario(space, tmp_path, n_trials=3)
    with SMAC(sc, quadratic, progress=False) as smac:
        # renewed every 60 s while its process lives: 2 s left is 298 s without a renewal
        _claim_elsewhere(smac.runhistory, space.sample_configuration(), lease=2.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no word of a trial it then runs)
            with caplog.at_level(logging.WARNING, logger="smacx"):
                smac.optimize()
        assert smac.runhistory.n_finished == 3
        assert smac.runhistory.n_running == 0
    assert "not renewed it for 29" in caplog.text and "it seems to have died" in caplog.text


def test_the_wait_for_a_silent_host_ends_with_close_or_with_its_trial(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The wait slept through close() from another thread, and read nothing: a trial that
    the other host finished after all was waited for until its old lease ran out (a review's
    findings)."""
    from smacx.storage import TrialRecord
    from smacx.trial import TrialKey

    for how in ("close", "finish"):
        sc = scenario(space, tmp_path, name=how, n_trials=3)
        with SMAC(sc, quadratic, progress=False) as smac:
            _claim_elsewhere(smac.runhistory, space.sample_configuration(), lease=60.0)
            key = TrialKey(1, None, 0, None)

            def act(smac: SMAC = smac, how: str = how, key: TrialKey = key) -> None:
                time.sleep(1.0)
                if how == "close":
                    smac.close()
                else:  # (the process there finishes its trial)
                    smac.runhistory.storage.finish_trial(
                        TrialRecord(key, TrialValue(cost=1.0), "far+m1:4242:0:x", 0.0)
                    )

            threading.Thread(target=act).start()
            started = time.monotonic()
            smac.optimize()
            assert time.monotonic() - started < 5
            if how == "finish":
                assert smac.runhistory.n_finished == 3


def test_a_worker_that_ends_names_a_trial_still_running_on_another_host(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A trial whose lease was renewed lately may be alive: not waited for, but named."""
    sc = scenario(space, tmp_path, n_trials=3)
    with SMAC(sc, quadratic, progress=False) as smac:
        _claim_elsewhere(smac.runhistory, space.sample_configuration(), lease=299.0)
        started = time.monotonic()
        with pytest.warns(UserWarning, match=r"on host far, pid 4242\), so this call returns "
                          r"before they end.* once its lease ends \(in 29\d s\)"):  # fmt: skip
            smac.optimize()
        assert time.monotonic() - started < 20
        assert smac.runhistory.n_finished == 2


def test_blackbox_looks_past_a_plateau_instead_of_at_the_corners() -> None:
    """On a constant cost its process's kernel collapsed and log-EI peaked at the box's
    corners: 16 of 25 proposals lay at one, and a flat function's small basin was never
    found on 3 of 5 seeds (an audit's finding). The plateau rule of "hpo" is on for it too."""
    corners = []

    def flat(config: Configuration) -> float:
        values = np.array([config[n] for n in ("x0", "x1", "x2")])
        corners.append(bool((np.minimum(values, 1 - values) < 1e-3).all()))
        return 1.0

    space = ConfigurationSpace({"x0": (0.0, 1.0), "x1": (0.0, 1.0), "x2": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, n_trials=25, deterministic=True, output_directory=None, seed=0)
    smac = SMAC(sc, flat, preset="blackbox", progress=False)
    smac.optimize()
    assert smac.selector.plateau_probability == 0.5
    assert sum(corners) <= 10, sum(corners)


def test_a_model_whose_predict_gives_no_variance_is_refused_before_a_trial() -> None:
    """scikit-learn's GaussianProcessRegressor (predict gives one array) was accepted, and
    failed after the initial design had run (an audit's finding)."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    from smacx.models import RandomForest

    calls = []
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, n_trials=10, output_directory=None)
    with pytest.raises(ScenarioError, match=r"GaussianProcessRegressor.predict must return \(mean"):
        SMAC(sc, lambda config: calls.append(config) or 1.0, model=GaussianProcessRegressor())
    assert not calls
    SMAC(sc, model=RandomForest(n_trees=5)).close()  # (its own: not tried)


def test_validation_seeds_are_not_the_trial_seeds_of_the_run_with_the_next_seed() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    seen: list[int] = []

    def f(config: Configuration, seed: int) -> float:
        seen.append(seed)
        return float(config["x"])

    first = SMAC(Scenario(space, n_trials=4, seed=0, output_directory=None), f, progress=False)
    first.optimize()
    seen.clear()
    first.validate(first.incumbent)
    validation = set(seen)
    seen.clear()
    SMAC(Scenario(space, n_trials=12, seed=1, output_directory=None), f, progress=False).optimize()
    assert len(validation) == 5 and len(set(seen)) >= 3
    assert not validation & set(seen)  # (default_rng(seed + 1) drew both)


def test_objects_built_to_read_a_run_leave_no_session_behind(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A monitor building SMAC(scenario) once a second grew the run's session lists by 74
    bytes a poll (225 kB after 3,000), each poll rewriting them whole (a watching audit's
    finding). A session that ran no optimize() is dropped at close; those that did stay, as
    the time limits count their time."""
    import sqlite3

    sc = scenario(space, tmp_path, n_trials=3)
    SMAC(sc, quadratic, progress=False).optimize()
    assert sc.output_path is not None

    def lists() -> dict[str, list[str]]:
        with contextlib.closing(sqlite3.connect(sc.output_path / "runhistory.db")) as conn:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('sessions', 'closed_sessions')"
            ).fetchall()
        return {key: json.loads(value) for key, value in rows}

    before = lists()
    for _ in range(20):
        reader = SMAC(sc, progress=False)
        assert reader.runhistory.n_finished == 3
        reader.close()
    assert lists() == before
    assert len(before["sessions"]) == len(before["closed_sessions"]) == 1


def test_the_inherited_memory_warning_comes_before_the_first_trial(
    space: ConfigurationSpace,
) -> None:
    """Under -W error the warning that a trial's process inherits most of its memory limit
    raised inside the first trial, which stayed RUNNING (a review's finding); it is said as
    optimize() starts now, before any trial, at the caller's line."""
    import psutil

    from smacx.runners import serial

    mapped = int(psutil.Process().memory_info().vms / 2**20)
    serial._warned_of_memory.discard(os.getpid())
    sc = scenario(space, n_trials=2, trial_memory_limit=int(1.8 * mapped))
    with SMAC(sc, quadratic, preset="random") as smac:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match="already maps") as caught:
                smac.optimize()
        assert len(smac.runhistory) == 0 and smac.runhistory.n_submitted == 0
        serial._warned_of_memory.discard(os.getpid())
        with pytest.warns(UserWarning, match="already maps") as said:
            smac.optimize()
        assert [w.filename for w in said] == [__file__]  # once, at this line
    assert "already maps" in str(caught.value)


class _OwnRunner(AbstractRunner):
    """A runner of a user's own that runs each trial as it is submitted; ``mangle`` changes
    what ``iter_results`` yields, ``workers`` what ``count_available_workers`` gives."""

    def __init__(self, target: Any, sc: Scenario, mangle: Any = None, workers: int = 1) -> None:
        self.inner = SerialRunner(target, sc)
        self.mangle = mangle or (lambda info, value: (info, value))
        self.workers = workers
        self.done: list[Any] = []
        self.patience = 0.3

    def submit_trial(self, trial_info: TrialInfo, **dask_data_to_scatter: Any) -> None:
        value = self.inner.run(trial_info.config, trial_info.instance, trial_info.budget,
                               trial_info.seed)  # fmt: skip
        self.done.append(self.mangle(trial_info, value))

    def iter_results(self) -> Iterator[Any]:
        while self.done:
            yield self.done.pop(0)

    def wait(self, timeout: float | None = None) -> None:
        pass

    def is_running(self) -> bool:
        return False

    def count_available_workers(self) -> int:
        return self.workers

    def run(self, *args: Any, **kwargs: Any) -> TrialValue:
        return self.inner.run(*args, **kwargs)


def test_a_runner_of_the_users_own_is_held_to_its_contract(space: ConfigurationSpace) -> None:
    """A user's runner that rebuilt each TrialInfo (its values rounded on the way) had its
    results stored under configurations never proposed, the trials it was given left RUNNING
    and the run ended early without a word; one that yielded costs failed deep inside; one
    with no worker and nothing running spun at a full core for good (an audit's findings)."""
    sc = scenario(space, n_trials=6)

    def rounded(info: TrialInfo, value: TrialValue) -> Any:
        values = {k: round(v, 3) for k, v in dict(info.config).items()}
        return dataclasses.replace(info, config=Configuration(space, values=values)), value

    foreign = _OwnRunner(quadratic, sc, rounded)
    with (
        SMAC(sc, quadratic, runner=foreign) as smac,
        pytest.raises(TrialError, match=r"_OwnRunner.iter_results\(\) gave a result for a "),
    ):
        smac.optimize()
    costs = _OwnRunner(quadratic, sc, lambda info, value: (info, value.cost))
    with (
        SMAC(sc, quadratic, runner=costs) as smac,
        pytest.raises(ArgumentError, match=r"must yield \(TrialInfo, TrialValue\) pairs"),
    ):
        smac.optimize()
    idle = _OwnRunner(quadratic, sc, workers=0)
    with SMAC(sc, quadratic, runner=idle) as smac:
        started = time.process_time()
        with pytest.raises(NoWorkersError, match="no free worker for 0.3 s"):
            smac.optimize()
        assert time.process_time() - started < 0.3  # (it waited, not spun)
    with SMAC(sc, quadratic, runner=_OwnRunner(quadratic, sc)) as smac:
        smac.optimize()  # (one that keeps it: runs as before)
        assert smac.runhistory.n_finished == 6


def test_parts_of_the_users_own_are_checked_as_smac_is_built(space: ConfigurationSpace) -> None:
    """A bind(model) without best_y, or a maximize(acq, n), failed after the initial design
    had run; a model that predicts no number was used without a word (an audit's findings)."""

    class OneArgument:
        def bind(self, model: Any) -> Any:
            return lambda X: -model.predict(X)[0]

    class TwoArguments:
        def maximize(self, acq: Any, n: int) -> Any:
            return np.zeros((n, 2))

    class NoSpread:
        def fit(self, X: np.ndarray, y: np.ndarray) -> NoSpread:
            self.mean, self.spread = y.mean(), 0.0
            return self

        def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with np.errstate(all="ignore"):
                return np.full(len(X), -self.mean / self.spread), np.full(len(X), np.nan)

    sc = scenario(space, n_trials=6)
    with pytest.raises(ScenarioError, match=r"OneArgument.bind must take \(model, best_y\)"):
        SMAC(sc, quadratic, acquisition=OneArgument())
    with pytest.raises(ScenarioError, match=r"TwoArguments.maximize must take \(acq, n, start"):
        SMAC(sc, quadratic, maximizer=TwoArguments())
    with pytest.raises(ScenarioError, match="NoSpread.predict returned means"):
        SMAC(sc, quadratic, model=NoSpread())

    class RawUnits:  # rows in the hyperparameters' units: clipped to the box's edges before
        def maximize(self, acq: Any, n: int, start_points: Any, exclude: Any) -> np.ndarray:
            return np.random.default_rng(0).uniform(-5.0, 5.0, (n, 2))

    class Scores:
        def bind(self, model: Any, best_y: float) -> Any:
            return np.zeros(1)

    for part, said in (
        ({"maximizer": RawUnits()}, r"RawUnits.maximize must return encoded configurations"),
        ({"acquisition": Scores()}, r"Scores.bind\(model, best_y\) must return a function"),
    ):
        with SMAC(sc, quadratic, **part) as smac, pytest.raises(ScenarioError, match=said):
            smac.optimize()


def test_an_acquisition_that_scores_in_a_column_works_in_every_preset(
    space: ConfigurationSpace,
) -> None:
    """Scores as an (n, 1) column (a posterior mean's shape) worked under "blackbox" but not
    under "hpo", whose regions broadcast them to an (n, n) matrix (an audit's finding)."""
    from smacx.acquisition import EI

    class Column:
        def bind(self, model: Any, best_y: float) -> Any:
            scores = EI().bind(model, best_y)
            return lambda X: np.asarray(scores(X)).reshape(-1, 1)

    for preset in ("hpo", "blackbox"):
        with SMAC(scenario(space, n_trials=12), quadratic, preset=preset,
                  acquisition=Column()) as smac:  # fmt: skip
            smac.optimize()
            assert smac.runhistory.n_finished == 12
