"""Errors: the hierarchy, and unknown keywords answered with what the constructor takes."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from ConfigSpace import Configuration, ConfigurationSpace

import smacx
from smacx import (
    SMAC,
    ArgumentError,
    InitialDesign,
    Scenario,
    SerialRunner,
    SmacxError,
    TrialValue,
    errors,
)
from smacx.acquisition import LCB
from smacx.errors import keyword_hints
from smacx.models import RandomForest
from smacx.runners import DaskParallelRunner


@pytest.fixture
def scenario() -> Scenario:
    return Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=3, output_directory=None)


def target(config: Configuration, seed: int = 0) -> float:
    return float(config["x"])


def test_argument_error_is_a_type_error() -> None:
    assert issubclass(ArgumentError, SmacxError)
    assert issubclass(ArgumentError, TypeError)


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_a_smacx_error_and_a_builtin_one(name: str) -> None:
    cls = getattr(errors, name)
    assert cls is getattr(smacx, name)  # exported at the top level too
    assert issubclass(cls, SmacxError)
    if cls is not SmacxError:
        builtin = [b for b in cls.__mro__ if b.__module__ == "builtins"]
        assert builtin[0] not in (Exception, BaseException, object), cls.__mro__


def test_a_closed_runner_is_not_a_lack_of_workers() -> None:
    """Code that catches NoWorkersError to wait for workers must not wait on a closed runner."""
    assert not issubclass(errors.RunnerClosedError, errors.NoWorkersError)
    assert issubclass(errors.RunnerClosedError, RuntimeError)


@pytest.mark.parametrize(
    ("keyword", "hint"),
    [
        ("n_trial", "did you mean 'n_trials'?"),
        ("outdir", "it takes configspace, name, output_directory,"),
        ("overwrite", "it is a keyword of SMAC(...), not a field of Scenario."),
        ("model", "it is a keyword of SMAC(...), not a field of Scenario."),
        ("use_default_config", "InitialDesign(additional_configs="),
        ("maximize", "smacx minimizes every objective: have the target return the metric"),
        ("direction", "negated (-accuracy)"),
    ],
)
def test_scenario_names_the_unknown_field_and_the_fix(keyword: str, hint: str) -> None:
    with pytest.raises(ArgumentError) as raised:
        Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), **{keyword: 1})
    message = str(raised.value)
    assert message.startswith(f"Scenario got an unexpected keyword argument {keyword!r}: ")
    assert hint in message


@pytest.mark.parametrize(
    ("keyword", "hint"),
    [
        ("n_trials", "it is a field of Scenario(...): Scenario(configspace, n_trials=...)."),
        ("seed", "Scenario(configspace, seed=...)"),
        ("target_function", "smacx calls it target_fn."),
        ("acquisition_function", "acquisition=LogEI()"),
        ("callback", "did you mean 'callbacks'?"),
        ("configspace", "it is Scenario's first argument: SMAC(Scenario(configspace, ...), ...)."),
        ("n_trial", "did you mean 'n_trials' (it is a field of Scenario(...): "),
        ("modle", "did you mean 'model'?"),
        ("config_selector", "smacx has no selector object: set random_probability"),
        ("runhistory_encoder", "RandomForest(log_y=True)"),
        ("maximize", "smacx minimizes every objective"),
        ("use_default_config", "InitialDesign(additional_configs=[cs.get_default_config"),
    ],
)
def test_smac_names_the_unknown_keyword_and_the_fix(
    scenario: Scenario, keyword: str, hint: str
) -> None:
    with pytest.raises(
        ArgumentError, match=f"^SMAC got an unexpected keyword argument '{keyword}'"
    ):
        SMAC(scenario, target, **{keyword: 1})
    with pytest.raises(ArgumentError) as raised:
        SMAC(scenario, target, **{keyword: 1})
    assert hint in str(raised.value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: RandomForest(n_tree=5),
            "RandomForest got an unexpected keyword argument 'n_tree': did you mean 'n_trees'?",
        ),
        (
            lambda s: LCB(bta=1.0),
            "LCB got an unexpected keyword argument 'bta': did you mean 'beta'?",
        ),
        (lambda s: InitialDesign(n_config=3), "did you mean 'n_configs' or 'min_configs'?"),
        (
            lambda s: SerialRunner(target, s, limits=1),
            "SerialRunner got an unexpected keyword "
            "argument 'limits': it takes target_fn, scenario.",
        ),
        (
            lambda s: DaskParallelRunner(SerialRunner(target, s), client=None),
            "did you mean 'dask_client'?",
        ),
        (
            lambda s: DaskParallelRunner(SerialRunner(target, s), n_workers=2),
            "Scenario(..., n_workers=...)",
        ),
    ],
)
def test_parts_name_the_unknown_keyword(
    scenario: Scenario, build: Callable[[Scenario], Any], message: str
) -> None:
    with pytest.raises(ArgumentError) as raised:
        build(scenario)
    assert message in str(raised.value)


def test_known_keywords_and_the_signature_are_unchanged(scenario: Scenario) -> None:
    assert list(inspect.signature(Scenario).parameters)[:3] == [
        "configspace",
        "name",
        "output_directory",
    ]
    assert "target_fn" in inspect.signature(SMAC).parameters
    # dataclasses.replace and pickling build or copy scenarios as before
    changed = dataclasses.replace(scenario, n_trials=7)
    assert changed.n_trials == 7 and changed.configspace == scenario.configspace
    assert pickle.loads(pickle.dumps(changed)) == changed
    assert RandomForest(n_trees=7).n_trees == 7


def test_positional_arguments_pass_through() -> None:
    @keyword_hints()
    class Pair:
        def __init__(self, a: int, b: int = 2, *, c: int = 3) -> None:
            self.values = (a, b, c)

    assert Pair(1, 5, c=4).values == (1, 5, 4)
    with pytest.raises(ArgumentError, match="did you mean 'c'"):
        Pair(1, cc=4)
    # too many: named, instead of Python's bare TypeError
    with pytest.raises(
        ArgumentError,
        match=r"^Pair takes at most 2 positional argument\(s\) \(a, b\); got 3\. Pass the "
        r"others by keyword, e.g\. Pair\(\.\.\., c=\.\.\.\)\.$",
    ):
        Pair(1, 2, 3)  # type: ignore[misc]


def test_smac3_s_intensifiers_built_on_a_scenario_say_that_smacx_s_take_none(
    scenario: Scenario,
) -> None:
    """SMAC3's examples build Intensifier(scenario, max_config_calls=1): a bare TypeError
    ("multiple values"), or the scenario's text refused as max_config_calls (a porting audit)."""
    from smacx import Hyperband, Intensifier

    hint = r"^{} takes no scenario: SMAC\(scenario, \.\.\.\) hands it .* e\.g\. {}\("
    with pytest.raises(ArgumentError, match=hint.format("Intensifier", "Intensifier")):
        Intensifier(scenario, max_config_calls=1)  # type: ignore[misc]
    with pytest.raises(ArgumentError, match=hint.format("Intensifier", "Intensifier")):
        Intensifier(scenario)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=hint.format("Hyperband", "Hyperband")):
        Hyperband(scenario)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=hint.format("Intensifier", "Intensifier")):
        Intensifier(scenario=scenario)  # type: ignore[call-arg]
    with pytest.raises(ArgumentError, match=r"'incumbent_selection': incumbents are always chos"):
        Hyperband(incumbent_selection="highest_observed_budget")  # type: ignore[call-arg]
    assert Intensifier(max_config_calls=1).max_config_calls == 1


