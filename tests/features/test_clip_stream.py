"""``--visual clip``: CLIP image embeddings per snippet from a local transformers folder, offline.

A tiny random ``CLIPModel`` saved into a temp folder stands in for real CLIP weights (never
downloaded): the tests pin the frames sampled, the preprocessing, the pooling, the one-line
errors and the resumable extraction, not CLIP's quality.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiloc.core.errors import SentilocError
from sentiloc.data.simulate.video import SyntheticVideo, write_video
from sentiloc.features.batch import extract_videos
from sentiloc.features.extract import build_extractors, meta_path, stream_path
from sentiloc.features.settings import ExtractSettings

transformers = pytest.importorskip("transformers", reason="--visual clip needs transformers: pip install 'sentiloc[text]'")
torch = pytest.importorskip("torch")

from sentiloc.apps.localize import localize_settings  # noqa: E402
from sentiloc.features.streams import clip  # noqa: E402

PROJECTION_DIM = 16
#: One level of an 8-bit pixel, in normalised units of the smallest CLIP std.
LEVEL = 1 / 255 / min(clip.CLIP_STD)


def save_tiny_clip(folder: Path, image_size: int = 32, seed: int = 0) -> Path:
    """A random ``CLIPModel`` with 2-layer, 32-wide towers and 16-wide projections, saved to ``folder``."""
    torch.manual_seed(seed)
    tower = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = transformers.CLIPConfig(
        text_config={**tower, "vocab_size": 99, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 2,
                     "pad_token_id": 1},
        vision_config={**tower, "image_size": image_size, "patch_size": 16}, projection_dim=PROJECTION_DIM)
    transformers.CLIPModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1.5 s, 25 fps clip: 37 frames, so three snippets, the last one padded."""
    return write_video(tmp_path_factory.mktemp("videos") / "clip.mp4",
                       SyntheticVideo(duration_s=1.5, fps=25.0, width=96, height=64, face_windows=[(0.0, 1.5)]))


def image_features(model, pixels: torch.Tensor) -> torch.Tensor:
    """``CLIPModel.get_image_features``: a tensor in transformers 4, an output with ``pooler_output`` in 5."""
    out = model.get_image_features(pixel_values=pixels)
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def test_sampled_frames_and_resized_size_by_hand() -> None:
    # centres of 4 equal parts of 16 frames: (i + 0.5) * 4 -> 2, 6, 10, 14
    assert clip.sampled_frames(16).tolist() == [2, 6, 10, 14]
    assert clip.sampled_frames(16, 1).tolist() == [8]
    assert clip.sampled_frames(16, 16).tolist() == list(range(16))
    # shorter side 180 -> 32; longer 240 * 32 / 180 = 42.67, truncated to 42
    assert clip.resized_size(180, 240, 32) == (32, 42)
    assert clip.resized_size(240, 180, 32) == (42, 32)
    assert clip.resized_size(64, 64, 32) == (32, 32)


def test_preprocess_of_a_uniform_frame_is_its_clip_normalised_colour() -> None:
    frames = np.zeros((2, 48, 80, 3), dtype=np.uint8)
    frames[0] = (255, 0, 128)
    x = clip.preprocess(frames, 32)
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    # (255/255 - 0.48145466) / 0.26862954 = 0.51854534 / 0.26862954 = 1.93034;
    # (0 - 0.4578275) / 0.26130258 = -1.75210; (128/255 - 0.40821073) / 0.27577711 = 0.09375 / 0.27578 = 0.33995
    expected = torch.tensor([1.93034, -1.75210, 0.33995])
    torch.testing.assert_close(x[0], expected.view(3, 1, 1).expand(3, 32, 32), atol=1e-4, rtol=0)
    # black: -mean / std = -1.79226, -1.75210, -1.48022
    torch.testing.assert_close(x[1, :, 0, 0], torch.tensor([-1.79226, -1.75210, -1.48022]), atol=1e-4, rtol=0)


