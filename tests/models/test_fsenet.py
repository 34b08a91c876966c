"""FSENet: shapes, formulas, masking invariances, ablation switches, gradients, registry."""

from __future__ import annotations

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.models import FSENet, FSENetConfig
from sentiloc.models.blocks import CrossAttention
from sentiloc.models.ops import masked_topk_mean
from tests.models.inputs import DIMS, assert_outputs_close, build, make_inputs

TINY = {"dims": DIMS, "hidden": 16, "heads": 2, "trunk_hidden": 32, "gsp_hidden": 24}


def make_model(seed: int = 0, **overrides: object) -> FSENet:
    torch.manual_seed(seed)
    return FSENet(FSENetConfig(**{**TINY, **overrides}))


def test_output_shapes_ranges_and_padding_zeros() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    assert out.cas.shape == (2, 20, 3) and out.global_cas.shape == (2, 20, 3)
    assert out.w_sent.shape == (2, 20) and out.embeddings.shape == (2, 20, 32) and out.video_scores.shape == (2, 2)
    for x in (out.cas, out.global_cas, out.w_sent, out.video_scores):
        assert x.dtype == torch.float32 and ((x >= 0) & (x <= 1)).all()
    pad = ~mask
    for x in (out.cas, out.global_cas, out.embeddings):
        assert x[pad].abs().sum() == 0
    assert out.w_sent[pad].abs().sum() == 0
    torch.testing.assert_close(out.video_scores, masked_topk_mean(out.cas[..., :2], mask, 8))


def test_global_cas_formula_by_hand() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs(lengths=(6,))
    out = model(feats, mask, face)
    w, y = out.w_sent[0], out.cas[0]
    for t in range(6):
        expected = [w[t] * y[t, 0], w[t] * y[t, 1], (1 - w[t]) * y[t, 2]]
        torch.testing.assert_close(out.global_cas[0, t], torch.stack(expected))


@pytest.mark.parametrize("overrides", [{}, {"fci_norm": True}, {"pssc_feature": "gsp_trunk"}, {"fci_stages": 1}])
def test_padded_video_equals_video_alone(overrides: dict) -> None:
    model = make_model(**overrides).eval()
    feats, mask, face = make_inputs(lengths=(20, 13))
    batched = model(feats, mask, face)
    n = 13
    alone = model({m: x[1:, :n] for m, x in feats.items()}, mask[1:, :n], face[1:, :n])
    for name in ("cas", "global_cas", "w_sent", "embeddings"):
        torch.testing.assert_close(getattr(batched, name)[1:, :n], getattr(alone, name), atol=1e-5, rtol=0, msg=name)
    torch.testing.assert_close(batched.video_scores[1:], alone.video_scores, atol=1e-5, rtol=0)


@pytest.mark.parametrize("overrides", [{}, {"fci_norm": True}, {"fci_stages": 1}, {"fci_stages": 0}])
def test_garbage_face_rows_at_missing_faces_change_nothing(overrides: dict) -> None:
    model = make_model(**overrides).eval()
    feats, mask, face = make_inputs()
    garbage = dict(feats)
    garbage["img"] = feats["img"] + torch.randn_like(feats["img"]) * 5 * (~face)[..., None]
    assert_outputs_close(model(feats, mask, face), model(garbage, mask, face), atol=0)


def test_stage_one_leaves_missing_face_snippets_unchanged() -> None:
    model = make_model(fci_stages=1, use_gsp=False).eval()
    feats, mask, face = make_inputs()
    masks = {"rgb": mask, "logmfcc": mask, "img": face}
    aligned = model.align(feats, masks)
    f_mix = model(feats, mask, face).embeddings
    missing = mask & ~face
    torch.testing.assert_close(f_mix[missing], torch.cat([aligned["rgb"], aligned["logmfcc"]], -1)[missing])
    present = face
    assert not torch.allclose(f_mix[present], torch.cat([aligned["rgb"], aligned["logmfcc"]], -1)[present])


