"""Hyperparameter importance against known answers: smacx's and Optuna's fANOVA side by side.

    python benchmarks/importance.py --sizes 100,500,2000 --seeds 5 --out importance.json \
        --plot importance.png

Each task is a function whose first-order Sobol indices (the share of the variance each input
explains alone) are known in closed form. For each size ``n`` and seed, ``n`` configurations
are drawn uniformly from the space, their costs computed, and both ``smacx.param_importances``
and Optuna's ``FanovaImportanceEvaluator`` (its default before Optuna 5) run on the same
results, each stored as the framework keeps them (a smacx RunHistory, an Optuna study); only
the importance call is timed. Both return shares scaled to sum to 1, so the truth is scaled
alike. A record holds each method's shares, its largest absolute error against the truth and
its wall time. Optuna has no ordinal distribution; the ordinal is given to it as a
categorical of its values, which weighs each alike as the truth does (as an integer range its
two ends would get half a bin each).

Tasks:

* ``ishigami``: ``sin x1 + 7 sin^2 x2 + 0.1 x3^4 sin x1`` on ``[-pi, pi]^3``, plus an input
  ``x4`` that does nothing. Indices 0.3139, 0.4424, 0 and 0 (x3 acts only with x1).
* ``mixed``: ``3 x + y + 1.5 [c = "b"] + 0.5 level`` with floats ``x, y``, a categorical ``c`` of
  three choices, an ordinal ``level`` of positions 0, 1, 2 and an integer ``n`` (log scale)
  that does nothing. Additive, so the indices are the terms' variances over their sum.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _args import nonnegative_int, positive_int, positive_ints
from ConfigSpace import (
    Categorical,
    Configuration,
    ConfigurationSpace,
    Float,
    Integer,
)
from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    IntegerHyperparameter,
    OrdinalHyperparameter,
)

from smacx import RunHistory, TrialInfo, TrialValue, param_importances

Task = tuple[ConfigurationSpace, Callable[[Configuration], float], dict[str, float]]


def ishigami() -> Task:
    space = ConfigurationSpace(seed=0)
    space.add([Float(f"x{i}", (-math.pi, math.pi)) for i in range(1, 5)])

    def f(c: Configuration) -> float:
        return math.sin(c["x1"]) * (1 + 0.1 * c["x3"] ** 4) + 7 * math.sin(c["x2"]) ** 2

    # a = 7, b = 0.1: V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2; V1 = (1 + b pi^4/5)^2 / 2
    a, b = 7.0, 0.1
    total = a * a / 8 + b * math.pi**4 / 5 + b * b * math.pi**8 / 18 + 0.5
    first = {"x1": (1 + b * math.pi**4 / 5) ** 2 / 2, "x2": a * a / 8, "x3": 0.0, "x4": 0.0}
    return space, f, {k: v / total for k, v in first.items()}


def mixed() -> Task:
    space = ConfigurationSpace(seed=0)
    space.add([Float("x", (0.0, 1.0)), Float("y", (0.0, 1.0))])
    space.add([Categorical("c", ["a", "b", "c"]), Integer("n", (1, 1000), log=True)])
    space.add(OrdinalHyperparameter("level", [0, 1, 2]))

    def f(c: Configuration) -> float:
        return 3 * c["x"] + c["y"] + 1.5 * (c["c"] == "b") + 0.5 * c["level"]

    # variances: 9/12, 1/12, 1.5^2 * 2/9 (Bernoulli(1/3)), 0.25 * 2/3 (uniform on 0, 1, 2)
    parts = {"x": 0.75, "y": 1 / 12, "c": 0.5, "level": 1 / 6, "n": 0.0}
    return space, f, parts


TASKS: dict[str, Callable[[], Task]] = {"ishigami": ishigami, "mixed": mixed}


def sample(task: str, n: int, seed: int) -> tuple[ConfigurationSpace, list[Any], list[float]]:
    space, f, _ = TASKS[task]()
    space.seed(seed)
    configs = list(space.sample_configuration(n))
    return space, configs, [float(f(c)) for c in configs]


def run_smacx(
    space: ConfigurationSpace, configs: list[Any], costs: list[float], seed: int
) -> tuple[dict[str, float], float]:
    history = RunHistory(space)
    for config, cost in zip(configs, costs, strict=True):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=cost))
    start = time.perf_counter()
    return param_importances(history, seed=seed), time.perf_counter() - start


def run_optuna(
    space: ConfigurationSpace, configs: list[Any], costs: list[float], seed: int
) -> tuple[dict[str, float], float]:
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, Any] = {}
    for hp in space.values():
        if isinstance(hp, CategoricalHyperparameter):
            distributions[hp.name] = CategoricalDistribution(list(hp.choices))
        elif isinstance(hp, OrdinalHyperparameter):  # (see the module's docstring)
            distributions[hp.name] = CategoricalDistribution(list(hp.sequence))
        elif isinstance(hp, IntegerHyperparameter):
            distributions[hp.name] = IntDistribution(hp.lower, hp.upper, log=hp.log)
        else:
            distributions[hp.name] = FloatDistribution(hp.lower, hp.upper, log=hp.log)
    study = optuna.create_study()
    for config, cost in zip(configs, costs, strict=True):
        params = dict(config)
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=cost)
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    start = time.perf_counter()
    shares = dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    return shares, time.perf_counter() - start


#: Each stores the results as the framework keeps them, then times its importance call only.
METHODS: dict[str, Callable[..., tuple[dict[str, float], float]]] = {
    "smacx": run_smacx,
    "optuna": run_optuna,
}


def measure(task: str, n: int, seed: int, method: str) -> dict[str, Any]:
    space, configs, costs = sample(task, n, seed)
    truth = TASKS[task]()[2]
    scale = sum(truth.values())
    shares, seconds = METHODS[method](space, configs, costs, seed)
    error = max(abs(shares.get(k, 0.0) - v / scale) for k, v in truth.items())
    return {
        "task": task,
        "n": n,
        "seed": seed,
        "method": method,
        "shares": shares,
        "max_error": error,
        "seconds": seconds,
    }


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median largest error and median seconds per task, size and method."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["n"], r["method"]), []).append(r)
    return [
        {
            "task": task,
            "n": n,
            "method": method,
            "runs": len(rs),
            "median_max_error": statistics.median(r["max_error"] for r in rs),
            "median_seconds": statistics.median(r["seconds"] for r in rs),
        }
        for (task, n, method), rs in sorted(groups.items())
    ]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for task in tasks:
        for method, style in (("smacx", "-o"), ("optuna", "--s")):
            mine = [r for r in rows if r["task"] == task and r["method"] == method]
            if not mine:
                continue
            sizes = [r["n"] for r in mine]
            axes[0].plot(
                sizes, [r["median_max_error"] for r in mine], style, label=f"{method} {task}"
            )
            axes[1].plot(
                sizes, [r["median_seconds"] for r in mine], style, label=f"{method} {task}"
            )
    axes[0].set_title("median largest error of the shares", fontsize=9)
    axes[1].set_title("median seconds", fontsize=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("configurations")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tasks", default=",".join(TASKS), help="comma-separated: " + ", ".join(TASKS)
    )
    parser.add_argument("--methods", default="smacx,optuna", help="smacx, optuna")
    parser.add_argument("--sizes", type=positive_ints, default=[100, 500, 2000])
    parser.add_argument("--seeds", type=positive_int, default=5)
    parser.add_argument("--first-seed", type=nonnegative_int, default=0)
    parser.add_argument("--out", type=Path, default=Path("importance.json"))
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the summary")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    methods = [m for m in args.methods.split(",") if m]
    for name, chosen, known in (("--tasks", tasks, TASKS), ("--methods", methods, METHODS)):
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            parser.error(f"{name}: expected some of {', '.join(known)}, got {unknown or chosen}")
    if "optuna" in methods:
        try:
            import optuna  # noqa: F401
        except ImportError:
            parser.error("--methods optuna needs Optuna: pip install -e '.[bench]'")
    records = []
    for task in tasks:
        for n in args.sizes:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                for method in methods:
                    record = measure(task, n, seed, method)
                    records.append(record)
                    print(
                        f"{task} n={n} seed={seed} {method}: largest error "
                        f"{record['max_error']:.3f}, {record['seconds']:.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    rows = summarize(records)
    args.out.write_text(json.dumps({"summary": rows, "runs": records}, indent=1))
    for row in rows:
        print(
            f"{row['task']:>9} n={row['n']:<5} {row['method']:>6}: largest error "
            f"{row['median_max_error']:.3f}, {row['median_seconds']:.3f} s "
            f"(median of {row['runs']})"
        )
    if args.plot is not None:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
