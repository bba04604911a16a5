"""Refiner, PatchDiscriminator and SimGAN losses."""

from __future__ import annotations

import pytest
import torch

from simreal.refine.losses import (
    REAL,
    REFINED,
    feature_transform,
    local_adversarial_loss,
    self_regularization_loss,
)
from simreal.refine.networks import EYE_LAYERS, HAND_LAYERS, PatchDiscriminator, Refiner
from simreal.utils.errors import ConfigError, InputError


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("channels", "size"), [(1, (35, 55)), (3, (17, 9)), (1, (8, 8))])
def test_refiner_keeps_shape_and_range(channels, size):
    r = Refiner(channels, width=8, blocks=2, kernel=3)
    x = torch.rand((2, channels, *size), generator=_gen()) * 2 - 1
    y = r(x)
    assert y.shape == x.shape and y.abs().max() <= 1


def test_refiner_has_no_striding_or_pooling_and_reports_receptive_field():
    r = Refiner(1, width=64, blocks=4, kernel=3)
    convs = [m for m in r.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.stride == (1, 1) for c in convs)
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.BatchNorm2d)) for m in r.modules())
    assert len(convs) == 1 + 2 * 4 + 1 and convs[-1].kernel_size == (1, 1)
    assert r.receptive_field == 19
    # Empirically: a pixel change moves outputs only within the receptive field.
    x = torch.zeros(1, 1, 41, 41, requires_grad=True)
    r(x)[0, 0, 20, 20].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert rows.max() - rows.min() + 1 <= r.receptive_field


def test_reflect_padding_leaves_no_border_on_a_flat_image():
    flat = torch.full((1, 1, 20, 24), 0.3)
    for padding, bordered in (("zeros", True), ("reflect", False), ("replicate", False)):
        torch.manual_seed(0)
        y = Refiner(1, width=8, blocks=2, kernel=3, padding=padding)(flat)
        inner = y[0, 0, 6:-6, 6:-6]  # out of the border's reach (receptive field 11): alike for all
        assert torch.allclose(inner, inner.flatten()[0].expand_as(inner), atol=1e-6)
        assert ((y - inner.flatten()[0]).abs().max() > 1e-4) == bordered, padding
    with pytest.raises(ConfigError, match="unknown refiner padding"):
        Refiner(1, 8, 1, padding="circular")


def test_refiner_rejects_wrong_channels():
    with pytest.raises(InputError, match=r"expects \(B, 1, H, W\)"):
        Refiner(1, width=4, blocks=1)(torch.zeros(1, 3, 8, 8))


def test_eye_discriminator_layers_and_patch_map():
    d = PatchDiscriminator(1, EYE_LAYERS)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (96, 3, 2), (64, 3, 2), (32, 3, 1), (32, 1, 1), (2, 1, 1)]
    logits = d(torch.zeros(2, 1, 35, 55))
    assert logits.shape == (2, 2, 9, 14)  # w×h local patches, 2 logits each


def test_hand_discriminator_on_224():
    d = PatchDiscriminator(1, HAND_LAYERS)
    assert d(torch.zeros(1, 1, 224, 224)).shape == (1, 2, 7, 7)  # 224 / 4 / 2 / 2 / 2


def test_discriminator_returns_raw_logits_without_final_relu():
    torch.manual_seed(0)  # the weights too: with whatever global RNG state earlier tests leave, all 4×126
    d = PatchDiscriminator(1, EYE_LAYERS)  # logits can happen to be positive
    assert not isinstance(list(d.net)[-1], torch.nn.ReLU)
    logits = torch.cat([d(torch.randn(4, 1, 35, 55, generator=_gen(i))) for i in range(4)])
    assert (logits < 0).any(), "logits must be able to go negative"


def test_global_discriminator_gives_one_decision_per_image():
    d = PatchDiscriminator(1, EYE_LAYERS, global_=True)
    assert d(torch.zeros(3, 1, 35, 55)).shape == (3, 2, 1, 1)


@pytest.mark.parametrize("make", [lambda: Refiner(1, 8, 2), lambda: PatchDiscriminator(1, EYE_LAYERS)])
def test_every_parameter_gets_a_finite_gradient(make):
    net = make()
    out = net(torch.randn(2, 1, 35, 55, generator=_gen()))
    out.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_local_adversarial_loss_sum_is_patches_times_mean():
    logits = torch.randn(4, 2, 3, 5, generator=_gen())
    mean = local_adversarial_loss(logits, REAL, "mean")
    total = local_adversarial_loss(logits, REAL, "sum")
    assert torch.allclose(total, mean * 15)
    confident_real = torch.zeros(1, 2, 2, 2)
    confident_real[:, REAL] = 20
    assert local_adversarial_loss(confident_real, REAL) < 1e-6
    assert local_adversarial_loss(confident_real, REFINED) > 10


def test_self_regularization_identity_and_psi_variants():
    x = torch.rand(2, 3, 8, 8, generator=_gen())
    assert self_regularization_loss(x, x) == 0
    shifted = x + 0.25
    assert torch.isclose(self_regularization_loss(shifted, x), torch.tensor(0.25))
    assert torch.isclose(self_regularization_loss(shifted, x, reduction="sum"), torch.tensor(0.25 * 3 * 64))
    assert feature_transform(x, "mean_channels").shape == (2, 1, 8, 8)
    assert feature_transform(x, "downsample", 2).shape == (2, 3, 4, 4)
    assert feature_transform(x, "blur", 1.0).shape == x.shape
    # A checkerboard (pure texture) is invisible to blur/downsample but not to identity.
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 0.2 - 0.1
    textured = x + checker
    assert self_regularization_loss(textured, x, "downsample", 2) < 1e-6
    assert self_regularization_loss(textured, x, "blur", 1.0) < 0.02
    assert self_regularization_loss(textured, x, "identity") > 0.09
    with pytest.raises(ConfigError, match="unknown ψ"):
        feature_transform(x, "sobel")
