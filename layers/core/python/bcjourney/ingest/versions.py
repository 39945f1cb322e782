"""Apply landing events in the order S3 says they happened, whatever order they arrive in.

An ObjectCreated event is applied only when its sequencer is newer than the key's last applied event; the new
version is written as its own batch, recorded, and only then is the previous version's output removed (replace,
then retire). A rejected re-upload leaves the previous rows live. An ObjectRemoved event retracts the key's rows
and leaves a record of the retraction in quarantine. Every day whose curated rows changed, in the old version or
the new, gets a new generation (bcjourney.state) and is returned for re-matching."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .. import schema
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
    """What one event did: `action` is ingested, retracted, skipped_older (an older or repeated event) or
    superseded (a newer event was applied while this one was being ingested: its output was removed again)."""

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
        if previous.sequencer == sequencer and previous.rejected:  # a retry of the rejected event: same verdict
            raise FileRejected(f"{key}: this version was rejected already (see its quality report)")
        logger.info("skipped: %s has a newer or the same event applied (%s >= %s)", key, previous.sequencer,
                    sequencer)
        return Applied("skipped_older", key, sequencer)
    batch_id = batch_id_for(key, sequencer)
    try:
        result = ingest_object(landing, key, lake, version=version_id, batch_id=batch_id,
                               previous_batch=previous.batch_id if previous else None)
    except FileRejected:
        _record(state, previous, lambda live: AppliedObject(
            key, sequencer, live.batch_id if live else None, live.days if live else (),
            live.curated_rows if live else 0, rejected=True, version_id=version_id, etag=etag))
        raise
    recorded, live = _record(state, previous, lambda live: AppliedObject(
        key, sequencer, batch_id, tuple(result.days), result.report.curated, version_id=version_id, etag=etag))
    if not recorded:
        # a newer event was recorded while this one was read: it owns the key, and this output must go
        lake.delete(batch_files(lake, classify_key(key), batch_id, result.days))
        state.bump_days(result.days)
        logger.warning("superseded: a newer event for %s was applied during this ingest; its output removed", key)
        return Applied("superseded", key, sequencer, result, result.days)
    old_days = list(live.days) if live and live.batch_id else []
    if live and live.batch_id and live.batch_id != batch_id:
        lake.delete(batch_files(lake, classify_key(key), live.batch_id, old_days))
    changed = sorted(set(result.days) | set(old_days))
    state.bump_days(changed)
    return Applied("ingested", key, sequencer, result, changed, live.batch_id if live else None)


def _record(state: PipelineState, previous: AppliedObject | None,
            make: Callable[[AppliedObject | None], AppliedObject]) -> tuple[bool, AppliedObject | None]:
    """Store make(previous) over `previous`; when an older event got in first, over that one instead.
    (False, newer record) when a newer event got in first."""
    while True:
        record = make(previous)
        if state.record_applied(record, previous):
            return True, previous
        current = state.applied(record.key)
        if current is not None and not is_newer(record.sequencer, current.sequencer):
            return False, current
        previous = current


def apply_removed(key: str, lake: Storage, state: PipelineState, *, sequencer: str,
                  now: pd.Timestamp | None = None) -> Applied:
    """Retract a deleted key's rows (if this deletion is its newest event) and record the retraction."""
    previous = state.applied(key)
    if previous is not None and not is_newer(sequencer, previous.sequencer):
        logger.info("skipped: %s has a newer event applied than this deletion", key)
        return Applied("skipped_older", key, sequencer)
    recorded, previous = _record(state, previous, lambda live: AppliedObject(key, sequencer, deleted=True))
    if not recorded:
        return Applied("skipped_older", key, sequencer)
    if previous is None or not previous.batch_id:
        return Applied("retracted", key, sequencer, changed_days=[])
    obj = classify_key(key)
    files = batch_files(lake, obj, previous.batch_id, list(previous.days))
    lake.delete(files)
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None).floor("ms")
    record = pd.DataFrame({
        "source_file": [key], "source_line": [0], "raw_line": [""], "rule": [RETRACTED_RULE],
        "column_name": [None],
        "value": [f"landing object deleted: {previous.curated_rows} curated rows of batch {previous.batch_id} "
                  f"retracted from {len(previous.days)} day(s)"],
        "batch_id": [f"{previous.batch_id}-removed"], "quarantined_at": [now]})
    lake.write_parquet(f"{QUARANTINE}source={obj.source}/dt={now:%Y-%m-%d}/{previous.batch_id}-removed.parquet",
                       to_table(record, schema.QUARANTINE))
    state.bump_days(list(previous.days))
    logger.info("retracted %s rows of %s", previous.curated_rows, key)
    return Applied("retracted", key, sequencer, changed_days=list(previous.days), retired_batch=previous.batch_id,
                   retracted_rows=previous.curated_rows)


__all__ = ["Applied", "RETRACTED_RULE", "apply_created", "apply_removed"]
