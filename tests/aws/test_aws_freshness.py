"""The freshness check on DynamoDB (moto): a day bumped hours ago and never matched is reported, a matched one is
not; the function calls only what its role grants, and template.yaml schedules it, scopes its role to reading the
state table and alarms on what it emits (and on its silence)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from bcjourney.runtime import Runtime
from bcjourney.state import DynamoDBState
from bcjourney.storage import open_storage
from bcjourney_tools.local.handlers import LocalLambdaContext, load_handler_module
from moto import mock_aws
from moto_stack import load_template

TABLE = "state"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("STALE_AFTER_MINUTES", raising=False)
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        session.client("s3").create_bucket(Bucket="lake",
                                           CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        session.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield session


def freshness(session) -> tuple[object, DynamoDBState]:
    handler = load_handler_module("freshness")
    handler.RUNTIME = Runtime(lake=open_storage("s3://lake", boto3_session=session), boto3_session=session,
                              state_table=TABLE)
    return handler, DynamoDBState(session.client("dynamodb"), TABLE)


def set_bumped_at(session, day: str, when: datetime) -> None:
    session.client("dynamodb").update_item(TableName=TABLE, Key={"pk": {"S": f"day#{day}"}},
                                           UpdateExpression="SET bumped_at = :at",
                                           ExpressionAttributeValues={":at": {"S": when.isoformat()}})


def commit(state: DynamoDBState, day: str) -> None:
    with state.commit_day(day, state.day(day).generation, lease_seconds=60) as newest:
        assert newest


def test_a_day_bumped_two_hours_ago_and_never_matched_is_reported_a_matched_one_is_not(aws):
    handler, state = freshness(aws)
    state.bump_days(["2024-03-31", "2024-04-01", "2024-04-02"])
    commit(state, "2024-03-31")
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    for day in ("2024-03-31", "2024-04-01"):
        set_bumped_at(aws, day, two_hours_ago)
    # an applied landing key shares the table: it is no day
    aws.client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": "object#conversions/a.csv"},
                                                           "sequencer": {"S": "01"}})
    report = handler.lambda_handler({}, LocalLambdaContext("bcjourney-freshness"))
    # 2024-04-02 was bumped just now (within the grace): its match run may still be on its way
    assert report == {"stale_days": ["2024-04-01"], "oldest_bump": two_hours_ago.isoformat(), "checked": 3}
    commit(state, "2024-04-01")
    assert handler.lambda_handler({}, LocalLambdaContext("bcjourney-freshness"))["stale_days"] == []


def test_the_check_calls_only_what_the_function_s_role_grants(aws):
    handler, state = freshness(aws)
    state.bump_days(["2024-04-01"])
    calls: list[str] = []
    aws.events.register("before-call.dynamodb", lambda model, **kwargs: calls.append(model.name))
    handler.lambda_handler({}, LocalLambdaContext("bcjourney-freshness"))
    assert calls and {f"dynamodb:{c}" for c in calls} <= granted_on_state_table(load_template())


# ---------------------------------------------------------------------------------------------------------------------
# template.yaml
# ---------------------------------------------------------------------------------------------------------------------
def statements(template: dict, logical: str) -> list[dict]:
    return [s for p in template["Resources"][logical]["Properties"]["Policies"] if isinstance(p, dict)
            for s in p.get("Statement", [])]


def actions(statement: dict) -> set[str]:
    return {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])


def granted_on_state_table(template: dict) -> set[str]:
    return {a for s in statements(template, "FreshnessFunction")
            if s["Resource"] == {"Fn::GetAtt": ["PipelineStateTable", "Arn"]} for a in actions(s)}


def test_the_function_may_only_scan_and_get_the_state_table_and_put_its_own_metrics():
    template = load_template()
    granted = [(s["Effect"], tuple(sorted(actions(s))), json.dumps(s["Resource"], sort_keys=True),
                json.dumps(s.get("Condition"), sort_keys=True)) for s in statements(template, "FreshnessFunction")]
    table = json.dumps({"Fn::GetAtt": ["PipelineStateTable", "Arn"]})
    namespace = json.dumps({"StringEquals": {"cloudwatch:namespace": {"Ref": "ProjectName"}}})
    assert sorted(granted) == sorted([("Allow", ("dynamodb:GetItem", "dynamodb:Scan"), table, "null"),
                                      ("Allow", ("cloudwatch:PutMetricData",), '"*"', namespace)])
    props = template["Resources"]["FreshnessFunction"]["Properties"]
    assert props["Environment"]["Variables"]["PIPELINE_STATE_TABLE"] == {"Ref": "PipelineStateTable"}


def test_the_function_runs_every_15_minutes_alone_with_its_own_log_group():
    template = load_template()
    resources = template["Resources"]
    props = resources["FreshnessFunction"]["Properties"]
    (schedule,) = [e for e in props["Events"].values() if e["Type"] in ("ScheduleV2", "Schedule")]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["Properties"].get("State", "ENABLED") == "ENABLED"
    json.loads(schedule["Properties"]["Input"])  # the payload is JSON (events/scheduled_freshness.json's shape)
    assert (props["Timeout"], props["MemorySize"]) == (60, 256)
    # reserved only where the ReserveConcurrency parameter asks for it: a default deploy fits a quota of 10
    assert props["ReservedConcurrentExecutions"] == {"Fn::If": ["ReservesConcurrency", 1, {"Ref": "AWS::NoValue"}]}
    assert props["Layers"] == resources["MatchFunction"]["Properties"]["Layers"]
    assert props["CodeUri"] == "functions/freshness/"
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "freshness" and float(env["STALE_AFTER_MINUTES"]) > 0
    assert env["LAKE_URI"] == resources["MatchFunction"]["Properties"]["Environment"]["Variables"]["LAKE_URI"]
    log_group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${ProjectName}-freshness"}
    assert props["FunctionName"] == {"Fn::Sub": "${ProjectName}-freshness"}


def test_the_stale_partition_alarm_watches_what_the_check_emits_and_its_silence():
    template = load_template()
    alarm = template["Resources"]["StalePartitionAlarm"]["Properties"]
    service = template["Resources"]["FreshnessFunction"]["Properties"]["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"]
    assert alarm["AlarmName"] == {"Fn::Sub": "${ProjectName}-partition-stale"}
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        {"Ref": "ProjectName"}, "StaleDays", [{"Name": "service", "Value": service}])
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"],
            alarm["ComparisonOperator"]) == ("Maximum", 900, 2, 0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "breaching"  # no data: the checker is not running
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
