"""Link health per partner and day: the share of registrations linked and the share of links within 5 s, judged
against the partner's own recent days. A partner whose timestamps changed meaning, time zone or clock shows as a
collapse of one or both long before anyone reads the report. Pure: the lake I/O is the service's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HISTORY_DAYS = 14  # the partner's recent days the day is compared with
MIN_HISTORY_DAYS = 3  # fewer: no judgement
MIN_REGISTRATIONS = 50  # a smaller day is too noisy to judge
LINKED_FALL = 0.5  # a collapse: linked share below half the recent median ...
FAST_FALL = 0.3  # ... or the share within 5 s 30 points below it
FAST_S = 5


@dataclass(frozen=True)
class LinkHealth:
    partner: str
    day: str
    registrations: int
    linked: int
    linked_share: float
    within_5s_share: float  # of the links
    baseline_linked_share: float | None = None  # median over the partner's recent days
    baseline_within_5s_share: float | None = None
    history_days: int = 0
    collapsed: bool = False
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def measure(journeys: pa.Table, day: str) -> list[LinkHealth]:
    """One LinkHealth per partner with registrations in the day's unified rows."""
    partner = journeys.column("partner")
    out = []
    for name in sorted(p for p in pc.unique(partner).to_pylist() if p is not None):
        rows = journeys.filter(pc.equal(partner, name))
        linked = pc.is_valid(rows.column("conversion_id"))
        delays = rows.filter(linked).column("registration_delay_s").to_numpy(zero_copy_only=False)
        n, k = rows.num_rows, int(pc.sum(linked).as_py() or 0)
        fast = int(np.sum((delays >= 0) & (delays < FAST_S)))
        out.append(LinkHealth(name, day, n, k, round(k / n, 4) if n else 0.0, round(fast / k, 4) if k else 0.0))
    return out


def judge(today: LinkHealth, history: list[LinkHealth]) -> LinkHealth:
    """`today` against the partner's earlier days (the judged ones in `history` of the same partner)."""
    earlier = sorted((h for h in history if h.partner == today.partner and h.day < today.day
                      and h.registrations >= MIN_REGISTRATIONS), key=lambda h: h.day)[-HISTORY_DAYS:]
    if len(earlier) < MIN_HISTORY_DAYS:
        return replace(today, history_days=len(earlier))
    linked = float(np.median([h.linked_share for h in earlier]))
    fast = float(np.median([h.within_5s_share for h in earlier]))
    reasons = []
    if today.registrations >= MIN_REGISTRATIONS:
        if today.linked_share < LINKED_FALL * linked:
            reasons.append(f"linked {today.linked_share:.1%} against {linked:.1%} on its last {len(earlier)} days")
        if today.within_5s_share < fast - FAST_FALL:
            reasons.append(f"links within {FAST_S} s {today.within_5s_share:.1%} against {fast:.1%}")
    return replace(today, baseline_linked_share=round(linked, 4), baseline_within_5s_share=round(fast, 4),
                   history_days=len(earlier), collapsed=bool(reasons), reason="; ".join(reasons))
