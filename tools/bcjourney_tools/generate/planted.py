"""Effects the generator can plant so that tests know what the report must find: a market the partner does not
serve (its clicks almost never register, and most of them are mobile, so mobile looks worse by country mix alone,
with no device effect at all), and a page whose clicks really register less; and anomalies (PlantedAnomalies):
a market's burst on two dates, registrations no click explains piling up in one IP country. Off by default: the
demo's data and its link checksums stay as they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sampling import _T, _Frame


@dataclass(frozen=True)
class PlantedEffects:
    unserved_market: str = "India"  # a click country name (the generator's); the partner barely serves it
    unserved_rate_factor: float = 0.02  # its clicks register this many times as often as others
    unserved_mobile_share: float = 0.9  # its sessions' device: a device gap made of country mix only
    weak_page: str = "01review/02notrel/03review"  # a measurement code ('Broker reviews - general')
    weak_page_rate_factor: float = 0.8  # a real page effect, the same in every market and on every device

    @property
    def unserved_index(self) -> int:
        found = np.flatnonzero(_T.click_names == self.unserved_market)
        if not len(found):
            raise ValueError(f"{self.unserved_market!r} is not a country the generator draws clicks from")
        return int(found[0])


def plant_device_mix(clicks: _Frame, planted: PlantedEffects, rng: np.random.Generator, pages) -> None:
    """The unserved market's clicks become mostly mobile, with pages and buttons drawn again for their device
    (`pages`: the generator's draw of UI element and page code given the device)."""
    rows = np.flatnonzero(clicks["country_idx"] == planted.unserved_index)
    if not len(rows):
        return
    mobile = (rng.random(len(rows)) < planted.unserved_mobile_share).astype(clicks["is_mobile"].dtype)
    clicks["is_mobile"][rows] = mobile
    ui, cat = pages(rng, mobile)
    clicks["ui_element"][rows], clicks["measurement_category"][rows] = ui, cat


def registration_rates(clicks: _Frame, rate: float, planted: PlantedEffects | None) -> float | np.ndarray:
    """Each click's chance to register: `rate`, times the planted factors of its market and page."""
    if planted is None:
        return rate
    factor = np.ones(len(clicks["country_idx"]))
    factor[clicks["country_idx"] == planted.unserved_index] *= planted.unserved_rate_factor
    factor[clicks["measurement_category"] == planted.weak_page] *= planted.weak_page_rate_factor
    return rate * factor


@dataclass(frozen=True)
class PlantedAnomalies:
    """A market's burst and a pile of registrations no click explains, on fixed dates (UTC; the default start is
    2024-04-01, so they fall inside a default week)."""

    burst_market: str = "Singapore"  # a click country name
    burst_dates: tuple[str, ...] = ("2024-04-03", "2024-04-04")
    burst_clicks: int = 250  # extra clicks a burst date brings, single-click desktop sessions
    burst_other_ip: float = 0.9  # of their registrations, the share from another country's IP, all scoring 0
    pile_country: str = "Montenegro"  # an IP country with no clicks of ours
    pile_date: str = "2024-04-05"
    pile_registrations: int = 250  # within one hour


def _on(dates: tuple[str, ...], day_start: int) -> bool:
    return any(int(pd.Timestamp(d).timestamp()) == day_start for d in dates)


def add_market_burst(clicks: _Frame, planted: PlantedAnomalies | None, day_start: int, st, rng: np.random.Generator,
                     pages) -> _Frame:
    """The day's clicks with the burst's clicks added (when the day is a burst date), flagged `planted_burst`."""
    flagged = dict(clicks, planted_burst=np.zeros(len(clicks["sec"]), bool))
    if planted is None or not _on(planted.burst_dates, day_start):
        return flagged
    n = planted.burst_clicks
    country = int(np.flatnonzero(_T.click_names == planted.burst_market)[0])
    ui, cat = pages(rng, np.zeros(n, np.int8))
    sid = st.next_sid + np.cumsum(rng.integers(1, 4, n))
    st.next_sid = int(sid[-1]) + 1
    burst = {"sec": np.sort(rng.integers(0, 86_400, n)), "session_id": sid, "country_idx": np.full(n, country),
             "is_mobile": np.zeros(n, np.int8), "ui_element": ui, "measurement_category": cat,
             "bot": np.zeros(n, bool), "planted_burst": np.ones(n, bool)}
    return {k: np.concatenate([flagged[k], np.asarray(burst[k], dtype=flagged[k].dtype) if k in burst
                               else np.zeros(n, flagged[k].dtype)]) for k in flagged}


def burst_registrations(explained: _Frame, burst: np.ndarray, planted: PlantedAnomalies | None, day_start: int) -> None:
    """The burst's registrations mostly come from another country's IP, and all score 0."""
    if planted is None or not burst.any():
        return
    rng = np.random.default_rng([day_start, 103])
    other = burst & (rng.random(len(burst)) < planted.burst_other_ip)
    explained["ip"][other] = _T.ip_names[rng.integers(0, len(_T.ip_names), int(other.sum()))]
    explained["score"][burst] = "0"


def registration_pile(planted: PlantedAnomalies | None, day_start: int) -> _Frame:
    """Registrations no click explains, from one IP country within one hour of the pile's date (else none)."""
    if planted is None or not _on((planted.pile_date,), day_start):
        return {}
    rng = np.random.default_rng([day_start, 104])
    n = planted.pile_registrations
    return {"ts": day_start + 14 * 3600 + np.sort(rng.integers(0, 3600, n)), "frac": rng.random(n),
            "residency": np.full(n, planted.pile_country, dtype=object),
            "ip": np.full(n, planted.pile_country, dtype=object), "score": np.full(n, "0", dtype=object),
            "conversion_id": np.full(n, -1, np.int64)}
