"""File names and columns of the spotting dataset layout (docs/spotting.md).

::

    DATA/
      videos.csv             video,subject,fps,n_frames
      annotations.csv        video,onset,apex,offset,type     (native frames, inclusive; type macro|micro)
      points.csv             video,frame,type                 one click per instance (point supervision)
      features/<video>.npy   float32 (n_frames, D), one row per native frame
      simulation.json        what `sentiloc simulate --task spotting` drew (simulated data only)
"""

from __future__ import annotations

from pathlib import Path

from sentiloc.data import layout as tsl300

VIDEOS_FILE = "videos.csv"
ANNOTATIONS_FILE = "annotations.csv"
POINTS_FILE = "points.csv"
FEATURES_DIR = "features"
SIMULATION_FILE = "simulation.json"

VIDEO_COLUMNS = ("video", "subject", "fps", "n_frames")
ANNOTATION_COLUMNS = ("video", "onset", "apex", "offset", "type")
POINT_COLUMNS = ("video", "frame", "type")


def feature_path(root: Path, video_id: str) -> Path:
    """The feature file of ``video_id``, which must already be validated (``core.io.id_problem``)."""
    return Path(root) / FEATURES_DIR / f"{video_id}.npy"


def is_spotting_folder(root: Path) -> bool:
    """Whether ``root`` looks like this layout: one of its CSV files is there and TSL-300's ``gt.json`` is not."""
    root = Path(root)
    return not (root / tsl300.GT_FILE).exists() and any(
        (root / name).exists() for name in (VIDEOS_FILE, ANNOTATIONS_FILE, POINTS_FILE))
