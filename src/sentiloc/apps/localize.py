"""``sentiloc localize`` and ``Model.localize``: video files (or their feature streams) + a checkpoint -> segments.

The features must come from the extractors the model was trained on. A checkpoint trained on a
dataset from ``sentiloc build-dataset`` records them (``extractor`` in the checkpoint), and they
are rebuilt from that record; weights files that moved can be pointed to again with
``--visual-weights``/``--face-weights``, but an extractor whose name or dims differ from the
record is refused. A checkpoint without a record (trained on released or simulated features)
is tried with the default extractors, or I3D when ``--visual-weights`` is given, and refused
when their dims do not fit.

:class:`Localizer` holds what is loaded once: the model, and from the first video on the
extractors (weights load once, for every later video). It localizes one video at a time in
memory (:meth:`Localizer.video` for a file, :meth:`Localizer.features` for streams already
extracted) and writes nothing unless given a folder to keep the extracted features in.
:func:`localize_videos` runs it over many files and, given an output folder, writes each video's
report there: ``<video>.json`` (ActivityNet style), ``<video>.csv``, ``<video>.png`` (timeline) and
``<video>.html`` (a self-contained page with a clickable timeline).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_text, csv_cell, refuse_clobber
from sentiloc.core.progress import progress_bar
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.data.dataset import VideoItem, collate, face_present_mask, subsample_to_snippets
from sentiloc.data.normalize import standardize
from sentiloc.engine.device import resolve_device
from sentiloc.engine.inference import inference_model
from sentiloc.features import require_video_stack, video_imports
from sentiloc.features.settings import ExtractSettings
from sentiloc.postprocess import activitynet_results, write_results
from sentiloc.tasks import TrainedModel, load_trained
from sentiloc.tasks.localization import VideoOutput, output_proposals, video_outputs

if TYPE_CHECKING:
    from sentiloc.features.extract import Extractors

log = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".json", ".csv", ".png", ".html")
#: The flag that gives ``localize`` the extractor of a stream it cannot rebuild from the checkpoint.
WEIGHTS_FLAGS = {"rgb": "--visual-weights FILE (the I3D weights it was trained with)",
                 "img": "--face-weights FILE (the face model it was trained with)"}


def localize_settings(record: dict | None, visual_weights: Path | None, face_weights: Path | None) -> ExtractSettings:
    """The extractor settings to localize with: the checkpoint's record, weights paths overridable."""
    if record is None:
        return ExtractSettings(visual="i3d" if visual_weights else "default",
                               visual_weights=str(visual_weights) if visual_weights else None,
                               face_weights=str(face_weights) if face_weights else None)
    settings = ExtractSettings.from_dict(record["settings"])
    values = settings.to_dict()
    if visual_weights is not None:
        values["visual_weights"] = str(visual_weights)
    if face_weights is not None:
        values["face_weights"] = str(face_weights)
    for key, flag in (("visual_weights", "--visual-weights"), ("face_weights", "--face-weights")):
        if values[key] and not Path(values[key]).exists():  # a file, or the folder of --visual clip
            raise SentilocError(f"{values[key]}: the checkpoint was trained on features extracted with these weights, "
                                f"which are not here; pass {flag} with the same weights")
    return ExtractSettings.from_dict(values)


def other_features_advice(stream: str, recorded: bool) -> str:
    """What to do when the extractor of ``stream`` gives other dims than the model was trained on."""
    if recorded:
        return "pass the weights files it was trained with (--visual-weights FILE, --face-weights FILE)"
    flag = WEIGHTS_FLAGS.get(stream)
    rebuild = "train one on a dataset from `sentiloc build-dataset`, which records its extractors"
    return f"pass {flag}, or {rebuild}" if flag else rebuild


