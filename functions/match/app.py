"""Match Lambda: one day of clicks and registrations -> unified/journeys/dt=<day>/ and its link health
(unified/link_health/dt=<day>/). Step Functions maps it over the days an ingest touched ({"day": "YYYY-MM-DD"});
a batch {"days": [...]} is matched in one pass (the local runner's backfills). All domain work is in bcjourney.matching.

Order: the day is written only while its inputs are still the generation it read (bcjourney.state); if an ingest
changed them meanwhile the result says "superseded" and the run started by that ingest writes it. A day whose
lease another run holds raises DayBusyError, which the state machine retries on a longer schedule: the retry
comes after that run has written.

Errors: storage throttled or unreachable (S3 SlowDown, ServiceUnavailable, RequestTimeout, InternalError, a
connection error) or a file vanishing between listing and reading it are raised as TransientMatchError, which the
state machine retries with backoff; anything else propagates as is and ends, after the Catch, in the dead-letter
queue."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.matching.service import match_days
from bcjourney.runtime import DayBusyError, Runtime, TransientMatchError, make_tracer, transient_cause
from bcjourney.state import DayBusy

logger = Logger()
tracer = make_tracer()  # Powertools' Tracer when tracing is on (Lambda); without the X-Ray SDK when off
metrics = Metrics()

RUNTIME: Runtime | None = None
EVENT_SHAPE = '{"day": "YYYY-MM-DD"} or {"days": ["YYYY-MM-DD", ...]}'


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    days = event["days"] if "days" in event else [event["day"]] if "day" in event else []
    if not days:
        raise ValueError(f"a match event is {EVENT_SHAPE}; got {event!r}")
    label = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
    logger.set_correlation_id(f"match-{label}")
    try:
        # the lease may be held until this invocation can no longer be alive; then another run may take it
        lease_seconds = context.get_remaining_time_in_millis() / 1000 + 5
        results = match_days(runtime.lake, days, state=runtime.pipeline_state(), lease_seconds=lease_seconds)
    except DayBusy as busy:
        metrics.add_metric(name="DaysBusy", unit=MetricUnit.Count, value=1)
        logger.info("another run is writing the day; the state machine will retry", extra={"cause": str(busy)})
        raise DayBusyError(str(busy)) from busy
    except Exception as exc:
        cause = transient_cause(exc)
        if cause is None:
            raise
        metrics.add_metric(name="TransientErrors", unit=MetricUnit.Count, value=1)
        logger.warning("transient error, the state machine will retry", extra={"cause": repr(cause)})
        raise TransientMatchError(f"matching {label} hit a transient storage error: {cause}") from exc
    metrics.add_metric(name="RegistrationsLinked", unit=MetricUnit.Count, value=sum(r.linked for r in results))
    metrics.add_metric(name="RegistrationsUnmatched", unit=MetricUnit.Count,
                       value=sum(r.unmatched_registrations for r in results))
    metrics.add_metric(name="SupersededDays", unit=MetricUnit.Count, value=sum(r.superseded for r in results))
    clocks = [c for r in results for c in r.clock if c["found"]]
    metrics.add_metric(name="ClockOffsetsFound", unit=MetricUnit.Count, value=len(clocks))  # alarmed
    metrics.add_metric(name="ClockOffsetsApplied", unit=MetricUnit.Count, value=sum(c["applied"] for c in clocks))
    for clock in clocks:
        logger.warning("partner clock off", extra=clock)
    collapses = [h for r in results for h in r.health if h["collapsed"]]
    metrics.add_metric(name="LinkHealthCollapses", unit=MetricUnit.Count, value=len(collapses))  # alarmed
    for health in collapses:
        logger.warning("link health collapsed", extra=health)
    if "days" in event:
        return {"days": [r.as_dict() for r in results]}
    return results[0].as_dict()
