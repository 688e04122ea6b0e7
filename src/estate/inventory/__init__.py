"""Inventory: ingest with change tracking, the resource-type taxonomy, and queries."""
