"""Running a trained OpenPose network on whole images and decoding the people in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from simreal.data.keypoints import KeypointSet
from simreal.evaluate.keypoints import evaluate_keypoint_predictions
from simreal.tasks.keypoints.data import normalise
from simreal.tasks.keypoints.decode import DecodeConfig, decode
from simreal.tasks.keypoints.network import OpenPose


@torch.no_grad()
def predict_people(model: OpenPose, image: np.ndarray, kset: KeypointSet, size: int = 368,
                   cfg: DecodeConfig = DecodeConfig()) -> list[dict[str, object]]:
    """People in ``image`` (H, W, 3 uint8): the image is resized so that its longer side is ``size``, padded
    to a multiple of 8, the last stage's maps are upsampled ×8 (bicubic) and decoded; keypoints come back
    in the original image's pixels as ``[x, y, score]``."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    rh, rw = max(8, round(h * scale)), max(8, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((rw, rh), Image.BILINEAR))
    ph, pw = -(-rh // 8) * 8, -(-rw // 8) * 8
    padded = np.full((ph, pw, 3), 128, np.uint8)
    padded[:rh, :rw] = resized
    device = next(model.parameters()).device
    out = model(normalise(padded)[None].to(device))[-1].float()
    up = F.interpolate(out, scale_factor=8, mode="bicubic", align_corners=False)[0, :, :rh, :rw].cpu().numpy()
    k = len(kset.names)
    people = decode(up[: k + 1], up[k + 1:], kset, cfg)
    sx, sy = w / rw, h / rh
    for p in people:
        p["keypoints"] = [[x * sx + (sx - 1) / 2, y * sy + (sy - 1) / 2, s] if s > 0 else [0.0, 0.0, 0.0]
                          for x, y, s in p["keypoints"]]
    return people


def evaluate_keypoint_model(model: OpenPose, kset: KeypointSet, data: str | Path, size: int = 368, limit: int = 0,
                            report_dir: str | Path | None = None, show_progress: bool | None = None,
                            name: str = "(in memory)", **mpii_options: bool) -> dict[str, Any]:
    """:func:`~simreal.evaluate.keypoints.evaluate_keypoint_predictions` of ``model`` at input size ``size``."""
    model.eval()
    return evaluate_keypoint_predictions(lambda image: predict_people(model, image, kset, size), kset, data, size,
                                         limit, report_dir, show_progress, name, **mpii_options)
