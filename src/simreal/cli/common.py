"""What every ``simreal`` command module shares: the consoles, the common options, and :func:`cli_errors`.

Every error a user can cause is a :class:`~simreal.utils.errors.SimrealError` (or an ``OSError`` on a path
they gave); it is printed as one line on stderr and the command exits with status 2.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape as rich_escape

from simreal.utils.errors import SimrealError

err = Console(stderr=True)
out = Console()

Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace a finished dataset at --out.")]
Seed = Annotated[int, typer.Option(help="Seed of every random choice; same seed, same bytes.")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: KEY.SUB=VALUE "
                                                "(repeatable; applied after --config).")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="YAML file overriding the preset.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the resolved config and exit (nothing is written).")]
Device = Annotated[str, typer.Option(help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")]
Workers = Annotated[int, typer.Option(min=1, help="Local processes, one shard each (each with its own renderer).")]
ShardOpt = Annotated[str | None, typer.Option("--shard", help="K/N: render only shard K (0-based) of N, for a "
                                             "batch scheduler; the last shard to finish merges them into --out.")]
RayOpt = Annotated[str | None, typer.Option("--ray", help="Run one Ray task per shard: 'local' starts Ray here, "
                                           "or a cluster address ('auto', 'ray://host:10001'); needs "
                                           "simreal[ray] and an --out every node can write.")]


def cli_errors(fn):
    """Turn library errors into one line on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SimrealError as exc:
            err.print(f"[bold red]error:[/] {rich_escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except BrokenPipeError:  # output piped into a reader that stopped (`--dry-run | head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            raise typer.Exit(0) from None
        except OSError as exc:  # a path the user gave: a file where a folder is needed, no permission, a loop...
            where = f"{exc.filename}: " if exc.filename else ""
            err.print(f"[bold red]error:[/] {rich_escape(where + (exc.strerror or str(exc)))}", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted; rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper


def with_shorthands(sets: list[str] | None, shorthands: dict[str, Any]) -> list[str]:
    """The ``--set`` assignments, then one ``key=value`` for each shorthand option given (None: not given), so a
    shorthand wins over a ``--set`` of the same key."""
    return [*(sets or []), *(f"{k}={v}" for k, v in shorthands.items() if v is not None)]


def sized_config(study_config: Any, size: str, config: Path | None, sets: list[str] | None,
                 variants: list[str] | None) -> Any:
    """A study's config for ``--size``: ``study_config.quick()``, ``study_config()`` (cpu) or
    ``study_config.paper()``, then ``--config``, ``--set`` and ``--variant`` (a shorthand for ``variants``)."""
    from simreal.utils.config import resolve

    sizes = {"quick": study_config.quick, "cpu": study_config, "paper": study_config.paper}
    if size not in sizes:
        raise SimrealError(f"--size must be one of {', '.join(sizes)}, got {size!r}")
    shorthand = {"variants": "[" + ",".join(variants) + "]" if variants else None}
    return resolve(sizes[size](), config, with_shorthands(sets, shorthand))


def dry_run_printed(cfg: Any, dry_run: bool) -> bool:
    """With ``--dry-run``, print the resolved config (JSON) and return True: the command then stops."""
    if dry_run:
        from simreal.utils.config import dumps

        print(dumps(cfg))
    return dry_run


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"35x55"`` → (35, 55) (height × width)."""
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SimrealError(f"size must be HEIGHTxWIDTH, e.g. 35x55, got {text!r}") from None
    if h < 8 or w < 8:
        raise SimrealError(f"size must be at least 8x8, got {text!r}")
    return h, w


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise SimrealError(f"--shard must be K/N, e.g. 0/8, got {text!r}") from None
    if not 0 <= k < n:
        raise SimrealError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n
