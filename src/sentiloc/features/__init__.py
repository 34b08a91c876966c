"""Raw video -> TSL-300 feature streams: decoding, visual, audio and face extractors, datasets.

One video: :mod:`.extract`; many, resumably and in parallel: :mod:`.batch` (with
:mod:`.executors`); the extractors each setting can choose: :mod:`.streams` and :mod:`.face`;
``build-dataset``: :mod:`.build`. docs/features.md maps the package and says how to extend it.

Extraction needs the ``video`` extra (PyAV, librosa, OpenCV, scikit-image);
:func:`require_video_stack` turns a missing one into an instruction rather than an ImportError deep
inside a verb, and :func:`video_imports` does the same where the extractors' code is imported (a
package that is installed but cannot be imported, or a missing dependency of one, passes the first
check). The settings and the registries of choices load without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

from sentiloc.core.errors import SentilocError

VIDEO_PACKAGES = {"av": "av", "librosa": "librosa", "cv2": "opencv-python-headless<5", "skimage": "scikit-image"}
INSTALL_VIDEO = "pip install 'sentiloc[video]' (or pip install -e '.[video]' in a checkout)"


def require_video_stack(verb: str) -> None:
    """Raise a clear error naming the install command when a package of the ``video`` extra is missing."""
    missing = [package for module, package in VIDEO_PACKAGES.items() if find_spec(module) is None]
    if missing:
        raise SentilocError(f"{verb} needs {', '.join(missing)}: {INSTALL_VIDEO}")


@contextmanager
def video_imports(what: str) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` of a third-party module, raised inside the block, into the install line.

    ``what`` names the work that needs it (``feature extraction``). A missing ``sentiloc`` module
    is a bug, not an install problem, and keeps its traceback.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        if not module or module == "sentiloc":
            raise
        package = VIDEO_PACKAGES.get(module, module)
        raise SentilocError(f"{what} needs {package} (Python module {module!r} cannot be imported): "
                            f"{INSTALL_VIDEO}") from None
