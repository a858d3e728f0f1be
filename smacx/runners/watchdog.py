"""A watchdog that ends the processes of limited trials when the process running them dies.

A trial under a time or memory limit runs in a child process, which dies with its parent
(:func:`~smacx.runners.serial.die_with_parent`). What the target starts in turn, say an external
solver run with ``subprocess``, would be orphaned by a ``kill -9`` of the run (or of a dask
worker, or by the kernel's out-of-memory killer) and go on using a core for as long as it
likes. So each such child joins the process group of a watchdog: one small process per
process that runs limited trials, started with the first of them. The watchdog reads a pipe
that only this process writes to. At a normal exit this process says so and the watchdog leaves
quietly; end of file without that word means this process died, and the watchdog kills its own
process group, which holds every trial process and everything they started (unless a program
moved itself to a group or session of its own, as ``subprocess.Popen(start_new_session=True)``
does).

A trial process in the watchdog's group is not in the terminal's foreground group, so a Ctrl-C
typed there reaches only this process, which stops the trial and its descendants itself (as
pynisher does at an interrupt).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import os
import subprocess
import sys
import threading

__all__ = ["join_group", "start"]

logger = logging.getLogger("smacx")

# The watchdog: a group of its own, then wait. Interrupts typed in the terminal are this
# process's business, and SIGTERM sent to the run's process group must not end the watchdog
# before the run has had a chance to exit cleanly.
_SCRIPT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.setpgid(0, 0)
sys.stdout.write("ready\\n")
sys.stdout.flush()
if sys.stdin.readline() != "exit\\n":
    os.killpg(0, signal.SIGKILL)
"""

_lock = threading.Lock()
_proc: subprocess.Popen[bytes] | None = None
_owner = 0  # the process that started _proc (a forked child inherits the variables, not it)
_hooked = False


def start() -> int | None:
    """Start this process's watchdog unless it runs already.

    Returns:
        The process group a limited trial's child should join (see :func:`join_group`), or
        None where there is no watchdog: not a POSIX system, no Python executable to start it
        with, or it failed to start (logged; trials then run as without it).
    """
    global _proc, _owner, _hooked
    with _lock:
        if _proc is not None and _owner == os.getpid() and _proc.poll() is None:
            return _proc.pid
        if os.name != "posix" or not sys.executable:
            return None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as err:
            logger.debug("no watchdog for the processes of limited trials: %s", err)
            return None
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        proc.stdout.close()
        if ready != b"ready\n":
            logger.debug("no watchdog for the processes of limited trials: it did not start")
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
            return None
        _proc, _owner = proc, os.getpid()
        if not _hooked:
            _hooked = True
            os.register_at_fork(after_in_child=_forget)
            atexit.register(stop)
            # A multiprocessing child (a dask worker, say) ends with os._exit: atexit handlers
            # do not run there, but multiprocessing's finalizers do.
            multiprocessing.util.Finalize(None, stop, exitpriority=0)
        logger.debug("watchdog %d guards the processes of limited trials", proc.pid)
        return proc.pid


def join_group(group: int | None) -> None:
    """In a limited trial's child process: join the watchdog's process ``group`` (from
    :func:`start` in the parent), so that the watchdog can end it and what it starts. Does
    nothing for None or when the group is gone."""
    if group is not None:
        with contextlib.suppress(OSError):
            os.setpgid(0, group)


def stop() -> None:
    """Let this process's watchdog go without killing anything, and reap it. Runs at exit."""
    global _proc
    with _lock:
        proc, _proc = _proc, None
        if proc is None or _owner != os.getpid():
            return
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.write(b"exit\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - it only reads one line
            proc.kill()
            proc.wait()


def _forget() -> None:
    """In a process forked from this one: drop the copy of the pipe, so that only the process
    that started the watchdog holds it open, and let the child start its own if it needs one.
    The lock may have been held by another thread at the fork: it is replaced, not taken."""
    global _proc, _lock
    _lock = threading.Lock()
    proc, _proc = _proc, None
    if proc is not None and proc.stdin is not None:
        _inherited.append(proc)  # never reaped here: it is not this process's child
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.close()


_inherited: list[subprocess.Popen[bytes]] = []
