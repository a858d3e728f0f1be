"""smacx ships ``py.typed``: code that uses it as documented type-checks under mypy --strict."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

USER_CODE = """
    from __future__ import annotations

    from pathlib import Path

    import numpy as np
    from ConfigSpace import Configuration, ConfigurationSpace, Float

    from typing import Any

    from smacx import SMAC, Scenario, StatusType, TrialInfo, TrialValue, param_importances
    from smacx.facade import PRESETS


    def train(config: Configuration, seed: int = 0) -> float:
        return float(config["x"]) ** 2 + seed


    space = ConfigurationSpace(seed=0)
    space.add([Float("x", (-1.0, 1.0))])
    directories: list[str | Path | None] = ["runs", Path("runs"), None]
    for directory in directories:
        scenario = Scenario(space, n_trials=5, output_directory=directory)
    smac = SMAC(Scenario(space, n_trials=5, output_directory=None))
    info = smac.ask()
    smac.tell(info, TrialValue(cost=np.float32(train(info.config))))
    smac.tell(info, TrialValue(cost=(0.5, 0.25)))
    smac.tell(info, TrialValue(cost=np.array([0.5, 0.25])))
    incumbent = SMAC(scenario, train).optimize()
    if incumbent is not None:
        print(incumbent["x"], smac.runhistory.n_finished)

    # (from a typing audit: what smacx takes at run time, type checkers take too)
    rng = np.random.default_rng(0)
    told = TrialInfo(info.config, seed=rng.integers(100), budget=np.float32(3.0))
    smac.tell(told, TrialValue(cost=1.0, time=np.float32(0.1), additional_info={"a": 1}))
    value: TrialValue = smac.runhistory.get(told, TrialValue())
    cost: float | list[float] = value.cost
    for preset in PRESETS:
        SMAC(scenario, train, preset=preset)
    features = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    Scenario(space, instances=["a", "b"], instance_features=features, output_directory=None)


    def metrics(config: Configuration, seed: int, budget: float) -> dict[str, float]:
        return {"loss": 0.5, "seconds": 1.0}


    def with_info(config: Configuration) -> tuple[float, dict[str, Any]]:
        return 0.5, {"note": "x"}


    def stop(smac: SMAC, info: TrialInfo, value: TrialValue) -> bool:
        return min(value.costs()) > 0.01


    SMAC(scenario, metrics, callbacks=[stop])
    SMAC(scenario, with_info, callbacks=[lambda smac, info, value: None])
    print(param_importances(smac), StatusType.CRASHED, SMAC.__name__)
"""


@pytest.mark.slow
def test_documented_use_type_checks_strictly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = pytest.importorskip("mypy.api")
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(USER_CODE))
    # this checkout's smacx (mypy does not follow the import hook of an editable install);
    # errors inside smacx and other packages are not the user's (mypy smacx checks smacx)
    monkeypatch.setenv("MYPYPATH", str(Path(__file__).resolve().parents[1]))
    cache = ["--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run(["--strict", "--follow-imports=silent", *cache, str(script)])
    assert status == 0, out + err


@pytest.mark.slow
def test_a_name_smacx_does_not_have_is_refused_by_the_type_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The modules' __getattr__ (hints, the lazy dask import) made mypy accept any name, as
    object or Any (a packaging audit's finding)."""
    api = pytest.importorskip("mypy.api")
    script = tmp_path / "typo.py"
    script.write_text(
        "from smacx import Senario\nfrom smacx.runners import DaskParalelRunner, "
        "DaskParallelRunner\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, Scenario, StatusType, param_importances\n"
        "print(StatusType.CRASHD, SMAC.incumbant)\n"
        "def f(config: object) -> str:\n    return '0.5'\n"
        "scenario = Scenario(ConfigurationSpace({'x': (0.0, 1.0)}))\n"
        "SMAC(scenario, f)\n"
        "param_importances(scenario)\n"
    )
    monkeypatch.setenv("MYPYPATH", str(Path(__file__).resolve().parents[1]))
    cache = ["--cache-dir", str(tmp_path / "cache")]
    out, _, status = api.run(["--strict", "--follow-imports=silent", *cache, str(script)])
    assert status == 1
    assert 'Module "smacx" has no attribute "Senario"' in out
    assert 'Module "smacx.runners" has no attribute "DaskParalelRunner"' in out
    assert "typo.py:2: error" in out
    # (the classes' __getattr__ made any attribute Any; a target's or a run's type was open)
    assert '"type[StatusType]" has no attribute "CRASHD"' in out
    assert '"type[SMAC]" has no attribute "incumbant"' in out
    assert 'Argument 2 to "SMAC" has incompatible type' in out
    assert 'Argument 1 to "param_importances" has incompatible type "Scenario"' in out
    assert out.count("error:") == 6, out
