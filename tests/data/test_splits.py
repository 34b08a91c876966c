"""Hold-out, k-fold and leave-one-subject-out splits: seeded, disjoint, complete."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.data.splits import holdout, kfold, leave_one_subject_out


def test_holdout_is_seeded_and_disjoint() -> None:
    ids = [f"v{i}" for i in range(200)]
    train, val = holdout(ids, 0.1, seed=3)
    assert len(val) == 20 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert holdout(ids, 0.1, seed=3) == (train, val)
    assert holdout(ids, 0.1, seed=4)[1] != val
    assert holdout(ids, 0.0, seed=3) == (ids, [])
    assert len(holdout(["a", "b"], 0.1, seed=0)[1]) == 1  # a fraction > 0 holds out at least one video


@given(n=st.integers(2, 40), k=st.integers(2, 10), seed=st.integers(0, 5))
def test_kfold_holds_every_id_out_exactly_once(n: int, k: int, seed: int) -> None:
    ids = [f"v{i}" for i in range(n)]
    if k > n:
        with pytest.raises(SentilocError, match="k-fold"):
            kfold(ids, k, seed)
        return
    folds = kfold(ids, k, seed)
    held = [v for _, val in folds for v in val]
    assert sorted(held) == sorted(ids)
    sizes = [len(val) for _, val in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert set(train) | set(val) == set(ids) and not set(train) & set(val)


def test_leave_one_subject_out_holds_out_each_subject() -> None:
    subjects = {"a1": "s1", "a2": "s1", "b1": "s2", "c1": "s3"}
    folds = leave_one_subject_out(subjects)
    assert [(s, val) for s, _, val in folds] == [("s1", ["a1", "a2"]), ("s2", ["b1"]), ("s3", ["c1"])]
    assert folds[0][1] == ["b1", "c1"]
    with pytest.raises(SentilocError, match="two subjects"):
        leave_one_subject_out({"a": "s1", "b": "s1"})
