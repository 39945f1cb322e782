"""Country names in any of the naming schemes seen (Google-style, ISO/UN-style) to ISO 3166-1 alpha-2.

pycountry supplies the names; the alias table holds only what it does not know. rapidfuzz is a last,
thresholded resort whose every hit is logged, so a surprising guess can be found and added as an alias.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
import pycountry
from rapidfuzz import fuzz, process

logger = logging.getLogger(__name__)

FUZZY_THRESHOLD = 92

# Names pycountry does not carry, seen in real partner and click files.
ALIASES = {
    "bonaire": "BQ",
    "sint eustatius and saba": "BQ",
    "caribbean netherlands": "BQ",
    "brunei": "BN",
    "cape verde": "CV",
    "east timor": "TL",
    "gaza strip": "PS",
    "west bank": "PS",
    "palestine": "PS",
    "occupied palestinian territory": "PS",
    "kosovo": "XK",  # not in ISO 3166-1; XK is the user-assigned code the EU and banks use
    "macau": "MO",
    "macedonia": "MK",
    "micronesia fed st": "FM",
    "myanmar burma": "MM",
    "russia": "RU",
    "swaziland": "SZ",
    "turkey": "TR",
    "taiwan republic of china": "TW",
    "democratic republic of the congo": "CD",
    "congo democratic republic of the": "CD",
    "republic of the congo": "CG",
    "sint maarten": "SX",
    "saint vincent and grenadines": "VC",
    "u s virgin islands": "VI",
    "virgin islands u s": "VI",
    "virgin islands british": "VG",
    "uk": "GB",
    "usa": "US",
}

BLANKS = {"", "-", "--", "n/a", "na", "null", "none", "unknown"}


def _key(name: str) -> str:
    """Fold accents, '&', 'St.', punctuation and case, so spellings of one name meet."""
    text = re.sub(r"[\u2018\u2019\u00b4`]", "'", name)  # curly and back-tick apostrophes
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    text = re.sub(r"\bst\.?(?=\s)", "saint", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if not value:
                continue
            index.setdefault(_key(value), country.alpha_2)
            if "," in value:  # "Korea, Republic of" is also written "Republic of Korea"
                head, tail = value.split(",", 1)
                index.setdefault(_key(f"{tail} {head}"), country.alpha_2)
        index.setdefault(country.alpha_2.lower(), country.alpha_2)
        index.setdefault(country.alpha_3.lower(), country.alpha_2)
    index.update(ALIASES)
    return index


@lru_cache(maxsize=100_000)
def resolve_country(name: str) -> str | None:
    """ISO alpha-2 for a country name, or None when blank or not resolvable."""
    if name is None or name.strip().lower() in BLANKS:
        return None
    index = _index()
    key = _key(name)
    if key in index:
        return index[key]
    match = re.fullmatch(r"(.+?) \((.+)\)", name.strip())  # "Korea (Republic of)", "Myanmar (Burma)"
    if match:
        outer, inner = match.groups()
        for candidate in (f"{inner} {outer}", f"{outer}, {inner}", outer):
            if _key(candidate) in index:
                return index[_key(candidate)]
    hit = process.extractOne(key, index.keys(), scorer=fuzz.token_sort_ratio, score_cutoff=FUZZY_THRESHOLD)
    if hit:
        logger.warning("country %r resolved by fuzzy match to %r (%s), score %.0f", name, hit[0], index[hit[0]], hit[1])
        return index[hit[0]]
    return None


def is_blank_country(values: pd.Series) -> pd.Series:
    from .values import on_uniques  # per distinct value: a file has a few hundred country spellings at most

    return on_uniques(values, lambda names: names.str.strip().str.lower().isin(BLANKS))


def resolve_countries(values: pd.Series) -> pd.Series:
    """ISO alpha-2 per value, resolved once per distinct value."""
    from .values import distinct_values

    distinct, which = distinct_values(values)
    codes = np.array([resolve_country(name) for name in distinct], dtype=object)
    return pd.Series(codes[which], index=values.index, dtype="string")
