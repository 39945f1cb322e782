"""What the linker reads, taken from the lake's Arrow tables once: times as integer epoch milliseconds and
countries as small integers (the same id for the same ISO code in every column, -1 where missing). The rest of
matching is numpy on these arrays; only `journeys` goes back to the tables, by row position."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class MatchInputs:
    click_times: np.ndarray  # int64 ms, in time order
    click_country: np.ndarray  # int32 country id, -1: missing
    registration_times: np.ndarray  # int64 ms, in time order
    ip_country: np.ndarray
    residency_country: np.ndarray
    n_countries: int

    @classmethod
    def from_tables(cls, clicks: pa.Table, registrations: pa.Table) -> "MatchInputs":
        """`clicks` need converted_at and country_code; `registrations` registered_at, ip_ and
        residency_country_code. Both in time order (the lake's loaders sort them)."""
        (click_country, ip_country, residency_country), n_countries = country_ids(
            clicks.column("country_code"), registrations.column("ip_country_code"),
            registrations.column("residency_country_code"))
        return cls(column_milliseconds(clicks.column("converted_at")), click_country,
                   column_milliseconds(registrations.column("registered_at")), ip_country, residency_country,
                   n_countries)

    @classmethod
    def from_frames(cls, clicks: pd.DataFrame, registrations: pd.DataFrame) -> "MatchInputs":
        """The same from pandas frames (tests, notebooks)."""
        def table(frame: pd.DataFrame, time: str, countries: list[str]) -> pa.Table:
            columns = {time: pa.array(frame[time].astype("datetime64[ms]"), pa.timestamp("ms"))}
            columns |= {c: pa.array(frame[c], pa.string(), from_pandas=True) for c in countries}
            return pa.table(columns)

        return cls.from_tables(table(clicks, "converted_at", ["country_code"]),
                               table(registrations, "registered_at", ["ip_country_code", "residency_country_code"]))


def column_milliseconds(times: pa.ChunkedArray) -> np.ndarray:
    """Epoch milliseconds of an Arrow timestamp column (the lake stores ms; other units are converted)."""
    return pc.cast(pc.cast(times, pa.timestamp("ms"), safe=False), pa.int64()).to_numpy(zero_copy_only=False)


def country_ids(*columns: pa.ChunkedArray) -> tuple[list[np.ndarray], int]:
    """One dictionary over all the columns: the same small integer for the same code; -1 for null or ""."""
    lengths = [len(column) for column in columns]
    combined = pa.concat_arrays([pc.cast(column, pa.string()).combine_chunks() for column in columns])
    encoded = pc.dictionary_encode(combined)
    dictionary = encoded.dictionary.to_pylist()
    ids = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    if "" in dictionary:  # an empty code is a missing one: drop it from the numbering
        empty = dictionary.index("")
        ids = np.where(ids == empty, -1, ids - (ids > empty)).astype(np.int32)
    bounds = np.cumsum([0, *lengths])
    return [ids[a:b] for a, b in zip(bounds[:-1], bounds[1:])], len(dictionary) - ("" in dictionary)
