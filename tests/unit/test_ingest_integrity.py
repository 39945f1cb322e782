"""Every curated value is the value its row holds, or the row is in quarantine: hostile files, end to end through
`ingest_object`, each checked against what the raw line says."""

import gzip

import pandas as pd
import pytest
from bcjourney.ingest import reader
from bcjourney.ingest.service import FileRejected, _BatchWriter, ingest_object
from bcjourney.storage import LocalStorage
from helpers import write_landing

HEADER = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category"
CATEGORY = "01bestca/02notrel/03notrel"


def click(i: int, created_at: str, country: str = "Germany", ui: str = "broker-name-link") -> str:
    return f"{i};{100 + i};{country};1;{ui};{created_at};{CATEGORY}"


NOW = pd.Timestamp("2024-06-01")


def ingest(tmp_path, body: bytes | str, key: str = "conversions/c.csv", now=NOW, **options):
    landing = write_landing(tmp_path / "landing", {key: body})
    lake = LocalStorage(tmp_path / "lake")
    result = ingest_object(LocalStorage(landing), key, lake, now=now, **options)
    return result, lake


def table(lake: LocalStorage, prefix: str) -> pd.DataFrame:
    keys = [k for k in lake.list_keys(prefix) if k.endswith(".parquet")]
    if not keys:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(lake.root / k) for k in keys], ignore_index=True).sort_values("source_line")


def test_a_blank_timestamp_does_not_move_the_times_of_the_rows_after_it(tmp_path):
    times = ["2024-04-01 10:00:00", "", "2024-04-01 11:00:00", "2024-04-01 12:00:00", "2024-04-01 13:00:00",
             "2024-04-01 14:00:00"]
    body = "\n".join([HEADER] + [click(i, t) for i, t in enumerate(times)]) + "\n"
    result, lake = ingest(tmp_path, body)
    curated = table(lake, "curated/conversions/")
    expected = {line: pd.Timestamp(t) for line, t in enumerate(times, start=2) if t}
    assert dict(zip(curated["source_line"], curated["converted_at"])) == expected
    quarantine = table(lake, "quarantine/")
    assert quarantine[["source_line", "rule"]].values.tolist() == [[3, "invalid_timestamp"]]


def test_impossible_dates_are_quarantined_not_rolled_over(tmp_path):
    times = ["2024-02-30 10:00:00", "2024-04-31 10:00:00", "2024-04-01 10:00:61", "2024-02-29 10:00:00"]
    body = "\n".join([HEADER] + [click(i, t) for i, t in enumerate(times)]) + "\n"
    _, lake = ingest(tmp_path, body)
    assert table(lake, "curated/conversions/")["converted_at"].tolist() == [pd.Timestamp("2024-02-29 10:00:00")]
    assert table(lake, "quarantine/")["rule"].tolist() == ["invalid_timestamp"] * 3


@pytest.mark.parametrize("header,named", [
    ("id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category;created_at",
     ["'created_at'", "columns 6", "and 8"]),
    ("id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category;timestamp",
     ["'created_at'", "'timestamp'"]),
])
def test_a_duplicated_or_clashing_column_rejects_the_file_naming_both(tmp_path, header, named):
    body = header + "\n" + click(1, "2024-04-01 10:00:00") + ";2024-04-01 11:00:00\n"
    with pytest.raises(FileRejected) as raised:
        ingest(tmp_path, body)
    for part in named:
        assert part in str(raised.value)


def test_a_partial_header_is_rejected_even_without_data_rows(tmp_path):
    with pytest.raises(FileRejected, match="lacks required column"):
        ingest(tmp_path, "id;sess\n")


def test_a_latin1_byte_after_64_kb_of_ascii_keeps_its_character(tmp_path):
    rows = [click(i, "2024-04-01 10:00:00", "Aruba") for i in range(1, 1200)]
    body = ("\n".join([HEADER] + rows) + "\n").encode() + click(5000, "2024-04-01 10:00:00", "Curaçao").encode(
        "latin-1") + b"\n"
    assert len(body) > 64 * 1024
    result, lake = ingest(tmp_path, body)
    curated = table(lake, "curated/conversions/")
    last = curated[curated["conversion_id"] == 5000].iloc[0]
    assert (last["country_name"], last["country_code"]) == ("Curaçao", "CW")
    assert not curated["country_name"].str.contains("\ufffd").any()
    assert result.report.file_format["encoding"] == "latin-1"


def test_nul_bytes_after_the_sniffed_head_never_reach_curated_text(tmp_path):
    rows = [click(i, "2024-04-01 10:00:00") for i in range(1, 1200)]
    body = "\n".join([HEADER] + rows + [click(5000, "2024-04-01 10:00:00", ui="broker\x00link")]) + "\n"
    assert body.index("\x00") > 64 * 1024
    result, lake = ingest(tmp_path, body)
    assert not table(lake, "curated/conversions/")["ui_element"].str.contains("\x00").any()
    quarantine = table(lake, "quarantine/")
    assert quarantine[["source_line", "rule", "column_name"]].values.tolist() == [[1201, "suspicious_text",
                                                                                  "ui_element"]]


