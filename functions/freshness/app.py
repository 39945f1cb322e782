"""Freshness Lambda: run every 15 minutes by EventBridge Scheduler (the event is ignored beyond its ids, which
become the correlation id). Reads every day's generation from the pipeline state and reports the days left stale
for longer than STALE_AFTER_MINUTES (default 60): changed curated rows that no match run has written. All the
work is in bcjourney.freshness.

It emits the metric StaleDays (Count) on every run, 0 included, so the `partition-stale` alarm always has data: no
data means the check itself did not run, which that alarm treats as a failure too. It logs the stale days (a
warning) and returns the report {"stale_days", "oldest_bump", "checked"}. A stale day is re-matched by starting
match_days with {"days": [...], "batch_id": "..."} (as events/state_machine_input.json)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.freshness import check_freshness
from bcjourney.runtime import ConfigurationError, Runtime, make_tracer

logger = Logger()
tracer = make_tracer()  # Powertools' Tracer when tracing is on (Lambda); without the X-Ray SDK when off
metrics = Metrics()

# Tests may inject a Runtime; otherwise it is built from the environment.
RUNTIME: Runtime | None = None
DEFAULT_STALE_AFTER_MINUTES = 60.0


def stale_after() -> timedelta:
    """The grace period from STALE_AFTER_MINUTES: how long a day may wait for its match run."""
    text = os.environ.get("STALE_AFTER_MINUTES") or str(DEFAULT_STALE_AFTER_MINUTES)
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not minutes >= 0:  # also NaN
        raise ConfigurationError(f"STALE_AFTER_MINUTES must be a number of minutes >= 0, got {text!r}")
    return timedelta(minutes=minutes)


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    if isinstance(event, dict):
        execution = event.get("execution_id") or event.get("id")  # Scheduler's execution id, or a rule event's id
        if execution:
            logger.set_correlation_id(f"freshness-{execution}")
    grace = stale_after()
    report = check_freshness(runtime.pipeline_state(), datetime.now(timezone.utc), grace)
    metrics.add_metric(name="StaleDays", unit=MetricUnit.Count, value=len(report["stale_days"]))
    details = {**report, "stale_after_minutes": grace.total_seconds() / 60}
    if report["stale_days"]:
        logger.warning("days left stale: their curated rows changed and no match run has written them", extra=details)
    else:
        logger.info("every day is matched (or within the grace period)", extra=details)
    return dict(report)
