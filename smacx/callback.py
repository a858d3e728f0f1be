"""Hooks into the optimization loop; subclass :class:`Callback` and override what you need, or
pass a plain function, which is called after each result."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smacx.errors import ScenarioError, warn_caller

if TYPE_CHECKING:
    from smacx.facade import SMAC
    from smacx.trial import TrialInfo, TrialValue

__all__ = ["Callback", "FunctionCallback"]


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
        """Before ``ask`` chooses a trial. In a run that processes share, ``optimize()``
        may then find ``n_trials`` taken by the others and ask for none: ``on_ask_end``
        follows only when a trial was chosen."""

    def on_ask_end(self, smac: SMAC, info: TrialInfo) -> None:
        """After ``ask`` chose ``info``."""

    def on_tell_start(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> bool | None:
        """Before the result of ``info`` is recorded; return False to stop the optimization
        once it is (as SMAC3's does). An error raised here reaches the caller after the
        result is recorded."""
        return None

    def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> bool | None:
        """After the result of ``info`` is recorded; return False to stop the optimization."""
        return None


class FunctionCallback(Callback):
    """A plain function as a callback: called after each result is recorded, as
    ``fn(smac, info, value)`` (:meth:`Callback.on_tell_end`); returning False stops the run.
    ``SMAC(callbacks=[fn])`` wraps a function in one.

    Example:
        >>> from smacx import FunctionCallback
        >>> def stop_below(smac, info, value):
        ...     return value.cost > 0.01
        >>> FunctionCallback(stop_below)
        FunctionCallback(stop_below)
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise ScenarioError(f"FunctionCallback takes a function; got {fn!r:.100}.")
        self.fn = fn

    def on_tell_end(self, smac: SMAC, info: TrialInfo, value: TrialValue) -> bool | None:
        """Call the function with the result just recorded."""
        return self.fn(smac, info, value)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return f"FunctionCallback({name})"


def as_callback(callback: Any) -> Callback:
    """A ``callbacks=`` entry as a :class:`Callback`: a function becomes a
    :class:`FunctionCallback`.

    Raises:
        ScenarioError: Neither a Callback nor callable.
    """
    if isinstance(callback, Callback):
        return callback
    if callable(callback) and not isinstance(callback, type):
        return FunctionCallback(callback)
    raise ScenarioError(
        "SMAC's callbacks must be smacx.Callback instances, or functions called after each "
        f"result as fn(smac, info, value); got {type(callback).__name__} {callback!r:.100}."
    )


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
    if isinstance(callback, FunctionCallback):
        _check_function(callback.fn)
        return
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


def _check_function(fn: Callable[..., Any]) -> None:
    """Check that a plain function callback takes ``(smac, info, value)``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # (no signature to read: it is tried when called)
        return
    try:
        signature.bind(*range(HOOKS["on_tell_end"]))
    except TypeError:
        name = getattr(fn, "__qualname__", repr(fn))
        hint = (
            " Optuna's callbacks take (study, trial); here the run is smac and the trial is "
            "info (its configuration, seed, instance and budget) with its result value."
            if len(signature.parameters) == 2
            else ""
        )
        raise ScenarioError(
            f"callback {name} must take (smac, info, value), as smacx calls it after each "
            f"result; its signature is {signature}.{hint} Fix its parameters, or subclass "
            "smacx.Callback for the other hooks."
        ) from None
