"""Seeded random streams: each draw of a run comes from its own stream, a pure function of the run's seed.

A resumed run must replay exactly what an uninterrupted one drew, and two kinds of draws must
not share a stream (adding face dropout must not reshuffle the video order). Hence one
generator per (seed, epoch, stream), and one per (seed, video id) for per-video perturbations.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

#: Stride between the epochs of one seed, a prime so that (seed, epoch) pairs do not collide for
#: any realistic number of epochs.
EPOCH_STRIDE = 100_003
#: Offsets of the per-epoch streams of a training run.
STREAMS = {"order": 0, "face_dropout": 7_919}


def epoch_generator(seed: int, epoch: int, stream: str) -> torch.Generator:
    """The torch generator of ``stream`` (see :data:`STREAMS`) in ``epoch`` of a run seeded ``seed``."""
    return torch.Generator().manual_seed(seed * EPOCH_STRIDE + epoch + STREAMS[stream])


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """A numpy generator that depends only on ``(seed, video id)``, not on the order videos are visited."""
    return np.random.default_rng([seed, zlib.crc32(video_id.encode("utf-8"))])
