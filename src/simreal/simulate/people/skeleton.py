"""The 21 keypoint sites on a synthetic body: the COCO-17 and MPII-16 points (shared ones once)."""

from __future__ import annotations

from simreal.data.keypoints import (  # noqa: F401  (re-exported for the simulator's modules)
    COCO_FLIP_PAIRS,
    COCO_KEYPOINTS,
    COCO_SKELETON,
    HAND_KEYPOINTS,
    HAND_SKELETON,
    MPII_FLIP_PAIRS,
    MPII_KEYPOINTS,
    MPII_SKELETON,
)

SITES = list(dict.fromkeys(COCO_KEYPOINTS + MPII_KEYPOINTS))  # 21 distinct points
