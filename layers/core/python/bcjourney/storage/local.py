"""Local folder adapter: the landing/lake layout on disk."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterable

import pandas as pd
import pyarrow as pa

from .port import StorageError
from .tables import concat_tables, read_parquet_file, write_parquet_file


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        # normpath, not resolve: a symlinked landing file is fine, a '../' in a key is not
        path = Path(os.path.normpath(self.root / key))
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"key {key!r} escapes the storage root {self.root}")
        return path

    def open_read(self, key: str, version: str | None = None) -> ContextManager[BinaryIO]:
        # a folder keeps no versions: the file as it is now
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no such object: {self.uri}/{key}") from exc

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as handle:
            return handle.read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomic_write(key, lambda tmp: Path(tmp).write_bytes(data))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not _is_temp(k))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def write_parquet(self, key: str, table: pa.Table) -> None:
        self._atomic_write(key, lambda tmp: write_parquet_file(table, tmp))

    def read_table(self, keys: list[str], schema: pa.Schema | None = None) -> pa.Table:
        return concat_tables([read_parquet_file(self._path(k), schema) for k in keys], schema)

    def read_parquet(self, keys: list[str], schema: pa.Schema | None = None) -> pd.DataFrame:
        return self.read_table(keys, schema).to_pandas(types_mapper=pd.ArrowDtype)

    def _atomic_write(self, key: str, write: Callable[[str], object]) -> None:
        # write then rename, so a reader never sees half a file
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _is_temp(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(".tmp-")
