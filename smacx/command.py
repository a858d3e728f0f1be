"""Targets that are shell commands, and the knob files that describe them.

A performance engineer tunes a program, not a Python function: a knob file names the knobs
(the search space) and a command template; each trial runs the command with the
configuration's values, here or on a host over ssh, and reads the measurement from the
command's output or from a file it writes. ``smacx run knobs.toml`` runs such a file (see
:mod:`smacx.cli`); :func:`load_workload` and :class:`CommandTarget` do the same from Python::

    workload = load_workload("knobs.toml")
    smac = SMAC(workload.scenario(output_directory="runs"), workload.target,
                intensifier=workload.intensifier(),
                initial_design=workload.initial_design())

A knob file (TOML, or the same keys as JSON)::

    command = "./bench --threads {threads} --cache {cache} --seed {seed}"
    result = "stdout"                  # or a file the command writes: "{trial_dir}/out.txt"
    pattern = 'p99 latency: ([0-9.]+)'  # the number to read; default: the last one printed
    goal = "minimize"                  # or "maximize"
    repeats = 3                        # a noisy measurement: runs per configuration
    timeout = 120                      # seconds a run may take (then TIMEOUT)
    memory = 4000                      # MB its processes may hold together (then MEMORYOUT)
    n_trials = 60
    # hosts = ["node1", "user@node2"]  # one run per host at a time, over ssh (not with memory)
    # instances = ["small.cnf", "big.cnf"]  # raced over these; the command then uses {instance}
    # race = "hyperband"               # with instances: Hyperband over them (default "racing")
    # aggregate = "median"             # how repeats combine (default "mean")
    # budget = [1, 27]                 # Hyperband runs the command at {budget} in this range

    [knobs]
    threads = { type = "integer", range = [1, 64], log = true, default = 8 }
    cache = { type = "categorical", choices = ["lru", "lfu", "arc"] }
    ratio = { type = "float", range = [0.0, 1.0] }
    batch = { type = "ordinal", sequence = [1, 2, 4, 8, 16] }

    [env]                              # environment variables (exported on hosts too)
    OMP_PROC_BIND = "true"

Instead of ``[knobs]``, ``space = "space.json"`` names a space saved by ConfigSpace
(``ConfigurationSpace.to_json``), for conditions and forbidden clauses; a knob whose condition
is unmet is an empty word (``m={momentum}; ./train ${{m:+--momentum "$m"}}`` drops the flag; the
shell's own braces are doubled, as every literal brace).
Each placeholder is one quoted shell word: write it outside quotes. Knobs may not be named as
trial fields (``seed``, ``instance``, ``budget``, ``trial_dir``, ``host``).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import selectors
import shlex
import shutil
import signal
import stat
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from smacx.errors import CommandError, ScenarioError, as_machine_error, printable, warn_caller
from smacx.runners.base import SPAWN_ENVIRON
from smacx.runners.serial import NON_FINITE_MEASUREMENT, STOP_GRACE_SECONDS, STOP_SIGNALS
from smacx.scenario import RUN_NAME, is_run_name

if TYPE_CHECKING:
    from ConfigSpace import Configuration, ConfigurationSpace

    from smacx.initial_design import InitialDesign
    from smacx.intensifier import Intensifier
    from smacx.multifidelity import Hyperband
    from smacx.scenario import Scenario

__all__ = ["CommandTarget", "Workload", "load_workload"]

logger = logging.getLogger("smacx")

#: Placeholders of a command template that are not knobs.
TRIAL_FIELDS = ("seed", "instance", "budget", "trial_dir", "host")

# A number as programs print it: 12, -3.5, 1e-3, .5, 1,234,567.8 (commas between groups of
# three digits are thousands separators, as `perf stat` prints them), inf, NaN, Infinity (the
# last one in the text counts). A sign right after a letter or digit is a hyphen, not a minus:
# the 05 of 2024-01-05, the 8 of "1-8 threads".
_NUMBER = re.compile(
    r"(?:(?<![\w.])[-+])?"
    r"(?:(?:(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d*)?|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    r"|(?<![A-Za-z])(?i:infinity|inf|nan)(?![A-Za-z]))"
)
# A terminal's escape sequence (colours: ESC [ 32 m), removed before numbers are looked for.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# A knob's or trial field's name as a placeholder holds it: a letter (any script's) or _, then
# letters, digits, _ and - (knobs such as cache-size).
_PLACEHOLDER = re.compile(r"[^\W\d][\w-]*")
# What, right before the last number, shows that it is the end of a longer one: a digit and
# a grouping mark (1.234.567, 1'234'567, 1_000, or the spaces of 1 234 567), or a digit and
# Fortran's exponent letter (0.1234D-02).
_GLUED = re.compile(r"(?:\d[.'_\u00a0\u2009\u202f]|\d|\d[dD][-+]?)\Z")
# A number with thousands separators, as a pattern's group may hold it: 1,234,567.8.
_GROUPED = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][-+]?\d+)?")


@dataclasses.dataclass(frozen=True)
class CommandTarget:
    """A target function that runs a shell command per trial and returns its measurement.

    Args:
        command: The command template. ``{name}`` stands for the value of knob ``name``
            (quoted for the shell), ``{seed}``, ``{instance}``, ``{budget}`` for the trial's,
            ``{trial_dir}`` for an empty folder of this trial's own, ``{host}`` for the host it
            runs on. ``{{`` and ``}}`` are literal braces.
        result: ``"stdout"``, or the path (a template, relative to ``workdir``) of a file the
            command writes, read once it has ended.
        pattern: A regular expression whose last match in the result holds the number (its
            first group, if it has one; ``^`` and ``$`` match at each line). Without it, the
            last number in the result counts (``1,234,567`` is one number; a ``-`` right after
            a letter or digit is a hyphen). ``nan`` or ``inf`` is an error, as is a result file
            the command did not write anew.
        maximize: The measurement is to be maximized: the trial's cost is its negative.
        hosts: Run on these hosts through ``launcher`` (ssh by default), at most one trial
            per host at a time among this machine's workers; empty: run here. A host the
            launcher cannot reach (status 255 before the command started) hands the trial to
            another, and this machine's trials leave it alone for ``HOST_DOWN_SECONDS`` while
            another host is up; a trial that reaches none tries them all again for
            ``HOST_RETRY_SECONDS`` (at most half of ``remote_timeout``) before it fails.
        launcher: How a command reaches ``{host}``: the remote command is appended, quoted.
            By default ssh, which gives up connecting after 10 s (without ``ConnectTimeout``,
            a host that is off took about 2 minutes, and its trials ended as TIMEOUTs of
            their configurations instead of going to another host).
        workdir: Folder the command runs in (here, and ``cd`` to it on a host).
        trial_root: Folder under which each trial's ``{trial_dir}`` is made and kept, for a
            look at what the trial wrote (a model it saved, its logs); beside each folder
            ``trial-XXXX``, ``trial-XXXX.json`` holds the trial's configuration, seed,
            instance and budget. Without it, ``{trial_dir}`` is a temporary folder,
            removed when the trial ends.
        env: Extra environment variables for the command (exported on a host, too).
        remote_timeout: Seconds after which a command on a host is stopped there, with its
            programs (by GNU ``timeout``, if the host has it), even while its connection
            hangs. (A command whose connection went away, the trial stopped or its run
            killed, is stopped there anyway: it watches its input, which this
            process holds open.) :func:`load_workload` sets the knob file's ``timeout``.
        memory_limit: Megabytes of memory the command's processes (the shell, the programs
            it starts and theirs) may hold together, resident in RAM. They are measured
            every ``MEMORY_POLL_SECONDS`` (less often on a machine with so many processes
            that measuring would take more than about 2% of a core); a command over the
            limit is killed with all its processes and the target raises ``MemoryError``
            (the trial is MEMORYOUT). Unlike ``Scenario.trial_memory_limit``, which bounds
            each process's address space, it counts a program's children too and not the
            address space a program only reserves (as Java and Go runtimes do). Commands
            here only: a host's memory is not measured from this machine.
            :func:`load_workload` sets the knob file's ``memory``.
        whole_budgets: Round ``{budget}`` to a whole number (at least 1) for a command that
            takes a count, such as iterations: Hyperband's budgets are ``max_budget / 3**k``,
            whole only when the range is a power of 3. :func:`load_workload` sets it when
            both ends of the knob file's ``budget`` are whole numbers.
    """

    command: str
    result: str = "stdout"
    pattern: str | None = None
    maximize: bool = False
    hosts: tuple[str, ...] = ()
    launcher: str = "ssh -o BatchMode=yes -o ConnectTimeout=10 {host}"
    workdir: str | None = None
    trial_root: str | None = None
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    remote_timeout: float | None = None
    memory_limit: float | None = None
    whole_budgets: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command.strip():
            raise ScenarioError(
                f"CommandTarget.command must be a non-empty command template; got {self.command!r}."
            )
        for name in ("command", "result"):
            _placeholders(getattr(self, name), f"CommandTarget.{name}")  # well-formed
        others = [f for f in _placeholders(self.launcher, "CommandTarget.launcher") if f != "host"]
        if others and self.hosts:  # (without hosts the launcher is never used)
            raise ScenarioError(
                f"CommandTarget.launcher may name only {{host}}; got {{{others[0]}}} in "
                f"{self.launcher!r}. Write the launcher's other words as they are (ssh -p 2222 "
                "{host}), and literal braces as {{ and }}."
            )
        if self.pattern is not None:
            try:
                groups = re.compile(self.pattern).groups
            except re.error as err:
                raise ScenarioError(
                    f"CommandTarget.pattern must be a regular expression; {self.pattern!r} is "
                    f"not: {err}."
                ) from None
            if groups > 1:
                raise ScenarioError(
                    f"CommandTarget.pattern must have at most one group (the number); "
                    f"{self.pattern!r} has {groups}. Write the others as (?:...). "
                    f"{ONE_MEASUREMENT}"
                )
        if isinstance(self.hosts, str) or not all(isinstance(h, str) and h for h in self.hosts):
            raise ScenarioError(
                f"CommandTarget.hosts must be a list of host names; got {self.hosts!r}."
            )
        object.__setattr__(self, "hosts", tuple(self.hosts))
        twice = sorted({h for h in self.hosts if self.hosts.count(h) > 1})
        if twice:
            # (one lock per host name: a second worker for it waited for the first, and its
            # wait counted towards the trial's timeout)
            raise ScenarioError(
                f"CommandTarget.hosts must name each host once; got {twice[0]!r} "
                f"{self.hosts.count(twice[0])} times in {list(self.hosts)}. A host runs one "
                "trial at a time: list it once."
            )
        if self.workdir is not None and not self.hosts and not os.path.isdir(self.workdir):
            raise ScenarioError(
                f"CommandTarget.workdir must be a folder on this machine; {self.workdir!r} is "
                "not one. Make it, or correct the path."
            )
        if self.hosts and self.result != "stdout":
            raise ScenarioError(
                f"CommandTarget.result must be 'stdout' when the command runs on hosts (a "
                f"file is read on this machine); got {self.result!r}. Print the result."
            )
        limit = self.memory_limit
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, (int, float))
            or not math.isfinite(limit)
            or limit <= 0
        ):
            raise ScenarioError(
                f"CommandTarget.memory_limit must be megabytes, a number > 0; got {limit!r}."
            )
        if self.hosts and limit is not None:
            raise ScenarioError(
                f"CommandTarget.memory_limit works only for commands run on this machine; got "
                f"memory_limit={limit!r} with hosts {list(self.hosts)}. Limit the memory on the "
                "hosts (e.g. `ulimit -v` in the command, or a cgroup), or run here."
            )
        if self.hosts and "trial_dir" in _placeholders(self.command, "CommandTarget.command"):
            raise ScenarioError(
                "CommandTarget.command names {trial_dir}, a folder made on this machine, but "
                f"the command runs on hosts {list(self.hosts)}, which do not have it. Make a "
                'folder there in the command, e.g. d=$(mktemp -d) && prog --out "$d"; rm -r '
                '"$d".'
            )
        if self.hosts and "{host}" not in self.launcher:
            raise ScenarioError(
                f"CommandTarget.launcher must contain {{host}}; got {self.launcher!r}."
            )

    def check(self, configspace: ConfigurationSpace, instances: Sequence[str] = ()) -> None:
        """Check that the templates name only knobs of ``configspace`` and trial fields, and
        that no value of a knob or of ``instances`` would be read as shell syntax.

        Raises:
            ScenarioError: A placeholder that is neither, with the names it could be; or a
                placeholder inside quotes with a value that needs quoting.
        """
        unnamable = [name for name in configspace if not _PLACEHOLDER.fullmatch(name)]
        if unnamable:
            fixed = re.sub(r"[^\w-]+", "_", unnamable[0]).lstrip("0123456789-") or "knob"
            raise ScenarioError(
                f"the knob {unnamable[0]!r} cannot be named in the command: a placeholder "
                "{name} starts with a letter or _ and holds only letters, digits, _ and -. "
                f"Rename the knob (say, {fixed})."
            )
        clashes = sorted(set(configspace) & set(TRIAL_FIELDS))
        if clashes:
            # {seed} would be the trial's seed, silently, never the knob's value.
            raise ScenarioError(
                f"the knob(s) {clashes} have the name of a trial field; expected names other "
                f"than {list(TRIAL_FIELDS)}. Rename the knob (say, {clashes[0]}_)."
            )
        known = set(configspace) | set(TRIAL_FIELDS)
        risky: dict[str, set[str]] = {}
        used: set[str] = set()
        for name in ("command", "result"):
            # (the result is a path, formatted as it is: no shell reads it)
            shell = risky if name == "command" else None
            for field in _placeholders(getattr(self, name), f"CommandTarget.{name}", shell):
                used.add(field)
                if field not in known:
                    raise ScenarioError(
                        f"CommandTarget.{name} names {{{field}}}, which is no knob of the space "
                        f"nor a trial field; expected one of {sorted(known)}. Write literal "
                        "braces as {{ and }}."
                    )
        unused = [name for name in configspace if name not in used]
        if unused:
            warn_caller(
                f"the knob(s) {unused} appear in neither the command nor the result, so their "
                "values never reach the program: the run would tune settings that change "
                f"nothing. Pass each to the command (say, --{unused[0]} {{{unused[0]}}}), or "
                "drop it from the knobs."
            )
        for field in [f for f, why in risky.items() if "$" in why]:
            warn_caller(
                f"CommandTarget's templates have ${{{field}}}: the shell reads $ and the value "
                f"as a variable of its own (with {field}=14, $14, which is empty). Write "
                f"{{{field}}} alone, or ${{{{...}}}} for a variable of the shell's.",
            )
        for field in [f for f, why in risky.items() if "#" in why]:
            warn_caller(
                f"CommandTarget's templates have {{{field}}} after a # that starts a comment "
                "for the shell: its value never reaches the program. Move it before the #, "
                "or quote the # if it is part of an argument.",
            )
        for field in [f for f, why in risky.items() if "quotes" in why]:
            knob = configspace.get(field)
            values = getattr(knob, "choices", None) or getattr(knob, "sequence", None) or ()
            if field == "instance":
                values = instances
            elif field == "trial_dir":  # (the folder's own name is a safe word)
                values = [self.trial_root or tempfile.gettempdir()]
            awkward = [_text(v) for v in values if _needs_quotes(_text(v))]
            if awkward:
                raise ScenarioError(_inside_quotes(field, awkward[0]))

    def __call__(
        self,
        config: Configuration,
        seed: int,
        instance: str | None = None,
        budget: float | None = None,
    ) -> float:
        """Run the command for one trial and return its cost.

        Raises:
            CommandError: The command exited with a non-zero status, or its result holds no
                number (the message ends with what it printed last).
        """
        tries = _HostTries()
        values = dict(config)
        about = {"config": values, "seed": seed, "instance": instance, "budget": budget}
        with self._trial_dir(about) as trial_dir:
            # An inactive knob (its condition unmet) is in no configuration: it is an empty
            # word, as {instance} without instances, never a KeyError that crashes the trial.
            raw = {name: _text(values.get(name)) for name in config.config_space}
            raw.update(
                seed=str(seed),
                instance=_text(instance),
                budget=_text(_whole(budget, self.whole_budgets)),
                trial_dir=trial_dir,
            )
            while True:
                with self._host(tries) as host:
                    raw["host"] = host or "localhost"
                    command = self._command(raw, host)
                    # (what messages show: the trial's command, not the wrapper on a host)
                    shown = command if host is None else self._command(raw, None)
                    result_path = (
                        None
                        if self.result == "stdout"
                        else Path(self.workdir or ".") / self.result.format_map(raw)
                    )
                    shared = None if "{trial_dir}" in self.result else result_path
                    with _taking_turns(shared):
                        before = _stat(result_path)
                        done = _run(
                            command,
                            cwd=self.workdir if host is None else None,
                            env={**_as_launched(), **self.env},
                            memory_limit=self.memory_limit,
                            keep_alive=host is not None,
                        )
                        stderr = done.stderr
                        if host is not None:
                            if done.returncode == 255 and _REACHED not in stderr:
                                # ssh's own failure (the command never ran): another host
                                # runs the trial, and the other workers leave this one alone
                                # a while.
                                why = _tail(stderr) or " (it printed nothing)"
                                tries.failed[host] = why
                                if not _is_down(host):
                                    logger.warning(
                                        "Host %s could not be reached; %s. The launcher printed:%s",
                                        host,
                                        f"for {HOST_DOWN_SECONDS:g} s the trials of this "
                                        "machine leave it alone while another host is up"
                                        if len(self.hosts) > 1
                                        else "its trials try it again",
                                        why,
                                    )
                                _mark(host, down=True)
                                continue
                            _mark(host, down=False)
                            stderr = stderr.replace(_REACHED + "\n", "", 1)
                        text, source = self._result(done.returncode, done.stdout, stderr,
                                                    shown, host, result_path, before)  # fmt: skip
                break
        value = self._number(text, source, shown)
        if not math.isfinite(value):
            raise CommandError(
                f"{source}: the measurement is {value}{NON_FINITE_MEASUREMENT}: {shown}"
                f"{_tail(text)}"
            )
        return -value if self.maximize else value

    def _command(self, raw: Mapping[str, str], host: str | None) -> str:
        """The shell command of a trial whose fields are ``raw`` (unquoted), run here or on
        ``host`` through the launcher.

        Raises:
            CommandError: A placeholder inside quotes has a value that needs quoting: the
                shell would read the quotes around it as its own, and the rest as its syntax.
        """
        risky: dict[str, set[str]] = {}
        _placeholders(self.command, "CommandTarget.command", risky)
        for field, why in risky.items():
            if "quotes" in why and raw.get(field) and _needs_quotes(raw[field]):
                raise CommandError(_inside_quotes(field, raw[field]))
        # An empty value (an inactive knob, no instance) is an empty word: '' bare, and nothing
        # inside the template's own quotes, where '' reached the program as two quote
        # characters (an audit's finding).
        command = self.command.format_map(
            {
                k: shlex.quote(v) if v or "quotes" not in risky.get(k, ()) else ""
                for k, v in raw.items()
            }
        )
        if host is None:
            return command
        remote = command
        # (in a group: `cd dir && a; b` ran b in the login folder when the cd failed, and the
        # trial counted as a success, an audit's finding; the newline ends a command that
        # ends in a comment or in `&`)
        if self.workdir is not None:
            remote = f"cd {_remote_path(self.workdir)} && {{ {remote}\n}}"
        if self.env:  # (the launcher's own environment does not reach the host)
            exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
            remote = f"export {exports} && {{ {remote}\n}}"
        if self.remote_timeout is not None:
            inner, limit = shlex.quote(remote), f"{self.remote_timeout:g}"
            remote = (
                f"if command -v timeout >/dev/null 2>&1; then timeout -k 5 {limit} sh -c "
                f"{inner}; else sh -c {inner}; fi"
            )
        # ssh passes no signal on: a command whose connection went away (Ctrl-C here, a run
        # killed, a network cut) ran on beside the host's next trial. A watcher in the
        # background reads the connection's input, which this end holds open while the trial
        # runs; when it ends after the first line (_ALIVE), the connection is gone, and the
        # watcher stops the command: the process group of each child of the login shell that
        # leads one (GNU timeout's), else its children and it, then the login shell's own
        # group (sshd makes it a leader). The command runs in the foreground, as it did (a
        # background job ignores SIGINT and SIGQUIT); the names are the wrapper's own
        # (zsh's $status is read-only). A launcher that gives the host no input (ssh -n)
        # ends it at once: nothing is stopped, and the watcher waits for the login shell.
        watcher = (
            f'trap "" TERM; if read -r smacx_line && [ "$smacx_line" = {_ALIVE} ]; then '
            "while read -r smacx_line; do :; done; "
            "for smacx_c in $(pgrep -P $$ 2>/dev/null); do kill -TERM -$smacx_c 2>/dev/null "
            "|| { pkill -TERM -P $smacx_c 2>/dev/null; kill -TERM $smacx_c 2>/dev/null; }; "
            "done; kill -TERM -$$ 2>/dev/null; "
            "else while kill -0 $$ 2>/dev/null; do sleep 1; done; fi"
        )
        remote = (
            # The mark on stderr tells a command that exits with 255 from ssh failing to connect.
            f"printf '%s\\n' {shlex.quote(_REACHED)} >&2; exec 3<&0; "
            f"{{ {watcher}; }} <&3 >/dev/null 2>&1 & smacx_watcher=$!; exec 3<&- </dev/null; "
            f"{remote}\nsmacx_status=$?; kill $smacx_watcher 2>/dev/null; exit $smacx_status"
        )
        launcher = self.launcher.format_map({"host": shlex.quote(host)})
        return f"{launcher} {shlex.quote(remote)}"

    def _result(
        self,
        status: int,
        stdout: str,
        stderr: str,
        command: str,
        host: str | None,
        path: Path | None,
        before: tuple[int, int, int] | None,
    ) -> tuple[str, str]:
        """The text holding the measurement of a command that ended with ``status``, and
        where it came from (its output, or the result file at ``path``, which was as
        ``before`` when the command started).

        Raises:
            CommandError: The command failed, printed only to stderr, or left no new file.
        """
        if status != 0:
            if status in _STOP_STATUSES:
                # Killed by a stop signal: a batch system's SIGTERM (or a terminal's Ctrl-C)
                # reaches every process of the job in no set order, the command here first.
                # A moment for the run's own to arrive, which gives the trial back (it runs
                # again when the run continues) rather than recording it CRASHED.
                time.sleep(STOP_GRACE_SECONDS)
            how = f"exited with status {status}"
            if status < 0:
                with contextlib.suppress(ValueError):
                    how = f"was killed by {signal.Signals(-status).name}"
            elif host is not None and self.remote_timeout is not None and status in (124, 137):
                how += f" (stopped on its host after remote_timeout={self.remote_timeout:g} s)"
            elif 128 < status < 128 + 65:
                # the shell's way of telling that a program of the command died of a signal
                with contextlib.suppress(ValueError):
                    how += f" (a program killed by {signal.Signals(status - 128).name})"
            where = "" if host is None else f" on {host}"
            raise CommandError(f"the command{where} {how}: {command}{_tail(stderr or stdout)}")
        if path is None:
            if not stdout.strip() and stderr.strip():
                # A program that reports on stderr (as time(1) does) is never read there
                # unasked (an error message's line number is no measurement): say so.
                # With stdout sent elsewhere (`prog > /dev/null`), a 2>&1 appended would send
                # stderr there too: it must come before that redirection.
                fix = (
                    "put 2>&1 before the command's > redirection, as in "
                    "`prog 2>&1 >/dev/null`, to read that"
                    if re.search(r"(?:(?<![0-9&<>])|(?<![0-9])1)>(?!&)", self.command)
                    else "add 2>&1 to the command to read that"
                )
                raise CommandError(
                    f"its output (stdout) is empty; it printed only to stderr ({fix}): "
                    f"{command}{_tail(stderr)}"
                )
            return stdout, "its output"
        try:
            text = path.read_text(errors="replace")
        except OSError as err:
            raise CommandError(
                f"the command wrote no result file {str(path)!r} ({err.strerror}): "
                f"{command}{_tail(stderr or stdout)}"
            ) from None
        if before is not None and _stat(path) == before:
            # Left by an earlier trial: its number is not this trial's measurement.
            raise CommandError(
                f"the command did not write the result file {str(path)!r} (it is as it "
                f"was before the trial): {command}{_tail(stderr or stdout)}"
            )
        return text, str(path)

    def _number(self, text: str, source: str, command: str) -> float:
        """The measurement in ``text``: the last match of ``pattern``, or the last number."""
        if self.pattern is not None:
            match = _last(re.finditer(self.pattern, text, re.MULTILINE))
            if match is None:
                raise CommandError(
                    f"{source} holds no match of pattern {self.pattern!r}: {command}{_tail(text)}"
                )
            found = match.group(1 if match.re.groups else 0)
            if found is None:  # an optional group that took no part in the match
                raise CommandError(
                    f"{source}: pattern {self.pattern!r} matched, but not its group: "
                    f"{command}{_tail(text)}"
                )
        else:
            # (the minus sign of typeset output, U+2212 before 3.5 was read as 3.5)
            last, text = _last_number(text.replace("\u2212", "-"))
            if last is None:
                raise CommandError(f"{source} holds no number: {command}{_tail(text)}")
            found = last.group()
            tail = re.fullmatch(r"\d+(?:[eE][-+]?\d+)?", found)  # digits only, as after a comma
            if tail and re.search(r"\d,$", text[: last.start()]):
                # 1,5 (a decimal comma) or 1.234,56 (a locale's grouping) is not one number
                # here: the 5 or the 56 alone would be read, silently wrong. (A number with
                # a point or a sign of its own, as a CSV row's 10,0.25 ends, is no such tail.)
                shown = text[: last.end()].rsplit(None, 1)[-1]
                raise CommandError(
                    f"{source}: its last number, {found}, follows a comma ({shown!r}), as a "
                    "locale's decimal comma writes numbers; smacx reads only a decimal point. "
                    "Set LC_ALL=C for the program ([env] in the knob file), or give a pattern: "
                    f"{command}{_tail(text)}"
                )
            if _GLUED.search(text[max(0, last.start() - 3) : last.start()]):
                # 1.234.567, 1'234'567 or 1 234 567 (a locale's grouping), 127.0.0.1, or
                # 0.1234D-02 (Fortran's exponent): only the end would be read, silently wrong
                # (0.567, 567, 0.1, 2.0; an audit's finding).
                shown = text[: last.end()].rsplit(None, 1)[-1]
                raise CommandError(
                    f"{source}: its last number, {found}, is joined to digits before it "
                    f"({shown!r}), as a locale's digit grouping, a version or address, or a "
                    "Fortran D exponent writes numbers; smacx would read only its end. Give a "
                    "pattern that matches the measurement (or set LC_ALL=C for the program, "
                    f"[env] in the knob file): {command}{_tail(text)}"
                )
        found = found.replace("\u2212", "-")
        if _GROUPED.fullmatch(found.strip()):
            found = found.replace(",", "")
        try:
            return float(found)
        except (TypeError, ValueError):
            raise CommandError(
                f"{source}: the match {found!r} of pattern {self.pattern!r} is not a number: "
                f"{command}"
            ) from None

    @contextlib.contextmanager
    def _trial_dir(self, about: dict[str, Any]) -> Iterator[str]:
        """An empty folder of the trial's own: kept under ``trial_root``, else removed after
        the trial (none is made when no template names it). A kept folder ``trial-XXXX`` has
        ``trial-XXXX.json`` beside it, which says whose it is: ``about``, the trial's
        configuration (``config``), ``seed``, ``instance`` and ``budget``."""
        if "{trial_dir}" not in self.command + self.result:
            yield ""
            return
        from smacx.runners import watchdog

        # (a full disk charged each configuration a crash: a run's budget went in a second;
        # a trial_root that is no folder, or not writable, fails every trial alike)
        with as_machine_error("make the trial's folder ({trial_dir})", every=True):
            if self.trial_root is None:
                folder = tempfile.mkdtemp(prefix=watchdog.folder_prefix())
            else:
                Path(self.trial_root).mkdir(parents=True, exist_ok=True)
                folder = tempfile.mkdtemp(prefix="trial-", dir=self.trial_root)
                about_text = json.dumps(about, indent=1, default=str) + "\n"
                Path(f"{folder}.json").write_text(about_text)
        if self.trial_root is not None:
            yield folder
            return
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def _host(self, tries: _HostTries) -> Iterator[str | None]:
        """A host free for this trial, held until it ends (None: run here).

        Hosts are shared between the worker processes of this machine through lock files, so
        no two trials measure on one host at once; a worker waits until one is free. Hosts this
        trial's launcher could not reach (``tries.failed``) are skipped, and so are those
        another trial could not reach in the last ``HOST_DOWN_SECONDS``, unless no other is
        left: a mark is a hint (it may be an earlier run's, or the host back up). Once this
        trial could reach none of the hosts, it tries them all again, less and less often,
        for ``HOST_RETRY_SECONDS`` (at most half of ``remote_timeout``, so that it fails for
        this reason within its time limit), so that a network blip does not fail it.

        Raises:
            CommandError: This trial could reach no host for ``HOST_RETRY_SECONDS``.
        """
        if not self.hosts:
            yield None
            return
        # Within the trial's time limit (the knob file's timeout is also remote_timeout), so
        # that a trial that reaches no host fails for that reason, never as a TIMEOUT.
        retry = HOST_RETRY_SECONDS
        if self.remote_timeout is not None:
            retry = min(retry, self.remote_timeout / 2)
        while True:
            untried = [h for h in self.hosts if h not in tries.failed]
            left = [h for h in untried if not _is_down(h)] or untried
            if not left:
                now = time.monotonic()
                tries.since = now if tries.since is None else tries.since
                if now - tries.since >= retry:
                    tried = "; ".join(f"{h}:{why}" for h, why in tries.failed.items())
                    check = self.launcher.format_map({"host": shlex.quote(self.hosts[0])})
                    raise CommandError(
                        f"the launcher could reach none of the hosts, tried for {retry:g} s "
                        f"(last: {tried}). Check that `{check} true` works."
                    )
                time.sleep(min(tries.pause, retry - (now - tries.since)))
                tries.pause *= 2
                tries.failed.clear()
                continue
            for host in left:
                with _lock_file(_host_file(host, ".lock")) as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        continue
                    yield host  # (the lock goes as the file closes)
                return
            time.sleep(0.05)


@dataclasses.dataclass
class _HostTries:
    """One trial's tries to reach its hosts (see :meth:`CommandTarget._host`)."""

    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # host: launcher's words
    since: float | None = None  # (monotonic) when the trial first could reach no host
    pause: float = 0.5  # seconds before its next round of tries


@contextlib.contextmanager
def _taking_turns(result: Path | None) -> Iterator[None]:
    """Hold a lock on the result file ``result`` while a trial's command runs and its result
    is read: trials of this machine (its workers and processes) that write the same file
    take turns, so none reads another's measurement. None: nothing to share."""
    if result is None:
        yield
        return
    key = hashlib.sha256(str(result.resolve()).encode()).hexdigest()[:24]
    with _lock_file(_private_folder("results") / f"{key}.lock") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if str(result) not in _waited:
                _waited.add(str(result))
                logger.warning(
                    "Trials that write the result file %s take turns: another trial of this "
                    "machine writes it now, and the wait counts towards the trial's timeout. "
                    "Give each trial a file of its own, as result = '{trial_dir}/%s'.",
                    result,
                    result.name,
                )
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # (the lock goes as the file closes)


#: Result files this process waited for its turn on (each is warned of once).
_waited: set[str] = set()


def _private_folder(kind: str) -> Path:
    """This user's folder ``smacx-<kind>-<uid>`` in the temporary folder, for the lock files
    that the workers and processes of this machine share; readable by this user only.

    Raises:
        CommandError: The folder exists but is not this user's own (a link, or another
            user's), so another user could hold or redirect its locks.
    """
    folder = Path(tempfile.gettempdir()) / f"smacx-{kind}-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        got = (
            "a link"
            if stat.S_ISLNK(info.st_mode)
            else f"a folder of user id {info.st_uid}"
            if stat.S_ISDIR(info.st_mode)
            else "a file"
        )
        raise CommandError(
            f"{folder}, which holds this user's locks, must be a folder of this user's own "
            f"(user id {os.getuid()}); got {got}. Remove it: another user may have made it to "
            "hold or redirect the locks."
        )
    if info.st_mode & 0o077:  # (made by an earlier smacx with the umask's mode)
        folder.chmod(0o700)
    return folder


