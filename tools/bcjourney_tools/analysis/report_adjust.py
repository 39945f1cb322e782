"""Comparisons adjusted for the country mix, by indirect standardization.

Markets differ far more than pages, buttons, devices or hours do (a market the partner barely serves registers
almost never), so a segment whose clicks come from such markets looks bad whatever it is. Each segment's
registrations are set against what its own clicks' countries predict: expected = sum over its clicks of their
country's registration rate. The excess (registrations - expected) is what the segment itself adds, the adjusted
rate is overall rate x registrations / expected, and the test asks whether the excess is more than the binomial
noise of those country rates allows (times the day-to-day dispersion). Indirect rather than direct
standardization: a segment with no click in some market needs no rate of its own there.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import OTHER

NO_COUNTRY = "(none)"


def country_expected(segment: pd.Series, country: pd.Series, registered: pd.Series) -> pd.DataFrame:
    """Per segment: clicks n, registrations k, the registrations its countries predict (expected) and the
    binomial variance of that prediction."""
    country = country.astype(object).fillna(NO_COUNTRY)
    flag = registered.astype(bool)
    rate = flag.groupby(country).mean()
    p = country.map(rate).astype(float)
    frame = pd.DataFrame({"segment": segment.astype(object).to_numpy(), "k": flag.to_numpy(),
                          "expected": p.to_numpy(), "variance": (p * (1 - p)).to_numpy()})
    return frame.groupby("segment").agg(n=("k", "size"), k=("k", "sum"), expected=("expected", "sum"),
                                        variance=("variance", "sum"))


def add_country_adjustment(segs: list[dict], segment: pd.Series, country: pd.Series, registered: pd.Series,
                           dispersion: float = 1.0) -> None:
    """Adds to each segment dict (by its 'segment' name; labels not among them are pooled as OTHER) the country
    adjustment: expected_k and its variance expected_var, excess, adjusted_rate, adjusted_p and its Holm-adjusted
    adjusted_p_holm."""
    named = {s["segment"] for s in segs} - {OTHER}
    label = segment.astype(object).where(segment.isin(named), OTHER)
    table = country_expected(label, country, registered)
    overall = float(registered.mean()) if len(registered) else math.nan
    for s in segs:
        row = table.loc[s["segment"]] if s["segment"] in table.index else None
        expected = float(row["expected"]) if row is not None else 0.0
        variance = float(row["variance"]) * dispersion if row is not None else 0.0
        excess = s["k"] - expected
        s["expected_k"] = expected
        s["expected_var"] = float(row["variance"]) if row is not None else 0.0
        s["excess"] = excess
        s["adjusted_rate"] = overall * s["k"] / expected if expected > 0 else math.nan
        s["adjusted_p"] = 2 * st.norm_sf(abs(excess) / math.sqrt(variance)) if variance > 0 else 1.0
    for s, adj in zip(segs, st.holm([s["adjusted_p"] for s in segs])):
        s["adjusted_p_holm"] = adj


def adjusted_difference(a: dict, b: dict, dispersion: float = 1.0) -> tuple[float, tuple[float, float], float]:
    """Segment a minus segment b on the adjusted scale: the difference of their excess per click, its normal 95%
    interval and the two-sided p-value (the two segments' clicks are disjoint, so their variances add)."""
    if not a["n"] or not b["n"]:
        return math.nan, (math.nan, math.nan), 1.0
    difference = a["excess"] / a["n"] - b["excess"] / b["n"]
    var_a, var_b = a["expected_var"] / a["n"] ** 2, b["expected_var"] / b["n"] ** 2
    se = math.sqrt((var_a + var_b) * dispersion)
    if se == 0:
        return difference, (difference, difference), 1.0
    p = 2 * st.norm_sf(abs(difference) / se)
    return difference, (difference - 1.96 * se, difference + 1.96 * se), p


def value_per_click(segment: pd.Series, score: pd.Series) -> pd.Series:
    """Sum of important_score per click of each segment (an unregistered click adds 0)."""
    return pd.Series(np.nan_to_num(score.astype(float).to_numpy()), index=segment.index).groupby(
        segment.astype(object).to_numpy()).mean()


def by_country_of(clicks: pd.DataFrame, label: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """What rate_comparison's adjust_by takes, for clicks labelled by `label`: the labels, the clicks' countries,
    whether each registered, and each click's value (its registration's important_score, 0 without one)."""
    return label, clicks["country_code"], clicks["registered"], clicks["important_score"]


def add_value_per_click(segs: list[dict], segment: pd.Series, score: pd.Series) -> None:
    """Adds each segment's value per click (labels not among the segments pooled as OTHER)."""
    named = {s["segment"] for s in segs} - {OTHER}
    label = segment.astype(object).where(segment.isin(named), OTHER)
    values = value_per_click(label, score)
    for s in segs:
        s["value_per_click"] = float(values.get(s["segment"], math.nan))


def value_note(segs: list[dict], overall: float) -> str:
    """One sentence of the finding: value per click, the headline metric, from the lowest to the highest segment."""
    named = [s for s in segs if s["segment"] != OTHER and not math.isnan(s.get("value_per_click", math.nan))]
    if len(named) < 2:
        return ""
    lo, hi = min(named, key=lambda s: s["value_per_click"]), max(named, key=lambda s: s["value_per_click"])
    return (f" Value per click (important_score per click) ranges from {lo['value_per_click']:.3f} ({lo['segment']}) "
            f"to {hi['value_per_click']:.3f} ({hi['segment']}); overall {overall:.3f}.")
