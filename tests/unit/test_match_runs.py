"""How ingest names and times its match_days executions (bcjourney.match_runs, issue #17 "debounce executions per
day"): pure, so the window arithmetic is tested here without a clock or Step Functions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from bcjourney.days import affected_days
from bcjourney.match_runs import (
    DEBOUNCE_MAX_DAYS,
    NOT_BEFORE_MARGIN_SECONDS,
    PlannedRun,
    debounce_seconds,
    debounces,
    execution_arn,
    plan_runs,
    returned_an_earlier_start,
    window_start,
)
from bcjourney.runtime import Runtime

UTC = timezone.utc
WINDOW = 300
NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")  # what Step Functions accepts in an execution name (and CloudWatch logs)
MOMENT = datetime(2024, 4, 1, 10, 3, 17, 250_000, tzinfo=UTC)
DAYS = ["2024-03-31", "2024-04-01", "2024-04-02"]


def test_windows_are_aligned_to_the_epoch_so_every_ingest_computes_the_same_one():
    assert window_start(MOMENT, WINDOW) == datetime(2024, 4, 1, 10, 0, tzinfo=UTC)
    assert window_start(datetime(2024, 4, 1, 10, 5, tzinfo=UTC), WINDOW) == datetime(2024, 4, 1, 10, 5, tzinfo=UTC)
    assert window_start(datetime(2024, 4, 1, 10, 4, 59, 999_999, tzinfo=UTC), WINDOW) == datetime(
        2024, 4, 1, 10, 0, tzinfo=UTC)
    # the same instant in another zone, or naive (taken as UTC, as the state writes its times), is the same window
    assert window_start(MOMENT.astimezone(timezone(timedelta(hours=2))), WINDOW) == window_start(MOMENT, WINDOW)
    assert window_start(MOMENT.replace(tzinfo=None), WINDOW) == window_start(MOMENT, WINDOW)
    with pytest.raises(ValueError):
        window_start(MOMENT, 0)


def test_a_debounced_run_is_one_day_named_after_the_day_and_its_window_and_waits_until_it_closed():
    runs = plan_runs(DAYS, "conversions-abc", now=MOMENT, window_seconds=WINDOW, suffix="ffff")
    assert [r.name for r in runs] == ["day-2024-03-31-20240401T100000Z", "day-2024-04-01-20240401T100000Z",
                                      "day-2024-04-02-20240401T100000Z"]
    assert runs[1] == PlannedRun(name="day-2024-04-01-20240401T100000Z", input={
        "days": ["2024-04-01"], "batch_id": "conversions-abc", "not_before": "2024-04-01T10:05:10Z"})
    assert NOT_BEFORE_MARGIN_SECONDS == 10  # the window's end (10:05:00) plus the margin
    # Step Functions' Wait reads an RFC 3339 UTC time with a "Z"; it names the window's end, not the call's time
    for run in runs:
        assert NAME.fullmatch(run.name)
        assert datetime.strptime(run.input["not_before"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) == datetime(
            2024, 4, 1, 10, 5, 10, tzinfo=UTC)


def test_two_files_in_one_window_plan_the_same_names_and_the_next_window_new_ones():
    first = plan_runs(DAYS, "conversions-abc", now=MOMENT, window_seconds=WINDOW, suffix="a")
    second = plan_runs(DAYS[1:], "broker-acme-def", now=MOMENT + timedelta(seconds=100), window_seconds=WINDOW,
                       suffix="b")
    assert [r.name for r in second] == [r.name for r in first[1:]]  # same day, same window: one execution
    assert [r.input["batch_id"] for r in second] == ["broker-acme-def"] * 2  # another input: ExecutionAlreadyExists
    later = plan_runs(DAYS, "broker-acme-ghi", now=MOMENT + timedelta(seconds=WINDOW), window_seconds=WINDOW,
                      suffix="c")
    assert [r.name for r in later] == ["day-2024-03-31-20240401T100500Z", "day-2024-04-01-20240401T100500Z",
                                       "day-2024-04-02-20240401T100500Z"]
    assert {r.input["not_before"] for r in later} == {"2024-04-01T10:10:10Z"}


def test_window_zero_or_many_days_is_one_execution_for_all_days_as_before():
    (off,) = plan_runs(DAYS, "conversions-abc", now=MOMENT, window_seconds=0, suffix="0123456789abcdef")
    assert off == PlannedRun(name="conversions-abc-0123456789abcdef",
                             input={"days": DAYS, "batch_id": "conversions-abc"})
    month = [f"2024-04-{d:02d}" for d in range(1, 31)]
    (backfill,) = plan_runs(month, "conversions-april", now=MOMENT, window_seconds=WINDOW, suffix="ab")
    assert backfill.input == {"days": month, "batch_id": "conversions-april"}  # no not_before: no wait
    long_batch = "x" * 100
    (named,) = plan_runs(DAYS, long_batch, now=MOMENT, window_seconds=0, suffix="0123456789abcdef")
    assert len(named.name) == 80 and named.name.endswith("-0123456789abcdef")  # the random part is kept
    assert plan_runs([], "b", now=MOMENT, window_seconds=WINDOW, suffix="a") == []


def test_the_day_sized_files_are_debounced_and_a_backfill_is_not():
    spilling_past_midnight = affected_days(["2024-04-01", "2024-04-02"])  # a registration after midnight
    assert debounces(affected_days(["2024-04-01"]), WINDOW) and debounces(spilling_past_midnight, WINDOW)
    assert not debounces(affected_days(["2024-04-01", "2024-04-02", "2024-04-03"]), WINDOW)
    assert not debounces(DAYS, 0) and not debounces([], WINDOW)
    assert len(spilling_past_midnight) == DEBOUNCE_MAX_DAYS < 32  # match_days hands 32 days on to backfill_days


def test_the_window_is_read_from_the_environment(monkeypatch):
    assert debounce_seconds(None) == 0 and debounce_seconds("") == 0 and debounce_seconds(" 300 ") == 300
    for bad in ("-1", "five minutes", "1.5"):
        with pytest.raises(ValueError, match="MATCH_DEBOUNCE_SECONDS"):
            debounce_seconds(bad)
    monkeypatch.setenv("LAKE_URI", "s3://lake")
    monkeypatch.delenv("MATCH_DEBOUNCE_SECONDS", raising=False)
    assert Runtime.from_environment().match_debounce_seconds == 0  # unset: one execution per file, as before
    monkeypatch.setenv("MATCH_DEBOUNCE_SECONDS", "300")
    assert Runtime.from_environment().match_debounce_seconds == 300


def test_an_execution_already_running_is_told_by_its_earlier_start():
    """StartExecution with a running execution's name and input answers that execution (its startDate): merged."""
    called_at = datetime(2024, 4, 1, 10, 3, 17, tzinfo=UTC)
    assert returned_an_earlier_start(called_at - timedelta(seconds=40), called_at)
    assert not returned_an_earlier_start(called_at + timedelta(milliseconds=30), called_at)
    assert not returned_an_earlier_start(called_at - timedelta(milliseconds=200), called_at)  # clocks differ a bit
    arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:bcjourney-match-days"
    assert execution_arn(arn, "day-2024-04-01-20240401T100000Z") == (
        "arn:aws:states:eu-west-1:123456789012:execution:bcjourney-match-days:day-2024-04-01-20240401T100000Z")
