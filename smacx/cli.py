"""The smacx command: tune a program described by a knob file, and inspect stored runs.

    smacx run knobs.toml [--output-dir DIR] [--n-trials N] [--workers K] [--seed S]
    smacx run knobs.toml --storage postgresql://user@host/db   # shared by many machines
    smacx show OUTPUT_DIR/RUN_NAME        # or OUTPUT_DIR when it holds one run
    smacx show knobs.toml                 # the knob file's run in smacx_output
    smacx show OUTPUT_DIR/RUN_NAME --json
    smacx show postgresql://user@host/db --name RUN_NAME
    smacx --version

``run`` reads a knob file (see :mod:`smacx.command`) and optimizes its command; the same
``smacx run`` started in other terminals (or, with ``--storage``, on other machines) works on
the same run (no master), and started again after an interrupt it continues the run. Ctrl-C,
a SIGTERM (a batch system's end of a job, ``kill``) and a SIGHUP (a closed terminal) end it
alike: it says so, keeps what finished, ends the commands under way (they run again when it
continues) and exits with 128 plus the signal's number (130, 143, 129).

``show`` reads the run's history while other processes may still be writing to it
(several workers sharing a run, or one that was killed): trials by status (with how many of
the running ones were left by processes that are gone), why trials failed, the incumbent and
its cost, and how the incumbent changed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import shlex
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from smacx import __version__
from smacx.command import CommandTarget
from smacx.errors import (
    ArgumentError,
    ScenarioError,
    ScenarioMismatchError,
    SmacxError,
    StorageError,
    TargetCrashedError,
    one_line,
    printable,
)
from smacx.facade import DATABASE_NAME, SMAC
from smacx.intensifier import finite_costs
from smacx.plot import check_plot_file, save_report_plot
from smacx.runhistory import (
    RunHistory,
    SeedNoise,
    failure_reasons,
    json_safe,
    seed_noise,
    settings_text,
)
from smacx.storage import Storage, abandoned, check_run_format, is_database_url, redact
from smacx.storage.sqlite import SQLiteStorage
from smacx.trial import COSTS_LOGGED, StatusType, cost_text

__all__ = ["main", "run_report"]


def _name_in(path: Path) -> str | None:
    """The run name of a knob file that cannot be loaded: its ``name`` key if it can be read,
    else its stem; None if the file is no table of keys at all."""
    from smacx.command import read_knob_table

    try:
        data = read_knob_table(path)
    except ScenarioError:
        return None
    return data["name"] if isinstance(data.get("name"), str) else path.stem


#: Where ``smacx run`` stores its runs without ``--output-dir``.
_DEFAULT_OUTPUT = "smacx_output"


def _find_database(path: Path, caller: str) -> Path:
    """The run-history file of the run at ``path`` (a run's folder, its database, or an output
    directory holding exactly one run; or a knob file, whose run ``smacx run`` stores in
    ``smacx_output`` by default). ``caller`` starts the messages of errors."""
    if path.is_file() and path.suffix in (".toml", ".json"):
        from smacx.command import load_workload

        try:
            name: str | None = load_workload(path).name
        except ScenarioError:  # (edited since: its name key, or the stem, as smacx run took it)
            name = _name_in(path)
        if name is not None:
            found = Path(_DEFAULT_OUTPUT) / name / DATABASE_NAME
            if found.is_file():
                return found
            raise StorageError(
                f"{caller}: {str(path)!r} is a knob file, whose run {name!r} is not in "
                f"{_DEFAULT_OUTPUT!r}: give the run's folder, OUTPUT_DIR/{name}, with the "
                "--output-dir that smacx run was given."
            )
    if path.is_file():
        return path
    if (path / DATABASE_NAME).is_file():
        return path / DATABASE_NAME
    if (path / DATABASE_NAME).is_dir():
        raise StorageError(
            f"{caller}: {str(path / DATABASE_NAME)!r} is a directory, not a run's database."
        )
    if not path.exists():
        raise StorageError(f"{caller}: {redact(str(path))!r} does not exist.")
    runs = sorted(p.parent for p in path.glob(f"*/{DATABASE_NAME}"))
    if len(runs) == 1:
        return runs[0] / DATABASE_NAME
    if not runs:
        raise StorageError(
            f"{caller}: no run found in {str(path)!r}: expected a folder holding "
            f"{DATABASE_NAME} (OUTPUT_DIR/RUN_NAME), or an output directory with one such folder."
        )
    names = ", ".join(p.name for p in runs)
    raise StorageError(
        f"{caller}: {str(path)!r} holds {len(runs)} runs ({names}); name one of them, "
        f"e.g. {str(runs[0])!r}."
    )


def _open_database_run(url: str, name: str | None, caller: str) -> tuple[Storage, str]:
    """The run ``name`` in the PostgreSQL database at ``url``, opened for reading (without a
    name, the database's only run), and its name. ``caller`` starts the messages of errors."""
    from smacx.storage.postgres import PostgresStorage

    if name is None:
        names = PostgresStorage.run_names(url, timeout=10)
        if len(names) != 1:
            raise StorageError(
                f"{caller}: {redact(url)} holds "
                + (
                    f"{len(names)} runs ({', '.join(names)}); name one with "
                    f"{'--name NAME' if caller == 'smacx show' else 'name=NAME'}."
                    if names
                    else "no smacx run."
                )
            )
        name = names[0]
    return PostgresStorage(url, name, timeout=10, create=False), name


@contextlib.contextmanager
def _said_by(caller: str) -> Iterator[None]:
    """Start the message of a ``StorageError`` raised within with ``caller``, as the
    messages of :func:`run_report` start (opening a damaged database, say)."""
    try:
        yield
    except StorageError as err:
        if str(err).startswith(f"{caller}:"):
            raise
        raise StorageError(f"{caller}: {err}") from err


def run_report(
    path: str | Path,
    name: str | None = None,
    *,
    list_trials: bool = False,
    importance: bool = False,
    caller: str = "smacx show",
) -> dict[str, Any]:
    """What ``smacx show`` prints, as a dict.

    Args:
        path: A run's folder (``output_directory / run_name``), its database file, or an output
            directory holding exactly one run; or the URL of a PostgreSQL database.
        name: The run's name in a PostgreSQL database (by default its only run).
        list_trials: Also list every trial, under ``all_trials``.
        importance: Also say how much each hyperparameter matters, under ``importance``
            (see :func:`smacx.param_importances`).
        caller: What the messages of errors start with (``plot_history`` reads runs here
            too).

    Returns:
        ``database`` (path, or the URL without its password), ``run`` (its name),
        ``objectives``, ``settings`` (``seed``, ``deterministic``, ``preset``: the latest it ran
        with, ``intensifier``: its settings' repr; each None if not stored), ``goal``
        (``"maximize"`` for a run of ``smacx run`` whose measurement is maximized: each cost is
        the measurement negated; ``"minimize"``; None for a run made from Python), ``configs``
        (how many), ``trials`` (count by status name), ``incumbent`` (``config``: its values,
        ``cost``: one per objective, as last stored; ``budget``: the budget that cost is at,
        None without budgets; ``n_trials``: its finished instance-seed pairs at that budget
        (instances, for a deterministic target), which the cost aggregates (with several
        objectives, those all members of the front have, which it is compared on), and
        ``n_failed``,
        those of them that failed with an infinite cost and are left out of it; ``n_instances``
        and ``of_instances``: how many instances they ran on, of how many the scenario has (None
        without instances); ``n_finished``: finished trials when it became the incumbent at that
        budget, i.e. at the first entry of the uninterrupted stretch of trajectory entries with
        its ``config_id`` and ``budget`` that ends the trajectory: a noisy run stores an entry
        each time the incumbent's cost changes as more of its trials finish, and those do not
        make it new; with several objectives also ``front``, the Pareto front as a list of
        ``config_id``, ``config`` and ``cost`` (at most the intensifier's ``max_incumbents``
        members, which spread along it); None until a configuration has the SUCCESS trials its
        intensifier requires, one at least with the built-in ones: crashed or timed-out trials
        never make an incumbent, whatever their cost), ``trajectory`` (every change of incumbent
        or of its cost, oldest first, as stored), ``noise`` (for a run that is not
        deterministic, with one objective and an incumbent: how much the cost varies between
        seeds, the fields of :class:`~smacx.runhistory.SeedNoise`; None when too few
        configurations ran on several seeds), ``stale_running`` (RUNNING trials of processes
        that are gone or whose lease ran out: the next run on this history runs them again) and
        ``failures`` (the finished trials that did not succeed, grouped by status and reason,
        most frequent first: ``status``, ``reason``, ``count`` of trials, ``configs`` (how many
        configurations) and the first five ``config_ids``); with ``list_trials``,
        ``all_trials``: every trial in the order they started, each with its ``config_id``,
        ``config``, ``instance``, ``seed``, ``budget``, ``status``, ``cost`` (one per objective;
        for a maximized measurement, the measurement is its negative), ``time`` (seconds),
        ``endtime`` (Unix seconds; 0 while it runs) and, for a trial that failed, the ``reason``
        (its error on one line) and ``traceback`` (the target's, as Python wrote it, where
        it raised; None otherwise); with ``importance``, ``importance``: per objective, each
        hyperparameter's share of the variance of the cost, most important first (None for an
        objective with fewer than two configurations with a measured cost; None in all, for
        instance for a history stored without its scenario, and ``importance_error`` says why),
        and ``importance_of``: per objective with shares, the ``budget`` analysed (None without
        budgets) and the number of ``configs`` whose costs they are of.

    Raises:
        StorageError: No run at ``path``, the file is not a smacx database, or it is damaged
            (SQLite cannot read a page, or a stored record is not what smacx wrote).
    """
    storage: Storage
    if is_database_url(str(path)):
        with _said_by(caller):
            storage, run = _open_database_run(str(path), name, caller)
        database, where = redact(str(path)), f"run {run!r} in {redact(str(path))}"
    else:
        if name is not None:
            raise StorageError(
                f"{caller}: {'--name' if caller == 'smacx show' else 'name'} is for a run in a "
                "PostgreSQL database; give a run in a folder as OUTPUT_DIR/RUN_NAME."
            )
        if "://" in str(path) and not Path(path).exists():
            raise StorageError(
                f"{caller}: {redact(str(path))!r} is no run smacx can read: expected a run's "
                "folder, its database file, or a PostgreSQL URL (postgresql://user@host/db)."
            )
        found = _find_database(Path(path), caller)
        with _said_by(caller):
            storage = SQLiteStorage(found, read_only=True)
        database, where, run = str(found), repr(str(found)), found.parent.name
    part = "the scenario"
    try:
        check_run_format(storage.get_meta("format"), f"{caller}: {where}")
        scenario = json.loads(storage.get_meta("scenario") or "{}")
        objectives = scenario.get("objectives")
        n_instances = len(scenario.get("instances") or ())
        goal = storage.get_meta("goal")  # (stored by `smacx run`)
        settings = {
            "seed": scenario.get("seed"),
            "deterministic": scenario.get("deterministic"),
            "preset": storage.get_meta("preset"),
            "intensifier": storage.get_meta("intensifier"),
        }
        # The trajectory before the trials: a result is stored before the trajectory entry
        # it makes, so the trials read after it hold every one its incumbent's cost is of (read
        # after them, a result told in between showed an incumbent over 0 of the trials).
        part = "the incumbent's trajectory"
        trajectory = json.loads(storage.get_meta("trajectory") or "[]")
        part = "the trials"
        records = storage.read_trials(0)
        statuses = Counter(record.value.status.name for record in records)
        now = getattr(storage, "now", time.time)()  # (a database's clock, as leases are)
        stale = sum(r.value.status is StatusType.RUNNING and abandoned(r, now) for r in records)
        # (a knob file's command, stored by `smacx run`: failures shown by its template)
        command = json.loads(storage.get_meta("measurement") or "{}").get("command")
        failures = failure_reasons(((r.key, r.value) for r in records), command)
        said = _in_cli_terms if command is not None else str  # (a run of `smacx run`)
        for failure in failures:
            failure["reason"] = said(failure["reason"])
        # Read last: a configuration is stored before any trial or trajectory entry names it,
        # so those read before all have theirs while other processes write (read first, a
        # live run's newest trials and incumbent showed no values).
        part = "the configurations"
        configs = {c.config_id: json.loads(c.config_json) for c in storage.read_configs(0)}
        incumbent = None
        noise: dict[str, Any] | None = None
        if trajectory:
            last = trajectory[-1]
            start = len(trajectory) - 1
            # (back to its first entry at the budget its cost is at: its cost at a lower
            # budget, a multi-fidelity run's, is not the one shown)
            while (
                start > 0
                and trajectory[start - 1]["config_id"] == last["config_id"]
                and trajectory[start - 1].get("budget") == last.get("budget")
            ):
                start -= 1
            # What its cost covers: a race's incumbent may have run on a few instances only.
            covered = [
                r
                for r in records
                if r.key.config_id == last["config_id"]
                and r.key.budget == last.get("budget")
                and r.value.status is not StatusType.RUNNING
            ]
            # One per instance-seed pair, or per instance where the target is deterministic
            # (the same instance told again with another seed counts once, as racing counts).
            deterministic = bool(scenario.get("deterministic", False))
            pairs = {(r.key.instance, None if deterministic else r.key.seed): r for r in covered}
            incumbent = {
                "config": configs.get(last["config_id"]),
                "cost": last["cost"],
                "n_finished": trajectory[start]["n_finished"],  # when it became incumbent
                "budget": last.get("budget"),
                "n_trials": len(pairs),
                "n_failed": sum(not finite_costs(r.value.costs()) for r in pairs.values()),
                "n_instances": len({instance for instance, _ in pairs} - {None}),
                "of_instances": n_instances or None,
            }
            if isinstance(last.get("compared"), dict):
                # (several objectives: the front's costs are over the keys all its members
                # have, which the trajectory entry counts)
                incumbent.update({k: v for k, v in last["compared"].items() if k in incumbent})
            if not deterministic and len(objectives or ["cost"]) == 1:
                pairs_of = ((r.key, r.value) for r in records)
                found_noise = seed_noise(pairs_of, last["config_id"], last.get("budget"))
                if found_noise is not None:
                    noise = dataclasses.asdict(found_noise)
            if "config_ids" in last:  # several objectives: the Pareto front, best first
                incumbent["front"] = [
                    {"config_id": i, "config": configs.get(i), "cost": cost}
                    for i, cost in zip(last["config_ids"], last["costs"], strict=True)
                ]
        if importance:
            part = "the configurations"
            basis: dict[str, dict[str, Any]] = {}
            shares, why = _importances(storage, scenario, basis)
    # A damaged file: SQLite finds a malformed page, or a record decodes to garbage (JSON,
    # UTF-8, a status or field that smacx never writes).
    except (sqlite3.Error, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        if isinstance(storage, SQLiteStorage):
            damaged = "database"
            check = (
                f"Check it with sqlite3 {database!r} 'PRAGMA integrity_check', and restore "
                "it from a copy if that reports errors."
            )
        else:
            damaged, check = "run", "Its rows were not written by this smacx."
        raise StorageError(
            f"{caller}: cannot read {part} from {where}: the {damaged} is damaged "
            f"({one_line(err)}). {check}"
        ) from err
    finally:
        storage.close()
    report = {
        "database": database,
        "run": run,
        "objectives": objectives,
        "goal": goal,
        "settings": settings,
        "configs": len(configs),
        "trials": dict(sorted(statuses.items())),
        "incumbent": incumbent,
        "trajectory": trajectory,
        "stale_running": stale,
        "failures": failures,
        "noise": noise,
    }
    if importance:
        report["importance"], report["importance_error"] = shares, why
        report["importance_of"] = basis
    if list_trials:
        report["all_trials"] = [
            {
                "config_id": r.key.config_id,
                "config": configs.get(r.key.config_id),
                "instance": r.key.instance,
                "seed": r.key.seed,
                "budget": r.key.budget,
                "status": r.value.status.name,
                "cost": r.value.costs(),
                "time": r.value.time,
                "endtime": r.value.endtime,
                "reason": None
                if r.value.status in (StatusType.SUCCESS, StatusType.RUNNING)
                else said(" ".join(str(r.value.additional_info.get("error", "")).split())) or None,
                "traceback": None
                if r.value.status in (StatusType.SUCCESS, StatusType.RUNNING)
                else r.value.additional_info.get("traceback") or None,
            }
            for r in sorted(records, key=lambda r: r.value.starttime)
        ]
    return report


def _importances(
    storage: Storage, scenario: dict[str, Any], basis: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, float] | None] | None, str | None]:
    """``smacx show --importance``: per objective, each hyperparameter's share of the cost's
    variance (see :func:`smacx.param_importances`), None for an objective without enough
    results, and what kept one or all of them from being computed. ``basis`` is filled with
    what each objective's shares are of: the ``budget`` analysed and the number of
    ``configs``."""
    from ConfigSpace import ConfigurationSpace

    from smacx.importance import analysed, param_importances

    if "configspace" not in scenario:
        return None, (
            "the run stores no scenario (its history was written without SMAC), so its search "
            "space is unknown; call smacx.param_importances on a RunHistory of the space."
        )
    space = ConfigurationSpace.from_serialized_dict(scenario["configspace"])
    objectives = scenario.get("objectives") or ["cost"]
    history = RunHistory(space, objectives=objectives, storage=storage)
    shares: dict[str, dict[str, float] | None] = {}
    why = []
    for name in objectives:
        try:
            with warnings.catch_warnings():  # (few configurations: the report says how many)
                warnings.filterwarnings("ignore", "param_importances: only", UserWarning)
                shares[name] = param_importances(history, objective=name)
            budget, n_configs = analysed(history, objective=name)
            basis[name] = {"budget": budget, "configs": n_configs}
        except ScenarioError as err:
            shares[name] = None
            reason = str(err).removeprefix("param_importances: ")
            why.append(reason if len(objectives) == 1 else f"{name}: {reason}")
    if all(found is None for found in shares.values()):
        return None, "; ".join(why)
    return shares, "; ".join(why) or None


