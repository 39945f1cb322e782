"""The Lambda handlers on S3 (moto): an upload flows through ingest to curated Parquet, then matching."""

import json
from pathlib import Path

import boto3
import pandas as pd
import pytest
from bcjourney.runtime import Runtime
from bcjourney.storage import open_storage
from bcjourney_tools.local.events import s3_object_created_event
from bcjourney_tools.local.handlers import LocalLambdaContext, load_handler_module
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        s3 = session.client("s3")
        for bucket in ("landing", "lake"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        session.client("dynamodb").create_table(
            TableName="state", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield session


def test_an_s3_upload_flows_through_ingest_and_match(aws, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    s3 = aws.client("s3")
    clicks = ("id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n"
              "1;10;Hungary;1;broker-name-link;2024-04-01 10:00:00;01bestca/02notrel/03notrel\n")
    regs = "timestamp,country_residency,ip_country,important_score\n1711965601,,Hungary,42\n"
    s3.put_object(Bucket="landing", Key="conversions/day one.csv", Body=clicks.encode())
    s3.put_object(Bucket="landing", Key="broker/acme/r.csv", Body=regs.encode())

    runtime = Runtime(lake=open_storage("s3://lake", boto3_session=aws), boto3_session=aws, state_table="state")
    ingest, match = load_handler_module("ingest"), load_handler_module("match")
    ingest.RUNTIME = match.RUNTIME = runtime
    days = set()
    for key in ("conversions/day one.csv", "broker/acme/r.csv"):
        event = s3_object_created_event("landing", key, 100, "etag")
        assert "day+one" in json.dumps(event) or "/" in key  # keys arrive URL-encoded, as S3 sends them
        result = ingest.lambda_handler(event, LocalLambdaContext("ingest"))
        assert result["batches"][0]["key"] == key
        days.update(result["match_days"])
    assert days == {"2024-03-31", "2024-04-01", "2024-04-02"}
    lake_keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]]
    assert any(k.startswith("curated/conversions/dt=2024-04-01/") for k in lake_keys)
    assert any(k.startswith("curated/broker_registrations/partner=acme/dt=2024-04-01/") for k in lake_keys)

    out = match.lambda_handler({"day": "2024-04-01"}, LocalLambdaContext("match"))
    assert out["linked"] == 1
    journeys = runtime.lake.read_parquet(runtime.lake.list_keys("unified/journeys/dt=2024-04-01/"))
    row = journeys.iloc[0]
    assert row["conversion_id"] == 1 and row["partner"] == "acme" and row["important_score"] == 42
    assert row["conversion_source_file"] == "conversions/day one.csv"
    assert pd.Timestamp(row["registered_at"]) - pd.Timestamp(row["converted_at"]) == pd.Timedelta(seconds=1)

    # a backfill batch (events/match_days_batch.json): one result per day, the same partition as before
    batch = json.loads((REPO / "events" / "match_days_batch.json").read_text())
    results = match.lambda_handler(batch, LocalLambdaContext("match"))["days"]
    assert [r["day"] for r in results] == batch["days"]
    assert [r["linked"] for r in results] == [1] + [0] * (len(batch["days"]) - 1)
    again = runtime.lake.read_parquet(runtime.lake.list_keys("unified/journeys/dt=2024-04-01/"))
    pd.testing.assert_frame_equal(again, journeys)
    with pytest.raises(ValueError, match="a match event is"):
        match.lambda_handler({"days": []}, LocalLambdaContext("match"))


def test_the_dead_letter_handler_archives_then_queues(aws, monkeypatch):
    from bcjourney.dead_letters import InvalidDeadLetter, correlation_id

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="dead-letter")["QueueUrl"]
    handler = load_handler_module("dead_letter")
    handler.RUNTIME = Runtime(lake=open_storage("s3://lake", boto3_session=aws), boto3_session=aws,
                              dead_letter_queue_url=queue_url)
    record = json.loads((REPO / "events" / "dead_letter_record.json").read_text())

    result = handler.lambda_handler(record, LocalLambdaContext("dead_letter"))
    execution = record["execution_arn"].rsplit(":", 1)[-1]
    assert result["archived_key"].startswith("_dead_letters/source=match_days/dt=")
    assert result["archived_key"].endswith(f"/{execution}.json")
    archived = aws.client("s3").get_object(Bucket="lake", Key=result["archived_key"])["Body"].read()
    assert json.loads(archived) == record and archived.endswith(b"\n")  # one JSON line
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"]) == record and message["MessageId"] == result["message_id"]

    # No execution ARN: a uuid names the file, and the batch id is the correlation id.
    anonymous = {k: v for k, v in record.items() if k != "execution_arn"}
    assert correlation_id(anonymous) == record["input"]["batch_id"]
    result = handler.lambda_handler(anonymous, LocalLambdaContext("dead_letter"))
    assert len(result["archived_key"].rsplit("/", 1)[-1]) == len("0123456789abcdef0123456789abcdef.json")

    with pytest.raises(InvalidDeadLetter):
        handler.lambda_handler({"source": "match_days"}, LocalLambdaContext("dead_letter"))
