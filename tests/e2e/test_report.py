"""`build_report`: the EDA report on a lake built by the real pipeline from generated data.

The lake: `generate` 3 days x 600 clicks, then `run`, with the partner's first daily export removed, as
in the real data set, where the partner's export starts weeks after our clicks. Every number the
report states is recomputed here with plain pandas from the unified Parquet (and the quality reports),
its interval must contain it, p-values must be probabilities, and a comparison that is not significant
must carry no recommendation.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

from bcjourney.matching.candidates import Window  # noqa: E402
from bcjourney_tools.analysis import report_stats as st  # noqa: E402
from bcjourney_tools.analysis.insight import HIGH_VALUE, NO_EVIDENCE, Insight, finalize  # noqa: E402
from bcjourney_tools.analysis.report import build_report, compute_insights, expected_pages  # noqa: E402
from bcjourney_tools.analysis.report_data import load_lake  # noqa: E402
from bcjourney_tools.generate import generate  # noqa: E402
from bcjourney_tools.local.runner import run  # noqa: E402

TOL = 1e-9


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    landing, lake, out = tmp / "landing", tmp / "lake", tmp / "out"
    generate(landing, days=3, per_day=600, seed=3)
    first_export = sorted((landing / "broker").rglob("*.csv"))[0]
    first_export.unlink()  # the partner's export starts a day after our clicks
    run(landing, lake)
    result = build_report(lake, out)
    return {"lake": lake, "out": out, "result": result,
            "insights": {i["key"]: i for i in result["insights"]}}


@pytest.fixture(scope="module")
def frame(built):
    """The unified journeys, read with pandas, and the coverage window recomputed independently."""
    df = pd.read_parquet(built["lake"] / "unified" / "journeys")
    regs = df[df["partner"].notna()]
    w = Window()
    spans = regs.groupby("partner")["registered_at"].agg(["min", "max"])
    start = spans["min"].max() + pd.Timedelta(seconds=w.after_s)
    end = spans["max"].min() - pd.Timedelta(seconds=w.before_s)
    clicks = df[df["conversion_id"].notna() & (df["converted_at"] >= start) & (df["converted_at"] <= end)].copy()
    clicks["registered"] = clicks["partner"].notna()
    clicks["device"] = np.where(clicks["is_mobile"].astype(bool), "mobile", "desktop")
    linked = clicks[clicks["registered"]]
    return {"all": df, "clicks": clicks, "linked": linked, "start": start, "end": end}


# --------------------------------------------------------------------------------------------------
# the files


def test_html_pdf_and_plots_are_written(built):
    out, result = built["out"], built["result"]
    html = Path(result["html"])
    pdf = Path(result["pdf"])
    assert html == out / "report.html" and pdf == out / "report.pdf"
    assert html.stat().st_size > 100_000 and pdf.stat().st_size > 100_000
    text = html.read_text(encoding="utf-8")
    # self-contained: every plot embedded, nothing fetched
    assert text.count("data:image/png;base64,") == len(result["insights"])
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", text)
    for insight in result["insights"]:
        assert insight["title"] in text
    plots = sorted((out / "plots").glob("*.png"))
    assert len(plots) == len(result["insights"]) == len(result["plots"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    stored = json.loads((out / "insights.json").read_text(encoding="utf-8"))
    assert [i["key"] for i in stored["insights"]] == [i["key"] for i in result["insights"]]


def test_pdf_has_summary_title_insight_quality_and_methods_pages(built):
    result = built["result"]
    raw = Path(result["pdf"]).read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", raw))
    assert pages == expected_pages(len(result["insights"])) == result["pages"] == len(result["insights"]) + 4


def test_the_slides_draw_both_pipelines_rank_the_recommendations_and_carry_the_actions(built):
    from bcjourney_tools.analysis.slides import RECOMMENDATIONS, TextOverflow, _check_fits, _page, ranked

    result = built["result"]
    raw = Path(result["slides"]).read_bytes()
    assert len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", raw)) == result["slide_pages"] >= 5
    order = ranked()
    assert sorted(order, key=lambda r: r.title) == sorted(RECOMMENDATIONS, key=lambda r: r.title)
    assert all(a.value / a.effort >= b.value / b.effort for a, b in zip(order, order[1:]))
    assert all(r.cost for r in order), "every recommendation is costed"
    # the check that keeps labels on the page is real: a text past the edge is refused
    fig = _page("x")
    fig.text(0.9, 0.5, "a label much too long for the little room left at the right of the page")
    with pytest.raises(TextOverflow):
        _check_fits(fig)


def test_every_topic_of_the_issue_is_covered(built):
    assert set(built["insights"]) == {
        "overall_rate", "rate_by_page_category", "rate_by_ui_element", "rate_by_device", "rate_by_country",
        "markets_by_loss", "delay_distribution", "score_distribution", "score_by_page_category", "score_by_device",
        "score_by_country",
        "high_value_by_entry_point", "rate_by_hour", "rate_by_weekday", "weekday_hour_heatmap", "sessions",
        "country_page_value", "cross_country", "link_rates",
        "quarantine_rate", "anomalies", "unknown_categories", "match_confidence",
    }


# --------------------------------------------------------------------------------------------------
# uncertainty and the "no story about noise" rule


def test_intervals_contain_the_estimates_and_p_values_are_probabilities(built):
    for i in built["result"]["insights"]:
        for field in ("title", "finding", "number", "ci", "test", "p_value", "action"):
            assert field in i, (i["key"], field)
        lo, hi = i["ci"]
        assert lo - TOL <= i["number"] <= hi + TOL, i["key"]
        if i["test"] is not None:
            assert 0.0 <= i["p_value"] <= 1.0 and 0.0 <= i["p_adjusted"] <= 1.0
            assert i["p_adjusted"] >= i["p_value"] - TOL
            assert isinstance(i["significant"], bool)
        for s in i["segments"]:
            value = s.get("rate", s.get("mean"))
            assert s["ci"][0] - TOL <= value <= s["ci"][1] + TOL, (i["key"], s["segment"])
            assert 0.0 <= s["p_value"] <= 1.0 and s["p_value"] - TOL <= s["p_adjusted"] <= 1.0


def test_a_difference_that_is_not_significant_carries_no_recommendation(built):
    insights = built["result"]["insights"]
    not_significant = [i for i in insights if i["significant"] is False]
    assert not_significant, "the generated data should leave some comparison without evidence"
    for i in not_significant:
        assert i["p_adjusted"] >= st.ALPHA
        assert i["action"].startswith(NO_EVIDENCE), i["key"]
        assert "no action recommended" in i["action"]
        assert not any(s.get("significant") for s in i["segments"]), i["key"]
    for i in insights:
        if i["significant"]:
            assert i["p_adjusted"] < st.ALPHA and not i["action"].startswith(NO_EVIDENCE)


def test_finalize_holm_adjusts_across_insights_and_withholds_actions():
    def make(key, p):
        ins = Insight(key=key, title=key, finding="", number=0.1, number_label="x", ci=(0.0, 0.2), ci_method="",
                      test="t", p_value=p, segments=[{"segment": "a", "p_adjusted": 0.001}])
        ins._action_if_significant = lambda _: "do it"
        return ins

    out = finalize([make("a", 0.01), make("b", 0.03), make("c", 0.04)])
    # Holm: 0.03, 0.06, 0.06 -> only the first survives
    assert [round(i.p_adjusted, 6) for i in out] == [0.03, 0.06, 0.06]
    assert [i.significant for i in out] == [True, False, False]
    assert out[0].action == "Do it"
    assert all(i.action.startswith(NO_EVIDENCE) for i in out[1:])
    assert out[1].segments[0]["significant"] is False


# --------------------------------------------------------------------------------------------------
# every number against pandas


def test_coverage_window_excludes_clicks_the_partner_export_cannot_explain(built, frame):
    cov = built["result"]["coverage"]
    assert pd.Timestamp(cov["start"]) == frame["start"] and pd.Timestamp(cov["end"]) == frame["end"]
    assert frame["start"] > pd.Timestamp("2024-04-02")  # the first day's export was removed
    assert cov["clicks_in_scope"] == len(frame["clicks"])
    assert cov["clicks_total"] == int(frame["all"]["conversion_id"].notna().sum())


def test_overall_rate(built, frame):
    i = built["insights"]["overall_rate"]
    clicks = frame["clicks"]
    rate = clicks["registered"].mean()
    assert i["details"]["clicks"] == len(clicks)
    assert i["details"]["registrations"] == int(clicks["registered"].sum())
    assert i["number"] == pytest.approx(rate, abs=TOL)
    assert f"{100 * rate:.1f}%" in i["finding"]
    # Wilson, widened to the effective sample size by the day-to-day dispersion of the daily rates
    daily = clicks.groupby(clicks["converted_at"].dt.floor("D"))["registered"].agg(["sum", "size"])
    phi = st.cell_dispersion(daily["sum"], daily["size"])
    assert i["details"]["dispersion"] == pytest.approx(phi)
    assert i["ci"] == pytest.approx(list(st.wilson(int(clicks["registered"].sum()), len(clicks), dispersion=phi)))
    # the naive rate over every click is lower: the day without an export dilutes it
    all_clicks = frame["all"][frame["all"]["conversion_id"].notna()]
    assert i["details"]["naive_rate"] == pytest.approx(all_clicks["partner"].notna().mean(), abs=TOL)
    assert i["details"]["naive_rate"] < rate


def test_rate_by_device(built, frame):
    i = built["insights"]["rate_by_device"]
    by = frame["clicks"].groupby("device")["registered"].agg(["sum", "size", "mean"])
    seg = {s["segment"]: s for s in i["segments"]}
    for device in ("mobile", "desktop"):
        assert seg[device]["n"] == by.loc[device, "size"]
        assert seg[device]["k"] == by.loc[device, "sum"]
        assert seg[device]["rate"] == pytest.approx(by.loc[device, "mean"], abs=TOL)
    assert i["number"] == pytest.approx(by.loc["mobile", "mean"] - by.loc["desktop", "mean"], abs=TOL)
    cells = frame["clicks"].groupby(["device", frame["clicks"]["converted_at"].dt.floor("D")])["registered"]
    cells = cells.agg(["sum", "size"]).reset_index()
    phi = st.cell_dispersion(cells["sum"], cells["size"], cells["device"])
    assert i["details"]["dispersion"] == pytest.approx(phi)
    _, p = st.two_proportion_test(int(by.loc["mobile", "sum"]), int(by.loc["mobile", "size"]),
                                  int(by.loc["desktop", "sum"]), int(by.loc["desktop", "size"]), phi)
    assert i["p_value"] == pytest.approx(p)


def test_rate_by_page_category_ui_element_country_hour(built, frame):
    clicks = frame["clicks"].assign(
        page_category=lambda d: d["page_category"].fillna("(unmapped)"),
        ui_element=lambda d: d["ui_element"].fillna("(none)"),
        hour=lambda d: d["converted_at"].dt.hour.map(lambda h: f"{h:02d}h"),
        weekday=lambda d: d["converted_at"].dt.day_name().str[:3],
    )
    for key, column in (("rate_by_page_category", "page_category"), ("rate_by_ui_element", "ui_element"),
                        ("rate_by_country", "country_code"), ("rate_by_hour", "hour"),
                        ("rate_by_weekday", "weekday")):
        i = built["insights"][key]
        by = clicks.groupby(column)["registered"].agg(["sum", "size"])
        named = [s for s in i["segments"] if s["segment"] != "(other)"]
        assert named
        for s in named:
            assert (s["n"], s["k"]) == (by.loc[s["segment"], "size"], by.loc[s["segment"], "sum"]), (key, s)
        assert sum(s["n"] for s in i["segments"]) == len(clicks), key
        assert sum(s["k"] for s in i["segments"]) == int(clicks["registered"].sum()), key
        rates = [s["rate"] for s in named]
        assert i["number"] == pytest.approx(max(rates) - min(rates), abs=TOL), key
        # the omnibus test: chi-square of homogeneity over these groups, corrected for the day-to-day
        # dispersion (quasi-binomial F) unless the events are too sparse for it
        assert i["test"].startswith(("chi-square", "quasi-binomial F")), i["test"]


def test_delay_distribution(built, frame):
    i = built["insights"]["delay_distribution"]
    delays = frame["linked"]["registration_delay_s"].dropna().to_numpy()
    assert i["details"]["linked"] == len(delays)
    assert i["number"] == np.quantile(delays, 0.5, method="inverted_cdf")
    assert i["details"]["p90_s"] == np.quantile(delays, 0.9, method="inverted_cdf")
    assert i["details"]["within_5s"] == int(((delays >= 0) & (delays < 5)).sum())
    assert i["details"]["negative"] == int((delays < 0).sum())
    assert i["details"]["max_delay_s"] == delays.max()


def test_scores_by_device_and_high_value_share(built, frame):
    scored = frame["linked"][frame["linked"]["important_score"].notna()]
    i = built["insights"]["score_by_device"]
    means = scored.groupby("device")["important_score"].mean()
    assert i["details"]["desktop_mean"] == pytest.approx(means["desktop"])
    assert i["details"]["mobile_mean"] == pytest.approx(means["mobile"])
    assert i["number"] == pytest.approx(means["desktop"] - means["mobile"])
    hv = built["insights"]["high_value_by_entry_point"]
    assert hv["details"]["scored_registrations"] == len(scored)
    assert hv["details"]["high_value"] == int((scored["important_score"] >= HIGH_VALUE).sum())
    assert hv["number"] == pytest.approx((scored["important_score"] >= HIGH_VALUE).mean())
    page = built["insights"]["score_by_page_category"]
    assert page["details"]["overall_mean"] == pytest.approx(scored["important_score"].mean())
    by_page = scored.assign(p=scored["page_category"].fillna("(unmapped)")).groupby("p")["important_score"].mean()
    for s in page["segments"]:
        if s["segment"] != "(other)":
            assert s["mean"] == pytest.approx(by_page[s["segment"]]), s["segment"]


def test_cross_country(built, frame):
    i = built["insights"]["cross_country"]
    linked = frame["linked"]
    comparable = linked[linked["country_code"].notna() & linked["ip_country_code"].notna()]
    differs = int((comparable["ip_country_code"] != comparable["country_code"]).sum())
    assert (i["details"]["ip_differs"], i["details"]["comparable"]) == (differs, len(comparable))
    assert i["number"] == pytest.approx(differs / len(comparable))


def test_data_quality_kpis_and_match_confidence(built, frame):
    lake = built["lake"]
    reports = [json.loads(p.read_text()) for p in sorted((lake / "_reports").rglob("*.json"))]
    q = built["insights"]["quarantine_rate"]
    rows_in = sum(r["rows_in"] for r in reports)
    quarantined = sum(r["quarantined"] for r in reports)
    assert (q["details"]["rows_in"], q["details"]["quarantined"]) == (rows_in, quarantined)
    if quarantined:
        assert quarantined == len(pd.read_parquet(lake / "quarantine"))
    assert q["number"] == pytest.approx(quarantined / rows_in)

    links = built["insights"]["link_rates"]
    regs = frame["all"][frame["all"]["partner"].notna()]
    assert links["number"] == pytest.approx(regs["conversion_id"].notna().mean())
    unlinked = regs[regs["conversion_id"].isna()]
    per_hour = unlinked.groupby(unlinked["registered_at"].dt.floor("h")).size()
    assert links["details"]["burst_unlinked"] == per_hour.max()
    assert links["details"]["click_days_outside_export"] >= 1  # the day whose export was removed
    assert built["insights"]["overall_rate"]["details"]["click_days_without_export"] == 1

    m = built["insights"]["match_confidence"]
    conf = frame["linked"]["match_confidence"]
    assert m["details"]["links"] == len(conf)
    assert m["number"] == pytest.approx((conf >= 0.9).mean())
    assert sum(b["links"] for b in m["details"]["bins"]) == len(conf)


def test_a_lake_without_partner_exports_gives_insights_without_recommendations(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=1, per_day=300, seed=5)
    for path in (landing / "broker").rglob("*.csv"):
        path.unlink()
    run(landing, lake)
    data = load_lake(lake)
    assert not data.coverage.restricted  # no export window: every click is analysed
    insights = [i.as_dict() for i in compute_insights(data)]
    by_key = {i["key"]: i for i in insights}
    assert by_key["overall_rate"]["number"] == 0.0
    for i in insights:
        if i["test"] is not None:
            assert i["significant"] is False and i["action"].startswith(NO_EVIDENCE), i["key"]
    assert by_key["delay_distribution"]["number"] is None  # NaN becomes null in the data


# --------------------------------------------------------------------------------------------------
# the statistics against textbook values


def test_statistics_helpers():
    scipy_stats = pytest.importorskip("scipy.stats")
    lo, hi = st.wilson(81, 263)  # Newcombe (1998) example: 0.2553 to 0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert st.wilson(0, 10)[0] == 0.0 and st.wilson(10, 10)[1] == 1.0
    assert math.isnan(st.wilson(0, 0)[0])
    lo, hi = st.diff_ci(56, 70, 48, 80)  # Newcombe (1998) method 10: 0.0524 to 0.3339
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    k, n = [30, 45, 60], [100, 100, 100]
    _, stat, p = st.chi2_homogeneity(k, n, np.random.default_rng(0))
    table = [[a, b - a] for a, b in zip(k, n)]
    chi2, p_ref, _, _ = scipy_stats.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(chi2) and p == pytest.approx(p_ref)
    name, p_small = st.two_proportion_test(1, 10, 5, 10)
    assert name == "Fisher exact" and p_small == pytest.approx(scipy_stats.fisher_exact([[1, 9], [5, 5]])[1])
    values = np.random.default_rng(1).integers(0, 5, 500)
    lo, hi = st.bootstrap_mean_ci(values, np.random.default_rng(2), 2000)
    assert lo < values.mean() < hi
    lo, hi = st.bootstrap_quantile_ci(values, 0.5, np.random.default_rng(3), 2000)
    assert lo <= np.quantile(values, 0.5, method="inverted_cdf") <= hi
    # dispersion: binomial cells ~ 1, cells whose rates swing from day to day >> 1
    rng = np.random.default_rng(4)
    n = np.full(40, 500)
    assert st.cell_dispersion(rng.binomial(n, 0.3), n) < 1.5
    swings = rng.binomial(n, np.where(np.arange(40) % 2, 0.2, 0.4))
    assert st.cell_dispersion(swings, n) > 5
    # a "difference" made of two groups of such days is no evidence once the dispersion is counted
    groups = np.where(np.arange(40) < 20, "a", "b")
    name, _, p_quasi, phi = st.overdispersed_homogeneity(swings, n, groups)
    assert phi > 5 and p_quasi > st.chi2_homogeneity([swings[:20].sum(), swings[20:].sum()],
                                                     [n[:20].sum(), n[20:].sum()], rng)[2]
    values = rng.normal(0, 1, 4000) + np.repeat(rng.normal(0, 1, 40), 100)  # day effects
    assert st.mean_dispersion(values, ["g"] * 4000, np.repeat(np.arange(40), 100)) > 10
    lo, hi = st.wilson(30, 100, dispersion=4.0)
    lo1, hi1 = st.wilson(30, 100)
    assert lo < lo1 and hi > hi1 and (lo, hi) == pytest.approx(st.wilson(7.5, 25))
    _, idx, mu, p = st.max_count_outlier([1, 0, 2, 1, 40, 1, 0])
    assert idx == 4 and mu == pytest.approx(5 / 6) and p < 1e-6
    assert st.max_count_outlier([1, 1, 1, 1])[3] == 1.0


HOSTILE_LABELS = {"dynamic score top broker list row": "$x^$", "front-page-visit-broker-button-name-link":
                  "50% off_now^2 $$", "Home page": "Home page & more $x_1^2$ 100%"}


def test_the_report_renders_any_label_that_survives_curation(tmp_path):
    """Text that passes the text policy may still mean something to matplotlib's mathtext ($, ^, _) or to HTML
    (&lt;): the report shows it as written, in the plots, the PDF and the HTML."""
    landing, lake, out = tmp_path / "landing", tmp_path / "lake", tmp_path / "out"
    generate(landing, days=2, per_day=500, seed=4)
    for path in list((landing / "conversions").glob("*.csv")) + [landing / "reference" / "page_category_mapping.csv"]:
        text = path.read_text()
        for plain_label, hostile in HOSTILE_LABELS.items():
            text = text.replace(f";{plain_label};", f";{hostile};").replace(f"\n{plain_label};", f"\n{hostile};")
        path.write_text(text)
    run(landing, lake)
    journeys = pd.read_parquet(lake / "unified" / "journeys")
    assert (journeys["ui_element"] == "$x^$").sum() > 50  # the label really is in the data
    build_report(lake, out)
    html_text = (out / "report.html").read_text()
    assert "$x^$" in html_text
    assert "Home page &amp; more $x_1^2$ 100%" in html_text
    pdftotext = shutil.which("pdftotext")
    if pdftotext:  # the PDF shows the label as written, not as typeset math
        pdf_text = subprocess.run([pdftotext, str(out / "report.pdf"), "-"], capture_output=True, text=True).stdout
        assert "$x^$" in pdf_text


def test_the_registry_names_each_insight_once_with_queries_the_report_loads():
    from bcjourney_tools.analysis.registry import INSIGHTS
    from bcjourney_tools.analysis.report_data import LAKE_QUERIES, SCOPED_QUERIES, query_path

    keys = [spec.key for spec in INSIGHTS]
    assert len(keys) == len(set(keys)) == len(INSIGHTS)
    loaded = set(SCOPED_QUERIES) | set(LAKE_QUERIES)
    for spec in INSIGHTS:
        assert set(spec.queries) <= loaded, spec.key
    assert all(query_path(name).is_file() for name in loaded)


def test_no_plot_shows_mathtext_source_since_data_labels_are_not_typeset(built):
    """parse_math is off so data labels print as written; axis formatters that emit mathtext (log scales:
    '$\\mathdefault{10^{4}}$') would then print their source: every plot's texts are checked after drawing."""
    import matplotlib.pyplot as plt
    from bcjourney_tools.analysis.registry import BY_KEY
    from matplotlib.text import Text

    for ins in compute_insights(load_lake(built["lake"])):
        fig = BY_KEY[ins.key].plot(ins)
        fig.canvas.draw()
        texts = [t.get_text() for t in fig.findobj(Text)]
        plt.close(fig)
        assert not [t for t in texts if "\\mathdefault" in t or "\\times" in t], ins.key


def test_the_markdown_report_carries_the_summary_and_every_insight(built):
    result = built["result"]
    text = Path(result["markdown"]).read_text(encoding="utf-8")
    assert text.startswith("# ") and "## Executive summary" in text
    for n, insight in enumerate(result["insights"], 1):
        assert f"### {n}. {insight['title']}" in text and insight["action"] in text
