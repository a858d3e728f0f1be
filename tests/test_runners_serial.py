from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import (
    SMAC,
    MachineError,
    Scenario,
    ScenarioError,
    SerialRunner,
    StatusType,
    TrialInfo,
)
from tests.conftest import cancels_itself, ended


def make(space: ConfigurationSpace, fn: Any, **scenario: Any) -> SerialRunner:
    return SerialRunner(fn, Scenario(space, output_directory=None, **scenario))


def run(space: ConfigurationSpace, fn: Any, **scenario: Any) -> Any:
    return make(space, fn, **scenario).run(space.get_default_configuration(), seed=3)


def test_passes_only_declared_arguments(space: ConfigurationSpace) -> None:
    seen: dict[str, Any] = {}

    def f(config: Configuration, seed: int) -> float:
        seen["seed"] = seed
        return 1.0

    assert run(space, f).status is StatusType.SUCCESS and seen == {"seed": 3}

    def g(config: Configuration, **kwargs: Any) -> float:
        seen.update(kwargs)
        return 1.0

    run(space, g)
    # nothing for what the scenario lacks: kwargs.get("budget", 10) keeps its 10 (as in
    # SMAC3; a robustness audit's finding: it got None)
    assert seen == {"seed": 3}


def test_a_trial_argument_the_scenario_never_gives_needs_a_default(
    space: ConfigurationSpace,
) -> None:
    """A target that requires a budget on a scenario without budgets (a multi-fidelity
    target whose budgets were forgotten) is refused; one with a default keeps its default."""

    def epochs(config: Configuration, seed: int, budget: float) -> float:
        return float(budget)

    with pytest.raises(
        ScenarioError,
        match=r"requires a 'budget' argument, but the scenario has no min_budget and max.*"
        r"Scenario\(min_budget=\.\.\.\)",
    ):
        make(space, epochs)

    def on(config: Configuration, instance: str) -> float:
        return 1.0

    with pytest.raises(ScenarioError, match=r"requires an 'instance' argument.*no instances"):
        make(space, on)
    seen: dict[str, Any] = {}

    def defaults(
        config: Configuration, seed: int, budget: float = 27.0, instance: str = "a"
    ) -> float:
        seen.update(budget=budget, instance=instance)
        return 1.0

    assert run(space, defaults).status is StatusType.SUCCESS
    assert seen == {"budget": 27.0, "instance": "a"}


@pytest.mark.parametrize(
    ("result", "cost", "info"),
    [
        (2, 2.0, {}),
        (np.float32(0.5), 0.5, {}),
        ({"cost": 1.5}, 1.5, {}),
        ((3.0, {"acc": 0.9}), 3.0, {"acc": 0.9}),
        (np.array([4.0]), 4.0, {}),
        (np.array(4.5), 4.5, {}),
    ],
)
def test_result_forms(
    space: ConfigurationSpace, result: Any, cost: float, info: dict[str, Any]
) -> None:
    value = run(space, lambda config: result)
    assert value.status is StatusType.SUCCESS
    assert value.cost == cost and value.additional_info == info


def test_multi_objective_results(space: ConfigurationSpace) -> None:
    ok = run(space, lambda config: {"b": 2, "a": 1}, objectives=["a", "b"])
    assert ok.cost == [1.0, 2.0]
    missing = run(space, lambda config: {"a": 1}, objectives=["a", "b"])
    assert missing.status is StatusType.CRASHED and "['b']" in missing.additional_info["error"]
    wrong = run(space, lambda config: 1.0, objectives=["a", "b"])
    assert wrong.status is StatusType.CRASHED and wrong.cost == [math.inf, math.inf]
    # numpy 0-d arrays, as a single cost may be (a fuzzing audit's finding)
    arrays = run(
        space, lambda config: {"a": np.array(0.5), "b": np.array(1)}, objectives=["a", "b"]
    )
    assert arrays.status is StatusType.SUCCESS and arrays.cost == [0.5, 1.0]
    listed = run(space, lambda config: [np.array(0.5), np.float32(2)], objectives=["a", "b"])
    assert listed.status is StatusType.SUCCESS and listed.cost == [0.5, 2.0]


def test_a_dicts_other_metrics_are_kept_with_the_trial(space: ConfigurationSpace) -> None:
    """Ray Tune's users report every metric in one dict: its keys besides the objectives were
    dropped without a word (a porting audit's finding)."""
    reported = {"loss": 0.3, "accuracy": 0.91, "epoch": 7}
    value = run(space, lambda config: reported, objectives="loss")
    assert value.status is StatusType.SUCCESS and value.cost == 0.3
    assert value.additional_info == {"accuracy": 0.91, "epoch": 7}
    # an info dict of its own is kept too, and wins where the two name the same key
    both = run(space, lambda config: (reported, {"epoch": 8, "note": "x"}), objectives="loss")
    assert both.additional_info == {"accuracy": 0.91, "epoch": 8, "note": "x"}


class _ListsItself:
    """A result with a tolist() but no array behind it."""

    def tolist(self) -> list[float]:
        return [1.0]


class _NoRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def boom(config: Configuration) -> float:
    raise RuntimeError("target exploded")


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (boom, "target exploded"),
        (lambda config: math.nan, "non-finite"),
        (lambda config: math.inf, "non-finite"),
        (lambda config: "0.5", "returned str"),
        (lambda config: None, "returned NoneType"),
        (lambda config: True, "returned bool"),
        (lambda config: 10**400, "too large for a float"),
        (lambda config: sys.exit(3), "SystemExit: 3"),
        (lambda config: (0.5, "note"), "make it a dict: (cost, {'key': value})"),
        (lambda config: _ListsItself(), "returned _ListsItself"),
    ],
)
def test_failures_become_crashed_trials(space: ConfigurationSpace, fn: Any, reason: str) -> None:
    value = run(space, fn, crash_cost=100.0)
    assert value.status is StatusType.CRASHED
    assert value.cost == 100.0
    assert reason in value.additional_info["error"]


def test_crash_keeps_traceback(space: ConfigurationSpace) -> None:
    assert "in boom" in run(space, boom).additional_info["traceback"]


def sleeper(config: Configuration) -> float:
    time.sleep(30)
    return 0.0


def hog(config: Configuration) -> float:
    # np.empty reserves address space without touching it: the limit (RLIMIT_AS) still applies
    blocks = [np.empty(256 * 1024 * 1024, dtype=np.uint8) for _ in range(64)]
    return float(len(blocks))


def test_walltime_limit_gives_timeout(space: ConfigurationSpace) -> None:
    value = run(space, sleeper, trial_walltime_limit=1)
    assert value.status is StatusType.TIMEOUT
    assert value.time < 5  # the child is stopped at the limit, not when it finishes


def nap(config: Configuration) -> float:
    time.sleep(1.8)
    return 1.0


