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


def test_a_plain_function_is_called_after_each_result_and_can_stop() -> None:
    """As Optuna takes functions for callbacks: fn(smac, info, value) after each result."""
    seen: list[float] = []

    def stop_after_three(smac: SMAC, info: Any, value: Any) -> bool:
        seen.append(value.cost)
        return smac.runhistory.n_finished < 3

    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=10, output_directory=None)
    smac = SMAC(
        scenario, lambda config, seed: config["x"], callbacks=[stop_after_three], progress=False
    )
    smac.optimize()
    assert smac.runhistory.n_finished == 3 and len(seen) == 3
    assert seen == [v.cost for _, v in smac.runhistory.items()]
    assert "FunctionCallback(test_a_plain_function" in repr(smac.callbacks[0])


def test_numpy_false_stops_the_run_as_false_does() -> None:
    """``return costs.min() > 1.0`` on an array returns numpy's bool, not Python's."""
    import numpy as np

    def until_below_half(smac: SMAC, info: Any, value: Any) -> Any:
        costs = np.array([v.cost for _, v in smac.runhistory.items()])
        return costs.min() > 0.05

    scenario = Scenario(
        ConfigurationSpace({"x": (0.0, 1.0)}, seed=0), n_trials=30, output_directory=None
    )
    smac = SMAC(
        scenario, lambda config, seed: config["x"], callbacks=[until_below_half], progress=False
    )
    smac.optimize()
    costs = [v.cost for _, v in smac.runhistory.items()]
    # stopped at the first cost at or below 0.05
    assert 1 < len(costs) < 30 and costs[-1] <= 0.05 and min(costs[:-1]) > 0.05


def test_a_callback_that_raises_leaves_its_result_recorded_and_not_told_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_backend(smac: SMAC, info: Any, value: Any) -> None:
        if smac.runhistory.n_finished == 2:
            raise ConnectionError("the logging backend is down")

    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=5, output_directory=None)
    smac = SMAC(
        scenario, lambda config, seed: config["x"], callbacks=[broken_backend], progress=False
    )
    with pytest.raises(ConnectionError):
        smac.optimize()
    assert smac.runhistory.n_finished == 2
    smac.optimize()  # the rest of the trials
    assert smac.runhistory.n_finished == 5 and smac.runhistory.n_running == 0
    smac.close()
    assert "told already" not in caplog.text


def test_on_tell_start_returning_false_stops_after_the_result_is_recorded() -> None:
    """SMAC3's on_tell_start stops the run by returning False; smacx ran on to n_trials (a
    stopping audit's finding)."""

    class FromSMAC3(Callback):
        def on_tell_start(self, smac: Any, info: Any, value: Any) -> bool:
            return smac.runhistory.n_finished < 2

    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=10, output_directory=None)
    smac = SMAC(scenario, lambda config, seed: 1.0, callbacks=[FromSMAC3()], progress=False)
    smac.optimize()
    assert smac.runhistory.n_finished == 3  # the third result, then the stop


def test_a_failing_on_tell_start_keeps_the_result_and_on_start_gets_its_on_end() -> None:
    """A result whose on_tell_start raised was lost (run again later); a callback whose
    on_start ran got no on_end when another's on_start raised (a stopping audit's)."""
    events: list[str] = []

    class Tracker(Callback):
        def on_start(self, smac: Any) -> None:
            events.append("start")

        def on_end(self, smac: Any) -> None:
            events.append("end")

        def on_tell_start(self, smac: Any, info: Any, value: Any) -> None:
            if smac.runhistory.n_finished == 1:
                raise ConnectionError("dashboard unreachable")

    class Unreachable(Callback):
        def on_start(self, smac: Any) -> None:
            raise ConnectionError("cannot reach the dashboard")

    class Logger(Callback):
        told = 0

        def on_tell_end(self, smac: Any, info: Any, value: Any) -> None:
            self.told += 1

    logged = Logger()
    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=3, output_directory=None)
    smac = SMAC(scenario, lambda c, seed: 1.0, callbacks=[Tracker(), logged], progress=False)
    with pytest.raises(ConnectionError, match="dashboard unreachable"):
        smac.optimize()
    assert smac.runhistory.n_finished == 2 and smac.runhistory.n_running == 0
    assert logged.told == 2  # (the other hooks hear of the result too: a review's finding)
    assert events == ["start", "end"]
    events.clear()
    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=3, output_directory=None)
    smac = SMAC(scenario, lambda c, seed: 1.0, callbacks=[Tracker(), Unreachable()])
    with pytest.raises(ConnectionError, match="cannot reach"):
        smac.optimize()
    assert events == ["start", "end"]
    assert smac.stop_reason == "an error: ConnectionError"


def test_an_optuna_style_function_is_refused_with_what_it_is_called_with() -> None:
    def optuna_style(study: Any, trial: Any) -> None:
        pass

    message = (
        r"optuna_style must take \(smac, info, value\).* signature is \(study.*trial.*\. Optuna"
    )
    with pytest.raises(ScenarioError, match=message):
        build(optuna_style)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[42], [Callback], Callback()])
def test_callbacks_that_are_neither_hooks_nor_functions_are_refused(bad: Any) -> None:
    scenario = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=3, output_directory=None)
    with pytest.raises(ScenarioError, match="callbacks must be"):
        SMAC(scenario, lambda config, seed: 1.0, callbacks=bad, progress=False)


def test_time_in_callbacks_is_theirs_not_smacx_own() -> None:
    """A monitoring callback taking 50 ms per result showed as 54 ms of smacx's own time
    per trial (a watching audit's finding): it is counted apart, and the summary names it."""
    import time

    class Slow(Callback):
        def on_ask_start(self, smac: SMAC) -> None:
            time.sleep(0.01)

        def on_tell_end(self, smac: SMAC, info: Any, value: Any) -> None:
            time.sleep(0.03)

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=10, deterministic=True, output_directory=None)
    smac = SMAC(scenario, lambda config: float(config["x"]), preset="random", progress=False,
                callbacks=[Slow()])  # fmt: skip
    smac.optimize()
    stats = smac.stats
    assert stats["callback_time"] >= 10 * 0.04
    # (without the callbacks' sleeps, random proposals take a few ms each)
    assert stats["smacx_time"] < stats["callback_time"] / 2
    assert "s in callbacks" in smac.summary()
