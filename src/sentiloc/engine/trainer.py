"""``sentiloc train``: seeded, resumable training with validation-only model selection.

One epoch = every training video once, in an order drawn from ``(seed, epoch)`` so that an
interrupted run resumed from ``last.pt`` replays exactly the order (and, with the saved RNG
state, the dropout masks) of an uninterrupted one. Videos are processed ``micro_batch`` at a
time (padded, masked) and gradients are accumulated over ``batch_size`` videos per optimiser
step, which keeps memory flat even for the longest TSL-300 video.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from sentiloc.core.config import section
from sentiloc.data.annotations import read_extractor_record, read_video_infos
from sentiloc.data.perturb import drop_face_runs
from sentiloc.data.dataset import DataConfig, VideoDataset, collate, load_supervision, split_train_val
from sentiloc.core.timebase import snippet_to_seconds
from sentiloc.data.normalize import stats_to_state, wants_standardize
from sentiloc.engine.checkpoint import load_checkpoint, save_checkpoint
from sentiloc.engine.device import autocast, resolve_device
from sentiloc.engine.inference import predict
from sentiloc.engine.memory import limit_kernel_cache, release_free_memory
from sentiloc.core.errors import SentilocError
from sentiloc.evaluation.detection import evaluate_detection
from sentiloc.evaluation.selection import click_hit_map, video_classification_map
from sentiloc.core.io import atomic_write_json, atomic_write_text, prepare_output_dir
from sentiloc.losses.registry import build_objective, objective_config
from sentiloc.models.registry import build_model
from sentiloc.postprocess import PostprocessConfig


@dataclass
class TrainConfig:
    """The ``train:`` section of a config."""

    epochs: int = 30
    batch_size: int = 8
    micro_batch: int = 1
    lr: float = 1e-4
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    scheduler: str = "constant"
    seed: int = 123
    amp: str = "none"
    eval_every: int = 1
    checkpoint_every: int = 10
    num_threads: int | None = None
    grad_clip: float | None = None
    face_dropout: float = 0.0

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        if self.scheduler not in ("constant", "cosine"):
            raise SentilocError(f"train.scheduler {self.scheduler!r}: choose 'constant' or 'cosine'")
        if self.amp not in ("none", "bf16", "auto"):
            raise SentilocError(f"train.amp {self.amp!r}: choose 'auto', 'bf16' or 'none'")
        if not 0.0 <= self.face_dropout <= 1.0:
            raise SentilocError(f"train.face_dropout {self.face_dropout!r}: a probability in [0, 1]")
        if self.epochs < 1 or self.batch_size < 1 or self.micro_batch < 1:
            raise SentilocError("train.epochs, train.batch_size and train.micro_batch must be positive")


@dataclass
class Experiment:
    """A config split into its typed sections."""

    raw: dict[str, Any]
    data: DataConfig
    model_name: str
    model_params: dict[str, Any]
    loss_name: str
    loss: Any
    train: TrainConfig
    post: PostprocessConfig = field(default_factory=PostprocessConfig)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Experiment":
        data = DataConfig(**section(config, "data", set(DataConfig.__dataclass_fields__)))
        model = dict(config.get("model") or {})
        name = model.pop("name", "fsenet")
        train = TrainConfig(**section(config, "train", set(TrainConfig.__dataclass_fields__)))
        post = PostprocessConfig(**section(config, "postprocess", set(PostprocessConfig.__dataclass_fields__)))
        loss_name, loss = objective_config(config)
        return cls(config, data, name, model, loss_name, loss, train, post)


def epoch_order(n_videos: int, seed: int, epoch: int) -> list[int]:
    """The video order of one epoch, a pure function of (seed, epoch) so resuming replays it."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n_videos, generator=generator).tolist()


def make_model(exp: Experiment, dims: dict[str, int]) -> torch.nn.Module:
    return build_model(exp.model_name, {**exp.model_params, "dims": dims, "num_classes": exp.data.num_classes})


