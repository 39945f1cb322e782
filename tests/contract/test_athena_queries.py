"""Every athena_queries/*.sql file runs locally (DuckDB via sqlglot) and gives what pandas computes.

A small synthetic lake is written in tmp_path with pyarrow, following schema.py: 3 days, 2 partners,
~660 unified_journeys rows (clicks with and without a registration, unmatched registrations) and
quarantine rows. Each query's result is checked against an independent pandas computation on the same
data; a .sql file without a checker in CHECKERS fails.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

try:
    import bcjourney  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "core" / "python"))

duckdb = pytest.importorskip("duckdb")
sqlglot = pytest.importorskip("sqlglot")
from bcjourney import layout, schema  # noqa: E402
from bcjourney_tools.analysis import local_sql  # noqa: E402
from bcjourney_tools.analysis.local_sql import (  # noqa: E402
    LAKE_TABLES,
    athena_to_duckdb,
    connect_lake,
    list_query_files,
    run_query_file,
    run_sql,
)
from sqlglot import exp  # noqa: E402

QUERY_FILES = list_query_files()
HIGH_VALUE = 50  # important_score >= 50 is a high-value user, as the queries define it
DAYS = ["2024-04-01", "2024-04-02", "2024-04-03"]
PARTNERS = ["alpha", "beta"]
PAGE_CATEGORIES = ["Home page", "Best brokers - general", "Broker reviews - general", "Country pages", "Education"]
UI_ELEMENTS = [
    "dynamic score top broker list row",
    "mobile-chapter-2-top5-box",
    "fmb broker list item link",
    "desktop-top5-box",
    "broker-name-link",
    "popularity-box-whole-row-link",
    "bottom-ribbon",
    "geo-alternatives-button",
]
UI_WEIGHTS = [0.30, 0.20, 0.15, 0.12, 0.10, 0.06, 0.04, 0.03]  # the last two fall under min_clicks
COUNTRIES = ["DE", "GB", "FR", "ES", "IT", "PL", "NL", "AU", "IN", "BR", "ZA", "SG", "CA", "MX"]
RULES = ["bad_timestamp", "unknown_country", "malformed_line", "formula_injection"]


# --------------------------------------------------------------------------------------------------
# The synthetic lake


@dataclass
class Lake:
    root: Path
    journeys: pd.DataFrame  # unified_journeys rows, dt included (str)
    quarantine: pd.DataFrame  # quarantine rows, source and dt included (str)


def _make_journeys(rng: np.random.Generator) -> pd.DataFrame:
    n = 600
    day_index = rng.integers(0, len(DAYS), n)
    day_start = pd.to_datetime(np.array(DAYS)[day_index])
    converted_at = day_start + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    page = rng.choice(np.array(PAGE_CATEGORIES + [None], dtype=object), n, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    country_weights = np.linspace(3.0, 0.4, len(COUNTRIES))
    country = rng.choice(
        np.array(COUNTRIES + [None], dtype=object), n, p=np.append(country_weights / country_weights.sum() * 0.97, 0.03)
    )
    is_mobile = rng.choice(np.array([True, False, None], dtype=object), n, p=[0.55, 0.44, 0.01])
    registered = rng.random(n) < 0.35

    # Delays across every bucket, boundaries included (lower bound inclusive).
    delay = np.exp(rng.normal(np.log(900), 2.2, n))
    special = rng.random(n)
    delay[special < 0.03] = -rng.integers(1, 120, (special < 0.03).sum())
    fixed = np.array([0.0, 4.999, 5.0, 7.0, 15.0, 60.0, 299.5, 300.0, 3600.0, 86_400.0, 259_200.0, 59.999])
    delay[: len(fixed)] = fixed
    registered[: len(fixed)] = True

    scores = rng.choice([0, 0, 0, 0, 5, 10, 25, 49, 50, 57, 86, 100], n).astype(float)
    scores[rng.random(n) < 0.08] = np.nan
    ip_same = rng.random(n)
    other_country = rng.choice(COUNTRIES, n)
    ip_country = np.where(ip_same < 0.75, country, np.where(ip_same < 0.9, other_country, None))
    residency = np.where(rng.random(n) < 0.7, ip_country, np.where(rng.random(n) < 0.5, other_country, None))

    clicks = pd.DataFrame(
        {
            "conversion_id": pd.array(np.arange(5_200_000, 5_200_000 + n), dtype="Int64"),
            "session_id": pd.array(rng.integers(70_000_000, 72_000_000, n), dtype="Int64"),
            "is_mobile": pd.array(is_mobile, dtype="boolean"),
            "ui_element": rng.choice(UI_ELEMENTS, n, p=UI_WEIGHTS),
            "measurement_category": "01x/02y/03z",
            "page_category": page,
            "converted_at": converted_at.astype("datetime64[ms]"),
            "country_code": country,
            "partner": np.where(registered, rng.choice(PARTNERS, n), None),
            "registered_at": (converted_at + pd.to_timedelta(np.round(delay), unit="s")).astype("datetime64[ms]"),
            "registration_delay_s": delay,
            "ip_country_code": ip_country,
            "residency_country_code": residency,
            "important_score": pd.array(scores, dtype="Int64"),
            "match_confidence": rng.uniform(0.5, 1.0, n),
            "match_rule": rng.choice(["exact_second", "window_60s", "fuzzy_country"], n),
            "conversion_source_file": "conversions/batch1.csv",
            "conversion_source_line": pd.array(np.arange(2, n + 2), dtype="Int64"),
            "broker_source_file": "broker/alpha/export.csv",
            "broker_source_line": pd.array(np.arange(2, n + 2), dtype="Int64"),
            "dt": np.array(DAYS)[day_index],
        }
    )
    unregistered = ~registered
    for column in [
        "registered_at",
        "registration_delay_s",
        "ip_country_code",
        "residency_country_code",
        "important_score",
        "match_confidence",
        "match_rule",
        "broker_source_file",
        "broker_source_line",
    ]:
        clicks.loc[unregistered, column] = None

    # Registrations no click explains: conversion columns null, dt = the registration's day.
    m = 60
    reg_day = rng.integers(0, len(DAYS), m)
    registered_at = pd.to_datetime(np.array(DAYS)[reg_day]) + pd.to_timedelta(
        rng.choice(86_400, m, replace=False), unit="s"
    )
    unmatched = pd.DataFrame(
        {
            "partner": rng.choice(PARTNERS, m),
            "registered_at": registered_at.astype("datetime64[ms]"),
            "ip_country_code": rng.choice(COUNTRIES, m),
            "residency_country_code": rng.choice(COUNTRIES, m),
            "important_score": pd.array(rng.choice([0, 0, 10, 60, None], m), dtype="Int64"),
            "broker_source_file": "broker/beta/export.csv",
            "broker_source_line": pd.array(np.arange(2, m + 2), dtype="Int64"),
            "dt": np.array(DAYS)[reg_day],
        }
    )
    journeys = pd.concat([clicks, unmatched], ignore_index=True)
    journeys = journeys.astype({"is_mobile": "boolean"})
    journeys["clock_offset_s"] = np.where(journeys["partner"].notna(), 0.0, np.nan)
    return journeys[list(schema.UNIFIED_JOURNEYS.names) + ["dt"]]


def _make_quarantine(rng: np.random.Generator) -> pd.DataFrame:
    n = 40
    source = rng.choice(["conversions", "broker_alpha", "broker_beta"], n, p=[0.5, 0.3, 0.2])  # as template.yaml
    dt = rng.choice(DAYS, n)
    return pd.DataFrame(
        {
            "source": source,
            "source_file": np.where(source == "conversions", "conversions/batch1.csv", "broker/alpha/export.csv"),
            "source_line": rng.integers(2, 1000, n),
            "raw_line": "x;y;#REF!",
            "rule": rng.choice(RULES, n, p=[0.4, 0.3, 0.2, 0.1]),
            "column_name": "created_at",
            "value": "#REF!",
            "batch_id": "batch-1",
            "quarantined_at": pd.to_datetime(dt).astype("datetime64[ms]"),
            "dt": dt,
        }
    )


def _write_partitioned(df: pd.DataFrame, root: Path, arrow_schema: pa.Schema, partitions: list[str]) -> None:
    """Hive layout as the pipeline writes it: partition values in the path, two files per partition."""
    for values, part in df.groupby(partitions, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        folder = root.joinpath(*(f"{k}={v}" for k, v in zip(partitions, values)))
        folder.mkdir(parents=True, exist_ok=True)
        columns = [c for c in arrow_schema.names]  # partition columns absent from the schema stay in the path
        for i, chunk in enumerate(np.array_split(np.arange(len(part)), 2)):
            table = pa.Table.from_pandas(part.iloc[chunk][columns], schema=arrow_schema, preserve_index=False)
            pq.write_table(table, folder / f"part-{i}.parquet")


def _build_lake(root: Path, with_quarantine: bool = True) -> Lake:
    rng = np.random.default_rng(20240401)
    journeys = _make_journeys(rng)
    quarantine = _make_quarantine(rng)
    _write_partitioned(journeys, root / layout.UNIFIED_JOURNEYS, schema.UNIFIED_JOURNEYS, ["dt"])
    if with_quarantine:
        _write_partitioned(quarantine, root / layout.QUARANTINE, schema.QUARANTINE, ["source", "dt"])
    else:
        quarantine = quarantine.iloc[0:0]

    clicks = journeys[journeys.conversion_id.notna()]
    conversions = pd.DataFrame(
        {
            "conversion_id": clicks.conversion_id,
            "session_id": clicks.session_id,
            "country_name": None,
            "country_code": clicks.country_code,
            "is_mobile": clicks.is_mobile,
            "ui_element": clicks.ui_element,
            "measurement_category": clicks.measurement_category,
            "converted_at": clicks.converted_at,
            "quality_flags": "",
            "source_file": clicks.conversion_source_file,
            "source_line": clicks.conversion_source_line,
            "batch_id": "batch-1",
            "dt": clicks.dt,
        }
    )
    _write_partitioned(conversions, root / layout.CURATED_CONVERSIONS, schema.CURATED_CONVERSIONS, ["dt"])
    regs = journeys[journeys.partner.notna()]
    registrations = pd.DataFrame(
        {
            "registered_at": regs.registered_at,
            "residency_country_name": None,
            "residency_country_code": regs.residency_country_code,
            "ip_country_name": None,
            "ip_country_code": regs.ip_country_code,
            "important_score": regs.important_score,
            "click_id": pd.array([None] * len(regs), dtype="Int64"),
            "quality_flags": "",
            "source_file": regs.broker_source_file,
            "source_line": regs.broker_source_line,
            "batch_id": "batch-1",
            "partner": regs.partner,
            "dt": regs.registered_at.dt.strftime("%Y-%m-%d"),
        }
    )
    _write_partitioned(
        registrations, root / layout.CURATED_REGISTRATIONS, schema.CURATED_REGISTRATIONS, ["partner", "dt"]
    )
    folder = root / layout.CURATED_PAGE_CATEGORIES
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"page_category": PAGE_CATEGORIES, "measurement_category": ["01x/02y/03z"] * 5},
                 schema=schema.PAGE_CATEGORIES),
        folder / "mapping.parquet",
    )
    return Lake(root, journeys, quarantine)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    return _build_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def lake_without_quarantine(tmp_path_factory) -> Lake:
    return _build_lake(tmp_path_factory.mktemp("lake_noq"), with_quarantine=False)


# --------------------------------------------------------------------------------------------------
# Comparison helpers


def _param(sql: str, name: str) -> int:
    """A constant of a query's params CTE (`SELECT 30 AS min_clicks`), so checks follow edits."""
    match = re.search(rf"(\d+)\s+AS\s+{name}\b", sql, flags=re.IGNORECASE)
    assert match, f"no {name} in the params CTE"
    return int(match.group(1))


