"""The synthetic landing-data generator: layout, determinism, ground truth, realism, day-by-day writing."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from bcjourney_tools.generate import (
    BROKER_HEADER,
    CLICK_TO_IP_COUNTRY,
    CONVERSIONS_HEADER,
    PAGE_CATEGORY_MAPPING,
    generate,
)

DAYS, PER_DAY = 7, 1700
VALID_CODE = re.compile(r"0\d[a-z]{6}/0\d[a-z]{6}/0\d[a-z]{6}")


# -------------------------------------------------------------------------------------------------
# Helpers: read the files the way a careful consumer would (physical lines, BOM, CRLF)
# -------------------------------------------------------------------------------------------------


def physical_lines(path: Path) -> list[str]:
    """Physical lines of a file, 1-based via index+1; BOM and CR stripped, no phantom last line."""
    text = path.read_bytes().decode("utf-8-sig")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_conversions(root: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((root / "conversions").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            rows.extend(csv.DictReader(f, delimiter=";"))
    return rows


def read_truth(root: Path) -> list[dict[str, str]]:
    with open(root / "truth.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def partner_row(line: str) -> tuple[int, str, str, str]:
    """timestamp, residency, ip_country, score as a naive CSV parse sees them."""
    fields = next(csv.reader(io.StringIO(line)))
    return int(fields[0]), fields[1], fields[2], fields[3]


def all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    root = tmp_path_factory.mktemp("week")
    seen: list[int] = []
    summary = generate(root, days=DAYS, per_day=PER_DAY, seed=42, progress=seen.append)
    return root, summary, seen


@pytest.fixture(scope="module")
def week_data(week):
    root, summary, _ = week
    conversions = read_conversions(root)
    by_id = {}
    for row in conversions:
        by_id.setdefault(row["id"], row)
    truth = read_truth(root)
    lines = {key: physical_lines(root / key) for key in summary["file_keys"]["broker"]}
    return conversions, by_id, truth, lines


# -------------------------------------------------------------------------------------------------
# Layout and summary
# -------------------------------------------------------------------------------------------------


def test_writes_the_landing_layout(week):
    root, summary, _ = week
    conv = sorted(p.name for p in (root / "conversions").iterdir())
    broker = sorted(p.name for p in (root / "broker" / "acme").iterdir())
    assert conv == [f"conversions_202404{d:02d}.csv" for d in range(1, DAYS + 1)]
    assert broker == [f"registrations_202404{d:02d}.csv" for d in range(1, DAYS + 1)]
    assert (root / "reference" / "page_category_mapping.csv").is_file()
    assert (root / "truth.csv").read_text().splitlines()[0] == "broker_source_file,broker_source_line,conversion_id"
    for key in summary["file_keys"]["conversions"] + summary["file_keys"]["broker"]:
        assert (root / key).is_file()
    assert summary["files"] == {"conversions": DAYS, "broker": DAYS, "reference": 1, "truth": 1}


def test_headers_match_the_real_sources(week):
    root, _, _ = week
    for path in (root / "conversions").glob("*.csv"):
        assert physical_lines(path)[0] == CONVERSIONS_HEADER
        assert b"\r" not in path.read_bytes()
    for path in (root / "broker" / "acme").glob("*.csv"):
        assert physical_lines(path)[0] == BROKER_HEADER


def test_reference_mapping_has_40_rows_crlf(week):
    root, _, _ = week
    raw = (root / "reference" / "page_category_mapping.csv").read_bytes()
    assert raw.count(b"\r\n") == 40 and raw.count(b"\n") == 40  # CRLF throughout, no final newline
    rows = list(csv.reader(io.StringIO(raw.decode()), delimiter=";"))
    assert rows[0] == ["page_category", "measurement_category"]
    assert len(rows) == 41 and all(VALID_CODE.fullmatch(code) for _, code in rows[1:])
    assert len(PAGE_CATEGORY_MAPPING) == 40


def test_summary_and_progress_add_up(week, week_data):
    root, summary, seen = week
    conversions, _, truth, lines = week_data
    assert sum(seen) == summary["rows"]["conversions"] == len(conversions)
    assert len(seen) == DAYS
    data_lines = sum(len(v) - 1 for v in lines.values())
    assert summary["rows"]["broker"] == summary["registrations"] == data_lines == len(truth)
    assert summary["unexplained_registrations"] == sum(1 for t in truth if t["conversion_id"] == "")


# -------------------------------------------------------------------------------------------------
# Determinism
# -------------------------------------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path):
    a = generate(tmp_path / "a", days=3, per_day=400, seed=7)
    b = generate(tmp_path / "b", days=3, per_day=400, seed=7)
    assert {k: v for k, v in a.items() if k != "out_dir"} == {k: v for k, v in b.items() if k != "out_dir"}
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")


def test_other_seed_other_data(tmp_path):
    generate(tmp_path / "a", days=2, per_day=400, seed=7)
    generate(tmp_path / "b", days=2, per_day=400, seed=8)
    a, b = all_bytes(tmp_path / "a"), all_bytes(tmp_path / "b")
    assert a.keys() == b.keys()
    assert a["reference/page_category_mapping.csv"] == b["reference/page_category_mapping.csv"]
    for key in a:
        if key.startswith(("conversions/", "broker/")) or key == "truth.csv":
            assert a[key] != b[key], key


def test_a_longer_run_starts_with_the_same_days(tmp_path):
    generate(tmp_path / "short", days=2, per_day=300, seed=3)
    generate(tmp_path / "long", days=4, per_day=300, seed=3)
    for name in ("conversions_20240401.csv", "conversions_20240402.csv"):
        short, long = tmp_path / "short/conversions" / name, tmp_path / "long/conversions" / name
        assert short.read_bytes() == long.read_bytes()


# -------------------------------------------------------------------------------------------------
# Ground truth
# -------------------------------------------------------------------------------------------------


def test_truth_points_at_every_data_line_once(week_data):
    _, _, truth, lines = week_data
    pointed = Counter((t["broker_source_file"], int(t["broker_source_line"])) for t in truth)
    assert max(pointed.values()) == 1
    expected = {(key, n) for key, file_lines in lines.items() for n in range(2, len(file_lines) + 1)}
    assert set(pointed) == expected
    for key, n in pointed:
        line = lines[key][n - 1]
        assert re.match(r"^\d{10},", line), (key, n, line)


def test_explained_registrations_agree_on_country(week_data):
    _, by_id, truth, lines = week_data
    explained = [t for t in truth if t["conversion_id"]]
    same = 0
    for t in explained:
        click = by_id[t["conversion_id"]]
        _, _, ip, _ = partner_row(lines[t["broker_source_file"]][int(t["broker_source_line"]) - 1])
        same += CLICK_TO_IP_COUNTRY[click["country_name"]] == ip
    share = same / len(explained)
    assert 0.93 < share < 0.99  # VPN and travel: not every ip country is the click's


def test_delays_within_the_window(week_data):
    _, by_id, truth, lines = week_data
    delays = []
    for t in truth:
        if not t["conversion_id"]:
            continue
        click = by_id[t["conversion_id"]]
        clicked = datetime.strptime(click["created_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        ts, *_ = partner_row(lines[t["broker_source_file"]][int(t["broker_source_line"]) - 1])
        delays.append(ts - int(clicked.timestamp()))
    delays = np.array(delays)
    assert delays.min() >= 0 and delays.max() <= 800
    assert 0.40 < (delays == 0).mean() < 0.55
    assert (delays <= 1).mean() > 0.85
    assert (delays <= 5).mean() > 0.97


def test_registration_share_and_unexplained(week, week_data):
    _, summary, _ = week
    _, by_id, truth, _ = week_data
    clicks = summary["clicks"] - summary["bot_clicks"]
    explained = sum(1 for t in truth if t["conversion_id"])
    assert 0.92 < explained / clicks < 0.97
    assert 0.01 < summary["unexplained_registrations"] / summary["registrations"] < 0.04
    assert all(t["conversion_id"] in by_id for t in truth if t["conversion_id"])


def test_partner_files_sorted_and_each_row_on_its_own_day(week_data):
    _, _, _, lines = week_data
    for key, file_lines in lines.items():
        day = datetime.strptime(re.search(r"(\d{8})\.csv$", key).group(1), "%Y%m%d").replace(tzinfo=timezone.utc)
        start = int(day.timestamp())
        stamps = [partner_row(line)[0] for line in file_lines[1:]]
        assert stamps == sorted(stamps)
        assert all(start <= s < start + 86400 for s in stamps)


def test_registrations_after_midnight_go_to_the_next_days_file(tmp_path, monkeypatch):
    # Force long delays so that many registrations cross midnight.
    from bcjourney_tools.generate import registrations

    monkeypatch.setattr(registrations, "_delays", lambda rng, n: np.full(n, 3 * 3600, np.int64))
    summary = generate(tmp_path, days=2, per_day=300, seed=1, unexplained_share=0)
    truth = read_truth(tmp_path)
    by_id = {row["id"]: row for row in read_conversions(tmp_path)}
    crossed = [t for t in truth if t["broker_source_file"].endswith("20240402.csv")
               and by_id[t["conversion_id"]]["created_at"].startswith("2024-04-01")]
    assert len(crossed) > 10
    assert summary["dropped_after_cutoff"] > 10  # the last day's late ones are past the export


# -------------------------------------------------------------------------------------------------
# Realism and messy forms
# -------------------------------------------------------------------------------------------------


def test_volumes_and_shares_look_like_the_real_data(week, week_data):
    _, summary, _ = week
    conversions, _, _, lines = week_data
    assert 0.9 * DAYS * PER_DAY < summary["clicks"] < 1.1 * DAYS * PER_DAY
    per_day = Counter(r["created_at"][:10] for r in conversions)
    assert len(per_day) == DAYS and min(per_day.values()) > 0.6 * PER_DAY
    mobile = np.mean([r["is_mobile"] == "1" for r in conversions])
    assert 0.50 < mobile < 0.58
    countries = Counter(r["country_name"] for r in conversions)
    assert countries.most_common(1)[0][0] == "United States"
    assert {"United Kingdom", "Germany", "India"} <= {c for c, _ in countries.most_common(8)}
    ui = Counter(r["ui_element"] for r in conversions)
    assert ui.most_common(1)[0][0] == "dynamic score top broker list row"
    assert 0.30 < ui["dynamic score top broker list row"] / len(conversions) < 0.40
    hours = Counter(int(r["created_at"][11:13]) for r in conversions)
    assert hours[14] > 1.5 * hours[3]  # diurnal pattern
    sessions = Counter(r["session_id"] for r in conversions)
    assert 0.05 < np.mean([n > 1 for n in sessions.values()]) < 0.25
    unmapped = {code for _, code in PAGE_CATEGORY_MAPPING}
    assert sum(r["measurement_category"] == "01safety/02isscam/03notrel" for r in conversions) > 0
    assert "01safety/02isscam/03notrel" not in unmapped


def test_two_naming_schemes(week_data):
    conversions, _, _, lines = week_data
    click_names = {r["country_name"] for r in conversions}
    ip_names = {partner_row(line)[2] for file_lines in lines.values() for line in file_lines[1:]}
    assert "United States" in click_names and "United States of America" not in click_names
    assert "United States of America" in ip_names and "United States" not in ip_names
    assert "United Kingdom of Great Britain and Northern Ireland" in ip_names
    assert CLICK_TO_IP_COUNTRY["Côte d’Ivoire"] == "Cote D'ivoire"
    assert CLICK_TO_IP_COUNTRY["South Korea"] == "Korea (Republic of)"
    assert CLICK_TO_IP_COUNTRY["Trinidad & Tobago"] == "Trinidad and Tobago"
    assert CLICK_TO_IP_COUNTRY["Russia"] == "Russian Federation"
    assert CLICK_TO_IP_COUNTRY["Vietnam"] == "Viet Nam"
    assert CLICK_TO_IP_COUNTRY["Czech Republic"] == "Czechia"


def test_duplicate_click_ids_are_west_bank_gaza_strip_or_exact_repeats(week_data):
    conversions, _, _, _ = week_data
    by_id: dict[str, list[dict]] = {}
    for row in conversions:
        by_id.setdefault(row["id"], []).append(row)
    dups = [rows for rows in by_id.values() if len(rows) > 1]
    assert dups and len(dups) / len(by_id) < 0.003
    pal = 0
    for a, b in dups:
        if {a["country_name"], b["country_name"]} == {"West Bank", "Gaza Strip"}:
            pal += 1
            assert {k: v for k, v in a.items() if k != "country_name"} == {
                k: v for k, v in b.items() if k != "country_name"}
        else:
            assert a == b
    assert pal > 0
    ids = [int(r["id"]) for r in conversions]
    assert ids == sorted(ids)


def test_partner_file_blemishes(week, week_data):
    root, summary, _ = week
    _, _, _, lines = week_data
    first = (root / summary["file_keys"]["broker"][0]).read_bytes()
    assert first.startswith(b"\xef\xbb\xbf") and b"\r\n" in first
    rows = [partner_row(line) for file_lines in lines.values() for line in file_lines[1:]]
    residency = np.array([r[1] for r in rows])
    scores = Counter(r[3] for r in rows)
    assert 0.83 < (residency == "").mean() < 0.89
    assert scores["#REF!"] > 0 and scores["10"] > 0
    assert 0.95 < scores["0"] / len(rows) < 0.99
    assert any(s.isdigit() and 10 < int(s) <= 100 for s in scores)
    filled = [(r[1], r[2]) for r in rows if r[1] not in ("", "-")]
    assert any(res != ip for res, ip in filled)  # third naming scheme and other countries


def test_scanner_bursts_and_payloads(tmp_path):
    summary = generate(tmp_path, days=2, per_day=800, seed=5, bursts_per_day=1.0, anomaly_rate=0.05)
    conversions = read_conversions(tmp_path)
    cats = [r["measurement_category"] for r in conversions]
    uis = [r["ui_element"] for r in conversions]
    assert any("sleep(" in c or "pg_sleep" in c or "waitfor" in c or "md5(" in c for c in cats + uis)
    assert "Peace" in cats
    assert any(re.fullmatch(r"3\d[a-z]{6}/3\d[a-z]{6}/3\d[a-z]{6}", c) for c in cats)  # scrambled
    assert any("measurementlist=" in c.lower() for c in cats)
    assert any('"' in c for c in cats + uis)  # quoted on disk, read back intact
    # The scanner: one country, desktop, many clicks in a few minutes, and no registrations from it.
    minutes = Counter((r["created_at"][:16], r["country_name"]) for r in conversions)
    (_, country), peak = minutes.most_common(1)[0]
    assert country == "United States" and peak > 30
    assert summary["bot_clicks"] >= 80
    explained = {t["conversion_id"] for t in read_truth(tmp_path) if t["conversion_id"]}
    bots = {r["id"] for r in conversions if r["ui_element"].startswith("front-page-visit-broker-button'")}
    assert bots and not bots & explained


def test_partner_from_starts_the_export_later(tmp_path):
    summary = generate(tmp_path, days=3, per_day=300, seed=2, partner_from="2024-04-02 12:00:00")
    assert [Path(k).name for k in summary["file_keys"]["broker"]] == [
        "registrations_20240402.csv", "registrations_20240403.csv"]
    first = physical_lines(tmp_path / summary["file_keys"]["broker"][0])
    noon = int(datetime(2024, 4, 2, 12, tzinfo=timezone.utc).timestamp())
    assert all(partner_row(line)[0] >= noon for line in first[1:])


# -------------------------------------------------------------------------------------------------
# Day by day
# -------------------------------------------------------------------------------------------------


def test_thirty_days_written_day_by_day(tmp_path):
    written: list[int] = []
    summary = generate(tmp_path, days=30, per_day=40, seed=11, start="2024-05-20", progress=written.append)
    days = [datetime(2024, 5, 20, tzinfo=timezone.utc).timestamp() + 86400 * d for d in range(30)]
    names = [datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%d") for t in days]
    for ymd in names:
        assert (tmp_path / f"conversions/conversions_{ymd}.csv").is_file()
        assert (tmp_path / f"broker/acme/registrations_{ymd}.csv").is_file()
    assert len(written) == 30 and all(n > 0 for n in written)  # one progress call per day written
    assert summary["files"]["conversions"] == summary["files"]["broker"] == 30
    # Each day's clicks are in that day's file only.
    for ymd in names:
        rows = read_conversions_file(tmp_path / f"conversions/conversions_{ymd}.csv")
        assert {r["created_at"][:10].replace("-", "") for r in rows} == {ymd}


def read_conversions_file(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))
