"""Typed exceptions. Library code raises these (never a bare ``ValueError``/``RuntimeError``); only the
command line (``simreal.cli.common.cli_errors``) turns them into exit codes."""

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


class InputError(SimrealError, ValueError):
    """An argument a function cannot use: a tensor of the wrong shape, an image of the wrong mode, an empty
    input. Also a ``ValueError``, so callers that catch that keep working."""


class NotFoundError(SimrealError, KeyError):
    """A lookup of something that does not exist (a Turing-test subject token, a trial image)."""

    def __str__(self) -> str:  # KeyError quotes its argument; the message reads better plain
        return str(self.args[0]) if self.args else ""
