"""Sessions and time (insights_sessions, plots_sessions) on a generated lake: every number checked against a plain
pandas computation on the unified journeys (evaluation.read_journeys), restricted to the partner export's window as
report_data defines it; each plot renders with every text inside the figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

from bcjourney.matching.candidates import Window  # noqa: E402
from bcjourney_tools.analysis import insights_sessions as sessions_mod  # noqa: E402
from bcjourney_tools.analysis.insight import Insight, finalize  # noqa: E402
from bcjourney_tools.analysis.plots_sessions import plot_country_page, plot_sessions, plot_weekday_hour  # noqa: E402
from bcjourney_tools.analysis.report_data import load_lake  # noqa: E402
from bcjourney_tools.analysis.report_plots import render_png  # noqa: E402
from bcjourney_tools.evaluation import read_journeys  # noqa: E402
from bcjourney_tools.generate import generate  # noqa: E402
from bcjourney_tools.local.runner import run  # noqa: E402

SEED = 20240421
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _lake(root, days: int, per_day: int, seed: int):
    landing, lake = root / "landing", root / "lake"
    generate(landing, days=days, per_day=per_day, seed=seed)
    run(landing, lake)
    return lake


def _clicks(lake) -> pd.DataFrame:
    """The window's clicks from the unified journeys, by hand: value = score, 0 when unregistered."""
    journeys = read_journeys(str(lake))
    regs = journeys[journeys["partner"].notna()]
    spans = regs.groupby("partner")["registered_at"].agg(["min", "max"])
    w = Window()
    start = spans["min"].max() + pd.Timedelta(seconds=w.after_s)
    end = spans["max"].min() - pd.Timedelta(seconds=w.before_s)
    clicks = journeys[journeys["conversion_id"].notna()]
    clicks = clicks[(clicks["converted_at"] >= start) & (clicks["converted_at"] <= end)].copy()
    clicks["registered"] = clicks["partner"].notna()
    clicks["value"] = np.where(clicks["registered"], clicks["important_score"].astype(float), 0.0)
    clicks["value"] = clicks["value"].fillna(0.0)
    clicks["page"] = clicks["page_category"].fillna("(unmapped)")
    clicks["country"] = clicks["country_code"].fillna("(unknown)")
    return clicks


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    lake = _lake(tmp_path_factory.mktemp("sessions"), 7, 1700, 42)
    data = load_lake(lake)
    built = [sessions_mod.sessions(data, np.random.default_rng(SEED)),
             sessions_mod.weekday_hour_heatmap(data, np.random.default_rng(SEED)),
             sessions_mod.country_page_value(data, np.random.default_rng(SEED))]
    finalize(built)
    return {"clicks": _clicks(lake), "insights": {i.key: i for i in built}}


def test_clicks_per_session_distribution_matches_pandas(gen):
    clicks, ins = gen["clicks"], gen["insights"]["sessions"]
    sizes = clicks.groupby("session_id").size()
    assert ins.details["sessions"] == len(sizes)
    assert math.isclose(ins.details["mean_clicks_per_session"], sizes.mean())
    expected = sizes.clip(upper=10).value_counts().sort_index()
    assert ins.details["distribution"] == {str(k): int(v) for k, v in expected.items()}
    one = clicks[clicks["session_id"].map(sizes) == 1]
    b = ins.details["buckets"][0]
    assert b["segment"] == "1" and b["n"] == len(one) and b["k"] == int(one["registered"].sum())
    assert math.isclose(b["value_per_click"], one["value"].sum() / len(one))
    assert b["value_ci"][0] <= b["value_per_click"] <= b["value_ci"][1]
    assert sum(x["n"] for x in ins.details["buckets"]) == len(clicks)


