"""Masterless workers: trials per second of k processes sharing one run, smacx next to Optuna.

Example::

    python benchmarks/shared.py --processes 1,4,8 --trials 400 --trial-time 0.05 \\
        --storages sqlite,postgres --postgres postgresql://user@localhost/bench --out shared.json

Each (framework, storage, k) run starts k processes of this script (``--child``) on one new run,
as k machines would: no master, only the shared history. smacx runs
``SMAC(Scenario(..., n_trials=N), f, storage=...)`` in each (the ``"hpo"`` preset: a random
forest, log-EI), so together they run exactly N trials. Optuna runs its default TPE sampler on
an RDB storage (the study created by this script first, as Optuna's documentation advises:
processes creating one SQLite file at once fail), each process stopping once N trials of the
study have finished (``MaxTrialsCallback``), so it may run a few more. Both keep the run in
the same kind of storage: an SQLite file in a fresh folder (``sqlite``), or a fresh run or study
of its own in the PostgreSQL database of ``--postgres`` (``postgres``; skipped, with a note,
without that URL). Optuna reaches PostgreSQL through SQLAlchemy and psycopg 3
(``postgresql+psycopg://``) and is skipped, with a note, where it does not import.

The target is a 6-dimensional Hartmann-like function that sleeps ``--trial-time`` seconds, so
the ideal throughput is k / trial_time. Every process loads its framework and opens the run
before the clock starts (all of them wait for the slowest), and each reports when its
optimization started and ended. Reported per run:

* ``throughput``: finished trials / (last end - first start), in trials per second;
* ``efficiency``: throughput / (k / trial_time): 1.0 means no process ever waited;
* ``cpu_ms_per_trial``: the processes' CPU time (user + system, the target's sleep costs none)
  over the finished trials: what deciding, recording and reading the history cost;
* ``finished``, ``running`` (left RUNNING at the end; must be 0) and ``duplicates``
  (configurations evaluated more than once; must be 0 for smacx, whose runs are
  deterministic).

Results go to ``--out`` as JSON, and a table is printed.
"""

# Optuna is optional here, and typed loosely.
# mypy: disable-error-code="import-not-found,import-untyped"

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _args import names, positive_float, positive_int, positive_ints

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("smacx", "optuna")
STORAGES = ("sqlite", "postgres")
DIMENSIONS = 6


def objective(values: dict[str, float], trial_time: float) -> float:
    """A smooth 6-d function with its minimum inside the box, after a sleep of
    ``trial_time`` seconds."""
    time.sleep(trial_time)
    x = [values[f"x{i}"] for i in range(DIMENSIONS)]
    return -math.exp(-sum((xi - 0.3 - 0.05 * i) ** 2 for i, xi in enumerate(x)) * 4.0)


# -- a child: one process of a shared run ----------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """Open the run, say so, wait for the parent's go, optimize, and report."""
    finish = _smacx_child(args) if args.child == "smacx" else _optuna_child(args)
    print("READY", flush=True)
    sys.stdin.readline()  # the parent's go: every process has opened the run
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    finish()
    end = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print("RESULT " + json.dumps({"start": start, "end": end, "cpu": cpu}), flush=True)


def _smacx_child(args: argparse.Namespace) -> Any:
    from ConfigSpace import ConfigurationSpace

    from smacx import SMAC, Scenario

    space = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(DIMENSIONS)}, seed=0)
    location = args.location
    scenario = Scenario(
        space,
        n_trials=args.trials,
        deterministic=True,
        name=args.run,
        output_directory=None if location.startswith("postgresql") else location,
    )
    smac = SMAC(
        scenario,
        lambda config, seed: objective(dict(config), args.trial_time),
        storage=location if location.startswith("postgresql") else None,
        progress=False,
    )

    def finish() -> None:
        smac.optimize()
        smac.close()

    return finish


def _optuna_child(args: argparse.Namespace) -> Any:
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=args.location, study_name=args.run, load_if_exists=True, direction="minimize"
    )

    def target(trial: Any) -> float:
        values = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(DIMENSIONS)}
        return objective(values, args.trial_time)

    stop = MaxTrialsCallback(args.trials, states=(TrialState.COMPLETE,))
    return lambda: study.optimize(target, n_trials=args.trials, callbacks=[stop])


# -- the parent: every run, side by side -----------------------------------------------------


