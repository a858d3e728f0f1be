"""The garbage collector during parallel runs: the heap frozen as one starts, the first
threshold raised, and collections every few results (see :func:`freeze_heap`)."""

from __future__ import annotations

import gc
import logging
import threading
import time

logger = logging.getLogger("smacx")


def freeze_heap() -> None:
    """Collect garbage once, then keep every object alive now out of later collections
    (:func:`gc.freeze`, unless the application froze objects itself), and raise the
    collector's first threshold to at least 20,000 (Python's default is 700); ``optimize``
    undoes both when it ends (:func:`thaw_heap`).

    Python's collections visit objects while holding the interpreter lock, so each one stops
    every thread of the process: dask's scheduler and, with a threads cluster, the workers.
    Over a run the objects of the cluster, the libraries and the history add up: with 64
    worker threads a full collection took up to 0.3 s, 2.6-2.9 s of a 40 s run
    (``benchmarks/parallel.py``). Frozen, the objects that existed when the run began are not
    visited again; what becomes garbage among them is collected after the run. The trials
    themselves still made about 2,000 collections of the youngest objects a minute, 170 of
    the middle generation and 16 full ones, 3.5 s of 61 s at 64 workers with 1 s trials; with
    the larger first threshold, 40, 3 and 1 of them took 1.1 s. The runs also collect every
    :data:`_RESULTS_BETWEEN_COLLECTIONS` results (:func:`collect_now_and_then`).
    """
    global _frozen_runs, _thresholds, _froze, _marker
    with _gc_lock:  # (parallel optimize() calls in threads of one process: the first and last)
        if _frozen_runs == 0:
            saved = gc.get_threshold()
            # An application that froze objects itself keeps them so: unfreezing cannot tell
            # its objects from ours. (Python 3.12 starts with some frozen: the interpreter's
            # static objects, 375 of them; with == 0 the heap was never frozen there.)
            froze = gc.get_freeze_count() <= _INTERPRETER_FROZEN
            try:
                if froze:
                    gc.collect()
                    gc.freeze()
                gc.set_threshold(*_raised(saved))
            except BaseException:  # (Ctrl-C during the collection): leave nothing changed
                gc.set_threshold(*saved)
                if froze:
                    gc.unfreeze()
                raise
            _thresholds, _froze = saved, froze
            _marker = _Marker() if froze else None  # made after the freeze: not frozen
        _frozen_runs += 1


def collect_now_and_then(told: int) -> None:
    """Collect garbage once every :data:`_RESULTS_BETWEEN_COLLECTIONS` results of the parallel
    runs of this process (``told`` results came in since the last call): the young
    generations, and every :data:`_FULL_EVERY` times all of them.

    The raised threshold of :func:`freeze_heap` counts objects, not bytes: a target on a
    threads cluster (``LocalCluster(processes=False)``) that left one 10 MB object in a cycle
    per trial (a model pointing to itself, a caught exception and its traceback) had 80 of them
    alive at once, 940 MB, where Python's default threshold kept 7. Frozen objects are not
    visited, so such a collection visits only what the runs made.
    """
    global _told_since_collection, _collections
    if told <= 0:
        return
    with _gc_lock:
        _told_since_collection += told
        if _frozen_runs == 0 or _told_since_collection < _RESULTS_BETWEEN_COLLECTIONS:
            return
        _told_since_collection = 0
        if not gc.isenabled() or gc.get_threshold()[0] == 0:  # (the application turned
            return  # automatic collection off: it collects when it wants)
        # The young generations each time, every object the runs made every fourth time: a
        # full collection each time cost 64 workers of 1 s trials 0.94 -> 0.92 of their time
        # (benchmarks/parallel.py), and what a trial leaves is mostly young.
        _collections += 1
        started = time.perf_counter()
        gc.collect(2 if _collections % _FULL_EVERY == 0 else 1)
        logger.debug("Collected garbage in %.1f ms.", 1e3 * (time.perf_counter() - started))


def _raised(thresholds: tuple[int, ...]) -> tuple[int, ...]:
    """The collector's thresholds during a parallel run that found ``thresholds``: the first
    at least 20,000, unless it is 0 (the application turned automatic collection off)."""
    first, *rest = thresholds
    return (max(first, 20_000), *rest) if first else tuple(thresholds)


def thaw_heap() -> None:
    """Undo :func:`freeze_heap` once the last parallel ``optimize`` that called it returns:
    the thresholds it had found (unless the application set others meanwhile, which stay),
    and the objects it froze."""
    global _frozen_runs, _marker
    with _gc_lock:
        _frozen_runs -= 1
        if _frozen_runs == 0:
            if gc.get_threshold() == _raised(_thresholds):
                gc.set_threshold(*_thresholds)
            # An application that called gc.freeze() during the run froze the marker with
            # every other object alive then, ours among them: they stay frozen, as it asked
            # (unfreezing cannot tell its objects from ours). The collector's generations
            # (gc.get_objects()) hold the objects that are not frozen.
            if _froze and any(obj is _marker for obj in gc.get_objects()):
                gc.unfreeze()
            _marker = None


class _Marker:
    """An object the collector tracks, made by :func:`freeze_heap` just after it froze the
    heap: frozen by the end of the run only if the application froze the heap meanwhile."""


_gc_lock = threading.Lock()


_frozen_runs = 0  # parallel optimize() calls under way in this process


_marker: _Marker | None = None  # see _Marker


_thresholds = gc.get_threshold()  # the collector's thresholds before the first of them


_froze = False  # whether the first of them froze the heap


_told_since_collection = 0  # results of parallel runs since the last collection


_collections = 0  # collections of parallel runs so far (see collect_now_and_then)


#: Of those collections, every how many is a full one.
_FULL_EVERY = 4


#: Results of the parallel runs of a process between two of its collections.
_RESULTS_BETWEEN_COLLECTIONS = 16


#: Objects frozen when smacx was imported: the interpreter's own from Python 3.12 on.
_INTERPRETER_FROZEN = gc.get_freeze_count()
