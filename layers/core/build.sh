#!/usr/bin/env bash
# Builds the core layer into OUT/python: what `sam build` deploys (template.yaml: CoreLayer, BuildMethod makefile,
# which runs this through layers/core/Makefile) and what the Lambda-faithful test tier runs on. Only the Lambda
# package and its pinned dependencies, as manylinux wheels for the function's Python and architecture (Amazon Linux
# 2023: glibc 2.34, so manylinux_2_28 and older); pycountry's
# name translations are dropped (the code reads the ISO database only, never a translation).
#
# Usage: bash layers/core/build.sh OUT [PYTHON]      (PYTHON: a python with pip; default python3)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:?usage: build.sh OUT [PYTHON]}"
PYTHON="${2:-python3}"
TARGET="$OUT/python"
rm -rf "$TARGET"
mkdir -p "$TARGET"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
    --only-binary=:all: --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    --python-version 3.12 --implementation cp \
    --target "$TARGET" -r "$HERE/requirements.txt"
cp -R "$HERE/python/bcjourney" "$TARGET/bcjourney"
rm -rf "$TARGET"/pycountry/locales
find "$TARGET" -name __pycache__ -type d -prune -exec rm -rf {} +
