from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace

from smacx import RunHistory, ScenarioError, SearchSpaceExhaustedError, TrialInfo, TrialValue
from smacx.selector import ConfigSelector


def recording_parts(**forest: Any) -> tuple[Any, Any, list[Any], list[tuple[float, Any]]]:
    """A random forest that keeps the training values of every fit, a log-EI that keeps every
    cost to beat it is bound with (and the model it reads), and those two lists."""
    import numpy as np

    from smacx.acquisition import LogEI
    from smacx.models import RandomForest

    fitted: list[np.ndarray] = []
    bound: list[tuple[float, Any]] = []

    class RecordingForest(RandomForest):
        def fit(self, X: np.ndarray, y: np.ndarray) -> RecordingForest:
            fitted.append(np.array(y))
            return super().fit(X, y)

    class RecordingLogEI(LogEI):
        def bind(self, model, best_y):  # type: ignore[no-untyped-def]
            bound.append((best_y, model))
            return super().bind(model, best_y)

    return RecordingForest(**forest), RecordingLogEI(), fitted, bound


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


def test_a_history_past_its_design_skips_the_drawn_configs_left(
    space: ConfigurationSpace,
) -> None:
    """Only the configurations the user gave (the first n_given) are still handed out."""
    given, *drawn = space.sample_configuration(5)
    rh = RunHistory(space)
    rh.add_running(TrialInfo(drawn[0]))
    selector = ConfigSelector(space, [given, *drawn], n_given=1, seed=0)
    assert selector.next_config(rh) == given
    assert selector.next_config(rh) == drawn[1]  # within the design: it goes on
    past = space.sample_configuration()
    past.origin = "model"
    rh.add_config(past, origin="model")
    assert "model" in rh.origins()
    proposed = selector.next_config(rh)
    assert proposed not in drawn and proposed.origin == "random"
    for wrong in (-1, 1.5, "2", 6):
        with pytest.raises(ScenarioError, match=rf"n_given: expected a whole number .* {wrong!r}"):
            ConfigSelector(space, [given, *drawn], n_given=wrong)  # type: ignore[arg-type]


def test_finite_space_is_exhausted_with_a_clear_error() -> None:
    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("a", [1, 2]), Categorical("b", ["x", "y"])])
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    for _ in range(4):
        info = TrialInfo(next(gen))
        rh.add_running(info)
        rh.add(info, TrialValue(cost=1.0))
    with pytest.raises(SearchSpaceExhaustedError, match="holds 4"):
        next(gen)


def test_an_exception_in_one_proposal_leaves_the_next_ones_working(
    space: ConfigurationSpace,
) -> None:
    """Ctrl-C during a fit reaches the caller; the following asks propose as before."""
    from smacx import SMAC, Scenario
    from smacx.models import RandomForest

    class InterruptedOnce(RandomForest):
        fits = 0

        def fit(self, X, y):  # type: ignore[no-untyped-def]
            InterruptedOnce.fits += 1
            if InterruptedOnce.fits == 1:
                raise KeyboardInterrupt
            return super().fit(X, y)

    smac = SMAC(
        Scenario(space, n_trials=40, deterministic=True, output_directory=None),
        model=InterruptedOnce(seed=0),
        random_probability=0.0,
    )
    interrupted = 0
    for _ in range(20):
        try:
            info = smac.ask()
        except KeyboardInterrupt:
            interrupted += 1
            continue
        smac.tell(info, TrialValue(cost=info.config["x"] ** 2))
    assert interrupted == 1
    assert smac.runhistory.n_finished == 19
    assert InterruptedOnce.fits > 2  # the model kept proposing after the interrupt


def test_exhaustion_is_raised_again_on_every_later_pull() -> None:
    cs = ConfigurationSpace(seed=0)
    cs.add([Categorical("a", [1, 2])])
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    for _ in range(2):
        info = TrialInfo(next(gen))
        rh.add_running(info)
    for _ in range(2):
        with pytest.raises(SearchSpaceExhaustedError):
            next(gen)


def test_random_configs_reach_values_the_priors_almost_never_draw() -> None:
    """Six configurations, four of them with a prior weight of 1e-7: all six are proposed."""
    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            Categorical("a", ["common", "rare1", "rare2"], weights=[1 - 2e-7, 1e-7, 1e-7]),
            Categorical("b", ["p", "q"]),
        ]
    )
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    for _ in range(6):
        rh.add_running(TrialInfo(next(gen)))
    assert {c["a"] for c in rh.get_configs()} == {"common", "rare1", "rare2"}
    with pytest.raises(SearchSpaceExhaustedError):
        next(gen)


def test_blackbox_preset_marginalizes_the_process_over_instances() -> None:
    """The Gaussian process has no marginalized prediction of its own: the selector averages
    its predictions over the instances (cost x**2 + instance index; best x is 0)."""
    from ConfigSpace import Float

    from smacx import SMAC, Scenario

    cs = ConfigurationSpace(seed=0)
    cs.add([Float("x", (0.0, 1.0)), Float("y", (0.0, 1.0))])
    names = ["i0", "i1", "i2"]
    sc = Scenario(
        cs,
        n_trials=30,
        instances=names,
        instance_features={name: [k, 2.0 * k] for k, name in enumerate(names)},
        deterministic=True,
        output_directory=None,
    )
    smac = SMAC(sc, preset="blackbox", progress=False)
    for _ in range(30):
        info = smac.ask()
        assert info.instance is not None
        smac.tell(info, TrialValue(cost=info.config["x"] ** 2 + int(info.instance[1:])))
    assert smac.incumbent is not None and smac.incumbent["x"] < 0.2


def test_a_new_best_below_the_last_fit_is_fitted_before_it_is_bound(
    space: ConfigurationSpace,
) -> None:
    """Far above ``refit_above`` observations the model is fitted every second result; a new
    best cost outside the last fit's range still is, so the acquisition function never sees
    it through a stale log offset (which mapped it to log(1e-300) = -690.8)."""
    from smacx import SMAC, Scenario
    from smacx.acquisition import LogEI

    bound: list[float] = []

    class Recording(LogEI):
        def bind(self, model, best_y):  # type: ignore[no-untyped-def]
            bound.append(best_y)
            return super().bind(model, best_y)

    smac = SMAC(
        Scenario(space, n_trials=60, deterministic=True, output_directory=None),
        acquisition=Recording(),
        random_probability=0.0,
    )
    assert smac.selector.proposer is not None
    smac.selector.proposer.refit_above = -100  # type: ignore[attr-defined]  # every 2nd
    for t in range(40):
        info = smac.ask()
        smac.tell(info, TrialValue(cost=-float(t)))  # every result a new best
    assert min(bound) > -20.0


def test_proposals_while_trials_run_are_distinct(space: ConfigurationSpace) -> None:
    """8 asks without a tell give 8 different configurations, each outside the balls of those
    asked before it (radius: half the distance to the nearest evaluated configuration, at most
    0.05 encoded units). Refinements next to the best one may sit close together, so no fixed
    gap is asserted: how close depended on the random draws (scipy 1.10's Sobol sequence gave
    a closest pair at 0.017, others 0.001)."""
    import numpy as np

    from smacx import SMAC, Scenario

    for seed in range(3):
        smac = SMAC(
            Scenario(space, n_trials=100, deterministic=True, output_directory=None, seed=seed),
            random_probability=0.0,
        )
        told = []
        for _ in range(20):
            info = smac.ask()
            x, y = info.config["x"], info.config["y"]
            told.append([x, y])
            smac.tell(info, TrialValue(cost=(x - 1) ** 2 + (y + 2) ** 2))
        batch = [smac.ask() for _ in range(8)]
        assert len({b.config for b in batch}) == 8
        points = (np.array([[b.config["x"], b.config["y"]] for b in batch]) + 5) / 10
        evaluated = (np.array(told) + 5) / 10
        nearest = np.sqrt(((points[:, None] - evaluated[None]) ** 2).sum(-1)).min(axis=1)
        radii = np.minimum(0.05, 0.5 * nearest)
        gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
        for i in range(8):
            assert (gaps[i, :i] >= radii[:i] - 1e-12).all(), (seed, i, gaps[i, :i], radii[:i])


def test_one_fit_serves_several_proposals_only_while_many_trials_run(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serial runs fit for every proposal; with 32 trials running and results arriving 1 ms
    apart while a fit takes 5 ms (on the test's clock), a fit serves several."""
    import numpy as np

    import smacx.selector as selector
    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    clock = [0.0]
    monkeypatch.setattr(selector.time, "perf_counter", lambda: clock[0])

    class CountingForest(RandomForest):
        fits = 0

        def fit(self, X: np.ndarray, y: np.ndarray) -> CountingForest:
            CountingForest.fits += 1
            clock[0] += 0.005
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
    for i in range(10):
        done = running.pop(0)
        clock[0] = 1.0 + 0.001 * i  # results 1 ms apart, however long the fits take
        rh.add(done, TrialValue(cost=cost(done.config)))
        start_next()
    assert CountingForest.fits - fits_before <= 4  # not 10


def _forest_on(X, y):  # type: ignore[no-untyped-def]
    from smacx.models import RandomForest

    return RandomForest(n_trees=5, seed=0).fit(X, y)


def test_extrapolating_view_adds_variance_that_grows_with_distance() -> None:
    """Closed form: a forest fitted on constant costs predicts variance 0 everywhere, so the
    view's variance is exactly scale * (1 - exp(-d**2 / (2 length**2))) at distance d."""
    import numpy as np

    from smacx.selector import _Extrapolating

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    view = _Extrapolating(_forest_on(X, np.ones(2)), X, 0.1, 2.0, lambda rows: rows)
    Q = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [0.5, 0.5]])
    mean, var = view.predict(Q)
    d = np.array([0.0, 0.1, 0.2, np.sqrt(0.5)])
    np.testing.assert_allclose(mean, 1.0)
    np.testing.assert_allclose(var, 2.0 * (1.0 - np.exp(-0.5 * (d / 0.1) ** 2)), atol=1e-12)
    assert var[0] == 0.0 and var[-1] == pytest.approx(2.0)
    empty_mean, empty_var = view.predict(np.empty((0, 2)))
    assert empty_mean.shape == empty_var.shape == (0,)


def _proposer(space: ConfigurationSpace, extrapolation: float):  # type: ignore[no-untyped-def]
    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    enc = Encoder(space)
    return ModelProposer(
        enc,
        RandomForest(log_y=True, seed=0),
        LogEI(),
        LocalAndRandomSearch(enc, seed=0),
        extrapolation=extrapolation,
    )


