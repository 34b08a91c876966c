"""P-FES (the spotting model): both backbones keep the masking contract, gradients reach every parameter,
the SpoTFormer reads each frame's window alone, and configuration mistakes fail in one line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sentiloc.core.errors import SentilocError
from sentiloc.core.experiment import ComponentSpec
from sentiloc.models import MODELS, PFES, PFESConfig, SpottingOutput, build_model
from sentiloc.models.blocks import MaskedConv1d

FLOW_DIM = 17 * 10 * 2
TINY = {"hidden": 16, "heads": 2, "mlp": 16, "temporal_layers": 2}
BACKBONES = {"temporal": 7, "spotformer": FLOW_DIM}


def make_model(backbone: str, seed: int = 0, **overrides: object) -> PFES:
    torch.manual_seed(seed)
    return PFES(PFESConfig(dims={"frame": BACKBONES[backbone]}, backbone=backbone, **{**TINY, **overrides}))


def make_inputs(dim: int, lengths: tuple[int, ...] = (20, 13), seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return torch.randn(len(lengths), max(lengths), dim, generator=gen) * mask[..., None], mask


def tensors(out: SpottingOutput) -> dict[str, torch.Tensor]:
    return {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}


@pytest.fixture(params=sorted(BACKBONES))
def backbone(request) -> str:
    return request.param


def test_registered_as_a_spotting_model_built_from_frame_dims() -> None:
    entry = MODELS.get("pfes")
    assert entry.cls is PFES and entry.cls.task == "spotting" and entry.cls.output_type is SpottingOutput
    model = build_model(ComponentSpec("model", "pfes", {"hidden": 8, "heads": 2}),
                        {"dims": {"frame": 5}, "num_classes": 2})
    assert isinstance(model, PFES) and model.cfg.in_dim == 5


def test_outputs_are_float32_in_range_and_zero_at_padding(backbone: str) -> None:
    model = make_model(backbone).eval()
    x, mask = make_inputs(BACKBONES[backbone])
    out = model(x, mask)
    assert out.intensity.shape == (2, 20) and out.apex.shape == (2, 20, 2) and out.embeddings.shape == (2, 20, 16)
    for name, value in tensors(out).items():
        assert value.dtype == torch.float32 and torch.isfinite(value).all(), name
        assert value[~mask].abs().sum() == 0, name
    for value in (out.intensity, out.apex):
        assert ((value >= 0) & (value <= 1)).all()


def test_a_padded_video_scores_as_it_does_alone_whatever_the_padding_holds(backbone: str) -> None:
    model = make_model(backbone).eval()
    x, mask = make_inputs(BACKBONES[backbone])
    garbage = torch.where(mask[..., None], x, torch.full_like(x, 7.0))
    batched = model(garbage, mask)
    alone = model(x[1:, :13], mask[1:, :13])
    for name, value in tensors(alone).items():
        torch.testing.assert_close(getattr(batched, name)[1:, :13], value, atol=1e-5, rtol=0, msg=name)


def test_every_parameter_gets_a_gradient(backbone: str) -> None:
    model = make_model(backbone).train()
    x, mask = make_inputs(BACKBONES[backbone])
    out = model(x, mask)
    sum(v.sum() for v in tensors(out).values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_bf16_autocast_returns_float32(backbone: str) -> None:
    model = make_model(backbone).train()
    x, mask = make_inputs(BACKBONES[backbone])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, mask)
    assert all(v.dtype == torch.float32 for v in tensors(out).values())


def test_spotformer_encodes_each_frame_from_its_own_window() -> None:
    model = make_model("spotformer").eval()
    x, mask = make_inputs(FLOW_DIM, lengths=(9,))
    changed = x.clone()
    changed[0, 4] += 1.0
    before, after = model(x, mask).embeddings[0], model(changed, mask).embeddings[0]
    moved = (before - after).abs().sum(dim=1) > 1e-6
    assert moved.tolist() == [t == 4 for t in range(9)]


def test_spotformer_chunked_recompute_matches_one_pass() -> None:
    x, mask = make_inputs(FLOW_DIM, lengths=(11, 6))
    grads = []
    for chunk in (0, 4):
        model = make_model("spotformer", dropout=0.0, backbone_dropout=0.0, checkpoint_frames=chunk).train()
        out = model(x, mask)
        (out.intensity.sum() + out.embeddings.square().sum()).backward()
        grads.append(model.backbone.embed.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_spotformer_shrinks_the_17_frame_window_in_four_convolutions() -> None:
    model = make_model("spotformer")
    assert len(model.backbone.shrink) == 4 and model.backbone.region_stage == 2


def test_temporal_backbone_reads_neighbouring_frames_only_within_its_receptive_field() -> None:
    # 2 layers, k = 3, dilations 1 and 2: receptive field 1 + 2·(1 + 2) = 7 frames, ±3 around t.
    model = make_model("temporal").eval()
    x, mask = make_inputs(7, lengths=(15,))
    changed = x.clone()
    changed[0, 7] += 1.0
    moved = (model(x, mask).embeddings[0] - model(changed, mask).embeddings[0]).abs().sum(dim=1) > 1e-6
    assert moved.tolist() == [abs(t - 7) <= 3 for t in range(15)]


def test_masked_conv_dilation_matches_conv1d() -> None:
    torch.manual_seed(0)
    conv = MaskedConv1d(4, 5, 3, dilation=2)
    x = torch.randn(2, 11, 4)
    expected = torch.nn.functional.conv1d(x.transpose(1, 2), conv.weight, conv.bias, padding=2, dilation=2)
    torch.testing.assert_close(conv(x, torch.ones(2, 11, dtype=torch.bool)), expected.transpose(1, 2))


@pytest.mark.parametrize(("options", "message"), [
    ({"dims": {"frame": 64}, "backbone": "spotformer"},
     r"spotformer' reads \(window=17, rois=10, 2\).*340 values per frame.*have 64; use model.backbone: temporal"),
    ({"dims": {"rgb": 8}}, r"model.dims must be \{'frame': D\}"),
    ({"dims": {"frame": 8}, "backbone": "lstm"}, r"model.backbone 'lstm': unknown spotting backbone; known: spotformer, temporal"),
    ({"dims": {"frame": 340}, "backbone": "spotformer", "regions": [3, 3]}, r"model.regions \[3, 3\] must .* summing to model.rois"),
    ({"dims": {"frame": 8}, "hidden": 10, "heads": 4}, r"divisible by model.heads"),
])
def test_configuration_mistakes_fail_in_one_line(options: dict, message: str) -> None:
    with pytest.raises(SentilocError, match=message) as err:
        PFESConfig(**options)
    assert "\n" not in str(err.value)


def test_features_of_another_width_are_refused_at_forward() -> None:
    model = make_model("temporal")
    with pytest.raises(SentilocError, match="frame features have dim 3 but the model was built for 7"):
        model(torch.zeros(1, 4, 3), torch.ones(1, 4, dtype=torch.bool))