def _print_trials(trials: list[dict[str, Any]], maximized: bool) -> None:
    """``smacx show --trials``: one line per trial, in the order they started."""
    print(f"all trials: {len(trials)}, in the order they started")
    for trial in trials:
        cost = trial["cost"]
        if trial["status"] == "RUNNING":
            shown = "running"
        elif not all(c is not None and math.isfinite(c) for c in cost):
            shown = "no measurement" if maximized else f"cost {cost[0] if len(cost) == 1 else cost}"
        elif maximized and len(cost) == 1:
            shown = f"measured {-cost[0]:.10g}"
        else:
            shown = "cost " + (f"{cost[0]:.10g}" if len(cost) == 1 else str(cost))
        key = "".join(
            f" {name} {trial[name]}"
            for name in ("instance", "seed", "budget")
            if trial[name] is not None
        )
        values = ", ".join(f"{k}={v!r}" for k, v in sorted((trial["config"] or {}).items()))
        print(f"    config {trial['config_id']}{key}: {trial['status']}, {shown}, "
              f"{trial['time']:.3g} s: {values}")  # fmt: skip
        if trial.get("reason"):
            print(f"        {printable(trial['reason']):.300}")


#: How many reasons for failed trials ``smacx show`` prints (``--json`` gives them all).
_SHOWN_FAILURES = 5


