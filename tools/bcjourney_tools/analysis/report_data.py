"""What the EDA report reads from a lake: the partner-coverage window, the athena_queries results on
that window, row-level journeys and the ingest quality reports.

The coverage window. A partner's export spans a period (its first to its last registration). A click
outside that period cannot be linked to that partner's registrations however good the matcher is, so
counting it would dilute every rate with "the export did not cover that day" (on the real data set,
clicks start 20 days before the partner's export). The report therefore analyses the clicks whose
whole matching window lies inside every partner's export:

    [max over partners of the first registration + Window.after_s,
     min over partners of the last registration - Window.before_s]

and the registrations no click explains inside it. The athena_queries files run unchanged on that
scope: `unified_journeys` is a view over the lake restricted to the window (the same SQL on Athena
needs the same WHERE clause, or a view of that name). Data-quality KPIs run on the whole lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from bcjourney import layout
from bcjourney.ingest.service import batch_id_for
from bcjourney.matching.candidates import Window
from bcjourney.state import STATE_FOLDER, LocalState

from bcjourney_tools.analysis import anomalies
from bcjourney_tools.analysis.local_sql import connect_lake, queries_dir, run_sql

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

SCOPED_VIEW_SOURCE = "bcjourney_unified_journeys_all"


@dataclass(frozen=True)
class Coverage:
    """The window of click times the report analyses (None bounds: no partner data, all clicks)."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    partners: dict[str, tuple[pd.Timestamp, pd.Timestamp, int]]  # partner -> (first, last, registrations)
    clicks_total: int
    clicks_in_scope: int
    before_s: int
    after_s: int

    @property
    def restricted(self) -> bool:
        return self.start is not None

    def as_dict(self) -> dict:
        def ts(t):
            return None if t is None else t.isoformat(sep=" ")

        return {
            "start": ts(self.start),
            "end": ts(self.end),
            "partners": {p: {"first_registration": ts(a), "last_registration": ts(b), "registrations": n}
                         for p, (a, b, n) in self.partners.items()},
            "clicks_total": self.clicks_total,
            "clicks_in_scope": self.clicks_in_scope,
            "match_window_before_s": self.before_s,
            "match_window_after_s": self.after_s,
        }


@dataclass
class LakeData:
    lake_dir: Path
    coverage: Coverage
    queries: dict[str, pd.DataFrame]  # query stem -> result on the coverage window (09: whole lake)
    rows: pd.DataFrame  # row-level journeys in the window (derived labels as the queries define them)
    quality_reports: list[dict] = field(default_factory=list)
    quarantine_by_rule: pd.DataFrame = field(default_factory=pd.DataFrame)
    unlinked_by_hour: pd.DataFrame = field(default_factory=pd.DataFrame)  # partner, hour, registrations, unlinked
    link_health: pd.DataFrame = field(default_factory=pd.DataFrame)  # per partner and day (matching.health)
    # clicks a scanner sent (analysis.anomalies), left out of `rows` and of the scoped queries, and its windows
    scanner_clicks: pd.DataFrame = field(default_factory=pd.DataFrame)
    scanner_windows: pd.DataFrame = field(default_factory=pd.DataFrame)


def compute_coverage(con: duckdb.DuckDBPyConnection, window: Window | None = None) -> Coverage:
    window = window or Window()
    per_partner = con.execute(
        "SELECT partner, min(registered_at) AS first_at, max(registered_at) AS last_at, count(*) AS n "
        "FROM unified_journeys WHERE partner IS NOT NULL AND registered_at IS NOT NULL "
        "GROUP BY partner ORDER BY partner"
    ).df()
    clicks_total = int(con.execute(
        "SELECT count(*) FROM unified_journeys WHERE conversion_id IS NOT NULL").fetchone()[0])
    partners = {str(r.partner): (pd.Timestamp(r.first_at), pd.Timestamp(r.last_at), int(r.n))
                for r in per_partner.itertuples()}
    start = end = None
    if partners:
        start = max(a for a, _, _ in partners.values()) + pd.Timedelta(seconds=window.after_s)
        end = min(b for _, b, _ in partners.values()) - pd.Timedelta(seconds=window.before_s)
        if start > end:  # exports that do not overlap: fall back to every click
            start = end = None
    if start is None:
        in_scope = clicks_total
    else:
        in_scope = int(con.execute(
            "SELECT count(*) FROM unified_journeys WHERE conversion_id IS NOT NULL "
            "AND converted_at BETWEEN ? AND ?", [start.to_pydatetime(), end.to_pydatetime()]).fetchone()[0])
    return Coverage(start, end, partners, clicks_total, in_scope, window.before_s, window.after_s)


