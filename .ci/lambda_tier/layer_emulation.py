"""pytest plugin of the Lambda-faithful tier: pyarrow as the AWS SDK for pandas layer builds it.

PyPI's pyarrow wheel has every codec; the layer's is built with snappy and zlib only (layers/managed-layers.toml),
so a write asking for zstd raises there. The same happens here: every Parquet write path (pyarrow's writer, which
pq.write_table and awswrangler both use) refuses a codec the layer lacks, with the layer's own error."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LAYER = tomllib.loads((Path(__file__).resolve().parents[2] / "layers" / "managed-layers.toml").read_text())
CODECS = {c.lower() for c in LAYER["aws_sdk_pandas"]["parquet_codecs"]}
_original_init = pq.ParquetWriter.__init__


def _requested(compression) -> set[str]:
    if compression is None:
        return {"none"}
    if isinstance(compression, dict):
        return {str(c).lower() for c in compression.values()}
    return {str(compression).lower()}


_SIGNATURE = inspect.signature(_original_init)


def _init(self, *args, **kwargs):
    arguments = _SIGNATURE.bind(self, *args, **kwargs).arguments
    missing = sorted(_requested(arguments.get("compression", "snappy")) - CODECS - {"uncompressed"})
    if missing:
        raise pa.ArrowNotImplementedError(f"Support for codec '{missing[0]}' not built")
    _original_init(self, *args, **kwargs)


def pytest_configure(config) -> None:
    pq.ParquetWriter.__init__ = _init


def pytest_report_header(config) -> list[str]:
    import aws_lambda_powertools
    import awswrangler
    import boto3
    import numpy
    import pandas

    return [f"lambda tier: python {'.'.join(map(str, __import__('sys').version_info[:3]))}, awswrangler "
            f"{awswrangler.__version__}, pyarrow {pa.__version__} (codecs: {', '.join(sorted(CODECS))}), pandas "
            f"{pandas.__version__}, numpy {numpy.__version__}, powertools {aws_lambda_powertools.__version__}, boto3 "
            f"{boto3.__version__}"]
