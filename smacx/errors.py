"""Every error smacx raises on purpose.

All of them derive from :class:`SmacxError`, and each also derives from the builtin exception a
caller would naturally catch (``ScenarioError`` is a ``ValueError``), so ``except ValueError`` keeps
working for code that does not know about smacx.
"""

from __future__ import annotations

__all__ = [
    "SmacxError",
    "ScenarioError",
    "ScenarioMismatchError",
    "TargetCrashedError",
    "StorageError",
    "SearchSpaceExhaustedError",
    "TrialError",
    "NoWorkersError",
]


class SmacxError(Exception):
    """Root of every error raised by smacx."""


class ScenarioError(SmacxError, ValueError):
    """A scenario field, or an argument built from one, holds a value that is not allowed."""


class ScenarioMismatchError(SmacxError, ValueError):
    """The output directory already holds a run of a different scenario."""


class TargetCrashedError(SmacxError, RuntimeError):
    """The target function crashed on the first trial of a run (its traceback is in the message)."""


class StorageError(SmacxError, RuntimeError):
    """The run-history database cannot be opened, read or written."""


class SearchSpaceExhaustedError(SmacxError, RuntimeError):
    """Every configuration of a finite search space has been evaluated or is running."""


class TrialError(SmacxError, ValueError):
    """A trial passed to ``tell`` or a runner is unknown, duplicated or malformed."""


class NoWorkersError(SmacxError, RuntimeError):
    """A parallel runner has had no worker for longer than its patience allows."""
