"""Match days: read them and their neighbours from the lake, link, write unified/journeys/dt=<day>/.

This is the whole of the match Lambda's work: Step Functions maps it over days, one day per invocation;
on one machine the runner hands it batches of days.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import layout, schema
from ..days import DAY_MS, affected_days, day_labels, neighbour_days
from ..layout import partition_values
from ..partners import UnknownPartner, load_profile
from ..repeats import first_of_each_id
from ..state import DayBusy, PipelineState
from ..storage import Storage
from .clock import ClockEstimate, estimate_offset
from .exact import exact_pairs, link_with_exact
from .health import HISTORY_DAYS, LinkHealth, judge, measure
from .inputs import MatchInputs, column_milliseconds
from .journeys import CLICK_COLUMNS, REGISTRATION_COLUMNS, journey_tables
from .linker import Links, MatchSettings
from .overlaps import first_copies

logger = logging.getLogger(__name__)

# The curated columns matching and the unified dataset use: the others are never read
CLICK_COLUMNS_READ = pa.schema([schema.CURATED_CONVERSIONS.field(c) for c in CLICK_COLUMNS.values()])
REGISTRATION_COLUMNS_READ = pa.schema([schema.CURATED_REGISTRATIONS.field(c) for c in REGISTRATION_COLUMNS.values()
                                       if c not in ("partner", "clock_offset_s")]
                                      + [schema.CURATED_REGISTRATIONS.field("click_id")])  # the exact tier

# Days a backfill matches per pass, at most: each pass also reads two days of clicks either side, so longer passes
# read less twice, but memory grows with the pass and past about 8 days the bench gets no faster
BACKFILL_BATCH_DAYS = 8


@dataclass
class DayResult:
    day: str
    conversions: int
    registrations: int
    linked: int
    unmatched_registrations: int
    rows_written: int
    superseded: bool = False  # a newer generation of the day's inputs appeared while matching: not written
    clock: list[dict] = field(default_factory=list)  # per partner: the clock offset learned (clock.ClockEstimate)
    resent_rows_merged: int = 0  # partner rows of the day re-sent by an overlapping export, counted once
    health: list[dict] = field(default_factory=list)  # per partner: linked share against its recent days

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def load_clicks(lake: Storage, days: list[str]) -> pa.Table:
    """The curated clicks of those days, one per conversion id, in time order."""
    keys = [k for d in days for k in lake.list_keys(f"{layout.CURATED_CONVERSIONS}dt={d}/")
            if k.endswith(".parquet")]
    table = lake.read_table(keys, CLICK_COLUMNS_READ)
    # the same id may arrive in two batches: keep the earliest line of the earliest file
    keep = first_of_each_id(table.select(["conversion_id", "source_file", "source_line"])
                            .to_pandas(types_mapper=pd.ArrowDtype))
    if keep is not None:
        table = table.filter(pa.array(keep))
    return _in_order(table, column_milliseconds(table.column("converted_at")))


def load_registrations(lake: Storage, days: list[str], merged: Counter | None = None) -> pa.Table:
    """The curated registrations of those days from every partner, with a partner column, in time order
    (then file and line order); a row an overlapping export re-sent counts once (overlaps.first_copies), and
    `merged` counts such rows per day."""
    wanted = set(days)
    tables = []
    keys = [k for k in lake.list_keys(layout.CURATED_REGISTRATIONS) if k.endswith(".parquet")]
    by_partner: dict[str, list[str]] = {}
    for key in keys:
        parts = partition_values(key)
        if parts.get("dt") in wanted:
            by_partner.setdefault(parts["partner"], []).append(key)
    for partner, partner_keys in sorted(by_partner.items()):
        table = lake.read_table(partner_keys, REGISTRATION_COLUMNS_READ)
        tables.append(table.append_column("partner", pa.array([partner] * table.num_rows, pa.string())))
    if not tables:
        return REGISTRATION_COLUMNS_READ.append(pa.field("partner", pa.string())).empty_table()
    table = pa.concat_tables(tables)
    keep = first_copies(table)  # rows re-sent by an overlapping export count once
    if keep is not None:
        logger.info("merged %s partner rows re-sent in overlapping exports", int((~keep).sum()))
        if merged is not None:
            resent_ms = column_milliseconds(table.filter(pa.array(~keep)).column("registered_at"))
            merged.update(day_labels(np.floor_divide(resent_ms, DAY_MS)))
        table = table.filter(pa.array(keep))
    return _in_order(table, *_registration_order_keys(table, column_milliseconds(table.column("registered_at"))))


def _registration_order_keys(table: pa.Table, times_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registrations' order, first key first: time, then file (in key order), then line."""
    files, _ = pd.factorize(table.column("source_file").to_pandas(types_mapper=pd.ArrowDtype), sort=True)
    return times_ms, files, table.column("source_line").to_numpy()


