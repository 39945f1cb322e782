"""The command line: `bcjourney run | generate | query | report | evaluate | bench` (see README and the contract)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _bar_factory():
    try:
        from tqdm import tqdm
    except ImportError:  # the CLI works without the [local] extra, only without bars
        return None
    return tqdm


def cmd_run(args) -> int:
    from .local.runner import run

    tqdm = _bar_factory()
    if tqdm is not None:
        tqdm.monitor_interval = 0  # no monitor thread: matching forks worker processes
    bars: dict = {}

    def progress(stage: str, advance: int, total: int | None) -> None:
        if tqdm is None or args.quiet:
            return
        if stage not in bars:
            label = {"files": "files ingested", "rows": "rows read", "days": "days matched"}[stage]
            bars[stage] = tqdm(total=total, desc=label, unit=" rows" if stage == "rows" else "",
                               leave=False, file=sys.stderr, unit_scale=stage == "rows")
        bars[stage].update(advance)

    try:
        summary = run(Path(args.landing), Path(args.lake), progress=progress, workers=args.workers,
                      reingest=args.reingest,
                      on_wait=lambda message: print(f"bcjourney run: {message}", file=sys.stderr, flush=True))
    finally:
        for bar in bars.values():
            bar.close()
    print(_format_summary(summary, Path(args.lake)))
    if summary.failed:
        print(f"\nerror: {len(summary.failed)} file(s) could not be ingested:", file=sys.stderr)
        for failure in summary.failed:
            print(f"  {failure['key']}: {failure['error']}", file=sys.stderr)
        return 1
    return 0


def _format_summary(summary, lake: Path) -> str:
    lines = [f"{'file':<52} {'rows':>9} {'curated':>9} {'merged':>7} {'quarantined':>11}"]
    for f in summary.files:
        lines.append(f"{f['key'][:52]:<52} {f['rows_in']:>9,} {f['curated']:>9,} {f['merged_duplicates']:>7,} "
                     f"{f['quarantined']:>11,}")
    total = {k: sum(f[k] for f in summary.files) for k in ("rows_in", "curated", "merged_duplicates", "quarantined")}
    lines.append(f"{'total':<52} {total['rows_in']:>9,} {total['curated']:>9,} {total['merged_duplicates']:>7,} "
                 f"{total['quarantined']:>11,}")
    rules: dict[str, int] = {}
    for f in summary.files:
        for rule, n in f["quarantined_by_rule"].items():
            rules[rule] = rules.get(rule, 0) + n
    if rules:
        lines.append("quarantined by rule: " + ", ".join(f"{r} {n:,}" for r, n in sorted(rules.items())))
    blank = sum(f.get("blank_lines", 0) for f in summary.files)
    if blank:
        lines.append(f"blank lines (counted, not rows): {blank:,}")
    share = f" ({summary.linked / summary.registrations:.1%})" if summary.registrations else ""
    if summary.days:
        lines.append(f"registrations linked: {summary.linked:,} of {summary.registrations:,}{share} "
                     f"over {len(summary.days)} day partitions")
    else:
        lines.append("registrations linked: no day to match (no curated row changed)")
    lines.extend(_clock_lines(summary.days))
    for day in summary.days:
        for health in day.get("health", []):
            if health["collapsed"]:
                lines.append(f"warning: link health of partner {health['partner']} on {day['day']} collapsed: "
                             f"{health['reason']}")
    resent = sum(d.get("resent_rows_merged", 0) for d in summary.days)
    if resent:
        lines.append(f"partner rows re-sent by overlapping exports, counted once: {resent:,}")
    if summary.unchanged:
        lines.append(f"unchanged since the last run, not ingested again: {len(summary.unchanged)} file(s) "
                     "(--reingest to force)")
    for gone in summary.retracted:
        lines.append(f"retracted (the landing file is gone): {gone['key']}, {gone['retracted_rows']:,} rows from "
                     f"{len(gone['changed_days'])} day(s)")
    if summary.skipped:
        lines.append(f"skipped (not a landing key): {', '.join(summary.skipped[:5])}"
                     + (" ..." if len(summary.skipped) > 5 else ""))
    lines.append(f"wall time: {summary.seconds:.1f} s")
    lines.append(f"unified dataset: {lake / 'unified' / 'journeys'}/dt=*/  (query: bcjourney query --lake {lake} "
                 f"athena_queries/<file>.sql)")
    return "\n".join(lines)


def _clock_lines(days: list[dict]) -> list[str]:
    """One line per partner whose clock was found off: by how much, on how many days, and what was done."""
    found: dict[str, list[dict]] = {}
    for day in days:
        for estimate in day.get("clock", []):
            if estimate["found"]:
                found.setdefault(estimate["partner"], []).append(estimate)
    lines = []
    for partner, estimates in sorted(found.items()):
        offsets = sorted({e["offset_s"] for e in estimates})
        shown = ", ".join(f"{o:+d} s" for o in offsets[:4]) + (" ..." if len(offsets) > 4 else "")
        done = "applied before matching" if all(e["applied"] for e in estimates) else (
            "NOT applied (its profile says warn)" if not any(e["applied"] for e in estimates)
            else "applied where its profile allowed")
        lines.append(f"warning: partner {partner}'s clock is off by {shown} on {len(estimates)} day(s): {done}")
        notes = sorted({e["note"] for e in estimates if e["note"]})
        if notes:
            lines.append(f"  {partner} writes local time: declare its time zone in bcjourney/partners/{partner}.toml")
    return lines


def cmd_generate(args) -> int:
    from .generate import PartnerBehaviour, generate
    from .generate.planted import PlantedAnomalies, PlantedEffects

    tqdm = _bar_factory()
    total = args.days * args.per_day
    bar = tqdm(total=total, desc="rows generated", unit_scale=True, file=sys.stderr, leave=False) if tqdm else None
    behaviour = PartnerBehaviour(clock_offset_s=args.clock_offset, time_zone=args.partner_time_zone,
                                 overlap_hours=args.overlap_hours, click_id_share=args.click_id_share,
                                 delay_tail_share=args.delay_tail_share)
    summary = generate(Path(args.out), days=args.days, per_day=args.per_day, seed=args.seed, start=args.start,
                       partner=args.partner, progress=bar.update if bar else None, partner_behaviour=behaviour,
                       planted=PlantedEffects() if args.plant_effects else None,
                       planted_anomalies=PlantedAnomalies() if args.plant_effects else None)
    if bar:
        bar.close()
    for name, value in summary.items():
        print(f"{name}: {value}")
    return 0


def cmd_query(args) -> int:
    import pandas as pd

    from .analysis.local_sql import run_query_file

    result = run_query_file(Path(args.lake), Path(args.sql))
    with pd.option_context("display.max_rows", args.max_rows, "display.width", 200, "display.max_columns", 50):
        print(result.to_string(index=False, max_rows=args.max_rows))
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_lake

    print(evaluate_lake(Path(args.lake), Path(args.truth)).format())
    return 0


def cmd_report(args) -> int:
    from .analysis.report import build_report

    result = build_report(Path(args.lake), Path(args.out))
    for number, insight in enumerate(result["insights"], 1):
        print(f"{number:2}. {insight['title']}: {insight['action']}")
    print(f"\n{result['html']}\n{result['pdf']}  ({result['pages']} pages)\n"
          f"{result['slides']}  ({result['slide_pages']} slides: the pipeline as built and ideal, recommendations, "
          f"actions)\n{result['markdown']}  (the same as markdown: docs/insights.md is this file on the real data)")
    return 0


def cmd_bench(args) -> int:
    from .bench import run_benchmarks

    only = set(args.only.split(",")) if args.only else None
    run_benchmarks(ingest_mb=args.ingest_mb, match_clicks=args.match_clicks,
                   match_registrations=args.match_registrations, seed=args.seed,
                   hostile_blank_lines=args.hostile_blank_lines, hostile_line_bytes=args.hostile_line_mb * 1024 * 1024,
                   workdir=Path(args.workdir) if args.workdir else None, only=only, scaling_base=args.scaling_base)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bcjourney", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="ingest every landing file, match, write unified/journeys")
    run.add_argument("--landing", required=True, help="landing folder (conversions/, broker/<partner>/, reference/)")
    run.add_argument("--lake", required=True, help="lake folder to write (created if missing)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--reingest", action="store_true",
                     help="ingest files unchanged since the last run too (after upgrading bcjourney)")
    run.add_argument("--workers", type=int, default=None,
                     help="processes matching batches of days at once (default: one per CPU)")
    run.set_defaults(func=cmd_run)

    gen = sub.add_parser("generate", help="realistic synthetic landing data with truth.csv")
    gen.add_argument("--out", required=True)
    gen.add_argument("--days", type=int, default=7)
    gen.add_argument("--per-day", type=int, default=1700)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", default="2024-04-01", help="the first day (UTC), e.g. 2024-03-28")
    gen.add_argument("--partner", default="acme", help="the partner's name (its profile: bcjourney/partners/)")
    gen.add_argument("--clock-offset", type=int, default=0, metavar="SECONDS",
                     help="the partner's clock runs this much fast (negative: slow)")
    gen.add_argument("--partner-time-zone", default=None, metavar="ZONE",
                     help="the partner writes naive local time of this IANA zone (e.g. Europe/Budapest)")
    gen.add_argument("--click-id-share", type=float, default=0.0,
                     help="share of the rows a click explains that carry its id (column subid; partner gamma)")
    gen.add_argument("--delay-tail-share", type=float, default=0.0,
                     help="share of registrations 10 s to 5 min after their click (stamped at sign-up end)")
    gen.add_argument("--overlap-hours", type=float, default=0.0,
                     help="each partner export re-sends the previous export's rows of its last hours")
    gen.add_argument("--plant-effects", action="store_true",
                     help="plant what the report must find: a market the partner does not serve (mostly mobile "
                          "clicks), a page that registers less, a market's burst on two dates and a pile of "
                          "registrations no click explains (generate/planted.py)")
    gen.set_defaults(func=cmd_generate)

    query = sub.add_parser("query", help="run an athena_queries/ file locally (DuckDB), as Athena would")
    query.add_argument("--lake", required=True)
    query.add_argument("sql")
    query.add_argument("--max-rows", type=int, default=60)
    query.set_defaults(func=cmd_query)

    evaluate = sub.add_parser("evaluate", help="precision, recall and calibration of the links against truth")
    evaluate.add_argument("--lake", required=True)
    evaluate.add_argument("--truth", required=True)
    evaluate.set_defaults(func=cmd_evaluate)
    report = sub.add_parser("report", help="the EDA report (HTML and PDF) of a lake, with insights and actions")
    report.add_argument("--lake", required=True)
    report.add_argument("--out", required=True)
    report.set_defaults(func=cmd_report)

    bench = sub.add_parser("bench", help="benchmarks, each as a ratio to its baseline measured in the same run")
    bench.add_argument("--ingest-mb", type=int, default=1024, help="size of the generated conversions file")
    bench.add_argument("--match-clicks", type=int, default=1_500_000, help="clicks to match against")
    bench.add_argument("--match-registrations", type=int, default=1_000_000, help="registrations to match")
    bench.add_argument("--hostile-blank-lines", type=int, default=20_000_000,
                       help="blank lines in the hostile file of blank lines")
    bench.add_argument("--hostile-line-mb", type=int, default=2_500, help="MB of the hostile line with no newline")
    bench.add_argument("--only", help="comma-separated: ingest,match,scaling,startup,hostile")
    bench.add_argument("--scaling-base", type=int, default=20_000,
                       help="clicks per day of the scaling curve's 1x (it runs 1x, 4x, 16x of it)")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--workdir", help="keep the generated data here (default: a temporary folder)")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError, RuntimeError) as exc:
        print(f"bcjourney {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
