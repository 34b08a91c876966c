"""TSL-Net model: shapes, masking invariances, the audio CNN's input, encoder choice, lr groups."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sentiloc.apps.train import build_trainer
from sentiloc.core.errors import SentilocError
from sentiloc.models import TSLNet, TSLNetConfig, TSLNetOutput
from sentiloc.models.localization.tslnet import chunk_neighbours, sinusoidal_code
from sentiloc.models.ops import masked_topk_mean
from tests.conftest import make_dataset
from tests.models.inputs import build

MFCC = 32 * 60
TINY = {"hidden": 16, "trunk_hidden": 24}


def make_model(audio_dim: int = 8, seed: int = 0, **overrides: object) -> TSLNet:
    torch.manual_seed(seed)
    return TSLNet(TSLNetConfig(dims={"rgb": 12, "logmfcc": audio_dim, "img": 10}, **{**TINY, **overrides}))


def make_inputs(audio_dim: int = 8, lengths: tuple[int, ...] = (20, 13), seed: int = 1):
    """A padded batch following the Batch contract (features zero at padding)."""
    gen = torch.Generator().manual_seed(seed)
    b, t = len(lengths), max(lengths)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    feats = {
        "rgb": torch.randn(b, t, 12, generator=gen),
        "logmfcc": torch.randn(b, t, audio_dim, generator=gen) * (20.0 if audio_dim == MFCC else 1.0) - 30.0,
        "img": torch.randn(b, t, 10, generator=gen),
    }
    return {m: x * mask[..., None] for m, x in feats.items()}, mask, mask.clone()


TSL_FIELDS = ("cas", "embeddings", "video_scores", "dist_logits", "dist_video", "feat_visual", "feat_audio",
              "recon_visual", "recon_audio")


def outputs(out) -> dict[str, torch.Tensor]:
    return {name: getattr(out, name) for name in TSL_FIELDS if getattr(out, name) is not None}


def test_output_contract() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    out = model(feats, mask, face)
    assert out.cas.shape == (2, 20, 3) and out.global_cas is None
    assert out.embeddings.shape == (2, 20, 24)  # f_z
    assert isinstance(out, TSLNetOutput)
    assert out.dist_logits.shape == (2, 20, 3) and out.dist_video.shape == (2, 2)
    for name in ("feat_visual", "feat_audio", "recon_visual", "recon_audio"):
        assert getattr(out, name).shape == (2, 20, 16), name
    assert ((out.cas >= 0) & (out.cas <= 1)).all()
    torch.testing.assert_close(out.w_sent, mask.float())
    torch.testing.assert_close(out.video_scores, masked_topk_mean(out.cas[..., :2], mask, 8))
    torch.testing.assert_close(out.dist_video, masked_topk_mean(out.dist_logits[..., :2], mask, 8))
    for x in outputs(out).values():
        if x.dim() == 3:
            assert x[~mask].abs().sum() == 0


@pytest.mark.parametrize("audio_dim", [8, MFCC])
def test_padded_video_equals_video_alone_even_with_garbage_padding(audio_dim: int) -> None:
    # cnn_chunk 6 puts chunk boundaries (and cyclic rolls) inside both videos
    model = make_model(audio_dim, cnn_chunk=6).eval()
    feats, mask, face = make_inputs(audio_dim)
    garbage = {m: torch.where(mask[..., None], x, torch.randn_like(x) * 50) for m, x in feats.items()}
    batched = outputs(model(garbage, mask, face))
    n = 13
    alone = outputs(model({m: x[1:, :n] for m, x in feats.items()}, mask[1:, :n], face[1:, :n]))
    for name, value in alone.items():
        got = batched[name][1:, :n] if value.dim() == 3 else batched[name][1:]
        torch.testing.assert_close(got, value, atol=1e-5, rtol=0, msg=name)


def test_face_stream_is_never_read() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    other = {**feats, "img": torch.randn_like(feats["img"])}
    a, b = outputs(model(feats, mask, face)), outputs(model(other, mask, ~face))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    no_face = {m: x for m, x in feats.items() if m != "img"}
    torch.testing.assert_close(model(no_face, mask, face).cas, a["cas"])


def test_cas_only_skips_the_reverse_mappings() -> None:
    model = make_model().eval()
    feats, mask, face = make_inputs()
    full, light = model(feats, mask, face), model(feats, mask, face, cas_only=True)
    assert light.recon_visual is None and light.recon_audio is None
    torch.testing.assert_close(light.cas, full.cas)


def test_chunk_neighbours_roll_within_each_chunk_of_the_real_length() -> None:
    # video of 5 snippets in a batch padded to 7, chunks of 3: [0, 1, 2] and [3, 4]
    prev, nxt = chunk_neighbours(torch.tensor([5]), length=7, chunk=3)
    assert prev[0, :5].tolist() == [2, 0, 1, 4, 3]
    assert nxt[0, :5].tolist() == [1, 2, 0, 4, 3]


def test_sinusoidal_code_by_hand() -> None:
    code = sinusoidal_code(torch.tensor([0, 1]), 4)
    expected = [[0.0, 1.0, 0.0, 1.0], [math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)]]
    torch.testing.assert_close(code, torch.tensor(expected))


def test_audio_cnn_sees_normalised_positioned_stacked_blocks() -> None:
    """The CNN input of snippet t is [block(t-1); block(t); block(t+1)], each (x+50)/80 + PE(t)."""
    model = make_model(MFCC, cnn_chunk=600).eval()
    feats, mask, face = make_inputs(MFCC, lengths=(4,))
    seen = []
    model.audio_cnn.net.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model(feats, mask, face)
    blocks = (feats["logmfcc"][0].view(4, 32, 60) + 50) / 80 + sinusoidal_code(torch.arange(4), 60)[:, None, :]
    expected = torch.stack([torch.cat([blocks[(t - 1) % 4], blocks[t], blocks[(t + 1) % 4]]) for t in range(4)])
    torch.testing.assert_close(seen[0], expected[:, None])


def test_audio_encoder_choice_and_clear_error() -> None:
    assert make_model(MFCC).audio_cnn is not None
    conv = make_model(768)
    assert conv.audio_cnn is None and "logmfcc" in conv.align.proj
    assert make_model(MFCC, audio_encoder="conv").audio_cnn is None
    with pytest.raises(SentilocError, match="audio_encoder 'cnn' needs raw log-MFCC.*dim 768"):
        make_model(768, audio_encoder="cnn")
    with pytest.raises(SentilocError, match="audio_encoder"):
        make_model(audio_encoder="lstm")
    with pytest.raises(SentilocError, match="too small"):
        make_model(4 * 6, audio_encoder="cnn", mfcc_rows=4, mfcc_bands=6)
    with pytest.raises(SentilocError, match="unknown key"):
        build("tslnet", {"dims": {"rgb": 4, "logmfcc": 4}, "heads": 4})


@pytest.mark.parametrize("audio_dim", [8, MFCC])
def test_every_parameter_gets_a_gradient(audio_dim: int) -> None:
    model = make_model(audio_dim).train()
    feats, mask, face = make_inputs(audio_dim)
    out = model(feats, mask, face)
    loss = out.cas.sum() + out.dist_logits.sum()
    loss = loss + out.recon_visual.sum() + out.recon_audio.sum()
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead


def test_param_groups_give_the_audio_cnn_ten_times_the_lr() -> None:
    model = make_model(MFCC)
    groups = model.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    cnn = {id(p) for p in model.audio_cnn.parameters()}
    assert {id(p) for p in groups[1]["params"]} == cnn
    assert sorted(id(p) for g in groups for p in g["params"]) == sorted(id(p) for p in model.parameters())
    assert len(make_model(8).param_groups(1e-3)) == 1


def test_trainer_uses_the_models_param_groups(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", n_train=2, n_test=1, dims={"rgb": 6, "logmfcc": MFCC}, duration_s=30.0)
    config = {
        "data": {"modalities": ["rgb", "logmfcc"], "face": None, "val_fraction": 0.0},
        "model": {"name": "tslnet", **TINY},
        "loss": {"name": "tslnet"},
        "train": {"lr": 1e-4},
    }
    trainer = build_trainer(config, root)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [1e-4, 1e-3]
