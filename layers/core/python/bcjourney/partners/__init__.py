"""Partner profiles: one small TOML file per partner (bcjourney/partners/<name>.toml), shipped in the core layer.

A profile says how to read that partner's export where it differs from the common form: extra header aliases,
the IANA time zone of timestamps written without an offset (DST-aware), the score's scale, what matching does with
a clock offset it detects, and the expected cadence (for people; nothing checks it yet). A `broker/<name>/` file
without a profile is rejected whole: its rows would otherwise enter the lake unread by anyone who knows the
partner. Adding a partner is a profile and its upload policy (docs/deploy.md)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HERE = Path(__file__).resolve().parent
CLOCK_POLICIES = ("apply", "warn", "off")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ProfileError(ValueError):
    """A profile file that cannot be trusted (unknown field, bad value): fix the file."""


class UnknownPartner(LookupError):
    """No profile for a partner prefix."""


@dataclass(frozen=True)
class PartnerProfile:
    name: str
    time_zone: str = "UTC"  # of naive timestamps ('2024-04-01 10:00:00'); Unix numbers and offsets are absolute
    aliases: dict[str, str] = field(default_factory=dict)  # the partner's header name -> ours
    score_min: int = 0
    score_max: int = 100
    clock_alignment: str = "apply"  # apply | warn | off: a well-determined clock offset found while matching
    cadence: str = "daily"

    @property
    def zone(self) -> ZoneInfo | None:
        return None if self.time_zone == "UTC" else ZoneInfo(self.time_zone)


_SECTIONS = {"name": str, "cadence": str, "columns": dict, "time": dict, "score": dict, "clock": dict}


def parse_profile(text: str, name: str) -> PartnerProfile:
    """A profile from its TOML text; ProfileError naming the field when something is off."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"partner profile {name}: not valid TOML: {exc}") from exc
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ProfileError(f"partner profile {name}: unknown field(s) {sorted(unknown)}")
    for key, kind in _SECTIONS.items():
        if key in data and not isinstance(data[key], kind):
            raise ProfileError(f"partner profile {name}: {key} must be a {kind.__name__}")
    if data.get("name", name) != name:
        raise ProfileError(f"partner profile {name}: says name = {data['name']!r}; the file name is the partner")
    time, score, clock = data.get("time", {}), data.get("score", {}), data.get("clock", {})
    for section, allowed in (("time", {"zone"}), ("score", {"min", "max"}), ("clock", {"alignment"})):
        extra = set(data.get(section, {})) - allowed
        if extra:
            raise ProfileError(f"partner profile {name}: unknown field(s) {sorted(extra)} in [{section}]")
    zone = time.get("zone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProfileError(f"partner profile {name}: time.zone {zone!r} is not an IANA time zone") from exc
    alignment = clock.get("alignment", "apply")
    if alignment not in CLOCK_POLICIES:
        raise ProfileError(f"partner profile {name}: clock.alignment must be one of {CLOCK_POLICIES}")
    low, high = score.get("min", 0), score.get("max", 100)
    if not (isinstance(low, int) and isinstance(high, int) and low < high):
        raise ProfileError(f"partner profile {name}: score.min and score.max must be integers, min < max")
    aliases = data.get("columns", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ProfileError(f"partner profile {name}: [columns] maps the partner's header names to ours, as text")
    return PartnerProfile(name=name, time_zone=zone, aliases={k.strip().lower(): v for k, v in aliases.items()},
                          score_min=low, score_max=high, clock_alignment=alignment,
                          cadence=data.get("cadence", "daily"))


@lru_cache(maxsize=None)
def load_profile(name: str) -> PartnerProfile:
    """The shipped profile of a partner; UnknownPartner when there is none."""
    path = HERE / f"{name}.toml"
    if not _NAME.match(name) or not path.is_file():
        raise UnknownPartner(
            f"no profile for partner {name!r}: add layers/core/python/bcjourney/partners/{name}.toml "
            "(see docs/deploy.md, adding a partner) and deploy")
    return parse_profile(path.read_text(encoding="utf-8"), name)


def known_partners() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.toml"))
