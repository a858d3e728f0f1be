"""Callbacks: their hooks are checked when SMAC is built, not when a run first calls them."""

from __future__ import annotations

from typing import Any

import pytest
from ConfigSpace import ConfigurationSpace

from smacx import SMAC, Callback, Scenario, ScenarioError


def build(callback: Callback) -> SMAC:
    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=3, output_directory=None)
    return SMAC(scenario, lambda config, seed: 1.0, callbacks=[callback], progress=False)


def test_a_hook_that_cannot_take_its_arguments_is_refused() -> None:
    class TwoArguments(Callback):
        def on_tell_end(self, smac: Any, value: Any) -> None:  # type: ignore[override]
            pass

    message = r"TwoArguments.on_tell_end must take .* on_tell_end\(self, smac, info, value\)"
    with pytest.raises(ScenarioError, match=message):
        build(TwoArguments())


def test_a_method_named_as_no_hook_is_warned_of_with_the_closest_hook() -> None:
    class FromSMAC3(Callback):
        def on_iteration_end(self, smbo: Any) -> None:
            pass

    with pytest.warns(UserWarning, match=r"FromSMAC3.on_iteration_end is no hook .* on_tell_end"):
        build(FromSMAC3())


def test_hooks_with_defaults_or_varargs_are_accepted(recwarn: pytest.WarningsRecorder) -> None:
    class OtherFramework:
        def on_train_begin(self) -> None:
            pass

    class Loose(Callback, OtherFramework):
        on_tell_calls = 0  # an attribute, not a hook

        def on_start(self, smac: Any, extra: Any = None) -> None:
            pass

        def on_tell_end(self, smac: Any, *args: Any, **kwargs: Any) -> None:
            pass

    build(Loose()).optimize()
    assert not [w for w in recwarn if "hook" in str(w.message)]
