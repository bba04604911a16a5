"""Keypoint sets: COCO-17 and MPII-16 names, skeletons (limb lists) and left/right flip pairs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simreal.utils.errors import SimrealError

COCO_KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]
# COCO's skeleton, 1-based as in the COCO annotation files
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
COCO_FLIP_PAIRS = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]  # 0-based

# MPII's order (joint ids 0-15 of the MPII annotations)
MPII_KEYPOINTS = [
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist",
]
MPII_SKELETON = [[0, 1], [1, 2], [2, 6], [3, 6], [3, 4], [4, 5], [6, 7], [7, 8], [8, 9], [10, 11], [11, 12],
                 [12, 7], [13, 7], [13, 14], [14, 15]]  # 0-based
MPII_FLIP_PAIRS = [[0, 5], [1, 4], [2, 3], [10, 15], [11, 14], [12, 13]]

# 21 points of one hand, in the order of OpenPose's and MediaPipe's hand models: the wrist, then each finger
# from its base to its tip (thumb: carpometacarpal, metacarpophalangeal and interphalangeal joints; the other
# fingers: metacarpophalangeal, proximal and distal interphalangeal joints)
HAND_KEYPOINTS = ["wrist"] + [f"{finger}_{joint}" for finger, joints in (
    ("thumb", ("cmc", "mcp", "ip", "tip")), *((f, ("mcp", "pip", "dip", "tip")) for f in ("index", "middle", "ring",
                                                                                          "little")))
    for joint in joints]
HAND_SKELETON = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11],
                 [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20]]  # 0-based


@dataclass(frozen=True)
class KeypointSet:
    name: str
    names: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]  # 0-based joint pairs
    flip_pairs: tuple[tuple[int, int], ...]
    field: str  # the person field holding these keypoints

    @property
    def channels(self) -> int:
        return len(self.names) + 1 + 2 * len(self.limbs)

    def flip_permutation(self) -> np.ndarray:
        perm = np.arange(len(self.names))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


KEYPOINT_SETS = {
    "coco": KeypointSet("coco", tuple(COCO_KEYPOINTS), tuple((a - 1, b - 1) for a, b in COCO_SKELETON),
                        tuple(map(tuple, COCO_FLIP_PAIRS)), "keypoints"),
    "mpii": KeypointSet("mpii", tuple(MPII_KEYPOINTS), tuple(map(tuple, MPII_SKELETON)),
                        tuple(map(tuple, MPII_FLIP_PAIRS)), "keypoints_mpii"),
}


def keypoint_set(name: str) -> KeypointSet:
    if name not in KEYPOINT_SETS:
        raise SimrealError(f"unknown keypoint set {name!r}; available: {', '.join(KEYPOINT_SETS)}")
    return KEYPOINT_SETS[name]
