"""PSSC (docs/methods.md §2.6, §2.10) on hand-built 2-D embeddings.

Hand case, T = 6, unit-length embeddings (so normalising changes nothing):

    t:   0 (click, n)  1           2          3 (click, p)  4           5
    f:   (1, 0)        (0.8, 0.6)  (−1, 0)    (0, 1)        (0.6, 0.8)  (0, −1)

Prototypes: p̄_0 = f_0 = (1, 0), p̄_1 = f_3 = (0, 1). K = max(1, ⌊6/8⌋) = 1, W = 1.
Affinity over the eligible (unclicked) snippets 1, 2, 4, 5:
    to class 0: 0.8, −1, 0.6, 0  -> U_0^+ = {1}
    to class 1: 0.6, 0, 0.8, −1  -> U_1^+ = {4}
    L_0 = −log e^{f_1·p̄_0} / (e^{f_1·p̄_0} + e^{f_4·p̄_0})
        = −log e^{0.8} / (e^{0.8} + e^{0.6}) = log(1 + e^{−0.2})
    L_1 = −log e^{f_4·p̄_1} / (e^{f_4·p̄_1} + e^{f_1·p̄_1}) = log(1 + e^{−0.2})
    L = L_0 + L_1 = 2 log(1 + e^{−0.2}) ≈ 1.196278
Were the clicks not excluded, t 0 (affinity 1) would be class 0's positive and the value would differ.
"""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.losses.contrastive import pssc_loss
from tests.losses.clicks import make_clicks

HAND_E = torch.tensor([[[1.0, 0.0], [0.8, 0.6], [-1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, -1.0]]])


def ones_mask(batch: int, length: int) -> torch.Tensor:
    return torch.ones(batch, length, dtype=torch.bool)


def test_pssc_hand_case() -> None:
    loss = pssc_loss(HAND_E, torch.ones(1, 6), *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2)
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(-0.2)), rel=1e-6)


def test_pssc_temperature() -> None:
    # κ = 0.5 doubles every logit: L = 2 log(1 + e^{−0.4})
    loss = pssc_loss(
        HAND_E, torch.ones(1, 6), *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2, kappa=0.5
    )
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(-0.4)), rel=1e-6)


def test_pssc_embeddings_are_normalised() -> None:
    # scaling a snippet's embedding changes nothing
    scaled = HAND_E * torch.tensor([3.0, 0.5, 2.0, 7.0, 1.5, 4.0])[None, :, None]
    loss = pssc_loss(scaled, torch.ones(1, 6), *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2)
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(-0.2)), rel=1e-6)


def test_pssc_k_is_capped_by_unclicked_snippets() -> None:
    # ratio 1 -> K = 6, capped at 6 − 2 clicks = 4: every eligible snippet is a positive of both
    # classes, so U_c^+ ∪ U_c^- = U_c^+ and each L_c = −log 1 = 0.
    loss = pssc_loss(
        HAND_E, torch.ones(1, 6), *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2, ratio=1
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-7)


def test_pssc_ranking_uses_w_sent() -> None:
    # W_1 = 0.1: class 0 now ranks 0.1·0.8 = 0.08 (t1) < 0.6 (t4) -> U_0^+ = {4}; class 1: U_1^+ = {4}.
    # Both sets are {4}, so each L_c = −log e^{x} / e^{x} = 0. Changing W at an unranked snippet
    # (t2) does not matter.
    w = torch.tensor([[1.0, 0.1, 1.0, 1.0, 1.0, 1.0]])
    loss = pssc_loss(HAND_E, w, *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2)
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    w2 = torch.tensor([[1.0, 1.0, 0.3, 1.0, 1.0, 1.0]])
    loss2 = pssc_loss(HAND_E, w2, *make_clicks([[0, 3]], [[0, 1]]), ones_mask(1, 6), num_classes=2)
    assert loss2.item() == pytest.approx(2 * math.log(1 + math.exp(-0.2)), rel=1e-6)


