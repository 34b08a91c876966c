"""Extracting one video: build its stream extractors, run them on its snippets, store the streams.

:class:`ExtractSettings` pick one registered extractor per output stream
(:mod:`sentiloc.features.streams`); :func:`build_extractors` builds them into :class:`Extractors`,
a mapping of stream name to extractor (weights load here, failing early and clearly).
:func:`extract_video` decodes the video once: every extractor that reads frames gets each snippet
in turn (so memory does not grow with the video's length), and every extractor that reads audio
gets the whole track, cut on the same snippet grid. :func:`write_extracted` stores the streams
atomically and the meta file last, so the meta file is the "done" marker that
:func:`finished_meta` reads; the meta file also records the source's :func:`source_fingerprint`,
so a video replaced under the same name is extracted again. Many videos, resumably and in
parallel: :mod:`sentiloc.features.batch`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiloc import __version__
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_save_npy, atomic_write_json, id_problem, load_json, remove_stale_temps
from sentiloc.core.progress import progress_bar
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.data import layout
from sentiloc.features.base import Extractor, StreamExtractor
from sentiloc.features.decode import iter_snippets, probe_video, read_audio
from sentiloc.features.settings import ExtractSettings
from sentiloc.features.streams import selected

META_DIR = "meta"

#: Bytes read from each end of a video for its fingerprint.
FINGERPRINT_END_BYTES = 1 << 20
#: Names the fingerprint rule in the recorded value, so a future rule never matches an old record.
FINGERPRINT_RULE = "sha256-size-first-last-1MiB"


class Extractors(dict[str, Extractor]):
    """Stream name -> the extractor built for it, in stream order; ``entries`` are their registry entries."""

    def __init__(self, built: dict[str, Extractor], entries: dict[str, StreamExtractor]) -> None:
        super().__init__(built)
        self.entries = entries

    def stream_infos(self) -> dict[str, dict]:
        """``{stream: {name, version, dim}}`` under the TSL-300 folder names."""
        return {stream: extractor.info.to_dict() for stream, extractor in self.items()}

    def reading(self, source: str) -> dict[str, Extractor]:
        """The extractors that read ``frames`` (each snippet) or ``audio`` (the whole track)."""
        return {stream: self[stream] for stream, entry in self.entries.items() if entry.reads == source}


def build_extractors(settings: ExtractSettings, device: str = "cpu") -> Extractors:
    """Instantiate the extractors ``settings`` name (weights load here, failing early and clearly).

    ``device`` only places models (a GPU makes I3D faster than real time); it does not change the
    features, so it is not part of the settings.
    """
    entries = selected(settings)
    return Extractors({stream: entry.build(settings, device) for stream, entry in entries.items()}, entries)


def video_id_for(path: Path) -> str:
    """The video id of a file: its name without the extension (must be a safe file name)."""
    video_id = Path(path).stem
    problem = id_problem(video_id)
    if problem:
        raise SentilocError(f"{path}: {problem}; rename the file")
    return video_id


def source_fingerprint(path: Path) -> str:
    """``"<rule>:<hex>"``: SHA-256 of the file's size (8 bytes, little-endian), its first MiB and its last MiB.

    Reading 2 MiB instead of the whole file keeps a rerun's skip check instant on terabytes of
    finished videos (docs/features.md, "The skip rule", has the measurements); any re-encoding,
    trim or other clip changes the container header or the ends. The file's time stamps are left
    out, so a copy (to a cluster's shared disk, say) is still recognised. A file shorter than
    2 MiB is read twice, which changes nothing.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(size.to_bytes(8, "little"))
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_END_BYTES))
        handle.seek(max(0, size - FINGERPRINT_END_BYTES))
        digest.update(handle.read(FINGERPRINT_END_BYTES))
    return f"{FINGERPRINT_RULE}:{digest.hexdigest()}"


@dataclass
class ExtractedVideo:
    """One video's streams on the snippet grid and its metadata."""

    video_id: str
    features: dict[str, np.ndarray]
    meta: dict


