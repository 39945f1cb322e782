"""Box-and-arrow pictures of the pipeline, drawn with matplotlib (nothing to install beyond the report's own
dependencies). A diagram is data: boxes on a grid and the arrows between them; `draw` lays them out on an axes."""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# fill colours by kind of part
KINDS = {"source": "#fde9c8", "storage": "#d9e8f5", "compute": "#dcefd9", "control": "#efe0f3",
         "proposed": "#ffffff", "people": "#f2f2f2"}


@dataclass(frozen=True)
class Box:
    key: str
    label: str  # "\n" for line breaks; keep lines short: the box does not grow
    x: float  # centre, in grid units (the diagram's width is 12, its height 7)
    y: float
    kind: str = "compute"
    w: float = 1.8
    h: float = 0.9


@dataclass(frozen=True)
class Arrow:
    start: str
    end: str
    label: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Diagram:
    title: str
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    note: str = ""


def draw(ax: Axes, diagram: Diagram, font_size: float = 8.5) -> None:
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 7)
    ax.set_axis_off()
    boxes = {b.key: b for b in diagram.boxes}
    for b in diagram.boxes:
        ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0.04",
                                    facecolor=KINDS[b.kind], edgecolor="#555555",
                                    linestyle="--" if b.kind == "proposed" else "-", linewidth=1.0))
        ax.text(b.x, b.y, b.label, ha="center", va="center", fontsize=font_size, wrap=False)
    for a in diagram.arrows:
        start, end = boxes[a.start], boxes[a.end]
        ax.add_patch(FancyArrowPatch(_edge(start, end), _edge(end, start), arrowstyle="-|>", mutation_scale=10,
                                     linewidth=1.0, color="#444444", linestyle="--" if a.dashed else "-",
                                     shrinkA=2, shrinkB=2))
        if a.label:
            (x0, y0), (x1, y1) = _edge(start, end), _edge(end, start)
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.12, a.label, ha="center", va="bottom",
                    fontsize=font_size - 1.5, color="#333333")
    if diagram.note:
        ax.text(0.1, 0.15, diagram.note, ha="left", va="bottom", fontsize=font_size - 1, color="#333333")


def _edge(box: Box, toward: Box) -> tuple[float, float]:
    """Where a line from `box`'s centre toward `toward`'s centre leaves `box`."""
    dx, dy = toward.x - box.x, toward.y - box.y
    if dx == 0 and dy == 0:
        return box.x, box.y
    scale = min((box.w / 2) / abs(dx) if dx else float("inf"), (box.h / 2) / abs(dy) if dy else float("inf"))
    return box.x + dx * scale, box.y + dy * scale


AS_BUILT = Diagram(
    title="The pipeline as built (template.yaml, one SAM stack)",
    boxes=(
        Box("partners", "Partners, our exporter\n(CSV files)", 1.2, 6.0, "source"),
        Box("landing", "S3 landing\n(versioned)", 1.2, 4.4, "storage"),
        Box("queue", "SQS ingest queue\n(5400 s visibility)", 1.2, 2.8, "control"),
        Box("ingest", "Ingest Lambda\nprofiles, quarantine", 3.8, 2.8),
        Box("state", "DynamoDB state\nsequencers, generations", 3.8, 4.6, "storage", w=2.1),
        Box("curated", "S3 lake: curated/\nquarantine/ (Parquet)", 6.4, 2.8, "storage", w=2.0),
        Box("sfn", "Step Functions\nMap over days;\nbackfills: Distributed Map", 6.4, 4.6, "control"),
        Box("match", "Match Lambda\nexact tier, EM, clocks", 9.0, 4.6, w=2.0),
        Box("unified", "S3 lake: unified/\njourneys, link health", 9.0, 2.8, "storage", w=2.0),
        Box("athena", "Glue tables\nAthena, 10 queries", 9.0, 1.1, "compute"),
        Box("dlq", "Dead-letter queue\nredrive, 21 alarms", 3.8, 1.0, "control", w=2.0),
        Box("people", "Product team\nreport, QuickSight", 11.0, 6.1, "people", w=1.7),
    ),
    arrows=(
        Arrow("partners", "landing", "upload"), Arrow("landing", "queue", "S3 events"),
        Arrow("queue", "ingest"), Arrow("ingest", "curated"), Arrow("ingest", "state"),
        Arrow("ingest", "sfn", "days to match"), Arrow("sfn", "match"), Arrow("match", "unified"),
        Arrow("curated", "match", dashed=True), Arrow("unified", "athena"), Arrow("match", "people", dashed=True),
        Arrow("queue", "dlq", "3 failures", dashed=True), Arrow("sfn", "dlq", "Catch", dashed=True),
    ),
    note="Solid: data. Dashed: reads and failures. Locally the same handlers run on folders and DuckDB.",
)

IDEAL = Diagram(
    title="The ideal pipeline: exact keys first, the matcher as fallback",
    boxes=(
        Box("site", "BrokerChooser site\nclick id on every link", 1.3, 6.0, "source", w=2.1),
        Box("postback", "Partner postbacks\nAPI Gateway + Lambda", 1.3, 4.2, "proposed", w=2.1),
        Box("files", "Partner files\n(profiles, S3)", 1.3, 2.4, "source"),
        Box("bus", "EventBridge\narchive, replay", 4.0, 4.2, "proposed"),
        Box("ingest", "Ingest\n(as built)", 4.0, 2.4),
        Box("iceberg", "Iceberg tables\nMERGE late data", 6.8, 3.3, "proposed", w=2.0),
        Box("match", "Exact join on click id\nthen EM fallback", 6.8, 5.3, w=2.2),
        Box("quality", "Quality suites\nfreshness, volume", 6.8, 1.3, "proposed"),
        Box("dbt", "dbt models\n(Athena)", 9.5, 3.3, "proposed"),
        Box("dash", "QuickSight dashboard\nvalue per click", 9.5, 5.3, "proposed", w=2.1),
        Box("alerts", "Alerts\nper partner SLA", 9.5, 1.3, "proposed"),
    ),
    arrows=(
        Arrow("site", "postback", "click id"), Arrow("postback", "bus"), Arrow("files", "ingest"),
        Arrow("bus", "ingest"), Arrow("ingest", "iceberg"), Arrow("iceberg", "match"), Arrow("match", "iceberg"),
        Arrow("iceberg", "dbt"), Arrow("dbt", "dash"), Arrow("iceberg", "quality"), Arrow("quality", "alerts"),
    ),
    note="Dashed boxes are proposed (docs/pipeline.md sections 2-4); the rest exists today.",
)
