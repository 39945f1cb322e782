"""Events shaped exactly as AWS delivers them (see events/ in the repo), built for local files."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from urllib.parse import quote_plus


class Sequencer:
    """Sequencers for local events: hex strings that grow with each event, across runs too (S3 compares them per
    key to tell event order; so does ingest)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last = max(self._last + 1, time.time_ns())
        return f"{self._last:020X}"


_sequencer = Sequencer()


def s3_object_created_event(bucket: str, key: str, size: int, etag: str, sequencer: str | None = None) -> dict:
    """An S3 ObjectCreated:Put notification with one record; the key is URL-encoded as S3 does."""
    return _s3_event("ObjectCreated:Put", bucket, key, sequencer or _sequencer.next(), {"size": size, "eTag": etag})


def s3_object_removed_event(bucket: str, key: str, sequencer: str | None = None) -> dict:
    """An S3 ObjectRemoved:Delete notification (a landing file that is gone)."""
    return _s3_event("ObjectRemoved:Delete", bucket, key, sequencer or _sequencer.next(), {})


def _s3_event(name: str, bucket: str, key: str, sequencer: str, extra: dict) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "landing-object-created",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCAL"},
                               "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), **extra, "sequencer": sequencer},
                },
            }
        ]
    }


def file_etag(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def match_days_event(days: list[str]) -> dict:
    """A batch of days for the match function, matched in one pass (the local runner's backfills); the
    state machine sends one day, {"day": "YYYY-MM-DD"}."""
    return {"days": list(days)}
