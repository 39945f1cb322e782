"""S3 adapter on awswrangler. The boto3 session is injected, so tests hand in a moto-backed one."""

from __future__ import annotations

import io
from typing import BinaryIO, ContextManager, Iterable, cast

import awswrangler as wr
import boto3
import pandas as pd
import pyarrow as pa
from awswrangler.s3._fs import open_s3_object  # wrangler's block-streaming reader (not re-exported)

from .port import StorageError
from .tables import concat_tables, read_parquet_file, write_parquet_file


class S3Storage:
    def __init__(self, uri: str, *, boto3_session: boto3.Session | None = None):
        self.uri = uri.rstrip("/")
        self.session = boto3_session or boto3.Session()

    def _url(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def open_read(self, key: str, version: str | None = None) -> ContextManager[BinaryIO]:
        # wr.s3.open_s3_object streams in blocks: a 1 GB object is never held whole. With a version, the object
        # as it was when its event fired, not a newer upload under the same key.
        if version is None and not self.exists(key):
            raise StorageError(f"no such object: {self._url(key)}")
        # binary in mode "rb" (the library's annotation also allows its text wrapper)
        return cast(ContextManager[BinaryIO], open_s3_object(self._url(key), mode="rb", version_id=version,
                                                             boto3_session=self.session, s3_block_size=8 * 1024 * 1024))

    def read_bytes(self, key: str) -> bytes:
        buffer = io.BytesIO()
        try:
            wr.s3.download(path=self._url(key), local_file=buffer, boto3_session=self.session)
        except Exception as exc:  # botocore raises several types for a missing key
            raise StorageError(f"cannot read {self._url(key)}: {exc}") from exc
        return buffer.getvalue()

    def write_bytes(self, key: str, data: bytes) -> None:
        wr.s3.upload(local_file=io.BytesIO(data), path=self._url(key), boto3_session=self.session)

    def exists(self, key: str) -> bool:
        return wr.s3.does_object_exist(self._url(key), boto3_session=self.session)

    def list_keys(self, prefix: str = "") -> list[str]:
        root = self.uri + "/"
        urls = wr.s3.list_objects(self._url(prefix), boto3_session=self.session)
        return sorted(u[len(root):] for u in urls)

    def delete(self, keys: Iterable[str]) -> None:
        urls = [self._url(k) for k in keys]
        if urls:
            wr.s3.delete_objects(urls, boto3_session=self.session)

    def write_parquet(self, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        write_parquet_file(table, buffer)
        self.write_bytes(key, buffer.getvalue())

    def read_table(self, keys: list[str], schema: pa.Schema | None = None) -> pa.Table:
        return concat_tables([read_parquet_file(pa.py_buffer(self.read_bytes(k)), schema) for k in keys], schema)

    def read_parquet(self, keys: list[str], schema: pa.Schema | None = None) -> pd.DataFrame:
        return self.read_table(keys, schema).to_pandas(types_mapper=pd.ArrowDtype)
