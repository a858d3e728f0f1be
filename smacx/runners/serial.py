"""Run the target function in this process, one trial at a time, under pynisher's limits.

This module holds the only code that calls a target function: argument passing, time and memory
limits, timing, and turning whatever came back (or went wrong) into a :class:`TrialValue`.
Parallel runners ship :meth:`SerialRunner.run` to their workers, so every runner records trials
the same way.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import dataclasses
import errno
import functools
import inspect
import json
import logging
import math
import multiprocessing.util
import numbers
import os
import pickle
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from smacx.errors import (
    MachineError,
    ScenarioError,
    as_machine_error,
    clipped,
    keyword_hints,
    machine_error,
    safe_repr,
    safe_str,
    warn_caller,
)
from smacx.runhistory import config_to_json
from smacx.runners import watchdog
from smacx.runners.base import AbstractRunner
from smacx.scenario import Scenario
from smacx.trial import StatusType, TrialInfo, TrialValue

if TYPE_CHECKING:
    from ConfigSpace import Configuration

__all__ = ["SerialRunner", "TargetFunction", "TargetResult"]

logger = logging.getLogger("smacx")

#: Arguments smacx hands to a target that declares them.
TRIAL_ARGUMENTS = ("seed", "instance", "budget")

#: How the error of a trial whose target returned NaN or an infinite cost begins.
NON_FINITE = "the target returned a non-finite cost"

#: How a CommandTarget's error names a measurement of nan or inf.
NON_FINITE_MEASUREMENT = ", not a finite number"


#: A CommandTarget's error for a measurement of nan or inf, on the error's first line (what
#: the command printed follows on the next lines, and may say anything).
_DIVERGED_COMMAND = re.compile(
    rf"CommandError: [^\n]*?: the measurement is [-+]?(?:nan|inf)"
    rf"{re.escape(NON_FINITE_MEASUREMENT)}",
    re.IGNORECASE,
)


def diverged(error: str) -> bool:
    """Whether a crashed trial's ``error`` says its configuration gave a cost of nan or inf
    (a training run that diverged): a result of the configuration, not a fault of the target.
    The target returned it, or a command printed it as its measurement."""
    return error.startswith(NON_FINITE) or bool(_DIVERGED_COMMAND.match(error))


#: What a target returns, the cost of its trial; or one cost per objective (a sequence, an
#: array, or a dict by objective name, whose other keys are kept as the trial's additional
#: information); or either of them with a dict of additional information, as ``(cost, info)``.
TargetResult = (
    float
    | np.number[Any]
    | np.ndarray
    | Sequence[float]
    | Mapping[str, Any]
    | tuple[Any, Mapping[str, Any]]
)

#: A target, called with a configuration, and by keyword with whichever of ``seed``,
#: ``instance`` and ``budget`` it declares (and the scattered data of a dask run).
TargetFunction = Callable[..., TargetResult]


_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None


def load_prctl() -> None:
    """Look up libc's ``prctl`` for :func:`die_with_parent`, on Linux. Call it in the parent
    before forking: loading a library in a child forked from a process with threads can hang
    on a lock another thread held at the fork."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            _prctl = lambda *_: -1  # noqa: E731


def die_with_parent(parent: int, covered: bool | None = None) -> None:
    """In a child process on Linux: receive SIGKILL when the thread that forked it ends with
    its process ``parent`` (for instance at a ``kill -9``), and exit at once if that process is
    gone already. Nothing happens elsewhere, or when the parent did not call
    :func:`load_prctl`. A trial's process that the watchdog ``covered`` (by default: whether
    :func:`smacx.runners.watchdog.covers_this_process`) is left to the watchdog, which ends it
    and all it started.
    """
    if _prctl is None:
        return
    if not (watchdog.covers_this_process() if covered is None else covered):
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def children_now() -> set[Any]:
    """multiprocessing's set of this process's children, as a copy (see
    :func:`forget_reaped_children`)."""
    children = getattr(multiprocessing.process, "_children", None)
    return set(children) if isinstance(children, set) else set()


def forget_reaped_children(before: set[Any]) -> None:
    """Drop from multiprocessing's set of this process's children the forked ones that were
    added since ``before`` (:func:`children_now`) and have ended and been reaped.

    pynisher waits for a trial's process with psutil, which reaps it: multiprocessing then
    never learns that it ended, and keeps it in its set, with the two pipes of each such
    process open (a run under limits ran out of file descriptors after about 500 trials).
    Dropped, a process object is collected, and multiprocessing's finalizer closes its pipes.
    Only forked processes, which are this process's own children: a forkserver's are not,
    and must stay in the set for multiprocessing to end them at exit. One that ran on, or
    ended and waits to be reaped, is left alone; one reaped here gets its exit code.
    """
    children = getattr(multiprocessing.process, "_children", None)
    if not isinstance(children, set):  # pragma: no cover - other Pythons
        return
    for process in list(children - before):
        popen: Any = getattr(process, "_popen", None)
        pid = getattr(popen, "pid", None)
        if (
            getattr(popen, "method", None) != "fork"
            or not isinstance(pid, int)
            or getattr(popen, "returncode", None) is not None
        ):
            continue
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else (psutil): it has ended
            children.discard(process)
            continue
        if done:  # ended just now: reaped here, as multiprocessing would have
            popen.returncode = os.waitstatus_to_exitcode(status)
            children.discard(process)


#: How long a limited trial's process lives on after its target returned (see _Measured).
_LINGER_SECONDS = 1.0

#: Characters of a failed trial's error message and traceback that are kept (the rest is cut
#: in the middle; see clipped).
_ERROR_CHARS = 2_000
_TRACEBACK_CHARS = 20_000

#: Modules that keep one process pool for a whole process: joblib's (``n_jobs`` in
#: scikit-learn) and the loky package it vendors.
_REUSABLE_POOLS = ("joblib.externals.loky.reusable_executor", "loky.reusable_executor")


def _forget_inherited_pools() -> None:
    """In a trial's forked process: drop the process pools it inherited from its parent.

    A script that ran anything with ``n_jobs > 1`` before ``optimize()`` (a baseline
    ``cross_val_score``) holds joblib's pool. A forked child inherits the pool object but not
    its worker processes' connections nor its management thread, and a target that used
    ``n_jobs > 1`` in the child waited on it until the trial's time limit, or for good. With
    the pool forgotten, the first use in the child starts a pool of its own.
    """
    for name in _REUSABLE_POOLS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "_executor", None) is not None:
            # (a fresh lock too: a thread of the parent may have held it at the fork)
            vars(module).update(
                _executor=None, _executor_kwargs=None, _executor_lock=threading.RLock()
            )


def close_reusable_pools() -> None:
    """In a trial's forked process, as its target returned (or a dask worker of the runner's
    own cluster, as it closes): shut down the process pool that joblib started there
    (``n_jobs > 1``), whose workers, semaphores and folder of memory-mapped arrays the
    process's exit would otherwise leave to loky's resource tracker, which warned of each as
    leaked.

    The workers are let finish (killed, they left their semaphores behind just the same),
    for up to ``_POOL_SHUTDOWN_SECONDS``: a pool still busy with work the target left
    running is killed then, so that the trial's result is not held back.
    """
    for name in _REUSABLE_POOLS:
        module = sys.modules.get(name)
        executor = getattr(module, "_executor", None) if module is not None else None
        if executor is None:
            continue
        # (joblib's own executor also removes its folder of memory-mapped arrays then)
        stop = getattr(executor, "terminate", None) or executor.shutdown
        try:
            closing = threading.Thread(target=stop, kwargs={"kill_workers": False}, daemon=True)
            closing.start()
            closing.join(_POOL_SHUTDOWN_SECONDS)
            if closing.is_alive():
                stop(kill_workers=True)
        except Exception:  # (no thread under a tight memory limit, or the pool broke)
            with contextlib.suppress(Exception):
                stop(kill_workers=True)


