"""What CTEN's three passes know at test time: accuracy of the clip, its keyframes and its erased context.

    python docs/probes/cten_passes.py DATA CKPT [CKPT ...]

For the test clips of DATA (the recognition layout, with ``keyframes.json``) it runs each
checkpoint's network with the erased passes on (dropout off; also for a model trained with
``erase: false``) and prints the top-1 accuracy of x_o
(the clip), x_k (its keyframes only) and x_l (the rest), the share of keyframes among the
segments, and how often the segment of highest attention lies in a simulated keyframe span
against the share of such segments (chance). docs/RESULTS.md ("Video emotion recognition") quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from sentiloc.data.recognition.annotations import read_keyframes
from sentiloc.data.recognition.dataset import RecognitionDataset, collate_recognition, load_labels, videos_of_split
from sentiloc.tasks import load_trained


def passes(data: Path, checkpoint: Path) -> dict[str, float]:
    trained = load_trained(checkpoint, torch.device("cpu"))
    cfg = trained.exp.data
    videos = videos_of_split(data, cfg, "test")
    labels = load_labels(data, cfg)
    dataset = RecognitionDataset(data, videos, cfg, labels, trained.dims, trained.extras["stats"])
    spans = read_keyframes(data, {v: None for v in labels}) or {}
    network = trained.model.network
    network.cfg.erase = True  # also for a model trained without erasing: what would its passes know?
    network.train()
    for module in network.modules():
        if isinstance(module, nn.Dropout):
            module.eval()
    hits = {"x_o": [], "x_k": [], "x_l": []}
    keyframe_share, top_in_span, span_share = [], [], []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=64, collate_fn=collate_recognition):
            out = network(batch.streams, batch.mask)
            for name, logits, valid in (("x_o", out.logits, batch.mask.any(1)),
                                        ("x_k", out.keyframe_logits, out.keyframe_valid),
                                        ("x_l", out.context_logits, out.context_valid)):
                if logits is not None:
                    hits[name] += (logits.argmax(1) == batch.labels)[valid].tolist()
            for b, video in enumerate(batch.video_ids):
                n = int(batch.lengths[b])
                truth = np.zeros(n, bool)
                for first, last in spans.get(video, []):
                    truth[first:last + 1] = True
                keyframe_share.append(float(out.keyframes[b, :n].float().mean()))
                top_in_span.append(bool(truth[int(out.attention[b, :n].argmax())]))
                span_share.append(truth.mean())
    return {**{k: 100 * float(np.mean(v)) if v else float("nan") for k, v in hits.items()},
            "keyframes %": 100 * float(np.mean(keyframe_share)), "top-1 in a span %": 100 * float(np.mean(top_in_span)),
            "chance %": 100 * float(np.mean(span_share))}


def main(data: str, *checkpoints: str) -> None:
    rows = [(c, passes(Path(data), Path(c))) for c in checkpoints]
    keys = list(rows[0][1])
    print("| checkpoint | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
    for checkpoint, row in rows:
        print(f"| {checkpoint} | " + " | ".join(f"{row[k]:.1f}" for k in keys) + " |")


if __name__ == "__main__":
    main(*sys.argv[1:])
