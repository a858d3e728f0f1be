"""Tests of smacx.heap: the garbage collector's state during parallel runs, and after them."""

from __future__ import annotations

import gc

from smacx import heap as heap_module


def test_parallel_runs_in_threads_of_one_process_restore_the_collector_after_the_last() -> None:
    """Two parallel optimize() calls that overlap (threads of one process): the heap stays
    frozen and the first threshold raised until the last of them returns, which restores the
    thresholds from before the first (the first to return must not, nor the last restore the
    raised ones). Objects the application froze itself stay frozen."""

    before = gc.get_threshold()
    raised = (max(before[0], 20_000), *before[1:])
    try:
        heap_module.freeze_heap()
        heap_module.freeze_heap()
        assert gc.get_threshold() == raised and gc.get_freeze_count() > 0
        heap_module.thaw_heap()
        assert gc.get_threshold() == raised and gc.get_freeze_count() > 0
        heap_module.thaw_heap()
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        gc.freeze()  # the application's own
        mine = gc.get_freeze_count()
        heap_module.freeze_heap()
        assert gc.get_threshold() == raised and gc.get_freeze_count() == mine
        heap_module.thaw_heap()
        assert gc.get_threshold() == before and gc.get_freeze_count() == mine
    finally:  # leave the process as it was for the other tests
        while heap_module._frozen_runs > 0:
            heap_module.thaw_heap()
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_heap_the_application_freezes_during_a_parallel_run_stays_frozen() -> None:
    """gc.freeze() by the application during a parallel run (in a callback, another thread):
    the run's gc.unfreeze() at its end undid it too. Objects frozen since stay frozen now;
    a run during which nobody froze the heap still unfreezes it."""

    before = gc.get_threshold()
    try:
        heap_module.freeze_heap()
        made_during_the_run = [object()]
        gc.freeze()  # the application's, during the run
        heap_module.thaw_heap()
        assert gc.get_freeze_count() > 0
        # (the collector's generations hold the objects that are not frozen)
        assert not any(obj is made_during_the_run for obj in gc.get_objects())
        gc.unfreeze()
        heap_module.freeze_heap()  # an untouched run still unfreezes what it froze
        heap_module.thaw_heap()
        assert gc.get_freeze_count() == 0
    finally:
        while heap_module._frozen_runs > 0:
            heap_module.thaw_heap()
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_threshold_the_application_sets_during_a_parallel_run_is_kept() -> None:
    """The thresholds found at the start of the first parallel optimize() are put back at the
    end of the last, unless the application set its own meanwhile (in a callback, another
    thread): those stay, rather than being undone by the run."""

    before = gc.get_threshold()
    try:
        heap_module.freeze_heap()
        gc.set_threshold(5_000, 7, 7)  # the application's, during the run
        heap_module.thaw_heap()
        assert gc.get_threshold() == (5_000, 7, 7)
        assert gc.get_freeze_count() == 0
        heap_module.freeze_heap()  # an untouched run still restores what it found
        heap_module.thaw_heap()
        assert gc.get_threshold() == (5_000, 7, 7)
    finally:
        while heap_module._frozen_runs > 0:
            heap_module.thaw_heap()
        gc.unfreeze()
        gc.set_threshold(*before)
