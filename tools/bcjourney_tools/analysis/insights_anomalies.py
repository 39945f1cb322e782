"""The anomaly layer of the report: a scanner's clicks (left out of every product figure, counted here), bursts of
one market on a few dates, and registrations no click explains piling up in one IP country (analysis.anomalies).
A burst is told as an event with its dates, not as a trait of its market."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import anomalies
from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.report_data import LakeData
from bcjourney_tools.analysis.report_format import pct


def _scanner_text(data: LakeData, clicks: pd.DataFrame) -> tuple[str, str]:
    windows, excluded = data.scanner_windows, data.scanner_clicks
    if excluded.empty:
        return "No scanner window: no burst of quarantined payloads.", ""
    button = excluded["ui_element"].value_counts().idxmax()
    kept = clicks[clicks["ui_element"] == button]
    n_with = len(kept) + int((excluded["ui_element"] == button).sum())
    k = int(kept["registered"].sum())
    spans = "; ".join(f"{w.start:%Y-%m-%d %H:%M:%S} to {w.end:%H:%M:%S} ({w.payloads} payloads)"
                      for w in windows.itertuples())
    registered = int(excluded["registered"].sum())
    without, with_ = k / len(kept) if len(kept) else math.nan, k / n_with if n_with else math.nan
    finding = (f"A scanner: {len(windows)} burst(s) of quarantined injection payloads ({spans}), with "
               f"{len(excluded):,} clean-looking clicks on {button} in the same minutes, {registered} of them "
               f"registered. They are left out of every product figure of this report: {button} registers at "
               f"{pct(without)} without them, {pct(with_)} with them.")
    action = (f"Block or rate-limit the scanner at the edge (WAF) and keep its traffic ({len(excluded):,} clicks) out "
              "of the click tracker; exclude those minutes from any dashboard of the button's performance")
    return finding, action


def _bursts_text(bursts: pd.DataFrame) -> tuple[str, str]:
    if bursts.empty:
        return "No market has a date far above its usual day.", ""
    parts, actions = [], []
    for country, of in bursts.groupby("country_code", sort=False):
        share = of["cross_country_share"].mean()
        parts.append(f"{country} on {anomalies.date_span(of['day'])}: {int(of['clicks'].sum()):,} clicks, "
                     f"{of['factor'].mean():.1f}x its median day, {pct(1 - of['mobile_share'].mean())} desktop, "
                     f"{pct(share)} of its registrations from another country's IP, mean score "
                     f"{of['mean_score'].mean():.2f}")
        if share > 0.5:
            actions.append(f"treat {country}'s cross-country share as this burst, not as a trait of the market, and "
                           "check where that traffic came from (a campaign, an affiliate, a click farm)")
    return "Bursts by market and date: " + "; ".join(parts) + ".", "; ".join(actions)


def _unexplained_text(table: pd.DataFrame) -> tuple[str, str]:
    if table.empty:
        return "No IP country piles up registrations that no click explains.", ""
    parts = [f"{r.registrations:,} on {r.day:%Y-%m-%d} from IPs in {r.ip_country_code} (its median day: "
             f"{r.median:.0f}; our clicks from {r.ip_country_code} in the window: {r.our_clicks:,})"
             for r in table.itertuples()]
    none = [r.ip_country_code for r in table.itertuples() if r.our_clicks == 0]
    action = (f"ask the partner where the registrations from {', '.join(none)} came from: no click of ours is from "
              "there, so they are another channel's, not lost clicks" if none else "")
    return "Registrations no click explains, piling up in one IP country: " + "; ".join(parts) + ".", action


def anomaly_layer(data: LakeData, rng: np.random.Generator) -> Insight:
    clicks = data.rows[data.rows["is_click"]]
    bursts = anomalies.market_bursts(clicks)
    unexplained = anomalies.unexplained_by_ip_country(data.rows, clicks)
    texts = [_scanner_text(data, clicks), _bursts_text(bursts), _unexplained_text(unexplained)]
    actions = [a for _, a in texts if a]
    n_all = len(clicks) + len(data.scanner_clicks)
    return Insight(
        key="anomalies", title="Anomalies: scanner traffic, market bursts, unexplained registrations",
        finding=" ".join(f for f, _ in texts), number=len(data.scanner_clicks) / n_all if n_all else math.nan,
        number_label="share of clicks a scanner sent (left out of the product figures)",
        ci=st.wilson(len(data.scanner_clicks), n_all) if n_all else (math.nan, math.nan), ci_method="Wilson 95%",
        kind="quality", unit="rate",
        action=("; ".join(actions) + ".") if actions else "No anomaly to act on.",
        details={"scanner_clicks": len(data.scanner_clicks), "scanner_windows": len(data.scanner_windows),
                 "scanner_registered": int(data.scanner_clicks["registered"].sum()) if len(data.scanner_clicks) else 0,
                 "bursts": bursts.assign(day=bursts["day"].astype(str)).to_dict("records") if len(bursts) else [],
                 "unexplained": (unexplained.assign(day=unexplained["day"].astype(str)).to_dict("records")
                                 if len(unexplained) else [])},
        plot_data={"clicks": clicks[["converted_at", "country_code"]], "bursts": bursts,
                   "unexplained": unexplained, "rows": data.rows})
