"""Ingest Lambda: S3 landing events -> curated Parquet, quarantine and a quality report per object version, then
the matching state machine for the days whose rows changed. All domain work is in bcjourney.ingest.

With MATCH_DEBOUNCE_SECONDS, a file of few days starts one execution per day and window (bcjourney.match_runs); a
later file's start in the window is merged into it (MatchRunsMerged), and the result says which executions the
file started and which it was merged into (executions_started, executions_merged).

On AWS the events come through an SQS queue (IngestQueue): S3 sends its notifications there, and the function
reports each failed record back (ReportBatchItemFailures), so only that one returns to the queue, visible again
after the visibility timeout, which is longer than this function's timeout: an ingest killed mid-run (out of
memory, timeout) is retried, and after three receives it is in the ingest dead-letter queue, with an alarm. A direct
S3 event (`sam local invoke -e events/s3_put_conversions.json`, the local runner) is handled the same way, and its
errors are raised.

Order and effect (bcjourney.ingest.versions): an ObjectCreated event is applied only when its S3 sequencer is
newer than the key's last applied one, its rows replace the previous version's only once they are written, and an
ObjectRemoved event retracts the key's rows. A rejected file (unreadable, bad header) is not retried: it is in
quarantine and its report, counted in the FilesRejected metric, and the previous version's rows stay.

S3 delivers events at least once. With IDEMPOTENCY_TABLE set, Powertools records each delivery (bucket, key, eTag,
versionId, sequencer, event) in DynamoDB: a duplicate gets the first run's result back; a duplicate arriving while
the first still runs fails, to be retried later. Without the table (the local runner) it is off."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext
from bcjourney.days import affected_days
from bcjourney.ingest.service import FileRejected
from bcjourney.ingest.sources import UnknownLandingKey, classify_key
from bcjourney.ingest.versions import Applied, apply_created, apply_removed
from bcjourney.partners import UnknownPartner
from bcjourney.runtime import Runtime, make_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor

# Start-up (#17): Powertools' batch utility (it imports asyncio) and its idempotency utility (its DynamoDB layer
# imports boto3) are imported where they are used, by the queue's batches and with IDEMPOTENCY_TABLE set: a direct
# S3 event (sam local, the local runner) needs neither. On Lambda both are used on every call, so the first one
# pays for them (about 0.1 s; with tracing on less, as the X-Ray patch has imported botocore already).

logger = Logger()
tracer = make_tracer()  # Powertools' Tracer when tracing is on (Lambda); without the X-Ray SDK when off
metrics = Metrics()

# Tests and the local runner may inject a Runtime; otherwise it is built from the environment.
RUNTIME: Runtime | None = None

# A duplicate S3 delivery comes within minutes, an SQS redelivery after the visibility timeout (hours at most).
IDEMPOTENCY_EXPIRY_SECONDS = 24 * 3600


@cache
def sqs_processor() -> BatchProcessor:
    """The ingest queue's batch processor: built on the first batch, then kept for the container's life."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS)


def apply_delivery(*, runtime: Runtime, delivery: dict, request_id: str) -> dict:
    """Apply one S3 event record and start matching the days it changed. `delivery` is the idempotency key; the
    return value is what a duplicate delivery gets back, so it is plain JSON."""
    key, sequencer = delivery["key"], delivery["sequencer"]
    state = runtime.pipeline_state()
    try:
        if delivery["event"].startswith("ObjectRemoved"):
            applied = apply_removed(key, runtime.lake, state, sequencer=sequencer)
        else:
            applied = apply_created(runtime.landing(delivery["bucket"]), key, runtime.lake, state,
                                    sequencer=sequencer, version_id=delivery.get("version_id"),
                                    etag=delivery.get("etag"))
    except FileRejected as rejected:
        kept = rejected.kept_previous_batch is not None
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
        if isinstance(rejected.__cause__, UnknownPartner):  # a partner folder nobody set up: an alarm
            metrics.add_metric(name="UnknownPartnerFiles", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ReuploadsRejected", unit=MetricUnit.Count, value=int(kept))
        logger.error("file rejected", extra={"error": str(rejected), "kept_previous_version": kept})
        return {"key": key, "action": "rejected", "error": str(rejected), "kept_previous_version": kept,
                "match_days": [], "execution_arn": None, "request_id": request_id, "sequencer": sequencer}
    count_metrics(applied)
    match_days = affected_days(applied.days)
    batch_id = applied.result.batch_id if applied.result else f"{applied.action}-{sequencer}"
    starts = runtime.start_matching(match_days, batch_id)
    count_match_runs(starts)
    out: dict[str, Any] = {"key": key, "action": applied.action, "sequencer": sequencer,
                           "changed_days": applied.days, "retired_batch": applied.retired_batch,
                           "retracted_rows": applied.retracted_rows, "match_days": match_days,
                           "execution_arn": first_execution(starts), "executions_started": starts["started"],
                           "executions_merged": starts["merged"], "request_id": request_id}
    if applied.result:
        report = applied.result.report
        out.update(source=applied.result.source, batch_id=batch_id, days=applied.result.days,
                   rows_in=report.rows_in, curated=report.curated, merged_duplicates=report.merged_duplicates,
                   quarantined=report.quarantined, quarantined_by_rule=dict(report.quarantined_by_rule),
                   blank_lines=report.blank_lines)
    return out


def first_execution(starts: dict[str, list[str]]) -> str | None:
    """The execution that matches the file's first day: started by this file, or the one of its day and window."""
    return next(iter(starts["started"] + starts["merged"]), None)


def count_match_runs(starts: dict[str, list[str]]) -> None:
    """Starts merged into an execution of the same day and debounce window are the debounce working: counted."""
    if not starts["merged"]:
        return
    metrics.add_metric(name="MatchRunsMerged", unit=MetricUnit.Count, value=len(starts["merged"]))
    logger.info("match runs merged into the executions of their day and window",
                extra={"merged": starts["merged"], "started": starts["started"]})


def count_metrics(applied: Applied) -> None:
    if applied.action == "skipped_older":
        logger.warning("an older or repeated event for the key: skipped", extra={"sequencer": applied.sequencer})
        metrics.add_metric(name="StaleVersionsSkipped", unit=MetricUnit.Count, value=1)
    if applied.action == "superseded":
        metrics.add_metric(name="SupersededIngests", unit=MetricUnit.Count, value=1)
    if applied.action == "retracted":
        metrics.add_metric(name="ObjectsRetracted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RowsRetracted", unit=MetricUnit.Count, value=applied.retracted_rows)
        logger.info("retracted", extra={"rows": applied.retracted_rows, "days": applied.days})
    if applied.action != "ingested" or applied.result is None:
        return
    report = applied.result.report
    logger.set_correlation_id(applied.result.batch_id)
    metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=report.rows_in)
    metrics.add_metric(name="RowsCurated", unit=MetricUnit.Count, value=report.curated)
    metrics.add_metric(name="RowsMerged", unit=MetricUnit.Count, value=report.merged_duplicates)
    metrics.add_metric(name="RowsQuarantined", unit=MetricUnit.Count, value=report.quarantined)
    if report.rows_in:  # the alarm on a batch quarantining far more than usual reads this
        metrics.add_metric(name="QuarantinedPercent", unit=MetricUnit.Percent,
                           value=100.0 * report.quarantined / report.rows_in)
    for rule, count in report.quarantined_by_rule.items():  # e.g. RowsQuarantined_suspicious_text
        metrics.add_metric(name=f"RowsQuarantined_{rule}", unit=MetricUnit.Count, value=count)
    logger.info("ingested", extra={"rows_in": report.rows_in, "curated": report.curated,
                                   "quarantined_by_rule": report.quarantined_by_rule,
                                   "retired_batch": applied.retired_batch})


