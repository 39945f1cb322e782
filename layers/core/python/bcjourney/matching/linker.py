"""The pure matching pipeline: candidates -> comparison vectors -> EM model -> one-to-one links."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assign import greedy_one_to_one, link_confidence
from .candidates import Window, candidate_pairs
from .features import (COUNTRY_LABELS, DELAY_LABELS, background_agreement, background_delay_distribution,
                       comparison_vectors)
from .model import MatchModel, fit_em


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


def link(clicks: pd.DataFrame, registrations: pd.DataFrame, settings: MatchSettings = MatchSettings()) -> Links:
    """`clicks` need converted_at and country_code; `registrations` registered_at, ip_ and residency_country_code.

    The model is fitted per registration day on that day's registrations and all their candidate clicks, so
    a day's links come out the same whether it is matched alone (with its neighbours loaded) or in a range.
    Returns one row per link, by position in the two frames.
    """
    pairs = candidate_pairs(epoch_seconds(clicks["converted_at"]), epoch_seconds(registrations["registered_at"]),
                            settings.window)
    vectors = comparison_vectors(pairs, clicks, registrations)
    registration_day = registrations["registered_at"].dt.strftime("%Y-%m-%d").to_numpy()
    pair_day = registration_day[pairs["registration"].to_numpy()]
    log_odds = np.zeros(len(pairs))
    share = np.ones(len(pairs))
    models = {}
    for day, rows in pd.Series(np.arange(len(pairs))).groupby(pair_day).indices.items():
        day_pairs, day_vectors = pairs.iloc[rows], vectors.iloc[rows]
        day_registrations = registrations[registration_day == day]
        day_clicks = clicks.iloc[np.unique(day_pairs["click"].to_numpy())]
        background = {
            "delay": background_delay_distribution(settings.window.before_s, settings.window.after_s),
            "ip": background_agreement(day_clicks["country_code"], day_registrations["ip_country_code"]),
            "residency": background_agreement(day_clicks["country_code"],
                                              day_registrations["residency_country_code"]),
        }
        models[day] = fit_em(day_vectors, n_registrations=len(day_registrations), u=background)
        log_odds[rows] = models[day].log_odds(day_vectors)
        share[rows] = share_explained(log_odds[rows], len(day_registrations))
    pairs["log_odds"] = log_odds
    pairs["standalone"], pairs["confidence"] = link_confidence(pairs, share)
    pairs["match_rule"] = _rule_names(vectors)
    chosen = greedy_one_to_one(pairs, settings.min_confidence)
    return Links(chosen.reset_index(drop=True), models)


def share_explained(log_odds: np.ndarray, n_registrations: int) -> float:
    """The model's estimate of the share of registrations that some candidate click explains."""
    if n_registrations == 0:
        return 0.5
    expected_links = float((1 / (1 + np.exp(-np.clip(log_odds, -50, 50)))).sum())
    return min(0.999, max(0.5, expected_links / n_registrations))


def _rule_names(vectors: pd.DataFrame) -> np.ndarray:
    """A short name for the evidence behind a link, e.g. 'ip_agree:1s'."""
    delay = np.array(DELAY_LABELS, dtype=object)[vectors["delay"].to_numpy()]
    ip = np.array(COUNTRY_LABELS, dtype=object)[vectors["ip"].to_numpy()]
    return np.char.add(np.char.add("ip_", ip.astype(str)), np.char.add(":", delay.astype(str))).astype(object)
