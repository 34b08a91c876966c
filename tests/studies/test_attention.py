"""The attention probe's per-query statistics (``sentiloc benchmark attention``), by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sentiloc.studies.attention import attention_profile, snippet_states


def test_attention_profile_by_hand() -> None:
    # T = 4, states n n ∅ ∅ (0 0 2 2), window 1.
    # query 0 attends half/half to keys 0, 1: entropy log 2 / log 4 = 0.5; all its mass is on its
    #   own state (chance 2/4) and within ±1 (keys 0, 1; chance 2/4).
    # query 1 is uniform: entropy 1, same-state 0.5 = chance, local (keys 0..2) 0.75 = chance.
    # query 2 receives no update (query mask), query 3 puts everything on key 0: entropy 0,
    #   same-state 0 (chance 0.5), local 0 (keys 2, 3: chance 0.5).
    weights = np.array([[0.5, 0.5, 0, 0], [0.25] * 4, [1, 0, 0, 0], [1, 0, 0, 0]])
    profile = attention_profile(
        weights, np.array([True, True, False, True]), np.ones(4, bool), np.array([0, 0, 2, 2]), window=1
    )
    np.testing.assert_allclose(profile["entropy"], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(profile["same_state"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(profile["same_state_chance"], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(profile["local"], [1.0, 0.75, 0.0])
    np.testing.assert_allclose(profile["local_chance"], [0.5, 0.75, 0.5])


def test_attention_profile_counts_only_valid_keys() -> None:
    # key 3 is masked out: uniform attention over 3 keys has entropy exactly 1 and chance counts
    # only the valid keys (state 0 has 2 of 3)
    weights = np.tile([1 / 3, 1 / 3, 1 / 3, 0.0], (4, 1))
    profile = attention_profile(weights, np.array([True, False, False, False]), np.array([True, True, True, False]),
                                np.array([0, 0, 2, 0]), window=0)
    assert profile["entropy"][0] == pytest.approx(1.0)
    assert profile["same_state_chance"][0] == pytest.approx(2 / 3)
    assert profile["same_state"][0] == pytest.approx(2 / 3)
    assert math.isclose(profile["local_chance"][0], 1 / 3)


def test_snippet_states_from_segments() -> None:
    # 16 frames per snippet at 16 fps = 1 s per snippet; p on [1, 3) s, an unknown label ignored
    annotations = [{"segment": ["1.0", "3.0"], "label": "p"}, {"segment": [4, 5], "label": "x"}]
    np.testing.assert_array_equal(snippet_states(annotations, ["n", "p"], 6, 16.0), [2, 1, 1, 2, 2, 2])
