"""The landing-file reader: forms partners really send, and lines that must be quarantined alone."""

import gzip
import io

import pytest
from bcjourney.ingest import reader
from bcjourney.ingest.reader import UnreadableFile, read_chunks


def read_all(data: bytes, block_bytes=1000):
    opened = read_chunks(io.BytesIO(data), block_bytes)
    chunks = list(opened.chunks)
    rows = [list(r) for c in chunks for r in c.frame.itertuples(index=False)]
    lines = [n for c in chunks for n in c.lines]
    malformed = [m for c in chunks for m in c.malformed]
    return opened.format, opened.header, rows, lines, malformed


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_detects_the_delimiter(delimiter):
    data = f"a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n".encode()
    fmt, header, rows, _, _ = read_all(data)
    assert fmt.delimiter == delimiter
    assert header == ["a", "b", "c"]
    assert rows == [["1", "2", "3"]]


def test_bom_and_crlf_are_invisible_to_the_rows():
    data = "\ufeffid;name\r\n1;x\r\n2;y\r\n".encode("utf-8")
    fmt, header, rows, lines, _ = read_all(data)
    assert fmt.has_bom
    assert header == ["id", "name"]
    assert rows == [["1", "x"], ["2", "y"]]
    assert lines == [2, 3]


def test_gzip_is_detected():
    fmt, header, rows, _, _ = read_all(gzip.compress(b"a,b\n1,2\n"))
    assert fmt.compressed and rows == [["1", "2"]]


def test_latin1_falls_back_without_losing_characters():
    fmt, _, rows, _, _ = read_all("a;b\n1;Curaçao\n".encode("latin-1"))
    assert fmt.encoding == "latin-1"
    assert rows == [["1", "Curaçao"]]


def test_a_malformed_line_is_reported_alone_and_the_file_goes_on():
    data = b'a,b,c\n1,2,3\n4,5\n6,7,8,9\n"x,8,9\n10,11,12\n'
    _, _, rows, lines, malformed = read_all(data)
    assert rows == [["1", "2", "3"], ["10", "11", "12"]]
    assert lines == [2, 6]
    assert [m[0] for m in malformed] == [3, 4, 5]
    assert malformed[0][1:3] == ("4,5", "malformed_line")


def test_line_numbers_run_across_chunks():
    data = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(25))).encode()
    _, _, rows, lines, _ = read_all(data, block_bytes=40)
    assert len(rows) == 25 and lines == list(range(2, 27))


@pytest.mark.parametrize("data,message", [(b"", "empty"), (b"\x00\x01\x02binary", "binary"),
                                          (b"justoneword\n1\n", "delimiter")])
def test_unreadable_files_are_rejected_with_a_reason(data, message):
    with pytest.raises(UnreadableFile, match=message):
        read_all(data)


@pytest.mark.parametrize("block_bytes", [7, 8, 9, 13, 64])
def test_multibyte_characters_survive_any_block_boundary(block_bytes):
    data = ("id;name\n" + "".join(f"{i};Côte d’Ivoire é€\n" for i in range(20))).encode("utf-8")
    _, _, rows, lines, malformed = read_all(data, block_bytes=block_bytes)
    assert rows == [[str(i), "Côte d’Ivoire é€"] for i in range(20)]
    assert lines == list(range(2, 22)) and malformed == []


def test_prefetching_gives_the_same_chunks_and_stops_when_the_reader_does():
    import threading

    data = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(500))).encode()
    plain = list(read_chunks(io.BytesIO(data), 100).chunks)
    fetched = list(read_chunks(io.BytesIO(data), 100, prefetch=True).chunks)
    assert [c.lines.tolist() for c in fetched] == [c.lines.tolist() for c in plain]
    abandoned = read_chunks(io.BytesIO(data), 100, prefetch=True).chunks
    next(abandoned)
    abandoned.close()  # the consumer stops early
    assert not any(t.name == "bcjourney-reader" for t in threading.enumerate())


def test_blank_lines_are_counted_not_kept_and_line_numbers_stay_right():
    data = b"a,b\n1,2\n\n\r\n3,4\n" + b"\n" * 5000 + b"5,6\n"
    opened = read_chunks(io.BytesIO(data), 100)
    chunks = list(opened.chunks)
    assert sum(c.blank_lines for c in chunks) == 5002
    assert [m for c in chunks for m in c.malformed] == []
    assert [n for c in chunks for n in c.lines] == [2, 5, 5006]


