"""Run trials in parallel on a dask cluster, each worker thread evaluating one trial at a time.

The workers call :meth:`SerialRunner.run` of the runner they are given, so a trial is evaluated
(limits, timing, crash handling) exactly as in a serial run. This module only moves trials and
data to the cluster and results back, and copes with the cluster changing underneath: workers
that join, leave, or die in the middle of a trial.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import json
import linecache
import logging
import math
import multiprocessing
import numbers
import os
import queue
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
import types
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from ConfigSpace import Configuration

from smacx.errors import (
    ArgumentError,
    MachineError,
    NoWorkersError,
    RunnerClosedError,
    ScenarioError,
    keyword_hints,
    warn_caller,
)
from smacx.runhistory import config_to_json, plain_config
from smacx.runners.base import SPAWN_ENVIRON, AbstractRunner
from smacx.runners.serial import (
    INHERITED_MEMORY,
    SerialRunner,
    close_reusable_pools,
    die_with_parent,
    interrupts_are_failures,
    load_prctl,
    log_failure,
    mapped_mb,
    picklable,
    results_logged_by_caller,
)
from smacx.storage import owner_id, owner_is_alive
from smacx.trial import StatusType, TrialInfo, TrialValue

# distributed sets the levels of its loggers (and tornado's, bokeh's) as it is first
# imported, "distributed" to INFO: a level the application set before, such as WARNING to hide
# dask's lines about starting and closing clusters, is restored after the import.
_set_before = {
    name: logging.getLogger(name).level
    for name in list(logging.root.manager.loggerDict)
    if "distributed" not in sys.modules
    and name.split(".")[0] in ("distributed", "tornado", "bokeh")
    and logging.getLogger(name).level != logging.NOTSET
}
try:
    import cloudpickle  # type: ignore[import-untyped]
    import dask
    from dask.sizeof import sizeof
    from distributed import Client, Future, KilledWorker, LocalCluster, WorkerPlugin
except ImportError as err:  # pragma: no cover - exercised only without dask installed
    raise ImportError(
        "DaskParallelRunner needs dask.distributed: pip install 'smacx[dask]'"
    ) from err
for _name, _level in _set_before.items():
    logging.getLogger(_name).setLevel(_level)
del _set_before


if TYPE_CHECKING:
    from dask.typing import Key

    from smacx.scenario import Scenario

__all__ = ["DaskParallelRunner", "SCHEDULER_FILE"]

logger = logging.getLogger("smacx")

#: Name of the scheduler file written into ``Scenario.output_path`` for the runner's own cluster.
SCHEDULER_FILE = "dask_scheduler.json"

#: Held while this process starts a local cluster (see DaskParallelRunner._start_cluster).
_CLUSTER_START = threading.Lock()

#: dask's ``worker-saturation`` for the runner's own cluster: a scheduler holds a trial submitted
#: beyond the worker threads until any thread frees up, instead of sending it to a busy worker
#: (dask's default of 1.1 gives each single-threaded worker two tasks).
WORKER_SATURATION = 1.0

#: Objects (runner, data) whose pickle is at most this size travel inside each task; larger
#: ones are scattered. See DaskParallelRunner._scatter.
_INLINE_BYTES = 256 * 1024

#: Trials whose input data was lost with a worker are resubmitted this often before giving up.
_MAX_LOST_DATA_RESUBMITS = 10

#: Seconds a worker waits for a peer's copy of a scattered object before the trial is given
#: back as lost data (generous: a large object on a slow network).
_PEER_FETCH_TIMEOUT = 300.0

#: Statuses of a future whose result was lost with a worker and is being computed again.
_REDONE = frozenset({"lost", "pending"})

#: dask's time-outs (``wait_for_workers``, ``scatter``): ``asyncio.TimeoutError``, which is the
#: built-in ``TimeoutError`` only from Python 3.11 on.
_TIMEOUTS: tuple[type[Exception], ...] = (TimeoutError, asyncio.TimeoutError)
#: Put on the queue of finished keys by interrupt(): a key no future has.
_WAKE: Key = "smacx-interrupt-wait"


@dataclass
class _Trial:
    """A submitted trial and what is needed to submit it again.

    Attributes:
        info: What to run.
        data: The target's extra keyword arguments (the objects, not their futures).
        attempts: How often it was started: once, plus once per worker death.
        lost_data: How often it was submitted again because dask lost it or its data, or a
            worker could not set it up (see ``_WorkerSetupError``).
        starttime: Unix time of the latest submission.
        freed: ``time.monotonic()`` when the result that freed its worker thread was read (its
            submission time if none had been read).
        queued: Whether every worker thread was taken when it was last submitted.
        held: The futures of the scattered objects it was submitted with, kept so that dask
            keeps them while the trial waits (it does not depend on them; see ``_run_trial``).
        allowed: The workers it was submitted to, once some could not set trials up; None:
            any worker.
    """

    info: TrialInfo
    data: dict[str, Any]
    attempts: int = 0
    lost_data: int = 0
    starttime: float = 0.0
    freed: float = 0.0
    queued: bool = False
    held: list[Future[Any]] = field(default_factory=list)
    allowed: list[str] | None = None


@keyword_hints(
    elsewhere={
        "n_workers": "the runner's own cluster has Scenario(..., n_workers=...) workers",
    }
)
class DaskParallelRunner(AbstractRunner):
    """Runs trials concurrently on the workers of a dask cluster.

    Without ``dask_client`` the runner starts a ``LocalCluster`` of ``scenario.n_workers``
    single-threaded worker processes, every listener on 127.0.0.1 (no dashboard; the scheduler's
    HTTP health routes on a free port), and closes it in :meth:`close`. If
    ``scenario.output_path`` is set it writes the scheduler's address to
    ``output_path / "dask_scheduler.json"``, so more workers can join the running optimization
    with ``dask worker --scheduler-file <that file>`` (they must be able to import smacx and the
    target function). With ``dask_client`` the runner uses that client's cluster
    as it is and leaves the client open; the cluster should be dedicated to this optimization,
    since every worker thread counts as a place to run a trial.

    Data passed to :meth:`submit_trial` as keyword arguments (any names, including keywords
    of ``Client.submit`` such as ``priority`` or ``workers``) is sent the first time an object
    is passed under a name, and reused as long as the same object (by identity) comes under
    that name; each target call receives it as keyword arguments. An object (as the runner
    itself) whose pickle takes at most 256 KiB travels inside each task and is unpickled once
    per worker; a larger one is scattered to every worker (``broadcast=True``), and copied to
    a worker that joined later when a trial there first needs it, or scattered again if every
    copy died. Trials do not depend on this data in dask's graph, so losing it never makes
    dask forget a trial. Data must be picklable (by pickle or cloudpickle): a lock, an open
    file or a connection raises :class:`~smacx.errors.ScenarioError` naming its keyword.

    Per-trial time and memory limits (pynisher) work on daemonic worker processes, dask's default,
    and so do targets that start processes of their own (a multiprocessing pool, a PyTorch
    ``DataLoader`` with workers), as they do in a serial run: while a trial runs, the worker
    process is allowed to start children. When the worker dies, a limited trial's process and
    what it started are ended by the worker's watchdog (:mod:`smacx.runners.watchdog`), and
    on Linux the processes a trial forks directly (``os.fork``, a multiprocessing pool) are
    killed by the kernel. Programs that a trial without limits starts (``subprocess``) are not
    covered: set ``trial_walltime_limit`` for targets that run external programs.

    When a worker dies while running a trial (killed, segfault, out of memory) and dask gives up
    on the trial with ``KilledWorker``, the trial is submitted again up to ``max_retries`` times,
    then recorded as CRASHED with the reason in ``additional_info["error"]``. The runner's own
    cluster lets dask try a task only once (``allowed_failures=0``), so ``max_retries`` alone
    bounds the attempts; on a user's cluster dask's ``distributed.scheduler.allowed-failures``
    retries come on top. dask charges a death to every trial placed on that worker, including
    one queued behind the trial that was executing. A trial that lost only its data, or its
    finished result, is submitted again (or recomputed by dask) without counting an attempt.
    The runner's own cluster is kept at ``scenario.n_workers`` processes: distributed closes a
    worker's nanny for good if the worker is not back ``distributed.deploy.lost-worker-
    timeout`` after dying, and the runner starts such workers again whenever it counts the
    workers. (A user's cluster is left as it is: frequent deaths can empty it the same way.)

    Before closing, :meth:`begin_close` makes :meth:`iter_results` give up trials that would
    have to be submitted again, instead of resubmitting them and waiting for workers.

    Trials can be queued ahead (``queue_ahead``). A worker that finishes a trial is idle until
    this process has read the result, told it, proposed the next trial and sent it back: a
    latency ``L`` of tens to hundreds of milliseconds, longer while the optimizer searches.
    While trials last ``T`` seconds, about ``k * L / T`` of ``k`` workers idle that way. Trials
    submitted beyond the worker threads are placed by dask's scheduler. Once a run has more
    than twice as many trials as threads, a scheduler with a ``worker-saturation`` of 1.0 holds
    them until any thread frees up; the runner's own cluster is built that way. dask's default
    of 1.1 instead gives each single-threaded worker a second task at once, to wait behind that
    worker's trial while others may free up first (the runner logs a hint when a user's
    scheduler is set so). Before that threshold the scheduler assigns each queued trial to a
    busy worker at once, and only work stealing moves it to an idle one. So with trial times
    that vary widely a queued trial may wait behind a long one. With
    ``queue_ahead="auto"`` (the default) the runner accepts :func:`trials_ahead` such trials,
    ``2 * k * L / T`` (rounded down, at most ``k``): ``L`` is the median, over recent trials
    that found a free thread, of the time from reading the result that freed it to reading the
    trial's own result, minus the target's time; ``T`` is the median target time. Nothing is
    queued before four such trials have finished, nor while ``T > 100 * L``. While every
    trial is submitted beyond the threads, ``L`` is not measured again.

    Queuing trades information for throughput: each queued trial is proposed while one more
    trial is still running. Measured with ``benchmarks/parallel.py`` and
    ``benchmarks/speedup.py`` (uniform trial times, the runner's own scheduler setting): with
    1 s trials ``"auto"`` kept 0.98 of 16 workers and 0.94 of 64 busy (0.94 and 0.72-0.84
    with ``queue_ahead=0`` and dask's default setting); with 8 workers and 0.2 s trials (one
    or two queued) a trial took 28 ms against 33 without queuing. Queuing twice as many
    (``4 * k * L / T``) took 27 ms but more trials to reach one worker's result after 100
    trials: on Levy-5 a median of 202 over 20 seeds, against 121 (125 without queuing).
    :meth:`SMAC.optimize <smacx.facade.SMAC.optimize>` queues no more trials once less than a
    median trial time, times one plus the trials ahead per worker thread (a queued trial
    starts after those before it), is left of the scenario's ``walltime_limit``; those queued
    before still run, so with uniform trial times the run ends about as late as without
    queuing, but one
    queued behind a much longer trial may end well after the budget. A queued trial's wait
    counts towards the intensifier's ``pending_config_timeout``.

    Args:
        single_worker: Evaluates one trial; its ``run`` method is what the workers call.
        patience: Seconds without any worker in the cluster after which waiting for one raises
            :class:`~smacx.errors.NoWorkersError`; also the seconds a client that lost its
            scheduler may take to connect again, after which the runner raises
            :class:`~smacx.errors.RunnerClosedError` (the scheduler's loss cancelled every
            trial it held). While the runner's own cluster restarts
            worker processes that died (a target that kills its process), it waits at least
            ``RESTART_PATIENCE`` seconds: a restart can take longer than ``patience`` on a
            loaded machine.
        dask_client: A synchronous ``distributed.Client`` to run the trials on, or None to start
            a local cluster.
        max_retries: How many times a trial whose worker died is submitted again.
        queue_ahead: How many trials to submit beyond the cluster's worker threads, or
            ``"auto"`` to decide from the measured latency and trial times (above).
        keep_submitted: Trials kept submitted even while the cluster has fewer worker
            threads, or none: for an adaptive cluster (``cluster.adapt(maximum=k)``), set it
            to the threads the cluster may grow to. dask's scheduler starts workers only for
            tasks it sees, so a runner that submitted only as many trials as threads kept an
            adaptive cluster at its minimum, and at ``minimum=0`` never started one. Workers
            must come within ``patience`` seconds (a job queue may need a larger one).
        tls: Whether the runner's own LocalCluster speaks TLS with credentials made for it
            (``distributed.security.Security.temporary()``, which needs the cryptography
            package), which only this process holds. On a machine shared with other users,
            loopback keeps other machines off the scheduler but not them, and whoever
            connects to a scheduler without credentials can run code as you. Workers cannot
            join such a cluster through its scheduler file. (``smacx run --tls``.)

    Raises:
        ScenarioError: ``patience``, ``max_retries``, ``queue_ahead`` or ``keep_submitted``
            is out of range, ``tls`` is no bool, or given with a ``dask_client`` (whose
            cluster has its own security).
        NoWorkersError: ``tls`` without the cryptography package.
        TypeError: ``single_worker`` is not a ``SerialRunner`` or ``dask_client`` is not a
            ``distributed.Client``.
        ValueError: ``dask_client`` is asynchronous or already closed.

    Example:
        >>> runner = DaskParallelRunner(SerialRunner(train, scenario))  # doctest: +SKIP
        >>> runner.submit_trial(TrialInfo(config, seed=0), X=X, y=y)  # doctest: +SKIP
        >>> runner.wait(); results = list(runner.iter_results())  # doctest: +SKIP
        >>> runner.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        single_worker: SerialRunner,
        patience: float = 5,
        dask_client: Client | None = None,
        *,
        max_retries: int = 1,
        queue_ahead: int | Literal["auto"] = "auto",
        keep_submitted: int = 0,
        tls: bool = False,
    ) -> None:
        if not isinstance(single_worker, SerialRunner):
            raise ArgumentError(
                "DaskParallelRunner(single_worker=...) must be a SerialRunner, as "
                f"SerialRunner(target_fn, scenario); got {type(single_worker).__name__}."
            )
        if (
            not isinstance(patience, numbers.Real)
            or isinstance(patience, bool)
            or not patience > 0
            or math.isinf(patience)
        ):
            raise ScenarioError(
                f"DaskParallelRunner(patience=...) must be a finite number of seconds > 0; "
                f"got {patience!r}."
            )
        if not _is_count(max_retries):
            raise ScenarioError(
                f"DaskParallelRunner(max_retries=...) must be an int >= 0; got {max_retries!r}."
            )
        if queue_ahead != "auto" and not _is_count(queue_ahead):
            raise ScenarioError(
                "DaskParallelRunner(queue_ahead=...) must be an int >= 0, or 'auto' to decide "
                f"from the measured latency; got {queue_ahead!r}."
            )
        if not _is_count(keep_submitted):
            raise ScenarioError(
                "DaskParallelRunner(keep_submitted=...) must be an int >= 0 (the worker threads "
                f"an adaptive cluster may grow to); got {keep_submitted!r}."
            )
        if not isinstance(tls, bool):
            raise ScenarioError(f"DaskParallelRunner(tls=...) must be True or False; got {tls!r}.")
        if tls and dask_client is not None:
            raise ScenarioError(
                "DaskParallelRunner(tls=True) is for the runner's own cluster; a dask_client's "
                "cluster has the security it was created with (LocalCluster(security=...))."
            )
        self.tls: bool = tls
        if dask_client is not None:
            if not isinstance(dask_client, Client):
                raise ArgumentError(
                    "DaskParallelRunner(dask_client=...) must be a distributed.Client or None; "
                    f"got {type(dask_client).__name__}. Pass Client(cluster), or leave it out "
                    "to start a local cluster."
                )
            if dask_client.asynchronous:
                raise ScenarioError(
                    "DaskParallelRunner(dask_client=...) must be a synchronous client; got one "
                    "created with asynchronous=True. Create it as Client(address) instead."
                )
            if dask_client.status != "running":
                raise ScenarioError(
                    "DaskParallelRunner(dask_client=...) must be a connected client; got one "
                    f"with status {dask_client.status!r}. Pass an open Client."
                )

        self.single_worker: SerialRunner = single_worker
        self.scenario: Scenario = single_worker.scenario
        self._killed_trials: int = 0  # trials whose worker died under them (KilledWorker)
        self._cpu_elsewhere: float = 0.0  # CPU seconds of finished trials elsewhere
        self.patience: float = float(patience)
        self.max_retries: int = int(max_retries)
        self.keep_submitted: int = int(keep_submitted)
        self._lost_scheduler: bool = False  # whether the client's scheduler went away
        self._address: str = "unknown"  # the scheduler's, as the client had it when connected
        self.queue_ahead: int | Literal["auto"] = (
            "auto" if queue_ahead == "auto" else int(queue_ahead)
        )
        # Recent trials: seconds a worker thread lost per trial, from reading the result that
        # freed it to reading the trial's own, beyond the target's time (only trials that found
        # a free thread); and the target's own seconds.
        self._latencies: deque[float] = deque(maxlen=32)
        self._durations: deque[float] = deque(maxlen=32)
        self._last_read: float | None = None  # time.monotonic() when a result was last read
        self.scheduler_file: Path | None = None
        self._scheduler_file: _SchedulerFile | None = None
        self._cluster: LocalCluster | None = None
        self._owns_client: bool = dask_client is None
        self._closed: bool = False
        self._running: dict[Key, tuple[Future[Any], _Trial]] = {}
        # Trials a worker could not set up (MachineError): submitted again at the next
        # iter_results(), once the machine may be mended.
        self._held: list[_Trial] = []
        self._machine_failed: float = -math.inf  # (when a MachineError was last raised)
        self._finished: deque[Key] = deque()
        self._done: queue.SimpleQueue[Key] = queue.SimpleQueue()
        self._interrupted: bool = False  # see interrupt()
        #: Seconds a count of the cluster's worker threads is reused (0 to ask every time).
        self.worker_count_ttl: float = 0.2
        #: Seconds :meth:`cancel` waits for the restart of a worker that runs a cancelled trial.
        self.restart_timeout: float = 10.0
        #: Seconds the results of finished trials are waited for once closing began.
        self.closing_timeout: float = 10.0
        # time.monotonic() after which results are given up; inf until begin_close()
        self._closing_deadline: float = math.inf
        # Task keys: this runner's random prefix and a counter (dask's default key draws a
        # uuid4 per task, an os.urandom call, slow with many threads in this process).
        self._key_prefix: str = f"smacx-trial-{uuid.uuid4().hex}"
        self._n_submitted: int = 0
        self._threads: int = 0  # of the workers not in _bad_workers
        self._threads_checked: float = -math.inf
        # Workers that could not set up a trial (they cannot import the target, say): address
        # -> why. No trial goes to them any more: they would fail every one at once, and take
        # most of the run's trials since they always look free.
        self._bad_workers: dict[str, str] = {}
        self._good_workers: list[str] = []  # the others (set by _total_threads)
        # Workers dask's memory manager has paused, when no other can run trials (their memory
        # is past distributed.worker.memory.pause): they start nothing until it resumes them.
        self._paused: list[str] = []
        self._worker_threads: dict[str, int] = {}  # address -> threads, of workers seen
        self._restored_at: float = -math.inf  # time.monotonic() of the last _restore_workers
        # Argument name -> (the object, the future of its scattered copy or None, what a task
        # gets for it: an _Inline or a _Scattered; see _scatter).
        self._scattered: dict[str, tuple[Any, Future[Any] | None, Any]] = {}
        # whether the run was warned that trials inherit a worker's memory (here, or
        # relayed from a worker: see _warn_of_worker_memory and _relay_warnings)
        self._memory_said: list[bool] = [False]
        # (the target's functions: see _with_source_lines)
        self._target_codes: dict[str, list[types.CodeType]] = _codes_by_name(
            getattr(single_worker, "target_fn", None)
        )
        self._n_objects: int = 0
        self._restarts: list[threading.Thread] = []  # of workers that ran cancelled trials
        self._restart_lock: threading.Lock = threading.Lock()

        self._client: Client = self._start_cluster() if dask_client is None else dask_client
        scheduler = getattr(self._client, "scheduler", None)
        self._address = str(getattr(scheduler, "address", None) or "unknown")
        # A runner collected unclosed (``SMAC(scenario, f, dask_client=client).optimize()``,
        # once per fold) kept its target and small data here, and on a user's cluster its
        # scattered data on every worker, for good (see _forget_runner).
        self._forget: weakref.finalize[..., DaskParallelRunner] = weakref.finalize(
            self, _forget_runner, self._key_prefix
        )
        if dask_client is not None:
            _secede_if_a_task_of(dask_client)
        if dask_client is not None and self.queue_ahead != 0:
            saturation = _scheduler_saturation(dask_client)
            if saturation is not None and saturation > WORKER_SATURATION:
                logger.info(
                    "The dask scheduler's worker-saturation is %g: a trial queued ahead goes to "
                    "a busy worker rather than to the first one that frees up. Create the "
                    "cluster under dask.config.set({'distributed.scheduler.worker-saturation': "
                    "1.0}) to keep workers busier, or pass queue_ahead=0.",
                    saturation,
                )

    def _start_cluster(self) -> Client:
        global _closing_joined
        n_workers = self.scenario.n_workers
        method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if method != "fork" and main_file == "<stdin>":
            # (the workers failed to start, and the advice given was the main guard's)
            raise NoWorkersError(
                f"DaskParallelRunner cannot start its local dask cluster of {n_workers} worker "
                "process(es) from a script read from standard input (python - < script.py): "
                "dask's worker processes import the main module from its file, and there is "
                "none. Run the script by its path (python script.py), or pass a dask_client of "
                "a cluster whose workers are threads, LocalCluster(processes=False)."
            )
        loky = multiprocessing.get_start_method(allow_none=True) == "loky"
        if multiprocessing.current_process().daemon or loky:
            # (the workers failed to start, dozens of tracebacks long, and the advice given
            # was the main guard's: an audit of runs in a multiprocessing pool and in joblib)
            why = (
                "a joblib (loky) worker, whose start method dask's processes cannot use"
                if loky
                else "a daemon (a multiprocessing pool's worker, or a dask worker's), which "
                "may not start processes"
            )
            raise NoWorkersError(
                f"DaskParallelRunner cannot start its local dask cluster of {n_workers} worker "
                f"process(es) in this process: it is {why}. Run SMAC in the main process or "
                "in a concurrent.futures.ProcessPoolExecutor's worker, pass a dask_client of "
                "a cluster started elsewhere, or use n_workers=1."
            )
        unguarded = _unguarded_main_line()
        if unguarded is not None:
            # Each worker process would run the script again, and dask releases before
            # 2026.8 wait for such workers for good instead of failing.
            script, line = unguarded
            raise NoWorkersError(
                f"DaskParallelRunner cannot start its local dask cluster of {n_workers} worker "
                f"process(es) from the top level of the script {script!r} (line {line}): "
                "dask's worker processes import the main module, so each would run the script "
                "again. Put the code that builds SMAC (or this runner) under `if __name__ == "
                '"__main__":`.'
            )
        security = _temporary_security() if self.tls else None
        # dask tries each task once: max_retries alone decides how often a trial is resubmitted.
        # The scheduler's HTTP server (health and metrics routes, no dashboard) gets a free port
        # on loopback rather than 8787 on every interface.
        scheduler_kwargs: dict[str, Any] = {
            "allowed_failures": 0,
            "dashboard_address": "127.0.0.1:0",
        }
        preloads = dask.config.get("distributed.worker.preload", None) or []
        preloads = [preloads] if isinstance(preloads, str) else list(preloads)
        preload_argv = dask.config.get("distributed.worker.preload-argv", None) or []
        if preload_argv and not isinstance(preload_argv[0], str):  # one list per preload
            preload_argv = [*preload_argv, []]
        # (the scheduler reads worker-saturation from dask's config when it is built; dask's
        # config is the process's, so runs in several threads start their clusters in turn,
        # or each restored the values another had set: an audit)
        try:
            with (
                _CLUSTER_START,
                dask.config.set(
                    {
                        "distributed.scheduler.worker-saturation": WORKER_SATURATION,
                        "distributed.nanny.pre-spawn-environ": _quiet_as_here(),
                    }
                ),
                _sigint_held(),
            ):
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    security=security,
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    # No memory budget of dask's (the machine's memory over n_workers, pausing
                    # a worker at 80% and restarting it at 95%): a trial that ran serially was
                    # killed with more workers. Trials' memory is trial_memory_limit's business.
                    memory_limit=0,
                    host="127.0.0.1",
                    dashboard_address=None,
                    scheduler_kwargs=scheduler_kwargs,
                    # (after the preloads of dask's configuration, which it would replace)
                    preload=[*preloads, _IGNORE_SIGINT],
                    preload_argv=preload_argv,
                )
        except BaseException as err:
            _forget_passed_level()
            if self._cluster is not None:  # started, then the Ctrl-C held back meanwhile
                self._cluster.close()
            if not isinstance(err, Exception):
                raise
            raise NoWorkersError(
                f"DaskParallelRunner could not start its local dask cluster of {n_workers} "
                f"worker process(es): {type(err).__name__}: {str(err).rstrip('.')}."
                + _why_no_cluster()
            ) from err
        _forget_passed_level()
        try:
            client: Client = Client(self._cluster)  # type: ignore[no-untyped-call]
            output_path = self.scenario.output_path
            if output_path is not None:
                # Written here, not by the scheduler: dask's scheduler deletes its file when
                # the process exits, even after another process sharing the run wrote its own
                # cluster's address into it; close() deletes only a file naming this cluster.
                output_path.mkdir(parents=True, exist_ok=True)
                self.scheduler_file = output_path / SCHEDULER_FILE
                # A worker that joins through the file imports the target from where this
                # script's does (`dask worker` puts no folder of its own on the path).
                client.register_plugin(_ImportFolder(_main_folder()))
                self._scheduler_file = _SchedulerFile.write(self.scheduler_file, client)
        except BaseException:
            self._cluster.close()
            raise
        # A script whose optimize() was interrupted (Ctrl-C) and never closed the SMAC: the
        # cluster is closed before the interpreter shuts down, not by dask's own exit hooks,
        # which found the trials' workers gone and printed errors.
        self._close_at_exit = _CloseAtExit(client, self._cluster, self._scheduler_file)
        # A runner dropped without close() (``SMAC(scenario, f).optimize()`` in a loop, each
        # with its own cluster) closes its cluster when it is collected, in a thread of its
        # own: the collector may run in any thread, dask's event loop included, which cannot
        # wait there for the cluster to close.
        self._finalizer = weakref.finalize(self, _close_in_background, self._close_at_exit)
        # Before concurrent.futures shuts its executors down at exit, which dask still needs
        # to report the cancelled trials: a private hook of CPython's threading, which
        # concurrent.futures uses too; atexit's hooks run too late. One pair of hooks for
        # every cluster (they cannot be unregistered: one per runner piled up in a process
        # that runs one optimization after another).
        _pending_at_exit.add(self._close_at_exit)
        register = getattr(threading, "_register_atexit", atexit.register)
        with contextlib.suppress(RuntimeError):  # the interpreter is shutting down
            if not _closing_joined:
                register(_close_pending)
                register(_join_closing)  # (first: threads closing collected runners' clusters)
                _closing_joined = True
        logger.info(
            "Started a dask LocalCluster of %d worker process(es) at %s%s",
            n_workers,
            self._cluster.scheduler_address,
            "" if self.scheduler_file is None else f"; scheduler file {self.scheduler_file}",
        )
        return client

    def __enter__(self) -> DaskParallelRunner:
        return self

    @property
    def client(self) -> Client:
        """The dask client trials are submitted through."""
        return self._client

    @property
    def _dask(self) -> Any:
        # The client for calls into distributed, whose methods carry no annotations.
        return self._client

    # -- AbstractRunner ----------------------------------------------------------------------

    def submit_trial(self, trial_info: TrialInfo, **dask_data_to_scatter: Any) -> None:
        """Start a trial on a free worker thread, first waiting for one if none is free.

        Args:
            trial_info: What to run.
            **dask_data_to_scatter: Keyword arguments for the target; each object is scattered
                to the workers the first time it is passed and reused afterwards.

        Raises:
            ScenarioError: A value of ``dask_data_to_scatter`` cannot be pickled (it is named
                in the message); no trial was submitted.
            NoWorkersError: The cluster had no worker for ``patience`` seconds.
            RunnerClosedError: The runner was closed.
        """
        self._check_open()
        self._note_driver()
        if _interpreter_exiting():
            # (dask sends a trial through thread pools that take no work then: the trials
            # were recorded CRASHED, "cannot schedule new futures after shutdown")
            raise RunnerClosedError(
                "the main thread of this process returned while the run went on in thread "
                f"{threading.current_thread().name!r}: Python then shuts down the thread pools "
                "dask starts trials with, so no more can start (the finished ones are kept). "
                "Have the main thread wait for the run's thread (thread.join()) before it "
                "returns."
            )
        waited = False
        while self.count_available_workers() <= 0:
            waited = True
            if self._n_unfinished() > 0:
                interrupted = self._await_completion()
            else:
                interrupted = self._await_workers()
            if interrupted:
                # (by SMAC.close(), which stops the run: waiting on would hold it up until a
                # trial ends) dask holds the trial until a worker thread frees up.
                break
        trial = _Trial(trial_info, dict(dask_data_to_scatter), attempts=1)
        # After a wait here the thread was freed just now, not when a result was last read.
        self._submit(trial, freed=time.monotonic() if waited else None)
        if self._n_submitted == 1:
            self._warn_of_worker_memory()

    def iter_results(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        if not self._closed and (self._running or not self._closing):
            # (a runner closed after the user's client, with no trial running, has nothing
            # to collect: no error for the SMAC that closes it)
            self._check_client()
        while self._held and not (self._closing or self._closed):
            # (one at a time, held until submitted: a NoWorkersError while scattering lost
            # the rest; a review)
            self._submit(self._held[0])
            self._held.pop(0)
        self._drain()
        while self._finished and not self._closed:
            batch = list(self._finished)
            # A result lost with its worker is being computed again (rare): gathering it
            # waits for it, except while closing (it is given up below, as a lost trial).
            fetched = ("finished",) if self._closing else ("finished", *_REDONE)
            # (a key may have left _running meanwhile: a trial _total_threads submitted again
            # under a new key, whose cancelled future reported itself done)
            finished = [
                self._running[key][0]
                for key in batch
                if key in self._running and self._running[key][0].status in fetched
            ]
            values, errors = self._gather(finished)
            for key in batch:
                if self._closed:
                    return
                if self._finished and self._finished[0] == key:
                    self._finished.popleft()
                else:  # (taken out meanwhile, as _hold_machine_errors does)
                    continue
                if key not in self._running:  # submitted again meanwhile (see _total_threads)
                    continue
                future, trial = self._running.pop(key)
                value = values.get(key)
                if isinstance(value, MachineError):  # (see _run_trial)
                    errors[key], value = value, None
                if value is None and self._closing:
                    # Closing: no resubmission nor wait for workers (with a large patience it
                    # would hold up close() that long); the trial is given up, to be rerun.
                    logger.info(
                        "Closing: gave up trial (instance=%s, seed=%s, budget=%s), which "
                        "would have to be submitted again",
                        trial.info.instance,
                        trial.info.seed,
                        trial.info.budget,
                    )
                    continue
                if value is None:
                    counts = trial.attempts, trial.lost_data
                    try:
                        value = self._failed(future, trial, errors.get(key))
                    except MachineError:
                        # (kept to be read again, the same error was raised at every call
                        # for good; held, it runs again at the next call, as after mending,
                        # with the others that failed so meanwhile: one error for them all)
                        trial.attempts, trial.lost_data = counts
                        self._held.append(trial)
                        self._hold_machine_errors(values)
                        if trial.starttime <= self._machine_failed:
                            continue  # (submitted before the error was raised: its echo)
                        self._machine_failed = time.time()
                        raise
                    except BaseException:
                        # Not submitted again (e.g. NoWorkersError while scattering): keep the
                        # trial, so that the next call tries again instead of losing it.
                        trial.attempts, trial.lost_data = counts
                        self._running[key] = (future, trial)
                        self._finished.appendleft(key)
                        raise
                    if value is None:  # submitted again
                        continue
                now = time.monotonic()
                # Only trials the target ran once: a crash recorded here, or a trial that was
                # submitted again, says nothing about the round trip.
                if (
                    key in values
                    and trial.attempts == 1
                    and trial.lost_data == 0
                    and math.isfinite(value.time)
                    and value.time >= 0.0
                ):
                    self._durations.append(value.time)
                    if not trial.queued:
                        self._latencies.append(max(now - trial.freed - value.time, 0.0))
                self._last_read = now
                if key in values:  # the target's result (failures of dask's are logged above)
                    info = trial.info
                    if _RELAYED in value.additional_info and math.isfinite(value.cpu_time):
                        self._cpu_elsewhere += value.cpu_time  # (a worker process's)
                    value = _relay_warnings(value, self._memory_said)
                    value = _with_source_lines(value, self._target_codes)
                    log_failure(info.config, info.instance, info.seed, info.budget, value)
                yield trial.info, value
            self._drain()

    def _note_driver(self) -> None:
        """Note the thread that submits and waits for trials: the exit hook leaves the
        cluster open while it runs on (see :func:`_close_pending`)."""
        hook = getattr(self, "_close_at_exit", None)
        if hook is not None:
            hook.driver = threading.current_thread()

    def wait(self, timeout: float | None = None) -> None:
        """Block until at least one submitted trial has finished, or ``timeout`` seconds passed.

        With no trial running, return at once if a worker is free, else wait for one to join.

        Raises:
            NoWorkersError: The cluster had no worker for ``patience`` seconds.
            RunnerClosedError: The runner's client was closed.
        """
        self._note_driver()
        if not self._closed:
            self._check_client()
        self._drain()
        if self._finished:
            return
        if self._running:
            self._await_completion(timeout)
        elif self.count_available_workers() <= 0:
            self._await_workers()

    def interrupt(self) -> None:
        """Make a :meth:`wait` under way return soon (at once while trials run, within a
        second while it waits for a worker to join); safe from another thread and from a
        signal handler (the queue it wakes takes a put from one). A :meth:`submit_trial`
        that waits for a free worker thread stops waiting, and submits its trial beyond the
        workers (dask holds it until one frees up)."""
        self._interrupted = True
        self._done.put(_WAKE)

    def is_running(self) -> bool:
        return bool(self._running or self._held)

    def cpu_time_elsewhere(self) -> float:
        """CPU seconds that the trials this runner read back used in worker processes other
        than this one (their ``cpu_time``): what ``Scenario.cputime_limit`` counts besides
        this process's own. Trials of workers in this process count there already."""
        return self._cpu_elsewhere

    def count_available_workers(self) -> int:
        """Worker threads in the cluster (at least ``keep_submitted``), plus the trials it
        queues ahead (see the class docstring), minus trials submitted and not finished (may
        be < 0).

        The number of threads is asked from the scheduler at most every ``worker_count_ttl``
        seconds: under load a round trip to the scheduler can take tens of milliseconds, and the
        optimizer asks after every finished trial.

        Raises:
            RunnerClosedError: The runner or its client was closed.
        """
        self._check_open()
        if time.monotonic() - self._threads_checked > self.worker_count_ttl:
            self._total_threads()
        return self._threads + self.ahead() - self._n_unfinished()

    def ahead(self) -> int:
        """How many trials may be submitted beyond the cluster's worker threads now: those
        queued ahead, and those ``keep_submitted`` asks for beyond the threads."""
        # (an adaptive cluster grows to the trials its scheduler sees)
        growth = max(0, self.keep_submitted - self._threads)
        if self._threads <= 0:
            return growth  # else, with no worker, a trial could only wait, RUNNING
        if self.queue_ahead != "auto":
            return growth + self.queue_ahead
        return growth + trials_ahead(self._threads, self._latencies, self._durations)

    def run(
        self,
        config: Configuration,
        instance: str | None = None,
        budget: float | None = None,
        seed: int | None = None,
        **dask_data_to_scatter: Any,
    ) -> TrialValue:
        """Evaluate one trial in this process with ``single_worker`` (not on the cluster)."""
        return self.single_worker.run(config, instance, budget, seed, **dask_data_to_scatter)

    def cancel(self, trial_info: TrialInfo) -> None:
        """Stop a trial and forget it; its result is never reported.

        A trial that is still queued is cancelled. One that is executing cannot be interrupted
        inside its worker thread, so its worker is restarted (the nanny starts a fresh process,
        which joins the cluster again), in the background: this returns at once, and the other
        workers go on. Other trials that were on that worker are resubmitted as after any
        worker death.
        """
        self._held = [trial for trial in self._held if trial.info != trial_info]
        keys = [k for k, (_, trial) in self._running.items() if trial.info == trial_info]
        if not keys:
            return
        # Workers executing the trial now (processing() would also list workers it merely waits
        # on, behind another trial, and restarting those would kill that other trial).
        try:
            executing = self._client.call_stack(keys=keys)  # type: ignore[no-untyped-call]
        except Exception:  # e.g. a worker restarting: fall back to where the trial is placed
            executing = self._client.processing()  # type: ignore[no-untyped-call]
        for key in keys:
            future, _ = self._running.pop(key)
            if key in self._finished:  # finished meanwhile: its result is dropped all the same
                self._finished.remove(key)
            workers = [w for w, stacks in executing.items() if key in stacks]
            future.cancel()  # type: ignore[no-untyped-call]
            if workers:
                # In the background: a restart takes seconds (up to restart_timeout), in which
                # the other workers go on with trials the main loop hands them.
                self._restarts = [t for t in self._restarts if t.is_alive()]
                restart = threading.Thread(
                    target=self._restart, args=(workers,), name="smacx-restart", daemon=True
                )
                restart.start()
                self._restarts.append(restart)
        self._threads_checked = -math.inf  # count the workers afresh

    def _restart(self, workers: list[str]) -> None:
        """Restart ``workers`` to stop the cancelled trials they execute (in a thread)."""
        try:
            # On the runner's own cluster, whose workers are processes of their own, the
            # trial's programs end first (before the lock: a restart may wait behind
            # another): a restart kills only the worker's process, and a retired trial's
            # command ran on, orphaned, after the run. In a thread, bounded: a worker whose
            # trial holds the GIL cannot answer, and its restart must not wait on it.
            if self._cluster is not None:
                ending = threading.Thread(
                    target=_quietly,
                    args=(self._client.run, _end_trial_processes),
                    kwargs={"workers": workers, "on_error": "ignore"},
                    name="smacx-end-trial",
                    daemon=True,
                )
                ending.start()
                ending.join(5.0)
            # One restart at a time: dask's scheduler counts the workers of overlapping
            # restarts against each other and logs errors that they did not come back.
            # Bounded: a nanny that cannot restart its worker would otherwise take dask's
            # default of four connect timeouts (2 minutes).
            with self._restart_lock:
                if self._closed:  # the workers go with the cluster, or stay the user's
                    return
                status = self._client.restart_workers(
                    workers, timeout=self.restart_timeout, raise_for_error=False
                )
            logger.info("Restarted worker(s) to stop a cancelled trial: %s", status)
        except Exception as err:  # threads-only clusters have no nanny to restart with
            logger.warning(
                "Could not stop the cancelled trial on %s (%s): it keeps its worker busy "
                "until it ends.",
                workers,
                err,
            )
        finally:
            self._threads_checked = -math.inf

    def begin_close(self) -> None:
        """Collect only what has finished from now on: the runner is about to be closed.

        :meth:`iter_results` then yields the results that can be read at once; a trial that
        would have to be submitted again (its worker died, its data or result was lost) is
        given up instead, without waiting for workers, and so is a result being computed
        again. Such trials are not reported; :meth:`close` forgets them.
        """
        # One deadline for every batch read from now on: closing_timeout bounds the whole
        # collection, not each gather (results whose done-callbacks arrive late form batches).
        self._closing_deadline = time.monotonic() + self.closing_timeout
        self._held.clear()  # (trials a MachineError stopped are given up, as those lost are)

    def close(self) -> None:
        """Drop running trials and scattered data; close the cluster if the runner started it.

        A client passed by the user stays open; trials on it are cancelled (one already running
        on a worker thread cannot be stopped by dask: it finishes and its result is dropped).
        """
        if self._closed:
            return
        self._closed = True
        self._held.clear()
        self._forget.detach()  # done here
        # A restart under way ends within restart_timeout; those waiting for it return.
        deadline = time.monotonic() + self.restart_timeout + 5
        for restart in self._restarts:
            restart.join(max(0.0, deadline - time.monotonic()))
        futures = [f for f, _ in self._running.values()]
        # (with the scheduler gone, every call to it would wait out dask's reconnection)
        reachable = self._client.status == "running"
        started = self._started(futures) if futures and reachable and not self._owns_client else 0
        futures += [f for _, f, _ in self._scattered.values() if f is not None]
        self._running.clear()
        for _, _, arg in self._scattered.values():
            _in_process.pop(arg.key, None)
        self._scattered.clear()
        self._finished.clear()
        _forget_objects(self._key_prefix)  # the copies of workers in this process
        if not self._owns_client:
            if started:
                logger.warning(
                    "Closing with %d trial(s) running on the workers of the dask client you "
                    "passed: dask cannot stop a task that has started, so they run to their "
                    "end, and their results are dropped (a run that continues runs them "
                    "again). To stop one, cancel() it before closing: that restarts its worker.",
                    started,
                )
            if reachable:
                with contextlib.suppress(Exception):  # the user's cluster may already be gone
                    self._dask.cancel(futures)
                    # the copies each worker kept (a 200 MB array would outlive the run there)
                    self._dask.run(_forget_objects, self._key_prefix)
            return
        assert self._cluster is not None
        if futures and self._started(futures):
            # (the trials under way are dropped: their processes end now, not as their
            # workers close)
            with contextlib.suppress(Exception):
                self._dask.run(_end_trial_processes, on_error="ignore")
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer.detach()
        if self._close_at_exit.cancel():  # else the exit hook closed it already
            _close_cluster(self._client, self._cluster, self._scheduler_file, quietly=False)

    # -- internals ---------------------------------------------------------------------------

    @property
    def _closing(self) -> bool:
        """Whether :meth:`begin_close` was called."""
        return self._closing_deadline < math.inf

    def _started(self, futures: list[Future[Any]]) -> int:
        """How many of ``futures`` a worker is running now (0 if the scheduler cannot say)."""
        keys = {f.key for f in futures if f.status == "pending"}
        try:
            processing = self._dask.processing()
        except Exception:  # the user's cluster may be gone
            return 0
        return sum(key in keys for tasks in processing.values() for key in tasks)

    def _check_open(self) -> None:
        if self._closed:
            raise RunnerClosedError(
                "This DaskParallelRunner is closed and runs no more trials; create a new runner "
                "(or a new SMAC, which continues a stored run)."
            )
        self._check_client()

    def _check_client(self) -> None:
        status = getattr(self._client, "status", None)
        if status in ("closing", "closed") and not self._lost_scheduler:
            raise RunnerClosedError(
                "The dask client of this DaskParallelRunner was closed (client.close()), so the "
                f"runner can neither submit trials nor receive the results of the "
                f"{len(self._running)} it has running. Close the client only after the runner "
                "(or the SMAC using it), or create a new runner on a client that is open."
            )
        if status != "running":
            self._await_scheduler()

    def _await_scheduler(self) -> None:
        """Wait, at most ``patience`` seconds, for a client that lost its scheduler to be
        connected again.

        A scheduler that died took the trials' futures with it: dask cancels them, and
        resubmitting them warned "lost with a dask worker" until dask gave up reconnecting
        30 s later and raised its own OSError or CommClosedError (a dask audit's finding).

        Raises:
            RunnerClosedError: Still not connected after ``patience`` seconds.
        """
        start = time.monotonic()
        while self._client.status != "running":
            waited = time.monotonic() - start
            if (
                self._lost_scheduler  # (said once: close() and later calls do not wait again)
                or waited >= self.patience
                or self._client.status in ("closing", "closed")
            ):
                raise self._lost_scheduler_error(waited)
            time.sleep(0.1)

    def _paused_yet_running(self) -> bool:
        """Whether a worker dask has paused still runs a trial of this runner: a pause stops
        only the start of new tasks, and a trial that needs much memory pauses its worker
        (such a run must not end while it runs)."""
        if not self._paused:
            return False
        try:
            # (within a few seconds: a paused worker that does not answer, suspended say,
            # held the wait loop until the scheduler dropped it, minutes later; a review)
            counts = self._dask.run(
                _executing,
                self._key_prefix,
                workers=self._paused,
                on_error="ignore",
                callback_timeout=_ASK_PAUSED_SECONDS,
            )
        except Exception:  # (the scheduler or the workers went away, or no answer: none)
            return False
        return any(isinstance(n, int) and n > 0 for n in counts.values())

    def _lost_scheduler_error(self, waited: float) -> RunnerClosedError:
        """The error of a run whose scheduler did not come back within ``waited`` seconds."""
        self._lost_scheduler = True
        # (no count of the trials: the one being submitted or given up just then is in no list)
        return RunnerClosedError(
            f"DaskParallelRunner lost its dask scheduler at {self._address}: the client is "
            f"{self._client.status!r} (waited {waited:.3g} s of patience={self.patience:g}). "
            "The trials it had running went with the scheduler; they stay RUNNING in the "
            "history, which keeps every finished trial, and run again when the run is "
            "continued (SMAC on the same scenario). Start the scheduler again, or pass a "
            "client of one that runs."
        )

    def _running_threads(self) -> dict[str, int]:
        """The scheduler's workers that start tasks (not paused, not retiring): address ->
        threads. A scheduler lost during the call (the client may not know yet) is waited for
        as :meth:`_await_scheduler` does: dask's own CommClosedError ended the run at once,
        about one time in five that the scheduler was killed (an audit's finding)."""
        start = time.monotonic()
        while True:
            try:
                return dict(self._dask.sync(self._dask.scheduler.ncores_running))
            except OSError:  # (dask's CommClosedError is one)
                waited = time.monotonic() - start
                if self._lost_scheduler or waited >= self.patience:
                    raise self._lost_scheduler_error(waited) from None
                time.sleep(0.1)
                if self._client.status != "running":
                    self._await_scheduler()

    def _total_threads(self) -> int:
        """Ask the scheduler how many worker threads the cluster has now; submit again the
        trials held for workers that are gone (see :meth:`_submit`)."""
        self._restore_workers()
        self._count_workers()
        if self._bad_workers and self._good_workers:
            for key, (future, trial) in list(self._running.items()):
                if key not in self._running:  # submitted again meanwhile (by _scatter's call)
                    continue
                if trial.allowed is not None and not set(trial.allowed) & set(self._good_workers):
                    # Its workers left, or were restarted under new addresses, or none could
                    # run it when it was submitted: dask would hold it for them for good.
                    del self._running[key]
                    with contextlib.suppress(Exception):
                        self._dask.cancel([future])
                    self._submit(trial, trial.freed)
        return self._threads

    def _count_workers(self) -> None:
        """Ask the scheduler for its workers that start tasks (not paused, not retiring): those
        that can set trials up, and their threads.

        A worker paused by dask's memory manager counted as free: a target that left memory
        behind in a worker's process paused it for good, and the run waited for its queued
        trials forever, past patience and walltime_limit (an audit's finding). With none but
        paused workers, the run waits ``PAUSED_PATIENCE`` seconds at least (a pause often
        lifts once the worker has spilled), then ends with :class:`NoWorkersError`.
        """
        if self._client.status != "running":  # (else the call blocks while dask reconnects)
            self._check_client()
        nthreads = self._running_threads()
        self._worker_threads.update(nthreads)
        starting = [w for w in nthreads if w not in self._bad_workers]
        self._threads = int(sum(nthreads[w] for w in starting))
        self._threads_checked = time.monotonic()
        self._good_workers = starting
        if self._bad_workers:
            # Trials are then restricted to the good workers: paused and retiring ones too, as
            # a pause is often brief, and a trial running on one (its own memory paused it)
            # was cancelled and run again elsewhere when they were left out (a review).
            with contextlib.suppress(OSError):  # (the scheduler is gone: those that start)
                everyone = self._dask.nthreads()
                self._good_workers = [w for w in everyone if w not in self._bad_workers]
        paused: list[str] = []
        if not self._threads:
            workers: dict[str, Any] = {}
            with contextlib.suppress(OSError):  # (the scheduler is gone: counted as none)
                workers = _all_workers(self._dask)
            paused = [
                w
                for w, about in workers.items()
                if about.get("status") == "paused" and w not in self._bad_workers
            ]
        if paused and not self._paused:
            logger.warning(
                "DaskParallelRunner: dask has paused every worker that could run trials (%s): "
                "their memory is past distributed.worker.memory.pause (80%% of the worker's "
                "memory_limit by default), and they start no trial until it falls. The run "
                "waits for one to resume at least %g s, and as long as one still runs a trial "
                "of the run. Memory a target leaves behind in the worker "
                "process keeps it paused: set trial_memory_limit, so that each trial runs in "
                "a process of its own, or give the workers more memory_limit.",
                ", ".join(paused),
                max(self.patience, PAUSED_PATIENCE),
            )
        self._paused = paused

    def _restore_workers(self) -> None:
        """Bring the runner's own cluster back to ``scenario.n_workers`` worker processes.

        A nanny restarts a worker that died, but distributed's ``SpecCluster`` closes the nanny
        for good when no worker of its name is registered ``distributed.deploy.lost-worker-
        timeout`` (15 s) after a death: with a target that often kills its worker, that worker
        is often restarting just then, and the cluster ends up empty. (dask reads the timeout
        when a worker is removed, from the global config, so raising it would have to change
        it for the whole process.) Asking the cluster for its size again restarts what it
        closed; this runs wherever the runner counts the workers, including while it waits.
        """
        cluster = self._cluster
        if cluster is None or self._closed or cluster.status.name != "running":
            return
        wanted = self.scenario.n_workers
        # (a nanny whose start failed, e.g. its worker's name was still taken by the one
        # being closed, stays in the cluster's dict, closed)
        alive = sum(1 for nanny in list(cluster.workers.values()) if not _is_closed(nanny))
        if alive < wanted:
            now = time.monotonic()
            if now - self._restored_at >= 1.0:  # the cluster starts them in the background
                # (asked again each second, in case a start failed; said once per outage)
                log = logger.warning if now - self._restored_at > 2.0 else logger.debug
                self._restored_at = now
                log(
                    "The dask cluster is short of %d of its %d worker process(es) (closed "
                    "after repeated deaths, or retired); starting them again",
                    wanted - alive,
                    wanted,
                )
                loop = cluster.loop
                if loop is not None:
                    loop.add_callback(_restore_cluster, cluster, wanted)

    def _hold_machine_errors(self, values: dict[Key, Any]) -> None:
        """Move the finished trials that failed with a :class:`MachineError` (returned, in
        ``values``, the results gathered) to ``_held``."""
        for key in list(self._finished):
            future, trial = self._running.get(key, (None, None))
            if future is None or trial is None:
                continue
            failed = future.exception() if future.status == "error" else values.get(key)  # type: ignore[no-untyped-call]
            if isinstance(failed, MachineError):
                self._finished.remove(key)
                del self._running[key]
                self._held.append(trial)

    def _n_unfinished(self) -> int:
        return sum(1 for future, _ in self._running.values() if future.status == "pending")

    def _drain(self) -> None:
        """Move keys of futures finished since the last call to ``_finished``."""
        while True:
            try:
                key = self._done.get_nowait()
            except queue.Empty:
                break
            if key in self._running and key not in self._finished:
                self._finished.append(key)
        self._hand_over_unreported()

    def _hand_over_unreported(self) -> bool:
        """Once the main thread has returned (the interpreter is exiting, and waits for this
        thread): move keys of finished futures to ``_finished`` without their callbacks,
        which dask runs on a ``concurrent.futures`` pool that takes no work any more then
        ("cannot schedule new futures after interpreter shutdown"; an ``optimize()`` in such
        a thread waited for its first result for ever). Whether any was moved."""
        if not _interpreter_exiting():
            return False
        moved = False
        for key, (future, _) in list(self._running.items()):
            if future.status != "pending" and key not in self._finished:
                self._finished.append(key)
                moved = True
        return moved

    def _submit(self, trial: _Trial, freed: float | None = None) -> None:
        data = {name: self._scatter(name, value) for name, value in trial.data.items()}
        single_worker = self._scatter("", self.single_worker)
        held = [single_worker[0], *(future for future, _ in data.values())]
        trial.held = [future for future in held if future is not None]
        trial.starttime = time.time()
        trial.queued = self._n_unfinished() >= self._threads
        if freed is None:
            freed = self._last_read if self._last_read is not None else time.monotonic()
        trial.freed = freed
        info = trial.info
        # The configuration travels as its vector: pickling a Configuration pickles its whole
        # space (about 1 ms per trial for a small one); the worker's runner holds the space.
        vector = info.config.get_array()
        # The data's names travel inside one dict (dask resolves the futures in it), never as
        # keywords of submit, where dask would take e.g. ``priority`` or ``workers``.
        # Once a worker could not set trials up, only to the others there are now; with none,
        # to a worker that never joins, where dask holds it until _total_threads submits it
        # again to one that can (dask takes an empty list for no restriction).
        only: dict[str, Any] = {}
        trial.allowed = None
        if self._bad_workers:
            self._count_workers()
            trial.allowed = self._good_workers or [_NO_WORKER]
            only = {"workers": trial.allowed, "allow_other_workers": False}
        future = self._client.submit(
            _run_trial, self._key_prefix, single_worker[1],
            {name: arg for name, (_, arg) in data.items()},
            vector, info.instance, info.budget, info.seed, _gone, os.getpid(),
            key=f"{self._key_prefix}-{self._n_submitted}", **only,
        )  # fmt: skip
        self._n_submitted += 1
        self._running[future.key] = (future, trial)
        # (the queue, not a bound method: dask's client holds each pending future's callbacks,
        # and a runner they held was never collected, nor its cluster closed, while a trial
        # of an interrupted run was pending)
        future.add_done_callback(functools.partial(_hand_over, self._done))  # type: ignore[no-untyped-call]
        logger.debug(
            "Submitted trial (instance=%s, seed=%s, budget=%s) as %s, attempt %d",
            info.instance,
            info.seed,
            info.budget,
            future.key,
            trial.attempts,
        )

    def _scatter(self, name: str, value: Any) -> tuple[Future[Any] | None, Any]:
        """Put ``value`` on the cluster unless done before; its future and the task argument.

        Trials never depend on these objects in dask's graph: dask forgets a task whose
        scattered input lost its last copy (the future comes back cancelled), and its active
        memory manager soon leaves one copy of broadcast data, often on the worker a crashing
        target kills; a trial's own death could then not be told from a loss of data, nor
        charged to it. Instead an object pickled to at most ``_INLINE_BYTES`` (a runner, small
        data) travels inside each task as its pickle (an ``_Inline``), unpickled once per
        worker. A larger one is scattered to every worker (the scheduler never holds it) and
        each task gets its key (a ``_Scattered``); a worker keeps the object it first read
        (``_fetch``), copied from a peer if it has none (it joined later). A trial that finds
        every copy gone (their workers died) raises ``_DataLostError`` and is submitted again
        without counting an attempt, once the object was scattered again.

        Args:
            name: The target's keyword argument ``value`` is passed as ("" for the runner).
            value: The object to send to the workers.

        Raises:
            ScenarioError: ``value`` cannot be pickled, so dask cannot send it.
            NoWorkersError: The cluster had no worker for ``patience`` seconds.
        """
        cached = self._scattered.get(name)
        if (
            cached is not None
            and cached[0] is value
            and (cached[1] is None or cached[1].status == "finished")
        ):
            return cached[1], cached[2]
        if sizeof(value) <= _INLINE_BYTES:
            try:
                payload = cloudpickle.dumps(value)
            except Exception as err:
                raise _unpicklable_error(name, value, f"{type(err).__name__}: {err}") from err
            if len(payload) <= _INLINE_BYTES:
                inline = _Inline(f"{self._key_prefix}-object-{self._n_objects}", payload)
                self._n_objects += 1
                if cached is not None:
                    _in_process.pop(cached[2].key, None)
                # Workers in this process (a threads-only cluster) use the object itself, as
                # they would a scattered one, not a copy.
                _in_process[inline.key] = value
                self._scattered[name] = (value, None, inline)
                return None, inline
        failing_since: float | None = None
        while True:
            if not self._total_threads():
                self._await_workers()
            # A one-element list keeps dask from scattering the items of a list or dict
            # separately. dask waits `timeout` for a worker and then raises a bare
            # TimeoutError("No valid workers found"), e.g. when the last one died just now.
            try:
                [future] = self._dask.scatter(
                    [value], broadcast=True, hash=False, timeout=self.patience
                )
                break
            except Exception as err:
                problem = _unpicklable(value)
                if problem is not None:
                    raise _unpicklable_error(name, value, problem) from err
                if self._client.status != "running":
                    raise  # not the data nor the workers: the client was closed
                # Else workers changed underneath: none left (TimeoutError), one died while
                # it was sent to (a closed comm), or the scheduler's broadcast asked for one
                # removed meanwhile (KeyError). Try again, for at most patience seconds.
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                if now - failing_since >= self.patience:
                    if isinstance(err, _TIMEOUTS):
                        raise self._no_workers_error() from err
                    raise
                logger.info("Scattering %s failed (%s); trying again", name or "the runner", err)
                self._threads_checked = -math.inf
                time.sleep(min(0.1, self.patience / 10))
        if cached is not None:
            reason = "the worker(s) holding it died" if cached[0] is value else "a new object"
            logger.info("Scattered %s again: %s", name or "the target runner", reason)
        arg = _Scattered(future.key)
        self._scattered[name] = (value, future, arg)
        self._warn_of_worker_memory()
        return future, arg

    def _warn_of_worker_memory(self) -> None:
        """Warn, in this process, when a worker maps more than half of
        ``trial_memory_limit`` (say after a large object was scattered to it): each trial's
        process is forked from the worker and inherits that address space, so trials that fit
        the limit end MEMORYOUT. The worker's own warning stays in its process's log."""
        limit = getattr(self.single_worker, "memory_limit", None)
        if limit is None or self._memory_said[0]:
            return
        try:
            mapped = self._client.run(mapped_mb, on_error="return")
        except Exception:  # (a cluster that is changing: the trials say so if they fail)
            return
        worst = max((mb for mb in mapped.values() if isinstance(mb, float)), default=0.0)
        if worst < 0.5 * limit:
            return
        self._memory_said[0] = True
        # (a UserWarning: a script that set up no logging saw nothing, and its trials ended
        # MEMORYOUT)
        warn_caller(
            f"trial_memory_limit={limit:g} MB, but a dask worker already maps {worst:.0f} MB "
            f"(with the data scattered to it) {INHERITED_MEMORY} when it is forked from the "
            "worker: the target's own Python code has "
            f"{max(limit - worst, 0.0):.0f} MB left. Raise the limit by that much, or load "
            "large data inside the target."
        )

    def _gather(
        self, futures: list[Future[Any]]
    ) -> tuple[dict[Key, TrialValue], dict[Key, BaseException]]:
        """Fetch the values of trials, in one round trip unless some fail.

        Raises:
            NoWorkersError: A result lost with its worker had to be computed again, and the
                cluster had no worker for ``patience`` seconds (the trials stay in the runner:
                the next call waits for them again).
        """
        if not futures:
            return {}, {}
        # While closing, for at most closing_timeout seconds: a result on a worker that died
        # with the run (a Ctrl-C to the whole process group) is given up, as a lost trial.
        # (one deadline from begin_close(), so that batches of late results do not each get a
        # whole closing_timeout; a batch read after it still gets a moment for values there)
        deadline = max(self._closing_deadline, time.monotonic() + 0.1) if self._closing else None
        try:
            return dict(zip([f.key for f in futures], self._gather_in_steps(futures, deadline))), {}
        except NoWorkersError:
            raise
        except _GaveUp as err:
            return {}, {f.key: err for f in futures}
        # e.g. a result lost with its worker since the trial finished (dask's cancellation
        # errors derive from asyncio.CancelledError, a BaseException).
        except (Exception, asyncio.CancelledError):
            values: dict[Key, TrialValue] = {}
            errors: dict[Key, BaseException] = {}
            for future in futures:
                try:
                    values[future.key] = self._gather_in_steps(future, deadline)
                except NoWorkersError:
                    raise
                except (Exception, asyncio.CancelledError) as err:
                    errors[future.key] = err
                    if isinstance(err, _GaveUp):  # (past the deadline: so are the others)
                        deadline = -math.inf
            return values, errors

    def _gather_in_steps(
        self, futures: Future[Any] | list[Future[Any]], deadline: float | None
    ) -> Any:
        """Gather through the runner's client, as ``Client.gather`` does, but in steps.

        A result can be lost with its worker while it is being gathered: dask computes it
        again, which takes a worker, and its gather waits until then. Between steps the
        workers are counted, which restores the runner's own cluster (see
        :meth:`_restore_workers`); without that, a gather begun just before the cluster lost
        its last worker waited for good.

        Args:
            futures: What ``Client.gather`` takes.
            deadline: A ``time.monotonic()`` after which to give up (closing), or None.

        Raises:
            NoWorkersError: No worker for ``patience`` seconds.
            _GaveUp: Past ``deadline``.
        """
        client = self._dask
        gathering = asyncio.run_coroutine_threadsafe(
            _gather_boxed(client, futures), client.loop.asyncio_loop
        )
        step = self._step
        no_workers_since: float | None = None
        try:
            while True:
                left = math.inf if deadline is None else deadline - time.monotonic()
                wait = max(0.0, min(step, left))
                try:
                    ok, value = gathering.result(timeout=wait)
                except concurrent.futures.TimeoutError:
                    pass
                else:
                    if not ok:
                        raise value
                    return value
                if deadline is not None:
                    if time.monotonic() >= deadline:
                        raise _GaveUp(f"not fetched within {self.closing_timeout} s of closing")
                    continue
                # (this may submit again a trial being gathered whose workers are gone, which
                # dask would hold for good: iter_results skips its old key)
                no_workers_since = self._workers_or_patience(no_workers_since)
        finally:
            gathering.cancel()  # (nothing if it is done)

    def _failed(
        self, future: Future[Any], trial: _Trial, error: BaseException | None = None
    ) -> TrialValue | None:
        """Resubmit a trial whose future gave no value, or record it as CRASHED.

        Args:
            future: The trial's future: errored, cancelled, or finished but not gatherable.
            trial: The trial.
            error: Why gathering a finished future failed, if it did.
        """
        info = trial.info
        # (the configuration too: a worker's death is logged before the trial's result)
        where = (
            f"of {config_to_json(info.config):.200} (instance={info.instance}, "
            f"seed={info.seed}, budget={info.budget})"
        )
        if future.status == "cancelled" or isinstance(error, asyncio.CancelledError):
            # Data it needed, or its result, was lost with a worker: nothing the target did.
            # Or with the scheduler, which cancels every future: then only once the client is
            # connected again is there a scheduler to submit to.
            self._check_client()
            if trial.lost_data < _MAX_LOST_DATA_RESUBMITS:
                trial.lost_data += 1
                logger.warning("Trial %s was lost with a dask worker; submitting again", where)
                self._submit(trial)
                return None
            return self._crashed(
                trial,
                {
                    "error": "dask lost the trial, or the data it needed, with dying workers "
                    f"{trial.lost_data} times"
                },
            )
        if future.status == "error":
            error = future.exception()  # type: ignore[no-untyped-call]
        if isinstance(error, _DataLostError):
            # A worker found no copy of a scattered object (every copy died, or a peer's did
            # not arrive in time): not the trial's fault, so no attempt is charged. A lost
            # object is scattered again, from the one kept here, when the trial is submitted.
            lost = set(error.args)
            for name, (_, held, _) in list(self._scattered.items()):
                if held is not None and held.key in lost and held.status != "finished":
                    del self._scattered[name]
            if trial.lost_data < _MAX_LOST_DATA_RESUBMITS:
                trial.lost_data += 1
                logger.warning(
                    "Trial %s found its scattered data lost with a dask worker; sending the "
                    "data and the trial again",
                    where,
                )
                self._submit(trial)
                return None
            return self._crashed(
                trial,
                {
                    "error": "dask lost the data this trial needed, with dying workers, "
                    f"{trial.lost_data} times"
                },
            )
        if error is None:  # pragma: no cover - a finished future always gathers or raises
            error = RuntimeError(f"dask reported the trial's future as {future.status!r}")
        if isinstance(error, KilledWorker):
            self._threads_checked = -math.inf  # the cluster has one worker less for a while
            self._killed_trials += 1
            if trial.attempts <= self.max_retries:
                logger.warning(
                    "The dask worker running trial %s died (attempt %d of %d); submitting again",
                    where,
                    trial.attempts,
                    self.max_retries + 1,
                )
                trial.attempts += 1
                self._submit(trial)
                return None
            worker = getattr(error.last_worker, "address", str(error.last_worker))
            reason = (
                f"the dask worker running this trial ({worker}) died, {trial.attempts} time(s) "
                "in a row: it was killed, crashed (e.g. segfault) or ran out of memory"
            )
            threads = self._worker_threads.get(worker, 1)
            limited = (
                self.scenario.trial_walltime_limit is not None
                or self.scenario.trial_memory_limit is not None
            )
            if threads > 1:
                # (dask charges a death to every task on the worker: an audit found good
                # configurations recorded CRASHED next to one that took all the memory)
                reason += (
                    f". The worker ran up to {threads} trials at once, and each of them was "
                    "charged with its death, so another trial may have caused it"
                )
                if not limited:
                    reason += (
                        ": trial_memory_limit or trial_walltime_limit runs each trial in a "
                        "process of its own, whose death is its own"
                    )
            return self._crashed(
                trial, {"error": reason, "worker": worker, "attempts": trial.attempts}
            )
        if isinstance(error, _WorkerSetupError):
            # The worker, not the configuration: it cannot unpickle the target (a worker that
            # joined from another folder or environment), say. Submitted again to the others.
            address, why = error.args
            if address not in self._bad_workers:
                self._bad_workers[address] = why
                logger.error(
                    "The dask worker %s cannot set up this run's trials (%s); it gets none from "
                    "now on. A worker must be able to import smacx and the target: start it in "
                    "this process's environment, with the target's folder on PYTHONPATH if it is "
                    "not this script's.",
                    address,
                    why,
                )
                self._total_threads()
            if trial.lost_data < _MAX_LOST_DATA_RESUBMITS:
                trial.lost_data += 1
                self._submit(trial)
                return None
        if isinstance(error, MachineError):
            # A worker's machine could not set the trial up (a full disk): no fault of the
            # configuration, and every trial would fail the same way. The run stops.
            raise error
        # Not the target failing (SerialRunner.run catches that): dask could not run the trial.
        return self._crashed(
            trial,
            {
                "error": f"dask could not run the trial: {type(error).__name__}: {error}",
                "traceback": "".join(traceback.format_exception(error)),
            },
        )

    def _crashed(self, trial: _Trial, info: dict[str, Any]) -> TrialValue:
        logger.warning(
            "Trial of %.200s (instance=%s, seed=%s, budget=%s) ended CRASHED: %s",
            config_to_json(trial.info.config),
            trial.info.instance,
            trial.info.seed,
            trial.info.budget,
            info["error"],
        )
        end = time.time()
        return TrialValue(
            cost=self.scenario.crash_value,
            time=max(end - trial.starttime, 0.0),  # (the wall clock may have stepped back)
            cpu_time=math.nan,
            status=StatusType.CRASHED,
            starttime=trial.starttime,
            endtime=end,
            additional_info=info,
        )

    def _await_completion(self, timeout: float | None = None) -> bool:
        """Block until some submitted trial finishes, a worker thread is free (one joined the
        cluster), ``timeout`` seconds passed, or :meth:`interrupt` was called.

        Returns:
            Whether :meth:`interrupt` ended the wait.

        Raises:
            NoWorkersError: The cluster had no worker for ``patience`` seconds meanwhile.
        """
        step = self._step
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        no_workers_since: float | None = None
        free_at_start = self._threads + self.ahead() - self._n_unfinished()
        while True:
            if self._interrupted:  # (also before the wait: wait() drained the wake-up key)
                self._interrupted = False
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                key: Key | None = self._done.get(timeout=min(step, left))
            except queue.Empty:
                key = None
            # Outside the except clause, so that a Ctrl-C while the workers are counted
            # does not show up as raised while handling queue.Empty.
            if key is None and self._hand_over_unreported():
                return False
            if key is not None and key != _WAKE and key in self._running:
                # A result is never dropped for an interrupt that came meanwhile.
                if key not in self._finished:
                    self._finished.append(key)
                if self._interrupted:
                    self._interrupted = False
                    return True
                return False
            if key == _WAKE or self._interrupted:
                self._interrupted = False
                return True
            if key is None:
                no_workers_since = self._workers_or_patience(no_workers_since)
                if no_workers_since is None:
                    free = self._threads + self.ahead() - self._n_unfinished()
                    # Only more free threads than at the start (a worker joined); a thread that
                    # was free already (wait() with a slow first trial) is no reason to return.
                    if free > max(free_at_start, 0):
                        return False  # a worker joined: it need not wait for a running trial
                continue

    @property
    def _step(self) -> float:
        """Seconds between two counts of the workers while waiting (a quarter of patience,
        between 0.05 and 1)."""
        return max(0.05, min(1.0, self.patience / 4))

    def _workers_or_patience(self, since: float | None) -> float | None:
        """Count the workers (which restores the runner's own cluster, see
        :meth:`_total_threads`) for a wait that checks in steps.

        Args:
            since: ``time.monotonic()`` since when the cluster has had no worker, or None.

        Returns:
            None if there are workers, else ``since`` (now, if it was None).

        Raises:
            NoWorkersError: There has been no worker for ``patience`` seconds.
        """
        if self._total_threads() or self._paused_yet_running():
            return None
        now = time.monotonic()
        since = now if since is None else since
        if now - since >= self._patience():
            raise self._no_workers_error(self._patience()) from None
        return since

    def _await_workers(self) -> bool:
        """Block until the cluster has a worker, at most ``patience`` seconds, or until
        :meth:`interrupt` is called.

        Returns:
            Whether :meth:`interrupt` ended the wait.

        Raises:
            NoWorkersError: No worker joined within ``patience`` seconds.
        """
        # In steps, counting the workers each time: that restores the runner's own cluster.
        start = time.monotonic()
        step = self._step
        while not self._total_threads():
            if self._interrupted:
                self._interrupted = False
                return True
            left = start + self._patience() - time.monotonic()
            if left <= 0:
                raise self._no_workers_error(self._patience())
            with contextlib.suppress(*_TIMEOUTS):
                self._dask.wait_for_workers(1, timeout=min(step, left))
        return False

    def _patience(self) -> float:
        """How long to wait for a worker now: ``patience``, or at least ``RESTART_PATIENCE``
        while the runner's own cluster has worker processes (re)starting."""
        if self._paused:
            return max(self.patience, PAUSED_PATIENCE)
        cluster = self._cluster
        if cluster is None or self._closed or cluster.status.name != "running":
            return self.patience
        # A nanny restarting its worker stays in cluster.workers; one that _restore_workers
        # asked the cluster to start is added there only once its worker has joined
        # (SpecCluster._correct_state_internal), so the request itself counts as starting.
        restoring = time.monotonic() - self._restored_at < RESTART_PATIENCE
        starting = restoring or any(
            not _is_closed(nanny) for nanny in list(cluster.workers.values())
        )
        return max(self.patience, RESTART_PATIENCE) if starting else self.patience

    def _no_workers_error(self, waited: float | None = None) -> NoWorkersError:
        address = self._client.scheduler.address if self._client.scheduler else "unknown"
        how = (
            f"start some with `dask worker --scheduler-file {self.scheduler_file} "
            "--nthreads 1 --host 127.0.0.1 --dashboard-address 127.0.0.1:0` on this machine"
            if self.scheduler_file is not None
            else f"start some with `dask worker {address} --nthreads 1`, adding `--host "
            "127.0.0.1 --dashboard-address 127.0.0.1:0` on this machine"
        )
        bad = ""
        if self._paused:
            bad = (
                f" that starts trials (dask's memory manager has paused {len(self._paused)}: "
                f"{', '.join(self._paused)})"
            )
        elif self._bad_workers:
            bad = (
                f" that can set up its trials (of the others, {len(self._bad_workers)} could "
                f"not: {'; '.join(f'{w}: {why}' for w, why in self._bad_workers.items())})"
            )
        if self._paused:
            advice = (
                "A worker stays paused while its process holds memory past "
                "distributed.worker.memory.pause (80% of its memory_limit by default), as "
                "memory a target leaves behind (a cache, a leak) does. Set trial_memory_limit, "
                "so that each trial runs in a process of its own, whose memory is freed when it "
                "ends, or give the workers a larger memory_limit."
            )
        elif self._killed_trials and not self._owns_client:
            # A LocalCluster drops a worker whose process died too often, and never starts
            # it again: segfaulting configurations emptied the user's cluster.
            advice = (
                f"Trials killed their dask workers: {self._killed_trials} time(s) a worker died "
                "running one (a segfault, os._exit, running out of memory), and your cluster "
                "does not start workers again after many deaths. Set trial_walltime_limit or "
                "trial_memory_limit, so that each trial runs in a process of its own and its "
                "crash is recorded alone, or let smacx start its own cluster "
                "(Scenario(n_workers=k), no dask_client), which restarts its workers."
            )
        elif self._owns_client:
            advice = f"Add workers ({how}), " + (
                "pass a dask_client whose cluster has workers, or raise patience: "
                "SMAC(scenario, runner=DaskParallelRunner(SerialRunner(target_fn, scenario), "
                "patience=...)), both from smacx.runners."
            )
        elif self.keep_submitted:  # (an adaptive cluster's first workers may be batch jobs)
            advice = f"Add workers ({how}), or raise patience for the cluster to start them: " + (
                "pass runner=DaskParallelRunner(SerialRunner(target_fn, scenario), "
                f"dask_client=client, patience=..., keep_submitted={self.keep_submitted}) to "
                "SMAC instead of dask_client=client (both from smacx.runners)."
            )
        else:  # (the user's client: its workers may be batch jobs still queued)
            advice = f"Add workers ({how}), " + (
                "wait for the cluster's first workers before optimize() with "
                "client.wait_for_workers(1), or raise patience: pass "
                "runner=DaskParallelRunner(SerialRunner(target_fn, scenario), "
                "dask_client=client, patience=...) to SMAC instead of dask_client=client "
                "(both from smacx.runners). An adaptive cluster starts workers only for tasks "
                "it sees: give Scenario(n_workers=...) the workers it may grow to "
                "(DaskParallelRunner(keep_submitted=...) with runner=...)."
            )
        return NoWorkersError(
            f"DaskParallelRunner: the dask cluster at {address} has had no worker{bad} for "
            f"{self.patience if waited is None else waited:g} s (patience={self.patience:g}"
            f"{f', at least {PAUSED_PATIENCE:g} s for paused workers' if self._paused else ''}), "
            f"so no trial can run. {advice}"
        )


def _is_count(value: object) -> bool:
    """Whether ``value`` is an int >= 0 (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0


#: Seconds the runner's own cluster waits at least for worker processes it (re)starts.
RESTART_PATIENCE = 60.0

#: Seconds a run waits at least while its only workers are paused by dask's memory manager.
PAUSED_PATIENCE = 60.0

#: Seconds paused workers get to say whether they still run a trial (see _paused_yet_running).
_ASK_PAUSED_SECONDS = 3.0


class _CloseAtExit:
    """Closes a runner's own cluster as the interpreter exits, unless the runner closed it
    (:meth:`cancel`); quietly, since the run has ended with an error already. Not in a process
    forked from the one that started the cluster: multiprocessing's children run threading's
    exit hooks too, and would close the cluster through copies of its connections."""

    def __init__(
        self, client: Client, cluster: LocalCluster, scheduler_file: _SchedulerFile | None
    ) -> None:
        self._parts: tuple[Client, LocalCluster, _SchedulerFile | None] | None = (
            client,
            cluster,
            scheduler_file,
        )
        self._pid = os.getpid()
        #: The thread that last submitted or waited for trials (see _close_pending).
        self.driver: threading.Thread | None = None

    def pending(self) -> bool:
        """Whether the hook would close the cluster (neither it nor the runner did)."""
        return self._parts is not None and os.getpid() == self._pid

    def cancel(self) -> bool:
        """Keep the hook from closing the cluster; whether it had not done so already."""
        _pending_at_exit.discard(self)
        parts, self._parts = self._parts, None
        return parts is not None

    def __call__(self) -> None:
        _pending_at_exit.discard(self)
        parts, self._parts = self._parts, None
        if parts is not None and os.getpid() == self._pid:
            _close_cluster(*parts, quietly=True)


#: The exit hooks of runners' own clusters that are still open (see _close_pending).
_pending_at_exit: set[_CloseAtExit] = set()
#: Threads closing the clusters of collected runners (see _close_in_background).
_closing: list[threading.Thread] = []
_closing_joined = False  # whether _close_pending and _join_closing are registered for exit


def _close_pending() -> None:
    """At exit: close the runners' own clusters that are still open; but one whose run goes
    on in a thread that Python waits for, only after it ended (by ``atexit``, whose hooks
    run then; a cluster closed there after dask's thread pools shut down logs their errors).

    Python runs threading's exit hooks when the main thread returns, before it waits for
    the other threads: an ``optimize()`` in a thread of its own, which the main thread did
    not wait for, had its cluster closed under it, and ended with an error after a few
    trials (an audit).
    """
    for hook in list(_pending_at_exit):
        driver = hook.driver
        if (
            driver is not None
            and driver is not threading.current_thread()
            and not driver.daemon
            and driver.is_alive()
        ):
            # (its thread closes it; if it does not, atexit does, once that thread ended)
            with contextlib.suppress(RuntimeError):
                atexit.register(hook)
        else:
            hook()


def _secede_if_a_task_of(client: Client) -> None:
    """Leave the worker's thread pool, as dask's ``worker_client`` does, when this is a task
    on the cluster of ``client`` (runs of several seeds as tasks, each with its trials on the
    same cluster): the task held a thread of the cluster while it waited for trials that
    needed one, and with as many runs as threads nothing ran, for ever (an audit)."""
    try:
        from distributed import get_worker, secede
        from distributed.threadpoolexecutor import thread_state

        worker = get_worker()
        ours = worker.scheduler.address == getattr(client.scheduler, "address", None)
    except Exception:  # not a task, or a dask without these
        return
    if ours and getattr(thread_state, "proceed", None) is True:  # (not seceded already)
        secede()  # type: ignore[no-untyped-call]
        logger.info(
            "This runner is built in a dask task on its own client's cluster: the task leaves "
            "its worker's thread pool (distributed.secede()), so that the trials can run."
        )


def _interpreter_exiting() -> bool:
    """Whether the main thread has returned and the interpreter exits once the threads it
    waits for have ended (CPython's flag for it where there is one)."""
    flag = getattr(threading, "_SHUTTING_DOWN", None)
    return bool(flag) if isinstance(flag, bool) else not threading.main_thread().is_alive()


def close_own_clusters() -> None:
    """Close the clusters that runners of this process started and have not closed, ending
    the programs their trials run and giving up their scheduler files: before a SIGTERM ends
    the process, which runs no exit hook (the trials' programs ran on, orphaned, and the
    scheduler file named a dead scheduler)."""
    for hook in list(_pending_at_exit):
        hook()


def _close_in_background(hook: _CloseAtExit) -> None:
    """Close the cluster of a runner that was collected unclosed, in a thread, which the exit
    hook registered with the first cluster waits for (up to 30 s). Takes no lock: the
    collector may call it in a thread that holds one."""
    if hook.pending():
        thread = threading.Thread(
            target=_close_then_forget, args=(hook,), name="smacx-close-cluster", daemon=True
        )
        _closing.append(thread)
        thread.start()


def _close_then_forget(hook: _CloseAtExit) -> None:
    """Run ``hook`` in this thread (see _close_in_background), then drop the thread from
    ``_closing``: one finished thread per collected runner piled up there."""
    try:
        hook()
    finally:
        with contextlib.suppress(ValueError):
            _closing.remove(threading.current_thread())


def _forget_runner(prefix: str) -> None:
    """Drop what a runner that was collected unclosed keeps in this process (its target and
    what the target's closure holds), and have the workers drop its objects too: the trials
    of later runners tell them (see :func:`_run_trial`). A user's workers outlive the runner,
    and kept a 200 MB array of every run that was not closed, where dask can neither see nor
    spill it. No lock and no dask call: the collector may run in any thread, dask's event
    loop or one that holds ``_objects_lock`` included."""
    for key in list(_in_process):
        if key.startswith(f"{prefix}-"):
            _in_process.pop(key, None)
    global _gone
    _objects.pop(prefix, None)  # the copies of workers in this process
    _gone = (*_gone[-15:], prefix)  # (a new tuple: a trial being submitted may be reading it)


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold back a Ctrl-C (SIGINT) that arrives in this block until the block ends, then
    deliver it to the handler that was there before; at a second one, both are delivered at
    once.

    For the start of a ``LocalCluster``: interrupted there, dask leaves the workers it is
    starting out of the cluster, half-started, and its exit hook fails on them
    (``AssertionError: Status.init``). Held back, the cluster starts, and the Ctrl-C then
    interrupts the caller, which closes it. A second Ctrl-C interrupts a start that hangs,
    as before. Only in the main thread, where Python runs signal handlers, and only over a
    handler of Python's (another would not run in the middle of the start).
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    handler: Callable[[int, Any], Any] = previous
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if held:  # a second one: delivered now, after the one held, not again at the end
            held.clear()
            # (both: asyncio's handler cancels the main task at the first and interrupts at
            # the second; given one, it only cancelled, and the run went on; an audit)
            handler(signum, frame)
            handler(signum, frame)
            return
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)  # (handled at once, by `previous`)


def _unguarded_main_line() -> tuple[str, int] | None:
    """The main script's path and the line of its top-level code that is running this call,
    if that line is not under an ``if __name__ == "__main__":`` guard and worker processes
    would import the script (dask's ``spawn`` or ``forkserver`` start methods); else None.

    None also for an interactive session, ``python -c`` and a main module whose source
    cannot be read or parsed: nothing to tell then.
    """
    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if method == "fork" or main is None or not isinstance(path, str) or not path.endswith(".py"):
        return None
    # As multiprocessing.spawn decides: a main module named "__main__" (a directory or zip
    # run by path) or "<package>.__main__" (`python -m package`) is not run in the children.
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if isinstance(spec_name, str) and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return None
    line = None
    frame = sys._getframe(1)
    while frame is not None:  # the outermost frame of the script's module code
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    if line is None:
        return None
    try:
        # (bytes: the parser honours a coding declaration and a UTF-8 BOM, as Python does)
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.stmt, ast.expr))
            and _is_main_guard(node)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ):
            return None
    return path, line


