"""Matching: candidates, the learned model, one-to-one links, and per-day runs equal to a whole-range run."""

import numpy as np
import pandas as pd
import pytest
from bcjourney.matching.assign import greedy_one_to_one, improve_by_trades
from bcjourney.matching.candidates import ClickIndex, Window, candidate_pairs, far_click_counts
from bcjourney.matching.inputs import MatchInputs
from bcjourney.matching.journeys import journeys_for_day
from bcjourney.matching.linker import link as link_inputs
from scipy.optimize import linear_sum_assignment


def link(clicks: pd.DataFrame, registrations: pd.DataFrame):
    return link_inputs(MatchInputs.from_frames(clicks, registrations))


def synthetic(n_clicks=3000, seed=1, days=2, vpn=0.04, unexplained=0.03, rate=0.9):
    """Clicks spread over `days`, a share of them registering 0-5 s later (some over VPN)."""
    rng = np.random.default_rng(seed)
    countries = np.array(["US", "GB", "DE", "IN", "NL", "CA", "FR", "ES", "HU", "BR"])
    weights = np.array([30, 15, 12, 10, 8, 7, 6, 5, 4, 3], dtype=float)
    start = pd.Timestamp("2024-04-01").value // 10**9
    t = np.sort(rng.integers(start, start + days * 86400, n_clicks))
    clicks = pd.DataFrame({
        "conversion_id": np.arange(1, n_clicks + 1),
        "converted_at": pd.to_datetime(t, unit="s").astype("datetime64[ms]"),
        "country_code": rng.choice(countries, n_clicks, p=weights / weights.sum()),
    })
    registers = rng.random(n_clicks) < rate
    delay = rng.choice([0, 1, 2, 3, 4, 5, 30], registers.sum(), p=[.45, .42, .06, .03, .02, .01, .01])
    ip = clicks["country_code"].to_numpy()[registers].copy()
    swap = rng.random(len(ip)) < vpn
    ip[swap] = rng.choice(countries, swap.sum())
    n_extra = int(unexplained * registers.sum())
    regs = pd.DataFrame({
        "registered_at": pd.to_datetime(np.concatenate([t[registers] + delay,
                                                        rng.integers(start, start + days * 86400, n_extra)]),
                                        unit="s").astype("datetime64[ms]"),
        "ip_country_code": np.concatenate([ip, rng.choice(countries, n_extra)]),
        "residency_country_code": None,
        "truth": np.concatenate([clicks["conversion_id"].to_numpy()[registers], np.zeros(n_extra, dtype=int)]),
    })
    regs = regs.sort_values("registered_at", kind="stable").reset_index(drop=True)
    return clicks, regs


def test_candidates_are_every_near_click_and_the_nearest_far_one_of_the_same_country():
    # registrations at t=1000 s (IP US, residency DE) and t=2000 s (IP FR); times in milliseconds
    seconds = np.array([995, 1003, 900, 850, 800, 700, 1990, 1500, 1300])
    click_country = np.array([3, 4, 0, 0, 0, 1, 3, 2, 2])  # 0 US, 1 DE, 2 FR, 3 HU, 4 NL
    window = Window(before_s=600, after_s=2, any_country_below_s=11, nearest_same_country=1)
    pairs = candidate_pairs(ClickIndex(seconds * 1000, click_country), np.array([1000, 2000]) * 1000,
                            np.array([0, 2]), np.array([1, -1]), window)
    got = {(int(c), int(r)): float(d) for c, r, d in zip(pairs.click, pairs.registration, pairs.delay_s)}
    assert got == {
        (0, 0): 5.0,  # near: any country
        (2, 0): 100.0,  # far: the nearest US click only
        (5, 0): 300.0,  # far: the residency's country
        (6, 1): 10.0, (7, 1): 500.0,  # the FR click at 1300 is 700 s before: outside the window
    }
    # the NL click 3 s after the registration is beyond after_s


@pytest.mark.parametrize("us_id", [0, 250])  # ids depend on what else was loaded: edges must not
def test_far_click_counts_count_every_click_of_the_window_with_exact_edges(us_id):
    delays = np.array([11, 30.999, 31, 40, 200, 600, 600.001])
    click_country = np.array([us_id, us_id, us_id, 1, 2, us_id, us_id])
    far = far_click_counts(ClickIndex(np.round((1_713_000_000 - delays) * 1000).astype(np.int64), click_country),
                             np.array([1_713_000_000_000]), np.array([us_id]), np.array([2]),
                             Window(before_s=600, any_country_below_s=11))
    # far bins: 11-30 s, 31-120 s, 121-600 s (600.001 s is outside the window)
    assert far["total"].tolist() == [[2, 2, 2]]
    assert far["ip"].tolist() == [[2, 1, 1]]
    assert far["residency"].tolist() == [[0, 0, 1]]


