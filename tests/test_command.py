"""Shell-command targets and knob files: real commands run by /bin/sh, real files."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace, Float, Integer

from smacx import SMAC, CommandError, CommandTarget, Scenario, ScenarioError, StatusType
from smacx import command as command_module
from smacx.cli import main, run_report
from smacx.command import load_workload


@pytest.fixture
def space() -> ConfigurationSpace:
    return ConfigurationSpace(
        [Integer("n", (1, 9)), Float("r", (0.0, 1.0)), Categorical("mode", ["a b", "c;d"])]
    )


def config(space: ConfigurationSpace, **values: object) -> Configuration:
    return Configuration(space, values={"n": 3, "r": 0.5, "mode": "a b", **values})


@pytest.fixture(autouse=True)
def host_marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of host locks and marks of each test's own (they are per user otherwise, and
    a host marked unreachable stays so for a minute), and of its trials' folders."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"smacx-hosts-{os.getuid()}"


def assert_ends(pid: int, what: str) -> None:
    """Fail unless process ``pid`` (a command's program) ends within 5 s."""
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"the command's program (pid {pid}) outlived {what}")


def test_the_measurement_is_the_last_number_or_the_patterns_last_match(
    space: ConfigurationSpace,
) -> None:
    c = config(space, n=7)
    printing = "echo 'warming up: 1 2 3'; echo 'took 12ms, n={n}'; echo done"
    assert CommandTarget(printing)(c, seed=0) == 7.0
    assert CommandTarget(printing, pattern=r"took (\d+)ms")(c, seed=0) == 12.0
    assert CommandTarget(printing, pattern=r"\d+(?=ms)")(c, seed=0) == 12.0  # no group
    assert CommandTarget("echo 2.5e-3", maximize=True)(c, seed=0) == -2.5e-3
    assert CommandTarget("echo latency 12ms")(c, seed=0) == 12.0  # a unit glued to it


def test_the_last_number_of_a_long_output_is_read_from_its_end(space: ConfigurationSpace) -> None:
    """A benchmark that logged a million lines took 7 s and 437 MB a trial while every number
    of its output was collected (a command-line audit's finding); it is searched from the
    end, in pieces, with a number or colour code cut at a piece's start read whole."""
    from smacx.command import _last_number

    log = "".join(f"step {i} took 0.{i:05d} s\n" for i in range(200_000))
    target = CommandTarget("true")
    assert target._number(log + "result: 42.5 ms\n", "stdout", "c") == 42.5
    assert target._number(log + "p99 " + "1" * 70_000, "stdout", "c") == float("1" * 70_000)
    coloured = "x" * (1 << 16) + "\x1b[31m7\x1b[0m" + " " * ((1 << 16) - 6)
    last, _ = _last_number(coloured)
    assert last is not None and last.group() == "7"
    assert _last_number("no numbers " * 20_000)[0] is None
    with pytest.raises(CommandError, match="follows a comma"):
        target._number("x" * (1 << 16) + "took 1,5", "stdout", "c")
    pattern = CommandTarget("true", pattern=r"took (\S+) s")
    assert pattern._number(log, "stdout", "c") == 0.199999
    # cut at the piece's start: a long grouped number, a long colour code (a review's cases)
    grouped = "1" + ",234" * 30
    text = "a" * 100_000 + " " + grouped + " " + "z" * ((1 << 16) - len(grouped) + 4)
    assert target._number(text, "stdout", "c") == float(grouped.replace(",", ""))
    code = "\x1b[" + "1;" * 60 + "0m"
    text = "value 42\n" + "q" * 90_000 + code + "w" * ((1 << 16) - len(code) + 10)
    assert target._number(text, "stdout", "c") == 42.0


def test_a_failed_commands_long_lines_are_cut_in_its_error(space: ConfigurationSpace) -> None:
    """A command that wrote one 20 MB line to stderr and failed stored it twice with its
    trial, and the run printed it in full (a command-line audit's finding)."""
    failing = CommandTarget(
        "head -c 2000000 /dev/zero | tr '\\0' 'x' >&2; echo >&2; echo last >&2; exit 3"
    )
    with pytest.raises(CommandError) as err:
        failing(config(space), seed=0)
    message = str(err.value)
    assert len(message) < 2_000 and message.endswith("    last")
    assert "\n    ..." + "x" * 300 + "\n" in message
    # blank lines after the error, and a first line read whole (a review's cases)
    from smacx.command import _tail

    assert _tail("Traceback\nValueError: bad\n" + "\n" * 20_000).endswith("    ValueError: bad")
    lines = "".join(f"line {i}\n" for i in range(2_000))
    assert _tail(lines, lines=3) == "\n    line 1997\n    line 1998\n    line 1999"


def test_a_commands_terminal_escapes_reach_no_message(
    space: ConfigurationSpace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command's stderr retitled the terminal and erased a line of the log where smacx
    quoted it, in `smacx run`'s warnings and `smacx show` (a security audit's finding):
    colours are dropped, other control characters shown as escapes."""
    noisy = "printf '\\033]0;TITLE\\007\\033[2K\\rall good\\n\\033[31mred\\033[0m\\n' >&2; exit 3"
    with pytest.raises(CommandError) as err:
        CommandTarget(noisy + "; echo {n} {r} {mode}")(config(space), seed=0)
    assert str(err.value).endswith("\n    \\x1b]0;TITLE\\x07\n    all good\n    red")
    assert "\x1b" not in str(err.value) and "\r" not in str(err.value)
    from smacx.cli import main

    knobs = tmp_path / "knobs.toml"
    knobs.write_text(
        f"command = {json.dumps(noisy + '; echo {x}')}\nn_trials = 2\n"  # (TOML's escapes)
        '[knobs]\nx = { type = "float", range = [0, 1] }\n'
    )
    out = ["--output-dir", str(tmp_path), "--no-progress", "--keep-going"]
    with pytest.warns(UserWarning, match="ended without an incumbent"):
        assert main(["run", str(knobs), *out]) == 1
    assert main(["show", str(tmp_path / "knobs"), "--trials"]) == 0
    printed = capsys.readouterr()
    assert "\x1b" not in printed.out + printed.err and "\\x1b]0;TITLE" in printed.out


def test_hosts_workdir_and_choices_that_cannot_work_are_refused_before_a_trial(
    tmp_path: Path,
) -> None:
    """A command-line audit's findings: a host named twice (its second worker waited for the
    first, and timed out), a workdir that does not exist (a trial crashed with a bare
    FileNotFoundError), choices true and "true" (one word for the command)."""
    with pytest.raises(ScenarioError, match=r"hosts must name each host once; got 'n1' 2 times"):
        CommandTarget("echo 1", hosts=("n1", "n2", "n1"))
    with pytest.raises(ScenarioError, match=r"workdir must be a folder on this machine; '/nowh"):
        CommandTarget("echo 1", workdir="/nowhere/at/all")
    CommandTarget("echo 1", workdir="/nowhere/at/all", hosts=("n1",))  # (a folder there)
    file = tmp_path / "k.toml"
    file.write_text(
        'command = "echo {f} 1"\n[knobs]\nf = { type = "categorical", choices = [true, "true"] }\n'
    )
    with pytest.raises(ScenarioError, match=r"distinct values; got \[True, 'true'\]"):
        load_workload(file)
    file.write_text(
        'command = "echo {f} 1"\n[knobs]\nf = { type = "ordinal", sequence = [1, "1"] }\n'
    )
    with pytest.raises(ScenarioError, match=r"the distinct values in order; got \[1, '1'\]"):
        load_workload(file)
    file.write_text(
        'command = "echo 1"\nworkdir = "gone"\n[knobs]\nx = { type = "float", range = [0, 1] }\n'
    )
    with pytest.raises(ScenarioError, match=r"workdir must be a folder on this machine"):
        load_workload(file)


def test_a_knobs_error_names_its_line_in_the_knobs_table(tmp_path: Path) -> None:
    """A knob named as a key of the file (timeout) was said to be on that key's line."""
    file = tmp_path / "k.toml"
    file.write_text(
        'command = "prog {timeout}"\ntimeout = 60\n\n[knobs]\n'
        'timeout = { type = "integer", range = [10, 1] }\n'
    )
    with pytest.raises(ScenarioError, match=r"\(line 5\): knob 'timeout'"):
        load_workload(file)
    file.write_text(  # (a table of its own: its header's line)
        'command = "prog {timeout}"\ntimeout = 60\n[knobs.timeout]\ntype = "integer"\n'
        "range = [10, 1]\n"
    )
    with pytest.raises(ScenarioError, match=r"\(line 3\): knob 'timeout'"):
        load_workload(file)


def test_values_reach_the_command_as_single_words(space: ConfigurationSpace) -> None:
    """A categorical value with a space or a ``;`` is one argument, never shell syntax."""
    out = CommandTarget(
        "printf '%s|' {mode} {seed} {n}; echo 0", pattern=r"^(.*)\|0$"
    )  # (the group holds no number: the error shows what was printed)
    with pytest.raises(CommandError, match=r"the match 'c;d\|4\|3' of pattern"):
        out(config(space, mode="c;d"), seed=4)


def test_a_result_file_in_the_trials_own_folder(space: ConfigurationSpace, tmp_path: Path) -> None:
    target = CommandTarget(
        "echo noise 99; echo 'score: {r}' > {trial_dir}/result.txt",
        result="{trial_dir}/result.txt",
        pattern=r"score: ([0-9.]+)",
        trial_root=str(tmp_path / "trials"),
    )
    assert target(config(space, r=0.25), seed=0) == 0.25
    # kept, for what the trial wrote (the folder, not its .json: a pattern "trial-*[!n]"
    # missed a folder whose random name ends in n, one run in about 37)
    [folder] = [path for path in (tmp_path / "trials").glob("trial-*") if path.is_dir()]
    assert (folder / "result.txt").read_text() == "score: 0.25\n"
    about = json.loads(Path(f"{folder}.json").read_text())  # (whose folder it is)
    assert about == {
        "config": {"n": 3, "r": 0.25, "mode": "a b"},
        "seed": 0,
        "instance": None,
        "budget": None,
    }
    log = tmp_path / "folders.txt"
    temporary = CommandTarget(f"echo {{trial_dir}} >> {log}; echo 1")  # no trial_root
    assert temporary(config(space), seed=0) == 1.0
    made = Path(log.read_text().strip())
    assert made.name.startswith("smacx-trial-") and not made.exists()  # removed after the trial