def _lr_lambda(cfg: TrainConfig, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    if cfg.scheduler == "constant":
        return lambda step: 1.0
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run."""

    def __init__(self, config: dict[str, Any], data_root: Path, out: Path | None = None, device: str = "cpu") -> None:
        self.exp = Experiment.from_config(config)
        self.data_root = Path(data_root)
        self.out = Path(out) if out is not None else None
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            limit_kernel_cache()
        cfg = self.exp.train
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        torch.manual_seed(cfg.seed)
        infos = read_video_infos(self.data_root, ("train",))
        train_ids, val_ids = split_train_val(list(infos), self.exp.data.val_fraction, self.exp.data.val_seed)
        self.supervision = load_supervision(self.data_root, infos, self.exp.data)
        self.train_set = VideoDataset(self.data_root, [infos[v] for v in train_ids], self.exp.data, self.supervision)
        self.dims = self.train_set.dims
        self.extractor = read_extractor_record(self.data_root)
        self.model = make_model(self.exp, self.dims).to(self.device)
        if wants_standardize(self.exp.data.standardize, self.data_root):
            own = getattr(self.model, "normalises_inputs", set())
            self.train_set.stats = {k: v for k, v in self.train_set.raw_stats().items() if k not in own}
        self.stats = self.train_set.stats
        self.val_set = (
            VideoDataset(self.data_root, [infos[v] for v in val_ids], self.exp.data, self.supervision, self.dims,
                         self.stats)
            if val_ids
            else None
        )
        self.objective = build_objective(
            self.exp.loss_name, self.exp.loss, self.exp.data.supervision, self.exp.data.num_classes
        )
        # A model may ask for per-group learning rates (TSL-Net's audio CNN trains at 10x lr).
        params = self.model.param_groups(cfg.lr) if hasattr(self.model, "param_groups") else self.model.parameters()
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.train_set) / cfg.batch_size)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(cfg, self.steps_per_epoch))
        self.epoch = 0
        self.best: dict[str, float] = {}
        self.history: list[dict[str, float]] = []

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "rng": torch.get_rng_state(),
            "best": dict(self.best),
            "history": list(self.history),
            "config": self.exp.raw,
            "dims": dict(self.dims),
            "classes": list(self.exp.data.classes),
            "model_name": self.exp.model_name,
            "extractor": self.extractor,
            "feature_stats": stats_to_state(self.stats),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        torch.set_rng_state(state["rng"])
        self.best = dict(state["best"])
        self.history = list(state["history"])

    # -- one epoch ---------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        cfg = self.exp.train
        self.model.train()
        order = epoch_order(len(self.train_set), cfg.seed, self.epoch)
        # Face dropout draws from its own (seed, epoch) stream, so resuming replays it exactly.
        face_rng = torch.Generator().manual_seed(cfg.seed * 100_003 + self.epoch + 7_919)
        sums: dict[str, float] = {}
        n_videos = 0
        for start in range(0, len(order), cfg.batch_size):
            step_ids = order[start : start + cfg.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            for micro in range(0, len(step_ids), cfg.micro_batch):
                ids = step_ids[micro : micro + cfg.micro_batch]
                batch = collate([self.train_set[i] for i in ids], self.exp.data.num_classes).to(self.device)
                batch.face_present = drop_face_runs(batch.face_present, batch.mask, cfg.face_dropout, face_rng)
                with autocast(self.device, cfg.amp):
                    out = self.model(batch.features, batch.mask, batch.face_present)
                terms = self.objective(out, batch)
                loss = terms["total"]
                if not torch.isfinite(loss):
                    raise SentilocError(
                        f"training loss became {loss.item()} at epoch {self.epoch + 1} (videos {batch.video_ids}); "
                        "lower train.lr or check the features with `sentiloc check-data`"
                    )
                (loss * len(ids) / len(step_ids)).backward()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(ids)
                n_videos += len(ids)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            if self.device.type == "cpu":
                release_free_memory()
        return {f"loss/{k}": v / max(n_videos, 1) for k, v in sums.items()}

    # -- validation --------------------------------------------------------------------------
    def validate(self) -> float:
        """The selection metric on the validation split (see :mod:`sentiloc.evaluation.selection`)."""
        assert self.val_set is not None
        classes = list(self.exp.data.classes)
        proposals, scores = predict(
            self.model, self.val_set, classes, self.exp.post, self.device, self.exp.train.amp
        )
        sup = self.supervision.by_video
        level = self.exp.data.supervision
        if level == "full":
            database = {
                v: {"subset": "val", "annotations": [
                    {"segment": [s, e], "label": classes[c]} for s, e, c in sup[v].segments
                ]}
                for v in proposals
            }
            result = evaluate_detection({"database": database}, {"results": proposals}, subset="val")
            return float(result.average_mAP)
        if level == "point":
            fps = {info.video_id: info.fps for info in self.val_set.infos}
            clicks = {
                v: [(float(snippet_to_seconds(t + 0.5, fps[v])), classes[c]) for t, c in zip(sup[v].clicks_t, sup[v].clicks_cls)]
                for v in proposals
            }
            return click_hit_map(proposals, clicks, classes)
        videos = list(scores)
        return video_classification_map(
            np.stack([scores[v] for v in videos]), np.stack([sup[v].video_labels for v in videos])
        )

    # -- the run -----------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None, progress: bool = True) -> dict[str, Any]:
        """Train until ``train.epochs`` (or for ``stop_after`` more epochs), checkpointing each epoch."""
        from torch.utils.tensorboard import SummaryWriter

        if self.out is None:
            raise ValueError("Trainer.fit needs a run folder (out)")
        cfg = self.exp.train
        metric_name = {"full": "val_mAP", "point": "val_click_mAP", "video": "val_video_mAP"}[self.exp.data.supervision]
        writer = SummaryWriter(log_dir=str(self.out / "tensorboard"), purge_step=self.epoch + 1)
        last_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, self.epoch + stop_after)
        bar = tqdm(range(self.epoch, last_epoch), initial=self.epoch, total=cfg.epochs, desc="train",
                   unit="epoch", disable=not progress, dynamic_ncols=True)
        try:
            for _ in bar:
                tic = time.perf_counter()
                record = self.train_epoch()
                self.epoch += 1
                record["time/epoch_s"] = time.perf_counter() - tic
                if self.val_set is not None and (self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs):
                    record[metric_name] = self.validate()
                    if record[metric_name] >= self.best.get(metric_name, -1.0):
                        self.best = {metric_name: record[metric_name], "epoch": float(self.epoch)}
                        save_checkpoint(self.out / "best.pt", self.state())
                record["epoch"] = float(self.epoch)
                self.history.append(record)
                for key, value in record.items():
                    if key != "epoch":
                        writer.add_scalar(key, value, self.epoch)
                bar.set_postfix({"loss": f"{record['loss/total']:.4f}",
                                 **({"val": f"{record[metric_name]:.4f}"} if metric_name in record else {})})
                state = self.state()
                if self.val_set is None:
                    save_checkpoint(self.out / "best.pt", state)
                if cfg.checkpoint_every and self.epoch % cfg.checkpoint_every == 0:
                    save_checkpoint(self.out / f"epoch_{self.epoch:04d}.pt", state)
                save_checkpoint(self.out / "last.pt", state)
        finally:
            writer.close()
        summary = {"epochs_done": self.epoch, "best": self.best, "history": self.history, "metric": metric_name}
        atomic_write_json(self.out / "summary.json", summary)
        return summary


def train(
    config: dict[str, Any] | None,
    data_root: Path,
    out: Path,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    epochs: int | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a model from a resolved config into run folder ``out`` (see module docstring).

    With ``resume`` the config stored in ``out/last.pt`` is used (``epochs`` may extend it).
    """
    out = Path(out)
    if resume:
        state = load_checkpoint(out / "last.pt")
        config = state["config"]
    elif config is None:
        raise SentilocError("train: a config is needed unless --resume continues an existing run")
    if epochs is not None:
        config = {**config, "train": {**(config.get("train") or {}), "epochs": epochs}}
    if not resume:
        prepare_output_dir(out, overwrite, "run folder")
    trainer = Trainer(config, data_root, out, device)
    if resume:
        trainer.load_state(state)
    else:
        atomic_write_text(out / "config.yaml", yaml.safe_dump({**config, "resolved_dims": trainer.dims}, sort_keys=False))
    return trainer.fit(stop_after=stop_after, progress=progress)
