"""Handwritten digits as pen trajectories, for the digit simulator's ``source="strokes"``.

Printed glyphs differ from handwriting in shape (serifs, uniform strokes, font proportions), which a
refiner bound by self-regularisation cannot change. Here each digit is drawn as a person writes it: one
or two pen strokes, each a Catmull–Rom spline through a few control points of one of several writing
styles per digit (an open or a closed 4, a 1 with or without a flag, a 7 with or without a bar, ...).
Every control point moves by Gaussian jitter (``DigitSimConfig.stroke_jitter``: at the default 0.11 of the
digit's height, about a quarter of the zeros and a fifth of the eights and nines come out open or
crossed, as in a hurried hand; it measured better on MNIST than 0.05, at which shapes keep their topology,
or than a smooth random warp of the whole digit), the digit's width varies, and the pen's width varies
smoothly along the stroke (pressure); slant, rotation and stretch come from the simulator's pose stage.
The result is a 160 px canvas like a font glyph's, so the simulator's pose and sensor stages
(:func:`simreal.simulate.digits.render_digit`) apply unchanged.

Control points are in a unit box (x right, y down); the styles were written for this module by looking
at how digits are commonly handwritten, not traced from any data set.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]

#: Writing styles per digit: each a list of strokes, each a list of control points.
STYLES: dict[int, list[list[Stroke]]] = {
    0: [[[(0.5, 0.0), (0.18, 0.2), (0.12, 0.55), (0.3, 0.95), (0.62, 0.97), (0.86, 0.65), (0.82, 0.22),
          (0.55, 0.0), (0.45, 0.04)]],
        [[(0.6, 0.02), (0.25, 0.1), (0.1, 0.5), (0.25, 0.92), (0.6, 1.0), (0.9, 0.6), (0.8, 0.15), (0.6, 0.02)]]],
    1: [[[(0.5, 0.0), (0.5, 0.5), (0.5, 1.0)]],
        [[(0.25, 0.22), (0.55, 0.0), (0.53, 0.5), (0.5, 1.0)]],
        [[(0.3, 0.2), (0.55, 0.0), (0.52, 0.5), (0.5, 1.0)], [(0.25, 1.0), (0.5, 1.0), (0.75, 1.0)]]],
    2: [[[(0.12, 0.25), (0.4, 0.0), (0.8, 0.08), (0.78, 0.4), (0.4, 0.75), (0.08, 1.0), (0.5, 0.97),
          (0.92, 0.98)]],
        [[(0.15, 0.2), (0.5, 0.0), (0.85, 0.2), (0.6, 0.55), (0.1, 0.98), (0.35, 0.85), (0.6, 0.95),
          (0.9, 1.0)]]],
    3: [[[(0.12, 0.12), (0.5, 0.0), (0.85, 0.2), (0.5, 0.45), (0.88, 0.68), (0.55, 1.0), (0.1, 0.88)]],
        [[(0.15, 0.05), (0.85, 0.05), (0.45, 0.42), (0.85, 0.65), (0.6, 0.98), (0.12, 0.9)]]],
    4: [[[(0.62, 0.0), (0.35, 0.35), (0.05, 0.68), (0.5, 0.66), (0.95, 0.65)], [(0.72, 0.3), (0.71, 0.65),
                                                                               (0.7, 1.0)]],
        [[(0.15, 0.0), (0.12, 0.3), (0.1, 0.56), (0.5, 0.56), (0.92, 0.54)], [(0.78, 0.0), (0.76, 0.5),
                                                                             (0.74, 1.0)]]],
    5: [[[(0.85, 0.02), (0.5, 0.0), (0.2, 0.02), (0.15, 0.45), (0.55, 0.38), (0.9, 0.65), (0.7, 0.95),
          (0.35, 1.0), (0.08, 0.88)]],
        [[(0.2, 0.02), (0.15, 0.45), (0.55, 0.38), (0.9, 0.65), (0.7, 0.95), (0.35, 1.0), (0.08, 0.88)],
         [(0.2, 0.02), (0.55, 0.0), (0.9, 0.0)]]],
    6: [[[(0.75, 0.0), (0.35, 0.25), (0.13, 0.62), (0.25, 0.95), (0.6, 1.0), (0.87, 0.75), (0.62, 0.5),
          (0.3, 0.55), (0.16, 0.72)]],
        [[(0.7, 0.0), (0.3, 0.35), (0.18, 0.75), (0.45, 1.0), (0.8, 0.85), (0.75, 0.55), (0.4, 0.55),
          (0.2, 0.75)]]],
    7: [[[(0.05, 0.02), (0.5, 0.0), (0.95, 0.0), (0.65, 0.5), (0.4, 1.0)]],
        [[(0.05, 0.02), (0.5, 0.0), (0.95, 0.0), (0.65, 0.5), (0.4, 1.0)], [(0.35, 0.5), (0.6, 0.5),
                                                                           (0.85, 0.48)]],
        [[(0.08, 0.15), (0.1, 0.0), (0.5, 0.02), (0.92, 0.0), (0.6, 0.55), (0.45, 1.0)]]],
    8: [[[(0.55, 0.48), (0.82, 0.22), (0.52, 0.0), (0.2, 0.2), (0.5, 0.48), (0.85, 0.75), (0.5, 1.0),
          (0.15, 0.78), (0.5, 0.48), (0.55, 0.46)]],
        [[(0.8, 0.1), (0.5, 0.0), (0.2, 0.18), (0.5, 0.45), (0.85, 0.72), (0.55, 1.0), (0.15, 0.8),
          (0.45, 0.5), (0.78, 0.22), (0.8, 0.1)]]],
    9: [[[(0.82, 0.3), (0.5, 0.52), (0.18, 0.35), (0.4, 0.0), (0.8, 0.1), (0.85, 0.35), (0.8, 0.7),
          (0.7, 1.0)]],
        [[(0.85, 0.15), (0.5, 0.0), (0.18, 0.2), (0.35, 0.48), (0.82, 0.3), (0.85, 0.12), (0.82, 0.6),
          (0.8, 1.0)]]],
}


def catmull_rom(points: np.ndarray, per_segment: int = 24) -> np.ndarray:
    """A uniform Catmull–Rom spline through ``points`` (n, 2), its end points repeated, ``per_segment``
    samples per segment."""
    p = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(p[-2][None])
    return np.vstack(out)


def draw_strokes(digit: int, rng: np.random.Generator, canvas: int = 160, jitter: float = 0.05,
                 width: tuple[float, float] = (9.0, 19.0), height: float = 110.0) -> tuple[np.ndarray, int]:
    """One handwritten ``digit`` on a ``canvas``² grey image (white ink on black) and the style drawn:
    ``height`` px tall, 0.55–0.8 × as wide, strokes ``width`` px wide (before pressure)."""
    styles = STYLES[digit]
    style = int(rng.integers(len(styles)))
    base_width = rng.uniform(*width)
    pressure_phase, pressure_amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.35)
    box_w = height * rng.uniform(0.55, 0.8)  # writers' digits are taller than wide
    x0, y0 = (canvas - box_w) / 2, (canvas - height) / 2
    image = Image.new("L", (canvas * 2, canvas * 2), 0)  # drawn at 2× and area-averaged: smooth edges
    draw = ImageDraw.Draw(image)
    for stroke in styles[style]:
        ctrl = np.asarray(stroke) + rng.normal(0.0, jitter, (len(stroke), 2))
        path = catmull_rom(ctrl)
        xy = np.c_[x0 + path[:, 0] * box_w, y0 + path[:, 1] * height] * 2
        s = np.linspace(0, 1, len(xy))
        # at 2× the canvas a radius of base_width draws a stroke base_width canvas px wide
        radius = base_width * (1 + pressure_amp * np.sin(2 * np.pi * s + pressure_phase))
        for (x, y), r in zip(xy, radius, strict=True):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(image.resize((canvas, canvas), Image.Resampling.BOX)), style
