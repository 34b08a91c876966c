"""The stream extractors: what can fill each output stream, by the setting that picks it.

Each output stream is filled by one extractor, chosen by one field of
:class:`~sentiloc.features.settings.ExtractSettings`:

* ``rgb`` by ``visual``: ``default`` (:mod:`.colour_motion`), ``i3d`` (:mod:`.i3d`) or ``clip``
  (:mod:`.clip`);
* ``logmfcc`` by ``audio``: ``logmel`` (:mod:`.logmel`) or ``egemaps`` (:mod:`.egemaps`);
* ``img`` by ``face_detector``: ``haar`` or ``mediapipe`` (registered in :mod:`sentiloc.features.face`).

The choices of an option are the entries of its registry (:data:`EXTRACTOR_OPTIONS`); each entry
(:class:`~sentiloc.features.base.StreamExtractor`) says which stream it fills, how to build it
from the settings and which settings it refuses. Entries are deferred, so importing this package
loads none of the extractors' libraries: the command line lists its choices from here. Adding
an extractor is a module with ``from_settings(settings, device)`` and one
:func:`register_stream_extractor` call below; extraction itself does not change (see
docs/features.md).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from sentiloc.core.errors import SentilocError
from sentiloc.core.registry import Registry
from sentiloc.features.base import AUDIO, RGB, StreamExtractor, deferred
from sentiloc.features.face import FACE_DETECTORS

if TYPE_CHECKING:
    from sentiloc.features.settings import ExtractSettings

VISUAL_EXTRACTORS: Registry[StreamExtractor] = Registry("visual extractor", "--visual")
AUDIO_EXTRACTORS: Registry[StreamExtractor] = Registry("audio extractor", "--audio")
#: ExtractSettings field -> the registry of the extractors it picks from, in stream order.
EXTRACTOR_OPTIONS: dict[str, Registry[StreamExtractor]] = {
    "visual": VISUAL_EXTRACTORS,
    "audio": AUDIO_EXTRACTORS,
    "face_detector": FACE_DETECTORS,
}


def register_stream_extractor(entry: StreamExtractor) -> StreamExtractor:
    """Add ``entry`` to the registry of its option, under its choice."""
    return EXTRACTOR_OPTIONS[entry.option].register(entry.choice)(entry)


def selected(settings: ExtractSettings) -> dict[str, StreamExtractor]:
    """``{stream: entry}`` of the extractors ``settings`` pick, in stream order."""
    entries = (registry.get(getattr(settings, option)) for option, registry in EXTRACTOR_OPTIONS.items())
    return {entry.stream: entry for entry in entries}


def _takes_no_weights(settings: ExtractSettings) -> None:
    if settings.visual_weights:
        raise SentilocError("--visual-weights (--clip-weights) is only used with --visual i3d or --visual clip")


def _i3d_inputs(settings: ExtractSettings) -> None:
    if not settings.visual_weights:
        raise SentilocError("--visual i3d needs --visual-weights FILE (pytorch-i3d's rgb_imagenet.pt); "
                            "nothing is downloaded, or use --visual default")
    if settings.short_side < 224:
        raise SentilocError("--visual i3d reads 224x224 crops: --short-side must be at least 224")


#: The flag ``--visual clip`` reads its CLIP folder from (an alias of ``--visual-weights``).
CLIP_OPTION = "--clip-weights"
#: The error of ``--visual clip`` without transformers.
CLIP_NEEDS_TRANSFORMERS = "--visual clip needs transformers: pip install 'sentiloc[text]'"
#: Frames of each snippet ``--visual clip`` embeds (see :mod:`.clip`).
CLIP_FRAMES_PER_SNIPPET = 4


def _clip_inputs(settings: ExtractSettings) -> None:
    if not settings.visual_weights:
        raise SentilocError(f"--visual clip needs {CLIP_OPTION} FOLDER, a local transformers CLIP checkpoint "
                            "(config.json and weights); nothing is downloaded, or use --visual default")
    if find_spec("transformers") is None:
        raise SentilocError(CLIP_NEEDS_TRANSFORMERS)


def _module(name: str) -> str:
    return f"{__name__}.{name}"


register_stream_extractor(StreamExtractor(
    stream=RGB, option="visual", choice="default", build=deferred(_module("colour_motion"), "from_settings"),
    summary="the weight-free colour-motion descriptor", check=_takes_no_weights))
register_stream_extractor(StreamExtractor(
    stream=RGB, option="visual", choice="i3d", build=deferred(_module("i3d"), "from_settings"),
    summary="Inception-I3D RGB (1024-d, the TSL-300 convention), needs --visual-weights", check=_i3d_inputs))
register_stream_extractor(StreamExtractor(
    stream=RGB, option="visual", choice="clip", build=deferred(_module("clip"), "from_settings"),
    summary=f"CLIP image embeddings (unit, projection_dim wide, the mean of {CLIP_FRAMES_PER_SNIPPET} frames per "
    "snippet; TG-DFER's frames), needs --clip-weights", check=_clip_inputs))
register_stream_extractor(StreamExtractor(
    stream=AUDIO, option="audio", choice="logmel", build=deferred(_module("logmel"), "from_settings"),
    summary="32x60 log-mel blocks per snippet (the TSL-300 convention)", reads="audio"))
register_stream_extractor(StreamExtractor(
    stream=AUDIO, option="audio", choice="egemaps", build=deferred(_module("egemaps"), "from_settings"),
    summary="the 88 eGeMAPS affect functionals per snippet (needs `pip install opensmile`)", reads="audio"))

#: The choices of ``--visual``, ``--audio`` and ``--face-detector``, for the command line.
VISUAL_CHOICES = tuple(VISUAL_EXTRACTORS.names())
AUDIO_CHOICES = tuple(AUDIO_EXTRACTORS.names())
FACE_DETECTOR_CHOICES = tuple(FACE_DETECTORS.names())
