"""Video-level losses (docs/methods.md §2.7, §2.10) and the masked top-k pooling behind v_c (§2.4)."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.losses.video import video_bce, video_loss_labels, video_loss_paper
from sentiloc.models.ops import masked_topk_mean, topk_k

# v = (0.2, 0.6) -> p = v / Σ v = (0.25, 0.75)
SCORES = torch.tensor([[0.2, 0.6]])


def test_video_loss_paper_by_hand() -> None:
    # T = 5, C = 2 (+ ∅); t=3 is ignored (weight 0) and t=4 is padding with junk targets.
    #   class mass over supervised real snippets: class 0: 0.8; class 1: 1.0 + 0.6 = 1.6
    #   q = (0.8, 1.6) / 2.4 = (1/3, 2/3)
    #   L = −(1/3 · log 0.25 + 2/3 · log 0.75) ≈ 0.653886
    targets = torch.tensor(
        [[[0.8, 0.0, 0.2], [0.0, 1.0, 0.0], [0.0, 0.6, 0.4], [0.9, 0.9, 0.0], [5.0, 5.0, 0.0]]]
    )
    weight = torch.tensor([[0.8, 1.0, 0.6, 0.0, 1.0]])
    mask = torch.tensor([[True, True, True, True, False]])
    expected = -(math.log(0.25) / 3 + 2 * math.log(0.75) / 3)
    assert video_loss_paper(SCORES, targets, weight, mask).item() == pytest.approx(expected, rel=1e-6)


def test_video_loss_paper_skips_videos_without_sentiment_mass() -> None:
    # video 1 holds only background seeds (∅ = 1): no q, so the mean is over video 0 alone.
    # video 0: q = (0, 1) -> L = −log 0.75
    scores = torch.tensor([[0.2, 0.6], [0.9, 0.1]], requires_grad=True)
    targets = torch.zeros(2, 3, 3)
    targets[0, 1, 1] = 1.0
    targets[1, :, 2] = 1.0
    weight = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    loss = video_loss_paper(scores, targets, weight, mask)
    assert loss.item() == pytest.approx(-math.log(0.75), rel=1e-6)
    loss.backward()
    assert (scores.grad[1] == 0).all() and scores.grad[0].abs().sum() > 0
    # no video with mass at all: 0, still attached
    empty = video_loss_paper(scores, torch.zeros(2, 3, 3), torch.zeros(2, 3), mask)
    assert empty.item() == 0.0 and empty.requires_grad


def test_video_loss_labels_by_hand() -> None:
    # labels (1, 1) -> q = (0.5, 0.5): L = −0.5 (log 0.25 + log 0.75) ≈ 0.836988
    # labels (0, 1) -> q = (0, 1):     L = −log 0.75 ≈ 0.287682; batch mean of the two
    scores = torch.tensor([[0.2, 0.6], [0.2, 0.6]])
    labels = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    both = -0.5 * (math.log(0.25) + math.log(0.75))
    only_p = -math.log(0.75)
    assert video_loss_labels(scores[:1], labels[:1]).item() == pytest.approx(both, rel=1e-6)
    assert video_loss_labels(scores, labels).item() == pytest.approx((both + only_p) / 2, rel=1e-6)
    # p is a normalised distribution, so scaling every score of a video changes nothing
    assert video_loss_labels(0.5 * scores, labels).item() == pytest.approx((both + only_p) / 2, rel=1e-6)


def test_video_loss_labels_is_finite_when_a_score_is_zero() -> None:
    scores = torch.tensor([[0.0, 0.6]], requires_grad=True)
    loss = video_loss_labels(scores, torch.tensor([[1.0, 0.0]]))  # −log(eps) ≈ 18.42
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(-math.log(1e-8), rel=1e-3)
    loss.backward()
    assert torch.isfinite(scores.grad).all()


def test_video_bce_by_hand() -> None:
    # labels (0, 1): −(log(1 − 0.2) + log 0.6) / 2 ≈ 0.366985
    loss = video_bce(SCORES, torch.tensor([[0.0, 1.0]]))
    assert loss.item() == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# masked top-k pooling


def test_topk_k() -> None:
    # k = max(1, ⌊L/8⌋): 0 -> 1, 5 -> 1, 8 -> 1, 17 -> 2, 64 -> 8
    assert topk_k(torch.tensor([0, 5, 8, 17, 64])).tolist() == [1, 1, 1, 2, 8]
    assert topk_k(torch.tensor([10]), ratio=4).tolist() == [2]


def test_masked_topk_mean_by_hand() -> None:
    x = torch.tensor([1.0, 5.0, 3.0, 9.0, 7.0, 2.0, 4.0, 6.0, 8.0, 0.0]).view(1, 10, 1)
    mask = torch.ones(1, 10, dtype=torch.bool)
    assert masked_topk_mean(x, mask, ratio=4).item() == pytest.approx((9 + 8) / 2)  # k = ⌊10/4⌋ = 2
    # T = 5 < 8 -> k = max(1, 0) = 1: the max of the first five (9)
    short = torch.tensor([[True] * 5 + [False] * 5])
    assert masked_topk_mean(x, short, ratio=8).item() == pytest.approx(9.0)


def test_masked_topk_mean_per_video_k_and_padding() -> None:
    # video 0: 16 real snippets 0..15, k = 2 -> (15 + 14) / 2 = 14.5
    # video 1: 5 real snippets 0..4, k = 1 -> 4; its padding holds 100s that must not be picked
    # two channels: the second is the negated first (top values of −t are 0, −1, ...)
    base = torch.arange(16.0).view(1, 16, 1).repeat(2, 1, 1)
    base[1, 5:] = 100.0
    x = torch.cat([base, -base], dim=-1).requires_grad_()
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0], mask[1, :5] = True, True
    out = masked_topk_mean(x, mask, ratio=8)
    torch.testing.assert_close(out, torch.tensor([[14.5, -0.5], [4.0, 0.0]]))
    out.sum().backward()
    # gradient 1/k on the selected entries only
    assert x.grad[0, 15, 0] == 0.5 and x.grad[0, 14, 0] == 0.5 and x.grad[0, :14, 0].sum() == 0
    assert x.grad[1, 4, 0] == 1.0 and x.grad[1, 5:].abs().sum() == 0


def test_masked_topk_mean_empty_video_is_zero() -> None:
    x = torch.rand(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    out = masked_topk_mean(x, mask)
    assert (out[1] == 0).all() and torch.isfinite(out).all()
    torch.testing.assert_close(out[0], x[0, :2].amax(dim=0))
