"""Key prefixes of the landing area and the lake (see CONTRACT in README): one place, so no module guesses."""

from __future__ import annotations

import re

# Landing area
CONVERSIONS_PREFIX = "conversions/"
BROKER_PREFIX = "broker/"
REFERENCE_MAPPING_KEY = "reference/page_category_mapping.csv"

# Lake
CURATED_CONVERSIONS = "curated/conversions/"
CURATED_REGISTRATIONS = "curated/broker_registrations/"
CURATED_PAGE_CATEGORIES = "curated/page_categories/"
QUARANTINE = "quarantine/"
UNIFIED_JOURNEYS = "unified/journeys/"
REPORTS = "_reports/"

_PARTITION = re.compile(r"(?:^|/)(\w+)=([^/]+)")


def partition_values(key: str) -> dict[str, str]:
    """Hive-style partition values found in a key: 'a/dt=2024-04-01/x.parquet' -> {'dt': '2024-04-01'}."""
    return dict(_PARTITION.findall(key))