@contextlib.contextmanager
def _lock_file(path: Path) -> Iterator[int]:
    """The descriptor of lock file ``path`` (made if absent; never through a link)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


#: Seconds between two measurements of a command's memory (``CommandTarget.memory_limit``).
MEMORY_POLL_SECONDS = 0.1


def _run(
    command: str,
    cwd: str | None,
    env: Mapping[str, str] | None,
    memory_limit: float | None,
    keep_alive: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the shell, its output captured, as ``subprocess.run`` does; with
    ``memory_limit`` (MB), measure its processes' memory while it runs. With ``keep_alive``,
    its input is a pipe that carries the line ``_ALIVE`` and stays open until it has ended
    (closed by the system if this process dies): what a command on a host watches for.

    In a trial that runs in the run's own process (no time or memory limit of the
    scenario's), the command's processes carry a token of their own and the watchdog ends
    them if the run dies (``kill -9``): they would run on beside the trial's next run. A trial
    under limits runs in a process the watchdog guards already, whose token they inherit.

    Raises:
        MemoryError: Its processes held more than ``memory_limit`` MB together: they have
            been killed (the message ends with what the command printed last).
    """
    from smacx.runners import watchdog

    with as_machine_error("start the command"):  # (the watchdog's pipe, its messages)
        guarded = "SMACX_TRIAL" not in os.environ and watchdog.start()
        token = watchdog.new_token() if guarded else None
        if token is not None:
            # (known to the watchdog before the command starts: a run killed meanwhile ends it)
            watchdog.guard(token)
            env = {**(os.environ if env is None else env), "SMACX_TRIAL": token}
    # What the command's processes carry in their environment (a trial under limits passes
    # its own on): the mark of those that may be killed for holding its output.
    mark = token if token is not None else os.environ.get("SMACX_TRIAL")
    with as_machine_error("start the command"):
        alive = os.pipe() if keep_alive else None
    try:
        if alive is not None:
            # (written before the launcher starts, while this process holds the pipe's read
            # end: a launcher that ended at once made a late write raise SIGPIPE, which kills
            # a process whose SIGPIPE is at its default)
            os.write(alive[1], f"{_ALIVE}\n".encode())
        try:
            with as_machine_error("start the command"):
                proc = subprocess.Popen(
                    command,
                    shell=True,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL if alive is None else alive[0],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                    # A process group of its own: a script's cleanup `trap 'kill 0' EXIT`
                    # signals its group, which was the run's (and the shell script around
                    # it). An interrupt of the run ends the command (_watched), as does the
                    # watchdog when the run dies.
                    start_new_session=True,
                )
        finally:
            if alive is not None:
                os.close(alive[0])
        return _watched(proc, command, memory_limit, mark)
    finally:
        if alive is not None:
            os.close(alive[1])


