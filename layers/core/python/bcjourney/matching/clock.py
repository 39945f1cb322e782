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

from .blocks import blocks_by_weight
from .candidates import positions_in_runs

MS = 1000
WINDOW_S = 3 * 3600 + 900  # reaches a partner writing local time up to 3 h off UTC
PEAK_S = 5  # how wide the true delays' peak is
APPLY_FROM_S = 3  # an offset this large or larger is a clock error, not the delay's own spread
MIN_PEAK_PAIRS = 30  # an estimate needs this many pairs in its peak ...
MIN_Z = 8.0  # ... standing this far above the background
SAMPLE = 20_000  # registrations per group used for the estimate (every k-th): enough for a sharp peak
# Pairs the histogram is made of, at most: on a busy day each registration brings more clicks of its country, so
# fewer registrations are sampled (every k-th of them) and the peak's z falls (measured on generated days: 128 at
# 1.1M clicks, 63 at 4.3M). A day of 25k clicks makes about 5M pairs, the real data far fewer: never thinned.
MAX_PAIRS = 200_000_000
# Lags counted at a time: memory follows the chunk, not the day, and its 1 MB arrays stay in cache
PAIRS_PER_CHUNK = 1 << 17
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
                    registration_country: np.ndarray, partner: str, day: str, max_pairs: int = MAX_PAIRS,
                    pairs_per_chunk: int = PAIRS_PER_CHUNK) -> ClockEstimate:
    """The offset of one group of registrations (one partner, one day); countries as ids, -1 missing."""
    known = np.flatnonzero(registration_country >= 0)
    if len(known) > SAMPLE:
        known = known[:: len(known) // SAMPLE + 1]
    if not len(known) or not len(click_ms):
        return ClockEstimate(partner, day, 0, 0, 0.0, 0.0, int(len(known)), False)
    order = np.lexsort((click_ms, click_country))
    keys = (click_country[order].astype(np.int64) << _COUNTRY_SHIFT) | click_ms[order]
    lo, hi = _window_of_each(keys, registration_country[known], registration_ms[known])
    thin = -(-int((hi - lo).sum()) // max_pairs)  # ceiling: 1 on any day within the budget
    if thin > 1:
        known = known[::thin]
        lo, hi = _window_of_each(keys, registration_country[known], registration_ms[known])
    histogram = lag_histogram(click_ms[order], registration_ms[known], lo, hi, pairs_per_chunk)
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


def _window_of_each(keys: np.ndarray, country: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per registration, the run [lo, hi) of the sorted (country, time) click keys of its country within WINDOW_S."""
    base = country.astype(np.int64) << _COUNTRY_SHIFT
    lo = np.searchsorted(keys, base | np.maximum(times - WINDOW_S * MS, 0), side="left")
    hi = np.searchsorted(keys, base | (times + WINDOW_S * MS), side="right")
    return lo, hi


def lag_histogram(sorted_click_ms: np.ndarray, registration_ms: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  pairs_per_chunk: int) -> np.ndarray:
    """Pairs per whole second of lag (registration - click, -WINDOW_S..WINDOW_S) over each registration's run of
    clicks, counted a chunk of registrations at a time (integer counts: the same however it is cut)."""
    counts = hi - lo
    histogram = np.zeros(2 * WINDOW_S + 1, dtype=np.int64)
    for rows in blocks_by_weight(counts, len(counts), pairs_per_chunk):
        at = positions_in_runs(lo[rows], counts[rows])
        lag_s = np.floor_divide(np.repeat(registration_ms[rows], counts[rows]) - sorted_click_ms[at], MS)
        histogram += np.bincount(lag_s + WINDOW_S, minlength=2 * WINDOW_S + 1)[: 2 * WINDOW_S + 1]
    return histogram
