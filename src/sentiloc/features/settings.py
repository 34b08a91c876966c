"""What decides the features: the extractor settings, stored with every extracted video and checkpoint.

Three fields pick one registered extractor each (``visual`` the ``rgb`` stream's, ``audio`` the
``logmfcc`` stream's, ``face_detector`` the ``img`` stream's; see :mod:`sentiloc.features.streams`),
the others configure them. The settings are checked when they are made, against the registries and
each chosen extractor's own ``check``, so a bad combination fails before anything is decoded.
Importing this module loads no extractor code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.streams import selected


@dataclass(frozen=True)
class ExtractSettings:
    """Everything that decides what the features are; stored with them and in checkpoints."""

    visual: str = "default"
    visual_weights: str | None = None
    audio: str = "logmel"
    face_detector: str = "haar"
    face_weights: str | None = None
    face_frames: int = 2
    short_side: int = 256

    def __post_init__(self) -> None:
        entries = selected(self)  # an unknown choice is an error listing the known ones
        if not 1 <= self.face_frames <= SNIPPET_FRAMES:
            raise SentilocError(f"--face-frames {self.face_frames}: between 1 and {SNIPPET_FRAMES}")
        if self.short_side < 64:
            raise SentilocError(f"--short-side {self.short_side}: at least 64 pixels")
        for entry in entries.values():
            entry.check(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ExtractSettings:
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        return cls(**known)
