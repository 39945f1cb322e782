"""The comparison skeletons every insight is built on: rates of segments (pooled tops, Wilson intervals,
day-level dispersion, chi-square or Monte Carlo omnibus, each segment against the rest) and scores of groups
(bootstrap means, Kruskal-Wallis or Mann-Whitney), and the action a significant comparison supports."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import BOOTSTRAP, HIGH_VALUE, OTHER, Insight
from bcjourney_tools.analysis.report_adjust import add_country_adjustment, add_value_per_click, value_note
from bcjourney_tools.analysis.report_format import fmt_num, names, pct


@dataclass(frozen=True)
class Contrast:
    """Group a against group b on one measure: the test, its p-value, the difference a - b and its 95% CI. Every
    two-group comparison of the report (a segment against the rest, the highest against the lowest, mobile against
    desktop) is one of these."""

    test: str
    p_value: float
    difference: float
    ci: tuple[float, float]


NO_CI = (math.nan, math.nan)


def rate_contrast(k_a: int, n_a: int, k_b: int, n_b: int, dispersion: float = 1.0, with_ci: bool = True) -> Contrast:
    """Rates k/n: the (overdispersion-corrected) two-proportion test, the Newcombe interval of the difference."""
    test, p = st.two_proportion_test(k_a, n_a, k_b, n_b, dispersion)
    difference = (k_a / n_a - k_b / n_b) if n_a and n_b else math.nan
    ci = tuple(st.diff_ci(k_a, n_a, k_b, n_b, dispersion=dispersion)) if with_ci else NO_CI
    return Contrast(test, p, difference, ci)


def score_contrast(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, dispersion: float = 1.0,
                   with_ci: bool = True) -> Contrast:
    """Scores: Mann-Whitney, the bootstrap interval of the difference of means (drawn from `rng`)."""
    test, p = st.mann_whitney(a, b, dispersion)
    difference = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    ci = tuple(st.bootstrap_diff_ci(a, b, rng, BOOTSTRAP, dispersion)) if with_ci else NO_CI
    return Contrast(test, p, difference, ci)


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
        against_rest = rate_contrast(k, n, rest_k, rest_n, dispersion, with_ci=False)
        lo, hi = st.wilson(k, n, dispersion=dispersion)
        segs.append({"segment": str(r.segment), "n": n, "k": k, "rate": k / n if n else math.nan,
                     "ci": [lo, hi], "rest_rate": rest_k / rest_n if rest_n else math.nan,
                     "test_vs_rest": against_rest.test, "p_value": against_rest.p_value})
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
    """The action of a significant comparison: about the groups that differ from the rest after Holm correction,
    and, where the segments carry a country adjustment (report_adjust), only about those that still differ from
    what their countries predict: a raw difference the market mix explains is no reason to change the page."""
    def act(i: Insight) -> str:
        if segs and "adjusted_p_holm" in segs[0]:
            above, below = split_adjusted(segs)
            if not above and not below:
                return (f"The {dimension} groups differ in their raw rates, but none differs from what its clicks' "
                        f"countries predict (indirect standardization, Holm-adjusted): the market mix explains it; "
                        f"no {dimension} action (see the markets by registrations lost).")
        else:
            above, below = split_significant(segs, value, rest)
        if not above and not below:
            return (f"The {dimension} groups differ as a whole, but no single group differs from the rest after "
                    "Holm correction: no targeted action; keep monitoring.")
        return action(above, below, i)

    return act


def split_adjusted(segs: list[dict]) -> tuple[list[dict], list[dict]]:
    """The named segments above and below what their countries predict, significant after Holm correction."""
    sig = [s for s in segs if s["adjusted_p_holm"] < st.ALPHA and s["segment"] != OTHER]
    above = sorted([s for s in sig if s["excess"] > 0], key=lambda s: -s["excess"])
    below = sorted([s for s in sig if s["excess"] < 0], key=lambda s: s["excess"])
    return above, below


def adjusted_note(segs: list[dict], dimension: str) -> str:
    """One sentence of the finding: the segment furthest from what its countries predict."""
    named = [s for s in segs if s["segment"] != OTHER and s.get("expected_k")]
    if not named:
        return ""
    worst = max(named, key=lambda s: abs(s["excess"]))
    side = "fewer" if worst["excess"] < 0 else "more"
    return (f" Adjusted for the country mix, the {dimension} furthest from what its clicks' countries predict is "
            f"{worst['segment']}: {abs(worst['excess']):,.0f} registrations {side} than expected "
            f"({worst['k']:,} against {worst['expected_k']:,.0f}; adjusted rate {pct(worst['adjusted_rate'])}).")


def rate_comparison(key: str, title: str, dimension: str, pooled: pd.DataFrame, rng: np.random.Generator,
                    what: str, action: Callable[[list[dict], list[dict], Insight], str],
                    extra_finding: str = "", cells: pd.DataFrame | None = None,
                    adjust_by: tuple[pd.Series, pd.Series, pd.Series, pd.Series] | None = None) -> Insight:
    """An insight comparing a rate (k of n) across segments.

    cells (columns segment, k, n; several per segment: its days) switch the tests to their
    overdispersion-corrected (quasi-binomial) forms: clicks of one day share traffic mix, campaigns
    and partner incidents, so day-to-day variation must not pass for a difference between groups.
    adjust_by (each click's segment label, country, registered flag and score: report_adjust.by_country_of) adds
    the country adjustment and the value per click to every segment, and the action then follows the adjusted
    effect only."""
    test, stat, p, dispersion = comparison_test(pooled, cells, rng)
    segs = rate_segments(pooled, dispersion)
    if adjust_by is not None:
        label, country, registered, score = adjust_by
        add_country_adjustment(segs, label, country, registered, dispersion=dispersion)
        add_value_per_click(segs, label, score)
        extra_finding = value_note(segs, float(score.fillna(0).sum() / len(score)) if len(score) else math.nan) \
            + extra_finding + adjusted_note(segs, dimension)
    hi, lo = spread(segs, "rate")
    number = hi["rate"] - lo["rate"]
    ci = rate_contrast(hi["k"], hi["n"], lo["k"], lo["n"], dispersion).ci
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
        against_rest = score_contrast(g, rest, rng, dispersion, with_ci=False)
        test, p = against_rest.test, against_rest.p_value
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
    ci = score_contrast(ghi, glo, rng, dispersion).ci
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
