from __future__ import annotations

import dataclasses
import math
import random
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace

from smacx import (
    SMAC,
    RunHistory,
    Scenario,
    ScenarioError,
    StatusType,
    TrialError,
    TrialInfo,
    TrialKey,
    TrialValue,
)
from smacx.errors import SearchSpaceExhaustedError
from smacx.multifidelity import (
    Halving,
    Hyperband,
    SuccessiveHalving,
    hyperband_brackets,
    key_brackets,
)
from smacx.selector import ConfigSelector
from smacx.storage import open_storage

#: (min_budget, max_budget, eta) -> budget of each bracket, s_max first (worked out by hand).
TABLE: dict[tuple[float, float, float], list[float]] = {
    (1, 27, 3): [108, 99, 108, 108],
    (1, 81, 3): [405, 363, 351, 378, 405],
    (2, 100, 2): [600, 575, 550, 600, 600, 600],
    (0.1, 1.0, 3): [3, 5 / 3 + 1, 3],
}


def build(
    space: ConfigurationSpace,
    rh: RunHistory,
    settings: SuccessiveHalving | Hyperband,
    *,
    seed: int = 0,
    **scenario: Any,
) -> Halving:
    scenario.setdefault("min_budget", 1)
    scenario.setdefault("max_budget", 27)
    s = Scenario(space, output_directory=None, seed=seed, **scenario)
    return settings.build(s, ConfigSelector(space, [], seed=seed), rh)


def cost_of(info: TrialInfo) -> float:
    """Lower x is better; more budget lowers the cost a little."""
    assert info.budget is not None
    return float(info.config["x"]) + 1.0 / info.budget


def run(
    rh: RunHistory, info: TrialInfo, cost: float | list[float] | None = None, **kw: Any
) -> None:
    rh.add_running(info)  # raises TrialError if the trial ran before
    rh.add(info, TrialValue(cost=cost_of(info) if cost is None else cost, **kw))


def bracket_budget(rh: RunHistory, number: int, label: str = "hyperband") -> float:
    """Sum of the budgets of the finished trials of one bracket (from the stored origins)."""
    return math.fsum(
        info.budget or 0.0
        for info, _ in rh.finished()
        if rh.get_origin(info.config) == f"{label} bracket {number}"
    )


# -- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("budgets", list(TABLE))
def test_bracket_totals_match_the_table(budgets: tuple[float, float, float]) -> None:
    brackets = hyperband_brackets(*budgets)
    assert [b.total_budget() for b in brackets] == pytest.approx(TABLE[budgets], rel=1e-12)
    assert Hyperband.total_budget(*budgets) == pytest.approx(sum(TABLE[budgets]), rel=1e-12)
    assert SuccessiveHalving.total_budget(*budgets) == brackets[0].total_budget()
    assert SuccessiveHalving.total_budget(*budgets, bracket=0) == brackets[-1].total_budget()
    assert all(b.budgets[-1] == budgets[1] for b in brackets)
    assert min(b.budgets[0] for b in brackets) >= budgets[0]


def test_schedule_of_the_textbook_case() -> None:
    brackets = hyperband_brackets(1, 81, 3)
    assert [b.s for b in brackets] == [4, 3, 2, 1, 0]
    assert [b.n_configs for b in brackets] == [
        (81, 27, 9, 3, 1),
        (34, 11, 3, 1),
        (15, 5, 1),
        (8, 2),
        (5,),
    ]
    assert brackets[1].budgets == (3.0, 9.0, 27.0, 81.0)


def test_float_ratio_is_guarded() -> None:
    # 0.9 / 0.1 is 8.999...: still two halvings, and no budget below min_budget
    brackets = hyperband_brackets(0.1, 0.9, 3)
    assert brackets[0].s == 2 and brackets[0].budgets[0] == 0.1
    assert hyperband_brackets(5, 5, 3)[0].n_configs == (1,)


def test_powers_of_eta_beyond_a_floats_range_are_counted_exactly() -> None:
    """Budgets from 1e-300 to 1 with eta=1e10 raised OverflowError from inside (an audit's
    finding): the first bracket starts 10**300 configurations, an exact count."""
    brackets = hyperband_brackets(1e-300, 1.0, 1e10)
    assert brackets[0].s == 30 and brackets[0].n_configs[:2] == (10**300, 10**290)
    assert brackets[0].budgets[0] == 1e-300 and brackets[0].budgets[-1] == 1.0
    assert hyperband_brackets(1e-30, 1.0, 1e30)[0].n_configs == (int(1e30), 1)  # (the float)
    # budgets beyond a float's powers too (a review's finding)
    wide = hyperband_brackets(1e-300, 1e300, 1e30)[0]
    assert wide.budgets[0] == 1e-300 and wide.budgets[-1] == 1e300 and len(wide.budgets) == 21


