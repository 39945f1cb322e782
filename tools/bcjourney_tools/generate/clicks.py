"""One day of clicks: sessions, devices, pages and buttons, the diurnal shape, and the real file's blemishes
(payloads, scrambled codes, scanner bursts, one-country spikes)."""

from __future__ import annotations

import numpy as np

from .planted import PlantedAnomalies, PlantedEffects, add_market_burst, plant_device_mix
from .reference import (
    _DAY,
    _ID_GAP_MEAN,
    _MOBILE_SHARE,
    _RETURNING_SESSIONS,
    _SPIKES_PER_DAY,
    _SQLI_SUFFIXES,
    _SQLI_WHOLE,
)
from .sampling import _POOL_MAX, _T, _concat, _draw, _Frame, _rows, _State, _take

# --------------------------------------------------------------------------------------------------
# One day of clicks
# --------------------------------------------------------------------------------------------------


def _diurnal_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = _draw(rng, _T.hour_cdf, n)
    return hour * 3600 + rng.integers(0, 3600, n)


def _clicks_for_day(rng: np.random.Generator, day_start: int, n_target: int,
                    st: _State, sid_gap: float, bursts_per_day: float, anomaly_rate: float,
                    planted: "PlantedEffects | None" = None,
                    planted_anomalies: "PlantedAnomalies | None" = None) -> _Frame:
    """Clicks of one day in file order: the file's columns plus 'sec', 'ts', 'bot' and 'country_idx'.
    The phases draw from `rng` in a fixed order: the same seed gives the same day."""
    sizes = _session_sizes(rng, n_target)
    sess, sec, start, country, mobile = _session_times(rng, sizes, n_target)
    sid = _session_ids(rng, st, start, country, mobile, sid_gap)
    c_mobile = mobile[sess]
    ui, cat = _pages(rng, c_mobile)
    df = {
        "sec": sec, "session_id": sid[sess], "country_idx": country[sess], "is_mobile": c_mobile,
        "ui_element": ui, "measurement_category": cat, "bot": np.zeros(len(sess), bool),
        "scanner": np.zeros(len(sess), bool),  # a scanner burst's row (the summary counts them: truth for tests)
    }
    if planted is not None:  # its own random stream: the rest of the day is drawn as without it
        plant_device_mix(df, planted, np.random.default_rng([day_start, 101]), _pages)

    # Anomalies among ordinary clicks.
    n_anom = int(rng.binomial(len(sess), anomaly_rate))
    if n_anom:
        rows = rng.choice(len(sess), n_anom, replace=False)
        for r in np.sort(rows):
            _anomalise(rng, df, int(r))

    # A vulnerability scanner hammering the front-page button for two minutes.
    n_bursts = int(rng.poisson(bursts_per_day))
    if n_bursts:
        df = _concat([df] + [_burst(rng, st, sid_gap) for _ in range(n_bursts)])

    if planted_anomalies is not None:
        df = add_market_burst(df, planted_anomalies, day_start, st, np.random.default_rng([day_start, 102]), _pages)
    df = _take(df, np.lexsort((df["session_id"], df["sec"])))
    n = _rows(df)
    ids = st.next_id + np.cumsum(rng.geometric(1.0 / _ID_GAP_MEAN, n).astype(np.int64))
    st.next_id = int(ids[-1]) + 1 if n else st.next_id
    df["id"] = ids
    # Both systems log in real time: within a second, clicks happen in id order (the fraction of the
    # second is never written, but it orders the partner's rows below).
    frac = rng.random(n)
    df["frac"] = frac[np.lexsort((frac, df["sec"]))]
    df["ts"] = day_start + df["sec"]
    df["country_name"] = _T.click_names[df["country_idx"]]
    return df


