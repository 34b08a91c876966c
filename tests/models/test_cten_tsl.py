"""``cten_tsl`` (docs/methods.md §8.9): CTEN on TSL-300 streams with a CAS built from its attention.

The masking contract, the top-k video score and bf16 are held by tests/models/test_contract.py."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.losses.objectives.cten import CTENVideoConfig, CTENVideoObjective
from sentiloc.models import CTENTSL, build_model
from sentiloc.models.ops import attention_cas
from tests.models.inputs import DIMS, make_inputs

DERIVED = {"dims": DIMS, "num_classes": 2, "modalities": tuple(DIMS), "face": "img"}
TINY = {"hidden": 8, "attention_hidden": 4, "dropout": 0.0}


def tiny(seed: int = 0, **params: object) -> CTENTSL:
    torch.manual_seed(seed)
    return build_model(ComponentSpec("model", "cten_tsl", {**TINY, **params}), DERIVED)


def test_the_cas_is_the_attention_times_the_class_probability_and_its_complement() -> None:
    # σ(0) = 0.5, σ(ln 3) = 0.75.  Snippet 0: A* = 1   -> [0.5, 0.75, 1 − 1 = 0];
    # snippet 1: A* = 0.5 -> [0.5·0.75, 0.5·0.25, 0.5] = [0.375, 0.125, 0.5]; snippet 2 is padding -> 0.
    ln3 = math.log(3.0)
    attention = torch.tensor([[1.0, 0.5, 0.0]])
    logits = torch.tensor([[[0.0, ln3], [ln3, -ln3], [5.0, 5.0]]])
    cas = attention_cas(attention, logits, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(cas, torch.tensor([[[0.5, 0.75, 0.0], [0.375, 0.125, 0.5], [0.0, 0.0, 0.0]]]))


def test_the_background_column_is_one_minus_the_clip_attention() -> None:
    feats, mask, face = make_inputs()
    out = tiny().train()(feats, mask, face)
    torch.testing.assert_close(out.cas[..., 2][mask], 1.0 - out.clip.attention[mask])
    assert out.clip.keyframe_logits.shape == (2, 2) and out.clip.keyframe_valid is not None
    evaluated = tiny().eval()(feats, mask, face)
    assert evaluated.clip.keyframe_logits is None and evaluated.global_cas is None
    assert torch.equal(evaluated.w_sent, mask.float())


def test_the_face_stream_is_not_read_and_visual_mode_reads_rgb_only() -> None:
    feats, mask, face = make_inputs()
    model = tiny().eval()
    no_face = {**feats, "img": torch.zeros_like(feats["img"])}
    torch.testing.assert_close(model(feats, mask, face).cas, model(no_face, mask, torch.zeros_like(face)).cas)
    visual = tiny(mode="visual").eval()
    other_audio = {**feats, "logmfcc": torch.randn_like(feats["logmfcc"]) * mask[..., None]}
    torch.testing.assert_close(visual(feats, mask, face).cas, visual(other_audio, mask, face).cas)
    assert not torch.allclose(model(feats, mask, face).cas, model(other_audio, mask, face).cas)


def test_the_video_objective_trains_the_attention() -> None:
    feats, mask, face = make_inputs()
    model = tiny(theta=0.5).train()
    objective = CTENVideoObjective(CTENVideoConfig(), "video", 2)

    class Labels:
        video_labels = torch.tensor([[1.0, 0.0], [1.0, 1.0]])

    terms = objective(model(feats, mask, face), Labels())
    terms["total"].backward()
    assert set(terms) == {"total", "bce_original", "bce_keyframes", "bce_context"}
    for part in ("intra", "inter", "attention"):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model.network, part).parameters())


def test_configuration_mistakes_are_one_line_errors() -> None:
    with pytest.raises(SentilocError, match="model.r_act must be >= 1"):
        tiny(r_act=0)
    with pytest.raises(SentilocError, match=r"data.modalities lists \['rgb'\]"):
        build_model(ComponentSpec("model", "cten_tsl", TINY), {**DERIVED, "modalities": ("rgb",)})
