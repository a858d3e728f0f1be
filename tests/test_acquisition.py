"""Acquisition functions against closed-form values, on a fake model."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import erfcx
from scipy.stats import norm

from smacx.acquisition import EI, LCB, PI, LogEI, LogPI, PriorWeighted, ThompsonSampling, log_h
from smacx.errors import ScenarioError


class FakeModel:
    """Predicts a fixed mean and variance per row (first column selects nothing)."""

    def __init__(self, mean: float | np.ndarray, var: float | np.ndarray) -> None:
        self.mean = mean
        self.var = var

    def fit(self, X: np.ndarray, y: np.ndarray) -> FakeModel:
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = X.shape[0]
        return np.broadcast_to(self.mean, n).copy(), np.broadcast_to(self.var, n).copy()

    def transform_y(self, y: np.ndarray | float) -> np.ndarray:
        return np.asarray(y, dtype=float)


X1 = np.zeros((1, 2))
EI_REF = 0.5 * norm.cdf(0.5) + norm.pdf(0.5)  # mean -0.5, std 1, best 0


def test_expected_improvement_closed_form() -> None:
    ei = EI().bind(FakeModel(-0.5, 1.0), 0.0)(X1)
    assert ei.shape == (1,)
    assert ei[0] == pytest.approx(0.6978, abs=1e-4)
    assert ei[0] == pytest.approx(EI_REF, rel=1e-12)
    # xi lowers the target: EI(mean -0.5, best 0, xi 0.5) is EI of gap 0, i.e. phi(0).
    assert EI(xi=0.5).bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(norm.pdf(0.0))
    # Scale: std 2 doubles EI of a doubled gap.
    assert EI().bind(FakeModel(-1.0, 4.0), 0.0)(X1)[0] == pytest.approx(2 * EI_REF)


def test_log_expected_improvement_closed_form_and_tails() -> None:
    assert LogEI().bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(
        math.log(EI_REF), rel=1e-12
    )
    # Far tail (z = -40 and -1e5), reference values from 60-digit arithmetic.
    assert LogEI().bind(FakeModel(40.0, 1.0), 0.0)(X1)[0] == pytest.approx(
        -808.29856835662, rel=1e-13
    )
    assert LogEI().bind(FakeModel(2e5, 4.0), 0.0)(X1)[0] == pytest.approx(
        math.log(2.0) - 5000000023.94479, rel=1e-13
    )
    z = np.array([-1e10, -6.7e7, -1e5, -40.0, -10.0, -1.5, -1.0, 0.0, 2.0])
    ref = [
        -5e19,
        -2244500000000037.0,
        -5000000023.94479,
        -808.29856835662,
        -55.55312203612235,
        -3.52993592080571,
        -2.4851210257126413,
        -0.9189385332046728,
        0.6973835457882284,
    ]
    np.testing.assert_allclose(log_h(z), ref, rtol=1e-14)
    # Continuous across the branch points.
    for edge in (-1.0, -1e3):
        left, right = log_h(np.array([np.nextafter(edge, -np.inf), np.nextafter(edge, np.inf)]))
        assert left == pytest.approx(right, rel=1e-9, abs=1e-9)


def test_log_h_is_finite_and_matches_the_erfcx_form_for_very_negative_z() -> None:
    """Near z = -5e7, 1 + z * Phi(z) / phi(z) used to round to 0 (log h = -inf, a warning)."""
    z = -np.logspace(0, 9, 200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = log_h(z)
    assert np.isfinite(out).all()
    assert (np.diff(out) < 0).all()  # h decreases as z falls
    # Against the erfcx form, log phi(z) + log1p(z Phi(z) / phi(z)), whose log1p term is off by
    # about eps * z^2 (under 3e-8 for -1e4 <= z <= -1e3).
    zs = -np.logspace(3, 4, 50)
    direct = (
        -0.5 * zs**2
        - 0.5 * math.log(2 * math.pi)
        + np.log1p(zs * math.sqrt(0.5 * math.pi) * erfcx(-zs / math.sqrt(2)))
    )
    np.testing.assert_allclose(log_h(zs), direct, rtol=0, atol=1e-7)


def test_ei_and_log_ei_rank_alike() -> None:
    rng = np.random.default_rng(0)
    mean, var = rng.normal(size=200), rng.random(200) + 0.01
    X = np.zeros((200, 1))
    ei = EI().bind(FakeModel(mean, var), 0.0)(X)
    log_ei = LogEI().bind(FakeModel(mean, var), 0.0)(X)
    np.testing.assert_allclose(np.log(ei), log_ei, rtol=1e-10)


def test_probability_of_improvement_closed_form() -> None:
    assert PI().bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(norm.cdf(0.5))
    assert PI(xi=0.5).bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(0.5)
    assert LogPI().bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(math.log(norm.cdf(0.5)))
    assert LogPI().bind(FakeModel(50.0, 1.0), 0.0)(X1)[0] == pytest.approx(
        norm.logcdf(-50.0), rel=1e-12
    )


def test_lower_confidence_bound() -> None:
    assert LCB(beta=2.0).bind(FakeModel(-0.5, 1.0), 0.0)(X1)[0] == pytest.approx(2.5)
    assert LCB(beta=0.0).bind(FakeModel(3.0, 9.0), 0.0)(X1)[0] == pytest.approx(-3.0)
    with pytest.raises(ScenarioError, match="beta"):
        LCB(beta=-1.0)


def test_zero_variance_limits() -> None:
    better, worse = FakeModel(-0.5, 0.0), FakeModel(0.5, 0.0)
    assert EI().bind(better, 0.0)(X1)[0] == pytest.approx(0.5)
    assert EI().bind(worse, 0.0)(X1)[0] == 0.0
    assert LogEI().bind(better, 0.0)(X1)[0] == pytest.approx(math.log(0.5))
    assert LogEI().bind(worse, 0.0)(X1)[0] == -np.inf
    assert PI().bind(better, 0.0)(X1)[0] == 1.0 and PI().bind(worse, 0.0)(X1)[0] == 0.0


def test_higher_is_better_for_lower_means() -> None:
    model = FakeModel(np.array([0.0, -1.0, 1.0]), np.ones(3))
    X = np.zeros((3, 1))
    for acq in (EI(), LogEI(), PI(), LogPI(), LCB()):
        scores = acq.bind(model, 0.0)(X)
        assert scores.shape == (3,)
        assert np.argmax(scores) == 1 and np.argmin(scores) == 2


def test_thompson_sampling_is_consistent_within_a_binding() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((5000, 3))
    ts = ThompsonSampling(seed=1)
    model = FakeModel(2.0, 4.0)
    first = ts.bind(model, 0.0)
    a = first(X)
    np.testing.assert_array_equal(a, first(X))
    np.testing.assert_array_equal(a[::-1], first(X[::-1]))  # per-row, order independent
    assert not np.array_equal(a, ts.bind(model, 0.0)(X))  # new binding, new draw
    # Scores are -(mean + std * z) with z standard normal.
    z = -(a + 2.0) / 2.0
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    np.testing.assert_array_equal(a, ThompsonSampling(seed=1).bind(model, 0.0)(X))


def test_best_y_must_be_finite() -> None:
    with pytest.raises(ScenarioError, match="best_y"):
        EI().bind(FakeModel(0.0, 1.0), float("nan"))


@pytest.mark.parametrize("scale", [1.0, 1e-12, 1e12])
def test_scores_do_not_depend_on_the_cost_scale(scale: float) -> None:
    """Costs around 1e-12 keep their uncertainty (an absolute cutoff made every EI zero)."""
    mean = np.array([-0.5, 0.3, 1.0]) * scale
    var = np.array([1.0, 0.25, 4.0]) * scale**2
    X = np.zeros((3, 2))
    for acq, scaled in ((EI(), True), (LogEI(), False), (PI(), False), (LogPI(), False)):
        reference = acq.bind(FakeModel(mean / scale, var / scale**2), 0.0)(X)
        got = acq.bind(FakeModel(mean, var), 0.0)(X)
        if scaled:  # EI is in cost units
            got = got / scale
        elif isinstance(acq, LogEI):
            got = got - math.log(scale)
        np.testing.assert_allclose(got, reference, rtol=1e-9)
    assert np.all(np.isfinite(LogEI().bind(FakeModel(mean, var), 0.0)(X)))


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: EI(xi=math.nan), "EI.xi"),
        (lambda: LogEI(xi=math.inf), "LogEI.xi"),
        (lambda: PI(xi="a"), "PI.xi"),
        (lambda: LogPI(xi=None), "LogPI.xi"),
        (lambda: LCB(beta="2"), "LCB.beta"),
        (lambda: ThompsonSampling(seed=-1), "ThompsonSampling.seed"),
        (lambda: ThompsonSampling(seed=1.5), "ThompsonSampling.seed"),
    ],
)
def test_bad_settings_name_the_argument(make: object, name: str) -> None:
    with pytest.raises(ScenarioError, match=name.replace(".", r"\.")):
        make()  # type: ignore[operator]


class _MeanOnly:
    """A user's model whose predict forgot the variance."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> None:
        pass

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X))


