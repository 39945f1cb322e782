"""`bcjourney run` on a landing folder that changes between runs, as a bucket does: a re-upload that moves rows
to other days, a file deleted, a broken re-upload. After each, the lake equals what a fresh run on the folder as
it now is writes (the reference), and the summary says what happened."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from bcjourney_tools.generate import generate
from bcjourney_tools.local.runner import run

CLICKS_DAY_ONE = "conversions/conversions_20240401.csv"


def journeys(lake) -> pd.DataFrame:
    frame = pd.read_parquet(lake / "unified" / "journeys")
    frame["dt"] = frame["dt"].astype(str)
    return frame.sort_values(["dt", "conversion_id", "broker_source_file", "broker_source_line"]).reset_index(
        drop=True)


def curated_clicks(lake) -> pd.DataFrame:
    frame = pd.read_parquet(lake / "curated" / "conversions").drop(columns=["batch_id"])
    return frame.sort_values(["conversion_id", "source_file", "source_line"]).reset_index(drop=True)


def fresh(landing, tmp_path, name: str):
    lake = tmp_path / name
    run(landing, lake, workers=1)
    return lake


def test_a_re_upload_moving_rows_to_another_day_leaves_no_copy_behind(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=3, per_day=300, seed=5)
    run(landing, lake, workers=1)
    path = landing / CLICKS_DAY_ONE
    lines = path.read_text().splitlines(keepends=True)
    moved = lines[:1] + [line.replace("2024-04-01 ", "2024-04-03 ") if i % 2 else line
                         for i, line in enumerate(lines[1:])]
    path.write_text("".join(moved))  # half the day's clicks now say 3 April

    second = run(landing, lake, workers=1)
    assert [f["key"] for f in second.files] == [CLICKS_DAY_ONE] and len(second.unchanged) == 6
    assert [d["day"] for d in second.days] == ["2024-03-31", "2024-04-01", "2024-04-02", "2024-04-03",
                                               "2024-04-04"], "the days of the old version and of the new one"
    after = journeys(lake)
    assert after["conversion_id"].dropna().is_unique, "no click twice (once per version)"
    reference = fresh(landing, tmp_path, "reference")
    pd.testing.assert_frame_equal(curated_clicks(lake), curated_clicks(reference))
    pd.testing.assert_frame_equal(after, journeys(reference))


def test_a_run_with_nothing_new_says_the_lake_is_up_to_date(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=1, per_day=200, seed=4)
    run(landing, lake, workers=1)
    before = journeys(lake)
    again = subprocess.run([sys.executable, "-m", "bcjourney_tools.cli", "run", "--landing", str(landing), "--lake",
                            str(lake), "--quiet"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "no day to match (no curated row changed)" in again.stdout
    assert "not ingested again: 3 file(s)" in again.stdout
    pd.testing.assert_frame_equal(journeys(lake), before)


def test_a_deleted_landing_file_is_retracted_and_the_summary_says_so(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=3, per_day=300, seed=6)
    first = run(landing, lake, workers=1)
    rows = next(f["curated"] for f in first.files if f["key"] == CLICKS_DAY_ONE)
    (landing / CLICKS_DAY_ONE).unlink()

    out = subprocess.run([sys.executable, "-m", "bcjourney_tools.cli", "run", "--landing", str(landing), "--lake",
                          str(lake), "--quiet", "--workers", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"retracted (the landing file is gone): {CLICKS_DAY_ONE}, {rows:,} rows from 1 day(s)" in out.stdout
    assert "unchanged since the last run, not ingested again: 6 file(s)" in out.stdout
    after = journeys(lake)
    assert not (after["conversion_source_file"] == CLICKS_DAY_ONE).any()
    quarantine = pd.read_parquet(lake / "quarantine")
    (note,) = quarantine.loc[quarantine["rule"] == "object_removed", "value"]
    assert f"{rows} curated rows" in note
    pd.testing.assert_frame_equal(after, journeys(fresh(landing, tmp_path, "reference")))


def test_a_broken_re_upload_keeps_the_previous_rows_and_says_so(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=2, per_day=300, seed=7)
    run(landing, lake, workers=1)
    before = journeys(lake)
    good = (landing / CLICKS_DAY_ONE).read_bytes()
    (landing / CLICKS_DAY_ONE).write_text("timestamp;whatever\n1;2\n")  # a header ingest cannot read

    out = subprocess.run([sys.executable, "-m", "bcjourney_tools.cli", "run", "--landing", str(landing), "--lake",
                          str(lake), "--quiet", "--workers", "1"], capture_output=True, text=True)
    assert out.returncode == 1
    assert CLICKS_DAY_ONE in out.stderr and "the previous version's rows (batch conversions-" in out.stderr
    pd.testing.assert_frame_equal(journeys(lake), before)
    from bcjourney_tools.analysis.report_data import load_quality_reports

    current = [r for r in load_quality_reports(lake) if r["key"] == CLICKS_DAY_ONE]
    assert sorted(bool(r.get("file_rejected")) for r in current) == [False, True]
    (rejected,) = [r for r in current if r.get("file_rejected")]
    (live,) = [r for r in current if not r.get("file_rejected")]
    assert rejected["kept_previous_batch"] == live["batch_id"]

    (landing / CLICKS_DAY_ONE).write_bytes(good)  # fixed: the same rows as before, one report per key again
    again = run(landing, lake, workers=1)
    assert [f["key"] for f in again.files] == [CLICKS_DAY_ONE] and not again.failed
    pd.testing.assert_frame_equal(journeys(lake), before)
    assert len([r for r in load_quality_reports(lake) if r["key"] == CLICKS_DAY_ONE]) == 1
