"""Precision, recall and calibration of the links in a lake against a truth file
(broker_source_file, broker_source_line, conversion_id; an empty conversion_id: no click explains it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from bcjourney import layout, schema
from bcjourney.storage import open_storage

CONFIDENCE_BINS = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0]


@dataclass
class Evaluation:
    registrations: int
    explained: int  # registrations truth says a click explains
    linked: int
    correct: int
    calibration: pd.DataFrame
    links: pd.DataFrame  # match_confidence, correct: one row per link

    def precision_at(self, threshold: float) -> float:
        """Share of correct links among those reported with confidence >= threshold."""
        chosen = self.links[self.links["match_confidence"] >= threshold]
        return float(chosen["correct"].mean()) if len(chosen) else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.linked if self.linked else float("nan")

    @property
    def recall(self) -> float:
        return self.correct / self.explained if self.explained else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else float("nan")

    def format(self) -> str:
        lines = [f"registrations: {self.registrations:,}  explained by a click (truth): {self.explained:,}  "
                 f"linked: {self.linked:,}  correct: {self.correct:,}",
                 f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}",
                 "", "calibration (links by reported confidence):",
                 self.calibration.to_string(index=False)]
        return "\n".join(lines)


def evaluate(journeys: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    regs = journeys[journeys["broker_source_file"].notna()]
    key = ["broker_source_file", "broker_source_line"]
    truth = truth.assign(broker_source_line=truth["broker_source_line"].astype("int64"),
                         true_id=pd.to_numeric(truth["conversion_id"], errors="coerce").astype("Int64"))
    merged = regs.assign(broker_source_line=regs["broker_source_line"].astype("int64")).merge(
        truth[key + ["true_id"]], on=key, how="left", validate="one_to_one")
    linked = merged[merged["conversion_id"].notna()]
    correct = linked["conversion_id"].astype("Int64") == linked["true_id"]
    correct = correct.fillna(False).astype(bool)
    bins = pd.cut(linked["match_confidence"].astype(float), CONFIDENCE_BINS, include_lowest=True)
    calibration = (pd.DataFrame({"confidence": bins, "correct": correct,
                                 "reported": linked["match_confidence"].astype(float)})
                   .groupby("confidence", observed=False)
                   .agg(links=("correct", "size"), precision=("correct", "mean"), mean_confidence=("reported", "mean"))
                   .reset_index())
    calibration["confidence"] = calibration["confidence"].astype(str)
    calibration[["precision", "mean_confidence"]] = calibration[["precision", "mean_confidence"]].round(4)
    return Evaluation(registrations=len(merged), explained=int(merged["true_id"].notna().sum()),
                      linked=len(linked), correct=int(correct.sum()), calibration=calibration,
                      links=pd.DataFrame({"match_confidence": linked["match_confidence"].astype(float).to_numpy(),
                                          "correct": correct.to_numpy()}))


def read_journeys(lake_uri: str) -> pd.DataFrame:
    lake = open_storage(lake_uri)
    keys = [k for k in lake.list_keys(layout.UNIFIED_JOURNEYS) if k.endswith(".parquet")]
    return lake.read_parquet(keys, schema.UNIFIED_JOURNEYS)


def evaluate_lake(lake: Path, truth_file: Path) -> Evaluation:
    if not Path(truth_file).is_file():
        raise FileNotFoundError(f"truth file {truth_file} does not exist")
    truth = pd.read_csv(truth_file, dtype={"broker_source_file": str, "conversion_id": str})
    return evaluate(read_journeys(str(lake)), truth)
