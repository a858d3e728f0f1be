from __future__ import annotations

import pytest
from ConfigSpace import Categorical, ConfigurationSpace

from smacx import RunHistory, SearchSpaceExhaustedError, TrialInfo, TrialValue
from smacx.selector import ConfigSelector


def test_initial_design_first_then_new_random_configs(space: ConfigurationSpace) -> None:
    design = space.sample_configuration(3)
    rh = RunHistory(space)
    rh.add_running(TrialInfo(design[1]))
    gen = ConfigSelector(space, design, seed=0).next_configs(rh)
    assert [next(gen), next(gen)] == [design[0], design[2]]
    tried = set(design)
    for _ in range(20):
        c = next(gen)
        assert c not in tried
        rh.add_running(TrialInfo(c))
        tried.add(c)


def test_finite_space_is_exhausted_with_a_clear_error() -> None:
    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("a", [1, 2]), Categorical("b", ["x", "y"])])
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    for _ in range(4):
        info = TrialInfo(next(gen))
        rh.add_running(info)
        rh.add(info, TrialValue(cost=1.0))
    with pytest.raises(SearchSpaceExhaustedError, match="holds about 4"):
        next(gen)


def test_proposals_while_trials_run_are_distinct(space: ConfigurationSpace) -> None:
    """The constant liar: 8 asks without a tell give 8 different, separated configurations."""
    import numpy as np

    from smacx import SMAC, Scenario

    smac = SMAC(
        Scenario(space, n_trials=100, deterministic=True, output_directory=None),
        random_probability=0.0,
    )
    for _ in range(20):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=(info.config["x"] - 1) ** 2 + (info.config["y"] + 2) ** 2))
    batch = [smac.ask() for _ in range(8)]
    points = np.array([[b.config["x"], b.config["y"]] for b in batch])
    gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))[~np.eye(8, dtype=bool)]
    assert len({b.config for b in batch}) == 8
    assert gaps.min() > 0.02  # not the same point with tiny perturbations


def test_one_fit_serves_several_proposals_only_while_many_trials_run(
    space: ConfigurationSpace,
) -> None:
    """Serial runs fit for every proposal; with 32 trials running, a fit serves several."""
    import numpy as np

    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    class CountingForest(RandomForest):
        fits = 0

        def fit(self, X: np.ndarray, y: np.ndarray) -> CountingForest:
            CountingForest.fits += 1
            super().fit(X, y)
            return self

    def cost(config: object) -> float:
        return float((config["x"] - 1) ** 2 + (config["y"] + 2) ** 2)  # type: ignore[index]

    enc = Encoder(space)
    proposer = ModelProposer(
        enc, CountingForest(), LogEI(), LocalAndRandomSearch(enc, n_random=100, max_steps=5)
    )
    rng = np.random.default_rng(0)
    rh = RunHistory(space)
    for config in space.sample_configuration(10):
        info = TrialInfo(config)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost(config)))
    # Serial: a result arrives before every proposal, so every proposal fits.
    for _ in range(5):
        config = proposer(rh, rng)
        assert config is not None and not rh.has_trials(config)
        info = TrialInfo(config)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost(config)))
    assert CountingForest.fits == 5
    # 32 running trials: one result per proposal still leaves the spare candidates usable.
    running: list[TrialInfo] = []

    def start_next() -> None:
        config = proposer(rh, rng)  # None: all candidates crowd running trials
        config = config if config is not None else space.sample_configuration()
        assert not rh.has_trials(config)
        running.append(TrialInfo(config))
        rh.add_running(running[-1])

    for _ in range(32):
        start_next()
    fits_before = CountingForest.fits
    for _ in range(10):
        done = running.pop(0)
        rh.add(done, TrialValue(cost=cost(done.config)))
        start_next()
    assert CountingForest.fits - fits_before <= 4  # not 10