def test_extrapolation_acts_only_once_observations_cover_the_space() -> None:
    """2-d: none of it below 3 observations per axis (n < 9), all of it from 6 (n >= 36),
    with the length scale half the spacing n ** (-1 / 2) and the scale the costs' variance."""
    import numpy as np

    from smacx.selector import _Extrapolating

    space = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0)}, seed=0)
    proposer = _proposer(space, extrapolation=1.0)
    rng = np.random.default_rng(0)
    for n, share in [(8, 0.0), (16, 1.0 / 3.0), (36, 1.0), (100, 1.0)]:
        X, y = rng.random((n, 2)), rng.random(n) + 0.5
        proposer.model.fit(X, y)
        view = proposer._extrapolating(proposer.model, X, y)
        if share == 0.0:
            assert view is proposer.model
            continue
        assert isinstance(view, _Extrapolating)
        assert view.length == pytest.approx(0.5 / np.sqrt(n))
        assert view.scale == pytest.approx(share * np.var(np.log(y)))
    off = _proposer(space, extrapolation=0.0)
    X, y = rng.random((100, 2)), rng.random(100) + 0.5
    off.model.fit(X, y)
    assert off._extrapolating(off.model, X, y) is off.model


def test_extrapolation_distance_puts_every_pair_of_choices_one_apart() -> None:
    """Categorical codes 0, 1, 2 are not on a line: any two different choices are 1 apart."""
    import numpy as np

    space = ConfigurationSpace({"c": ["p", "q", "r"], "x": (0.0, 1.0)}, seed=0)
    proposer = _proposer(space, extrapolation=1.0)
    c = list(space.keys()).index("c")
    X = np.zeros((3, 2))
    X[:, c] = [0.0, 1.0, 2.0]
    E = proposer._embed(X)
    d = np.sqrt(((E[:, None] - E[None]) ** 2).sum(-1))
    np.testing.assert_allclose(d, 1.0 - np.eye(3))


def test_negative_extrapolation_is_refused_by_name() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with pytest.raises(ValueError, match=r"ModelProposer.extrapolation: expected .* got -1"):
        _proposer(space, extrapolation=-1.0)


def test_presets_use_extrapolation_with_forests_only() -> None:
    from smacx import SMAC, Scenario
    from smacx.models import GaussianProcess, RandomForest

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=10, output_directory=None)

    def shares(**kwargs: object) -> float:
        proposer = SMAC(scenario, **kwargs).selector.proposer  # type: ignore[arg-type]
        return proposer.extrapolation  # type: ignore[union-attr]

    assert shares() == 1.0
    assert shares(model=RandomForest(n_trees=20)) == 1.0
    assert shares(model=GaussianProcess()) == 0.0
    assert shares(preset="blackbox") == 0.0
    assert shares(preset="blackbox", model=RandomForest()) == 1.0


def test_extrapolation_counts_configurations_not_trials() -> None:
    """Three seeds or instances of each of 36 configurations cover a 2-d space like 36."""
    import numpy as np

    space = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0)}, seed=0)
    proposer = _proposer(space, extrapolation=1.0)
    rng = np.random.default_rng(1)
    X = np.repeat(rng.random((36, 2)), 3, axis=0)
    y = rng.random(108) + 0.5
    proposer.model.fit(X, y)
    view = proposer._extrapolating(proposer.model, X, y)
    assert view.length == pytest.approx(0.5 / 6.0)
    assert len(view.coverage) == 36


def test_the_coverage_kept_between_searches_gives_the_distances_of_a_fresh_tree() -> None:
    """The tree over the evaluated configurations was rebuilt for every proposal (25 ms at
    20,000 trials); kept, with the rows added since in a second tree, it must give every
    distance exactly as one tree over the distinct rows does, also when the rows change."""
    import numpy as np
    from scipy.spatial import cKDTree

    from smacx.selector import _Coverage

    rng = np.random.default_rng(4)
    coverage = _Coverage(lambda rows: rows * 2.0)
    rows = np.empty((0, 3))
    for step in range(60):
        new = np.round(rng.random((int(rng.integers(1, 40)), 3)), 1)  # repeats among them
        rows = new if step == 30 else np.vstack([rows, new])  # (at 30: other rows)
        assert coverage.update(rows) == len(np.unique(rows, axis=0))
        Z = rng.random((50, 3)) * 2.0
        fresh = cKDTree(np.unique(rows, axis=0) * 2.0).query(Z)[0]
        assert np.array_equal(coverage.distance(Z), fresh)
    # It keeps copies of the distinct rows, not the matrices they came in: one view per
    # search kept every training matrix alive (a review: 490 MB at 4,000 rows of 8 columns).
    import weakref

    big = np.vstack([rows, rng.random((5, 3))])
    gone = weakref.ref(big)
    coverage.update(big)
    coverage.update(np.vstack([big, rng.random((5, 3))]))
    del big
    assert gone() is None


def test_the_coverage_of_wide_categoricals_gives_the_distances_of_their_embedding() -> None:
    """With categoricals of hundreds of choices, the k-d tree over their one-hot embedding
    searched at the cost of every row (0.6 s per proposal, an audit of large spaces); the
    encodings are compared as they are instead, to the same distances, inactive values (a
    row of zeros in the embedding) and repeated rows included."""
    import numpy as np
    from scipy.spatial import cKDTree

    from smacx.encoding import INACTIVE
    from smacx.selector import _Coverage

    rng = np.random.default_rng(5)
    columns, choices = np.array([1, 3]), np.array([300, 4])

    def rows(k: int) -> np.ndarray:
        X = rng.random((k, 4))
        X[:, 1] = rng.integers(0, 300, k)
        X[:, 3] = rng.integers(0, 4, k)
        X[rng.random(k) < 0.2, 3] = INACTIVE
        X[rng.random(k) < 0.2, 2] = INACTIVE
        return X

    def embed(X: np.ndarray) -> np.ndarray:
        hot = [
            (X[:, [j]] == np.arange(n)[None, :]) * np.sqrt(0.5) for j, n in zip(columns, choices)
        ]
        return np.hstack([X[:, [0, 2]], *hot])

    coverage = _Coverage(lambda r: r, (columns, choices))
    seen = np.empty((0, 4))
    for _ in range(12):
        seen = np.vstack([seen, rows(int(rng.integers(1, 60)))])
        seen = np.vstack([seen, seen[:3]])  # (repeats)
        assert coverage.update(seen) == len(np.unique(seen, axis=0))
        Z = np.vstack([rows(700), seen[:5]])
        expected = cKDTree(embed(np.unique(seen, axis=0))).query(embed(Z))[0]
        # (up to the rounding of distances from products of the rows: 2e-12)
        assert np.allclose(coverage.distance(Z), expected, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize(("seconds_per_result", "allowed"), [(1.0, 0), (0.01, 2), (0.001, 8)])
def test_proposals_may_be_late_by_what_a_fit_costs_in_results(
    monkeypatch: pytest.MonkeyPatch, seconds_per_result: float, allowed: int
) -> None:
    """With 48 trials running and a proposal with a fit taking 10 ms, fits may take half the
    time between results: slow results (1 s) allow no late proposal, 10 ms two, and fast ones
    (1 ms) the cap of (48 - 16) / 4. A first slow interval (the start) does not count."""
    import numpy as np

    import smacx.selector as selector

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    proposer = _proposer(space, extrapolation=0.0)
    proposer._fit_seconds = 0.01
    clock = [0.0]
    monkeypatch.setattr(selector.time, "perf_counter", lambda: clock[0])
    rh = RunHistory(space)
    running = [TrialInfo(c) for c in space.sample_configuration(56)]
    for info in running[:48]:
        rh.add_running(info)
    assert proposer._late_allowance(rh) == 8  # no rate known yet: the cap
    clock[0] = 100.0  # the first result after a slow start
    for i in range(8):
        rh.add(running[i], TrialValue(cost=float(np.sin(i))))
        rh.add_running(running[48 + i])
        proposer._late_allowance(rh)
        clock[0] += seconds_per_result
    assert rh.n_running == 48
    assert proposer._late_allowance(rh) == allowed


def test_with_sixteen_or_fewer_trials_running_no_proposal_is_late() -> None:
    """Up to 16 running trials every proposal has a fresh fit, however fast the results come;
    beyond, a quarter of the trials past 16 may be late."""
    from smacx.selector import _late_cap

    assert [_late_cap(k) for k in (0, 1, 8, 16, 19, 20, 64)] == [0, 0, 0, 0, 0, 1, 12]


class _CountingSearch:
    """A real local-and-random search that counts its calls."""

    def __init__(self, space: ConfigurationSpace) -> None:
        from smacx.encoding import Encoder
        from smacx.maximizer import LocalAndRandomSearch

        self.encoder = Encoder(space)
        self.search = LocalAndRandomSearch(self.encoder, n_random=200, max_steps=5)
        self.calls = 0

    def maximize(self, *args: object) -> object:
        self.calls += 1
        return self.search.maximize(*args)  # type: ignore[arg-type]


def _running_history(space: ConfigurationSpace, n_done: int, n_running: int):  # type: ignore[no-untyped-def]
    import numpy as np

    rh = RunHistory(space)
    infos = [TrialInfo(c) for c in space.sample_configuration(n_done + n_running)]
    for i, info in enumerate(infos):
        rh.add_running(info)
        if i < n_done:
            rh.add(info, TrialValue(cost=float(np.sin(3 * i))))
    return rh, infos[n_done:]


def test_prepare_searches_ahead_so_that_the_next_result_finds_a_proposal_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 48 trials running and no rate of results known yet, the next call may be late by
    its cap, (47 - 16) // 4 = 7 results: prepare() searches once and keeps 8 candidates, a second
    prepare() on the same history does not search, and the next result's proposal (and the
    six after it) comes from those candidates. With nothing running, prepare() does nothing."""
    import numpy as np

    import smacx.selector as selector
    from smacx.acquisition import LogEI
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    monkeypatch.setattr(selector.time, "perf_counter", lambda: 0.0)  # no rate is ever known
    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    search = _CountingSearch(space)
    proposer = ModelProposer(search.encoder, RandomForest(n_trees=5), LogEI(), search)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    idle, _ = _running_history(space, 10, 0)
    proposer.prepare(idle, rng)
    assert search.calls == 0
    rh, running = _running_history(space, 10, 48)
    proposer.prepare(rh, rng)
    assert search.calls == 1 and len(proposer._spare) == 8
    proposer.prepare(rh, rng)
    assert search.calls == 1
    for i in range(7):
        rh.add(running[i], TrialValue(cost=0.5))
        config = proposer(rh, rng)
        assert config is not None and not rh.has_trials(config)
        rh.add_running(TrialInfo(config))
    assert search.calls == 1


def test_a_burst_of_results_is_answered_by_one_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six results told at once free six workers: their six proposals share one search even
    when no proposal may be late (slow results), and they are distinct."""
    import numpy as np

    import smacx.selector as selector
    from smacx.acquisition import LogEI
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    search = _CountingSearch(space)
    proposer = ModelProposer(search.encoder, RandomForest(n_trees=5), LogEI(), search)  # type: ignore[arg-type]
    clock = [0.0]
    monkeypatch.setattr(selector.time, "perf_counter", lambda: clock[0])
    rng = np.random.default_rng(0)
    rh, running = _running_history(space, 10, 32)
    for i in range(3):  # results 1 s apart, each answered by a search
        proposer(rh, rng)
        proposer._fit_seconds = 0.01
        rh.add(running[i], TrialValue(cost=0.5))
        clock[0] += 1.0
    assert proposer._late_allowance(rh) == 0
    proposer(rh, rng)
    for info in running[3:9]:
        rh.add(info, TrialValue(cost=0.7))
    calls = search.calls
    burst = [proposer(rh, rng) for _ in range(6)]
    assert search.calls == calls + 1
    assert None not in burst and len(set(burst)) == 6


