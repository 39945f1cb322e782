"""The report's plots (matplotlib, Agg): one builder per kind of insight, each returning a Figure, and the
PNG every rendering embeds. Labels from the data are shown as written (mathtext off)."""


from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bcjourney_tools.analysis.insight import Insight  # noqa: E402
from bcjourney_tools.analysis.report_format import fmt_num, pct  # noqa: E402

ABOVE, BELOW, NEUTRAL, OVERALL = "#2a9d4b", "#c0392b", "#6c7a89", "#1f4e79"
PNG_DPI = 130
PAGE = (11.0, 8.5)  # landscape letter: slides
LABEL_CHARS = 34

plt.rcParams.update({
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    # labels come from the data ($, ^, _ are fine in a ui element): shown as written, never typeset as math;
    # only the insight pages' own bold headings ask for mathtext, with their bodies escaped
    "text.parse_math": False,
})


def _plain_log_ticks(axis) -> None:
    """Tick labels of a log axis as plain numbers: matplotlib writes them as mathtext (10^4), which the report's
    parse_math=False (labels from the data are shown as written) would print raw."""
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 0 else ""))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _short(label: str, n: int = LABEL_CHARS) -> str:
    label = str(label)
    return label if len(label) <= n else label[: n - 1] + "…"


def _colour(seg: dict, value: str, rest: str) -> str:
    if not seg.get("significant"):
        return NEUTRAL
    return ABOVE if seg[value] > seg[rest] else BELOW


def _legend_note(ax, ins: Insight) -> None:
    """The colour key, a fixed distance (in points) below the axes, whatever their height."""
    ax.annotate("green / red: significantly above / below the rest (Holm-adjusted); grey: no evidence of a "
                "difference; bars: 95% CI", xy=(0, 0), xycoords="axes fraction", xytext=(0, -42),
                textcoords="offset points", fontsize=7, color="#555555", va="top")


# --------------------------------------------------------------------------------------------------
# plot builders: each takes the insight and returns a Figure


def plot_rate_segments(ins: Insight) -> plt.Figure:
    """Horizontal dot-and-whisker plot of a rate per segment (Wilson CI), overall rate as a line."""
    segs = ins.segments
    value = "rate"
    fig, ax = plt.subplots(figsize=(7.2, max(3.0, 0.32 * len(segs) + 1.6)))
    y = np.arange(len(segs))[::-1]
    for yi, s in zip(y, segs):
        c = _colour(s, value, "rest_rate")
        xerr = [[max(0.0, s[value] - s["ci"][0])], [max(0.0, s["ci"][1] - s[value])]]
        ax.errorbar(s[value], yi, xerr=xerr, fmt="o", color=c,
                    ecolor=c, capsize=3, markersize=5)
    ax.set_yticks(y, [f"{_short(s['segment'])}  (n={s['n']:,})" for s in segs])
    overall = ins.plot_data.get("overall")
    if overall is not None and not math.isnan(overall):
        ax.axvline(overall, color=OVERALL, linestyle="--", linewidth=1, label=f"overall {pct(overall)}")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ax.set_xlabel(ins.plot_data.get("what", "rate"))
    ax.set_title(ins.title)
    ax.grid(axis="x", alpha=0.3)
    _legend_note(ax, ins)
    # single axes: savefig(bbox_inches='tight') makes room for the labels
    return fig


def plot_rate_timeline(ins: Insight) -> plt.Figure:
    """Hours or weekdays: clicks as bars, the rate with its CI as points on a second axis."""
    segs = ins.segments
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    x = np.arange(len(segs))
    ax.bar(x, [s["n"] for s in segs], color="#d5dde6", label="clicks")
    ax.set_ylabel("clicks")
    ax.set_xticks(x, [s["segment"] for s in segs], rotation=0, fontsize=8 if len(segs) <= 8 else 6.5)
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    for xi, s in zip(x, segs):
        c = _colour(s, "rate", "rest_rate")
        yerr = [[max(0.0, s["rate"] - s["ci"][0])], [max(0.0, s["ci"][1] - s["rate"])]]
        ax2.errorbar(xi, s["rate"], yerr=yerr, fmt="o", color=c,
                     ecolor=c, capsize=2, markersize=4)
    overall = ins.plot_data.get("overall")
    if overall is not None and not math.isnan(overall):
        ax2.axhline(overall, color=OVERALL, linestyle="--", linewidth=1, label=f"overall {pct(overall)}")
        ax2.legend(loc="lower right", fontsize=7, frameon=False)
    ax2.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ax2.set_ylabel("registration rate (points, 95% CI)")
    ax.set_title(ins.title)
    _legend_note(ax, ins)
    # single axes: savefig(bbox_inches='tight') makes room for the labels
    return fig


