"""Draw a keypoint sample so that a person can check its labels: skeletons, visibility, masks, factors."""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from simreal.data.keypoints import HAND_SKELETON
from simreal.data.reader import SimrealDataset
from simreal.utils.errors import DatasetError

PANEL_W = 330
HORIZON = (255, 220, 0)


def _colour(k: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.85, 1.0)
    return int(255 * r), int(255 * g), int(255 * b)


def draw_people(image: Image.Image, people: list[dict[str, Any]], limbs, width: int = 2) -> Image.Image:
    """A copy of ``image`` with each person's limbs (0-based joint pairs) and keypoints (third value > 0)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    r = max(2, round(out.width / 120))
    for k, person in enumerate(people):
        colour = _colour(k)
        kps = person["keypoints"]
        for a, b in limbs:
            if kps[a][2] > 0 and kps[b][2] > 0:
                draw.line([tuple(kps[a][:2]), tuple(kps[b][:2])], fill=colour, width=width)
        for x, y, s in kps:
            if s > 0:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return out


def _record(ds: SimrealDataset, index: int) -> dict[str, Any]:
    if not 0 <= index < len(ds):
        raise DatasetError(f"--index {index} is out of range (0-{len(ds) - 1})", ds.metadata_path)
    return ds.record(index)  # validated: a broken record is named, not drawn


def draw_sample(root: str | Path, index: int = 0) -> Image.Image:
    """The image with each person's mask tinted, skeleton, keypoints (filled: visible, hollow: occluded;
    keypoints outside the image are counted in the panel), the background photo's horizon where the record
    has one (dashed, ``HORIZON``) and a panel listing the factors."""
    root = Path(root)
    ds = SimrealDataset(root)
    if ds.manifest["task"] not in ("keypoints", "hand"):
        raise DatasetError(f"simreal show draws keypoint and hand datasets; this one is task "
                           f"{ds.manifest['task']!r}", root)
    manifest = ds.manifest
    rec = _record(ds, index)
    if manifest["task"] == "hand":
        image, people = _hand_view(root / rec["file_name"], rec)
    else:
        image, people = Image.open(root / rec["file_name"]).convert("RGB"), rec.get("people", [])
    base = np.asarray(image).astype(np.float32)
    mask_path = root / rec["file_name"].replace("images/", "masks/", 1)
    mask = np.asarray(Image.open(mask_path)) if mask_path.exists() else None
    if mask is not None:
        for k, person in enumerate(people):
            if person.get("mask_id"):
                sel = mask == person["mask_id"]
                base[sel] = 0.55 * base[sel] + 0.45 * np.array(_colour(k))
    canvas = Image.new("RGB", (image.width + PANEL_W, max(image.height, 360)), (20, 20, 20))
    canvas.paste(Image.fromarray(base.astype(np.uint8)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    skeleton = manifest.get("skeleton") or []
    radius = max(2, round(image.width / 200))
    if isinstance(rec.get("background_horizon"), (int, float)):  # the photo's horizon, as the camera matched it
        y = rec["background_horizon"] * image.height
        for x in range(0, image.width, 12):
            draw.line([(x, y), (min(x + 6, image.width), y)], fill=HORIZON, width=1)
    outside = 0
    for k, person in enumerate(people):
        colour = _colour(k) if person.get("synthetic", True) else (255, 255, 255)
        kps = person["keypoints"]
        for a, b in skeleton:
            pa, pb = kps[a - 1], kps[b - 1]
            if pa[2] > 0 and pb[2] > 0:
                dashed = pa[2] == 1 or pb[2] == 1
                draw.line([tuple(pa[:2]), tuple(pb[:2])], fill=colour, width=1 if dashed else 2)
        for x, y, v in kps:
            if v == 0:
                outside += 1
                continue
            box = [x - radius, y - radius, x + radius, y + radius]
            if v == 2:
                draw.ellipse(box, fill=colour, outline=(0, 0, 0))
            else:
                draw.ellipse(box, outline=colour, width=2)
        hands = person.get("keypoints_hands") or []  # 2 × 21 points: thin bones, small dots
        for hand in (hands[:21], hands[21:]):
            for a, b in HAND_SKELETON if len(hand) == 21 else ():
                if hand[a][2] > 0 and hand[b][2] > 0:
                    draw.line([tuple(hand[a][:2]), tuple(hand[b][:2])], fill=colour, width=1)
            for x, y, v in hand:
                if v > 0:
                    draw.point((x, y), fill=colour if v == 2 else (255, 255, 255))
        if person.get("bbox"):
            x, y, w, h = person["bbox"]
            draw.rectangle([x, y, x + w, y + h], outline=colour, width=1)
            draw.text((x + 2, y + 1), str(k), fill=colour)
    _panel(draw, image.width + 10, rec, people, outside, manifest)
    return canvas


def _hand_view(path: Path, rec: dict[str, Any], scale: int = 2) -> tuple[Image.Image, list[dict[str, Any]]]:
    """A depth crop (16-bit, near = dark) enlarged ``scale``× as grey RGB, and its joints as one "person"."""
    depth = np.asarray(Image.open(path)).astype(np.uint32) >> 8
    image = Image.fromarray(depth.astype(np.uint8)).convert("RGB")
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)

    def big(points: list[list[float]]) -> list[list[float]]:
        return [[x * scale, y * scale, v] for x, y, v in points]

    hand21 = rec.get("keypoints_21") or []
    return image, [{"keypoints": big(rec["keypoints"]), "synthetic": rec.get("synthetic", True),
                    "keypoints_hands": big(hand21) if any(v > 0 for *_, v in hand21) else []}]


def _panel(draw: ImageDraw.ImageDraw, x0: int, rec: dict[str, Any], people: list[dict[str, Any]], outside: int,
           manifest: dict[str, Any]) -> None:
    font = ImageFont.load_default()
    lines = [f"{manifest.get('name', '')} [{manifest.get('domain', '')}]", rec["file_name"], "",
             "filled dot: visible (v=2)", "ring, thin bone: occluded (v=1)", f"outside the image (v=0): {outside}", ""]
    for key, value in (rec.get("factors") or {}).items():
        lines.append(f"{key}: {value}")
    for key in ("background", "background_horizon", "horizon_error_px"):
        if key in rec:
            lines.append(f"{key}: {rec[key]}")
    lines.append("")
    lines.append("person  vis.ratio  min.dist  synthetic")
    for k, p in enumerate(people):
        f = p.get("factors", {})
        vis = sum(1 for kp in p["keypoints"] if kp[2] == 2) / max(len(p["keypoints"]), 1)
        md = f.get("min_distance_px")
        lines.append(f"{k:>4}   {vis:8.2f}   {md if md is not None else '-':>7}   {p.get('synthetic', True)}")
    y = 8
    for line in lines:
        draw.text((x0, y), str(line), fill=(235, 235, 235), font=font)
        y += 13


def show(root: str | Path, index: int, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_sample(root, index).save(out)
    return out
