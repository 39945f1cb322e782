"""Stream a landing file as chunks of raw string rows, each with its 1-based physical line number.

Detects gzip, the text encoding (UTF-8 with or without BOM, Latin-1 fallback) and the delimiter.
A line whose field count differs from the header's is reported alone as malformed; the rest goes on.
Quoted fields spanning lines are not supported: such a record is malformed (partners' exports have none).

Blocks of about 16 MB are parsed by pyarrow's CSV reader. Its row numbers are only trustworthy when every
row is one physical line, so a block where that does not hold (a stray quote swallowing newlines) is parsed
again, line by line, with Python's csv module: slower, but each line's fate is exact.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import threading
from queue import Full, Queue
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK_BYTES = 16 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = (";", ",", "\t", "|")
_NEWLINE = 10


class UnreadableFile(ValueError):
    """The file as a whole cannot be read (empty, binary, no usable header)."""


@dataclass
class RawChunk:
    header: list[str]
    frame: pd.DataFrame  # one string column per header field (names made unique), one row per good line
    lines: np.ndarray  # physical line number of each row of `frame`
    malformed: list[tuple[int, str, str]] = field(default_factory=list)  # (line, raw text, reason)
    _block: bytes = b""
    _starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _first_line: int = 2

    def raw_lines(self, line_numbers) -> list[str]:
        """The raw text of the given physical lines of this chunk (for quarantine)."""
        out = []
        for number in line_numbers:
            i = int(number) - self._first_line
            out.append(self._block[self._starts[i]:self._starts[i + 1]].rstrip(b"\r\n").decode("utf-8", "replace"))
        return out


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


def read_chunks(stream: BinaryIO, block_bytes: int = BLOCK_BYTES,
                prefetch: bool = False) -> tuple[FileFormat, Iterator[RawChunk]]:
    """Return the detected format and an iterator of chunks; the header is line 1.

    With prefetch, the next block is read and parsed on a second thread while the caller works on this one
    (pyarrow's parser releases the GIL); at most one chunk waits, so memory stays bounded."""
    head = stream.read(_SNIFF_BYTES)
    fmt = detect_format(head)
    binary: BinaryIO = io.BufferedReader(_Prefixed(head, stream), buffer_size=1024 * 1024)
    if fmt.compressed:
        binary = gzip.GzipFile(fileobj=binary)
    chunks = _chunks(_utf8_blocks(binary, fmt, block_bytes), fmt.delimiter)
    return fmt, (_prefetched(chunks) if prefetch else chunks)


def _prefetched(chunks: Iterator[RawChunk]) -> Iterator[RawChunk]:
    done = object()
    queue: Queue = Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    return  # the consumer gave up: stop reading
            hand_over(done)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(exc)

    thread = threading.Thread(target=produce, name="bcjourney-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # also when the consumer stops early: the producer must not wait forever
        thread.join()


def _utf8_blocks(binary: BinaryIO, fmt: FileFormat, block_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines, as valid UTF-8 (invalid bytes replaced, Latin-1 transcoded, BOM dropped)."""
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="replace")
    carry = b""
    first = True
    while True:
        data = binary.read(block_bytes)
        final = not data
        if first and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        first = False
        block = carry + (data if _is_utf8(data, fmt, decoder) else decoder.decode(data, final=final).encode("utf-8"))
        if final:
            if block:
                yield block if block.endswith(b"\n") else block + b"\n"
            return
        cut = block.rfind(b"\n") + 1
        if cut:
            yield block[:cut]
        carry = block[cut:]


def _is_utf8(data: bytes, fmt: FileFormat, decoder) -> bool:
    """Valid UTF-8 passes through untouched (Arrow validates it fast); anything else goes through the decoder.

    Only when the decoder holds no partial character and the block does not end inside one."""
    if fmt.encoding != "utf-8-sig" or decoder.getstate()[0] or not data:
        return False
    try:
        pa.array([data], type=pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _chunks(blocks: Iterator[bytes], delimiter: str) -> Iterator[RawChunk]:
    first = next(blocks, b"")
    end = first.find(b"\n") + 1
    header_line = first[:end].rstrip(b"\r\n").decode("utf-8")
    try:
        header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
    except (csv.Error, StopIteration) as exc:
        raise UnreadableFile(f"the header line cannot be parsed: {exc}") from exc
    names = _unique(header)
    line = 2
    for block in _prepend(first[end:], blocks):
        if not block:
            continue
        chunk = _parse_block(block, header, names, delimiter, line)
        line += len(chunk._starts) - 1
        yield chunk


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _unique(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}__{count}")
    return names


def _parse_block(block: bytes, header: list[str], names: list[str], delimiter: str, first_line: int) -> RawChunk:
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _NEWLINE)
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    n_lines = len(newlines)
    lengths = newlines - starts[:-1]
    # a line of nothing but "\r" is blank too
    blank = (lengths == 0) | ((lengths == 1) & (np.frombuffer(block, dtype=np.uint8)[np.maximum(newlines - 1, 0)] == 13))

    invalid: list[tuple[int, str]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(block),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(block) + 1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        exact = (table.num_rows + len(invalid) == n_lines
                 and all(number is not None and "\n" not in text for number, text in invalid))
    except pa.ArrowInvalid:
        exact = False
    if not exact:
        return _parse_block_by_line(block, header, names, delimiter, first_line, starts, blank)

    bad_rows = np.array([number - 1 for number, _ in invalid], dtype=np.int64)
    good = np.ones(n_lines, dtype=bool)
    good[bad_rows] = False
    line_numbers = np.arange(first_line, first_line + n_lines)
    malformed = [(int(line_numbers[i]), text, f"{_fields(text, delimiter)} fields, header has {len(header)}")
                 for i, (_, text) in zip(bad_rows, invalid)]
    # pyarrow reads a blank line as a row of empty fields: it is a blank line, not a row
    keep_rows = ~blank[good]
    frame = table.filter(pa.array(keep_rows)).to_pandas(types_mapper=pd.ArrowDtype) if not keep_rows.all() \
        else table.to_pandas(types_mapper=pd.ArrowDtype)
    malformed += [(int(n), "", "blank line") for n in line_numbers[good & blank]]
    malformed.sort()
    return RawChunk(header, frame, line_numbers[good & ~blank], malformed, block, starts, first_line)


def _parse_block_by_line(block, header, names, delimiter, first_line, starts, blank) -> RawChunk:
    rows, lines, malformed = [], [], []
    for i in range(len(starts) - 1):
        number = first_line + i
        raw = block[starts[i]:starts[i + 1]].rstrip(b"\r\n").decode("utf-8")
        if blank[i]:
            malformed.append((number, raw, "blank line"))
            continue
        try:
            fields = next(csv.reader([raw], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            malformed.append((number, raw, f"broken quoting: {exc}"))
            continue
        if len(fields) != len(header):
            malformed.append((number, raw, f"{len(fields)} fields, header has {len(header)}"))
            continue
        rows.append(fields)
        lines.append(number)
    frame = pd.DataFrame(rows, columns=names, dtype=pd.ArrowDtype(pa.string())) if rows else \
        pd.DataFrame({n: pd.Series([], dtype=pd.ArrowDtype(pa.string())) for n in names})
    return RawChunk(header, frame, np.array(lines, dtype=np.int64), malformed, block, starts, first_line)


def _fields(text: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([text], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return text.count(delimiter) + 1
