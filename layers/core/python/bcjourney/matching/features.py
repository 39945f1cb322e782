"""Comparison vectors of candidate pairs: a delay bin and the agreement of each country field."""

from __future__ import annotations

import numpy as np

# Left edges of the delay bins, seconds from click to registration; the real delay is 0-5 s for most users
DELAY_EDGES = np.array([-np.inf, 0, 1, 2, 3, 4, 5, 6, 11, 31, 121])
DELAY_LABELS = ["before_click", "0s", "1s", "2s", "3s", "4s", "5s", "6-10s", "11-30s", "31-120s", "121s+"]

AGREE, DISAGREE, MISSING = 0, 1, 2
COUNTRY_LABELS = ["agree", "disagree", "missing"]


def background_delay_distribution(before_s: int, after_s: int) -> np.ndarray:
    """P(delay bin) for a click unrelated to the registration: clicks fall uniformly in time, so each bin's
    probability is its width within the candidate window."""
    edges = np.clip(np.append(DELAY_EDGES, np.inf), -after_s, before_s + 1)
    widths = np.diff(edges)
    return widths / widths.sum()


def background_agreement(click_country: np.ndarray, other_country: np.ndarray, n_countries: int) -> np.ndarray:
    """P(agree, disagree, missing) for an unrelated (click, registration) pair, from the two marginals.

    Countries are small integer ids, -1 where missing."""
    def shares(ids: np.ndarray) -> np.ndarray:
        present = ids[ids >= 0]
        return np.bincount(present, minlength=n_countries) / max(len(present), 1)

    present = (np.mean(click_country >= 0) if len(click_country) else 0.0) * \
              (np.mean(other_country >= 0) if len(other_country) else 0.0)
    agree = present * float(shares(click_country) @ shares(other_country))
    return np.array([agree, present - agree, 1 - present])


def delay_bin(delay_s: np.ndarray) -> np.ndarray:
    return np.searchsorted(DELAY_EDGES, np.floor(delay_s), side="right") - 1


FIELDS = {"delay": len(DELAY_LABELS), "ip": len(COUNTRY_LABELS), "residency": len(COUNTRY_LABELS)}
N_PATTERNS = len(DELAY_LABELS) * len(COUNTRY_LABELS) * len(COUNTRY_LABELS)


def pattern_code(delay: np.ndarray, ip: np.ndarray, residency: np.ndarray) -> np.ndarray:
    """One small integer per comparison vector (delay bin, IP agreement, residency agreement)."""
    return (delay.astype(np.int16) * 9 + ip.astype(np.int16) * 3 + residency.astype(np.int16)).astype(np.int16)


def pattern_levels() -> dict[str, np.ndarray]:
    """The level of each field for every pattern code, the inverse of pattern_code."""
    codes = np.arange(N_PATTERNS)
    return {"delay": codes // 9, "ip": (codes // 3) % 3, "residency": codes % 3}


def comparison_patterns(click: np.ndarray, registration: np.ndarray, delay_s: np.ndarray,
                        click_country: np.ndarray, ip_country: np.ndarray, residency_country: np.ndarray) -> np.ndarray:
    """Pattern code of each candidate pair; countries are integer ids, -1 where missing."""
    clicked = click_country[click]
    return pattern_code(delay_bin(delay_s),
                        agreement_codes(clicked, ip_country[registration]),
                        agreement_codes(clicked, residency_country[registration]))


def agreement_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    missing = (left < 0) | (right < 0)
    return np.where(missing, MISSING, np.where(left == right, AGREE, DISAGREE)).astype(np.int8)
