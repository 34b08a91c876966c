"""``tgdfer_tsl`` / ``tgdfer_notext_tsl`` (docs/methods.md §7.6): TG-DFER's relevance as a localization CAS.

The masking contract, the top-k video score and bf16 are held by tests/models/test_contract.py."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.losses import build_objective
from sentiloc.losses.objectives.tgdfer import TGDFERVideoConfig, TGDFERVideoObjective
from sentiloc.models import TGDFERTSL, build_model
from sentiloc.models.localization.tgdfer import class_bag_logits
from tests.models.inputs import DIMS, make_inputs

CLASS_TEXT = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0))
DERIVED = {"dims": DIMS, "num_classes": 2, "modalities": tuple(DIMS), "face": "img", "class_text": CLASS_TEXT}
TINY = {"hidden": 8, "heads": 2, "dropout": 0.0}


def tiny(name: str = "tgdfer_tsl", seed: int = 0, **params: object) -> TGDFERTSL:
    torch.manual_seed(seed)
    return build_model(ComponentSpec("model", name, {**TINY, **params}), DERIVED)


def test_class_bags_by_hand() -> None:
    # frames [1,0] and [0,1], classes [1,0] and [0,1], τ = 1: S = [[1, 0], [0, 1]].
    # class 0: r = softmax([1, 0]) = [e, 1]/(e + 1) = [0.7311, 0.2689]; z_0 = [0.7311, 0.2689];
    # cos(z_0, [1, 0]) = 0.7311 / √(0.7311² + 0.2689²) = 0.7311 / 0.7790 = 0.9385; class 1 the same by symmetry.
    # A third frame [5, 5] is padding: it must change nothing.
    frames = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    aligned = torch.eye(2)[None]
    mask = torch.tensor([[True, True, False]])
    similarity = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    e = math.e
    expected = (e / (e + 1)) / math.hypot(e / (e + 1), 1 / (e + 1))
    torch.testing.assert_close(class_bag_logits(frames, aligned, similarity, mask, 1.0),
                               torch.tensor([[expected, expected]]))
    torch.testing.assert_close(class_bag_logits(frames, aligned, similarity, mask, 0.5),
                               torch.tensor([[expected, expected]]) / 0.5)


def test_the_cas_is_the_relevance_times_the_snippet_classifier() -> None:
    feats, mask, face = make_inputs()
    model = tiny().eval()
    out = model(feats, mask, face)
    frames, aligned, similarity = model.network.frame_similarity(feats, mask)
    logits = similarity / model.cfg.tau
    relevance = logits.amax(dim=-1)
    lo = relevance.masked_fill(~mask, float("inf")).amin(dim=1, keepdim=True)
    hi = relevance.masked_fill(~mask, float("-inf")).amax(dim=1, keepdim=True)
    attention = (relevance - lo) / (hi - lo)
    torch.testing.assert_close(out.cas[..., 2][mask], 1.0 - attention[mask])
    torch.testing.assert_close(out.cas[..., :2][mask], (attention[..., None] * torch.sigmoid(logits))[mask])
    assert out.video_logits.shape == (2, 2) and out.global_cas is None
    assert torch.equal(out.w_sent, mask.float())


def test_the_face_stream_is_not_read_unless_listed() -> None:
    feats, mask, face = make_inputs()
    model = tiny().eval()
    assert model.cfg.streams == ("rgb", "logmfcc")
    no_face = {**feats, "img": torch.zeros_like(feats["img"])}
    torch.testing.assert_close(model(feats, mask, face).cas, model(no_face, mask, face).cas)
    with_face = tiny(streams=["rgb", "logmfcc", "img"]).eval()
    assert not torch.allclose(with_face(feats, mask, face).cas, with_face(no_face, mask, face).cas)


def test_the_text_variant_keeps_the_class_text_and_the_other_learns_classes() -> None:
    text = tiny()
    torch.testing.assert_close(text.state_dict()["network.classes.class_text"], torch.tensor(CLASS_TEXT))
    assert not any("class_text" in k for k in tiny("tgdfer_notext_tsl").state_dict())


def test_the_video_objective_is_a_per_class_bce_by_hand() -> None:
    # logits [0, ln 3], labels [1, 0]: BCE = (−ln σ(0) − ln(1 − σ(ln 3))) / 2 = (ln 2 + ln 4) / 2 = 1.0397
    class Out:
        video_logits = torch.tensor([[0.0, math.log(3.0)]])

    class Labels:
        video_labels = torch.tensor([[1.0, 0.0]])

    terms = TGDFERVideoObjective(TGDFERVideoConfig(), "video", 2)(Out(), Labels())
    assert terms["total"].item() == pytest.approx((math.log(2.0) + math.log(4.0)) / 2, abs=1e-6)


def test_the_objective_trains_prompts_temporal_network_and_classes() -> None:
    feats, mask, face = make_inputs()
    model = tiny().train()
    objective = build_objective(ComponentSpec("loss", "tgdfer_video", {}), {"num_classes": 2}, "video", "tgdfer_tsl")

    class Labels:
        video_labels = torch.tensor([[1.0, 0.0], [1.0, 1.0]])

    objective(model(feats, mask, face), Labels())["total"].backward()
    for part in (model.network.temporal, model.network.prompts, model.network.classes):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_configuration_mistakes_are_one_line_errors() -> None:
    with pytest.raises(SentilocError, match="model.r_act must be >= 1"):
        tiny(r_act=0)
    with pytest.raises(SentilocError, match="model.dims has no entry"):
        tiny(streams=["rgb", "depth"])
    with pytest.raises(SentilocError, match="build it through `sentiloc train`"):
        build_model(ComponentSpec("model", "tgdfer_tsl", TINY), {k: v for k, v in DERIVED.items() if k != "class_text"})
