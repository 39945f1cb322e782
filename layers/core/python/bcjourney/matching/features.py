"""Comparison vectors of candidate pairs: a delay bin and the agreement of each country field."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def background_agreement(click_codes: pd.Series, other_codes: pd.Series) -> np.ndarray:
    """P(agree, disagree, missing) for an unrelated (click, registration) pair, from the two marginals."""
    click_share = click_codes.dropna().value_counts(normalize=True)
    other_share = other_codes.dropna().value_counts(normalize=True)
    present = (1 - click_codes.isna().mean()) * (1 - other_codes.isna().mean())
    agree = present * float((click_share * other_share.reindex(click_share.index, fill_value=0)).sum())
    return np.array([agree, present - agree, 1 - present])


def delay_bin(delay_s: np.ndarray) -> np.ndarray:
    return np.searchsorted(DELAY_EDGES, np.floor(delay_s), side="right") - 1


def agreement(left: pd.Series, right: pd.Series) -> np.ndarray:
    """AGREE/DISAGREE/MISSING per row of two aligned string columns of ISO codes."""
    left = left.fillna("").to_numpy(dtype=object)
    right = right.fillna("").to_numpy(dtype=object)
    missing = (left == "") | (right == "")
    same = left == right
    return np.where(missing, MISSING, np.where(same, AGREE, DISAGREE)).astype(np.int8)


def comparison_vectors(pairs: pd.DataFrame, clicks: pd.DataFrame, registrations: pd.DataFrame) -> pd.DataFrame:
    click_country = clicks["country_code"].iloc[pairs["click"]].reset_index(drop=True)
    return pd.DataFrame({
        "delay": delay_bin(pairs["delay_s"].to_numpy()),
        "ip": agreement(click_country, registrations["ip_country_code"].iloc[pairs["registration"]]
                        .reset_index(drop=True)),
        "residency": agreement(click_country, registrations["residency_country_code"]
                               .iloc[pairs["registration"]].reset_index(drop=True)),
    })
