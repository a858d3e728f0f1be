from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace, Float

from smacx import (
    SMAC,
    Hyperband,
    InitialDesign,
    Intensifier,
    RunHistory,
    Scenario,
    ScenarioError,
    SearchSpaceExhaustedError,
    StatusType,
    SuccessiveHalving,
    TrialInfo,
    TrialKey,
    TrialValue,
)
from smacx.intensifier import Racing
from smacx.selector import ConfigSelector


def build(
    space: ConfigurationSpace, rh: RunHistory, settings: Intensifier | None = None, **scenario: Any
) -> Racing:
    s = Scenario(space, output_directory=None, **scenario)
    selector = ConfigSelector(space, space.sample_configuration(4), seed=0)
    return (settings or Intensifier()).build(s, selector, rh)


def run(rh: RunHistory, info: TrialInfo, cost: float | list[float], **kw: Any) -> None:
    rh.add_running(info)
    rh.add(info, TrialValue(cost=cost, **kw))


def test_deterministic_keys_use_one_seed_per_instance(space: ConfigurationSpace) -> None:
    racing = build(space, RunHistory(space), instances=["a", "b", "c"], deterministic=True)
    assert sorted(i for i, _ in racing.keys) == ["a", "b", "c"]
    assert len({s for _, s in racing.keys}) == 1


def test_noisy_keys_draw_new_seeds_per_pass(space: ConfigurationSpace) -> None:
    racing = build(
        space,
        RunHistory(space),
        Intensifier(max_config_calls=4, instance_order="fixed"),
        instances=["a", "b"],
    )
    assert [i for i, _ in racing.keys] == ["a", "b", "a", "b"]
    assert len({s for _, s in racing.keys}) == 4


def test_first_challenger_races_on_the_incumbents_first_key(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    racing = build(space, rh, Intensifier(max_config_calls=3))
    first = racing.ask()
    run(rh, first, 1.0)
    assert racing.incumbents() == [first.config]
    # next: the incumbent gets its second key, then a challenger starts on the first key
    second, third = racing.ask(), racing.ask()
    assert second.config == first.config and (second.instance, second.seed) == racing.keys[1]
    assert third.config != first.config and (third.instance, third.seed) == racing.keys[0]


def noisy_race(
    space: ConfigurationSpace, n_trials: int, seed: int, **settings: Any
) -> tuple[Racing, RunHistory]:
    """Configs are the 6 values of a categorical; cost = value + N(0, 1) noise, best is 0."""
    del space
    cs = ConfigurationSpace(seed=seed)
    cs.add(Categorical("v", [0, 1, 2, 3, 4, 5]))
    rh = RunHistory(cs)
    racing = Intensifier(**settings).build(
        Scenario(cs, output_directory=None, seed=seed),
        ConfigSelector(cs, [cs.get_default_configuration()], seed=seed),
        rh,
    )
    rng = np.random.default_rng(seed)
    for _ in range(n_trials):
        try:
            info = racing.ask()
        except Exception:
            break
        run(rh, info, info.config["v"] + rng.normal(0, 1.0))
    return racing, rh


def test_racing_converges_to_the_best_noisy_config(space: ConfigurationSpace) -> None:
    wins = 0
    for seed in range(5):
        racing, _ = noisy_race(space, 200, seed, max_config_calls=20)
        wins += racing.incumbents()[0]["v"] == 0
    assert wins >= 4


def test_incumbent_has_the_most_keys_and_calls_are_capped(space: ConfigurationSpace) -> None:
    racing, rh = noisy_race(space, 150, 1, max_config_calls=5)
    trials = Counter(rh.get_config_id(i.config) for i, _ in rh.finished())
    best = rh.get_config_id(racing.incumbents()[0])
    assert max(trials.values()) <= 5
    assert trials[best] == max(trials.values())  # never incumbent on fewer keys


def test_min_samples_per_config(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    racing = build(space, rh, Intensifier(min_samples_per_config=3))
    batch = [racing.ask() for _ in range(3)]  # handed out together: they can run in parallel
    assert len({b.config for b in batch}) == 1 and len({b.seed for b in batch}) == 3
    for info in batch[:2]:
        run(rh, info, 1.0)
        assert racing.incumbents() == []
    run(rh, batch[2], 1.0)
    assert racing.incumbents() == [batch[0].config]


def test_crashed_config_is_never_incumbent(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    racing = build(space, rh, deterministic=True)
    run(rh, racing.ask(), -1.0, status=StatusType.CRASHED)
    assert racing.incumbents() == []


def test_overdue_and_retired_configs_stop_racing(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    racing = build(space, rh, Intensifier(pending_config_timeout=5.0), deterministic=True)
    info = racing.ask()
    rh.add_running(info)
    start = rh[rh.key_of(info)].starttime
    assert racing.overdue(start + 1.0) == []
    assert racing.overdue(start + 6.0) == [info]
    rh.add(info, TrialValue(cost=1.0, status=StatusType.RETIRED))
    assert racing.incumbents() == []
    assert racing.ask().config != info.config


def test_state_is_rebuilt_from_history(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    first = build(space, rh, Intensifier(max_config_calls=3, min_samples_per_config=2))
    a, b = first.ask(), first.ask()
    run(rh, a, 1.0)  # b is lost: the process stops before it runs
    again = build(space, rh, Intensifier(max_config_calls=3, min_samples_per_config=2))
    nxt = again.ask()
    assert (nxt.config, nxt.instance, nxt.seed) == (b.config, b.instance, b.seed)
    run(rh, nxt, 3.0)
    assert again.incumbents() == first.incumbents() == [a.config]


def test_pareto_front_with_two_objectives(space: ConfigurationSpace) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    racing = build(space, rh, objectives=["a", "b"], deterministic=True)
    infos = []
    for cost in [[0.0, 5.0], [5.0, 0.0], [6.0, 6.0], [1.0, 1.0]]:
        info = racing.ask()
        run(rh, info, cost)
        infos.append(info)
    front = racing.incumbents()
    assert set(front) == {infos[0].config, infos[1].config, infos[3].config}
    assert front[0] == infos[3].config  # lowest normalized mean first


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_config_calls", 0),
        ("max_incumbents", 0),
        ("min_samples_per_config", 0),
        ("aggregate", "max"),
        ("pending_config_timeout", -1),
        ("instance_order", "random"),
    ],
)
def test_bad_settings_are_named(field: str, value: object) -> None:
    with pytest.raises(ScenarioError, match=f"Intensifier.{field}"):
        Intensifier(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Intensifier(n_seeds=3), r"'n_seeds': racing a scenario that is not determ"),
        (lambda: Intensifier(seed=1), r"'seed': a run's random seed is Scenario\(seed=\.\.\.\)"),
        (lambda: Intensifier(retrain_after=8), r"'retrain_after': the model is refitted"),
        (lambda: Hyperband(retries=16), r"'retries': when the model proposes no new config"),
        (lambda: Hyperband(instance_seed_order=None), r"smacx calls it instance_order"),
        (lambda: Intensifier(instance_order="shuffle_once"), r"SMAC3's 'shuffle_once' is 'sh"),
        (lambda: SuccessiveHalving(instance_order=None), r"SMAC3's None is 'fixed' here"),
        (lambda: Hyperband(instance_order="shuffle"), r"smacx has no 'shuffle'"),
    ],
)
def test_smac3_settings_are_answered_with_their_smacx_names(make: Any, match: str) -> None:
    """SMAC3's intensifier and selector keywords, and its instance_seed_order values, got
    only the list of keywords smacx takes."""
    with pytest.raises((TypeError, ScenarioError), match=match):
        make()


@pytest.mark.parametrize("n_objectives", [1, 2])
@pytest.mark.parametrize("deterministic", [True, False])
def test_incumbents_updated_per_result_equal_a_fresh_ranking(
    space: ConfigurationSpace, deterministic: bool, n_objectives: int
) -> None:
    """After every result, the incumbents match those of a racer built on the history anew."""
    rng = np.random.default_rng(3)
    objectives = ["a", "b"][:n_objectives]
    rh = RunHistory(space, objectives=objectives)
    settings = Intensifier(max_config_calls=3, max_incumbents=3)
    racing = build(space, rh, settings, deterministic=deterministic, objectives=objectives)
    for _ in range(80):
        info = racing.ask()
        # Ties (a coarse grid of costs) and crashes exercise the id order and the finite filter.
        crashed = rng.random() < 0.1
        cost = rng.integers(0, 6, size=n_objectives).astype(float).tolist()
        run(rh, info, cost, status=StatusType.CRASHED if crashed else StatusType.SUCCESS)
        fresh = build(space, rh, settings, deterministic=deterministic, objectives=objectives)
        assert racing.incumbents() == fresh.incumbents()
        assert racing.incumbents_costs() == fresh.incumbents_costs()


def test_a_front_grows_and_its_members_stay_one_key_apart() -> None:
    """f1 = x, f2 = 1 - x: every configuration is on the front. While its members get more
    keys one by one, the front never shrinks to those that went ahead, as it did when only
    the first member was intensified; its members never drift more than one key apart."""
    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (0.0, 1.0)))
    rh = RunHistory(cs, objectives=("f1", "f2"))
    racing = Intensifier(max_config_calls=10, max_incumbents=5).build(
        Scenario(cs, objectives=["f1", "f2"], output_directory=None, seed=0),
        ConfigSelector(cs, [], seed=0),
        rh,
    )
    sizes = []
    for _ in range(120):
        info = racing.ask()
        run(rh, info, [info.config["x"], 1.0 - info.config["x"]])
        front = racing.incumbents()
        sizes.append(len(front))
        levels = [len(rh.trial_keys(rh.get_config_id(c))) for c in front]
        assert max(levels) - min(levels) <= 1
    assert sizes == sorted(sizes) and sizes[-1] == 5
    # The members went on to further keys, and the costs are those of the keys they share.
    assert min(levels) >= 4
    for config, costs in zip(racing.incumbents(), racing.incumbents_costs()):
        assert costs == pytest.approx([config["x"], 1.0 - config["x"]])