def _print_report(report: dict[str, Any]) -> None:
    trials = report["trials"]
    counts = ", ".join(f"{n} {status}" for status, n in trials.items()) or "none"
    database = report["database"]
    where = f"{report['run']!r} in {database}" if is_database_url(database) else database
    print(f"run:        {where}")
    print(f"objectives: {', '.join(report['objectives'] or ['cost'])}")
    maximized = report.get("goal") == "maximize"
    if maximized:
        print("goal:       maximize (each cost is the measurement negated)")
    settings = report["settings"]
    made = settings_text(settings["seed"], settings["deterministic"], settings["preset"])
    print(f"settings:   {made}")
    print(f"trials:     {sum(trials.values())} ({counts}) over {report['configs']} configurations")
    if report["stale_running"]:
        print(
            f"            {report['stale_running']} of the RUNNING trials were left by processes "
            "that are gone; the next run on this history runs them again"
        )
    failures = report["failures"]
    if failures:
        print(f"failed:     {sum(f['count'] for f in failures)} trials, for these reasons:")
        for failure in failures[:_SHOWN_FAILURES]:
            ids = ", ".join(map(str, failure["config_ids"]))
            if failure["configs"] > len(failure["config_ids"]):
                ids += f", ... of {failure['configs']}"
            word = "config" if failure["configs"] == 1 else "configs"
            # (failure_reasons made each reason printable already)
            print(f"    {failure['count']:>5} {failure['status']}: {failure['reason']} "
                  f"({word} {ids})")  # fmt: skip
        if len(failures) > _SHOWN_FAILURES:
            print(f"    and {len(failures) - _SHOWN_FAILURES} more reasons (--json lists all)")
    incumbent = report["incumbent"]
    if incumbent is None:
        print("incumbent:  none yet (it needs successful trials; crashes never count)")
        _print_importance(report)
        if "all_trials" in report:
            _print_trials(report["all_trials"], maximized)
        return
    cost = incumbent["cost"]
    measured = f"measured {-cost[0]:.10g}, " if maximized and len(cost) == 1 else ""
    at = "" if incumbent.get("budget") is None else f" at budget {incumbent['budget']:g}"
    over, n = "", incumbent.get("n_trials", 1)
    if incumbent.get("of_instances"):
        over = (f" over {n} trial{'s' if n != 1 else ''} on {incumbent['n_instances']} of "
                f"{incumbent['of_instances']} instances")  # fmt: skip
    elif n > 1:
        over = f" over {n} trials (seeds)"
    if incumbent.get("n_failed"):
        over += f" ({incumbent['n_failed']} failed, not in the cost)"
    print(f"incumbent:  {measured}cost {cost[0] if len(cost) == 1 else cost}{at}{over}, found "
          f"after {incumbent['n_finished']} finished trials")  # fmt: skip
    for name, value in sorted((incumbent["config"] or {}).items()):
        print(f"    {name} = {value!r}")
    if report.get("noise") is not None:
        print(f"noise:      {SeedNoise(**report['noise']).text()}")
    front = incumbent.get("front")
    if front is None and len(report["objectives"] or ["cost"]) > 1:
        print(
            "            (its trajectory was stored by an older smacx, before it stored Pareto "
            "fronts: this is one member of the front; SMAC(scenario).incumbents reads the "
            "whole front from the trials)"
        )
    if front is not None:
        # (as the trajectory stored it: at most max_incumbents members that spread along it)
        print(f"Pareto front: {len(front)} configuration(s) (at most max_incumbents of it)")
        for member in front:
            values = ", ".join(f"{k}={v!r}" for k, v in sorted((member["config"] or {}).items()))
            print(f"    config {member['config_id']}: cost {member['cost']}: {values}")
    entries = report["trajectory"]
    if front is not None:
        print(f"changes of the Pareto front: {len(entries)}")
    else:
        # (an entry also marks a new cost of the same incumbent, as a noisy run's gains seeds)
        incumbents = [entry.get("config_id") for entry in entries]
        changes = sum(
            1 for i, config_id in enumerate(incumbents) if i == 0 or config_id != incumbents[i - 1]
        )
        print(f"changes of incumbent: {changes}"
              + (f" ({len(entries) - changes} more of its cost)" if len(entries) > changes
                 else ""))  # fmt: skip
    for entry in entries:
        cost = entry["cost"]
        if "config_ids" in entry:
            print(f"    after {entry['n_finished']:>5} finished trials: configs "
                  f"{entry['config_ids']}")  # fmt: skip
            continue
        at = "" if entry.get("budget") is None else f" at budget {entry['budget']:g}"
        print(f"    after {entry['n_finished']:>5} finished trials: config {entry['config_id']}, "
              f"cost {cost[0] if len(cost) == 1 else cost}{at}")  # fmt: skip
    _print_importance(report)
    if "all_trials" in report:
        _print_trials(report["all_trials"], maximized)


