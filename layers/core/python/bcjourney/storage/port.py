"""What the domain needs from storage, nothing more."""

from __future__ import annotations

from typing import BinaryIO, ContextManager, Iterable, Protocol, runtime_checkable

import pandas as pd
import pyarrow as pa


class StorageError(RuntimeError):
    """A key could not be read or written (missing, denied, unreachable)."""


@runtime_checkable
class Storage(Protocol):
    uri: str

    def open_read(self, key: str, version: str | None = None) -> ContextManager[BinaryIO]:
        """A binary stream of the object (of that version, where the store keeps versions), to use in `with`.
        Raises StorageError if missing."""

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys under prefix, relative to the root, sorted."""

    def delete(self, keys: Iterable[str]) -> None: ...

    def write_parquet(self, key: str, table: pa.Table) -> None: ...

    def read_table(self, keys: list[str], schema: pa.Schema | None = None) -> pa.Table:
        """Concatenate the files; an empty list gives an empty table with `schema`'s columns."""

    def read_parquet(self, keys: list[str], schema: pa.Schema | None = None) -> pd.DataFrame:
        """read_table as a pandas frame (Arrow-backed columns)."""
