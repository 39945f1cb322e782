"""Normalize the page-category mapping."""

from __future__ import annotations

import pandas as pd

from ..normalize import values
from .rules import Verdicts


def normalize_mapping(frame: pd.DataFrame) -> tuple[pd.DataFrame, Verdicts]:
    verdicts = Verdicts(frame.index)
    page = verdicts.check_text(frame["page_category"], "page_category")
    verdicts.reject(page == "", "missing_page_category", "page_category")
    category = verdicts.check_text(frame["measurement_category"], "measurement_category")
    verdicts.reject(~values.is_measurement_category(category), "invalid_measurement_category", "measurement_category")
    verdicts.reject(category.duplicated(keep="first"), "duplicate_measurement_category", "measurement_category")
    return pd.DataFrame({"page_category": page, "measurement_category": category}), verdicts
