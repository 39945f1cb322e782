"""Plots (matplotlib, Agg) and the two renderings of the report: a self-contained HTML page and a
slides-style PDF. Every plot is drawn once to a PNG; the HTML embeds the PNG as base64 and the PDF
page shows the same image next to the insight's text, so both say exactly the same."""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from bcjourney_tools.analysis.insight import Insight  # noqa: E402
from bcjourney_tools.analysis.report_format import fmt_num, fmt_p, pct  # noqa: E402

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


# --------------------------------------------------------------------------------------------------
# text blocks shared by both renderings


def format_value(ins: Insight, x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if ins.unit == "rate":
        return pct(x, 3 if abs(ins.number) < 0.01 else (2 if abs(ins.number) < 0.1 else 1))
    if ins.unit == "rate_diff":
        return f"{100 * x:+.1f} pp"
    if ins.unit == "seconds":
        return f"{x:.0f} s"
    return f"{x:+.2f}" if ins.unit == "score_diff" else f"{x:.2f}"


def ci_text(ins: Insight) -> str:
    lo, hi = ins.ci
    return (f"{format_value(ins, ins.number)} (95% CI {format_value(ins, lo)} to {format_value(ins, hi)}; "
            f"{ins.ci_method})")


def significance_text(ins: Insight) -> str:
    if ins.test is None:
        return "descriptive (no comparison)"
    outcome = "significant" if ins.significant else "not significant"
    return f"{ins.test}: p {_p_eq(ins.p_value)}, Holm-adjusted p {_p_eq(ins.p_adjusted)} ({outcome} at 0.05)"


def _p_eq(p: float | None) -> str:
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def verdict(ins: Insight) -> str:
    if ins.test is None:
        return "descriptive"
    return "significant" if ins.significant else "no evidence of a difference"


def text_blocks(ins: Insight) -> list[tuple[str, str]]:
    return [
        ("Finding", ins.finding),
        ("Number", f"{ins.number_label}: {ci_text(ins)}"),
        ("Test", significance_text(ins)),
        ("Action", ins.action),
    ]


# --------------------------------------------------------------------------------------------------
# PDF


def _text_page(pdf: PdfPages, title: str, paragraphs: list[str], mono: bool = False, subtitle: str = "") -> None:
    fig = plt.figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=20, weight="bold", va="top")
    if subtitle:
        fig.text(0.05, 0.885, subtitle, fontsize=10, color="#444444", va="top")
    top, bottom, left, right = 0.84, 0.04, 0.05, 0.96
    width_pt, height_pt = (right - left) * PAGE[0] * 72, (top - bottom) * PAGE[1] * 72
    for size in (11.0, 10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0):
        chars = max(30, int(width_pt / ((0.61 if mono else 0.56) * size)))
        lines: list[str] = []
        for p in paragraphs:
            if mono:
                lines.extend(line[:chars] for line in p.splitlines())
            else:
                lines.extend(textwrap.wrap(p, chars) or [""])
            lines.append("")
        if len(lines) * size * 1.3 <= height_pt:
            break
    fig.text(left, top, "\n".join(lines), fontsize=size, va="top", family="monospace" if mono else "sans-serif",
             linespacing=1.3)
    pdf.savefig(fig)
    plt.close(fig)


def _fit_text(blocks: list[tuple[str, str]], width_pt: float, height_pt: float) -> tuple[str, float]:
    """Wrap the blocks (bold heading, body) to the largest font size that fits the box."""
    for size in (10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0):
        chars = max(20, int(width_pt / (0.58 * size)))
        lines: list[str] = []
        for head, body in blocks:
            lines.append(f"$\\bf{{{_mathsafe(head)}}}$")
            lines.extend(textwrap.wrap(_mathescape(body), chars))
            lines.append("")
        if len(lines) * size * 1.32 <= height_pt:
            break
    return "\n".join(lines), size


def _insight_page(pdf: PdfPages, number: int, ins: Insight, png: bytes) -> None:
    fig = plt.figure(figsize=PAGE)
    fig.text(0.04, 0.95, f"{number}. {ins.title}", fontsize=18, weight="bold", va="top")
    badge = verdict(ins)
    if ins.kind == "quality":
        badge = "data quality, " + badge
    fig.text(0.96, 0.95, badge, fontsize=10, ha="right", va="top",
             color="white", bbox={"boxstyle": "round", "fc": ABOVE if ins.significant else NEUTRAL, "ec": "none"})
    img = plt.imread(io.BytesIO(png), format="png")
    h, w = img.shape[:2]
    box_x, box_y, box_w, box_h = 0.02, 0.04, 0.60, 0.84  # figure fractions
    scale = min(box_w * PAGE[0] / w, box_h * PAGE[1] / h)
    fw, fh = w * scale / PAGE[0], h * scale / PAGE[1]
    ax = fig.add_axes([box_x + (box_w - fw) / 2, box_y + (box_h - fh), fw, fh])
    ax.imshow(img, interpolation="antialiased")
    ax.axis("off")
    left, top, bottom, right = 0.645, 0.87, 0.04, 0.975
    text, size = _fit_text(text_blocks(ins), (right - left) * PAGE[0] * 72, (top - bottom) * PAGE[1] * 72)
    fig.text(left, top, text, fontsize=size, va="top", linespacing=1.3, parse_math=True)
    pdf.savefig(fig)
    plt.close(fig)


def _mathsafe(text: str) -> str:
    """A heading inside $\\bf{...}$: spaces and specials escaped for mathtext."""
    out = []
    for ch in text:
        if ch == " ":
            out.append("\\ ")
        elif ch in "#$%&_{}":
            out.append("\\" + ch)
        elif ch in "^~\\":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _mathescape(text: str) -> str:
    return text.replace("$", r"\$")


