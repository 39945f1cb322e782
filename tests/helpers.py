"""Helpers the tests of every kind share (pytest puts tests/ on the path: pyproject.toml)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def write_landing(root: Path, files: dict[str, bytes | str]) -> Path:
    for key, content in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@contextmanager
def match_paused_between_read_and_write(monkeypatch, run: Callable[[], object]) -> Iterator[dict]:
    """Start `run` (a match) in a thread that stops after reading the lake and linking, before writing; the body
    runs meanwhile; leaving the block lets it write and waits for it. Yields {"result": ...} once it is done."""
    from bcjourney.matching import service

    real_journey_tables = service.journey_tables
    paused, resume, done = threading.Event(), threading.Event(), {}

    def pause_between_read_and_write(*args, **kwargs):
        tables = real_journey_tables(*args, **kwargs)
        if threading.current_thread().name == "paused-match":
            paused.set()
            assert resume.wait(30)
        return tables

    monkeypatch.setattr(service, "journey_tables", pause_between_read_and_write)
    thread = threading.Thread(name="paused-match", target=lambda: done.setdefault("result", run()))
    thread.start()
    assert paused.wait(30), "the match never got to its write"
    try:
        yield done
    finally:
        resume.set()
        thread.join(30)
