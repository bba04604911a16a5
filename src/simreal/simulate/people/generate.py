"""``simreal generate people``: the purely synthetic multi-person dataset D_S, sharded and resumable.

Sample ``i`` depends only on ``(seed, i)``: its generator draws scenes until one can be placed, then the
background crop; the renderer is deterministic. So any split of ``[0, count)`` into shards — one process,
``--workers N`` local processes, ``--shard K/N`` jobs of a batch scheduler, or Ray tasks — gives the same
samples. Each shard is a complete dataset under ``OUT/shards/K-of-N/`` whose files are named by global
index; when all shards of a run are finished, they are merged into ``OUT`` (images moved, metadata
concatenated in index order) by whichever process finishes last.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.format import MANIFEST, METADATA, ImageSpec, LabelField, Provenance, command_line
from simreal.data.writer import PARTIAL, DatasetWriter
from simreal.simulate.people.backgrounds import Backgrounds, load_backgrounds, load_detector
from simreal.simulate.people.labels import person_records
from simreal.simulate.people.render import SceneRenderer
from simreal.simulate.people.scene import SceneBuilder, SceneConfig
from simreal.simulate.people.skeleton import COCO_FLIP_PAIRS, COCO_KEYPOINTS, COCO_SKELETON
from simreal.utils.errors import DatasetError, SimrealError
from simreal.utils.fileio import atomic_write_json, sha256_file
from simreal.utils.progress import progress_bar
from simreal.utils.seeding import numpy_rng

MAX_SCENE_TRIES = 50
DEPTH_MAX_MM = 65535


@dataclass(frozen=True)
class PeopleConfig:
    scene: SceneConfig = field(default_factory=SceneConfig)
    backgrounds: str | None = None  # folder of photos; None: the built-in photographs
    min_background_size: int = 512
    person_detector: str = "opencv"  # opencv | none | module:function


PEOPLE_SCHEMA = {
    "people": LabelField("object", None, "persons: keypoints [[x, y, v]] (COCO-17, v: 0 outside, 1 occluded, "
                         "2 visible), keypoints_mpii (MPII-16), occluded_by, bbox [x, y, w, h], area, mask_id, "
                         "synthetic, joints_3d (world, m), factors"),
    "camera": LabelField("object", None, "position, rotation (rows: right, down, forward), intrinsics"),
    "synthetic": LabelField("bool", (), "true for simulator output"),
}


class SceneMaker:
    """Everything one process needs to render samples: scene builder, GL renderer, backgrounds."""

    def __init__(self, cfg: PeopleConfig, backgrounds: Backgrounds):
        self.cfg = cfg
        self.builder = SceneBuilder(cfg.scene)
        self.renderer = SceneRenderer(self.builder.model, cfg.scene.width, cfg.scene.height)
        self.backgrounds = backgrounds
        self.timings = {"scene": 0.0, "render": 0.0, "labels": 0.0}

    def make(self, seed: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """RGB image, instance mask (k+1 for person k), depth (mm, 0 = background) and the record."""
        rng = numpy_rng(seed, index)
        t0 = time.perf_counter()
        scene, attempt = None, 0
        while scene is None:
            if attempt == MAX_SCENE_TRIES:
                raise SimrealError(f"sample {index}: no placeable scene in {MAX_SCENE_TRIES} draws; "
                               "lower people_lambda or widen crowd_radius_m")
            scene, _ = self.builder.sample(rng)
            attempt += 1
        attempt -= 1
        t1 = time.perf_counter()
        rgb, depth, geom = self.renderer.render(scene.data)
        t2 = time.perf_counter()
        owner = np.where(geom >= 0, scene.geom_person[np.maximum(geom, 0)], -1)
        background, bg_info = self.backgrounds.sample(rng, self.cfg.scene.width, self.cfg.scene.height)
        image = composite(rgb, background, owner >= 0)
        people = person_records(scene, depth, owner)
        mask = (owner + 1).astype(np.uint8)
        depth_mm = np.where(np.isfinite(depth), np.clip(depth * 1000, 1, DEPTH_MAX_MM), 0).astype(np.uint16)
        factors = {**scene.factors, "rejected_scenes": attempt, "n_visible_people": len(people)}
        record = {"people": people, "camera": scene.camera.to_json(), "synthetic": True, **bg_info,
                  "factors": factors}
        t3 = time.perf_counter()
        for key, dt in (("scene", t1 - t0), ("render", t2 - t1), ("labels", t3 - t2)):
            self.timings[key] += dt
        return image, mask, depth_mm, record

    def close(self) -> None:
        self.renderer.close()


def composite(render: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """People over the background with a 3×3-averaged matte (anti-aliased edges without MSAA)."""
    import cv2

    alpha = cv2.blur(foreground.astype(np.float32), (3, 3))[..., None]
    out = render.astype(np.float32) * alpha + background.astype(np.float32) * (1 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _config_json(cfg: PeopleConfig, count: int) -> dict[str, Any]:
    return {"count": count, "people": dataclasses.asdict(cfg)}


def shard_range(count: int, k: int, n: int) -> range:
    return range(k * count // n, (k + 1) * count // n)


def shard_dir(out: Path, k: int, n: int) -> Path:
    return out / "shards" / f"{k}-of-{n}"


def write_shard(out: str | Path, count: int, seed: int, cfg: PeopleConfig, k: int, n: int,
                advance: Callable[[int], object] | None = None, log: Callable[[str], object] | None = None) -> Path:
    """Render shard ``k`` of ``n`` into ``OUT/shards/K-of-N`` (resumes an unfinished one; skips a done one)."""
    root = shard_dir(Path(out), k, n)
    if (root / MANIFEST).exists():
        return root
    backgrounds = load_backgrounds(cfg.backgrounds, cfg.min_background_size, load_detector(cfg.person_detector), log)
    rows = shard_range(count, k, n)
    provenance = Provenance(command_line(), _config_json(cfg, count), seed,
                            extra={"shard": [k, n], "backgrounds_used": backgrounds.names,
                                   "backgrounds_rejected": backgrounds.rejected})
    writer = DatasetWriter(root, name="people-synthetic", task="keypoints", domain="synthetic",
                           image=ImageSpec("RGB", cfg.scene.height, cfg.scene.width), label_schema=PEOPLE_SCHEMA,
                           provenance=provenance, keypoint_names=COCO_KEYPOINTS, skeleton=COCO_SKELETON,
                           flip_pairs=COCO_FLIP_PAIRS, first_index=rows.start)
    maker = SceneMaker(cfg, backgrounds)
    try:
        with writer:
            for i in rows[writer.done:]:
                image, mask, depth, record = maker.make(seed, i)
                writer.add(image, record, mask=mask, extra={"depth": (depth, "I;16")})
                if advance:
                    advance(1)
    finally:
        maker.close()
    return root


def merge_shards(out: str | Path, n: int) -> Path | None:
    """Merge the ``n`` finished shards into ``out``; None when some are unfinished or another process merges."""
    out = Path(out)
    roots = [shard_dir(out, k, n) for k in range(n)]
    if not all((r / MANIFEST).exists() for r in roots):
        return None
    lock = out / "shards" / ".merging"
    try:
        lock.mkdir()
    except FileExistsError:
        return None
    manifests = [json.loads((r / MANIFEST).read_text()) for r in roots]
    configs = {json.dumps([m["provenance"]["config"], m["provenance"]["seed"]], sort_keys=True) for m in manifests}
    if len(configs) != 1:
        lock.rmdir()
        raise DatasetError("shards were made with different settings; cannot merge", out / "shards")
    with open(out / PARTIAL, "wb") as meta:
        for r in roots:
            for line in (r / METADATA).read_bytes().splitlines():
                rec = json.loads(line)
                for folder in ("images", "masks", "depth"):
                    src = r / rec["file_name"].replace("images/", f"{folder}/", 1)
                    dst = out / rec["file_name"].replace("images/", f"{folder}/", 1)
                    if src.exists():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                meta.write(line + b"\n")
        os.fsync(meta.fileno())
    os.replace(out / PARTIAL, out / METADATA)
    manifest = {k: v for k, v in manifests[0].items() if k not in ("count", "metadata_sha256", "provenance")}
    prov = dict(manifests[0]["provenance"])
    prov.pop("shard", None)
    prov["command"] = command_line()
    prov["shards"] = n
    manifest.update(count=sum(m["count"] for m in manifests), metadata_sha256=sha256_file(out / METADATA),
                    provenance=prov)
    atomic_write_json(out / MANIFEST, manifest)
    shutil.rmtree(out / "shards")
    return out


def _check_out(out: Path, overwrite: bool) -> None:
    if (out / MANIFEST).exists():
        if not overwrite:
            raise DatasetError("a finished dataset is already here (pass --overwrite to replace it)", out)
        shutil.rmtree(out)
    elif out.exists() and any(out.iterdir()) and not (out / "shards").exists():
        raise DatasetError("folder exists, is not empty and is not a simreal dataset; choose another", out)


def _shard_progress(out: Path, n: int) -> int:
    done = 0
    for k in range(n):
        root = shard_dir(out, k, n)
        if (root / MANIFEST).exists():
            done += json.loads((root / MANIFEST).read_text())["count"]
        elif (root / PARTIAL).exists():
            done += (root / PARTIAL).read_bytes().count(b"\n")
    return done


def _check_shard_count(out: Path, n: int) -> None:
    other = sorted({d.name.split("-of-")[1] for d in (out / "shards").glob("*-of-*")} - {str(n)}) \
        if (out / "shards").exists() else []
    if other:
        raise DatasetError(f"an unfinished run split into {other[0]} shards is here; rerun it with that many "
                           "shards (--workers or --shard) or pass --overwrite", out)


def generate_people(out: str | Path, count: int = 100, seed: int = 0, cfg: PeopleConfig = PeopleConfig(),
                    workers: int = 1, shard: tuple[int, int] | None = None, ray_address: str | None = None,
                    overwrite: bool = False, show_progress: bool | None = None,
                    log: Callable[[str], object] = print) -> Path | None:
    """Render ``count`` scenes into ``out``; returns ``out`` once merged (None: other shards still running)."""
    out = Path(out)
    if shard is not None and overwrite:
        raise SimrealError("--overwrite cannot be combined with --shard (other shards may be running)")
    _check_out(out, overwrite)
    if overwrite and (out / "shards").exists():
        shutil.rmtree(out / "shards")
    n = shard[1] if shard else (workers if ray_address is None else max(workers, 1))
    _check_shard_count(out, n)
    todo = [shard[0]] if shard else list(range(n))
    total = sum(len(shard_range(count, k, n)) for k in todo)
    with progress_bar(show_progress) as bar:
        task = bar.add_task("generate people", total=total, completed=0, status="")
        if ray_address is not None:
            from simreal.simulate.people.distributed import run_ray

            run_ray(out, count, seed, cfg, n, ray_address, lambda: bar.update(task, completed=_shard_progress(out, n)))
        elif len(todo) == 1:
            root = shard_dir(out, todo[0], n)
            bar.update(task, completed=(root / PARTIAL).read_bytes().count(b"\n") if (root / PARTIAL).exists() else 0)
            write_shard(out, count, seed, cfg, todo[0], n, advance=lambda m: bar.advance(task, m), log=log)
        else:
            from simreal.simulate.people.distributed import run_processes

            run_processes(out, count, seed, cfg, n, lambda: bar.update(task, completed=_shard_progress(out, n)))
    merged = merge_shards(out, n)
    if merged is None and shard is not None:
        log(f"shard {shard[0]}/{shard[1]} done; the dataset is merged when the last shard finishes")
    return merged
