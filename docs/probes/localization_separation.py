"""What a localization checkpoint separates: sentiment from background, and one class from the other.

    python docs/probes/localization_separation.py DATA CKPT [CKPT ...]

For the test videos of DATA (a TSL-300-layout folder with ``gt.json``) it labels every snippet
from the ground-truth segments and prints, per checkpoint, two areas under the ROC curve over all
test snippets, on the scores its proposals are cut from (``postprocess.cas_source``: the CAS or
FSENet's Global CAS): how well the actionness ``1 - y_∅`` ranks sentiment snippets above
background ones, and, among the sentiment snippets, how well ``y_p - y_n`` ranks positive above
negative ones (0.5 = chance). docs/RESULTS.md ("CTEN's attention as sentiment segments") quotes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

from sentiloc.data import layout
from sentiloc.data.annotations import read_segments, read_video_infos
from sentiloc.data.dataset import VideoDataset, dense_targets
from sentiloc.postprocess.proposals import scoring_inputs
from sentiloc.tasks import load_trained
from sentiloc.tasks.localization import video_batches, video_outputs


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the ``positive`` (bool) items (Mann-Whitney, ties averaged)."""
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def separation(data: Path, checkpoint: Path) -> tuple[float, float]:
    trained = load_trained(checkpoint, torch.device("cpu"))
    infos = list(read_video_infos(data, ("test",)).values())
    dataset = VideoDataset(data, infos, trained.exp.data, dims=trained.dims, stats=trained.extras["stats"])
    segments = read_segments(data / layout.GT_FILE)
    classes = trained.classes
    actionness, margin, state = [], [], []
    for out in video_outputs(trained.model, video_batches(dataset, len(classes)), torch.device("cpu")):
        spans = [(s.start_s, s.end_s, classes.index(s.label)) for s in segments.get(out.video_id, [])]
        target = dense_targets(spans, len(out.cas), out.fps, len(classes))
        track, _ = scoring_inputs(out.cas, out.global_cas, out.video_scores, trained.exp.postprocess.cas_source,
                                  trained.model.cfg.r_act)
        actionness.append(1.0 - track[:, -1])
        margin.append(track[:, classes.index("p")] - track[:, classes.index("n")])
        state.append(np.where(target[:, -1] > 0, -1, target[:, classes.index("p")]))  # -1 bg, 1 p, 0 n
    actionness, margin, state = map(np.concatenate, (actionness, margin, state))
    sentiment = state >= 0
    return auc(actionness, sentiment), auc(margin[sentiment], state[sentiment] == 1)


def main(data: str, *checkpoints: str) -> None:
    print("| checkpoint | sentiment vs background (AUC) | positive vs negative (AUC) |\n|---|---|---|")
    for checkpoint in checkpoints:
        fg, cls = separation(Path(data), Path(checkpoint))
        print(f"| {checkpoint} | {fg:.3f} | {cls:.3f} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
