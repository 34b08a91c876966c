"""The baselines' objectives: MIL with background (video labels) and the frame classifier (dense)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.losses.frame import frame_loss
from sentiloc.losses.objectives.baselines import (
    FrameConfig,
    FrameObjective,
    MILConfig,
    MILObjective,
)
from sentiloc.losses.registry import build_objective
from sentiloc.losses.video import video_bce
from sentiloc.models.base import LocalizationOutput
from tests.losses.sections import loss_spec, typed_loss

CLICK_FIELDS = {"point_t", "point_cls", "point_mask"}

# One video, T = 4 real snippets + 1 padded one holding junk the objective must not pick; C = 2.
CAS = torch.tensor([[
    [0.9, 0.1, 0.2],
    [0.7, 0.2, 0.4],
    [0.1, 0.3, 0.8],
    [0.2, 0.4, 0.6],
    [1.0, 1.0, 1.0],
]])
MASK = torch.tensor([[True, True, True, True, False]])
LABELS = torch.tensor([[1.0, 0.0]])


class Guarded:
    """A batch whose forbidden fields raise on access, to prove an objective never reads them."""

    def __init__(self, batch: Batch, forbidden: set[str]) -> None:
        self._batch, self._forbidden = batch, forbidden

    def __getattr__(self, name: str) -> Any:
        if name in self._forbidden:
            raise AssertionError(f"the objective read batch.{name}")
        return getattr(self._batch, name)


def make_batch(mask: torch.Tensor, labels: torch.Tensor, **fields: torch.Tensor) -> Batch:
    b = mask.shape[0]
    return Batch(features={}, mask=mask, face_present=mask, video_ids=[str(i) for i in range(b)],
                 fps=torch.full((b,), 25.0), video_labels=labels, **fields)


def make_output(cas: torch.Tensor, video_scores: torch.Tensor) -> LocalizationOutput:
    return LocalizationOutput(cas=cas, global_cas=None, w_sent=torch.ones(cas.shape[:2]), embeddings=cas, video_scores=video_scores)


def test_mil_loss_by_hand() -> None:
    # r_act = 2 -> k = ⌊4 / 2⌋ = 2 snippets per bag (the padded row never counts).
    #   bag scores: n (0.9 + 0.7)/2 = 0.8, p (0.4 + 0.3)/2 = 0.35, ∅ (0.8 + 0.6)/2 = 0.7
    #   targets (1, 0, ∅ = 1): L_mil = −(log 0.8 + log 0.65 + log 0.7) / 3
    #   suppressed y_c (1 − y_∅): n = (0.72, 0.42, 0.02, 0.08) -> 0.57, p = (0.08, 0.12, 0.06, 0.16) -> 0.14
    #   targets (1, 0): L_sup = −(log 0.57 + log 0.86) / 2
    objective = MILObjective(MILConfig(r_act=2, lambda_suppression=0.5), "video", 2)
    terms = objective(make_output(CAS, torch.zeros(1, 2)), make_batch(MASK, LABELS))
    mil = -(math.log(0.8) + math.log(0.65) + math.log(0.7)) / 3
    sup = -(math.log(0.57) + math.log(0.86)) / 2
    assert terms["mil"].item() == pytest.approx(mil, rel=1e-6)
    assert terms["suppression"].item() == pytest.approx(sup, rel=1e-6)
    assert terms["total"].item() == pytest.approx(mil + 0.5 * sup, rel=1e-6)


def test_mil_without_suppression_is_the_background_bce_alone() -> None:
    objective = MILObjective(MILConfig(r_act=2, use_suppression=False), "video", 2)
    terms = objective(make_output(CAS, torch.zeros(1, 2)), make_batch(MASK, LABELS))
    assert set(terms) == {"mil", "total"}
    assert terms["total"].item() == pytest.approx(-(math.log(0.8) + math.log(0.65) + math.log(0.7)) / 3, rel=1e-6)


def test_suppression_pushes_background_down_on_the_labelled_class_top_snippets() -> None:
    """The branch's gradient on ∅ is positive (∅ should fall) where class n is at its top-k."""
    cas = CAS.clone().requires_grad_(True)
    terms = MILObjective(MILConfig(r_act=2), "video", 2)(make_output(cas, torch.zeros(1, 2)), make_batch(MASK, LABELS))
    (grad,) = torch.autograd.grad(terms["suppression"], cas)
    assert (grad[0, :2, 2] > 0).all()
    assert grad[0, 4].abs().sum() == 0  # padding gets nothing


def test_frame_objective_is_frame_loss_on_dense_targets() -> None:
    gen = torch.Generator().manual_seed(0)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    cas = torch.rand(2, 6, 3, generator=gen) * mask[..., None]
    dense = torch.zeros(2, 6, 3)
    dense[0, 1:3, 0] = dense[1, 2:4, 1] = 1.0
    dense[..., 2] = (1.0 - dense[..., :2].sum(-1)) * mask
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scores = torch.rand(2, 2, generator=gen)
    batch, out = make_batch(mask, labels, dense=dense), make_output(cas, scores)
    frame = frame_loss(cas, dense, mask.float(), mask, gamma=1.5)
    terms = FrameObjective(FrameConfig(gamma=1.5, lambda_video=0.25), "full", 2)(out, batch)
    torch.testing.assert_close(terms["frame"], frame)
    torch.testing.assert_close(terms["total"], frame + 0.25 * video_bce(scores, labels))
    frame_only = FrameObjective(FrameConfig(gamma=1.5, use_video_loss=False), "full", 2)(out, batch)
    assert set(frame_only) == {"frame", "total"}
    torch.testing.assert_close(frame_only["total"], frame)


def test_objectives_never_read_labels_their_supervision_lacks() -> None:
    dense = torch.zeros(1, 5, 3)
    out = make_output(CAS, torch.full((1, 2), 0.5))
    mil = MILObjective(MILConfig(r_act=2), "video", 2)(out, Guarded(make_batch(MASK, LABELS), CLICK_FIELDS | {"dense"}))
    frame = FrameObjective(FrameConfig(), "full", 2)(out, Guarded(make_batch(MASK, LABELS, dense=dense), CLICK_FIELDS))
    assert torch.isfinite(mil["total"]) and torch.isfinite(frame["total"])


@pytest.mark.parametrize(("name", "wrong"), [("mil", "point"), ("mil", "full"), ("frame", "video"), ("frame", "point")])
def test_supervision_mismatch_is_a_clear_error(name: str, wrong: str) -> None:
    with pytest.raises(SentilocError, match=f"loss.name '{name}' trains from .* data.supervision is '{wrong}'"):
        build_objective(loss_spec({"name": name}), {"num_classes": 2}, wrong, "fusion")


def test_loss_sections_are_typed_and_checked() -> None:
    assert typed_loss({"name": "mil", "r_act": 4}) == ("mil", MILConfig(r_act=4))
    assert typed_loss({"name": "frame", "gamma": 0.0}) == ("frame", FrameConfig(gamma=0.0))
    with pytest.raises(SentilocError, match="unknown key"):
        typed_loss({"name": "mil", "gamma": 2.0})
    with pytest.raises(SentilocError, match="r_act"):
        MILConfig(r_act=0)
    with pytest.raises(SentilocError, match="lambda_video"):
        FrameConfig(lambda_video=-1.0)
