"""Ingesting one landing object: what is curated, what is quarantined and why, and that nothing is lost."""

import json

import pandas as pd
import pytest
from bcjourney.ingest.service import FileRejected, ingest_object
from bcjourney.storage import LocalStorage
from helpers import write_landing

HEADER = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n"
CLICKS = HEADER + (
    "1;10;United States;1;broker-name-link;2024-04-01 10:00:00;01bestca/02notrel/03notrel\n"
    "2;11;West Bank;0;broker-name-link;2024-04-01 11:00:00;01homepa/02notrel/03notrel\n"
    "2;11;Gaza Strip;0;broker-name-link;2024-04-01 11:00:00;01homepa/02notrel/03notrel\n"
    "3;12;Germany;1;x'and(select+sleep(2))='; 2024-04-02 09:00:00;01homepa/02notrel/03notrel\n"
    "4;13;Germany;1;broker-name-link;2024-04-02 09:00:00;"
    "01homepa/02notrel/03notrel'and(select+1)>0waitfor/**/delay'0:0:2\n"
    "5;14;Atlantis;yes;broker-name-link;2024-04-02T10:00:00+02:00;01zzzzzz/02notrel/03notrel\n"
    "6;15;France;1;broker-name-link;not-a-date;01bestca/02notrel/03notrel\n"
    "7;16;France;1;too;few\n"
    "x;17;France;1;broker-name-link;2024-04-02 09:00:00;01bestca/02notrel/03notrel\n"
)
BROKER = (
    "timestamp,country_residency,ip_country,important_score\n"
    "1711965601,,United States of America,0\n"
    "1711965602,-,Germany,#REF!\n"
    "1711965603,Portugal,Portugal,57\n"
    "1711965604,,Portugal\n"
)


@pytest.fixture
def stores(tmp_path):
    landing = write_landing(tmp_path / "landing", {"conversions/c.csv": CLICKS, "broker/acme/r.csv": BROKER})
    return LocalStorage(landing), LocalStorage(tmp_path / "lake")


def read(lake, prefix):
    keys = [k for k in lake.list_keys(prefix) if k.endswith(".parquet")]
    return pd.concat([pd.read_parquet(lake.root / k).assign(_key=k) for k in keys], ignore_index=True)


def test_every_row_is_curated_merged_or_quarantined(stores):
    landing, lake = stores
    result = ingest_object(landing, "conversions/c.csv", lake)
    report = result.report
    assert report.rows_in == 9
    assert (report.curated, report.merged_duplicates, report.quarantined) == (3, 1, 5)
    assert report.quarantined_by_rule == {"suspicious_text": 2, "invalid_timestamp": 1, "malformed_line": 1,
                                          "invalid_id": 1}
    assert len(read(lake, "curated/conversions/")) == 3
    assert len(read(lake, "quarantine/")) == 5
    assert result.days == ["2024-04-01", "2024-04-02"]


def test_curated_conversions_are_typed_partitioned_and_traceable(stores):
    landing, lake = stores
    ingest_object(landing, "conversions/c.csv", lake)
    curated = read(lake, "curated/conversions/").set_index("conversion_id")
    assert set(curated.index) == {1, 2, 5}
    assert curated.loc[1, "country_code"] == "US" and bool(curated.loc[1, "is_mobile"]) is True
    assert curated.loc[2, "country_code"] == "PS" and curated.loc[2, "source_line"] == 3  # the first of the two
    assert curated.loc[5, "converted_at"] == pd.Timestamp("2024-04-02 08:00:00")  # +02:00 to UTC
    assert pd.isna(curated.loc[5, "country_code"]) and "country_unresolved" in curated.loc[5, "quality_flags"]
    assert curated.loc[5, "measurement_category"] == "01zzzzzz/02notrel/03notrel"  # well-formed, kept
    assert "dt=2024-04-01" in curated.loc[1, "_key"] and "dt=2024-04-02" in curated.loc[5, "_key"]
    assert curated.loc[1, "source_file"] == "conversions/c.csv"


def test_quarantine_keeps_raw_line_rule_column_and_value(stores):
    landing, lake = stores
    ingest_object(landing, "conversions/c.csv", lake)
    quarantine = read(lake, "quarantine/source=conversions/").set_index("source_line")
    assert set(quarantine.index) == {5, 6, 8, 9, 10}
    assert quarantine.loc[6, "rule"] == "suspicious_text"
    assert quarantine.loc[6, "column_name"] == "measurement_category"
    assert "waitfor" in quarantine.loc[6, "value"]
    assert quarantine.loc[6, "raw_line"] == CLICKS.splitlines()[5]
    assert quarantine.loc[9, "rule"] == "malformed_line" and quarantine.loc[9, "raw_line"] == "7;16;France;1;too;few"
    assert quarantine.loc[8, "rule"] == "invalid_timestamp"
    assert (quarantine["source_file"] == "conversions/c.csv").all()


