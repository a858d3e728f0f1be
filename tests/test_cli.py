from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ConfigSpace import Configuration, ConfigurationSpace

from smacx import SMAC, InitialDesign, Scenario, TrialInfo, TrialValue, cli
from smacx.cli import main, run_report
from smacx.errors import StorageError


def finished_run(tmp_path: Path) -> Scenario:
    """12 trials of x**2 on [-5, 5], stored under ``tmp_path``; the last one is asked only."""
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=12, output_directory=tmp_path, deterministic=True)
    with SMAC(scenario) as smac:
        for _ in range(11):
            info = smac.ask()
            smac.tell(info, TrialValue(cost=info.config["x"] ** 2))
        smac.ask()  # left RUNNING, as by a killed worker
    return scenario


def test_show_summarizes_the_stored_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = finished_run(tmp_path)
    report = run_report(tmp_path)  # the output directory holds one run
    assert report["trials"] == {"RUNNING": 1, "SUCCESS": 11}
    assert report["configs"] == 12
    incumbent = report["incumbent"]
    assert incumbent["cost"][0] == pytest.approx(incumbent["config"]["x"] ** 2)
    assert incumbent["cost"] == report["trajectory"][-1]["cost"]
    assert main(["show", str(scenario.output_path)]) == 0
    out = capsys.readouterr().out
    assert "12 (1 RUNNING, 11 SUCCESS) over 12 configurations" in out
    assert f"x = {incumbent['config']['x']!r}" in out
    # closing the SMAC gave the asked trial up: the next run on this history runs it again
    assert report["stale_running"] == 1
    assert "1 of the RUNNING trials were left by processes that are gone" in out
    assert out.count(" finished trials: config ") == len(report["trajectory"]) > 0
    assert main(["show", str(scenario.output_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["incumbent"] == incumbent


def _fails_above_two(config: Configuration, seed: int = 0) -> float:
    if config["x"] > 2.0:
        raise KeyError("large")
    return float(config["x"]) ** 2


def test_show_json_trials_give_a_failed_trials_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The traceback of a crashed trial was stored but shown nowhere, only its last line (an
    audit): ``--json --trials`` now gives it whole."""
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=12, seed=1, output_directory=tmp_path, deterministic=True)
    with SMAC(scenario, _fails_above_two, raise_on_first_crash=False, progress=False) as smac:
        smac.optimize()
    assert main(["show", str(scenario.output_path), "--json", "--trials"]) == 0
    trials = json.loads(capsys.readouterr().out)["all_trials"]
    crashed = [t for t in trials if t["status"] == "CRASHED"]
    assert crashed and all(t["config"]["x"] > 2.0 for t in crashed)
    for trial in crashed:
        assert trial["reason"] == "KeyError: 'large'"
        assert trial["traceback"].startswith("Traceback (most recent call last):")
        assert 'raise KeyError("large")' in trial["traceback"]
    assert all(t["traceback"] is None for t in trials if t["status"] == "SUCCESS")


def test_show_of_a_run_being_written_gives_every_trial_its_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """show read the configurations, then the trials: a trial (or incumbent) whose
    configuration another process stored in between came out with no values (a shared-run
    audit saw it in 20 of 2,201 reads of a live run). Here the other process writes just
    before the trials are read."""
    from smacx.storage.sqlite import SQLiteStorage

    scenario = finished_run(tmp_path)
    read_trials = SQLiteStorage.read_trials
    wrote: list[int] = []

    def written_meanwhile(self: SQLiteStorage, after_version: int) -> Any:
        if not wrote:
            wrote.append(1)
            with SMAC(dataclasses.replace(scenario, n_trials=13)) as other:
                stale = other.ask()  # (the trial left running, run again)
                other.tell(stale, TrialValue(cost=stale.config["x"] ** 2))
                info = other.ask()  # a new configuration, the best: a new incumbent
                other.tell(info, TrialValue(cost=-1.0))
        return read_trials(self, after_version)

    monkeypatch.setattr(SQLiteStorage, "read_trials", written_meanwhile)
    report = run_report(tmp_path, list_trials=True)
    assert wrote and report["trials"] == {"SUCCESS": 13} and report["configs"] == 13
    assert all(trial["config"] is not None for trial in report["all_trials"])
    # The trajectory is read before the trials (so that they back the incumbent it names):
    # the incumbent is the one stored then, with its values and its trial.
    assert report["incumbent"]["cost"] != [-1.0] and report["incumbent"]["config"] is not None
    assert report["incumbent"]["n_trials"] == 1


def test_show_lists_the_pareto_front_of_several_objectives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=5, output_directory=tmp_path, deterministic=True,
                        objectives=["err", "latency"])  # fmt: skip
    with SMAC(scenario) as smac:
        for cost in ([0.5, 0.5], [0.1, 0.9], [0.9, 0.1], [0.6, 0.6]):  # the last is dominated
            smac.tell(smac.ask(), TrialValue(cost=cost))
        front = sorted(smac.runhistory.get_config_id(c) for c in smac.incumbents)
    assert front == [1, 2, 3]
    report = run_report(tmp_path)
    members = report["incumbent"]["front"]
    assert sorted(m["config_id"] for m in members) == front
    assert sorted(m["cost"] for m in members) == [[0.1, 0.9], [0.5, 0.5], [0.9, 0.1]]
    assert [sorted(e["config_ids"]) for e in report["trajectory"]] == [[1], [1, 2], [1, 2, 3]]
    assert main(["show", str(scenario.output_path)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front: 3 configuration(s)" in out and "changes of the Pareto front: 3" in out


def test_show_counts_changes_of_incumbent_apart_from_new_costs_of_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A noisy run's incumbent gains seeds, and each new mean is a trajectory entry: "changes
    of incumbent: 5" was printed for configs 1, 1, 1, 3, 3 (an audit's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=8, output_directory=tmp_path, deterministic=False)
    costs = iter([5.0, 4.0, 6.0, 1.0, 2.0, 3.0, 2.5, 9.0])
    with SMAC(scenario) as smac:
        for _ in range(8):
            info = smac.ask()
            smac.tell(info, TrialValue(cost=next(costs)))
        ids = [entry["config_id"] for entry in smac.trajectory]
    changes = 1 + sum(a != b for a, b in itertools.pairwise(ids))
    assert len(ids) > changes >= 2
    assert main(["show", str(scenario.output_path)]) == 0
    out = capsys.readouterr().out
    assert f"changes of incumbent: {changes} ({len(ids) - changes} more of its cost)" in out


def test_show_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["show", str(tmp_path)]) == 2
    assert "no run found" in capsys.readouterr().err
    (tmp_path / "d" / "runhistory.db").mkdir(parents=True)  # said: no run found
    assert main(["show", str(tmp_path / "d")]) == 2
    assert "runhistory.db' is a directory, not a run's database" in capsys.readouterr().err
    (tmp_path / "d" / "runhistory.db").rmdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "runhistory.db").write_text("not a database")
    with pytest.raises(StorageError, match="file is not a database"):
        run_report(tmp_path / "a")
    other = tmp_path / "other.sqlite"  # someone else's database is read, never written
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = other.read_bytes()
    with pytest.raises(StorageError, match="holds no smacx run history"):
        run_report(other)
    assert other.read_bytes() == before


def test_command_line_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smacx.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("smacx ")


def test_show_on_a_damaged_database_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data page overwritten in the middle of the file: the schema (page 1) still opens, the
    reads fail. `smacx show` exits 2 with one line naming the file, not a traceback."""
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=40, output_directory=tmp_path, deterministic=True)
    with SMAC(
        scenario, lambda config, seed: config["x"] ** 2, preset="random", progress=False
    ) as smac:
        smac.optimize()
    database = scenario.output_path / "runhistory.db"
    assert not database.with_name("runhistory.db-wal").exists()  # all of it in the file
    data = bytearray(database.read_bytes())
    assert len(data) >= 3 * 4096, len(data)
    data[4096:-4096] = b"\xff" * (len(data) - 2 * 4096)  # every page but the first and last
    database.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="the database is damaged") as raised:
        run_report(scenario.output_path)
    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)
    assert main(["show", str(scenario.output_path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and "\n" not in err and "Traceback" not in err
    assert str(database) in err and "database disk image is malformed" in err


def test_show_on_a_record_that_is_not_json_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = finished_run(tmp_path)
    database = scenario.output_path / "runhistory.db"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE meta SET value = '[{\"config_id\": 1, ' WHERE key = 'trajectory'")
    conn.close()
    assert main(["show", str(database), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"smacx show: cannot read the incumbent's trajectory from {str(database)!r}: the "
        "database is damaged (JSONDecodeError: Expecting property name enclosed in double "
        "quotes: line 1 column 19 (char 18)). Check it with sqlite3 "
        f"{str(database)!r} 'PRAGMA integrity_check', and restore it from a copy if that "
        "reports errors."
    )


def test_a_command_is_required_and_verbose_goes_after_it_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "a command is required" in captured.err
    scenario = finished_run(tmp_path)
    assert main(["show", str(scenario.output_path), "-v"]) == 0
    assert main(["-v", "show", str(scenario.output_path)]) == 0


def test_verbose_shows_the_traceback_and_main_leaves_logging_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v did nothing: the library's NullHandler kept main() from adding its own handler (a
    user's report); and main() left the logger's level set for the rest of the process."""
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    log = logging.getLogger("smacx")
    before = (log.level, list(log.handlers), log.propagate)
    assert main(["show", str(junk)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["-v", "show", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "DEBUG smacx: smacx show failed" in err and "Traceback" in err
    assert (log.level, list(log.handlers), log.propagate) == before


@pytest.mark.parametrize("optimize", [[], ["-OO"]])
def test_python_dash_m_smacx_runs_the_command(optimize: list[str]) -> None:
    """Also with docstrings stripped (-OO, as slim images run Python): the parser's
    description came from the module's docstring, and every command failed there (a
    packaging audit's finding)."""
    done = subprocess.run(
        [sys.executable, *optimize, "-m", "smacx", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("smacx "), done.stderr
    done = subprocess.run(
        [sys.executable, *optimize, "-m", "smacx", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and cli._DESCRIPTION in " ".join(done.stdout.split())
    assert cli.__doc__ is not None and cli.__doc__.startswith(cli._DESCRIPTION)


def test_found_after_counts_from_when_the_incumbent_became_incumbent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A noisy run stores a trajectory entry each time the incumbent's cost changes; the
    incumbent was found at the first entry of the stretch of its config id ending the
    trajectory, not at the last entry."""
    scenario = finished_run(tmp_path)
    trajectory = [
        {"config_id": 1, "cost": [3.0], "n_finished": 1, "walltime": 0.0},
        {"config_id": 2, "cost": [2.0], "n_finished": 3, "walltime": 0.0},
        {"config_id": 2, "cost": [2.5], "n_finished": 5, "walltime": 0.0},
        {"config_id": 1, "cost": [1.0], "n_finished": 7, "walltime": 0.0},
        {"config_id": 1, "cost": [1.2], "n_finished": 9, "walltime": 0.0},
        {"config_id": 1, "cost": [1.1], "n_finished": 11, "walltime": 0.0},
    ]
    database = scenario.output_path / "runhistory.db"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'trajectory'", (json.dumps(trajectory),)
        )
    conn.close()
    incumbent = run_report(database)["incumbent"]
    assert incumbent["n_finished"] == 7  # config 1 took over again after trial 7
    assert incumbent["cost"] == [1.1]  # its cost as last stored
    assert main(["show", str(database)]) == 0
    assert "incumbent:  cost 1.1, found after 7 finished trials" in capsys.readouterr().out


def test_found_after_in_a_noisy_run(tmp_path: Path) -> None:
    """The best configuration is evaluated first; more seeds change its mean cost (and add
    trajectory entries), but it was found after one finished trial."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    best = Configuration(space, values={"x": 0.3})
    scenario = Scenario(space, n_trials=15, output_directory=tmp_path, seed=0)

    def target(config: Configuration, seed: int) -> float:
        return float((config["x"] - 0.3) ** 2 + (seed % 7) * 1e-4)

    design = InitialDesign(additional_configs=[best])
    with SMAC(scenario, target, initial_design=design, progress=False) as smac:
        smac.optimize()
        trajectory = smac.trajectory
    assert {entry["config_id"] for entry in trajectory} == {1}
    assert len(trajectory) > 1  # its cost changed as it got more seeds
    incumbent = run_report(tmp_path)["incumbent"]
    assert incumbent["n_finished"] == trajectory[0]["n_finished"] == 1
    assert incumbent["n_trials"] == len(smac.runhistory.get_trials(best)) > 1
    assert incumbent["n_instances"] == 0 and incumbent["of_instances"] is None


def test_found_after_counts_from_the_incumbents_budget(tmp_path: Path) -> None:
    """A multi-fidelity incumbent's cost at the top budget came after 40 trials, but show
    said it was found after 11, when the same configuration led at budget 1 (an audit's
    finding)."""
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=40, min_budget=1, max_budget=27, deterministic=True,
        output_directory=tmp_path, seed=0,
    )  # fmt: skip

    def target(config: Configuration, seed: int, budget: float) -> float:
        return float((config["x"] - 1) ** 2 + 1 / budget)

    with SMAC(scenario, target, preset="hyperband", progress=False) as smac:
        smac.optimize()
        trajectory = smac.trajectory
    incumbent = run_report(tmp_path)["incumbent"]
    last = trajectory[-1]
    first_at_its_budget = next(
        e["n_finished"]
        for e in trajectory
        if e["config_id"] == last["config_id"] and e["budget"] == last["budget"]
    )
    assert len({e["budget"] for e in trajectory if e["config_id"] == last["config_id"]}) > 1
    assert incumbent["n_finished"] == first_at_its_budget


def test_show_says_how_many_instances_the_incumbents_cost_covers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A race's incumbent may have run on a few of the instances: show gave its cost alone,
    where SMAC.summary() says "on 17 of 100 instance-seed pairs"."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    names = [f"i{k:03d}" for k in range(100)]
    scenario = Scenario(
        space, instances=names, deterministic=True, n_trials=40, output_directory=tmp_path
    )

    def target(config: Configuration, instance: str, seed: int) -> float:
        if instance == "i007":
            raise RuntimeError("unsolvable")
        return float((config["x"] - 0.3) ** 2 + int(instance[1:]) / 10)

    with SMAC(scenario, target, progress=False, raise_on_first_crash=False) as smac:
        smac.optimize()
        keys = smac.intensifier.incumbent_keys()
    incumbent = run_report(tmp_path)["incumbent"]
    assert 1 < incumbent["n_trials"] == len(keys) == incumbent["n_instances"] < 100
    assert incumbent["of_instances"] == 100
    failed = incumbent["n_failed"]
    assert failed == ("i007" in {key.instance for key in keys})
    assert main(["show", str(tmp_path)]) == 0
    note = f" ({failed} failed, not in the cost)" if failed else ""
    assert (
        f" over {len(keys)} trials on {len(keys)} of 100 instances{note}, found after"
        in capsys.readouterr().out
    )


def test_show_counts_a_deterministic_instance_told_twice_once(tmp_path: Path) -> None:
    """A deterministic target's instance told again with another seed is one key to racing:
    show said "over 4 trials" where the cost covers 3 (a review)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, instances=["a", "b", "c"], deterministic=True, n_trials=10,
                  output_directory=tmp_path)  # fmt: skip
    with SMAC(sc, preset="random", progress=False) as smac:
        config = space.get_default_configuration()
        for instance, seed in (("a", 0), ("b", 0), ("c", 0), ("a", 1)):
            smac.tell(TrialInfo(config, instance=instance, seed=seed), TrialValue(cost=1.0))
        keys = len(smac.intensifier.incumbent_keys())
    incumbent = run_report(tmp_path)["incumbent"]
    assert incumbent["n_trials"] == keys == 3 and incumbent["n_instances"] == 3


def test_no_incumbent_while_every_trial_crashed_at_a_finite_crash_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Crashed trials cost crash_cost = 5.0, a finite cost, yet make no incumbent: show must
    not claim that no trial has a finite cost."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=4, crash_cost=5.0, output_directory=tmp_path)

    def crash(config: Configuration, seed: int) -> float:
        raise RuntimeError("boom")

    with SMAC(scenario, crash, raise_on_first_crash=False, progress=False) as smac:
        with pytest.warns(UserWarning, match="without an incumbent"):
            smac.optimize()
        assert [r["cost"] for r in smac.runhistory.to_records()] == [5.0] * 4
    report = run_report(tmp_path)
    assert report["incumbent"] is None and report["trials"] == {"CRASHED": 4}
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "finite cost" not in out
    assert "incumbent:  none yet (it needs successful trials; crashes never count)" in out


def failing_knobs(config: Configuration, seed: int) -> float:
    """Crashes with one of two errors, times out above 0.8, and succeeds below 0.4."""
    import time

    x = config["x"]
    if x > 0.8:
        time.sleep(5)
    if x > 0.6:
        raise RuntimeError(f"exit 1: solver failed at {x:.3f}\nsecond line")
    if x > 0.4:
        raise ValueError("no latency in the output")
    return x


def test_show_says_why_trials_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An audit's finding: the reasons of failed trials were stored, but only sqlite3 could
    show them. They are grouped by status and reason (a time-out's measured time left out,
    a multi-line message on one line), most frequent first."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(
        space,
        n_trials=24,
        output_directory=tmp_path,
        trial_walltime_limit=1,
        seed=3,
        deterministic=True,
    )
    smac = SMAC(scenario, failing_knobs, preset="random", raise_on_first_crash=False)
    smac.optimize()
    smac.close()
    records = smac.runhistory.to_records()
    report = run_report(tmp_path)
    failures = report["failures"]
    assert sum(f["count"] for f in failures) == sum(r["status"] != "SUCCESS" for r in records)
    reasons = {(f["status"], f["reason"].split(":")[0]) for f in failures}
    assert reasons == {
        ("TIMEOUT", "exceeded trial_walltime_limit=1.0 s"),
        ("CRASHED", "RuntimeError"),
        ("CRASHED", "ValueError"),
    }
    [timeout] = [f for f in failures if f["status"] == "TIMEOUT"]
    assert timeout["reason"] == "exceeded trial_walltime_limit=1.0 s"  # one group, whatever took
    assert timeout["count"] == sum(r["config"]["x"] > 0.8 for r in records) == timeout["configs"]
    counts = [f["count"] for f in failures]
    assert counts == sorted(counts, reverse=True)
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"failed:     {sum(counts)} trials, for these reasons:" in out
    assert "CRASHED: ValueError: no latency in the output (configs " in out
    assert "second line" in out and "\nsecond line" not in out


def test_show_groups_worker_deaths_whatever_the_address_and_reads_odd_reasons(
    tmp_path: Path,
) -> None:
    """A dask worker's death names the worker, at a new address after each restart: such
    deaths are one reason. A traceback of blanks read as a damaged database (IndexError);
    reasons that are not strings or not in a dict are shown as they are (a review's
    findings)."""
    from smacx import StatusType

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=6, output_directory=tmp_path, deterministic=True)
    died = "the dask worker running this trial ({}) died, 2 time(s) in a row: it was killed"
    infos: list[dict[str, Any]] = [
        {"error": died.format("tcp://127.0.0.1:45839"), "worker": "tcp://127.0.0.1:45839"},
        {"error": died.format("tcp://127.0.0.1:40001"), "worker": "tcp://127.0.0.1:40001"},
        {"error": died.format("tls://[::1]:8786")},
        {"traceback": "  \n \n"},
        {"error": 404},
    ]
    with SMAC(scenario) as smac:
        for info in infos:
            trial = smac.ask()
            smac.tell(trial, TrialValue(cost=1.0, status=StatusType.CRASHED, additional_info=info))
    failures = run_report(tmp_path)["failures"]
    assert [(f["count"], f["reason"]) for f in failures] == [
        (2, died.format("tcp://...")),
        (1, "(no reason stored)"),
        (1, "404"),
        (1, died.format("tls://...")),
    ]


def test_show_on_a_copy_without_its_wal_file_says_to_copy_that_too(tmp_path: Path) -> None:
    """A run still open (or killed) keeps its latest writes in runhistory.db-wal: a copy of
    runhistory.db alone looked like no run at all (an audit's finding)."""
    import shutil

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=3, output_directory=tmp_path / "run", name="open")
    copy = tmp_path / "copy"
    copy.mkdir()
    with SMAC(scenario) as smac:
        info = smac.ask()
        smac.tell(info, TrialValue(cost=1.0))
        assert scenario.output_path is not None
        database = scenario.output_path / "runhistory.db"
        shutil.copy(database, copy / "runhistory.db")
        with pytest.raises(StorageError, match="copy runhistory.db-wal too"):
            run_report(copy)
        shutil.copy(database.with_name("runhistory.db-wal"), copy / "runhistory.db-wal")
    assert run_report(copy)["trials"] == {"SUCCESS": 1}


@pytest.mark.parametrize(
    ("template", "reason", "shown"),
    [
        ("{prog}   --x\n {x}\techo  {y} {z}",  # whitespace as the template spells it
         "E: exited with status 3: ./a --x 0.5 echo 1 2 oops",
         "E: exited with status 3: {prog} --x {x} echo {y} {z} oops"),
        ("python3 crashy.py {x} {mode}",
         "E: exited with status 3: python3 crashy.py 0.96 bad error: unsupported",
         "E: exited with status 3: python3 crashy.py {x} {mode} error: unsupported"),
        ("./run {a}{b} end",  # not this template's command: as it was
         "E: exited with status 3: ./other 1 2",
         "E: exited with status 3: ./other 1 2"),
    ],
)  # fmt: skip
def test_a_failed_commands_reason_shows_its_knob_files_template(
    template: str, reason: str, shown: str
) -> None:
    from smacx.runhistory import _with_template

    assert _with_template(reason, template) == shown


def test_failures_in_each_trials_own_folder_count_together() -> None:
    """A command that failed alike in every trial's {trial_dir} (a full TMPDIR) gave one
    reason per trial: "1 CRASHED ... 85 more, for 85 other reasons" (an audit)."""
    from smacx import StatusType, TrialKey, TrialValue
    from smacx.runhistory import failure_reasons

    folders = ["/tmp/smacx-trial-1a2b-x8k_q2mz", "/work/r/trials/trial-r2rctqz4"] * 2
    trials = [
        (
            TrialKey(i, None, 0, None),
            TrialValue(
                status=StatusType.CRASHED,
                additional_info={"error": f"sh: 1: cannot create {folder}/o: No space"},
            ),
        )
        for i, folder in enumerate(folders)
    ]
    [group] = failure_reasons(trials)
    assert (group["count"], group["reason"]) == (4, "sh: 1: cannot create {trial_dir}/o: No space")


def _default_sigint() -> None:
    """In a child before it runs: SIGINT's default action, whatever the test process had."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def started_run(
    tmp_path: Path, command: str, n_trials: int, running: int = 1
) -> tuple[list[str], subprocess.Popen[str]]:
    """`smacx run` of a knob file with ``command`` (which appends its shell's pid to
    ``tmp_path / "pids"``), started in a process of its own once ``running`` commands have
    started; returns its arguments and the process."""
    import time

    pids = tmp_path / "pids"
    knobs = tmp_path / "slow.toml"
    knobs.write_text(
        f"command = {json.dumps(command)}\nn_trials = {n_trials}\n\n[knobs]\n"
        'x = { type = "integer", range = [0, 100] }\n'
    )
    args = [sys.executable, "-m", "smacx", "run", str(knobs), "--no-progress",
            "--output-dir", str(tmp_path / "runs")]  # fmt: skip
    run = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches the run even when pytest itself ignores SIGINT (started with `&` by
        # a shell without job control), which the run would inherit, and rightly respect.
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 60
    while len(pids.read_text().split() if pids.exists() else []) < running:
        if time.monotonic() > deadline or run.poll() is not None:
            run.kill()
            pytest.fail(f"the commands did not start: {run.communicate()}")
        time.sleep(0.05)
    return args, run


@pytest.mark.parametrize("where", ["gc callback", "finalizer"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_that_arrives_where_python_drops_exceptions_is_not_lost(
    signum: int, where: str
) -> None:
    """The KeyboardInterrupt of a SIGTERM that arrived while dask's gc callback ran was
    printed and dropped, and `smacx run --workers 2` ran to its end and exited with 0 (a
    command-line audit's finding); in a weakref finalizer too (a review's). The signal is
    sent again; one sent again as the block ends is dropped."""
    import gc
    import weakref

    from smacx.cli import _stopped_as_interrupt

    sent: list[int] = []

    def stop_inside(*args: Any) -> None:
        if not sent:
            sent.append(signum)
            os.kill(os.getpid(), signum)  # (its handler runs here, inside the callback)
            time.sleep(0.01)

    class Dropped:
        pass

    received: list[str] = []
    gc.callbacks.append(stop_inside)
    try:
        with pytest.raises(KeyboardInterrupt), _stopped_as_interrupt(received):
            if where == "finalizer":
                gc.callbacks.remove(stop_inside)
                dropped = Dropped()
                weakref.finalize(dropped, stop_inside)
                del dropped
            else:
                gc.collect()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        if stop_inside in gc.callbacks:
            gc.callbacks.remove(stop_inside)
    assert sent and received == [signal.Signals(signum).name]
    # a stop lost as the block ends: the block has ended normally, and the program goes on
    sent.clear()
    late: list[str] = []
    with _stopped_as_interrupt(late):
        dropped = Dropped()
        weakref.finalize(dropped, stop_inside)
        del dropped
    time.sleep(0.3)
    assert sent and late == [signal.Signals(signum).name]


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGHUP"])
def test_smacx_run_stopped_by_a_signal_says_so_and_continues_later(
    tmp_path: Path, signum: str
) -> None:
    """A batch system's SIGTERM (or a closed terminal's SIGHUP) ends `smacx run` as Ctrl-C
    does: it says so, exits with 128 + the signal's number, ends the command under way and
    keeps what finished; the same command continues the run. Before, the run died silently."""
    import os
    import signal
    import time

    pids = tmp_path / "pids"
    # The fourth command and later ones sleep until the run is stopped.
    args, run = started_run(
        tmp_path,
        f"echo $$ >> {pids}; [ $(wc -l < {pids}) -gt 3 ] && [ ! -e {tmp_path}/go ] && sleep 60; "
        "echo {x}",
        n_trials=6,
        running=4,
    )
    try:
        run.send_signal(getattr(signal, signum))
        _, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 128 + getattr(signal, signum), err
    assert f"smacx run: stopped by {signum}; the finished trials are saved" in err
    sleeper = int(pids.read_text().split()[3])
    for _ in range(50):  # the shell of the fourth command ends with the run
        try:
            os.kill(sleeper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the command under way outlived the stopped run")
    report = run_report(tmp_path / "runs" / "slow")
    assert report["trials"] == {"RUNNING": 1, "SUCCESS": 3}  # given back, to run again
    (tmp_path / "go").touch()
    again = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert run_report(tmp_path / "runs" / "slow")["trials"] == {"SUCCESS": 6}


def test_smacx_run_gives_the_librarys_advice_as_options(tmp_path: Path) -> None:
    """`smacx run` users pass --overwrite, --name and --n-trials, not SMAC(..., overwrite=True),
    Scenario(name=...) and n_trials=: the library's errors, warnings and log lines say so."""
    ok, bad = tmp_path / "ok.toml", tmp_path / "bad.toml"
    knob = '\nn_trials = 3\n[knobs]\nx = { type = "integer", range = [0, 100] }\n'
    ok.write_text('command = "echo {x}"' + knob)
    bad.write_text('command = "exit 3"' + knob)

    def run(file: Path, *more: str) -> str:
        args = [sys.executable, "-m", "smacx", "run", str(file), "--no-progress",
                "--output-dir", str(tmp_path / "runs"), *more]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert "=True" not in done.stderr and "Scenario(" not in done.stderr, done.stderr
        return done.stderr

    run(ok)
    assert "Raise --n-trials (or the knob file's n_trials) to go on, or start the run afresh " \
        "with --overwrite or another --name." in run(ok)  # fmt: skip
    assert "The run ended without an incumbent" in run(bad, "--keep-going")
    ok.write_text('command = "echo {x}"' + knob.replace("100", "50"))
    assert (
        "Pass --overwrite to replace it (its trials are deleted), or give the run another --name."
        in run(ok)
    )
    said = run(ok, "--storage", "sqlite:///x")
    assert "--storage must be left out" in said and "give --output-dir instead" in said
    ok.write_text('command = "echo {x}"\npattern = "("' + knob)
    assert "ok.toml': pattern must be a regular expression" in run(ok)


def test_smacx_run_warns_when_every_measurement_is_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a pattern, a command that ends with "done in 1.5 s" is measured as 1.5 every
    time: the run optimized a constant and said nothing (a porting audit's knob file). Now
    the end of the run says what it read; a run whose measurements differ says nothing."""
    knob = '\nn_trials = 6\n[knobs]\nx = { type = "integer", range = [0, 100] }\n'
    flat, fine = tmp_path / "flat.toml", tmp_path / "fine.toml"
    flat.write_text('command = "echo loss {x}; echo done in 1.5 s"' + knob)
    fine.write_text('command = "echo {x}"' + knob)
    runs = str(tmp_path / "runs")
    assert main(["run", str(flat), "--no-progress", "--output-dir", runs]) == 0
    err = capsys.readouterr().err
    assert "all 6 measurements were 1.5: the run read the last number the command prints" in err
    assert main(["run", str(fine), "--no-progress", "--output-dir", runs]) == 0
    assert "measurements were" not in capsys.readouterr().err


def test_the_command_line_terms_leave_a_users_own_text_alone() -> None:
    """Only the library's whole phrases are said in the command line's terms: a command or
    its output quoted in a message keeps its `overwrite=True` and `n_trials=5 trials`."""
    from smacx.cli import _Formatter, _in_cli_terms

    said = _in_cli_terms(
        "Pass overwrite=True to replace it, or give the scenario another name. The command "
        "was 'train trainer.overwrite=True n_trials=5 trials; echo set overwrite=True'."
    )
    assert said == (
        "Pass --overwrite to replace it, or give the run another --name. The command was "
        "'train trainer.overwrite=True n_trials=5 trials; echo set overwrite=True'."
    )
    try:
        raise ValueError("start the run afresh (overwrite=True)")
    except ValueError:
        record = logging.LogRecord("smacx", logging.WARNING, __file__, 1, "%s: %s", (
            "Could not", "start the run afresh (overwrite=True)"), sys.exc_info())  # fmt: skip
    assert _in_cli_terms(
        "continue it with the same intensifier (SMAC(..., intensifier=...)), or pass "
        "overwrite=True to start afresh."
    ) == (
        "continue it with the same intensifier (the knob file's repeats, race and aggregate as "
        "they were), or pass --overwrite to start afresh."
    )
    # advice a knob file cannot follow (it has no eta, and budget = [low, high]; a
    # command-line audit's finding)
    assert _in_cli_terms(
        "Raise n_trials to at least 40, or raise eta, or bring min_budget closer to max_budget."
    ) == (
        "Raise --n-trials (or the knob file's n_trials) to at least 40, or bring the knob "
        "file's budget = [low, high] closer together."
    )
    # nor eta or min_keys with instances (a docs audit's finding)
    assert _in_cli_terms("Raise n_trials to at least 21, or raise eta or min_keys.") == (
        "Raise --n-trials (or the knob file's n_trials) to at least 21."
    )
    halve = (
        "{} leave no room to halve with eta=3: every bracket runs its configurations at the "
        "top fidelity only, as a run without budgets would. "
    )
    for keys, advice in [
        ("2 instance-seed pairs", "Use an eta of at most 2."),
        ("6 instance-seed pairs", "Use a min_keys of at most 2, or an eta of at most 1.5."),
    ]:
        assert _in_cli_terms(halve.format(keys) + advice) == halve.format(keys) + (
            'Use race = "racing" in the knob file, or more instances.'
        )
    assert _in_cli_terms(halve.format("budgets from 1 to 2") + "Use an eta of at most 2.") == (
        halve.format("budgets from 1 to 2") + "Widen the knob file's budget = [low, high]."
    )
    assert _in_cli_terms("CommandTarget's templates have ${x}") == (
        "the knob file's command (or result) has ${x}"
    )
    line = _Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.startswith("WARNING smacx: Could not: start the run afresh (--overwrite)\n")
    assert "ValueError: start the run afresh (overwrite=True)" in line  # the traceback as is


def test_smacx_run_interrupted_then_terminated_finishes_stopping(tmp_path: Path) -> None:
    """A SIGTERM that follows a Ctrl-C (a batch system's, or `timeout`'s) broke off the
    cleanup of the first with a second interrupt, and was named as the cause."""
    import signal
    import time

    pids = tmp_path / "pids"
    _, run = started_run(tmp_path, f"echo $$ >> {pids}; sleep 60; echo {{x}}", n_trials=3)
    try:
        run.send_signal(signal.SIGINT)
        time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert "smacx run: interrupted; the finished trials are saved" in err
    assert "Traceback" not in err


def test_show_lists_every_trial_and_finds_a_knob_files_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "What did level 5 measure?" needed Python, and `smacx show knobs.toml` said the file
    is no database (a CLI audit's findings): --trials lists every trial, with every digit of
    its measurement, and a knob file stands for its run in smacx run's default folder."""
    monkeypatch.chdir(tmp_path)
    knobs = tmp_path / "zip.toml"
    knobs.write_text(
        'command = "echo $(( 3610990 + {level} ))"\ngoal = "maximize"\nn_trials = 3\n'
        '[knobs]\nlevel = { type = "integer", range = [1, 9] }\n'
    )
    assert main(["run", str(knobs), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["show", str(knobs), "--trials"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"config (\d+) seed \d+: SUCCESS, measured (\d+), \S+ s: level=(\d)", out)
    assert len(listed) == 3, out
    assert all(int(measured) == 3610990 + int(level) for _, measured, level in listed)
    assert main(["show", "smacx_output/zip", "--json", "--trials"]) == 0
    trials = json.loads(capsys.readouterr().out)["all_trials"]
    assert [t["status"] for t in trials] == ["SUCCESS"] * 3
    assert all(t["cost"] == [-(3610990 + t["config"]["level"])] for t in trials)
    assert main(["show", "smacx_output/zip", "--json"]) == 0
    assert "all_trials" not in json.loads(capsys.readouterr().out)
    # a knob file edited since (a typo'd key) still stands for its run (a review's finding)
    knobs.write_text(knobs.read_text() + "treads = 4\n")
    assert main(["show", str(knobs)]) == 0
    assert "smacx_output/zip" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path.parent)
    assert main(["show", str(knobs)]) == 2
    assert "is a knob file, whose run 'zip' is not in 'smacx_output'" in capsys.readouterr().err


def test_run_logs_a_maximized_measurement_as_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With goal = "maximize" each cost is the measurement's negative, and the log's "New
    incumbent" lines and summary gave only that ("cost -3611000"), beside a last line that
    says "maximum 3611000" (an audit's finding): the log now gives the measurement first.
    Python's logging of the same run, and a minimized one, stay as they were."""
    monkeypatch.chdir(tmp_path)
    knobs = tmp_path / "zip.toml"
    knobs.write_text(
        'command = "echo $(( 100 + {level} ))"\ngoal = "maximize"\nn_trials = 3\n'
        '[knobs]\nlevel = { type = "integer", range = [1, 9] }\n'
    )
    assert main(["run", str(knobs), "--no-progress"]) == 0
    err = capsys.readouterr().err
    lines = re.findall(r"New incumbent: config \d+, measured (\d+) \(cost -(\d+)\) over", err)
    assert lines and all(a == b for a, b in lines), err
    [(measured, cost)] = re.findall(
        r"\n  incumbent: config \d+, measured (\d+) \(cost -(\d+)\)", err
    )
    assert measured == cost == lines[-1][0]
    assert not logging.getLogger("smacx").filters  # (removed when the run ends)
    # continued: the stored incumbent is logged in the same terms
    assert main(["run", str(knobs), "--no-progress", "--n-trials", "4"]) == 0
    assert "Incumbent of the stored run: config" in capsys.readouterr().err
    knobs.write_text(knobs.read_text().replace('"maximize"', '"minimize"'))
    assert main(["run", str(knobs), "--no-progress", "--name", "low"]) == 0
    err = capsys.readouterr().err
    assert "measured" not in err and re.search(r"New incumbent: config \d+, cost 10\d ", err)


def test_show_says_a_knob_files_run_failed_in_its_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`smacx run` said "the knob file's timeout", and `smacx show` of the same run the
    Python name trial_walltime_limit (an audit's finding)."""
    monkeypatch.chdir(tmp_path)
    knobs = tmp_path / "slow.toml"
    knobs.write_text(
        'command = "sleep {x}; echo 1"\ntimeout = 1\nn_trials = 1\n'
        "[knobs]\nx = { type = 'float', range = [5, 9] }\n"
    )
    with pytest.warns(UserWarning, match="without an incumbent"):  # (pytest takes warnings)
        main(["run", str(knobs), "--no-progress"])
    capsys.readouterr()
    report = run_report("smacx_output/slow", list_trials=True)
    [failure] = report["failures"]
    assert failure["reason"] == "exceeded the knob file's timeout=1.0 s"
    assert report["all_trials"][0]["reason"] == failure["reason"]


def test_show_gives_the_budget_of_the_incumbents_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The incumbent's cost jumped up when a higher budget succeeded, and nothing said at
    which budget each cost was (a Hyperband audit's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=20, min_budget=1, max_budget=9, output_directory=tmp_path, seed=1
    )
    smac = SMAC(scenario, lambda config, budget: config["x"] + 9 / budget, preset="hyperband")
    smac.optimize()
    smac.close()
    report = run_report(tmp_path)
    budgets = [entry["budget"] for entry in report["trajectory"]]
    assert budgets == sorted(budgets) and budgets[-1] == report["incumbent"]["budget"] == 9.0
    assert main(["show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"incumbent:  cost [\d.]+ at budget 9, found after", out)
    assert re.search(r"finished trials: config \d+, cost [\d.]+ at budget 1\n", out)


def test_a_run_stored_before_trajectories_had_budgets_gets_no_second_entry(
    tmp_path: Path,
) -> None:
    """Continued by this version, a run whose stored entries have no budget got a copy of its
    last entry, with one (a review's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(
        space, n_trials=12, min_budget=1, max_budget=9, output_directory=tmp_path, seed=1
    )

    def target(config: Configuration, budget: float) -> float:
        return config["x"] + 9 / budget

    # (12 trials end before the first bracket's 13th: that is the point, and it is said)
    with pytest.warns(UserWarning, match="n_trials=12 is less than the 13 trials"):
        smac = SMAC(scenario, target, preset="hyperband")
    smac.optimize()
    smac.close()
    from smacx.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(tmp_path / scenario.run_name / "runhistory.db")
    entries = json.loads(storage.get_meta("trajectory") or "[]")
    old = [{k: v for k, v in e.items() if k != "budget"} for e in entries]
    storage.set_meta("trajectory", json.dumps(old))
    storage.close()
    with SMAC(scenario, target, preset="hyperband") as again:
        with pytest.warns(UserWarning, match="has finished its n_trials=12 trials already"):
            again.optimize()
        assert len(again.trajectory) == len(entries)


def test_show_importance_ranks_the_knobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = ConfigurationSpace({"fast": (0.0, 1.0), "slow": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=40, output_directory=tmp_path, seed=2)
    SMAC(
        scenario, lambda config, seed: 10 * config["fast"] + config["slow"], preset="random"
    ).optimize()
    assert main(["show", str(tmp_path), "--importance"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = lines.index("importance: share of the cost's variance each knob explains alone (fANOVA)")
    report = run_report(tmp_path, importance=True)
    n = report["configs"]
    assert lines[at + 1] == f"  of {n} configurations"  # (with budgets, also which budget)
    assert lines[at + 2].split()[0] == "fast" and lines[at + 3].split()[0] == "slow"
    assert report["importance_of"] == {"cost": {"budget": None, "configs": n}}
    shares = report["importance"]["cost"]
    assert list(shares) == ["fast", "slow"] and shares["fast"] > 0.9
    assert report["importance_error"] is None
    assert "importance" not in run_report(tmp_path)  # only when asked


def test_show_importance_of_too_few_results_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    with SMAC(Scenario(space, n_trials=5, output_directory=tmp_path)) as smac:
        info = smac.ask()
        smac.tell(info, TrialValue(cost=1.0))
    assert main(["show", str(tmp_path), "--importance", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["importance"] is None
    assert "at least 2 configurations, got 1" in report["importance_error"]
    assert main(["show", str(tmp_path), "--importance"]) == 0
    assert "importance: none: needs measured costs" in capsys.readouterr().out
    with SMAC(Scenario(space, n_trials=5, output_directory=tmp_path)) as smac:
        for _ in range(2):
            info = smac.ask()
            smac.tell(info, TrialValue(cost=info.config["x"]))
    with warnings.catch_warnings():  # (the report says how few)
        warnings.simplefilter("error")
        assert main(["show", str(tmp_path), "--importance"]) == 0
    assert "  of 2 configurations (rough: too few)" in capsys.readouterr().out.splitlines()


def test_show_importance_of_a_history_stored_without_its_scenario(tmp_path: Path) -> None:
    from smacx import RunHistory
    from smacx.storage.sqlite import SQLiteStorage

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    history = RunHistory(space, storage=SQLiteStorage(tmp_path / "run" / "runhistory.db"))
    for config in space.sample_configuration(5):
        history.add(TrialInfo(config, seed=0), TrialValue(cost=config["x"]))
    history.close()
    report = run_report(tmp_path / "run", importance=True)  # readable, not "damaged"
    assert report["importance"] is None
    assert "stores no scenario" in report["importance_error"]


def test_a_cluster_that_cannot_start_for_lack_of_files_says_so(tmp_path: Path) -> None:
    """Under `ulimit -n 40`, `smacx run --workers 2` was told to add a __main__ guard to a
    script it does not have; the cause, in dask's log only, went unnamed (an audit)."""
    import resource

    knobs = tmp_path / "k.toml"
    knobs.write_text(
        'command = "echo {x}"\nn_trials = 4\n[knobs]\nx = { type = "integer", range = [0, 9] }\n'
    )

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    done = subprocess.run(
        [sys.executable, "-m", "smacx", "run", str(knobs), "--workers", "2", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=few_files,
        timeout=120,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1
    assert "could not start its local dask cluster of 2 worker process(es)" in last, last
    assert "This process may open only 40 files (`ulimit -n`)" in last
    assert "__main__" not in last


def test_show_and_summary_estimate_the_noise_between_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A noisy run's incumbent is the lowest of many means over a few seeds: show and the
    summary say how much one configuration's cost varies between seeds, and how many others
    lie within noise of the incumbent."""
    from smacx.runhistory import seed_noise

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    noise = np.random.default_rng(0)

    def noisy(config: Configuration, seed: int) -> float:
        return float(config["x"]) + float(noise.normal(0.0, 0.5))

    scenario = Scenario(space, n_trials=30, output_directory=tmp_path, deterministic=False)
    with SMAC(scenario, noisy, progress=False) as smac:
        smac.optimize()
        expected = seed_noise(
            smac.runhistory.items(), smac.runhistory.get_config_id(smac.incumbent)
        )
    summary = smac.summary()  # (also once closed, as with the run's preset: a review's finding)
    assert expected is not None and expected.incumbent_n == 3
    assert f"  noise: {expected.text()}" in summary.splitlines()
    assert "  seed 0, not deterministic, preset 'hpo'" in summary.splitlines()
    report = run_report(scenario.output_path)
    assert report["noise"] == dataclasses.asdict(expected)
    assert main(["show", str(scenario.output_path)]) == 0
    assert f"noise:      {expected.text()}" in capsys.readouterr().out.splitlines()
    # a deterministic run has no seeds to compare
    quiet = Scenario(space, n_trials=5, output_directory=tmp_path / "det", deterministic=True)
    with SMAC(quiet, lambda config: float(config["x"]), progress=False) as smac:
        smac.optimize()
        assert "noise:" not in smac.summary()
    assert run_report(quiet.output_path)["noise"] is None


def test_show_says_when_a_stored_trajectory_predates_pareto_fronts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """smacx of 2026-12-02 stored one incumbent per entry for several objectives: show printed
    it as the run's incumbent, one member of a front of three (an upgrade audit's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=3, output_directory=tmp_path, deterministic=True,
                        objectives=["err", "latency"])  # fmt: skip
    with SMAC(scenario) as smac:
        for cost in ([0.5, 0.5], [0.1, 0.9], [0.9, 0.1]):
            smac.tell(smac.ask(), TrialValue(cost=cost))
    database = next(tmp_path.glob("*/runhistory.db"))
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        (text,) = conn.execute("SELECT value FROM meta WHERE key = 'trajectory'").fetchone()
        old = [
            {k: v for k, v in entry.items() if k not in ("config_ids", "costs")}
            for entry in json.loads(text)
        ]
        conn.execute("UPDATE meta SET value = ? WHERE key = 'trajectory'", (json.dumps(old),))
    assert main(["show", str(tmp_path)]) == 0
    assert "stored by an older smacx, before it stored Pareto fronts" in capsys.readouterr().out


def test_show_and_summary_say_which_seed_and_preset_made_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paper's run is read back to report how it was made: the seed and preset were stored
    but shown nowhere (a reproducibility audit's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=4, output_directory=tmp_path, seed=1234567,
                        deterministic=True, name="paper_run")  # fmt: skip
    with SMAC(scenario, lambda config: float(config["x"]), preset="random", progress=False) as smac:
        smac.optimize()
        assert "  seed 1234567, deterministic, preset 'random'" in smac.summary().splitlines()
    report = run_report(tmp_path / "paper_run")
    assert report["settings"]["seed"] == 1234567 and report["settings"]["preset"] == "random"
    assert report["settings"]["intensifier"].startswith("Intensifier(")
    assert main(["show", str(tmp_path / "paper_run")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "settings:   seed 1234567, deterministic, preset 'random'" in out


def test_smacx_run_draws_no_bar_into_a_file(tmp_path: Path) -> None:
    """Under nohup or a batch job, `smacx run` wrote a bar redraw per trial into the log file
    (39 carriage returns for 150 trials: a watching audit's finding): without a terminal it
    draws none, as SMAC(progress=None) does."""
    knobs = tmp_path / "k.toml"
    command = sys.executable + " -c 'print({x})'"
    knobs.write_text(
        f"command = {json.dumps(command)}\nn_trials = 12\n\n"
        '[knobs]\nx = { type = "integer", range = [0, 100] }\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "smacx", "run", str(knobs), "--output-dir", str(tmp_path / "r")],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"\r" not in done.stderr and b"trial/s" not in done.stderr
    assert b"best of" in done.stdout


def test_show_of_a_run_told_a_result_while_it_reads_backs_the_incumbent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """smacx show reads the trajectory and the trials apart; a result told between the two
    reads showed an incumbent over 0 of the listed trials (a watching audit's finding). The
    trajectory is read first: the trials read after it hold every result it names."""
    from smacx.storage.sqlite import SQLiteStorage

    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, n_trials=100, deterministic=True, output_directory=tmp_path,
                        name="live", seed=1)  # fmt: skip
    writer = SMAC(scenario)
    for _ in range(5):
        info = writer.ask()
        writer.tell(info, TrialValue(cost=abs(float(info.config["x"])) + 1))
    best = Configuration(space, values={"x": 0.0})
    read = SQLiteStorage.read_trials
    told: list[bool] = []

    def read_trials(self: SQLiteStorage, after_version: int) -> Any:
        records = read(self, after_version)
        if self is not writer.runhistory.storage and not told:
            told.append(True)  # the live run tells a new best right after
            writer.tell(TrialInfo(best, seed=0), TrialValue(cost=0.0))
        return records

    monkeypatch.setattr(SQLiteStorage, "read_trials", read_trials)
    report = run_report(tmp_path / "live")
    monkeypatch.undo()
    writer.close()
    assert told
    finished = sum(n for status, n in report["trials"].items() if status != "RUNNING")
    assert report["incumbent"]["n_trials"] == 1
    assert report["trajectory"][-1]["n_finished"] <= finished


def test_show_counts_the_trials_a_fronts_costs_are_over(tmp_path: Path) -> None:
    """With several objectives and instances, the front is compared on the pairs all its
    members have: its first member's costs were over 4 of its trials while `smacx show`
    said "over 5 trials" (an audit's finding). The trajectory entry now says how many."""
    space = ConfigurationSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, name="mo", n_trials=50, objectives=["a", "b"], seed=0,
                        instances=["p0", "p1", "p2"], output_directory=tmp_path)  # fmt: skip

    def target(config: Any, seed: int, instance: str) -> dict[str, float]:
        k, x = int(instance[1:]), config["x"]
        return {"a": x + k + (seed % 5) * 0.01, "b": (1 - x) ** 2 + config["y"] + k}

    with SMAC(scenario, target) as smac:
        smac.optimize()
        keys = smac.intensifier.incumbent_keys()  # type: ignore[attr-defined]
        compared = [smac.runhistory[k].costs() for k in keys]
        assert smac.incumbent_costs == pytest.approx(np.mean(compared, axis=0).tolist())
        assert smac.incumbents_costs[0] == smac.incumbent_costs
        assert len(smac.incumbents_costs) == len(smac.incumbents)
        all_of_it = len(smac.runhistory.get_trial_values(smac.incumbents[0]))
    report = run_report(scenario.output_path)
    assert report["incumbent"]["n_trials"] == len(keys) < all_of_it
    assert report["incumbent"]["cost"] == smac.incumbent_costs


def test_show_counts_the_fronts_trials_when_only_their_number_changed(tmp_path: Path) -> None:
    """A front that gains seeds at the same costs (a target that ignores the seed) stored no
    new trajectory entry, and `smacx show` gave the count of the last (a review's finding)."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, name="mo", n_trials=30, objectives=["a", "b"], seed=0,
                        output_directory=tmp_path)  # fmt: skip

    def target(config: Any, seed: int = 0) -> dict[str, float]:
        x = float(config["x"] > 0.5)
        return {"a": x, "b": (1 - x) ** 2}

    with SMAC(scenario, target) as smac:
        smac.optimize()
        live = len(smac.intensifier.incumbent_keys())  # type: ignore[attr-defined]
    assert live > 1
    assert run_report(scenario.output_path)["incumbent"]["n_trials"] == live


JOB_API = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
def target(config, seed: int = 0):
    time.sleep(30); return config["x"]
sc = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), name="api", output_directory=sys.argv[1],
              n_trials=3, deterministic=True, trial_walltime_limit=60)
SMAC(sc, target, progress=False).optimize()
"""


@pytest.mark.parametrize("how", ["smacx run", "limited trial"])
def test_a_trial_cut_short_by_the_jobs_sigterm_is_given_back(tmp_path: Path, how: str) -> None:
    """A batch system ends a job with a SIGTERM to each of its processes in no set order: a
    trial whose command (or process) got it a moment before the run was stored CRASHED, and
    `smacx run` called the command wrong (a batch-system audit's finding). The trial now waits
    a moment for the run's own, and is given back to run again."""
    import sqlite3

    import psutil

    if how == "smacx run":
        knobs = tmp_path / "knobs.toml"
        knobs.write_text('command = "sleep 30; echo {x}"\nn_trials = 3\n\n[knobs]\n'
                         'x = { type = "float", range = [0.0, 1.0] }\n')  # fmt: skip
        args = [sys.executable, "-m", "smacx", "run", str(knobs), "--no-progress",
                "--output-dir", str(tmp_path)]  # fmt: skip
        db = tmp_path / "knobs" / "runhistory.db"
    else:
        (tmp_path / "api.py").write_text(JOB_API)
        args, db = [sys.executable, str(tmp_path / "api.py"), str(tmp_path)], tmp_path / "api"
        db = db / "runhistory.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        main_process = psutil.Process(run.pid)
        # (the command's sleep; the trial's process forked from the run has its command line)
        trial = ["sleep", "30"] if how == "smacx run" else main_process.cmdline()
        while not any(
            p.cmdline() == trial for p in main_process.children(recursive=True) if p.is_running()
        ):
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.1)
        time.sleep(0.5)
        for process in main_process.children(recursive=True):  # the trial's first
            with contextlib.suppress(psutil.Error):
                process.terminate()
        time.sleep(0.05)
        run.terminate()
        _, err = run.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode in (143, -signal.SIGTERM), err
    with contextlib.closing(sqlite3.connect(db)) as connection:
        statuses = [s for (s,) in connection.execute("select status from trials")]
    from smacx import StatusType

    assert StatusType.CRASHED.value not in statuses, err
    assert "likely wrong" not in err


def test_smacx_run_tls_runs_the_workers_on_a_cluster_with_credentials(tmp_path: Path) -> None:
    """`smacx run --workers 2` could not secure its dask cluster, which other users of a
    shared machine could use to run code as the run's user (a security audit's finding):
    `--tls` gives it credentials of the run's own."""
    knobs = tmp_path / "k.toml"
    knobs.write_text(
        'command = "echo {x}"\nn_trials = 4\n[knobs]\nx = { type = "integer", range = [0, 9] }\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "smacx", "run", str(knobs), "--workers", "2", "--tls", "-v"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Started a dask LocalCluster of 2 worker process(es) at tls://127.0.0.1:" in (
        done.stderr
    )
    assert run_report(tmp_path / "smacx_output" / "k")["trials"] == {"SUCCESS": 4}


def test_the_closing_hint_is_quoted_for_the_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`smacx show smacx_output/my bench`, pasted from the last line, was two arguments (an
    audit's finding)."""
    import shlex

    monkeypatch.chdir(tmp_path)
    knobs = tmp_path / "my bench.toml"
    knobs.write_text(
        'command = "echo {x}"\nn_trials = 2\n[knobs]\nx = { type = "integer", range = [1, 9] }\n'
    )
    assert main(["run", str(knobs), "--no-progress"]) == 0
    out = capsys.readouterr().out
    [hint] = re.findall(r"`(smacx show [^`]+)` summarizes it", out)
    assert hint == "smacx show 'smacx_output/my bench'"
    assert main(shlex.split(hint)[1:]) == 0
