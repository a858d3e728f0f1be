"""Runs in PostgreSQL: a real server started by the tests (see conftest.postgres_server).

The storage contract itself runs against PostgreSQL in test_storage.py; here is what only a
database server shares: runs side by side in one database, processes on one run, overwrites,
a server restart, and what goes wrong with a URL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from ConfigSpace import ConfigurationSpace

from smacx import (
    SMAC,
    Scenario,
    ScenarioError,
    ScenarioMismatchError,
    StatusType,
    StorageError,
    TrialKey,
    TrialValue,
)
from smacx.storage import TrialRecord, open_storage, owner_id, redact
from smacx.storage.postgres import PostgresStorage
from tests.conftest import PostgresServer, optimize_keeps_what_finished, quadratic

ROOT = Path(__file__).parents[1]


def pg_scenario(
    space: ConfigurationSpace, n_trials: int, name: str = "pg", **kw: object
) -> Scenario:
    return Scenario(
        space, n_trials=n_trials, deterministic=True, output_directory=None, name=name, **kw
    )


def test_a_run_in_postgres_is_optimized_then_continued_by_another_object(
    space: ConfigurationSpace, postgres_url: str
) -> None:
    with SMAC(pg_scenario(space, 8), quadratic, storage=postgres_url, progress=False) as first:
        first.optimize()
        best = first.runhistory.get_cost(first.incumbent)
        told = dict(first.runhistory.items())
    with SMAC(pg_scenario(space, 12), quadratic, storage=postgres_url, progress=False) as again:
        assert dict(again.runhistory.items()) == told  # every result, as it was told
        again.optimize()
        assert again.runhistory.n_finished == 12 and again.runhistory.n_running == 0
        assert again.runhistory.get_cost(again.incumbent) <= best
        assert "postgresql://smacx@127.0.0.1" in again.summary()


def test_runs_of_other_names_share_the_database_apart(
    space: ConfigurationSpace, postgres_url: str
) -> None:
    for name, n in (("a", 3), ("b", 5)):
        with SMAC(pg_scenario(space, n, name), quadratic, storage=postgres_url) as smac:
            smac.optimize()
    for name, n in (("a", 3), ("b", 5)):
        storage = open_storage(postgres_url, run=name)
        assert len(storage.read_trials(0)) == n and len(storage.read_configs(0)) == n
        storage.close()


def test_another_scenario_under_a_stored_name_is_refused_naming_the_database(
    space: ConfigurationSpace, postgres_url: str
) -> None:
    url = postgres_url.replace("smacx@", "smacx:s3cret@")  # (trust: any password works)
    with SMAC(pg_scenario(space, 3), quadratic, storage=url) as smac:
        smac.optimize()
    other = ConfigurationSpace({"x": (-1.0, 1.0)}, seed=0)
    with pytest.raises(ScenarioMismatchError, match="different scenario") as caught:
        SMAC(pg_scenario(other, 3), quadratic, storage=url)
    assert "(run 'pg')" in str(caught.value) and "smacx:***@127.0.0.1" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    with SMAC(pg_scenario(other, 3), quadratic, storage=url, overwrite=True) as fresh:
        assert fresh.runhistory.n_submitted == 0  # started afresh


def test_an_overwritten_run_refuses_the_old_handles_writes(postgres_url: str) -> None:
    old, new = PostgresStorage(postgres_url, "r"), PostgresStorage(postgres_url, "r")
    config = old.add_config('{"x": 1}', "test")
    assert old.claim_trial(running(TrialKey(config)), time.time())
    new.delete_run()
    assert new.read_trials(0) == [] and new.read_configs(0) == []
    with pytest.raises(StorageError, match="was deleted by another process"):
        old.finish_trial(TrialRecord(TrialKey(config), TrialValue(cost=1.0), owner_id(), 0.0))
    assert new.add_config('{"x": 2}', "test") == 1  # the new run counts from 1 again
    assert old.read_configs(0) == []  # the old run's rows are gone
    old.close()
    new.close()


def running(key: TrialKey) -> TrialRecord:
    return TrialRecord(key, TrialValue(status=StatusType.RUNNING), owner_id(), time.time() + 300)


def test_readers_that_follow_versions_miss_no_row_of_concurrent_writers(postgres_url: str) -> None:
    """Four writers claim and finish trials at once while a reader follows the versions. A
    version handed out by a transaction that commits after a later one would be skipped for
    good; the run's row lock orders them."""
    stop = threading.Event()
    seen: dict[TrialKey, TrialRecord] = {}
    reader = PostgresStorage(postgres_url, "v")

    def follow() -> None:
        last = 0
        while not stop.is_set():
            for record in reader.read_trials(last):
                assert record.version > last
                seen[record.key] = record
                last = record.version

    def write(worker: int) -> None:
        storage = PostgresStorage(postgres_url, "v")
        for i in range(40):
            key = TrialKey(storage.add_config(f'{{"w": {worker}, "i": {i}}}', "test"))
            assert storage.claim_trial(running(key), time.time())
            done = TrialRecord(key, TrialValue(cost=float(i)), owner_id(), 0.0)
            assert storage.finish_trial(done)
        storage.close()

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    time.sleep(0.3)
    stop.set()
    follower.join()
    follow_final = [r for r in reader.read_trials(0)]
    assert len(follow_final) == 160
    assert {k: r.value for k, r in seen.items()} == {r.key: r.value for r in follow_final}
    assert all(r.value.status is StatusType.SUCCESS for r in seen.values())
    assert sorted(c.config_id for c in reader.read_configs(0)) == list(range(1, 161))
    reader.close()