def _is_main_guard(node: ast.AST) -> bool:
    """Whether ``node`` runs its code only where ``__name__`` is ``"__main__"``: an ``if``
    statement or expression, ``__name__ == "__main__" and ...``, or ``match __name__:``."""
    if isinstance(node, (ast.If, ast.IfExp)):
        return _names_main(node.test)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return _names_main(node.values[0])
    if isinstance(node, ast.Match):
        return isinstance(node.subject, ast.Name) and node.subject.id == "__name__"
    return False


def _names_main(test: ast.expr) -> bool:
    """Whether an ``if`` test compares ``__name__`` with ``"__main__"`` (either way round)."""
    names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
    strings = {n.value for n in ast.walk(test) if isinstance(n, ast.Constant)}
    return "__name__" in names and "__main__" in strings


def _join_closing() -> None:
    for thread in list(_closing):
        thread.join(timeout=30.0)


def _close_cluster(
    client: Client, cluster: LocalCluster, scheduler_file: _SchedulerFile | None, *, quietly: bool
) -> None:
    """Close a runner's own client and cluster, and give up its scheduler file if that still
    names this cluster (another process sharing the run may have written its own since);
    ``quietly``: errors are dropped."""
    try:
        address = cluster.scheduler_address

        # Trials cut short make dask's workers log errors as they close (a heartbeat to a
        # scheduler that is going, cancelled tasks): nothing to act on, the workers are ours.
        def quiet() -> None:
            # The trials under way end with their programs first: a run that ended with an
            # error (closed at exit) or was collected left a command's programs running.
            with contextlib.suppress(Exception):
                client.run(_end_trial_processes, on_error="ignore")
            with contextlib.suppress(Exception):
                client.run(_quiet_worker_logs, wait=False, on_error="ignore")

        # On a loaded machine the message may still be on its way when the workers close,
        # and the scheduler (in this process) logs an error for each it did not reach.
        scheduler_log = logging.getLogger("distributed.scheduler")
        scheduler_log.addFilter(_drop_failed_broadcasts)
        with contextlib.suppress(RuntimeError):  # no new thread at interpreter shutdown
            quieting = threading.Thread(target=quiet, name="smacx-quiet-workers", daemon=True)
            quieting.start()
            quieting.join(2.0)  # a worker busy in a long call must not hold the close up
        try:
            client.close()  # type: ignore[no-untyped-call]
        finally:
            try:
                cluster.close()
            finally:
                scheduler_log.removeFilter(_drop_failed_broadcasts)
            if scheduler_file is not None:
                scheduler_file.release(address)
    except Exception:
        if not quietly:
            raise


