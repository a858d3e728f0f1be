"""Run in each worker process of a :class:`~smacx.runners.DaskParallelRunner`'s own cluster as
it starts (a dask preload): a SIGINT (the Ctrl-C of the run's terminal, which reaches the
workers too) is counted rather than raised, so that the worker lives on and the trial that a
Ctrl-C interrupted is given back rather than recorded as a crash.

The count is an attribute of the handler, ``smacx_sigints``; in the main thread the signal also
goes to a wakeup descriptor (``smacx_wakeup``: the process id, its read end, a lock and the
count read from it), which a target in another thread can read as soon as the signal is
delivered (see ``smacx.runners.serial.sigints_here``).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType


def smacx_count_sigint(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler of a worker process: counts."""
    smacx_count_sigint.smacx_sigints += 1  # type: ignore[attr-defined]


smacx_count_sigint.smacx_sigints = 0  # type: ignore[attr-defined]
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, smacx_count_sigint)
    _read_end, _write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _previous = signal.set_wakeup_fd(_write_end, warn_on_full_buffer=False)
    if _previous == -1:  # (the worker's own, if it has one, stays)
        smacx_count_sigint.smacx_wakeup = (  # type: ignore[attr-defined]
            os.getpid(),
            _read_end,
            threading.Lock(),
            [0],
        )
    else:
        signal.set_wakeup_fd(_previous)
        os.close(_read_end)
        os.close(_write_end)
