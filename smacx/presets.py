"""The presets of :class:`~smacx.SMAC` (``preset="hpo"``, ``"blackbox"``, ...): the model,
acquisition function and maximizer each one builds, and the checks on parts a user gives
instead."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import warnings
from typing import Any, Literal

import numpy as np
from ConfigSpace import Configuration

from smacx.errors import ScenarioError, warn_caller
from smacx.models import Model
from smacx.runhistory import same_space
from smacx.scenario import Scenario
from smacx.selector import Acquisition, Maximizer, ModelProposer

#: The type of ``SMAC(preset=...)``: one of :data:`PRESETS`.
Preset = Literal["hpo", "blackbox", "random", "hyperband", "multifidelity"]


#: Names accepted by ``SMAC(preset=...)``.
PRESETS: tuple[Preset, ...] = ("hpo", "blackbox", "random", "hyperband", "multifidelity")


#: The presets that propose random configurations only (baselines).
RANDOM_PRESETS = ("random", "hyperband")


#: What SMAC calls on each part a user may swap in, and an example of one.
_PART_METHODS = {
    "model": (("fit", "predict"), "smacx.models.RandomForest(n_trees=20)"),
    "acquisition": (("bind",), "smacx.acquisition.LCB(beta=2)"),
    "maximizer": (("maximize",), "smacx.maximizer.LocalAndRandomSearch(Encoder(configspace))"),
}


#: The arguments SMAC passes to each method of a part, positionally.
_PART_ARGUMENTS = {
    "fit": ("X", "y"),
    "predict": ("X",),
    "bind": ("model", "best_y"),
    "maximize": ("acq", "n", "start_points", "exclude"),
}


def check_parts(**parts: object) -> None:
    """Reject a model, acquisition function or maximizer that lacks the methods SMAC calls
    (say, a class instead of an instance, or a name), before anything runs."""
    for name, part in parts.items():
        if part is None:
            continue
        methods, example = _PART_METHODS[name]
        missing = [m for m in methods if not callable(getattr(part, m, None))] or (
            ["(an instance, not the class)"] if isinstance(part, type) else []
        )
        if missing:
            raise ScenarioError(
                f"SMAC's {name} must be an object with method(s) {', '.join(methods)}, such as "
                f"{example}; got {part!r:.200} (missing: {', '.join(missing)})."
            )
        for method in methods:
            arguments = _PART_ARGUMENTS[method]
            try:
                inspect.signature(getattr(part, method)).bind(*arguments)
            except ValueError:  # (no signature to be had: a builtin's)
                continue
            except TypeError:
                # (a bind(model) without best_y failed after the initial design had run)
                raise ScenarioError(
                    f"SMAC's {name}: {type(part).__name__}.{method} must take "
                    f"({', '.join(arguments)}), as SMAC calls it; it takes "
                    f"{inspect.signature(getattr(part, method))}."
                ) from None


def try_model(model: object, scenario: Scenario) -> None:
    """Fit a copy of a model of the user's own on a few random rows, and refuse it now if
    its ``predict`` does not return ``(mean, variance)``: scikit-learn's
    ``GaussianProcessRegressor`` (one array) was accepted, and failed after the initial
    design had run. smacx's own models, and a model that cannot be copied or fitted on so
    few rows, are left to the run."""
    from smacx.acquisition import model_moments
    from smacx.encoding import Encoder
    from smacx.models import GaussianProcess, RandomForest

    if isinstance(model, (RandomForest, GaussianProcess)):
        return
    rng = np.random.default_rng(0)
    n_dims = Encoder(scenario.configspace, scenario.instance_features).n_dims
    try:
        trial = copy.deepcopy(model)
        with warnings.catch_warnings():  # (a fit on 8 random rows: its warnings say nothing)
            warnings.simplefilter("ignore")
            trial.fit(rng.random((8, n_dims)), rng.random(8))  # type: ignore[attr-defined]
    except Exception:
        return
    with np.errstate(all="ignore"):
        mean, std = model_moments(trial, rng.random((2, n_dims)))  # type: ignore[arg-type]
    if not np.isfinite(mean).any() or np.isnan(std).all():
        # (every score NaN ranks the candidates at random: the run went on without a word)
        raise ScenarioError(
            f"SMAC(model=...): {type(model).__name__}.predict returned means {mean.tolist()} "
            f"and standard deviations {std.tolist()} after a fit on 8 random rows: with no "
            "finite mean, or no variance that is a number, its proposals would be drawn at "
            "random. Check its fit and predict (a spread of 0 that y is divided by, say)."
        )


def preset_parts(
    preset: str,
    scenario: Scenario,
    *,
    model: Model | None,
    acquisition: Acquisition | None,
    maximizer: Maximizer | None,
    plateau_radius: float | None = None,
    random_probability: float | None = None,
    plateau_probability: float | None = None,
    design_size: int = 0,
) -> tuple[ModelProposer | None, float]:
    """The model-based proposer of a preset (None for random search) and its random share."""
    from smacx.acquisition import LogEI, PriorWeighted
    from smacx.encoding import Encoder
    from smacx.maximizer import LocalAndRandomSearch
    from smacx.models import GaussianProcess, RandomForest

    if preset in RANDOM_PRESETS:
        given = [
            n
            for n, v in [
                ("model", model),
                ("acquisition", acquisition),
                ("maximizer", maximizer),
                ("plateau_radius", plateau_radius),
                ("random_probability", random_probability),
                ("plateau_probability", plateau_probability),
            ]
            if v is not None
        ]
        if given:
            raise ScenarioError(
                f"SMAC got {', '.join(given)} with preset={preset!r}, which uses no model; "
                "choose preset='hpo', 'blackbox' or 'multifidelity'."
            )
        return None, 1.0
    encoder = Encoder(scenario.configspace, scenario.instance_features)
    searched = getattr(maximizer, "encoder", None)
    if isinstance(searched, Encoder) and not same_space(searched.configspace, scenario.configspace):
        raise ScenarioError(
            "SMAC's maximizer searches another space than the scenario's: build it on "
            "Encoder(scenario.configspace), e.g. LocalAndRandomSearch(Encoder(scenario."
            f"configspace)); got one on {searched.names[:5]!r}."
        )
    if preset == "blackbox":
        default_model: Model = GaussianProcess(seed=scenario.seed)
        probability = 0.08
        if model is None:
            _warn_if_unsuited_to_a_gp(encoder, scenario.n_trials)
    else:
        # Chosen on benchmarks/tasks.py (13 synthetic tasks, 100 trials, 5 seeds): fully grown
        # trees and a 5% random share beat Optuna's median on 8 tasks where SMAC3-like
        # settings (leaves of 3, 20% random) beat it on 6, with a local search of 20 steps
        # from 500 random candidates (a smaller one lost on Ackley and Goldstein-Price).
        # Noisy targets (not deterministic) get leaves of 3 and a larger log margin, and the
        # proposer trains on each configuration's mean: on a 5-d function with noise of sd 1
        # the incumbents' mean true cost over 20 seeds went from -1.61 to -2.93 (optimum
        # -4.12; Optuna's TPE -3.06), on Hartmann-6 with sd 0.3 from -2.19 to -2.85 (10 seeds).
        default_model = RandomForest(
            log_y=True,
            log_margin=1e-2 if scenario.deterministic else 0.1,
            min_samples_leaf=1 if scenario.deterministic else 3,
            min_samples_split=2 if scenario.deterministic else 3,
            ratio_features=1.0,
            seed=scenario.seed,
        )
        probability = 0.05
        if (
            preset == "hpo"
            and scenario.instances is not None
            and len(scenario.instances) > 1
            and scenario.instance_features is None
        ):
            # Instances without features: the model sees one configuration's costs on
            # different instances as noise, and a challenger tried on an easy instance as a
            # good one. SMAC3's algorithm configuration facade draws half its proposals at
            # random; so does this. On 30 instances (150 trials, 20 seeds, deterministic)
            # the median regret went from 0.74 to 0.37 with costs that scale with each
            # instance's hardness, and from 0.46 to 0.24 with costs that add it (better on 12
            # and 14 of the 20 seeds, worse on 5 and 4); on 100 instances, 0.45 and 0.51 (12
            # seeds). With features the model tells instances apart, and 5% stays (an audit:
            # 0.26 against 0.49 with half).
            probability = 0.5
    chosen = model if model is not None else default_model
    # A forest's variance ignores how far a point lies from the observations; a process's
    # does not. Chosen on benchmarks/tasks.py (14 tasks, 100 trials, 10 seeds): a share of 1
    # lowered the mean log10 regret at 100 trials on all seven tasks of up to three
    # dimensions (by 0.1 to 1.4) and left the others as they were (it acts only where the
    # observations cover the space densely); at 25 trials it was worse on three of the seven
    # (by up to 0.4).
    extrapolation = 1.0 if isinstance(chosen, RandomForest) else 0.0
    if isinstance(chosen, RandomForest):
        # not in the middle of the run, where the loop would stand still while it imports
        rows = scenario.n_trials if scenario.n_trials is not None else _UNBOUNDED_ROWS
        chosen.preload(rows, encoder.n_dims + encoder.n_instance_features)
    if isinstance(acquisition, PriorWeighted) and acquisition.beta is None:
        beta = scenario.n_trials / 10 if scenario.n_trials is not None else 10.0
        acquisition = dataclasses.replace(acquisition, beta=max(beta, 0.1))
    proposer = ModelProposer(
        encoder,
        chosen,
        acquisition if acquisition is not None else LogEI(),
        maximizer
        if maximizer is not None
        else LocalAndRandomSearch(encoder, n_random=500, max_steps=20, seed=scenario.seed),
        n_objectives=scenario.n_objectives,
        extrapolation=extrapolation,
        noisy=not scenario.deterministic,
        # The preset's own search only: a maximizer of the user's may not take a region.
        trust_region=0.2 if preset == "hpo" and maximizer is None else 0.0,
        plateau_radius=(0.015 if preset in ("hpo", "blackbox") else 0.0)
        if plateau_radius is None
        else float(plateau_radius),
        perturb=0.25 if preset == "hpo" else 0.0,
        design_size=design_size,
    )
    return proposer, probability


#: Most dimensions preset="blackbox" is meant for (its Gaussian process's kernel has one length
#: scale per dimension, fitted on every result).
_GP_DIMENSIONS = 10


#: Most trials preset="blackbox" is meant for: its fit grows with the cube of the history, about
#: 1 s at 200 observations and 13 s at 500 (docs/presets.rst).
_GP_TRIALS = 300


def prior_modes(scenario: Scenario) -> list[Configuration]:
    """The configuration where the scenario's priors peak (see ``Encoder.prior_mode``), as
    a list of one; none when no valid configuration is there."""
    from smacx.encoding import Encoder

    encoder = Encoder(scenario.configspace)
    row = encoder.prior_mode()
    return encoder.decode(row) if len(row) else []


def weighs_priors(acquisition: Acquisition | None, scenario: Scenario) -> bool:
    """Whether ``acquisition`` weighs the priors of the scenario's space, which has some."""
    from smacx.acquisition import PriorWeighted
    from smacx.encoding import has_prior

    return isinstance(acquisition, PriorWeighted) and any(
        has_prior(hp) for hp in scenario.configspace.values()
    )