def _watched(
    proc: subprocess.Popen[str], command: str, memory_limit: float | None, mark: str | None
) -> subprocess.CompletedProcess[str]:
    """:func:`_run`'s wait for ``proc``: on an interrupt, its processes are killed."""
    import psutil

    with proc:
        root = None
        with contextlib.suppress(psutil.NoSuchProcess):  # (not reaped yet: it cannot be)
            root = psutil.Process(proc.pid)
        try:
            return _measured(proc, root, command, memory_limit, mark)
        except BaseException:  # (an interrupt: the command ends, as with subprocess.run)
            if proc.poll() is None:
                if root is not None:
                    kill_tree(root)
                proc.kill()
            # and what is left of its group (a session of its own): a background job, which
            # ignores SIGINT, outlived its shell that ended at the interrupt
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise


def _measured(
    proc: subprocess.Popen[str],
    root: Any,
    command: str,
    memory_limit: float | None,
    mark: str | None,
) -> subprocess.CompletedProcess[str]:
    """Wait for ``proc``'s output (``root``: its ``psutil.Process``), and at most
    ``_OUTPUT_GRACE_SECONDS`` beyond the end of its shell (see :func:`_without_holders`).
    With ``memory_limit``, measure its processes' memory every ``MEMORY_POLL_SECONDS``, or
    less often where a measurement takes long (it reads every process of the machine): the
    measuring takes at most about 2% of a core."""
    peak, interval = 0.0, min(MEMORY_POLL_SECONDS, _OUTPUT_POLL_SECONDS)
    ended: float | None = None  # (when the shell was first seen ended, output still open)
    output = _Output(proc)
    while True:
        try:
            closed = output.read(timeout=interval)
        except KeyboardInterrupt as stop:
            # The command's group (a session of its own) hears of the run's Ctrl-C or SIGTERM
            # (smacx's Terminated) from here, and gets a moment to clean up (a trap that
            # cancels a job a wrapper started) before it is killed.
            sent = signal.SIGTERM if str(stop) == "SIGTERM" else signal.SIGINT
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, sent)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_SIGINT_GRACE_SECONDS)
            raise
        if closed:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=interval)
                return output.result(command, proc.returncode)
        elif proc.poll() is not None:
            ended = time.perf_counter() if ended is None else ended
            if time.perf_counter() - ended >= _OUTPUT_GRACE_SECONDS:
                return _without_holders(proc, output, command, mark)
        if memory_limit is None:
            continue
        start = time.perf_counter()
        held = _resident_mb(root) if root is not None else 0.0
        interval = max(MEMORY_POLL_SECONDS, 50.0 * (time.perf_counter() - start))
        peak = max(peak, held)
        if held > memory_limit:
            break
    assert root is not None and memory_limit is not None
    kill_tree(root)
    if not output.read(timeout=2.0):  # a program that left the tree holds a pipe
        proc.kill()
    out, err = output.text(0), output.text(1)
    raise MemoryError(
        f"the command's processes held {peak:.0f} MB of memory together, over the "
        f"limit of {memory_limit:g} MB, and were killed: {command}{_tail(err or out)}"
    )


