"""Training-time augmentation of batches.

Face dropout (modality dropout for the face stream): real videos lose the face for long runs —
the speaker turns away, the camera cuts to a slide — and a model that only ever trained with
the face present leans on it. Hiding the face on a random run of snippets during training
teaches FCI and GSP to fall back on audio and visual evidence. It only flips ``face_present``
to False; the model already masks face-missing snippets everywhere, so no feature is edited.

The robustness studies (``sentiloc benchmark sensitivity``) perturb data the same way but
deterministically per ``(seed, video)``: :func:`hide_face_to_fraction` makes test videos lose
their face until a given share of snippets is face-missing, and :func:`jitter_click_frames` moves
training clicks as a careless annotator would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def drop_face_runs(face_present: Tensor, mask: Tensor, prob: float, generator: torch.Generator) -> Tensor:
    """Hide the face on one random contiguous run per selected video.

    Args:
        face_present: ``(B, T)`` bool, True where the face row is a real face.
        mask: ``(B, T)`` bool, True on real snippets (padding is never selected).
        prob: probability that a video is selected at all.
        generator: CPU generator, so a seeded trainer replays the same runs on resume.

    Returns:
        A new ``(B, T)`` face mask. A selected video of length L loses ``⌊u·L⌋`` snippets starting
        at a uniform position, with u ~ U(0, 1): from nothing to the whole video.
    """
    if prob <= 0.0:
        return face_present
    b, t = face_present.shape
    lengths = mask.sum(dim=1).cpu()
    selected = torch.rand(b, generator=generator) < prob
    run = (torch.rand(b, generator=generator) * lengths).long()
    start = (torch.rand(b, generator=generator) * (lengths - run + 1)).long().clamp(max=lengths - run)
    idx = torch.arange(t)
    hidden = selected[:, None] & (idx >= start[:, None]) & (idx < (start + run)[:, None])
    return face_present & ~hidden.to(face_present.device)


#: Mean length, in snippets, of a face-less run added by :func:`hide_face_to_fraction`: the
#: simulator's shortest mean face-less run (docs/simulator.md), i.e. about five seconds.
MEAN_HIDDEN_RUN = 8


def hide_face_to_fraction(face_present: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Hide the face on contiguous runs until ``round(fraction * T)`` snippets are face-missing.

    Runs start at random face-present snippets and have geometric lengths (mean
    :data:`MEAN_HIDDEN_RUN`), cut short at the target or at an already face-less snippet, so the
    result reaches the target exactly. Faces are only ever taken away: a video that already misses
    more than the target is returned unchanged, which makes ``fraction`` a floor per video.

    Args:
        face_present: ``(T,)`` bool, True where the face stream holds a real face.
        fraction: target share of face-missing snippets, in [0, 1].
        rng: e.g. :func:`video_rng`, so every video gets its own reproducible runs.

    Returns:
        A new ``(T,)`` bool mask, never True where ``face_present`` is False.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"face-missing fraction {fraction}: must be in [0, 1]")
    present = np.asarray(face_present, dtype=bool).copy()
    need = int(round(fraction * len(present))) - int((~present).sum())
    while need > 0:
        start = rng.choice(np.flatnonzero(present))
        run = present[start : start + min(int(rng.geometric(1.0 / MEAN_HIDDEN_RUN)), need)]
        stop = start + (int(np.argmin(run)) if not run.all() else len(run))
        present[start:stop] = False
        need -= stop - start
    return present


def jitter_click_frames(
    frames: np.ndarray, fps: float, n_frames: float, jitter_s: float, rng: np.random.Generator
) -> np.ndarray:
    """Move each click by a uniform offset in ``[-jitter_s, +jitter_s]`` seconds, kept inside the video.

    Real annotators click near, not at, the moment they mean; training on jittered clicks measures
    how much a method relies on click precision.

    Args:
        frames: ``(P,)`` native frame indices of one video's clicks.
        fps: the video's native frame rate.
        n_frames: the video's length in native frames (``duration_s * fps``).
        jitter_s: jitter amplitude in seconds (0 returns ``frames`` unchanged).
        rng: e.g. :func:`video_rng`, so the jitter is reproducible per video.

    Returns:
        ``(P,)`` int64 frame indices in ``[0, n_frames - 1]``.
    """
    if jitter_s <= 0.0 or len(frames) == 0:
        return frames
    offsets = rng.uniform(-jitter_s, jitter_s, size=len(frames)) * fps
    last = max(int(np.ceil(n_frames)) - 1, 0)
    return np.clip(np.rint(frames + offsets), 0, last).astype(np.int64)