def _print_importance(report: dict[str, Any]) -> None:
    """``smacx show --importance``'s lines, if it was asked for."""
    from smacx.importance import ENOUGH_CONFIGS

    if "importance" not in report:
        return
    if report["importance"] is None:
        print(f"importance: none: {report['importance_error']}")
        return
    print("importance: share of the cost's variance each knob explains alone (fANOVA)")
    for objective, shares in report["importance"].items():
        if shares is None:
            print(f"  {objective}: none")
            continue
        of = report["importance_of"][objective]
        at = "" if of["budget"] is None else f" at budget {of['budget']:g}"
        label = f"  {objective}: " if len(report["importance"]) > 1 else "  "
        rough = " (rough: too few)" if of["configs"] < ENOUGH_CONFIGS else ""
        print(f"{label}of {of['configs']} configurations{at}{rough}")
        width = max(map(len, shares), default=0)
        for name, share in shares.items():
            print(f"    {name:<{width}}  {share:6.1%}")


#: What ``smacx --help`` says the command is (the module docstring's first line).
_DESCRIPTION = (
    "The smacx command: tune a program described by a knob file, and inspect stored runs."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smacx`` console script; returns the exit status."""
    # (not from __doc__, which python -OO strips: every command failed there)
    parser = argparse.ArgumentParser(prog="smacx", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"smacx {__version__}")
    verbose_help = "log smacx's debug messages"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    show = commands.add_parser(
        "show",
        help="summarize a stored run",
        description="Summarize a stored run: its trials by status, why trials failed, its "
        "incumbent and how it changed; also while processes still write to it.",
    )
    show.add_argument(
        "run",
        help="OUTPUT_DIR/RUN_NAME, or OUTPUT_DIR when it holds one run, or a knob file (its "
        "run in smacx_output, where smacx run keeps it without --output-dir), or a PostgreSQL "
        "URL",
    )
    show.add_argument("--name", help="the run's name in a PostgreSQL database")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.add_argument(
        "--trials", action="store_true", help="also list every trial, in the order they started"
    )
    show.add_argument(
        "--importance",
        action="store_true",
        help="also say how much of the cost's variance each knob explains (fANOVA)",
    )
    show.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw each finished trial's cost and the incumbent's into FILE (.png, .svg, "
        ".pdf, ...; needs matplotlib)",
    )
    # also after the command (SUPPRESS: absent, it leaves the value given before the command)
    show.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help
    )
    run = commands.add_parser(
        "run",
        help="optimize the command of a knob file",
        description="Optimize the command of a knob file; run it again to continue the run.",
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("knobs", help="the knob file (TOML, or JSON)")
    run.add_argument("--output-dir", default=_DEFAULT_OUTPUT, help="where runs are stored")
    run.add_argument(
        "--name", type=_run_name, help="the run's name (default: the knob file's, or its stem)"
    )
    run.add_argument(
        "--storage",
        metavar="URL",
        help="keep the run in this PostgreSQL database (postgresql://user@host/db) instead of "
        "the output directory: smacx run on other machines with the same URL and knob file "
        "share it. Give the password in PGPASSWORD or ~/.pgpass, not in the URL: a command "
        "line shows in ps to every user",
    )
    run.add_argument("--n-trials", type=_positive, help="trials of the run (default: the file's)")
    run.add_argument(
        "--walltime",
        type=_seconds,
        help="seconds the whole run may take, over continued runs too (default: the file's "
        "walltime); without n_trials in the file, the run goes on until then",
    )
    run.add_argument("--workers", type=_positive, help="trials at once here (default: the file's)")
    run.add_argument(
        "--tls",
        action="store_true",
        help="with --workers > 1: the local dask cluster speaks TLS with credentials made for "
        "this run, so that other users of a shared machine cannot connect to it and run code "
        "as you (needs the cryptography package; no worker joins through the scheduler file)",
    )
    run.add_argument("--seed", type=_seed, default=0, help="the run's seed")
    run.add_argument("--overwrite", action="store_true", help="start the run afresh")
    run.add_argument(
        "--keep-going",
        action="store_true",
        help="go on when the first trial crashes (by default the run stops there: the command "
        "itself is likely wrong); for spaces where some configurations fail",
    )
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (by default one is drawn when stderr is a terminal)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help
    )
    args = parser.parse_args(argv)
    # (the console script's own process, which exits with main's status: see
    # _stopped_as_interrupt's until_exit)
    args.whole_process = argv is None
    # The library's logger gets a handler of its own for this call only (it always has a
    # NullHandler, and main() may be called from Python, whose logging stays as it was).
    log = logging.getLogger("smacx")
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter("%(levelname)s %(name)s: %(message)s"))
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    log.propagate = False  # (an application's root handlers would print every line again)
    try:
        # The library's warnings to the caller are printed as lines of the log, not with
        # the library's source line a Python caller would see (only how they are printed:
        # a caller that records warnings still gets them).
        formatwarning = warnings.formatwarning
        warnings.formatwarning = _as_log_line
        try:
            return _run(args, parser, log)
        finally:
            if warnings.formatwarning is _as_log_line:
                warnings.formatwarning = formatwarning
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


#: The library's advice in Python terms, and what it means on the command line: the phrases
#: of ``SMAC``'s errors, warnings and log lines that ``smacx run`` prints, whole, so that a
#: command or its output quoted in a message stays as it is.
_CLI_TERMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\boverwrite=True (cannot|would) delete the run in", r"--overwrite \1 delete the run in"),
        (r"\b([Ss]tart the run afresh) \(overwrite=True\)", r"\1 (--overwrite)"),
        (r"\b([Pp]ass) overwrite=True to (replace it|start afresh)", r"\1 --overwrite to \2"),
        (r"\bafresh with SMAC\(\.\.\., overwrite=True\) or another Scenario\(name=\.\.\.\)",
         "afresh with --overwrite or another --name"),
        (r"\bgive this scenario another name or output_directory",
         "give the run another --name or --output-dir"),
        (r"\bgive (?:this|the) scenario another name\b", "give the run another --name"),
        # (the Python API's way to reuse a run's results in a new one: no option does it)
        (r"; to start that one from this run's results, tell\(\) it the trials of `smacx show "
         r"RUN --json --trials` \([^)]*\)\.", "."),
        (r"\bhas finished its n_trials=(\d+) trials already: optimize\(\) runs none",
         r"has finished its \1 trials already: smacx run runs none"),
        (r"\b(Raise|or raise) n_trials\b", r"\1 --n-trials (or the knob file's n_trials)"),
        (r", or raise eta, or bring min_budget closer to max_budget\b",
         ", or bring the knob file's budget = [low, high] closer together"),
        # (a knob file sets no eta nor min_keys: the advice it can follow)
        (r", or raise eta or min_keys\.", "."),
        (r"(instance-seed pairs leave no room to halve .*) Use (?:a min_keys of at most \d+"
         r"(?:, or an eta of at most [\d.e+-]+)?|an eta of at most [\d.e+-]+)\.",
         r'\1 Use race = "racing" in the knob file, or more instances.'),
        (r"(budgets from \S+ to \S+ leave no room to halve .*) Use an eta of at most "
         r"[\d.e+-]+\.",
         r"\1 Widen the knob file's budget = [low, high]."),
        (r"\bCommandTarget's templates have\b", "the knob file's command (or result) has"),
        (r"\bits walltime_limit=(\S+) s\b", r"its walltime = \1 s"),
        (r"\bRaise the limit to go on\b", "Raise --walltime (or the knob file's walltime)"
         " to go on"),
        (r"\boptimize\(\) ended without an incumbent", "The run ended without an incumbent"),
        (r"\bwith the same intensifier \(SMAC\(\.\.\., intensifier=\.\.\.\)\)",
         "with the same intensifier (the knob file's repeats, race and aggregate as they were)"),
        (r"\bOnly \[[^\]]*'n_trials'[^\]]*\] may change when a run is continued\.",
         "Of the knob file, only n_trials, walltime, workers, timeout and memory may change when "
         "a run is continued."),
        (r"\bexceeded trial_walltime_limit=", "exceeded the knob file's timeout="),
        (r"\bcontinues with trial_walltime_limit=(\S+) \(was ([^)]*)\)",
         r"continues with timeout=\1 (was \2)"),
        (r"\bSMAC's storage must be None \(the run in output_directory/name/runhistory\.db, or "
         r"in memory without an output_directory\) or",
         "--storage must be left out (the run in --output-dir/NAME/runhistory.db) or"),
        (r"\bFor SQLite, set the scenario's output_directory instead\.",
         "For SQLite, give --output-dir instead."),
        (r"\bCommandTarget\.(command|pattern|result|workdir|launcher|hosts)\b", r"\1"),
    )
)  # fmt: skip


def _in_cli_terms(text: str) -> str:
    """``text`` with the library's Python advice said as the command line's options."""
    for pattern, replacement in _CLI_TERMS:
        text = pattern.sub(replacement, text)
    return text


class _Formatter(logging.Formatter):
    """The CLI's log lines, with the library's advice in the command line's terms (in the
    message only: a traceback, with ``--verbose``, stays as Python wrote it)."""

    def format(self, record: logging.LogRecord) -> str:
        told = logging.makeLogRecord(record.__dict__)
        told.msg, told.args = _in_cli_terms(record.getMessage()), None
        return super().format(told)


class _Measured(logging.Filter):
    """Has the log lines that give a cost (records with ``COSTS_LOGGED``) of a run whose
    measurement is maximized give the measurement first: its cost is its negative, so "New
    incumbent: config 9, measured 99.9948 (cost -99.9948) over ...", as ``smacx show`` and the
    run's last line give it."""

    def filter(self, record: logging.LogRecord) -> bool:
        costs = getattr(record, COSTS_LOGGED, None)
        if isinstance(costs, tuple) and len(costs) == 1 and math.isfinite(costs[0]):
            said = cost_text(costs)
            message = record.getMessage()
            if said in message:
                record.msg = message.replace(said, f"measured {-costs[0]:.6g} ({said})", 1)
                record.args = None
        return True