@pytest.mark.parametrize(
    ("low", "high", "eta", "least"), [(1, 100, 1.001, "1.05"), (1e-300, 1e300, 3, "1.01e\\+06")]
)
def test_budgets_that_make_too_many_brackets_are_refused_early(
    low: float, high: float, eta: float, least: str
) -> None:
    """eta=1.001 on [1, 100] computed exact fractions for minutes, and a ratio of 1e600
    overflowed inside (a fuzzing audit's findings)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, output_directory=None, min_budget=low, max_budget=high)
    with pytest.raises(ScenarioError, match=rf"more than 100 brackets.* eta of at least {least}"):
        SMAC(sc, lambda config, budget: 0.0, intensifier=Hyperband(eta=eta))
    # the least eta it names is rounded up, so that it is taken (a review's finding)
    for high in (1000, 2**100):
        with pytest.raises(ScenarioError, match="at least") as refused:
            hyperband_brackets(1, high, 1.0001)
        least = float(str(refused.value).split("at least ")[1].split(" ")[0])
        assert len(hyperband_brackets(1, high, least)) <= 101


def test_numpy_numbers_are_an_eta_too() -> None:
    assert repr(Hyperband(eta=np.int64(3))) == repr(Hyperband(eta=3))
    assert SuccessiveHalving(eta=np.float32(2.5)).eta == 2.5


def test_stage_sizes_follow_li_et_al_for_an_eta_that_is_no_integer() -> None:
    # eta = 1.5 = 3/2 on [1, 100]: s_max = 11 (1.5**11 = 86.5 <= 100 < 1.5**12 = 129.7) and
    # bracket 11 starts n = ceil(1.5**11) = 87; stage i holds floor(87 / 1.5**i) =
    # floor(87 * 2**i / 3**i): 87, 58, 38.67, 25.78, 17.19, 11.46, 7.64, 5.09, 3.40, 2.26,
    # 1.51, 1.01. Flooring stage by stage gave (..., 16, 10, 6, 4, 2, 1, 1, 1).
    brackets = hyperband_brackets(1, 100, 1.5)
    assert brackets[0].s == 11
    assert brackets[0].n_configs == (87, 58, 38, 25, 17, 11, 7, 5, 3, 2, 1, 1)
    # bracket 5: n = ceil(12 / 6 * 1.5**5) = ceil(15.1875) = 16; 16 * (2/3)**i
    assert brackets[6].s == 5 and brackets[6].n_configs == (16, 10, 7, 4, 3, 2)
    # successive halving runs the same stages
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, output_directory=None, min_budget=1, max_budget=100)
    for bracket in (None, 5):
        settings = SuccessiveHalving(eta=1.5, bracket=bracket)
        (schedule,) = settings._schedules(scenario)
        assert schedule == brackets[0 if bracket is None else 6]


@pytest.mark.parametrize("budgets", [(1, 81, 3), (1, 1000, 10), (2, 100, 2), (1, 50, 4)])
def test_integer_eta_stage_sizes_equal_flooring_stage_by_stage(
    budgets: tuple[float, float, int],
) -> None:
    # floor(floor(n / eta) / eta) == floor(n / eta**2) for an integer eta
    eta = budgets[2]
    for bracket in hyperband_brackets(*budgets):
        sizes = [bracket.n_configs[0]]
        for _ in range(bracket.s):
            sizes.append(max(1, sizes[-1] // eta))
        assert bracket.n_configs == tuple(sizes)


# -- exact budget accounting -------------------------------------------------------------------


@pytest.mark.parametrize("budgets", list(TABLE))
def test_one_serial_iteration_spends_exactly_the_total(
    space: ConfigurationSpace, budgets: tuple[float, float, float]
) -> None:
    lo, hi, eta = budgets
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(eta=eta), min_budget=lo, max_budget=hi)
    n_trials = sum(sum(b.n_configs) for b in hb.brackets)
    handed = []
    for _ in range(n_trials):
        info = hb.ask()
        handed.append(info.budget or 0.0)
        run(rh, info)
    assert hb.open_brackets == {}
    assert math.fsum(handed) == Hyperband.total_budget(lo, hi, eta) == hb.iteration_budget
    for number, schedule in enumerate(hb.brackets):
        assert bracket_budget(rh, number) == schedule.total_budget()
    assert hb.bracket_of(hb.ask().config) == len(hb.brackets)  # the next iteration starts


def test_parallel_workers_never_block_and_spend_exactly_the_total(
    space: ConfigurationSpace,
) -> None:
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(eta=3), min_budget=1, max_budget=27)
    rng = random.Random(0)
    running: list[TrialInfo] = []
    most_open = 0
    n_brackets = 6  # one iteration and a half
    while not set(range(n_brackets)) <= set(hb.completed_brackets):
        while len(running) < 5:
            info = hb.ask()
            rh.add_running(info)
            running.append(info)
            most_open = max(most_open, len(hb.open_brackets))
        info = running.pop(rng.randrange(len(running)))
        rh.add(info, TrialValue(cost=cost_of(info)))
    assert most_open >= 2  # stages waiting for results made it open further brackets
    for number in range(n_brackets):
        schedule = hb.brackets[number % len(hb.brackets)]
        assert bracket_budget(rh, number) == schedule.total_budget()


def test_two_workers_sharing_a_history_split_the_brackets(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    workers = [
        Hyperband(eta=3).build(
            Scenario(space, output_directory=None, min_budget=1, max_budget=9),
            ConfigSelector(space, [], seed=seed),
            rh,
        )
        for seed in (1, 2)
    ]
    rng = random.Random(1)
    running: list[TrialInfo] = []
    while not {0, 1, 2, 3} <= set(workers[0].completed_brackets):
        worker = workers[rng.randrange(2)]
        info = worker.ask()
        rh.add_running(info)  # raises if the other worker ran it already
        running.append(info)
        if len(running) >= 3:
            done = running.pop(rng.randrange(len(running)))
            rh.add(done, TrialValue(cost=cost_of(done)))
    assert workers[1].completed_brackets[:4] == [0, 1, 2, 3]
    for number in range(4):
        schedule = workers[0].brackets[number % 3]
        assert bracket_budget(rh, number) == schedule.total_budget()


def test_workers_with_their_own_views_of_a_shared_run_agree_on_every_bracket(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Processes on one database each see it as of their last read: a process that stored a
    configuration counted it into its bracket before it had read another's, so a stage could
    get one more configuration than planned in each process's view (10 at budget 1, then 4 and
    2), and a process that read the run later raced neither (a shared-run audit's finding).
    Members are the first configurations of a bracket by id, read before joining."""
    from smacx.storage.sqlite import SQLiteStorage

    path = tmp_path / "run.db"
    views = [RunHistory(space, storage=SQLiteStorage(path)) for _ in range(3)]
    sc = Scenario(space, output_directory=None, min_budget=1, max_budget=9)
    workers = [
        Hyperband(eta=3).build(sc, ConfigSelector(space, [], seed=seed), rh)
        for seed, rh in zip((1, 2, 3), views)
    ]
    rng = random.Random(3)
    running: list[tuple[RunHistory, TrialInfo]] = []
    for _ in range(400):
        k = rng.randrange(3)
        info = workers[k].ask()
        try:
            views[k].add_running(info)
        except TrialError:  # (another process claimed it since this one's last read)
            continue
        running.append((views[k], info))
        while len(running) >= 4 or (running and rng.random() < 0.3):
            rh, done = running.pop(rng.randrange(len(running)))
            rh.add(done, TrialValue(cost=cost_of(done)))
    reader = RunHistory(space, storage=SQLiteStorage(path))
    fresh = Hyperband(eta=3).build(sc, ConfigSelector(space, [], seed=9), reader)
    assert len(fresh.completed_brackets) >= 8
    for number in fresh.completed_brackets:
        schedule = fresh.brackets[number % 3]
        assert bracket_budget(reader, number) == schedule.total_budget(), number
    for worker, view in zip(workers, views):  # every view's brackets are the fresh reader's
        view.sync()
        assert worker.open_brackets is not None  # (reads what the view holds now)
        for config_id in reader.config_ids():
            config = reader.get_config(config_id)
            if reader.has_trials(config):
                assert worker.bracket_of(config) == fresh.bracket_of(config), config_id


