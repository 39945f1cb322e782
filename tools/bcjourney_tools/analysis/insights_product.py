"""The product insights, one builder each: registration rates by page, button, device, market, hour, weekday
(adjusted for the country mix: report_adjust); delays; scores, the high-value share; cross-country registrations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from bcjourney.matching.journeys import UNKNOWN_PAGE

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.anomalies import date_span, market_bursts
from bcjourney_tools.analysis.insight import (
    BOOTSTRAP,
    HIGH_VALUE,
    NO_LINKS,
    OTHER,
    TOP_COUNTRIES,
    TOP_ENTRY_POINTS,
    TOP_PAGES,
    TOP_UI,
    TOP_VPN_COUNTRIES,
    Insight,
)
from bcjourney_tools.analysis.report_adjust import by_country_of
from bcjourney_tools.analysis.report_compare import (
    above_below_action,
    comparison_test,
    daily_phi,
    day_cells,
    phi_note,
    pool_top,
    pooled_groups,
    rate_comparison,
    rate_segments,
    score_comparison,
    score_contrast,
    score_dispersion,
    score_segments,
    split_significant,
    spread,
)
from bcjourney_tools.analysis.report_data import LakeData, query
from bcjourney_tools.analysis.report_format import ci_pct, fmt_num, label, names, pct


def _clicks(data: LakeData) -> pd.DataFrame:
    return data.rows[data.rows["is_click"]]


def _linked(data: LakeData) -> pd.DataFrame:
    r = data.rows
    return r[r["is_click"] & r["registered"]]


def overall_rate(data: LakeData) -> Insight:
    q1 = query(data, "registration_rate_by_page_category")
    n, k = int(q1["clicks"].sum()), int(q1["registrations"].sum())
    rate = k / n if n else math.nan
    clicks = _clicks(data)
    phi = daily_phi(clicks, clicks["registered"])
    ci = st.wilson(k, n, dispersion=phi)
    cov = data.coverage
    finding = f"{k:,} of {n:,} clicks led to a linked partner registration: {pct(rate)} (95% CI {ci_pct(ci)})."
    details = {"clicks": n, "registrations": k, "dispersion": phi}
    action = (f"Use {pct(rate)} as the baseline click-to-registration rate when judging pages, buttons and "
              "markets, and compute it only over days the partner export covers.")
    if cov.restricted:
        naive_n = cov.clicks_total
        naive_k = int(_all_linked_clicks(data))
        first = min(a for a, _, _ in cov.partners.values())
        last = max(b for _, b, _ in cov.partners.values())
        q9 = query(data, "data_quality_kpis")
        click_days = pd.to_datetime(q9.loc[q9["kpi"] == "click_link_rate", "day"])
        days_without = int(((click_days < first.normalize()) | (click_days > last.normalize())).sum())
        details.update({"window_start": cov.start, "window_end": cov.end, "clicks_total": naive_n,
                        "naive_registrations": naive_k, "naive_rate": naive_k / naive_n if naive_n else math.nan,
                        "click_days_without_export": days_without})
        finding += (f" Counted: clicks from {cov.start:%Y-%m-%d %H:%M} to {cov.end:%Y-%m-%d %H:%M} UTC, while the "
                    f"partner export was live ({cov.clicks_in_scope:,} of {naive_n:,} clicks).")
        if days_without:
            finding += (f" {days_without} click day(s) lie entirely outside the export; over all clicks the rate "
                        f"would read {pct(details['naive_rate'])}, an artefact of the missing export.")
            action += (f" Ask the partner for its export before {first:%Y-%m-%d} and after {last:%Y-%m-%d}: "
                       f"{days_without} day(s) of clicks have no registration data.")
    if k == 0:
        action = NO_LINKS
    clicks = _clicks(data)
    daily = (clicks.assign(day=clicks["converted_at"].dt.floor("D"))
             .groupby("day").agg(n=("registered", "size"), k=("registered", "sum")).reset_index())
    bounds = [st.wilson(int(k_), int(n_)) for k_, n_ in zip(daily["k"], daily["n"])]
    daily["rate"] = daily["k"] / daily["n"]
    daily["lo"] = [b[0] for b in bounds]
    daily["hi"] = [b[1] for b in bounds]
    return Insight(key="overall_rate", title="Click-to-registration rate", finding=finding, number=rate,
                   number_label="registrations / clicks", ci=ci, ci_method="Wilson 95%" + phi_note(phi), action=action,
                   details=details, plot_data={"daily": daily})


def _all_linked_clicks(data: LakeData) -> int:
    """Linked clicks over the whole lake (query 09's click_link_rate numerators)."""
    q9 = query(data, "data_quality_kpis")
    return int(q9.loc[q9["kpi"] == "click_link_rate", "numerator"].sum())


def _rate_by(data: LakeData, rng, column: str, key: str, title: str, dimension: str, pooled: pd.DataFrame,
             action) -> Insight:
    """A registration-rate comparison across the segments of one click column, tested with days as units."""
    clicks = _clicks(data)
    cells = day_cells(clicks, clicks[column], clicks["registered"], pooled["segment"].tolist())
    adjust_by = None if column == "country_code" else by_country_of(clicks, clicks[column])
    return rate_comparison(key, title, dimension, pooled, rng, "registration rate", action, cells=cells,
                           adjust_by=adjust_by)



def by_page_category(data: LakeData, rng) -> Insight:
    q1 = query(data, "registration_rate_by_page_category")
    pooled = pool_top(q1, "page_category", "clicks", "registrations", TOP_PAGES)

    def action(above, below, i):
        unknown = [x for x in below + above if x["segment"] == UNKNOWN_PAGE]
        below, above = [x for x in below if x not in unknown], [x for x in above if x not in unknown]
        parts = []
        if below:
            parts.append(f"Review the click-out placement of the pages converting below what their countries "
                         f"predict: {names(below)}")
        if above:
            parts.append(f"use the layouts of those converting above it as the A/B-test challenger: {names(above)}")
        text = "; ".join(parts) + "."
        if below:  # by registrations lost
            lost = sorted(below, key=lambda x: x["excess"])
            text += (" Prioritise by registrations lost against what the page's countries predict: "
                     + ", ".join(f"{label(x['segment'])} {-x['excess']:,.0f}" for x in lost) + ".")
        if unknown:
            text += (f" {UNKNOWN_PAGE} is not a page but codes the mapping lacks: map them first (see the clicks on "
                     "measurement categories the mapping lacks).")
        return text.lstrip(". ")

    return _rate_by(data, rng, "page_category", "rate_by_page_category", "Registration rate by entry page category",
                    "page category", pooled, action)


def by_ui_element(data: LakeData, rng) -> Insight:
    q1, q2 = query(data, "registration_rate_by_page_category"), query(data, "registration_rate_by_ui_element")
    total_n, total_k = int(q1["clicks"].sum()), int(q1["registrations"].sum())
    top = q2.sort_values("click_rank").iloc[:TOP_UI]
    pooled = top[["ui_element", "clicks", "registrations"]].rename(
        columns={"ui_element": "segment", "clicks": "n", "registrations": "k"}).astype({"n": "int64", "k": "int64"})
    rest_n, rest_k = total_n - int(pooled["n"].sum()), total_k - int(pooled["k"].sum())
    if rest_n > 0:
        pooled = pd.concat([pooled, pd.DataFrame([{"segment": OTHER, "n": rest_n, "k": rest_k}])], ignore_index=True)

    action = above_below_action(
        ("below", "A/B-test replacing or redesigning the UI elements converting below the rest: ", ""),
        ("above", "the elements converting above it are the designs to copy: ", ""))

    return _rate_by(data, rng, "ui_element", "rate_by_ui_element", "Registration rate by UI element", "UI element",
                    pooled, action)


def by_country(data: LakeData, rng) -> Insight:
    q3 = query(data, "registration_rate_by_device_and_country")
    c = (q3.groupby(["country_rank", "country"], sort=False)[["clicks", "registrations"]].sum()
         .reset_index().sort_values("country_rank"))
    pooled = c[["country", "clicks", "registrations"]].rename(
        columns={"country": "segment", "clicks": "n", "registrations": "k"}).astype({"n": "int64", "k": "int64"})

    action = above_below_action(
        ("below", "Markets converting below the rest: ", "; check the partner's onboarding there (availability of "
                  "the offer, language, KYC rejections) before buying more traffic"),
        ("above", "markets converting above it are candidates for more traffic: ", ""))

    return _rate_by(data, rng, "country_code", "rate_by_country", "Registration rate by click country", "country",
                    pooled, action)


def delay_distribution(data: LakeData, rng) -> Insight:
    q4 = query(data, "registration_delay_distribution")
    linked = _linked(data)
    delays = linked["registration_delay_s"].dropna().to_numpy(dtype=float)
    n = len(delays)
    median = st.quantile_lower(delays, 0.5)
    ci = st.bootstrap_quantile_ci(delays, 0.5, rng, BOOTSTRAP)
    p90 = st.quantile_lower(delays, 0.9)
    p90_ci = st.bootstrap_quantile_ci(delays, 0.9, rng, BOOTSTRAP)
    fast = q4.loc[q4["bucket_order"] == 1, "registrations"]
    k_fast = int(fast.iloc[0]) if len(fast) else 0
    negative = int(q4.loc[q4["bucket_order"] == 0, "registrations"].sum())
    fast_ci = st.wilson(k_fast, n)
    regs_in_scope = int(data.rows["registered"].sum())
    unlinked = int((data.rows["registered"] & ~data.rows["is_click"]).sum())
    unlinked_share = unlinked / regs_in_scope if regs_in_scope else math.nan
    max_delay = float(delays.max()) if n else math.nan
    finding = (f"Of {n:,} linked registrations, the median delay from click to registration is {fmt_num(median, 0)} s "
               f"(95% CI {fmt_num(ci[0], 0)} to {fmt_num(ci[1], 0)} s) and the 90th percentile "
               f"{fmt_num(p90, 0)} s (CI {fmt_num(p90_ci[0], 0)} to {fmt_num(p90_ci[1], 0)} s); "
               f"{pct(k_fast / n if n else math.nan)}"
               f" (CI {ci_pct(fast_ci)}) come within 5 s, the longest after {fmt_num(max_delay, 0)} s; {negative:,} "
               f"are stamped before the click (partner clock skew). The matcher only links registrations up to "
               f"{data.coverage.before_s} s after a click; the {unlinked:,} unlinked registrations "
               f"({pct(unlinked_share)} of all) bound how many could have come later.")
    action = (f"A median of {fmt_num(median, 0)} s is faster than anyone completes a sign-up form: ask the partner "
              "which "
              "event its registration timestamp records (account start, landing, completed KYC) and agree on one; "
              "until then read 'registration' as 'started at the partner' and measure downstream value with "
              "important_score.")
    if n == 0:
        action = NO_LINKS
    return Insight(key="delay_distribution", title="Click-to-registration delay", finding=finding, number=median,
                   number_label="median delay (s)", ci=ci, ci_method="percentile bootstrap", action=action,
                   unit="seconds",
                   details={"linked": n, "p90_s": p90, "p90_ci": list(p90_ci), "within_5s": k_fast,
                            "within_5s_share": k_fast / n if n else math.nan, "within_5s_ci": list(fast_ci),
                            "negative": negative, "max_delay_s": max_delay, "unlinked_registrations": unlinked,
                            "unlinked_share": unlinked_share},
                   plot_data={"buckets": q4, "delays": delays})


def _scored(data: LakeData) -> pd.DataFrame:
    linked = _linked(data)
    return linked[linked["important_score"].notna()]


def score_by_page(data: LakeData, rng) -> Insight:
    scored = _scored(data)
    groups = pooled_groups(scored, "page_category", "important_score", TOP_PAGES)

    action = above_below_action(
        ("above", "Entry pages whose registrants score higher than the rest: ",
         "; weigh them up in navigation and internal links"),
        ("below", "pages bringing lower-scoring registrants: ",
         "; judge them by value per click, not by registrations alone"))

    phi = score_dispersion(scored, scored["page_category"], [g for g, _ in groups])
    return score_comparison("score_by_page_category", "Important score by entry page category",
                            "page category", groups, rng, action, phi)


def score_by_device(data: LakeData, rng) -> Insight:
    scored = _scored(data)
    mob = scored.loc[scored["device"] == "mobile", "important_score"].to_numpy(dtype=float)
    desk = scored.loc[scored["device"] == "desktop", "important_score"].to_numpy(dtype=float)
    groups = [("desktop", desk), ("mobile", mob)]
    phi = score_dispersion(scored, scored["device"], ["desktop", "mobile"])
    segs = score_segments(groups, rng, phi)
    desktop_vs_mobile = score_contrast(desk, mob, rng, phi)
    test, p, diff, ci = (desktop_vs_mobile.test, desktop_vs_mobile.p_value, desktop_vs_mobile.difference,
                         desktop_vs_mobile.ci)
    hv_d, hv_m = int((desk >= HIGH_VALUE).sum()), int((mob >= HIGH_VALUE).sum())
    finding = (f"Desktop registrants score {fmt_num(float(desk.mean()) if len(desk) else math.nan)} on average "
               f"(n = {len(desk):,}), mobile registrants {fmt_num(float(mob.mean()) if len(mob) else math.nan)} "
               f"(n = {len(mob):,}): desktop minus mobile {fmt_num(float(diff))} (95% CI {fmt_num(ci[0])} to "
               f"{fmt_num(ci[1])}). High-value (score >= {HIGH_VALUE}): "
               f"{pct(hv_d / len(desk) if len(desk) else math.nan, 2)}"
               f" of desktop vs {pct(hv_m / len(mob) if len(mob) else math.nan, 2)} of mobile registrants.")
    ins = Insight(key="score_by_device", title="Important score by device", finding=finding, number=float(diff),
                  number_label="mean score desktop minus mobile", ci=ci,
                  ci_method="percentile bootstrap of the difference of means" + phi_note(phi), unit="score_diff",
                  test=test, p_value=p, segments=segs,
                  details={"desktop_mean": float(desk.mean()) if len(desk) else math.nan,
                           "mobile_mean": float(mob.mean()) if len(mob) else math.nan,
                           "desktop_n": int(len(desk)), "mobile_n": int(len(mob)), "dispersion": phi,
                           "desktop_high_value": hv_d, "mobile_high_value": hv_m},
                  plot_data={"overall": float(np.concatenate([desk, mob]).mean()) if len(desk) + len(mob)
                                        else math.nan, "dimension": "device"})

    def act(i):
        better, worse = ("desktop", "mobile") if diff > 0 else ("mobile", "desktop")
        return (f"{better.capitalize()} users are the more valuable registrants: when comparing pages or campaigns, "
                f"compare value per click within device, and do not read a shift of traffic to {worse} as a quality "
                f"drop of the page itself.")

    ins._action_if_significant = act
    return ins


def score_by_country(data: LakeData, rng) -> Insight:
    scored = _scored(data)
    groups = pooled_groups(scored, "country_code", "important_score", TOP_COUNTRIES)

    action = above_below_action(
        ("above", "Markets whose registrants score higher than the rest: ",
         "; prioritise them in content and paid acquisition"),
        ("below", "markets with lower-scoring registrants: ", "; value their traffic by score, not registration count"))

    phi = score_dispersion(scored, scored["country_code"], [g for g, _ in groups])
    return score_comparison("score_by_country", "Important score by click country", "country", groups, rng,
                            action, phi)


def high_value_by_entry_point(data: LakeData, rng) -> Insight:
    q5 = query(data, "important_score_by_entry_page_device_country")
    all_row = q5[q5["dimension"] == "all"]
    k = int(all_row["high_value_registrations"].iloc[0]) if len(all_row) else 0
    n = int(all_row["scored_registrations"].iloc[0]) if len(all_row) else 0
    share = k / n if n else math.nan
    scored = _scored(data).assign(
        entry_point=lambda d: d["page_category"] + " | " + d["ui_element"],
        high=lambda d: d["important_score"] >= HIGH_VALUE)
    counts = (scored.groupby("entry_point").agg(n=("high", "size"), k=("high", "sum")).reset_index()
              .sort_values(["n", "entry_point"], ascending=[False, True]))
    pooled = pool_top(counts, "entry_point", "n", "k", TOP_ENTRY_POINTS)
    cells = day_cells(scored, scored["entry_point"], scored["high"], pooled["segment"].tolist())
    test, stat, p, dispersion = comparison_test(pooled, cells, rng)
    phi_all = daily_phi(scored, scored["high"])
    ci = st.wilson(k, n, dispersion=phi_all)
    segs = rate_segments(pooled, dispersion)
    hi, lo = spread(segs, "rate")
    finding = (f"{k:,} of {n:,} scored registrations are high-value (important_score >= {HIGH_VALUE}): "
               f"{pct(share, 2)} (95% CI {ci_pct(ci, 2)}). Across the top {TOP_ENTRY_POINTS} entry points "
               f"(page category | UI element, by registrations) the share ranges from {pct(lo['rate'], 2)} "
               f"({lo['segment']}) to {pct(hi['rate'], 2)} ({hi['segment']}).")
    ins = Insight(key="high_value_by_entry_point", title="Share of high-value users by entry point",
                  finding=finding, number=share,
                  number_label=f"share of scored registrations with score >= {HIGH_VALUE}",
                  ci=ci, ci_method="Wilson 95%" + phi_note(phi_all), test=test, p_value=p, segments=segs,
                  details={"high_value": k, "scored_registrations": n, "statistic": stat, "dispersion": dispersion,
                           "overall_dispersion": phi_all},
                  plot_data={"overall": share, "what": "high-value share", "dimension": "entry point"})

    def act(i):
        above, below = split_significant(segs, "rate", "rest_rate")
        if not above and not below:
            return ("Entry points differ as a whole, but none differs from the rest after Holm correction: "
                    "no targeted action; keep monitoring.")
        parts = []
        if above:
            parts.append("Entry points bringing more high-value users than the rest: " + names(above)
                         + "; give them more prominence and test their pattern elsewhere")
        if below:
            parts.append("entry points bringing fewer high-value users than the rest: " + names(below)
                         + "; rank them by high-value users per click, not by registrations, before giving them "
                           "more traffic")
        return "; ".join(parts) + "."

    ins._action_if_significant = act
    return ins


_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def by_hour(data: LakeData, rng) -> Insight:
    q7 = query(data, "hour_and_weekday_patterns")
    h = q7.groupby("hour_utc")[["clicks", "registrations_from_clicks"]].sum().reset_index().sort_values("hour_utc")
    h = h[h["clicks"] > 0]
    pooled = pd.DataFrame({"segment": [f"{int(x):02d}h" for x in h["hour_utc"]], "n": h["clicks"].astype("int64"),
                           "k": h["registrations_from_clicks"].astype("int64")})
    peak = pooled.loc[pooled["n"].idxmax()] if len(pooled) else None
    quiet = pooled.loc[pooled["n"].idxmin()] if len(pooled) else None
    extra = ""
    if peak is not None:
        extra = (f" Click volume peaks at {peak['segment']} UTC ({int(peak['n']):,} clicks) and is lowest at "
                 f"{quiet['segment']} ({int(quiet['n']):,}).")

    action = above_below_action(
        ("above", "Hours (UTC) converting above the rest: ", "; time newsletters and paid campaigns towards them"),
        ("below", "hours converting below: ", "; check the partner's sign-up availability (KYC, support) then"),
        limit=6)

    clicks = _clicks(data)
    cells = (clicks.assign(segment=clicks["converted_at"].dt.hour.map(lambda x: f"{int(x):02d}h"),
                           day=clicks["converted_at"].dt.floor("D"))
             .groupby(["segment", "day"]).agg(n=("registered", "size"), k=("registered", "sum")).reset_index())
    extra += (" Tested with the day-hours as units (each hour seen on every day of the window), so that one "
              "day's incident cannot pass for an hour-of-day pattern.")
    ins = rate_comparison("rate_by_hour", "Registration rate by hour of day (UTC)", "hour", pooled, rng,
                          "registration rate", action, extra_finding=extra, cells=cells,
                          adjust_by=by_country_of(clicks, clicks["converted_at"].dt.hour.map(
                              lambda x: f"{int(x):02d}h")))
    ins.plot_data["order"] = "natural"
    return ins


def by_weekday(data: LakeData, rng) -> Insight:
    q7 = query(data, "hour_and_weekday_patterns")
    w = q7.groupby("weekday")[["clicks", "registrations_from_clicks"]].sum().reset_index().sort_values("weekday")
    w = w[w["clicks"] > 0]
    pooled = pd.DataFrame({"segment": [_WEEKDAYS[int(x) - 1] for x in w["weekday"]], "n": w["clicks"].astype("int64"),
                           "k": w["registrations_from_clicks"].astype("int64")})

    action = above_below_action(
        ("above", "Weekdays converting above the rest: ", "; schedule campaigns and content launches on them"),
        ("below", "weekdays converting below: ",
         "; look for partner-side incidents on those dates before changing any schedule"),
        limit=7)

    clicks = _clicks(data)
    cells = (clicks.assign(segment=clicks["converted_at"].dt.day_of_week.map(lambda x: _WEEKDAYS[int(x)]),
                           day=clicks["converted_at"].dt.floor("D"))
             .groupby(["segment", "day"]).agg(n=("registered", "size"), k=("registered", "sum")).reset_index())
    days = cells.groupby("segment")["day"].nunique()
    extra = (f" Each weekday is seen on {int(days.min())} to {int(days.max())} dates only, so the test uses the dates "
             "as units (day-to-day variation counts as noise).")
    ins = rate_comparison("rate_by_weekday", "Registration rate by weekday", "weekday", pooled, rng,
                          "registration rate", action, extra_finding=extra, cells=cells,
                          adjust_by=by_country_of(clicks, clicks["converted_at"].dt.day_of_week.map(
                              lambda x: _WEEKDAYS[int(x)])))
    ins.plot_data["order"] = "natural"
    return ins


def cross_country(data: LakeData, rng) -> Insight:
    q8 = query(data, "cross_country_vpn_registrations")
    total = q8[q8["country_code"] == "(all)"]
    k = int(total["ip_differs"].iloc[0]) if len(total) else 0
    n = int(total["comparable"].iloc[0]) if len(total) else 0
    share = k / n if n else math.nan
    per = q8[q8["country_code"] != "(all)"].sort_values(["comparable", "country_code"], ascending=[False, True])
    pooled = pool_top(per, "country_code", "comparable", "ip_differs", TOP_VPN_COUNTRIES)
    linked = _linked(data)
    comparable = linked[(linked["country_code"] != "(unknown)") & linked["ip_country_code"].notna()]
    differs = comparable["ip_country_code"] != comparable["country_code"]
    cells = day_cells(comparable, comparable["country_code"], differs, pooled["segment"].tolist())
    phi_all = daily_phi(comparable, differs)
    ci = st.wilson(k, n, dispersion=phi_all)
    test, stat, p, dispersion = comparison_test(pooled, cells, rng)
    segs = rate_segments(pooled, dispersion)
    hi, lo = spread(segs, "rate")
    rk, rn = ((int(total["residency_differs"].iloc[0]), int(total["residency_comparable"].iloc[0])) if len(total)
              else (0, 0))
    top_ip = ""
    if hi["segment"] != OTHER:
        other_ip = linked.loc[(linked["country_code"] == hi["segment"]) & linked["ip_country_code"].notna()
                              & (linked["ip_country_code"] != hi["segment"]), "ip_country_code"]
        if len(other_ip):
            counts = other_ip.value_counts().sort_index().sort_values(ascending=False, kind="stable")
            top_ip = (f" {hi['segment']}'s cross-country registrations come mostly from IPs in "
                      + ", ".join(f"{c} ({int(v):,})" for c, v in counts.iloc[:3].items()) + ".")
    finding = (f"{k:,} of {n:,} linked registrations come from an IP in another country than the click's: "
               f"{pct(share)} (95% CI {ci_pct(ci)}). Among the top {TOP_VPN_COUNTRIES} click countries it ranges "
               f"from {pct(lo['rate'])} ({lo['segment']}) to {pct(hi['rate'])} ({hi['segment']}, n = {hi['n']:,})."
               f"{top_ip} Where the partner sent a residency ({rn:,} registrations), it differs from the IP country in "
               f"{pct(rk / rn if rn else math.nan)}.")
    ins = Insight(key="cross_country", title="Cross-country (VPN / travel) registrations", finding=finding,
                  number=share, number_label="share of registrations with IP country != click country", ci=ci,
                  ci_method="Wilson 95%" + phi_note(phi_all), test=test, p_value=p, segments=segs,
                  details={"ip_differs": k, "comparable": n, "residency_differs": rk, "residency_comparable": rn,
                           "statistic": stat, "dispersion": dispersion},
                  plot_data={"overall": share, "what": "cross-country share", "dimension": "country"})

    bursting = market_bursts(_clicks(data))
    burst_days = {c: date_span(of["day"]) for c, of in bursting.groupby("country_code")} if len(bursting) else {}

    def act(i):
        above = [s for s in split_significant(segs, "rate", "rest_rate")[0] if s["segment"] != OTHER]
        bursts = "; ".join(f"{s['segment']}'s cross-country share is a burst of {burst_days[s['segment']]} (see the "
                           "anomalies), not a trait of the market" for s in above if s["segment"] in burst_days)
        above = [s for s in above if s["segment"] not in burst_days]
        if bursts and not above:
            return bursts + ": no market action; find where that traffic came from."
        if not above:
            return ("Countries differ as a whole, but none has more cross-country registrations than the rest "
                    "after Holm correction: no targeted action; keep monitoring.")
        return ("Markets with significantly more cross-country registrations: " + names(above)
                + ". Check their geo-IP and country attribution before using their per-country rates and "
                  "scores, and ask partners whether these users can be onboarded from where they connect."
                + (f" {bursts}." if bursts else ""))

    ins._action_if_significant = act
    return ins
