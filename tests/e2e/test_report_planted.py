"""The report against effects the generator planted (generate/planted.py): a market the partner does not serve,
whose clicks are mostly mobile (a device gap made of country mix alone), and a page that really registers less.
The report must find the market and the page, and must not send the product team after the device."""

from __future__ import annotations

import pytest
from bcjourney_tools.analysis.report import compute_insights
from bcjourney_tools.analysis.report_data import load_lake
from bcjourney_tools.evaluation import read_journeys
from bcjourney_tools.generate import generate
from bcjourney_tools.generate.planted import PlantedEffects
from bcjourney_tools.local.runner import run

WEAK_PAGE = "Broker reviews - general"  # the page category of PlantedEffects.weak_page


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    generate(root / "landing", days=7, per_day=1700, seed=42, planted=PlantedEffects())
    assert run(root / "landing", root / "lake").failed == []
    insights = {i.key: i for i in compute_insights(load_lake(root / "lake"))}
    return insights, read_journeys(str(root / "lake")), root / "lake"


def test_the_unserved_market_is_named_with_its_loss(planted):
    insights, journeys, _ = planted
    markets = insights["markets_by_loss"]
    assert markets.details["unserved"] == ["IN"]
    assert "Route the clicks of IN" in markets.action
    # against a plain count of the journeys (the report's window may drop a few edge clicks)
    clicks = journeys[journeys["conversion_id"].notna()]
    india = clicks[clicks["country_code"] == "IN"]
    assert india["partner"].notna().mean() < 0.1 < clicks["partner"].notna().mean()
    assert markets.details["unserved_clicks"] == pytest.approx(len(india), rel=0.05)
    assert markets.details["unserved_never_share"] > 0.3  # 4% of the clicks, over a third of those never registering


def test_a_device_gap_made_of_country_mix_is_not_acted_on(planted):
    insights, _, lake = planted
    device = insights["rate_by_device"]
    assert device.significant and device.number < -0.02, "the raw gap is there, and large"
    assert device.details["adjusted_p"] >= 0.05 and abs(device.details["adjusted_difference"]) < 0.015
    assert "No device action" in device.action and "A/B-test" not in device.action


def test_the_real_page_effect_survives_the_adjustment(planted):
    insights, journeys, _ = planted
    page = insights["rate_by_page_category"]
    weak = next(s for s in page.segments if s["segment"] == WEAK_PAGE)
    assert weak["adjusted_p_holm"] < 0.05 and weak["excess"] < 0
    assert WEAK_PAGE in page.action
    # planted at 0.8 of the base rate: the adjusted rate is about 0.8 of the overall, not of the raw
    clicks = journeys[journeys["conversion_id"].notna()]
    served = clicks[clicks["country_code"] != "IN"]
    on_page = served["page_category"] == WEAK_PAGE
    ratio = served.loc[on_page, "partner"].notna().mean() / served.loc[~on_page, "partner"].notna().mean()
    assert ratio == pytest.approx(0.8, abs=0.04)
    assert weak["adjusted_rate"] / page.details["overall_rate"] == pytest.approx(ratio, abs=0.04)


def test_the_executive_summary_ranks_the_planted_effects_first_and_not_the_device(planted):
    from bcjourney_tools.analysis.report import executive_summary

    insights, _, lake = planted
    lines = executive_summary(load_lake(lake), list(insights.values()))
    assert lines[0].startswith("A click is worth")
    assert lines[1].startswith("1. Markets the partner does not serve (IN)")
    assert lines[2].startswith(f"2. Registration rate by entry page category: {WEAK_PAGE}")
    assert not any("device" in line.lower() for line in lines)


def test_the_score_is_shown_as_it_is(planted):
    insights, journeys, _ = planted
    shape = insights["score_distribution"].details
    linked = journeys[journeys["conversion_id"].notna() & journeys["partner"].notna()]
    scores = linked["important_score"].dropna().astype(float)
    # the report counts the coverage window, the journeys every day: the shares agree, the counts nearly
    assert shape["scored"] == pytest.approx(len(scores), rel=0.05)
    assert shape["zero"] / shape["scored"] == pytest.approx((scores == 0).mean(), abs=0.01)
    assert shape["ten"] / shape["scored"] == pytest.approx((scores == 10).mean(), abs=0.01)
    above = scores[scores > 10].sum() / scores.sum()
    assert shape["value_share_above_ten"] == pytest.approx(above, abs=0.03)


def test_the_generators_unmapped_page_family_is_opened(planted):
    """The generator writes the real data's two 01safety codes, which the mapping lacks."""
    insights, journeys, _ = planted
    (family, *_) = insights["unknown_categories"].details["families"]
    clicks = journeys[journeys["conversion_id"].notna()]
    unmapped = clicks.loc[clicks["page_category"] == "Unknown", "measurement_category"].value_counts()
    assert family["family"] == "01safety" and not family["known_page_type"]
    assert family["code_clicks"] == {str(code): int(n) for code, n in unmapped.items()}
    assert "01safety" in insights["unknown_categories"].action
