"""A picture of a run: each finished trial's cost and the incumbent's, trial after trial.

:func:`plot_history` draws it on matplotlib axes from a :class:`~smacx.SMAC`, its
:class:`~smacx.RunHistory` or a stored run; ``smacx show RUN --plot FILE`` saves it. matplotlib
is an optional dependency (``pip install 'smacx[plot]'``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from smacx.errors import ArgumentError, check_flag
from smacx.runhistory import RunHistory, objective_column
from smacx.trial import StatusType

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from smacx.facade import SMAC

__all__ = ["plot_history"]

#: Budgets drawn each in a colour of its own (more share a colour map).
_MOST_LABELLED_BUDGETS = 8


def plot_history(
    run: SMAC | RunHistory | str | os.PathLike[str],
    *,
    objective: str | int | None = None,
    ax: Axes | None = None,
    log_scale: bool | None = None,
    name: str | None = None,
) -> Axes:
    """Draw each finished trial's cost, in the order the trials finished, and the incumbent's
    cost as it changed (the run's trajectory), as Optuna's ``plot_optimization_history`` does.

    - A trial that did not succeed (crashed, timed out, out of memory, or a cost that is not
      finite) is marked with a red cross along the top edge (the bottom edge for a maximized
      measurement: the worst side either way): its cost is a penalty.
    - With budgets (multi-fidelity runs), each budget's trials have a colour of their own:
      costs at different budgets do not compare.
    - The incumbent's cost is the one the run compares configurations by: its mean over its
      instances and seeds. With several objectives, the line is the lowest cost on the drawn
      objective among the Pareto front's members.
    - A stored run of ``smacx run`` whose measurement is maximized is drawn as measured.

    Args:
        run: A :class:`~smacx.SMAC` (after or during a run), its :class:`~smacx.RunHistory`,
            or a stored run as ``smacx show`` takes it: its folder (``output_directory /
            name``), its database file, or a PostgreSQL URL (see ``name``).
        objective: With several objectives, which one to draw, by name or position.
        ax: Axes to draw on; by default a new figure's (``matplotlib.pyplot.subplots``).
        log_scale: Whether the cost axis is logarithmic. By default it is when every drawn
            cost is positive and they span more than two decades.
        name: The run's name in the PostgreSQL database of a URL ``run``, as ``smacx show
            --name`` takes it (by default the database's only run).

    Returns:
        The axes drawn on.

    Raises:
        ImportError: matplotlib is not installed.
        ArgumentError: ``run`` is not a SMAC, a RunHistory or a path or URL.
        ScenarioError: ``objective`` names none of the run's, or several objectives and no
            ``objective``.
        StorageError: No run is stored at the path, or it cannot be read.
    """
    if log_scale is not None:
        check_flag("plot_history", "log_scale", log_scale)
    history = _history(run, name)
    column = objective_column(history.objectives, objective, "plot_history")
    if ax is None:
        plt = _pyplot()
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    draw_history(ax, history, column, log_scale=log_scale)
    return ax


class _History:
    """What :func:`draw_history` draws, read from a run history or a stored run's report.

    Attributes:
        objectives: Names of the run's objectives.
        costs: Each finished trial's costs `(n, n_objectives)`, in the order they finished.
        failed: Whether each of those trials failed `(n,)`: not SUCCESS, or a cost not finite.
        budgets: Each of those trials' budget (None without budgets).
        trajectory: The run's trajectory entries (see :meth:`RunHistory.trajectory`).
        maximized: Whether the costs are a maximized measurement negated (``smacx run``).
    """

    def __init__(
        self,
        objectives: Sequence[str],
        finished: Sequence[tuple[float, Sequence[float], bool, float | None]],
        trajectory: list[dict[str, Any]],
        maximized: bool = False,
    ) -> None:
        finished = sorted(finished, key=lambda trial: trial[0])  # (by end time)
        self.objectives = list(objectives)
        self.costs = np.array([t[1] for t in finished], dtype=float).reshape(
            len(finished), len(self.objectives)
        )
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(self.costs).all(axis=1)
        self.failed = np.array([not t[2] for t in finished], dtype=bool) | ~finite
        self.budgets = [t[3] for t in finished]
        self.trajectory = trajectory
        self.maximized = maximized


def _history(run: Any, name: str | None) -> _History:
    """``run`` (a SMAC, a RunHistory, or a stored run's path or URL; ``name``, a run in a
    PostgreSQL database) as :class:`_History`."""
    if name is not None and not isinstance(name, str):
        raise ArgumentError(f"plot_history: name must be a run's name or None, got {name!r:.100}.")
    if isinstance(run, (str, os.PathLike)):
        from smacx.cli import run_report  # (the CLI imports this module)

        path = Path(run) if isinstance(run, os.PathLike) else run
        report = run_report(path, name, list_trials=True, caller="plot_history")
        return report_history(report)
    if name is not None:
        raise ArgumentError(
            "plot_history: name is for a run in a PostgreSQL database given by its URL; got "
            f"name={name!r:.100} with a {type(run).__name__}."
        )
    history = getattr(run, "runhistory", run)
    if not isinstance(history, RunHistory):
        raise ArgumentError(
            "plot_history: run must be a SMAC, a RunHistory, or a stored run's folder, "
            f"database file or PostgreSQL URL, got {type(run).__name__} {run!r:.100}."
        )
    finished = [
        (value.endtime, value.costs(), value.status is StatusType.SUCCESS, key.budget)
        for key, value in history.items()
        if value.status is not StatusType.RUNNING
    ]
    # (a SMAC's own: after close(), as `with SMAC(...) as smac:` ends, the storage is closed)
    trajectory = run.trajectory if run is not history else history.trajectory()
    return _History(history.objectives, finished, trajectory)


def report_history(report: dict[str, Any]) -> _History:
    """A :func:`smacx.cli.run_report` made with ``list_trials`` as :class:`_History`."""
    finished = [
        (trial["endtime"], trial["cost"], trial["status"] == "SUCCESS", trial["budget"])
        for trial in report["all_trials"]
        if trial["status"] != "RUNNING"
    ]
    objectives = report["objectives"]
    if not objectives:  # (a history stored without its scenario: named by position)
        n = max((len(trial["cost"]) for trial in report["all_trials"]), default=1)
        objectives = ["cost"] if n == 1 else [f"cost_{i}" for i in range(n)]
    maximized = report.get("goal") == "maximize"
    return _History(objectives, finished, report["trajectory"], maximized)


def draw_history(
    ax: Axes, history: _History, column: int, *, log_scale: bool | None = None
) -> None:
    """Draw ``history``'s objective at ``column`` on ``ax`` (see :func:`plot_history`)."""
    sign = -1.0 if history.maximized else 1.0
    name = history.objectives[column]
    x = np.arange(1, len(history.costs) + 1)
    y = sign * history.costs[:, column]
    ok = ~history.failed
    budgets = sorted({b for b, good in zip(history.budgets, ok) if good and b is not None})
    if len(budgets) > 1:
        import matplotlib

        colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, len(budgets)))
        for budget, colour in zip(budgets, colours):
            at = ok & np.array([b == budget for b in history.budgets])
            label = f"budget {budget:g}" if len(budgets) <= _MOST_LABELLED_BUDGETS else None
            ax.scatter(x[at], y[at], s=12, color=colour, alpha=0.7, label=label)
    else:
        ax.scatter(x[ok], y[ok], s=12, color="tab:blue", alpha=0.6, label="trial")
    steps = _incumbent_steps(history.trajectory, column, len(x))
    line = "best on the Pareto front" if _has_front(history.trajectory) else "incumbent"
    if len(history.objectives) > 1 and steps is not None and not _has_front(history.trajectory):
        # A trajectory of an older smacx, which stored one member of the front per entry: the
        # lowest cost so far of the trials at the budget its last entry is at instead (a
        # deterministic run's front there holds it).
        top = history.trajectory[-1].get("budget")
        at_top = ok & np.array([b == top for b in history.budgets], dtype=bool)
        steps = _lowest_steps(np.where(at_top, history.costs[:, column], np.inf))
        line = "lowest so far (trajectory stored before fronts)"
    if steps is not None:
        ax.step(steps[0], sign * steps[1], where="post", color="black", lw=1.5, label=line)
    n_failed = int(history.failed.sum())
    if n_failed:
        # (along the worst edge, the top one for costs: x in data, y in axes coordinates)
        edge = 0.02 if history.maximized else 0.98
        ax.scatter(x[history.failed], np.full(n_failed, edge), marker="x", s=20,
                   color="tab:red", transform=ax.get_xaxis_transform(), clip_on=False,
                   label=f"failed ({n_failed})")  # fmt: skip
    drawn = np.concatenate([y[ok], [] if steps is None else sign * steps[1]])
    drawn = drawn[np.isfinite(drawn)]
    if log_scale is None:
        log_scale = bool(drawn.size) and drawn.min() > 0 and drawn.max() > 100 * drawn.min()
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("finished trials")
    ax.set_ylabel(f"{'measurement' if history.maximized else 'cost'}"
                  f"{'' if name == 'cost' else f' ({name})'}")  # fmt: skip
    if len(x):
        ax.set_xlim(0, len(x) + 1)
    ax.legend(loc="best", fontsize="small")