def test_fractional_walltime_limit_is_not_rounded_away(space: ConfigurationSpace) -> None:
    """pynisher takes whole seconds: a 1.8 s trial under a 1.5 s limit is a TIMEOUT all the
    same (checked after the trial, should it end before pynisher stops it)."""
    value = run(space, nap, trial_walltime_limit=1.5)
    assert value.status is StatusType.TIMEOUT
    assert "exceeded trial_walltime_limit=1.5 s" in value.additional_info["error"]


_MARKS: list[Path] = []


def naps_then_marks(config: Configuration) -> float:
    time.sleep(1.6)
    _MARKS[0].write_text("ran on")
    return 1.0


def test_a_fractional_walltime_limit_stops_the_trial_at_the_limit(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Under a 1.2 s limit a trial is stopped then, not at 2 s (pynisher's whole seconds, as
    it was): the mark it would leave at 1.6 s is never written."""
    _MARKS[:] = [tmp_path / "mark"]
    value = run(space, naps_then_marks, trial_walltime_limit=1.2)
    assert value.status is StatusType.TIMEOUT
    time.sleep(0.8)  # (past the mark's time, had the trial gone on)
    assert not _MARKS[0].exists()


def test_timed_out_trials_are_stored_and_the_run_goes_on(
    space: ConfigurationSpace, tmp_path: Any
) -> None:
    """A TIMEOUT has no CPU time (NaN); the SQLite history stores it and optimize() goes on."""
    from smacx import SMAC

    scenario = Scenario(
        space, n_trials=3, output_directory=tmp_path, trial_walltime_limit=1, deterministic=True
    )
    with SMAC(scenario, sleeper, raise_on_first_crash=False) as smac:
        with pytest.warns(UserWarning, match=r"without an incumbent.*\(3 TIMEOUT; most often"):
            smac.optimize()
        assert smac.runhistory.status_counts() == {"TIMEOUT": 3}
    with SMAC(scenario, sleeper) as again:  # read back from the database
        assert again.runhistory.status_counts() == {"TIMEOUT": 3}


def maps_an_anonymous_gigabyte_per_try(config: Configuration) -> float:
    import mmap

    held = [mmap.mmap(-1, 2**30) for _ in range(8)]  # OSError ENOMEM at the limit
    return float(len(held))


def starts_threads(config: Configuration) -> float:
    import threading

    threads = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(64)]
    for thread in threads:
        thread.start()  # RuntimeError at the limit: no room for a thread's stack
    for thread in threads:
        thread.join()
    return 0.0


@pytest.mark.parametrize("target", [maps_an_anonymous_gigabyte_per_try, starts_threads])
def test_running_out_of_memory_without_a_memory_error_is_memoryout(
    space: ConfigurationSpace, target: Any
) -> None:
    """A process at its limit fails an mmap with ENOMEM, a thread's start with a
    RuntimeError, an extension's import with an ImportError; all were CRASHED, with messages
    that named no limit (a robustness audit's finding)."""
    import psutil

    # just above what the trial's process inherits: little room left for stacks and maps
    limit = int(psutil.Process().memory_info().vms / 2**20) + 200
    value = run(space, target, trial_memory_limit=limit)
    assert value.status is StatusType.MEMORYOUT
    assert (
        f"under trial_memory_limit (trial_memory_limit={limit} MB"
        in (value.additional_info["error"])
    )


def test_memory_limit_gives_memoryout(space: ConfigurationSpace) -> None:
    value = run(space, hog, trial_memory_limit=2000)
    assert value.status is StatusType.MEMORYOUT
    # what the process had mapped, inherited from this one, is in the error
    assert (
        "(trial_memory_limit=2000 MB; the trial's process now maps"
        in (value.additional_info["error"])
    )


def test_limited_trial_reports_result_and_crash(space: ConfigurationSpace) -> None:
    assert run(space, lambda config: 7.0, trial_walltime_limit=5).cost == 7.0
    crashed = run(space, boom, trial_walltime_limit=5)
    assert (
        crashed.status is StatusType.CRASHED and "in boom" in crashed.additional_info["traceback"]
    )


def test_limited_trial_whose_result_cannot_be_pickled_is_crashed(
    space: ConfigurationSpace,
) -> None:
    value = run(space, lambda config: lambda: 1, trial_walltime_limit=5)
    assert value.status is StatusType.CRASHED
    assert "cannot be pickled" in value.additional_info["error"]


def test_odd_results_and_info_are_stored_and_the_run_goes_on(
    space: ConfigurationSpace, tmp_path: Any
) -> None:
    """Info with a tuple key or a cycle, a cost beyond float range, sys.exit(): every trial
    is recorded in the SQLite history and optimize() reaches n_trials."""
    from smacx import SMAC

    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    info = {(1, 2): 3, "kept": 1.5, True: "t", None: "n", 7: "i"}
    results = [(1.0, info), (2.0, {"cycle": cyclic, "n": 2, "odd": _NoRepr()}), 10**400, 4.0]

    def target(config: Configuration, seed: int) -> Any:
        if len(results) == 1:
            sys.exit(0)
        return results.pop(0)

    scenario = Scenario(space, n_trials=5, output_directory=tmp_path, deterministic=True)
    with SMAC(scenario, target) as smac:
        smac.optimize()
        assert smac.runhistory.status_counts() == {"SUCCESS": 2, "CRASHED": 3}
    with SMAC(scenario, target) as again:
        infos = [v.additional_info for _, v in again.runhistory.items()]
        # one entry at a time: the others are kept as they are (an audit's finding)
        # (keys JSON takes named as json.dumps names them, whatever the other keys are)
        assert infos[0] == {"(1, 2)": 3, "kept": 1.5, "true": "t", "null": "n", "7": "i"}
        assert infos[1]["cycle"].startswith("{'self': {") and infos[1]["n"] == 2
        assert infos[1]["odd"] == "<_NoRepr whose repr() raised RuntimeError>"


def leaves_a_program_running(config: Configuration) -> float:
    subprocess.Popen(["sleep", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 1.0


def test_a_quick_limited_trial_that_leaves_a_program_running_takes_its_own_time(
    space: ConfigurationSpace,
) -> None:
    """The time after the target returned, while its process and the program it left running
    were ended, counted as the trial's: about 2 s here, so 3 of 4 trials that took 3 ms were
    recorded TIMEOUT under a limit of 1.5 s (a failure audit's finding)."""
    for _ in range(3):
        value = run(space, leaves_a_program_running, trial_walltime_limit=1.5)
        assert value.status is StatusType.SUCCESS and value.time < 1.0, value


def logs_a_warning(config: Configuration, seed: int) -> float:
    import logging

    logging.getLogger("smacx").warning("a warning from trial %d", seed)
    if seed == 3:
        time.sleep(30)  # (killed at its limit: the warning came before)
    return 1.0


def test_what_smacx_logs_in_a_limited_trials_process_is_logged_by_this_one(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """The child process logged through copies of this process's handlers, out of reach of
    what collects this process's records (a dask worker's relay, pytest's caplog)."""
    runner = make(space, logs_a_warning, trial_walltime_limit=1)
    with caplog.at_level("WARNING", logger="smacx"):
        assert runner.run(space.get_default_configuration(), seed=1).cost == 1.0
        assert runner.run(space.get_default_configuration(), seed=3).status.name == "TIMEOUT"
    ours = [r for r in caplog.records if r.getMessage().startswith("a warning")]
    assert [r.getMessage() for r in ours] == ["a warning from trial 1", "a warning from trial 3"]
    # as logged: where and when, in the trial's process (a review's finding)
    assert {r.funcName for r in ours} == {"logs_a_warning"} and ours[0].process != os.getpid()


class _NoStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class _NonStr(Exception):
    def __str__(self) -> Any:
        return 42


@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 5}])
def test_a_target_whose_error_or_return_value_cannot_be_printed_is_crashed(
    space: ConfigurationSpace, limits: dict[str, Any]
) -> None:
    """An exception whose str() raises or returns no string, and a return value whose repr()
    raises, stopped optimize() with the trial unrecorded (a failure audit's finding)."""

    def raises(error: BaseException) -> Callable[[Configuration], float]:
        def target(config: Configuration) -> float:
            raise error

        return target

    for target, reason in [
        (raises(_NoStr()), "_NoStr: <_NoStr whose str() raised RuntimeError>"),
        (raises(_NonStr()), "_NonStr: <_NonStr whose str() raised TypeError>"),
        (lambda config: _NoRepr(), "returned _NoRepr <_NoRepr whose repr() raised Runtime"),
        (lambda config: [1.0, _NoRepr()], "returned 2 cost(s)"),
        (lambda config: {"cost": _NoRepr()}, "non-numeric cost(s) <list whose repr() raised"),
    ]:
        value = run(space, target, **limits)
        assert value.status is StatusType.CRASHED and reason in value.additional_info["error"]


def test_info_nested_too_deep_for_json_is_stored_as_a_stand_in(
    space: ConfigurationSpace, tmp_path: Any
) -> None:
    """Info nested 100,000 deep raised RecursionError out of optimize() (a failure audit's
    finding); the cost is kept, the info entry stored as a stand-in."""
    from smacx import SMAC

    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]

    scenario = Scenario(space, n_trials=2, output_directory=tmp_path, deterministic=True)
    with SMAC(scenario, lambda config: (1.0, {"deep": deep, "n": 2})) as smac:
        smac.optimize()
        assert smac.runhistory.status_counts() == {"SUCCESS": 2}
    with SMAC(scenario) as again:
        [info, _] = [v.additional_info for _, v in again.runhistory.items()]
        assert info == {"deep": "<list whose repr() raised RecursionError>", "n": 2}


def test_submit_then_iter_results_once(space: ConfigurationSpace) -> None:
    runner = make(space, lambda config, seed: seed)
    info = TrialInfo(space.get_default_configuration(), seed=4)
    runner.submit_trial(info)
    assert runner.is_running()
    assert [(i, v.cost) for i, v in runner.iter_results()] == [(info, 4.0)]
    assert list(runner.iter_results()) == [] and not runner.is_running()


def test_scattered_data_reaches_the_target(space: ConfigurationSpace) -> None:
    runner = make(space, lambda config, data: float(sum(data)))
    runner.submit_trial(TrialInfo(space.get_default_configuration()), data=[1, 2])
    assert next(runner.iter_results())[1].cost == 3.0


def test_bad_targets_fail_at_construction(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match="callable"):
        make(space, 42)
    with pytest.raises(ScenarioError, match="first argument"):
        make(space, lambda: 1.0)
    with pytest.raises(ScenarioError, match="'instance' argument"):
        make(space, lambda config, seed: 1.0, instances=["a"])
    with pytest.raises(ScenarioError, match=r"'budget' argument.*\)\.$"):
        make(space, lambda config: 1.0, min_budget=1, max_budget=3)
    with pytest.raises(ScenarioError, match="'budget' argument.*To race on the instances"):
        make(space, lambda config, instance: 1.0, min_budget=1, max_budget=3, instances=["a"])

    def seed_by_position(config: Configuration, seed: int, /) -> float:
        return 1.0

    with pytest.raises(ScenarioError, match=r"take 'seed' by keyword.*Move the '/' to just"):
        make(space, seed_by_position)
    make(space, lambda config, /, seed: 1.0)  # (the configuration is passed by position)
    make(space, lambda config, seed=0, /, **kw: 1.0)  # (smacx's keywords go to **kw)


def test_swapped_or_wrong_arguments_fail_at_construction(space: ConfigurationSpace) -> None:
    """SMAC takes (scenario, target_fn), SerialRunner (target_fn, scenario): a swap is named."""
    scenario = Scenario(space, output_directory=None)

    def f(config: Configuration, seed: int) -> float:
        return 0.0

    with pytest.raises(ScenarioError, match=r"swapped.*SerialRunner\(target_fn, scenario\)"):
        SerialRunner(scenario, f)  # type: ignore[arg-type]
    with pytest.raises(
        ScenarioError, match=r"scenario=\.\.\.\) must be a smacx.Scenario; got NoneType"
    ):
        SerialRunner(f, None)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"target_fn=\.\.\.\) must be callable.*got int 42"):
        SerialRunner(42, scenario)  # type: ignore[arg-type]


