"""Algorithm configuration benchmark: one configuration for many problem instances.

Example::

    python benchmarks/instances.py --instances 200 --trials 300 --seeds 3 --out instances.json

The task stands for a solver tuned across instances: ``--instances`` instances, each with 4
features (SMAC3 2.4's facade fails with more: it reduces them to 4 by PCA for training but not
for prediction, its issue #1323), and a cost per (configuration, instance) whose best
configuration moves with the features, so no configuration is best everywhere; the cost to
minimize is the mean over all instances. Methods, each on the same instances and seeds:

* ``smacx``: smacx's default preset, racing on the instances, with the instance features;
* ``smacx-nofeatures``: the same without the features;
* ``smac3-ac``: SMAC3's ``AlgorithmConfigurationFacade`` with the features, run with
  ``--smac3-python`` (``/work/benchenv/bin/python`` when it exists; skipped otherwise);
* ``random``: smacx's random search, racing on the instances alike.

Each (method, seed) is a child process with one BLAS/OpenMP thread. The summary per method
gives the median over seeds of the incumbent's mean cost over all instances (measured by the
parent, so every method's incumbent is judged alike), of the optimizer's own time per trial
(wall time minus time in the target, divided by the trials), and of its peak memory. Everything
is written as JSON to ``--out``; ``--plot`` renders the two medians per method as a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from _args import add_methods_option, positive_int
from ConfigSpace import ConfigurationSpace, Float

REPO = Path(__file__).resolve().parent.parent
SMAC3_PYTHON = Path("/work/benchenv/bin/python")
METHODS = ("smacx", "smacx-nofeatures", "smac3-ac", "random")
_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
N_FEATURES = 4


# -- the task ----------------------------------------------------------------------------------


def make_space(seed: int) -> ConfigurationSpace:
    """Four continuous parameters on [0, 1]."""
    space = ConfigurationSpace(seed=seed)
    space.add([Float(f"p{i}", (0.0, 1.0)) for i in range(4)])
    return space


def features(n_instances: int) -> dict[str, list[float]]:
    """Each instance's features: 4 numbers, the same for every seed and method."""
    rng = np.random.default_rng(12345)
    return {
        f"inst{k:04d}": rng.normal(size=N_FEATURES).round(6).tolist() for k in range(n_instances)
    }


def cost(config: Mapping[str, Any], f: list[float]) -> float:
    """A solver's cost on one instance: its best setting moves with the first two features,
    the third shifts a ripple, and the last scales how much a setting far from it costs."""
    p = np.array([float(config[f"p{i}"]) for i in range(4)])
    best = np.array([0.5 + 0.15 * f[0], 0.4 - 0.1 * f[1], 0.3, 0.7 + 0.05 * f[0] * f[1]])
    scale = 1.0 + 0.3 * abs(f[3])
    return float(scale * np.sum((p - best) ** 2) + 0.1 * np.sin(5 * p[2] + f[2]) + 0.2 * f[3] ** 2)


def mean_cost(config: Mapping[str, Any], feats: Mapping[str, list[float]]) -> float:
    """The cost to minimize: the mean over every instance."""
    return statistics.fmean(cost(config, f) for f in feats.values())


class Target:
    """The objective, counting the seconds spent in it."""

    def __init__(self, feats: Mapping[str, list[float]]) -> None:
        self.feats = feats
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, config: Any, instance: str, seed: int = 0) -> float:
        t0 = time.perf_counter()
        value = cost(config, self.feats[instance])
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return value


# -- children ----------------------------------------------------------------------------------


def run_smacx(method: str, seed: int, n_trials: int, target: Target) -> dict[str, float]:
    sys.path.insert(0, str(REPO))
    from smacx import SMAC, Scenario

    feats = target.feats
    scenario = Scenario(
        make_space(seed),
        instances=list(feats),
        instance_features=None if method == "smacx-nofeatures" else dict(feats),
        deterministic=True,
        n_trials=n_trials,
        seed=seed,
        output_directory=None,
    )
    smac = SMAC(scenario, target, preset="random" if method == "random" else "hpo", progress=False)
    incumbent = smac.optimize()
    assert incumbent is not None
    return dict(incumbent)


