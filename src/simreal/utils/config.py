"""Configs are nested frozen dataclasses; YAML files and ``key.sub=value`` strings override them.

Precedence: dataclass defaults < named preset < YAML file < command-line ``--set`` overrides.
Unknown keys are an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from simreal.utils.errors import ConfigError

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(cfg)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (possibly a CLI string) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' expects a mapping, got {value!r}")
        return from_dict(tp, value, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        if len(real := [a for a in args if a is not type(None)]) == 1:  # X | None: X's own message
            return _coerce(value, real[0], key)
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}' cannot take {value!r} ({tp})")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"config key '{key}' must be one of {list(allowed)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            # "a,b", "[a, b]" or JSON/YAML-style "['a', \"b\"]": items lose their whitespace and quotes
            value = [v.strip().strip("'\"") for v in value.strip().strip("()[]").split(",") if v.strip()]
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else Any
        items = [_coerce(v, inner, key) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if isinstance(value, str):  # "{a: 1, b: 2}" or JSON, as YAML reads it
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError:
                value = None
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' expects a mapping such as {{a: 1, b: 2}}, got {value!r}")
        k_tp, v_tp = typing.get_args(tp) or (Any, Any)
        return {_coerce(k, k_tp, key): _coerce(v, v_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"config key '{key}' expects true/false, got {value!r}")
    if tp in (int, float):
        number = _number(value, tp, key)
        check_range(key, number)
        return number
    if tp is str:
        return str(value)
    return value


def _number(value: Any, tp: type, key: str) -> int | float:
    """An int or a finite float from a number or a numeric string; booleans, non-integral values for an int
    (YAML ``10.5``) and NaN/infinity are refused, never rounded."""
    expects = f"config key '{key}' expects {'an integer' if tp is int else 'a number'}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(expects)
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(expects) from None
    if not math.isfinite(number):
        raise ConfigError(f"config key '{key}' must be finite, got {value!r}")
    if tp is float:
        return number
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(expects) from None
    if not number.is_integer():
        raise ConfigError(expects)
    return int(value)


#: Valid ranges of numeric config fields, by field name (a name means the same kind of quantity in every
#: config): ``(low, high, low_inclusive)``; ``None`` leaves a side open, ``high`` is inclusive. Checked
#: whenever a value is set (YAML, ``--set``, presets, a run's ``config.json``), so ``--dry-run`` refuses too.
_AT_LEAST_1 = ("steps", "batch_size", "iterations", "log_every", "checkpoint_every", "grid_every", "buffer_size",
               "kg", "kd", "blocks", "kernel", "n_steps", "history", "top_k", "pool", "stages", "stage_width",
               "stage_kernel", "size", "max_side", "hidden", "classes", "supersample", "examples", "samples",
               "place_tries", "pose_tries", "renders_per_image", "per_class", "max_per_class", "max_people")
_POSITIVE = ("lr", "sigma", "paf_width", "resolution", "max_stretch", "fovy_deg", "psi_scale", "width",
             "height")
_NON_NEGATIVE = ("weight_decay", "scale", "noise", "reg_weight", "label_consistency", "shift_px", "jitter_px",
                 "rotate_deg", "noise_channels", "freeze_layers", "pretrain_refiner_steps",
                 "pretrain_discriminator_steps", "seed", "min_people", "self_penetration_m", "alpha",
                 "people_lambda", "eta")
_UNIT = ("epsilon", "flip", "near_real_share", "person_fraction", "dropout", "beta1", "beta2", "momentum",
         "min_score", "peak_threshold", "paf_threshold")
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    **{n: (1, None, True) for n in _AT_LEAST_1}, **{n: (0, None, False) for n in _POSITIVE},
    **{n: (0, None, True) for n in _NON_NEGATIVE}, **{n: (0, 1, True) for n in _UNIT}}


def check_range(key: str, number: float) -> None:
    """Refuse a value outside :data:`RANGES` for the field that ``key`` (``a.b.name``) names."""
    low, high, inclusive = RANGES.get(key.rsplit(".", 1)[-1], (None, None, True))
    if low is not None and (number < low or (number == low and not inclusive)):
        raise ConfigError(f"config key '{key}' must be {'at least' if inclusive else 'greater than'} {low:g}, "
                          f"got {number:g}")
    if high is not None and number > high:
        raise ConfigError(f"config key '{key}' must be at most {high:g}, got {number:g}")


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build ``cls`` from a (partial) nested dict, rejecting unknown keys."""
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")
    kwargs = {k: _coerce(v, types_[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def merge(cfg: T, overrides: dict[str, Any], prefix: str = "") -> T:
    """Return ``cfg`` with a nested dict of overrides applied (unknown keys are an error)."""
    types_ = _field_types(type(cfg))
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in types_:
            raise ConfigError(f"unknown config key: {prefix + key}")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[key] = merge(current, value, prefix + key + ".")
        else:
            changes[key] = _coerce(value, types_[key], prefix + key)
    return dataclasses.replace(cfg, **changes)


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": "1"}, "c": "x"}`` (values are coerced later)."""
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value.strip()
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def resolve(base: T, yaml_path: str | Path | None = None, assignments: list[str] | None = None) -> T:
    """Apply a YAML file and then ``KEY=VALUE`` assignments to ``base``."""
    cfg = base
    if yaml_path is not None:
        cfg = merge(cfg, load_yaml(yaml_path))
    if assignments:
        cfg = merge(cfg, parse_assignments(assignments))
    return cfg


def dumps(cfg: Any) -> str:
    return json.dumps(to_dict(cfg), indent=2)