def test_no_fci_ignores_the_face_in_f_mix_and_cas() -> None:
    model = make_model(fci_stages=0).eval()
    assert model.fci is None
    feats, mask, face = make_inputs()
    other = dict(feats)
    other["img"] = torch.randn_like(feats["img"]) * face[..., None]
    a, b = model(feats, mask, face), model(other, mask, face)
    torch.testing.assert_close(a.cas, b.cas)
    torch.testing.assert_close(a.embeddings, b.embeddings)
    assert not torch.allclose(a.w_sent, b.w_sent)  # the face still reaches GSP


def test_without_gsp() -> None:
    model = make_model(use_gsp=False).eval()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    assert model.gsp is None and out.global_cas is None
    torch.testing.assert_close(out.w_sent, mask.float())
    with pytest.raises(SentilocError, match="gsp_trunk"):
        FSENetConfig(**{**TINY, "use_gsp": False, "pssc_feature": "gsp_trunk"})


@pytest.mark.parametrize(
    ("overrides", "face_built"),
    [({}, True), ({"fci_stages": 1}, True), ({"fci_stages": 0}, True), ({"fci_stages": 0, "use_gsp": False}, False),
     ({"fci_norm": True, "pssc_feature": "gsp_trunk"}, True)],
)
def test_every_parameter_gets_a_gradient(overrides: dict, face_built: bool) -> None:
    model = make_model(**overrides).train()
    assert ("img" in model.align.proj) == face_built
    n_attn = sum(isinstance(m, CrossAttention) for m in model.modules())
    assert n_attn == 2 * model.cfg.fci_stages
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    loss = out.cas.sum() + out.w_sent.sum() + out.embeddings.sum()
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead



def test_deterministic_given_seed() -> None:
    feats, mask, face = make_inputs()
    runs = []
    for _ in range(2):
        model = make_model(seed=3).train()
        torch.manual_seed(7)
        runs.append(model(feats, mask, face))
    assert_outputs_close(runs[0], runs[1], atol=0)


def test_build_model_from_dict() -> None:
    model = build("fsenet", dict(TINY, fci_stages=1))
    assert isinstance(model, FSENet) and model.cfg.fci_stages == 1
    with pytest.raises(SentilocError, match="unknown model; known: .*fsenet"):
        build("fsenett", TINY)
    with pytest.raises(SentilocError, match="hiden"):
        build("fsenet", dict(TINY, hiden=3))
    with pytest.raises(SentilocError, match="dims"):
        build("fsenet", {"hidden": 16})
    with pytest.raises(SentilocError, match="fci_stages"):
        build("fsenet", dict(TINY, fci_stages=3))
    with pytest.raises(SentilocError, match="img"):
        build("fsenet", dict(TINY, dims={"rgb": 4, "logmfcc": 4}))


def test_cas_only_skips_gsp_but_keeps_the_cas() -> None:
    torch.manual_seed(0)
    model = FSENet(FSENetConfig(dims={"rgb": 6, "logmfcc": 4, "img": 5}, hidden=8, heads=2, gsp_hidden=12, trunk_hidden=12)).eval()
    features = {"rgb": torch.randn(2, 9, 6), "logmfcc": torch.randn(2, 9, 4), "img": torch.randn(2, 9, 5)}
    mask = torch.ones(2, 9, dtype=torch.bool)
    full = model(features, mask, mask)
    fast = model(features, mask, mask, cas_only=True)
    torch.testing.assert_close(fast.cas, full.cas)
    torch.testing.assert_close(fast.video_scores, full.video_scores)
    assert fast.global_cas is None and full.global_cas is not None


def test_checkpointed_fci_gives_the_same_gradients() -> None:
    """Recomputing FCI in the backward pass (long videos) changes memory, not the numbers."""
    dims = {"rgb": 6, "logmfcc": 4, "img": 5}
    features = {k: torch.randn(1, 12, d) for k, d in dims.items()}
    mask = torch.ones(1, 12, dtype=torch.bool)
    grads = []
    for min_length in (0, 8):
        torch.manual_seed(0)
        model = FSENet(FSENetConfig(dims=dims, hidden=8, heads=2, gsp_hidden=12, trunk_hidden=12,
                                    checkpoint_min_length=min_length)).train()
        torch.manual_seed(1)
        out = model(features, mask, mask)
        (out.cas.sum() + out.global_cas.sum() + out.embeddings.sum()).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)