def _by_hand_patterns(clicks: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    ordered = clicks.sort_values(["session_id", "converted_at", "conversion_id"])
    out, first_last = {}, []
    for sid, g in ordered.groupby("session_id"):
        if len(g) < 2 or not g["registered"].any():
            continue
        flags = g["registered"].tolist()
        linked = [i for i, f in enumerate(flags) if f]
        if len(linked) == len(flags):
            out[sid] = "every click"
        elif len(linked) == 1:
            out[sid] = {0: "first only", len(flags) - 1: "last only"}.get(linked[0], "a middle one only")
        else:
            out[sid] = "several, not all"
        first_last.append({"value": g["value"].sum(), "first": g["page"].iloc[0], "last": g["page"].iloc[-1]})
    return pd.Series(out), pd.DataFrame(first_last)


def test_credit_shares_and_the_value_that_moves_match_pandas(gen):
    clicks, ins = gen["clicks"], gen["insights"]["sessions"]
    patterns, sessions = _by_hand_patterns(clicks)
    counts = patterns.value_counts()
    assert ins.details["patterns"] == counts.to_dict()
    first, last = int(counts.get("first only", 0)), int(counts.get("last only", 0))
    assert (ins.details["first_only"], ins.details["last_only"]) == (first, last)
    assert first + last > 0 and math.isclose(ins.number, last / (first + last))
    assert ins.ci[0] <= ins.number <= ins.ci[1]
    from scipy.stats import binomtest

    assert math.isclose(ins.p_value, binomtest(last, first + last).pvalue)
    f = sessions.groupby("first")["value"].sum()
    la = sessions.groupby("last")["value"].sum()
    net = (f.reindex(f.index.union(la.index), fill_value=0) - la.reindex(f.index.union(la.index), fill_value=0))
    shift = ins.details["shift"]
    assert shift["sessions"] == len(sessions) and math.isclose(shift["value"], sessions["value"].sum())
    assert math.isclose(shift["net_moved"], net.abs().sum() / 2)
    assert math.isclose(shift["gross_moved"], sessions.loc[sessions["first"] != sessions["last"], "value"].sum())
    mine = {p["page"]: p["first_minus_last"] for p in shift["pages"]}  # also the pages only a middle click saw: 0
    assert mine == pytest.approx({page: float(net.get(page, 0.0)) for page in mine}) and set(net.index) <= set(mine)
    linked = clicks[clicks["session_id"].map(clicks.groupby("session_id").size()) > 1].groupby("page")["value"].sum()
    assert {p["page"]: p["linked"] for p in shift["pages"]} == pytest.approx(
        {page: float(linked.get(page, 0.0)) for page in mine})
    assert f"{shift['net_moved']:,.0f} points" in ins.finding


def test_a_heatmap_cell_count_and_value_per_click_match_pandas(gen):
    clicks, ins = gen["clicks"], gen["insights"]["weekday_hour_heatmap"]
    t = clicks["converted_at"]
    cells = clicks.groupby([t.dt.day_of_week, t.dt.hour]).agg(n=("value", "size"), value=("value", "sum"))
    (wd, hour), row = cells["n"].idxmax(), cells.loc[cells["n"].idxmax()]
    grid = ins.plot_data["grid"].set_index(["weekday", "hour"])
    assert int(grid.loc[(wd, hour), "n"]) == row["n"]
    assert math.isclose(grid.loc[(wd, hour), "value_per_click"], row["value"] / row["n"])
    assert ins.details["busiest"] == {"cell": f"{WEEKDAYS[wd]} {hour:02d}h", "n": int(row["n"])}
    assert f"{WEEKDAYS[wd]} {hour:02d}h with {int(row['n']):,} clicks" in ins.finding
    shown = cells[cells["n"] >= sessions_mod.MIN_CELL_CLICKS]
    assert len(ins.segments) == len(shown) and grid["masked"].sum() == 168 - len(shown)
    for s in ins.segments[:3] + ins.segments[-3:]:
        day, h = s["segment"].split()
        c = shown.loc[(WEEKDAYS.index(day), int(h[:2]))]
        assert s["n"] == c["n"] and math.isclose(s["mean"], c["value"] / c["n"])
        assert s["ci"][0] - 1e-9 <= s["mean"] <= s["ci"][1] + 1e-9
    # one week: every weekday-hour is seen on one date, so no pattern can be told from day-to-day noise
    assert ins.test is None and ins.p_value is None and ins.action.startswith("No action")


def test_a_matrix_cell_value_per_click_matches_pandas(gen):
    clicks, ins = gen["clicks"], gen["insights"]["country_page_value"]
    countries = clicks["country"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    pages = clicks["page"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    assert ins.details["countries"] == list(countries.index[:10]) and ins.details["pages"] == list(pages.index[:10])
    inside = clicks[clicks["country"].isin(countries.index[:10]) & clicks["page"].isin(pages.index[:10])]
    cells = inside.groupby(["country", "page"]).agg(n=("value", "size"), value=("value", "sum"))
    cells = cells[cells["n"] >= sessions_mod.MIN_CELL_CLICKS]
    cells["vpc"] = cells["value"] / cells["n"]
    assert len(ins.segments) == len(cells)
    best = cells.sort_values(["vpc", "n"], ascending=[False, True]).iloc[0]
    top = ins.segments[0]
    assert math.isclose(top["mean"], best["vpc"]) and math.isclose(ins.number, best["vpc"])
    for s in ins.segments:
        country, page = s["segment"].split(" x ", 1)
        c = cells.loc[(country, page)]
        assert s["n"] == c["n"] and math.isclose(s["mean"], c["vpc"]), s["segment"]
        assert s["ci"][0] - 1e-9 <= s["mean"] <= s["ci"][1] + 1e-9
    assert f"n = {top['n']:,}" in ins.finding and top["segment"] in ins.finding
    if not ins.significant:
        assert ins.action.startswith("No evidence")


def _check_figure(ins: Insight, plot) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    fig = plot(ins)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn = fig.get_tightbbox(renderer)  # inches, of every drawn artist, text included: nothing may stick out
    width, height = fig.get_size_inches()
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01 and drawn.x1 <= width + 0.01 and drawn.y1 <= height + 0.01, drawn
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text() and t.get_in_layout()]
    assert texts and not [t.get_text() for t in texts if "\\mathdefault" in t.get_text()]
    plt.close(fig)
    assert render_png(ins, plot)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("key, plot", [("sessions", plot_sessions), ("weekday_hour_heatmap", plot_weekday_hour),
                                       ("country_page_value", plot_country_page)])
def test_each_plot_renders_with_every_text_inside_the_figure(gen, key, plot):
    _check_figure(gen["insights"][key], plot)


def test_with_two_weeks_the_heatmap_is_tested_with_dates_as_units(tmp_path):
    lake = _lake(tmp_path, 14, 700, 7)
    ins = sessions_mod.weekday_hour_heatmap(load_lake(lake), np.random.default_rng(SEED))
    assert ins.test is not None and ins.test.startswith("quasi-likelihood F") and 0.0 <= ins.p_value <= 1.0
    assert ins.details["dispersion"] >= 1.0 and "Tested with the dates as units" in ins.finding
    clicks = _clicks(lake)
    assert sum(s["n"] for s in ins.segments) == int(ins.plot_data["grid"].query("not masked")["n"].sum())
    assert int(ins.plot_data["grid"]["n"].sum()) == len(clicks)
    _check_figure(ins, plot_weekday_hour)
