"""The Python API, re-exported at the top of the package: ``sentiloc.load_config``, ``sentiloc.train``,
``sentiloc.load_model`` (-> :class:`Model`, whose ``localize`` and ``predict`` return segments in
memory) and ``sentiloc.evaluate``.

The same steps as the command line, without files in between unless asked: bad input raises
:class:`~sentiloc.core.errors.SentilocError` with a one-line message naming the file or key and the
fix. ``import sentiloc`` loads none of this: the package root imports this module on the first use
of one of its names, and the feature extractors load with the first video file. Examples: docs/api.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from sentiloc.apps.localize import (
    Localizer,
    Segment,
    localize_videos,
    video_files,
    write_report,
)
from sentiloc.core.config import apply_overrides
from sentiloc.core.config import load_config as _load_yaml
from sentiloc.core.errors import SentilocError

PathLike = Union[str, "os.PathLike[str]"]


def load_config(path_or_name: PathLike, overrides: Mapping[str, Any] | Sequence[str] = ()) -> dict[str, Any]:
    """A config as a dict: a YAML file or a shipped name (``fsenet_point``, ``ablations/no_gsp``), with overrides.

    Args:
        path_or_name: a YAML path, or the name of a config the package ships.
        overrides: ``{"train.lr": 3e-4, "train.epochs": 2}`` (values as they are) or
            ``["train.lr=3e-4"]`` (``--set`` texts, values parsed as YAML).

    The result is checked as ``train`` checks it (every section's keys and value types, the
    model's options, the model/objective fit), so a typo fails here, naming the key.
    """
    from sentiloc.apps.train import check_config

    config = apply_overrides(_load_yaml(path_or_name), overrides)
    check_config(config)
    return config


@dataclass(frozen=True)
class Run:
    """A training run on disk: ``folder`` holds ``best.pt``, ``last.pt``, ``config.yaml``, ``summary.json``.

    ``summary`` has ``epochs_done``, ``metric`` (the validation metric that picks ``best.pt``),
    ``best`` (``{metric: value, "epoch": n}``) and the per-epoch ``history``.
    """

    folder: Path
    summary: dict[str, Any]

    @property
    def checkpoint(self) -> Path:
        """``best.pt``: the epoch with the best validation score (never chosen on the test split)."""
        return self.folder / "best.pt"


def train(
    config: Mapping[str, Any] | PathLike | None,
    data: PathLike,
    out: PathLike,
    *,
    epochs: int | None = None,
    seed: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    stop_after: int | None = None,
    progress: bool = True,
) -> Run:
    """Train on the TSL-300-layout dataset ``data`` into the run folder ``out``; the :class:`Run`.

    Args:
        config: a dict from :func:`load_config`, or a YAML path / shipped name; ``None`` with
            ``resume`` (the run's own config is used).
        epochs: override ``train.epochs`` (with ``resume``: extend the run to this many).
        seed: override ``train.seed``.
        resume: continue ``out/last.pt``.
        overwrite: train into a non-empty ``out`` (refused otherwise).
        stop_after: stop after this many epochs of this call (continue later with ``resume``).
        progress: allow the epoch bar (drawn only on a terminal).
    """
    from sentiloc.apps.train import train as train_run

    if config is not None and not isinstance(config, Mapping):
        config = load_config(config)
    if resume and config is not None:
        raise SentilocError(f"{out}: resuming continues the run's own config; pass config=None "
                            "(or train a new run to change it)")
    if config is not None and seed is not None:
        config = apply_overrides(config, {"train.seed": seed})
    summary = train_run(dict(config) if config is not None else None, Path(data), Path(out), resume=resume,
                        overwrite=overwrite, device=device, epochs=epochs, stop_after=stop_after,
                        progress=progress)
    return Run(Path(out), summary)


Videos = Union[PathLike, Sequence[PathLike]]


class Model:
    """A trained model, loaded once; made by :func:`load_model`.

    Attributes:
        classes: the class names segments are labelled with (``["n", "p"]`` for TSL-300).
        config: the merged config it was trained with.
        localizer: the :class:`~sentiloc.apps.localize.Localizer` underneath (extractors, model).
    """

    def __init__(self, localizer: Localizer) -> None:
        self.localizer = localizer
        self.classes: list[str] = localizer.trained.classes
        self.config: dict[str, Any] = localizer.trained.exp.raw

    def __repr__(self) -> str:
        return f"Model({str(self.localizer.checkpoint)!r}, classes={self.classes})"

    def localize(
        self,
        videos: Videos | Mapping[str, Any],
        *,
        fps: float | None = None,
        duration_s: float | None = None,
        video_id: str = "video",
        out: PathLike | None = None,
        overwrite: bool = False,
        top: int = 10,
        progress: bool = True,
    ) -> list[Segment] | dict[str, list[Segment]]:
        """Segments (best first) of one video, or ``{video id: segments}`` of many.

        Args:
            videos: a video file -> its segments; a folder of videos, or a list of files and
                folders -> ``{video id: segments}`` (id = file name without extension), the
                extractors built once for all; or feature streams of one video,
                ``{"rgb": (snippets, dim), "logmfcc": ..., "img": ...}`` arrays with one row per
                16 native frames, as ``sentiloc extract`` writes them -> its segments.
            fps: the native frame rate of a video given as feature streams (needed for seconds).
            duration_s: the length in seconds of a video given as feature streams; segments are
                clipped to it (default: the snippets' span, up to 15 frames past the end).
            video_id: the name of a video given as feature streams (for ``out`` file names).
            out: also write each video's report there (``<id>.json``, ``.csv``, ``.png`` and, for
                video files, ``.html``) and keep extracted features there for reuse; nothing is
                written without it.
            overwrite: replace earlier reports in ``out`` (refused otherwise).
            top: segments drawn per class in the plot and overall in the page (the JSON and CSV hold all).
            progress: allow progress bars (drawn only on a terminal).

        Raises:
            SentilocError: unreadable videos, features of other dims than the model's, a
                missing ``video`` extra, outputs that exist without ``overwrite``.
        """
        localizer = self.localizer
        if isinstance(videos, Mapping):
            if fps is None or not float(fps) > 0:
                raise SentilocError("localize(features): pass fps=, the video's native frame rate (frames per second)")
            result = localizer.features(videos, float(fps), video_id, duration_s)
            if out is not None:
                write_report(result, None, Path(out), self.classes, top, f"model {localizer.checkpoint.name}",
                             overwrite)
            return result.segments
        single = isinstance(videos, (str, os.PathLike)) and not Path(videos).is_dir()
        files = video_files([videos] if isinstance(videos, (str, os.PathLike)) else list(videos))
        done, _ = localize_videos(localizer, files, None if out is None else Path(out), overwrite, top, progress)
        if single:
            return next(iter(done.values())).segments
        return {video: result.segments for video, result in done.items()}

    def predict(self, data: PathLike, split: str = "test") -> dict[str, list[Segment]]:
        """Segments (best first) of every video of ``split`` of the TSL-300-layout dataset ``data``.

        The same predictions as ``sentiloc predict``, in memory: pass them to :func:`evaluate`.
        """
        trained = self.localizer.trained
        results = trained.task.predict(trained, Path(data), split, self.localizer.device)["results"]
        return {video: sorted((Segment.from_entry(entry) for entry in entries), key=lambda seg: -seg.score)
                for video, entries in results.items()}


def load_model(
    checkpoint: PathLike | Run,
    *,
    device: str = "cpu",
    postprocess: Mapping[str, Any] | Sequence[str] = (),
    visual_weights: PathLike | None = None,
    face_weights: PathLike | None = None,
) -> Model:
    """The trained model of ``checkpoint``: a ``.pt`` file, a run folder (its ``best.pt``) or a :class:`Run`.

    Args:
        postprocess: how outputs become segments, e.g. ``{"postprocess.class_threshold": None}``
            (only ``postprocess.*`` may change after training).
        visual_weights, face_weights: the weights files the training features were extracted
            with, when the checkpoint's record points to files that moved.
    """
    path = checkpoint.checkpoint if isinstance(checkpoint, Run) else Path(checkpoint)
    if path.is_dir():
        path = path / "best.pt"
    if isinstance(postprocess, Mapping):
        postprocess = [f"{key}={'null' if value is None else value}" for key, value in postprocess.items()]
    localizer = Localizer(path, device, None if visual_weights is None else Path(visual_weights),
                          None if face_weights is None else Path(face_weights), list(postprocess))
    if localizer.trained.exp.task != "localization":
        raise SentilocError(f"{path}: a {localizer.trained.exp.task} model; load_model serves localization models, "
                            "use `sentiloc predict` / `sentiloc crossval` for it (docs/spotting.md)")
    return Model(localizer)


def evaluate(
    gt: PathLike,
    pred: PathLike | Mapping[str, Any],
    subset: str = "test",
    tiou: str | Sequence[float] = "0.1:0.3:0.05",
) -> dict[str, Any]:
    """TSL-300 detection metrics of predictions against ground truth, as ``sentiloc evaluate --json`` writes them.

    Args:
        gt: a ``gt.json``, or a dataset folder holding one.
        pred: a results JSON file, its parsed content (``{"results": {...}}``), or
            ``{video id: [Segment or {"label", "score", "segment"}, ...]}`` such as
            :meth:`Model.predict` returns.
        subset: the ground truth's subset to score (``test``).
        tiou: thresholds as ``START:STOP:STEP`` (stop included), a comma list, or numbers.

    Returns:
        ``{"average_mAP", "mAP" (per tIoU), "tiou", "class_ap", "recall", "precision", "f2", ...}``;
        every metric is a fraction in [0, 1].
    """
    from sentiloc.evaluation import evaluate_detection, load_predictions, parse_tiou
    from sentiloc.evaluation.detection import (
        check_durations,
        ground_truth_with,
        parse_predictions,
    )

    gt_path = Path(gt) / "gt.json" if Path(gt).is_dir() else Path(gt)
    thresholds = parse_tiou(tiou if isinstance(tiou, str) else ",".join(map(str, tiou)))
    ground_truth = ground_truth_with(gt_path, subset)
    if isinstance(pred, Mapping):
        per_video = pred["results"] if isinstance(pred.get("results"), Mapping) else pred
        source = "predictions"
        predictions = parse_predictions(
            {"results": {str(video): [(s if isinstance(s, Segment) else Segment.from_entry(s)).to_entry()
                                      for s in segments] for video, segments in per_video.items()}}, source)
    else:
        source, predictions = pred, load_predictions(pred)
    check_durations(gt_path, predictions, source)
    return evaluate_detection(ground_truth, predictions, subset, thresholds).to_json()
