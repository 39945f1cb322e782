"""The state beside a folder lake: JSON files under <lake>/_state/, read-modify-write under an flock, and one lock
file per day as its write lease (the operating system drops a dead holder's lock, so a lease never outlives its
run)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .port import AppliedObject, DayState


class LocalState:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "days").mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self, name: str = ".lock") -> Iterator[None]:
        with open(self.root / name, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _object_path(self, key: str) -> Path:
        return self.root / "objects" / f"{hashlib.sha1(key.encode()).hexdigest()}.json"

    def _day_path(self, day: str) -> Path:
        return self.root / "days" / f"{day}.json"

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    @staticmethod
    def _write(path: Path, item: dict) -> None:
        temporary = path.with_suffix(f".tmp{os.getpid()}")
        temporary.write_text(json.dumps(item, sort_keys=True))
        os.replace(temporary, path)

    def applied(self, key: str) -> AppliedObject | None:
        item = self._read(self._object_path(key))
        return AppliedObject.from_item(item) if item else None

    def applied_keys(self) -> list[str]:
        """Every key with a record whose rows are live (the local runner retracts those gone from the folder)."""
        records = (self._read(path) for path in (self.root / "objects").glob("*.json"))
        return sorted(r["key"] for r in records if r and not r.get("deleted") and r.get("batch_id"))

    def record_applied(self, record: AppliedObject, previous: AppliedObject | None) -> bool:
        with self._locked():
            current = self.applied(record.key)
            if (current.sequencer if current else None) != (previous.sequencer if previous else None):
                return False
            self._write(self._object_path(record.key), record.as_item())
            return True

    def bump_days(self, days: list[str]) -> None:
        now = datetime.now(timezone.utc).isoformat()
        with self._locked():
            for day in days:
                item = self._read(self._day_path(day)) or {"generation": 0, "committed": 0}
                item.update(generation=int(item["generation"]) + 1, bumped_at=now)
                self._write(self._day_path(day), item)

    def day(self, day: str) -> DayState:
        item = self._read(self._day_path(day)) or {}
        return DayState(day, int(item.get("generation", 0)), int(item.get("committed", 0)), item.get("bumped_at"))

    def days(self) -> list[DayState]:
        return [self.day(path.stem) for path in sorted((self.root / "days").glob("*.json"))]

    @contextmanager
    def commit_day(self, day: str, generation: int, lease_seconds: float) -> Iterator[bool]:
        # a local run waits for the lease: its holder is a live process on this machine, writing one partition
        with self._locked(f"days/{day}.lease"):
            if self.day(day).generation != generation:
                yield False
                return
            yield True
            with self._locked():
                item = self._read(self._day_path(day)) or {"generation": generation}
                item["committed"] = max(int(item.get("committed", 0)), generation)
                self._write(self._day_path(day), item)
