"""How ingest names and times the match_days executions it starts (#17, "debounce executions per day").

Debounced, with a window of MATCH_DEBOUNCE_SECONDS > 0 and a file of at most DEBOUNCE_MAX_DAYS days (a daily file:
its day or two and their neighbours): one execution per day and window, named `day-<YYYY-MM-DD>-<window start,
UTC, YYYYMMDDTHHMMSSZ>`, with input {"days": [day], "batch_id", "not_before": <window end + margin, ISO-8601 UTC>};
match_days waits until not_before before it matches. Every file that touches the day and starts it within the
window gets the same name, so Step Functions refuses the later starts (ExecutionAlreadyExists, or the running
execution itself for the same input): they are merged into the first one. That one still reads them all: each
file was in the lake before its start call, the call was made inside the window, and the execution matches only
after the window's end.

Otherwise (window 0, or more days: a month's file, a backfill): one execution for all the days, named after the
batch plus a random suffix, input {"days", "batch_id"}, started at once, as before debouncing. match_days still
hands more than 31 days to backfill_days.

Pure: the caller hands in the moment and the random suffix; bcjourney.runtime.Runtime.start_matching calls Step
Functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

# A daily file touches its day and the neighbours (3 days), 4 when its rows spill past midnight. One execution per
# day runs them all at once, where one execution of the days runs 3 at a time (match_days' MaxConcurrency): more
# days than this would put more matches at once on the match function than the file's own execution would.
DEBOUNCE_MAX_DAYS = 4
# After the window's end: room for the ingest host's clock and Step Functions' to differ a little.
NOT_BEFORE_MARGIN_SECONDS = 10
# StartExecution answers a running execution of the same name and input with that execution's startDate: one
# earlier than our call by more than the clocks may differ was started before, by another call.
CLOCK_DIFFERENCE = timedelta(seconds=1)
NAME_LIMIT = 80  # Step Functions' limit on an execution name
WINDOW_STAMP = "%Y%m%dT%H%M%SZ"
NOT_BEFORE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in UTC with a "Z", as a Wait's TimestampPath reads it


@dataclass(frozen=True)
class PlannedRun:
    """One StartExecution: the execution's name and its input."""

    name: str
    input: dict


def debounce_seconds(text: str | None) -> int:
    """MATCH_DEBOUNCE_SECONDS as a number of seconds; unset or empty: 0 (off)."""
    if text is None or not text.strip():
        return 0
    try:
        seconds = int(text.strip())
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ValueError(f"MATCH_DEBOUNCE_SECONDS must be a whole number of seconds, 0 or more: {text!r}")
    return seconds


def debounces(days: list[str], window_seconds: int) -> bool:
    """Whether a file touching `days` gets one execution per day and window (else one for all its days)."""
    return window_seconds > 0 and 0 < len(days) <= DEBOUNCE_MAX_DAYS


def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC (as the pipeline state writes its times)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def window_start(now: datetime, window_seconds: int) -> datetime:
    """The start of the window holding `now`. Windows are aligned to the epoch, so every ingest invocation finds the
    same one without asking anybody."""
    if window_seconds <= 0:
        raise ValueError(f"a debounce window is a positive number of seconds, not {window_seconds}")
    epoch = int(_utc(now).timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, tz=timezone.utc)


def day_run(day: str, batch_id: str, *, now: datetime, window_seconds: int) -> PlannedRun:
    """The execution that matches `day` for every file started in `now`'s window; it waits until the window closed."""
    start = window_start(now, window_seconds)
    not_before = start + timedelta(seconds=window_seconds + NOT_BEFORE_MARGIN_SECONDS)
    return PlannedRun(name=f"day-{day}-{start.strftime(WINDOW_STAMP)}",
                      input={"days": [day], "batch_id": batch_id, "not_before": not_before.strftime(NOT_BEFORE_FORMAT)})


def batch_run(days: list[str], batch_id: str, suffix: str) -> PlannedRun:
    """One execution for all `days`, started at once: named after the batch (readable in the console) plus `suffix`
    (random: a re-ingest of the same key is a new execution), cut from the left to the name limit."""
    return PlannedRun(name=f"{batch_id}-{suffix}"[-NAME_LIMIT:], input={"days": days, "batch_id": batch_id})


def plan_runs(days: list[str], batch_id: str, *, now: datetime, window_seconds: int, suffix: str) -> list[PlannedRun]:
    """The executions to start for a file that touched `days` (none for no days)."""
    if not days:
        return []
    if debounces(days, window_seconds):
        return [day_run(day, batch_id, now=now, window_seconds=window_seconds) for day in days]
    return [batch_run(days, batch_id, suffix)]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution `name` of a state machine (ExecutionAlreadyExists names it only in its message)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def returned_an_earlier_start(start_date: datetime, called_at: datetime) -> bool:
    """Whether StartExecution, called at `called_at`, answered an execution started before (same name and input,
    still running) rather than the one it started."""
    return _utc(start_date) < _utc(called_at) - CLOCK_DIFFERENCE
