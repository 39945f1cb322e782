"""One day of the partner's registrations: which clicks register, after what delay, with which IP country,
residency and score, plus the registrations no click explains."""

from __future__ import annotations

import numpy as np

from .clicks import _diurnal_seconds
from .planted import PlantedAnomalies, burst_registrations, registration_pile
from .reference import (
    _DAY,
    _DELAY_P,
    _DELAY_TAIL_MAX,
    _DOUBLE_CLICK_REGISTERS,
    _IP_BLANK,
    _IP_DASH,
    _IP_MISMATCH,
    _RESIDENCY_DASH,
    _RESIDENCY_FILLED,
    _RESIDENCY_OTHER,
    _SCORE_10,
    _SCORE_HIGH,
    _SCORE_REF,
)
from .sampling import _T, _concat, _draw, _Frame, _rows

# --------------------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------------------


def _partner_columns(rng: np.random.Generator, country: np.ndarray) -> dict[str, np.ndarray]:
    n = len(country)
    ip_idx = country.copy()
    vpn = rng.random(n) < _IP_MISMATCH
    other = _draw(rng, _T.country_cdf, n)
    other = np.where(other == country, (other + 1) % len(_T.ip_names), other)
    ip_idx[vpn] = other[vpn]
    ip = _T.ip_names[ip_idx].copy()
    u = rng.random(n)
    ip[u < _IP_DASH] = "-"
    ip[(u >= _IP_DASH) & (u < _IP_DASH + _IP_BLANK)] = ""

    res_idx = ip_idx.copy()
    elsewhere = rng.random(n) < _RESIDENCY_OTHER
    other = _draw(rng, _T.country_cdf, n)
    other = np.where(other == ip_idx, (other + 1) % len(_T.ip_names), other)
    res_idx[elsewhere] = other[elsewhere]
    res = _T.residency_names[res_idx].copy()
    u = rng.random(n)
    res[u >= _RESIDENCY_FILLED] = ""
    res[(u >= _RESIDENCY_FILLED) & (u < _RESIDENCY_FILLED + _RESIDENCY_DASH)] = "-"

    u = rng.random(n)
    score = np.full(n, "0", dtype=object)
    score[u < _SCORE_10] = "10"
    high = (u >= _SCORE_10) & (u < _SCORE_10 + _SCORE_HIGH)
    score[high] = rng.integers(11, 101, int(high.sum())).astype(str)
    score[(u >= _SCORE_10 + _SCORE_HIGH) & (u < _SCORE_10 + _SCORE_HIGH + _SCORE_REF)] = "#REF!"
    return {"residency": res, "ip": ip, "score": score}


def _delays(rng: np.random.Generator, n: int) -> np.ndarray:
    k = _draw(rng, _T.delay_cdf, n)
    tail = k == len(_DELAY_P)
    d = k.astype(np.int64)
    d[tail] = np.exp(rng.uniform(np.log(6), np.log(_DELAY_TAIL_MAX), int(tail.sum()))).astype(np.int64)
    return d


def _registrations_for_day(rng: np.random.Generator, clicks: _Frame, day_start: int, partner_from: int,
                           rate: float | np.ndarray, unexplained_share: float,
                           delay_tail_share: float = 0.0, planted_anomalies: PlantedAnomalies | None = None) -> _Frame:
    eligible = ~clicks["bot"] & (clicks["ts"] >= partner_from)
    # A double click (same session, same second) is one intent: its second click seldom registers again
    # (real data: 61% of such pairs are followed by one registration of their country, 17% by two).
    sid, sec = clicks["session_id"], clicks["sec"]
    repeat = np.zeros(_rows(clicks), bool)
    repeat[1:] = (sid[1:] == sid[:-1]) & (sec[1:] == sec[:-1])
    reg = eligible & (rng.random(_rows(clicks)) < np.where(repeat, rate * _DOUBLE_CLICK_REGISTERS, rate))
    n_ex = int(reg.sum())
    delay = _delays(rng, n_ex)
    if delay_tail_share:  # a partner stamping the completed sign-up: a share of the delays 10 s to 5 min
        tail = rng.random(n_ex) < delay_tail_share
        delay[tail] = np.exp(rng.uniform(np.log(10), np.log(300), int(tail.sum()))).astype(np.int64)
    explained = {
        "ts": clicks["ts"][reg] + delay,
        # a registration in the click's own second comes after it within that second
        "frac": np.where(delay == 0, clicks["frac"][reg] + rng.random(n_ex) * (1 - clicks["frac"][reg]),
                         rng.random(n_ex)),
        **_partner_columns(rng, clicks["country_idx"][reg]),
        "conversion_id": clicks["id"][reg],
    }
    if "planted_burst" in clicks:
        burst_registrations(explained, clicks["planted_burst"][reg], planted_anomalies, day_start)
    # Registrations no click explains: other channels, lost clicks.
    lo = max(day_start, partner_from)
    n_un = int(rng.poisson(n_ex * unexplained_share / (1 - unexplained_share))) if lo < day_start + _DAY else 0
    ts = day_start + _diurnal_seconds(rng, n_un)
    ts = np.where(ts < lo, lo + rng.integers(0, max(1, day_start + _DAY - lo), n_un), ts)
    unexplained = {
        "ts": ts,
        "frac": rng.random(n_un),
        **_partner_columns(rng, _draw(rng, _T.country_cdf, n_un)),
        "conversion_id": np.full(n_un, -1, np.int64),
    }
    return _concat([explained, unexplained, registration_pile(planted_anomalies, day_start)])
