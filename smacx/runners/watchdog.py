"""A watchdog that ends the processes of limited trials when the process running them dies.

A trial under a time or memory limit runs in a child process, which dies with its parent on
Linux (:func:`~smacx.runners.serial.die_with_parent`). What the target starts in turn, say an
external solver run with ``subprocess``, would be orphaned by a ``kill -9`` of the run (or of a
dask worker, or by the kernel's out-of-memory killer) and go on using a core for as long as it
likes. So each process that runs limited trials starts one small watchdog process, with its
first such trial. Each trial's process tells the watchdog its pid as it starts. The watchdog
reads a pipe that only this process writes to: at a normal exit this process says so and the
watchdog leaves quietly; end of file without that word means this process died, and the
watchdog stops the trials' processes and all their descendants, then kills them. It ends
the trials' processes itself (they are not killed by the kernel with their parent, as they
are without a watchdog), so their process trees are whole when it looks at them. Between
trials it only waits on the pipe.

The trials' processes stay in this process's process group, so a Ctrl-C or Ctrl-Z typed in a
terminal reaches them as before. A program that left the tree (a daemon that forked twice,
or one started with ``sh -c "solver &"``) escapes the watchdog.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator

__all__ = ["covers_this_process", "forking_a_trial", "register_trial", "start", "stop"]

logger = logging.getLogger("smacx")

# The watchdog. Interrupts typed in the terminal, and a SIGTERM sent to the run's process
# group, are the run's business: the watchdog acts when the run has gone.
_SCRIPT = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
import psutil
sys.stdout.write("ready\\n")
sys.stdout.flush()
trials, buffer = {}, b""
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    buffer += chunk
    *lines, buffer = buffer.split(b"\\n")
    for line in lines:
        if line == b"exit":
            sys.exit(0)
        if line.startswith(b"+"):
            try:
                trials[int(line[1:])] = psutil.Process(int(line[1:]))
            except (ValueError, psutil.Error):
                pass
    for pid, process in list(trials.items()):
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            pass
        del trials[pid]
# The run died. Its trials' processes live on (the watchdog, not the kernel, ends them), so
# their trees are whole: stopped first, looked at once more, then killed, none escapes.
for stop_them in (True, False):
    children = {}
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(process.info["ppid"], []).append(process)
    tree, todo = list(trials.values()), list(trials)
    while todo:
        for child in children.get(todo.pop(), []):
            tree.append(child)
            todo.append(child.pid)
    for process in tree:
        try:
            if process.is_running():
                process.suspend() if stop_them else process.kill()
        except psutil.Error:
            pass
"""

#: Seconds to wait for the watchdog to start.
_START_SECONDS = 10.0

_lock = threading.Lock()
_proc: subprocess.Popen[bytes] | None = None
_report: int | None = None  # a copy of the pipe's write end, for trial processes to report on
_owner = 0  # the process that started _proc (a forked child inherits the variables, not it)
_hooked = 0  # the process that registered the exit hooks
_fork_hooked = False
_forking = threading.local()  # .trial: this thread is starting a trial's process


def start() -> bool:
    """Start this process's watchdog unless it runs already.

    Returns:
        Whether there is a watchdog: not on Windows, in a frozen application (whose
        executable is not a Python), nor when it failed to start (logged at debug level;
        trials then run as without it).
    """
    global _proc, _report, _owner, _hooked, _fork_hooked
    with _lock:
        if _proc is not None and _owner == os.getpid() and _proc.poll() is None:
            return True
        if os.name != "posix" or not sys.executable or getattr(sys, "frozen", False):
            return False
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as err:
            logger.debug("no watchdog for the processes of limited trials: %s", err)
            return False
        assert proc.stdout is not None and proc.stdin is not None
        ready = select.select([proc.stdout], [], [], _START_SECONDS)[0]
        line = proc.stdout.readline() if ready else b""
        proc.stdout.close()
        if line != b"ready\n":
            logger.debug("no watchdog for the processes of limited trials: it did not start")
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
            return False
        _proc, _report, _owner = proc, os.dup(proc.stdin.fileno()), os.getpid()
        if not _fork_hooked:  # (a forked process inherits the hook and this flag)
            _fork_hooked = True
            os.register_at_fork(after_in_child=_forget)
        if _hooked != os.getpid():
            _hooked = os.getpid()
            atexit.register(stop)
            # A multiprocessing child (a dask worker, say) ends with os._exit: atexit hooks do
            # not run there, but multiprocessing's finalizers do.
            multiprocessing.util.Finalize(None, stop, exitpriority=0)
        logger.debug("watchdog %d guards the processes of limited trials", proc.pid)
        return True


@contextlib.contextmanager
def forking_a_trial() -> Iterator[None]:
    """While the block runs, processes this thread forks are trials' processes: they keep a
    way to report to the watchdog (:func:`register_trial`); all others lose it at the fork."""
    _forking.trial = True
    try:
        yield
    finally:
        _forking.trial = False


def covers_this_process() -> bool:
    """In a process just forked: whether it is a trial's process that the watchdog will end
    with the run (so the kernel need not: see :func:`~smacx.runners.serial.die_with_parent`,
    which would kill it before the watchdog has seen what it started)."""
    return bool(getattr(_forking, "trial", False)) and _report is not None


def register_trial() -> None:
    """In a trial's process (forked in :func:`forking_a_trial`): tell the watchdog this
    process's pid, then let go of the pipe. Does nothing without a watchdog."""
    global _report
    fd, _report = _report, None
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, b"+%d\n" % os.getpid())
    with contextlib.suppress(OSError):
        os.close(fd)


def stop() -> None:
    """Let this process's watchdog go without killing anything, and reap it. Runs at exit."""
    global _proc, _report
    with _lock:
        proc, _proc = _proc, None
        if proc is None or _owner != os.getpid():
            return
        if _report is not None:
            with contextlib.suppress(OSError):
                os.close(_report)
            _report = None
        with contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.write(b"exit\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=5.0)  # it reads one line
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def _forget() -> None:
    """In a process forked from this one: drop the copy of the pipe, so that only the process
    that started the watchdog holds it open (else its end of file would wait for every
    fork), except for the copy a trial's process reports on. The lock may have been held by
    another thread at the fork: it is replaced, not taken."""
    global _proc, _report, _lock
    _lock = threading.Lock()
    proc, _proc = _proc, None
    if proc is None:
        return
    _inherited.append(proc)  # never reaped here: it is not this process's child
    with contextlib.suppress(OSError, ValueError):
        assert proc.stdin is not None
        proc.stdin.close()
    if not getattr(_forking, "trial", False) and _report is not None:
        with contextlib.suppress(OSError):
            os.close(_report)
        _report = None


_inherited: list[subprocess.Popen[bytes]] = []
