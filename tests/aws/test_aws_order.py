"""Order under concurrency on the moto stack: the per-day generations and write leases in the PipelineStateTable
(bcjourney.state.DynamoDBState) keep a stale match from overwriting a fresh one."""

from __future__ import annotations

import time

import pytest
from bcjourney.state import DayBusy, DynamoDBState
from bcjourney_tools.local.handlers import LocalLambdaContext
from helpers import match_paused_between_read_and_write
from moto_stack import LANDING, REPO

CLICKS, PARTNER, MAPPING = ("conversions/clicks 2024-04-01.csv", "broker/acme/registrations.csv",
                            "reference/page_category_mapping.csv")
DAY = "2024-04-01"


def journeys(stack, day: str):
    lake = stack.runtimes["match"].lake
    keys = lake.list_keys(f"unified/journeys/dt={day}/")
    return lake.read_parquet(keys).sort_values("conversion_id").reset_index(drop=True) if keys else None


def test_a_stale_match_does_not_overwrite_the_fresh_one(stack, monkeypatch):
    """Run A (started by the clicks) reads the day; the partner's file lands and run B matches the day with it;
    then A would write its older result. A yields (superseded); the day equals a sequential re-match."""
    stack.runtimes["ingest"].state_machine_arn = None  # the runs are started by hand, to interleave them
    match = stack.handlers[stack.match_function]
    stack.upload(MAPPING, LANDING[MAPPING])
    stack.upload(CLICKS, LANDING[CLICKS])
    results = {}
    with match_paused_between_read_and_write(
            monkeypatch, lambda: match.lambda_handler({"day": DAY}, LocalLambdaContext(stack.match_function))) as a:
        stack.upload(PARTNER, LANDING[PARTNER])  # the partner's file for the day lands, ingest bumps the day
        results["B"] = match.lambda_handler({"day": DAY}, LocalLambdaContext(stack.match_function))
    results["A"] = a["result"]

    assert results["A"]["superseded"] is True and results["B"]["superseded"] is False
    fresh = journeys(stack, DAY)
    assert (fresh["partner"] == "acme").sum() == results["B"]["linked"] == 4, "the partner's registrations stand"
    again = match.lambda_handler({"day": DAY}, LocalLambdaContext(stack.match_function))  # the sequential run
    assert again["superseded"] is False
    assert journeys(stack, DAY).equals(fresh)
    state = DynamoDBState(stack.client("dynamodb"), stack.state_table)
    assert not state.day(DAY).stale


def test_a_day_whose_lease_is_held_waits_and_a_dead_holder_s_lease_expires(stack):
    state = DynamoDBState(stack.client("dynamodb"), stack.state_table)
    state.bump_days([DAY])
    generation = state.day(DAY).generation
    with state.commit_day(DAY, generation, lease_seconds=60) as newest:
        assert newest
        with pytest.raises(DayBusy):
            with state.commit_day(DAY, generation, lease_seconds=60):
                pass
    assert state.day(DAY).committed == generation

    # a holder that died (its Lambda timed out) keeps the lease only for the time it could have lived
    holder = state.commit_day(DAY, generation, lease_seconds=0.2)
    assert holder.__enter__()
    time.sleep(0.3)
    with state.commit_day(DAY, generation, lease_seconds=60) as newest:
        assert newest
    state.bump_days([DAY])  # an ingest changed the day meanwhile: a run of the older generation must not write
    with state.commit_day(DAY, generation, lease_seconds=60) as newest:
        assert newest is False


def test_the_match_handler_turns_a_held_lease_into_a_retry(stack):
    """The state machine retries DayBusyError for longer than a lease may be held (a retrier of its own in the
    ASL: 30 s, x1.5, up to 120 s, 8 attempts); the retry comes after the holder has written."""
    import json

    retriers = json.loads((REPO / "statemachine" / "match_days.asl.json").read_text())
    (busy,) = [r for r in retriers["States"]["MatchDays"]["ItemProcessor"]["States"]["MatchDay"]["Retry"]
               if r["ErrorEquals"] == ["DayBusyError"]]
    waits, wait = [], busy["IntervalSeconds"]
    for _ in range(busy["MaxAttempts"]):
        waits.append(min(wait, busy["MaxDelaySeconds"]))
        wait *= busy["BackoffRate"]
    lease = stack.template["Resources"]["MatchFunction"]["Properties"]["Timeout"] + 5
    assert sum(waits) > lease
    from bcjourney.runtime import DayBusyError

    stack.runtimes["ingest"].state_machine_arn = None
    for key in (MAPPING, CLICKS, PARTNER):
        stack.upload(key, LANDING[key])
    state = DynamoDBState(stack.client("dynamodb"), stack.state_table)
    match = stack.handlers[stack.match_function]
    with state.commit_day(DAY, state.day(DAY).generation, lease_seconds=60):
        with pytest.raises(DayBusyError, match="being written by another run"):
            match.lambda_handler({"day": DAY}, LocalLambdaContext(stack.match_function))
    assert match.lambda_handler({"day": DAY}, LocalLambdaContext(stack.match_function))["linked"] == 4
