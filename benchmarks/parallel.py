"""Parallel throughput: trials per second on k dask workers, smacx next to SMAC3.

Example::

    python benchmarks/parallel.py --workers 16,64 --duration 60 --out parallel.json

Each (framework, workers) run is a subprocess: smacx under this interpreter (the repository root
first on ``PYTHONPATH``), SMAC3 under ``--smac3-python`` (default ``/work/benchenv/bin/python``;
skipped with a note in the results when that interpreter or SMAC3 is missing). A run optimizes a
6-dimensional space with the facade's defaults (random forest), ``deterministic=True``, on a
``LocalCluster(n_workers=k, threads_per_worker=1)`` of threads in the optimizer's process
(or, with ``--processes``, of k worker processes); its target sleeps
``--trial-time`` seconds (1 s by default), so the ideal throughput is ``k / trial_time`` trials
per second. With ``--trial-time-spread s`` the sleep varies from one configuration to the next
(log-normal with that standard deviation of its log, mean ``--trial-time``, a fixed function of
the configuration), as trial times of real targets do; then ``busy_share`` is the figure of
merit, since a run that favours short trials would raise the throughput. Each run stops at
``--duration`` seconds of wall time or ``--trials`` trials, whichever comes first.

Threads: the k workers share the optimizer's process, and each runs dask's background work
(a sampling profiler every 10 ms, a system monitor every 0.5 s, a memory monitor every 0.1 s):
at 64 workers that alone makes every round trip to the scheduler take 10-150 ms, for both
frameworks. The runs therefore set ``QUIET_DASK`` (profiler off, monitors every few seconds);
pass ``--dask-defaults`` to measure with dask's defaults. They also share its garbage
collector: dask keeps a few dozen objects per task, and each full collection stops every
thread for 0.1-0.3 s once a few thousand trials have run. Processes: each worker keeps its own
objects, and starting 64 of them takes a minute on 2 cores (not part of the measured time).
Both frameworks' schedulers get ``QUEUE_ON_SCHEDULER`` (a ``worker-saturation`` of 1.0, as
smacx's own cluster has), so that a trial smacx queues ahead goes to the first worker that
frees up; ``--dask-defaults`` leaves dask's 1.1.
``--preset random`` runs smacx's loop without a model: the most this cluster allows.
``--queue-ahead`` sets how many trials smacx's runner may submit beyond its worker threads, so
that a worker that frees up finds one waiting: a count, or ``auto`` (the runner's default).
Reported per run:

* ``throughput``: finished trials / wall time of ``optimize()`` (trials per second);
* ``efficiency``: throughput / (k / trial_time): 1.0 means no worker ever waited;
* ``busy_share``: the seconds the workers spent in trials during ``optimize()`` over k times
  its wall time: 1.0 means no worker ever waited (with fixed trial times it equals
  ``efficiency`` up to the trials still running at the end);
* ``duplicates``: target calls whose (configuration, seed) had been evaluated before: with one
  seed per configuration these are wasted trials (must be 0 for smacx);
* ``gap_ms_median``, ``gap_ms_p90``: how long a worker thread stood idle between the end of one
  trial and the start of its next one (median and 90th percentile over all such gaps);
* ``gc_seconds``, ``gc_full_seconds``, ``gc_full``: the optimizer process's garbage
  collections during ``optimize()`` (seconds in all of them; seconds in and number of full
  ones): with worker threads, each one stops them all.

Results go to ``--out`` as JSON, and a table is printed.
"""

# distributed's API carries no annotations, and SMAC3 lives in another environment.
# mypy: disable-error-code="no-untyped-call,import-not-found,attr-defined"

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _args import names, nonnegative_float, positive_float, positive_int, positive_ints, queue_ahead

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SMAC3_PYTHON = "/work/benchenv/bin/python"
FRAMEWORKS = ("smacx", "smac3")

# -- the child: one optimization run ---------------------------------------------------------


#: dask settings for k workers in one process (see the module docstring).
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}

#: dask's scheduler setting for trials submitted beyond the worker threads: hold them until any
#: thread frees up, as ``DaskParallelRunner``'s own cluster does (dask's default of 1.1 sends a
#: second task to each single-threaded worker at once). Set for both frameworks' clusters;
#: SMAC3 submits no trial beyond its free workers.
QUEUE_ON_SCHEDULER = {"distributed.scheduler.worker-saturation": 1.0}

#: What the benchmarks set unless ``--dask-defaults`` is given (also used by ``speedup.py``).
BENCH_DASK = {**QUIET_DASK, **QUEUE_ON_SCHEDULER}

