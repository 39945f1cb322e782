"""Markets by loss, not by size: every market with enough clicks, ranked by the registrations (and the value) it
falls short of the average market, with the markets the partner does not serve called out. Pooling the small
markets into '(other)' would hide exactly these."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import NO_LINKS, Insight
from bcjourney_tools.analysis.report_compare import comparison_test, rate_segments
from bcjourney_tools.analysis.report_data import LakeData
from bcjourney_tools.analysis.report_format import pct

MIN_MARKET_CLICKS = 100  # below this a market's rate is too noisy to rank
UNSERVED_SHARE = 0.2  # a market registering at under a fifth of the overall rate is not served by the partner
SHOWN = 10


def market_table(clicks: pd.DataFrame) -> pd.DataFrame:
    """Per click country: clicks, registrations, value (sum of important_score), and what it falls short of
    the overall rate (lost registrations, lost value at the average value of a registration)."""
    country = clicks["country_code"].astype(object).fillna("(none)")
    score = clicks["important_score"].astype(float).fillna(0.0)
    table = (pd.DataFrame({"segment": country.to_numpy(), "k": clicks["registered"].astype(bool).to_numpy(),
                           "value": score.to_numpy()})
             .groupby("segment").agg(n=("k", "size"), k=("k", "sum"), value=("value", "sum")).reset_index())
    overall = table["k"].sum() / table["n"].sum() if table["n"].sum() else math.nan
    value_per_registration = table["value"].sum() / table["k"].sum() if table["k"].sum() else 0.0
    table["rate"] = table["k"] / table["n"]
    table["value_per_click"] = table["value"] / table["n"]
    table["lost"] = table["n"] * overall - table["k"]
    table["value_lost"] = table["lost"] * value_per_registration
    table["unserved"] = (table["n"] >= MIN_MARKET_CLICKS) & (table["rate"] < UNSERVED_SHARE * overall)
    return table.sort_values(["lost", "segment"], ascending=[False, True]).reset_index(drop=True)


def markets_by_loss(data: LakeData, rng: np.random.Generator) -> Insight:
    clicks = data.rows[data.rows["is_click"]]
    table = market_table(clicks)
    ranked = table[table["n"] >= MIN_MARKET_CLICKS]
    n_all, k_all = int(table["n"].sum()), int(table["k"].sum())
    overall = k_all / n_all if n_all else math.nan
    unserved = ranked[ranked["unserved"]]
    never = n_all - k_all
    clicks_share = unserved["n"].sum() / n_all if n_all else math.nan
    never_share = (unserved["n"] - unserved["k"]).sum() / never if never else math.nan
    pooled = ranked[["segment", "n", "k"]].astype({"n": "int64", "k": "int64"})
    test, _, p, dispersion = comparison_test(pooled, None, rng) if len(pooled) > 1 else (None, 0, None, 1.0)
    segments = rate_segments(pooled, dispersion) if len(pooled) else []
    extra = ranked.set_index("segment")
    for s in segments:
        row = extra.loc[s["segment"]]
        s.update({"lost": float(row["lost"]), "value_lost": float(row["value_lost"]),
                  "value_per_click": float(row["value_per_click"]), "unserved": bool(row["unserved"])})
    shown = sorted(segments, key=lambda s: -s["lost"])[:SHOWN]
    listing = ", ".join(f"{s['segment']} ({s['n']:,} clicks, {pct(s['rate'])})" for s in unserved.head(6)
                        .rename(columns={"segment": "segment"}).to_dict("records")) if len(unserved) else ""
    finding = (f"Ranked by the registrations they fall short of the overall {pct(overall)} (markets with at least "
               f"{MIN_MARKET_CLICKS} clicks): ")
    finding += "; ".join(f"{s['segment']} {s['lost']:,.0f} registrations ({s['value_lost']:,.0f} score points)"
                         for s in shown[:5] if s["lost"] > 0) + "."
    if len(unserved):
        finding += (f" {len(unserved)} market(s) the partner barely serves (registering under "
                    f"{UNSERVED_SHARE:.0%} of the overall rate): {listing}; they hold {pct(clicks_share)} of the "
                    f"clicks and {pct(never_share)} of the clicks that never register.")
    action = NO_LINKS if k_all == 0 else (
        f"Route the clicks of {', '.join(unserved['segment'].head(6))} to a partner that serves them, or stop paying "
        f"for that traffic ({int(unserved['n'].sum()):,} clicks, {unserved['lost'].sum():,.0f} registrations "
        "short of the average market); ask the partner whether it onboards there at all."
        if len(unserved) else "No market falls below a fifth of the overall rate: no routing change; watch the "
                              "markets at the top of this list.")
    ins = Insight(key="markets_by_loss", title="Markets by registrations lost", finding=finding,
                  number=float(clicks_share) if len(unserved) else 0.0,
                  number_label="share of clicks from markets the partner does not serve",
                  ci=st.wilson(int(unserved["n"].sum()), n_all) if n_all else (math.nan, math.nan),
                  ci_method="Wilson 95%", unit="rate", test=test, p_value=p,
                  segments=shown,
                  details={"unserved": unserved["segment"].tolist(), "unserved_clicks": int(unserved["n"].sum()),
                           "unserved_click_share": clicks_share, "unserved_never_share": never_share,
                           "overall_rate": overall, "markets_ranked": len(ranked)},
                  plot_data={"overall": overall, "what": "registration rate", "dimension": "market"})
    ins._action_if_significant = lambda i: action
    ins.action = action
    return ins
