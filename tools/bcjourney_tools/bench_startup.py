"""Lambda start-up of each handler (issue #17): how long `import app` takes in a fresh interpreter, and what its
first invocation adds, in an environment like the function's on Lambda. Target: import <= 0.5 s.

Each run is a new child process (a cold start: nothing imported yet; the .pyc files and the page cache are warm,
as they are after the first run here; on Lambda they may not be). The child puts the handler's folder and the core
layer first on sys.path, as Lambda puts /var/task and /opt/python, and gets only the environment the function has:

- the template's Globals (POWERTOOLS_SERVICE_NAME per function, POWERTOOLS_METRICS_NAMESPACE, LOG_LEVEL) and the
  function's variables (events/env.json, as `sam local invoke --env-vars` uses them);
- what the Lambda runtime sets: LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, AWS_REGION, credentials, the X-Ray
  daemon address and _X_AMZN_TRACE_ID. The template has `Tracing: Active`, so on Lambda Powertools' Tracer is on;
- mode "untraced" adds POWERTOOLS_TRACE_DISABLED=true: the tests, `sam local` and the local runner, where the
  Tracer is off.

Measured per run: `import_s` (perf_counter around `import app`, the part of Lambda's INIT that is ours), then
`first_call_s`, the handler invoked once with its example event from events/, every AWS endpoint pointed at a
closed local port (AWS_ENDPOINT_URL, AWS_MAX_ATTEMPTS=1): the call does all its set-up (imports deferred to first
use, boto3 sessions and clients, storage adapters) and fails at its first request. `second_call_s` is the same
call again, so `first_call_s - second_call_s` is what the first invocation pays once. A deferred import shows in
`first_call_s`, not hidden: compare `cold_s` (import + first call) before and after a change.

One more run under `python -X importtime` gives the modules that cost most: per top-level package, its modules'
own ("self") import time summed (they add up to the whole), and the largest direct imports of `app` by
cumulative time (what each line at the top of app.py brings in first).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ("ingest", "match", "redrive", "dead_letter", "freshness")
MODES = ("traced", "untraced")
TARGET_SECONDS = 0.5
# template.yaml: each function's logical id, and its example event (events/README.md)
FUNCTION_IDS = {"ingest": "IngestFunction", "match": "MatchFunction", "redrive": "RedriveFunction",
                "dead_letter": "DeadLetterFunction", "freshness": "FreshnessFunction"}
EVENTS = {"ingest": "sqs_ingest_message.json", "match": "match_day.json", "redrive": "redrive.json",
          "dead_letter": "dead_letter_record.json", "freshness": "scheduled_freshness.json"}
# packages whose presence after the import (and after the first call) is reported
WATCHED = ("aws_xray_sdk", "boto3", "botocore", "awswrangler", "pandas", "pyarrow", "numpy", "rapidfuzz",
           "pycountry")
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, a request is refused at once

_CHILD = r"""
import json, sys, time
handler_dir, out_path, event_path, invoke = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
sys.path[:0] = [handler_dir] + json.loads(sys.argv[5])
watched = json.loads(sys.argv[6])
started = time.perf_counter()
import app
result = {"import_s": time.perf_counter() - started,
          "after_import": sorted(m for m in watched if m in sys.modules)}
if invoke:
    class Context:
        function_name = "bench"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
        memory_limit_in_mb = 1024
        aws_request_id = "00000000-0000-0000-0000-000000000000"
        log_group_name = "/aws/lambda/bench"
        log_stream_name = "bench"
        def __init__(self):
            self.deadline = time.monotonic() + 300
        def get_remaining_time_in_millis(self):
            return int((self.deadline - time.monotonic()) * 1000)
    event = json.load(open(event_path))
    for name in ("first_call", "second_call"):
        started = time.perf_counter()
        try:
            app.lambda_handler(json.loads(json.dumps(event)), Context())
            outcome = "returned"
        except BaseException as exc:  # expected: the first AWS request is refused
            outcome = type(exc).__name__
        result[name + "_s"] = time.perf_counter() - started
        result[name + "_outcome"] = outcome
    result["after_call"] = sorted(m for m in watched if m in sys.modules)
