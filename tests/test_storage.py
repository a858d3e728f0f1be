"""One contract, run against every storage."""

from __future__ import annotations

import contextlib
import gc
import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smacx import StatusType, StorageError, TrialKey, TrialValue
from smacx.storage import (
    Storage,
    TrialRecord,
    is_local,
    open_storage,
    owner_id,
    owner_is_alive,
)
from smacx.storage.memory import MemoryStorage
from smacx.storage.postgres import PostgresStorage
from smacx.storage.sqlite import SQLiteStorage


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    s: Storage
    if request.param == "memory":
        s = MemoryStorage()
    elif request.param == "sqlite":
        s = SQLiteStorage(tmp_path / "x.db")
    else:
        s = PostgresStorage(request.getfixturevalue("postgres_url"), "contract")
    yield s
    s.close()


def running(key: TrialKey, owner: str | None = None, lease: float = math.inf) -> TrialRecord:
    return TrialRecord(key, TrialValue(status=StatusType.RUNNING), owner or owner_id(), lease)


def done(key: TrialKey, cost: float = 1.0) -> TrialRecord:
    return TrialRecord(key, TrialValue(cost=cost, additional_info={"a": [1, 2]}), owner_id(), 0.0)


def dead_owner() -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = owner_id().split(":")[0]
    return f"{host}:{proc.stdout.strip()}:0.000:dead"


def test_meta_is_set_once(storage: Storage) -> None:
    assert storage.get_meta("k") is None
    assert storage.set_meta_if_absent("k", "v1") == "v1"
    assert storage.set_meta_if_absent("k", "v2") == "v1"
    assert storage.get_meta("k") == "v1"


def test_config_ids_are_stable_and_increasing(storage: Storage) -> None:
    a = storage.add_config('{"x": 1}', "sobol")
    b = storage.add_config('{"x": 2}', "random")
    assert storage.add_config('{"x": 1}', "other") == a
    assert b > a
    assert [r.config_id for r in storage.read_configs(0)] == [a, b]
    assert [r.origin for r in storage.read_configs(a)] == ["random"]


def test_claim_is_exclusive_and_finish_happens_once(storage: Storage) -> None:
    cid = storage.add_config("{}", "")
    key = TrialKey(cid, None, 3, None)
    assert storage.claim_trial(running(key), now=0.0)
    assert not storage.claim_trial(running(key), now=0.0)
    assert storage.finish_trial(done(key, 2.0))
    assert not storage.finish_trial(done(key, 9.0))
    assert not storage.claim_trial(running(key), now=0.0)
    [rec] = storage.read_trials(0)
    assert rec.value.cost == 2.0 and rec.value.status is StatusType.SUCCESS
    assert rec.value.additional_info == {"a": [1, 2]}


def test_versions_let_readers_see_only_changes(storage: Storage) -> None:
    cid = storage.add_config("{}", "")
    k1, k2 = TrialKey(cid, "i1", 0, 1.0), TrialKey(cid, "i2", 0, 1.0)
    storage.claim_trial(running(k1), 0.0)
    storage.claim_trial(running(k2), 0.0)
    first = storage.read_trials(0)
    assert [r.key for r in first] == [k1, k2]
    storage.finish_trial(done(k1))
    changed = storage.read_trials(first[-1].version)
    assert [(r.key, r.value.status) for r in changed] == [(k1, StatusType.SUCCESS)]


def test_stale_running_trial_can_be_taken_over(storage: Storage) -> None:
    cid = storage.add_config("{}", "")
    by_dead, by_expired = TrialKey(cid, None, 1, None), TrialKey(cid, None, 2, None)
    storage.claim_trial(running(by_dead, owner=dead_owner()), 0.0)
    storage.claim_trial(running(by_expired, owner="otherhost:1:0.000:x", lease=10.0), 0.0)
    assert storage.claim_trial(running(by_dead), now=5.0)
    assert not storage.claim_trial(running(by_expired), now=5.0)
    assert storage.claim_trial(running(by_expired), now=11.0)