@pytest.mark.parametrize(
    ("call", "keyword", "hint"),
    [
        ("Scenario", "timeout", "walltime_limit=...), in seconds"),
        ("Scenario", "study_name", "Scenario(..., name=...)"),
        ("Scenario", "load_if_exists", "continued by default; SMAC(..., overwrite=True)"),
        ("SMAC", "n_jobs", "Scenario(..., n_workers=...)"),
        ("SMAC", "show_progress_bar", "progress=True"),
        ("SMAC", "pruner", "preset='multifidelity'"),
        ("optimize", "n_trials", "Scenario(configspace, n_trials=...)"),
        ("optimize", "timeout", "walltime_limit"),
        ("optimize", "callbacks", "SMAC(..., callbacks=[...])"),
        ("optimize", "gc_after_trial", "call gc.collect() before it returns"),  # (was Ray's)
        # Ray Tune's and Oríon's: the nearest spelling sent them astray (a second porting audit)
        ("Scenario", "num_samples", "Scenario(..., n_trials=...) (with budgets"),
        ("optimize", "num_samples", "Scenario(..., n_trials=...)"),
        ("Scenario", "time_budget_s", "walltime_limit=...), in seconds"),
        ("Scenario", "mode", "smacx minimizes every objective"),
        ("Scenario", "max_concurrent_trials", "Scenario(..., n_workers=...)"),
        ("SMAC", "resume", "continued by default"),
        ("SMAC", "restore", "continued by default"),
        ("SMAC", "scheduler", "preset='multifidelity'"),
        ("SMAC", "metric", "objectives=[...]"),
        ("Scenario", "max_broken", "callbacks=[fn]"),
    ],
)
def test_optunas_keywords_say_where_they_go(call: str, keyword: str, hint: str) -> None:
    """A user of Optuna's create_study and Study.optimize got a bare TypeError (optimize) or
    the list of keywords (Scenario, SMAC); now each says where it goes (a porting audit), as
    do Ray Tune's and Oríon's."""
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    sc = Scenario(space, output_directory=None)
    calls: dict[str, Callable[..., object]] = {
        "Scenario": lambda **kw: Scenario(space, **kw),
        "SMAC": lambda **kw: SMAC(sc, lambda config, seed: 0.0, **kw),
        "optimize": lambda **kw: SMAC(sc, lambda config, seed: 0.0).optimize(**kw),
    }
    with pytest.raises(ArgumentError, match=rf"unexpected keyword argument '{keyword}': "):
        calls[call](**{keyword: 1})
    with pytest.raises(ArgumentError) as raised:
        calls[call](**{keyword: 1})
    assert hint in str(raised.value)


