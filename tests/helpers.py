"""Helpers the tests of every kind share (pytest puts tests/ on the path: pyproject.toml)."""

from __future__ import annotations

from pathlib import Path


def write_landing(root: Path, files: dict[str, bytes | str]) -> Path:
    for key, content in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root