def raises_cancelled(config: Configuration) -> float:
    raise asyncio.CancelledError("given up")


@pytest.mark.parametrize("fn", [cancels_itself, raises_cancelled])
@pytest.mark.parametrize("limit", [None, 5])
def test_cancelled_error_of_the_target_is_a_crashed_trial(
    space: ConfigurationSpace, fn: Any, limit: int | None
) -> None:
    """A runner never raises because a target failed, BaseExceptions other than Ctrl-C
    included; with a limit the target runs in pynisher's child."""
    value = run(space, fn, crash_cost=100.0, trial_walltime_limit=limit)
    assert value.status is StatusType.CRASHED and value.cost == 100.0
    assert value.additional_info["error"].startswith("CancelledError")
    assert f"in {fn.__name__}" in value.additional_info["traceback"]


def interrupted(config: Configuration) -> float:
    raise KeyboardInterrupt


@pytest.mark.skipif(sys.version_info < (3, 11), reason="BaseExceptionGroup is new in 3.11")
def test_keyboard_interrupt_in_the_target_stops_the_run(space: ConfigurationSpace) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(space, interrupted)

    def grouped(config: Configuration) -> float:
        raise BaseExceptionGroup("task group", [ValueError("x"), KeyboardInterrupt()])  # noqa: F821

    with pytest.raises(BaseExceptionGroup):  # noqa: F821
        run(space, grouped)


def kills_itself(config: Configuration, seed: int) -> float:
    """Sends itself the signal numbered ``seed`` (in pynisher's child: the test goes on)."""
    faulthandler.disable()  # pytest's, inherited by the child: no dump of the segfault
    os.kill(os.getpid(), seed)
    return 1.0