#: The filter of ``smacx run``'s log while it runs a maximized measurement.
_MEASURED = _Measured()


def _as_log_line(message: Warning | str, *args: Any, **kwargs: Any) -> str:
    """A warning as ``smacx run`` prints it (``warnings.formatwarning``)."""
    return f"WARNING smacx: {_in_cli_terms(str(message))}\n"


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser, log: logging.Logger) -> int:
    """The command of ``main``'s parsed ``args``; returns the exit status."""
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("smacx: a command is required: smacx run KNOB_FILE, or smacx show "
              "OUTPUT_DIR/RUN_NAME", file=sys.stderr)  # fmt: skip
        return 2
    if args.command == "run":
        return _run_workload(args, log)
    try:
        if args.plot is not None:
            check_plot_file(args.plot)
        report = run_report(
            args.run,
            args.name,
            list_trials=args.trials or args.plot is not None,
            importance=args.importance,
        )
    except (ImportError, ArgumentError) as err:
        print(f"smacx show: {err}", file=sys.stderr)
        return 2
    except StorageError as err:
        log.debug("smacx show failed", exc_info=True)  # the traceback, with --verbose
        message = str(err)
        print(message if message.startswith("smacx show:") else f"smacx show: {message}",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.plot is not None:
        try:
            save_report_plot(report, args.plot)
        except OSError as err:  # (its folder is missing or not writable)
            print(f"smacx show: cannot write the plot to {args.plot!r}: {err}", file=sys.stderr)
            return 2
        if not args.trials:
            del report["all_trials"]
    try:
        if args.json:
            print(json.dumps(json_safe(report), indent=1, default=repr))  # any parser reads it
        else:
            _print_report(report)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _positive(text: str) -> int:
    """A whole number >= 1, for argparse (whose message then names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1; got {text!r}")
    return value


def _seconds(text: str) -> float:
    """A number of seconds > 0, for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"expected seconds, a number > 0; got {text!r}")
    return value


