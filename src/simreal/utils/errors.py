"""Typed exceptions. Library code raises these; only ``cli.py`` turns them into exit codes."""

from __future__ import annotations

from pathlib import Path


class SimrealError(Exception):
    """Base class of every error simreal raises on purpose (a user can act on its message)."""


class ConfigError(SimrealError):
    """An unknown config key, a value of the wrong type, or an unknown preset."""


class DatasetError(SimrealError):
    """A dataset on disk that does not follow ``simreal-dataset/1``.

    The message always names the offending file and, where it applies, the 1-based line of
    ``metadata.jsonl``.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}" + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class CheckpointError(SimrealError):
    """A checkpoint that is missing, incomplete, or does not match the model it is loaded into."""
