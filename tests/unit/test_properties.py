"""Property-based: arbitrary bytes and rows never crash a reader or normalizer, and never lose a row."""

import io

import pandas as pd
from bcjourney.ingest.reader import UnreadableFile, read_chunks
from bcjourney.ingest.service import FileRejected, ingest_object
from bcjourney.normalize import countries, text_policy, timestamps, values
from bcjourney.storage import LocalStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HEADER = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category"
text_field = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r;\""),
                     max_size=30)
field = st.one_of(text_field, st.integers(0, 10**12).map(str), st.sampled_from(
    ["#REF!", "", "-", "United States", "Côte d’Ivoire", "2024-04-01 10:00:00", "1711965601",
     "01bestca/02notrel/03notrel", "x'and(select+sleep(2))='", "1", "0", "yes"]))
row = st.lists(field, min_size=5, max_size=9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_read_or_rejected_never_crash(data):
    try:
        for chunk in read_chunks(io.BytesIO(data), 256).chunks:
            assert len(chunk.frame) == len(chunk.lines)
    except UnreadableFile:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=40), crlf=st.booleans(), bom=st.booleans())
def test_every_row_of_any_file_is_curated_merged_or_quarantined(tmp_path_factory, rows, crlf, bom):
    root = tmp_path_factory.mktemp("prop")
    newline = "\r\n" if crlf else "\n"
    body = newline.join([HEADER] + [";".join(r) for r in rows]) + newline
    (root / "landing" / "conversions").mkdir(parents=True)
    (root / "landing" / "conversions" / "f.csv").write_bytes(("\ufeff" if bom else "").encode() + body.encode())
    try:
        result = ingest_object(LocalStorage(root / "landing"), "conversions/f.csv", LocalStorage(root / "lake"))
    except FileRejected:
        return
    report = result.report
    assert report.rows_in == len(rows)
    # read back from the lake, apart from the report: each line is curated or quarantined, or it repeats the id
    # of an earlier curated line
    lake = root / "lake"
    curated = pd.read_parquet(lake / "curated") if (lake / "curated").exists() else pd.DataFrame(
        {"source_line": [], "conversion_id": []})
    quarantined = pd.read_parquet(lake / "quarantine") if (lake / "quarantine").exists() else pd.DataFrame(
        {"source_line": []})
    kept = set(curated["source_line"]) | set(quarantined["source_line"])
    assert not set(curated["source_line"]) & set(quarantined["source_line"])
    merged = [line for line in range(2, len(rows) + 2) if line not in kept]
    assert len(merged) == report.merged_duplicates
    first_line_of_id = curated.groupby("conversion_id")["source_line"].min()
    for line in merged:
        raw_id = rows[line - 2][0].strip()
        assert int(raw_id) in first_line_of_id.index and first_line_of_id[int(raw_id)] < line


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=25), st.none()), max_size=30))
def test_normalizers_return_one_value_per_input_and_never_raise(raw):
    series = pd.Series(raw, dtype="object")
    for parsed, ok in (values.parse_bool(series), values.parse_int(series), values.parse_score(series)):
        assert len(parsed) == len(series) == len(ok)
    parsed, reason = timestamps.parse_timestamps(series)
    assert len(parsed) == len(series) and (parsed.notna() | reason.notna()).all()
    assert len(countries.resolve_countries(series)) == len(series)
    assert len(text_policy.text_rules(series)) == len(series)
