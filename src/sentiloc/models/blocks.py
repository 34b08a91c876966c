"""Shared model bricks: masked temporal convolution, modality alignment, cross-attention, heads.

Every brick works on batch-first, channels-last sequences ``(B, T, D)`` (the layout of
:class:`sentiloc.data.batch.Batch`) and takes a ``(B, T)`` bool mask that is True on the
positions it may read. Keeping one layout end to end avoids transposes between conv stacks and
attention; on the CPU the im2col + GEMM form of a temporal convolution is also faster than
``conv1d`` (about 1.6x in fp32 for the 1024 -> 2048 trunk at T = 462).

Masking contract: a brick never lets a masked position influence a real one (masked inputs are
zeroed before any temporal mixing, masked keys are excluded from attention), and it returns zeros
at masked positions, so bricks stack without re-masking and a padded video gives the same
outputs as the same video alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentiloc.core.errors import SentilocError


class MaskedConv1d(nn.Module):
    """Temporal convolution (stride 1, optional dilation, 'same' zero padding) on ``(B, T, D_in)`` sequences.

    Computed as one GEMM on the unfolded input (im2col), which keeps the channels-last layout.
    The weight has ``nn.Conv1d``'s shape ``(D_out, D_in, k)`` and default initialisation, so
    checkpoints and results stay comparable with conv-based reference code.
    """

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3, bias: bool = True, dilation: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1, got {dilation}")
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Conv1d``'s default: Kaiming-uniform weight, bias uniform in ±1/sqrt(fan_in)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x (B, T, D_in)``, ``mask (B, T)`` bool -> ``(B, T, D_out)``, zero where mask is False.

        Masked input rows are zeroed first, so padding (or a missing face) reads exactly like the
        zero padding at the sequence ends and never reaches a real neighbour.
        """
        keep = mask[..., None]
        if self.kernel_size > 1:
            pad = self.dilation * (self.kernel_size // 2)
            x = F.pad(x.masked_fill(~keep, 0.0), (0, 0, pad, pad))
            # (B, T, D_in, span) -> every dilation-th tap -> (B, T, D_in * k): the conv weight's order.
            x = x.unfold(1, 2 * pad + 1, 1)[..., :: self.dilation].flatten(2)
        out = F.linear(x, self.weight.flatten(1), self.bias)
        return out.masked_fill(~keep, 0.0)


class ModalityAlign(nn.Module):
    """Per-modality ``MaskedConv1d(D_m -> d, k) + ReLU`` projecting every stream to width ``d``.

    Input dims come from the data (``dims``), never from constants, because other feature
    extractors produce other widths.
    """

    def __init__(self, dims: Mapping[str, int], hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.dims = dict(dims)
        self.proj = nn.ModuleDict({m: MaskedConv1d(dim, hidden, kernel_size) for m, dim in self.dims.items()})

    def forward(self, features: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Align each built modality.

        Args:
            features: modality -> ``(B, T, D_m)``; extra modalities are ignored.
            masks: modality -> ``(B, T)`` bool rows that modality may read (the face stream
                uses ``face_present`` so its garbage rows are never seen).

        Returns:
            modality -> ``(B, T, d)``, zero where that modality's mask is False.
        """
        out = {}
        for name, proj in self.proj.items():
            if name not in features:
                raise SentilocError(
                    f"the model needs feature stream '{name}' but the batch has {sorted(features)}; "
                    "check the modality names in the model config"
                )
            x = features[name]
            if x.shape[-1] != self.dims[name]:
                raise SentilocError(
                    f"feature stream '{name}' has dim {x.shape[-1]} but the model was built for "
                    f"{self.dims[name]}; set the model's dims from the data"
                )
            out[name] = F.relu(proj(x, masks[name]))
        return out


class CrossAttention(nn.Module):
    """Multi-head attention over time: queries from one sequence, keys/values from another.

    Same parametrisation as ``nn.MultiheadAttention`` (biased q/k/v/out projections, dropout on
    the attention weights) but calls ``scaled_dot_product_attention`` directly on channels-last
    tensors and takes a key mask and a query mask.

    ``centre_values``: subtract each video's mean value (over its valid keys, per head) from the
    values, so that uniform attention contributes nothing and only attention that *selects*
    moves a query away from the residual stream. Optional positions (``pos``) are added to the
    query and key inputs only, as in DETR, so they steer where attention looks but never enter
    the values.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, centre_values: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.centre_values = centre_values
        self.q_proj = nn.Linear(dim, dim)
        self.kv_proj = nn.Linear(dim, 2 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases, like ``nn.MultiheadAttention``'s in-projection."""
        for proj in (self.q_proj, self.kv_proj, self.out_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(
        self, query: Tensor, context: Tensor, key_mask: Tensor, query_mask: Tensor, pos: Tensor | None = None
    ) -> Tensor:
        """Attend from ``query (B, Tq, d)`` to ``context (B, Tk, d)``.

        Args:
            key_mask: ``(B, Tk)`` bool, keys that may be attended to (padding and any missing
                rows are False).
            query_mask: ``(B, Tq)`` bool, rows that get an update; the output is zero elsewhere.
                A video with no valid key gets a zero update everywhere (never NaN).
            pos: optional ``(T, d)`` position codes for a shared timeline (``Tq == Tk == T``),
                added to the query and key inputs (not the values).

        Returns:
            ``(B, Tq, d)`` attention output (without residual).
        """
        b, tq, d = query.shape
        q, k, v = self._heads(query, context, pos, key_mask)
        has_key, attn_mask = self._key_mask(key_mask)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        out = self.out_proj(out.transpose(1, 2).reshape(b, tq, d))
        return out.masked_fill(~(query_mask & has_key[:, None])[..., None], 0.0)

    def weights(self, query: Tensor, context: Tensor, key_mask: Tensor, pos: Tensor | None = None) -> Tensor:
        """The attention probabilities ``(B, heads, Tq, Tk)`` of :meth:`forward`, without dropout.

        For inspection (``sentiloc benchmark attention``): the fused kernel of the forward pass
        never materialises them.
        """
        q, k, _ = self._heads(query, context, pos, key_mask)
        _, attn_mask = self._key_mask(key_mask)
        logits = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        return logits.masked_fill(~attn_mask, float("-inf")).softmax(dim=-1)

    def _heads(
        self, query: Tensor, context: Tensor, pos: Tensor | None, key_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Projected ``q (B, h, Tq, d/h)`` and ``k, v (B, h, Tk, d/h)``.

        With ``pos``, ``W_k (c + p) + b = (W_k c + b) + W_k p``: the fused key/value projection of
        the context stays one GEMM and the positions add a ``(T, d)`` term to the keys.
        """
        b, tq, d = query.shape
        h = self.heads
        q = self.q_proj(query if pos is None else query + pos).view(b, tq, h, d // h).transpose(1, 2)
        k, v = self.kv_proj(context).view(b, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        if pos is not None:
            k_pos = F.linear(pos, self.kv_proj.weight[:d]).view(-1, h, d // h).transpose(0, 1)
            k = k + k_pos
        if self.centre_values:
            keep = key_mask[:, None, :, None].to(v.dtype)  # (B, 1, Tk, 1)
            mean = (v * keep).sum(dim=2, keepdim=True) / keep.sum(dim=2, keepdim=True).clamp(min=1.0)
            v = v - mean
        return q, k, v

    @staticmethod
    def _key_mask(key_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``has_key (B,)`` and the ``(B, 1, 1, Tk)`` attention mask.

        A row of all-False keys makes softmax NaN; such videos attend everywhere and the caller
        zeroes their output instead.
        """
        has_key = key_mask.any(dim=1)
        return has_key, (key_mask | ~has_key[:, None])[:, None, None, :]


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> Tensor:
    """The Transformer's sinusoidal codes ``(length, dim)`` for snippet indices ``0 … length−1``.

    Column ``2i`` is ``sin(t / 10000^{2i/dim})`` and column ``2i+1`` the matching cosine; every
    entry lies in [−1, 1]. ``dim`` must be even.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal positions need an even dim, got {dim}")
    t = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    angles = t * freq  # (length, dim / 2)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)


class ClassHead(nn.Module):
    """Temporal trunk + pointwise classifier: ``Linear(Dropout(ReLU(MaskedConv1d(x))))``.

    The shape of the TSL-Net fusion head, FSENet's CAS head and its GSP regressor. Several
    pointwise heads on one trunk (TSL-Net's CLS and DIST) are one head with concatenated outputs.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        out_dim: int,
        dropout: float,
        bias: bool = False,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.trunk = MaskedConv1d(in_dim, hidden, kernel_size)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, out_dim, bias=bias)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, T, D_in)``, ``mask (B, T)`` -> ``(logits (B, T, out), trunk (B, T, hidden))``.

        ``trunk`` is the ReLU activation before dropout (zero at masked positions), usable as a
        snippet embedding. Logits at masked positions are meaningless (the bias); callers mask
        after their nonlinearity.
        """
        trunk = F.relu(self.trunk(x, mask))
        return self.classifier(self.dropout(trunk)), trunk
