"""Storage in a SQLite file: the embedded default, safe for several processes on one machine.

The database runs in WAL mode and every event is one short ``BEGIN IMMEDIATE`` transaction, so a
result is on disk the moment ``finish_trial`` returns: killing the process (even with SIGKILL) loses
no finished trial. ``synchronous=NORMAL`` keeps commits fast; it guards against process crashes, not
against the machine losing power mid-commit.

SQLite's locking needs a local file system: processes sharing one file must run on one machine
(a network file system such as NFS does not give them safe locks).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from smacx.errors import StorageError, one_line
from smacx.storage import (
    FULL_DISK_RETRY,
    RESULT_PATIENCE,
    ConfigRecord,
    TrialRecord,
    check_timeout,
    comes_after,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
    held_locked,
    lease_abandoned,
)
from smacx.trial import StatusType, TrialKey

logger = logging.getLogger("smacx")

__all__ = ["SQLiteStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configs (
    config_id INTEGER PRIMARY KEY,
    config TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    config_id INTEGER NOT NULL REFERENCES configs (config_id),
    instance TEXT NOT NULL,
    seed TEXT NOT NULL,
    budget TEXT NOT NULL,
    status INTEGER NOT NULL,
    cost TEXT NOT NULL,
    time REAL NOT NULL,
    cpu_time REAL NOT NULL,
    starttime REAL NOT NULL,
    endtime REAL NOT NULL,
    additional_info TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until REAL NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (config_id, instance, seed, budget)
);
CREATE INDEX IF NOT EXISTS trials_by_version ON trials (version);
"""

_TRIAL_COLUMNS = (
    "config_id, instance, seed, budget, status, cost, time, cpu_time, starttime, endtime, "
    "additional_info, owner, lease_until, version"
)