class _CountingProposer:
    """Proposes a fresh random configuration and counts its calls."""

    def __init__(self, space: ConfigurationSpace) -> None:
        self.space = space
        self.calls = 0

    def __call__(self, history: RunHistory, rng: object) -> object:
        self.calls += 1
        return self.space.sample_configuration()


def _model_share(selector: ConfigSelector, history: RunHistory, pulls: int = 400) -> float:
    proposer = selector.proposer
    assert isinstance(proposer, _CountingProposer)
    before = proposer.calls
    gen = selector.next_configs(history)
    for _ in range(pulls):
        next(gen)
    return (proposer.calls - before) / pulls


def _finish(history: RunHistory, config: object, cost: float | list[float]) -> None:
    info = TrialInfo(config)  # type: ignore[arg-type]
    history.add_running(info)
    history.add(info, TrialValue(cost=cost))


def _plateau_selector(space: ConfigurationSpace) -> ConfigSelector:
    """A selector with 5% random proposals, 50% on a plateau, and a counting proposer."""
    return ConfigSelector(
        space,
        [],
        random_probability=0.05,
        plateau_probability=0.5,
        seed=0,
        proposer=_CountingProposer(space),
    )


def test_a_tie_at_the_lowest_cost_raises_the_random_share_until_broken(
    space: ConfigurationSpace,
) -> None:
    """Two configurations share the lowest cost: half the proposals are random; a lower cost
    ends it, and a cost that differs by more than rounding is no tie."""
    a, b, c, d = space.sample_configuration(4)
    rh = RunHistory(space)
    selector = _plateau_selector(space)
    _finish(rh, a, 0.25)
    _finish(rh, b, 0.5)
    assert _model_share(selector, rh) > 0.9  # no tie: 1 in 20 random
    _finish(rh, c, 0.25 * (1 + 1e-12))  # equal up to rounding
    assert 0.4 < _model_share(selector, rh) < 0.6
    _finish(rh, d, 0.125)
    assert _model_share(selector, rh) > 0.9
    _finish(rh, space.sample_configuration(), 0.125 * (1 + 1e-6))
    assert _model_share(selector, rh) > 0.9


def test_costs_with_a_large_offset_tie_only_when_equal(space: ConfigurationSpace) -> None:
    """1e10 + f: distinct values of f are no plateau, however large the offset."""
    rh = RunHistory(space)
    selector = _plateau_selector(space)
    for f, config in zip([0.5, 3.0, 7.0, 9.0], space.sample_configuration(4)):
        _finish(rh, config, 1e10 + f)
    assert _model_share(selector, rh) > 0.9
    _finish(rh, space.sample_configuration(), 1e10 + 0.5)
    assert 0.4 < _model_share(selector, rh) < 0.6
    # nor does one huge cost make distinct small ones a tie
    rh = RunHistory(space)
    for cost, config in zip([0.5, 3.0, 7.0, 1e15], space.sample_configuration(4)):
        _finish(rh, config, cost)
    selector = _plateau_selector(space)
    assert _model_share(selector, rh) > 0.9


def test_the_plateau_rule_is_off_for_several_objectives_or_a_share_of_zero(
    space: ConfigurationSpace,
) -> None:
    a, b = space.sample_configuration(2)
    for objectives, plateau in ((["cost"], 0.0), (["time", "error"], 0.5)):
        rh = RunHistory(space, objectives=objectives)
        for config in (a, b):
            _finish(rh, config, [1.0] * len(objectives))
        selector = ConfigSelector(
            space, [], random_probability=0.0, plateau_probability=plateau, seed=0,
            proposer=_CountingProposer(space),
        )  # fmt: skip
        assert _model_share(selector, rh, pulls=50) == 1.0


def test_shares_outside_zero_to_one_are_refused_by_name(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match=r"plateau_probability: expected a share in \[0, 1\]"):
        ConfigSelector(space, [], plateau_probability=1.5)


def test_plateau_probability_defaults_to_half_for_hpo_without_budgets(
    space: ConfigurationSpace,
) -> None:
    from smacx import SMAC, Scenario

    scenario = Scenario(space, n_trials=10, deterministic=True, output_directory=None)
    assert SMAC(scenario).selector.plateau_probability == 0.5
    # (on for "blackbox" too: its proposals went to the box's corners on a plateau)
    assert SMAC(scenario, preset="blackbox").selector.plateau_probability == 0.5
    assert SMAC(scenario, preset="random").selector.plateau_probability == 0.0
    assert SMAC(scenario, plateau_probability=0.0).selector.plateau_probability == 0.0
    budgets = Scenario(
        space, n_trials=10, min_budget=1, max_budget=9, deterministic=True, output_directory=None
    )
    assert SMAC(budgets, preset="multifidelity").selector.plateau_probability == 0.0
    assert SMAC(budgets, preset="hpo").selector.plateau_probability == 0.0


def test_plateau_radius_is_the_presets_unless_given(space: ConfigurationSpace) -> None:
    import numpy as np

    from smacx import SMAC, Scenario
    from smacx.selector import ModelProposer

    scenario = Scenario(space, n_trials=10, deterministic=True, output_directory=None)

    def radius(smac: SMAC) -> float:
        proposer = smac.selector.proposer
        assert isinstance(proposer, ModelProposer)
        return proposer.plateau_radius

    assert radius(SMAC(scenario)) == 0.015
    assert radius(SMAC(scenario, preset="blackbox")) == 0.015
    assert radius(SMAC(scenario, plateau_radius=0)) == 0.0
    assert radius(SMAC(scenario, preset="blackbox", plateau_radius=np.float32(0.03))) == (
        pytest.approx(0.03)
    )