def _stop_own_resource_trackers() -> None:
    """In a trial's forked process, as its target returned: stop the resource trackers that
    the process started (multiprocessing's and loky's, for a pool of ``n_jobs > 1``). They
    ignore SIGTERM, and pynisher, which ends the trial's process tree, waited 1.3 to 1.9 s
    for them per trial (an ML workflow audit); stopped here, in milliseconds. A tracker
    inherited from the run's process is the run's, and is left alone. (Through the
    trackers' ``_stop``, the one way to stop them; in a thread, for at most a second.)"""
    import psutil

    own: set[int] = set()
    with contextlib.suppress(psutil.Error):
        own = {child.pid for child in psutil.Process().children()}
    for name in (
        "multiprocessing.resource_tracker",
        "joblib.externals.loky.backend.resource_tracker",
    ):
        tracker = getattr(sys.modules.get(name), "_resource_tracker", None)
        stop = getattr(tracker, "_stop", None)
        if getattr(tracker, "_pid", None) in own and callable(stop):
            stopping = threading.Thread(target=stop, daemon=True)
            with contextlib.suppress(Exception):  # (no thread under a tight memory limit)
                stopping.start()
                stopping.join(_TRACKER_STOP_SECONDS)


#: Signals a batch system or a terminal stops a job with: a trial (its process, or a command)
#: that died of one waits STOP_GRACE_SECONDS for the run's own before it is recorded.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: Seconds a trial that died of one of STOP_SIGNALS waits for the run's own.
STOP_GRACE_SECONDS = 1.0

#: Seconds a trial's process waits for a resource tracker it started to stop.
_TRACKER_STOP_SECONDS = 1.0

#: Seconds a trial's process waits for the joblib pool it started to shut down.
_POOL_SHUTDOWN_SECONDS = 5.0


#: The attributes of a log record that travel from a trial's child process (its message goes
#: as ``msg``, formatted, with the traceback of ``exc_info`` if any).
_RECORD_FIELDS = (
    "name", "levelno", "levelname", "pathname", "filename", "module", "lineno", "funcName",
    "created", "msecs", "thread", "threadName", "process", "processName",
)  # fmt: skip

#: Most bytes of one record in the log pipe: a write of at most PIPE_BUF (4096 on Linux) is
#: whole or not at all, so records never interleave.
_RECORD_BYTES = 4000


class _LogPipe:
    """Carries what smacx logs in a limited trial's child process to this one, as it is
    logged: a record survives a child killed at its limit (a warning that explains the
    TIMEOUT, say). Logged there through the handlers the child inherited, a record reached
    the same stream, but missed what collects this process's records: on a dask worker,
    the warnings that go back to the run's process.

    Made before the fork; the child installs :meth:`sending` on its copy of the logger, and
    this process reads with :meth:`received` once the trial has ended. The pipe does not
    block the child: past its capacity (1 MB where Linux allows), records are dropped."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        os.set_blocking(self._read, False)
        with contextlib.suppress(Exception):  # (Linux: F_SETPIPE_SZ)
            import fcntl

            fcntl.fcntl(self._write, 1031, 1 << 20)

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """In the child: smacx's records go into the pipe, not to the inherited handlers."""
        handler = _PipeHandler(self._write)
        kept = (logger.handlers[:], logger.propagate)
        logger.handlers[:] = [handler]  # (the child's own copy of the logger)
        logger.propagate = False
        try:
            yield
        finally:
            logger.handlers[:], logger.propagate = kept

    def received(self) -> None:
        """In this process, after the trial: log each record the child sent, as it was."""
        os.close(self._write)
        chunks = []
        try:
            while chunk := os.read(self._read, 1 << 16):
                chunks.append(chunk)
        except BlockingIOError:  # (a process the target forked holds the write end still)
            pass
        finally:
            os.close(self._read)
        for line in b"".join(chunks).splitlines():
            with contextlib.suppress(Exception):  # a damaged record: skipped
                record = logging.makeLogRecord(json.loads(line))
                if logger.isEnabledFor(record.levelno):
                    logger.handle(record)


