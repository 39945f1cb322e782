"""Normalize a chunk of partner registration rows: pure pandas, no I/O."""

from __future__ import annotations

import pandas as pd

from ..normalize import countries, timestamps, values
from ..partners import PartnerProfile
from .rules import Verdicts


def normalize_registrations(frame: pd.DataFrame, now: pd.Timestamp | None = None,
                            profile: PartnerProfile | None = None) -> tuple[pd.DataFrame, Verdicts]:
    """`profile`: the partner's; its time zone reads timestamps written without an offset (a local time that
    occurs twice, at the end of summer time, is taken as its first occurrence and flagged; one that does not
    exist, in the hour skipped, is read with the offset before the gap and flagged), its scale bounds the score;
    a column it maps to `click_id` carries our conversion id (the exact tier; a malformed one rejects its row)."""
    verdicts = Verdicts(frame.index)
    zone = profile.zone if profile else None
    registered_at, ts_reason, local = timestamps.parse_timestamps_in_zone(frame["timestamp"], zone, now=now)
    verdicts.reject(ts_reason.notna(), "invalid_timestamp", "timestamp")
    verdicts.flag(local.ambiguous, "ambiguous_local_time")
    verdicts.flag(local.nonexistent, "nonexistent_local_time")

    columns = {"registered_at": registered_at}
    for raw_column, prefix in (("country_residency", "residency"), ("ip_country", "ip")):
        name = verdicts.check_text(frame[raw_column], raw_column)
        blank = countries.is_blank_country(name)
        code = countries.resolve_countries(name)
        verdicts.flag(~blank & code.isna(), f"{prefix}_country_unresolved")
        columns[f"{prefix}_country_name"] = name.where(~blank)
        columns[f"{prefix}_country_code"] = code

    score, score_ok = values.parse_score(frame["important_score"])
    if profile is not None:  # outside the partner's scale: junk like '#REF!', kept as no score
        outside = score.notna() & ((score < profile.score_min) | (score > profile.score_max))
        score, score_ok = score.mask(outside), score_ok & ~outside
    verdicts.flag(~score_ok, "important_score_invalid")
    columns["important_score"] = score

    if "click_id" in frame.columns:  # the partner passes our click id through (its profile maps the column)
        text = frame["click_id"].fillna("").astype(str).str.strip()
        well_formed = text.str.fullmatch(r"\d{1,18}")
        verdicts.reject((text != "") & ~well_formed, "invalid_click_id", "click_id")
        columns["click_id"] = pd.to_numeric(text.where(well_formed), errors="coerce").astype("Int64")
    else:
        columns["click_id"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")

    curated = pd.DataFrame(columns, index=frame.index)
    return curated[
        ["registered_at", "residency_country_name", "residency_country_code",
         "ip_country_name", "ip_country_code", "important_score", "click_id"]
    ], verdicts
