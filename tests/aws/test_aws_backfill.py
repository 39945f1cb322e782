"""Backfills of years: match_days hands more than 31 days to backfill_days, a Distributed Map over batches of days
(statemachine/backfill_days.asl.json), executed by moto's Step Functions interpreter with the match Lambda in-process.

What moto (5.x, the LocalStack ASL interpreter) runs and what it does not, and how these tests deal with it:
  - It runs the Distributed Map: every child in-process, MaxConcurrency worker threads, each child's events kept out
    of the parent's history (as on AWS), and the ResultWriter's manifest put to S3 (with empty result lists).
  - It rejects ItemBatcher (and BatchInput) at create_state_machine, so the stack creates backfill_days as
    moto_stack.moto_item_batcher rewrites it: States.ArrayPartition(days, MaxItemsPerBatch) in a Pass state, and an
    ItemSelector giving each child {"Items", "BatchInput"}, the input AWS gives it. The batching is still moto's,
    from the definition's own MaxItemsPerBatch; the tests check the batches against a reference computed here.
  - It parses ToleratedFailurePercentage but ignores it (a failed child never fails the map), and it has no
    RedriveExecution. So the failure tests stay within the percentage, where AWS and moto agree (the run succeeds,
    the failed batches are dead letters); the threshold itself and `aws stepfunctions redrive-execution` are checked
    against the definition only (test_the_tolerated_failures_are_a_few_batches_of_a_long_backfill_not_of_a_short_one).
  - In a child, $$.Execution.Id is the parent's (on AWS, the child's own), so two dead letters of one run share an
    archive key in the lake here; the queued messages are what the tests count.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import pytest
from bcjourney.matching.service import BACKFILL_BATCH_DAYS
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto_stack import BACKFILL_ASL, MOTO_BATCHES, REPO, function_env, load_handler

ASL = json.loads(BACKFILL_ASL.read_text())
MATCH_DAYS_ASL = json.loads((REPO / "statemachine" / "match_days.asl.json").read_text())
BATCHES = ASL["States"]["MatchBatches"]
CHILD = BATCHES["ItemProcessor"]["States"]
INLINE_TASK = MATCH_DAYS_ASL["States"]["MatchDays"]["ItemProcessor"]["States"]["MatchDay"]


def days_between(first: str, last: str) -> list[str]:
    """The reference: every calendar day from first to last, inclusive."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(n)).isoformat() for n in range((end - start).days + 1)]


THREE_YEARS = days_between("2021-01-01", "2023-12-31")  # 1,095 days: 136 batches of 8 and one of 7


def start(stack, name: str, days: list[str], batch_id: str = "backfill-test") -> dict:
    """Start match_days (where ingest, redrive and people start everything) and wait for it."""
    arn = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, name=name,
        input=json.dumps({"days": days, "batch_id": batch_id}))["executionArn"]
    return stack.wait(arn)


def backfill_of(stack, described: dict) -> dict:
    """The backfill_days execution a match_days execution handed its days to, once finished."""
    return stack.wait(json.loads(described["output"])["backfill"]["execution_arn"], timeout=120)


def history(stack, execution_arn: str) -> list[dict]:
    sfn = stack.client("stepfunctions")
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def fake_match(stack, monkeypatch, failing: set[str] = frozenset()):
    """The match handler replaced by one that answers at once (years of days through the real one would take
    minutes): each day's result names the day; a batch holding a day in `failing` raises ValueError (not retried)."""
    def handler(event, context):
        days = event["days"] if "days" in event else [event["day"]]
        if failing & set(days):
            raise ValueError(f"cannot match {sorted(failing & set(days))}")
        results = [{"day": d, "linked": 0} for d in days]
        return {"days": results} if "days" in event else results[0]

    monkeypatch.setattr(stack.handlers[stack.match_function], "lambda_handler", handler)


def match_events(stack) -> list[dict]:
    return [c.event for c in stack.calls(stack.match_function)]


# ---------------------------------------------------------------------------------------------------------------------
# On moto
# ---------------------------------------------------------------------------------------------------------------------
def test_a_three_year_backfill_matches_every_day_once_in_batches_of_the_declared_size(stack, monkeypatch):
    fake_match(stack, monkeypatch)
    described = start(stack, "three-years", THREE_YEARS)
    assert described["status"] == "SUCCEEDED"
    backfill = backfill_of(stack, described)
    assert backfill["status"] == "SUCCEEDED"
    assert backfill["name"] == "three-years"  # named after match_days' execution: a retry finds it
    assert json.loads(backfill["input"]) == {"days": THREE_YEARS, "batch_id": "backfill-test"}

    events = match_events(stack)
    assert all(set(e) == {"days"} for e in events)  # the handler's batch form, never {"day": ...}
    size = BATCHES["ItemBatcher"]["MaxItemsPerBatch"]
    full, rest = divmod(len(THREE_YEARS), size)
    assert sorted((len(e["days"]) for e in events), reverse=True) == [size] * full + [rest] * (rest > 0)
    assert (size, full, rest) == (8, 136, 7)
    matched = Counter(d for e in events for d in e["days"])
    assert sorted(matched) == THREE_YEARS and set(matched.values()) == {1}  # every day, exactly once
    for e in events:  # each batch a run of consecutive days, so a pass reads each neighbour once
        assert e["days"] == days_between(e["days"][0], e["days"][-1])
    assert stack.dead_letters() == []

    # The results went to the lake's _backfills/ (ResultWriter), not into the execution's output.
    output = json.loads(backfill["output"])
    written = output["map_run"]["ResultWriterDetails"]
    assert written["Bucket"] == stack.lake_bucket and written["Key"].startswith("_backfills/")
    assert written["Key"] in stack.lake_keys("_backfills/")
    output.pop(MOTO_BATCHES)  # the rewrite's own copy of the batches (moto_stack.moto_item_batcher)
    assert set(output) == {"days", "batch_id", "map_run"}  # the input and where the results are: none per day