def _drop_failed_broadcasts(record: logging.LogRecord) -> bool:
    """A filter for the scheduler's log while the runner closes its own cluster: drops the
    errors of messages to workers that closed first."""
    return not record.getMessage().startswith("broadcast to ")


async def _quiet_worker_logs() -> None:
    """In a worker of a cluster the runner is closing: only critical messages from dask.
    (A coroutine: dask runs only those without waiting for them.)"""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


class _GaveUp(TimeoutError):
    """A result not fetched before the runner, closing, stopped waiting for it."""


async def _gather_boxed(client: Any, futures: Any) -> tuple[bool, Any]:
    """``client.gather(futures)`` in the client's event loop: (True, values), or (False, the
    error), so that dask's errors reach the caller as they are (a coroutine run from another
    thread turns those that derive from ``asyncio.CancelledError`` into a cancellation)."""
    try:
        return True, await client.gather(futures, asynchronous=True)
    except BaseException as err:  # (dask's cancellation errors are BaseExceptions)
        return False, err


def _is_closed(nanny: Any) -> bool:
    status = getattr(getattr(nanny, "status", None), "name", "")
    return status in ("closing", "closed", "failed", "closing_gracefully")


def _restore_cluster(cluster: LocalCluster, n_workers: int) -> None:
    """In the cluster's event loop: forget its closed nannies and start ``n_workers`` again."""
    for name, nanny in list(cluster.workers.items()):
        if _is_closed(nanny):
            del cluster.workers[name]
    cluster.scale(n_workers)  # type: ignore[no-untyped-call]


