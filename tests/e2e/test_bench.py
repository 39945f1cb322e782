"""`bcjourney bench` at a toy size: every workload runs beside its baselines and reports ratios (the timings
themselves are not asserted: speed targets live in the benchmark's own output, not in tests)."""

from bcjourney_tools.bench import run_benchmarks


def test_bench_reports_each_workload_beside_its_baselines(tmp_path):
    lines = []
    results = run_benchmarks(ingest_mb=1, match_clicks=30_000, match_registrations=20_000, seed=3, workdir=tmp_path,
                             hostile_blank_lines=300_000, hostile_line_bytes=3 * 1024 * 1024, echo=lines.append,
                             scaling_base=1_000, only={"ingest", "match", "scaling", "hostile"})
    ingest, match, hostile = results["ingest"], results["match"], results["hostile"]
    assert set(ingest) == {"sorted", "single_day", "interleaved"}
    for shape in ingest.values():
        assert shape["rows"] > 5_000 and shape["throughput_ratio"] > 0 and shape["peak_rss_mb"] > 0
    assert len({shape["rows"] for shape in ingest.values()}) == 1  # the same rows in three shapes
    assert 17_000 < match["registrations"] < 23_000 and match["clicks"] > 27_000 and match["days"] >= 1
    assert match["time_ratio"] > 0 and match["time_ratio_same_output"] > 0
    assert match["linked_share"] > 0.95  # the same data the baseline joined, matched for real
    assert list((tmp_path / "match" / "asof_out").glob("dt=*/*.parquet"))  # the baseline wrote its output
    assert any(line.startswith("match:") and "writing day partitions" in line for line in lines)
    # the scaling curve: one day at 1x, 4x, 16x, each beside the ASOF FULL JOIN, and the slope printed
    scaling = results["scaling"]
    assert [p["factor"] for p in scaling["points"]] == [1, 4, 16]
    clicks = [p["clicks"] for p in scaling["points"]]
    assert clicks[0] < clicks[1] < clicks[2] and all(p["match_ratio_to_asof"] > 0 for p in scaling["points"])
    assert set(scaling["slopes"]) == {"match", "ingest", "asof"}
    assert any(line.startswith("scaling: log-log slope") for line in lines)
    # the hostile files are accounted for, line by line, and measured beside a normal one
    assert (hostile["blank_lines"]["blank_lines"], hostile["blank_lines"]["rows_in"]) == (300_000, 0)
    assert hostile["no_newline"]["quarantined_by_rule"] == {"line_too_long": 1}
    assert hostile["normal"]["curated"] > 1_000 and hostile["peak_rss_ratio_to_normal"] > 0


def test_a_failing_benchmark_raises_instead_of_waiting_for_its_report():
    import os

    import pytest
    from bcjourney_tools.bench import measure

    with pytest.raises(RuntimeError, match="benchmark boom failed"):
        measure("boom", os.listdir, "/no/such/folder")


def test_bench_startup_measures_a_handler_in_a_fresh_process():
    from bcjourney_tools.bench_startup import TARGET_SECONDS, format, measure_import_times

    (row,) = measure_import_times(repeats=1, handlers=("freshness",), modes=("untraced",))
    assert row["handler"] == "freshness" and 0 < row["import_s"] < 30
    assert "aws_xray_sdk" not in row["after_import"], "untraced: the X-Ray SDK is not imported"
    assert row["within_target"] == (row["import_s"] <= TARGET_SECONDS)
    assert "freshness" in format([row], details=False)
