"""Raw video -> TSL-300 feature streams: decoding, visual, audio and face extractors, datasets.

These need the ``video`` extra (PyAV, librosa, OpenCV, scikit-image); :func:`require_video_stack`
turns a missing one into an instruction rather than an ImportError deep inside a verb.
"""

from __future__ import annotations

from importlib.util import find_spec

from sentiloc.core.errors import SentilocError

VIDEO_PACKAGES = {"av": "av", "librosa": "librosa", "cv2": "opencv-python-headless<5", "skimage": "scikit-image"}


def require_video_stack(verb: str) -> None:
    """Raise a clear error naming the install command when a package of the ``video`` extra is missing."""
    missing = [package for module, package in VIDEO_PACKAGES.items() if find_spec(module) is None]
    if missing:
        raise SentilocError(f"{verb} needs {', '.join(missing)}: pip install 'sentiloc[video]' "
                            "(or pip install -e '.[video]' in a checkout)")
