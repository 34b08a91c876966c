"""TSL-Net (ACM MM 2022), the point-supervised TSL-300 baseline (docs/methods.md §4).

Data flow for a padded batch, all ``(B, T, ·)``; the face stream is never read:

    V   = ReLU(Conv_k3(X^v))                                   (d)
    A   = AudioCNN(MFCC blocks of t-1, t, t+1)  or  ReLU(Conv_k3(X^a))   (d)
    f_z = ReLU(Conv_k3([V, A]))                                (trunk, 2048)
    [CLS, DIST] = Linear(Dropout(f_z))                         (C + 1 each, no bias)
    y   = σ(CLS);   F'_m(f_z) for m ∈ {v, a} (reverse mappings, training only)

Everything the TSL-Net objective needs beyond ``y`` is a field of :class:`TSLNetOutput`.
The video distribution D^vid is a softmax over DIST's C class columns
only (C-TSL); its ∅ column exists because the paper's heads both have C + 1 outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError
from sentiloc.models.base import BaseModel, TSLNetOutput, require_dims, sigmoid_cas
from sentiloc.models.blocks import ClassHead, MaskedConv1d, ModalityAlign
from sentiloc.models.ops import masked_topk_mean
from sentiloc.models.registry import register_model

AUDIO_ENCODERS = ("auto", "cnn", "conv")


@dataclass
class TSLNetConfig:
    """TSL-Net hyper-parameters; defaults are the paper's (C-TSL where the paper is silent).

    Attributes:
        dims: modality name -> input feature dim, read from the data (extra streams ignored).
        visual, audio: which entries of ``dims`` / ``Batch.features`` play each role.
        num_classes: sentiment classes C (CLS and DIST have C + 1 columns).
        hidden: per-modality width d of V and A.
        trunk_hidden: width of the fusion trunk f_z and of the reverse mappings' hidden layers.
        dropout: dropout on f_z before the CLS/DIST heads.
        r_act: video scores pool the top ⌊length / r_act⌋ snippets.
        audio_encoder: ``cnn`` = the trained 2-D CNN on raw log-MFCC blocks, ``conv`` = a
            ``Conv1d(k3) + ReLU`` alignment (for pre-extracted audio embeddings), ``auto`` =
            ``cnn`` exactly when the audio dim is ``mfcc_rows * mfcc_bands``.
        mfcc_rows, mfcc_bands: shape of one snippet's MFCC block (flattened in the feature file).
        cnn_chunk: the audio CNN sees snippets in chunks of this many, and the t ± 1 neighbour
            roll is cyclic within each chunk (as in C-TSL).
        audio_lr_scale: learning-rate multiplier of the audio CNN (10 in the paper).
    """

    dims: dict[str, int]
    visual: str = "rgb"
    audio: str = "logmfcc"
    num_classes: int = 2
    hidden: int = 512
    trunk_hidden: int = 2048
    dropout: float = 0.7
    r_act: int = 8
    audio_encoder: str = "auto"
    mfcc_rows: int = 32
    mfcc_bands: int = 60
    cnn_chunk: int = 600
    audio_lr_scale: float = 10.0

    def __post_init__(self) -> None:
        require_dims((self.visual, self.audio), self.dims)
        if self.audio_encoder not in AUDIO_ENCODERS:
            raise SentilocError(f"model.audio_encoder must be one of {AUDIO_ENCODERS}, got {self.audio_encoder!r}")
        mfcc_dim = self.mfcc_rows * self.mfcc_bands
        if self.audio_encoder == "cnn" and self.dims[self.audio] != mfcc_dim:
            raise SentilocError(
                f"model.audio_encoder 'cnn' needs raw log-MFCC blocks of mfcc_rows x mfcc_bands = "
                f"{self.mfcc_rows} x {self.mfcc_bands} = {mfcc_dim} values per snippet, but audio stream "
                f"'{self.audio}' has dim {self.dims[self.audio]}; use audio_encoder 'conv' (or 'auto') "
                "for pre-extracted audio embeddings"
            )
        if self.uses_cnn and not _cnn_fits(3 * self.mfcc_rows, self.mfcc_bands):
            raise SentilocError(
                f"model.mfcc_rows x mfcc_bands = {self.mfcc_rows} x {self.mfcc_bands} is too small for the audio "
                "CNN's strides and pools (the paper's blocks are 32 x 60)"
            )
        if self.r_act < 1 or self.cnn_chunk < 1:
            raise SentilocError("model.r_act and model.cnn_chunk must be >= 1")

    @property
    def uses_cnn(self) -> bool:
        """Whether audio goes through the trained 2-D CNN (``auto``: only on raw MFCC blocks)."""
        if self.audio_encoder == "auto":
            return self.dims[self.audio] == self.mfcc_rows * self.mfcc_bands
        return self.audio_encoder == "cnn"


# --------------------------------------------------------------------------------------------
# audio CNN


def _cnn_fits(height: int, width: int) -> bool:
    """Whether a ``height × width`` map survives the CNN's stride and max pools (≥ 1 cell each).

    Convolutions are 'same'-padded (7x7 pad 3, 3x3 pad 1; the spec gives no padding, and only
    'same' padding turns a 96 x 60 map into the 4 x 3 map that the spec's avgpool (4, 3)
    reduces to one 512-d vector), so only the stride (3, 2) and the max pools shrink the map.
    """
    h, w = (height - 1) // 3 + 1, (width - 1) // 2 + 1
    for pool in (4, 2):
        if h < pool or w < pool:
            return False
        h, w = h // pool, w // pool
    return True


def sinusoidal_code(positions: Tensor, dim: int) -> Tensor:
    """Transformer sinusoidal code ``(…, dim)`` of integer positions: sin on even, cos on odd."""
    freq = torch.exp(torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angle = positions.to(torch.float32)[..., None] * freq
    code = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)
    return code[..., :dim]


def chunk_neighbours(lengths: Tensor, length: int, chunk: int) -> tuple[Tensor, Tensor]:
    """Indices of the t − 1 and t + 1 snippets under a cyclic roll within each chunk.

    A video is cut into chunks ``[k·chunk, min((k+1)·chunk, L))`` of its *own* length L, and the
    roll wraps inside each chunk, so the first snippet of a chunk sees its last one and vice
    versa. Using L (not the padded length) keeps padding out of every real snippet's map.

    Returns:
        ``prev, next`` of shape ``(B, T)`` long, clamped into ``[0, T)`` (garbage at padding).
    """
    t = torch.arange(length, device=lengths.device)
    start = (t // chunk) * chunk  # (T,)
    end = torch.minimum(start + chunk, lengths[:, None])  # (B, T)
    prev = torch.where(t == start, end - 1, t - 1)
    nxt = torch.where(t + 1 >= end, start.expand_as(end), t + 1)
    return prev.clamp(0, length - 1), nxt.clamp(0, length - 1)


class AudioCNN(nn.Module):
    """The trained audio encoder of TSL-Net: three 2-D conv blocks on stacked MFCC blocks.

    Each snippet's input is its ``rows × bands`` log-MFCC block, normalised ``(x + 50) / 80``,
    plus a ``bands``-d sinusoidal code of its snippet index (broadcast over rows), stacked with
    the blocks of its neighbours t − 1 and t + 1 into a ``3·rows × bands`` single-channel map.
    Only real snippets are encoded, in (video, chunk) groups, so padding never reaches a real
    snippet and, in training, BatchNorm sees the reference's per-chunk statistics.
    """

    def __init__(self, rows: int, bands: int, out_dim: int, chunk: int) -> None:
        super().__init__()
        self.rows, self.bands, self.chunk, self.out_dim = rows, bands, chunk, out_dim
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 7, stride=(3, 2), padding=3), nn.ReLU(), nn.BatchNorm2d(64), nn.MaxPool2d(4),
            nn.Conv2d(64, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 1), nn.ReLU(), nn.BatchNorm2d(256),
            nn.MaxPool2d(2),
            nn.Conv2d(256, out_dim, 3, padding=1), nn.ReLU(), nn.Conv2d(out_dim, out_dim, 1), nn.ReLU(),
            nn.BatchNorm2d(out_dim),
            nn.AdaptiveAvgPool2d(1),  # = the spec's avgpool (4, 3) on the 32 x 60 geometry
        )

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x (B, T, rows·bands)`` raw log-MFCC, ``mask (B, T)`` -> ``(B, T, out_dim)``, 0 at padding."""
        b, t, _ = x.shape
        blocks = (x.view(b, t, self.rows, self.bands) + 50.0) / 80.0
        steps = torch.arange(t, device=x.device)
        blocks = blocks + sinusoidal_code(steps, self.bands).to(blocks.dtype)[None, :, None, :]
        prev, nxt = chunk_neighbours(mask.sum(dim=1), t, self.chunk)

        def take(index: Tensor) -> Tensor:
            return blocks.gather(1, index[..., None, None].expand_as(blocks))

        maps = torch.cat([take(prev), blocks, take(nxt)], dim=2)[mask]  # (N, 3·rows, bands), real only
        # Real snippets are ordered video-major, so (video, chunk) groups are consecutive runs.
        group = (torch.arange(b, device=x.device)[:, None] * t + steps // self.chunk)[mask]
        sizes = torch.unique_consecutive(group, return_counts=True)[1].tolist()
        encoded = torch.cat([self.net(part[:, None]).flatten(1) for part in maps.split(sizes)])
        return x.new_zeros(b, t, self.out_dim).masked_scatter(mask[..., None], encoded.to(x.dtype))


# --------------------------------------------------------------------------------------------
# the network


class ConvStack(nn.Module):
    """``[MaskedConv1d(k3) + ReLU] × n`` through widths ``dims[0] -> … -> dims[-1]``."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(MaskedConv1d(i, o) for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for conv in self.convs:
            x = F.relu(conv(x, mask))
        return x


@register_model("tslnet", TSLNetConfig)
class TSLNet(BaseModel):
    output_type = TSLNetOutput

    """TSL-Net for temporal sentiment localization; see the module docstring.

    The reverse mappings F'_v, F'_a exist only for the CPC loss L_fuse: they are skipped with
    ``cas_only`` (inference), which removes ~90% of the forward cost.
    """

    def __init__(self, cfg: TSLNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, c, h = cfg.hidden, cfg.num_classes, cfg.trunk_hidden
        aligned = {cfg.visual: cfg.dims[cfg.visual]}
        if cfg.uses_cnn:
            self.audio_cnn = AudioCNN(cfg.mfcc_rows, cfg.mfcc_bands, d, cfg.cnn_chunk)
        else:
            aligned[cfg.audio] = cfg.dims[cfg.audio]
            self.audio_cnn = None
        self.align = ModalityAlign(aligned, d)
        self.head = ClassHead(2 * d, h, 2 * (c + 1), cfg.dropout, bias=False)  # [CLS, DIST]
        self.reverse = nn.ModuleDict({m: ConvStack([h, h, h, h, d]) for m in ("visual", "audio")})

    @property
    def normalises_inputs(self) -> set[str]:
        """Streams this model scales itself: the audio CNN's ``(x + 50) / 80`` expects raw log-mel dB.

        The trainer leaves them out of ``data.standardize`` so they are not scaled twice.
        """
        return {self.cfg.audio} if self.audio_cnn is not None else set()

    def param_groups(self, lr: float) -> list[dict]:
        """Optimiser groups: the audio CNN trains at ``audio_lr_scale`` × lr, the rest at lr."""
        cnn = set() if self.audio_cnn is None else {id(p) for p in self.audio_cnn.parameters()}
        groups = [{"params": [p for p in self.parameters() if id(p) not in cnn], "lr": lr}]
        if self.audio_cnn is not None:
            groups.append({"params": list(self.audio_cnn.parameters()), "lr": lr * self.cfg.audio_lr_scale})
        return groups

    def _audio(self, features: dict[str, Tensor], mask: Tensor, aligned: dict[str, Tensor]) -> Tensor:
        """A: the conv-aligned audio stream, or the audio CNN's encoding of the raw MFCC blocks."""
        if self.audio_cnn is None:
            return aligned[self.cfg.audio]
        name, dim = self.cfg.audio, self.cfg.dims[self.cfg.audio]
        if name not in features or features[name].shape[-1] != dim:
            found = {k: v.shape[-1] for k, v in features.items()}
            raise SentilocError(
                f"the audio CNN needs feature stream '{name}' of dim {dim}, but the batch has {found}; "
                "set the model's dims from the data"
            )
        return self.audio_cnn(features[name], mask)

    def forward(
        self, features: dict[str, Tensor], mask: Tensor, face_present: Tensor, cas_only: bool = False
    ) -> TSLNetOutput:
        """Score every snippet of a padded batch.

        Args:
            features: modality -> ``(B, T, D_m)``; the face stream, if any, is ignored.
            mask: ``(B, T)`` bool, True on real snippets.
            face_present: unused (TSL-Net has no face stream); kept for the shared signature.
            cas_only: skip the reverse mappings, which only feed the training loss.

        Returns:
            :class:`TSLNetOutput` in float32, zero at padding; ``recon_visual``/``recon_audio``
            are None under ``cas_only``.
        """
        cfg, c = self.cfg, self.cfg.num_classes
        mask = mask.bool()
        aligned = self.align(features, {cfg.visual: mask, cfg.audio: mask})
        v, a = aligned[cfg.visual], self._audio(features, mask, aligned)
        logits, f_z = self.head(torch.cat([v, a], dim=-1), mask)
        logits = logits.float().masked_fill(~mask[..., None], 0.0)
        cls_logits, dist_logits = logits[..., : c + 1], logits[..., c + 1 :]
        cas = sigmoid_cas(cls_logits, mask)
        return TSLNetOutput(
            cas=cas,
            global_cas=None,
            w_sent=mask.float(),
            embeddings=f_z.float(),
            video_scores=masked_topk_mean(cas[..., :c], mask, cfg.r_act),
            dist_logits=dist_logits,
            dist_video=masked_topk_mean(dist_logits[..., :c], mask, cfg.r_act),
            feat_visual=v.float(),
            feat_audio=a.float(),
            recon_visual=None if cas_only else self.reverse["visual"](f_z, mask).float(),
            recon_audio=None if cas_only else self.reverse["audio"](f_z, mask).float(),
        )
