"""Which days' journeys a change of curated rows can alter: the rule ingest bumps generations by and the state
machine matches by, kept in one place so the two never disagree."""

from __future__ import annotations

import pandas as pd


def neighbour_days(day: str, reach: int = 1) -> list[str]:
    center = pd.Timestamp(day)
    return [(center + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(-reach, reach + 1)]


def affected_days(days: list[str]) -> list[str]:
    """New data on day D can change the journeys of D-1 (a click just before midnight), D and D+1."""
    return sorted({n for d in days for n in neighbour_days(d)})
