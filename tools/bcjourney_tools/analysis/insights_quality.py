"""The data-quality insights: what ingest quarantined, flagged or merged; link rates per day and partner; the
match confidence of the links."""

from __future__ import annotations

import math

import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import CONFIDENCE_BINS, CONFIDENT, NO_LINKS, Insight
from bcjourney_tools.analysis.insights_product import _linked
from bcjourney_tools.analysis.report_data import LakeData, query
from bcjourney_tools.analysis.report_format import ci_pct, fmt_num, pct, pp


def quarantine_rate(data: LakeData) -> Insight:
    reports = data.quality_reports
    rows_in = sum(int(r.get("rows_in", 0)) for r in reports)
    quarantined = sum(int(r.get("quarantined", 0)) for r in reports)
    merged = sum(int(r.get("merged_duplicates", 0)) for r in reports)
    rejected = [r for r in reports if r.get("file_rejected")]
    flags: dict[str, int] = {}
    for r in reports:
        for f, c in (r.get("flags") or {}).items():
            flags[f] = flags.get(f, 0) + int(c)
    rate = quarantined / rows_in if rows_in else math.nan
    ci = st.wilson(quarantined, rows_in)
    by_source = {}
    for r in reports:
        s = by_source.setdefault(r.get("source", "?"), {"rows_in": 0, "quarantined": 0})
        s["rows_in"] += int(r.get("rows_in", 0))
        s["quarantined"] += int(r.get("quarantined", 0))
    for s in by_source.values():
        s["rate"] = s["quarantined"] / s["rows_in"] if s["rows_in"] else math.nan
        s["ci"] = list(st.wilson(s["quarantined"], s["rows_in"]))
    rules = data.quarantine_by_rule
    rule_text = ", ".join(f"{r.rule} in {r.column_name} ({r.source}): {int(r.rows):,}" for r in rules.itertuples())
    flag_text = ", ".join(f"{f}: {c:,}" for f, c in sorted(flags.items())) or "none"
    finding = (f"{quarantined:,} of {rows_in:,} input rows in {len(reports)} batches were quarantined: {pct(rate, 3)} "
               f"(95% CI {ci_pct(ci, 3)}); {merged:,} duplicate conversion ids merged; {len(rejected)} file(s) "
               "rejected "
               f"whole. By rule: {rule_text or 'none'}. Rows kept with a flag: {flag_text}.")
    worst = max(by_source.items(), key=lambda kv: kv[1]["rate"] if not math.isnan(kv[1]["rate"]) else -1,
                default=(None, None))
    action = (f"Alert when a batch quarantines significantly more than {pct(rate, 3)} of its rows (one-sided binomial "
              "test)"
              + (f"; review quarantine/source={worst[0]}/ first ({pct(worst[1]['rate'], 3)} of its rows)" if worst[0]
                 and worst[1]["quarantined"] else "")
              + (f"; ask the partner to stop sending junk values (flags: {flag_text})" if flags else "") + ".")
    return Insight(key="quarantine_rate", title="Data quality: quarantined rows", finding=finding, number=rate,
                   number_label="quarantined rows / input rows", ci=ci, ci_method="Wilson 95%", action=action,
                   kind="quality", details={"rows_in": rows_in, "quarantined": quarantined, "merged_duplicates": merged,
                                            "files_rejected": len(rejected), "flags": flags, "by_source": by_source},
                   plot_data={"rules": rules, "by_source": by_source})


