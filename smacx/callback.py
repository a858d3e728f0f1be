"""Hooks into the optimization loop; subclass :class:`Callback` and override what you need."""

from __future__ import annotations

import difflib
import inspect
from typing import TYPE_CHECKING

from smacx.errors import ScenarioError, warn_caller

if TYPE_CHECKING:
    from smacx.facade import SMAC
    from smacx.trial import TrialInfo, TrialValue

__all__ = ["Callback"]


class Callback:
    """Called by :class:`~smacx.SMAC` at fixed points of a run; by default every hook is a no-op.

    ``SMAC(...)`` checks the hooks a callback overrides when it is built: one that cannot
    take its arguments is a :class:`~smacx.ScenarioError`, and a method named ``on_*`` that is
    no hook (a typo, or a hook of SMAC3's) is warned of, since it would never be called.

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


#: Each hook's name, and how many arguments SMAC passes it (after ``self``).
HOOKS = {
    name: len(inspect.signature(getattr(Callback, name)).parameters) - 1
    for name in vars(Callback)
    if name.startswith("on_")
}


def check_callback(callback: Callback) -> None:
    """Check, when ``SMAC`` is built, that each hook a callback overrides takes the arguments
    SMAC passes it; warn of ``on_*`` methods that are no hook (a typo, or a hook of SMAC3's
    such as ``on_iteration_end``), which would never be called.

    Raises:
        ScenarioError: A hook that cannot take its arguments, with the hook's signature.
    """
    kind = type(callback).__name__
    # Methods of the callback's own classes: not attributes (a counter on_tell_calls), nor
    # another framework's hooks in a class it also derives from.
    own = {
        name
        for cls in type(callback).__mro__
        if issubclass(cls, Callback) and cls is not Callback
        for name, value in vars(cls).items()
        if name.startswith("on_") and callable(value)
    }
    for name in sorted(own):
        if name not in HOOKS:
            close = difflib.get_close_matches(name, HOOKS, n=1)
            warn_caller(
                f"callback {kind}.{name} is no hook of smacx.Callback, so it is never called"
                + (f"; did you mean {close[0]}?" if close else "")
                + f" The hooks are {sorted(HOOKS)}.",
            )
            continue
        try:
            signature = inspect.signature(getattr(callback, name))
        except (TypeError, ValueError):  # (no signature to read: it is tried when called)
            continue
        try:
            signature.bind(*range(HOOKS[name]))
        except TypeError:
            expected = list(inspect.signature(getattr(Callback, name)).parameters)[1:]
            raise ScenarioError(
                f"callback {kind}.{name} must take the arguments SMAC passes it, as "
                f"{name}(self, {', '.join(expected)}); its signature is {name}{signature} "
                "(self not shown). Fix its parameters."
            ) from None
