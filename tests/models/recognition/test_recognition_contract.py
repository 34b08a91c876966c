"""The contract every registered recognition model keeps, parametrised over the registry.

Clip logits and attention in float32 (also under bf16 autocast), attention in [0, 1] and zero at
padding, outputs independent of the padding and of what it holds, gradients for every parameter.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sentiloc.models import MODELS
from tests.models.recognition.inputs import make_clips, tiny


def tensor_fields(out) -> dict[str, torch.Tensor]:
    return {f.name: getattr(out, f.name) for f in dataclasses.fields(out) if isinstance(getattr(out, f.name), torch.Tensor)}


@pytest.fixture(params=[n for n, entry in MODELS.items() if entry.cls.task == "recognition"])
def name(request) -> str:
    return request.param


def test_the_recognition_models_are_registered() -> None:
    assert {"cten", "meanpool_linear"} <= {n for n, e in MODELS.items() if e.cls.task == "recognition"}


def test_outputs_are_typed_float32_and_attention_is_zero_at_padding(name: str) -> None:
    model = tiny(name).eval()
    streams, mask = make_clips()
    out = model(streams, mask)
    assert isinstance(out, type(model).output_type)
    assert out.logits.shape == (2, 3) and out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    assert out.attention.dtype == torch.float32 and out.attention.shape == mask.shape
    assert ((out.attention >= 0) & (out.attention <= 1)).all() and out.attention[~mask].abs().sum() == 0


def test_a_padded_clip_scores_as_it_does_alone_whatever_the_padding_holds(name: str) -> None:
    model = tiny(name).eval()
    streams, mask = make_clips(lengths=(7, 4))
    garbage = {s: torch.where(mask[..., None], x, torch.full_like(x, 7.0)) for s, x in streams.items()}
    batched = model(garbage, mask)
    alone = model({s: x[1:, :4] for s, x in streams.items()}, mask[1:, :4])
    for field, x in tensor_fields(alone).items():
        y = getattr(batched, field)[1:]
        # rtol: TG-DFER's logits are cosines / τ = 0.01, a hundred times the float32 rounding of their inputs
        torch.testing.assert_close(y[:, :4] if x.dim() == 2 and x.shape[1] == 4 else y, x, atol=1e-5, rtol=1e-6,
                                   msg=field)


def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = tiny(name).train()
    streams, mask = make_clips()
    out = model(streams, mask)
    sum(x.float().sum() for x in tensor_fields(out).values() if x.requires_grad).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_bf16_autocast_returns_float32(name: str) -> None:
    model = tiny(name).train()
    streams, mask = make_clips()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(streams, mask)
    assert all(x.dtype in (torch.float32, torch.bool) for x in tensor_fields(out).values())
    assert out.logits.dtype == torch.float32 and out.attention.dtype == torch.float32