@pytest.mark.slow
def test_a_command_on_the_runs_own_workers_gets_the_runs_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --workers 2 the command saw OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_=65536 and
    the like, which dask's nanny sets for Python workers: what a BLAS benchmark measured
    depended on --workers (a resource audit's finding)."""
    file = tmp_path / "env.toml"
    file.write_text(
        'command = "echo {x} ${{MALLOC_TRIM_THRESHOLD_:-7}}"\nn_trials = 3\nworkers = 2\n'
        '[knobs]\nx = { type = "integer", range = [1, 9] }\n'
    )
    expected = float(os.environ.get("MALLOC_TRIM_THRESHOLD_", 7))
    assert main(["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]) == 0
    report = run_report(tmp_path / "runs" / "env", list_trials=True)
    assert [t["cost"] for t in report["all_trials"]] == [[expected]] * 3


def run_knob_file(tmp_path: Path, text: str, *options: str) -> dict[str, Any]:
    """`smacx run` of a knob file of ``text`` (which must succeed), and its run's report with
    every trial."""
    file = tmp_path / "knobs.toml"
    file.write_text(text)
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, *options]) == 0
    return run_report(tmp_path / "runs" / "knobs", list_trials=True)


def test_a_timed_out_trials_folder_is_removed_too(tmp_path: Path) -> None:
    """A command killed at its timeout left its {trial_dir} in /tmp, with what it wrote: one
    folder per time-out over a run of days (a resource audit's finding)."""
    report = run_knob_file(
        tmp_path,
        'command = "echo data > {trial_dir}/out; [ {x} -gt 4 ] && sleep 30; echo {x}"\n'
        "timeout = 1\nn_trials = 4\n"
        '[knobs]\nx = { type = "integer", range = [1, 9], default = 9 }\n',
        "--keep-going",
    )
    assert report["trials"].get("TIMEOUT", 0) >= 1
    assert not list(Path(tempfile.gettempdir()).glob("smacx-trial-*"))


def test_a_knob_file_keeps_the_trials_folders_under_its_trial_root(tmp_path: Path) -> None:
    """Oríon's users save a model to the trial's working_dir: {trial_dir} was removed after
    the trial, and the knob file could not keep it (a porting audit's finding)."""
    file = tmp_path / "keep.toml"
    file.write_text(
        'command = "echo {x} > {trial_dir}/model.txt; echo {x}"\ntrial_root = "trials"\n'
        'n_trials = 3\n[knobs]\nx = { type = "integer", range = [1, 9] }\n'
    )
    assert main(["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]) == 0
    folders = sorted(p for p in (tmp_path / "trials").iterdir() if p.is_dir())
    assert len(folders) == 3
    for folder in folders:
        x = json.loads(Path(f"{folder}.json").read_text())["config"]["x"]
        assert (folder / "model.txt").read_text() == f"{x}\n"
    file.write_text('hosts = ["n1"]\n' + file.read_text())
    with pytest.raises(ScenarioError, match="trial_root must be left out with hosts"):
        load_workload(file)


def test_a_knob_files_paths_may_start_at_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`trial_root = "~/trials"` made a folder named ~ beside the knob file, and a workdir
    under ~ was refused as missing (a hostile-filesystem audit)."""
    home = tmp_path / "home"
    (home / "bench").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    file = tmp_path / "k.toml"
    file.write_text(
        'command = "echo {x}"\ntrial_root = "~/trials"\nworkdir = "~/bench"\n'
        '[knobs]\nx = { type = "integer", range = [1, 9] }\n'
    )
    target = load_workload(file).target
    assert (target.trial_root, target.workdir) == (str(home / "trials"), str(home / "bench"))
    # (a user without a home: a clear error, not a traceback; a review)
    file.write_text(file.read_text().replace("~/trials", "~no_such_user_4711/trials"))
    with pytest.raises(ScenarioError, match=r"\(line 2\): trial_root must be a path whose ~ "):
        load_workload(file)


def test_a_trial_folder_that_cannot_be_made_stops_the_run_without_charging_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """smacx's own set-up of a trial failing (a full disk, no inode left) was recorded as the
    configuration's crash, one after the other: 36 of 40 trials went in 1.6 s, and the run,
    continued once space was freed, had none left (a hostile-filesystem audit)."""
    (tmp_path / "trials").write_text("a file, where the folders would go\n")
    file = tmp_path / "k.toml"
    file.write_text(
        'command = "echo {x} > {trial_dir}/o; cat {trial_dir}/o"\ntrial_root = "trials"\n'
        'n_trials = 5\n[knobs]\nx = { type = "integer", range = [1, 9] }\n'
    )
    runs = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(runs) == 1
    err = capsys.readouterr().err
    assert "smacx run: smacx could not make the trial's folder ({trial_dir}): " in err
    assert "the run stops, and the trial runs again when it continues" in err
    assert "(the path named must be a folder this process can write in)" in err  # (not ulimit)
    assert "CRASHED" not in err
    (tmp_path / "trials").unlink()
    assert main(runs) == 0  # mended: every trial of the budget is still to run
    assert run_report(tmp_path / "runs" / "k")["trials"] == {"SUCCESS": 5}


def test_no_file_descriptor_for_a_command_stops_the_run(tmp_path: Path) -> None:
    """Under a low `ulimit -n`, the pipes of the command's output could not be made: each
    trial was recorded CRASHED as the configuration's fault."""
    script = tmp_path / "fds.py"
    script.write_text(
        "import os, resource\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import SMAC, CommandTarget, MachineError, Scenario\n"
        "space = ConfigurationSpace({'x': (0, 9)})\n"
        "sc = Scenario(space, n_trials=3, output_directory=None)\n"
        "smac = SMAC(sc, CommandTarget('echo {x}'), progress=False)\n"
        "used = len(os.listdir('/proc/self/fd'))\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (used + 1, hard))\n"
        "try:\n"
        "    smac.optimize()\n"
        "except MachineError as err:\n"
        "    print(err)\n"
        "print(sorted(v.status.name for _, v in smac.runhistory.items()))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("smacx could not start the command: OSError: [Errno 24]"), done
    assert lines[1] == "['RUNNING']"  # released, to run again: no result charged


def test_a_commands_long_output_is_not_held_whole(tmp_path: Path) -> None:
    """A benchmark that printed a 150 MB log made this process peak at 536 MB, beyond any
    limit set for the command (an audit): only the end of the output is kept."""
    script = tmp_path / "long.py"
    script.write_text(
        "import resource\n"
        "from ConfigSpace import ConfigurationSpace\n"
        "from smacx import CommandTarget\n"
        "config = ConfigurationSpace({'x': (0, 9)}).sample_configuration()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "log = 'yes \"step 1 of 9: loss 0.5\" | head -c 150000000'\n"
        "cost = CommandTarget(log + '; echo {x} >&2; echo 0.25')(config, seed=0)\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(cost, grown // 1024)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    cost, grown_mb = done.stdout.split()
    assert float(cost) == 0.25, done.stderr
    assert int(grown_mb) < 40  # (4 MB kept of each stream, read 64 kB at a time)


def test_a_failed_command_says_how_with_what_it_printed(space: ConfigurationSpace) -> None:
    c = config(space)
    with pytest.raises(CommandError, match=r"exited with status 3: .*\n    oops"):
        CommandTarget("echo oops >&2; exit 3")(c, seed=0)
    with pytest.raises(
        CommandError, match=r"its output holds no number: echo nothing\n    nothing"
    ):
        CommandTarget("echo nothing")(c, seed=0)
    with pytest.raises(CommandError, match=r"no match of pattern 'took \(\\\\d\+\)'"):
        CommandTarget("echo 5", pattern=r"took (\d+)")(c, seed=0)
    with pytest.raises(CommandError, match=r"wrote no result file .*missing\.txt"):
        CommandTarget("true", result="missing.txt")(c, seed=0)


def test_a_placeholder_inside_quotes_is_warned_of(space: ConfigurationSpace) -> None:
    """Each value is quoted for the shell already: inside quotes, a value with a space would
    reach the program with the quotes in it (an audit's finding), and one with a quote and a
    semicolon ran a command of its own (a security audit's): such a template is refused."""
    with (
        pytest.warns(UserWarning, match=r"the knob\(s\) \['n', 'r'\] appear in neither"),
        pytest.raises(ScenarioError, match=r"\{mode\} inside quotes, and its value 'a b' needs"),
    ):
        CommandTarget('echo --mode="{mode}"').check(space)
    with pytest.warns(UserWarning, match=r"have \$\{n\}: the shell reads \$ and the value"):
        CommandTarget("run --threads=${n}").check(space)  # the shell gave $3: empty
    with pytest.warns(UserWarning, match=r"have \$\{n\}"):
        CommandTarget('run --threads="${n}"').check(space)  # (expanded in double quotes too)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numbers never need quoting; nor do these
        warnings.filterwarnings("ignore", r"the knob\(s\) \[")  # (knobs left out: below)
        CommandTarget("echo {mode} \"n={n}\" '{{x}}' $(printf '%.3f' {r})").check(space)
        CommandTarget("echo cost: \\${n}").check(space)  # an escaped $ is printed
        CommandTarget("# it's the trainer\necho {mode} '${{HOME}}'").check(space)  # a comment
        # a command substitution inside double quotes is outside them (it was refused: a
        # security audit's finding), and quotes inside it are its own
        CommandTarget('echo "$(cat {trial_dir}/x)" "a $(printf %s {mode}) b" {n} {r}').check(space)
        CommandTarget('echo "$(echo ")" {mode} {n} {r}').check(space)
        # a here-document's delimiter line ends it; <<< and a shift start none
        CommandTarget("cat <<END\nmode\nEND\necho {mode} <<< {mode} $((1<<2)) {n}").check(space)
        CommandTarget("cat <<END > f\n{n} {r}\nEND\necho {mode}").check(space)  # (numbers)
    # A here-document's body expands $(...) and backticks inside any quotes: a choice
    # `$(touch PWNED)` ran there (a security audit's finding). It counts as quotes.
    for template in ("cat > f <<END\nmode = {mode}\nEND\necho 1", "cat <<-'E'\n\t{mode}\n\tE"):
        with (
            pytest.warns(UserWarning, match=r"the knob\(s\)"),
            pytest.raises(ScenarioError, match=r"\{mode\} inside quotes.* here-document"),
        ):
            CommandTarget(template).check(space)


def test_a_value_that_needs_quoting_inside_quotes_never_runs(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """An instance name or a value given in Python is known only when the trial runs: it is
    refused there, before the shell sees it (a security audit ran `touch` through an
    instance named `';touch PWN;'` in `--file "{instance}"`)."""
    c = config(space, mode="c;d")
    with pytest.raises(CommandError, match=r"\{instance\} inside quotes, and its value "):
        CommandTarget(f'echo 1 --file "{{instance}}" > {tmp_path}/out')(
            c, seed=0, instance="';touch PWN;'"
        )
    with pytest.raises(CommandError, match=r"\{mode\} inside quotes, and its value 'c;d'"):
        CommandTarget("echo 1 --mode '{mode}'")(c, seed=0)
    for template in ('echo 1 "${mode}"', 'echo ${mode} "{mode}"'):  # (a review's cases)
        with pytest.raises(CommandError, match=r"\{mode\} inside quotes"):
            CommandTarget(template)(c, seed=0)
    # a result path is no shell's: quotes there are the file name's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (knobs the command leaves out)
        CommandTarget("echo 1", result="{trial_dir}/john's {mode}.txt").check(space)
    assert not list(tmp_path.glob("*"))  # (nothing ran)
    # the folder of {trial_dir} is known from the knob file (a review's case: it failed
    # only when the first trial ran)
    for root in ("my trials", None):
        target = CommandTarget('echo "{trial_dir}/out" {n} {mode}', trial_root=root)
        if root is None:
            target.check(space)
        else:
            with pytest.raises(ScenarioError, match=r"\{trial_dir\} inside quotes.*'my trials'"):
                target.check(space)
    # values that are one word as they are, and an empty one, run as before
    assert CommandTarget("echo --n '{n}' \"{instance}\" 2")(c, seed=0) == 2.0
    knobs = tmp_path / "knobs.toml"
    knobs.write_text(
        'command = "echo --file \\"{instance}\\" 1"\ninstances = ["a.cnf", "b c.cnf"]\n'
        '[knobs]\nx = { type = "float", range = [0, 1] }\n'
    )
    with (
        pytest.raises(ScenarioError, match=r"\{instance\} inside quotes, and its value 'b c"),
        pytest.warns(UserWarning, match=r"the knob\(s\) \['x'\]"),
    ):
        load_workload(knobs)


def test_knobs_the_command_never_names_are_warned_of(space: ConfigurationSpace) -> None:
    """A knob in neither the command nor the result never reaches the program: the run tuned
    a setting that changed nothing, and recommended a value for it (a porting audit's knob
    file declared `opt` while its command had `--opt adam` written out)."""
    with pytest.warns(UserWarning, match=r"the knob\(s\) \['mode', 'r'\] appear in neither"):
        CommandTarget("./train --opt adam --n {n}").check(space)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CommandTarget("./train {n} {mode}", result="out-{r}.txt").check(space)


def test_bad_templates_are_refused_at_construction(space: ConfigurationSpace) -> None:
    with pytest.raises(ScenarioError, match=r"names \{threads\}, which is no knob"):
        CommandTarget("run --threads {threads}").check(space)
    with pytest.raises(ScenarioError, match=r"placeholder \{print \$1\}.*as \{\{ and \}\}"):
        CommandTarget("awk '{print $1}'")
    with pytest.raises(ScenarioError, match=r"at most one group"):
        CommandTarget("true", pattern=r"(\d+) (\d+)")
    with pytest.raises(ScenarioError, match=r"result must be 'stdout' when the command runs on"):
        CommandTarget("true", result="out.txt", hosts=("node1",))
    CommandTarget("awk '{{print $1}}' {trial_dir}/x {n}").check(space)  # braces doubled
    for limit in (0, -1.5, math.inf, True, "2G"):
        with pytest.raises(ScenarioError, match=r"memory_limit must be megabytes, a number > 0"):
            CommandTarget("true", memory_limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"memory_limit works only for commands run on this"):
        CommandTarget("true", hosts=("node1",), memory_limit=100)


def test_on_hosts_each_runs_one_trial_at_a_time(space: ConfigurationSpace) -> None:
    """Hosts are reached through the launcher (ssh by default; here one that runs the command
    locally), and two workers never measure on one host at once."""
    target = CommandTarget(
        "echo {host} $(date +%s.%N); sleep 0.3; echo $(date +%s.%N)",
        pattern=r"(\d+\.\d+)$",
        hosts=("node-1",),
        launcher="env SMACX_TEST_HOST={host} sh -c",
    )
    spans: list[tuple[float, float]] = []

    def trial() -> None:
        ended = target(config(space), seed=0)
        spans.append((ended - 0.3, ended))

    threads = [threading.Thread(target=trial) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = sorted(spans)
    assert second[0] >= first[1] - 0.05, spans  # the second started after the first ended
    echo = CommandTarget(
        "echo $SMACX_TEST_HOST {host} 1",
        pattern=r"(\S+ \S+) 1",
        hosts=("a@b",),
        launcher="env SMACX_TEST_HOST={host} sh -c",
    )
    with pytest.raises(CommandError, match=r"a@b a@b"):  # (not a number: shown in the error)
        echo(config(space), seed=0)


def test_on_hosts_a_workdir_the_host_lacks_fails_the_whole_command(
    space: ConfigurationSpace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd dir && a; b` ran b in the login folder when the cd failed, and the trial was a
    success; and a workdir of ``~/bench`` was quoted whole, a folder named ``~`` (an
    audit's findings). The host's home is its HOME, here this test's folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "bench").mkdir()
    marks = tmp_path / "where.txt"
    launcher = "env SMACX_TEST_HOST={host} sh -c"
    measure = f"true; pwd >> {marks}; echo 1"
    lost = CommandTarget(
        measure, hosts=("node",), launcher=launcher, workdir=str(tmp_path / "nowhere")
    )
    with pytest.raises(CommandError):
        lost(config(space), seed=0)
    assert not marks.exists()
    home = CommandTarget(measure, hosts=("node",), launcher=launcher, workdir="~/bench")
    assert home(config(space), seed=0) == 1.0
    assert marks.read_text().split() == [str(tmp_path / "bench")]


def test_a_numpy_bool_reaches_the_command_as_true_or_false() -> None:
    """ConfigSpace's sample_configuration() gives numpy bools, which reached the command as
    "False" where the docs say false (an audit's finding)."""
    import numpy as np

    assert command_module._text(np.False_) == "false"
    assert command_module._text(np.True_) == "true"
    assert command_module._text(True) == "true"


KNOBS = """
command = "echo $(( ({x} - 3) * ({x} - 3) + {k} ))"
n_trials = 12
repeats = 2
timeout = 20

[knobs]
x = { type = "integer", range = [0, 8], default = 0 }
k = { type = "ordinal", sequence = [0, 1, 2] }
r = { type = "float", range = [0.001, 1.0], log = true }
c = { type = "categorical", choices = ["p", "q"], default = "q" }
"""


def test_a_knob_file_gives_the_space_the_target_and_the_settings(tmp_path: Path) -> None:
    file = tmp_path / "solver.toml"
    file.write_text(KNOBS)
    w = load_workload(file)
    assert list(w.configspace) == ["c", "k", "r", "x"]
    assert w.configspace["x"].default_value == 0 and w.configspace["c"].default_value == "q"
    assert w.configspace["r"].log
    assert (w.n_trials, w.repeats, w.timeout, w.workers, w.name) == (12, 2, 20.0, 1, "solver")
    sc = w.scenario(output_directory=None, seed=3)
    assert not sc.deterministic and sc.trial_walltime_limit == 20.0 and sc.seed == 3
    assert w.intensifier().min_samples_per_config == 2
    assert w.target.workdir == str(tmp_path)  # commands run next to the knob file
    assert w.target.memory_limit is None
    file.write_text(KNOBS.replace("timeout = 20\n", "timeout = 20\nmemory = 300\n"))
    assert load_workload(file).target.memory_limit == 300.0
    default = w.configspace.get_default_configuration()
    assert w.target(default, seed=0) == 9.0
    # the same as JSON, and with a space saved by ConfigSpace
    w.configspace.to_json(tmp_path / "space.json")
    as_json = {"command": w.target.command, "space": "space.json", "goal": "maximize"}
    (tmp_path / "solver.json").write_text(json.dumps(as_json))
    j = load_workload(tmp_path / "solver.json")
    assert j.configspace == w.configspace and j.target.maximize and j.repeats == 1
    # its defaults are measured first, as a knob's default is (a CLI audit's finding)
    design = j.initial_design()
    assert design is not None and design.additional_configs == [default]
    # repeats combined by their median, which one disturbed timing does not move: of 3 runs
    # or more (the median of 2 is their mean, an audit's finding, which warns)
    file.write_text(KNOBS.replace("timeout = 20\n", 'timeout = 20\naggregate = "median"\n'))
    with pytest.warns(UserWarning, match="median of its first 2 runs, which is their mean"):
        assert load_workload(file).intensifier().aggregate == "median"
    file.write_text(file.read_text().replace("repeats = 2", "repeats = 3"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_workload(file).intensifier().min_samples_per_config == 3
    assert not [w for w in caught if "median" in str(w.message)]
    assert w.intensifier() == dataclasses.replace(w.intensifier(), aggregate="mean")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("command = 1\n[knobs]\nx = {type='float', range=[0, 1]}", r"command must be the command"),
        ("command = 'echo {x}'\nthreads = 4\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"unknown key\(s\) \['threads'\]"),
        ("command = 'echo {y}'\n[knobs]\nx = {type='float', range=[0, 1]}", r"names \{y\}"),
        ("command = 'echo'\n[knobs]\nx = {type='real', range=[0, 1]}", r"knob 'x': expected type"),
        ("command = 'echo'\n[knobs]\nx = {type='float', range=[1, 0]}", r"low < high"),
        ("command = 'echo'\n[knobs]\nx = {type='integer', range=[0, 1.5]}", r"two integer"),
        ("command = 'echo'\n[knobs]\nx = {type='float', range=[0, 1], log=true}", r"above 0"),
        ("command = 'echo'\n[knobs]\nx = {type='float', range=[0, 1], step=2}", r"only the keys"),
        ("command = 'echo'\n[knobs]\nx = {type='categorical', choices=['a'], default='b'}",
         r"knob 'x': expected a knob ConfigSpace accepts"),
        ("command = 'echo'\ngoal = 'min'\n[knobs]\nx = {type='float', range=[0, 1]}", r"goal"),
        # several measurements: each says smacx run takes one (a multi-objective audit)
        ("command = 'echo'\ngoal = ['minimize', 'maximize']\n[knobs]\nx = {type='float', "
         "range=[0, 1]}", r"goal must be .* smacx run optimizes one measurement\. For several"),
        ("command = 'echo'\nobjectives = ['a', 'b']\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"unknown key\(s\) \['objectives'\].* smacx run optimizes one measurement"),
        ("command = 'echo'\npattern = ['a (.*)', 'b (.*)']\n[knobs]\nx = {type='float', "
         "range=[0, 1]}", r"pattern must be a string.* smacx run optimizes one measurement"),
        ("command = 'echo'\npattern = 'a (.*) b (.*)'\n[knobs]\nx = {type='float', "
         "range=[0, 1]}", r"at most one group .* smacx run optimizes one measurement"),
        ("command = 'echo'\nrepeats = 0\n[knobs]\nx = {type='float', range=[0, 1]}", r"repeats"),
        ("command = 'echo'\ntimeout = 0.5\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"timeout must be seconds, a number >= 1"),
        ("command = 'echo'\nname = ''\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"name must be a folder name"),
        ("command = 'echo {x:.3f}'\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"placeholder \{x:\.3f\}; expected \{x\} with no format spec"),
        ("command = 'echo ${x:+-x}'\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"a shell's own braces are doubled, as \$\{\{x:\+-x\}\}"),
        ("command = 'echo'\n[knobs]\nx = {type='categorical', choices=[[1, 2], [3]]}",
         r"choices that are strings, numbers or booleans"),
        ("command = 'echo'\n[knobs]\nx = {type='integer', range=[0, 1e19]}", r"within \[-2\*\*53"),
        ("command = 'echo'\n[knobs]\nx = {type='float', range=[0, inf]}", r"a finite range"),
        ("command = 'echo'\nmemory = 0\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"memory must be megabytes"),
        ("command = 'echo'\nmemory = 9\nhosts = ['a']\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"memory must be absent when the command runs on hosts"),
        ("command = 'echo'\naggregate = 'min'\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"aggregate must be 'mean' or 'median'"),
        ("command = 'echo'\naggregate = 'median'\nrace = 'hyperband'\nrepeats = 3\n"
         "[knobs]\nx = {type='float', range=[0, 1]}", r"'mean' with a budget range or race"),
        ("command = 'echo {budget}'\nbudget = [3, 1]\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"budget must be \[low, high\], two numbers with 0 < low < high"),
        ("command = 'echo {budget}'\nbudget = [1, 2]\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"budget must be \[low, high\] with high at least 3 times low"),
        ("command = 'echo {budget}'\nbudget = [1, 9]\naggregate = 'median'\n"
         "[knobs]\nx = {type='float', range=[0, 1]}", r"aggregate must be 'mean' with a budget"),
        ("command = 'echo'\nbudget = [1, 9]\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"budget must be used as \{budget\} in the command"),
        ("command = 'echo {budget}'\n[knobs]\nx = {type='float', range=[0, 1]}",
         r"uses \{budget\}, but the file gives no budget range; add budget = \[low, high\]"),
        ("command = 'echo {budget} {instance}'\nbudget = [1, 9]\ninstances = ['a', 'b']\n"
         "[knobs]\nx = {type='float', range=[0, 1]}", r"budget must be absent with instances"),
        ("command = 'echo {budget}'\nbudget = [1, 9]\nrace = 'racing'\n"
         "[knobs]\nx = {type='float', range=[0, 1]}", r"race must be 'hyperband' \(the default\)"),
        ("command = 'echo'", r"either a \[knobs\] table or space"),
        ("command = 'echo'\n[knobs", r"is not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_knob_file_names_the_key_and_what_was_expected(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "knobs.toml"
    file.write_text(text)
    with pytest.raises(ScenarioError, match=message) as err:
        load_workload(file)
    assert str(file) in str(err.value)


def test_a_command_that_fails_for_some_knobs_is_recorded_crashed(tmp_path: Path) -> None:
    space = ConfigurationSpace({"x": (0, 8)}, seed=0)
    target = CommandTarget("[ {x} -ne 4 ] || exit 7; echo {x}")
    sc = Scenario(space, n_trials=9, deterministic=True, output_directory=None, seed=0)
    smac = SMAC(sc, target, preset="random", progress=False)
    smac.optimize()
    crashed = [
        (info, value)
        for info, value in smac.runhistory.items()
        if value.status is StatusType.CRASHED
    ]
    for key, value in crashed:
        assert smac.runhistory.get_config(key.config_id)["x"] == 4
        assert "exited with status 7" in value.additional_info["error"]
    assert smac.incumbent is not None and smac.incumbent["x"] == 0


def test_a_command_over_the_timeout_is_stopped_with_its_programs(tmp_path: Path) -> None:
    """``timeout`` is the trial's time limit: the trial is a TIMEOUT, and the command's
    programs (here a sleep that wrote its pid) are gone when the run goes on."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    pids = tmp_path / "pids"
    target = CommandTarget(f"sleep 30 & echo $! >> {pids}; wait; echo 1")
    sc = Scenario(space, n_trials=1, trial_walltime_limit=1, output_directory=None, seed=0)
    smac = SMAC(sc, target, raise_on_first_crash=False, progress=False)
    smac.optimize()
    [(_, value)] = list(smac.runhistory.items())
    assert value.status is StatusType.TIMEOUT
    assert_ends(int(pids.read_text().split()[0]), "its trial")


def test_a_command_over_its_memory_limit_is_killed_with_its_programs(tmp_path: Path) -> None:
    """``memory_limit`` counts what the command's processes hold together: here a child
    that the shell started in the background holds the megabytes. A trial over the limit is
    MEMORYOUT, its programs are gone, and the run goes on."""
    space = ConfigurationSpace({"mb": [20, 400]}, seed=0)
    pids = tmp_path / "pids"
    hold = "import time; x = bytearray({mb} * 2**20); time.sleep(3)"
    target = CommandTarget(
        f"{sys.executable} -c '{hold}' & echo $! >> {pids}; wait; echo {{mb}}",
        memory_limit=250,
    )
    sc = Scenario(space, n_trials=2, deterministic=True, output_directory=None, seed=0)
    smac = SMAC(sc, target, preset="random", progress=False)
    smac.optimize()
    outcome = {
        smac.runhistory.get_config(info.config_id)["mb"]: value
        for info, value in smac.runhistory.items()
    }
    assert outcome[20].status is StatusType.SUCCESS and outcome[20].cost == 20.0
    assert outcome[400].status is StatusType.MEMORYOUT
    error = outcome[400].additional_info["error"]
    assert re.search(r"the command's processes held \d+ MB .* over the limit of 250 MB", error)
    for pid in pids.read_text().split():
        assert_ends(int(pid), "its trial")


@pytest.mark.parametrize("memory_limit", [None, 500.0])
def test_a_command_ends_with_its_shell_and_what_holds_its_output_goes(
    space: ConfigurationSpace, tmp_path: Path, memory_limit: float | None
) -> None:
    """``sleep 30 & echo 1`` printed at once, but the trial waited for the sleep, which held
    the output open: 30 s, or a TIMEOUT under a limit (a CLI audit's finding). The trial
    ends half a second after its shell, and the process holding the output is killed."""
    pids = tmp_path / "pids"
    target = CommandTarget(
        f"sleep 30 & echo $! >> {pids}; echo 7; "
        f"(exec sleep 30 >/dev/null 2>&1) & echo $! >> {pids}",
        memory_limit=memory_limit,
    )
    start = time.monotonic()
    assert target(config(space), seed=0) == 7.0
    assert time.monotonic() - start < 10.0
    holder, detached = (int(pid) for pid in pids.read_text().split())
    assert_ends(holder, "the trial")
    # what arrives within the half second after the shell ended is read (a review's finding:
    # without a memory limit it was cut at the next half-second look, at any time before)
    late = CommandTarget("echo 1; (sleep 0.3; echo 9) &", memory_limit=memory_limit)
    assert late(config(space), seed=0) == 9.0
    os.kill(detached, signal.SIGKILL)  # (alive: a program that let go of the output is its own)


KILLED_RUN = """
import sys
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, CommandTarget, Scenario
pids = sys.argv[1]
target = CommandTarget(f"sleep 60 & echo $! >> {pids}; sh -c 'sleep 60' & echo $! >> {pids}; wait")
sc = Scenario(ConfigurationSpace({"x": (0.0, 1.0)}), n_trials=1, output_directory=None)
SMAC(sc, target, progress=False).optimize()
"""


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_takes_its_commands_along_without_limits(tmp_path: Path, signum: int) -> None:
    """Without a time or memory limit a trial runs in the run's own process; the programs
    its command started ran on after a kill -9 or a SIGTERM of the run (an audit's finding),
    beside the trial's next run. The watchdog ends them."""
    pids = tmp_path / "pids"
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.Popen([sys.executable, str(script), str(pids)], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(pids.read_text().split() if pids.exists() else []) < 2:
            assert time.monotonic() < deadline, "the command did not start"
            time.sleep(0.05)
        run.send_signal(signum)
        run.wait(timeout=30)
        for pid in pids.read_text().split():
            assert_ends(int(pid), "the killed run")
    finally:
        run.kill()
        run.wait()


def test_smacx_run_optimizes_a_knob_file_and_continues_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "solver.toml"
    file.write_text(KNOBS.replace("timeout = 20\n", "").replace("repeats = 2", "repeats = 1"))
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--n-trials", "10"]) == 0
    out = capsys.readouterr().out
    assert "best of" in out and "minimum" in out and "x = " in out
    assert f"run stored in {tmp_path / 'runs' / 'solver'}" in out
    assert main([*args, "--n-trials", "20"]) == 0  # continues the same run
    file.write_text(
        KNOBS.replace("timeout = 20\n", "timeout = 30\n").replace("repeats = 2", "repeats = 1")
    )
    assert main([*args, "--n-trials", "20"]) == 0  # a timeout raised: the same run still
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "solver"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trials"] == {"SUCCESS": 20}
    assert main(["run", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read it" in capsys.readouterr().err


def test_a_knob_files_budget_range_runs_hyperband_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """{budget} was always empty from a knob file (a CLI audit's finding): budget = [low, high]
    runs Hyperband over that range, and the command gets whole budgets as whole numbers."""
    file = tmp_path / "hb.toml"
    file.write_text(
        'command = "echo $(( ({x} - 30) * ({x} - 30) + 27 / {budget} ))"\nbudget = [1, 27]\n'
        'n_trials = 40\n[knobs]\nx = { type = "integer", range = [0, 60] }\n'
    )
    w = load_workload(file)
    sc = w.scenario(output_directory=None)
    assert (sc.min_budget, sc.max_budget, w.race) == (1.0, 27.0, "hyperband")
    assert type(w.intensifier()).__name__ == "Hyperband"
    x = w.configspace.get_default_configuration()["x"]
    assert w.target(w.configspace.get_default_configuration(), seed=0, budget=3.0) == (
        (x - 30) ** 2 + 9
    )
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 0
    assert re.search(r"minimum \d+ \(mean of 1 run\)", capsys.readouterr().out)
    # whole ends: a whole {budget}, though Hyperband's budgets are 100 / 3**k (a review's
    # finding: `seq {budget}` got 1.2345679012345678)
    count = tmp_path / "count.toml"
    count.write_text(
        'command = "seq {budget} | wc -l"\nbudget = [1, 100]\n'
        '[knobs]\nx = { type = "integer", range = [0, 60] }\n'
    )
    counted = load_workload(count).target
    default = w.configspace.get_default_configuration()
    for budget, expected in ((1.2345679012345678, 1.0), (3.7037, 4.0), (100.0, 100.0)):
        assert counted(default, seed=0, budget=budget) == expected
    count.write_text(count.read_text().replace("[1, 100]", "[0.5, 100]"))
    assert not load_workload(count).target.whole_budgets  # (a fractional end: as it is)
    assert CommandTarget("echo {budget}")(default, seed=0, budget=3.5) == 3.5
    assert main(["show", str(tmp_path / "runs" / "hb"), "--json", "--trials"]) == 0
    budgets = Counter(t["budget"] for t in json.loads(capsys.readouterr().out)["all_trials"])
    assert set(budgets) == {1.0, 3.0, 9.0, 27.0} and budgets[1.0] > budgets[27.0]


def test_a_first_trial_that_measures_nan_does_not_stop_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training run that diverged at a high learning rate printed nan, and when that was the
    first trial, smacx run stopped, calling the command likely wrong, where the Python API
    records a NaN CRASHED and goes on (a porting audit's finding)."""
    report = run_knob_file(  # (the default configuration runs first)
        tmp_path,
        'command = "if [ {lr} = 0.5 ]; then echo val_error: nan; else echo val_error: {lr}; '
        'fi"\nn_trials = 4\n[knobs]\nlr = { type = "float", range = [1e-5, 1.0], log = true, '
        "default = 0.5 }\n",
    )
    first = report["all_trials"][0]
    assert first["config"]["lr"] == 0.5 and first["status"] == "CRASHED"
    assert "the measurement is nan, not a finite number" in first["reason"]
    assert report["trials"] == {"CRASHED": 1, "SUCCESS": 3}


def test_smacx_run_prints_the_incumbents_cost_without_its_failed_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A configuration that failed one of its repeats was printed as "minimum inf (mean of 3
    runs)" (a CLI audit's finding), where the run's summary gave the mean of the others."""
    file = tmp_path / "flaky.toml"
    file.write_text(
        'command = "test $(( {seed} % 3 )) -eq 0 && exit 1; echo {x}"\nrepeats = 3\n'
        'n_trials = 6\n[knobs]\nx = { type = "integer", range = [1000000, 9999999] }\n'
    )
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--keep-going"]) == 0
    out = capsys.readouterr().out
    best = re.search(r"minimum (\S+) \(mean of (\d+) runs?; (\d+) more failed\)", out)
    assert best is not None, out
    x = int(re.search(r"x = (\d+)", out).group(1))  # type: ignore[union-attr]
    assert float(best.group(1)) == x  # every digit, not 1.23457e+06
    assert int(best.group(2)) >= 1 and int(best.group(3)) >= 1
    # the median named as such, and a failed trial of a maximized run is no measurement (a
    # review's findings: "(mean of 3 runs)" for a median, and "measured -inf")
    file.write_text(
        file.read_text().replace(
            "repeats = 3", 'repeats = 3\ngoal = "maximize"\naggregate = "median"'
        )
    )
    assert main([*args, "--keep-going", "--name", "flaky-max"]) == 0
    assert re.search(
        r"maximum \d+ \(median of \d+ runs?; \d+ more failed\)", capsys.readouterr().out
    )
    assert main(["show", str(tmp_path / "runs" / "flaky-max"), "--trials"]) == 0
    listed = capsys.readouterr().out
    assert "CRASHED, no measurement" in listed and "-inf" not in listed
    assert re.search(r"\n        CommandError: the command exited with status 1: ", listed)
    # a run that has no incumbent lists its trials too (a second audit's finding)
    file.write_text(file.read_text().replace('command = "', 'command = "exit 4; '))
    assert main([*args, "--keep-going", "--name", "all-fail"]) == 1
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "all-fail"), "--trials"]) == 0
    listed = capsys.readouterr().out
    assert "incumbent:  none yet" in listed and listed.count("CRASHED, no measurement") == 6


def test_smacx_run_warns_when_a_continued_run_runs_elsewhere_or_with_other_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same knob file name beside another build of the program (v1/, v2/), or another
    [env], continued the run in silence and mixed the two's measurements (a CLI audit's
    finding): the change is warned of, once."""
    knob = (
        'command = "echo {x}"\nn_trials = %d\n[knobs]\nx = { type = "integer", range = [0, 9] }\n'
    )
    runs = str(tmp_path / "runs")
    for folder in ("v1", "v2"):
        (tmp_path / folder).mkdir()
    first, moved = tmp_path / "v1" / "knobs.toml", tmp_path / "v2" / "knobs.toml"
    first.write_text(knob % 2)
    moved.write_text(knob % 9)

    def run(file: Path, n_trials: int) -> str:
        args = ["run", str(file), "--output-dir", runs, "--no-progress", "--n-trials"]
        assert main([*args, str(n_trials)]) == 0
        return capsys.readouterr().err

    assert "other settings" not in run(first, 2) + run(first, 3)
    said = run(moved, 4)
    assert re.search(r"other settings: workdir was '\S*v1', now '\S*v2'", said), said
    assert "other settings" not in run(moved, 5)  # (warned once)
    moved.write_text(knob % 9 + '[env]\nOFFSET = "1"\nTOKEN = "tok_s3cret"\n')
    assert "the [env] variables ['OFFSET', 'TOKEN'] changed" in run(moved, 6)
    moved.write_text(knob % 9 + '[env]\nOFFSET = "1"\nTOKEN = "tok_n3w"\n')
    said = run(moved, 7)
    assert "the [env] variables ['TOKEN'] changed" in said
    # (a secret is neither said nor stored: the run keeps digests of the values)
    database = (tmp_path / "runs" / "knobs" / "runhistory.db").read_bytes()
    assert b"tok_" not in database and "tok_" not in said
    # a run stored with the values themselves has them replaced by digests when continued
    from smacx.storage.sqlite import SQLiteStorage

    stored = SQLiteStorage(tmp_path / "runs" / "knobs" / "runhistory.db")
    setting = json.loads(stored.get_meta("setting") or "{}")
    stored.set_meta("setting", json.dumps({**setting, "env": {"OFFSET": "1", "TOKEN": "tok_n3w"}}))
    stored.close()
    assert "other settings" not in run(moved, 8)  # (the same values: no warning)
    stored = SQLiteStorage(tmp_path / "runs" / "knobs" / "runhistory.db")
    setting = json.loads(stored.get_meta("setting") or "{}")
    assert "tok_" not in json.dumps(setting)
    # Slow digests (scrypt): of fast SHA-256 ones a weak secret was guessed in 0.02 s (a
    # security audit's finding). Those an older smacx stored are taken for the same values.
    assert all(d.startswith("scrypt:") for d in setting["env"].values())
    from smacx.cli import _fast_digest

    run_name = "knobs"
    fast = {k: _fast_digest(run_name, k, v) for k, v in (("OFFSET", "1"), ("TOKEN", "tok_n3w"))}
    stored.set_meta("setting", json.dumps({**setting, "env": fast}))
    stored.close()
    assert "other settings" not in run(moved, 9)
    stored = SQLiteStorage(tmp_path / "runs" / "knobs" / "runhistory.db")
    assert json.loads(stored.get_meta("setting") or "{}")["env"] == setting["env"]
    stored.close()


@pytest.mark.parametrize(
    ("printed", "measured"),
    [
        ("cycles: 1,234,567 (perf stat)", 1234567.0),  # thousands separators
        ("mean -1,234.5 ops", -1234.5),
        ("values 1, 23", 23.0),  # two numbers (1,23 is an error: a decimal comma?)
        ("[0.1,0.25]", 0.25),  # a list, or a CSV row: a point of its own is no decimal comma
        ("3,-0.5", -0.5),
        ("finished 2024-01-05", 5.0),  # a hyphen, not a minus
        ("threads 1-8", 8.0),
        ("delta x=-3", -3.0),
    ],
)
def test_the_last_number_as_programs_print_it(
    space: ConfigurationSpace, printed: str, measured: float
) -> None:
    assert CommandTarget(f"echo '{printed}'")(config(space), seed=0) == measured


def test_a_patterns_match_may_have_thousands_separators(space: ConfigurationSpace) -> None:
    target = CommandTarget("echo 'ops: 12,345,678 per s'", pattern=r"ops: (\S+)")
    assert target(config(space), seed=0) == 12345678.0


@pytest.mark.parametrize("printed", ["nan", "NaN", "inf", "-Infinity", "INF"])
def test_a_measurement_that_is_no_finite_number_is_an_error(
    space: ConfigurationSpace, printed: str
) -> None:
    """Never the number before it (``epoch 3 loss NaN`` is not 3), never a cost of inf."""
    with pytest.raises(CommandError, match=r"the measurement is -?(nan|inf), not a finite"):
        CommandTarget(f"echo 'epoch 3 loss {printed}'")(config(space), seed=0)


def test_a_command_that_prints_only_to_stderr_is_told_so(space: ConfigurationSpace) -> None:
    with pytest.raises(CommandError, match=r"only to stderr \(add 2>&1.*\n    took 5 ms"):
        CommandTarget("echo 'took 5 ms' >&2")(config(space), seed=0)
    # (stdout sent elsewhere: a 2>&1 appended would follow it; a CLI audit's finding)
    redirected = CommandTarget("(echo 'took 5 ms' >&2; echo log) > /dev/null")
    with pytest.raises(CommandError, match=r"put 2>&1 before the command's > redirection"):
        redirected(config(space), seed=0)
    fixed = CommandTarget("(echo 'took 5 ms' >&2; echo log) 2>&1 >/dev/null")
    assert fixed(config(space), seed=0) == 5.0
    explicit = CommandTarget("(echo 'took 5 ms' >&2; echo log) 1>/dev/null")
    with pytest.raises(CommandError, match=r"put 2>&1 before the command's > redirection"):
        explicit(config(space), seed=0)


def test_a_result_file_left_by_an_earlier_trial_is_not_read(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    target = CommandTarget(
        "[ {n} -ne 3 ] || echo 3 > out.txt", result="out.txt", workdir=str(tmp_path)
    )
    assert target(config(space, n=3), seed=0) == 3.0
    with pytest.raises(CommandError, match=r"did not write the result file .*out\.txt"):
        target(config(space, n=4), seed=0)  # writes nothing: the 3 is not its measurement


def test_trials_that_write_one_result_file_take_turns(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two trials at once (threads here; processes of one machine alike) with one result
    file: each reads its own measurement, never the other's, which it would find there if
    both ran at once. More than one worker on a fixed result file is refused."""
    target = CommandTarget("echo {n} > out.txt; sleep 0.4", result="out.txt", workdir=str(tmp_path))
    results: dict[int, float] = {}

    def trial(n: int) -> None:
        results[n] = target(config(space, n=n), seed=0)

    threads = [threading.Thread(target=trial, args=(n,)) for n in (1, 2)]
    with caplog.at_level("WARNING", logger="smacx"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {1: 1.0, 2: 2.0}
    assert "take turns" in caplog.text and "result = '{trial_dir}/out.txt'" in caplog.text
    file = tmp_path / "knobs.toml"
    file.write_text(KNOBS.replace("n_trials = 12", "n_trials = 12\nresult = 'out.txt'"))
    with pytest.raises(ScenarioError, match=r"result must name a file of each trial's own .*"
                       r"result = '\{trial_dir\}/out.txt'"):  # fmt: skip
        load_workload(file).scenario(output_directory=None, n_workers=2)
    file.write_text(KNOBS.replace("n_trials = 12", "n_trials = 12\nresult = 'out-{x}.txt'"))
    with pytest.raises(ScenarioError, match=r"which two trials may share"):
        load_workload(file).scenario(output_directory=None, n_workers=2)
    file.write_text(KNOBS.replace("n_trials = 12", "n_trials = 12\nresult = '{trial_dir}/o'"))
    assert load_workload(file).scenario(output_directory=None, n_workers=2).n_workers == 2


def test_a_lock_folder_that_is_not_this_users_own_is_refused(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Lock files live in smacx-<kind>-<uid> in the temporary folder: one that is a link
    (made by another user, say) is refused, not followed; one of this user's that others may
    read (an earlier smacx made it with the umask's mode) is made private."""
    target = CommandTarget("echo 1 > out.txt", result="out.txt", workdir=str(tmp_path))
    folder = tmp_path / f"smacx-results-{os.getuid()}"  # (tempfile.tempdir is tmp_path here)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.symlink_to(elsewhere)
    with pytest.raises(CommandError, match=r"must be a folder of this user's own .* got a link"):
        target(config(space), seed=0)
    assert not list(elsewhere.iterdir())
    folder.unlink()
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert target(config(space), seed=0) == 1.0
    assert folder.stat().st_mode & 0o777 == 0o700


def test_an_inactive_knob_is_an_empty_word(tmp_path: Path) -> None:
    """A knob whose condition is unmet is in no configuration: the command gets '' for it (the
    trial runs, no KeyError), which ``${m:+--momentum "$m"}`` can turn into no flag at all."""
    from ConfigSpace import EqualsCondition

    algo, momentum = Categorical("algo", ["sgd", "adam"]), Float("momentum", (0.1, 0.9))
    space = ConfigurationSpace()
    space.add(algo, momentum, EqualsCondition(momentum, algo, "sgd"))
    target = CommandTarget('m={momentum}; printf "%s|" {algo} ${{m:+--momentum "$m"}}; echo 1')
    target.check(space)
    adam = Configuration(space, values={"algo": "adam"})
    with pytest.raises(CommandError, match=r"'adam\|1'"):  # (no number: shown in the error)
        CommandTarget(target.command, pattern=r"^(.+)$")(adam, seed=0)
    assert target(adam, seed=0) == 1.0
    sgd = Configuration(space, values={"algo": "sgd", "momentum": 0.5})
    with pytest.raises(CommandError, match=r"'sgd\|--momentum\|0.5\|1'"):
        CommandTarget(target.command, pattern=r"^(.+)$")(sgd, seed=0)


def test_a_json_knob_file_with_a_float_range_past_any_float_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "knobs.json"
    huge = int("9" * 400)  # (JSON has integers of any size; TOML's stop at 64 bits)
    knobs = {"x": {"type": "float", "range": [0, huge]}}
    file.write_text(json.dumps({"command": "echo {x}", "knobs": knobs}))
    with pytest.raises(ScenarioError, match=r"knob 'x': expected a finite range"):
        load_workload(file)


def test_a_knob_with_a_trial_fields_name_is_refused() -> None:
    """``{seed}`` would silently be the trial's seed, not the knob's value."""
    space = ConfigurationSpace({"seed": (0, 9)})
    with pytest.raises(ScenarioError, match=r"knob\(s\) \['seed'\] have the name of a trial"):
        CommandTarget("echo {seed}").check(space)


def test_a_bool_knob_reaches_the_command_as_the_file_spells_it() -> None:
    space = ConfigurationSpace([Categorical("fast", [True, False])])
    target = CommandTarget("echo {fast} 1", pattern=r"(\S+) 1")
    with pytest.raises(CommandError, match=r"the match 'false'"):
        target(Configuration(space, values={"fast": False}), seed=0)


def test_env_reaches_the_command_on_a_host(space: ConfigurationSpace) -> None:
    target = CommandTarget(
        'echo "$GREETING" 1',
        pattern=r"(.*) 1",
        hosts=("node-1",),
        launcher="env -u GREETING HOST={host} sh -c",  # (a login on the host has none of ours)
        env={"GREETING": "it's me"},
    )
    with pytest.raises(CommandError, match=r"the match \"it's me\""):
        target(config(space), seed=0)


def test_a_host_the_launcher_cannot_reach_is_left_for_another(
    space: ConfigurationSpace,
    host_marks: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ssh's own failure (status 255, the command never ran) on one host: the trial runs on
    another, the failure is logged, and the other trials try that host last for
    HOST_DOWN_SECONDS. A trial that reaches none tries again for HOST_RETRY_SECONDS. A command
    that itself exits with 255 is the trial's failure, and the host stays in use."""
    monkeypatch.setattr(command_module, "HOST_RETRY_SECONDS", 1.0)
    launcher = 'sh -c \'case "$0" in down*) exit 255;; *) sh -c "$1";; esac\' {host}'
    target = CommandTarget("echo {host} 7", hosts=("down-1", "up-1"), launcher=launcher)
    assert target(config(space), seed=0) == 7.0
    assert (host_marks / "down-1.down").exists()
    assert not (host_marks / "up-1.down").exists()
    assert "Host down-1 could not be reached" in caplog.text
    nowhere = CommandTarget("echo 1", hosts=("down-1", "down-2"), launcher=launcher)
    start = time.monotonic()
    with pytest.raises(CommandError, match=r"could reach none of the hosts, tried for 1 s \(last: "
                       r"down-\d: \(it printed nothing\); down-\d"):  # fmt: skip
        nowhere(config(space), seed=0)
    assert 1.0 <= time.monotonic() - start < 5.0
    # within the time limit, so that the trial fails for this reason, not as a TIMEOUT (a
    # review's finding: a knob file's timeout of 3 s ended every such trial TIMEOUT)
    monkeypatch.setattr(command_module, "HOST_RETRY_SECONDS", 30.0)
    limited = dataclasses.replace(nowhere, remote_timeout=1)
    start = time.monotonic()
    with pytest.raises(CommandError, match=r"could reach none of the hosts, tried for 0.5 s"):
        limited(config(space), seed=0)
    assert time.monotonic() - start < 3.0
    own = CommandTarget("echo ran; exit 255", hosts=("up-1",), launcher=launcher)
    with pytest.raises(CommandError, match=r"on up-1 exited with status 255: .*\n    ran"):
        own(config(space), seed=0)
    assert not (host_marks / "up-1.down").exists()


def test_a_host_marked_down_is_tried_when_no_other_is_left_and_a_blip_is_waited_out(
    space: ConfigurationSpace, tmp_path: Path, host_marks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host's mark from an earlier run (or one back up) failed every trial at once without
    a try, and a network blip failed every trial while it lasted (a CLI audit's findings)."""
    monkeypatch.setattr(command_module, "HOST_RETRY_SECONDS", 20.0)
    down = tmp_path / "down"
    launcher = f"sh -c 'test -e {down} && exit 255; sh -c \"$1\"' {{host}}"
    target = CommandTarget("echo 7", hosts=("only",), launcher=launcher)
    host_marks.mkdir(parents=True, exist_ok=True)
    (host_marks / "only.down").touch()  # an earlier run's mark
    assert target(config(space), seed=0) == 7.0
    down.touch()
    threading.Timer(1.5, down.unlink).start()  # the blip ends 1.5 s into the trial
    start = time.monotonic()
    assert target(config(space), seed=0) == 7.0
    assert 1.4 < time.monotonic() - start < 10.0


def test_more_workers_than_hosts_is_refused(tmp_path: Path) -> None:
    """A worker that waits for a host would have the wait count towards its timeout."""
    file = tmp_path / "knobs.toml"
    file.write_text('hosts = ["a", "b"]\n' + KNOBS)
    w = load_workload(file)
    assert w.scenario(output_directory=None).n_workers == 2
    with pytest.raises(ScenarioError, match=r"workers must be at most the number of hosts \(2"):
        w.scenario(output_directory=None, n_workers=3)


def test_a_knob_file_with_whole_floats_for_an_integer_range(tmp_path: Path) -> None:
    file = tmp_path / "knobs.toml"
    file.write_text("command = 'echo {n}'\n[knobs]\nn = {type='integer', range=[1.0, 1e3]}\n")
    n = load_workload(file).configspace["n"]
    assert (n.lower, n.upper) == (1, 1000)
    file.write_text("command = 'echo {n}'\n[knobs]\nn = {type='integer', range=[0.5, 9]}\n")
    with pytest.raises(ScenarioError, match=r"two integer numbers.*got \[0\.5, 9\]\.$"):
        load_workload(file)
    file.write_text("command = 'echo {n}'\n[knobs]\nn = {type='float', range=[0, 1], log=1}\n")
    with pytest.raises(ScenarioError) as err:  # said once, not wrapped in a second message
        load_workload(file)
    assert str(err.value).count("knob file") == 1 and "log = true or false" in str(err.value)


def test_a_noise_free_measurement_runs_each_configuration_once(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "knobs.toml"
    file.write_text("command = 'echo {n}'\n[knobs]\nn = {type='integer', range=[1, 9]}\n")
    w = load_workload(file)
    assert w.intensifier().max_config_calls == 1
    SMAC(w.scenario(output_directory=None), w.target, intensifier=w.intensifier(), progress=False)
    assert "max_config_calls" not in caplog.text  # (it warned on every run)


def test_smacx_run_stops_at_a_broken_command_with_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "broken.toml"
    file.write_text(
        "command = 'echo oops >&2; exit 3'\n[knobs]\nn = {type='integer', range=[1, 9]}\n"
    )
    runs = str(tmp_path / "runs")
    args = ["run", str(file), "--output-dir", runs, "--no-progress", "--n-trials", "3"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "exited with status 3" in err and "    oops" in err
    assert "--overwrite" in err and "--keep-going" in err and "raise_on_first_crash" not in err
    assert main([*args, "--keep-going"]) == 1  # all crash: no configuration worked
    assert "no configuration worked" in capsys.readouterr().out
    # as a user's terminal shows it: the library's warning as a line of the log, not with
    # the library's source line (pytest records warnings, so in a process of its own)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "smacx", *args, "--keep-going", "--n-trials", "4"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "WARNING smacx: The run ended without an incumbent" in done.stderr, done.stderr
    assert "UserWarning" not in done.stderr and "facade.py" not in done.stderr
    assert main(["show", str(tmp_path / "runs" / "broken"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"] == {"CRASHED": 4}


def test_a_knob_file_that_gives_defaults_has_them_measured_first(tmp_path: Path) -> None:
    """A performance engineer's defaults are the settings in use: the baseline to beat."""
    file = tmp_path / "base.toml"
    file.write_text(
        "command = 'echo {t} >> " + str(tmp_path / "ran") + "; echo {t}'\nn_trials = 4\n"
        "[knobs]\nt = {type='integer', range=[1, 64], log=true, default=7}\n"
    )
    w = load_workload(file)
    assert w.baseline and w.initial_design() is not None
    runs = str(tmp_path / "runs")
    assert main(["run", str(file), "--output-dir", runs, "--no-progress"]) == 0
    assert (tmp_path / "ran").read_text().split()[0] == "7"
    file.write_text("command = 'echo {t}'\n[knobs]\nt = {type='integer', range=[1, 64]}\n")
    assert load_workload(file).initial_design() is None  # the preset's own design


def test_smacx_show_counts_commands_that_failed_alike_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each failed command's reason quotes the command, with its knob values and seed: shown
    by the knob file's template instead, trials that failed alike count together."""
    file = tmp_path / "big.toml"
    file.write_text(
        "command = 'if [ {n} -gt 4 ]; then echo too big >&2; exit 3; fi; echo {n} {seed}'\n"
        "pattern = '^([0-9]+)'\n[knobs]\nn = {type='integer', range=[1, 9]}\n"
    )
    runs = str(tmp_path / "runs")
    args = ["run", str(file), "--output-dir", runs, "--no-progress", "--n-trials", "9"]
    assert main([*args, "--keep-going"]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "big"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    crashed = report["trials"]["CRASHED"]
    [failure] = report["failures"]
    assert failure["count"] == crashed >= 2
    assert "exited with status 3: if [ {n} -gt 4 ]; then echo too big" in failure["reason"]


def test_smacx_show_of_a_maximized_run_prints_the_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "speed.toml"
    file.write_text(
        "command = 'echo {n}'\ngoal = 'maximize'\n[knobs]\nn = {type='integer', range=[1, 4]}\n"
    )
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--n-trials", "4"]) == 0
    assert "maximum 4 (mean of 1 run)" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "runs" / "speed")]) == 0
    out = capsys.readouterr().out
    assert "goal:       maximize" in out and "incumbent:  measured 4, cost -4" in out
    file.write_text(file.read_text().replace("maximize", "minimize"))
    assert main(args) == 1  # continued with the other goal, the costs would not compare
    err = capsys.readouterr().err
    assert "made with goal = 'maximize', not 'minimize'" in err and "--overwrite" in err


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[str]:
    """A real SSH server on loopback (asyncssh's) that runs each command with /bin/sh, for the
    system's own ssh client; yields the launcher that reaches it (the host is the name)."""
    if shutil.which("ssh") is None:
        pytest.skip("no ssh client on this machine")
    with warnings.catch_warnings():  # (its DSA support warns at import)
        warnings.simplefilter("ignore")
        asyncssh = pytest.importorskip("asyncssh")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    client_key.write_private_key(str(key_file))
    key_file.chmod(0o600)
    loop = asyncio.new_event_loop()

    async def run(process: Any) -> None:
        # As sshd: the command in a session of its own (no signal of the client's reaches
        # it), fed the connection's input, which ends when the connection goes away.
        shell = subprocess.Popen(
            process.command,
            shell=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert shell.stdin is not None and shell.stdout is not None and shell.stderr is not None

        async def feed() -> None:
            with contextlib.suppress(Exception):
                while data := await process.stdin.read(4096):
                    shell.stdin.write(data.encode())
                    shell.stdin.flush()
            with contextlib.suppress(OSError):
                shell.stdin.close()

        feeding = asyncio.ensure_future(feed())
        loop = asyncio.get_running_loop()
        out, err = await asyncio.gather(
            loop.run_in_executor(None, shell.stdout.read),
            loop.run_in_executor(None, shell.stderr.read),
        )
        status = await loop.run_in_executor(None, shell.wait)
        feeding.cancel()
        process.stdout.write(out.decode())
        process.stderr.write(err.decode())
        process.exit(status)

    async def start() -> Any:
        return await asyncssh.create_server(
            asyncssh.SSHServer,
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                client_key.export_public_key().decode()
            ),
            process_factory=run,
        )

    server = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = server.sockets[0].getsockname()[1]
    try:
        yield (
            f"ssh -p {port} -i {key_file} -o BatchMode=yes -o StrictHostKeyChecking=no "
            "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {host}"
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def test_trials_run_on_hosts_over_a_real_ssh_connection(
    ssh_server: str, tmp_path: Path, host_marks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system's ssh client, a real SSH server: the command reaches the host as one quoted
    string, runs in ``workdir`` there, and its values stay single words; a run spreads its
    trials over the hosts."""
    space = ConfigurationSpace([Integer("n", (0, 6)), Categorical("mode", ["a b", "c;d"])], seed=0)
    (tmp_path / "remote").mkdir()
    target = CommandTarget(
        "printf '%s|' \"$(pwd)\" {mode} {host}; echo; echo $(( ({n} - 2) * ({n} - 2) ))",
        hosts=("alice@127.0.0.1", "bob@127.0.0.1"),
        launcher=ssh_server,
        workdir=str(tmp_path / "remote"),
    )
    probe = CommandTarget(
        "printf '%s|' \"$(pwd)\" {mode} {host}; echo",
        pattern=r"^(.+)$",
        hosts=("alice@127.0.0.1",),
        launcher=ssh_server,
        workdir=str(tmp_path / "remote"),
    )
    with pytest.raises(
        CommandError, match=rf"the match '{tmp_path / 'remote'}\|c;d\|alice@127\.0\.0\.1\|'"
    ):
        probe(Configuration(space, values={"n": 1, "mode": "c;d"}), seed=0)
    sc = Scenario(space, n_trials=8, deterministic=True, output_directory=None, seed=0)
    smac = SMAC(sc, target, preset="random", progress=False)
    incumbent = smac.optimize()
    assert incumbent is not None and incumbent["n"] == 2
    assert smac.runhistory.status_counts() == {"SUCCESS": 8}
    monkeypatch.setattr(command_module, "HOST_RETRY_SECONDS", 1.0)  # (30 s by default)
    refused = "ssh -p 1 -o BatchMode=yes -o ConnectTimeout=5 {host}"  # nothing listens there
    failing = CommandTarget("true", hosts=(f"{tmp_path.name}@127.0.0.1",), launcher=refused)
    with pytest.raises(CommandError, match=r"(?s)could reach none .*Connection refused"):
        failing(incumbent, seed=0)


def test_a_command_over_its_remote_timeout_is_stopped_on_its_host(
    ssh_server: str, tmp_path: Path
) -> None:
    """ssh does not stop a command whose connection went away: a trial stopped here for its
    time limit went on running on its host, beside the next trial. remote_timeout (the knob
    file's timeout) stops it there, with what it started."""
    pids = tmp_path / "pids"
    target = CommandTarget(
        f"sleep 30 & echo $! >> {pids}; wait; echo 1",
        hosts=("alice@127.0.0.1",),
        launcher=ssh_server,
        remote_timeout=1,
    )
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"status 124 \(stopped on its host after remote_"):
        target(space.get_default_configuration(), seed=0)
    assert time.monotonic() - started < 10
    assert_ends(int(pids.read_text().split()[0]), "its remote timeout")


ON_A_HOST = """
import sys
from ConfigSpace import ConfigurationSpace
from smacx.command import CommandTarget
pids, launcher = sys.argv[1:]
target = CommandTarget(f"sleep 60 & echo $! >> {pids}; wait; echo 1", hosts=("a@127.0.0.1",),
                       launcher=launcher)
target(ConfigurationSpace({"x": (0.0, 1.0)}).get_default_configuration(), seed=0)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_a_command_on_a_host_ends_with_the_trial_that_ran_it(
    ssh_server: str, tmp_path: Path, signum: int
) -> None:
    """ssh passes no signal on: after Ctrl-C or a kill -9 of the run, a command on a host ran
    on there beside the host's next trial (a left-out of an earlier stop). It watches its
    connection, and ends with what it started when that goes away."""
    pids = tmp_path / "pids"
    script = tmp_path / "run.py"
    script.write_text(ON_A_HOST)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.Popen([sys.executable, str(script), str(pids), ssh_server], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (pids.exists() and pids.read_text().endswith("\n")):
            assert time.monotonic() < deadline and run.poll() is None, "it did not start"
            time.sleep(0.05)
        run.send_signal(signum)
        run.wait(timeout=30)
        assert_ends(int(pids.read_text()), "the run that started it")
    finally:
        run.kill()
        run.wait()


@pytest.mark.parametrize("shell", ["sh", "dash", "bash", "zsh", "ksh", "busybox"])
def test_the_wrapper_on_a_host_runs_under_every_login_shell_as_the_command_did(
    shell: str, space: ConfigurationSpace
) -> None:
    """The wrapper that watches the connection runs in the host's login shell (a review's
    findings: zsh's $status is read-only, and every trial failed there; a command run as a
    background job ignored SIGINT, so one stopped with `timeout -s INT` ran on)."""
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"no {shell} on this machine")
    login = f"{found} sh -c" if shell == "busybox" else f"{found} -c"
    for remote_timeout in (None, 30):
        target = CommandTarget(
            "sh -c 'kill -INT $$; sleep 1'; echo status $?",
            hosts=("h",),
            launcher=f"env H={{host}} {login}",
            remote_timeout=remote_timeout,
        )
        assert target(config(space), seed=0) == 130.0  # (the default SIGINT: killed)
        failing = dataclasses.replace(target, command="echo ran; exit 3")
        with pytest.raises(CommandError, match=r"on h exited with status 3: echo ran; exit 3\n"):
            failing(config(space), seed=0)


def test_a_launcher_that_gives_the_host_no_input_still_runs_the_command(
    ssh_server: str,
) -> None:
    """``ssh -n`` ends the command's input at once: that is no lost connection."""
    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    target = CommandTarget(
        "sleep 1; echo 7", hosts=("a@127.0.0.1",), launcher=ssh_server.replace("ssh ", "ssh -n ", 1)
    )
    assert target(space.get_default_configuration(), seed=0) == 7.0


def test_knob_names_with_a_hyphen_and_optional_groups(tmp_path: Path) -> None:
    file = tmp_path / "knobs.toml"
    file.write_text(
        'command = "echo p99: {cache-size}"\n'
        "pattern = 'p99: (?:([0-9.]+)|n/a)'\n"
        "[knobs]\ncache-size = { type = 'integer', range = [1, 64] }\n"
    )
    w = load_workload(file)
    default = w.configspace.get_default_configuration()
    assert w.target(default, seed=0) == float(default["cache-size"])
    na = CommandTarget("echo p99: n/a", pattern=r"p99: (?:([0-9.]+)|n/a)")
    with pytest.raises(CommandError, match=r"matched, but not its group"):
        na(default, seed=0)


def test_smacx_run_names_the_option_of_a_bad_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "solver.toml"
    file.write_text(KNOBS)
    for option, value, expected in (
        ("--workers", "0", "a whole number >= 1"),
        ("--seed", "-1", r"a whole number in [0, 2**32)"),
        ("--name", "a/b", "a folder name"),
    ):
        with pytest.raises(SystemExit):
            main(["run", str(file), option, value])
        assert f"{option}: expected {expected}" in capsys.readouterr().err


def test_smacx_run_refuses_to_continue_a_run_whose_command_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited command (or pattern) run on the same output directory mixed the old and the
    new measurements in one run."""
    file = tmp_path / "knobs.toml"
    file.write_text("command = 'echo {n}'\n[knobs]\nn = {type='integer', range=[1, 9]}\n")
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main([*args, "--n-trials", "3"]) == 0
    file.write_text("command = 'echo $(({n} * 2))'\n[knobs]\nn = {type='integer', range=[1, 9]}\n")
    capsys.readouterr()
    assert main([*args, "--n-trials", "6"]) == 1
    err = capsys.readouterr().err
    assert "whose command was 'echo {n}', not 'echo $(({n} * 2))'" in err
    assert "--overwrite" in err and "--name" in err
    assert main([*args, "--n-trials", "6", "--overwrite"]) == 0
    # a changed timeout continues the run (raised after trials timed out); a changed space
    # does not, and the advice is in the knob file's terms
    file.write_text("timeout = 5\n" + file.read_text())
    assert main([*args, "--n-trials", "7"]) == 0
    file.write_text(file.read_text().replace("[1, 9]", "[1, 8]"))
    capsys.readouterr()
    assert main([*args, "--n-trials", "8"]) == 1
    err = capsys.readouterr().err
    assert (
        "configspace" in err
        and "only n_trials, walltime, workers, timeout and memory may change" in err
    )


def test_a_knob_file_with_instances_races_the_command_over_them(tmp_path: Path) -> None:
    """``instances`` (a solver's benchmark set): configurations are raced over them, each
    trial's command gets its own as ``{instance}``."""
    file = tmp_path / "solver.toml"
    file.write_text(
        'command = "case {instance} in easy) echo {n};; hard) echo $(({n} * 10));; esac"\n'
        'instances = ["easy", "hard"]\n'
        "[knobs]\nn = {type='integer', range=[1, 40]}\n"
    )
    w = load_workload(file)
    assert w.instances == ("easy", "hard")
    assert w.intensifier().max_config_calls == 2  # each instance once: the command is exact
    sc = w.scenario(output_directory=None, n_trials=12)
    assert list(sc.instances or ()) == ["easy", "hard"]
    smac = SMAC(sc, w.target, intensifier=w.intensifier(), progress=False)
    incumbent = smac.optimize()
    assert {key.instance for key, _ in smac.runhistory.items()} == {"easy", "hard"}
    assert incumbent is not None and incumbent["n"] == min(
        smac.runhistory.get_config(k.config_id)["n"]
        for k, _ in smac.runhistory.items()
        if len(smac.runhistory.get_trials(smac.runhistory.get_config(k.config_id))) == 2
    )
    file.write_text(file.read_text().replace("{instance}", "x"))
    with pytest.raises(ScenarioError, match=r"instances must be used as \{instance\}"):
        load_workload(file)


def test_a_knob_file_races_its_instances_with_hyperband(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`race = "hyperband"`: brackets start configurations on one of nine instances and keep
    the best third of each stage for three times as many (1, 3, 9)."""
    names = json.dumps([f"{k}" for k in range(9)])
    knobs = '\n[knobs]\nx = { type = "integer", range = [0, 50] }\n'
    file = tmp_path / "solver.toml"
    file.write_text(
        f'command = "echo $(( {{x}} + {{instance}} ))"\nrace = "hyperband"\nn_trials = 42\n'
        f"instances = {names}\n{knobs}"
    )
    w = load_workload(file)
    assert w.race == "hyperband" and repr(w.intensifier()).startswith("Hyperband(")
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 0
    assert "best of" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "runs" / "solver"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trials"] == {"SUCCESS": 42}  # two whole brackets: 21 trials each
    db = sqlite3.connect(tmp_path / "runs" / "solver" / "runhistory.db")
    runs = Counter(n for (n,) in db.execute("SELECT count(*) FROM trials GROUP BY config_id"))
    db.close()
    assert runs == {1: 6, 3: 6, 9: 2}  # 9 on 1, 3 on 3, 1 on 9; then 5 on 3, 1 on 9
    for text, said in (
        (f'command = "echo {{x}}"\nrace = "fast"\n{knobs}', "'racing' or 'hyperband'"),
        (f'command = "echo {{x}}"\nrace = "hyperband"\n{knobs}', "'racing' without instances"),
    ):
        file.write_text(text)
        with pytest.raises(ScenarioError, match=said):
            load_workload(file)
    file.write_text(f'command = "echo {{x}}"\nrace = "hyperband"\nrepeats = 3\n{knobs}')
    assert repr(load_workload(file).intensifier()).startswith("Hyperband(eta=3, n_seeds=3")


def test_summary_groups_a_commands_failures_by_its_template() -> None:
    """SMAC.summary() named each failed command with its knob values as a reason of its own
    (four reasons of one trial each); as smacx show does, it groups them by the template."""
    space = ConfigurationSpace([Integer("n", (1, 9)), Float("r", (0.0, 1.0))], seed=0)
    target = CommandTarget("echo oops >&2; exit 3; echo {n} {r}")
    sc = Scenario(space, n_trials=4, output_directory=None, seed=0, deterministic=True)
    smac = SMAC(sc, target, raise_on_first_crash=False, progress=False)
    with pytest.warns(UserWarning, match=r"most often, 4 times: "):
        smac.optimize()
    assert "\n    4 CRASHED: " in smac.summary()


def test_templates_a_shell_or_a_host_would_defeat_are_refused_or_warned_of(
    space: ConfigurationSpace,
) -> None:
    """From a command-line audit: a launcher naming {port} was accepted and every trial then
    crashed with KeyError: 'port'; {trial_dir} was passed to hosts, which never have that
    folder; a placeholder after a shell comment's # never reached the program, unwarned."""
    with pytest.raises(ScenarioError, match=r"launcher may name only \{host\}; got \{port\}"):
        CommandTarget("true", hosts=("node1",), launcher="ssh -p {port} {host}")
    with pytest.raises(ScenarioError, match=r"names \{trial_dir\}, a folder made on this machin"):
        CommandTarget("run --out {trial_dir}", hosts=("node1",))
    with pytest.warns(UserWarning, match=r"\{n\} after a # that starts a comment"):
        CommandTarget("echo 1 # --threads {n} {mode} {r}").check(space)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CommandTarget("echo '#' {n} {mode} {r}").check(space)  # a quoted # is an argument
        CommandTarget("true", hosts=("node1",), launcher="ssh -p 2222 {host}")
        CommandTarget("true", launcher="ssh -p {port} {host}")  # (no hosts: never used)
        CommandTarget('d=$(mktemp -d); run "${{trial_dir}}"', hosts=("node1",))  # the shell's


@pytest.mark.parametrize(
    ("printed", "message"),
    [
        ("Zeit: 1,5 s", r"its last number, 5, follows a comma \('1,5'\)"),
        ("1.234,56 msec", r"its last number, 56, follows a comma \('1.234,56'\)"),
        ("values 1,23", r"its last number, 23, follows a comma"),  # (a list, or 1.23?)
        ("2,500000e-03", r"its last number, 500000e-03, follows a comma"),  # (C's %e, de_DE)
    ],
)
def test_a_number_written_with_a_decimal_comma_is_an_error(
    space: ConfigurationSpace, printed: str, message: str
) -> None:
    """A German locale's 1,5 was read as 5, its 1.234,56 as 56 (a command-line audit)."""
    with pytest.raises(CommandError, match=message + r".*LC_ALL=C"):
        CommandTarget(f"echo '{printed}'")(config(space), seed=0)


def test_colour_codes_and_a_program_killed_inside_the_shell(space: ConfigurationSpace) -> None:
    """A coloured 12.5 (ESC [ 32 m ... ESC [ 0 m) was read as 0, the best cost there is; a
    program that segfaulted in the command read as "exited with status 139"."""
    assert CommandTarget(r"printf '\033[32m12.5\033[0m\n'")(config(space), seed=0) == 12.5
    with pytest.raises(CommandError, match=r"status 139 \(a program killed by SIGSEGV\)"):
        CommandTarget("sh -c 'kill -SEGV $$'")(config(space), seed=0)
    # on a host, 137 is `timeout -k`'s: the command outlived remote_timeout (a review's find)
    on_host = CommandTarget("exit 137", hosts=("h1",), launcher="env H={host} sh -c",
                            remote_timeout=5)  # fmt: skip
    with pytest.raises(CommandError, match=r"status 137 \(stopped on its host after remote_t"):
        on_host(config(space), seed=0)


def test_knob_files_with_a_byte_order_mark_duplicate_json_keys_or_unnamable_knobs(
    tmp_path: Path,
) -> None:
    """A UTF-8 byte order mark (Windows editors) made "Invalid statement"; a JSON key given
    twice was taken silently, the last one winning; a knob "a b" was accepted but cannot be
    named in the command, and "Ölfluss" was refused there (a command-line audit)."""
    toml = tmp_path / "bom.toml"
    toml.write_bytes(
        b"\xef\xbb\xbfcommand = 'echo {x}'\n[knobs]\nx = {type='float', range=[0, 1]}\n"
    )
    assert list(load_workload(toml).configspace) == ["x"]
    twice = tmp_path / "twice.json"
    twice.write_text('{"command": "echo {a}", "knobs": {"a": {"type": "float", "range": [0, 1]}, '
                     '"a": {"type": "integer", "range": [0, 9]}}}')  # fmt: skip
    with pytest.raises(ScenarioError, match=r"is not valid JSON: the key 'a' is given twice"):
        load_workload(twice)
    unicode = tmp_path / "unicode.toml"
    text = ("command = 'echo {Ölfluss} {größe}'\n[knobs]\n"
            "\"Ölfluss\" = {type='float', range=[0, 1]}\n"
            "\"größe\" = {type='integer', range=[1, 3]}\n")  # fmt: skip
    unicode.write_text(text, encoding="utf-8")
    assert sorted(load_workload(unicode).configspace) == ["größe", "Ölfluss"]
    spaced = tmp_path / "spaced.toml"
    spaced.write_text("command = 'echo 1'\n[knobs]\n\"a b\" = {type='float', range=[0, 1]}\n")
    with pytest.raises(ScenarioError, match=r"the knob 'a b' cannot be named .* \(say, a_b\)"):
        load_workload(spaced)


def test_smacx_run_with_fewer_trials_than_repeats_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """repeats = 3 and n_trials = 2: both trials succeeded, and smacx run said "no
    configuration worked" (a command-line audit)."""
    file = tmp_path / "solver.toml"
    file.write_text("command = 'echo {x}'\nrepeats = 3\nn_trials = 2\n"
                    "[knobs]\nx = {type='float', range=[0, 1]}\n")  # fmt: skip
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "n_trials = 2 is below repeats = 3" in err
    assert "no configuration has its 3 runs (repeats) yet, though 2 trial(s) succeeded" in out


def test_a_knob_files_walltime_bounds_the_run_by_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A performance engineer tunes for so many hours: a knob file had no run time limit.
    walltime without n_trials runs until the time is spent; --walltime overrides it."""
    file = tmp_path / "timed.toml"
    file.write_text("command = 'sleep 0.02; echo {x}'\nwalltime = 1.5\n"
                    "[knobs]\nx = {type='float', range=[0, 1]}\n")  # fmt: skip
    workload = load_workload(file)
    assert (workload.n_trials, workload.walltime) == (None, 1.5)
    assert workload.scenario(output_directory=None).n_trials is None
    # --walltime without a walltime or n_trials in the file: no limit on the count either (a
    # review found the default 100 kept)
    untimed = tmp_path / "untimed.toml"
    untimed.write_text(file.read_text().replace("walltime = 1.5\n", ""))
    assert load_workload(untimed).scenario(output_directory=None).n_trials == 100
    assert load_workload(untimed).scenario(output_directory=None, walltime_limit=9).n_trials is None
    args = ["run", str(file), "--output-dir", str(tmp_path / "runs"), "--no-progress"]
    started = time.monotonic()
    assert main(args) == 0
    assert time.monotonic() - started >= 1.5
    assert main([*args, "--n-trials", "3"]) == 0  # (spent: runs no more)
    assert main([*args, "--walltime", "2.5"]) == 0  # a second more
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "timed"), "--json"]) == 0
    finished = json.loads(capsys.readouterr().out)["trials"]["SUCCESS"]
    assert finished > 20
    with pytest.raises(SystemExit) as exited:  # (argparse, which names the option)
        main([*args, "--walltime", "0"])
    assert exited.value.code == 2
    assert "--walltime: expected seconds, a number > 0; got '0'" in capsys.readouterr().err
    file.write_text(file.read_text().replace("walltime = 1.5", "walltime = -1"))
    with pytest.raises(
        ScenarioError,
        match=r"walltime must be seconds the whole run may take, a number > 0; got -1",
    ):
        load_workload(file)


def test_an_error_about_a_knob_files_value_names_its_line(tmp_path: Path) -> None:
    """TOML's syntax errors name a line; errors about a value (a bad range, a count of 0) did
    not (a command-line audit)."""
    file = tmp_path / "bad.toml"
    file.write_text('command = "echo {x} {y}"\nrepeats = 0\n[knobs]\n'
                    'x = { type = "float", range = [0, 1] }\n'
                    '"y" = { type = "float", range = [5, 1] }\n')  # fmt: skip
    with pytest.raises(ScenarioError, match=r"bad\.toml' \(line 2\): repeats must be a whole"):
        load_workload(file)
    file.write_text(file.read_text().replace("repeats = 0", "repeats = 2"))
    with pytest.raises(ScenarioError, match=r"bad\.toml' \(line 5\): knob 'y': expected range"):
        load_workload(file)
    as_json = tmp_path / "bad.json"
    as_json.write_text('{\n  "command": "echo {x}",\n  "n_trials": 0,\n'
                       '  "knobs": {"x": {"type": "float", "range": [0, 1]}}\n}\n')  # fmt: skip
    with pytest.raises(ScenarioError, match=r"bad\.json' \(line 3\): n_trials must be"):
        load_workload(as_json)


KILLS_ITS_GROUP = """
from ConfigSpace import ConfigurationSpace
from smacx import SMAC, CommandError, CommandTarget, Scenario
space = ConfigurationSpace({"x": (0.0, 1.0)})
try:
    ends_its_group = CommandTarget("echo {x}; sleep 0.2 & kill -TERM 0; wait")
    ends_its_group(space.get_default_configuration(), seed=0)
except CommandError as err:
    print("CommandError:", str(err).splitlines()[0])
# (a trial under limits, in a process of its own that stays in the run's group)
target = CommandTarget("trap 'kill 0' EXIT; sleep 0.2 & echo {x}")
sc = Scenario(space, output_directory=None, n_trials=2, trial_walltime_limit=30)
with SMAC(sc, target, preset="random", raise_on_first_crash=False, progress=False) as smac:
    smac.optimize()
    print(sorted(value.status.name for value in smac.runhistory.values()))
print("the calling process lives")
"""


def test_a_command_that_signals_its_process_group_signals_only_its_own(tmp_path: Path) -> None:
    """`trap 'kill 0' EXIT`, a script's usual cleanup, signals the command's process group:
    that was the run's, and `smacx run` (and the batch script around it) ended by SIGTERM at
    the first trial (an audit's finding), with a trial's time limit too. Each command now runs
    in a session of its own."""
    script = tmp_path / "group.py"
    script.write_text(KILLS_ITS_GROUP)
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # (the test's own group stays out of reach either way)
    )
    assert done.returncode == 0, done.stderr
    assert "CommandError: the command was killed by SIGTERM" in done.stdout
    assert "['CRASHED', 'CRASHED']" in done.stdout
    assert done.stdout.endswith("the calling process lives\n")


INTERRUPTED = """
import os, signal, sys, threading
from ConfigSpace import ConfigurationSpace
from smacx import CommandTarget
mark, pids = sys.argv[1:]
command = (f"trap 'echo cleaned > {mark}; exit 1' INT TERM; "
           f"sleep 30 & echo $! > {pids}; wait; echo {{x}}")
threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    space = ConfigurationSpace({"x": (0.0, 1.0)})
    CommandTarget(command)(space.get_default_configuration(), seed=0)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_command_hears_of_the_runs_interrupt_and_may_clean_up(tmp_path: Path) -> None:
    """A command in a session of its own no longer got a terminal's Ctrl-C, and was killed
    without its trap running (a review's finding): the run passes it on to the command's
    group and gives it a second; the background job, which ignores SIGINT, is ended."""
    script, mark, pids = tmp_path / "run.py", tmp_path / "mark", tmp_path / "pids"
    script.write_text(INTERRUPTED)
    done = subprocess.run(
        [sys.executable, str(script), str(mark), str(pids)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert done.stdout == "interrupted\n", done.stderr
    assert mark.read_text() == "cleaned\n"
    assert_ends(int(pids.read_text()), "the interrupted command")


def test_budget_and_instance_are_found_as_fields_not_as_text(tmp_path: Path) -> None:
    """A shell variable written ``${{budget}}`` (literal braces, as the docs say) held the
    text "{budget}": a file without a budget range was refused, and one with instances that
    its command never received was accepted (an audit's findings)."""
    knobs = tmp_path / "shell.toml"
    body = 'n_trials = 2\n[knobs]\nx = { type = "float", range = [0.0, 1.0] }\n'
    knobs.write_text('command = "budget=5; echo ${{budget}} >&2; echo {x}"\n' + body)
    assert load_workload(knobs).budget is None
    knobs.write_text(
        'command = "instance=5; echo ${{instance}} >&2; echo {x}"\ninstances = ["a", "b"]\n' + body
    )
    with pytest.raises(ScenarioError, match=r"instances must be used as \{instance\}"):
        load_workload(knobs)


def test_an_empty_value_inside_quotes_is_an_empty_string(space: ConfigurationSpace) -> None:
    """An inactive knob (or no instance) inside the template's own quotes reached the
    program as two quote characters, ``--momentum=''`` (an audit's finding)."""
    length = CommandTarget("""python3 -c 'import sys; print(len(sys.argv[1]))' "{instance}" """)
    assert length(config(space), seed=0) == 0.0
    assert length(config(space), instance="abcd", seed=0) == 4.0
    bare = CommandTarget("""python3 -c 'import sys; print(len(sys.argv))' {instance} x""")
    assert bare(config(space), seed=0) == 3.0  # (bare, an empty word: '')


@pytest.mark.parametrize(
    "printed",
    ["cycles: 1.234.567", "cycles: 1\u202f234\u202f567", "cycles: 1'234'567", "r = 0.1234D-02"],
)
def test_the_end_of_a_longer_number_is_not_read_as_the_measurement(
    space: ConfigurationSpace, printed: str
) -> None:
    """A locale's digit grouping or Fortran's D exponent was read by its end, silently
    wrong (0.567, 567, 2.0), where 1,5 was refused (an audit's finding)."""
    target = CommandTarget(f"printf '%s\\n' {shlex.quote(printed)}")
    with pytest.raises(CommandError, match="is joined to digits before it"):
        target(config(space), seed=0)


def test_a_typeset_minus_sign_is_a_minus(space: ConfigurationSpace) -> None:
    """U+2212, the minus sign of typeset output, before 3.5 was read as 3.5 (an audit's finding);
    dates and ranges stay as they were read."""
    for printed, value in [("score: \u22123.5", -3.5), ("2024-01-05 t=7", 7.0), ("x=-5", -5.0)]:
        target = CommandTarget(f"printf '%s\\n' {shlex.quote(printed)}")
        assert target(config(space), seed=0) == value
