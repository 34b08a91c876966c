"""FusionNet (the baselines' model): shapes, padding and missing-face invariances, registry."""

from __future__ import annotations

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.models.ops import masked_topk_mean
from sentiloc.models import FusionNet, FusionNetConfig
from tests.models.inputs import DIMS, assert_outputs_close, build, make_inputs

TINY = {"dims": DIMS, "hidden": 16, "trunk_hidden": 32}


def make_model(seed: int = 0, **overrides: object) -> FusionNet:
    torch.manual_seed(seed)
    return FusionNet(FusionNetConfig(**{**TINY, **overrides}))


def test_output_shapes_ranges_and_padding_zeros() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    assert out.cas.shape == (2, 20, 3) and out.embeddings.shape == (2, 20, 32) and out.video_scores.shape == (2, 2)
    assert out.global_cas is None
    torch.testing.assert_close(out.w_sent, mask.float())
    assert ((out.cas >= 0) & (out.cas <= 1)).all()
    assert out.cas[~mask].abs().sum() == 0 and out.embeddings[~mask].abs().sum() == 0
    torch.testing.assert_close(out.video_scores, masked_topk_mean(out.cas[..., :2], mask, 8))
    assert_outputs_close(out, model(feats, mask, face, cas_only=True), atol=0)


def test_padded_video_equals_video_alone() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs(lengths=(20, 13))
    batched = model(feats, mask, face)
    n = 13
    alone = model({m: x[1:, :n] for m, x in feats.items()}, mask[1:, :n], face[1:, :n])
    for name in ("cas", "embeddings"):
        torch.testing.assert_close(getattr(batched, name)[1:, :n], getattr(alone, name), atol=1e-5, rtol=0, msg=name)
    torch.testing.assert_close(batched.video_scores[1:], alone.video_scores, atol=1e-5, rtol=0)


def test_garbage_at_padding_changes_nothing() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    garbage = {m: x + torch.randn_like(x) * 5 * (~mask)[..., None] for m, x in feats.items()}
    assert_outputs_close(model(feats, mask, face), model(garbage, mask, face), atol=0)


def test_missing_face_rows_read_as_zeros() -> None:
    """Face rows where no face was found are never read: garbage there equals zeros there."""
    model = make_model().eval()
    feats, mask, face = make_inputs()
    garbage = dict(feats)
    garbage["img"] = feats["img"] + torch.randn_like(feats["img"]) * 5 * (~face)[..., None]
    assert_outputs_close(model(feats, mask, face), model(garbage, mask, face), atol=0)
    aligned = model.align(garbage, {"rgb": mask, "logmfcc": mask, "img": face})
    assert aligned["img"][~face].abs().sum() == 0 and aligned["img"][face].abs().sum() > 0


def test_without_face_stream() -> None:
    model = make_model(modalities=["rgb", "logmfcc"], face=None).eval()
    assert set(model.align.proj) == {"rgb", "logmfcc"}
    feats, mask, face = make_inputs()
    other = dict(feats, img=torch.randn_like(feats["img"]))
    assert_outputs_close(model(feats, mask, face), model(other, mask, face), atol=0)


def test_every_parameter_gets_a_gradient() -> None:
    model = make_model().train()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    (out.cas.sum() + out.embeddings.sum()).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead


def test_bf16_autocast_returns_float32() -> None:
    model = make_model().train()
    feats, mask, face = make_inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(feats, mask, face)
    for x in (out.cas, out.w_sent, out.embeddings, out.video_scores):
        assert x.dtype == torch.float32 and torch.isfinite(x).all()


def test_build_from_registry_and_config_errors() -> None:
    assert isinstance(build("fusion", TINY), FusionNet)
    with pytest.raises(SentilocError, match="heads"):
        build("fusion", dict(TINY, heads=2))
    with pytest.raises(SentilocError, match="model.face 'img'"):
        FusionNetConfig(**TINY, modalities=["rgb", "logmfcc"])
    with pytest.raises(SentilocError, match="once"):
        FusionNetConfig(**TINY, modalities=["rgb", "rgb"], face=None)
    with pytest.raises(SentilocError, match="img"):
        FusionNetConfig(dims={"rgb": 4, "logmfcc": 4})
    with pytest.raises(SentilocError, match="r_act"):
        FusionNetConfig(**TINY, r_act=0)
