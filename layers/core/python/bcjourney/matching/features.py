"""Comparison vectors of candidate pairs: a delay bin and the joint agreement of the two country fields.

IP country and residency are one field with nine levels (each agreeing, disagreeing or missing), not two
independent ones: a partner's residency mostly follows its own IP country, so for a VPN user both disagree
with the click together, and counting them as two pieces of evidence would punish that user twice.
"""

from __future__ import annotations

import numpy as np

# Left edges of the delay bins, seconds from click to registration; the real delay is 0-5 s for most users
DELAY_EDGES = np.array([-np.inf, 0, 1, 2, 3, 4, 5, 6, 11, 31, 121])
DELAY_LABELS = ["before_click", "0s", "1s", "2s", "3s", "4s", "5s", "6-10s", "11-30s", "31-120s", "121s+"]

AGREE, DISAGREE, MISSING = 0, 1, 2
AGREEMENT_LABELS = ["agree", "disagree", "missing"]
N_AGREEMENT = len(AGREEMENT_LABELS)
COUNTRY_LABELS = [f"ip_{ip}/residency_{res}" for ip in AGREEMENT_LABELS for res in AGREEMENT_LABELS]

FIELDS = {"delay": len(DELAY_LABELS), "country": len(COUNTRY_LABELS)}
N_PATTERNS = len(DELAY_LABELS) * len(COUNTRY_LABELS)


def background_delay_distribution(before_s: int, after_s: int) -> np.ndarray:
    """P(delay bin) for a click unrelated to the registration: clicks fall uniformly in time, so each bin's
    probability is its width within the candidate window."""
    edges = np.clip(np.append(DELAY_EDGES, np.inf), -after_s, before_s + 1)
    widths = np.diff(edges)
    return widths / widths.sum()


def background_country_agreement(click_country: np.ndarray, ip_country: np.ndarray,
                                 residency_country: np.ndarray, n_countries: int) -> np.ndarray:
    """P(country level) for an unrelated (click, registration) pair: a click drawn from the clicks' country
    shares, compared with each registration's own (IP, residency) pair. Countries are small integer ids,
    -1 where missing."""
    present_clicks = click_country[click_country >= 0]
    share = np.bincount(present_clicks, minlength=max(n_countries, 1)) / max(len(present_clicks), 1)
    click_present = len(present_clicks) / len(click_country) if len(click_country) else 0.0
    n = len(ip_country)
    if n == 0:
        return np.full(len(COUNTRY_LABELS), 1 / len(COUNTRY_LABELS))
    ip_ok, res_ok = ip_country >= 0, residency_country >= 0
    s_ip = np.where(ip_ok, share[np.maximum(ip_country, 0)], 0.0)
    s_res = np.where(res_ok, share[np.maximum(residency_country, 0)], 0.0)
    same = ip_ok & res_ok & (ip_country == residency_country)
    # the click agrees with the IP, with the residency, with both (same country), or with neither
    outcomes = [
        (s_ip, np.where(ip_ok, AGREE, MISSING), np.where(same, AGREE, np.where(res_ok, DISAGREE, MISSING))),
        (np.where(same, 0.0, s_res), np.where(ip_ok, DISAGREE, MISSING), np.where(res_ok, AGREE, MISSING)),
        (1 - s_ip - np.where(same, 0.0, s_res), np.where(ip_ok, DISAGREE, MISSING),
         np.where(res_ok, DISAGREE, MISSING)),
    ]
    total = np.zeros(len(COUNTRY_LABELS))
    for weight, ip, res in outcomes:
        total += np.bincount(ip * N_AGREEMENT + res, weights=weight, minlength=len(COUNTRY_LABELS))
    total /= n
    missing_click = np.zeros(len(COUNTRY_LABELS))
    missing_click[MISSING * N_AGREEMENT + MISSING] = 1.0
    return click_present * total + (1 - click_present) * missing_click


_LUT_LOW, _LUT_HIGH = -1, int(DELAY_EDGES[-1])
# delay bin of each whole second from _LUT_LOW to _LUT_HIGH; anything beyond falls in the end bins
_DELAY_BIN_OF_SECOND = (np.searchsorted(DELAY_EDGES, np.arange(_LUT_LOW, _LUT_HIGH + 1), side="right") - 1).astype(np.int8)


def delay_bin(delay_ms: np.ndarray) -> np.ndarray:
    """Delay bin of each delay in milliseconds (bins are whole seconds: 1.9 s is in '1s')."""
    whole = np.floor_divide(delay_ms, 1000)
    np.clip(whole, _LUT_LOW, _LUT_HIGH, out=whole)
    return _DELAY_BIN_OF_SECOND[(whole - _LUT_LOW).astype(np.int16)]


def pattern_code(delay: np.ndarray, ip: np.ndarray, residency: np.ndarray) -> np.ndarray:
    """One small integer per comparison vector (delay bin, IP agreement, residency agreement)."""
    return (delay.astype(np.int16) * len(COUNTRY_LABELS) + ip.astype(np.int16) * N_AGREEMENT
            + residency.astype(np.int16)).astype(np.int16)


def pattern_levels() -> dict[str, np.ndarray]:
    """The level of each field for every pattern code, the inverse of pattern_code."""
    codes = np.arange(N_PATTERNS)
    return {"delay": codes // len(COUNTRY_LABELS), "country": codes % len(COUNTRY_LABELS),
            "ip": (codes // N_AGREEMENT) % N_AGREEMENT}


def comparison_patterns(click: np.ndarray, registration: np.ndarray, delay_ms: np.ndarray,
                        click_country: np.ndarray, ip_country: np.ndarray, residency_country: np.ndarray) -> np.ndarray:
    """Pattern code of each candidate pair; countries are integer ids, -1 where missing."""
    clicked = click_country[click]
    return pattern_code(delay_bin(delay_ms),
                        agreement_codes(clicked, ip_country[registration]),
                        agreement_codes(clicked, residency_country[registration]))


def agreement_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    codes = (left != right).view(np.int8)  # AGREE 0, DISAGREE 1
    codes[(left < 0) | (right < 0)] = MISSING
    return codes