def test_a_live_process_here_keeps_its_trial_when_its_lease_runs_out(storage: Storage) -> None:
    """A process on this host is checked, not trusted to renew: one whose lease thread was
    starved (a C call holding the GIL) or that was suspended still runs its trial."""
    cid = storage.add_config("{}", "")
    key = TrialKey(cid, None, 1, None)
    storage.claim_trial(running(key, lease=10.0), 0.0)  # this process: alive
    assert not storage.claim_trial(running(key, owner="otherhost:1:0.000:x"), now=1e9)


def test_a_process_in_another_pid_namespace_counts_as_another_host() -> None:
    """Containers sharing the host's name but not its process ids cannot check each other's
    processes: such an owner is alive until its lease runs out."""
    parts = owner_id().split(":")
    assert parts[0].startswith(socket.gethostname().replace(":", "_"))
    elsewhere = ":".join([parts[0].split("+pidns")[0] + "+pidns1", *parts[1:]])
    if sys.platform.startswith("linux"):
        assert "+pidns" in parts[0]
        assert not is_local(elsewhere) and owner_is_alive(elsewhere)
    assert is_local(owner_id())
    if "+m" in parts[0]:  # another machine of the same name (cloned from one image)
        twin = ":".join([parts[0].split("+m")[0] + "+m000000000000", *parts[1:]])
        assert not is_local(twin) and owner_is_alive(twin)
    if "+m" in parts[0]:  # an id written before smacx recorded the machine: this process
        older = ":".join([parts[0].rsplit("+m", 1)[0], *parts[1:]])
        assert is_local(older) and owner_is_alive(older)
        dead = ":".join([parts[0].rsplit("+m", 1)[0], "999999999", *parts[2:]])
        assert is_local(dead) and not owner_is_alive(dead)
    # an id written before smacx recorded the namespace: this host, as it counted then
    assert is_local(":".join([socket.gethostname().replace(":", "_"), *parts[1:]]))


def test_released_trial_can_be_claimed_again_by_anyone(storage: Storage) -> None:
    cid = storage.add_config('{"x": 1}', "")
    key, other = TrialKey(cid, None, 1, None), TrialKey(cid, None, 2, None)
    storage.claim_trial(running(key), 0.0)
    assert not storage.claim_trial(running(key), now=1.0)  # alive, no lease end
    assert not storage.release_trial(key, "someone else")  # only its owner releases it
    assert not storage.release_trial(other, owner_id())  # no such row
    before = max(r.version for r in storage.read_trials(0))
    assert storage.release_trial(key, owner_id())
    (changed,) = storage.read_trials(before)  # other processes see the release on sync
    assert changed.key == key and changed.lease_until == 0.0
    assert changed.value.status is StatusType.RUNNING
    assert storage.claim_trial(running(key), now=1.0)
    storage.finish_trial(done(key))
    assert not storage.release_trial(key, owner_id())  # finished rows stay finished


def test_a_claim_under_max_trials_counts_in_its_own_transaction(storage: Storage) -> None:
    cid = storage.add_config('{"x": 1}', "")
    a, b, c = (TrialKey(cid, None, s, None) for s in range(3))
    assert storage.claim_trial(running(a), 0.0, max_trials=2)
    storage.finish_trial(done(a))
    assert storage.claim_trial(running(b, owner=dead_owner()), 0.0, max_trials=2)
    assert not storage.claim_trial(running(c), 0.0, max_trials=2)  # finished and running count
    assert storage.claim_trial(running(b), 1.0, max_trials=2)  # a takeover is no new trial
    assert storage.claim_trial(running(c), 0.0, max_trials=3)
    assert storage.claim_trial(running(TrialKey(cid, None, 9, None)), 0.0)  # no cap given


def test_a_result_written_without_a_claim_counts_towards_max_trials(storage: Storage) -> None:
    first, second = (TrialKey(storage.add_config(f'{{"x": {i}}}', "")) for i in range(2))
    assert storage.finish_trial(done(first))  # (a result told for a trial never asked)
    assert not storage.claim_trial(running(second), 0.0, max_trials=1)
    assert storage.claim_trial(running(second), 0.0, max_trials=2)


