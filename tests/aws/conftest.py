"""The moto stack's fixtures for every test of this folder (built in moto_stack.py)."""

from moto_stack import curated_lake, stack  # noqa: F401
