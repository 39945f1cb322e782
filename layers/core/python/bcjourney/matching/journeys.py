"""Build the unified journeys of some days from clicks, registrations and their links (pure pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from .linker import DAY_S, Links, epoch_seconds

UNKNOWN_PAGE = "Unknown"


def journeys_for_days(days: list[str], clicks: pd.DataFrame, registrations: pd.DataFrame, links: Links,
                      mapping: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per day: one row per click of that day (with its registration, if linked), then one per unlinked
    registration of that day.

    `clicks` and `registrations` may span neighbouring days: they were matched together so links across
    midnight are found; ownership of a row goes by the day of its own timestamp.
    """
    pairs = links.pairs
    click_side = clicks.reset_index(drop=True)
    reg_side = registrations.reset_index(drop=True)
    wanted = {int(pd.Timestamp(day).value // 10**9 // DAY_S): day for day in days}

    link_of_click = pd.DataFrame({
        "registration": pairs["registration"].to_numpy(),
        "match_confidence": pairs["confidence"].round(6).to_numpy(),
        "match_rule": pairs["match_rule"].to_numpy(),
    }, index=pairs["click"].to_numpy())

    click_day = _day_numbers(click_side["converted_at"])
    joined = click_side[np.isin(click_day, list(wanted))].join(link_of_click, how="left")
    reg_rows = reg_side.reindex(joined["registration"].astype("Int64").fillna(-1).to_numpy())
    reg_rows.index = joined.index

    conversions = pd.DataFrame({
        "conversion_id": joined["conversion_id"],
        "session_id": joined["session_id"],
        "is_mobile": joined["is_mobile"],
        "ui_element": joined["ui_element"],
        "measurement_category": joined["measurement_category"],
        "converted_at": joined["converted_at"],
        "country_code": joined["country_code"],
        "conversion_source_file": joined["source_file"],
        "conversion_source_line": joined["source_line"],
        "match_confidence": joined["match_confidence"],
        "match_rule": joined["match_rule"],
        **_registration_columns(reg_rows),
    })
    conversions["_day"] = click_day[joined.index.to_numpy()]

    unlinked = ~reg_side.index.isin(pairs["registration"].to_numpy())
    reg_day = _day_numbers(reg_side["registered_at"])
    own_regs = reg_side[unlinked & np.isin(reg_day, list(wanted))]
    unmatched = pd.DataFrame(_registration_columns(own_regs), index=own_regs.index)
    unmatched["_day"] = reg_day[own_regs.index.to_numpy()]

    result = pd.concat([conversions, unmatched], ignore_index=True) if len(unmatched) else conversions
    result = result.reset_index(drop=True)
    result["registration_delay_s"] = (result["registered_at"] - result["converted_at"]).dt.total_seconds()
    page = dict(zip(mapping["measurement_category"], mapping["page_category"]))
    category = result["measurement_category"].astype("object")
    known = category.map(page).astype("object")
    # a well-formed category the mapping lacks is 'Unknown'; a registration with no click has none
    result["page_category"] = known.where(known.notna(), UNKNOWN_PAGE).where(category.notna(), None)
    columns = schema.UNIFIED_JOURNEYS.names
    by_day = {day: result.iloc[:0].reindex(columns=columns) for day in days}
    for number, rows in result.groupby("_day", sort=False):
        by_day[wanted[int(number)]] = rows.reindex(columns=columns).reset_index(drop=True)
    return by_day


def journeys_for_day(day: str, clicks: pd.DataFrame, registrations: pd.DataFrame, links: Links,
                     mapping: pd.DataFrame) -> pd.DataFrame:
    return journeys_for_days([day], clicks, registrations, links, mapping)[day]


def _day_numbers(times: pd.Series) -> np.ndarray:
    return np.floor(epoch_seconds(times) / DAY_S).astype(np.int64)


def _registration_columns(regs: pd.DataFrame) -> dict:
    return {
        "partner": regs["partner"],
        "registered_at": regs["registered_at"],
        "ip_country_code": regs["ip_country_code"],
        "residency_country_code": regs["residency_country_code"],
        "important_score": regs["important_score"],
        "broker_source_file": regs["source_file"],
        "broker_source_line": regs["source_line"],
    }
