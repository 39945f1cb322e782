"""Dead-letter handler Lambda: the match_days state machine's Catch invokes it with
{"source": "match_days", "execution_arn", "input", "error": {"Error", "Cause"}}. It archives the record in the lake
(_dead_letters/source=.../dt=.../<execution>.json), logs it, counts it (metric DeadLetters) and sends it to the
dead-letter queue for the alarm and the redrive function. All the work is in bcjourney.dead_letters.

If it fails, the state machine sends the record to the queue directly (SendToDeadLetterQueue), so nothing is lost."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.dead_letters import correlation_id, record_dead_letter
from bcjourney.runtime import Runtime, make_tracer
from bcjourney.storage import Storage  # noqa: F401  (see below)

# Every invocation writes to the lake, so the storage adapters' imports (pandas, pyarrow) stay in the INIT phase
# (kept by the import above; bcjourney.runtime no longer makes them, #17) rather than move into the first call.

logger = Logger()
tracer = make_tracer()  # Powertools' Tracer when tracing is on (Lambda); without the X-Ray SDK when off
metrics = Metrics()

# Tests may inject a Runtime; otherwise it is built from the environment.
RUNTIME: Runtime | None = None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    logger.set_correlation_id(correlation_id(event))
    metrics.add_metric(name="DeadLetters", unit=MetricUnit.Count, value=1)  # counted even if recording fails
    result = record_dead_letter(event, lake=runtime.lake, sqs=runtime.client("sqs"),
                                queue_url=runtime.dead_letter_queue_url)
    logger.error("dead letter recorded", extra={"source": event.get("source"), "input": event.get("input"),
                                                "error": event.get("error"), **result})
    return result