def test_renewing_extends_only_the_owners_unreleased_leases(storage: Storage) -> None:
    """Also one that ran out (the database was unreachable for a while) and that no other
    process has taken over: left so, the trial went to another host while it still ran."""
    me, other = "hosta:1:0.000:x", "hostb:1:0.000:x"  # (processes on other machines)
    cid = storage.add_config('{"x": 1}', "")
    mine, released, expired, theirs, finished = (TrialKey(cid, None, s, None) for s in range(5))
    for key in (mine, released, finished):
        storage.claim_trial(running(key, owner=me, lease=10.0), 0.0)
    storage.claim_trial(running(expired, owner=me, lease=3.0), 0.0)
    storage.claim_trial(running(theirs, owner=other, lease=10.0), 0.0)
    storage.release_trial(released, me)
    storage.finish_trial(done(finished))
    before = max(r.version for r in storage.read_trials(0))
    assert storage.renew_leases(me, 25.0, now=5.0) == 2
    changed = storage.read_trials(before)  # other processes see the new leases on sync
    assert {r.key: r.lease_until for r in changed} == {mine: 25.0, expired: 25.0}
    for key in (mine, expired):  # renewed: still their owner's
        assert not storage.claim_trial(running(key, owner=other, lease=50.0), now=20.0)
    # taken over once its lease ran out: renewing leaves it to its new owner
    assert storage.claim_trial(running(mine, owner=other, lease=50.0), now=30.0)
    assert storage.renew_leases(me, 55.0, now=30.0) == 1
    assert {r.key: r.owner for r in storage.read_trials(0) if r.key in (mine, expired)} == {
        mine: other,
        expired: me,
    }


def test_keys_with_none_and_floats_round_trip(storage: Storage) -> None:
    cid = storage.add_config("{}", "")
    keys = [
        TrialKey(cid, None, None, None),
        TrialKey(cid, "inst", 7, 0.5),
        TrialKey(cid, "", 0, 3.0),
    ]
    for key in keys:
        storage.finish_trial(done(key))
    assert {r.key for r in storage.read_trials(0)} == set(keys)


def test_multi_objective_costs_round_trip(storage: Storage) -> None:
    cid = storage.add_config("{}", "")
    key = TrialKey(cid)
    storage.finish_trial(TrialRecord(key, TrialValue(cost=[1.0, math.inf]), "", 0.0))
    assert storage.read_trials(0)[0].value.cost == [1.0, math.inf]


def test_unknown_times_round_trip(storage: Storage) -> None:
    """A trial that hit its time limit has no CPU time (NaN), which SQLite would store as NULL."""
    cid = storage.add_config("{}", "")
    value = TrialValue(cost=math.inf, time=1.0, cpu_time=math.nan, status=StatusType.TIMEOUT)
    storage.finish_trial(TrialRecord(TrialKey(cid), value, "", 0.0))
    stored = storage.read_trials(0)[0].value
    assert stored.status is StatusType.TIMEOUT and stored.time == 1.0
    assert math.isnan(stored.cpu_time) and stored.cost == math.inf


def test_append_meta_builds_a_json_list(storage: Storage) -> None:
    storage.append_meta("log", '{"a": 1}')
    storage.append_meta("log", "[2]")
    assert json.loads(storage.get_meta("log") or "") == [{"a": 1}, [2]]


def test_remove_meta_item_drops_it_from_the_json_list(storage: Storage) -> None:
    for item in ("a", "b", "a", "c"):
        storage.append_meta("log", json.dumps(item))
    assert storage.remove_meta_item("log", json.dumps("a"))
    assert json.loads(storage.get_meta("log") or "") == ["b", "c"]
    assert not storage.remove_meta_item("log", json.dumps("a"))
    assert not storage.remove_meta_item("nothing", json.dumps("a"))
    assert storage.get_meta("nothing") is None


def test_append_meta_in_order_drops_an_item_that_comes_before_the_last(storage: Storage) -> None:
    """A process whose view of a shared run is older appends an incumbent seen after fewer
    (or as many) finished trials than the last stored one: the trajectory keeps its order
    without it."""
    appended = [
        storage.append_meta("t", json.dumps({"n": n, "cost": c}), order_by="n")
        for n, c in ((3, 0.9), (15, 0.7), (14, 0.78), (15, 0.69), (20, 0.5))
    ]
    assert appended == [True, True, False, False, True]
    assert [item["n"] for item in json.loads(storage.get_meta("t") or "")] == [3, 15, 20]