def test_a_challenger_dominated_by_any_member_of_the_front_is_rejected(
    space: ConfigurationSpace,
) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    racing = build(
        space, rh, Intensifier(max_config_calls=3), objectives=["a", "b"], deterministic=False
    )
    costs: dict[Configuration, list[float]] = {}
    while True:  # two members of the front, each on its first two keys
        info = racing.ask()
        if info.config not in costs and len(costs) == 2:
            break
        if info.config not in costs:
            costs[info.config] = [[0.0, 5.0], [5.0, 0.0]][len(costs)]
        run(rh, info, costs[info.config])
    assert set(racing.incumbents()) == set(costs)
    # Dominated by the second member of the front only, not by the first (the best-ranked):
    # not raced on to the second key the front shares.
    run(rh, info, [6.0, 1.0])
    later = []
    for _ in range(6):
        later.append(racing.ask())
        rh.add_running(later[-1])
    assert info.config not in [i.config for i in later]


def test_exhausted_space_still_runs_the_incumbents_remaining_seeds() -> None:
    """A one-configuration space, not deterministic: its three seeds all run before the
    intensifier reports that no new configuration is left."""
    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("a", ["only"])])
    smac = SMAC(Scenario(cs, n_trials=5, deterministic=False, output_directory=None))
    keys = len(smac.intensifier.keys)
    assert keys >= 2
    for _ in range(keys):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=1.0))
    assert len(smac.runhistory.get_trial_values(smac.incumbent)) == keys
    with pytest.raises(SearchSpaceExhaustedError):
        smac.ask()


def test_incumbent_that_crashes_on_a_further_key_hands_over_to_the_next_level(
    space: ConfigurationSpace,
) -> None:
    """The first configuration crashes on its second seed: optimize() goes on (it raised
    IndexError), and a configuration with finite costs becomes the incumbent and is raced."""
    calls: dict[str, Any] = {}

    def target(config: Any, seed: int) -> float:
        first = calls.setdefault("first", dict(config))
        if dict(config) == first and seed == calls["second_seed"]:
            raise RuntimeError("boom")
        return (config["x"] - 1) ** 2

    smac = SMAC(
        Scenario(space, n_trials=30, deterministic=False, output_directory=None),
        target,
        preset="random",
        progress=False,
        raise_on_first_crash=False,
    )
    calls["second_seed"] = smac.intensifier.keys[1][1]
    incumbent = smac.optimize()
    assert incumbent is not None and dict(incumbent) != calls["first"]
    per_config = Counter(k.config_id for k, _ in smac.runhistory.items())
    assert max(per_config.values()) >= 3  # racing goes on beyond one key


