"""Which days' journeys a change of curated rows can alter: the rule ingest bumps generations by and the state
machine matches by, kept in one place so the two never disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_MS = 86_400_000


def day_labels(day_numbers: np.ndarray) -> list[str]:
    """'YYYY-MM-DD' of day numbers (epoch milliseconds // DAY_MS)."""
    return list(pd.to_datetime(np.asarray(day_numbers, dtype=np.int64) * DAY_MS, unit="ms").strftime("%Y-%m-%d"))


def neighbour_days(day: str, reach: int = 1) -> list[str]:
    center = pd.Timestamp(day)
    return [(center + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(-reach, reach + 1)]


def affected_days(days: list[str]) -> list[str]:
    """New data on day D can change the journeys of D-1 (a click just before midnight), D and D+1."""
    return sorted({n for d in days for n in neighbour_days(d)})
