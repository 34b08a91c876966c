"""Hand-computed cases for BSPG (and the other pseudo-label strategies), focal, PSSC and video losses."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.losses import (
    PseudoLabelConfig,
    focal_bce,
    frame_loss,
    point_targets,
    pssc_loss,
    video_bce,
    video_loss_labels,
    video_loss_paper,
)
from sentiloc.errors import SentilocError


def clicks(ts: list[list[int]], cs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(t) for t in ts)
    point_t = torch.zeros(len(ts), width, dtype=torch.long)
    point_cls = torch.zeros(len(ts), width, dtype=torch.long)
    point_mask = torch.zeros(len(ts), width, dtype=torch.bool)
    for b, (t, c) in enumerate(zip(ts, cs)):
        point_t[b, : len(t)] = torch.tensor(t)
        point_cls[b, : len(c)] = torch.tensor(c)
        point_mask[b, : len(t)] = True
    return point_t, point_cls, point_mask


def flat_cas(batch: int, length: int, background: float = 0.5) -> torch.Tensor:
    cas = torch.full((batch, length, 3), 0.3)
    cas[..., 2] = background
    return cas


def test_bspg_mound_by_hand() -> None:
    """w = 2, β = 0.6, click of class p (1) at t = 3 on T = 8: s = 0.6, 0.8, 1, 0.8, 0.6 on t = 1..5."""
    cfg = PseudoLabelConfig(window=2, beta=0.6, bg_seeds=False)
    mask = torch.ones(1, 8, dtype=torch.bool)
    targets, weight = point_targets(*clicks([[3]], [[1]]), flat_cas(1, 8), mask, cfg)
    expected = torch.tensor([0, 0.6, 0.8, 1.0, 0.8, 0.6, 0, 0])
    torch.testing.assert_close(targets[0, :, 1], expected)
    torch.testing.assert_close(targets[0, :, 2], torch.tensor([0, 0.4, 0.2, 0.0, 0.2, 0.4, 0, 0]))
    torch.testing.assert_close(targets[0, :, 0], torch.zeros(8))
    torch.testing.assert_close(weight[0], expected)  # max over columns; ignored outside the window


def test_bspg_gate_and_background_seeds() -> None:
    cfg = PseudoLabelConfig(window=2, beta=0.6, tau=0.95)
    mask = torch.ones(1, 8, dtype=torch.bool)
    cas = flat_cas(1, 8)
    cas[0, 4, 2] = 0.97  # inside the window, confidently background: gated to ∅ = 1
    cas[0, 7, 2] = 0.96  # outside every window: a background seed
    cas[0, 0, 2] = 0.95  # exactly τ: a seed (≥ τ)
    targets, weight = point_targets(*clicks([[3]], [[1]]), cas, mask, cfg)
    assert targets[0, 4, 1] == 0 and targets[0, 4, 2] == 1 and weight[0, 4] == 1
    assert targets[0, 7, 2] == 1 and weight[0, 7] == 1
    assert targets[0, 0, 2] == 1 and weight[0, 0] == 1
    assert weight[0, 6] == 0  # outside, not confident: ignored


def test_bspg_overlaps_same_and_different_classes() -> None:
    cfg = PseudoLabelConfig(window=2, beta=0.6, bg_seeds=False)
    mask = torch.ones(1, 10, dtype=torch.bool)
    same, _ = point_targets(*clicks([[3, 5]], [[1, 1]]), flat_cas(1, 10), mask, cfg)
    # t = 4 is 1 away from both clicks: max(0.8, 0.8) = 0.8; t = 3, 5 are clicks (1.0)
    torch.testing.assert_close(same[0, 1:8, 1], torch.tensor([0.6, 0.8, 1.0, 0.8, 1.0, 0.8, 0.6]))
    diff, _ = point_targets(*clicks([[3, 6]], [[1, 0]]), flat_cas(1, 10), mask, cfg)
    # t = 4: p at distance 1 (0.8) beats n at distance 2 (0.6); t = 5: n (0.8) beats p (0.6)
    assert diff[0, 4, 1] == pytest.approx(0.8) and diff[0, 4, 0] == 0
    assert diff[0, 5, 0] == pytest.approx(0.8) and diff[0, 5, 1] == 0


def test_padding_and_batching_invariance() -> None:
    cfg = PseudoLabelConfig(window=3)
    long_cas, short_cas = torch.rand(1, 12, 3), torch.rand(1, 7, 3)
    batch_cas = torch.zeros(2, 12, 3)
    batch_cas[0], batch_cas[1, :7] = long_cas[0], short_cas[0]
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0], mask[1, :7] = True, True
    batch_t, batch_w = point_targets(*clicks([[2, 9], [5]], [[0, 1], [1]]), batch_cas, mask, cfg)
    alone_t, alone_w = point_targets(*clicks([[5]], [[1]]), short_cas, torch.ones(1, 7, dtype=torch.bool), cfg)
    torch.testing.assert_close(batch_t[1, :7], alone_t[0])
    torch.testing.assert_close(batch_w[1, :7], alone_w[0])
    assert (batch_w[1, 7:] == 0).all() and (batch_t[1, 7:] == 0).all()


def test_none_threshold_and_gaussian_strategies() -> None:
    mask = torch.ones(1, 9, dtype=torch.bool)
    cas = flat_cas(1, 9)
    cas[0, 2:6, 1] = torch.tensor([0.6, 0.9, 0.7, 0.2])
    none, w_none = point_targets(*clicks([[4]], [[1]]), cas, mask, PseudoLabelConfig(strategy="none"))
    assert none[0, :, 1].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0] and w_none.sum() == 1
    thr, w_thr = point_targets(*clicks([[4]], [[1]]), cas, mask, PseudoLabelConfig(strategy="threshold", window=2, bg_seeds=False))
    # window 2..6: class 1 where score >= 0.5 (2, 3, 4) -> square wave; 5, 6 -> background 1
    assert thr[0, :, 1].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0]
    assert thr[0, :, 2].tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert w_thr.tolist()[0] == [0, 0, 1, 1, 1, 1, 1, 0, 0]
    gauss, _ = point_targets(*clicks([[4]], [[1]]), cas, mask, PseudoLabelConfig(strategy="gaussian", window=2, bg_seeds=False))
    # pseudo-apex = argmax within ±2 of the click = t 3 (0.9); run >= 0.45: t 2, 3, 4 -> D = 3
    # sigma = 0.5 * 3 / 2 = 0.75; target exp(-d^2 / (2 * 0.5625)) for |d| <= 2.25
    assert gauss[0, 3, 1] == pytest.approx(1.0)
    assert gauss[0, 4, 1] == pytest.approx(math.exp(-1 / 1.125))
    assert gauss[0, 5, 1] == pytest.approx(math.exp(-4 / 1.125))
    assert gauss[0, 6, 1] == 0


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(SentilocError, match="loss.pseudo.strategy"):
        PseudoLabelConfig(strategy="magic")


def test_focal_bce_by_hand() -> None:
    # p = 0.8, q = 1: w = 0.2^2 = 0.04, BCE = -log 0.8
    assert focal_bce(torch.tensor(0.8), torch.tensor(1.0)).item() == pytest.approx(0.04 * -math.log(0.8))
    # soft target q = 0.6, p = 0.5: w = (0.5*0.6 + 0.5*0.4)^2 = 0.25; BCE = -(0.6 log .5 + .4 log .5)
    assert focal_bce(torch.tensor(0.5), torch.tensor(0.6)).item() == pytest.approx(0.25 * math.log(2))


def test_frame_loss_weighting_and_masking() -> None:
    pred = torch.tensor([[[0.8, 0.1, 0.1], [0.5, 0.5, 0.5], [0.9, 0.9, 0.9]]])
    targets = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.6, 0.4], [1.0, 1.0, 1.0]]])
    weight = torch.tensor([[1.0, 0.6, 1.0]])
    mask = torch.tensor([[True, True, False]])  # the third snippet is padding
    per = focal_bce(pred, targets).sum(-1)[0]
    expected = (per[0] * 1.0 + per[1] * 0.6) / 1.6
    assert frame_loss(pred, targets, weight, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    zero = frame_loss(pred.requires_grad_(), targets, torch.zeros(1, 3), mask)
    assert zero.item() == 0 and zero.requires_grad


def test_pssc_hand_case() -> None:
    """T = 6, 2-D embeddings. Clicks: class 0 at t 0, class 1 at t 3. K = max(1, 6 // 8) = 1.

    Embeddings: t0 (1,0) t1 (1,0.1) t2 (0,1)... chosen so the positive of class 0 is t1 and the
    positive of class 1 is t4. Prototypes are the click embeddings (one click per class).
    L_0 = -log e^{f1·p0} / (e^{f1·p0} + e^{f4·p0});  L_1 likewise with p1.
    """
    e = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.6, 0.6], [0.0, 1.0], [0.1, 1.0], [0.7, 0.5]]])
    w = torch.ones(1, 6)
    mask = torch.ones(1, 6, dtype=torch.bool)
    loss = pssc_loss(e, w, *clicks([[0, 3]], [[0, 1]]), mask, num_classes=2, ratio=8, kappa=1.0)
    f = torch.nn.functional.normalize(e[0], dim=-1)
    p0, p1 = f[0], f[3]
    l0 = -torch.log(torch.exp(f[1] @ p0) / (torch.exp(f[1] @ p0) + torch.exp(f[4] @ p0)))
    l1 = -torch.log(torch.exp(f[4] @ p1) / (torch.exp(f[4] @ p1) + torch.exp(f[1] @ p1)))
    assert loss.item() == pytest.approx((l0 + l1).item(), rel=1e-5)


def test_pssc_single_class_and_gradients() -> None:
    e = torch.randn(1, 16, 4, requires_grad=True)
    mask = torch.ones(1, 16, dtype=torch.bool)
    single = pssc_loss(e, torch.ones(1, 16), *clicks([[2, 9]], [[1, 1]]), mask, num_classes=2)
    assert single.item() == 0.0
    two = pssc_loss(e, torch.rand(1, 16), *clicks([[2, 9]], [[0, 1]]), mask, num_classes=2, ratio=4)
    two.backward()
    assert e.grad is not None and e.grad.abs().sum() > 0


def test_pssc_positives_follow_w_sent() -> None:
    """As the hand case, but W_1 = 0.1: class 0's positive becomes t5 (1 * 0.81 > 0.1 * 0.995)."""
    e = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.6, 0.6], [0.0, 1.0], [0.1, 1.0], [0.7, 0.5]]])
    w = torch.tensor([[1.0, 0.1, 1.0, 1.0, 1.0, 1.0]])
    mask = torch.ones(1, 6, dtype=torch.bool)
    loss = pssc_loss(e, w, *clicks([[0, 3]], [[0, 1]]), mask, num_classes=2, ratio=8)
    f = torch.nn.functional.normalize(e[0], dim=-1)
    p0, p1 = f[0], f[3]
    l0 = torch.logsumexp(torch.stack([f[5] @ p0, f[4] @ p0]), 0) - f[5] @ p0
    l1 = torch.logsumexp(torch.stack([f[4] @ p1, f[5] @ p1]), 0) - f[4] @ p1
    assert loss.item() == pytest.approx((l0 + l1).item(), rel=1e-5)


