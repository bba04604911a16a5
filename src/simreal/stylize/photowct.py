"""PhotoWCT (Li et al. 2018, the stylization step of FastPhotoStyle), for users who have its weights.

Four VGG-19 encoders (to relu1_1, relu2_1, relu3_1 and relu4_1, each after a 1×1 colour conv, with reflection
padding and max-pooling that remembers where the maxima were) and four decoders that mirror them, unpooling
to those places instead of upsampling (what makes the result photorealistic). The content image goes through
level 4, its features are whitened and coloured with the style's (WCT) inside each matching region, it is
decoded, and the same is done at levels 3, 2 and 1 on the result.

The weights are never downloaded: ``vgg_weights`` is a file you give (a safetensors file, or a weights-only
torch state dict such as FastPhotoStyle's ``photo_wct.pth``; keys ``e1.conv0.weight`` … ``d4.conv1_1.bias``).
Nothing is unpickled. simreal's own default (:mod:`~simreal.stylize.colour`) needs no weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simreal.utils.checkpoint import read_weights
from simreal.utils.errors import CheckpointError

# (name, in, out) of the VGG-19 convs up to relu4_1, with the pools between them
ENCODER = [("conv1_1", 3, 64), ("conv1_2", 64, 64), "pool1", ("conv2_1", 64, 128), ("conv2_2", 128, 128), "pool2",
           ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256), ("conv3_4", 256, 256), "pool3",
           ("conv4_1", 256, 512)]
DECODER = [("conv4_1", 512, 256), "pool3", ("conv3_4", 256, 256), ("conv3_3", 256, 256), ("conv3_2", 256, 256),
           ("conv3_1", 256, 128), "pool2", ("conv2_2", 128, 128), ("conv2_1", 128, 64), "pool1", ("conv1_2", 64, 64),
           ("conv1_1", 64, 3)]
LEVEL_CONV = {1: "conv1_1", 2: "conv2_1", 3: "conv3_1", 4: "conv4_1"}  # where encoder L ends and decoder L starts
MIN_PIXELS = 10  # a region is transferred where both sides have more feature pixels than this (FastPhotoStyle's)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3)


class Encoder(nn.Module):
    def __init__(self, level: int):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 3, 1)
        end = next(i for i, s in enumerate(ENCODER) if s[0] == LEVEL_CONV[level])
        self.steps = [s if isinstance(s, str) else s[0] for s in ENCODER[: end + 1]]
        for s in ENCODER[: end + 1]:
            if not isinstance(s, str):
                self.add_module(s[0], _conv(s[1], s[2]))

    def forward(self, x: torch.Tensor, keep: bool = False):
        """Features at the level's end, the pools' (indices, input size), and with ``keep`` the features after
        each relu_1 on the way (relu1_1, relu2_1, ...)."""
        x = self.conv0(x)
        pools, kept = {}, []
        for s in self.steps:
            if s.startswith("pool"):
                pools[s] = x.shape[-2:]
                x, pools[s + "_idx"] = F.max_pool2d(x, 2, 2, return_indices=True)
            else:
                x = F.relu(getattr(self, s)(F.pad(x, (1, 1, 1, 1), mode="reflect")))
                if s.endswith("_1"):
                    kept.append(x)
        return (x, pools, kept) if keep else (x, pools)


class Decoder(nn.Module):
    def __init__(self, level: int):
        super().__init__()
        start = next(i for i, s in enumerate(DECODER) if s[0] == LEVEL_CONV[level])
        self.steps = [s if isinstance(s, str) else s[0] for s in DECODER[start:]]
        for s in DECODER[start:]:
            if not isinstance(s, str):
                self.add_module(s[0], _conv(s[1], s[2]))

    def forward(self, x: torch.Tensor, pools: dict) -> torch.Tensor:
        for s in self.steps:
            if s.startswith("pool"):
                x = F.max_unpool2d(x, pools[s + "_idx"], 2, 2, output_size=pools[s])
            else:
                x = getattr(self, s)(F.pad(x, (1, 1, 1, 1), mode="reflect"))
                x = x if s == "conv1_1" else F.relu(x)
        return x


class PhotoWCT(nn.Module):
    def __init__(self):
        super().__init__()
        for level in (1, 2, 3, 4):
            self.add_module(f"e{level}", Encoder(level))
            self.add_module(f"d{level}", Decoder(level))

    @torch.no_grad()
    def forward(self, content: torch.Tensor, style: torch.Tensor, content_labels: np.ndarray,
                style_labels: np.ndarray) -> torch.Tensor:
        """``content`` (1, 3, H, W) and ``style`` in [0, 1], label maps (0: not transferred; 1, 2, ...: regions,
        each also part of the whole person) → the stylized content image (1, 3, H, W)."""
        style_feats = self.e4(style, keep=True)[2]  # relu1_1 … relu4_1
        x = content
        for level in (4, 3, 2, 1):
            feats, pools = getattr(self, f"e{level}")(x)
            feats = regional_wct(feats[0], style_feats[level - 1][0], content_labels, style_labels)
            x = getattr(self, f"d{level}")(feats[None], pools)
        return x


def wct(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Whitening and colouring transform of (C, N) content features with (C, M) style features: the result has
    the style's mean and (up to the identity added to the content's covariance, as in Li et al.) covariance."""
    def eig(f: torch.Tensor, add: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean = f.mean(1, keepdim=True)
        f = f - mean
        cov = f @ f.T / max(f.shape[1] - 1, 1) + add * torch.eye(f.shape[0], dtype=f.dtype, device=f.device)
        w, v = torch.linalg.eigh(cov.double())
        keep = w > eps
        return mean, w[keep], v[:, keep]

    c_mean, cw, cv = eig(content, 1.0)
    s_mean, sw, sv = eig(style, 0.0)
    whiten = (cv * cw.rsqrt()) @ cv.T
    colour = (sv * sw.sqrt()) @ sv.T
    return (colour @ whiten @ (content - c_mean).double()).to(content.dtype) + s_mean


def _at(labels: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """A label map resized to ``shape`` (nearest), flattened."""
    import cv2

    return torch.from_numpy(cv2.resize(labels.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST)
                            .reshape(-1).astype(np.int64))


def regional_wct(content: torch.Tensor, style: torch.Tensor, content_labels: np.ndarray,
                 style_labels: np.ndarray) -> torch.Tensor:
    """(C, H, W) content features with the whole person (labels > 0) and then each region (each label) whitened
    and coloured with the style's features of the same pixels, where both sides have enough of them."""
    c, h, w = content.shape
    cl, sl = _at(content_labels, (h, w)), _at(style_labels, style.shape[1:])
    cf, sf = content.reshape(c, -1), style.reshape(style.shape[0], -1)
    out = cf.clone()
    regions = [k for k in np.unique(content_labels) if k > 0]
    groups = [(cl > 0, sl > 0)] + ([(cl == k, sl == k) for k in regions] if len(regions) > 1 else [])
    for cm, sm in groups:
        if cm.sum() > MIN_PIXELS and sm.sum() > MIN_PIXELS:
            out[:, cm] = wct(cf[:, cm], sf[:, sm])
    return out.reshape(c, h, w)


@lru_cache(maxsize=2)
def load_photowct(path: str, device: str) -> PhotoWCT:
    """PhotoWCT with the weights of the file ``path`` (safetensors, or a weights-only torch state dict)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: PhotoWCT weights file not found (simreal never downloads weights)")
    model = PhotoWCT()
    missing, unexpected = model.load_state_dict(read_weights(p), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{p}: not PhotoWCT weights ({len(missing)} missing keys, e.g. "
                              f"{missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]})")
    return model.eval().to(device)


@dataclass(frozen=True)
class FeatureStyle:
    """A style for PhotoWCT: the style image (work size, uint8) and its region labels (0: not a person)."""

    image: np.ndarray
    labels: np.ndarray


def photowct_transfer(small: np.ndarray, labels: np.ndarray, style: FeatureStyle, weights: str) -> np.ndarray:
    """``small`` (H, W, 3 uint8) stylized by PhotoWCT inside ``labels`` > 0: float (H, W, 3) in [0, 1]."""
    from simreal.utils.seeding import pick_device

    device = str(pick_device("auto"))
    model = load_photowct(str(weights), device)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).permute(2, 0, 1)[None].float().div(255).to(device)

    out = model(tensor(small), tensor(style.image), labels, style.labels)
    return out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