def test_a_block_of_millions_of_blank_lines_is_parsed_in_bounded_pieces(monkeypatch):
    monkeypatch.setattr(reader, "MAX_BLOCK_LINES", 1000)
    data = b"a,b\n" + b"\n" * 10_000 + b"1,2\n"
    chunks = list(read_chunks(io.BytesIO(data), 1 << 20).chunks)
    assert max(len(c._starts) - 1 for c in chunks) <= 1000
    assert sum(c.blank_lines for c in chunks) == 10_000
    assert [n for c in chunks for n in c.lines] == [10_002]


class _Endless(io.RawIOBase):
    """`size` bytes of one line with no newline, made as they are read: nothing holds the whole."""

    def __init__(self, head: bytes, size: int, tail: bytes):
        self.head, self.left, self.tail = head, size, tail

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        if self.left:
            n = min(len(buffer), self.left)
            buffer[:n] = b"x" * n
            self.left -= n
            return n
        n = min(len(buffer), len(self.tail))
        buffer[:n], self.tail = self.tail[:n], self.tail[n:]
        return n


@pytest.mark.parametrize("tail", [b"", b"\n3,4\n"])
def test_a_line_longer_than_the_limit_is_reported_by_its_prefix_without_being_held(monkeypatch, tail):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 10_000)
    held = []
    original = reader._Decoder.decode

    def spy(self, data, lines_before):
        held.append(len(data))
        return original(self, data, lines_before)

    monkeypatch.setattr(reader._Decoder, "decode", spy)
    stream = io.BufferedReader(_Endless(b"a,b\n1,2\n", 5_000_000, tail))
    opened = read_chunks(stream, 4096)
    chunks = list(opened.chunks)
    malformed = [m for c in chunks for m in c.malformed]
    assert len(malformed) == 1
    line, raw, rule, reason = malformed[0]
    assert (line, rule) == (3, "line_too_long") and raw == "x" * reader.RAW_PREFIX_BYTES
    assert "5,000,000 bytes" in reason
    assert [n for c in chunks for n in c.lines] == ([2, 4] if tail else [2])
    assert max(held) <= 10_000 + 4096 * 2


def test_a_long_line_that_arrives_whole_inside_a_block_is_reported_too(monkeypatch):
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 100)
    data = b"a,b\n1,2\n" + b"y," + b"y" * 200 + b"\n3,4\n"
    _, _, rows, lines, malformed = read_all(data, block_bytes=10_000)
    assert rows == [["1", "2"], ["3", "4"]] and lines == [2, 4]
    assert [(m[0], m[2]) for m in malformed] == [(3, "line_too_long")]


def test_a_latin1_byte_after_64_kb_of_ascii_redecides_the_encoding():
    data = b"id;name\n" + b"".join(b"%d;Aruba\n" % i for i in range(10_000)) + "1;Curaçao\n".encode("latin-1")
    fmt, _, rows, _, malformed = read_all(data, block_bytes=1 << 20)
    assert len(data) > 64 * 1024 and fmt.encoding == "latin-1" and fmt.redecided_at_line == 10_002
    assert rows[-1] == ["1", "Curaçao"] and malformed == []
    assert not any("\ufffd" in v for r in rows for v in r)


def test_a_line_in_another_encoding_inside_a_utf8_file_is_undecodable_not_replaced():
    data = ("id;name\n1;Côte d’Ivoire\n" + "".join(f"{i};Aruba\n" for i in range(10_000))).encode() \
        + "2;Curaçao\n".encode("latin-1") + b"3;Aruba\n"
    fmt, _, rows, lines, malformed = read_all(data, block_bytes=1 << 16)
    assert fmt.encoding == "utf-8-sig"
    assert [(m[0], m[1], m[2]) for m in malformed] == [(10_003, "2;Cura\\xe7ao", "undecodable")]
    assert rows[0] == ["1", "Côte d’Ivoire"] and rows[-1] == ["3", "Aruba"] and lines[-1] == 10_004
    assert not any("\ufffd" in v for r in rows for v in r)