def plot_score_segments(ins: Insight) -> plt.Figure:
    segs = ins.segments
    fig, ax = plt.subplots(figsize=(7.2, max(3.0, 0.32 * len(segs) + 1.6)))
    y = np.arange(len(segs))[::-1]
    for yi, s in zip(y, segs):
        c = _colour(s, "mean", "rest_mean")
        lo, hi = s["ci"]
        ax.errorbar(s["mean"], yi, xerr=[[max(0.0, s["mean"] - lo)], [max(0.0, hi - s["mean"])]], fmt="o", color=c,
                    ecolor=c, capsize=3, markersize=5)
    ax.set_yticks(y, [f"{_short(s['segment'])}  (n={s['n']:,})" for s in segs])
    overall = ins.plot_data.get("overall")
    if overall is not None and not math.isnan(overall):
        ax.axvline(overall, color=OVERALL, linestyle="--", linewidth=1, label=f"overall {fmt_num(overall)}")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.set_xlabel("mean important_score (0-100) of linked registrations, bootstrap 95% CI")
    ax.set_title(ins.title)
    ax.grid(axis="x", alpha=0.3)
    _legend_note(ax, ins)
    # single axes: savefig(bbox_inches='tight') makes room for the labels
    return fig


def plot_overall(ins: Insight) -> plt.Figure:
    """Daily click-to-registration rate with its Wilson band over the coverage window."""
    daily: pd.DataFrame = ins.plot_data["daily"]
    fig, ax = plt.subplots(figsize=(7.6, 4.2))
    if len(daily):
        ax.fill_between(daily["day"], daily["lo"], daily["hi"], color="#9ecae1", alpha=0.6, label="95% CI (Wilson)")
        ax.plot(daily["day"], daily["rate"], "o-", color=OVERALL, markersize=3, label="daily rate")
    ax.axhline(ins.number, color="black", linestyle="--", linewidth=1, label=f"overall {pct(ins.number)}")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%Y-%m-%d"))
    ax.xaxis.set_major_locator(matplotlib.dates.AutoDateLocator(minticks=2, maxticks=10))
    ax.set_ylabel("clicks with a linked registration")
    ax.set_title("Click-to-registration rate per day (clicks inside the partner export's window)")
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    fig.autofmt_xdate()
    # single axes: savefig(bbox_inches='tight') makes room for the labels
    return fig


