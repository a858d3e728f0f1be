"""The watchdog that ends the processes of limited trials when the run's process dies."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import Scenario, SerialRunner
from smacx.runners import watchdog

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX's")


def reports_its_group(config: Configuration) -> tuple[float, dict[str, Any]]:
    return 0.0, {"group": os.getpgid(0)}


def test_limited_trials_run_in_the_watchdogs_group(space: ConfigurationSpace) -> None:
    runner = SerialRunner(
        reports_its_group, Scenario(space, trial_walltime_limit=30, output_directory=None)
    )
    groups = [runner.run(space.sample_configuration()).additional_info["group"] for _ in range(2)]
    group = watchdog.start()
    assert group is not None
    assert groups == [group, group]  # one watchdog for every trial of this process
    assert group != os.getpgid(0)
    assert psutil.Process(group).ppid() == os.getpid()


def test_unlimited_trials_stay_in_this_process(space: ConfigurationSpace) -> None:
    runner = SerialRunner(reports_its_group, Scenario(space, output_directory=None))
    assert runner.run(space.sample_configuration()).additional_info["group"] == os.getpgid(0)


# A process that starts a watchdog, a program in its group, and a forked child outside it (which
# would hold the watchdog's pipe open if forks kept it), prints the three pids, then ends as
# sys.argv[1] says: "exit" normally, "kill" with SIGKILL.
RUN = """
import os, signal, subprocess, sys, time
from smacx.runners import watchdog
group = watchdog.start()
program = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: watchdog.join_group(group))
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
print(group, program.pid, child, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def start_run(how: str, tmp_path: Path) -> tuple[list[psutil.Process], subprocess.Popen[str]]:
    script = tmp_path / "run.py"
    script.write_text(RUN)
    run = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    pids = [int(pid) for pid in run.stdout.readline().split()]
    assert len(pids) == 3, "the script did not start"
    return [psutil.Process(pid) for pid in pids], run


def gone(process: psutil.Process, timeout: float = 10.0) -> bool:
    """Whether ``process`` ends (or is a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def end(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def test_a_killed_run_takes_the_programs_of_its_trials_along(tmp_path: Path) -> None:
    (keeper, program, child), run = start_run("kill", tmp_path)
    try:
        assert run.wait(timeout=30) == -9
        assert gone(program), "the trial's program outlived the run"
        assert gone(keeper)
        assert child.is_running()  # a process outside the group is not the watchdog's business
    finally:
        end([program, child, keeper])


def test_a_normal_exit_lets_the_watchdog_go_quietly(tmp_path: Path) -> None:
    (keeper, program, child), run = start_run("exit", tmp_path)
    try:
        assert run.wait(timeout=30) == 0
        assert gone(keeper), "the watchdog outlived the run"
        assert program.is_running() and program.status() != psutil.STATUS_ZOMBIE
    finally:
        end([program, child, keeper])