@pytest.mark.parametrize(
    ("memory", "sig", "status", "reason"),
    [
        (None, signal.SIGSEGV, StatusType.CRASHED, "died of signal SIGSEGV (exit code -11)"),
        (None, signal.SIGTERM, StatusType.CRASHED, "died of signal SIGTERM (exit code -15)"),
        (2000, signal.SIGTERM, StatusType.CRASHED, "died of signal SIGTERM (exit code -15)"),
        (2000, signal.SIGKILL, StatusType.MEMORYOUT, "killed (SIGKILL) under trial_memory_limit"),
        # pynisher reports a segfault under a memory limit as a memory error; the message says so
        (2000, signal.SIGSEGV, StatusType.MEMORYOUT, "segmentation fault (SIGSEGV) under"),
    ],
)
def test_child_killed_by_a_signal_names_it(
    space: ConfigurationSpace, memory: int | None, sig: int, status: StatusType, reason: str
) -> None:
    runner = make(space, kills_itself, trial_walltime_limit=10, trial_memory_limit=memory)
    value = runner.run(space.get_default_configuration(), seed=int(sig))
    assert value.status is status
    assert reason in value.additional_info["error"]
    assert "exceeded trial_memory_limit" not in value.additional_info["error"]


ORPHAN_RUN = """
import os, subprocess, sys, time
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner
def target(config):
    solver = subprocess.Popen(["sleep", "60"])
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {solver.pid}")
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(60)
    return 0.0
space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
runner = SerialRunner(target, Scenario(space, trial_walltime_limit=30, output_directory=None))
runner.run(space.sample_configuration())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_limited_trial_does_not_outlive_a_killed_run(tmp_path: Any) -> None:
    """kill -9 of the run: the trial's process, whose limit only the run enforced, goes too,
    and so does the program it started."""
    import subprocess

    pid_file = tmp_path / "child.pid"
    run_ = subprocess.Popen([sys.executable, "-c", ORPHAN_RUN, str(pid_file)])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert time.monotonic() < deadline and run_.poll() is None, "the trial never started"
            time.sleep(0.05)
    finally:
        run_.kill()
        run_.wait()
    for pid in pid_file.read_text().split():
        assert ended(int(pid)), f"process {pid} outlived the run"


def test_limited_trials_leave_no_process_nor_pipe_behind(space: ConfigurationSpace) -> None:
    """pynisher reaps each trial's process itself, so multiprocessing counted every one as
    alive forever, with two pipes each: after about 500 trials every trial crashed with "Too
    many open files" (a user's report)."""
    import multiprocessing

    import psutil

    runner = make(space, lambda config: config["x"] ** 2, trial_walltime_limit=30)
    runner.run(space.get_default_configuration())
    others = set(multiprocessing.active_children())  # (of other tests in this process)
    fds = psutil.Process().num_fds()
    for _ in range(25):
        assert runner.run(space.sample_configuration()).status is StatusType.SUCCESS
    assert set(multiprocessing.active_children()) <= others
    assert psutil.Process().num_fds() <= fds + 2  # (not 50 more)


def _sleep_long() -> None:
    time.sleep(30)


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver there")
def test_limited_trials_leave_the_applications_own_processes_to_multiprocessing(
    space: ConfigurationSpace,
) -> None:
    """A forkserver's process is not this process's child: the cleanup after limited trials
    took it for one that pynisher reaped, and multiprocessing lost track of it (a review's
    finding)."""
    import multiprocessing

    others = set(multiprocessing.active_children())  # (of other tests in this process)
    helper = multiprocessing.get_context("forkserver").Process(target=_sleep_long, daemon=True)
    helper.start()
    try:
        runner = make(space, lambda config: 0.0, trial_walltime_limit=30)
        for _ in range(2):
            runner.run(space.sample_configuration())
        assert set(multiprocessing.active_children()) - others == {helper}
    finally:
        helper.terminate()
        helper.join(10)


def returns_a_lock(config: Configuration, seed: int) -> Any:
    import threading

    return 1.5, {"lock": threading.Lock(), "note": "kept"}


@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 30}])
def test_info_that_cannot_be_pickled_does_not_depend_on_limits(
    space: ConfigurationSpace, limits: dict[str, Any]
) -> None:
    value = run(space, returns_a_lock, **limits)
    assert value.status is StatusType.SUCCESS and value.cost == 1.5
    assert value.additional_info["note"] == "kept"
    if limits:  # its repr came back from the child process
        assert "lock" in str(value.additional_info["lock"])


SIGTERM_RUN = """
import os, sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
def target(config, seed):
    open(sys.argv[2], "w").close()
    time.sleep(60)
    return 0.0
space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
limits = {"trial_walltime_limit": 90} if sys.argv[3] == "limits" else {}
scenario = Scenario(space, n_trials=3, output_directory=sys.argv[1], **limits)
SMAC(scenario, target, progress=False).optimize()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM there")
@pytest.mark.parametrize("limits", ["limits", "none"])
def test_sigterm_during_a_trial_ends_the_run_and_gives_the_trial_back(
    tmp_path: Any, limits: str
) -> None:
    """kill, docker stop, Slurm: with limits as without, the process ends at SIGTERM and its
    trial is left RUNNING to run again on resume, not recorded as CRASHED. It is given back
    (its lease ended), as after Ctrl-C: a continued run counted it as run by a process that
    died, and after three preemptions recorded it CRASHED (a robustness audit's finding)."""
    import sqlite3
    import subprocess

    started = tmp_path / "started"
    run_ = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_RUN, str(tmp_path / "out"), started, limits]
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline and run_.poll() is None, "the trial never started"
            time.sleep(0.05)
        run_.terminate()
        assert run_.wait(timeout=30) == -signal.SIGTERM
    finally:
        run_.kill()
    [db] = (tmp_path / "out").rglob("runhistory.db")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT status, lease_until FROM trials").fetchall()
    assert rows == [(StatusType.RUNNING.value, 0.0)]


def interrupted_in_a_group(config: Configuration) -> float:
    raise BaseExceptionGroup("stopped", [KeyboardInterrupt()])  # noqa: F821 (Python >= 3.11)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are Python 3.11+")
@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 30}])
def test_an_interrupt_inside_an_exception_group_stops_the_run(
    space: ConfigurationSpace, limits: dict[str, Any]
) -> None:
    """Under limits too: the group cannot be unpickled in this process, and every trial was
    recorded as a crash with an unpickling error while the run went on."""
    runner = make(space, interrupted_in_a_group, **limits)
    with pytest.raises((KeyboardInterrupt, BaseExceptionGroup)):  # noqa: F821
        runner.run(space.get_default_configuration())


