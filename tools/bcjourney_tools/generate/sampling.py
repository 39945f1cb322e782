"""Sampling helpers of the generator: cumulative tables built once from the reference data, the column-dict
"frame" a day is kept in, and the state carried from one day to the next."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .reference import _DELAY_P, _DELAY_TAIL, _HOURLY, _OTHER_CATEGORIES, _SESSION_SIZES, _UI, COUNTRIES

# --------------------------------------------------------------------------------------------------
# Sampling tables, built once
# --------------------------------------------------------------------------------------------------


def _cdf(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(cdf, rng.random(n), side="right").clip(0, len(cdf) - 1)


# A day's rows are kept as a dict of equally long numpy arrays ("frame"): cheaper than a DataFrame
# for the few operations needed (concatenate, reorder, select).
_Frame = dict


def _concat(frames: list[_Frame]) -> _Frame:
    frames = [f for f in frames if f]
    if not frames:
        return {}
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def _take(frame: _Frame, idx: np.ndarray) -> _Frame:
    return {k: v[idx] for k, v in frame.items()}


def _rows(frame: _Frame) -> int:
    return len(next(iter(frame.values()))) if frame else 0


@dataclass(frozen=True)
class _Tables:
    click_names: np.ndarray
    ip_names: np.ndarray
    residency_names: np.ndarray
    country_cdf: np.ndarray
    us: int
    ru: int
    palestine: int
    joint_ui: np.ndarray        # ui_element per joint (ui, category) cell
    joint_cat: np.ndarray       # measurement_category per cell
    joint_cdf: tuple[np.ndarray, np.ndarray]  # cdf over cells for desktop, mobile
    hour_cdf: np.ndarray
    size_cdf: np.ndarray
    delay_cdf: np.ndarray


def _tables() -> _Tables:
    names = [c[0] for c in COUNTRIES]
    other_cats = [c for c, _ in _OTHER_CATEGORIES]
    other_p = np.array([w for _, w in _OTHER_CATEGORIES], dtype=float)
    other_p /= other_p.sum()
    cells_ui, cells_cat, cells_w = [], [], []
    for ui, weight, _mob, cats in _UI:
        listed = {c: p / 100.0 for c, p in cats}
        rest = max(0.0, 1.0 - sum(listed.values()))
        probs = {c: listed.get(c, 0.0) + rest * op for c, op in zip(other_cats, other_p)}
        for c, p in listed.items():
            probs.setdefault(c, p)
        for c, p in probs.items():
            if p > 0:
                cells_ui.append(ui)
                cells_cat.append(c)
                cells_w.append(weight * p)
    mob = {ui: m for ui, _, m, _ in _UI}
    w = np.array(cells_w)
    m = np.array([mob[u] for u in cells_ui])
    return _Tables(
        click_names=np.array(names, dtype=object),
        ip_names=np.array([c[1] for c in COUNTRIES], dtype=object),
        residency_names=np.array([c[2] for c in COUNTRIES], dtype=object),
        country_cdf=_cdf([c[3] for c in COUNTRIES]),
        us=names.index("United States"),
        ru=names.index("Russia"),
        palestine=names.index("West Bank"),
        joint_ui=np.array(cells_ui, dtype=object),
        joint_cat=np.array(cells_cat, dtype=object),
        joint_cdf=(_cdf(w * (1 - m)), _cdf(w * m)),
        hour_cdf=_cdf(_HOURLY),
        size_cdf=_cdf(_SESSION_SIZES),
        delay_cdf=_cdf(np.append(_DELAY_P, _DELAY_TAIL)),
    )


_T = _tables()


# --------------------------------------------------------------------------------------------------
# State carried from one day to the next
# --------------------------------------------------------------------------------------------------


@dataclass
class _State:
    next_id: int = 5_200_000
    next_sid: int = 71_100_000
    # sessions of earlier days that may come back: session id, country index, is_mobile
    pool_sid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pool_country: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pool_mobile: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # registrations whose timestamp falls on a later day than their click
    carry: _Frame = field(default_factory=dict)
    last_export: _Frame = field(default_factory=dict)  # the partner's previous export (re-sent in part on overlap)


_POOL_MAX = 20_000
