"""Summarizes benchmark results: tables, a JSON summary and convergence plots.

Example::

    python benchmarks/report.py results.jsonl --out-dir benchmarks/results/report

Reads one or more JSON-lines files written by ``run.py`` (later duplicates of the same
label/task/seed/n_trials replace earlier ones; by default the runs of mode ``benchmark``, or all
runs if the files hold none of that mode, e.g. those of ``overhead.py``) and prints, per task
and optimizer (label):

* the median over seeds of the regret (best cost minus the known optimum; the best cost itself
  where the optimum is unknown) after 25/50/100/200 trials (those within the run length),
* which optimizer wins (lowest median at the last checkpoint; ``*`` when its final values are
  better than the runner-up's by a one-sided Mann-Whitney U test at p < 0.05),
* the median optimizer overhead per trial (ms): wall-clock ``ovh ms`` = (wall - objective) /
  trials, and ``cpu ms`` = (child CPU time - objective time) / trials, which a busy machine
  disturbs less; the wall time and peak RSS.

It ends with the average rank of every optimizer over the tasks, writes ``summary.json`` and
renders one PNG per task (median and quartile band of the regret vs trials, log scale) plus
``all_tasks.png`` into ``--out-dir``. Medians equal up to floating-point rounding tie.

A label whose runs on a task have different lengths (``n_trials``) is reported as one label per
length, ``label@n``, so that no seed counts twice; ``--trials`` keeps one length only. A task is
compared at the length of its shortest runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _args import existing_file, positive_int  # noqa: E402

CHECKPOINTS: tuple[int, ...] = (25, 50, 100, 200)
REGRET_FLOOR = 1e-12


def load(paths: Iterable[Path], mode: str | None = "benchmark") -> list[dict[str, Any]]:
    """Successful records of all files, deduplicated (last one wins), optionally one mode only."""
    keyed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("status") != "ok" or (mode and rec.get("mode", "benchmark") != mode):
                continue
            if not rec.get("best_so_far"):  # no trial ran (older run.py recorded these as ok)
                continue
            key = (rec["label"], rec["task"], rec["seed"], rec["n_trials"])
            keyed[key] = rec
    return list(keyed.values())


def split_lengths(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Gives every run of a label that has runs of several lengths on one task the label
    ``label@n_trials`` (on every task, so that its columns line up); returns the records and a
    note per such label."""
    per_task: dict[tuple[str, str], set[int]] = {}
    for rec in records:
        per_task.setdefault((rec["label"], rec["task"]), set()).add(rec["n_trials"])
    mixed = sorted({label for (label, _), lengths in per_task.items() if len(lengths) > 1})
    notes = []
    for label in mixed:
        lengths = sorted({rec["n_trials"] for rec in records if rec["label"] == label})
        notes.append(
            f"{label} has runs of {', '.join(map(str, lengths))} trials: reported as "
            + ", ".join(f"{label}@{n}" for n in lengths)
        )
    out = [
        {**rec, "label": f"{rec['label']}@{rec['n_trials']}"} if rec["label"] in mixed else rec
        for rec in records
    ]
    return out, notes


def modes(paths: Iterable[Path]) -> list[str]:
    """The modes of the successful runs in the files."""
    return sorted({rec.get("mode", "benchmark") for rec in load(paths, None)})


