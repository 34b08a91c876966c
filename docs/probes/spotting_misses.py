"""Why a spotting run misses: per ground-truth instance, the best-overlapping prediction of its type.

    python docs/probes/spotting_misses.py DATA CV [CV ...]

For each crossval folder CV (scored against the dataset DATA) it prints how many instances have
any overlapping prediction of their type, how many at continuous IoU >= 0.5, and the mean length
of that best prediction relative to the instance's. docs/RESULTS.md ("Facial-expression
spotting") quotes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from sentiloc.data.spotting.annotations import read_ground_truth
from sentiloc.postprocess.spotting import interval_iou


def misses(data: Path, cv: Path) -> str:
    ground_truth = read_ground_truth(data)
    predictions = json.loads((cv / "predictions.json").read_text())["results"]
    n = overlapped = matched = 0
    ratios = []
    for video, entry in ground_truth.items():
        for instance in entry["instances"]:
            n += 1
            same = [p for p in predictions.get(video, []) if p["type"] == instance["type"]]
            if not same:
                continue
            iou = interval_iou(instance["onset"], instance["offset"], np.array([p["onset"] for p in same]),
                               np.array([p["offset"] for p in same]), "continuous")
            if iou.max() > 0:
                best = same[int(iou.argmax())]
                overlapped += 1
                matched += bool(iou.max() >= 0.5)
                ratios.append((best["offset"] - best["onset"]) / max(1, instance["offset"] - instance["onset"]))
    return (f"{cv}: {n} instances, overlapped {overlapped}, IoU>=0.5 {matched}, "
            f"predicted/true length {np.mean(ratios) if ratios else float('nan'):.2f}")


if __name__ == "__main__":
    data, *runs = map(Path, sys.argv[1:])
    for run in runs:
        print(misses(data, run))
