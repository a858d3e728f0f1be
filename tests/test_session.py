"""Tests of smacx.session: the time a run's optimize() calls spent, across sessions, and the
run folder's lock."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from smacx import session as session_module
from smacx.errors import StorageError
from smacx.session import folder_lock
from smacx.storage.memory import MemoryStorage


def test_processes_sharing_a_run_at_once_count_their_common_time_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wall time of a run is the union of its sessions' optimize() intervals."""
    clock = [0.0]
    fake_time = SimpleNamespace(
        time=lambda: clock[0], monotonic=lambda: clock[0], process_time=time.process_time
    )
    monkeypatch.setattr(session_module, "time", fake_time)
    storage = MemoryStorage()
    for session in ("a", "b", "c"):
        storage.append_meta(session_module.SESSIONS, json.dumps(session))
    a, b, c = (session_module.Spent(storage, session) for session in "abc")
    a.start()
    clock[0] = 10.0
    a.note()
    b.start()  # sees a's 10 s
    clock[0] = 15.0
    assert b.wall() == 15.0
    clock[0] = 20.0
    a.stop()
    clock[0] = 30.0
    b.stop()
    clock[0] = 100.0  # resumed later: 0-20 and 10-30 are 30 s, not 40
    c.start()
    assert c.wall() == 30.0 and a.own_wall() == 20.0
    assert session_module.union_length([(0, 1), (0.5, 2), (3, 4), (3.2, 3.5)]) == 3.0
    assert session_module.union_length([(5, 3), (0, 1)]) == 1.0  # the clock stepped back


