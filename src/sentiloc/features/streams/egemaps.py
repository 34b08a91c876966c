"""Audio stream, ``--audio egemaps``: the eGeMAPS v02 affect feature set, 88 functionals per snippet.

eGeMAPS (Eyben et al. 2016) is the standard minimalistic acoustic parameter set for affective
computing: pitch, loudness, jitter/shimmer, formants, spectral balance and voicing statistics
summarised by functionals (means, percentiles, slopes, segment rates). It is computed by the
``opensmile`` Python package, whose wheel ships the openSMILE binary and the config, so nothing is
downloaded and there are no weights.

**Context window.** A snippet is 16 frames, 0.53-0.8 s, and functionals on such a window are
unstable: F0 percentiles and slopes, jitter and the voiced-segment rates need several voiced
segments, and at speaking rates of 4-5 syllables/s a 0.6 s window holds two or three syllables
or none. Each snippet's functionals are therefore computed over a window of
``max(context_s, snippet length)`` seconds centred on the snippet. The default, 2 s, spans about
ten syllables (several voiced segments) yet stays short next to the segments being localised, and
neighbouring rows still differ by a snippet's worth of audio. Near either end of the track the
window is shifted inwards rather than cut, so every row summarises the same amount of audio
(tracks shorter than the window use the whole track).

**One openSMILE run per track.** ``Smile.process_signal`` per window initialises openSMILE and
re-extracts the low-level descriptors (LLDs) of every overlapping window: about 11 s per minute
of audio at 25 fps (measured). Instead, openSMILE's own list frame mode (the
``FrameModeFunctionalsMulti.conf.inc`` config the opensmile package ships, ``frameList =
"s0s-e0s,s1s-e1s,..."``) computes the LLDs once over the whole track and the functionals over
each listed window: about 2 s per minute, and the LLDs at a window's edges see their real
neighbours instead of a cut.

**Non-finite values.** openSMILE reports statistics that are undefined for a window (e.g. F0 of a
window without voiced frames) as 0 and floors levels (silence gives -120 dB), but NaN/inf can
still come out of degenerate input; they are replaced by 0, openSMILE's own "undefined" value, so
the stream is always finite.
"""

from __future__ import annotations

import os

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.timebase import SNIPPET_FRAMES
from sentiloc.features.base import ExtractorInfo
from sentiloc.features.decode import AUDIO_RATE
from sentiloc.features.settings import ExtractSettings

DIM = 88
CONTEXT_S = 2.0
#: openSMILE emits a listed window only once all of its LLD frames exist, and the last 60 ms pitch
#: frame ends at the track's end, so a window reaching the end would be dropped without a word;
#: windows stop this far before it (measured: 50 ms suffice at any length).
END_MARGIN_S = 0.1
#: Shortest usable span: one 10 ms LLD hop. Tracks under ~0.11 s give all-zero rows.
MIN_SPAN_S = 0.01
#: openSMILE converts float input to 16-bit PCM without clipping, so louder samples would wrap.
INT16_MAX = 32767 / 32768


def context_windows(n_snippets: int, fps: float, usable_s: float, context_s: float) -> np.ndarray:
    """``float64 (n_snippets, 2)`` start and end seconds of each snippet's functional window.

    Windows are ``max(context_s, snippet length)`` long, centred on the snippet and shifted into
    ``[0, usable_s]`` (cut to it only when it is shorter than a window). Snippets past the end get
    the last window.
    """
    snippet_s = SNIPPET_FRAMES / fps
    length = max(context_s, snippet_s)
    centres = (np.arange(n_snippets, dtype=np.float64) + 0.5) * snippet_s
    starts = np.clip(centres - length / 2, 0.0, max(usable_s - length, 0.0))
    return np.stack([starts, np.minimum(starts + length, usable_s)], axis=1)


class EGeMAPSExtractor:
    """Per-snippet eGeMAPS v02 functionals (88 values) over a context window, via openSMILE."""

    def __init__(self, sample_rate: int = 16_000, context_s: float = CONTEXT_S) -> None:
        try:
            import opensmile
        except ImportError:
            raise SentilocError("--audio egemaps needs the opensmile package: pip install opensmile "
                                "(its wheel ships openSMILE and the eGeMAPS config; nothing is downloaded)") from None
        self.sample_rate = sample_rate
        self.context_s = context_s
        # Built once: the constructor parses the config to learn the feature names (~0.6 s).
        self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                      feature_level=opensmile.FeatureLevel.Functionals)
        self._frame_mode_conf = os.path.join(self._smile.default_config_root, "shared",
                                             "FrameModeFunctionalsMulti.conf.inc")
        self.feature_names: tuple[str, ...] = tuple(self._smile.feature_names)
        self.info = ExtractorInfo("egemaps-v02", f"opensmile-{opensmile.__version__}+context{context_s:g}s", DIM)

    def __call__(self, samples: np.ndarray, fps: float, n_snippets: int) -> np.ndarray:
        """``float32 (n_snippets, 88)`` functionals of ``samples`` (mono, ``sample_rate``), one run per track."""
        usable_s = len(samples) / self.sample_rate - END_MARGIN_S
        if n_snippets == 0 or usable_s < MIN_SPAN_S:
            return np.zeros((n_snippets, DIM), dtype=np.float32)
        windows = context_windows(n_snippets, fps, usable_s, self.context_s)
        # ``options`` is Smile's public option dict, read afresh by every run.
        self._smile.options = {"frameModeFunctionalsConf": self._frame_mode_conf,
                               "frameList": ",".join(f"{start:.3f}s-{end:.3f}s" for start, end in windows)}
        signal = np.clip(samples.astype(np.float32, copy=False), -1.0, INT16_MAX)
        rows = self._smile(signal, self.sample_rate)[0].T  # (channels, features, windows) -> (windows, features)
        if rows.shape != (n_snippets, DIM):
            raise RuntimeError(f"openSMILE returned {rows.shape} functionals for {n_snippets} windows")
        return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def from_settings(settings: ExtractSettings, device: str) -> EGeMAPSExtractor:
    """The ``logmfcc`` extractor of ``--audio egemaps``, at the decoder's sample rate."""
    return EGeMAPSExtractor(AUDIO_RATE)
