"""`bcjourney run`: every landing file through the ingest handler as its S3 upload would be, then the match
handler for every affected day, as the state machine would map it."""

from __future__ import annotations

import ctypes
import fcntl
import functools
import itertools
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from bcjourney.ingest.sources import UnknownLandingKey, classify_key
from bcjourney.matching.service import BACKFILL_BATCH_DAYS
from bcjourney.progress import listening
from bcjourney.state import STATE_FOLDER, LocalState

from .events import file_etag, match_days_event, s3_object_created_event, s3_object_removed_event
from .handlers import LocalLambdaContext, load_handler_module

LANDING_BUCKET = "bcjourney-local-landing"


@dataclass
class RunSummary:
    files: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retracted: list[dict] = field(default_factory=list)  # landing files gone since an earlier run: rows removed
    unchanged: list[str] = field(default_factory=list)  # ingested by an earlier run, the same bytes: not again
    days: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def registrations(self) -> int:
        return sum(d["registrations"] for d in self.days)

    @property
    def linked(self) -> int:
        return sum(d["linked"] for d in self.days)


def landing_keys(landing: Path) -> tuple[list[str], list[str]]:
    """(keys the pipeline handles, other files found and skipped), sorted."""
    keys, skipped = [], []
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        key = path.relative_to(landing).as_posix()
        try:
            classify_key(key)
            keys.append(key)
        except UnknownLandingKey:
            skipped.append(key)
    return keys, skipped


