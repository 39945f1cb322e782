"""The storage port: domain code reads and writes keys under a root, never a client.

Two adapters pass the same contract tests: `LocalStorage` (a folder, the embedded default) and
`S3Storage` (a bucket or prefix, through awswrangler). `open_storage(uri)` picks one by scheme.
"""

from __future__ import annotations

from typing import Any

from .local import LocalStorage
from .port import Storage, StorageError


def open_storage(uri: str, *, boto3_session: Any = None) -> Storage:
    """`s3://bucket[/prefix]` -> S3Storage; a path or `file://` URI -> LocalStorage."""
    if uri.startswith("s3://"):
        from .s3 import S3Storage  # imported lazily: the local path never needs boto3

        return S3Storage(uri, boto3_session=boto3_session)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    return LocalStorage(uri)


__all__ = ["LocalStorage", "Storage", "StorageError", "open_storage"]
