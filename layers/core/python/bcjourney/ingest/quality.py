"""The per-batch quality report: rows in, curated, merged duplicates, quarantined by rule, null rates."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


class BalanceError(AssertionError):
    """Rows were lost or invented: rows in != curated + merged + quarantined."""


@dataclass
class QualityReport:
    key: str
    source: str
    batch_id: str
    started_at: str
    finished_at: str | None = None
    file_format: dict = field(default_factory=dict)
    rows_in: int = 0
    blank_lines: int = 0  # lines with nothing on them: counted, not rows
    curated: int = 0
    merged_duplicates: int = 0
    # partner rows repeating an earlier export already in the lake: curated (so not in the balance), one registration
    resent_rows: int = 0
    quarantined: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    null_rates: dict[str, float] = field(default_factory=dict)
    file_rejected: str | None = None
    kept_previous_batch: str | None = None  # a rejected re-upload: the batch whose rows stay live for the key

    def count_quarantined(self, rule: str, count: int) -> None:
        self.quarantined += count
        self.quarantined_by_rule[rule] = self.quarantined_by_rule.get(rule, 0) + count

    def count_flags(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.flags[name] = self.flags.get(name, 0) + count

    def check_balance(self) -> None:
        if self.rows_in != self.curated + self.merged_duplicates + self.quarantined:
            raise BalanceError(
                f"{self.key}: {self.rows_in} rows in but {self.curated} curated + {self.merged_duplicates} merged "
                f"+ {self.quarantined} quarantined"
            )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)
