"""One-to-one assignment of clicks to registrations, and the confidence of each link.

Greedy by descending score: on this problem (sparse clicks, 0-5 s delays) it matches the optimal
assignment almost everywhere; the test suite measures its loss against scipy's linear_sum_assignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .candidates import positions_in_runs

# Pairs this unlikely neither link nor compete (their odds, summed over hundreds of rivals, stay < 1e-4)
NEGLIGIBLE_LOG_ODDS = -16.0
# The eligible pairs a registration brings to the assignment, its strongest first. Eligible pairs grow with the square
# of a day's density (every click of the first seconds, any country, may be a VPN user's): 19 a registration at
# 250k clicks a day, 52 at 1M, against at most 12 on the real data and 8 on the demo, where this never binds. The
# others still count whole as rivals in the confidence; only their chance of a link of last resort is given up.
MAX_CONTENDERS = 16


@dataclass(frozen=True)
class CellTables:
    """Everything per pair that depends only on its cell (its registration day and comparison pattern)."""
    log_odds: np.ndarray
    odds: np.ndarray  # posterior odds r of the link, 0 where negligible
    no_link: np.ndarray  # odds of 'no click explains this registration'
    standalone: np.ndarray  # r / (no-link odds + r)
    eligible: np.ndarray  # standalone >= min_confidence: the pair may link

    @classmethod
    def of(cls, log_odds_by_cell: np.ndarray, share_explained_by_cell: np.ndarray,
           min_confidence: float) -> "CellTables":
        odds = np.where(log_odds_by_cell > NEGLIGIBLE_LOG_ODDS, np.exp(np.minimum(log_odds_by_cell, 50.0)), 0.0)
        no_link = (1 - share_explained_by_cell) / share_explained_by_cell
        standalone = odds / (no_link + odds)
        return cls(log_odds_by_cell, odds, no_link, standalone, standalone >= min_confidence)


@dataclass
class ContestedPairs:
    """The pairs that may link, as columns (the linker's, a day's worth: tens of millions on a busy day, so only
    what no cell table gives): each pair's cell, its contested confidence and its weak rivals' odds."""
    click: np.ndarray
    registration: np.ndarray
    cell: np.ndarray
    confidence: np.ndarray
    weak_rivals: np.ndarray


def eligible_pairs(click: np.ndarray, registration: np.ndarray, cell: np.ndarray, log_odds_by_cell: np.ndarray,
                   share_explained_by_cell: np.ndarray, min_confidence: float) -> pd.DataFrame:
    """The pairs that may link, with their (standalone, contested) probability of being the link, from every
    candidate pair (the linker itself counts the rivals instead of listing them: see eligible_frame).

    A pair's score depends only on its cell (its registration day and comparison pattern), so everything
    per pair is looked up in small per-cell tables. Each candidate's posterior odds r (from the model)
    compete with 'no click explains this registration', whose odds are (1 - share_explained) /
    share_explained. Standalone: r / (no-link odds + r), as if the pair had no rivals: it decides whether a
    link is worth making. Contested: r / (no-link odds + the r of every candidate of its registration + of
    every other candidate of its click): the confidence reported, lower where clicks and registrations
    collide in the same seconds.
    """
    tables = CellTables.of(log_odds_by_cell, share_explained_by_cell, min_confidence)
    odds = tables.odds[cell]
    rivals_of_registration = summed_by(registration, odds)
    rivals_of_click = summed_by(click, odds)
    chosen = np.flatnonzero(tables.eligible[cell])
    chosen = strongest_per_registration(chosen, registration, click, tables.log_odds[cell], MAX_CONTENDERS)
    return eligible_frame(click[chosen], registration[chosen], cell[chosen], tables, rivals_of_registration,
                          rivals_of_click)


def eligible_frame(click: np.ndarray, registration: np.ndarray, cell: np.ndarray, tables: CellTables,
                   rivals_of_registration: np.ndarray, rivals_of_click: np.ndarray) -> pd.DataFrame:
    """The eligible pairs' frame, given the summed odds of every candidate of each registration and of each
    click (the pair's own included)."""
    confidence, weak_rivals = contested(click, registration, cell, tables, rivals_of_registration, rivals_of_click)
    return pd.DataFrame({"click": click, "registration": registration, "cell": cell,
                         "log_odds": tables.log_odds[cell], "standalone": tables.standalone[cell],
                         "confidence": confidence, "odds": tables.odds[cell], "no_link": tables.no_link[cell],
                         "weak_rivals": weak_rivals},
                        copy=False)  # fresh arrays, nobody else's: no need to copy them into one block


def contested(click: np.ndarray, registration: np.ndarray, cell: np.ndarray, tables: CellTables,
              rivals_of_registration: np.ndarray, rivals_of_click: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each eligible pair's contested confidence, and its weak rivals' odds: the odds of its registration's and its
    click's candidates that no other eligible pair carries (they stay whole in explain_away)."""
    # worked in place (each the same sum, in the same order, as written out): a busy day has tens of millions of
    # pairs, and every temporary column would be another half GB
    odds = tables.odds[cell]
    rivals = rivals_of_registration[registration]
    rivals += rivals_of_click[click]
    rivals -= odds
    weak_rivals = summed_by(registration, odds)[registration]
    weak_rivals += summed_by(click, odds)[click]
    weak_rivals -= odds
    np.subtract(rivals, weak_rivals, out=weak_rivals)
    confidence = np.add(tables.no_link[cell], rivals, out=rivals)
    np.divide(odds, confidence, out=confidence)
    return confidence, weak_rivals


def summed_by(positions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weights summed per position, as floats even when there are none (np.bincount then gives int64)."""
    return np.bincount(positions, weights=weights).astype(np.float64, copy=False)


def strongest_per_registration(chosen: np.ndarray, registration: np.ndarray, click: np.ndarray,
                               log_odds: np.ndarray, limit: int) -> np.ndarray:
    """The positions of `chosen` (ascending) keeping, for each registration, its `limit` strongest pairs (ties: the
    earlier click); untouched, at no cost, when no registration has more."""
    counts = np.bincount(registration[chosen])
    if counts.max(initial=0) <= limit:
        return chosen
    crowded = counts[registration[chosen]] > limit
    many = chosen[crowded]
    strength, _ = pd.factorize(-log_odds[many], sort=True)  # few distinct values: a rank packs into a key
    many = many[order_of(registration[many], strength, click[many])]
    first = np.flatnonzero(np.r_[True, registration[many][1:] != registration[many][:-1]])
    rank = np.arange(len(many)) - np.repeat(first, np.diff(np.r_[first, len(many)]))
    return np.sort(np.concatenate([chosen[~crowded], many[rank < limit]]))


def position_dtype(n: int) -> np.dtype:
    """The narrowest of int32 and int64 holding positions below n: half the memory of a day's pair positions."""
    return np.dtype(np.int32 if n < 2**31 else np.int64)


def greedy_one_to_one(pairs: pd.DataFrame, min_confidence: float) -> pd.DataFrame:
    """Take pairs best-first; a click or a registration already linked is skipped.

    Ties (a burst of same-country clicks and registrations in one second) resolve in time order: the
    earlier click goes with the earlier registration, which is how such bursts happen.

    Vectorised as rounds of mutual best choices, with no sort: a pair that is the best remaining one of both
    its click and its registration is exactly the pair the sequential greedy would take, since no better
    pair competes with it. Each round links those, drops the pairs they exclude, and repeats.
    """
    may_link = pairs["standalone"].to_numpy() >= min_confidence
    eligible = pairs if may_link.all() else pairs[may_link]
    if not len(eligible):
        return eligible
    return eligible[greedy_links(eligible["click"].to_numpy(), eligible["registration"].to_numpy(),
                                 eligible["log_odds"].to_numpy())]


def greedy_links(clicks: np.ndarray, registrations: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """greedy_one_to_one on the columns of pairs that may all link: a mask of the pairs it takes."""
    n = len(clicks)
    keep = np.zeros(n, dtype=bool)
    if not n:
        return keep
    key = _greedy_order_key(log_odds, registrations, clicks)
    best_of_click = np.empty(int(clicks.max()) + 1, dtype=np.int64)
    best_of_registration = np.empty(int(registrations.max()) + 1, dtype=np.int64)
    taken_click = np.zeros(len(best_of_click), dtype=bool)
    taken_registration = np.zeros(len(best_of_registration), dtype=bool)
    alive = np.arange(n, dtype=position_dtype(n))
    while len(alive):
        # in the first round every pair is alive: the columns themselves, not copies of a day's pairs
        c, r, k = (clicks, registrations, key) if len(alive) == n else (clicks[alive], registrations[alive],
                                                                         key[alive])
        best_of_click[c] = np.iinfo(np.int64).max
        best_of_registration[r] = np.iinfo(np.int64).max
        np.minimum.at(best_of_click, c, k)
        np.minimum.at(best_of_registration, r, k)
        mutual = (best_of_click[c] == k) & (best_of_registration[r] == k)
        keep[alive[mutual]] = True
        taken_click[c[mutual]] = True
        taken_registration[r[mutual]] = True
        alive = alive[~taken_click[c] & ~taken_registration[r]]
    return keep


class _RowsBy:
    """The rows of each value of a column, for looking up the rows of a few values without a full scan."""

    def __init__(self, values: np.ndarray, rows: np.ndarray):
        order = np.argsort(values, kind="stable").astype(position_dtype(len(values)))
        self.values, self.rows = values[order], rows[order]

    def rows_of(self, wanted: np.ndarray) -> np.ndarray:
        lo, hi = np.searchsorted(self.values, wanted, "left"), np.searchsorted(self.values, wanted, "right")
        return self.rows[positions_in_runs(lo, hi - lo)]


def packed_key(*columns: np.ndarray) -> np.ndarray | None:
    """One int64 per row that orders the rows as the columns do, first column first (non-negative integers);
    None when their ranges do not fit in 63 bits together."""
    sizes = [int(c.max(initial=0)) + 1 for c in columns]
    if np.prod(np.array(sizes, dtype=float)) >= 2**63:
        return None
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column, size in zip(columns, sizes):
        key *= size
        key += column
    return key


def order_of(*columns: np.ndarray) -> np.ndarray:
    """The rows' order by the columns, first column first, for rows that no two columns' values repeat (pairs of
    a registration and a click): one sort of a packed key, a third of what a lexsort of three keys costs."""
    key = packed_key(*columns)
    return np.lexsort(columns[::-1]) if key is None else np.argsort(key)


def _greedy_order_key(log_odds: np.ndarray, registrations: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """One int64 per pair, ascending in greedy order: higher log-odds first, then earlier registration, then
    earlier click. The log-odds come from a small table (a value per day and pattern), so their ranks are few."""
    rank, _ = pd.factorize(-log_odds, sort=True)  # hashing, then sorting the few distinct values
    key = packed_key(rank, registrations, clicks)
    if key is None:  # too many to pack: rank them by sorting instead
        order = np.lexsort((clicks, registrations, rank))
        key = np.empty(len(order), dtype=np.int64)
        key[order] = np.arange(len(order))
    return key


def improve_by_trades(eligible: pd.DataFrame, chosen: pd.DataFrame, max_rounds: int = 200) -> pd.DataFrame:
    """Let two links (a -> x, b -> y) trade partners (a -> y, b -> x) when both new pairs are candidates and
    the trade raises the summed log-odds, or keeps it equal and puts the two in time order.

    Greedy's one blind spot: a click two seconds before registration x and one second before y is taken by
    whichever pair scores best alone, and the other registration gets the leftover click although the
    other way round was likelier for both. Measured on generated truth, this pass removes about a third of
    the wrong links (all in same-country bursts); the set of linked clicks and registrations never changes.
    """
    if not len(chosen):
        return chosen
    return eligible.iloc[traded_links(eligible["click"].to_numpy(), eligible["registration"].to_numpy(),
                                      eligible["log_odds"].to_numpy(), chosen["click"].to_numpy(),
                                      chosen["registration"].to_numpy(), max_rounds)]


def traded_links(click: np.ndarray, registration: np.ndarray, log_odds: np.ndarray, link_click: np.ndarray,
                 link_registration: np.ndarray, max_rounds: int = 200) -> np.ndarray:
    """improve_by_trades on the columns of the eligible pairs and of the links (a non-empty subset of them): the
    rows of the links after the trades, ascending."""
    n_clicks, n_registrations = int(click.max()) + 1, int(registration.max()) + 1
    sorted_keys = click.astype(np.int64) * n_registrations + registration
    by_key = np.argsort(sorted_keys).astype(position_dtype(len(sorted_keys)))
    sorted_keys.sort()  # in place: the keys (one per pair) are unique, so this is sorted_keys[by_key]

    def row_of(c: np.ndarray, r: np.ndarray) -> np.ndarray:
        """The eligible row of each (click, registration), -1 if it is not a candidate."""
        wanted = c.astype(np.int64) * n_registrations + r
        at = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
        return np.where(sorted_keys[at] == wanted, by_key[at], -1)

    link_row = np.full(n_clicks, -1)  # the eligible row of each click's link
    link_row[link_click] = row_of(link_click, link_registration)
    click_of = np.full(n_registrations, -1)
    click_of[link_registration] = link_click
    # the candidate pairs (a, y) whose click and registration are both linked: trading never changes that set
    pool = np.flatnonzero((link_row[click] >= 0) & (click_of[registration] >= 0)).astype(by_key.dtype)
    by_click, by_registration = _RowsBy(click[pool], pool), _RowsBy(registration[pool], pool)
    # First round: greedy took each link when it was the best left for its click and its registration, so a
    # trade can only pay if one of its two new pairs scores at least the link its click gives up; one of
    # the two rows naming the trade passes this, and it drops nine in ten rows.
    rows = pool[log_odds[pool] >= log_odds[link_row[click[pool]]]]
    for _ in range(max_rounds):
        rows = rows[link_row[click[rows]] != rows]  # not a link itself
        a, y = click[rows], registration[rows]
        x, b = registration[link_row[a]], click_of[y]
        other = row_of(b, x)
        gain = log_odds[rows] + log_odds[np.maximum(other, 0)] - log_odds[link_row[a]] - log_odds[link_row[b]]
        in_order = (a < b) == (y < x)
        good = (other >= 0) & ((gain > 1e-9) | ((np.abs(gain) <= 1e-9) & in_order))
        if not good.any():
            break
        rows, other, a, b, x, y, gain = (v[good] for v in (rows, other, a, b, x, y, gain))
        low, high = np.minimum(a, b), np.maximum(a, b)
        # a trade can be named by both its rows
        _, once = np.unique(low.astype(np.int64) * n_clicks + high, return_index=True)
        rows, other, a, b, x, y, gain, low, high = (v[once] for v in (rows, other, a, b, x, y, gain, low, high))
        # trades sharing a click conflict: keep those best (then first) for both of their clicks
        rank = np.empty(len(rows), dtype=np.int64)
        rank[np.lexsort((high, low, -gain))] = np.arange(len(rows))
        best = np.full(n_clicks, len(rows))
        np.minimum.at(best, a, rank)
        np.minimum.at(best, b, rank)
        take = (best[a] == rank) & (best[b] == rank)
        link_row[a[take]], link_row[b[take]] = rows[take], other[take]
        click_of[y[take]], click_of[x[take]] = a[take], b[take]
        # only pairs touching what just moved can have changed their gain (or lost to a trade that moved)
        touched = np.zeros(len(click), dtype=bool)  # a mask, not np.unique: these rows run into millions
        touched[by_click.rows_of(np.concatenate([a[take], b[take]]))] = True
        touched[by_registration.rows_of(np.concatenate([x[take], y[take]]))] = True
        rows = np.flatnonzero(touched).astype(by_key.dtype)
    return np.sort(link_row[link_row >= 0])


def explain_away(eligible: pd.DataFrame, chosen: pd.DataFrame, rounds: int = 10) -> pd.DataFrame:
    """The links' confidence with each rival weighted by the chance that it is free.

    A rival click that is itself linked, with confidence q, to another registration is the partner of this
    one only if that other link is wrong: its odds count (1 - q) times, not whole (likewise a rival
    registration). Iterated from the plain contested confidence; on two same-second clicks with two
    registrations that no evidence orders it settles at 0.5 each, where counting every rival whole says 1/3.
    A fixed number of rounds (no global stopping test), so a link's confidence depends only on the links
    around it, not on which other days were matched with it. The README's calibration table shows how well
    the confidence reads as the share of links that are right.
    """
    if not len(chosen):
        return chosen
    rival = np.ones(len(eligible), dtype=bool)  # the eligible pairs that are not links
    rival[eligible.index.get_indexer(chosen.index)] = False
    return chosen.assign(confidence=explained_away(
        eligible["click"].to_numpy()[rival], eligible["registration"].to_numpy()[rival],
        eligible["odds"].to_numpy()[rival], chosen["click"].to_numpy(), chosen["registration"].to_numpy(),
        chosen["odds"].to_numpy(), chosen["no_link"].to_numpy(), chosen["weak_rivals"].to_numpy(),
        chosen["confidence"].to_numpy(), rounds))


def explained_away(click: np.ndarray, registration: np.ndarray, odds: np.ndarray, link_click: np.ndarray,
                   link_registration: np.ndarray, link_odds: np.ndarray, link_no_link: np.ndarray,
                   link_weak_rivals: np.ndarray, link_confidence: np.ndarray, rounds: int = 10) -> np.ndarray:
    """explain_away on the columns of the rivals (the eligible pairs that are not links) and of the links: the
    links' confidence."""
    fixed = link_no_link + link_odds + link_weak_rivals
    q = link_confidence.copy()
    q_of_click = np.zeros(int(max(click.max(initial=0), link_click.max())) + 1)
    q_of_registration = np.zeros(int(max(registration.max(initial=0), link_registration.max())) + 1)
    for _ in range(rounds):
        q_of_click[link_click], q_of_registration[link_registration] = q, q
        # each rival competes for its registration if its click is free, and for its click if its
        # registration is free
        for_registration = np.bincount(registration, weights=odds * (1 - q_of_click[click]),
                                       minlength=len(q_of_registration))
        for_click = np.bincount(click, weights=odds * (1 - q_of_registration[registration]),
                                minlength=len(q_of_click))
        q = link_odds / (fixed + for_registration[link_registration] + for_click[link_click])
    return q


def one_to_one_links(pairs: ContestedPairs, tables: CellTables) -> pd.DataFrame:
    """greedy_one_to_one, improve_by_trades and explain_away on the linker's columns: one row per link (click,
    registration, log_odds, standalone, confidence), in the pairs' order. The cell tables give the rest of each
    pair's columns as they are needed, so a day's pairs are never held as a frame of every column."""
    log_odds = tables.log_odds[pairs.cell]
    taken = np.flatnonzero(greedy_links(pairs.click, pairs.registration, log_odds))
    if len(taken):
        taken = traded_links(pairs.click, pairs.registration, log_odds, pairs.click[taken], pairs.registration[taken])
    del log_odds
    rival = np.ones(len(pairs.click), dtype=bool)
    rival[taken] = False
    cell = pairs.cell[taken]
    confidence = pairs.confidence[taken]
    if len(taken):
        confidence = explained_away(pairs.click[rival], pairs.registration[rival], tables.odds[pairs.cell[rival]],
                                    pairs.click[taken], pairs.registration[taken], tables.odds[cell],
                                    tables.no_link[cell], pairs.weak_rivals[taken], confidence)
    return pd.DataFrame({"click": pairs.click[taken], "registration": pairs.registration[taken], "cell": cell,
                         "log_odds": tables.log_odds[cell], "standalone": tables.standalone[cell],
                         "confidence": confidence})
