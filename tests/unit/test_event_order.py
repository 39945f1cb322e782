"""Landing events applied in S3's order, whatever order they arrive in (bcjourney.ingest.versions on a folder lake
and its state): the lake after re-uploads, late retries, rejected re-uploads and deletions equals a fresh lake that
only ever saw the final version (the reference: plain ingest of that version, then matching)."""

from __future__ import annotations

import pandas as pd
import pytest
from bcjourney.days import affected_days
from bcjourney.ingest import versions
from bcjourney.ingest.service import FileRejected, ingest_object
from bcjourney.ingest.versions import RETRACTED_RULE, apply_created, apply_removed
from bcjourney.matching.service import match_days
from bcjourney.state import LocalState, is_newer, sequencer_key
from bcjourney.storage import LocalStorage
from helpers import match_paused_between_read_and_write, write_landing

HEADER = "id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n"
KEY = "conversions/clicks.csv"
PARTNER = "broker/acme/registrations.csv"
MAPPING = ("page_category;measurement_category\n"
           "Best brokers;01bestca/02notrel/03notrel\n")


def clicks(day: str, ids: range) -> str:
    return HEADER + "".join(f"{i};{i};Hungary;1;broker-name-link;{day} 10:{i % 60:02d}:00;01bestca/02notrel/03notrel\n"
                            for i in ids)


def registrations(day: str, ids: range) -> str:
    """Each registration 2 s after its click, from the same country."""
    stamp = pd.Timestamp(f"{day} 10:00:00").value // 10**9
    return ("timestamp,country_residency,ip_country,important_score\n"
            + "".join(f"{stamp + (i % 60) * 60 + 2},Hungary,Hungary,{i}\n" for i in ids))


V1 = clicks("2024-04-01", range(1, 21))
V2 = clicks("2024-04-03", range(1, 11))  # the re-upload moves half the rows to another day and drops the rest


class Lake:
    def __init__(self, root):
        self.landing = LocalStorage(write_landing(root / "landing", {}))
        self.lake = LocalStorage(root / "lake")
        self.state = LocalState(root / "lake" / "_state")

    def put(self, key: str, body: str) -> None:
        write_landing(self.landing.root, {key: body})

    def created(self, key: str, body: str, sequencer: str):
        self.put(key, body)
        return apply_created(self.landing, key, self.lake, self.state, sequencer=sequencer)

    def curated(self, prefix: str = "curated/conversions/") -> pd.DataFrame:
        keys = [k for k in self.lake.list_keys(prefix) if k.endswith(".parquet")]
        if not keys:
            return pd.DataFrame()
        frame = self.lake.read_parquet(keys).drop(columns=["batch_id"])
        return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)

    def journeys(self) -> pd.DataFrame:
        keys = self.lake.list_keys("unified/journeys/")
        frame = self.lake.read_parquet(keys) if keys else pd.DataFrame()
        return frame.sort_values(["conversion_id", "broker_source_line"]).reset_index(drop=True) if keys else frame


def reference(tmp_path, files: dict[str, str], days: list[str]) -> Lake:
    """A fresh lake that saw only these files: plain ingest, then matching."""
    ref = Lake(tmp_path / "reference")
    for key, body in files.items():
        ref.put(key, body)
        ingest_object(ref.landing, key, ref.lake)
    match_days(ref.lake, days)
    return ref


def test_sequencers_compare_as_s3_says():
    assert is_newer("0055AED6DCD90281E6", "0055AED6DCD90281E5")
    assert is_newer("0055AED6DCD90281E6", None)
    assert not is_newer("0055AED6DCD90281E5", "0055AED6DCD90281E5")
    # right-padded with zeros before comparing: a shorter one is not older for being shorter
    assert sequencer_key("0056") > sequencer_key("0055FFFFFF")
    assert is_newer("0056", "0055FFFFFF")


