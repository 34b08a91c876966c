"""``sentiloc extract``: video files -> ``features/{rgb,logmfcc,img}/<video>.npy`` + ``meta/<video>.json``.

One pass over each video's frames feeds the visual and face extractors snippet by snippet (so
memory does not grow with the video's length); the audio is decoded separately and cut on the
same snippet grid. Each video's outputs are written atomically and its meta file last, so the meta
file is the "done" marker: a rerun after a crash skips exactly the videos that finished (with the
same settings), and a video that cannot be read is reported without stopping the others.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sentiloc import __version__
from sentiloc.data import layout
from sentiloc.core.errors import SentilocError
from sentiloc.features.audio import LogMelExtractor
from sentiloc.features.base import (
    AUDIO_CHOICES,
    FACE_DETECTOR_CHOICES,
    SNIPPET_FRAMES,
    VISUAL_CHOICES,
    AudioExtractor,
    ClipExtractor,
    FaceClipExtractor,
)
from sentiloc.features.decode import AUDIO_RATE, iter_snippets, probe_video, read_audio
from sentiloc.core.io import atomic_save_npy, atomic_write_json, id_problem, load_json

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts")
META_DIR = "meta"
RGB, AUDIO, FACE = layout.DEFAULT_MODALITIES


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
        for flag, value, choices in (("--visual", self.visual, VISUAL_CHOICES), ("--audio", self.audio, AUDIO_CHOICES),
                                     ("--face-detector", self.face_detector, FACE_DETECTOR_CHOICES)):
            if value not in choices:
                raise SentilocError(f"{flag} {value!r}: choose one of {', '.join(choices)}")
        if self.visual == "i3d" and not self.visual_weights:
            raise SentilocError("--visual i3d needs --visual-weights FILE (pytorch-i3d's rgb_imagenet.pt); "
                                "nothing is downloaded, or use --visual default")
        if self.visual == "default" and self.visual_weights:
            raise SentilocError("--visual-weights is only used with --visual i3d")
        if not 1 <= self.face_frames <= SNIPPET_FRAMES:
            raise SentilocError(f"--face-frames {self.face_frames}: between 1 and {SNIPPET_FRAMES}")
        if self.short_side < 64:
            raise SentilocError(f"--short-side {self.short_side}: at least 64 pixels")
        if self.visual == "i3d" and self.short_side < 224:
            raise SentilocError("--visual i3d reads 224x224 crops: --short-side must be at least 224")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ExtractSettings":
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        return cls(**known)


@dataclass
class Extractors:
    """The three stream extractors built from one :class:`ExtractSettings`."""

    visual: ClipExtractor
    audio: AudioExtractor
    face: FaceClipExtractor

    def stream_infos(self) -> dict[str, dict]:
        """``{stream: {name, version, dim}}`` under the TSL-300 folder names."""
        return {RGB: self.visual.info.to_dict(), AUDIO: self.audio.info.to_dict(), FACE: self.face.info.to_dict()}

    def dims(self) -> dict[str, int]:
        return {RGB: self.visual.info.dim, AUDIO: self.audio.info.dim, FACE: self.face.info.dim}


def build_extractors(settings: ExtractSettings, device: str = "cpu") -> Extractors:
    """Instantiate the extractors ``settings`` name (weights load here, failing early and clearly).

    ``device`` only places I3D (a GPU makes it faster than real time); it does not change the
    features, so it is not part of the settings.
    """
    from sentiloc.features.face import build_face_extractor

    if settings.visual == "i3d":
        from sentiloc.features.i3d import I3DExtractor

        visual: ClipExtractor = I3DExtractor(Path(settings.visual_weights), device)
    else:
        from sentiloc.features.visual import ColourMotionExtractor

        visual = ColourMotionExtractor()
    if settings.audio == "egemaps":
        from sentiloc.features.egemaps import EGeMAPSExtractor

        audio: AudioExtractor = EGeMAPSExtractor(AUDIO_RATE)
    else:
        audio = LogMelExtractor(AUDIO_RATE)
    face_weights = Path(settings.face_weights) if settings.face_weights else None
    return Extractors(visual, audio, build_face_extractor(face_weights, settings.face_frames, settings.face_detector))


def video_id_for(path: Path) -> str:
    """The video id of a file: its name without the extension (must be a safe file name)."""
    video_id = Path(path).stem
    problem = id_problem(video_id)
    if problem:
        raise SentilocError(f"{path}: {problem}; rename the file")
    return video_id


@dataclass
class ExtractedVideo:
    """One video's three streams on the snippet grid and its metadata."""

    video_id: str
    features: dict[str, np.ndarray]
    meta: dict