# -- promotion, instances, crashes -------------------------------------------------------------


def test_stages_keep_the_best_third(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3))
    for _ in range(27 + 9 + 3 + 1):
        run(rh, sh.ask())
    by_budget: dict[float, list[float]] = {}
    for info, _ in rh.finished():
        assert info.budget is not None
        by_budget.setdefault(info.budget, []).append(float(info.config["x"]))
    assert [len(by_budget[b]) for b in (1.0, 3.0, 9.0, 27.0)] == [27, 9, 3, 1]
    for low, high in [(1.0, 3.0), (3.0, 9.0), (9.0, 27.0)]:
        assert sorted(by_budget[high]) == sorted(by_budget[low])[: len(by_budget[high])]
    assert sh.incumbents()[0]["x"] == min(by_budget[1.0])
    assert sh.open_brackets == {}


def test_instances_are_all_run_and_compared_by_mean(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(
        space,
        rh,
        SuccessiveHalving(eta=3, n_seeds=2),
        instances=["a", "b"],
        min_budget=1,
        max_budget=3,
    )
    assert len(sh.keys) == 4 and Counter(i for i, _ in sh.keys) == {"a": 2, "b": 2}
    offset = {"a": 0.0, "b": 100.0}
    n = sum(sh.brackets[0].n_configs) * 4
    spent = []
    for _ in range(n):
        info = sh.ask()
        assert info.instance is not None
        spent.append(info.budget or 0.0)
        run(rh, info, cost_of(info) + offset[info.instance])
    assert sh.open_brackets == {}
    assert math.fsum(spent) == SuccessiveHalving.total_budget(1, 3, 3, n_keys=4)
    best = sh.incumbents()[0]
    keys = sh.incumbent_keys()
    assert len(keys) == 4 and {k.budget for k in keys} == {3.0}
    assert rh.get_costs(best, keys)[0] == pytest.approx(float(best["x"]) + 1 / 3 + 50.0)


def test_deterministic_instances_use_one_seed(space: ConfigurationSpace) -> None:
    hb = build(
        space, RunHistory(space), Hyperband(n_seeds=3), instances=list("abc"), deterministic=True
    )
    assert sorted(str(i) for i, _ in hb.keys) == ["a", "b", "c"]
    assert len({s for _, s in hb.keys}) == 1


@pytest.mark.parametrize("deterministic", [True, False])
def test_a_told_result_on_another_seed_counts_when_deterministic(
    space: ConfigurationSpace, deterministic: bool
) -> None:
    """A deterministic target gives the same result with any seed (a warm start, say), as
    racing counts it; a noisy one is compared on the intensifier's own seeds only."""
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(eta=3), deterministic=deterministic)
    (_, seed), config = hb.keys[0], space.sample_configuration()
    run(rh, TrialInfo(config, seed=seed + 1, budget=27.0), 0.5)
    assert hb.incumbents() == ([config] if deterministic else [])
    if deterministic:  # the trial the cost comes from, as told
        assert hb.incumbent_keys() == [TrialKey(rh.get_config_id(config), None, seed + 1, 27.0)]


def test_crashes_count_with_crash_cost_and_are_never_incumbent(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3), max_budget=9)
    first = [sh.ask() for _ in range(9)]
    for i, info in enumerate(first):  # the three best x crash: they must not be promoted
        crashed = i < 3
        run(
            rh,
            info,
            math.inf if crashed else None,
            status=StatusType.CRASHED if crashed else StatusType.SUCCESS,
        )
    promoted = [sh.ask() for _ in range(3)]
    assert {p.budget for p in promoted} == {3.0}
    assert not {p.config for p in promoted} & {f.config for f in first[:3]}
    assert all(c not in [f.config for f in first[:3]] for c in sh.incumbents())


def test_incumbent_is_judged_at_the_highest_budget(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3), max_budget=3)  # stages 3 x budget 1, 1 x 3
    low = [sh.ask() for _ in range(3)]
    for info, cost in zip(low, [5.0, 4.0, 4.0]):
        run(rh, info, cost)
    ids = [rh.get_config_id(i.config) for i in low]
    assert sh.incumbents()[0] == low[1].config  # tie at 4.0: the lower config id
    assert ids[1] is not None and ids[2] is not None and ids[1] < ids[2]
    top = sh.ask()
    assert top.budget == 3.0 and top.config == low[1].config
    run(rh, top, 10.0)  # worse than anything at budget 1, but the only result at budget 3
    assert sh.incumbents() == [low[1].config]
    assert sh.incumbent_keys()[0].budget == 3.0


@pytest.mark.parametrize(("threshold", "n_run"), [(0.1, 69), (0.49, None)])
def test_the_cost_threshold_counts_only_at_max_budget(threshold: float, n_run: Any) -> None:
    """Costs at budget b are (x - 0.3)^2 + 0.5 - 0.5 / b: 0 is within reach at budget 1, but
    at 27 no cost is below 0.48. A low budget's cost stopped the run after one trial (as
    SMAC3 does); the threshold is the cost at max_budget, as configurations are compared."""
    budgets: list[float] = []

    def f(config: Any, seed: int, budget: float) -> float:
        budgets.append(budget)
        return float((config["x"] - 0.3) ** 2 + 0.5 - 0.5 / budget)

    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(cs, n_trials=69, min_budget=1, max_budget=27, deterministic=True,
                  termination_cost_threshold=threshold, output_directory=None)  # fmt: skip
    SMAC(sc, f, preset="hyperband", progress=False).optimize()
    if n_run is not None:
        assert len(budgets) == n_run  # never met
    else:  # met by the first result at 27 within reach, and stopped there
        assert budgets.count(27.0) >= 1 and len(budgets) < 69


