"""The detection evaluator reproduces the reference fixtures, hand-computed cases and its error contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.evaluation import (
    DEFAULT_TIOU,
    evaluate_detection,
    format_table,
    load_ground_truth,
    load_predictions,
    parse_tiou,
    run_evaluate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
CASES = [f"case_{i:02d}" for i in range(1, 9)]
EXACT = {"rtol": 0.0, "atol": 1e-9}


def _null_as_zero(values: list) -> np.ndarray:
    """The fixtures store the reference's NaN as null; sentiloc reports 0 there."""
    return np.array([0.0 if x is None else x for x in values], dtype=float)


@pytest.mark.parametrize("case", CASES)
def test_reference_fixture(case: str) -> None:
    folder = FIXTURES / case
    assert folder.is_dir(), f"conformance fixture {folder} is missing"
    expected = json.loads((folder / "expected.json").read_text())
    result = evaluate_detection(load_ground_truth(folder / "gt.json"), load_predictions(folder / "pred.json"),
                                subset="test", tiou=np.linspace(0.1, 0.3, 5))
    assert result.class_order == expected["class_order"]
    np.testing.assert_allclose(result.ap, expected["ap_per_threshold_per_class"], **EXACT)
    np.testing.assert_allclose(result.mAP, expected["mAP"], **EXACT)
    np.testing.assert_allclose(result.average_mAP, expected["average_mAP"], **EXACT)
    assert result.class_ap.keys() == expected["cAP_by_label"].keys()
    for label, value in expected["cAP_by_label"].items():
        np.testing.assert_allclose(result.class_ap[label], value, **EXACT)
    for ours, theirs in [(result.precision, "precision"), (result.recall, "recall"), (result.f2, "F2")]:
        np.testing.assert_allclose(ours, _null_as_zero(expected[theirs]), **EXACT)
    assert result.dropped_labels == {}
    assert all(0.0 <= x <= 1.0 for x in [*result.mAP, *result.precision, *result.recall, *result.f2])


def _gt(segments: dict[str, list[tuple[float, float, str]]], subset: str = "test") -> dict:
    return {"database": {v: {"subset": subset, "annotations": [{"segment": [s, e], "label": c} for s, e, c in segs]}
                         for v, segs in segments.items()}}


def _pred(preds: dict[str, list[tuple[float, float, str, float]]]) -> dict:
    return {"results": {v: [{"segment": [s, e], "label": c, "score": p} for s, e, c, p in ps]
                        for v, ps in preds.items()}}


def test_hand_computed_case() -> None:
    """Class p has 4 GT segments; class n has one and no predictions; threshold 0.5.

    Ranked p predictions:
      1. a [0,10]  0.9  tIoU 1 with a[0,10]                       -> TP   P 1    R 1/4
      2. a [1,10]  0.8  tIoU .9 with a[0,10], already taken       -> FP   P 1/2  R 1/4
      3. b [0,10]  0.7  tIoU 1 with b[0,10]                       -> TP   P 2/3  R 2/4
      4. a [20,29] 0.6  tIoU .9 with a[20,30]                     -> TP   P 3/4  R 3/4
      5. z [0,10]  0.4  video absent from the ground truth        -> FP   P 3/5  R 3/4
    Interpolated precision at the recall steps (ranks 1, 3, 4): 1, max(2/3, 3/4) = 3/4, 3/4,
    so AP_p = 1/4 * (1 + 3/4 + 3/4) = 5/8 (uninterpolated it would be 0.604).
    Mean precision_p = (1 + 1/2 + 2/3 + 3/4 + 3/5) / 5 = 211/300; mean recall_p = (10/4) / 5 = 1/2.
    Class n: AP = P = R = 0, and it counts in the means: mAP = 5/16, P = 211/600, R = 1/4,
    F2 = 5 P R / (4 P + R) = (1055/2400) / (994/600) = 1055/3976.
    """
    gt = _gt({"a": [(0, 10, "p"), (20, 30, "p"), (40, 50, "n")], "b": [(0, 10, "p"), (50, 60, "p")]})
    pred = _pred({"a": [(0, 10, "p", 0.9), (1, 10, "p", 0.8), (20, 29, "p", 0.6)], "b": [(0, 10, "p", 0.7)],
                  "z": [(0, 10, "p", 0.4)]})
    result = evaluate_detection(gt, pred, tiou=[0.5])
    assert result.class_order == ["p", "n"]
    np.testing.assert_allclose(result.ap, [[5 / 8, 0.0]], **EXACT)
    np.testing.assert_allclose(result.mAP, [5 / 16], **EXACT)
    np.testing.assert_allclose(result.precision, [211 / 600], **EXACT)
    np.testing.assert_allclose(result.recall, [1 / 4], **EXACT)
    np.testing.assert_allclose(result.f2, [1055 / 3976], **EXACT)
    assert result.class_ap == pytest.approx({"p": 5 / 8, "n": 0.0})


