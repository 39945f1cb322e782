"""The two renderings of the report: a self-contained HTML page and a slides-style PDF. Every plot is drawn
once to a PNG (report_plots); the HTML embeds the PNG as base64 and the PDF page shows the same image next to
the insight's text, so both say exactly the same."""

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
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from bcjourney_tools.analysis.insight import Insight  # noqa: E402
from bcjourney_tools.analysis.report_format import fmt_num, fmt_p, pct  # noqa: E402
from bcjourney_tools.analysis.report_plots import ABOVE, NEUTRAL, PAGE  # noqa: E402

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
        _text_page(pdf, "Executive summary", meta["executive_summary"],
                   subtitle="the actions worth most, by the value at stake (important_score points)")
        pages += 1
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
    adjusted = "adjusted_rate" in ins.segments[0]
    head = ("<tr><th>segment</th><th>n</th>" + ("<th>k</th><th>rate</th>" if is_rate else "<th>mean score</th>")
            + "<th>95% CI</th>" + ("<th>value per click</th><th>country-adjusted rate</th><th>registrations vs "
                                   "expected</th><th>adjusted Holm p</th>" if adjusted else "")
            + "<th>vs rest</th><th>p</th><th>Holm p</th><th>significant</th></tr>")
    rows = []
    for s in ins.segments:
        if is_rate:
            vals = (f"<td class=num>{s['k']:,}</td><td class=num>{pct(s['rate'], 2)}</td>"
                    f"<td>{pct(s['ci'][0], 2)} to {pct(s['ci'][1], 2)}</td>")
        else:
            vals = (f"<td class=num>{fmt_num(s['mean'])}</td><td>{fmt_num(s['ci'][0])} to {fmt_num(s['ci'][1])}</td>")
        if adjusted:
            vals += (f"<td class=num>{s.get('value_per_click', float('nan')):.3f}</td>"
                     f"<td class=num>{pct(s['adjusted_rate'], 2)}</td><td class=num>{s['excess']:+,.0f}</td>"
                     f"<td class=num>{fmt_p(s['adjusted_p_holm'])}</td>")
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
    parts.append("<section id='executive-summary'><h2>Executive summary</h2>"
                 + "".join(f"<p>{html.escape(p)}</p>" for p in meta["executive_summary"]) + "</section>")
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