def _lowest_steps(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The lowest of ``costs`` `(n,)` (failed ones inf) so far as steps, as
    :func:`_incumbent_steps` gives them; None while none is finite."""
    lowest = np.minimum.accumulate(costs) if costs.size else costs
    changed = np.flatnonzero(np.isfinite(lowest) & np.r_[True, lowest[1:] < lowest[:-1]])
    if not changed.size:
        return None
    xs = np.r_[changed + 1, costs.size].astype(float)
    ys = np.r_[lowest[changed], lowest[-1]]
    return xs, ys


def _has_front(trajectory: list[dict[str, Any]]) -> bool:
    return any("config_ids" in entry for entry in trajectory)


def _incumbent_steps(
    trajectory: list[dict[str, Any]], column: int, n_finished: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The incumbent's cost at ``column`` as steps: the finished trials `(k,)` at which it
    changed, and its cost from there `(k,)`, held to ``n_finished``; None before any."""
    xs, ys = [], []
    for entry in trajectory:
        if "costs" in entry:  # (several objectives: the front's best on this one)
            cost = min((float(c[column]) for c in entry["costs"]), default=math.inf)
        else:
            cost = float(entry["cost"][column])
        if math.isfinite(cost):
            xs.append(int(entry["n_finished"]))
            ys.append(cost)
    if not xs:
        return None
    xs.append(max(n_finished, xs[-1]))
    ys.append(ys[-1])
    return np.array(xs, dtype=float), np.array(ys)


def _pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "smacx's plots need matplotlib: pip install 'smacx[plot]' (or matplotlib)."
        ) from err
    return plt


def check_plot_file(path: str) -> None:
    """Raise a clear error if ``smacx show --plot`` cannot write ``path``: matplotlib is
    missing (ImportError), or the file's suffix names no format it writes (ArgumentError)."""
    _pyplot()
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if Path(path).suffix.lstrip(".").lower() not in formats:
        raise ArgumentError(
            f"--plot must be a file whose suffix names an image format matplotlib writes "
            f"({', '.join(sorted(formats))}), got {path!r}."
        )


def save_report_plot(report: dict[str, Any], path: str) -> None:
    """``smacx show --plot``: draw a report made with ``list_trials`` (one panel an objective)
    and save it to ``path``."""
    from matplotlib.figure import Figure

    history = report_history(report)
    n = len(history.objectives)
    figure = Figure(figsize=(7, 3.5 * n), layout="constrained")
    for column, ax in enumerate(np.atleast_1d(figure.subplots(n, 1)).ravel()):
        draw_history(ax, history, column)
    figure.suptitle(f"run {report['run']}", fontsize="medium")
    figure.savefig(path, dpi=120)