SHARED_RUN = """
import sys, time
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, Scenario
space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
scenario = Scenario(space, n_trials=int(sys.argv[2]), deterministic=True,
                    output_directory=None, name="shared", seed=int(sys.argv[3]))
def target(config, seed):
    time.sleep(float(sys.argv[4]))
    return (config["x"] - 1) ** 2 + (config["y"] + 2) ** 2
with SMAC(scenario, target, storage=sys.argv[1], progress=False) as smac:
    print("ready", flush=True)
    smac.optimize()
"""


def shared_run(url: str, n_trials: int, seed: int, sleep: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", SHARED_RUN, url, str(n_trials), str(seed), str(sleep)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)


def shared_scenario(n_trials: int) -> Scenario:
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    return Scenario(
        space, n_trials=n_trials, deterministic=True, output_directory=None, name="shared"
    )


@pytest.mark.slow
def test_processes_sharing_a_run_in_postgres_run_exactly_n_trials_once_each(
    postgres_url: str,
) -> None:
    """Three processes, as on three machines, with no master: together they finish exactly
    n_trials, and no configuration runs twice."""
    procs = [shared_run(postgres_url, 30, seed=0, sleep=0.02) for _ in range(3)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0, 0]
    with SMAC(shared_scenario(30), storage=postgres_url, progress=False) as smac:
        history = smac.runhistory
        assert history.n_finished == 30 and history.n_running == 0
        configs = [key.config_id for key, _ in history.items()]
        assert len(set(configs)) == 30  # deterministic: each configuration (its id) once


@pytest.mark.slow
def test_sigkill_of_a_worker_loses_no_finished_trial_in_postgres(postgres_url: str) -> None:
    proc = shared_run(postgres_url, 40, seed=0, sleep=0.1)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    storage = PostgresStorage(postgres_url, "shared")
    deadline = time.monotonic() + 60
    while sum(r.value.status is StatusType.SUCCESS for r in storage.read_trials(0)) < 6:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    storage.close()
    resumed = SMAC(shared_scenario(40), quadratic_xy, storage=postgres_url, progress=False)
    before = dict(resumed.runhistory.items())
    assert sum(v.status is StatusType.SUCCESS for v in before.values()) >= 6
    optimize_keeps_what_finished(resumed, before, 40)
    resumed.close()


def quadratic_xy(config: object, seed: int = 0) -> float:
    return (config["x"] - 1) ** 2 + (config["y"] + 2) ** 2  # type: ignore[index]


def test_overwrite_is_refused_while_another_process_has_the_run_open(
    postgres_url: str,
) -> None:
    proc = shared_run(postgres_url, 10_000, seed=0, sleep=0.05)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(StorageError, match="other processes still work on it"):
            SMAC(shared_scenario(10_000), storage=postgres_url, overwrite=True)
    finally:
        proc.kill()
        proc.wait()
    with SMAC(shared_scenario(5), storage=postgres_url, overwrite=True) as fresh:
        assert fresh.runhistory.n_submitted == 0  # its owner is gone


def test_a_server_restart_mid_run_loses_no_result(
    space: ConfigurationSpace, postgres_server: PostgresServer, postgres_url: str
) -> None:
    """An administrator restarts the server while trials run: each call that finds the
    connection broken connects again and is done once, and the run goes on."""
    restarted: list[float] = []

    def target(config: object, seed: int) -> float:
        if len(restarted) < 2:
            calls.append(1)
            if len(calls) in (4, 9):  # a restart while the trial runs, before its tell
                postgres_server.restart()
                restarted.append(time.time())
        return quadratic(config)

    calls: list[int] = []
    with SMAC(pg_scenario(space, 15), target, storage=postgres_url, progress=False) as smac:
        smac.optimize()
        assert len(restarted) == 2
        assert smac.runhistory.n_finished == 15 and smac.runhistory.n_running == 0
    storage = PostgresStorage(postgres_url, "pg")
    records = storage.read_trials(0)
    assert len(records) == 15 and {r.value.status for r in records} == {StatusType.SUCCESS}
    storage.close()


def shut_out(postgres_url: str) -> Callable[[], None]:
    """Close the connections to the database at ``postgres_url`` and refuse new ones, as a
    server that is away would; returns what lets them in again."""
    import psycopg

    name = postgres_url.rsplit("/", 1)[1]
    maintenance = postgres_url.rsplit("/", 1)[0] + "/postgres"

    def allow(allowed: bool) -> None:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")
            if not allowed:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )

    allow(False)
    return lambda: allow(True)


