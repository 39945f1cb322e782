"""The exact tier: a partner that passes our click id through (its profile maps that column to `click_id`) links
those rows by the id, with confidence 1; only the other rows go to the probabilistic matcher, which then fits its
model without them. An id that names no loaded click (a click not exported yet, or a wrong id) leaves its row to
the probabilistic matcher, and is logged (per batch: neighbour days are counted in each batch that loads them)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from .inputs import MatchInputs
from .linker import Links, MatchSettings, link

CLICK_ID_RULE = "click_id"


@dataclass(frozen=True)
class ExactPairs:
    click: np.ndarray  # positions in the clicks table
    registration: np.ndarray  # positions in the registrations table
    unknown_ids: int  # rows whose click id names no loaded click


def exact_pairs(clicks: pa.Table, registrations: pa.Table) -> ExactPairs:
    """Registrations whose click_id is a loaded click's conversion id, one to one (a second registration naming
    the same click goes to the probabilistic matcher)."""
    empty = np.zeros(0, dtype=np.int64)
    if "click_id" not in registrations.column_names or registrations.num_rows == 0:
        return ExactPairs(empty, empty, 0)
    ids = registrations.column("click_id").to_pandas()
    has_id = np.flatnonzero(ids.notna().to_numpy())
    if not len(has_id):
        return ExactPairs(empty, empty, 0)
    conversion_ids = pd.Index(clicks.column("conversion_id").to_numpy(zero_copy_only=False))
    click_at = conversion_ids.get_indexer(ids.iloc[has_id].astype("int64").to_numpy())
    known = click_at >= 0
    click, registration = click_at[known], has_id[known]
    first = np.unique(click, return_index=True)[1]  # the earliest registration naming each click
    first.sort()
    return ExactPairs(click[first].astype(np.int64), registration[first].astype(np.int64), int((~known).sum()))


def link_with_exact(inputs: MatchInputs, exact: ExactPairs, settings: MatchSettings) -> Links:
    """The exact pairs, and the probabilistic links of everything else (positions in the full tables)."""
    if not len(exact.click):
        return link(inputs, settings)
    rest_clicks = np.ones(len(inputs.click_times), dtype=bool)
    rest_clicks[exact.click] = False
    rest_registrations = np.ones(len(inputs.registration_times), dtype=bool)
    rest_registrations[exact.registration] = False
    click_at, registration_at = np.flatnonzero(rest_clicks), np.flatnonzero(rest_registrations)
    rest = replace(inputs, click_times=inputs.click_times[click_at], click_country=inputs.click_country[click_at],
                   registration_times=inputs.registration_times[registration_at],
                   ip_country=inputs.ip_country[registration_at],
                   residency_country=inputs.residency_country[registration_at])
    probabilistic = link(rest, settings)
    pairs = probabilistic.pairs.assign(click=click_at[probabilistic.pairs["click"].to_numpy()],
                                       registration=registration_at[probabilistic.pairs["registration"].to_numpy()])
    exact_frame = pd.DataFrame({"click": exact.click, "registration": exact.registration,
                                "log_odds": np.inf, "standalone": 1.0, "confidence": 1.0,
                                "match_rule": CLICK_ID_RULE})
    merged = pd.concat([exact_frame[pairs.columns], pairs], ignore_index=True)
    return Links(merged.sort_values("click", kind="stable").reset_index(drop=True), probabilistic.models)
