"""Audio stream (``--audio logmel``): TSL-300's "logmfcc", 32 rows of a 60-band log-mel spectrogram per snippet.

Despite its folder name, TSL-300's raw audio feature is a log-mel spectrogram (librosa mel
projection + ``power_to_db``), 60 bands, 32 time rows per 16-frame snippet, which TSL-Net's audio
CNN reads as a 32 x 60 block and normalises with ``(x + 50) / 80`` (docs/methods.md §4). One row
per snippet is stored flattened (``32 * 60 = 1920`` values, row-major: row 0's 60 bands first).

Rows sit at exact times: row ``r`` of snippet ``t`` is centred at ``(t + (r + 0.5) / 32) * 16 / fps``
seconds. A librosa hop of ``16 / fps / 32`` s is not a whole number of samples at most frame rates
(29.97 fps: 266.9 samples), and rounding it drifts by seconds over an hour-long video, so each
row's window is cut at its own centre instead; the power spectra then go through librosa's mel
projection and dB conversion exactly as ``librosa.feature.melspectrogram`` + ``power_to_db`` would.
The dB floor is -50 (``amin = 1e-5``) so that TSL-Net's normalisation maps silence to 0.
"""

from __future__ import annotations

import librosa
import numpy as np

from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.base import ExtractorInfo
from sentiloc.features.decode import AUDIO_RATE
from sentiloc.features.settings import ExtractSettings

N_MELS = 60
ROWS_PER_SNIPPET = 32
N_FFT = 512  # 32 ms at 16 kHz
AMIN = 1e-5  # -50 dB floor
#: Rows are framed in chunks of this many, bounding memory on hour-long videos.
CHUNK_ROWS = 8192


def row_centres_s(n_snippets: int, fps: float, rows: int = ROWS_PER_SNIPPET) -> np.ndarray:
    """``(n_snippets * rows,)`` centre time in seconds of every spectrogram row, snippet-major."""
    index = np.arange(n_snippets * rows, dtype=np.float64)
    return (index + 0.5) / rows * SNIPPET_FRAMES / fps


def frames_at(samples: np.ndarray, centres: np.ndarray, n_fft: int) -> np.ndarray:
    """``(len(centres), n_fft)`` windows of ``samples`` centred on ascending sample indices.

    Only the span the windows touch is copied (zero-padded past either end), so framing a chunk
    of an hour-long track costs the chunk, not the track.
    """
    lo = int(centres[0]) - n_fft // 2
    hi = int(centres[-1]) - n_fft // 2 + n_fft
    span = samples[max(lo, 0) : max(min(hi, len(samples)), 0)]
    span = np.pad(span, (max(0, -lo), max(0, hi - lo - max(0, -lo) - len(span))))
    return span[(centres - n_fft // 2 - lo)[:, None] + np.arange(n_fft)[None, :]]


class LogMelExtractor:
    """Per-snippet 32 x 60 log-mel blocks from a mono waveform (no weights)."""

    def __init__(self, sample_rate: int = 16_000, n_mels: int = N_MELS, rows: int = ROWS_PER_SNIPPET,
                 n_fft: int = N_FFT) -> None:
        self.sample_rate = sample_rate
        self.rows = rows
        self.n_fft = n_fft
        self.window = np.hanning(n_fft).astype(np.float32)
        self.n_mels = n_mels
        self.info = ExtractorInfo(f"logmel{n_mels}x{rows}", f"librosa-{librosa.__version__}", n_mels * rows)

    def __call__(self, samples: np.ndarray, fps: float, n_snippets: int) -> np.ndarray:
        """``float32 (n_snippets, rows * n_mels)`` log-mel blocks of ``samples`` (mono, ``sample_rate``)."""
        centres = np.round(row_centres_s(n_snippets, fps, self.rows) * self.sample_rate).astype(np.int64)
        blocks = [self._log_mel(samples, centres[i : i + CHUNK_ROWS]) for i in range(0, len(centres), CHUNK_ROWS)]
        return np.concatenate(blocks).reshape(n_snippets, -1)

    def _log_mel(self, samples: np.ndarray, centres: np.ndarray) -> np.ndarray:
        frames = frames_at(samples.astype(np.float32, copy=False), centres, self.n_fft) * self.window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        mel = librosa.feature.melspectrogram(S=power.T, sr=self.sample_rate, n_fft=self.n_fft,
                                             n_mels=self.n_mels)
        return librosa.power_to_db(mel, ref=1.0, amin=AMIN, top_db=None).T.astype(np.float32)


def from_settings(settings: ExtractSettings, device: str) -> LogMelExtractor:
    """The ``logmfcc`` extractor of ``--audio logmel``, at the decoder's sample rate."""
    return LogMelExtractor(AUDIO_RATE)
