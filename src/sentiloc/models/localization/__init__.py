"""Temporal localization models: per-snippet class activation sequences (CAS) from feature streams."""
