"""What a handler needs from its environment: where the lake is, how to read a landing bucket, and how to
start matching. Built from environment variables on Lambda; tests hand in their own (moto-backed) one.

Environment:
  LAKE_URI                  s3://<lake bucket>[/prefix] on AWS, a folder on one machine (required)
  BCJOURNEY_BUCKET_ROOTS    JSON {bucket name: folder}: the embedded default's landing "buckets"
  MATCH_STATE_MACHINE_ARN   when set, ingest starts this state machine for the days it touched
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .storage import Storage, open_storage


class ConfigurationError(RuntimeError):
    pass


@dataclass
class Runtime:
    lake: Storage
    bucket_roots: dict[str, str] = field(default_factory=dict)
    state_machine_arn: str | None = None
    boto3_session: object | None = None

    @classmethod
    def from_environment(cls, boto3_session=None) -> "Runtime":
        lake_uri = os.environ.get("LAKE_URI")
        if not lake_uri:
            raise ConfigurationError("LAKE_URI is not set: it names the lake (s3://bucket or a folder)")
        roots = json.loads(os.environ.get("BCJOURNEY_BUCKET_ROOTS") or "{}")
        return cls(lake=open_storage(lake_uri, boto3_session=boto3_session), bucket_roots=roots,
                   state_machine_arn=os.environ.get("MATCH_STATE_MACHINE_ARN") or None,
                   boto3_session=boto3_session)

    def landing(self, bucket: str) -> Storage:
        return open_storage(self.bucket_roots.get(bucket, f"s3://{bucket}"), boto3_session=self.boto3_session)

    def start_matching(self, days: list[str], batch_id: str) -> str | None:
        """Start the state machine that matches `days`; returns the execution ARN (None when not configured)."""
        if not self.state_machine_arn or not days:
            return None
        import boto3

        session = self.boto3_session or boto3.Session()
        response = session.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            input=json.dumps({"days": days, "batch_id": batch_id}),
        )
        return response["executionArn"]
