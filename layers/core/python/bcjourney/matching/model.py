"""Fellegi-Sunter model: m and u probabilities of each comparison level, learned by EM from the data."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .features import COUNTRY_LABELS, DELAY_LABELS

FIELDS = {"delay": len(DELAY_LABELS), "ip": len(COUNTRY_LABELS), "residency": len(COUNTRY_LABELS)}
_SMOOTH = 1e-6


@dataclass
class MatchModel:
    prior: float  # share of candidate pairs that are true links
    m: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | link)
    u: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | not a link)
    iterations: int = 0

    def log_odds(self, vectors: pd.DataFrame) -> np.ndarray:
        """log of P(link | comparison) / P(not link | comparison), per pair."""
        total = np.full(len(vectors), np.log(self.prior / (1 - self.prior)))
        for name in FIELDS:
            levels = vectors[name].to_numpy()
            total += np.log(self.m[name][levels]) - np.log(self.u[name][levels])
        return total

    def describe(self) -> dict:
        labels = {"delay": DELAY_LABELS, "ip": COUNTRY_LABELS, "residency": COUNTRY_LABELS}
        return {"prior": round(self.prior, 6), "iterations": self.iterations,
                **{f"{f}_m": dict(zip(labels[f], np.round(self.m[f], 6).tolist())) for f in FIELDS},
                **{f"{f}_u": dict(zip(labels[f], np.round(self.u[f], 6).tolist())) for f in FIELDS}}


def fit_em(vectors: pd.DataFrame, n_registrations: int, u: dict[str, np.ndarray],
           max_iter: int = 200, tol: float = 1e-8) -> MatchModel:
    """Expectation-maximisation of the m probabilities and the prior over all candidate pairs.

    The u probabilities (how unrelated pairs compare) are fixed from the data's marginals: left free, EM
    drifts to the 'same country' cluster instead of the 'same user' one, since busy countries agree often.
    """
    n = len(vectors)
    if n == 0:
        return _uninformed()
    levels = {f: vectors[f].to_numpy() for f in FIELDS}
    # start: links are quick and agree on country; non-links spread like background traffic
    m = {"delay": np.array([.01, .4, .35, .1, .05, .03, .02, .02, .01, .005, .005]),
         "ip": np.array([.9, .05, .05]), "residency": np.array([.1, .02, .88])}
    prior = min(0.5, max(1e-4, n_registrations / n))
    model = MatchModel(prior, m, {f: (u[f] + _SMOOTH) / (u[f] + _SMOOTH).sum() for f in FIELDS})
    for iteration in range(1, max_iter + 1):
        odds = np.exp(np.clip(model.log_odds(vectors), -50, 50))
        posterior = odds / (1 + odds)
        new_prior = float(posterior.mean())
        for f, k in FIELDS.items():
            m_counts = np.bincount(levels[f], weights=posterior, minlength=k) + _SMOOTH
            model.m[f] = m_counts / m_counts.sum()
        converged = abs(new_prior - model.prior) < tol
        model.prior = min(max(new_prior, 1e-6), 1 - 1e-6)
        model.iterations = iteration
        if converged:
            break
    return model


def _uninformed() -> MatchModel:
    return MatchModel(0.5, {f: np.full(k, 1 / k) for f, k in FIELDS.items()},
                      {f: np.full(k, 1 / k) for f, k in FIELDS.items()})
