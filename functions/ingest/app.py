"""Ingest Lambda: an S3 ObjectCreated event -> curated Parquet, quarantine and a quality report per object,
then the matching state machine for the days touched. All domain work is in bcjourney.ingest.

S3 delivers events at least once. Each delivery (bucket, key, eTag, versionId) is handled once: with
IDEMPOTENCY_TABLE set, Powertools idempotency records it in DynamoDB, and a duplicate gets the first run's result
back without ingesting again or starting another state machine execution. A failed run leaves no record, so
Lambda's retries and the redrive function run it again. Without the table (the local runner) it is off."""

from __future__ import annotations

from typing import Callable
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.ingest.service import ingest_object
from bcjourney.matching.service import affected_days
from bcjourney.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Tests and the local runner may inject a Runtime; otherwise it is built from the environment.
RUNTIME: Runtime | None = None

# A duplicate S3 delivery comes within minutes; a Lambda async retry up to 6 h later (MaximumEventAgeInSeconds).
IDEMPOTENCY_EXPIRY_SECONDS = 24 * 3600


def ingest_delivery(*, runtime: Runtime, delivery: dict, request_id: str) -> dict:
    """Ingest one S3 object and start matching its days. `delivery` ({bucket, key, etag, version_id}) is the
    idempotency key; the return value is what a duplicate delivery gets back, so it is plain JSON."""
    result = ingest_object(runtime.landing(delivery["bucket"]), delivery["key"], runtime.lake,
                           version=delivery.get("version_id"))
    logger.set_correlation_id(result.batch_id)
    report = result.report
    metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=report.rows_in)
    metrics.add_metric(name="RowsCurated", unit=MetricUnit.Count, value=report.curated)
    metrics.add_metric(name="RowsMerged", unit=MetricUnit.Count, value=report.merged_duplicates)
    metrics.add_metric(name="RowsQuarantined", unit=MetricUnit.Count, value=report.quarantined)
    for rule, count in report.quarantined_by_rule.items():  # e.g. RowsQuarantined_suspicious_text
        metrics.add_metric(name=f"RowsQuarantined_{rule}", unit=MetricUnit.Count, value=count)
    logger.info("ingested", extra={"rows_in": report.rows_in, "curated": report.curated,
                                   "quarantined_by_rule": report.quarantined_by_rule})
    match_days = affected_days(result.days)
    execution = runtime.start_matching(match_days, result.batch_id)
    return {"key": delivery["key"], "source": result.source, "batch_id": result.batch_id, "days": result.days,
            "rows_in": report.rows_in, "curated": report.curated, "merged_duplicates": report.merged_duplicates,
            "quarantined": report.quarantined, "quarantined_by_rule": dict(report.quarantined_by_rule),
            "blank_lines": report.blank_lines, "match_days": match_days, "execution_arn": execution,
            "request_id": request_id}


def once_per_delivery(runtime: Runtime, context: LambdaContext) -> Callable[..., dict]:
    """`ingest_delivery`, made idempotent on the runtime's table (or as is when there is none)."""
    store = runtime.idempotency_store()
    if store is None:
        return ingest_delivery
    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS)
    config.register_lambda_context(context)  # an in-progress record expires with this invocation's timeout
    return idempotent_function(ingest_delivery, data_keyword_argument="delivery", persistence_store=store,
                               config=config)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    ingest_once = once_per_delivery(runtime, context)
    batches, days, duplicates = [], set(), []
    for record in event.records:
        obj = record.s3.get_object
        key = unquote_plus(obj.key)  # S3 sends keys URL-encoded ('day one' -> 'day+one')
        delivery = {"bucket": record.s3.bucket.name, "key": key, "etag": obj.etag,
                    "version_id": obj.version_id}
        logger.append_keys(s3_key=key)
        try:
            batch = ingest_once(runtime=runtime, delivery=delivery, request_id=context.aws_request_id)
        except IdempotencyAlreadyInProgressError:
            # The first delivery is being ingested right now by another invocation; if that one fails, its own
            # retries (then the dead-letter queue) take over. Nothing to do here.
            logger.warning("duplicate delivery while the first is still being ingested: skipped")
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            duplicates.append({**delivery, "state": "in_progress"})
            continue
        if batch["request_id"] != context.aws_request_id:
            logger.info("duplicate delivery: already ingested, not run again",
                        extra={"first_request_id": batch["request_id"], "execution_arn": batch["execution_arn"]})
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            duplicates.append({**delivery, "state": "completed", "first_request_id": batch["request_id"]})
            continue
        batches.append(batch)
        days.update(batch["match_days"])
    executions = [b["execution_arn"] for b in batches if b["execution_arn"]]
    return {"batches": batches, "match_days": sorted(days), "execution_arn": executions[-1] if executions else None,
            "duplicates": duplicates}
