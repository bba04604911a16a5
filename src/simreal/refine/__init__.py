"""SimGAN: refiner, patch discriminator, losses, history buffer, Algorithm 1, and dataset refinement."""

from simreal.refine.buffer import ImageHistoryBuffer
from simreal.refine.config import PRESETS, RefineConfig, preset
from simreal.refine.losses import feature_transform, local_adversarial_loss, self_regularization_loss
from simreal.refine.networks import PatchDiscriminator, Refiner

__all__ = [
    "PRESETS",
    "ImageHistoryBuffer",
    "PatchDiscriminator",
    "RefineConfig",
    "Refiner",
    "feature_transform",
    "local_adversarial_loss",
    "preset",
    "self_regularization_loss",
]
