"""Lambda start-up (#17), as structure, not timing (the timings are `bcjourney_tools.bench_startup`'s): with tracing
off a handler imports no X-Ray SDK; with tracing on (Lambda, `Tracing: Active`) it gets Powertools' real Tracer,
which traces; the freshness handler, which never reads the lake, loads no storage adapter (pandas, pyarrow).

Each check runs in a fresh interpreter: what a module imports is only visible before anything else imported it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ("ingest", "match", "redrive", "dead_letter", "freshness")
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def run_fresh(code: str, handler: str, **env: str) -> dict:
    """Run `code` in a new interpreter with the handler's folder and the core layer first on sys.path (as Lambda's
    /var/task and /opt/python); it prints one JSON object."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("POWERTOOLS_", "AWS_", "LAMBDA_", "_X_AMZN", "_HANDLER"))}
    base.update(AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1", POWERTOOLS_SERVICE_NAME=handler,
                POWERTOOLS_METRICS_NAMESPACE="bcjourney", **env)
    paths = [str(ROOT / "functions" / handler), *os.environ.get("PYTHONPATH", "").split(os.pathsep),
             str(ROOT / "layers" / "core" / "python")]
    prelude = f"import sys; sys.path[:0] = {[p for p in paths if p]!r}\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], env=base, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = ("import json, sys\nimport app\n"
          "print(json.dumps({'loaded': sorted({m.split('.')[0] for m in sys.modules}),"
          " 'tracer': type(app.tracer).__module__ + '.' + type(app.tracer).__name__}))")


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("how", ["POWERTOOLS_TRACE_DISABLED", "not on Lambda", "sam local"])
def test_tracing_off_imports_no_xray_sdk(handler: str, how: str) -> None:
    env = {"POWERTOOLS_TRACE_DISABLED": {"env": {"POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": "/var/task"}},
           "not on Lambda": {"env": {}},
           "sam local": {"env": {"AWS_SAM_LOCAL": "true", "LAMBDA_TASK_ROOT": "/var/task"}}}[how]["env"]
    result = run_fresh(LOADED, handler, **env)
    assert "aws_xray_sdk" not in result["loaded"]
    assert result["tracer"] == "bcjourney.runtime.UntracedTracer"


@pytest.mark.parametrize("handler", HANDLERS)
def test_tracing_on_lambda_uses_powertools_tracer(handler: str) -> None:
    """LAMBDA_TASK_ROOT set and tracing not disabled: the real Tracer, enabled, with the X-Ray SDK."""
    result = run_fresh(LOADED, handler, LAMBDA_TASK_ROOT=str(ROOT / "functions" / handler))
    assert result["tracer"] == "aws_lambda_powertools.tracing.tracer.Tracer"
    assert "aws_xray_sdk" in result["loaded"]


def test_traced_handler_records_its_subsegment() -> None:
    """With tracing on, the handler's `@tracer.capture_lambda_handler` still opens the `## lambda_handler`
    subsegment under Lambda's facade segment, with the ColdStart annotation, as Powertools' Tracer does."""
    code = """
import json
import app
from aws_xray_sdk.core import xray_recorder

recorded = []
original = xray_recorder.end_subsegment
def end_subsegment(*args, **kwargs):
    subsegment = xray_recorder.current_subsegment()
    recorded.append({"name": subsegment.name, "annotations": dict(subsegment.annotations)})
    return original(*args, **kwargs)
xray_recorder.end_subsegment = end_subsegment
xray_recorder.configure(emitter=type("Quiet", (), {"send_entity": lambda self, entity: None,
                                                   "set_daemon_address": lambda self, address: None})())

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "f", 128, "r"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"

app.RedriveTargets.from_environment = classmethod(lambda cls: None)
app.redrive = lambda *a, **k: type("Report", (), {"restarted_match_days": 0, "resent_to_ingest": 0,
                                                   "left_unknown": 0, "left_failed": 0, "as_dict": lambda self: {}})()
app.lambda_handler({}, Context())
print(json.dumps({"disabled": app.tracer.disabled, "recorded": recorded}))
"""
    result = run_fresh(code, "redrive", LAMBDA_TASK_ROOT=str(ROOT / "functions" / "redrive"),
                       _X_AMZN_TRACE_ID=TRACE_HEADER, AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
                       AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    assert result["disabled"] is False
    assert [r["name"] for r in result["recorded"]] == ["## lambda_handler"]
    assert result["recorded"][0]["annotations"]["ColdStart"] is True


def test_freshness_never_loads_the_storage_adapters() -> None:
    """Freshness reads only the pipeline state (DynamoDB on AWS): importing it and building its Runtime from the
    environment loads no pandas or pyarrow; the lake opens only when something uses it."""
    code = """
import json, sys
import app
from bcjourney.runtime import Runtime
runtime = Runtime.from_environment()
before = sorted({m.split('.')[0] for m in sys.modules})
runtime.lake
after = sorted({m.split('.')[0] for m in sys.modules})
print(json.dumps({"before": before, "after": after, "lake": type(runtime.lake).__name__}))
"""
    result = run_fresh(code, "freshness", POWERTOOLS_TRACE_DISABLED="true", LAKE_URI=str(ROOT / "build" / "no-lake"),
                       PIPELINE_STATE_TABLE="state")
    assert not {"pandas", "pyarrow", "awswrangler"} & set(result["before"])
    assert result["lake"] == "LocalStorage" and "pyarrow" in result["after"]


def test_tracing_rule_is_powertools_own() -> None:
    """`tracing_disabled` is Powertools' decision, env var by env var."""
    code = """
import json, os
from aws_lambda_powertools.tracing.tracer import Tracer
from bcjourney.runtime import tracing_disabled
cases = [{}, {"LAMBDA_TASK_ROOT": "/var/task"}, {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"},
         {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"},
         {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}]
out = []
for case in cases:
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL"):
        os.environ.pop(name, None)
    os.environ.update(case)
    out.append([tracing_disabled(), bool(Tracer._is_tracer_disabled())])
print(json.dumps(out))
"""
    result = run_fresh(code, "freshness")
    assert [ours for ours, _ in result] == [theirs for _, theirs in result] == [True, False, True, False, True]
