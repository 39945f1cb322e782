#!/usr/bin/env bash
# The Lambda-faithful test tier: the handler tests and every file in events/ run on exactly what the functions have
# at run time, on moto, and the function sizes are summed against Lambda's limit.
#
#   - python3.12 (the functions' runtime);
#   - the managed layers' versions and the runtime's boto3, from layers/managed-layers.toml (the template's layer
#     ARNs; a test keeps the two in step), with pyarrow refusing the codecs the managed layer is built without
#     (.ci/lambda_tier/layer_emulation.py);
#   - the core layer exactly as `sam build` builds it (layers/core/build.sh, run by layers/core/Makefile), on
#     PYTHONPATH as Lambda puts /opt/python;
#   - the test harness only besides: pytest, moto, hypothesis, PyYAML, and tools/ for the tests' event builders.
#     Nothing of the development venv.
#
# Usage: bash .ci/lambda_tier.sh [pytest args]      (PYTHON312=/path/to/python3.12 to choose the interpreter)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY312=""
for candidate in "${PYTHON312:-}" "$(pyenv prefix 3.12 2>/dev/null | tail -n 1)/bin/python3.12" python3.12; do
    if [[ -n "$candidate" ]] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
        PY312="$candidate"
        break
    fi
done
[[ -n "$PY312" ]] || { echo "lambda_tier: no working python3.12 (set PYTHON312)" >&2; exit 1; }
BUILD="$ROOT/build/lambda-tier"
VENV="$ROOT/.ci-venvs/lambda-tier"
mkdir -p "$BUILD"

# What to install: the managed layers' and runtime's pins, then the harness at the project's own pins, every
# other transitive package at the project's constraints (minus what the layers pin differently).
"$PY312" - "$BUILD" <<'PY'
import re, sys, tomllib
from pathlib import Path
build = Path(sys.argv[1])
managed = tomllib.loads(Path("layers/managed-layers.toml").read_text())
runtime = []
for section in ("aws_sdk_pandas", "powertools", "runtime"):
    extras = managed[section].get("extras")
    for name, version in managed[section]["packages"].items():
        runtime.append(f"{name}[{extras}]=={version}" if extras else f"{name}=={version}")
pinned = {re.sub(r"[-_.]+", "-", r.split("[")[0].split("=")[0].lower()) for r in runtime}
pinned |= {"s3transfer"}  # moves with boto3: the runtime's boto3 brings its own
constraints = [line for line in Path("constraints.txt").read_text().splitlines()
               if line and not line.startswith("#") and re.sub(r"[-_.]+", "-", line.split("==")[0].lower()) not in pinned]
(build / "runtime.txt").write_text("\n".join(runtime) + "\n")
(build / "constraints.txt").write_text("\n".join(constraints + [r.split("==")[0].split("[")[0] + "==" + r.split("==")[1] for r in runtime]) + "\n")
(build / "harness.txt").write_text("pytest\npytest-xdist\nmoto[s3,stepfunctions,sqs,dynamodb,glue,awslambda,events,sts,iam]\nhypothesis\nPyYAML\nscipy\n")  # scipy: test_matching's optimal-assignment reference
PY
stamp="$(cat "$BUILD/runtime.txt" "$BUILD/constraints.txt" "$BUILD/harness.txt" | sha1sum | cut -c1-12)"
if [[ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "== lambda tier: installing $(tr '\n' ' ' < "$BUILD/runtime.txt")into .ci-venvs/lambda-tier"
    rm -rf "$VENV"
    "$PY312" -m venv "$VENV"
    log="$BUILD/install.log"
    if ! { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
           "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$BUILD/constraints.txt" \
               -r "$BUILD/runtime.txt" -r "$BUILD/harness.txt"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "lambda_tier: install failed (full log: $log)" >&2
        exit 1
    fi
    echo "$stamp" > "$VENV/.stamp"
fi

# The core layer as sam build builds it
bash layers/core/build.sh "$BUILD/core-layer" "$VENV/bin/python"

# Sizes: per function, its code + the core layer + the managed layers it names, against Lambda's unzipped limit
"$VENV/bin/python" .ci/lambda_tier/sizes.py "$BUILD/core-layer"

export PYTHONPATH="$BUILD/core-layer/python:$ROOT/tools:$ROOT/.ci/lambda_tier"
export PYTHONDONTWRITEBYTECODE=1
TESTS=(tests/unit tests/aws tests/contract/test_storage_contract.py)
echo "== lambda tier: ${TESTS[*]} on $("$VENV/bin/python" -c 'import sys, awswrangler, pyarrow, pandas, numpy, aws_lambda_powertools, boto3; print(f"python {sys.version.split()[0]}, awswrangler {awswrangler.__version__}, pyarrow {pyarrow.__version__}, pandas {pandas.__version__}, numpy {numpy.__version__}, powertools {aws_lambda_powertools.__version__}, boto3 {boto3.__version__}")')"
"$VENV/bin/python" -m pytest -q -n 2 -p layer_emulation -p no:cacheprovider "${TESTS[@]}" "$@"
