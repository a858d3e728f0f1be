"""Shell-command targets and knob files: real commands run by /bin/sh, real files."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace, Float, Integer

from smacx import SMAC, CommandError, CommandTarget, Scenario, ScenarioError, StatusType
from smacx.cli import main
from smacx.command import load_workload


@pytest.fixture
def space() -> ConfigurationSpace:
    return ConfigurationSpace(
        [Integer("n", (1, 9)), Float("r", (0.0, 1.0)), Categorical("mode", ["a b", "c;d"])]
    )


def config(space: ConfigurationSpace, **values: object) -> Configuration:
    return Configuration(space, values={"n": 3, "r": 0.5, "mode": "a b", **values})


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
    [folder] = (tmp_path / "trials").iterdir()  # kept, for a look at what the trial wrote
    assert (folder / "result.txt").read_text() == "score: 0.25\n"
    log = tmp_path / "folders.txt"
    temporary = CommandTarget(f"echo {{trial_dir}} >> {log}; echo 1")  # no trial_root
    assert temporary(config(space), seed=0) == 1.0
    made = Path(log.read_text().strip())
    assert made.name.startswith("smacx-trial-") and not made.exists()  # removed after the trial


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
    default = w.configspace.get_default_configuration()
    assert w.target(default, seed=0) == 9.0
    # the same as JSON, and with a space saved by ConfigSpace
    w.configspace.to_json(tmp_path / "space.json")
    as_json = {"command": w.target.command, "space": "space.json", "goal": "maximize"}
    (tmp_path / "solver.json").write_text(json.dumps(as_json))
    j = load_workload(tmp_path / "solver.json")
    assert j.configspace == w.configspace and j.target.maximize and j.repeats == 1


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
        ("command = 'echo'\nrepeats = 0\n[knobs]\nx = {type='float', range=[0, 1]}", r"repeats"),
        ("command = 'echo'\ntimeout = -1\n[knobs]\nx = {type='float', range=[0, 1]}", r"timeout"),
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
    pid = int(pids.read_text().split()[0])
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the command's sleep (pid {pid}) outlived its trial")


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
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "solver"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trials"] == {"SUCCESS": 20}
    assert main(["run", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read it" in capsys.readouterr().err