def _seed(text: str) -> int:
    """A seed in [0, 2**32), as ``Scenario.seed`` takes it, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number in [0, 2**32); got {text!r}")
    return value


def _run_name(text: str) -> str:
    """A run's name, as ``Scenario.name`` takes it, for argparse."""
    from smacx.scenario import RUN_NAME, is_run_name

    if not is_run_name(text):
        raise argparse.ArgumentTypeError(f"expected {RUN_NAME}; got {text!r}")
    return text


_RUN_EPILOG = """\
a knob file (TOML; or the same keys in JSON):
  command = "./bench --threads {threads} --cache {cache} --seed {seed}"
  pattern = 'p99: ([0-9.]+)'  # the number to read; default: the last number printed
  result = "stdout"           # or a file it writes: "{trial_dir}/out.txt"
  goal = "minimize"           # or "maximize"
  repeats = 1                 # runs per configuration, for a noisy measurement
  timeout = 60                # seconds per run; then TIMEOUT, its programs stopped
  n_trials = 100              # workers = 1; hosts = ["node1"] runs over ssh
  # instances = ["a.cnf"]     # problem instances; the command then uses {instance}
  # race = "hyperband"        # with instances: Hyperband over them (default "racing")
  [env]                       # environment variables for the command
  OMP_PROC_BIND = "true"
  [knobs]
  threads = { type = "integer", range = [1, 64], log = true, default = 8 }
  cache = { type = "categorical", choices = ["lru", "lfu"] }
  ratio = { type = "float", range = [0.0, 1.0] }
  batch = { type = "ordinal", sequence = [1, 2, 4, 8] }

Each {placeholder} becomes one quoted shell word: write it outside quotes. Trial fields:
{seed}, {trial_dir}, {host}, {instance}, {budget}. `smacx show OUTPUT_DIR/NAME --json`
prints the best configuration as JSON.
"""


#: Signals that end ``smacx run`` as Ctrl-C does: a batch system's end of a job, ``kill``,
#: a closed terminal or ssh connection.
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")


#: Seconds after which a stop that arrived where an exception would be lost is sent again.
_DEFER_SECONDS = 0.05


class _Stop(KeyboardInterrupt):
    """The ``KeyboardInterrupt`` of a stop signal (``signum``) within
    :func:`_stopped_as_interrupt`."""

    def __init__(self, signum: int) -> None:
        super().__init__()
        self.signum = signum


