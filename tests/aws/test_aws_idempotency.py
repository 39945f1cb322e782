"""S3 delivers events at least once: the same event delivered twice produces one output and one match_days
execution (Powertools idempotency on the moto DynamoDB table named by the template's IDEMPOTENCY_TABLE)."""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bcjourney_tools.local.events import s3_object_created_event
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto_stack import LANDING, ProcessKilled

KEY = "conversions/clicks 2024-04-01.csv"


def deliver(stack, notification: dict) -> list:
    """Deliver an S3 notification again, as S3 may: one more message in the ingest queue, polled at once."""
    stack.client("sqs").send_message(QueueUrl=stack.ingest_queue_url, MessageBody=json.dumps(notification))
    return stack.poll_ingest_queue()


def notification_of(invocation) -> dict:
    """The S3 notification an ingest invocation received (the body of its one SQS record)."""
    (record,) = invocation.event["Records"]
    return json.loads(record["body"])


def versions(stack, prefix: str) -> dict[str, int]:
    """Object versions per key in the (versioned) lake: a re-run of ingest would add versions."""
    listed = stack.client("s3").list_object_versions(Bucket=stack.lake_bucket, Prefix=prefix)
    counts: dict[str, int] = {}
    for version in listed.get("Versions", []):
        counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def idempotency_records(stack) -> list[dict]:
    return stack.client("dynamodb").scan(TableName=stack.table_name)["Items"]


def test_the_same_event_twice_gives_one_output_and_one_execution(stack):
    stack.upload(KEY, LANDING[KEY])  # S3's notification: the first delivery
    (first,) = stack.calls(stack.ingest_function)
    assert first.error is None and first.result["execution_arn"]
    written = versions(stack, "")
    assert written and set(written.values()) == {1}

    deliver(stack, notification_of(first))  # the duplicate, as S3 may send it
    second = stack.calls(stack.ingest_function)[-1]
    assert second.error is None
    assert second.result["batches"] == [] and second.result["execution_arn"] is None
    (duplicate,) = second.result["duplicates"]
    assert duplicate["action"] == "ingested" and duplicate["key"] == KEY  # the first run's answer
    assert duplicate["request_id"] == first.result["batches"][0]["request_id"]

    assert versions(stack, "") == written, "nothing in the lake was written again"
    executions = stack.executions()
    assert [e["executionArn"] for e in executions] == [first.result["execution_arn"]]
    (record,) = idempotency_records(stack)
    assert record["status"]["S"] == "COMPLETED"
    assert json.loads(record["data"]["S"])["execution_arn"] == first.result["execution_arn"]
    stack.wait_all()


def test_a_new_object_version_is_a_new_delivery(stack):
    """The key includes versionId and sequencer: a partner re-uploading the file is ingested again."""
    ingest = stack.handlers[stack.ingest_function]
    stack.runtimes["ingest"].state_machine_arn = None  # matching is not what this test is about
    v1 = stack.upload(KEY, LANDING[KEY])["VersionId"]
    v2 = stack.upload(KEY, LANDING[KEY])["VersionId"]
    results = []
    for version, sequencer in ((v1, "0070000000000000A1"), (v1, "0070000000000000A1"), (v2, "0070000000000000A2")):
        event = s3_object_created_event(stack.landing_bucket, KEY, 100, "etag-1", sequencer)
        event["Records"][0]["s3"]["object"]["versionId"] = version
        results.append(ingest.lambda_handler(event, LocalLambdaContext(stack.ingest_function)))
    assert [len(r["batches"]) for r in results] == [1, 0, 1]
    assert [len(r["duplicates"]) for r in results] == [0, 1, 0]
    assert len(idempotency_records(stack)) == 4  # the two uploads' own notifications, then v1 and v2 here


def test_a_failed_run_leaves_no_record_so_the_retry_runs_again(stack):
    ingest_runtime = stack.runtimes["ingest"]
    arn = ingest_runtime.state_machine_arn
    ingest_runtime.state_machine_arn = arn + "-missing"  # starting the state machine fails
    stack.upload(KEY, LANDING[KEY])
    (failed,) = stack.calls(stack.ingest_function)
    assert failed.error == "BatchProcessingError"  # its one record failed: the message stays in the queue
    assert idempotency_records(stack) == [], "Powertools deleted the in-progress record on the error"

    ingest_runtime.state_machine_arn = arn  # the fault is gone; the message is received again after its timeout
    assert stack.reveal_ingest_messages() == 1
    (retried,) = stack.poll_ingest_queue()
    # the rows were written and the version recorded before the failure: the retry redoes the steps after that,
    # and starts matching the same days
    (applied,) = retried.result["applied"]
    assert retried.error is None and applied["action"] == "repeated"
    assert retried.result["match_days"] == ["2024-03-31", "2024-04-01", "2024-04-02", "2024-04-03"]
    assert [e["executionArn"] for e in stack.executions()] == [retried.result["execution_arn"]]
    assert stack.wait(retried.result["execution_arn"])["status"] == "SUCCEEDED"
    assert stack.lake_keys("unified/journeys/dt=2024-04-01/")