#: A command's exit statuses that a stop signal gives: the shell killed by it, or ending with
#: the status of a program it killed.
_STOP_STATUSES = frozenset(code for sig in STOP_SIGNALS for code in (-int(sig), 128 + int(sig)))

#: Seconds a command's output may stay open after its shell has ended; then the processes
#: that hold it (what the command left in the background, ``sleep 60 & echo 1``) are killed.
_OUTPUT_GRACE_SECONDS = 0.5

#: Seconds a command sent the run's Ctrl-C (or SIGTERM) has to end on its own before it is
#: killed.
_SIGINT_GRACE_SECONDS = 1.0

#: Seconds between two looks at whether a command's shell has ended while its output is open.
_OUTPUT_POLL_SECONDS = 0.1


class _Output:
    """A command's output (stdout, stderr), read as it comes, of which only the last
    ``KEPT_OUTPUT`` bytes of each are kept: a benchmark that printed a 300 MB log held it all
    in this process (about 1 GB at its peak), beyond any limit set for the command (an audit).
    The result is read from what is kept; an error quotes its last lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        # (poll holds no descriptor of its own, which an interrupted trial would leave open)
        self._selector: selectors.BaseSelector = (
            selectors.PollSelector()
            if hasattr(selectors, "PollSelector")
            else selectors.SelectSelector()
        )
        self._kept = [bytearray(), bytearray()]
        for which, stream in enumerate((proc.stdout, proc.stderr)):
            if stream is not None:
                self._selector.register(stream.fileno(), selectors.EVENT_READ, which)

    def read(self, timeout: float | None) -> bool:
        """Read what comes for up to ``timeout`` seconds (None: to the end); whether both
        pipes are closed (every writer gone)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._selector.get_map():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            for key, _ in self._selector.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    self._selector.unregister(key.fd)
                    continue
                kept = self._kept[key.data]
                kept += data
                if len(kept) > 2 * KEPT_OUTPUT:
                    del kept[:-KEPT_OUTPUT]
        self._selector.close()
        return True

    def text(self, which: int) -> str:
        """What is kept of stdout (0) or stderr (1), as text mode would give it (undecodable
        bytes replaced, any line end a newline)."""
        data = bytes(self._kept[which][-KEPT_OUTPUT:])
        text = data.decode(errors="replace")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def result(self, command: str, code: int) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, code, self.text(0), self.text(1))


