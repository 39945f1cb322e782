"""One policy for every free-text field that reaches the lake: ui elements, categories, country names, anything a
partner sends. A value that breaks it is quarantined with the rule named here, never stored, so nothing of the
kind reaches curated or unified text (and from there a report, a spreadsheet or a SQL string).

The checks run on the value's NFKC form, so full-width look-alikes (＜, ＝) are caught as what they look like.

| rule | what breaks it |
| --- | --- |
| field_too_long | more than MAX_TEXT_CHARS characters |
| undecodable | the replacement character U+FFFD: the text was damaged before it reached us |
| suspicious_text | control characters (NUL, C0, C1), invisible format characters (zero width, bidi overrides) |
| suspicious_text | a spreadsheet formula's first character: `=`, `+`, `-`, `@` (a value of dashes only is a blank) |
| suspicious_text | markup and code characters: `< > " \\ ; { } |` |
| suspicious_text | an apostrophe (`'`, `’`, `` ` ``, `´`) not between two letters (`Cote D'ivoire` passes) |
| suspicious_text | SQL and script fragments: comments, `select`, `union`, `sleep(`, `waitfor`, `cast(`, `md5(` ... |
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from .values import distinct_values

MAX_TEXT_CHARS = 256

FIELD_TOO_LONG = "field_too_long"
UNDECODABLE = "undecodable"
SUSPICIOUS = "suspicious_text"

_DASHES = re.compile(r"-*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_FORMULA = re.compile(r"^(?:[=+@]|-(?!-*$))")
_CODE_CHARACTERS = re.compile(r"""[<>"\\;{}|]""")
_APOSTROPHE = "'\u2019`\u00b4"
_STRAY_APOSTROPHE = re.compile(rf"(?<![^\W\d_])[{_APOSTROPHE}]|[{_APOSTROPHE}](?![^\W\d_])")
_PAYLOAD = re.compile(
    r"""(?:/\*|\*/|--|\bsleep\s*\(|pg_sleep|waitfor\W|\bselect\W|\bunion\W|\bdbms_|extractvalue|"""
    r"""\bconvert\s*\(|\bcast\s*\(|md5\s*\(|hashbytes|javascript:)""",
    re.IGNORECASE,
)


def text_rule(value: str) -> str | None:
    """The rule a single (already trimmed) value breaks, or None."""
    if _DASHES.fullmatch(value):  # '', '-', '--': the exports' ways of writing nothing
        return None
    if len(value) > MAX_TEXT_CHARS:
        return FIELD_TOO_LONG
    folded = unicodedata.normalize("NFKC", value)
    if "\ufffd" in folded:
        return UNDECODABLE
    if (_CONTROL.search(folded) or _FORMULA.search(folded) or _CODE_CHARACTERS.search(folded)
            or _STRAY_APOSTROPHE.search(folded) or _PAYLOAD.search(folded)):
        return SUSPICIOUS
    return None


RULES = (None, FIELD_TOO_LONG, UNDECODABLE, SUSPICIOUS)  # code -> rule


def text_rule_codes(values: pd.Series) -> np.ndarray:
    """Per value, the code (index into RULES) of the rule it breaks, 0 where it passes; judged once per
    distinct value, since free-text columns repeat a few hundred values."""
    distinct, which = distinct_values(values)
    per_distinct = np.array([RULES.index(text_rule(v)) for v in distinct], dtype=np.int8)
    if not per_distinct.any():
        return np.zeros(len(values), dtype=np.int8)
    return per_distinct[which]


def text_rules(values: pd.Series) -> pd.Series:
    """The rule each value breaks (None where it passes)."""
    return pd.Series(np.array(RULES, dtype=object)[text_rule_codes(values)], index=values.index, dtype="object")
