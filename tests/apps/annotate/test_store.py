"""The label store: the file always equals the store's rows, a failed write is never acknowledged, one store per file."""

from __future__ import annotations

import errno

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiloc.apps.annotate import store as store_module
from sentiloc.apps.annotate.store import LabelStore, StoreError, read_label_file
from sentiloc.core.errors import SentilocError
from sentiloc.core.io import WriteFailed

STEPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "relabel"]), st.sampled_from(["ana", "bo"]),
                           st.floats(0, 100, allow_nan=False), st.sampled_from(["p", "n"]), st.integers(0, 50)),
                 max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_the_file_reads_back_as_the_store_after_any_changes(tmp_path_factory, steps) -> None:
    path = tmp_path_factory.mktemp("store") / "labels.csv"
    store = LabelStore(path)
    version = 0
    for action, annotator, time_s, label, pick in steps:
        mine = store.marks(annotator=annotator)
        if action == "add":
            version = store.add("clip0", "click", annotator, label, round(time_s, 3))[1]
        elif mine:
            target = mine[pick % len(mine)].id
            version = (store.remove(target, annotator) if action == "remove"
                       else store.relabel(target, annotator, label))[1]
    store.wait(version)
    expected = store.marks()
    assert read_label_file(path)[0] == expected
    store.close()
    assert LabelStore(path).marks() == expected  # reopened (the lock was released)


def test_another_annotators_row_cannot_be_changed(tmp_path) -> None:
    store = LabelStore(tmp_path / "labels.csv")
    mark, _ = store.add("clip0", "click", "ana", "p", 1.0)
    with pytest.raises(StoreError, match="belongs to annotator 'ana'"):
        store.remove(mark.id, "bo")
    with pytest.raises(StoreError, match="no row"):
        store.relabel("ffffffffffff", "ana", "n")
    store.close()


def test_a_failed_write_is_reported_and_the_next_one_saves_everything(tmp_path, monkeypatch) -> None:
    path = tmp_path / "labels.csv"
    store = LabelStore(path)
    real = store_module.atomic_write_text
    failures = [WriteFailed.of(path, OSError(errno.ENOSPC, "No space left on device"))]

    def flaky(target, text):
        if failures:
            raise failures.pop()
        real(target, text)

    monkeypatch.setattr(store_module, "atomic_write_text", flaky)
    _, first = store.add("clip0", "click", "ana", "p", 1.0)
    with pytest.raises(WriteFailed, match="the disk is full"):
        store.wait(first)
    _, second = store.add("clip0", "click", "ana", "n", 2.0)
    store.wait(second)
    assert [m.time_s for m in read_label_file(path)[0]] == [1.0, 2.0]
    store.close()


def test_a_broken_label_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("video,label,time,kind\nclip0,p,abc,click\n")
    with pytest.raises(SentilocError, match=r"labels.csv:2: a click needs a label and a time >= 0"):
        LabelStore(path)
    path.write_text("name,value\n")
    with pytest.raises(SentilocError, match="not a label file"):
        LabelStore(path)
    path.write_text("video,label,time,kind\n../x,p,1,click\n")
    with pytest.raises(SentilocError, match="path separator"):
        LabelStore(path)
    path.write_text("video,label,time\nclip0,p,1.5\n")  # a hand-written click file: opened, ids given
    store = LabelStore(path)
    assert [(m.video, m.kind, m.annotator, m.time_s) for m in store.marks()] == [("clip0", "click", "unknown", 1.5)]
    store.close()
