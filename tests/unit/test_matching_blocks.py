"""Matching worked through blocks: the same links and confidences whatever the block size, and the same links as
listing every candidate pair (the linker before #17), on generated days dense enough that every kind of pair
occurs: same-second bursts, VPN users, missing countries, residency beside IP, registrations around midnight."""

import numpy as np
import pandas as pd
import pytest
from bcjourney.matching.assign import eligible_pairs, explain_away, greedy_one_to_one, improve_by_trades
from bcjourney.matching.blocks import RegistrationIndex, blocks_by_weight, window_bounds_ms, window_pattern_counts
from bcjourney.matching.candidates import MS, ClickIndex, Window, candidate_pairs, near_pairs
from bcjourney.matching.comparisons import COUNTRY, DELAY, PATTERNS
from bcjourney.matching.inputs import MatchInputs
from bcjourney.matching.linker import (
    DAY_S,
    MatchSettings,
    clicks_around_day,
    far_pattern_counts,
    link,
    share_explained,
)
from bcjourney.matching.model import fit_em_days

N = PATTERNS.size


def generated(n_clicks: int, seed: int, seconds: int = 2 * 3600) -> MatchInputs:
    """Clicks over `seconds` around a midnight, most registering 0-5 s later (some 30-300 s), some over VPN,
    some with the residency of another country, some with no country; whole seconds, so ties are common."""
    rng = np.random.default_rng(seed)
    midnight = pd.Timestamp("2024-04-02").value // 10**6
    click_times = np.sort(midnight - seconds // 2 * MS + rng.integers(0, seconds, n_clicks) * MS)
    click_country = rng.choice(6, n_clicks, p=[.35, .25, .15, .1, .1, .05]).astype(np.int32)
    click_country[rng.random(n_clicks) < .03] = -1
    registers = np.flatnonzero(rng.random(n_clicks) < .9)
    delay_s = rng.choice([-1, 0, 1, 2, 3, 4, 5, 8, 40, 200], len(registers),
                         p=[.02, .4, .3, .1, .05, .03, .02, .03, .03, .02])
    registration_times = click_times[registers] + delay_s * MS + rng.integers(0, 2, len(registers)) * 500
    ip = click_country[registers].copy()
    vpn = rng.random(len(ip)) < .05
    ip[vpn] = rng.choice(6, vpn.sum())
    residency = np.where(rng.random(len(ip)) < .5, ip, -1).astype(np.int32)
    moved = rng.random(len(ip)) < .05
    residency[moved] = rng.choice(6, moved.sum())
    ip[rng.random(len(ip)) < .02] = -1
    order = np.argsort(registration_times, kind="stable")
    return MatchInputs(click_times, click_country, registration_times[order], ip[order].astype(np.int32),
                       residency[order], 6)


def reference_link(inputs: MatchInputs) -> pd.DataFrame:
    """The linker as it was before #17: every candidate pair listed at once, counted and scored by bincount."""
    window = Window()
    index = ClickIndex(inputs.click_times, inputs.click_country)
    pairs = candidate_pairs(index, inputs.registration_times, inputs.ip_country, inputs.residency_country, window)
    pattern = PATTERNS.code(delay=DELAY.encode(pairs.delay_ms),
                            country=COUNTRY.encode(inputs.click_country[pairs.click],
                                                   inputs.ip_country[pairs.registration],
                                                   inputs.residency_country[pairs.registration]))
    day, numbers = pd.factorize(np.floor_divide(inputs.registration_times, DAY_S * MS), sort=True)
    n_days = len(numbers)
    near = slice(0, pairs.n_near)
    counts = np.bincount(day[pairs.registration[near]] * N + pattern[near], minlength=n_days * N).astype(float)
    counts += far_pattern_counts(index, inputs.registration_times, inputs.ip_country, inputs.residency_country,
                                 day, n_days, window)
    counts = counts.reshape(n_days, N)
    per_day = np.bincount(day, minlength=n_days)
    country_u = np.array([COUNTRY.chance(clicks_around_day(index, int(number), window), inputs.ip_country[day == d],
                                         inputs.residency_country[day == d], 6) for d, number in enumerate(numbers)])
    fitted = fit_em_days(counts, per_day, {DELAY.name: np.tile(DELAY.chance(window.before_s, window.after_s),
                                                               (n_days, 1)), COUNTRY.name: country_u})
    table = np.array([m.pattern_log_odds() for m in fitted])
    share = np.array([share_explained(table[d], counts[d], int(per_day[d])) for d in range(n_days)])
    scored = eligible_pairs(pairs.click, pairs.registration, day[pairs.registration] * N + pattern, table.ravel(),
                            np.repeat(share, N), 0.5)
    chosen = improve_by_trades(scored, greedy_one_to_one(scored, 0.5))
    return explain_away(scored, chosen).reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_links_and_confidences_are_the_same_whatever_the_blocks(seed):
    inputs = generated(4000, seed)
    whole = link(inputs, MatchSettings(block_rows=10**9, near_pairs_per_block=10**12))
    assert len(whole.pairs) > 3000 and len(whole.models) == 2  # a day either side of midnight
    # one registration's window cut everywhere; a few minutes; a quarter; blocks cut by their near pairs instead
    for block_rows, pair_budget in ((3, 10**9), (61, 10**9), (1000, 10**9), (10**9, 1), (10**9, 97)):
        cut = link(inputs, MatchSettings(block_rows=block_rows, near_pairs_per_block=pair_budget))
        pd.testing.assert_frame_equal(cut.pairs, whole.pairs, check_exact=True)  # every link, every bit
        for day, model in whole.models.items():
            assert cut.models[day].prior == model.prior and cut.models[day].iterations == model.iterations


@pytest.mark.parametrize("seed", [1, 4])
def test_the_links_are_those_of_listing_every_candidate_pair(seed):
    inputs = generated(6000, seed)
    got = link(inputs, MatchSettings(block_rows=333)).pairs
    want = reference_link(inputs)
    assert got["click"].tolist() == want["click"].tolist()
    assert got["registration"].tolist() == want["registration"].tolist()
    assert np.array_equal(got["log_odds"], want["log_odds"])  # the same model, fitted on the same counts
    # rivals are summed by count here, pair by pair there: the same sums up to rounding
    assert np.allclose(got["confidence"], want["confidence"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("cap", [1, 3])
def test_the_links_are_those_of_listing_every_candidate_pair_where_the_contenders_cap_binds(monkeypatch, cap):
    """The linker lists only the near cells that can hold a registration's strongest pairs (strongest_cells):
    on a day where the cap binds, the same links as listing every pair and then keeping the strongest."""
    from bcjourney.matching import assign, blocks, linker

    inputs = generated(6000, 2)
    uncapped = reference_link(inputs)
    for module in (assign, blocks, linker):
        monkeypatch.setattr(module, "MAX_CONTENDERS", cap)
    want = reference_link(inputs)
    assert want["registration"].tolist() != uncapped["registration"].tolist(), "the cap binds"
    got = link(inputs, MatchSettings(block_rows=333)).pairs
    assert got["click"].tolist() == want["click"].tolist()
    assert got["registration"].tolist() == want["registration"].tolist()
    assert np.allclose(got["confidence"], want["confidence"], rtol=1e-12, atol=0)


def test_pattern_counts_of_the_whole_window_are_those_of_its_pairs():
    inputs = generated(3000, 5)
    window = Window()
    index = ClickIndex(inputs.click_times, inputs.click_country)
    day = np.floor_divide(inputs.registration_times, DAY_S * MS)
    day = (day - day.min()).astype(np.int32)
    pairs = candidate_pairs(index, inputs.registration_times, inputs.ip_country, inputs.residency_country, window)
    near = slice(0, pairs.n_near)
    pattern = PATTERNS.code(delay=DELAY.encode(pairs.delay_ms[near]),
                            country=COUNTRY.encode(inputs.click_country[pairs.click[near]],
                                                   inputs.ip_country[pairs.registration[near]],
                                                   inputs.residency_country[pairs.registration[near]]))
    want = np.bincount(day[pairs.registration[near]] * N + pattern, minlength=2 * N).astype(float)
    want += far_pattern_counts(index, inputs.registration_times, inputs.ip_country, inputs.residency_country, day,
                               2, window)
    got = window_pattern_counts(index, inputs.registration_times, inputs.ip_country, inputs.residency_country, day,
                                2, window_bounds_ms(window))
    assert np.array_equal(got, want)


def test_a_clicks_near_registrations_are_counted_by_bin_and_country_level_within_each_day():
    inputs = generated(3000, 6)
    window = Window()
    index = ClickIndex(inputs.click_times, inputs.click_country)
    pairs = near_pairs(index, inputs.registration_times, window)
    bounds = window_bounds_ms(window)[:8]
    registrations = RegistrationIndex(inputs.registration_times, inputs.ip_country, inputs.residency_country)
    midnight = pd.Timestamp("2024-04-02").value // 10**6
    for start, end in ((midnight - DAY_S * MS, midnight), (midnight, midnight + DAY_S * MS)):
        of_day = (inputs.registration_times[pairs.registration] >= start) & (
            inputs.registration_times[pairs.registration] < end)
        level = COUNTRY.encode(inputs.click_country[pairs.click], inputs.ip_country[pairs.registration],
                               inputs.residency_country[pairs.registration])
        want = np.zeros((len(inputs.click_times), 7, COUNTRY.n_levels), dtype=np.int64)
        np.add.at(want, (pairs.click[of_day], DELAY.encode(pairs.delay_ms[of_day]), level[of_day]), 1)
        got = registrations.level_counts(inputs.click_times, inputs.click_country, bounds, (start, end))
        assert np.array_equal(got, want)


def test_blocks_by_weight_cut_runs_within_both_limits_and_cover_every_row_once():
    weights = np.array([5, 1, 1, 9, 0, 0, 2, 2, 2, 30, 1])
    cuts = list(blocks_by_weight(weights, max_rows=3, max_weight=6))
    assert [(c.start, c.stop) for c in cuts] == [(0, 2), (2, 3), (3, 4), (4, 7), (7, 9), (9, 10), (10, 11)]
    for c in cuts:
        assert c.stop - c.start <= 3 and (weights[c].sum() <= 6 or c.stop - c.start == 1)


def test_the_packed_order_is_the_lexsort_order_and_falls_back_to_it_when_the_ranges_do_not_fit():
    from bcjourney.matching.assign import order_of, packed_key

    rng = np.random.default_rng(7)
    pairs = np.unique(rng.integers(0, 300, (5000, 2)), axis=0)  # (registration, click) pairs, each once
    registration, click = rng.permutation(pairs).T
    strength = rng.integers(0, 5, len(registration))
    assert np.array_equal(order_of(registration, strength, click), np.lexsort((click, strength, registration)))
    huge = registration.astype(np.int64) * 2**50
    assert packed_key(huge, strength, click) is None
    assert np.array_equal(order_of(huge, strength, click), np.lexsort((click, strength, huge)))


def test_a_day_with_no_eligible_pair_gives_an_empty_frame():
    from bcjourney.matching.assign import CellTables, eligible_frame

    tables = CellTables.of(np.array([-3.0, 4.0]), np.array([0.9, 0.9]), 0.5)
    none = np.zeros(0, dtype=np.int32)
    frame = eligible_frame(none, none, none, tables, np.zeros(3), np.zeros(5))
    assert frame.empty and frame["confidence"].dtype == np.float64
