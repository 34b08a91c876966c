"""eGeMAPS v02 functionals per snippet over a centred context window, from real signals."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.features.streams.egemaps import DIM, EGeMAPSExtractor, context_windows

SR = 16_000
FPS = 25.0  # snippet = 0.64 s
LOUDNESS = "loudness_sma3_amean"
F0_MEAN = "F0semitoneFrom27.5Hz_sma3nz_amean"


@pytest.fixture(scope="module")
def extractor() -> EGeMAPSExtractor:
    pytest.importorskip("opensmile")
    return EGeMAPSExtractor(SR)  # built once: Smile's constructor parses the config


def faint_noise(seconds: float, seed: int = 0) -> np.ndarray:
    return 1e-3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def burst_track() -> np.ndarray:
    """10 s of faint noise with a loud voiced-like tone (200 Hz and four harmonics) in seconds 4-6."""
    signal = faint_noise(10.0)
    t = np.arange(4 * SR, 6 * SR) / SR
    signal[4 * SR : 6 * SR] += sum(0.3 / k * np.sin(2 * np.pi * 200.0 * k * t) for k in range(1, 6))
    return signal.astype(np.float32)


def test_windows_are_centred_at_least_context_long_and_shifted_inside_the_track():
    windows = context_windows(16, FPS, usable_s=9.9, context_s=2.0)
    np.testing.assert_allclose(windows[:, 1] - windows[:, 0], 2.0)
    np.testing.assert_allclose(windows[5], [(5.5 * 0.64) - 1.0, (5.5 * 0.64) + 1.0])  # centred on snippet 5
    np.testing.assert_allclose(windows[0], [0.0, 2.0])  # shifted in at the start ...
    np.testing.assert_allclose(windows[-2:], [[7.9, 9.9], [7.9, 9.9]])  # ... and at the end, past it too
    starts = np.arange(16) * 0.64
    assert np.all(windows[:-1, 0] <= starts[:-1]) and np.all(windows[:-1, 1] >= starts[1:])  # cover their snippet
    np.testing.assert_allclose(context_windows(3, FPS, usable_s=1.2, context_s=2.0), [[0.0, 1.2]] * 3)
    np.testing.assert_allclose(np.diff(context_windows(2, 8.0, usable_s=9.0, context_s=1.0)[0]), 2.0)  # >= snippet


def test_shape_dtype_finite_deterministic_and_info(extractor):
    import opensmile

    signal = burst_track()
    rows = extractor(signal, FPS, 16)
    assert rows.shape == (16, DIM) and rows.dtype == np.float32 and np.isfinite(rows).all()
    np.testing.assert_array_equal(extractor(signal, FPS, 16), rows)
    assert extractor.info.to_dict() == {"name": "egemaps-v02", "version": f"opensmile-{opensmile.__version__}+context2s",
                                        "dim": DIM}
    assert len(extractor.feature_names) == DIM


def test_burst_snippets_are_loudest_and_pitched_at_200_hz(extractor):
    rows = extractor(burst_track(), FPS, 16)
    loudness = rows[:, extractor.feature_names.index(LOUDNESS)]
    f0_hz = 27.5 * 2 ** (rows[:, extractor.feature_names.index(F0_MEAN)] / 12)  # semitones above 27.5 Hz
    burst = [7, 8]  # snippets inside 4-6 s: [4.48, 5.12) and [5.12, 5.76)
    far = [0, 1, 2, 13, 14, 15]  # windows that do not reach the burst
    assert loudness.argmax() in burst
    assert loudness[burst].min() > 5 * loudness[far].max()  # loudness is compressive (~ sones)
    np.testing.assert_allclose(f0_hz[burst], 200.0, rtol=0.03)
    np.testing.assert_array_equal(rows[far, extractor.feature_names.index(F0_MEAN)], 0.0)  # noise is unvoiced


@pytest.mark.parametrize("seconds, fps", [(5.0, FPS), (0.7, 29.97), (0.05, FPS)])
def test_silence_and_short_tracks_give_one_finite_row_per_snippet(extractor, seconds, fps):
    n_snippets = int(np.ceil(seconds * fps / 16))
    rows = extractor(np.zeros(int(seconds * SR), np.float32), fps, n_snippets)
    assert rows.shape == (n_snippets, DIM) and np.isfinite(rows).all()


def test_out_of_range_samples_saturate_instead_of_wrapping(extractor):
    """openSMILE casts to 16-bit PCM without clipping; a +-2.0 sine must read like a clipped recording."""
    sine = 2.0 * np.sin(2 * np.pi * 200.0 * np.arange(3 * SR) / SR)
    overdriven = extractor(sine.astype(np.float32), FPS, 4)
    clipped = extractor(np.clip(sine, -0.99, 0.99).astype(np.float32), FPS, 4)
    columns = [extractor.feature_names.index(LOUDNESS), extractor.feature_names.index(F0_MEAN)]
    np.testing.assert_allclose(overdriven[:, columns], clipped[:, columns], rtol=0.05)


def test_missing_package_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "opensmile", None)  # makes `import opensmile` raise ImportError
    with pytest.raises(SentilocError, match="pip install opensmile"):
        EGeMAPSExtractor(SR)
