"""`bcjourney bench`: each workload timed beside its baseline in the same run, reported as a ratio.

- ingest: our ingest of a generated conversions file (default about 1 GB) against a plain pyarrow
  CSV-to-Parquet conversion of the same file; plus our peak RSS (target: under 1 GB).
- match: our matching of generated registrations against clicks, in batches of days as `bcjourney run`
  matches a backfill (the match handler reading, linking and writing each day's unified partition, one worker
  process per CPU; DuckDB uses as many threads), against DuckDB's ASOF JOIN
  (nearest earlier click of the same country) on the same data, counted only (the issue's baseline) and
  writing what unified/journeys holds (an ASOF FULL JOIN: every click, every registration) as day
  partitions (the same output); plus peak RSS.
- scaling: one busy day at 1x, 4x and 16x a base density (clicks per day): our ingest and our match of that day
  (the match Lambda's unit of work), each timed with its peak RSS, beside DuckDB's ASOF FULL JOIN writing the same
  output; the log-log slope of time against size says whether the cost stays linear (1.0) as a day gets busier.
- startup: each Lambda handler's cold import (and first call) in fresh processes with a Lambda-like environment,
  traced and untraced, against the issue's 0.5 s (bench_startup).
- hostile: our ingest of two small gzip files that expand to something no row can be made of (millions of
  blank lines; one line of gigabytes with no newline), beside our ingest of a normal file of the same
  compressed size; peak RSS against the target of 1 GB, and every line accounted for.

Every workload runs in a fresh child process, so its peak RSS is its own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue as queue_module
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bcjourney.storage.tables import PARQUET_CODEC  # baselines write with our codec: the same output, the same work

MB = 1024 * 1024


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_rss_mb: float
    detail: dict


def _child(target: Callable[..., dict], args: tuple, queue) -> None:
    started = time.perf_counter()
    detail = target(*args)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    # worker processes of its own: the largest of them, counted once per worker (an upper bound on the sum)
    workers = detail.get("workers", 0) if isinstance(detail, dict) else 0
    if workers > 1:
        peak += workers * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put((seconds, peak, detail))


def measure(name: str, target: Callable[..., dict], *args) -> Measurement:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    # a child that dies never reports: wait for its report or its end, whichever comes first
    while True:
        try:
            seconds, peak, detail = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not process.is_alive() and queue.empty():
                raise RuntimeError(f"benchmark {name} failed (exit {process.exitcode}); its error is above") from None
    process.join()
    if process.exitcode:
        raise RuntimeError(f"benchmark {name} failed (exit {process.exitcode})")
    return Measurement(name, seconds, peak, detail)


# --- workloads (module-level so the spawned child can import them) ---------------------------------------

SHAPES = ("sorted", "single_day", "interleaved")


def make_conversions_file(workdir: Path, target_mb: int, seed: int, shape: str = "sorted") -> Path:
    """One conversions file of about target_mb, made from generated days (written day by day), in one of three
    shapes: `sorted` (the days one after another, as an export is), `single_day` (every row moved to the first
    day: one partition as large as the file) or `interleaved` (the days' rows mixed in runs of 100 lines, so
    every block of the file touches every day)."""
    import re

    from .generate import generate

    per_day = 100_000
    days = max(1, round(target_mb * MB / (per_day * 104)))  # a generated conversion line is ~104 bytes
    generated = workdir / f"generated-{shape}"
    generate(generated, days=days, per_day=per_day, seed=seed)
    landing = workdir / "landing" / "conversions"
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / f"conversions_{shape}.csv"
    parts = sorted((generated / "conversions").glob("*.csv"))
    with open(target, "wb") as out:
        handles = [open(part, "rb") for part in parts]
        try:
            out.write(handles[0].readline())
            for handle in handles[1:]:
                handle.readline()  # one header only
            if shape == "interleaved":
                while handles:
                    for handle in list(handles):
                        run = [line for _, line in zip(range(100), handle)]
                        out.writelines(run)
                        if len(run) < 100:
                            handles.remove(handle)
            else:
                first_day = re.search(rb"\d{8}", parts[0].name.encode()).group()
                first_day = first_day[:4] + b"-" + first_day[4:6] + b"-" + first_day[6:]
                for handle in handles:
                    while block := handle.read(16 * MB):
                        block += handle.readline()  # whole lines
                        if shape == "single_day":
                            block = re.sub(rb";\d{4}-\d{2}-\d{2} ", b";" + first_day + b" ", block)
                        out.write(block)
        finally:
            for handle in handles:
                handle.close()
    shutil.rmtree(generated)
    return target


def ingest_workload(landing: str, key: str, lake: str) -> dict:
    from bcjourney.ingest.service import ingest_object
    from bcjourney.storage import LocalStorage

    report = ingest_object(LocalStorage(landing), key, LocalStorage(lake)).report
    return {"rows_in": report.rows_in, "curated": report.curated, "quarantined": report.quarantined,
            "blank_lines": report.blank_lines, "quarantined_by_rule": report.quarantined_by_rule}


def pyarrow_csv_to_parquet(path: str, out: str) -> dict:
    """The baseline: read the CSV with pyarrow's streaming reader and write Parquet, nothing else."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=";"),
                            read_options=pacsv.ReadOptions(block_size=16 * MB))
    rows = 0
    with pq.ParquetWriter(out, reader.schema, compression=PARQUET_CODEC) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return {"rows": rows}