def _clicks(j: pd.DataFrame) -> pd.DataFrame:
    return j[j.conversion_id.notna()].copy()


def _linked(j: pd.DataFrame) -> pd.DataFrame:
    return j[j.conversion_id.notna() & j.partner.notna()].copy()


def _device(is_mobile: pd.Series, unknown="(unknown)") -> pd.Series:
    return is_mobile.map({True: "mobile", False: "desktop"}).astype(object).where(is_mobile.notna(), unknown)


def _ratio(num, den):
    num = pd.Series(num, dtype="float64") if not isinstance(num, pd.Series) else num.astype("float64")
    den = pd.Series(den, dtype="float64") if not isinstance(den, pd.Series) else den.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _same(a, b, tol: float) -> bool:
    a_missing = a is None or a is pd.NA or a is pd.NaT or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or b is pd.NA or b is pd.NaT or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return a_missing and b_missing
    if isinstance(a, (int, float, np.integer, np.floating)) and isinstance(b, (int, float, np.integer, np.floating)):
        return abs(float(a) - float(b)) <= tol
    if isinstance(a, (pd.Timestamp, np.datetime64)) or isinstance(b, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(a) == pd.Timestamp(b)
    return a == b


def assert_frame_matches(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    decimals: dict[str, int] | None = None,
) -> None:
    """Same columns in the same order, same rows (aligned on keys), numbers equal within the SQL's
    rounding: a value rounded to d decimals may differ from the exact one by half a unit of the last
    decimal (DuckDB rounds halves away from zero, numpy to even)."""
    decimals = decimals or {}
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected), (len(actual), len(expected))
    assert not actual.duplicated(keys).any() and not expected.duplicated(keys).any()

    def as_objects(df):
        return [tuple(None if pd.isna(v) else v for v in row)
                for row in df[keys].astype(object).itertuples(index=False)]

    a = actual.assign(_k=as_objects(actual)).set_index("_k")
    e = expected.assign(_k=as_objects(expected)).set_index("_k")
    assert set(a.index) == set(e.index), (set(a.index) ^ set(e.index))
    for column in expected.columns:
        tol = 0.5 * 10 ** -decimals[column] + 1e-9 if column in decimals else 1e-9
        for key in e.index:
            av, ev = a.at[key, column], e.at[key, column]
            assert _same(av, ev, tol), f"{column} at {key}: sql={av!r} pandas={ev!r}"


