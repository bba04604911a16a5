"""Checkpoints: tensors in ``.safetensors``, everything else in a ``.json`` sidecar. Nothing is unpickled.

A checkpoint ``ckpt-0001000`` is the pair ``ckpt-0001000.safetensors`` + ``ckpt-0001000.json``. The
sidecar is written last, so a checkpoint whose JSON is present is complete. Optimizer state tensors
live in the safetensors file under ``optim/<name>/...``; the JSON holds the scalar parts, RNG states,
the step and any extra state (history buffer metadata, config).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from simreal.utils.errors import CheckpointError
from simreal.utils.fileio import atomic_write, atomic_write_json

_STEP_RE = re.compile(r"ckpt-(\d+)\.json$")


def _flatten_optimizer(name: str, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Move an optimizer state_dict's tensors into ``tensors`` and return its JSON part."""
    json_state: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for pid, pstate in state["state"].items():
        entry: dict[str, Any] = {}
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tkey = f"optim/{name}/{pid}/{key}"
                tensors[tkey] = value.detach().cpu().contiguous()
                entry[key] = {"tensor": tkey}
            else:
                entry[key] = value
        json_state["state"][str(pid)] = entry
    return json_state


def _unflatten_optimizer(json_state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in json_state["state"].items():
        state[int(pid)] = {
            k: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v for k, v in entry.items()
        }
    return {"state": state, "param_groups": json_state["param_groups"]}


def rng_state(generators: dict[str, torch.Generator | np.random.Generator]) -> dict[str, Any]:
    """JSON-ready states of named torch/numpy generators."""
    out: dict[str, Any] = {}
    for name, gen in generators.items():
        if isinstance(gen, torch.Generator):
            raw = gen.get_state().numpy().tobytes()
            out[name] = {"torch": base64.b64encode(raw).decode("ascii")}
        else:
            out[name] = {"numpy": gen.bit_generator.state}
    return out


def restore_rng(generators: dict[str, torch.Generator | np.random.Generator], states: dict[str, Any]) -> None:
    for name, gen in generators.items():
        state = states[name]
        if isinstance(gen, torch.Generator):
            raw = base64.b64decode(state["torch"])
            gen.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
        else:
            gen.bit_generator.state = state["numpy"]


def save_checkpoint(
    path_stem: str | Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json``; returns the JSON path."""
    stem = Path(path_stem)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    sidecar: dict[str, Any] = {"format": "simreal-checkpoint/1", "modules": sorted(modules), "optimizers": {}}
    for name, opt in (optimizers or {}).items():
        sidecar["optimizers"][name] = _flatten_optimizer(name, opt.state_dict(), tensors)
    for key, value in (extra_tensors or {}).items():
        tensors[f"extra/{key}"] = value.detach().cpu().contiguous()
    sidecar["meta"] = meta or {}
    atomic_write(stem.with_suffix(".safetensors"), lambda p: save_file(tensors, str(p)))
    return atomic_write_json(stem.with_suffix(".json"), sidecar)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (all tensors, sidecar) of a checkpoint given its ``.json``, ``.safetensors`` or stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    jpath, tpath = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    if not jpath.is_file() or not tpath.is_file():
        raise CheckpointError(f"{stem}: checkpoint not found (need both {jpath.name} and {tpath.name})")
    try:
        sidecar = json.loads(jpath.read_text(encoding="utf-8"))
        tensors = load_file(str(tpath))
    except Exception as exc:  # corrupt JSON or safetensors header
        raise CheckpointError(f"{stem}: unreadable checkpoint ({exc.__class__.__name__}: {exc})") from None
    if sidecar.get("format") != "simreal-checkpoint/1":
        raise CheckpointError(f"{jpath}: not a simreal checkpoint (format {sidecar.get('format')!r})")
    return tensors, sidecar


def module_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "/"
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def restore(
    tensors: dict[str, torch.Tensor],
    sidecar: dict[str, Any],
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
) -> None:
    """Load module weights and optimizer states saved by :func:`save_checkpoint`."""
    for name, module in modules.items():
        state = module_state(tensors, name)
        if not state:
            raise CheckpointError(f"checkpoint has no weights for '{name}'")
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"weights for '{name}' do not fit the model: {str(exc).splitlines()[0]}") from None
    for name, opt in (optimizers or {}).items():
        opt.load_state_dict(_unflatten_optimizer(sidecar["optimizers"][name], tensors))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``run_dir`` (its ``.json`` path)."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("ckpt-*.json") if (m := _STEP_RE.search(p.name))]
    return max(found)[1] if found else None


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict a user gives: a safetensors file, or a weights-only torch file (``{"state_dict": ...}``
    unwrapped). Nothing is unpickled; anything else is a one-line :class:`CheckpointError`."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a file that is not weights: one line, not a traceback
        raise CheckpointError(f"{path}: not a safetensors file or a weights-only torch state dict ({e})") from e
    return state.get("state_dict", state) if isinstance(state, dict) else state
