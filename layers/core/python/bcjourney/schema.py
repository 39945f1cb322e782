"""Column names and Arrow types of what the lake holds. Glue tables in template.yaml mirror these."""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms")  # naive, always UTC: Athena and DuckDB read it as a plain TIMESTAMP

CURATED_CONVERSIONS = pa.schema(
    [
        ("conversion_id", pa.int64()),
        ("session_id", pa.int64()),
        ("country_name", pa.string()),
        ("country_code", pa.string()),
        ("is_mobile", pa.bool_()),
        ("ui_element", pa.string()),
        ("measurement_category", pa.string()),
        ("converted_at", TIMESTAMP),
        ("quality_flags", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("batch_id", pa.string()),
    ]
)

CURATED_REGISTRATIONS = pa.schema(
    [
        ("registered_at", TIMESTAMP),
        ("residency_country_name", pa.string()),
        ("residency_country_code", pa.string()),
        ("ip_country_name", pa.string()),
        ("ip_country_code", pa.string()),
        ("important_score", pa.int64()),
        ("click_id", pa.int64()),  # our conversion id, where the partner passes it through (its profile says)
        ("quality_flags", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("batch_id", pa.string()),
    ]
)

PAGE_CATEGORIES = pa.schema(
    [
        ("page_category", pa.string()),
        ("measurement_category", pa.string()),
    ]
)

# Partitioned by source (conversions | broker_<partner> | reference) and dt (the day it was quarantined).
QUARANTINE = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("raw_line", pa.string()),
        ("rule", pa.string()),
        ("column_name", pa.string()),
        ("value", pa.string()),
        ("batch_id", pa.string()),
        ("quarantined_at", TIMESTAMP),
    ]
)

# The analysis-ready dataset: the contract's columns, in this order. Partitioned by dt (string).
UNIFIED_JOURNEYS = pa.schema(
    [
        ("conversion_id", pa.int64()),
        ("session_id", pa.int64()),
        ("is_mobile", pa.bool_()),
        ("ui_element", pa.string()),
        ("measurement_category", pa.string()),
        ("page_category", pa.string()),
        ("converted_at", TIMESTAMP),
        ("country_code", pa.string()),
        ("partner", pa.string()),
        ("registered_at", TIMESTAMP),
        ("registration_delay_s", pa.float64()),
        ("ip_country_code", pa.string()),
        ("residency_country_code", pa.string()),
        ("important_score", pa.int64()),
        ("match_confidence", pa.float64()),
        ("match_rule", pa.string()),
        ("conversion_source_file", pa.string()),
        ("conversion_source_line", pa.int64()),
        ("broker_source_file", pa.string()),
        ("broker_source_line", pa.int64()),
        # seconds taken off registered_at before matching: the partner's clock offset learned that day (0: none;
        # registration_delay_s is on the aligned time)
        ("clock_offset_s", pa.float64()),
    ]
)

# Link health per partner and day (bcjourney.matching.health), beside the journeys: unified/link_health/dt=<day>/.
LINK_HEALTH = pa.schema(
    [
        ("partner", pa.string()),
        ("day", pa.string()),
        ("registrations", pa.int64()),
        ("linked", pa.int64()),
        ("linked_share", pa.float64()),
        ("within_5s_share", pa.float64()),
        ("baseline_linked_share", pa.float64()),
        ("baseline_within_5s_share", pa.float64()),
        ("history_days", pa.int64()),
        ("collapsed", pa.bool_()),
        ("reason", pa.string()),
    ]
)
