"""The generator's file writers: conversion and partner lines in the real exports' forms (quoting, BOM, CRLF,
no final newline, the partner's unquoted comma)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .reference import _HHMMSS_PA, BROKER_HEADER, CONVERSIONS_HEADER
from .sampling import _T, _Frame, _rows


def _str(values) -> pa.Array:
    """A string Arrow array from numbers or Python strings."""
    arr = pa.array(values)
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def _quote(arr: pa.Array, sep: str) -> pa.Array:
    """CSV-minimal quoting: only fields holding a quote or the delimiter (payloads) get quoted."""
    needs = pc.or_(pc.match_substring(arr, '"'), pc.match_substring(arr, sep))
    if not pc.any(needs).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def _write_lines(path: Path, header: str, lines: pa.Array, eol: str = "\n", bom: bool = False,
                 final_eol: bool = True) -> None:
    body = eol.join([header, *lines.to_pylist()])
    if final_eol:
        body += eol
    data = body.encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + data if bom else data)


def _write_conversions(path: Path, df: _Frame, date_str: str, rng: np.random.Generator,
                       repeat_rate: float) -> tuple[int, int]:
    """Write the day's click file; Palestine clicks appear twice ('West Bank', 'Gaza Strip'), some lines
    repeat exactly. Returns (lines written, duplicate lines)."""
    n = _rows(df)
    rep = np.ones(n, np.int64)
    pal = df["country_idx"] == _T.palestine
    rep[pal] = 2
    rep[(rng.random(n) < repeat_rate) & ~pal] = 2
    take = np.repeat(np.arange(n), rep)
    country = df["country_name"][take]
    if (rep > 1).any():
        second = np.zeros(len(take), bool)
        second[np.cumsum(rep)[rep > 1] - 1] = True
        country = np.where(second & (country == "West Bank"), "Gaza Strip", country)
    created = pc.binary_join_element_wise(date_str, pc.take(_HHMMSS_PA, pa.array(df["sec"][take])), " ")
    lines = pc.binary_join_element_wise(
        _str(df["id"][take]),
        _str(df["session_id"][take]),
        _quote(_str(country), ";"),
        _str(df["is_mobile"][take]),
        _quote(_str(df["ui_element"][take]), ";"),
        created,
        _quote(_str(df["measurement_category"][take]), ";"),
        ";",
    )
    _write_lines(path, CONVERSIONS_HEADER, lines)
    return len(take), int((rep - 1).sum())




def _broker_lines(df: _Frame) -> pa.Array:
    ts = _str(df["ts"])
    res = _str(df["residency"])
    ip = _str(df["ip"])
    score = _str(df["score"])
    # The partner does not quote: 'Bonaire, Sint Eustatius and Saba' comes out as
    # 'ts,Bonaire, Sint Eustatius and Saba,score' (four fields, residency lost, a naive parse reads
    # residency 'Bonaire' and ip ' Sint Eustatius and Saba'), as in the real export.
    extra = [_str(df["subid"])] if "subid" in df else []  # our click id, where the partner passes it through
    normal = pc.binary_join_element_wise(ts, res, ip, score, *extra, ",")
    bes = pc.equal(ip, "Bonaire, Sint Eustatius and Saba")
    if pc.any(bes).as_py():
        return pc.if_else(bes, pc.binary_join_element_wise(ts, ip, score, *extra, ","), normal)
    return normal


def _write_broker(path: Path, df: _Frame, form: str) -> None:
    """form: 'lf', 'crlf', 'bom-crlf', 'crlf-noeol' (no newline after the last row)."""
    header = BROKER_HEADER + (",subid" if "subid" in df else "")
    _write_lines(path, header, _broker_lines(df), eol="\n" if form == "lf" else "\r\n",
                 bom=form == "bom-crlf", final_eol=form != "crlf-noeol")
