"""An upload to the landing bucket flows through ingest to curated Parquet, and the Glue tables of template.yaml
see it: every key the pipeline writes matches its table's partition projection (storage.location.template, the
projected values within the declared enum or date range), the files' columns are the table's columns with the
declared types, and awswrangler reads the rows back through the Glue catalog (moto runs no Athena queries)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import awswrangler as wr
import pyarrow as pa
import pyarrow.parquet as pq
from moto_stack import LANDING, glue_table_inputs, projection_pattern

GLUE_TYPES = {pa.int64(): "bigint", pa.int32(): "int", pa.string(): "string", pa.large_string(): "string",
              pa.bool_(): "boolean", pa.float64(): "double", pa.timestamp("ms"): "timestamp",
              pa.timestamp("us"): "timestamp"}


def table_for(tables: dict[str, dict], bucket: str, key: str) -> dict | None:
    """The Glue table whose location holds the key (the longest location wins)."""
    url = f"s3://{bucket}/{key}"
    holders = [t for t in tables.values() if url.startswith(t["StorageDescriptor"]["Location"])]
    return max(holders, key=lambda t: len(t["StorageDescriptor"]["Location"]), default=None)


def check_projection(table: dict, folder: str) -> dict[str, str]:
    """The projected partition values of a key's folder, each checked against the table's projection settings."""
    params = table["Parameters"]
    match = projection_pattern(params["storage.location.template"]).fullmatch(folder)
    assert match, f"{folder} does not match {table['Name']}'s {params['storage.location.template']}"
    values = match.groupdict()
    assert list(values) == [k["Name"] for k in table["PartitionKeys"]]
    for column, value in values.items():
        kind = params[f"projection.{column}.type"]
        if kind == "enum":
            assert value in params[f"projection.{column}.values"].split(","), (table["Name"], column, value)
        elif kind == "date":
            assert params[f"projection.{column}.format"] == "yyyy-MM-dd"
            low, high = params[f"projection.{column}.range"].split(",")
            day = datetime.strptime(value, "%Y-%m-%d").date()
            assert date.fromisoformat(low) <= day <= (date.today() if high == "NOW" else date.fromisoformat(high))
        else:
            raise AssertionError(f"projection type {kind} not checked here")
    return values


def test_an_upload_lands_as_curated_parquet_that_the_glue_tables_see(stack):
    junk = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n7;16;Hungary\n"
    for key, body in {**LANDING, "conversions/junk.csv": junk}.items():
        stack.upload(key, body)
    ingests = stack.calls(stack.ingest_function)
    assert [i.error for i in ingests] == [None] * 4, "every upload ran ingest once, without error"
    assert all(e["status"] == "SUCCEEDED" for e in stack.wait_all())

    tables = glue_table_inputs(stack.template, stack.names)
    s3 = stack.client("s3")
    seen_tables = set()
    for key in stack.lake_keys():
        if key.startswith("_reports/"):
            continue  # the quality reports are JSON for people, not a table
        table = table_for(tables, stack.lake_bucket, key)
        assert table is not None, f"{key} is in no Glue table's location"
        seen_tables.add(table["Name"])
        folder = f"s3://{stack.lake_bucket}/{key.rsplit('/', 1)[0]}/"
        if table["Parameters"].get("projection.enabled") == "true":
            values = check_projection(table, folder)
            assert all(f"{k}={v}" in key for k, v in values.items())  # Hive-style, as the template says
        else:
            assert folder == table["StorageDescriptor"]["Location"]
        schema = pq.read_schema(io.BytesIO(s3.get_object(Bucket=stack.lake_bucket, Key=key)["Body"].read()))
        file_columns = {f.name: GLUE_TYPES.get(f.type, str(f.type)) for f in schema}
        glue_columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
        assert file_columns == glue_columns, f"{key}: Parquet columns differ from Glue table {table['Name']}"
    assert seen_tables == set(tables), "every Glue table has data in this run, and no file is outside them"

    # Read back through the Glue catalog: table location + Hive partitions, as Athena would find them.
    session, database = stack.session, stack.names["GlueDatabase"]
    conversions = wr.s3.read_parquet_table(table="curated_conversions", database=database, boto3_session=session)
    assert sorted(conversions["conversion_id"]) == [1, 2, 3, 4, 5, 6]
    assert set(conversions["dt"]) == {"2024-04-01", "2024-04-02"}
    registrations = wr.s3.read_parquet_table(table="curated_broker_registrations", database=database,
                                             boto3_session=session)
    assert len(registrations) == 5 and set(registrations["partner"]) == {"acme"}
    quarantine = wr.s3.read_parquet_table(table="quarantine", database=database, boto3_session=session)
    assert list(quarantine["rule"]) == ["malformed_line"] and list(quarantine["source"]) == ["conversions"]
    journeys = wr.s3.read_parquet_table(table="unified_journeys", database=database, boto3_session=session)
    assert journeys["conversion_id"].notna().sum() == 6
    assert journeys["partner"].notna().sum() == 5  # every registration linked to its click


def test_the_ingest_event_is_what_s3_sends_and_the_template_filters(stack):
    """Only the three prefixes notify ingest; a key with a space arrives URL-encoded and is decoded."""
    stack.upload("elsewhere/readme.txt", "not for the pipeline")
    stack.upload("broker/acme/", "")  # the S3 console's "create folder"
    stack.upload("conversions/notes.txt", "not a data file")
    assert stack.calls(stack.ingest_function) == [], "filtered at the source: no event at all"
    stack.upload("broker/acme/day one.csv", LANDING["broker/acme/registrations.csv"])
    (call,) = stack.calls(stack.ingest_function)
    (message,) = call.event["Records"]  # from the ingest queue: the S3 notification is the message's body
    assert message["eventSource"] == "aws:sqs" and message["eventSourceARN"] == stack.names["IngestQueue.Arn"]
    record = json.loads(message["body"])["Records"][0]["s3"]
    assert record["bucket"]["name"] == stack.landing_bucket and record["object"]["key"] != "broker/acme/day one.csv"
    assert call.error is None and call.result["batches"][0]["key"] == "broker/acme/day one.csv"
    assert call.result["execution_arn"].startswith(
        stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":broker-")
    stack.wait_all()
