from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import SMAC, RunHistory, Scenario, StatusType, TrialInfo, TrialValue
from smacx.cli import main
from smacx.errors import ArgumentError, ScenarioError
from smacx.plot import plot_history
from smacx.storage.sqlite import SQLiteStorage

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def crashing_run(tmp_path: Path) -> SMAC:
    """40 trials of ``(x - 0.3)^2``, of which those at x > 0.8 crash."""

    def f(config: Configuration, seed: int) -> float:
        if config["x"] > 0.8:
            raise RuntimeError("too far")
        return (config["x"] - 0.3) ** 2

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=40, seed=4, deterministic=True, output_directory=tmp_path)
    smac = SMAC(scenario, f, preset="random", raise_on_first_crash=False)
    smac.optimize()
    return smac


def drawn(ax: plt.Axes) -> dict[str, np.ndarray]:
    """What each labelled artist of ``ax`` holds: a scatter's points, a line's points."""
    handles, labels = ax.get_legend_handles_labels()
    out = {}
    for handle, label in zip(handles, labels):
        if hasattr(handle, "get_offsets"):
            out[label] = np.asarray(handle.get_offsets())
        else:
            out[label] = np.column_stack([handle.get_xdata(), handle.get_ydata()])
    return out


def test_trials_failures_and_incumbent_are_drawn_as_the_run_has_them(tmp_path: Path) -> None:
    smac = crashing_run(tmp_path)
    history = smac.runhistory
    finished = sorted(history.items(), key=lambda item: item[1].endtime)
    ok = [value.status is StatusType.SUCCESS for _, value in finished]
    n_failed = len(ok) - sum(ok)
    assert 0 < n_failed < len(ok)
    ax = plot_history(smac)
    parts = drawn(ax)
    assert set(parts) == {"trial", "incumbent", f"failed ({n_failed})"}
    # each successful trial at its place in the order of finishing, at its cost
    positions = np.flatnonzero(ok) + 1
    costs = [value.cost for (_, value), good in zip(finished, ok) if good]
    np.testing.assert_allclose(parts["trial"], np.column_stack([positions, costs]))
    assert list(parts[f"failed ({n_failed})"][:, 0]) == list(np.flatnonzero(~np.array(ok)) + 1)
    # the incumbent's steps are the trajectory's, held to the last trial
    steps = [(e["n_finished"], e["cost"][0]) for e in smac.trajectory]
    line = parts["incumbent"]
    assert [tuple(p) for p in line[:-1]] == steps
    assert tuple(line[-1]) == (40, steps[-1][1])
    assert line[-1, 1] == pytest.approx(min(costs))
    assert ax.get_xlabel() == "finished trials" and ax.get_ylabel() == "cost"
    assert ax.get_yscale() == "log"  # (costs from about 1e-6 to 0.25)
    assert plot_history(smac, log_scale=False).get_yscale() == "linear"
    # a RunHistory draws the same, on the axes given
    _, given = plt.subplots()
    assert plot_history(history, ax=given) is given
    assert drawn(given).keys() == parts.keys()


def test_a_stored_run_draws_as_the_run_in_memory(tmp_path: Path) -> None:
    smac = crashing_run(tmp_path)
    in_memory = drawn(plot_history(smac))
    smac.close()
    run = tmp_path / smac.scenario.run_name
    # (and the SMAC itself after close(), as `with SMAC(...) as smac:` leaves it: its stored
    # trajectory could not be read, an audit's finding)
    for where in (smac, run, str(run), run / "runhistory.db"):
        stored = drawn(plot_history(where))
        assert stored.keys() == in_memory.keys()
        for label, points in in_memory.items():
            np.testing.assert_allclose(stored[label], points)


