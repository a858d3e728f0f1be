"""Trials a simulated k-worker run needs to reach the cost a serial run reaches after N trials.

    python benchmarks/async_sim.py --tasks branin,hartmann6,levy5 --workers 8 --seeds 10 \
        --trial-seconds 0.2 --out async_sim.json

Measures how much the proposals lose by being made while k trials run, without dask and
without sleeping: smacx's ``ask``/``tell`` keep k trials pending, the oldest finishes first
(as with equal trial times), and every finished trial is replaced by a new ``ask``. For each
task and seed the script runs N serial trials, then the simulated k-worker run until it
reaches the serial run's best cost (capped at ``--max-factor`` times N trials). Its figure is
``trials / (k * N)``: the wall-time ratio of ``speedup.py`` if the workers were always busy
(at most 0.2 for the issue's target with 8 workers means at most 160 trials).

The proposer decides how often to refit from how fast results arrive; ``--trial-seconds``
tells it (``time.perf_counter`` is advanced by trial-seconds / k per result, on top of the
real time the optimizer spends). With ``--trial-seconds 0`` results arrive as fast as the
loop runs, which is the case of many fast workers. Apart from that clock the runs are
deterministic, so variants of the proposer compare without most of the timing noise.

``--loop events`` replays the order of ``SMAC.optimize`` instead: fill every free worker, then
tell every result that has arrived; while all workers are busy, call the selector's
``prepare`` and wait for the first trial to end. A trial ends ``--trial-seconds`` plus
``--latency`` (dask's round trip) plus up to ``--jitter`` seconds after its proposal was made;
the clock is the real one plus the time waited, so the optimizer's own time delays the trials
as on a cluster. With equal trial times the results then come in bursts, as they do there. The
record also holds ``reach_s``, the simulated seconds until the reaching result was told.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _args import add_speedup_options, nonnegative_float, positive_int
from tasks import TASKS


def _run(args: tuple[str, int, int, int, int, float, str, float, float]) -> dict[str, Any]:
    task_name, seed, workers, trials, cap, trial_seconds, loop, latency, jitter = args
    import time

    import numpy as np
    from tasks import get_task

    from smacx import SMAC, Scenario, TrialValue

    task = get_task(task_name)

    def smac(n_trials: int) -> SMAC:
        scenario = Scenario(
            task.make_space(),
            n_trials=n_trials,
            seed=seed,
            deterministic=True,
            output_directory=None,
        )
        return SMAC(scenario, progress=False)

    serial = smac(trials)
    serial_best = float("inf")
    for _ in range(trials):
        info = serial.ask()
        cost = task.objective(dict(info.config), seed)
        serial.tell(info, TrialValue(cost=cost))
        serial_best = min(serial_best, cost)
    parallel = smac(cap)
    real_clock, simulated = time.perf_counter, [0.0]
    time.perf_counter = lambda: real_clock() + simulated[0]  # this child process only
    clock = time.perf_counter
    best = float("inf")
    needed = None
    reach_s = None
    if loop == "staggered":
        pending = collections.deque(parallel.ask() for _ in range(workers))
        for told in range(1, cap + 1):
            info = pending.popleft()
            cost = task.objective(dict(info.config), seed)
            parallel.tell(info, TrialValue(cost=cost))
            simulated[0] += trial_seconds / workers
            best = min(best, cost)
            if best <= serial_best:
                needed = told
                break
            if told + len(pending) < cap:
                pending.append(parallel.ask())
    else:
        rng = np.random.default_rng(seed)
        start = clock()
        running: list[tuple[float, Any]] = []  # (end time, trial), soonest first
        submitted = told = 0
        while needed is None and told < cap:
            while len(running) < workers and submitted < cap:
                info = parallel.ask()
                submitted += 1
                running.append((clock() + trial_seconds + latency + rng.uniform(0, jitter), info))
            running.sort(key=lambda r: r[0])
            if running[0][0] > clock():
                parallel.selector.prepare(parallel.runhistory)  # as optimize() does
                simulated[0] += max(0.0, running[0][0] - clock())  # wait for the first end
            now = clock()
            arrived = [r for r in running if r[0] <= now]
            running = running[len(arrived) :]
            for _, info in arrived:
                cost = task.objective(dict(info.config), seed)
                parallel.tell(info, TrialValue(cost=cost))
                told += 1
                best = min(best, cost)
                if best <= serial_best and needed is None:
                    needed, reach_s = told, clock() - start
    time.perf_counter = real_clock
    return {
        "task": task_name,
        "seed": seed,
        "serial_best": serial_best,
        "parallel_best": best,
        "trials": needed,
        "ratio": (needed if needed is not None else cap) / (workers * trials),
        "reach_s": reach_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_speedup_options(parser, TASKS)
    parser.add_argument("--seeds", type=positive_int, default=10)
    parser.add_argument("--max-factor", type=positive_int, default=4)
    parser.add_argument(
        "--trial-seconds", type=nonnegative_float, default=0.2, help="simulated trial time"
    )
    parser.add_argument(
        "--loop",
        choices=["staggered", "events"],
        default="staggered",
        help="staggered: one result at a time, each followed by an ask; events: the order of "
        "SMAC.optimize with equal trial times (bursts of results)",
    )
    parser.add_argument(
        "--latency", type=nonnegative_float, default=0.015, help="events: round trip (s)"
    )
    parser.add_argument(
        "--jitter", type=nonnegative_float, default=0.004, help="events: most extra (s)"
    )
    parser.add_argument("--jobs", type=positive_int, default=2, help="runs at once")
    parser.add_argument("--out", default="async_sim.json")
    args = parser.parse_args()
    jobs = [
        (
            task,
            seed,
            args.workers,
            args.trials,
            args.max_factor * args.trials,
            args.trial_seconds,
            args.loop,
            args.latency,
            args.jitter,
        )
        for task in dict.fromkeys(args.tasks)
        for seed in range(args.seeds)
    ]
    with Pool(args.jobs) as pool:
        results = sorted(pool.map(_run, jobs), key=lambda r: (r["task"], r["seed"]))
    for r in results:
        got = f"{r['trials']} trials" if r["trials"] is not None else "not reached"
        print(
            f"{r['task']:>12} seed {r['seed']}: serial {r['serial_best']:.4g}, "
            f"{args.workers} workers {r['parallel_best']:.4g} ({got}); ratio {r['ratio']:.3f}"
        )
    ratios = [r["ratio"] for r in results]
    reached = sum(r["ratio"] <= 0.2 for r in results)
    print(f"median ratio {statistics.median(ratios):.3f}; at most 0.2 in {reached}/{len(results)}")
    settings = {**vars(args), "tasks": ",".join(args.tasks)}  # as given on the command line
    Path(args.out).write_text(json.dumps({"args": settings, "results": results}, indent=1))


if __name__ == "__main__":
    main()