class _PipeHandler(logging.Handler):
    """Writes each record to a :class:`_LogPipe` as one line of JSON."""

    def __init__(self, fd: int) -> None:
        super().__init__(logging.NOTSET)
        self.fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # (a full pipe: dropped)
            fields = {name: getattr(record, name, None) for name in _RECORD_FIELDS}
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            fields["msg"] = message
            data = (json.dumps(fields, default=str) + "\n").encode()
            if len(data) > _RECORD_BYTES:
                fields["msg"] = message[: _RECORD_BYTES // 2] + " [...]"
                data = (json.dumps(fields, default=str) + "\n").encode()[:_RECORD_BYTES]
                if not data.endswith(b"\n"):
                    return
            os.write(self.fd, data)


class _Measured:
    """Calls the target and reports how it went, without raising (runs in pynisher's child).

    Returns a tuple ``(kind, payload, cpu_seconds)`` where kind is ``"ok"`` (payload: the
    target's return value and the seconds the call took, as a pair), ``"memoryout"`` or
    ``"error"`` (payload: a dict with the error and its traceback). Catching here keeps the
    traceback, which pynisher would lose.

    Every exception of the target is caught, ``BaseException`` subclasses such as
    ``SystemExit`` and ``asyncio.CancelledError`` included, except ``KeyboardInterrupt`` (also
    inside an exception group): a user's Ctrl-C stops the run.
    """

    def __init__(
        self,
        fn: TargetFunction,
        in_child: bool,
        interrupts_stop: bool = True,
        memory_limit: int | None = None,
        log_pipe: _LogPipe | None = None,
    ) -> None:
        self.fn = fn
        self.log_pipe = log_pipe  # where the child sends smacx's records (see _LogPipe)
        self.in_child = in_child
        self.interrupts_stop = interrupts_stop
        self.memory_limit = memory_limit  # MB (trial_memory_limit), named in a MemoryError
        self.parent = os.getpid()  # the process that starts the child
        # (the start method the script chose, None if none; the child is forked all the same)
        self.start_method = multiprocessing.get_start_method(allow_none=True)
        if in_child:
            load_prctl()

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[str, Any, float]:
        if self.in_child:
            # A run killed with kill -9 cannot enforce the limits any more: its trial goes too,
            # and what the target starts, ended by the watchdog (or by the kernel without one).
            die_with_parent(self.parent, covered=watchdog.register_trial())
            # pynisher's parent installs a SIGTERM handler before forking; the child inherits it
            # and would ignore the terminate sent at the time limit, dying only at the SIGKILL
            # that follows 5 s later. The default handler ends the child at once.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # A process forked by multiprocessing takes "fork" for its own start method: the
            # target's pools (a DataLoader's) forked although the script chose "spawn", as they
            # do not without limits (a platforms audit's finding). Not "forkserver": this
            # process would use the run's server, which is not its child (a review).
            if self.start_method == "spawn":
                multiprocessing.set_start_method("spawn", force=True)
            _forget_inherited_pools()
        if self.in_child:
            # pynisher's parent polls its pipe, then checks whether the child lives: a child
            # that sends its outcome and exits between the two has it lost, reported as an exit
            # without a result (1 to 4 trials in 100 with two threads running limited trials).
            # The child lives on a while after pynisher sent the outcome: a finalizer of
            # multiprocessing's, run as the child exits, in this thread. (A thread of its own
            # failed twice: forked from a dask worker's daemon thread it was a daemon too, and
            # the process did not wait for it; under a memory limit below what the process had
            # mapped it could not start, and the child hung.) The parent ends the child as
            # soon as it has the outcome (SIGTERM, handled by default).
            with contextlib.suppress(MemoryError):
                multiprocessing.util.Finalize(None, _linger, exitpriority=0)
        if not self.in_child:
            return self._outcome(*args, **kwargs)
        try:
            with self.log_pipe.sending() if self.log_pipe else contextlib.nullcontext():
                return self._outcome(*args, **kwargs)
        finally:
            # (never in place of the outcome: a target that used up the process's files made
            # the clean-up fail, and its EMFILE was taken for the machine's; a review)
            with contextlib.suppress(Exception):
                close_reusable_pools()
            with contextlib.suppress(Exception):
                _stop_own_resource_trackers()
            # A run of the target's own with limits (a nested optimization) started a
            # watchdog here, which ignores SIGTERM: pynisher waited for it, 1.8 s per trial
            # (an audit). (The run's own watchdog is not this process's, and stays.)
            with contextlib.suppress(Exception):
                watchdog.stop()
            # The parent's SIGTERM, once it has the outcome, ends this process (see _linger);
            # a handler the target installed (to save a checkpoint, say) took it, and the
            # process lived on for the whole wait.
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _memory_error(self, err: BaseException) -> str:
        """The error of a trial that ran out of memory, with the limit and what the trial's
        process maps when it has one."""
        text = clipped(safe_str(err), _ERROR_CHARS)
        # (a MemoryError's own text, if any, says what failed; the others' do not say why)
        said = isinstance(err, MemoryError) and bool(text)
        error = f"{type(err).__name__}: {text or 'an allocation failed'}"
        mapped = mapped_mb() if self.in_child and self.memory_limit is not None else None
        if mapped is not None:
            error += (
                f"{'' if said else ' under trial_memory_limit'} "
                f"(trial_memory_limit={self.memory_limit} MB; the trial's process now maps "
                f"{mapped:.0f} MB, counting what it inherited from the process that forked it)"
            )
        return error

    def _outcome(self, *args: Any, **kwargs: Any) -> tuple[str, Any, float]:
        cpu = time.process_time()
        grouped: str | None = None  # an interrupt inside an exception group, in the child
        sigints = sigints_here()
        started = time.monotonic()
        pid = os.getpid()
        try:
            try:
                result = self.fn(*args, **kwargs)
            except BaseException as err:
                if os.getpid() != pid:
                    _leave_forked_child(err)
                raise
            if os.getpid() != pid:
                _leave_forked_child(None)
            took = time.monotonic() - started
        except MemoryError as err:
            return "memoryout", {"error": self._memory_error(err)}, time.process_time() - cpu
        # A target's failure is data, not a reason to stop; so is a sys.exit() in it, or an
        # asyncio.CancelledError that its own event loop let escape. Only Ctrl-C stops the run.
        except BaseException as err:
            if isinstance(err, MachineError):  # (smacx's own set-up, not the configuration)
                return "machine", {"error": str(err)}, math.nan
            if self.in_child and self.memory_limit is not None and _out_of_memory(err):
                return "memoryout", {"error": self._memory_error(err)}, time.process_time() - cpu
            if not (_is_interrupt(err) and self.interrupts_stop):
                # (a str() that raises must not stop the run)
                text = clipped(safe_str(err), _ERROR_CHARS)
                error = f"{type(err).__name__}: {text}" if text else type(err).__name__
                error += _inactive_hint(err, args[0] if args else None)
                trace = clipped(traceback.format_exc(), _TRACEBACK_CHARS)
                info = {"error": error, "traceback": trace}
                if _sigint_arrived_since(sigints):
                    # A Ctrl-C of the run reached this dask worker and killed the programs the
                    # target started: no fault of the target, so no result (run again).
                    info["error"] = f"interrupted by a SIGINT to the worker: {error}"
                    return "interrupted", info, math.nan
                return "error", info, time.process_time() - cpu
            if not self.in_child or isinstance(err, KeyboardInterrupt):
                raise
            grouped = str(err)
        if grouped is not None:
            # An exception group cannot be unpickled in the parent, nor a plain interrupt
            # raised while handling one (the pickling of tracebacks that dask installs keeps
            # the context): a fresh interrupt stops the run there all the same.
            raise KeyboardInterrupt(grouped)
        spent = time.process_time() - cpu
        if self.in_child:  # the result goes back to the parent pickled
            try:
                pickle.dumps(result)
            except Exception as err:
                fixed = _with_picklable_info(result)
                if fixed is None:
                    error = (
                        f"the target's return value cannot be pickled: {type(err).__name__}: {err}"
                    )
                    return "error", {"error": error}, spent
                result = fixed
        return "ok", (result, took), spent


def _leave_forked_child(err: BaseException | None) -> NoReturn:
    """End a process that the target forked and that came back into smacx, by returning or
    raising (``sys.exit()`` at the end of a helper's work): as the process would have ended,
    without running smacx's clean-up, which belongs to the parent. Caught as a trial's
    failure, a ``sys.exit(0)`` there went on to run the optimization loop in the helper too,
    recording the trial CRASHED and running trials of its own on the same run (an audit's
    finding)."""
    code = 0
    if isinstance(err, SystemExit):
        if isinstance(err.code, int):
            code = err.code
        elif err.code is not None:
            print(err.code, file=sys.stderr)
            code = 1
    elif err is not None:
        traceback.print_exception(err)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is how a process at its address-space limit fails other than with a
    ``MemoryError``: an extension module it cannot map (``ImportError``), a thread it cannot
    start, an ``OSError`` ENOMEM (an mmap, a fork)."""
    text = safe_str(err)
    if isinstance(err, OSError) and err.errno == errno.ENOMEM:
        return True
    if isinstance(err, ImportError):
        return "failed to map segment" in text or "Cannot allocate memory" in text
    return isinstance(err, RuntimeError) and "can't start new thread" in text


def _linger() -> None:
    """Wait for the parent's SIGTERM at the end of a limited trial's process (see
    ``_Measured.__call__``), with SIGTERM's default action back: a target that handled or
    ignored SIGTERM (training code that saves a checkpoint on it) kept the process for the
    whole wait, a second per trial."""
    with contextlib.suppress(ValueError, OSError):  # (not in the main thread: cannot set it)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(_LINGER_SECONDS)


def _inactive_hint(err: BaseException, config: Any) -> str:
    """For a ``KeyError`` of a hyperparameter that ``config`` leaves inactive (its condition
    unmet, so the configuration holds no value for it), what happened and how to read it."""
    if not (isinstance(err, KeyError) and len(err.args) == 1 and isinstance(config, Mapping)):
        return ""
    name = err.args[0]
    space = getattr(config, "config_space", None)
    if not isinstance(name, str) or space is None or name not in space or name in config:
        return ""
    return (
        f" ({name!r} is inactive in this configuration, its condition unmet, so it holds no "
        f"value: read it with config.get({name!r}), which gives None then)"
    )


def mapped_mb() -> float | None:
    """Megabytes of address space this process maps (what ``trial_memory_limit`` limits in a
    trial's process, on Linux); None if the system does not say, or elsewhere (macOS counts
    hundreds of GB of address space for any process, which no limit there bounds)."""
    import psutil

    if not sys.platform.startswith("linux"):
        return None
    try:
        return float(psutil.Process().memory_info().vms) / 2**20
    except psutil.Error:  # pragma: no cover
        return None


#: Processes that warned of a memory limit below what they map (see below).
_warned_of_memory: set[int] = set()

#: What every warning that a trial's process inherits its parent's memory says (see
#: warn_of_inherited_memory; a dask runner relays one of them per run).
INHERITED_MEMORY = "of address space, which each trial's process inherits"


def warn_of_inherited_memory(limit_mb: float, on_a_worker: bool) -> None:
    """Warn once per process when this process maps more than half of ``limit_mb``
    (``trial_memory_limit``): a trial's process is forked from it and starts with all of
    that address space, so a trial that fits the limit in a fresh process may end MEMORYOUT.
    (A dask worker with scattered data maps several hundred MB.)

    In the run's process a ``UserWarning`` at the application's line (a script that set up
    no logging saw nothing, and every trial using half the limit ended MEMORYOUT); on a dask
    worker (``on_a_worker``) a record of the "smacx" logger, which dask passes on.
    """
    pid = os.getpid()
    if pid in _warned_of_memory:
        return
    mapped = mapped_mb()
    if mapped is None or mapped < 0.5 * limit_mb:
        return
    _warned_of_memory.add(pid)
    message = (
        f"trial_memory_limit={limit_mb:g} MB, but this process already maps {mapped:.0f} MB "
        f"{INHERITED_MEMORY} when it is forked from it: "
        f"the target's own Python code has {max(limit_mb - mapped, 0.0):.0f} MB left (a "
        "program it runs starts afresh, with the whole limit). Raise the limit by that much, "
        "or load large data inside the target."
    )
    if on_a_worker:
        logger.warning("%s", message)
    else:
        warn_caller(message)


def sigints_here() -> int:
    """How many SIGINTs this process has received, in a worker of a runner's own dask cluster
    (which counts them, see ``smacx.runners.dask``); 0 elsewhere.

    The handler that counts runs in the process's main thread, possibly after a target in a
    worker's thread saw its program die of the same signal; the worker's wakeup descriptor,
    read here, has the signal as soon as it is delivered. (A process forked for a limited
    trial counts with its handler only, in the main thread that runs its target.)
    """
    handler = signal.getsignal(signal.SIGINT)
    count = getattr(handler, "smacx_sigints", 0)
    count = count if isinstance(count, int) else 0
    wakeup = getattr(handler, "smacx_wakeup", None)
    if not (isinstance(wakeup, tuple) and len(wakeup) == 4 and wakeup[0] == os.getpid()):
        return count
    _, read_end, lock, delivered = wakeup
    with lock:
        with contextlib.suppress(OSError):  # BlockingIOError: nothing new
            while arrived := os.read(read_end, 4096):
                delivered[0] += arrived.count(signal.SIGINT)
        return max(count, int(delivered[0]))


#: Seconds a failed target waits at most for a SIGINT that another thread of its worker has
#: taken from the kernel but whose handler has not noted it yet (see _sigint_arrived_since).
#: A handler runs in microseconds once scheduled; a thread that blocks SIGINT for good (a
#: native thread pool's, faulthandler's watchdog) costs a failed trial this much.
SIGINT_HANDLING_WAIT = 0.1


def _sigint_arrived_since(before: int) -> bool:
    """Whether a SIGINT reached this process since ``sigints_here()`` was ``before``, or is on
    its way.

    A Ctrl-C is queued for the worker before the death of a trial's program can wake the
    target, but the thread that takes it from the kernel (any thread of the worker that does
    not block it) has it out of the pending sets before its handler writes to the wakeup
    descriptor; preempted in between (a loaded machine), the target saw neither, and its trial
    was recorded CRASHED. While a handler runs, the kernel blocks the signal in its thread:
    wait (briefly) for such a handler to finish, then count again.
    """
    if sigints_here() > before or _sigint_on_its_way():
        return True
    deadline = time.monotonic() + SIGINT_HANDLING_WAIT
    while _sigint_being_handled() and time.monotonic() < deadline:
        time.sleep(0.001)
        if sigints_here() > before:
            return True
    return sigints_here() > before or _sigint_on_its_way()


def _sigint_being_handled() -> bool:
    """Whether another thread of this process, one that counts SIGINTs, has SIGINT blocked
    now, as the kernel blocks it while its handler runs (Linux; False elsewhere)."""
    if not hasattr(signal.getsignal(signal.SIGINT), "smacx_sigints"):
        return False
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return False
    me = str(threading.get_native_id())
    return any(
        _has_sigint(f"/proc/self/task/{tid}/status", ("SigBlk:",)) for tid in tids if tid != me
    )


def _sigint_on_its_way() -> bool:
    """Whether a SIGINT sent to this process, one that counts them, has yet to be delivered
    (Linux: its status's pending sets; False elsewhere).

    A Ctrl-C reaches a trial's program and its dask worker together: the kernel has queued
    the worker's signal before the program's death can wake the target that waits for it,
    but may deliver it only later.
    """
    if not hasattr(signal.getsignal(signal.SIGINT), "smacx_sigints"):
        return False
    return _has_sigint("/proc/self/status", ("ShdPnd:", "SigPnd:"))


def _has_sigint(status: str, fields: tuple[str, ...]) -> bool:
    """Whether SIGINT is in any of the signal sets ``fields`` (e.g. ``"SigBlk:"``) of a
    ``/proc`` status file; False if it cannot be read (a thread that ended meanwhile)."""
    bit = 1 << (signal.SIGINT - 1)
    try:
        with open(status) as file:
            sets = [line.split() for line in file if line.startswith(fields)]
        return any(len(words) == 2 and int(words[1], 16) & bit for words in sets)
    except (OSError, ValueError):
        return False


def _with_picklable_info(result: Any) -> tuple[Any, dict[str, Any]] | None:
    """A ``(cost, info)`` result whose info values that cannot be pickled are replaced by their
    ``repr``, as the history stores them anyway (so a trial does not crash only because it
    ran under limits); None if the result is of another form or the cost cannot be pickled."""
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping)):
        return None
    fixed = (result[0], {k: v if _pickles(v) else repr(v) for k, v in result[1].items()})
    return fixed if _pickles(fixed) else None


def picklable(value: TrialValue) -> TrialValue:
    """``value`` with the values of its ``additional_info`` that cannot be pickled replaced by
    their ``repr`` (as the history stores them anyway), for a result that must travel, e.g.
    from a dask worker process: a trial that succeeded must not crash on the way back."""
    if _pickles(value):
        return value
    info = {k: v if _pickles(v) else safe_repr(v) for k, v in value.additional_info.items()}
    return dataclasses.replace(value, additional_info=info)


def _pickles(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


_worker = threading.local()


@contextlib.contextmanager
def _set_in_thread(flag: str) -> Iterator[None]:
    """``flag`` of this thread's ``_worker`` is True while the block runs."""
    previous = getattr(_worker, flag, False)
    setattr(_worker, flag, True)
    try:
        yield
    finally:
        setattr(_worker, flag, previous)


def interrupts_are_failures() -> contextlib.AbstractContextManager[None]:
    """While the block runs in this thread, a ``KeyboardInterrupt`` that the target raises
    (also inside an exception group) is the trial's failure, recorded as CRASHED like any
    other exception, instead of stopping the run: on a dask worker no Ctrl-C of the user
    arrives, only the process that runs ``optimize()`` gets one."""
    return _set_in_thread("interrupts_are_failures")


def results_logged_by_caller() -> contextlib.AbstractContextManager[None]:
    """While the block runs in this thread, :meth:`SerialRunner.run` leaves the logging of
    failed trials to its caller (:func:`log_failure`): on a dask worker, a log record would
    stay in the worker's process, away from the handlers of the user's."""
    return _set_in_thread("quiet")


#: Characters of a failed trial's error in its warning (its start and end).
_LOGGED_ERROR = 400


def log_failure(
    config: Configuration,
    instance: str | None,
    seed: int | None,
    budget: float | None,
    value: TrialValue,
) -> None:
    """Log a trial that did not succeed (a one-line warning, and the target's traceback, if
    any, at DEBUG; nothing for a success). An error of several lines (scikit-learn's "All
    the 3 fits failed" holds the fits' tracebacks, 20 lines and more) is on one line there,
    cut to ``_LOGGED_ERROR`` characters, and whole at DEBUG."""
    if value.status is StatusType.SUCCESS:
        return
    error = str(value.additional_info.get("error", ""))
    said = clipped(" ".join(error.split()), _LOGGED_ERROR)
    if value.status is StatusType.RUNNING:
        what = "was stopped: %s; it runs again."
        args: tuple[Any, ...] = ()
    else:
        what = "ended %s: %s"
        args = (value.status.name,)
    logger.warning(
        "Trial of %.200s (instance=%s, seed=%s, budget=%s) " + what,
        config_to_json(config),
        instance,
        seed,
        budget,
        *args,
        said,
    )
    if said != error:
        logger.debug("The trial's error:\n%s", error.rstrip())
    traceback_text = value.additional_info.get("traceback")
    if traceback_text:
        logger.debug("The trial's traceback:\n%s", str(traceback_text).rstrip())


@keyword_hints()
class SerialRunner(AbstractRunner):
    """Runs a target function in this process; ``submit_trial`` returns once the trial is done.

    The target is called as ``target_fn(config, **kwargs)`` where kwargs holds those of
    ``seed``, ``instance`` and ``budget`` that its signature declares (all of them if it takes
    ``**kwargs``), plus any data passed to ``submit_trial``. It returns the cost as a number, a
    dict of objective name to number, a sequence with one number per objective, or a tuple
    ``(cost, info_dict)``. Any exception (but a ``MemoryError``: MEMORYOUT), or a cost that is
    NaN, infinite or not a number, records the trial as CRASHED with the reason in
    ``additional_info``; that includes
    ``BaseException`` subclasses such as ``SystemExit`` and ``asyncio.CancelledError``, but not
    ``KeyboardInterrupt``, which stops the run.

    With ``Scenario.trial_walltime_limit`` or ``trial_memory_limit`` set, each trial runs in a
    forked child process under pynisher: going over the time limit gives TIMEOUT (a fractional
    limit counts too: under 1.5 s a trial is stopped about 0.1 s after it, as pynisher polls the
    child; a result that came after 1.5 s is a TIMEOUT all the same), over the memory
    limit MEMORYOUT (the limit bounds the child's whole address space, including what this process
    had loaded when it forked). A child killed by a signal gives CRASHED, with the signal's name
    in ``additional_info["error"]``, except under a memory limit: SIGKILL (the kernel's
    out-of-memory killer) gives MEMORYOUT, and so does a segmentation fault (SIGSEGV), since
    pynisher reports one as a memory error (a process that runs out of address space may die
    so, and nothing tells that apart from a segfault of the target); the error message then
    says so. Run such a target without ``trial_memory_limit`` to see whether it segfaults anyway.
    A trial stopped because this process received a SIGTERM that the application handles (and
    lives on) has no result: its value has status RUNNING, and ``SMAC`` gives it up, to run
    again, instead of recording it.

    A limited trial's process does not outlive this one: on POSIX systems a watchdog process
    (see :mod:`smacx.runners.watchdog`) kills it and the programs it started (an external
    solver run with ``subprocess``, say) when this process dies without exiting normally
    (``kill -9``, the out-of-memory killer); without a watchdog, on Linux, the kernel kills
    the trial's process (not what it started) with this one.

    Args:
        target_fn: The function to minimize.
        scenario: Supplies the objectives, crash cost and per-trial limits.

    Raises:
        ScenarioError: The arguments are swapped (the target comes first), ``target_fn`` is not
            callable, ``scenario`` is not a :class:`~smacx.Scenario`, ``target_fn`` lacks an
            argument the scenario needs (``instance`` when the scenario has instances,
            ``budget`` when it has budgets), or requires one (without a default) that the
            scenario never gives.
    """

    def __init__(self, target_fn: TargetFunction, scenario: Scenario) -> None:
        _check_arguments(target_fn, scenario)
        self.target_fn = target_fn
        self.scenario = scenario
        self.objectives = tuple(scenario.objectives)
        self.crash_costs = scenario.crash_costs
        self.walltime_limit = scenario.trial_walltime_limit
        self.memory_limit = scenario.trial_memory_limit
        self.arguments = _declared_arguments(target_fn)
        if scenario.instances is not None and "instance" not in self.arguments:
            raise ScenarioError(
                "target_fn must accept an 'instance' argument because Scenario.instances is set; "
                f"its signature is {_signature(target_fn)}."
            )
        if scenario.min_budget is not None and "budget" not in self.arguments:
            hint = (
                " To race on the instances instead (SMAC3's budget with instances), leave "
                "min_budget and max_budget unset."
                if scenario.instances is not None
                else ""
            )
            raise ScenarioError(
                "target_fn must accept a 'budget' argument because Scenario.min_budget/max_budget "
                f"are set; its signature is {_signature(target_fn)}.{hint}"
            )
        # The other way round: an argument with no default would get None on every trial
        # (or, passed nothing, a TypeError), typically a multi-fidelity target whose budgets
        # were forgotten. One with a default gets nothing, so its default holds.
        for name, field, absent in (
            ("instance", "instances", scenario.instances is None),
            ("budget", "min_budget and max_budget", scenario.min_budget is None),
        ):
            if absent and name in _named_arguments(target_fn, defaults=False):
                raise ScenarioError(
                    f"target_fn requires {'an' if name == 'instance' else 'a'} {name!r} argument, "
                    f"but the scenario has no {field}, "
                    f"so it would get none; its signature is {_signature(target_fn)}. Set "
                    f"Scenario({field.split(' and ')[0]}=...), or give {name} a default."
                )
        # Given None, these would lose their default: they get nothing then. So do those the
        # target takes only as **kwargs (kwargs.get("budget", 10) keeps its 10, as in SMAC3).
        self.defaulted = _named_arguments(target_fn, defaults=True) - {"seed"}
        self.defaulted |= self.arguments - _named_arguments(target_fn, defaults=False)
        self._results: list[tuple[TrialInfo, TrialValue]] = []

    # -- AbstractRunner ----------------------------------------------------------------------

    def submit_trial(self, trial_info: TrialInfo, **dask_data_to_scatter: Any) -> None:
        value = self.run(
            trial_info.config,
            trial_info.instance,
            trial_info.budget,
            trial_info.seed,
            **dask_data_to_scatter,
        )
        self._results.append((trial_info, value))

    def iter_results(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        while self._results:
            yield self._results.pop(0)

    def wait(self, timeout: float | None = None) -> None:
        """Nothing to wait for: a serial trial is finished when ``submit_trial`` returns."""

    def is_running(self) -> bool:
        return bool(self._results)

    def count_available_workers(self) -> int:
        return 1

    def run(
        self,
        config: Configuration,
        instance: str | None = None,
        budget: float | None = None,
        seed: int | None = None,
        **dask_data_to_scatter: Any,
    ) -> TrialValue:
        passed = {"seed": seed, "instance": instance, "budget": budget}
        kwargs = {
            k: v
            for k, v in passed.items()
            if k in self.arguments and (v is not None or k not in self.defaulted)
        }
        kwargs.update(dask_data_to_scatter)
        start, clock = time.time(), time.monotonic()
        # A copy: a target may assign into its configuration (ConfigSpace allows it), and the
        # caller's, by which the result is recorded, must stay the one that was asked.
        kind, payload, cpu_time = self._call(copy.copy(config), kwargs)
        if kind == "machine":
            raise MachineError(payload["error"])
        # (the duration on a clock that no step of the wall clock moves back)
        end, took = time.time(), time.monotonic() - clock
        if kind == "ok":
            # The target's own time, measured where it ran: what came after its return (a
            # limited trial's process ending, with programs it left running, which pynisher
            # ends and waits for) is not the target's, nor a reason for a TIMEOUT.
            payload, took = payload
        limit = self.walltime_limit
        if kind == "ok" and limit is not None and limit != math.ceil(limit) and took > limit:
            # pynisher stops a trial only at whole seconds (here the next one up)
            kind = "timeout"
            payload = {"error": f"exceeded trial_walltime_limit={limit} s ({took:.2f} s)"}
        status, costs, info = self._interpret(kind, payload)
        value = TrialValue(
            cost=costs[0] if len(costs) == 1 else costs,
            time=took,
            cpu_time=cpu_time,
            status=status,
            starttime=start,
            endtime=end,
            additional_info=info,
        )
        if not getattr(_worker, "quiet", False):
            log_failure(config, instance, seed, budget, value)
        return value

    # -- evaluation --------------------------------------------------------------------------

    def _call(self, config: Configuration, kwargs: dict[str, Any]) -> tuple[str, Any, float]:
        stops = not getattr(_worker, "interrupts_are_failures", False)
        if self.walltime_limit is None and self.memory_limit is None:
            return _Measured(self.target_fn, in_child=False, interrupts_stop=stops)(
                config, **kwargs
            )
        import pynisher

        if self.memory_limit is not None:
            # (here, where trials run: a dask client on a login node, or on macOS, may have
            # Linux workers without its limits; a review)
            _check_memory_limit(self.memory_limit)
            warn_of_inherited_memory(self.memory_limit, on_a_worker=not stops)
        with as_machine_error("start the trial's process"):
            watchdog.start()
            pipe = _LogPipe()
        limited = pynisher.limit(
            _Measured(
                self.target_fn,
                in_child=True,
                interrupts_stop=stops,
                memory_limit=self.memory_limit,
                log_pipe=pipe,
            ),
            # (pynisher rounds to whole seconds, 2.5 down to 2: round up instead)
            wall_time=None
            if self.walltime_limit is None
            else (math.ceil(self.walltime_limit), "s"),
            memory=None if self.memory_limit is None else (self.memory_limit, "MB"),
            context="fork",
            warnings=False,
        )
        if self.walltime_limit is not None and self.walltime_limit != int(self.walltime_limit):
            # pynisher takes whole seconds, but compares the time taken with its public
            # ``wall_time`` as it polls the trial: the limit itself stops a trial at 1.5 s (it
            # ran to 2 s, a third more of a solver's time per trial, in validate() too).
            limited.wall_time = self.walltime_limit  # type: ignore[assignment]  # (typed int)
        before = children_now()
        try:
            with (
                as_machine_error("start the trial's process"),  # (its pipes, above all)
                _a_daemon_may_fork(),
                watchdog.forking_a_trial() as token,
                _sigterm_ends_the_run(functools.partial(watchdog.end_marked, token)) as sigterm,
            ):
                outcome = self._call_limited(pynisher, limited, config, kwargs)
                if outcome[0] not in ("ok", "machine"):  # (a machine's: no process ran)
                    # A failed trial's programs end with it: a solver that went to the
                    # background (``sh -c "solver &"``) left pynisher's reach, and ran on after
                    # a timeout, using a core the next trials are timed on. And the folders
                    # it made go (a killed trial's own clean-up never ran).
                    watchdog.end_marked(token)
                    watchdog.remove_folders(token)
        finally:
            forget_reaped_children(before)
            pipe.received()
        if sigterm and outcome[0] in ("error", "memoryout"):
            # The application handles SIGTERM itself and lives on, but pynisher killed the
            # trial: no fault of the target, so no result either (see run()). pynisher kills
            # it with SIGKILL, which under a memory limit reads as running out of memory.
            msg = "the trial's process was killed because this process received SIGTERM"
            return "interrupted", {**outcome[1], "error": msg}, math.nan
        return outcome

    def _call_limited(
        self, pynisher: Any, limited: Any, config: Configuration, kwargs: dict[str, Any]
    ) -> tuple[str, Any, float]:
        """``limited(config, **kwargs)``, each way pynisher reports a failure told as one."""
        try:
            outcome: tuple[str, Any, float] = limited(config, **kwargs)
            return outcome
        except pynisher.WallTimeoutException:
            msg = f"exceeded trial_walltime_limit={self.walltime_limit} s"
            return "timeout", {"error": msg}, math.nan
        except pynisher.CpuTimeoutException:  # pragma: no cover - no CPU limit is set
            return "timeout", {"error": "exceeded the CPU time limit"}, math.nan
        except pynisher.MemoryLimitException as err:
            if "SIGSEGV" in str(err):
                # pynisher reports any segfault under a memory limit as a memory error: running
                # out of address space often ends so (a stack that cannot grow, an unchecked
                # malloc in C code), and nothing left of the child tells the two apart.
                msg = (
                    "the trial process died of a segmentation fault (SIGSEGV) under "
                    f"trial_memory_limit={self.memory_limit} MB: recorded as MEMORYOUT because "
                    "reaching the limit can end so, but a segfault of the target would look the "
                    "same; run it without trial_memory_limit to tell them apart"
                )
            else:
                msg = f"exceeded trial_memory_limit={self.memory_limit} MB"
            return "memoryout", {"error": msg}, math.nan
        except pynisher.PynisherException as err:
            code = _exit_code(err)
            signum = -code if code is not None and code < 0 else None
            if self.memory_limit is not None and signum == signal.SIGKILL:
                msg = f"killed (SIGKILL) under trial_memory_limit={self.memory_limit} MB"
                return "memoryout", {"error": msg}, math.nan
            if signum is not None:
                if signum in STOP_SIGNALS:
                    # A batch system's SIGTERM reaches every process of the job in no set
                    # order: a moment for this one's, which gives the trial back (it runs again
                    # when the run continues) rather than recording it CRASHED.
                    time.sleep(STOP_GRACE_SECONDS)
                msg = (
                    f"the trial process died of signal {_signal_name(signum)} (exit code "
                    f"{-signum}) before returning a result"
                )
            elif code is not None:
                msg = (
                    f"the trial process exited with code {code} before returning a "
                    "result (os._exit in the target, or a library that ended the process)"
                )
            else:
                msg = f"the trial process died: {err}"
            return "error", {"error": msg}, math.nan
        except Exception as err:
            # pynisher cannot unpickle its own MemoryLimitException on some Pythons.
            if isinstance(err, TypeError) and "MemoryLimitException" in str(err):
                msg = f"exceeded trial_memory_limit={self.memory_limit} MB"
                return "memoryout", {"error": msg}, math.nan
            machine = machine_error(err, "start the trial's process")
            if machine is not None:  # (no pipe or process to be had: not the configuration)
                return "machine", {"error": str(machine)}, math.nan
            # The child's result or error reached this process but could not be unpickled
            # here (a class only the target's process could import, a broken __reduce__).
            msg = (
                "the trial's result could not be received from its process: "
                f"{type(err).__name__}: {err}"
            )
            tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
            return "error", {"error": msg, "traceback": tb}, math.nan

    def _interpret(self, kind: str, payload: Any) -> tuple[StatusType, list[float], dict[str, Any]]:
        crash = list(self.crash_costs)
        if kind == "timeout":
            return StatusType.TIMEOUT, crash, payload
        if kind == "memoryout":
            return StatusType.MEMORYOUT, crash, payload
        if kind == "error":
            return StatusType.CRASHED, crash, payload
        if kind == "interrupted":
            return StatusType.RUNNING, crash, payload
        info: dict[str, Any] = {}
        result = payload
        if (
            isinstance(result, tuple)
            and len(result) == 2
            and isinstance(result[1], Mapping)
            and not _is_number(result[1])
        ):
            result, info = result[0], dict(result[1])
        if isinstance(result, Mapping):
            # The dict's other keys (metrics reported beside the objectives, as Ray Tune keeps
            # them) go into the trial's additional_info; an info dict's own keys win.
            extra = {str(k): v for k, v in result.items() if k not in self.objectives}
            info = {**extra, **info}
        costs, problem = self._costs(result)
        if problem is not None:
            return StatusType.CRASHED, crash, {**info, "error": problem}
        return StatusType.SUCCESS, costs, info

    def _costs(self, result: Any) -> tuple[list[float], str | None]:
        n = len(self.objectives)
        values: list[Any]
        if _is_number(result):
            values = [result]
        elif isinstance(result, Mapping):
            missing = [o for o in self.objectives if o not in result]
            if missing:
                return [], (
                    f"the target returned a dict without objective(s) {missing}: "
                    f"{safe_repr(result):.200}"
                )
            values = [result[o] for o in self.objectives]
        elif isinstance(result, Sequence) and not isinstance(result, (str, bytes)):
            values = list(result)
        elif isinstance(result, np.ndarray):
            values = list(result.tolist()) if result.ndim else [result.tolist()]
        else:
            return [], (
                f"the target returned {type(result).__name__} {safe_repr(result):.200}; expected "
                "a number, a dict of objective name to number, or (cost, info_dict)"
            )
        # (a dict's or list's numpy 0-d arrays, as a single cost's)
        values = [v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v for v in values]
        if len(values) != n:
            hint = ""
            if len(values) == 2 and n == 1 and _is_number(values[0]):
                hint = "; to return extra information, make it a dict: (cost, {'key': value})"
            return (
                [],
                f"the target returned {len(values)} cost(s), "
                f"expected {n} ({list(self.objectives)}){hint}",
            )
        if not all(_is_number(v) for v in values):
            return [], f"the target returned non-numeric cost(s) {safe_repr(values):.200}"
        try:
            costs = [float(v) for v in values]
        except OverflowError:
            return [], (
                f"the target returned a cost too large for a float: {safe_repr(values):.200}"
            )
        if not all(math.isfinite(c) for c in costs):
            return [], f"{NON_FINITE} {costs}"
        return costs, None


#: The wakeup file descriptors :func:`_sigterm_ends_the_run` has set in this process.
_RUN_WAKEUP_FDS: set[int] = set()


def _forget_run_wakeup_fd() -> None:
    """In a process just forked (a trial's, pynisher's): the run's wakeup descriptor is the
    run's. A signal of this process noted there was taken for one the run received: when
    pynisher failed before the target ran (say, ``trial_memory_limit`` above a hard ``ulimit
    -v``), the SIGTERM it sent its child ended the run (a platforms audit's finding)."""
    if not _RUN_WAKEUP_FDS:
        return
    with contextlib.suppress(ValueError):  # (a fork by a thread that is not the main one)
        fd = signal.set_wakeup_fd(-1)
        if fd != -1 and fd not in _RUN_WAKEUP_FDS:
            signal.set_wakeup_fd(fd, warn_on_full_buffer=False)  # the application's own
    _RUN_WAKEUP_FDS.clear()


os.register_at_fork(after_in_child=_forget_run_wakeup_fd)


_daemon_lock = threading.Lock()
_daemon_forks = 0  # limited trials under way in this process with its daemon flag lifted


@contextlib.contextmanager
def _a_daemon_may_fork() -> Iterator[None]:
    """Let a daemonic process start a limited trial's process while the block runs.

    multiprocessing refuses children to a daemon (a multiprocessing pool's worker, or a dask
    worker running a whole run as a task): every limited trial of a run there was recorded
    CRASHED, with "daemonic processes are not allowed to have children", and the first one
    blamed on the target (an audit). A daemon is ended without waiting for its children, but
    the watchdog ends a trial's process with the run, so the flag is lifted while trials
    start (as dask's runner does for its own workers).
    """
    global _daemon_forks
    config = getattr(multiprocessing.current_process(), "_config", None)
    if not isinstance(config, dict):
        yield
        return
    with _daemon_lock:
        lifted = bool(config.get("daemon")) or _daemon_forks > 0
        if lifted:
            config["daemon"] = False
            _daemon_forks += 1
    try:
        yield
    finally:
        if lifted:
            with _daemon_lock:
                _daemon_forks -= 1
                if _daemon_forks == 0:
                    config["daemon"] = True


#: The lock of smacx's progress bars (each run's tqdm bar): one for the process, so that bars
#: of runs in several threads write one at a time, and a trial's process is not forked while
#: one writes (see :func:`_hold_output`).
PROGRESS_LOCK = threading.RLock()

#: Seconds a trial's fork waits for each logging handler that another thread is writing with.
_OUTPUT_WAIT = 5.0

#: The locks :func:`_hold_output` holds across a trial's fork (this thread's).
_held_output = threading.local()


def _output_locks() -> list[Any]:
    """The locks of every logging handler of this process (a handler holds its own while it
    writes a record), and of smacx's progress bars."""
    refs = getattr(logging, "_handlerList", None)  # (every handler, attached or not)
    if refs is not None:
        handlers = [ref() for ref in list(refs)]
    else:  # pragma: no cover  (a Python without it: those attached to loggers)
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        handlers = [h for lg in loggers for h in getattr(lg, "handlers", ())]
    locks = [getattr(h, "lock", None) for h in handlers if h is not None]
    return [lock for lock in locks if lock is not None] + [PROGRESS_LOCK]


def _hold_output() -> None:
    """Before a trial's process is forked: wait until no other thread is writing a log record
    or a progress bar, and hold them off until the fork is done. A thread within a write
    holds its stream's own lock, which the forked process would inherit held, by a thread
    it does not have: the trial's first log line waited for it for good (runs in several
    threads of one program, with trial limits; an audit's finding). Other forks of the
    process are left alone."""
    if not watchdog.forking_a_trial_now():
        return
    held = []
    # logging's own lock first, as logging takes it before handlers' (dictConfig, shutdown);
    # its own hook takes it next (after this one), and again in this thread. Without it, no
    # handler's: a thread that held it waiting for a handler's held here hung the fork.
    module = getattr(logging, "_lock", None)
    if module is None or module.acquire(timeout=_OUTPUT_WAIT):
        if module is not None:
            held.append(module)
        for lock in _output_locks():
            try:
                if lock.acquire(timeout=_OUTPUT_WAIT):
                    held.append(lock)
            except (TypeError, AttributeError):  # (a lock of a kind without a timeout)
                continue
    _held_output.locks = held


def _release_output() -> None:
    """After a trial's fork, in the run's process: let go of what :func:`_hold_output` held."""
    held, _held_output.locks = getattr(_held_output, "locks", []), []
    for lock in reversed(held):
        with contextlib.suppress(RuntimeError, ValueError):  # (a semaphore's: ValueError)
            lock.release()


def _release_output_in_child() -> None:
    """After a trial's fork, in the trial's process: let go of the progress bars' lock, which
    it inherited held. Logging has given itself and its handlers fresh locks already; a
    handler's lock shared between processes (a ``multiprocessing`` lock) is the run's to let
    go of, once (released here too, it let two writers in at once; a review)."""
    held, _held_output.locks = getattr(_held_output, "locks", []), []
    if any(lock is PROGRESS_LOCK for lock in held):
        with contextlib.suppress(RuntimeError):
            PROGRESS_LOCK.release()


os.register_at_fork(
    before=_hold_output, after_in_parent=_release_output, after_in_child=_release_output_in_child
)


@contextlib.contextmanager
def _sigterm_ends_the_run(ended: Callable[[], None]) -> Iterator[list[bool]]:
    """While a limited trial runs: a SIGTERM still ends this process, as without limits.

    pynisher installs a SIGTERM handler for each trial that kills the trial's process and
    means to call the handler it replaced, but never does (it compares the signal number
    with ``is``): the default action, ending the process, was lost, so the run went on with
    the trial recorded as CRASHED, and the handlers of past trials piled up. Here a wakeup
    file descriptor notes the signals that arrive (and passes them on to the application's
    own wakeup descriptor, asyncio's say); once pynisher returns, the original handler is
    back and a SIGTERM that arrived meanwhile gets it: by default the process ends, the trial
    stays RUNNING and runs again when the run resumes; a Python handler of the application is
    called. Only the main thread sees signals; elsewhere nothing changes.

    Args:
        ended: Called first when a SIGTERM arrived: pynisher killed the trial's process, but
            not the programs it started, which its death orphaned (see
            :func:`~smacx.runners.watchdog.end_marked`).

    Yields:
        A list that holds True once the block is over if a SIGTERM arrived meanwhile.
    """
    arrived_sigterm: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived_sigterm
        return
    original = signal.getsignal(signal.SIGTERM)
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    _RUN_WAKEUP_FDS.add(write_end)
    try:
        yield arrived_sigterm
    finally:
        signal.set_wakeup_fd(previous_fd)
        _RUN_WAKEUP_FDS.discard(write_end)
        try:
            arrived = os.read(read_end, 4096)
        except BlockingIOError:
            arrived = b""
        os.close(read_end)
        os.close(write_end)
        if arrived and previous_fd != -1:
            with contextlib.suppress(OSError):  # the application's, as if never swapped
                os.write(previous_fd, arrived)
        signal.signal(signal.SIGTERM, original)
        if signal.SIGTERM in arrived:
            arrived_sigterm.append(True)
            ended()
            if original in (signal.SIG_DFL, None):
                logger.warning("SIGTERM during a trial: stopping; the trial runs again on resume")
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
            elif callable(original):
                original(signal.SIGTERM, None)


def _exit_code(err: Exception) -> int | None:
    """The exit code of pynisher's child from its message ("exitcode N"; -N: killed by signal
    N), or None when it gives none."""
    match = re.search(r"exitcode (-?\d+)", str(err))
    return int(match.group(1)) if match else None


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"number {signum}"


def _is_interrupt(err: BaseException) -> bool:
    """Whether ``err`` is a ``KeyboardInterrupt``, or an exception group that holds one."""
    if isinstance(err, KeyboardInterrupt):
        return True
    # (a builtin from Python 3.11 on, which ruff's py310 target does not know)
    if sys.version_info >= (3, 11) and isinstance(err, BaseExceptionGroup):  # noqa: F821
        return err.subgroup(KeyboardInterrupt) is not None
    return False


def _describe(value: Any) -> str:
    """``value``'s type and a short repr, for error messages."""
    return f"{type(value).__name__} {value!r:.100}"


def _check_memory_limit(megabytes: int) -> None:
    """Refuse a ``trial_memory_limit`` that no trial of this machine could set.

    Every trial failed in pynisher before the target ran, and was recorded CRASHED (the
    first called "a bug in the target function"): on macOS, where pynisher cannot limit
    memory, and under a hard address-space limit below it (``ulimit -v`` of a batch job).

    Raises:
        MachineError: The limit cannot be set here, with why and how to fix it.
    """
    import pynisher

    if not pynisher.supports("memory"):
        raise MachineError(
            f"Scenario.trial_memory_limit={megabytes} MB cannot be enforced on {sys.platform}: "
            "pynisher cannot limit a trial's memory there. Leave trial_memory_limit unset "
            "(trial_walltime_limit works here), or run the trials on Linux workers."
        )
    import resource

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY and megabytes * 2**20 > hard:
        raise MachineError(
            f"Scenario.trial_memory_limit={megabytes} MB is above this process's hard "
            f"address-space limit of {hard // 2**20} MB (ulimit -v, often set by a batch "
            "system), so no trial could set it; expected at most that. Lower "
            "trial_memory_limit, or raise the hard limit before the run starts."
        )


def _check_arguments(target_fn: Any, scenario: Any) -> None:
    """Check the types of ``SerialRunner(target_fn, scenario)``'s arguments.

    Raises:
        ScenarioError: The arguments are swapped, ``target_fn`` is not callable, or
            ``scenario`` is not a :class:`~smacx.Scenario`.
    """
    order = (
        "The target comes first: SerialRunner(target_fn, scenario) (SMAC takes them the other "
        "way round, SMAC(scenario, target_fn))."
    )
    if isinstance(target_fn, Scenario) and not isinstance(scenario, Scenario):
        raise ScenarioError(
            "SerialRunner(target_fn, scenario) got its arguments swapped: expected a callable "
            f"target_fn and a smacx.Scenario, got the Scenario as target_fn and "
            f"{_describe(scenario)} as scenario. {order}"
        )
    if not callable(target_fn):
        hint = order if not isinstance(scenario, Scenario) else "Pass the function to minimize."
        raise ScenarioError(
            "SerialRunner(target_fn=...) must be callable, as f(config, seed) -> cost; got "
            f"{_describe(target_fn)}. {hint}"
        )
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            "SerialRunner(scenario=...) must be a smacx.Scenario; got "
            f"{_describe(scenario)}. {order}"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return f"{getattr(fn, '__name__', type(fn).__name__)}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return repr(fn)


def _declared_arguments(fn: Any) -> frozenset[str]:
    """Which of ``seed``, ``instance``, ``budget`` the target takes.

    Raises:
        ScenarioError: ``fn`` is not callable or cannot take a configuration as first argument.
    """
    if not callable(fn):
        raise ScenarioError(f"target_fn must be callable, as f(config, seed) -> cost; got {fn!r}.")
    # (functions and partials of them, or an object whose __call__ is async)
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        # it would return a coroutine, never run, and every trial would crash
        raise ScenarioError(
            "target_fn must be a plain function; got a coroutine function (async def) "
            f"{fn!r:.100}. Wrap it, e.g. lambda config, seed: asyncio.run(f(config, seed))."
        )
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: pass nothing extra
        return frozenset()
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        or p.kind is inspect.Parameter.VAR_POSITIONAL
    ]
    if not positional:
        raise ScenarioError(
            "target_fn must take the configuration as its first argument, as "
            f"f(config, seed) -> cost; its signature is {_signature(fn)}."
        )
    first = positional[0]
    if first.kind is not inspect.Parameter.VAR_POSITIONAL and first.name in TRIAL_ARGUMENTS:
        raise ScenarioError(
            f"target_fn must take the configuration as its first argument, as "
            f"f(config, seed) -> cost; its first argument is {first.name!r} "
            f"(signature {_signature(fn)}). Put the configuration first."
        )
    by_position = [
        p.name
        for p in params
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.name in TRIAL_ARGUMENTS
    ]
    if by_position and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        # (passed by keyword, every trial crashed)
        raise ScenarioError(
            f"target_fn must take {', '.join(map(repr, by_position))} by keyword, as smacx "
            f"passes it; its signature is {_signature(fn)}, where it comes before the '/'. "
            "Move the '/' to just after the configuration."
        )
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return frozenset(TRIAL_ARGUMENTS)
    return frozenset(p.name for p in params if p.name in TRIAL_ARGUMENTS)


def _named_arguments(fn: Any, defaults: bool) -> frozenset[str]:
    """Which of ``seed``, ``instance``, ``budget`` the target names with a default (or,
    ``defaults=False``, without one); not those it takes only as ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(
        p.name
        for p in params
        if p.name in TRIAL_ARGUMENTS
        and (p.default is not inspect.Parameter.empty) == defaults
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )


def check_data(fn: Any, names: Collection[str]) -> None:
    """Check that ``fn`` can run on scattered data of these ``names``: it requires no other
    arguments beyond the trial's (see :func:`required_data`) and takes each of them.

    Raises:
        ScenarioError: An argument nothing passes, or a name ``fn`` does not take.
    """
    missing = [name for name in required_data(fn) if name not in names]
    if missing:
        raise ScenarioError(
            f"target_fn requires argument(s) {missing} that smacx does not pass (it passes "
            f"the configuration and any of {sorted(TRIAL_ARGUMENTS)} the target declares); "
            "give them a default, or pass them with optimize(data_to_scatter={...})."
        )
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    keywords = {
        p.name
        for p in params[1:]  # the first takes the configuration
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    unaccepted = [name for name in names if name not in keywords]
    if unaccepted:
        raise ScenarioError(
            f"optimize(data_to_scatter=...) has key(s) {unaccepted} that target_fn does not "
            f"take as keyword arguments; its signature is {_signature(fn)}. Add them to its "
            "parameters (or take **kwargs), or leave them out."
        )


def required_data(fn: Any) -> list[str]:
    """Arguments ``fn`` requires beyond the configuration and the trial's ``seed``,
    ``instance`` and ``budget``: only scattered data (``optimize(data_to_scatter=...)``) can
    supply them."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []
    named = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [
        p.name
        for p in params[1:]  # the first takes the configuration
        if p.kind in named
        and p.default is inspect.Parameter.empty
        and p.name not in TRIAL_ARGUMENTS
    ]