def check_compatible(trained: TrainedModel, extractors: Extractors, checkpoint: Path) -> list[str]:
    """Refuse extractors whose streams the model cannot read (other dims, other extractor, frame-rate rows).

    Returns warnings for extractors of the same kind but another version (other weights files,
    other library releases): the features may have drifted from the training ones, which a user
    must hear about, but a library upgrade alone must not lock a model out.
    """
    infos = extractors.stream_infos()
    warnings = []
    record = trained.extras["extractor"]
    recorded = (record or {}).get("streams", {})
    for spec in trained.exp.data.modalities:
        if spec.name not in infos:
            raise SentilocError(f"{checkpoint}: the model reads a '{spec.name}' stream; extraction gives only "
                                f"{sorted(infos)}, so this checkpoint cannot localize raw videos")
        if spec.frames_per_snippet != 1:
            raise SentilocError(f"{checkpoint}: the model reads '{spec.name}' at {spec.frames_per_snippet} rows per "
                                "snippet; extraction writes one row per snippet")
        got, want = infos[spec.name], trained.dims[spec.name]
        if got["dim"] != want:
            raise SentilocError(
                f"{checkpoint}: the model expects {spec.name} features of dim {want}, but extractor "
                f"'{got['name']}' gives {got['dim']}; this model was trained on other features: "
                f"{other_features_advice(spec.name, record is not None)}")
        if spec.name in recorded and recorded[spec.name]["name"] != got["name"]:
            raise SentilocError(f"{checkpoint}: trained on {spec.name} features from '{recorded[spec.name]['name']}', "
                                f"but this run would use '{got['name']}'; pass the same weights files as in training")
        if spec.name in recorded and recorded[spec.name].get("version") != got["version"]:
            warnings.append(f"{spec.name} features: trained with {recorded[spec.name].get('version')}, extracting with "
                            f"{got['version']}; results may differ from the model's validation")
    return warnings


@dataclass(frozen=True)
class Segment:
    """One localized segment: class ``label`` (a class name of the model: ``p`` or ``n`` for TSL-300)
    from ``start_s`` to ``end_s`` seconds of the video, with the proposal's ``score`` (higher = surer)."""

    label: str
    start_s: float
    end_s: float
    score: float

    @classmethod
    def from_entry(cls, entry: Mapping) -> Segment:
        """From an ActivityNet entry ``{"label", "score", "segment": [start_s, end_s]}`` (what results files hold)."""
        try:
            start_s, end_s = entry["segment"]
            return cls(str(entry["label"]), float(start_s), float(end_s), float(entry["score"]))
        except (KeyError, TypeError, ValueError):
            raise SentilocError(f"prediction {entry!r}: expected "
                                '{"label": ..., "score": ..., "segment": [start_s, end_s]}') from None

    def to_entry(self) -> dict:
        """The ActivityNet entry of results files (``sentiloc evaluate`` reads them)."""
        return {"label": self.label, "score": self.score, "segment": [self.start_s, self.end_s]}


@dataclass
class Localized:
    """One video localized.

    Attributes:
        segments: best first.
        output: the model's tracks behind them (CAS, Global CAS, W_sent), one row per snippet.
        files: what :func:`write_report` wrote (empty when nothing was written).
    """

    video_id: str
    segments: list[Segment]
    output: VideoOutput
    duration_s: float
    files: dict[str, Path] = field(default_factory=dict)


def checked_streams(streams: Mapping[str, object], trained: TrainedModel, video_id: str) -> dict[str, np.ndarray]:
    """``streams`` as the model reads them: float32 ``(T, dim)`` per stream on one snippet grid.

    Streams given at frame rate (a ``rgb:16`` modality) are subsampled as datasets are; streams
    may differ by ``data.length_tolerance`` snippets and are trimmed to the shortest.
    """
    rows: dict[str, np.ndarray] = {}
    for spec in trained.exp.data.modalities:
        if spec.name not in streams:
            names = [s.name for s in trained.exp.data.modalities]
            raise SentilocError(f"{video_id}: the model reads the streams {names}; '{spec.name}' is missing from the "
                                f"features given ({sorted(streams)})")
        array = np.asarray(streams[spec.name], dtype=np.float32)
        want = trained.dims[spec.name]
        if array.ndim != 2 or array.shape[1] != want or not np.isfinite(array).all():
            raise SentilocError(f"{video_id}: '{spec.name}' features must be a finite (snippets, {want}) array, "
                                f"got shape {array.shape}; use the extractor the model was trained with")
        rows[spec.name] = subsample_to_snippets(array, spec.frames_per_snippet)
    lengths = {name: len(array) for name, array in rows.items()}
    if max(lengths.values()) - min(lengths.values()) > trained.exp.data.length_tolerance or not min(lengths.values()):
        raise SentilocError(f"{video_id}: stream lengths {lengths} (snippets) are empty or disagree by more than "
                            f"{trained.exp.data.length_tolerance}; give streams of one video")
    length = min(lengths.values())
    return {name: array[:length] for name, array in rows.items()}


