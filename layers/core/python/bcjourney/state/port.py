"""The pipeline's state port: what keeps results in order when events arrive twice, late, or at once.

Two facts are kept, beside the lake:
  - per landing key, the S3 event it last applied (its sequencer) and where that version's rows live (batch, days):
    ingest applies a version only if it is newer, replaces the old rows after writing the new ones, and retracts a
    deleted key's rows;
  - per day, a generation: every ingest that changed the curated rows a day's journeys depend on bumps it after its
    last write. Matching reads the generation before it reads the lake, and writes the day only while holding the
    day's lease and only if the generation is still the one it read; otherwise a newer run is on its way, and this
    one yields. So a day's journeys are never older than the curated rows behind them.

Adapters: `LocalState` (files and flock beside a folder lake) and `DynamoDBState` (one table, conditional writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ContextManager, Protocol


class DayBusy(RuntimeError):
    """Another run holds the day's lease (it is writing the day now): try again in a moment. The match handler
    turns it into TransientMatchError, which the state machine retries with backoff."""


@dataclass(frozen=True)
class AppliedObject:
    """What ingest last applied for one landing key."""

    key: str
    sequencer: str  # of the newest event judged for the key (applied, rejected or a deletion)
    batch_id: str | None = None  # the batch whose rows are live for the key; None: no rows (deleted, never good)
    days: tuple[str, ...] = ()  # the day partitions those rows are in
    curated_rows: int = 0
    deleted: bool = False
    rejected: bool = False  # the newest version was rejected; `batch_id` still names the previous good one
    version_id: str | None = None
    etag: str | None = None  # of the version judged: the local runner skips a file that has not changed
    # what applying the event still had to do when it was recorded (done again when the event is retried): the
    # batch it replaces or retracts, and the days whose curated rows changed
    retired_batch: str | None = None
    changed_days: tuple[str, ...] = ()
    recorded_at: str | None = None  # ISO time (UTC) the event was recorded: a retraction's quarantine date

    def as_item(self) -> dict:
        return {"key": self.key, "sequencer": self.sequencer, "batch_id": self.batch_id, "days": list(self.days),
                "curated_rows": self.curated_rows, "deleted": self.deleted, "rejected": self.rejected,
                "version_id": self.version_id, "etag": self.etag, "retired_batch": self.retired_batch,
                "changed_days": list(self.changed_days), "recorded_at": self.recorded_at}

    @classmethod
    def from_item(cls, item: dict) -> "AppliedObject":
        return cls(key=item["key"], sequencer=item["sequencer"], batch_id=item.get("batch_id"),
                   days=tuple(item.get("days") or ()), curated_rows=int(item.get("curated_rows") or 0),
                   deleted=bool(item.get("deleted")), rejected=bool(item.get("rejected")),
                   version_id=item.get("version_id"), etag=item.get("etag"),
                   retired_batch=item.get("retired_batch"), changed_days=tuple(item.get("changed_days") or ()),
                   recorded_at=item.get("recorded_at"))


@dataclass(frozen=True)
class DayState:
    day: str
    generation: int = 0  # bumped by every ingest that changed the day's inputs
    committed: int = 0  # the generation the day's journeys were last written from
    bumped_at: str | None = None  # ISO time of the last bump
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def stale(self) -> bool:
        return self.committed < self.generation


class PipelineState(Protocol):
    def applied(self, key: str) -> AppliedObject | None:
        """The key's record, or None when nothing was ever applied for it."""

    def record_applied(self, record: AppliedObject, previous: AppliedObject | None) -> bool:
        """Store `record` if the key's record is still `previous` (by sequencer; None: no record yet). False when
        another event got there first: the caller re-reads and decides again."""

    def bump_days(self, days: list[str]) -> None:
        """A new generation for each day (after the curated rows they depend on changed)."""

    def day(self, day: str) -> DayState: ...

    def commit_day(self, day: str, generation: int, lease_seconds: float) -> ContextManager[bool]:
        """Hold the day's write lease while the block writes its journeys. Yields True when `generation` is still
        the day's newest (write, and the day is marked committed at that generation when the block ends without an
        error), False when a newer one exists (do not write: a newer run will). Raises DayBusy when another run
        holds the lease and cannot wait for it. `lease_seconds`: how long the caller may still be alive."""

    def days(self) -> list[DayState]:
        """Every day with a generation (for the freshness check)."""


def sequencer_key(sequencer: str) -> str:
    """S3's sequencers are hex strings of varying length, compared after right-padding the shorter with zeros
    (S3 event message structure docs). Padded to a fixed width here, so plain string order is event order."""
    return sequencer.upper().ljust(64, "0")


def is_newer(sequencer: str, than: str | None) -> bool:
    return than is None or sequencer_key(sequencer) > sequencer_key(than)
