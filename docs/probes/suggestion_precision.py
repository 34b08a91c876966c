"""How often a model's suggested clicks are right, by track and threshold, and what the wrong ones hit.

    python docs/probes/suggestion_precision.py DATA STUDY [--seeds 3] [--sources cas,global,mean]
        [--thresholds 0.3,0.5,0.7]

``DATA`` is the simulated dataset and ``STUDY`` the output folder of ``sentiloc study
annotation`` on it. For every seed and every ``in_order`` round but the last, the round's model
(trained on the first videos of ``split_train.txt``) suggests clicks on the training videos it
has not seen, as the study's annotator would be shown them (``sentiloc annotate``'s rule, no
clicks yet), from each track (``postprocess.cas_source``: the raw CAS, the Global CAS, their
mean). Per track and threshold it prints, summed over seeds and rounds:

* suggestions per video, and the precision (share inside a true segment of their class: the ones
  the simulated annotator accepts);
* where the rejected ones lie: inside a segment of the other class, or in background;
* chance: the precision of the same suggestions moved to uniform random times in their video
  (the share of the video its class's segments cover, averaged over suggestions);
* recall: the share of the true segments some suggestion labels.

docs/RESULTS.md ("Collecting labels") quotes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentiloc.apps.annotate.suggest import suggestions
from sentiloc.data import layout
from sentiloc.data.annotations import read_segments, read_split, read_video_infos
from sentiloc.studies.annotation import model_tracks, review
from sentiloc.studies.matrix import parse_seeds

CLASSES = ("p", "n")


def class_cover(segments, label: str, duration_s: float) -> float:
    """Share of the video (0-1) the segments of ``label`` cover (the segments of one class do not overlap)."""
    return sum(seg.end_s - seg.start_s for seg in segments if seg.label == label) / duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("study", type=Path)
    parser.add_argument("--seeds", default="3", help="N for seeds 1..N, or a list such as 4,7")
    parser.add_argument("--sources", default="cas,global,mean")
    parser.add_argument("--thresholds", default="0.3,0.5,0.7")
    parser.add_argument("--per-round", type=int, default=6)
    args = parser.parse_args()
    keys = [(source, float(t)) for source in args.sources.split(",") for t in args.thresholds.split(",")]
    infos = read_video_infos(args.data, ["train"])
    truth = read_segments(args.data / layout.DENSE_GT_FILE)
    order = read_split(args.data, "train")
    fps = {v: infos[v].fps for v in order}
    counts = {t: dict(videos=0, shown=0, accepted=0, other_class=0, background=0, chance=0.0, labelled=0,
                      segments=0) for t in keys}
    for seed in parse_seeds(args.seeds):
        rounds = sorted((args.study / f"s{seed}" / "in_order").glob("round*/run/best.pt"),
                        key=lambda p: int(p.parent.parent.name.removeprefix("round")))
        for checkpoint in rounds[:-1]:
            seen = int(checkpoint.parent.parent.name.removeprefix("round")) * args.per_round
            unseen = order[seen:]
            tracks = {(video, source): track for source in args.sources.split(",")
                      for video, track in model_tracks(checkpoint, args.data, unseen, fps, "cpu", source).items()}
            for video in unseen:
                segments = truth.get(video, [])
                for (source, threshold), c in counts.items():
                    shown = [(s.label, s.time_s) for s in suggestions(tracks[video, source], CLASSES, [], [],
                                                                      threshold, 2.0)]
                    accepted, rejected = review(segments, shown) if segments else ({}, len(shown))
                    hits = len(shown) - rejected
                    inside_any = sum(1 for _, t in shown if any(seg.start_s <= t < seg.end_s for seg in segments))
                    c["videos"] += 1
                    c["shown"] += len(shown)
                    c["accepted"] += hits
                    c["other_class"] += inside_any - hits
                    c["background"] += len(shown) - inside_any
                    c["chance"] += sum(class_cover(segments, label, infos[video].duration_s) for label, _ in shown)
                    c["labelled"] += len(accepted)
                    c["segments"] += len(segments)
    print("| track | threshold | suggestions per video | precision | chance | rejected: other class | "
          "rejected: background | segments labelled |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (source, threshold), c in counts.items():
        shown = max(c["shown"], 1)
        print(f"| {source} | {threshold:.1f} | {c['shown'] / c['videos']:.2f} | {100 * c['accepted'] / shown:.1f}% | "
              f"{100 * c['chance'] / shown:.1f}% | {100 * c['other_class'] / shown:.1f}% | "
              f"{100 * c['background'] / shown:.1f}% | {100 * c['labelled'] / max(c['segments'], 1):.1f}% |")
    first = counts[keys[0]]
    print(f"({first['videos']} video x model pairs, {first['segments']} true segments)")


if __name__ == "__main__":
    main()
