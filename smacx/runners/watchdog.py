"""A watchdog that ends the processes of limited trials when the process running them dies.

A trial under a time or memory limit runs in a child process. What the target starts in
turn, say an external solver run with ``subprocess``, would be orphaned by a ``kill -9`` of
the run (or of a dask worker, or by the kernel's out-of-memory killer) and go on using a core
for as long as it likes. So each process that runs limited trials starts one small watchdog
process, with its first such trial (on POSIX systems, not in frozen applications). Each
trial's process tells the watchdog its pid as it starts, and marks its environment with a
token of its own (``SMACX_TRIAL``), which the programs it starts inherit. The watchdog reads
a pipe that only this process writes to: at a normal exit with no trial running this process
says so, and the watchdog leaves quietly; end of file without that word means this process
died (or exits with trials still running), and the watchdog suspends the trials' processes,
the processes that carry their tokens, and all their descendants, looks again until no new
process appears, and kills them. So a program that left its trial's process tree goes too: a
daemon that forked twice, ``sh -c "solver &"`` (also one an earlier trial left running), or
the child of a trial's process that pynisher killed at a SIGTERM of the run. The same sweep
ends, at once, what a trial that failed (timed out, ran out of memory, crashed) leaves
running (:func:`end_marked`); what a successful trial leaves running is its own business
until the run dies. Only this user's processes are looked at. The watchdog ends the
trials' processes itself (the kernel does not kill them with their parent, as it does on Linux
without a watchdog: see :func:`~smacx.runners.serial.die_with_parent`), so their process trees
are whole when it looks at them. Between trials it only waits on the pipe.

The trials' processes stay in this process's process group, so a Ctrl-C or Ctrl-Z typed in a
terminal reaches them as before. A program that left its trial's tree and cleared its
environment (``env -i``) escapes the watchdog; so does a process that the trial only forked
(its environment, as the system shows it, is the one its program started with). If the
watchdog cannot start, trials run as without it, and a warning says so once.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing.util
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "covers_this_process",
    "end_marked",
    "forking_a_trial",
    "guard",
    "new_token",
    "register_trial",
    "start",
    "stop",
]

logger = logging.getLogger("smacx")

# The watchdog (argv[1]: the folder psutil is imported from). Interrupts typed in the
# terminal, a hang-up, and a SIGTERM sent to the run's process group are the run's business:
# the watchdog acts when the run has gone.
_SCRIPT = """
import os, signal, sys
for name in ("SIGINT", "SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
sys.path.insert(0, sys.argv[1])
import psutil
os.write(1, b"ready\\n")

def marked(process, tokens):
    # Whether a process of this user carries one of the tokens (only this user's processes:
    # reading another's environment fails, and may block on its memory).
    try:
        if process.info["uids"] is None or process.info["uids"].real != os.getuid():
            return False
        return process.environ().get("SMACX_TRIAL") in tokens and process.pid != os.getpid()
    except Exception:
        return False

def polite(trials, tokens):
    # SIGTERM first to the trials' processes and those marked with their tokens, and up to a
    # second for them to end: a command's trap cleans up (cancels what a wrapper started).
    found = list(trials.values())
    if tokens:
        found += [p for p in psutil.process_iter(["uids"]) if marked(p, tokens)]
    for process in found:
        try:
            process.terminate()
        except psutil.Error:
            pass
    if found:
        psutil.wait_procs(found, timeout=1.0)

def sweep(trials, tokens):
    polite(trials, tokens)
    # Suspend the trials' processes, those marked with their tokens and all descendants,
    # looking again until no new one appears, then kill them.
    tree = {}
    live = {}
    for pid, process in trials.items():
        try:
            if process.is_running():  # (the same process: psutil compares start times)
                live[pid] = process
        except psutil.Error:
            pass
    for _ in range(10):
        children, new = {}, dict(live)
        for process in psutil.process_iter(["ppid", "uids"]):
            children.setdefault(process.info["ppid"], []).append(process)
            if tokens and marked(process, tokens):
                new.setdefault(process.pid, process)
        todo = list(new)
        while todo:
            for child in children.get(todo.pop(), []):
                if child.pid not in new:
                    new[child.pid] = child
                    todo.append(child.pid)
        fresh = [p for pid, p in new.items() if pid not in tree]
        tree.update(new)
        for process in fresh:
            try:
                process.suspend()
            except psutil.Error:
                pass
        if not fresh:
            break
    for process in tree.values():
        try:
            if process.is_running():
                process.kill()
        except psutil.Error:
            pass

# The live trials' processes, and the tokens of every trial so far: what a trial left
# running when it ended goes too, when the run dies.
trials, tokens, buffer = {}, set(), b""
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    buffer += chunk
    *lines, buffer = buffer.split(b"\\n")
    for line in lines:
        if line == b"exit":
            sys.exit(0)
        if line.startswith(b"~"):  # a trial's process was killed: end what it started
            try:
                sweep({}, {line[1:].decode()})
            except Exception:
                pass
        if line.startswith(b"="):  # a token only: its processes are found by it
            tokens.add(line[1:].decode())
        if line.startswith(b"+"):
            pid, token, started = (line[1:].split(b" ") + [b"", b""])[:3]
            tokens.add(token.decode())
            try:
                process = psutil.Process(int(pid))
                # (the trial's process may have ended, and its pid gone to another, before
                # this line was read: then it is not the trial's)
                if abs(process.create_time() - float(started)) < 2.0:
                    trials[int(pid)] = process
            except (ValueError, psutil.Error):
                pass
    for pid, process in list(trials.items()):
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            pass
        del trials[pid]
sweep(trials, tokens)
"""

#: Seconds to wait for the watchdog to start.
_START_SECONDS = 10.0

_lock = threading.Lock()
_proc: subprocess.Popen[bytes] | None = None
_write: int | None = None  # the pipe's write end, held by this process only
_report: int | None = None  # a copy of it, for trial processes to report on
_owner = 0  # the process that started _proc (a forked child inherits the variables, not it)
_hooked = 0  # the process that registered the exit hooks
_fork_hooked = False
_failed = 0  # the process in which the watchdog failed to start (not tried again there)
_in_flight = 0  # trials this process is starting or running (see forking_a_trial)
_forking = threading.local()  # .trial: this thread is starting a trial's process; .token
_tokens = itertools.count()


def start() -> bool:
    """Start this process's watchdog unless it runs already.

    Returns:
        Whether there is a watchdog: not on Windows, in a frozen application (whose
        executable is not a Python), nor when it failed to start in this process (a
        warning says why, once).
    """
    global _proc, _write, _report, _owner, _hooked, _fork_hooked, _failed
    with _lock:
        pid = os.getpid()
        if _proc is not None and _owner == pid and _proc.poll() is None:
            return True
        if _proc is not None and _owner == pid:  # it died: trials since are not covered
            logger.warning("the watchdog of limited trials' processes died; starting another")
            _close_fds()
            _proc.wait()
            _proc = None
        if (
            os.name != "posix"
            or not sys.executable
            or getattr(sys, "frozen", False)
            or _failed == pid
        ):
            return False
        if not _fork_hooked:  # (a forked process inherits the hook and this flag)
            _fork_hooked = True
            os.register_at_fork(after_in_child=_forget)
        read, _write = os.pipe()  # published first: a fork from now on closes it (_forget)
        proc: subprocess.Popen[bytes] | None = None
        try:
            import psutil

            where = os.path.dirname(os.path.dirname(os.path.abspath(psutil.__file__)))
            proc = subprocess.Popen(
                [sys.executable, "-c", _SCRIPT, where],
                stdin=read,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
            assert proc.stdout is not None
            with selectors.DefaultSelector() as selector:  # (select() fails at fds >= 1024)
                selector.register(proc.stdout, selectors.EVENT_READ)
                ready = selector.select(_START_SECONDS)
            line = proc.stdout.readline() if ready else b""
            proc.stdout.close()
            if line != b"ready\n":
                raise OSError("it did not start")
            _report = os.dup(_write)
        except Exception as err:
            _failed = pid
            logger.warning(
                "no watchdog for trials' processes (%s): if this process is killed, "
                "programs that its trials started may run on",
                err,
            )
            _close_fds()
            if proc is not None:
                with contextlib.suppress(OSError):
                    proc.kill()
                proc.wait()
            return False
        finally:
            os.close(read)
        _proc, _owner = proc, pid
        if _hooked != pid:
            _hooked = pid
            atexit.register(stop)
            # A multiprocessing child ends with os._exit, after multiprocessing's
            # finalizers but without atexit hooks.
            multiprocessing.util.Finalize(None, stop, exitpriority=0)
        logger.debug("watchdog %d guards the processes of limited trials", proc.pid)
        return True


@contextlib.contextmanager
def forking_a_trial() -> Iterator[str]:
    """While the block runs, processes this thread forks are trials' processes: they keep a
    way to report to the watchdog (:func:`register_trial`); all others lose it at the fork.
    The trial counts as in flight (see :func:`stop`) until the block ends.

    Yields:
        The token the trial's process marks its environment with (see :func:`end_marked`).
    """
    global _in_flight
    with _lock:
        _in_flight += 1
    token = new_token()
    _forking.trial, _forking.token = True, token
    try:
        yield token
    finally:
        _forking.trial, _forking.token = False, None
        with _lock:
            _in_flight -= 1


def forking_a_trial_now() -> bool:
    """Whether this thread is within :func:`forking_a_trial`: a process it forks now is a
    trial's."""
    return bool(getattr(_forking, "trial", False))


def new_token() -> str:
    """A token for a trial's processes to carry in their environment (``SMACX_TRIAL``)."""
    return f"{os.getpid()}-{next(_tokens)}-{secrets.token_hex(4)}"


def guard(token: str) -> bool:
    """Have the watchdog end the processes marked with ``token`` (``SMACX_TRIAL`` in their
    environment) and all their descendants, if this process dies first. (By the token, not
    by a pid: a process that ended may have its pid taken by another before the run dies.)

    For a program that a trial run in this process started (a trial without limits runs
    here, and its programs would outlive a killed run): a command target's. Starts the
    watchdog if none runs yet.

    Returns:
        Whether the watchdog has it (False where there is no watchdog).
    """
    if not start():
        return False
    with _lock:
        if _write is None or _owner != os.getpid():
            return False
        try:
            os.write(_write, b"=%s\n" % token.encode())
        except OSError:
            return False
    return True


def end_marked(token: str) -> None:
    """Have the watchdog end, now, every process marked with a trial's ``token`` and their
    descendants (the trial failed, or its process was killed, and what it started lives on:
    pynisher kills only the trial's process, at a time limit or a SIGTERM of the run). The
    watchdog does it on its own time; nothing without a watchdog."""
    with _lock:
        if _write is not None and _owner == os.getpid():
            with contextlib.suppress(OSError):
                os.write(_write, b"~%s\n" % token.encode())


def folder_prefix() -> str:
    """The prefix of a temporary folder that a trial's code makes (a command's
    ``{trial_dir}``): with the trial's token in a trial's process, so that
    :func:`remove_folders` finds the folders of a trial killed at its limit, whose own
    clean-up never ran."""
    token = os.environ.get("SMACX_TRIAL")
    return f"smacx-trial-{token}-" if token else "smacx-trial-"


def remove_folders(token: str) -> None:
    """Remove the temporary folders that the trial of ``token`` made (:func:`folder_prefix`)
    and left: it was killed at a time or memory limit (a timed-out command's ``{trial_dir}``
    stayed in /tmp, one per time-out, with what the command wrote)."""
    for folder in Path(tempfile.gettempdir()).glob(f"smacx-trial-{token}-*"):
        shutil.rmtree(folder, ignore_errors=True)


def covers_this_process() -> bool:
    """In a process just forked: whether it is a trial's process that the watchdog will end
    with the run (so the kernel need not: see :func:`~smacx.runners.serial.die_with_parent`,
    which would kill it before the watchdog has seen what it started)."""
    return bool(getattr(_forking, "trial", False)) and _report is not None


def register_trial() -> bool:
    """In a trial's process (forked in :func:`forking_a_trial`): tell the watchdog this
    process's pid, then let go of the pipe.

    Returns:
        Whether the watchdog has it (False without a watchdog, or when it is gone).
    """
    global _report
    fd, _report = _report, None
    token = getattr(_forking, "token", None)
    _forking.trial, _forking.token = False, None  # forks of this process are no trials' ones
    if token is not None:  # inherited by the programs the target starts
        os.environ["SMACX_TRIAL"] = token
    if fd is None or token is None:
        return False
    try:
        os.write(fd, b"+%d %s %.3f\n" % (os.getpid(), token.encode(), _started()))
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _started() -> float:
    """This process's start time, as psutil gives it (0 if it cannot)."""
    try:
        import psutil

        return float(psutil.Process().create_time())
    except Exception:
        return 0.0


def stop() -> None:
    """Let this process's watchdog go without killing anything, and reap it; with trials
    still running (an exit that does not wait for them), leave it to end them when this
    process is gone. Runs at exit."""
    global _proc
    with _lock:
        proc, _proc = _proc, None
        if proc is None or _owner != os.getpid():
            return
        if _in_flight == 0 and _write is not None:
            with contextlib.suppress(OSError):
                os.write(_write, b"exit\n")
        _close_fds()
        if _in_flight == 0:
            try:
                proc.wait(timeout=5.0)  # it reads one line
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def _close_fds() -> None:
    global _write, _report
    for fd in (_write, _report):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    _write = _report = None


def _forget() -> None:
    """In a process forked from this one: drop the copy of the pipe, so that only the process
    that started the watchdog holds it open (else its end of file would wait for every
    fork), except for the copy a trial's process reports on. The lock may have been held by
    another thread at the fork: it is replaced, not taken."""
    global _proc, _write, _report, _lock, _in_flight
    _lock = threading.Lock()
    _in_flight = 0
    if _proc is not None:
        # Never reaped here: it is not this process's child. (Its Popen, at this process's
        # exit, warned "subprocess ... is still running" under -W error and -X dev; an audit.)
        _proc._child_created = False  # type: ignore[attr-defined]
        _inherited.append(_proc)
        _proc = None
    if _write is not None:
        with contextlib.suppress(OSError):
            os.close(_write)
        _write = None
    if not getattr(_forking, "trial", False) and _report is not None:
        with contextlib.suppress(OSError):
            os.close(_report)
        _report = None


_inherited: list[subprocess.Popen[bytes]] = []
