"""The landing-file reader: forms partners really send, and lines that must be quarantined alone."""

import gzip
import io

import pytest

from bcjourney.ingest.reader import UnreadableFile, read_chunks


def read_all(data: bytes, block_bytes=1000):
    fmt, chunks = read_chunks(io.BytesIO(data), block_bytes)
    chunks = list(chunks)
    rows = [list(r) for c in chunks for r in c.frame.itertuples(index=False)]
    lines = [n for c in chunks for n in c.lines]
    malformed = [m for c in chunks for m in c.malformed]
    return fmt, chunks[0].header if chunks else None, rows, lines, malformed


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
    assert malformed[0][1] == "4,5"


def test_line_numbers_run_across_chunks():
    data = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(25))).encode()
    _, _, rows, lines, _ = read_all(data, block_bytes=40)
    assert len(rows) == 25 and lines == list(range(2, 27))


@pytest.mark.parametrize("data,message", [(b"", "empty"), (b"\x00\x01\x02binary", "binary"), (b"justoneword\n1\n", "delimiter")])
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
    _, plain = read_chunks(io.BytesIO(data), 100)
    _, fetched = read_chunks(io.BytesIO(data), 100, prefetch=True)
    plain, fetched = list(plain), list(fetched)
    assert [c.lines.tolist() for c in fetched] == [c.lines.tolist() for c in plain]
    _, abandoned = read_chunks(io.BytesIO(data), 100, prefetch=True)
    next(abandoned)
    abandoned.close()  # the consumer stops early
    assert not any(t.name == "bcjourney-reader" for t in threading.enumerate())
