"""Partner rows re-sent in an overlapping export: one registration, not two.

A partner may re-send the last days of one export in the next. Partner rows carry no id, so a re-sent row is
recognised by its content (time to the millisecond, both countries, score) appearing in an earlier file of
the same partner. Repeats inside one file are real (the real export has 293 such rows) and stay: the k-th copy of
a row in a file is merged only when an earlier file already has a k-th copy. The copy kept is the earliest file's
(files in key order, which is the exports' date order), so its file and line are the registration's source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

CONTENT = ("registered_at", "residency_country_code", "ip_country_code", "important_score")


def first_copies(table: pa.Table) -> np.ndarray | None:
    """A mask of the rows to keep (None when nothing repeats across files): `table` holds one partner's rows, or
    several partners' with a `partner` column, with source_file and source_line."""
    group = ["partner"] if "partner" in table.column_names else []
    frame = table.select([*group, *CONTENT, "source_file", "source_line"]).to_pandas(types_mapper=pd.ArrowDtype)
    if frame.empty or frame["source_file"].nunique() < 2:
        return None
    content = [*group, *CONTENT]
    order = frame.sort_values(["source_file", "source_line"], kind="stable").index
    ranked = frame.loc[order]
    copy_number = ranked.groupby([*content, "source_file"], dropna=False, sort=False).cumcount()
    keep_sorted = ~ranked.assign(copy_number=copy_number).duplicated([*content, "copy_number"], keep="first")
    keep = np.zeros(len(frame), dtype=bool)
    keep[order.to_numpy()] = keep_sorted.to_numpy()
    return None if keep.all() else keep
