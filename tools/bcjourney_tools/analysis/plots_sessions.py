"""The plots of insights_sessions: clicks per session and which click gets the credit; the weekday x hour heatmaps
of clicks and of value per click; the market x page matrix of value per click. Cells with too few clicks are
drawn grey (masked), never coloured."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.insights_sessions import DIST_MAX, PATTERNS, SHOWN_PAGES, WEEKDAYS
from bcjourney_tools.analysis.report_format import fmt_num, pct
from bcjourney_tools.analysis.report_plots import ABOVE, BELOW, NEUTRAL, OVERALL, _plain_log_ticks, _short

MASKED = "#d9d9d9"


def _cmap(name: str) -> Colormap:
    return plt.get_cmap(name).with_extremes(bad=MASKED)


def _empty(ins: Insight, text: str) -> Figure:
    fig, ax = plt.subplots(figsize=(7.2, 2.4))
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    ax.set_title(ins.title)
    return fig


def plot_sessions(ins: Insight) -> Figure:
    dist = ins.plot_data["distribution"]
    if not len(dist):
        return _empty(ins, "no clicks in the export window")
    fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.6), layout="constrained")
    (a1, a2), (a3, a4) = axes
    labels = [f"{int(k)}+" if int(k) == DIST_MAX else str(int(k)) for k in dist.index]
    a1.bar(labels, dist.to_numpy(), color=OVERALL)
    a1.set_yscale("log")
    _plain_log_ticks(a1.yaxis)
    for i, v in enumerate(dist.to_numpy()):
        a1.text(i, v, f"{v:,}", ha="center", va="bottom", fontsize=7)
    a1.margins(y=0.15)
    a1.set_xlabel("clicks in the session")
    a1.set_ylabel("sessions (log scale)")
    a1.set_title("Clicks per session")
    buckets = [b for b in ins.plot_data["buckets"] if b["n"]]
    for i, b in enumerate(buckets):
        v, (lo, hi) = b["value_per_click"], b["value_ci"]
        a2.errorbar(i, v, yerr=[[max(0.0, v - lo)], [max(0.0, hi - v)]], fmt="o", color=OVERALL, capsize=3)
    a2.set_xticks(range(len(buckets)), [f"{b['segment']}\n{b['n']:,} clicks\nrate {pct(b['rate'])}" for b in buckets],
                  fontsize=7)
    a2.set_ylim(bottom=0)
    a2.set_ylabel("value per click (score / click), 95% CI")
    a2.set_title("Value per click by the size of the click's session")
    a2.grid(axis="y", alpha=0.3)
    patterns = ins.plot_data["patterns"].reindex(PATTERNS, fill_value=0)
    y = np.arange(len(patterns))[::-1]
    total = max(1, int(patterns.sum()))
    a3.barh(y, patterns.to_numpy(), color=[NEUTRAL, ABOVE, BELOW, "#e69f00", "#8e44ad"])
    a3.set_yticks(y, list(patterns.index))
    for yi, v in zip(y, patterns.to_numpy()):
        a3.text(v, yi, f" {v:,} ({pct(v / total)})", va="center", fontsize=7.5)
    a3.set_xscale("symlog", linthresh=10)
    _plain_log_ticks(a3.xaxis)
    a3.margins(x=0.35)
    a3.set_xlabel("multi-click sessions with a registration (symlog scale)")
    a3.set_title("Which of a session's clicks the registrations are linked to")
    _plot_shift(a4, ins.plot_data["shift"])
    fig.suptitle(ins.title, fontsize=11)
    return fig


def _plot_shift(ax, shift: dict) -> None:
    pages = sorted(shift["pages"], key=lambda p: -abs(p["first_minus_last"]))[:SHOWN_PAGES]
    if not pages:
        ax.text(0.5, 0.5, "no multi-click session with a registration", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    y = np.arange(len(pages))[::-1]
    h = 0.27
    ax.barh(y + h, [p["first"] for p in pages], h, color=ABOVE, label="first-click credit")
    ax.barh(y, [p["linked"] for p in pages], h, color=NEUTRAL, label="as linked")
    ax.barh(y - h, [p["last"] for p in pages], h, color=BELOW, label="last-click credit")
    ax.set_yticks(y, [f"{_short(p['page'], 26)} ({p['first_minus_last']:+,.0f})" for p in pages])
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("score points credited (label: first minus last)")
    ax.set_title(f"Value of multi-click sessions with a registration by page:\n{shift['net_moved']:,.0f} of "
                 f"{shift['value']:,.0f} points move between first- and last-click credit", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.grid(axis="x", alpha=0.3)


def _grid_image(grid, column: str) -> np.ma.MaskedArray:
    values = grid.pivot(index="weekday", columns="hour", values=column).reindex(index=range(7), columns=range(24))
    masked = grid.pivot(index="weekday", columns="hour", values="masked").reindex(index=range(7), columns=range(24))
    return np.ma.masked_array(values.to_numpy(dtype=float), mask=masked.to_numpy(dtype=bool) | values.isna().to_numpy())


def _box(ax, x: int, y: int, colour: str) -> None:
    ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor=colour, linewidth=2))


def plot_weekday_hour(ins: Insight) -> Figure:
    grid = ins.plot_data["grid"]
    if not grid["n"].sum():
        return _empty(ins, "no clicks in the export window")
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11.0, 6.6), layout="constrained")
    panels = ((a1, "n", "Blues", "clicks"), (a2, "value_per_click", "viridis", "value per click (score / click)"))
    for ax, column, cmap, what in panels:
        image = _grid_image(grid, column)
        im = ax.imshow(image, aspect="auto", cmap=_cmap(cmap), interpolation="nearest")
        fig.colorbar(im, ax=ax, label=what, pad=0.01)
        ax.set_yticks(range(7), list(WEEKDAYS))
        ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
    busiest = grid.loc[grid["n"].idxmax()]
    _box(a1, int(busiest.hour), int(busiest.weekday), BELOW)
    a1.set_title(f"Clicks per weekday x hour (UTC); red box: busiest, {int(busiest.n):,} clicks")
    segs = ins.segments
    note = ""
    if segs:
        for s, colour in ((segs[0], "white"), (segs[-1], BELOW)):
            day, hour = s["segment"].split()
            _box(a2, int(hour[:2]), WEEKDAYS.index(day), colour)
        note = (f"; white box: highest ({segs[0]['segment']}, {fmt_num(segs[0]['mean'], 2)}, n = {segs[0]['n']:,}), "
                f"red: lowest ({segs[-1]['segment']}, {fmt_num(segs[-1]['mean'], 2)}, n = {segs[-1]['n']:,})")
    a2.set_title(f"Value per click{note}; grey: fewer than {ins.details['min_cell_clicks']} clicks", fontsize=9)
    a2.set_xlabel("hour of day (UTC)")
    return fig


def plot_country_page(ins: Insight) -> Figure:
    matrix, rows, cols = ins.plot_data["matrix"], ins.plot_data["countries"], ins.plot_data["pages"]
    if not rows or not cols:
        return _empty(ins, "no clicks in the export window")
    values = matrix.pivot(index="country_code", columns="page_category", values="value_per_click")
    counts = matrix.pivot(index="country_code", columns="page_category", values="n").reindex(index=rows, columns=cols)
    values = values.reindex(index=rows, columns=cols)
    mask = counts.to_numpy() < ins.details["min_cell_clicks"]
    image = np.ma.masked_array(values.to_numpy(dtype=float), mask=mask | values.isna().to_numpy())
    fig, ax = plt.subplots(figsize=(11.0, 0.55 * len(rows) + 3.4), layout="constrained")
    im = ax.imshow(image, aspect="auto", cmap=_cmap("viridis"), interpolation="nearest")
    fig.colorbar(im, ax=ax, label="value per click (score / click)", pad=0.01)
    top = float(np.nanmax(image.filled(np.nan))) if image.count() else math.nan
    for (i, j), v in np.ndenumerate(values.to_numpy(dtype=float)):
        n = int(counts.iat[i, j])
        if mask[i, j]:
            ax.text(j, i, f"n={n}", ha="center", va="center", fontsize=6.5, color="#555555")
            continue
        light = not math.isnan(top) and v < 0.6 * top
        ax.text(j, i, f"{v:.2f}\nn={n:,}", ha="center", va="center", fontsize=6.5,
                color="white" if light else "black")
    for s in ins.segments[:3]:
        country, page = s["segment"].split(" x ", 1)
        _box(ax, cols.index(page), rows.index(country), BELOW)
    ax.set_xticks(range(len(cols)), [_short(c, 24) for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_xlabel("page category (the top by clicks)")
    ax.set_ylabel("market (click country, the top by clicks)")
    ax.set_title(f"{ins.title}; red boxes: the 3 highest; grey: fewer than {ins.details['min_cell_clicks']} clicks")
    return fig