def _file_id(path: Path) -> tuple[int, int] | None:
    """The device and inode of the file at ``path`` (None: there is none), which tell a file
    from one put in its place."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class SQLiteStorage:
    """A :class:`~smacx.storage.Storage` in one SQLite file.

    Args:
        path: The database file; its folder is created if missing.
        timeout: Seconds to wait for another process's write lock before failing.
        read_only: Open an existing smacx database without writing to it (no schema, no
            change of journal mode); writes then fail.

    Raises:
        StorageError: The file cannot be created or is not a smacx database.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0, read_only: bool = False) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise StorageError(
                f"SQLiteStorage's path must be a file path; got {type(path).__name__} "
                f"{path!r:.100}."
            )
        check_timeout("SQLiteStorage", timeout)
        self.path = Path(path)
        self._timeout = timeout
        self._file: tuple[int, int] | None = None  # (see below)
        try:
            if read_only:
                self._conn = self._open_read_only()
                tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
                if not {"meta", "configs", "trials"} <= tables:
                    self._conn.close()
                    problem = "it holds no smacx run history"
                    wal = self.path.with_name(self.path.name + "-wal")
                    if not (wal.exists() and wal.stat().st_size):  # (opening makes an empty one)
                        problem += (
                            f" (if it is a copy of a run's database, copy {wal.name} too: a run "
                            "that was open or killed keeps its latest writes there)"
                        )
                    raise sqlite3.DatabaseError(problem)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(
                    self.path, timeout=timeout, isolation_level=None, check_same_thread=False
                )
                try:
                    self._create_schema()
                except BaseException:
                    self._conn.close()
                    raise
            self._conn.row_factory = sqlite3.Row
        except (sqlite3.Error, OSError) as err:
            if self.path.is_dir():
                raise StorageError(
                    f"cannot open the run-history database {str(self.path)!r}: it is a "
                    "directory, not a file. Move it away, or give the scenario another name or "
                    "output_directory."
                ) from err
            check = (
                "Check that the path names a smacx SQLite database (a run's runhistory.db)."
                if read_only
                else "Check that the folder is writable and the file is a smacx SQLite database."
            )
            raise StorageError(
                f"cannot open the run-history database {str(self.path)!r}: {err}. {check}"
            ) from err
        # The file opened: one deleted or replaced under this process (overwrite=True of a
        # process the check for live ones cannot see, in another container; rm) took every
        # later result with it, without a word.
        # (by its absolute path: a target may change the working directory)
        self._where = self.path.absolute()
        self._file = None if read_only else _file_id(self._where)
        self._lock = threading.Lock()
        # Dropped unclosed (a SMAC object left for the collector): the database closes then.
        # An sqlite3 connection is in a reference cycle of its own (its statement cache), so
        # it, the WAL and the shared-memory file stayed open until the next full collection.
        # (Not at exit: a live storage's connection is left to the interpreter, as before.)
        self._release = weakref.finalize(self, self._conn.close)
        self._release.atexit = False

    def _open_read_only(self) -> sqlite3.Connection:
        """A read-only connection; in a folder this user cannot write (another user's run, an
        archived copy), where SQLite cannot create the WAL's shared-memory file, one that
        reads the file as it is, which is safe while no process writes it."""
        if not self.path.is_file():
            raise sqlite3.OperationalError("no such file")
        uri = self.path.resolve().as_uri()

        def connect(mode: str) -> sqlite3.Connection:
            return sqlite3.connect(
                f"{uri}?{mode}",
                uri=True,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )

        conn = connect("mode=ro")
        try:
            conn.execute("SELECT name FROM sqlite_master").fetchall()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if os.access(self.path.parent, os.W_OK):
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            # An immutable read would ignore the results still in the write-ahead log.
            raise sqlite3.OperationalError(
                f"results are still in its write-ahead log {wal.name!r}, which SQLite can "
                "read only with its shared-memory file, and this folder cannot be written; "
                "copy the run to a writable folder (all of runhistory.db*)"
            )
        return connect("immutable=1")

    def _create_schema(self) -> None:
        """Switch a new or smacx file to WAL and create the tables, in one transaction, so a
        process opening the file at the same moment sees all of them or none.

        Raises:
            sqlite3.Error: The file is another program's database, or stayed locked for
                ``timeout`` seconds.
            StorageError: The tables could not be created (a lock held past ``timeout``).
        """
        conn = self._conn
        # SQLite gives up at once, without its busy handler, on some of these steps while
        # another process creates the file: retry them for the lock timeout.
        deadline = time.monotonic() + self._timeout

        def retried(sql: str) -> list[tuple[object, ...]]:
            while True:
                try:
                    return list(conn.execute(sql))
                except sqlite3.OperationalError as err:
                    if "locked" not in str(err) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

        def check(tables: set[object]) -> None:
            if tables and not {"meta", "configs", "trials"} <= tables:
                raise sqlite3.DatabaseError(
                    f"it holds tables {sorted(map(str, tables))[:5]} but no smacx run history"
                )

        check({r[0] for r in retried("SELECT name FROM sqlite_master")})
        retried("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._transaction() as cur:
            check({r[0] for r in cur.execute("SELECT name FROM sqlite_master")})
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    cur.execute(statement)

    @contextmanager
    def _transaction(self, patience: float | None = None) -> Iterator[sqlite3.Cursor]:
        """One write transaction; SQLite's errors (a lock held past ``timeout``, or past
        ``patience`` seconds when given, a full disk) come out as
        :class:`~smacx.errors.StorageError`."""
        deadline = time.monotonic() + (patience if patience is not None else 0.0)
        warned = False
        try:
            cur = self._conn.cursor()
        except sqlite3.Error as err:
            raise self._error(err) from err
        # One block from BEGIN to COMMIT: an interrupt (a notebook's) that came just after
        # BEGIN, or just before COMMIT, left the transaction open and the run locked for
        # every other writer, the next SMAC of the same run in the notebook too (an audit).
        try:
            while True:
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.Error as err:
                    locked = "locked" in str(err) or "busy" in str(err)
                    if not locked or time.monotonic() >= deadline:
                        raise self._error(err, patience) from err
                    if not warned:
                        warned = True
                        logger.warning(
                            "The run-history database %r has been locked by another process "
                            "for %g s; a trial's result waits for it up to %g s more.",
                            str(self.path),
                            self._timeout,
                            deadline - time.monotonic(),
                        )
            if self._file is not None and _file_id(self._where) != self._file:
                raise StorageError(
                    f"the run-history database {str(self.path)!r} was deleted, moved or "
                    "replaced while this process had it open (by overwrite=True in another "
                    "process, or by hand): what this process stores from now on would not be "
                    "where the run is. Stop this process; started again, it joins the run that "
                    "is there now."
                )
            yield cur
            cur.execute("COMMIT")
        except BaseException as err:
            # (the transaction may be gone already, e.g. after a disk I/O error)
            with suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise self._error(err) from err
            raise
        finally:
            cur.close()

    def _closed(self, err: BaseException, what: str) -> StorageError | None:
        """The error for an operation on this storage after :meth:`close`, which sqlite3
        reports as a ProgrammingError; None for other errors."""
        if not (isinstance(err, sqlite3.ProgrammingError) and "closed" in str(err)):
            return None
        return StorageError(
            f"cannot {what}: the run history of {str(self.path)!r} is closed (by close(), or "
            "on leaving `with SMAC(...)`). Read what you need before closing, or open the run "
            "again with SMAC(scenario) on the same scenario."
        )

    def _error(self, err: sqlite3.Error, patience: float | None = None) -> StorageError:
        closed = self._closed(err, "write to it")
        if closed is not None:
            return closed
        if "locked" in str(err) or "busy" in str(err):
            hint = held_locked("it", self._timeout)
            if patience is not None and patience > self._timeout:
                hint = hint.replace(
                    f"timeout={self._timeout:g} s",
                    f"{patience:g} s (the wait for a trial's result; timeout={self._timeout:g} s)",
                )
        else:
            hint = "Check that its disk has space and the file is writable."
        return StorageError(
            f"cannot write to the run-history database {str(self.path)!r}: {err}. {hint}"
        )

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Errors of reading ``what`` (SQLite's, and those of decoding what smacx never wrote:
        a missing column, a status or JSON of another layout) as a
        :class:`~smacx.errors.StorageError` that names the file and says what to do."""
        try:
            yield
        except (sqlite3.Error, ValueError, KeyError, TypeError, IndexError) as err:
            closed = self._closed(err, f"read {what}")
            if closed is not None:
                raise closed from err
            problem = one_line(err)
            if isinstance(err, sqlite3.OperationalError) and (
                "locked" in str(err) or "busy" in str(err)
            ):
                hint = held_locked("it", self._timeout)
            else:
                hint = (
                    f"Check it with sqlite3 {str(self.path)!r} 'PRAGMA integrity_check' and "
                    "restore it from a copy if that reports errors, or start the run afresh "
                    "(overwrite=True)."
                )
                problem = (
                    "the database is damaged, or was written by a smacx with another layout: "
                    f"{problem}"
                )
            raise StorageError(
                f"cannot read {what} from the run-history database {str(self.path)!r} "
                f"({problem}). {hint}"
            ) from err

    def get_meta(self, key: str) -> str | None:
        with self._lock, self._reading(f"the run's {key!r} record"):
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta_if_absent(self, key: str, value: str) -> str:
        with self._lock, self._transaction() as cur:
            cur.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return str(cur.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def append_meta(self, key: str, item_json: str, *, order_by: str | None = None) -> bool:
        with self._lock, self._transaction() as cur:
            row = cur.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            with self._reading(f"the run's {key!r} record"):
                items = [] if row is None else list(json.loads(row[0]))
            item = json.loads(item_json)
            if not comes_after(items, item, order_by):
                return False
            cur.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (key, json.dumps([*items, item])),
            )
            return True

    def remove_meta_item(self, key: str, item_json: str) -> bool:
        with self._lock, self._transaction() as cur:
            row = cur.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            with self._reading(f"the run's {key!r} record"):
                items = [] if row is None else list(json.loads(row[0]))
            item = json.loads(item_json)
            kept = [i for i in items if i != item]
            if len(kept) == len(items):
                return False
            cur.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(kept), key))
            return True

    def add_config(self, config_json: str, origin: str) -> int:
        # (as patient as a result: storing a result of a configuration told from elsewhere
        # stores the configuration first)
        with self._lock, self._transaction(patience=max(RESULT_PATIENCE, self._timeout)) as cur:
            cur.execute(
                "INSERT OR IGNORE INTO configs (config, origin, created) VALUES (?, ?, ?)",
                (config_json, origin, time.time()),
            )
            row = cur.execute(
                "SELECT config_id FROM configs WHERE config = ?", (config_json,)
            ).fetchone()
            return int(row[0])

    def _upsert(self, cur: sqlite3.Cursor, record: TrialRecord) -> None:
        version = _next_version(cur)
        v = encode_value(record.value)
        cur.execute(
            f"INSERT OR REPLACE INTO trials ({_TRIAL_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *encode_key(record.key),
                v["status"],
                v["cost"],
                v["time"],
                v["cpu_time"],
                v["starttime"],
                v["endtime"],
                v["additional_info"],
                record.owner,
                record.lease_until,
                version,
            ),
        )

    def _existing(self, cur: sqlite3.Cursor, record: TrialRecord) -> sqlite3.Row | None:
        row: sqlite3.Row | None = cur.execute(
            "SELECT status, owner, lease_until FROM trials "
            "WHERE config_id = ? AND instance = ? AND seed = ? AND budget = ?",
            encode_key(record.key),
        ).fetchone()
        return row

    def claim_trial(self, record: TrialRecord, now: float, max_trials: int | None = None) -> bool:
        with self._lock, self._transaction() as cur:
            old = self._existing(cur, record)
            if (
                old is None
                and max_trials is not None
                and cur.execute("SELECT COUNT(*) FROM trials").fetchone()[0] >= max_trials
            ):
                return False
            if old is not None and (
                old["status"] != StatusType.RUNNING
                or not lease_abandoned(old["owner"], old["lease_until"], now)
            ):
                return False
            self._upsert(cur, record)
            return True

    def finish_trial(self, record: TrialRecord) -> bool:
        # (a result in hand waits longer for the lock than other writes: the process that
        # held it for over ``timeout`` ended the run of every worker, whose results were lost;
        # and it waits for space on a full disk, where it was lost at once)
        patience = max(RESULT_PATIENCE, self._timeout)
        deadline = time.monotonic() + patience
        warned = False
        while True:
            try:
                with self._lock, self._transaction(patience=patience) as cur:
                    old = self._existing(cur, record)
                    if old is not None and old["status"] != StatusType.RUNNING:
                        return False
                    self._upsert(cur, record)
                    return True
            except StorageError as err:
                if "disk is full" not in str(err) or time.monotonic() >= deadline:
                    raise
                if not warned:
                    warned = True
                    logger.warning(
                        "The disk of the run-history database %r is full: a trial's result "
                        "(%s, cost %r) waits for space, up to %g s, trying every %g s. Free "
                        "some space on it.",
                        str(self.path),
                        record.value.status.name,
                        record.value.cost,
                        deadline - time.monotonic(),
                        FULL_DISK_RETRY,
                    )
                time.sleep(FULL_DISK_RETRY)

    def release_trial(self, key: TrialKey, owner: str) -> bool:
        with self._lock, self._transaction() as cur:
            version = _next_version(cur)
            cur.execute(
                "UPDATE trials SET lease_until = 0, version = ? WHERE config_id = ? AND "
                "instance = ? AND seed = ? AND budget = ? AND status = ? AND owner = ?",
                (version, *encode_key(key), int(StatusType.RUNNING), owner),
            )
            return cur.rowcount > 0

    def renew_leases(self, owner: str, lease_until: float, now: float) -> int:
        with self._lock, self._transaction() as cur:
            version = _next_version(cur)
            cur.execute(
                "UPDATE trials SET lease_until = ?, version = ? WHERE owner = ? AND status = ? "
                "AND lease_until > 0",
                (lease_until, version, owner, int(StatusType.RUNNING)),
            )
            return cur.rowcount

    def read_configs(self, after_id: int) -> list[ConfigRecord]:
        with self._lock, self._reading("the configurations"):
            rows = self._conn.execute(
                "SELECT config_id, config, origin FROM configs WHERE config_id > ? "
                "ORDER BY config_id",
                (after_id,),
            ).fetchall()
            return [ConfigRecord(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def read_trials(self, after_version: int) -> list[TrialRecord]:
        with self._lock, self._reading("the trials"):
            rows = self._conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE version > ? ORDER BY version",
                (after_version,),
            ).fetchall()
            return [
                TrialRecord(
                    decode_key(r["config_id"], r["instance"], r["seed"], r["budget"]),
                    decode_value(dict(r)),
                    r["owner"],
                    r["lease_until"],
                    r["version"],
                )
                for r in rows
            ]

    def close(self) -> None:
        with self._lock:
            if self._file is not None and self._release.alive:
                self._checkpoint()
            self._release()  # closes the connection, once

    def _checkpoint(self) -> None:
        """Copy the WAL's writes into the database file, as closing the last connection does:
        a process still reading the run (``smacx show`` polling it) kept the WAL open, and a
        copy of ``runhistory.db`` made after the run lost its latest trials (an audit's copy
        held 326 of 400). Passive, so that it never waits for a reader; a reader's open
        snapshot holds back the frames after it, so it is tried again for up to ~0.5 s."""
        for _ in range(_CHECKPOINT_TRIES):
            try:
                row = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                return  # (not in WAL mode, or the file is gone: nothing to copy)
            if row is None or row[1] < 0 or row[1] == row[2]:
                return  # (every frame of the WAL is in the file)
            time.sleep(0.05)


#: How often closing a run that other processes still read tries to copy its WAL into the
#: database file (see SQLiteStorage._checkpoint).
_CHECKPOINT_TRIES = 10


def _next_version(cur: sqlite3.Cursor) -> int:
    """The version of the next change to the trials table (in the caller's transaction)."""
    return int(cur.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM trials").fetchone()[0])
