"""The plot of insights_unknown.unknown_categories: per unmapped measurement category, its clicks (whole lake) as
horizontal bars coloured by family, and its value per click (export window) against the mapped clicks'."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.report_format import OTHER, fmt_num, pct
from bcjourney_tools.analysis.report_plots import BELOW, NEUTRAL, OVERALL

FAMILY_COLOURS = ("#1f4e79", "#e69f00", "#2a9d4b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400")
LABEL_CHARS = 40  # a code is 26 characters: shown whole


def _label(text: str) -> str:
    text = str(text)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def plot_unknown(ins: Insight) -> Figure:
    segs: list[dict] = ins.plot_data.get("codes", [])
    families: list[dict] = ins.plot_data.get("families", [])
    if not segs:
        fig, ax = plt.subplots(figsize=(7.2, 2.4))
        ax.text(0.5, 0.5, "every click's measurement category is in the mapping: nothing is 'Unknown'",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(ins.title)
        return fig
    order = [f["family"] for f in families]
    colour = {fam: FAMILY_COLOURS[i % len(FAMILY_COLOURS)] for i, fam in enumerate(order)}
    colour[OTHER] = NEUTRAL
    fig, (ax, ax2) = plt.subplots(1, 2, sharey=True, figsize=(10.0, max(3.4, 0.36 * len(segs) + 2.6)),
                                  gridspec_kw={"width_ratios": [1.5, 1]}, layout="constrained")
    y = np.arange(len(segs))[::-1]
    clicks = [s["clicks_lake"] for s in segs]
    ax.barh(y, clicks, color=[colour.get(s["family"], NEUTRAL) for s in segs])
    ax.set_yticks(y, [_label(s["segment"]) for s in segs], fontfamily="monospace")
    for yi, s in zip(y, segs):
        ax.text(s["clicks_lake"], yi, f" {s['clicks_lake']:,}  (rate {pct(s['rate'])})", va="center", fontsize=7.5)
    ax.margins(x=0.42)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("clicks, whole lake (label: registration rate in the export window)")
    ax.grid(axis="x", alpha=0.3)
    for s, yi in zip(segs, y):
        v, (lo, hi) = s["value_per_click"], s["value_ci"]
        if v is None or math.isnan(v):
            continue
        ax2.errorbar(v, yi, xerr=[[max(0.0, v - lo)], [max(0.0, hi - v)]], fmt="o", color=BELOW, ecolor=BELOW,
                     capsize=3, markersize=5)
    handles: list = [Rectangle((0, 0), 1, 1, color=colour[f["family"]]) for f in families[:len(FAMILY_COLOURS)]]
    labels = [f"family {f['label']}: {f['clicks_lake']:,} clicks, {f['codes']} code{'s' if f['codes'] != 1 else ''}"
              for f in families[:len(FAMILY_COLOURS)]]
    mapped = ins.plot_data.get("mapped_value_per_click")
    if mapped is not None and not math.isnan(mapped):
        handles.append(ax2.axvline(mapped, color=OVERALL, linestyle="--", linewidth=1))
        labels.append(f"value per click of the mapped clicks: {fmt_num(mapped, 3)}")
    ax2.set_xlim(left=0)
    ax2.set_xlabel("value per click (important_score / clicks),\nexport window, bootstrap 95% CI")
    ax2.grid(axis="x", alpha=0.3)
    ax2.tick_params(axis="y", left=False)
    if handles:  # below both axes, outside them: constrained layout makes room
        fig.legend(handles, labels, loc="outside lower center", ncol=min(2, len(handles)), fontsize=7.5,
                   frameon=False)
    fig.suptitle(f"{ins.details.get('unmapped_clicks', 0):,} clicks on measurement categories the mapping lacks "
                 f"({pct(ins.number)} of all clicks), by code; family = the code's first level", fontsize=10)
    return fig