def test_tiou_equal_to_threshold_matches() -> None:
    gt = _gt({"v": [(0.0, 10.0, "p")]})
    pred = _pred({"v": [(0.0, 5.0, "p", 1.0)]})  # tIoU exactly 0.5
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == 1.0
    assert evaluate_detection(gt, pred, tiou=[0.5000001]).ap[0, 0] == 0.0


def test_equal_scores_rank_the_later_prediction_first() -> None:
    # the FP is listed first; with the later one ranked first the TP comes at rank 1 -> AP 1 (else 1/2)
    gt = _gt({"v": [(0, 10, "p")]})
    pred = _pred({"v": [(50, 60, "p", 0.5), (0, 10, "p", 0.5)]})
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == 1.0


def test_equal_tious_take_the_later_segment() -> None:
    # [5,10] has tIoU 1/2 with both segments and takes the later one, [5,15]; [10,20] then finds
    # its only candidate [5,15] taken -> TP, FP, AP 1/2 (taking [0,10] instead would give AP 1)
    gt = _gt({"v": [(0, 10, "p"), (5, 15, "p")]})
    pred = _pred({"v": [(5, 10, "p", 0.9), (10, 20, "p", 0.8)]})
    assert evaluate_detection(gt, pred, tiou=[0.3]).ap[0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("results", [{}, {"v": []}])
def test_no_predictions_gives_zeros_not_nan(results: dict) -> None:
    result = evaluate_detection(_gt({"v": [(0, 10, "p"), (20, 30, "n")]}), {"results": results})
    assert result.mAP == [0.0] * 5 and result.average_mAP == 0.0
    assert result.precision == result.recall == result.f2 == [0.0] * 5
    assert json.dumps(result.to_json(), allow_nan=False)


def test_unknown_labels_are_dropped_with_a_warning(sentiloc_log: pytest.LogCaptureFixture) -> None:
    gt = _gt({"v": [(0, 10, "p")]})
    pred = _pred({"v": [(0, 10, "p", 0.5), (0, 10, "happy", 0.9), (3, 9, "happy", 0.1)]})
    result = evaluate_detection(gt, pred, tiou=[0.5])
    assert "happy" in sentiloc_log.text
    assert result.dropped_labels == {"happy": 2} and result.ap[0, 0] == 1.0


def test_predictions_outside_the_subset_are_false_positives() -> None:
    gt = _gt({"v": [(0, 10, "p")]})
    gt["database"]["w"] = {"subset": "train", "annotations": [{"segment": [0, 10], "label": "p"}]}
    pred = _pred({"w": [(0, 10, "p", 0.9)], "x": [(0, 10, "p", 0.8)], "v": [(0, 10, "p", 0.7)]})
    # the only TP comes at rank 3: precision 1/3 at the single recall step
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == pytest.approx(1 / 3)


def test_numeric_string_segments() -> None:
    gt = _gt({"v": [("0", "10.0", "p")]})
    pred = _pred({"v": [("0.0", 5, "p", 0.7)]})
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == 1.0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0.1:0.3:0.05", [0.1, 0.15, 0.2, 0.25, 0.3]), ("0.5", [0.5]), ("0.3,0.5,0.7", [0.3, 0.5, 0.7]),
     ("0.1:0.35:0.1", [0.1, 0.2, 0.3]), ("0.5:0.95:0.05", np.linspace(0.5, 0.95, 10))],
)
def test_parse_tiou(spec: str, expected: list[float]) -> None:
    np.testing.assert_allclose(parse_tiou(spec), expected, rtol=0, atol=1e-12)


def test_parse_tiou_default_is_bitwise_the_reference_thresholds() -> None:
    assert np.array_equal(parse_tiou("0.1:0.3:0.05"), DEFAULT_TIOU)


@pytest.mark.parametrize("spec", ["0.1:0.3", "a", "", "0:1:0.5", "0.3:0.1:0.05", "0.1:0.3:0", "1.5", "0.1,,0.2"])
def test_parse_tiou_rejects(spec: str) -> None:
    with pytest.raises(SentilocError, match="expected START:STOP:STEP"):
        parse_tiou(spec)


