"""The executive summary: the few actions worth most, each with the clicks, registrations and value at stake, its
uncertainty and what to do on Monday. Only findings that survive their tests (and, for pages, buttons, devices
and hours, the country adjustment) can enter; they are ranked by the value at stake, in important_score points
(registrations x the average score of a linked registration)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import OTHER, Insight

MOST = 5
# the comparisons whose segments carry the country adjustment, and what to do about a segment below
ADJUSTED = {
    "rate_by_page_category": "Review the click-out placement on {segment} pages and A/B-test the layout of the best "
                             "page against it",
    "rate_by_ui_element": "A/B-test a redesign of {segment} against the best-converting element",
    "rate_by_hour": "Check the partner's sign-up availability at {segment} UTC (KYC, support hours)",
    "rate_by_weekday": "Look for partner-side incidents on {segment}s before changing any schedule",
    "rate_by_device": "Walk through the {segment} click-out and the partner's {segment} sign-up for friction",
}


@dataclass(frozen=True)
class Stake:
    title: str
    clicks: int
    registrations: float  # registrations short of what the segment's clicks predict
    low: float  # 95% interval of that shortfall
    high: float
    value: float  # score points at stake
    monday: str

    def line(self) -> str:
        return (f"{self.title}: {self.clicks:,} clicks, {self.registrations:,.0f} registrations short (95% "
                f"{max(self.low, 0):,.0f} to {self.high:,.0f}), {self.value:,.0f} score points at stake. "
                f"Monday: {self.monday}.")


def value_per_click(clicks: int, registrations: int, score_sum: float) -> str:
    """The headline: what a click is worth, with the rate and the value of a registration beside it."""
    if not clicks or not registrations:
        return "No linked registration yet: no value per click."
    return (f"A click is worth {score_sum / clicks:.2f} important_score points on average: "
            f"{registrations / clicks:.1%} of clicks register, and a linked registration scores "
            f"{score_sum / registrations:.2f} on average.")


def stakes(insights: list[Insight], value_per_registration: float) -> list[Stake]:
    """The actions worth most, best first (at most MOST)."""
    by_key = {i.key: i for i in insights}
    found: list[Stake] = []
    markets = by_key.get("markets_by_loss")
    if markets is not None and markets.details.get("unserved"):
        unserved = [s for s in markets.segments if s.get("unserved")]
        lost = sum(s["lost"] for s in unserved)
        p = markets.details["overall_rate"]
        half = 1.96 * math.sqrt(sum(s["n"] * p * (1 - p) for s in unserved))
        names = ", ".join(s["segment"] for s in unserved[:4])
        found.append(Stake(f"Markets the partner does not serve ({names})", sum(s["n"] for s in unserved), lost,
                           lost - half, lost + half, lost * value_per_registration,
                           f"ask the partner whether it onboards {names}; route those clicks to another partner "
                           "or stop paying for them"))
    for key, todo in ADJUSTED.items():
        insight = by_key.get(key)
        if insight is None or not insight.significant:
            continue
        for s in insight.segments:
            # 'Unknown' is not a page: its codes are a to-do for the mapping (insights_unknown), not a layout to test
            if s["segment"] in (OTHER, "Unknown") or "adjusted_p_holm" not in s or s["adjusted_p_holm"] >= st.ALPHA:
                continue
            if s["excess"] >= 0:
                continue
            lost = -s["excess"]
            half = 1.96 * math.sqrt(s["expected_var"] * insight.details.get("dispersion", 1.0))
            found.append(Stake(f"{insight.title}: {s['segment']}", s["n"], lost, lost - half, lost + half,
                               lost * value_per_registration, todo.format(segment=s["segment"])))
    return sorted(found, key=lambda s: (-s.value, s.title))[:MOST]
