"""A printed-digit simulator that mimics the UCI/NIST optical digit pipeline.

Each sample renders one digit 0–9 from a TrueType font (matplotlib's, or a folder the user gives)
with a random stroke width and affine pose (rotation, shear, aspect), normalises it into a 32×32
binary bitmap, then counts on-pixels in 4×4 blocks: an 8×8 image with 17 grey levels (0–16), stored
as ``round(count·255/16)``.

Real UCI digits (measured on the 1,797 that ship with scikit-learn) fill the full height, and their
width is normalised to a box too — 78 % of real digits, including most "1"s and every "0", span exactly
6 of the 8 block columns, and column 0 is almost never inked. ``box_width`` draws that width;
``max_stretch`` keeps thin glyphs from becoming slabs.
The default keeps the aspect anyway (``keep_aspect=True``): a first check suggested that a classifier
trained on box-normalised digits does worse on real digits; ``simreal experiment refine-digits
--variant box-simulator`` measures it.

Sample ``i`` depends only on ``(seed, i)``, so generation resumes and shards reproducibly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from simreal.utils.errors import SimrealError
from simreal.utils.seeding import numpy_rng

CANVAS = 160
FONT_SIZE = 96
BITMAP = 32
LEVELS = 16
MNIST_SIZE, MNIST_BOX = 28, 20  # MNIST: the digit fits a 20×20 box inside 28×28
# Fonts whose digit code points hold symbols (they pass the "ten distinct glyphs" test).
SYMBOL_FONTS = ("cmsy", "cmex", "STIXSiz", "STIXNonUni", "LastResort")


@dataclass(frozen=True)
class DigitSimConfig:
    """Ranges of the randomised factors (uniform unless stated)."""

    rotation_deg: tuple[float, float] = (-15.0, 15.0)
    shear: tuple[float, float] = (-0.35, 0.35)  # x += shear·y
    aspect: tuple[float, float] = (0.7, 1.25)  # width scale relative to height
    scale: tuple[float, float] = (0.85, 1.0)  # height of the glyph in the 32×32 box
    stroke_width: tuple[float, float] = (0.0, 6.0)  # extra stroke in canvas px (font size 96); < 0 erodes
    shift_px: float = 1.5  # max centre jitter in bitmap px
    keep_aspect: bool = True  # True: width follows the glyph's aspect; False: NIST-like box width
    box_width: tuple[float, float] = (19.0, 25.0)  # normalised width in bitmap px (keep_aspect=False)
    max_stretch: float = 2.5  # at most this much wider than the aspect-preserving width
    # The sensor: "block-count" is the UCI scanner (on-pixels per 4×4 block, 17 levels). "soft" is a
    # deliberately different camera-like sensor (Gaussian blur σ=2 px at 32×32, 4×4 average, gamma
    # 0.6, 256 levels), used only to measure what a refiner can learn when the gap is appearance.
    # "mnist" is MNIST's own normalisation instead (see :func:`mnist_sensor`): a 28×28 anti-aliased image.
    sensor: Literal["block-count", "soft", "mnist"] = "block-count"
    # Where the digit's shape comes from: "fonts" (printed glyphs), "strokes" (pen trajectories of
    # handwriting styles, simreal.simulate.digit_strokes), or "both" (each sample picks one, 50/50).
    source: Literal["fonts", "strokes", "both"] = "fonts"
    # Gaussian σ of each stroke control point, in units of the digit's height: the writers' variety. 0.11
    # measured best for zero-label MNIST (synthetic-only accuracy 89.6 % at 0.05, 92.2 % at 0.11, 91.7 % at
    # 0.14; 3 seeds each, README)
    stroke_jitter: float = 0.11

    @property
    def size(self) -> int:
        """Side of the images this configuration writes: 28 for the ``mnist`` sensor, 8 otherwise."""
        return MNIST_SIZE if self.sensor == "mnist" else 8

    @staticmethod
    def mnist() -> DigitSimConfig:
        """The ``mnist`` sensor, with strokes from 3 canvas px thinner (eroded) to 3 px thicker than the font's:
        the mean grey level of 300 such digits is 33.1 (real MNIST test digits: 30.8)."""
        return DigitSimConfig(sensor="mnist", stroke_width=(-3.0, 3.0), scale=(1.0, 1.0), shift_px=0.0)


def matplotlib_font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _glyph(font: ImageFont.FreeTypeFont, digit: int, stroke: int) -> np.ndarray:
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), str(digit), font=font, fill=255, anchor="mm",
                                stroke_width=stroke, stroke_fill=255)
    return np.asarray(canvas)


@lru_cache(maxsize=8)
def usable_fonts(font_dir: str | None = None) -> tuple[Path, ...]:
    """TrueType fonts in ``font_dir`` (default: matplotlib's) whose ten digit glyphs exist and differ.

    Known symbol fonts (``SYMBOL_FONTS``) are skipped by name.
    """
    folder = Path(font_dir) if font_dir else matplotlib_font_dir()
    if not folder.is_dir():
        raise SimrealError(f"{folder}: font folder not found")
    fonts = []
    for path in sorted(folder.glob("*.[tT][tT][fF]")) + sorted(folder.glob("*.[oO][tT][fF]")):
        if path.stem.startswith(SYMBOL_FONTS):
            continue
        try:
            font = ImageFont.truetype(str(path), 48)
        except OSError:
            continue
        glyphs = [_glyph(font, d, 0)[::4, ::4] > 127 for d in range(10)]
        if any(g.sum() < 4 for g in glyphs):
            continue
        distinct = {g.tobytes() for g in glyphs}
        if len(distinct) == 10:
            fonts.append(path)
    if not fonts:
        raise SimrealError(f"{folder}: no font with ten distinct digit glyphs")
    return tuple(fonts)


@lru_cache(maxsize=64)
def _font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, FONT_SIZE)


def _affine(glyph: Image.Image, rotation_deg: float, shear: float, aspect: float) -> Image.Image:
    """Rotate, shear and stretch about the canvas centre (PIL wants the inverse map)."""
    t = math.radians(rotation_deg)
    forward = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) @ np.array(
        [[aspect, shear], [0.0, 1.0]])
    inv = np.linalg.inv(forward)
    c = CANVAS / 2
    offset = np.array([c, c]) - inv @ np.array([c, c])
    coeffs = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
    return glyph.transform((CANVAS, CANVAS), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)


def normalise_to_bitmap(glyph: np.ndarray, scale: float, dx: float, dy: float, box_width: float | None = None,
                        max_stretch: float = 2.5) -> np.ndarray | None:
    """NIST-style size normalisation: crop to the ink, fit its height to ``scale``·32 and its width to
    ``box_width`` px (at most ``max_stretch`` × the aspect-preserving width; ``None`` keeps the aspect),
    centre with a shift; returns a binary 32×32 bitmap."""
    ys, xs = np.nonzero(glyph > 127)
    if len(ys) == 0:
        return None
    crop = Image.fromarray(glyph[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])
    h = max(1, round(BITMAP * scale))
    natural = crop.width * h / crop.height
    target = natural if box_width is None else min(box_width, natural * max_stretch)
    w = max(1, min(BITMAP, round(target)))
    small = np.asarray(crop.resize((w, h), Image.Resampling.BILINEAR)) > 127
    out = np.zeros((BITMAP, BITMAP), bool)
    top = int(np.clip(round((BITMAP - h) / 2 + dy), 0, BITMAP - h))
    left = int(np.clip(round((BITMAP - w) / 2 + dx), 0, BITMAP - w))
    out[top: top + h, left: left + w] = small
    return out


def block_count(bitmap: np.ndarray) -> np.ndarray:
    """32×32 binary -> 8×8 counts of on-pixels per 4×4 block (0–16), the UCI preprocessing."""
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.int64)


def counts_to_uint8(counts: np.ndarray) -> np.ndarray:
    return np.round(counts * 255.0 / LEVELS).astype(np.uint8)


def render_digit(seed: int, index: int, fonts: tuple[Path, ...], cfg: DigitSimConfig = DigitSimConfig()
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Sample ``index``: an 8×8 uint8 image and its record (``label`` and ``factors``)."""
    rng = numpy_rng(seed, index)
    digit = int(rng.integers(10))
    font_path = fonts[int(rng.integers(len(fonts)))]
    factors = {
        "font": font_path.stem,
        "rotation_deg": float(rng.uniform(*cfg.rotation_deg)),
        "shear": float(rng.uniform(*cfg.shear)),
        "aspect": float(rng.uniform(*cfg.aspect)),
        "scale": float(rng.uniform(*cfg.scale)),
        "stroke_width": float(rng.uniform(*cfg.stroke_width)),
        "dx": float(rng.uniform(-cfg.shift_px, cfg.shift_px)),
        "dy": float(rng.uniform(-cfg.shift_px, cfg.shift_px)),
        "box_width": float(rng.uniform(*cfg.box_width)),
    }
    pen = numpy_rng(seed, index, 1)  # the pen's own stream: font samples keep their factors
    if cfg.source == "strokes" or (cfg.source == "both" and pen.random() < 0.5):
        from simreal.simulate.digit_strokes import draw_strokes

        canvas, style = draw_strokes(digit, pen, jitter=cfg.stroke_jitter)
        glyph = Image.fromarray(canvas)
        factors["font"] = f"strokes-{digit}{'abc'[style]}"
        del factors["stroke_width"]  # the pen's width is drawn by draw_strokes
    else:
        stroke = round(factors["stroke_width"])
        glyph = Image.fromarray(_glyph(_font(str(font_path)), digit, max(stroke, 0)))
        if stroke < 0:
            glyph = _thinned(glyph, -stroke)
    glyph = np.asarray(_affine(glyph, factors["rotation_deg"], factors["shear"], factors["aspect"]))
    box = None if cfg.keep_aspect else factors["box_width"]
    if cfg.keep_aspect:
        del factors["box_width"]  # drawn (so other factors keep their values) but not used
    if cfg.sensor == "mnist":
        image = mnist_sensor(glyph)
    else:
        bitmap = normalise_to_bitmap(glyph, factors["scale"], factors["dx"], factors["dy"], box, cfg.max_stretch)
        if bitmap is None:  # pragma: no cover - every usable font draws every digit
            raise SimrealError(f"{font_path.name}: digit {digit} rendered empty")
        image = counts_to_uint8(block_count(bitmap)) if cfg.sensor == "block-count" else soft_sensor(bitmap)
    factors = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in factors.items()}
    return image, {"label": digit, "synthetic": True, "factors": factors}