def test_the_hpo_preset_proposes_half_at_random_on_a_plateau(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ask/tell: 1 proposal in 20 is random while the lowest cost is unique, about
    half once a second configuration ties with it."""
    from smacx import SMAC, Scenario

    smac = SMAC(Scenario(space, n_trials=300, deterministic=True, output_directory=None))
    model = smac.selector.proposer
    calls = [0]

    def counted(history: RunHistory, rng: object) -> object:
        calls[0] += 1
        return model(history, rng)  # type: ignore[misc, arg-type]

    for i in range(30):  # past the initial design
        info = smac.ask()
        smac.tell(info, TrialValue(cost=1.0 + i))
    monkeypatch.setattr(smac.selector, "proposer", counted)

    def model_share(cost: float) -> float:
        before = calls[0]
        for _ in range(40):
            smac.tell(smac.ask(), TrialValue(cost=cost))
        return (calls[0] - before) / 40

    assert model_share(50.0) > 0.85
    smac.tell(smac.ask(), TrialValue(cost=1.0))  # ties with the first configuration
    assert 0.25 < model_share(50.0) < 0.75


def test_selector_prepares_only_after_the_design_and_with_a_model(
    space: ConfigurationSpace,
) -> None:
    """ConfigSelector.prepare reaches the proposer only once the initial design is handed out,
    and never when every proposal is random."""

    class Recording:
        def __init__(self) -> None:
            self.prepared = 0

        def __call__(self, history: RunHistory, rng: object) -> object:
            return None

        def prepare(self, history: RunHistory, rng: object) -> None:
            self.prepared += 1

    rh = RunHistory(space)
    for probability, expected in [(0.0, 1), (1.0, 0)]:
        proposer = Recording()
        selector = ConfigSelector(
            space,
            space.sample_configuration(2),
            random_probability=probability,
            proposer=proposer,
        )
        configs = selector.next_configs(rh)
        selector.prepare(rh)
        next(configs), next(configs)  # the design
        selector.prepare(rh)
        assert proposer.prepared == 0
        next(configs)  # past the design
        selector.prepare(rh)
        assert proposer.prepared == expected


def test_exclusion_radii_from_the_k_d_tree_match_the_distance_matrix() -> None:
    """Above _DENSE_PAIRS pairs the nearest evaluated row comes from a k-d tree; the radii are
    the same as from the full matrix: half the distance to the nearest row, capped."""
    import numpy as np

    from smacx.selector import _DENSE_PAIRS, _radii, _sq_dists

    rng = np.random.default_rng(0)
    rows, evaluated = rng.random((400, 6)), rng.random((1_000, 6))
    assert rows.shape[0] * evaluated.shape[0] > _DENSE_PAIRS
    dense = np.minimum(0.05, 0.5 * np.sqrt(_sq_dists(rows, evaluated).min(axis=1)))
    np.testing.assert_allclose(_radii(rows, evaluated, 0.05), dense, rtol=0, atol=1e-12)
    assert (dense < 0.05).any() and (dense == 0.05).any()  # both sides of the cap are covered
    # a row on an evaluated point blocks nothing; one far from all of them the cap
    edges = np.vstack([evaluated[:1], np.full((1, 6), 5.0), rows])
    np.testing.assert_allclose(_radii(edges, evaluated, 0.05)[:2], [0.0, 0.05], atol=1e-12)


def test_balls_looked_up_in_a_k_d_tree_match_the_distance_matrix() -> None:
    """Above _TREE_PAIRS pairs, _away_from finds the balls that hold a row with a k-d tree;
    it marks the same rows worst as the full matrix does (below the limit, the matrix), also
    where more centres than it looks at first crowd around a row: a cluster of 40 small balls
    next to one large ball."""
    import numpy as np

    from smacx.selector import _NEAR_BALLS, _TREE_PAIRS, _away_from, _radii, _sq_dists

    rng = np.random.default_rng(1)
    avoid, evaluated = rng.random((400, 3)), rng.random((60, 3))
    radii = _radii(avoid, evaluated, 0.05)
    avoid[:40] = 0.5 + 0.01 * rng.random((40, 3))
    radii[:40], avoid[40], radii[40] = 1e-4, 0.5, 0.05
    scores = _away_from(lambda X: np.zeros(len(X)), avoid, radii)
    for n in (30, 3_000):
        X = np.vstack([rng.random((n - 10, 3)), 0.5 + 0.01 * rng.random((10, 3))])
        assert (n * len(avoid) > _TREE_PAIRS) == (n == 3_000)
        sq = _sq_dists(X, avoid)
        dense = (sq < (radii * radii)[None, :]).any(axis=1)
        assert 0 < dense.sum() < n
        np.testing.assert_array_equal(scores(X) == -np.inf, dense)
    # the crowded rows: more centres within 0.05 than the tree's first look, held by one
    crowded = (np.sqrt(sq) < 0.05).sum(axis=1) > _NEAR_BALLS
    assert crowded.sum() >= 10 and dense[crowded].all()
    assert scores(np.empty((0, 3))).shape == (0,)


def test_proposals_keep_away_from_configurations_tried_at_lower_budgets_only() -> None:
    """With budgets the model trains on the top budget with enough results; a bracket's first
    stage then asks for configuration after configuration while those rows stay the same. Each
    proposal is outside the ball of every configuration without a result at that budget (as a
    running one would be), so one model does not propose next to its previous proposals."""
    import numpy as np

    from smacx.selector import _radii

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)

    def cost(config: Any, budget: float) -> float:
        return float((config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2 + 1.0 / budget)

    rh = RunHistory(space)
    for config in space.sample_configuration(8):  # the model's rows, at budget 27
        info = TrialInfo(config, budget=27.0)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost(config, 27.0)))
    top = np.array([[c["x"], c["y"]] for c in rh.get_configs()])
    proposer = _region_proposer(space)
    rng = np.random.default_rng(0)
    proposed: list[list[float]] = []
    for _ in range(12):  # the first stage, at budget 1
        config = proposer(rh, rng)
        assert config is not None
        point = np.array([config["x"], config["y"]])
        if proposed:
            earlier = np.array(proposed)
            radii = _radii(earlier, top, 0.05)
            gaps = np.sqrt(((earlier - point) ** 2).sum(axis=1))
            assert (gaps >= radii - 1e-12).all(), (len(proposed), gaps.min())
        proposed.append(list(point))
        info = TrialInfo(config, budget=1.0)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost(config, 1.0)))


def _region_proposer(space: ConfigurationSpace, **kwargs):  # type: ignore[no-untyped-def]
    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    enc = Encoder(space)
    return ModelProposer(
        enc, RandomForest(log_y=True, seed=0), LogEI(), LocalAndRandomSearch(enc, seed=0), **kwargs
    )


def test_trust_region_shrinks_without_improvement_then_lets_go() -> None:
    """4 free dimensions: the box halves after every 2 results without a new lowest value,
    and after three halvings (6 such results) the search covers the whole space."""
    import numpy as np

    space = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(4)}, seed=0)
    proposer = _region_proposer(space, trust_region=0.2)
    center = np.full(4, 0.5)
    for stale, half in [(0, 0.2), (1, 0.2), (2, 0.1), (3, 0.1), (4, 0.05), (5, 0.05)]:
        y = np.array([3.0, 1.0] + [2.0] * stale)
        region = proposer._region(y, center, [None] * len(y))
        assert region is not None
        np.testing.assert_allclose(region.upper - region.lower, 2 * half)
    y = np.array([3.0, 1.0] + [1.0] * 6)  # ties with the lowest value are no improvement
    assert proposer._region(y, center, [None] * len(y)) is None
    wide = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(8)}, seed=0)
    eight = _region_proposer(wide, trust_region=0.2)  # 8 dimensions: halves every 4
    for stale, half in [(3, 0.2), (4, 0.1), (11, 0.05)]:
        y = np.array([3.0, 1.0] + [2.0] * stale)
        region = eight._region(y, np.full(8, 0.5), [None] * len(y))
        assert region is not None
        np.testing.assert_allclose(region.upper - region.lower, 2 * half)
    y = np.array([3.0, 1.0] + [2.0] * 12)
    assert eight._region(y, np.full(8, 0.5), [None] * len(y)) is None
    y = np.array([3.0, 1.0, 0.5])
    assert proposer._region(y, center, [None, None, None]) is not None
    assert proposer._region(y, center, ["i1", "i2", "i1"]) is None  # costs of instances
    assert _region_proposer(space)._region(y, center, [None] * 3) is None  # off by default
    two = _region_proposer(space, trust_region=0.2, n_objectives=2)
    assert two._region(y, center, [None] * 3) is None
    with pytest.raises(ScenarioError, match="trust_region"):
        _region_proposer(space, trust_region=1.5)

    class Plain:  # a maximizer without regions
        def maximize(self, acq, n, start_points, exclude):  # type: ignore[no-untyped-def]
            return start_points[:0]

    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    with pytest.raises(ScenarioError, match="trust_region.*region= keyword.*Plain"):
        ModelProposer(Encoder(space), RandomForest(), LogEI(), Plain(), trust_region=0.2)

    class Forwarding:  # passes everything on
        def maximize(self, acq, n, start_points, exclude, **kwargs):  # type: ignore[no-untyped-def]
            return start_points[:0]

    class Required:  # cannot be called without a region
        def maximize(self, acq, n, start_points, exclude, *, region):  # type: ignore[no-untyped-def]
            return start_points[:0]

    ModelProposer(Encoder(space), RandomForest(), LogEI(), Forwarding(), trust_region=0.2)
    for bad in (Required(), object()):
        with pytest.raises(ScenarioError, match="trust_region"):
            ModelProposer(Encoder(space), RandomForest(), LogEI(), bad, trust_region=0.2)  # type: ignore[arg-type]


def test_hpo_preset_proposes_inside_the_incumbents_region(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Closed form: with k results since the lowest cost (3 dimensions: the region halves
    every 2), every model-based proposal lies within 0.2 / 2 ** (k // 2) encoded units of
    the configuration with that cost on every dimension, until k reaches 6. (Without the
    region, 7 to 12 of 20 to 28 such proposals in each of four seeds lay outside.)"""
    import numpy as np

    from smacx import SMAC, Scenario
    from smacx.encoding import Encoder

    space = ConfigurationSpace({f"x{i}": (-5.0, 5.0) for i in range(3)}, seed=0)
    enc = Encoder(space)
    scenario = Scenario(
        space, n_trials=40, seed=3, deterministic=True, output_directory=tmp_path / "run"
    )
    smac = SMAC(scenario, lambda config, seed=0: 0.0, random_probability=0.0, progress=False)
    best, incumbent, stale, checked = np.inf, np.zeros(3), 0, 0
    for i in range(40):
        info = smac.ask()
        x = enc.encode([info.config])[0]
        if i >= 10 and stale < 6:  # after the 10-point design, while the region is on
            half = 0.2 * 0.5 ** (stale // 2)
            assert np.all(np.abs(x - incumbent) <= half + 1e-9), (i, stale, x, incumbent)
            checked += 1
        cost = float(np.sum(np.abs(10 * x - 3) + 3 * np.sin(10 * x)))  # several basins
        smac.tell(info, TrialValue(cost=cost))
        best, incumbent, stale = (cost, x, 0) if cost < best else (best, incumbent, stale + 1)
    assert checked >= 15
    smac.close()


def test_a_users_maximizer_without_region_support_still_works(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The trust region is the preset's own search: a maximizer passed by keyword is called
    with the four arguments of the protocol only."""
    import numpy as np

    from smacx import SMAC, Scenario
    from smacx.encoding import Encoder
    from smacx.maximizer import RandomSearch

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    calls = []

    class Plain:
        def __init__(self) -> None:
            self.inner = RandomSearch(Encoder(space), n_random=200, seed=0)

        def maximize(self, acq, n, start_points, exclude):  # type: ignore[no-untyped-def]
            calls.append(n)
            return self.inner.maximize(acq, n, start_points, exclude)

    scenario = Scenario(
        space, n_trials=15, seed=0, deterministic=True, output_directory=tmp_path / "run"
    )
    smac = SMAC(
        scenario,
        lambda config, seed=0: float(np.hypot(config["x"] - 0.3, config["y"] - 0.6)),
        maximizer=Plain(),  # type: ignore[arg-type]
        progress=False,
    )
    smac.optimize()
    assert smac.runhistory.n_finished == 15 and len(calls) >= 4
    smac.close()


def test_perturbation_steps_near_the_best_configuration_only_while_trials_run() -> None:
    """``perturb=1``: with trials running every proposal is the best configuration with its
    numeric values moved (at most 0.05 * 6 encoded units: six standard deviations of the
    largest step) and its categorical value kept, new, and outside every running trial's
    ball; with nothing running the proposals equal those of ``perturb=0`` draw for draw."""
    import numpy as np

    from smacx.selector import _radii, _sq_dists

    space = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0), "kind": ["p", "q", "r"]}, seed=0)

    def cost(config: object) -> float:
        c = config  # type: ignore[assignment]
        return float((c["a"] - 0.3) ** 2 + (c["b"] - 0.6) ** 2 + (c["kind"] != "q"))  # type: ignore[index]

    sample = space.sample_configuration(12)

    def history_of(n: int) -> RunHistory:
        rh = RunHistory(space)
        for config in sample[:n]:
            info = TrialInfo(config)
            rh.add_running(info)
            rh.add(info, TrialValue(cost=cost(config)))
        return rh

    # serial: perturb=1 proposes what perturb=0 proposes, with the same random draws
    serial = []
    for share in (0.0, 1.0):
        proposer = _region_proposer(space, trust_region=0.2, perturb=share)
        rng, rh = np.random.default_rng(5), history_of(10)
        configs = []
        for _ in range(6):
            config = proposer(rh, rng)
            info = TrialInfo(config)
            rh.add_running(info)
            rh.add(info, TrialValue(cost=cost(config)))
            configs.append(config)
        serial.append(configs)
    assert serial[0] == serial[1]

    proposer = _region_proposer(space, perturb=1.0)
    rng, rh = np.random.default_rng(0), history_of(12)
    best = min(rh.finished(), key=lambda item: item[1].cost)[0].config
    center = proposer.encoder.encode([best])[0]
    numeric = ~proposer.encoder.is_categorical
    evaluated = proposer.encoder.encode([info.config for info, _ in rh.finished()])
    first = proposer(rh, rng)  # nothing running: the model's proposal
    rh.add_running(TrialInfo(first))
    for _ in range(7):  # seven more asks without a tell, as eight free workers make
        running = proposer.encoder.encode(
            [rh.get_config(key.config_id) for key, _ in rh.running_items()]
        )
        radii = _radii(running, evaluated, proposer.min_spread)
        config = proposer(rh, rng)
        assert config is not None and not rh.has_trials(config)
        assert config["kind"] == best["kind"]
        x = proposer.encoder.encode([config])[0]
        assert 0 < np.abs(x - center)[numeric].max() <= 0.3
        assert (_sq_dists(x[None, :], running)[0] >= radii * radii).all()
        rh.add_running(TrialInfo(config))
    # a NaN cost is no best: the steps start from the lowest finite cost
    nan_rh = RunHistory(space)
    for i, config in enumerate(sample):
        info = TrialInfo(config)
        nan_rh.add_running(info)
        nan_rh.add(info, TrialValue(cost=float("nan") if i == 0 else cost(config)))
    finite_best = min(sample[1:], key=cost)
    nan_rh.add_running(TrialInfo(space.sample_configuration()))
    stepper = _region_proposer(space, perturb=1.0)
    stepped = stepper(nan_rh, np.random.default_rng(1))
    assert stepped is not None and stepped["kind"] == finite_best["kind"]
    gap = stepper.encoder.encode([stepped])[0] - stepper.encoder.encode([finite_best])[0]
    assert np.abs(gap[numeric]).max() <= 0.3
    with pytest.raises(ScenarioError, match=r"ModelProposer.perturb: expected .* got 1.5"):
        _region_proposer(space, perturb=1.5)


def test_hpo_preset_perturbs_only_parallel_proposals(space: ConfigurationSpace) -> None:
    """The preset's quarter of steps leaves serial runs as they were: the same 30 trials with
    and without it (the quality benchmarks run serially)."""
    from smacx import SMAC, Scenario

    def branin_like(config: object, seed: int = 0) -> float:
        return float((config["x"] - 1) ** 2 + (config["y"] + 2) ** 2)  # type: ignore[index]

    runs = []
    for share in (0.25, 0.0):
        smac = SMAC(
            Scenario(space, n_trials=30, seed=1, deterministic=True, output_directory=None),
            branin_like,
            progress=False,
        )
        assert smac.selector.proposer is not None
        assert smac.selector.proposer.perturb == 0.25  # type: ignore[attr-defined]
        smac.selector.proposer.perturb = share  # type: ignore[attr-defined]
        smac.optimize()
        runs.append([info.config for info, _ in smac.runhistory.finished()])
    assert len(runs[0]) == 30 and runs[0] == runs[1]


def test_search_ahead_serves_a_result_that_is_no_new_best_and_only_such() -> None:
    """With trials running, prepare() fits on every result there is and keeps candidates; the
    proposal for a worker freed by a result that does not lower the best cost is one of them
    (no fit after the result), while a new best is searched for afresh. Without
    ``search_ahead`` prepare() does nothing here and every proposal fits after its result."""
    import numpy as np

    space = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0)}, seed=0)

    def cost(config: object) -> float:
        c = config  # type: ignore[assignment]
        return float((c["a"] - 0.3) ** 2 + (c["b"] - 0.6) ** 2)  # type: ignore[index]

    def setup(ahead: bool):  # type: ignore[no-untyped-def]
        proposer = _region_proposer(space, trust_region=0.2, search_ahead=ahead)
        fits: list[int] = []
        fit = proposer.model.fit

        def counted(X, y):  # type: ignore[no-untyped-def]
            fits.append(len(y))
            return fit(X, y)

        proposer.model.fit = counted  # type: ignore[method-assign]
        rh = RunHistory(space)
        for config in space.sample_configuration(10):
            info = TrialInfo(config)
            rh.add_running(info)
            rh.add(info, TrialValue(cost=cost(config)))
        running = [TrialInfo(c) for c in space.sample_configuration(20)[12:]]  # eight
        for info in running:
            rh.add_running(info)
        return proposer, fits, rh, running

    def best(rh: RunHistory) -> float:
        return min(v.cost for _, v in rh.finished())

    proposer, fits, rh, running = setup(ahead=True)
    rng = np.random.default_rng(0)
    proposer.prepare(rh, rng)
    assert fits == [10]  # fitted ahead on the ten results
    rh.add(running[0], TrialValue(cost=best(rh) + 1.0))  # no new best
    proposal = proposer(rh, rng)  # one of the candidates kept ahead: no fit
    assert fits == [10] and proposal is not None and not rh.has_trials(proposal)
    rh.add_running(TrialInfo(proposal))
    proposer.prepare(rh, rng)  # ahead again, on eleven results
    assert fits == [10, 11]
    rh.add(running[1], TrialValue(cost=best(rh) - 0.01))  # a new best
    proposal = proposer(rh, rng)
    assert fits == [10, 11, 12] and proposal is not None and not rh.has_trials(proposal)

    proposer, fits, rh, running = setup(ahead=False)
    proposer.prepare(rh, rng)
    assert fits == []
    rh.add(running[0], TrialValue(cost=best(rh) + 1.0))
    assert proposer(rh, rng) is not None
    assert fits == [11]


def _model_space() -> ConfigurationSpace:
    """``model`` in {svm, rf}; svm: kernel x C (2 x 3), rf: n_est x depth (3 x 3). That is
    6 + 9 = 15 configurations; ConfigSpace's ``estimate_size()`` says 2 * 2 * 3 * 3 * 3 = 108."""
    from ConfigSpace import EqualsCondition, OrdinalHyperparameter

    cs = ConfigurationSpace(seed=1)
    model = Categorical("model", ["svm", "rf"])
    kernel = Categorical("kernel", ["lin", "rbf"])
    c = OrdinalHyperparameter("C", [0.1, 1.0, 10.0])
    n_est = OrdinalHyperparameter("n_est", [10, 100, 1000])
    depth = OrdinalHyperparameter("depth", [2, 4, 8])
    cs.add([model, kernel, c, n_est, depth])
    cs.add(
        [
            EqualsCondition(kernel, model, "svm"),
            EqualsCondition(c, model, "svm"),
            EqualsCondition(n_est, model, "rf"),
            EqualsCondition(depth, model, "rf"),
        ]
    )
    return cs


def test_a_conditional_space_is_counted_exactly_and_exhausted_quickly() -> None:
    import time

    cs = _model_space()
    assert cs.estimate_size() == 108
    selector = ConfigSelector(cs, [], seed=0)
    assert selector.space_size == 15
    rh = RunHistory(cs)
    gen = selector.next_configs(rh)
    started = time.perf_counter()
    for _ in range(15):
        rh.add_running(TrialInfo(next(gen)))
    with pytest.raises(
        SearchSpaceExhaustedError, match="holds 15 configurations and the run has tried 15"
    ):
        next(gen)
    assert time.perf_counter() - started < 5.0  # was 38 s
    assert rh.n_configs == 15
    for config in rh.get_configs():
        config.check_valid_configuration()


def test_optimize_on_a_conditional_space_stops_after_every_configuration() -> None:
    import time

    from smacx import SMAC, Scenario

    smac = SMAC(
        Scenario(_model_space(), n_trials=30, output_directory=None, deterministic=True),
        lambda config, seed: float(len(str(dict(config)))),
        progress=False,
    )
    started = time.perf_counter()
    with pytest.warns(UserWarning, match="holds 15 configurations and the run has tried 15"):
        smac.optimize()
    assert time.perf_counter() - started < 5.0
    assert smac.runhistory.n_finished == 15


def test_ask_on_a_space_with_a_forbidden_clause_raises_after_its_three_configurations() -> None:
    """a in {x, y}, i in 1..3 active only for x, a == y forbidden: 3 configurations
    (``estimate_size()`` says 6)."""
    import time

    from ConfigSpace import EqualsCondition, ForbiddenEqualsClause, Integer

    from smacx import SMAC, Scenario

    cs = ConfigurationSpace(seed=1)
    a, i = Categorical("a", ["x", "y"]), Integer("i", (1, 3))
    cs.add([a, i])
    cs.add(EqualsCondition(i, a, "x"))
    cs.add(ForbiddenEqualsClause(a, "y"))
    smac = SMAC(Scenario(cs, n_trials=30, output_directory=None, deterministic=True))
    started = time.perf_counter()
    seen = set()
    for k in range(3):
        info = smac.ask()
        seen.add(info.config["i"])
        smac.tell(info, TrialValue(cost=float(k)))
    assert seen == {1, 2, 3}
    with pytest.raises(SearchSpaceExhaustedError, match="holds 3 configurations"):
        smac.ask()
    assert time.perf_counter() - started < 5.0  # a single ask took 40 s


def test_a_float_range_without_new_values_gives_up_quickly_without_claiming_a_size() -> None:
    """A range 1e-12 wide holds only a few distinct floats; ConfigSpace counts it as
    infinite. The error says what was seen rather than a size."""
    import time

    from ConfigSpace import Float

    cs = ConfigurationSpace(seed=0)
    cs.add(Float("x", (1.0, 1.0 + 1e-12)))
    rh = RunHistory(cs)
    gen = ConfigSelector(cs, [], seed=0).next_configs(rh)
    started = time.perf_counter()
    with pytest.raises(SearchSpaceExhaustedError) as caught:
        for _ in range(1000):
            rh.add_running(TrialInfo(next(gen)))
    assert time.perf_counter() - started < 5.0  # was 10.7 s
    message = str(caught.value)
    assert "holds" not in message
    assert f"the run has tried {rh.n_configs} distinct configurations" in message
    assert "4080 random draws found no new one" in message


def test_an_enumerated_space_hands_out_what_the_draws_miss() -> None:
    """Values the priors all but never draw and the uniform draws are unlikely to hit (one
    configuration in 20,000): once the draws find nothing new, the enumeration supplies it."""
    from ConfigSpace import Integer

    cs = ConfigurationSpace(seed=0)
    cs.add([Integer("i", (0, 9999)), Categorical("b", ["p", "q"])])
    selector = ConfigSelector(cs, [], seed=0)
    assert selector.space_size == 20_000
    rh = RunHistory(cs)
    from ConfigSpace import Configuration

    last = Configuration(cs, values={"i": 1234, "b": "q"})
    others = [
        Configuration(cs, values={"i": i, "b": b})
        for i in range(10_000)
        for b in ("p", "q")
        if (i, b) != (1234, "q")
    ]
    for config in others:
        rh.add_running(TrialInfo(config))
    assert selector.random_config(rh) == last
    rh.add_running(TrialInfo(last))
    with pytest.raises(SearchSpaceExhaustedError, match="holds 20000 configurations"):
        selector.random_config(rh)


def test_with_instances_the_acquisition_compares_with_the_incumbents_mean() -> None:
    """The model predicts a configuration's mean over instances, so the cost to beat is the
    best mean at the incumbent's level, not the lowest single (configuration, instance)."""
    import numpy as np

    from smacx.selector import incumbent_level_best

    ids = [1, 1, 1, 2, 2, 3]
    y = np.array([0.0, 30.0, 30.0, 1.0, 1.0, 0.5])
    # only config 1 ran on all three instances (the incumbent's level): its mean is 20
    assert incumbent_level_best(ids, ids, y) == 20.0
    one_each = [1, 2, 3, 4, 5, 6]
    assert incumbent_level_best(one_each, one_each, y) == 0.0  # one row each: the lowest


def test_a_noisy_target_trains_the_forest_on_each_configurations_mean() -> None:
    """Three seeds of one configuration are one training row at their mean (a lucky seed
    does not pull the search to it); the incumbent's mean is still the cost to beat."""
    import numpy as np

    from smacx.acquisition import LogEI
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    seen: list[np.ndarray] = []

    class Recording(RandomForest):
        def fit(self, X: np.ndarray, y: np.ndarray) -> Recording:
            seen.append(np.asarray(y))
            return super().fit(X, y)

    enc = Encoder(space)
    rh = RunHistory(space)
    configs = space.sample_configuration(6)
    for i, config in enumerate(configs):
        for seed in (1, 2, 3) if i == 0 else (1,):
            info = TrialInfo(config, seed=seed)
            rh.add_running(info)
            rh.add(info, TrialValue(cost=float(i + seed)))
    for noisy, rows in ((False, 8), (True, 6)):
        seen.clear()
        proposer = ModelProposer(
            enc, Recording(), LogEI(), LocalAndRandomSearch(enc, n_random=50), noisy=noisy
        )
        assert proposer(rh, np.random.default_rng(0)) is not None
        assert len(seen[0]) == rows
    assert sorted(seen[0].tolist()) == [2.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # 0: mean of 1, 2, 3


def test_a_noisy_targets_cost_to_beat_is_its_mean_mapped_as_the_model_maps_it() -> None:
    """The forest trains on log(mean over seeds); the cost to beat is the log of the
    incumbent's mean, not the mean of its seeds' logs (lower by Jensen's inequality), and a
    seed at cost 0 is not mapped to log(1e-300) = -690.8."""
    import numpy as np

    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.selector import ModelProposer

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    model, acquisition, _, bound = recording_parts(log_y=True)
    rh = RunHistory(space)
    for i, config in enumerate(space.sample_configuration(6)):
        seeds = {1: 0.0, 2: 0.03, 3: 0.04} if i == 0 else {1: 0.05 + 0.01 * i}
        for seed, cost in seeds.items():
            info = TrialInfo(config, seed=seed)
            rh.add_running(info)
            rh.add(info, TrialValue(cost=cost))
    enc = Encoder(space)
    proposer = ModelProposer(
        enc, model, acquisition, LocalAndRandomSearch(enc, n_random=50), noisy=True
    )
    assert proposer(rh, np.random.default_rng(0)) is not None
    assert bound[-1][0] == pytest.approx(float(model.transform_y(0.07 / 3)))


def test_instance_features_make_the_cost_to_beat_the_models_mean_over_all_instances() -> None:
    """The acquisition reads the model's mean over every instance; the incumbent ran only
    the easy ones (max_config_calls=2 of 6), so its observed mean is no cost to beat."""
    import numpy as np

    from smacx import SMAC, Intensifier, Scenario

    _, acquisition, _, bound = recording_parts()
    instances = [f"i{k}" for k in range(6)]
    hardness = {name: 10.0**k for k, name in enumerate(instances)}
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    smac = SMAC(
        Scenario(
            space,
            n_trials=40,
            deterministic=True,
            instances=instances,
            instance_features={name: [math.log10(h)] for name, h in hardness.items()},
            output_directory=None,
            seed=1,
        ),
        acquisition=acquisition,
        intensifier=Intensifier(max_config_calls=2, instance_order="fixed"),
    )
    for _ in range(40):
        info = smac.ask()
        assert info.instance is not None
        smac.tell(info, TrialValue(cost=hardness[info.instance] * (1 + info.config["x"])))
    assert smac.incumbent is not None
    best_y, model = bound[-1]
    inc = np.array([[smac.incumbent["x"]]])
    mean, _ = model.predict(inc)
    # the incumbent's own marginalized mean; its observed mean (two easiest instances) is
    # log 5.5 + log(1 + x), about 2.5 below
    assert best_y == pytest.approx(float(mean[0]), abs=1e-9)


def test_parego_weights_change_only_with_a_fit() -> None:
    """Several objectives: proposals made without a new result (a batch of asks) use the
    weights the model was fitted with, so the cost to beat is in the model's space."""
    import numpy as np

    from smacx import SMAC, Scenario

    forest, acquisition, fitted, bound = recording_parts(seed=0)
    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    smac = SMAC(
        Scenario(
            space, n_trials=60, deterministic=True, objectives=["a", "b"], output_directory=None
        ),
        model=forest,
        acquisition=acquisition,
        random_probability=0.0,
    )
    for _ in range(20):
        info = smac.ask()
        x, y = info.config["x"], info.config["y"]
        smac.tell(info, TrialValue(cost=[x**2 + y, (1 - x) ** 2 + 1 - y]))
    smac.ask()  # fits on the last result
    n_fits, n_bound = len(fitted), len(bound)
    for _ in range(10):
        smac.ask()
    assert len(bound) > n_bound + 1 and len(fitted) == n_fits  # searches, no new fit
    lowest = float(np.min(forest.transform_y(fitted[-1])))
    assert [b for b, _ in bound[n_bound:]] == pytest.approx([lowest] * (len(bound) - n_bound))


@pytest.mark.parametrize("n_objectives", [2, 1])
def test_parego_keeps_its_normalization_until_the_next_fit(n_objectives: int) -> None:
    """Between fits (every second result beyond 100 here), a new result that widens an
    objective's range must not rescale the cost to beat away from what the model was fitted
    on. A proposer left at n_objectives=1 takes the number from the history."""
    import numpy as np

    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.selector import ModelProposer

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    forest, acquisition, fitted, bound = recording_parts(seed=0)
    rh = RunHistory(space, objectives=["a", "b"])

    def add(config: object, cost: list[float]) -> None:
        info = TrialInfo(config, seed=0)  # type: ignore[arg-type]
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost))

    configs = space.sample_configuration(102)
    for config in configs[:101]:
        add(config, [config["x"], 1 - config["x"] + 0.1 * config["y"]])
    enc = Encoder(space)
    proposer = ModelProposer(
        enc,
        forest,
        acquisition,
        LocalAndRandomSearch(enc, n_random=50),
        n_objectives=n_objectives,
        refit_above=0,
    )
    rng = np.random.default_rng(0)
    assert proposer(rh, rng) is not None
    n_fits = len(fitted)
    add(configs[101], [-1.0, 1.0])  # a new lowest a, a middling b: no better scalarization
    assert proposer(rh, rng) is not None
    assert len(fitted) == n_fits  # not due, and no new best on the fit's scale
    assert bound[-1][0] == pytest.approx(float(np.min(forest.transform_y(fitted[-1]))))


def test_thompson_sampling_ranks_the_rows_a_search_returns() -> None:
    """Local search walks unrounded rows; rounding a log-scale float on [1e-8, 1] to its
    canonical value moves its encoding by up to about 1e-5, which redrew a row's sample: the
    returned list was not in the order it was ranked by."""
    import numpy as np
    from ConfigSpace import Float

    from smacx.acquisition import ThompsonSampling
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import RandomForest
    from smacx.selector import ModelProposer

    space = ConfigurationSpace(seed=0)
    space.add([Float("lr", (1e-8, 1.0), log=True), Float("x", (0.0, 1.0))])
    searches: list[tuple[object, np.ndarray]] = []

    class Recording(LocalAndRandomSearch):
        def maximize(self, acq, n, start_points, exclude):  # type: ignore[no-untyped-def]
            found = super().maximize(acq, n, start_points, exclude)
            searches.append((acq, found))
            return found

    enc = Encoder(space)
    rh = RunHistory(space)
    for config in space.sample_configuration(12):
        info = TrialInfo(config, seed=0)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=float(np.log10(config["lr"])) ** 2 + config["x"]))
    proposer = ModelProposer(
        enc, RandomForest(seed=0), ThompsonSampling(seed=3), Recording(enc, n_random=200)
    )
    assert proposer(rh, np.random.default_rng(0)) is not None
    acq, found = searches[-1]
    scores = acq(found)  # type: ignore[operator]
    assert len(found) > 4 and np.all(np.diff(scores) <= 0.0)  # best first, as ranked
    wobble = np.random.default_rng(1).random((5000, 2))
    np.testing.assert_array_equal(acq(wobble), acq(enc.canonicalize(wobble)))  # type: ignore[operator]


