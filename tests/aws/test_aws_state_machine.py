"""statemachine/match_days.asl.json, executed by moto's Step Functions interpreter, with the match Lambda run
in-process on a moto S3 lake holding a small curated dataset (ingested through the real ingest handler).

What moto's interpreter does with Retry (moto 5.x, the LocalStack ASL interpreter): it implements it as AWS does.
A retrier matches the error name (Lambda's errorType, here "TransientMatchError"), counts MaxAttempts per
retrier, waits IntervalSeconds x BackoffRate^(attempt-1), capped by MaxDelaySeconds, with JitterStrategy FULL a
uniform draw in [0, that], and it really sleeps (time.sleep). The stack fixture patches that sleep to record the
delay, so the tests assert the backoff without waiting for it. Catch then routes the final error as declared.
"""

from __future__ import annotations

import json
import re

import pytest
from bcjourney.runtime import TransientMatchError, transient_cause
from bcjourney.storage import StorageError
from bcjourney_tools.local.handlers import LocalLambdaContext
from botocore.exceptions import EndpointConnectionError
from moto_stack import client_error

DAYS = {"days": ["2024-04-01"], "batch_id": "test-batch"}


@pytest.fixture
def lake(stack, curated_lake):
    """The stack with curated/ as the ingest handler wrote it for LANDING; no match_days run yet (the tests do)."""
    s3 = stack.client("s3")
    for key, body in curated_lake.items():
        s3.put_object(Bucket=stack.lake_bucket, Key=key, Body=body)
    assert any(k.startswith("curated/conversions/") for k in curated_lake)
    assert stack.executions() == [] and stack.lake_keys("unified/") == []
    return stack


def run(stack, name: str, execution_input: dict = DAYS) -> dict:
    arn = stack.client("stepfunctions").start_execution(stateMachineArn=stack.state_machine_arn, name=name,
                                                        input=json.dumps(execution_input))["executionArn"]
    return stack.wait(arn)


def history(stack, execution_arn: str) -> list[dict]:
    return stack.client("stepfunctions").get_execution_history(executionArn=execution_arn,
                                                               maxResults=1000)["events"]


def task_errors(stack, execution_arn: str) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in history(stack, execution_arn) if e["type"] == "TaskFailed"]


def archived_dead_letters(stack) -> dict[str, dict]:
    """The dead letters the dead-letter handler archived in the lake, by key."""
    s3 = stack.client("s3")
    return {key: json.loads(s3.get_object(Bucket=stack.lake_bucket, Key=key)["Body"].read())
            for key in stack.lake_keys("_dead_letters/")}


def assert_archived(stack, described: dict, message: dict) -> None:
    """One archived record, the same as the queued message, under source=match_days/dt=<UTC day>/<execution>.json;
    the handler was called once with it and answered with that key and the queued message's id."""
    (key, archived), = archived_dead_letters(stack).items()
    assert archived == message
    assert re.fullmatch(r"_dead_letters/source=match_days/dt=\d{4}-\d{2}-\d{2}/" + re.escape(described["name"])
                        + r"\.json", key)
    (call,) = stack.calls(stack.dead_letter_function)
    assert call.event == message and call.error is None and call.result["archived_key"] == key


def test_success_writes_the_unified_partitions(lake):
    described = run(lake, "success", {"days": ["2024-03-31", "2024-04-01", "2024-04-02"], "batch_id": "b"})
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["batch_id"] == "b" and [r["day"] for r in output["results"]] == ["2024-03-31", "2024-04-01",
                                                                                   "2024-04-02"]
    assert [r["linked"] for r in output["results"]] == [0, 4, 1]
    assert sorted(c.event["day"] for c in lake.calls(lake.match_function)) == [
        "2024-03-31", "2024-04-01", "2024-04-02"]
    assert lake.lake_keys("unified/journeys/") == ["unified/journeys/dt=2024-04-01/journeys.parquet",
                                          "unified/journeys/dt=2024-04-02/journeys.parquet"]
    assert lake.retry_sleeps == [] and lake.dead_letters() == []


def test_a_transient_storage_error_is_retried_and_then_succeeds(lake):
    lake.match_s3.fail_next(client_error("SlowDown"))
    described = run(lake, "transient")
    assert described["status"] == "SUCCEEDED"
    calls = lake.calls(lake.match_function)
    assert [c.error for c in calls] == ["TransientMatchError", None]
    assert lake.match_s3.raised == [("ListObjectsV2", "SlowDown")]  # S3 itself answered SlowDown, once
    assert task_errors(lake, described["executionArn"]) == ["TransientMatchError"]
    (delay,) = lake.retry_sleeps  # one wait: IntervalSeconds 5, full jitter
    assert 0 <= delay <= 5
    assert lake.lake_keys("unified/journeys/") == ["unified/journeys/dt=2024-04-01/journeys.parquet"]
    assert lake.dead_letters() == []


