"""Every file in events/ goes to the function events/README.md names, on the moto stack, as `sam local invoke -e`
would hand it over: only the bucket name is the user's (the README says to replace it), nothing else is edited.
The S3 events carry no versionId, as for an unversioned bucket or a hand-made event: ingest reads the latest
object then."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto_stack import LANDING
from test_aws_redrive import redrive_handler

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXAMPLE_BUCKET = "bcjourney-landing-example"
NOT_EVENTS = {"env.json"}  # sam local's --env-vars file


def load(name: str, stack) -> dict:
    return json.loads((EVENTS / name).read_text().replace(EXAMPLE_BUCKET, stack.landing_bucket))


def invoke(stack, function: str, event: dict) -> dict:
    response = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read() or b"null")
    assert "FunctionError" not in response, body
    return body


def landing_body(key: str) -> str:
    source = {"conversions/": "conversions/clicks 2024-04-01.csv", "broker/": "broker/acme/registrations.csv",
              "reference/": "reference/page_category_mapping.csv"}
    return LANDING[next(v for prefix, v in source.items() if key.startswith(prefix))]


def test_every_event_file_is_exercised_here():
    covered = {"s3_put_conversions.json", "s3_put_broker.json", "s3_put_broker_encoded_key.json",
               "s3_put_mapping.json", "state_machine_input.json", "state_machine_input_day.json", "match_day.json",
               "match_days_batch.json", "dead_letter_record.json", "redrive.json", "dlq_message_ingest.json",
               "dlq_message_match.json",
               "s3_delete_conversions.json", "scheduled_freshness.json", "sqs_ingest_message.json"}
    assert {p.name for p in EVENTS.glob("*.json")} - NOT_EVENTS == covered


@pytest.mark.parametrize("name", ["s3_put_conversions.json", "s3_put_broker.json", "s3_put_broker_encoded_key.json",
                                  "s3_put_mapping.json"])
def test_each_s3_event_ingests_the_latest_object_under_its_key(stack, name):
    from urllib.parse import unquote_plus

    event = load(name, stack)
    record = event["Records"][0]["s3"]
    assert "versionId" not in record["object"]
    key = unquote_plus(record["object"]["key"])
    stack.upload(key, landing_body(key))  # the object the event announces (its own notification runs too)
    result = invoke(stack, stack.ingest_function, event)
    (batch,) = result["batches"] or result["duplicates"]
    assert batch["key"] == key
    if result["batches"]:
        assert batch["rows_in"] == batch["curated"] + batch["merged_duplicates"] + batch["quarantined"] > 0


def test_the_sqs_message_ingests_its_notification_s_object(stack):
    event = load("sqs_ingest_message.json", stack)
    event["Records"][0]["body"] = event["Records"][0]["body"].replace(EXAMPLE_BUCKET, stack.landing_bucket)
    notification = json.loads(event["Records"][0]["body"])
    stack.upload(notification["Records"][0]["s3"]["object"]["key"], LANDING["broker/acme/registrations.csv"])
    result = invoke(stack, stack.ingest_function, event)
    assert result["batchItemFailures"] == []
    (applied,) = result["applied"]
    assert applied["action"] == "ingested" and applied["key"] == "broker/acme/registrations_20240401.csv"


def test_the_delete_event_retracts_the_key_and_re_matches_its_days(stack):
    from urllib.parse import unquote_plus

    event = load("s3_delete_conversions.json", stack)
    key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    stack.upload(key, landing_body(key))
    stack.wait_all()
    assert stack.lake_keys("curated/conversions/")
    result = invoke(stack, stack.ingest_function, event)
    (applied,) = result["applied"]
    assert applied["action"] == "retracted" and applied["retracted_rows"] == 6
    assert result["match_days"] == ["2024-03-31", "2024-04-01", "2024-04-02", "2024-04-03"]
    assert stack.lake_keys("curated/conversions/") == []
    assert stack.wait(result["execution_arn"])["status"] == "SUCCEEDED"
    journeys = stack.lake_keys("unified/journeys/")
    assert not journeys or all(
        stack.runtimes["match"].lake.read_parquet([k])["conversion_id"].isna().all() for k in journeys)


def test_the_match_events_and_the_state_machine_input_run(stack):
    for key, body in LANDING.items():
        stack.upload(key, body)
    stack.wait_all()
    day = invoke(stack, stack.match_function, load("match_day.json", stack))
    assert day["day"] == load("match_day.json", stack)["day"]
    batch = invoke(stack, stack.match_function, load("match_days_batch.json", stack))
    assert [d["day"] for d in batch["days"]] == load("match_days_batch.json", stack)["days"]
    execution = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, input=json.dumps(load("state_machine_input.json", stack)))
    assert stack.wait(execution["executionArn"])["status"] == "SUCCEEDED"
    day = load("state_machine_input_day.json", stack)
    stack.clock.set(datetime(2024, 4, 1, 10, 5, 10, tzinfo=timezone.utc))  # the window it names has closed
    execution = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, name="day-2024-04-01-20240401T100000Z", input=json.dumps(day))
    assert stack.wait(execution["executionArn"])["status"] == "SUCCEEDED" and stack.waits == [day["not_before"]]


def test_the_dead_letter_record_is_archived_and_queued_and_redrive_takes_both_kinds(stack, monkeypatch):
    for key, body in LANDING.items():  # the objects and days the dead letters name
        stack.upload(key, body)
    stack.upload("broker/acme/registrations_20240401.csv", LANDING["broker/acme/registrations.csv"])
    stack.wait_all()
    record = load("dead_letter_record.json", stack)
    invoke(stack, stack.dead_letter_function, record)
    assert any(k.startswith("_dead_letters/source=match_days/") for k in stack.lake_keys("_dead_letters/"))
    queued = stack.dead_letters()
    assert [body["execution_arn"] for body in queued] == [record["execution_arn"]]
    stack.client("sqs").purge_queue(QueueUrl=stack.queue_url)
    for name in ("dlq_message_ingest.json", "dlq_message_match.json"):
        stack.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=(EVENTS / name).read_text().replace(
            EXAMPLE_BUCKET, stack.landing_bucket))
    report = redrive_handler(stack, monkeypatch).lambda_handler(load("redrive.json", stack),
                                                                LocalLambdaContext("bcjourney-redrive"))
    assert (report["restarted_match_days"], report["resent_to_ingest"], report["left_unknown"]) == (1, 1, 0)
    assert stack.dead_letters() == []
    (resent,) = stack.poll_ingest_queue()  # the notification, back in the ingest queue, ingests its object
    assert resent.error is None and resent.result["applied"][0]["key"] == "broker/acme/registrations_20240401.csv"


def test_the_scheduled_event_runs_the_freshness_check_on_the_stack_s_state_table(stack, monkeypatch):
    """FreshnessFunction is not deployed on the moto stack (nothing invokes it there): its handler runs in-process
    with the environment template.yaml gives it, as the schedule would invoke it."""
    from datetime import datetime, timedelta, timezone

    from bcjourney.runtime import Runtime
    from bcjourney.state import DynamoDBState
    from moto_stack import function_env, load_handler

    for name, value in function_env(stack.template, "FreshnessFunction", stack.names).items():
        monkeypatch.setenv(name, value)
    handler = load_handler("freshness")
    handler.RUNTIME = Runtime.from_environment(boto3_session=stack.session)
    DynamoDBState(stack.client("dynamodb"), stack.state_table).bump_days(["2024-04-01"])
    stack.client("dynamodb").update_item(
        TableName=stack.state_table, Key={"pk": {"S": "day#2024-04-01"}}, UpdateExpression="SET bumped_at = :at",
        ExpressionAttributeValues={":at": {"S": (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()}})
    report = handler.lambda_handler(load("scheduled_freshness.json", stack), LocalLambdaContext("bcjourney-freshness"))
    assert (report["stale_days"], report["checked"]) == (["2024-04-01"], 1)
