"""Partner profiles and what they change: local time read DST-aware (against zoneinfo value by value), unknown
partners rejected whole, non-data keys ignored, re-sent rows counted once, a clock offset found in the data."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from bcjourney.ingest.service import FileRejected, ingest_object
from bcjourney.ingest.sources import UnknownLandingKey, classify_key
from bcjourney.matching.clock import APPLY_FROM_S, estimate_offset
from bcjourney.matching.overlaps import first_copies
from bcjourney.normalize.timestamps import parse_timestamps_in_zone
from bcjourney.partners import ProfileError, UnknownPartner, known_partners, load_profile, parse_profile
from bcjourney.storage import LocalStorage
from helpers import write_landing

BUDAPEST = ZoneInfo("Europe/Budapest")


def test_every_shipped_profile_loads_and_the_real_partner_is_utc():
    assert {"acme", "partner1", "zeta"} <= set(known_partners())
    assert all(load_profile(name).name == name for name in known_partners())
    assert load_profile("partner1").zone is None and load_profile("zeta").time_zone == "Europe/Budapest"


@pytest.mark.parametrize("text, message", [
    ("colour = 'red'", "unknown field"),
    ("[time]\nzone = 'Mars/Olympus'", "not an IANA time zone"),
    ("[time]\noffset = 2", "unknown field.*\\[time\\]"),
    ("[clock]\nalignment = 'maybe'", "clock.alignment"),
    ("[score]\nmin = 10\nmax = 5", "min < max"),
    ("name = 'other'", "the file name is the partner"),
    ("[columns]\nts = 5", "as text"),
    ("this is = not toml = at all", "not valid TOML"),
])
def test_a_profile_that_cannot_be_trusted_says_which_field(text, message):
    with pytest.raises(ProfileError, match=message):
        parse_profile(text, "somebody")


def test_no_profile_no_partner():
    with pytest.raises(UnknownPartner, match="add layers/core/python/bcjourney/partners/newco.toml"):
        load_profile("newco")


def test_local_time_is_read_with_its_summer_time_changes_value_by_value():
    texts = [f"2024-03-31 {h:02d}:{m:02d}:07" for h in range(0, 5) for m in (0, 30, 59)]
    texts += [f"2024-10-27 {h:02d}:{m:02d}:07" for h in range(0, 5) for m in (0, 30, 59)]
    texts += ["2024-07-01 12:00:00", "2024-01-15 23:59:59"]
    parsed, reason, local = parse_timestamps_in_zone(pd.Series(texts), BUDAPEST, now=pd.Timestamp("2025-01-01"))
    assert reason.isna().all()
    for i, text in enumerate(texts):
        naive = datetime.fromisoformat(text)
        first = naive.replace(tzinfo=BUDAPEST, fold=0)
        round_trip = first.astimezone(timezone.utc).astimezone(BUDAPEST).replace(tzinfo=None)
        nonexistent = round_trip != naive
        ambiguous = not nonexistent and first.utcoffset() != naive.replace(tzinfo=BUDAPEST, fold=1).utcoffset()
        assert bool(local.nonexistent[i]) == nonexistent, text
        assert bool(local.ambiguous[i]) == ambiguous, text
        expected = first.astimezone(timezone.utc).replace(tzinfo=None)  # PEP 495 fold=0, in a gap too
        assert parsed[i].to_pydatetime() == expected, text
    assert local.nonexistent.sum() == 3 and local.ambiguous.sum() == 3


def test_values_with_an_offset_or_unix_seconds_ignore_the_zone():
    values = pd.Series(["2024-04-01T10:00:00Z", "2024-04-01T10:00:00+02:00", "1711965600", "2024-04-01 10:00:00"])
    parsed, _, local = parse_timestamps_in_zone(values, BUDAPEST, now=pd.Timestamp("2025-01-01"))
    assert [str(t) for t in parsed] == ["2024-04-01 10:00:00", "2024-04-01 08:00:00", "2024-04-01 10:00:00",
                                        "2024-04-01 08:00:00"]
    assert not local.ambiguous.any() and not local.nonexistent.any()


def test_a_partner_without_a_profile_is_rejected_whole_and_non_data_keys_are_not_landing_keys(tmp_path):
    landing = LocalStorage(write_landing(tmp_path / "landing", {
        "broker/newco/r.csv": "timestamp,country_residency,ip_country,important_score\n1711965601,,Hungary,4\n"}))
    lake = LocalStorage(tmp_path / "lake")
    with pytest.raises(FileRejected, match="no profile for partner 'newco'"):
        ingest_object(landing, "broker/newco/r.csv", lake)
    quarantine = lake.read_parquet(lake.list_keys("quarantine/"))
    assert quarantine["rule"].tolist() == ["file_rejected"] and lake.list_keys("curated/") == []
    for key in ("broker/acme/", "conversions/notes.txt", "broker/acme/export.CSV", "conversions/.hidden.csv"):
        with pytest.raises(UnknownLandingKey):
            classify_key(key)


def test_a_zeta_export_is_read_with_its_own_column_names_and_zone(tmp_path):
    landing = LocalStorage(write_landing(tmp_path / "landing", {
        "broker/zeta/r.csv": "signup_time,country,ip_geo,quality\n2024-04-01 12:00:00,Hungary,Hungary,7\n"}))
    lake = LocalStorage(tmp_path / "lake")
    ingest_object(landing, "broker/zeta/r.csv", lake, now=pd.Timestamp("2025-01-01"))
    (row,) = lake.read_parquet(lake.list_keys("curated/")).to_dict("records")
    assert str(row["registered_at"]) == "2024-04-01 10:00:00" and row["important_score"] == 7


def test_rows_re_sent_by_a_later_export_count_once_but_repeats_inside_a_file_stay():
    def table(files, lines, times):
        n = len(files)
        return pa.table({"partner": ["acme"] * n, "registered_at": pa.array(times, pa.timestamp("ms")),
                         "residency_country_code": ["HU"] * n, "ip_country_code": ["HU"] * n,
                         "important_score": pa.array([5] * n, pa.int64()), "source_file": files,
                         "source_line": lines})

    # day1.csv has one row twice (two people, one second); day2.csv re-sends both copies and one more
    keep = first_copies(table(["day2.csv", "day1.csv", "day2.csv", "day1.csv", "day2.csv", "day2.csv"],
                              [2, 2, 3, 3, 4, 5], [1, 1, 1, 1, 1, 9]))
    assert keep.tolist() == [False, True, False, True, True, True]
    assert first_copies(table(["a.csv", "a.csv"], [2, 3], [1, 1])) is None, "inside one file: real"


def test_the_clock_offset_is_found_at_the_lag_of_the_true_pairs():
    rng = np.random.default_rng(3)
    clicks = np.sort(rng.integers(0, 86_400_000, 20_000))
    country = rng.integers(0, 20, len(clicks)).astype(np.int32)
    chosen = rng.choice(len(clicks), 3_000, replace=False)
    delays = rng.choice([0, 1, 2, 3], len(chosen)) * 1000 + rng.integers(0, 1000, len(chosen))
    for offset_s in (0, 2, 30, -20, 3600):
        registrations = clicks[chosen] + delays + offset_s * 1000
        estimate = estimate_offset(clicks, country, registrations, country[chosen], "acme", "2024-04-01")
        assert estimate.offset_s == offset_s, (offset_s, estimate)
        assert estimate.found == (abs(offset_s) >= APPLY_FROM_S)
        assert ("writes local time" in estimate.note) == (offset_s == 3600)
    noise = estimate_offset(clicks, country, np.sort(rng.integers(0, 86_400_000, 3000)),
                            rng.integers(0, 20, 3000).astype(np.int32), "acme", "2024-04-01")
    assert not noise.found, "no peak, no offset"


def _busy_day(seed: int, n_clicks: int, n_registrations: int, offset_s: int):
    rng = np.random.default_rng(seed)
    clicks = np.sort(rng.integers(0, 86_400_000, n_clicks))
    country = rng.integers(0, 5, n_clicks).astype(np.int32)
    chosen = np.sort(rng.choice(n_clicks, n_registrations, replace=False))
    registrations = clicks[chosen] + rng.integers(0, 3000, n_registrations) + offset_s * 1000
    return clicks, country, registrations, country[chosen]


def test_the_clock_estimate_is_the_same_whichever_chunks_its_lags_are_counted_in():
    clicks, country, registrations, of_registration = _busy_day(5, 60_000, 4_000, 30)
    whole = estimate_offset(clicks, country, registrations, of_registration, "acme", "2024-04-01",
                            pairs_per_chunk=10**12)
    for chunk in (1, 997, 250_000):
        assert estimate_offset(clicks, country, registrations, of_registration, "acme", "2024-04-01",
                               pairs_per_chunk=chunk) == whole, chunk
    assert abs(whole.offset_s - 30) <= 2 and whole.found, "the peak's 5 s hold the delays of 0-3 s"


def test_a_busy_day_s_clock_estimate_samples_fewer_registrations_and_still_finds_the_offset():
    # every registration brings some 3,300 clicks of its country within the window: 13M pairs against a budget of 2M
    clicks, country, registrations, of_registration = _busy_day(6, 200_000, 4_000, -40)
    full = estimate_offset(clicks, country, registrations, of_registration, "acme", "2024-04-01")
    thinned = estimate_offset(clicks, country, registrations, of_registration, "acme", "2024-04-01",
                              max_pairs=2_000_000)
    assert full.registrations == 4_000
    assert thinned.registrations < full.registrations / 5, thinned
    assert thinned.found and full.found
    assert abs(thinned.offset_s + 40) <= 2 and abs(full.offset_s + 40) <= 2, (thinned, full)
    assert thinned.z < full.z, "fewer pairs, less sure"


def test_link_health_is_judged_against_the_partner_s_own_recent_days():
    from bcjourney.matching.health import LinkHealth, judge

    def day(n: int, linked: float, fast: float = 0.98, partner: str = "acme", registrations: int = 500):
        return LinkHealth(partner, f"2024-04-{n:02d}", registrations, int(linked * registrations), linked, fast)

    history = [day(n, 0.97) for n in range(1, 8)] + [day(n, 0.10, partner="other") for n in range(1, 8)]
    assert not judge(day(8, 0.93), history).collapsed
    fell = judge(day(8, 0.40), history)
    assert fell.collapsed and "linked 40.0% against 97.0%" in fell.reason and fell.history_days == 7
    slow = judge(day(8, 0.95, fast=0.50), history)
    assert slow.collapsed and "within 5 s" in slow.reason
    assert not judge(day(8, 0.10, partner="other"), history).collapsed, "each partner against its own days"
    assert not judge(day(8, 0.40), history[:2]).collapsed, "too little history: no judgement"
    assert not judge(day(8, 0.40, registrations=20), history).collapsed, "too small a day: no judgement"
    assert not judge(day(3, 0.40), history).collapsed, "only earlier days count"
