"""Fellegi-Sunter model: m and u probabilities of each comparison level; m learned by EM from the data.

Two fields: the delay bin (11 levels) and the joint agreement of IP and residency country with the click's
country (9 levels). EM runs on the counts of each of the 99 comparison patterns, not on the pairs, so its cost
does not grow with the number of candidate pairs.
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


def fit_em_days(pattern_counts: np.ndarray, n_registrations: np.ndarray, u: dict[str, np.ndarray],
                max_iter: int = 5000, tol: float = 1e-9) -> list[MatchModel]:
    """Expectation-maximisation of the m probabilities and the prior, from the count of pairs per pattern;
    one independent model per row (day), iterated together so a backfill costs one loop, not one per day.

    `pattern_counts` is (days, patterns); `u[field]` is (days, levels). The u probabilities (how unrelated
    pairs compare) are fixed from the data's marginals: left free, EM drifts to the 'same country' cluster
    instead of the 'same user' one, since busy countries agree often. Each row stops at its own convergence,
    so a day's model is the same whichever days it is fitted with. Most real days converge within 160
    iterations, a few need about 700, and days at fifteen times the real click rate about 1,500.
    """
    days = pattern_counts.shape[0]
    levels = pattern_levels()
    n = pattern_counts.sum(axis=1)
    u = {f: (u[f] + _SMOOTH) / (u[f] + _SMOOTH).sum(axis=1, keepdims=True) for f in FIELDS}
    log_u = sum(np.log(u[f][:, levels[f]]) for f in FIELDS)
    # start: links are quick and agree on country (levels: IP agree/disagree/missing x residency the same)
    start = {"delay": np.array([.01, .4, .35, .1, .05, .03, .02, .02, .01, .005, .005]),
             "country": np.array([.1, .01, .79, .01, .01, .04, .01, .01, .02])}
    m = {f: np.tile(start[f], (days, 1)) for f in FIELDS}
    prior = np.clip(n_registrations / np.maximum(n, 1), 1e-4, 0.5)
    iterations = np.zeros(days, dtype=int)
    active = np.flatnonzero(n > 0)
    for iteration in range(1, max_iter + 1):
        if not len(active):
            break
        log_odds = (np.log(prior[active] / (1 - prior[active]))[:, None] - log_u[active]
                    + sum(np.log(m[f][active][:, levels[f]]) for f in FIELDS))
        odds = np.exp(np.clip(log_odds, -50, 50))
        linked = pattern_counts[active] * odds / (1 + odds)  # expected links among each pattern's pairs
        new_prior = linked.sum(axis=1) / n[active]
        rows = np.arange(len(active))[:, None]
        for f, k in FIELDS.items():
            # per row and level, summed in pattern order (bincount: the same sums whatever the other rows)
            sums = np.bincount((rows * k + levels[f][None, :]).ravel(), weights=linked.ravel(),
                               minlength=len(active) * k).reshape(len(active), k) + _SMOOTH
            m[f][active] = sums / sums.sum(axis=1, keepdims=True)
        converged = np.abs(new_prior - prior[active]) < tol
        prior[active] = np.clip(new_prior, 1e-6, 1 - 1e-6)
        iterations[active] = iteration
        active = active[~converged]
    return [MatchModel(float(prior[d]) if n[d] > 0 else 0.5,
                       {f: m[f][d].copy() if n[d] > 0 else np.full(k, 1 / k) for f, k in FIELDS.items()},
                       {f: u[f][d] for f in FIELDS}, int(iterations[d]))
            for d in range(days)]