def test_a_duplicate_arriving_while_the_first_still_runs_fails_to_be_retried(stack, monkeypatch):
    """Skipping it would lose the event if the first run were killed (its in-progress record stays until the
    function's timeout): it fails instead, and its retry finds the first run's result, or runs."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    ingest = stack.handlers[stack.ingest_function]
    stack.runtimes["ingest"].state_machine_arn = None
    version = stack.upload(KEY, LANDING[KEY])["VersionId"]
    event = s3_object_created_event(stack.landing_bucket, KEY, 100, "etag-1")
    event["Records"][0]["s3"]["object"]["versionId"] = version
    nested = []
    real_apply_created = ingest.apply_created

    def apply_created_meanwhile_duplicate(*args, **kwargs):
        if not nested:  # while the first delivery is in progress, the duplicate arrives
            with pytest.raises(IdempotencyAlreadyInProgressError) as raised:
                ingest.lambda_handler(event, LocalLambdaContext(stack.ingest_function))
            nested.append(raised.value)
        return real_apply_created(*args, **kwargs)

    monkeypatch.setattr(ingest, "apply_created", apply_created_meanwhile_duplicate)
    first = ingest.lambda_handler(event, LocalLambdaContext(stack.ingest_function))
    assert nested and len(first["batches"]) == 1 and first["duplicates"] == []
    retry = ingest.lambda_handler(event, LocalLambdaContext(stack.ingest_function))  # the duplicate, retried
    assert retry["batches"] == [] and retry["duplicates"][0]["request_id"] == first["batches"][0]["request_id"]


def curated_rows(files: dict[str, bytes]) -> pd.DataFrame:
    tables = [pq.read_table(io.BytesIO(body)) for key, body in sorted(files.items())
              if key.startswith("curated/conversions/")]
    frame = pa.concat_tables(tables).to_pandas().drop(columns=["batch_id"])
    return frame.sort_values("conversion_id").reset_index(drop=True)


def test_an_ingest_killed_mid_run_is_received_again_and_completes(stack, monkeypatch, curated_lake):
    """Attempt one dies after writing part of its output (out of memory: no error handler runs, the in-progress
    idempotency record stays). The message is hidden for the visibility timeout, longer than the function may
    run, so when it is received again the record has expired, and attempt two ingests: the lake then holds what
    a single clean run writes."""
    from bcjourney.ingest import versions

    template = stack.template["Resources"]
    assert template["IngestQueue"]["Properties"]["VisibilityTimeout"] >= 6 * template["IngestFunction"][
        "Properties"]["Timeout"], "a redelivery must come after a killed attempt's in-progress record expired"
    stack.runtimes["ingest"].state_machine_arn = None
    real_ingest_object = versions.ingest_object

    def killed_after_writing(*args, **kwargs):
        real_ingest_object(*args, **kwargs)  # the output is written ...
        raise ProcessKilled("out of memory")  # ... and the process dies before recording it

    # attempt one's function "times out" 3 s from now, so its in-progress record expires then
    killed_at = time.monotonic()
    monkeypatch.setattr(LocalLambdaContext, "get_remaining_time_in_millis", lambda self: 3000)
    monkeypatch.setattr(versions, "ingest_object", killed_after_writing)
    stack.upload(KEY, LANDING[KEY])
    (attempt_one,) = stack.calls(stack.ingest_function)
    assert attempt_one.error == "Runtime.ExitError"
    (record,) = idempotency_records(stack)
    assert record["status"]["S"] == "INPROGRESS", "a killed run leaves its record in progress"
    assert stack.lake_keys("curated/conversions/"), "and part of its output"

    monkeypatch.setattr(versions, "ingest_object", real_ingest_object)
    assert stack.reveal_ingest_messages() == 1  # received again before the record expired: not run, not lost
    (too_early,) = stack.poll_ingest_queue()
    assert time.monotonic() - killed_at < 3, "the machine is too slow for this test's timings"
    assert too_early.error == "BatchProcessingError"  # IdempotencyAlreadyInProgressError for its one record
    time.sleep(max(0.0, killed_at + 3.2 - time.monotonic()))
    assert stack.reveal_ingest_messages() == 1
    (attempt_two,) = stack.poll_ingest_queue()
    assert attempt_two.error is None and [b["key"] for b in attempt_two.result["batches"]] == [KEY]
    queue = stack.client("sqs").get_queue_attributes(QueueUrl=stack.ingest_queue_url, AttributeNames=["All"])
    assert queue["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert queue["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"
    lake = stack.client("s3")
    ours = {k: lake.get_object(Bucket=stack.lake_bucket, Key=k)["Body"].read()
            for k in stack.lake_keys("curated/conversions/")}
    pd.testing.assert_frame_equal(curated_rows(ours), curated_rows(curated_lake))


def test_a_message_failing_every_time_ends_in_the_dead_letter_queue(stack):
    """After maxReceiveCount receives the queue's redrive policy moves it to the dead-letter queue (alarmed)."""
    ingest_runtime = stack.runtimes["ingest"]
    ingest_runtime.state_machine_arn += "-missing"  # a fault that stays
    stack.upload(KEY, LANDING[KEY])
    receives = stack.template["Resources"]["IngestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    for _ in range(receives):
        stack.reveal_ingest_messages()
        stack.poll_ingest_queue()
    (dead,) = stack.dead_letters()
    assert dead["Records"][0]["s3"]["object"]["key"] == "conversions%2Fclicks+2024-04-01.csv"
    assert len(stack.calls(stack.ingest_function)) == receives


@pytest.mark.parametrize("table", ["", None])
def test_without_a_table_idempotency_is_off(table, monkeypatch, tmp_path):
    """The local runner sets no IDEMPOTENCY_TABLE: the Runtime has no store and the handler calls through."""
    from bcjourney.runtime import Runtime

    if table is None:
        monkeypatch.delenv("IDEMPOTENCY_TABLE", raising=False)
    else:
        monkeypatch.setenv("IDEMPOTENCY_TABLE", table)
    monkeypatch.setenv("LAKE_URI", str(tmp_path))
    assert Runtime.from_environment().idempotency_store() is None
