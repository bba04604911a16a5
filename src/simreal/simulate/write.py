"""Write a simulator's samples into a dataset with a progress bar; resumable and shardable."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

from simreal.data.format import ImageSpec, LabelField, Provenance
from simreal.data.writer import DatasetWriter
from simreal.simulate.digits import DigitSimConfig, render_digit, usable_fonts
from simreal.utils.progress import progress_bar


def command_line() -> str:
    return shlex.join(["simreal", *sys.argv[1:]])


def generate_digits(out: str | Path, count: int = 6000, seed: int = 0, font_dir: str | Path | None = None,
                    cfg: DigitSimConfig = DigitSimConfig(), overwrite: bool = False,
                    show_progress: bool | None = None) -> Path:
    """Render ``count`` synthetic 8×8 digits into ``out`` (see :mod:`simreal.simulate.digits`)."""
    fonts = usable_fonts(str(font_dir) if font_dir else None)
    config = {"count": count, "font_dir": str(font_dir) if font_dir else "matplotlib",
              "fonts": [f.stem for f in fonts], "simulator": dataclasses.asdict(cfg)}
    schema = {"label": LabelField("int64", (), "the digit 0-9"),
              "synthetic": LabelField("bool", (), "true for simulator output")}
    writer = DatasetWriter(out, name="digits-synthetic", task="digits", domain="synthetic",
                           image=ImageSpec("L", 8, 8), label_schema=schema,
                           provenance=Provenance(command_line(), config, seed), overwrite=overwrite)
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("generate digits", total=count, completed=writer.done, status="")
        for i in range(writer.done, count):
            image, record = render_digit(seed, i, fonts, cfg)
            writer.add(image, record)
            bar.advance(task)
    return Path(out)