@contextlib.contextmanager
def _stopped_as_interrupt(received: list[str], until_exit: bool = False) -> Iterator[None]:
    """Within the block, a SIGTERM or SIGHUP stops the run as a Ctrl-C does, and the name of
    every such signal (SIGINT included) is appended to ``received``.

    The first SIGTERM or SIGHUP goes to the SIGINT handler in place (Python's, which raises
    ``KeyboardInterrupt``, or the dask runner's, which holds it back while a cluster starts):
    the trials under way are given back, their commands ended, the finished ones saved.
    Once any stop is under way, further SIGTERMs and SIGHUPs are ignored (a batch system's
    second one would break off the cleanup of the first); a second Ctrl-C still interrupts.

    A stop raised where Python prints and drops exceptions (a gc callback, dask's runs at
    every collection; a ``__del__``; a weakref callback or finalizer) reaches
    ``sys.unraisablehook``, and the signal is sent again: a SIGTERM just after the cluster
    started was lost, and the run went on to its end and exited with 0. One sent again that
    comes as the block ends is dropped. Outside the main thread (``main()`` called from a
    thread) the signals are left as they are.

    With ``until_exit`` (the console script's process, which exits with the status next) and
    a stop under way, SIGTERM and SIGHUP stay ignored after the block: a batch system's
    SIGTERM just after a Ctrl-C had the process die of it (-15) instead of exiting 130.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    deferred: list[int] = []  # (a stop sent again, out of code that would lose it)
    timers: list[threading.Timer] = []
    ending: list[bool] = []

    def send_again(signum: int) -> None:
        deferred.append(signum)
        timer = threading.Timer(_DEFER_SECONDS, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timers.append(timer)
        timer.start()

    def on_int(signum: int, frame: Any) -> None:
        if deferred:
            deferred.clear()
            if ending:
                return
        else:
            received.append("SIGINT")
        raise _Stop(signum)

    def on_stop(signum: int, frame: Any) -> None:
        if deferred:
            deferred.clear()
            if ending:
                return
            raise _Stop(signum)
        first = not received
        received.append(signal.Signals(signum).name)
        if not first:
            return
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not on_int:
            handler(signal.SIGINT, frame)  # (the dask runner's hold while a cluster starts)
        else:  # ours, or SIGINT ignored (as for a job started with & in a script)
            raise _Stop(signum)

    previous_hook = sys.unraisablehook

    def lost(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, _Stop) and not ending:
            send_again(unraisable.exc_value.signum)
            return
        previous_hook(unraisable)

    names = [n for n in _STOP_SIGNALS if hasattr(signal, n)]
    before = {n: signal.signal(getattr(signal, n), on_stop) for n in names}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        before["SIGINT"] = signal.signal(signal.SIGINT, on_int)
    sys.unraisablehook = lost
    try:
        yield
    finally:
        ending.append(True)
        for timer in timers:
            timer.cancel()
        sys.unraisablehook = previous_hook
        for name, handler in before.items():
            if until_exit and received and name != "SIGINT":
                handler = signal.SIG_IGN
            signal.signal(getattr(signal, name), handler)


def _run_workload(args: argparse.Namespace, log: logging.Logger) -> int:
    """``smacx run``: optimize a knob file's command; returns the exit status."""
    received: list[str] = []
    with _stopped_as_interrupt(received, until_exit=getattr(args, "whole_process", False)):
        try:
            return _optimize_workload(args, log)
        except KeyboardInterrupt:
            first = received[0] if received else "SIGINT"
            how = "interrupted" if first == "SIGINT" else f"stopped by {first}"
            with contextlib.suppress(OSError):  # (a closed terminal's SIGHUP: no one reads)
                print(f"smacx run: {how}; the finished trials are saved, and the trials under "
                      "way will run again. Run the same command to continue.",
                      file=sys.stderr)  # fmt: skip
            return 128 + int(getattr(signal, first))


def _optimize_workload(args: argparse.Namespace, log: logging.Logger) -> int:
    from smacx.command import load_workload

    if not args.verbose:
        log.setLevel(logging.INFO)  # what the run does (the bar shows how far it is)
    try:
        workload = load_workload(args.knobs)
        if workload.target.maximize:
            log.addFilter(_MEASURED)  # (removed below; removing one not added does nothing)
        fields: dict[str, Any] = {"output_directory": args.output_dir, "seed": args.seed}
        options = (("name", args.name), ("n_trials", args.n_trials),
                   ("n_workers", args.workers), ("walltime_limit", args.walltime))  # fmt: skip
        for key, value in options:
            if value is not None:
                fields[key] = value
        scenario = workload.scenario(**fields)
        with SMAC(
            scenario,
            workload.target,
            storage=args.storage,
            intensifier=workload.intensifier(),
            initial_design=workload.initial_design(),
            overwrite=args.overwrite,
            # (a bar only on a terminal: under nohup or a batch job it filled the log file
            # with a redraw per trial, on a few ever-longer lines)
            progress=False if args.no_progress else None,
            raise_on_first_crash=not args.keep_going,
            dask_tls=args.tls,
        ) as smac:
            # The stored costs of a maximized measurement are its negatives: a run continued
            # with the other goal would compare the two, and `smacx show` prints it back.
            goal = "maximize" if workload.target.maximize else "minimize"
            stored = smac.runhistory.storage.set_meta_if_absent("goal", goal)
            if stored != goal:
                raise ScenarioMismatchError(
                    f"{smac.where} holds a run made with goal "
                    f"= {stored!r}, not {goal!r}: its costs do not compare."
                )
            # So does a run whose command, or the way its measurement is read, changed.
            target = workload.target
            measured = {"command": target.command, "result": target.result,
                        "pattern": target.pattern}  # fmt: skip
            before = json.loads(
                smac.runhistory.storage.set_meta_if_absent("measurement", json.dumps(measured))
            )
            changed = [key for key in measured if before.get(key) != measured[key]]
            if changed:
                key = changed[0]
                raise ScenarioMismatchError(
                    f"{smac.where} holds a run whose {key} was "
                    f"{before.get(key)!r}, not {measured[key]!r}: its measurements do not "
                    "compare with this one's."
                )
            _warn_if_setting_changed(smac, workload.target, local=args.storage is None, log=log)
            if scenario.n_trials is not None and scenario.n_trials < workload.repeats:
                log.warning(
                    "n_trials = %d is below repeats = %d: no configuration gets its %d runs, so "
                    "the run ends without a best configuration. Give at least --n-trials %d.",
                    scenario.n_trials, workload.repeats, workload.repeats, workload.repeats,
                )  # fmt: skip
            incumbent = smac.optimize()
            succeeded = smac.runhistory.status_counts().get("SUCCESS", 0)
            cost = smac.incumbent_cost
            trials = {} if incumbent is None else smac.runhistory.get_trial_values(incumbent)
            # (with a budget range, the runs at its highest budget, which its cost is of)
            top = max((k.budget for k in trials if k.budget is not None), default=None)
            trials = {k: v for k, v in trials.items() if k.budget == top}
            failed = sum(not finite_costs(v.costs()) for v in trials.values())
            _warn_if_all_equal(smac.runhistory, workload.target, log)
    except TargetCrashedError as err:
        log.debug("smacx run failed", exc_info=True)  # the traceback, with --verbose
        print(f"smacx run: the first trial crashed, and no trial of the run has worked yet: the "
              f"command itself is likely wrong:\n{err.error or err}\nFix the knob file, then "
              f"start afresh with --overwrite (run as it is, the crash stays in the run); or "
              f"pass --keep-going when some configurations are meant to fail.",
              file=sys.stderr)  # fmt: skip
        return 1
    except ScenarioMismatchError as err:
        log.debug("smacx run failed", exc_info=True)
        print(f"smacx run: {_in_cli_terms(str(err))}\nIn the knob file, the knobs (their "
              "ranges, choices and defaults) make the configspace, and repeats sets "
              "deterministic and with race the intensifier. From the command line: "
              "--overwrite starts the run afresh; --name NAME keeps this one and stores a run "
              "of that name.",
              file=sys.stderr)  # fmt: skip
        return 1
    except SmacxError as err:
        log.debug("smacx run failed", exc_info=True)  # the traceback, with --verbose
        print(f"smacx run: {_in_cli_terms(str(err))}", file=sys.stderr)
        return 1
    finally:
        log.removeFilter(_MEASURED)
    # (quoted for the shell: `smacx show out/my bench`, pasted, was two arguments)
    where = (
        shlex.quote(str(scenario.output_path))
        if args.storage is None
        else f"{shlex.quote(redact(args.storage))} --name {shlex.quote(scenario.run_name)}"
    )
    if incumbent is None:
        if succeeded and workload.repeats > 1:
            print(f"no configuration has its {workload.repeats} runs (repeats) yet, though "
                  f"{succeeded} trial(s) succeeded: raise --n-trials (or the knob file's "
                  f"n_trials) to continue the run; see `smacx show {where}`")  # fmt: skip
        else:
            print(f"no configuration worked; see `smacx show {where}`")
        return 1
    value = -cost if workload.target.maximize and cost is not None else cost
    runs = len(trials) - failed
    failures = f"; {failed} more failed" if failed else ""
    print(f"best of {args.knobs}: {'maximum' if workload.target.maximize else 'minimum'} "
          f"{value:.10g} ({workload.aggregate} of {runs} run{'s' if runs != 1 else ''}"
          f"{failures})")  # fmt: skip
    for name, setting in sorted(dict(incumbent).items()):
        print(f"    {name} = {setting!r}")
    print(f"run stored in {where}; `smacx show {where}` summarizes it")
    return 0