def _unpicklable(value: Any) -> str | None:
    """Why neither pickle nor cloudpickle (dask's fallback) can serialize ``value``, or None."""
    try:
        cloudpickle.dumps(value)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def _unpicklable_error(name: str, value: Any, problem: str) -> ScenarioError:
    """The error for scattering ``value``, which cannot be pickled, as keyword ``name``."""
    got = f"{type(value).__module__}.{type(value).__qualname__}"
    if not name:
        return ScenarioError(
            "DaskParallelRunner cannot send its SerialRunner to the dask workers: expected a "
            f"target_fn that can be pickled (pickle or cloudpickle), got one that holds "
            f"unpicklable data ({problem}). Create such objects (locks, connections, open files) "
            "inside the target, or pass a module-level function."
        )
    return ScenarioError(
        f"data_to_scatter[{name!r}] cannot be sent to the dask workers: expected data that can "
        f"be pickled (pickle or cloudpickle), got {got} ({problem}). Pass picklable data "
        "instead, and create objects such as locks, connections or open files inside the target."
    )


def _scheduler_saturation(client: Client) -> float | None:
    """The ``worker-saturation`` of ``client``'s scheduler, or None if it cannot be asked (e.g.
    a scheduler that refuses pickled functions)."""
    try:
        value = client.run_on_scheduler(  # type: ignore[no-untyped-call]
            lambda dask_scheduler: dask_scheduler.WORKER_SATURATION
        )
        return float(value)
    except Exception:  # only a hint depends on it
        return None


