"""CTEN's objectives (docs/methods.md §8): the three-pass CE by hand, invalid passes and unlabelled
clips left out, sum vs mean, PCCE by hand, the plain clip CE with label smoothing, the registry, and
the multi-label three-pass BCE of ``cten_video``."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.data.batch import Batch
from sentiloc.data.recognition.batch import RecognitionBatch
from sentiloc.losses.objectives.cten import (
    CTENObjective,
    CTENObjectiveConfig,
    CTENVideoConfig,
    CTENVideoObjective,
    VideoCEConfig,
    VideoCEObjective,
)
from sentiloc.losses.registry import build_objective, check_fit
from sentiloc.models.base import CTENLocalizationOutput, CTENOutput, RecognitionOutput
from tests.losses.sections import loss_spec

LN3, LN2, LN4 = math.log(3.0), math.log(2.0), math.log(4.0)


def batch(labels: list[int]) -> RecognitionBatch:
    b = len(labels)
    return RecognitionBatch(streams={}, mask=torch.ones(b, 1, dtype=torch.bool), labels=torch.tensor(labels),
                            video_ids=[str(i) for i in range(b)])


def output(logits, keyframe=None, context=None, keyframe_valid=None, context_valid=None) -> CTENOutput:
    def tensor(x):
        return None if x is None else torch.tensor(x)

    t = tensor(logits)
    return CTENOutput(logits=t, attention=torch.ones(t.shape[0], 1), keyframe_logits=tensor(keyframe),
                      context_logits=tensor(context), keyframe_valid=tensor(keyframe_valid),
                      context_valid=tensor(context_valid))


# Clip 0 (label 0): x_o = [0, 0] -> CE = ln 2 = 0.6931; x_k = [ln 3, 0] -> p_0 = 3/4, CE = ln(4/3) = 0.2877;
#                   x_l = [0, ln 3] -> p_0 = 1/4, CE = ln 4 = 1.3863.
# Clip 1 (label 1): x_o = [0, ln 3] -> CE = ln(4/3); its keyframe pass is invalid (no keyframe) and its
#                   x_l = [ln 3, 0] -> CE = ln 4.
# Clip 2 is unlabelled (-1): its huge logits never count.
THREE_PASSES = output(
    logits=[[0.0, 0.0], [0.0, LN3], [50.0, -50.0]],
    keyframe=[[LN3, 0.0], [99.0, -99.0], [50.0, -50.0]],
    context=[[0.0, LN3], [LN3, 0.0], [50.0, -50.0]],
    keyframe_valid=[True, False, True],
    context_valid=[True, True, True],
)
LABELS = [0, 1, -1]
# ce_original = (ln 2 + ln 4/3) / 2; ce_keyframes = ln(4/3) (clip 0 alone); ce_context = (ln 4 + ln 4) / 2 = ln 4.
CE_ORIGINAL, CE_KEYFRAMES, CE_CONTEXT = (LN2 + LN4 - LN3) / 2, LN4 - LN3, LN4


def test_the_three_pass_loss_by_hand_sums_as_the_paper() -> None:
    terms = CTENObjective(CTENObjectiveConfig(), "video", 2)(THREE_PASSES, batch(LABELS))
    assert terms["ce_original"].item() == pytest.approx(CE_ORIGINAL, abs=1e-6)
    assert terms["ce_keyframes"].item() == pytest.approx(CE_KEYFRAMES, abs=1e-6)
    assert terms["ce_context"].item() == pytest.approx(CE_CONTEXT, abs=1e-6)
    # 0.5108 + 0.2877 + 1.3863 = 2.1848
    assert terms["total"].item() == pytest.approx(CE_ORIGINAL + CE_KEYFRAMES + CE_CONTEXT, abs=1e-6)


def test_the_released_reduction_averages_the_three_passes() -> None:
    terms = CTENObjective(CTENObjectiveConfig(reduction="mean"), "video", 2)(THREE_PASSES, batch(LABELS))
    # 2.1848 / 3 = 0.7283
    assert terms["total"].item() == pytest.approx((CE_ORIGINAL + CE_KEYFRAMES + CE_CONTEXT) / 3, abs=1e-6)


def test_without_erased_passes_only_the_original_counts() -> None:
    plain = output(logits=[[0.0, 0.0], [0.0, LN3]])
    for reduction in ("sum", "mean"):
        terms = CTENObjective(CTENObjectiveConfig(reduction=reduction), "video", 2)(plain, batch([0, 1]))
        assert terms["total"].item() == pytest.approx(CE_ORIGINAL, abs=1e-6)
        assert terms["ce_keyframes"].item() == 0.0 and terms["ce_context"].item() == 0.0


def test_an_unlabelled_batch_gives_a_zero_loss_that_still_backpropagates() -> None:
    logits = torch.zeros(2, 3, requires_grad=True)
    out = CTENOutput(logits=logits, attention=torch.ones(2, 1))
    total = CTENObjective(CTENObjectiveConfig(), "video", 3)(out, batch([-1, -1]))["total"]
    total.backward()
    assert total.item() == 0.0 and logits.grad is not None and logits.grad.abs().sum() == 0


def test_pcce_adds_lambda_where_the_predicted_polarity_disagrees() -> None:
    # classes (anger, joy, calm), positive {joy, calm}.
    # Clip 0, label anger (negative), x_o = [0, ln 3, -inf-ish]: predicts joy (positive) -> weight 1.5,
    #   CE = -log(1/4) = ln 4 -> 1.5 ln 4 = 2.0794.
    # Clip 1, label joy (positive), x_o = [0, 0, ln 2]: predicts calm (positive) -> weight 1,
    #   p_joy = 1/4 -> CE = ln 4 = 1.3863.   Mean = (2.0794 + 1.3863) / 2 = 1.7329.
    cfg = CTENObjectiveConfig(polarity_positive=("joy", "calm"), pcce_lambda=0.5, classes=("anger", "joy", "calm"))
    out = output(logits=[[0.0, LN3, -80.0], [0.0, 0.0, LN2]])
    terms = CTENObjective(cfg, "video", 3)(out, batch([0, 1]))
    assert terms["total"].item() == pytest.approx((1.5 * LN4 + LN4) / 2, abs=1e-5)
    plain = CTENObjective(CTENObjectiveConfig(classes=cfg.classes), "video", 3)(out, batch([0, 1]))
    assert plain["total"].item() == pytest.approx(LN4, abs=1e-5)


def test_pcce_class_names_are_checked_against_the_data() -> None:
    with pytest.raises(SentilocError, match=r"loss.polarity_positive names \['joyy'\], which are not classes"):
        CTENObjectiveConfig(polarity_positive=("joyy",), classes=("anger", "joy"))
    with pytest.raises(SentilocError, match="loss.polarity_positive needs the data's class names"):
        CTENObjective(CTENObjectiveConfig(polarity_positive=("joy",)), "video", 2)


def test_video_ce_with_label_smoothing_by_hand() -> None:
    # logits [ln 3, 0] -> p = [0.75, 0.25]; ε = 0.1 smooths the target of label 0 to [0.95, 0.05]:
    # CE = -(0.95 ln 0.75 + 0.05 ln 0.25) = 0.2733 + 0.0693 = 0.3426. The unlabelled clip is left out.
    out = RecognitionOutput(logits=torch.tensor([[LN3, 0.0], [9.0, -9.0]]), attention=torch.ones(2, 1))
    terms = VideoCEObjective(VideoCEConfig(label_smoothing=0.1), "video", 2)(out, batch([0, -1]))
    assert terms["total"].item() == pytest.approx(-(0.95 * math.log(0.75) + 0.05 * math.log(0.25)), abs=1e-6)
    plain = VideoCEObjective(VideoCEConfig(), "video", 2)(out, batch([0, -1]))
    assert plain["ce"].item() == pytest.approx(LN4 - LN3, abs=1e-6)


def test_registry_builds_them_with_the_derived_classes_and_checks_the_model_fit() -> None:
    derived = {"num_classes": 2, "classes": ("anger", "joy")}
    built = build_objective(loss_spec({"name": "cten", "polarity_positive": ["joy"]}), derived, "video", "cten")
    assert built.cfg.classes == ("anger", "joy") and built.positive.tolist() == [False, True]
    check_fit("video_ce", "cten")  # CTEN's outputs are recognition outputs and more
    with pytest.raises(SentilocError, match="loss.name 'cten' reads CTENOutput.*'meanpool_linear'"):
        check_fit("cten", "meanpool_linear")
    with pytest.raises(SentilocError, match="loss.reduction 'max'"):
        build_objective(loss_spec({"name": "cten", "reduction": "max"}), derived, "video", "cten")


def test_the_video_objective_is_three_multi_label_bces_by_hand() -> None:
    # One video with labels [1, 0]; mean BCE over the 2 classes per pass:
    # x_o = [0, 0]: −ln σ(0) = −ln(1 − σ(0)) = ln 2; x_k = [ln 3, -ln 3]: σ = 0.75 for the present class and
    # 1 − σ(−ln 3) = 0.75 for the absent one -> ln(4/3); x_l = [−ln 3, ln 3]: both 0.25 -> ln 4.
    # Sum = ln 2 + ln(4/3) + ln 4 = ln(32/3) = 2.3671; mean = 0.7890.
    clip = output(logits=[[0.0, 0.0]], keyframe=[[LN3, -LN3]], context=[[-LN3, LN3]],
                  keyframe_valid=[True], context_valid=[True])
    out = CTENLocalizationOutput(cas=torch.zeros(1, 1, 3), global_cas=None, w_sent=torch.ones(1, 1),
                                 embeddings=torch.zeros(1, 1, 1), video_scores=torch.zeros(1, 2), clip=clip)
    labelled = Batch(features={}, mask=torch.ones(1, 1, dtype=torch.bool), face_present=torch.ones(1, 1, dtype=torch.bool),
                     video_ids=["v"], fps=torch.tensor([25.0]), video_labels=torch.tensor([[1.0, 0.0]]))
    total = build_objective(loss_spec({"name": "cten_video"}), {"num_classes": 2}, "video", "cten_tsl")(out, labelled)
    assert total["total"].item() == pytest.approx(math.log(32 / 3), abs=1e-5)
    assert total["bce_keyframes"].item() == pytest.approx(LN4 - LN3, abs=1e-6)
    mean = CTENVideoObjective(CTENVideoConfig(reduction="mean"), "video", 2)(out, labelled)
    assert mean["total"].item() == pytest.approx(math.log(32 / 3) / 3, abs=1e-5)
    with pytest.raises(SentilocError, match="reads CTENLocalizationOutput"):
        check_fit("cten_video", "fusion")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(0, 2**16))
def test_unlabelled_clips_never_change_the_loss(clips: int, classes: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (clips,), generator=gen)
    logits = [torch.randn(clips, classes, generator=gen) * 3 for _ in range(3)]
    valid = [torch.rand(clips, generator=gen) > 0.3 for _ in range(2)]
    objective = CTENObjective(CTENObjectiveConfig(), "video", classes)
    base = objective(CTENOutput(logits[0], torch.ones(clips, 1), logits[1], logits[2], *valid), batch(labels.tolist()))

    def extended(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.randn((2, *x.shape[1:]), generator=gen) * 50 if x.is_floating_point()
                          else torch.ones(2, dtype=torch.bool)])

    more = objective(CTENOutput(extended(logits[0]), torch.ones(clips + 2, 1), extended(logits[1]),
                                extended(logits[2]), *map(extended, valid)), batch([*labels.tolist(), -1, -1]))
    for name, value in base.items():
        torch.testing.assert_close(more[name], value, msg=name)