def test_pssc_prototype_is_mean_of_clicks_and_affinity_sums() -> None:
    # Two class-0 clicks at t0 (1, 0) and t2 (0.6, 0.8): p̄_0 = normalise((0.8, 0.4)) = (2, 1)/√5.
    # Class 1 click at t3 (0, 1). Eligible: 1, 4, 5 (T = 6, K = 1).
    #   d^0 = f·(f_0 + f_2) = f·(1.6, 0.8): t1 (0.8, 0.6) -> 1.76; t4 (0.6, 0.8) -> 1.6; t5 (0,−1) -> −0.8
    #   d^1 = f·(0, 1): t1 0.6, t4 0.8, t5 −1  -> U_0^+ = {1}, U_1^+ = {4}
    e = torch.tensor([[[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [0.6, 0.8], [0.0, -1.0]]])
    loss = pssc_loss(e, torch.ones(1, 6), *make_clicks([[0, 2, 3]], [[0, 0, 1]]), ones_mask(1, 6), num_classes=2)
    p0 = torch.tensor([2.0, 1.0]) / math.sqrt(5)
    a, b = (torch.tensor([0.8, 0.6]) @ p0).item(), (torch.tensor([0.6, 0.8]) @ p0).item()  # 2.2/√5, 2/√5
    l0 = math.log(1 + math.exp(b - a))
    l1 = math.log(1 + math.exp(0.6 - 0.8))
    assert loss.item() == pytest.approx(l0 + l1, rel=1e-6)


def test_pssc_single_class_video_is_zero_and_batch_mean_skips_it() -> None:
    torch.manual_seed(0)
    e = torch.randn(1, 16, 4, requires_grad=True)
    single = pssc_loss(e, torch.ones(1, 16), *make_clicks([[2, 9]], [[1, 1]]), ones_mask(1, 16), num_classes=2)
    assert single.item() == 0.0 and single.requires_grad
    single.backward()
    assert (e.grad == 0).all()
    # batch = [hand video, single-class video]: the mean is over contributing videos only
    batch_e = torch.cat([torch.cat([HAND_E, torch.zeros(1, 10, 2)], dim=1), torch.randn(1, 16, 2)])
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0, :6], mask[1] = True, True
    loss = pssc_loss(batch_e, torch.ones(2, 16), *make_clicks([[0, 3], [4, 11]], [[0, 1], [0, 0]]), mask, 2)
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(-0.2)), rel=1e-6)


def test_pssc_gradients_flow_to_embeddings_not_w() -> None:
    torch.manual_seed(1)
    e = torch.randn(2, 16, 4, requires_grad=True)
    w = torch.rand(2, 16, requires_grad=True)
    loss = pssc_loss(e, w, *make_clicks([[2, 9], [1, 5, 12]], [[0, 1], [1, 0, 1]]), ones_mask(2, 16), 2, ratio=4)
    loss.backward()
    assert torch.isfinite(e.grad).all() and e.grad.abs().sum() > 0
    assert e.grad[0, 2].abs().sum() > 0  # through the prototype (a click snippet is never a positive)
    assert w.grad is None  # W only ranks


def test_pssc_padding_invariance() -> None:
    torch.manual_seed(2)
    e = torch.randn(1, 10, 3)
    garbage = 100 * torch.randn(1, 6, 3)
    padded = torch.cat([e, garbage], dim=1).requires_grad_()
    w = torch.rand(1, 10)
    padded_w = torch.cat([w, torch.full((1, 6), 10.0)], dim=1)  # padding would win every ranking
    mask = ones_mask(1, 10)
    padded_mask = torch.cat([mask, torch.zeros(1, 6, dtype=torch.bool)], dim=1)
    clicks = make_clicks([[1, 7]], [[0, 1]])
    alone = pssc_loss(e, w, *clicks, mask, 2, ratio=4)  # K = ⌊10/4⌋ = 2 from the real length
    batched = pssc_loss(padded, padded_w, *clicks, padded_mask, 2, ratio=4)
    assert batched.item() == pytest.approx(alone.item(), rel=1e-6)
    batched.backward()
    assert (padded.grad[0, 10:] == 0).all()


