"""Timestamps to naive UTC milliseconds, exactly and calendar-strictly, vectorised in Arrow and numpy.

Accepted forms (after trimming white space):
- Unix seconds or milliseconds, optionally with a fraction: `1711965601`, `1711965601.5`, `1711965601123`
  (a number of 10**11 or more is milliseconds: 10**11 seconds is the year 5138);
- `YYYY-MM-DD HH:MM[:SS[.fraction]]`, with `T` or a space, naive (read as UTC), or with `Z`, `±HH:MM`,
  `±HHMM` or `±HH`.
Each value is split into its fields and computed with integer arithmetic, so a date that does not exist
(2024-02-30, 10:00:61) is rejected rather than rolled over, and no float rounding moves a millisecond.
Fractions below the millisecond are truncated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .values import arrow_strings

EARLIEST = pd.Timestamp("2000-01-01")
FUTURE_SLACK = pd.Timedelta(days=1)
_MS_THRESHOLD = 10**11

MISSING = "missing timestamp"
UNPARSEABLE = "unparseable timestamp"
IMPOSSIBLE = "impossible date or time"
TOO_EARLY = "timestamp before 2000"
TOO_LATE = "timestamp more than a day in the future"

_REASONS = np.array([None, MISSING, UNPARSEABLE, IMPOSSIBLE, TOO_EARLY, TOO_LATE], dtype=object)
_CODES = {text: code for code, text in enumerate(_REASONS) if text}
_FINE = 0

_NUMBER = r"^(?P<int>\d{1,16})(?:\.(?P<frac>\d+))?$"
_CALENDAR = (r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{2}):(?P<mi>\d{2})"
             r"(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))?)?"
             r"(?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?$")
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def parse_timestamps(values: pd.Series, now: pd.Timestamp | None = None) -> tuple[pd.Series, pd.Series]:
    """Return (naive UTC datetime64[ms] Series, reason Series: None if fine, else why it was rejected),
    both on the index of `values`. A value without an offset is read as UTC."""
    parsed, reason, _ = parse_timestamps_in_zone(values, None, now)
    return parsed, reason


@dataclass(frozen=True)
class LocalTimes:
    """Which values were local times that a DST change makes doubtful (boolean Series on the values' index)."""

    ambiguous: pd.Series  # occurs twice (the hour repeated when summer time ends): the first taken
    nonexistent: pd.Series  # does not exist (the hour skipped when it starts): read with the offset before the gap


def parse_timestamps_in_zone(values: pd.Series, zone: ZoneInfo | None, now: pd.Timestamp | None = None
                             ) -> tuple[pd.Series, pd.Series, LocalTimes]:
    """As parse_timestamps, with values written without an offset read as wall-clock time in `zone` (None: UTC)."""
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None)
    millis, reason, naive = _parse_millis(values)
    ambiguous = np.zeros(len(millis), dtype=bool)
    nonexistent = np.zeros(len(millis), dtype=bool)
    local = np.flatnonzero(naive & (reason == _FINE))
    if zone is not None and len(local):
        millis[local], ambiguous[local], nonexistent[local] = _local_to_utc(millis[local], zone)
    ok = reason == _FINE
    reason[ok & (millis < _ms(EARLIEST))] = _CODES[TOO_EARLY]
    reason[ok & (millis > _ms(now + FUTURE_SLACK))] = _CODES[TOO_LATE]
    ok = reason == _FINE
    result = np.where(ok, millis, np.iinfo(np.int64).min).view("datetime64[ms]")  # int64 min is NaT
    index = values.index
    return (pd.Series(result, index=index, dtype="datetime64[ms]"),
            pd.Series(_REASONS[reason], index=index, dtype="object"),
            LocalTimes(pd.Series(ambiguous & ok, index=index), pd.Series(nonexistent & ok, index=index)))


