"""YAML experiment configs: one file per experiment, merged over the files it names as ``_base_``.

A config file is a nested dict of sections; :class:`~sentiloc.core.experiment.ExperimentConfig`
turns it into typed dataclasses once (:func:`typed_section`), so unknown keys and wrong types are
reported by name before anything runs. Bare names such as ``fsenet_point`` resolve to the configs
shipped inside the package, so the CLI works from any directory.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sentiloc.core.errors import SentilocError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads ``1e-4`` as a float (YAML 1.2), not the string PyYAML returns."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_Loader`."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path as given, or a shipped config by name (``fsenet_point`` or ``ablations/no_gsp``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix == ".yaml" and not path.parent.name == "ablations" else str(path))
    if shipped.suffix != ".yaml":
        shipped = shipped.with_suffix(".yaml")
    if shipped.is_file():
        return shipped
    raise SentilocError(f"{name_or_path}: config not found; give a YAML path or one of {shipped_configs()}")


def shipped_configs() -> list[str]:
    """The names of the configs the package ships (``fsenet_point``, ``ablations/no_gsp``, ...), not their bases."""
    return sorted(str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in CONFIG_DIR.rglob("*.yaml")
                  if "_base_" not in p.relative_to(CONFIG_DIR).parts)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (override wins; dicts merge)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load a YAML config with its ``_base_`` chain resolved (paths relative to the file)."""
    path = resolve_config_path(name_or_path).resolve()
    if path in _seen:
        raise SentilocError(f"{path}: _base_ chain loops back to itself; break the cycle")
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SentilocError(f"{path}: invalid YAML ({exc}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise SentilocError(f"{path}: a config must be a YAML mapping of sections (data:, model:, ...)")
    bases = raw.pop("_base_", [])
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        merged = deep_merge(merged, load_config(base_path, _seen + (path,)))
    return deep_merge(merged, raw)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``optim.lr=1e-4`` -> (["optim", "lr"], 0.0001); the value is parsed as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SentilocError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. optim.lr=1e-4")
    return key.strip().split("."), parse_yaml(value)


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Apply overrides to a copy of ``config``: ``--set`` texts (``["train.lr=3e-4"]``, values parsed as
    YAML) or a mapping of dotted keys to values (``{"train.lr": 3e-4}``, values taken as they are)."""
    result = copy.deepcopy(dict(config))
    if isinstance(overrides, Mapping):
        pairs = [(str(key).split("."), value, f"{key}={value!r}") for key, value in overrides.items()]
    else:
        pairs = [(*parse_override(text), text) for text in overrides]
    for keys, value, text in pairs:
        node = result
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise SentilocError(f"--set {text!r}: {key} is not a section")
        node[keys[-1]] = value
    return result


def section(config: Mapping[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    """One config section, with unknown keys reported by name (typos must not pass silently)."""
    values = dict(config.get(name) or {})
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise SentilocError(f"config section '{name}': unknown key(s) {unknown}; known keys are {sorted(allowed)}")
    return values


def typed_section(cls: type, values: Mapping[str, Any] | None, name: str) -> Any:
    """``cls(**values)`` for a config dataclass, with unknown keys and mistyped values reported under ``name``.

    A field whose default is itself a config dataclass (FSENet's ``loss.pseudo``) is a nested
    section, built and checked the same way, so no component needs its own parser.
    """
    values = section({name: values}, name, {f.name for f in dataclasses.fields(cls)})
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise SentilocError(f"config section '{name}' needs key(s) {missing}")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        if dataclasses.is_dataclass(f.default_factory):
            values[f.name] = typed_section(f.default_factory, values[f.name], f"{name}.{f.name}")
        else:
            _check_type(f"{name}.{f.name}", values[f.name], hints[f.name])
    return cls(**values)


def _check_type(key: str, value: Any, hint: Any) -> None:
    """Refuse a value of the wrong kind (``train.lr: abc``, ``train.betas: x``) for the field's annotation.

    Checked: scalars (bool, int, float, str, None), tuples and lists of them (``tuple[float, float]``
    needs exactly two numbers, ``tuple[float, ...]`` any number), and unions of these. Other forms
    (mappings, dataclass elements) are left to the dataclass's own ``__post_init__``.
    """
    wanted = _wanted(value, hint)
    if wanted is not None:
        raise SentilocError(f"config key {key}: {value!r} is not {wanted}; fix the value (YAML or --set {key}=...)")


_SCALAR_NAMES = {bool: "a bool (true or false)", int: "an int", float: "a float", str: "a string", type(None): "null"}
_PLURALS = {bool: "bools", int: "ints", float: "floats", str: "strings"}


def _wanted(value: Any, hint: Any) -> str | None:
    """What ``hint`` asks for, in words, when ``value`` does not fit it; None when it fits or is not checked."""
    if hint in _SCALAR_NAMES:
        return None if _scalar_fits(value, hint) else _SCALAR_NAMES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        wants = [_wanted(value, arm) for arm in args]
        return None if None in wants else " or ".join(wants)
    if origin in (tuple, list):
        return _sequence_wanted(value, args if origin is tuple else (args[0], ...) if args else ())
    return None


def _scalar_fits(value: Any, kind: type) -> bool:
    """bool is only a bool (``true`` is no int), and an int is also a float (``lr: 1``)."""
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind) or (kind is float and isinstance(value, int))


def _sequence_wanted(value: Any, args: tuple) -> str | None:
    """The check of ``tuple[...]``/``list[...]``: a YAML list of the right length and element kinds.

    ``args`` are the annotation's arguments: ``(X, ...)`` for any length, ``(X, Y)`` for exactly two.
    """
    variadic = not args or (len(args) == 2 and args[1] is Ellipsis)
    kinds = set(args[:1] if variadic else args)
    plural = _PLURALS.get(next(iter(kinds)), "items") if len(kinds) == 1 else "items"
    wanted = f"a list of {plural}" if variadic else f"a list of {len(args)} {plural}"
    if not isinstance(value, (list, tuple)):
        return wanted
    elements = [args[0] if args else object] * len(value) if variadic else list(args)
    if len(value) != len(elements):
        return wanted
    return None if all(_element_fits(item, arm) for item, arm in zip(value, elements)) else wanted


def _element_fits(item: Any, arm: Any) -> bool:
    """A scalar element of its kind; a config-dataclass element (``ModalitySpec``) as its text, a mapping or itself."""
    if arm in _SCALAR_NAMES:
        return _scalar_fits(item, arm)
    if dataclasses.is_dataclass(arm):
        return isinstance(item, (str, Mapping, arm))
    return True