def _in_order(table: pa.Table, *keys: np.ndarray) -> pa.Table:
    """The table sorted by the keys (first key first; stable), untouched when it already is: day partitions
    read in order usually are, and moving every text column costs more than the check."""
    if len(keys) == 1 and np.all(keys[0][1:] >= keys[0][:-1]):
        return table
    order = np.lexsort(keys[::-1])
    if np.array_equal(order, np.arange(len(order))):
        return table
    return table.take(order)


def load_mapping(lake: Storage) -> pa.Table:
    keys = [k for k in lake.list_keys(layout.CURATED_PAGE_CATEGORIES) if k.endswith(".parquet")]
    return lake.read_table(keys, schema.PAGE_CATEGORIES)


DEFAULT_SETTINGS = MatchSettings()


def match_day(lake: Storage, day: str, settings: MatchSettings = DEFAULT_SETTINGS,
              state: PipelineState | None = None) -> DayResult:
    return match_days(lake, [day], settings, state)[0]


def match_days(lake: Storage, days: list[str], settings: MatchSettings = DEFAULT_SETTINGS,
               state: PipelineState | None = None, lease_seconds: float = 900) -> list[DayResult]:
    """Match some days in one pass: their neighbours are read once and one model per registration day is
    fitted once, where matching them one by one would read and fit each neighbour again. The result equals
    matching each day alone. A backfill is cut into batches of the caller's choosing (memory grows with it).

    With a `state`, a day is written only if no ingest changed its inputs since they were read (see
    bcjourney.state): otherwise its result says `superseded` and the newer run writes it. `lease_seconds`: how
    long this run may still live (a Lambda's remaining time), the longest another run waits for its lease.
    Without one the caller guarantees that nothing else writes these days meanwhile."""
    for day in days:
        pd.Timestamp(day)  # a clear error for a malformed day, before any I/O
    days = sorted(set(days))
    # read before the lake: rows ingested after this are newer than the generation, and their bump will show
    generations = {day: state.day(day).generation for day in days} if state else {}
    # Registrations of each day and its neighbours compete for the clicks near midnight; their candidates
    # reach one more day out. Everything a neighbour's run decides about a day it decides the same way.
    clicks = load_clicks(lake, sorted({n for d in days for n in neighbour_days(d, reach=2)}))
    resent: Counter = Counter()
    registrations = load_registrations(lake, affected_days(days), resent)
    inputs, registrations, estimates = align_partner_clocks(MatchInputs.from_tables(clicks, registrations),
                                                            registrations)
    exact = exact_pairs(clicks, registrations)
    if exact.unknown_ids:
        logger.warning("%s registrations name a click id that is not among the loaded clicks: matched by time "
                       "and country instead", exact.unknown_ids)
    links = link_with_exact(inputs, exact, settings)
    by_day = journey_tables(days, clicks, registrations, links, load_mapping(lake))
    clock = {day: [e.as_dict() for e in estimates if e.day == day] for day in days}
    history = load_health(lake, days)
    if state is None:
        return [_write_day(lake, day, by_day[day], links, clock[day], resent[day], history) for day in days]

    results, busy = [], []
    for day in days:
        try:
            with state.commit_day(day, generations[day], lease_seconds) as newest:
                if newest:
                    results.append(_write_day(lake, day, by_day[day], links, clock[day], resent[day], history))
                else:
                    logger.info("day %s: its inputs changed while matching; the newer run writes it", day)
                    results.append(DayResult(day, 0, 0, 0, 0, 0, superseded=True))
        except DayBusy:
            busy.append(day)
    if busy:
        raise DayBusy(f"days {', '.join(busy)} are being written by another run (the others were written)")
    return results