def test_pareto_front_with_two_objectives(space: ConfigurationSpace) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    sh = build(space, rh, SuccessiveHalving(bracket=0), max_budget=9, objectives=["a", "b"])
    assert sh.brackets[0].n_configs == (3,) and sh.budgets == (9.0,)
    infos = []
    for cost in [[0.0, 5.0], [5.0, 0.0], [6.0, 6.0], [1.0, 1.0], [7.0, 1.0], [1.0, 7.0]]:
        info = sh.ask()
        run(rh, info, cost)
        infos.append(info.config)
    front = sh.incumbents()
    assert set(front) == {infos[0], infos[1], infos[3]}
    assert front[0] == infos[3]  # lowest normalized mean first


# -- resume ------------------------------------------------------------------------------------


def test_resume_in_the_middle_of_a_bracket(space: ConfigurationSpace, tmp_path: Any) -> None:
    path = tmp_path / "rh.db"
    settings = SuccessiveHalving(eta=3)

    def fresh() -> tuple[RunHistory, Halving]:
        rh = RunHistory(space, storage=open_storage(path))
        return rh, build(space, rh, settings, seed=1)

    rh, sh = fresh()
    for _ in range(10):
        run(rh, sh.ask())
    running = [sh.ask() for _ in range(2)]
    for info in running:
        rh.add_running(info)
    lost = sh.ask()  # its configuration is stored, but the process dies before it runs
    rh.storage.close()

    rh, sh = fresh()  # resume: 10 finished, 2 running, 1 stored without trials
    assert sh.open_brackets == {0: 0}
    assert sh.ask() == lost
    run(rh, lost)
    for info in running:  # the stale trials are taken over and finished
        rh.add(info, TrialValue(cost=cost_of(info)))
    for _ in range(27 - 13 + 4):  # the rest of the first stage, 4 of the second
        run(rh, sh.ask())
    rh.storage.close()

    rh, sh = fresh()  # resume again, in the second stage
    assert sh.open_brackets == {0: 1}
    while 0 in sh.open_brackets:
        run(rh, sh.ask())
    assert bracket_budget(rh, 0, "successive halving") == settings.total_budget(1, 27, 3)
    budgets = Counter(info.budget for info, _ in rh.finished())
    assert budgets == {1.0: 27, 3.0: 9, 9.0: 3, 27.0: 1}
    assert rh.n_configs == 27
    rh.storage.close()


# -- racing on instances (no budgets) ---------------------------------------------------------


def by_instance(info: TrialInfo) -> float:
    """Lower x is better on every instance; instance ``iK`` adds ``K / 10``."""
    assert info.budget is None and info.instance is not None
    return float(info.config["x"]) + int(info.instance[1:]) / 10


NINE = [f"i{k}" for k in range(9)]


@pytest.mark.parametrize(
    ("n_keys", "eta", "first"),
    [(9, 3, (1, 3, 9)), (10, 3, (1, 3, 10)), (2, 1.5, (1, 2)), (4, 1.3, (1, 1, 1, 2, 3, 4))],
)
def test_key_brackets_count_whole_keys(n_keys: int, eta: float, first: tuple[int, ...]) -> None:
    """Hyperband's budgets from 1 to n_keys, rounded down: 4 / 1.3**5 = 1.08 and 4 / 1.3**4
    = 1.40 are one key, as 1.82 is."""
    brackets = key_brackets(n_keys, eta)
    assert brackets[0].budgets == first
    plain = hyperband_brackets(1, n_keys, eta)
    assert [b.n_configs for b in brackets] == [b.n_configs for b in plain]
    assert all(b.budgets[-1] == n_keys for b in brackets)


def test_instances_without_budgets_are_raced_on_growing_prefixes(
    space: ConfigurationSpace,
) -> None:
    """As SMAC3's successive halving does with instances: stage i runs a configuration on the
    first 1, 3, 9 keys, keeps what it ran before, and compares by the mean over the stage's."""
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3), instances=NINE, deterministic=True,
               min_budget=None, max_budget=None)  # fmt: skip
    assert sh.races_keys and sh.budgets == (1.0, 3.0, 9.0)
    assert sh.iteration_budget == 9 * 1 + 3 * (3 - 1) + 1 * (9 - 3)
    infos = []
    for _ in range(int(sh.iteration_budget)):
        info = sh.ask()
        infos.append(info)
        run(rh, info, by_instance(info))
    assert sh.open_brackets == {}
    ran: dict[Configuration, list[tuple[str | None, int]]] = {}
    for info in infos:
        ran.setdefault(info.config, []).append((info.instance, info.seed))
    order = {key: i for i, key in enumerate(sh.keys)}
    for keys in ran.values():  # each ran on a prefix of the keys, in order, once
        assert [order[k] for k in keys] == list(range(len(keys)))
    width = {c: len(k) for c, k in ran.items()}
    assert sorted(Counter(width.values()).items()) == [(1, 6), (3, 2), (9, 1)]
    xs = {w: sorted(float(c["x"]) for c in ran if width[c] >= w) for w in (1, 3, 9)}
    assert xs[3] == xs[1][:3] and xs[9] == xs[3][:1]  # by mean cost, i.e. by x
    best = sh.incumbents()[0]
    assert width[best] == 9 and float(best["x"]) == xs[9][0]
    keys = sh.incumbent_keys()
    assert len(keys) == 9 and {k.budget for k in keys} == {None}
    assert sh.incumbent_costs()[0] == pytest.approx(float(best["x"]) + 0.4)
    assert sh.ask().budget is None  # and the next bracket starts