def test_a_method_with_hints_passes_calls_through_and_names_positional_misuse() -> None:
    smac = SMAC(Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), output_directory=None, n_trials=2),
                lambda config, seed: config["x"], progress=False)  # fmt: skip
    assert smac.optimize() is not None
    with pytest.raises(
        ArgumentError,
        match=r"^SMAC\.optimize takes no positional arguments; got 1\. Pass the others by "
        r"keyword, e\.g\. SMAC\.optimize\(data_to_scatter=\.\.\.\)\.$",
    ):
        smac.optimize({"X": 1})  # type: ignore[misc]
    # SMAC3's tell(info, value, save=True): a bare TypeError before (an API audit)
    info = smac.ask()
    with pytest.raises(
        ArgumentError,
        match=r"^SMAC\.tell got an unexpected keyword argument 'save': smacx stores each "
        r"result as it is told .* so it takes no save=; leave it out\.$",
    ):
        smac.tell(info, TrialValue(cost=1.0), save=True)  # type: ignore[call-arg]
    smac.tell(info, TrialValue(cost=1.0))
    # a short repr for a notebook, not <smacx.facade.SMAC object at 0x...>
    assert repr(smac) == (
        f"SMAC(run={smac.scenario.run_name!r}, preset='hpo', finished=3, running=0, "
        f"configurations={smac.runhistory.n_configs})"
    )
    with pytest.raises(
        smacx.ScenarioError, match=r"n_workers must be an int >= 1 \(for one worker per"
    ):
        Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_workers=-1)


