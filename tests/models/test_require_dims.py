"""Every model's config refuses dims (from the data) that lack a stream it reads, in one line naming the fix."""

from __future__ import annotations

import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import require_dims
from sentiloc.models.recognition.meanpool import MeanPoolConfig


def test_require_dims_names_the_missing_streams_and_the_fix() -> None:
    require_dims(("visual", "audio"), {"visual": 4, "audio": 2, "face": 3})
    with pytest.raises(SentilocError, match=r"no entry for \['audio'\] \(has \['visual'\]\); check the streams$"):
        require_dims(("visual", "audio"), {"visual": 4}, "check the streams")


def test_a_model_config_uses_it() -> None:
    with pytest.raises(SentilocError, match=r"no entry for \['audio'\].*read dims from the data"):
        MeanPoolConfig(dims={"visual": 4}, streams=("visual", "audio"))
