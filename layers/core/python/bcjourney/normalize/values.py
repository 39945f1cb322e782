"""Small typed fields: booleans, scores, ids, and the text checks that keep payloads out of the lake."""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}

# The page mapping's shape: 01xxxxxx/02xxxxxx/03xxxxxx with lower-case letters
MEASUREMENT_CATEGORY_SHAPE = r"01[a-z]{6}/02[a-z]{6}/03[a-z]{6}"

# A page code with one URL query parameter glued on after it: the page's tracking writes
# "<code>&measurementlist=<ui element>" (or the same without the '&') into the category when the element's own field
# is lost. A code has a fixed length, so where it ends is never in doubt; what follows must be exactly one parameter,
# name=value, written in the characters ui elements are written in: no quote, bracket, '*', ':', '=' or '&' in the
# value, no '--', no SQL word, so a payload is never taken for a parameter (it stays quarantined).
LEAKED_PARAMETER = re.compile(
    rf"(?P<code>{MEASUREMENT_CATEGORY_SHAPE})&?(?P<name>[A-Za-z][A-Za-z0-9_]{{0,63}})="
    r"(?P<value>(?!.*--)[A-Za-z0-9][A-Za-z0-9 ._/-]{0,127})?"
)
MEASUREMENT_LIST = "measurementlist"  # the parameter whose value is the click's ui element
_SQL_WORDS = re.compile(
    r"\b(?:and|or|xor|not|select|union|insert|update|delete|drop|exec|execute|sleep|waitfor|delay|benchmark|"
    r"having|like|rlike|regexp|case|when|then|null|true|false|if)\b",
    re.IGNORECASE,
)

# A spreadsheet's error values, left in exports
SPREADSHEET_ERRORS = {"#REF!", "#N/A", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!"}


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(boolean Series with <NA> for junk, valid mask)."""
    text = values.fillna("").astype(str).str.strip().str.lower()
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE)] = True
    result[text.isin(_FALSE)] = False
    return result, result.notna()


def parse_int(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(Int64 Series, valid mask): plain non-negative integers only, as ids are. Vectorised in Arrow."""
    text = pc.utf8_trim_whitespace(arrow_strings(values))
    # ascii digits only (utf8_is_digit would pass other scripts' digits), at most 18 so int64 cannot overflow
    ok = pc.fill_null(pc.and_(pc.ascii_is_decimal(text), pc.less_equal(pc.utf8_length(text), 18)), False)
    numbers = pc.cast(pc.if_else(ok, text, None), pa.int64())
    return (pd.Series(numbers.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), index=values.index),
            pd.Series(ok.to_numpy(zero_copy_only=False), index=values.index))


def arrow_strings(values: pd.Series) -> pa.Array:
    """A Series as one contiguous Arrow string array (Arrow-backed Series come as chunked arrays)."""
    array = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def distinct_values(values: pd.Series) -> tuple[list[str], np.ndarray]:
    """(the distinct values, null as "", and the position of each row's value among them): free-text columns
    repeat a few hundred values, so a check judged per distinct value is judged once."""
    encoded = pc.dictionary_encode(pc.fill_null(arrow_strings(values), ""))
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False)


def on_uniques(values: pd.Series, check: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a vectorised check (Series of str -> bool Series) once per distinct value."""
    distinct, which = distinct_values(values)
    verdict = check(pd.Series(distinct, dtype="object")).to_numpy(dtype=bool)
    return pd.Series(verdict[which], index=values.index)


def parse_score(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Important score: integer 0..100; (Int64 with <NA> for junk such as '#REF!', valid mask)."""
    text = values.fillna("").astype(str).str.strip()
    number = pd.to_numeric(text.where(text.str.fullmatch(r"\d{1,3}(\.0+)?")), errors="coerce")
    ok = number.between(0, 100)
    return number.where(ok).astype("Int64"), ok.fillna(False).astype(bool)


def is_measurement_category(values: pd.Series) -> pd.Series:
    return on_uniques(values, lambda text: text.str.fullmatch(MEASUREMENT_CATEGORY_SHAPE))


def recover_measurement_category(value: str) -> tuple[str, str | None] | None:
    """(the page code, the ui element the glued-on measurementlist carries or None) of a code with one URL query
    parameter glued on after it, as LEAKED_PARAMETER describes; None for anything else: a well-formed code (nothing to
    recover), a payload, a code followed by anything but a single plain parameter."""
    match = LEAKED_PARAMETER.fullmatch(value)
    if match is None or _SQL_WORDS.search(value[match.end("code"):]):
        return None
    ui = match["value"] if match["name"].lower() == MEASUREMENT_LIST and match["value"] else None
    return match["code"], ui


def recover_measurement_categories(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(the categories with each recoverable one replaced by its page code, the mask of those recovered, the ui
    element a recovered one carried, <NA> elsewhere); judged once per distinct value."""
    distinct, which = distinct_values(values)
    recovered = [recover_measurement_category(v) for v in distinct]
    if not any(recovered):
        return values, pd.Series(False, index=values.index), pd.Series(pd.NA, index=values.index, dtype="object")
    code = np.array([r[0] if r else None for r in recovered], dtype=object)[which]
    ui = np.array([r[1] if r else None for r in recovered], dtype=object)[which]
    mask = pd.Series(np.array([r is not None for r in recovered], dtype=bool)[which], index=values.index)
    return (values.mask(mask, pd.Series(code, index=values.index)), mask,
            pd.Series(ui, index=values.index, dtype="object").where(mask & pd.notna(ui), pd.NA))
