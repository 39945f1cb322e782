"""The pure matching pipeline: candidates -> comparison patterns -> EM model per day -> one-to-one links."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assign import greedy_one_to_one, link_confidence
from .candidates import Window, candidate_pairs
from .features import (AGREEMENT_LABELS, DELAY_LABELS, N_PATTERNS, background_country_agreement,
                       background_delay_distribution, comparison_patterns, pattern_levels)
from .model import MatchModel, fit_em

# Pairs this unlikely neither link nor compete (their odds, summed over hundreds of rivals, stay < 1e-4)
NEGLIGIBLE_LOG_ODDS = -16.0


@dataclass(frozen=True)
class MatchSettings:
    window: Window = field(default_factory=Window)
    min_confidence: float = 0.5  # below this a registration stays unlinked: a guess would mislead


@dataclass
class Links:
    pairs: pd.DataFrame  # click, registration (positions), delay_s, log_odds, confidence, match_rule
    models: dict[str, MatchModel]  # one per registration day


def epoch_seconds(times: pd.Series) -> np.ndarray:
    return times.astype("datetime64[ms]").to_numpy().astype("int64") / 1000.0


def country_ids(*columns: pd.Series) -> tuple[list[np.ndarray], int]:
    """The same small integer for the same ISO code across columns; -1 where missing."""
    values = pd.concat([c.astype("object") for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(values.where(values.notna() & (values != ""), None), use_na_sentinel=True)
    out, start = [], 0
    for column in columns:
        out.append(codes[start:start + len(column)].astype(np.int32))
        start += len(column)
    return out, len(uniques)


def link(clicks: pd.DataFrame, registrations: pd.DataFrame, settings: MatchSettings = MatchSettings()) -> Links:
    """`clicks` need converted_at and country_code; `registrations` registered_at, ip_ and residency_country_code.

    The model is fitted per registration day on that day's registrations and all their candidate clicks, so
    a day's links come out the same whether it is matched alone (with its neighbours loaded) or in a range.
    Returns one row per link, by position in the two frames.
    """
    window = settings.window
    pairs = candidate_pairs(epoch_seconds(clicks["converted_at"]), epoch_seconds(registrations["registered_at"]),
                            window)
    click, registration, delay = (pairs["click"].to_numpy(), pairs["registration"].to_numpy(),
                                  pairs["delay_s"].to_numpy())
    (click_country, ip_country, residency_country), n_countries = country_ids(
        clicks["country_code"], registrations["ip_country_code"], registrations["residency_country_code"])
    pattern = comparison_patterns(click, registration, delay, click_country, ip_country, residency_country)

    day_of_registration, days = pd.factorize(registrations["registered_at"].dt.strftime("%Y-%m-%d"))
    pair_day = day_of_registration[registration]
    counts = np.bincount(pair_day.astype(np.int64) * N_PATTERNS + pattern,
                         minlength=len(days) * N_PATTERNS).reshape(len(days), N_PATTERNS)
    registrations_per_day = np.bincount(day_of_registration, minlength=len(days))
    log_odds_table = np.zeros((len(days), N_PATTERNS))
    share = np.ones(len(days))
    models = {}
    for d, day in enumerate(days):
        day_clicks = click_country[np.unique(click[pair_day == d])]
        background = {
            "delay": background_delay_distribution(window.before_s, window.after_s),
            "country": background_country_agreement(day_clicks, ip_country[day_of_registration == d],
                                                    residency_country[day_of_registration == d], n_countries),
        }
        models[day] = fit_em(counts[d], int(registrations_per_day[d]), background)
        log_odds_table[d] = models[day].pattern_log_odds()
        share[d] = share_explained(log_odds_table[d], counts[d], int(registrations_per_day[d]))

    log_odds = log_odds_table[pair_day, pattern]
    keep = log_odds > NEGLIGIBLE_LOG_ODDS
    scored = pd.DataFrame({"click": click[keep], "registration": registration[keep], "delay_s": delay[keep],
                           "log_odds": log_odds[keep], "pattern": pattern[keep]})
    scored["standalone"], scored["confidence"] = link_confidence(scored, share[pair_day[keep]])
    chosen = greedy_one_to_one(scored, settings.min_confidence).reset_index(drop=True)
    chosen["match_rule"] = rule_names(chosen["pattern"].to_numpy())
    return Links(chosen, models)


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
    levels = pattern_levels()
    names = np.array([f"ip_{AGREEMENT_LABELS[i]}:{DELAY_LABELS[d]}" for d, i in zip(levels["delay"], levels["ip"])],
                     dtype=object)
    return names[patterns.astype(np.int64)]
