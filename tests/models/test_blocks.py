"""Shared bricks: conv equivalence, masking contracts, attention guards, top-k pooling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sentiloc.core.errors import SentilocError
from sentiloc.models.blocks import (
    ClassHead,
    CrossAttention,
    MaskedConv1d,
    ModalityAlign,
    sinusoidal_positions,
)


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_masked_conv_matches_conv1d_on_unpadded_input(kernel_size: int) -> None:
    torch.manual_seed(0)
    conv = MaskedConv1d(6, 4, kernel_size)
    x = torch.randn(2, 9, 6)
    expected = F.conv1d(x.transpose(1, 2), conv.weight, conv.bias, padding=kernel_size // 2).transpose(1, 2)
    torch.testing.assert_close(conv(x, torch.ones(2, 9, dtype=torch.bool)), expected)


def test_masked_conv_ignores_masked_rows_and_zeroes_them() -> None:
    torch.manual_seed(0)
    conv = MaskedConv1d(5, 3)
    x = torch.randn(1, 8, 5)
    mask = torch.ones(1, 8, dtype=torch.bool)
    mask[0, 3] = False
    garbage = x.clone()
    garbage[0, 3] = 100.0
    out = conv(garbage, mask)
    torch.testing.assert_close(out, conv(x, mask))
    assert out[0, 3].abs().sum() == 0


def test_cross_attention_masks_keys_and_queries() -> None:
    torch.manual_seed(0)
    attn = CrossAttention(8, 2).eval()
    q, kv = torch.randn(1, 6, 8), torch.randn(1, 5, 8)
    key_mask = torch.tensor([[True, True, False, True, False]])
    query_mask = torch.tensor([[True, False, True, True, True, False]])
    out = attn(q, kv, key_mask, query_mask)
    kv_garbage = kv.clone()
    kv_garbage[0, ~key_mask[0]] = 50.0
    torch.testing.assert_close(out, attn(q, kv_garbage, key_mask, query_mask))
    assert out[0, ~query_mask[0]].abs().sum() == 0
    assert out[0, query_mask[0]].abs().sum() > 0


def test_cross_attention_all_keys_masked_gives_zero_not_nan() -> None:
    attn = CrossAttention(8, 2).eval()
    key_mask = torch.tensor([[False, False, False], [True, True, False]])
    out = attn(torch.randn(2, 4, 8), torch.randn(2, 3, 8), key_mask, torch.ones(2, 4, dtype=torch.bool))
    assert torch.isfinite(out).all()
    assert out[0].abs().sum() == 0 and out[1].abs().sum() > 0


def test_cross_attention_weights_are_the_ones_forward_applies() -> None:
    # forward = out_proj(Σ_k w_qk v_k): rebuilding it from `weights` must give the same output,
    # and masked keys get exactly zero probability.
    torch.manual_seed(0)
    attn = CrossAttention(8, 2).eval()
    q, kv = torch.randn(1, 6, 8), torch.randn(1, 5, 8)
    key_mask = torch.tensor([[True, True, False, True, False]])
    weights = attn.weights(q, kv, key_mask)
    assert weights.shape == (1, 2, 6, 5)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(1, 2, 6))
    assert weights[..., ~key_mask[0]].abs().sum() == 0
    _, _, v = attn._heads(q, kv, None, key_mask)
    rebuilt = attn.out_proj((weights @ v).transpose(1, 2).reshape(1, 6, 8))
    torch.testing.assert_close(rebuilt, attn(q, kv, key_mask, torch.ones(1, 6, dtype=torch.bool)))


def test_modality_align_reports_wrong_dims_and_missing_streams() -> None:
    align = ModalityAlign({"rgb": 4, "img": 3}, hidden=5)
    mask = torch.ones(1, 6, dtype=torch.bool)
    out = align({"rgb": torch.randn(1, 6, 4), "img": torch.randn(1, 6, 3), "extra": torch.randn(1, 6, 2)},
                {"rgb": mask, "img": mask})
    assert set(out) == {"rgb", "img"} and out["rgb"].shape == (1, 6, 5) and (out["img"] >= 0).all()
    with pytest.raises(SentilocError, match="dim 7"):
        align({"rgb": torch.randn(1, 6, 7), "img": torch.randn(1, 6, 3)}, {"rgb": mask, "img": mask})
    with pytest.raises(SentilocError, match="img"):
        align({"rgb": torch.randn(1, 6, 4)}, {"rgb": mask})


def test_class_head_shapes_and_trunk_is_pre_dropout() -> None:
    torch.manual_seed(0)
    head = ClassHead(6, 10, 3, dropout=0.5).train()
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    logits, trunk = head(torch.randn(2, 7, 6), mask)
    assert logits.shape == (2, 7, 3) and trunk.shape == (2, 7, 10)
    assert (trunk >= 0).all() and trunk[1, 5:].abs().sum() == 0
    assert head.classifier.bias is None


def test_centred_values_make_uniform_attention_add_nothing() -> None:
    # With q = 0 every key gets the same logit, so attention is uniform over the valid keys; the
    # values' mean over those keys is subtracted first, hence the output is out_proj's bias (0).
    torch.manual_seed(0)
    attn = CrossAttention(8, 2, centre_values=True).eval()
    torch.nn.init.zeros_(attn.q_proj.weight)
    q, kv = torch.randn(2, 4, 8), torch.randn(2, 5, 8)
    key_mask = torch.tensor([[True, True, False, True, False], [True] * 5])
    out = attn(q, kv, key_mask, torch.ones(2, 4, dtype=torch.bool))
    torch.testing.assert_close(out, torch.zeros_like(out))
    plain = CrossAttention(8, 2).eval()
    plain.load_state_dict(attn.state_dict())
    assert plain(q, kv, key_mask, torch.ones(2, 4, dtype=torch.bool)).abs().max() > 1e-3


def test_positions_enter_queries_and_keys_but_not_values() -> None:
    torch.manual_seed(0)
    attn = CrossAttention(8, 2).eval()
    q, kv = torch.randn(1, 5, 8), torch.randn(1, 5, 8)
    key_mask = torch.ones(1, 5, dtype=torch.bool)
    pos = sinusoidal_positions(5, 8)
    q_pos, k_pos, v_pos = attn._heads(q, kv, pos, key_mask)
    q_ref = attn.q_proj(q + pos).view(1, 5, 2, 4).transpose(1, 2)
    k_ref = F.linear(kv + pos, attn.kv_proj.weight[:8], attn.kv_proj.bias[:8]).view(1, 5, 2, 4).transpose(1, 2)
    _, _, v_ref = attn._heads(q, kv, None, key_mask)
    torch.testing.assert_close(q_pos, q_ref)
    torch.testing.assert_close(k_pos, k_ref)
    torch.testing.assert_close(v_pos, v_ref)


def test_sinusoidal_positions_by_hand() -> None:
    pos = sinusoidal_positions(3, 4)
    # column 2i = sin(t / 10000^(2i/4)), column 2i+1 = cos(...): frequencies 1 and 1/100
    expected = torch.tensor([
        [0.0, 1.0, 0.0, 1.0],
        [math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)],
        [math.sin(2.0), math.cos(2.0), math.sin(0.02), math.cos(0.02)],
    ])
    torch.testing.assert_close(pos, expected)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(3, 5)