#: Bytes of a command's stdout, and of its stderr, kept to read its result and quote its
#: errors: the end of what it printed.
KEPT_OUTPUT = 4 << 20


def _without_holders(
    proc: subprocess.Popen[str], output: _Output, command: str, mark: str | None
) -> subprocess.CompletedProcess[str]:
    """The result of ``proc``, whose shell has ended while processes it started in the
    background still hold its output open (which ``communicate`` would wait for): kill those
    processes and their descendants, then read the rest of the output.

    Only processes that hold a pipe's writing end and carry ``mark`` (``SMACX_TRIAL``, which
    the command's processes inherit) count: a process forked meanwhile by another thread of
    this one (another trial's) may hold a copy of the pipes too. Where the system does not
    show who holds a pipe (no ``/proc``), or there is no mark, the output is read when its
    holders let go of it, as before."""
    import psutil

    holders = _pipe_holders([proc.stdout, proc.stderr], mark) if mark else []
    for pid in holders:
        with contextlib.suppress(psutil.Error):
            kill_tree(psutil.Process(pid))
    if holders:
        logger.debug("Killed %d process(es) left holding the output of: %s", len(holders), command)
    output.read(timeout=None)
    return output.result(command, proc.wait())


def _pipe_holders(streams: Sequence[Any], mark: str) -> list[int]:
    """Pids of this user's other processes that hold the writing end of a pipe that
    ``streams`` read from (their ``fileno``) and carry ``SMACX_TRIAL=mark`` in their
    environment; empty where ``/proc`` does not show open files."""
    inodes = set()
    for stream in streams:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            inodes.add(f"pipe:[{os.fstat(stream.fileno()).st_ino}]")
    if not inodes or not os.path.isdir("/proc/self/fd"):
        return []
    marked = f"SMACX_TRIAL={mark}".encode()
    holders = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:  # (another user's, or gone)
            continue
        with fds:
            writes = any(_writes_to(entry.name, fd.name, fd.path, inodes) for fd in fds)
        if writes:
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as env:
                if marked in env.read().split(b"\0"):
                    holders.append(int(entry.name))
    return holders


def _writes_to(pid: str, fd: str, path: str, inodes: set[str]) -> bool:
    """Whether descriptor ``fd`` of process ``pid`` (at ``path`` in ``/proc``) is open for
    writing on one of the pipes ``inodes``."""
    try:
        if os.readlink(path) not in inodes:
            return False
        with open(f"/proc/{pid}/fdinfo/{fd}") as info:
            flags = next(line for line in info if line.startswith("flags:")).split()[1]
    except (OSError, StopIteration, IndexError):
        return False
    return int(flags, 8) & 0o3 in (0o1, 0o2)  # O_WRONLY or O_RDWR


def _resident_mb(root: Any) -> float:
    """Megabytes that process ``root`` (a ``psutil.Process``) and its descendants hold
    resident in RAM (pages they share count once per process)."""
    import psutil

    total = 0
    try:
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for process in family:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total / 2**20


def kill_tree(root: Any, keep_root: bool = False) -> int:
    """Kill process ``root`` (a ``psutil.Process``) and its descendants (only those, with
    ``keep_root``), stopped first so that none forks a new one between the look and the
    kill; returns how many were killed."""
    import psutil

    stopped: dict[int, Any] = {}
    while True:
        try:
            family = [*([] if keep_root else [root]), *root.children(recursive=True)]
        except psutil.Error:
            family = list(stopped.values())
        new = [p for p in family if p.pid not in stopped]
        if not new:
            break
        for process in new:
            stopped[process.pid] = process
            with contextlib.suppress(psutil.Error):
                process.suspend()
    for process in stopped.values():
        with contextlib.suppress(psutil.Error):
            process.kill()
    return len(stopped)


#: Seconds a host that a launcher could not reach is left alone by the other trials.
HOST_DOWN_SECONDS = 60.0

#: Seconds a trial that could reach none of the hosts tries them again before it fails.
HOST_RETRY_SECONDS = 30.0

#: Printed on stderr by a trial's command on a host before it runs (see CommandTarget._command).
_REACHED = "smacx: the command reached its host"

#: The first line a trial on a host sends it: the connection's input that ends after it tells
#: that the connection went away (see CommandTarget._command).
_ALIVE = "smacx-trial-alive"


def _host_file(host: str, suffix: str) -> Path:
    """A file of ``host`` in this user's folder of host locks (shared by the workers of this
    machine): ``.lock`` held while a trial runs there, ``.down`` when it was unreachable."""
    return _private_folder("hosts") / (re.sub(r"[^A-Za-z0-9_.@-]", "_", host) + suffix)


def _mark(host: str, down: bool) -> None:
    """Record that a launcher could not reach ``host`` just now, or that it could."""
    file = _host_file(host, ".down")
    if down:
        file.touch()
    else:
        file.unlink(missing_ok=True)


def _is_down(host: str) -> bool:
    """Whether a launcher could not reach ``host`` in the last ``HOST_DOWN_SECONDS``."""
    try:
        return time.time() - _host_file(host, ".down").stat().st_mtime < HOST_DOWN_SECONDS
    except OSError:
        return False


@dataclasses.dataclass(frozen=True)
class Workload:
    """A knob file, read: the space, the command target and the run's settings.

    Attributes:
        configspace: The knobs.
        target: The command to run per trial.
        n_trials: Trials of the run (``n_trials`` of the file). None, when the file gives
            none: 100, or no limit when the run has a ``walltime`` (the file's, or one that
            :meth:`scenario` is given).
        walltime: Seconds the whole run may take (the file's ``walltime``; None: no limit).
        repeats: Runs of each configuration (noisy measurements are averaged over them).
        timeout: Seconds a run may take before it is stopped (None: no limit).
        workers: Trials run at once on this machine (by default one per host, or 1; at most
            one per host).
        name: The run's name (the knob file's stem).
        instances: Problem instances the command is raced on (``{instance}``), as an
            algorithm configurator races a solver over its benchmark set; empty: none.
        baseline: Whether a knob gives its ``default`` (the setting in use, say), or the
            space is a ConfigSpace file, whose every hyperparameter has one: the default
            configuration is then measured first (see :meth:`initial_design`).
        race: How configurations are compared across instances (and repeats): ``"racing"``,
            a challenger on more and more of the incumbent's, or ``"hyperband"``, brackets
            that start many configurations on one instance and keep the best third of each
            stage for three times as many (see :meth:`intensifier`).
        aggregate: How racing combines a configuration's repeated measurements: ``"mean"``,
            or ``"median"``, which one slow outlier (a timing disturbed by another program)
            does not move.
        budget: The lowest and highest ``{budget}`` (a cheap low fidelity, such as fewer
            iterations of a benchmark) that Hyperband runs configurations at; None: none.
    """

    configspace: ConfigurationSpace
    target: CommandTarget
    n_trials: int | None
    repeats: int
    timeout: float | None
    workers: int
    name: str
    instances: tuple[str, ...] = ()
    baseline: bool = False
    race: Literal["racing", "hyperband"] = "racing"
    aggregate: Literal["mean", "median"] = "mean"
    budget: tuple[float, float] | None = None
    walltime: float | None = None

    def scenario(self, **overrides: Any) -> Scenario:
        """The :class:`~smacx.Scenario` of the workload; ``overrides`` replace its fields
        (``output_directory``, ``n_trials``, ``seed``, ...)."""
        from smacx.scenario import Scenario

        fields: dict[str, Any] = {
            "name": self.name,
            "n_trials": 100 if self.n_trials is None else self.n_trials,
            "deterministic": self.repeats == 1,
            "trial_walltime_limit": self.timeout,
            "n_workers": self.workers,
        }
        if self.walltime is not None:
            fields["walltime_limit"] = self.walltime
        if self.n_trials is None and overrides.get("walltime_limit", self.walltime) is not None:
            fields["n_trials"] = None  # (a run bounded by time alone)
        if self.instances:
            fields["instances"] = list(self.instances)
        if self.budget is not None:
            fields["min_budget"], fields["max_budget"] = self.budget
        fields.update(overrides)
        result = self.target.result
        if fields["n_workers"] > 1 and result != "stdout" and "{trial_dir}" not in result:
            # Trials writing one file would take turns (see _taking_turns), or wait for one.
            raise ScenarioError(
                f"result must name a file of each trial's own when several trials run at "
                f"once (workers = {fields['n_workers']}); got {result!r}, which two trials "
                "may share. Have the command write it into its trial's folder, as result = "
                "'{trial_dir}/" + Path(result).name + "'."
            )
        hosts = self.target.hosts
        if hosts and fields["n_workers"] > len(hosts):
            # A worker without a host waits for one, and the wait counts towards the timeout:
            # trials would end TIMEOUT that never ran long.
            raise ScenarioError(
                f"workers must be at most the number of hosts ({len(hosts)}: one trial per host "
                f"at a time); got {fields['n_workers']}. Add hosts, or use fewer workers."
            )
        return Scenario(self.configspace, **fields)

    def initial_design(self) -> InitialDesign | None:
        """The default configuration measured first, as the baseline, when a knob gives its
        ``default`` or the space is a ConfigSpace file; None (the preset's design)
        otherwise."""
        from smacx.initial_design import InitialDesign

        if not self.baseline:
            return None
        return InitialDesign(additional_configs=[self.configspace.get_default_configuration()])

    def intensifier(self) -> Intensifier | Hyperband:
        """Racing that runs each configuration ``repeats`` times before comparing it, on as
        many instances, and at most on every instance (``repeats`` times each, or 3 times
        when it is above 1); or, with ``race = "hyperband"``, Hyperband over the instances
        and ``repeats`` seeds of each (``Hyperband(n_seeds=repeats)``)."""
        from smacx.intensifier import Intensifier
        from smacx.multifidelity import Hyperband

        if self.race == "hyperband":
            return Hyperband(n_seeds=self.repeats)

        # One run per configuration and instance when the measurement is not noisy: more
        # would only repeat it (and the intensifier warns that a deterministic scenario
        # cannot).
        calls = 1 if self.repeats == 1 else max(self.repeats, 3)
        return Intensifier(
            aggregate=self.aggregate,
            min_samples_per_config=self.repeats,
            max_config_calls=calls * max(len(self.instances), 1),
        )


