"""The window of every registration and every click counted by delay bin and country, block by block, so that
no list of every candidate pair is ever made: the pattern counts and the rivals' summed odds cost clicks +
registrations, in memory that follows the block. Only the pairs that may link (eligible) are listed, block by
block, and of those only each registration's strongest (assign.MAX_CONTENDERS): on a busy day cross-country pairs
of 0-3 s stay eligible and grow with the square of the density, so without that cap the assignment's input would.

Counts are integers found by sorted search, so they are the same whichever block a row falls in; sums of
floats over them are taken per row in a fixed order (bin by bin, group by group), never across rows, so a
row's sum does not depend on its neighbours in the block either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .assign import MAX_CONTENDERS, order_of, strongest_per_registration
from .candidates import (
    MS,
    Candidates,
    ClickIndex,
    Window,
    country_keys,
    positions_in_runs,
    residency_unless_ip,
    window_click_counts,
    window_pairs,
)
from .comparisons import AGREE, COUNTRY, DELAY, DISAGREE, MISSING, PATTERNS

N_PATTERNS = PATTERNS.size

# Rows per block: large enough that numpy's per-call cost vanishes, small enough that the (rows x bins) counts of
# a block stay at tens of MB
BLOCK_ROWS = 1 << 17
# Near pairs listed at a time, at most (counted as every near click of every country, an upper bound on what
# eligible_near_pairs lists): on a busy day a block of registrations is cut shorter, so the listing's memory stays
# at a few hundred MB whatever the density
NEAR_PAIRS_PER_BLOCK = 1 << 22

GROUPS = ("ip", "residency", "no_country", "other")  # the clicks of a registration's window, by country


@dataclass
class CellPairs:
    click: np.ndarray
    registration: np.ndarray
    cell: np.ndarray  # registration day x comparison pattern

    @classmethod
    def concatenate(cls, parts: list["CellPairs"]) -> "CellPairs":
        # positions and cells fit int32, as the candidates' do: half the memory of the assignment's columns
        empty = np.zeros(0, dtype=np.int32)
        return cls(*(np.concatenate([empty] + [getattr(p, name) for p in parts]).astype(np.int32)
                     for name in ("click", "registration", "cell")))


def blocks(n: int, size: int = BLOCK_ROWS) -> Iterator[slice]:
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + size))


def blocks_by_weight(weights: np.ndarray, max_rows: int, max_weight: int) -> Iterator[slice]:
    """Runs of consecutive rows, each of at most `max_rows` rows and at most `max_weight` summed weight (a row
    heavier than that alone is a run of its own)."""
    ends = np.cumsum(weights)
    start = 0
    while start < len(weights):
        before = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, before + max_weight, side="right")))
        stop = min(len(weights), start + max(1, max_rows), stop)
        yield slice(start, stop)
        start = stop


def near_click_counts(index: ClickIndex, registration_times: np.ndarray, window: Window) -> np.ndarray:
    """Per registration, the clicks of every country in its near window: at most the pairs a block of them lists."""
    return (np.searchsorted(index.times, registration_times + window.after_s * MS, side="right")
            - np.searchsorted(index.times, registration_times - window.any_country_below_s * MS, side="right"))


def window_bounds_ms(window: Window) -> np.ndarray:
    """Delay bounds of the whole window's bins: bin i holds delays in [bounds[i], bounds[i + 1]) ms; bin i is
    DELAY's bin i (the first one, 'before_click', starts at -after_s; the last ends at before_s exactly)."""
    edges = [int(e) * MS for e in DELAY.edges[1:] if e <= window.before_s]
    return np.array([-window.after_s * MS, *edges, window.before_s * MS + 1], dtype=np.int64)


def n_near_bins(window: Window) -> int:
    """The bins below any_country_below_s, where every click is a candidate."""
    return int(np.searchsorted(DELAY.edges[1:], window.any_country_below_s)) + 1


def group_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                 residency_country: np.ndarray, bounds_ms: np.ndarray) -> dict[str, np.ndarray]:
    """The same split into the four GROUPS, which partition the window: "other" is a known country that is
    neither the IP nor the residency one."""
    found = window_click_counts(index, registration_times, ip_country, residency_country, bounds_ms)
    found["other"] = found["total"] - found["ip"] - found["residency"] - found["no_country"]
    return {group: found[group] for group in GROUPS}