def failures(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Records whose status is not ``ok``."""
    bad = []
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("status") != "ok":
                bad.append(rec)
    return bad


def curve(rec: dict[str, Any]) -> np.ndarray:
    """Regret after every trial (best cost where the optimum is unknown), floored at 1e-12."""
    best = np.asarray(rec["best_so_far"], dtype=float)
    optimum = rec.get("optimum")
    if optimum is None:
        return best
    return np.maximum(best - float(optimum), REGRET_FLOOR)


def _cpu_overhead_ms(rec: dict[str, Any]) -> float:
    """CPU time of the child outside the objective per trial (ms); robust to a busy machine."""
    n = max(1, int(rec.get("n_evals") or rec["n_trials"]))
    # Older records lack the objective's CPU time; its wall time is a stand-in there.
    objective = rec.get("objective_cpu_time_s", rec["objective_time_s"])
    value = 1000.0 * (float(rec["cpu_time_s"]) - float(objective)) / n
    return value if value >= 0 else math.nan


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _tied(a: float, b: float) -> bool:
    """Whether two medians are equal up to floating-point rounding."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def _by_median(meds: dict[str, float]) -> list[str]:
    """Labels by median, lowest first; labels whose medians tie keep their order in ``meds``."""
    groups: list[list[str]] = []
    for label in sorted(meds, key=lambda lb: meds[lb]):
        if groups and _tied(meds[groups[-1][0]], meds[label]):
            groups[-1].append(label)
        else:
            groups.append([label])
    position = {label: i for i, label in enumerate(meds)}
    return [label for group in groups for label in sorted(group, key=position.__getitem__)]


def _better_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """One-sided Mann-Whitney U p-value for 'a is smaller than b' (None if not computable)."""
    if len(a) < 2 or len(b) < 2:
        return None
    try:
        from scipy.stats import mannwhitneyu

        return float(mannwhitneyu(a, b, alternative="less").pvalue)
    except (ImportError, ValueError):
        return None


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Builds the summary: per task, per label checkpoints, winner, overhead, memory; ranks."""
    by_task: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rec in records:
        by_task.setdefault(rec["task"], {}).setdefault(rec["label"], []).append(rec)

    tasks_out: dict[str, Any] = {}
    ranks: dict[str, list[float]] = {}
    for task in sorted(by_task):
        labels = by_task[task]
        lengths = sorted({len(r["best_so_far"]) for recs in labels.values() for r in recs})
        length = lengths[0]
        checkpoints = [c for c in CHECKPOINTS if c <= length]
        if not checkpoints or checkpoints[-1] != length:
            checkpoints.append(length)
        optimum = next(iter(labels.values()))[0].get("optimum")
        entry: dict[str, Any] = {
            "metric": "regret" if optimum is not None else "best_cost",
            "optimum": optimum,
            "checkpoints": checkpoints,
            "optimizers": {},
        }
        if len(lengths) > 1:  # runs of several lengths, all compared at the shortest
            entry["run_lengths"] = lengths
        finals: dict[str, list[float]] = {}
        for label, recs in sorted(labels.items()):
            curves = [curve(r) for r in recs]
            finals[label] = [float(c[length - 1]) for c in curves]
            entry["optimizers"][label] = {
                "version": recs[0].get("version"),
                "seeds": sorted(r["seed"] for r in recs),
                "median": {
                    str(c): _median([float(cv[c - 1]) for cv in curves]) for c in checkpoints
                },
                "q25_final": float(np.percentile(finals[label], 25)),
                "q75_final": float(np.percentile(finals[label], 75)),
                "overhead_ms_per_trial": _median([r["overhead_per_trial_ms"] for r in recs]),
                "cpu_overhead_ms_per_trial": _median([_cpu_overhead_ms(r) for r in recs]),
                "wall_time_s": _median([r["wall_time_s"] for r in recs]),
                "objective_time_s": _median([r["objective_time_s"] for r in recs]),
                "peak_rss_mb": _median([r["peak_rss_mb"] for r in recs]),
                "git_commit": recs[0].get("git_commit"),
            }
        # Medians equal up to rounding (quantized costs) tie: in the order and in the ranks.
        meds = {lb: _median(v) for lb, v in finals.items()}
        order = _by_median(meds)
        winner = order[0]
        p = _better_p(finals[winner], finals[order[1]]) if len(order) > 1 else None
        entry["winner"] = winner
        entry["runner_up"] = order[1] if len(order) > 1 else None
        entry["winner_p_value"] = p
        entry["winner_significant"] = p is not None and p < 0.05
        # Ranks of the medians (ties share the average rank).
        for lb, med in meds.items():
            below = sum(1 for m in meds.values() if m < med and not _tied(m, med))
            equal = sum(1 for m in meds.values() if _tied(m, med))
            ranks.setdefault(lb, []).append(below + (equal + 1) / 2)
        tasks_out[task] = entry
    return {
        "tasks": tasks_out,
        "mean_rank": {lb: float(np.mean(r)) for lb, r in sorted(ranks.items())},
        "n_tasks_ranked": {lb: len(r) for lb, r in sorted(ranks.items())},
    }


def print_report(summary: dict[str, Any]) -> None:
    """Prints the per-task tables and the mean ranks."""
    for task, entry in summary["tasks"].items():
        cps = entry["checkpoints"]
        metric = entry["metric"]
        against = "" if entry["optimum"] is None else f" vs {entry['optimum']:.6g}"
        print(f"\n== {task}  ({metric}{against})")
        if "run_lengths" in entry:
            print(
                f"(runs of {', '.join(map(str, entry['run_lengths']))} trials, all compared at "
                f"{entry['run_lengths'][0]}; --trials N keeps one length)"
            )
        head = f"{'optimizer':<14}" + "".join(f"{'@' + str(c):>11}" for c in cps)
        head += f"{'ovh ms':>10}{'cpu ms':>9}{'wall s':>9}{'RSS MB':>8}{'seeds':>6}"
        print(head)
        for label, o in entry["optimizers"].items():
            mark = " <" if label == entry["winner"] else ""
            row = f"{label:<14}" + "".join(f"{o['median'][str(c)]:>11.3e}" for c in cps)
            row += (
                f"{o['overhead_ms_per_trial']:>10.1f}{o['cpu_overhead_ms_per_trial']:>9.1f}"
                f"{o['wall_time_s']:>9.1f}"
                f"{o['peak_rss_mb']:>8.0f}{len(o['seeds']):>6}{mark}"
            )
            print(row)
        p = entry["winner_p_value"]
        sig = "*" if entry["winner_significant"] else ""
        print(
            f"winner: {entry['winner']}{sig}"
            + (f" (vs {entry['runner_up']}: p={p:.3g})" if p is not None else "")
        )

    labels = list(summary["mean_rank"])
    print("\n== final median per task (winner marked *)")
    print(f"{'task':<16}" + "".join(f"{lb:>14}" for lb in labels))
    for task, entry in summary["tasks"].items():
        last = str(entry["checkpoints"][-1])
        cells = []
        for lb in labels:
            o = entry["optimizers"].get(lb)
            val = "-" if o is None else f"{o['median'][last]:.3e}"
            cells.append(f"{val + ('*' if lb == entry['winner'] else ''):>14}")
        print(f"{task:<16}" + "".join(cells))
    print(f"{'mean rank':<16}" + "".join(f"{summary['mean_rank'][lb]:>14.2f}" for lb in labels))
    wins = {lb: sum(1 for e in summary["tasks"].values() if e["winner"] == lb) for lb in labels}
    print(f"{'wins':<16}" + "".join(f"{wins[lb]:>14d}" for lb in labels))


def plot(records: list[dict[str, Any]], summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """Renders one convergence PNG per task and a grid of all tasks; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_task: dict[str, dict[str, list[np.ndarray]]] = {}
    for rec in records:
        by_task.setdefault(rec["task"], {}).setdefault(rec["label"], []).append(curve(rec))
    labels = sorted({rec["label"] for rec in records})
    colors = {lb: f"C{i}" for i, lb in enumerate(labels)}

    def draw(ax: Any, task: str) -> None:
        for label, curves in sorted(by_task[task].items()):
            n = min(len(c) for c in curves)
            arr = np.stack([c[:n] for c in curves])
            x = np.arange(1, n + 1)
            ax.plot(x, np.median(arr, axis=0), color=colors[label], label=label, lw=1.5)
            ax.fill_between(
                x,
                np.percentile(arr, 25, axis=0),
                np.percentile(arr, 75, axis=0),
                color=colors[label],
                alpha=0.2,
                lw=0,
            )
        ax.set_yscale("log")
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("trials")
        ax.set_ylabel(summary["tasks"][task]["metric"].replace("_", " "))
        ax.grid(True, which="major", alpha=0.3)

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for task in sorted(by_task):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        draw(ax, task)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    tasks = sorted(by_task)
    cols = 4
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        draw(ax, task)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colors[lb], lw=2) for lb in labels]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path = out_dir / "all_tasks.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", nargs="+", type=existing_file, help="JSON-lines files from run.py")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR / "results" / "report")
    p.add_argument(
        "--mode",
        help="only records of this mode ('' = all; default: benchmark, or all if the files "
        "hold no benchmark runs)",
    )
    p.add_argument("--tasks", help="comma-separated subset of tasks")
    p.add_argument("--labels", help="comma-separated subset of optimizers (labels)")
    p.add_argument("--trials", type=positive_int, help="only runs of this many trials")
    p.add_argument("--no-plots", action="store_true")
    args = p.parse_args(argv)

    mode = args.mode
    if mode is None:
        found = modes(args.results)
        mode = "benchmark" if "benchmark" in found or not found else ""
        if not mode:
            print(f"(no runs of mode benchmark: reporting those of mode {', '.join(found)})")
    records = load(args.results, mode or None)
    if args.tasks:
        keep = set(args.tasks.split(","))
        records = [r for r in records if r["task"] in keep]
    if args.labels:
        keep = set(args.labels.split(","))
        records = [r for r in records if r["label"] in keep]
    if args.trials:
        records = [r for r in records if r["n_trials"] == args.trials]
    if not records:
        found = modes(args.results)
        chosen = [f"mode {mode}"] if mode else []
        chosen += [
            f"{name} {value}"
            for name, value in (
                ("tasks", args.tasks),
                ("labels", args.labels),
                ("trials", args.trials),
            )
            if value
        ]
        print(
            "no successful runs found"
            + (f" of {', '.join(chosen)}" if chosen and found else "")
            + (f" (the files hold runs of mode {', '.join(found)})" if found else "")
            + (f"; pass --mode {found[0]} or --mode ''" if mode and mode not in found else ""),
            file=sys.stderr,
        )
        return 1
    records, notes = split_lengths(records)
    for note in notes:
        print(f"note: {note}")
    summary = summarize(records)
    bad = failures(args.results)
    summary["failed_runs"] = [
        {k: r.get(k) for k in ("label", "task", "seed", "n_trials", "status")} for r in bad
    ]
    print_report(summary)
    if bad:
        print(f"\n{len(bad)} failed runs (see summary.json)")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                f"\nwrote {args.out_dir / 'summary.json'}; no plots: matplotlib is not installed "
                '(pip install -e ".[bench]", or pass --no-plots)',
                file=sys.stderr,
            )
            return 1
        paths = plot(records, summary, args.out_dir)
        print(f"\nwrote {args.out_dir / 'summary.json'} and {len(paths)} plots to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
