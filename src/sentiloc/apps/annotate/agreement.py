"""Inter-annotator agreement of point labels (``sentiloc annotate --agreement``).

Clicks are compared per pair of annotators and per video both of them annotated:

* **distance**: for every click of one annotator, the distance (s) to the nearest click of the
  other, in both directions, pooled (so the pair's distribution is symmetric);
* **matched**: two clicks are matched when each is the other's nearest and they are at most
  ``match_s`` apart (a mutual-nearest matching: one click matches at most one);
* **class agreement**: the share of matched pairs with the same class;
* **one annotator only**: clicks of each annotator without a match — segments the other did not click.

Inputs are label files of ``sentiloc annotate`` (their ``annotator`` column names each one; only
``click`` rows count) and TSL-300 point files (``class,...,video_id,point`` in native frames:
each file is one annotator, named ``NAME=FILE`` or by the file's stem, converted to seconds
with an ``fps_dict.json``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiloc.apps.annotate.store import read_label_file
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import read_text
from sentiloc.data.annotations import read_clicks, read_number_dict

#: ``{annotator: {video: (times_s (n,), labels (n,))}}``
ClickSets = dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
#: Distances (s) reported as "share within".
WITHIN_S = (1.0, 2.0, 5.0)


def _grouped(rows: Sequence[tuple[str, str, float, str]]) -> ClickSets:
    """``(annotator, video, time_s, label)`` rows -> :data:`ClickSets`, each video's clicks in time order."""
    sets: dict[str, dict[str, list[tuple[float, str]]]] = {}
    for annotator, video, time_s, label in rows:
        sets.setdefault(annotator, {}).setdefault(video, []).append((time_s, label))
    return {a: {v: (np.array([t for t, _ in sorted(c)]), np.array([lab for _, lab in sorted(c)]))
                for v, c in videos.items()} for a, videos in sets.items()}


def read_inputs(specs: Sequence[str], fps_file: Path | None = None) -> ClickSets:
    """Click sets of label files and ``[NAME=]FILE`` TSL-300 point files (which need ``fps_file``)."""
    rows: list[tuple[str, str, float, str]] = []
    fps = None
    for spec in specs:
        name, _, path_text = spec.partition("=") if "=" in spec else ("", "", spec)
        path = Path(path_text)
        header = next(csv.reader(io.StringIO(read_text(path, "click file"))), [])
        if "point" in header:
            if fps_file is None:
                raise SentilocError(f"{path}: a TSL-300 point file counts frames; pass --fps fps_dict.json to convert "
                                    "them to seconds")
            fps = fps if fps is not None else read_number_dict(fps_file.parent, fps_file.name, "fps")
            annotator = name or path.stem
            for video, clicks in read_clicks(path).items():
                if video not in fps:
                    raise SentilocError(f"{fps_file}: no fps for video {video!r} of {path}; add it")
                rows += [(annotator, video, c.frame / fps[video], c.label) for c in clicks]
        else:
            if name:
                raise SentilocError(f"{spec}: a label file names its annotators in its annotator column; drop '{name}='")
            marks, _ = read_label_file(path)
            rows += [(m.annotator, m.video, m.time_s, m.label) for m in marks if m.kind == "click"]
    sets = _grouped(rows)
    if len(sets) < 2:
        raise SentilocError(f"agreement needs clicks of two annotators or more; found {sorted(sets) or 'none'}")
    return sets