def assert_sorted(df: pd.DataFrame, by: list[str], ascending: list[bool]) -> None:
    """The SQL's ORDER BY holds on its result (nulls last, as in Trino and DuckDB)."""
    resorted = df.sort_values(by, ascending=ascending, na_position="last", kind="stable")
    assert list(resorted.index) == list(df.index), f"result not ordered by {by}"


# --------------------------------------------------------------------------------------------------
# One pandas checker per query file


def check_01(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    c = _clicks(lake.journeys)
    c["page_category"] = c.page_category.fillna("(unmapped)")
    c["registered"] = c.partner.notna()
    g = c.groupby("page_category").agg(clicks=("registered", "size"), registrations=("registered", "sum")).reset_index()
    g["registration_rate"] = _ratio(g.registrations, g.clicks)
    g["share_of_clicks"] = g.clicks / g.clicks.sum()
    assert_frame_matches(result, g, ["page_category"], {"registration_rate": 4, "share_of_clicks": 4})
    assert_sorted(result, ["clicks", "page_category"], [False, True])
    assert result.clicks.sum() == len(c)


def check_02(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    min_clicks, top_n = _param(sql, "min_clicks"), _param(sql, "top_n")
    c = _clicks(lake.journeys)
    c["ui_element"] = c.ui_element.fillna("(none)")
    c["registered"] = c.partner.notna()
    g = c.groupby("ui_element").agg(clicks=("registered", "size"), registrations=("registered", "sum")).reset_index()
    g = g.sort_values(["clicks", "ui_element"], ascending=[False, True]).reset_index(drop=True)
    g.insert(0, "click_rank", np.arange(1, len(g) + 1))
    overall = g.registrations.sum() / g.clicks.sum()
    g["registration_rate"] = _ratio(g.registrations, g.clicks)
    g["lift_vs_overall"] = g.registration_rate / overall
    g = g[(g.clicks >= min_clicks) & (g.click_rank <= top_n)]
    assert 0 < len(g) < c.ui_element.nunique(), "the synthetic data should exercise the min_clicks threshold"
    assert_frame_matches(result, g, ["ui_element"], {"registration_rate": 4, "lift_vs_overall": 3})
    assert list(result.click_rank) == sorted(result.click_rank)


def check_03(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    top = _param(sql, "top_countries")
    c = _clicks(lake.journeys)
    c["device"] = _device(c.is_mobile)
    c["country_code"] = c.country_code.fillna("(unknown)")
    c["registered"] = c.partner.notna()
    sizes = c.groupby("country_code").size().reset_index(name="n")
    sizes = sizes.sort_values(["n", "country_code"], ascending=[False, True]).reset_index(drop=True)
    rank = dict(zip(sizes.country_code, range(1, len(sizes) + 1)))
    c["country_rank"] = c.country_code.map(rank).clip(upper=top + 1)
    c["country"] = np.where(c.country_rank <= top, c.country_code, "(other)")
    assert (c.country == "(other)").any()
    g = (
        c.groupby(["country_rank", "country", "device"])
        .agg(clicks=("registered", "size"), registrations=("registered", "sum"))
        .reset_index()
    )
    g["registration_rate"] = _ratio(g.registrations, g.clicks)
    g["device_share_in_country"] = g.clicks / g.groupby("country").clicks.transform("sum")
    assert_frame_matches(
        result, g, ["country", "device"], {"registration_rate": 4, "device_share_in_country": 4}
    )
    assert_sorted(result, ["country_rank", "device"], [True, True])


DELAY_EDGES = [-np.inf, 0, 5, 15, 60, 300, 900, 3600, 21_600, 86_400, 259_200, np.inf]


def check_04(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    d = _linked(lake.journeys).registration_delay_s.dropna().astype(float)
    bucket = pd.cut(d, DELAY_EDGES, right=False, labels=False)
    rows = []
    for order in range(len(DELAY_EDGES) - 1):
        inside = d[bucket == order]
        rows.append(
            {
                "bucket_order": order,
                "registrations": len(inside),
                "min_delay_s": inside.min() if len(inside) else np.nan,
                "avg_delay_s": inside.mean() if len(inside) else np.nan,
                "max_delay_s": inside.max() if len(inside) else np.nan,
            }
        )
    e = pd.DataFrame(rows)
    e["share"] = e.registrations / len(d)
    e["cumulative_share"] = e.registrations.cumsum() / len(d)
    assert (e.registrations > 0).all(), "the synthetic data should fill every bucket"
    cols = ["bucket_order", "registrations", "share", "cumulative_share", "min_delay_s", "avg_delay_s", "max_delay_s"]
    assert_frame_matches(
        result[cols], e[cols], ["bucket_order"], {"share": 4, "cumulative_share": 4, "avg_delay_s": 1}
    )
    assert result.bucket.tolist()[:2] == ["negative (before click)", "0-5 s"] and result.bucket.is_unique
    assert list(result.bucket_order) == list(range(len(DELAY_EDGES) - 1))
    # approx_percentile (Athena) / approx_quantile (DuckDB) are approximate: near the exact quantiles.
    for column, q in [("overall_p50_delay_s", 0.5), ("overall_p90_delay_s", 0.9)]:
        assert result[column].nunique() == 1
        value = result[column].iloc[0]
        assert d.quantile(q - 0.05) - 0.05 <= value <= d.quantile(q + 0.05) + 0.05, (column, value)


def check_05(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    r = _linked(lake.journeys)
    r["page_category"] = r.page_category.fillna("(unmapped)")
    r["device"] = _device(r.is_mobile)
    r["country_code"] = r.country_code.fillna("(unknown)")
    r["score"] = r.important_score.astype("float64")
    parts = []
    for dimension in ["all", "page_category", "device", "country_code"]:
        keys = r[dimension] if dimension != "all" else pd.Series("all", index=r.index)
        g = r.groupby(keys).agg(
            registrations=("score", "size"),
            scored_registrations=("score", "count"),
            avg_score=("score", "mean"),
            positive=("score", lambda s: (s > 0).sum()),
            high_value_registrations=("score", lambda s: (s >= HIGH_VALUE).sum()),
        )
        g = g.reset_index(names="value")
        g["dimension"] = dimension
        for column in ["page_category", "device", "country_code"]:
            g[column] = g.value if column == dimension else None
        parts.append(g)
    e = pd.concat(parts, ignore_index=True)
    e["share_score_positive"] = _ratio(e.positive, e.scored_registrations)
    e["share_high_value"] = _ratio(e.high_value_registrations, e.scored_registrations)
    e = e[
        [
            "dimension", "page_category", "device", "country_code", "registrations", "scored_registrations",
            "avg_score", "share_score_positive", "high_value_registrations", "share_high_value",
        ]
    ]
    assert_frame_matches(
        result,
        e,
        ["dimension", "page_category", "device", "country_code"],
        {"avg_score": 2, "share_score_positive": 4, "share_high_value": 4},
    )
    order = result.dimension.map({"all": 0, "page_category": 1, "device": 2, "country_code": 3})
    assert order.is_monotonic_increasing
    for _, part in result.groupby("dimension"):
        assert part.registrations.is_monotonic_decreasing


def check_06(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    min_clicks = _param(sql, "min_clicks")
    c = _clicks(lake.journeys)
    c["page_category"] = c.page_category.fillna("(unmapped)")
    c["ui_element"] = c.ui_element.fillna("(none)")
    c["registered"] = c.partner.notna()
    score = c.important_score.astype("float64")
    c["scored"] = c.registered & score.notna()
    c["high"] = c.registered & (score >= HIGH_VALUE)
    g = (
        c.groupby(["page_category", "ui_element"])
        .agg(
            clicks=("registered", "size"),
            registrations=("registered", "sum"),
            scored=("scored", "sum"),
            high_value_registrations=("high", "sum"),
        )
        .reset_index()
    )
    g["high_value_share_of_registrations"] = _ratio(g.high_value_registrations, g.scored)
    g["high_value_per_1000_clicks"] = 1000 * g.high_value_registrations / g.clicks
    g = g[g.clicks >= min_clicks].drop(columns="scored")
    assert 0 < len(g) < c.groupby(["page_category", "ui_element"]).ngroups
    assert_frame_matches(
        result,
        g,
        ["page_category", "ui_element"],
        {"high_value_share_of_registrations": 4, "high_value_per_1000_clicks": 2},
    )
    assert_sorted(
        result,
        ["high_value_per_1000_clicks", "clicks", "page_category", "ui_element"],
        [False, False, True, True],
    )


WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}


def check_07(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    j = lake.journeys
    c = _clicks(j)
    c = c[c.converted_at.notna()]
    c["weekday"] = c.converted_at.dt.day_of_week + 1  # ISO: Monday = 1, like Trino's day_of_week
    c["hour_utc"] = c.converted_at.dt.hour
    c["registered"] = c.partner.notna()
    clicks = c.groupby(["weekday", "hour_utc"]).agg(
        clicks=("registered", "size"), registrations_from_clicks=("registered", "sum")
    )
    r = j[j.partner.notna() & j.registered_at.notna()]
    regs = (
        r.groupby([r.registered_at.dt.day_of_week + 1, r.registered_at.dt.hour])
        .size()
        .rename_axis(["weekday", "hour_utc"])
        .rename("registrations_at_time")
    )
    e = clicks.join(regs, how="outer").fillna(0).astype("int64").reset_index()
    e.insert(1, "weekday_name", e.weekday.map(WEEKDAYS))
    e.insert(5, "registration_rate", _ratio(e.registrations_from_clicks, e.clicks))
    assert (e.clicks == 0).any(), "some hours should have registrations but no clicks (full outer join)"
    assert_frame_matches(result, e, ["weekday", "hour_utc"], {"registration_rate": 4})
    assert_sorted(result, ["weekday", "hour_utc"], [True, True])
    assert result.clicks.sum() == len(c)


def check_08(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    r = _linked(lake.journeys)
    r = r[r.country_code.notna()]

    def summary(g: pd.DataFrame) -> pd.Series:
        ip, cc, res = g.ip_country_code, g.country_code, g.residency_country_code
        return pd.Series(
            {
                "registrations": len(g),
                "comparable": int(ip.notna().sum()),
                "ip_differs": int((ip.notna() & (ip != cc)).sum()),
                "residency_comparable": int((ip.notna() & res.notna()).sum()),
                "residency_differs": int((ip.notna() & res.notna() & (ip != res)).sum()),
            }
        )

    rows = [summary(g).rename(code) for code, g in r.groupby("country_code")]
    rows.append(summary(r).rename("(all)"))
    e = pd.DataFrame(rows).rename_axis("country_code").reset_index()
    e.insert(4, "cross_country_share", _ratio(e.ip_differs, e.comparable))
    e["residency_vs_ip_share"] = _ratio(e.residency_differs, e.residency_comparable)
    assert e.ip_differs.sum() > 0
    assert_frame_matches(result, e, ["country_code"], {"cross_country_share": 4, "residency_vs_ip_share": 4})
    assert result.country_code.iloc[0] == "(all)"
    assert result.registrations.iloc[1:].is_monotonic_decreasing


def check_09(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    j = lake.journeys
    regs = j[j.partner.notna()].copy()
    regs["day"] = regs.registered_at.dt.normalize()
    regs["linked"] = regs.conversion_id.notna()
    a = regs.groupby(["day", "partner"]).agg(numerator=("linked", "sum"), denominator=("linked", "size")).reset_index()
    a = a.rename(columns={"partner": "subject"}).assign(kpi="registration_link_rate", rule=None)
    c = _clicks(j)
    c["day"] = pd.to_datetime(c.dt)
    c["linked"] = c.partner.notna()
    b = c.groupby("day").agg(numerator=("linked", "sum"), denominator=("linked", "size")).reset_index()
    b = b.assign(kpi="click_link_rate", subject="(all)", rule=None)
    q = lake.quarantine.assign(day=pd.to_datetime(lake.quarantine.dt))
    q = q.groupby(["day", "source", "rule"]).size().rename("numerator").reset_index()
    q = q.rename(columns={"source": "subject"}).assign(kpi="quarantined_rows", denominator=np.nan)
    e = pd.concat([a, b, q], ignore_index=True)
    e["rate"] = _ratio(e.numerator, e.denominator)
    e = e[["kpi", "day", "subject", "rule", "numerator", "denominator", "rate"]]
    actual = result.assign(day=pd.to_datetime(result.day))
    assert_frame_matches(actual, e, ["kpi", "day", "subject", "rule"], {"rate": 4})
    assert set(result.kpi) == set(e.kpi)
    assert_sorted(actual, ["kpi", "day", "subject", "rule"], [True] * 4)


def check_10(result: pd.DataFrame, lake: Lake, sql: str) -> None:
    j = lake.journeys.copy()
    score = j.important_score.astype("float64")
    delay = j.registration_delay_s.astype("float64")
    bucket_names = ["negative (before click)", "0-5 s", "5-15 s", "15-60 s", "1-5 min", "5-15 min", "15-60 min",
                    "1-6 h", "6-24 h",
                    "1-3 days", "3+ days"]
    e = pd.DataFrame(
        {
            "journey_date": pd.to_datetime(j.dt),
            "journey_type": np.select(
                [j.conversion_id.isna(), j.partner.isna()],
                ["registration without click", "click without registration"],
                "click with registration",
            ),
            "conversion_id": j.conversion_id,
            "session_id": j.session_id,
            "partner": j.partner,
            "page_category": j.page_category.fillna("(unmapped)"),
            "ui_element": j.ui_element,
            "measurement_category": j.measurement_category,
            "device": _device(j.is_mobile, unknown=None),
            "country_code": j.country_code,
            "ip_country_code": j.ip_country_code,
            "residency_country_code": j.residency_country_code,
            "converted_at": j.converted_at,
            "registered_at": j.registered_at,
            "click_hour_utc": j.converted_at.dt.hour,
            "click_weekday": j.converted_at.dt.day_of_week + 1,
            "click_weekday_name": (j.converted_at.dt.day_of_week + 1).map(
                lambda d: f"{int(d)} {WEEKDAYS[d]}" if d == d else None),
            "registration_delay_s": delay,
            "delay_bucket": pd.cut(delay, DELAY_EDGES, right=False, labels=bucket_names).astype(object),
            "important_score": score,
            "score_band": np.select(
                [score.isna(), score >= HIGH_VALUE, score > 0], [None, "high (50-100)", "low (1-49)"], "zero"
            ),
            "click_flag": j.conversion_id.notna().astype(int),
            "registered_flag": j.partner.notna().astype(int),
            "linked_flag": (j.conversion_id.notna() & j.partner.notna()).astype(int),
            "high_value_flag": (score >= HIGH_VALUE).astype(int),
            "cross_country_flag": (
                j.ip_country_code.notna() & j.country_code.notna() & (j.ip_country_code != j.country_code)
            ).astype(int),
            "match_confidence": j.match_confidence,
            "match_rule": j.match_rule,
            "dt": j.dt,
        }
    )
    actual = result.assign(journey_date=pd.to_datetime(result.journey_date))
    # Rows are matched on conversion_id (clicks) or (partner, registered_at) (unique in this data).
    key = ["conversion_id", "partner", "registered_at"]
    assert_frame_matches(actual, e, key)
    assert set(result.click_flag) == {0, 1} and set(result.high_value_flag) == {0, 1}


CHECKERS = {
    "01_registration_rate_by_page_category.sql": check_01,
    "02_registration_rate_by_ui_element.sql": check_02,
    "03_registration_rate_by_device_and_country.sql": check_03,
    "04_registration_delay_distribution.sql": check_04,
    "05_important_score_by_entry_page_device_country.sql": check_05,
    "06_high_value_share_by_entry_point.sql": check_06,
    "07_hour_and_weekday_patterns.sql": check_07,
    "08_cross_country_vpn_registrations.sql": check_08,
    "09_data_quality_kpis.sql": check_09,
    "10_quicksight_view.sql": check_10,
}


# --------------------------------------------------------------------------------------------------
# The tests


def test_there_are_queries_and_each_has_a_checker():
    assert len(QUERY_FILES) >= 9
    assert set(CHECKERS) <= {p.name for p in QUERY_FILES}, "a checker names a query file that is gone"


@pytest.mark.parametrize("sql_path", QUERY_FILES, ids=lambda p: p.name)
def test_query_matches_pandas(sql_path: Path, lake: Lake):
    checker = CHECKERS.get(sql_path.name)
    assert checker is not None, f"{sql_path.name} has no pandas checker in CHECKERS: add one"
    result = run_query_file(lake.root, sql_path)
    assert len(result) > 0
    checker(result, lake, sql_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("sql_path", QUERY_FILES, ids=lambda p: p.name)
def test_query_file_is_valid_athena_sql(sql_path: Path):
    """One statement, a leading comment block with the question, only lake tables, and no division
    that Athena would do as integer (or decimal) arithmetic while DuckDB does it in double."""
    sql = sql_path.read_text(encoding="utf-8")
    first_lines = sql.lstrip().splitlines()[:2]
    assert all(line.startswith("--") for line in first_lines), "start with a -- comment block"
    assert "question" in first_lines[0].lower(), "the first comment line states the product question"

    sqlglot.parse(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)  # plain Trino accepts it too
    statements = [s for s in sqlglot.parse(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE) if s is not None]
    assert len(statements) == 1, "one query per file"
    tree = statements[0]
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = {t.name for t in tree.find_all(exp.Table)} - ctes
    if isinstance(tree, exp.Create):
        assert str(tree.args["kind"]).upper() == "VIEW"
        tables -= {tree.this.name}
    assert tables <= set(LAKE_TABLES), tables - set(LAKE_TABLES)

    typed = local_sql._with_types(tree, local_sql.lake_sqlglot_schema())
    for division in typed.find_all(exp.Div):
        operand_types = {division.this.type.this, division.expression.type.this}
        assert operand_types & {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}, (
            f"{division.sql('athena')}: cast one side to double (Trino divides integers as integers)"
        )
        for literal in division.find_all(exp.Literal):
            if literal.is_number and not isinstance(literal.parent, exp.Cast):
                assert re.fullmatch(r"\d+", literal.this), (
                    f"{literal.sql()} in {division.sql('athena')}: Trino reads it as DECIMAL, DuckDB as DOUBLE"
                )


def test_every_query_runs_on_an_empty_lake(tmp_path: Path):
    """No table has files yet: empty views with the right columns, every query still runs."""
    con = connect_lake(tmp_path)
    for name, table in LAKE_TABLES.items():
        described = con.execute(f'DESCRIBE "{name}"').fetchall()
        assert [row[0] for row in described] == table.arrow_schema().names
    for sql_path in QUERY_FILES:
        result = run_query_file(tmp_path, sql_path)
        if sql_path.name.startswith("04_"):
            assert list(result.registrations) == [0] * (len(DELAY_EDGES) - 1)  # every bucket, even without data
        elif sql_path.name.startswith(("05_", "08_")):  # GROUPING SETS (..., ()): the grand total row
            assert len(result) == 1 and result.registrations.tolist() == [0], sql_path.name
            assert (result.select_dtypes("number").iloc[0].drop("registrations").fillna(0) == 0).all()
        else:
            assert result.empty, sql_path.name


def test_lake_without_quarantine_runs_the_quality_query(lake_without_quarantine: Lake):
    con = connect_lake(lake_without_quarantine.root)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    described = [r[0] for r in con.execute("DESCRIBE quarantine").fetchall()]
    assert described == list(schema.QUARANTINE.names) + ["source", "dt"]
    sql_path = next(p for p in QUERY_FILES if p.name.startswith("09_"))
    result = run_query_file(lake_without_quarantine.root, sql_path)
    assert "quarantined_rows" not in set(result.kpi)
    check_09(result, lake_without_quarantine, sql_path.read_text())


def test_partition_columns_are_varchar_like_in_athena(lake: Lake):
    con = connect_lake(lake.root)
    expected = {
        "unified_journeys": {"dt"},
        "curated_conversions": {"dt"},
        "curated_broker_registrations": {"partner", "dt"},
        "quarantine": {"source", "dt"},
    }
    for table, partitions in expected.items():
        types = {row[0]: row[1] for row in con.execute(f"DESCRIBE {table}").fetchall()}
        for column in partitions:
            assert types[column] == "VARCHAR", (table, column, types[column])
    # A date-looking partition value stays a string: comparing it to a date needs a cast, as on Athena.
    assert con.execute("SELECT typeof(min(dt)), min(dt) FROM unified_journeys").fetchone() == ("VARCHAR", DAYS[0])
    assert con.execute("SELECT count(*) FROM unified_journeys").fetchone()[0] == len(lake.journeys)
    # The partition value wins over a file column of the same name (quarantine's source).
    sources = con.execute("SELECT DISTINCT source FROM quarantine ORDER BY 1").fetchall()
    assert sources == [("broker_alpha",), ("broker_beta",), ("conversions",)]


def test_translation_renames_trino_functions():
    cases = {
        "SELECT day_of_week(converted_at) FROM unified_journeys": "ISODOW(",
        "SELECT approx_percentile(registration_delay_s, 0.5) FROM unified_journeys": "APPROX_QUANTILE(",
        "SELECT date_parse(dt, '%Y-%m-%d') FROM unified_journeys": "STRPTIME(",
        "SELECT element_at(ARRAY['a', 'b'], 1)": "['a', 'b'][1]",
        "SELECT date_format(converted_at, '%W') FROM unified_journeys": "'%A'",  # weekday name
    }
    for athena_sql, duckdb_fragment in cases.items():
        translated = athena_to_duckdb(athena_sql)
        assert duckdb_fragment in translated, (athena_sql, translated)
        assert translated != athena_sql
    # count_if: BIGINT and 0 over no rows in Trino, HUGEINT and NULL in DuckDB; translated to count(CASE).
    assert "COUNT(CASE WHEN" in athena_to_duckdb("SELECT count_if(is_mobile) FROM unified_journeys")
    con = duckdb.connect()
    empty = con.execute(athena_to_duckdb("SELECT count_if(x) AS n FROM (VALUES (true)) AS t (x) WHERE false")).df()
    assert empty.n.tolist() == [0] and str(empty.n.dtype) == "int64"


def test_integer_division_stays_integer_like_in_athena(lake: Lake):
    """Trino: 7 / 2 = 3 and count / count is integer division. DuckDB's '/' is always a double."""
    con = connect_lake(lake.root)
    assert run_sql(con, "SELECT 7 / 2 AS x").x.tolist() == [3]
    sql = ("SELECT count_if(partner IS NOT NULL) / count(*) AS rate FROM unified_journeys "
           "WHERE conversion_id IS NOT NULL")
    assert run_sql(con, sql).rate.tolist() == [0]  # what Athena returns: the reason queries cast to double
    untyped = con.execute(athena_to_duckdb(sql, types={})).fetchone()[0]
    assert 0 < untyped < 1  # a plain sqlglot transpile would silently differ from Athena
    assert run_sql(con, "SELECT CAST(count(*) AS double) / 2 AS x FROM page_categories").x.tolist() == [2.5]


def test_view_file_creates_the_view(lake: Lake):
    con = connect_lake(lake.root)
    sql_path = next(p for p in QUERY_FILES if "CREATE OR REPLACE VIEW" in p.read_text().upper())
    rows = run_sql(con, sql_path.read_text())
    assert len(rows) == len(lake.journeys)
    again = run_sql(con, "SELECT sum(registered_flag) AS n FROM journeys_for_quicksight")
    assert again.n.tolist() == [lake.journeys.partner.notna().sum()]
    assert con.execute("SELECT typeof(journey_date) FROM journeys_for_quicksight LIMIT 1").fetchone() == ("DATE",)


def test_list_query_files_finds_the_repo_folder():
    folder = local_sql.queries_dir()
    assert folder.name == "athena_queries" and (folder / "README.md").is_file()
    assert QUERY_FILES == sorted(folder.glob("*.sql"))
    readme = (folder / "README.md").read_text(encoding="utf-8")
    for path in QUERY_FILES:
        assert path.name in readme, f"{path.name} is not listed in athena_queries/README.md"