def test_retired_incumbent_hands_over_to_the_next_level(space: ConfigurationSpace) -> None:
    import time

    smac = SMAC(
        Scenario(space, n_trials=100, deterministic=False, output_directory=None),
        preset="random",
        intensifier=Intensifier(max_config_calls=3, pending_config_timeout=0.2),
        progress=False,
    )
    first = None
    for _ in range(30):
        info = smac.ask()
        first = first or info.config
        if info.config == first and info.seed == smac.intensifier.keys[2][1]:
            time.sleep(0.3)  # its third sample hangs and is retired at the next ask
            continue
        smac.tell(
            info, TrialValue(cost=1.0 if info.config == first else 0.5 + abs(info.config["x"]))
        )
    assert smac.incumbent is not None and smac.incumbent != first
    costs = smac.intensifier.incumbent_costs()
    assert costs and costs[0] < 1.0


def test_crashed_configuration_is_never_a_pareto_incumbent(space: ConfigurationSpace) -> None:
    smac = SMAC(
        Scenario(space, objectives=["a", "b"], deterministic=False, output_directory=None),
        preset="random",
        progress=False,
    )
    first = smac.ask()
    smac.tell(first, TrialValue(cost=[1.0, 1.0]))
    again = smac.ask()
    assert again.config == first.config  # the incumbent's second seed
    smac.tell(again, TrialValue(cost=[math.inf, math.inf], status=StatusType.CRASHED))
    other = smac.ask()
    smac.tell(other, TrialValue(cost=[0.5, 0.5]))
    # It dominates on the key both have, and the front is compared on that key; it runs the
    # incumbent's other key next, where the incumbent failed.
    assert smac.incumbents == [other.config]
    assert smac.intensifier.incumbent_costs() == [0.5, 0.5]
    more = smac.ask()
    assert (more.config, more.seed) == (other.config, again.seed)
    smac.tell(more, TrialValue(cost=[0.7, 0.7]))
    assert smac.incumbents == [other.config]
    assert smac.intensifier.incumbent_costs() == [0.6, 0.6]


def test_equal_settings_print_alike() -> None:
    import numpy as np

    from smacx import Hyperband

    # A run stores the repr of its settings and is resumed only with the same one.
    assert repr(Intensifier(pending_config_timeout=60)) == repr(
        Intensifier(pending_config_timeout=60.0)
    )
    assert repr(Hyperband(eta=3.0)) == repr(Hyperband(eta=3))
    assert Intensifier(max_incumbents=np.int64(3)).max_incumbents == 3
    for bad in (
        {"max_incumbents": True},
        {"pending_config_timeout": True},
        {"max_incumbents": "2"},
    ):
        with pytest.raises(ScenarioError, match="Intensifier"):
            Intensifier(**bad)  # type: ignore[arg-type]


def test_a_challenger_whose_first_sample_fails_is_dropped_at_once() -> None:
    """A crash (crash_cost, inf by default or a finite number) is worse than the incumbent's
    result on that key: the challenger gets no further instances."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    instances = [f"i{k}" for k in range(8)]

    def target(config: Any, instance: str, seed: int) -> float:
        if config["x"] > 0.5:
            raise RuntimeError("this half of the space crashes")
        return float(config["x"]) + int(instance[1:]) / 100

    for crash_cost in (math.inf, 10.0):
        scenario = Scenario(
            space,
            n_trials=60,
            instances=instances,
            deterministic=True,
            output_directory=None,
            crash_cost=crash_cost,
        )
        # The default configuration (x = 0.5) first: the first trial of a design could crash,
        # which stops the run (raise_on_first_crash), and which point a Sobol design draws
        # first changed with scipy 1.11.
        design = InitialDesign(kind="default")
        smac = SMAC(scenario, target, preset="random", initial_design=design, progress=False)
        smac.optimize()
        per_config = Counter(
            smac.runhistory.get_config_id(info.config)
            for info, value in smac.runhistory.finished()
            if value.status is StatusType.CRASHED
        )
        assert per_config and set(per_config.values()) == {1}, (crash_cost, per_config)
        assert len(smac.intensifier.incumbent_keys()) == 8


def test_queued_trials_of_a_rejected_challenger_are_not_handed_out() -> None:
    """A stage's trials are queued together; once a result shows the challenger worse, the
    rest of its stage is dropped (sequential ask and tell, where it was 13% of the trials)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    instances = [f"i{k}" for k in range(16)]
    offsets = dict(zip(instances, np.random.default_rng(1).random(16)))
    scenario = Scenario(
        space, n_trials=300, instances=instances, deterministic=True, output_directory=None
    )
    rh = RunHistory(space)
    racing = Intensifier().build(scenario, ConfigSelector(space, [], seed=0), rh)
    stale = 0
    for _ in range(300):
        info = racing.ask()
        config_id = rh.get_config_id(info.config)
        state = racing._states.get(config_id)  # type: ignore[arg-type]
        stale += state is not None and state.rejected
        run(rh, info, abs(info.config["x"] - offsets[info.instance]))
    assert stale == 0


def test_min_samples_above_max_config_calls_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"min_samples_per_config must be at most.*3 > 1"):
        Intensifier(max_config_calls=1, min_samples_per_config=3)


def test_a_front_larger_than_max_incumbents_keeps_its_spread_and_extremes() -> None:
    """Points on a line x + y = 1 plus a denser cluster: the kept ones include both ends, and
    the cluster loses members before the isolated points do."""
    from smacx.intensifier import front_incumbents

    xs = [0.0, 0.5, 0.51, 0.52, 0.53, 1.0]
    costs = np.array([[x, 1.0 - x] for x in xs])
    ids = list(range(10, 16))
    kept = front_incumbents(ids, costs, 4)
    assert len(kept) == 4
    assert {10, 15} <= set(kept)  # the extremes
    assert len({11, 12, 13, 14} & set(kept)) == 2
    assert front_incumbents(ids, costs, 10) == front_incumbents(ids, costs, 6)
    assert len(front_incumbents(ids, costs, 10)) == 6


