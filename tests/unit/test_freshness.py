"""The freshness check (bcjourney.freshness) and its Lambda handler on a folder lake: a day whose curated rows changed
and that no match run wrote since is reported once the grace period is over, and only then; the handler emits
StaleDays on every run, 0 included, under the service the alarm watches."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from bcjourney.freshness import check_freshness, stale_days
from bcjourney.state import STATE_FOLDER, DayState, LocalState
from bcjourney_tools.local.handlers import LocalLambdaContext, load_handler_module

NOW = datetime(2024, 4, 2, 12, 0, tzinfo=timezone.utc)
GRACE = timedelta(minutes=60)


def ago(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(("day", "reported"), [
    (DayState("2024-04-01", generation=3, committed=3, bumped_at=ago(600)), False),  # fresh: matched since
    (DayState("2024-04-01", generation=3, committed=2, bumped_at=ago(59)), False),  # stale, within the grace
    (DayState("2024-04-01", generation=3, committed=2, bumped_at=ago(60)), False),  # exactly the grace: not past
    (DayState("2024-04-01", generation=3, committed=2, bumped_at=ago(61)), True),  # stale past the grace
    (DayState("2024-04-01", generation=1, committed=0, bumped_at=ago(120)), True),  # never committed
    (DayState("2024-04-01", generation=1, committed=0, bumped_at=ago(5)), False),  # never committed, just bumped
    (DayState("2024-04-01", generation=2, committed=1, bumped_at=None), True),  # stale, bump time missing
    (DayState("2024-04-01", generation=2, committed=1, bumped_at="yesterday"), True),  # unreadable bump time
    (DayState("2024-04-01", generation=2, committed=2, bumped_at=None), False),  # fresh, bump time missing
    (DayState("2024-04-01", generation=0, committed=0, bumped_at=None), False),  # nothing ever changed
])
def test_a_day_is_reported_when_stale_past_the_grace(day, reported):
    assert stale_days([day], NOW, GRACE) == ([day] if reported else [])


def test_bump_times_in_other_zones_or_naive_are_compared_as_instants():
    two_hours_ago_in_budapest = (NOW - timedelta(hours=2)).astimezone(timezone(timedelta(hours=2))).isoformat()
    naive_utc = (NOW - timedelta(minutes=30)).replace(tzinfo=None).isoformat()
    days = [DayState("a", 1, 0, two_hours_ago_in_budapest), DayState("b", 1, 0, naive_utc)]
    assert [d.day for d in stale_days(days, NOW, GRACE)] == ["a"]
    assert [d.day for d in stale_days(days, NOW.replace(tzinfo=None), GRACE)] == ["a"]  # a naive now is UTC too


class FakeState:
    def __init__(self, days: list[DayState]):
        self._days = days

    def days(self) -> list[DayState]:
        return self._days


def test_the_report_names_the_stale_days_the_oldest_bump_and_how_many_were_checked():
    days = [DayState("2024-03-30", 2, 2, ago(900)), DayState("2024-03-31", 4, 3, ago(300)),
            DayState("2024-04-01", 1, 0, None), DayState("2024-04-02", 1, 0, ago(90)),
            DayState("2024-04-03", 1, 0, ago(10))]
    report = check_freshness(FakeState(days), NOW, GRACE)  # type: ignore[arg-type]
    assert report == {"stale_days": ["2024-03-31", "2024-04-01", "2024-04-02"],
                      "oldest_bump": (NOW - timedelta(minutes=300)).isoformat(), "checked": 5}
    assert check_freshness(FakeState([]), NOW, GRACE) == {  # type: ignore[arg-type]
        "stale_days": [], "oldest_bump": None, "checked": 0}
    assert check_freshness(FakeState(days[2:3]), NOW, GRACE)["oldest_bump"] is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------------
# The handler on a folder lake (LocalState beside it)
# ---------------------------------------------------------------------------------------------------------------------
def set_bumped_at(lake, day: str, when: datetime) -> None:
    """Move a day's last bump back in time (LocalState keeps one JSON file per day)."""
    path = lake / STATE_FOLDER / "days" / f"{day}.json"
    item = json.loads(path.read_text())
    item["bumped_at"] = when.isoformat()
    path.write_text(json.dumps(item))


