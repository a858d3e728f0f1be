"""Every error smacx raises on purpose.

All of them derive from :class:`SmacxError`, and each also derives from the builtin exception a
caller would naturally catch (``ScenarioError`` is a ``ValueError``), so ``except ValueError`` keeps
working for code that does not know about smacx. A plain ``ImportError`` says that an optional
package is missing (pandas, psycopg, dask), or that smacx has no class of a SMAC3 name
(``from smacx import HyperparameterOptimizationFacade``).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import inspect
import numbers
import os
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any, TypeVar, cast

import numpy as np

__all__ = [
    "SmacxError",
    "ScenarioError",
    "ScenarioMismatchError",
    "TargetCrashedError",
    "StorageError",
    "MachineError",
    "SearchSpaceExhaustedError",
    "TrialError",
    "NoWorkersError",
    "RunnerClosedError",
    "ConcurrencyError",
    "CommandError",
    "ArgumentError",
]

_C = TypeVar("_C")


class SmacxError(Exception):
    """Root of every error raised by smacx."""


class ScenarioError(SmacxError, ValueError):
    """A scenario field, or an argument built from one, holds a value that is not allowed."""


class ScenarioMismatchError(SmacxError, ValueError):
    """The output directory already holds a run of a different scenario, or one started
    with other intensifier settings than those given."""


class TargetCrashedError(SmacxError, RuntimeError):
    """The first trial that ``optimize()`` ran in this process crashed while no trial of the
    run had worked yet, which usually means a bug in the target (its traceback is in the
    message).

    Attributes:
        error: The crash's reason without the traceback (the exception's type and message),
            for a reader to whom the target's code means nothing; None if the runner gave none.
    """

    error: str | None = None


class StorageError(SmacxError, RuntimeError):
    """The run-history database cannot be opened, read or written."""


class MachineError(SmacxError, OSError):
    """This machine cannot run trials for now, through no fault of the configuration: its
    disk or inodes are full, or it allows no more open files, where smacx itself sets a trial
    up. The run stops, with the trial left to run again when it continues."""


#: ``errno`` values of a machine that cannot set a trial up (see :class:`MachineError`).
MACHINE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.EROFS, errno.EAGAIN}
)


def machine_error(err: BaseException, doing: str, every: bool = False) -> MachineError | None:
    """A :class:`MachineError` for ``err`` when it is one of :data:`MACHINE_ERRNOS` (with
    ``every``, any ``OSError``) met while smacx was ``doing`` something for a trial ("make the
    trial's folder"), else None."""
    if not isinstance(err, OSError) or not (every or err.errno in MACHINE_ERRNOS):
        return None
    mend = (
        "free disk space or inodes, or raise the limit of open files, `ulimit -n`, or of "
        "processes, `ulimit -u`"
        if err.errno in MACHINE_ERRNOS
        else "the path named must be a folder this process can write in"
    )
    return MachineError(
        f"smacx could not {doing}: {type(err).__name__}: {err}. This machine cannot run trials "
        f"until that is mended ({mend}); the run stops, and the trial runs again when it "
        "continues."
    )


@contextlib.contextmanager
def as_machine_error(doing: str, every: bool = False) -> Iterator[None]:
    """Within the block, an ``OSError`` of :data:`MACHINE_ERRNOS` (with ``every``, any) comes
    out as the :class:`MachineError` of :func:`machine_error`; other errors as they are."""
    try:
        yield
    except OSError as err:
        machine = machine_error(err, doing, every)
        if machine is None:
            raise
        raise machine from err


class SearchSpaceExhaustedError(SmacxError, RuntimeError):
    """Every configuration of a finite search space has been evaluated or is running."""


class TrialError(SmacxError, ValueError):
    """A trial passed to ``tell`` or a runner is unknown, duplicated or malformed."""


class NoWorkersError(SmacxError, RuntimeError):
    """A parallel runner has had no worker for longer than its patience allows. Workers that
    join later make the runner usable again."""


class RunnerClosedError(SmacxError, RuntimeError):
    """A runner was asked to run or count something after it was closed; it never will again.

    Not a :class:`NoWorkersError`: code that catches that one to wait for workers must not
    wait on a runner that is gone.
    """


class ConcurrencyError(SmacxError, RuntimeError):
    """A second ``SMAC.optimize()`` while one runs on the same object (from another thread,
    or from a callback inside the first)."""


class CommandError(SmacxError, RuntimeError):
    """A trial's shell command failed: it exited with a non-zero status, or its result held
    no number (see :class:`~smacx.command.CommandTarget`); the trial is recorded CRASHED."""


class ArgumentError(SmacxError, TypeError):
    """A class of smacx was called with a keyword it does not take, or an argument of the
    wrong type."""


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a stand-in naming the type when that raises: a message about a
    target's odd return value, or a trial's info, must not fail in turn."""
    try:
        return repr(value)
    except Exception as err:  # (RecursionError too, for nesting too deep)
        return f"<{type(value).__name__} whose repr() raised {type(err).__name__}>"


def safe_str(value: Any) -> str:
    """``str(value)``, or a stand-in naming the type when that raises (or returns no string,
    which Python refuses with a TypeError): for a target's exception."""
    try:
        return str(value)
    except Exception as err:
        return f"<{type(value).__name__} whose str() raised {type(err).__name__}>"


def clipped(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, its start and end kept and what was cut
    said in between: a target's 5 MB exception message went whole into every log line and
    twice into the history (a run's folder held 38 MB after four crashes)."""
    if len(text) <= limit:
        return text
    head, tail = limit * 3 // 4, limit // 4
    return f"{text[:head]} [... {len(text) - head - tail} characters cut ...] {text[-tail:]}"


def one_line(err: BaseException) -> str:
    """An error as ``"TypeName: message"`` on one line (a database's messages span several),
    for quoting inside another message."""
    return " ".join(f"{type(err).__name__}: {err}".split())


#: Colour and cursor sequences (CSI) a program prints: dropped from the text smacx shows.
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")

#: Control characters other than tab and newline (C0, DEL, C1), each shown as its escape,
#: and the marks that reorder text (bidirectional overrides), as ``\u202e``.
_CONTROLS = {
    **{c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (9, 10)},
    **{c: f"\\u{c:04x}" for c in [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]},
}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: colour and cursor sequences dropped, and every
    other control character (those that retitle a terminal, erase lines or move the cursor)
    shown as its escape, ``\\x1b``. For what a program or another writer of a run put in a
    message."""
    return _CSI.sub("", text).translate(_CONTROLS)


def is_whole(value: object) -> bool:
    """An integer, numpy's too, but not a bool (``True`` is no count of anything)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: object) -> bool:
    """A real number, numpy's too, but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_flag(owner: str, name: str, value: object) -> None:
    """A setting that must be True or False: a string such as ``'no'`` would count as true.

    Raises:
        ScenarioError: ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ScenarioError(f"{owner}.{name}: expected True or False, got {value!r}")


def keyword_hints(
    elsewhere: Mapping[str, str] | None = None,
) -> Callable[[type[_C]], type[_C]]:
    """Class decorator that answers an unknown keyword with the keywords meant.

    The wrapped constructor raises :class:`ArgumentError` instead of Python's bare
    ``TypeError``, naming the close matches among the keywords it takes and among those of
    ``elsewhere``. Placed above ``@dataclass``, it wraps the generated ``__init__``.

    Args:
        elsewhere: Hints for keywords that belong to another call, by keyword: where to pass
            them instead (for example ``"n_trials": "it is a field of Scenario(...)"``).

    Returns:
        The decorator, which returns the class it is given with its ``__init__`` wrapped.
    """
    hints = dict(elsewhere or {})

    def decorate(cls: type[_C]) -> type[_C]:
        checked = _with_hints(cls.__init__, cls.__name__, hints)
        cls.__init__ = checked  # type: ignore[method-assign]
        return cls

    return decorate


_F = TypeVar("_F", bound=Callable[..., Any])


def method_keyword_hints(elsewhere: Mapping[str, str]) -> Callable[[_F], _F]:
    """:func:`keyword_hints` for a method: an unknown keyword raises :class:`ArgumentError`
    naming the keywords meant (for example ``optimize(n_trials=...)``, Optuna's way, says
    where ``n_trials`` goes)."""
    hints = dict(elsewhere)

    def decorate(method: _F) -> _F:
        return cast(_F, _with_hints(method, method.__qualname__, hints))

    return decorate


def _with_hints(
    init: Callable[..., Any], label: str, hints: Mapping[str, str]
) -> Callable[..., Any]:
    """``init`` (a method: its first parameter is skipped) wrapped so that a call with an
    unknown keyword, or too many positional arguments, raises :class:`ArgumentError`."""
    parameters = list(inspect.signature(init).parameters.values())[1:]  # not self
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    takes_more = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    by_keyword = [n for n in names if n not in positional] or names[-1:] or ["name"]
    takes_scenario = "scenario" in names

    def fix(name: str) -> str:
        if name in hints:
            return f"{hints[name]}."
        # (its own keywords first: a foreign one spelled alike is a hint only where none is)
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
        close = close or difflib.get_close_matches(name, list(hints), n=2, cutoff=0.6)
        if not close:
            return f"it takes {', '.join(names)}."
        meant = [repr(c) if c in names else f"{c!r} ({hints[c]})" for c in close]
        return f"did you mean {' or '.join(meant)}?"

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return init(self, *args, **kwargs)
        except Exception as err:
            # (only now: a hot call pays nothing for the hints; Python refuses such a call
            # before the body runs)
            if not takes_scenario and (
                "scenario" in kwargs or any(type(a).__name__ == "Scenario" for a in args)
            ):
                # SMAC3's way: Intensifier(scenario, max_config_calls=1)
                raise ArgumentError(
                    f"{label} takes no scenario: SMAC(scenario, ...) hands it the scenario "
                    f"(SMAC3's parts take one; smacx's do not). Build it from its settings "
                    f"alone, by keyword, e.g. "
                    f"{label}({names[0] if names else by_keyword[0]}=...); got a Scenario."
                ) from None
            if not isinstance(err, TypeError):
                raise
            if len(args) > len(positional) and not takes_more:
                takes = (
                    f"at most {len(positional)} positional argument(s) ({', '.join(positional)})"
                    if positional
                    else "no positional arguments"
                )
                raise ArgumentError(
                    f"{label} takes {takes}; got {len(args)}. Pass the others by keyword, "
                    f"e.g. {label}({'..., ' if positional else ''}{by_keyword[0]}=...)."
                ) from None
            for name in kwargs:
                if name not in names:
                    raise ArgumentError(
                        f"{label} got an unexpected keyword argument {name!r}: {fix(name)}"
                    ) from None
            raise

    return checked


def smac3_names(names: Mapping[str, str], whose: str = "SMAC3's") -> Callable[[type[_C]], type[_C]]:
    """Class decorator that answers a SMAC3 attribute name with smacx's own.

    ``runhistory.save(...)`` on a smacx :class:`~smacx.RunHistory` raises an
    ``AttributeError`` that says to use ``to_json(path)``. The hook runs only where Python's
    own lookup has failed, so it costs nothing on the way to attributes that exist; it is
    installed on the class after definition, so type checkers still flag unknown attributes.

    Args:
        names: What to use instead, by SMAC3 name (for example ``"save": "to_json(path)"``).
        whose: Where the names come from, as the message says it ("Optuna's Study").

    Returns:
        The decorator, which returns the class it is given.
    """
    hints = dict(names)

    def decorate(cls: type[_C]) -> type[_C]:
        if "__getattr__" in vars(cls):
            raise TypeError(f"{cls.__name__} defines __getattr__ already")

        def __getattr__(self: _C, name: str) -> Any:
            if any(name in vars(k) for k in type(self).__mro__):
                # A property whose getter raised AttributeError: raise that one again, not
                # a claim that the attribute does not exist.
                return object.__getattribute__(self, name)
            owner = type(self).__name__
            if name in hints:
                raise AttributeError(
                    f"{owner!r} object has no attribute {name!r}, as {whose} has: "
                    f"use {hints[name]}.",
                    name=name,
                    obj=self,
                )
            raise AttributeError(f"{owner!r} object has no attribute {name!r}", name=name, obj=self)

        cls.__getattr__ = __getattr__  # type: ignore[attr-defined]
        return cls

    return decorate


def smac3_method(smac3: str, instead: str) -> Callable[[_F], _F]:
    """Method decorator for a method whose name SMAC3 gives to a value (``runhistory.finished``,
    a count there): used as that value (compared, counted, indexed, printed, iterated over
    without a call), the bound method raises a ``TypeError`` that says what to use. A SMAC3
    callback's ``runhistory.finished == 10`` was always False, and said nothing.

    Args:
        smac3: What the name is in SMAC3, as the message says it ("the number of finished
            trials").
        instead: What to use for that here ("n_finished").

    Returns:
        The decorator; called, the method is the one it wraps.
    """

    def decorate(func: _F) -> _F:
        return cast(_F, _HintedMethod(func, smac3, instead))

    return decorate


class _HintedMethod:
    """The descriptor of :func:`smac3_method`."""

    def __init__(self, func: Callable[..., Any], smac3: str, instead: str) -> None:
        self.func, self.smac3, self.instead = func, smac3, instead
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __set_name__(self, owner: type, name: str) -> None:
        self.where = f"{owner.__name__}.{name}"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        if obj is None:
            return self.func
        return _BoundHinted(self.func.__get__(obj, objtype), self)


#: What a :class:`_BoundHinted` takes from the bound method it wraps.
_METHOD_ATTRIBUTES = frozenset(
    ("__name__", "__qualname__", "__self__", "__func__", "__wrapped__", "__module__",
     "__defaults__", "__kwdefaults__", "__annotations__")
)  # fmt: skip


class _BoundHinted:
    """A bound method that refuses to be used as SMAC3's value of its name: compared with a
    number, tested for truth (SMAC3's ``while runhistory.running:`` never ended), counted,
    indexed, iterated over or formatted into a string. Otherwise it is the
    method: called, compared and hashed as it, weakly referenced, its name, signature and
    docstring its own."""

    def __new__(cls, call: Any, hint: Any) -> Any:
        if not isinstance(hint, _HintedMethod):
            # (weakref.WeakMethod rebuilds a method as its type(function, instance))
            return types.MethodType(call, hint)
        return super().__new__(cls)

    def __init__(self, call: Any, hint: _HintedMethod) -> None:
        self._call, self._hint = call, hint
        self.__doc__ = call.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name not in _METHOD_ATTRIBUTES:  # (_call, before __init__)
            raise AttributeError(name)
        return getattr(self._call, name)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self._call)

    def __repr__(self) -> str:
        return repr(self._call)

    def __str__(self) -> str:
        return str(self._call)

    def __hash__(self) -> int:
        return hash(self._call)

    def _refuse(self, *args: Any) -> Any:
        hint = self._hint
        raise TypeError(
            f"{hint.where} is a method in smacx, not SMAC3's {hint.smac3}: use {hint.instead}."
        )

    def _compare(self, other: object) -> Any:
        if isinstance(other, (numbers.Number, Mapping)):
            self._refuse()
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        self._compare(other)  # (SMAC3's value of the name: refused)
        return bool(self._call == (other._call if isinstance(other, _BoundHinted) else other))

    def __ne__(self, other: object) -> bool:
        return not self == other

    __lt__ = __le__ = __gt__ = __ge__ = _compare
    __bool__ = __int__ = __index__ = __float__ = __len__ = _refuse
    __getitem__ = __contains__ = __iter__ = __format__ = _refuse


#: The folder of the smacx package: frames in it are smacx's own (see warn_caller).
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_caller(message: str) -> None:
    """Warn (``UserWarning``) at the line of the application that called into smacx, however
    deep in smacx the warning arises: the first frame outside the package (a fixed
    ``stacklevel`` pointed into smacx wherever a call went through one more of its functions)."""
    level = 1
    frame: FrameType | None = sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)
