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
# of itself while the trial runs), "daemon" (the same, with a program that left the trial's
# process tree), "left" (the same, with a program a first trial left running when it ended,
# killed during a second trial), "term" (SIGTERM while the main thread runs the trial),
# "handled" (the same, but the application handles SIGTERM and lives on) or "exit" (normally,
# after the trial).
RUN = """
import os, signal, subprocess, sys, threading, time
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner
from smacx.runners import watchdog
mode = sys.argv[1]
watchdog.start()  # (before the fork, so that the child would inherit the pipe if forks kept it)
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
def target(config):
    if mode == "left" and os.path.exists(sys.argv[2]):  # the second trial
        time.sleep(60)
    if mode in ("daemon", "left"):  # sh ends at once: its sleep is orphaned
        shell = "sleep 60 > /dev/null 2>&1 & echo $!"
        program = int(subprocess.run(["sh", "-c", shell], capture_output=True).stdout)
    else:
        program = subprocess.Popen(["sleep", "60"]).pid
    with open(sys.argv[2], "w") as f:
        f.write(f"{os.getpid()} {program}")
    time.sleep(0.0 if mode in ("exit", "left") else 60.0)
    return 0.0
def report_and(signal_number):
    while not os.path.exists(sys.argv[2]) or not open(sys.argv[2]).read():
        time.sleep(0.05)
    print(watchdog._proc.pid, open(sys.argv[2]).read(), child, flush=True)
    if signal_number:
        os.kill(os.getpid(), signal_number)
space = ConfigurationSpace({"x": (0.0, 1.0)})
runner = SerialRunner(target, Scenario(space, trial_walltime_limit=90, output_directory=None))
if mode == "exit":
    runner.run(space.sample_configuration())
    report_and(None)
elif mode in ("term", "handled"):
    if mode == "handled":
        signal.signal(signal.SIGTERM, lambda *args: None)
    threading.Thread(target=report_and, args=(signal.SIGTERM,)).start()
    runner.run(space.sample_configuration())
    time.sleep(60)
else:
    if mode == "left":
        runner.run(space.sample_configuration())
    threading.Thread(target=runner.run, args=(space.sample_configuration(),)).start()
    report_and(signal.SIGKILL)
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


@pytest.mark.parametrize(
    ("how", "code"), [("kill", -9), ("daemon", -9), ("left", -9), ("term", -15)]
)
def test_a_killed_run_takes_the_programs_of_its_trials_along(
    tmp_path: Path, how: str, code: int
) -> None:
    """Also a program that left the trial's process tree (it carries the trial's token), and
    at a SIGTERM, when pynisher kills the trial's process and orphans its program."""
    (keeper, trial, program, child), run = start_run(how, tmp_path)
    try:
        assert run.wait(timeout=30) == code
        assert ended(trial)
        assert ended(program), "the trial's program outlived the run"
        assert ended(keeper)
        assert not ended(child, timeout=0.5)  # the application's process is not the watchdog's
    finally:
        end([program, trial, child, keeper])


def test_a_sigterm_the_application_handles_ends_the_trials_programs(tmp_path: Path) -> None:
    """pynisher kills the trial's process; the program it started goes too, at once, while
    the application lives on."""
    (keeper, trial, program, child), run = start_run("handled", tmp_path)
    try:
        assert ended(trial) and ended(program)
        assert run.poll() is None and not ended(keeper, timeout=0.5)
    finally:
        run.kill()
        run.wait()
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


def starts_a_background_program_and(config: Configuration, seed: int) -> float:
    """Starts a program that leaves this process's tree, writes its pid next to the run, then
    fails as the configuration says (or returns)."""
    folder = Path(os.environ["SMACX_TEST_FOLDER"])
    subprocess.run(["sh", "-c", f"sleep 60 & echo $! > {folder / str(seed)}"], check=True)
    if config["x"] < 0:
        raise RuntimeError("the solver failed")
    time.sleep(30)  # over the time limit
    return 0.0


@pytest.mark.parametrize("how", ["timeout", "crash"])
def test_a_failed_trial_takes_the_programs_it_left_running_along(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A solver that went to the background (``sh -c "solver &"``) outlived its trial's
    timeout, and the run (an audit's finding)."""
    monkeypatch.setenv("SMACX_TEST_FOLDER", str(tmp_path))
    sc = Scenario(space, trial_walltime_limit=1, output_directory=None)
    runner = SerialRunner(starts_a_background_program_and, sc)
    config = Configuration(space, values={"x": -1.0 if how == "crash" else 1.0, "y": 0.0})
    value = runner.run(config, seed=7)
    assert value.status.name == ("CRASHED" if how == "crash" else "TIMEOUT")
    program = int((tmp_path / "7").read_text())
    try:
        assert ended(program)
    finally:
        with contextlib.suppress(psutil.Error):
            psutil.Process(program).kill()


FORK_AFTER_A_LIMITED_RUN = """
import os, sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
sc = Scenario(space, n_trials=3, output_directory=None, deterministic=True, trial_walltime_limit=5)
SMAC(sc, lambda config, seed=0: config["x"] ** 2, progress=False).optimize()
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit: the child's objects are finalized
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX's")
def test_a_child_forked_after_a_limited_run_does_not_warn_of_the_watchdog(tmp_path: Path) -> None:
    """A process forked after a run with trial limits inherits the watchdog's Popen; at its
    exit that Popen warned "ResourceWarning: subprocess ... is still running" under -W error
    and -X dev (an audit), though the watchdog is its parent's, not its child."""
    script = tmp_path / "fork.py"
    script.write_text(FORK_AFTER_A_LIMITED_RUN)
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["child", "0"], done.stdout
    assert "ResourceWarning" not in done.stderr, done.stderr
