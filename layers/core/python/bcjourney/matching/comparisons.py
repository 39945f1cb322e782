"""The comparisons of a candidate pair, as objects (after Splink's comparison library): each owns its levels and
their labels, the m probabilities EM starts from, how a pair is encoded into a level, and the chance (u)
probability of each level for an unrelated pair. `PATTERNS` combines them into one small integer per comparison
vector; adding a field (say the partner's device) is one more comparison in that list.

The modelling rule: fields are independent given link or non-link, so a field must not double-count evidence.
Hence IP country and residency are one comparison with nine levels (each agreeing, disagreeing or missing), not
two: a partner's residency mostly follows its own IP country, so for a VPN user both disagree with the click
together, and counting them as two pieces of evidence would punish that user twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

AGREE, DISAGREE, MISSING = 0, 1, 2
AGREEMENT_LABELS = ("agree", "disagree", "missing")


@dataclass(frozen=True)
class Comparison:
    name: str
    labels: tuple[str, ...]
    starting_m: tuple[float, ...]  # where EM starts: what a true link's pairs look like, roughly

    @property
    def n_levels(self) -> int:
        return len(self.labels)


class DelayComparison(Comparison):
    """Seconds from click to registration, in bins: the real delay is 0-5 s for most users."""

    edges = np.array([-np.inf, 0, 1, 2, 3, 4, 5, 6, 11, 31, 121])  # left edges of the bins

    # the bin of each whole second from _LOW to _HIGH; anything beyond falls in the end bins
    _LOW, _HIGH = -1, int(edges[-1])
    _BIN_OF_SECOND = (np.searchsorted(edges, np.arange(_LOW, _HIGH + 1), side="right") - 1).astype(np.int8)

    def __init__(self) -> None:
        super().__init__("delay", ("before_click", "0s", "1s", "2s", "3s", "4s", "5s", "6-10s", "11-30s", "31-120s",
                                   "121s+"), (.01, .4, .35, .1, .05, .03, .02, .02, .01, .005, .005))

    def encode(self, delay_ms: np.ndarray) -> np.ndarray:
        """Bin of each delay in milliseconds (bins are whole seconds: 1.9 s is in '1s')."""
        whole = np.floor_divide(delay_ms, 1000)
        np.clip(whole, self._LOW, self._HIGH, out=whole)
        return self._BIN_OF_SECOND[(whole - self._LOW).astype(np.int16)]

    def chance(self, before_s: int, after_s: int) -> np.ndarray:
        """P(bin) for a click unrelated to the registration: clicks fall uniformly in time, so each bin's
        probability is its width within the candidate window."""
        edges = np.clip(np.append(self.edges, np.inf), -after_s, before_s + 1)
        widths = np.diff(edges)
        return widths / widths.sum()


class CountryComparison(Comparison):
    """The click's country against the registration's IP country and residency, jointly (see the module)."""

    def __init__(self) -> None:
        super().__init__("country", tuple(f"ip_{ip}/residency_{res}" for ip in AGREEMENT_LABELS
                                          for res in AGREEMENT_LABELS), (.1, .01, .79, .01, .01, .04, .01, .01, .02))

    @staticmethod
    def level(ip_agreement: Any, residency_agreement: Any) -> Any:
        """The joint level of an IP agreement and a residency agreement (AGREE, DISAGREE or MISSING each)."""
        return ip_agreement * len(AGREEMENT_LABELS) + residency_agreement

    @staticmethod
    def ip_agreement(level: Any) -> Any:
        return level // len(AGREEMENT_LABELS)

    @staticmethod
    def agreement(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        codes = (left != right).view(np.int8)  # AGREE 0, DISAGREE 1
        codes[(left < 0) | (right < 0)] = MISSING
        return codes

    def encode(self, click_country: np.ndarray, ip_country: np.ndarray, residency_country: np.ndarray) -> np.ndarray:
        """Level of each pair; countries are small integer ids, -1 where missing."""
        return self.level(self.agreement(click_country, ip_country).astype(np.int16),
                          self.agreement(click_country, residency_country).astype(np.int16))

    def chance(self, click_country: np.ndarray, ip_country: np.ndarray, residency_country: np.ndarray,
               n_countries: int) -> np.ndarray:
        """P(level) for an unrelated pair: a click drawn from the clicks' country shares, compared with each
        registration's own (IP, residency) pair."""
        present_clicks = click_country[click_country >= 0]
        share = np.bincount(present_clicks, minlength=max(n_countries, 1)) / max(len(present_clicks), 1)
        click_present = len(present_clicks) / len(click_country) if len(click_country) else 0.0
        n = len(ip_country)
        if n == 0:
            return np.full(self.n_levels, 1 / self.n_levels)
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
        total = np.zeros(self.n_levels)
        for weight, ip, res in outcomes:
            total += np.bincount(self.level(ip, res), weights=weight, minlength=self.n_levels)
        total /= n
        missing_click = np.zeros(self.n_levels)
        missing_click[self.level(MISSING, MISSING)] = 1.0
        return click_present * total + (1 - click_present) * missing_click


class PatternSpace:
    """Every combination of the comparisons' levels as one small integer, the first comparison most
    significant: the one place where a comparison vector becomes a code and back."""

    def __init__(self, comparisons: tuple[Comparison, ...]):
        self.comparisons = comparisons
        self.sizes = {c.name: c.n_levels for c in comparisons}
        self.size = int(np.prod(list(self.sizes.values())))
        self._place = {}
        place = self.size
        for c in comparisons:
            place //= c.n_levels
            self._place[c.name] = place

    def code(self, **levels: Any) -> np.ndarray:
        """The pattern of each pair from its level in every comparison (by name)."""
        total = np.zeros(np.shape(next(iter(levels.values()))), dtype=np.int16)
        for name, place in self._place.items():
            total = total + np.asarray(levels[name]).astype(np.int16) * np.int16(place)
        return total

    def levels(self) -> dict[str, np.ndarray]:
        """The level of each comparison for every pattern code, the inverse of `code`."""
        codes = np.arange(self.size)
        return {name: (codes // place) % self.sizes[name] for name, place in self._place.items()}


DELAY = DelayComparison()
COUNTRY = CountryComparison()
PATTERNS = PatternSpace((DELAY, COUNTRY))
