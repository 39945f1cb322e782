"""Which days were left stale: a change to a day's curated rows that no match run has written yet.

Every ingest that changes a day's inputs bumps the day's generation (bcjourney.state); a match run that writes the
day's journeys marks it committed at the generation it read. In between the day is stale, which is normal for the
minutes matching takes, after the debounce window its execution waits for (MatchDebounceSeconds, at most half the
grace; bcjourney.match_runs). A day still stale long after its last bump means a change nobody matched: the execution
that should have matched it failed (and waits in the dead-letter queue), or was never started (ingest bumped the day
and then failed for good before starting it, StartExecution failed, the state was edited by hand; a start merged
into the day's execution of its debounce window is none of these: that execution matches the day after it). The
dead-letter alarms see only the first kind; this check sees both, from the one fact that matters, the state of the
day itself. The freshness Lambda runs it on a schedule and emits the count as a metric, which the `partition-stale`
alarm watches.

Pure apart from `check_freshness` reading the state port: the caller hands in `now`, so tests need no clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TypedDict

from .state import DayState, PipelineState


class FreshnessReport(TypedDict):
    stale_days: list[str]  # the days left stale past the grace period, in day order
    oldest_bump: str | None  # ISO time (UTC) of the oldest last bump among them; None: none stale, or none known
    checked: int  # how many days the state holds


def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC (the state writes UTC times)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def bumped_at(day: DayState) -> datetime | None:
    """When the day was last bumped, or None when the state does not say (missing or unreadable)."""
    if not day.bumped_at:
        return None
    try:
        return _utc(datetime.fromisoformat(day.bumped_at))
    except ValueError:
        return None


def stale_days(days: list[DayState], now: datetime, grace: timedelta) -> list[DayState]:
    """The days that are stale (committed < generation) and were last bumped more than `grace` before `now`.

    A stale day without a (readable) `bumped_at` counts as stale past the grace: nothing shows it is recent, and a
    false alarm that makes someone look is cheaper than a change that is never matched. Order is kept."""
    now = _utc(now)
    found = []
    for day in days:
        if not day.stale:
            continue
        bumped = bumped_at(day)
        if bumped is None or now - bumped > grace:
            found.append(day)
    return found


def check_freshness(state: PipelineState, now: datetime, grace: timedelta) -> FreshnessReport:
    """Every day of `state` checked against `grace` (see `stale_days`), as the freshness Lambda reports it."""
    days = state.days()
    stale = stale_days(days, now, grace)
    bumps = [b for b in (bumped_at(day) for day in stale) if b is not None]
    return {"stale_days": [day.day for day in stale],
            "oldest_bump": min(bumps).isoformat() if bumps else None,
            "checked": len(days)}
