"""An insight as data: its number, uncertainty, test and the action the test supports; the constants the
builders share; and `finalize`, which Holm-adjusts the comparisons as one family.

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
from bcjourney_tools.analysis.report_format import OTHER, fmt_p  # noqa: F401 (OTHER: part of this module's vocabulary)

HIGH_VALUE = 50  # important_score >= 50 is a high-value user (athena_queries/README.md)
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
