"""The report's insights as data: every number computed from the lake (report_data), each with its
uncertainty, its test and an action that the test supports.

Rules the builders follow:
- rates come with a Wilson 95% interval; differences of two rates with Newcombe's interval; means of
  scores and quantiles of delays with a percentile bootstrap interval (seeded: reproducible);
- a comparison has an omnibus test (chi-square for rates, Kruskal-Wallis / Mann-Whitney for scores);
  the omnibus p-values of all insights form one family, Holm-adjusted; an insight is significant when
  its adjusted p < ALPHA;
- inside a significant insight, each segment is compared with the rest of the clicks (two-proportion
  z / Fisher exact for rates, Mann-Whitney for scores), Holm-adjusted within the insight; only those
  segments are named in the action;
- a comparison that is not significant gets the action NO_EVIDENCE, never a recommendation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.report_data import LakeData, query

HIGH_VALUE = 50  # important_score >= 50 is a high-value user (athena_queries/README.md)
OTHER = "(other)"
NO_EVIDENCE = "No evidence of a difference"
SEED = 20240421
BOOTSTRAP = 4000
TOP_PAGES = 12
TOP_UI = 12
TOP_COUNTRIES = 10
TOP_ENTRY_POINTS = 10
TOP_VPN_COUNTRIES = 20  # more than elsewhere: the question is which markets stand out
CONFIDENCE_BINS = [(0.99, 1.0000001, ">= 0.99"), (0.95, 0.99, "0.95-0.99"), (0.9, 0.95, "0.90-0.95"),
                   (0.8, 0.9, "0.80-0.90"), (0.5, 0.8, "0.50-0.80"), (-0.0000001, 0.5, "< 0.50")]
CONFIDENT = 0.9
NO_LINKS = "No registration is linked to a click in this lake (no partner export yet?): nothing to act on."


@dataclass
class Insight:
    key: str
    title: str
    finding: str
    number: float
    number_label: str
    ci: tuple[float, float]
    ci_method: str
    test: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    significant: bool | None = None
    action: str = ""
    kind: str = "product"  # product | quality
    unit: str = "rate"  # how number and ci read: rate | rate_diff | score | score_diff | seconds
    segments: list[dict] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # what the renderer (report_render.PLOTS[key]) draws from
    plot_data: dict[str, Any] = field(default_factory=dict)
    # for comparisons: how to phrase the action once significance is known
    _action_if_significant: Callable[[Insight], str] | None = None

    def as_dict(self) -> dict:
        def clean(v):
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                return None
            if isinstance(v, (np.floating,)):
                return clean(float(v))
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.bool_,)):
                return bool(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, pd.Timestamp):
                return v.isoformat(sep=" ")
            return v

        return clean({
            "key": self.key, "title": self.title, "kind": self.kind, "finding": self.finding,
            "number": self.number, "number_label": self.number_label, "unit": self.unit, "ci": list(self.ci),
            "ci_method": self.ci_method, "test": self.test, "p_value": self.p_value,
            "p_adjusted": self.p_adjusted, "significant": self.significant, "action": self.action,
            "segments": self.segments, "details": self.details,
        })


# --------------------------------------------------------------------------------------------------
# formatting


def pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"


def pp(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:+.{digits}f} pp"


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ci_pct(ci: tuple[float, float], digits: int = 1) -> str:
    return f"{pct(ci[0], digits)} to {pct(ci[1], digits)}"


def fmt_num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def label(segment: str) -> str:
    return "(other, the smaller groups pooled)" if segment == OTHER else segment


def names(segments: list[dict], limit: int = 5) -> str:
    labels = [f"{label(s['segment'])} ({pct(s['rate']) if 'rate' in s else fmt_num(s['mean'])})"
              for s in segments[:limit]]
    more = len(segments) - limit
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


# --------------------------------------------------------------------------------------------------
# segment comparisons


def above_below_action(*sentences: tuple[str, str, str], limit: int = 5):
    """An action text from (side, before, after) sentences: each side's significant segments are named between
    `before` and `after`; sides without segments are left out; sentences are joined with '; '."""
    def action(above: list[dict], below: list[dict], _insight) -> str:
        sides = {"above": above, "below": below}
        return "; ".join(before + names(sides[side], limit) + after
                         for side, before, after in sentences if sides[side]) + "."

    return action


def phi_note(phi: float) -> str:
    return f", widened by the day-to-day dispersion (phi = {phi:.2f})" if phi > 1.0 else ""


def daily_phi(frame: pd.DataFrame, flag: pd.Series) -> float:
    """Dispersion of a single rate over the click days (1 = binomial noise only)."""
    day = frame["converted_at"].dt.floor("D")
    cells = pd.DataFrame({"day": day.to_numpy(), "flag": flag.astype(bool).to_numpy()}).groupby("day")["flag"]
    agg = cells.agg(["sum", "size"])
    return st.cell_dispersion(agg["sum"], agg["size"])


def pool_top(counts: pd.DataFrame, label: str, n_col: str, k_col: str, top: int) -> pd.DataFrame:
    """counts (ordered by importance) -> the first `top` rows and the rest pooled as OTHER."""
    counts = counts[[label, n_col, k_col]].rename(columns={label: "segment", n_col: "n", k_col: "k"})
    counts = counts.astype({"n": "int64", "k": "int64"})
    head, tail = counts.iloc[:top], counts.iloc[top:]
    if len(tail) and tail["n"].sum() > 0:
        head = pd.concat([head, pd.DataFrame([{"segment": OTHER, "n": int(tail["n"].sum()),
                                               "k": int(tail["k"].sum())}])], ignore_index=True)
    return head.reset_index(drop=True)


def rate_segments(pooled: pd.DataFrame, dispersion: float = 1.0) -> list[dict]:
    """Per segment: n, k, rate, Wilson CI, the test against the rest and its Holm-adjusted p."""
    total_n, total_k = int(pooled["n"].sum()), int(pooled["k"].sum())
    segs = []
    for r in pooled.itertuples():
        n, k = int(r.n), int(r.k)
        rest_n, rest_k = total_n - n, total_k - k
        test, p = st.two_proportion_test(k, n, rest_k, rest_n, dispersion)
        lo, hi = st.wilson(k, n, dispersion=dispersion)
        segs.append({"segment": str(r.segment), "n": n, "k": k, "rate": k / n if n else math.nan,
                     "ci": [lo, hi], "rest_rate": rest_k / rest_n if rest_n else math.nan,
                     "test_vs_rest": test, "p_value": p})
    for s, adj in zip(segs, st.holm([s["p_value"] for s in segs])):
        s["p_adjusted"] = adj
    return segs


def day_cells(frame: pd.DataFrame, label: pd.Series, flag: pd.Series, segments: list[str]) -> pd.DataFrame:
    """(segment, click day) cells with k = flagged rows and n = rows; labels not among `segments` are
    pooled as OTHER, as in the pooled table."""
    named = set(segments) - {OTHER}
    seg = label.astype(object).where(label.isin(named), OTHER)
    day = frame["converted_at"].dt.floor("D")
    cells = (pd.DataFrame({"segment": seg.to_numpy(), "day": day.to_numpy(), "flag": flag.astype(bool).to_numpy()})
             .groupby(["segment", "day"]).agg(n=("flag", "size"), k=("flag", "sum")).reset_index())
    return cells


def comparison_test(pooled: pd.DataFrame, cells: pd.DataFrame | None,
                    rng: np.random.Generator) -> tuple[str, float, float, float]:
    """The omnibus test of a rate across groups: quasi-binomial F over the groups' day cells (the
    day-to-day dispersion counts as noise) when every group's expected counts reach MIN_EXPECTED;
    otherwise (sparse events) the chi-square with a Monte Carlo p-value. (name, stat, p, dispersion)."""
    n, k = pooled["n"].to_numpy(dtype=float), pooled["k"].to_numpy(dtype=float)
    pooled_rate = k.sum() / n.sum() if n.sum() else 0.0
    dense = len(n) and min((n * pooled_rate).min(), (n * (1 - pooled_rate)).min()) >= st.MIN_EXPECTED
    if cells is not None and dense:
        return st.overdispersed_homogeneity(cells["k"], cells["n"], cells["segment"])
    test, stat, p = st.chi2_homogeneity(pooled["k"], pooled["n"], rng)
    return test, stat, p, 1.0


def spread(segs: list[dict], value: str) -> tuple[dict, dict]:
    """The named (not OTHER) segments with the highest and the lowest value."""
    named = [s for s in segs if s["segment"] != OTHER and not math.isnan(s[value])] or segs
    if not named:  # nothing to compare (e.g. no registration in the window)
        empty = {"segment": "n/a", "n": 0, "k": 0, value: math.nan}
        return empty, empty
    hi = max(named, key=lambda s: s[value])
    lo = min(named, key=lambda s: s[value])
    return hi, lo


def split_significant(segs: list[dict], value: str, rest: str) -> tuple[list[dict], list[dict]]:
    sig = [s for s in segs if s["p_adjusted"] < st.ALPHA]
    above = sorted([s for s in sig if s[value] > s[rest]], key=lambda s: -s[value])
    below = sorted([s for s in sig if s[value] < s[rest]], key=lambda s: s[value])
    return above, below


def segment_action(segs: list[dict], value: str, rest: str, dimension: str,
                   action: Callable[[list[dict], list[dict], Insight], str]) -> Callable[[Insight], str]:
    """The action of a significant comparison: about the groups that differ from the rest after Holm correction."""
    def act(i: Insight) -> str:
        above, below = split_significant(segs, value, rest)
        if not above and not below:
            return (f"The {dimension} groups differ as a whole, but no single group differs from the rest after "
                    "Holm correction: no targeted action; keep monitoring.")
        return action(above, below, i)

    return act


def rate_comparison(key: str, title: str, dimension: str, pooled: pd.DataFrame, rng: np.random.Generator,
                    what: str, action: Callable[[list[dict], list[dict], Insight], str],
                    extra_finding: str = "", cells: pd.DataFrame | None = None) -> Insight:
    """An insight comparing a rate (k of n) across segments.

    cells (columns segment, k, n; several per segment: its days) switch the tests to their
    overdispersion-corrected (quasi-binomial) forms: clicks of one day share traffic mix, campaigns
    and partner incidents, so day-to-day variation must not pass for a difference between groups."""
    test, stat, p, dispersion = comparison_test(pooled, cells, rng)
    segs = rate_segments(pooled, dispersion)
    hi, lo = spread(segs, "rate")
    number = hi["rate"] - lo["rate"]
    ci = st.diff_ci(hi["k"], hi["n"], lo["k"], lo["n"], dispersion=dispersion)
    total_k, total_n = int(pooled["k"].sum()), int(pooled["n"].sum())
    overall = total_k / total_n if total_n else math.nan
    pooled_note = (f" (top {len(segs) - 1} by volume, the rest pooled)" if segs and segs[-1]["segment"] == OTHER
                   else "")
    finding = (f"Across {len(segs)} {dimension} groups{pooled_note}, the {what} ranges from "
               f"{pct(lo['rate'])} ({lo['segment']}, n = {lo['n']:,}) to {pct(hi['rate'])} ({hi['segment']}, "
               f"n = {hi['n']:,}); overall {pct(overall)} of {total_n:,}.{extra_finding}")
    ins = Insight(key=key, title=title, finding=finding, number=number,
                  number_label=f"highest minus lowest {what} ({hi['segment']} vs {lo['segment']})",
                  ci=ci, ci_method=f"Newcombe hybrid score interval{phi_note(dispersion)} (not adjusted for picking "
                                   "the extremes)",
                  unit="rate_diff", test=test, p_value=p, segments=segs,
                  details={"statistic": stat, "overall_rate": overall, "overall_k": total_k, "overall_n": total_n,
                           "dimension": dimension, "dispersion": dispersion},
                  plot_data={"overall": overall, "what": what, "dimension": dimension})

    ins._action_if_significant = segment_action(segs, "rate", "rest_rate", dimension, action)
    return ins


def score_segments(groups: list[tuple[str, np.ndarray]], rng: np.random.Generator,
                   dispersion: float = 1.0) -> list[dict]:
    segs = []
    for name, g in groups:
        rest = np.concatenate([h for m, h in groups if m != name]) if len(groups) > 1 else np.array([])
        test, p = st.mann_whitney(g, rest, dispersion)
        segs.append({"segment": name, "n": int(len(g)), "mean": float(g.mean()) if len(g) else math.nan,
                     "ci": list(st.bootstrap_mean_ci(g, rng, BOOTSTRAP, dispersion)),
                     "rest_mean": float(rest.mean()) if len(rest) else math.nan,
                     "share_high_value": float((g >= HIGH_VALUE).mean()) if len(g) else math.nan,
                     "test_vs_rest": test, "p_value": p})
    for s, adj in zip(segs, st.holm([s["p_value"] for s in segs])):
        s["p_adjusted"] = adj
    return segs


def pooled_groups(frame: pd.DataFrame, column: str, values: str, top: int) -> list[tuple[str, np.ndarray]]:
    """Top `top` values of column by rows, the rest pooled as OTHER: (label, values array)."""
    order = frame[column].value_counts(sort=True)
    order = order.sort_index().sort_values(ascending=False, kind="stable")
    keep = list(order.index[:top])
    groups = [(str(k), frame.loc[frame[column] == k, values].to_numpy(dtype=float)) for k in keep]
    rest = frame.loc[~frame[column].isin(keep), values].to_numpy(dtype=float)
    if len(rest):
        groups.append((OTHER, rest))
    return groups


def score_dispersion(frame: pd.DataFrame, label: pd.Series, segments: list[str]) -> float:
    """mean_dispersion of important_score over (segment, click day) cells, OTHER pooled as in the groups."""
    named = set(segments) - {OTHER}
    seg = label.astype(object).where(label.isin(named), OTHER)
    return st.mean_dispersion(frame["important_score"].to_numpy(dtype=float), seg.to_numpy(),
                              frame["converted_at"].dt.floor("D").to_numpy())


def score_comparison(key: str, title: str, dimension: str, groups: list[tuple[str, np.ndarray]],
                     rng: np.random.Generator, action: Callable[[list[dict], list[dict], Insight], str],
                     dispersion: float = 1.0) -> Insight:
    segs = score_segments(groups, rng, dispersion)
    test, stat, p = st.kruskal([g for _, g in groups], dispersion)
    hi, lo = spread(segs, "mean")
    ghi = dict(groups).get(hi["segment"], np.array([]))
    glo = dict(groups).get(lo["segment"], np.array([]))
    number = hi["mean"] - lo["mean"]
    ci = st.bootstrap_diff_ci(ghi, glo, rng, BOOTSTRAP, dispersion)
    allv = np.concatenate([g for _, g in groups]) if groups else np.array([])
    overall = float(allv.mean()) if len(allv) else math.nan
    overall_ci = st.bootstrap_mean_ci(allv, rng, BOOTSTRAP, dispersion)
    finding = (f"Mean important_score of linked registrations by {dimension}: from {fmt_num(lo['mean'])} "
               f"({lo['segment']}, n = {lo['n']:,}) to {fmt_num(hi['mean'])} ({hi['segment']}, n = {hi['n']:,}); "
               f"overall {fmt_num(overall)} (95% CI {fmt_num(overall_ci[0])} to "
               f"{fmt_num(overall_ci[1])}) over {len(allv):,} scored registrations; "
               f"{pct(float((allv > 0).mean()) if len(allv) else math.nan)} of them have a score above 0.")
    ins = Insight(key=key, title=title, finding=finding, number=number,
                  number_label=f"highest minus lowest mean score ({hi['segment']} vs {lo['segment']})",
                  ci=ci, ci_method=f"percentile bootstrap of the difference of means{phi_note(dispersion)} (not "
                                   "adjusted for picking the extremes)",
                  unit="score_diff", test=test, p_value=p, segments=segs,
                  details={"statistic": stat, "overall_mean": overall, "overall_ci": list(overall_ci),
                           "scored_registrations": int(len(allv)),
                           "dimension": dimension, "dispersion": dispersion},
                  plot_data={"overall": overall, "dimension": dimension})

    ins._action_if_significant = segment_action(segs, "mean", "rest_mean", dimension, action)
    return ins


# --------------------------------------------------------------------------------------------------
# the insights


def _clicks(data: LakeData) -> pd.DataFrame:
    return data.rows[data.rows["is_click"]]


def _linked(data: LakeData) -> pd.DataFrame:
    r = data.rows
    return r[r["is_click"] & r["registered"]]


def overall_rate(data: LakeData) -> Insight:
    q1 = query(data, "01")
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
        q9 = query(data, "09")
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
    q9 = query(data, "09")
    return int(q9.loc[q9["kpi"] == "click_link_rate", "numerator"].sum())


def _rate_by(data: LakeData, rng, column: str, key: str, title: str, dimension: str, pooled: pd.DataFrame,
             action) -> Insight:
    """A registration-rate comparison across the segments of one click column, tested with days as units."""
    clicks = _clicks(data)
    cells = day_cells(clicks, clicks[column], clicks["registered"], pooled["segment"].tolist())
    return rate_comparison(key, title, dimension, pooled, rng, "registration rate", action, cells=cells)


def by_page_category(data: LakeData, rng) -> Insight:
    q1 = query(data, "01")
    pooled = pool_top(q1, "page_category", "clicks", "registrations", TOP_PAGES)

    def action(above, below, i):
        parts = []
        if below:
            parts.append(f"Review the click-out placement of the pages converting below the rest: {names(below)}")
        if above:
            parts.append(f"use the layouts of those converting above it as the A/B-test challenger: {names(above)}")
        text = "; ".join(parts) + "."
        if below:
            lost = sorted(below, key=lambda x: -(x["rest_rate"] - x["rate"]) * x["n"])
            text += (" Prioritise by registrations lost, (rest rate - page rate) x clicks: "
                     + ", ".join(f"{label(x['segment'])} {(x['rest_rate'] - x['rate']) * x['n']:,.0f}" for x in lost)
                     + ".")
        return text

    return _rate_by(data, rng, "page_category", "rate_by_page_category", "Registration rate by entry page category",
                    "page category", pooled, action)


def by_ui_element(data: LakeData, rng) -> Insight:
    q1, q2 = query(data, "01"), query(data, "02")
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


def by_device(data: LakeData, rng) -> Insight:
    q3 = query(data, "03")
    dev = q3.groupby("device", sort=False)[["clicks", "registrations"]].sum().reset_index()
    dev = dev.sort_values(["clicks", "device"], ascending=[False, True])
    m = dev.set_index("device")
    pooled = pool_top(dev, "device", "clicks", "registrations", 99)
    clicks = _clicks(data)
    cells = day_cells(clicks, clicks["device"], clicks["registered"], pooled["segment"].tolist())
    _, _, _, dispersion = comparison_test(pooled, cells, rng)
    segs = rate_segments(pooled, dispersion)
    if "mobile" in m.index and "desktop" in m.index:
        km, nm = int(m.loc["mobile", "registrations"]), int(m.loc["mobile", "clicks"])
        kd, nd = int(m.loc["desktop", "registrations"]), int(m.loc["desktop", "clicks"])
    else:  # a lake with one device only
        km = nm = kd = nd = 0
    test, p = st.two_proportion_test(km, nm, kd, nd, dispersion)
    if dispersion > 1.0:
        test += f" (phi = {dispersion:.2f} from day-to-day variation)"
    diff = (km / nm - kd / nd) if nm and nd else math.nan
    ci = st.diff_ci(km, nm, kd, nd, dispersion=dispersion)
    finding = (f"Mobile clicks register at {pct(km / nm if nm else math.nan)} (n = {nm:,}), desktop clicks at "
               f"{pct(kd / nd if nd else math.nan)} (n = {nd:,}): a difference of {pp(diff)} (95% CI "
               f"{pp(ci[0])} to {pp(ci[1])}).")
    ins = Insight(key="rate_by_device", title="Registration rate by device", finding=finding, number=diff,
                  number_label="mobile minus desktop registration rate", ci=ci,
                  ci_method="Newcombe hybrid score" + phi_note(dispersion),
                  unit="rate_diff",
                  test=test, p_value=p, segments=segs,
                  details={"mobile_k": km, "mobile_n": nm, "desktop_k": kd, "desktop_n": nd,
                           "dispersion": dispersion},
                  plot_data={"overall": (km + kd) / (nm + nd) if nm + nd else math.nan,
                                        "what": "registration rate", "dimension": "device"})

    def act(i):
        worse, better = ("mobile", "desktop") if diff < 0 else ("desktop", "mobile")
        return (f"{worse.capitalize()} clicks register {pp(abs(diff))[1:]} less often than {better} clicks: walk "
                f"through the {worse} click-out and the partner's {worse} sign-up page for friction (load time, "
                f"forms, app-store detours) and A/B-test fixes on {worse} first.")

    ins._action_if_significant = act
    return ins


def by_country(data: LakeData, rng) -> Insight:
    q3 = query(data, "03")
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
    q4 = query(data, "04")
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
    test, p = st.mann_whitney(desk, mob, phi)
    diff = (desk.mean() - mob.mean()) if len(desk) and len(mob) else math.nan
    ci = st.bootstrap_diff_ci(desk, mob, rng, BOOTSTRAP, phi)
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
    q5 = query(data, "05")
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
    q7 = query(data, "07")
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
                          "registration rate", action, extra_finding=extra, cells=cells)
    ins.plot_data["order"] = "natural"
    return ins


def by_weekday(data: LakeData, rng) -> Insight:
    q7 = query(data, "07")
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
                          "registration rate", action, extra_finding=extra, cells=cells)
    ins.plot_data["order"] = "natural"
    return ins


def cross_country(data: LakeData, rng) -> Insight:
    q8 = query(data, "08")
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
    rk = int(total["residency_differs"].iloc[0]) if len(total) else 0
    rn = int(total["residency_comparable"].iloc[0]) if len(total) else 0
    top_ip = ""
    if hi["segment"] != OTHER:
        other_ip = linked.loc[(linked["country_code"] == hi["segment"]) & linked["ip_country_code"].notna()
                              & (linked["ip_country_code"] != hi["segment"]), "ip_country_code"]
        if len(other_ip):
            counts = other_ip.value_counts()
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            top_ip = (f" {hi['segment']}'s cross-country registrations come mostly from IPs in "
                      + ", ".join(f"{c} ({int(v):,})" for c, v in counts.iloc[:3].items()) + ".")
    finding = (f"{k:,} of {n:,} linked registrations come from an IP in another country than the click's: "
               f"{pct(share)} (95% CI {ci_pct(ci)}). Among the top {TOP_VPN_COUNTRIES} click countries the share "
               "ranges "
               f"from {pct(lo['rate'])} ({lo['segment']}) to {pct(hi['rate'])} ({hi['segment']}, n = {hi['n']:,})."
               f"{top_ip} Where the partner sent a residency ({rn:,} registrations), it differs from the IP country in "
               f"{pct(rk / rn if rn else math.nan)}.")
    ins = Insight(key="cross_country", title="Cross-country (VPN / travel) registrations", finding=finding,
                  number=share, number_label="share of registrations with IP country != click country", ci=ci,
                  ci_method="Wilson 95%" + phi_note(phi_all), test=test, p_value=p, segments=segs,
                  details={"ip_differs": k, "comparable": n, "residency_differs": rk, "residency_comparable": rn,
                           "statistic": stat, "dispersion": dispersion},
                  plot_data={"overall": share, "what": "cross-country share", "dimension": "country"})

    def act(i):
        above, _ = split_significant(segs, "rate", "rest_rate")
        above = [s for s in above if s["segment"] != OTHER]
        if not above:
            return ("Countries differ as a whole, but none has more cross-country registrations than the rest "
                    "after Holm correction: no targeted action; keep monitoring.")
        return ("Markets with significantly more cross-country registrations: " + names(above)
                + ". Check their geo-IP and country attribution before using their per-country rates and "
                  "scores, and ask partners whether these users can be onboarded from where they connect.")

    ins._action_if_significant = act
    return ins


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
    q9 = query(data, "09")
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
    hours = data.unlinked_by_hour
    test, idx, expected, p_burst = st.max_count_outlier(hours["unlinked"].tolist() if len(hours) else [])
    burst = hours.iloc[idx] if len(hours) else None
    burst_details = {}
    if burst is not None:
        burst_details = {"burst_hour": pd.Timestamp(burst["hour"]), "burst_partner": str(burst["partner"]),
                         "burst_unlinked": int(burst["unlinked"]), "burst_registrations": int(burst["registrations"]),
                         "expected_unlinked_per_hour": expected, "hours_tested": int(len(hours))}
        finding += (" The hour with most registrations no click explains is "
                    f"{pd.Timestamp(burst['hour']):%Y-%m-%d %H:00} UTC ({burst['partner']}): "
                    f"{int(burst['unlinked']):,} of {int(burst['registrations']):,}, against "
                    f"{fmt_num(expected)} per hour otherwise.")
    monitor = ("track both link rates daily (query 09) and alert on a day below the lowest daily rate seen here"
               + (f" ({pct(full_days['rate'].min())} of clicks)" if len(full_days) else "")
               + " and on an hour with significantly more unlinked registrations than usual.")
    ins = Insight(key="link_rates", title="Data quality: link rates by partner and day", finding=finding, number=rate,
                  number_label="linked registrations / registrations", ci=ci, ci_method="Wilson 95%",
                  test=test, p_value=p_burst, kind="quality",
                  details={"per_partner": per_partner, "click_days": int(len(clk)),
                           "click_days_outside_export": int(len(uncovered)), "zero_link_days": zero_days,
                           **burst_details},
                  plot_data={"clicks": clk, "registrations": reg, "hours": hours})

    def act(i):
        b = burst_details
        return (f"Investigate the burst of {b['burst_unlinked']:,} registrations without a click at "
                f"{b['burst_hour']:%Y-%m-%d %H:00} UTC ({b['burst_partner']}; about {fmt_num(expected)} per hour "
                "otherwise): bot sign-ups, a partner re-import, or traffic that did not come from BrokerChooser; "
                "exclude it from partner billing until explained. Then " + monitor)

    ins._action_if_significant = act
    return ins


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


def finalize(insights: list[Insight]) -> list[Insight]:
    """Holm-adjust the comparisons' p-values as one family; set significance and the actions."""
    tested = [i for i in insights if i.p_value is not None]
    for i, adj in zip(tested, st.holm([i.p_value for i in tested])):
        i.p_adjusted = adj
        i.significant = bool(adj < st.ALPHA)
        if not i.significant:
            for s in i.segments:
                s["significant"] = False
            i.action = (f"{NO_EVIDENCE} (Holm-adjusted p = {fmt_p(adj)} over {len(tested)} comparisons): "
                        "no action recommended; keep collecting data.")
        else:
            for s in i.segments:
                s["significant"] = bool(s.get("p_adjusted", 1.0) < st.ALPHA)
            i.action = i._action_if_significant(i) if i._action_if_significant else i.action
    for i in insights:
        i.action = i.action[:1].upper() + i.action[1:]
    return insights
