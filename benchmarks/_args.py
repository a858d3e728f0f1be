"""Argument types shared by the benchmark scripts' command lines.

Each is an ``argparse`` ``type=``: a bad value ends the script with argparse's one-line error
(``argument --trials: expected an integer >= 1, got '-5'``) before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _float_above(low: float, *, inclusive: bool) -> Callable[[str], float]:
    relation = ">=" if inclusive else ">"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = value >= low if inclusive else value > low
        if not ok or value == float("inf"):
            raise argparse.ArgumentTypeError(
                f"expected a finite number {relation} {low:g}, got {text!r}"
            )
        return value

    parse.__name__ = f"number {relation} {low:g}"
    return parse


#: An integer >= 1 (trials, seeds, workers, jobs).
positive_int = _int_at_least(1)
#: An integer >= 0 (a first seed, a thread count where 0 means any).
nonnegative_int = _int_at_least(0)
#: A finite number > 0 (durations, timeouts).
positive_float = _float_above(0.0, inclusive=False)
#: A finite number >= 0 (sleeps, latencies).
nonnegative_float = _float_above(0.0, inclusive=True)


def positive_ints(text: str) -> list[int]:
    """A comma-separated list of integers >= 1, e.g. ``16,64`` (at least one)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    try:
        return [positive_int(item) for item in items]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers >= 1, got {text!r}"
        ) from None


def names(known: Iterable[str], what: str = "name") -> Callable[[str], list[str]]:
    """A type for a comma-separated list of some of ``known`` (at least one, in the order
    given); an unknown or missing one is an error that lists the known ones."""
    valid = tuple(known)

    def parse(text: str) -> list[str]:
        chosen = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in chosen if item not in valid]
        if unknown or not chosen:
            got = f"unknown {what}(s) {', '.join(unknown)}" if unknown else f"no {what} given"
            raise argparse.ArgumentTypeError(f"{got}; known: {', '.join(valid)}")
        return chosen

    parse.__name__ = f"{what} list"
    return parse


def add_methods_option(parser: argparse.ArgumentParser, methods: Iterable[str]) -> None:
    """``--methods``: a comma-separated list of some of ``methods``, all of them by default."""
    known = tuple(methods)
    parser.add_argument(
        "--methods", type=names(known, "method"), default=",".join(known), help=", ".join(known)
    )


def queue_ahead(text: str) -> str:
    """``auto`` or an integer >= 0 (``DaskParallelRunner(queue_ahead=...)``), as text."""
    if text == "auto":
        return text
    try:
        return str(nonnegative_int(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or an integer >= 0, got {text!r}"
        ) from None


def existing_file(text: str) -> Path:
    """The path of a file that exists (an input of the script)."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def add_speedup_options(parser: argparse.ArgumentParser, tasks: Iterable[str]) -> None:
    """The options that speedup.py and its simulation, async_sim.py, share: the tasks (some
    of ``tasks``), the workers of the parallel runs, and the trials of the one-worker run."""
    parser.add_argument("--tasks", type=names(tasks, "task"), default="branin,hartmann6,levy5")
    parser.add_argument("--workers", type=positive_int, default=8)
    parser.add_argument("--trials", type=positive_int, default=100)
