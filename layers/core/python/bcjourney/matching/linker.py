"""The pure matching pipeline: candidates -> comparison vectors -> EM model -> one-to-one links."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .assign import greedy_one_to_one, link_confidence
from .candidates import Window, candidate_pairs
from .features import COUNTRY_LABELS, DELAY_LABELS, comparison_vectors
from .model import MatchModel, fit_em


@dataclass(frozen=True)
class MatchSettings:
    window: Window = field(default_factory=Window)
    min_confidence: float = 0.5  # below this a registration stays unlinked: a guess would mislead


@dataclass
class Links:
    pairs: pd.DataFrame  # click, registration (positions), delay_s, log_odds, confidence, match_rule
    model: MatchModel


def epoch_seconds(times: pd.Series) -> np.ndarray:
    return times.astype("datetime64[ms]").to_numpy().astype("int64") / 1000.0


def link(clicks: pd.DataFrame, registrations: pd.DataFrame, settings: MatchSettings = MatchSettings()) -> Links:
    """`clicks` need converted_at and country_code; `registrations` registered_at, ip_ and residency_country_code.

    Returns one row per link, by position in the two frames.
    """
    pairs = candidate_pairs(epoch_seconds(clicks["converted_at"]), epoch_seconds(registrations["registered_at"]),
                            settings.window)
    vectors = comparison_vectors(pairs, clicks, registrations)
    model = fit_em(vectors, n_registrations=len(registrations))
    pairs["log_odds"] = model.log_odds(vectors)
    pairs["confidence"] = link_confidence(pairs)
    pairs["match_rule"] = _rule_names(vectors)
    chosen = greedy_one_to_one(pairs, settings.min_confidence)
    return Links(chosen.reset_index(drop=True), model)


def _rule_names(vectors: pd.DataFrame) -> np.ndarray:
    """A short name for the evidence behind a link, e.g. 'ip_agree:1s'."""
    delay = np.array(DELAY_LABELS, dtype=object)[vectors["delay"].to_numpy()]
    ip = np.array(COUNTRY_LABELS, dtype=object)[vectors["ip"].to_numpy()]
    return np.char.add(np.char.add("ip_", ip.astype(str)), np.char.add(":", delay.astype(str))).astype(object)
