"""EDM formulation: noise levels, preconditioning, sampler on Gaussian data, guidance."""

import math

import pytest
import torch
from torch import nn

from diffgen_lib import diffusion

torch.set_num_threads(2)


def test_edm_sigmas_endpoints_and_formula():
    s = diffusion.edm_sigmas(18)
    assert s.shape == (18,)
    assert s[0].item() == pytest.approx(80.0) and s[-1].item() == pytest.approx(0.002)
    assert bool((s[:-1] > s[1:]).all())
    i = 5
    ref = (80 ** (1 / 7) + i / 17 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert s[i].item() == pytest.approx(ref)
    with pytest.raises(ValueError):
        diffusion.edm_sigmas(0)


def test_log_sigma_grid():
    g = diffusion.log_sigma_grid()
    assert len(g) == 64 and g[0].item() == pytest.approx(0.002) and g[-1].item() == pytest.approx(80)
    assert torch.allclose(g.log().diff(), g.log().diff()[:1].expand(63))


def test_preconditioning_at_known_sigma():
    sd = 0.5
    c_skip, c_out, c_in, c_noise = diffusion.edm_coefficients(torch.tensor([sd]), sd)
    assert c_skip.item() == pytest.approx(0.5)
    assert c_out.item() == pytest.approx(sd / math.sqrt(2))
    assert c_in.item() == pytest.approx(1 / (sd * math.sqrt(2)))
    assert c_noise.item() == pytest.approx(math.log(sd) / 4)
    # lambda(sigma) = 1 / c_out^2: the effective target of F has unit weight
    assert diffusion.loss_weight(torch.tensor([0.7]), sd).item() == pytest.approx(
        1 / diffusion.edm_coefficients(torch.tensor([0.7]), sd)[1].item() ** 2)


class _Zero(nn.Module):
    def forward(self, x, c_noise, labels=None):
        return torch.zeros_like(x)


def test_precond_with_zero_network_is_c_skip_scaling():
    d = diffusion.EDMPrecond(_Zero(), sigma_data=0.5)
    x = torch.ones(3, 1, 2, 2)
    out = d(x, torch.tensor([0.5, 1.0, 2.0]))
    expected = (0.25 / (torch.tensor([0.5, 1.0, 2.0]) ** 2 + 0.25)).view(-1, 1, 1, 1)
    assert torch.allclose(out, expected.expand_as(x))


def test_per_sample_noise_independent_of_batch():
    a = diffusion.per_sample_noise([3, 4, 5], (2, 2))
    b = diffusion.per_sample_noise([5], (2, 2))
    assert torch.equal(a[2], b[0])


def _gaussian_denoiser(var):
    """Closed-form optimal denoiser of N(0, var I): D(x; s) = var / (var + s^2) x."""
    return lambda x, s: x * (var / (var + s.view(-1, *([1] * (x.ndim - 1))) ** 2))


@pytest.mark.parametrize("heun", [True, False])
def test_sampler_on_gaussian_data_reproduces_variance(heun):
    var = 0.25
    x = diffusion.generate(_gaussian_denoiser(var), seeds=range(4000), shape=(4,), n_steps=256 if not heun else 32,
                           heun=heun)
    # for Gaussian data the exact ODE map is x_0 = sqrt(var / (var + smax^2)) x_T
    assert x.var().item() == pytest.approx(var, rel=0.05)
    assert abs(x.mean().item()) < 0.02


def test_heun_is_exact_up_to_discretization_for_gaussian():
    var = 0.25
    seeds = list(range(16))
    x_t = diffusion.per_sample_noise(seeds, (3,)) * 80.0
    out = diffusion.generate(_gaussian_denoiser(var), seeds, (3,), n_steps=256)
    exact = x_t * math.sqrt(var / (var + 80.0 ** 2))
    assert torch.allclose(out, exact, rtol=1e-2, atol=1e-3)


def test_callback_sees_every_step_and_early_stop_returns_denoised():
    var = 1.0
    seen = []
    sig = diffusion.edm_sigmas(10)
    x0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 80
    den = _gaussian_denoiser(var)
    diffusion.sample(den, x0, sig, callback=lambda st: seen.append((st["i"], st["sigma"])))
    assert [i for i, _ in seen] == list(range(10))
    assert seen[3][1] == pytest.approx(sig[3].item())
    states = {}
    diffusion.sample(den, x0, sig, callback=lambda st: states.__setitem__(st["i"], st["x"]))
    early = diffusion.sample(den, x0, sig, early_stop=4)
    assert torch.allclose(early, den(states[4], torch.full((5,), sig[4].item(), dtype=torch.float64)))
    with pytest.raises(ValueError):
        diffusion.sample(den, x0, sig, early_stop=10)


def test_generate_independent_of_batch_size():
    den = _gaussian_denoiser(0.5)
    a = diffusion.generate(den, range(10), (3,), n_steps=8, batch_size=10)
    b = diffusion.generate(den, range(10), (3,), n_steps=8, batch_size=3)
    assert torch.equal(a, b)


def test_sampler_calls_the_denoiser_once_per_evaluation_on_the_whole_batch():
    calls = []

    def den(x, sigma):
        calls.append((tuple(x.shape), sigma.device, sigma.dtype, tuple(sigma.shape)))
        return 0.8 * x

    x0 = torch.randn(7, 2, 3, generator=torch.Generator().manual_seed(0)) * 80
    out = diffusion.sample(den, x0, diffusion.edm_sigmas(6))
    assert len(calls) == 2 * 6 - 1  # Heun: 2 evaluations per step, the last step Euler
    assert all(c == ((7, 2, 3), x0.device, x0.dtype, (7,)) for c in calls)
    assert out.shape == x0.shape and out.device == x0.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generate_on_cuda_matches_the_cpu():
    den = _gaussian_denoiser(0.5)
    cpu = diffusion.generate(den, range(64), (3,), n_steps=12, batch_size=32)
    gpu = diffusion.generate(den, range(64), (3,), n_steps=12, batch_size=32, device="cuda")
    assert gpu.device.type == "cpu" and torch.allclose(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_guidance_formula():
    pos = lambda x, s: x + 1.0
    neg = lambda x, s: x - 1.0
    x = torch.zeros(2, 2)
    out = diffusion.guided(pos, neg, 0.5)(x, torch.ones(2))
    assert torch.allclose(out, torch.full((2, 2), 1.0 + 0.5 * 2.0))
    assert diffusion.guided(pos, neg, 0.0) is pos


def test_guidance_of_a_conditional_denoiser_passes_labels():
    """Classifier-free guidance calls D_neg with the NULL label (None), autoguidance with the
    same labels; the sampler passes labels through as its extra argument."""
    calls = []

    def pos(x, s, labels=None):
        return 2 * x + (0 if labels is None else labels.view(-1, 1).to(x.dtype))

    def neg(x, s, labels=None):
        calls.append(labels)
        return x

    x, s, lab = torch.ones(2, 3), torch.ones(2), torch.tensor([1, 5])
    cfg = diffusion.guided(pos, pos, 1.5, null_negative=True)
    # D_pos = 2 + l, D_neg(null) = 2: D_w = 2 + l + 1.5 l
    assert torch.allclose(cfg(x, s, lab), torch.tensor([[4.5] * 3, [14.5] * 3]))
    auto = diffusion.guided(pos, neg, 2.0)
    assert torch.allclose(auto(x, s, lab), torch.tensor([[7.0] * 3, [19.0] * 3]))  # (2+l) + 2 (1+l)
    assert calls[-1] is lab
    with pytest.raises(ValueError, match="weight"):
        diffusion.guided(pos, neg, -1.0)
    seen = []
    out = diffusion.sample(lambda x, s, labels: seen.append(labels) or x * 0 + labels.view(-1, 1),
                           torch.zeros(2, 3), diffusion.edm_sigmas(4), extra_args={"labels": lab})
    assert all(v is lab for v in seen) and torch.allclose(out, lab.view(-1, 1).float().expand(2, 3))
    with pytest.raises(ValueError, match="one label per seed"):
        diffusion.generate(pos, range(3), (3,), 4, labels=lab)


def test_edm_loss_is_per_sample_and_weighted():
    d = diffusion.EDMPrecond(_Zero(), sigma_data=0.5)
    y = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([0.1, 0.5, 1.0, 5.0])
    noise = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(2))
    loss = diffusion.edm_loss(d, y, sigma, noise)
    x = y + sigma.view(-1, 1, 1, 1) * noise
    manual = diffusion.loss_weight(sigma, 0.5) * ((d(x, sigma) - y) ** 2).flatten(1).mean(1)
    assert loss.shape == (4,) and torch.allclose(loss, manual)