def test_the_backfill_history_has_the_same_events_for_40_days_as_for_three_years(stack, monkeypatch):
    """The inline map's history grows 7 events a day (25,000 is the limit); the Distributed Map's parent has a
    fixed handful, the children's events being their own."""
    fake_match(stack, monkeypatch)
    kinds = {}
    for name, days in (("forty-days", THREE_YEARS[:40]), ("three-years", THREE_YEARS)):
        described = start(stack, name, days)
        parent = [e["type"] for e in history(stack, described["executionArn"])]
        child = [e["type"] for e in history(stack, backfill_of(stack, described)["executionArn"])]
        kinds[name] = (parent, child)
        assert "TaskScheduled" not in child and "LambdaFunctionScheduled" not in child  # no per-batch task here
    assert kinds["forty-days"] == kinds["three-years"]
    parent, child = kinds["three-years"]
    assert len(parent) < 20 and len(child) < 20 and "MapRunStarted" in child


def test_up_to_31_days_run_inline_and_32_go_to_the_backfill(stack, monkeypatch):
    fake_match(stack, monkeypatch)
    month = THREE_YEARS[:31]
    described = start(stack, "a-month", month)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert "backfill" not in output and [r["day"] for r in output["results"]] == month
    assert sorted(e["day"] for e in match_events(stack)) == month  # one {"day"} invocation per day

    stack.invocations.clear()
    described = start(stack, "a-month-and-a-day", THREE_YEARS[:32])
    assert described["status"] == "SUCCEEDED" and "results" not in json.loads(described["output"])
    assert backfill_of(stack, described)["status"] == "SUCCEEDED"
    # four batches of 8, run 4 at a time (in no set order)
    assert sorted(e["days"] for e in match_events(stack)) == [THREE_YEARS[k:k + 8] for k in range(0, 32, 8)]


def test_failed_batches_are_dead_lettered_with_their_days_and_the_redrive_matches_only_those(stack, monkeypatch):
    """Two batches of a three-year backfill fail for good (16 of 1,095 days, within the 5% tolerated): the run
    succeeds, every other batch was matched, each failed batch is one dead letter holding match_days input of its
    own days; the redrive function restarts match_days with them, which matches those 16 days and no other."""
    bad = {"2022-06-15", "2023-02-01"}
    fake_match(stack, monkeypatch, failing=bad)
    described = start(stack, "three-years-two-bad-batches", THREE_YEARS, batch_id="backfill-2021-2023")
    assert backfill_of(stack, described)["status"] == "SUCCEEDED"

    events = match_events(stack)
    failed = [e["days"] for e in events if bad & set(e["days"])]
    assert len(failed) == 2 and all(len(f) == 8 for f in failed)
    assert Counter(d for e in events for d in e["days"]) == Counter(THREE_YEARS)  # each tried once, ValueError
    letters = stack.dead_letters()  # is not retried
    assert sorted(m["input"]["days"] for m in letters) == sorted(failed)
    for message in letters:
        assert message["source"] == "match_days" and message["input"]["batch_id"] == "backfill-2021-2023"
        assert message["error"]["Error"] == "ValueError"

    # Fixed; the operator runs the redrive function: match_days restarts with each batch, inline (8 days).
    fake_match(stack, monkeypatch)
    stack.invocations.clear()
    for name, value in function_env(stack.template, "RedriveFunction", stack.names).items():
        monkeypatch.setenv(name, value)
    redrive = load_handler("redrive")
    redrive.BOTO3_SESSION = stack.session
    report = redrive.lambda_handler({"max_messages": 10, "wait_seconds": 0}, LocalLambdaContext("bcjourney-redrive"))
    assert report["restarted_match_days"] == 2 and stack.dead_letters() == []
    assert {stack.wait(arn)["status"] for arn in report["executions"]} == {"SUCCEEDED"}
    assert sorted(e["day"] for e in match_events(stack)) == sorted(d for f in failed for d in f)