def test_the_hpo_preset_smooths_the_forest_for_noisy_targets() -> None:
    from smacx import SMAC, Scenario

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    for deterministic, leaf, margin in ((True, 1, 0.01), (False, 3, 0.1)):
        scenario = Scenario(space, deterministic=deterministic, output_directory=None)
        proposer = SMAC(scenario).selector.proposer
        assert proposer.noisy is not deterministic  # type: ignore[union-attr]
        forest = proposer.model  # type: ignore[union-attr]
        assert (forest.min_samples_leaf, forest.log_margin) == (leaf, margin)
        split = 2 if deterministic else 3
        assert (forest.min_samples_split, forest.ratio_features, forest.log_y) == (split, 1.0, True)


def test_a_maximizer_given_turns_the_hpo_presets_trust_region_off() -> None:
    """A user's maximizer may not take a region, as docs/presets.rst says; the preset's own does."""
    from smacx import SMAC, Scenario
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch

    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), output_directory=None)
    assert SMAC(scenario).selector.proposer.trust_region == 0.2  # type: ignore[union-attr]
    search = LocalAndRandomSearch(Encoder(scenario.configspace), seed=0)
    own = SMAC(scenario, maximizer=search).selector.proposer
    assert own.trust_region == 0.0  # type: ignore[union-attr]


