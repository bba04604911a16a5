"""Training samples for the keypoint task: person-centred crops with augmentation, targets and loss weights.

As in the synthetic-humans paper, training samples people, not images: every person with at least
``min_keypoints`` labelled keypoints is a sample (in a mixed dataset, D_M, only the real people: "when
training with D_M we consider only real humans as samples"; the synthetic ones still appear in the
crops). The image is cropped around the person so that its height becomes ``person_fraction`` of the
crop, then scaled by U(``scale``), rotated by U(±``rotate_deg``), shifted by U(±``shift_px``) and
mirrored with probability ``flip`` (left/right keypoints swapped). Every person in the crop contributes to
the targets. A person's height is its box height, or its labelled keypoints'
vertical extent / 0.85 when it has no box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from simreal.data.keypoints import KeypointSet
from simreal.data.reader import SimrealDataset
from simreal.tasks.keypoints.targets import encode, loss_weights
from simreal.utils.errors import DatasetError

cv2.setNumThreads(0)  # OpenCV's own thread pool fights torch's (and crashed gloo workers at exit)
MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


@dataclass(frozen=True)
class CropConfig:
    size: int = 368  # crop side (a multiple of 8)
    person_fraction: float = 0.6
    scale: tuple[float, float] = (0.7, 1.3)
    rotate_deg: float = 40.0
    shift_px: float = 40.0
    flip: float = 0.5
    min_keypoints: int = 5
    sigma: float = 7.0  # confidence-map Gaussian, input pixels
    paf_width: float = 8.0  # PAF half-width, input pixels


def person_height(person: dict[str, Any], kps: np.ndarray) -> float:
    box = person.get("bbox")
    if box and box[3] > 0:
        return float(box[3])
    lab = kps[kps[:, 2] > 0]
    return float(np.ptp(lab[:, 1]) / 0.85) if len(lab) >= 2 else 0.0


def normalise(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) → float (3, H, W), ImageNet mean/std (what VGG weights expect)."""
    return torch.from_numpy(((image.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1).copy())


class KeypointSource:
    """One training dataset: its people, images (cached in memory up to ``cache_bytes``) and masks."""

    def __init__(self, root: str | Path, kset: KeypointSet, cfg: CropConfig, cache_bytes: int = 1 << 30,
                 limit: int = 0):
        self.ds = SimrealDataset(root)
        if self.ds.manifest["task"] != "keypoints":
            raise DatasetError(f"a keypoint dataset is needed (task is {self.ds.manifest['task']!r})", root)
        self.kset, self.cfg, self.root = kset, cfg, Path(root)
        self.domain = self.ds.manifest["domain"]
        self.records = [self.ds.record(i) for i in range(min(len(self.ds), limit) if limit else len(self.ds))]
        self.samples = []  # (record, person)
        for r, rec in enumerate(self.records):
            for p, person in enumerate(rec.get("people", [])):
                if self.domain == "mixed" and person.get("synthetic"):
                    continue  # D_M: crops are centred on real people only (the paper, section 5.1)
                kps = self.keypoints(person)
                if kps is not None and (kps[:, 2] > 0).sum() >= cfg.min_keypoints and person_height(person, kps) > 0:
                    self.samples.append((r, p))
        if not self.samples:
            raise DatasetError(f"no person with ≥ {cfg.min_keypoints} labelled {kset.name} keypoints", root)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._cache_left = cache_bytes

    def keypoints(self, person: dict[str, Any]) -> np.ndarray | None:
        kps = person.get(self.kset.field)
        if kps is None:
            return None
        arr = np.asarray(kps, dtype=np.float32).reshape(-1, 3)
        if len(arr) != len(self.kset.names):
            raise DatasetError(f"{self.kset.field} has {len(arr)} keypoints, the {self.kset.name} set has "
                               f"{len(self.kset.names)}", self.root)
        return arr

    def image(self, r: int) -> tuple[np.ndarray, np.ndarray | None]:
        if r in self._cache:
            return self._cache[r]
        rec = self.records[r]
        image = np.asarray(Image.open(self.root / rec["file_name"]).convert("RGB"))
        mask_path = self.root / rec["file_name"].replace("images/", "masks/", 1)
        mask = np.asarray(Image.open(mask_path)) if mask_path.exists() else None
        size = image.nbytes + (mask.nbytes if mask is not None else 0)
        if size <= self._cache_left:
            self._cache[r] = (image, mask)
            self._cache_left -= size
        return image, mask

    def sample(self, index: int, rng: np.random.Generator, masked_synthetic: bool
               ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """(normalised crop, target, loss weights) of sample ``index``. ``masked_synthetic`` masks the people
        flagged ``synthetic`` in a synthetic or mixed dataset (a dataset whose domain is ``real`` has none,
        whatever its records say: e.g. generated data standing in for real photographs)."""
        cfg, kset = self.cfg, self.kset
        masked_synthetic = masked_synthetic and self.domain != "real"
        r, p = self.samples[index]
        rec = self.records[r]
        image, mask = self.image(r)
        people = rec["people"]
        centre_kps = self.keypoints(people[p])
        lab = centre_kps[centre_kps[:, 2] > 0]
        centre = lab[:, :2].mean(axis=0)
        s = cfg.person_fraction * cfg.size / person_height(people[p], centre_kps) * rng.uniform(*cfg.scale)
        theta = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
        shift = rng.uniform(-cfg.shift_px, cfg.shift_px, 2)
        flip = rng.random() < cfg.flip
        rot = s * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        m = np.concatenate([rot, (cfg.size / 2 + shift - rot @ centre)[:, None]], axis=1)
        if flip:
            m = np.array([[-1, 0, cfg.size - 1], [0, 1, 0]]) @ np.vstack([m, [0, 0, 1]])
        crop = cv2.warpAffine(image, m, (cfg.size, cfg.size), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
        real_people, synth_people = [], []
        perm = kset.flip_permutation()
        for person in people:
            kps = self.keypoints(person)
            if kps is None:
                continue
            kps = kps.copy()
            kps[:, :2] = kps[:, :2] @ m[:, :2].T + m[:, 2]
            if flip:
                kps = kps[perm]
            (synth_people if person.get("synthetic") and masked_synthetic else real_people).append(kps)
        out_hw = (cfg.size // 8, cfg.size // 8)
        target = encode(real_people + synth_people, kset, out_hw, 8, cfg.sigma, cfg.paf_width)
        synth_mask = None
        if masked_synthetic and mask is not None:
            ids = [q["mask_id"] for q in people if q.get("synthetic") and q.get("mask_id")]
            if ids:
                warped = cv2.warpAffine(mask, m, (cfg.size, cfg.size), flags=cv2.INTER_NEAREST, borderValue=0)
                synth_mask = np.isin(warped, ids)
        weights = loss_weights(out_hw, kset, 8, synth_people, synth_mask, None, cfg.sigma, cfg.paf_width)
        return normalise(crop), target, weights

    channels = 3  # crops are RGB

    def factor(self, name: str) -> np.ndarray:
        """A factor of every sample (person): the person's own factor if it has one (``min_distance_px``,
        ``visible_ratio`` ...), else the image's (``camera_pitch_deg`` ...); NaN where missing."""
        out = []
        for r, p in self.samples:
            rec = self.records[r]
            person = rec["people"][p]
            v = (person.get("factors") or {}).get(name, (rec.get("factors") or {}).get(name))
            out.append(np.nan if v is None else float(v))
        return np.asarray(out)

    @property
    def synthetic(self) -> bool:
        """Whether samples of this source count as synthetic (for freezing): any domain but ``real``."""
        return self.domain != "real"
