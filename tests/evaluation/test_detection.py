"""The detection evaluator reproduces the reference fixtures and a hand-computed case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentiloc.errors import SentilocError
from sentiloc.evaluation import evaluate_detection, load_ground_truth, load_predictions, parse_tiou, run_evaluate
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "eval"
CASES = sorted(p.name for p in FIXTURES.glob("case_*")) if FIXTURES.is_dir() else []


def _null_as_zero(values: list) -> np.ndarray:
    return np.array([[0.0 if x is None else x for x in row] if isinstance(row, list) else (0.0 if row is None else row)
                     for row in values], dtype=float)


def test_fixtures_are_present() -> None:
    assert len(CASES) == 8, f"expected 8 conformance cases in {FIXTURES}"


@pytest.mark.parametrize("case", CASES)
def test_reference_fixture(case: str) -> None:
    folder = FIXTURES / case
    expected = json.loads((folder / "expected.json").read_text())
    result = evaluate_detection(load_ground_truth(folder / "gt.json"), load_predictions(folder / "pred.json"),
                                subset="test", tiou=np.linspace(0.1, 0.3, 5))
    assert result.class_order == expected["class_order"]
    tol = dict(rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.mAP, expected["mAP"], **tol)
    np.testing.assert_allclose(result.average_mAP, expected["average_mAP"], **tol)
    np.testing.assert_allclose(result.ap, expected["ap_per_threshold_per_class"], **tol)
    np.testing.assert_allclose([result.class_ap[c] for c in result.class_order], expected["cAP"], **tol)
    np.testing.assert_allclose(result.precision, _null_as_zero(expected["precision"]), **tol)
    np.testing.assert_allclose(result.recall, _null_as_zero(expected["recall"]), **tol)
    # where the reference returns NaN for F2 (P = R = 0), sentiloc returns 0
    np.testing.assert_allclose(result.f2, _null_as_zero(expected["F2"]), **tol)
    assert all(0.0 <= x <= 1.0 for x in [*result.mAP, *result.precision, *result.recall, *result.f2])


def _gt(segments: dict[str, list[tuple[float, float, str]]]) -> dict:
    return {"database": {v: {"subset": "test", "annotations": [{"segment": [s, e], "label": c} for s, e, c in segs]}
                         for v, segs in segments.items()}}


def _pred(preds: dict[str, list[tuple[float, float, str, float]]]) -> dict:
    return {"results": {v: [{"segment": [s, e], "label": c, "score": p} for s, e, c, p in ps] for v, ps in preds.items()}}


def test_hand_computed_case() -> None:
    """Two GT 'p' segments in one video; three predictions at threshold 0.5.

    Ranked: A (0.9) matches GT1 exactly -> TP; B (0.8) duplicates GT1 -> FP; C (0.7) overlaps GT2
    with tIoU 5/15 = 1/3 < 0.5 -> FP. Precision 1, 1/2, 1/3; recall 1/2, 1/2, 1/2.
    AP = 0.5 * 1 = 0.5. Mean precision = (1 + 1/2 + 1/3) / 3 = 11/18; mean recall = 1/2.
    F2 = 5 P R / (4 P + R) = 5 * 11/18 * 1/2 / (44/18 + 1/2) = (55/36) / (53/18) = 55/106.
    """
    gt = _gt({"v": [(0, 10, "p"), (20, 30, "p")]})
    pred = _pred({"v": [(0, 10, "p", 0.9), (1, 10, "p", 0.8), (25, 35, "p", 0.7)]})
    result = evaluate_detection(gt, pred, tiou=[0.5])
    assert result.ap[0, 0] == pytest.approx(0.5)
    assert result.precision[0] == pytest.approx(11 / 18)
    assert result.recall[0] == pytest.approx(0.5)
    assert result.f2[0] == pytest.approx(55 / 106)


def test_tiou_equal_to_threshold_matches() -> None:
    gt = _gt({"v": [(0.0, 10.0, "p")]})
    pred = _pred({"v": [(0.0, 5.0, "p", 1.0)]})  # tIoU exactly 0.5
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == 1.0
    assert evaluate_detection(gt, pred, tiou=[0.51]).ap[0, 0] == 0.0


def test_no_predictions_gives_zeros_not_nan() -> None:
    result = evaluate_detection(_gt({"v": [(0, 10, "p"), (20, 30, "n")]}), {"results": {}})
    assert result.mAP == [0.0] * 5 and result.f2 == [0.0] * 5 and result.average_mAP == 0.0


def test_unknown_labels_are_dropped_with_a_warning() -> None:
    gt = _gt({"v": [(0, 10, "p")]})
    pred = _pred({"v": [(0, 10, "p", 0.5), (0, 10, "happy", 0.9)]})
    with pytest.warns(UserWarning, match="happy"):
        result = evaluate_detection(gt, pred, tiou=[0.5])
    assert result.dropped_labels == {"happy": 1} and result.ap[0, 0] == 1.0


def test_predictions_outside_subset_are_false_positives() -> None:
    gt = _gt({"v": [(0, 10, "p")]})
    gt["database"]["w"] = {"subset": "train", "annotations": [{"segment": [0, 10], "label": "p"}]}
    pred = _pred({"w": [(0, 10, "p", 0.9)], "x": [(0, 10, "p", 0.8)], "v": [(0, 10, "p", 0.7)]})
    # TP only at rank 3: precision at the recall step is 1/3
    assert evaluate_detection(gt, pred, tiou=[0.5]).ap[0, 0] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0.1:0.3:0.05", [0.1, 0.15, 0.2, 0.25, 0.3]), ("0.5", [0.5]), ("0.3,0.5,0.7", [0.3, 0.5, 0.7])],
)
def test_parse_tiou(spec: str, expected: list[float]) -> None:
    np.testing.assert_allclose(parse_tiou(spec), expected)


@pytest.mark.parametrize("spec", ["0.1:0.3", "a", "0:1:0.5", "0.3:0.1:0.05", "1.5"])
def test_parse_tiou_rejects(spec: str) -> None:
    with pytest.raises(SentilocError, match="tiou"):
        parse_tiou(spec)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(SentilocError, match="missing.json"):
        load_ground_truth(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(SentilocError, match="bad.json: ground truth is not valid JSON"):
        load_ground_truth(bad)
    nodb = tmp_path / "nodb.json"
    nodb.write_text('{"videos": {}}')
    with pytest.raises(SentilocError, match='nodb.json: no top-level "database"'):
        load_ground_truth(nodb)
    badseg = tmp_path / "badseg.json"
    badseg.write_text(json.dumps(_gt({"v": [(0, "ten", "p")]})))
    with pytest.raises(SentilocError, match="badseg.json: video 'v' has a malformed annotation"):
        load_ground_truth(badseg)
    badscore = tmp_path / "badscore.json"
    badscore.write_text(json.dumps(_pred({"v": [(0, 1, "p", "high")]})))
    with pytest.raises(SentilocError, match="badscore.json: video 'v' has a malformed prediction"):
        load_predictions(badscore)


def test_run_evaluate_writes_json_and_refuses_to_clobber(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, pred, out = tmp_path / "gt.json", tmp_path / "pred.json", tmp_path / "m.json"
    gt.write_text(json.dumps(_gt({"v": [(0, 10, "p")]})))
    pred.write_text(json.dumps(_pred({"v": [(0, 10, "p", 0.9)]})))
    run_evaluate(gt, pred, json_out=out)
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {"tiou", "mAP", "average_mAP", "class_ap", "recall", "precision", "f2"}
    assert metrics["average_mAP"] == 1.0 and metrics["class_ap"] == {"p": 1.0}
    assert "avg" in capsys.readouterr().out
    with pytest.raises(SentilocError, match="already exists"):
        run_evaluate(gt, pred, json_out=out)
    run_evaluate(gt, pred, json_out=out, overwrite=True)