def test_lowest_row_and_running_radii_read_only_new_rows_and_match_a_full_recount() -> None:
    """``_lowest`` and ``_running_radii`` keep what they read and update it from the new rows
    alone (they run for many proposals while trials run); after every batch of results they
    equal a recount over all rows: the first of the lowest finite costs (NaN and inf never
    win), and :func:`_radii` against every evaluated configuration."""
    import numpy as np

    from smacx.selector import _radii

    space = ConfigurationSpace({"a": (0.0, 1.0), "b": (0.0, 1.0), "kind": ["p", "q", "r"]}, seed=0)
    proposer = _region_proposer(space, perturb=1.0)
    rng = np.random.default_rng(3)
    sample = space.sample_configuration(60)
    rh = RunHistory(space)
    costs: list[float] = []
    for batch in range(6):
        for config in sample[batch * 8 : batch * 8 + 8]:
            info = TrialInfo(config)
            rh.add_running(info)
            cost = [float("nan"), float("inf"), float(rng.integers(4))][int(rng.integers(3))]
            rh.add(info, TrialValue(cost=cost))
            costs.append(cost)
        running = sample[48 + batch * 2 : 50 + batch * 2]
        for config in running:
            rh.add_running(TrialInfo(config))
        lowest = proposer._lowest(rh)
        finite = [c if np.isfinite(c) else np.inf for c in costs]
        at = int(np.argmin(finite))
        assert lowest == (rh.get_config_id(sample[at]), finite[at])
        rows = proposer.encoder.encode([rh.get_config(k.config_id) for k, _ in rh.running_items()])
        evaluated = proposer.encoder.encode(sample[: len(costs)])
        expected = _radii(rows, evaluated, proposer.min_spread)
        assert np.array_equal(proposer._running_radii(rh, rows), expected)
    # costs on instances do not compare: no lowest row
    on_instances = RunHistory(space)
    for config in sample[:8]:
        info = TrialInfo(config, instance="i1")
        on_instances.add_running(info)
        on_instances.add(info, TrialValue(cost=1.0))
    assert _region_proposer(space, perturb=1.0)._lowest(on_instances) is None
    # serial proposals never read the kept radii, so none are kept
    serial = _region_proposer(space, perturb=1.0)
    history = RunHistory(space)
    for _ in range(12):
        config = serial(history, rng) or space.sample_configuration()
        info = TrialInfo(config)
        history.add_running(info)
        history.add(info, TrialValue(cost=float(rng.random())))
    assert serial._radius_of == {}