def group_levels(ip_country: np.ndarray, residency_country: np.ndarray) -> dict[str, np.ndarray]:
    """The country level (COUNTRY.encode) a click of each group has with each registration."""
    ip_ok, res_ok = ip_country >= 0, residency_country >= 0
    ip_otherwise = np.where(ip_ok, DISAGREE, MISSING)
    res_otherwise = np.where(res_ok, DISAGREE, MISSING)
    res_for_ip_click = np.where(res_ok, np.where(residency_country == ip_country, AGREE, DISAGREE), MISSING)
    return {"ip": COUNTRY.level(AGREE, res_for_ip_click), "residency": COUNTRY.level(ip_otherwise, AGREE),
            "no_country": np.full(len(ip_country), COUNTRY.level(MISSING, MISSING)),  # as COUNTRY.encode says
            "other": COUNTRY.level(ip_otherwise, res_otherwise)}


class RegistrationIndex:
    """Registrations sorted by time within the sets that tell a click's country level with them: by IP country,
    by residency, by both, and those missing one or both, each keyed (country, time) or by time alone."""

    def __init__(self, times: np.ndarray, ip_country: np.ndarray, residency_country: np.ndarray):
        ip_ok, res_ok = ip_country >= 0, residency_country >= 0
        keyed = {"ip": (ip_ok, ip_country), "res": (res_ok, residency_country),
                 "both": (ip_ok & (residency_country == ip_country), ip_country),
                 "ip_res_missing": (ip_ok & ~res_ok, ip_country),
                 "res_ip_missing": (res_ok & ~ip_ok, residency_country)}
        self.keys = {name: np.sort(country_keys(country[rows], times[rows]))
                     for name, (rows, country) in keyed.items()}
        timed = {"all": np.ones(len(times), dtype=bool), "ip_missing": ~ip_ok, "res_missing": ~res_ok,
                 "both_missing": ~ip_ok & ~res_ok}
        self.times = {name: np.sort(times[rows]) for name, rows in timed.items()}

    def level_counts(self, click_times: np.ndarray, click_country: np.ndarray, bounds_ms: np.ndarray,
                     day_ms: tuple[int, int]) -> np.ndarray:
        """(clicks, bins, country levels): registrations of the day [start, end) ms whose delay after each click
        falls in each bin [bounds[i], bounds[i + 1])."""
        start, end = day_ms
        # registration time in [t + lo, t + hi - 1]: searched at or before t + bound - 1, kept within the day
        queries = [np.clip(click_times + bound - 1, start - 1, end - 1) for bound in bounds_ms]
        n, n_bins = len(click_times), len(bounds_ms) - 1

        def timed(name: str) -> np.ndarray:
            at = [np.searchsorted(self.times[name], q, side="right") for q in queries]
            return np.stack([at[i + 1] - at[i] for i in range(n_bins)], axis=1)

        has = np.flatnonzero(click_country >= 0)
        has = has[np.argsort(country_keys(click_country[has], click_times[has]), kind="stable")]

        def keyed(name: str) -> np.ndarray:
            out = np.zeros((n, n_bins), dtype=np.int64)
            at = [np.searchsorted(self.keys[name], country_keys(click_country[has], q[has]), side="right")
                  for q in queries]
            out[has] = np.stack([at[i + 1] - at[i] for i in range(n_bins)], axis=1)
            return out

        ip, res, both, ip_res_missing, res_ip_missing = (keyed(name) for name in self.keys)
        total, ip_missing, res_missing, both_missing = (timed(name) for name in self.times)
        counts = np.zeros((n, n_bins, COUNTRY.n_levels), dtype=np.int64)
        level = COUNTRY.level
        counts[:, :, level(AGREE, AGREE)] = both
        counts[:, :, level(AGREE, MISSING)] = ip_res_missing
        counts[:, :, level(AGREE, DISAGREE)] = ip - both - ip_res_missing
        counts[:, :, level(MISSING, AGREE)] = res_ip_missing
        counts[:, :, level(MISSING, MISSING)] = both_missing
        counts[:, :, level(MISSING, DISAGREE)] = ip_missing - res_ip_missing - both_missing
        counts[:, :, level(DISAGREE, AGREE)] = res - both - res_ip_missing
        counts[:, :, level(DISAGREE, MISSING)] = res_missing - ip_res_missing - both_missing
        counts[:, :, level(DISAGREE, DISAGREE)] = total - counts.sum(axis=2)
        # a click with no country is MISSING against every registration
        no_country = click_country < 0
        counts[no_country] = 0
        counts[no_country, :, level(MISSING, MISSING)] = total[no_country]
        return counts