def test_transient_errors_past_max_attempts_end_in_the_dead_letter_queue(lake):
    lake.match_s3.fail_next(*[client_error("ServiceUnavailable") for _ in range(4)])
    described = run(lake, "exhausted")
    assert described["status"] == "FAILED" and described["error"] == "TransientMatchError"
    assert len(lake.calls(lake.match_function)) == 4  # the first attempt and MaxAttempts 3 retries
    assert len(lake.retry_sleeps) == 3
    assert all(0 <= d <= cap for d, cap in zip(lake.retry_sleeps, (5, 10, 20)))  # 5 x 2^n, full jitter
    (message,) = lake.dead_letters()
    assert message["source"] == "match_days" and message["input"] == DAYS
    assert message["error"]["Error"] == "TransientMatchError"
    assert_archived(lake, described, message)


def test_a_permanent_error_goes_to_the_dead_letter_queue_and_fails_the_execution(lake):
    lake.match_s3.fail_next(client_error("AccessDenied", status=403))
    described = run(lake, "permanent")
    assert described["status"] == "FAILED"
    assert described["error"] == "ClientError"  # the Fail state's ErrorPath: $.error.Error
    assert "AccessDenied" in json.loads(described["cause"])["errorMessage"]
    assert [c.error for c in lake.calls(lake.match_function)] == ["ClientError"]  # not retried
    assert lake.retry_sleeps == []
    (message,) = lake.dead_letters()
    assert message == {"source": "match_days", "execution_arn": described["executionArn"], "input": DAYS,
                       "error": {"Error": "ClientError", "Cause": described["cause"]}}
    assert_archived(lake, described, message)
    assert lake.lake_keys("unified/") == []


def test_a_failing_dead_letter_handler_falls_back_to_the_queue(lake, monkeypatch):
    handler = lake.handlers[lake.dead_letter_function]

    def broken(event, context):
        raise RuntimeError("dead-letter handler is broken")

    monkeypatch.setattr(handler, "lambda_handler", broken)
    lake.match_s3.fail_next(client_error("AccessDenied", status=403))
    described = run(lake, "handler-broken")
    assert described["status"] == "FAILED"
    assert described["error"] == "ClientError"  # the original error, not the handler's
    (call,) = lake.calls(lake.dead_letter_function)  # RuntimeError is not a Lambda service error: not retried
    assert call.error == "RuntimeError"
    assert "RuntimeError" in task_errors(lake, described["executionArn"])
    (message,) = lake.dead_letters()  # sent by the SendToDeadLetterQueue fallback, in the same shape
    assert message == {"source": "match_days", "execution_arn": described["executionArn"], "input": DAYS,
                       "error": {"Error": "ClientError", "Cause": described["cause"]}}
    assert archived_dead_letters(lake) == {}


@pytest.mark.parametrize("error, transient", [
    (client_error("SlowDown"), True),
    (client_error("ServiceUnavailable"), True),
    (client_error("RequestTimeout", status=400), True),
    (client_error("InternalError", status=500), True),
    (EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com"), True),
    (client_error("NoSuchKey", "GetObject", status=404), True),  # listed, then compacted away by an ingest
    (client_error("AccessDenied", status=403), False),
    (ValueError("bad day"), False),
])
def test_which_errors_the_match_handler_calls_transient(error, transient):
    wrapped = StorageError("cannot read s3://lake/x.parquet")  # the storage adapter wraps botocore's error
    wrapped.__cause__ = error
    assert (transient_cause(error) is error) is transient
    assert (transient_cause(wrapped) is error) is transient


def test_the_match_handler_raises_transient_match_error_and_lets_others_through(lake, monkeypatch):
    match = lake.handlers[lake.match_function]
    lake.match_s3.fail_next(client_error("SlowDown"))
    with pytest.raises(TransientMatchError) as caught:
        match.lambda_handler({"day": "2024-04-01"}, LocalLambdaContext("match"))
    assert type(caught.value).__name__ == "TransientMatchError"  # what Lambda reports as errorType
    lake.match_s3.fail_next(client_error("AccessDenied", status=403))
    with pytest.raises(Exception) as caught:
        match.lambda_handler({"day": "2024-04-01"}, LocalLambdaContext("match"))
    assert type(caught.value).__name__ == "ClientError"

    # A file listed, then removed before it is read (an ingest compacting its parts): a real 404 from moto S3.
    storage = lake.runtimes["match"].lake
    real_list_keys = storage.list_keys

    def list_keys_with_a_vanished_part(prefix=""):
        keys = real_list_keys(prefix)
        return keys + [f"{prefix}batch.part00000.parquet"] if prefix.startswith("curated/conversions/") else keys

    monkeypatch.setattr(storage, "list_keys", list_keys_with_a_vanished_part)
    with pytest.raises(TransientMatchError, match="404"):
        match.lambda_handler({"day": "2024-04-01"}, LocalLambdaContext("match"))
