"""The pure matching pipeline: candidates -> comparison patterns -> EM model per day -> one-to-one links."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assign import eligible_pairs, explain_away, greedy_one_to_one, improve_by_trades
from .candidates import MS, ClickIndex, Window, candidate_pairs, far_click_counts
from .comparisons import AGREE, AGREEMENT_LABELS, COUNTRY, DELAY, DISAGREE, MISSING, PATTERNS
from .inputs import MatchInputs
from .model import MatchModel, fit_em_days

N_PATTERNS = PATTERNS.size

DAY_S = 86_400


@dataclass(frozen=True)
class MatchSettings:
    window: Window = field(default_factory=Window)
    min_confidence: float = 0.5  # below this a registration stays unlinked: a guess would mislead


@dataclass
class Links:
    pairs: pd.DataFrame  # click, registration (positions), log_odds, standalone, confidence, match_rule
    models: dict[str, MatchModel]  # one per registration day


def link(inputs: MatchInputs, settings: MatchSettings = MatchSettings()) -> Links:
    """Links between the clicks and registrations of `inputs`, both in time order: ties between equal scores go
    by position (the earlier click with the earlier registration), which the lake's loaders guarantee.

    The model is fitted per registration day on that day's registrations and every click of their window, so
    a day's links come out the same whether it is matched alone (with its neighbours loaded) or in a range.
    Returns one row per link, by position in the two frames.
    """
    window = settings.window
    click_times, click_country = inputs.click_times, inputs.click_country
    registration_times, ip_country, residency_country = (inputs.registration_times, inputs.ip_country,
                                                         inputs.residency_country)
    n_countries = inputs.n_countries
    index = ClickIndex(click_times, click_country)
    pairs = candidate_pairs(index, registration_times, ip_country, residency_country, window)
    n_near = pairs.n_near
    click, registration = pairs.click, pairs.registration
    pattern = PATTERNS.code(delay=DELAY.encode(pairs.delay_ms),
                            country=COUNTRY.encode(click_country[click], ip_country[registration],
                                                   residency_country[registration]))
    del pairs

    day_number = np.floor_divide(registration_times, DAY_S * MS)
    day_of_registration, day_numbers = pd.factorize(day_number, sort=True)
    day_of_registration = day_of_registration.astype(np.int32)
    n_days = len(day_numbers)
    near = slice(0, n_near)  # the near pairs come first; the far ones are counted below, all of them
    counts = np.bincount(day_of_registration[registration[near]] * N_PATTERNS + pattern[near],
                         minlength=n_days * N_PATTERNS).astype(np.float64)
    counts += far_pattern_counts(index, registration_times, ip_country, residency_country, day_of_registration,
                                 n_days, window)
    counts = counts.reshape(n_days, N_PATTERNS)

    registrations_per_day = np.bincount(day_of_registration, minlength=n_days)
    delay_u = DELAY.chance(window.before_s, window.after_s)
    country_u = np.zeros((n_days, COUNTRY.n_levels))
    for d, number in enumerate(day_numbers):
        of_day = day_of_registration == d
        country_u[d] = COUNTRY.chance(clicks_around_day(index, int(number), window), ip_country[of_day],
                                      residency_country[of_day], n_countries)
    fitted = fit_em_days(counts, registrations_per_day, {DELAY.name: np.tile(delay_u, (n_days, 1)),
                                                         COUNTRY.name: country_u})
    models = {pd.Timestamp(int(number) * DAY_S, unit="s").strftime("%Y-%m-%d"): model
              for number, model in zip(day_numbers, fitted)}
    log_odds_table = np.array([model.pattern_log_odds() for model in fitted]).reshape(n_days, N_PATTERNS)
    share = np.array([share_explained(log_odds_table[d], counts[d], int(registrations_per_day[d]))
                      for d in range(n_days)])

    cell = day_of_registration[registration] * N_PATTERNS + pattern  # the day's model scores the pattern
    scored = eligible_pairs(click, registration, cell, log_odds_table.ravel(), np.repeat(share, N_PATTERNS),
                            settings.min_confidence)
    chosen = improve_by_trades(scored, greedy_one_to_one(scored, settings.min_confidence))
    chosen = explain_away(scored, chosen).reset_index(drop=True)
    chosen["match_rule"] = rule_names(chosen["cell"].to_numpy() % N_PATTERNS)
    return Links(chosen.drop(columns=["cell", "odds", "no_link", "weak_rivals"]), models)


def clicks_around_day(index: ClickIndex, day_number: int, window: Window) -> np.ndarray:
    """Country ids of every click that can be a candidate of a registration of that day."""
    lo, hi = np.searchsorted(index.times, [(day_number * DAY_S - window.before_s) * MS,
                                           ((day_number + 1) * DAY_S + window.after_s) * MS])
    return index.click_country[index.by_time[lo:hi]]


def far_pattern_counts(index: ClickIndex, registration_times: np.ndarray, ip_country: np.ndarray,
                       residency_country: np.ndarray, day_of_registration: np.ndarray, n_days: int,
                       window: Window) -> np.ndarray:
    """Pattern counts (day x pattern, flattened) of every pair of the far part of the window, most of which
    are never enumerated: clicks of the IP country, of the residency country, with no country, and of any
    other country."""
    far = far_click_counts(index, registration_times, ip_country, residency_country, window)
    ip_ok, res_ok = ip_country >= 0, residency_country >= 0
    ip_otherwise = np.where(ip_ok, DISAGREE, MISSING)
    res_otherwise = np.where(res_ok, DISAGREE, MISSING)
    res_for_ip_click = np.where(res_ok, np.where(residency_country == ip_country, AGREE, DISAGREE), MISSING)
    country_level = {
        "ip": COUNTRY.level(AGREE, res_for_ip_click),
        "residency": COUNTRY.level(ip_otherwise, AGREE),
        "no_country": np.full(len(ip_country), COUNTRY.level(MISSING, MISSING)),  # as COUNTRY.encode says
        "other": COUNTRY.level(ip_otherwise, res_otherwise),
    }
    amount = {"ip": far["ip"], "residency": far["residency"], "no_country": far["no_country"],
              "other": far["total"] - far["ip"] - far["residency"] - far["no_country"]}
    first_bin = int(DELAY.encode(np.array([window.any_country_below_s * MS]))[0])
    out = np.zeros(n_days * N_PATTERNS)
    for group, level in country_level.items():
        for b in range(amount[group].shape[1]):
            code = day_of_registration * N_PATTERNS + PATTERNS.code(delay=first_bin + b, country=level)
            out += np.bincount(code, weights=amount[group][:, b], minlength=n_days * N_PATTERNS)
    return out


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
