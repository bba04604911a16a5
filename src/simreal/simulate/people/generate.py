"""``simreal generate people``: the purely synthetic multi-person dataset D_S, sharded and resumable.

Sample ``i`` depends only on ``(seed, i)``: its generator draws the field of view and the background crop
(whose horizon may fix the camera's pitch), then scenes until one can be placed; the renderer is
deterministic. So any split of ``[0, count)`` into shards gives the same samples
(:mod:`simreal.simulate.shards`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simreal.data.format import ImageSpec, LabelField, Provenance, command_line
from simreal.data.writer import DatasetWriter
from simreal.simulate.people.backgrounds import Backgrounds, load_backgrounds, load_detector, resolve_backgrounds
from simreal.simulate.people.labels import person_records
from simreal.simulate.people.scene import SceneBuilder, SceneConfig, resolved_body, with_body
from simreal.simulate.people.shadows import ground_shadows
from simreal.simulate.people.skeleton import COCO_FLIP_PAIRS, COCO_KEYPOINTS, COCO_SKELETON
from simreal.simulate.render import SceneRenderer
from simreal.simulate.shards import Row
from simreal.simulate.workers import generate_sharded
from simreal.utils.errors import SimrealError
from simreal.utils.seeding import numpy_rng

MAX_SCENE_TRIES = 50
DEPTH_MAX_MM = 65535


@dataclass(frozen=True)
class PeopleConfig:
    scene: SceneConfig = field(default_factory=SceneConfig)
    backgrounds: str | None = None  # folder of photos, or builtin; None: resolve_backgrounds' default
    min_background_size: int = 512
    person_detector: str = "opencv"  # opencv | none | module:function


PEOPLE_SCHEMA = {
    "people": LabelField("object", None, "persons: keypoints [[x, y, v]] (COCO-17, v: 0 outside, 1 occluded, "
                         "2 visible), keypoints_mpii (MPII-16), occluded_by (person, -1 a seat), keypoints_hands "
                         "(scene.hand_keypoints: 2 x 21, Anny bodies), bbox [x, y, w, h], area, mask_id, "
                         "synthetic, joints_3d (world, m), factors"),
    "camera": LabelField("object", None, "position, rotation (rows: right, down, forward), intrinsics"),
    "synthetic": LabelField("bool", (), "true for simulator output"),
}


class SceneMaker:
    """Everything one process needs to render samples: scene builder, GL renderer, backgrounds."""

    def __init__(self, cfg: PeopleConfig, backgrounds: Backgrounds):
        self.cfg = cfg
        self.builder = SceneBuilder(cfg.scene, photos=backgrounds.images)
        self.renderer = SceneRenderer(self.builder.model, cfg.scene.width, cfg.scene.height)
        self.backgrounds = backgrounds
        self.timings = {"scene": 0.0, "render": 0.0, "labels": 0.0}

    def make(self, seed: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """RGB image, instance mask (k+1 for person k), depth (mm, 0 = background) and the record."""
        rng = numpy_rng(seed, index)
        t0 = time.perf_counter()
        scfg = self.cfg.scene
        fovy = float(rng.uniform(*scfg.fovy_deg))  # the background first: its horizon may fix the camera's pitch
        background, bg_info, pitch = self.backgrounds.sample(rng, scfg.width, scfg.height, fovy,
                                                             scfg.photo_pitch_deg)
        scene, attempt = None, 0
        while scene is None:
            if attempt == MAX_SCENE_TRIES:
                raise SimrealError(f"sample {index}: no placeable scene in {MAX_SCENE_TRIES} draws; "
                               "lower people_lambda or widen crowd_radius_m")
            scene, _ = self.builder.sample(rng, pitch, fovy)
            attempt += 1
        attempt -= 1
        t1 = time.perf_counter()
        rgb, depth, geom = self.renderer.render_scene(scene)
        t2 = time.perf_counter()
        owner = scene.owners(geom)
        background = shade(background, ground_shadows(scene, *background.shape[1::-1], scfg.contact_shadow,
                                                      scfg.cast_shadow))
        image = composite(rgb, background, geom >= 0)  # people and seats
        people = person_records(scene, depth, geom, scfg.hand_keypoints)
        mask = (np.maximum(owner, -1) + 1).astype(np.uint8)  # seats: 0
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


def shade(image: np.ndarray, darkness: np.ndarray) -> np.ndarray:
    """``image`` (uint8 RGB) darkened by ``darkness`` (H, W) in [0, 1]."""
    if not darkness.any():
        return image
    return np.clip(image * (1 - darkness[..., None]) + 0.5, 0, 255).astype(np.uint8)


def composite(render: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """People over the background with a 3×3-averaged matte (anti-aliased edges without MSAA)."""
    import cv2

    alpha = cv2.blur(foreground.astype(np.float32), (3, 3))[..., None]
    out = render.astype(np.float32) * alpha + background.astype(np.float32) * (1 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _config_json(cfg: PeopleConfig, count: int) -> dict[str, Any]:
    return {"count": count, "people": dataclasses.asdict(cfg)}


@dataclass(frozen=True)
class PeopleJob:
    """D_S as a :class:`~simreal.simulate.shards.ShardJob`: row ``i`` is scene ``(seed, i)``."""

    count: int
    seed: int
    cfg: PeopleConfig
    label: str = "generate people"

    def __post_init__(self) -> None:  # the body and backgrounds a dataset records are the ones it gets
        object.__setattr__(self, "cfg", dataclasses.replace(self.cfg, scene=resolved_body(self.cfg.scene),
                                                            backgrounds=resolve_backgrounds(self.cfg.backgrounds)))

    def start(self, root: Path, rows: range, log: Callable[[str], object]
              ) -> tuple[DatasetWriter, Callable[[int], Row], Callable[[], None]]:
        cfg = self.cfg
        backgrounds = load_backgrounds(cfg.backgrounds, cfg.min_background_size, load_detector(cfg.person_detector),
                                       log, cfg.person_detector)
        provenance = Provenance(command_line(), _config_json(cfg, self.count), self.seed,
                                extra={"shard": [rows.start, rows.stop], "backgrounds_used": backgrounds.names,
                                       "backgrounds_rejected": backgrounds.rejected})
        writer = DatasetWriter(root, name="people-synthetic", task="keypoints", domain="synthetic",
                               image=ImageSpec("RGB", cfg.scene.height, cfg.scene.width), label_schema=PEOPLE_SCHEMA,
                               provenance=provenance, keypoint_names=COCO_KEYPOINTS, skeleton=COCO_SKELETON,
                               flip_pairs=COCO_FLIP_PAIRS, first_index=rows.start, expected_count=len(rows))
        maker = SceneMaker(cfg, backgrounds)
        return writer, lambda i: maker.make(self.seed, i), maker.close


def generate_people(out: str | Path, count: int = 100, seed: int = 0, cfg: PeopleConfig = PeopleConfig(),
                    workers: int = 1, shard: tuple[int, int] | None = None, ray_address: str | None = None,
                    overwrite: bool = False, show_progress: bool | None = None,
                    log: Callable[[str], object] = print) -> Path | None:
    """Render ``count`` scenes into ``out``; returns ``out`` once merged (None: other shards still running)."""
    cfg = dataclasses.replace(cfg, scene=with_body(cfg.scene, log),
                              backgrounds=resolve_backgrounds(cfg.backgrounds, log))
    return generate_sharded(out, PeopleJob(count, seed, cfg), workers, shard, ray_address, overwrite, show_progress,
                            log)
