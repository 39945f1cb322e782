"""Lambda start-up (#17), as structure, not timing (the timings are `bcjourney_tools.bench_startup`'s): with tracing
off a handler imports no X-Ray SDK; with tracing on (Lambda, `Tracing: Active`) it gets Powertools' real Tracer,
which traces; the freshness handler, which never reads the lake, loads no storage adapter (pandas, pyarrow); no
handler imports what only some of its calls need (ingest: Powertools' idempotency and batch utilities, boto3) or
what none needs (awswrangler, DuckDB, pyarrow.dataset, pydantic, ...) at import.

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


# What importing each handler must not load (#17): what only some of its invocations need is imported on first
# use, and what none of them needs is never imported. By full module name, so a submodule counts too. Tracing on
# or off alike: Powertools' Tracer adds the X-Ray SDK and botocore, none of these (but asyncio, for its async
# recorder, so that one is checked with tracing off only).
NEVER_AT_IMPORT = ("awswrangler", "duckdb", "pyarrow.dataset", "pydantic", "jsonschema", "fastjsonschema")
INGEST_ONLY = ("rapidfuzz", "pycountry", "bcjourney.normalize")  # the normalizers: no other handler uses them
DEFERRED = {
    # idempotency (and the boto3 its DynamoDB layer imports) only with IDEMPOTENCY_TABLE set; the batch utility
    # (and the asyncio it imports) only for the ingest queue's batches, not a direct S3 event (sam local, the runner)
    "ingest": ("boto3", "aws_lambda_powertools.utilities.idempotency", "aws_lambda_powertools.utilities.batch",
               "asyncio"),
    "match": ("boto3", *INGEST_ONLY),  # the storage adapters' S3 side (awswrangler, boto3) opens with the lake
    "redrive": ("pandas", "pyarrow", "numpy", "bcjourney.storage", *INGEST_ONLY),
    "dead_letter": ("boto3", *INGEST_ONLY),
    "freshness": ("boto3", "pandas", "pyarrow", "numpy", "bcjourney.storage", *INGEST_ONLY),
}
MODULES = "import json, sys\nimport app\nprint(json.dumps({'modules': sorted(sys.modules)}))"


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
def test_handler_import_defers_what_only_some_calls_need(handler: str, traced: bool) -> None:
    env = {"LAMBDA_TASK_ROOT": str(ROOT / "functions" / handler), **({} if traced else
                                                                      {"POWERTOOLS_TRACE_DISABLED": "true"})}
    modules = set(run_fresh(MODULES, handler, **env)["modules"])
    unwanted = (*NEVER_AT_IMPORT, *(m for m in DEFERRED[handler] if not (traced and m == "asyncio")))
    assert sorted(m for m in modules if m in unwanted or m.startswith(tuple(f"{u}." for u in unwanted))) == []


def test_ingest_loads_the_batch_and_idempotency_utilities_where_needed() -> None:
    """A direct S3 event without an idempotency table (the local runner, `sam local invoke -e`) needs neither
    Powertools utility; the queue's batch loads the batch utility, a table the idempotency one (each once)."""
    code = """
import json, sys
import app
from bcjourney.runtime import Runtime

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "f", 128, "r"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"
    def get_remaining_time_in_millis(self):
        return 60000

BATCH, IDEMPOTENCY = "aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.idempotency"
notification = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {
    "bucket": {"name": "landing"}, "object": {"key": "broker/acme/", "sequencer": "01"}}}]}  # a folder marker
app.RUNTIME = Runtime(lake_uri=sys.argv[1])
seen = {}
seen["direct"] = [app.lambda_handler(notification, Context())["applied"][0]["action"],
                  BATCH in sys.modules, IDEMPOTENCY in sys.modules]
queued = {"Records": [{"messageId": "m1", "receiptHandle": "h", "body": json.dumps(notification), "attributes": {},
                       "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q", "awsRegion": "eu-west-1"}]}
first = app.sqs_processor()
seen["queued"] = [app.lambda_handler(queued, Context())["batchItemFailures"], BATCH in sys.modules,
                  IDEMPOTENCY in sys.modules, app.sqs_processor() is first]
app.RUNTIME.idempotency_table = "idempotency"
app.once_per_delivery(app.RUNTIME, Context())
seen["with a table"] = [IDEMPOTENCY in sys.modules]
print(json.dumps(seen))
"""
    lake = ROOT / "build" / "no-lake"
    result = run_fresh(code.replace("sys.argv[1]", repr(str(lake))), "ingest", POWERTOOLS_TRACE_DISABLED="true")
    assert result == {"direct": ["ignored", False, False], "queued": [[], True, False, True],
                      "with a table": [True]}


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
