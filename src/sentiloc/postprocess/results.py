"""ActivityNet-style results files (what ``sentiloc evaluate`` reads)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sentiloc import __version__
from sentiloc.io import atomic_write_json, refuse_clobber


def activitynet_results(per_video: Mapping[str, list[dict]], version: str = f"sentiloc {__version__}") -> dict:
    """``{"version", "results": {video: [segments]}, "external_data"}``."""
    return {
        "version": version,
        "results": {video: list(segments) for video, segments in per_video.items()},
        "external_data": {"used": False, "details": "features only"},
    }


def write_results(path: Path, results: dict, overwrite: bool = False) -> None:
    """Write a results file atomically, refusing to replace an existing one unless ``overwrite``."""
    refuse_clobber(Path(path), overwrite)
    atomic_write_json(Path(path), results)
