"""The recognition dataset layout (docs/recognition.md): clip labels over per-segment features."""
