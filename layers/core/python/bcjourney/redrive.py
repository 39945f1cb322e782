"""Redrive: put dead letters back to work once the fault behind them is fixed.

The dead-letter queue holds two kinds of message (events/dlq_message_*.json):
  - from the match_days state machine (its Catch): {"source": "match_days", "execution_arn", "input", "error"};
    redriven by starting the state machine again with `input`;
  - from the ingest queue (its redrive policy, after three failed receives): the S3 notification itself
    {"Records": [{"eventSource": "aws:s3", ...}]}; redriven by sending it back to the ingest queue. Ingest applies
    events in S3's order (bcjourney.ingest.versions), so a redriven event older than what was applied since is
    skipped, not applied over it.
A message is deleted only after its re-submission was accepted. A message of neither kind, or whose
re-submission failed, stays in the queue (made visible again at the end of the run) and is reported.

The clients are handed in (the handler builds them from one boto3 session), so this runs on moto unchanged.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

logger = logging.getLogger(__name__)

MATCH_DAYS = "match_days"
INGEST = "ingest"
TIME_MARGIN_SECONDS = 15  # one more batch of 10 (receive, 10 re-submissions, deletes) takes a few seconds at most


@dataclass(frozen=True)
class RedriveTargets:
    queue_url: str
    state_machine_arn: str
    ingest_queue_url: str

    @classmethod
    def from_environment(cls) -> "RedriveTargets":
        names = ("DEAD_LETTER_QUEUE_URL", "MATCH_STATE_MACHINE_ARN", "INGEST_QUEUE_URL")
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            from .runtime import ConfigurationError

            raise ConfigurationError(f"redrive needs {', '.join(missing)}")
        return cls(*(os.environ[n] for n in names))


@dataclass
class RedriveReport:
    received: int = 0
    restarted_match_days: int = 0
    resent_to_ingest: int = 0
    left_unknown: int = 0
    left_failed: int = 0
    stopped_early: bool = False
    executions: list[str] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)  # {message_id, body (truncated)}
    failures: list[dict] = field(default_factory=list)  # {message_id, kind, error}

    def as_dict(self) -> dict:
        return asdict(self)


def classify(body: Any) -> str | None:
    """MATCH_DAYS, INGEST or None (unknown) for a parsed message body."""
    if not isinstance(body, dict):
        return None
    if body.get("source") == MATCH_DAYS and isinstance(body.get("input"), dict):
        return MATCH_DAYS
    records = body.get("Records")
    if (isinstance(records, list) and records and all(isinstance(r, dict) for r in records)
            and all(r.get("eventSource") == "aws:s3" for r in records)):
        return INGEST
    return None


def execution_name(message_id: str) -> str:
    """One name per dead letter: if a run started the execution but could not delete the message, the next run's
    StartExecution is refused as ExecutionAlreadyExists (or returns the running one) instead of matching twice."""
    name = "redrive-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in message_id)
    return name[:80]


def resubmit(kind: str, body: dict, message_id: str, targets: RedriveTargets, *, stepfunctions: Any,
             sqs: Any) -> str:
    """Re-submit one dead letter; returns what was started (an execution ARN or the new message's id)."""
    if kind == MATCH_DAYS:
        try:
            response = stepfunctions.start_execution(stateMachineArn=targets.state_machine_arn,
                                                     name=execution_name(message_id),
                                                     input=json.dumps(body["input"]))
        except stepfunctions.exceptions.ExecutionAlreadyExists:
            logger.info("dead letter %s was already restarted by an earlier redrive", message_id)
            return f"{targets.state_machine_arn}:{execution_name(message_id)} (already started)"
        return response["executionArn"]
    response = sqs.send_message(QueueUrl=targets.ingest_queue_url, MessageBody=json.dumps(body))
    return f"ingest queue message {response['MessageId']}"


def redrive(targets: RedriveTargets, *, sqs: Any, stepfunctions: Any, max_messages: int = 10,
            wait_seconds: int = 1, seconds_left: Callable[[], float] | None = None) -> RedriveReport:
    """Re-submit up to `max_messages` dead letters. Receives in batches of at most 10 until `max_messages` are
    received, the queue answers empty, or `seconds_left()` (the Lambda's remaining time) drops under a margin;
    received messages stay invisible to this run (the queue's visibility timeout, longer than the function's), so
    none is seen twice. Those left in the queue are made visible again at the end."""
    report = RedriveReport()
    keep: list[str] = []  # receipt handles of messages left in the queue
    while report.received < max_messages:
        if seconds_left is not None and seconds_left() < TIME_MARGIN_SECONDS:
            logger.warning("stopping early to finish within the function's timeout; run the redrive again")
            report.stopped_early = True
            break
        response = sqs.receive_message(QueueUrl=targets.queue_url,
                                       MaxNumberOfMessages=min(10, max_messages - report.received),
                                       WaitTimeSeconds=wait_seconds, AttributeNames=["All"])
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            report.received += 1
            message_id, handle = message["MessageId"], message["ReceiptHandle"]
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = None
            kind = classify(body)
            if kind is None:
                logger.warning("dead letter %s is of no known kind: left in the queue", message_id)
                report.left_unknown += 1
                report.unknown.append({"message_id": message_id, "body": message["Body"][:500]})
                keep.append(handle)
                continue
            try:
                started = resubmit(kind, body, message_id, targets, stepfunctions=stepfunctions, sqs=sqs)
            except Exception as exc:  # reported, and the message stays for the next run
                logger.warning("re-submitting dead letter %s (%s) failed: %s", message_id, kind, exc)
                report.left_failed += 1
                report.failures.append({"message_id": message_id, "kind": kind,
                                        "error": f"{type(exc).__name__}: {exc}"})
                keep.append(handle)
                continue
            sqs.delete_message(QueueUrl=targets.queue_url, ReceiptHandle=handle)
            if kind == MATCH_DAYS:
                report.restarted_match_days += 1
                report.executions.append(started)
            else:
                report.resent_to_ingest += 1
            logger.info("dead letter %s (%s) re-submitted: %s", message_id, kind, started)
    for handle in keep:
        sqs.change_message_visibility(QueueUrl=targets.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report
