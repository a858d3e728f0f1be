"""The watchdog that ends the processes of limited trials when the run's process dies."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import Scenario, SerialRunner
from tests.conftest import ended

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the watchdog is POSIX's")


def reports_its_group(config: Configuration) -> tuple[float, dict[str, Any]]:
    return 0.0, {"group": os.getpgid(0)}


def test_limited_trials_stay_in_this_process_group(space: ConfigurationSpace) -> None:
    """So that a Ctrl-C or Ctrl-Z typed in a terminal reaches them, and they may read it (a
    review's finding about an earlier watchdog, which moved them to a group of its own)."""
    runner = SerialRunner(
        reports_its_group, Scenario(space, trial_walltime_limit=30, output_directory=None)
    )
    assert runner.run(space.sample_configuration()).additional_info["group"] == os.getpgid(0)


# A run of one limited trial whose target starts a program and reports both pids, then
# sleeps; the application forked a child of its own before (outside any trial: it would hold
# the watchdog's pipe open if forks kept it). The script prints the pids of the watchdog, the
# trial's process, the program and that child, then ends as sys.argv[1] says: "kill" (SIGKILL
# of itself while the trial runs) or "exit" (normally, after the trial).
RUN = """
import os, signal, subprocess, sys, time
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner
from smacx.runners import watchdog
watchdog.start()  # (before the fork, so that the child would inherit the pipe if forks kept it)
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
def target(config):
    program = subprocess.Popen(["sleep", "60"])
    with open(sys.argv[2], "w") as f:
        f.write(f"{os.getpid()} {program.pid}")
    time.sleep(0.0 if sys.argv[1] == "exit" else 60.0)
    return 0.0
space = ConfigurationSpace({"x": (0.0, 1.0)})
runner = SerialRunner(target, Scenario(space, trial_walltime_limit=90, output_directory=None))
if sys.argv[1] == "exit":
    runner.run(space.sample_configuration())
    print(watchdog._proc.pid, open(sys.argv[2]).read(), child, flush=True)
else:
    import threading
    threading.Thread(target=runner.run, args=(space.sample_configuration(),)).start()
    while not os.path.exists(sys.argv[2]) or not open(sys.argv[2]).read():
        time.sleep(0.05)
    print(watchdog._proc.pid, open(sys.argv[2]).read(), child, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def start_run(how: str, tmp_path: Path) -> tuple[list[int], subprocess.Popen[str]]:
    script = tmp_path / "run.py"
    script.write_text(RUN)
    run = subprocess.Popen(
        [sys.executable, str(script), how, str(tmp_path / "pids")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert run.stdout is not None
    pids = [int(pid) for pid in run.stdout.readline().split()]
    assert len(pids) == 4, "the script did not start"
    return pids, run


def end(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()


def test_a_killed_run_takes_the_programs_of_its_trials_along(tmp_path: Path) -> None:
    (keeper, trial, program, child), run = start_run("kill", tmp_path)
    try:
        assert run.wait(timeout=30) == -9
        assert ended(trial)
        assert ended(program), "the trial's program outlived the run"
        assert ended(keeper)
        assert not ended(child, timeout=0.5)  # the application's process is not the watchdog's
    finally:
        end([program, trial, child, keeper])


def test_a_normal_exit_lets_the_watchdog_go_quietly(tmp_path: Path) -> None:
    (keeper, trial, program, child), run = start_run("exit", tmp_path)
    try:
        assert run.wait(timeout=30) == 0
        assert ended(keeper), "the watchdog outlived the run"
        assert ended(trial) and ended(program)  # (pynisher ends a trial's children with it)
        assert not ended(child, timeout=0.5)
    finally:
        end([program, trial, child, keeper])