def scoped_connection(lake_dir: Path, coverage: Coverage, excluded_ids: list[int] | None = None
                      ) -> duckdb.DuckDBPyConnection:
    """A connect_lake() connection whose `unified_journeys` view holds only the coverage window (the clicks
    converted inside it and the registrations no click explains registered inside it), without the clicks of
    `excluded_ids` (a scanner's: analysis.anomalies)."""
    con = connect_lake(lake_dir)
    if not coverage.restricted and not excluded_ids:
        return con
    con.execute(f'ALTER VIEW "unified_journeys" RENAME TO "{SCOPED_VIEW_SOURCE}"')
    conditions = []
    if coverage.restricted:
        con.execute("SET VARIABLE bcjourney_scope_start = ?", [coverage.start.to_pydatetime()])
        con.execute("SET VARIABLE bcjourney_scope_end = ?", [coverage.end.to_pydatetime()])
        conditions.append("CASE WHEN conversion_id IS NOT NULL THEN converted_at ELSE registered_at END "
                          "BETWEEN getvariable('bcjourney_scope_start') AND getvariable('bcjourney_scope_end')")
    if excluded_ids:
        con.execute("CREATE TEMP TABLE bcjourney_excluded_clicks (conversion_id BIGINT)")
        con.executemany("INSERT INTO bcjourney_excluded_clicks VALUES (?)", [[int(i)] for i in excluded_ids])
        conditions.append("coalesce(conversion_id NOT IN (SELECT conversion_id FROM bcjourney_excluded_clicks), "
                          "TRUE)")
    con.execute(f'CREATE VIEW "unified_journeys" AS SELECT * FROM "{SCOPED_VIEW_SOURCE}" WHERE '
                + " AND ".join(conditions))
    return con


