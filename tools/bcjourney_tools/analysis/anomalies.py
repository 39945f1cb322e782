"""Traffic no person produced, and bursts no product change explains: found from the lake, kept out of the product
metrics and counted on their own.

- **Scanner windows.** A security scanner sends injection payloads, which ingest quarantines, and between them
  clean-looking requests that pass as clicks (each with a new session id, on the same button, within the same two
  minutes). Quarantined rows carry no time, but their file and line do: a file is in time order, so a quarantined
  line happened when the curated line nearest to it did. Payload rows within a minute of each other form a burst
  (at least MIN_PAYLOADS); the clean clicks of the burst's window (a minute either side) on the button most of the
  window's clicks hit are the scanner's.
- **Bursts by market and date**: a market's clicks on one date far above its usual day (a Poisson test against its
  median day, at least BURST_FACTOR times it), told with their device, registration rate and cross-country share.
- **Registrations no click explains**, by IP country and date, where one country's unexplained registrations
  stand far above its usual day; and whether we have any click of that country at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_PAYLOADS = 5  # payload rows in a burst: fewer is an odd visitor, not a scan
PAYLOAD_GAP = pd.Timedelta(seconds=60)
WINDOW_MARGIN = pd.Timedelta(seconds=60)
BURST_FACTOR = 5.0  # a market-day at least this many times the market's median day
BURST_MIN_CLICKS = 50
BURST_P = 1e-6  # Poisson tail probability of such a day given the median: far beyond one-in-many-tests


def date_span(days: pd.Series) -> str:
    """'first to last (n dates)', or the one date."""
    days = sorted(pd.to_datetime(days).dt.strftime("%Y-%m-%d").unique())
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]} ({len(days)} dates)"


def payload_times(quarantine: pd.DataFrame, clicks: pd.DataFrame) -> pd.Series:
    """The time of each quarantined conversions row, from the curated click nearest to it in its own file."""
    rows = quarantine[quarantine["rule"] == "suspicious_text"]
    located = clicks.dropna(subset=["conversion_source_file"]).sort_values(
        ["conversion_source_file", "conversion_source_line"])
    times = []
    for file, group in rows.groupby("source_file"):
        lines = located[located["conversion_source_file"] == file]
        if lines.empty:
            continue
        where = np.searchsorted(lines["conversion_source_line"].to_numpy(), group["source_line"].to_numpy())
        where = np.clip(where, 0, len(lines) - 1)
        times.append(pd.Series(lines["converted_at"].to_numpy()[where], index=group.index))
    return pd.concat(times).sort_values() if times else pd.Series(dtype="datetime64[ns]")


def scanner_windows(times: pd.Series) -> pd.DataFrame:
    """Bursts of payload rows: start, end and the number of payloads, in time order."""
    if times.empty:
        return pd.DataFrame(columns=["start", "end", "payloads"])
    burst = (times.diff() > PAYLOAD_GAP).cumsum()
    windows = times.groupby(burst.to_numpy()).agg(["min", "max", "size"])
    windows.columns = ["start", "end", "payloads"]
    return windows[windows["payloads"] >= MIN_PAYLOADS].reset_index(drop=True)


def scanner_clicks(clicks: pd.DataFrame, windows: pd.DataFrame) -> pd.Series:
    """A mask of the clicks a scanner sent: in a window (with its margin), on the window's busiest button."""
    mask = pd.Series(False, index=clicks.index)
    for w in windows.itertuples():
        inside = clicks["converted_at"].between(w.start - WINDOW_MARGIN, w.end + WINDOW_MARGIN)
        if inside.any():
            button = clicks.loc[inside, "ui_element"].value_counts().idxmax()
            mask |= inside & (clicks["ui_element"] == button)
    return mask


def market_bursts(clicks: pd.DataFrame) -> pd.DataFrame:
    """Market-days far above the market's median day: date, country, clicks, median, factor, mobile share,
    registration rate and the share registering from another country's IP."""
    from scipy.stats import poisson

    day = clicks["converted_at"].dt.floor("D")
    daily = clicks.groupby([clicks["country_code"], day]).size().rename("clicks").reset_index()
    daily.columns = ["country_code", "day", "clicks"]
    days = daily["day"].nunique()
    # the median over every day of the window (a market absent on a day had 0 clicks that day)
    typical = daily.groupby("country_code")["clicks"].apply(
        lambda c: float(np.median(np.concatenate([c.to_numpy(), np.zeros(max(days - len(c), 0))]))))
    daily["median"] = daily["country_code"].map(typical).clip(lower=1.0)
    daily["factor"] = daily["clicks"] / daily["median"]
    daily["p"] = poisson.sf(daily["clicks"] - 1, daily["median"])
    bursts = daily[(daily["clicks"] >= BURST_MIN_CLICKS) & (daily["factor"] >= BURST_FACTOR)
                   & (daily["p"] < BURST_P)].copy()
    rows = []
    for b in bursts.itertuples():
        of = clicks[(clicks["country_code"] == b.country_code) & (day == b.day)]
        linked = of[of["registered"]]
        other_ip = (linked["ip_country_code"].notna() & (linked["ip_country_code"] != b.country_code)).mean()
        rows.append({"day": b.day, "country_code": b.country_code, "clicks": int(b.clicks), "median": b.median,
                     "factor": b.factor, "mobile_share": float((of["device"] == "mobile").mean()),
                     "registration_rate": float(of["registered"].mean()),
                     "cross_country_share": float(other_ip) if len(linked) else float("nan"),
                     "mean_score": float(linked["important_score"].fillna(0).mean()) if len(linked) else 0.0})
    return pd.DataFrame(rows).sort_values(["clicks", "day"], ascending=[False, True]).reset_index(drop=True) \
        if rows else pd.DataFrame(columns=["day", "country_code", "clicks", "median", "factor"])


def unexplained_by_ip_country(rows: pd.DataFrame, clicks: pd.DataFrame) -> pd.DataFrame:
    """Registrations no click explains, by IP country and date, where a date stands far above the IP country's
    median date; with how many clicks of ours that country has in the whole window."""
    unexplained = rows[~rows["is_click"] & rows["registered"] & rows["ip_country_code"].notna()]
    if unexplained.empty:
        return pd.DataFrame(columns=["day", "ip_country_code", "registrations", "median", "our_clicks"])
    # counted as market_bursts counts clicks: the IP country as the market, the registration time as the time
    frame = pd.DataFrame({"country_code": unexplained["ip_country_code"].to_numpy(),
                          "converted_at": unexplained["registered_at"].to_numpy(), "device": "(none)",
                          "registered": False, "ip_country_code": None, "important_score": 0.0})
    bursts = market_bursts(frame)
    if bursts.empty:
        return pd.DataFrame(columns=["day", "ip_country_code", "registrations", "median", "our_clicks"])
    ours = clicks["country_code"].value_counts()
    return pd.DataFrame({"day": bursts["day"], "ip_country_code": bursts["country_code"],
                         "registrations": bursts["clicks"], "median": bursts["median"],
                         "our_clicks": bursts["country_code"].map(ours).fillna(0).astype(int)})