def test_owner_liveness() -> None:
    assert owner_is_alive(owner_id())
    assert not owner_is_alive(dead_owner())
    assert owner_is_alive("another-host:1:0:x")
    host, pid, started, tag = owner_id().split(":")
    # Jitter in the start time psutil reports is tolerated; a reused pid (a later start) is not.
    assert owner_is_alive(f"{host}:{pid}:{float(started) + 0.01:.3f}:{tag}")
    assert not owner_is_alive(f"{host}:{pid}:{float(started) + 10:.3f}:{tag}")


def test_a_closed_sqlite_storage_says_it_is_closed(tmp_path: Path) -> None:
    """Not that the database is damaged, as sqlite3's error on a closed connection read."""
    storage = SQLiteStorage(tmp_path / "h.db")
    storage.close()
    with pytest.raises(StorageError, match=r"is closed \(by close\(\)") as read:
        storage.read_trials(0)
    assert "damaged" not in str(read.value)
    with pytest.raises(StorageError, match="cannot write to it: the run history of .* is closed"):
        storage.set_meta("k", "v")


def test_two_sqlite_handles_share_one_file(tmp_path: Path) -> None:
    a, b = SQLiteStorage(tmp_path / "s.db"), SQLiteStorage(tmp_path / "s.db")
    cid = a.add_config("{}", "")
    key = TrialKey(cid)
    assert a.claim_trial(running(key), 0.0)
    assert not b.claim_trial(running(key), 0.0)
    a.finish_trial(done(key))
    assert b.read_trials(0)[0].value.status is StatusType.SUCCESS


def test_open_storage_urls(tmp_path: Path) -> None:
    assert isinstance(open_storage(None), MemoryStorage)
    assert isinstance(open_storage(f"sqlite:///{tmp_path}/a.db"), SQLiteStorage)
    assert isinstance(open_storage(tmp_path / "b.db"), SQLiteStorage)
    with pytest.raises(StorageError, match="not supported"):
        open_storage("redis://localhost")
    # (raw TypeErrors from deep inside, or accepted, until a fuzzing audit's finding)
    with pytest.raises(StorageError, match="url must be a path, a URL .* got int 5"):
        open_storage(5)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="path must be a file path; got NoneType"):
        SQLiteStorage(None)  # type: ignore[arg-type]
    for timeout in ("x", -1, math.nan):
        with pytest.raises(StorageError, match="timeout must be a number of seconds > 0"):
            SQLiteStorage(tmp_path / "c.db", timeout=timeout)  # type: ignore[arg-type]


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(StorageError, match="no smacx run history"):
        SQLiteStorage(path)
    with sqlite3.connect(path) as conn:  # left as it was
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["users"]


def test_a_write_lock_held_too_long_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import smacx.storage.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "RESULT_PATIENCE", 0.5)
    storage = SQLiteStorage(tmp_path / "x.db", timeout=0.2)
    cid = storage.add_config('{"x": 1}', "")
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match=r"locked.*timeout=0.2 s"):
            storage.set_meta("note", "1")
        # a result in hand waits RESULT_PATIENCE (here 0.5 s) before it gives up, and so
        # does a configuration, which a result told from elsewhere stores first
        patient = r"locked for longer than 0.5 s \(the wait for a trial's result; timeout=0.2 s\)"
        with pytest.raises(StorageError, match=patient):
            storage.finish_trial(done(TrialKey(cid, None, 1, None)))
        with pytest.raises(StorageError, match=patient):
            storage.add_config('{"x": 2}', "")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert storage.finish_trial(done(TrialKey(cid, None, 1, None)))  # usable afterwards
    storage.close()


