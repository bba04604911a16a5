"""The OpenPose network (Cao et al., CVPR 2017): VGG-19 up to conv4_2, two CPM layers, then T stages of a
PAF branch and a confidence-map branch with intermediate supervision.

- Feature extractor F: VGG-19 conv1_1 … conv4_2 (10 convs 3×3, max-pools after conv1_2, conv2_2 and conv4_4
  positions of VGG, so stride 8), then conv4_3_CPM (256) and conv4_4_CPM (128); ReLU everywhere.
- Stage 1, per branch: three conv 3×3 (128), conv 1×1 (512), conv 1×1 (outputs).
- Stage t ≥ 2, per branch, on concat(F, PAFs, maps): five conv ``kernel``×``kernel`` (128; paper: 7), conv
  1×1 (128), conv 1×1 (outputs).

``width`` scales every hidden width (the ``small`` preset trains on a CPU). The "first k layers" that the
synthetic-humans paper freezes are the first k convs of F (:attr:`OpenPose.frozen_prefix`).
Initial VGG weights load from a file the user gives (:func:`load_vgg_weights`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from simreal.utils.checkpoint import read_weights
from simreal.utils.errors import CheckpointError

VGG_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512)  # conv1_1 … conv4_2


@dataclass(frozen=True)
class OpenPoseConfig:
    width: float = 1.0  # multiplies every hidden width
    stages: int = 6  # T
    stage_kernel: int = 7  # kernel of the refinement stages' convs
    stage_width: int = 128
    vgg_weights: str | None = None  # safetensors or weights-only torch file with VGG-19 features
    norm: bool = False  # batch norm after every hidden conv (beyond the paper: trains faster from scratch)


PRESETS = {"paper": OpenPoseConfig(), "small": OpenPoseConfig(width=0.25, stages=2, stage_kernel=3)}


def _conv(cin: int, cout: int, k: int, relu: bool = True, norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2)]
    if relu:
        if norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return layers


def _w(c: int, cfg: OpenPoseConfig) -> int:
    return max(8, round(c * cfg.width))


class OpenPose(nn.Module):
    """Input ``(B, 3, H, W)`` normalised RGB; output a list of ``T`` tensors ``(B, K + 1 + 2L, H/8, W/8)``
    (confidence maps then PAFs, the target layout of :mod:`~simreal.tasks.keypoints.targets`)."""

    def __init__(self, cfg: OpenPoseConfig, n_maps: int, n_pafs: int):
        super().__init__()
        self.cfg, self.n_maps, self.n_pafs = cfg, n_maps, n_pafs
        conv = functools.partial(_conv, norm=cfg.norm)
        convs: list[nn.Module] = []
        cin = 3
        for item in VGG_LAYOUT:
            if item == "M":
                convs.append(nn.MaxPool2d(2, 2))
            else:
                convs += conv(cin, _w(item, cfg), 3)
                cin = _w(item, cfg)
        self.vgg = nn.Sequential(*convs)
        self.cpm = nn.Sequential(*conv(cin, _w(256, cfg), 3), *conv(_w(256, cfg), _w(128, cfg), 3))
        feat = _w(128, cfg)
        sw = _w(cfg.stage_width, cfg)
        self.stages = nn.ModuleList()
        for t in range(cfg.stages):
            branches = nn.ModuleList()
            for out in (n_pafs, n_maps):
                if t == 0:
                    layers = [*conv(feat, sw, 3), *conv(sw, sw, 3), *conv(sw, sw, 3),
                              *conv(sw, _w(512, cfg), 1), *conv(_w(512, cfg), out, 1, relu=False)]
                else:
                    layers = conv(feat + n_maps + n_pafs, sw, cfg.stage_kernel)
                    for _ in range(4):
                        layers += conv(sw, sw, cfg.stage_kernel)
                    layers += [*conv(sw, sw, 1), *conv(sw, out, 1, relu=False)]
                branches.append(nn.Sequential(*layers))
            self.stages.append(branches)
        self._init()

    def _init(self) -> None:
        """He initialisation for the ReLU convs (PyTorch's default shrinks activations through ~20 layers,
        leaving the first layers almost no gradient when training from scratch), small outputs."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        for branches in self.stages:
            for branch in branches:
                nn.init.normal_(branch[-1].weight, std=0.01)

    def vgg_convs(self) -> list[nn.Conv2d]:
        return [m for m in self.vgg if isinstance(m, nn.Conv2d)]

    def features(self, x: torch.Tensor, frozen_layers: int = 0, detach: torch.Tensor | None = None) -> torch.Tensor:
        """F(x). With ``detach`` (a bool per sample), the output of the first ``frozen_layers`` convs is
        detached for those samples, so those layers learn from the other samples only."""
        convs_seen = 0
        for m in self.vgg:
            x = m(x)
            if isinstance(m, nn.ReLU):
                convs_seen += 1
                if detach is not None and convs_seen == frozen_layers:
                    x = torch.where(detach[:, None, None, None], x.detach(), x)
        return self.cpm(x)

    def forward(self, x: torch.Tensor, frozen_layers: int = 0, detach: torch.Tensor | None = None
                ) -> list[torch.Tensor]:
        f = self.features(x, frozen_layers, detach)
        outs, h = [], f
        for t, (paf_branch, map_branch) in enumerate(self.stages):
            pafs, maps = paf_branch(h), map_branch(h)
            y = torch.cat([maps, pafs], dim=1)
            outs.append(y)
            if t + 1 < len(self.stages):
                h = torch.cat([f, maps, pafs], dim=1)
        return outs


def load_vgg_weights(model: OpenPose, path: str | Path) -> int:
    """Copy the first convs' weights from a VGG-19 state dict (safetensors, or a weights-only torch file;
    keys like torchvision's ``features.0.weight``) into ``model``'s VGG part, in order; returns the number
    of convs loaded. Shapes must match (use ``width = 1``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: VGG weights file not found")
    state = read_weights(path)
    weights = [k for k in state if k.endswith("weight") and state[k].ndim == 4]
    weights.sort(key=lambda k: [int(p) if p.isdigit() else p for p in k.replace(".", " ").split()])
    convs = model.vgg_convs()
    if len(weights) < len(convs):
        raise CheckpointError(f"{path}: {len(weights)} conv weights, the VGG part needs {len(convs)}")
    with torch.no_grad():
        for conv, key in zip(convs, weights, strict=False):
            w, b = state[key], state.get(key[: -len("weight")] + "bias")
            if w.shape != conv.weight.shape:
                raise CheckpointError(f"{path}: {key} has shape {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            if b is not None:
                conv.bias.copy_(b)
    return len(convs)
