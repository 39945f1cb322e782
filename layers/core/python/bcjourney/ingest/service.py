"""Ingest one landing object: stream it, normalize block by block, write one curated Parquet file per day
partition (conversion ids deduplicated), the quarantined rows with their reasons, and the batch's quality report.

This is the whole of the ingest Lambda's work; the handler only adapts the S3 event to this call.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import layout, schema
from ..frames import to_table
from ..matching.overlaps import CONTENT, first_copies
from ..partners import UnknownPartner, load_profile
from ..progress import report_rows
from ..repeats import first_of_each_id
from ..storage import Storage
from . import reader
from .quality import QualityReport
from .sources import HeaderMismatch, LandingObject, canonical_header, classify_key

logger = logging.getLogger(__name__)


class FileRejected(RuntimeError):
    """The whole file was rejected (unreadable, empty, unknown header); it is in quarantine and must be fixed.
    `kept_previous_batch`: the batch of an earlier version whose rows stay live for the key, if any."""

    def __init__(self, message: str, kept_previous_batch: str | None = None):
        super().__init__(message)
        self.kept_previous_batch = kept_previous_batch


class DayTooLarge(ValueError):
    """One day of one file holds more rows than ingest can deduplicate within the function's memory."""


@dataclass
class IngestResult:
    key: str
    source: str
    batch_id: str
    report: QualityReport
    days: list[str] = field(default_factory=list)  # day partitions written


def batch_id_for(key: str, sequencer: str | None = None) -> str:
    """Names one version's output: the key's digest, plus its event's sequencer's, so a re-upload writes beside
    the previous version's files (which are removed only once the new ones are complete)."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    if sequencer:
        digest += "-" + hashlib.sha1(sequencer.encode()).hexdigest()[:8]
    return f"{key.split('/')[0]}-{digest}"


def ingest_object(landing: Storage, key: str, lake: Storage, *, version: str | None = None,
                  batch_id: str | None = None, previous_batch: str | None = None,
                  now: pd.Timestamp | None = None, block_bytes: int = reader.BLOCK_BYTES) -> IngestResult:
    """Ingest one landing object (`version`: the object version its event names, where the store has them) as
    batch `batch_id` (default: named after the key). Writes only that batch's files; replacing an earlier version's
    files is `versions.apply_created`'s job; `previous_batch` names them, for the report of a rejected file."""
    obj = classify_key(key)
    batch_id = batch_id or batch_id_for(key)
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None).floor("ms")
    report = QualityReport(key=key, source=obj.source, batch_id=batch_id, started_at=now.isoformat())
    writer = _BatchWriter(lake, obj, batch_id, now)
    writer.forget_batch()  # a retry of this very batch starts clean

    try:
        if obj.partner and obj.profile is None:
            load_profile(obj.partner)  # raises UnknownPartner, saying how to add one
        with landing.open_read(key, version) as stream:
            opened = reader.read_chunks(stream, block_bytes, prefetch=True)
            names = canonical_header(opened.header, obj.contract)  # before any row: an empty file is judged too
            for chunk in opened.chunks:
                _ingest_chunk(chunk, names, obj, writer, report, now)
                report_rows(len(chunk.frame) + len(chunk.malformed) + chunk.blank_lines)
            fmt = opened.format
            report.file_format = {"compressed": fmt.compressed, "encoding": fmt.encoding,
                                  "delimiter": fmt.delimiter, "bom": fmt.has_bom}
            if fmt.redecided_at_line:
                report.file_format["encoding_redecided_at_line"] = fmt.redecided_at_line
    except (reader.UnreadableFile, HeaderMismatch, DayTooLarge, UnknownPartner) as exc:
        writer.reject_file(str(exc), landing)
        report.file_rejected = str(exc)
        report.kept_previous_batch = previous_batch
        writer.write_report(report)
        kept = f"; the previous version's rows (batch {previous_batch}) stay" if previous_batch else ""
        raise FileRejected(f"{key}: {exc}{kept}", previous_batch) from exc

    days = writer.finish(report)
    report.check_balance()
    if obj.partner:
        report.resent_rows = count_resent_rows(lake, obj, days)
    writer.write_report(report)
    return IngestResult(key=key, source=obj.source, batch_id=batch_id, report=report, days=days)


