"""``simreal generate mixed``: D_M, real keypoint images with synthetic people superimposed.

For real image ``r`` and draw ``j`` (``K`` draws per image, paper: 5), sample ``r·K + j`` adds
Poisson(λ = 4) synthetic people (at least ``min_people``) rendered at the real image's resolution with a
fixed camera (pitch 0°, 1.6 m high, ``fovy_deg`` vertical field of view). Their size follows the real
people: each synthetic person's projected stature is the median stature of the real people in that image
(estimated from their labelled keypoints: vertical extent / 0.85; half the image height when none is
usable) times U(0.75, 1.25). Half of them stand near a random real person (to occlude them, as the paper
intends), the others anywhere with their feet in the lower 70 % of the image.

Real people keep their ground truth exactly, except that a keypoint labelled visible (v = 2) that a
synthetic person now covers becomes v = 1 with ``occluded_by`` = that synthetic person's index in
``people``. Synthetic people carry full labels (:mod:`~simreal.simulate.people.labels`) and
``synthetic: true``; the mask keeps the real people's ids (if the real dataset has masks) and gives the
synthetic ones the next ids, drawn on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from simreal.data.derive import derived_writer, parent_ref, sample_mask
from simreal.data.format import ImageSpec, LabelField, Provenance, command_line
from simreal.data.reader import SimrealDataset, read_manifest
from simreal.data.writer import DatasetWriter
from simreal.simulate.people.generate import DEPTH_MAX_MM, composite, shade
from simreal.simulate.people.labels import person_records
from simreal.simulate.people.scene import (
    SEAT,
    Camera,
    SceneBuilder,
    SceneConfig,
    make_camera,
    resolved_body,
    sample_light,
    with_body,
)
from simreal.simulate.people.shadows import ground_shadows
from simreal.simulate.render import SceneRenderer
from simreal.simulate.shards import Row
from simreal.simulate.workers import generate_sharded
from simreal.utils.errors import DatasetError
from simreal.utils.seeding import numpy_rng

CAMERA_HEIGHT_M = 1.6
MAX_SIDE = 2048


@dataclass(frozen=True)
class MixedConfig:
    """D_M's settings. ``scene`` gives the synthetic people (how many: ``people_lambda``, ``min_people``,
    ``max_people``; postures, placement tries) and the light; its camera and crowd ranges are not used, since
    D_M's camera is fixed (pitch 0°, 1.6 m high, ``fovy_deg``) and people stand where the real ones are."""

    renders_per_image: int = 5  # K
    fovy_deg: float = 50.0
    stature_jitter: tuple[float, float] = (0.75, 1.25)
    near_real_share: float = 0.5  # share of synthetic people placed next to a real person
    scene: SceneConfig = dataclasses.field(
        default_factory=lambda: SceneConfig(people_lambda=4.0, min_people=1, max_people=16))  # paper: λ = 4


def real_statures(people: list[dict[str, Any]]) -> list[tuple[float, float, float]]:
    """(centre x, lowest labelled y, stature in px) of each real person with ≥ 4 labelled keypoints."""
    out = []
    for p in people:
        kps = np.array([kp for kp in p["keypoints"] if kp[2] > 0], dtype=float).reshape(-1, 3)
        if len(kps) >= 4:
            out.append((float(kps[:, 0].mean()), float(kps[:, 1].max()), float(np.ptp(kps[:, 1]) / 0.85)))
    return out


def _target(rng: np.random.Generator, cfg: MixedConfig, real: list[tuple[float, float, float]], w: int,
            h: int) -> tuple[float, float, float]:
    """(feet u, feet v, stature px) of one synthetic person."""
    base = float(np.median([s for *_, s in real])) if real else 0.5 * h
    stature = max(8.0, base * rng.uniform(*cfg.stature_jitter))
    if real and rng.random() < cfg.near_real_share:
        cx, bottom, s = real[int(rng.integers(len(real)))]
        return cx + rng.normal(0, 0.25 * s), bottom + rng.normal(0, 0.08 * s), stature
    return rng.uniform(0, w), rng.uniform(0.3 * h, h + 0.05 * stature), stature