def link_rates(data: LakeData) -> Insight:
    q9 = query(data, "data_quality_kpis")
    reg = q9[q9["kpi"] == "registration_link_rate"]
    clk = q9[q9["kpi"] == "click_link_rate"].copy()
    per_partner = {}
    for partner, g in reg.groupby("subject"):
        k, n = int(g["numerator"].sum()), int(g["denominator"].sum())
        per_partner[str(partner)] = {"linked": k, "registrations": n, "rate": k / n if n else math.nan,
                                     "ci": list(st.wilson(k, n)),
                                     "min_day_rate": float(g["rate"].min()), "max_day_rate": float(g["rate"].max()),
                                     "min_day": str(pd.Timestamp(g.loc[g["rate"].idxmin(), "day"]).date())}
    k = int(reg["numerator"].sum())
    n = int(reg["denominator"].sum())
    rate = k / n if n else math.nan
    ci = st.wilson(k, n)
    cov = data.coverage
    clk["day"] = pd.to_datetime(clk["day"])
    if cov.restricted:
        inside = (clk["day"] >= cov.start.normalize()) & (clk["day"] <= cov.end.normalize())
        full = (clk["day"] > cov.start.normalize()) & (clk["day"] < cov.end.normalize())
    else:
        inside = full = pd.Series(True, index=clk.index)
    uncovered = clk[~inside]
    zero_days = int((uncovered["numerator"] == 0).sum())
    full_days = clk[full]
    partner_text = "; ".join(f"{p}: {pct(v['rate'])} (95% CI {ci_pct(v['ci'])}) of {v['registrations']:,}, daily "
                             f"{pct(v['min_day_rate'])} (on {v['min_day']}) to {pct(v['max_day_rate'])}"
                             for p, v in per_partner.items())
    finding = (f"{k:,} of {n:,} partner registrations are linked to a click: {pct(rate)} (95% CI {ci_pct(ci)}). "
               f"Per partner: {partner_text or 'none'}.")
    if len(full_days):
        finding += (f" On the {len(full_days)} day(s) fully inside the export, {pct(full_days['rate'].min())} to "
                    f"{pct(full_days['rate'].max())} of clicks are linked per day")
        if len(uncovered):
            finding += f"; {len(uncovered)} click day(s) lie outside it ({zero_days} with no link at all)."
        else:
            finding += "."
    health = data.link_health
    collapsed = health[health["collapsed"].astype(bool)] if len(health) else health
    if len(health):
        finding += (f" Link health, each partner day against its own recent days: {len(health):,} partner days, "
                    f"{len(collapsed)} collapsed"
                    + (": " + "; ".join(f"{r.partner} on {r.day} ({r.reason})" for r in collapsed.itertuples())
                       if len(collapsed) else "") + ".")
    hours = data.unlinked_by_hour
    test, idx, expected, p_burst = st.max_count_outlier(hours["unlinked"].tolist() if len(hours) else [])
    burst = hours.iloc[idx] if len(hours) else None
    burst_details, burst_text = _burst_of_unlinked(data, burst, expected, hours)
    finding += burst_text
    monitor = ("track both link rates daily (query 09) and alert on a day below the lowest daily rate seen here"
               + (f" ({pct(full_days['rate'].min())} of clicks)" if len(full_days) else "")
               + " and on an hour with significantly more unlinked registrations than usual.")
    ins = Insight(key="link_rates", title="Data quality: link rates by partner and day", finding=finding, number=rate,
                  number_label="linked registrations / registrations", ci=ci, ci_method="Wilson 95%",
                  test=test, p_value=p_burst, kind="quality",
                  details={"per_partner": per_partner, "click_days": int(len(clk)),
                           "click_days_outside_export": int(len(uncovered)), "zero_link_days": zero_days,
                           "link_health_days": int(len(health)),
                           "link_health_collapsed": [{"partner": r.partner, "day": r.day, "reason": r.reason}
                                                     for r in collapsed.itertuples()],
                           **burst_details},
                  plot_data={"clicks": clk, "registrations": reg, "hours": hours})

    def act(i):
        b = burst_details
        origin = (f", almost all from IPs in {b['burst_top_ip']}, where {b['burst_top_ip_clicks']:,} of our clicks "
                  "come from" if b.get("burst_top_ip_share", 0) > 0.8 else "")
        return (f"Investigate the burst of {b['burst_unlinked']:,} registrations without a click at "
                f"{b['burst_hour']:%Y-%m-%d %H:00} UTC ({b['burst_partner']}; about {fmt_num(expected)} per hour "
                f"otherwise{origin}): bot sign-ups, a partner re-import, or traffic that did not come from "
                "BrokerChooser; exclude it from partner billing until explained. Then " + monitor)

    ins._action_if_significant = act
    return ins


