"""The TSL-300 audio convention: 32 x 60 log-mel rows per snippet at exact times."""

from __future__ import annotations

import librosa
import numpy as np

from sentiloc.features.streams import logmel as audio_module
from sentiloc.features.streams.logmel import AMIN, LogMelExtractor, frames_at, row_centres_s

SR = 16_000


def test_rows_are_centred_inside_their_snippet():
    centres = row_centres_s(2, fps=25.0, rows=4)  # snippet = 0.64 s, row = 0.16 s
    np.testing.assert_allclose(centres, [0.08, 0.24, 0.40, 0.56, 0.72, 0.88, 1.04, 1.20])


def test_windows_are_cut_at_their_centres_with_zero_padding():
    samples = np.arange(10, dtype=np.float32) + 1
    frames = frames_at(samples, np.array([0, 5, 9, 12]), 4)
    np.testing.assert_array_equal(frames, [[0, 0, 1, 2], [4, 5, 6, 7], [8, 9, 10, 0], [0, 0, 0, 0]])


def test_shape_floor_and_the_band_of_a_pure_tone():
    extractor = LogMelExtractor(SR)
    t = np.arange(4 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    rows = extractor(tone, fps=25.0, n_snippets=6)
    assert rows.shape == (6, 32 * 60) and rows.dtype == np.float32
    blocks = rows.reshape(6, 32, 60)
    mel_centres = librosa.mel_frequencies(n_mels=62, fmax=SR / 2)[1:-1]
    assert abs(mel_centres[blocks[:, 5:-5].mean(axis=(0, 1)).argmax()] - 1000.0) < 120.0
    silence = extractor(np.zeros(2 * SR, np.float32), fps=25.0, n_snippets=3)
    np.testing.assert_allclose(silence, 10 * np.log10(AMIN))  # -50 dB everywhere


def test_burst_snippets_carry_the_energy():
    t = np.arange(10 * SR) / SR
    signal = 0.002 * np.random.default_rng(0).standard_normal(len(t))
    burst = (t >= 4.0) & (t < 5.0)
    signal[burst] += 0.5 * np.sin(2 * np.pi * 440.0 * t[burst])
    rows = LogMelExtractor(SR)(signal.astype(np.float32), fps=25.0, n_snippets=16)
    energy = rows.mean(axis=1)
    inside = [t_ for t_ in range(16) if 4.0 <= (t_ + 0.5) * 0.64 < 5.0]
    assert set(np.argsort(energy)[-len(inside):]) == set(inside)


def test_chunking_does_not_change_the_result(monkeypatch):
    signal = np.random.default_rng(1).standard_normal(3 * SR).astype(np.float32) * 0.1
    whole = LogMelExtractor(SR)(signal, fps=29.97, n_snippets=5)
    monkeypatch.setattr(audio_module, "CHUNK_ROWS", 7)
    np.testing.assert_allclose(LogMelExtractor(SR)(signal, fps=29.97, n_snippets=5), whole, atol=1e-4)