def test_registrations_keep_junk_scores_as_null_with_a_flag(stores):
    landing, lake = stores
    result = ingest_object(landing, "broker/acme/r.csv", lake)
    assert (result.report.curated, result.report.quarantined) == (3, 1)
    regs = read(lake, "curated/broker_registrations/partner=acme/").set_index("source_line")
    assert pd.isna(regs.loc[3, "important_score"]) and "important_score_invalid" in regs.loc[3, "quality_flags"]
    assert regs.loc[4, "important_score"] == 57 and regs.loc[4, "residency_country_code"] == "PT"
    assert regs.loc[2, "ip_country_code"] == "US" and pd.isna(regs.loc[2, "residency_country_code"])
    assert regs.loc[2, "registered_at"] == pd.Timestamp("2024-04-01 10:00:01")


def test_the_quality_report_is_written_per_batch(stores):
    landing, lake = stores
    result = ingest_object(landing, "conversions/c.csv", lake)
    report = json.loads(lake.read_bytes(f"_reports/conversions/{result.batch_id}.json"))
    assert report["rows_in"] == report["curated"] + report["merged_duplicates"] + report["quarantined"]
    assert report["file_format"]["delimiter"] == ";"
    assert 0 < report["null_rates"]["country_code"] < 1


def test_reingesting_a_key_replaces_its_output(stores, tmp_path):
    landing, lake = stores
    ingest_object(landing, "conversions/c.csv", lake)
    write_landing(tmp_path / "landing", {"conversions/c.csv": HEADER +
                                         "1;10;United States;1;broker-name-link;2024-04-03 10:00:00;"
                                         "01bestca/02notrel/03notrel\n"})
    ingest_object(landing, "conversions/c.csv", lake)
    curated = read(lake, "curated/conversions/")
    assert curated["conversion_id"].tolist() == [1]
    assert lake.list_keys("quarantine/") == []


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x01", "colour;shape\nred;round\n"])
def test_an_unreadable_file_is_rejected_whole_into_quarantine(tmp_path, content):
    landing = LocalStorage(write_landing(tmp_path / "landing", {"conversions/bad.csv": content}))
    lake = LocalStorage(tmp_path / "lake")
    with pytest.raises(FileRejected):
        ingest_object(landing, "conversions/bad.csv", lake)
    quarantine = read(lake, "quarantine/")
    assert quarantine["rule"].tolist() == ["file_rejected"]
    assert lake.list_keys("curated/") == []


def test_reordered_recased_headers_gzip_and_latin1_are_understood(tmp_path):
    import gzip

    text = ("Created_At,IS_MOBILE,Country Name,ID,session_id,measurement_category,ui_element\r\n"
            "2024-04-01T12:00:00Z,true,Curaçao,7,70,01bestca/02notrel/03notrel,broker-name-link\r\n")
    landing = LocalStorage(write_landing(tmp_path / "landing", {
        "conversions/a.csv.gz": gzip.compress(text.encode("latin-1"))}))
    lake = LocalStorage(tmp_path / "lake")
    result = ingest_object(landing, "conversions/a.csv.gz", lake)
    assert result.report.file_format == {"compressed": True, "encoding": "latin-1", "delimiter": ",", "bom": False}
    row = read(lake, "curated/conversions/").iloc[0]
    assert (row["conversion_id"], row["country_code"], bool(row["is_mobile"])) == (7, "CW", True)
    assert row["converted_at"] == pd.Timestamp("2024-04-01 12:00:00")


def test_a_header_missing_a_required_column_rejects_the_file(tmp_path):
    landing = LocalStorage(write_landing(tmp_path / "landing",
                                         {"broker/acme/r.csv": "timestamp,ip_country\n1,Hungary\n"}))
    with pytest.raises(FileRejected, match="important_score"):
        ingest_object(landing, "broker/acme/r.csv", LocalStorage(tmp_path / "lake"))