def test_tied_marks_every_value_another_one_shares_up_to_rounding() -> None:
    import numpy as np

    from smacx.selector import _tied

    values = np.array([0.25, 0.5, 0.25 * (1 + 1e-13), 3.0, 1e10 + 0.5, 1e10 + 3.0, 1e10 + 0.5])
    assert _tied(values).tolist() == [True, False, True, False, True, False, True]
    assert _tied(np.array([1.0, 1.0 + 1e-6])).tolist() == [False, False]
    assert _tied(np.array([2.0])).tolist() == [False]


def _step_cost(config: Any) -> float:
    """A plateau at cost 1 for x >= 0.5, distinct costs 2 - x to its left (y is ignored)."""
    return 1.0 if config["x"] >= 0.5 else 2.0 - config["x"]


def _plateau_run(radius: float, cost: Any, proposals: int = 25) -> tuple[list[Any], list[Any]]:
    """Serial proposals of a forest and log-EI (no trust region) on ``cost`` after 8 random
    configurations; returns, for every proposal, it and the tied configurations before it."""
    import numpy as np

    from smacx.selector import _tied

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=3)
    proposer = _region_proposer(space, plateau_radius=radius)
    rh = RunHistory(space)
    for config in space.sample_configuration(8):
        _finish(rh, config, cost(config))
    rng = np.random.default_rng(0)
    made, tied_before = [], []
    for _ in range(proposals):
        finished = [info.config for info, _ in rh.finished()]
        costs = np.array([cost(c) for c in finished])
        tied_before.append([c for c, t in zip(finished, _tied(costs)) if t])
        config = proposer(rh, rng)
        assert config is not None
        made.append(config)
        _finish(rh, config, cost(config))
    return made, tied_before


def test_proposals_keep_the_plateau_radius_from_configurations_with_a_shared_cost() -> None:
    """Every proposal lies at least ``plateau_radius`` from each configuration whose cost
    another one shares; without the rule the forest creeps along the plateau, proposing
    points within that distance of it."""
    import numpy as np

    enc_distance = lambda a, b: math.hypot(a["x"] - b["x"], a["y"] - b["y"])  # noqa: E731
    made, tied_before = _plateau_run(0.1, _step_cost)
    assert sum(map(len, tied_before)) > 0
    for config, tied in zip(made, tied_before):
        assert all(enc_distance(config, t) >= 0.1 for t in tied)
    made, tied_before = _plateau_run(0.0, _step_cost)
    close = [
        min((enc_distance(c, t) for t in tied), default=1.0) for c, tied in zip(made, tied_before)
    ]
    assert np.min(close) < 0.1


def test_the_plateau_radius_changes_nothing_without_ties() -> None:
    """Distinct costs: the same proposals, draw for draw, with and without the rule."""

    def bowl(config: Any) -> float:
        return float((config["x"] - 0.3) ** 2 + (config["y"] - 0.6) ** 2)

    assert _plateau_run(0.1, bowl, 12)[0] == _plateau_run(0.0, bowl, 12)[0]


def test_plateau_balls_skip_crashes_instances_and_untied_costs() -> None:
    import numpy as np

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    proposer = _region_proposer(space, plateau_radius=0.05)
    X = np.array([[0.2], [0.4], [0.6], [0.8]])
    y, measured = np.array([1.0, 1.0, 2.0, 2.0]), np.ones(4, dtype=bool)
    ids = [0, 1, 2, 3]
    balls = proposer._plateau_balls(y, measured, X, ids, [None] * 4)
    assert balls is not None
    assert balls.contain(np.array([[0.21], [0.3], [0.64], [0.75], [0.9]])).tolist() == [
        True, False, True, False, False,
    ]  # fmt: skip
    # a crash's imputed cost (the worst one) ties with the worst configuration: no ball
    crashed = np.array([True, True, True, False])
    balls = proposer._plateau_balls(y, crashed, X, ids, [None] * 4)
    assert balls is not None and balls.contain(np.array([[0.6], [0.8]])).tolist() == [
        False, False,
    ]  # fmt: skip
    assert (
        proposer._plateau_balls(np.array([1.0, 2.0, 3.0, 4.0]), measured, X, ids, [None] * 4)
        is None
    )
    assert proposer._plateau_balls(y, measured, X, ids, ["i1", "i2", "i1", "i2"]) is None
    assert _region_proposer(space)._plateau_balls(y, measured, X, ids, [None] * 4) is None
    # two rows of one configuration (seeds of a deterministic target) share nothing
    assert proposer._plateau_balls(y[:3], measured[:3], X[[0, 0, 2]], [0, 0, 2], [None] * 3) is None
    for bad in (-0.1, 0.5, float("nan"), "0.1", True):
        with pytest.raises(ScenarioError, match=r"plateau_radius: expected a radius in \[0, 0.5\)"):
            _region_proposer(space, plateau_radius=bad)


def test_no_proposal_inside_the_balls_even_when_nothing_outside_scores(
    space: ConfigurationSpace,
) -> None:
    """Every untried value of an integer lies within the radius of a tied one: the proposer
    gives up (the selector then draws a random configuration) instead of proposing one of
    them as the model's choice."""
    import numpy as np
    from ConfigSpace import Configuration, Integer

    cs = ConfigurationSpace(seed=0)
    cs.add(Integer("i", (1, 100)))  # values 0.0101 encoded units apart
    rh = RunHistory(cs)
    for v in range(1, 101, 3):  # costs shared in pairs: 1 and 4, 7 and 10, ...
        _finish(rh, Configuration(cs, values={"i": v}), float(v // 6))
    rng = np.random.default_rng(0)
    assert _region_proposer(cs, plateau_radius=0.015, trust_region=0.2)(rh, rng) is None
    assert _region_proposer(cs, trust_region=0.2)(rh, rng) is not None
    selector = ConfigSelector(
        cs, [], random_probability=0.0, seed=0,
        proposer=_region_proposer(cs, plateau_radius=0.015, trust_region=0.2),
    )  # fmt: skip
    config = selector.next_config(rh)
    assert config.origin == "random" and not rh.has_trials(config)


def test_many_tied_configurations_are_looked_up_exactly() -> None:
    import numpy as np

    from smacx.maximizer import worst_where
    from smacx.selector import _Balls

    rng = np.random.default_rng(0)
    for n_centers in (10, 500):
        centers, X = rng.random((n_centers, 3)), rng.random((2000, 3))
        scores = worst_where(lambda X: np.ones(len(X)), _Balls(centers, 0.05).contain)(X)
        distance = np.linalg.norm(X[:, None, :] - centers[None, :, :], axis=2).min(axis=1)
        assert (distance < 0.05).any() and not (distance < 0.05).all()
        assert (np.isinf(scores) == (distance < 0.05)).all()


def test_no_step_from_the_best_while_the_lowest_cost_is_shared() -> None:
    """perturb=1 with a trial running: steps from the best configuration, unless its cost is
    shared, when the proposal comes from the search (outside the plateau balls)."""
    import numpy as np

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=1)
    for tie, steps in ((False, True), (True, False)):
        proposer = _region_proposer(space, perturb=1.0, plateau_radius=0.05)
        rh = RunHistory(space)
        for i, config in enumerate(space.sample_configuration(10)):
            _finish(rh, config, 1.0 if tie and i < 2 else 1.0 + i)
        rh.add_running(TrialInfo(space.sample_configuration()))
        rng = np.random.default_rng(0)
        proposer(rh, rng)  # a search: learns whether the lowest cost is shared
        assert (proposer._perturbed(rh, rng) is not None) == steps


def test_the_hpo_preset_keeps_proposals_off_plateaus() -> None:
    from smacx import SMAC, Scenario

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=10, deterministic=True, output_directory=None)
    assert SMAC(scenario).selector.proposer.plateau_radius == 0.015  # type: ignore[union-attr]
    blackbox = SMAC(scenario, preset="blackbox").selector.proposer
    assert blackbox.plateau_radius == 0.015  # type: ignore[union-attr]


