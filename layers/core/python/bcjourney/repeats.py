"""A conversion id that arrives in two batches (or twice in one) is one click: the rule both ingest and matching
apply, kept apart from the normalizers so matching does not load them."""

from __future__ import annotations

import numpy as np
import pandas as pd


def first_of_each_id(curated: pd.DataFrame, id_column: str = "conversion_id") -> np.ndarray | None:
    """Mask keeping one row per id, the earliest file and line (so the choice is deterministic);
    None when no id repeats, the usual case."""
    ids = curated[id_column].to_numpy(dtype=np.int64)  # curated ids are never null
    ordered = np.sort(ids)
    repeated_ids = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(repeated_ids):
        return None
    # sort only the few rows whose id repeats; positions, not labels, since batches concatenate chunks
    positions = np.flatnonzero(np.isin(ids, repeated_ids))
    ordered_rows = curated.iloc[positions].assign(_position=positions).sort_values(
        [id_column, "source_file", "source_line"], kind="stable")
    keep = np.ones(len(curated), dtype=bool)
    keep[ordered_rows["_position"][ordered_rows[id_column].duplicated(keep="first")].to_numpy()] = False
    return keep
