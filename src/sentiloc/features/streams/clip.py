"""CLIP image embeddings (``--visual clip``): the frame instances of TG-DFER (docs/methods.md §7).

TG-DFER encodes the frames of a clip with a frozen CLIP image encoder and scores them against CLIP
text embeddings of the classes. This extractor fills the ``rgb`` stream with such embeddings, one
row per 16-frame snippet, from the image tower of a transformers CLIP checkpoint (``CLIPModel``
``save_pretrained`` output) the user has in a local folder: ``--clip-weights FOLDER``, the same
flag as ``--visual-weights``. The folder is checked and loaded offline by the loader of CLIP's text
tower (:func:`sentiloc.models.text.load_from_clip_folder`); nothing is ever downloaded.

Per snippet, ``CLIP_FRAMES_PER_SNIPPET`` (4) evenly spaced frames (:func:`sampled_frames`: 2,
6, 10 and 14 of 0..15) are preprocessed as CLIP's image processor does (:func:`preprocess`), embedded
(``visual_projection`` of the pooled output: ``get_image_features``, ``projection_dim`` wide),
each scaled to unit length, averaged, and the mean scaled to unit length again, as CLIP averages
the embeddings of several prompts. Four frames of sixteen is every fourth frame: a 2.6 s clip at
25 fps gets the sixteen encoded frames of the reference design, for a quarter of the cost of
encoding every frame (docs/features.md has the measured cost). The last snippet of a video is
padded by repeating its final frame, which then counts in its mean.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sentiloc.core.errors import SentilocError
from sentiloc.features.base import ExtractorInfo, file_digest
from sentiloc.features.settings import ExtractSettings
from sentiloc.features.streams import CLIP_FRAMES_PER_SNIPPET, CLIP_NEEDS_TRANSFORMERS, CLIP_OPTION
from sentiloc.models.text import clip_folder, load_from_clip_folder

#: CLIP's normalisation (OpenAI's image mean and std, RGB, of pixels in [0, 1]).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: Names the rule (frames, preprocessing, pooling) in the recorded version.
RULE = f"1/{CLIP_FRAMES_PER_SNIPPET}-frames-unit-mean"


def sampled_frames(n_frames: int, count: int = CLIP_FRAMES_PER_SNIPPET) -> np.ndarray:
    """Indices of ``count`` evenly spaced frames of ``n_frames``: the centre of each of ``count`` equal parts."""
    return ((np.arange(count) + 0.5) * n_frames / count).astype(int)


def resized_size(height: int, width: int, side: int) -> tuple[int, int]:
    """``(height, width)`` with the shorter side scaled to ``side``; the longer one truncated, as transformers does."""
    if height <= width:
        return side, int(side * width / height)
    return int(side * height / width), side


def preprocess(frames: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` RGB frames -> float ``(N, 3, image_size, image_size)``, as CLIP's image processor.

    The shorter side goes to ``image_size`` (bicubic with antialiasing, rounded to whole pixel
    values like the processor's 8-bit resize), then a centre crop, /255 and CLIP's mean and std.
    All frames are resized in one call.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 (N, H, W, 3) RGB frames, got {frames.dtype} {frames.shape}")
    height, width = resized_size(frames.shape[1], frames.shape[2], image_size)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
    top, left = (height - image_size) // 2, (width - image_size) // 2
    x = x[:, :, top : top + image_size, left : left + image_size].round().clamp(0, 255) / 255.0
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def unit_mean(embeddings: torch.Tensor) -> torch.Tensor:
    """``(N, K, E)`` embeddings -> ``(N, E)``: each scaled to unit length, averaged over ``K``, scaled again."""
    return F.normalize(F.normalize(embeddings, dim=-1).mean(dim=1), dim=-1)


def folder_digest(folder: Path) -> str:
    """Short content hash of every file directly in ``folder`` (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        digest.update(f"{path.name}\0{file_digest(path)}\0".encode())
    return digest.hexdigest()[:12]


class ClipImageExtractor:
    """:class:`~sentiloc.features.base.ClipExtractor` giving unit CLIP image embeddings per snippet."""

    def __init__(self, weights: Path, device: str | torch.device = "cpu") -> None:
        folder = clip_folder(str(weights), CLIP_OPTION)
        (model,) = load_from_clip_folder(folder, ("CLIPModel",), CLIP_OPTION, CLIP_NEEDS_TRANSFORMERS)
        self.device = torch.device(device)
        # only the image tower is kept: the text tower is freed with ``model``
        self.vision = model.vision_model.eval().requires_grad_(False).to(self.device)
        self.projection = model.visual_projection.eval().requires_grad_(False).to(self.device)
        self.image_size = int(model.config.vision_config.image_size)
        version = f"{RULE}/{folder.name}+sha256-{folder_digest(folder)}"
        self.info = ExtractorInfo("clip-image", version, int(model.config.projection_dim))

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Preprocessed ``(N, 3, S, S)`` -> ``(N, projection_dim)`` image embeddings (``get_image_features``)."""
        return self.projection(self.vision(pixel_values=pixels.to(self.device)).pooler_output)

    def batch(self, clips: np.ndarray) -> np.ndarray:
        """uint8 ``(N, F, H, W, 3)`` RGB snippets -> float32 ``(N, projection_dim)`` unit rows."""
        frames = clips[:, sampled_frames(clips.shape[1])]
        n, k = frames.shape[:2]
        with torch.inference_mode():
            embeddings = self.embed(preprocess(frames.reshape(n * k, *frames.shape[2:]), self.image_size))
            return unit_mean(embeddings.reshape(n, k, -1)).float().cpu().numpy()

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        """uint8 ``(F, H, W, 3)`` RGB snippet -> float32 ``(projection_dim,)`` of unit length."""
        return self.batch(clip[None])[0]


def from_settings(settings: ExtractSettings, device: str) -> ClipImageExtractor:
    """The ``rgb`` extractor of ``--visual clip``: the ``--clip-weights`` folder, placed on ``device``."""
    extractor = ClipImageExtractor(Path(settings.visual_weights), device)
    if settings.short_side < extractor.image_size:
        raise SentilocError(f"--visual clip reads {extractor.image_size}x{extractor.image_size} crops: "
                            f"--short-side must be at least {extractor.image_size}")
    return extractor
