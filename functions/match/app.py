"""Match Lambda: one day of clicks and registrations -> unified/journeys/dt=<day>/. Step Functions maps it
over the days an ingest touched. All domain work is in bcjourney.matching."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bcjourney.matching.service import match_day
from bcjourney.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RUNTIME: Runtime | None = None


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    day = event["day"]
    logger.set_correlation_id(f"match-{day}")
    result = match_day(runtime.lake, day)
    metrics.add_metric(name="RegistrationsLinked", unit=MetricUnit.Count, value=result.linked)
    metrics.add_metric(name="RegistrationsUnmatched", unit=MetricUnit.Count, value=result.unmatched_registrations)
    return result.as_dict()
