"""The MEGC spotting metric (docs/methods.md §6, "Metric"): hand-counted cases, file validation, properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.evaluation.registry import EVALUATORS
from sentiloc.evaluation.spotting import (
    PREDICTIONS_VERSION,
    SpottingResult,
    evaluate_spotting,
    format_table,
    has_instances,
    load_predictions,
    parse_predictions,
)


def instance(onset: int, offset: int, kind: str = "macro", apex: int | None = None) -> dict:
    return {"onset": onset, "apex": onset if apex is None else apex, "offset": offset, "type": kind}


def prediction(onset: int, offset: int, score: float, kind: str = "macro", apex: int | None = None) -> dict:
    return {**instance(onset, offset, kind, apex), "score": score}


def video(subject: str, instances: list[dict], n_frames: int = 1000) -> dict:
    return {"subject": subject, "fps": 30.0, "n_frames": n_frames, "instances": instances}


def results(per_video: dict[str, list[dict]]) -> dict:
    return {"version": PREDICTIONS_VERSION, "unit": "frame", "results": per_video}


def counts(result: SpottingResult, key: str = "overall") -> tuple[int, int, int]:
    entry = result.to_json()[key]
    return entry["tp"], entry["fp"], entry["fn"]


# --------------------------------------------------------------------------- counting by hand


def test_iou_conventions_decide_a_match_differently() -> None:
    gt = {"v": video("s1", [instance(10, 19)])}
    preds = results({"v": [prediction(10, 14, 0.9)]})
    # [10, 14] vs [10, 19]: continuous 4/9 = 0.444 < 0.5 (FP, FN); inclusive 5/10 = 0.5 >= 0.5 (TP)
    assert counts(evaluate_spotting(gt, preds, iou="continuous")) == (0, 1, 1)
    assert counts(evaluate_spotting(gt, preds, iou="inclusive")) == (1, 0, 0)
    # [15, 24] vs [10, 19]: continuous 4/14, inclusive 5/15: a miss either way
    shifted = results({"v": [prediction(15, 24, 0.9)]})
    for convention in ("continuous", "inclusive"):
        assert counts(evaluate_spotting(gt, shifted, iou=convention)) == (0, 1, 1)
    assert evaluate_spotting(gt, preds, iou="inclusive").to_json()["iou"] == "inclusive"


def test_greedy_by_score_not_by_iou() -> None:
    gt = {"v": video("s1", [instance(0, 9)])}
    # the better-scored [0, 5] (continuous IoU 5/9 = 0.556) takes the interval; the exact [0, 9] comes
    # second and finds it matched: FP. TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/(2 + 1) = 2/3
    preds = results({"v": [prediction(0, 9, 0.5), prediction(0, 5, 0.9)]})
    metrics = evaluate_spotting(gt, preds).to_json()
    assert counts(evaluate_spotting(gt, preds)) == (1, 1, 0)
    assert metrics["MaE"]["precision"] == 0.5 and metrics["MaE"]["recall"] == 1.0
    assert metrics["MaE"]["f1"] == pytest.approx(2 / 3)


def test_each_ground_truth_is_matched_once_to_the_best_iou() -> None:
    gt = {"v": video("s1", [instance(1, 9), instance(0, 9)])}
    # [0, 9] 0.9 takes [0, 9] (IoU 1, not [1, 9] at 8/9); [1, 9] 0.8 then takes [1, 9]; a third copy is a FP
    preds = results({"v": [prediction(0, 9, 0.9), prediction(1, 9, 0.8), prediction(0, 9, 0.7)]})
    assert counts(evaluate_spotting(gt, preds)) == (2, 1, 0)
    # with one interval only, the two exact copies cannot both match it
    single = {"v": video("s1", [instance(0, 9)])}
    assert counts(evaluate_spotting(single, results({"v": [prediction(0, 9, 0.9), prediction(0, 9, 0.8)]}))) == (1, 1, 0)


def test_types_and_videos_must_match() -> None:
    gt = {"a": video("s1", [instance(0, 9, "micro")]), "b": video("s1", [instance(0, 9, "macro")])}
    # a macro prediction on the micro interval and a right-type prediction in the wrong video match nothing
    preds = results({"a": [prediction(0, 9, 0.9, "macro")], "b": [prediction(0, 9, 0.9, "micro")]})
    result = evaluate_spotting(gt, preds)
    assert counts(result, "MaE") == (0, 1, 1) and counts(result, "ME") == (0, 1, 1)
    assert counts(result) == (0, 2, 2)


def test_counts_are_pooled_over_subjects_not_averaged() -> None:
    gt = {"a": video("s1", [instance(0, 9)]),
          "b": video("s2", [instance(0, 9), instance(20, 29), instance(40, 49)])}
    preds = results({"a": [prediction(0, 9, 0.9)], "b": [prediction(100, 109, 0.9)]})
    # s1 alone: TP 1 -> F1 1; s2 alone: TP 0, FP 1, FN 3 -> F1 0; the mean of the two would be 0.5.
    assert evaluate_spotting(gt, preds, "s1").to_json()["overall"]["f1"] == 1.0
    assert evaluate_spotting(gt, preds, "s2").to_json()["overall"]["f1"] == 0.0
    # pooled: TP 1, FP 1, FN 3 -> F1 2 / (2 + 1 + 3) = 1/3, P 1/2, R 1/4
    pooled = evaluate_spotting(gt, preds).to_json()["overall"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (1, 1, 3)
    assert pooled["f1"] == pytest.approx(1 / 3)
    assert (pooled["precision"], pooled["recall"]) == (0.5, 0.25)


def test_per_type_and_overall_by_hand() -> None:
    gt = {"v": video("s1", [instance(0, 29), instance(100, 129), instance(200, 209, "micro")])}
    preds = results({"v": [prediction(0, 29, 0.9), prediction(300, 329, 0.8),
                           prediction(200, 209, 0.7, "micro"), prediction(400, 409, 0.6, "micro")]})
    metrics = evaluate_spotting(gt, preds).to_json()
    # MaE: TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 2/4; ME: TP 1, FP 1, FN 0 -> P 1/2, R 1, F1 2/3
    # overall: TP 2, FP 2, FN 1 -> P 2/4, R 2/3, F1 4/7
    assert metrics["MaE"] == {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert metrics["ME"]["f1"] == pytest.approx(2 / 3) and metrics["ME"]["recall"] == 1.0
    assert metrics["overall"]["f1"] == pytest.approx(4 / 7) and metrics["overall"]["recall"] == pytest.approx(2 / 3)


def test_apex_error_by_hand() -> None:
    gt = {"v": video("s1", [instance(10, 19, apex=12), instance(40, 44, "micro", apex=42), instance(60, 69)])}
    preds = results({"v": [prediction(10, 19, 0.9, apex=15), prediction(40, 44, 0.8, "micro", apex=42),
                           prediction(500, 509, 0.7, apex=505)]})
    # TPs: |12 - 15| / (19 - 10 + 1) = 0.3 and |42 - 42| / 5 = 0; the FP does not count -> 0.15
    assert evaluate_spotting(gt, preds).apex_error == pytest.approx(0.15)
    assert evaluate_spotting(gt, results({"v": [prediction(500, 509, 0.7)]})).to_json()["apex_error"] is None


def test_zero_over_zero_is_zero_and_missing_videos_are_false_negatives() -> None:
    gt = {"a": video("s1", [instance(0, 9)]), "b": video("s1", [instance(0, 9)])}
    metrics = evaluate_spotting(gt, results({"a": [prediction(0, 9, 0.9)]})).to_json()
    assert (metrics["MaE"]["tp"], metrics["MaE"]["fn"]) == (1, 1)  # video b has no predictions: its interval is a FN
    # no ME anywhere: P = R = F1 = 0 (0/0 is 0), not NaN
    assert metrics["ME"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    empty = evaluate_spotting(gt, results({})).to_json()["overall"]
    assert (empty["precision"], empty["recall"], empty["f1"]) == (0.0, 0.0, 0.0)


def test_subset_selects_one_subject() -> None:
    gt = {"a": video("s1", [instance(0, 9)]), "b": video("s2", [instance(0, 9)])}
    preds = results({"a": [prediction(0, 9, 0.9)], "b": [prediction(50, 59, 0.9)]})
    assert counts(evaluate_spotting(gt, preds, "s1")) == (1, 0, 0)  # s2's video and its FP are out of the subset
    assert counts(evaluate_spotting(gt, preds, "s2")) == (0, 1, 1)
    assert counts(evaluate_spotting(gt, preds, "all")) == (1, 1, 1)
    with pytest.raises(SentilocError, match=r"subset 's9' is no subject.*\['s1', 's2'\]"):
        evaluate_spotting(gt, preds, "s9")
    assert has_instances(gt, "s1") and has_instances(gt, "all") and not has_instances(gt, "s9")
    assert not has_instances({"c": video("s3", [])}, "s3")


def test_unknown_videos_are_ignored_with_a_warning(sentiloc_log: pytest.LogCaptureFixture) -> None:
    gt = {"a": video("s1", [instance(0, 9)])}
    result = evaluate_spotting(gt, results({"a": [prediction(0, 9, 0.9)], "ghost": [prediction(0, 9, 0.9)]}))
    assert counts(result) == (1, 0, 0)
    assert "ghost" in sentiloc_log.text


def test_predictions_past_the_video_are_refused() -> None:
    gt = {"a": video("s1", [instance(0, 9)], n_frames=100)}
    assert counts(evaluate_spotting(gt, results({"a": [prediction(90, 99, 0.9)]}))) == (0, 1, 1)
    with pytest.raises(SentilocError, match="video 'a'.*frame 100, past its last frame 99") as info:
        evaluate_spotting(gt, results({"a": [prediction(90, 100, 0.9)]}))
    assert "\n" not in str(info.value)
    with pytest.raises(SentilocError, match="--iou 'exact'"):
        evaluate_spotting(gt, results({}), iou="exact")


# --------------------------------------------------------------------------- output


def test_metrics_json_has_the_contract_shape() -> None:
    gt = {"v": video("s1", [instance(0, 9)])}
    metrics = evaluate_spotting(gt, results({"v": [prediction(0, 9, 0.9)]})).to_json()
    assert list(metrics) == ["overall", "MaE", "ME", "apex_error", "iou"]
    for key in ("overall", "MaE", "ME"):
        assert list(metrics[key]) == ["tp", "fp", "fn", "precision", "recall", "f1"]
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics
    table = format_table(evaluate_spotting(gt, results({"v": [prediction(0, 9, 0.9)]})))
    assert "overall" in table and "MaE" in table and "continuous" in table and "1.0000" in table


def test_registered_as_spotting_with_the_overall_f1_headline() -> None:
    evaluator = EVALUATORS.get("spotting")
    gt = {"v": video("s1", [instance(0, 9), instance(50, 59)])}
    metrics = evaluator.evaluate(gt, results({"v": [prediction(0, 9, 0.9)]}), "all").to_json()
    # TP 1, FP 0, FN 1 -> F1 2 / 3
    assert evaluator.headline_value(metrics) == pytest.approx(2 / 3)
    assert evaluator.has_ground_truth(gt, "all")
    assert EVALUATORS.get("detection").headline_value({"average_mAP": 0.25}) == 0.25


# --------------------------------------------------------------------------- the predictions file


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "pred.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_load_predictions_accepts_the_contract(tmp_path: Path) -> None:
    raw = results({"v": [prediction(0, 9, 0.5, apex=4)], "w": []})
    assert load_predictions(write(tmp_path, raw)) == raw


@pytest.mark.parametrize(("content", "message"), [
    ({"unit": "frame", "results": {}}, "not a spotting predictions file"),
    ({"version": PREDICTIONS_VERSION, "unit": "second", "results": {}}, "not a spotting predictions file"),
    ({"version": PREDICTIONS_VERSION, "unit": "frame", "results": []}, '"results" must be an object'),
    (results({"v": {"onset": 0}}), "video 'v' must be a list"),
    (results({"v": [{**prediction(0, 9, 0.5), "onset": 0.0}]}), "is not"),
    (results({"v": [{**prediction(0, 9, 0.5), "apex": True}]}), "is not"),
    (results({"v": [{"onset": 0, "apex": 0, "offset": 9, "score": 0.5}]}), "type None"),
    (results({"v": [prediction(0, 9, 0.5, kind="Macro")]}), "type 'Macro'"),
    (results({"v": [prediction(0, 9, "0.5")]}), "score '0.5'"),
    (results({"v": [prediction(0, 9, 0.5, apex=10)]}), "onset <= apex <= offset"),
    (results({"v": [prediction(-1, 9, 0.5, apex=0)]}), "onset <= apex <= offset"),
    (json.dumps(results({"v": [prediction(0, 9, float("nan"))]})), "score nan"),  # json writes NaN, reads it back
    ("{not json", "not valid JSON"),
])
def test_load_predictions_errors_name_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(SentilocError, match=message) as info:
        load_predictions(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_parse_predictions_in_memory_names_its_source() -> None:
    with pytest.raises(SentilocError, match="^fold-3: "):
        parse_predictions({"results": {}}, "fold-3")


# --------------------------------------------------------------------------- properties


KIND = st.sampled_from(["macro", "micro"])
#: (video, onset, length >= 1, type): continuous IoU of an interval with itself needs a positive length.
INSTANCE = st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 300), st.integers(1, 60), KIND)
SUBJECT = {"a": "s1", "b": "s1", "c": "s2"}


def ground_truth(rows: list[tuple], shift: int = 0) -> dict:
    gt = {v: video(SUBJECT[v], [], n_frames=400 + shift) for v in SUBJECT}
    for v, onset, length, kind in rows:
        gt[v]["instances"].append(instance(onset + shift, onset + length + shift, kind, onset + length // 2 + shift))
    return gt


def predicted(rows: list[tuple], scores: list[float], shift: int = 0) -> dict:
    per_video: dict[str, list] = {}
    for (v, onset, length, kind), score in zip(rows, scores):
        per_video.setdefault(v, []).append(prediction(onset + shift, onset + length + shift, score, kind,
                                                      onset + shift))
    return results(per_video)


@settings(max_examples=60, deadline=None)
@given(st.lists(INSTANCE, min_size=1, max_size=12), st.sampled_from(["continuous", "inclusive"]))
def test_perfect_predictions_score_one(rows: list, convention: str) -> None:
    scores = [1.0 - i / 100 for i in range(len(rows))]
    result = evaluate_spotting(ground_truth(rows), predicted(rows, scores), iou=convention).to_json()
    assert result["overall"]["f1"] == 1.0 and result["overall"]["fp"] == result["overall"]["fn"] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(INSTANCE, max_size=10), st.lists(INSTANCE, max_size=12),
       st.lists(st.floats(0, 1), min_size=12, max_size=12), st.integers(1, 500),
       st.sampled_from(["continuous", "inclusive"]), st.sampled_from(["all", "s1", "s2"]))
def test_fractions_and_a_common_shift(gt_rows: list, pred_rows: list, scores: list, shift: int, convention: str,
                                      subset: str) -> None:
    result = evaluate_spotting(ground_truth(gt_rows), predicted(pred_rows, scores), subset, convention).to_json()
    for key in ("overall", "MaE", "ME"):
        assert all(0.0 <= result[key][m] <= 1.0 for m in ("precision", "recall", "f1"))
    assert result["overall"]["tp"] + result["overall"]["fn"] == sum(SUBJECT[r[0]] == subset or subset == "all"
                                                                    for r in gt_rows)
    shifted = evaluate_spotting(ground_truth(gt_rows, shift), predicted(pred_rows, scores, shift), subset, convention)
    assert shifted.to_json() == result


def naive_counts(gt: dict, preds: dict, convention: str) -> tuple[int, int, int]:
    """MEGC counting written pair by pair, as a slow oracle."""
    extra = 1 if convention == "inclusive" else 0
    tp = fp = 0
    for video_id, entries in preds["results"].items():
        instances = gt[video_id]["instances"]
        taken = [False] * len(instances)
        for p in sorted(entries, key=lambda e: -e["score"]):  # sorted() is stable: equal scores keep file order
            best, best_iou = -1, -1.0
            for j, g in enumerate(instances):
                inter = max(0, min(p["offset"], g["offset"]) - max(p["onset"], g["onset"]) + extra)
                union = (p["offset"] - p["onset"] + extra) + (g["offset"] - g["onset"] + extra) - inter
                iou = inter / union if union > 0 else 0.0
                if g["type"] == p["type"] and not taken[j] and iou >= 0.5 and iou > best_iou:
                    best, best_iou = j, iou
            if best >= 0:
                taken[best] = True
                tp += 1
            else:
                fp += 1
    n_gt = sum(len(v["instances"]) for v in gt.values())
    return tp, fp, n_gt - tp


@settings(max_examples=80, deadline=None)
@given(st.lists(INSTANCE, max_size=12), st.lists(INSTANCE, max_size=16),
       st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=16, max_size=16),
       st.sampled_from(["continuous", "inclusive"]))
def test_matching_agrees_with_a_pair_by_pair_oracle(gt_rows: list, pred_rows: list, scores: list,
                                                    convention: str) -> None:
    # few distinct scores, so ties between predictions are common
    gt, preds = ground_truth(gt_rows), predicted(pred_rows, scores)
    assert counts(evaluate_spotting(gt, preds, iou=convention)) == naive_counts(gt, preds, convention)


def test_ground_truth_through_the_data_folder_reader(tmp_path: Path) -> None:
    (tmp_path / "videos.csv").write_text("video,subject,fps,n_frames\nv1,s1,30,100\nv2,s2,200,50\n", encoding="utf-8")
    (tmp_path / "annotations.csv").write_text("video,onset,apex,offset,type\nv1,10,12,19,macro\nv2,3,4,5,micro\n",
                                              encoding="utf-8")
    evaluator = EVALUATORS.get("spotting")
    gt = evaluator.load_ground_truth(tmp_path)
    assert gt["v1"] == video("s1", [instance(10, 19, apex=12)], n_frames=100)
    preds = results({"v1": [prediction(10, 14, 0.9, apex=12)], "v2": [prediction(3, 5, 0.8, "micro", apex=4)]})
    # v1: [10, 14] vs [10, 19] continuous 4/9 -> miss; v2: exact -> TP. MaE FP 1 FN 1, ME TP 1
    result = evaluator.evaluate(gt, preds, "all")
    assert counts(result, "MaE") == (0, 1, 1) and counts(result, "ME") == (1, 0, 0)
    with pytest.raises(SentilocError, match="videos.csv"):
        evaluator.load_ground_truth(tmp_path / "missing")
