"""Training objectives: one per method, each a callable ``objective(out, batch) -> {"total": ..., ...}``."""
