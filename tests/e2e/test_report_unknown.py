"""The 'Unknown' page category opened (insights_unknown.unknown_categories, plots_unknown.plot_unknown): on the real
data every number is recomputed here with plain pandas, from the raw CSV and the mapping where the number does not
need a link, from the unified Parquet where it does; on generated data with a mapping cut short, the families, the
pooling and the plot with many codes; with a complete mapping, nothing to do."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

from bcjourney.matching.candidates import Window  # noqa: E402
from bcjourney_tools.analysis.insight import Insight  # noqa: E402
from bcjourney_tools.analysis.insights_unknown import TOP_CODES, family_of, unknown_categories  # noqa: E402
from bcjourney_tools.analysis.plots_unknown import plot_unknown  # noqa: E402
from bcjourney_tools.analysis.report_data import load_lake  # noqa: E402
from bcjourney_tools.analysis.report_format import OTHER  # noqa: E402
from bcjourney_tools.analysis.report_plots import render_png  # noqa: E402
from bcjourney_tools.generate import generate  # noqa: E402
from bcjourney_tools.local.runner import run  # noqa: E402

SHAPE = r"01[a-z]{6}/02[a-z]{6}/03[a-z]{6}"
TOL = 1e-9


@pytest.fixture(scope="module")
def real(homework, homework_landing, tmp_path_factory):
    lake = tmp_path_factory.mktemp("unknown_real") / "lake"
    run(homework_landing, lake)
    data = load_lake(lake)
    return {"lake": lake, "data": data, "insight": unknown_categories(data), "homework": homework}


def _window(journeys: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The partner export's window, recomputed as report_data defines it."""
    regs = journeys[journeys["partner"].notna()]
    spans = regs.groupby("partner")["registered_at"].agg(["min", "max"])
    w = Window()
    return (spans["min"].max() + pd.Timedelta(seconds=w.after_s), spans["max"].min() - pd.Timedelta(seconds=w.before_s))