def test_a_server_away_for_longer_than_the_timeout_says_it_was_waited_for(
    postgres_url: str,
) -> None:
    """The error said only "cannot connect ... Check that the server runs", as if smacx had
    not tried again for a minute (a storage audit's finding)."""
    storage = PostgresStorage(postgres_url, "away", timeout=1)
    shut_out(postgres_url)
    with pytest.raises(StorageError, match=r"cannot connect .* tried to connect again for "):
        storage.add_config('{"x": 1}', "")
    storage.close()


def test_a_result_waits_longer_than_the_timeout_for_the_server(postgres_url: str) -> None:
    """A worker gave up the result it held after the 60 s other calls wait, and the trial
    ran again (a storage audit's finding): a result waits up to RESULT_PATIENCE."""
    storage = PostgresStorage(postgres_url, "patient", timeout=1)
    cid = storage.add_config('{"x": 1}', "")
    threading.Timer(3.0, shut_out(postgres_url)).start()
    key = TrialKey(cid, None, 1, None)
    assert storage.finish_trial(TrialRecord(key, TrialValue(cost=1.0), owner_id(), 0.0))
    assert [r.value.cost for r in storage.read_trials(0)] == [1.0]
    storage.close()


def _disk_full_while(postgres_url: str, flag: str) -> None:
    """Make every write of a trial fail as on the server's full disk (SQLSTATE 53100, the
    error PostgreSQL raises when it cannot extend a file) while the table ``flag`` has a row."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {flag} (x int)")
        conn.execute(f"INSERT INTO {flag} VALUES (1)")
        conn.execute(
            "CREATE FUNCTION smacx_test_full() RETURNS trigger AS $$ BEGIN IF EXISTS "
            f"(SELECT 1 FROM {flag}) THEN RAISE EXCEPTION 'could not extend file' USING "
            "ERRCODE = 'disk_full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.execute(
            "CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON smacx_trials FOR EACH ROW "
            "EXECUTE FUNCTION smacx_test_full()"
        )


def _free_space(postgres_url: str, flag: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {flag}")


def test_a_result_waits_for_space_on_the_servers_full_disk(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A result that came while the server's disk was full was lost at once (a left-out of
    the hostile-filesystem audit: only SQLite waited); it waits for space as on SQLite."""
    import smacx.storage.postgres as postgres_storage

    monkeypatch.setattr(postgres_storage, "FULL_DISK_RETRY", 0.05)
    storage = PostgresStorage(postgres_url, "full", timeout=1)
    key = TrialKey(storage.add_config('{"x": 1}', ""), None, 0, None)
    assert storage.claim_trial(running(key), time.time())
    _disk_full_while(postgres_url, "full_flag")
    freed = threading.Timer(1.5, _free_space, (postgres_url, "full_flag"))
    freed.start()
    assert storage.finish_trial(TrialRecord(key, TrialValue(cost=42.0), owner_id(), 0.0))
    freed.join()
    assert "is full: a trial's result (SUCCESS, cost 42.0) waits for space" in caplog.text
    assert caplog.text.count("is full") == 1
    assert [r.value.cost for r in storage.read_trials(0)] == [42.0]
    storage.close()


def test_a_result_the_servers_full_disk_never_takes_names_the_disk(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smacx.storage.postgres as postgres_storage

    monkeypatch.setattr(postgres_storage, "FULL_DISK_RETRY", 0.05)
    monkeypatch.setattr(postgres_storage, "RESULT_PATIENCE", 0.3)
    storage = PostgresStorage(postgres_url, "full", timeout=0.2)
    key = TrialKey(storage.add_config('{"x": 1}', ""), None, 0, None)
    _disk_full_while(postgres_url, "full_flag")
    start = time.monotonic()
    with pytest.raises(StorageError, match=r"could not extend file"):
        storage.finish_trial(TrialRecord(key, TrialValue(cost=42.0), owner_id(), 0.0))
    assert 0.25 < time.monotonic() - start < 5
    storage.close()


def test_connections_killed_again_and_again_lose_no_write(postgres_url: str) -> None:
    """Another session terminates the storage's connections every 20 ms, at any point of a
    call, sometimes right after a reconnection (an audit's finding: a connection killed before
    its first statement raised psycopg's own error): every write is done once, in the end."""
    import psycopg

    storage = PostgresStorage(postgres_url, "storm", timeout=20)
    stop = threading.Event()
    killed = []

    def storm() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            while not stop.is_set():
                rows = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'smacx' AND pid <> pg_backend_pid()"
                ).fetchall()
                killed.extend(rows)
                time.sleep(0.02)

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        written = 0  # for 3 s, at least 60 trials
        end = time.monotonic() + 3.0
        while written < 60 or time.monotonic() < end:
            key = TrialKey(storage.add_config(f'{{"i": {written}}}', "test"))
            assert storage.claim_trial(running(key), time.time())
            done = TrialRecord(key, TrialValue(cost=written), owner_id(), 0.0)
            assert storage.finish_trial(done)
            written += 1
    finally:
        stop.set()
        thread.join()
    assert len(killed) >= 10  # (about one every 20 ms while a connection is open)
    records = storage.read_trials(0)
    assert sorted(r.value.cost for r in records) == list(range(written))
    assert {r.value.status for r in records} == {StatusType.SUCCESS}
    storage.close()