def _burst_of_unlinked(data: LakeData, burst, expected: float, hours: pd.DataFrame) -> tuple[dict, str]:
    """The busiest hour of registrations no click explains: its details and its sentence of the finding."""
    if burst is None:
        return {}, ""
    details = {"burst_hour": pd.Timestamp(burst["hour"]), "burst_partner": str(burst["partner"]),
               "burst_unlinked": int(burst["unlinked"]), "burst_registrations": int(burst["registrations"]),
               "expected_unlinked_per_hour": expected, "hours_tested": int(len(hours))}
    text = (" The hour with most registrations no click explains is "
            f"{pd.Timestamp(burst['hour']):%Y-%m-%d %H:00} UTC ({burst['partner']}): "
            f"{int(burst['unlinked']):,} of {int(burst['registrations']):,}, against "
            f"{fmt_num(expected)} per hour otherwise.")
    origin = _burst_origin(data, pd.Timestamp(burst["hour"]), str(burst["partner"]))
    if origin:
        details.update(origin)
        text += (f" {pct(origin['burst_top_ip_share'])} of them come from IPs in {origin['burst_top_ip']}, a "
                 f"country {origin['burst_top_ip_clicks']:,} of our clicks come from.")
    return details, text


def _burst_origin(data: LakeData, hour: pd.Timestamp, partner: str) -> dict:
    """Where the burst hour's registrations without a click come from: the top IP country, its share, and how many
    of our clicks (in the report's window) come from that country."""
    rows = data.rows
    lone = rows[~rows["is_click"] & (rows["partner"] == partner) & rows["ip_country_code"].notna()
                & (rows["registered_at"].dt.floor("h") == hour)]
    if lone.empty:
        return {}
    counts = lone["ip_country_code"].value_counts()
    top = str(counts.index[0])
    return {"burst_top_ip": top, "burst_top_ip_share": float(counts.iloc[0] / len(lone)),
            "burst_top_ip_clicks": int((rows["is_click"] & (rows["country_code"] == top)).sum())}


def match_confidence(data: LakeData) -> Insight:
    linked = _linked(data)
    conf = linked["match_confidence"].dropna().to_numpy(dtype=float)
    n = len(conf)
    k = int((conf >= CONFIDENT).sum())
    share = k / n if n else math.nan
    ci = st.wilson(k, n)
    bins = [{"bin": label, "links": int(((conf >= lo) & (conf < hi)).sum())} for lo, hi, label in CONFIDENCE_BINS]
    for b in bins:
        b["share"] = b["links"] / n if n else math.nan
    clicks = int(data.rows["is_click"].sum())
    rate_all = n / clicks if clicks else math.nan
    rate_conf = k / clicks if clicks else math.nan
    low = next((b for b in bins if b["bin"] == "< 0.50"), {"links": 0, "share": math.nan})
    finding = (f"{k:,} of {n:,} links have a match confidence >= {CONFIDENT}: {pct(share)} (95% CI {ci_pct(ci)}); "
               f"{low['links']:,} ({pct(low['share'])}) are below 0.5 (contested bursts of clicks in the same second). "
               f"Counting only confident links, the click-to-registration rate would be {pct(rate_conf)} "
               f"instead of {pct(rate_all)}.")
    action = (f"For decisions that pay or rank partners, use links with match_confidence >= {CONFIDENT} and show "
              f"the all-links figure next to it ({pp(rate_all - rate_conf)} apart here); ask partners to pass our "
              "click id through so these links become exact.")
    if n == 0:
        action = NO_LINKS
    return Insight(key="match_confidence", title="Match confidence of the links", finding=finding, number=share,
                   number_label=f"share of links with confidence >= {CONFIDENT}", ci=ci, ci_method="Wilson 95%",
                   action=action, kind="quality",
                   details={"links": n, "confident": k, "bins": bins, "rate_all_links": rate_all,
                            "rate_confident_links": rate_conf},
                   plot_data={"bins": bins, "confidence": conf})