def align_partner_clocks(inputs: MatchInputs, registrations: pa.Table
                         ) -> tuple[MatchInputs, pa.Table, list[ClockEstimate]]:
    """Learn each partner's clock offset per registration day (bcjourney.matching.clock) and, where its profile
    says apply, match on the aligned times: registrations re-sorted by them, and a clock_offset_s column."""
    partners = registrations.column("partner").to_numpy(zero_copy_only=False)
    day_numbers = np.floor_divide(inputs.registration_times, DAY_MS)
    shift = np.zeros(len(partners), dtype=np.int64)
    estimates = []
    for partner in sorted(set(partners)):
        of_partner = partners == partner
        policy = _clock_policy(str(partner))
        if policy == "off":  # the profile says its clock is not to be second-guessed
            continue
        by_day: dict[int, tuple[np.ndarray, ClockEstimate]] = {}
        numbers = np.unique(day_numbers[of_partner])
        for number, day in zip(numbers, day_labels(numbers)):
            rows = np.flatnonzero(of_partner & (day_numbers == number))
            by_day[int(number)] = rows, estimate_offset(
                inputs.click_times, inputs.click_country, inputs.registration_times[rows], inputs.ip_country[rows],
                str(partner), day)
        for number, (rows, estimate) in by_day.items():
            if not estimate.found:  # too few rows that day (an export's edge): a clock does not jump, take a
                near = [by_day[n][1] for n in (number - 1, number + 1) if n in by_day and by_day[n][1].found]
                if near:  # neighbour's
                    estimate = replace(estimate, offset_s=near[0].offset_s, found=True,
                                       note=near[0].note or f"too few rows: the offset of {near[0].day}")
            if estimate.found and policy == "apply":
                shift[rows] = estimate.offset_s * 1000
                estimate = replace(estimate, applied=True)
            if estimate.found:
                logger.warning("partner %s on %s: clock %+d s off (z %.0f)%s", partner, estimate.day,
                               estimate.offset_s, estimate.z,
                               "; applied" if estimate.applied else f"; not applied ({policy})")
            estimates.append(estimate)
    offsets = pa.array(shift / 1000.0, pa.float64())
    if not shift.any():
        return inputs, registrations.append_column("clock_offset_s", offsets), estimates
    aligned = inputs.registration_times - shift
    order = np.lexsort(_registration_order_keys(registrations, aligned)[::-1])
    registrations = registrations.append_column("clock_offset_s", offsets).take(order)
    return replace(inputs, registration_times=aligned[order], ip_country=inputs.ip_country[order],
                   residency_country=inputs.residency_country[order]), registrations, estimates


def _clock_policy(partner: str) -> str:
    try:
        return load_profile(partner).clock_alignment
    except UnknownPartner:  # rows ingested before profiles existed
        return "apply"


HEALTH_PREFIX = "unified/link_health/"  # dt=<day>/health.parquet: one row per partner (schema.LINK_HEALTH)


def load_health(lake: Storage, days: list[str]) -> list[LinkHealth]:
    """The link health recorded for the partner days before `days` (as far back as health.judge looks)."""
    if not days:
        return []
    first = pd.Timestamp(min(days))
    wanted = {(first - pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(1, 2 * HISTORY_DAYS + 1)}
    keys = [k for k in lake.list_keys(HEALTH_PREFIX) if partition_values(k).get("dt") in wanted]
    if not keys:
        return []
    return [LinkHealth(**row) for row in lake.read_table(keys, schema.LINK_HEALTH).to_pylist()]


def _write_day(lake: Storage, day: str, journeys: pa.Table, links: Links, clock: list[dict],
               resent_rows_merged: int, history: list[LinkHealth]) -> DayResult:
    """Replace the day's unified partition (late data re-matches a day: no duplicates, no stale links), and its
    link health beside it."""
    prefix = f"{layout.UNIFIED_JOURNEYS}dt={day}/"
    stale = lake.list_keys(prefix)
    if journeys.num_rows:
        lake.write_parquet(f"{prefix}journeys.parquet", journeys)
    lake.delete([k for k in stale if not k.endswith("/journeys.parquet") or not journeys.num_rows])
    health = [judge(h, history) for h in measure(journeys, day)]
    history.extend(health)  # the batch's later days compare with this one too
    for h in health:
        if h.collapsed:
            logger.warning("link health of partner %s on %s collapsed: %s", h.partner, day, h.reason)
    health_key = f"{HEALTH_PREFIX}dt={day}/health.parquet"
    if health:
        lake.write_parquet(health_key, pa.Table.from_pylist([h.as_dict() for h in health], schema=schema.LINK_HEALTH))
    else:
        lake.delete([health_key])

    has_click = pc.is_valid(journeys.column("conversion_id"))
    has_registration = pc.is_valid(journeys.column("partner"))
    own_conversions = pc.sum(has_click).as_py() or 0
    linked = pc.sum(pc.and_(has_click, has_registration)).as_py() or 0
    unmatched = journeys.num_rows - own_conversions
    model = links.models.get(day)
    logger.info("matched day %s: %s conversions, %s linked, model %s", day, own_conversions, linked,
                model.describe() if model else None)
    return DayResult(day, own_conversions, linked + unmatched, linked, unmatched, journeys.num_rows, clock=clock,
                     resent_rows_merged=resent_rows_merged, health=[h.as_dict() for h in health])
