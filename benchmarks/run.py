"""Runs optimizers on benchmark tasks, every run in its own subprocess, and records JSON lines.

Example::

    python benchmarks/run.py --suite quick --optimizers smacx,smac3,optuna,random \\
        --seeds 5 --trials 100 --out results.jsonl

Each (optimizer, task, seed) run is a child process (``run.py --child ...``), so a crash, a hang
(``--timeout``) or a memory leak in one optimizer never affects another run, and the child's
peak RSS belongs to that run alone. At most ``--jobs`` children run at once (default 2). Results
are appended to ``--out`` as each run finishes; ``--resume`` skips runs already recorded there.

One JSON line per run holds: the optimizer, its label and version, task, seed, n_trials, the
cost of every trial and the best cost so far after every trial, the final regret (if the task's
optimum is known), wall time, time inside the objective, optimizer overhead per trial
((wall - objective) / n_trials), peak RSS (MB) of the child, and the git commit of the repo.

Noisy tasks (``--suite noisy``): every evaluation returns the task's cost plus Gaussian noise,
and smacx and SMAC3 run with ``deterministic=False``. ``best_so_far`` then holds noise-free
costs: after each trial, that of the configuration with the lowest observed cost so far, and
after the last one that of the configuration the optimizer returns (smacx's and SMAC3's
incumbent, Optuna's best trial, random search's lowest observed cost); ``final_best`` and
``final_regret`` are that last value. The record adds ``noise``, ``observed_best`` (the lowest
noisy cost seen), ``true_costs`` and ``returned_config``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smacx.facade import Preset

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _args import nonnegative_int, positive_float, positive_int  # noqa: E402
from tasks import SUITES, Task, get_task, suite_tasks  # noqa: E402

SCHEMA = 1
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# ---------------------------------------------------------------------------------------------
# Run specification (parent -> child)


@dataclass(frozen=True)
class RunSpec:
    """What one child process runs.

    Attributes:
        optimizer: A key of :data:`ADAPTERS`.
        task: Task name (see ``tasks.py``).
        seed: Seed handed to the optimizer (and to the objective).
        n_trials: Number of trials (objective evaluations) the optimizer is asked for.
        label: Name under which the run is reported (default: the optimizer); lets one results
            file hold, e.g., two smacx commits or settings.
        mode: Free-form tag (``benchmark`` or ``overhead``).
    """

    optimizer: str
    task: str
    seed: int
    n_trials: int
    label: str
    mode: str = "benchmark"

    def key(self) -> tuple[str, str, int, int, str]:
        """Identity of the run, used by ``--resume``."""
        return (self.label, self.task, self.seed, self.n_trials, self.mode)


# ---------------------------------------------------------------------------------------------
# Child side: the recorder and the optimizer adapters


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """Active hyperparameters of a configuration as a dict of plain Python values."""
    out: dict[str, Any] = {}
    for key, value in dict(config).items():
        out[str(key)] = value.item() if hasattr(value, "item") else value
    return out


class Recorder:
    """Wraps a task's objective: times every call and keeps every cost.

    For a noisy task (``task.noise > 0``) every call returns the noise-free cost plus Gaussian
    noise of that standard deviation, drawn from a stream seeded by the run's seed, and the
    recorder also keeps each configuration and its noise-free cost. An adapter sets
    :attr:`returned` to the configuration its optimizer returns as the best (its incumbent);
    by default it is the one with the lowest observed cost.

    Args:
        task: The task whose objective is wrapped.
        seed: The run's seed (seeds the noise).
    """

    def __init__(self, task: Task, seed: int = 0) -> None:
        import numpy as np

        self.task = task
        self.noise_rng = np.random.default_rng([seed, 20261204])
        self.configs: list[dict[str, Any]] = []  # noisy tasks only
        self.true_costs: list[float] = []  # noisy tasks only
        self.returned: dict[str, Any] | None = None
        self.costs: list[float] = []
        self.objective_times: list[float] = []
        self.objective_cpu = 0.0
        self.trial_ends: list[float] = []
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def reset_clock(self) -> None:
        """Starts the wall and CPU clocks (call right before the optimizer is built, after the
        optimizer's imports, so a one-time import does not count as per-trial overhead)."""
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def __call__(self, config: Mapping[str, Any], seed: int) -> float:
        """Evaluates the objective on ``config`` and records cost and time."""
        c0 = time.process_time()
        t0 = time.perf_counter()
        cost = float(self.task.objective(config, seed))
        if self.task.noise > 0.0:
            self.configs.append(dict(config))
            self.true_costs.append(cost)
            cost += self.task.noise * float(self.noise_rng.standard_normal())
        t1 = time.perf_counter()
        self.objective_cpu += time.process_time() - c0
        self.costs.append(cost)
        self.objective_times.append(t1 - t0)
        self.trial_ends.append(t1 - self.start)
        return cost


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def run_random(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """Random search: ConfigSpace's ``sample_configuration`` on a seeded space."""
    del workdir
    space = task.make_space()
    space.seed(seed)
    rec.reset_clock()
    for _ in range(n_trials):
        rec(_plain(space.sample_configuration()), seed)
    return "ConfigSpace " + _version("ConfigSpace")


def run_smac3(
    task: Task,
    seed: int,
    n_trials: int,
    rec: Recorder,
    workdir: Path,
    facade: str = "HyperparameterOptimizationFacade",
    make_model: Callable[[Any, int], Any] | None = None,
    make_parts: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> str:
    """A SMAC3 facade by name; by default the HPO one (random forest + EI + local search).

    ``make_model(space, seed)``, if given, builds the surrogate that replaces the facade's;
    ``make_parts(facade_class, scenario)`` other parts, as keyword arguments of the facade.
    """
    import smac

    space = task.make_space()
    rec.reset_clock()
    scenario = smac.Scenario(
        space,
        deterministic=task.noise == 0.0,
        n_trials=n_trials,
        seed=seed,
        output_directory=workdir / "smac3_output",
    )
    model = {} if make_model is None else {"model": make_model(space, seed)}
    facade_class = getattr(smac, facade)
    parts = {} if make_parts is None else make_parts(facade_class, scenario)

    def train(config: Any, seed: int = 0) -> float:
        return rec(_plain(config), seed)

    found = facade_class(
        scenario, train, overwrite=True, logging_level=40, **model, **parts
    ).optimize()
    if found is not None and not isinstance(found, list):
        rec.returned = _plain(found)
    return _version("smac")


def run_smacx_prior(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """smacx's default preset with its acquisition weighted by the space's priors (piBO):
    ``SMAC(..., acquisition=PriorWeighted())``."""
    from smacx.acquisition import PriorWeighted

    return run_smacx(task, seed, n_trials, rec, workdir, acquisition=PriorWeighted())


def run_smac3_prior(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """SMAC3's HPO facade with ``PriorAcquisitionFunction`` (``decay_beta = n_trials / 10``)
    and the default configuration added to its initial design, as SMAC3's example of priors
    sets it up."""
    from smac.acquisition.function import PriorAcquisitionFunction

    def parts(facade: Any, scenario: Any) -> dict[str, Any]:
        default = scenario.configspace.get_default_configuration()
        return {
            "initial_design": facade.get_initial_design(scenario, additional_configs=[default]),
            "acquisition_function": PriorAcquisitionFunction(
                acquisition_function=facade.get_acquisition_function(scenario),
                decay_beta=n_trials / 10,
            ),
        }

    return run_smac3(task, seed, n_trials, rec, workdir, make_parts=parts)


def run_smacx_blackbox(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """smacx's black-box preset (Gaussian process), for continuous spaces."""
    return run_smacx(task, seed, n_trials, rec, workdir, preset="blackbox")


def run_smac3_blackbox(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """SMAC3's BlackBoxFacade (Gaussian process + EI), the counterpart of smacx's black-box
    preset."""
    return run_smac3(task, seed, n_trials, rec, workdir, facade="BlackBoxFacade")


def run_smac3_pyrfr(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """SMAC3's HPO facade with its pyrfr forest (the pre-2.4 default), facade's RF settings.

    Needs ``pip install "smac[pyrfr]"`` (pyrfr builds with swig).
    """
    from smac.model.random_forest.pyrfr.random_forest_pyrfr import PyrfrRandomForest

    def forest(space: Any, seed: int) -> Any:
        return PyrfrRandomForest(
            space,
            n_trees=10,
            ratio_features=1.0,
            min_samples_split=2,
            min_samples_leaf=1,
            log_y=True,
            seed=seed,
        )

    version = run_smac3(task, seed, n_trials, rec, workdir, make_model=forest)
    return version + "+pyrfr" + _version("pyrfr")


def run_smacx(
    task: Task,
    seed: int,
    n_trials: int,
    rec: Recorder,
    workdir: Path,
    preset: Preset = "hpo",
    **parts: Any,
) -> str:
    """smacx's public API: ``SMAC(Scenario(...), target_fn, preset=..., **parts).optimize()``."""
    import smacx
    from smacx import SMAC, Scenario

    space = task.make_space()
    rec.reset_clock()
    scenario = Scenario(
        configspace=space,
        n_trials=n_trials,
        seed=seed,
        deterministic=task.noise == 0.0,
        output_directory=workdir / "smacx_output",
    )

    def target(config: Any, seed: int = 0) -> float:
        return rec(_plain(config), seed)

    smac = SMAC(scenario, target, preset=preset, overwrite=True, progress=False, **parts)
    found = smac.optimize()
    if found is not None:
        rec.returned = _plain(found)
    return str(getattr(smacx, "__version__", _version("smacx")))


def _optuna_sampler(space: Any) -> Callable[[Any], dict[str, Any]]:
    """Builds ``trial -> config dict`` that asks an Optuna trial for every active hyperparameter.

    Hyperparameters are visited in ConfigSpace's (topological) order; a conditional one is only
    suggested when all its parent conditions hold for the values chosen so far. Forbidden
    clauses are not checked here (see :func:`run_optuna`).
    """
    from ConfigSpace import (
        CategoricalHyperparameter,
        Constant,
        OrdinalHyperparameter,
    )
    from ConfigSpace.hyperparameters import FloatHyperparameter, IntegerHyperparameter

    names = list(space.keys())
    parent_conditions = {name: list(space.parent_conditions_of[name]) for name in names}

    def active(name: str, values: dict[str, Any]) -> bool:
        for cond in parent_conditions[name]:
            try:
                if not cond.satisfied_by_value(values):
                    return False
            except KeyError:  # a parent is inactive
                return False
        return True

    def suggest(trial: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in names:
            if not active(name, values):
                continue
            hp = space[name]
            if isinstance(hp, Constant):
                values[name] = hp.value
            elif isinstance(hp, IntegerHyperparameter):
                values[name] = trial.suggest_int(
                    name, int(hp.lower), int(hp.upper), log=bool(hp.log)
                )
            elif isinstance(hp, FloatHyperparameter):
                values[name] = trial.suggest_float(
                    name, float(hp.lower), float(hp.upper), log=bool(hp.log)
                )
            elif isinstance(hp, CategoricalHyperparameter):
                choices = [c.item() if hasattr(c, "item") else c for c in hp.choices]
                values[name] = trial.suggest_categorical(name, choices)
            elif isinstance(hp, OrdinalHyperparameter):
                seq = [c.item() if hasattr(c, "item") else c for c in hp.sequence]
                values[name] = trial.suggest_categorical(name, seq)
            else:
                raise NotImplementedError(f"no optuna translation for {type(hp).__name__}")
        return values

    return suggest


def run_optuna(task: Task, seed: int, n_trials: int, rec: Recorder, workdir: Path) -> str:
    """Optuna with its TPE sampler (default settings) and an in-memory study.

    A configuration that violates one of the space's forbidden clauses is not evaluated: its
    trial is pruned (TPE ranks pruned trials without values below every complete one, so it
    learns to avoid the region), and the study runs on until ``n_trials`` were evaluated (at
    most 100 rounds of asking for the trials still missing).
    """
    del workdir
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = task.make_space()
    rec.reset_clock()
    suggest = _optuna_sampler(space)
    clauses = list(space.forbidden_clauses)
    evaluated: dict[int, int] = {}  # trial number -> index of its evaluation in rec

    def objective(trial: Any) -> float:
        values = suggest(trial)
        if any(clause.is_forbidden_value(values) for clause in clauses):
            raise optuna.TrialPruned
        evaluated[trial.number] = len(rec.costs)
        return rec(values, seed)

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for _ in range(100):
        missing = n_trials - len(rec.costs)
        if missing <= 0:
            break
        study.optimize(objective, n_trials=missing)
    if rec.configs:  # noisy task: the study's best trial (the lowest observed value)
        rec.returned = rec.configs[evaluated[study.best_trial.number]]
    return str(optuna.__version__)


ADAPTERS: dict[str, Callable[[Task, int, int, Recorder, Path], str]] = {
    "smacx": run_smacx,
    "smacx_blackbox": run_smacx_blackbox,
    "smacx_prior": run_smacx_prior,
    "smac3": run_smac3,
    "smac3_prior": run_smac3_prior,
    "smac3_blackbox": run_smac3_blackbox,
    "smac3_pyrfr": run_smac3_pyrfr,
    "optuna": run_optuna,
    "random": run_random,
}


#: The package each adapter imports beyond smacx's own dependencies (the bench extra).
PACKAGES = {
    "smac3": ("smac",),
    "smac3_blackbox": ("smac",),
    "smac3_prior": ("smac",),
    "smac3_pyrfr": ("smac", "pyrfr"),  # pyrfr: not in the bench extra (pip install pyrfr)
    "optuna": ("optuna",),
}


def parse_optimizers(text: str) -> list[str]:
    """The optimizers of a comma-separated ``--optimizers``; exits naming any that is unknown,
    or whose package this Python cannot import (found before any run starts: else every run
    of theirs failed alike in its own subprocess)."""
    import importlib.util

    optimizers = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in optimizers if o not in ADAPTERS]
    if unknown:
        raise SystemExit(f"unknown optimizer(s) {unknown}; known: {', '.join(ADAPTERS)}")
    if not optimizers:
        raise SystemExit(f"--optimizers: no optimizer given; known: {', '.join(ADAPTERS)}")
    needed = dict.fromkeys(name for o in optimizers for name in PACKAGES.get(o, ()))
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"--optimizers {text} needs {', '.join(missing)}, not installed in this Python: "
            'pip install -e ".[bench]" (and pyrfr for smac3_pyrfr: pip install pyrfr), or '
            "leave those optimizers out"
        )
    return optimizers


def _rss_mb(usage: resource.struct_rusage) -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return usage.ru_maxrss * scale / (1024.0 * 1024.0)


def child_main(spec: RunSpec, out_path: Path, workdir: Path) -> int:
    """Runs one optimizer on one task and writes the result as one JSON object to ``out_path``."""
    task = get_task(spec.task)
    rec = Recorder(task, spec.seed)
    record: dict[str, Any] = {"status": "ok", "error": None}
    adapter = ADAPTERS[spec.optimizer]
    rss_start = _rss_mb(resource.getrusage(resource.RUSAGE_SELF))
    rec.reset_clock()  # the adapter restarts both clocks once its imports are done
    try:
        record["version"] = adapter(task, spec.seed, spec.n_trials, rec, workdir)
    except BaseException as exc:  # record whatever went wrong, even SystemExit
        record["status"] = "error"
        record["error"] = "".join(traceback.format_exception(exc))[-4000:]
        record["version"] = None
    wall = time.perf_counter() - rec.start
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children_usage = resource.getrusage(resource.RUSAGE_CHILDREN)

    n = len(rec.costs)
    best: list[float] = []
    for cost in rec.costs:
        best.append(cost if not best else min(best[-1], cost))
    objective_time = sum(rec.objective_times)
    final_best = best[-1] if best else None
    noisy: dict[str, Any] = {}
    if task.noise > 0.0 and rec.costs:
        # Scored by noise-free costs: after every trial, that of the configuration with the
        # lowest observed cost so far; at the end, that of the configuration the optimizer
        # returns (its incumbent; the lowest observed for Optuna and random search).
        lowest = 0
        truth = []
        for i, cost in enumerate(rec.costs):
            lowest = i if cost < rec.costs[lowest] else lowest
            truth.append(rec.true_costs[lowest])
        returned = rec.returned if rec.returned is not None else rec.configs[lowest]
        final_best = float(task.objective(returned, 0))
        noisy = {
            "noise": task.noise,
            "observed_best": best[-1],
            "true_costs": rec.true_costs,
            "returned_config": returned,
        }
        best = [*truth[:-1], final_best]  # the answer at the end: what the optimizer returns
    regret = None
    if task.optimum is not None and final_best is not None and math.isfinite(final_best):
        regret = final_best - task.optimum
    record.update(
        {
            "n_evals": n,
            "optimum": task.optimum,
            "final_best": final_best,
            "final_regret": regret,
            "wall_time_s": wall,
            "objective_time_s": objective_time,
            "overhead_per_trial_ms": 1000.0 * (wall - objective_time) / n if n else None,
            "cpu_time_s": time.process_time() - rec.cpu_start,
            "objective_cpu_time_s": rec.objective_cpu,
            "peak_rss_mb": _rss_mb(self_usage),
            "rss_before_optimizer_mb": rss_start,
            "peak_rss_children_mb": _rss_mb(children_usage),
            "costs": rec.costs,
            "best_so_far": best,
            "trial_end_s": [round(t, 6) for t in rec.trial_ends],
            "objective_s": [round(t, 6) for t in rec.objective_times],
            **noisy,
        }
    )
    if n != spec.n_trials and record["status"] == "ok":
        record["status"] = "wrong_n_trials"
    out_path.write_text(json.dumps(record))
    return 0 if record["status"] == "ok" else 1


# ---------------------------------------------------------------------------------------------
# Parent side


def git_info(repo: Path = REPO_DIR) -> dict[str, Any]:
    """Commit of ``repo`` (None before the first commit) and whether ``smacx/`` has changes."""

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(
                ["git", "-C", str(repo), *args],
                check=False,
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    status = git("status", "--porcelain", "--", "smacx")
    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def child_env(threads: int) -> dict[str, str]:
    """Environment of a child: repo on PYTHONPATH, BLAS/OpenMP pools limited to ``threads``."""
    env = os.environ.copy()
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_DIR) + (os.pathsep + path if path else "")
    if threads > 0:
        for var in _THREAD_VARS:
            env[var] = str(threads)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_one(
    spec: RunSpec,
    *,
    timeout: float,
    threads: int,
    meta: Mapping[str, Any],
    keep_workdir: bool = False,
) -> dict[str, Any]:
    """Runs ``spec`` in a subprocess and returns its full result record."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench_{spec.optimizer}_{spec.task}_"))
    out_path = workdir / "result.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps(asdict(spec)),
        "--child-out",
        str(out_path),
    ]
    start = time.perf_counter()
    status_override: str | None = None
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=child_env(threads),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with _running_lock:
            if _stopping.is_set():  # started as the sweep was being interrupted
                proc.kill()
            _running.add(proc)
        try:
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                status_override = "timeout"
                proc.kill()
                _, err = proc.communicate()
        finally:
            with _running_lock:
                _running.discard(proc)
        return _record(
            spec,
            workdir,
            proc.returncode,
            (err or "")[-3000:],
            status_override,
            start,
            threads,
            meta,
        )
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


#: Children of run_one still running, which an interrupt of run_many ends.
_running: set[subprocess.Popen[str]] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


class _Terminated(Exception):
    """SIGTERM arrived while :func:`run_many` ran: it ends the sweep as Ctrl-C does."""


def _raise_terminated(signum: int, frame: Any) -> None:
    del signum, frame
    raise _Terminated


def _record(
    spec: RunSpec,
    workdir: Path,
    returncode: int | None,
    stderr_tail: str,
    status_override: str | None,
    start: float,
    threads: int,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The result record of a child that has ended (see run_one)."""
    out_path = workdir / "result.json"
    elapsed = time.perf_counter() - start

    record: dict[str, Any] = {"schema": SCHEMA, **asdict(spec)}
    if out_path.exists():
        try:
            record.update(json.loads(out_path.read_text()))
        except json.JSONDecodeError:
            record["status"] = "crashed"
    else:
        record["status"] = "crashed"
    if status_override:
        record["status"] = status_override
    if record.get("status") != "ok":
        record.setdefault("error", None)
        record["stderr_tail"] = stderr_tail
    record.update(
        {
            "returncode": returncode,
            "process_time_s": elapsed,
            "threads": threads,
            **meta,
        }
    )
    return record


def run_many(
    specs: list[RunSpec],
    out: Path,
    *,
    jobs: int,
    timeout: float,
    threads: int,
    resume: bool,
    keep_workdir: bool = False,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Runs all ``specs`` with at most ``jobs`` children at once; appends records to ``out``."""
    _stopping.clear()  # (set by an earlier, interrupted call)
    done: set[tuple[Any, ...]] = set()
    if resume and out.exists():
        for line in out.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("status") == "ok":
                done.add((rec["label"], rec["task"], rec["seed"], rec["n_trials"], rec.get("mode")))
    todo = [s for s in specs if s.key() not in done]
    if not quiet and len(todo) < len(specs):
        print(f"resume: {len(specs) - len(todo)} runs already in {out}, {len(todo)} to go")

    meta = {
        **git_info(),
        "python": platform.python_version(),
        "host": platform.node(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def work(spec: RunSpec) -> dict[str, Any]:
        return run_one(spec, timeout=timeout, threads=threads, meta=meta, keep_workdir=keep_workdir)

    # SIGTERM (kill, a job scheduler) takes Ctrl-C's way out below (signal handlers can only
    # be set from the main thread).
    on_term = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_term else None
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(work, s): s for s in todo}
        for i, fut in enumerate(as_completed(futures), 1):
            rec = fut.result()
            with lock, out.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            results.append(rec)
            if not quiet:
                _print_progress(i, len(todo), rec, time.perf_counter() - t0)
    except (KeyboardInterrupt, _Terminated) as exc:
        # One Ctrl-C or SIGTERM ends the sweep: no queued run starts, the running ones are
        # killed (their records, cut short, are not written) and their work folders removed.
        if on_term:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one: let the cleanup end
        pool.shutdown(wait=False, cancel_futures=True)
        with _running_lock:
            _stopping.set()
            for proc in _running:
                with contextlib.suppress(OSError):
                    proc.kill()
        pool.shutdown(wait=True)
        how = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        print(
            f"{how}: {len(results)} of {len(todo)} runs recorded in {out}; --resume "
            "goes on from there",
            file=sys.stderr,
        )
        # the shell's status after Ctrl-C (130) or SIGTERM (143)
        raise SystemExit(143 if isinstance(exc, _Terminated) else 130) from None
    finally:
        if on_term:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    pool.shutdown(wait=True)
    return results


def _fmt(value: Any, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def _print_progress(i: int, n: int, rec: Mapping[str, Any], elapsed: float) -> None:
    msg = (
        f"[{i}/{n} {elapsed / 60:.1f}min] {rec['label']:>8} {rec['task']:<16} seed={rec['seed']} "
        f"T={rec['n_trials']}: {rec.get('status')}"
    )
    if rec.get("status") == "ok":
        msg += (
            f" best={_fmt(rec.get('final_best'))} regret={_fmt(rec.get('final_regret'))}"
            f" wall={_fmt(rec.get('wall_time_s'), '.1f')}s"
            f" ovh={_fmt(rec.get('overhead_per_trial_ms'), '.1f')}ms/trial"
            f" rss={_fmt(rec.get('peak_rss_mb'), '.0f')}MB"
        )
    else:
        err = (rec.get("error") or rec.get("stderr_tail") or "").strip().splitlines()
        msg += f" ({err[-1] if err else 'no output'})"
    print(msg, flush=True)


def build_specs(
    optimizers: list[str],
    tasks: list[str],
    seeds: list[int],
    n_trials: int,
    labels: Mapping[str, str] | None = None,
    mode: str = "benchmark",
) -> list[RunSpec]:
    """All (optimizer, task, seed) runs, ordered seed-major so partial results cover all tasks."""
    labels = labels or {}
    return [
        RunSpec(opt, task, seed, n_trials, labels.get(opt, opt), mode)
        for seed in seeds
        for task in tasks
        for opt in optimizers
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of ``run.py``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--suite", default="quick", help="quick, full, or comma-separated task names")
    p.add_argument("--optimizers", default="smacx,smac3,optuna,random")
    p.add_argument(
        "--seeds", type=positive_int, default=5, help="number of seeds (first-seed, +1, ...)"
    )
    p.add_argument("--first-seed", type=nonnegative_int, default=0)
    p.add_argument("--trials", type=positive_int, default=100)
    p.add_argument("--out", type=Path, default=Path("results.jsonl"))
    p.add_argument("--jobs", type=positive_int, default=2, help="children running at once")
    p.add_argument(
        "--threads", type=nonnegative_int, default=1, help="BLAS/OpenMP threads per child (0=any)"
    )
    p.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds per run")
    p.add_argument("--resume", action="store_true", help="skip runs already ok in --out")
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="OPT=NAME",
        help="report OPT under NAME, e.g. smacx=smacx-rf50 (repeatable)",
    )
    p.add_argument("--mode", default="benchmark", help="tag stored with each run")
    p.add_argument("--keep-workdir", action="store_true", help="keep each run's temp directory")
    p.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.child:  # the tasks, checked before any run starts
        try:
            args.tasks = [t.name for t in suite_tasks(args.suite)]
        except KeyError as exc:
            p.error(f"argument --suite: {exc.args[0]}")
        if not args.tasks:
            p.error(f"argument --suite: no task given; a suite ({', '.join(SUITES)}) or task names")
    return args


def parse_labels(items: list[str]) -> dict[str, str]:
    """``["smacx=new"]`` -> ``{"smacx": "new"}``."""
    labels: dict[str, str] = {}
    for item in items:
        opt, _, name = item.partition("=")
        if not name:
            raise SystemExit(f"--label expects OPT=NAME, got {item!r}")
        labels[opt] = name
    return labels


def main(argv: list[str] | None = None) -> int:
    """Entry point (parent and child)."""
    args = parse_args(argv)
    if args.child:
        spec = RunSpec(**json.loads(args.child))
        return child_main(spec, args.child_out, Path.cwd())

    optimizers = parse_optimizers(args.optimizers)
    tasks: list[str] = args.tasks
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    specs = build_specs(
        optimizers, tasks, seeds, args.trials, parse_labels(args.label), mode=args.mode
    )
    if args.dry_run:
        for s in specs:
            print(s)
        print(f"{len(specs)} runs")
        return 0
    print(
        f"{len(specs)} runs: {len(optimizers)} optimizers x {len(tasks)} tasks x "
        f"{len(seeds)} seeds, {args.trials} trials, {args.jobs} at a time -> {args.out}",
        flush=True,
    )
    t0 = time.perf_counter()
    results = run_many(
        specs,
        args.out,
        jobs=args.jobs,
        timeout=args.timeout,
        threads=args.threads,
        resume=args.resume,
        keep_workdir=args.keep_workdir,
    )
    bad = [r for r in results if r.get("status") != "ok"]
    print(f"done in {(time.perf_counter() - t0) / 60:.1f} min; {len(bad)} failed runs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
