"""CTEN (docs/methods.md §8): min-max over real segments, the keyframe rule, the released pooling,
erasing as masking, the modes and ablation switches, the released residual, configuration errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.losses.objectives.cten import CTENObjective, CTENObjectiveConfig
from sentiloc.models import build_model
from sentiloc.models.recognition.cten import (
    ReleasedResidual,
    attention_pool,
    keyframe_mask,
    minmax_over_real,
)
from tests.models.recognition.inputs import DERIVED, DIMS, make_clips, tiny


class Labelled:
    """The one field of a RecognitionBatch the objective reads."""

    def __init__(self, labels: torch.Tensor) -> None:
        self.labels = labels


def test_minmax_is_taken_over_real_segments_only() -> None:
    # Clip 0: real [1, 3, 2], padding 9 (ignored) -> lo 1, hi 3 -> [0, 1, 0.5], padding 0.
    # Clip 1: real [2, 2, 2] is constant -> every segment 1 (no segment stands out).
    # Clip 2: one real segment -> 1.   Clip 3: no real segment -> all 0.
    a = torch.tensor([[1.0, 3.0, 2.0, 9.0], [2.0, 2.0, 2.0, -5.0], [5.0, 0.0, 0.0, 0.0], [4.0, 1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    expected = torch.tensor([[0.0, 1.0, 0.5, 0.0], [1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(minmax_over_real(a, mask), expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=8), st.integers(0, 4))
def test_minmax_spans_zero_to_one_and_padding_never_counts(values: list[float], pad: int) -> None:
    a = torch.tensor([values + [100.0] * pad])
    mask = torch.tensor([[True] * len(values) + [False] * pad])
    star = minmax_over_real(a, mask)
    torch.testing.assert_close(star[:, : len(values)], minmax_over_real(a[:, : len(values)], mask[:, : len(values)]))
    assert star[0, len(values):].abs().sum() == 0 and float(star.max()) == 1.0 and float(star[mask].min()) in (0.0, 1.0)


def test_keyframes_need_both_modalities_at_or_above_theta() -> None:
    # A*_v = [1, 0.8, 0.2, 0.75, 1 (padding)], A*_a = [0.6, 0.9, 1, 0.7, 1]:
    # min = [0.6, 0.8, 0.2, 0.7, 1] -> θ = 0.7 keeps segments 1 and 3 (0.7 ≥ 0.7), never padding.
    visual = torch.tensor([[1.0, 0.8, 0.2, 0.75, 1.0]])
    audio = torch.tensor([[0.6, 0.9, 1.0, 0.7, 1.0]])
    mask = torch.tensor([[True, True, True, True, False]])
    kept = keyframe_mask(torch.minimum(visual, audio), mask, 0.7)
    assert kept.tolist() == [[False, True, False, True, False]]


def test_pooling_is_the_attention_weighted_mean_over_kept_segments() -> None:
    # Kept segments 0 and 1: (1·[1, 2] + 0.5·[3, 4]) / 2 = ([1, 2] + [1.5, 2]) / 2 = [1.25, 2.0];
    # segment 2 (weight 2) is erased. A pass with no kept segment pools to 0.
    g = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]).repeat(2, 1, 1)
    a = torch.tensor([[1.0, 0.5, 2.0]]).repeat(2, 1)
    keep = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(attention_pool(g, a, keep), torch.tensor([[1.25, 2.0], [0.0, 0.0]]))


def test_the_model_keyframes_are_its_attention_at_or_above_theta() -> None:
    model = tiny("cten", theta=0.5).train()
    streams, mask = make_clips()
    out = model(streams, mask)
    assert torch.equal(out.keyframe_mask, (out.attention >= 0.5) & mask)
    assert torch.equal(out.keyframe_valid, out.keyframe_mask.any(dim=1))
    assert torch.equal(out.context_valid, (mask & ~out.keyframe_mask).any(dim=1))


def test_the_erased_passes_are_the_network_on_the_kept_segments_alone() -> None:
    # With a pointwise temporal attention the network has no notion of order, so masking the
    # erased segments must equal running the clip made of the kept segments only.
    model = tiny("cten", attention_kernel=1, theta=0.5).train()
    streams, mask = make_clips(lengths=(7, 7))
    out = model(streams, mask)
    assert out.keyframe_valid.all() and out.context_valid.all()
    model.eval()
    for row in range(2):
        for kept, logits in ((out.keyframe_mask[row], out.keyframe_logits), (mask[row] & ~out.keyframe_mask[row],
                                                                          out.context_logits)):
            alone = model({s: x[row : row + 1, kept] for s, x in streams.items()}, torch.ones(1, int(kept.sum()),
                                                                                             dtype=torch.bool))
            torch.testing.assert_close(logits[row : row + 1], alone.logits, atol=1e-5, rtol=0)


def test_padding_never_changes_the_erased_passes() -> None:
    model = tiny("cten", theta=0.5).train()  # dropout 0 and the paper residual: training is deterministic
    streams, mask = make_clips(lengths=(7, 4))
    garbage = {s: torch.where(mask[..., None], x, torch.full_like(x, -3.0)) for s, x in streams.items()}
    batched = model(garbage, mask)
    alone = model({s: x[1:, :4] for s, x in streams.items()}, mask[1:, :4])
    for field in ("logits", "keyframe_logits", "context_logits", "keyframe_valid", "context_valid"):
        torch.testing.assert_close(getattr(batched, field)[1:], getattr(alone, field), atol=1e-5, rtol=0, msg=field)
    assert torch.equal(batched.keyframe_mask[1:, :4], alone.keyframe_mask) and not batched.keyframe_mask[1, 4:].any()


def test_erased_passes_exist_only_in_training_and_not_without_erasing() -> None:
    streams, mask = make_clips()
    evaluated = tiny("cten").eval()(streams, mask)
    assert evaluated.keyframe_logits is None and evaluated.context_logits is None and evaluated.keyframe_valid is None
    assert evaluated.keyframe_mask is not None
    ablated = tiny("cten", erase=False).train()(streams, mask)
    assert ablated.keyframe_logits is None and ablated.context_logits is None and ablated.context_valid is None


def test_constant_attention_makes_every_segment_a_keyframe_and_the_context_empty() -> None:
    model = tiny("cten").train()
    for attention in model.network.attention.values():
        torch.nn.init.zeros_(attention.mix.weight)  # A = ReLU(bias = 1) = 1 on every real segment
    streams, mask = make_clips()
    out = model(streams, mask)
    assert torch.equal(out.attention, mask.float()) and torch.equal(out.keyframe_mask, mask)
    assert out.keyframe_valid.all() and not out.context_valid.any()
    torch.testing.assert_close(out.keyframe_logits, out.logits)  # dropout 0: x_k is x_o


def test_visual_mode_reads_the_visual_stream_only() -> None:
    streams, mask = make_clips()
    other_audio = {**streams, "audio": torch.randn_like(streams["audio"]) * mask[..., None]}
    visual = tiny("cten", mode="visual").eval()
    assert not any("audio" in n for n, _ in visual.named_parameters()) and visual.network.inter is None
    torch.testing.assert_close(visual(streams, mask).logits, visual(other_audio, mask).logits)
    audio_visual = tiny("cten").eval()
    assert not torch.allclose(audio_visual(streams, mask).logits, audio_visual(other_audio, mask).logits)


def test_audio_visual_attention_is_the_min_of_both_normalised_attentions() -> None:
    model = tiny("cten").eval()
    streams, mask = make_clips()
    _, a = model.network.encode(streams, mask)
    expected = torch.minimum(minmax_over_real(a["visual"], mask), minmax_over_real(a["audio"], mask))
    torch.testing.assert_close(model(streams, mask).attention, expected)


def test_ablation_switches_remove_their_modules() -> None:
    assert tiny("cten", intra=False).network.intra is None
    assert tiny("cten", inter=False).network.inter is None
    assert tiny("cten").network.inter is not None  # inter defaults to on with two modalities


def test_released_residual_normalises_the_attention_over_real_segments_and_scales_the_input() -> None:
    # One channel, real W_z Z = [1, 3] (mean 2, biased var 1) -> BN = [-1, 1] (eps 1e-5 aside);
    # α = 0.5 and F = [2, 4] -> [-1 + 1, 1 + 2] = [0, 3]; the padded row stays 0 and never enters the stats.
    block = ReleasedResidual(1).train()
    assert block.alpha.item() == 0.0  # the released initialisation: F' = BN(W_z Z) alone
    with torch.no_grad():
        block.alpha.fill_(0.5)
    f = torch.tensor([[[2.0], [4.0], [0.0]]])
    wz = torch.tensor([[[1.0], [3.0], [50.0]]])
    out = block(f, wz, torch.tensor([[True, True, False]]))
    torch.testing.assert_close(out, torch.tensor([[[0.0], [3.0], [0.0]]]), atol=1e-4, rtol=0)


def test_released_residual_trains_its_scale() -> None:
    model = tiny("cten", residual="released").train()
    streams, mask = make_clips()
    model(streams, mask).logits.sum().backward()
    assert all(block.alpha.grad is not None and block.alpha.grad != 0 for block in model.network.residual.values())


def test_the_three_pass_loss_reaches_every_attention_module() -> None:
    model = tiny("cten", theta=0.5).train()
    streams, mask = make_clips()
    objective = CTENObjective(CTENObjectiveConfig(), "video", 3)
    objective(model(streams, mask), Labelled(torch.tensor([0, 2])))["total"].backward()
    for part in ("intra", "inter", "attention"):
        grads = [p.grad for p in getattr(model.network, part).parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads), part


@pytest.mark.parametrize(("params", "message"), [
    ({"mode": "audio"}, "model.mode 'audio': choose one of"),
    ({"residual": "both"}, "model.residual 'both': unknown non-local residual"),
    ({"mode": "visual", "inter": True}, "model.inter needs a second modality"),
    ({"theta": 0.0}, r"model.theta must lie in \(0, 1\]"),
    ({"attention_kernel": 2}, "model.attention_kernel must be a positive odd number"),
    ({"hidden": 6, "heads": 4}, "must be divisible by model.heads"),
])
def test_configuration_mistakes_are_one_line_errors(params: dict, message: str) -> None:
    with pytest.raises(SentilocError, match=message):
        tiny("cten", **params)


def test_audio_visual_needs_two_streams() -> None:
    with pytest.raises(SentilocError, match="model.mode audio_visual reads 2 stream"):
        build_model(ComponentSpec("model", "cten", {}), {**DERIVED, "streams": ("visual",), "dims": {"visual": DIMS["visual"]}})
