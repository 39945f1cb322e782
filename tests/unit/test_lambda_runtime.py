"""What the functions have at run time, as `layers/managed-layers.toml` states it, and what the code asks of it.

The Lambda-faithful tier (.ci/lambda_tier.sh) runs the handler tests on exactly those versions; these checks keep
the statement itself true: the template names the layers it describes, and no Lambda code asks for a Parquet
codec the managed layer's pyarrow was built without (zstd there raises `Support for codec 'zstd' not built`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bcjourney.storage import tables

REPO = Path(__file__).resolve().parents[2]
MANAGED = tomllib.loads((REPO / "layers" / "managed-layers.toml").read_text())
LAMBDA_CODE = [*(REPO / "layers" / "core" / "python").rglob("*.py"), *(REPO / "functions").rglob("*.py")]
CODECS = ("zstd", "lz4", "brotli", "bz2", "snappy", "gzip")


def test_the_parquet_codec_is_one_the_managed_layer_has():
    assert tables.PARQUET_CODEC in MANAGED["aws_sdk_pandas"]["parquet_codecs"]


def test_no_lambda_code_names_a_codec_the_managed_layer_lacks():
    allowed = set(MANAGED["aws_sdk_pandas"]["parquet_codecs"])
    offenders = []
    for path in LAMBDA_CODE:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for codec in CODECS:
                if codec not in allowed and re.search(rf"""['"]{codec}['"]|compression\s*=\s*['"]?{codec}""", line,
                                                      re.IGNORECASE):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_template_names_the_layers_the_pins_describe():
    template = (REPO / "template.yaml").read_text()
    for layer in ("aws_sdk_pandas", "powertools"):
        assert f"Default: {MANAGED[layer]['layer_arn']}" in template, layer
    assert re.search(r"Runtime:\s*python" + re.escape(MANAGED["python"]), template)


def test_the_core_layer_pins_are_the_development_pins():
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {re.sub(r"[-_.]+", "-", line.split("==")[0].lower()): line.split("==")[1] for line in lines
                if "==" in line}

    layer, development = pins(REPO / "layers" / "core" / "requirements.txt"), pins(REPO / "constraints.txt")
    assert layer and all(development[name] == version for name, version in layer.items())


def test_lambda_code_imports_nothing_of_the_laptop_side():
    laptop_only = ("bcjourney_tools", "duckdb", "matplotlib", "tqdm", "scipy", "sqlglot", "hypothesis", "moto")
    offenders = [f"{path.relative_to(REPO)}: {line.strip()}" for path in LAMBDA_CODE
                 for line in path.read_text().splitlines()
                 if re.match(rf"\s*(from|import)\s+({'|'.join(laptop_only)})\b", line)]
    assert offenders == []