@contextmanager
def local_environment(landing: Path | None, lake: Path) -> Iterator[None]:
    """The environment the handlers read, pointing at folders instead of buckets; restored afterwards."""
    values = {
        "LAKE_URI": str(lake),
        "BCJOURNEY_BUCKET_ROOTS": json.dumps({LANDING_BUCKET: str(landing)} if landing else {}),
        "MATCH_STATE_MACHINE_ARN": "",
        "IDEMPOTENCY_TABLE": "",  # no DynamoDB here: one run at a time hands each file over once
        "PIPELINE_STATE_TABLE": "",  # the state is kept beside the folder lake (<lake>/_state)
        "POWERTOOLS_SERVICE_NAME": "bcjourney-local",
        "POWERTOOLS_METRICS_NAMESPACE": "bcjourney",
        "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF blobs on a terminal
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("BCJOURNEY_LOG_LEVEL", "WARNING"),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


LOCK_NAME = ".bcjourney-run.lock"


@contextmanager
def lake_lock(lake: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """One run at a time on a lake: a second one waits for the first (told through `on_wait`) instead of both
    rewriting the same partitions. The lock is the operating system's (flock), so a killed run leaves none."""
    with open(lake / LOCK_NAME, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            if on_wait:
                on_wait(f"another bcjourney run (pid {holder}) is using {lake}: waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(landing: Path, lake: Path, *, progress: Callable[[str, int, int | None], None] | None = None,
        workers: int | None = None, on_wait: Callable[[str], None] | None = None,
        reingest: bool = False) -> RunSummary:
    """Ingest every new or changed landing file, retract the rows of files gone since the last run, then match
    every affected day (`workers` processes, default one per CPU), as S3 events would on AWS. `reingest`: ingest
    unchanged files too (after a change to the code). `progress(stage, advance, total)`; `on_wait(message)` when
    another run holds the lake."""
    landing, lake = Path(landing).resolve(), Path(lake).resolve()
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    lake.mkdir(parents=True, exist_ok=True)
    with lake_lock(lake, on_wait):
        return _run(landing, lake, progress, workers, reingest)


def _run(landing: Path, lake: Path, progress: Callable[[str, int, int | None], None] | None,
         workers: int | None, reingest: bool) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary()
    keys, summary.skipped = landing_keys(landing)
    notify = progress or (lambda stage, advance, total: None)

    with local_environment(landing, lake):
        ingest = load_handler_module("ingest")
        days: set[str] = set()
        notify("files", 0, len(keys))
        with listening(lambda rows: notify("rows", rows, None)):
            state = LocalState(lake / STATE_FOLDER)
            for key in keys:
                path = landing / key
                etag, applied = file_etag(path), state.applied(key)
                if (not reingest and applied is not None and applied.etag == etag and not applied.deleted
                        and not applied.rejected):
                    summary.unchanged.append(key)
                    notify("files", 1, len(keys))
                    continue
                event = s3_object_created_event(LANDING_BUCKET, key, path.stat().st_size, etag)
                try:
                    result = ingest.lambda_handler(event, LocalLambdaContext("bcjourney-ingest"))
                except Exception as exc:  # on AWS: quarantined and counted, or retried, then a dead letter
                    summary.failed.append({"key": key, "error": f"{type(exc).__name__}: {exc}"})
                else:
                    summary.files.extend(result["batches"])
                    days.update(result["match_days"])
                notify("files", 1, len(keys))
            # a file ingested by an earlier run and gone from the folder now: its rows leave the lake
            for key in sorted(set(state.applied_keys()) - set(keys)):
                result = ingest.lambda_handler(s3_object_removed_event(LANDING_BUCKET, key),
                                               LocalLambdaContext("bcjourney-ingest"))
                summary.retracted.extend(r for r in result["applied"] if r["action"] == "retracted")
                days.update(result["match_days"])

        summary.days = match_locally(sorted(days), notify, workers=workers)
    summary.seconds = time.monotonic() - started
    return summary


def match_locally(days: list[str], notify: Callable[[str, int, int | None], None] | None = None,
                  workers: int | None = None) -> list[dict]:
    """The match handler over `days` in batches (see backfill_batches; each batch read and linked in one pass),
    `workers` batches at a time (default: one per CPU), each worker its own process, as every Lambda invocation
    is; on AWS the state machine's Map runs days concurrently the same way. Call inside local_environment.
    Returns one result per day, in day order."""
    notify = notify or (lambda stage, advance, total: None)
    if not days:
        return []
    workers = max(1, workers or os.cpu_count() or 1)
    batches = backfill_batches(days, workers)
    workers = min(workers, len(batches))
    results: list[dict] = []
    notify("days", 0, len(days))
    if workers == 1:
        for batch in batches:
            results.extend(invoke_match(batch))
            notify("days", len(batch), len(days))
    else:
        # fork hands each worker the modules already loaded; with another thread alive a forked child could
        # inherit a held lock (and macOS forbids forking some system libraries), so then workers start afresh
        method = "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"
        with worker_pool(workers, method) as pool:
            pending = {pool.submit(invoke_match, batch): batch for batch in batches}
            for done in as_completed(pending):
                results.extend(done.result())
                notify("days", len(pending[done]), len(days))
    return sorted(results, key=lambda result: result["day"])


def worker_pool(workers: int, method: str) -> ProcessPoolExecutor:
    """Processes that end with the run: a run killed, even with SIGKILL, takes its workers with it."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_die_with_parent)


def _die_with_parent() -> None:
    if sys.platform == "linux":  # prctl(PR_SET_PDEATHSIG): the kernel signals the worker when its parent dies
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before the call: nothing would signal us
            os._exit(1)


def backfill_batches(days: list[str], workers: int) -> list[list[str]]:
    """Runs of consecutive days, at most BACKFILL_BATCH_DAYS each, as many as a multiple of `workers` and as
    even as can be, so every worker gets the same number of days (60 days on 2 workers: 8 batches of 7 or 8,
    30 days each)."""
    if not days:
        return []
    rounds = -(-len(days) // (BACKFILL_BATCH_DAYS * workers))
    count = min(len(days), rounds * workers)
    size, extra = divmod(len(days), count)
    bounds = list(itertools.accumulate((size + (k < extra) for k in range(count)), initial=0))
    return [days[bounds[k]:bounds[k + 1]] for k in range(count)]


def invoke_match(days: list[str]) -> list[dict]:
    """One invocation of the match handler for a batch of days (module-level: a worker process runs it)."""
    match = _handler("match")
    return match.lambda_handler(match_days_event(days), LocalLambdaContext("bcjourney-match"))["days"]


@functools.lru_cache(maxsize=None)
def _handler(name: str):
    return load_handler_module(name)
