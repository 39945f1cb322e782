"""The written tasks as a PDF deck: the pipeline as built and the ideal one (drawn, see diagram.py), the
recommendations ranked by value and effort with their running cost, and the report's actions. 16:9 pages; every
text must fit its page (TextOverflow otherwise), so nothing is cut off."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bcjourney_tools.analysis import diagram  # noqa: E402

SIZE = (13.33, 7.5)  # inches: a 16:9 slide


class TextOverflow(AssertionError):
    """A text would leave its page: shorten it or the layout, not the check."""


@dataclass(frozen=True)
class Recommendation:
    title: str
    why: str
    value: int  # 3 high, 2 medium, 1 low: what it changes for the product team's decisions
    effort: int  # 1 low, 2 medium, 3 high
    cost: str  # running cost at this volume, list prices (eu-west-1), the stack itself is about $4 a month


RECOMMENDATIONS = (
    Recommendation("Partners pass our click id through", "exact links (built: profile [columns] -> click_id); "
                   "no more guessing in same-second bursts", 3, 1, "$0"),
    Recommendation("Check every partner delivered yesterday", "a missing file is silent today; EventBridge "
                   "Scheduler + a small Lambda per partner cadence", 3, 1, "< $0.10 / month"),
    Recommendation("QuickSight dashboard on journeys_for_quicksight", "value per click by page, device, market "
                   "for people who do not run SQL", 2, 1, "~$24 per author, <= $5 per reader / month"),
    Recommendation("Server-side postbacks (registration, KYC, deposit)", "minutes instead of a day, and the events "
                   "that carry value; API Gateway HTTP API + Lambda", 3, 2, "~$1 per million events"),
    Recommendation("Quality suites (Soda Core on Athena)", "freshness, volume and drift checks as code, failing "
                   "a run or alerting", 2, 2, "$0 + Athena scans (cents)"),
    Recommendation("dbt models with tests for the 10 queries", "dependencies, docs, not_null/unique tests, "
                   "incremental models", 2, 2, "$0 + Athena scans (cents)"),
    Recommendation("Iceberg tables for curated and unified", "MERGE for late data, time travel; worth it once "
                   "corrections are frequent", 1, 2, "compaction jobs, cents"),
    Recommendation("Dagster or MWAA as orchestrator", "only once several pipelines and dbt need one scheduler; "
                   "Step Functions fits one flow", 1, 3, "MWAA smallest: ~$350 / month"),
)


def ranked() -> list[Recommendation]:
    """Most value for the least effort first (ties: more value first)."""
    return sorted(RECOMMENDATIONS, key=lambda r: (-r.value / r.effort, -r.value, r.title))


def write_slides(path: Path, title: str, insights: list[dict], summary: list[str] | None = None) -> int:
    """Write the deck; returns its number of pages. `insights`: the report's, as insights.json holds them;
    `summary`: the executive summary's lines (report.executive_summary)."""
    pages = [_title_page(title), *([_summary_page(summary)] if summary else []),
             _diagram_page(diagram.AS_BUILT), _diagram_page(diagram.IDEAL),
             _recommendations_page(), *_actions_pages(insights)]
    with PdfPages(path, metadata={"Title": f"{title}: pipeline and recommendations",
                                  "Creator": "bcjourney report"}) as pdf:
        for fig in pages:
            _check_fits(fig)
            pdf.savefig(fig)
            plt.close(fig)
    return len(pages)


def _page(heading: str) -> Figure:
    fig = plt.figure(figsize=SIZE)
    fig.text(0.04, 0.93, textwrap.shorten(heading, 80), fontsize=22, fontweight="bold", va="top")
    return fig


def _title_page(title: str) -> Figure:
    fig = plt.figure(figsize=SIZE)
    fig.text(0.06, 0.60, textwrap.fill(title, 44), fontsize=30, fontweight="bold", va="bottom")
    fig.text(0.06, 0.50, "The pipeline as built, the ideal one, and what to do next", fontsize=18)
    fig.text(0.06, 0.42, "Written tasks of the BrokerChooser journey assignment, drawn from the repository "
             "(docs/pipeline.md, template.yaml) and the report's insights.", fontsize=12, color="#444444")
    return fig