def test_links_are_one_to_one_precise_and_complete_on_synthetic_truth():
    clicks, regs = synthetic()
    links = link(clicks, regs).pairs
    assert links["click"].is_unique and links["registration"].is_unique
    linked_truth = regs["truth"].to_numpy()[links["registration"]]
    linked_click = clicks["conversion_id"].to_numpy()[links["click"]]
    precision = (linked_truth == linked_click).mean()
    explained = (regs["truth"] > 0).sum()
    recall = (linked_truth == linked_click).sum() / explained
    assert precision >= 0.98 and recall >= 0.97, (precision, recall)
    assert links["confidence"].between(0, 1).all()


def test_a_vpn_registration_still_links_when_nothing_else_explains_it():
    clicks = pd.DataFrame({"conversion_id": [1, 2], "converted_at": pd.to_datetime(["2024-04-01 10:00:00",
                                                                                     "2024-04-01 12:00:00"]),
                           "country_code": ["HU", "US"]})
    regs = pd.DataFrame({"registered_at": pd.to_datetime(["2024-04-01 10:00:01", "2024-04-01 12:00:00"]),
                         "ip_country_code": ["NL", "US"], "residency_country_code": [None, None]})
    big_clicks, big_regs = synthetic(2000, seed=3)  # enough data for the model to learn from
    all_clicks = pd.concat([big_clicks, clicks.assign(conversion_id=[10**6, 10**6 + 1])], ignore_index=True)
    all_regs = pd.concat([big_regs.drop(columns="truth"), regs], ignore_index=True)
    links = link(all_clicks, all_regs).pairs
    mine = links[links["registration"] >= len(big_regs)]
    assert sorted(all_clicks["conversion_id"].to_numpy()[mine["click"]]) == [10**6, 10**6 + 1]
    vpn = mine[mine["registration"] == len(big_regs)]
    assert vpn["match_rule"].item().startswith("ip_disagree")
    assert vpn["confidence"].item() < mine[mine["registration"] == len(big_regs) + 1]["confidence"].item()