class Localizer:
    """A checkpoint ready to localize videos: the model loaded once, the extractors built once on first use.

    Args:
        checkpoint: ``RUN/best.pt`` (or any checkpoint ``sentiloc train`` wrote).
        device: ``cpu`` or ``cuda``.
        visual_weights, face_weights: the weights files the features were extracted with, when
            the checkpoint's record points to files that moved (or it has no record).
        postprocess: ``postprocess.KEY=VALUE`` overrides of how outputs become segments.
    """

    def __init__(self, checkpoint: Path, device: str = "cpu", visual_weights: Path | None = None,
                 face_weights: Path | None = None, postprocess: Sequence[str] = ()) -> None:
        self.checkpoint = Path(checkpoint)
        self.device = resolve_device(device)
        self.trained = load_trained(self.checkpoint, self.device, postprocess)
        self.model = inference_model(self.trained.model, self.device, self.trained.exp.train.amp)
        self.weights = (visual_weights, face_weights)
        self._extraction: tuple[ExtractSettings, Extractors] | None = None

    def extraction(self) -> tuple[ExtractSettings, Extractors]:
        """The extractor settings and extractors, built and checked against the model on the first call."""
        if self._extraction is None:
            require_video_stack("localizing a video file")
            with video_imports("localizing a video file"):
                from sentiloc.features.extract import build_extractors
            settings = localize_settings(self.trained.extras["extractor"], *self.weights)
            extractors = build_extractors(settings, str(self.device))
            for warning in check_compatible(self.trained, extractors, self.checkpoint):
                log.warning(warning)
            self._extraction = settings, extractors
        return self._extraction

    def streams(self, video: Path, cache: Path | None = None, overwrite: bool = False,
                progress: bool = True) -> tuple[dict[str, np.ndarray], dict]:
        """``video``'s feature streams and extraction meta (``fps``, ``duration`` in s, ...).

        Extracted in memory; with ``cache`` (an extraction folder, as ``sentiloc extract --out``
        writes) an earlier extraction of the same file with the same settings is read back, and a
        new one is written there (all of it again with ``overwrite``).
        """
        settings, extractors = self.extraction()
        from sentiloc.features.extract import extract_video, finished_meta, stream_path, video_id_for, write_extracted

        meta = None if cache is None or overwrite else finished_meta(cache, video_id_for(video), video)
        if meta is not None and meta.get("settings") == settings.to_dict():
            return {name: np.load(stream_path(cache, name, meta["video_id"])) for name in meta["extractors"]}, meta
        extracted = extract_video(video, extractors, settings, progress)
        if cache is not None:
            write_extracted(cache, extracted)
        return extracted.features, extracted.meta

    def features(self, streams: Mapping[str, object], fps: float, video_id: str = "video",
                 duration_s: float | None = None) -> Localized:
        """Localize from feature streams ``{stream: (snippets, dim) array}`` of a video at ``fps`` frames/s.

        One row per snippet of 16 native frames (``rgb``, ``logmfcc``, ``img`` for TSL-300
        features); all-zero ``img`` rows mean "no face". Segments are clipped to ``duration_s``
        (the video's length in seconds; by default the snippets' span, which can pass the end of
        the video by up to 15 frames). Nothing is written.
        """
        trained = self.trained
        rows = checked_streams(streams, trained, video_id)
        face_present = face_present_mask(rows, trained.exp.data.face)
        if trained.extras["stats"] is not None:
            rows = standardize(rows, face_present, trained.extras["stats"], trained.exp.data.face)
        batch = collate([VideoItem(video_id, float(fps), rows, face_present, None)], len(trained.classes))
        post = trained.exp.postprocess
        output = next(video_outputs(self.model, [batch], self.device, trained.exp.train.amp,
                                    cas_only=post.cas_source == "cas"))
        length_s = len(face_present) * SNIPPET_FRAMES / float(fps) if duration_s is None else float(duration_s)
        proposals, _ = output_proposals(output, post, trained.classes, trained.model.cfg.r_act, length_s)
        entries = activitynet_results({video_id: proposals})["results"][video_id]
        segments = sorted((Segment.from_entry(entry) for entry in entries), key=lambda seg: -seg.score)
        return Localized(video_id, segments, output, length_s)

    def video(self, path: Path, cache: Path | None = None, overwrite: bool = False,
              progress: bool = True) -> Localized:
        """Localize the video file ``path`` (features extracted as :meth:`streams` says)."""
        streams, meta = self.streams(Path(path), cache, overwrite, progress)
        return self.features(streams, meta["fps"], meta["video_id"], meta["duration"])