def _local_to_utc(wall_ms: np.ndarray, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTC epoch ms, ambiguous, nonexistent) of wall-clock times in `zone`. As PEP 495's fold=0: an ambiguous
    time is its first occurrence, a time in a gap is read with the offset in force before the gap (a clock that
    had not switched yet: 02:30 on the spring-forward night in Budapest is 01:30 UTC)."""
    wall = pd.DatetimeIndex(wall_ms.view("datetime64[ms]"))
    first = np.ones(len(wall), dtype=bool)  # for an ambiguous time: the summer (first) occurrence
    utc = wall.tz_localize(zone, ambiguous=first, nonexistent="NaT")
    strict = wall.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    doubtful = np.asarray(strict.isna())
    nonexistent = doubtful & np.asarray(utc.isna())
    as_ms = np.asarray(utc.tz_convert("UTC").tz_localize(None).as_unit("ms").asi8).copy()
    for i in np.flatnonzero(nonexistent):  # rare: an hour a year
        local = datetime.fromtimestamp(int(wall_ms[i]) / 1000, tz=timezone.utc).replace(tzinfo=zone, fold=0)
        as_ms[i] = int(local.timestamp() * 1000)
    return as_ms, doubtful & ~nonexistent, nonexistent


def _parse_millis(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch ms as if UTC, reason codes, which values had no offset: wall-clock time) before the bounds."""
    text = pc.utf8_trim_whitespace(pc.fill_null(arrow_strings(values), ""))
    millis = np.zeros(len(text), dtype=np.int64)
    naive = np.zeros(len(text), dtype=bool)
    reason = np.full(len(text), _CODES[UNPARSEABLE], dtype=np.int8)
    reason[np.asarray(pc.equal(text, "").to_numpy(zero_copy_only=False))] = _CODES[MISSING]

    # the common forms straight from the bytes or by one cast: 'YYYY-MM-DD HH:MM:SS' and whole Unix numbers
    fixed = np.flatnonzero(_lengths(text) == 19)
    if len(fixed):
        shaped, fields = _fixed_width_fields(text if len(fixed) == len(text) else pc.take(text, pa.array(fixed)))
        if not shaped.all():
            fixed, fields = fixed[shaped], tuple(f[shaped] for f in fields)
        millis[fixed], possible = _utc_millis(*fields)
        reason[fixed] = np.where(possible, _FINE, _CODES[IMPOSSIBLE])
        naive[fixed] = True
    pending = reason == _CODES[UNPARSEABLE]
    whole = pending & np.asarray(pc.fill_null(pc.and_(pc.ascii_is_decimal(text), pc.less_equal(
        pc.binary_length(text), 16)), False).to_numpy(zero_copy_only=False), dtype=bool)
    if whole.any():
        number = np.asarray(pc.cast(pc.filter(text, pa.array(whole)), pa.int64()).to_numpy(zero_copy_only=False))
        millis[whole], reason[whole] = np.where(number < _MS_THRESHOLD, number * 1000, number), _FINE
        pending &= ~whole
    # the rest by expression: fractional Unix numbers, then the calendar forms with T, fractions and offsets
    for pattern, to_millis in ((_NUMBER, _epoch_millis), (_CALENDAR, _calendar_millis)):
        if not pending.any():
            break
        parts = pc.extract_regex(pc.filter(text, pa.array(pending)), pattern)
        matched = _matched(parts)
        where = np.flatnonzero(pending)[matched]
        if len(where):
            found = pc.filter(parts, pa.array(matched))
            millis[where], possible = to_millis(found)
            reason[where] = np.where(possible, _FINE, _CODES[IMPOSSIBLE])
            pending[where] = False
            if pattern is _CALENDAR:  # no 'Z' and no offset: wall-clock time
                naive[where] = (np.asarray(pc.equal(found.field("z"), "").to_numpy(zero_copy_only=False))
                                & np.asarray(pc.equal(found.field("sign"), "").to_numpy(zero_copy_only=False)))
    return millis, reason, naive


