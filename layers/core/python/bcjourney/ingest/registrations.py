"""Normalize a chunk of partner registration rows: pure pandas, no I/O."""

from __future__ import annotations

import pandas as pd

from ..normalize import countries, timestamps, values
from .rules import Verdicts


def normalize_registrations(frame: pd.DataFrame, now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, Verdicts]:
    verdicts = Verdicts(frame.index)
    registered_at, ts_reason = timestamps.parse_timestamps(frame["timestamp"], now=now)
    verdicts.reject(ts_reason.notna(), "invalid_timestamp", "timestamp")

    columns = {"registered_at": registered_at}
    for raw_column, prefix in (("country_residency", "residency"), ("ip_country", "ip")):
        name = verdicts.check_text(frame[raw_column], raw_column)
        blank = countries.is_blank_country(name)
        code = countries.resolve_countries(name)
        verdicts.flag(~blank & code.isna(), f"{prefix}_country_unresolved")
        columns[f"{prefix}_country_name"] = name.where(~blank)
        columns[f"{prefix}_country_code"] = code

    score, score_ok = values.parse_score(frame["important_score"])
    verdicts.flag(~score_ok, "important_score_invalid")
    columns["important_score"] = score

    curated = pd.DataFrame(columns, index=frame.index)
    return curated[
        ["registered_at", "residency_country_name", "residency_country_code",
         "ip_country_name", "ip_country_code", "important_score"]
    ], verdicts
