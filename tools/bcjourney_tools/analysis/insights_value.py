"""The shape of important_score, shown as it is: most linked registrations score 0, a block scores exactly 10, the
rest spread up to 100 and carry most of the value. This is why the report's headline is value per click, not the
registration rate: two pages with the same rate can differ many times over in value."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from bcjourney_tools.analysis import report_stats as st
from bcjourney_tools.analysis.insight import HIGH_VALUE, NO_LINKS, Insight
from bcjourney_tools.analysis.report_data import LakeData
from bcjourney_tools.analysis.report_format import pct


def score_distribution(data: LakeData) -> Insight:
    rows = data.rows
    scored = rows[rows["is_click"] & rows["registered"]]["important_score"].dropna().to_numpy(dtype=float)
    n = len(scored)
    zero, ten, above = int((scored == 0).sum()), int((scored == 10).sum()), int((scored > 10).sum())
    high = int((scored >= HIGH_VALUE).sum())
    total = float(scored.sum())
    above_value = float(scored[scored > 10].sum()) / total if total else math.nan
    finding = (f"Of {n:,} linked registrations with a score, {pct(zero / n if n else math.nan)} score 0, "
               f"{pct(ten / n if n else math.nan)} exactly 10 and {pct(above / n if n else math.nan)} between 11 and "
               f"100 ({high:,} at {HIGH_VALUE} or more, the high-value users); those above 10 carry "
               f"{pct(above_value)} of the value.")
    action = NO_LINKS if not n else (
        f"Rank pages, buttons and markets by value per click (this report's headline) and by the high-value share, not "
        f"by registrations alone: {pct(above / n)} of the registrations carry {pct(above_value)} of the value.")
    return Insight(key="score_distribution", title="The important score as it is", finding=finding,
                   number=(n - zero) / n if n else math.nan, number_label="share of linked registrations scoring > 0",
                   ci=st.wilson(n - zero, n) if n else (math.nan, math.nan), ci_method="Wilson 95%", action=action,
                   details={"scored": n, "zero": zero, "ten": ten, "above_ten": above, "high_value": high,
                            "value_share_above_ten": above_value},
                   plot_data={"scores": scored})


def plot_score_distribution(ins: Insight) -> plt.Figure:
    scores = ins.plot_data["scores"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.4))
    left.hist(scores, bins=np.arange(-0.5, 101.5, 1), color="#1f4e79")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # the report draws no mathtext
    left.set_xlabel("important_score")
    left.set_ylabel("registrations (log scale)")
    left.set_title("Registrations by score", fontsize=10)
    groups = [("0", scores == 0), ("10", scores == 10), ("11-49", (scores > 10) & (scores < HIGH_VALUE)),
              (f"{HIGH_VALUE}+", scores >= HIGH_VALUE)]
    total = scores.sum() or 1.0
    right.bar([g for g, _ in groups], [scores[m].sum() / total for _, m in groups], color="#e69f00")
    right.set_ylabel("share of the value")
    right.set_xlabel("score group")
    right.set_title("Where the value is", fontsize=10)
    fig.suptitle(ins.title, fontsize=11)
    fig.tight_layout()
    return fig