def once_per_delivery(runtime: Runtime, context: LambdaContext) -> Callable[..., dict]:
    """`apply_delivery`, made idempotent on the runtime's table (or as is when there is none)."""
    store = runtime.idempotency_store()
    if store is None:
        return apply_delivery
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS)
    config.register_lambda_context(context)  # an in-progress record expires with this invocation's timeout
    return idempotent_function(apply_delivery, data_keyword_argument="delivery", persistence_store=store,
                               config=config)


def deliveries(notification: dict) -> list[dict]:
    """The records of one S3 notification as idempotency keys (S3 sends keys URL-encoded: 'day one' -> 'day+one')."""
    if notification.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        return []
    out = []
    for record in S3Event(notification).records:
        obj = record.s3.get_object
        sequencer = obj.get("sequencer")
        if not sequencer:
            raise ValueError(f"an S3 event record without a sequencer: {record.event_name} {obj.key}")
        out.append({"bucket": record.s3.bucket.name, "key": unquote_plus(obj.key), "etag": obj.get("eTag"),
                    "version_id": obj.get("versionId"), "sequencer": sequencer, "event": record.event_name})
    return out


def handle(runtime: Runtime, context: LambdaContext, notification: dict) -> list[dict]:
    apply_once = once_per_delivery(runtime, context)
    results = []
    for delivery in deliveries(notification):
        logger.append_keys(s3_key=delivery["key"], s3_event=delivery["event"])
        try:
            classify_key(delivery["key"])
        except UnknownLandingKey as not_data:  # a console folder marker, a stray file: nothing to ingest
            logger.info("not a landing data file: ignored", extra={"reason": str(not_data)})
            metrics.add_metric(name="KeysIgnored", unit=MetricUnit.Count, value=1)
            results.append({"key": delivery["key"], "action": "ignored", "reason": str(not_data), "match_days": [],
                            "execution_arn": None, "request_id": context.aws_request_id,
                            "sequencer": delivery["sequencer"]})
            continue
        result = apply_once(runtime=runtime, delivery=delivery, request_id=context.aws_request_id)
        if result["request_id"] != context.aws_request_id:
            logger.info("duplicate delivery: already applied, not run again",
                        extra={"first_request_id": result["request_id"]})
            metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
            result = {**result, "duplicate": True, "execution_arn": None, "executions_started": [],
                      "executions_merged": []}
        results.append(result)
    return results


def summarize(results: list[dict]) -> dict:
    fresh = [r for r in results if not r.get("duplicate")]
    executions = [r["execution_arn"] for r in fresh if r["execution_arn"]]
    return {"batches": [r for r in fresh if r["action"] == "ingested"],
            "applied": fresh, "duplicates": [r for r in results if r.get("duplicate")],
            "match_days": sorted({d for r in fresh for d in r["match_days"]}),
            "execution_arn": executions[-1] if executions else None,
            "executions_started": [a for r in fresh for a in r.get("executions_started", [])],
            "executions_merged": [a for r in fresh for a in r.get("executions_merged", [])]}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        from aws_lambda_powertools.utilities.batch import process_partial_response

        applied: list[dict] = []
        response = process_partial_response(
            event=event, processor=sqs_processor(), context=context,
            record_handler=lambda record: applied.extend(handle(runtime, context, json.loads(record.body))))
        return {**summarize(applied), **response}  # Lambda reads batchItemFailures; the rest is for the log
    summary = summarize(handle(runtime, context, event))
    rejected = [r for r in summary["applied"] if r["action"] == "rejected"]
    if rejected:  # invoked directly: say so as an error (on the queue it is quarantined and counted instead)
        raise FileRejected("; ".join(r["error"] for r in rejected))
    return summary