def test_preprocess_matches_transformers_clip_image_processor() -> None:
    """Resize, crop and normalisation agree with CLIP's own processor within a few 8-bit levels."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, size=(2, 6, 9, 3)).astype(np.float32)
    smooth = torch.nn.functional.interpolate(torch.from_numpy(coarse).permute(0, 3, 1, 2), size=(60, 90),
                                             mode="bilinear", align_corners=False)
    frames = smooth.permute(0, 2, 3, 1).round().clamp(0, 255).numpy().astype(np.uint8)
    processor = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    reference = processor(images=list(frames), return_tensors="pt")["pixel_values"]
    ours = clip.preprocess(frames, 32)
    assert ours.shape == reference.shape == (2, 3, 32, 32)
    assert (ours - reference).abs().max() <= 3 * LEVEL
    assert (ours - reference).abs().mean() <= 0.5 * LEVEL


def test_unit_mean_by_hand() -> None:
    # (3, 4) -> (0.6, 0.8); (0, 2) -> (0, 1); mean (0.3, 0.9), length sqrt(0.9) = 0.948683
    rows = clip.unit_mean(torch.tensor([[[3.0, 4.0], [0.0, 2.0]]]))
    torch.testing.assert_close(rows, torch.tensor([[0.3 / 0.948683, 0.9 / 0.948683]]), atol=1e-6, rtol=0)


@settings(max_examples=30, deadline=None)
@given(n_frames=st.integers(1, 64), count=st.integers(1, 64))
def test_sampled_frames_are_distinct_in_order_and_inside_the_snippet(n_frames: int, count: int) -> None:
    indices = clip.sampled_frames(n_frames, min(count, n_frames))
    assert len(indices) == min(count, n_frames) and indices[0] >= 0 and indices[-1] < n_frames
    assert np.all(np.diff(indices) > 0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 5), scale=st.floats(0.01, 100.0))
def test_unit_mean_has_unit_length_and_ignores_each_embeddings_length(seed: int, k: int, scale: float) -> None:
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(3, k, 8, generator=generator)
    lengths = 1 + scale * torch.rand(3, k, 1, generator=generator)
    rows = clip.unit_mean(embeddings)
    torch.testing.assert_close(rows.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(clip.unit_mean(embeddings * lengths), rows, atol=1e-5, rtol=1e-5)


def test_a_row_is_the_unit_mean_of_the_embeddings_of_its_sampled_frames(weights: Path) -> None:
    extractor = clip.ClipImageExtractor(weights)
    assert (extractor.info.name, extractor.info.dim, extractor.image_size) == ("clip-image", PROJECTION_DIM, 32)
    snippet = np.zeros((16, 48, 64, 3), dtype=np.uint8)
    snippet[..., 0] = (np.arange(16) * 16)[:, None, None]  # frame i is uniformly red = 16 i
    row = extractor(snippet)

    # by hand: frames 2, 6, 10, 14 are red 32, 96, 160, 224 (green and blue 0); a uniform frame stays
    # uniform through resize and crop, so its pixels are ((red / 255 - mean) / std, -mean / std, ...)
    mean, std = torch.tensor(clip.CLIP_MEAN), torch.tensor(clip.CLIP_STD)
    colours = torch.tensor([[red / 255, 0.0, 0.0] for red in (32, 96, 160, 224)])
    pixels = ((colours - mean) / std)[:, :, None, None].expand(4, 3, 32, 32)
    model = transformers.CLIPModel.from_pretrained(weights, local_files_only=True).eval()
    with torch.inference_mode():
        embeddings = image_features(model, pixels)
    unit = embeddings / embeddings.norm(dim=1, keepdim=True)
    expected = unit.mean(dim=0) / unit.mean(dim=0).norm()
    assert row.shape == (PROJECTION_DIM,) and row.dtype == np.float32
    np.testing.assert_allclose(row, expected.numpy(), atol=1e-5)
    assert np.linalg.norm(row) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(extractor.batch(np.stack([snippet, snippet[::-1]]))[0], row, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_device_places_the_model_without_changing_the_rows(weights: Path) -> None:
    snippet = np.random.default_rng(0).integers(0, 256, size=(16, 48, 64, 3), dtype=np.uint8)
    on_gpu = clip.ClipImageExtractor(weights, "cuda")
    assert next(on_gpu.vision.parameters()).is_cuda
    np.testing.assert_allclose(on_gpu(snippet), clip.ClipImageExtractor(weights)(snippet), atol=1e-4)


def test_extraction_gives_one_unit_row_per_snippet_then_a_rerun_skips_and_other_weights_are_refused(
    weights: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    settings = ExtractSettings(visual="clip", visual_weights=str(weights), short_side=64)
    assert extract_videos([video], out, settings, progress=False).extracted == ["clip"]
    rows = np.load(stream_path(out, "rgb", "clip"))
    meta = json.loads(meta_path(out, "clip").read_text())
    assert meta["n_snippets"] == 3 and rows.shape == (3, PROJECTION_DIM) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    recorded = meta["extractors"]["rgb"]
    assert recorded["name"] == "clip-image" and recorded["dim"] == PROJECTION_DIM
    assert recorded["version"] == f"{clip.RULE}/tiny-clip+sha256-{clip.folder_digest(weights)}"
    assert meta["settings"]["visual"] == "clip" and meta["settings"]["visual_weights"] == str(weights)

    def no_model(*args, **kwargs):
        raise AssertionError("the CLIP model was loaded although every video is done")

    with monkeypatch.context() as patch:
        patch.setattr(clip.ClipImageExtractor, "__init__", no_model)
        assert extract_videos([video], out, settings, progress=False).skipped == ["clip"]

    other = save_tiny_clip(tmp_path / "other-clip", seed=1)
    other_settings = ExtractSettings(visual="clip", visual_weights=str(other), short_side=64)
    refused = extract_videos([video], out, other_settings, progress=False)
    assert not refused.extracted and "--overwrite" in refused.failed["clip"]
    np.testing.assert_array_equal(np.load(stream_path(out, "rgb", "clip")), rows)
    redone = extract_videos([video], out, other_settings, overwrite=True, progress=False)
    assert redone.extracted == ["clip"]
    assert np.abs(np.load(stream_path(out, "rgb", "clip")) - rows).max() > 1e-3


def test_without_weights_the_flag_is_named_and_nothing_is_downloaded() -> None:
    with pytest.raises(SentilocError) as err:
        ExtractSettings(visual="clip")
    message = str(err.value)
    assert "--clip-weights FOLDER" in message and "nothing is downloaded" in message and "\n" not in message
    with pytest.raises(SentilocError, match=r"--clip-weights\) is only used with --visual i3d or --visual clip"):
        ExtractSettings(visual_weights="clip-folder")


def _no_config(folder: Path) -> None:
    folder.mkdir()


def _garbage_config(folder: Path) -> None:
    folder.mkdir()
    (folder / "config.json").write_text("{ not json")


def _no_weights(folder: Path, weights: Path) -> None:
    folder.mkdir()
    shutil.copy(weights / "config.json", folder / "config.json")


def _truncated_weights(folder: Path, weights: Path) -> None:
    _no_weights(folder, weights)
    data = (weights / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _vision_tower_only(folder: Path) -> None:
    """A ``CLIPVisionModelWithProjection`` folder: not a whole CLIP checkpoint, so its shapes do not fit."""
    config = transformers.CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                           num_attention_heads=2, image_size=32, patch_size=16,
                                           projection_dim=PROJECTION_DIM)
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(folder)


@pytest.mark.parametrize(("case", "expected"), [
    ("missing", "--clip-weights has no config.json"),
    ("no_config", "--clip-weights has no config.json"),
    ("garbage_config", "not a loadable CLIP checkpoint"),
    ("no_weights", "not a loadable CLIP checkpoint"),
    ("truncated_weights", "not a loadable CLIP checkpoint"),
    ("vision_tower_only", "not a loadable CLIP checkpoint"),
])
def test_a_missing_or_invalid_folder_is_a_one_line_error(weights: Path, tmp_path: Path, case: str,
                                                          expected: str) -> None:
    folder = tmp_path / case
    makers = {"no_config": _no_config, "garbage_config": _garbage_config,
              "no_weights": lambda path: _no_weights(path, weights),
              "truncated_weights": lambda path: _truncated_weights(path, weights), "vision_tower_only": _vision_tower_only}
    if case in makers:
        makers[case](folder)
    settings = ExtractSettings(visual="clip", visual_weights=str(folder), short_side=64)
    with pytest.raises(SentilocError) as err:
        build_extractors(settings)
    message = str(err.value)
    assert expected in message and str(folder) in message and "\n" not in message


def test_frames_smaller_than_the_model_input_are_refused(tmp_path: Path) -> None:
    folder = save_tiny_clip(tmp_path / "clip-80", image_size=80)
    with pytest.raises(SentilocError, match="--visual clip reads 80x80 crops: --short-side must be at least 80"):
        build_extractors(ExtractSettings(visual="clip", visual_weights=str(folder), short_side=64))


def test_without_transformers_the_extra_is_named(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sentiloc.features.streams.find_spec", lambda name: None)
    with pytest.raises(SentilocError, match=r"^--visual clip needs transformers: pip install 'sentiloc\[text\]'$"):
        ExtractSettings(visual="clip", visual_weights=str(weights))
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "transformers", None)  # installed but not importable
    with pytest.raises(SentilocError, match=r"^--visual clip needs transformers: pip install 'sentiloc\[text\]'$"):
        clip.ClipImageExtractor(weights)


def test_localize_accepts_the_recorded_clip_folder(weights: Path, tmp_path: Path) -> None:
    record = {"settings": ExtractSettings(visual="clip", visual_weights=str(weights), short_side=64).to_dict()}
    assert localize_settings(record, None, None).visual_weights == str(weights)
    moved = {"settings": {**record["settings"], "visual_weights": str(tmp_path / "gone")}}
    with pytest.raises(SentilocError, match="pass --visual-weights with the same weights"):
        localize_settings(moved, None, None)
    assert localize_settings(moved, weights, None).visual_weights == str(weights)
