"""Dead letters of the match_days state machine: kept in the lake, then queued for redrive.

The state machine's Catch hands the dead-letter handler the same body it used to send to SQS directly
(events/dead_letter_record.json, events/dlq_message_match.json):
    {"source": "match_days", "execution_arn": ..., "input": <execution input>, "error": {"Error", "Cause"}}
`record_dead_letter` writes it as one JSON line to
    _dead_letters/source=<source>/dt=<UTC day>/<execution name>.json
(kept after the queue's 14 days, queryable), then sends the unchanged body to the dead-letter queue, where the
alarm sees it and the redrive function re-submits it. The archive comes first and is idempotent (one key per
execution and day), so a retried handler rewrites the same object. If this raises, the state machine falls back to
sending the body to the queue directly: a failing handler never loses a dead letter.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotation only: the dead-letter path should not import the storage adapters
    from .storage import Storage

DEAD_LETTERS = "_dead_letters/"


class InvalidDeadLetter(ValueError):
    """The event is not a dead-letter record (no source, no input object or no error object)."""


def validate(record: Any) -> dict:
    if not isinstance(record, dict) or not isinstance(record.get("source"), str) or not record["source"]:
        raise InvalidDeadLetter("a dead-letter record needs a 'source'")
    if not isinstance(record.get("input"), dict) or not isinstance(record.get("error"), dict):
        raise InvalidDeadLetter("a dead-letter record needs an 'input' object and an 'error' object")
    return record


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:200]


def archive_key(record: dict, now: datetime | None = None) -> str:
    """`_dead_letters/source=<source>/dt=<UTC day>/<execution name, or a uuid>.json`."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    arn = record.get("execution_arn")
    name = _safe(arn.rsplit(":", 1)[-1]) if isinstance(arn, str) and arn.strip(": ") else ""
    return f"{DEAD_LETTERS}source={_safe(record['source'])}/dt={now:%Y-%m-%d}/{name or uuid.uuid4().hex}.json"


def correlation_id(record: dict) -> str | None:
    """The execution ARN, else the input's batch_id."""
    if isinstance(record, dict):
        if record.get("execution_arn"):
            return str(record["execution_arn"])
        batch = (record.get("input") or {}).get("batch_id") if isinstance(record.get("input"), dict) else None
        if batch:
            return str(batch)
    return None


def record_dead_letter(record: dict, *, lake: Storage, sqs: Any, queue_url: str | None,
                       now: datetime | None = None) -> dict:
    """Archive `record` in the lake (the storage port), then send it to the dead-letter queue.
    Returns {"archived_key", "message_id"}."""
    if not queue_url:
        from .runtime import ConfigurationError

        raise ConfigurationError("DEAD_LETTER_QUEUE_URL is not set")
    validate(record)
    body = json.dumps(record, separators=(",", ":"), sort_keys=False, default=str)
    key = archive_key(record, now)
    lake.write_bytes(key, (body + "\n").encode())
    response = sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    return {"archived_key": key, "message_id": response["MessageId"]}
