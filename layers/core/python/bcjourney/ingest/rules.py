"""Row-level validation as data: each rule names the column it judged, so quarantine says why.

Kept as small integer codes in numpy arrays (a rule per row, a bitmask of flags per row), since a block has a
million rows and only a handful break a rule; strings are made only for the rows that need them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..normalize.text_policy import RULES, text_rule_codes


def _as_bool(mask: Any) -> np.ndarray:
    if isinstance(mask, pd.Series):
        return mask.fillna(False).to_numpy(dtype=bool)
    return np.asarray(mask, dtype=bool)


class Verdicts:
    """Per row: the first rule it broke (a row is quarantined once) and the quality flags it carries."""

    def __init__(self, index: pd.Index):
        self.index = index
        self._rule = np.zeros(len(index), dtype=np.int16)  # 0: no rule broken
        self._rules: list[tuple[str, str]] = [("", "")]  # code -> (rule, column)
        self._flags = np.zeros(len(index), dtype=np.uint32)  # bit i: self._flag_names[i]
        self._flag_names: list[str] = []

    def reject(self, mask: Any, rule: str, column: str) -> None:
        """Quarantine rows where mask is True, unless an earlier rule already did."""
        fresh = _as_bool(mask) & (self._rule == 0)
        if fresh.any():
            self._rules.append((rule, column))
            self._rule[fresh] = len(self._rules) - 1

    def check_text(self, raw: pd.Series, column: str) -> pd.Series:
        """A free-text column trimmed, with the rows that break the text policy quarantined under its rules."""
        text = raw.fillna("").str.strip()
        codes = text_rule_codes(text)
        for code in np.unique(codes[codes > 0]):
            self.reject(codes == code, str(RULES[code]), column)
        return text

    def flag(self, mask: Any, name: str) -> None:
        """Keep the row but record a quality flag."""
        if name not in self._flag_names:
            self._flag_names.append(name)
        self._flags[_as_bool(mask)] |= np.uint32(1 << self._flag_names.index(name))

    @property
    def accepted(self) -> np.ndarray:
        return self._rule == 0

    def rejections(self) -> pd.DataFrame:
        """position, rule, column of every rejected row."""
        positions = np.flatnonzero(self._rule)
        codes = self._rule[positions]
        rules = np.array([r for r, _ in self._rules], dtype=object)
        columns = np.array([c for _, c in self._rules], dtype=object)
        return pd.DataFrame({"position": positions, "rule": rules[codes], "column": columns[codes]})

    def flag_text(self, rows: np.ndarray) -> np.ndarray:
        """Comma-separated flags of the selected rows (None where a row has none)."""
        distinct, which = np.unique(self._flags[rows], return_inverse=True)
        texts = np.array([",".join(n for i, n in enumerate(self._flag_names) if int(b) >> i & 1) or None
                          for b in distinct], dtype=object)
        return texts[which]

    def flag_counts(self, rows: np.ndarray) -> dict[str, int]:
        bits = self._flags[rows]
        return {n: int(np.count_nonzero(bits & np.uint32(1 << i))) for i, n in enumerate(self._flag_names)
                if np.any(bits & np.uint32(1 << i))}