def video_files(inputs: Sequence[Path]) -> dict[str, Path]:
    """``{video id: file}`` of video files and folders (a folder gives its video files, sorted).

    Two files that would share an id (``a.mp4`` and ``a.mov``) are refused: their outputs would collide.
    """
    with video_imports("localizing a video file"):
        from sentiloc.features.batch import expand_inputs, unique_ids
    return unique_ids(expand_inputs([Path(item) for item in inputs]))


def report_files(out: Path, video_id: str) -> dict[str, Path]:
    """``{json, csv, png, html}`` -> the report files of ``video_id`` in ``out``."""
    return {suffix[1:]: Path(out) / f"{video_id}{suffix}" for suffix in OUTPUT_SUFFIXES}


def refuse_clobbered_reports(out: Path, video_ids: Sequence[str], overwrite: bool) -> None:
    """Refuse, before any work, when a report file of one of ``video_ids`` exists in ``out`` and not ``overwrite``."""
    for video_id in video_ids:
        for path in report_files(out, video_id).values():
            refuse_clobber(path, overwrite)


def segments_csv(segments: Sequence[Segment]) -> str:
    """``label,start_s,end_s,score`` rows (ms precision for times), in the order given.

    Labels are class names from the user's data, so one that reads as a spreadsheet formula is quoted.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "start_s", "end_s", "score"])
    for seg in segments:
        writer.writerow([csv_cell(seg.label), f"{seg.start_s:.3f}", f"{seg.end_s:.3f}", f"{seg.score:.6f}"])
    return buffer.getvalue()


def write_report(result: Localized, video: Path | None, out: Path, classes: Sequence[str], top: int = 10,
                 note: str = "", overwrite: bool = False) -> dict[str, Path]:
    """Write ``result``'s JSON, CSV and timeline PNG into ``out``, and with the ``video`` file its HTML page.

    The plot shows the ``top`` best segments of each class, the page the ``top`` best overall; the
    JSON and CSV hold all of them.
    """
    from sentiloc.viz.report import write_html_report
    from sentiloc.viz.timeline import plot_timeline

    files = report_files(out, result.video_id)
    if video is None:
        del files["html"]
    entries = [seg.to_entry() for seg in result.segments]
    output = result.output
    write_results(files["json"], activitynet_results({result.video_id: entries}), overwrite=overwrite)
    atomic_write_text(files["csv"], segments_csv(result.segments))
    plot_timeline(files["png"], result.video_id, output.fps, output.cas, classes, w_sent=output.w_sent,
                  global_cas=output.global_cas, predictions=entries, top_k=top, duration_s=result.duration_s)
    if video is not None:
        write_html_report(files["html"], video, result.video_id, result.duration_s, entries[:top], files["png"],
                          note=f"top {min(top, len(entries))} of {len(entries)} segments; {note}", classes=classes)
    result.files = files
    return files


def localize_videos(localizer: Localizer, videos: Mapping[str, Path], out: Path | None = None,
                    overwrite: bool = False, top: int = 10, progress: bool = True,
                    keep_going: bool = False) -> tuple[dict[str, Localized], dict[str, str]]:
    """Localize every ``{video id: file}`` in turn, reusing one set of extractors.

    With ``out``, each video's report is written there and its features kept there (a rerun
    reuses them); every report file is checked for clobbering before any video is read. With
    ``keep_going``, a video that fails with a user error (an unreadable file) is reported in the
    second dict and the others go on; otherwise the error is raised.
    """
    if out is not None:
        refuse_clobbered_reports(out, list(videos), overwrite)
    done: dict[str, Localized] = {}
    failed: dict[str, str] = {}
    name = localizer.checkpoint.name
    for video_id, path in progress_bar(videos.items(), enabled=progress and len(videos) > 1, desc="videos",
                                       unit="video"):
        try:
            result = localizer.video(path, cache=out, overwrite=overwrite, progress=progress)
        except SentilocError as exc:
            if not keep_going:
                raise
            failed[video_id] = str(exc)
            continue
        log.info("%s: %d segments", video_id, len(result.segments))
        if out is not None:
            features = ", ".join(info["name"] for info in localizer.extraction()[1].stream_infos().values())
            write_report(result, path, out, localizer.trained.classes, top, f"model {name}; features {features}",
                         overwrite)
        done[video_id] = result
    return done, failed
