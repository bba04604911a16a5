"""A function the user names as ``package.module:function`` (a person detector, a person segmenter...)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from simreal.utils.errors import SimrealError


def load_function(spec: str, what: str, alternatives: str) -> Callable:
    """The function ``spec`` = ``package.module:function``; a one-line error naming ``what`` it should be and the
    built-in ``alternatives`` otherwise."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise SimrealError(f"{what} {spec!r} not found (use {alternatives} or module:function): {e}") from e
