"""The contract every registered model keeps (the masking contract of ``models/blocks.py``).

Parametrised over the localization models of the registry, so a newly registered one is held to
it without a new test (spotting models: tests/models/test_spotting_models.py; recognition models:
tests/models/recognition/test_recognition_contract.py): outputs of its declared type, float32 and finite, zero at padding, independent of the
padding and of its contents, the top-k video score, gradients for every parameter, float32
under bf16 autocast.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sentiloc.core.experiment import ComponentSpec
from sentiloc.models import MODELS, build_model
from sentiloc.models.ops import masked_topk_mean
from tests.models.inputs import DIMS, make_inputs

#: Narrow layers, where a model's config has them.
WIDTHS = {"hidden": 16, "trunk_hidden": 32, "gsp_hidden": 32, "heads": 2}
DERIVED = {"dims": DIMS, "num_classes": 2, "modalities": tuple(DIMS), "face": "img",
           "class_text": ((1.0, 0.0, 0.0), (0.0, 0.6, 0.8))}  # read only by the text-guided models


def tiny(name: str, seed: int = 0):
    torch.manual_seed(seed)
    fields = {f.name for f in dataclasses.fields(MODELS.get(name).config)}
    return build_model(ComponentSpec("model", name, {k: v for k, v in WIDTHS.items() if k in fields}), DERIVED)


def tensor_fields(out) -> dict[str, torch.Tensor]:
    return {f.name: getattr(out, f.name) for f in dataclasses.fields(out) if isinstance(getattr(out, f.name), torch.Tensor)}


@pytest.fixture(params=[n for n, entry in MODELS.items() if entry.cls.task == "localization"])
def name(request) -> str:
    return request.param


def test_outputs_are_typed_float32_finite_and_zero_at_padding(name: str) -> None:
    model = tiny(name).eval()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    assert isinstance(out, type(model).output_type)
    for field, x in tensor_fields(out).items():
        assert x.dtype == torch.float32 and torch.isfinite(x).all(), field
        if x.dim() == 3:
            assert x[~mask].abs().sum() == 0, field
    assert out.cas.shape == (2, 20, 3) and ((out.cas >= 0) & (out.cas <= 1)).all()
    torch.testing.assert_close(out.video_scores, masked_topk_mean(out.cas[..., :2], mask, model.cfg.r_act))


def test_a_padded_video_scores_as_it_does_alone_whatever_the_padding_holds(name: str) -> None:
    model = tiny(name).eval()
    feats, mask, face = make_inputs(lengths=(20, 13))
    garbage = {m: torch.where(mask[..., None], x, torch.full_like(x, 7.0)) for m, x in feats.items()}
    batched = model(garbage, mask, face)
    alone = model({m: x[1:, :13] for m, x in feats.items()}, mask[1:, :13], face[1:, :13])
    for field, x in tensor_fields(alone).items():
        y = getattr(batched, field)[1:]
        per_snippet = x.dim() >= 2 and x.shape[1] == 13
        torch.testing.assert_close(y[:, :13] if per_snippet else y, x, atol=1e-5, rtol=0, msg=field)


def test_every_parameter_gets_a_gradient(name: str) -> None:
    model = tiny(name).train()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    sum(x.sum() for x in tensor_fields(out).values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_bf16_autocast_returns_float32(name: str) -> None:
    model = tiny(name).train()
    feats, mask, face = make_inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(feats, mask, face)
    assert all(x.dtype == torch.float32 for x in tensor_fields(out).values())
