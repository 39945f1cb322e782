"""Row-level validation as data: each rule names the column it judged, so quarantine says why."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Verdicts:
    """Collects, per row index, the first rule a row broke (a row is quarantined once) and soft flags."""

    index: pd.Index
    rule: pd.Series = field(init=False)
    column: pd.Series = field(init=False)
    flags: pd.Series = field(init=False)

    def __post_init__(self):
        self.rule = pd.Series(None, index=self.index, dtype="object")
        self.column = pd.Series(None, index=self.index, dtype="object")
        self.flags = pd.Series("", index=self.index, dtype="object")

    def reject(self, mask: pd.Series, rule: str, column: str) -> None:
        """Quarantine rows where mask is True, unless an earlier rule already did."""
        fresh = mask.fillna(False).astype(bool) & self.rule.isna()
        self.rule[fresh] = rule
        self.column[fresh] = column

    def flag(self, mask: pd.Series, name: str) -> None:
        """Keep the row but record a quality flag (comma-separated)."""
        mask = mask.fillna(False).astype(bool)
        self.flags[mask] = self.flags[mask].map(lambda f: f"{f},{name}" if f else name)

    @property
    def accepted(self) -> pd.Series:
        return self.rule.isna()