def test_several_objectives_draw_the_best_of_the_front_on_the_one_asked(tmp_path: Path) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=30, seed=1, deterministic=True, objectives=["a", "b"], output_directory=None
    )
    smac = SMAC(scenario, lambda config, seed: [config["x"], 1 - config["x"]], preset="random")
    smac.optimize()
    with pytest.raises(ScenarioError, match=r"plot_history: the run has 2 objectives"):
        plot_history(smac)
    parts = drawn(plot_history(smac, objective="b"))
    front = parts["best on the Pareto front"]
    best_b = [min(c[1] for c in e["costs"]) for e in smac.trajectory]
    np.testing.assert_allclose(front[:-1, 1], best_b)
    assert np.all(np.diff(front[:, 1]) <= 0)  # (the front's best on b never gets worse)
    with pytest.raises(ScenarioError, match="objective must be one of"):
        plot_history(smac, objective="c")


def test_a_trajectory_stored_before_fronts_draws_the_lowest_so_far(tmp_path: Path) -> None:
    """smacx of 2026-12-02 stored one member of the front per trajectory entry: its line on
    b ended at that member's 15.26, the front's best on b being 0.51 (an upgrade audit's
    finding). Such a run draws the lowest cost of the trials so far."""
    import contextlib
    import sqlite3

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=3, deterministic=True, objectives=["a", "b"],
                        output_directory=tmp_path, name="mo")  # fmt: skip
    with SMAC(scenario) as smac:
        for cost in ([0.5, 0.5], [0.1, 0.9], [0.9, 0.1]):
            smac.tell(smac.ask(), TrialValue(cost=cost))
    database = tmp_path / "mo" / "runhistory.db"
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.execute(  # (the old form: the scalarized best alone, config 1 at [0.5, 0.5])
            "UPDATE meta SET value = ? WHERE key = 'trajectory'",
            (json.dumps([{"config_id": 1, "cost": [0.5, 0.5], "n_finished": 1}]),),
        )
    parts = drawn(plot_history(tmp_path / "mo", objective="b"))
    line = parts["lowest so far (trajectory stored before fronts)"]
    np.testing.assert_allclose(line, [[1, 0.5], [3, 0.1], [3, 0.1]])


def test_each_budget_has_a_colour_of_its_own() -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    history = RunHistory(space)
    for i, config in enumerate(space.sample_configuration(6)):
        for budget in (1.0, 3.0, 9.0):
            info = TrialInfo(config, seed=0, budget=budget)
            history.add_running(info)
            history.add(info, TrialValue(cost=config["x"] + 1 / budget, endtime=100.0 + i))
    parts = drawn(plot_history(history))
    assert [label for label in parts if label.startswith("budget")] == [
        "budget 1",
        "budget 3",
        "budget 9",
    ]
    assert all(len(parts[f"budget {b}"]) == 6 for b in (1, 3, 9))
    assert "incumbent" not in parts  # (a history filled by hand has no trajectory)


def test_wrong_input_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="run must be a SMAC, a RunHistory, or a stored run"):
        plot_history({})
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with pytest.raises(ScenarioError, match="log_scale: expected True or False, got 'yes'"):
        plot_history(RunHistory(space), log_scale="yes")  # type: ignore[arg-type]
    from smacx.errors import StorageError

    with pytest.raises(StorageError, match=r"^plot_history: .*nothing here' does not exist"):
        plot_history(tmp_path / "nothing here")
    for name in ("a", "b"):  # (the messages were written for smacx show and its options)
        RunHistory(space, storage=SQLiteStorage(tmp_path / name / "runhistory.db")).close()
    with pytest.raises(StorageError, match=r"^plot_history: .* holds 2 runs \(a, b\)"):
        plot_history(tmp_path)
    with pytest.raises(ArgumentError, match="name is for a run in a PostgreSQL database"):
        plot_history(RunHistory(space), name="a")
    with pytest.raises(StorageError, match=r"^plot_history: name is for a run in a PostgreSQL"):
        plot_history(tmp_path / "a", name="a")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "runhistory.db").write_text("not a database\n")
    with pytest.raises(StorageError, match=r"^plot_history: cannot open the run-history database"):
        plot_history(tmp_path / "c")


def test_without_matplotlib_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # (as if not installed)
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with pytest.raises(ImportError, match=r"pip install 'smacx\[plot\]'"):
        plot_history(RunHistory(space))