def _write(folder: Path, name: str, content: object) -> Path:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "{oops", "bad.json: ground truth is not valid JSON"),
        ("nodb.json", {"videos": {}}, 'nodb.json: no top-level "database"'),
        ("badseg.json", _gt({"v": [(0, "ten", "p")]}), "badseg.json: video 'v' has a malformed annotation"),
        ("short.json", {"database": {"v": {"subset": "test", "annotations": [{"segment": [1], "label": "p"}]}}},
         "short.json: video 'v' has a malformed annotation"),
        ("nosub.json", {"database": {"v": {"annotations": []}}}, "nosub.json: video 'v' must be"),
    ],
)
def test_bad_ground_truth_names_the_file(tmp_path: Path, name: str, content: object, message: str) -> None:
    with pytest.raises(SentilocError, match=message):
        load_ground_truth(_write(tmp_path, name, content))


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="missing.json: ground truth not found"):
        load_ground_truth(tmp_path / "missing.json")
    with pytest.raises(SentilocError, match="gone.json: predictions not found"):
        load_predictions(tmp_path / "gone.json")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "[1,", "bad.json: predictions is not valid JSON"),
        ("nores.json", {"database": {}}, 'nores.json: no top-level "results"'),
        ("notlist.json", {"results": {"v": {}}}, "notlist.json: results of video 'v' must be a list"),
        ("score.json", _pred({"v": [(0, 1, "p", "high")]}), "score.json: video 'v' has a malformed prediction"),
        ("nan.json", '{"results": {"v": [{"segment": [0, 1], "label": "p", "score": NaN}]}}',
         "nan.json: video 'v' has a malformed prediction"),
        ("seg.json", _pred({"v": [(0, None, "p", 0.5)]}), "seg.json: video 'v' has a malformed prediction"),
    ],
)
def test_bad_predictions_name_the_file(tmp_path: Path, name: str, content: object, message: str) -> None:
    with pytest.raises(SentilocError, match=message):
        load_predictions(_write(tmp_path, name, content))


def test_run_evaluate_writes_json_and_refuses_to_clobber(tmp_path: Path) -> None:
    gt = _write(tmp_path, "gt.json", _gt({"v": [(0, 10, "p"), (20, 30, "n")]}))
    pred = _write(tmp_path, "pred.json", _pred({"v": [(0, 10, "p", 0.9), (50, 60, "n", 0.3)]}))
    out = tmp_path / "metrics.json"
    result = run_evaluate(gt, pred, json_out=out)
    metrics = json.loads(out.read_text())
    assert metrics["average_mAP"] == 0.5 and metrics["class_ap"] == {"p": 1.0, "n": 0.0}
    assert metrics["ap_per_tiou"] == {"p": [1.0] * 5, "n": [0.0] * 5}
    for key in ("mAP", "recall", "precision", "f2", "recall_avg", "precision_avg", "f2_avg"):
        assert all(isinstance(x, float) and 0.0 <= x <= 1.0 for x in np.atleast_1d(metrics[key]))
    table = format_table(result)
    assert "avg" in table and "class-wise AP: p 100.00, n 0.00" in table
    with pytest.raises(SentilocError, match="already exists"):
        run_evaluate(gt, pred, json_out=out)
    run_evaluate(gt, pred, json_out=out, tiou_spec="0.5", overwrite=True)
    assert json.loads(out.read_text())["tiou"] == [0.5]


def test_run_evaluate_rejects_an_empty_subset(tmp_path: Path) -> None:
    gt = _write(tmp_path, "gt.json", _gt({"v": [(0, 10, "p")]}, subset="train"))
    pred = _write(tmp_path, "pred.json", _pred({"v": [(0, 10, "p", 0.9)]}))
    with pytest.raises(SentilocError, match="gt.json: no ground-truth segment in subset 'test'"):
        run_evaluate(gt, pred)


def test_format_table_has_one_row_per_threshold() -> None:
    result = evaluate_detection(_gt({"v": [(0, 10, "p")]}), _pred({"v": [(0, 10, "p", 0.9)]}))
    lines = format_table(result).splitlines()
    assert len(lines) == 1 + len(DEFAULT_TIOU) + 2
    assert lines[1].split() == ["0.10", "100.00", "100.00", "100.00", "100.00"]

