"""Recognition metrics (accuracy = WAR, UAR, keyframe mAP): hand-computed cases, subsets, file validation, properties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.evaluation.recognition import (
    KEYFRAME_TIOU,
    evaluate_recognition,
    fold_summary,
    format_table,
    has_labelled_videos,
    load_ground_truth,
    load_predictions,
    parse_predictions,
    run_evaluate,
    table_row,
)
from sentiloc.evaluation.registry import EVALUATORS
from sentiloc.postprocess.recognition import PREDICTIONS_VERSION
from tests.data.recognition.conftest import make_recognition_dataset

CLASSES = ["anger", "joy", "sadness"]


def ground_truth(labels: dict[str, str | None], split: dict | None = None, fold: dict | None = None,
                 keyframes: dict | None = None, classes: list[str] = CLASSES) -> dict:
    """The dict :func:`load_ground_truth` returns, written by hand."""
    return {"classes": list(classes),
            "labels": {v: None if name is None else classes.index(name) for v, name in labels.items()},
            "split": {v: (split or {}).get(v) for v in labels},
            "fold": {v: (fold or {}).get(v) for v in labels},
            "keyframes": keyframes}


def entry(label: str, classes: list[str] = CLASSES, evidence: list | None = None, length: int = 10) -> dict:
    """A prediction of ``label`` with probability 0.8 (the rest shared), attention of ``length`` segments."""
    scores = [0.8 if name == label else 0.2 / (len(classes) - 1) for name in classes]
    made = {"label": label, "scores": scores, "attention": [0.5] * length}
    if evidence is not None:
        made["evidence"] = [{"segment": list(segment), "score": score} for segment, score in evidence]
    return made


def predictions(per_video: dict[str, dict], classes: list[str] = CLASSES) -> dict:
    return {"version": PREDICTIONS_VERSION, "classes": list(classes), "results": per_video}


def hand_case() -> tuple[dict, dict]:
    """10 videos: anger x4, joy x3, sadness x3, with the predictions of the confusion matrix below."""
    truth = ["anger"] * 4 + ["joy"] * 3 + ["sadness"] * 3
    guess = ["anger", "anger", "anger", "joy", "joy", "sadness", "sadness", "sadness", "sadness", "anger"]
    labels = {f"v{i}": name for i, name in enumerate(truth)}
    return ground_truth(labels), predictions({f"v{i}": entry(name) for i, name in enumerate(guess)})


# --------------------------------------------------------------------------- metrics by hand


def test_confusion_accuracy_and_uar_by_hand() -> None:
    gt, preds = hand_case()
    metrics = evaluate_recognition(gt, preds).to_json()
    # rows true, columns predicted:
    #            anger joy sadness
    #   anger      3    1    0       recall 3/4
    #   joy        0    1    2       recall 1/3
    #   sadness    1    0    2       recall 2/3
    assert metrics["confusion"] == [[3, 1, 0], [0, 1, 2], [1, 0, 2]]
    # accuracy = WAR = (3 + 1 + 2) / 10 = 0.6; UAR = (3/4 + 1/3 + 2/3) / 3 = 1.75 / 3
    assert metrics["accuracy"] == pytest.approx(0.6) and metrics["war"] == metrics["accuracy"]
    assert metrics["uar"] == pytest.approx(1.75 / 3)
    assert metrics["per_class_recall"] == pytest.approx({"anger": 0.75, "joy": 1 / 3, "sadness": 2 / 3})
    assert metrics["videos"] == 10 and metrics["missing_predictions"] == 0 and metrics["keyframes"] is None
    assert metrics["classes"] == CLASSES
    json.dumps(metrics, allow_nan=False)


def test_uar_skips_a_class_without_videos() -> None:
    gt = ground_truth({"a1": "anger", "a2": "anger", "j1": "joy", "j2": "joy"})
    preds = predictions({"a1": entry("anger"), "a2": entry("sadness"), "j1": entry("joy"), "j2": entry("joy")})
    metrics = evaluate_recognition(gt, preds).to_json()
    # [[1, 0, 1], [0, 2, 0], [0, 0, 0]]: recall anger 1/2, joy 2/2, sadness has no video (null, not 0);
    # UAR = (1/2 + 1) / 2 = 0.75 (a 0 for sadness would give 0.5); accuracy 3/4
    assert metrics["confusion"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    assert metrics["per_class_recall"] == {"anger": 0.5, "joy": 1.0, "sadness": None}
    assert metrics["uar"] == pytest.approx(0.75) and metrics["accuracy"] == pytest.approx(0.75)


def test_missing_predictions_count_as_wrong(sentiloc_log: pytest.LogCaptureFixture) -> None:
    gt = ground_truth({"a1": "anger", "a2": "anger", "j1": "joy", "j2": "joy"})
    preds = predictions({"a1": entry("anger"), "j1": entry("joy"), "j2": entry("joy")})
    metrics = evaluate_recognition(gt, preds).to_json()
    # a2 has no prediction: in no cell of the matrix, but in anger's 2 videos -> recall 1/2, accuracy 3/4
    assert metrics["confusion"] == [[1, 0, 0], [0, 2, 0], [0, 0, 0]]
    assert metrics["missing_predictions"] == 1 and metrics["videos"] == 4
    assert metrics["accuracy"] == pytest.approx(0.75) and metrics["uar"] == pytest.approx(0.75)
    assert "1 of 4 video(s) of subset 'all' have no prediction" in sentiloc_log.text and "a2" in sentiloc_log.text


def test_unknown_and_unlabelled_videos(sentiloc_log: pytest.LogCaptureFixture) -> None:
    gt = ground_truth({"a1": "anger", "t1": None}, split={"a1": "test", "t1": "test"})
    preds = predictions({"a1": entry("anger"), "t1": entry("joy"), "stranger": entry("joy")})
    metrics = evaluate_recognition(gt, preds, "test").to_json()
    # the unlabelled t1 is not scored; "stranger" is not in the labels file: ignored with a warning
    assert metrics["videos"] == 1 and metrics["accuracy"] == 1.0
    assert "absent from the labels file" in sentiloc_log.text and "stranger" in sentiloc_log.text


def test_prediction_classes_are_matched_by_name() -> None:
    gt, preds = hand_case()
    shuffled = ["sadness", "anger", "joy"]
    reordered = predictions({v: entry(e["label"], shuffled) for v, e in preds["results"].items()}, shuffled)
    assert evaluate_recognition(gt, reordered).to_json() == evaluate_recognition(gt, preds).to_json()
    # a model of two of the three classes is scored on the same footing
    subset_classes = ["joy", "anger"]
    two = predictions({"v0": entry("anger", subset_classes)}, subset_classes)
    assert evaluate_recognition(ground_truth({"v0": "anger"}), two).accuracy == 1.0


def test_a_class_the_dataset_lacks_is_refused() -> None:
    gt = ground_truth({"v0": "anger"})
    strange = ["anger", "fear"]
    with pytest.raises(SentilocError, match=r"class\(es\) \['fear'\] are not in classes.txt"):
        evaluate_recognition(gt, predictions({"v0": entry("anger", strange)}, strange))


# --------------------------------------------------------------------------- subsets


SPLIT_AND_FOLD = ground_truth({"a1": "anger", "a2": "anger", "j1": "joy", "j2": "joy", "u1": None},
                              split={"a1": "train", "a2": "test", "j1": "train", "j2": "test", "u1": "test"},
                              fold={"a1": 1, "a2": 2, "j1": 2, "j2": 1, "u1": 1})


@pytest.mark.parametrize(("subset", "videos"), [
    ("all", 4), ("train", 2), ("test", 2), ("fold:1", 2), ("fold:2", 2)])
def test_subsets_select_labelled_videos(subset: str, videos: int) -> None:
    preds = predictions({v: entry("anger") for v in ("a1", "a2", "j1", "j2", "u1")})
    assert evaluate_recognition(SPLIT_AND_FOLD, preds, subset).videos == videos
    assert has_labelled_videos(SPLIT_AND_FOLD, subset)


@pytest.mark.parametrize(("gt", "subset", "message"), [
    (SPLIT_AND_FOLD, "validation", "use all, train, test or fold:K"),
    (SPLIT_AND_FOLD, "fold:x", "use all, train, test or fold:K"),
    (SPLIT_AND_FOLD, "fold:\u00b2", "use all, train, test or fold:K"),
    (SPLIT_AND_FOLD, "fold:3", r"has folds 1\.\.2"),
    (ground_truth({"a1": "anger"}, fold={"a1": 1}), "test", "no split column"),
    (ground_truth({"a1": "anger"}, split={"a1": "train"}), "fold:1", "no fold column"),
    (ground_truth({"a1": "anger", "u1": None}, split={"a1": "train", "u1": "test"}), "test", "no labelled video"),
])
def test_unknown_or_empty_subsets_are_one_line_errors(gt: dict, subset: str, message: str) -> None:
    with pytest.raises(SentilocError, match=message) as error:
        evaluate_recognition(gt, predictions({"a1": entry("anger")}), subset)
    assert "\n" not in str(error.value)
    assert not has_labelled_videos(gt, subset)


# --------------------------------------------------------------------------- keyframe detection


def keyframe_case(evidence: dict[str, list] | None, keyframes: dict | None = None) -> dict | None:
    """The keyframe metrics of two anger videos whose keyframes are v1 [2, 5] and v2 [0, 1], [7, 8]."""
    keyframes = {"v1": [[2, 5]], "v2": [[0, 1], [7, 8]]} if keyframes is None else keyframes
    gt = ground_truth({"v1": "anger", "v2": "anger"}, keyframes=keyframes)
    preds = predictions({v: entry("anger", evidence=None if evidence is None else evidence.get(v, []))
                         for v in ("v1", "v2")})
    return evaluate_recognition(gt, preds).to_json()["keyframes"]


def test_perfect_evidence_scores_one() -> None:
    metrics = keyframe_case({"v1": [([2, 5], 0.9)], "v2": [([0, 1], 0.8), ([7, 8], 0.7)]})
    assert metrics == {"tiou": [0.1, 0.2, 0.3, 0.4, 0.5], "mAP": [1.0] * 5, "average_mAP": 1.0, "videos": 2}
    assert list(KEYFRAME_TIOU) == metrics["tiou"]


def test_shifted_evidence_by_hand() -> None:
    # [3, 6] vs [2, 5]: segments 3..5 shared = 3, segments in either 2..6 = 5 -> tIoU 0.6, a hit at every threshold;
    # [4, 7] vs [2, 5]: 2 shared of 6 -> 1/3, a hit at 0.1, 0.2, 0.3 only.
    # v1 found once of 3 keyframe spans: AP = 1/3 where it hits, 0 elsewhere
    one_third = 1 / 3
    assert keyframe_case({"v1": [([3, 6], 0.9)]})["mAP"] == pytest.approx([one_third] * 5)
    shifted = keyframe_case({"v1": [([4, 7], 0.9)]})
    assert shifted["mAP"] == pytest.approx([one_third] * 3 + [0, 0])
    assert shifted["average_mAP"] == pytest.approx(one_third * 3 / 5)
    # inclusive ends: [5, 5] vs [2, 5] is 1 of 4 segments = 0.25 (a continuous reading of [5, 5] would be empty)
    assert keyframe_case({"v1": [([5, 5], 0.9)]})["mAP"] == pytest.approx([one_third] * 2 + [0] * 3)


def test_ranking_puts_a_false_positive_first() -> None:
    # ranked: v2 [4, 5] (0.9, hits nothing), then v1 [2, 5] (0.5, a hit): precision 1/2 at recall 1/3
    # VOC AP = (1/2) / 3 spans = 1/6 at every threshold
    metrics = keyframe_case({"v1": [([2, 5], 0.5)], "v2": [([4, 5], 0.9)]})
    assert metrics["mAP"] == pytest.approx([1 / 6] * 5)


def test_empty_evidence_and_when_keyframes_do_not_apply() -> None:
    # evidence given but empty everywhere: detection scores 0
    assert keyframe_case({})["mAP"] == [0.0] * 5
    # no evidence field in the predictions, no keyframes.json, no span in the subset: null
    assert keyframe_case(None) is None
    gt = ground_truth({"v1": "anger"})
    assert evaluate_recognition(gt, predictions({"v1": entry("anger", evidence=[])})).keyframes is None
    assert keyframe_case({"v1": [([2, 5], 0.5)]}, keyframes={"v1": [], "v2": []}) is None


def test_only_annotated_videos_are_scored() -> None:
    # v2 has no keyframes.json entry: its evidence is neither a hit nor a false positive
    metrics = keyframe_case({"v1": [([2, 5], 0.5)], "v2": [([0, 9], 0.9)]}, keyframes={"v1": [[2, 5]]})
    assert metrics["mAP"] == [1.0] * 5 and metrics["videos"] == 1


def test_keyframes_past_the_predicted_segments_are_refused() -> None:
    # v1's attention has 10 segments (0..9); a keyframe [8, 12] cannot be on the same grid
    with pytest.raises(SentilocError, match=r"keyframe ending at segment 12 but its prediction has 10 segments"):
        keyframe_case({"v1": [([2, 5], 0.5)]}, keyframes={"v1": [[8, 12]]})
    with pytest.raises(SentilocError, match="same segments"):
        keyframe_case({"v1": [([2, 5], 0.5)]}, keyframes={"v1": [[0, 1]], "v2": [[0, 10 ** 400]]})


# --------------------------------------------------------------------------- folds


def test_fold_summary_by_hand() -> None:
    per_fold = {"1": {"accuracy": 0.5, "uar": 0.4, "war": 0.5}, "2": {"accuracy": 0.7, "uar": 0.6, "war": 0.7},
                "3": {"accuracy": 0.6, "uar": 0.8, "war": 0.6}}
    summary = fold_summary(per_fold)
    # means 1.8/3 = 0.6 and 1.8/3 = 0.6; sample std of (0.5, 0.7, 0.6): sqrt((0.01 + 0.01 + 0) / 2) = 0.1,
    # of (0.4, 0.6, 0.8): sqrt((0.04 + 0 + 0.04) / 2) = 0.2
    assert summary["accuracy"] == pytest.approx(0.6) and summary["uar"] == pytest.approx(0.6)
    assert summary["std"] == pytest.approx({"accuracy": 0.1, "uar": 0.2, "war": 0.1})
    assert summary["per_fold"] == [{"fold": "1", "accuracy": 0.5, "uar": 0.4, "war": 0.5},
                                   {"fold": "2", "accuracy": 0.7, "uar": 0.6, "war": 0.7},
                                   {"fold": "3", "accuracy": 0.6, "uar": 0.8, "war": 0.6}]
    one = fold_summary({"test": per_fold["1"]})
    assert one["std"] == {"accuracy": None, "uar": None, "war": None} and one["accuracy"] == 0.5
    with pytest.raises(SentilocError, match="no fold"):
        fold_summary({})


def test_registered_evaluator() -> None:
    evaluator = EVALUATORS.get("recognition")
    gt, preds = hand_case()
    metrics = evaluator.evaluate(gt, preds, "all").to_json()
    assert evaluator.headline_value(metrics) == pytest.approx(0.6)
    assert evaluator.fold_summary is fold_summary and EVALUATORS.get("detection").fold_summary is None
    assert evaluator.table_row(metrics) == pytest.approx({"accuracy": 60.0, "uar": 100 * 1.75 / 3})
    assert table_row is evaluator.table_row
    with_keyframes = {**metrics, "keyframes": {"average_mAP": 0.25}}
    assert table_row(with_keyframes) == pytest.approx({"accuracy": 60.0, "uar": 100 * 1.75 / 3, "keyframe_mAP": 25.0})


def test_format_table() -> None:
    gt = ground_truth({"a1": "anger", "a2": "anger", "j1": "joy"}, keyframes={"a1": [[0, 1]]})
    preds = predictions({"a1": entry("anger", evidence=[([0, 1], 0.9)]), "j1": entry("anger")})
    text = format_table(evaluate_recognition(gt, preds))
    assert "videos: 3, 1 without a prediction (counted wrong)" in text
    assert "accuracy (WAR) 33.33 %, UAR 25.00 %" in text
    assert "sadness" in text and "n/a" in text
    assert "keyframe mAP (%), 1 annotated videos" in text and "average 100.00" in text


# --------------------------------------------------------------------------- files


def write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def good_file() -> dict:
    return predictions({"v1": entry("joy", evidence=[([0, 2], 0.5)], length=4)})


def broken(change) -> dict:
    content = good_file()
    change(content)
    return content


HOSTILE = {
    "not json": ("{", "not valid JSON"),
    "a list": ([], "not a recognition predictions file"),
    "old version": ({**good_file(), "version": "sentiloc-recognition-0"}, "not a recognition predictions file"),
    "spotting file": ({"version": "sentiloc-spotting-1", "unit": "frame", "results": {}}, "not a recognition"),
    "one class": (broken(lambda c: c.update(classes=["joy"])), "at least two distinct class names"),
    "duplicate classes": (broken(lambda c: c.update(classes=["joy", "joy", "anger"])), "distinct"),
    "class not a string": (broken(lambda c: c.update(classes=["joy", 3, "anger"])), "distinct"),
    "no results": (broken(lambda c: c.update(results={})), "non-empty object"),
    "results a list": (broken(lambda c: c.update(results=[])), "non-empty object"),
    "entry a list": (broken(lambda c: c["results"].update(v1=[])), "is not"),
    "unknown label": (broken(lambda c: c["results"]["v1"].update(label="fear")), "has label 'fear'"),
    "short scores": (broken(lambda c: c["results"]["v1"].update(scores=[0.5, 0.5])), "3 finite numbers"),
    "string score": (broken(lambda c: c["results"]["v1"].update(scores=["0.8", 0.1, 0.1])), "3 finite numbers"),
    "bool score": (broken(lambda c: c["results"]["v1"].update(scores=[True, 0, 0])), "3 finite numbers"),
    "nan score": (('{"version": "sentiloc-recognition-1", "classes": ["a", "b"], "results": '
                   '{"v1": {"label": "a", "scores": [NaN, 1.0]}}}'), "2 finite numbers"),
    "scores sum": (broken(lambda c: c["results"]["v1"].update(scores=[0.5, 0.1, 0.1])), "summing to 0.7"),
    "negative score": (broken(lambda c: c["results"]["v1"].update(scores=[1.5, -0.25, -0.25])), "below 0"),
    "attention above 1": (broken(lambda c: c["results"]["v1"].update(attention=[0.5, 1.5])), "attention"),
    "attention empty": (broken(lambda c: c["results"]["v1"].update(attention=[])), "attention"),
    "attention strings": (broken(lambda c: c["results"]["v1"].update(attention="0.5")), "attention"),
    "evidence a dict": (broken(lambda c: c["results"]["v1"].update(evidence={})), "not a list of segments"),
    "float segment": (broken(lambda c: c["results"]["v1"]["evidence"][0].update(segment=[0.0, 2])), "evidence"),
    "reversed segment": (broken(lambda c: c["results"]["v1"]["evidence"][0].update(segment=[2, 1])),
                         "0 <= first <= last"),
    "segment past attention": (broken(lambda c: c["results"]["v1"]["evidence"][0].update(segment=[2, 4])),
                               "< 4"),
    "segment score string": (broken(lambda c: c["results"]["v1"]["evidence"][0].update(score="high")), "evidence"),
    "segment without score": (broken(lambda c: c["results"]["v1"]["evidence"][0].pop("score")), "evidence"),
    "huge segment score": (broken(lambda c: c["results"]["v1"]["evidence"][0].update(score=10**400)), "evidence"),
    "huge attention": (broken(lambda c: c["results"]["v1"].update(attention=[0.5, 10**400])), "attention"),
    "huge score": (broken(lambda c: c["results"]["v1"].update(scores=[10**400, 0, 0])), "3 finite numbers"),
    "evidence without attention": (broken(lambda c: c["results"]["v1"].pop("attention")), "no attention"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_prediction_files_fail_in_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    content, message = HOSTILE[case]
    path = write(tmp_path / "pred.json", content)
    with pytest.raises(SentilocError, match=message) as error:
        load_predictions(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_a_valid_file_passes_and_optional_fields_may_be_absent(tmp_path: Path) -> None:
    assert load_predictions(write(tmp_path / "pred.json", good_file()))["classes"] == CLASSES
    # a classifier without attention: scored for accuracy, no keyframe detection
    bare = predictions({"v1": {"label": "joy", "scores": [0.1, 0.8, 0.1]}})
    assert parse_predictions(bare, "bare.json") is bare


# --------------------------------------------------------------------------- the DATA folder


def test_ground_truth_from_the_data_folder(tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    gt = load_ground_truth(data)
    assert gt["classes"] == CLASSES
    assert gt["labels"]["v_joy_2"] == 1 and gt["split"]["v_joy_2"] == "test" and gt["fold"]["v_joy_2"] == 1
    assert gt["keyframes"]["v_joy_2"] == [[3, 3], [5, 6]]
    # a labels file other than labels.csv, named by its path (data.labels_file)
    (data / "labels_b.csv").write_text("video,label,split\nv_joy_2,joy,test\nv_sad_2,sadness,train\n")
    (data / "keyframes.json").unlink()
    other = load_ground_truth(data / "labels_b.csv")
    assert other["labels"] == {"v_joy_2": 1, "v_sad_2": 2} and other["keyframes"] is None
    (data / "classes.txt").write_text("anger\n\njoy\n")
    with pytest.raises(SentilocError, match="classes.txt"):
        load_ground_truth(data)


def test_run_evaluate_writes_json_and_refuses_to_clobber(tmp_path: Path) -> None:
    data = make_recognition_dataset(tmp_path / "data")
    # the test split: v_anger_2 right (its keyframe [0, 0] found), v_joy_2 wrong, v_sad_2 right
    preds = predictions({"v_anger_2": entry("anger", evidence=[([0, 0], 0.9)], length=4),
                         "v_joy_2": entry("sadness", evidence=[([3, 3], 0.8)], length=7),
                         "v_sad_2": entry("sadness", evidence=[], length=6)})
    pred_path, out = write(tmp_path / "pred.json", preds), tmp_path / "metrics.json"
    result = run_evaluate(data, pred_path, json_out=out)
    written = json.loads(out.read_text())
    assert written == result.to_json() and written["accuracy"] == pytest.approx(2 / 3)
    # 4 keyframe spans in the test split (anger_2 1, joy_2 2, sad_2 1), 2 found at rank 1 and 2: AP 2/4
    assert written["keyframes"]["mAP"] == pytest.approx([0.5] * 5) and written["keyframes"]["videos"] == 3
    with pytest.raises(SentilocError, match="already exists"):
        run_evaluate(data, pred_path, json_out=out)
    assert run_evaluate(data, pred_path, subset="fold:1", json_out=out, overwrite=True).videos == 3


# --------------------------------------------------------------------------- properties


LABELS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3) | st.none()), min_size=1, max_size=30)
CLASSES4 = ["a", "b", "c", "d"]


def random_case(pairs: list[tuple[int, int | None]], classes: list[str] = CLASSES4) -> tuple[dict, dict]:
    gt = ground_truth({f"v{i}": CLASSES4[t] for i, (t, _) in enumerate(pairs)}, classes=classes)
    preds = predictions({f"v{i}": entry(CLASSES4[p], classes) for i, (_, p) in enumerate(pairs) if p is not None},
                        classes)
    return gt, preds


@settings(max_examples=60, deadline=None)
@given(LABELS, st.permutations(CLASSES4))
def test_rates_are_fractions_and_class_order_does_not_matter(pairs: list, order: list) -> None:
    gt, preds = random_case(pairs)
    metrics = evaluate_recognition(gt, preds).to_json()
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["uar"] <= 1
    assert metrics["accuracy"] == pytest.approx(np.trace(metrics["confusion"]) / len(pairs))
    assert np.sum(metrics["confusion"]) + metrics["missing_predictions"] == len(pairs)
    # the prediction file's class order is irrelevant
    _, reordered = random_case(pairs, list(order))
    assert evaluate_recognition(gt, reordered).to_json() == metrics
    # classes.txt in another order permutes the matrix and leaves the rates alone
    gt_reordered, _ = random_case(pairs, list(order))
    permuted = evaluate_recognition(gt_reordered, preds).to_json()
    assert permuted["accuracy"] == metrics["accuracy"] and permuted["uar"] == pytest.approx(metrics["uar"])
    where = [CLASSES4.index(name) for name in order]
    assert permuted["confusion"] == np.array(metrics["confusion"])[np.ix_(where, where)].tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=30))
def test_perfect_predictions_score_one(truth: list) -> None:
    gt, preds = random_case([(t, t) for t in truth])
    metrics = evaluate_recognition(gt, preds).to_json()
    assert metrics["accuracy"] == 1.0 and metrics["uar"] == 1.0 and metrics["war"] == 1.0
    assert all(r in (1.0, None) for r in metrics["per_class_recall"].values())


SPANS = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 3)).map(lambda p: [p[0], p[0] + p[1]]), max_size=3)


@settings(max_examples=40, deadline=None)
@given(st.lists(SPANS, min_size=1, max_size=5), st.integers(0, 2))
def test_evidence_equal_to_the_keyframes_scores_one(spans: list, shift: int) -> None:
    keyframes = {f"v{i}": video_spans for i, video_spans in enumerate(spans)}
    gt = ground_truth({video: "anger" for video in keyframes}, keyframes=keyframes)

    def detected(offset: int) -> dict | None:
        per_video = {v: entry("anger", evidence=[([a + offset, b + offset], 1.0 - 0.01 * k)
                                                 for k, (a, b) in enumerate(s)], length=20)
                     for v, s in keyframes.items()}
        return evaluate_recognition(gt, predictions(per_video)).to_json()["keyframes"]

    perfect = detected(0)
    if not any(spans):
        assert perfect is None
        return
    assert perfect["mAP"] == [1.0] * 5 and perfect["average_mAP"] == 1.0
    assert all(0.0 <= m <= 1.0 for m in detected(shift)["mAP"])
