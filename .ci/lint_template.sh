#!/usr/bin/env bash
# Lints the SAM application offline:
#   1. cfn-lint template.yaml                      (0 errors, 0 warnings)
#   2. sam validate --lint                         (SAM transform + cfn-lint on the result)
#   3. checkov, CloudFormation framework           (0 failed checks; every skip is justified in template.yaml)
#   4. each state machine definition               (cfn-lint's ASL schema on the substituted definition, every
#                                                   Next/Default target exists, ${...} == DefinitionSubstitutions)
#   5. the core layer's build input                (sam build runs the build-CoreLayer target of its Makefile)
# Each tool lives in its own venv under .ci-venvs/ (gitignored), created on first use: their dependency pins clash.
# Nothing here calls AWS: dummy credentials and a region are set only because the tools insist on having them.
#
# Usage: bash .ci/lint_template.sh        (LINT_UPGRADE=1 to upgrade the tools; PYTHON=python3.x to pick the venv python)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TEMPLATE="template.yaml"
ASLS=(statemachine/*.asl.json)
VENVS="$ROOT/.ci-venvs"
PYTHON="${PYTHON:-python3}"
mkdir -p "$VENVS"

for f in "$TEMPLATE" "${ASLS[@]}"; do
    [[ -f "$f" ]] || { echo "lint_template: $f not found" >&2; exit 1; }
done

# ensure_tool <venv name> <executable> <pip requirement...>: (re)creates the venv only when the tool does not run.
ensure_tool() {
    local name="$1" exe="$2"; shift 2
    local venv="$VENVS/$name" log="$VENVS/$name.install.log"
    if [[ -n "${LINT_UPGRADE:-}" ]] || ! "$venv/bin/$exe" --version >/dev/null 2>&1; then
        echo "== installing $* into .ci-venvs/$name"
        rm -rf "$venv"
        if ! { "$PYTHON" -m venv "$venv" &&
               "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
               "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; } >"$log" 2>&1; then
            tail -n 30 "$log" >&2
            echo "lint_template: installing $* failed (full log: $log)" >&2
            exit 1
        fi
    fi
}

ensure_tool cfn-lint cfn-lint cfn-lint
ensure_tool sam sam aws-sam-cli
ensure_tool checkov checkov checkov

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-west-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export SAM_CLI_TELEMETRY=0

status=0
fail() { echo "FAILED: $*"; status=1; }
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# 1. cfn-lint ---------------------------------------------------------------------------------------------------------
echo "== cfn-lint $("$VENVS/cfn-lint/bin/cfn-lint" --version 2>&1 | awk '{print $NF}')"
if "$VENVS/cfn-lint/bin/cfn-lint" "$TEMPLATE"; then
    echo "cfn-lint: 0 errors, 0 warnings"
else
    fail "cfn-lint (see above)"
fi

# 2. sam validate --lint ----------------------------------------------------------------------------------------------
# Works offline today. Should a SAM CLI version ever need the network (or real credentials) for it, that one step is
# reported as skipped with the reason; any other failure fails the script.
echo "== sam validate --lint ($("$VENVS/sam/bin/sam" --version 2>&1 | awk '{print $NF}'))"
if "$VENVS/sam/bin/sam" validate --lint --template "$TEMPLATE" --region "$AWS_DEFAULT_REGION" >"$out" 2>&1; then
    cat "$out"
elif grep -qiE "EndpointConnectionError|Could not connect|ConnectTimeout|Name or service not known|Temporary failure in name resolution|NoCredentialsError|InvalidClientTokenId|UnrecognizedClientException|ExpiredToken" "$out"; then
    cat "$out"
    echo "sam validate: SKIPPED - it tried to reach AWS (no network or no real credentials here); cfn-lint above covers the template."
else
    cat "$out"
    fail "sam validate"
fi

# 3. checkov ----------------------------------------------------------------------------------------------------------
echo "== checkov $("$VENVS/checkov/bin/checkov" --version 2>&1)"
checkov_rc=0
"$VENVS/checkov/bin/checkov" -f "$TEMPLATE" --framework cloudformation --skip-download --quiet --compact \
    >"$out" 2>&1 || checkov_rc=$?
grep -v '^\s*$' "$out" || true
if [[ $checkov_rc -ne 0 ]]; then
    fail "checkov (exit $checkov_rc)"
elif ! grep -q "Failed checks: 0," "$out"; then
    fail "checkov printed no summary with 'Failed checks: 0'"
elif grep -qE "Parsing errors: [1-9]" "$out"; then
    fail "checkov could not parse $TEMPLATE"     # checkov exits 0 on a template it cannot read
fi

# 4. state machine definitions (each by its DefinitionUri) -----------------------------------------------------------------------------------------
for ASL in "${ASLS[@]}"; do
echo "== $ASL"
asl_tmp="$(mktemp -d)"
if "$VENVS/cfn-lint/bin/python" - "$TEMPLATE" "$ASL" "$asl_tmp/asl_template.json" 2>&1 <<'PY'
import json, re, sys
from cfnlint.decode import decode

template_path, asl_path, out_path = sys.argv[1:4]
template, matches = decode(template_path)
if matches:
    sys.exit(f"cannot read {template_path}: {matches}")
text = open(asl_path).read()
asl = json.loads(text)
errors = []

machines = [r for r in template["Resources"].values()
            if r["Type"] == "AWS::Serverless::StateMachine" and r["Properties"].get("DefinitionUri") == asl_path]
if len(machines) != 1:
    errors.append(f"expected one AWS::Serverless::StateMachine with DefinitionUri {asl_path}, found {len(machines)}")
    subs = {}
else:
    subs = machines[0]["Properties"].get("DefinitionSubstitutions", {})
used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))
if used != set(subs):
    errors.append(f"placeholders {sorted(used)} != DefinitionSubstitutions {sorted(subs)}")

def walk(graph, where):
    states = graph.get("States", {})
    if graph.get("StartAt") not in states:
        errors.append(f"{where}: StartAt {graph.get('StartAt')!r} is not a state")
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", []) + state.get("Catch", [])]
        for t in filter(None, targets):
            if t not in states:
                errors.append(f"{where}/{name}: Next {t!r} is not a state of the same scope")
        for sub in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if sub:
                walk(sub, f"{where}/{name}")

walk(asl, "root")
if errors:
    sys.exit("\n".join(errors))

# The definition with dummy substitutions, inline in a plain CloudFormation state machine, for cfn-lint's ASL schema.
dummy = {k: f"arn:aws:lambda:eu-west-1:123456789012:function:{k}" if "Arn" in k
         else f"https://sqs.eu-west-1.amazonaws.com/123456789012/{k}" for k in subs}
json.dump({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}}},
    "StateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}, "Definition": asl, "DefinitionSubstitutions": dummy}}}},
    open(out_path, "w"), indent=1)
print(f"targets, placeholders ({', '.join(sorted(used))}): OK")
PY
then
    if "$VENVS/cfn-lint/bin/cfn-lint" "$asl_tmp/asl_template.json"; then
        echo "ASL schema (cfn-lint E3601): OK"
    else
        fail "ASL schema of $ASL"
    fi
else
    fail "$ASL structure"
fi
rm -rf "$asl_tmp"
done

# 5. core layer build input -------------------------------------------------------------------------------------------
# sam build (BuildMethod makefile) runs `make build-CoreLayer` in a copy of ContentUri: the Makefile, build.sh and
# requirements.txt must be there, or the layer ships without its code or dependencies.
echo "== core layer"
layer_dir="$(awk '/^  CoreLayer:/{f=1} f && /ContentUri:/{print $2; exit}' "$TEMPLATE")"
layer_dir="${layer_dir%/}"
if [[ -z "$layer_dir" || ! -d "$layer_dir" ]]; then
    fail "CoreLayer ContentUri '$layer_dir' is not a directory"
elif ! grep -q '^build-CoreLayer:' "$layer_dir/Makefile" 2>/dev/null; then
    fail "$layer_dir/Makefile has no build-CoreLayer target: sam build (BuildMethod makefile) would fail"
elif [[ ! -f "$layer_dir/build.sh" || ! -f "$layer_dir/requirements.txt" || ! -d "$layer_dir/python/bcjourney" ]]; then
    fail "$layer_dir lacks build.sh, requirements.txt or python/bcjourney: the layer would ship incomplete"
else
    echo "$layer_dir: Makefile (build-CoreLayer), build.sh, requirements.txt, python/bcjourney present"
fi

if [[ $status -eq 0 ]]; then echo "lint_template: all checks passed"; else echo "lint_template: FAILED"; fi
exit "$status"