def plot_delay(ins: Insight) -> plt.Figure:
    buckets: pd.DataFrame = ins.plot_data["buckets"]
    delays: np.ndarray = ins.plot_data["delays"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    nonempty = buckets[buckets["registrations"] > 0]
    a1.bar(nonempty["bucket"], nonempty["registrations"], color=OVERALL)
    a1.set_yscale("log")
    _plain_log_ticks(a1.yaxis)
    a1.set_ylabel("linked registrations (log scale)")
    a1.set_title("Delay buckets (query 04)")
    a1.tick_params(axis="x", rotation=45)
    for i, r in enumerate(nonempty.itertuples()):
        a1.text(i, r.registrations, pct(r.share), ha="center", va="bottom", fontsize=7)
    if len(delays):
        clipped = np.clip(delays, -10, 30)
        a2.hist(clipped, bins=np.arange(-10.5, 31.5, 1), color="#6baed6")
        a2.set_yscale("log")
        _plain_log_ticks(a2.yaxis)
        a2.axvline(ins.number, color="black", linestyle="--", linewidth=1, label=f"median {fmt_num(ins.number, 0)} s")
        a2.legend(fontsize=7, frameon=False)
    a2.set_xlabel("delay in seconds (clipped to -10..30)")
    a2.set_title("Delay per second")
    fig.tight_layout()
    return fig


def plot_quarantine(ins: Insight) -> plt.Figure:
    """Rows rejected (quarantined), kept with a flag, or merged as duplicates, by source and reason."""
    rules: pd.DataFrame = ins.plot_data["rules"]
    by_source: dict = ins.details["by_source"]
    bars: list[tuple[str, int, str]] = []
    for r in rules.itertuples():
        bars.append((f"quarantined: {r.source} / {r.rule} / {r.column_name}", int(r.rows), BELOW))
    for flag, n in sorted(ins.details["flags"].items()):
        bars.append((f"kept, flagged: {flag}", int(n), "#e69f00"))
    if ins.details["merged_duplicates"]:
        bars.append(("merged duplicate conversion ids", int(ins.details["merged_duplicates"]), NEUTRAL))
    fig, ax = plt.subplots(figsize=(7.6, 0.45 * max(len(bars), 2) + 1.6))
    if bars:
        y = np.arange(len(bars))[::-1]
        ax.barh(y, [b[1] for b in bars], color=[b[2] for b in bars])
        ax.set_yticks(y, [_short(b[0], 60) for b in bars])
        for yi, b in zip(y, bars):
            ax.text(b[1], yi, f" {b[1]:,}", va="center", fontsize=8)
        ax.margins(x=0.15)
    else:
        ax.text(0.5, 0.5, "nothing quarantined, flagged or merged", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("rows")
    src = "; ".join(f"{s}: {v['quarantined']:,} of {v['rows_in']:,} ({pct(v['rate'], 3)})"
                    for s, v in by_source.items())
    ax.set_title("Input rows quarantined, flagged or merged\n" + src, fontsize=9)
    fig.tight_layout()
    return fig


def plot_links(ins: Insight) -> plt.Figure:
    clicks: pd.DataFrame = ins.plot_data["clicks"]
    regs: pd.DataFrame = ins.plot_data["registrations"]
    hours: pd.DataFrame = ins.plot_data["hours"]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7.8, 6.0), sharex=True, gridspec_kw={"height_ratios": [1.4, 1]})
    if len(clicks):
        ax.plot(clicks["day"], clicks["rate"], "o-", markersize=3, color=OVERALL, label="clicks linked (per click day)")
    for partner, g in regs.groupby("subject"):
        g = g.sort_values("day")
        ax.plot(pd.to_datetime(g["day"]), g["rate"], "s-", markersize=3, alpha=0.8,
                label=f"{partner}: registrations linked (per registration day)")
    ax.set_ylim(-0.03, 1.05)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_title("Link rates per day (whole lake)")
    ax.legend(fontsize=7, frameon=False, loc="center")
    if len(hours):
        for partner, g in hours.groupby("partner"):
            ax2.plot(pd.to_datetime(g["hour"]), g["unlinked"], linewidth=0.8, label=str(partner))
        b = ins.details.get("burst_hour")
        if b is not None:
            ax2.annotate(f"{ins.details['burst_unlinked']:,} at {pd.Timestamp(b):%m-%d %H:00}",
                         (pd.Timestamp(b), ins.details["burst_unlinked"]), fontsize=7, xytext=(8, -4),
                         textcoords="offset points", va="top")
    ax2.set_ylabel("registrations without\na click, per hour")
    ax2.set_yscale("symlog", linthresh=10)
    _plain_log_ticks(ax2.yaxis)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def plot_confidence(ins: Insight) -> plt.Figure:
    bins = ins.plot_data["bins"]
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    labels = [b["bin"] for b in bins][::-1]
    counts = [b["links"] for b in bins][::-1]
    ax.bar(labels, counts, color=[BELOW if lab == "< 0.50" else OVERALL for lab in labels])
    for i, b in enumerate(bins[::-1]):
        ax.text(i, b["links"], f"{b['links']:,}\n{pct(b['share'])}", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("links")
    ax.set_xlabel("match_confidence")
    ax.set_title("Match confidence of the links")
    ax.margins(y=0.2)
    # single axes: savefig(bbox_inches='tight') makes room for the labels
    return fig




def render_png(ins: Insight, plot) -> bytes:
    """The insight drawn by its plot (registry.INSIGHTS names it) as PNG bytes."""
    fig = plot(ins)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
