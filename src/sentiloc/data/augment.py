"""Training-time augmentation of batches.

Face dropout (modality dropout for the face stream): real videos lose the face for long runs —
the speaker turns away, the camera cuts to a slide — and a model that only ever trained with
the face present leans on it. Hiding the face on a random run of snippets during training
teaches FCI and GSP to fall back on audio and visual evidence. It only flips ``face_present``
to False; the model already masks face-missing snippets everywhere, so no feature is edited.
"""

from __future__ import annotations

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