def test_whether_the_lowest_cost_is_shared_is_followed_result_by_result() -> None:
    """Read a row at a time or all at once, ``_lowest`` tells the same: shared once another
    configuration has the lowest cost (up to rounding, as among all costs read so far), no
    longer once a lower one arrives; a second seed of the same configuration shares nothing."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    configs = space.sample_configuration(12)
    cases = [
        (
            [3.0, 1.0, 2.0, 1.0 * (1 + 1e-13), 0.5, float("inf"), 0.75, 0.5, 0.25, 0.25 + 1e-9],
            [False, False, False, True, False, False, False, True, False, False],
        ),
        # the tolerance grows with the spread of the costs read later
        ([1.0, 1.0 + 5e-13, 10.0], [False, False, True]),
        ([2.0, 2.0 - 1e-13, 5.0], [False, False, True]),
    ]
    for costs, expected in cases:
        stepwise = _region_proposer(space, min_observations=1)
        rh = RunHistory(space)
        for config, cost, shared in zip(configs, costs, expected):
            _finish(rh, config, cost)
            assert stepwise._lowest(rh) is not None
            assert stepwise._lowest_is_shared() == shared
            at_once = _region_proposer(space, min_observations=1)
            at_once._lowest(rh)
            assert at_once._lowest_is_shared() == shared
    # two seeds of one configuration with the same cost: no other configuration shares it
    rh = RunHistory(space)
    for config, cost in zip(configs[:3], [2.0, 1.0, 3.0]):
        _finish(rh, config, cost)
    proposer = _region_proposer(space, min_observations=1)
    proposer._lowest(rh)
    info = TrialInfo(configs[1], seed=7)
    rh.add_running(info)
    rh.add(info, TrialValue(cost=1.0))
    proposer._lowest(rh)
    assert not proposer._lowest_is_shared()
    _finish(rh, configs[3], 1.0)
    proposer._lowest(rh)
    assert proposer._lowest_is_shared()


def test_no_step_from_the_best_lands_in_a_plateau_ball() -> None:
    """The best cost is unique, but two configurations next to it share a cost: steps from
    the best (perturb=1, a trial running) stay out of their balls."""
    import numpy as np
    from ConfigSpace import Configuration

    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=1)
    proposer = _region_proposer(space, perturb=1.0, plateau_radius=0.05)
    rh = RunHistory(space)
    points = [((0.5, 0.5), 0.0), ((0.52, 0.5), 5.0), ((0.9, 0.9), 5.0)]
    points += [((0.1 * i, 0.95), 6.0 + i) for i in range(1, 8)]
    for (x, y), cost in points:
        _finish(rh, Configuration(space, values={"x": x, "y": y}), cost)
    rh.add_running(TrialInfo(space.sample_configuration()))
    rng = np.random.default_rng(0)
    proposer._search(rh, rng, 0, 4)  # finds the balls around (0.52, 0.5) and (0.9, 0.9)
    steps = [proposer._perturbed(rh, rng) for _ in range(60)]
    taken = [c for c in steps if c is not None]
    assert len(taken) > 30
    for c in taken:
        assert math.hypot(c["x"] - 0.52, c["y"] - 0.5) >= 0.05


@pytest.mark.parametrize("n", [100, 2_100, 6_000])
def test_squared_distances_equal_their_definition_on_either_side_of_the_blas_limit(
    n: int,
) -> None:
    """Above 2**16 pairs the products are numpy's own (einsum), not BLAS's, which spread them
    over threads and took 30 times as long on a busy machine (a scale audit's finding)."""
    from smacx.selector import _BLAS_PAIRS, _sq_dists

    rng = np.random.default_rng(0)
    A, B = rng.random((32, 8)), rng.random((n, 8))
    assert (32 * n > _BLAS_PAIRS) is (n > 2_048)
    exact = ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2)
    assert np.allclose(_sq_dists(A, B), exact, rtol=0, atol=1e-12)


def test_a_finite_crash_cost_of_several_objectives_is_no_part_of_the_normalization() -> None:
    """ParEGO normalized by the range of every finite cost, a crash cost of 1e6 included:
    the successes were squeezed into a sliver of [0, 1] (ZDT1's hypervolume fell from 0.805
    to 0.745, a multi-objective audit's finding). A failure is imputed as at crash_cost=inf:
    the proposals are the same."""
    from smacx import SMAC, Scenario, StatusType

    def target(config: Configuration) -> list[float]:
        if config["y"] > 0.7:
            raise RuntimeError("a region that crashes")
        return [config["x"], 1 - config["x"] ** 0.5 + config["y"]]

    proposed = []
    for crash in (math.inf, 1e6):
        space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
        sc = Scenario(space, objectives=["f1", "f2"], n_trials=25, deterministic=True,
                      crash_cost=crash, output_directory=None)  # fmt: skip
        smac = SMAC(sc, target, progress=False, raise_on_first_crash=False)
        smac.optimize()
        configs = [
            smac.runhistory.get_config(k.config_id) for k in smac.runhistory.finished_since(0)
        ]
        assert any(v.status is StatusType.CRASHED for _, v in smac.runhistory.finished())
        proposed.append([dict(c) for c in configs])
    assert proposed[0] == proposed[1]


# -- priors (PriorWeighted) -------------------------------------------------------------------


def _prior_run(
    beta: float | None, *, weighted: bool = True, prior: bool = True, n: int = 25
) -> Any:
    """A run on a 2-d quadratic with its minimum at (0.2, 0.2) and, with ``prior``, a normal
    prior at (0.8, 0.8) (standard deviation 0.1): a misleading belief. ``weighted``: with
    ``PriorWeighted(LogEI(), beta=beta)``, else ``LogEI()``."""
    from ConfigSpace import Float, Normal

    from smacx import SMAC, Scenario
    from smacx.acquisition import LogEI, PriorWeighted

    space = ConfigurationSpace(seed=0)
    dist = {"distribution": Normal(0.8, 0.1)} if prior else {}
    space.add([Float("x", (0.0, 1.0), **dist), Float("y", (0.0, 1.0), **dist)])
    scenario = Scenario(space, n_trials=n, deterministic=True, output_directory=None, seed=3)
    acquisition = PriorWeighted(LogEI(), beta=beta) if weighted else LogEI()
    smac = SMAC(
        scenario,
        lambda config: (config["x"] - 0.2) ** 2 + (config["y"] - 0.2) ** 2,
        acquisition=acquisition,
        random_probability=0.0,
        progress=False,
    )
    smac.optimize()
    return smac


def _model_points(smac: Any) -> np.ndarray:
    history = smac.runhistory
    points = [
        (c["x"], c["y"]) for c in history.get_configs() if history.get_origin(c) != "initial design"
    ]
    return np.array(points)


def test_a_strong_prior_draws_the_proposals_and_a_weak_one_leaves_them_to_the_model() -> None:
    strong = _model_points(_prior_run(beta=1e4))
    weak = _model_points(_prior_run(beta=1e-4))
    mode, optimum = np.array([0.8, 0.8]), np.array([0.2, 0.2])
    # beta / t stays above 1,000 over the run: every proposal is near the prior's mode (the
    # trust region around the design's best point stands aside while beta / t >= 1)
    assert np.median(np.linalg.norm(strong - mode, axis=1)) < 0.15
    # with a vanishing weight the model searches near the minimum, far from the mode
    near_optimum = np.median(np.linalg.norm(weak - optimum, axis=1))
    assert near_optimum < 0.3 and near_optimum < np.median(np.linalg.norm(weak - mode, axis=1))


def test_the_design_starts_at_the_priors_mode_and_beta_defaults_to_a_tenth_of_n_trials() -> None:
    smac = _prior_run(beta=None, n=30)
    first = smac.runhistory.get_configs()[0]
    assert (first["x"], first["y"]) == (0.8, 0.8)
    assert smac.selector.proposer.acquisition.beta == pytest.approx(3.0)


def test_without_priors_the_weighting_changes_nothing() -> None:
    weighted = _prior_run(beta=5.0, prior=False)
    plain = _prior_run(beta=None, weighted=False, prior=False)
    assert [dict(c) for c in weighted.runhistory.get_configs()] == [
        dict(c) for c in plain.runhistory.get_configs()
    ]


@pytest.mark.parametrize("preset", ["hpo", "multifidelity"])
def test_the_priors_weight_starts_at_beta_after_the_design(
    preset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """t counts the configurations beyond the initial design: Hyperband's brackets store
    their own origins, and the multi-fidelity preset started at beta / 11 (a priors audit's
    finding)."""
    from ConfigSpace import Float, Normal

    from smacx import SMAC, Scenario
    from smacx.acquisition import PriorWeighted

    exponents: list[float] = []
    weigh = PriorWeighted.weigh

    def spy(self: PriorWeighted, model: Any, best_y: float, log_prior: Any, exponent: float) -> Any:
        exponents.append(exponent)
        return weigh(self, model, best_y, log_prior, exponent)

    monkeypatch.setattr(PriorWeighted, "weigh", spy)
    space = ConfigurationSpace(seed=0)
    space.add([Float(f"x{i}", (0.0, 1.0), distribution=Normal(0.3, 0.1)) for i in range(2)])
    budgets = {"min_budget": 1, "max_budget": 9} if preset == "multifidelity" else {}
    scenario = Scenario(
        space, n_trials=60, deterministic=True, output_directory=None, seed=0, **budgets
    )

    def target(config: Configuration, seed: int = 0, budget: float = 9.0) -> float:
        return (config["x0"] - 0.3) ** 2 + (config["x1"] - 0.3) ** 2 + 1.0 / budget

    smac = SMAC(scenario, target, preset=preset, acquisition=PriorWeighted(beta=4.0))
    smac.optimize()
    assert exponents and exponents[0] == pytest.approx(4.0, rel=0.25)
    assert exponents == sorted(exponents, reverse=True) and exponents[-1] < 0.5


def test_a_space_of_many_conditional_hyperparameters_starts_its_model_after_the_design() -> None:
    """An AutoML space (a classifier's choice, each with children of its own) was random
    search for its first d + 1 trials, d counting every hyperparameter though few are active
    at once: 141 on a space of 140, and a run of 130 trials never used its model (an audit;
    SMAC3 starts its forest after its initial design, Optuna's TPE after 10 trials)."""
    from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float

    from smacx import SMAC, Scenario, TrialValue

    space = ConfigurationSpace(seed=0)
    choice = Categorical("model", [f"m{i}" for i in range(6)])
    space.add(choice)
    for i in range(6):
        children = [Float(f"m{i}_p{k}", (0.0, 1.0)) for k in range(8)]
        space.add(children)
        space.add([EqualsCondition(child, choice, f"m{i}") for child in children])
    scenario = Scenario(space, n_trials=40, seed=0, deterministic=True, output_directory=None)
    smac = SMAC(scenario)
    origins = []
    for _ in range(40):
        info = smac.ask()
        origins.append(info.config.origin)
        active = [v for k, v in dict(info.config).items() if k != "model"]
        smac.tell(info, TrialValue(cost=float(sum(active))))
    assert smac.selector.proposer is not None
    assert smac.selector.proposer.min_observations == 10  # (was 50: 49 varying dimensions)
    assert "model" in origins[10:20] and "model" not in origins[:10]
