"""Timestamps from Unix seconds or milliseconds, 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601 with Z/offset, to naive UTC."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EARLIEST = pd.Timestamp("2000-01-01")
FUTURE_SLACK = pd.Timedelta(days=1)
_MS_THRESHOLD = 10**11  # above this an epoch number is milliseconds (10**11 s is the year 5138)


def parse_timestamps(values: pd.Series, now: pd.Timestamp | None = None) -> tuple[pd.Series, pd.Series]:
    """Return (naive UTC datetime64[ms] Series, reason Series: None if fine, else why it was rejected)."""
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None)
    text = values.fillna("").astype(str).str.strip()
    numeric = text.str.fullmatch(r"\d{1,16}(\.\d+)?")
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ms]")

    if numeric.any():
        number = pd.to_numeric(text[numeric], errors="coerce")
        seconds = number.where(number < _MS_THRESHOLD, number / 1000)
        result[numeric] = pd.to_datetime(seconds, unit="s", errors="coerce").astype("datetime64[ms]")

    textual = ~numeric & (text != "")
    if textual.any():
        # the common form first, vectorised in Arrow; ISO 8601 with offsets and the rest through pandas
        fast = pc.strptime(pa.array(text[textual], type=pa.string()), format="%Y-%m-%d %H:%M:%S", unit="ms",
                           error_is_null=True)
        fast = pd.Series(fast.to_pandas(), index=text[textual].index).astype("datetime64[ms]")
        result[textual] = fast
        textual &= result.isna()
    if textual.any():
        parsed = pd.to_datetime(text[textual], format="ISO8601", utc=True, errors="coerce")
        result[textual] = parsed.dt.tz_localize(None).astype("datetime64[ms]")

    reason = pd.Series(None, index=values.index, dtype="object")
    reason[result.isna()] = "unparseable timestamp"
    reason[text == ""] = "missing timestamp"
    reason[result.notna() & (result < EARLIEST)] = "timestamp before 2000"
    reason[result.notna() & (result > now + FUTURE_SLACK)] = "timestamp more than a day in the future"
    return result, reason
