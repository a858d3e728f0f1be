from __future__ import annotations

from ConfigSpace import ConfigurationSpace

from smacx import Intensifier, RunHistory, Scenario, StatusType, TrialValue
from smacx.selector import ConfigSelector


def build(space: ConfigurationSpace, rh: RunHistory, **kw: object) -> Intensifier:
    scenario = Scenario(space, output_directory=None, **kw)  # type: ignore[arg-type]
    design = space.sample_configuration(4)
    return Intensifier(scenario, ConfigSelector(space, design, seed=0), rh)


def test_each_config_runs_on_every_instance_with_fixed_seeds(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    intensifier = build(space, rh, instances=["i1", "i2", "i3"], deterministic=True)
    trials = []
    for _ in range(6):
        info = intensifier.ask()
        rh.add_running(info)
        trials.append(info)
    assert [t.instance for t in trials] == ["i1", "i2", "i3"] * 2
    assert len({t.seed for t in trials}) == 1  # deterministic: one seed for all instances
    assert trials[0].config == trials[2].config != trials[3].config


def test_incumbent_needs_every_key_and_success(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    intensifier = build(space, rh, instances=["i1", "i2"])
    infos = [intensifier.ask() for _ in range(4)]
    for info, cost in zip(infos[:3], [5.0, 5.0, 1.0]):
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost))
    assert intensifier.incumbents() == [infos[0].config]  # the second config is incomplete
    rh.add_running(infos[3])
    rh.add(infos[3], TrialValue(cost=2.0))
    assert intensifier.incumbents() == [infos[2].config]


def test_crashed_config_is_never_incumbent(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    intensifier = build(space, rh)
    info = intensifier.ask()
    rh.add_running(info)
    rh.add(info, TrialValue(cost=-1.0, status=StatusType.CRASHED))
    assert intensifier.incumbents() == []


def test_resume_queues_missing_keys(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    first = build(space, rh, instances=["i1", "i2"])
    info = first.ask()
    rh.add_running(info)
    rh.add(info, TrialValue(cost=1.0))
    again = build(space, rh, instances=["i1", "i2"])
    nxt = again.ask()
    assert (nxt.config, nxt.instance) == (info.config, "i2")


def test_pareto_front_with_two_objectives(space: ConfigurationSpace) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    intensifier = build(space, rh, objectives=["a", "b"])
    costs = [[0.0, 5.0], [5.0, 0.0], [6.0, 6.0], [1.0, 1.0]]
    infos = []
    for cost in costs:
        info = intensifier.ask()
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost))
        infos.append(info)
    front = intensifier.incumbents()
    assert set(front) == {infos[0].config, infos[1].config, infos[3].config}
    assert front[0] == infos[3].config  # lowest normalized mean first
