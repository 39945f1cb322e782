"""Stream a landing file as chunks of raw rows, each with its 1-based physical line number.

Detects gzip, the text encoding (UTF-8 with or without BOM, Latin-1 fallback) and the delimiter.
A line whose field count differs from the header's is reported alone as malformed; the rest goes on.
Quoted fields spanning lines are not supported: such a record is malformed (partners' exports have none).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

CHUNK_ROWS = 100_000
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (";", ",", "\t", "|")


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (empty, binary, no usable header)."""


@dataclass
class RawChunk:
    header: list[str]
    rows: list[list[str]]  # each with len(header) fields
    lines: list[int]  # physical line number of each row
    raw: list[str]  # the raw text line of each row, for quarantine
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # (line, raw, reason)


@dataclass
class FileFormat:
    compressed: bool
    encoding: str
    delimiter: str
    has_bom: bool


def detect_format(head: bytes) -> FileFormat:
    compressed = head[:2] == b"\x1f\x8b"
    if compressed:
        head = gzip.GzipFile(fileobj=io.BytesIO(head)).read1(_SNIFF_BYTES) if _gzip_ok(head) else b""
    if not head.strip():
        raise UnreadableFile("the file is empty")
    if b"\x00" in head:
        raise UnreadableFile("the file is binary (NUL bytes), not delimited text")
    has_bom = head.startswith(codecs.BOM_UTF8)
    try:
        # cut at the last newline so a multi-byte character split by the sniff window is not an error
        head[: head.rfind(b"\n") + 1 or len(head)].decode("utf-8")
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "latin-1"
    text = head.decode(encoding, errors="replace")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        raise UnreadableFile(f"no delimiter found in the header line {first_line[:80]!r}")
    return FileFormat(compressed, encoding, delimiter, has_bom)


def _gzip_ok(head: bytes) -> bool:
    try:
        gzip.GzipFile(fileobj=io.BytesIO(head)).read1(1)
        return True
    except (OSError, EOFError):
        return False


def read_chunks(stream: BinaryIO, chunk_rows: int = CHUNK_ROWS) -> tuple[FileFormat, Iterator[RawChunk]]:
    """Return the detected format and an iterator of chunks; the header is line 1."""
    head = stream.read(_SNIFF_BYTES)
    buffered = io.BufferedReader(_Prefixed(head, stream), buffer_size=1024 * 1024)
    fmt = detect_format(head)
    binary = gzip.GzipFile(fileobj=buffered) if fmt.compressed else buffered
    text = io.TextIOWrapper(binary, encoding=fmt.encoding, errors="replace", newline="")
    return fmt, _chunks(text, fmt.delimiter, chunk_rows)


class _Prefixed(io.RawIOBase):
    """The sniffed head, then the rest of the stream: works for any object with read(), S3 streams included."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _chunks(text: io.TextIOBase, delimiter: str, chunk_rows: int) -> Iterator[RawChunk]:
    header_line = text.readline()
    header = [h.strip() for h in next(csv.reader([header_line.rstrip("\r\n")], delimiter=delimiter))]
    width = len(header)
    chunk = RawChunk(header, [], [], [])
    for number, line in enumerate(text, start=2):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            chunk.malformed.append((number, raw, "blank line"))
            continue
        try:
            fields = next(csv.reader([raw], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            chunk.malformed.append((number, raw, f"broken quoting: {exc}"))
            continue
        if len(fields) != width:
            chunk.malformed.append((number, raw, f"{len(fields)} fields, header has {width}"))
            continue
        chunk.rows.append(fields)
        chunk.lines.append(number)
        chunk.raw.append(raw)
        if len(chunk.rows) >= chunk_rows:
            yield chunk
            chunk = RawChunk(header, [], [], [])
    if chunk.rows or chunk.malformed:
        yield chunk
