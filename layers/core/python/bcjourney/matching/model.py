"""Fellegi-Sunter model: m and u probabilities of each comparison level; m learned by EM from the data.

Two fields: the delay bin (11 levels) and the joint agreement of IP and residency country with the click's
country (9 levels). EM runs on the counts of each of the 99 comparison patterns, not on the pairs, so its cost
does not grow with the number of candidate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .comparisons import PATTERNS

FIELDS = PATTERNS.sizes  # comparison name -> number of levels

_SMOOTH = 1e-6


@dataclass
class MatchModel:
    prior: float  # share of candidate pairs that are true links
    m: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | link)
    u: dict[str, np.ndarray] = field(default_factory=dict)  # P(level | not a link)
    iterations: int = 0

    def pattern_log_odds(self) -> np.ndarray:
        """log of P(link | pattern) / P(not link | pattern), for every pattern code."""
        levels = PATTERNS.levels()
        total = np.full(PATTERNS.size, np.log(self.prior / (1 - self.prior)))
        for name in FIELDS:
            total += np.log(self.m[name][levels[name]]) - np.log(self.u[name][levels[name]])
        return total

    def describe(self) -> dict:
        labels = {c.name: c.labels for c in PATTERNS.comparisons}
        return {"prior": round(self.prior, 6), "iterations": self.iterations,
                **{f"{f}_m": dict(zip(labels[f], np.round(self.m[f], 6).tolist())) for f in FIELDS},
                **{f"{f}_u": dict(zip(labels[f], np.round(self.u[f], 6).tolist())) for f in FIELDS}}


def fit_em_days(pattern_counts: np.ndarray, n_registrations: np.ndarray, u: dict[str, np.ndarray],
                max_steps: int = 5000, tol: float = 1e-9) -> list[MatchModel]:
    """Expectation-maximisation of the m probabilities and the prior, from the count of pairs per pattern;
    one independent model per row (day), iterated together so a backfill costs one loop, not one per day.

    `pattern_counts` is (days, patterns); `u[field]` is (days, levels). The u probabilities (how unrelated
    pairs compare) are fixed from the data's marginals: left free, EM drifts to the 'same country' cluster
    instead of the 'same user' one, since busy countries agree often. Each row stops at its own convergence
    (an EM step moves its prior by less than `tol`), so a day's model is the same whichever days it is fitted
    with. Plain EM crawls here (real days need up to 700 steps, days at fifteen times the real click rate up to
    4,000), so it is accelerated by SQUAREM: two EM steps give a direction, the parameters jump along it, and
    one more step settles them; a jump that leaves the probabilities or lowers the likelihood is not taken.
    """
    em = _EM(pattern_counts, u)
    theta = em.start(n_registrations)
    steps = np.zeros(len(theta), dtype=int)
    active = np.flatnonzero(pattern_counts.sum(axis=1) > 0)
    while len(active) and steps[active].max() < max_steps:
        theta0 = theta[active]
        theta1 = em.step(theta0, active)
        theta2 = em.step(theta1, active)
        jumped = em.step(_squarem_jump(theta0, theta1, theta2), active)
        # keep the jump only where it improved on its start; else the two plain steps
        worse = em.log_likelihood(jumped, active) < em.log_likelihood(theta0, active)
        theta[active] = np.where(worse[:, None], theta2, jumped)
        steps[active] += 3
        moved = np.where(worse, np.abs(theta2[:, 0] - theta1[:, 0]), np.abs(jumped[:, 0] - theta0[:, 0]))
        active = active[moved >= tol]
    return [em.model(theta[d], d, int(steps[d])) for d in range(len(theta))]


def _squarem_jump(theta0: np.ndarray, theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
    """SQUAREM's extrapolation (Varadhan & Roland 2008, scheme S3), per row; a row whose jump would leave
    the probabilities falls back to the second plain step (step length -1)."""
    r = theta1 - theta0
    v = theta2 - 2 * theta1 + theta0
    r_norm, v_norm = np.sqrt((r * r).sum(axis=1)), np.sqrt((v * v).sum(axis=1))
    alpha = np.minimum(-np.divide(r_norm, v_norm, out=np.ones_like(r_norm), where=v_norm > 0), -1.0)
    jumped = theta0 - 2 * alpha[:, None] * r + (alpha * alpha)[:, None] * v
    valid = ((jumped > 0) & (jumped < 1)).all(axis=1)
    return np.where(valid[:, None], jumped, theta2)


class _EM:
    """One EM step on the parameter rows [prior, m(delay levels), m(country levels)], one row per day."""

    def __init__(self, pattern_counts: np.ndarray, u: dict[str, np.ndarray]):
        self.counts = pattern_counts
        self.n = pattern_counts.sum(axis=1)
        levels = PATTERNS.levels()
        self.u = {f: (u[f] + _SMOOTH) / (u[f] + _SMOOTH).sum(axis=1, keepdims=True) for f in FIELDS}
        self.log_u = sum(np.log(self.u[f][:, levels[f]]) for f in FIELDS)
        # each field's slice of a parameter row, and the column of each pattern's level in it
        self.slices, self.columns, first = {}, {}, 1
        for f, k in FIELDS.items():
            self.slices[f] = slice(first, first + k)
            self.columns[f] = first + levels[f]
            first += k
        self.width = first

    def start(self, n_registrations: np.ndarray) -> np.ndarray:
        # the prior: about one link per registration; m: where each comparison says a true link's pairs lie
        theta = np.empty((len(self.counts), self.width))
        theta[:, 0] = np.clip(n_registrations / np.maximum(self.n, 1), 1e-4, 0.5)
        for comparison in PATTERNS.comparisons:
            theta[:, self.slices[comparison.name]] = comparison.starting_m
        return theta

    def log_m(self, theta: np.ndarray) -> np.ndarray:
        """log P(pattern | link) for every pattern, per row."""
        log_theta = np.log(theta)
        return sum(log_theta[:, self.columns[f]] for f in FIELDS)

    def log_odds(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        prior = theta[:, 0]
        return np.log(prior / (1 - prior))[:, None] - self.log_u[rows] + self.log_m(theta)

    def step(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        odds = np.exp(np.clip(self.log_odds(theta, rows), -50, 50))
        linked = self.counts[rows] * odds / (1 + odds)  # expected links among each pattern's pairs
        out = np.empty_like(theta)
        out[:, 0] = np.clip(linked.sum(axis=1) / self.n[rows], 1e-6, 1 - 1e-6)
        row = np.arange(len(rows))[:, None]
        for f, k in FIELDS.items():
            # per row and level, summed in pattern order (bincount: the same sums whatever the other rows)
            sums = np.bincount((row * k + self.columns[f][None, :] - self.slices[f].start).ravel(),
                               weights=linked.ravel(), minlength=len(rows) * k).reshape(len(rows), k) + _SMOOTH
            out[:, self.slices[f]] = sums / sums.sum(axis=1, keepdims=True)
        return out

    def log_likelihood(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Of the pattern counts under the two-class mixture (link or not), per row, up to a constant."""
        prior = theta[:, 0][:, None]
        mixture = np.logaddexp(np.log(prior) + self.log_m(theta), np.log(1 - prior) + self.log_u[rows])
        return (self.counts[rows] * mixture).sum(axis=1)

    def model(self, theta: np.ndarray, row: int, steps: int) -> MatchModel:
        if self.n[row] == 0:
            return MatchModel(0.5, {f: np.full(k, 1 / k) for f, k in FIELDS.items()},
                              {f: self.u[f][row] for f in FIELDS}, 0)
        return MatchModel(float(theta[0]), {f: theta[self.slices[f]].copy() for f in FIELDS},
                          {f: self.u[f][row] for f in FIELDS}, steps)