def test_show_plot_writes_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crashing_run(tmp_path).close()
    out = tmp_path / "history.png"
    assert main(["show", str(tmp_path), "--plot", str(out), "--json"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(capsys.readouterr().out)
    assert "all_trials" not in report  # (read for the plot, listed only with --trials)
    assert main(["show", str(tmp_path), "--plot", str(tmp_path / "h.svg"), "--trials"]) == 0
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")
    assert "all trials: 40" in capsys.readouterr().out


def test_show_plot_refuses_a_file_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashing_run(tmp_path).close()
    assert main(["show", str(tmp_path), "--plot", str(tmp_path / "history.txt")]) == 2
    err = capsys.readouterr().err
    assert "--plot must be a file whose suffix names an image format" in err
    assert "png" in err and "'" + str(tmp_path / "history.txt") + "'" in err
    missing = tmp_path / "no such folder" / "history.png"
    assert main(["show", str(tmp_path), "--plot", str(missing)]) == 2
    assert f"cannot write the plot to '{missing}'" in capsys.readouterr().err


def test_a_maximized_measurement_is_drawn_as_measured(tmp_path: Path) -> None:
    """Failed trials of a maximized measurement are drawn along the bottom edge, the worst
    side: along the top one, they sat above the best measurement (an audit's finding)."""
    knobs = tmp_path / "knobs.toml"
    knobs.write_text(
        'command = "test {level} -gt 7 && exit 1; echo $(( 100 + {level} ))"\n'
        'goal = "maximize"\nn_trials = 12\n'
        '[knobs]\nlevel = { type = "integer", range = [1, 9] }\n'
    )
    out = str(tmp_path / "out")
    assert main(["run", str(knobs), "--output-dir", out, "--no-progress", "--keep-going"]) == 0
    ax = plot_history(tmp_path / "out")
    assert ax.get_ylabel() == "measurement"
    parts = drawn(ax)
    points = parts["trial"]
    assert np.all((points[:, 1] >= 101) & (points[:, 1] <= 107))
    assert parts["incumbent"][-1, 1] == points[:, 1].max()
    [failed] = [label for label in parts if label.startswith("failed")]
    assert set(parts[failed][:, 1]) == {0.02}  # (axes coordinates)


def test_a_history_stored_without_its_scenario_is_drawn_by_position(tmp_path: Path) -> None:
    """A RunHistory of two objectives written without SMAC stores no names: the plot's
    reshape to one objective failed with a traceback (a review's finding)."""
    from smacx.storage.sqlite import SQLiteStorage

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    storage = SQLiteStorage(tmp_path / "run" / "runhistory.db")
    history = RunHistory(space, objectives=("a", "b"), storage=storage)
    for config in space.sample_configuration(3):
        info = TrialInfo(config, seed=0)
        history.add_running(info)
        history.add(info, TrialValue(cost=[config["x"], 1 - config["x"]]))
    storage.close()
    assert plot_history(tmp_path / "run", objective="cost_1").get_ylabel() == "cost (cost_1)"
    assert main(["show", str(tmp_path / "run"), "--plot", str(tmp_path / "h.png")]) == 0


def test_the_lowest_so_far_of_an_old_trajectory_is_at_its_budget() -> None:
    """With budgets, the stand-in for a front stored before fronts were takes the trials at
    the budget of the trajectory's last entry: a 1-epoch trial's 1 s was drawn as the best
    time of a front taken at 27 epochs (a review's finding)."""
    from smacx.plot import _History, draw_history

    finished = [  # (end time, costs: error and seconds, succeeded, budget)
        (1.0, [0.9, 1.0], True, 1.0),
        (2.0, [0.8, 1.2], True, 1.0),
        (3.0, [0.3, 27.0], True, 27.0),
        (4.0, [0.2, 30.0], True, 27.0),
    ]
    trajectory = [
        {"config_id": 3, "cost": [0.3, 27.0], "budget": 27.0, "n_finished": 3},
        {"config_id": 4, "cost": [0.2, 30.0], "budget": 27.0, "n_finished": 4},
    ]
    _, ax = plt.subplots()
    draw_history(ax, _History(["error", "seconds"], finished, trajectory), 1)
    line = drawn(ax)["lowest so far (trajectory stored before fronts)"]
    np.testing.assert_allclose(line, [[3, 27.0], [4, 27.0]])