def test_a_result_waits_for_a_lock_held_past_the_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that held the lock for 75 s, past the 60 s timeout, ended every worker in
    finish_trial, and the results they held were lost (a shared-run audit's finding): a
    result waits for RESULT_PATIENCE, with a warning, as on PostgreSQL."""
    import sqlite3
    import threading

    storage = SQLiteStorage(tmp_path / "x.db", timeout=0.2)
    cid = storage.add_config('{"x": 1}', "")
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releases = threading.Timer(1.0, lambda: other.execute("ROLLBACK"))
    releases.start()
    try:
        with caplog.at_level("WARNING", logger="smacx"):
            assert storage.finish_trial(done(TrialKey(cid, None, 1, None)))
    finally:
        releases.join()
        other.close()
    assert "locked by another process for 0.2 s; a trial's result waits" in caplog.text
    assert [r.value.status for r in storage.read_trials(0)] == [StatusType.SUCCESS]
    storage.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_writing_to_a_database_deleted_or_replaced_under_it_is_a_storage_error(
    tmp_path: Path, how: str
) -> None:
    """Workers went on writing into a deleted file, reported success, and lost every later
    result (a storage audit's finding: rm, or overwrite=True from another container)."""
    path = tmp_path / "x.db"
    storage = SQLiteStorage(path)
    cid = storage.add_config('{"x": 1}', "")
    assert storage.finish_trial(done(TrialKey(cid, None, 1, None)))
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink()
    if how == "replaced":
        SQLiteStorage(path).close()  # a fresh run in its place
    with pytest.raises(StorageError, match=r"x.db' was deleted, moved or replaced while this"):
        storage.finish_trial(done(TrialKey(cid, None, 2, None)))
    storage.close()


def test_a_database_opened_by_a_relative_path_stays_writable_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = SQLiteStorage("run/x.db")
    monkeypatch.chdir(tmp_path.parent)  # (a target may change the working directory)
    assert storage.add_config('{"x": 1}', "") == 1
    storage.close()


def test_unreadable_database_raises_storage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="bad.db.*folder is writable"):
        SQLiteStorage(bad)
    with pytest.raises(StorageError, match="names a smacx SQLite database"):  # smacx show
        SQLiteStorage(bad, read_only=True)
    folder = tmp_path / "runhistory.db"
    folder.mkdir()
    with pytest.raises(StorageError, match="runhistory.db': it is a directory, not a file"):
        SQLiteStorage(folder)


@pytest.mark.parametrize(
    ("damage", "what", "problem"),
    [
        ("ALTER TABLE trials DROP COLUMN cpu_time", "the trials", "no such column: cpu_time"),
        ("UPDATE trials SET cost = 'x{'", "the trials", "JSONDecodeError"),
        ("UPDATE trials SET status = 42", "the trials", "42 is not a valid StatusType"),
        ("UPDATE meta SET value = 'x{' WHERE key = 'sessions'", "the run's 'sessions'", "JSON"),
    ],
)
def test_a_damaged_database_or_another_layout_is_a_storage_error_naming_the_file(
    tmp_path: Path, damage: str, what: str, problem: str
) -> None:
    """Not an sqlite3, JSON or enum error from deep inside: what, which file, what to do."""
    import sqlite3

    path = tmp_path / "run.db"
    storage = SQLiteStorage(path)
    storage.finish_trial(done(TrialKey(storage.add_config("{}", "test"), None, 0, None)))
    storage.append_meta("sessions", json.dumps("a"))
    storage.close()
    with sqlite3.connect(path) as conn:
        conn.execute(damage)
    conn.close()
    storage = SQLiteStorage(path)
    try:
        with pytest.raises(
            StorageError, match=f"cannot read {what}.*run.db' .*{problem}.*integrity_check"
        ):
            storage.read_trials(0)
            storage.append_meta("sessions", json.dumps("b"))
    finally:
        storage.close()


def _open_and_report(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SQLiteStorage(path).close()
        results.put("ok")
    except StorageError as err:
        results.put(str(err))


def test_processes_creating_one_database_at_once_all_open_it(tmp_path: Path) -> None:
    """Workers started together on a new run each open the file its first one creates: none
    sees a half-built schema or gives up on a lock at once."""
    ctx = multiprocessing.get_context("fork")
    outcomes: list[str] = []
    for round_ in range(12):
        barrier, results = ctx.Barrier(3), ctx.Queue()
        path = str(tmp_path / f"r{round_}" / "runhistory.db")
        procs = [
            ctx.Process(target=_open_and_report, args=(path, barrier, results)) for _ in range(3)
        ]
        for proc in procs:
            proc.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join()
    assert outcomes == ["ok"] * 36, [o for o in outcomes if o != "ok"]


def test_read_only_open_works_in_a_folder_nobody_may_write(tmp_path: Path) -> None:
    """``smacx show`` on another user's or an archived run: SQLite cannot create the WAL's
    shared-memory file there, and the history is read all the same."""
    folder = tmp_path / "run"
    storage = SQLiteStorage(folder / "runhistory.db")
    cid = storage.add_config('{"x": 1}', "")
    storage.finish_trial(done(TrialKey(cid, None, 1, None), cost=3.0))
    storage.close()
    folder.chmod(0o555)
    locked_by = "chmod"
    if os.access(folder, os.W_OK):  # root ignores modes; an immutable folder stops it too
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            folder.chmod(0o755)
            pytest.skip("cannot make a folder unwritable for this user here")
        locked_by = "chattr"
    try:
        reader = SQLiteStorage(folder / "runhistory.db", read_only=True)
        [record] = reader.read_trials(0)
        assert record.value.cost == 3.0
        reader.close()
    finally:
        if locked_by == "chattr":
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_read_only_open_of_an_unwritable_copy_with_a_write_ahead_log_says_so(
    tmp_path: Path,
) -> None:
    """A run copied while a process wrote it keeps results in its -wal file, which an
    immutable read would miss: refused, with what to do."""
    import shutil

    live = SQLiteStorage(tmp_path / "live" / "runhistory.db")
    cid = live.add_config('{"x": 1}', "")
    live.finish_trial(done(TrialKey(cid, None, 1, None)))
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("runhistory.db", "runhistory.db-wal"):
        shutil.copy(tmp_path / "live" / name, folder / name)
    live.close()
    assert (folder / "runhistory.db-wal").stat().st_size > 0
    folder.chmod(0o555)
    chattr = os.access(folder, os.W_OK)
    if chattr and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        folder.chmod(0o755)
        pytest.skip("cannot make a folder unwritable for this user here")
    try:
        with pytest.raises(StorageError, match="write-ahead log.*copy the run to a writable"):
            SQLiteStorage(folder / "runhistory.db", read_only=True)
    finally:
        if chattr:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_numpy_values_in_additional_info_are_stored_as_numbers() -> None:
    import numpy as np

    from smacx.storage import decode_value, encode_value

    info = {"acc": np.float32(0.5), "n": np.int64(3), "curve": np.arange(3), "obj": object}
    back = decode_value(encode_value(TrialValue(cost=1.0, additional_info=info)))
    assert back.additional_info["acc"] == 0.5 and back.additional_info["n"] == 3
    assert back.additional_info["curve"] == [0, 1, 2]
    assert back.additional_info["obj"] == repr(object)  # what JSON cannot hold: its repr


def _open_files(path: Path) -> list[str]:
    """Targets of this process's file descriptors that name ``path`` or its WAL files."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(path)):
                found.append(target)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("read_only", [False, True])
def test_a_sqlite_storage_dropped_unclosed_closes_its_database_at_once(
    tmp_path: Path, read_only: bool
) -> None:
    """A storage that is dropped without close() (a SMAC object left for the collector, as
    in a notebook that builds one per cell) closes its database then, not at the next full
    collection: an sqlite3 connection sits in a reference cycle of its own, and kept the
    database, its WAL and its shared-memory file open meanwhile (3 descriptors per run)."""
    path = tmp_path / "x.db"
    SQLiteStorage(path).close()
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        s = SQLiteStorage(path, read_only=read_only)
        s.get_meta("scenario")
        assert _open_files(path)
        del s
        assert _open_files(path) == []
    finally:
        if enabled:
            gc.enable()


def _fill(storage: SQLiteStorage, pages: int | None = None) -> None:
    """Make the database's disk full for its connection (SQLite's max_page_count): writes
    that need a page more fail as on a full disk, with SQLITE_FULL."""
    with storage._lock:
        if pages is None:
            pages = storage._conn.execute("PRAGMA page_count").fetchone()[0]
        storage._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_result_waits_for_space_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A result that came when the disk was full was lost at once: the run stopped, and the
    trial had to run again (a hostile-filesystem audit)."""
    import threading

    import smacx.storage.sqlite as sqlite_storage

    monkeypatch.setattr(sqlite_storage, "FULL_DISK_RETRY", 0.05)
    storage = SQLiteStorage(tmp_path / "x.db")
    key = TrialKey(storage.add_config('{"x": 1}', "test"), None, 0, None)
    assert storage.claim_trial(running(key), 0.0)
    _fill(storage)
    result = TrialValue(cost=42.0, additional_info={"log": "x" * 20_000})
    freed = threading.Timer(0.5, _fill, (storage, 1_000_000))
    freed.start()
    assert storage.finish_trial(TrialRecord(key, result, owner_id(), 0.0))
    freed.join()
    assert "is full: a trial's result (SUCCESS, cost 42.0) waits for space" in caplog.text
    assert [r.value.cost for r in storage.read_trials(0)] == [42.0]
    storage.close()


def test_a_result_the_full_disk_never_takes_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ConfigSpace import ConfigurationSpace

    import smacx.storage.sqlite as sqlite_storage
    from smacx import RunHistory, TrialInfo

    monkeypatch.setattr(sqlite_storage, "FULL_DISK_RETRY", 0.05)
    monkeypatch.setattr(sqlite_storage, "RESULT_PATIENCE", 0.2)
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    storage = SQLiteStorage(tmp_path / "x.db", timeout=0.1)
    history = RunHistory(space, storage=storage)
    info = TrialInfo(space.sample_configuration(), seed=0)
    history.add_running(info)
    _fill(storage)
    with pytest.raises(StorageError, match=r"SUCCESS with cost 42.0, was not stored: the "):
        history.add(info, TrialValue(cost=42.0, additional_info={"log": "x" * 20_000}))
    storage.close()


def test_an_interrupt_just_after_begin_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A notebook's interrupt that came right after BEGIN IMMEDIATE left the transaction open:
    the next SMAC of the run, in the same notebook, waited 60 s for the lock and was told
    another process held it (an audit). The interrupt is raised there by a tracer."""
    storage = SQLiteStorage(tmp_path / "x.db")
    code = SQLiteStorage._transaction.__wrapped__.__code__  # type: ignore[attr-defined]
    interrupted: list[bool] = []

    def in_transaction(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and storage._conn.in_transaction and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return in_transaction

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return in_transaction if frame.f_code is code else None

    sys.settrace(tracer)
    try:
        with pytest.raises(KeyboardInterrupt):
            storage.add_config('{"x": 1}', "test")
    finally:
        sys.settrace(None)
    assert interrupted and not storage._conn.in_transaction
    other = SQLiteStorage(tmp_path / "x.db", timeout=0.5)
    assert other.add_config('{"x": 2}', "test") >= 1
    other.close()
    storage.close()


def test_a_run_closed_while_another_process_reads_it_is_all_in_its_file(tmp_path: Path) -> None:
    """SQLite copies the WAL into the database file when the last connection closes; with a
    reader still open (``smacx show`` polling), a copy of runhistory.db made after the run
    held 326 of its 400 trials (an audit's finding). The writer copies it when it closes."""
    import shutil

    from ConfigSpace import ConfigurationSpace

    from smacx import SMAC, Scenario

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    scenario = Scenario(space, n_trials=60, deterministic=True, output_directory=tmp_path)
    smac = SMAC(scenario, lambda config: float(config["x"]), preset="random", progress=False)
    assert scenario.output_path is not None
    database = scenario.output_path / "runhistory.db"
    reader = SQLiteStorage(database, read_only=True)
    reader.read_trials(0)
    smac.optimize()
    smac.close()
    copy = tmp_path / "copy" / "runhistory.db"
    copy.parent.mkdir()
    shutil.copy(database, copy)  # (the database file alone, without its -wal)
    reader.close()
    copied = SQLiteStorage(copy, read_only=True)
    assert len(copied.read_trials(0)) == 60
    copied.close()


def test_owner_ids_hold_a_hash_of_the_machines_id_not_the_id() -> None:
    """The first 12 digits of /etc/machine-id, which machine-id(5) asks to keep confidential,
    were stored in every run (a security audit's finding); an owner id written so still
    names a process of this machine."""
    from smacx.storage import is_local, owner_id

    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id"):
        with contextlib.suppress(OSError):
            machine = Path(path).read_text().strip().replace("-", "")
            if machine:
                break
    else:
        pytest.skip("no machine id here")
    mine = owner_id()
    assert machine[:12] not in mine and is_local(mine)
    host, rest = mine.split(":", 1)
    written_before = f"{host.rsplit('+m', 1)[0]}+m{machine[:12]}:{rest}"
    assert is_local(written_before)
