"""template.yaml's alarms and metrics namespace: what really goes wrong reaches the alerts topic, and each alarm
watches a metric the code really emits, under the name and dimensions it really has."""

from __future__ import annotations

import re

import pytest
from moto_stack import TEMPLATE, load_template

FUNCTIONS = ("IngestFunction", "MatchFunction", "DeadLetterFunction", "RedriveFunction", "FreshnessFunction")
# Alarms on a metric emitted on every run (0 included), so that no data means the emitter stopped: a failure too.
BREACHING_WHEN_MISSING = {"StalePartitionAlarm"}


def alarms(template: dict) -> dict[str, dict]:
    return {logical: r["Properties"] for logical, r in template["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm"}


def alarms_on(template: dict, metric: str, namespace) -> list[dict]:
    return [a for a in alarms(template).values() if a["MetricName"] == metric and a["Namespace"] == namespace]


def service_name(template: dict, logical: str) -> str:
    """The `service` dimension Powertools Metrics puts on the function's metrics."""
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    env.update(template["Resources"][logical]["Properties"]["Environment"]["Variables"])
    return env["POWERTOOLS_SERVICE_NAME"]


def test_every_alarm_goes_to_the_topic_is_named_after_the_stack_and_ignores_missing_data():
    found = alarms(load_template())
    assert len(found) >= 2 + 1 + 2 * len(FUNCTIONS) + 2 + len(BREACHING_WHEN_MISSING)
    for logical, alarm in found.items():
        assert {"Ref": "AlertsTopic"} in alarm["AlarmActions"], logical
        expected = "breaching" if logical in BREACHING_WHEN_MISSING else "notBreaching"
        assert alarm["TreatMissingData"] == expected, logical
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${ProjectName}-"), logical
    names = [a["AlarmName"]["Fn::Sub"] for a in found.values()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_has_an_errors_and_a_throttles_alarm(function, metric):
    (alarm,) = [a for a in alarms_on(load_template(), metric, "AWS/Lambda")
                if a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == ("Sum", "GreaterThanThreshold", 0)


def test_the_dead_letter_queue_alarms_on_anything_in_it_and_on_a_letter_left_over_an_hour():
    template = load_template()
    queue = [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    (visible,) = alarms_on(template, "ApproximateNumberOfMessagesVisible", "AWS/SQS")
    (age,) = alarms_on(template, "ApproximateAgeOfOldestMessage", "AWS/SQS")
    assert visible["Dimensions"] == age["Dimensions"] == queue
    assert (visible["Threshold"], visible["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert (age["Statistic"], age["Threshold"], age["ComparisonOperator"]) == ("Maximum", 3600, "GreaterThanThreshold")


@pytest.mark.parametrize(("metric", "statistic", "threshold"), [
    ("QuarantinedPercent", "Maximum", {"Ref": "QuarantineAlarmPercent"}),  # the worst file of the period
    ("ReuploadsRejected", "Sum", 0),
])
def test_the_ingest_metric_alarms_watch_the_namespace_and_service_the_function_emits(metric, statistic, threshold):
    template = load_template()
    (alarm,) = alarms_on(template, metric, {"Ref": "ProjectName"})
    # Powertools: namespace from POWERTOOLS_METRICS_NAMESPACE, one dimension `service` = POWERTOOLS_SERVICE_NAME.
    # A CloudWatch alarm sees a metric only under exactly its dimensions.
    assert template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == {
        "Ref": "ProjectName"}
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service_name(template, "IngestFunction")}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        statistic, threshold, "GreaterThanThreshold")


def test_the_quarantine_threshold_is_a_percentage_parameter_well_above_the_usual_rate():
    parameter = load_template()["Parameters"]["QuarantineAlarmPercent"]
    assert parameter["Type"] == "Number"
    assert 0.05 < parameter["Default"] <= parameter.get("MaxValue", 100) == 100  # the real data quarantines 0.05%


def test_a_skipped_stale_version_raises_no_alarm():
    """Skipping an older S3 version that arrives late is the design working, not a fault."""
    assert not alarms_on(load_template(), "StaleVersionsSkipped", {"Ref": "ProjectName"})


def test_the_metrics_namespace_is_the_stack_s_own_everywhere():
    template = load_template()
    text = TEMPLATE.read_text()
    # No literal namespace anywhere: in Globals, an IAM condition or an alarm.
    assert not re.search(r"(NAMESPACE|cloudwatch:namespace|Namespace):\s*[\"']?bcjourney", text)
    conditions = []
    for logical in FUNCTIONS:
        for policy in template["Resources"][logical]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if "cloudwatch:PutMetricData" in ([statement["Action"]] if isinstance(statement["Action"], str)
                                                  else statement["Action"]):
                    conditions.append((logical, statement["Condition"]))
    assert conditions, "no function may put metrics"
    for logical, condition in conditions:
        assert condition == {"StringEquals": {"cloudwatch:namespace": {"Ref": "ProjectName"}}}, logical
    custom = [a for a in alarms(template).values() if not str(a["Namespace"]).startswith("AWS/")]
    assert custom and all(a["Namespace"] == {"Ref": "ProjectName"} for a in custom)


def test_the_stale_partition_alarm_watches_the_freshness_check_s_namespace_and_service():
    """StaleDays is emitted on every run of the check, so silence is breaching (see test_aws_freshness.py)."""
    template = load_template()
    (alarm,) = alarms_on(template, "StaleDays", {"Ref": "ProjectName"})
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service_name(template, "FreshnessFunction")}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        "Maximum", 0, "GreaterThanThreshold", "breaching")
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 2 * 900  # two runs of the 15-minute schedule
