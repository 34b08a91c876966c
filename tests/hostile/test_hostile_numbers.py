"""Numbers at the edge of what floats and Python hold: one logged line or one-line refusal, no raw warning."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from tests.hostile.conftest import Harness

TEST0 = "100_sim_test_0"
DIGITS = "1" + "0" * 400  # an integer past the float range
MANY_DIGITS = "1" + "0" * 5000  # past Python's integer-to-text limit (4300 digits)


def prediction_text(segment: str, score: str = "0.9") -> str:
    return f'{{"results": {{"{TEST0}": [{{"label": "p", "score": {score}, "segment": {segment}}}]}}}}'


@pytest.mark.parametrize(("segment", "score", "expected"), [
    (f"[0, {DIGITS}]", "0.9", "malformed prediction"),
    ("[0, 3]", DIGITS, "malformed prediction"),
    ("[0, 3]", MANY_DIGITS, "holds a number Python refuses to read"),
], ids=["end-past-float", "score-past-float", "score-5001-digits"])
def test_numbers_past_the_float_range_are_refused(segment: str, score: str, expected: str, harness: Harness) -> None:
    (harness.tmp / "pred.json").write_text(prediction_text(segment, score))
    assert expected in harness.refuses(harness.argv("evaluate"), "pred.json")


def test_a_ground_truth_bound_past_the_float_range_is_refused(harness: Harness) -> None:
    text = (harness.data / "gt.json").read_text()
    raw = json.loads(text)
    raw["database"][TEST0]["annotations"][0]["segment"] = ["__BIG__", 3.0]
    (harness.data / "gt.json").write_text(json.dumps(raw).replace('"__BIG__"', DIGITS))
    (harness.tmp / "pred.json").write_text(prediction_text("[1, 3]"))
    assert "malformed annotation" in harness.refuses(harness.argv("evaluate"), "gt.json")


def test_a_union_past_the_float_range_is_one_log_line_not_a_numpy_warning(harness: Harness) -> None:
    """Segments [0, 1e308] of both files: their union (2e308) overflows; evaluate used to print
    numpy's ``RuntimeWarning: overflow encountered in add`` with a source line."""
    alone = harness.tmp / "gt_only"  # no len_duration_dict.json beside it, so no duration check refuses first
    alone.mkdir()
    shutil.copy(harness.data / "gt.json", alone / "gt.json")
    raw = json.loads((alone / "gt.json").read_text())
    raw["database"][TEST0]["annotations"] = [{"segment": [0.0, 1e308], "label": "p"}]
    (alone / "gt.json").write_text(json.dumps(raw))
    (harness.tmp / "pred.json").write_text(prediction_text("[1e307, 1.5e308]"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = harness.accepts(["evaluate", "--gt", str(alone / "gt.json"), "--pred", str(harness.tmp / "pred.json")])
    assert [str(w.message) for w in caught] == []
    err = [line for line in shown.splitlines() if not line.startswith((" ", "tIoU", "class-wise"))]
    assert err == [("warning: a prediction and a ground-truth segment span more than the float range (bounds near "
                    "1e308 s); such pairs count as misses (tIoU 0); check the segments' units")]


def test_float16_features_are_checked_without_a_numpy_warning(harness: Harness) -> None:
    """Half-precision features (half the storage, docs/scaling.md) are valid; the magnitude check used
    to print ``RuntimeWarning: overflow encountered in cast`` (its limit, 1e6, is past float16's range)."""
    for path in (harness.data / "features").rglob("*.npy"):
        np.save(path, np.load(path).astype(np.float16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shown = harness.accepts(harness.argv("check"))
    assert [str(w.message) for w in caught] == [] and "check-data: OK" in shown
