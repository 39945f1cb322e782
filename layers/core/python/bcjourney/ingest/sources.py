"""The contract of each landing source: which file it is, its header, and how ingest treats it (its normalizer,
where its curated rows go, their schema, the column that partitions them by day, the id that must be unique).
Ingest itself asks the contract and names no source: a new kind of file is one more contract here."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import pandas as pd
import pyarrow as pa

from .. import layout, schema
from ..partners import PartnerProfile, UnknownPartner, load_profile
from .conversions import normalize_conversions
from .mapping import normalize_mapping
from .registrations import normalize_registrations
from .rules import Verdicts

Normalizer = Callable[[pd.DataFrame, "pd.Timestamp | None"], "tuple[pd.DataFrame, Verdicts]"]


@dataclass(frozen=True, eq=False)
class SourceContract:
    kind: str  # conversions | broker | reference
    required: tuple[str, ...]
    # accepted header spellings (compared lower-cased, spaces/dashes as underscores) -> canonical name
    aliases: dict[str, str]
    normalize: Normalizer  # raw string columns -> (curated columns for every row, verdicts)
    schema: pa.Schema  # of the curated files
    curated_prefix: str  # where they go; `{partner}` is the partner of the key
    # the column whose day partitions the rows; None: one table, replaced whole by each upload (the mapping)
    time_column: str | None = None
    unique_id: str | None = None  # a column one row per value of which is kept (the earliest line); None: no rule

    @property
    def partitioned(self) -> bool:
        return self.time_column is not None


CONVERSIONS = SourceContract(
    kind="conversions",
    required=("id", "session_id", "country_name", "is_mobile", "ui_element", "created_at", "measurement_category"),
    aliases={"conversion_id": "id", "session": "session_id", "country": "country_name",
             "mobile": "is_mobile", "timestamp": "created_at", "converted_at": "created_at"},
    normalize=normalize_conversions, schema=schema.CURATED_CONVERSIONS, curated_prefix=layout.CURATED_CONVERSIONS,
    time_column="converted_at", unique_id="conversion_id",
)

BROKER = SourceContract(
    kind="broker",
    required=("timestamp", "country_residency", "ip_country", "important_score"),
    aliases={"registered_at": "timestamp", "created_at": "timestamp", "residency_country": "country_residency",
             "residency": "country_residency", "ip_country_name": "ip_country", "score": "important_score"},
    normalize=normalize_registrations, schema=schema.CURATED_REGISTRATIONS,
    curated_prefix=layout.CURATED_REGISTRATIONS + "partner={partner}/", time_column="registered_at",
)

REFERENCE = SourceContract(
    kind="reference",
    required=("page_category", "measurement_category"),
    aliases={},
    normalize=lambda frame, now: normalize_mapping(frame), schema=schema.PAGE_CATEGORIES,
    curated_prefix=layout.CURATED_PAGE_CATEGORIES,
)

_PARTNER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def broker_contract(profile: PartnerProfile) -> SourceContract:
    """The broker contract as one partner's profile adapts it: its header names, its time zone, its score scale."""
    return replace(BROKER, aliases={**BROKER.aliases, **profile.aliases},
                   normalize=partial(normalize_registrations, profile=profile))


@dataclass(frozen=True)
class LandingObject:
    """What a landing key is: its source contract, the partner (broker files) and the quarantine source name.
    `profile` is the partner's (None for other sources, and for a partner that has none: ingest rejects it)."""

    key: str
    contract: SourceContract
    partner: str | None = None
    profile: PartnerProfile | None = None

    @property
    def source(self) -> str:
        return f"broker_{self.partner}" if self.partner else self.contract.kind

    @property
    def curated_prefix(self) -> str:
        return self.contract.curated_prefix.format(partner=self.partner)


class UnknownLandingKey(ValueError):
    pass


class HeaderMismatch(ValueError):
    """The header lacks a column the source's contract requires."""


DATA_SUFFIXES = (".csv", ".csv.gz")  # what the landing area takes (the S3 notifications filter on them too)


def classify_key(key: str) -> LandingObject:
    """What a landing key is; sub-folders are allowed (e.g. conversions/2024/04/batch.csv). UnknownLandingKey for
    anything else: a console folder marker ('broker/acme/'), a hidden or non-CSV file, a key outside the areas."""
    name = key.rsplit("/", 1)[-1]
    if key == layout.REFERENCE_MAPPING_KEY:
        return LandingObject(key, REFERENCE)
    if name and not name.startswith(".") and name.endswith(DATA_SUFFIXES):  # as S3 filters: case-sensitive
        if key.startswith(layout.CONVERSIONS_PREFIX):
            return LandingObject(key, CONVERSIONS)
        parts = key[len(layout.BROKER_PREFIX):].split("/") if key.startswith(layout.BROKER_PREFIX) else []
        if len(parts) >= 2 and _PARTNER_NAME.match(parts[0]):
            try:
                profile = load_profile(parts[0])
            except UnknownPartner:
                return LandingObject(key, BROKER, partner=parts[0])
            return LandingObject(key, broker_contract(profile), partner=parts[0], profile=profile)
    raise UnknownLandingKey(
        f"{key!r} is not a landing key: expected conversions/<file>, broker/<partner>/<file> "
        f"(partner in lower case letters, digits, '-' or '_'; files {' or '.join(DATA_SUFFIXES)}) or "
        f"{layout.REFERENCE_MAPPING_KEY}"
    )


def canonical_header(header: list[str], contract: SourceContract) -> list[str]:
    """Map a file's header to the contract's names; raises if a required column is missing, or if two columns
    mean the same (`created_at` twice, or `timestamp` beside its alias `created_at`): which to trust is unknown."""
    names = []
    for name in header:
        norm = re.sub(r"[\s\-]+", "_", name.strip().lower())
        names.append(contract.aliases.get(norm, norm))
    first_with_name: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in first_with_name:
            earlier = first_with_name[name]
            raise HeaderMismatch(
                f"header columns {earlier + 1} ({header[earlier]!r}) and {position + 1} ({header[position]!r}) both "
                f"mean {name!r} in a {contract.kind} file: which one to trust is unknown")
        first_with_name[name] = position
    missing = [c for c in contract.required if c not in names]
    if missing:
        raise HeaderMismatch(f"header {header!r} lacks required column(s) {missing} for a {contract.kind} file")
    return names