def _ingest_chunk(chunk: reader.RawChunk, names: list[str], obj: LandingObject, writer: "_BatchWriter",
                  report: QualityReport, now: pd.Timestamp) -> None:
    report.rows_in += len(chunk.frame) + len(chunk.malformed)
    report.blank_lines += chunk.blank_lines
    if chunk.malformed:
        numbers, raws, rules, reasons = zip(*chunk.malformed)
        writer.quarantine_rows(pd.DataFrame({"source_line": numbers, "raw_line": raws, "rule": rules,
                                             "column_name": None, "value": reasons}))
        for rule, count in Counter(rules).items():
            report.count_quarantined(rule, count)
    if chunk.frame.empty:
        return

    frame = chunk.frame.set_axis(names, axis=1).reset_index(drop=True)

    curated, verdicts = obj.contract.normalize(frame, now)

    rejections = verdicts.rejections()
    if len(rejections):
        positions = rejections["position"].to_numpy()
        values = [frame.iat[p, frame.columns.get_loc(c)] if c in frame.columns else None
                  for p, c in zip(positions, rejections["column"])]
        writer.quarantine_rows(pd.DataFrame({"source_line": chunk.lines[positions],
                                             "raw_line": chunk.raw_lines(chunk.lines[positions]),
                                             "rule": rejections["rule"].to_numpy(),
                                             "column_name": rejections["column"].to_numpy(), "value": values}))
        for rule, count in rejections["rule"].value_counts().items():
            report.count_quarantined(rule, int(count))

    accepted = verdicts.accepted
    if not obj.contract.partitioned:  # a reference table: its columns as they are, no row-level trace
        writer.curate(curated[accepted], np.ones(int(accepted.sum()), dtype=bool))
        return
    everything = np.ones(len(curated), dtype=bool)
    curated = curated.assign(quality_flags=verdicts.flag_text(everything), source_file=obj.key,
                             source_line=chunk.lines, batch_id=writer.batch_id)
    report.count_flags(verdicts.flag_counts(accepted))
    writer.curate(curated, accepted)


