"""Storage in this process's memory: fast, and gone with the process."""

from __future__ import annotations

import bisect
import json
import threading

from smacx.storage import ConfigRecord, TrialRecord, comes_after, lease_abandoned
from smacx.trial import StatusType, TrialKey

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """A :class:`~smacx.storage.Storage` kept in dictionaries (thread-safe, one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meta: dict[str, str] = {}
        self._configs: list[ConfigRecord] = []  # by id, which may skip numbers (a copy's)
        self._config_ids: dict[str, int] = {}
        self._trials: dict[TrialKey, TrialRecord] = {}
        self._log: list[TrialRecord] = []  # every record written; version v at index v - 1
        self._version = 0

    @classmethod
    def copy_of(
        cls,
        configs: list[ConfigRecord],
        trials: list[TrialRecord],
        meta: dict[str, str],
    ) -> MemoryStorage:
        """A storage that holds ``configs`` (under their ids), the latest of ``trials`` and
        ``meta``, as another storage's ``read_configs(0)``, ``read_trials(0)`` and meta give
        them: a snapshot of a run (see ``RunHistory`` pickled)."""
        storage = cls()
        for record in sorted(configs, key=lambda c: c.config_id):
            storage._configs.append(record)
            storage._config_ids[record.config_json] = record.config_id
        for trial in sorted(trials, key=lambda t: t.version):
            storage._put(trial)
        storage._meta.update(meta)
        return storage

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get_meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def set_meta_if_absent(self, key: str, value: str) -> str:
        with self._lock:
            return self._meta.setdefault(key, value)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value

    def append_meta(self, key: str, item_json: str, *, order_by: str | None = None) -> bool:
        with self._lock:
            items = json.loads(self._meta.get(key, "[]"))
            item = json.loads(item_json)
            if not comes_after(items, item, order_by):
                return False
            self._meta[key] = json.dumps([*items, item])
            return True

    def remove_meta_item(self, key: str, item_json: str) -> bool:
        with self._lock:
            items = json.loads(self._meta.get(key, "[]"))
            item = json.loads(item_json)
            kept = [i for i in items if i != item]
            if len(kept) == len(items):
                return False
            self._meta[key] = json.dumps(kept)
            return True

    def add_config(self, config_json: str, origin: str) -> int:
        with self._lock:
            if config_json not in self._config_ids:
                config_id = self._configs[-1].config_id + 1 if self._configs else 1
                self._configs.append(ConfigRecord(config_id, config_json, origin))
                self._config_ids[config_json] = config_id
            return self._config_ids[config_json]

    def _put(self, record: TrialRecord) -> None:
        self._version += 1
        stored = TrialRecord(
            record.key, record.value, record.owner, record.lease_until, self._version
        )
        self._trials[record.key] = stored
        self._log.append(stored)

    def claim_trial(self, record: TrialRecord, now: float, max_trials: int | None = None) -> bool:
        with self._lock:
            old = self._trials.get(record.key)
            if old is None and max_trials is not None and len(self._trials) >= max_trials:
                return False
            if old is not None and (
                old.value.status is not StatusType.RUNNING
                or not lease_abandoned(old.owner, old.lease_until, now)
            ):
                return False
            self._put(record)
            return True

    def finish_trial(self, record: TrialRecord) -> bool:
        with self._lock:
            old = self._trials.get(record.key)
            if old is not None and old.value.status is not StatusType.RUNNING:
                return False
            self._put(record)
            return True

    def release_trial(self, key: TrialKey, owner: str) -> bool:
        with self._lock:
            old = self._trials.get(key)
            if old is None or old.value.status is not StatusType.RUNNING or old.owner != owner:
                return False
            self._put(TrialRecord(key, old.value, owner, 0.0))
            return True

    def renew_leases(self, owner: str, lease_until: float, now: float) -> int:
        with self._lock:
            mine = [
                r
                for r in self._trials.values()
                if r.owner == owner and r.value.status is StatusType.RUNNING and r.lease_until > 0
            ]
            for r in mine:
                self._put(TrialRecord(r.key, r.value, owner, lease_until))
            return len(mine)

    def read_configs(self, after_id: int) -> list[ConfigRecord]:
        with self._lock:
            return self._configs[bisect.bisect_right(self._configs, after_id, key=_config_id) :]

    def read_trials(self, after_version: int) -> list[TrialRecord]:
        with self._lock:
            # The latest record of each key written after ``after_version``, oldest first.
            newer = self._log[max(after_version, 0) :]
            return [r for r in newer if self._trials[r.key] is r]

    def close(self) -> None:
        pass


def _config_id(record: ConfigRecord) -> int:
    return record.config_id
