"""Storage in a PostgreSQL database: one experiment shared by processes on many machines.

One database holds any number of runs, each under its name (the scenario's). Every event is one
short transaction. The transactions that write to a run take the lock of the run's row first, so
they commit one at a time, in the order of the versions and configuration ids they hand out: a
process that read up to version ``v`` never misses a row that commits later with a lower one.
A result is in the database the moment ``finish_trial`` returns; killing the process loses none.

``overwrite=True`` gives the name a new run (a new ``run_id``) and deletes the old one with its
rows. A process still working on the old run finds it gone at its next write, and stops with a
:class:`~smacx.errors.StorageError`; its results never enter the new run.

The tables (``smacx_layout``, ``smacx_runs``, ``smacx_meta``, ``smacx_configs``,
``smacx_trials``) are created in
the connection's schema when missing; a URL may pick the schema with
``?options=-csearch_path%3Dmyschema``. Needs psycopg 3 (``pip install 'smacx[postgres]'``).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from smacx.errors import StorageError, one_line
from smacx.storage import (
    FULL_DISK_RETRY,
    RESULT_PATIENCE,
    ConfigRecord,
    TrialRecord,
    check_timeout,
    comes_after,
    database_url,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
    held_locked,
    lease_abandoned,
    redact,
)
from smacx.trial import StatusType, TrialKey

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStorage"]

logger = logging.getLogger("smacx")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS smacx_layout (version INTEGER NOT NULL);
INSERT INTO smacx_layout (version) SELECT {layout} WHERE NOT EXISTS (SELECT 1 FROM smacx_layout);
CREATE TABLE IF NOT EXISTS smacx_runs (
    run_id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created DOUBLE PRECISION NOT NULL,
    last_version BIGINT NOT NULL DEFAULT 0,
    last_config BIGINT NOT NULL DEFAULT 0,
    n_trials BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS smacx_meta (
    run_id BIGINT NOT NULL REFERENCES smacx_runs (run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS smacx_configs (
    run_id BIGINT NOT NULL REFERENCES smacx_runs (run_id) ON DELETE CASCADE,
    config_id BIGINT NOT NULL,
    config TEXT NOT NULL,
    origin TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, config_id)
);
CREATE INDEX IF NOT EXISTS smacx_configs_by_hash ON smacx_configs (run_id, md5(config));
CREATE TABLE IF NOT EXISTS smacx_trials (
    run_id BIGINT NOT NULL,
    config_id BIGINT NOT NULL,
    instance TEXT NOT NULL,
    seed TEXT NOT NULL,
    budget TEXT NOT NULL,
    status INTEGER NOT NULL,
    cost TEXT NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    cpu_time DOUBLE PRECISION NOT NULL,
    starttime DOUBLE PRECISION NOT NULL,
    endtime DOUBLE PRECISION NOT NULL,
    additional_info TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (run_id, config_id, instance, seed, budget),
    FOREIGN KEY (run_id, config_id) REFERENCES smacx_configs (run_id, config_id)
        ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS smacx_trials_by_version ON smacx_trials (run_id, version);
"""

#: Key of the transaction-level advisory lock that serializes creating the tables (two
#: ``CREATE TABLE IF NOT EXISTS`` of one table at once can fail in PostgreSQL).
_SCHEMA_LOCK = 0x5A4D_4358
#: The layout of the tables this smacx writes (``smacx_layout``); another one is refused.
_LAYOUT = 1

_TRIAL_COLUMNS = (
    "config_id, instance, seed, budget, status, cost, time, cpu_time, starttime, endtime, "
    "additional_info, owner, lease_until, version"
)
_NAMES = [name.strip() for name in _TRIAL_COLUMNS.split(",")]
_STATUS, _OWNER, _LEASE = (_NAMES.index(n) for n in ("status", "owner", "lease_until"))
#: How far (seconds) this machine's clock may be from the server's without a warning.
CLOCK_WARNING_SECONDS = 30.0
_KEY_MATCH = "run_id = %s AND config_id = %s AND instance = %s AND seed = %s AND budget = %s"