def _main_folder() -> str:
    """The folder this process imports its main script's modules from, as Python put it
    first on the import path: the script's folder, or the current one for ``python -m`` and
    an interactive session. (Not the path's first entry now: dask puts its scratch folder
    there.)"""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if file is None or getattr(main, "__spec__", None) is not None:
        return os.getcwd()
    return os.path.dirname(os.path.abspath(str(file)))


class _ImportFolder(WorkerPlugin):
    """Puts a folder at the front of each worker's import path, as it joins the cluster.

    Args:
        folder: The folder (see :func:`_main_folder`).
    """

    name = "smacx-import-folder"

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def setup(self, worker: Any) -> None:
        if self.folder not in sys.path:
            sys.path.insert(0, self.folder)


@dataclass
class _SchedulerFile:
    """The scheduler file of a runner's own cluster, in the run's output directory, which
    ``dask worker --scheduler-file`` reads to join the run.

    Processes sharing a run each start a cluster; the file names the latest one's, and
    carries the id of the process that wrote it (``smacx_owner``; dask reads only the address).
    A process that closes its cluster while the file still names it hands the file back to
    the cluster whose file it replaced, if that one still runs (its process lives and its
    scheduler answers), and deletes it otherwise.

    Attributes:
        path: The file.
        previous: What the file held before this process wrote it, if its cluster still ran.
    """

    path: Path
    previous: str | None = None

    @classmethod
    def write(cls, path: Path, client: Client) -> _SchedulerFile:
        previous = None
        with contextlib.suppress(OSError):
            previous = path.read_text()
        info = dict(client.scheduler_info())
        info["smacx_owner"] = owner_id()
        _write_private(path, json.dumps(info, indent=2))
        _open_schedulers.add(info["address"])
        return cls(path, previous if previous is not None and _runs(previous) else None)

    def release(self, address: str | None) -> None:
        """Give the file up (this process's cluster at ``address`` is closing)."""
        _open_schedulers.discard(address or "")
        if not _names_scheduler(self.path, address):
            return  # another process's now
        if self.previous is not None and _runs(self.previous):
            _write_private(self.path, self.previous)
        else:
            self.path.unlink(missing_ok=True)