def test_a_cut_front_of_three_objectives_keeps_each_objectives_best() -> None:
    """Crowding keeps both ends of every objective alike: with 3 objectives and k = 4 it
    kept the worst member in one objective and dropped the best in another (a
    multi-objective audit's fuzz: 168 such cuts of 3,000 with k between m + 1 and 2m)."""
    from smacx.intensifier import first_front, front_incumbents

    rng = np.random.default_rng(1)
    for _ in range(300):
        m = int(rng.integers(2, 4))
        costs = rng.random((int(rng.integers(8, 40)), m))
        k = int(rng.integers(m + 1, 2 * m + 1))
        front = np.flatnonzero(first_front(costs))
        kept = front_incumbents(list(range(len(costs))), costs, k)
        assert len(kept) == min(k, len(front)) and set(kept) <= set(front)
        for j in range(m):
            assert costs[kept, j].min() == costs[front, j].min()


def test_a_cut_front_keeps_a_member_that_meets_the_termination_threshold() -> None:
    """termination_cost_threshold was checked on the cut front: a member that met it was
    dropped for its crowding, and the run went on for 18 trials (a multi-objective audit).
    In the cluster, 0.51 meets (0.515, 0.495); cut to 3, it stays with the ends."""
    from smacx.intensifier import front_incumbents

    xs = [0.0, 0.5, 0.51, 0.52, 0.53, 1.0]
    costs = np.array([[x, 1.0 - x] for x in xs])
    ids = list(range(10, 16))
    assert 12 not in front_incumbents(ids, costs, 3)
    kept = front_incumbents(ids, costs, 3, threshold=(0.515, 0.495))
    assert len(kept) == 3 and 12 in kept
    assert front_incumbents(ids, costs, 3, threshold=(0.1, 0.1)) == front_incumbents(ids, costs, 3)
    # with max_incumbents=1 too: the best-ranked member, and the one that meets (a review)
    best = front_incumbents(ids, costs, 1)
    assert front_incumbents(ids, costs, 1, threshold=(0.515, 0.495)) in ([*best, 12], [12, *best])


def test_a_pruned_front_keeps_its_best_ranked_member() -> None:
    """With max_incumbents below the number of objectives the extremes cannot all stay; the
    incumbent (the best-ranked, here the balanced point) always does."""
    from smacx.intensifier import front_incumbents, rank_configs

    costs = np.array([[0.0, 1.0], [0.25, 0.25], [1.0, 0.0], [0.6, 0.1]])
    ids = [1, 2, 3, 4]
    assert rank_configs(ids, costs)[0] == 2
    for k in (1, 2, 3):
        kept = front_incumbents(ids, costs, k)
        assert kept[0] == 2 and len(kept) == k


def _crowding_cut(front: np.ndarray, kept: np.ndarray, k: int) -> np.ndarray:
    """The cut by its definition: recompute every member's crowding distance, drop the
    smallest (the first on ties) of those not kept, until max(k, kept) are left."""
    rows = np.arange(len(front))
    while len(rows) > max(k, int(kept.sum())):
        dist = np.zeros(len(rows))
        for j in range(front.shape[1]):
            order = np.argsort(front[rows, j], kind="stable")
            values = front[rows[order], j]
            gaps = np.full(len(rows), np.inf)
            if values[-1] > values[0]:
                gaps[1:-1] = (values[2:] - values[:-2]) / (values[-1] - values[0])
            dist[order] += gaps
        others = np.flatnonzero(~kept[rows])
        rows = np.delete(rows, others[np.argmin(dist[others])])
    return rows


def test_the_cut_of_a_front_drops_what_the_definition_drops() -> None:
    """The cut updates only the neighbours of a dropped member (its full recomputation per
    drop took 0.12 s per result at 2,000 members): on fronts with ties, duplicates, a
    trade-off line and several objectives, it keeps exactly the members the definition does."""
    from smacx.intensifier import _spread_out

    rng = np.random.default_rng(3)
    for case in range(600):
        n, m = int(rng.integers(1, 80)), int(rng.integers(2, 5))
        front = rng.random((n, m))
        if case % 3 == 1:
            front = np.round(front * 4) / 4  # ties and duplicates
        elif case % 3 == 2:
            x = np.round(rng.random(n), 2)
            front = np.column_stack([x, 1 - x, *[np.zeros(n)] * (m - 2)])
        kept = rng.random(n) < 0.05
        k = int(rng.integers(1, 15))
        assert _spread_out(front, kept, k).tolist() == _crowding_cut(front, kept, k).tolist()