def _stacked(entry: StreamExtractor, outputs: list) -> tuple[np.ndarray, dict[str, list[bool]]]:
    """A frames extractor's per-snippet outputs as one array, and its presence flags under their meta key."""
    if entry.presence is None:
        return np.stack(outputs), {}
    rows, flags = zip(*outputs)
    return np.stack(rows), {entry.presence: [bool(flag) for flag in flags]}


def extract_video(path: Path, extractors: Extractors, settings: ExtractSettings, progress: bool = True) -> ExtractedVideo:
    """Decode ``path`` once and run every extractor on its snippets."""
    path = Path(path)
    video_id = video_id_for(path)
    fingerprint = source_fingerprint(path)
    probe = probe_video(path)
    on_frames = extractors.reading("frames")
    outputs: dict[str, list] = {stream: [] for stream in on_frames}
    n_frames = n_snippets = 0
    bar = progress_bar(total=probe.expected_snippets, desc=video_id, unit="snippet", enabled=progress, leave=False)
    for clip, n_real in iter_snippets(path, probe.fps, settings.short_side):
        for stream, extractor in on_frames.items():
            outputs[stream].append(extractor(clip))
        n_frames += n_real
        n_snippets += 1
        bar.update()
    bar.close()
    duration_s = n_frames / probe.fps
    samples = read_audio(path, duration_s)
    features: dict[str, np.ndarray] = {}
    presence: dict[str, list[bool]] = {}
    for stream, entry in extractors.entries.items():
        if entry.reads == "audio":
            features[stream] = extractors[stream](samples, probe.fps, n_snippets)
        else:
            features[stream], flags = _stacked(entry, outputs[stream])
            presence.update(flags)
    meta = {
        "video_id": video_id,
        "source": path.name,
        "source_bytes": path.stat().st_size,
        "source_fingerprint": fingerprint,
        "fps": probe.fps,
        "n_frames": n_frames,
        "snippet_frames": SNIPPET_FRAMES,
        "n_snippets": n_snippets,
        "duration": duration_s,
        "has_audio": probe.has_audio,
        **presence,
        "extractors": extractors.stream_infos(),
        "settings": settings.to_dict(),
        "sentiloc": __version__,
    }
    return ExtractedVideo(video_id, features, meta)


def stream_path(out: Path, stream: str, video_id: str) -> Path:
    return Path(out) / layout.FEATURES_DIR / stream / f"{video_id}.npy"


def meta_path(out: Path, video_id: str) -> Path:
    return Path(out) / META_DIR / f"{video_id}.json"


def write_extracted(out: Path, extracted: ExtractedVideo) -> None:
    """Write the streams, then the meta file (the completion marker), each atomically.

    An earlier meta file goes first, so a run killed between two streams never leaves new and old
    streams behind a marker that says "done"; temp files such a run left for this video go too.
    """
    meta = meta_path(out, extracted.video_id)
    meta.unlink(missing_ok=True)
    for stream, rows in extracted.features.items():
        remove_stale_temps(stream_path(out, stream, extracted.video_id))
        atomic_save_npy(stream_path(out, stream, extracted.video_id), rows.astype(np.float32))
    remove_stale_temps(meta)
    atomic_write_json(meta, extracted.meta)


def finished_meta(out: Path, video_id: str, source: Path | None = None) -> dict | None:
    """The meta of a completely extracted video in ``out``, or None when it must be (re)extracted.

    With ``source``, a file whose :func:`source_fingerprint` differs from the recorded one (a
    replaced or re-encoded video under the same name, or a record that has none) also needs
    extracting again. An unreadable meta file counts as unfinished.
    """
    path = meta_path(out, video_id)
    if not path.is_file() or not all(stream_path(out, s, video_id).is_file() for s in layout.DEFAULT_MODALITIES):
        return None
    try:
        meta = load_json(path, "extraction metadata")
    except SentilocError:
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("settings"), dict):
        return None
    if source is not None and meta.get("source_fingerprint") != source_fingerprint(source):
        return None
    return meta
