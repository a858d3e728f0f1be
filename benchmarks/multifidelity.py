"""Multi-fidelity benchmark: wall time to reach a validation error, with and without budgets.

Example::

    python benchmarks/multifidelity.py --seeds 3 --walltime 40 --target 0.025 --out mf.json

The task trains a one-hidden-layer MLP (scikit-learn) on the digits data; the budget is the
number of training epochs (1 to 27), the cost the validation error on a fixed 30% split. Methods:

* ``smacx-hyperband``: smacx's :class:`~smacx.multifidelity.Hyperband` (eta=3) on random
  configurations (``preset="random"``).
* ``smacx-hyperband-hpo``: the same with smacx's default model-based proposals.
* ``smacx-racing``: smacx's default racing :class:`~smacx.Intensifier` and model, every trial
  at the full 27 epochs.
* ``smac3-mf``: SMAC3's ``MultiFidelityFacade`` (random forest + Hyperband, eta=3), run with
  ``--smac3-python`` (``/work/benchenv/bin/python`` when it exists; skipped otherwise).

Each (method, seed) is a child process (``--child``) with one BLAS/OpenMP thread, limited to
``--walltime`` seconds; ``--jobs`` children run at once (default 2). A child records the end
time, budget and error of every trial. The summary per method gives the median wall time until a
trial *at the full budget* first reaches ``--target`` (errors at fewer epochs do not count: the
result is a model one would deploy), how many seeds got there, the median best full-budget error
and the epochs spent. Everything is written as JSON to ``--out`` (and the summary to stdout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from _args import add_methods_option, nonnegative_float, positive_float, positive_int
from ConfigSpace import ConfigurationSpace, Float, Integer

REPO = Path(__file__).resolve().parent.parent
SMAC3_PYTHON = Path("/work/benchenv/bin/python")
METHODS = ("smacx-hyperband", "smacx-hyperband-hpo", "smacx-racing", "smac3-mf")
MIN_BUDGET, MAX_BUDGET, ETA = 1, 27, 3
_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- the task ----------------------------------------------------------------------------------


def make_space(seed: int) -> ConfigurationSpace:
    """Width, L2 penalty and initial learning rate of the MLP."""
    space = ConfigurationSpace(seed=seed)
    space.add(Integer("n_units", (8, 128), log=True))
    space.add(Float("alpha", (1e-6, 1e-1), log=True))
    space.add(Float("learning_rate_init", (1e-4, 1e-1), log=True))
    return space


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0
    )
    return X_train, X_valid, y_train, y_valid


def validation_error(config: Mapping[str, Any], budget: float) -> float:
    """Validation error of the MLP after ``round(budget)`` epochs (seed fixed: deterministic)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, X_valid, y_train, y_valid = _data()
    model = MLPClassifier(
        hidden_layer_sizes=(int(config["n_units"]),),
        alpha=float(config["alpha"]),
        learning_rate_init=float(config["learning_rate_init"]),
        max_iter=max(1, round(budget)),
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return 1.0 - float(model.score(X_valid, y_valid))


class Recorder:
    """Wraps the objective; records (seconds since start, budget, error) of every trial."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.trials: list[dict[str, float]] = []

    def __call__(self, config: Mapping[str, Any], budget: float) -> float:
        error = validation_error(config, budget)
        elapsed = time.perf_counter() - self.start
        self.trials.append({"t": elapsed, "budget": float(budget), "error": error})
        return error


# -- children ----------------------------------------------------------------------------------


def run_smacx(method: str, seed: int, walltime: float, rec: Recorder) -> None:
    """One smacx run (in this process).

    Raises:
        ValueError: If ``method`` is not one of smacx's methods in :data:`METHODS`.
    """
    if method not in METHODS or not method.startswith("smacx-"):
        raise ValueError(f"unknown smacx method {method!r}; known: {', '.join(METHODS[:3])}")
    sys.path.insert(0, str(REPO))
    from smacx import SMAC, Intensifier, Scenario
    from smacx.multifidelity import Hyperband

    space = make_space(seed)
    common: dict[str, Any] = {
        "output_directory": None,
        "deterministic": True,
        "n_trials": 100_000,
        "walltime_limit": walltime,
        "seed": seed,
    }
    if method == "smacx-racing":
        scenario = Scenario(space, **common)

        def full(config: Any, seed: int) -> float:
            return rec(config, MAX_BUDGET)

        smac = SMAC(scenario, full, intensifier=Intensifier(), progress=False)
    else:
        scenario = Scenario(space, min_budget=MIN_BUDGET, max_budget=MAX_BUDGET, **common)

        def partial(config: Any, seed: int, budget: float) -> float:
            return rec(config, budget)

        smac = SMAC(
            scenario,
            partial,
            preset="random" if method == "smacx-hyperband" else "hpo",
            intensifier=Hyperband(eta=ETA),
            progress=False,
        )
    rec.start = time.perf_counter()  # construction above is cheap; time the optimization
    smac.optimize()


def run_smac3(seed: int, walltime: float, rec: Recorder) -> None:
    """One SMAC3 MultiFidelityFacade run (in this process; needs the ``smac`` package)."""
    from smac import MultiFidelityFacade, Scenario  # type: ignore[import-not-found]

    def train(config: Any, seed: int = 0, budget: float = MAX_BUDGET) -> float:
        return rec(config, budget)

    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(
            make_space(seed),
            deterministic=True,
            n_trials=100_000,
            walltime_limit=walltime,
            min_budget=MIN_BUDGET,
            max_budget=MAX_BUDGET,
            seed=seed,
            output_directory=Path(tmp) / "smac3",
        )
        intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=ETA)
        smac = MultiFidelityFacade(
            scenario, train, intensifier=intensifier, overwrite=True, logging_level=40
        )
        rec.start = time.perf_counter()
        smac.optimize()


def child(method: str, seed: int, walltime: float) -> None:
    rec = Recorder()
    if method == "smac3-mf":
        run_smac3(seed, walltime, rec)
    else:
        run_smacx(method, seed, walltime, rec)
    print(json.dumps({"trials": rec.trials}))


# -- parent ------------------------------------------------------------------------------------


def summarize_run(trials: list[dict[str, float]], target: float) -> dict[str, Any]:
    """Time to target, best full-budget error, trials and epochs of one run."""
    full = [t for t in trials if t["budget"] >= MAX_BUDGET]
    reached = [t["t"] for t in full if t["error"] <= target]
    return {
        "time_to_target": min(reached) if reached else None,
        "best_full_budget_error": min((t["error"] for t in full), default=None),
        "n_trials": len(trials),
        "n_full_budget_trials": len(full),
        "epochs": sum(round(t["budget"]) for t in trials),
    }


def launch(method: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    python = args.smac3_python if method == "smac3-mf" else sys.executable
    env = {**os.environ, **dict.fromkeys(_THREADS, "1"), "PYTHONPATH": str(REPO)}
    cmd = [str(python), __file__, "--child", method, "--seed", str(seed)]
    cmd += ["--walltime", str(args.walltime)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=args.walltime * 3 + 120
        )
    except subprocess.TimeoutExpired:
        return {"method": method, "seed": seed, "error": "timeout"}
    record: dict[str, Any] = {"method": method, "seed": seed}
    record["wall"] = time.perf_counter() - t0
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        record["error"] = out.stderr[-2000:]
        return record
    trials = json.loads(lines[-1])["trials"]
    record.update(summarize_run(trials, args.target), trials=trials)
    return record


def summarize(runs: list[dict[str, Any]], target: float) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        ok = [r for r in runs if r["method"] == method and "error" not in r]
        times = [r["time_to_target"] for r in ok if r["time_to_target"] is not None]
        best = [r["best_full_budget_error"] for r in ok if r["best_full_budget_error"] is not None]
        # runs that never got there count as +inf, so the median is over every run; an
        # infinite median (the median run did not get there) is written as null (strict JSON)
        median_time = (
            statistics.median(times + [math.inf] * (len(ok) - len(times))) if ok else math.inf
        )
        table[method] = {
            "runs": len(ok),
            "failed": sum(r["method"] == method and "error" in r for r in runs),
            "reached_target": len(times),
            "median_time_to_target": median_time if math.isfinite(median_time) else None,
            "median_best_full_budget_error": statistics.median(best) if best else None,
            "median_trials": statistics.median(r["n_trials"] for r in ok) if ok else None,
            "median_epochs": statistics.median(r["epochs"] for r in ok) if ok else None,
            "target": target,
        }
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_methods_option(parser, METHODS)
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--walltime", type=positive_float, default=40.0, help="seconds per run")
    parser.add_argument(
        "--target", type=nonnegative_float, default=0.025, help="validation error to reach"
    )
    parser.add_argument("--jobs", type=positive_int, default=2)
    parser.add_argument("--smac3-python", type=Path, default=SMAC3_PYTHON)
    parser.add_argument("--out", type=Path, default=Path("multifidelity.json"))
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.seed, args.walltime)
        return
    methods = list(dict.fromkeys(args.methods))
    if "smac3-mf" in methods and not args.smac3_python.exists():
        print(f"skipping smac3-mf: {args.smac3_python} not found", file=sys.stderr)
        methods.remove("smac3-mf")
    jobs: list[tuple[str, int]] = [(m, s) for s in range(args.seeds) for m in methods]
    work: Callable[[tuple[str, int]], dict[str, Any]] = lambda job: launch(*job, args)  # noqa: E731
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(work, jobs))
    summary = summarize(runs, args.target)
    result = {
        "task": f"MLP on digits, budget = epochs {MIN_BUDGET}..{MAX_BUDGET}, eta={ETA}",
        "settings": {
            k: ",".join(v) if k == "methods" else str(v)
            for k, v in vars(args).items()
            if k not in ("child", "seed")
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "summary": summary,
        "runs": runs,
    }
    args.out.write_text(json.dumps(result, indent=1, allow_nan=False))
    print(json.dumps(summary, indent=1, allow_nan=False))


if __name__ == "__main__":
    main()
