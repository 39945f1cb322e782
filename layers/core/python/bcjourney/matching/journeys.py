"""Build the unified journeys of one day from clicks, registrations and their links (pure pandas)."""

from __future__ import annotations

import pandas as pd

from .. import schema
from .linker import Links

UNKNOWN_PAGE = "Unknown"


def journeys_for_day(day: str, clicks: pd.DataFrame, registrations: pd.DataFrame, links: Links,
                     mapping: pd.DataFrame) -> pd.DataFrame:
    """One row per click of `day` (with its registration, if linked) and one per unlinked registration of `day`.

    `clicks` and `registrations` may span neighbouring days: they were matched together so links across
    midnight are found; ownership of a row goes by the day of its own timestamp.
    """
    pairs = links.pairs
    click_side = clicks.reset_index(drop=True)
    reg_side = registrations.reset_index(drop=True)

    link_of_click = pd.DataFrame({
        "registration": pairs["registration"].to_numpy(),
        "match_confidence": pairs["confidence"].round(6).to_numpy(),
        "match_rule": pairs["match_rule"].to_numpy(),
    }, index=pairs["click"].to_numpy())

    own_clicks = click_side[click_side["converted_at"].dt.strftime("%Y-%m-%d") == day]
    joined = own_clicks.join(link_of_click, how="left")
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

    linked_registrations = set(pairs["registration"].tolist())
    own_regs = reg_side[(reg_side["registered_at"].dt.strftime("%Y-%m-%d") == day)
                        & ~reg_side.index.isin(linked_registrations)]
    unmatched = pd.DataFrame(_registration_columns(own_regs), index=own_regs.index)

    result = pd.concat([conversions, unmatched], ignore_index=True) if len(unmatched) else conversions
    result = result.reset_index(drop=True)
    result["registration_delay_s"] = (result["registered_at"] - result["converted_at"]).dt.total_seconds()
    page = dict(zip(mapping["measurement_category"], mapping["page_category"]))
    category = result["measurement_category"].astype("object")
    known = category.map(page).astype("object")
    # a well-formed category the mapping lacks is 'Unknown'; a registration with no click has none
    result["page_category"] = known.where(known.notna(), UNKNOWN_PAGE).where(category.notna(), None)
    return result.reindex(columns=schema.UNIFIED_JOURNEYS.names)


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