_FILE_KEYS = {
    "command", "result", "pattern", "goal", "repeats", "timeout", "memory", "n_trials", "walltime",
    "workers",
    "hosts", "launcher", "workdir", "env", "knobs", "space", "name", "instances", "race",
    "aggregate", "budget", "trial_root",
}  # fmt: skip


def read_knob_table(file: Path) -> dict[str, Any]:
    """The keys of knob file ``file`` (TOML, or JSON when its name ends in ``.json``), not yet
    checked.

    Raises:
        ScenarioError: The file cannot be read, is not valid TOML or JSON, or is no table.
    """
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise ScenarioError(f"knob file {str(file)!r}: cannot read it ({err.strerror}).") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)  # (as Windows editors write it)
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(raw, object_pairs_hook=_unique_keys)
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - Python 3.10
                import tomli as tomllib
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        kind = "JSON" if file.suffix.lower() == ".json" else "TOML"
        raise ScenarioError(f"knob file {str(file)!r} is not valid {kind}: {err}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"knob file {str(file)!r}: expected a table of keys; got {data!r:.80}.")
    return data


def _line_of(file: Path, key: str, knob: bool = False) -> str:
    """`` (line N)`` of the first line of knob file ``file`` that gives ``key`` (``key =``
    in TOML, bare or quoted; ``"key":`` in JSON), for an error about its value; empty when
    none does (TOML's parser, unlike its syntax errors, gives no positions). A ``knob`` is
    looked for after the line that opens the knobs (``[knobs]``, ``"knobs":``): a knob
    named ``timeout`` was said to be on the line of the file's own ``timeout``."""
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    name = re.escape(key)
    given = re.compile(
        rf"""^\s*(?:{name}|"{name}"|'{name}')\s*[=:]|"{name}"\s*:"""
        rf"""|^\s*\[\s*knobs\s*\.\s*(?:{name}|"{name}"|'{name}')\s*\]"""  # ([knobs.x])
    )
    opens = re.compile(r"""^\s*\[\s*["']?knobs["']?\s*[\].]|"knobs"\s*:""")
    start = 0
    if knob:
        start = next((i for i, line in enumerate(lines) if opens.search(line)), 0)
    for number, line in enumerate(lines[start:], start + 1):
        if given.search(line):
            return f" (line {number})"
    return ""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's keys as a dict, refusing a key given twice (the last one would win
    without a word; TOML refuses it too)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} is given twice in one object")
        data[key] = value
    return data


#: What a knob file that asks for several measurements is told.
ONE_MEASUREMENT = (
    "smacx run optimizes one measurement. For several objectives, write a Python target that "
    "runs the program and returns a dict of them, with Scenario(objectives=[...]) (see "
    "docs/usage.rst), or combine them into one number in the command."
)


def load_workload(path: str | os.PathLike[str]) -> Workload:
    """Read a knob file (TOML, or JSON when it ends in ``.json``); see the module's docs.

    Relative paths in it (``workdir``, ``space``) are relative to the file's folder; a
    command runs in ``workdir``, by default that folder.

    Raises:
        ScenarioError: The file cannot be read, or a key holds what it may not; the message
            names the key, what was expected and what was given.
    """
    file = Path(path)
    data = read_knob_table(file)

    def fail(key: str, expected: str) -> ScenarioError:
        return ScenarioError(
            f"knob file {str(file)!r}{_line_of(file, key)}: {key} must be {expected}; got "
            f"{data.get(key)!r:.200}."
        )

    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        several = bool(set(unknown) & {"objectives", "objective", "measurements", "metrics"})
        raise ScenarioError(
            f"knob file {str(file)!r}: unknown key(s) {unknown}; expected some of "
            f"{sorted(_FILE_KEYS)} (knobs go in the [knobs] table)."
            + (f" {ONE_MEASUREMENT}" if several else "")
        )
    if not isinstance(data.get("command"), str):
        raise fail("command", "the command template, a string")
    here = file.resolve().parent
    goal = data.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        several = isinstance(goal, list) or isinstance(data.get("pattern"), list)
        raise ScenarioError(
            f"{fail('goal', repr('minimize') + ' or ' + repr('maximize'))}"
            + (f" {ONE_MEASUREMENT}" if several else "")
        )
    for key in ("repeats", "n_trials", "workers"):
        if key in data and (type(data[key]) is not int or data[key] < 1):
            raise fail(key, "a whole number >= 1")
    walltime = data.get("walltime")
    if walltime is not None and (
        type(walltime) not in (int, float) or not math.isfinite(walltime) or walltime <= 0
    ):
        raise fail("walltime", "seconds the whole run may take, a number > 0")
    timeout = data.get("timeout")
    if timeout is not None and (
        type(timeout) not in (int, float) or not math.isfinite(timeout) or timeout < 1
    ):
        raise fail("timeout", "seconds, a number >= 1 (no shorter limit is enforced)")
    memory = data.get("memory")
    if memory is not None and (
        type(memory) not in (int, float) or not math.isfinite(memory) or memory <= 0
    ):
        raise fail("memory", "megabytes, a number > 0")
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise fail("hosts", "a list of host names")
    if hosts and memory is not None:
        raise fail(
            "memory",
            "absent when the command runs on hosts (their memory is not measured from this "
            "machine: limit it there, e.g. with `ulimit -v` in the command)",
        )
    env = data.get("env", {})
    if not isinstance(env, dict) or not all(
        re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) and isinstance(v, str) for k, v in env.items()
    ):
        raise fail("env", "a table of strings, named as environment variables (A-Z, 0-9, _)")
    instances = data.get("instances", [])
    if (
        not isinstance(instances, list)
        or not all(isinstance(i, str) and i for i in instances)
        or len(set(instances)) != len(instances)
    ):
        raise fail("instances", "a list of distinct, non-empty instance names")
    for key in ("result", "pattern", "launcher", "workdir", "name", "trial_root"):
        if key in data and not isinstance(data[key], str):
            several = key in ("result", "pattern") and isinstance(data[key], list)
            raise ScenarioError(
                str(fail(key, "a string")) + (f" {ONE_MEASUREMENT}" if several else "")
            )
    if "name" in data and not is_run_name(data["name"]):
        raise fail("name", RUN_NAME)
    if "trial_root" in data and hosts:
        raise fail("trial_root", "left out with hosts: {trial_dir} is a folder of this machine")
    # (by the templates' fields: `${{instance}}`, a shell variable, held the text
    # "{instance}", and a file of instances the command never received was accepted)
    where = f"knob file {str(file)!r}{_line_of(file, 'command')}: command"
    used = set(_placeholders(data["command"], where))
    if isinstance(data.get("result"), str):
        where = f"knob file {str(file)!r}{_line_of(file, 'result')}: result"
        used |= set(_placeholders(data["result"], where))
    if instances and "instance" not in used:
        raise fail("instances", "used as {instance} in the command when given")
    budget = data.get("budget")
    uses_budget = "budget" in used
    if budget is not None:
        if (
            not isinstance(budget, list)
            or len(budget) != 2
            or not all(type(b) in (int, float) and math.isfinite(b) for b in budget)
            or not 0 < budget[0] < budget[1]
        ):
            raise fail("budget", "[low, high], two numbers with 0 < low < high")
        if budget[1] < 3 * budget[0]:
            raise fail(
                "budget",
                "[low, high] with high at least 3 times low: Hyperband keeps the best third of "
                "each stage for 3 times the budget",
            )
        if not uses_budget:
            raise fail("budget", "used as {budget} in the command when given")
        if instances:
            raise fail(
                "budget",
                "absent with instances: Hyperband races either on budgets or on instances",
            )
    elif uses_budget:
        raise ScenarioError(
            f"knob file {str(file)!r}: the command uses {{budget}}, but the file gives no "
            "budget range; add budget = [low, high] (say, iterations or seconds of a "
            "benchmark), which Hyperband runs configurations at."
        )
    race = data.get("race", "hyperband" if budget is not None else "racing")
    if race not in ("racing", "hyperband"):
        raise fail("race", "'racing' or 'hyperband'")
    if budget is not None and race != "hyperband":
        raise fail("race", "'hyperband' (the default) with a budget range")
    if (
        race == "hyperband"
        and budget is None
        and max(len(instances), 1) * data.get("repeats", 1) < 2
    ):
        raise fail(
            "race",
            "'racing' without instances or repeats: Hyperband races on instances (and "
            "repeats), and needs more than one run of a configuration to halve",
        )
    aggregate = data.get("aggregate", "mean")
    if aggregate not in ("mean", "median"):
        raise fail("aggregate", "'mean' or 'median'")
    if aggregate != "mean" and (race == "hyperband" or budget is not None):
        raise fail(
            "aggregate",
            "'mean' with a budget range or race = 'hyperband' (Hyperband compares means)",
        )
    if aggregate == "median" and data.get("repeats", 1) == 2:
        warn_caller(
            f"knob file {str(file)!r}: aggregate = 'median' with repeats = 2 compares each "
            "configuration by the median of its first 2 runs, which is their mean: one "
            "disturbed timing moves it. Use repeats = 3 or more for the median to resist one."
        )
    if ("knobs" in data) == ("space" in data):
        raise ScenarioError(
            f"knob file {str(file)!r}: expected either a [knobs] table or space = "
            "'<a ConfigSpace JSON file>'; got " + ("both." if "knobs" in data else "neither.")
        )
    if "space" in data:
        space = _space_from_json(here, data["space"], file)
    else:
        space = _space_from_knobs(data["knobs"], file)
    # Here, relative to the knob file; on hosts, a remote folder (none: the login folder).
    workdir = data.get("workdir") if hosts else str(here / _home(data.get("workdir", "."), fail))
    # (relative to the knob file, as workdir is)
    trial_root = data.get("trial_root")
    if trial_root is not None:
        trial_root = str(here / _home(trial_root, fail, "trial_root"))
    try:
        target = CommandTarget(
            command=data["command"],
            result=data.get("result", "stdout"),
            pattern=data.get("pattern"),
            maximize=goal == "maximize",
            hosts=tuple(hosts),
            launcher=data.get("launcher", CommandTarget.launcher),
            workdir=workdir,
            remote_timeout=None if timeout is None else float(timeout),
            env=env,
            memory_limit=None if memory is None else float(memory),
            whole_budgets=budget is not None and all(type(b) is int for b in budget),
            trial_root=trial_root,
        )
        target.check(space, instances)
    except ScenarioError as err:
        raise ScenarioError(f"knob file {str(file)!r}: {err}") from None
    return Workload(
        configspace=space,
        target=target,
        n_trials=data.get("n_trials"),
        walltime=None if walltime is None else float(walltime),
        repeats=data.get("repeats", 1),
        timeout=None if timeout is None else float(timeout),
        workers=data.get("workers", max(len(hosts), 1)),
        name=data.get("name", file.stem),
        instances=tuple(instances),
        baseline="space" in data
        or any(isinstance(spec, dict) and "default" in spec for spec in data["knobs"].values()),
        race=race,
        aggregate=aggregate,
        budget=None if budget is None else (float(budget[0]), float(budget[1])),
    )


