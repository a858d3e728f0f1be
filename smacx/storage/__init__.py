"""Where a run history lives: in memory, or in a database several processes can share.

A storage keeps three things: run metadata (the scenario that defines the experiment), the
configurations (each with a stable integer id, assigned once for the whole experiment) and one row
per trial. Every change to a trial row gets a new, increasing *version*, so a process reads what
others wrote with ``read_trials(after_version=...)``.

Claims are atomic: ``claim_trial`` inserts a RUNNING row only if the trial does not exist yet, or
if it is RUNNING under an owner that is gone (see :func:`owner_is_alive`); two processes can never
both hold the same trial. ``finish_trial`` writes a result only over a RUNNING row, so a trial is
finished exactly once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from smacx.errors import safe_repr
from smacx.trial import StatusType, TrialKey, TrialValue

__all__ = [
    "Storage",
    "TrialRecord",
    "ConfigRecord",
    "owner_id",
    "owner_is_alive",
    "abandoned",
    "lease_abandoned",
    "is_local",
    "open_storage",
    "database_url",
    "is_database_url",
    "redact",
    "encode_key",
    "json_default",
    "decode_key",
    "RUN_FORMAT",
    "check_run_format",
]

logger = logging.getLogger("smacx")

#: The format of what a run stores (its meta entries, trajectory, identity), under the
#: ``format`` meta key. A smacx that stores something an older one would misread raises it,
#: so that the older one refuses such a run instead of misreading it or advising to
#: overwrite it. Runs stored before the key existed are of format 1.
RUN_FORMAT = 1


def check_run_format(stored: str | None, where: str) -> None:
    """Refuse a run whose stored ``format`` (None: stored before the key existed) is newer
    than this smacx reads.

    Raises:
        StorageError: The format is newer, or not a number.
    """
    from smacx import __version__
    from smacx.errors import StorageError

    if stored is None:
        return
    try:
        number = int(stored)
    except ValueError:
        number = None
    if number is not None and number <= RUN_FORMAT:
        return
    raise StorageError(
        f"{where} holds a run stored by a newer smacx (run format {stored!r}; smacx "
        f"{__version__} here reads format {RUN_FORMAT} and older): upgrade smacx on this "
        "machine (pip install -U smacx) to read or continue it. Do not overwrite it: the "
        "run is intact."
    )


@dataclass(frozen=True)
class ConfigRecord:
    """A configuration as stored: its id, canonical JSON of its values, and where it came from."""

    config_id: int
    config_json: str
    origin: str


@dataclass(frozen=True)
class TrialRecord:
    """A trial row: its key, its value (status RUNNING while it runs), and who runs it.

    Attributes:
        owner: Id of the process that claimed the trial (see :func:`owner_id`).
        lease_until: Unix time after which a RUNNING trial of an owner on another host (or
            PID namespace), which cannot be checked, may be taken over; one on this host is
            taken over only once its process is gone, whatever its lease. 0: released, anyone
            may claim it.
        version: Position of this row's last change in the storage's change order.
    """

    key: TrialKey
    value: TrialValue
    owner: str = ""
    lease_until: float = math.inf
    version: int = 0


def comes_after(items: list[Any], item: Any, order_by: str | None) -> bool:
    """Whether ``item`` may follow the last of ``items`` in a list kept in the order of its
    ``order_by`` field (see :meth:`Storage.append_meta`); always true without one."""
    if order_by is None or not items:
        return True
    last, new = items[-1], item
    if not isinstance(last, dict) or not isinstance(new, dict):
        return True
    before, after = last.get(order_by), new.get(order_by)
    numbers = (int, float)
    return not (isinstance(before, numbers) and isinstance(after, numbers) and after <= before)


class Storage(Protocol):
    """What the run history needs from a store. Every method is one short transaction.

    A store shared by machines may also have ``now() -> float``, the Unix time of a clock they
    all read alike (a database server's): the run history keeps leases in it. Without it,
    each process's own clock is used.
    """

    def get_meta(self, key: str) -> str | None:
        """The metadata value under ``key``, or None."""
        ...

    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there; return the stored value."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...

    def append_meta(self, key: str, item_json: str, *, order_by: str | None = None) -> bool:
        """Append the JSON value ``item_json`` to the JSON list under ``key`` (created if
        absent), in one transaction: appends from several processes are all kept. (Optional:
        the run history falls back to get_meta and set_meta without it.)

        With ``order_by``, the item (a JSON object) is appended only if it holds a larger
        number under that field than the list's last item, so that the list stays in its order
        when a process with an older view of the run appends after another. Returns whether
        the item was appended.
        """
        ...

    def remove_meta_item(self, key: str, item_json: str) -> bool:
        """Remove the JSON value ``item_json`` from the JSON list under ``key``, in one
        transaction, as :meth:`append_meta` appends; returns whether it was there.
        (Optional: without it, closed sessions are listed as such instead of dropped.)"""
        ...

    def add_config(self, config_json: str, origin: str) -> int:
        """The id of this configuration, adding it if it is new."""
        ...

    def claim_trial(self, record: TrialRecord, now: float, max_trials: int | None = None) -> bool:
        """Insert a RUNNING row; False if the trial exists and is not a stale RUNNING row, or
        (with ``max_trials``) if it is new and the store holds that many trials already: the
        count and the insert are one transaction, so processes sharing a run never start more
        trials together than their budget. Taking over a stale row ignores ``max_trials``."""
        ...

    def finish_trial(self, record: TrialRecord) -> bool:
        """Write a final result over a RUNNING (or missing) row; False if it was finished."""
        ...

    def release_trial(self, key: TrialKey, owner: str) -> bool:
        """End the lease of ``owner``'s RUNNING row of ``key`` now, so that any process may
        claim the trial again; False if no such row. (Optional: without it, a trial that a
        process gave up on is run again only once that process has ended.)"""
        ...

    def renew_leases(self, owner: str, lease_until: float, now: float) -> int:
        """Move the lease of every RUNNING row of ``owner`` to ``lease_until`` (released rows,
        at a lease of 0, stay released), also a lease that ran out before ``now`` while no
        other process took the trial over; returns how many rows. (Optional: without it,
        trials are claimed without a time limit.)"""
        ...

    def read_configs(self, after_id: int) -> list[ConfigRecord]:
        """Configurations with an id above ``after_id``, by id."""
        ...

    def read_trials(self, after_version: int) -> list[TrialRecord]:
        """Trial rows changed after ``after_version``, by version."""
        ...

    def close(self) -> None:
        """Release the connection; the data stays."""
        ...


def check_timeout(owner: str, timeout: object) -> None:
    """Refuse a ``timeout`` (seconds a storage waits for a lock or the server) that is no
    finite number > 0.

    Raises:
        StorageError: It is not.
    """
    from smacx.errors import StorageError, is_real

    if not is_real(timeout) or not 0 < float(timeout) < math.inf:  # type: ignore[arg-type]
        raise StorageError(
            f"{owner}'s timeout must be a number of seconds > 0 and finite; got {timeout!r}."
        )


#: Seconds a trial's result waits for the storage (a lock another process holds, a server
#: that is away); other calls wait a storage's ``timeout``. A result in hand may have taken
#: hours to measure, and is lost if the process gives up.
RESULT_PATIENCE = 600.0

#: Seconds between a trial's result's tries to be stored while the database's disk is full
#: (for up to :data:`RESULT_PATIENCE`).
FULL_DISK_RETRY = 5.0


def held_locked(what: str, timeout: float) -> str:
    """The advice for a run's lock that another process held for longer than ``timeout``
    seconds: smacx holds it only for one write at a time, so that process is most likely
    stopped within one (more processes only wait longer in turn)."""
    return (
        f"Another process held {what} locked for longer than timeout={timeout:g} s, while smacx "
        "holds the lock only for one write at a time: most likely a process of the run was "
        "stopped within a write (Ctrl-Z, a suspended batch job, a paused machine). Resume or "
        "end it, then start this process again."
    )


def encode_key(key: TrialKey) -> tuple[int, str, str, str]:
    """The key as the database stores it: the id, then JSON text for instance, seed and budget."""
    budget = None if key.budget is None else float(key.budget)
    return key.config_id, json.dumps(key.instance), json.dumps(key.seed), json.dumps(budget)


def decode_key(config_id: int, instance: str, seed: str, budget: str) -> TrialKey:
    """Inverse of :func:`encode_key`."""
    return TrialKey(int(config_id), json.loads(instance), json.loads(seed), json.loads(budget))


def _real(x: float) -> float | str:
    """A float for a REAL column: SQLite stores NaN as NULL, so NaN is kept as the text "NaN"
    (a column of REAL affinity keeps text it cannot read as a number)."""
    x = float(x)
    return "NaN" if math.isnan(x) else x


def encode_value(value: TrialValue) -> dict[str, Any]:
    """Columns of a trial value; cost and additional info as JSON (non-JSON info is repr'd).

    The times may be NaN (e.g. the CPU time of a trial that hit its time limit).
    """
    info = _info_json(value.additional_info)
    if len(info) > LARGE_INFO and not _warned_of_size:
        _warn_of_size(len(info))
    return {
        "status": int(value.status),
        "cost": json.dumps(value.costs()),
        "time": _real(value.time),
        "cpu_time": _real(value.cpu_time),
        "starttime": _real(value.starttime),
        "endtime": _real(value.endtime),
        "additional_info": info,
    }


#: Characters of a trial's info (as JSON) past which the run's process warns, once: each
#: trial's info is stored in the history and read back by every process on the run (a 40 MB
#: array made the database grow by 25 MB and the process by about 190 MB per trial).
LARGE_INFO = 1_000_000
_warned_of_size = False


def _warn_of_size(size: int) -> None:
    global _warned_of_size
    _warned_of_size = True
    logger.warning(
        "A trial's additional_info takes %.1f MB as JSON, stored with the trial in the run "
        "history and read back by every process on it. Keep large results (arrays, models) "
        "in files of your own, and put their paths in the info. (Said once.)",
        size / 1e6,
    )


def json_default(value: Any) -> Any:
    """A value JSON cannot hold as one it can: numpy scalars and arrays as numbers and lists
    (as a target returns them, e.g. ``np.float32`` accuracies), anything else as its repr."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return tolist()
    return safe_repr(value)


def _info_json(info: dict[str, Any]) -> str:
    """JSON of a trial's additional info; values JSON cannot hold are repr'd (numpy values
    become plain ones), and so are, one entry at a time, keys that are not strings or numbers
    and values it cannot hold at all (cycles): the other entries stay as they are."""
    try:
        return json.dumps(info, default=json_default)
    except (TypeError, ValueError, RecursionError):  # (RecursionError: nesting too deep)
        pass
    entries: dict[str, Any] = {}
    for key, value in info.items():
        # (the keys JSON takes as they are, as json.dumps names them: True as "true")
        name = json.dumps(key) if isinstance(key, (int, float)) or key is None else key
        name = name if isinstance(name, str) else safe_repr(key)
        try:
            json.dumps(value, default=json_default)
        except (TypeError, ValueError, RecursionError):
            value = safe_repr(value)
        entries[name] = value
    return json.dumps(entries, default=json_default)


def decode_value(row: dict[str, Any]) -> TrialValue:
    """Inverse of :func:`encode_value`; a single objective's cost comes back as a float."""
    costs = [float(c) for c in json.loads(row["cost"])]
    return TrialValue(
        cost=costs[0] if len(costs) == 1 else costs,
        time=float(row["time"]),
        cpu_time=float(row["cpu_time"]),
        status=StatusType(row["status"]),
        starttime=float(row["starttime"]),
        endtime=float(row["endtime"]),
        additional_info=json.loads(row["additional_info"]),
    )


_PROCESS_OWNER: str | None = None


def owner_id() -> str:
    """Id of this process as a trial owner: ``host:pid:process-start-time:random``."""
    global _PROCESS_OWNER
    if _PROCESS_OWNER is None or _PROCESS_OWNER.split(":")[1] != str(os.getpid()):
        import psutil

        created = psutil.Process().create_time()
        _PROCESS_OWNER = f"{_host()}:{os.getpid()}:{created:.3f}:{uuid.uuid4().hex[:8]}"
    return _PROCESS_OWNER


def _host() -> str:
    """This host's name, with the PID namespace and the machine's id on Linux: containers
    that share the host's name (host networking) but not its process ids see each other as
    other hosts, and so do machines of one name (cloned from one image) sharing a run in a
    database, whose PID namespaces have the same number."""
    return _host_of(os.getpid())


@functools.lru_cache(maxsize=1)
def _host_of(pid: int) -> str:
    """:func:`_host` for process ``pid`` (this one; a forked child reads its own)."""
    try:
        namespace = f"+pidns{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux, or no /proc
        namespace = ""
    return f"{socket.gethostname()}{namespace}{_machine()}".replace(":", "_")


@functools.cache
def _machine(stored_before: bool = False) -> str:
    """``+m`` and 12 hex digits of a hash of this machine's id (systemd's, else the kernel's
    boot id), or "". (The id itself is confidential, machine-id(5) says; its first 12 digits
    were stored in every run, a security audit's finding: ``stored_before`` gives them, to
    know this machine's processes in runs written so, never to write.)"""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id"):
        try:
            with open(path) as file:
                machine = file.read().strip().replace("-", "")
        except OSError:
            continue
        if machine and stored_before:
            return f"+m{machine[:12]}"
        if machine:
            digest = hashlib.sha256(f"smacx machine {machine}".encode()).hexdigest()
            return f"+m{digest[:12]}"
    return ""


def is_local(owner: str) -> bool:
    """Whether an owner id names a process this one can check (same host and PID namespace).

    An id without a namespace, written by smacx before it recorded one, counts as local when
    its host name is this one's (as it did then); so does one without the machine's id when
    its host name and namespace are this one's."""
    parts = owner.split(":")
    if len(parts) < 3:
        return False
    host = _host()
    machine = _machine().replace(":", "_")
    before_machine = host[: -len(machine)] if machine and host.endswith(machine) else host
    stored_before = before_machine + _machine(stored_before=True).replace(":", "_")
    return parts[0] in (host, before_machine, host.split("+pidns")[0], stored_before)


#: Seconds by which a process's start time may differ from the one in its owner id.
_START_TOLERANCE = 2.0


def owner_is_alive(owner: str) -> bool:
    """Whether the process behind an owner id still runs.

    Processes on other hosts (or in other containers) cannot be checked and count as alive:
    their trials are taken over once the lease they were claimed with runs out. A process that
    shares its run through a database renews the leases of its running trials while it lives
    (see :class:`~smacx.RunHistory`), so the trials of one that died elsewhere run again a few
    minutes later. A reused pid is told apart by the process start time.
    """
    import psutil

    if not is_local(owner):
        return True
    parts = owner.split(":")
    try:
        proc = psutil.Process(int(parts[1]))
        # psutil derives start times from the boot time, which some kernels and sandboxes
        # recompute from the wall clock, so it can step by a second. (Tests asking whether this
        # very process is alive failed now and then on the 2-core dev machine while benchmarks
        # ran, as such a step would make them.) A pid is reused only after the kernel's pids
        # wrap around, long after this tolerance.
        started_same = abs(proc.create_time() - float(parts[2])) < _START_TOLERANCE
        return bool(started_same and proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True


def abandoned(record: TrialRecord, now: float) -> bool:
    """Whether a RUNNING trial of another process may be taken over at Unix time ``now``."""
    return lease_abandoned(record.owner, record.lease_until, now)


def lease_abandoned(owner: str, lease_until: float, now: float) -> bool:
    """Whether a RUNNING trial claimed by ``owner`` until ``lease_until`` may be taken over.

    A released trial (lease 0) may. One of a process that can be checked (this host) may once
    that process is gone, whatever its lease: a live process whose lease thread was starved
    (a C call holding the GIL) still runs it. One of a process elsewhere may once the lease
    ran out.
    """
    if lease_until <= 0.0:
        return True
    if is_local(owner):
        return not owner_is_alive(owner)
    return lease_until <= now


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs: the URL's own, a ``password``
    parameter of its query, or the ``password=`` of a ``key=value`` connection string."""
    # (to the last "@": libpq takes a password with an unescaped "/" or "@" as no password,
    # or as one cut short, and the rest of it must not show either)
    url = re.sub(r"^([a-z0-9+.-]+://[^:/@]*):.*@", r"\1:***@", url, flags=re.IGNORECASE)
    url = re.sub(r"([?&]password=)[^&]*", r"\1***", url)
    return re.sub(r"(^|\s)(password\s*=\s*)" + _CONNINFO_VALUE, r"\1\2***", url)


#: A PostgreSQL URL's scheme: any case, with a driver as SQLAlchemy (and Optuna) write it.
_POSTGRES_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)

#: A value of a libpq ``key=value`` string: quoted, or up to a space, a backslash escaping
#: the next character in both (``password=a\ b`` is the password "a b").
_CONNINFO_VALUE = r"('(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)+)"

#: A libpq ``key=value`` connection string.
_CONNINFO = re.compile(r"^\s*(?:\w+\s*=\s*" + _CONNINFO_VALUE + r"\s*)+$")


def is_database_url(url: object) -> bool:
    """Whether ``url`` names a database server (PostgreSQL) rather than a file: a
    ``postgresql://`` URL (``postgres://``, ``postgresql+psycopg2://`` and any case as well),
    or a ``key=value`` connection string that names a server, a database or a service of
    ``pg_service.conf`` (``host``, ``hostaddr``, ``dbname`` or ``service``)."""
    if not isinstance(url, str):
        return False
    if _POSTGRES_SCHEME.match(url):
        return True
    return bool(_CONNINFO.match(url)) and bool(
        re.search(r"(?:^|\s)(?:host|hostaddr|dbname|service)\s*=", url)
    )


def database_url(url: str) -> str:
    """A URL of :func:`is_database_url` as libpq reads it: the scheme ``postgresql://``
    (a driver's name and capitals dropped); a ``key=value`` string as it is."""
    return _POSTGRES_SCHEME.sub("postgresql://", url, count=1)


def open_storage(url: str | os.PathLike[str] | None, run: str | None = None) -> Storage:
    """Open a storage from a path, a URL or None.

    Args:
        url: None for memory; a file path or ``sqlite:///path`` for SQLite;
            ``postgresql://user:password@host:port/database`` for PostgreSQL.
        run: The run's name in a PostgreSQL database (one database holds many runs).

    Raises:
        StorageError: The URL names no storage smacx knows, or it cannot be opened.
    """
    from smacx.errors import StorageError
    from smacx.storage.memory import MemoryStorage
    from smacx.storage.sqlite import SQLiteStorage

    if url is None:
        return MemoryStorage()
    if not isinstance(url, (str, os.PathLike)) or isinstance(os.fspath(url), bytes):
        raise StorageError(
            f"open_storage's url must be a path, a URL (str) or None; got {type(url).__name__} "
            f"{url!r:.100}."
        )
    text = os.fspath(url)
    if text.startswith("sqlite:///"):
        return SQLiteStorage(text[len("sqlite:///") :])
    if is_database_url(text):
        from smacx.storage.postgres import PostgresStorage

        if not run:
            raise StorageError(
                f"storage {redact(text)!r} holds many runs: open_storage needs the run's name "
                "(run=...)."
            )
        return PostgresStorage(text, run)
    if "://" in text:
        raise StorageError(
            f"storage URL {redact(text)!r} is not supported; expected a file path, "
            "'sqlite:///path', 'postgresql://user:password@host:port/database' or None."
        )
    return SQLiteStorage(text)