def _session_sizes(rng: np.random.Generator, n_target: int) -> np.ndarray:
    """Sessions and their sizes until the day's volume is reached."""
    n_sess = max(1, int(n_target / 1.19 * 1.1) + 10)
    sizes = _draw(rng, _T.size_cdf, n_sess) + 1
    while sizes.sum() < n_target:
        sizes = np.concatenate([sizes, _draw(rng, _T.size_cdf, n_sess) + 1])
    cum = np.cumsum(sizes)
    n_sess = int(np.searchsorted(cum, n_target, side="left")) + 1
    sizes = sizes[:n_sess]
    if cum[n_sess - 1] > n_target:
        sizes[-1] -= cum[n_sess - 1] - n_target
    return sizes[sizes > 0]


def _session_times(rng: np.random.Generator, sizes: np.ndarray, n_target: int):
    """(session of each click, second of the day of each click, and per session: start, country, is_mobile).
    Within a session: double clicks (same second), a few minutes, or hours later (coming back)."""
    n_sess, n = len(sizes), int(sizes.sum())
    sess = np.repeat(np.arange(n_sess), sizes)
    first = np.zeros(n, bool)
    first[np.cumsum(sizes) - sizes] = True
    u = rng.random(n)
    gap = np.where(u < 0.72, rng.lognormal(np.log(120.0), 1.4, n), rng.lognormal(np.log(5400.0), 1.0, n))
    gap = np.where(u < 0.05, rng.integers(1, 6, n), gap)
    gap = np.where(u < 0.013, 0, gap).astype(np.int64)
    gap = np.minimum(gap, 6 * 3600)
    gap[first] = 0
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[first], sizes)
    span = offset[np.cumsum(sizes) - 1]
    start = _diurnal_seconds(rng, n_sess)
    start = np.minimum(start, np.maximum(0, _DAY - 1 - span))
    country = _draw(rng, _T.country_cdf, n_sess)
    mobile = (rng.random(n_sess) < _MOBILE_SHARE).astype(np.int8)
    # Traffic spikes: a page shared in one country brings a dozen visitors within a few minutes, so
    # same-second clicks from one country (ambiguous registrations) are more common than uniform.
    single = np.flatnonzero(sizes == 1)
    for _ in range(int(rng.poisson(_SPIKES_PER_DAY * n_target / 1700))):
        k = min(len(single), int(rng.integers(8, 26)))
        if k == 0:
            break
        who = rng.choice(single, k, replace=False)
        t = int(_diurnal_seconds(rng, 1)[0])
        start[who] = np.minimum(t + rng.integers(0, int(rng.integers(60, 301)), k), _DAY - 1)
        country[who] = _draw(rng, _T.country_cdf, 1)[0]
    sec = np.minimum(np.repeat(start, sizes) + offset, _DAY - 1)
    return sess, sec, start, country, mobile


def _session_ids(rng: np.random.Generator, st: _State, start: np.ndarray, country: np.ndarray,
                 mobile: np.ndarray, sid_gap: float) -> np.ndarray:
    """New sessions get rising ids in order of their start; some continue an old one (taking its country and
    device). Some of today's sessions are remembered for the coming days (bounded)."""
    n_sess = len(start)
    order = np.argsort(start, kind="stable")
    sid = np.empty(n_sess, np.int64)
    gaps = rng.geometric(1.0 / sid_gap, n_sess).astype(np.int64)
    sid[order] = st.next_sid + np.cumsum(gaps)
    st.next_sid = int(sid.max()) + 1
    returning = rng.random(n_sess) < _RETURNING_SESSIONS
    n_ret = int(returning.sum())
    if n_ret:
        if len(st.pool_sid):
            pick = rng.integers(0, len(st.pool_sid), n_ret)
            sid[returning] = st.pool_sid[pick]
            country[returning] = st.pool_country[pick]
            mobile[returning] = st.pool_mobile[pick]
        else:  # first day: sessions started before the data begins
            sid[returning] = st.next_sid - 200_000 - rng.integers(0, 2_000_000, n_ret)
    keep = rng.random(n_sess) < min(1.0, _POOL_MAX / 4 / n_sess)
    st.pool_sid = np.concatenate([st.pool_sid, sid[keep]])[-_POOL_MAX:]
    st.pool_country = np.concatenate([st.pool_country, country[keep]])[-_POOL_MAX:]
    st.pool_mobile = np.concatenate([st.pool_mobile, mobile[keep]])[-_POOL_MAX:]
    return sid


