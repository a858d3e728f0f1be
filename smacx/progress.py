"""``optimize()``'s progress bar, kept apart from the log records written to the same
terminal."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("smacx")


class NoBar:
    """What ``optimize`` calls on its progress bar, when there is none."""

    def show(self, finished: int) -> None:
        pass

    def close(self) -> None:
        pass


class Bar(logging.Filter):
    """``optimize``'s progress bar, and a filter on the "smacx" logger while it shows: each
    record that a handler will write clears the bar first, and the next update draws it again
    on a line of its own (else a handler writing to the same terminal appends the record to
    the bar's line). Only smacx's own logger: the application's logging is left alone."""

    def __init__(self, bar: Any) -> None:
        """Show ``bar`` (a ``tqdm``) and start clearing it for smacx's records.

        Args:
            bar: The progress bar, drawn already.
        """
        super().__init__()
        self._bar = bar
        self._cleared = False
        logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        """Clear the bar before ``record`` is written; the record always passes.

        Args:
            record: A record of the "smacx" logger.

        Returns:
            True.
        """
        if not self._cleared and _is_handled(record.levelno):
            self._bar.clear()
            self._cleared = True
        return True

    def show(self, finished: int) -> None:
        """Show ``finished`` trials, and draw the bar again if a record cleared it.

        Args:
            finished: How many trials of the run have finished (in this process and in
                others that share the run).
        """
        if finished > self._bar.n:
            self._bar.update(finished - self._bar.n)
        if self._cleared:
            self._cleared = False
            self._bar.refresh()

    def close(self) -> None:
        """Draw the bar a last time and stop filtering the logger."""
        logger.removeFilter(self)
        self._bar.close()


def _is_handled(level: int) -> bool:
    """Whether a record of the "smacx" logger at ``level`` reaches a handler that writes it
    (any but a ``NullHandler``), as ``Logger.callHandlers`` walks the hierarchy."""
    log: logging.Logger | None = logger
    while log is not None:
        for handler in log.handlers:
            if not isinstance(handler, logging.NullHandler) and level >= handler.level:
                return True
        log = log.parent if log.propagate else None
    return False