def commit(state: LocalState, day: str) -> None:
    with state.commit_day(day, state.day(day).generation, lease_seconds=60) as newest:
        assert newest


@pytest.fixture
def lake(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.setenv("LAKE_URI", str(lake))
    monkeypatch.setenv("PIPELINE_STATE_TABLE", "")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "freshness")
    monkeypatch.delenv("STALE_AFTER_MINUTES", raising=False)
    return lake


def run_handler(event: dict | None = None) -> dict:
    handler = load_handler_module("freshness")
    handler.metrics.clear_metrics()  # Powertools keeps one metric set per process; a disabled flush leaves it full
    return handler.lambda_handler(event if event is not None else {}, LocalLambdaContext("bcjourney-freshness"))


def test_the_handler_reports_a_day_left_stale_and_not_one_matched_or_just_changed(lake):
    state = LocalState(lake / STATE_FOLDER)
    state.bump_days(["2024-03-31", "2024-04-01", "2024-04-02"])
    commit(state, "2024-03-31")  # matched
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    for day in ("2024-03-31", "2024-04-01"):
        set_bumped_at(lake, day, two_hours_ago)
    # 2024-04-02 was bumped just now: its match run is on its way
    report = run_handler()
    assert report == {"stale_days": ["2024-04-01"], "oldest_bump": two_hours_ago.isoformat(), "checked": 3}

    commit(state, "2024-04-01")  # its run came after all
    assert run_handler()["stale_days"] == []


@pytest.mark.filterwarnings("ignore:No application metrics")  # the run that fails on a bad STALE_AFTER_MINUTES
def test_the_grace_comes_from_stale_after_minutes(lake, monkeypatch):
    state = LocalState(lake / STATE_FOLDER)
    state.bump_days(["2024-04-01"])
    set_bumped_at(lake, "2024-04-01", datetime.now(timezone.utc) - timedelta(minutes=30))
    assert run_handler()["stale_days"] == []  # default 60 minutes
    monkeypatch.setenv("STALE_AFTER_MINUTES", "20")
    assert run_handler()["stale_days"] == ["2024-04-01"]
    monkeypatch.setenv("STALE_AFTER_MINUTES", "a while")
    with pytest.raises(RuntimeError, match="STALE_AFTER_MINUTES"):
        run_handler()


def test_an_empty_state_reports_nothing(lake):
    assert run_handler({"source": "bcjourney.freshness"}) == {"stale_days": [], "oldest_bump": None, "checked": 0}


def emitted_stale_days(output: str) -> list[tuple[list[float], dict]]:
    """StaleDays datapoints in Powertools' EMF lines: (value, dimensions); Powertools writes each value as a list."""
    found = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            if any(m["Name"] == "StaleDays" for m in directive["Metrics"]):
                dimensions = {name: blob[name] for names in directive["Dimensions"] for name in names}
                value = blob["StaleDays"]
                dimensions["namespace"] = directive["Namespace"]
                found.append((value if isinstance(value, list) else [value], dimensions))
    return found


def test_stale_days_is_emitted_on_every_run_zero_included(lake, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "bcjourney")
    capsys.readouterr()
    run_handler()
    assert emitted_stale_days(capsys.readouterr().out) == [([0], {"namespace": "bcjourney", "service": "freshness"})]
    state = LocalState(lake / STATE_FOLDER)
    state.bump_days(["2024-04-01", "2024-04-02"])
    for day in ("2024-04-01", "2024-04-02"):
        set_bumped_at(lake, day, datetime.now(timezone.utc) - timedelta(hours=3))
    run_handler()
    assert emitted_stale_days(capsys.readouterr().out) == [([2], {"namespace": "bcjourney", "service": "freshness"})]
