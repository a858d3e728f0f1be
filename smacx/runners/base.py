"""The interface every runner implements: submit trials, collect results."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ConfigSpace import Configuration

    from smacx.trial import TrialInfo, TrialValue

__all__ = ["AbstractRunner"]

_Runner = TypeVar("_Runner", bound="AbstractRunner")

#: In the environment of the worker processes of a runner's own cluster: what the variables
#: that the cluster sets for them (one thread for BLAS, ...) were in the run's process, as
#: JSON (None for unset), so that a program a trial starts gets the run's environment back.
SPAWN_ENVIRON = "SMACX_SPAWN_ENVIRON"


class AbstractRunner(ABC):
    """Runs trials and hands their results back.

    A runner is used as: ``submit_trial`` while ``count_available_workers() > 0`` (which may
    include trials that wait for a busy worker, see :meth:`ahead`); then
    ``wait()`` for a result and take every finished one from ``iter_results()``. Each submitted
    trial comes back exactly once, crashed or not: a runner never raises because a target failed.

    ``SMAC`` holds a runner of the user's own to this: ``iter_results()`` must yield pairs of
    the very ``TrialInfo`` given to ``submit_trial`` (not one rebuilt from what a job reported)
    and its ``TrialValue``, else the run stops with an error; and a runner that runs nothing
    and has no free worker for longer than its ``patience`` attribute (seconds, 5 without one)
    stops the run with :class:`~smacx.NoWorkersError`, as ``DaskParallelRunner`` does.
    """

    @abstractmethod
    def submit_trial(self, trial_info: TrialInfo, **dask_data_to_scatter: Any) -> None:
        """Start a trial (serial runners run it to the end before returning).

        Args:
            trial_info: What to run.
            **dask_data_to_scatter: Extra keyword arguments for the target (large data that
                parallel runners send to each worker once).
        """

    @abstractmethod
    def iter_results(self) -> Iterator[tuple[TrialInfo, TrialValue]]:
        """Yield, and forget, every trial that finished since the last call."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> None:
        """Block until at least one submitted trial has finished.

        With no trial running, return at once if a worker is free, else wait for one to join
        (parallel runners give up after their patience).

        Args:
            timeout: Return after this many seconds even if nothing finished (None: no limit).
        """

    def cpu_time_elsewhere(self) -> float:
        """CPU seconds that this runner's finished trials used in processes that are neither
        this one nor its children, such as dask workers: what ``Scenario.cputime_limit``
        counts besides this process's own. 0.0 for a runner whose trials run here."""
        return 0.0

    def interrupt(self) -> None:  # noqa: B027 - a wait that never blocks needs no interrupt
        """Make a :meth:`wait` under way return soon, without a result; safe to call from
        another thread and from a signal handler.

        ``SMAC.close()`` calls it to stop an ``optimize()`` that waits in another thread. A
        ``wait()`` that starts after the call returns at once, once.
        """

    @abstractmethod
    def is_running(self) -> bool:
        """Whether any submitted trial has not been collected by ``iter_results`` yet."""

    @abstractmethod
    def count_available_workers(self) -> int:
        """How many more trials to accept now: free worker threads, plus :meth:`ahead`."""

    def ahead(self) -> int:
        """Trials accepted beyond the free worker threads: they wait behind a busy worker.

        :meth:`count_available_workers` includes them (0 for runners that never queue).
        """
        return 0

    @abstractmethod
    def run(
        self,
        config: Configuration,
        instance: str | None = None,
        budget: float | None = None,
        seed: int | None = None,
        **dask_data_to_scatter: Any,
    ) -> TrialValue:
        """Evaluate one trial here and now, under the scenario's limits, and return its value.

        Raises:
            MachineError: This machine could not set the trial up (a full disk where its
                folder goes, no file descriptor left for its process): no result, and no
                fault of the configuration.
        """

    def cancel(self, trial_info: TrialInfo) -> None:  # noqa: B027 - nothing runs in the background
        """Stop a submitted trial and forget it: its result is never reported.

        Used when a trial is retired (pending for too long). A serial runner has nothing to stop:
        its trials end before ``submit_trial`` returns.
        """

    def close(self) -> None:  # noqa: B027 - a runner without resources needs no close
        """Release workers and connections; the runner is unusable afterwards."""

    def __enter__(self: _Runner) -> _Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
