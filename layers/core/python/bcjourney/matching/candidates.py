"""Candidate pairs, found by sorted search (blocking by time), so the cost grows with the number of pairs,
not clicks x registrations.

Near the registration every click is a candidate (a VPN user's click carries another country). Further
back only the nearest two clicks of the registration's own IP or residency country are: an unrelated country
that far away cannot earn a link, and enumerating every click of a busy hour would multiply the pairs by
twenty. The model still sees the whole window: `far_click_counts` counts the pairs left out.

Times are integer epoch milliseconds, so every window edge is exact: a click exactly 600 s before falls on
the same side of the edge whatever else was loaded with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

from .comparisons import DELAY

MS = 1000
# Country ids are packed above the time in one int64 key: epoch milliseconds stay below 2**42 (year 2109)
_COUNTRY_SHIFT = 42


@dataclass(frozen=True)
class Window:
    before_s: int = 600  # a click up to this long before the registration may explain it
    # slack for partner clocks running behind ours: the real data has 2 links at -1 s, 3 at -6..-10 s
    after_s: int = 2
    # delays below this: every click (a VPN user's click shows another country; the real data has 4 such links
    # at 6-10 s against 1,650 at 0-5 s); from it up to before_s: clicks of the same country only
    any_country_below_s: int = 6
    # how many of those same-country clicks, nearest first. The second nearest is the true one when a later click
    # of the same country came in between: with 30% of delays at 10-300 s (a partner stamping the completed
    # sign-up) it lifts recall from 0.958 to 0.974; on the plain case it moves 2 of 10,700 links (and 35 of the
    # real data's 60,800). The model is unchanged by it: far_click_counts counts every pair of the window anyway.
    nearest_same_country: int = 2


def country_keys(country: np.ndarray, times_ms: np.ndarray) -> np.ndarray:
    return (country.astype(np.int64) << _COUNTRY_SHIFT) + times_ms


def residency_unless_ip(ip_country: np.ndarray, residency_country: np.ndarray) -> np.ndarray:
    """The residency country where it differs from the IP country, else -1: its clicks are a group of their
    own only then (where both are the same, those clicks are the IP country's)."""
    return np.where(residency_country == ip_country, -1, residency_country)


def _count_of_country(index: "ClickIndex", country: np.ndarray, rows: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Clicks of each row's country at or before its time (`times` is per registration; `rows` picks them)."""
    return index.count_at_or_before(country, times[rows])


def positions_in_runs(starts: np.ndarray, counts: np.ndarray, dtype: Any = np.int64) -> np.ndarray:
    """Every position of the runs [start, start + count), run after run."""
    positions = np.arange(counts.sum(), dtype=dtype)
    positions -= np.repeat((np.cumsum(counts) - counts - starts).astype(dtype), counts)
    return positions


@dataclass
class Candidates:
    click: np.ndarray  # positions in the clicks
    registration: np.ndarray  # positions in the registrations
    delay_ms: np.ndarray  # registration time - click time
    n_near: int = 0  # candidate_pairs puts the near-window pairs first: this many

    @property
    def delay_s(self) -> np.ndarray:
        return self.delay_ms / MS


def window_pairs(click_times: np.ndarray, registration_times: np.ndarray, min_delay_ms: int,
                 max_delay_ms: int) -> Candidates:
    """Every (click, registration) with min_delay_ms <= registration - click <= max_delay_ms.

    `click_times` must be sorted; times are epoch milliseconds (int64); click positions are in sorted order.
    """
    lo = np.searchsorted(click_times, registration_times - max_delay_ms, side="left")
    hi = np.searchsorted(click_times, registration_times - min_delay_ms, side="right")
    counts = hi - lo
    # positions fit int32 (2 billion rows), which halves the memory traffic of every later pass
    registration = np.repeat(np.arange(len(registration_times), dtype=np.int32), counts)
    click = positions_in_runs(lo, counts, np.int32)
    delay = registration_times.take(registration)
    delay -= click_times.take(click)  # in place: fresh memory is what costs here
    return Candidates(click, registration, delay)


class ClickIndex:
    """Clicks sorted by time, and by (country, time), for the two kinds of search."""

    def __init__(self, click_times: np.ndarray, click_country: np.ndarray):
        self.click_times, self.click_country = click_times, click_country
        self.by_time = np.argsort(click_times, kind="stable").astype(np.int32)
        self.times = click_times[self.by_time]
        keys = country_keys(click_country, click_times)
        self.by_country = np.argsort(keys, kind="stable").astype(np.int32)
        self.country_keys = keys[self.by_country]

    def count_at_or_before(self, country: np.ndarray, times: np.ndarray) -> np.ndarray:
        """How many clicks of `country`, or of a smaller country id, happened at or before `times`."""
        return np.searchsorted(self.country_keys, country_keys(country, times), side="right")

    def count_all_at_or_before(self, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.times, times, side="right")


def near_pairs(index: ClickIndex, registration_times: np.ndarray, window: Window) -> Candidates:
    """Every click with delay in [-after_s, any_country_below_s), registration by registration, clicks in time
    order."""
    near = window_pairs(index.times, registration_times, -window.after_s * MS, window.any_country_below_s * MS - 1)
    return Candidates(index.by_time[near.click], near.registration, near.delay_ms)


def far_kinds(window: Window) -> list[tuple[str, int]]:
    """The far candidates' kinds, in the order candidate_pairs lists them: (country group, k-th nearest)."""
    return [(group, k) for group in ("ip", "residency") for k in range(1, window.nearest_same_country + 1)]


def far_pairs(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
              residency_country: np.ndarray, window: Window, kind: tuple[str, int]) -> Candidates:
    """One kind of far candidate: the k-th nearest click of the IP (or the residency) country with delay in
    [any_country_below_s, before_s], at most one per registration, in registration order."""
    group, k = kind
    country = ip_country if group == "ip" else residency_unless_ip(ip_country, residency_country)
    has = np.flatnonzero(country >= 0).astype(np.int32)
    # clicks of that country at least any_country_below_s earlier: the last ones before this position
    position = index.count_at_or_before(country[has], registration_times[has] - window.any_country_below_s * MS) - k
    ok = position >= 0
    reg, position = has[ok], position[ok]
    click = index.by_country[position]
    delay = registration_times[reg] - index.click_times[click]
    keep = (index.click_country[click] == country[reg]) & (delay <= window.before_s * MS)
    return Candidates(click[keep], reg[keep], delay[keep])


def candidate_pairs(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                    residency_country: np.ndarray, window: Window) -> Candidates:
    """Every click with delay in [-after_s, any_country_below_s), plus the nearest same-country clicks (IP,
    then residency where it differs) with delay in [any_country_below_s, before_s]. Countries are integer
    ids, -1 where missing; times epoch milliseconds. (The linker never holds them all: it counts the near
    part and lists only the pairs that may link; this is the whole list, for tests and notebooks.)"""
    near = near_pairs(index, registration_times, window)
    parts = [near] + [far_pairs(index, registration_times, ip_country, residency_country, window, kind)
                      for kind in far_kinds(window)]
    return Candidates(np.concatenate([p.click for p in parts]), np.concatenate([p.registration for p in parts]),
                      np.concatenate([p.delay_ms for p in parts]), n_near=len(near.click))


def far_bounds_ms(window: Window) -> np.ndarray:
    """Delay bounds of the far bins (those from any_country_below_s on; the last one ends at before_s)."""
    edges = [int(e) for e in DELAY.edges[1:] if window.any_country_below_s <= e <= window.before_s]
    if not edges or edges[0] != window.any_country_below_s:
        raise ValueError("any_country_below_s must be one of the delay bin edges")
    # a bin [a, b) of whole seconds holds delays a*1000 .. b*1000-1 ms; the last one ends at before_s
    return np.append(np.array(edges, dtype=np.int64) * MS, window.before_s * MS + 1)  # up to before_s exactly


def far_click_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                     residency_country: np.ndarray, window: Window) -> dict[str, np.ndarray]:
    """Per registration and far delay bin: how many clicks of the whole window fall there, how many of them
    are of the IP country, of the residency country (where it differs from the IP), and of no known country.

    Returns arrays of shape (registrations, far bins); the far bins are those from any_country_below_s on.
    """
    return window_click_counts(index, registration_times, ip_country, residency_country, far_bounds_ms(window))


def per_bin(at_or_before: Callable[[np.ndarray], np.ndarray], times: np.ndarray, bounds_ms: np.ndarray) -> np.ndarray:
    """(rows, bins): clicks with delay in [lo, next lo), i.e. time in (t - next lo, t - lo]; each bound searched
    once."""
    at = [at_or_before(times - bound) for bound in bounds_ms]
    return np.stack([at[i] - at[i + 1] for i in range(len(bounds_ms) - 1)], axis=1)


def window_click_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                        residency_country: np.ndarray, bounds_ms: np.ndarray) -> dict[str, np.ndarray]:
    """Per registration and delay bin (bin i: delays in [bounds[i], bounds[i + 1]) ms): how many clicks fall
    there ("total"), how many of them are of the IP country, of the residency country (where it differs from the
    IP), and of no known country."""
    total = per_bin(index.count_all_at_or_before, registration_times, bounds_ms)
    # clicks with no country have the id -1, whose keys sort below every country's
    result = {"total": total, "no_country": per_bin(lambda t: index.count_at_or_before(np.full(len(t), -1), t),
                                                    registration_times, bounds_ms)}
    other_residency = residency_unless_ip(ip_country, residency_country)
    for name, country in (("ip", ip_country), ("residency", other_residency)):
        counts = np.zeros_like(total)
        has = np.flatnonzero(country >= 0)
        # searching in key order walks the click keys once instead of jumping between countries
        has = has[np.argsort(country_keys(country[has], registration_times[has]), kind="stable")]
        if len(has):
            counts[has] = per_bin(partial(_count_of_country, index, country[has], has), registration_times,
                                  bounds_ms)
        result[name] = counts
    return result