def run_smac3(seed: int, n_trials: int, target: Target) -> dict[str, float]:
    import tempfile

    from smac import AlgorithmConfigurationFacade, Scenario  # type: ignore[import-not-found]

    feats = target.feats
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(
            make_space(seed),
            instances=list(feats),
            instance_features=dict(feats),
            deterministic=True,
            n_trials=n_trials,
            seed=seed,
            output_directory=Path(tmp) / "smac3",
        )

        def train(config: Any, instance: str, seed: int = 0) -> float:  # (SMAC3 reads __code__)
            return target(config, instance, seed)

        smac = AlgorithmConfigurationFacade(scenario, train, overwrite=True, logging_level=40)
        incumbent = smac.optimize()
    if isinstance(incumbent, list):
        incumbent = incumbent[0]
    return dict(incumbent)


def child(method: str, seed: int, n_trials: int, n_instances: int) -> None:
    target = Target(features(n_instances))
    t0 = time.perf_counter()
    if method == "smac3-ac":
        incumbent = run_smac3(seed, n_trials, target)
    else:
        incumbent = run_smacx(method, seed, n_trials, target)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (KiB on Linux)
    print(
        json.dumps(
            {
                "incumbent": {k: float(v) for k, v in incumbent.items()},
                "wall": wall,
                "target_seconds": target.seconds,
                "trials": target.calls,
                "rss_mb": peak,
            }
        )
    )


# -- parent ------------------------------------------------------------------------------------


def launch(method: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    python = args.smac3_python if method == "smac3-ac" else sys.executable
    env = {**os.environ, **dict.fromkeys(_THREADS, "1"), "PYTHONPATH": str(REPO)}
    cmd = [str(python), __file__, "--child", method, "--seed", str(seed)]
    cmd += ["--trials", str(args.trials), "--instances", str(args.instances)]
    record: dict[str, Any] = {"method": method, "seed": seed}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        record["error"] = out.stderr[-2000:]
        return record
    result = json.loads(lines[-1])
    own = max(result["wall"] - result["target_seconds"], 0.0)
    record.update(
        incumbent=result["incumbent"],
        mean_cost=mean_cost(result["incumbent"], features(args.instances)),
        trials=result["trials"],
        own_seconds_per_trial=own / max(result["trials"], 1),
        rss_mb=result["rss_mb"],
    )
    return record


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        ok = [r for r in runs if r["method"] == method and "error" not in r]
        table[method] = {
            "runs": len(ok),
            "failed": sum(r["method"] == method and "error" in r for r in runs),
            "median_mean_cost": statistics.median(r["mean_cost"] for r in ok) if ok else None,
            "median_own_ms_per_trial": (
                1000 * statistics.median(r["own_seconds_per_trial"] for r in ok) if ok else None
            ),
            "median_rss_mb": statistics.median(r["rss_mb"] for r in ok) if ok else None,
        }
    return table


def plot(table: Mapping[str, Mapping[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m, row in table.items() if row["runs"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, label in (
        (axes[0], "median_mean_cost", "median incumbent cost (mean over instances)"),
        (axes[1], "median_own_ms_per_trial", "median optimizer ms per trial"),
    ):
        ax.bar(methods, [table[m][key] for m in methods])
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    axes[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_methods_option(parser, METHODS)
    parser.add_argument("--instances", type=positive_int, default=200)
    parser.add_argument("--trials", type=positive_int, default=300)
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--smac3-python", type=Path, default=SMAC3_PYTHON)
    parser.add_argument("--out", type=Path, default=Path("instances.json"))
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the summary")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.seed, args.trials, args.instances)
        return
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error("--plot needs matplotlib: pip install -e '.[bench]' (or matplotlib)")
    methods = list(args.methods)
    if "smac3-ac" in methods and not args.smac3_python.exists():
        print(f"skipping smac3-ac: no {args.smac3_python}", file=sys.stderr)
        methods.remove("smac3-ac")
    runs = []
    for seed in range(args.seeds):
        for method in methods:
            record = launch(method, seed, args)
            runs.append(record)
            shown = record.get("error", "").splitlines()[-1:] or [
                f"mean cost {record['mean_cost']:.4f}, "
                f"{1000 * record['own_seconds_per_trial']:.1f} ms/trial"
            ]
            print(f"{method} seed={seed}: {shown[0]}", file=sys.stderr, flush=True)
    table = summarize(runs)
    settings = {"instances": args.instances, "trials": args.trials, "seeds": args.seeds}
    args.out.write_text(json.dumps({"settings": settings, "summary": table, "runs": runs}))
    if args.plot is not None:
        plot(table, args.plot)
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
