from __future__ import annotations

import json
import math
import re
import threading
import time
from pathlib import Path

import pytest
from ConfigSpace import ConfigurationSpace

from smacx import RunHistory, Scenario, StatusType, TrialError, TrialInfo, TrialKey, TrialValue
from smacx.errors import ScenarioError, SmacxError
from smacx.storage.memory import MemoryStorage
from smacx.storage.sqlite import SQLiteStorage


def finish(rh: RunHistory, info: TrialInfo, cost: float | list[float], **kw: object) -> TrialKey:
    rh.add_running(info)
    return rh.add(info, TrialValue(cost=cost, **kw))  # type: ignore[arg-type]


def test_config_ids_are_stable(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    a, b = space.sample_configuration(2)
    assert rh.add_config(a) == 1 and rh.add_config(b) == 2 and rh.add_config(a) == 1
    assert rh.get_config(2) == b and rh.get_config_id(b) == 2
    with pytest.raises(TrialError, match="no configuration with id 9"):
        rh.get_config(9)


def test_cost_is_mean_over_instances_and_seeds(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    c = space.get_default_configuration()
    for inst, seed, cost in [("a", 0, 1.0), ("b", 0, 3.0), ("a", 1, 5.0)]:
        finish(rh, TrialInfo(c, inst, seed), cost)
    assert rh.get_cost(c) == pytest.approx(3.0)
    keys = [TrialKey(1, "a", 0), TrialKey(1, "b", 0)]
    assert rh.get_cost(c, keys) == pytest.approx(2.0)


def test_cost_uses_the_highest_budget(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    c = space.get_default_configuration()
    finish(rh, TrialInfo(c, seed=0, budget=1.0), 10.0)
    finish(rh, TrialInfo(c, seed=0, budget=9.0), 2.0)
    assert rh.get_cost(c) == 2.0


def test_counts_running_and_finished(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    a, b = space.sample_configuration(2)
    rh.add_running(TrialInfo(a, seed=0))
    finish(rh, TrialInfo(b, seed=0), 1.0)
    assert (rh.n_submitted, rh.n_finished, rh.n_running, len(rh)) == (2, 1, 1, 2)
    assert rh.status_counts() == {"RUNNING": 1, "SUCCESS": 1}
    assert rh.running() == [TrialInfo(a, seed=0)]
    assert rh.has_trials(a) and rh.has_trials(b)
    assert rh.get_trials(a) == [] and rh.get_trials(a, finished=False) == [TrialInfo(a, seed=0)]


def test_a_trial_runs_once(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    info = TrialInfo(space.get_default_configuration(), seed=0)
    finish(rh, info, 1.0)
    with pytest.raises(TrialError, match="already finished"):
        rh.add_running(info)


def test_wrong_number_of_costs_is_rejected(space: ConfigurationSpace) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    info = TrialInfo(space.get_default_configuration())
    with pytest.raises(TrialError, match="expected 2"):
        rh.add(info, TrialValue(cost=1.0))
    with pytest.raises(TrialError, match="RUNNING"):
        rh.add(info, TrialValue(cost=[1.0, 2.0], status=StatusType.RUNNING))


def test_multi_objective_cost_is_normalized_mean(space: ConfigurationSpace) -> None:
    rh = RunHistory(space, objectives=("a", "b"))
    a, b = space.sample_configuration(2)
    finish(rh, TrialInfo(a), [0.0, 100.0])
    finish(rh, TrialInfo(b), [10.0, 0.0])
    assert rh.get_costs(a) == [0.0, 100.0]
    assert rh.get_cost(a) == pytest.approx(0.5) and rh.get_cost(b) == pytest.approx(0.5)


def test_sorting_by_a_multi_objective_cost_reads_the_bounds_once(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_configs(sort_by="cost") and get_min_cost scaled every configuration's costs by
    bounds read anew from all finished trials for each one: O(n^2) with several objectives.
    The order and the minimum are those of get_cost, with the bounds read once."""
    rh = RunHistory(space, objectives=("a", "b"))
    configs = space.sample_configuration(12)
    for i, config in enumerate(configs):
        finish(rh, TrialInfo(config), [float((i * 7) % 12), float(i)])
    expected = sorted(configs, key=lambda c: (rh.get_cost(c), rh.get_config_id(c)))
    lowest = min(rh.get_cost(c) for c in configs)
    reads = []
    bounds = rh.objective_bounds
    monkeypatch.setattr(rh, "objective_bounds", lambda: reads.append(1) or bounds())
    assert rh.get_configs(sort_by="cost") == expected
    assert len(reads) == 1
    assert rh.get_min_cost() == lowest
    assert len(reads) == 2


@pytest.mark.parametrize("objectives", [("cost",), ("a", "b")])
def test_costs_by_id_are_get_cost_without_looking_configurations_up(
    space: ConfigurationSpace, monkeypatch: pytest.MonkeyPatch, objectives: tuple[str, ...]
) -> None:
    """The selector read every new configuration's cost with get_cost, which looks it up by
    its values (its JSON) after a warm start of thousands. costs_by_id reads them by id."""
    from smacx import runhistory

    rh = RunHistory(space, objectives=objectives)
    configs = space.sample_configuration(6)
    for i, config in enumerate(configs):
        cost = float((i * 5) % 6)
        finish(rh, TrialInfo(config), cost if len(objectives) == 1 else [cost, float(i)])
    ids = [rh.get_config_id(c) for c in configs]
    expected = [rh.get_cost(c) for c in configs]
    monkeypatch.setattr(runhistory, "config_to_json", lambda config: pytest.fail("a look-up"))
    assert rh.costs_by_id(ids) == expected
    with pytest.raises(TrialError, match=r"no configuration with id 999"):
        rh.costs_by_id([999])


def test_get_costs_names_a_config_or_key_it_cannot_use(space: ConfigurationSpace) -> None:
    """A dict gave [inf] without a word, an unknown key a bare KeyError (a user's report)."""
    rh = RunHistory(space)
    c = space.get_default_configuration()
    finish(rh, TrialInfo(c, seed=1), 2.0)
    with pytest.raises(TrialError, match="config must be a Configuration .* got dict"):
        rh.get_costs(dict(c))  # type: ignore[arg-type]
    with pytest.raises(TrialError, match=r"keys must be keys of finished trials .*seed=7"):
        rh.get_costs(c, keys=[TrialKey(1, None, 7, None)])
    assert rh.get_costs(c, keys=[TrialKey(1, None, 1, None)]) == [2.0]


def test_crashed_config_costs_crash_cost(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    c = space.get_default_configuration()
    finish(rh, TrialInfo(c), math.inf, status=StatusType.CRASHED)
    assert rh.get_cost(c) == math.inf and rh.get_min_cost() == math.inf


def test_sorted_configs(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    configs = space.sample_configuration(3)
    for c, cost in zip(configs, [3.0, 1.0, 2.0]):
        finish(rh, TrialInfo(c), cost)
    assert rh.get_configs(sort_by="cost") == [configs[1], configs[2], configs[0]]
    assert rh.get_min_cost() == 1.0


def test_an_unknown_sort_key_raises_a_smacx_error(space: ConfigurationSpace) -> None:
    rh = RunHistory(space)
    with pytest.raises(ScenarioError, match=r"sort_by must be None .*'cost' or 'num_trials'; "
                       r"got 'x'") as raised:  # fmt: skip
        rh.get_configs(sort_by="x")
    assert isinstance(raised.value, SmacxError) and isinstance(raised.value, ValueError)


def test_second_history_on_same_file_syncs(space: ConfigurationSpace, tmp_path: Path) -> None:
    a = RunHistory(space, storage=SQLiteStorage(tmp_path / "h.db"))
    b = RunHistory(space, storage=SQLiteStorage(tmp_path / "h.db"))
    c = space.get_default_configuration()
    finish(a, TrialInfo(c, seed=1), 4.0)
    assert b.n_finished == 0
    assert b.sync() == 1
    assert b.get_cost(c) == 4.0 and b.finished_since(0) == [TrialKey(1, None, 1, None)]


def test_sync_never_sees_a_trial_before_its_configuration(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Another process stores a configuration and its trial between sync's two reads."""

    class Interleaved(SQLiteStorage):
        other: RunHistory | None = None

        def _between(self) -> None:
            if self.other is not None:
                other, self.other = self.other, None
                other.add_running(TrialInfo(space.sample_configuration(), seed=1))

        def read_configs(self, after_id: int):  # type: ignore[no-untyped-def]
            rows = super().read_configs(after_id)
            self._between()
            return rows

        def read_trials(self, after_version: int):  # type: ignore[no-untyped-def]
            rows = super().read_trials(after_version)
            self._between()
            return rows

    reader_storage = Interleaved(tmp_path / "rh.db")
    reader = RunHistory(space, storage=reader_storage)
    reader_storage.other = RunHistory(space, storage=SQLiteStorage(tmp_path / "rh.db"))
    for _ in range(2):
        reader.sync()
        for key, _ in reader.running_items():
            assert reader.trial_info(key).seed == 1  # its configuration is known
    assert reader.n_running == 1


def test_incumbent_changes_from_two_processes_are_all_kept_in_order(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Appends to the run's metadata from two processes are all kept (one transaction each);
    the trajectory keeps only entries made after more finished trials than its last one, so
    that a process with an older view does not send it backwards."""
    import json
    import threading

    histories = [RunHistory(space, storage=SQLiteStorage(tmp_path / "rh.db")) for _ in range(2)]

    def record(history: RunHistory, who: int) -> None:
        for i in range(200):
            history.storage.append_meta("log", json.dumps({"who": who, "i": i}))
            history.add_incumbent({"config_id": who, "n_finished": i})

    threads = [threading.Thread(target=record, args=(h, k)) for k, h in enumerate(histories)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = json.loads(histories[0].storage.get_meta("log") or "[]")
    assert len(log) == 400
    for who in (0, 1):  # each writer's entries in its order
        assert [e["i"] for e in log if e["who"] == who] == list(range(200))
    seen = [e["n_finished"] for e in histories[0].trajectory()]
    assert seen == sorted(set(seen)) and seen[-1] == 199


def test_exports(space: ConfigurationSpace, tmp_path: Path) -> None:
    rh = RunHistory(space)
    c = space.get_default_configuration()
    finish(rh, TrialInfo(c, seed=2), 1.5, additional_info={"note": "x"})
    rh.to_json(tmp_path / "h.json")
    [row] = json.loads((tmp_path / "h.json").read_text())
    assert (
        row["cost"] == 1.5 and row["status"] == "SUCCESS" and row["config"] == {"x": 0.0, "y": 0.0}
    )
    df = rh.to_dataframe()
    assert list(df["config:x"]) == [0.0] and list(df["seed"]) == [2]


def test_trials_of_a_process_that_died_on_another_host_run_again_after_its_lease(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """Another host's process cannot be checked for life: its trials are taken over once it
    stops renewing their leases, and not while it renews them."""
    path = tmp_path / "run.db"
    other = RunHistory(space, storage=SQLiteStorage(path), lease_seconds=0.5)
    other.owner = "otherhost:4242:0.000:abcd"  # as a process on another machine
    alive, dies = (TrialInfo(space.sample_configuration(), seed=s) for s in (1, 2))
    other.add_running(alive)
    here = RunHistory(space, storage=SQLiteStorage(path), lease_seconds=0.5)
    assert here.n_running == 1 and here.n_stale() == 0 and here.take_over_stale() is None
    time.sleep(1.2)  # more than two leases: renewed every 0.1 s meanwhile
    here.sync()
    assert here.n_stale() == 0 and here.take_over_stale() is None
    other.add_running(dies)
    other.storage.close()  # it dies: nobody renews its leases any more
    time.sleep(0.8)
    here.sync()
    assert here.n_stale() == 2
    taken = {here.take_over_stale(), here.take_over_stale()}
    assert taken == {alive, dies} and here.take_over_stale() is None
    assert here.n_stale() == 0  # now this process's, with leases of its own
    assert here.deaths(alive) == here.deaths(dies) == 1  # (their process died with them)
    here.release(dies)  # given up by a living process: no death
    assert here.take_over_stale() == dies and here.deaths(dies) == 1
    with pytest.raises(TrialError, match="lease_seconds must be > 0"):
        RunHistory(space, lease_seconds=0)


def test_leases_are_renewed_again_after_the_database_was_out_of_reach(
    space: ConfigurationSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One failed renewal ended the renewals for good, and a trial whose lease ran out
    meanwhile stayed so: other hosts ran it again while its process still did (a storage
    audit's finding). Renewals go on, and revive a lease no other process has taken over."""
    import sqlite3

    path = tmp_path / "run.db"
    other = RunHistory(space, storage=SQLiteStorage(path, timeout=0.2), lease_seconds=0.5)
    other.owner = "otherhost:4242:0.000:abcd"  # as a process on another machine
    info = TrialInfo(space.sample_configuration(), seed=1)
    other.add_running(info)
    blocker = sqlite3.connect(path, isolation_level=None)
    with caplog.at_level("WARNING", logger="smacx"):
        blocker.execute("BEGIN EXCLUSIVE")  # out of reach for three leases
        time.sleep(1.5)
        blocker.execute("ROLLBACK")
        time.sleep(0.6)  # renewed every 0.1 s again
    blocker.close()
    assert caplog.text.count("Cannot renew the leases") == 1
    here = RunHistory(space, storage=SQLiteStorage(path), lease_seconds=0.5)
    assert here.n_running == 1 and here.n_stale() == 0 and here.take_over_stale() is None
    other.close()
    here.close()


def test_to_json_writes_non_finite_costs_as_null(space: ConfigurationSpace, tmp_path: Path) -> None:
    rh = RunHistory(space)
    c = space.get_default_configuration()
    finish(rh, TrialInfo(c, seed=1), math.inf, status=StatusType.CRASHED,
           additional_info={"loss": [math.nan, 1.0], "t": (math.inf,)})  # fmt: skip
    rh.to_json(tmp_path / "h.json")
    text = (tmp_path / "h.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    # a strict parser (as jq's or JavaScript's) reads it
    [row] = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the file"))
    assert row["cost"] is None and row["status"] == "CRASHED"
    assert row["additional_info"] == {"loss": [None, 1.0], "t": [None]}
    # told back as it is (a warm start from an exported run; "must be a number" before, an
    # audit); a success still needs its cost
    again = TrialValue(cost=row["cost"], status=StatusType[row["status"]])
    assert again.cost == math.inf
    with pytest.raises(TrialError, match=r"TrialValue.cost must be a number"):
        TrialValue(cost=None)  # type: ignore[arg-type]


def test_a_single_cost_told_as_a_list_is_stored_as_a_float(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """TrialValue(cost=[0.1]) on a run of one objective: min() over the costs raised a
    TypeError on the list among floats (a robustness audit's finding)."""
    for storage in (None, SQLiteStorage(tmp_path / "h.db")):
        rh = RunHistory(space) if storage is None else RunHistory(space, storage=storage)
        finish(rh, TrialInfo(space.get_default_configuration(), seed=1), [0.1])
        finish(rh, TrialInfo(space.get_default_configuration(), seed=2), 0.5)
        assert [v.cost for _, v in rh.finished()] == [0.1, 0.5]
        rh.close()


def test_to_json_writes_numpy_values_alike_in_memory_and_on_disk(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    import numpy as np

    info = {"acc": np.float32(0.5), "curve": np.arange(2), "n": np.int64(3)}
    rows = []
    for storage in (None, SQLiteStorage(tmp_path / "h.db")):
        rh = RunHistory(space) if storage is None else RunHistory(space, storage=storage)
        finish(rh, TrialInfo(space.get_default_configuration(), seed=1), 0.5, additional_info=info)
        rh.to_json(tmp_path / "h.json")
        [row] = json.loads((tmp_path / "h.json").read_text())
        rows.append(row["additional_info"])
        rh.close()
    assert rows[0] == rows[1] == {"acc": 0.5, "curve": [0, 1], "n": 3}


def test_close_stops_renewing_leases_at_once(space: ConfigurationSpace, tmp_path: Path) -> None:
    """The thread that renews the leases lived on for up to a fifth of a lease (a minute with
    the facade's leases) after the run was closed."""
    before = set(threading.enumerate())
    history = RunHistory(space, storage=SQLiteStorage(tmp_path / "run.db"), lease_seconds=300)
    renewing = [t for t in set(threading.enumerate()) - before if t.name == "smacx-leases"]
    assert len(renewing) == 1
    history.close()
    for thread in renewing:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_a_history_collected_unclosed_stops_renewing_leases(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """100 SMAC objects dropped without close() kept 100 threads for up to a minute."""
    import gc

    before = set(threading.enumerate())
    history = RunHistory(space, storage=SQLiteStorage(tmp_path / "run.db"), lease_seconds=300)
    [renewing] = [t for t in set(threading.enumerate()) - before if t.name == "smacx-leases"]
    del history
    gc.collect()
    renewing.join(timeout=5)
    assert not renewing.is_alive()


class _PausingReads:
    """A storage whose next ``read_trials`` in thread ``paused`` waits, after reading, until
    ``resume`` is set (or a second has passed): another thread's sync runs in between."""

    def __init__(self, inner: SQLiteStorage) -> None:
        self.inner = inner
        self.paused: threading.Thread | None = None
        self.reading = threading.Event()
        self.resume = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def read_trials(self, after_version: int) -> list:  # type: ignore[type-arg]
        records = self.inner.read_trials(after_version)
        if threading.current_thread() is self.paused:
            self.paused = None
            self.reading.set()
            self.resume.wait(1.0)
        return records


def test_syncs_of_two_threads_never_bring_back_a_finished_trial_as_running(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A thread's sync that read a trial RUNNING, and applied it after another thread's sync
    had applied its result, left the trial both finished and running for good (n_running
    never came back to 0), as SMAC.ask and SMAC.tell called from several threads did."""
    storage = _PausingReads(SQLiteStorage(tmp_path / "runhistory.db"))
    rh = RunHistory(space, storage=storage)  # type: ignore[arg-type]
    info = TrialInfo(space.get_default_configuration(), seed=0)
    rh.add_running(info)
    storage.inner.release_trial(rh.key_of(info), rh.owner)  # a newer RUNNING row to read
    reader = threading.Thread(target=rh.sync)
    storage.paused = reader
    reader.start()
    storage.reading.wait(5.0)
    rh.add(info, TrialValue(cost=1.0))  # in this thread, while the reader holds its rows
    storage.resume.set()
    reader.join(5.0)
    assert rh.n_finished == 1
    assert rh.n_running == 0 and rh.running() == []
    assert len(rh) == 1


def test_get_min_cost_of_one_configuration_as_smac3_has_it(space: ConfigurationSpace) -> None:
    """SMAC3's get_min_cost(config) is the lowest cost of that configuration's trials; smacx's
    get_min_cost() is the run's (a porting audit found the first a bare TypeError)."""
    rh = RunHistory(space)
    a, b = space.sample_configuration(2)
    for config, seed, cost in ((a, 0, 3.0), (a, 1, 1.0), (b, 0, 0.5)):
        info = TrialInfo(config, seed=seed)
        rh.add_running(info)
        rh.add(info, TrialValue(cost=cost))
    assert rh.get_min_cost(a) == 1.0 and rh.get_cost(a) == 2.0
    assert rh.get_min_cost() == 0.5 and rh.get_min_cost(space.sample_configuration()) == math.inf


def test_a_running_trial_has_a_nan_cost_per_objective_in_records(space: ConfigurationSpace) -> None:
    """With two objectives a running trial's record had cost_a = inf and no cost_b, so the
    data frame of a run whose trials all ran lacked a column (a multi-objective audit)."""
    rh = RunHistory(space, objectives=("a", "b"))
    rh.add_running(TrialInfo(space.sample_configuration(), seed=1))
    [row] = rh.to_records()
    assert row["status"] == "RUNNING" and math.isnan(row["cost_a"]) and math.isnan(row["cost_b"])
    assert list(rh.to_dataframe()[["cost_a", "cost_b"]].shape) == [1, 2]


def test_large_info_is_warned_of_once(
    space: ConfigurationSpace,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 40 MB array in each trial's info grew the database by 25 MB and the process by about
    190 MB per trial, without a word (a failure audit's finding)."""
    import numpy as np

    from smacx import storage

    monkeypatch.setattr(storage, "_warned_of_size", False)
    rh = RunHistory(space, storage=SQLiteStorage(tmp_path / "run.db"))
    big = {"array": np.zeros(storage.LARGE_INFO // 4)}  # ("0.0, " per entry: 5 characters)
    with caplog.at_level("WARNING", logger="smacx"):
        for seed in (1, 2):
            finish(rh, TrialInfo(space.sample_configuration(), seed=seed), 1.0, additional_info=big)
    assert len(re.findall(r"additional_info takes 1\.\d MB as JSON", caplog.text)) == 1


def test_a_run_history_iterates_as_a_mapping_of_keys_to_values(space: ConfigurationSpace) -> None:
    """As SMAC3's: iterating gives every trial's key (finished first), and keys(), values(),
    items() and get() agree with indexing (iterating used to fail with KeyError: 0)."""
    rh = RunHistory(space)
    configs = space.sample_configuration(3)
    keys = [finish(rh, TrialInfo(c, seed=0), float(i)) for i, c in enumerate(configs[:2])]
    running = TrialInfo(configs[2], seed=0)
    rh.add_running(running)
    listed = list(rh)
    assert listed[:2] == keys and len(listed) == len(rh) == 3
    assert rh.keys() == listed
    assert [v.cost for v in rh.values()][:2] == [0.0, 1.0]
    assert dict(rh.items()) == {k: rh[k] for k in rh}
    assert rh.get(keys[1]) is rh[keys[1]]
    missing = TrialKey(99, None, 0, None)
    assert rh.get(missing) is None and missing not in rh
    # a TrialInfo, which `in` takes, is taken by [] and get() too (a manual audit's finding)
    assert rh[running] is rh[listed[2]] and rh.get(running) is rh[listed[2]]
    assert rh.get(TrialInfo(configs[0], seed=5)) is None
    with pytest.raises(KeyError):
        rh[missing]


def test_smac3s_values_of_the_names_of_methods_say_what_to_use(space: ConfigurationSpace) -> None:
    """SMAC3's runhistory.finished is a count: a ported callback's `finished == 10` was
    always False, without a word; its config_ids is a dict (a SMAC3 port's findings)."""
    rh = RunHistory(space)
    for use in (
        lambda: rh.finished == 10,
        lambda: rh.finished >= 10,
        lambda: f"after {rh.finished} finished trials",
        lambda: int(rh.finished),
        lambda: bool(rh.finished),
    ):
        with pytest.raises(TypeError, match=r"RunHistory.finished is a method in smacx, not "
                           r"SMAC3's number of finished trials: use n_finished"):  # fmt: skip
            use()
    # SMAC3's `while runhistory.running:` never ended here: running is a method too (an
    # API audit's finding), and so is the name SMAC3 gives the number started
    for use in (lambda: bool(rh.running), lambda: rh.running > 0):
        with pytest.raises(TypeError, match=r"RunHistory.running is a method in smacx, not "
                           r"SMAC3's number of running trials: use n_running"):  # fmt: skip
            use()
    with pytest.raises(AttributeError, match=r"'submitted'.* use n_submitted"):
        rh.submitted  # noqa: B018
    assert rh.running() == []
    for use in (lambda: len(rh.config_ids), lambda: rh.config_ids[space.sample_configuration()]):
        with pytest.raises(TypeError, match=r"config_ids is a method .* use get_config_id"):
            use()
    assert list(rh.finished()) == [] and rh.config_ids() == [] and "finished" in repr(rh.finished)
    # otherwise the method, as it was (a review's finding): compared, hashed, weakly
    # referenced, its name, signature and docstring its own
    import inspect
    import weakref

    method = rh.finished
    assert method == rh.finished and hash(method) == hash(rh.finished) and {method: 1}
    assert method.__name__ == "finished" and method.__self__ is rh and callable(method)
    assert weakref.WeakMethod(method)() == method and "finished" in str(method)
    assert str(inspect.signature(rh.config_ids)).startswith("(after: ")
    assert inspect.getdoc(method) == RunHistory.finished.__doc__
    with pytest.raises(AttributeError, match=r"several objectives: get_costs\(config\)"):
        rh.average_cost  # noqa: B018


def test_one_configuration_spelled_differently_is_one_configuration() -> None:
    """0, 0.0 and -0.0 for a float, 1.0 for an ordinal's or a categorical's 1, True for 1:
    ConfigSpace finds them equal, but each spelling was a configuration of its own, and a
    deterministic run evaluated one configuration four times (an audit's finding)."""
    from ConfigSpace import Categorical, Configuration, Float, OrdinalHyperparameter

    from smacx import SMAC, InitialDesign, Scenario
    from smacx.runhistory import config_to_json

    space = ConfigurationSpace(seed=0)
    space.add([Float("x", (-1.0, 1.0)), OrdinalHyperparameter("o", [1, 2, 3]),
               Categorical("c", [1, 2])])  # fmt: skip
    spellings = [{"x": 0.0, "o": 1, "c": 1}, {"x": -0.0, "o": 1, "c": 1},
                 {"x": 0, "o": 1.0, "c": 1.0}, {"x": 0.0, "o": 1, "c": True}]  # fmt: skip
    configs = [Configuration(space, values=v) for v in spellings]
    assert len({config_to_json(c) for c in configs}) == 1
    rh = RunHistory(space)
    assert len({rh.add_config(c) for c in configs}) == 1
    evaluated = []

    def target(config: Configuration) -> float:
        evaluated.append(dict(config))
        return 1.0

    sc = Scenario(space, n_trials=6, deterministic=True, output_directory=None, seed=0)
    design = InitialDesign(additional_configs=spellings, n_configs=4)
    SMAC(sc, target, preset="random", initial_design=design, progress=False).optimize()
    assert sum(Configuration(space, values=e) == configs[0] for e in evaluated) == 1


def test_numpy_numbers_inside_a_tuple_choice_are_stored_as_plain_numbers() -> None:
    """A choice (np.int64(64), 64) passed the Scenario, then failed in SMAC with a bare
    "Object of type int64 is not JSON serializable" (an audit's finding)."""
    import numpy as np
    from ConfigSpace import Categorical

    from smacx.runhistory import plain_value

    assert plain_value((np.int64(64), (np.float32(0.5), "a"))) == (64, (0.5, "a"))
    space = ConfigurationSpace(seed=0)
    space.add(Categorical("layers", [(np.int64(64), 64), (np.int64(128),)]))
    rh = RunHistory(space)
    config_id = rh.add_config(space.get_default_configuration())
    assert rh.get_config(config_id) == space.get_default_configuration()


def test_a_stored_run_opened_with_other_objectives_is_refused(
    space: ConfigurationSpace, tmp_path: Path
) -> None:
    """A run of two objectives opened as a RunHistory of the default one took each trial's
    first cost for its only one, and param_importances analysed it as "cost" (a review's
    finding): the history says what the run holds."""
    from smacx import SMAC, Scenario

    scenario = Scenario(
        space, n_trials=3, objectives=["error", "seconds"], output_directory=tmp_path, seed=0
    )
    with SMAC(scenario, lambda config, seed: [0.5, 2.0], preset="random") as smac:
        smac.optimize()
        database = smac.runhistory.storage.path
    storage = SQLiteStorage(database)
    try:
        with pytest.raises(
            ScenarioError,
            match=r"stored trials have 2 costs each \(objectives \['error', 'seconds'\]\), but "
            r"this history has 1 objective\(s\) \['cost'\]\. Pass the run's objectives: "
            r"RunHistory\(space, objectives=\['error', 'seconds'\]",
        ):
            RunHistory(space, storage=storage)
        history = RunHistory(space, objectives=("error", "seconds"), storage=storage)
        assert history.n_finished == 3
    finally:
        storage.close()


@pytest.mark.parametrize("stored", [False, True])
def test_a_history_pickles_as_a_snapshot(tmp_path: Path, stored: bool) -> None:
    """joblib.dump(smac.runhistory) failed on a lock, or a database connection, as SMAC3's
    and Optuna's in-memory results do not (an audit): it pickles as a snapshot in memory."""
    import copy
    import pickle

    from smacx import SMAC

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(
        space, n_trials=8, deterministic=True, output_directory=tmp_path if stored else None
    )
    with SMAC(sc, lambda config: config["x"], progress=False) as smac:
        smac.optimize()
        history = smac.runhistory
        for copied in (pickle.loads(pickle.dumps(history)), copy.deepcopy(history)):
            assert isinstance(copied.storage, MemoryStorage)
            assert dict(copied.items()) == dict(history.items())
            assert copied.get_configs() == history.get_configs()
            assert copied.trajectory() == history.trajectory()
            assert copied.objectives == history.objectives
        with pytest.raises(TypeError, match=r"cannot be pickled .* Pickle smac.runhistory"):
            pickle.dumps(smac)
    # closed, as the with block leaves it (the trajectory was lost then; a review)
    kept = pickle.loads(pickle.dumps(smac.runhistory))
    assert kept.trajectory() == smac.trajectory and len(kept.trajectory()) >= 1
    assert dict(kept.items()) == dict(smac.runhistory.items())
    # and so does the closed history itself: with a database it raised StorageError, and
    # so did plot_history(smac.runhistory) after the with block (an API audit's finding)
    assert smac.runhistory.trajectory() == smac.trajectory


def test_every_configuration_the_history_holds_knows_its_id(tmp_path: Path) -> None:
    """SMAC3's history sets ``config.config_id``, and code ported from it reads
    ``smac.incumbent.config_id``: it was None for every configuration (an API audit)."""
    from smacx import SMAC

    space = ConfigurationSpace({"x": (0.0, 1.0)}, seed=0)
    sc = Scenario(space, n_trials=6, output_directory=tmp_path, seed=0, deterministic=True)
    with SMAC(sc, lambda config: config["x"], progress=False) as smac:
        incumbent = smac.optimize()
        history = smac.runhistory
        assert incumbent is not None
        assert incumbent.config_id == history.get_config_id(incumbent) is not None
        assert [c.config_id for c in history.get_configs()] == history.config_ids()
        info = smac.ask()  # a proposal is stored as it is handed out
        assert info.config.config_id == history.get_config_id(info.config)
        told = space.sample_configuration()  # told by the user: given the id it gets
        assert told.config_id is None
        smac.tell(TrialInfo(told, seed=0), TrialValue(cost=0.5))
        assert told.config_id == history.get_config_id(told)
    with SMAC(sc, progress=False) as again:  # read back from the database
        configs = again.runhistory.get_configs()
        assert [c.config_id for c in configs] == again.runhistory.config_ids()
        assert again.incumbent is not None and again.incumbent.config_id == incumbent.config_id
    # one run's configuration told to another keeps its id (it may be the first's stored
    # object: its incumbent was renamed by the second run, a review found)
    other = RunHistory(space)
    other.add_config(space.sample_configuration())
    assert other.add_config(incumbent) == 2 and incumbent.config_id != 2
    assert other.get_config(2).config_id == 2 and other.get_config(2) == incumbent


def test_a_history_and_its_keys_print_and_sort(space: ConfigurationSpace) -> None:
    """``repr(runhistory)`` was ``<... object at 0x...>`` in a notebook; ``sorted(runhistory)``
    raised TypeError once a result told without a seed sat next to one of the same
    configuration on a seed, although TrialKey promised an order (an API audit's findings)."""
    rh = RunHistory(space)
    config = space.sample_configuration()
    rh.add(TrialInfo(config), TrialValue(cost=1.0))  # told without a seed
    rh.add(TrialInfo(config, seed=3), TrialValue(cost=2.0))
    running = rh.add_running(TrialInfo(space.sample_configuration(), seed=1))
    assert repr(rh) == (
        "RunHistory(objectives=['cost'], configurations=2, finished=2, running=1, "
        "storage=MemoryStorage)"
    )
    first = rh.get_config_id(config)
    assert sorted(rh) == [TrialKey(first), TrialKey(first, seed=3), running]
    keys = [TrialKey(2, "b", 1), TrialKey(2, None, 5, 3.0), TrialKey(1, "a"), TrialKey(2, "b")]
    assert sorted(keys) == [keys[2], keys[1], keys[3], keys[0]]
    assert TrialKey(1) < TrialKey(1, seed=0) <= TrialKey(1, seed=0) < TrialKey(1, "a")


def _trials(
    rows: list[tuple[int, str | None, float, StatusType]],
) -> list[tuple[TrialKey, TrialValue]]:
    """(key, value) pairs of configs' trials, one seed each: (config id, instance, cost, status)."""
    return [
        (TrialKey(config_id, instance, seed), TrialValue(cost=cost, status=status))
        for seed, (config_id, instance, cost, status) in enumerate(rows)
    ]


def test_seed_noise_pools_the_spread_between_seeds() -> None:
    """Config 1 costs 1 and 3 (squares about its mean: 2), config 2 costs 2, 4 and 6 (8): a
    pooled variance of 10 over 3 degrees of freedom. Config 3's single trial and a crash
    count for nothing."""
    from smacx.runhistory import seed_noise

    ok, crashed = StatusType.SUCCESS, StatusType.CRASHED
    rows = [(1, None, 1.0, ok), (1, None, 3.0, ok), (1, None, math.inf, crashed)]
    rows += [(2, None, 2.0, ok), (2, None, 4.0, ok), (2, None, 6.0, ok), (3, None, 0.0, ok)]
    noise = seed_noise(_trials(rows), incumbent=1)
    assert noise is not None
    sd = math.sqrt(10 / 3)
    assert noise.sd == pytest.approx(sd) and noise.configs == 2
    assert noise.incumbent_n == 2 and noise.incumbent_se == pytest.approx(sd / math.sqrt(2))
    # config 2's mean 4 is 2 above config 1's 2, within 2 * sd * sqrt(1/2 + 1/3) = 3.33;
    # config 3 ran on fewer seeds than the incumbent
    assert noise.close == 1
    assert "sd 1.826" in noise.text() and "1 other configuration run on" in noise.text()
    # with config 2 as the incumbent, config 1 ran on fewer seeds than it
    assert seed_noise(_trials(rows), incumbent=2).close == 0  # type: ignore[union-attr]
    # config 1 alone: one degree of freedom, no estimate
    assert seed_noise(_trials(rows[:3])) is None
    # with instances the spread is within (config, instance), and means are not compared
    # (and the incumbent's mean is over all its instances: 4 trials, one configuration)
    rows = [(1, "a", 1.0, ok), (1, "a", 3.0, ok), (1, "b", 101.0, ok), (1, "b", 103.0, ok)]
    noise = seed_noise(_trials(rows), incumbent=1)
    assert noise is not None and noise.sd == pytest.approx(math.sqrt(2)) and noise.close is None
    assert noise.configs == 1 and noise.incumbent_n == 4
    assert noise.incumbent_se == pytest.approx(math.sqrt(2) / 2)
    assert "(pooled over 1 configuration run on several)" in noise.text()
    assert "other configuration" not in noise.text()


def test_seed_noise_of_costs_near_the_largest_float(recwarn: pytest.WarningsRecorder) -> None:
    from smacx.runhistory import seed_noise

    ok = StatusType.SUCCESS
    rows = [
        (1, None, 1e308, ok),
        (1, None, -1e308, ok),
        (2, None, 1e308, ok),
        (2, None, -1e308, ok),
    ]
    noise = seed_noise(_trials(rows))
    assert noise is not None and noise.sd == pytest.approx(math.sqrt(2) * 1e308)
    assert not recwarn.list


def test_seed_noise_of_a_target_whose_cost_does_not_vary_is_zero() -> None:
    """The mean of three equal costs is not always that cost in floating point: the summary
    said "the cost varies by sd 7.692e-16" for a target that ignored its seed (an audit)."""
    from smacx.runhistory import seed_noise

    ok = StatusType.SUCCESS
    rows = [(c, None, 14.484076998401502 * 1.1**c, ok) for c in range(3) for _ in range(3)]
    noise = seed_noise(_trials(rows))
    assert noise is not None and noise.sd == 0.0


def test_failures_that_differ_only_in_their_numbers_count_together() -> None:
    """20 trials that ran out of GPU memory were listed as 7 reasons, one per size they asked
    for (an audit). More than four reasons that differ only in their numbers are one, with
    "..." where the numbers differ; a few (exit statuses) stay apart."""
    from smacx.runhistory import failure_reasons

    def crashed(i: int, error: str) -> tuple[TrialKey, TrialValue]:
        value = TrialValue(status=StatusType.CRASHED, additional_info={"error": error})
        return TrialKey(i, None, 0, None), value

    sizes = [115, 134, 270, 115, 300, 2.5, 1e3]
    trials = [
        crashed(i, f"RuntimeError: CUDA error 2: tried to allocate {mb} MiB on device 0")
        for i, mb in enumerate(sizes)
    ]
    statuses = [1, 2, 1, 137, 139]  # (4 variants: 137 is the OOM killer's, 139 a segfault)
    trials += [crashed(20 + i, f"command exited with status {s}") for i, s in enumerate(statuses)]
    assert failure_reasons(trials) == [
        {
            "status": "CRASHED",
            "reason": "RuntimeError: CUDA error 2: tried to allocate ... MiB on device 0",
            "count": 7,
            "configs": 7,
            "config_ids": [0, 1, 2, 3, 4],
        },
        {
            "status": "CRASHED",
            "reason": "command exited with status 1",
            "count": 2,
            "configs": 2,
            "config_ids": [20, 22],
        },
        *(
            {
                "status": "CRASHED",
                "reason": f"command exited with status {status}",
                "count": 1,
                "configs": 1,
                "config_ids": [config_id],
            }
            for status, config_id in ((137, 23), (139, 24), (2, 21))
        ),
    ]