def window_pattern_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                          residency_country: np.ndarray, day_of_registration: np.ndarray, n_days: int,
                          bounds_ms: np.ndarray, first_bin: int = 0) -> np.ndarray:
    """Pattern counts (day x pattern, flattened) of every pair whose delay falls in the bins of `bounds_ms`
    (the first of them DELAY's bin `first_bin`), of one block of registrations. Integers held in float64, so
    adding the blocks' counts up is exact in any order."""
    counts = group_counts(index, registration_times, ip_country, residency_country, bounds_ms)
    levels = group_levels(ip_country, residency_country)
    out = np.zeros(n_days * N_PATTERNS)
    for group in GROUPS:
        for b in range(len(bounds_ms) - 1):
            code = day_of_registration * N_PATTERNS + PATTERNS.code(delay=first_bin + b, country=levels[group])
            out += np.bincount(code, weights=counts[group][:, b], minlength=n_days * N_PATTERNS)
    return out


def pair_cells(index: ClickIndex, pairs: Candidates, day_of_registration: np.ndarray, ip_country: np.ndarray,
               residency_country: np.ndarray) -> np.ndarray:
    """The cell (registration day x comparison pattern) of each pair: what its score is looked up by."""
    registration = pairs.registration
    pattern = PATTERNS.code(delay=DELAY.encode(pairs.delay_ms),
                            country=COUNTRY.encode(index.click_country[pairs.click], ip_country[registration],
                                                   residency_country[registration]))
    return day_of_registration[registration].astype(np.int64) * N_PATTERNS + pattern


def near_odds_sums(counts: dict[str, np.ndarray], levels: dict[str, np.ndarray], day: np.ndarray,
                   odds_by_cell: np.ndarray) -> np.ndarray:
    """Per registration: the summed odds of its near pairs, from its counts, bin by bin and group by group."""
    total = np.zeros(len(day))
    base = day.astype(np.int64) * N_PATTERNS
    for b in range(next(iter(counts.values())).shape[1]):
        for group in GROUPS:
            total += counts[group][:, b] * odds_by_cell[base + PATTERNS.code(delay=b, country=levels[group])]
    return total


def eligible_near_pairs(index: ClickIndex, rank_of_click: np.ndarray, registration_times: np.ndarray,
                        ip_country: np.ndarray, residency_country: np.ndarray, day: np.ndarray,
                        eligible_by_cell: np.ndarray, window: Window, log_odds_by_cell: np.ndarray,
                        counts: dict[str, np.ndarray]) -> CellPairs:
    """The near pairs of one block of registrations whose cell may link and that can be among the registration's
    MAX_CONTENDERS strongest, registration by registration, clicks in time order (the order candidate_pairs gives
    them). `counts`: the block's group_counts over the near bins, which tell which (bin, group) cells can hold
    such a pair (strongest_cells) before any is listed. The clicks of the registration's IP and residency
    countries are found by country, the others by time, each only over the span of bins wanted: on a busy day
    most of the near window's clicks are never listed."""
    n_bins = n_near_bins(window)
    bounds = window_bounds_ms(window)[:n_bins + 1]
    levels = group_levels(ip_country, residency_country)
    wanted = strongest_cells(counts, levels, day, eligible_by_cell, log_odds_by_cell, MAX_CONTENDERS)
    parts = []
    for group, country in (("ip", ip_country), ("residency", residency_unless_ip(ip_country, residency_country))):
        for rows, min_delay_ms, max_delay_ms in spans(wanted[group] & (country >= 0)[:, None], bounds):
            parts.append(pairs_of_country_between(index, registration_times, country, rows, min_delay_ms,
                                                  max_delay_ms))
    for rows, min_delay_ms, max_delay_ms in spans(wanted["other"] | wanted["no_country"], bounds):
        parts.append(other_country_pairs_between(index, registration_times, ip_country, residency_country, rows,
                                                 min_delay_ms, max_delay_ms))
    empty = np.zeros(0, dtype=np.int32)
    pairs = Candidates(np.concatenate([empty] + [p.click for p in parts]),
                       np.concatenate([empty] + [p.registration for p in parts]),
                       np.concatenate([empty.astype(np.int64)] + [p.delay_ms for p in parts]))
    cell = pair_cells(index, pairs, day, ip_country, residency_country)
    keep = np.flatnonzero(eligible_by_cell[cell])
    # each registration's strongest near pairs only: the assignment takes at most MAX_CONTENDERS of all its pairs,
    # so one not among its strongest near pairs can never be among them; memory stays with the block
    keep = strongest_per_registration(keep, pairs.registration, rank_of_click[pairs.click], log_odds_by_cell[cell],
                                      MAX_CONTENDERS)
    keep = keep[order_of(pairs.registration[keep], rank_of_click[pairs.click[keep]])]
    return CellPairs(pairs.click[keep], pairs.registration[keep], cell[keep])