class _BatchWriter:
    """Where one batch's rows go in the lake: Parquet files per day partition, named after the batch, so a re-run
    replaces them. Rows are buffered per day and written once; when the buffer outgrows SPILL_ROWS the days are
    spilled early, and a day written more than once is merged at the end: into one file when it has at most
    COMPACT_ROWS rows, else kept in parts with duplicates removed (memory stays bounded whatever the file's shape)."""

    SPILL_ROWS = 1_000_000
    COMPACT_ROWS = 1_000_000  # a day read back whole to make one file: as much as one spill holds
    # A larger day is deduplicated from its ids (about 40 bytes a row at the peak): 20M rows stay well inside the
    # ingest function's 2 GB beside the streaming itself (about 1 GB). Past it the file is rejected as soon as
    # the day crosses the bound, with the reason, rather than killed for memory at the end.
    MAX_DAY_ROWS = 20_000_000
    QUARANTINE_SPILL_ROWS = 100_000
    QUARANTINE_SPILL_BYTES = 64 * 1024 * 1024  # of raw lines: a line may be up to reader.MAX_LINE_BYTES

    def __init__(self, lake: Storage, obj: LandingObject, batch_id: str, now: pd.Timestamp):
        self.lake, self.obj, self.batch_id, self.now = lake, obj, batch_id, now
        self.buffers: dict[str, list[pd.DataFrame]] = {}
        self.buffered_rows = 0
        self.written: dict[str, list[str]] = {}  # day -> keys written so far
        self.part_stats: dict[str, tuple[int, Counter]] = {}  # key -> (rows, null counts) of each file written
        self.merged = 0
        self.write_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcjourney-writer")
        self.pending_write: Future | None = None
        self.quarantine_parts: list[pd.DataFrame] = []
        self.quarantine_buffered = (0, 0)  # rows, bytes of raw lines
        self.quarantine_written: list[str] = []
        self.mapping_frames: list[pd.DataFrame] = []
        self.prefix, self.schema = obj.curated_prefix, obj.contract.schema
        self.time_column, self.unique_id = obj.contract.time_column, obj.contract.unique_id
        self.quarantine_prefix = f"{layout.QUARANTINE}source={obj.source}/"

    def forget_batch(self) -> None:
        """Remove what an earlier attempt of this batch wrote (a retry after a crash), wherever it went."""
        if self.time_column is None:
            return
        self.lake.delete(batch_files(self.lake, self.obj, self.batch_id))

    def curate(self, frame: pd.DataFrame, accepted: np.ndarray) -> None:
        """Buffer the accepted rows of `frame` by day: one take orders them by day, then slices."""
        if self.time_column is None:
            self.mapping_frames.append(frame[accepted])
            return
        day_numbers = frame[self.time_column].to_numpy(dtype="datetime64[ms]").astype("datetime64[D]")
        rows = np.flatnonzero(accepted)
        day_numbers = day_numbers[rows]
        order = np.argsort(day_numbers, kind="stable")
        distinct, starts = np.unique(day_numbers[order], return_index=True)
        by_day = frame.take(rows[order])
        bounds = list(starts) + [len(order)]
        current = set()
        for i, day in enumerate(np.datetime_as_string(distinct, unit="D")):
            self.buffers.setdefault(str(day), []).append(by_day.iloc[bounds[i]:bounds[i + 1]])
            current.add(str(day))
        self.buffered_rows += len(rows)
        if self.buffered_rows > self.SPILL_ROWS:
            # days absent from this chunk are likely complete (partner files are time-ordered): spill them first
            self._spill([d for d in self.buffers if d not in current])
            if self.buffered_rows > self.SPILL_ROWS:
                self._spill(list(self.buffers))

    def _spill(self, days: list[str]) -> None:
        for day in days:
            frame = pd.concat(self.buffers.pop(day))
            self.buffered_rows -= len(frame)
            table = self._deduplicated_table(frame)
            keys = self.written.setdefault(day, [])
            name = self.batch_id if not keys else f"{self.batch_id}.part{len(keys):05d}"
            keys.append(f"{self.prefix}dt={day}/{name}.parquet")
            self._write_in_background(keys[-1], table)
            self.part_stats[keys[-1]] = (table.num_rows, _null_counts(table))
            day_rows = sum(self.part_stats[key][0] for key in keys)
            if day_rows > self.MAX_DAY_ROWS:
                raise DayTooLarge(f"day {day} holds more than {self.MAX_DAY_ROWS:,} rows in this one file "
                                  f"({day_rows:,} so far): split the export by day")

    def _write_in_background(self, key: str, table: pa.Table) -> None:
        """Parquet encoding releases the GIL: write while the next block is normalized. One write in flight at
        most, so memory stays bounded; errors surface at the next write or in finish()."""
        self._wait_for_write()
        self.pending_write = self.write_pool.submit(self.lake.write_parquet, key, table)

    def _wait_for_write(self) -> None:
        if self.pending_write is not None:
            pending, self.pending_write = self.pending_write, None
            pending.result()

    def _deduplicated_table(self, frame: pd.DataFrame) -> pa.Table:
        """The frame as the curated schema's table, one row per unique id where the source has one (Arrow filters
        fast)."""
        table = to_table(frame, self.schema)
        keep = first_of_each_id(frame, self.unique_id) if self.unique_id else None
        if keep is None:
            return table
        self.merged += len(frame) - int(keep.sum())
        return table.filter(pa.array(keep))

    def quarantine_rows(self, rows: pd.DataFrame) -> None:
        """Buffer rejected rows; written in parts as they grow, so a file of junk needs no more memory."""
        self.quarantine_parts.append(rows)
        buffered_rows, buffered_bytes = self.quarantine_buffered
        self.quarantine_buffered = (buffered_rows + len(rows),
                                    buffered_bytes + int(rows["raw_line"].str.len().sum()))
        if (self.quarantine_buffered[0] >= self.QUARANTINE_SPILL_ROWS
                or self.quarantine_buffered[1] >= self.QUARANTINE_SPILL_BYTES):
            self._write_quarantine()

    def reject_file(self, reason: str, landing: Storage) -> None:
        try:
            with landing.open_read(self.obj.key) as stream:
                head = stream.read(500).decode("utf-8", errors="replace")
        except Exception:  # the reason we are here may be that it cannot be read at all
            head = ""
        self.quarantine_parts = [pd.DataFrame({"source_line": [0], "raw_line": [head], "rule": ["file_rejected"],
                                               "column_name": [None], "value": [reason]})]
        try:
            self._wait_for_write()
        finally:
            self.write_pool.shutdown()
        for keys in self.written.values():
            self.lake.delete(keys)
        self.lake.delete(self.quarantine_written)
        self.written, self.buffers, self.quarantine_written = {}, {}, []
        self._write_quarantine()

    def finish(self, report: QualityReport) -> list[str]:
        self._write_quarantine()
        if self.time_column is None:
            mapping = pd.concat(self.mapping_frames) if self.mapping_frames else pd.DataFrame(
                columns=self.schema.names)
            self.lake.write_parquet(f"{self.prefix}page_category_mapping.parquet", to_table(mapping, self.schema))
            report.curated = len(mapping)
            report.null_rates = _null_rates(mapping)
            return []
        self._spill(list(self.buffers))
        self._wait_for_write()
        self.write_pool.shutdown()
        for day, keys in sorted(self.written.items()):
            if len(keys) > 1:
                self._merge_parts(day, keys)
        report.merged_duplicates = self.merged
        report.curated = sum(rows for rows, _ in self.part_stats.values())
        nulls = sum((n for _, n in self.part_stats.values()), Counter())
        report.null_rates = ({c: round(nulls[c] / report.curated, 6) for c in self.schema.names}
                             if report.curated else {})
        return sorted(self.written)

    def _merge_parts(self, day: str, keys: list[str]) -> None:
        """A day spilled more than once. If it fits in what one spill holds, it becomes one file with duplicates
        across the parts merged. A larger day keeps its parts (Athena and the matcher read every file of a
        partition), and only the parts holding a later copy of a conversion id are rewritten without it: memory
        is the day's ids and one part, never the whole day."""
        if sum(self.part_stats[k][0] for k in keys) <= self.COMPACT_ROWS:
            table = self._deduplicated_table(self.lake.read_parquet(keys, self.schema))
            self.lake.write_parquet(keys[0], table)
            self.lake.delete(keys[1:])
            for key in keys:
                del self.part_stats[key]
            self.part_stats[keys[0]] = (table.num_rows, _null_counts(table))
            self.written[day] = keys[:1]
            return
        if self.unique_id is None:
            return
        pa.default_memory_pool().release_unused()  # the spilled buffers' memory, before the ids are read
        # parts hold a day's rows in file order (each spill flushes what came before the next), so the earliest
        # line of an id is its first place in the parts' concatenation
        identity = pa.schema([self.schema.field(self.unique_id)])
        sizes = [self.part_stats[key][0] for key in keys]
        ids = np.concatenate([self.lake.read_table([key], identity).column(0).to_numpy() for key in keys])
        first = np.zeros(len(ids), dtype=bool)
        first[np.unique(ids, return_index=True)[1]] = True
        del ids
        later_copy = np.flatnonzero(~first)
        ends = np.cumsum(sizes)
        part_of = np.searchsorted(ends, later_copy, side="right")
        row_of = later_copy - (ends - sizes)[part_of]
        for part in np.unique(part_of):
            keep = np.ones(sizes[part], dtype=bool)
            keep[row_of[part_of == part]] = False
            table = self.lake.read_table([keys[part]], self.schema).filter(pa.array(keep))
            self.lake.write_parquet(keys[part], table)
            self.part_stats[keys[part]] = (table.num_rows, _null_counts(table))
        self.merged += len(later_copy)

    def _write_quarantine(self) -> None:
        if not self.quarantine_parts:
            return
        rows = pd.concat(self.quarantine_parts, ignore_index=True)
        rows.insert(0, "source_file", self.obj.key)
        rows["batch_id"] = self.batch_id
        rows["quarantined_at"] = self.now
        day = self.now.strftime("%Y-%m-%d")
        part = len(self.quarantine_written)
        name = self.batch_id if not part else f"{self.batch_id}.part{part:05d}"
        self.quarantine_written.append(f"{self.quarantine_prefix}dt={day}/{name}.parquet")
        self.lake.write_parquet(self.quarantine_written[-1], to_table(rows, schema.QUARANTINE))
        self.quarantine_parts, self.quarantine_buffered = [], (0, 0)

    def write_report(self, report: QualityReport) -> None:
        report.finished_at = pd.Timestamp.now(tz="UTC").isoformat()
        self.lake.write_bytes(f"{layout.REPORTS}{self.obj.source}/{self.batch_id}.json", report.to_json().encode())


