"""`bcjourney report`: the EDA report of a lake.

build_report(lake_dir, out_dir) writes
    out_dir/report.html    self-contained (plots embedded as base64 PNG)
    out_dir/report.pdf     slides: a title page, one page per insight, a data-quality page, methods
    out_dir/plots/*.png    the plots
    out_dir/insights.json  the insights as data
and returns the paths and the insights (list of dicts: title, finding, number, ci, test, p_value,
p_adjusted, significant, action, segments, details...).

Everything is computed from the lake: the athena_queries files run locally on DuckDB
(local_sql.run_sql) over the partner-coverage window (report_data), row-level statistics (bootstrap,
Mann-Whitney) with DuckDB + pandas on the same window, data-quality KPIs from query 09, the
quarantine and the ingest quality reports. Uncertainty and tests: report_stats; the insight rules
(Holm family, "no evidence of a difference"): insight; the list of insights, their plots and queries: registry.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import bcjourney
import numpy as np
import pandas as pd

from bcjourney_tools.analysis import insight as ri
from bcjourney_tools.analysis import report_render as rr
from bcjourney_tools.analysis import summary
from bcjourney_tools.analysis.registry import BY_KEY, INSIGHTS
from bcjourney_tools.analysis.report_data import LakeData, load_lake
from bcjourney_tools.analysis.report_markdown import write_markdown
from bcjourney_tools.analysis.report_plots import render_png
from bcjourney_tools.analysis.report_stats import ALPHA, MIN_EXPECTED
from bcjourney_tools.analysis.slides import write_slides

TITLE = "BrokerChooser click-outs to partner registrations: EDA report"


def compute_insights(data: LakeData) -> list[ri.Insight]:
    """Every insight, in report order, with Holm-adjusted significance and the actions it supports."""
    rng = np.random.default_rng(ri.SEED)
    insights = []
    for spec in INSIGHTS:
        built = spec.build(data, rng)
        if built.key != spec.key:
            raise ValueError(f"the builder of {spec.key} returned insight {built.key}")
        insights.append(built)
    return ri.finalize(insights)


def expected_pages(n_insights: int) -> int:
    """Executive summary + title page + one page per insight + data-quality page + methods page."""
    return n_insights + 4


def executive_summary(data: LakeData, insights: list[ri.Insight]) -> list[str]:
    """The headline value per click, then the actions worth most (analysis.summary)."""
    clicks = data.rows[data.rows["is_click"]]
    linked = clicks[clicks["registered"]]
    score_sum = float(linked["important_score"].astype(float).fillna(0).sum())
    per_registration = score_sum / len(linked) if len(linked) else 0.0
    lines = [summary.value_per_click(len(clicks), len(linked), score_sum)]
    chosen = summary.stakes(insights, per_registration)
    lines += [f"{n}. {stake.line()}" for n, stake in enumerate(chosen, 1)] or [
        "No finding survives its test and the country adjustment: no action worth ranking yet."]
    return lines


def _git_commit() -> str | None:
    root = Path(bcjourney.__file__).resolve().parents[3]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _meta(data: LakeData, insights: list[ri.Insight]) -> dict:
    cov = data.coverage
    commit = _git_commit()
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (f"lake {data.lake_dir} | generated {generated} by bcjourney {getattr(bcjourney, '__version__', '')}"
                + (f" (commit {commit})" if commit else ""))
    rows = data.rows
    intro = []
    if cov.restricted:
        partners = ", ".join(f"{p} ({a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}, {n:,} registrations)"
                             for p, (a, b, n) in cov.partners.items())
        intro.append(f"Partner exports: {partners}. The analysis covers the {cov.clicks_in_scope:,} of "
                     f"{cov.clicks_total:,} clicks made from {cov.start:%Y-%m-%d %H:%M} to "
                     f"{cov.end:%Y-%m-%d %H:%M} UTC, "
                     "whose whole matching window lies inside every partner's export; outside it a click cannot "
                     "be linked, so counting it would only dilute the rates. Data-quality KPIs use the whole lake.")
    else:
        intro.append(f"No overlapping partner export window: all {cov.clicks_total:,} clicks are analysed.")
    intro.append(f"In scope: {int(rows['is_click'].sum()):,} clicks, {int(rows['registered'].sum()):,} partner "
                 f"registrations ({int((rows['registered'] & ~rows['is_click']).sum()):,} not explained by a click). "
                 f"{sum(1 for i in insights if i.test)} comparisons were tested as one family with Holm's correction "
                 f"at {ALPHA}: {sum(1 for i in insights if i.significant)} significant.")
    return {"title": TITLE, "subtitle": subtitle, "intro": intro, "generated_at": generated, "commit": commit}


def _quality_tables(data: LakeData, insights: list[ri.Insight]) -> tuple[str, str]:
    reports = sorted(data.quality_reports, key=lambda r: (str(r.get("source")), str(r.get("key"))))

    def short_key(k) -> str:
        k = str(k)
        return k if len(k) <= 44 else "…" + k[-43:]

    batches = pd.DataFrame([{
        "source": r.get("source"), "key": short_key(r.get("key")), "rows_in": r.get("rows_in"),
        "curated": r.get("curated"), "merged": r.get("merged_duplicates"), "quarantined": r.get("quarantined"),
        "rejected": r.get("file_rejected") or "-",
    } for r in reports])
    formats = pd.DataFrame([{
        "source": r.get("source"), "key": short_key(r.get("key")),
        "encoding": (r.get("file_format") or {}).get("encoding"),
        "delimiter": (r.get("file_format") or {}).get("delimiter"),
        "flags": ", ".join(f"{k}={v}" for k, v in (r.get("flags") or {}).items()) or "-",
    } for r in reports])
    nulls = pd.DataFrame([{"source": r.get("source"), "column": c, "null_rate": round(float(v), 4)}
                          for r in reports for c, v in (r.get("null_rates") or {}).items()
                          if v and c != "quality_flags"])
    if len(nulls):
        nulls = (nulls.groupby(["source", "column"], as_index=False)["null_rate"].max()
                 .sort_values(["null_rate", "source", "column"], ascending=[False, True, True]))
    rules = data.quarantine_by_rule
    links = next(i for i in insights if i.key == "link_rates").details["per_partner"]
    link_df = pd.DataFrame([{"partner": p, "registrations": v["registrations"], "linked": v["linked"],
                             "rate": round(v["rate"], 4), "ci_low": round(v["ci"][0], 4),
                             "ci_high": round(v["ci"][1], 4), "worst_day": round(v["min_day_rate"], 4),
                             "best_day": round(v["max_day_rate"], 4)} for p, v in links.items()])
    cov = pd.DataFrame([data.coverage.as_dict()]).drop(columns=["partners"])
    text = "\n\n".join([
        "Ingest batches (quality reports)\n" + rr.frame_text(batches),
        "File formats detected and rows kept with a flag\n" + rr.frame_text(formats),
        "Null rates of curated columns (largest per source and column)\n" + rr.frame_text(nulls),
        "Quarantined rows by source, rule and column\n" + rr.frame_text(rules),
        "Registration link rate per partner (query 09, whole lake)\n" + rr.frame_text(link_df),
        "Analysis window\n" + rr.frame_text(cov.T.reset_index().rename(columns={"index": "field", 0: "value"})),
    ])
    html_parts = [
        "<h3>Ingest batches (quality reports)</h3>", rr.frame_html(batches),
        "<h3>File formats detected and rows kept with a flag</h3>", rr.frame_html(formats),
        "<h3>Null rates of curated columns (largest per source and column)</h3>", rr.frame_html(nulls),
        "<h3>Quarantined rows by source, rule and column</h3>", rr.frame_html(rules),
        "<h3>Registration link rate per partner (query 09, whole lake)</h3>", rr.frame_html(link_df),
        "<h3>Analysis window</h3>", rr.frame_html(cov),
    ]
    return text, "".join(html_parts)


def _methods(data: LakeData) -> list[str]:
    cov = data.coverage
    return [
        "Source. Every number comes from the lake given: the athena_queries/*.sql files (01-08 on the analysis "
        "window, 09 on the whole lake) run locally on DuckDB through sqlglot, the same SQL Athena runs; "
        "row-level statistics (bootstrap, rank tests, entry points) read the same window with DuckDB; "
        "data-quality figures come from the quarantine table and the ingest quality reports "
        "(_reports/<source>/<batch>.json).",
        f"Analysis window. A click can only be linked while the partner's export covers the {cov.before_s} s after "
        f"it (and {cov.after_s} s before, for clock skew). Clicks outside [latest first registration + "
        f"{cov.after_s} s, earliest last registration - {cov.before_s} s] over all partners are left out of the "
        "product insights; the same SQL on Athena needs the same window (a view over unified_journeys).",
        "Definitions (athena_queries/README.md). Click: a unified_journeys row with a conversion_id. Registration "
        "rate: clicks linked to a partner registration / clicks. High-value: important_score >= 50, shares over "
        "registrations with a score (a null score is partner junk). Device: is_mobile. Times are UTC.",
        "Uncertainty. Proportions: Wilson 95% intervals. Difference of two proportions: Newcombe's hybrid score "
        "interval. Means of scores, quantiles of delays and differences of means: percentile bootstrap, "
        f"{ri.BOOTSTRAP} resamples, fixed seed {ri.SEED} (the report is reproducible).",
        "Tests. Rates across groups: chi-square test of homogeneity (Monte Carlo p-value when an expected count is "
        f"below {MIN_EXPECTED}); two groups: two-proportion z-test (Fisher's exact test for small counts). Scores: "
        "Kruskal-Wallis across groups, Mann-Whitney U for two groups and for each group against the rest. The "
        "omnibus p-values of all insights form one family, Holm-adjusted; a comparison that is not significant "
        f"at {ALPHA} after adjustment reads 'no evidence of a difference' and carries no recommendation. Inside "
        "a significant comparison, each group is tested against the rest of the clicks, Holm-adjusted within the "
        "comparison; only groups significant there are named in the action. Bursts of registrations no click "
        "explains: Poisson test of the busiest partner-hour against the mean of the other hours, Bonferroni-"
        "adjusted for picking the maximum, then part of the same Holm family.",
        f"Groups. Top {ri.TOP_PAGES} page categories and top {ri.TOP_UI} UI elements by clicks, top "
        f"{ri.TOP_COUNTRIES} countries (top {ri.TOP_VPN_COUNTRIES} for cross-country registrations, where the "
        f"question is which markets stand out), top {ri.TOP_ENTRY_POINTS} entry points (page "
        "category | UI element) by scored registrations; the rest pooled as '(other)'. The interval of a "
        "'highest minus lowest' difference is not adjusted for picking the extremes: the test decides.",
        "Caveats. Links are probabilistic (Fellegi-Sunter on time and country): a registration rate is a link "
        "rate, and the match-confidence insight shows how much of it rests on uncertain links. The delay "
        f"distribution is truncated by the matcher's {cov.before_s} s window. Observational data: differences between "
        "pages, devices or countries are associations, not effects of the page; A/B tests establish causes. With "
        "tens of thousands of clicks, small differences are significant: judge the size (pp) as well as the p-value. "
        "Weekdays and hours are in UTC and weekdays are unequally represented in a window of a few weeks.",
    ]


def build_report(lake_dir: Path, out_dir: Path) -> dict:
    """Write report.html, report.pdf, plots/*.png, insights.json and slides.pdf (the written tasks: pipeline
    pictures, recommendations, actions) for a lake; return paths and insights."""
    lake_dir, out_dir = Path(lake_dir), Path(out_dir)
    data = load_lake(lake_dir)
    if not data.rows["is_click"].any():
        raise ValueError(f"no clicks in the lake's unified journeys: {lake_dir}")
    insights = compute_insights(data)

    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    pngs, plot_paths = [], []
    for i, ins in enumerate(insights, 1):
        png = render_png(ins, BY_KEY[ins.key].plot)
        path = plots_dir / f"{i:02d}_{ins.key}.png"
        path.write_bytes(png)
        pngs.append(png)
        plot_paths.append(path)

    meta = _meta(data, insights)
    meta["executive_summary"] = executive_summary(data, insights)
    quality_text, quality_html = _quality_tables(data, insights)
    methods = _methods(data)
    html_path, pdf_path, json_path = out_dir / "report.html", out_dir / "report.pdf", out_dir / "insights.json"
    rr.write_html(html_path, meta, insights, pngs, quality_html, methods)
    pages = rr.write_pdf(pdf_path, meta, insights, pngs, quality_text, methods)
    markdown_path = out_dir / "insights.md"
    write_markdown(markdown_path, meta, insights, methods)

    as_data = [dict(ins.as_dict(), plot=str(p.relative_to(out_dir))) for ins, p in zip(insights, plot_paths)]
    payload = {"title": TITLE, "generated_at": meta["generated_at"], "commit": meta["commit"],
               "executive_summary": meta["executive_summary"],
               "lake": str(lake_dir), "coverage": data.coverage.as_dict(), "insights": as_data}
    json_path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    slides_path = out_dir / "slides.pdf"
    slide_pages = write_slides(slides_path, TITLE, as_data, meta["executive_summary"])
    return {
        "html": html_path,
        "pdf": pdf_path,
        "slides": slides_path,
        "slide_pages": slide_pages,
        "json": json_path,
        "markdown": markdown_path,
        "plots": plot_paths,
        "pages": pages,
        "coverage": data.coverage.as_dict(),
        "insights": as_data,
    }
