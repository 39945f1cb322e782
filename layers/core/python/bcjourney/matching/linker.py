"""The pure matching pipeline: candidates -> comparison patterns -> EM model per day -> one-to-one links."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assign import (
    MAX_CONTENDERS,
    CellTables,
    ContestedPairs,
    contested,
    one_to_one_links,
    strongest_per_registration,
)
from .blocks import (
    BLOCK_ROWS,
    NEAR_PAIRS_PER_BLOCK,
    CellPairs,
    RegistrationIndex,
    blocks,
    blocks_by_weight,
    eligible_near_pairs,
    group_counts,
    group_levels,
    n_near_bins,
    near_click_counts,
    near_odds_sums,
    pair_cells,
    window_bounds_ms,
    window_pattern_counts,
)
from .candidates import MS, ClickIndex, Window, far_bounds_ms, far_kinds, far_pairs
from .comparisons import AGREEMENT_LABELS, COUNTRY, DELAY, PATTERNS
from .inputs import MatchInputs
from .model import MatchModel, fit_em_days

N_PATTERNS = PATTERNS.size

DAY_S = 86_400


@dataclass(frozen=True)
class MatchSettings:
    window: Window = field(default_factory=Window)
    min_confidence: float = 0.5  # below this a registration stays unlinked: a guess would mislead
    block_rows: int = BLOCK_ROWS  # registrations (and clicks) counted at a time: memory follows it, links do not
    near_pairs_per_block: int = NEAR_PAIRS_PER_BLOCK  # and near pairs listed at a time: a busy day's blocks are shorter


@dataclass
class Links:
    pairs: pd.DataFrame  # click, registration (positions), log_odds, standalone, confidence, match_rule
    models: dict[str, MatchModel]  # one per registration day


def link(inputs: MatchInputs, settings: MatchSettings = MatchSettings()) -> Links:
    """Links between the clicks and registrations of `inputs`, both in time order: ties between equal scores go
    by position (the earlier click with the earlier registration), which the lake's loaders guarantee.

    The model is fitted per registration day on that day's registrations and every click of their window, so
    a day's links come out the same whether it is matched alone (with its neighbours loaded) or in a range.
    The day is worked through in blocks of registrations and of clicks (blocks.py): the pattern counts, each
    registration's and each click's summed rival odds and the pairs that may link are found block by block,
    each exactly as a whole day would give it, and no list of every candidate pair is ever made.
    Returns one row per link, by position in the two frames.
    """
    window = settings.window
    index = ClickIndex(inputs.click_times, inputs.click_country)
    day_number = np.floor_divide(inputs.registration_times, DAY_S * MS)
    day_of_registration, day_numbers = pd.factorize(day_number, sort=True)
    day_of_registration = day_of_registration.astype(np.int32)
    n_days = len(day_numbers)
    flat_counts = np.zeros(n_days * N_PATTERNS)
    for rows in blocks(len(inputs.registration_times), settings.block_rows):
        flat_counts += window_pattern_counts(index, inputs.registration_times[rows], inputs.ip_country[rows],
                                             inputs.residency_country[rows], day_of_registration[rows], n_days,
                                             window_bounds_ms(window))
    counts = flat_counts.reshape(n_days, N_PATTERNS)

    registrations_per_day = np.bincount(day_of_registration, minlength=n_days)
    delay_u = DELAY.chance(window.before_s, window.after_s)
    country_u = np.zeros((n_days, COUNTRY.n_levels))
    for d, number in enumerate(day_numbers):
        of_day = day_of_registration == d
        country_u[d] = COUNTRY.chance(clicks_around_day(index, int(number), window), inputs.ip_country[of_day],
                                      inputs.residency_country[of_day], inputs.n_countries)
    fitted = fit_em_days(counts, registrations_per_day, {DELAY.name: np.tile(delay_u, (n_days, 1)),
                                                         COUNTRY.name: country_u})
    models = {pd.Timestamp(int(number) * DAY_S, unit="s").strftime("%Y-%m-%d"): model
              for number, model in zip(day_numbers, fitted)}
    log_odds_table = np.array([model.pattern_log_odds() for model in fitted]).reshape(n_days, N_PATTERNS)
    share = np.array([share_explained(log_odds_table[d], counts[d], int(registrations_per_day[d]))
                      for d in range(n_days)])

    tables = CellTables.of(log_odds_table.ravel(), np.repeat(share, N_PATTERNS), settings.min_confidence)
    scored = score_pairs(index, inputs, day_of_registration, np.asarray(day_numbers), tables, settings)
    chosen = one_to_one_links(scored, tables)
    chosen["match_rule"] = rule_names(chosen["cell"].to_numpy() % N_PATTERNS)
    return Links(chosen.drop(columns=["cell"]), models)


def score_pairs(index: ClickIndex, inputs: MatchInputs, day_of_registration: np.ndarray, day_numbers: np.ndarray,
                tables: CellTables, settings: MatchSettings) -> ContestedPairs:
    """The pairs that may link, in the order candidate_pairs lists them (near pairs by registration, then each
    far kind), with every candidate's odds summed per registration and per click: the near ones counted by
    bin and country, the few far ones listed."""
    window, size = settings.window, settings.block_rows
    times, ip, residency = inputs.registration_times, inputs.ip_country, inputs.residency_country
    near_bounds = window_bounds_ms(window)[:n_near_bins(window) + 1]
    rank_of_click = np.empty(len(index.by_time), dtype=np.int64)
    rank_of_click[index.by_time] = np.arange(len(index.by_time))
    of_registration = np.zeros(len(times))
    parts = []
    for rows in blocks_by_weight(near_click_counts(index, times, window), size,
                                 settings.near_pairs_per_block):
        counts = group_counts(index, times[rows], ip[rows], residency[rows], near_bounds)
        of_registration[rows] = near_odds_sums(counts, group_levels(ip[rows], residency[rows]),
                                               day_of_registration[rows], tables.odds)
        part = eligible_near_pairs(index, rank_of_click, times[rows], ip[rows], residency[rows],
                                   day_of_registration[rows], tables.eligible, window, tables.log_odds, counts)
        parts.append(CellPairs(part.click, part.registration + rows.start, part.cell))
    of_click = click_near_odds_sums(inputs, day_numbers, tables.odds, near_bounds, size)
    for kind in far_kinds(window):  # kind by kind, so the sums run in candidate order whatever the blocks
        for rows in blocks(len(times), size):
            pairs = far_pairs(index, times[rows], ip[rows], residency[rows], window, kind)
            pairs.registration = pairs.registration + rows.start
            cell = pair_cells(index, pairs, day_of_registration, ip, residency)
            odds = tables.odds[cell]
            of_registration[pairs.registration] += odds  # one pair per registration and kind
            np.add.at(of_click, pairs.click, odds)  # in order, unbuffered: a click's sum is sequential
            keep = tables.eligible[cell]
            parts.append(CellPairs(pairs.click[keep], pairs.registration[keep], cell[keep]))
    found = CellPairs.concatenate(parts)
    keep = strongest_per_registration(np.arange(len(found.click)), found.registration, rank_of_click[found.click],
                                      tables.log_odds[found.cell], MAX_CONTENDERS)
    found = CellPairs(found.click[keep], found.registration[keep], found.cell[keep])
    return ContestedPairs(found.click, found.registration, found.cell,
                          *contested(found.click, found.registration, found.cell, tables, of_registration, of_click))


def click_near_odds_sums(inputs: MatchInputs, day_numbers: np.ndarray, odds_by_cell: np.ndarray,
                         near_bounds: np.ndarray, size: int) -> np.ndarray:
    """Per click: the summed odds of its near pairs, counted by bin and country level, day by day of the
    registrations (a click near midnight has candidates of two days, scored by two models)."""
    registrations = RegistrationIndex(inputs.registration_times, inputs.ip_country, inputs.residency_country)
    out = np.zeros(len(inputs.click_times))
    for rows in blocks(len(out), size):
        by_time = np.argsort(inputs.click_times[rows], kind="stable")
        click_times, click_country = inputs.click_times[rows][by_time], inputs.click_country[rows][by_time]
        total = np.zeros(len(click_times))
        for d, number in enumerate(day_numbers):
            start, end = int(number) * DAY_S * MS, (int(number) + 1) * DAY_S * MS
            # only the clicks whose near window reaches into the day: the others would add exact zeros (a backfill's
            # block of clicks spans days, and each day's search would otherwise run over all of them)
            lo, hi = np.searchsorted(click_times, [start - near_bounds[-1], end - near_bounds[0]], side="right")
            if lo >= hi:
                continue
            counts = registrations.level_counts(click_times[lo:hi], click_country[lo:hi], near_bounds, (start, end))
            for b in range(counts.shape[1]):
                for level in range(COUNTRY.n_levels):
                    total[lo:hi] += (counts[:, b, level]
                                     * odds_by_cell[d * N_PATTERNS + PATTERNS.code(delay=b, country=level)])
        out[np.arange(rows.start, rows.stop)[by_time]] = total
    return out


def clicks_around_day(index: ClickIndex, day_number: int, window: Window) -> np.ndarray:
    """Country ids of every click that can be a candidate of a registration of that day."""
    lo, hi = np.searchsorted(index.times, [(day_number * DAY_S - window.before_s) * MS,
                                           ((day_number + 1) * DAY_S + window.after_s) * MS])
    return index.click_country[index.by_time[lo:hi]]


def far_pattern_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                       residency_country: np.ndarray, day_of_registration: np.ndarray, n_days: int,
                       window: Window) -> np.ndarray:
    """Pattern counts (day x pattern, flattened) of every pair of the far part of the window, most of which
    are never candidates: clicks of the IP country, of the residency country, with no country, and of any
    other country."""
    return window_pattern_counts(index, registration_times, ip_country, residency_country, day_of_registration,
                                 n_days, far_bounds_ms(window), first_bin=n_near_bins(window))


# At least this share of registrations is taken to have no click behind it (the real data: about 2% have no click
# within 5 s). The model's own estimate below counts a registration's many weak candidates as partial links and
# drifts towards 100%, which would let a lone weak candidate link a registration that no click explains.
MIN_UNEXPLAINED_SHARE = 0.01


def share_explained(pattern_log_odds: np.ndarray, pattern_counts: np.ndarray, n_registrations: int) -> float:
    """The model's estimate of the share of registrations that some candidate click explains."""
    if n_registrations == 0:
        return 0.5
    expected_links = float((pattern_counts / (1 + np.exp(-np.clip(pattern_log_odds, -50, 50)))).sum())
    return min(1 - MIN_UNEXPLAINED_SHARE, max(0.5, expected_links / n_registrations))


def rule_names(patterns: np.ndarray) -> np.ndarray:
    """A short name for the evidence behind a link, e.g. 'ip_agree:1s'."""
    levels = PATTERNS.levels()
    names = np.array([f"ip_{AGREEMENT_LABELS[i]}:{DELAY.labels[d]}"
                      for d, i in zip(levels[DELAY.name], COUNTRY.ip_agreement(levels[COUNTRY.name]))], dtype=object)
    return names[patterns.astype(np.int64)]
