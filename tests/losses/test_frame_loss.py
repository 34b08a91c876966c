"""Focal BCE and the snippet-weighted frame loss (docs/methods.md §2.7), by hand."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.losses.frame import class_balanced_frame_loss, focal_bce, frame_loss


def test_focal_bce_hand_values() -> None:
    # p = 0.8, q = 1: w = ((1 − 0.8)·1 + 0.8·0)^2 = 0.04; BCE = −log 0.8
    assert focal_bce(torch.tensor(0.8), torch.tensor(1.0)).item() == pytest.approx(0.04 * -math.log(0.8))
    # p = 0.3, q = 0: w = 0.3^2 = 0.09; BCE = −log 0.7
    assert focal_bce(torch.tensor(0.3), torch.tensor(0.0)).item() == pytest.approx(0.09 * -math.log(0.7))
    # soft q = 0.6, p = 0.5: w = (0.5·0.6 + 0.5·0.4)^2 = 0.25; BCE = −(0.6 + 0.4) log 0.5 = log 2
    assert focal_bce(torch.tensor(0.5), torch.tensor(0.6)).item() == pytest.approx(0.25 * math.log(2))
    # γ = 0 is plain BCE
    assert focal_bce(torch.tensor(0.8), torch.tensor(1.0), gamma=0.0).item() == pytest.approx(-math.log(0.8))


def test_focal_bce_is_finite_at_saturation() -> None:
    # p = 0 with q = 1: clamped to 1e-8 -> w ≈ 1, BCE = −log 1e-8 ≈ 18.42
    pred = torch.tensor([0.0, 1.0], requires_grad=True)
    loss = focal_bce(pred, torch.tensor([1.0, 0.0]))
    assert torch.isfinite(loss).all()
    assert loss[0].item() == pytest.approx(-math.log(1e-8), rel=1e-4)
    loss.sum().backward()
    assert torch.isfinite(pred.grad).all()


def test_frame_loss_weighting_and_normalisation() -> None:
    # One video, T = 3, C + 1 = 2 columns; the third snippet is padding.
    #   t=0: pred (0.8, 0.2), target (1, 0), weight 1 -> 2 · 0.04 · (−log 0.8)
    #   t=1: pred (0.5, 0.5), target (0.6, 0.4), weight 0.6 -> 2 · 0.25 · log 2
    #   L = (1 · ℓ_0 + 0.6 · ℓ_1) / (1 + 0.6)
    pred = torch.tensor([[[0.8, 0.2], [0.5, 0.5], [0.01, 0.99]]])
    targets = torch.tensor([[[1.0, 0.0], [0.6, 0.4], [1.0, 0.0]]])
    weight = torch.tensor([[1.0, 0.6, 1.0]])
    mask = torch.tensor([[True, True, False]])
    l0 = 2 * 0.04 * -math.log(0.8)
    l1 = 2 * 0.25 * math.log(2)
    expected = (1.0 * l0 + 0.6 * l1) / 1.6
    assert frame_loss(pred, targets, weight, mask).item() == pytest.approx(expected, rel=1e-6)


def test_frame_loss_normalises_over_the_whole_batch() -> None:
    # Two videos: (sum of weighted snippet losses) / (sum of all weights), not a mean of means.
    #   video 0: t=0 as above (ℓ_0, weight 1); video 1: t=0 as above (ℓ_1, weight 0.6), t=1 padding
    pred = torch.tensor([[[0.8, 0.2], [0.5, 0.5]], [[0.5, 0.5], [0.3, 0.3]]])
    targets = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.6, 0.4], [1.0, 1.0]]])
    weight = torch.tensor([[1.0, 0.0], [0.6, 0.7]])
    mask = torch.tensor([[True, True], [True, False]])
    l0 = 2 * 0.04 * -math.log(0.8)
    l1 = 2 * 0.25 * math.log(2)
    assert frame_loss(pred, targets, weight, mask).item() == pytest.approx((l0 + 0.6 * l1) / 1.6, rel=1e-6)


def test_frame_loss_ignores_padding_values_and_gradients() -> None:
    pred = torch.tensor([[[0.8, 0.2], [0.5, 0.5], [0.3, 0.6]]], requires_grad=True)
    targets = torch.tensor([[[1.0, 0.0], [0.6, 0.4], [1.0, 0.0]]])
    weight = torch.tensor([[1.0, 0.6, 1.0]])
    mask = torch.tensor([[True, True, False]])
    base = frame_loss(pred, targets, weight, mask)
    other = pred.detach().clone()
    other[0, 2] = torch.tensor([1.0, 0.0])  # a saturated, wrong prediction at padding
    assert frame_loss(other, targets, weight, mask).item() == pytest.approx(base.item())
    base.backward()
    assert (pred.grad[0, 2] == 0).all() and pred.grad[0, :2].abs().sum() > 0


def test_frame_loss_without_weight_is_zero_with_graph() -> None:
    pred = torch.rand(2, 4, 3, requires_grad=True)
    loss = frame_loss(pred, torch.rand(2, 4, 3), torch.zeros(2, 4), torch.ones(2, 4, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (pred.grad == 0).all()


def test_class_balanced_frame_loss_by_hand() -> None:
    # γ = 0 (plain BCE), T = 3, columns (c, ∅), all weights 1.
    #   column 0: targets (1, 0, 0), preds (0.8, 0.4, 0.1): positive mean −log 0.8 (mass 1),
    #             negative mean (−log 0.6 − log 0.9) / 2 (mass 2)
    #   column 1: targets (0, 1, 1), preds (0.2, 0.6, 0.7): positive mean (−log 0.6 − log 0.7) / 2,
    #             negative mean −log 0.8
    #   L = ½ (col 0 positive + negative) + ½ (col 1 positive + negative)
    pred = torch.tensor([[[0.8, 0.2], [0.4, 0.6], [0.1, 0.7]]])
    targets = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    loss = class_balanced_frame_loss(pred, targets, torch.ones(1, 3), torch.ones(1, 3, dtype=torch.bool), gamma=0.0)
    col0 = -math.log(0.8) + (-math.log(0.6) - math.log(0.9)) / 2
    col1 = (-math.log(0.6) - math.log(0.7)) / 2 - math.log(0.8)
    assert loss.item() == pytest.approx(0.5 * (col0 + col1), rel=1e-6)


def test_class_balanced_frame_loss_ignores_padding_and_unweighted_snippets() -> None:
    pred = torch.tensor([[[0.8, 0.2], [0.4, 0.6], [0.0, 1.0]]], requires_grad=True)
    targets = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    mask = torch.tensor([[True, True, False]])
    full = class_balanced_frame_loss(pred, targets, torch.ones(1, 3), mask)
    two = class_balanced_frame_loss(pred[:, :2], targets[:, :2], torch.ones(1, 2), mask[:, :2])
    assert full.item() == pytest.approx(two.item(), rel=1e-6)
    nothing = class_balanced_frame_loss(pred, targets, torch.zeros(1, 3), mask)
    assert nothing.item() == 0.0
    nothing.backward()
    assert torch.isfinite(pred.grad).all()
