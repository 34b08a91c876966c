"""TG-DFER (docs/methods.md §7): its pieces by hand, masking, the switches and the text seam."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.models import build_model
from sentiloc.models.recognition.tgdfer import (
    ContextPrompts,
    MultiGrainedTemporal,
    TGDFEROutput,
    cosine,
    masked_softmax,
    mil_pool,
)
from tests.models.recognition.inputs import DERIVED, make_clips, tiny


def test_masked_softmax_by_hand() -> None:
    scores = torch.tensor([[1.0, 2.0, 50.0]])
    mask = torch.tensor([[True, True, False]])
    # e^1 / (e^1 + e^2) = 0.268941, e^2 / (e^1 + e^2) = 0.731059; the padded 50 counts for nothing
    torch.testing.assert_close(masked_softmax(scores, mask), torch.tensor([[0.268941, 0.731059, 0.0]]))


def test_mil_pooling_by_hand() -> None:
    frames = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [9.0, 9.0]]])
    relevance = torch.tensor([[0.25, 0.75, 0.0]])
    # 0.25 (1, 0) + 0.75 (0, 2) = (0.25, 1.5); the padded frame has relevance 0
    torch.testing.assert_close(mil_pool(frames, relevance), torch.tensor([[0.25, 1.5]]))


def test_cosine_logits_at_temperature_by_hand() -> None:
    a = torch.tensor([[3.0, 4.0]])
    b = torch.tensor([[4.0, 3.0], [0.0, -2.0]])
    # (3·4 + 4·3) / (5·5) = 0.96; (3·0 − 4·2) / (5·2) = −0.8; at τ = 0.01 -> 96, −80
    torch.testing.assert_close(cosine(a, b) / 0.01, torch.tensor([[96.0, -80.0]]))


def test_context_prompts_by_hand() -> None:
    prompts = ContextPrompts(tokens=2, width=2)
    with torch.no_grad():
        prompts.context.copy_(torch.eye(2))
    # e = (1, 0): weights softmax((1, 0) / √2) = softmax(0.707107, 0) = (0.669761, 0.330239); e' = e + weights·I
    torch.testing.assert_close(prompts(torch.tensor([[1.0, 0.0]])), torch.tensor([[1.669761, 0.330239]]))
    with torch.no_grad():
        prompts.context.zero_()
    text = torch.tensor([[0.6, 0.8]])
    torch.testing.assert_close(prompts(text), text)  # empty prompts leave the description as it is


def test_the_local_branch_is_a_depthwise_temporal_convolution_by_hand() -> None:
    net = MultiGrainedTemporal(hidden=2, heads=1, layers=1, kernel=3, dropout=0.0, local_branch=True,
                               global_branch=False)
    with torch.no_grad():
        net.local.weight.fill_(1.0)
        net.local.bias.zero_()
    x = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [7.0, 7.0]]])
    mask = torch.tensor([[True, True, True, False]])
    # ṽ_t = x_t + x_{t-1} + x_t + x_{t+1} (zeros beyond the clip, the padded row included):
    # t0: 1 + (0 + 1 + 2) = 4; t1: 2 + (1 + 2 + 3) = 8; t2: 3 + (2 + 3 + 0) = 8, per channel ×10 for the second
    torch.testing.assert_close(net(x, mask), torch.tensor([[[4.0, 40.0], [8.0, 80.0], [8.0, 80.0], [0.0, 0.0]]]))


@pytest.mark.parametrize(("local", "glob"), [(True, True), (True, False), (False, True), (False, False)])
def test_the_temporal_network_keeps_shapes_and_ignores_padding(local: bool, glob: bool) -> None:
    torch.manual_seed(0)
    net = MultiGrainedTemporal(hidden=8, heads=2, layers=2, kernel=3, dropout=0.0, local_branch=local,
                               global_branch=glob).eval()
    x = torch.randn(2, 6, 8)
    mask = torch.arange(6)[None] < torch.tensor([[6], [3]])
    out = net(torch.where(mask[..., None], x, torch.full_like(x, 5.0)), mask)
    assert out.shape == (2, 6, 8) and out[~mask].abs().sum() == 0
    torch.testing.assert_close(out[1:, :3], net(x[1:, :3], mask[1:, :3]), atol=1e-5, rtol=1e-5)


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 100))
def test_relevance_attention_is_minmax_normalised_and_zero_at_padding(lengths: list[int], seed: int) -> None:
    model = tiny("tgdfer").eval()
    streams, mask = make_clips(tuple(lengths), seed)
    out = model(streams, mask)
    assert out.attention[~mask].abs().sum() == 0
    assert ((out.attention >= 0) & (out.attention <= 1)).all()
    torch.testing.assert_close(out.attention.amax(dim=1), torch.ones(len(lengths)))  # the most relevant frame is 1


def test_logits_are_the_cosine_of_the_relevance_pooled_bag_at_temperature() -> None:
    """The forward's composition recomputed from its own modules (no visual prompts: ĝ = g)."""
    model = tiny("tgdfer", visual_prompts=False, tau=0.05).eval()
    streams, mask = make_clips((5, 3))
    out = model(streams, mask)
    frames = model.temporal(model.project(torch.cat([streams["visual"], streams["audio"]], dim=-1)), mask)
    g = model.classes()
    similarity = cosine(frames, g)
    relevance = masked_softmax(similarity.amax(dim=-1) / 0.05, mask)
    torch.testing.assert_close(out.logits, cosine(mil_pool(frames, relevance), g) / 0.05, atol=1e-4, rtol=1e-5)
    assert out.logits.abs().max() <= 1 / 0.05 + 1e-4  # |cos| <= 1
    best = torch.stack([similarity[b, :n].amax(dim=0) for b, n in enumerate((5, 3))])
    torch.testing.assert_close(out.best_frame, best)


