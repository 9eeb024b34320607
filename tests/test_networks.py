"""Network shapes, conditioning, preconditioning and receptive field."""

import pytest
import torch

from diffgen_lib.diffusion import EDMPrecond, edm_coefficients
from diffgen_lib.networks import (MLPDenoiser, UNet, count_parameters, receptive_field,
                                  resolve_device)

torch.set_num_threads(2)


def _randomize(net, seed=0):
    """Non-zero weights everywhere (the output layers start at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return net


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 14, 14), (1, 28, 28), (3, 32, 32), (1, 7, 7)])
@pytest.mark.parametrize("levels", [(1,), (1, 2), (1, 2, 2)])
def test_unet_output_shape(shape, levels):
    net = UNet(shape, channels=8, channel_mult=levels, n_classes=10)
    x = torch.randn(2, *shape)
    c_noise = torch.tensor([-1.0, 0.5])
    assert net(x, c_noise, torch.tensor([3, 9])).shape == x.shape
    assert net(x, c_noise, None).shape == x.shape


def test_unet_attention_blocks_and_kernel():
    net = UNet((3, 32, 32), channels=8, channel_mult=(1, 2, 2), num_blocks=2, kernel_size=5,
               attention=True)
    x = torch.randn(2, 3, 32, 32)
    assert net(x, torch.zeros(2)).shape == x.shape
    with pytest.raises(ValueError, match="kernel_size must be an odd int"):
        UNet((1, 8, 8), kernel_size=4)


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8), (1, 14, 14)])
def test_mlp_output_shape(shape):
    net = MLPDenoiser(shape, width=32, depth=2, n_classes=3)
    x = torch.randn(5, *shape)
    assert net(x, torch.zeros(5), torch.tensor([0, 1, 2, 0, 1])).shape == x.shape
    assert net(x, torch.zeros(5)).shape == x.shape


@pytest.mark.parametrize("make", [
    lambda n: UNet((1, 8, 8), channels=8, n_classes=n),
    lambda n: MLPDenoiser((1, 8, 8), width=32, depth=2, n_classes=n),
])
def test_null_label_is_the_last_table_row(make):
    net = _randomize(make(4))
    x, c_noise = torch.randn(3, 1, 8, 8), torch.zeros(3)
    null = net(x, c_noise, None)
    assert torch.allclose(null, net(x, c_noise, torch.full((3,), 4)))
    assert not torch.allclose(null, net(x, c_noise, torch.zeros(3, dtype=torch.long)))
    unconditional = make(0)
    with pytest.raises(ValueError, match="unconditional"):
        unconditional(x, c_noise, torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("net", [UNet((1, 8, 8), channels=8), MLPDenoiser((1, 8, 8), width=32)])
def test_edm_precond_around_networks(net):
    denoiser = EDMPrecond(net, sigma_data=0.75)
    x, sigma = torch.randn(4, 1, 8, 8), torch.tensor([0.01, 0.5, 2.0, 50.0])
    c_skip = edm_coefficients(sigma, 0.75)[0].view(-1, 1, 1, 1)
    assert torch.allclose(denoiser(x, sigma), c_skip * x)  # zero-initialized output layers
    _randomize(net)
    out = denoiser(x, sigma)
    assert out.shape == x.shape and not torch.allclose(out, c_skip * x)
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_sigma_embedding_distinguishes_noise_levels():
    net = _randomize(UNet((1, 8, 8), channels=8))
    x = torch.randn(1, 1, 8, 8).expand(2, -1, -1, -1)
    out = net(x, torch.tensor([-1.0, -0.9]))
    assert not torch.allclose(out[0], out[1])


def test_receptive_field_follows_levels_and_kernel():
    shape = (1, 28, 28)
    local = lambda **kw: UNet(shape, channels=8, norm="pixel", **kw)  # noqa: E731
    # 8 convolutions (in, 2 encoder, 2 middle, 2 decoder, out) of size 3 at full resolution.
    assert receptive_field(local(channel_mult=(1,)), shape) == (17, 17)
    assert receptive_field(local(channel_mult=(1,), kernel_size=1), shape) == (1, 1)
    assert receptive_field(local(channel_mult=(1, 2)), shape) == (28, 28)
    assert receptive_field(UNet(shape, channels=8, channel_mult=(1,)), shape) == (28, 28)  # GroupNorm


def test_default_size_device_and_parameter_count():
    assert 350_000 < count_parameters(UNet((1, 8, 8))) < 600_000
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_unet_on_cuda_matches_cpu():
    net = _randomize(UNet((1, 14, 14), channels=8, n_classes=3))
    x, c_noise, labels = torch.randn(4, 1, 14, 14), torch.zeros(4), torch.tensor([0, 1, 2, 0])
    cpu = net(x, c_noise, labels)
    gpu = net.cuda()(x.cuda(), c_noise.cuda(), labels.cuda()).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-2, rtol=1e-2)  # TF32 convolutions on GPU