def _thinned(glyph: Image.Image, px: int, keep: float = 0.3) -> Image.Image:
    """Thinner strokes than the font's: the glyph eroded by up to ``px`` canvas pixels on every side, as much
    as leaves at least ``keep`` of its ink (thin fonts would vanish otherwise)."""
    ink = int((np.asarray(glyph) > 127).sum())
    for k in range(px, 0, -1):
        eroded = glyph.filter(ImageFilter.MinFilter(2 * k + 1))
        if (np.asarray(eroded) > 127).sum() >= keep * ink:
            return eroded
    return glyph


def mnist_sensor(glyph: np.ndarray) -> np.ndarray:
    """MNIST's normalisation (LeCun et al.): the digit's bounding box is scaled, keeping its aspect ratio, to
    fit a 20×20 box, anti-aliased (here: area-averaged from the 160 px canvas), then placed in 28×28 so that
    its centre of mass (of the grey levels) is at the image centre. White ink on black, 0–255."""
    ys, xs = np.nonzero(glyph > 0)
    if len(ys) == 0:  # pragma: no cover - every usable font draws every digit
        raise SimrealError("digit rendered empty")
    crop = Image.fromarray(glyph[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])
    k = MNIST_BOX / max(crop.width, crop.height)
    w, h = max(1, round(crop.width * k)), max(1, round(crop.height * k))
    # a zero border: PIL's bilinear transform replicates the source's edge pixels, which would add ink
    small = np.pad(np.asarray(crop.resize((w, h), Image.Resampling.BOX), dtype=np.float64), 2)
    h, w = small.shape
    total = small.sum()
    cy = (small.sum(1) @ np.arange(h)) / total
    cx = (small.sum(0) @ np.arange(w)) / total
    # shift so the centre of mass lands on (13.5, 13.5), the centre of the 28 pixel grid; sub-pixel by bilinear
    oy, ox = (MNIST_SIZE - 1) / 2 - cy, (MNIST_SIZE - 1) / 2 - cx
    out = Image.fromarray(small.astype(np.float32), mode="F").transform(
        (MNIST_SIZE, MNIST_SIZE), Image.Transform.AFFINE, (1, 0, -ox, 0, 1, -oy), resample=Image.Resampling.BILINEAR)
    return np.clip(np.round(np.asarray(out)), 0, 255).astype(np.uint8)


def soft_sensor(bitmap: np.ndarray, sigma: float = 2.0, gamma: float = 0.6) -> np.ndarray:
    """A camera-like 8×8 reading of a 32×32 binary bitmap: blur, 4×4 average, gamma, 8 bits."""
    from scipy.ndimage import gaussian_filter

    soft = gaussian_filter(bitmap.astype(np.float64), sigma, mode="constant")
    cells = soft.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    cells = cells / max(cells.max(), 1e-6)
    return np.round(255.0 * cells**gamma).astype(np.uint8)
