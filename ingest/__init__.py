"""Ingest: read agency extracts (CSV, Excel, JSON, IATI XML) into the raw zone with lineage on every row."""
