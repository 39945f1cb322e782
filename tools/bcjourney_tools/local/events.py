"""Events shaped exactly as AWS delivers them (see events/ in the repo), built for local files."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import quote_plus


def s3_object_created_event(bucket: str, key: str, size: int, etag: str, sequencer: int = 0) -> dict:
    """An S3 ObjectCreated:Put notification with one record; the key is URL-encoded as S3 does."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:LOCAL"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "landing-object-created",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOCAL"},
                               "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag,
                               "sequencer": f"{sequencer:016X}"},
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
