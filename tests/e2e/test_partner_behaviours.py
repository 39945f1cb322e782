"""Partners as they really are, each generated with truth (bcjourney generate's partner behaviours) and run through
`bcjourney run`: a clock tens of seconds off, naive local time with a summer-time change inside the export
(declared in the partner's profile, or not), exports that overlap. Each must link within 0.005 F1 of the plain
partner on the same clicks; the real data's figures must not move (tests/e2e/test_end_to_end.py's checksum)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from bcjourney_tools.evaluation import evaluate, read_journeys
from bcjourney_tools.generate import PartnerBehaviour, generate
from bcjourney_tools.local.runner import run

START = "2024-03-28"  # a week with the European summer-time change (31 March) inside it
F1_MARGIN = 0.005


def linked(tmp_path, name: str, partner: str, behaviour: PartnerBehaviour):
    landing, lake = tmp_path / name / "landing", tmp_path / name / "lake"
    generated = generate(landing, days=7, per_day=1700, seed=42, start=START, partner=partner,
                         partner_behaviour=behaviour)
    summary = run(landing, lake, workers=2)
    assert summary.failed == []
    return evaluate(read_journeys(str(lake)), pd.read_csv(landing / "truth.csv")), summary, generated


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    evaluation, _, _ = linked(tmp_path_factory.mktemp("plain"), "plain", "acme", PartnerBehaviour())
    assert evaluation.f1 > 0.99
    return evaluation


def clock_of(summary) -> list[dict]:
    """The clock estimates of the days the export covers (not the few rows a shifted clock pushes past its ends)."""
    return [c for day in summary.days for c in day["clock"] if c["registrations"] >= 100]


@pytest.mark.parametrize("offset", [30, -20])
def test_a_partner_clock_off_by_tens_of_seconds_is_learned_and_applied(tmp_path, plain, offset):
    evaluation, summary, _ = linked(tmp_path, "clock", "acme", PartnerBehaviour(clock_offset_s=offset))
    assert evaluation.f1 >= plain.f1 - F1_MARGIN, (evaluation.f1, plain.f1)
    estimates = clock_of(summary)
    assert estimates and all(e["found"] and e["applied"] and e["offset_s"] == offset for e in estimates)
    journeys = read_journeys(str(tmp_path / "clock" / "lake"))
    regs = journeys[journeys["partner"].notna()]
    assert (regs["clock_offset_s"] == offset).all(), "every registration records the offset taken off"
    pairs = regs[regs["conversion_id"].notna()]
    raw = (pairs["registered_at"] - pairs["converted_at"]).dt.total_seconds()
    assert (pairs["registration_delay_s"] == raw - offset).all(), "the delay is on the aligned time"
    assert pairs["registration_delay_s"].median() < 3


def test_a_clock_offset_is_only_reported_where_the_profile_says_warn(tmp_path, plain):
    evaluation, summary, _ = linked(tmp_path, "warn", "zeta", PartnerBehaviour(clock_offset_s=30,
                                                                               time_zone="Europe/Budapest"))
    estimates = clock_of(summary)
    assert estimates and all(e["found"] and not e["applied"] and e["offset_s"] == 30 for e in estimates)
    assert evaluation.recall < plain.recall - 0.02, "not applied: the links suffer, as the warning says"


def test_local_time_declared_in_the_profile_is_read_with_its_summer_time_change(tmp_path, plain):
    evaluation, summary, _ = linked(tmp_path, "declared", "zeta", PartnerBehaviour(time_zone="Europe/Budapest"))
    assert evaluation.f1 >= plain.f1 - F1_MARGIN, (evaluation.f1, plain.f1)
    assert not any(e["found"] for e in clock_of(summary)), "read right, nothing to align"


def test_local_time_not_declared_is_detected_as_whole_hours_and_said(tmp_path, plain):
    evaluation, summary, _ = linked(tmp_path, "detected", "acme", PartnerBehaviour(time_zone="Europe/Budapest"))
    assert evaluation.f1 >= plain.f1 - F1_MARGIN, (evaluation.f1, plain.f1)
    by_day = {e["day"]: e for e in clock_of(summary)}
    assert by_day["2024-03-29"]["offset_s"] == 3600 and by_day["2024-04-02"]["offset_s"] == 7200
    assert all("writes local time" in e["note"] for e in by_day.values() if e["found"])


def test_overlapping_exports_count_each_registration_once(tmp_path, plain):
    evaluation, summary, generated = linked(tmp_path, "overlap", "acme", PartnerBehaviour(overlap_hours=6))
    assert generated["resent_rows"] > 1000
    assert evaluation.registrations == plain.registrations, "no re-sent row became a registration"
    reports = [json.loads(p.read_text()) for p in (tmp_path / "overlap" / "lake" / "_reports").glob("broker_acme/*")]
    assert sum(r["resent_rows"] for r in reports) == generated["resent_rows"], "each batch's report counts them"
    assert sum(day["resent_rows_merged"] for day in summary.days) == generated["resent_rows"]
    assert evaluation.f1 >= plain.f1 - F1_MARGIN, (evaluation.f1, plain.f1)
    journeys = read_journeys(str(tmp_path / "overlap" / "lake"))
    regs = journeys[journeys["partner"].notna()]
    assert not regs.duplicated(["registered_at", "ip_country_code", "residency_country_code", "important_score",
                                "conversion_id"]).any()


def test_a_heavy_delay_tail_is_still_linked(tmp_path, plain):
    """A partner stamping the completed sign-up: 30% of delays 10 s to 5 min, so a later click of the same
    country often falls between the true click and its registration. The issue's target: recall >= 0.96."""
    evaluation, _, _ = linked(tmp_path, "tail", "acme", PartnerBehaviour(delay_tail_share=0.3))
    assert evaluation.recall >= 0.96, evaluation.format()
    assert evaluation.precision >= 0.98, evaluation.format()