def _warn_if_setting_changed(
    smac: SMAC, target: CommandTarget, local: bool, log: logging.Logger
) -> None:
    """Warn when a continued run's command runs with other ``[env]`` variables, or (for a run
    stored on this machine) in another folder, such as a copy of the knob file beside another
    build of the program: the old measurements may not compare with the new ones."""
    # [env] is where tokens go: its values are kept as digests, and a change named, not shown.
    run = smac.scenario.run_name
    setting: dict[str, Any] = {"env": _env_digests(target.env, run)}
    if local:
        setting["workdir"] = target.workdir
    storage = smac.runhistory.storage
    stored = json.loads(storage.set_meta_if_absent("setting", json.dumps(setting)))
    before = dict(stored)
    if isinstance(before.get("env"), dict):  # (a run stored with the values themselves)
        before["env"] = _env_digests(before["env"], run)
        for name, old in before["env"].items():
            # An older smacx's fast digest of the same value is taken for the slow one (and
            # replaced by it below).
            if name in target.env and old == _fast_digest(run, name, target.env[name]):
                before["env"][name] = setting["env"][name]
    changed = [key for key in setting if key in before and before[key] != setting[key]]
    if stored != {**before, **setting}:  # (warned once; values stored before now go)
        storage.set_meta("setting", json.dumps({**before, **setting}))
    if not changed:
        return
    said = "; ".join(
        f"workdir was {before[key]!r}, now {setting[key]!r}"
        if key == "workdir"
        else f"the [env] variables {_changed_names(before[key], setting[key])} changed"
        for key in changed
    )
    log.warning(
        "Continuing run %r, whose command ran with other settings: %s. If that changes what "
        "is measured (another build of the program, another input), the finished trials do "
        "not compare with the new ones: pass --overwrite to start afresh, or --name NAME.",
        smac.scenario.run_name,
        said,
    )


def _env_digests(env: Mapping[str, Any], run: str) -> dict[str, str]:
    """``[env]``'s values as salted scrypt digests (one already a digest kept as it is), to
    tell a change without storing a secret.

    Slow on purpose: the salt (the run's and the variable's names) is stored beside the
    digest, and of a fast SHA-256 digest a weak password (``summer2024``) was found by
    guessing in 0.02 s (a security audit's finding); each guess now costs tens of
    milliseconds and 16 MB."""
    return {
        name: value
        if isinstance(value, str) and value.startswith(("sha256:", "scrypt:"))
        else "scrypt:"
        + hashlib.scrypt(
            str(value).encode(), salt=f"smacx\0{run}\0{name}".encode(), n=2**14, r=8, p=1
        ).hex()
        for name, value in env.items()
    }


def _fast_digest(run: str, name: str, value: object) -> str:
    """The digest of an ``[env]`` value that smacx stored before it used scrypt."""
    return "sha256:" + hashlib.sha256(f"{run}\0{name}\0{value}".encode()).hexdigest()


def _changed_names(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """The names of the variables added, removed or given another value."""
    return sorted(name for name in before.keys() | now.keys() if before.get(name) != now.get(name))


#: Successful measurements that, all equal, make ``smacx run`` suspect what it reads.
_FLAT_AFTER = 5


def _warn_if_all_equal(history: RunHistory, target: CommandTarget, log: logging.Logger) -> None:
    """Warn when every successful measurement of the run is the same number: the command
    likely prints a constant where the number is read (the last one printed, without a
    ``pattern``: say, "done in 1.5 s"), or no knob reaches the program."""
    costs = [v.costs()[0] for _, v in history.items() if v.status is StatusType.SUCCESS]
    if len(costs) >= _FLAT_AFTER and len(set(costs)) == 1:
        value = -costs[0] if target.maximize else costs[0]
        where = (
            f"the number that pattern {target.pattern!r} matches"
            if target.pattern
            else "the last number the command prints"
        )
        log.warning(
            "all %d measurements were %g: the run read %s, which no knob changed. Check that "
            "it is the measurement (give a pattern in the knob file), and that the knobs "
            "reach the program.",
            len(costs),
            value,
            where,
        )


if __name__ == "__main__":
    sys.exit(main())
