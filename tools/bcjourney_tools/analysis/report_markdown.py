"""The report as markdown (insights.md beside report.html): what docs/insights.md is, regenerated from the real
data by `bcjourney report` and copied, never edited by hand."""

from __future__ import annotations

from pathlib import Path

from bcjourney_tools.analysis.insight import Insight
from bcjourney_tools.analysis.report_render import ci_text, significance_text, verdict

REGENERATE = """```bash
mkdir -p hw/conversions hw/broker/partner1 hw/reference
ln -s "$PWD/../shared/data/homework/brokerchooser_conversions.csv" hw/conversions/
ln -s "$PWD/../shared/data/homework/broker_data.csv" hw/broker/partner1/
ln -s "$PWD/../shared/data/homework/page_category_mapping.csv" hw/reference/
.venv/bin/bcjourney run --landing hw --lake hw-lake
.venv/bin/bcjourney report --lake hw-lake --out hw-report     # report.html, report.pdf, slides.pdf, insights.md
cp hw-report/insights.md docs/insights.md
```"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(path: Path, meta: dict, insights: list[Insight], methods: list[str]) -> None:
    lines = [f"# {meta['title']}", "", f"_{meta['subtitle']}._ Written by `bcjourney report`; to regenerate:", "",
             REGENERATE, "", "## Executive summary", ""]
    headline, *actions = meta["executive_summary"]
    lines += [headline, ""] + actions
    lines += ["", "## Scope", ""] + [f"- {p}" for p in meta["intro"]]
    lines += ["", "## The insights", "", "| # | insight | number (95% CI) | test | verdict |",
              "| --- | --- | --- | --- | --- |"]
    for n, ins in enumerate(insights, 1):
        lines.append(f"| {n} | [{_cell(ins.title)}](#{n}) | {_cell(ins.number_label)}: {_cell(ci_text(ins))} | "
                     f"{_cell(significance_text(ins))} | {verdict(ins)} |")
    for n, ins in enumerate(insights, 1):
        lines += ["", f'<a id="{n}"></a>', f"### {n}. {ins.title}", "", ins.finding, "", f"**Action.** {ins.action}"]
    lines += ["", "## Methods and caveats", ""] + [f"- {p}" for p in methods]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