def extract_video(path: Path, extractors: Extractors, settings: ExtractSettings, progress: bool = True) -> ExtractedVideo:
    """Decode ``path`` once and run every extractor on its snippets."""
    path = Path(path)
    video_id = video_id_for(path)
    probe = probe_video(path)
    visual_rows, face_rows, face_present = [], [], []
    n_frames = 0
    bar = tqdm(total=probe.expected_snippets, desc=video_id, unit="snippet", disable=not progress, leave=False)
    for clip, n_real in iter_snippets(path, probe.fps, settings.short_side):
        visual_rows.append(extractors.visual(clip))
        row, present = extractors.face(clip)
        face_rows.append(row)
        face_present.append(bool(present))
        n_frames += n_real
        bar.update()
    bar.close()
    n_snippets = len(visual_rows)
    duration_s = n_frames / probe.fps
    audio = extractors.audio(read_audio(path, duration_s), probe.fps, n_snippets)
    features = {RGB: np.stack(visual_rows), AUDIO: audio, FACE: np.stack(face_rows)}
    meta = {
        "video_id": video_id,
        "source": path.name,
        "source_bytes": path.stat().st_size,
        "fps": probe.fps,
        "n_frames": n_frames,
        "snippet_frames": SNIPPET_FRAMES,
        "n_snippets": n_snippets,
        "duration": duration_s,
        "has_audio": probe.has_audio,
        "face_present": face_present,
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
    streams behind a marker that says "done".
    """
    meta_path(out, extracted.video_id).unlink(missing_ok=True)
    for stream, rows in extracted.features.items():
        atomic_save_npy(stream_path(out, stream, extracted.video_id), rows.astype(np.float32))
    atomic_write_json(meta_path(out, extracted.video_id), extracted.meta)


def finished_meta(out: Path, video_id: str, source: Path | None = None) -> dict | None:
    """The meta of a completely extracted video in ``out``, or None when it must be (re)extracted.

    With ``source``, a file of another size than the one extracted (a replaced or re-encoded video
    under the same name) also needs extracting again. An unreadable meta file counts as unfinished.
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
    if source is not None and meta.get("source_bytes") != Path(source).stat().st_size:
        return None
    return meta


@dataclass
class ExtractReport:
    """What a run of :func:`extract_videos` did, per video id."""

    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"extracted {len(self.extracted)}, skipped {len(self.skipped)} (already done), failed {len(self.failed)}"]
        lines += [f"  FAILED {video}: {message}" for video, message in self.failed.items()]
        return "\n".join(lines)


def unique_ids(paths: Sequence[Path]) -> dict[str, Path]:
    """``{video id: file}``, refusing two files that would share an id (``a.mp4`` and ``a.mov``)."""
    ids: dict[str, Path] = {}
    for path in paths:
        video_id = video_id_for(path)
        if video_id in ids:
            raise SentilocError(f"{path} and {ids[video_id]}: both would be video {video_id!r}; rename one")
        ids[video_id] = Path(path)
    return ids


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Video files from files and folders (a folder contributes its video files, sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            # dot-files (macOS ``._clip.mp4`` resource forks, editor temp files) are not videos
            found = sorted(p for p in item.iterdir()
                           if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file() and not p.name.startswith("."))
            if not found:
                raise SentilocError(f"{item}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            paths.extend(found)
        elif item.exists():
            paths.append(item)
        else:
            raise SentilocError(f"{item}: no such file or folder")
    return paths


def failure_message(path: Path, exc: Exception) -> str:
    """A user error's own message; anything else named by type, since it is a bug to report."""
    if isinstance(exc, SentilocError):
        return str(exc)
    if isinstance(exc, futures.process.BrokenProcessPool):
        return (f"{path}: a worker process died (out of memory?) before this video finished; rerun with fewer "
                "--workers (finished videos are kept)")
    return f"{path}: unexpected {type(exc).__name__}: {exc} (please report this with the file's codec details)"


_WORKER_EXTRACTORS: Extractors | None = None


def _init_worker(settings: ExtractSettings, device: str) -> None:
    import torch

    global _WORKER_EXTRACTORS
    torch.set_num_threads(1)
    _WORKER_EXTRACTORS = build_extractors(settings, device)


def _extract_in_worker(path: Path, out: Path, settings: ExtractSettings) -> None:
    assert _WORKER_EXTRACTORS is not None
    write_extracted(out, extract_video(path, _WORKER_EXTRACTORS, settings, progress=False))


def extract_videos(
    inputs: Sequence[Path], out: Path, settings: ExtractSettings, workers: int = 1,
    overwrite: bool = False, progress: bool = True, device: str = "cpu",
) -> ExtractReport:
    """Extract every video of ``inputs`` into ``out``; see the module docstring for the guarantees."""
    out = Path(out)
    ids = unique_ids(expand_inputs(inputs))
    report = ExtractReport()
    todo: dict[str, Path] = {}
    for video_id, path in ids.items():
        meta = None if overwrite else finished_meta(out, video_id, path)
        if meta is None:
            todo[video_id] = path
        elif meta.get("settings") != settings.to_dict():
            report.failed[video_id] = (f"{meta_path(out, video_id)} was extracted with other settings "
                                       f"({meta.get('settings')}); pass --overwrite to re-extract")
        else:
            report.skipped.append(video_id)
    if not todo:
        return report
    if workers <= 1:
        extractors = build_extractors(settings, device)
        for video_id, path in tqdm(todo.items(), desc="videos", unit="video", disable=not progress or len(todo) == 1):
            try:
                write_extracted(out, extract_video(path, extractors, settings, progress))
                report.extracted.append(video_id)
            except Exception as exc:  # one bad file must not stop a long batch; see failure_message
                report.failed[video_id] = failure_message(path, exc)
        return report
    build_extractors(settings, device)  # fail on bad weights here, once, not in every worker
    context = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                     initargs=(settings, device)) as pool:
        jobs = {pool.submit(_extract_in_worker, path, out, settings): video_id for video_id, path in todo.items()}
        for job in tqdm(futures.as_completed(jobs), total=len(jobs), desc="videos", unit="video", disable=not progress):
            video_id = jobs[job]
            try:
                job.result()
                report.extracted.append(video_id)
            except Exception as exc:  # as above; a dead worker fails the videos still queued (rerun resumes)
                report.failed[video_id] = failure_message(todo[video_id], exc)
    return report