class PostgresStorage:
    """A :class:`~smacx.storage.Storage` for one named run in a PostgreSQL database.

    Args:
        url: A libpq connection URL, ``postgresql://user:password@host:port/database``
            (or a ``key=value`` connection string).
        run: The run's name in the database; processes that give the same name share the run.
        timeout: Seconds to wait for the server when connecting, and for another process's
            lock on the run when writing, before failing; a broken connection is opened again
            for as long.
        create: Create the tables and the run where missing; False for reading a run that
            must exist (``smacx show``).

    Raises:
        StorageError: psycopg is missing, the server cannot be reached or refuses the
            connection, the tables cannot be created, or (without ``create``) there is no
            such run.
    """

    def __init__(self, url: str, run: str, timeout: float = 60.0, create: bool = True) -> None:
        check_timeout("PostgresStorage", timeout)
        if not isinstance(run, str) or not run:
            raise StorageError(f"PostgresStorage's run must be a non-empty name; got {run!r}.")
        self._open(url, run, timeout)
        try:
            if create:
                self._call("the tables", _create_tables, write=True, lock_run=False)
                self.run_id = self._find_run()
            else:
                names = self._call("the runs' names", _run_names, write=False)
                if run not in names:
                    raise StorageError(
                        f"there is no run {run!r} in {redact(url)}"
                        + (f"; its runs: {', '.join(names)}." if names else "; it holds none.")
                    )
                self._call("the tables", _check_layout, write=False)
                self.run_id = self._call(
                    "the run's record",
                    lambda conn, retried: conn.execute(
                        "SELECT run_id FROM smacx_runs WHERE name = %s", (run,)
                    ).fetchone()[0],  # type: ignore[index]
                    write=False,
                )
        except BaseException:
            self._release()
            raise

    @classmethod
    def run_names(cls, url: str, timeout: float = 60.0) -> list[str]:
        """The names of the runs in the database at ``url``, oldest first.

        Raises:
            StorageError: The database cannot be read (see the constructor).
        """
        storage = cls.__new__(cls)  # (a connection to the database, of no run)
        storage._open(url, "", timeout)
        try:
            return storage._call("the runs' names", _run_names, write=False)
        finally:
            storage.close()

    def _open(self, url: str, run: str, timeout: float) -> None:
        """Set the storage up and connect (``run`` "" for the database as a whole)."""
        self.url = database_url(url)
        self.run = run
        self._timeout = float(timeout)
        self._lock = threading.Lock()
        self._closed = False
        self._held: str | None = None  # the key of exclusive()'s lock while it is held
        self._conn = self._connect()
        # Dropped unclosed (a SMAC object left for the collector): the connection closes then.
        self._release = weakref.finalize(self, self._conn.close)
        self._release.atexit = False

    @property
    def where(self) -> str:
        """The run's name and the database, for messages (no password)."""
        if not self.run:  # (run_names: the database as a whole)
            return f"database {redact(self.url)}"
        return f"run {self.run!r} in {redact(self.url)}"

    def _lock_holder(self, key: str) -> str:
        """Whose session holds the advisory lock ``key`` (see :meth:`exclusive`), as an error
        message says it: its client's address, how long it has been idle, and how to end it;
        "" if not known (the server's statistics may be hidden from this role).

        A process suspended while it opened the run (Ctrl-Z, a stopped batch job) holds the
        lock with an idle session, which no server timeout ends (a chaos audit's finding)."""

        def holder(conn: psycopg.Connection[Any], retried: bool) -> Any:
            return conn.execute(
                "SELECT a.pid, host(a.client_addr), a.state, "
                "extract(epoch FROM now() - a.state_change) "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid = ((hashtext(%s)::bigint >> 32) & 4294967295)::oid "
                "AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid "
                "AND a.pid <> pg_backend_pid() LIMIT 1",
                (key, key),
            ).fetchone()

        try:
            row = self._call("the run lock's holder", holder, write=False)
        except Exception:  # (only a message's detail)
            return ""
        if not row or row[0] is None:
            return ""
        pid, client, state, idle = row
        where = f" from {client}" if client else ""
        if state == "idle" and idle is not None:
            return (
                f" (held by the session of server process {pid}{where}, idle for "
                f"{float(idle):.0f} s: a process suspended while it opened the run, by Ctrl-Z "
                "or as a stopped batch job, holds the lock until it resumes or ends; "
                f"`SELECT pg_terminate_backend({pid})` ends that session)"
            )
        # (a role without pg_read_all_stats sees no state of other roles' sessions)
        return (
            f" (held by the session of server process {pid}{where}{f', {state}' if state else ''})"
        )

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as err:
            raise StorageError(
                f"storage {redact(self.url)!r} needs the PostgreSQL driver psycopg 3, which is "
                "not installed: pip install 'smacx[postgres]'."
            ) from err
        try:
            # A connection that the network drops without a word is found broken (and opened
            # again) within about a minute rather than TCP's many minutes; the URL may say
            # otherwise.
            given = conninfo_to_dict(self.url)
            settings: dict[str, Any] = {
                "connect_timeout": max(1, math.ceil(self._timeout)),
                "application_name": "smacx",
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
                "tcp_user_timeout": self._milliseconds(),
                # (a database of encoding SQL_ASCII, as createdb makes on a cluster without a
                # locale, would otherwise hand text back as bytes)
                "client_encoding": "UTF8",
            }
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                **{k: v for k, v in settings.items() if k not in given},
            )
            try:
                # The lock on the run's row is held only for one event's transaction. One of
                # a process stopped within it (Ctrl-Z, a suspended batch job, a paused VM) is
                # ended by the server after half the timeout, which releases the lock before
                # the others give up waiting for it; the stopped process, resumed, finds its
                # connection closed, and opens another.
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, false), "
                    "set_config('idle_in_transaction_session_timeout', %s, false)",
                    (f"{self._milliseconds()}ms", f"{max(self._milliseconds() // 2, 1)}ms"),
                )
                self._measure_clock(conn)
            except BaseException:
                # (the connection broke as soon as it opened: _call connects again)
                conn.close()
                raise
        except psycopg.Error as err:
            # (libpq quotes a malformed URL's parts, the password among them: then psycopg's
            # error is not chained, or a traceback would show it)
            problem = one_line(err)
            shows = any(text in f"{err!r} {err}" for text in _secrets(self.url))
            raise StorageError(
                f"cannot connect to the PostgreSQL database {redact(self.url)!r}: "
                f"{_scrub(problem, self.url)}. Check that the server runs and takes "
                "connections from this machine, and that the URL's user, password and "
                "database are right (the database must exist: createdb NAME)."
            ) from (None if shows else err)
        return conn

    def now(self) -> float:
        """The server's time (Unix seconds): what it was when last read (as a connection
        opens, and with every renewal of the leases, once a minute), plus the time this
        machine's monotonic clock has counted since. The leases of running trials and the
        times of the run are kept in it, so that machines whose clocks differ (by more than a
        lease, 300 s, one took over the trials another still ran) agree on them, also when a
        clock is set right while the run goes on."""
        server, then = self._server_time
        return server + (time.monotonic() - then)

    def _measure_clock(self, conn: psycopg.Connection[Any]) -> None:
        """Read the server's clock for :meth:`now` (at the middle of the round trip), warning
        once when this machine's clock is far from it."""
        sent, sent_wall = time.monotonic(), time.time()
        row = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        back = time.monotonic()
        assert row is not None
        server = float(row[0])
        first = not hasattr(self, "_server_time")
        self._server_time = (server, (sent + back) / 2)
        offset = server - (sent_wall + (back - sent) / 2)
        if first and abs(offset) > CLOCK_WARNING_SECONDS:
            logger.warning(
                "This machine's clock is %.0f s %s the clock of the PostgreSQL server of %s; "
                "smacx keeps the run's leases and start on the server's clock, but the times "
                "of trials are this machine's. Set the clock right (e.g. with NTP).",
                abs(offset),
                "behind" if offset > 0 else "ahead of",
                self.where,
            )

    def _milliseconds(self) -> int:
        """``timeout`` in milliseconds, as the server's settings take it (at most about 24
        days, their largest value)."""
        return int(min(self._timeout, 2_000_000.0) * 1000)

    def _find_run(self) -> int:
        """The id of the run named ``self.run``, created if absent."""

        def body(conn: psycopg.Connection[Any], retried: bool) -> int:
            conn.execute(
                "INSERT INTO smacx_runs (name, created) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (self.run, time.time()),
            )
            row = conn.execute("SELECT run_id FROM smacx_runs WHERE name = %s", (self.run,))
            return int(row.fetchone()[0])  # type: ignore[index]

        return self._call("the run's record", body, write=True, lock_run=False)

    def delete_run(self) -> None:
        """Delete the run and every row of it, and start a new, empty run of the same name.

        A process still writing to the old run gets a :class:`~smacx.errors.StorageError` at
        its next write; it can never write into the new one.
        """
        self._call(
            "the run",
            lambda conn, retried: conn.execute(
                "DELETE FROM smacx_runs WHERE run_id = %s", (self.run_id,)
            ),
            write=True,
            lock_run=False,
        )
        self.run_id = self._find_run()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold a lock on the run's name that only one storage of it (in any process) holds
        at a time, for a sequence of calls (opening a run, checking it, deleting it). The
        run's id is looked up again once the lock is taken (created if it is gone).

        Raises:
            StorageError: Another process held it for ``timeout`` seconds.
        """
        key = f"smacx:{self.run}"
        deadline = time.monotonic() + self._timeout

        def take(conn: psycopg.Connection[Any], retried: bool) -> bool:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
            return bool(row and row[0])

        while not self._call("the run's lock", take, write=False):
            if time.monotonic() > deadline:
                raise StorageError(
                    f"the {self.where} stayed locked by another process for "
                    f"{self._timeout:g} s while it opened the run{self._lock_holder(key)}; "
                    "stop it, or give this scenario another name."
                )
            time.sleep(0.05)
        self._held = key
        try:
            # Another process's overwrite before the lock was taken gave the name a new run:
            # this storage would go on in the deleted one.
            self.run_id = self._find_run()
            yield
        finally:
            self._held = None
            # (closed in the meantime: closing the connection ended its lock)
            with suppress(StorageError):
                if not self._closed:
                    self._call(
                        "the run's lock",
                        lambda conn, retried: conn.execute(
                            "SELECT pg_advisory_unlock(hashtext(%s))", (key,)
                        ),
                        write=False,
                    )

    # -- transactions --------------------------------------------------------------------------

    def _call(
        self,
        what: str,
        body: Callable[[psycopg.Connection[Any], bool], T],
        write: bool,
        lock_run: bool = True,
        patience: float | None = None,
    ) -> T:
        """Run ``body(connection, retried)`` under this storage's lock: if ``write``, in a
        transaction that first takes the lock of the run's row (unless not ``lock_run``), so
        that writes to the run commit one at a time; else on its own.

        A connection that breaks (the server restarted, the network dropped) is opened again
        and ``body`` run again, for up to ``patience`` seconds (by default ``timeout``);
        ``retried`` is then True, and
        ``body`` must find out whether its first attempt committed before the connection
        broke. Other errors, and a server still away after ``timeout``, come out as a
        :class:`~smacx.errors.StorageError` that names the run and says what to do.
        """
        import psycopg

        waited = self._timeout if patience is None else max(patience, self._timeout)
        deadline = time.monotonic() + waited
        retried = False
        with self._lock:
            if self._closed:
                raise StorageError(
                    f"cannot use the storage of the {self.where}: it was closed. Open the run "
                    "again (a new PostgresStorage, or SMAC object)."
                )
            while True:
                if self._conn.closed:
                    try:
                        self._reconnect()
                    except StorageError as err:
                        if time.monotonic() > deadline:
                            raise StorageError(
                                f"{err} (The connection broke while smacx read or wrote "
                                f"{what}; it tried to connect again for {waited:g} s.)"
                            ) from err.__cause__
                        logger.debug("Connecting again to %s failed: %s", redact(self.url), err)
                        time.sleep(0.2)
                        continue
                try:
                    if not write:
                        return body(self._conn, retried)
                    with self._conn.transaction():
                        if lock_run:
                            self._lock_run()
                        return body(self._conn, retried)
                except (
                    psycopg.OperationalError,
                    psycopg.errors.IdleInTransactionSessionTimeout,
                ) as err:
                    # (the second: the server ended this session's transaction while this
                    # process was stopped within it, and closed the connection)
                    if isinstance(err, psycopg.errors.IdleInTransactionSessionTimeout):
                        with suppress(psycopg.Error):
                            self._conn.close()
                    if not self._conn.closed or time.monotonic() > deadline:
                        raise self._error(what, err, write, waited) from err
                    logger.warning(
                        "The connection to %s broke (%s); connecting again.",
                        redact(self.url),
                        one_line(err),
                    )
                except (psycopg.Error, ValueError, KeyError, TypeError, IndexError) as err:
                    raise self._error(what, err, write) from err
                retried = True

    def _error(
        self, what: str, err: BaseException, write: bool, waited: float | None = None
    ) -> StorageError:
        """``err``, met reading or writing ``what``, as a :class:`StorageError` that says what
        to do; ``waited``: the seconds the call waited for a broken connection."""
        import psycopg

        if isinstance(err, psycopg.errors.LockNotAvailable):
            hint = held_locked("the run", self._timeout)
        elif isinstance(err, psycopg.OperationalError) and self._conn.closed:
            hint = (
                f"The connection to the server failed, and it did not come back within "
                f"{self._timeout if waited is None else waited:g} s: check that it runs."
            )
        elif isinstance(err, LayoutError) or (write and isinstance(err, ValueError)):
            hint = ""  # (what smacx found wrong says what to do)
        elif write:
            hint = "Check that the user may create and write tables in the database."
        else:
            hint = (
                "If the rows were written by another program, start the run afresh "
                "(overwrite=True) or give it another name."
            )
        verb = "write" if write else "read"
        return StorageError(
            f"cannot {verb} {what} of the {self.where}: {one_line(err)}. {hint}".rstrip()
        )

    def _lock_run(self) -> None:
        """Take the lock of the run's row in the transaction under way.

        Raises:
            StorageError: The run was deleted (overwritten) since this storage opened it.
        """
        if (
            self._conn.execute(
                "SELECT 1 FROM smacx_runs WHERE run_id = %s FOR UPDATE", (self.run_id,)
            ).fetchone()
            is None
        ):
            raise StorageError(
                f"the {self.where} was deleted by another process (overwrite=True, or by "
                "hand) while this one worked on it; its results from now on are not stored. "
                "Stop this process."
            )

    def _reconnect(self) -> None:
        """A new connection in place of one the server or the network closed; it takes
        :meth:`exclusive`'s lock again if that was held (the server ended it with the old
        connection).

        Raises:
            StorageError: No connection, or the lock stayed with another process for
                ``timeout`` seconds.
        """
        import psycopg

        conn = self._connect()
        if self._held is not None:
            try:
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self._held,))
            except psycopg.Error as err:
                conn.close()
                raise StorageError(
                    f"cannot take the lock of the {self.where} again after its connection "
                    f"broke: {one_line(err)}."
                ) from err
        self._conn = conn
        self._release.detach()
        self._release = weakref.finalize(self, self._conn.close)
        self._release.atexit = False

    # -- the Storage protocol ------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        def body(conn: psycopg.Connection[Any], retried: bool) -> str | None:
            row = conn.execute(
                "SELECT value FROM smacx_meta WHERE run_id = %s AND key = %s", (self.run_id, key)
            ).fetchone()
            return None if row is None else str(row[0])

        return self._call(f"the {key!r} record", body, write=False)

    def _put_meta(self, conn: psycopg.Connection[Any], key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO smacx_meta (run_id, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
            (self.run_id, key, value),
        )

    def set_meta_if_absent(self, key: str, value: str) -> str:
        def body(conn: psycopg.Connection[Any], retried: bool) -> str:
            conn.execute(
                "INSERT INTO smacx_meta (run_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, key) DO NOTHING",
                (self.run_id, key, value),
            )
            row = conn.execute(
                "SELECT value FROM smacx_meta WHERE run_id = %s AND key = %s", (self.run_id, key)
            ).fetchone()
            assert row is not None
            return str(row[0])

        return self._call(f"the {key!r} record", body, write=True)

    def set_meta(self, key: str, value: str) -> None:
        self._call(
            f"the {key!r} record",
            lambda conn, retried: self._put_meta(conn, key, value),
            write=True,
        )

    def append_meta(self, key: str, item_json: str, *, order_by: str | None = None) -> bool:
        item = json.loads(item_json)

        def body(conn: psycopg.Connection[Any], retried: bool) -> bool:
            row = conn.execute(
                "SELECT value FROM smacx_meta WHERE run_id = %s AND key = %s", (self.run_id, key)
            ).fetchone()
            items = [] if row is None else list(json.loads(row[0]))
            if retried and items and items[-1] == item:
                return True  # the first attempt committed
            if not comes_after(items, item, order_by):
                return False
            self._put_meta(conn, key, json.dumps([*items, item]))
            return True

        return self._call(f"the {key!r} record", body, write=True)

    def remove_meta_item(self, key: str, item_json: str) -> bool:
        item = json.loads(item_json)

        def body(conn: psycopg.Connection[Any], retried: bool) -> bool:
            row = conn.execute(
                "SELECT value FROM smacx_meta WHERE run_id = %s AND key = %s FOR UPDATE",
                (self.run_id, key),
            ).fetchone()
            items = [] if row is None else list(json.loads(row[0]))
            kept = [i for i in items if i != item]
            if len(kept) == len(items):
                return retried  # (a retry's first attempt may have committed the removal)
            self._put_meta(conn, key, json.dumps(kept))
            return True

        return self._call(f"the {key!r} record", body, write=True)

    def add_config(self, config_json: str, origin: str) -> int:
        def body(conn: psycopg.Connection[Any], retried: bool) -> int:
            row = conn.execute(
                "SELECT config_id FROM smacx_configs WHERE run_id = %s AND md5(config) = "
                "md5(%s) AND config = %s",
                (self.run_id, config_json, config_json),
            ).fetchone()
            if row is not None:
                return int(row[0])
            row = conn.execute(
                "UPDATE smacx_runs SET last_config = last_config + 1 WHERE run_id = %s "
                "RETURNING last_config",
                (self.run_id,),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO smacx_configs (run_id, config_id, config, origin, created) "
                "VALUES (%s, %s, %s, %s, %s)",
                (self.run_id, row[0], config_json, origin, time.time()),
            )
            return int(row[0])

        return self._call("a configuration", body, write=True)

    def _next_version(self, conn: psycopg.Connection[Any], new_trial: bool = False) -> int:
        """The version of the next change to the run's trials; ``new_trial``: the change adds
        a trial row (counted for ``claim_trial``'s ``max_trials``)."""
        row = conn.execute(
            "UPDATE smacx_runs SET last_version = last_version + 1, n_trials = n_trials + %s "
            "WHERE run_id = %s RETURNING last_version",
            (int(new_trial), self.run_id),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def _upsert(self, conn: psycopg.Connection[Any], record: TrialRecord, new: bool) -> None:
        """Write ``record``'s row; ``new``: there was none."""
        conn.execute(
            f"INSERT INTO smacx_trials (run_id, {_TRIAL_COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (run_id, config_id, instance, seed, budget) DO UPDATE SET "
            "status = EXCLUDED.status, cost = EXCLUDED.cost, time = EXCLUDED.time, "
            "cpu_time = EXCLUDED.cpu_time, starttime = EXCLUDED.starttime, "
            "endtime = EXCLUDED.endtime, additional_info = EXCLUDED.additional_info, "
            "owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, "
            "version = EXCLUDED.version",
            (self.run_id, *_row(record)[:-1], self._next_version(conn, new_trial=new)),
        )

    def _existing(self, conn: psycopg.Connection[Any], key: TrialKey) -> tuple[Any, ...] | None:
        """The stored row of ``key`` (its columns as in ``_TRIAL_COLUMNS``), or None."""
        row = conn.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM smacx_trials WHERE {_KEY_MATCH}",
            (self.run_id, *encode_key(key)),
        ).fetchone()
        return None if row is None else tuple(row)

    def claim_trial(self, record: TrialRecord, now: float, max_trials: int | None = None) -> bool:
        def body(conn: psycopg.Connection[Any], retried: bool) -> bool:
            old = self._existing(conn, record.key)
            if retried and old is not None and _same(old, record):
                return True  # the first attempt committed
            if old is None and max_trials is not None:
                row = conn.execute(
                    "SELECT n_trials FROM smacx_runs WHERE run_id = %s", (self.run_id,)
                ).fetchone()
                if row is not None and row[0] >= max_trials:
                    return False
            if old is not None and (
                old[_STATUS] != StatusType.RUNNING
                or not lease_abandoned(old[_OWNER], old[_LEASE], now)
            ):
                return False
            self._upsert(conn, record, new=old is None)
            return True

        return self._call("a claim of a trial", body, write=True)

    def finish_trial(self, record: TrialRecord) -> bool:
        def body(conn: psycopg.Connection[Any], retried: bool) -> bool:
            old = self._existing(conn, record.key)
            if retried and old is not None and _same(old, record):
                return True  # the first attempt committed
            if old is not None and old[_STATUS] != StatusType.RUNNING:
                return False
            self._upsert(conn, record, new=old is None)
            return True

        # (a result in hand waits longer for the server than other calls: it may have taken
        # hours to measure, and is lost if this process gives up; so it waits for space on
        # the server's full disk too, trying again outside the lock, as on SQLite)
        import psycopg

        deadline = time.monotonic() + max(RESULT_PATIENCE, self._timeout)
        warned = False
        while True:
            try:
                return self._call("a trial's result", body, write=True, patience=RESULT_PATIENCE)
            except StorageError as err:
                if not isinstance(err.__cause__, psycopg.errors.DiskFull) or (
                    time.monotonic() >= deadline
                ):
                    raise
                if not warned:
                    warned = True
                    logger.warning(
                        "The disk of the PostgreSQL server of the %s is full: a trial's result "
                        "(%s, cost %r) waits for space, up to %g s, trying every %g s. Free "
                        "some space on the server.",
                        self.where,
                        record.value.status.name,
                        record.value.cost,
                        deadline - time.monotonic(),
                        FULL_DISK_RETRY,
                    )
                time.sleep(FULL_DISK_RETRY)

    def release_trial(self, key: TrialKey, owner: str) -> bool:
        def body(conn: psycopg.Connection[Any], retried: bool) -> bool:
            # (again after a committed first attempt: the row is still the owner's RUNNING one)
            old = conn.execute(
                f"SELECT 1 FROM smacx_trials WHERE {_KEY_MATCH} AND status = %s AND owner = %s",
                (self.run_id, *encode_key(key), int(StatusType.RUNNING), owner),
            ).fetchone()
            if old is None:
                return False
            conn.execute(
                f"UPDATE smacx_trials SET lease_until = 0, version = %s WHERE {_KEY_MATCH}",
                (self._next_version(conn), self.run_id, *encode_key(key)),
            )
            return True

        return self._call("the release of a trial", body, write=True)

    def renew_leases(self, owner: str, lease_until: float, now: float) -> int:
        def body(conn: psycopg.Connection[Any], retried: bool) -> int:
            # (the clock read again once a minute: a monotonic clock stops while the machine
            # sleeps, and ticks at a rate of its own)
            self._measure_clock(conn)
            cur = conn.execute(
                "UPDATE smacx_trials SET lease_until = %s, version = %s WHERE run_id = %s "
                "AND owner = %s AND status = %s AND lease_until > 0",
                (
                    float(lease_until),
                    self._next_version(conn),
                    self.run_id,
                    owner,
                    int(StatusType.RUNNING),
                ),
            )
            return max(cur.rowcount, 0)

        return self._call("the leases of running trials", body, write=True)

    def read_configs(self, after_id: int) -> list[ConfigRecord]:
        def body(conn: psycopg.Connection[Any], retried: bool) -> list[ConfigRecord]:
            rows = conn.execute(
                "SELECT config_id, config, origin FROM smacx_configs WHERE run_id = %s AND "
                "config_id > %s ORDER BY config_id",
                (self.run_id, after_id),
            ).fetchall()
            return [ConfigRecord(int(r[0]), str(r[1]), str(r[2])) for r in rows]

        return self._call("the configurations", body, write=False)

    def read_trials(self, after_version: int) -> list[TrialRecord]:
        def body(conn: psycopg.Connection[Any], retried: bool) -> list[TrialRecord]:
            rows = conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM smacx_trials WHERE run_id = %s AND version > %s "
                "ORDER BY version",
                (self.run_id, after_version),
            ).fetchall()
            records = []
            for row in rows:
                r = dict(zip(_NAMES, row))
                records.append(
                    TrialRecord(
                        decode_key(r["config_id"], r["instance"], r["seed"], r["budget"]),
                        decode_value(r),
                        r["owner"],
                        float(r["lease_until"]),
                        int(r["version"]),
                    )
                )
            return records

        return self._call("the trials", body, write=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._release()  # closes the connection, once


def _create_tables(conn: psycopg.Connection[Any], retried: bool) -> None:
    """Create smacx's tables where missing (one process at a time), and check the layout of
    those that exist.

    Raises:
        LayoutError: The tables have another layout (made by another version of smacx).
    """
    # (CREATE ... IF NOT EXISTS of an existing table or index still needs the right to
    # create in the schema, and to own the table: users other than the tables' creator,
    # granted only to read and write them, could not open a run)
    if not _all_exist(conn):
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        # (tables of another smacx are not added to, nor stamped with this layout: those of
        # a smacx that recorded none got smacx_layout here, and passed for this layout)
        if _layout(conn) is not _NO_TABLES:
            _check_layout(conn, retried)
        for statement in _SCHEMA.format(layout=_LAYOUT).strip().split(";"):
            if statement.strip():
                conn.execute(statement)
    _check_layout(conn, retried)


class LayoutError(ValueError):
    """The tables were made by another version of smacx."""


#: :func:`_layout` of a schema without smacx's tables.
_NO_TABLES = object()


def _layout(conn: psycopg.Connection[Any]) -> Any:
    """The layout of smacx's tables in the connection's schema: its number (None if
    ``smacx_layout`` is empty), 0 for tables of a smacx that recorded none, or
    ``_NO_TABLES``."""
    layout, runs = conn.execute(
        "SELECT to_regclass('smacx_layout'), to_regclass('smacx_runs')"
    ).fetchone()  # type: ignore[misc]
    if layout is None:
        if runs is None:
            return _NO_TABLES
        # Tables of a smacx that recorded no layout: this layout if their columns are this
        # layout's, as those of the last such smacx were (then stamped by _create_tables).
        return _LAYOUT if _columns(conn) == _layout_columns() else 0
    return conn.execute("SELECT max(version) FROM smacx_layout").fetchone()[0]  # type: ignore[index]


@functools.cache
def _layout_columns() -> dict[str, list[str]]:
    """The columns of each run table of this layout (``_SCHEMA``'s, but ``smacx_layout``), in
    order: the lines of a ``CREATE TABLE`` that start with a column's name."""
    tables: dict[str, list[str]] = {}
    pattern = r"CREATE TABLE IF NOT EXISTS (\w+) \(\n(.*?)\n\);"
    for name, body in re.findall(pattern, _SCHEMA, re.S):
        if name != "smacx_layout":
            lines = [line.split() for line in body.strip().splitlines()]
            keywords = ("PRIMARY", "FOREIGN", "ON")
            tables[name] = [words[0] for words in lines if words and words[0] not in keywords]
    return tables


def _columns(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """The columns of smacx's run tables in the connection's schema, in order."""
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ANY(%s) ORDER BY table_name, ordinal_position",
        (list(_layout_columns()),),
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(str(table), []).append(str(column))
    return found


def _check_layout(conn: psycopg.Connection[Any], retried: bool) -> None:
    """Raise unless smacx's tables have this smacx's layout.

    Raises:
        LayoutError: The tables have another layout (made by another version of smacx).
    """
    found = _layout(conn)
    if found != _LAYOUT:
        raise LayoutError(
            f"its smacx tables have layout {'none' if found is _NO_TABLES else found}, and "
            f"this smacx reads layout {_LAYOUT}: they were made by another version of smacx. "
            "Keep this version's runs in another database, or another schema (a URL ending in "
            "?options=-csearch_path%3Dsmacx2)"
        )


def _all_exist(conn: psycopg.Connection[Any]) -> bool:
    """Whether smacx's tables and indexes all exist in the connection's schema."""
    names = ["smacx_layout", "smacx_runs", "smacx_meta", "smacx_configs", "smacx_trials"]
    names += ["smacx_configs_by_hash", "smacx_trials_by_version"]
    row = conn.execute(
        "SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n", (names,)
    ).fetchone()
    return bool(row and row[0])


def _run_names(conn: psycopg.Connection[Any], retried: bool) -> list[str]:
    """The names of the runs in the database, oldest first (none without smacx's tables)."""
    if conn.execute("SELECT to_regclass('smacx_runs')").fetchone()[0] is None:  # type: ignore[index]
        return []
    return [str(r[0]) for r in conn.execute("SELECT name FROM smacx_runs ORDER BY run_id")]


def _row(record: TrialRecord) -> tuple[Any, ...]:
    """A trial record's columns as in ``_TRIAL_COLUMNS`` (the version last, as stored)."""
    v = encode_value(record.value)
    return (
        *encode_key(record.key),
        v["status"],
        v["cost"],
        *(float(v[name]) for name in ("time", "cpu_time", "starttime", "endtime")),
        v["additional_info"],
        record.owner,
        float(record.lease_until),
        record.version,
    )


def _same(stored: tuple[Any, ...], record: TrialRecord) -> bool:
    """Whether a stored row holds ``record`` (NaN times equal), its version aside."""
    mine = _row(record)
    return all(
        a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)
        for a, b in zip(stored[:-1], mine[:-1])
    )


def _scrub(message: str, url: str) -> str:
    """``message`` without the password of ``url`` (the raw text and its decoded form).

    The password goes where libpq echoes the URL (``:password@``) or its ``password=`` part,
    and wherever else it stands as a word of its own, unless it is also the URL's user, host,
    port or database, which messages name and the redacted URL shows: a host named as the
    password (``postgres:postgres@postgres``) stays readable, and a short password's letters
    inside other words (``p`` in ``port``) stay too.
    """
    shown = _shown_parts(url)
    for text in _secrets(url):
        quoted = re.escape(text)
        message = message.replace(f":{text}@", ":***@")
        message = re.sub(rf"(password\s*=\s*'?){quoted}", r"\1***", message)
        if text not in shown:
            # (a word's edge: only where the password's own edge is a letter or digit)
            before = "(?<![A-Za-z0-9])" if text[0].isalnum() else ""
            after = "(?![A-Za-z0-9])" if text[-1].isalnum() else ""
            message = re.sub(before + quoted + after, "***", message)
    return message


def _secrets(url: str) -> set[str]:
    """The forms the password of ``url`` may take in a message: as written, decoded, without
    quotes, with runs of spaces as one (as :func:`~smacx.errors.one_line` writes them)."""
    from urllib.parse import unquote

    # (up to the last "@" before the query: an unescaped "@" or "/" may be in the password)
    found = re.findall(r"^[a-z0-9+.-]+://[^:/@]*:([^?#]*)@", url)
    found += re.findall(r"[?&]password=([^&]*)", url)
    found += re.findall(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url)
    forms: set[str] = set()
    for secret in found:
        for text in (secret, unquote(secret), secret.strip("'"), unquote(secret).strip("'")):
            forms.update((text, " ".join(text.split())))
    return {text for text in forms if text.strip()}


def _shown_parts(url: str) -> set[str]:
    """The user, host, port and database that ``url`` (a URL or ``key=value`` words) names:
    what the redacted URL shows."""
    from urllib.parse import unquote, urlsplit

    parts = set(re.findall(r"(?:^|\s)(?:user|host|hostaddr|port|dbname)\s*=\s*(\S+)", url))
    with suppress(ValueError):  # (a malformed URL, or a port that is no number)
        split = urlsplit(url)
        parts.update((split.username or "", split.hostname or "", split.path.lstrip("/")))
        parts.add(str(split.port or ""))
    return {unquote(part) for part in parts if part}