def test_the_incumbent_is_judged_on_the_most_keys_any_has_run_on(
    space: ConfigurationSpace,
) -> None:
    """Three keys at a mean of 70 beat one key at 11, as a higher budget's cost beats a lower
    one's."""
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3), instances=NINE, deterministic=True,
               min_budget=None, max_budget=None)  # fmt: skip
    first = [sh.ask() for _ in range(9)]
    for i, info in enumerate(first):
        run(rh, info, 10.0 + i)
    assert sh.incumbents()[0] == first[0].config and len(sh.incumbent_keys()) == 1
    second = [sh.ask() for _ in range(6)]  # keys 2 and 3 of the best three
    assert second[2].config == first[1].config
    run(rh, second[2], 1.0)  # the second best's mean is 6 over two keys: not complete
    assert sh.incumbents()[0] == first[0].config
    assert {i.config for i in second} == {f.config for f in first[:3]}
    best = [i for i in second if i.config == first[0].config]
    for info in best:
        run(rh, info, 100.0)
    assert sh.incumbents() == [first[0].config] and len(sh.incumbent_keys()) == 3
    assert sh.incumbent_costs() == [pytest.approx((10.0 + 200.0) / 3)]


def test_min_keys_sets_the_first_stage_of_a_race_on_instances(space: ConfigurationSpace) -> None:
    """SMAC3's min_budget with instances: 27 instances, eta 3 and three of them at first give
    stages on 3, 9 and 27 (1, 3, 9, 27 by default)."""
    race = {"instances": [f"i{k}" for k in range(27)], "deterministic": True,
            "min_budget": None, "max_budget": None}  # fmt: skip
    hb = build(space, RunHistory(space), Hyperband(min_keys=3), **race)
    assert hb.brackets[0].budgets == (3.0, 9.0, 27.0) and len(hb.brackets) == 3
    first = hb.ask()
    assert first.budget is None
    assert build(space, RunHistory(space), Hyperband(), **race).brackets[0].budgets == (
        1.0, 3.0, 9.0, 27.0,
    )  # fmt: skip
    with pytest.raises(ScenarioError, match=r"min_keys must be at most the 27 instance-seed"):
        build(space, RunHistory(space), Hyperband(min_keys=28), **race)
    with pytest.raises(ScenarioError, match=r"min_keys is for a race on instances.*min_budget"):
        build(space, RunHistory(space), Hyperband(min_keys=3))
    with pytest.raises(ScenarioError, match=r"Hyperband\.min_keys must be an int >= 1"):
        Hyperband(min_keys=0)
    for wrong in (0, 28, 2.5):
        with pytest.raises(ScenarioError, match=r"min_keys must be an int from 1 to n_keys = 27"):
            key_brackets(27, 3, wrong)  # type: ignore[arg-type]
    # a lower bound, as SMAC3's min_budget is: 2 of 27 gives stages on 3, 9 and 27
    assert key_brackets(27, 3, 2)[0].budgets == (3.0, 9.0, 27.0)
    # keyword only: the positional fields of SuccessiveHalving stay where they were
    assert SuccessiveHalving(3, 1, "shuffled", 10, None, 2).bracket == 2  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"'min_budget': budgets are Scenario\(min_budget=.*min_k"):
        Hyperband(min_budget=3)  # type: ignore[call-arg]
    # all pairs at once leave no stage to halve: the advice is min_keys, not the budgets
    with pytest.warns(UserWarning, match=r"27 instance-seed pairs .* min_keys of at most 9"):
        SMAC(Scenario(space, output_directory=None, **race),
             lambda config, seed, instance: 1.0, intensifier=Hyperband(min_keys=27))  # fmt: skip
    # advice that can be followed: a whole number of pairs (5 / 3 is 1.67, so 1)
    five = {**race, "instances": [f"i{k}" for k in range(5)]}
    with pytest.warns(UserWarning, match=r"5 instance-seed pairs .* min_keys of at most 1\.$"):
        SMAC(Scenario(space, output_directory=None, **five),
             lambda config, seed, instance: 1.0, intensifier=Hyperband(min_keys=5))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # min_keys=1 leaves room: 1, 3 of the 5
        SMAC(Scenario(space, output_directory=None, **five),
             lambda config, seed, instance: 1.0, intensifier=Hyperband(min_keys=1))  # fmt: skip


def test_settings_stored_before_min_keys_existed_still_match() -> None:
    """A run records its settings' repr and is continued only with equal settings: the field
    added later is shown only when set, so the runs stored before match."""
    from smacx.facade import _settings_from_repr

    stored = ("Hyperband(eta=3, n_seeds=1, instance_order='shuffled', max_incumbents=10, "
              "pending_config_timeout=None)")  # fmt: skip
    assert repr(Hyperband()) == stored and _settings_from_repr(stored) == Hyperband()
    shown = repr(SuccessiveHalving(min_keys=2, bracket=1))
    assert "min_keys=2" in shown
    assert _settings_from_repr(shown) == SuccessiveHalving(min_keys=2, bracket=1)


def test_seeds_of_a_noisy_target_are_raced_without_instances(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(eta=2, n_seeds=4), min_budget=None, max_budget=None)
    assert hb.races_keys and hb.budgets == (1.0, 2.0, 4.0)
    assert len({seed for _, seed in hb.keys}) == 4
    info = hb.ask()
    assert info.instance is None and info.budget is None and info.seed == hb.keys[0][1]


def test_resume_a_race_on_instances(space: ConfigurationSpace, tmp_path: Any) -> None:
    path = tmp_path / "rh.db"
    settings = SuccessiveHalving(eta=3)

    def fresh() -> tuple[RunHistory, Halving]:
        rh = RunHistory(space, storage=open_storage(path))
        sh = build(space, rh, settings, seed=1, instances=NINE, deterministic=True,
                   min_budget=None, max_budget=None)  # fmt: skip
        return rh, sh

    rh, sh = fresh()
    for _ in range(9 + 2):  # the first stage and two trials of the second
        info = sh.ask()
        run(rh, info, by_instance(info))
    rh.storage.close()
    rh, sh = fresh()
    assert sh.open_brackets == {0: 1}
    while 0 in sh.open_brackets:
        info = sh.ask()
        run(rh, info, by_instance(info))
    assert rh.n_finished == sh.iteration_budget == 21
    assert len(sh.incumbent_keys()) == 9
    rh.storage.close()


