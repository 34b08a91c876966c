"""The text descriptions of a recognition dataset's classes, for TG-DFER's text guidance (docs/methods.md §7).

sentiloc ships hand-written descriptions of the common emotion vocabularies — Ekman's six with
neutral and contempt, and Plutchik's eight of VideoEmotion-8 — in ``descriptions/emotions.json``,
with aliases for other spellings (DFEW's ``happy``, ``sad``, ``angry``, ...). A dataset's own
``descriptions.json`` replaces the shipped texts of the classes it lists; a class with neither is a
one-line error that names the class and the file to add it to.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition import layout
from sentiloc.data.recognition.annotations import read_descriptions

#: The shipped vocabulary, package data of :mod:`sentiloc.data.recognition`.
SHIPPED_FILE = "descriptions/emotions.json"


@functools.cache
def shipped_vocabulary() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """``(descriptions, aliases)`` of the shipped file: emotion -> texts, other spelling -> emotion."""
    raw = json.loads(resources.files("sentiloc.data.recognition").joinpath(SHIPPED_FILE).read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in raw["descriptions"].items()}, dict(raw["aliases"])


def shipped_descriptions(name: str) -> tuple[str, ...] | None:
    """The shipped texts of class ``name`` (case-insensitive, through the aliases), None when it has none."""
    descriptions, aliases = shipped_vocabulary()
    key = name.strip().lower()
    return descriptions.get(aliases.get(key, key))


def class_descriptions(root: Path | None, classes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Class -> its descriptions: the dataset's ``descriptions.json`` where it lists the class, else the shipped set.

    ``root`` None uses the shipped set only. Raises a one-line :class:`SentilocError` naming the
    first class that has no description and how to give it one.
    """
    own = read_descriptions(Path(root), classes) if root is not None else None
    texts: dict[str, tuple[str, ...]] = {}
    for name in classes:
        found = tuple((own or {}).get(name, ())) or shipped_descriptions(name)
        if not found:
            where = Path(root) / layout.DESCRIPTIONS_FILE if root is not None else layout.DESCRIPTIONS_FILE
            raise SentilocError(f"class {name!r} has no text description (sentiloc ships texts for "
                                f"{sorted(shipped_vocabulary()[0])}); add it to {where} as "
                                f'{{"{name}": ["a face showing ...", ...]}}')
        texts[name] = found
    return texts
