"""Match Lambda: one day of clicks and registrations -> unified/journeys/dt=<day>/. Step Functions maps it
over the days an ingest touched. All domain work is in bcjourney.matching.

Errors: storage throttled or unreachable (S3 SlowDown, ServiceUnavailable, RequestTimeout, InternalError, a
connection error) or a file vanishing between listing and reading it are raised as TransientMatchError, which the
state machine retries with backoff; anything else propagates as is and ends, after the Catch, in the dead-letter
queue."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bcjourney.matching.service import match_day
from bcjourney.runtime import Runtime, TransientMatchError, transient_cause

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
    try:
        result = match_day(runtime.lake, day)
    except Exception as exc:
        cause = transient_cause(exc)
        if cause is None:
            raise
        metrics.add_metric(name="TransientErrors", unit=MetricUnit.Count, value=1)
        logger.warning("transient error, the state machine will retry", extra={"cause": repr(cause)})
        raise TransientMatchError(f"matching {day} hit a transient storage error: {cause}") from exc
    metrics.add_metric(name="RegistrationsLinked", unit=MetricUnit.Count, value=result.linked)
    metrics.add_metric(name="RegistrationsUnmatched", unit=MetricUnit.Count, value=result.unmatched_registrations)
    return result.as_dict()