def test_smac_races_instances_with_the_hyperband_preset() -> None:
    """The cost threshold counts a cost on every instance only: the first configuration is
    below it on instance i0 and above it over all nine."""
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    seen: list[tuple[float, str]] = []

    def f(config: Any, instance: str, seed: int) -> float:
        seen.append((float(config["x"]), instance))
        return float(config["x"]) + int(instance[1:]) / 10

    sc = Scenario(cs, instances=NINE, n_trials=60, deterministic=True, seed=1,
                  termination_cost_threshold=0.3, output_directory=None)  # fmt: skip
    smac = SMAC(sc, f, preset="hyperband", progress=False)
    incumbent = smac.optimize()
    per_config = Counter(x for x, _ in seen)
    assert set(per_config.values()) <= {1, 3, 9} and 9 in per_config.values()
    assert incumbent is not None and per_config[float(incumbent["x"])] == 9
    assert len(seen) == 60  # never met: the mean over nine is at least 0.4
    assert "over 9 trial(s)" in smac.summary()


def test_summary_says_when_the_incumbent_ran_on_fewer_instances() -> None:
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(cs, instances=NINE, n_trials=5, deterministic=True, seed=1,
                  output_directory=None)  # fmt: skip
    smac = SMAC(sc, lambda config, instance, seed: float(config["x"]), preset="hyperband",
                progress=False)  # fmt: skip
    smac.optimize()
    assert "on 1 of 9 instance-seed pairs (none with a success has run on all)" in smac.summary()


@pytest.mark.parametrize("unsolvable", [0, 1])
def test_an_instance_no_configuration_solves_decides_nothing(
    space: ConfigurationSpace, unsolvable: int
) -> None:
    """With the default infinite crash_cost, a key every configuration fails on made every
    mean inf: stages promoted by config id, and no configuration could lead on all keys.
    Failures now count apart, as racing counts them: fewest first, then the mean of the rest."""
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3), instances=NINE, deterministic=True,
               min_budget=None, max_budget=None)  # fmt: skip
    hard = sh.keys[unsolvable][0]
    for _ in range(int(sh.iteration_budget)):
        info = sh.ask()
        if info.instance == hard:
            run(rh, info, math.inf, status=StatusType.TIMEOUT)
        else:
            run(rh, info, by_instance(info))
    assert sh.open_brackets == {}
    ran = Counter(info.config for info, _ in rh.finished())
    by_x = sorted(ran, key=lambda c: float(c["x"]))
    assert ran[by_x[0]] == 9  # the best x went all the way
    assert sh.incumbents()[0] == by_x[0] and len(sh.incumbent_keys()) == 9
    solved = [int(i[1:]) / 10 for i in NINE if i != hard]
    expected = float(by_x[0]["x"]) + sum(solved) / len(solved)
    assert sh.incumbent_costs() == [pytest.approx(expected)]


def test_budgets_that_look_like_instance_counts_are_warned_of() -> None:
    """SMAC3's instance examples set min_budget=1 and max_budget=<number of instances>; a
    target taking **kwargs then silently got budget racing (every stage on all instances)."""
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(
        cs, instances=NINE, min_budget=1, max_budget=9, output_directory=None, n_trials=400
    )
    with pytest.warns(UserWarning, match=r"9 instances and budgets from 1 to 9, which SMAC3 .*"
                      r"leave min_budget and max_budget unset") as caught:  # fmt: skip
        SMAC(sc, lambda config, seed, instance, **kw: 1.0, preset="hyperband")
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(sc, lambda config, seed, instance, budget: 1.0, preset="hyperband")  # named
        wide = dataclasses.replace(sc, max_budget=27)
    with pytest.warns(UserWarning, match=r"unset \(and give Hyperband min_keys=3\)"):
        SMAC(dataclasses.replace(sc, min_budget=3), lambda config, seed, instance, **kw: 1.0,
             preset="hyperband")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(wide, lambda config, seed, instance, **kw: 1.0, preset="hyperband")


# -- edge cases and settings -------------------------------------------------------------------


def test_exhausted_space_runs_a_short_bracket_then_raises() -> None:
    """The bracket starts 5 configurations instead of 9, and its next stage keeps a third of
    them as planned, 1, not 3 of 5 (a Hyperband audit's finding)."""
    cs = ConfigurationSpace(seed=0)
    cs.add(Categorical("x", [0, 1, 2, 3, 4]))
    rh = RunHistory(cs)
    hb = build(cs, rh, Hyperband(eta=3), max_budget=9)  # bracket 0 wants 9 configurations
    spent: Counter[float | None] = Counter()
    with pytest.raises(SearchSpaceExhaustedError):
        for _ in range(20):
            info = hb.ask()
            spent[info.budget] += 1
            run(rh, info, float(info.config["x"]))
    assert spent == {1.0: 5, 3.0: 1, 9.0: 1}
    assert hb.incumbents()[0]["x"] == 0


def test_overdue_trials_are_retired_and_free_the_stage(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(pending_config_timeout=5.0), max_budget=3)
    infos = [sh.ask() for _ in range(3)]
    for info in infos[:2]:
        run(rh, info)
    rh.add_running(infos[2])
    start = rh[rh.key_of(infos[2])].starttime
    assert sh.overdue(start + 1.0) == []
    assert sh.overdue(start + 6.0) == [infos[2]]
    assert sh.ask().budget == 1.0  # the stage waits: a new bracket is opened
    rh.add(infos[2], TrialValue(cost=math.inf, status=StatusType.RETIRED))
    assert sh.ask().budget == 3.0  # bracket 0 goes on without the retired configuration
    assert (
        SuccessiveHalving()
        .build(
            Scenario(space, output_directory=None, min_budget=1, max_budget=3),
            ConfigSelector(space, []),
            rh,
        )
        .overdue(start + 60.0)
        == []
    )


