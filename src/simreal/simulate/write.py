"""Write a simulator's samples into a dataset with a progress bar; resumable and shardable."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.format import ImageSpec, LabelField, Provenance, command_line
from simreal.data.gaze import gaze_schema
from simreal.data.importers.unityeyes import head_pose_to_unity
from simreal.data.writer import DatasetWriter
from simreal.simulate.digits import DigitSimConfig, render_digit, usable_fonts
from simreal.simulate.eyes import EyeRenderer, EyeSimConfig, preset_config, render_eyes
from simreal.simulate.shards import Row
from simreal.simulate.workers import generate_sharded
from simreal.utils.errors import ConfigError
from simreal.utils.fileio import atomic_write_bytes, atomic_write_json
from simreal.utils.progress import progress_bar
from simreal.utils.seeding import pick_device


def generate_digits(out: str | Path, count: int = 6000, seed: int = 0, font_dir: str | Path | None = None,
                    cfg: DigitSimConfig = DigitSimConfig(), overwrite: bool = False,
                    show_progress: bool | None = None) -> Path:
    """Render ``count`` synthetic 8×8 digits into ``out`` (see :mod:`simreal.simulate.digits`)."""
    fonts = usable_fonts(str(font_dir) if font_dir else None)
    config = {"count": count, "font_dir": str(font_dir) if font_dir else "matplotlib",
              "fonts": [f.stem for f in fonts], "simulator": dataclasses.asdict(cfg)}
    schema = {"label": LabelField("int64", (), "the digit 0-9", range=(0, 9)),
              "synthetic": LabelField("bool", (), "true for simulator output")}
    writer = DatasetWriter(out, name="digits-synthetic", task="digits", domain="synthetic",
                           image=ImageSpec("L", cfg.size, cfg.size), label_schema=schema,
                           provenance=Provenance(command_line(), config, seed), overwrite=overwrite,
                           expected_count=count)
    with writer, progress_bar(show_progress) as bar:
        task = bar.add_task("generate digits", total=count, completed=writer.done, status="")
        for i in range(writer.done, count):
            image, record = render_digit(seed, i, fonts, cfg)
            writer.add(image, record)
            bar.advance(task)
    return Path(out)


EYE_CHUNK = 256  # images rendered per batch; chunks start at multiples of this, so resumed runs match


def _eye_renderer(cfg: EyeSimConfig, device: str, compile_: bool) -> tuple[EyeRenderer, str]:
    dev = pick_device(device)
    return EyeRenderer(cfg, dev, compile=compile_), dev.type


@dataclass(frozen=True)
class EyeJob:
    """The eye simulator as a :class:`~simreal.simulate.shards.ShardJob`: row ``i`` is eye ``(seed, i)``,
    rendered with the other rows of its :data:`EYE_CHUNK` (chunks start at multiples of it whatever the
    shard, so every split writes the same bytes)."""

    count: int
    seed: int
    preset: str
    cfg: EyeSimConfig
    device: str = "auto"
    compile_: bool = True
    label: str = "generate eyes"

    def start(self, root: Path, rows: range, log: Callable[[str], object]
              ) -> tuple[DatasetWriter, Callable[[int], Row], Callable[[], None]]:
        cfg = self.cfg
        renderer, dev = _eye_renderer(cfg, self.device, self.compile_)
        config = {"count": self.count, "preset": self.preset, "simulator": dataclasses.asdict(cfg), "device": dev}
        note = {"clean": "the default simulator"}.get(self.preset,
                                                       f"a SIMULATED target domain ({self.preset}), not real data")
        writer = DatasetWriter(root, name=f"eyes-{self.preset}", task="gaze", domain="synthetic",
                               image=ImageSpec("RGB" if cfg.rgb else "L", cfg.height, cfg.width),
                               label_schema=gaze_schema(landmarks=True),
                               provenance=Provenance(command_line(), config, self.seed,
                                                     extra={"appearance": note, "shard": [rows.start, rows.stop]}),
                               first_index=rows.start, expected_count=len(rows))
        chunk: dict[str, Any] = {"start": -1}

        def make(i: int) -> Row:
            first = i // EYE_CHUNK * EYE_CHUNK
            if chunk["start"] != first:
                images, records = render_eyes(cfg, self.seed, range(first, first + EYE_CHUNK), renderer)
                chunk.update(start=first, images=images, records=records)
            return chunk["images"][i - first], None, None, chunk["records"][i - first]

        return writer, make, lambda: None


def generate_eyes(out: str | Path, count: int = 10000, seed: int = 0, preset: str = "clean",
                  cfg: EyeSimConfig | None = None, device: str = "auto", compile_: bool = True,
                  overwrite: bool = False, show_progress: bool | None = None, workers: int = 1,
                  shard: tuple[int, int] | None = None, ray_address: str | None = None,
                  log: Callable[[str], object] = print) -> Path | None:
    """Render ``count`` eye images with gaze labels into a simreal dataset (see :mod:`simreal.simulate.eyes`);
    in this process, ``workers`` processes, one ``shard`` (K, N) or Ray tasks
    (:func:`~simreal.simulate.workers.generate_sharded`). Returns ``out`` once merged (None: other shards
    still running). Any split and a resumed run write the same bytes as one uninterrupted run with the same
    ``compile_`` on the same device (compiled and eager renders are identical on some CPUs, not all)."""
    job = EyeJob(count, seed, preset, cfg or preset_config(preset), device, compile_)
    return generate_sharded(out, job, workers, shard, ray_address, overwrite, show_progress, log)


def _unity_point(xy: np.ndarray, height: int) -> str:
    return f"({xy[0]:.4f}, {height - xy[1]:.4f}, 0.0000)"


def unityeyes_json(record: dict[str, Any], height: int) -> dict[str, Any]:
    """A UnityEyes-style JSON for one rendered sample (y measured from the image bottom, Unity's
    left-handed camera space with y up: our gaze (x, y, z) is written as (x, -y, z, 0))."""
    g = record["gaze"]
    return {
        "interior_margin_2d": [_unity_point(p, height) for p in np.asarray(record["interior_margin"])],
        "iris_2d": [_unity_point(p, height) for p in np.asarray(record["iris"])],
        "eye_details": {"look_vec": f"({g[0]:.6f}, {-g[1]:.6f}, {g[2]:.6f}, 0.0000)",
                        "pupil_size": f"{record['factors']['pupil_size']:.4f}",
                        "iris_size": f"{record['factors']['iris_size']:.4f}"},
        "head_pose": "({:.4f}, {:.4f}, {:.4f})".format(*head_pose_to_unity(record["head_pose"])),
        "simreal": {"pupil_center": record["pupil_center"], "factors": record["factors"]},
    }


EYE_LAYOUTS = ("simreal", "unityeyes")


def eye_layout_config(preset: str = "clean", layout: str = "simreal", size: tuple[int, int] | None = None,
                      rgb: bool | None = None, supersample: int = 2) -> EyeSimConfig:
    """The eye simulator's config for ``preset`` written as ``layout``: ``simreal`` (a dataset, 35×55 grey by
    default) or ``unityeyes`` (UnityEyes' files: a wider 240×320 colour view with more jitter, for
    ``simreal import unityeyes`` to crop); ``size`` (height, width) and ``rgb`` override either."""
    if layout not in EYE_LAYOUTS:
        raise ConfigError(f"--layout must be {' or '.join(EYE_LAYOUTS)}, got {layout!r}")
    cfg = preset_config(preset, supersample=supersample)
    if layout == "unityeyes":
        cfg = dataclasses.replace(cfg, height=240, width=320, rgb=True, field_of_view=3.0, jitter_px=12.0)
    if size is not None:
        cfg = dataclasses.replace(cfg, height=size[0], width=size[1])
    if rgb is not None:
        cfg = dataclasses.replace(cfg, rgb=rgb)
    return cfg


def generate_unityeyes_layout(out: str | Path, count: int, seed: int = 0, preset: str = "clean",
                              cfg: EyeSimConfig | None = None, device: str = "auto", compile_: bool = False,
                              show_progress: bool | None = None) -> Path:
    """Write ``N.jpg`` + ``N.json`` (N from 1) as UnityEyes does, with a wider view than the crop.

    Resumable: a pair is complete when its JSON exists (the JPEG is written first); both are atomic.
    """
    cfg = cfg or preset_config(preset, height=240, width=320, rgb=True, field_of_view=3.0, jitter_px=12.0)
    renderer, _ = _eye_renderer(cfg, device, compile_)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = 0
    while done < count and (out / f"{done + 1}.json").exists():
        done += 1
    with progress_bar(show_progress) as bar:
        task = bar.add_task("generate eyes (UnityEyes layout)", total=count, completed=done, status="")
        for start in range(done // 16 * 16, count, 16):  # large images: small chunks
            chunk = range(start, start + 16)
            images, records = render_eyes(cfg, seed, chunk, renderer)
            for i, image, record in zip(chunk, images, records, strict=True):
                if done <= i < count:
                    buf = io.BytesIO()
                    Image.fromarray(image).save(buf, format="JPEG", quality=95)
                    atomic_write_bytes(out / f"{i + 1}.jpg", buf.getvalue())
                    atomic_write_json(out / f"{i + 1}.json", unityeyes_json(record, cfg.height))
                    bar.advance(task)
    return out