def test_a_re_upload_replaces_the_old_rows_and_re_matches_the_days_of_both(tmp_path):
    lake = Lake(tmp_path)
    lake.put(PARTNER, registrations("2024-04-01", range(1, 21)) + registrations("2024-04-03", range(1, 11))[56:])
    first_partner = apply_created(lake.landing, PARTNER, lake.lake, lake.state, sequencer="01")
    first = lake.created(KEY, V1, "02")
    match_days(lake.lake, affected_days(first.days + first_partner.days), state=lake.state)

    second = lake.created(KEY, V2, "03")
    assert second.action == "ingested" and second.retired_batch == first.result.batch_id
    assert set(second.days) == {"2024-04-01", "2024-04-03"}, "the old version's day is re-matched too"
    match_days(lake.lake, affected_days(second.days), state=lake.state)

    ref = reference(tmp_path, {PARTNER: lake.landing.read_bytes(PARTNER).decode(), KEY: V2},
                    sorted(set(affected_days(first.days + second.days + first_partner.days))))
    pd.testing.assert_frame_equal(lake.curated(), ref.curated())
    journeys = lake.journeys()
    assert journeys["conversion_id"].dropna().is_unique  # no row of the old version left behind
    pd.testing.assert_frame_equal(journeys, ref.journeys())
    assert journeys["conversion_id"].notna().sum() == 10


@pytest.mark.parametrize("broken", ["", "timestamp,important_score\n1,2\n", "\x00\x01binary"])
def test_a_rejected_re_upload_keeps_the_previous_rows_and_says_so(tmp_path, broken):
    lake = Lake(tmp_path)
    first = lake.created(KEY, V1, "02")
    before = lake.curated()
    with pytest.raises(FileRejected, match=f"previous version's rows \\(batch {first.result.batch_id}\\) stay"):
        lake.created(KEY, broken, "03")
    pd.testing.assert_frame_equal(lake.curated(), before)
    report = [k for k in lake.lake.list_keys("_reports/") if "-" in k and k.endswith(".json")]
    rejected = [lake.lake.read_bytes(k).decode() for k in report if first.result.batch_id not in k]
    assert len(rejected) == 1 and f'"kept_previous_batch": "{first.result.batch_id}"' in rejected[0]
    # the retry of the rejected event gets the same verdict without reading the file again
    with pytest.raises(FileRejected, match="rejected already"):
        apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="03")
    # and a later good version replaces the kept rows as usual
    third = lake.created(KEY, V2, "04")
    assert third.retired_batch == first.result.batch_id
    pd.testing.assert_frame_equal(lake.curated(), reference(tmp_path, {KEY: V2}, []).curated())


def test_an_older_version_arriving_late_is_skipped(tmp_path):
    lake = Lake(tmp_path)
    lake.created(KEY, V2, "0055AED6DCD90281E6")
    after_newest = lake.curated()
    late = lake.created(KEY, V1, "0055AED6DCD90281E5")  # a retry or redrive of the older upload
    assert late.action == "skipped_older" and late.days == []
    pd.testing.assert_frame_equal(lake.curated(), after_newest)
    again = apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="0055AED6DCD90281E6")
    assert again.action == "repeated", "the applied event again: its steps redone, nothing ingested"
    pd.testing.assert_frame_equal(lake.curated(), after_newest)


def test_a_retry_after_a_crash_between_recording_and_retiring_finishes_the_job(tmp_path, monkeypatch):
    """Killed after the new version was recorded but before the old one was removed and its days bumped: the
    retry of the same event (the same sequencer) does the rest, and the lake ends as a sequential run's."""
    lake = Lake(tmp_path)
    first = lake.created(KEY, V1, "02")
    match_days(lake.lake, affected_days(first.days), state=lake.state)
    generations = {d: lake.state.day(d).generation for d in ("2024-04-01", "2024-04-03")}
    real_finish = versions._finish
    monkeypatch.setattr(versions, "_finish", lambda *a: (_ for _ in ()).throw(MemoryError("killed")))
    with pytest.raises(MemoryError):
        lake.created(KEY, V2, "03")
    assert len(lake.curated()) == 30, "both versions' rows in curated: the crash left the old one"
    monkeypatch.setattr(versions, "_finish", real_finish)

    retry = apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="03")
    assert retry.action == "repeated" and retry.retired_batch == first.result.batch_id
    assert set(retry.days) == {"2024-04-01", "2024-04-03"}
    assert all(lake.state.day(d).generation > g for d, g in generations.items())
    pd.testing.assert_frame_equal(lake.curated(), reference(tmp_path, {KEY: V2}, []).curated())


