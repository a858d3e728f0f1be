"""A SMAC object's session on a stored run: the lock it holds while it opens the run, its
record among the run's sessions, the time its ``optimize()`` calls spent (what
``walltime_limit`` and ``cputime_limit`` count), and who else works on the run."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from smacx.errors import StorageError
from smacx.runhistory import RunHistory
from smacx.storage import Storage, abandoned, is_local, owner_id, owner_is_alive
from smacx.trial import StatusType, TrialInfo

logger = logging.getLogger("smacx")


#: Meta keys: the SMAC objects that opened a stored run, and those of them that closed it.
SESSIONS, CLOSED_SESSIONS = "sessions", "closed_sessions"


#: Meta key prefix of a session's record of the time its optimize() calls spent (see Spent).
SPENT = "spent:"


class Spent:
    """The wall-clock and CPU time that a run's ``optimize()`` calls have spent, in this
    process and in every earlier or concurrent one on the run: what ``walltime_limit`` and
    ``cputime_limit`` count, so that a resumed run does not start its budget afresh.

    Each session (a SMAC object on the run) keeps its own record in the run's metadata: the
    intervals (Unix seconds) of its ``optimize()`` calls and the CPU seconds they used,
    written at most once a second while one runs (a killed process loses no more), and,
    for a run that other processes may share, by a thread of its own every ``_BEAT``
    seconds, so that it is written while a trial or a wait for results keeps the loop from
    writing it. The wall
    time is the length of the union of all the sessions' intervals, so that processes sharing
    the run at once count their common time once; CPU seconds add up. The other sessions'
    records are read when ``optimize()`` starts; from then on the time of this call is added.
    """

    #: Seconds between two writes of the record while optimize() runs.
    _EVERY = 1.0
    #: Seconds between two writes by the record's own thread (see _beat).
    _BEAT = 10.0
    #: A record on another host not written for this long is of a process that died there.
    _STALE = 6 * _BEAT

    def __init__(
        self,
        storage: Storage,
        session: str,
        cpu_clock: Callable[[], float] | None = None,
        *,
        beat: bool = True,
    ) -> None:
        self.storage = storage
        self.session = session
        self.beat = beat  # whether a thread writes the record (a run others may share)
        # CPU seconds used so far, by this process, its children and trials elsewhere
        self._cpu_seconds = cpu_clock or cpu_seconds
        # (a database's clock where it has one: sessions on machines whose clocks differ
        # then count their common time once)
        self._clock: Callable[[], float] = getattr(storage, "now", time.time)
        self._intervals: list[list[float]] = []  # of this session's calls
        self._cpu_done = 0.0  # CPU seconds of this session's finished calls
        self._cpu_start = math.nan  # at the start of the running call; NaN: none runs
        self._prior_wall = 0.0  # of every session, up to the start of the running call
        self._prior_cpu = 0.0
        self._written = -math.inf
        self._reread = -math.inf  # (when the other sessions' records were read last)
        # The clock at the running call's start and the monotonic clock then: the call's
        # time is counted on the monotonic clock, so that a step of the system's clock (NTP
        # setting it right) neither ends the call early nor stretches it. (A forward step
        # of 120 s ended two SQLite workers' walltime_limit=10 run after 4 s.)
        self._anchor: tuple[float, float] | None = None
        self._cpu_noted = 0.0  # CPU seconds of the running call at its latest note
        # (the loop and the record's own thread write it; see _beat)
        self._lock = threading.Lock()
        self._beating: threading.Event | None = None

    def start(self) -> None:
        """Read every session's record and count this ``optimize()`` call from now on."""
        with self._lock:
            self._anchor = (self._clock(), time.monotonic())
            now = self._now()
            self._count_prior(now)
            self._intervals.append([now, now])
            self._cpu_start = self._cpu_seconds()
            self._cpu_noted = 0.0
        self.note(final=True)
        if self._beating is not None:
            self._beating.set()  # (a call that never stopped: its thread ends)
        if not self.beat:
            return
        self._beating = threading.Event()
        threading.Thread(
            target=Spent._beat,
            args=(weakref.ref(self), self._beating),
            name="smacx-spent",
            daemon=True,
        ).start()

    @staticmethod
    def _beat(ref: weakref.ref[Spent], stopped: threading.Event) -> None:
        """Write the record of the running call every ``_BEAT`` seconds until ``stopped``.

        The loop writes it as results come, and a trial run in this process, or a long wait
        for one, writes nothing: a session on another host then took this one for dead a
        lease after its last write, and one that joined during a trial longer than that ran
        past ``walltime_limit``. (CPU seconds stay as last noted: a runner's
        ``cpu_time_elsewhere`` is read by the loop's thread only.)
        """
        while True:
            spent = ref()
            if spent is None:
                return
            interval = spent._BEAT
            del spent
            if stopped.wait(interval):
                return
            spent = ref()
            if spent is None:
                return
            with spent._lock:
                if not stopped.is_set() and spent.running():
                    spent._write(spent._extend())
            del spent

    def so_far(self) -> tuple[float, float]:
        """Wall-clock and CPU seconds that the run's ``optimize()`` calls have spent, while
        none of this session runs."""
        if self._calling():
            return self.wall(), self.cpu()
        self._count_prior(self._clock())
        return self._prior_wall, self._prior_cpu

    def reread(self) -> None:
        """Read the other sessions' records again (at most once a second): a session in a
        trial when this call started had written its record before that trial."""
        now = self._now()
        if math.isnan(self._cpu_start) or now - self._reread < self._EVERY:
            return
        self._reread = now
        self._count_prior(self._intervals[-1][0])

    def _count_prior(self, start: float) -> None:
        """The wall time and CPU seconds of every session before this call's ``start``:
        this session's earlier calls, and the other sessions' records as stored now (their
        time after ``start`` is within this call's, which counts it)."""
        earlier = self._intervals[: len(self._intervals) - self._calling()]
        records: list[dict[str, Any]] = [{"wall": earlier, "cpu": self._cpu_done}]
        others = set(json.loads(self.storage.get_meta(SESSIONS) or "[]")) - {self.session}
        for session in sorted(others):
            with contextlib.suppress(ValueError, TypeError, KeyError):  # damaged: skipped
                stored = json.loads(self.storage.get_meta(SPENT + session) or "null")
                if stored is None:
                    continue
                wall = [[float(a), float(b)] for a, b in stored["wall"]]
                if wall and stored.get("open") and self._still_in_call(session, stored):
                    # In a call (written up to _BEAT s ago): its time runs on until this
                    # call's start. (A worker that joined during another's trial counted
                    # that process's time to the trial's start only, and ran past the limit.)
                    wall[-1][1] = max(wall[-1][1], start)
                records.append({"wall": wall, "cpu": float(stored["cpu"])})
        # (clipped to the start, and empty if the clock stepped back to before its start)
        intervals = [(float(a), min(float(b), start)) for r in records for a, b in r["wall"]]
        self._prior_wall = union_length(intervals)
        self._prior_cpu = sum(r["cpu"] for r in records)

    def _still_in_call(self, session: str, record: dict[str, Any]) -> bool:
        """Whether another session whose record says it is in an ``optimize()`` call still
        is: its process lives (on this host, checked), or, on another host, it wrote the
        record less than ``_STALE`` seconds ago (a process that died there counts until then;
        a live one writes every ``_BEAT`` s, in a trial too). It was a lease (300 s), and a
        container killed in a batch queue had its wait for a new one charged to
        ``walltime_limit``."""
        owner = session.split("#")[0]
        if is_local(owner):
            return owner_is_alive(owner)
        return self._now() - float(record.get("written", -math.inf)) < self._STALE

    def _now(self) -> float:
        """The storage's clock, counted on the monotonic clock from the running call's start
        (see ``_anchor``)."""
        if self._anchor is None:
            return self._clock()
        wall, monotonic = self._anchor
        return wall + (time.monotonic() - monotonic)

    def running(self) -> bool:
        """Whether an ``optimize()`` call is counted (started, not stopped)."""
        return bool(self._calling())

    def _calling(self) -> int:
        """1 while an ``optimize()`` call is counted (its interval is the last), else 0."""
        return 0 if math.isnan(self._cpu_start) else 1

    def stop(self) -> None:
        """End the running call: its record is stored as it ends, closed."""
        if self._beating is not None:
            self._beating.set()
        with self._lock:
            now = self._now()
            self._intervals[-1][1] = max(now, self._intervals[-1][0])
            self._cpu_done += self._cpu_seconds() - self._cpu_start
            self._cpu_start = math.nan
            self._anchor = None
            self._write(now)

    def wall(self) -> float:
        """Seconds of wall-clock time the run's ``optimize()`` calls have taken."""
        return self._prior_wall + max(self._now() - self._intervals[-1][0], 0.0)

    def cpu(self) -> float:
        """CPU seconds the run's ``optimize()`` calls have used (see ``cpu_seconds``)."""
        return self._prior_cpu + self._cpu_seconds() - self._cpu_start

    def own_wall(self) -> float:
        """Seconds this session's ``optimize()`` calls took (up to the last note)."""
        return sum(b - a for a, b in self._intervals)

    def note(self, final: bool = False) -> None:
        """Extend the running call's interval to now, and store the record if a second has
        passed since the last write (or ``final``)."""
        with self._lock:
            if not math.isnan(self._cpu_start):
                self._cpu_noted = self._cpu_seconds() - self._cpu_start
            now = self._extend()
            if not final and now - self._written < self._EVERY:
                return
            self._write(now)

    def _extend(self) -> float:
        """Extend the running call's interval to now, and return now."""
        now = self._now()
        self._intervals[-1][1] = max(now, self._intervals[-1][0])
        return now

    def _write(self, now: float) -> None:
        """Store this session's record, written at ``now``."""
        self._written = now
        with contextlib.suppress(Exception):  # a closed or failed storage: nothing to keep
            self.storage.set_meta(SPENT + self.session, json.dumps(self._record()))

    def _record(self) -> dict[str, Any]:
        running = 0.0 if math.isnan(self._cpu_start) else self._cpu_noted
        return {
            "wall": self._intervals,
            "cpu": self._cpu_done + running,
            "open": bool(self._calling()),  # (in an optimize() call, see _still_in_call)
            "written": self._written,
        }


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """The length of the union of closed intervals ``(start, end)``."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end > max(reach, start):
            total += end - max(start, reach)
            reach = end
    return total


def _flock_holder(fd: int) -> str:
    """Who holds the ``flock`` on the open file ``fd``, as an error message says it (from
    Linux's ``/proc/locks``): its process id, and whether it is stopped; "" if not known."""
    try:
        st = os.fstat(fd)
        with open("/proc/locks") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF" ("1: -> FLOCK ..." for a waiter)
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            pid = int(parts[4])
            major, minor, inode = parts[5].split(":")
            same = (int(major, 16), int(minor, 16), int(inode)) == (
                os.major(st.st_dev),
                os.minor(st.st_dev),
                st.st_ino,
            )
        except ValueError:
            continue
        if not same or pid in (0, os.getpid()):
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            # gone: /proc/locks keeps the process that took the lock, and a child it forked
            # holds it now (a review), or one in another PID namespace does
            return ""
        if state in ("T", "t"):
            return (
                f"held by process {pid}, which is stopped (Ctrl-Z, a suspended batch job) and "
                f"holds it until it resumes or ends: `kill -CONT {pid}` resumes it"
            )
        return f"held by process {pid}"
    return ""


#: How long SMAC waits for another process to finish opening the same run (see folder_lock).
FOLDER_LOCK_SECONDS = 60.0


@contextlib.contextmanager
def folder_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on the run's folder ``path`` (``flock`` on the folder itself)
    while the block runs. Without ``flock`` (Windows), or where the file system refuses it
    (some network file systems), the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # opening the storage says what is wrong with the folder
        yield
        return
    try:
        deadline = time.monotonic() + FOLDER_LOCK_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = _flock_holder(fd) or (
                        "a process that hangs there, is suspended, or forked while holding it"
                    )
                    raise StorageError(
                        f"the run folder {str(path)!r} stayed locked by another process for "
                        f"{FOLDER_LOCK_SECONDS:g} s while it opened the run ({holder}); stop "
                        "it, or give this scenario another name or output_directory."
                    ) from None
                time.sleep(0.05)
            except OSError:  # no flock on this file system: unlocked, as before
                break
        yield
    finally:
        # unlocked first: a process forked meanwhile shares the open file and its lock
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def end_session(
    history: RunHistory, session: str, asked: set[TrialInfo], in_flight: set[TrialInfo]
) -> None:
    """Mark a SMAC object's session of a stored run closed (see ``live_owners``).

    Called by ``close()``, which has given up its trials already, or when the object is
    collected without it (a notebook cell that builds SMAC again): its trials asked and never
    told are given up then, so that the next ``optimize()`` in this process runs them.
    """
    with contextlib.suppress(Exception):  # a closed storage: its process is ending anyway
        give_up(history, asked, in_flight)
    with contextlib.suppress(Exception):
        close_session_record(history.storage, session)


def close_session_record(storage: Storage, session: str) -> None:
    """Record in the run that ``session`` closed it. One that never ran ``optimize()`` (an
    object built to read the run, or for ask and tell) left no time to count, so it is
    dropped from the sessions instead: a monitor building ``SMAC(scenario)`` once a second
    grew both lists by 74 bytes a poll, each poll rewriting them whole, and slowed every
    ``optimize()`` start that reads them (an audit's 3,000 polls: 225 kB each, 21 ms)."""
    remove = getattr(storage, "remove_meta_item", None)
    if remove is not None and storage.get_meta(SPENT + session) is None:
        remove(SESSIONS, json.dumps(session))
    else:
        storage.append_meta(CLOSED_SESSIONS, json.dumps(session))


def give_up(history: RunHistory, *pending: set[TrialInfo]) -> None:
    """Give up the trials in ``pending`` (asked or submitted, never told), emptying the sets:
    the next run on the history, in this process or another, runs them again."""
    for trials in pending:
        for info in list(trials):
            try:
                history.release(info)
            except StorageError as err:  # (the disk that failed the run: no second error)
                logger.warning(
                    "Could not give up trial %s: %s. It runs again once this process has ended.",
                    info,
                    err,
                )
        trials.clear()


def live_owners(database: Path) -> list[str]:
    """Owner ids of other processes that work on the smacx database at ``database`` (none if
    it is absent, unreadable or damaged): see :func:`live_owners_of`."""
    if not database.exists():
        return []
    from smacx.storage.sqlite import SQLiteStorage

    try:
        storage = SQLiteStorage(database, read_only=True)
    except StorageError as err:  # not a smacx database: nothing runs on it
        if _locked(err):  # but a lock says something does
            raise
        return []
    try:
        return live_owners_of(storage)
    except (StorageError, ValueError, TypeError) as err:  # damaged: overwriting is the way out
        if _locked(err):
            raise
        return []
    finally:
        storage.close()


def live_owners_of(storage: Storage) -> list[str]:
    """Owner ids of other processes that work on the run in ``storage``: those that hold
    RUNNING trials, alive and within their lease, and those on this host, this one included,
    that opened the run, never closed it and still live (they may be between trials)."""
    records = storage.read_trials(0)
    me, now = owner_id(), getattr(storage, "now", time.time)()
    running = {
        r.owner
        for r in records
        if r.value.status is StatusType.RUNNING and r.owner != me and not abandoned(r, now)
    }
    return sorted(running | live_local_sessions(storage))


def live_local_sessions(storage: Storage, but: str | None = None) -> set[str]:
    """Owner ids of the processes on this host, this one included, whose sessions opened the
    run in ``storage``, never closed it and still live (``but``: a session left out)."""
    opened, closed = (
        set(json.loads(storage.get_meta(key) or "[]")) for key in (SESSIONS, CLOSED_SESSIONS)
    )
    owners = {session.split("#")[0] for session in opened - closed - {but}}
    return {o for o in owners if is_local(o) and owner_is_alive(o)}


def _locked(err: BaseException) -> bool:
    """Whether ``err`` comes from SQLite finding the database locked by another process."""
    import sqlite3

    cause = err.__cause__
    return isinstance(cause, sqlite3.OperationalError) and (
        "locked" in str(cause) or "busy" in str(cause)
    )


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (pynisher's trials)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
