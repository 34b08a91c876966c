"""Today's results of every shipped config, on a fixed tiny seeded run, stay what they were.

``expected.json`` was recorded before the code was restructured into tasks/engine/apps; any
change of numbers must be deliberate. On the recording machine the runs are bit-identical
(``SENTILOC_REGRESSION_EXACT=1`` checks that); elsewhere float32 matrix products may round
differently (AVX2 vs AVX-512 kernels), so the default comparison allows a small relative error.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from tests.regression.harness import EXPECTED, record_all, shipped_configs

EXACT = os.environ.get("SENTILOC_REGRESSION_EXACT") == "1"


def _close(got: float, want: float, rel: float, abs_: float) -> bool:
    return got == want if EXACT else math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


def _compare(path: str, got, want, problems: list[str]) -> None:
    if isinstance(want, dict):
        if set(got) != set(want):
            problems.append(f"{path}: keys {sorted(got)} != {sorted(want)}")
        for key in set(got) & set(want):
            _compare(f"{path}.{key}", got[key], want[key], problems)
    elif isinstance(want, list):
        if len(got) != len(want):
            problems.append(f"{path}: length {len(got)} != {len(want)}")
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(f"{path}[{i}]", g, w, problems)
    elif not _close(float(got), float(want), rel=1e-3, abs_=1e-4 if path.split(".")[1].startswith("history") else 0.02):
        problems.append(f"{path}: {got!r} != recorded {want!r}")


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(EXPECTED.read_text())


def test_every_shipped_config_is_recorded(recorded):
    assert sorted(recorded) == shipped_configs()


def test_results_unchanged(recorded):
    results = record_all(sorted(recorded))
    problems: list[str] = []
    for name in recorded:
        _compare(name, results[name], recorded[name], problems)
    assert not problems, "\n".join(problems)
