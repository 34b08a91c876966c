"""File names of the TSL-300 dataset layout (``nku-zhichengzhang/TSL300: dataset/VideoSenti``).

::

    DATA/
      gt.json                     evaluation ground truth; train videos have empty lists
      videosenti_gt.json          dense segments of every video (full supervision only)
      fps_dict.json               {video: native fps}
      len_duration_dict.json      {video: duration in s}
      time.json                   {test video: duration in s}   (optional)
      split_train.txt, split_test.txt
      point_gaussian/point_labels.csv          class,class_index,start_frame,stop_frame,video_id,point
      point_gaussian/train/point_anno_{0,1,2}.txt   per-annotator clicks (optional)
      features/<split>/<modality>/<video>.npy       float32 [rows, dim]
      extractor.json              how sentiloc extracted the features (datasets from `build-dataset`)
"""

from __future__ import annotations

from pathlib import Path

GT_FILE = "gt.json"
DENSE_GT_FILE = "videosenti_gt.json"
FPS_FILE = "fps_dict.json"
DURATION_FILE = "len_duration_dict.json"
TEST_DURATION_FILE = "time.json"
SPLIT_FILES = {"train": "split_train.txt", "test": "split_test.txt"}
POINT_FILE = Path("point_gaussian") / "point_labels.csv"
ANNOTATOR_FILES = tuple(Path("point_gaussian") / "train" / f"point_anno_{i}.txt" for i in range(3))
POINT_COLUMNS = ("class", "class_index", "start_frame", "stop_frame", "video_id", "point")
FEATURES_DIR = "features"
EXTRACTOR_FILE = "extractor.json"

#: TSL-300 labels in class-index order (``class_index`` column: 0 = n, 1 = p).
CLASS_NAMES = ("n", "p")
#: The default modalities of TSL-300 and the one that carries faces.
DEFAULT_MODALITIES = ("rgb", "logmfcc", "img")
FACE_MODALITY = "img"


def feature_path(root: Path, split: str, modality: str, video_id: str) -> Path:
    """Path of one feature stream; ``video_id`` must already be validated (see ``sentiloc.core.io``)."""
    return Path(root) / FEATURES_DIR / split / modality / f"{video_id}.npy"
