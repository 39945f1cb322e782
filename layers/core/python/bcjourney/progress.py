"""A process-wide listener for row progress, so a local run can draw a progress bar for work done inside a
handler without changing the handler's event. On Lambda nobody listens and reporting costs nothing."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

_listeners: list[Callable[[int], None]] = []


def report_rows(count: int) -> None:
    for listener in _listeners:
        listener(count)


@contextmanager
def listening(listener: Callable[[int], None]) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
