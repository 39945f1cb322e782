"""Fellegi-Sunter model: m and u probabilities of each comparison level; m learned by EM from the data.

EM runs on the counts of each distinct comparison pattern (delay bin x IP agreement x residency agreement:
99 patterns), not on the pairs, so its cost does not grow with the number of candidate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import COUNTRY_LABELS, DELAY_LABELS, FIELDS, pattern_levels

_SMOOTH = 1e-6


@dataclass
class MatchModel:
    prior: float  # share of candidate pairs that are true links
    m: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | link)
    u: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | not a link)
    iterations: int = 0

    def pattern_log_odds(self) -> np.ndarray:
        """log of P(link | pattern) / P(not link | pattern), for every pattern code."""
        levels = pattern_levels()
        total = np.full(len(levels["delay"]), np.log(self.prior / (1 - self.prior)))
        for name in FIELDS:
            total += np.log(self.m[name][levels[name]]) - np.log(self.u[name][levels[name]])
        return total

    def describe(self) -> dict:
        labels = {"delay": DELAY_LABELS, "country": COUNTRY_LABELS}
        return {"prior": round(self.prior, 6), "iterations": self.iterations,
                **{f"{f}_m": dict(zip(labels[f], np.round(self.m[f], 6).tolist())) for f in FIELDS},
                **{f"{f}_u": dict(zip(labels[f], np.round(self.u[f], 6).tolist())) for f in FIELDS}}


def fit_em(pattern_counts: np.ndarray, n_registrations: int, u: dict[str, np.ndarray],
           max_iter: int = 500, tol: float = 1e-9) -> MatchModel:
    """Expectation-maximisation of the m probabilities and the prior, from the count of pairs per pattern.

    The u probabilities (how unrelated pairs compare) are fixed from the data's marginals: left free, EM
    drifts to the 'same country' cluster instead of the 'same user' one, since busy countries agree often.
    """
    n = float(pattern_counts.sum())
    u = {f: (u[f] + _SMOOTH) / (u[f] + _SMOOTH).sum() for f in FIELDS}
    if n == 0:
        return MatchModel(0.5, {f: np.full(k, 1 / k) for f, k in FIELDS.items()}, u)
    levels = pattern_levels()
    # start: links are quick and agree on country
    # start: links are quick and agree on country (levels: IP agree/disagree/missing x residency the same)
    m = {"delay": np.array([.01, .4, .35, .1, .05, .03, .02, .02, .01, .005, .005]),
         "country": np.array([.1, .01, .79, .01, .01, .04, .01, .01, .02])}
    model = MatchModel(min(0.5, max(1e-4, n_registrations / n)), m, u)
    for iteration in range(1, max_iter + 1):
        odds = np.exp(np.clip(model.pattern_log_odds(), -50, 50))
        linked = pattern_counts * odds / (1 + odds)  # expected links among each pattern's pairs
        new_prior = float(linked.sum() / n)
        for f, k in FIELDS.items():
            counts = np.bincount(levels[f], weights=linked, minlength=k) + _SMOOTH
            model.m[f] = counts / counts.sum()
        converged = abs(new_prior - model.prior) < tol
        model.prior = min(max(new_prior, 1e-6), 1 - 1e-6)
        model.iterations = iteration
        if converged:
            break
    return model