#: The history size a model is prepared for when ``n_trials`` sets no bound.
_UNBOUNDED_ROWS = 10_000


def _warn_if_unsuited_to_a_gp(encoder: Any, n_trials: int | None) -> None:
    """Warn when ``preset="blackbox"`` is asked to search a space its Gaussian process suits
    poorly: categorical hyperparameters (their codes look like numbers to the kernel),
    conditional ones, or more than ``_GP_DIMENSIONS`` dimensions; or to run more than
    ``_GP_TRIALS`` trials. On three 8-way categoricals and a float, its median best cost was
    1.0 where the forest's was 0.027 (random: 3.2)."""
    names = list(encoder.names)
    categorical = [n for n, c in zip(names, encoder.is_categorical.tolist()) if c]
    conditional = [n for n in names if encoder.configspace.parent_conditions_of.get(n)]
    problems = []
    if categorical:
        problems.append(f"categorical hyperparameters {categorical[:5]}")
    if conditional:
        problems.append(f"conditional hyperparameters {conditional[:5]}")
    if len(names) > _GP_DIMENSIONS:
        problems.append(f"{len(names)} dimensions")
    if problems:
        warn_caller(
            "preset='blackbox' (a Gaussian process) is meant for low-dimensional continuous "
            f"spaces; this one has {' and '.join(problems)}. preset='hpo' (the random forest, "
            "the default) handles them better, and faster past a few hundred trials."
        )
    if n_trials is not None and n_trials > _GP_TRIALS:
        warn_caller(
            f"preset='blackbox' (a Gaussian process) is meant for runs of up to about "
            f"{_GP_TRIALS} trials; this one asks for n_trials={n_trials}. Its fit after each "
            "result grows with the cube of the history (about 1 s at 200 observations, 13 s at "
            "500): preset='hpo' (the random forest, the default) stays at milliseconds."
        )
