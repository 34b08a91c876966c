"""``sentiloc localize``: one video file + a checkpoint -> segments, CSV, timeline PNG and an HTML page.

The features must come from the extractors the model was trained on. A checkpoint trained on a
dataset from ``sentiloc build-dataset`` records them (``extractor`` in the checkpoint), and they
are rebuilt from that record; weights files that moved can be pointed to again with
``--visual-weights``/``--face-weights``, but an extractor whose name or dims differ from the
record is refused. A checkpoint without a record (trained on released or simulated features)
is tried with the extractors named on the command line, and refused when their dims do not fit.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_write_text, refuse_clobber
from sentiloc.data.dataset import VideoItem, collate, face_present_mask
from sentiloc.data.normalize import standardize
from sentiloc.engine.device import resolve_device
from sentiloc.engine.inference import inference_model
from sentiloc.features.extract import (
    Extractors,
    ExtractSettings,
    build_extractors,
    extract_video,
    finished_meta,
    stream_path,
    video_id_for,
    write_extracted,
)
from sentiloc.postprocess import activitynet_results, video_proposals, write_results
from sentiloc.tasks import TrainedModel, load_trained
from sentiloc.tasks.localization import video_outputs
from sentiloc.viz.report import write_html_report
from sentiloc.viz.timeline import plot_timeline

OUTPUT_SUFFIXES = (".json", ".csv", ".png", ".html")


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
        if values[key] and not Path(values[key]).is_file():
            raise SentilocError(f"{values[key]}: the checkpoint was trained on features extracted with this weights "
                                f"file, which is not here; pass {flag} FILE with the same weights")
    return ExtractSettings.from_dict(values)


def check_compatible(trained: TrainedModel, extractors: Extractors, checkpoint: Path) -> list[str]:
    """Refuse extractors whose streams the model cannot read (other dims, other extractor, frame-rate rows).

    Returns warnings for extractors of the same kind but another version (other weights files,
    other library releases): the features may have drifted from the training ones, which a user
    must hear about, but a library upgrade alone must not lock a model out.
    """
    infos = extractors.stream_infos()
    warnings = []
    recorded = (trained.extras["extractor"] or {}).get("streams", {})
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
                f"'{got['name']}' gives {got['dim']}; this model was trained on other features — train one on a "
                "dataset from `sentiloc build-dataset`, or pass the extractor it was trained with "
                "(--visual i3d --visual-weights FILE, --face-weights FILE)")
        if spec.name in recorded and recorded[spec.name]["name"] != got["name"]:
            raise SentilocError(f"{checkpoint}: trained on {spec.name} features from '{recorded[spec.name]['name']}', "
                                f"but this run would use '{got['name']}'; pass the same weights files as in training")
        if spec.name in recorded and recorded[spec.name].get("version") != got["version"]:
            warnings.append(f"{spec.name} features: trained with {recorded[spec.name].get('version')}, extracting with "
                            f"{got['version']}; results may differ from the model's validation")
    return warnings


def load_features(out: Path, video: Path, extractors: Extractors, settings: ExtractSettings,
                  overwrite: bool, progress: bool) -> dict:
    """Extract ``video`` into ``out`` (reusing an earlier extraction with the same settings); its meta."""
    video_id = video_id_for(video)
    meta = None if overwrite else finished_meta(out, video_id, video)
    if meta is None or meta.get("settings") != settings.to_dict():
        write_extracted(out, extract_video(video, extractors, settings, progress))
        meta = finished_meta(out, video_id)
    return meta


@dataclass
class Localized:
    """What :func:`localize` wrote, and the segments (ActivityNet entries, best first)."""

    video_id: str
    segments: list[dict]
    files: dict[str, Path]
    warnings: list[str]


def segments_csv(segments: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["label", "start_s", "end_s", "score"])
    for seg in segments:
        writer.writerow([seg["label"], f"{seg['segment'][0]:.3f}", f"{seg['segment'][1]:.3f}", f"{seg['score']:.6f}"])
    return buffer.getvalue()


def localize(
    video: Path, checkpoint: Path, out: Path, overwrite: bool = False, device: str = "cpu",
    visual_weights: Path | None = None, face_weights: Path | None = None, top: int = 10, progress: bool = True,
) -> Localized:
    """Localize sentiment in ``video``; writes ``OUT/<video>.{json,csv,png,html}`` and the features."""
    video, out = Path(video), Path(out)
    video_id = video_id_for(video)
    files = {suffix[1:]: out / f"{video_id}{suffix}" for suffix in OUTPUT_SUFFIXES}
    for path in files.values():
        refuse_clobber(path, overwrite)
    torch_device = resolve_device(device)
    trained = load_trained(checkpoint, torch_device)
    settings = localize_settings(trained.extras["extractor"], visual_weights, face_weights)
    extractors = build_extractors(settings, device)
    warnings = check_compatible(trained, extractors, checkpoint)
    meta = load_features(out, video, extractors, settings, overwrite, progress)
    names = [spec.name for spec in trained.exp.data.modalities]
    streams = {name: np.load(stream_path(out, name, video_id)) for name in names}
    face_present = face_present_mask(streams, trained.exp.data.face)
    stats = trained.extras["stats"]
    if stats is not None:
        streams = standardize(streams, face_present, stats, trained.exp.data.face)
    batch = collate([VideoItem(video_id, meta["fps"], streams, face_present, None)], len(trained.classes))
    model = inference_model(trained.model, torch_device, trained.exp.train.amp)
    output = next(video_outputs(model, [batch], torch_device, trained.exp.train.amp))
    proposals = video_proposals(output.cas, output.video_scores, output.fps, trained.exp.postprocess, trained.classes)
    results = activitynet_results({video_id: proposals})
    segments = sorted(results["results"][video_id], key=lambda seg: -seg["score"])
    write_results(files["json"], results, overwrite=overwrite)
    atomic_write_text(files["csv"], segments_csv(segments))
    plot_timeline(files["png"], video_id, output.fps, output.cas, trained.classes, w_sent=output.w_sent,
                  global_cas=output.global_cas, predictions=segments, top_k=top)
    write_html_report(files["html"], video, video_id, meta["duration"], segments[:top], files["png"],
                      note=f"top {min(top, len(segments))} of {len(segments)} segments; model {Path(checkpoint).name}; "
                           f"features {', '.join(stream['name'] for stream in meta['extractors'].values())}")
    return Localized(video_id, segments, files, warnings)
