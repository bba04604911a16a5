"""SimGAN configuration: one frozen dataclass tree, and the named presets (configs, not code paths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from simreal.refine.networks import EYE_LAYERS, HAND_LAYERS
from simreal.utils.config import merge
from simreal.utils.errors import ConfigError


@dataclass(frozen=True)
class RefinerConfig:
    width: int = 64  # feature maps in every conv
    blocks: int = 4  # ResNet blocks
    kernel: int = 3  # k of the k×k convs
    norm: Literal["none", "batch", "instance"] = "none"
    noise_channels: int = 0  # beyond the paper: N(0, 1) noise maps as extra inputs (0 = the paper's R)
    padding: Literal["zeros", "reflect", "replicate"] = "zeros"  # the convs' border rule (the paper: unstated)


@dataclass(frozen=True)
class DiscriminatorConfig:
    layers: tuple[str, ...] = EYE_LAYERS  # "conv:C:K:S" / "maxpool:K:S"; the last is conv:2:1:1
    global_: bool = False  # average the logits over the image (the ablation's global D)


@dataclass(frozen=True)
class LossConfig:
    reg_weight: float = 0.5  # λ of Eq. 4, in units of the chosen reductions
    psi: Literal["identity", "mean_channels", "downsample", "blur"] = "identity"
    psi_scale: float = 2.0  # pooling factor (downsample) or σ in pixels (blur)
    reduction: Literal["mean", "sum"] = "mean"  # of both terms: mean per patch/pixel, or sum (the paper)
    label_consistency: float = 0.0  # weight of CE(C(R(x)), y) with a frozen task net C (0 = off)


@dataclass(frozen=True)
class OptimConfig:
    name: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.001  # the paper's constant SGD learning rate
    momentum: float = 0.0
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass(frozen=True)
class RefineConfig:
    """Everything Algorithm 1 needs. ``kg`` defaults to 2: the paper says both "twice" and
    "Kg is set to 50" for the eyes (section 3.1) and Kg = 2 for the hands (section 3.2)."""

    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 512
    buffer_size: int = 8192  # B; the paper does not give it
    use_buffer: bool = True
    pretrain_refiner_steps: int = 1000
    pretrain_discriminator_steps: int = 200
    iterations: int = 10000  # T of Algorithm 1
    kg: int = 2
    kd: int = 1
    seed: int = 0
    device: str = "auto"
    channels_last: bool = True
    # torch.compile: 1.75× vs 1.62× for channels_last alone on the paper-gaze iteration (2-core CPU, see
    # benchmarks/bench_refiner.py) but ~55 s of warm-up, so on for the paper presets, off for short runs.
    compile: bool = False
    log_every: int = 50
    grid_every: int = 500
    checkpoint_every: int = 1000


#: λ of the paper presets. The paper sums both terms over an image (Eq. 4: cross-entropy over the patches,
#: L1 over the pixels) and gives no value for λ; simreal takes λ = 0.5 × patches / pixels, which keeps the
#: balance of λ = 0.5 between per-patch and per-pixel means: eyes 35×55 → 9×14 patches, hands 224×224 → 7×7.
PAPER_GAZE_LAMBDA = 0.5 * (9 * 14) / (35 * 55)
PAPER_HAND_LAMBDA = 0.5 * (7 * 7) / (224 * 224)

# 8×8 UCI-style digits (the built-in demo); chosen by the study in the README.
DIGITS: dict[str, Any] = {
    "refiner": {"width": 32, "blocks": 2},
    "discriminator": {"layers": ("conv:64:3:1", "conv:64:3:2", "conv:32:3:1", "conv:32:1:1", "conv:2:1:1")},
    "loss": {"reg_weight": 0.1, "label_consistency": 1.0},
    "optim": {"name": "adam", "lr": 0.0002},
    "batch_size": 128,
    "buffer_size": 2048,
    "pretrain_refiner_steps": 200,
    "pretrain_discriminator_steps": 100,
    "iterations": 1000,
    "log_every": 25,
    "grid_every": 250,
    "checkpoint_every": 250,
}

PRESETS: dict[str, dict] = {
    # Section 3.1: 55×35 grey eyes, 4 blocks of 3×3 convs with 64 maps, batch 512, SGD at 0.001, the
    # loss summed per image as Eq. 4 (and averaged over the batch).
    "paper-gaze": {"loss": {"reduction": "sum", "reg_weight": PAPER_GAZE_LAMBDA}, "compile": True},
    # Section 3.2: 224×224 depth hands, 10 blocks of 7×7, its own D, R pre-trained 500 steps.
    "paper-hand": {
        "refiner": {"blocks": 10, "kernel": 7},
        "discriminator": {"layers": HAND_LAYERS},
        "loss": {"reduction": "sum", "reg_weight": PAPER_HAND_LAMBDA},
        "pretrain_refiner_steps": 500,
        "batch_size": 64,
        "compile": True,
    },
    # 35×55 eyes on a 2-core CPU (the built-in gaze experiment): the paper's discriminator, a refiner with
    # 2 blocks of 32 maps and one noise input channel (the target has sensor noise), batch 32, Adam,
    # ~2 min of training. `simreal experiment gaze` compares it with the noise-free refiner.
    "eyes-cpu": {
        "refiner": {"width": 32, "blocks": 2, "noise_channels": 1},
        "optim": {"name": "adam", "lr": 0.0002},
        "batch_size": 32,
        "buffer_size": 2048,
        "pretrain_refiner_steps": 100,
        "pretrain_discriminator_steps": 50,
        "iterations": 400,
        "log_every": 25,
        "grid_every": 100,
        "checkpoint_every": 100,
    },
    # depth hands on a 2-core CPU (crops of 128 px: `generate hands --set size=128`): the eyes-cpu refiner (2
    # blocks of 32 maps, a noise input channel: the sensor is random), λ = 1, and a discriminator whose first
    # layer has stride 1 (the paper's hand D, 7×7 stride 4 first, let the refiner paint noise texture: README,
    # Hands), batch 16, Adam; ~9.5 min
    "hands-cpu": {
        "refiner": {"width": 32, "blocks": 2, "noise_channels": 1},
        "discriminator": {"layers": ("conv:64:3:1", "conv:64:3:2", "maxpool:3:2", "conv:32:3:2", "conv:32:1:1",
                                     "conv:2:1:1")},
        "loss": {"reg_weight": 1.0},
        "optim": {"name": "adam", "lr": 0.0002},
        "batch_size": 16,
        "buffer_size": 2048,
        "pretrain_refiner_steps": 100,
        "pretrain_discriminator_steps": 50,
        "iterations": 300,
        "log_every": 25,
        "grid_every": 100,
        "checkpoint_every": 100,
    },
    "digits": DIGITS,
    # 28×28 MNIST-style digits: the digits refiner (11×11 receptive field) and a discriminator whose patches
    # (a 7×7 grid, 19 px receptive field) judge strokes more than the digit's shape; batch 32 for a 2-core CPU
    "mnist": {**DIGITS,
              "discriminator": {"layers": ("conv:32:3:2", "conv:64:3:2", "conv:64:3:1", "conv:32:1:1", "conv:2:1:1")},
              "batch_size": 32, "iterations": 800, "grid_every": 200, "checkpoint_every": 200},
}


def preset(name: str) -> RefineConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return merge(RefineConfig(), PRESETS[name])
