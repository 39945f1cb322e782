"""Ingest: read a landing file, validate and normalize its rows, write curated Parquet and quarantine."""