def _matched(parts: pa.StructArray) -> np.ndarray:
    return ~np.asarray(parts.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _field(parts: pa.StructArray, name: str, default: int = 0) -> np.ndarray:
    """One captured field as int64 (`default` where the optional group is absent)."""
    column = parts.field(name)
    column = pc.if_else(pc.equal(column, ""), None, column)
    return np.asarray(pc.fill_null(pc.cast(column, pa.int64()), default).to_numpy(zero_copy_only=False))


def _fraction_millis(parts: pa.StructArray) -> np.ndarray:
    """The first three digits of a fraction, right-padded: '5' is 500 ms, '1239' is 123 ms."""
    padded = pc.utf8_rpad(pc.utf8_slice_codeunits(parts.field("frac"), 0, 3), width=3, padding="0")
    return np.asarray(pc.cast(padded, pa.int64()).to_numpy(zero_copy_only=False))


def _epoch_millis(parts: pa.StructArray) -> tuple[np.ndarray, np.ndarray]:
    whole = _field(parts, "int")
    return (np.where(whole < _MS_THRESHOLD, whole * 1000 + _fraction_millis(parts), whole),
            np.ones(len(whole), dtype=bool))


_SEPARATORS = {4: b"-", 7: b"-", 10: b" T", 13: b":", 16: b":"}
_DIGITS = [i for i in range(19) if i not in _SEPARATORS]


def _lengths(text: pa.Array) -> np.ndarray:
    return np.asarray(pc.binary_length(text).to_numpy(zero_copy_only=False))


def _fixed_width_fields(text: pa.Array) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Of values that are all 19 bytes long: (which are 'YYYY-MM-DD HH:MM:SS', or with 'T'; their year, month,
    day, hour, minute, second, fraction ms and offset minutes)."""
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8,
                         count=19 * len(text), offset=text.offset * 19).reshape(-1, 19)
    digits = data - np.uint8(48)  # wraps round below '0', so one comparison checks a digit
    shaped = (digits[:, _DIGITS] <= 9).all(axis=1)
    for position, allowed in _SEPARATORS.items():
        column = data[:, position]
        shaped &= (column == allowed[0]) if len(allowed) == 1 else (column == allowed[0]) | (column == allowed[1])

    def number(first: int, width: int) -> np.ndarray:
        value = digits[:, first].astype(np.int64)
        for i in range(first + 1, first + width):
            value = value * 10 + digits[:, i]
        return value

    zero = np.zeros(len(data), dtype=np.int64)
    return np.asarray(shaped), (number(0, 4), number(5, 2), number(8, 2), number(11, 2), number(14, 2),
                                number(17, 2), zero, zero)


def _calendar_millis(parts: pa.StructArray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch ms, whether the date, time and offset exist) of regex-split values."""
    sign = np.where(np.asarray(parts.field("sign").to_numpy(zero_copy_only=False), dtype=object) == "-", -1, 1)
    offset_hours, offset_minutes = _field(parts, "oh"), _field(parts, "om")
    offset_ok = (offset_hours <= 23) & (offset_minutes <= 59)
    ms, possible = _utc_millis(_field(parts, "y"), _field(parts, "mo"), _field(parts, "d"), _field(parts, "h"),
                               _field(parts, "mi"), _field(parts, "s"), _fraction_millis(parts),
                               sign * (offset_hours * 60 + offset_minutes))
    return ms, possible & offset_ok


def _utc_millis(year: np.ndarray, month: np.ndarray, day: np.ndarray, hour: np.ndarray, minute: np.ndarray,
                second: np.ndarray, fraction_ms: np.ndarray,
                offset_minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(UTC epoch ms, whether the date and time exist) from local fields and the offset east of UTC."""
    valid_month = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_length = _DAYS_IN_MONTH[np.where(valid_month, month, 0)] + ((month == 2) & leap)
    possible = (valid_month & (day >= 1) & (day <= month_length) & (hour <= 23) & (minute <= 59)
                & (second <= 59))
    minutes = _days_from_civil(year, np.clip(month, 1, 12), day) * 1440 + hour * 60 + minute - offset_minutes
    return minutes * 60_000 + second * 1000 + fraction_ms, possible


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _ms(timestamp: pd.Timestamp) -> int:
    return int(timestamp.value // 1_000_000)
