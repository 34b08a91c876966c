"""I3D visual extractor: pytorch-i3d weight-file compatibility, safe loading and the clip contract.

Random weights stand in for ``rgb_imagenet.pt`` (never downloaded): the layout tests pin the keys
and shapes that file has, so matching them is what lets the real file load strictly. Forward
passes are expensive on CPU, so there are only four (two small, two at 224x224).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sentiloc.core.errors import SentilocError
from sentiloc.features.base import ExtractorInfo, file_digest
from sentiloc.features.streams.i3d import I3DExtractor, InceptionI3d, MaxPool3dSame, load_i3d, preprocess, same_padding

# 3 stem convs + 9 inception modules x 6 convs, each conv with weight + 5 BN tensors; + logits w, b.
EXPECTED_KEYS = (3 + 9 * 6) * 6 + 2


def _random_model(seed: int = 0) -> InceptionI3d:
    """An eval-mode I3D whose activations stay O(1), so equality checks compare real numbers."""
    torch.manual_seed(seed)
    model = InceptionI3d()
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[InceptionI3d, Path]:
    model = _random_model()
    path = tmp_path_factory.mktemp("i3d") / "rgb_test.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_same_padding_matches_tensorflow_by_hand() -> None:
    front, back = same_padding(224, kernel=7, stride=2)
    assert (front, back) == (2, 3)  # the extra element goes at the back, as in TF
    assert (224 + front + back - 7) // 2 + 1 == 112
    assert sum(same_padding(7, kernel=3, stride=2)) == 2
    assert same_padding(16, kernel=1, stride=1) == (0, 0)
    assert MaxPool3dSame(kernel=3, stride=2)(torch.zeros(1, 1, 7, 7, 7)).shape == (1, 1, 4, 4, 4)


def test_state_dict_has_pytorch_i3d_layout() -> None:
    state = InceptionI3d().state_dict()
    assert len(state) == EXPECTED_KEYS
    shapes = {
        "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
        "Conv3d_1a_7x7.bn.running_var": (64,),
        "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
        "Mixed_5c.b3b.conv3d.weight": (128, 832, 1, 1, 1),
        "logits.conv3d.weight": (400, 1024, 1, 1, 1),
        "logits.conv3d.bias": (400,),
    }
    assert {key: tuple(state[key].shape) for key in shapes} == shapes
    assert not [key for key in state if "b3a" in key]
    assert next(iter(state)).startswith("Conv3d_1a_7x7.") and list(state)[-1] == "logits.conv3d.bias"
    assert InceptionI3d(num_classes=157).state_dict()["logits.conv3d.bias"].shape == (157,)


def test_saved_state_dict_round_trips_to_identical_features(saved: tuple[InceptionI3d, Path]) -> None:
    model, path = saved
    loaded = load_i3d(path)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(1, 3, 16, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        expected, got = model.features(x), loaded.features(x)
    assert got.shape == (1, 1024) and expected.abs().max() > 1e-3
    assert torch.equal(got, expected)


def test_loads_wrapped_prefixed_and_legacy_files(saved: tuple[InceptionI3d, Path], tmp_path: Path) -> None:
    model, _ = saved
    reference = model.state_dict()
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.items()}}, wrapped)
    assert all(torch.equal(v, reference[k]) for k, v in load_i3d(wrapped).state_dict().items())

    # pytorch-i3d's files use the pre-1.6 serialisation and predate BatchNorm's num_batches_tracked;
    # rgb_charades.pt has 157 classes.
    legacy = {k: v for k, v in reference.items() if not k.endswith("num_batches_tracked")}
    legacy["logits.conv3d.weight"], legacy["logits.conv3d.bias"] = torch.zeros(157, 1024, 1, 1, 1), torch.zeros(157)
    charades = tmp_path / "rgb_charades.pt"
    torch.save(legacy, charades, _use_new_zipfile_serialization=False)
    assert load_i3d(charades).num_classes == 157


def _drop_key(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "Mixed_4b.b0.conv3d.weight"}


def _bad_shape(state: dict) -> dict:
    return {**state, "Mixed_4b.b0.bn.weight": torch.zeros(3)}


def _extra_key(state: dict) -> dict:
    return {**state, "fc.weight": torch.zeros(1)}


@pytest.mark.parametrize(
    ("case", "expected_in_message"),
    [
        ("missing_file", "not found"),
        ("garbage", "not a loadable"),
        ("truncated", "not a loadable"),
        ("not_a_dict", "not a state dict"),
        ("missing_key", "Mixed_4b.b0.conv3d.weight"),
        ("bad_shape", "Mixed_4b.b0.bn.weight (3,) != (192,)"),
        ("extra_key", "fc.weight"),
    ],
)
def test_bad_weight_files_raise_user_errors(
    saved: tuple[InceptionI3d, Path], tmp_path: Path, case: str, expected_in_message: str
) -> None:
    model, good = saved
    path = tmp_path / f"{case}.pt"
    edits = {"missing_key": _drop_key, "bad_shape": _bad_shape, "extra_key": _extra_key}
    if case == "garbage":
        path.write_bytes(b"definitely not a torch file")
    elif case == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "not_a_dict":
        torch.save([torch.zeros(1)], path)
    elif case in edits:
        torch.save(edits[case](model.state_dict()), path)
    with pytest.raises(SentilocError) as info:
        load_i3d(path)
    message = str(info.value)
    assert str(path) in message and expected_in_message in message and "rgb_imagenet.pt" in message


def test_preprocess_resizes_shorter_side_crops_and_scales() -> None:
    portrait = np.zeros((2, 3, 320, 240, 3), dtype=np.uint8)
    portrait[1] = 255
    x = preprocess(portrait)
    assert x.shape == (2, 3, 3, 224, 224) and x.dtype == torch.float32
    assert torch.all(x[0] == -1) and torch.all(x[1] == 1)


def test_extractor_gives_deterministic_1024_rows_from_7x7_maps(saved: tuple[InceptionI3d, Path]) -> None:
    _, path = saved
    extractor = I3DExtractor(path)
    assert extractor.info == ExtractorInfo("i3d-rgb", f"pytorch-i3d/rgb_test+sha256-{file_digest(path)}", 1024)
    trunk_shapes: list[tuple[int, ...]] = []
    extractor.model.Mixed_5c.register_forward_hook(lambda _m, _i, out: trunk_shapes.append(tuple(out.shape)))
    clip = np.random.default_rng(0).integers(0, 256, size=(16, 240, 320, 3), dtype=np.uint8)
    first, second = extractor(clip), extractor(clip)
    assert trunk_shapes[0] == (1, 1024, 2, 7, 7)  # what the reference AvgPool3d((2, 7, 7)) expects
    assert first.shape == (1024,) and first.dtype == np.float32
    assert np.isfinite(first).all() and np.abs(first).max() > 1e-3
    assert np.array_equal(first, second)