def write_pdf(path: Path, meta: dict, insights: list[Insight], pngs: list[bytes], quality_text: str,
              methods: list[str]) -> int:
    pages = 0
    with PdfPages(path, metadata={"Title": meta["title"], "Creator": "bcjourney report"}) as pdf:
        summary = [f"{i}. {ins.title} - {ins.number_label}: {format_value(ins, ins.number)} [95% CI "
                   f"{format_value(ins, ins.ci[0])}, {format_value(ins, ins.ci[1])}]"
                   + ("" if ins.test is None else f" - {verdict(ins)}")
                   for i, ins in enumerate(insights, 1)]
        _text_page(pdf, meta["title"], meta["intro"] + [""] + summary, subtitle=meta["subtitle"])
        pages += 1
        for i, (ins, png) in enumerate(zip(insights, pngs), 1):
            _insight_page(pdf, i, ins, png)
            pages += 1
        _text_page(pdf, "Data quality", [quality_text], mono=True,
                   subtitle="from the ingest quality reports (_reports/*/*.json), the quarantine and query 09")
        pages += 1
        _text_page(pdf, "Methods and caveats", methods)
        pages += 1
    return pages


# --------------------------------------------------------------------------------------------------
# HTML

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;
line-height:1.45;padding:0 1em}
h1{margin-bottom:0.2em} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em} th,td{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top} th{background:#f0f3f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
section{border-top:2px solid #1f4e79;margin-top:2em;padding-top:0.5em}
img{max-width:100%;height:auto} dt{font-weight:bold;margin-top:0.5em} dd{margin-left:1.2em}
.sig{color:#fff;background:#2a9d4b;border-radius:4px;padding:1px 6px;font-size:0.8em}
.ns{color:#fff;background:#6c7a89;border-radius:4px;padding:1px 6px;font-size:0.8em}
pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.85em}
"""


def _badge(ins: Insight) -> str:
    if ins.test is None:
        return '<span class="ns">descriptive</span>'
    return f'<span class="{"sig" if ins.significant else "ns"}">{verdict(ins)}</span>'


def _segment_table(ins: Insight) -> str:
    if not ins.segments:
        return ""
    is_rate = "rate" in ins.segments[0]
    head = ("<tr><th>segment</th><th>n</th>" + ("<th>k</th><th>rate</th>" if is_rate else "<th>mean score</th>")
            + "<th>95% CI</th><th>vs rest</th><th>p</th><th>Holm p</th><th>significant</th></tr>")
    rows = []
    for s in ins.segments:
        if is_rate:
            vals = (f"<td class=num>{s['k']:,}</td><td class=num>{pct(s['rate'], 2)}</td>"
                    f"<td>{pct(s['ci'][0], 2)} to {pct(s['ci'][1], 2)}</td>")
        else:
            vals = (f"<td class=num>{fmt_num(s['mean'])}</td><td>{fmt_num(s['ci'][0])} to {fmt_num(s['ci'][1])}</td>")
        rows.append(f"<tr><td>{html.escape(s['segment'])}</td><td class=num>{s['n']:,}</td>{vals}"
                    f"<td>{html.escape(s['test_vs_rest'])}</td><td class=num>{fmt_p(s['p_value'])}</td>"
                    f"<td class=num>{fmt_p(s['p_adjusted'])}</td>"
                    f"<td>{'yes' if s.get('significant') else 'no'}</td></tr>")
    return f"<details><summary>segments</summary><table>{head}{''.join(rows)}</table></details>"


def write_html(path: Path, meta: dict, insights: list[Insight], pngs: list[bytes], quality_html: str,
               methods: list[str]) -> None:
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(meta['title'])}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{html.escape(meta['title'])}</h1><p class=sub>{html.escape(meta['subtitle'])}</p>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in meta["intro"]]
    parts.append("<table><tr><th>#</th><th>insight</th><th>number</th><th>test</th><th></th></tr>")
    for i, ins in enumerate(insights, 1):
        parts.append(f"<tr><td>{i}</td><td><a href='#{ins.key}'>{html.escape(ins.title)}</a></td>"
                     f"<td>{html.escape(ins.number_label)} = {html.escape(ci_text(ins))}</td>"
                     f"<td>{html.escape(significance_text(ins))}</td><td>{_badge(ins)}</td></tr>")
    parts.append("</table>")
    for i, (ins, png) in enumerate(zip(insights, pngs), 1):
        b64 = base64.b64encode(png).decode("ascii")
        blocks = "".join(f"<dt>{html.escape(h)}</dt><dd>{html.escape(b)}</dd>" for h, b in text_blocks(ins))
        parts.append(f"<section id='{ins.key}'><h2>{i}. {html.escape(ins.title)} {_badge(ins)}</h2>"
                     f"<img alt='{html.escape(ins.title)}' src='data:image/png;base64,{b64}'>"
                     f"<dl>{blocks}</dl>{_segment_table(ins)}</section>")
    parts.append(f"<section id='data-quality'><h2>Data quality</h2>{quality_html}</section>")
    parts.append("<section id='methods'><h2>Methods and caveats</h2>"
                 + "".join(f"<p>{html.escape(p)}</p>" for p in methods) + "</section>")
    parts.append("</body></html>")
    path.write_text("".join(parts), encoding="utf-8")


def frame_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, na_rep="", float_format=lambda x: f"{x:,.4g}")


def frame_text(df: pd.DataFrame) -> str:
    return df.to_string(index=False, na_rep="", float_format=lambda x: f"{x:,.4g}") if len(df) else "(none)"
