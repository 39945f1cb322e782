"""Candidate pairs: every click within a time window around each registration, found by sorted search
(blocking by time), so the cost grows with the number of pairs, not clicks x registrations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Window:
    before_s: int = 600  # a click up to this long before the registration may explain it
    after_s: int = 10  # slack for partner clocks running behind ours


def candidate_pairs(click_times: np.ndarray, registration_times: np.ndarray, window: Window) -> pd.DataFrame:
    """Pairs (click, registration) as positional indices with delay_s = registration - click.

    `click_times` and `registration_times` are epoch seconds (float), in any order.
    """
    order = np.argsort(click_times, kind="stable")
    sorted_times = click_times[order]
    lo = np.searchsorted(sorted_times, registration_times - window.before_s, side="left")
    hi = np.searchsorted(sorted_times, registration_times + window.after_s, side="right")
    counts = hi - lo
    registration = np.repeat(np.arange(len(registration_times)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    click = order[np.repeat(lo, counts) + offsets]
    return pd.DataFrame({
        "click": click,
        "registration": registration,
        "delay_s": registration_times[registration] - click_times[click],
    })