def _check_figure(ins: Insight) -> list[str]:
    """Draw the plot; every text inside the figure, no mathtext source; the y tick labels as returned."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    fig = plot_unknown(ins)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn = fig.get_tightbbox(renderer)  # inches, of what is drawn: nothing may stick out of the figure
    width, height = fig.get_size_inches()
    assert drawn.x0 >= -0.01 and drawn.y0 >= -0.01 and drawn.x1 <= width + 0.01 and drawn.y1 <= height + 0.01, drawn
    assert not [t.get_text() for t in fig.findobj(Text) if "\\mathdefault" in t.get_text()]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()] if ins.plot_data["codes"] else []
    plt.close(fig)
    assert render_png(ins, plot_unknown)[:8] == b"\x89PNG\r\n\x1a\n"
    return labels


def _check_intervals(ins: dict) -> None:
    lo, hi = ins["ci"]
    assert lo - TOL <= ins["number"] <= hi + TOL
    for s in ins["segments"]:
        assert s["ci"][0] - TOL <= s["rate"] <= s["ci"][1] + TOL, s["segment"]
        assert s["value_ci"][0] - TOL <= s["value_per_click"] <= s["value_ci"][1] + TOL, s["segment"]
        assert 0.0 <= s["p_value"] <= 1.0 and s["p_value"] - TOL <= s["p_adjusted"] <= 1.0


# --------------------------------------------------------------------------------------------------
# the real data


def test_real_unmapped_codes_and_clicks_match_the_raw_csv_and_mapping(real):
    hw = real["homework"]
    raw = pd.read_csv(hw / "brokerchooser_conversions.csv", sep=";", dtype=str, keep_default_na=False)
    mapping = pd.read_csv(hw / "page_category_mapping.csv", sep=";", dtype=str)
    raw["code"] = raw["measurement_category"].str.strip()
    well_formed = raw[raw["code"].str.fullmatch(SHAPE)]
    unmapped_raw = well_formed[~well_formed["code"].isin(set(mapping["measurement_category"]))]
    # the raw file's lines, then one per conversion id (the lake merges repeated ids)
    assert unmapped_raw["code"].value_counts().to_dict() == {"01safety/02isscam/03notrel": 7688,
                                                             "01safety/02issafe/03notrel": 317}
    per_id = unmapped_raw.drop_duplicates("id")["code"].value_counts().to_dict()
    assert per_id == {"01safety/02isscam/03notrel": 7685, "01safety/02issafe/03notrel": 317}

    ins = real["insight"].as_dict()
    assert ins["kind"] == "quality" and ins["test"] is None  # a to-do list, outside the Holm family
    assert {s["segment"]: s["clicks_lake"] for s in ins["segments"]} == per_id
    assert [s["segment"] for s in ins["segments"]] == ["01safety/02isscam/03notrel", "01safety/02issafe/03notrel"]
    curated = pd.read_parquet(real["lake"] / "curated" / "conversions")
    assert ins["details"]["clicks"] == len(curated)
    assert ins["details"]["unmapped_clicks"] == sum(per_id.values()) == 8002
    assert math.isclose(ins["number"], 8002 / len(curated))
    _check_intervals(ins)

    (family,) = ins["details"]["families"]
    assert family["family"] == "01safety" and family["clicks_lake"] == 8002 and family["codes"] == 2
    assert family["known_page_type"] is False  # no code of the mapping starts with 01safety
    assert not mapping["measurement_category"].str.startswith("01safety/").any()
    assert family["shares_a_stem_with"] == ["Broker review - scaled legit (01review/02notrel/03safety)"]


def test_real_window_rates_and_value_per_click_match_pandas(real):
    journeys = pd.read_parquet(real["lake"] / "unified" / "journeys")
    start, end = _window(journeys)
    clicks = journeys[journeys["conversion_id"].notna()].copy()
    clicks = clicks[(clicks["converted_at"] >= start) & (clicks["converted_at"] <= end)]
    clicks["value"] = clicks["important_score"].astype(float).fillna(0.0)
    clicks["registered"] = clicks["partner"].notna()
    ins = real["insight"]
    for s in ins.segments:
        rows = clicks[clicks["measurement_category"] == s["segment"]]
        assert s["n"] == len(rows) and s["k"] == int(rows["registered"].sum()), s["segment"]
        assert math.isclose(s["value_per_click"], rows["value"].sum() / len(rows)), s["segment"]
    unknown = clicks[clicks["page_category"] == "Unknown"]
    mapped = clicks[clicks["page_category"] != "Unknown"]
    w = ins.details["window"]
    assert (w["unmapped_clicks"], w["unmapped_registrations"]) == (len(unknown), int(unknown["registered"].sum()))
    assert (w["mapped_clicks"], w["mapped_registrations"]) == (len(mapped), int(mapped["registered"].sum()))
    assert math.isclose(w["unmapped_value_per_click"], unknown["value"].sum() / len(unknown))
    assert math.isclose(w["mapped_value_per_click"], mapped["value"].sum() / len(mapped))
    # the point: these clicks bring the least value of the large page categories
    pages = clicks.groupby("page_category")["value"].agg(["size", "mean"])
    big = pages[pages["size"] >= 1000].sort_values("mean")
    assert big.index[0] == "Unknown" and w["value_rank_lowest_big"] == 1
    assert w["unmapped_value_per_click"] < w["mapped_value_per_click"] and w["value_diff_ci"][1] < 0
    # the window's clicks per code, counted from the raw file too (timestamps there are UTC, one form)
    raw = pd.read_csv(real["homework"] / "brokerchooser_conversions.csv", sep=";", dtype=str, keep_default_na=False)
    raw = raw.drop_duplicates("id")
    at = pd.to_datetime(raw["created_at"], format="%Y-%m-%d %H:%M:%S")
    in_window = raw[(at >= start) & (at <= end)]
    counts = in_window["measurement_category"].value_counts()
    codes = ("01safety/02isscam/03notrel", "01safety/02issafe/03notrel")
    assert {s["segment"]: s["n"] for s in ins.segments} == {c: int(counts[c]) for c in codes}


def test_real_action_names_the_family_with_its_clicks_and_the_plot_is_readable(real):
    ins = real["insight"]
    assert ins.action.startswith("Mapping owner: add the 2 codes")
    assert "01safety/… 8,002 clicks (01safety/02isscam/03notrel 7,685, 01safety/02issafe/03notrel 317)" in ins.action
    assert "not in the mapping at all" in ins.action
    assert "8,002 of 102,279 clicks" in ins.finding and "value per click 0.144" in ins.finding
    labels = _check_figure(ins)
    assert labels == ["01safety/02isscam/03notrel", "01safety/02issafe/03notrel"]  # whole codes, largest on top


# --------------------------------------------------------------------------------------------------
# generated data, with a mapping cut short: many codes, several families, pooling


def _lake_with_mapping(tmp_path, keep) -> tuple:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=3, per_day=600, seed=11)
    path = landing / "reference" / "page_category_mapping.csv"
    mapping = pd.read_csv(path, sep=";", dtype=str)
    mapping = keep(mapping)
    path.write_text("page_category;measurement_category\r\n" + "".join(
        f"{r.page_category};{r.measurement_category}\r\n" for r in mapping.itertuples()), encoding="utf-8")
    run(landing, lake)
    return lake, mapping


def test_many_codes_group_into_families_pool_the_tail_and_stay_readable(tmp_path):
    # keep the first code of each family: the others become 'Unknown' codes of a page type the mapping knows
    def keep(m):
        return m.groupby(m["measurement_category"].map(family_of)).head(1)

    lake, mapping = _lake_with_mapping(tmp_path, keep)
    journeys = pd.read_parquet(lake / "unified" / "journeys")
    clicks = journeys[journeys["conversion_id"].notna()]
    unknown = clicks[clicks["page_category"] == "Unknown"]
    expected = unknown["measurement_category"].value_counts()
    assert len(expected) > TOP_CODES  # the test needs the tail

    ins = unknown_categories(load_lake(lake))
    d = ins.as_dict()
    _check_intervals(d)
    assert d["segments"] == ins.plot_data["codes"]  # every code has clicks in the window here
    named = [s for s in d["segments"] if s["segment"] != OTHER]
    assert len(named) == TOP_CODES and d["segments"][-1]["segment"] == OTHER
    assert sum(s["clicks_lake"] for s in d["segments"]) == len(unknown) == d["details"]["unmapped_clicks"]
    for s in named:
        assert s["clicks_lake"] == expected[s["segment"]] and s["family"] == family_of(s["segment"])
    assert [s["clicks_lake"] for s in named] == sorted((s["clicks_lake"] for s in named), reverse=True)
    # families: the first level; their clicks add up per family, largest first
    fams = d["details"]["families"]
    by_family = unknown.groupby(unknown["measurement_category"].map(family_of)).size()
    assert {f["family"]: f["clicks_lake"] for f in fams} == by_family.to_dict()
    assert [f["clicks_lake"] for f in fams] == sorted(by_family, reverse=True)
    known = {f["family"]: f["known_page_type"] for f in fams}
    assert known["01review"] is True and known["01bestca"] is True and known.get("01safety", False) is False
    top = fams[0]
    assert f"{top['label']} {top['clicks_lake']:,} clicks" in ins.action
    for f in fams[:3]:
        assert f"{f['family']}/… {f['clicks_lake']:,} clicks" in ins.action
    review = next(f for f in fams if f["family"] == "01review")
    assert review["mapped_of_same_type"] == sorted(
        mapping.loc[mapping["measurement_category"].map(family_of) == "01review", "page_category"])
    labels = _check_figure(ins)
    assert labels[:TOP_CODES] == [s["segment"] for s in named] and labels[-1] == OTHER


def test_a_complete_mapping_leaves_nothing_to_do(tmp_path):
    def keep(m):
        extra = pd.DataFrame({"page_category": ["Safety - is it a scam", "Safety - is it safe"],
                              "measurement_category": ["01safety/02isscam/03notrel", "01safety/02issafe/03notrel"]})
        return pd.concat([m, extra], ignore_index=True)

    lake, _ = _lake_with_mapping(tmp_path, keep)
    journeys = pd.read_parquet(lake / "unified" / "journeys")
    assert not (journeys["page_category"] == "Unknown").any()
    ins = unknown_categories(load_lake(lake))
    assert ins.number == 0.0 and ins.segments == [] and ins.details["families"] == []
    assert ins.action.startswith("Nothing to map") and re.search(r"All [\d,]+ clicks", ins.finding)
    _check_intervals(ins.as_dict())
    _check_figure(ins)


def test_the_value_per_click_is_the_score_sum_over_all_clicks_not_over_registrations(real):
    s = real["insight"].segments[0]
    assert np.isclose(s["value_per_click"], s["value"] / s["n"])
    assert s["value_per_click"] < s["value"] / max(s["k"], 1) or s["value"] == 0


def test_a_code_seen_only_outside_the_export_window_is_on_the_list_but_has_no_rate(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=3, per_day=400, seed=4)
    sorted((landing / "broker").rglob("*.csv"))[0].unlink()  # the export starts a day after our clicks
    first_day = sorted((landing / "conversions").glob("*.csv"))[0]
    with first_day.open("a", encoding="utf-8", newline="") as f:
        f.write("9900001;99900001;Germany;0;desktop-top5-box;2024-04-01 08:00:00;01zzzzzz/02notrel/03notrel\n"
                "9900002;99900002;Germany;0;desktop-top5-box;2024-04-01 08:00:05;01zzzzzz/02notrel/03notrel\n")
    run(landing, lake)
    data = load_lake(lake)
    assert data.coverage.restricted and data.coverage.start > pd.Timestamp("2024-04-01 08:00:05")
    ins = unknown_categories(data)
    d = ins.as_dict()
    _check_intervals(d)  # the report's segments: only codes with a rate
    assert d["details"]["codes_outside_window"] == ["01zzzzzz/02notrel/03notrel"]
    assert "01zzzzzz/02notrel/03notrel" not in {s["segment"] for s in d["segments"]}
    listed = {s["segment"]: s for s in ins.plot_data["codes"]}
    assert listed["01zzzzzz/02notrel/03notrel"]["clicks_lake"] == 2 and listed["01zzzzzz/02notrel/03notrel"]["n"] == 0
    assert any(f["family"] == "01zzzzzz" and f["clicks_lake"] == 2 for f in d["details"]["families"])
    labels = _check_figure(ins)
    assert "01zzzzzz/02notrel/03notrel" in labels
