"""``sentiloc benchmark attention``: where a trained model's attention layers look.

FCI is FSENet's only temporal mixing across the whole video: each snippet's face asks every
snippet's visual (audio) stream what matters. Whether it does anything beyond averaging the video
is a measurable question. For every attention layer and every query snippet of a split:

- **entropy** of the head-averaged attention row, divided by log(number of keys): 1 means uniform
  attention, i.e. the layer adds the same video-level average to every snippet;
- **same-state mass**: the attention mass on keys in the query's ground-truth state (class n,
  class p, or non-sentiment), against **chance** = the share of keys in that state (what uniform
  attention would give);
- **local mass**: the mass on keys within ``window`` snippets of the query, against its chance.

A layer that tracks sentiment puts more than chance on same-state keys. The per-query arithmetic
is pure (:func:`attention_profile`); the runner hooks each :class:`CrossAttention` of the model to
recompute its probabilities from the inputs it saw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.data.annotations import read_video_infos
from sentiloc.data.dataset import VideoDataset, collate, dense_targets
from sentiloc.evaluation.detection import load_ground_truth
from sentiloc.models.blocks import CrossAttention
from sentiloc.tasks import load_trained

PROFILE_KEYS = ("entropy", "same_state", "same_state_chance", "local", "local_chance")


def attention_profile(
    weights: np.ndarray, query_mask: np.ndarray, key_mask: np.ndarray, state: np.ndarray, window: int
) -> dict[str, np.ndarray]:
    """Per-query statistics of one ``(Tq, Tk)`` attention map (rows sum to 1 over valid keys).

    Args:
        weights: attention probabilities, 0 on invalid keys.
        query_mask: ``(Tq,)`` bool, the queries that receive an update.
        key_mask: ``(Tk,)`` bool, the keys that may be attended to.
        state: ``(T,)`` ground-truth state per snippet (class index, or C for non-sentiment); the
            query and key sequences share the time axis.
        window: half-width, in snippets, of the neighbourhood counted as local.

    Returns:
        :data:`PROFILE_KEYS` -> one value per valid query.
    """
    n_keys = int(key_mask.sum())
    if n_keys == 0:
        return {key: np.zeros(0) for key in PROFILE_KEYS}
    t = np.arange(len(state))
    same = (state[:, None] == state[None, :]) & key_mask[None, :]
    local = (np.abs(t[:, None] - t[None, :]) <= window) & key_mask[None, :]
    entropy = -(weights * np.log(np.where(weights > 0, weights, 1.0))).sum(axis=1) / math.log(max(n_keys, 2))
    rows = {
        "entropy": entropy,
        "same_state": (weights * same).sum(axis=1),
        "same_state_chance": same.sum(axis=1) / n_keys,
        "local": (weights * local).sum(axis=1),
        "local_chance": local.sum(axis=1) / n_keys,
    }
    return {key: value[query_mask] for key, value in rows.items()}


@dataclass
class AttentionReport:
    """Mean :func:`attention_profile` statistics of each attention layer over a split."""

    checkpoint: Path
    split: str
    window: int
    layers: dict[str, dict[str, float]]
    queries: dict[str, int]

    def format(self) -> str:
        lines = [
            f"attention of {self.checkpoint} on the {self.split} split (mean over query snippets; "
            f"entropy 1 = uniform; chance = what uniform attention gives)",
            "",
            f"| layer | queries | entropy | same-state mass | chance | mass within ±{self.window} | chance |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, s in self.layers.items():
            lines.append(
                f"| {name} | {self.queries[name]} | {s['entropy']:.3f} | {s['same_state']:.3f} | "
                f"{s['same_state_chance']:.3f} | {s['local']:.3f} | {s['local_chance']:.3f} |"
            )
        return "\n".join(lines)


def snippet_states(annotations: Sequence[Mapping], classes: Sequence[str], length: int, fps: float) -> np.ndarray:
    """``(T,)`` ground-truth state per snippet: class index inside a segment, ``len(classes)`` outside."""
    segments = [
        (float(a["segment"][0]), float(a["segment"][1]), list(classes).index(a["label"]))
        for a in annotations
        if a["label"] in classes
    ]
    return dense_targets(segments, length, fps, len(classes)).argmax(axis=1)


def probe_attention(checkpoint: Path, data_root: Path, split: str = "test", window: int = 8) -> AttentionReport:
    """Run the model of ``checkpoint`` over ``split`` of ``data_root`` and profile every attention layer."""
    trained = load_trained(Path(checkpoint), torch.device("cpu"))
    layers = {name: m for name, m in trained.model.named_modules() if isinstance(m, CrossAttention)}
    if not layers:
        raise SentilocError(f"{checkpoint}: this model has no attention layer to probe (e.g. fci_stages: 0)")
    ground_truth = load_ground_truth(Path(data_root) / "gt.json")["database"]
    infos = list(read_video_infos(Path(data_root), (split,)).values())
    dataset = VideoDataset(data_root, infos, trained.exp.data, dims=trained.dims, stats=trained.extras["stats"])

    seen: dict[str, tuple] = {}
    handles = [
        layer.register_forward_hook(lambda mod, args, out, name=name: seen.__setitem__(name, args))
        for name, layer in layers.items()
    ]
    collected: dict[str, dict[str, list[np.ndarray]]] = {n: {k: [] for k in PROFILE_KEYS} for n in layers}
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            batch = collate([item], len(trained.classes))
            seen.clear()
            with torch.no_grad():
                trained.model(**batch.inputs(), cas_only=True)
                length = batch.mask.shape[1]
                entry = ground_truth.get(item.video_id, {"annotations": []})
                state = snippet_states(entry["annotations"], trained.classes, length, item.fps)
                for name, (query, context, key_mask, query_mask, *pos) in seen.items():
                    weights = layers[name].weights(query, context, key_mask, *pos)[0].mean(dim=0).numpy()
                    profile = attention_profile(weights, query_mask[0].numpy(), key_mask[0].numpy(), state, window)
                    for key, values in profile.items():
                        collected[name][key].append(values)
    finally:
        for handle in handles:
            handle.remove()

    means = {name: {k: float(np.concatenate(v).mean()) if v else float("nan") for k, v in stats.items()}
             for name, stats in collected.items()}
    counts = {name: int(sum(len(a) for a in stats["entropy"])) for name, stats in collected.items()}
    return AttentionReport(Path(checkpoint), split, window, means, counts)