def mutual_matches(times_a: np.ndarray, times_b: np.ndarray, match_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of clicks that are each other's nearest and at most ``match_s`` apart.

    ``a = [1, 5, 9]``, ``b = [1.5, 30]``, 2 s: 1 <-> 1.5 (nearest both ways, 0.5 s) -> ``([0], [0])``;
    5's nearest is 1.5, whose nearest is 1, so 5 is unmatched; 30 is 21 s from 9.
    """
    if not len(times_a) or not len(times_b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    distance = np.abs(times_a[:, None] - times_b[None, :])
    best_b = distance.argmin(axis=1)
    best_a = distance.argmin(axis=0)
    i = np.flatnonzero((best_a[best_b] == np.arange(len(times_a))) & (distance.min(axis=1) <= match_s))
    return i, best_b[i]


def nearest_s(times_a: np.ndarray, times_b: np.ndarray) -> np.ndarray:
    """``(n_a + n_b,)``: each click's distance (s) to the other annotator's nearest (empty if one has none)."""
    if not len(times_a) or not len(times_b):
        return np.zeros(0)
    distance = np.abs(times_a[:, None] - times_b[None, :])
    return np.concatenate([distance.min(axis=1), distance.min(axis=0)])


@dataclass
class PairStats:
    """Agreement of annotators ``a`` and ``b`` over some videos."""

    a: str
    b: str
    distances_s: np.ndarray
    matched: int
    same_class: int
    only_a: int
    only_b: int

    def summary(self) -> dict:
        d = self.distances_s
        quantiles = np.quantile(d, [0.5, 0.9]).tolist() if len(d) else [None, None]
        return {
            "pair": [self.a, self.b], "clicks_compared": len(d),
            "median_distance_s": quantiles[0], "p90_distance_s": quantiles[1],
            "mean_distance_s": float(d.mean()) if len(d) else None,
            **{f"within_{w:g}s": float((d <= w).mean()) if len(d) else None for w in WITHIN_S},
            "matched": self.matched,
            "class_agreement": self.same_class / self.matched if self.matched else None,
            f"only_{self.a}": self.only_a, f"only_{self.b}": self.only_b,
        }


def pair_stats(a: str, b: str, videos: Mapping[str, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]],
               match_s: float) -> PairStats:
    """:class:`PairStats` over ``{video: ((times_a, labels_a), (times_b, labels_b))}``."""
    distances, matched, same, only_a, only_b = [], 0, 0, 0, 0
    for (times_a, labels_a), (times_b, labels_b) in videos.values():
        distances.append(nearest_s(times_a, times_b))
        i, j = mutual_matches(times_a, times_b, match_s)
        matched += len(i)
        same += int((labels_a[i] == labels_b[j]).sum())
        only_a += len(times_a) - len(i)
        only_b += len(times_b) - len(j)
    pooled = np.concatenate(distances) if distances else np.zeros(0)
    return PairStats(a, b, pooled, matched, same, only_a, only_b)


def agreement(sets: ClickSets, match_s: float = 5.0) -> tuple[dict, list[PairStats]]:
    """The report (``overall`` per pair, ``videos`` per video and pair) and each pair's pooled stats."""
    if not match_s > 0:
        raise SentilocError(f"--match-s {match_s}: must be a positive number of seconds")
    report: dict = {"match_s": match_s, "annotators": {a: sum(len(t) for t, _ in v.values()) for a, v in sets.items()},
                    "overall": [], "videos": {}}
    pooled = []
    for a, b in itertools.combinations(sorted(sets), 2):
        shared = {v: (sets[a][v], sets[b][v]) for v in sorted(set(sets[a]) & set(sets[b]))}
        if not shared:
            continue
        stats = pair_stats(a, b, shared, match_s)
        pooled.append(stats)
        report["overall"].append({**stats.summary(), "videos": len(shared)})
        for video, both in shared.items():
            report["videos"].setdefault(video, []).append(pair_stats(a, b, {video: both}, match_s).summary())
    if not pooled:
        raise SentilocError("no video was clicked by two annotators; nothing to compare")
    return report, pooled


def format_report(report: dict) -> str:
    """The overall table, one line per annotator pair."""
    title = (f"{len(report['videos'])} videos clicked by two annotators or more; matched = mutual nearest within "
             f"{report['match_s']:g} s")
    header = (f"{'pair':<28} {'videos':>6} {'median s':>9} {'p90 s':>7} {'≤2 s':>6} {'matched':>8} {'class':>6} "
              f"{'only A':>7} {'only B':>7}")
    lines = [title, header]
    for row in report["overall"]:
        a, b = row["pair"]

        def num(value, spec):
            return format(value, spec) if value is not None else "-"

        lines.append(f"{a + ' / ' + b:<28} {row['videos']:>6} {num(row['median_distance_s'], '9.2f')} "
                     f"{num(row['p90_distance_s'], '7.2f')} {num(row['within_2s'], '6.0%')} {row['matched']:>8} "
                     f"{num(row['class_agreement'], '6.0%')} {row[f'only_{a}']:>7} {row[f'only_{b}']:>7}")
    return "\n".join(lines)


def plot_agreement(path: Path, pairs: Sequence[PairStats], match_s: float) -> Path:
    """ECDF of the nearest-click distances per pair (log seconds) and each pair's matched / one-only counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sentiloc.viz.figures import save_png
    from sentiloc.viz.segments import OKABE_ITO

    colours = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue", "vermillion")]
    fig, (ecdf, bars) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    floor_s = 0.05
    for k, pair in enumerate(pairs):
        d = np.sort(np.maximum(pair.distances_s, floor_s))
        ecdf.step(d, np.arange(1, len(d) + 1) / len(d), where="post", color=colours[k % len(colours)],
                  label=f"{pair.a} / {pair.b} (median {np.median(d):.1f} s)")
    ecdf.axvline(match_s, color="#888", ls="--", lw=1)
    ecdf.text(match_s, 0.03, f" match ≤ {match_s:g} s", color="#666", fontsize=8)
    ecdf.set_xscale("log")
    ecdf.set_xlabel(f"distance to the other annotator's nearest click (s, log; < {floor_s} s drawn at {floor_s})")
    ecdf.set_ylabel("share of clicks")
    ecdf.set_ylim(0, 1)
    ecdf.grid(alpha=0.3)
    ecdf.legend(fontsize=8, loc="upper left")
    ecdf.set_title("How far apart do annotators click?")
    names = [f"{p.a}\n{p.b}" for p in pairs]
    x = np.arange(len(pairs))
    same = np.array([p.same_class for p in pairs])
    other = np.array([p.matched - p.same_class for p in pairs])
    only = np.array([p.only_a + p.only_b for p in pairs])
    bars.bar(x, same, color=OKABE_ITO["bluish_green"], label="matched, same class")
    bars.bar(x, other, bottom=same, color=OKABE_ITO["vermillion"], label="matched, other class")
    bars.bar(x, only, bottom=same + other, color="#c8ced6", label="one annotator only")
    bars.set_ylim(0, 1.3 * max(1, int((same + other + only).max())))  # room for the legend above the bars
    bars.set_xticks(x, names, fontsize=8)
    bars.set_ylabel("clicks (matched pairs count once)")
    bars.legend(fontsize=8)
    bars.set_title("Matched clicks per pair")
    fig.tight_layout()
    return save_png(fig, path, tight=False)