def test_greedy_loses_almost_nothing_against_the_optimal_assignment(monkeypatch):
    from bcjourney.matching import linker

    clicks, regs = synthetic(4000, seed=7)
    seen = {}
    assign_links = linker.one_to_one_links

    def spy(pairs, tables):
        seen["eligible"] = pd.DataFrame({"click": pairs.click, "registration": pairs.registration,
                                         "log_odds": tables.log_odds[pairs.cell]})
        return assign_links(pairs, tables)

    monkeypatch.setattr(linker, "one_to_one_links", spy)
    chosen = link(clicks, regs).pairs
    eligible = seen["eligible"]
    # the optimal one-to-one assignment of the same eligible pairs, maximising the total log-odds
    gain = np.zeros((len(clicks), len(regs)))
    gain[eligible["click"], eligible["registration"]] = eligible["log_odds"].clip(lower=0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    optimal = gain[rows, cols].sum()
    assert chosen["log_odds"].clip(lower=0).sum() >= 0.999 * optimal


def test_same_second_bursts_pair_in_time_order():
    pairs = pd.DataFrame({"click": [0, 1, 0, 1], "registration": [0, 0, 1, 1], "delay_s": [0.0] * 4,
                          "log_odds": [3.0] * 4, "standalone": [0.9] * 4})
    chosen = greedy_one_to_one(pairs, 0.5)
    assert sorted(zip(chosen["click"], chosen["registration"])) == [(0, 0), (1, 1)]


def test_each_day_alone_gives_the_same_journeys_as_the_whole_range():
    clicks, regs = synthetic(6000, seed=11, days=3)
    clicks = clicks.assign(session_id=1, is_mobile=True, ui_element="x", measurement_category=None,
                           source_file="c", source_line=np.arange(len(clicks)) + 2)
    regs = regs.drop(columns="truth").assign(partner="acme", important_score=0, source_file="r",
                                             source_line=np.arange(len(regs)) + 2)
    mapping = pd.DataFrame({"page_category": [], "measurement_category": []})
    whole = link(clicks, regs)
    for day in ["2024-04-01", "2024-04-02", "2024-04-03"]:
        expected = journeys_for_day(day, clicks, regs, whole, mapping)
        lo, hi = pd.Timestamp(day) - pd.Timedelta(days=1), pd.Timestamp(day) + pd.Timedelta(days=2)
        window_clicks = clicks[(clicks["converted_at"] >= lo - pd.Timedelta(days=1))
                               & (clicks["converted_at"] < hi + pd.Timedelta(days=1))].reset_index(drop=True)
        window_regs = regs[(regs["registered_at"] >= lo) & (regs["registered_at"] < hi)].reset_index(drop=True)
        alone = journeys_for_day(day, window_clicks, window_regs, link(window_clicks, window_regs), mapping)
        pd.testing.assert_frame_equal(alone.reset_index(drop=True), expected.reset_index(drop=True))


def test_a_click_links_to_at_most_one_registration_across_partners():
    clicks, regs = synthetic(1500, seed=5)
    twin = regs.iloc[[10, 20, 30]].assign(truth=0)  # a second partner reporting the same instants
    both = pd.concat([regs.assign(partner="acme"), twin.assign(partner="zeta")], ignore_index=True)
    links = link(clicks, both).pairs
    assert links["click"].is_unique and links["registration"].is_unique


def test_the_vectorised_greedy_takes_exactly_the_pairs_the_sequential_one_does():
    rng = np.random.default_rng(3)
    n = 5000
    pairs = pd.DataFrame({"click": rng.integers(0, 800, n), "registration": rng.integers(0, 800, n),
                          "log_odds": rng.choice([1.0, 2.0, 3.0, 5.0], n), "standalone": rng.random(n)})
    pairs = pairs.drop_duplicates(["click", "registration"])
    chosen = greedy_one_to_one(pairs, 0.3)
    # the reference: best-first over (log-odds desc, registration, click), skipping what is taken
    reference, taken_c, taken_r = set(), set(), set()
    eligible = pairs[pairs["standalone"] >= 0.3].sort_values(["log_odds", "registration", "click"],
                                                             ascending=[False, True, True])
    for c, r in zip(eligible["click"], eligible["registration"]):
        if c not in taken_c and r not in taken_r:
            reference.add((c, r))
            taken_c.add(c)
            taken_r.add(r)
    assert set(zip(chosen["click"], chosen["registration"])) == reference


def test_two_links_trade_partners_when_that_is_likelier_for_both():
    # click 0 at t, click 1 at t+2 s; registration 0 at t+2 s, registration 1 at t+3 s. Greedy takes the
    # 0 s pair (click 1, registration 0) first and leaves click 0 a 3 s delay; 2 s + 1 s is likelier.
    log_odds = {"0s": 9.0, "1s": 8.8, "2s": 6.0, "3s": 4.5}
    pairs = pd.DataFrame({"click": [0, 0, 1, 1], "registration": [0, 1, 0, 1],
                          "log_odds": [log_odds["2s"], log_odds["3s"], log_odds["0s"], log_odds["1s"]],
                          "standalone": [0.9] * 4})
    greedy = greedy_one_to_one(pairs, 0.5)
    assert sorted(zip(greedy["click"], greedy["registration"])) == [(0, 1), (1, 0)]
    improved = improve_by_trades(pairs, greedy)
    assert sorted(zip(improved["click"], improved["registration"])) == [(0, 0), (1, 1)]


def test_an_equal_trade_puts_the_two_links_in_time_order():
    # same-second clicks 0 and 1; registration 0 (0 s after) and 1 (1 s after): either way scores the same
    pairs = pd.DataFrame({"click": [0, 1, 0, 1], "registration": [0, 0, 1, 1], "log_odds": [9.0, 9.0, 8.8, 8.8],
                          "standalone": [0.9] * 4})
    crossed = pairs.iloc[[1, 2]]  # click 1 -> registration 0, click 0 -> registration 1
    improved = improve_by_trades(pairs, crossed)
    assert sorted(zip(improved["click"], improved["registration"])) == [(0, 0), (1, 1)]
    assert improve_by_trades(pairs, pairs.iloc[[0, 3]]).index.tolist() == [0, 3]  # already in order: kept


def test_far_clicks_without_a_country_are_counted_as_missing_not_as_another_country():
    from bcjourney.matching.comparisons import DELAY, MISSING, PATTERNS
    from bcjourney.matching.linker import far_pattern_counts

    # a registration (IP and residency FR, id 0) and one click with no country 20 s before it
    index = ClickIndex(np.array([1_000_000 - 20_000]), np.array([-1]))
    counts = far_pattern_counts(index, np.array([1_000_000]), np.array([0]), np.array([0]), np.array([0]), 1,
                                Window())
    bin_11_30 = int(DELAY.encode(np.array([20_000]))[0])
    assert DELAY.labels[bin_11_30] == "11-30s"
    assert np.flatnonzero(counts).tolist() == [bin_11_30 * 9 + MISSING * 3 + MISSING]
    assert counts.sum() == 1 and len(counts) == PATTERNS.size


def test_a_batch_where_no_country_is_known_still_matches():
    clicks = pd.DataFrame({"converted_at": pd.to_datetime(["2024-04-01 10:00:00"]), "country_code": [None]})
    regs = pd.DataFrame({"registered_at": pd.to_datetime(["2024-04-01 10:00:01"]), "ip_country_code": [None],
                         "residency_country_code": [None]})
    links = link(clicks, regs).pairs
    assert len(links) <= 1 and links["confidence"].between(0, 1).all()


def test_a_rival_linked_elsewhere_counts_only_as_much_as_that_link_may_be_wrong():
    from bcjourney.matching.assign import explain_away

    # two same-second clicks, two registrations: either pairing is as likely, so each link is a coin flip
    pairs = pd.DataFrame({"click": [0, 1, 0, 1], "registration": [0, 0, 1, 1], "log_odds": [5.0] * 4,
                          "standalone": [0.99] * 4, "odds": [100.0] * 4, "no_link": [0.01] * 4,
                          "weak_rivals": [0.0] * 4})
    chosen = pairs.iloc[[0, 3]].assign(confidence=100 / (0.01 + 300))  # every rival counted whole: 1/3
    refined = explain_away(pairs, chosen, rounds=60)
    assert np.allclose(refined["confidence"], 0.5, atol=0.01)
    # a registration with a single candidate: nothing to explain away
    lone = pairs.iloc[[0]]
    assert explain_away(lone, lone.assign(confidence=100 / 100.01))["confidence"].item() == 100 / 100.01


def test_em_recovers_the_model_that_generated_the_pattern_counts_and_each_day_fits_as_alone():
    from bcjourney.matching.comparisons import PATTERNS
    from bcjourney.matching.model import fit_em_days

    FIELDS = PATTERNS.sizes
    rng = np.random.default_rng(4)
    levels = PATTERNS.levels()
    days = 3
    truth_m = {f: rng.dirichlet(np.ones(k) * 0.7, size=days) for f, k in FIELDS.items()}
    u = {f: rng.dirichlet(np.ones(k) * 3, size=days) for f, k in FIELDS.items()}
    prior = np.array([0.05, 0.2, 0.01])  # a dense day has few links among many pairs
    n_pairs = np.array([2e6, 3e5, 8e6])
    link_share = np.prod([truth_m[f][:, levels[f]] for f in FIELDS], axis=0)
    other_share = np.prod([u[f][:, levels[f]] for f in FIELDS], axis=0)
    counts = n_pairs[:, None] * (prior[:, None] * link_share + (1 - prior[:, None]) * other_share)

    fitted = fit_em_days(counts, (prior * n_pairs).astype(int), u)
    for d, model in enumerate(fitted):
        assert model.prior == pytest.approx(prior[d], rel=1e-3)
        for f in FIELDS:
            np.testing.assert_allclose(model.m[f], truth_m[f][d], atol=1e-4)
        assert model.iterations < 1000  # converged, well before the cap
    # a day fitted alone gets exactly the model it gets beside other days
    alone = fit_em_days(counts[1:2], (prior[1:2] * n_pairs[1:2]).astype(int), {f: u[f][1:2] for f in FIELDS})[0]
    assert alone.prior == fitted[1].prior and all(np.array_equal(alone.m[f], fitted[1].m[f]) for f in FIELDS)


def test_a_pattern_code_and_its_levels_are_inverse_and_every_comparison_owns_its_starting_point():
    from bcjourney.matching.comparisons import COUNTRY, DELAY, PATTERNS

    levels = PATTERNS.levels()
    assert PATTERNS.size == DELAY.n_levels * COUNTRY.n_levels
    assert (PATTERNS.code(**levels) == np.arange(PATTERNS.size)).all()
    for comparison in PATTERNS.comparisons:
        assert len(comparison.starting_m) == comparison.n_levels and abs(sum(comparison.starting_m) - 1) < 1e-9
    # the joint country level: IP agreement first, residency second
    assert COUNTRY.level(2, 1) == 7 and COUNTRY.ip_agreement(7) == 2
    assert COUNTRY.encode(np.array([3, 3, -1]), np.array([3, 4, 3]), np.array([4, -1, 3])).tolist() == [1, 5, 8]


def test_a_registration_brings_only_its_strongest_pairs_to_the_assignment():
    """strongest_per_registration against a plain per-registration sort (log-odds down, then the earlier click)."""
    from bcjourney.matching.assign import strongest_per_registration

    rng = np.random.default_rng(5)
    n = 2_000
    registration = np.sort(rng.integers(0, 120, n))
    click = rng.integers(0, 500, n)
    log_odds = rng.choice([-1.0, 0.5, 2.0, 3.5], n)  # few values: ties are common
    chosen = np.flatnonzero(rng.random(n) < 0.8)
    kept = strongest_per_registration(chosen, registration, click, log_odds, limit=4)
    expected = []
    for r in np.unique(registration[chosen]):
        mine = [i for i in chosen if registration[i] == r]
        expected += sorted(mine, key=lambda i: (-log_odds[i], click[i]))[:4]
    assert kept.tolist() == sorted(expected)
    assert strongest_per_registration(chosen, registration, click, log_odds, limit=n) is chosen, "no cost unbound"