def count_resent_rows(lake: Storage, obj: LandingObject, days: list[str]) -> int:
    """Rows of this file that repeat a row of an earlier export of the partner already in the lake (the rule of
    matching.overlaps): curated here like any row, counted once when matching. An earlier export ingested after
    this one is not seen here; the match result's per-day count (resent_rows_merged) is the complete one."""
    keys = [k for day in days for k in lake.list_keys(f"{obj.curated_prefix}dt={day}/") if k.endswith(".parquet")]
    if not keys:
        return 0
    columns = pa.schema([obj.contract.schema.field(name) for name in (*CONTENT, "source_file", "source_line")])
    table = lake.read_table(keys, columns)
    keep = first_copies(table)
    if keep is None:
        return 0
    mine = pc.equal(table.column("source_file"), obj.key).to_numpy(zero_copy_only=False)
    return int((mine & ~keep).sum())


def batch_files(lake: Storage, obj: LandingObject, batch_id: str, days: list[str] | None = None) -> list[str]:
    """The curated and quarantine files of one batch (`days`: only look in these day partitions of curated)."""
    curated = ([k for day in days for k in lake.list_keys(f"{obj.curated_prefix}dt={day}/")] if days is not None
               else lake.list_keys(obj.curated_prefix))
    quarantine = lake.list_keys(f"{layout.QUARANTINE}source={obj.source}/")
    return [k for k in curated + quarantine if k.rsplit("/", 1)[-1].startswith(batch_id + ".")]


def _null_counts(table: pa.Table) -> Counter:
    return Counter({name: table.column(name).null_count for name in table.column_names})


def _null_rates(frame: pd.DataFrame) -> dict[str, float]:
    return {c: round(float(v), 6) for c, v in frame.isna().mean().items()} if len(frame) else {}