def test_a_step_of_the_systems_clock_during_a_call_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forward step of 120 s (NTP setting the clock right) ended two SQLite workers'
    walltime_limit=10 run after 4 s (a shared-run audit's finding): a call's time is counted
    on the monotonic clock."""
    wall, monotonic = [1000.0], [5.0]
    fake_time = SimpleNamespace(
        time=lambda: wall[0], monotonic=lambda: monotonic[0], process_time=time.process_time
    )
    monkeypatch.setattr(session_module, "time", fake_time)
    storage = MemoryStorage()
    storage.append_meta(session_module.SESSIONS, json.dumps("a"))
    spent = session_module.Spent(storage, "a")
    spent.start()
    wall[0], monotonic[0] = 1123.0, 8.0  # stepped 120 s forward, 3 s in
    assert spent.wall() == 3.0
    wall[0], monotonic[0] = 1000.0, 9.0  # and back
    spent.stop()
    assert spent.own_wall() == 4.0
    wall[0], monotonic[0] = 2000.0, 100.0
    spent.start()  # the next call starts on the clock as it is
    monotonic[0] = 102.0
    assert spent.wall() == 6.0


def test_a_session_that_joined_during_anothers_trial_counts_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Session b starts 4 s into a's first 5 s trial, when a's record still ends at 0: a's
    record says it is in a call, and its process lives, so its time runs on to b's start. Read
    again (near walltime_limit), and after both calls, nothing is counted twice. (A late worker
    ran a trial past walltime_limit=8, from 9 s to 14 s: a shared-run audit's finding; one
    that joined after the limit, during another's trial, ran one too: a review's.) A record
    left open by a dead process on this host runs on no more, nor one on another host written
    a while ago (``_STALE``)."""
    from smacx.storage import owner_id
    from tests.test_storage import dead_owner

    clock, cpu = [0.0], [0.0]
    fake_time = SimpleNamespace(
        time=lambda: clock[0], monotonic=lambda: clock[0], process_time=time.process_time
    )
    monkeypatch.setattr(session_module, "time", fake_time)
    storage = MemoryStorage()
    me, far = owner_id(), "far+m1:4242:0.000:x"
    names = [f"{me}#a", f"{me}#b", f"{dead_owner()}#c", f"{far}#d", f"{me}#e"]
    for session in names:
        storage.append_meta(session_module.SESSIONS, json.dumps(session))
    a = session_module.Spent(storage, names[0], cpu_clock=lambda: cpu[0])
    b, c, d, e = (session_module.Spent(storage, n, cpu_clock=lambda: 0.0) for n in names[1:])
    a.start()  # a's first trial runs 0-5 s, and its record ends at 0
    clock[0] = 4.0
    b.start()
    assert b.wall() == 4.0
    clock[0], cpu[0] = 5.0, 5.0
    a.note()  # a's trial ended
    clock[0] = 9.0
    assert b.wall() == 9.0
    b.reread()
    assert b.wall() == 9.0 and b.cpu() == 5.0
    clock[0] = 9.5
    a.stop()
    clock[0] = 10.0
    b.stop()
    clock[0] = 20.0
    b.start()
    assert b.wall() == 10.0  # a's 0-9.5 and b's 4-10, once each
    b.stop()
    # dead on this host, or silent on another for a lease: their calls end at their records
    clock[0] = 100.0
    c.start()
    d.start()
    clock[0] = 104.0
    e.start()
    assert e.wall() == 10.0 + 4.0  # (d's 100-104 counts, c's does not)
    clock[0] = 104.0 + session_module.Spent._STALE + 1
    e.reread()  # (d silent for _STALE: its call ended at its record)
    assert e.wall() == 10.0 + session_module.Spent._STALE + 1


@pytest.mark.skipif(sys.platform == "win32", reason="flock and fork are POSIX's")
def test_the_folder_lock_is_released_though_a_process_forked_while_it_was_held(
    tmp_path: Path,
) -> None:
    """A fork shares the open file and its lock: closing this process's copy did not release
    it while the child lived (a review's finding)."""
    import fcntl

    with folder_lock(tmp_path):
        child = os.fork()
        if child == 0:
            time.sleep(3)
            os._exit(0)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while still held
    finally:
        os.close(fd)
        os.waitpid(child, 0)


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="Linux's /proc/locks")
def test_a_run_folder_locked_by_a_stopped_process_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process suspended (Ctrl-Z, a stopped batch job) while it opened a shared run held the
    run folder's lock, and every new process sharing the run failed after a minute with a
    message that did not say why (a chaos audit). It names the process and how to resume it."""
    import fcntl

    monkeypatch.setattr(session_module, "FOLDER_LOCK_SECONDS", 0.5)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # takes the lock, says so, and stops itself
        fd = os.open(tmp_path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(write, b"1")
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    try:
        assert os.read(read, 1) == b"1"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "T":
                    break
            time.sleep(0.01)
        with (
            pytest.raises(
                StorageError,
                match=rf"stayed locked by another process for 0\.5 s while it opened the run "
                rf"\(held by process {child}, which is stopped \(Ctrl-Z, a suspended batch job\) "
                rf"and holds it until it resumes or ends: `kill -CONT {child}` resumes it\)",
            ),
            session_module.folder_lock(tmp_path),
        ):
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(read)
        os.close(write)


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="Linux's /proc/locks")
def test_a_run_folder_lock_of_a_process_that_forked_and_ended_names_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/proc/locks keeps the process that took a lock, though it forked and ended and its
    child holds the lock now: the message named a dead process (a review)."""
    import fcntl

    monkeypatch.setattr(session_module, "FOLDER_LOCK_SECONDS", 0.5)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # takes the lock, forks a holder, and ends
        fd = os.open(tmp_path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(30)
        os._exit(0)
    try:
        grandchild = int(os.read(read, 20))
        os.waitpid(child, 0)
        with (
            pytest.raises(StorageError) as raised,
            session_module.folder_lock(tmp_path),
        ):
            pass
        assert "(a process that hangs there, is suspended, or forked while holding it)" in str(
            raised.value
        )
        assert f"process {child}" not in str(raised.value)
    finally:
        os.kill(grandchild, signal.SIGKILL)
        os.close(read)
        os.close(write)
