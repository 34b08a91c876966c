"""TG-DFER's objective (docs/methods.md §7): the bag cross-entropy and the instance hinge, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.data.recognition.batch import UNLABELLED, RecognitionBatch
from sentiloc.losses import build_objective, check_fit
from sentiloc.losses.objectives.tgdfer import instance_hinge
from sentiloc.models.recognition.tgdfer import TGDFEROutput


def batch(labels: list[int]) -> RecognitionBatch:
    mask = torch.ones(len(labels), 3, dtype=torch.bool)
    return RecognitionBatch({"visual": torch.zeros(len(labels), 3, 2)}, mask, torch.tensor(labels),
                            [f"v{i}" for i in range(len(labels))])


def objective(**options):
    return build_objective(ComponentSpec("loss", "tgdfer", options), {"num_classes": 3}, "video", "tgdfer")


def test_instance_hinge_by_hand() -> None:
    best = torch.tensor([[0.5, 0.45, 0.1], [0.2, 0.9, 0.3], [0.9, 0.1, 0.1]])
    labels = torch.tensor([0, 1, UNLABELLED])
    # clip 0 (y = 0): relu(0.1 − (0.5 − 0.45)) = 0.05, relu(0.1 − 0.4) = 0 -> mean 0.025
    # clip 1 (y = 1): relu(0.1 − 0.7) = 0, relu(0.1 − 0.6) = 0 -> 0; clip 2 unlabelled -> 0
    torch.testing.assert_close(instance_hinge(best, labels, 0.1), torch.tensor([0.025, 0.0, 0.0]))


def test_the_total_is_bag_ce_plus_the_weighted_instance_term_by_hand() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    best = torch.tensor([[0.5, 0.45, 0.1], [0.0, 0.0, 0.0]])
    out = TGDFEROutput(logits=logits, attention=torch.ones(2, 3), best_frame=best)
    terms = objective(instance_weight=2.0, margin=0.1)(out, batch([0, UNLABELLED]))
    # CE of clip 0: −log(e² / (e² + 2)) = log(1 + 2e^−2) = 0.238515; clip 1 is unlabelled
    assert math.isclose(float(terms["ce_bag"]), math.log(1 + 2 * math.exp(-2)), rel_tol=1e-5)
    assert math.isclose(float(terms["instance"]), 0.025, rel_tol=1e-5)
    assert math.isclose(float(terms["total"]), math.log(1 + 2 * math.exp(-2)) + 2.0 * 0.025, rel_tol=1e-5)


def test_without_the_instance_term_the_loss_is_the_bag_ce() -> None:
    out = TGDFEROutput(logits=torch.tensor([[0.0, 1.0, 0.0]]), attention=torch.ones(1, 3),
                       best_frame=torch.tensor([[0.9, -0.9, 0.0]]))
    terms = objective()(out, batch([0]))
    assert float(terms["total"]) == pytest.approx(float(terms["ce_bag"]))


def test_it_needs_a_tgdfer_model_and_valid_options() -> None:
    check_fit("tgdfer", "tgdfer_notext")
    with pytest.raises(SentilocError, match="TGDFEROutput"):
        check_fit("tgdfer", "cten")
    with pytest.raises(SentilocError, match="loss.instance_weight"):
        objective(instance_weight=-1.0)
