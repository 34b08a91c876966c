"""The recognition confusion-matrix plot: row shares by hand, what the figure says, the PNG it writes."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from sentiloc.viz.confusion import confusion_figure, plot_confusion, row_shares

#: A hand-made Ekman-6 evaluation (120 videos, 2 without a prediction); docs/images/confusion_example.png is its plot.
EXAMPLE = Path(__file__).parent / "confusion_example.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def example() -> dict:
    return json.loads(EXAMPLE.read_text())


def three_classes(confusion: list[list[int]], classes: tuple[str, ...] = ("anger", "joy", "sad")) -> dict:
    return {"classes": list(classes), "videos": int(np.sum(confusion)), "accuracy": 0.5, "war": 0.5, "uar": 0.5,
            "confusion": confusion, "missing_predictions": 0, "keyframes": None}


def texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def test_row_shares_by_hand() -> None:
    # [3, 1] -> 3/4, 1/4; a row without videos stays NaN (drawn as "no videos", not as 0 %)
    shares = row_shares(np.array([[3, 1], [0, 0]]))
    np.testing.assert_allclose(shares[0], [0.75, 0.25])
    assert np.isnan(shares[1]).all()


def test_example_json_is_consistent() -> None:
    # the hand-made numbers: diagonal 12 + 9 + 10 + 17 + 13 + 13 = 74 of 120 videos (2 of them unpredicted)
    metrics = example()
    confusion = np.array(metrics["confusion"])
    assert np.trace(confusion) == 74 and confusion.sum() + metrics["missing_predictions"] == metrics["videos"] == 120
    assert metrics["accuracy"] == pytest.approx(74 / 120)
    assert metrics["uar"] == pytest.approx(np.mean(list(metrics["per_class_recall"].values())))


def test_cells_title_and_labels() -> None:
    fig = confusion_figure(example(), title="Ekman-6")
    try:
        cells = texts(fig)
        # anger: 12 of 20 -> 60 %; disgust row holds 18 predicted videos: 9 -> 50 %
        assert "60%\n(12)" in cells and "50%\n(9)" in cells and len(cells) == 36
        title = fig.axes[0].get_title()
        assert title.startswith("Ekman-6\n") and "accuracy (WAR) 61.7 %" in title and "UAR 61.4 %" in title
        assert "2 video(s) without a prediction" in title
        rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert rows[0] == "anger (n=20)" and rows[1] == "disgust (n=18)"
        assert fig.axes[0].get_xticklabels()[0].get_rotation() == 40  # 6 classes of up to 8 letters: tilted
        assert fig.axes[1].get_ylabel() == "share of the true class's videos"  # the colour bar
    finally:
        plt.close(fig)


def test_short_names_stay_upright_and_absent_classes_say_so() -> None:
    fig = confusion_figure(three_classes([[2, 1, 0], [0, 3, 0], [0, 0, 0]]))
    try:
        assert fig.axes[0].get_xticklabels()[0].get_rotation() == 0
        assert "no videos" in texts(fig) and "0%\n(0)" in texts(fig)
        assert fig.axes[0].get_title().startswith("confusion matrix\n") and "without a prediction" not in \
            fig.axes[0].get_title()
    finally:
        plt.close(fig)


def test_a_matrix_that_does_not_fit_the_classes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(3, 3\) matrix"):
        confusion_figure(three_classes([[1, 2], [3, 4]]))


@pytest.mark.parametrize("n_classes", [3, 6, 8])
def test_plot_writes_a_png_atomically(tmp_path: Path, n_classes: int) -> None:
    names = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")[:n_classes]
    confusion = (np.eye(n_classes, dtype=int) * 5 + 1).tolist()
    path = tmp_path / "plots" / "confusion.png"
    path.parent.mkdir()
    path.write_bytes(b"old")
    assert plot_confusion({**three_classes(confusion, names)}, path) == path
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in path.parent.iterdir()) == ["confusion.png"]  # no temporary file left