#: Environment variables the child sets for its workers (threads or processes): the file
#: every target call is appended to, the seconds a trial sleeps on average, and the standard
#: deviation of the log of that time from one configuration to the next.
CALLS_FILE = "SMACX_BENCH_CALLS"
TRIAL_TIME = "SMACX_BENCH_TRIAL_TIME"
TRIAL_SPREAD = "SMACX_BENCH_TRIAL_SPREAD"


def trial_seconds(values: dict[str, Any], mean: float, spread: float) -> float:
    """How long the trial of a configuration (its ``values``) sleeps: ``mean``, or with a
    ``spread`` > 0 a log-normal time of that mean whose log has standard deviation ``spread``,
    drawn from a hash of the configuration (the same configuration always takes as long)."""
    if spread <= 0.0:
        return mean
    digest = hashlib.sha256(repr(sorted(values.items())).encode()).digest()
    uniform = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    z = statistics.NormalDist().inv_cdf(uniform)
    return mean * math.exp(spread * z - 0.5 * spread * spread)


def objective(config: Any, seed: int = 0) -> float:
    """Sleeps :func:`trial_seconds` (``$SMACX_BENCH_TRIAL_TIME``,
    ``$SMACX_BENCH_TRIAL_SPREAD``), then returns a cheap 6-d cost; appends to
    ``$SMACX_BENCH_CALLS`` a line when it starts (the call, its worker thread, the time) and one
    when it ends (the thread, the time).

    Lives at module level of an importable module (the child imports this file as ``parallel``,
    worker processes find it on ``PYTHONPATH``) so that dask pickles it by reference.
    """
    values = dict(config)
    thread = f"{os.getpid()}:{threading.get_ident()}"
    with open(os.environ[CALLS_FILE], "a") as calls:  # one short append: atomic
        calls.write(f"start\t{thread}\t{time.time()}\t{sorted(values.items())!r}, {seed}\n")
    time.sleep(
        trial_seconds(
            values, float(os.environ[TRIAL_TIME]), float(os.environ.get(TRIAL_SPREAD, "0"))
        )
    )
    with open(os.environ[CALLS_FILE], "a") as calls:
        calls.write(f"end\t{thread}\t{time.time()}\n")
    xs = [float(values[f"x{i}"]) for i in range(5)]
    return sum((x - 0.3 * i) ** 2 for i, x in enumerate(xs)) + float(values["kind"] != "a")


def preload(module: str) -> None:
    """Import ``module`` (run on every worker before the clock starts: a worker process
    otherwise imports the framework and ConfigSpace, about 1 s of CPU, in its first trial)."""
    importlib.import_module(module)


def calls() -> dict[str, Any]:
    """The target calls so far: how many, how many repeated an earlier (configuration, seed),
    the seconds spent in finished calls, and the idle gaps of the worker threads between one
    call's end and their next call's start (median and 90th percentile, in milliseconds)."""
    rows = [line.split("\t") for line in Path(os.environ[CALLS_FILE]).read_text().splitlines()]
    called = [row[3] for row in rows if row[0] == "start"]
    events: dict[str, list[tuple[str, float]]] = {}  # thread -> its starts and ends, in order
    for kind, thread, when, *_ in rows:
        events.setdefault(thread, []).append((kind, float(when)))
    gaps: list[float] = []  # from an end to the thread's next start
    busy = 0.0  # from a start to its end
    for seq in events.values():
        for (kind, at), (next_kind, next_at) in itertools.pairwise(seq):
            if kind == "end" and next_kind == "start":
                gaps.append(next_at - at)
            elif kind == "start" and next_kind == "end":
                busy += next_at - at
    gaps.sort()
    return {
        "calls": len(called),
        "busy_seconds": busy,
        "duplicates": len(called) - len(set(called)),
        "gap_ms_median": 1000 * statistics.median(gaps) if gaps else None,
        "gap_ms_p90": 1000 * gaps[int(0.9 * len(gaps))] if gaps else None,
    }