json.dump(result, open(out_path, "w"))
"""


def lambda_environment(handler: str, *, traced: bool = True, root: Path = ROOT) -> dict[str, str]:
    """The environment of `handler`'s function on Lambda (see the module's docstring); `traced=False` adds
    POWERTOOLS_TRACE_DISABLED=true, as the tests and `sam local` run it."""
    function_env = json.loads((root / "events" / "env.json").read_text())[FUNCTION_IDS[handler]]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        # template.yaml Globals (Environment) and each function's POWERTOOLS_SERVICE_NAME
        "POWERTOOLS_SERVICE_NAME": handler,
        "POWERTOOLS_METRICS_NAMESPACE": "bcjourney",
        "LOG_LEVEL": "INFO",
        # the Lambda runtime's
        "LAMBDA_TASK_ROOT": str(root / "functions" / handler),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_LAMBDA_FUNCTION_NAME": f"bcjourney-{handler}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",  # the execution role's credentials are in the environment on Lambda too
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        # the first call's requests go nowhere, at once
        "AWS_ENDPOINT_URL": CLOSED_ENDPOINT,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        **{k: v for k, v in function_env.items() if k != "LOG_LEVEL"},  # env.json's DEBUG is for sam local
    }
    if not traced:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def _layer_paths(layer_deps: Path | None, root: Path = ROOT) -> list[str]:
    """/opt/python: the core layer's sources (bcjourney as it is in the work tree), then, when given, a
    `layers/core/build.sh` build of the layer for its dependencies (rapidfuzz, pycountry) on an interpreter
    that lacks them."""
    return [str(root / "layers" / "core" / "python"), *([str(Path(layer_deps).resolve())] if layer_deps else [])]


def _run_child(handler: str, python: str, env: dict[str, str], paths: list[str], *, invoke: bool,
               importtime: bool = False, root: Path = ROOT) -> tuple[dict, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        argv = [python, "-I", *(["-X", "importtime"] if importtime else []), "-c", _CHILD,
                str(root / "functions" / handler), str(out), str(root / "events" / EVENTS[handler]),
                "1" if invoke else "0", json.dumps(paths), json.dumps(WATCHED)]
        done = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
        if done.returncode or not out.exists():
            raise RuntimeError(f"start-up of {handler} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return json.loads(out.read_text()), done.stderr


def parse_importtime(stderr: str, top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """`-X importtime` lines -> {"packages": [(top-level package, summed self seconds)], "imports": [(module
    imported by app.py directly, cumulative seconds)]}, largest first."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        name = name[1:]  # one space after the bar, then two per level of nesting
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((depth, name.strip(), int(self_us) / 1e6, int(cumulative_us) / 1e6))
    packages: dict[str, float] = {}
    for _, name, self_s, _ in rows:
        packages[name.split(".")[0]] = packages.get(name.split(".")[0], 0.0) + self_s
    app_depth = next((depth for depth, name, _, _ in rows if name == "app"), 0)
    direct: list[tuple[str, float]] = []
    for index, (depth, name, _, cumulative) in enumerate(rows):
        if depth == app_depth + 1:  # a child of app: it is followed (not preceded) by app's own line
            parent = next((r for r in rows[index + 1:] if r[0] <= app_depth), None)
            if parent is not None and parent[1] == "app":
                direct.append((name, cumulative))
    by_size = sorted(packages.items(), key=lambda kv: -kv[1])
    return {"packages": [(n, round(s, 4)) for n, s in by_size[:top]],
            "imports": [(n, round(s, 4)) for n, s in sorted(direct, key=lambda kv: -kv[1])[:top]]}


