"""Ingest Lambda: an S3 ObjectCreated event -> curated Parquet, quarantine and a quality report per object,
then the matching state machine for the days touched. All domain work is in bcjourney.ingest."""

from __future__ import annotations

from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bcjourney.ingest.service import ingest_object
from bcjourney.matching.service import affected_days
from bcjourney.runtime import Runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Tests and the local runner may inject a Runtime; otherwise it is built from the environment.
RUNTIME: Runtime | None = None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict:
    runtime = RUNTIME or Runtime.from_environment()
    batches, days = [], set()
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)  # S3 sends keys URL-encoded ('day one' -> 'day+one')
        logger.append_keys(s3_key=key)
        result = ingest_object(runtime.landing(record.s3.bucket.name), key, runtime.lake)
        logger.set_correlation_id(result.batch_id)
        report = result.report
        metrics.add_metric(name="RowsIn", unit=MetricUnit.Count, value=report.rows_in)
        metrics.add_metric(name="RowsCurated", unit=MetricUnit.Count, value=report.curated)
        metrics.add_metric(name="RowsMerged", unit=MetricUnit.Count, value=report.merged_duplicates)
        metrics.add_metric(name="RowsQuarantined", unit=MetricUnit.Count, value=report.quarantined)
        logger.info("ingested", extra={"rows_in": report.rows_in, "curated": report.curated,
                                       "quarantined_by_rule": report.quarantined_by_rule})
        batches.append({"key": key, "source": result.source, "batch_id": result.batch_id, "days": result.days,
                        "rows_in": report.rows_in, "curated": report.curated,
                        "merged_duplicates": report.merged_duplicates, "quarantined": report.quarantined,
                        "quarantined_by_rule": report.quarantined_by_rule})
        days.update(result.days)
    match_days = affected_days(sorted(days))
    execution = runtime.start_matching(match_days, batches[-1]["batch_id"]) if batches else None
    return {"batches": batches, "match_days": match_days, "execution_arn": execution}