def _home(path: str, fail: Callable[[str, str], ScenarioError], key: str = "workdir") -> Path:
    """A knob file's ``path`` with ``~`` (``~user``) as the home folder, as the shell and
    ``--output-dir`` read it, not a folder named ``~``.

    Raises:
        ScenarioError: Of ``fail``, for ``key``: a ``~user`` whose home is unknown.
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:  # (no such user, or no home folder: a traceback, said a review)
        raise fail(key, "a path whose ~ names a user with a home folder") from None


def _space_from_json(here: Path, name: object, file: Path) -> ConfigurationSpace:
    from ConfigSpace import ConfigurationSpace

    if not isinstance(name, str):
        raise ScenarioError(
            f"knob file {str(file)!r}: space must be the path of a ConfigSpace JSON file; got "
            f"{name!r}."
        )
    path = here / _home(
        name,
        lambda key, expected: ScenarioError(
            f"knob file {str(file)!r}: space must be {expected}; got {name!r}."
        ),
        "space",
    )
    try:
        return ConfigurationSpace.from_json(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ScenarioError(
            f"knob file {str(file)!r}: space {str(path)!r} is not a space saved by ConfigSpace "
            f"(ConfigurationSpace.to_json): {type(err).__name__}: {err}"
        ) from None


def _space_from_knobs(knobs: object, file: Path) -> ConfigurationSpace:
    """The space of a ``[knobs]`` table: ``name = {type = ..., ...}`` per knob."""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        Float,
        Integer,
        OrdinalHyperparameter,
    )

    if not isinstance(knobs, dict) or not knobs:
        raise ScenarioError(
            f"knob file {str(file)!r}: [knobs] must hold at least one knob, as "
            f"name = {{ type = 'float', range = [0, 1] }}; got {knobs!r:.200}."
        )
    space = ConfigurationSpace()
    allowed = {
        "float": {"type", "range", "log", "default"},
        "integer": {"type", "range", "log", "default"},
        "categorical": {"type", "choices", "default"},
        "ordinal": {"type", "sequence", "default"},
    }
    for name, spec in knobs.items():

        def fail(expected: str, got: object, name: str = name) -> ScenarioError:
            return ScenarioError(
                f"knob file {str(file)!r}{_line_of(file, name, knob=True)}: knob {name!r}: "
                f"expected {expected}; got {got!r:.200}."
            )

        if not isinstance(spec, dict):
            raise fail("a table such as { type = 'float', range = [0, 1] }", spec)
        kind = spec.get("type")
        if kind not in allowed:
            raise fail(f"type one of {sorted(allowed)}", kind)
        extra = sorted(set(spec) - allowed[kind])
        if extra:
            raise fail(f"only the keys {sorted(allowed[kind])} for a {kind} knob", extra)
        # (ConfigSpace takes no default=None for every kind: the keyword only when given)
        default: dict[str, Any] = {"default": spec["default"]} if "default" in spec else {}
        try:
            if kind in ("float", "integer"):
                bounds = spec.get("range")
                if kind == "integer" and isinstance(bounds, list):
                    # 1e3 or 64.0 in a file is a whole number all the same.
                    bounds = [int(b) if type(b) is float and b.is_integer() else b for b in bounds]
                number = (int,) if kind == "integer" else (int, float)
                if (
                    not isinstance(bounds, list)
                    or len(bounds) != 2
                    or not all(type(b) in number for b in bounds)
                    or not bounds[0] < bounds[1]
                ):
                    raise fail(
                        f"range = [low, high], two {kind} numbers with low < high",
                        spec.get("range"),
                    )
                # Values travel as floats: beyond 2**53 whole numbers are no longer exact,
                # and an infinite range (or width) has no point to sample.
                if kind == "integer" and not all(abs(b) <= _LARGEST for b in bounds):
                    raise fail(f"a range within [-2**53, 2**53] ({_LARGEST:,})", bounds)
                if not all(abs(b) <= sys.float_info.max for b in bounds) or not math.isfinite(
                    float(bounds[1]) - float(bounds[0])
                ):
                    raise fail("a finite range, of a finite width", bounds)
                log = spec.get("log", False)
                if not isinstance(log, bool):
                    raise fail("log = true or false", log)
                if log and bounds[0] <= 0:
                    raise fail("a range above 0 for log = true", bounds)
                make = Integer if kind == "integer" else Float
                space.add(make(name, (bounds[0], bounds[1]), log=log, **default))
            elif kind == "categorical":
                choices = spec.get("choices")
                if (
                    not isinstance(choices, list)
                    or len(choices) < 1
                    # (as the command sees them: true and "true" are one word)
                    or len(set(map(_text, choices))) != len(choices)
                ):
                    raise fail("choices = [...], a list of distinct values", choices)
                if not all(_is_scalar(c) for c in choices):
                    raise fail("choices that are strings, numbers or booleans", choices)
                space.add(Categorical(name, choices, **default))
            else:
                sequence = spec.get("sequence")
                if (
                    not isinstance(sequence, list)
                    or len(sequence) < 1
                    or len(set(map(_text, sequence))) != len(sequence)  # (as for choices)
                ):
                    raise fail("sequence = [...], the distinct values in order", sequence)
                if not all(_is_scalar(c) for c in sequence):
                    raise fail("a sequence of strings, numbers or booleans", sequence)
                ordinal = {"default_value": spec["default"]} if "default" in spec else {}
                space.add(OrdinalHyperparameter(name, sequence, **ordinal))
        except ScenarioError:  # (one of ours, above: it says what was expected already)
            raise
        except (ValueError, TypeError) as err:  # ConfigSpace's own checks (e.g. the default)
            raise fail("a knob ConfigSpace accepts", f"{type(err).__name__}: {err}") from None
    return space


#: The largest magnitude of a numeric knob's bounds: 2**53, the last whole number a float
#: holds exactly.
_LARGEST = 2**53


def _is_scalar(value: object) -> bool:
    """Whether a categorical choice or ordinal value from a knob file is one a command can
    take as a word (a string, number or boolean; not a list or table)."""
    return isinstance(value, (str, int, float, bool))


def _as_launched() -> dict[str, str]:
    """This process's environment, as the run's process had it: on a worker of smacx's own
    dask cluster, the variables dask's nanny sets for Python workers (``OMP_NUM_THREADS=1``
    and the other thread counts, ``MALLOC_TRIM_THRESHOLD_``) are put back as they were, so
    that what a command measures does not depend on ``--workers``."""
    env = dict(os.environ)
    saved = env.pop(SPAWN_ENVIRON, None)
    if saved is not None:
        with contextlib.suppress(ValueError, AttributeError):
            for name, value in json.loads(saved).items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = str(value)
    return env


def _needs_quotes(value: str) -> bool:
    """Whether a value is not one shell word as it is (``shlex.quote`` changes it)."""
    return shlex.quote(value) != value


def _inside_quotes(field: str, value: str) -> str:
    """Why a value of a placeholder written inside quotes (or a here-document) cannot be
    run."""
    return (
        f"CommandTarget.command has {{{field}}} inside quotes, and its value {value!r} needs "
        "quoting: the shell would read the quotes smacx puts around each value as its own, "
        "so the value would not reach the program as one word, and its characters would be "
        f"read as shell syntax (they could run commands). Write {{{field}}} outside quotes: "
        "each placeholder is one quoted shell word already. (The body of a here-document, "
        "<<END, counts as inside quotes: it expands $(...) and backticks whatever quotes are "
        "in it; write such a file with printf '%s\\n' ... > file instead.)"
    )


def _placeholders(template: str, what: str, risky: dict[str, set[str]] | None = None) -> list[str]:
    """The field names of a ``str.format`` template.

    Args:
        template: The template.
        what: What it is, for messages.
        risky: Filled with the ways the shell may mangle each field, by field (any of a use of
            it): ``"quotes"`` (inside quotes: a value quoted for the shell gets quotes in it),
            ``"$"`` (right after an unescaped ``$``: the shell reads ``$`` and the value as a
            variable, ``$14``), ``"#"`` (in a comment).

    Raises:
        ScenarioError: It is not a valid template, or has a positional or indexed field, or
            one with a format spec or conversion.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ScenarioError(
            f"{what} is not a valid template ({err}): {template!r}. Write literal braces as "
            "{{ and }}."
        ) from None
    fields = []
    risky = {} if risky is None else risky
    state = ""  # where the shell is when the template's text has got here (see _shell_state_after)
    for index, (before, field, spec, conversion) in enumerate(parsed):
        state = _shell_state_after(before, state, first=index == 0)
        where = _innermost(state)
        if field is None:
            continue
        if not _PLACEHOLDER.fullmatch(field):
            raise ScenarioError(
                f"{what} has the placeholder {{{field}}}; expected {{name}} of a knob or of "
                f"{list(TRIAL_FIELDS)}. Write literal braces as {{{{ and }}}}."
            )
        if spec or conversion:
            written = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            how = (
                f"a shell's own braces are doubled, as ${{{written}}}"
                if before.endswith("$")
                else f"a number is formatted in the command, as $(printf '%.3f' {{{field}}})"
            )
            raise ScenarioError(
                f"{what} has the placeholder {written}; expected {{{field}}} with no format "
                f"spec or conversion: values reach the command as the text of the value, and "
                f"{how}."
            )
        fields.append(field)
        heredoc = where.startswith("<")
        if (where in ("", '"') or heredoc) and re.search(r"(?<!\\)\$$", before):
            risky.setdefault(field, set()).add("$")
        if where in ("'", '"') or heredoc:  # (also after a $: "${x}" is quoted all the same)
            risky.setdefault(field, set()).add("quotes")
        elif where == "#":
            risky.setdefault(field, set()).add("#")
    return fields


