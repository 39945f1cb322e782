"""Apply landing events in the order S3 says they happened, whatever order they arrive in.

An ObjectCreated event is applied only when its sequencer is newer than the key's last applied event; the new
version is written as its own batch, recorded, and only then is the previous version's output removed (replace,
then retire). A rejected re-upload leaves the previous rows live. An ObjectRemoved event retracts the key's rows
and leaves a record of the retraction in quarantine. Every day whose curated rows changed, in the old version or
the new, is returned for re-matching, and it and its neighbours (bcjourney.days) get a new generation
(bcjourney.state)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .. import schema
from ..days import affected_days
from ..frames import to_table
from ..layout import QUARANTINE
from ..state import AppliedObject, PipelineState, is_newer
from ..storage import Storage
from .service import FileRejected, IngestResult, batch_files, batch_id_for, ingest_object
from .sources import classify_key

logger = logging.getLogger(__name__)

RETRACTED_RULE = "object_removed"


@dataclass
class Applied:
    """What one event did: `action` is ingested, retracted, repeated (the applied event again: its unfinished
    steps redone), skipped_older (an older event) or superseded (a newer event was applied while this one was
    being ingested: its output was removed again)."""

    action: str
    key: str
    sequencer: str
    result: IngestResult | None = None
    changed_days: list[str] | None = None  # day partitions whose curated rows changed
    retired_batch: str | None = None
    retracted_rows: int = 0

    @property
    def days(self) -> list[str]:
        return self.changed_days or []


def apply_created(landing: Storage, key: str, lake: Storage, state: PipelineState, *, sequencer: str,
                  version_id: str | None = None, etag: str | None = None) -> Applied:
    """Ingest one created version if it is the newest; FileRejected when it is rejected (the previous rows stay)."""
    previous = state.applied(key)
    if previous is not None and not is_newer(sequencer, previous.sequencer):
        return _not_newer(lake, state, previous, sequencer)
    batch_id = batch_id_for(key, sequencer)
    try:
        result = ingest_object(landing, key, lake, version=version_id, batch_id=batch_id,
                               previous_batch=previous.batch_id if previous else None)
    except FileRejected:
        _record(state, previous, lambda live: AppliedObject(
            key, sequencer, live.batch_id if live else None, live.days if live else (),
            live.curated_rows if live else 0, rejected=True, version_id=version_id, etag=etag))
        raise
    recorded, record = _record(state, previous, lambda live: AppliedObject(
        key, sequencer, batch_id, tuple(result.days), result.report.curated, version_id=version_id, etag=etag,
        retired_batch=live.batch_id if live and live.batch_id != batch_id else None,
        changed_days=tuple(sorted(set(result.days) | set(live.days if live and live.batch_id else ())))))
    if not recorded:
        # a newer event was recorded while this one was read: it owns the key, and this output must go
        lake.delete(batch_files(lake, classify_key(key), batch_id, result.days))
        state.bump_days(affected_days(result.days))
        logger.warning("superseded: a newer event for %s was applied during this ingest; its output removed", key)
        return Applied("superseded", key, sequencer, result, result.days)
    _finish(lake, state, record)
    return Applied("ingested", key, sequencer, result, list(record.changed_days), record.retired_batch)


def apply_removed(key: str, lake: Storage, state: PipelineState, *, sequencer: str,
                  now: pd.Timestamp | None = None) -> Applied:
    """Retract a deleted key's rows (if this deletion is its newest event) and record the retraction."""
    previous = state.applied(key)
    if previous is not None and not is_newer(sequencer, previous.sequencer):
        return _not_newer(lake, state, previous, sequencer)
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None).floor("ms")
    recorded, record = _record(state, previous, lambda live: AppliedObject(
        key, sequencer, deleted=True, retired_batch=live.batch_id if live else None, recorded_at=now.isoformat(),
        curated_rows=live.curated_rows if live and live.batch_id else 0,
        changed_days=live.days if live and live.batch_id else ()))
    if not recorded:
        return Applied("skipped_older", key, sequencer)
    _finish(lake, state, record)
    logger.info("retracted %s rows of %s", record.curated_rows, key)
    return Applied("retracted", key, sequencer, changed_days=list(record.changed_days),
                   retired_batch=record.retired_batch, retracted_rows=record.curated_rows)


def _not_newer(lake: Storage, state: PipelineState, previous: AppliedObject, sequencer: str) -> Applied:
    """An event that is not newer than the key's record: the recorded one again (a retry after a crash between
    recording and finishing: finish again), or an older one (skipped)."""
    key = previous.key
    if previous.sequencer != sequencer:
        logger.info("skipped: %s has a newer event applied (%s > %s)", key, previous.sequencer, sequencer)
        return Applied("skipped_older", key, sequencer)
    if previous.rejected:  # a retry of the rejected event: the same verdict, without reading the file again
        raise FileRejected(f"{key}: this version was rejected already (see its quality report)", previous.batch_id)
    _finish(lake, state, previous)
    return Applied("repeated", key, sequencer, changed_days=list(previous.changed_days),
                   retired_batch=previous.retired_batch,
                   retracted_rows=previous.curated_rows if previous.deleted else 0)


def _finish(lake: Storage, state: PipelineState, record: AppliedObject) -> None:
    """The steps after recording an event, each safe to repeat: remove the batch it replaces (or retracts), leave
    a record of a retraction in quarantine, and bump the days whose rows changed."""
    obj = classify_key(record.key)
    if record.retired_batch:
        lake.delete(batch_files(lake, obj, record.retired_batch, list(record.changed_days)))
    if record.deleted and record.retired_batch:
        now = pd.Timestamp(record.recorded_at or pd.Timestamp.now(tz="UTC").tz_localize(None)).floor("ms")
        note = pd.DataFrame({
            "source_file": [record.key], "source_line": [0], "raw_line": [""], "rule": [RETRACTED_RULE],
            "column_name": [None],
            "value": [f"landing object deleted: {record.curated_rows} curated rows of batch {record.retired_batch} "
                      f"retracted from {len(record.changed_days)} day(s)"],
            "batch_id": [f"{record.retired_batch}-removed"], "quarantined_at": [now]})
        lake.write_parquet(f"{QUARANTINE}source={obj.source}/dt={now:%Y-%m-%d}/{record.retired_batch}"
                           "-removed.parquet", to_table(note, schema.QUARANTINE))
    state.bump_days(affected_days(list(record.changed_days)))


def _record(state: PipelineState, previous: AppliedObject | None,
            make: Callable[[AppliedObject | None], AppliedObject]) -> tuple[bool, AppliedObject]:
    """Store make(previous) over `previous`; when an older event got in first, over that one instead.
    (True, the record stored), or (False, the newer record) when a newer event got in first."""
    while True:
        record = make(previous)
        if state.record_applied(record, previous):
            return True, record
        current = state.applied(record.key)
        if current is not None and not is_newer(record.sequencer, current.sequencer):
            return False, current
        previous = current


__all__ = ["Applied", "RETRACTED_RULE", "apply_created", "apply_removed"]
