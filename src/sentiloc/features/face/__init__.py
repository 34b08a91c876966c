"""Face stream ("img"): the face detectors, by ``--face-detector`` name.

A face row is detect → align → describe, averaged over a few frames of the snippet
(:class:`~sentiloc.features.face.base.FaceExtractor`). The parts live in

* :mod:`.base`: the :class:`~.base.Face` record, the detector and descriptor protocols, eye
  levelling, the weight-free HOG/LBP descriptor, the user's TorchScript / ``torch.export`` model
  (``--face-weights``) and the extractor that combines a detector and a descriptor;
* :mod:`.haar`: OpenCV's Haar cascades, the default detector;
* :mod:`.mediapipe`: the optional MediaPipe detector and its face-mesh geometry descriptor.

:data:`FACE_DETECTORS` holds one :class:`~sentiloc.features.base.StreamExtractor` per detector; its
``build`` makes the face stream's extractor around that detector (with the detector's own
weight-free descriptor, or the user's model). Entries are deferred, so listing the detectors
imports neither OpenCV nor MediaPipe, which is an optional install. A new detector is a module
with a ``from_settings(settings, device)`` function, registered here (docs/features.md).
"""

from __future__ import annotations

from sentiloc.core.registry import Registry
from sentiloc.features.base import FACE, StreamExtractor, deferred

FACE_DETECTORS: Registry[StreamExtractor] = Registry("face detector", "--face-detector")


def register_face_detector(name: str, module: str, summary: str) -> None:
    """Register ``module.from_settings`` as the face stream on detector ``name``."""
    entry = StreamExtractor(stream=FACE, option="face_detector", choice=name, summary=summary,
                            build=deferred(module, "from_settings"), presence="face_present")
    FACE_DETECTORS.register(name)(entry)


register_face_detector("haar", "sentiloc.features.face.haar", "OpenCV's Haar cascade (weight-free HOG/LBP descriptor)")
register_face_detector("mediapipe", "sentiloc.features.face.mediapipe",
                       "MediaPipe face detection + 468-point face mesh, whose geometry is the default descriptor "
                       "(needs `pip install mediapipe==0.10.14`)")