@contextlib.contextmanager
def gc_clock() -> Iterator[dict[str, Any]]:
    """Time the interpreter's garbage collections inside the block: every thread of the
    process, the in-process workers' included, waits while one runs.

    Yields a dict that holds, once the block ends, ``gc_seconds`` (all collections),
    ``gc_full_seconds`` and ``gc_full`` (the full ones: seconds and count).
    """
    out: dict[str, Any] = {}
    seconds, counts, started = [0.0, 0.0, 0.0], [0, 0, 0], [0.0]

    def clock(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            seconds[info["generation"]] += time.perf_counter() - started[0]
            counts[info["generation"]] += 1

    gc.callbacks.append(clock)
    try:
        yield out
    finally:
        gc.callbacks.remove(clock)
        out.update(gc_seconds=sum(seconds), gc_full_seconds=seconds[2], gc_full=counts[2])


def space() -> Any:
    from ConfigSpace import Categorical, ConfigurationSpace, Float

    cs = ConfigurationSpace(seed=0)
    cs.add([Float(f"x{i}", (-5.0, 5.0)) for i in range(5)])
    cs.add(Categorical("kind", ["a", "b", "c"]))
    return cs


def cluster(workers: int, processes: bool) -> Any:
    """A LocalCluster of ``workers`` single-threaded workers whose listeners are all on
    loopback (127.0.0.1)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        # Every worker of an in-process cluster measures the whole process's memory: with
        # dask's default limit (machine memory / k) 64 workers pause once the process passes
        # about 300 MB.
        memory_limit="auto" if processes else 0,
        # Loopback only. With processes, the scheduler's, workers' and nannies' comms follow
        # ``host``; in-process (inproc:// comms) ``host`` does not apply, and each worker
        # still starts an HTTP server, on every interface unless given an address.
        **({"host": "127.0.0.1"} if processes else {}),
        dashboard_address=None,
        worker_dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )


def run_smacx(
    workers: int,
    duration: float,
    trials: int,
    processes: bool,
    preset: str = "hpo",
    queue_ahead: str = "auto",
) -> dict[str, Any]:
    from distributed import Client

    from smacx import SMAC, Scenario, SerialRunner
    from smacx.runners import DaskParallelRunner

    scenario = Scenario(
        space(),
        deterministic=True,
        n_trials=trials,
        walltime_limit=duration,
        n_workers=workers,
        output_directory=None,
        seed=0,
    )
    with (
        cluster(workers, processes) as c,
        Client(c) as client,
        SMAC(
            scenario,
            objective,
            runner=DaskParallelRunner(
                SerialRunner(objective, scenario),
                dask_client=client,
                queue_ahead="auto" if queue_ahead == "auto" else int(queue_ahead),
            ),
            progress=False,
            preset=preset,  # type: ignore[arg-type]  # checked by SMAC
        ) as smac,
    ):
        client.run(preload, "smacx")
        with gc_clock() as collected:
            start = time.time()
            smac.optimize()
            elapsed = time.time() - start
        finished = smac.runhistory.n_finished
    return {"finished": finished, "elapsed": elapsed, **collected, **calls()}


def run_smac3(workers: int, duration: float, trials: int, processes: bool) -> dict[str, Any]:
    import logging

    from distributed import Client
    from smac import HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.enumerations import StatusType

    logging.getLogger("smac").setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory() as out,
        cluster(workers, processes) as c,
        Client(c) as client,
    ):
        scenario = Scenario(
            space(),
            deterministic=True,
            n_trials=trials,
            walltime_limit=duration,
            n_workers=workers,
            output_directory=Path(out),
            seed=0,
        )
        smac = HyperparameterOptimizationFacade(
            scenario, objective, dask_client=client, overwrite=True, logging_level=40
        )
        client.run(preload, "smac")
        with gc_clock() as collected:
            start = time.time()
            smac.optimize()
            elapsed = time.time() - start
        finished = sum(v.status != StatusType.RUNNING for v in smac.runhistory.values())
        smac._runner.close()  # SMAC3's facade has no public close
    return {"finished": finished, "elapsed": elapsed, **collected, **calls()}


def child(args: argparse.Namespace) -> None:
    if not args.dask_defaults:
        import dask

        dask.config.set(BENCH_DASK)
    with tempfile.TemporaryDirectory() as scratch:
        # set before the cluster starts: worker processes inherit the environment
        os.environ[CALLS_FILE] = str(Path(scratch) / "calls.txt")
        os.environ[TRIAL_TIME] = str(args.trial_time)
        os.environ[TRIAL_SPREAD] = str(args.trial_time_spread)
        Path(os.environ[CALLS_FILE]).touch()
        if args.child == "smacx":
            result = run_smacx(
                args.workers_one,
                args.duration,
                args.trials,
                args.processes,
                args.preset,
                args.queue_ahead,
            )
        else:
            result = run_smac3(args.workers_one, args.duration, args.trials, args.processes)
    import distributed

    result["versions"] = {
        "python": platform.python_version(),
        "distributed": distributed.__version__,
    }
    if args.child == "smac3":
        from importlib.metadata import version

        result["versions"]["smac"] = version("smac")
    print("RESULT " + json.dumps(result), flush=True)


# -- the parent: every run, side by side -----------------------------------------------------


def launch(framework: str, python: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    record: dict[str, Any] = {"framework": framework, "workers": workers,
                              "processes": args.processes,
                              "trial_time": args.trial_time,
                              "trial_time_spread": args.trial_time_spread,
                              "duration": args.duration,
                              "dask_config": {} if args.dask_defaults else BENCH_DASK}  # fmt: skip
    env = dict(os.environ)
    # this directory, for worker processes to import the target from ``parallel``
    path = [str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]
    if framework == "smacx":
        path.insert(0, str(REPO))
    env["PYTHONPATH"] = os.pathsep.join(path)
    command = [python, __file__, "--child", framework, "--workers-one", str(workers),
               "--duration", str(args.duration), "--trials", str(args.trials),
               "--trial-time", str(args.trial_time),
               "--trial-time-spread", str(args.trial_time_spread)]  # fmt: skip
    if args.dask_defaults:
        command.append("--dask-defaults")
    if args.processes:
        command.append("--processes")
    if framework == "smacx":
        command += ["--preset", args.preset, "--queue-ahead", args.queue_ahead]
        record["preset"] = args.preset
        record["queue_ahead"] = args.queue_ahead
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=args.duration * 5 + 300
        )
    except subprocess.TimeoutExpired:
        return {**record, "error": "timed out"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return {**record, "error": done.stderr.strip().splitlines()[-5:]}
    result = json.loads(lines[-1][len("RESULT ") :])
    ideal = workers / args.trial_time
    throughput = result["finished"] / result["elapsed"]
    return {**record, **result, "throughput": throughput, "ideal": ideal,
            "efficiency": throughput / ideal,
            "busy_share": result["busy_seconds"] / (workers * result["elapsed"])}  # fmt: skip


def smac3_available(python: str) -> str | None:
    """None if SMAC3 can run under ``python``, else why not."""
    if not Path(python).exists():
        return f"{python} does not exist"
    check = subprocess.run([python, "-c", "import smac, distributed"], capture_output=True)
    return None if check.returncode == 0 else f"SMAC3 does not import under {python}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=positive_ints, default="16,64", help="comma-separated worker counts"
    )
    parser.add_argument("--duration", type=positive_float, default=60.0, help="seconds per run")
    parser.add_argument("--trials", type=positive_int, default=100_000, help="trial cap per run")
    parser.add_argument("--trial-time", type=positive_float, default=1.0, help="seconds per trial")
    parser.add_argument(
        "--trial-time-spread",
        type=nonnegative_float,
        default=0.0,
        help="standard deviation of the log of a trial's time across configurations (0: fixed)",
    )
    parser.add_argument(
        "--frameworks", type=names(FRAMEWORKS, "framework"), default=",".join(FRAMEWORKS)
    )
    parser.add_argument("--smac3-python", default=DEFAULT_SMAC3_PYTHON)
    parser.add_argument(
        "--dask-defaults", action="store_true", help="do not set QUIET_DASK or QUEUE_ON_SCHEDULER"
    )
    parser.add_argument("--processes", action="store_true", help="one process per worker")
    parser.add_argument(
        "--preset",
        choices=("hpo", "blackbox", "random"),  # the presets that need no budgets
        default="hpo",
        help="smacx's preset ('random': the loop without a model)",
    )
    parser.add_argument(
        "--queue-ahead",
        type=queue_ahead,
        default="auto",
        help="smacx's DaskParallelRunner(queue_ahead=...): a count, or 'auto' (its default)",
    )
    parser.add_argument("--out", type=Path, default=Path("parallel.json"))
    parser.add_argument("--child", choices=["smacx", "smac3"], help=argparse.SUPPRESS)
    parser.add_argument("--workers-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # Run from the module ``parallel``, not ``__main__``: see ``objective``.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import parallel

        parallel.child(args)
        return

    frameworks = list(dict.fromkeys(args.frameworks))
    notes: list[str] = []
    why = smac3_available(args.smac3_python) if "smac3" in frameworks else None
    if why is not None:
        notes.append(f"SMAC3 skipped: {why}")
        frameworks.remove("smac3")
    records = []
    for workers in args.workers:
        for framework in frameworks:
            python = sys.executable if framework == "smacx" else args.smac3_python
            print(f"running {framework} on {workers} workers ...", file=sys.stderr, flush=True)
            records.append(launch(framework, python, workers, args))
    args.out.write_text(json.dumps({"notes": notes, "runs": records}, indent=2) + "\n")

    print(f"{'framework':<10}{'workers':>8}{'trials':>8}{'trials/s':>10}{'ideal':>8}"
          f"{'efficiency':>12}{'busy':>6}{'duplicates':>12}{'gap ms':>8}{'gc s':>7}")  # fmt: skip
    for r in records:
        if "error" in r:
            print(f"{r['framework']:<10}{r['workers']:>8}  error: {r['error']}")
            continue
        print(f"{r['framework']:<10}{r['workers']:>8}{r['finished']:>8}{r['throughput']:>10.2f}"
              f"{r['ideal']:>8.1f}{r['efficiency']:>12.2f}{r['busy_share']:>6.2f}"
              f"{r['duplicates']:>12}"
              f"{r['gap_ms_median'] or float('nan'):>8.1f}{r['gc_seconds']:>7.2f}")  # fmt: skip
    for note in notes:
        print(note)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