def test_a_full_stage_of_running_trials_opens_a_new_bracket(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    sh = build(space, rh, SuccessiveHalving(eta=3))
    for _ in range(27):
        rh.add_running(sh.ask())
    nxt = sh.ask()
    assert sh.bracket_of(nxt.config) == 1 and nxt.budget == 1.0
    assert sh.incumbents() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eta", 1),
        ("eta", True),
        ("eta", "3"),
        ("n_seeds", 0),
        ("instance_order", "random"),
        ("max_incumbents", 0),
        ("pending_config_timeout", -1.0),
    ],
)
def test_bad_settings_are_named(field: str, value: object) -> None:
    for cls in (SuccessiveHalving, Hyperband):
        with pytest.raises(ScenarioError, match=rf"{cls.__name__}\.{field} must be .*; got"):
            cls(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"SuccessiveHalving\.bracket must be"):
        SuccessiveHalving(bracket=-1)


def test_build_needs_budgets_or_keys_to_race_on(space: ConfigurationSpace) -> None:
    for scenario in (
        Scenario(space, output_directory=None),
        Scenario(space, output_directory=None, instances=["a"], deterministic=True),
    ):
        with pytest.raises(
            ScenarioError, match="Hyperband needs a multi-fidelity scenario.*or give the scenario"
        ):
            Hyperband().build(scenario, ConfigSelector(space, []), RunHistory(space))
    with pytest.raises(ScenarioError, match=r"SuccessiveHalving\.bracket must be at most"):
        build(space, RunHistory(space), SuccessiveHalving(bracket=4))
    with pytest.raises(ScenarioError, match=r"at most s_max = 2 for a race on 9 instance-seed"):
        build(space, RunHistory(space), SuccessiveHalving(bracket=3), instances=NINE,
              deterministic=True, min_budget=None, max_budget=None)  # fmt: skip


def test_smac_facade_runs_hyperband(space: ConfigurationSpace) -> None:
    from smacx import SMAC

    def target(config: Any, seed: int, budget: float) -> float:
        return float(np.hypot(config["x"] - 1, config["y"])) + 1.0 / budget

    scenario = Scenario(
        space, output_directory=None, n_trials=40, min_budget=1, max_budget=9, seed=0
    )
    smac = SMAC(scenario, target, intensifier=Hyperband(eta=3), progress=False)
    incumbent = smac.optimize()
    budgets = [info.budget for info, _ in smac.runhistory.finished()]
    assert incumbent is not None and set(budgets) <= {1.0, 3.0, 9.0} and 9.0 in budgets
    assert smac.runhistory.get_trials(incumbent)[-1].budget == 9.0


def test_trajectory_reports_the_cost_the_incumbent_was_chosen_by() -> None:
    """The incumbent is complete at budget 1; one of its trials at budget 3 has come back
    (cost 100). Trajectory and summary give its cost at budget 1, as it was chosen."""
    from ConfigSpace import ConfigurationSpace

    from smacx import SMAC, Scenario, SuccessiveHalving, TrialValue

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space,
        n_trials=50,
        min_budget=1,
        max_budget=3,
        instances=["a", "b"],
        deterministic=True,
        output_directory=None,
    )
    smac = SMAC(scenario, preset="hyperband", intensifier=SuccessiveHalving(eta=3))
    while True:
        info = smac.ask()
        if info.budget == 3:
            smac.tell(info, TrialValue(cost=100.0))
            break
        smac.tell(info, TrialValue(cost=abs(info.config["x"])))
    keys = smac.intensifier.incumbent_keys()
    assert {k.budget for k in keys} == {1.0}
    chosen_by = smac.runhistory.get_costs(smac.incumbent, keys)
    assert smac.intensifier.incumbent_costs() == pytest.approx(chosen_by)
    assert smac.trajectory[-1]["cost"] == pytest.approx(chosen_by)
    assert smac.trajectory[-1]["budget"] == 1.0  # (an audit's finding: it was not stored)
    assert (
        f"cost {chosen_by[0]:.6g} over 2 trial(s), at budget 1 (below max_budget=3: none has "
        "succeeded at it on every instance-seed pair yet)" in smac.summary()
    )


def test_a_configuration_that_crashed_is_never_incumbent_even_at_a_finite_crash_cost(
    space: ConfigurationSpace,
) -> None:
    """With ``crash_cost=1.0`` a crash has a finite cost, but it is still no result."""
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(), crash_cost=1.0, max_budget=9)
    crashed = set()
    for _ in range(30):
        info = hb.ask()
        rh.add_running(info)
        if info.config["x"] > 0:  # half of the space succeeds, at a cost above the crash cost
            rh.add(info, TrialValue(cost=5.0))
        else:
            rh.add(info, TrialValue(cost=1.0, status=StatusType.CRASHED))
            crashed.add(rh.get_config_id(info.config))
    ids = {rh.get_config_id(c) for c in hb.incumbents()}
    assert ids and not ids & crashed


