"""Build the unified journeys of some days from clicks, registrations and their links.

Arrow in, Arrow out: rows are gathered with `take` (a null position gives a null row), so the text columns
are never turned into Python objects on their way from the curated files to the unified ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..days import DAY_MS
from .inputs import column_milliseconds
from .linker import DAY_S, Links

UNKNOWN_PAGE = "Unknown"

CLICK_COLUMNS = {  # unified column <- curated conversions column
    "conversion_id": "conversion_id", "session_id": "session_id", "is_mobile": "is_mobile",
    "ui_element": "ui_element", "measurement_category": "measurement_category", "converted_at": "converted_at",
    "country_code": "country_code", "conversion_source_file": "source_file", "conversion_source_line": "source_line",
}
REGISTRATION_COLUMNS = {  # unified column <- curated registrations column (plus the partner from the path)
    "partner": "partner", "registered_at": "registered_at", "ip_country_code": "ip_country_code",
    "residency_country_code": "residency_country_code", "important_score": "important_score",
    "broker_source_file": "source_file", "broker_source_line": "source_line", "clock_offset_s": "clock_offset_s",
}


def journey_tables(days: list[str], clicks: pa.Table, registrations: pa.Table, links: Links,
                   mapping: pa.Table) -> dict[str, pa.Table]:
    """Per day: one row per click of that day (with its registration, if linked), then one per unlinked
    registration of that day, in the unified schema.

    `clicks` and `registrations` may span neighbouring days: they were matched together so links across
    midnight are found; ownership of a row goes by the day of its own timestamp.
    """
    wanted = {int(pd.Timestamp(day).value // 10**9 // DAY_S): day for day in days}
    mapping = mapping.select(schema.PAGE_CATEGORIES.names).cast(schema.PAGE_CATEGORIES)
    pairs = links.pairs
    registration_of_click = np.full(clicks.num_rows, -1, dtype=np.int64)
    registration_of_click[pairs["click"].to_numpy()] = pairs["registration"].to_numpy()
    confidence = np.full(clicks.num_rows, np.nan)
    confidence[pairs["click"].to_numpy()] = pairs["confidence"].round(6).to_numpy()
    rule = np.full(clicks.num_rows, None, dtype=object)
    rule[pairs["click"].to_numpy()] = pairs["match_rule"].to_numpy()

    click_day = _day_numbers(clicks.column("converted_at"))
    own_clicks = np.flatnonzero(np.isin(click_day, list(wanted)))
    linked_to = registration_of_click[own_clicks]
    registration_day = _day_numbers(registrations.column("registered_at"))
    unlinked = np.ones(registrations.num_rows, dtype=bool)
    unlinked[pairs["registration"].to_numpy()] = False
    own_unlinked = np.flatnonzero(unlinked & np.isin(registration_day, list(wanted)))

    with_clicks = _gather(clicks, CLICK_COLUMNS, own_clicks)
    with_clicks.update(_gather(registrations, REGISTRATION_COLUMNS, linked_to))
    with_clicks["match_confidence"] = pa.array(confidence[own_clicks], from_pandas=True)  # NaN -> null
    with_clicks["match_rule"] = pa.array(rule[own_clicks], type=pa.string())
    without = _gather(clicks, CLICK_COLUMNS, np.full(len(own_unlinked), -1))
    without.update(_gather(registrations, REGISTRATION_COLUMNS, own_unlinked))
    without["match_confidence"] = pa.nulls(len(own_unlinked), pa.float64())
    without["match_rule"] = pa.nulls(len(own_unlinked), pa.string())

    # each day's clicks in time order, then its unlinked registrations
    parts = [_by_day(_unified(with_clicks, mapping), click_day[own_clicks], wanted),
             _by_day(_unified(without, mapping), registration_day[own_unlinked], wanted)]
    return {day: pa.concat_tables([part[day] for part in parts]) for day in days}


def _by_day(table: pa.Table, owner: np.ndarray, wanted: dict[int, str]) -> dict[str, pa.Table]:
    """Slices of the table per owning day; rows keep their order within a day (no copy when the rows are
    already in day order, as time-sorted inputs give)."""
    if np.any(owner[1:] < owner[:-1]):
        order = np.argsort(owner, kind="stable")
        table, owner = table.take(order), owner[order]
    numbers = list(wanted)
    lo, hi = np.searchsorted(owner, numbers, side="left"), np.searchsorted(owner, numbers, side="right")
    return {wanted[n]: table.slice(int(a), int(b - a)) for n, a, b in zip(numbers, lo, hi)}


def journeys_for_days(days: list[str], clicks: pd.DataFrame, registrations: pd.DataFrame, links: Links,
                      mapping: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """journey_tables for pandas frames (tests, notebooks); the lake path stays in Arrow."""
    tables = journey_tables(days, _to_arrow(clicks), _to_arrow(registrations), links, _to_arrow(mapping))
    return {day: table.to_pandas(types_mapper=pd.ArrowDtype) for day, table in tables.items()}


def journeys_for_day(day: str, clicks: pd.DataFrame, registrations: pd.DataFrame, links: Links,
                     mapping: pd.DataFrame) -> pd.DataFrame:
    return journeys_for_days([day], clicks, registrations, links, mapping)[day]


def _gather(table: pa.Table, columns: dict[str, str], positions: np.ndarray) -> dict[str, pa.ChunkedArray]:
    """The rows at `positions` (-1: a null row) of the wanted columns, under their unified names."""
    contiguous = len(positions) and positions[0] >= 0 and np.array_equal(
        positions, np.arange(positions[0], positions[0] + len(positions)))
    if contiguous:  # a run of days out of time-sorted rows: a zero-copy slice
        rows = table.slice(int(positions[0]), len(positions))
    else:
        indices = pa.array(positions, type=pa.int64(), mask=positions < 0)
    out = {}
    for unified, source in columns.items():
        target = schema.UNIFIED_JOURNEYS.field(unified).type
        if source not in table.column_names:
            out[unified] = pa.nulls(len(positions), target)
        elif contiguous:
            out[unified] = rows.column(source).cast(target)
        else:
            out[unified] = table.column(source).take(indices).cast(target)
    return out


def _unified(columns: dict[str, pa.Array], mapping: pa.Table) -> pa.Table:
    """Add the derived columns (delay, page category) and order everything as the contract says."""
    registered = pc.cast(columns["registered_at"], pa.int64())
    converted = pc.cast(columns["converted_at"], pa.int64())
    delay = pc.divide(pc.cast(pc.subtract(registered, converted), pa.float64()), 1000.0)
    offset = columns["clock_offset_s"]
    columns["registration_delay_s"] = pc.subtract(delay, pc.if_else(pc.is_null(registered), offset,
                                                                      pc.fill_null(offset, 0.0)))
    category = columns["measurement_category"]
    page = pc.take(mapping.column("page_category"),
                   pc.index_in(category, value_set=mapping.column("measurement_category").combine_chunks()))
    # a well-formed category the mapping lacks is 'Unknown'; a row with no click has none
    columns["page_category"] = pc.if_else(pc.is_null(category), pa.scalar(None, pa.string()),
                                          pc.coalesce(page, pa.scalar(UNKNOWN_PAGE)))
    return pa.table({f.name: columns[f.name] for f in schema.UNIFIED_JOURNEYS}, schema=schema.UNIFIED_JOURNEYS)


def _day_numbers(times: pa.ChunkedArray) -> np.ndarray:
    return np.floor_divide(column_milliseconds(times), DAY_MS)


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
