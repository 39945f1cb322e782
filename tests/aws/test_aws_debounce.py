"""Ingest debounces match_days executions per day (issue #17): with a window of MatchDebounceSeconds, a file of a
few days starts one execution per day and window, `day-<day>-<window start>`, which waits until the window has
closed (plus a margin) before matching; a second file touching the day in the same window is merged into it
(ExecutionAlreadyExists), so the day is matched once, with both files. On the moto stack (moto_stack.py).

What moto does here: its StartExecution of a name already used answers the running execution when the input is the
same and raises ExecutionAlreadyExists otherwise, as AWS does. Its Wait with a TimestampPath would sleep in real
time until that moment (at once when it is past), measured against datetime.now(), the machine's naive local time,
so right only on a machine set to UTC: the stack makes it wait on `stack.clock` instead, the same clock ingest reads
for its windows, and a test closes a window by moving that clock (SimulatedClock)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pandas as pd
import pytest
from bcjourney.runtime import Runtime
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto_stack import LANDING, client_error, function_env
from test_aws_redrive import redrive_handler

UTC = timezone.utc
CLICKS, PARTNER, MAPPING = ("conversions/clicks 2024-04-01.csv", "broker/acme/registrations.csv",
                            "reference/page_category_mapping.csv")
# The clicks are of 2024-04-01 and 2024-04-02, so are the registrations: each file touches these days (the days and
# their neighbours), few enough to be debounced.
DAYS = ["2024-03-31", "2024-04-01", "2024-04-02", "2024-04-03"]
OPENS = datetime(2024, 4, 1, 10, 1, tzinfo=UTC)  # in the window 10:00:00-10:05:00 UTC
CLOSED = datetime(2024, 4, 1, 10, 5, 10, tzinfo=UTC)  # its end plus the margin: the window's not_before
LINKED = {"2024-03-31": 0, "2024-04-01": 4, "2024-04-02": 1, "2024-04-03": 0}  # with both files' rows


@pytest.fixture
def debounced(stack):
    """The stack with the reference mapping ingested, ingest's clock in a known window and the template's window on."""
    stack.upload(MAPPING, LANDING[MAPPING])
    stack.clock.set(OPENS)
    assert stack.debounce() == 300
    return stack


def ingest(stack, key: str, body: str) -> dict:
    """Upload a landing file; the ingest invocation's result for it (the handler's summary of its one record)."""
    stack.upload(key, body)
    invocation = stack.calls(stack.ingest_function)[-1]
    assert invocation.error is None
    (applied,) = invocation.result["applied"]
    assert applied["key"] == key and applied["action"] == "ingested"
    return applied


def day_executions(stack, window: str) -> list[str]:
    prefix = stack.state_machine_arn.replace(":stateMachine:", ":execution:")
    return [f"{prefix}:day-{day}-{window}" for day in DAYS]


def journeys(stack, day: str) -> pd.DataFrame:
    lake = stack.runtimes["match"].lake
    return lake.read_parquet(lake.list_keys(f"unified/journeys/dt={day}/")).sort_values("conversion_id")


def linked_by_day(described: list[dict]) -> dict[str, int]:
    return {r["day"]: r["linked"] for d in described for r in json.loads(d["output"])["results"]}


def test_two_files_in_one_window_start_one_execution_per_day_which_matches_both(debounced):
    stack = debounced
    clicks = ingest(stack, CLICKS, LANDING[CLICKS])
    stack.clock.advance(150)  # 10:03:30, the same window
    partner = ingest(stack, PARTNER, LANDING[PARTNER])

    started = day_executions(stack, "20240401T100000Z")
    assert clicks["match_days"] == partner["match_days"] == DAYS
    assert clicks["executions_started"] == started and clicks["executions_merged"] == []
    assert partner["executions_started"] == [] and partner["executions_merged"] == started
    assert clicks["execution_arn"] == partner["execution_arn"] == started[0]
    executions = stack.executions()
    assert sorted(e["executionArn"] for e in executions) == started
    assert {e["status"] for e in executions} == {"RUNNING"}  # waiting for the window to close
    assert stack.calls(stack.match_function) == []
    inputs = [json.loads(stack.client("stepfunctions").describe_execution(executionArn=arn)["input"])
              for arn in started]
    assert inputs == [{"days": [day], "batch_id": clicks["batch_id"], "not_before": "2024-04-01T10:05:10Z"}
                      for day in DAYS]

    stack.clock.set(CLOSED)
    described = stack.wait_all()
    assert [d["status"] for d in described] == ["SUCCEEDED"] * 4
    assert stack.waits == ["2024-04-01T10:05:10Z"] * 4
    assert sorted(c.event["day"] for c in stack.calls(stack.match_function)) == DAYS  # each day matched once
    assert linked_by_day(described) == LINKED  # with the partner's registrations, though started by the clicks
    day = journeys(stack, "2024-04-01")
    assert day["partner"].tolist() == ["acme"] * 4 and day["important_score"].tolist() == [42, 0, 77, 5]
    assert day["conversion_source_file"].unique().tolist() == [CLICKS]
    assert day["broker_source_file"].unique().tolist() == [PARTNER]


def test_a_file_in_the_next_window_starts_new_executions(debounced):
    stack = debounced
    ingest(stack, CLICKS, LANDING[CLICKS])
    ingest(stack, PARTNER, LANDING[PARTNER])
    stack.clock.set(CLOSED)
    assert linked_by_day(stack.wait_all()) == LINKED

    stack.clock.advance(60)  # 10:06:10: the next window, 10:05-10:10
    rescored = LANDING[PARTNER].replace("1711965601,,Hungary,42", "1711965601,,Hungary,99")
    again = ingest(stack, PARTNER, rescored)  # the partner sends its file again, one score changed
    later = day_executions(stack, "20240401T100500Z")
    assert again["executions_started"] == later and again["executions_merged"] == []
    assert len(stack.executions()) == 8
    stack.clock.set(datetime(2024, 4, 1, 10, 10, 10, tzinfo=UTC))
    stack.wait_all()
    assert stack.waits[4:] == ["2024-04-01T10:10:10Z"] * 4
    assert sorted(c.event["day"] for c in stack.calls(stack.match_function)) == sorted(DAYS * 2)
    assert journeys(stack, "2024-04-01")["important_score"].tolist() == [99, 0, 77, 5]


def test_the_same_start_again_in_the_window_is_merged_into_the_running_execution(debounced):
    """StartExecution with the name and input of a running execution answers it (idempotent): merged, not started."""
    stack = debounced
    runtime = stack.runtimes["ingest"]
    first = runtime.start_matching(["2024-04-01"], "conversions-one")
    time.sleep(1.1)  # its answer's startDate is then clearly earlier than the second call
    second = runtime.start_matching(["2024-04-01"], "conversions-one")
    (arn,) = first["started"]
    assert first["merged"] == [] and second == {"started": [], "merged": [arn]}
    assert [e["executionArn"] for e in stack.executions()] == [arn]


def test_window_zero_keeps_one_execution_per_file(stack):
    stack.upload(MAPPING, LANDING[MAPPING])
    stack.clock.set(OPENS)
    assert stack.runtimes["ingest"].match_debounce_seconds == 0  # the stack's default; the template's is 300
    clicks = ingest(stack, CLICKS, LANDING[CLICKS])
    partner = ingest(stack, PARTNER, LANDING[PARTNER])
    for applied in (clicks, partner):
        assert applied["executions_started"] == [applied["execution_arn"]] and applied["executions_merged"] == []
        name = applied["execution_arn"].rsplit(":", 1)[-1]
        assert name.startswith(f"{applied['batch_id']}-"[:64])
    described = stack.wait_all()
    assert [json.loads(d["input"]) for d in sorted(described, key=lambda d: d["startDate"])] == [
        {"days": DAYS, "batch_id": clicks["batch_id"]}, {"days": DAYS, "batch_id": partner["batch_id"]}]
    assert stack.waits == []  # no not_before: straight to the match
    assert sorted(c.event["day"] for c in stack.calls(stack.match_function)) == sorted(DAYS * 2)


def test_a_debounced_input_whose_window_has_passed_runs_at_once_and_so_does_its_redrive(stack, curated_lake,
                                                                                          monkeypatch):
    """A redrive restarts the state machine with the dead-lettered input, not_before included: long past by then."""
    for key, body in curated_lake.items():
        stack.client("s3").put_object(Bucket=stack.lake_bucket, Key=key, Body=body)
    stack.clock.set(CLOSED)
    execution_input = {"days": ["2024-04-01"], "batch_id": "b", "not_before": "2024-04-01T10:05:10Z"}
    stack.match_s3.fail_next(client_error("AccessDenied", status=403))  # a permanent error: dead-lettered
    failed = stack.wait(stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, name="day-2024-04-01-20240401T100000Z",
        input=json.dumps(execution_input))["executionArn"])
    assert failed["status"] == "FAILED"
    (dead_letter,) = stack.dead_letters()
    assert dead_letter["input"] == execution_input
    report = redrive_handler(stack, monkeypatch).lambda_handler({"max_messages": 10, "wait_seconds": 0},
                                                                 LocalLambdaContext("bcjourney-redrive"))
    (restarted,) = report["executions"]
    assert stack.wait(restarted)["status"] == "SUCCEEDED"
    assert stack.waits == ["2024-04-01T10:05:10Z"] * 2  # both waited for a moment already past: at once
    assert linked_by_day([stack.wait(restarted)]) == {"2024-04-01": 4}


def test_the_template_sets_the_window_on_ingest_and_keeps_it_inside_the_freshness_grace(stack):
    parameter = stack.template["Parameters"]["MatchDebounceSeconds"]
    assert parameter["Type"] == "Number" and parameter["Default"] == 300 and parameter["MinValue"] == 0
    env = function_env(stack.template, "IngestFunction", stack.names)
    assert env["MATCH_DEBOUNCE_SECONDS"] == "300"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert Runtime.from_environment().match_debounce_seconds == 300
    # A debounced day stays stale until its window closes and its run matched it: well inside the grace after which
    # the freshness check calls it stale (STALE_AFTER_MINUTES).
    grace = float(function_env(stack.template, "FreshnessFunction", stack.names)["STALE_AFTER_MINUTES"]) * 60
    assert parameter["MaxValue"] <= grace / 2
