"""Class descriptions for text guidance: the shipped vocabulary, the dataset's override, the missing-class error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.class_texts import class_descriptions, shipped_descriptions, shipped_vocabulary

EKMAN7 = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
DFEW = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")
VE8 = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")


@pytest.mark.parametrize("classes", [EKMAN7, DFEW, VE8, ("contempt",)])
def test_the_common_vocabularies_are_shipped_with_several_distinct_texts(classes: tuple[str, ...]) -> None:
    texts = class_descriptions(None, classes)
    assert list(texts) == list(classes)
    for values in texts.values():
        assert len(values) >= 3 and len(set(values)) == len(values)
    every = [t for values in texts.values() for t in values]
    assert len(set(every)) == len(every)  # no text describes two classes


def test_aliases_and_case_reach_the_same_texts() -> None:
    assert shipped_descriptions("happy") == shipped_descriptions("Joy") == shipped_descriptions(" HAPPINESS ")
    assert shipped_descriptions("sad") == shipped_descriptions("sadness")
    descriptions, aliases = shipped_vocabulary()
    assert set(aliases.values()) <= set(descriptions)


def test_the_datasets_descriptions_replace_the_shipped_ones_class_by_class(tmp_path: Path) -> None:
    (tmp_path / "descriptions.json").write_text(json.dumps({"joy": ["a grin"], "wonder": ["eyes wide in awe"]}))
    texts = class_descriptions(tmp_path, ("joy", "wonder", "anger"))
    assert texts["joy"] == ("a grin",) and texts["wonder"] == ("eyes wide in awe",)
    assert texts["anger"] == shipped_descriptions("anger")


def test_a_class_without_description_names_the_class_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SentilocError) as err:
        class_descriptions(tmp_path, ("joy", "boredom"))
    message = str(err.value)
    assert "'boredom'" in message and str(tmp_path / "descriptions.json") in message and "\n" not in message