def _ground_point(camera: Camera, u: float, v: float, stature_px: float, height_m: float) -> tuple[float, float, float]:
    """World (x, y, ground z) such that a person of ``height_m`` stands with feet at pixel (u, v)."""
    f = camera.focal_px
    z = f * height_m / stature_px  # depth giving that projected stature
    xc, yc = (u - camera.width / 2) * z / f, (v - camera.height / 2) * z / f
    return z, -xc, CAMERA_HEIGHT_M - yc  # camera looks along +x, its x axis is world −y


def occlude_real(people: list[dict[str, Any]], owner: np.ndarray, index: dict[int, int]) -> list[dict[str, Any]]:
    """Real people with v = 2 keypoints under a synthetic person's pixels set to v = 1, ``occluded_by`` that
    person's index in the final ``people`` list (``index``: scene person → list index), or under a seat's
    (``owner`` SEAT: −1); all else unchanged."""
    h, w = owner.shape
    out = []
    for p in people:
        p = dict(p)
        occ = list(p.get("occluded_by") or [None] * len(p["keypoints"]))
        kps = [list(kp) for kp in p["keypoints"]]
        for j, (x, y, v) in enumerate(kps):
            front = int(owner[int(y), int(x)]) if 0 <= x < w and 0 <= y < h else -1
            if v == 2 and (front >= 0 or front == SEAT):
                kps[j][2], occ[j] = 1, -1 if front == SEAT else index[front]
        p["keypoints"], p["occluded_by"] = kps, occ
        out.append(p)
    return out


