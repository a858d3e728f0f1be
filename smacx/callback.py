"""Hooks into the optimization loop; subclass :class:`Callback` and override what you need."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smacx.facade import SMAC
    from smacx.trial import TrialInfo, TrialValue

__all__ = ["Callback"]


class Callback:
    """Called by :class:`~smacx.SMAC` at fixed points of a run; by default every hook is a no-op.

    Example:
        >>> from smacx import Callback
        >>> class StopAfterTen(Callback):
        ...     def on_tell_end(self, smac, info, value):
        ...         return smac.runhistory.n_finished < 10
    """

    def on_start(self, smac: SMAC) -> None:
        """Before ``optimize`` submits its first trial."""

    def on_end(self, smac: SMAC) -> None:
        """After ``optimize`` has stopped (also when it stops on an error or interrupt)."""

    def on_ask_start(self, smac: SMAC) -> None:
        """Before ``ask`` chooses a trial."""

    def on_ask_end(self, smac: SMAC, info: TrialInfo) -> None:
        """After ``ask`` chose ``info``."""

    def on_tell_start(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> None:
        """Before the result of ``info`` is recorded."""

    def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> bool | None:
        """After the result of ``info`` is recorded; return False to stop the optimization."""
        return None