def measure_import_times(repeats: int = 5, *, handlers: tuple[str, ...] = HANDLERS, modes: tuple[str, ...] = MODES,
                         python: str | None = None, layer_deps: Path | None = None, invoke: bool = True,
                         top: int = 8, root: Path = ROOT) -> list[dict]:
    """One row per handler and mode: the median of `repeats` fresh-process runs of import (and of the first and
    second invocation when `invoke`), the watched packages loaded, and the top modules from one importtime run.
    `python`: the interpreter (default this one; the Lambda tier's is .ci-venvs/lambda-tier/bin/python, with
    `layer_deps` build/lambda-tier/core-layer/python). `root`: a copy of the repository to measure instead of this
    one (its functions/, layers/core/python/ and events/), e.g. a `git archive` of the commit before a change, to
    compare the two in one session, under the same load."""
    python = str(Path(python).absolute()) if python else sys.executable  # the child runs in a temporary folder
    root = Path(root).resolve()
    paths = _layer_paths(layer_deps, root)
    rows = []
    for handler in handlers:
        for mode in modes:
            env = lambda_environment(handler, traced=mode == "traced", root=root)
            _run_child(handler, python, env, paths, invoke=False, root=root)  # writes any missing .pyc; not counted
            runs = [_run_child(handler, python, env, paths, invoke=invoke, root=root)[0] for _ in range(repeats)]
            _, stderr = _run_child(handler, python, env, paths, invoke=False, importtime=True, root=root)
            row: dict[str, Any] = {"handler": handler, "mode": mode, "repeats": repeats,
                                   "import_s": round(statistics.median(r["import_s"] for r in runs), 4),
                                   "import_min_s": round(min(r["import_s"] for r in runs), 4),
                                   "import_max_s": round(max(r["import_s"] for r in runs), 4),
                                   "after_import": runs[-1]["after_import"],
                                   "top": parse_importtime(stderr, top)}
            if invoke:
                row.update(first_call_s=round(statistics.median(r["first_call_s"] for r in runs), 4),
                           second_call_s=round(statistics.median(r["second_call_s"] for r in runs), 4),
                           cold_s=round(statistics.median(r["import_s"] + r["first_call_s"] for r in runs), 4),
                           first_call_outcome=runs[-1]["first_call_outcome"], after_call=runs[-1]["after_call"])
            row["within_target"] = row["import_s"] <= TARGET_SECONDS
            rows.append(row)
    return rows


def format(rows: list[dict], *, details: bool = True) -> str:  # noqa: A001 (the brief's name for it)
    """A table: per handler and mode, the median import (target <= 0.5 s), first and second call, import + first
    call; then, per row, the packages that cost most and what was loaded."""
    head = (f"{'handler':<12} {'mode':<9} {'import s':>9} {'target':>7} {'1st call':>9} {'2nd call':>9} "
            f"{'cold s':>7}  (median of {rows[0]['repeats'] if rows else 0} fresh processes; target import <= "
            f"{TARGET_SECONDS} s)")
    lines = [head]
    for row in rows:
        calls = (f"{row['first_call_s']:>9.3f} {row['second_call_s']:>9.3f} {row['cold_s']:>7.3f}"
                 if "first_call_s" in row else f"{'-':>9} {'-':>9} {'-':>7}")
        lines.append(f"{row['handler']:<12} {row['mode']:<9} {row['import_s']:>9.3f} "
                     f"{'ok' if row['within_target'] else 'OVER':>7} {calls}")
    if details:
        for row in rows:
            lines.append(f"\n{row['handler']} ({row['mode']}): loaded at import: {', '.join(row['after_import'])}")
            if "after_call" in row:
                extra = sorted(set(row["after_call"]) - set(row["after_import"]))
                added = ", ".join(extra) or "nothing watched"
                lines.append(f"  first call ({row['first_call_outcome']}) added: {added}")
            lines.append("  self time by package: " + ", ".join(f"{n} {s:.3f}" for n, s in row["top"]["packages"]))
            lines.append("  app.py's imports (cumulative): "
                         + ", ".join(f"{n} {s:.3f}" for n, s in row["top"]["imports"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--handler", action="append", choices=HANDLERS)
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--python", help="interpreter to measure (default: this one)")
    parser.add_argument("--layer-deps", type=Path, help="a built core layer's python/ folder, after the sources")
    parser.add_argument("--no-invoke", action="store_true", help="import only")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository copy to measure (default: this one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = measure_import_times(args.repeats, handlers=tuple(args.handler or HANDLERS),
                                modes=tuple(args.mode or MODES), python=args.python, layer_deps=args.layer_deps,
                                invoke=not args.no_invoke, root=args.root)
    print(json.dumps(rows, indent=2) if args.json else format(rows))
    return 0 if all(r["within_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
