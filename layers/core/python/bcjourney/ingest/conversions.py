"""Normalize a chunk of conversion (click) rows: pure pandas, no I/O."""

from __future__ import annotations

import pandas as pd

from ..normalize import countries, timestamps, values
from .rules import Verdicts


def normalize_conversions(frame: pd.DataFrame, now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, Verdicts]:
    """`frame` holds the contract's raw string columns; returns curated columns for every row plus verdicts."""
    verdicts = Verdicts(frame.index)
    conversion_id, id_ok = values.parse_int(frame["id"])
    verdicts.reject(~id_ok, "invalid_id", "id")

    converted_at, ts_reason = timestamps.parse_timestamps(frame["created_at"], now=now)
    verdicts.reject(ts_reason.notna(), "invalid_timestamp", "created_at")

    is_mobile, mobile_ok = values.parse_bool(frame["is_mobile"])
    verdicts.reject(~mobile_ok, "invalid_is_mobile", "is_mobile")

    category = verdicts.check_text(frame["measurement_category"], "measurement_category")
    # a page code with a URL parameter glued on (values.LEAKED_PARAMETER) is kept as its code, flagged; only rows the
    # text policy passed are considered, so a payload after a code stays quarantined
    category, recovered, leaked_ui = values.recover_measurement_categories(category)
    recovered &= verdicts.accepted
    verdicts.flag(recovered, "measurement_category_recovered")
    verdicts.reject(~values.is_measurement_category(category), "suspicious_text", "measurement_category")

    ui_element = verdicts.check_text(frame["ui_element"], "ui_element")
    # the glued-on measurementlist is the click's ui element, whose own field came blank
    lost = recovered & leaked_ui.notna() & (ui_element == "")
    if lost.any():
        ui_element = ui_element.mask(lost, leaked_ui)
        verdicts.flag(lost, "ui_element_recovered")

    session_id, session_ok = values.parse_int(frame["session_id"])
    verdicts.flag(~session_ok, "session_id_invalid")

    country_name = verdicts.check_text(frame["country_name"], "country_name")
    country_code = countries.resolve_countries(country_name)
    blank = countries.is_blank_country(country_name)
    verdicts.flag(blank, "country_blank")
    verdicts.flag(~blank & country_code.isna(), "country_unresolved")

    curated = pd.DataFrame(
        {
            "conversion_id": conversion_id,
            "session_id": session_id.where(session_ok),
            "country_name": country_name.where(~blank),
            "country_code": country_code,
            "is_mobile": is_mobile,
            "ui_element": ui_element.where(ui_element != ""),
            "measurement_category": category,
            "converted_at": converted_at,
        },
        index=frame.index,
    )
    return curated, verdicts
