"""Shared fixtures: the real data set from ../shared (read in place, never copied), small landing folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOMEWORK = Path(os.environ.get("BCJOURNEY_HOMEWORK", REPO.parent / "shared" / "data" / "homework"))

# No real AWS, ever: moto intercepts, and these make sure nothing reaches an account by accident.
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bcjourney")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bcjourney-tests")


@pytest.fixture(scope="session")
def homework() -> Path:
    if not (HOMEWORK / "broker_data.csv").is_file():
        pytest.fail(f"the real data set is expected at {HOMEWORK} (../shared/data/homework beside the repo)")
    return HOMEWORK


@pytest.fixture(scope="session")
def homework_landing(homework, tmp_path_factory) -> Path:
    """The real files laid out as a landing folder, by symlink: nothing is copied."""
    landing = tmp_path_factory.mktemp("homework_landing")
    for key, name in (("conversions/brokerchooser_conversions.csv", "brokerchooser_conversions.csv"),
                      ("broker/partner1/broker_data.csv", "broker_data.csv"),
                      ("reference/page_category_mapping.csv", "page_category_mapping.csv")):
        (landing / key).parent.mkdir(parents=True, exist_ok=True)
        (landing / key).symlink_to(homework / name)
    return landing


# CI must not flake: there hypothesis replays a fixed set of examples; locally it explores new ones each run.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
