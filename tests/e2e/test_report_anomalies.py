"""The anomaly layer against what the generator planted: scanner bursts (payloads the ingest quarantines, between
them clean-looking clicks), a market's burst on two dates registering from other countries' IPs, and a pile of
registrations no click explains from one IP country with no clicks of ours. The scanner's clicks must be found and
left out of the product figures; the burst told as an event of those dates; the pile named with its country."""

from __future__ import annotations

import numpy as np
import pytest
from bcjourney_tools.analysis.insights_anomalies import anomaly_layer
from bcjourney_tools.analysis.report_data import load_lake
from bcjourney_tools.evaluation import read_journeys
from bcjourney_tools.generate import generate
from bcjourney_tools.generate.planted import PlantedAnomalies
from bcjourney_tools.local.runner import run

PLANTED = PlantedAnomalies()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomalies")
    summary = generate(root / "landing", days=7, per_day=1700, seed=42, planted_anomalies=PLANTED,
                       bursts_per_day=0.5)
    assert summary["scanner_bursts"] >= 2
    assert run(root / "landing", root / "lake").failed == []
    data = load_lake(root / "lake")
    return data, anomaly_layer(data, np.random.default_rng(1)), summary, read_journeys(str(root / "lake"))


def test_every_scanner_burst_is_found_and_its_clicks_left_out(planted):
    data, insight, summary, journeys = planted
    assert insight.details["scanner_windows"] == summary["scanner_bursts"]
    # the generator's count of the scanner's clean clicks; a person clicking the button in those minutes may join
    assert summary["scanner_clean_clicks"] <= insight.details["scanner_clicks"] <= summary["scanner_clean_clicks"] + 5
    excluded = set(data.scanner_clicks["conversion_id"])
    assert not excluded & set(data.rows["conversion_id"].dropna()), "no product figure counts them"
    assert set(journeys["conversion_id"].dropna()) >= excluded, "they stay in the lake, only the report drops them"
    assert insight.details["scanner_registered"] <= 5  # the scanner never registers (a person's click might)


def test_the_market_burst_is_told_with_its_dates_and_foreign_ips(planted):
    _, insight, _, journeys = planted
    burst_days = sorted(b["day"][:10] for b in insight.details["bursts"] if b["country_code"] == "SG")
    assert burst_days == list(PLANTED.burst_dates)
    assert {b["country_code"] for b in insight.details["bursts"]} == {"SG"}, "no other market bursts"
    # against the journeys themselves: SG's registrations on the burst dates mostly come from other IPs
    sg = journeys[(journeys["country_code"] == "SG") & journeys["partner"].notna()]
    on = sg["converted_at"].dt.strftime("%Y-%m-%d").isin(PLANTED.burst_dates)
    assert (sg.loc[on, "ip_country_code"] != "SG").mean() > 0.6 > (sg.loc[~on, "ip_country_code"] != "SG").mean()
    assert "SG on 2024-04-03 to 2024-04-04" in insight.finding and "not as a trait of the market" in insight.action


def test_the_pile_of_unexplained_registrations_is_named_with_its_country(planted):
    _, insight, _, journeys = planted
    (pile,) = insight.details["unexplained"]
    assert (pile["ip_country_code"], pile["day"][:10], pile["our_clicks"]) == ("ME", PLANTED.pile_date, 0)
    lone = journeys[journeys["conversion_id"].isna() & (journeys["ip_country_code"] == "ME")]
    assert pile["registrations"] == len(lone) >= PLANTED.pile_registrations * 0.9
    assert "registrations from ME" in insight.action