def _summary_page(lines: list[str]) -> Figure:
    fig = _page("Executive summary: the actions worth most")
    y = 0.84
    for line in lines:
        text = textwrap.fill(line, 150)
        fig.text(0.04, y, text, fontsize=11 if y == 0.84 else 10.5, va="top",
                 fontweight="bold" if y == 0.84 else "normal")
        y -= 0.035 * (text.count("\n") + 1) + 0.03
    return fig


def _diagram_page(picture: diagram.Diagram) -> Figure:
    fig = _page(picture.title)
    ax = fig.add_axes((0.03, 0.04, 0.94, 0.82))
    diagram.draw(ax, picture)
    return fig


def _recommendations_page() -> Figure:
    fig = _page("Recommendations, by value for effort")
    columns = (0.04, 0.36, 0.74, 0.81, 0.87)
    for x, name in zip(columns, ("recommendation", "why", "value", "effort", "running cost")):
        fig.text(x, 0.83, name, fontsize=11, fontweight="bold")
    levels = {1: "low", 2: "medium", 3: "high"}
    for row, r in enumerate(ranked()):
        y = 0.77 - row * 0.088
        fig.text(columns[0], y, textwrap.fill(f"{row + 1}. {r.title}", 38), fontsize=10.5, va="top")
        fig.text(columns[1], y, textwrap.fill(r.why, 62), fontsize=9.5, va="top", color="#333333")
        fig.text(columns[2], y, levels[r.value], fontsize=10, va="top")
        fig.text(columns[3], y, levels[r.effort], fontsize=10, va="top")
        fig.text(columns[4], y, textwrap.fill(r.cost, 20), fontsize=9.5, va="top")
    return fig


def _actions_pages(insights: list[dict], per_page: int = 6) -> list[Figure]:
    """The report's actions, those backed by a significant or quality finding first; the comparisons that found
    no evidence of a difference are named together at the end, as no action."""
    def weight(i: dict) -> tuple:
        significant = i.get("p_value") is not None and i["p_value"] < 0.05
        return (not (significant or i.get("kind") == "quality"), i.get("p_value") or 1.0)

    acting = sorted((i for i in insights if not i["action"].startswith("No evidence")), key=weight)
    waiting = [i["title"] for i in insights if i["action"].startswith("No evidence")]
    pages = []
    for start in range(0, max(len(acting), 1), per_page):
        fig = _page("What the data says to do" + (" (continued)" if start else ""))
        rows = acting[start:start + per_page]
        for row, ins in enumerate(rows):
            y = 0.83 - row * 0.125
            fig.text(0.04, y, textwrap.fill(ins["title"], 40), fontsize=11, fontweight="bold", va="top")
            fig.text(0.36, y, textwrap.fill(ins["action"], 120)[:600], fontsize=9, va="top", color="#222222")
        if waiting and start + per_page >= len(acting):
            fig.text(0.04, 0.83 - len(rows) * 0.125, textwrap.fill(
                "No evidence of a difference yet, so no action: " + "; ".join(waiting) + ".", 170),
                fontsize=9, va="top", color="#555555")
        pages.append(fig)
    return pages


def _check_fits(fig: Figure) -> None:
    """Every text inside its page, and texts of one page not overlapping each other."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    boxes = []
    for text in fig.findobj(matplotlib.text.Text):
        if not text.get_text().strip() or not text.get_visible():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y0 < page.y0 - 1 or box.y1 > page.y1 + 1:
            raise TextOverflow(f"{text.get_text()[:60]!r} leaves the page")
        boxes.append((text.get_text(), box))
    for i, (first, a) in enumerate(boxes):
        for second, b in boxes[i + 1:]:
            if a.overlaps(b) and a.intersection(a, b).width * a.intersection(a, b).height > 4:
                raise TextOverflow(f"{first[:40]!r} overlaps {second[:40]!r}")
