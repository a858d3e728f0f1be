"""DaskParallelRunner on real dask clusters: limits, dying workers, scattered data, patience.

The runner-independent behaviour (each trial comes back once, crashes are data, ...) is in
``test_runner_contract.py``; this file covers what only a cluster can get wrong.
"""

# distributed's Client methods carry no annotations.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from ConfigSpace import Configuration, ConfigurationSpace
from distributed import Client, LocalCluster

from smacx import (
    SMAC,
    Callback,
    NoWorkersError,
    RunnerClosedError,
    Scenario,
    ScenarioError,
    SerialRunner,
    StatusType,
    TrialInfo,
)
from smacx.runners.dask import (
    SCHEDULER_FILE,
    WORKER_SATURATION,
    DaskParallelRunner,
    trials_ahead,
)
from smacx.trial import TrialValue
from tests.conftest import cancels_itself, ended

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[1]


def cluster(n_workers: int, threads: int = 1, **kwargs: Any) -> LocalCluster:
    """A local cluster of worker processes (single-threaded unless ``threads``) on loopback,
    dask's defaults else."""
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # not port 8787
        **kwargs,
    )


@contextlib.contextmanager
def thread_client(n_workers: int) -> Iterator[tuple[LocalCluster, Client]]:
    """A cluster of single-threaded worker threads in this process (quick to start) and a
    user's client on it."""
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # not port 8787
        ) as local,
        Client(local) as cl,
    ):
        yield local, cl


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A user's client: two default (daemonic) worker processes, default allowed-failures.

    Closing it may race with the removal of a worker that a test killed: distributed then
    raises KeyError from LocalCluster.close (its _update_worker_status), after every test ran.
    """
    c = cluster(2)
    try:
        with Client(c) as cl:
            yield cl
    finally:
        with contextlib.suppress(KeyError):
            c.close()


@pytest.fixture
def space() -> ConfigurationSpace:
    return ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)


def scenario(space: ConfigurationSpace, **kwargs: Any) -> Scenario:
    kwargs.setdefault("output_directory", None)
    return Scenario(space, **kwargs)


def finish_then_lose_the_worker(
    runner: DaskParallelRunner, local: LocalCluster, space: ConfigurationSpace
) -> None:
    """Run one trial (seed 7) on ``local``'s only worker, then remove the worker with the
    finished result, before the runner has read it."""
    runner.submit_trial(TrialInfo(space.sample_configuration(), seed=7))
    runner.wait()
    [(future, _)] = runner._running.values()
    local.scale(0)
    deadline = time.monotonic() + 30
    while future.status == "finished" and time.monotonic() < deadline:
        time.sleep(0.05)


def trials(space: ConfigurationSpace, n: int) -> list[TrialInfo]:
    return [TrialInfo(space.sample_configuration(), seed=i) for i in range(n)]


def run_all(
    runner: DaskParallelRunner, todo: list[TrialInfo], **data: Any
) -> list[tuple[TrialInfo, TrialValue]]:
    """Drive the runner as the optimizer does; return every result in arrival order."""
    results: list[tuple[TrialInfo, TrialValue]] = []
    for info in todo:
        runner.submit_trial(info, **data)
        results.extend(runner.iter_results())
    while runner.is_running():
        runner.wait()
        results.extend(runner.iter_results())
    assert not runner.is_running()
    return results


def collect(runner: DaskParallelRunner, seconds: float) -> list[tuple[TrialInfo, TrialValue]]:
    """The results of the trials running, read until none runs or ``seconds`` passed."""
    results: list[tuple[TrialInfo, TrialValue]] = []
    deadline = time.monotonic() + seconds
    while runner.is_running() and time.monotonic() < deadline:
        results.extend(runner.iter_results())
        runner.wait(timeout=0.5)
    results.extend(runner.iter_results())
    return results


def by_seed(results: list[tuple[TrialInfo, TrialValue]]) -> dict[int | None, TrialValue]:
    seeds = [info.seed for info, _ in results]
    assert len(seeds) == len(set(seeds)), f"a trial came back twice: {seeds}"
    return {info.seed: value for info, value in results}


# -- targets (module level: the workers import them) -----------------------------------------


def limited_target(config: Configuration, seed: int) -> tuple[float, dict[str, Any]]:
    """seed 0: sleeps past the 1 s limit; 1: allocates past the memory limit; else a cost."""
    if seed == 0:
        time.sleep(30)
    if seed == 1:
        block = np.ones(3 * 1024**3 // 8)  # 3 GB
        return float(block.sum()), {}
    return float(config["x"]) ** 2, {"pid": os.getpid()}


def seed_as_cost(config: Configuration, seed: int) -> float:
    return float(seed)


def gated(config: Configuration, seed: int, gate: str, log: str) -> float:
    """Appends its seed to ``log``, then waits (at most 60 s) until the file ``gate`` exists."""
    with open(log, "a") as f:
        f.write(f"{seed}\n")
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return float(seed)


def started(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def fails_on_seed_one(config: Configuration, seed: int) -> float:
    if seed == 1:
        raise ValueError("seed one fails")
    return float(seed)


def sleepy(config: Configuration, seed: int) -> float:
    time.sleep(0.3)
    return float(seed)


def sleeps_2min(config: Configuration, seed: int) -> float:
    time.sleep(120.0)
    return float(seed)


def sleeps_3s(config: Configuration, seed: int) -> float:
    time.sleep(3.0)
    return float(seed)


def kill_worker_once(config: Configuration, seed: int, marker_dir: str, **data: Any) -> float:
    """Even seeds SIGKILL their dask worker on the first attempt; returns the seed after."""
    marker = Path(marker_dir) / f"attempt-{seed}"
    if seed % 2 == 0 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return float(seed)


def kill_worker_always(config: Configuration, seed: int) -> float:
    """Seed 0 SIGKILLs its dask worker every time; other seeds take 0.2 s."""
    if seed == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return float(seed)


def kill_parent_and_linger(config: Configuration, seed: int, pid_file: str) -> float:
    """In pynisher's child: start a program (an external solver, say), SIGKILL the dask worker
    (the parent), then keep running."""
    if seed == 0:
        solver = subprocess.Popen(["sleep", "60"])
        Path(pid_file).write_text(f"{os.getpid()} {solver.pid}")
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(60)
    return float(seed)


def uses_data(config: Configuration, seed: int, X: np.ndarray, y: list[int]) -> Any:
    return float(X[seed]), {"x_id": id(X), "pid": os.getpid(), "len_y": len(y), "y0": y[0]}


def takes_lock(config: Configuration, seed: int, lock: Any) -> float:
    return float(seed)


# -- our own LocalCluster ------------------------------------------------------------------------


def starts_a_program(config: Configuration, seed: int) -> float:
    """Start ``sleep 60``, write its pid to the file the configuration names, wait for it."""
    program = subprocess.Popen(["sleep", "60"])
    Path(str(config["pids"])).write_text(f"{program.pid}\n")
    program.wait()
    return 1.0


@pytest.mark.parametrize("limit", [None, 30])
def test_closing_its_own_cluster_ends_the_programs_of_the_trials_under_way(
    tmp_path: Path, limit: int | None
) -> None:
    """The trials under way on the runner's own cluster are dropped as it closes; their
    programs ran on for the nanny's grace (a `smacx run --workers 2` stopped by SIGTERM let
    its commands run to their end, a command-line audit's finding). They end at once, in a
    trial's own process too (under a time limit)."""
    from ConfigSpace import Constant

    pids = tmp_path / "pids"
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    space.add(Constant("pids", str(pids)))
    sc = scenario(space, n_workers=1, trial_walltime_limit=limit)
    runner = DaskParallelRunner(SerialRunner(starts_a_program, sc))
    try:
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
        deadline = time.monotonic() + 60
        while not (pids.exists() and pids.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "the trial did not start"
            time.sleep(0.05)
    finally:
        started = time.monotonic()
        runner.close()
    assert ended(int(pids.read_text()), timeout=2.0)
    assert time.monotonic() - started < 10


@pytest.mark.timeout(90)
def test_own_cluster_limits_scheduler_file_and_joining_workers(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    sc = scenario(
        space,
        output_directory=tmp_path,
        n_workers=2,
        trial_walltime_limit=1,
        trial_memory_limit=1500,
    )
    runner = DaskParallelRunner(SerialRunner(limited_target, sc))
    try:
        # Loopback only, one thread per worker process, no dashboard.
        info = runner.client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        assert all(w["nthreads"] == 1 for w in info["workers"].values())
        # No memory budget of dask's (the machine's memory over the workers): a trial that
        # ran serially was killed with more workers (an audit's finding).
        assert all(not w["memory_limit"] for w in info["workers"].values())
        # A trial queued beyond the threads waits on the scheduler for the first free thread.
        assert runner.client.run_on_scheduler(saturation) == WORKER_SATURATION == 1.0
        worker_pids = set(runner.client.run(os.getpid).values())
        for pid in [os.getpid(), *worker_pids]:  # the scheduler and nannies run in this process
            process = psutil.Process(pid)
            # (psutil 6.0 renamed connections to net_connections)
            connections = getattr(process, "net_connections", None) or process.connections
            listening = [
                c.laddr.ip for c in connections(kind="inet") if c.status == psutil.CONN_LISTEN
            ]
            assert listening and set(listening) == {"127.0.0.1"}
        assert runner.count_available_workers() == 2

        # A scheduler file others can join through.
        assert sc.output_path is not None
        assert runner.scheduler_file == sc.output_path / SCHEDULER_FILE
        assert json.loads(runner.scheduler_file.read_text())["address"] == info["address"]
        # Only this user may read it: whoever reaches the scheduler runs code as them.
        assert runner.scheduler_file.stat().st_mode & 0o777 == 0o600

        values = by_seed(run_all(runner, trials(space, 4)))
        assert values[0].status is StatusType.TIMEOUT
        assert values[1].status is StatusType.MEMORYOUT
        assert values[2].status is values[3].status is StatusType.SUCCESS
        # The trial ran in pynisher's child of the worker process.
        assert values[2].additional_info["pid"] not in worker_pids

        # `dask worker --scheduler-file` adds a worker to the running optimization.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(runner.scheduler_file), "--nthreads", "1", "--no-dashboard",
             "--host", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        runner.worker_count_ttl = 0  # see a joining or leaving worker at once
        try:
            # (a new process imports dask: 30 s were too few once, on a machine at load 13)
            runner.client.wait_for_workers(3, timeout=120)
            assert runner.count_available_workers() == 3 + runner.ahead()
            values = by_seed(run_all(runner, trials(space, 6)[2:]))
            assert all(v.status is StatusType.SUCCESS for v in values.values())
            joined = [w for w in runner.client.nthreads() if w not in info["workers"]]
            runner.client.retire_workers(joined, close_workers=True)
            assert runner.count_available_workers() == 2 + runner.ahead()
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        runner.close()
    assert runner.client.status == "closed"
    assert not (sc.output_path / SCHEDULER_FILE).exists()


@pytest.mark.timeout(90)
def test_closing_leaves_the_scheduler_file_of_another_process_sharing_the_run(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The file names the latest open cluster: closing an older one leaves it, and closing the
    one it names hands it back to the one it replaced while that one is open."""
    sc = scenario(space, n_workers=1, output_directory=tmp_path)
    runners = [DaskParallelRunner(SerialRunner(seed_as_cost, sc)) for _ in range(3)]
    file = runners[0].scheduler_file
    assert file is not None

    def named() -> str:
        assert file.stat().st_mode & 0o777 == 0o600
        return str(json.loads(file.read_text())["address"])

    first, second, third = runners
    try:
        assert named() == third.client.scheduler.address  # each wrote the file again
        third.close()
        assert named() == second.client.scheduler.address  # the one it replaced, still open
        first.close()
        assert named() == second.client.scheduler.address
    finally:
        for runner in runners:
            runner.close()
    assert not file.exists()


SHARING_PROCESS = """
import sys, time
from pathlib import Path
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner
from smacx.runners.dask import DaskParallelRunner

out = Path(sys.argv[1])
space = ConfigurationSpace({"x": (-5.0, 5.0)})
sc = Scenario(space, name="shared", n_workers=1, output_directory=out)
runner = DaskParallelRunner(SerialRunner(lambda config: 1.0, sc))
(out / "started").touch()
while not (out / "go").exists():
    time.sleep(0.05)
runner.close()
"""


@pytest.mark.timeout(90)
def test_a_sharing_process_that_exits_leaves_this_scheduler_file(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """dask's scheduler deletes its scheduler file when its process exits; smacx writes the
    file itself, so another process sharing the run takes only its own file with it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.Popen(
        [sys.executable, "-c", SHARING_PROCESS, str(tmp_path)], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sc = scenario(space, name="shared", n_workers=1, output_directory=tmp_path)
    with DaskParallelRunner(SerialRunner(seed_as_cost, sc)) as mine:
        assert mine.scheduler_file == tmp_path / "shared" / "dask_scheduler.json"
        (tmp_path / "go").touch()
        assert other.wait(timeout=60) == 0
        address = json.loads(mine.scheduler_file.read_text())["address"]
        assert address == mine.client.scheduler.address
        mine.close()
        assert not mine.scheduler_file.exists()


def test_a_level_set_on_dasks_logger_before_smacx_imports_dask_holds() -> None:
    """The manual's way (docs/usage.rst) to hide dask's lines: distributed reset the level to
    INFO as smacx imported it, after the application had set it (an audit's finding)."""
    script = (
        "import logging\n"
        "logging.getLogger('distributed').setLevel(logging.WARNING)\n"
        "import smacx.runners.dask\n"
        "print(logging.getLogger('distributed').level, logging.getLogger('tornado').level)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == [str(logging.WARNING), str(logging.CRITICAL)], done.stderr


QUIETED_SCRIPT = """
import logging, os, sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
logging.basicConfig(level=logging.WARNING)
logging.getLogger("distributed").setLevel(int(sys.argv[1]))  # as the manual says (WARNING)
def f(config, seed):
    return config["x"]
if __name__ == "__main__":
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, n_trials=4, n_workers=2, output_directory=None, deterministic=True)
    SMAC(sc, f, progress=False).optimize()
    print("done", os.environ.get("DASK_LOGGING__DISTRIBUTED"))  # (not left to subprocesses)
"""


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.CRITICAL + 1])
def test_worker_processes_keep_the_log_level_the_script_set(tmp_path: Path, level: int) -> None:
    """A script that sets up logging and quiets distributed's logger got each worker's INFO
    lines (and the source of the worker's start-up code) all the same: a worker imports the
    script before distributed, which then set its level to INFO (an audit's finding). A level
    without a name reaches the workers as a number. At distributed's own INFO, the workers
    log at WARNING, as dask's LocalCluster means them to; this process's lines are the
    application's to quiet."""
    script = tmp_path / "quiet.py"  # a file, which the workers import (unlike -c's code)
    script.write_text(QUIETED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script), str(level)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.split() == ["done", "None"], done.stderr
    assert "distributed.worker" not in done.stderr, done.stderr
    assert "smacx_count_sigint" not in done.stderr, done.stderr  # (its start-up code)
    assert level == logging.INFO or "INFO" not in done.stderr, done.stderr


POOL_SCRIPT = """
import multiprocessing, sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario

def square(v):
    return v * v

def target(config, seed):
    with multiprocessing.Pool(2) as pool:
        return sum(pool.map(square, [config["x"], 1.0]))

if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    sc = Scenario(space, n_trials=3, n_workers=2, output_directory=None, deterministic=True)
    with SMAC(sc, target, progress=False, raise_on_first_crash=False) as smac:
        smac.optimize()
        print(smac.runhistory.status_counts())
        print([str(v.additional_info.get("error"))[:200] for _, v in smac.runhistory.items()])
"""


@pytest.mark.slow
def test_a_target_of_the_script_may_hand_the_scripts_functions_to_a_pool(tmp_path: Path) -> None:
    """Every trial failed on the workers with PicklingError ("not the same object as
    __main__.square"): the target came as a copy with copies of the script's functions, and
    the pool pickles them by reference (a dask audit's finding)."""
    script = tmp_path / "pooled.py"
    script.write_text(POOL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "{'SUCCESS': 3}", done.stdout


JOINED_WORKER_SCRIPT = """
import subprocess, sys
from pathlib import Path
from ConfigSpace import ConfigurationSpace
from smacx import Scenario, SerialRunner
from smacx.runners.dask import DaskParallelRunner
from mytarget import target  # a module next to this script

if __name__ == "__main__":
    out = Path(sys.argv[1])
    sc = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_workers=1, output_directory=out)
    with DaskParallelRunner(SerialRunner(target, sc)) as runner:
        ours = set(runner.client.nthreads())
        # As a user starts it: another folder, an environment that has smacx, nothing more.
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(runner.scheduler_file), "--nthreads", "1", "--no-dashboard",
             "--host", "127.0.0.1"],
            cwd=out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            runner.client.wait_for_workers(2, timeout=60)
            joined = [w for w in runner.client.nthreads() if w not in ours]
            print(runner.client.run(lambda: __import__("mytarget").__name__, workers=joined))
        finally:
            worker.terminate()
            worker.wait(30)
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_worker_joined_from_another_folder_imports_the_target_next_to_the_script(
    tmp_path: Path,
) -> None:
    """`dask worker` puts no folder of its own on the import path: a worker started from
    elsewhere could not unpickle a target in a module next to the script (an audit's finding),
    and got no trials. The runner's own cluster puts the script's folder there for it."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "mytarget.py").write_text("def target(config, seed):\n    return 1.0\n")
    (app / "main.py").write_text(JOINED_WORKER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(app / "main.py"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=100, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'mytarget'" in done.stdout, done.stdout + done.stderr[-3000:]


#: The start of the scripts that tests run in a process of their own.
SLEEPY_SCRIPT = """
import os, signal, sys, threading, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
def target(config, seed):
    time.sleep(0.3)
    return config["x"] ** 2
"""


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the scripts below in a process group of its own (a Ctrl-C to its group
    reaches nothing else), with its output."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )


INTERRUPTED_RUN = (
    SLEEPY_SCRIPT
    + """
if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=500, n_workers=2, output_directory=sys.argv[1])
    smac = SMAC(scenario, target, progress=False)  # as in the README: never closed
    # Ctrl-C as a terminal sends it: a process started in the background by a shell without
    # job control (CI scripts, `cmd &`) inherits SIGINT ignored, and so would this one.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # sys.argv[2] "group": to the whole process group, the workers too, as a terminal sends it
    kill, whom = (os.killpg, 0) if sys.argv[2] == "group" else (os.kill, os.getpid())
    threading.Timer(2.0, kill, (whom, signal.SIGINT)).start()
    smac.optimize()
"""
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT by os.kill there")
@pytest.mark.parametrize("whom", ["process", "group"])
def test_a_script_interrupted_mid_run_closes_its_cluster_quietly(tmp_path: Path, whom: str) -> None:
    """Ctrl-C of a script that never closes its SMAC: the cluster is closed before the
    interpreter shuts down, not by dask's exit hooks, which printed errors and tracebacks
    from deep inside and left the scheduler file behind. Sent to the process group, as a
    terminal does, it reached the workers too, which died with tracebacks of their own."""
    done = run_script(INTERRUPTED_RUN, str(tmp_path), whom)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert done.stderr.count("Traceback") == 1, done.stderr  # the script's own
    # (the workers' own logs of their closing are quieted too, but they may come first)
    assert "distributed.scheduler - ERROR" not in done.stderr, done.stderr
    assert "cannot schedule new futures after shutdown" not in done.stderr, done.stderr
    assert not list(tmp_path.rglob(SCHEDULER_FILE))


INTERRUPTED_START = (
    SLEEPY_SCRIPT
    + """
import distributed.nanny
start_nanny = distributed.nanny.Nanny.start_unsafe
sent = []
async def start_unsafe(self):  # a Ctrl-C as the cluster starts its first worker
    if not sent:
        sent.append(os.getpid())
        os.kill(os.getpid(), signal.SIGINT)
    return await start_nanny(self)
distributed.nanny.Nanny.start_unsafe = start_unsafe
if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=4, n_workers=2, output_directory=sys.argv[1])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    SMAC(scenario, target, progress=False)
"""
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT by os.kill there")
def test_a_ctrl_c_while_the_cluster_starts_closes_it_quietly(tmp_path: Path) -> None:
    """Ctrl-C while the runner's own LocalCluster starts its workers: dask left the workers
    it was starting out of the cluster, and its exit hook failed on them, printing
    ``AssertionError: Status.init``. The Ctrl-C now waits for the start to end, and the
    cluster is closed as it propagates."""
    done = run_script(INTERRUPTED_START, str(tmp_path))
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr, done.stderr
    assert done.stderr.count("Traceback") == 1, done.stderr  # the script's own
    assert "AssertionError" not in done.stderr, done.stderr
    assert not list(tmp_path.rglob(SCHEDULER_FILE))


SOLVER_INTERRUPTED = (
    SLEEPY_SCRIPT
    + """
def solver(config, seed):
    open(os.path.join(sys.argv[1], f"started-{os.getpid()}"), "w").close()
    subprocess.run(["sleep", "5"], check=True)  # killed by the Ctrl-C: CalledProcessError
    return 0.0
if __name__ == "__main__":
    import subprocess
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    limits = {"trial_walltime_limit": 60} if sys.argv[2] == "limited" else {}
    scenario = Scenario(space, n_trials=4, n_workers=2, output_directory=sys.argv[1], **limits)
    smac = SMAC(scenario, solver, progress=False)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    def ctrl_c():  # to the process group, as a terminal sends it, once a trial runs
        while not any(n.startswith("started-") for n in os.listdir(sys.argv[1])):
            time.sleep(0.05)
        time.sleep(0.5)
        os.killpg(0, signal.SIGINT)
    threading.Thread(target=ctrl_c, daemon=True).start()
    try:
        smac.optimize()
    except KeyboardInterrupt:
        pass
    smac.close()
    print(sorted(v.status.name for _, v in smac.runhistory.items()))
"""
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="no process groups there")
@pytest.mark.parametrize("limits", ["limited", "unlimited"])
def test_a_ctrl_c_that_kills_a_trials_program_records_no_crash(tmp_path: Path, limits: str) -> None:
    """The workers count a SIGINT and go on, but the programs trials start die of it, and
    the target failed with them: such a trial is run again, not recorded CRASHED (a review's
    finding)."""
    done = run_script(SOLVER_INTERRUPTED, str(tmp_path), limits)
    assert done.returncode == 0, done.stderr
    assert "CRASHED" not in done.stdout, (done.stdout, done.stderr)


#: A Ctrl-C as it reaches a worker whose main thread is busy: SIGINT stays blocked in the
#: main thread (and in the threads that importing dask starts), so the thread that runs the
#: target takes the signal ("delivered"), or no thread takes it yet ("pending"); the handler
#: that counts it runs in the main thread, once that unblocks it at the end.
SIGINT_IN_A_TARGET_THREAD = """
import os, signal, sys, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
from smacx.runners import dask, serial
exec(dask._IGNORE_SIGINT, {})  # as a worker of the runner's own cluster starts
def solver_killed_by_the_ctrl_c(config):
    if sys.argv[1] == "delivered":
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    os.kill(os.getpid(), signal.SIGINT)
    raise RuntimeError("the solver died")
outcome = []
target = serial._Measured(solver_killed_by_the_ctrl_c, in_child=False)
read_end, write_end = os.pipe()
def run_the_trial():
    time.sleep(0.2)  # until the main thread waits in os.read, where it runs no handler
    outcome.append(target({}))
    os.write(write_end, b"done")
threading.Thread(target=run_the_trial).start()
os.read(read_end, 4)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
print(outcome[0][0], serial.sigints_here())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signal_is", ["delivered", "pending"])
def test_a_target_in_a_workers_thread_sees_the_ctrl_c_that_killed_its_program(
    signal_is: str,
) -> None:
    """Without trial limits the target runs in a worker's thread, and the worker's handler
    counted the SIGINT in the main thread, after the target had failed: the trial was
    recorded CRASHED (CI showed it once in three runs)."""
    done = run_script(SIGINT_IN_A_TARGET_THREAD, signal_is)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["interrupted", "1"], done.stderr


def exits_its_worker_once(config: Configuration, seed: int, flag: str) -> float:
    """Ends its worker's process the first time (its nanny starts another, at a new address)."""
    if not os.path.exists(flag):
        Path(flag).touch()
        os._exit(1)
    return float(seed)


@pytest.mark.timeout(180)
def test_a_trial_held_for_workers_that_left_is_submitted_again(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Once a worker could not set trials up, trials went only to the others as they were
    then: when one died and its nanny started it again at a new address, its trial waited
    for the old address for good (a review's finding)."""
    with cluster(2) as local, Client(local) as c:
        c.wait_for_workers(2, timeout=60)
        runner = DaskParallelRunner(
            SerialRunner(exits_its_worker_once, scenario(space)), 10, dask_client=c, queue_ahead=0
        )
        bad, good = sorted(c.nthreads())
        runner._bad_workers[bad] = "cannot import the target"  # as _failed marks one
        flag = str(tmp_path / "exited")
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=3), flag=flag)
        results: list[tuple[TrialInfo, TrialValue]] = []
        deadline = time.monotonic() + 90
        while runner.is_running() and time.monotonic() < deadline:
            runner.wait(timeout=1)
            results.extend(runner.iter_results())
        assert [(info.seed, value.status) for info, value in results] == [(3, StatusType.SUCCESS)]
        assert good not in c.nthreads()  # it ran on the worker started again
        runner.close()


def test_a_lost_result_held_for_a_worker_that_left_is_submitted_again(
    space: ConfigurationSpace,
) -> None:
    """A finished trial, sent only to the good worker (another could not set trials up),
    whose result was lost with that worker: dask would compute it again only there, and its
    gather waited for good. It is submitted again to the workers there are, once, and the
    gather of its old key is dropped (that raised KeyError in iter_results: a review's
    finding)."""
    with thread_client(1) as (one, c):
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), 10, dask_client=c)
        runner._bad_workers["tcp://10.9.9.9:1"] = "cannot import the target"  # as _failed marks
        finish_then_lose_the_worker(runner, one, space)
        [(_, trial)] = runner._running.values()
        assert trial.allowed is not None  # held for the worker that left
        one.scale(1)
        c.wait_for_workers(1, timeout=30)
        results = collect(runner, 60)
        assert [(info.seed, value.status) for info, value in results] == [(7, StatusType.SUCCESS)]
        runner.close()


def kept_prefixes() -> list[str]:
    """The runners whose objects this process keeps for trials (see runners.dask._fetch)."""
    from smacx.runners import dask as runners_dask

    return [prefix for prefix, objects in runners_dask._objects.items() if objects]


def adds_the_first(config: Configuration, seed: int, X: np.ndarray) -> float:
    return float(config["x"]) + float(X[0])


@pytest.mark.timeout(120)
def test_a_run_on_a_users_client_dropped_unclosed_frees_its_data(
    space: ConfigurationSpace, client: Client
) -> None:
    """``SMAC(sc, f, dask_client=client).optimize(data_to_scatter=...)`` once per fold, never
    closed: every fold's array stayed on every worker (+191 MB each per fold), and its target
    here (an audit's finding). The next run's trials tell the workers."""
    import weakref

    from smacx import SMAC
    from smacx.runners import dask as runners_dask

    def fold(value: float) -> str:
        smac = SMAC(scenario(space, n_trials=4), adds_the_first, dask_client=client, progress=False)
        smac.optimize(data_to_scatter={"X": np.full(200_000, value)})  # 1.6 MB: scattered
        gone, prefix = weakref.ref(smac.runner), smac.runner._key_prefix
        assert [prefix] * 2 == [p for ps in client.run(kept_prefixes).values() for p in ps]
        assert any(key.startswith(prefix) for key in runners_dask._in_process)
        del smac
        gc.collect()
        assert gone() is None
        return prefix

    first = fold(0.0)
    assert not any(key.startswith(first) for key in runners_dask._in_process)  # its target
    second = fold(1.0)
    assert not any(key.startswith(second) for key in runners_dask._in_process)


class Picky:
    """A target that a worker started with ``SMACX_TEST_BAD_WORKER`` set cannot unpickle, as
    a worker started from another folder cannot import the target's module."""

    def __call__(self, config: Configuration, seed: int) -> float:
        time.sleep(0.1)
        return float(config["x"]) ** 2

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (picky, ())


def picky() -> Picky:
    if os.environ.get("SMACX_TEST_BAD_WORKER"):
        raise ModuleNotFoundError("No module named 'mytarget'")
    return Picky()


@pytest.mark.timeout(180)
def test_a_worker_that_cannot_set_up_trials_gets_no_more_of_them(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that joined from another folder failed every trial at once and, always
    free, took most of them: 22 of 30 were recorded CRASHED at crash_cost, the model taught
    that their configurations were bad (an audit's finding). Its first trial runs again
    elsewhere, and it gets no more."""
    from smacx import SMAC

    with cluster(1) as local, Client(local) as user:
        env = {**os.environ, "PYTHONPATH": str(REPO), "SMACX_TEST_BAD_WORKER": "1"}
        bad = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", local.scheduler_address,
             "--nthreads", "1", "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            user.wait_for_workers(2, timeout=60)
            sc = scenario(space, n_trials=12)
            with (
                caplog.at_level("ERROR", logger="smacx"),
                SMAC(sc, Picky(), dask_client=user, progress=False) as smac,
            ):
                smac.optimize()
                assert smac.runhistory.status_counts() == {"SUCCESS": 12}
        finally:
            bad.terminate()
            bad.wait(timeout=30)
    assert "cannot set up this run's trials (ModuleNotFoundError" in caplog.text


@pytest.mark.timeout(180)
def test_trials_wait_for_a_worker_that_can_set_them_up(space: ConfigurationSpace) -> None:
    """With no worker left that could set trials up, each trial was recorded CRASHED with a
    DNS error (the scheduler resolved the address they were held for), and the run ended on
    the target's first crash (an audit). They wait, and run once such a worker joins."""
    from smacx import SMAC

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1",
               "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]  # fmt: skip
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with cluster(0) as local, Client(local) as user:
            workers.append(
                subprocess.Popen(
                    [*command, local.scheduler_address],
                    env={**env, "SMACX_TEST_BAD_WORKER": "1"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            user.wait_for_workers(1, timeout=60)
            runner = DaskParallelRunner(
                SerialRunner(Picky(), scenario(space)), dask_client=user, patience=60
            )

            def join_once_the_bad_one_is_known() -> None:
                deadline = time.monotonic() + 60
                while not runner._bad_workers and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(1.0)  # its trial is held for a worker that can set it up
                workers.append(
                    subprocess.Popen(
                        [*command, local.scheduler_address],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )

            joiner = threading.Thread(target=join_once_the_bad_one_is_known, daemon=True)
            joiner.start()
            with SMAC(
                scenario(space, n_trials=4, deterministic=True), runner=runner, progress=False
            ) as smac:
                smac.optimize()
                assert smac.runhistory.status_counts() == {"SUCCESS": 4}
            joiner.join()
            assert len(workers) == 2 and list(runner._bad_workers) != []
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)


def _pause(dask_worker: Any) -> None:
    """Pause a worker as dask's memory manager does when its memory passes the pause mark."""
    from distributed.core import Status

    dask_worker.status = Status.paused


def pausing_target(config: Configuration, seed: int) -> float:
    """A trial that pauses its own worker (as one that needs much memory makes dask's memory
    manager do) and resumes it before it ends, 2 s later."""
    from distributed import get_worker
    from distributed.core import Status

    worker = get_worker()
    worker.loop.add_callback(setattr, worker, "status", Status.paused)
    time.sleep(2.0)
    worker.loop.add_callback(setattr, worker, "status", Status.running)
    return float(config["x"])


@pytest.mark.timeout(120)
def test_workers_dask_paused_end_the_run_unless_they_run_its_trials(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker dask's memory manager paused counted as free: a target that left memory behind
    in its worker's process paused it for good, and optimize() waited for the trials queued
    on it forever, past patience and walltime_limit, without a word (an audit). With only
    paused workers the run now waits PAUSED_PATIENCE seconds, then says why it cannot go on;
    a paused worker still running a trial of the run is waited for."""
    from smacx import SMAC
    from smacx.runners import dask as runners_dask

    monkeypatch.setattr(runners_dask, "PAUSED_PATIENCE", 1.5)
    # (memory_limit=0: no memory manager, which would resume an idle worker at once)
    with cluster(1, memory_limit=0) as local, Client(local) as user:
        sc = scenario(space, n_trials=3, deterministic=True)
        runner = DaskParallelRunner(
            SerialRunner(pausing_target, sc), dask_client=user, patience=0.5
        )
        with SMAC(sc, runner=runner, progress=False) as smac:
            smac.optimize()  # each trial pauses its worker for 2 s, longer than both waits
            assert smac.runhistory.status_counts() == {"SUCCESS": 3}
        user.run(_pause)
        sc = scenario(space, n_trials=3, deterministic=True, seed=1)
        runner = DaskParallelRunner(
            SerialRunner(pausing_target, sc), dask_client=user, patience=0.5
        )
        started = time.monotonic()
        with (
            caplog.at_level("WARNING", logger="smacx"),
            SMAC(sc, runner=runner, progress=False) as smac,
            pytest.raises(
                NoWorkersError,
                match=r"has had no worker that starts trials \(dask's memory manager has paused "
                r"1: tcp://127\.0\.0\.1:\d+\) for 1\.5 s \(patience=0\.5, at least 1\.5 s "
                r"for paused workers\), so no trial can run\. A worker stays paused while .* Set "
                r"trial_memory_limit",
            ),
        ):
            smac.optimize()
        assert time.monotonic() - started < 30
        assert smac.runhistory.status_counts() == {}
    assert "dask has paused every worker that could run trials" in caplog.text


@pytest.mark.timeout(120)
def test_a_paused_worker_that_does_not_answer_holds_the_wait_a_few_seconds_only(
    space: ConfigurationSpace,
) -> None:
    """Whether a paused worker still runs a trial was asked without a timeout: a suspended
    one held the wait loop (and walltime_limit, patience, interrupt()) until the scheduler
    dropped it, five minutes later (a review)."""
    from smacx.runners import dask as runners_dask

    with cluster(1, memory_limit=0) as local, Client(local) as user:
        sc = scenario(space)
        with DaskParallelRunner(SerialRunner(pausing_target, sc), dask_client=user) as runner:
            runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
            deadline = time.monotonic() + 30
            while not runner._paused and time.monotonic() < deadline:
                time.sleep(0.05)
                runner._count_workers()
            assert runner._paused and runner._paused_yet_running()  # it runs the trial
            [pid] = user.run(os.getpid).values()
            os.kill(pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                assert not runner._paused_yet_running()  # no answer: none it knows of
                assert time.monotonic() - started < runners_dask._ASK_PAUSED_SECONDS + 2
            finally:
                os.kill(pid, signal.SIGCONT)
            runner.wait()
            [(_, value)] = list(runner.iter_results())
            assert value.status is StatusType.SUCCESS


def _nothing() -> None:
    pass


def sigint_of_a_program(config: Configuration, seed: int) -> tuple[float, dict[str, Any]]:
    """Whether a program the trial starts ignores SIGINT (the SigIgn mask of Linux)."""
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
    mask = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn")), 16
    )
    return 0.0, {"ignored": bool(mask & (1 << (signal.SIGINT - 1)))}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_own_cluster_keeps_the_configured_preloads_and_sigint_for_programs(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The workers' SIGINT handler (a Ctrl-C to the process group must not kill them) took
    the place of the preloads of dask's configuration, and as SIG_IGN it was inherited by
    every program a trial started, so a solver stopped with SIGINT ran on (a review's
    findings)."""
    import dask

    flag = tmp_path / "preloaded"
    script = f"import pathlib\npathlib.Path({str(flag)!r}).write_text('yes')\n"
    with (
        dask.config.set({"distributed.worker.preload": [script]}),
        DaskParallelRunner(SerialRunner(sigint_of_a_program, scenario(space))) as runner,
    ):
        (_, value), *_ = run_all(runner, trials(space, 1))
    assert value.status is StatusType.SUCCESS, value.additional_info
    assert value.additional_info["ignored"] is False
    assert flag.read_text() == "yes"


def test_a_runner_dropped_without_close_closes_its_cluster(space: ConfigurationSpace) -> None:
    """``SMAC(scenario, f).optimize()`` in a loop kept one cluster per call, 2 processes and
    7 threads each, until the interpreter exited (a user's report)."""
    runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space, n_workers=2)))
    run_all(runner, trials(space, 2))
    workers = [psutil.Process(pid) for pid in runner.client.run(os.getpid).values()]
    assert len(workers) == 2
    del runner
    gc.collect()
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.wait(timeout=30)  # TimeoutExpired while the cluster lives on


def test_a_runner_dropped_with_a_trial_under_way_closes_its_cluster(
    space: ConfigurationSpace,
) -> None:
    """An interrupted run (Ctrl-C in a notebook) dropped with a trial pending kept its
    cluster, running the abandoned trials: dask's client held the pending future's callback,
    a bound method of the runner, which was never collected (a resource audit's finding)."""
    runner = DaskParallelRunner(SerialRunner(sleeps_2min, scenario(space, n_workers=1)))
    [worker] = [psutil.Process(pid) for pid in runner.client.run(os.getpid).values()]
    runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
    time.sleep(0.5)
    del runner
    gc.collect()
    with contextlib.suppress(psutil.NoSuchProcess):
        worker.wait(timeout=30)  # TimeoutExpired while the cluster lives on


def assert_no_program_left(token: str) -> None:
    """That no live process runs ``sleep token`` within 10 s (those found are killed)."""
    deadline = time.monotonic() + 10
    while True:
        left = [
            p
            for p in psutil.process_iter(["cmdline", "status"])
            if (p.info["cmdline"] or [])[-1:] == [token] and p.info["status"] != "zombie"
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for process in left:
        process.kill()
    assert not left


@pytest.mark.slow
def test_a_run_that_ends_with_an_error_leaves_no_trials_program(tmp_path: Path) -> None:
    """A parallel run stopped by its first trial's crash, in a script that never called
    close(), left the other trial's program running for good: the exit hook closed the
    cluster without ending the trials' processes, as close() does (a resource audit's
    finding)."""
    token = f"{os.getpid()}.{time.monotonic_ns() % 1000}"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, subprocess, time
        from ConfigSpace import ConfigurationSpace
        from smacx import SMAC, Scenario
        FIRST = {str(tmp_path / "first")!r}
        def target(config, seed):
            try:
                os.close(os.open(FIRST, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                subprocess.run(["sleep", "{token}"])  # the other trial: a long program
                return 0.0
            time.sleep(3)
            raise ValueError("boom")  # the first trial crashes meanwhile
        if __name__ == "__main__":
            space = ConfigurationSpace({{"x": (-5.0, 5.0)}}, seed=0)
            scenario = Scenario(space, n_trials=6, output_directory=None, n_workers=2)
            SMAC(scenario, target, progress=False).optimize()  # raises; no close()
        """)
    )
    with open(tmp_path / "log.txt", "w") as out:  # (a file: an orphan would hold a pipe)
        done = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=out,
            timeout=120,
        )
    assert done.returncode == 1, (tmp_path / "log.txt").read_text()[-2000:]
    assert_no_program_left(token)


@pytest.mark.slow
def test_a_sigterm_closes_the_cluster_before_the_process_ends(tmp_path: Path) -> None:
    """A SIGTERM to a parallel run of the Python API ended the process at once: the trials'
    programs ran on, orphaned, and the scheduler file named a dead scheduler (a resource
    audit's finding; `smacx run` left nothing)."""
    token = f"{os.getpid()}.{time.monotonic_ns() % 1000 + 1000}"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, subprocess
        from ConfigSpace import ConfigurationSpace
        from smacx import SMAC, Scenario
        def target(config, seed):
            open(os.path.join({str(tmp_path)!r}, f"started-{{os.getpid()}}"), "w").close()
            subprocess.run(["sleep", "{token}"])
            return 0.0
        if __name__ == "__main__":
            space = ConfigurationSpace({{"x": (-5.0, 5.0)}}, seed=0)
            scenario = Scenario(space, n_trials=6, output_directory={str(tmp_path / "out")!r},
                                n_workers=2)
            with SMAC(scenario, target, progress=False) as smac:
                smac.optimize()
        """)
    )
    with open(tmp_path / "log.txt", "w") as out:  # (a file: an orphan would hold a pipe)
        run = subprocess.Popen(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=out,
        )
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("started-*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(tmp_path.rglob(SCHEDULER_FILE))
        run.terminate()
        assert run.wait(timeout=60) == -signal.SIGTERM
    assert_no_program_left(token)
    assert not list(tmp_path.rglob(SCHEDULER_FILE))


def test_a_serial_runner_passed_with_n_workers_runs_on_its_own_cluster(
    space: ConfigurationSpace,
) -> None:
    """As with target_fn: it ran one trial at a time without a word (a user's report)."""
    from smacx import SMAC

    sc = scenario(space, n_trials=4, n_workers=2)
    with SMAC(sc, runner=SerialRunner(seed_as_cost, sc), progress=False) as smac:
        assert isinstance(smac.runner, DaskParallelRunner)
        smac.optimize()
        assert smac.runhistory.n_finished == 4


@pytest.mark.skipif(sys.platform == "win32", reason="no fork there")
def test_processes_forked_while_the_run_owns_a_cluster_leave_it_alone(
    space: ConfigurationSpace,
) -> None:
    """The exit hook that closes the runner's own cluster runs in forked children of
    multiprocessing too: there it must do nothing (they hung on the cluster's connections)."""
    from smacx import SMAC

    smac = SMAC(scenario(space, n_trials=4, n_workers=2), seed_as_cost, progress=False)
    try:
        for _ in range(2):
            child = multiprocessing.get_context("fork").Process(target=_nothing)
            child.start()
            child.join(20)
            assert child.exitcode == 0
        smac.optimize()
        assert smac.runhistory.n_finished == 4
    finally:
        smac.close()


def test_smac_with_bad_arguments_starts_no_cluster(space: ConfigurationSpace) -> None:
    from smacx import SMAC

    children = len(psutil.Process().children(recursive=True))
    with pytest.raises(ScenarioError, match="intensifier"):
        SMAC(scenario(space, n_workers=2), seed_as_cost, intensifier="racing")  # type: ignore[arg-type]
    assert len(psutil.Process().children(recursive=True)) == children


def test_a_finished_run_continued_starts_its_cluster_only_to_run_trials(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    from smacx import SMAC

    def parallel(n_trials: int) -> Scenario:
        return Scenario(space, n_trials=n_trials, n_workers=2, output_directory=tmp_path)

    with SMAC(scenario(space, n_trials=3, output_directory=tmp_path), seed_as_cost) as first:
        first.optimize()
    children = len(psutil.Process().children(recursive=True))
    with SMAC(parallel(3), seed_as_cost, progress=False) as again:
        with pytest.warns(UserWarning, match="has finished its n_trials=3 trials already"):
            assert again.optimize() == first.incumbent
        assert isinstance(again.runner, SerialRunner)  # nothing to run: no cluster
        assert len(psutil.Process().children(recursive=True)) == children
        assert not (tmp_path / again.scenario.run_name / SCHEDULER_FILE).exists()
        assert first.incumbent is not None
        assert again.validate(first.incumbent, seeds=[5]) == 5.0
        assert isinstance(again.runner, DaskParallelRunner)  # validation runs trials
    with SMAC(parallel(5), seed_as_cost, progress=False) as more:
        assert isinstance(more.runner, DaskParallelRunner)
        more.optimize()
        assert more.runhistory.n_finished == 5


def test_no_scheduler_file_without_output_directory(space: ConfigurationSpace) -> None:
    with DaskParallelRunner(SerialRunner(sleepy, scenario(space, n_workers=1))) as runner:
        assert runner.scheduler_file is None
        assert by_seed(run_all(runner, trials(space, 2)))[1].cost == 1.0


@pytest.mark.timeout(90)
def test_worker_killed_every_time_gives_crashed_and_run_goes_on(
    space: ConfigurationSpace,
) -> None:
    sc = scenario(space, n_workers=2)
    with DaskParallelRunner(SerialRunner(kill_worker_always, sc), max_retries=1) as runner:
        values = by_seed(run_all(runner, trials(space, 6)))
        assert set(values) == set(range(6))
        crashed = values[0]
        assert crashed.status is StatusType.CRASHED and crashed.cost == float("inf")
        assert "died" in crashed.additional_info["error"]
        assert crashed.additional_info["attempts"] == 2
        assert all(values[s].status is StatusType.SUCCESS for s in range(1, 6))
        runner.client.wait_for_workers(2, timeout=30)  # the killed worker was restarted


@pytest.mark.timeout(90)
def test_lost_scattered_data_is_sent_again_after_worker_death(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    # One worker: its death loses the only copy of the scattered data.
    sc = scenario(space, n_workers=1)
    X = np.arange(10.0)
    with DaskParallelRunner(SerialRunner(kill_worker_once, sc)) as runner:
        values = by_seed(run_all(runner, trials(space, 3), marker_dir=str(tmp_path), X=X))
    assert [values[s].status for s in range(3)] == [StatusType.SUCCESS] * 3, values
    assert (tmp_path / "attempt-0").exists() and (tmp_path / "attempt-2").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_limited_trial_does_not_outlive_its_killed_worker(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    target = SerialRunner(kill_parent_and_linger, scenario(space, trial_walltime_limit=30))
    with DaskParallelRunner(target, max_retries=0) as runner:
        values = by_seed(run_all(runner, trials(space, 1), pid_file=str(pid_file)))
    assert values[0].status is StatusType.CRASHED
    # pynisher's child, which ran the target, died with its worker instead of lingering 60 s,
    # and so did the program it started (the worker's watchdog killed it).
    for pid in pid_file.read_text().split():
        assert ended(int(pid)), f"process {pid} outlived its worker"


# -- a user's client -----------------------------------------------------------------------------


def test_limits_on_user_client_with_daemonic_workers(
    space: ConfigurationSpace, client: Client
) -> None:
    assert all(client.run(lambda: multiprocessing.current_process().daemon).values())
    sc = scenario(space, trial_walltime_limit=1, trial_memory_limit=1500)
    with DaskParallelRunner(SerialRunner(limited_target, sc), dask_client=client) as runner:
        values = by_seed(run_all(runner, trials(space, 4)))
    assert values[0].status is StatusType.TIMEOUT
    assert values[1].status is StatusType.MEMORYOUT
    assert values[2].status is values[3].status is StatusType.SUCCESS
    # The daemon flag is back once no limited trial runs.
    assert all(client.run(lambda: multiprocessing.current_process().daemon).values())
    # and the workers keep no trial process (pynisher reaps them) with its pipes open
    assert not any(client.run(lambda: len(multiprocessing.active_children())).values())


def test_a_users_tls_cluster_runs_limited_trials_and_turns_strangers_away(
    space: ConfigurationSpace,
) -> None:
    """On a machine shared with other users, loopback does not keep them from dask's
    scheduler, which runs whatever its clients send (a security audit ran code as the run's
    user from another account): parallel.rst's recipe, a cluster with TLS credentials of the
    process's own, runs trials with their limits, and a client without them gets nowhere."""
    from distributed.security import Security

    security = Security.temporary()
    with (
        cluster(1, security=security) as local,
        Client(local, security=security) as tls_client,
    ):
        assert local.scheduler_address.startswith("tls://127.0.0.1:")
        sc = scenario(space, trial_walltime_limit=1, trial_memory_limit=1500)
        runner = DaskParallelRunner(SerialRunner(limited_target, sc), dask_client=tls_client)
        with runner:
            values = by_seed(run_all(runner, trials(space, 3)))
        assert values[0].status is StatusType.TIMEOUT
        assert values[2].status is StatusType.SUCCESS
        address = local.scheduler_address.replace("tls://", "tcp://")
        with pytest.raises((OSError, TimeoutError)):
            Client(address, timeout=3)


def test_smacx_own_tls_cluster_runs_trials_and_turns_strangers_away(
    space: ConfigurationSpace,
) -> None:
    """`smacx run --workers 2` opened a scheduler that any user of the machine could connect
    to and run code as the run's user through (a security audit's finding), with no way to
    secure it from the command line. With tls=True (SMAC's dask_tls, smacx run --tls) the
    runner's own cluster speaks TLS with credentials of its own."""
    runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), tls=True)
    with runner:
        address = runner.client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert sorted(v.cost for v in by_seed(run_all(runner, trials(space, 3))).values()) == [
            0.0,
            1.0,
            2.0,
        ]
        with pytest.raises((OSError, TimeoutError)):
            Client(address.replace("tls://", "tcp://"), timeout=3)
    with pytest.raises(ScenarioError, match=r"tls=\.\.\.\) must be True or False; got 'yes'"):
        DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), tls="yes")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="dask_tls is for the LocalCluster of Scenario"):
        SMAC(
            scenario(space),
            seed_as_cost,
            dask_tls=True,
            runner=SerialRunner(seed_as_cost, scenario(space)),
        )


def test_user_client_stays_open_and_running_trials_are_cancelled(
    space: ConfigurationSpace, client: Client
) -> None:
    runner = DaskParallelRunner(SerialRunner(sleepy, scenario(space)), dask_client=client)
    todo = trials(space, 3)
    runner.submit_trial(todo[0])
    runner.submit_trial(todo[1])
    assert runner.count_available_workers() == 0
    assert runner.is_running()
    # No free worker: the third submit waits for a trial to finish.
    runner.submit_trial(todo[2])
    assert len(list(runner.iter_results())) >= 1
    runner.close()
    runner.close()  # idempotent
    assert client.status == "running"
    assert client.submit(sum, [1, 2]).result() == 3
    assert not client.processing() or not any(client.processing().values())
    with pytest.raises(RuntimeError, match="closed"):
        runner.submit_trial(todo[0])
    # a smacx error (still a RuntimeError), for every call that would run trials; not a
    # NoWorkersError, which callers catch to wait for workers to join
    for call in (lambda: runner.submit_trial(todo[0]), runner.count_available_workers):
        with pytest.raises(RunnerClosedError, match="closed") as raised:
            call()
        assert not isinstance(raised.value, NoWorkersError)


def test_a_runner_whose_client_was_closed_says_so(space: ConfigurationSpace) -> None:
    """wait() raised dask's ClosedClientError while submitting the trial again, and
    count_available_workers() an AttributeError from inside (a user's report)."""
    with thread_client(1) as (_, own):
        runner = DaskParallelRunner(SerialRunner(sleepy, scenario(space)), dask_client=own)
        runner.submit_trial(trials(space, 1)[0])
    for call in (runner.wait, runner.count_available_workers, lambda: list(runner.iter_results())):
        with pytest.raises(RunnerClosedError, match=r"client .* was closed \(client.close\(\)\)"):
            call()
    runner.close()  # closing the runner afterwards is fine


def test_a_smac_closed_after_its_users_client_with_nothing_running_says_nothing(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """It warned "Could not collect the last results ... of the 0 it has running" (an
    audit's finding): with no trial running there is nothing to collect."""
    from smacx import SMAC

    with thread_client(1) as (_, own):
        smac = SMAC(scenario(space, n_trials=2), seed_as_cost, dask_client=own, progress=False)
        smac.optimize()
    with caplog.at_level("WARNING", logger="smacx"):
        smac.close()
    assert "Could not collect" not in caplog.text
    assert smac.runhistory.n_finished == 2


def busy_half_a_second(config: Configuration, seed: int) -> float:
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    return float(seed)


def test_cputime_limit_counts_the_cpu_time_of_trials_on_worker_processes(
    space: ConfigurationSpace, client: Client
) -> None:
    """With cputime_limit=2 and trials of 0.5 s of CPU on two worker processes, all 16 trials
    ran: only this process's CPU counted (a porting audit; SMAC3 adds up the trials')."""
    from smacx import SMAC

    sc = scenario(space, n_trials=16, cputime_limit=2, deterministic=True)
    with SMAC(sc, busy_half_a_second, dask_client=client, progress=False) as smac:
        smac.optimize()
        finished = smac.runhistory.n_finished
    assert 4 <= finished <= 8, finished  # (those running when the limit came finish)


def warns_then_returns(config: Configuration, seed: int) -> float:
    logging.getLogger("smacx").warning("host h%d could not be reached", seed)
    logging.getLogger("smacx").info("not relayed: below WARNING")
    return float(seed)


def run_one_logged(
    client: Client,
    space: ConfigurationSpace,
    seed: int,
    caplog: pytest.LogCaptureFixture,
    **limits: Any,
) -> tuple[TrialValue, list[logging.LogRecord]]:
    """Run ``warns_then_returns`` once on ``client`` (under the scenario's ``limits``); its
    value and smacx's log records here."""
    caplog.clear()
    target = SerialRunner(warns_then_returns, scenario(space, **limits))
    with (
        DaskParallelRunner(target, dask_client=client) as runner,
        caplog.at_level("INFO", logger="smacx"),
    ):
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=seed))
        runner.wait()
        [(_, value)] = list(runner.iter_results())
    return value, [r for r in caplog.records if r.name.startswith("smacx")]


def test_warnings_smacx_logs_on_a_worker_process_are_logged_here(
    space: ConfigurationSpace, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A command target's "host could not be reached" went to the worker process's log, which
    has no handler the user sees, when smacx run had several workers (a docs audit's finding).
    smacx's warnings logged while a trial runs now come back with its result."""
    # (under a trial limit the target runs in a child process of the worker: a review found
    # its warnings lost there, a knob file's timeout being such a limit)
    for limits in ({}, {"trial_walltime_limit": 30}):
        value, records = run_one_logged(client, space, 3, caplog, **limits)
        assert value.cost == 3.0 and value.additional_info == {}  # (not stored with the trial)
        relayed = [r for r in records if "could not be reached" in r.getMessage()]
        assert [(r.levelname, r.getMessage()) for r in relayed] == [
            ("WARNING", "host h3 could not be reached (on a dask worker)")
        ], limits
        assert "not relayed" not in caplog.text
    with thread_client(1) as (_, own):  # workers in this process: logged once, as it happens
        _, records = run_one_logged(own, space, 4, caplog)
    shown = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert shown == ["host h4 could not be reached"]


def test_workers_that_map_much_of_the_memory_limit_are_warned_of_here(
    space: ConfigurationSpace, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A trial's process inherits its worker's address space, scattered data included: a
    serial run warned of a limit below what its process maps, a dask run not, and every trial
    ended MEMORYOUT (an audit's finding). The warning now comes in this process."""
    from smacx.runners.serial import mapped_mb

    base = max(mb for mb in client.run(mapped_mb).values() if mb is not None)
    X, y = np.arange(2_000_000, dtype=float), [1]  # 16 MB: scattered, not inline
    for limit, warned in ((int(4 * base) + 1000, False), (int(1.5 * base), True)):
        sc = scenario(space, trial_memory_limit=limit)
        with (
            warnings.catch_warnings(record=True) as caught,
            DaskParallelRunner(SerialRunner(uses_data, sc), dask_client=client) as runner,
        ):
            warnings.simplefilter("always")
            runner.submit_trial(trials(space, 1)[0], X=X, y=y)
            runner.wait()
            caplog.clear()
            assert len(list(runner.iter_results())) == 1
        # (a UserWarning at the caller's line: a script without logging saw nothing)
        said = [w for w in caught if "but a dask worker already maps" in str(w.message)]
        assert bool(said) is warned, (limit, base, [str(w.message) for w in caught])
        assert all(w.filename == __file__ for w in said)
        if warned:  # not again from the worker (an audit counted it 5 times with 2 workers)
            assert "already maps" not in caplog.text


def test_a_workers_warning_that_trials_inherit_its_memory_is_relayed_once() -> None:
    """Each worker warns that the trials it forks inherit its memory; the run hears it once,
    and not at all when it has warned of it itself (see _warn_of_worker_memory)."""
    from smacx.runners.dask import _RELAYED, _relay_warnings
    from smacx.runners.serial import INHERITED_MEMORY

    def value(*messages: str) -> TrialValue:
        relayed = [(logging.WARNING, m) for m in messages]
        return TrialValue(cost=1.0, additional_info={_RELAYED: relayed, "kept": 1})

    memory = f"trial_memory_limit=700 MB, but this process already maps 502 MB {INHERITED_MEMORY}"
    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("smacx")
    logger.addHandler(handler)
    try:
        said = [False]
        assert _relay_warnings(value(memory, "other"), said).additional_info == {"kept": 1}
        _relay_warnings(value(memory.replace("502", "503"), "other"), said)
        assert logged == [f"{memory} (on a dask worker)", *["other (on a dask worker)"] * 2]
        assert said == [True]
        logged.clear()
        _relay_warnings(value(memory), [True])
        assert logged == []
    finally:
        logger.removeHandler(handler)


def test_trial_cancelled_after_it_finished_is_never_reported(
    space: ConfigurationSpace, client: Client
) -> None:
    """A result that arrived before cancel() (the facade retiring a trial) is dropped."""
    with DaskParallelRunner(
        SerialRunner(seed_as_cost, scenario(space)), dask_client=client
    ) as runner:
        first, second = trials(space, 2)
        runner.submit_trial(first)
        runner.wait()  # the result has arrived but was not collected
        runner.cancel(first)
        assert list(runner.iter_results()) == []
        runner.submit_trial(second)
        runner.wait()
        assert [info for info, _ in runner.iter_results()] == [second]


def test_worker_killed_once_on_user_client_trial_succeeds(
    space: ConfigurationSpace, client: Client, tmp_path: Path
) -> None:
    target = SerialRunner(kill_worker_once, scenario(space))
    with DaskParallelRunner(target, dask_client=client) as runner:
        values = by_seed(run_all(runner, trials(space, 4), marker_dir=str(tmp_path)))
    assert [values[s].status for s in range(4)] == [StatusType.SUCCESS] * 4
    assert [values[s].cost for s in range(4)] == [0.0, 1.0, 2.0, 3.0]
    client.wait_for_workers(2, timeout=30)


@pytest.fixture
def fresh_client() -> Iterator[Client]:
    """A user's client on a cluster no other test has touched: a worker that an earlier
    test killed or restarted, replaced meanwhile, makes the runner scatter its data again."""
    with cluster(2) as c, Client(c) as cl:
        yield cl


def test_scattered_data_is_sent_once(space: ConfigurationSpace, fresh_client: Client) -> None:
    client = fresh_client
    X = np.arange(25_000_000, dtype=np.float64)  # 200 MB
    y = [7] * 100  # a list is scattered as one object, not item by item
    target = SerialRunner(uses_data, scenario(space))
    with DaskParallelRunner(target, dask_client=client) as runner:
        values = by_seed(run_all(runner, trials(space, 8), X=X, y=y))
        # One copy of X per worker for all trials: one key, held by every worker that ran
        # trials.
        big = {k: n for k, n in client.nbytes(summary=False).items() if n >= X.nbytes}
        assert len(big) == 1, big
        [key] = big
        # Trials on one worker saw the very same array object.
        ids: dict[int, set[int]] = {}
        for v in values.values():
            ids.setdefault(v.additional_info["pid"], set()).add(v.additional_info["x_id"])
        assert all(len(s) == 1 for s in ids.values()), ids
        # dask's active memory manager may leave a single copy in its own store (the workers
        # keep theirs in smacx's cache, or copy it from that one): never none.
        assert any(key in keys for keys in client.has_what().values())
        assert [values[s].cost for s in range(8)] == [float(s) for s in range(8)]
        assert all(v.additional_info["len_y"] == 100 for v in values.values())
        # A new object under the same name replaces the old one.
        X2 = np.arange(100.0) + 1
        values = by_seed(run_all(runner, trials(space, 2), X=X2, y=y))
        assert values[1].cost == 2.0
    client.run(lambda: None)  # the cluster is still healthy
    # The replaced X is released through the client's batched stream, which the scheduler may
    # read after the RPCs above: wait for it.
    deadline = time.monotonic() + 10
    while any(n >= X.nbytes for n in client.nbytes(summary=False).values()):
        assert time.monotonic() < deadline, "the scattered array was never released"
        time.sleep(0.05)


def test_unpicklable_data_to_scatter_is_a_scenario_error_naming_it(
    space: ConfigurationSpace, client: Client
) -> None:
    """dask cannot send a lock: the error names the keyword, what was expected and what came,
    no trial is left running, and the runner goes on with data it can send."""
    with DaskParallelRunner(
        SerialRunner(takes_lock, scenario(space)), dask_client=client
    ) as runner:
        with pytest.raises(
            ScenarioError,
            match=r"data_to_scatter\['lock'\] cannot be sent to the dask workers: expected data "
            r"that can be pickled .* got _thread\.lock \(TypeError: cannot pickle",
        ) as raised:
            runner.submit_trial(
                TrialInfo(space.get_default_configuration(), seed=0), lock=threading.Lock()
            )
        assert isinstance(raised.value.__cause__, TypeError)  # dask's own error
        assert not runner.is_running()
        values = by_seed(run_all(runner, trials(space, 2), lock="a name instead"))
        assert [values[s].cost for s in range(2)] == [0.0, 1.0]


def test_unpicklable_target_is_a_scenario_error(space: ConfigurationSpace, client: Client) -> None:
    lock = threading.Lock()

    def locked(config: Configuration, seed: int) -> float:
        with lock:
            return float(seed)

    with DaskParallelRunner(SerialRunner(locked, scenario(space)), dask_client=client) as runner:
        with pytest.raises(ScenarioError, match="cannot send its SerialRunner .* unpicklable"):
            runner.submit_trial(TrialInfo(space.get_default_configuration(), seed=0))
        assert not runner.is_running()


def test_cancelled_error_of_the_target_is_its_crash(
    space: ConfigurationSpace, client: Client
) -> None:
    """The worker's SerialRunner records the target's CancelledError (a BaseException) like any
    crash of the target, with its traceback; not as dask failing to run the trial."""
    with DaskParallelRunner(
        SerialRunner(cancels_itself, scenario(space)), dask_client=client
    ) as runner:
        [(_, value)] = run_all(runner, trials(space, 1))
    assert value.status is StatusType.CRASHED
    assert value.additional_info["error"].startswith("CancelledError")
    assert "in cancels_itself" in value.additional_info["traceback"]


def quick(config: Configuration, seed: int) -> float:
    time.sleep(0.01)
    return float(seed)


@pytest.mark.slow
def test_closing_the_own_cluster_after_trials_with_a_joblib_pool_is_quiet(tmp_path: Path) -> None:
    """A target with scikit-learn's n_jobs=-1 left joblib's pool in each worker: closing the
    run killed it (with loky's resource tracker), printing dozens of tracebacks and "some
    resources might leak" after a run whose every trial succeeded (an ML workflow audit)."""
    script = tmp_path / "pools.py"
    script.write_text(
        "from ConfigSpace import ConfigurationSpace\n"
        "from joblib import Parallel, delayed\n"
        "from smacx import SMAC, Scenario\n"
        "def target(config, seed):\n"
        "    squares = Parallel(n_jobs=2)(delayed(pow)(i, 2) for i in range(4))\n"
        "    return config['x'] + sum(squares)\n"
        "if __name__ == '__main__':\n"
        "    space = ConfigurationSpace({'x': (0.0, 1.0)})\n"
        "    sc = Scenario(space, n_trials=2, deterministic=True, n_workers=2,\n"
        "                  output_directory=None)\n"
        "    with SMAC(sc, target, progress=False) as smac:\n"
        "        smac.optimize()\n"
        "        print(smac.runhistory.status_counts())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert done.stdout.strip() == "{'SUCCESS': 2}", done.stderr
    for noise in ("Traceback", "resource_tracker", "still alive"):
        assert noise not in done.stderr, done.stderr


def test_a_finished_key_no_longer_running_is_skipped(
    space: ConfigurationSpace, client: Client
) -> None:
    """A trial submitted again under a new key (away from workers that cannot set trials
    up) left its cancelled future's key among the finished ones: reading the next batch
    raised KeyError (a second review, by reading)."""
    with DaskParallelRunner(
        SerialRunner(seed_as_cost, scenario(space)), dask_client=client
    ) as runner:
        [info] = trials(space, 1)
        runner.submit_trial(info)
        runner.wait()
        runner._finished.appendleft("a key submitted again since")
        results = list(runner.iter_results())
        while runner.is_running():
            runner.wait()
            results.extend(runner.iter_results())
    assert [value.cost for _, value in results] == [float(info.seed)]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_held_trial_is_kept_when_submitting_it_again_fails(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Trials held after a MachineError were dropped when submitting them again raised (no
    worker while the large runner was scattered again, as when the mended machine's
    workers restart): their results never came (a review)."""
    from smacx import CommandTarget, MachineError

    root = tmp_path / "trials"
    root.write_text("a file, where the folders would go\n")
    padding = {f"PAD{i}": "x" * 100_000 for i in range(3)}  # (a runner scattered, not inlined)
    target = CommandTarget("echo 2 > {trial_dir}/o; echo 2", trial_root=str(root), env=padding)
    local = cluster(1)
    with Client(local) as cl:
        runner = DaskParallelRunner(
            SerialRunner(target, scenario(space)), patience=1, dask_client=cl
        )
        with runner:
            with pytest.raises(MachineError):
                run_all(runner, trials(space, 2))
            while any(future.status == "pending" for future, _ in runner._running.values()):
                time.sleep(0.05)
            root.unlink()
            local.scale(0)
            deadline = time.monotonic() + 30
            while cl.nthreads() and time.monotonic() < deadline:
                time.sleep(0.1)
            results: list[tuple[TrialInfo, TrialValue]] = []
            with pytest.raises(NoWorkersError):
                results.extend(runner.iter_results())
            local.scale(1)
            cl.wait_for_workers(1, timeout=60)
            while runner.is_running():
                runner.wait(timeout=1)
                results.extend(runner.iter_results())
    local.close()
    assert sorted(info.seed for info, value in results if value.status is StatusType.SUCCESS) == [
        info.seed for info in trials(space, 2)
    ]


def test_a_worker_that_cannot_set_a_trial_up_stops_the_run(
    space: ConfigurationSpace, client: Client, tmp_path: Path
) -> None:
    """A full disk where a command's {trial_dir} goes was recorded as each configuration's
    crash (a hostile-filesystem audit): from a worker, too, the run stops instead; once the
    machine is mended, the trial runs again (a review found the error raised at every
    later call, for good)."""
    from smacx import CommandTarget, MachineError

    (tmp_path / "trials").write_text("a file, where the folders would go\n")
    target = CommandTarget("echo 3 > {trial_dir}/o; echo 3", trial_root=str(tmp_path / "trials"))
    with DaskParallelRunner(SerialRunner(target, scenario(space)), dask_client=client) as runner:
        with pytest.raises(MachineError, match=r"could not make the trial's folder"):
            run_all(runner, trials(space, 1))
        assert runner.is_running()  # held, to run again
        (tmp_path / "trials").unlink()
        results = list(runner.iter_results())
        while runner.is_running():
            runner.wait()
            results.extend(runner.iter_results())
    assert [value.status for _, value in results] == [StatusType.SUCCESS]


@pytest.mark.slow
def test_limited_trials_on_workers_of_two_threads_all_come_back(space: ConfigurationSpace) -> None:
    """A trial's process forked from a dask worker's (daemon) thread made the thread that was to
    keep it alive until its outcome was read a daemon too: 1 to 4 trials in 100 that succeeded
    were recorded as an exit without a result."""
    n = 200
    with (
        cluster(1, threads=2) as local,
        Client(local) as own,
        DaskParallelRunner(
            SerialRunner(quick, scenario(space, trial_walltime_limit=30)), dask_client=own
        ) as runner,
    ):
        results = run_all(runner, trials(space, n))
    assert [v.status for _, v in results] == [StatusType.SUCCESS] * n, Counter(
        v.additional_info.get("error") for _, v in results
    )


def forks_a_child(config: Configuration, seed: int) -> float:
    """The exit code of a child this forks, which exits with 7."""
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    return float(os.waitstatus_to_exitcode(status))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hook is Linux's")
def test_a_limited_target_may_fork_processes_of_its_own(
    space: ConfigurationSpace, client: Client
) -> None:
    """The hook that ties a trial's process to its worker ran in the target's own children
    too, which found their parent was not the worker and exited at once (code 1)."""
    single = SerialRunner(forks_a_child, scenario(space, trial_walltime_limit=30))
    with DaskParallelRunner(single, dask_client=client) as runner:
        results = run_all(runner, trials(space, 2))
    assert [v.cost for _, v in results] == [7.0, 7.0]


def starts_a_process(config: Configuration, seed: int) -> float:
    """The exit code of a multiprocessing child (5), which multiprocessing refuses to start
    from a daemonic process."""
    child = multiprocessing.get_context("fork").Process(target=sys.exit, args=(5,))
    child.start()
    child.join()
    return float(child.exitcode or 0)


@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 30}])
def test_a_target_may_start_processes_on_daemonic_workers(
    space: ConfigurationSpace, client: Client, limits: dict[str, Any]
) -> None:
    """As in a serial run: only a limited trial could start them (a user's report)."""
    daemonic = lambda: multiprocessing.current_process().daemon  # noqa: E731
    assert all(client.run(daemonic).values())
    single = SerialRunner(starts_a_process, scenario(space, **limits))
    with DaskParallelRunner(single, dask_client=client) as runner:
        results = run_all(runner, trials(space, 2))
    assert [v.status for _, v in results] == [StatusType.SUCCESS] * 2
    assert [v.cost for _, v in results] == [5.0, 5.0]
    assert all(client.run(daemonic).values())  # the workers are daemons again


def interrupts_itself(config: Configuration, seed: int) -> float:
    raise KeyboardInterrupt("raised by the target, e.g. a library's own signal handling")


def returns_a_lock(config: Configuration, seed: int) -> tuple[float, dict[str, Any]]:
    import threading

    return 1.0, {"lock": threading.Lock(), "note": "fine"}


@pytest.mark.parametrize("limits", [{}, {"trial_walltime_limit": 30}])
def test_a_keyboardinterrupt_of_the_target_is_its_crash_and_spares_the_worker(
    space: ConfigurationSpace, client: Client, limits: dict[str, Any]
) -> None:
    """A Ctrl-C of the user reaches only the process running optimize(); on a worker, an
    interrupt is the target's failure. It used to take the worker down (twice, then CRASHED as a
    dead worker, 10 s a trial)."""
    workers = set(client.scheduler_info()["workers"])
    with DaskParallelRunner(
        SerialRunner(interrupts_itself, scenario(space, **limits)), dask_client=client
    ) as runner:
        results = run_all(runner, trials(space, 2))
    assert [v.status for _, v in results] == [StatusType.CRASHED] * 2
    assert all(v.additional_info["error"].startswith("KeyboardInterrupt") for _, v in results)
    assert set(client.scheduler_info()["workers"]) == workers  # none died


def test_info_that_cannot_be_pickled_comes_back_as_its_repr(
    space: ConfigurationSpace, client: Client
) -> None:
    with DaskParallelRunner(
        SerialRunner(returns_a_lock, scenario(space)), dask_client=client
    ) as runner:
        [(_, value)] = run_all(runner, trials(space, 1))
    assert value.status is StatusType.SUCCESS and value.cost == 1.0
    assert value.additional_info["note"] == "fine" and "lock" in value.additional_info["lock"]


# -- no workers ----------------------------------------------------------------------------------


def test_no_workers_raises_after_patience(space: ConfigurationSpace) -> None:
    with cluster(0) as empty, Client(empty) as c:
        runner = DaskParallelRunner(SerialRunner(sleepy, scenario(space)), 0.5, dask_client=c)
        start = time.monotonic()
        # The user's cluster's workers may be batch jobs still queued; the advice keeps
        # their client (an audit's finding: without it, a private cluster started instead).
        advice = (
            r"no worker for 0.5 s.*dask worker tcp://\S+ --nthreads 1`, adding `--host "
            r"127.0.0.1 --dashboard-address 127.0.0.1:0`.*"
            r"client.wait_for_workers\(1\).*dask_client=client, patience=\.\.\..*"
            r"An adaptive cluster starts workers only for tasks it sees: give "
            r"Scenario\(n_workers=\.\.\.\)"
        )
        with pytest.raises(NoWorkersError, match=advice):
            runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
        assert 0.4 < time.monotonic() - start < 10
        assert runner.count_available_workers() == 0
        with pytest.raises(NoWorkersError):  # the optimizer waits for a worker to join
            runner.wait()
        runner.close()
        assert c.status == "running"
        # kept submitted for an adaptive cluster: no wait_for_workers (it waits for good at
        # minimum=0), and the runner to raise patience with keeps keep_submitted (a review)
        adaptive = DaskParallelRunner(
            SerialRunner(sleepy, scenario(space)), 0.5, dask_client=c, keep_submitted=3
        )
        adaptive.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
        with pytest.raises(NoWorkersError) as err:
            adaptive.wait()
        assert "wait_for_workers" not in str(err.value)
        assert "dask_client=client, patience=..., keep_submitted=3)" in str(err.value)
        adaptive.close()


def test_an_adaptive_cluster_grows_to_the_trials_kept_submitted(
    space: ConfigurationSpace,
) -> None:
    """cluster.adapt(minimum=0) never started a worker: trials were submitted only as worker
    threads freed up, and a scheduler starts workers only for tasks it sees (a dask audit's
    finding). With Scenario(n_workers=2) two trials are kept submitted, and the cluster
    grows from none to two workers."""
    from distributed import get_worker

    from smacx import SMAC

    def where(config: Configuration, seed: int) -> tuple[float, dict[str, str]]:
        time.sleep(0.3)
        return float(config["x"]), {"worker": get_worker().address}

    with (
        LocalCluster(
            n_workers=0, threads_per_worker=1, processes=False, dashboard_address=None
        ) as local,
        Client(local) as user_client,
    ):
        local.adapt(minimum=0, maximum=2, interval="100ms", target_duration="10ms")
        with SMAC(scenario(space, n_trials=8, n_workers=2), where, dask_client=user_client) as smac:
            smac.optimize()
            values = [value for _, value in smac.runhistory.finished()]
        assert len(values) == 8 and all(v.status is StatusType.SUCCESS for v in values)
        assert len({v.additional_info["worker"] for v in values}) == 2
    single = SerialRunner(where, scenario(space))
    for name in ("keep_submitted", "max_retries", "queue_ahead"):
        for wrong in (-1, True, 1.5, "2"):
            with pytest.raises(ScenarioError, match=rf"{name}=\.\.\.\) must be an int >= 0"):
                DaskParallelRunner(single, **{name: wrong})


def test_a_scheduler_that_dies_ends_the_run_with_an_error_that_says_so(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The user's scheduler killed mid-run: the runner warned "lost with a dask worker;
    submitting again" onto the dead connection, waited out dask's 30 s of reconnection, and
    raised dask's bare OSError (a dask audit's finding). Now a RunnerClosedError that names
    the scheduler and what became of the trials, after patience."""
    dask = str(Path(sys.executable).parent / "dask")
    address_file = tmp_path / "scheduler.json"
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--scheduler-file", str(address_file), "--port", "0", *loopback],
        start_new_session=True,
        **quiet,
    )
    worker = None
    try:
        while not address_file.exists():
            time.sleep(0.1)
        worker = subprocess.Popen(
            [dask, "worker", "--scheduler-file", str(address_file), "--nthreads", "1", *loopback],
            start_new_session=True,
            **quiet,
        )
        with Client(scheduler_file=str(address_file)) as user:
            user.wait_for_workers(1, timeout=60)
            runner = DaskParallelRunner(
                SerialRunner(sleeps_3s, scenario(space)), 1.0, dask_client=user
            )
            runner.submit_trial(TrialInfo(space.sample_configuration(), seed=5))
            os.killpg(scheduler.pid, signal.SIGKILL)
            start = time.monotonic()
            lost = r"lost its dask scheduler at tcp://.* The trials it had running went with"
            with pytest.raises(RunnerClosedError, match=lost):
                runner.wait()
                list(runner.iter_results())
                runner.wait()
            assert time.monotonic() - start < 20  # (dask reconnects for 30 s)
            started = time.monotonic()
            with pytest.raises(RunnerClosedError, match=lost):  # at once: it was said
                runner.wait()
            runner.close()
            assert time.monotonic() - started < 2  # (SMAC.close() waited patience again)
    finally:
        for process in (scheduler, worker):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_trials_kept_submitted_for_an_adaptive_cluster_stop_before_the_walltime_limit(
    space: ConfigurationSpace,
) -> None:
    """Scenario(n_workers=4) with a client of one thread keeps 4 trials submitted, 3 queued
    behind the running one: they were queued until one trial's time before walltime_limit,
    and the run ended 3 trials late (a review: 6.1 s for a 4 s limit with 1 s trials)."""
    from smacx import SMAC

    def second(config: Configuration, seed: int) -> float:
        time.sleep(1.0)
        return float(config["x"])

    with thread_client(1) as (_, user_client):
        # (the first 4 are submitted before any trial time is known: 4 s at least)
        sc = scenario(space, n_trials=None, walltime_limit=5.0, n_workers=4)
        with SMAC(sc, second, dask_client=user_client) as smac:
            smac.optimize()
            # one thread, 1 s each: 5 s hold 5 trials, and the queue made it 7 or 8 (8 s)
            assert smac.runhistory.n_finished <= 6


def test_a_lost_result_is_awaited_through_the_runners_own_client(
    space: ConfigurationSpace,
) -> None:
    """distributed's wait() uses the latest client made in the process: with a later one, on
    a loop of its own, waiting for a result computed again raised 'bound to a different
    event loop' (seen in CI-like runs once another test had made a client)."""
    with thread_client(1) as (one, c):
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), 5, dask_client=c)
        with thread_client(1):  # the latest client from now on
            finish_then_lose_the_worker(runner, one, space)
            one.scale(1)
            results = collect(runner, 30)
        assert [(info.seed, value.status) for info, value in results] == [(7, StatusType.SUCCESS)]
        runner.close()


def test_a_gather_under_way_when_the_result_is_lost_waits_only_patience(
    space: ConfigurationSpace,
) -> None:
    """A finished result can be lost with its worker after iter_results picked it and before
    its gather returned: dask then computes it again, and the gather waits for that. With no
    worker left it waited for good; it raises NoWorkersError after patience, keeping the
    trial, which comes back once a worker joins."""
    with thread_client(1) as (one, c):
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), 1, dask_client=c)
        finish_then_lose_the_worker(runner, one, space)
        [(future, _)] = runner._running.values()
        start = time.monotonic()
        with pytest.raises(NoWorkersError, match="patience=1"):
            runner._gather([future])  # (as iter_results calls it, the moment it was finished)
        assert time.monotonic() - start < 10
        one.scale(1)
        c.wait_for_workers(1, timeout=30)
        values, errors = runner._gather([future])
        assert errors == {}
        assert [(v.status, v.cost) for v in values.values()] == [(StatusType.SUCCESS, 7.0)]
        runner.close()


def test_waiting_trial_raises_when_last_worker_leaves(space: ConfigurationSpace) -> None:
    with cluster(1) as one, Client(one) as c:
        runner = DaskParallelRunner(SerialRunner(sleepy, scenario(space)), 1, dask_client=c)
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
        c.retire_workers(list(c.nthreads()), close_workers=True, remove=True)
        one.scale(0)
        with pytest.raises(NoWorkersError, match="patience=1"):
            while runner.is_running():
                runner.wait()
                list(runner.iter_results())
        runner.close()


def test_trial_whose_resubmission_found_no_worker_is_kept_until_one_joins(
    space: ConfigurationSpace,
) -> None:
    """The only worker leaves after a trial finished, taking its result and the scattered
    runner: resubmitting raises NoWorkersError, and the trial comes back once a worker joins."""
    with thread_client(1) as (one, c):
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), 1, dask_client=c)
        finish_then_lose_the_worker(runner, one, space)
        with pytest.raises(NoWorkersError):
            list(runner.iter_results())
        assert runner.is_running()
        one.scale(1)
        c.wait_for_workers(1, timeout=30)
        results: list[tuple[TrialInfo, TrialValue]] = []
        deadline = time.monotonic() + 30
        while runner.is_running() and time.monotonic() < deadline:
            runner.wait(timeout=1)
            results.extend(runner.iter_results())
        assert [(info.seed, value.status, value.cost) for info, value in results] == [
            (7, StatusType.SUCCESS, 7.0)
        ]
        runner.close()


def test_trial_waiting_for_a_worker_starts_on_one_that_joins(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """One worker runs a trial that waits for a gate; the next submit_trial returns as soon as
    a second worker joins, and its trial starts there before the gate opens."""
    gate, log = tmp_path / "gate", tmp_path / "log"
    with cluster(1) as grow, Client(grow) as c:
        runner = DaskParallelRunner(
            SerialRunner(gated, scenario(space)), 2, dask_client=c, queue_ahead=0
        )
        data = {"gate": str(gate), "log": str(log)}
        first, second = trials(space, 2)
        runner.submit_trial(first, **data)
        grow.scale(2)
        start = time.monotonic()
        runner.submit_trial(second, **data)  # blocks until the second worker is there
        assert time.monotonic() - start < 20  # not until the gated trial ends (60 s)
        deadline = time.monotonic() + 30
        while started(log) != [0, 1] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(started(log)) == [0, 1]
        gate.touch()
        while runner.is_running():
            runner.wait()
            list(runner.iter_results())
        runner.close()


def test_optimize_waits_for_its_trials_when_another_process_finishes_the_run(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Two optimizers share a run; the other one tells n_trials results while this one's
    trials still run. optimize() returns once they are told: none is left RUNNING."""
    import threading

    from smacx import SMAC

    calls: list[int] = []

    def slow(config: Configuration, seed: int) -> float:
        calls.append(1)
        time.sleep(0.3 if len(calls) == 1 else 2.0)
        return float(config["x"]) ** 2

    sc = scenario(space, n_trials=4, output_directory=tmp_path, deterministic=True)
    with thread_client(2) as (_, c):
        mine = SMAC(
            sc,
            runner=DaskParallelRunner(SerialRunner(slow, sc), dask_client=c, queue_ahead=0),
            progress=False,
        )
        other = SMAC(sc, progress=False)

        def fill() -> None:
            time.sleep(0.1)
            for _ in range(4):
                info = other.ask()
                other.tell(info, TrialValue(cost=1.0))

        filler = threading.Thread(target=fill)
        filler.start()
        mine.optimize()
        filler.join()
        mine.runhistory.sync()
        assert not mine.runner.is_running()
        assert mine.runhistory.n_running == 0
        assert mine.runhistory.n_finished == 4 + len(calls)
        mine.close()
        other.close()


class FreezeCount(Callback):
    """Notes gc.get_freeze_count() and gc.get_threshold() at every tell."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.thresholds: list[tuple[int, int, int]] = []

    def on_tell_end(self, smac: Any, info: TrialInfo, value: TrialValue) -> None:
        self.counts.append(gc.get_freeze_count())
        self.thresholds.append(gc.get_threshold())


class SetsThreshold(Callback):
    """Sets the collector's thresholds at the first tell, as an application might."""

    def __init__(self, thresholds: tuple[int, int, int]) -> None:
        self.thresholds = thresholds

    def on_tell_end(self, smac: Any, info: TrialInfo, value: TrialValue) -> None:
        if gc.get_threshold() != self.thresholds:
            gc.set_threshold(*self.thresholds)


def test_a_threshold_set_during_optimize_on_workers_outlives_the_run(
    space: ConfigurationSpace,
) -> None:
    """Thresholds the application sets while a parallel optimize() runs (in a callback, in
    another thread) are its own: the run's end keeps them, where it put back those from
    before the run."""
    from smacx import SMAC

    before = gc.get_threshold()
    sc = scenario(space, n_trials=4, deterministic=True)
    try:
        with thread_client(2) as (_, c):
            runner = DaskParallelRunner(SerialRunner(seed_as_cost, sc), dask_client=c)
            callback = SetsThreshold((4_321, 9, 9))
            with SMAC(sc, runner=runner, progress=False, callbacks=[callback]) as smac:
                smac.optimize()
            assert gc.get_threshold() == (4_321, 9, 9)
            assert gc.get_freeze_count() == 0
    finally:
        gc.set_threshold(*before)


def test_optimize_on_workers_keeps_older_objects_out_of_collections_for_the_run_only(
    space: ConfigurationSpace,
) -> None:
    """With a parallel runner, the objects alive when optimize() starts are frozen (a full
    collection would stop the scheduler's and the workers' threads while it visits them), and
    the youngest objects are collected every 20,000 allocations, not 700; both are undone
    when it ends. A serial run leaves the garbage collector alone."""
    from smacx import SMAC

    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    sc = scenario(space, n_trials=6, deterministic=True)
    with thread_client(2) as (_, c):
        seen = FreezeCount()
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, sc), dask_client=c)
        with SMAC(sc, runner=runner, progress=False, callbacks=[seen]) as smac:
            smac.optimize()
        assert len(seen.counts) == 6
        assert min(seen.counts) > 1000  # the libraries, the cluster, the history
        assert gc.get_freeze_count() == 0
        assert set(seen.thresholds) == {(max(before[0], 20_000), *before[1:])}
        assert gc.get_threshold() == before
    serial = FreezeCount()
    with SMAC(sc, seed_as_cost, progress=False, callbacks=[serial]) as smac:
        smac.optimize()
    assert serial.counts == [0] * 6
    assert set(serial.thresholds) == {before}


def slow_odd_seeds(config: Configuration, seed: int) -> float:
    """Odd seeds take 0.5 s, even ones 0.05 s: one trial is still running when another ends."""
    time.sleep(0.5 if seed % 2 else 0.05)
    return 1.0


class Interrupt(Callback):
    """Ctrl-C right after a result is told."""

    def on_tell_end(self, smac: Any, info: TrialInfo, value: TrialValue) -> None:
        raise KeyboardInterrupt


def test_validate_records_a_trial_that_an_interrupted_optimize_left_running(
    space: ConfigurationSpace,
) -> None:
    """Ctrl-C (here from a callback) leaves a trial running; validate() tells its result to
    the history instead of averaging it into the validation cost."""
    from smacx import SMAC

    sc = scenario(space, n_trials=4, deterministic=False)
    with thread_client(2) as (_, c):
        runner = DaskParallelRunner(SerialRunner(slow_odd_seeds, sc), dask_client=c, queue_ahead=0)
        smac = SMAC(sc, slow_odd_seeds, runner=runner, callbacks=[Interrupt()], progress=False)
        with pytest.raises(KeyboardInterrupt):
            smac.optimize()
        assert smac.runhistory.n_running == 1
        smac.callbacks.clear()
        assert smac.validate(space.get_default_configuration(), seeds=[2]) == 1.0
        assert smac.runhistory.n_running == 0 and smac.runhistory.n_finished == 2
        smac.close()


def test_close_after_an_interrupt_gives_up_the_running_trial(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Ctrl-C leaves a trial running on the cluster; close() tells what finished and gives
    up the rest, so the next run on the history (here, in the same process) runs it again."""
    from smacx import SMAC

    sc = scenario(space, n_trials=4, deterministic=False, output_directory=tmp_path)
    with thread_client(2) as (_, c):
        runner = DaskParallelRunner(SerialRunner(slow_odd_seeds, sc), dask_client=c, queue_ahead=0)
        smac = SMAC(sc, slow_odd_seeds, runner=runner, callbacks=[Interrupt()], progress=False)
        with pytest.raises(KeyboardInterrupt):
            smac.optimize()
        smac.callbacks.clear()
        smac.close()
        again = SMAC(sc, slow_odd_seeds, dask_client=c, progress=False)
        assert again.runhistory.n_running == again.runhistory.n_stale()  # none held
        again.optimize()
        assert again.runhistory.n_finished == 4 and again.runhistory.n_running == 0
        again.close()


def test_close_says_that_trials_run_on_on_a_users_cluster(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """dask cannot stop a task that has started: close() says so (an audit's finding)."""
    with thread_client(1) as (_, c):
        runner = DaskParallelRunner(SerialRunner(sleeps_3s, scenario(space)), 5, dask_client=c)
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=0))
        deadline = time.monotonic() + 30
        while not any(c.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        with caplog.at_level("WARNING", logger="smacx"):
            runner.close()
    assert "Closing with 1 trial(s) running on the workers of the dask client" in caplog.text


def test_exhausted_space_on_two_workers_runs_every_seed_then_says_so() -> None:
    """One configuration, three seeds, two workers: the second worker's ask finds no new
    configuration while the first trial runs; optimize() waits for it, runs the other seeds,
    and only then stops with a warning, returning the incumbent."""
    from ConfigSpace import Categorical

    from smacx import SMAC, SearchSpaceExhaustedError

    only = ConfigurationSpace(seed=0)
    only.add([Categorical("a", ["only"])])
    sc = scenario(only, n_trials=5, deterministic=False)
    with thread_client(2) as (_, c):
        runner = DaskParallelRunner(SerialRunner(sleepy, sc), dask_client=c, queue_ahead=0)
        smac = SMAC(sc, sleepy, runner=runner, progress=False)
        with pytest.warns(UserWarning, match="Stopping before n_trials: no untried configuration"):
            assert smac.optimize() == only.get_default_configuration()
        with pytest.raises(SearchSpaceExhaustedError):
            smac.ask()
        assert smac.runhistory.n_finished == len(smac.intensifier.keys) == 3
        assert smac.runhistory.n_running == 0
        smac.close()


# -- arguments -----------------------------------------------------------------------------------


def test_arguments_are_checked(space: ConfigurationSpace, client: Client) -> None:
    single = SerialRunner(sleepy, scenario(space))
    with pytest.raises(ScenarioError, match="patience"):
        DaskParallelRunner(single, patience=0, dask_client=client)
    with pytest.raises(ScenarioError, match="max_retries"):
        DaskParallelRunner(single, dask_client=client, max_retries=-1)
    for bad in (-1, 1.5, True, "max"):
        with pytest.raises(ScenarioError, match=r"queue_ahead=\.\.\.\) must be an int >= 0"):
            DaskParallelRunner(single, dask_client=client, queue_ahead=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dask_client"):
        DaskParallelRunner(single, dask_client="tcp://127.0.0.1:8786")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="SerialRunner"):
        DaskParallelRunner(sleepy, dask_client=client)  # type: ignore[arg-type]


def test_run_evaluates_here(space: ConfigurationSpace, client: Client) -> None:
    single = SerialRunner(uses_data, scenario(space))
    with DaskParallelRunner(single, dask_client=client) as runner:
        value = runner.run(space.get_default_configuration(), seed=1, X=np.ones(3), y=[1])
    assert value.status is StatusType.SUCCESS
    assert value.additional_info["pid"] == os.getpid()


def test_missing_dask_gives_install_hint() -> None:
    code = "import sys; sys.modules['distributed'] = None; import smacx.runners.dask"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "pip install 'smacx[dask]'" in done.stderr


def saturation(dask_scheduler: Any) -> float:
    return float(dask_scheduler.WORKER_SATURATION)


def test_a_failed_trial_is_logged_once_in_the_users_process(
    space: ConfigurationSpace, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker process has no handler of the user's: the failure is logged where the
    results are read, once, also when the workers are threads of this process."""
    single = SerialRunner(fails_on_seed_one, scenario(space))
    for make in (contextlib.nullcontext((None, client)), thread_client(2)):
        caplog.clear()
        with (
            make as (_, user_client),
            caplog.at_level(logging.WARNING, logger="smacx"),
            DaskParallelRunner(single, dask_client=user_client) as runner,
        ):
            results = by_seed(run_all(runner, trials(space, 3)))
        assert results[1].status is StatusType.CRASHED
        failed = [r.getMessage() for r in caplog.records if "ended CRASHED" in r.getMessage()]
        assert len(failed) == 1 and "seed=1" in failed[0] and "seed one fails" in failed[0]


def test_user_scheduler_that_sends_queued_trials_to_busy_workers_gets_a_hint(
    space: ConfigurationSpace, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The module's client has dask's default worker-saturation (1.1)."""
    assert client.run_on_scheduler(saturation) == 1.1
    single = SerialRunner(sleepy, scenario(space))
    with caplog.at_level(logging.INFO, logger="smacx"):
        DaskParallelRunner(single, dask_client=client, queue_ahead=0).close()
        assert "worker-saturation" not in caplog.text  # nothing is queued: nothing to say
        DaskParallelRunner(single, dask_client=client).close()
    hints = [m for r in caplog.records if "worker-saturation is 1.1" in (m := r.getMessage())]
    assert len(hints) == 1 and "queue_ahead=0" in hints[0]


def test_trials_are_queued_ahead_as_asked(
    space: ConfigurationSpace, client: Client, tmp_path: Path
) -> None:
    """queue_ahead=3 on two worker threads: five trials are accepted while none can finish,
    and each comes back exactly once."""
    gate, log = tmp_path / "open", tmp_path / "started"
    single = SerialRunner(gated, scenario(space))
    with DaskParallelRunner(single, dask_client=client, queue_ahead=3) as runner:
        assert runner.count_available_workers() == 5
        for info in trials(space, 5):
            runner.submit_trial(info, gate=str(gate), log=str(log))
        assert runner.count_available_workers() == 0
        gate.touch()
        results = run_all(runner, [])
    assert sorted(by_seed(results)) == [0, 1, 2, 3, 4]
    assert sorted(started(log)) == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_cancelling_an_executing_trial_restarts_its_worker_without_holding_up_the_others(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A restart takes seconds (the nanny waits for the hung thread, then kills); the main loop
    used to wait for it, with every other worker idle meanwhile."""
    gate, log = tmp_path / "never", tmp_path / "started"
    with (
        cluster(2) as local,
        Client(local) as own,
        DaskParallelRunner(SerialRunner(gated, scenario(space)), dask_client=own) as runner,
    ):
        [hung, *rest] = trials(space, 4)
        runner.submit_trial(hung, gate=str(gate), log=str(log))
        deadline = time.monotonic() + 30
        while not started(log) and time.monotonic() < deadline:
            time.sleep(0.02)
        began = time.monotonic()
        runner.cancel(hung)
        assert time.monotonic() - began < 1.0
        (tmp_path / "open").touch()
        results = run_all(runner, rest, gate=str(tmp_path / "open"), log=str(log))
        assert sorted(i.seed for i, _ in results) == [r.seed for r in rest]  # not the hung one
        assert all(v.status is StatusType.SUCCESS for _, v in results)


def test_cancelling_on_a_threads_only_cluster_leaves_the_applications_processes(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A cancelled trial's programs are ended on the runner's own cluster only: on a cluster
    of threads the worker is the application's process, whose children are not the trial's
    (a review's finding: a program the application had started was killed)."""
    gate, log = tmp_path / "gate", tmp_path / "started"
    own_program = subprocess.Popen(["sleep", "60"])
    try:
        with (
            thread_client(1) as (_, own),
            DaskParallelRunner(SerialRunner(gated, scenario(space)), dask_client=own) as runner,
        ):
            [hung] = trials(space, 1)
            runner.submit_trial(hung, gate=str(gate), log=str(log))
            deadline = time.monotonic() + 30
            while not started(log) and time.monotonic() < deadline:
                time.sleep(0.02)
            runner.cancel(hung)
            time.sleep(1.0)
            assert own_program.poll() is None  # still running
            gate.touch()
    finally:
        own_program.kill()
        own_program.wait()


def test_closing_gives_up_results_one_by_one_within_closing_timeout(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a batch's gather failed, its results are fetched one by one: each waited a whole
    step after closing_timeout had passed (8 results: 8 s for 1 s; a review's finding).
    Injected: the batch fails at once, and no single result comes."""
    from smacx.runners import dask as runners_dask

    async def stuck(client: Client, futures: Any) -> tuple[bool, Any]:
        if isinstance(futures, list):
            return False, RuntimeError("one result could not be read")
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with thread_client(2) as (_, c):
        runner = DaskParallelRunner(
            SerialRunner(seed_as_cost, scenario(space)), 4, dask_client=c, queue_ahead=8
        )
        runner.closing_timeout = 1.0
        for info in trials(space, 8):
            runner.submit_trial(info)
        deadline = time.monotonic() + 30
        while runner._n_unfinished() and time.monotonic() < deadline:
            time.sleep(0.05)
        monkeypatch.setattr(runners_dask, "_gather_boxed", stuck)
        runner.begin_close()
        began = time.monotonic()
        assert list(runner.iter_results()) == []  # given up, to run again
        assert time.monotonic() - began < 2.5
        monkeypatch.undo()
        runner.close()


def test_closing_timeout_bounds_the_whole_close_not_each_batch(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results whose done-callbacks come late form batches of their own: each got a whole
    closing_timeout (a flaky-test hunt's finding). A batch read after the deadline that
    begin_close() set is given up at once. Injected: no result comes."""
    from smacx.runners import dask as runners_dask

    async def stuck(client: Client, futures: Any) -> tuple[bool, Any]:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with thread_client(1) as (_, c):
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), 4, dask_client=c)
        runner.closing_timeout = 1.0
        for info in trials(space, 2):
            runner.submit_trial(info)
        runner.wait()
        runner.wait()
        first, second = [future for future, _ in runner._running.values()]
        monkeypatch.setattr(runners_dask, "_gather_boxed", stuck)
        runner.begin_close()
        began = time.monotonic()
        assert runner._gather([first])[0] == {}
        assert 0.9 < time.monotonic() - began < 2.0
        began = time.monotonic()
        assert runner._gather([second])[0] == {}  # (one batch late)
        assert time.monotonic() - began < 0.5
        monkeypatch.undo()
        runner.close()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="no SIGSTOP there")
def test_closing_gives_up_a_result_that_cannot_be_fetched(space: ConfigurationSpace) -> None:
    """A finished trial whose worker no longer answers (stopped here; killed with the run by a
    Ctrl-C to its process group) kept close() waiting in dask's gather for good."""
    with cluster(1) as local, Client(local) as own:
        runner = DaskParallelRunner(SerialRunner(seed_as_cost, scenario(space)), dask_client=own)
        runner.closing_timeout = 2.0
        runner.submit_trial(trials(space, 1)[0])
        runner.wait()
        [pid] = own.run(os.getpid).values()
        os.kill(pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            runner.begin_close()
            assert list(runner.iter_results()) == []  # given up, to run again
            assert time.monotonic() - began < 10
        finally:
            os.kill(pid, signal.SIGCONT)
            runner.close()


THREAD_LEFT_RUNNING = (
    SLEEPY_SCRIPT
    + """
if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-1.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=8, n_workers=2, output_directory=None)
    smac = SMAC(scenario, target, progress=False)
    def work():
        try:
            smac.optimize()
        except Exception as err:
            print("optimize:", type(err).__name__)
        finally:
            smac.close()
    threading.Thread(target=work).start()  # not a daemon: the interpreter waits for it
    time.sleep(1.0)
"""
)


@pytest.mark.slow
def test_close_after_the_exit_hook_closed_the_cluster_does_not_raise() -> None:
    """The interpreter runs its exit hooks (the one closing the cluster among them) before it
    waits for other threads, whose close() then raised from inside dask."""
    done = subprocess.run(
        [sys.executable, "-c", THREAD_LEFT_RUNNING], capture_output=True, text=True, timeout=120
    )
    assert "Exception in thread" not in done.stderr, done.stderr


def test_cancelling_a_queued_trial_leaves_the_executing_ones_alone(
    space: ConfigurationSpace, client: Client, tmp_path: Path
) -> None:
    """cancel() of a trial that waits for a worker stops only that trial: no worker is
    restarted, so the two executing trials run once and report."""
    gate, log = tmp_path / "open", tmp_path / "started"
    single = SerialRunner(gated, scenario(space))
    with DaskParallelRunner(single, dask_client=client, queue_ahead=2) as runner:
        todo = trials(space, 4)
        for info in todo:
            runner.submit_trial(info, gate=str(gate), log=str(log))
        deadline = time.monotonic() + 30
        while len(started(log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        executing = started(log)
        assert len(executing) == 2
        waiting = [info for info in todo if info.seed not in executing]
        runner.cancel(waiting[0])
        gate.touch()
        results = run_all(runner, [])
    values = by_seed(results)
    assert sorted(values) == sorted({0, 1, 2, 3} - {waiting[0].seed})
    assert all(v.status is StatusType.SUCCESS for v in values.values())
    # Nothing ran twice. (dask's cancel is best effort: a worker may still start the
    # cancelled trial if it got it before the cancellation; its result is dropped.)
    ran = started(log)
    assert len(ran) == len(set(ran)) and set(values) <= set(ran)


def test_fast_trials_are_queued_ahead_once_their_latency_is_known(
    space: ConfigurationSpace, client: Client
) -> None:
    """queue_ahead="auto" (the default): nothing is queued before results come back; trials
    much shorter than the round trip then fill a second trial per thread (the cap). With 0,
    nothing."""
    single = SerialRunner(seed_as_cost, scenario(space))
    with DaskParallelRunner(single, dask_client=client, queue_ahead=0) as runner:
        run_all(runner, trials(space, 8))
        assert runner.ahead() == 0
    with DaskParallelRunner(single, dask_client=client) as runner:
        assert runner.ahead() == 0
        assert runner.count_available_workers() == 2
        results = run_all(runner, trials(space, 8))
        assert runner.ahead() == 2
        assert runner.count_available_workers() == 4
    assert len(by_seed(results)) == 8


@pytest.mark.parametrize(
    ("latency", "duration", "expected"),
    [
        (0.025, 0.2, 2),  # 2 * 8 * 0.025 / 0.2
        (0.05, 1.0, 0),  # 0.8 rounds down
        (0.2, 1.0, 3),  # 3.2
        (0.5, 0.1, 8),  # at most one queued trial per thread
    ],
)
def test_trials_ahead_covers_the_threads_idle_during_the_latency(
    latency: float, duration: float, expected: int
) -> None:
    assert trials_ahead(8, [latency] * 4, [duration] * 4) == expected


def test_trials_ahead_queues_nothing_for_trials_over_100_times_the_latency() -> None:
    assert trials_ahead(64, [0.05] * 4, [4.0] * 4) == 1  # 2 * 64 * 0.05 / 4 = 1.6
    assert trials_ahead(64, [0.05] * 4, [6.0] * 4) == 0  # the formula would give 1


def test_trials_ahead_waits_for_four_latencies() -> None:
    assert trials_ahead(8, [0.5] * 3, [0.1] * 10) == 0
    assert trials_ahead(8, [0.5, 0.5, 0.5, 0.0, 0.0], [0.1]) == 8  # the median


@pytest.mark.slow
def test_a_script_without_a_main_guard_is_told_to_add_one(tmp_path: Path) -> None:
    """dask's worker processes import the main module: a script that builds SMAC with
    n_workers > 1 at its top level runs again in each of them, and the cluster cannot start.
    Told before any worker starts (distributed releases before 2026.8 waited for such workers
    for good)."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, Scenario\n"
        "def f(config, seed):\n"
        "    return config['x'] ** 2\n"
        "space = ConfigurationSpace({'x': (-1.0, 1.0)})\n"
        "SMAC(Scenario(space, n_trials=2, n_workers=2, output_directory=None), f).optimize()\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "NoWorkersError" in last and 'if __name__ == "__main__":' in last, last


def test_a_script_read_from_standard_input_is_told_to_run_by_its_path(tmp_path: Path) -> None:
    """`python - < script.py`, guarded: the worker processes cannot import a main module read
    from stdin, so the cluster failed to start, and the advice was to add the guard it had (a
    dask audit's finding). Told before any worker starts."""
    script = (
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, Scenario\n"
        "def f(config, seed):\n"
        "    return config['x'] ** 2\n"
        "if __name__ == '__main__':\n"
        "    space = ConfigurationSpace({'x': (-1.0, 1.0)})\n"
        "    SMAC(Scenario(space, n_trials=2, n_workers=2, output_directory=None), f).optimize()\n"
    )
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=240,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "NoWorkersError" in last and "read from standard input" in last, last
    assert "Run the script by its path (python script.py)" in last, last


MAIN_LINES = """
from smacx.runners.dask import _unguarded_main_line
def build():
    return (_unguarded_main_line() or (None, None))[1]
print("top", build())
if "__main__" == __name__:
    print("guarded", build())
else:
    pass
__name__ == "__main__" and print("and", build())
"""


def test_the_main_guard_check_knows_a_guarded_call_from_a_top_level_one(tmp_path: Path) -> None:
    """The check before the cluster starts: a call from the script's top level gives its
    line; one under the guard (either way round, through a function) gives None."""
    script = tmp_path / "lines.py"
    script.write_text(MAIN_LINES)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["top", "5", "guarded", "None", "and", "None"], done.stdout


def test_the_main_guard_check_leaves_python_m_package_alone(tmp_path: Path) -> None:
    """dask's workers do not run a package's ``__main__`` again (multiprocessing skips a main
    module named ``<package>.__main__``): ``python -m package`` needs no guard (a review's
    finding: the check refused it)."""
    package = tmp_path / "tool"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "from smacx.runners.dask import _unguarded_main_line\nprint(_unguarded_main_line())\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "tool"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None"], done.stdout


class _FakeCluster:
    """Stands for the runner's own LocalCluster: notes whether it was closed."""

    scheduler_address = "tcp://127.0.0.1:1"

    def __init__(self, **kwargs: Any) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _FakeClient:
    """Stands for the client of the runner's own cluster."""

    status = "running"

    def __init__(self, cluster: _FakeCluster) -> None:
        self.cluster = cluster

    def run(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        self.status = "closed"


def test_runners_with_clusters_of_their_own_leave_no_exit_hook_or_thread_behind(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that runs one optimization after another, each on a cluster of its own,
    closed or dropped unclosed: the exit hooks that close clusters left open are registered
    once per process, not once per runner (they cannot be unregistered, so they piled up), and
    the threads that closed the clusters of dropped runners are not kept once done. A
    cluster still open at exit is closed then."""
    from smacx.runners import dask as runners_dask

    monkeypatch.setattr(runners_dask, "LocalCluster", _FakeCluster)
    monkeypatch.setattr(runners_dask, "Client", _FakeClient)
    hooks = getattr(threading, "_threading_atexits", None)
    if hooks is None:
        pytest.skip("needs CPython's threading._register_atexit")
    registered = len(hooks)
    sc = scenario(space, n_workers=2)
    clusters = []
    for _ in range(4):
        closed = DaskParallelRunner(SerialRunner(seed_as_cost, sc))
        closed.close()
        dropped = DaskParallelRunner(SerialRunner(seed_as_cost, sc))
        clusters += [closed._cluster, dropped._cluster]
        del closed, dropped
        gc.collect()
    runners_dask._join_closing()
    assert all(c.closed for c in clusters)
    assert len(hooks) - registered <= 2  # the process's pair, if no earlier test registered it
    assert runners_dask._closing == []
    assert runners_dask._pending_at_exit == set()
    left_open = DaskParallelRunner(SerialRunner(seed_as_cost, sc))
    runners_dask._close_pending()  # as at exit
    assert left_open._cluster.closed
    assert runners_dask._pending_at_exit == set()
    left_open.close()
    # A cluster whose run goes on in a thread Python waits for is left to that thread, and
    # closed by atexit if the thread does not (an audit: closed under the run); another
    # thread alive, such as an idle pool's, changes nothing for the others (a review).
    deferred: list[Any] = []
    monkeypatch.setattr(runners_dask.atexit, "register", deferred.append)
    stop = threading.Event()
    driver, other = (threading.Thread(target=stop.wait, daemon=False) for _ in range(2))
    driver.start()
    other.start()
    try:
        busy = DaskParallelRunner(SerialRunner(seed_as_cost, sc))
        idle = DaskParallelRunner(SerialRunner(seed_as_cost, sc))
        busy._close_at_exit.driver = driver  # (as its submit_trial and wait note it)
        idle._close_at_exit.driver = threading.current_thread()
        runners_dask._close_pending()
        assert idle._cluster.closed and not busy._cluster.closed
        assert deferred == [busy._close_at_exit]
        deferred[0]()  # atexit, once the thread ended
        assert busy._cluster.closed
    finally:
        stop.set()
        driver.join()
        other.join()


_RELEASE = threading.Event()  # lets the in-process workers' blocked trials end
_STARTED = threading.Semaphore(0)  # released once by each blocked trial that began


def blocked(config: Configuration, seed: int) -> float:
    """A trial that runs until the test releases it (in-process worker threads see the event)."""
    _STARTED.release()
    _RELEASE.wait(30.0)
    return float(config["x"]) ** 2


@pytest.mark.parametrize("how", ["thread", "signal"])
def test_close_during_optimize_stops_it_and_gives_up_the_running_trials(
    space: ConfigurationSpace, tmp_path: Path, how: str
) -> None:
    """close() from another thread during a dask optimize() closed the runner under the loop,
    which raised AttributeError. Now optimize() stops at once (it does not wait for the
    running trials), closes the object and returns; the trials it gave up run again in the
    next SMAC on the run. A signal handler that calls close() in the optimizing thread (as
    one for SIGTERM does) stops it the same way."""
    from smacx import SMAC, StorageError

    if how == "signal" and threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread")
    _RELEASE.clear()
    while _STARTED.acquire(blocking=False):  # (releases left by an earlier test)
        pass
    sc = scenario(space, n_trials=20, output_directory=tmp_path, deterministic=True)
    with thread_client(2) as (_, cl):
        smac = SMAC(sc, blocked, dask_client=cl, progress=False)

        def once_both_run(stop: Callable[[], object]) -> None:
            # Not after a fixed second: on a loaded machine optimize() took longer than that
            # to start its first trials, and close() came before any ran.
            for _ in range(2):
                _STARTED.acquire(timeout=60.0)
            stop()

        if how == "thread":
            stopper = threading.Thread(target=once_both_run, args=(smac.close,))
        else:
            previous = signal.signal(signal.SIGUSR1, lambda *_: smac.close())
            stopper = threading.Thread(
                target=once_both_run, args=(lambda: os.kill(os.getpid(), signal.SIGUSR1),)
            )
        try:
            stopper.start()
            started = time.monotonic()
            incumbent = smac.optimize()
            took = time.monotonic() - started
        finally:
            stopper.join()
            if how == "signal":
                signal.signal(signal.SIGUSR1, previous)
            _RELEASE.set()
        assert incumbent is None  # nothing finished
        assert took < 25.0, took  # stopped by close(), not by the trials (30 s)
        with pytest.raises(StorageError, match=r"after close\(\)"):
            smac.ask()
        assert cl.status == "running"  # the user's client stays open
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_finished == 0
    assert again.runhistory.n_stale() == 2  # the two trials that ran, given up
    again.close()


def test_close_from_another_thread_stops_a_run_on_its_own_cluster(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """The runner's own LocalCluster (``Scenario(n_workers=2)``): close() from another thread
    once results have come back; optimize() returns the incumbent and the cluster is closed."""
    from smacx import SMAC

    closers: list[threading.Thread] = []

    class CloseAfterTwo(Callback):
        def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
            if smac.runhistory.n_finished == 2:
                closers.append(threading.Thread(target=smac.close))
                closers[0].start()

    sc = scenario(space, n_trials=200, n_workers=2, output_directory=tmp_path, deterministic=True)
    smac = SMAC(sc, sleepy, callbacks=[CloseAfterTwo()], progress=False)
    incumbent = smac.optimize()
    closers[0].join(30.0)
    assert not closers[0].is_alive()
    assert incumbent is not None
    assert isinstance(smac.runner, DaskParallelRunner)
    assert smac.runner._cluster is None or smac.runner._cluster.status.name == "closed"
    again = SMAC(sc, progress=False)
    h = again.runhistory
    assert 2 <= h.n_finished < 200
    assert h.n_running == h.n_stale()  # whatever still ran was given up
    again.close()


def test_results_that_come_in_while_optimize_closes_are_kept(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """close() from another thread: the results that finish before optimize() closes the
    runner are told, once (the tells made while closing must not start a second close)."""
    from smacx import SMAC

    class Release(Callback):
        def on_end(self, smac: SMAC) -> None:  # before optimize() closes the object
            _RELEASE.set()
            time.sleep(0.5)

    _RELEASE.clear()
    sc = scenario(space, n_trials=20, output_directory=tmp_path, deterministic=True)
    with thread_client(2) as (_, cl):
        smac = SMAC(sc, blocked, dask_client=cl, callbacks=[Release()], progress=False)
        stopper = threading.Timer(1.0, smac.close)
        stopper.start()
        try:
            incumbent = smac.optimize()
        finally:
            stopper.join()
            _RELEASE.set()
    assert incumbent is not None  # told while closing, and the incumbent is read after that
    again = SMAC(sc, progress=False)
    assert again.runhistory.n_finished == 2
    assert again.runhistory.n_running == 0
    again.close()


def test_interrupt_ends_a_submit_that_waits_for_a_worker_thread(space: ConfigurationSpace) -> None:
    """A submit_trial() that waits for a free worker thread (one left between the optimizer's
    count of free workers and its submit) held up SMAC.close() from another thread until a
    running trial ended: interrupt() ended the wait, and submit_trial() waited again. It now
    submits the trial beyond the workers, where dask holds it, and returns."""
    _RELEASE.clear()
    sc = scenario(space, n_trials=5, deterministic=True)
    with thread_client(1) as (_, cl):
        runner = DaskParallelRunner(SerialRunner(blocked, sc), dask_client=cl, queue_ahead=0)
        try:
            first, second = trials(space, 2)
            runner.submit_trial(first)  # takes the only worker thread until released
            submitting = threading.Thread(
                target=runner.submit_trial, args=(second,), name="submitting", daemon=True
            )
            submitting.start()
            runner.interrupt()  # before or during its wait: either way it ends it
            submitting.join(5.0)
            assert not submitting.is_alive(), "submit_trial() waited on"
            assert len(runner._running) == 2
        finally:
            _RELEASE.set()
            runner.close()


def test_a_result_that_arrives_with_an_interrupt_is_kept(space: ConfigurationSpace) -> None:
    """A wait that took a finished trial's key just as interrupt() came (close() from another
    thread) dropped the key: the result was never collected, and the trial ran again. And a
    wait() that starts after interrupt() returns at once, not after a count of the workers."""

    class LateInterrupt:
        """The runner's queue of finished keys, with interrupt() landing after each get."""

        def __init__(self, runner: DaskParallelRunner) -> None:
            self.runner, self.queue = runner, runner._done

        def get(self, timeout: float | None = None) -> Any:
            key = self.queue.get(timeout=timeout)
            self.runner._interrupted = True
            return key

        def get_nowait(self) -> Any:
            return self.queue.get_nowait()

        def put(self, key: Any) -> None:
            self.queue.put(key)

    with thread_client(1) as (_, cl):
        runner = DaskParallelRunner(SerialRunner(sleepy, scenario(space)), dask_client=cl)
        runner._done = LateInterrupt(runner)  # type: ignore[assignment]
        info = TrialInfo(space.sample_configuration(), seed=3)
        runner.submit_trial(info)
        runner.wait()  # returns with the result (the trial sleeps 0.3 s), interrupted or not
        assert [i for i, _ in runner.iter_results()] == [info]
        runner._done = runner._done.queue  # type: ignore[attr-defined]
        runner.submit_trial(TrialInfo(space.sample_configuration(), seed=4))
        runner.interrupt()
        started = time.monotonic()
        runner.wait()
        assert time.monotonic() - started < 0.2  # (a count of the workers takes a step)
        runner.close()


@pytest.mark.slow
def test_runs_starting_clusters_in_threads_at_once_leave_dasks_config_as_it_was(
    space: ConfigurationSpace,
) -> None:
    """dask's configuration is the process's: runs in threads that started their clusters at
    once restored the values each other had set, and left the workers' logging at ERROR and
    another saturation for every cluster the program started later (an audit)."""
    import dask

    names = ("distributed.scheduler.worker-saturation", "distributed.nanny.pre-spawn-environ")
    before = {name: dask.config.get(name) for name in names}
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        scenario = Scenario(
            space, n_trials=2, n_workers=2, seed=seed, deterministic=True, output_directory=None
        )
        try:
            with SMAC(scenario, lambda config: float(config["x"]) ** 2, progress=False) as smac:
                smac.optimize()
        except BaseException as err:  # pragma: no cover  (shown below)
            errors.append(err)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert {name: dask.config.get(name) for name in names} == before


def test_a_traceback_from_code_sent_by_value_names_its_file_and_lines(tmp_path: Path) -> None:
    """cloudpickle sends a script's functions by value and names their file <dynamic-code>:
    with n_workers=2 a crash's stored traceback gave line numbers of no file, and no source
    (an audit). The frames of functions of the target's module get both back."""
    import functools
    import importlib.util
    import traceback

    import cloudpickle

    from smacx.runners.dask import _codes_by_name, _with_source_lines

    script = tmp_path / "train.py"
    script.write_text(
        "def load_batch(x):\n"
        "    return {'small': 1}['large' if x > 5 else 'small']\n"
        "\n"
        "def target(config, seed):\n"
        "    inner = lambda: load_batch(config['x'])\n"
        "    return inner() * 2\n"
        "\n"
        "class Model:\n"
        "    def train(self, x):\n"
        "        return load_batch(x)\n"
        "\n"
        "class Proxy:  # as Flask's request outside a request: any attribute raises\n"
        "    def __getattr__(self, name):\n"
        "        raise RuntimeError('working outside of request context')\n"
        "\n"
        "request = Proxy()\n"
    )
    spec = importlib.util.spec_from_file_location("smacx_test_train", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        # (before any load: cloudpickle's load of a class this process has gives the class
        # the loaded methods, which name <dynamic-code>; the run's process never loads one)
        found = [
            _codes_by_name(target)
            for target in (module.Model().train, functools.partial(module.target, seed=0))
        ]
        cloudpickle.register_pickle_by_value(module)
        sent = cloudpickle.loads(cloudpickle.dumps(module.target))  # as a worker gets it
        with pytest.raises(KeyError) as caught:
            sent({"x": 7.0}, 0)
        text = "".join(traceback.format_exception(caught.value))
        assert text.count('File "<dynamic-code>"') == 3
        value = TrialValue(cost=1.0, additional_info={"traceback": text, "error": "KeyError"})
        shown = _with_source_lines(value, _codes_by_name(module.target))
        lines = shown.additional_info["traceback"].splitlines()
        at = lines.index(f'  File "{script}", line 6, in target')
        assert lines[at + 1] == "    return inner() * 2"
        at = lines.index(f'  File "{script}", line 2, in load_batch')
        assert lines[at + 1] == "    return {'small': 1}['large' if x > 5 else 'small']"
        # the lambda is no function of the module: its frame stays as it was
        assert '  File "<dynamic-code>", line 5, in <lambda>' in lines
        assert shown.additional_info["error"] == "KeyError" and shown.cost == 1.0
        assert _with_source_lines(value, {}) is value
        # a method of a class of the module, and the target as a partial or a bound method
        with pytest.raises(KeyError) as caught:
            cloudpickle.loads(cloudpickle.dumps(module.Model().train))(7.0)
        text = "".join(traceback.format_exception(caught.value))
        value = TrialValue(cost=1.0, additional_info={"traceback": text})
        for codes in found:
            shown = _with_source_lines(value, codes)
            assert f'  File "{script}", line 10, in train' in shown.additional_info["traceback"]
    finally:
        cloudpickle.unregister_pickle_by_value(module)
        del sys.modules[spec.name]


RUN_IN_A_THREAD = """
import json, sys, threading, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario

def slow(config, seed=0):
    time.sleep(0.3)
    return config["x"] ** 2

def run(built):
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    sc = Scenario(space, n_trials=40, name="r", output_directory="out", n_workers=2,
                  deterministic=True)
    smac = SMAC(sc, slow, overwrite=True, progress=False)
    built.set()
    try:
        smac.optimize()
        print("RETURNED", flush=True)
    except Exception as err:
        print("RAISED", type(err).__name__, err, flush=True)
    print("STORED", json.dumps(smac.runhistory.status_counts()), flush=True)
    smac.close()

if __name__ == "__main__":
    built = threading.Event()
    threading.Thread(target=run, args=(built,), name="optimizer").start()
    built.wait()
    time.sleep(1.5)  # the main thread returns while the run goes on
"""


@pytest.mark.timeout(120)
def test_a_run_in_a_thread_the_main_thread_did_not_wait_for_stops_with_a_clear_error(
    tmp_path: Path,
) -> None:
    """The main thread returned while optimize() ran in a thread of its own with a cluster:
    Python shuts down the thread pools dask delivers results and starts trials with. The run
    waited for its results for ever, or, with its cluster closed under it by the exit hook,
    ended with a "client was closed" error, or recorded trials CRASHED (an audit). It now
    stops with an error that says why, every finished trial kept, none CRASHED."""
    script = tmp_path / "threaded.py"
    script.write_text(RUN_IN_A_THREAD)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=100, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    raised = [line for line in lines if line.startswith("RAISED")]
    assert raised == [
        "RAISED RunnerClosedError the main thread of this process returned while the run went "
        "on in thread 'optimizer': Python then shuts down the thread pools dask starts trials "
        "with, so no more can start (the finished ones are kept). Have the main thread wait "
        "for the run's thread (thread.join()) before it returns."
    ], done.stdout + done.stderr
    stored = json.loads(next(line for line in lines if line.startswith("STORED"))[7:])
    assert stored.get("SUCCESS", 0) > 0 and "CRASHED" not in stored, stored


@pytest.mark.timeout(120)
def test_runs_as_tasks_on_the_cluster_their_trials_use_leave_it_threads(
    space: ConfigurationSpace,
) -> None:
    """Two runs as dask tasks on a cluster of two worker threads, each with its trials on the
    same cluster (dask_client=get_client()): each task held a thread while its trials waited
    for one, and nothing ran, for ever (an audit). The tasks secede, as worker_client does."""
    from distributed import get_client

    def run(seed: int) -> list[float]:
        sc = scenario(space, seed=seed)
        with DaskParallelRunner(SerialRunner(seed_as_cost, sc), dask_client=get_client()) as runner:
            return sorted(v.cost for _, v in run_all(runner, trials(space, 4)))

    with thread_client(2) as (_, client):
        futures = client.map(run, [1, 2], pure=False)
        assert [f.result(timeout=60) for f in futures] == [[0.0, 1.0, 2.0, 3.0]] * 2
        # a task that builds a second runner (it seceded already) still runs it
        assert client.submit(lambda: run(3) + run(4)).result(timeout=60) == [0.0, 1.0, 2.0, 3.0] * 2


def test_a_second_ctrl_c_while_a_cluster_starts_delivers_both() -> None:
    """The first Ctrl-C during a cluster's start is held until it has started; at a second,
    both go to the handler. Given only the second, asyncio's handler (whose first call
    cancels the main task, and whose second interrupts) took two Ctrl-Cs for one, and the
    run went on (an audit)."""
    from smacx.runners.dask import _sigint_held

    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with _sigint_held():
            signal.raise_signal(signal.SIGINT)
            assert calls == []  # held
            signal.raise_signal(signal.SIGINT)
            assert calls == [signal.SIGINT] * 2
        assert calls == [signal.SIGINT] * 2  # not again at the end
        with _sigint_held():
            signal.raise_signal(signal.SIGINT)
        assert calls == [signal.SIGINT] * 3  # one alone: delivered at the end
    finally:
        signal.signal(signal.SIGINT, previous)