def test_scenario_points_every_keyword_of_smac_to_smac() -> None:
    from smacx.scenario import _SMAC_KEYWORDS

    assert set(_SMAC_KEYWORDS) == set(inspect.signature(SMAC).parameters) - {"scenario"}


def test_a_facade_of_smac3_names_the_preset_that_does_its_work() -> None:
    with pytest.raises(ImportError, match=r'smacx has no BlackBoxFacade.*preset="blackbox"'):
        from smacx import BlackBoxFacade  # type: ignore[attr-defined]  # noqa: F401
    with pytest.raises(ImportError, match=r"no RandomForest at its top .* from smacx.models imp"):
        from smacx import RandomForest  # type: ignore[attr-defined]  # noqa: F401
    # the facade's class methods, as SMAC3's facades have them (a plain AttributeError before)
    with pytest.raises(AttributeError, match=r"'get_intensifier', as SMAC3's facades have: .*"
                       r"take no scenario; use Intensifier\(\.\.\.\)"):  # fmt: skip
        SMAC.get_intensifier  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"^type object 'SMAC' has no attribute 'nope'$"):
        SMAC.nope  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(SMAC, "get_model") and SMAC.__name__ == "SMAC"


@pytest.mark.parametrize("preset", ["hpo", "hyperband"])
def test_smac3_method_names_say_what_smacx_calls_them(scenario: Scenario, preset: str) -> None:
    """SMAC3's names on the run history and the intensifier (racing or Hyperband's)."""
    from dataclasses import replace

    sc = replace(scenario, instances=["a", "b", "c"]) if preset == "hyperband" else scenario
    smac = SMAC(sc, lambda config, seed, instance=None: 1.0, preset=preset, progress=False)  # type: ignore[arg-type]
    smac.optimize()
    with pytest.raises(AttributeError, match=r"'RunHistory' .* 'save', as SMAC3's has: use to_j"):
        smac.runhistory.save("rh.json")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"'average_cost', .* use get_cost\(config\)"):
        smac.runhistory.average_cost(smac.incumbent)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"'get_incumbent', .* use SMAC.incumbent \(the b"):
        smac.intensifier.get_incumbent()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"use SMAC.runhistory.get_trials\(config\)"):
        smac.intensifier.get_instance_seed_budget_keys(smac.incumbent)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"'best_value', as Optuna's Study has: use smac.inc"):
        smac.best_value  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"'stop', .* use a callback that returns False"):
        smac.stop()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"at most Intensifier\(max_incumbents=...\) members"):
        smac.best_trials  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ArgumentError, match=r"'seed': SMAC.validate\(config, seeds=\[...\]\)"):
        smac.validate(smac.incumbent, seed=3)  # type: ignore[call-arg]
    assert smac.intensifier.incumbents()[0] == smac.incumbent
    with pytest.raises(AttributeError, match=r"^'RunHistory' object has no attribute 'n_finishd'$"):
        smac.runhistory.n_finishd  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(smac.runhistory, "empty") and getattr(smac.intensifier, "x", 1) == 1


def test_smac3_names_leave_a_property_s_own_attribute_error() -> None:
    @errors.smac3_names({"old": "new"})
    class Thing:
        @property
        def broken(self) -> int:
            return self.missing  # type: ignore[attr-defined, no-any-return]

    thing = Thing()
    with pytest.raises(AttributeError, match="'missing'"):
        thing.broken  # noqa: B018
    with pytest.raises(AttributeError, match="use new"):
        thing.old  # type: ignore[attr-defined]  # noqa: B018
    assert type(copy.deepcopy(thing)) is Thing  # (copy looks up __deepcopy__ and the like)
    with pytest.raises(TypeError, match="defines __getattr__ already"):
        errors.smac3_names({})(type("Other", (), {"__getattr__": lambda self, name: 1}))
