"""How the report writes numbers, percentages, p-values, intervals and segment names."""

from __future__ import annotations

import math

OTHER = "(other)"  # the segment that pools the smaller groups


def pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"


def pp(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:+.{digits}f} pp"


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ci_pct(ci: tuple[float, float], digits: int = 1) -> str:
    return f"{pct(ci[0], digits)} to {pct(ci[1], digits)}"


def fmt_num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def label(segment: str) -> str:
    return "(other, the smaller groups pooled)" if segment == OTHER else segment


def names(segments: list[dict], limit: int = 5) -> str:
    labels = [f"{label(s['segment'])} ({pct(s['rate']) if 'rate' in s else fmt_num(s['mean'])})"
              for s in segments[:limit]]
    more = len(segments) - limit
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")
