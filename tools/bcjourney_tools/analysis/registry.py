"""The one list of the report's insights, in report order: for each, its key, the builder that computes it from
the lake, the plot that draws it and the athena_queries it reads (by name, as query(data, name) finds them).
Adding an insight is one entry here plus its builder and, if no existing plot fits, its plot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from bcjourney_tools.analysis import insights_anomalies as anomalies
from bcjourney_tools.analysis import insights_device as device
from bcjourney_tools.analysis import insights_markets as markets
from bcjourney_tools.analysis import insights_product as product
from bcjourney_tools.analysis import insights_quality as quality
from bcjourney_tools.analysis import insights_sessions as sessions
from bcjourney_tools.analysis import insights_unknown as unknown
from bcjourney_tools.analysis import insights_value as value
from bcjourney_tools.analysis import plots_anomalies, plots_sessions, plots_unknown
from bcjourney_tools.analysis import report_plots as render
from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.report_data import LakeData


@dataclass(frozen=True)
class InsightSpec:
    key: str
    build: Callable[[LakeData, np.random.Generator], Insight]
    plot: Callable[[Insight], plt.Figure]
    queries: tuple[str, ...]


def _without_rng(builder: Callable[[LakeData], Insight]) -> Callable[[LakeData, np.random.Generator], Insight]:
    return lambda data, rng: builder(data)


INSIGHTS: tuple[InsightSpec, ...] = (
    InsightSpec("overall_rate", _without_rng(product.overall_rate), render.plot_overall,
                ("registration_rate_by_page_category", "data_quality_kpis")),
    InsightSpec("rate_by_page_category", product.by_page_category, render.plot_rate_segments,
                ("registration_rate_by_page_category",)),
    InsightSpec("rate_by_ui_element", product.by_ui_element, render.plot_rate_segments,
                ("registration_rate_by_page_category", "registration_rate_by_ui_element")),
    InsightSpec("rate_by_device", device.by_device, render.plot_rate_segments,
                ("registration_rate_by_device_and_country",)),
    InsightSpec("rate_by_country", product.by_country, render.plot_rate_segments,
                ("registration_rate_by_device_and_country",)),
    InsightSpec("markets_by_loss", markets.markets_by_loss, render.plot_rate_segments, ()),
    InsightSpec("delay_distribution", product.delay_distribution, render.plot_delay,
                ("registration_delay_distribution",)),
    InsightSpec("score_distribution", _without_rng(value.score_distribution), value.plot_score_distribution, ()),
    InsightSpec("score_by_page_category", product.score_by_page, render.plot_score_segments, ()),
    InsightSpec("score_by_device", product.score_by_device, render.plot_score_segments, ()),
    InsightSpec("score_by_country", product.score_by_country, render.plot_score_segments, ()),
    InsightSpec("high_value_by_entry_point", product.high_value_by_entry_point, render.plot_rate_segments,
                ("important_score_by_entry_page_device_country",)),
    InsightSpec("rate_by_hour", product.by_hour, render.plot_rate_timeline, ("hour_and_weekday_patterns",)),
    InsightSpec("rate_by_weekday", product.by_weekday, render.plot_rate_timeline, ("hour_and_weekday_patterns",)),
    InsightSpec("weekday_hour_heatmap", sessions.weekday_hour_heatmap, plots_sessions.plot_weekday_hour, ()),
    InsightSpec("sessions", sessions.sessions, plots_sessions.plot_sessions, ()),
    InsightSpec("country_page_value", sessions.country_page_value, plots_sessions.plot_country_page, ()),
    InsightSpec("cross_country", product.cross_country, render.plot_rate_segments,
                ("cross_country_vpn_registrations",)),
    InsightSpec("link_rates", _without_rng(quality.link_rates), render.plot_links, ("data_quality_kpis",)),
    InsightSpec("quarantine_rate", _without_rng(quality.quarantine_rate), render.plot_quarantine, ()),
    InsightSpec("anomalies", anomalies.anomaly_layer, plots_anomalies.plot_anomalies, ()),
    InsightSpec("unknown_categories", _without_rng(unknown.unknown_categories), plots_unknown.plot_unknown, ()),
    InsightSpec("match_confidence", _without_rng(quality.match_confidence), render.plot_confidence, ()),
)

BY_KEY = {spec.key: spec for spec in INSIGHTS}
