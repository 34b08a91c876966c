"""Writing figures: every plot of sentiloc is rendered to PNG in memory and written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sentiloc.core.io import atomic_write_bytes  # noqa: E402


def save_png(fig: plt.Figure, path: Path | str, dpi: int = 110, tight: bool = True) -> Path:
    """Render ``fig`` to PNG in memory, close it, then write the file atomically (a killed run never
    leaves half a PNG); ``tight`` trims the margins to the drawn content."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