class MixedMaker:
    def __init__(self, cfg: MixedConfig, max_w: int, max_h: int):
        self.cfg = cfg
        scene_cfg = dataclasses.replace(cfg.scene, width=max_w, height=max_h)
        self.builder = SceneBuilder(scene_cfg)
        self.renderer = SceneRenderer(self.builder.model, max_w, max_h)

    def make(self, seed: int, index: int, image: np.ndarray, real_people: list[dict[str, Any]],
             real_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        cfg = self.cfg
        h, w = image.shape[:2]
        rng = numpy_rng(seed, index)
        camera = make_camera(0.0, 5.0, CAMERA_HEIGHT_M, cfg.fovy_deg, w, h)
        real = real_statures(real_people)
        n = int(np.clip(rng.poisson(cfg.scene.people_lambda), cfg.scene.min_people, cfg.scene.max_people))

        def where(person):
            u, v, s = _target(rng, cfg, real, w, h)
            return _ground_point(camera, u, v, s, person.shape.height)

        scene = None
        while scene is None:
            scene, _ = self.builder.populate(rng, camera, sample_light(cfg.scene, rng), n, where)
            n = max(cfg.scene.min_people, n - 1) if scene is None else n  # crowded: one fewer
        rgb, depth, geom = self.renderer.render_scene(scene, w, h)
        owner = scene.owners(geom)
        shadows = ground_shadows(scene, w, h, cfg.scene.contact_shadow, cfg.scene.cast_shadow)
        out = composite(rgb, shade(image, shadows), geom >= 0)
        synthetic = person_records(scene, depth, geom, cfg.scene.hand_keypoints)
        offset = len(real_people)
        final = {p["person"]: offset + i for i, p in enumerate(synthetic)}  # scene person → index in people
        base_id = int(max([p.get("mask_id") or 0 for p in real_people] + [0]))
        for p in synthetic:
            p["mask_id"] = base_id + 1 + p["person"]
            p["person"] = final[p["person"]]
            for key in ("occluded_by", "occluded_by_mpii", "occluded_by_hands"):
                if key in p:
                    p[key] = [None if o is None else o if o < 0 else final[o] for o in p[key]]  # −1: a seat
        mask = real_mask.copy() if real_mask is not None else np.zeros((h, w), np.uint8)
        sel = owner >= 0
        mask[sel] = (base_id + 1 + owner[sel]).astype(mask.dtype)
        real_out = occlude_real(real_people, owner, final)
        depth_mm = np.where(np.isfinite(depth), np.clip(depth * 1000, 1, DEPTH_MAX_MM), 0).astype(np.uint16)
        record = {"people": real_out + synthetic, "camera": camera.to_json(), "synthetic": False,
                  "factors": {"n_real_people": len(real_people), "n_synthetic_people": len(synthetic)}}
        return out, mask, depth_mm, record

    def close(self) -> None:
        self.renderer.close()


@dataclass(frozen=True)
class MixedJob:
    """D_M as a :class:`~simreal.simulate.shards.ShardJob`: row ``i`` is draw ``i % K`` on real image
    ``i // K``. Make it with :func:`mixed_job`, which checks the real dataset."""

    real: str
    count: int
    seed: int
    cfg: MixedConfig
    limit: int
    max_size: tuple[int, int]  # (width, height) of the largest real image used
    fixed_size: tuple[int, int] | None  # (width, height) when every real image used has it
    label: str = "generate mixed"

    def __post_init__(self) -> None:  # the body a dataset records is the one it gets, "auto" resolved
        object.__setattr__(self, "cfg", dataclasses.replace(self.cfg, scene=resolved_body(self.cfg.scene)))

    def start(self, root: Path, rows: range, log: Callable[[str], object]
              ) -> tuple[DatasetWriter, Callable[[int], Row], Callable[[], None]]:
        real, k = Path(self.real), self.cfg.renders_per_image
        manifest = read_manifest(real)
        ds = SimrealDataset(real)
        people = {"people": LabelField("object", None, "real people (synthetic: false, ground truth kept; v = 2 → 1 "
                                       "where a synthetic person now covers them) then synthetic people (synthetic: "
                                       "true, full labels)")}
        config = {"real": str(real.resolve()), "limit": self.limit, "mixed": dataclasses.asdict(self.cfg)}
        prov = Provenance(command_line(), config, self.seed, extra={"shard": [rows.start, rows.stop]},
                          parents=[parent_ref(real, manifest)])
        w, h = self.fixed_size or (None, None)
        writer = derived_writer(ds, root, name=f"{manifest['name']}-mixed", domain="mixed", provenance=prov,
                                image=ImageSpec("RGB", h, w), extra_schema=people, first_index=rows.start)
        maker = MixedMaker(self.cfg, *self.max_size)

        def make(i: int) -> Row:
            rec = ds.record(i // k)
            image = np.asarray(Image.open(real / rec["file_name"]).convert("RGB"))
            real_mask = sample_mask(ds, rec)
            people = [{**p, "synthetic": False} for p in rec.get("people", [])]
            img, mask, depth, record = maker.make(self.seed, i, image, people, real_mask)
            record["source"] = {"file_name": rec["file_name"], "index": i // k, "draw": i % k}
            return img, mask, depth, record

        return writer, make, maker.close


def mixed_job(real: str | Path, seed: int = 0, cfg: MixedConfig = MixedConfig(), limit: int = 0) -> MixedJob:
    """The D_M job over the real keypoint dataset ``real`` (``limit`` > 0: only its first ``limit`` images)."""
    real = Path(real)
    manifest = read_manifest(real)
    if manifest["task"] != "keypoints":
        raise DatasetError(f"generate mixed needs a keypoint dataset (task is {manifest['task']!r})", real)
    ds = SimrealDataset(real)
    n_real = min(len(ds), limit) if limit else len(ds)
    sizes = []
    for i in range(n_real):
        with Image.open(real / ds.record(i)["file_name"]) as img:  # reads the header only
            sizes.append(img.size)
    max_w, max_h = max(s[0] for s in sizes), max(s[1] for s in sizes)
    if max(max_w, max_h) > MAX_SIDE:
        raise DatasetError(f"images up to {MAX_SIDE} px per side are supported; found {max_w}×{max_h}", real)
    fixed = sizes[0] if sizes.count(sizes[0]) == len(sizes) else None
    return MixedJob(str(real), n_real * cfg.renders_per_image, seed, cfg, limit, (max_w, max_h), fixed)


def generate_mixed(real: str | Path, out: str | Path, seed: int = 0, cfg: MixedConfig = MixedConfig(),
                   limit: int = 0, overwrite: bool = False, show_progress: bool | None = None, workers: int = 1,
                   shard: tuple[int, int] | None = None, ray_address: str | None = None,
                   log: Callable[[str], object] = print) -> Path | None:
    """Write D_M from the real keypoint dataset ``real`` (``limit`` > 0: only its first ``limit`` images) in
    this process, ``workers`` processes, one ``shard`` (K, N) or Ray tasks; returns ``out`` once merged."""
    cfg = dataclasses.replace(cfg, scene=with_body(cfg.scene, log))
    return generate_sharded(out, mixed_job(real, seed, cfg, limit), workers, shard, ray_address, overwrite,
                            show_progress, log)
