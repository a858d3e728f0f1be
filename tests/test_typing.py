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

    from smacx import SMAC, Scenario, TrialValue


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
    )
    monkeypatch.setenv("MYPYPATH", str(Path(__file__).resolve().parents[1]))
    cache = ["--cache-dir", str(tmp_path / "cache")]
    out, _, status = api.run(["--strict", "--follow-imports=silent", *cache, str(script)])
    assert status == 1
    assert 'Module "smacx" has no attribute "Senario"' in out
    assert 'Module "smacx.runners" has no attribute "DaskParalelRunner"' in out
    assert "typo.py:2: error" in out and out.count("error:") == 2