def test_spilling_early_still_gives_one_file_per_day_and_merges_duplicates_across_spills(tmp_path, monkeypatch):
    from bcjourney.ingest import service

    monkeypatch.setattr(service._BatchWriter, "SPILL_ROWS", 2)
    lines = [f"{i};1;France;1;broker-name-link;2024-04-0{1 + i % 3} 10:00:00;01bestca/02notrel/03notrel"
             for i in range(12)]
    lines.append(lines[0])  # a duplicate id long after the first one was spilled
    landing = LocalStorage(write_landing(tmp_path / "landing", {"conversions/c.csv": HEADER + "\n".join(lines)}))
    lake = LocalStorage(tmp_path / "lake")
    result = ingest_object(landing, "conversions/c.csv", lake, block_bytes=200)
    assert (result.report.curated, result.report.merged_duplicates) == (12, 1)
    keys = lake.list_keys("curated/conversions/")
    assert [k.split("/")[2] for k in keys] == ["dt=2024-04-01", "dt=2024-04-02", "dt=2024-04-03"]
    assert all(k.endswith(f"/{result.batch_id}.parquet") for k in keys)
    assert sorted(read(lake, "curated/conversions/")["conversion_id"]) == list(range(12))


def test_a_day_too_large_to_read_back_keeps_its_parts_each_id_once_at_its_earliest_line(tmp_path, monkeypatch):
    from bcjourney.ingest import service

    monkeypatch.setattr(service._BatchWriter, "SPILL_ROWS", 3)
    monkeypatch.setattr(service._BatchWriter, "COMPACT_ROWS", 3)
    ids = [0, 1, 2, 3, 1, 4, 5, 0, 6, 7, 3, 8, 9, 9]  # repeats inside and across spills
    lines = [f"{i};1;France;1;broker-name-link;2024-04-01 10:00:{n:02d};01bestca/02notrel/03notrel"
             for n, i in enumerate(ids)]
    landing = LocalStorage(write_landing(tmp_path / "landing", {"conversions/c.csv": HEADER + "\n".join(lines)}))
    lake = LocalStorage(tmp_path / "lake")
    result = ingest_object(landing, "conversions/c.csv", lake, block_bytes=120)
    keys = [k for k in lake.list_keys("curated/conversions/dt=2024-04-01/") if k.endswith(".parquet")]
    assert len(keys) > 1  # the parts stayed
    curated = read(lake, "curated/conversions/")
    earliest = {}
    for line, i in enumerate(ids, start=2):
        earliest.setdefault(i, line)
    assert dict(zip(curated["conversion_id"], curated["source_line"])) == earliest
    assert len(curated) == len(earliest) == result.report.curated
    assert result.report.merged_duplicates == len(ids) - len(earliest)


@pytest.mark.parametrize("key,source", [
    ("conversions/c.csv", "conversions"), ("conversions/2024/04/c.csv.gz", "conversions"),
    ("broker/acme/r.csv", "broker_acme"), ("broker/zeta-2/2024/r.csv", "broker_zeta-2"),
    ("reference/page_category_mapping.csv", "reference"),
])
def test_landing_keys_are_classified(key, source):
    from bcjourney.ingest.sources import classify_key

    assert classify_key(key).source == source


@pytest.mark.parametrize("key", ["truth.csv", "broker/r.csv", "broker/Acme/r.csv", "conversions/.DS_Store",
                                 "reference/other.csv", "broker/acme/"])
def test_other_keys_are_refused_with_a_reason(key):
    from bcjourney.ingest.sources import UnknownLandingKey, classify_key

    with pytest.raises(UnknownLandingKey, match="not a landing key"):
        classify_key(key)


def test_a_day_too_large_for_the_function_rejects_the_file_as_soon_as_it_is_known(tmp_path, monkeypatch):
    from bcjourney.ingest import service

    monkeypatch.setattr(service._BatchWriter, "SPILL_ROWS", 3)
    monkeypatch.setattr(service._BatchWriter, "MAX_DAY_ROWS", 8)
    lines = [f"{i};1;France;1;broker-name-link;2024-04-01 10:00:00;01bestca/02notrel/03notrel" for i in range(20)]
    landing = LocalStorage(write_landing(tmp_path / "landing", {"conversions/c.csv": HEADER + "\n".join(lines)}))
    lake = LocalStorage(tmp_path / "lake")
    with pytest.raises(FileRejected, match="day 2024-04-01 holds more than 8 rows"):
        ingest_object(landing, "conversions/c.csv", lake, block_bytes=120)
    assert lake.list_keys("curated/") == []  # nothing half-written stays
    quarantine = read(lake, "quarantine/")
    assert quarantine["rule"].tolist() == ["file_rejected"] and "split the export by day" in quarantine["value"][0]
