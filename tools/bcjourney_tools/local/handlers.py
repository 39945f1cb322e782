"""Load the Lambda handlers from the repo's functions/ folder: the very files SAM deploys."""

from __future__ import annotations

import importlib.util
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import bcjourney


class HandlersNotFound(RuntimeError):
    pass


def functions_dir() -> Path:
    """functions/ beside the package's layer (repo checkout or editable install), or BCJOURNEY_FUNCTIONS_DIR."""
    override = os.environ.get("BCJOURNEY_FUNCTIONS_DIR")
    candidates = [Path(override)] if override else []
    candidates += [Path(bcjourney.__file__).resolve().parents[4] / "functions", Path.cwd() / "functions"]
    for candidate in candidates:
        if (candidate / "ingest" / "app.py").is_file():
            return candidate
    raise HandlersNotFound(
        "cannot find the Lambda handlers (functions/ingest/app.py): run from the repo root, install the repo "
        "with 'pip install -e .', or set BCJOURNEY_FUNCTIONS_DIR"
    )


def load_handler_module(name: str) -> ModuleType:
    path = functions_dir() / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"bcjourney_function_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LocalLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 2048
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000