def test_settings_take_numpy_integers_and_refuse_an_endless_timeout() -> None:
    hb = Hyperband(n_seeds=np.int64(2), max_incumbents=np.int64(3))
    assert (hb.n_seeds, hb.max_incumbents) == (2, 3) and type(hb.n_seeds) is int
    assert SuccessiveHalving(bracket=np.int64(1)).bracket == 1
    with pytest.raises(ScenarioError, match="pending_config_timeout must be"):
        Hyperband(pending_config_timeout=math.inf)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SuccessiveHalving.total_budget(1, 27, 3, bracket=1.5), "bracket must be an int"),
        (lambda: SuccessiveHalving.total_budget(1, 27, 3, bracket="1"), "bracket must be an int"),
        (lambda: Hyperband.total_budget(1, 27, 3, n_keys=0), "n_keys must be an int >= 1"),
        (lambda: Hyperband.total_budget(1, 27, 3, n_keys=-1), "n_keys must be an int >= 1"),
        (lambda: SuccessiveHalving.total_budget(1, 27, 3, n_keys=2.5), "n_keys must be"),
    ],
)
def test_total_budget_checks_its_arguments(call: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        call()


def test_a_timeout_on_a_hard_instance_does_not_bar_the_incumbent(space: ConfigurationSpace) -> None:
    """Every configuration times out on instance "hard" (a finite penalty): the best on the
    rest is still the incumbent, as racing would have it."""
    rh = RunHistory(space)
    hb = build(space, rh, Hyperband(), crash_cost=100.0, max_budget=9, instances=["easy", "hard"])
    for _ in range(40):
        info = hb.ask()
        rh.add_running(info)
        if info.instance == "hard":
            rh.add(info, TrialValue(cost=100.0, status=StatusType.TIMEOUT))
        else:
            rh.add(info, TrialValue(cost=abs(float(info.config["x"]))))
    assert hb.incumbents()


@pytest.mark.parametrize(
    ("scenario", "eta", "said"),
    [
        ({"instances": ["a", "b"], "min_budget": None, "max_budget": None}, 3,
         "2 instance-seed pairs leave no room to halve with eta=3.*at most 2"),
        ({"min_budget": 1, "max_budget": 9}, 10, "budgets from 1 to 9 .* eta=10.*at most 9"),
        ({"min_budget": 5, "max_budget": 5}, 3, "budgets from 5 to 5 .*Widen the budgets"),
        # (":g" said "from 1 to 1 ... an eta of at most 1", which Hyperband refuses)
        ({"min_budget": 1, "max_budget": 1.0000001}, 3,
         r"budgets from 1 to 1\.0000001 .*eta of at most 1\.0000001\."),
    ],
)  # fmt: skip
def test_settings_that_leave_no_stage_to_halve_are_warned_of(
    space: ConfigurationSpace, scenario: Any, eta: float, said: str
) -> None:
    """A UserWarning to SMAC's caller; not for a run that halves, nor for the one-stage
    bracket chosen on purpose."""
    sc = Scenario(space, output_directory=None, deterministic=True, **scenario)

    def f(config: Configuration, seed: int, instance: str = "", budget: float = 1) -> float:
        return 1.0

    with pytest.warns(UserWarning, match=said) as caught:
        SMAC(sc, f, intensifier=Hyperband(eta=eta))
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if scenario["max_budget"] == 1.0000001:  # the advice taken
            SMAC(sc, f, intensifier=Hyperband(eta=1.0000001))
        elif scenario["min_budget"] != 5:
            SMAC(sc, f, intensifier=Hyperband(eta=2))
        SMAC(sc, f, intensifier=SuccessiveHalving(eta=2, bracket=0))


def test_overwriting_a_run_describes_its_brackets_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """overwrite=True checks the settings on a history in memory before the wipe; that check
    logged the brackets too, so the line came twice (an audit's finding)."""
    from smacx import SMAC, Hyperband, Scenario

    sc = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}),
        n_trials=3,
        output_directory=tmp_path,
        min_budget=1,
        max_budget=9,
    )
    SMAC(sc, intensifier=Hyperband(), progress=False).close()
    with caplog.at_level("INFO", logger="smacx"):
        SMAC(sc, intensifier=Hyperband(), progress=False, overwrite=True).close()
    assert caplog.text.count("hyperband: budgets") == 1


def test_n_trials_short_of_the_first_brackets_top_is_warned_of() -> None:
    """Budgets 1 to 100 with n_trials=100 ended with the incumbent at budget 3.7, which only
    summary() said: the first bracket (81, 27, 9, 3 and 1 configurations) takes 121 trials. A
    race on instances counts the new keys of each stage; enough trials, or no n_trials, say
    nothing."""
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(cs, min_budget=1, max_budget=100, output_directory=None, n_trials=100)
    with pytest.warns(UserWarning, match=r"n_trials=100 is less than the 121 trials of the first "
                      r"bracket \(configurations per stage: 81 at 1\.23, 27 at 3\.7, .* 1 at 100\)"
                      r".* reaches max_budget=100"):  # fmt: skip
        SMAC(sc, preset="hyperband")
    keys = Scenario(cs, instances=NINE, output_directory=None, n_trials=20, deterministic=True)
    short = r"less than the 21 trials .*9 at 1 keys, 3 at 3 keys, 1 at 9 keys\).* all 9 instance"
    with pytest.warns(UserWarning, match=short + r"-seed pairs.* raise eta or min_keys"):
        SMAC(keys, preset="hyperband")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SMAC(dataclasses.replace(sc, n_trials=121), preset="hyperband")
        SMAC(dataclasses.replace(sc, n_trials=None, walltime_limit=5), preset="hyperband")
        SMAC(dataclasses.replace(keys, n_trials=21), preset="hyperband")


def test_a_configuration_that_failed_a_whole_stage_is_not_promoted() -> None:
    """A model too big at high fidelity: every configuration fails from budget 9 on. Those
    that failed at 9 were promoted to 27 anyway, for want of others, and failed again (an
    audit's finding: 108 of 423 epochs spent so; SMAC3 does the same)."""

    def too_big_from_9(config: Configuration, seed: int, budget: float) -> float:
        if budget >= 9:
            raise MemoryError("CUDA out of memory")
        return (config["x"] - 1) ** 2 + 1 / budget

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=69, min_budget=1, max_budget=27, deterministic=True, output_directory=None
    )
    smac = SMAC(scenario, too_big_from_9, preset="hyperband", raise_on_first_crash=False)
    smac.optimize()
    failed_at: dict[int, float] = {}
    for key, value in sorted(smac.runhistory.items(), key=lambda kv: kv[0].budget or 0):
        assert key.budget is not None
        if key.config_id in failed_at:
            assert key.budget <= failed_at[key.config_id], "run again after it failed"
        if value.status is not StatusType.SUCCESS:
            failed_at.setdefault(key.config_id, key.budget)
    assert failed_at  # (the stages at 9 did fail)


def test_a_stage_with_too_few_to_promote_completes() -> None:
    """Most of the space diverges: the next stage holds only the configurations that may go
    on, and completes with them. Its target stayed at the scheduled count, so the bracket
    stayed open for good, its survivors short of the top budget (a review's finding)."""

    def diverges(config: Configuration, seed: int, budget: float) -> float:
        return math.nan if config["x"] > -3.0 else (config["x"] + 4) ** 2 + 1 / budget

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=130, min_budget=1, max_budget=9, deterministic=True,
        output_directory=None, seed=3,
    )  # fmt: skip
    smac = SMAC(
        scenario, diverges, intensifier=SuccessiveHalving(eta=3), raise_on_first_crash=False
    )
    smac.optimize()
    halving = smac.intensifier
    for bracket in halving._open.values():  # (only the bracket still being filled is open)
        assert bracket.stage == 0