@pytest.fixture
def lake(stack, curated_lake):
    """The stack with curated/ as the ingest handler wrote it for moto_stack.LANDING (2024-04-01 and -02)."""
    s3 = stack.client("s3")
    for key, body in curated_lake.items():
        s3.put_object(Bucket=stack.lake_bucket, Key=key, Body=body)
    return stack


def test_a_backfill_through_the_real_match_handler_writes_what_matching_day_by_day_writes(lake):
    """40 days around the curated ones, in 5 batches of {"days": [...]}: the same partitions and links as the
    inline path's day-by-day run (tests/aws/test_aws_state_machine.py: 4 links on 04-01, 1 on 04-02)."""
    days = days_between("2024-03-10", "2024-04-18")
    backfill = backfill_of(lake, start(lake, "real-handler", days))
    assert backfill["status"] == "SUCCEEDED"
    calls = lake.calls(lake.match_function)
    assert [c.error for c in calls] == [None] * 5
    results = {r["day"]: r for c in calls for r in c.result["days"]}
    assert sorted(results) == days
    assert (results["2024-04-01"]["linked"], results["2024-04-02"]["linked"]) == (4, 1)
    assert lake.lake_keys("unified/journeys/") == ["unified/journeys/dt=2024-04-01/journeys.parquet",
                                                   "unified/journeys/dt=2024-04-02/journeys.parquet"]


# ---------------------------------------------------------------------------------------------------------------------
# The definition (what moto cannot run)
# ---------------------------------------------------------------------------------------------------------------------
def test_the_backfill_is_a_distributed_map_of_standard_children_batched_as_matching_batches():
    assert ASL["StartAt"] == "MatchBatches" and list(ASL["States"]) == ["MatchBatches"]  # nothing per day up here
    # STANDARD children: the DayBusyError retries outlast the 5 minutes an Express child may run
    assert BATCHES["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert BATCHES["ItemBatcher"] == {"MaxItemsPerBatch": BACKFILL_BATCH_DAYS,
                                      "BatchInput": {"batch_id.$": "$.batch_id"}}
    assert BATCHES["ItemsPath"] == "$.days"
    assert "Catch" not in BATCHES  # a run past its tolerance fails in the map, which redrive-execution reruns
    task = CHILD["MatchBatch"]
    assert task["Parameters"]["Payload"] == {"days.$": "$.Items"}  # the match handler's batch form
    # the same task as one day's, but for the batch: its timeout, retriers (DayBusyError's too) and dead letters
    assert task["TimeoutSeconds"] == INLINE_TASK["TimeoutSeconds"] and task["Retry"] == INLINE_TASK["Retry"]
    assert "DayBusyError" in {e for r in task["Retry"] for e in r["ErrorEquals"]}
    assert [c["Next"] for c in task["Catch"]] == ["RecordBatchDeadLetter"]
    assert [c["Next"] for c in CHILD["RecordBatchDeadLetter"]["Catch"]] == ["SendBatchToDeadLetterQueue"]
    letter = CHILD["RecordBatchDeadLetter"]["Parameters"]["Payload"]
    assert letter == CHILD["SendBatchToDeadLetterQueue"]["Parameters"]["MessageBody"]
    assert letter["input"] == {"days.$": "$.Items", "batch_id.$": "$.BatchInput.batch_id"}  # match_days' input
    assert CHILD["MatchBatchFailed"]["Type"] == "Fail"


def test_the_tolerated_failures_are_a_few_batches_of_a_long_backfill_not_of_a_short_one():
    """AWS fails a Map Run when failed items / all items exceeds ToleratedFailurePercentage (a failed child fails
    all the items of its batch). A bad batch must not fail a three-year backfill; a broken deploy must fail it."""
    percent, size = BATCHES["ToleratedFailurePercentage"], BATCHES["ItemBatcher"]["MaxItemsPerBatch"]

    def run_fails(failed_batches: int, days: int) -> bool:
        return 100 * min(failed_batches * size, days) / days > percent

    assert not run_fails(1, len(THREE_YEARS)) and not run_fails(4, len(THREE_YEARS))  # a day, a month of batches
    assert run_fails(len(THREE_YEARS) // size, len(THREE_YEARS))  # every batch failing
    assert run_fails(1, 32)  # the smallest backfill: one batch is a quarter of it, so redrive-execution
    assert 0 < percent < 10


def test_the_inline_path_stays_far_below_the_history_limit():
    """match_days keeps the inline map for at most 31 days: 7 events a day, 3 more per retry, 25,000 at most."""
    (route,) = MATCH_DAYS_ASL["States"]["RouteBySize"]["Choices"]
    assert route == {"Variable": "$.days[31]", "IsPresent": True, "Next": "HandToBackfill"}
    assert MATCH_DAYS_ASL["States"]["RouteBySize"]["Default"] == "MatchDays"
    retries_per_day = sum(r["MaxAttempts"] for r in INLINE_TASK["Retry"])
    assert 31 * (7 + 3 * retries_per_day) < 25_000 / 10