#: Addresses of the schedulers of this process's runners that are open.
_open_schedulers: set[str] = set()


def _runs(scheduler_file: str) -> bool:
    """Whether the cluster that a scheduler file's text names still runs, as far as its
    process can be checked (one on another host counts as running)."""
    try:
        info = json.loads(scheduler_file)
        owner, address = info["smacx_owner"], info["address"]
    except (ValueError, KeyError, TypeError):
        return False  # (not written by smacx)
    if owner == owner_id():
        return address in _open_schedulers
    return owner_is_alive(owner) and _answers(address)


def _answers(address: str) -> bool:
    """Whether a dask scheduler answers at ``address`` within a second (a live process may
    have closed its cluster). Connects as a client does, in a thread of its own (this one
    may run an event loop), so the scheduler logs nothing about it."""
    from distributed.comm.core import connect

    async def probe() -> None:
        comm = await connect(address, timeout=1.0)  # type: ignore[no-untyped-call]
        await comm.close()

    answered: list[bool] = []

    def run() -> None:
        with contextlib.suppress(Exception):
            asyncio.run(probe())
            answered.append(True)

    thread = threading.Thread(target=run, name="smacx-scheduler-probe", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # (no new thread at interpreter shutdown: taken as no answer)
        return False
    thread.join(5.0)
    return bool(answered)


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` at once (a reader never sees half of it), readable by this user only:
    whoever can reach a scheduler runs code as its user."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # (mode 0600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _names_scheduler(path: Path, address: str | None) -> bool:
    """Whether the scheduler file at ``path`` gives ``address``."""
    try:
        return bool(json.loads(path.read_text()).get("address") == address)
    except (OSError, ValueError, AttributeError):
        return False


def trials_ahead(threads: int, latencies: Sequence[float], durations: Sequence[float]) -> int:
    """Trials to queue beyond ``threads`` worker threads so that none waits for the next.

    Args:
        threads: Worker threads in the cluster.
        latencies: Seconds each recent trial's worker thread lost per trial: from reading the
            result that freed it to reading the trial's own result, minus the target's time.
        durations: Seconds the target took in recent trials.

    Returns:
        ``2 * threads * L / T`` rounded down, at most ``threads``, for the medians ``L`` and
        ``T``; 0 with fewer than four latencies or when ``T > 100 * L``.
    """
    if len(latencies) < 4 or len(durations) == 0:
        return 0
    # (statistics.median: a sixth of np.median's time on 32 numbers; asked before every submit)
    latency = statistics.median(latencies)
    duration = statistics.median(durations)
    if not latency > 0.0 or duration > 100.0 * latency:
        return 0
    return min(threads, int(2.0 * threads * latency / max(duration, 1e-6)))


# -- on the worker -------------------------------------------------------------------------------


class _DataLostError(Exception):
    """Raised on a worker when a scattered object a trial needs is not there."""


def _temporary_security() -> Any:
    """TLS credentials made for one cluster (see ``DaskParallelRunner(tls=True)``)."""
    try:
        import cryptography  # noqa: F401 - (dask's temporary credentials need it)
    except ImportError:
        raise NoWorkersError(
            "DaskParallelRunner(tls=True) (smacx run --tls) needs the cryptography package "
            "for its credentials: pip install cryptography."
        ) from None
    from distributed.security import Security

    return Security.temporary()  # type: ignore[no-untyped-call]


def _why_no_cluster() -> str:
    """What may have kept a local cluster's workers from starting, as far as this process can
    tell (dask's own error says only "Nanny failed to start"; the cause is in the workers'
    log): few files allowed, a full ``/dev/shm``, a script without a ``__main__`` guard."""
    import resource
    import shutil

    hints = []
    allowed = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if allowed != resource.RLIM_INFINITY and allowed < 1024:
        hints.append(
            f" This process may open only {allowed} files (`ulimit -n`), and each dask worker "
            "needs dozens: raise the limit (`ulimit -n 4096`)."
        )
    with contextlib.suppress(OSError):
        if shutil.disk_usage("/dev/shm").free < 2**20:
            hints.append(" /dev/shm, where dask's processes share memory, is full.")
    # (a script's only: not smacx's command line, `python -c`, the REPL or a notebook)
    main = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if main.endswith(".py") and Path(main).parent != Path(__file__).parents[1]:
        hints.append(
            " dask's worker processes import the main module: if a script builds SMAC (or this "
            'runner) at its top level, put that code under `if __name__ == "__main__":`.'
        )
    return "".join(hints)


class _WorkerSetupError(Exception):
    """Raised on a worker that cannot set a trial up (unpickle the runner and its target, or
    the data): ``args`` are the worker's address and why."""


@dataclass(frozen=True)
class _Scattered:
    """Names a large scattered object that a trial fetches itself (see ``_fetch``)."""

    key: str


@dataclass(frozen=True)
class _Inline:
    """A small object's pickle, sent inside each task; ``key`` names it in a worker's cache."""

    key: str
    payload: bytes


def _run_trial(
    prefix: str,
    runner: _Inline | _Scattered,
    data: dict[str, Any],
    vector: np.ndarray,
    instance: str | None,
    budget: float | None,
    seed: int | None,
    gone: tuple[str, ...],
    submitter: int,
    /,
) -> TrialValue | MachineError:
    """Evaluate one trial on a dask worker with ``single_worker.run``; a
    :class:`MachineError` it raised is returned.

    The task depends on nothing: small objects come pickled inside it, large scattered ones
    by key, fetched here (see ``DaskParallelRunner._scatter``). So a dying worker costs the
    trial an attempt only if it held the trial (dask's ``KilledWorker``), and a lost large
    object raises :class:`_DataLostError` instead of dask forgetting the trial.

    Args:
        prefix: The submitting runner's key prefix (its objects cached on this worker).
        runner: The ``SerialRunner``; its scenario holds the space.
        data: The target's keyword arguments (a dict, so that names such as ``key`` or
            ``priority`` never meet the keywords of ``Client.submit``).
        vector: The configuration's ConfigSpace vector (``get_array()``).
        instance: The trial's instance.
        budget: The trial's budget.
        seed: The trial's seed.
        gone: Key prefixes of runners collected unclosed: this worker drops their objects.
        submitter: The submitting process's id. In another process, the warnings that smacx
            logs while the trial runs (a host of a command target that ssh could not reach)
            go back with the result, to be logged there (see :func:`_relay_warnings`): a
            worker process's log has no handler the user sees.

    Raises:
        _DataLostError: An object is no longer on the cluster.
        _WorkerSetupError: This worker cannot unpickle the runner or the data.
    """
    for dropped in gone:
        _objects.pop(dropped, None)
    try:
        values = _fetch(prefix, [runner, *data.values()])
        single_worker: SerialRunner = values[runner.key]
        elsewhere = os.getpid() != submitter
        if elsewhere:
            _main_names_for(single_worker.target_fn)
        kwargs = {name: values[ref.key] for name, ref in data.items()}
        config = plain_config(Configuration(single_worker.scenario.configspace, vector=vector))
    except _DataLostError:
        raise
    except Exception as err:
        from distributed import get_worker

        raise _WorkerSetupError(get_worker().address, f"{type(err).__name__}: {err}") from None
    relayed = _ThreadWarnings() if elsewhere else contextlib.nullcontext()
    with (
        _children_allowed(),
        interrupts_are_failures(),
        results_logged_by_caller(),  # in the user's process, by iter_results
        relayed,
    ):
        try:
            value = single_worker.run(config, instance, budget, seed, **kwargs)
        except MachineError as err:
            # (returned: raised, dask's worker logged it as a failed task, with a traceback;
            # the runner raises it where the results are read)
            return err
    if isinstance(relayed, _ThreadWarnings):  # (also empty: the trial ran in another process)
        info = {**value.additional_info, _RELAYED: relayed.messages}
        value = replace(value, additional_info=info)
    # (its info goes back pickled, as the serial runner's does from a limited trial)
    return picklable(value)


def _main_names_for(target_fn: Any) -> None:
    """Give this worker process's ``__main__`` the functions and classes of the user's script
    that ``target_fn`` uses, as copies came with it.

    A target defined in the script (``__main__``) reaches a worker process pickled by value,
    with copies of the script's functions it names. One that hands such a function to a
    multiprocessing pool (``pool.map(square, ...)``) failed every trial there: the pool
    pickles the function by reference, ``__main__.square``, and refused a copy that is not
    that object. With the copies under their names in ``__main__``, the reference holds, and
    the pool's processes (forked from this one) find them."""
    fn = getattr(target_fn, "__func__", target_fn)
    names = getattr(fn, "__globals__", None)
    main = sys.modules.get("__main__")
    if getattr(fn, "__module__", None) != "__main__" or not isinstance(names, dict) or not main:
        return
    for name, value in list(names.items()):
        if (
            (inspect.isfunction(value) or inspect.isclass(value))
            and getattr(value, "__module__", None) == "__main__"
            and getattr(value, "__qualname__", None) == name
            and getattr(main, name, None) is not value
        ):
            setattr(main, name, value)


#: Key of a result's ``additional_info`` under which a worker process's warnings travel.
_RELAYED = "smacx_worker_warnings"


class _ThreadWarnings(logging.Handler):
    """Collects, while installed on the ``smacx`` logger (as a context manager), the
    messages of warnings and errors handled in the installing thread, as (level, text): those
    logged there, and those a limited trial's process sent it (see ``serial._LogPipe``),
    whose records name the child's thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[tuple[int, str]] = []
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if threading.get_ident() == self._thread and len(self.messages) < 20:
            with contextlib.suppress(Exception):
                self.messages.append((record.levelno, record.getMessage()))

    def __enter__(self) -> _ThreadWarnings:
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger.removeHandler(self)


#: A frame of a traceback of code that cloudpickle sent by value (a script's functions, a
#: notebook's): it names no file, and shows no source line.
_DYNAMIC_FRAME = re.compile(r'^(\s*)File "<dynamic-code>", line (\d+), in (\S+)$', re.MULTILINE)


def _codes_by_name(target_fn: Any) -> dict[str, list[types.CodeType]]:
    """The code objects of ``target_fn`` and of the functions and methods in its module's
    namespace, by name: where the frames of a traceback with ``<dynamic-code>`` in it come
    from (see :func:`_with_source_lines`). Only functions are read (a global such as Flask's
    ``request`` raises when its attributes are)."""
    codes: dict[str, list[types.CodeType]] = {}

    def add(obj: Any) -> None:
        if isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            obj = obj.__func__
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            if code not in codes.get(code.co_name, []):
                codes.setdefault(code.co_name, []).append(code)

    while isinstance(target_fn, functools.partial):
        target_fn = target_fn.func
    if isinstance(target_fn, types.MethodType):
        target_fn = target_fn.__func__
    try:
        add(target_fn)
        namespace = getattr(target_fn, "__globals__", None)
        module = getattr(target_fn, "__module__", None)
        for obj in list(namespace.values()) if isinstance(namespace, dict) else []:
            if isinstance(obj, type) and obj.__module__ == module:
                for member in list(vars(obj).values()):
                    add(member)
            else:
                add(obj)
    except Exception:  # (a namespace that changed meanwhile, an odd class): what was found
        pass
    return codes


def _with_source_lines(value: TrialValue, codes: dict[str, list[types.CodeType]]) -> TrialValue:
    """``value`` with the file and source line restored in the frames of its traceback that
    name ``<dynamic-code>``: cloudpickle sends the functions of a script (``__main__``) and of
    a notebook by value, with the file left out, so that a trial's traceback gave the line
    numbers of a file it did not name (a serial run names it, and shows each line). Only a
    frame of a function of the target's module, whose lines hold the line number, is
    named; the others stay as they were."""
    text = value.additional_info.get("traceback")
    if not isinstance(text, str) or "<dynamic-code>" not in text or not codes:
        return value

    def restored(match: re.Match[str]) -> str:
        indent, number, name = match.group(1), int(match.group(2)), match.group(3)
        for code in codes.get(name, []):
            lines = [line for _, _, line in code.co_lines() if line is not None]
            if lines and min(lines) <= number <= max(lines):
                frame = f'{indent}File "{code.co_filename}", line {number}, in {name}'
                source = linecache.getline(code.co_filename, number).strip()
                return f"{frame}\n{indent}  {source}" if source else frame
        return match.group(0)

    info = {**value.additional_info, "traceback": _DYNAMIC_FRAME.sub(restored, text)}
    return replace(value, additional_info=info)


def _relay_warnings(value: TrialValue, memory_said: list[bool]) -> TrialValue:
    """Log here the warnings a worker process logged while it ran the trial of ``value``
    (see :func:`_run_trial`; the list, empty or not, marks a trial run in another process),
    and return ``value`` without them.

    A worker's warning that trials inherit its memory is logged once for the run, and not
    at all when ``memory_said[0]`` says this process warned of it already: each worker gives
    it, and with two workers and scattered data it came three times.
    """
    relayed = value.additional_info.get(_RELAYED)
    if relayed is None:
        return value
    for level, message in relayed:
        if INHERITED_MEMORY in message:
            if memory_said[0]:
                continue
            memory_said[0] = True
        logger.log(level, "%s (on a dask worker)", message)
    info = {k: v for k, v in value.additional_info.items() if k != _RELAYED}
    return replace(value, additional_info=info)


#: Runner key prefix -> scattered key -> the object, on a worker: objects its trials used
#: last. dask's active memory manager drops the copies a broadcast put on every worker
#: down to one, so a worker keeps its own here: each object crosses the network at most once
#: per worker, and every trial on a worker sees the same object.
_objects: dict[str, dict[str, Any]] = {}

#: In the submitting process: key of each inline object -> the object, for workers that run
#: in this very process (they get it as it is, as they would a scattered object).
_in_process: dict[str, Any] = {}

#: In the submitting process: key prefixes of the latest 16 runners collected unclosed,
#: whose objects the workers drop when a trial tells them (see _forget_runner).
_gone: tuple[str, ...] = ()

#: A worker address no worker has: trials held until a worker that can run them joins. An IP
#: address (TEST-NET-1, for documentation, and port 1): dask's scheduler resolves the
#: addresses a task is restricted to, and a host name no DNS knew failed every such trial
#: (recorded CRASHED, the target blamed; an audit of a cluster whose only worker could not
#: import the target).
_NO_WORKER = "tcp://192.0.2.1:1"
_MISSING = object()
_objects_lock = threading.Lock()


def _quietly(call: Any, *args: Any, **kwargs: Any) -> None:
    """``call(*args, **kwargs)``, its errors dropped (for a thread of its own)."""
    with contextlib.suppress(Exception):
        call(*args, **kwargs)


def _hand_over(done: queue.SimpleQueue[Any], future: Future[Any]) -> None:
    """A future's done-callback, in dask's callback thread: only hand its key over."""
    done.put(future.key)


def _end_trial_processes(dask_worker: Any = None) -> int:
    """In a worker of the runner's own cluster, closing with trials under way: kill the
    processes they started (a limited trial's process, a command's programs); the worker
    itself closes after. They ran on for the nanny's grace of seconds (a `smacx run
    --workers 2` stopped by SIGTERM let its commands run to their end); returns how many
    were killed.

    A worker running no trial (``dask_worker``, as ``Client.run`` passes it, has no task
    under way) is left alone: what it holds are pools the trials' code keeps for reuse
    (joblib's, for scikit-learn's ``n_jobs``), whose killing made a clean close print dozens
    of tracebacks and "resources might leak" (an ML workflow audit)."""
    import psutil

    from smacx.command import kill_tree

    if dask_worker is not None and not getattr(dask_worker, "active_threads", True):
        # (shut down as a trial's process does, else the worker outlived dask's grace of
        # 4 s for them, and was killed with a warning)
        close_reusable_pools()
        return 0
    return kill_tree(psutil.Process(), keep_root=True)


def _all_workers(client: Any) -> dict[str, Any]:
    """What the scheduler knows of each of its workers (``Client.scheduler_info``), all of
    them: distributed 2025.5 to 2026.6 give the first 5 unless asked for all, a keyword
    2024.9 does not know (a review found paused workers beyond the fifth missed)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:
        info = client.scheduler_info()
    return dict(info.get("workers", {}))


def _executing(prefix: str, dask_worker: Any = None) -> int:
    """How many trials of the runner with key ``prefix`` this worker (``dask_worker``, as
    ``Client.run`` passes it) is running now."""
    keys = list(getattr(dask_worker, "active_threads", {}).values())
    return sum(1 for key in keys if str(key).startswith(prefix))


def _forget_objects(prefix: str) -> None:
    """Drop the objects a runner's trials kept on this worker (the runner is closed)."""
    with _objects_lock:
        _objects.pop(prefix, None)


def _fetch(prefix: str, refs: list[_Inline | _Scattered]) -> dict[str, Any]:
    """The objects ``refs`` name, by key: from this worker's cache, the pickle sent along,
    this worker's memory, or a peer's (this worker joined after the broadcast, or dask's
    active memory manager dropped its copy).

    Raises:
        _DataLostError: A scattered one is on no worker any more (every copy was lost).
    """
    from distributed import get_worker

    worker = get_worker()
    keys = [ref.key for ref in refs]
    with _objects_lock:
        cache = _objects.setdefault(prefix, {})
        for stale in set(cache) - set(keys):  # replaced by newer objects: free the memory
            del cache[stale]
        found = {key: cache[key] for key in keys if key in cache}
    for ref in refs:
        key = ref.key
        if key in found:
            continue
        if isinstance(ref, _Inline):
            local = _in_process.get(key, _MISSING)
            found[key] = cloudpickle.loads(ref.payload) if local is _MISSING else local
            with _objects_lock:
                _objects.setdefault(prefix, {})[key] = found[key]
            continue
        try:
            value = worker.data[key]
        except Exception:  # joined after the broadcast, or dask dropped this copy: ask a peer
            value = _from_peer(key)
        found[key] = value
        with _objects_lock:
            _objects.setdefault(prefix, {})[key] = value
    return found


def _from_peer(key: str) -> Any:
    """The scattered object ``key`` copied from a worker that holds it.

    Raises:
        _DataLostError: No worker holds it any more (every copy died with its worker), or
            the copy did not arrive within ``_PEER_FETCH_TIMEOUT`` seconds.
    """
    from distributed import Future, get_client

    try:
        # "memory": the runner holds the object's future, so the scheduler knows where the
        # copies are; gathering asks it and copies one from a peer.
        # (distributed annotates ``state`` as a FutureState; it takes the state's name)
        future: Future[Any] = Future(key, get_client(), state="memory")  # type: ignore[arg-type]
        try:
            return future.result(timeout=_PEER_FETCH_TIMEOUT)
        finally:
            future.release()  # type: ignore[no-untyped-call]
    except Exception as err:  # cancelled (lost) or timed out: the runner scatters it again
        raise _DataLostError(key) from err


_lock = threading.Lock()
_n_trials = 0
_was_daemon = False
_in_trial = threading.local()
_fork_hooked = False


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let this worker process start children (pynisher's, or the target's own) while the block
    runs.

    Dask starts worker processes as daemons, and multiprocessing refuses to start children of a
    daemonic process ("daemonic processes are not allowed to have children") because a daemon is
    terminated without waiting for them. The flag is lifted while trials run, and on Linux
    each child forked by a trial is made to receive SIGKILL when this process dies (except a
    limited trial's process, which the watchdog ends with what it started: see
    :mod:`smacx.runners.watchdog`), so no target outlives its worker.
    """
    global _n_trials, _was_daemon
    process = multiprocessing.current_process()
    config = getattr(process, "_config", None)
    _install_fork_hook()
    with _lock:
        if _n_trials == 0 and isinstance(config, dict):
            _was_daemon = bool(config.get("daemon"))
            config["daemon"] = False
        _n_trials += 1
    _in_trial.parent = os.getpid()
    try:
        yield
    finally:
        _in_trial.parent = None
        with _lock:
            _n_trials -= 1
            if _n_trials == 0 and isinstance(config, dict) and _was_daemon:
                config["daemon"] = True


#: Run by each worker process of a runner's own cluster as it starts (dask's ``preload``, as
#: the text of a script): a SIGINT only counts itself there. A Ctrl-C typed in a terminal
#: reaches every process of the foreground process group: the run's process stops the run and
#: closes its cluster, while the interrupted workers died printing tracebacks, and the
#: scheduler its "marked as failed because 1 workers died". A handler, not SIG_IGN: programs
#: that trials start get the default back when they start (an ignored SIGINT would stay
#: ignored, and a solver stopped with SIGINT would run on); a trial that fails while one
#: arrives is run again, not recorded (see ``serial.sigints_here``). The handler runs in the
#: worker's main thread, possibly after a target in another thread saw its program die of the
#: same Ctrl-C; a wakeup descriptor notes the signal as it is delivered, from any thread.
#: (A script, not this module: importing smacx slowed every worker's start, and restarts
#: after deaths.)
_IGNORE_SIGINT = """
import os, signal, threading
def smacx_count_sigint(signum, frame):
    smacx_count_sigint.smacx_sigints += 1
smacx_count_sigint.smacx_sigints = 0
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, smacx_count_sigint)
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    if previous == -1:  # (the worker's own, if it has one, stays)
        smacx_count_sigint.smacx_wakeup = (os.getpid(), read_end, threading.Lock(), [0])
    else:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
"""


#: The environment variable of distributed's log level, and the values of it that smacx
#: passed to worker processes: dask's nannies run in this process, and set their workers'
#: environment in ``os.environ`` before starting them (and again at every restart).
_LEVEL_KEY = "DASK_LOGGING__DISTRIBUTED"
_passed_levels: set[str] = set()


def _quiet_as_here() -> dict[str, Any]:
    """dask's environment for the worker processes the runner starts, with distributed's log
    level as this process has it, or WARNING where it is distributed's own INFO (as dask's
    LocalCluster means to quiet its workers, with ``silence_logs``).

    A worker process imports the script's main module before distributed: a script that
    sets up logging (``basicConfig``) and quiets distributed's logger there got every worker's
    INFO lines all the same, since distributed then sets its level to INFO and leaves the
    lines to the root logger's handler (``silence_logs`` quiets only distributed's own
    handler, which it does not add then). A level the application set in the environment or
    in dask's configuration stays as it is.
    """
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
    current = os.environ.get(_LEVEL_KEY)
    if current in _passed_levels:  # (an earlier cluster's, not the application's)
        current = None
    # What the run's process had, for the programs that trials start (SPAWN_ENVIRON).
    had = {name: os.environ.get(name) for name in environ if name != _LEVEL_KEY}
    environ[SPAWN_ENVIRON] = json.dumps({**had, _LEVEL_KEY: current})
    if _LEVEL_KEY in environ or current is not None:
        return environ
    level = logging.getLogger("distributed").getEffectiveLevel()
    if level == logging.INFO:  # distributed's own: its LocalCluster quiets workers to WARNING
        level = logging.WARNING
    # (as a number, which dask reads as one: a name the application added, or none, as for
    # CRITICAL + 1, is unknown in a worker, whose import of distributed then fails)
    value = str(level)
    environ[_LEVEL_KEY] = value
    _passed_levels.add(value)
    return environ


def _forget_passed_level() -> None:
    """Take the level that the nannies put in this process's environment out again, so that
    it does not reach the application's own subprocesses."""
    if os.environ.get(_LEVEL_KEY) in _passed_levels:
        del os.environ[_LEVEL_KEY]


def _install_fork_hook() -> None:
    global _fork_hooked
    if _fork_hooked or not sys.platform.startswith("linux"):
        return
    with _lock:
        if not _fork_hooked:
            load_prctl()  # here, not in the forked child
            os.register_at_fork(before=_note_forker, after_in_child=_die_with_parent)
            _fork_hooked = True


#: The process that forked last (set before each fork, read in the child).
_forker: int | None = None


def _note_forker() -> None:
    global _forker
    _forker = os.getpid()


def _die_with_parent() -> None:
    """In a child forked by a trial: get SIGKILL when the worker dies (unless the watchdog
    covers it, see :func:`~smacx.runners.serial.die_with_parent`).

    Only in the worker's own children (the trials' processes): a trial's process inherits
    the hook, and the processes its target forks (a multiprocessing pool, say) would find
    their parent is not the worker and exit at once.
    """
    parent = getattr(_in_trial, "parent", None)
    if parent is not None and _forker == parent:
        die_with_parent(parent)
