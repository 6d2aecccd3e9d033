"""The HTTP service and its feedback/audit store."""