def find_scanner(whole: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scanner's clicks (conversion_id, converted_at, ui_element, country_code, registered) and its windows,
    from the quarantined payloads and the curated lines beside them (analysis.anomalies)."""
    quarantine = whole.execute("SELECT source_file, source_line, rule FROM quarantine "
                               "WHERE source = 'conversions'").df()
    clicks = whole.execute("SELECT conversion_id, conversion_source_file, conversion_source_line, converted_at, "
                           "ui_element, country_code, partner IS NOT NULL AS registered FROM unified_journeys "
                           "WHERE conversion_id IS NOT NULL").df()
    windows = anomalies.scanner_windows(anomalies.payload_times(quarantine, clicks))
    return clicks[anomalies.scanner_clicks(clicks, windows)].reset_index(drop=True), windows


def query_path(name: str) -> Path:
    """athena_queries/NN_<name>.sql (e.g. 'registration_rate_by_page_category' -> its 01_ file)."""
    matches = sorted(queries_dir().glob(f"[0-9][0-9]_{name}.sql"))
    if not matches:
        raise FileNotFoundError(f"athena_queries/NN_{name}.sql not found under {queries_dir()}")
    return matches[0]


# The row-level columns the statistics need, labelled exactly as the athena_queries label them.
ROWS_SQL = """
SELECT
    conversion_id IS NOT NULL AS is_click,
    conversion_id,
    session_id,
    measurement_category,
    partner IS NOT NULL AS registered,
    partner,
    CASE WHEN is_mobile THEN 'mobile' WHEN NOT is_mobile THEN 'desktop' ELSE '(unknown)' END AS device,
    coalesce(page_category, '(unmapped)') AS page_category,
    coalesce(ui_element, '(none)') AS ui_element,
    coalesce(country_code, '(unknown)') AS country_code,
    converted_at,
    registered_at,
    registration_delay_s,
    ip_country_code,
    residency_country_code,
    CAST(important_score AS DOUBLE) AS important_score,
    match_confidence
FROM unified_journeys
"""

# the queries the report reads, by name: over the partner export's window, or over the whole lake
SCOPED_QUERIES = ("registration_rate_by_page_category", "registration_rate_by_ui_element",
                  "registration_rate_by_device_and_country", "registration_delay_distribution",
                  "important_score_by_entry_page_device_country", "high_value_share_by_entry_point",
                  "hour_and_weekday_patterns", "cross_country_vpn_registrations")
LAKE_QUERIES = ("data_quality_kpis",)


def load_quality_reports(lake_dir: Path) -> list[dict]:
    """The reports of what the lake holds now: per landing key, the report of its live batch, and the newest
    rejection if one came after it (a replaced or retracted version's report stays on disk as history)."""
    reports = []
    root = Path(lake_dir) / layout.REPORTS
    for path in sorted(root.glob("*/*.json")):
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    state_root = Path(lake_dir) / STATE_FOLDER
    if not state_root.is_dir():  # a lake written before versions were recorded: every report is current
        return reports
    state = LocalState(state_root)
    records = {key: state.applied(key) for key in {str(r.get("key")) for r in reports}}
    current = []
    for report in reports:
        record = records.get(str(report.get("key")))
        if record is None:
            current.append(report)
        elif report.get("batch_id") == record.batch_id and not record.deleted:
            current.append(report)
        elif record.rejected and report.get("file_rejected") and report.get("batch_id") == batch_id_for(
                record.key, record.sequencer):
            current.append(report)
    return current


def load_lake(lake_dir: str | Path) -> LakeData:
    lake_dir = Path(lake_dir)
    whole = connect_lake(lake_dir)
    coverage = compute_coverage(whole)
    scanner, windows = find_scanner(whole)
    scoped = scoped_connection(lake_dir, coverage, scanner["conversion_id"].tolist())
    queries = {}
    for name in SCOPED_QUERIES:
        queries[name] = run_sql(scoped, query_path(name).read_text(encoding="utf-8"))
    for name in LAKE_QUERIES:
        queries[name] = run_sql(whole, query_path(name).read_text(encoding="utf-8"))
    rows = scoped.execute(ROWS_SQL).df()
    quarantine_by_rule = whole.execute(
        "SELECT source, rule, column_name, count(*) AS rows FROM quarantine "
        "GROUP BY source, rule, column_name ORDER BY rows DESC, source, rule, column_name"
    ).df()
    unlinked_by_hour = whole.execute(
        "SELECT partner, date_trunc('hour', registered_at) AS hour, count(*) AS registrations, "
        "count(*) FILTER (WHERE conversion_id IS NULL) AS unlinked FROM unified_journeys "
        "WHERE partner IS NOT NULL AND registered_at IS NOT NULL GROUP BY ALL ORDER BY partner, hour"
    ).df()
    return LakeData(lake_dir, coverage, queries, rows, load_quality_reports(lake_dir), quarantine_by_rule,
                    unlinked_by_hour, load_link_health(lake_dir), scanner, windows)


def load_link_health(lake_dir: Path) -> pd.DataFrame:
    """The link health the match runs recorded (unified/link_health/dt=*/health.parquet), by partner and day."""
    files = sorted((Path(lake_dir) / "unified" / "link_health").glob("dt=*/health.parquet"))
    if not files:
        return pd.DataFrame(columns=["partner", "day", "linked_share", "within_5s_share", "collapsed", "reason"])
    health = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return health.sort_values(["partner", "day"]).reset_index(drop=True)


def query(data: LakeData, name: str) -> pd.DataFrame:
    """The result of athena_queries/NN_<name>.sql on this lake."""
    return data.queries[name]