def test_pssc_full_supervision_members() -> None:
    e = torch.tensor([[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]])
    members = torch.tensor([[[True, False], [True, False], [False, True], [False, True]]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    dummy = torch.zeros(1, 1, dtype=torch.long)
    loss = pssc_loss(e, torch.ones(1, 4), dummy, dummy, dummy.bool(), mask, 2, class_members=members)
    f = torch.nn.functional.normalize(e[0], dim=-1)
    p0 = torch.nn.functional.normalize(f[:2].mean(0), dim=0)
    p1 = torch.nn.functional.normalize(f[2:].mean(0), dim=0)
    l0 = torch.logsumexp(f @ p0, 0) - torch.logsumexp(f[:2] @ p0, 0)
    l1 = torch.logsumexp(f @ p1, 0) - torch.logsumexp(f[2:] @ p1, 0)
    assert loss.item() == pytest.approx((l0 + l1).item(), rel=1e-5)


def test_pssc_padding_invariance() -> None:
    e = torch.randn(1, 10, 3)
    padded = torch.cat([e, torch.randn(1, 6, 3)], dim=1)
    w = torch.rand(1, 10)
    mask = torch.ones(1, 10, dtype=torch.bool)
    padded_mask = torch.cat([mask, torch.zeros(1, 6, dtype=torch.bool)], dim=1)
    a = pssc_loss(e, w, *clicks([[1, 7]], [[0, 1]]), mask, 2, ratio=4)
    b = pssc_loss(padded, torch.cat([w, torch.ones(1, 6)], 1), *clicks([[1, 7]], [[0, 1]]), padded_mask, 2, ratio=4)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_video_losses_by_hand() -> None:
    scores = torch.tensor([[0.2, 0.6]])
    # q from targets: class sums (0.5, 1.5) -> (0.25, 0.75); p = (0.25, 0.75) -> CE = entropy
    targets = torch.tensor([[[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]]])
    weight = torch.tensor([[0.5, 1.0, 0.5]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    expected = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert video_loss_paper(scores, targets, weight, mask).item() == pytest.approx(expected, rel=1e-6)
    assert video_loss_labels(scores, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(-math.log(0.75), rel=1e-6)
    bce = -(math.log(0.8) + math.log(0.6)) / 2
    assert video_bce(scores, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(bce, rel=1e-6)
