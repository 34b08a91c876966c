"""FusionNet (the baselines' model): shapes, padding and missing-face invariances, registry."""

from __future__ import annotations

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.models import FusionNet, FusionNetConfig
from sentiloc.models.ops import masked_topk_mean
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