def test_configurations_run_on_every_key_leave_the_race(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every configuration on a front of two objectives, as with an error-size trade-off:
    each ask looked again at every configuration not dominated by the kept incumbents,
    though each had run its only key (104 ms per ask at 2,000 of them, a long-run audit)."""
    sc = Scenario(space, deterministic=True, objectives=["error", "size"], n_trials=200,
                  output_directory=None)  # fmt: skip
    smac = SMAC(sc, preset="random")
    for _ in range(150):
        info = smac.ask()
        x = float(info.config.get_array()[0])
        smac.tell(info, TrialValue(cost=[x, 1.0 - x]))
    looked: list[int] = []
    real = Racing._maybe_reject
    monkeypatch.setattr(Racing, "_maybe_reject", lambda self, c: looked.append(c) or real(self, c))
    info = smac.ask()
    assert len(looked) <= 3  # the new challenger, not the 150 before it
    x = float(info.config.get_array()[0])
    smac.tell(info, TrialValue(cost=[x, 1.0 - x]))
    assert len(smac.incumbents) == 10  # the front is still cut to max_incumbents
    smac.close()


def _front_cases() -> list[np.ndarray]:
    """Cost matrices with ties, duplicates, infinite costs and fronts of every size."""
    rng = np.random.default_rng(0)
    cases = []
    for i in range(200):
        n, m = int(rng.integers(1, 40)), 2 + i % 3
        if i % 4 == 0:
            costs = rng.random((n, m))
        elif i % 4 == 1:
            costs = rng.integers(0, 4, (n, m)).astype(float)  # ties and duplicate rows
        elif i % 4 == 2:
            x = rng.random(n)  # every row on the front
            costs = np.column_stack([x, 1.0 - x, *rng.random((m - 2, n))])
        else:
            costs = rng.integers(0, 3, (n, m)).astype(float)
            costs[rng.random((n, m)) < 0.2] = np.inf
        cases.append(costs)
    return cases


def test_the_first_front_is_found_without_ranking_every_front(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Racing runs front_incumbents after every result, over every configuration at the top
    level. It used to rank all fronts with pareto_fronts' (n, n) dominance matrix, peeled
    front by front: 0.45 s per result at 1,000 configurations, 28 s at 5,000. Only the first
    front is needed; it is the same, and so are the incumbents, without pareto_fronts."""
    import smacx.intensifier as intensifier

    cases = _front_cases()
    fronts = [intensifier.pareto_fronts(c) == 0 for c in cases]
    ranked = [intensifier.rank_configs(list(range(100, 100 + len(c))), c) for c in cases]
    calls: list[np.ndarray] = []
    real = intensifier.pareto_fronts
    monkeypatch.setattr(intensifier, "pareto_fronts", lambda c: calls.append(c) or real(c))
    for costs, front, order in zip(cases, fronts, ranked):
        assert np.array_equal(intensifier.first_front(costs), front)
        ids = list(range(100, 100 + len(costs)))
        members = {ids[i] for i in np.flatnonzero(front)}
        # a front no larger than k is kept whole, in rank_configs' order
        assert intensifier.front_incumbents(ids, costs, len(costs)) == [
            c for c in order if c in members
        ]
        if np.isfinite(costs).all():  # (as racing passes them: crowding needs finite spans)
            kept = intensifier.front_incumbents(ids, costs, 3)
            assert set(kept) <= members and kept[0] == order[0]
            assert len(kept) == min(3, len(members))
    assert not calls


def test_the_fewest_failures_are_counted_once_per_selection(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Racing._best, run after every result over every configuration at the top level (all
    of them with several objectives), took the minimum of the failure counts once per
    configuration: O(n^2) per result, 35 ms of a tell at 5,000 configurations."""
    import types

    import smacx.intensifier as intensifier

    mins = Counter[str]()

    class Counting(np.ndarray):
        def min(self, *args: Any, **kwargs: Any) -> Any:
            mins["min"] += 1
            return super().min(*args, **kwargs)

    counting_np = types.ModuleType("numpy")
    counting_np.__dict__.update(np.__dict__)
    counting_np.array = lambda *a, **k: np.array(*a, **k).view(Counting)  # type: ignore[attr-defined]
    racing = build(space, RunHistory(space), deterministic=True)
    group = {c: (c % 3, [float(c)]) for c in range(60)}
    monkeypatch.setattr(intensifier, "np", counting_np)
    best = racing._best(group, sorted(group))
    assert best[:2] == [0, 3]  # no failure, lowest cost first
    assert mins["min"] == 1


def test_two_objective_racing_never_ranks_every_front(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Selecting the incumbents after each result of a two-objective run takes the first
    front only (see first_front), not the full non-dominated sort."""
    import smacx.intensifier as intensifier

    calls: list[np.ndarray] = []
    real = intensifier.pareto_fronts
    monkeypatch.setattr(intensifier, "pareto_fronts", lambda c: calls.append(c) or real(c))
    rh = RunHistory(space, objectives=("a", "b"))
    racing = build(space, rh, objectives=["a", "b"], deterministic=True)
    rng = np.random.default_rng(1)
    for _ in range(12):
        run(rh, racing.ask(), rng.random(2).tolist())
    assert racing.incumbents()
    assert not calls


def fails_on_broken(config: Any, instance: str, seed: int) -> float:
    """A target that no configuration solves instance "broken" of."""
    if instance == "broken":
        raise RuntimeError("no configuration solves this instance")
    return (config["x"] - 1) ** 2 + (config["y"] + 2) ** 2 + int(instance[-1])


def race_past_broken(
    space: ConfigurationSpace,
    instances: list[str],
    intensifier: Intensifier,
    n_trials: int = 60,
    preset: Any = "hpo",
    **scenario: Any,
) -> tuple[SMAC, list[TrialKey]]:
    """A run of :func:`fails_on_broken` that ends with an incumbent run on every instance;
    the run and the incumbent's trials."""
    smac = SMAC(
        Scenario(
            space,
            n_trials=n_trials,
            instances=instances,
            deterministic=True,
            output_directory=None,
            **scenario,
        ),
        fails_on_broken,
        preset=preset,
        intensifier=intensifier,
        progress=False,
        raise_on_first_crash=False,
    )
    assert smac.optimize() is not None
    keys = smac.intensifier.incumbent_keys()
    assert sorted(k.instance for k in keys) == sorted(instances)
    return smac, keys


def test_an_instance_every_configuration_fails_on_decides_nothing(
    space: ConfigurationSpace,
) -> None:
    """Every configuration crashes on instance "broken" (crash_cost inf): the run keeps an
    incumbent, evaluated on every instance, that is the best on the instances it solves."""
    for order in ("fixed", "shuffled"):
        smac, keys = race_past_broken(
            space, ["i0", "broken", "i1", "i2"], Intensifier(instance_order=order), seed=3
        )
        best = min(
            v.cost
            for k, v in smac.runhistory.items()
            if v.status is StatusType.SUCCESS and k.instance == "i0"
        )
        mine = smac.runhistory[next(k for k in keys if k.instance == "i0")].cost
        assert mine <= best + 0.5  # near the best on the solvable instances
        crashed = sum(v.status is StatusType.CRASHED for _, v in smac.runhistory.items())
        assert crashed < 20  # not every configuration is sent to the broken instance
        # The cost is the mean over the three others: the summary says why.
        assert "over 4 trial(s), 1 of them failed (not in the cost)" in smac.summary()


@pytest.mark.parametrize("crash_cost", [100.0, math.inf])
@pytest.mark.parametrize("min_samples", [1, 2])
def test_racing_moves_on_from_a_first_instance_none_solves(
    space: ConfigurationSpace, crash_cost: float, min_samples: int
) -> None:
    """A configuration needed min_samples_per_config successes to qualify: with a finite
    crash_cost (PAR10), or two first samples of which one failed, none did, every trial ran on
    the first instance and the run ended with no incumbent (an audit's finding)."""
    smac, _ = race_past_broken(
        space,
        ["broken", "i0", "i1", "i2"],
        Intensifier(instance_order="fixed", min_samples_per_config=min_samples),
        n_trials=40,
        crash_cost=crash_cost,
        preset="random",
    )
    ran = Counter(k.instance for k, _ in smac.runhistory.items())
    assert ran["broken"] < 20 and ran["i0"] > 5, ran


def test_a_configuration_that_only_crashed_is_no_answer_at_a_finite_crash_cost(
    space: ConfigurationSpace,
) -> None:
    """It leads the race while nothing succeeded (so that racing moves on), but is never
    reported, as with successive halving."""
    rh = RunHistory(space)
    fixed = Intensifier(instance_order="fixed")
    racing = build(space, rh, fixed, instances=["a", "b"], deterministic=True, crash_cost=10.0)
    first = racing.ask()
    run(rh, first, 10.0, status=StatusType.CRASHED)
    assert racing.incumbents() == [] and racing.incumbent_costs() == []
    nxt = racing.ask()  # racing goes on from it: its next key
    assert (nxt.config, nxt.instance) == (first.config, "b")
    run(rh, nxt, 2.0)
    assert racing.incumbents() == [first.config]
    assert racing.incumbent_costs() == [6.0]  # the crash's cost counts (PAR10)


@pytest.mark.parametrize("crash_cost", [[0.3, 0.5], [0.1, 0.5], 1.0])
def test_a_crash_below_the_successes_costs_is_not_on_the_front(
    space: ConfigurationSpace, crash_cost: Any
) -> None:
    """A configuration that only crashed, at a finite crash_cost, led the race once anything
    succeeded: on a front it hid the successful members, or dominated them (a review's
    finding). It takes part only while nothing has succeeded."""
    rh = RunHistory(space, objectives=["error", "seconds"])
    racing = build(
        space, rh, objectives=["error", "seconds"], crash_cost=crash_cost, deterministic=True
    )
    crashed, a, b = space.sample_configuration(3)
    costs = [crash_cost] * 2 if isinstance(crash_cost, float) else crash_cost
    run(rh, TrialInfo(crashed, seed=0), costs, status=StatusType.CRASHED)
    assert racing.incumbents() == []
    run(rh, TrialInfo(a, seed=0), [0.2, 5.0])
    run(rh, TrialInfo(b, seed=0), [0.4, 2.0])
    assert racing.incumbents() == [a, b]


def test_when_the_first_key_fails_for_all_racing_moves_on(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    racing = build(
        space,
        rh,
        instances=["broken", "ok"],
        deterministic=True,
        settings=Intensifier(instance_order="fixed"),
    )
    first = racing.ask()
    assert first.instance == "broken"
    run(rh, first, math.inf, status=StatusType.CRASHED)
    assert racing.incumbents() == []  # a configuration that only failed is no answer
    nxt = racing.ask()  # it still races on: its next key
    assert (nxt.config, nxt.instance) == (first.config, "ok")
    run(rh, nxt, 2.0)
    assert racing.incumbents() == [first.config]
    assert racing.incumbent_costs() == [2.0]


def test_challengers_start_on_different_keys_of_the_incumbent(space: ConfigurationSpace) -> None:
    """A challenger takes the incumbent's keys in an order of its own: were the first key
    always the same, that one instance would decide which configurations get any further."""
    rh = RunHistory(space)
    instances = [f"i{k}" for k in range(4)]
    racing = build(space, rh, instances=instances, deterministic=True)
    firsts: Counter[str | None] = Counter()
    seen: set[int] = set()
    for _ in range(80):
        info = racing.ask()
        config_id = rh.add_config(info.config)
        if config_id not in seen:
            seen.add(config_id)
            if racing.incumbent_keys() and len(racing.incumbent_keys()) == 4:
                firsts[info.instance] += 1
        # the first configuration is the best everywhere: the others are rejected at once
        run(rh, info, 0.0 if config_id == min(seen) else 1.0)
    assert len(firsts) >= 3, firsts


@pytest.mark.parametrize("deterministic", [True, False])
def test_a_told_warm_start_counts_or_is_raced(
    space: ConfigurationSpace, deterministic: bool
) -> None:
    """A result told for a configuration that was never asked, on seed 0 (not a raced seed):
    a deterministic run takes it as is; another runs the configuration on its own seeds."""
    smac = SMAC(
        Scenario(space, n_trials=20, deterministic=deterministic, output_directory=None),
        lambda config, seed: (config["x"] - 1) ** 2 + (config["y"] - 1) ** 2,
        preset="random",
        progress=False,
    )
    good = Configuration(space, values={"x": 1.0, "y": 1.0})
    smac.tell(TrialInfo(good, seed=0), TrialValue(cost=0.0))
    assert smac.incumbents == ([good] if deterministic else [])
    assert smac.optimize() == good
    runs = [k.seed for k, _ in smac.runhistory.items() if k.config_id == 1]
    assert len(runs) == (1 if deterministic else 4)  # seed 0, and the 3 raced seeds


def test_more_calls_than_a_deterministic_scenario_has_keys_are_warned_of(
    space: ConfigurationSpace, caplog: pytest.LogCaptureFixture
) -> None:
    """It ran one seed per instance without a word (an audit's finding)."""
    with caplog.at_level("WARNING", logger="smacx"):
        racing = build(
            space, RunHistory(space), Intensifier(max_config_calls=5), deterministic=True
        )
    assert len(racing.keys) == 1
    assert "max_config_calls=5: a deterministic scenario" in caplog.text


def test_a_tie_in_the_race_is_compared_again_only_when_a_result_changes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a plateau every configuration that ties with the incumbent stays in the race, and
    each ask compared all of them again: 11,076 comparisons over 400 trials, and asks slowed
    as the run went on (a scale audit's finding). Now one per new result."""
    calls = []
    worse = Racing._worse

    def counted(self: Racing, config_id: int, best: int) -> bool:
        calls.append(config_id)
        return worse(self, config_id, best)

    monkeypatch.setattr(Racing, "_worse", counted)
    cs = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    smac = SMAC(
        Scenario(cs, n_trials=400, deterministic=True, output_directory=None), preset="random"
    )
    for _ in range(400):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=float(round(4 * info.config["x"]))))
    # (the ties stayed in the race, compared once per new result; run on their only key,
    # they now leave it, and are not compared at all)
    assert len(smac.intensifier._active) <= 2
    assert len(calls) <= 400


def test_a_warm_start_of_a_noisy_run_races_its_best_told_configurations_only() -> None:
    """Told results on seeds that are not raced: each configuration ran on the raced keys,
    in the order told, before anything new was proposed (an audit's finding: of 10 trials
    left after 50 told, all went to told configurations 1-10, and the run ended at a cost
    28 times the best told one). Now the best told one is raced first, and one told worse
    than the incumbent is not raced."""
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    smac = SMAC(
        Scenario(space, n_trials=40, deterministic=False, output_directory=None, seed=0),
        progress=False,
    )
    told = [Configuration(space, values={"x": x}) for x in np.linspace(-5.0, 5.0, 21)]
    for config in told:
        smac.tell(TrialInfo(config, seed=12345), TrialValue(cost=config["x"] ** 2))
    raced = []
    for _ in range(12):
        info = smac.ask()
        raced.append(info.config["x"])
        smac.tell(info, TrialValue(cost=info.config["x"] ** 2))
    told_x = {c["x"] for c in told}
    again = [x for x in raced if x in told_x]
    assert raced[0] == 0.0  # the best told configuration first
    # the incumbent (x = 0, cost 0) leaves no other told configuration as good
    assert set(again) == {0.0}


def test_a_warm_start_of_a_noisy_run_with_two_objectives_races_its_told_front_only() -> None:
    """With two objectives every told configuration was raced, in the order told (a
    multi-objective audit: 30 of 30 trials after 40 told). Now only those on the front of
    the told costs are: here x in [0, 1] of 21 told in [-2, 3], with costs (x^2, (x-1)^2)."""
    from smacx.intensifier import first_front

    space = ConfigurationSpace({"x": (-2.0, 3.0)}, seed=0)
    scenario = Scenario(
        space,
        n_trials=60,
        deterministic=False,
        output_directory=None,
        seed=0,
        objectives=["a", "b"],
    )
    smac = SMAC(scenario, progress=False)

    def costs(x: float) -> list[float]:
        return [x**2, (x - 1.0) ** 2]

    told = [Configuration(space, values={"x": x}) for x in np.linspace(-2.0, 3.0, 21)]
    for config in told:
        smac.tell(TrialInfo(config, seed=12345), TrialValue(cost=costs(config["x"])))
    front = first_front(np.array([costs(c["x"]) for c in told]))
    on_front = {c["x"] for c, on in zip(told, front) if on}
    assert on_front == {0.0, 0.25, 0.5, 0.75, 1.0}
    raced = []
    for _ in range(20):
        info = smac.ask()
        raced.append(info.config["x"])
        smac.tell(info, TrialValue(cost=costs(info.config["x"])))
    told_x = {c["x"] for c in told}
    again = {x for x in raced if x in told_x}
    assert again == on_front
    assert len(set(raced) - told_x) >= 5  # the model proposes too


def test_a_noisy_run_of_costs_near_the_largest_float_keeps_a_finite_incumbent(
    space: ConfigurationSpace,
) -> None:
    """The mean over seeds of finite costs of 1e308 to 1.5e308 overflowed to inf: the
    incumbent's cost was inf, and it was not the configuration of the best mean."""
    import warnings

    from smacx import SMAC, Scenario

    def target(config: Configuration, seed: int) -> float:
        return 1e308 * (1.0 + abs(config["x"]) / 10.0)

    scenario = Scenario(space, n_trials=30, deterministic=False, seed=0, output_directory=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        smac = SMAC(scenario, target, progress=False)
        smac.optimize()
    history = smac.runhistory
    most = max(len(history.get_trials(c)) for c in history.get_configs())
    best = min(
        (c for c in history.get_configs() if len(history.get_trials(c)) == most),
        key=history.get_cost,
    )
    assert math.isfinite(smac.incumbent_cost) and smac.incumbent == best


def test_a_told_warm_start_near_the_largest_float_is_raced(space: ConfigurationSpace) -> None:
    """Told 1.25e308 on two seeds, a configuration better than the incumbent (1.3e308) read
    as inf (its sum overflowed) and was never raced; told once, it was (a review's finding)."""
    from smacx import SMAC, Scenario

    scenario = Scenario(space, n_trials=40, deterministic=False, seed=0, output_directory=None)
    smac = SMAC(scenario, progress=False)
    for _ in range(8):
        smac.tell(smac.ask(), TrialValue(cost=1.3e308))
    warm = Configuration(space, values={"x": 0.123, "y": 0.5})
    for seed in (7777, 8888):  # seeds the run does not race on
        smac.tell(TrialInfo(warm, seed=seed), TrialValue(cost=1.25e308))
    assert any(smac.ask().config == warm for _ in range(6))


def test_subnormal_costs_rank_as_they_are() -> None:
    """Halving every cost (to keep ranges near 1e308 from overflowing) sent 5e-324 to 0 and
    changed a front's order; only a range beyond the floats' is halved (a review's finding)."""
    from smacx.intensifier import rank_configs

    costs = np.array([[0.0, 1.0], [5e-324, 0.6], [1e-323, 0.0]])  # scaled means 0.5, 0.55, 0.5
    assert rank_configs([0, 1, 2], costs) == [0, 2, 1]
    wide = np.array([[-1e308, 1e308], [0.0, 0.2e308], [1e308, -1e308]])  # (halved)
    assert rank_configs([0, 1, 2], wide) == [0, 2, 1]  # scaled means 0.5, 0.55, 0.5


def test_objectives_whose_range_exceeds_the_largest_float_rank_without_warnings() -> None:
    """Costs from -1e308 to 1e308 overflowed the ranges of the front's tie-break and spread,
    and numpy's warnings reached the user on every result."""
    import warnings

    from smacx import SMAC, Scenario

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)

    def target(config: Configuration, seed: int) -> dict[str, float]:
        a = 1e308 * (2 * config["x"] - 1)
        return {"a": a, "b": -a + 1e305 * config["y"]}

    scenario = Scenario(
        space, n_trials=25, seed=0, deterministic=True, objectives=["a", "b"], output_directory=None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        smac = SMAC(scenario, target, progress=False)
        smac.optimize()
    history = smac.runhistory
    costs = {c: history.get_trial_values(c).popitem()[1].costs() for c in history.get_configs()}

    def dominated(a: list[float]) -> bool:
        return any(all(x <= y for x, y in zip(b, a)) and b != a for b in costs.values())

    assert len(smac.incumbents) >= 2
    assert not any(dominated(costs[c]) for c in smac.incumbents)


def _tell_in_turn(
    space: ConfigurationSpace, results: list[tuple[str, int, float]]
) -> tuple[RunHistory, dict[str, Configuration], list[list[int]]]:
    """Tell ``(config name, key index, cost)`` results of a noisy run (3 keys) in turn; the
    incumbents' ids after each one."""
    rh = RunHistory(space)
    racing = build(space, rh)
    configs = dict(zip("abc", space.sample_configuration(3)))
    seen = []
    for name, index, cost in results:
        instance, seed = racing.keys[index]
        run(rh, TrialInfo(configs[name], instance=instance, seed=seed), cost)
        seen.append([rh.get_config_id(c) for c in racing.incumbents()])
    return rh, configs, seen


def test_an_incumbent_beaten_on_the_seed_both_ran_does_not_come_back_by_its_next_seed(
    space: ConfigurationSpace,
) -> None:
    """Two workers: "b" leads after its first seed and gets its second; "a", better on the
    first seed, takes the lead; then b's second seed ends. b came back as the incumbent, with
    more keys (an audit: 34.4 returned over 0.022; SMAC3 keeps a). Now a leads, on the seed
    both ran, whatever order the results came in, and after a resume too."""
    orders = [
        [("b", 0, 34.4), ("a", 0, 0.022), ("b", 1, 34.4)],
        [("b", 0, 34.4), ("b", 1, 34.4), ("a", 0, 0.022)],  # a ends after b's second seed
    ]
    for order in orders:
        rh, configs, seen = _tell_in_turn(space, order)
        a = rh.get_config_id(configs["a"])
        assert seen[-1][0] == a, (order, seen)
        racing = build(space, rh)  # a resumed run reads the same history at once
        assert racing.incumbents()[0] == configs["a"]
        assert racing.incumbent_costs() == [0.022]
        assert [k.config_id for k in racing.incumbent_keys()] == [a]
        # The leader runs the next seed first, as the incumbent does.
        info = racing.ask()
        assert (info.config, info.seed) == (configs["a"], racing.keys[1][1])
    # Once it has, the two are compared on both seeds.
    rh, configs, seen = _tell_in_turn(space, [*orders[0], ("a", 1, 0.03)])
    assert seen[-1][0] == rh.get_config_id(configs["a"])
    assert build(space, rh).incumbent_costs() == [pytest.approx(0.026)]


def test_an_incumbent_with_more_seeds_stays_while_a_challenger_two_seeds_behind_leads(
    space: ConfigurationSpace,
) -> None:
    """A challenger better on the first seed than an incumbent that ran three does not take
    over on one seed (as in SMAC3: it races on); one seed behind, it does."""
    rh, configs, seen = _tell_in_turn(
        space, [("b", 0, 1.0), ("b", 1, 1.2), ("b", 2, 1.1), ("a", 0, 0.5)]
    )
    b = rh.get_config_id(configs["b"])
    assert seen[-1][0] == b
    assert build(space, rh).incumbent_costs() == [pytest.approx(1.1)]
    rh, configs, seen = _tell_in_turn(
        space, [("b", 0, 1.0), ("b", 1, 1.2), ("b", 2, 1.1), ("a", 0, 0.5), ("a", 1, 0.9)]
    )
    assert seen[-1][0] == rh.get_config_id(configs["a"])
    assert build(space, rh).incumbent_costs() == [pytest.approx(0.7)]


def _lucky_first_key(lucky: bool, space_size: int, n_asks: int) -> tuple[SMAC, list[Any]]:
    """ask/tell on 4 instances: the first configuration costs 1 everywhere, the second 0.5
    on its first instance when ``lucky`` (10 after, and always 10 when not), the others 2
    (a finite space of ``space_size`` choices stops the loop when it is exhausted)."""
    cs = ConfigurationSpace(seed=0)
    cs.add(Categorical("c", [f"v{i}" for i in range(space_size)]))
    sc = Scenario(
        cs, instances=["i0", "i1", "i2", "i3"], deterministic=True, output_directory=None, seed=0
    )
    smac = SMAC(sc, progress=False)
    order: list[Any] = []
    told_second = 0
    for _ in range(n_asks):
        try:
            info = smac.ask()
        except SearchSpaceExhaustedError:
            break
        if info.config not in order:
            order.append(info.config)
        k = order.index(info.config)
        cost = 1.0 if k == 0 else 2.0
        if k == 1:
            cost = 0.5 if lucky and told_second == 0 else 10.0
            told_second += 1
        smac.tell(info, TrialValue(cost=cost))
    return smac, order


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lucky", [False, True])
def test_an_incumbent_that_lost_the_lead_once_is_raced_on_every_key(lucky: bool) -> None:
    """A challenger lucky on its first key led for one result, and the incumbent, rejected
    against it meanwhile, was never run on another instance when it led again: a run kept
    to 2 of 4 instances, and on a finite space ask() looped for ever (an audit's findings)."""
    smac, order = _lucky_first_key(lucky, space_size=3, n_asks=30)
    assert smac.incumbent == order[0]
    assert sorted(k.instance for k in smac.intensifier.incumbent_keys()) == ["i0", "i1", "i2", "i3"]
    smac, order = _lucky_first_key(lucky, space_size=50, n_asks=60)
    assert smac.incumbent == order[0]
    assert len(smac.intensifier.incumbent_keys()) == 4
    assert {k.instance for k, _ in smac.runhistory.items()} == {"i0", "i1", "i2", "i3"}


def test_a_median_is_taken_per_instance_then_averaged() -> None:
    """One median over every instance's samples was the middle instance's cost whatever the
    others' (costs 1, 10 and 100 + 100 x on three instances: always 10), so a knob that
    mattered on one instance was ignored (an audit's finding)."""
    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (0.0, 1.0)))
    instances = ["small", "medium", "big"]
    sc = Scenario(cs, instances=instances, deterministic=False, output_directory=None, seed=0)
    smac = SMAC(sc, intensifier=Intensifier(aggregate="median"), progress=False)
    base = {"small": 1.0, "medium": 10.0}
    for _ in range(60):
        info = smac.ask()
        x = float(info.config["x"])
        smac.tell(info, TrialValue(cost=base.get(str(info.instance), 100.0 + 100.0 * x)))
    best = smac.incumbent
    assert best is not None
    keys = smac.intensifier.incumbent_keys()
    assert {k.instance for k in keys} == set(instances)
    expected = (1.0 + 10.0 + 100.0 + 100.0 * float(best["x"])) / 3
    assert smac.incumbent_cost == pytest.approx(expected)
    # the best x over the configurations that ran on every instance
    xs = [float(c["x"]) for c in smac.runhistory.get_configs()]
    assert float(best["x"]) <= sorted(xs)[len(xs) // 2]