def test_the_second_nearest_candidate_costs_the_plain_case_no_precision(tmp_path, plain):
    """Against the same lake matched with only the nearest same-country click as a far candidate: precision
    within 0.0005 (a handful of links in 10,700), recall no lower."""
    from bcjourney.matching.candidates import Window
    from bcjourney.matching.linker import MatchSettings
    from bcjourney.matching.service import match_days

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=7, per_day=1700, seed=42, start=START, partner="acme", partner_behaviour=PartnerBehaviour())
    run(landing, lake, workers=2)
    from bcjourney.storage import open_storage
    days = sorted(p.name[3:] for p in (lake / "curated" / "conversions").iterdir())
    match_days(open_storage(str(lake)), days, MatchSettings(window=Window(nearest_same_country=1)))
    nearest_only = evaluate(read_journeys(str(lake)), pd.read_csv(landing / "truth.csv"))
    assert plain.precision >= nearest_only.precision - 0.0005, (plain.precision, nearest_only.precision)
    assert plain.recall >= nearest_only.recall


def test_a_partner_passing_our_click_id_links_those_rows_exactly_and_the_rest_by_time(tmp_path, plain):
    """Both tiers in one file: rows with a right id link by it (confidence 1, rule click_id), a malformed id is
    quarantined, an id of no click leaves its row to the probabilistic matcher, rows without one are matched as
    usual; the whole stays at least as good as the plain partner."""
    behaviour = PartnerBehaviour(click_id_share=0.6, wrong_click_ids=0.02)
    evaluation, summary, _ = linked(tmp_path, "exact", "gamma", behaviour)
    lake = tmp_path / "exact" / "lake"
    journeys = read_journeys(str(lake))
    exact = journeys[journeys["match_rule"] == "click_id"]
    assert len(exact) > 0.5 * plain.linked and (exact["match_confidence"] == 1.0).all()
    truth = pd.read_csv(tmp_path / "exact" / "landing" / "truth.csv")
    on_truth = exact.merge(truth, on=["broker_source_file", "broker_source_line"], suffixes=("", "_true"))
    assert (on_truth["conversion_id"] == on_truth["conversion_id_true"]).all(), "an exact link is always right"
    assert journeys["match_rule"].str.startswith("ip_").sum() > 0.2 * plain.linked, "the rest: probabilistic"
    quarantine = pd.read_parquet(lake / "quarantine")
    malformed = quarantine[quarantine["rule"] == "invalid_click_id"]
    assert len(malformed) > 10 and malformed["value"].str.startswith("id-").all()
    assert evaluation.precision >= plain.precision - F1_MARGIN
    assert evaluation.f1 >= plain.f1 - F1_MARGIN - 0.002  # the malformed rows are quarantined, not linked


def test_a_partner_day_whose_links_collapse_is_called_out(tmp_path):
    """Nine good days, then a day whose timestamps lost their meaning (each row minutes off, no single offset to
    learn): its linked share falls far below the partner's recent median, the day says so, the run says so."""
    import numpy as np
    from bcjourney_tools.cli import _format_summary

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=10, per_day=1200, seed=8, start="2024-03-20")
    broken = landing / "broker" / "acme" / "registrations_20240329.csv"
    rng = np.random.default_rng(1)
    lines = broken.read_text(encoding="utf-8-sig").splitlines()
    fields = [line.split(",", 1) for line in lines[1:]]
    broken.write_text("\n".join([lines[0]] + [f"{int(t) + int(rng.integers(120, 3600))},{rest}"
                                              for t, rest in fields]) + "\n")
    summary = run(landing, lake, workers=1)
    health = {day["day"]: h for day in summary.days for h in day["health"]}
    assert health["2024-03-29"]["collapsed"] and "linked" in health["2024-03-29"]["reason"]
    assert health["2024-03-29"]["history_days"] >= 3
    assert not any(h["collapsed"] for d, h in health.items() if d != "2024-03-29")
    assert "warning: link health of partner acme on 2024-03-29 collapsed" in _format_summary(summary, lake)
    recorded = pd.read_parquet(lake / "unified" / "link_health" / "dt=2024-03-29" / "health.parquet")
    assert recorded["collapsed"].tolist() == [True] and recorded["partner"].tolist() == ["acme"]


def test_the_report_names_the_collapsed_partner_day(tmp_path):
    """The report's data-quality section shows link health per partner and day (what the run recorded)."""
    import numpy as np
    from bcjourney_tools.analysis.insights_quality import link_rates
    from bcjourney_tools.analysis.report_data import load_lake

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=8, per_day=900, seed=9, start="2024-03-20")
    broken = landing / "broker" / "acme" / "registrations_20240327.csv"
    rng = np.random.default_rng(2)
    lines = broken.read_text(encoding="utf-8-sig").splitlines()
    broken.write_text("\n".join([lines[0]] + [f"{int(t) + int(rng.integers(120, 3600))},{rest}" for t, rest in
                                              (line.split(",", 1) for line in lines[1:])]) + "\n")
    run(landing, lake, workers=1)
    insight = link_rates(load_lake(lake))
    assert insight.details["link_health_collapsed"] == [
        {"partner": "acme", "day": "2024-03-27", "reason": insight.details["link_health_collapsed"][0]["reason"]}]
    assert "acme on 2024-03-27" in insight.finding and insight.details["link_health_days"] >= 8
