"""Optimizer overhead per trial on a cheap target, at several run lengths.

Example::

    python benchmarks/overhead.py --optimizers smacx,smac3,optuna --trials 100,1000 \\
        --out overhead.jsonl

Every (optimizer, n_trials, seed) is one run of ``run.py``'s machinery (own subprocess, same
JSON record, ``mode="overhead"``), on a target that costs microseconds (Levy-10 by default), so
wall time is almost all optimizer. Runs go one at a time by default (``--jobs 1``) so that they
do not compete for cores. The table printed at the end gives, per run, the mean overhead per
trial over the whole run and over its last 10% of trials (the cost of one more trial once the
history is long), the CPU time outside the objective per trial (less disturbed by other load on
the machine), and the peak RSS.

SMAC3 at 1,000 trials takes tens of minutes (its per-trial cost grows with the history); pass
``--trials 100`` for a quick look. ``--summarize FILE`` only prints the table of an existing file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from _args import existing_file, nonnegative_int, positive_float, positive_int, positive_ints  # noqa: E402
from run import build_specs, parse_labels, parse_optimizers, run_many  # noqa: E402
from tasks import get_task  # noqa: E402


def window_overhead_ms(record: Mapping[str, Any], first: int, last: int) -> float | None:
    """Mean overhead per trial (ms) over trials ``first..last`` (1-based, inclusive).

    Uses the per-trial end times and objective durations recorded by the child; the time before
    trial ``first`` ends that is not objective time is attributed to that window.
    """
    ends = record.get("trial_end_s") or []
    obj = record.get("objective_s") or []
    if not ends or last > len(ends) or first < 1 or first > last:
        return None
    start = ends[first - 2] if first >= 2 else 0.0
    span = ends[last - 1] - start
    return 1000.0 * (float(span) - float(sum(obj[first - 1 : last]))) / (last - first + 1)


def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (label, task, n_trials): medians over seeds of the overhead figures."""
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        groups.setdefault((rec["label"], rec["task"], rec["n_trials"]), []).append(rec)
    rows = []
    for (label, task, n), recs in sorted(groups.items()):
        tail_first = max(1, n - n // 10 + 1)
        tails = [window_overhead_ms(r, tail_first, n) for r in recs]
        rows.append(
            {
                "label": label,
                "task": task,
                "n_trials": n,
                "seeds": len(recs),
                "version": recs[0].get("version"),
                "wall_s": statistics.median(r["wall_time_s"] for r in recs),
                "overhead_ms_per_trial": statistics.median(
                    r["overhead_per_trial_ms"] for r in recs
                ),
                "overhead_ms_last10pct": statistics.median(t for t in tails if t is not None)
                if any(t is not None for t in tails)
                else None,
                "cpu_overhead_ms_per_trial": statistics.median(
                    1000.0
                    * (r["cpu_time_s"] - r.get("objective_cpu_time_s", r["objective_time_s"]))
                    / max(1, r["n_evals"])
                    for r in recs
                ),
                "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in recs),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """Prints the rows of :func:`summarize` as a fixed-width table."""
    head = (
        f"{'optimizer':<12} {'version':<12} {'task':<10} {'trials':>6} {'wall s':>9} "
        f"{'ms/trial':>9} {'cpu ms':>8} {'last10% ms':>10} {'RSS MB':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        last = r["overhead_ms_last10pct"]
        print(
            f"{r['label']:<12} {str(r['version'])[:12]:<12} {r['task']:<10} {r['n_trials']:>6} "
            f"{r['wall_s']:>9.1f} {r['overhead_ms_per_trial']:>9.1f} "
            f"{r['cpu_overhead_ms_per_trial']:>8.1f} "
            f"{'-' if last is None else format(last, '.1f'):>10} {r['peak_rss_mb']:>7.0f}"
        )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file (unparseable lines are skipped)."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--optimizers", default="smacx,smac3,optuna")
    p.add_argument(
        "--trials", type=positive_ints, default="100,1000", help="comma-separated run lengths"
    )
    p.add_argument("--task", default="levy10")
    p.add_argument("--seeds", type=positive_int, default=1)
    p.add_argument("--out", type=Path, default=Path("overhead.jsonl"))
    p.add_argument("--jobs", type=positive_int, default=1)
    p.add_argument("--threads", type=nonnegative_int, default=1)
    p.add_argument("--timeout", type=positive_float, default=4 * 3600.0)
    p.add_argument("--resume", action="store_true", help="skip runs already ok in --out")
    p.add_argument("--label", action="append", default=[], metavar="OPT=NAME")
    p.add_argument("--summarize", type=existing_file, help="only print the table of this file")
    args = p.parse_args(argv)
    try:
        get_task(args.task)
    except KeyError as exc:
        p.error(f"argument --task: {exc.args[0]}")

    if args.summarize:
        print_table(summarize(read_jsonl(args.summarize)))
        return 0

    optimizers = parse_optimizers(args.optimizers)
    labels = parse_labels(args.label)
    specs = []
    for n in sorted(set(args.trials)):
        specs += build_specs(
            optimizers, [args.task], list(range(args.seeds)), n, labels, mode="overhead"
        )
    results = run_many(
        specs,
        args.out,
        jobs=args.jobs,
        timeout=args.timeout,
        threads=args.threads,
        resume=args.resume,
    )
    print()
    print_table(summarize(r for r in read_jsonl(args.out) if r.get("mode") == "overhead"))
    bad = [r for r in results if r.get("status") != "ok"]
    if bad:
        print(f"{len(bad)} failed runs (see {args.out})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