def test_a_model_that_predicts_no_variance_is_named() -> None:
    acq = EI().bind(_MeanOnly(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"_MeanOnly.predict must return \(mean, variance\)"):
        acq(np.zeros((3, 2)))


# -- PriorWeighted (piBO) ---------------------------------------------------------------------

X3 = np.zeros((3, 2))
LOG_PRIOR = np.array([0.0, -1.0, -3.0])


def _log_prior(X: np.ndarray) -> np.ndarray:
    return LOG_PRIOR[: X.shape[0]]


def test_prior_weighted_adds_the_weighted_log_prior_to_log_scores() -> None:
    model = FakeModel(np.array([-0.5, -0.2, 0.3]), 1.0)
    plain = LogEI().bind(model, 0.0)(X3)
    weighted = PriorWeighted(LogEI(), beta=4.0).weigh(model, 0.0, _log_prior, 0.5)(X3)
    np.testing.assert_allclose(weighted, plain + 0.5 * LOG_PRIOR)


def test_prior_weighted_multiplies_ei_by_the_prior_to_the_exponent() -> None:
    model = FakeModel(np.array([-0.5, -0.2, 0.3]), 1.0)
    ei = EI().bind(model, 0.0)(X3)
    weighted = PriorWeighted(EI()).weigh(model, 0.0, _log_prior, 2.0)(X3)
    np.testing.assert_allclose(np.exp(weighted), ei * np.exp(LOG_PRIOR) ** 2.0)


def test_prior_weighted_lcb_is_the_optimistic_improvement_times_the_prior() -> None:
    # bounds: mean - 2 std = -1.5, 0.2, 1.3 against a best of 0: improvements 1.5, 0, 0
    model = FakeModel(np.array([0.5, 2.2, 3.3]), 1.0)
    scores = PriorWeighted(LCB(beta=2.0)).weigh(model, 0.0, _log_prior, 1.0)(X3)
    assert scores[0] == pytest.approx(math.log(1.5))
    assert scores[1] == -math.inf and scores[2] == -math.inf


def test_prior_weighted_without_a_prior_is_the_wrapped_acquisition() -> None:
    model = FakeModel(np.array([-0.5, -0.2, 0.3]), 1.0)
    np.testing.assert_array_equal(
        PriorWeighted(LogPI()).bind(model, 0.0)(X3), LogPI().bind(model, 0.0)(X3)
    )
    assert PriorWeighted(ThompsonSampling(seed=1)).per_row_draws
    assert not PriorWeighted().per_row_draws


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"acquisition": "LogEI"}, "PriorWeighted.acquisition: expected one of"),
        ({"acquisition": PriorWeighted()}, "got PriorWeighted("),
        ({"beta": 0.0}, "PriorWeighted.beta: expected a finite number > 0"),
        ({"beta": math.inf}, "got inf"),
        ({"beta": True}, "got True"),
        ({"uniform_share": 1.5}, "PriorWeighted.uniform_share: expected a share in \\[0, 1\\]"),
        ({"uniform_share": "0.1"}, "got '0.1'"),
        ({"discretize": "yes"}, "PriorWeighted.discretize: expected True, False or None"),
    ],
)
def test_prior_weighted_refuses_bad_settings(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(")):
        PriorWeighted(**kwargs)  # type: ignore[arg-type]
