"""Inference helpers: the bf16 inference copy matches bf16 autocast."""

from __future__ import annotations

import torch

from sentiloc.engine.device import autocast
from sentiloc.engine.inference import inference_model
from sentiloc.models.localization.fsenet import FSENet, FSENetConfig

CPU = torch.device("cpu")


def _model() -> FSENet:
    torch.manual_seed(0)
    dims = {"rgb": 6, "logmfcc": 4, "img": 5}
    return FSENet(FSENetConfig(dims=dims, hidden=8, heads=2, gsp_hidden=12, trunk_hidden=12)).eval()


def test_bf16_copy_matches_autocast_and_leaves_the_model_alone() -> None:
    model = _model()
    features = {k: torch.randn(1, 20, d) for k, d in model.cfg.dims.items()}
    mask = torch.ones(1, 20, dtype=torch.bool)
    face = torch.rand(1, 20) > 0.3
    with torch.no_grad(), autocast(CPU, "bf16"):
        ref = model(features, mask, face, cas_only=True)
    copy = inference_model(model, CPU, "bf16")
    with torch.no_grad():
        out = copy({k: v.bfloat16() for k, v in features.items()}, mask, face, cas_only=True)
    assert copy is not model and next(copy.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).dtype == torch.float32
    torch.testing.assert_close(out.cas, ref.cas, atol=2e-2, rtol=0)
    torch.testing.assert_close(out.video_scores, ref.video_scores, atol=2e-2, rtol=0)


def test_float32_inference_uses_the_model_itself() -> None:
    model = _model()
    assert inference_model(model, CPU, "none") is model
