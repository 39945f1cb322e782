"""Match days: read them and their neighbours from the lake, link, write unified/journeys/dt=<day>/.

This is the whole of the match Lambda's work: Step Functions maps it over days, one day per invocation;
on one machine the runner hands it batches of days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from .. import layout, schema
from ..frames import to_plain_pandas, to_table
from ..layout import partition_values
from ..storage import Storage
from .journeys import journeys_for_days
from .linker import MatchSettings, link

logger = logging.getLogger(__name__)

# Days a backfill matches per pass: each pass reads its days' neighbours once; memory grows with the batch
BACKFILL_BATCH_DAYS = 31


@dataclass
class DayResult:
    day: str
    conversions: int
    registrations: int
    linked: int
    unmatched_registrations: int
    rows_written: int

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def neighbour_days(day: str, reach: int = 1) -> list[str]:
    center = pd.Timestamp(day)
    return [(center + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(-reach, reach + 1)]


def affected_days(days: list[str]) -> list[str]:
    """New data on day D can change the journeys of D-1 (a click just before midnight), D and D+1."""
    return sorted({n for d in days for n in neighbour_days(d)})


def load_clicks(lake: Storage, days: list[str]) -> pd.DataFrame:
    keys = [k for d in days for k in lake.list_keys(f"{layout.CURATED_CONVERSIONS}dt={d}/")
            if k.endswith(".parquet")]
    frame = lake.read_parquet(keys, schema.CURATED_CONVERSIONS)
    # the same id may arrive in two batches: keep the earliest line of the earliest file
    frame = frame.sort_values(["conversion_id", "source_file", "source_line"], kind="stable")
    return frame.drop_duplicates("conversion_id").sort_values("converted_at", kind="stable").reset_index(drop=True)


def load_registrations(lake: Storage, days: list[str]) -> pd.DataFrame:
    wanted = set(days)
    frames = []
    keys = [k for k in lake.list_keys(layout.CURATED_REGISTRATIONS) if k.endswith(".parquet")]
    by_partner: dict[str, list[str]] = {}
    for key in keys:
        parts = partition_values(key)
        if parts.get("dt") in wanted:
            by_partner.setdefault(parts["partner"], []).append(key)
    for partner, partner_keys in sorted(by_partner.items()):
        frame = lake.read_parquet(partner_keys, schema.CURATED_REGISTRATIONS)
        frame["partner"] = partner
        frames.append(frame)
    if not frames:
        empty = schema.CURATED_REGISTRATIONS.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
        empty["partner"] = pd.Series(dtype="string")
        return empty
    return pd.concat(frames, ignore_index=True).sort_values(["registered_at", "source_file", "source_line"],
                                                             kind="stable").reset_index(drop=True)


def load_mapping(lake: Storage) -> pd.DataFrame:
    keys = [k for k in lake.list_keys(layout.CURATED_PAGE_CATEGORIES) if k.endswith(".parquet")]
    return lake.read_parquet(keys, schema.PAGE_CATEGORIES)


def match_day(lake: Storage, day: str, settings: MatchSettings = MatchSettings()) -> DayResult:
    return match_days(lake, [day], settings)[0]


def match_days(lake: Storage, days: list[str], settings: MatchSettings = MatchSettings()) -> list[DayResult]:
    """Match some days in one pass: their neighbours are read once and one model per registration day is
    fitted once, where matching them one by one would read and fit each neighbour again. The result equals
    matching each day alone. A backfill is cut into batches of the caller's choosing (memory grows with it)."""
    for day in days:
        pd.Timestamp(day)  # a clear error for a malformed day, before any I/O
    days = sorted(set(days))
    # Registrations of each day and its neighbours compete for the clicks near midnight; their candidates
    # reach one more day out. Everything a neighbour's run decides about a day it decides the same way.
    clicks = to_plain_pandas(load_clicks(lake, sorted({n for d in days for n in neighbour_days(d, reach=2)})))
    registrations = to_plain_pandas(load_registrations(lake, affected_days(days)))
    links = link(clicks, registrations, settings)
    by_day = journeys_for_days(days, clicks, registrations, links, load_mapping(lake))
    return [_write_day(lake, day, by_day[day], links) for day in days]


def _write_day(lake: Storage, day: str, journeys: pd.DataFrame, links) -> DayResult:
    """Replace the day's unified partition (late data re-matches a day: no duplicates, no stale links)."""
    prefix = f"{layout.UNIFIED_JOURNEYS}dt={day}/"
    stale = lake.list_keys(prefix)
    if len(journeys):
        lake.write_parquet(f"{prefix}journeys.parquet", to_table(journeys, schema.UNIFIED_JOURNEYS))
    lake.delete([k for k in stale if not k.endswith("/journeys.parquet") or not len(journeys)])

    own_conversions = int(journeys["conversion_id"].notna().sum())
    linked = int((journeys["conversion_id"].notna() & journeys["partner"].notna()).sum())
    unmatched = int(journeys["conversion_id"].isna().sum())
    model = links.models.get(day)
    logger.info("matched day %s: %s conversions, %s linked, model %s", day, own_conversions, linked,
                model.describe() if model else None)
    return DayResult(day, own_conversions, linked + unmatched, linked, unmatched, len(journeys))
