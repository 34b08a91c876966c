"""File names and columns of the recognition dataset layout (docs/recognition.md).

::

    DATA/
      classes.txt                    one class name per line; line order = label index
      labels.csv                     video,label[,split][,fold]    split train|test, or fold 1..K
      features/<stream>/<video>.npy  float32 (T, D) per-segment features; T may differ per video
      descriptions.json              optional {class: ["a person showing ...", ...]}
      keyframes.json                 optional {video: [[first_segment, last_segment], ...]}
      simulation.json                what `sentiloc simulate --task recognition` drew (simulated data only)

Segment indices in ``keyframes.json`` and in prediction files are 0-based and inclusive: the
interval ``[first, last]`` covers segments ``first, ..., last``.
"""

from __future__ import annotations

from pathlib import Path

from sentiloc.data import layout as tsl300

CLASSES_FILE = "classes.txt"
LABELS_FILE = "labels.csv"
FEATURES_DIR = "features"
DESCRIPTIONS_FILE = "descriptions.json"
KEYFRAMES_FILE = "keyframes.json"
SIMULATION_FILE = "simulation.json"

LABEL_COLUMNS = ("video", "label")
OPTIONAL_LABEL_COLUMNS = ("split", "fold")
SPLITS = ("train", "test")


def feature_path(root: Path, stream: str, video_id: str) -> Path:
    """The feature file of ``video_id`` in ``stream``; both names must already be validated (``core.io.id_problem``)."""
    return Path(root) / FEATURES_DIR / stream / f"{video_id}.npy"


def is_recognition_folder(root: Path) -> bool:
    """Whether ``root`` looks like this layout: ``classes.txt`` or ``labels.csv`` is there and TSL-300's ``gt.json`` is not."""
    root = Path(root)
    return not (root / tsl300.GT_FILE).exists() and any(
        (root / name).exists() for name in (CLASSES_FILE, LABELS_FILE))