def test_a_deleted_key_is_retracted_with_a_record_and_stays_deleted(tmp_path):
    lake = Lake(tmp_path)
    first = lake.created(KEY, V1, "02")
    match_days(lake.lake, affected_days(first.days), state=lake.state)
    assert lake.journeys()["conversion_id"].notna().sum() == 20

    removed = apply_removed(KEY, lake.lake, lake.state, sequencer="03",
                            now=pd.Timestamp("2024-05-01 12:00"))
    assert removed.action == "retracted" and removed.retracted_rows == 20 and removed.days == ["2024-04-01"]
    assert lake.curated().empty
    quarantine = lake.lake.read_parquet(lake.lake.list_keys("quarantine/"))
    record = quarantine[quarantine["rule"] == RETRACTED_RULE]
    assert record["source_file"].tolist() == [KEY]
    assert "20 curated rows" in record["value"].iloc[0] and first.result.batch_id in record["value"].iloc[0]
    assert not (quarantine["batch_id"] == first.result.batch_id).any(), "the key's own rejects went with it"
    match_days(lake.lake, affected_days(removed.days), state=lake.state)
    assert lake.journeys().empty or lake.journeys()["conversion_id"].isna().all()

    # the create event delayed past its own deletion must not bring the rows back
    assert lake.created(KEY, V1, "02").action == "skipped_older"
    assert lake.curated().empty


def test_the_newer_of_two_concurrent_versions_wins_whichever_records_first(tmp_path, monkeypatch):
    """Two ingests of one key overlap: the older one finishes while the newer one is still reading. The newer
    one then replaces it; in the other order the older one removes its own output."""
    lake = Lake(tmp_path)
    lake.put(KEY, V1)
    real = versions.ingest_object
    older_done = []

    def newer_reads_while_older_runs(*args, **kwargs):
        if kwargs["batch_id"] == versions.batch_id_for(KEY, "03") and not older_done:
            lake.put(KEY, V1)
            older_done.append(apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="02"))
            lake.put(KEY, V2)
        return real(*args, **kwargs)

    monkeypatch.setattr(versions, "ingest_object", newer_reads_while_older_runs)
    lake.put(KEY, V2)
    newer = apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="03")
    assert older_done[0].action == "ingested" and newer.action == "ingested"
    assert newer.retired_batch == older_done[0].result.batch_id
    pd.testing.assert_frame_equal(lake.curated(), reference(tmp_path, {KEY: V2}, []).curated())


def test_an_older_version_finishing_after_the_newer_one_removes_its_own_output(tmp_path, monkeypatch):
    lake = Lake(tmp_path)
    real = versions.ingest_object
    newer_done = []

    def newer_lands_meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)  # the older version is read ...
        if kwargs["batch_id"] == versions.batch_id_for(KEY, "02"):  # ... and before it is recorded the newer
            lake.put(KEY, V2)  # one is applied
            newer_done.append(apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="03"))
        return result

    lake.put(KEY, V1)
    monkeypatch.setattr(versions, "ingest_object", newer_lands_meanwhile)
    older = apply_created(lake.landing, KEY, lake.lake, lake.state, sequencer="02")
    assert older.action == "superseded" and newer_done[0].action == "ingested"
    pd.testing.assert_frame_equal(lake.curated(), reference(tmp_path, {KEY: V2}, []).curated())


def test_a_stale_match_does_not_overwrite_a_fresh_one(tmp_path, monkeypatch):
    """Run A reads day D; a partner file for D lands and run B matches D with it; then A would write its older
    result. A yields instead (superseded), and the lake equals a sequential run's."""
    lake = Lake(tmp_path)
    first = lake.created(KEY, V1, "01")
    days = affected_days(first.days)
    partner = registrations("2024-04-01", range(1, 21))
    results = {}
    with match_paused_between_read_and_write(monkeypatch,
                                             lambda: match_days(lake.lake, days, state=lake.state)) as a:
        registered = lake.created(PARTNER, partner, "02")  # the partner's file for D lands
        results["B"] = match_days(lake.lake, affected_days(registered.days), state=lake.state)
    results["A"] = a["result"]

    assert {r.day: r.superseded for r in results["A"]} == {d: True for d in days}
    assert not any(r.superseded for r in results["B"])
    journeys = lake.journeys()
    assert (journeys["partner"] == "acme").sum() == 20, "the partner's registrations stand"
    ref = reference(tmp_path, {KEY: V1, PARTNER: partner}, days)
    pd.testing.assert_frame_equal(journeys, ref.journeys())
    assert all(not lake.state.day(d).stale for d in days)
