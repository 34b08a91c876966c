"""Optional MediaPipe path of the face stream: BlazeFace detection + 468-point face mesh.

Haar cascades (the default, :mod:`sentiloc.features.face.haar`) only fire on upright frontal
faces and give no more than a box and two eyes. MediaPipe's legacy ``face_detection``
(BlazeFace, full-range model) also finds turned and distant faces, and its ``face_mesh`` fits
468 landmarks, from which :class:`MeshGeometryDescriptor` reads the expression directly (mouth,
brows, lids, jaw) without any weights of ours.

MediaPipe is an optional install, imported only when a detector is built: registering
``--face-detector mediapipe`` (in :mod:`sentiloc.features.face`) imports neither it nor this
module, and the geometry descriptor needs only numpy. Only ``mediapipe==0.10.14`` is supported:
it is the release whose wheel still ships the legacy solutions' models inside it, so nothing is
downloaded at run time. It needs ``numpy<2`` and pulls in ``opencv-contrib-python``, which would
replace this package's OpenCV, so it belongs in an environment of its own (docs/features.md).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.features.face.base import Face, FaceExtractor, user_embedder
from sentiloc.features.settings import ExtractSettings

#: The one supported release (see the module docstring).
MEDIAPIPE_VERSION = "0.10.14"
#: BlazeFace detections scoring below this are dropped; 0.5 is MediaPipe's own default, and in our
#: probes blank and noise frames never reached it.
MIN_DETECTION_CONFIDENCE = 0.5
#: The face mesh runs on a square around the detected box, this many box sides wide. The mesh
#: graph finds its face with the *short-range* detector, which wants a face filling much of its
#: input: on a whole frame it misses faces the full-range detector found and, with several faces,
#: may pick another one. A 2x square keeps the chin, brow and some context in view.
MESH_CROP_SCALE = 2.0
#: Landmarks in the canonical 468-point mesh.
MESH_POINTS = 468

_INSTALL_FIX = (
    f"pip install mediapipe=={MEDIAPIPE_VERSION} in a separate environment: it needs numpy<2 and pulls in "
    "opencv-contrib-python, which must stay <5 since OpenCV 5 dropped the Haar cascades, e.g. "
    f"python -m venv mpenv && mpenv/bin/pip install mediapipe=={MEDIAPIPE_VERSION} 'numpy<2' "
    "'opencv-contrib-python<5' and then this package into mpenv"
)


def import_mediapipe() -> ModuleType:
    """``mediapipe`` with the legacy ``face_detection``/``face_mesh`` solutions, or a fixable error.

    Anything can go wrong on import (not installed; built against numpy 1 but run with numpy 2;
    a newer release without ``mp.solutions``), so every failure becomes one message with the fix.
    """
    try:
        import mediapipe as mp

        # Later releases drop the legacy solutions; probing here gives that failure the same message.
        _ = mp.solutions.face_detection.FaceDetection, mp.solutions.face_mesh.FaceMesh
    except Exception as exc:
        first_line = next(iter(str(exc).splitlines()), "")
        raise SentilocError(
            f"--face-detector mediapipe needs mediapipe=={MEDIAPIPE_VERSION}, which cannot be used here "
            f"({type(exc).__name__}: {first_line}). Fix: {_INSTALL_FIX}"
        ) from exc
    return mp


class MediapipeFaceDetector:
    """Largest face in a frame by BlazeFace, with its eye keypoints and (optionally) its face mesh.

    Detection uses the full-range model (``model_selection=1``, faces up to ~5 m away), since talk
    and vlog footage often shows the speaker far from the camera. The mesh runs in static-image
    mode (every sampled frame is independent: snippets are seconds apart, so tracking would only
    carry stale faces across cuts) on a crop around the chosen face, and its 468 landmarks come
    back in frame pixels. With the mesh on, a face it cannot fit is reported as no face, because
    the geometry descriptor would have nothing to describe and the mesh rejecting a detection
    usually means a false or side-on one.
    """

    name = "mediapipe"

    def __init__(self, landmarks: bool = True) -> None:
        mp = import_mediapipe()
        self.landmarks = landmarks
        self.version = f"mediapipe-{mp.__version__}"
        self._detection = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
        )
        self._mesh = (
            mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)
            if landmarks
            else None
        )

    def detect(self, frame: np.ndarray) -> Face | None:
        """Return the largest face in ``uint8 (H, W, 3)`` RGB ``frame``, or ``None``."""
        height, width = frame.shape[:2]
        detections = self._detection.process(np.ascontiguousarray(frame)).detections
        if not detections:
            return None
        boxes = [d.location_data.relative_bounding_box for d in detections]
        best = int(np.argmax([b.width * b.height for b in boxes]))
        rel = boxes[best]
        x0, y0 = max(0, round(rel.xmin * width)), max(0, round(rel.ymin * height))
        x1, y1 = min(width, round((rel.xmin + rel.width) * width)), min(height, round((rel.ymin + rel.height) * height))
        if x1 <= x0 or y1 <= y0:
            return None
        box = (x0, y0, x1 - x0, y1 - y0)
        # Keypoints 0 and 1 are the subject's right and left eye; Face wants image-left first.
        eyes = sorted((k.x * width, k.y * height) for k in detections[best].location_data.relative_keypoints[:2])
        pair = ((float(eyes[0][0]), float(eyes[0][1])), (float(eyes[1][0]), float(eyes[1][1])))
        if self._mesh is None:
            return Face(box=box, eyes=pair)
        landmarks = self._fit_mesh(frame, box)
        return None if landmarks is None else Face(box=box, eyes=pair, landmarks=landmarks)

    def _fit_mesh(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """``float32 (468, 3)`` landmarks (pixel x, y; depth z in x's pixel scale) of the face in ``box``."""
        height, width = frame.shape[:2]
        x, y, w, h = box
        half = MESH_CROP_SCALE * max(w, h) / 2
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
        x1, y1 = min(width, round(cx + half)), min(height, round(cy + half))
        result = self._mesh.process(np.ascontiguousarray(frame[y0:y1, x0:x1])).multi_face_landmarks
        if not result:
            return None
        points = np.array([(p.x, p.y, p.z) for p in result[0].landmark], dtype=np.float64)
        # MediaPipe normalises x and y by the crop's width and height, and scales z like x.
        points *= (x1 - x0, y1 - y0, x1 - x0)
        points[:, :2] += (x0, y0)
        return points.astype(np.float32)


# Landmark indices of the canonical MediaPipe face mesh (mesh_map.jpg in the MediaPipe repository).
# "Right"/"left" are the subject's, so right features sit on the image left of a frontal face.
# Each group is a feature that FACS action units move; points that only follow head pose
# (forehead, ears, cheek outline) are left out, as are the lip's many in-between contour points.
#: Lips: outer top/bottom centre (0, 17), inner top/bottom centre (13, 14), right and left corner
#: (61, 291), and outer top/bottom points halfway to each corner (37, 267, 84, 314). Corners move
#: with smiles and frowns (AU12/AU15), the centres and the in-between points with opening, pursing
#: and stretching (AU25-27, AU18, AU20).
MOUTH = (0, 17, 13, 14, 61, 291, 37, 267, 84, 314)
#: Brows, upper edge, outer/middle/inner for right (70, 105, 107) and left (300, 334, 336):
#: outer raise (AU2), inner raise (AU1) and the lowered, drawn-together frown (AU4) differ in which
#: of the three move.
BROWS = (70, 105, 107, 300, 334, 336)
#: Eyes, outer/inner corner and upper/lower lid centre for right (33, 133, 159, 145) and left
#: (263, 362, 386, 374): lids open in surprise (AU5) and narrow in smiles and squints (AU6/AU7).
#: The corners also define the face frame.
EYES = (33, 133, 159, 145, 263, 362, 386, 374)
#: Nose tip (1), which wrinkles upward in disgust (AU9), and the chin (152) and right/left jaw
#: angle (172, 397), which drop with an open jaw (AU26/AU27) and anchor the lower face's shape.
NOSE_JAW = (1, 152, 172, 397)
#: All points of the descriptor, in output order.
DESCRIPTOR_POINTS = MOUTH + BROWS + EYES + NOSE_JAW
#: Expression distances appended after the coordinates, all in inter-ocular units except the signed
#: corner lift (see :meth:`MeshGeometryDescriptor._distances`).
DISTANCE_NAMES = (
    "mouth_open",
    "mouth_width",
    "mouth_corner_lift",
    "jaw_drop",
    "right_brow_raise",
    "left_brow_raise",
    "right_eye_open",
    "left_eye_open",
)


class MeshGeometryDescriptor:
    """Weight-free expression descriptor: selected face-mesh landmarks in a face-centred frame.

    The 28 points of :data:`DESCRIPTOR_POINTS` are moved into a frame fixed to the face: the
    origin at the midpoint of the two eye centres (each the mean of its two corners), rotated so
    the eyes are level, and divided by the inter-ocular distance. That removes the face's position,
    size and roll in the picture, so what is left is its shape, mostly expression (plus yaw and
    pitch, which 2-D coordinates cannot fully remove). Only x and y are kept: the mesh's z is
    regressed from a single image, follows head pose far more than expression, and is the noisiest
    coordinate. Eight distances that expressions change (:data:`DISTANCE_NAMES`) follow the
    56 coordinates, so a linear head need not learn differences of coordinates first. The
    eye corners sit about half an inter-ocular distance from the origin, so a present face never
    gives an all-zero row.
    """

    name = "meshgeom"
    #: Bump when the points, the frame or the distances change.
    version = "meshgeom-v1"
    dim = 2 * len(DESCRIPTOR_POINTS) + len(DISTANCE_NAMES)
    #: :class:`~sentiloc.features.face.base.FaceExtractor` hands this descriptor the ``Face`` (it reads
    #: the landmarks), not an aligned crop.
    wants_face = True

    def __call__(self, face: Face) -> np.ndarray:
        """Return the ``float32 (dim,)`` descriptor of a face carrying mesh landmarks."""
        landmarks = face.landmarks
        if landmarks is None or landmarks.shape != (MESH_POINTS, 3):
            shape = None if landmarks is None else landmarks.shape
            raise ValueError(f"MeshGeometryDescriptor needs ({MESH_POINTS}, 3) landmarks from MediapipeFaceDetector, got {shape}")
        points = self._face_frame(landmarks[:, :2].astype(np.float64))
        return np.concatenate([points[list(DESCRIPTOR_POINTS)].ravel(), self._distances(points)]).astype(np.float32)

    @staticmethod
    def _face_frame(xy: np.ndarray) -> np.ndarray:
        """All ``(468, 2)`` points with the eye midpoint at 0, eyes level and inter-ocular distance 1."""
        right_eye, left_eye = xy[[33, 133]].mean(axis=0), xy[[263, 362]].mean(axis=0)
        axis = left_eye - right_eye  # points image-right for an unmirrored frontal face
        distance = float(np.hypot(*axis))
        if not distance > 0:
            raise ValueError("MeshGeometryDescriptor: the two eye centres coincide, the landmarks are degenerate")
        cos, sin = axis / distance
        # Rotating by minus the eye line's angle levels the eyes: R = [[cos, sin], [-sin, cos]].
        rotation = np.array([[cos, sin], [-sin, cos]]) / distance
        return (xy - (right_eye + left_eye) / 2) @ rotation.T

    @staticmethod
    def _distances(p: np.ndarray) -> np.ndarray:
        """The :data:`DISTANCE_NAMES` values from face-frame points ``p`` (y grows downward).

        Opening and raise values are vertical gaps in the levelled frame (brow: middle brow point
        above the upper lid), widths are Euclidean. The corner lift is how far the mean mouth
        corner sits above the mean inner-lip centre: up in a smile, down in a frown.
        """

        def gap(upper: int, lower: int) -> float:
            return float(p[lower, 1] - p[upper, 1])

        corners_y = (p[61, 1] + p[291, 1]) / 2
        lips_y = (p[13, 1] + p[14, 1]) / 2
        return np.array(
            [
                gap(13, 14),
                float(np.hypot(*(p[291] - p[61]))),
                float(lips_y - corners_y),
                gap(1, 152),
                gap(105, 159),
                gap(334, 386),
                gap(159, 145),
                gap(386, 374),
            ]
        )


def from_settings(settings: ExtractSettings, device: str) -> FaceExtractor:
    """The face stream on MediaPipe detection.

    Without ``--face-weights`` the descriptor is :class:`MeshGeometryDescriptor`, so the detector
    fits the mesh; with them it is the user's model on the eye-levelled crop (as on the Haar
    path), which needs only the box and eyes, so the mesh is skipped.
    """
    embedder = user_embedder(settings)
    if embedder is None:
        return FaceExtractor(MediapipeFaceDetector(landmarks=True), MeshGeometryDescriptor(), settings.face_frames)
    return FaceExtractor(MediapipeFaceDetector(landmarks=False), embedder, settings.face_frames)
