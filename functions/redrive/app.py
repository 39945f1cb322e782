"""Redrive Lambda: run by hand after a fix (`sam remote invoke RedriveFunction -e events/redrive.json`).
Re-submits up to `max_messages` dead letters: a match_days input restarts the state machine, an S3 notification
that failed ingest three times goes back to the ingest queue. All the work is in bcjourney.redrive."""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.redrive import RedriveTargets, redrive
from bcjourney.runtime import make_tracer

logger = Logger()
tracer = make_tracer()  # Powertools' Tracer when tracing is on (Lambda); without the X-Ray SDK when off
metrics = Metrics()

# Tests inject a (moto-backed) session; on Lambda the default one is used.
BOTO3_SESSION: boto3.Session | None = None


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    session = BOTO3_SESSION or boto3.Session()
    report = redrive(RedriveTargets.from_environment(), sqs=session.client("sqs"),
                     stepfunctions=session.client("stepfunctions"),
                     max_messages=int(event.get("max_messages", 10)), wait_seconds=int(event.get("wait_seconds", 1)),
                     seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    metrics.add_metric(name="DeadLettersRedriven", unit=MetricUnit.Count,
                       value=report.restarted_match_days + report.resent_to_ingest)
    metrics.add_metric(name="DeadLettersLeft", unit=MetricUnit.Count, value=report.left_unknown + report.left_failed)
    logger.info("redrive done", extra=report.as_dict())
    return report.as_dict()
