"""Typing a config once: component sections, derived values, and the errors users see."""

from __future__ import annotations

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec


def test_component_section_must_be_a_mapping() -> None:
    assert ComponentSpec.from_config({"model": {"name": "fusion", "hidden": 8}}, "model", "fsenet") == \
        ComponentSpec("model", "fusion", {"hidden": 8})
    assert ComponentSpec.from_config({}, "loss", "fsenet") == ComponentSpec("loss", "fsenet", {})
    with pytest.raises(SentilocError, match="config section 'model' must be a mapping of options"):
        ComponentSpec.from_config({"model": "fsenet"}, "model", "fsenet")