def make_hostile_files(workdir: Path, blank_lines: int, long_line_bytes: int, seed: int) -> dict[str, str]:
    """Landing keys of the hostile files (and of a normal file as large, compressed), written in bounded memory."""
    import gzip

    from .generate import generate

    conversions = workdir / "landing" / "conversions"
    conversions.mkdir(parents=True)
    header = b"id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category\n"
    with gzip.open(conversions / "blank_lines.csv.gz", "wb", compresslevel=9) as out:
        out.write(header)
        for start in range(0, blank_lines, 1_000_000):
            out.write(b"\n" * min(1_000_000, blank_lines - start))
    with gzip.open(conversions / "no_newline.csv.gz", "wb", compresslevel=9) as out:
        out.write(header)
        block = b"x" * (16 * MB)
        for start in range(0, long_line_bytes, len(block)):
            out.write(block[:min(len(block), long_line_bytes - start)])
    hostile_size = max((conversions / n).stat().st_size for n in ("blank_lines.csv.gz", "no_newline.csv.gz"))
    generate(workdir / "generated", days=1, per_day=max(1_000, hostile_size // 40), seed=seed)  # ~40 B/row gzipped
    plain = sorted((workdir / "generated" / "conversions").glob("*.csv"))[0]
    with open(plain, "rb") as source, gzip.open(conversions / "normal.csv.gz", "wb") as out:
        shutil.copyfileobj(source, out, 16 * MB)
    shutil.rmtree(workdir / "generated")
    return {"blank_lines": "conversions/blank_lines.csv.gz", "no_newline": "conversions/no_newline.csv.gz",
            "normal": "conversions/normal.csv.gz"}


def match_workload(lake: str, days: list[str]) -> dict:
    """Match every day and write its unified partition as `bcjourney run` does: the match handler over
    batches of days, one worker process per CPU."""

    from .local.runner import local_environment, match_locally

    workers = os.cpu_count() or 1
    with local_environment(None, Path(lake)):
        results = match_locally(days, workers=workers)
    return {"registrations": sum(r["registrations"] for r in results),
            "clicks": sum(r["conversions"] for r in results),
            "linked": sum(r["linked"] for r in results), "workers": workers}


def _asof_join(lake: str, kind: str):
    """A DuckDB connection with as many threads as our workers, and the baseline's FROM clause: each
    registration with the nearest earlier click of the same country (an ASOF `kind` JOIN)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    clicks = f"{lake}/curated/conversions/**/*.parquet"
    regs = f"{lake}/curated/broker_registrations/**/*.parquet"
    return con, (f"FROM read_parquet('{regs}') r ASOF {kind} JOIN read_parquet('{clicks}') c "
                 "ON r.ip_country_code = c.country_code AND r.registered_at >= c.converted_at")


def duckdb_asof_join(lake: str) -> dict:
    """The baseline: the ASOF JOIN, counted."""
    con, joined = _asof_join(lake, "LEFT")
    row = con.execute(f"SELECT count(*), count(c.conversion_id) {joined}").fetchone()
    return {"registrations": row[0], "linked": row[1]}


def duckdb_asof_join_written(lake: str, out: str) -> dict:
    """The same join writing what unified/journeys holds: every click with its registration, if any, and every
    registration without a click (an ASOF FULL JOIN), as day partitions of Parquet. The baseline for the same
    input and the same output."""
    con, joined = _asof_join(lake, "FULL")
    con.execute(
        "COPY (SELECT c.conversion_id, c.session_id, c.is_mobile, c.ui_element, c.measurement_category, "
        "c.converted_at, c.country_code, r.registered_at, r.ip_country_code, r.residency_country_code, "
        "r.important_score, epoch(r.registered_at) - epoch(c.converted_at) AS registration_delay_s, "
        "c.source_file AS conversion_source_file, c.source_line AS conversion_source_line, "
        "r.source_file AS broker_source_file, r.source_line AS broker_source_line, "
        f"strftime(coalesce(c.converted_at, r.registered_at), '%Y-%m-%d') AS dt {joined}) "
        f"TO '{out}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION {PARQUET_CODEC})")
    return {}


# Registrations per click the generator gives at its default rate of 0.95 (bots and repeated clicks never register;
# a few registrations have no click)
_REGISTRATIONS_PER_CLICK_AT_DEFAULT = 0.968


def prepare_match_lake(workdir: Path, clicks: int, registrations: int, seed: int,
                       per_day: int = 25_000) -> tuple[Path, list[str]]:
    """Generated landing data of about `clicks` clicks and `registrations` registrations, ingested into a lake
    (not timed)."""
    from bcjourney.ingest.service import ingest_object
    from bcjourney.storage import LocalStorage

    from .generate import generate

    days = max(1, clicks // per_day)
    rate = min(0.95, 0.95 * registrations / clicks / _REGISTRATIONS_PER_CLICK_AT_DEFAULT)
    generate(workdir / "landing", days=days, per_day=per_day, seed=seed, registration_rate=rate)
    landing, lake = LocalStorage(workdir / "landing"), LocalStorage(workdir / "lake")
    touched: set[str] = set()
    for key in landing.list_keys("conversions/") + landing.list_keys("broker/"):
        touched.update(ingest_object(landing, key, lake).days)
    return workdir / "lake", sorted(touched)


def ingest_landing_workload(landing: str, lake: str) -> dict:
    """Every landing file of a generated day through our ingest, one after another."""
    from bcjourney.ingest.service import ingest_object
    from bcjourney.storage import LocalStorage

    source, target = LocalStorage(landing), LocalStorage(lake)
    days: set[str] = set()
    for key in source.list_keys("reference/") + source.list_keys("conversions/") + source.list_keys("broker/"):
        days.update(ingest_object(source, key, target).days)
    return {"days": sorted(days)}


SCALING_FACTORS = (1, 4, 16)


def scaling_curve(root: Path, base: int, seed: int, echo: Callable[[str], None]) -> dict:
    """Ingest and match of one generated day at each factor of `base` clicks per day, beside the ASOF FULL JOIN
    writing the same output; with the log-log slope of each against the clicks."""
    from .generate import generate

    points = []
    for factor in SCALING_FACTORS:
        work = root / "scaling" / f"x{factor}"
        generate(work / "landing", days=1, per_day=base * factor, seed=seed)
        ingest = measure("scaling-ingest", ingest_landing_workload, str(work / "landing"), str(work / "lake"))
        days = ingest.detail["days"]
        ours = measure("scaling-match", match_workload, str(work / "lake"), days)
        asof = measure("scaling-asof", duckdb_asof_join_written, str(work / "lake"), str(work / "asof_out"))
        point = {"factor": factor, "clicks": ours.detail["clicks"], "registrations": ours.detail["registrations"],
                 "ingest_seconds": round(ingest.seconds, 2), "ingest_peak_rss_mb": round(ingest.peak_rss_mb),
                 "match_seconds": round(ours.seconds, 2), "match_peak_rss_mb": round(ours.peak_rss_mb),
                 "asof_seconds": round(asof.seconds, 2), "asof_peak_rss_mb": round(asof.peak_rss_mb),
                 "match_ratio_to_asof": round(ours.seconds / asof.seconds, 2)}
        points.append(point)
        echo(f"scaling {factor}x: {point['clicks']:,} clicks, match {point['match_seconds']} s "
             f"({point['match_peak_rss_mb']} MB), {point['match_ratio_to_asof']}x the ASOF FULL JOIN "
             f"({point['asof_seconds']} s); ingest {point['ingest_seconds']} s ({point['ingest_peak_rss_mb']} MB)")
        shutil.rmtree(work, ignore_errors=True)
    slopes = {name: loglog_slope([p["clicks"] for p in points], [p[f"{name}_seconds"] for p in points])
              for name in ("match", "ingest", "asof")}
    echo(f"scaling: log-log slope of time against clicks per day: match {slopes['match']}, ingest "
         f"{slopes['ingest']}, ASOF {slopes['asof']} (1.0 is linear)")
    return {"base": base, "points": points, "slopes": slopes}


def loglog_slope(sizes: list[float], seconds: list[float]) -> float:
    """The least-squares slope of log(seconds) against log(size)."""
    import numpy as np

    x, y = np.log(np.asarray(sizes, dtype=float)), np.log(np.maximum(np.asarray(seconds, dtype=float), 1e-3))
    return round(float(np.polyfit(x, y, 1)[0]), 2)


# --- the command ---------------------------------------------------------------------------------------------

def run_benchmarks(ingest_mb: int = 1024, match_clicks: int = 1_500_000, match_registrations: int = 1_000_000,
                   seed: int = 7, hostile_blank_lines: int = 20_000_000, hostile_line_bytes: int = 2_500 * MB,
                   workdir: Path | None = None, only: set[str] | None = None,
                   echo: Callable[[str], None] = print, scaling_base: int = 20_000) -> dict:
    """Each workload of `only` (default all); `scaling_base`: clicks per day of the scaling curve's 1x (its 16x
    is 16 times that: the default stays short; the issue's sizes are --only scaling with a base of 250,000)."""
    root = Path(workdir or tempfile.mkdtemp(prefix="bcjourney-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    try:
        if not only or "ingest" in only:
            results["ingest"] = {}
            for shape in SHAPES:
                echo(f"ingest: generating a ~{ingest_mb} MB conversions file, {shape} ...")
                path = make_conversions_file(root / "ingest", ingest_mb, seed, shape)
                size_mb = path.stat().st_size / MB
                ours = measure("ingest", ingest_workload, str(root / "ingest" / "landing"),
                               f"conversions/{path.name}", str(root / "ingest" / f"lake-{shape}"))
                base = measure("pyarrow", pyarrow_csv_to_parquet, str(path), str(root / "ingest" / "baseline.parquet"))
                results["ingest"][shape] = {
                    "file_mb": round(size_mb, 1), "rows": ours.detail["rows_in"],
                    "seconds": round(ours.seconds, 2), "baseline_seconds": round(base.seconds, 2),
                    "throughput_ratio": round(base.seconds / ours.seconds, 3),  # target >= 0.5
                    "mb_per_s": round(size_mb / ours.seconds, 1),
                    "peak_rss_mb": round(ours.peak_rss_mb), "baseline_peak_rss_mb": round(base.peak_rss_mb),
                }
                path.unlink()
                echo(_line(f"ingest {shape}", results["ingest"][shape], "throughput_ratio", ">= 0.5",
                           1229 if shape == "single_day" else 1024))
        if not only or "match" in only:
            echo(f"match: generating and ingesting ~{match_registrations:,} registrations and ~{match_clicks:,} "
                 "clicks ...")
            lake, days = prepare_match_lake(root / "match", match_clicks, match_registrations, seed)
            ours = measure("match", match_workload, str(lake), days)
            base = measure("duckdb-asof", duckdb_asof_join, str(lake))
            written = measure("duckdb-asof-written", duckdb_asof_join_written, str(lake),
                              str(root / "match" / "asof_out"))
            results["match"] = {
                "registrations": ours.detail["registrations"], "clicks": ours.detail["clicks"], "days": len(days),
                "seconds": round(ours.seconds, 2), "baseline_seconds": round(base.seconds, 2),
                "time_ratio": round(ours.seconds / base.seconds, 2),  # target <= 2
                "written_baseline_seconds": round(written.seconds, 2),
                "time_ratio_same_output": round(ours.seconds / written.seconds, 2),
                "peak_rss_mb": round(ours.peak_rss_mb), "baseline_peak_rss_mb": round(base.peak_rss_mb),
                "linked_share": round(ours.detail["linked"] / max(ours.detail["registrations"], 1), 4),
                "baseline_linked_share": round(base.detail["linked"] / max(base.detail["registrations"], 1), 4),
            }
            echo(_line("match", results["match"], "time_ratio", "<= 2", 2048)
                 + f"\n  against the ASOF JOIN writing day partitions too: "
                   f"{results['match']['time_ratio_same_output']} ({results['match']['written_baseline_seconds']} s)")
        if not only or "scaling" in only:
            echo(f"scaling: one day at {', '.join(f'{f}x' for f in SCALING_FACTORS)} {scaling_base:,} clicks ...")
            results["scaling"] = scaling_curve(root, scaling_base, seed, echo)
        if not only or "startup" in only:
            from . import bench_startup

            echo("startup: each handler's cold import in fresh processes, traced and untraced (median of 3) ...")
            results["startup"] = bench_startup.measure_import_times(repeats=3)
            echo(bench_startup.format(results["startup"], details=False))
        if not only or "hostile" in only:
            echo(f"hostile: writing {hostile_blank_lines:,} blank lines and a {hostile_line_bytes / MB:,.0f} MB line "
                 "with no newline, gzipped ...")
            keys = make_hostile_files(root / "hostile", hostile_blank_lines, hostile_line_bytes, seed)
            landing = root / "hostile" / "landing"
            runs = {name: measure(f"hostile-{name}", ingest_workload, str(landing), key,
                                  str(root / "hostile" / f"lake-{name}")) for name, key in keys.items()}
            results["hostile"] = {
                name: {"compressed_mb": round((landing / keys[name]).stat().st_size / MB, 2),
                       "seconds": round(m.seconds, 2), "peak_rss_mb": round(m.peak_rss_mb), **m.detail}
                for name, m in runs.items()}
            worst = max(results["hostile"][n]["peak_rss_mb"] for n in ("blank_lines", "no_newline"))
            normal_rss = results["hostile"]["normal"]["peak_rss_mb"]
            results["hostile"]["peak_rss_ratio_to_normal"] = round(worst / normal_rss, 2)
            echo(f"hostile: peak RSS {worst} MB at most (target < 1024 MB), "
                 f"{results['hostile']['peak_rss_ratio_to_normal']}x a normal file of the same compressed size\n  "
                 + json.dumps(results["hostile"]))
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return results


def _line(name: str, result: dict, ratio_key: str, target: str, rss_target_mb: int) -> str:
    return (f"{name}: {result[ratio_key]} ({ratio_key.replace('_', ' ')}, target {target}); "
            f"{result['seconds']} s vs baseline {result['baseline_seconds']} s; "
            f"peak RSS {result['peak_rss_mb']} MB (target < {rss_target_mb} MB)\n  " + json.dumps(result))