def strongest_cells(counts: dict[str, np.ndarray], levels: dict[str, np.ndarray], day: np.ndarray,
                    eligible_by_cell: np.ndarray, log_odds_by_cell: np.ndarray, limit: int) -> dict[str, np.ndarray]:
    """Per group, registration x near bin: the eligible cells at least as strong as the one in which the
    registration's eligible near pairs, counted strongest cell first, reach `limit`. A pair of a weaker cell has
    `limit` pairs ranked before it, so it can never be among the strongest; every cell is wanted where the
    eligible pairs are fewer."""
    n, n_bins = len(day), next(iter(counts.values())).shape[1]
    cells = np.stack([day.astype(np.int64)[:, None] * N_PATTERNS
                      + PATTERNS.code(delay=np.arange(n_bins)[None, :], country=levels[group][:, None])
                      for group in GROUPS], axis=2)  # registration x bin x group
    wanted = eligible_by_cell[cells]
    n_pairs = np.where(wanted, np.stack([counts[group] for group in GROUPS], axis=2), 0).reshape(n, -1)
    # only a registration with more eligible pairs than the limit has cells to leave out: the others keep them all
    crowded = np.flatnonzero(n_pairs.sum(axis=1) > limit)
    if not len(crowded):
        return {group: wanted[:, :, g] for g, group in enumerate(GROUPS)}
    strength = np.where(wanted[crowded], log_odds_by_cell[cells[crowded]], -np.inf).reshape(len(crowded), -1)
    order = np.argsort(-strength, axis=1, kind="stable")
    reached = np.cumsum(np.take_along_axis(n_pairs[crowded], order, axis=1), axis=1) >= limit
    at = np.argmax(reached, axis=1)[:, None]
    threshold = np.take_along_axis(np.take_along_axis(strength, order, axis=1), at, axis=1)
    wanted[crowded] &= (strength >= threshold).reshape(len(crowded), *wanted.shape[1:])
    return {group: wanted[:, :, g] for g, group in enumerate(GROUPS)}


def spans(bins_wanted: np.ndarray, bounds_ms: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
    """The registrations that want some bin (`bins_wanted`: registration x bin), grouped by the span from their
    first to their last wanted bin: (rows, min delay, max delay), the delays in ms and inclusive."""
    wanted = bins_wanted.any(axis=1)
    first = np.argmax(bins_wanted, axis=1)
    last = bins_wanted.shape[1] - 1 - np.argmax(bins_wanted[:, ::-1], axis=1)
    for lo, hi in sorted(set(zip(first[wanted].tolist(), last[wanted].tolist()))):
        rows = np.flatnonzero(wanted & (first == lo) & (last == hi)).astype(np.int32)
        yield rows, int(bounds_ms[lo]), int(bounds_ms[hi + 1]) - 1


def pairs_of_country_between(index: ClickIndex, registration_times: np.ndarray, country: np.ndarray,
                             rows: np.ndarray, min_delay_ms: int, max_delay_ms: int) -> Candidates:
    """The pairs of the registrations `rows` with the clicks of `country` (each row's own, >= 0) whose delay is
    within [min_delay_ms, max_delay_ms], found in the (country, time) order."""
    keys = country_keys(country[rows], registration_times[rows])
    lo = np.searchsorted(index.country_keys, keys - max_delay_ms, side="left")
    hi = np.searchsorted(index.country_keys, keys - min_delay_ms, side="right")
    click = index.by_country[positions_in_runs(lo, hi - lo, np.int32)]
    registration = np.repeat(rows, hi - lo)
    return Candidates(click, registration, registration_times[registration] - index.click_times[click])


def other_country_pairs_between(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                                residency_country: np.ndarray, rows: np.ndarray, min_delay_ms: int,
                                max_delay_ms: int) -> Candidates:
    """The pairs of the registrations `rows` with the clicks of neither their IP nor their residency country (or
    of none) whose delay is within [min_delay_ms, max_delay_ms], found in time order."""
    found = window_pairs(index.times, registration_times[rows], min_delay_ms, max_delay_ms)
    click, registration = index.by_time[found.click], rows[found.registration]
    country = index.click_country[click]
    keep = (country < 0) | ((country != ip_country[registration]) & (country != residency_country[registration]))
    return Candidates(click[keep], registration[keep], found.delay_ms[keep])