def location(framework: str, storage: str, args: argparse.Namespace, scratch: Path) -> str:
    """Where a new run of ``framework`` on ``storage`` lives (a fresh folder or database run)."""
    if storage == "sqlite":
        folder = scratch / f"{framework}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        return str(folder) if framework == "smacx" else f"sqlite:///{folder}/optuna.db"
    url = str(args.postgres)
    if framework == "optuna":
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def launch(
    framework: str, storage: str, k: int, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """Run k processes on one new run; the record of the run."""
    record: dict[str, Any] = {"framework": framework, "storage": storage, "processes": k,
                              "trials": args.trials, "trial_time": args.trial_time}  # fmt: skip
    where = location(framework, storage, args, scratch)
    run = f"shared-{uuid.uuid4().hex[:8]}"
    if framework == "optuna":  # created once, before the workers, as Optuna's docs advise
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(storage=where, study_name=run, direction="minimize")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, __file__, "--child", framework, "--location", where, "--run", run,
               "--trials", str(args.trials), "--trial-time", str(args.trial_time)]  # fmt: skip
    procs = [
        subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(k)
    ]
    results: list[dict[str, Any]] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "READY":
                return {**record, "error": f"a process did not start: {line.strip()!r}"}
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, _ = proc.communicate(timeout=args.trials * args.trial_time * 10 + 600)
            lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                return {**record, "error": f"a process ended with status {proc.returncode}"}
            results.append(json.loads(lines[-1][len("RESULT ") :]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    counts = count_trials(framework, where, run)
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    throughput = counts["finished"] / elapsed
    ideal = k / args.trial_time
    cpu_ms = 1000 * sum(r["cpu"] for r in results) / counts["finished"]
    return {**record, **counts, "elapsed": elapsed, "throughput": throughput, "ideal": ideal,
            "efficiency": throughput / ideal, "cpu_ms_per_trial": cpu_ms}  # fmt: skip


def count_trials(framework: str, where: str, run: str) -> dict[str, int]:
    """Finished and running trials of the run, and configurations evaluated more than once."""
    if framework == "smacx":
        from smacx import StatusType
        from smacx.storage import open_storage

        path = where if where.startswith("postgresql") else str(Path(where) / run / "runhistory.db")
        storage = open_storage(path, run=run)
        records = storage.read_trials(0)
        storage.close()
        finished = [r.key.config_id for r in records if r.value.status is not StatusType.RUNNING]
        running = len(records) - len(finished)
        return {"finished": len(finished), "running": running,
                "duplicates": len(finished) - len(set(finished))}  # fmt: skip
    import optuna
    from optuna.trial import TrialState

    trials = optuna.load_study(study_name=run, storage=where).get_trials(deepcopy=False)
    done = [t for t in trials if t.state.is_finished()]
    configs = [tuple(sorted(t.params.items())) for t in done]
    return {"finished": len(done),
            "running": sum(t.state is TrialState.RUNNING for t in trials),
            "duplicates": len(configs) - len(set(configs))}  # fmt: skip


def unavailable(framework: str, storage: str, args: argparse.Namespace) -> str | None:
    """Why a (framework, storage) pair cannot run here, or None."""
    if storage == "postgres" and not args.postgres:
        return "no --postgres URL given"
    modules = {"smacx": ["smacx"], "optuna": ["optuna"]}[framework]
    if storage == "postgres":
        modules.append("psycopg")
    check = subprocess.run(
        [sys.executable, "-c", f"import {', '.join(modules)}"], capture_output=True
    )
    return None if check.returncode == 0 else f"{', '.join(modules)} do not import"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=positive_ints, default=[1, 4, 8])
    parser.add_argument("--trials", type=positive_int, default=400, help="trials of each run")
    parser.add_argument("--trial-time", type=positive_float, default=0.05, help="seconds per trial")
    parser.add_argument(
        "--frameworks", type=names(FRAMEWORKS, "framework"), default=list(FRAMEWORKS)
    )
    parser.add_argument("--storages", type=names(STORAGES, "storage"), default=list(STORAGES))
    parser.add_argument(
        "--postgres", help="postgresql://user:password@host/db for the postgres runs"
    )
    parser.add_argument("--out", type=Path, default=Path("shared.json"))
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--location", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        for storage in args.storages:
            for framework in args.frameworks:
                why = unavailable(framework, storage, args)
                for k in args.processes:
                    if why is not None:
                        records.append({"framework": framework, "storage": storage,
                                        "processes": k, "skipped": why})  # fmt: skip
                        continue
                    record = launch(framework, storage, k, args, Path(scratch))
                    records.append(record)
                    print_row(record)
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "records": records}  # fmt: skip
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


def print_row(r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"{r['framework']:7} {r['storage']:8} k={r['processes']:<3} error: {r['error']}")
        return
    print(f"{r['framework']:7} {r['storage']:8} k={r['processes']:<3} "
          f"{r['throughput']:7.1f} trials/s  efficiency {r['efficiency']:.2f}  "
          f"cpu {r['cpu_ms_per_trial']:6.1f} ms/trial  finished {r['finished']}  "
          f"running {r['running']}  duplicates {r['duplicates']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