def test_a_limited_trial_uses_joblib_after_the_application_did() -> None:
    """A script that ran something with n_jobs=2 first (a baseline cross_val_score) holds
    joblib's process pool; a trial's forked process inherited it, unusable there, and a target
    using n_jobs=2 waited on it until its time limit (or for good, under a memory limit only).
    The trial starts a pool of its own (an audit's finding), and shuts it down as it ends."""
    script = """
import joblib, math
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner

def square_roots(config, seed):
    return sum(joblib.Parallel(n_jobs=2)(joblib.delayed(math.sqrt)(i) for i in range(4)))

if __name__ == "__main__":
    square_roots(None, 0)  # the application's own use: joblib keeps the pool
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    for limit in ({"trial_walltime_limit": 60}, {"trial_memory_limit": 4000}):
        scenario = Scenario(space, output_directory=None, **limit)
        value = SerialRunner(square_roots, scenario).run(space.get_default_configuration(), 0)
        print(value.status.name, round(value.cost, 3))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SUCCESS", "4.146"] * 2, done.stdout + done.stderr
    # The trial's own pool is shut down with it: loky's resource tracker warned of its
    # semaphores and folder as leaked, at every trial.
    assert "leaked" not in done.stderr, done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.filterwarnings("ignore:trial_memory_limit=.*already maps:UserWarning")
def test_a_memory_limit_below_what_the_process_maps_does_not_hang(
    space: ConfigurationSpace,
) -> None:
    """Under a memory limit below this process's own address space, a thread the trial's
    process started to outlive its outcome could not start, and the trial hung for good."""
    with open("/proc/self/status") as status:
        mapped = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    runner = make(space, lambda config: 1.0, trial_memory_limit=max(1, mapped // 1024 - 30))
    started = time.monotonic()
    value = runner.run(space.get_default_configuration())
    assert time.monotonic() - started < 30
    assert value.status in (StatusType.SUCCESS, StatusType.MEMORYOUT)


def test_a_memory_limit_below_what_the_process_maps_is_warned_of(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """Every trial ended MEMORYOUT with the reason "MemoryError: " and nothing else: the
    trial's process inherits this one's address space (an audit's finding). A UserWarning,
    shown by a script that set up no logging (it was a record of the "smacx" logger only)."""
    import psutil

    from smacx.runners import serial

    mapped = int(psutil.Process().memory_info().vms / 2**20)
    serial._warned_of_memory.discard(os.getpid())
    with pytest.warns(UserWarning) as caught:
        value = run(space, lambda config: float(bytearray(2**20)[0]), trial_memory_limit=mapped)
    said = " ".join(str(w.message) for w in caught)
    assert f"trial_memory_limit={mapped} MB, but this process already maps" in said
    assert "a program it runs starts afresh, with the whole limit" in said
    assert caught[0].filename == __file__  # (at the caller's line, not inside smacx)
    if value.status is StatusType.MEMORYOUT:
        error = value.additional_info["error"]
        assert error.startswith("MemoryError: an allocation failed under trial_memory_limit")
        assert f"(trial_memory_limit={mapped} MB; the trial's process now maps" in error


def sleeps_a_second(config: Configuration) -> float:
    time.sleep(1.0)
    return float(config["x"])


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM there")
def test_a_sigterm_the_application_handles_gives_the_stopped_trial_up(
    space: ConfigurationSpace, tmp_path: Any
) -> None:
    """pynisher kills a limited trial at any SIGTERM; when the application handles it (a
    graceful stop, under Slurm or Kubernetes) and lives on, the trial is no crash of the
    target: it has no result, and SMAC runs it again instead of recording crash cost."""
    import threading

    from smacx import SMAC, Scenario

    received: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        runner = make(space, sleeps_a_second, trial_walltime_limit=30)
        threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGTERM)).start()
        value = runner.run(space.get_default_configuration())
        assert received == [signal.SIGTERM]
        assert value.status is StatusType.RUNNING
        assert "received SIGTERM" in value.additional_info["error"]

        scenario = Scenario(space, n_trials=2, trial_walltime_limit=30, deterministic=True,
                            output_directory=tmp_path)  # fmt: skip
        smac = SMAC(scenario, sleeps_a_second, progress=False)
        threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGTERM)).start()
        smac.optimize()  # the first trial is stopped, given up and run again
        assert len(received) == 2
        assert smac.runhistory.status_counts() == {"SUCCESS": 2}
        smac.close()
    finally:
        signal.signal(signal.SIGTERM, before)


def test_limited_trials_leave_the_sigterm_handler_as_it_was(space: ConfigurationSpace) -> None:
    before = signal.getsignal(signal.SIGTERM)
    runner = make(space, lambda config: 1.0, trial_walltime_limit=30)
    for _ in range(3):
        assert runner.run(space.get_default_configuration()).status is StatusType.SUCCESS
    assert signal.getsignal(signal.SIGTERM) is before


def _fail_to_rebuild() -> None:
    raise RuntimeError("cannot rebuild")


class _OnlyPicklable:
    """Pickles in the trial's process; unpickling it raises."""

    def __reduce__(self) -> Any:
        return (_fail_to_rebuild, ())


def returns_what_cannot_be_unpickled(config: Configuration) -> Any:
    return 1.0, {"model": _OnlyPicklable()}


def exits_with_code_3(config: Configuration) -> float:
    os._exit(3)


def test_a_result_that_cannot_be_received_is_a_crash(space: ConfigurationSpace) -> None:
    value = run(space, returns_what_cannot_be_unpickled, trial_walltime_limit=30)
    assert value.status is StatusType.CRASHED
    assert "could not be received" in value.additional_info["error"]
    assert "cannot rebuild" in value.additional_info["error"]


def test_a_process_that_exits_early_is_told_so(space: ConfigurationSpace) -> None:
    value = run(space, exits_with_code_3, trial_walltime_limit=30)
    assert value.status is StatusType.CRASHED
    assert "exited with code 3 before returning a result" in value.additional_info["error"]


@contextlib.contextmanager
def _application_wakeup_fd() -> Any:
    """An application's wakeup fd (as asyncio sets one) and a SIGUSR1 handler, for the block;
    yields the pipe's read end."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    handler = signal.signal(signal.SIGUSR1, lambda *_: None)
    previous = signal.set_wakeup_fd(write_end)
    try:
        yield read_end
    finally:
        signal.set_wakeup_fd(previous)
        signal.signal(signal.SIGUSR1, handler)
        os.close(read_end)
        os.close(write_end)


def signals_its_run(config: Configuration) -> float:
    os.kill(os.getppid(), signal.SIGUSR1)
    time.sleep(0.5)
    return 1.0


def signals_itself(config: Configuration) -> float:
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(0.2)
    return 1.0


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGUSR1 there")
@pytest.mark.parametrize(("target", "noted"), [(signals_its_run, True), (signals_itself, False)])
def test_signals_during_a_limited_trial_reach_the_applications_wakeup_fd(
    space: ConfigurationSpace, target: Any, noted: bool
) -> None:
    """asyncio, Trio and Qt learn of signals through the wakeup fd, which the runner borrows
    while a limited trial runs: what the run received meanwhile is passed on, and what the
    trial's own process received is not."""
    with _application_wakeup_fd() as read_end:
        assert run(space, target, trial_walltime_limit=30).status is StatusType.SUCCESS
        try:
            arrived = os.read(read_end, 64)
        except BlockingIOError:
            arrived = b""
        assert (signal.SIGUSR1 in arrived) is noted


def test_a_signal_of_a_forked_process_is_not_taken_for_the_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A trial's process inherited the run's wakeup fd: when pynisher failed before the
    target ran (a trial_memory_limit above a hard ulimit -v), the SIGTERM it sent its child,
    which had pynisher's Python handler, was noted there and ended the run, silently (a
    platforms audit's finding). Here the child plays that part before any of smacx's code
    runs in it."""
    from smacx.runners.serial import _sigterm_ends_the_run

    handled: list[int] = []
    original = signal.signal(signal.SIGTERM, lambda signum, _: handled.append(signum))
    try:
        with _sigterm_ends_the_run(lambda: None) as arrived:
            child = os.fork()
            if child == 0:  # (pynisher's child, with its parent's Python handler)
                os.kill(os.getpid(), signal.SIGTERM)
                os._exit(0)
            assert os.waitpid(child, 0)[1] == 0
        assert not arrived and not handled
    finally:
        signal.signal(signal.SIGTERM, original)


def test_a_limited_trial_keeps_the_start_method_the_script_chose(tmp_path: Path) -> None:
    """A process forked by multiprocessing takes "fork" for its own: under limits, the
    target's own pools forked although the script chose "spawn" (a platforms audit)."""
    script = tmp_path / "spawned.py"
    script.write_text(
        "import multiprocessing\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import Scenario, SerialRunner\n"
        "def target(config):\n"
        "    return 1.0, {'method': multiprocessing.get_start_method(allow_none=True)}\n"
        "if __name__ == '__main__':\n"
        "    multiprocessing.set_start_method('spawn')\n"
        "    space = ConfigurationSpace({'x': (0.0, 1.0)})\n"
        "    for limit in (None, 30):\n"
        "        sc = Scenario(space, trial_walltime_limit=limit, output_directory=None)\n"
        "        value = SerialRunner(target, sc).run(space.sample_configuration(), seed=0)\n"
        "        print(value.status.name, value.additional_info['method'])\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.stdout.split() == ["SUCCESS", "spawn"] * 2, done.stderr


def test_a_limited_trial_without_a_file_descriptor_for_its_process_is_no_crash(
    tmp_path: Path,
) -> None:
    """Under a low `ulimit -n` pynisher could not make its pipe, and the first trial was
    called a bug in the target (a hostile-filesystem audit): a MachineError instead."""
    script = tmp_path / "fds.py"
    script.write_text(
        "import os, resource\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import MachineError, Scenario, SerialRunner\n"
        "space = ConfigurationSpace({'x': (0.0, 1.0)})\n"
        "sc = Scenario(space, trial_walltime_limit=30, output_directory=None)\n"
        "runner = SerialRunner(lambda config: 1.0, sc)\n"
        "config = space.sample_configuration()\n"
        "import pynisher, multiprocessing.connection\n"
        "used = len(os.listdir('/proc/self/fd'))\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (used + 1, hard))\n"
        "try:\n"
        "    print(runner.run(config, seed=0))\n"
        "except MachineError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.stdout.startswith(
        "smacx could not start the trial's process: OSError: [Errno 24] Too many open files"
    ), done


def test_a_trial_process_stops_the_resource_trackers_its_pool_started(tmp_path: Path) -> None:
    """A target with scikit-learn's n_jobs=-1 under limits: its process had started loky's
    and multiprocessing's resource trackers, which ignore SIGTERM, and pynisher waited 1.3 to
    1.9 s per trial for them after the target returned (an ML workflow audit). What the
    trial's process does as its target returns leaves it no child."""
    script = tmp_path / "trackers.py"
    script.write_text(
        "import psutil\n"
        "from joblib import Parallel, delayed\n"
        "from smacx.runners import serial\n"
        "Parallel(n_jobs=2)(delayed(pow)(i, 2) for i in range(4))\n"
        "before = len(psutil.Process().children())\n"
        "serial.close_reusable_pools()\n"
        "serial._stop_own_resource_trackers()\n"
        "print(before > 0, psutil.Process().children())\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.stdout.strip() == "True []", done.stderr


def test_a_memory_limit_no_trial_could_set_stops_the_run_at_once(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Under a hard ulimit -v below trial_memory_limit every trial failed in pynisher, the
    first called a bug in the target (a platforms audit's finding). Told where trials run,
    as the first starts: a dask client's own limits are not its workers' (a review)."""
    script = tmp_path / "limited.py"
    script.write_text(
        "import resource\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, Scenario\n"
        "resource.setrlimit(resource.RLIMIT_AS, (8000 * 2**20, 8000 * 2**20))\n"
        "space = ConfigurationSpace({'x': (0.0, 1.0)})\n"
        "sc = Scenario(space, n_trials=2, trial_memory_limit=16000, output_directory=None)\n"
        "smac = SMAC(sc, lambda config: config['x'])\n"
        "smac.optimize()\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "smacx.errors.MachineError: Scenario.trial_memory_limit=16000 MB is above this "
        "process's hard address-space limit of 8000 MB (ulimit -v, often set by a batch "
        "system), so no trial could set it; expected at most that. Lower trial_memory_limit, "
        "or raise the hard limit before the run starts."
    )


def test_a_memory_limit_is_refused_where_pynisher_cannot_set_one(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On macOS every trial failed with pynisher's "Limiting memory is not supported"."""
    import pynisher

    monkeypatch.setattr(pynisher, "supports", lambda limit: limit != "memory")
    sc = Scenario(space, trial_memory_limit=2000, output_directory=None)
    runner = SerialRunner(lambda config: 1.0, sc)
    with pytest.raises(MachineError, match=r"trial_memory_limit=2000 MB cannot be enforced"):
        runner.run(space.sample_configuration(), seed=0)


def sleep_briefly(config: Configuration, seed: int) -> float:
    time.sleep(0.02)
    return 1.0


@pytest.mark.slow
def test_limited_trials_of_several_threads_all_return_their_results(
    space: ConfigurationSpace,
) -> None:
    """pynisher's parent polls its pipe, then checks whether the child lives: a child that
    sent its result and exited in between lost it (about 1 run in 100 with two threads)."""
    import threading

    sc = Scenario(space, trial_walltime_limit=30, trial_memory_limit=2000, output_directory=None)
    runner = SerialRunner(sleep_briefly, sc)
    config = space.sample_configuration()
    statuses: list[StatusType] = []

    def work() -> None:
        for _ in range(60):
            statuses.append(runner.run(config, seed=0).status)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [StatusType.SUCCESS] * 180


def test_a_failed_trial_is_logged_with_its_configuration(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(config: Configuration) -> float:
        raise ValueError("boom")

    config = Configuration(space, values={"x": 1.5, "y": -2.0})
    with caplog.at_level("WARNING", logger="smacx"):
        SerialRunner(broken, Scenario(space, output_directory=None)).run(config, seed=1)
    assert (
        '{"x": 1.5, "y": -2.0}' in caplog.text and "ended CRASHED: ValueError: boom" in caplog.text
    )


def test_an_error_of_many_lines_is_logged_on_one(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """scikit-learn's "All the 3 fits failed" holds each fit's traceback: a warning of 20 to
    28 lines per failed trial, where the docs promise one (an ML workflow audit)."""
    message = "\nAll the 3 fits failed.\nBelow are more details:\n" + "  File x.py\n" * 200

    def fails_to_fit(config: Configuration) -> float:
        raise ValueError(message)

    config = space.sample_configuration()
    with caplog.at_level("DEBUG", logger="smacx"):
        SerialRunner(fails_to_fit, Scenario(space, output_directory=None)).run(config, seed=1)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "\n" not in warning and len(warning) < 700
    assert "ended CRASHED: ValueError: All the 3 fits failed. Below are more details:" in warning
    assert "characters cut ...]" in warning and warning.endswith("File x.py File x.py")
    assert message.rstrip() in caplog.text  # whole, at DEBUG


def test_a_crashed_trials_traceback_is_logged_at_debug_only(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash was logged as one warning with the error's last line; its traceback was in the
    run history only, even with DEBUG logging (an audit's finding). The warning stays one line."""

    def broken(config: Configuration) -> float:
        raise ZeroDivisionError("a bug in the target")

    info = TrialInfo(space.get_default_configuration(), seed=0)
    with caplog.at_level("WARNING", logger="smacx"):
        make(space, broken).submit_trial(info)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "\n" not in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level("DEBUG", logger="smacx"):
        make(space, broken).submit_trial(info)
    assert [r.levelname for r in caplog.records] == ["WARNING", "DEBUG"]
    assert 'in broken\n    raise ZeroDivisionError("a bug in the target")' in caplog.text


def checkpoints_on_sigterm(config: Configuration) -> float:
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # training code's usual habit
    return 1.0


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM there")
def test_a_target_with_its_own_sigterm_handler_does_not_keep_its_trial_process(
    space: ConfigurationSpace,
) -> None:
    """The trial's process waits for the parent's SIGTERM once it has sent its outcome; a
    target's handler took that signal, and every trial lasted a second more (a robustness
    audit's finding: 1,023 ms per trial against 24 ms). Five trials within 4 s leave room for
    a slow machine, not for the second each."""
    runner = make(space, checkpoints_on_sigterm, trial_walltime_limit=30)
    started = time.monotonic()
    for _ in range(5):
        assert runner.run(space.get_default_configuration()).status is StatusType.SUCCESS
    assert time.monotonic() - started < 4.0


def raises_a_megabyte(config: Configuration) -> float:
    raise ValueError("x" * 1_000_000 + " the end")


@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 30}])
def test_a_huge_error_message_is_kept_cut(
    space: ConfigurationSpace, limits: dict[str, Any]
) -> None:
    """A target's 5 MB message went whole into every log line and twice into the history (a
    robustness audit's finding); its start and end are kept."""
    value = run(space, raises_a_megabyte, **limits)
    assert value.status is StatusType.CRASHED
    error, trace = value.additional_info["error"], value.additional_info["traceback"]
    assert error.startswith("ValueError: xxx") and error.endswith(" the end")
    assert "characters cut" in error and len(error) < 2_200
    assert "characters cut" in trace and len(trace) < 20_200


SIGTERM_CAUGHT = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
def train(config, seed):
    loss = 10.0
    open(sys.argv[2], "a").write("x")
    try:  # a training loop that stops early on Ctrl-C, as skorch's partial_fit does
        for epoch in range(50):
            time.sleep(0.1)
            loss *= 0.8
    except KeyboardInterrupt:
        pass
    return loss
space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
scenario = Scenario(space, n_trials=8, output_directory=sys.argv[1], name="r")
SMAC(scenario, train, preset="random", progress=False).optimize()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGTERM there")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_caught_by_the_target_still_ends_the_run_and_records_nothing_cut_short(
    tmp_path: Any, signum: int
) -> None:
    """SIGTERM reaches the target as an interrupt; one that catches it and returns went on to
    n_trials with its cut-short trial recorded SUCCESS (a review's finding). So did Ctrl-C
    (a stopping audit's)."""
    import subprocess

    started = tmp_path / "started"
    run_ = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_CAUGHT, str(tmp_path / "out"), str(started)]
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() or started.read_text() != "xx":  # in the second trial
            assert time.monotonic() < deadline and run_.poll() is None
            time.sleep(0.05)
        run_.send_signal(signum)
        assert run_.wait(timeout=30) == -signum  # (an uncaught KeyboardInterrupt too)
    finally:
        run_.kill()
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=8, output_directory=tmp_path / "out", name="r")
    with SMAC(scenario, progress=False) as smac:
        costs = [value.cost for _, value in smac.runhistory.finished()]
    assert costs == [pytest.approx(10.0 * 0.8**50)]  # the first trial only, whole


def pool_in_target(config: Configuration) -> float:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        pending = pool.apply_async(time.sleep, (30,))
        time.sleep(0.5)
        started = time.monotonic()
        pool.terminate()  # SIGTERM to its worker, inside a 30 s C call
        pool.join()
        del pending
    return time.monotonic() - started


@pytest.mark.skipif(sys.platform == "win32", reason="no fork there")
def test_processes_a_target_forks_end_at_sigterm(space: ConfigurationSpace) -> None:
    """A pool's workers inherited the run's SIGTERM handler, which raises only between
    bytecodes: terminate() waited for their C calls (a review's finding: 5 s)."""
    scenario = Scenario(space, n_trials=1, output_directory=None)
    smac = SMAC(scenario, pool_in_target, preset="random", progress=False)
    smac.optimize()
    [(_, value)] = list(smac.runhistory.finished())
    assert value.cost < 5.0


class _SlowStreamHandler(logging.Handler):
    """A handler whose stream keeps a lock of its own while it writes, for a while, as a
    file's buffer does: a process forked within a write inherits that lock held."""

    stream_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.stream_lock:
            time.sleep(0.05)


def _logs_once(config: Configuration, seed: int = 0) -> float:
    logging.getLogger("smacx-test-user").warning("evaluating %s", dict(config))
    return 0.0


def test_a_trial_forked_while_another_thread_logs_does_not_hang(
    space: ConfigurationSpace,
) -> None:
    """Runs of one program in several threads, with trial limits: a trial forked while
    another thread wrote a log record inherited the stream's lock held, and its own first
    log line waited for it for good (an audit's finding: 1 sweep in 8 hung, or had a TIMEOUT
    with a walltime limit). A trial's fork now waits until no thread is writing one."""
    handler = _SlowStreamHandler()
    user = logging.getLogger("smacx-test-user")
    user.addHandler(handler)
    user.propagate = False
    stop = threading.Event()

    def chatter() -> None:  # another run's thread, logging all the time
        while not stop.is_set():
            user.warning("another run's trial")

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        runner = make(space, _logs_once, trial_walltime_limit=3, trial_memory_limit=2000)
        values = [runner.run(space.sample_configuration(), seed=i) for i in range(5)]
    finally:
        stop.set()
        thread.join()
        user.removeHandler(handler)
        user.propagate = True
    assert [v.status for v in values] == [StatusType.SUCCESS] * 5, [
        v.additional_info.get("error") for v in values
    ]


def _a_run_in_a_pool_worker(n_workers: int) -> str:
    """A whole run in a multiprocessing pool's (daemonic) worker: its statuses, or the error."""
    from ConfigSpace import ConfigurationSpace as Space

    from tests.conftest import quadratic

    space = Space({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space,
        n_trials=3,
        deterministic=True,
        output_directory=None,
        trial_walltime_limit=10,
        n_workers=n_workers,
    )
    try:
        with SMAC(scenario, quadratic, progress=False) as smac:
            smac.optimize()
            return " ".join(sorted(v.status.name for v in smac.runhistory.values()))
    except Exception as err:
        return f"{type(err).__name__}: {err}"


@pytest.mark.slow
def test_a_run_in_a_multiprocessing_pool_worker_has_trial_limits() -> None:
    """A sweep run in a multiprocessing.Pool: its workers are daemons, which multiprocessing
    refuses children, and every limited trial was CRASHED, the first one blamed on the
    target (an audit). A local cluster there is refused at once, saying why, where dask's
    tracebacks ran on and the advice was a __main__ guard's."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        limited, cluster = pool.map(_a_run_in_a_pool_worker, [1, 2])
    assert limited == "SUCCESS SUCCESS SUCCESS"
    assert cluster.startswith("NoWorkersError: DaskParallelRunner cannot start its local dask")
    assert "it is a daemon (a multiprocessing pool's worker" in cluster


def _runs_a_limited_run_of_its_own(config: Configuration, seed: int = 0) -> float:
    from ConfigSpace import ConfigurationSpace as Space

    inner = Scenario(
        Space({"x": (-5.0, 5.0)}, seed=0),
        n_trials=2,
        trial_walltime_limit=5,
        output_directory=None,
    )
    with SMAC(inner, lambda c: float(c["x"]) ** 2, progress=False) as smac:
        smac.optimize()
        return float(smac.incumbent_cost)


def test_a_nested_run_with_limits_in_a_limited_trial_ends_with_it(
    space: ConfigurationSpace,
) -> None:
    """A target that runs an optimization of its own with limits (tuning the tuner) started
    a watchdog in the trial's process, which ignores SIGTERM; pynisher waited 1.8 s for it
    after each trial had returned (an audit). The trial's process lets it go as it ends."""
    runner = make(space, _runs_a_limited_run_of_its_own, trial_walltime_limit=60)
    start = time.monotonic()
    value = runner.run(space.get_default_configuration(), seed=0)
    after_the_target = time.monotonic() - start - value.time
    assert value.status is StatusType.SUCCESS, value.additional_info
    assert after_the_target < 1.0  # (1.3 to 1.9 s before; 0.05 s here)


_RECONFIGURED = """
import logging, logging.config, threading
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario

CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "file": {"class": "logging.FileHandler", "filename": "/dev/null"},
    },
    "root": {"handlers": ["console", "file"], "level": "ERROR"},
}
logging.config.dictConfig(CONFIG)
stop = threading.Event()

def reconfigure():  # a service's thread that reloads its logging configuration
    while not stop.is_set():
        logging.config.dictConfig(CONFIG)

threading.Thread(target=reconfigure, daemon=True).start()
space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
scenario = Scenario(
    space, n_trials=20, deterministic=True, output_directory=None, trial_walltime_limit=10
)
with SMAC(scenario, lambda c: float(c["x"]) ** 2, progress=False) as smac:
    smac.optimize()
    print("finished", smac.runhistory.n_finished, flush=True)
stop.set()
"""


@pytest.mark.slow
def test_a_trials_fork_takes_loggings_locks_in_loggings_order() -> None:
    """The fork's wait for log writers (above) took the handlers' locks, then logging's own
    hook took its module lock; logging.config.dictConfig takes them the other way round, and
    a thread reloading the configuration hung the run for good (a review)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _RECONFIGURED],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("the run hung")
    assert b"finished 20" in out, out


def test_a_handler_lock_shared_between_processes_is_let_go_once_per_fork(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A handler whose lock is a multiprocessing lock (processes appending to one file take
    turns) had it released in the trial's process too, once per trial: after 3 trials, 4
    threads held it at once (a review). Only the run's process lets it go."""
    import multiprocessing

    lock = multiprocessing.RLock()
    handler = logging.FileHandler(tmp_path / "shared.log")
    handler.lock = lock  # type: ignore[assignment]
    logger = logging.getLogger("smacx-test-shared")
    logger.addHandler(handler)
    try:
        runner = make(space, lambda c: float(c["x"]) ** 2, trial_walltime_limit=10)
        for seed in range(3):
            assert runner.run(space.sample_configuration(), seed=seed).status is StatusType.SUCCESS
        assert lock.acquire(timeout=1.0)
        other: list[bool] = []
        thread = threading.Thread(target=lambda: other.append(lock.acquire(timeout=0.5)))
        thread.start()
        thread.join()
        assert other == [False]  # (held here: no second holder)
        lock.release()
    finally:
        logger.removeHandler(handler)
        handler.lock = threading.RLock()  # (closed without the shared lock)
        handler.close()


def _forks_a_helper(config: Configuration, seed: int) -> float:
    """Fork a helper that ends as ``config["end"]`` says; the cost is its exit code."""
    pid = os.fork()
    if pid == 0:
        if config["end"] == "exit 5":
            sys.exit(5)
        if config["end"] == "raise":
            raise ValueError("the helper failed")
        return -1.0  # (returns into whatever called the target)
    _, status = os.waitpid(pid, 0)
    return float(os.waitstatus_to_exitcode(status))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("limited", [False, True])
def test_a_helper_the_target_forks_ends_where_it_comes_back(limited: bool) -> None:
    """A target that forked a helper ending with sys.exit() had the helper catch it as the
    trial's failure and go on running the optimization (an audit's finding): the trial was
    recorded CRASHED, and the helper ran trials of its own. The helper now ends there, with
    the exit code it asked for (1 for an exception, 0 for a return)."""
    from ConfigSpace import Categorical

    space = ConfigurationSpace(seed=0)
    space.add(Categorical("end", ["exit 5", "raise", "return"]))
    limits = {"trial_walltime_limit": 30.0} if limited else {}
    scenario = Scenario(space, n_trials=3, deterministic=True, output_directory=None, **limits)
    smac = SMAC(scenario, _forks_a_helper, preset="random", progress=False)
    smac.optimize()
    ends = {
        info.config["end"]: (value.status, value.cost) for info, value in smac.runhistory.finished()
    }
    assert ends == {
        "exit 5": (StatusType.SUCCESS, 5.0),
        "raise": (StatusType.SUCCESS, 1.0),
        "return": (StatusType.SUCCESS, 0.0),
    }
    assert smac.runhistory.n_finished == 3