@pytest.mark.parametrize("country,ui,column", [
    ("<img src=x onerror=alert(1)>", "broker-name-link", "country_name"),
    ("Germany</td></tr>", "broker-name-link", "country_name"),
    ("'Germany", "broker-name-link", "country_name"),
    ("Germany\\", "broker-name-link", "country_name"),
    ("Germany", "-HYPERLINK(\"http://evil\",\"x\")", "ui_element"),
    ("Germany", "@SUM(1+1)", "ui_element"),
])
def test_markup_quotes_and_formulas_are_quarantined_in_every_text_field(tmp_path, country, ui, column):
    body = "\n".join([HEADER, click(1, "2024-04-01 10:00:00", country, ui), click(2, "2024-04-01 10:00:00")]) + "\n"
    _, lake = ingest(tmp_path, body)
    assert table(lake, "curated/conversions/")["conversion_id"].tolist() == [2]
    assert table(lake, "quarantine/")[["rule", "column_name"]].values.tolist() == [["suspicious_text", column]]


def test_markup_in_a_partner_country_field_is_quarantined(tmp_path):
    body = ("timestamp,country_residency,ip_country,important_score\n"
            "1711965601,<b>Germany</b>,Germany,0\n1711965602,Germany,'Germany,0\n1711965603,Germany,Germany,5\n")
    _, lake = ingest(tmp_path, body, key="broker/acme/r.csv")
    assert table(lake, "curated/broker_registrations/")["important_score"].tolist() == [5]
    assert table(lake, "quarantine/")[["rule", "column_name"]].values.tolist() == [
        ["suspicious_text", "country_residency"], ["suspicious_text", "ip_country"]]


def test_an_over_long_field_is_rejected_with_its_rule(tmp_path):
    body = "\n".join([HEADER, click(1, "2024-04-01 10:00:00", ui="b" * 100_000), click(2, "2024-04-01 10:00:00")])
    _, lake = ingest(tmp_path, body + "\n")
    assert table(lake, "curated/conversions/")["conversion_id"].tolist() == [2]
    quarantine = table(lake, "quarantine/")
    assert quarantine[["rule", "column_name"]].values.tolist() == [["field_too_long", "ui_element"]]


def test_millions_of_blank_lines_are_counted_and_the_rows_around_them_kept(tmp_path):
    body = gzip.compress(("\n".join([HEADER, click(1, "2024-04-01 10:00:00")]) + "\n" + "\n" * 2_000_000
                          + click(2, "2024-04-01 11:00:00") + "\n").encode())
    result, lake = ingest(tmp_path, body, key="conversions/c.csv.gz")
    report = result.report
    assert (report.rows_in, report.curated, report.quarantined, report.blank_lines) == (2, 2, 0, 2_000_000)
    assert table(lake, "curated/conversions/")["source_line"].tolist() == [2, 2_000_003]


def test_a_line_with_no_end_is_quarantined_by_its_prefix(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 50_000)
    body = "\n".join([HEADER, click(1, "2024-04-01 10:00:00")]) + "\n" + "7;" + "z" * 3_000_000
    result, lake = ingest(tmp_path, body)
    quarantine = table(lake, "quarantine/")
    assert quarantine[["source_line", "rule"]].values.tolist() == [[3, "line_too_long"]]
    assert quarantine["raw_line"].iloc[0] == ("7;" + "z" * 3_000_000)[:reader.RAW_PREFIX_BYTES]
    assert (result.report.rows_in, result.report.curated) == (2, 1)


def test_quarantine_is_written_in_parts_as_it_grows_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_BatchWriter, "QUARANTINE_SPILL_ROWS", 10)
    rows = [f"{i};bad" for i in range(35)] + [click(99, "2024-04-01 10:00:00")]
    result, lake = ingest(tmp_path, "\n".join([HEADER] + rows) + "\n", block_bytes=64)
    keys = [k for k in lake.list_keys("quarantine/") if k.endswith(".parquet")]
    quarantine = table(lake, "quarantine/")
    assert len(keys) >= 2  # written as it grew, not held to the end
    assert quarantine["source_line"].tolist() == list(range(2, 37))
    assert quarantine["raw_line"].tolist() == rows[:35]
    # a re-ingest of the key replaces every part
    ingest_object(LocalStorage(tmp_path / "landing"), "conversions/c.csv", lake, now=pd.Timestamp("2024-06-01"),
                  block_bytes=64)
    assert sorted(lake.list_keys("quarantine/")) == sorted(keys)