def _pages(rng: np.random.Generator, is_mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UI element and page code of each click, jointly, given the device."""
    cell = np.empty(len(is_mobile), np.int64)
    for m in (0, 1):
        idx = np.flatnonzero(is_mobile == m)
        cell[idx] = _draw(rng, _T.joint_cdf[m], len(idx))
    return _T.joint_ui[cell], _T.joint_cat[cell]


def _fill(template: str, rng: np.random.Generator) -> str:
    return template.format(
        s=int(rng.choice([0, 2])),
        n=int(rng.integers(1_000_000_000, 2_000_000_000)),
        c=chr(ord("a") + int(rng.integers(0, 26))),
    )


def _scramble(text: str) -> str:
    """What a broken client sends: letters rotated, code numbers shifted ('01bestca' -> '34orfgpn')."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + 13) % 26 + 97))
        elif ch.isdigit():
            out.append(str((int(ch) + 3) % 10))
        else:
            out.append(ch)
    return "".join(out)


def _anomalise(rng: np.random.Generator, df: _Frame, r: int) -> None:
    kind = rng.random()
    cat = df["measurement_category"][r]
    ui = df["ui_element"][r]
    if kind < 0.45:  # SQL injection payload in the page code
        if rng.random() < 0.15:
            df["measurement_category"][r] = _fill(_SQLI_WHOLE[int(rng.integers(len(_SQLI_WHOLE)))], rng)
        else:
            df["measurement_category"][r] = cat + _fill(_SQLI_SUFFIXES[int(rng.integers(len(_SQLI_SUFFIXES)))], rng)
        df["bot"][r] = True
    elif kind < 0.65:  # 'Peace' from a Russian desktop visitor
        df["measurement_category"][r] = "Peace"
        df["ui_element"][r] = "desktop-top5-box"
        df["country_idx"][r] = _T.ru
        df["is_mobile"][r] = 0
        df["bot"][r] = True
    elif kind < 0.82:  # scrambled codes
        df["measurement_category"][r] = _scramble(cat)
        df["ui_element"][r] = _scramble(ui)
        df["bot"][r] = True
    else:  # the measurement list glued onto the page code, element lost
        if rng.random() < 0.5:
            df["measurement_category"][r] = f"{cat}&measurementlist={ui}"
            df["ui_element"][r] = ""
        else:
            df["measurement_category"][r] = f"{cat}measurementList={ui}"
            df["ui_element"][r] = ""


def _burst(rng: np.random.Generator, st: _State, sid_gap: float) -> _Frame:
    n = int(rng.integers(80, 130))
    t0 = int(rng.integers(0, _DAY - 240))
    sec = np.sort(t0 + rng.integers(0, 150, n))
    sid = st.next_sid + np.cumsum(rng.integers(1, 4, n))
    st.next_sid = int(sid[-1]) + int(sid_gap)
    ui = np.full(n, "front-page-visit-broker-button", dtype=object)
    cat = np.full(n, "01homepa/02notrel/03notrel", dtype=object)
    for r in np.flatnonzero(rng.random(n) < 0.35):
        target = ui if rng.random() < 0.55 else cat
        whole = rng.random() < 0.1
        tpl = _SQLI_WHOLE if whole else _SQLI_SUFFIXES
        payload = _fill(tpl[int(rng.integers(len(tpl)))], rng)
        target[r] = payload if whole else target[r] + payload
    return {
        "sec": sec, "session_id": sid, "country_idx": np.full(n, _T.us, np.int64), "is_mobile": np.zeros(n, np.int8),
        "ui_element": ui, "measurement_category": cat, "bot": np.ones(n, bool), "scanner": np.ones(n, bool),
    }
