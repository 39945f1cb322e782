"""Effects the generator can plant so that tests know what the report must find: a market the partner does not
serve (its clicks almost never register, and most of them are mobile, so mobile looks worse by country mix alone,
with no device effect at all), and a page whose clicks really register less. Off by default: the demo's data
and its link checksums stay as they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