def test_relevance_peaks_at_the_frame_that_matches_a_class() -> None:
    model = tiny("tgdfer_notext", visual_prompts=False, local_branch=False, global_branch=False).eval()
    streams, mask = make_clips((6,))
    g = model.classes()
    # make frame 4 point exactly along class 1's embedding after the projection
    with torch.no_grad():
        weight = model.project[0].weight  # (d, D)
        target = torch.linalg.lstsq(weight, (g[1] - model.project[0].bias)[:, None]).solution[:, 0]
    x = torch.cat([streams["visual"], streams["audio"]], dim=-1)
    x[0, 4] = target
    with torch.no_grad():
        out = model({"visual": x[..., :6], "audio": x[..., 6:]}, mask)
    assert int(out.attention[0].argmax()) == 4 and math.isclose(float(out.best_frame[0, 1]), 1.0, abs_tol=1e-4)


def test_switches_remove_their_parts() -> None:
    full = tiny("tgdfer")
    assert full.temporal.local is not None and full.temporal.global_ is not None and full.prompts is not None
    assert full.classes.context.context.shape == (8, 5)  # M = 8 context prompts of the text width E = 5
    bare = tiny("tgdfer", local_branch=False, global_branch=False, visual_prompts=False, context_tokens=0)
    assert bare.temporal.local is None and bare.temporal.global_ is None and bare.prompts is None
    assert bare.classes.context is None
    assert isinstance(bare(*make_clips()), TGDFEROutput)


def test_the_text_variant_reads_the_class_text_and_the_other_has_none() -> None:
    model = tiny("tgdfer")
    torch.testing.assert_close(model.state_dict()["classes.class_text"], torch.tensor(DERIVED["class_text"]))
    assert not any(p is model.classes.class_text for p in model.parameters())  # frozen text: a buffer
    assert not any("class_text" in k for k in tiny("tgdfer_notext").state_dict())


def test_tgdfer_without_class_text_says_to_train_through_the_task() -> None:
    derived = {k: v for k, v in DERIVED.items() if k != "class_text"}
    with pytest.raises(SentilocError, match="needs the class text embeddings"):
        build_model(ComponentSpec("model", "tgdfer", {"hidden": 8}), derived)
    with pytest.raises(SentilocError, match="contradicts"):
        build_model(ComponentSpec("model", "tgdfer", {"hidden": 8, "class_text": [[0.0] * 5] * 3}), DERIVED)


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(SentilocError, match="multiple of model.heads"):
        tiny("tgdfer", hidden=6, heads=4)
    with pytest.raises(SentilocError, match="model.tau"):
        tiny("tgdfer_notext", tau=0.0)
    with pytest.raises(SentilocError, match="unknown"):
        tiny("tgdfer_notext", context_tokens=8)  # no text, no context prompts


def test_the_task_derived_class_text_reaches_the_model_through_resolve() -> None:
    from sentiloc.tasks import TASKS

    task = TASKS.get("recognition")
    exp = task.experiment({"task": "recognition", "data": {"streams": ["visual"]},
                           "model": {"name": "tgdfer", "hidden": 8}, "loss": {"name": "tgdfer"}})
    resolved = exp.resolve({"visual": 6}, DERIVED["classes"], {"class_text": DERIVED["class_text"]})
    assert resolved.derived["class_text"] == DERIVED["class_text"] and resolved.derived["streams"] == ("visual",)
    model = build_model(resolved.model, resolved.derived)
    torch.testing.assert_close(model.classes.class_text, torch.tensor(DERIVED["class_text"]))
