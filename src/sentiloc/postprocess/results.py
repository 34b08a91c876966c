"""ActivityNet-style results files (docs/methods.md §2.9 step 10, §3): what ``sentiloc evaluate`` reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sentiloc.core.io import atomic_write_json, refuse_clobber


def plain_proposal(video_id: str, proposal: Mapping) -> dict:
    """One proposal as plain JSON types (numpy floats and arrays are not JSON serialisable)."""
    try:
        start_s, end_s = proposal["segment"]
        return {"label": str(proposal["label"]), "score": float(proposal["score"]), "segment": [float(start_s), float(end_s)]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"video {video_id!r}: a proposal needs 'label', 'score' and a two-number 'segment', got {proposal!r}"
        ) from exc


def activitynet_results(per_video: Mapping[str, list[dict]], version: str = "sentiloc") -> dict:
    """``{"version", "results": {video_id: [{"label", "score", "segment": [start_s, end_s]}]}, "external_data"}``.

    Proposals keep their order; a video with no proposals keeps an empty list, so the file
    still says the video was processed.
    """
    return {
        "version": version,
        "results": {video: [plain_proposal(video, p) for p in proposals] for video, proposals in per_video.items()},
        "external_data": {"used": False, "details": "pre-extracted features only"},
    }


def write_results(path: Path | str, results: dict, overwrite: bool = False) -> None:
    """Write ``results`` as JSON atomically; refuse to replace an existing file unless ``overwrite``.

    NaN or infinite scores are refused (ValueError) rather than written as invalid JSON, and the
    previous file, if any, is then left untouched.
    """
    refuse_clobber(Path(path), overwrite)
    atomic_write_json(Path(path), results)