def _shell_state_after(text: str, state: str, first: bool) -> str:
    """Where the shell is after ``text`` of a template, from ``state`` before it: the
    contexts it is in, innermost last, joined by NUL (see :func:`_innermost`). A context is
    single or double quotes (``'``, ``"``), a comment (``#``), a command substitution or a
    parenthesis (``$(``, ``(``: read as outside quotes), a here-document (``<``, then ``-``
    for ``<<-`` or a space, then its delimiter; from the ``<<`` to the delimiter's line), or
    none (""). Backslashes escape outside single quotes; a ``#`` starts a comment at the
    start of a word. A rough reading of the shell's grammar, for the checks of placeholders
    only. (A here-document's body expands ``$(...)`` and backticks whatever quotes are in
    it: a choice ``$(touch x)`` ran there, a security audit's finding; and a placeholder in
    ``"$(cat {trial_dir}/x)"`` is outside quotes, where it was refused.)"""
    stack = state.split("\0") if state else []
    escaped = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        top = stack[-1] if stack else ""
        if top.startswith("<"):
            if char == "\n":
                end = text.find("\n", i + 1)
                line = text[i + 1 : n if end < 0 else end]
                if (line.lstrip("\t") if top[1] == "-" else line) == top[2:]:
                    stack.pop()
                    i = n if end < 0 else end
                    continue
            i += 1
            continue
        if top == "#":
            if char == "\n":
                stack.pop()
        elif escaped:
            escaped = False
        elif char == "\\" and top != "'":
            escaped = True
        elif top == "'":
            if char == "'":
                stack.pop()
        elif top == '"':
            if char == '"':
                stack.pop()
            elif text.startswith("$(", i) and not text.startswith("$((", i):
                stack.append("$(")
                i += 2
                continue
        elif char in "'\"":
            stack.append(char)
        elif char == "(":
            stack.append("(")
        elif char == ")" and top in ("(", "$("):
            stack.pop()
        elif char == "#" and (text[i - 1] in " \t\n;&|(" if i else first and not stack):
            stack.append("#")
        elif (  # (not a here-string, <<<, nor a shift, $((1<<2)))
            char == "<"
            and text[max(i - 1, 0) : i] != "<"
            and not (text[max(i - 1, 0) : i].isdigit() and text[i + 2 : i + 3].isdigit())
            and (here := _HEREDOC.match(text, i)) is not None
        ):
            single, double, plain = here.group(2, 3, 4)
            delimiter = next((d for d in (single, double) if d is not None), None)
            delimiter = plain.replace("\\", "") if delimiter is None else delimiter
            stack.append("<" + ("-" if here.group(1) else " ") + delimiter)
            i = here.end()
            continue
        i += 1
    return "\0".join(stack)


def _innermost(state: str) -> str:
    """The innermost context of a :func:`_shell_state_after` state ("" for none, also in a
    command substitution or parenthesis)."""
    top = state.rsplit("\0", 1)[-1]
    return "" if top in ("$(", "(") else top


#: A here-document's operator and delimiter word: ``<<END``, ``<<-END``, ``<< 'END'``
#: (not a here-string, ``<<<``).
_HEREDOC = re.compile(r"<<(?!<)(-?)[ \t]*(?:'([^'\n]*)'|\"([^\"\n]*)\"|([^\s;&|<>()]+))")


def _whole(value: float | None, rounded: bool = False) -> float | int | None:
    """A budget as a command takes it: a whole number without ``.0`` (``3``, not ``3.0``);
    ``rounded``: any budget rounded to a whole number, at least 1."""
    if value is None:
        return None
    if rounded:
        return max(1, round(value))
    return int(value) if float(value).is_integer() else value


def _remote_path(path: str) -> str:
    """``path`` quoted for a host's shell, with a leading ``~`` left to it (the home folder
    there: quoted whole, ``~/bench`` named a folder ``~`` in the login folder)."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def _text(value: object) -> str:
    """A knob's or trial field's value as the command sees it (None: empty; a bool as the knob
    file spells it, true or false, numpy's too: ConfigSpace samples them)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _stat(path: Path | None) -> tuple[int, int, int] | None:
    """What tells a file's versions apart (inode, size, modification time), None if absent."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    """The last of ``matches``, or None, without a list of them all."""
    kept = collections.deque(matches, maxlen=1)
    return kept[0] if kept else None


def _last_number(text: str) -> tuple[re.Match[str] | None, str]:
    """The last number in ``text``, and the end of ``text`` it was found in, without colour
    codes (their codes hold digits). Searched from the end, in ever larger pieces: a
    benchmark that logged a million lines before its result took 7 s and 437 MB a trial
    when every number of its output was collected."""
    size = 1 << 16
    while True:
        start = max(0, len(text) - size)
        piece = _ANSI_ESCAPE.sub("", text[start:])
        last = _last(_NUMBER.finditer(piece))
        # A number or a colour code cut at the piece's start holds no white space: the last
        # number is whole, and no remnant of a code, past a white space (else read more).
        if start == 0 or (last is not None and _SPACE.search(piece, 0, last.start())):
            return last, piece
        size *= 8


_SPACE = re.compile(r"\s")


#: Characters of a line kept by :func:`_tail`: its end, where a progress meter's last state is.
_TAIL_LINE = 300


def _tail(text: str, lines: int = 10) -> str:
    """The last lines a command printed, for an error message: each cut to its last
    ``_TAIL_LINE`` characters (a 20 MB line on stderr was stored twice with each failed
    trial, and printed in full)."""
    text = text.strip()  # (blank lines at the end would fill the end read)
    end = text[-lines * 4 * _TAIL_LINE :]  # (enough for the lines kept; a long one is cut)
    every = end.splitlines()
    shown = [i for i, line in enumerate(every) if line.strip()][-lines:]
    # (the end read's first line began before it, unless the end starts a line)
    partial = len(end) < len(text) and text[-len(end) - 1] != "\n"
    kept = [
        "..." + every[i][-_TAIL_LINE:]
        if len(every[i]) > _TAIL_LINE or (partial and i == 0)
        else every[i]
        for i in shown
    ]
    # (safe to print: a program's escapes could retitle a terminal or erase a line of the log)
    return "" if not kept else "\n" + "\n".join(f"    {printable(line)}" for line in kept)