def test_a_server_that_takes_no_connections_is_an_error_naming_the_url_without_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://me:hunter2@127.0.0.1:{port}/runs"
    with pytest.raises(StorageError, match="cannot connect to the PostgreSQL database") as caught:
        PostgresStorage(url, "r", timeout=1)
    message = str(caught.value)
    assert f"'postgresql://me:***@127.0.0.1:{port}/runs'" in message
    assert "hunter2" not in message and "Check that the server runs" in message


def test_a_missing_database_says_how_to_create_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StorageError, match="createdb"):
        PostgresStorage(url, "r", timeout=5)


@pytest.mark.parametrize(
    "storage",
    ["mysql://u:pw@host/db", "sqlite:///runs.db", "runs.db", Path("runs.db"), 5],
)
def test_storage_must_be_a_postgres_url(space: ConfigurationSpace, storage: object) -> None:
    with pytest.raises(ScenarioError, match="SMAC's storage must be None .* or a PostgreSQL URL"):
        SMAC(pg_scenario(space, 3), quadratic, storage=storage)  # type: ignore[arg-type]


def test_redact_hides_only_the_password() -> None:
    # (an unescaped "@" in the password: the rest of it, which libpq takes for the host, too)
    assert redact("postgresql://u:p@w@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact("postgresql://h/d") == "postgresql://h/d"


def test_other_spellings_of_a_postgres_url_open_the_same_run(
    space: ConfigurationSpace,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Optuna's users write SQLAlchemy's postgresql+psycopg2://, and libpq's key=value strings
    were documented but refused: both were taken for file names, and `smacx show` printed
    them, password and all, as files that do not exist (a security audit's finding). A
    service of pg_service.conf was refused the same way (the review of that fix)."""
    from urllib.parse import urlsplit

    from smacx.cli import main

    with SMAC(pg_scenario(space, 4), quadratic, storage=postgres_url, progress=False) as smac:
        smac.optimize()
    parts = urlsplit(postgres_url)
    rest = postgres_url.split("://", 1)[1]
    server = f"host={parts.hostname} port={parts.port} user={parts.username}"
    services = tmp_path / "pg_service.conf"
    database = f"dbname={parts.path.lstrip('/')}"
    services.write_text(f"[runs]\n{server.replace(' ', chr(10))}\n{database}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    for url in (
        f"postgresql+psycopg2://{rest}",
        f"PostgreSQL://{rest}",
        f"{server} {database}",
        "service=runs",
    ):
        with SMAC(pg_scenario(space, 4), quadratic, storage=url, progress=False) as again:
            assert again.runhistory.n_finished == 4, url
        assert main(["show", url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["trials"] == {"SUCCESS": 4}
    for url in ("mysql+pymysql://u:hunter2@h/db", "PostgreSQL://u:hunter2@127.0.0.1:1/db"):
        assert "hunter2" not in redact(url)
        assert main(["show", url]) == 2
        assert "hunter2" not in capsys.readouterr().err


def test_open_storage_needs_the_run_name_for_a_database(postgres_url: str) -> None:
    with pytest.raises(StorageError, match=r"needs the run's name \(run=...\)"):
        open_storage(postgres_url)
    storage = open_storage(postgres_url, run="r")
    assert isinstance(storage, PostgresStorage)
    storage.close()


def test_tables_of_another_layout_are_a_storage_error(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE smacx_runs (id INTEGER)")
    with pytest.raises(StorageError, match="cannot write the tables of the run 'r'"):
        PostgresStorage(postgres_url, "r", timeout=5)


def test_tables_of_another_smacx_version_are_refused_saying_where_to_go(
    postgres_url: str,
) -> None:
    import psycopg

    PostgresStorage(postgres_url, "r").close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE smacx_layout SET version = 99")
    with pytest.raises(StorageError, match="layout 99, and this smacx reads layout 1") as caught:
        PostgresStorage(postgres_url, "r", timeout=5)
    assert "another schema" in str(caught.value)


def test_many_configurations_of_long_json_are_stored(postgres_url: str) -> None:
    """A configuration's JSON is matched by its md5: a long one (a space of 300
    hyperparameters) is beyond what a b-tree index takes as a key."""
    storage = PostgresStorage(postgres_url, "wide")
    config = "{" + ", ".join(f'"hyperparameter_{i}": {i / 7!r}' for i in range(300)) + "}"
    assert len(config) > 8000
    first = storage.add_config(config, "test")
    assert storage.add_config(config, "test") == first
    assert storage.read_configs(0)[0].config_json == config
    storage.close()


def test_smacx_run_and_show_with_a_run_in_postgres(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from smacx.cli import main

    file = tmp_path / "knobs.toml"
    file.write_text(
        "command = 'echo $(( ({n} - 4) * ({n} - 4) ))'\n"
        "[knobs]\nn = {type='integer', range=[1, 9]}\n"
    )
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--storage", postgres_url, "--n-trials", "5"]) == 0
    out = capsys.readouterr().out
    assert f"run stored in {postgres_url} --name knobs" in out
    assert not (tmp_path / "runs" / "knobs" / "runhistory.db").exists()  # in the database
    assert main([*args, "--storage", postgres_url, "--n-trials", "8"]) == 0  # continued
    capsys.readouterr()
    assert main(["show", postgres_url, "--json"]) == 0  # the database's only run
    report = json.loads(capsys.readouterr().out)
    assert report["trials"] == {"SUCCESS": 8} and report["run"] == "knobs"
    assert report["goal"] == "minimize" and report["database"] == postgres_url
    assert main([*args, "--storage", postgres_url, "--name", "other", "--n-trials", "2"]) == 0
    capsys.readouterr()
    assert main(["show", postgres_url]) == 2
    assert "holds 2 runs (knobs, other); name one with --name NAME" in capsys.readouterr().err
    assert main(["show", postgres_url, "--name", "other"]) == 0
    assert "run:        'other' in postgresql://" in capsys.readouterr().out
    assert main(["show", postgres_url, "--name", "nope"]) == 2
    assert "there is no run 'nope' in" in capsys.readouterr().err
    # plot_history reads runs as smacx show does, and its errors name its own arguments
    import matplotlib

    matplotlib.use("Agg")
    from smacx import plot_history
    from smacx.errors import StorageError

    with pytest.raises(StorageError, match=r"^plot_history: .* holds 2 runs .*name=NAME\.$"):
        plot_history(postgres_url)
    assert len(plot_history(postgres_url, name="other").collections[0].get_offsets()) == 2
    assert main([*args, "--storage", "mysql://localhost/db"]) == 1
    assert "--storage must be left out" in capsys.readouterr().err


def test_processes_claiming_one_trial_at_once_get_it_once(postgres_url: str) -> None:
    """Storages (as processes) claim the same new trial and add the same configuration at
    once: one claim wins, and the configuration gets one id."""
    storages = [PostgresStorage(postgres_url, "c") for _ in range(6)]
    start = threading.Barrier(len(storages))
    ids: list[int] = []
    won: list[bool] = []

    def claim(storage: PostgresStorage, n: int) -> None:
        start.wait()
        config = storage.add_config('{"x": 1}', "test")
        ids.append(config)
        record = TrialRecord(TrialKey(config), TrialValue(status=StatusType.RUNNING), f"h:{n}")
        won.append(storage.claim_trial(record, time.time()))

    threads = [threading.Thread(target=claim, args=(s, n)) for n, s in enumerate(storages)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ids == [1] * len(storages) and sorted(won) == [False] * (len(storages) - 1) + [True]
    for storage in storages:
        storage.close()


def test_a_storage_opened_before_an_overwrite_goes_on_in_the_new_run(postgres_url: str) -> None:
    """A process looked the run up, then another overwrote it before the first took the
    run's lock to open it: under the lock, the first finds the new run, not the deleted one."""
    late, overwriting = PostgresStorage(postgres_url, "o"), PostgresStorage(postgres_url, "o")
    overwriting.delete_run()
    with late.exclusive():
        late.set_meta("scenario", "{}")
    assert late.run_id == overwriting.run_id and overwriting.get_meta("scenario") == "{}"
    late.close()
    overwriting.close()


def test_the_run_lock_is_taken_again_when_its_connection_breaks(postgres_url: str) -> None:
    import psycopg

    holder = PostgresStorage(postgres_url, "l")
    other = PostgresStorage(postgres_url, "l", timeout=0.3)  # (a short wait for the test)
    with holder.exclusive():
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'smacx' AND pid <> pg_backend_pid()"
            )
        holder.set_meta("k", "v")  # connects again, and takes the lock again first
        # the holder's session idles, as a process suspended while it opens the run leaves
        # it: the message names it (a chaos audit's finding)
        with (
            pytest.raises(
                StorageError,
                match=r"stayed locked by another process for 0\.3 s while it opened the run "
                r"\(held by the session of server process (\d+)( from [0-9a-f.:]+)?, idle for "
                r"\d+ s: a process suspended while it opened the run, by Ctrl-Z or as a "
                r"stopped batch job, holds the lock until it resumes or ends; "
                r"`SELECT pg_terminate_backend\(\1\)` ends that session\); stop it",
            ),
            other.exclusive(),
        ):
            pass
    with other.exclusive():  # released with the block
        assert other.get_meta("k") == "v"
    holder.close()
    other.close()


def test_the_run_locks_holder_is_the_one_in_this_database(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Advisory locks are the database's: a run of the same name in another database on the
    server, its lock held too, was named as the holder, with advice to end its session (a
    review). The holder named is the session that holds this run's lock."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    elsewhere_url = postgres_server.url.rsplit("/", 1)[0] + "/" + name
    elsewhere = PostgresStorage(elsewhere_url, "same")
    holder = PostgresStorage(postgres_url, "same")
    other = PostgresStorage(postgres_url, "same", timeout=0.3)
    try:
        with elsewhere.exclusive(), holder.exclusive():
            pid = holder._conn.info.backend_pid
            with (
                pytest.raises(StorageError, match=rf"held by the session of server process {pid}"),
                other.exclusive(),
            ):
                pass
    finally:
        for storage in (elsewhere, holder, other):
            storage.close()
        with psycopg.connect(postgres_server.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


STOPPED_IN_A_WRITE = """
import os, signal, sys
from smacx.storage import TrialRecord, owner_id
from smacx.storage.postgres import PostgresStorage
from smacx.trial import TrialKey, TrialValue
storage = PostgresStorage(sys.argv[1], "stopped", timeout=2)
cid = storage.add_config('{"x": 1}', "")
upsert = PostgresStorage._upsert
def stopped(self, *args, **kwargs):
    upsert(self, *args, **kwargs)
    PostgresStorage._upsert = upsert  # (once)
    print("stopped", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)  # within the write's transaction, holding the lock
PostgresStorage._upsert = stopped
key = TrialKey(cid, None, 1, None)
print(storage.finish_trial(TrialRecord(key, TrialValue(cost=1.0), owner_id(), 0.0)))
"""


def test_a_process_stopped_within_a_write_holds_the_others_up_for_half_its_timeout(
    postgres_url: str,
) -> None:
    """Every other process gave up after the timeout (a storage audit's finding): the server
    now ends the stopped process's transaction, and its lock with it. Resumed, that process
    connects again and writes its result (a review's finding: it failed then)."""
    storage = PostgresStorage(postgres_url, "stopped", timeout=10)
    stopped = subprocess.Popen(
        [sys.executable, "-c", STOPPED_IN_A_WRITE, postgres_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert stopped.stdout is not None and stopped.stderr is not None
        assert stopped.stdout.readline() == "stopped\n", stopped.stderr.read()
        cid = storage.add_config('{"x": 1}', "")
        key = TrialKey(cid, None, 2, None)
        assert storage.finish_trial(TrialRecord(key, TrialValue(cost=2.0), owner_id(), 0.0))
        assert [r.key.seed for r in storage.read_trials(0)] == [2]  # (the stopped one's went)
        stopped.send_signal(signal.SIGCONT)
        out, err = stopped.communicate(timeout=60)
        assert stopped.returncode == 0 and out == "True\n", err
    finally:
        stopped.kill()
        stopped.wait()
    assert sorted(r.key.seed for r in storage.read_trials(0)) == [1, 2]
    storage.close()


def test_a_user_granted_only_to_read_and_write_the_tables_opens_a_run(postgres_url: str) -> None:
    import psycopg

    PostgresStorage(postgres_url, "r").close()  # the tables, created by their owner
    role = f"worker_{postgres_url.rsplit('/', 1)[1]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        storage = PostgresStorage(postgres_url.replace("smacx@", f"{role}@"), "r")
        assert storage.add_config('{"x": 1}', "test") == 1
        storage.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_a_closed_storage_refuses_calls_rather_than_connecting_again(postgres_url: str) -> None:
    storage = PostgresStorage(postgres_url, "r")
    storage.close()
    with pytest.raises(StorageError, match="it was closed"):
        storage.read_trials(0)
    assert storage._conn.closed


def test_no_message_shows_a_password_given_in_another_form(postgres_server: PostgresServer) -> None:
    base = postgres_server.url.rsplit("/", 1)[0]
    assert redact(f"{base}/db?password=hunter2&x=1") == f"{base}/db?password=***&x=1"
    assert redact("host=h password=hunter2 dbname=d") == "host=h password=*** dbname=d"
    assert redact("host=h password = 'hun ter2'") == "host=h password = ***"
    assert redact(r"host=h password=hun\ ter2 port=1") == "host=h password=*** port=1"
    # (malformed: libpq does not see the password, and the message shows the URL)
    assert redact("postgresql://u:hun/ter2@h/db") == "postgresql://u:***@h/db"
    assert redact("postgresql://u:hun@ter2@h/db") == "postgresql://u:***@h/db"
    for url in (
        f"{base.replace('smacx@', 'smacx:hun%zzter2@')}/postgres",  # libpq quotes the token
        f"{base}/no_such_database?password=hunter2",
    ):
        with pytest.raises(StorageError) as caught:
            PostgresStorage(url, "r", timeout=5)
        assert "hun" not in str(caught.value), str(caught.value)


def test_a_database_of_encoding_sql_ascii_holds_runs_too(postgres_server: PostgresServer) -> None:
    """createdb on a cluster made without a locale gives SQL_ASCII, whose text psycopg hands
    back as bytes unless the connection asks for UTF8: every new run was called damaged."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0")
    url = postgres_server.url.rsplit("/", 1)[0] + "/" + name
    try:
        space = ConfigurationSpace({"mode": ["café", "thé"], "x": (0.0, 1.0)}, seed=0)
        sc = Scenario(space, name="ascii", n_trials=4, output_directory=None, seed=0)
        with SMAC(sc, lambda config: config["x"], storage=url, progress=False) as smac:
            smac.optimize()
        with SMAC(sc, storage=url) as again:
            assert {c["mode"] for c in again.runhistory.get_configs()} <= {"café", "thé"}
            assert again.runhistory.n_finished == 4
        assert PostgresStorage.run_names(url) == ["ascii"]
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_password_that_is_also_a_host_or_a_short_word_leaves_the_message_readable() -> None:
    """The driver's message keeps the host, port and words the password also spells: the
    docker-compose default postgres:postgres@postgres named the host '***'."""
    from smacx.storage.postgres import _scrub

    compose = "postgresql://postgres:postgres@postgres:5432/runs"
    assert _scrub("failed to resolve host 'postgres'", compose) == (
        "failed to resolve host 'postgres'"
    )
    refused = 'connection to server at "127.0.0.1", port 5432 failed: is it accepting TCP/IP'
    assert _scrub(refused, "postgresql://u:p@127.0.0.1:5432/db") == refused
    assert _scrub(refused, "postgresql://u:5432@127.0.0.1:5432/db") == refused
    # where libpq echoes the URL or its password= part, and as a word of its own, it goes
    assert _scrub("bad URI postgresql://u:p@h/db", "postgresql://u:p@h/db") == (
        "bad URI postgresql://u:***@h/db"
    )
    assert _scrub("bad: password=hunter2; hunter2.", "host=h password=hunter2") == (
        "bad: password=***; ***."
    )
    # a password whose edge is no letter or digit goes inside a word too; an "@" in the
    # query does not stretch it; runs of spaces count as one (as one_line writes them)
    dash = "postgresql://u:-hunter2@h/db?port=x-hunter2"
    assert _scrub('invalid integer value "x-hunter2"', dash) == 'invalid integer value "x***"'
    at = "postgresql://u:s3%zzcret@h/db?application_name=bob@laptop"
    assert _scrub('invalid percent-encoded token: "s3%zzcret"', at) == (
        'invalid percent-encoded token: "***"'
    )
    spaces = "postgresql://u:pass%20%20word@h/db"
    assert _scrub('invalid sslmode value: "pass word"', spaces) == 'invalid sslmode value: "***"'


def test_tables_of_a_smacx_that_recorded_no_layout_are_refused(postgres_url: str) -> None:
    """Tables made before smacx_layout existed (no n_trials column) are not stamped with this
    layout on opening: they are refused, and left as they were."""
    import psycopg

    PostgresStorage(postgres_url, "r").close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE smacx_layout")
        conn.execute("ALTER TABLE smacx_runs DROP COLUMN n_trials")
    with pytest.raises(StorageError, match="layout 0, and this smacx reads layout 1"):
        PostgresStorage(postgres_url, "r", timeout=5)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('smacx_layout')").fetchone() == (None,)


def test_tables_of_this_layout_that_recorded_none_are_read_and_stamped(postgres_url: str) -> None:
    """The smacx just before smacx_layout existed made tables with this layout's columns: its
    runs are read (also without writing) and the tables stamped on the first open that may
    write, instead of refused with no way to read the finished trials (an upgrade audit's
    finding)."""
    import psycopg

    storage = PostgresStorage(postgres_url, "r")
    storage.set_meta("scenario", "{}")
    storage.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE smacx_layout")
    reader = PostgresStorage(postgres_url, "r", timeout=5, create=False)
    assert reader.get_meta("scenario") == "{}"
    reader.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('smacx_layout')").fetchone() == (None,)
    PostgresStorage(postgres_url, "r", timeout=5).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM smacx_layout").fetchall() == [(1,)]


def test_reading_a_run_checks_the_layout_too(postgres_url: str) -> None:
    import psycopg

    PostgresStorage(postgres_url, "r").close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE smacx_layout SET version = 99")
    with pytest.raises(StorageError, match="layout 99, and this smacx reads layout 1"):
        PostgresStorage(postgres_url, "r", timeout=5, create=False)


def test_a_failed_connection_chains_no_error_that_shows_the_password(
    postgres_server: PostgresServer,
) -> None:
    import traceback

    base = postgres_server.url.rsplit("/", 1)[0]
    with pytest.raises(StorageError) as caught:
        PostgresStorage(f"{base.replace('smacx@', 'smacx:hun%zzter2@')}/postgres", "r", timeout=5)
    lines = "".join(traceback.format_exception(caught.value)).splitlines()
    assert not [line for line in lines if "hun" in line and not line.startswith(" ")]


@pytest.mark.parametrize("skew", [-1000.0, 1000.0])
def test_leases_are_kept_on_the_servers_clock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    skew: float,
) -> None:  # fmt: skip
    """A machine whose clock is 1,000 s ahead took over the trials that others ran within
    their 300 s lease (and one 1,000 s behind never took over a trial whose lease had run
    out), since each compared the lease with its own clock."""
    from smacx import RunHistory, TrialInfo

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    writer = RunHistory(space, storage=PostgresStorage(postgres_url, "clock"))
    config = space.sample_configuration()
    live, lapsed = (TrialInfo(config, seed=s) for s in (1, 2))
    server = writer.now()
    assert abs(server - time.time()) < 5  # (the test's server runs on this machine)
    for info, lease_until in ((live, server + 300), (lapsed, server - 1)):
        # as by a process on another machine whose clock is right
        record = TrialRecord(writer.key_of(info), TrialValue(status=StatusType.RUNNING),
                             "elsewhere:1:0:ab", lease_until)  # fmt: skip
        assert writer.storage.claim_trial(record, server)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + skew)  # this machine's clock is off
    with caplog.at_level("WARNING", logger="smacx"):
        skewed = RunHistory(
            space, storage=PostgresStorage(postgres_url, "clock"), lease_seconds=300
        )
    word = "ahead of" if skew > 0 else "behind"
    assert f"clock is 1000 s {word} the clock of the PostgreSQL server" in caplog.text
    assert abs(skewed.now() - real()) < 5
    assert skewed.n_stale() == 1
    taken = skewed.take_over_stale()
    assert taken is not None and taken.seed == lapsed.seed
    assert skewed.take_over_stale() is None  # the live one stays with its owner
    skewed.storage.close()
    writer.storage.close()


def test_the_servers_clock_holds_when_this_machines_clock_is_set_right(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine's clock set right mid-run (by NTP, as the warning advises) moved the
    server's time as this machine saw it by as much, until the next connection: its lease
    renewals looked expired to the others. The time since it was read is counted on the
    monotonic clock, and it is read again with every renewal of the leases."""
    storage = PostgresStorage(postgres_url, "clock-step")
    before = storage.now()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 1000)  # stepped back 1,000 s
    assert abs(storage.now() - before) < 5
    storage.renew_leases(owner_id(), storage.now() + 300, storage.now())  # reads it again
    assert abs(storage.now() - real()) < 5
    storage.close()


def test_walltime_of_sessions_on_machines_whose_clocks_differ_counts_once(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`walltime_limit` adds up the sessions' time on the server's clock: a session on a
    machine 60 s behind saw another's 2 s as lying in its future, and counted none of it."""
    from smacx.session import SESSIONS, Spent

    storage = PostgresStorage(postgres_url, "walltime")
    storage.set_meta(SESSIONS, json.dumps(["a", "b"]))
    first = Spent(storage, "a")
    first.start()
    time.sleep(2.0)
    first.stop()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 60)
    behind = PostgresStorage(postgres_url, "walltime")  # this machine's clock: 60 s behind
    second = Spent(behind, "b")
    second.start()
    assert 2.0 <= second.wall() < 3.0
    second.stop()
    storage.close()
    behind.close()


def test_the_shared_workers_example_shares_its_run_in_postgres(
    postgres_url: str, tmp_path: Path
) -> None:
    """examples/shared_workers.py with a URL, as its docstring says to run it across machines:
    its processes finish the run's 90 trials together (a process that starts late on a loaded
    machine may find them all taken)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "shared_workers.py"), postgres_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("90 trials, by processes {"), done.stdout
    counts = [int(n) for n in re.findall(r"\d+: (\d+)", first)]  # trials per process id
    assert 2 <= len(counts) <= 3 and sum(counts) == 90 and min(counts) > 0
    assert "best: x=(" in done.stdout
