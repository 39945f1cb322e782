"""A partner's clock against ours, learned from the data: the lag at which registrations follow clicks of their
own country most often.

True pairs pile up in the first seconds after a click (real data: half within 1 s, most within 5 s); every other
click of the country is spread evenly around the registration. So the histogram of (registration time - click
time) over clicks of the registration's IP country has a sharp peak, at 0 s for a partner whose clock is ours and
at +30 s for one 30 s fast. The estimate is the start of the busiest PEAK_S-second window of that histogram, per
partner and registration day, with a z-score against the histogram's background; a whole number of hours is a
partner writing local time (declare its time zone in its profile, bcjourney.partners)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .candidates import positions_in_runs

MS = 1000
WINDOW_S = 3 * 3600 + 900  # reaches a partner writing local time up to 3 h off UTC
PEAK_S = 5  # how wide the true delays' peak is
APPLY_FROM_S = 3  # an offset this large or larger is a clock error, not the delay's own spread
MIN_PEAK_PAIRS = 30  # an estimate needs this many pairs in its peak ...
MIN_Z = 8.0  # ... standing this far above the background
SAMPLE = 20_000  # registrations per group used for the estimate (every k-th): enough for a sharp peak
_COUNTRY_SHIFT = 42  # keys = country << 42 | epoch ms: ms stay below 2**42 until the year 2109


@dataclass(frozen=True)
class ClockEstimate:
    partner: str
    day: str
    offset_s: int  # the partner's clock minus ours (positive: fast)
    peak_pairs: int
    background_pairs: float  # per PEAK_S-second window, the median over the histogram
    z: float
    registrations: int  # with an IP country, used for the estimate
    found: bool  # well determined and at least APPLY_FROM_S
    applied: bool = False
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def estimate_offset(click_ms: np.ndarray, click_country: np.ndarray, registration_ms: np.ndarray,
                    registration_country: np.ndarray, partner: str, day: str) -> ClockEstimate:
    """The offset of one group of registrations (one partner, one day); countries as ids, -1 missing."""
    known = np.flatnonzero(registration_country >= 0)
    if len(known) > SAMPLE:
        known = known[:: len(known) // SAMPLE + 1]
    if not len(known) or not len(click_ms):
        return ClockEstimate(partner, day, 0, 0, 0.0, 0.0, int(len(known)), False)
    order = np.lexsort((click_ms, click_country))
    keys = (click_country[order].astype(np.int64) << _COUNTRY_SHIFT) | click_ms[order]
    base = registration_country[known].astype(np.int64) << _COUNTRY_SHIFT
    times = registration_ms[known]
    lo = np.searchsorted(keys, base | np.maximum(times - WINDOW_S * MS, 0), side="left")
    hi = np.searchsorted(keys, base | (times + WINDOW_S * MS), side="right")
    counts = hi - lo
    clicks_at = positions_in_runs(lo, counts)
    lag_s = np.floor_divide(np.repeat(times, counts) - (keys[clicks_at] & ((1 << _COUNTRY_SHIFT) - 1)), MS)
    histogram = np.bincount(lag_s + WINDOW_S, minlength=2 * WINDOW_S + 1)[: 2 * WINDOW_S + 1]
    windows = np.convolve(histogram, np.ones(PEAK_S, dtype=np.int64), mode="valid")
    start = int(np.argmax(windows))
    peak = int(windows[start])
    background = float(np.median(windows))
    z = (peak - background) / np.sqrt(background + 1.0)
    offset = start - WINDOW_S
    found = peak >= MIN_PEAK_PAIRS and z >= MIN_Z and abs(offset) >= APPLY_FROM_S
    note = ""
    if found and abs(offset) >= 3000 and min(abs(offset) % 3600, 3600 - abs(offset) % 3600) <= 120:
        hours = round(offset / 3600)
        note = (f"{partner}'s clock is {hours:+d} h off on {day}: it writes local time; declare its time zone in "
                f"its profile (bcjourney/partners/{partner}.toml)")
    return ClockEstimate(partner, day, offset, peak, round(background, 2), round(float(z), 1),
                         int(len(known)), found, note=note)
