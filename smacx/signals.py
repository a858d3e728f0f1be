"""SIGTERM and Ctrl-C while ``optimize()`` runs in the main thread: the run stops at its next
step, gives back the trials under way, and the process then ends as the signal would have
ended it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger("smacx")


class Terminated(KeyboardInterrupt):
    """A SIGTERM that arrived during :meth:`SMAC.optimize`, raised where the run was, so that
    the run stops as after Ctrl-C (see :func:`sigterm_stops_the_run`)."""


@contextlib.contextmanager
def sigterm_stops_the_run() -> Iterator[None]:
    """While ``optimize()`` runs in the main thread of a process that leaves SIGTERM to its
    default action: a SIGTERM stops the run as Ctrl-C does (the trials under way are given
    back, so that they run again when the run continues), and then ends the process as
    SIGTERM would have.

    With the default action the process died at once, its trials still held: a continued run
    counted each as run by a process that died, and after three such stops (a batch system's
    preemptions, say) recorded the configuration CRASHED. An application's own handler (the
    command line's, say) is left alone.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        SIGTERM_ARRIVED.set()
        raise Terminated("SIGTERM")

    SIGTERM_ARRIVED.clear()
    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except Terminated:
        logger.warning("SIGTERM: stopped; the trials under way run again when the run continues.")
        dask_runners = sys.modules.get("smacx.runners.dask")
        if dask_runners is not None:  # (the process ends at once: no exit hook closes them)
            dask_runners.close_own_clusters()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # ends the process, as SIGTERM would have
        raise  # (a process that blocks SIGTERM gets the interrupt)
    finally:
        SIGTERM_ARRIVED.clear()
        if signal.getsignal(signal.SIGTERM) is stop:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: Set by the SIGTERM handler of :func:`sigterm_stops_the_run`: the run stops at its next
#: step even when the target caught the interrupt (a training loop that ends early on Ctrl-C,
#: as skorch's does), and the result of the trial it cut short is not recorded.
SIGTERM_ARRIVED = threading.Event()


@contextlib.contextmanager
def sigint_noted() -> Iterator[None]:
    """While ``optimize()`` runs in the main thread of a process whose Ctrl-C raises
    ``KeyboardInterrupt`` (Python's default handler): note each SIGINT in
    ``SIGINT_ARRIVED``, then raise as that handler does.

    A target that caught the interrupt and returned early (a training loop's ``except
    KeyboardInterrupt: break``) had its cut-short result recorded as a SUCCESS, and the run
    went on; now the run stops at its next step, as it does for a SIGTERM, and the trial runs
    again when the run continues. An application's own handler is left alone. (asyncio.run,
    which takes Ctrl-C over only from Python's default handler, then leaves it to this one:
    the KeyboardInterrupt comes in the event loop, not as the main task's cancellation;
    usage.rst says so.)
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def noted(signum: int, frame: Any) -> None:
        SIGINT_ARRIVED.set()
        raise KeyboardInterrupt

    SIGINT_ARRIVED.clear()
    signal.signal(signal.SIGINT, noted)
    try:
        yield
    finally:
        SIGINT_ARRIVED.clear()
        if signal.getsignal(signal.SIGINT) is noted:
            signal.signal(signal.SIGINT, signal.default_int_handler)


#: Set by the SIGINT handler of :func:`sigint_noted` (see there).
SIGINT_ARRIVED = threading.Event()


def _default_sigterm_in_child() -> None:
    """A process forked during ``optimize()`` (a target's process pool, say) ends at SIGTERM
    as processes do, not with the run's handler: ``Pool.terminate()`` waited for its workers'
    C calls to return."""
    handler = signal.getsignal(signal.SIGTERM)
    if getattr(handler, "__qualname__", "").startswith(sigterm_stops_the_run.__qualname__):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)
