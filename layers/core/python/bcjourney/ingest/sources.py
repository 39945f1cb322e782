"""The schema contract of each landing source: which file it is, its required columns and header aliases."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import layout


@dataclass(frozen=True)
class SourceContract:
    kind: str  # conversions | broker | reference
    required: tuple[str, ...]
    # accepted header spellings (compared lower-cased, spaces/dashes as underscores) -> canonical name
    aliases: dict[str, str]


CONVERSIONS = SourceContract(
    kind="conversions",
    required=("id", "session_id", "country_name", "is_mobile", "ui_element", "created_at", "measurement_category"),
    aliases={"conversion_id": "id", "session": "session_id", "country": "country_name",
             "mobile": "is_mobile", "timestamp": "created_at", "converted_at": "created_at"},
)

BROKER = SourceContract(
    kind="broker",
    required=("timestamp", "country_residency", "ip_country", "important_score"),
    aliases={"registered_at": "timestamp", "created_at": "timestamp", "residency_country": "country_residency",
             "residency": "country_residency", "ip_country_name": "ip_country", "score": "important_score"},
)

REFERENCE = SourceContract(
    kind="reference",
    required=("page_category", "measurement_category"),
    aliases={},
)

_PARTNER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class LandingObject:
    """What a landing key is: its source contract, the partner (broker files) and the quarantine source name."""

    key: str
    contract: SourceContract
    partner: str | None = None

    @property
    def source(self) -> str:
        return f"broker_{self.partner}" if self.partner else self.contract.kind


class UnknownLandingKey(ValueError):
    pass


class HeaderMismatch(ValueError):
    """The header lacks a column the source's contract requires."""


def classify_key(key: str) -> LandingObject:
    """What a landing key is; sub-folders are allowed (e.g. conversions/2024/04/batch.csv)."""
    name = key.rsplit("/", 1)[-1]
    if key == layout.REFERENCE_MAPPING_KEY:
        return LandingObject(key, REFERENCE)
    if name and not name.startswith("."):
        if key.startswith(layout.CONVERSIONS_PREFIX):
            return LandingObject(key, CONVERSIONS)
        parts = key[len(layout.BROKER_PREFIX):].split("/") if key.startswith(layout.BROKER_PREFIX) else []
        if len(parts) >= 2 and _PARTNER_NAME.match(parts[0]):
            return LandingObject(key, BROKER, partner=parts[0])
    raise UnknownLandingKey(
        f"{key!r} is not a landing key: expected conversions/<file>, broker/<partner>/<file> "
        f"(partner in lower case letters, digits, '-' or '_') or {layout.REFERENCE_MAPPING_KEY}"
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