def test_pssc_full_supervision_members() -> None:
    # Members: class 0 = {0, 1} at (1, 0); class 1 = {2, 3} at (0, 1); t4 (0.6, 0.8) and padding t5
    # belong to no class and must stay out. p̄_0 = (1, 0), p̄_1 = (0, 1).
    #   L_0 = −log (e^1 + e^1) / (e^1 + e^1 + e^0 + e^0) = log(1 + e^{−1}); L_1 likewise.
    # Clicks and W are ignored (the objective passes an all-False click mask).
    e = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.6, 0.8], [5.0, 5.0]]])
    members = torch.tensor([[[1, 0], [1, 0], [0, 1], [0, 1], [0, 0], [1, 1]]], dtype=torch.bool)
    mask = torch.tensor([[True] * 5 + [False]])
    dummy = torch.zeros(1, 1, dtype=torch.long)
    loss = pssc_loss(e, torch.rand(1, 6), dummy, dummy, dummy.bool(), mask, 2, class_members=members)
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(-1.0)), rel=1e-6)


def test_pssc_full_supervision_prototype_is_member_mean() -> None:
    # class 0 = {0 (1, 0), 1 (0.6, 0.8)} -> p̄_0 = (0.8, 0.4)/|·| = (2, 1)/√5
    # class 1 = {2 (0, 1)} -> p̄_1 = (0, 1)
    e = torch.tensor([[[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]], requires_grad=True)
    members = torch.tensor([[[1, 0], [1, 0], [0, 1]]], dtype=torch.bool)
    dummy = torch.zeros(1, 1, dtype=torch.long)
    loss = pssc_loss(e, torch.ones(1, 3), dummy, dummy, dummy.bool(), ones_mask(1, 3), 2, class_members=members)
    p0 = torch.tensor([2.0, 1.0]) / math.sqrt(5)
    s = [(torch.tensor(v) @ p0).item() for v in ([1.0, 0.0], [0.6, 0.8], [0.0, 1.0])]  # f·p̄_0
    l0 = math.log(sum(math.exp(x) for x in s)) - math.log(math.exp(s[0]) + math.exp(s[1]))
    # class 1: f·p̄_1 = 0, 0.8, 1; positives {2}
    l1 = math.log(math.exp(0) + math.exp(0.8) + math.exp(1)) - 1.0
    assert loss.item() == pytest.approx(l0 + l1, rel=1e-6)
    loss.backward()
    assert e.grad.abs().sum() > 0


def test_pssc_disjoint_positives_by_hand() -> None:
    # ratio 3 -> K = 2: U_0^+ = {1, 4} (affinity 0.8, 0.6) and U_1^+ = {4, 1} (0.8, 0.6) coincide,
    # so each L_c = −log 1 = 0. Disjoint: snippet 1 stays with class 0 (0.8 > 0.6) and snippet 4
    # with class 1, which is the hand case's sets again: L = 2 log(1 + e^{−0.2}).
    clicks = make_clicks([[0, 3]], [[0, 1]])
    shared = pssc_loss(HAND_E, torch.ones(1, 6), *clicks, ones_mask(1, 6), num_classes=2, ratio=3)
    assert shared.item() == pytest.approx(0.0, abs=1e-7)
    disjoint = pssc_loss(HAND_E, torch.ones(1, 6), *clicks, ones_mask(1, 6), num_classes=2, ratio=3, disjoint=True)
    assert disjoint.item() == pytest.approx(2 * math.log(1 + math.exp(-0.2)), rel=1e-6)
