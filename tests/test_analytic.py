"""Closed-form checks of the optimal and smoothed-data denoisers."""

import math

import pytest
import torch

from diffgen_lib import analytic

torch.set_num_threads(2)


def _points(n=7, d=3, seed=0, dtype=torch.float64):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_one_training_point_is_returned():
    y = torch.tensor([[1.5, -2.0, 0.25]], dtype=torch.float64)
    x = _points(5)
    for sigma in (1e-3, 0.5, 80.0):
        assert torch.allclose(analytic.optimal_denoiser(x, sigma, y), y.expand(5, -1))


def test_weights_sum_to_one_and_match_softmax_of_distances():
    train, x = _points(9), _points(4, seed=1)
    sigma = torch.tensor([0.3, 1.0, 3.0, 10.0], dtype=torch.float64)
    w = analytic.posterior_weights(x, sigma, train)
    assert torch.allclose(w.sum(1), torch.ones(4, dtype=torch.float64))
    ref = torch.softmax(-torch.cdist(x, train) ** 2 / (2 * sigma[:, None] ** 2), dim=1)
    assert torch.allclose(w, ref, atol=1e-12)
    assert torch.allclose(analytic.optimal_denoiser(x, sigma, train), w @ train, atol=1e-12)


def test_tiny_sigma_maps_noised_training_point_to_itself():
    train = _points(50, d=8, dtype=torch.float32)
    x = train + 1e-4 * _points(50, d=8, seed=3, dtype=torch.float32)
    assert torch.allclose(analytic.optimal_denoiser(x, 1e-4, train), train, atol=1e-6)


def test_huge_sigma_gives_the_mean():
    train = _points(20)
    out = analytic.optimal_denoiser(_points(3, seed=5), 1e4, train)
    assert torch.allclose(out, train.mean(0).expand(3, -1), atol=1e-6)


def test_stats_entropy_and_max_weight_against_full_weights():
    train, x = _points(30, d=4), _points(6, d=4, seed=2)
    for sigma in (0.2, 1.0, 5.0):
        w = analytic.posterior_weights(x, sigma, train)
        stats = analytic.posterior_stats(x, sigma, train)
        entropy = -(w * w.clamp_min(1e-300).log()).sum(1)
        assert torch.allclose(stats.max_weight, w.max(1).values, atol=1e-10)
        assert torch.allclose(stats.entropy, entropy, atol=1e-8)


def test_chunked_pass_equals_unchunked(monkeypatch):
    train, x = _points(300, d=5, dtype=torch.float32), 3 * _points(40, d=5, seed=4, dtype=torch.float32)
    full = analytic.posterior_stats(x, 0.7, train)
    full_mean = analytic.optimal_denoiser(x, 0.7, train)
    full_log_density = analytic.log_density(x, 0.7, train)
    monkeypatch.setattr(analytic, "MIN_ROWS", 1)
    # one query and 3 column chunks a pass (combined by online softmax); 13 queries, one column chunk
    for pairs, shape in ((128, (1, 128)), (4096, (13, 300))):
        monkeypatch.setattr(analytic, "MAX_PAIRS_PER_CHUNK", pairs)
        monkeypatch.setattr(analytic, "MEMORY_PAIRS", pairs)
        assert analytic.chunk_shape(40, 300) == shape
        chunked = analytic.posterior_stats(x, 0.7, train)
        assert torch.allclose(full.mean, chunked.mean, atol=1e-5)
        assert torch.allclose(full.entropy, chunked.entropy, atol=1e-4)
        assert torch.allclose(full.max_weight, chunked.max_weight, atol=1e-5)
        assert torch.allclose(full.log_norm, chunked.log_norm, atol=1e-4)
        assert torch.allclose(full_mean, analytic.optimal_denoiser(x, 0.7, train), atol=1e-5)
        assert torch.allclose(full_log_density, analytic.log_density(x, 0.7, train), atol=1e-4)


def test_chunks_respect_the_memory_cap():
    for m, n in ((10, 3), (1024, 1000), (4096, 20000), (10**6, 10**5), (10, 10**8)):
        rows, cols = analytic.chunk_shape(m, n)
        assert 1 <= rows <= m and 1 <= cols <= n and rows * cols <= analytic.MEMORY_PAIRS
    assert analytic.chunk_shape(1024, 1000)[1] == 1000  # all training points in one chunk


def test_denoiser_matches_softmax_weights_at_all_noise_levels():
    """Against the full softmax in float64, where thresholding and chunking show up at the 1e-10
    level; in float32 the logits' rounding (relative eps of logits up to ~1e4 at sigma = 0.03)
    limits the agreement to ~1e-4."""
    train = torch.rand(500, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = train[:300] + 0.2 * _points(300, d=16, seed=2)
    for sigma in (0.03, 0.1, 0.3, 3.0):
        ref = analytic.posterior_weights(x, sigma, train) @ train
        assert torch.allclose(analytic.optimal_denoiser(x, sigma, train), ref, atol=1e-10)
        out = analytic.optimal_denoiser(x.float(), sigma, train.float())
        assert torch.allclose(out.double(), ref, atol=2e-4)


def test_negligible_weights_are_exactly_zero():
    """Two points 0 and 1 and a query at 0: the far point's weight relative to the near one is
    2^-bits. Below eps / N (2^-24 for float32 and N = 2) it is dropped exactly; above, it counts."""
    train, x = torch.tensor([[0.0], [1.0]]), torch.zeros(1, 1)
    for bits in (10, 40):
        sigma = math.sqrt(1 / (2 * bits * math.log(2)))  # exp(-1 / (2 sigma^2)) = 2^-bits
        mean = analytic.optimal_denoiser(x, sigma, train)
        stats = analytic.posterior_stats(x, sigma, train)
        if bits == 40:
            assert mean.item() == 0.0 and stats.mean.item() == 0.0
            assert stats.max_weight.item() == 1.0 and stats.entropy.item() == 0.0
        else:
            assert mean.item() == pytest.approx(2.0 ** -bits / (1 + 2.0 ** -bits), rel=1e-5)
    # float64 has eps / N = 2^-53: the same weight 2^-40 is kept
    sigma = math.sqrt(1 / (80 * math.log(2)))
    mean64 = analytic.optimal_denoiser(x.double(), sigma, train.double())
    assert mean64.item() == pytest.approx(2.0 ** -40, rel=1e-9)


def test_repeated_calls_are_bitwise_equal():
    train, x = _points(700, d=8, dtype=torch.float32), _points(600, d=8, seed=6, dtype=torch.float32)
    first = analytic.posterior_stats(x, 0.8, train)
    again = analytic.posterior_stats(x, 0.8, train)
    for a, b in zip((first.mean, first.log_norm, first.entropy), (again.mean, again.log_norm, again.entropy)):
        assert torch.equal(a, b)
    assert torch.equal(analytic.optimal_denoiser(x, 0.8, train), analytic.optimal_denoiser(x, 0.8, train))


def test_non_contiguous_queries():
    train = _points(50, d=6, dtype=torch.float32)
    x = _points(6, d=40, seed=8, dtype=torch.float32).T  # (40, 6), column-major
    assert not x.is_contiguous()
    out = analytic.optimal_denoiser(x, 0.5, train)
    assert out.is_contiguous() and torch.equal(out, analytic.optimal_denoiser(x.contiguous(), 0.5, train))


@pytest.mark.parametrize("sigma", [1e-4, 1e-2, 1.0, 1e2, 1e4])
def test_finite_in_float32_over_the_whole_sigma_range(sigma):
    train = _points(200, d=64, dtype=torch.float32)
    x = train[:10] + sigma * _points(10, d=64, seed=9, dtype=torch.float32)
    out = analytic.optimal_denoiser(x, sigma, train)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    ld = analytic.log_density(x, sigma, train)
    assert torch.isfinite(ld).all()


def test_delta_zero_is_the_optimal_denoiser():
    train, x = _points(12, d=2), 4 * _points(8, d=2, seed=1)
    for s in (0.1, 1.0, 10.0):
        assert torch.equal(analytic.smoothed_denoiser(x, s, train, 0.0), analytic.optimal_denoiser(x, s, train))


def test_smoothed_denoiser_against_numerical_posterior_mean_on_a_grid():
    """y_delta is E[y_tilde | x] for y_tilde = y_i + delta * m, x = y_tilde + sigma * n; integrate
    over y_tilde on a fine 2-D grid."""
    train = torch.tensor([[2.0, 0.0], [-1.0, 1.5], [0.0, -2.0]], dtype=torch.float64)
    sigma, delta = 0.8, 0.6
    g = torch.linspace(-6, 6, 801, dtype=torch.float64)
    gx, gy = torch.meshgrid(g, g, indexing="xy")
    grid = torch.stack([gx.ravel(), gy.ravel()], 1)
    prior = torch.exp(-torch.cdist(grid, train) ** 2 / (2 * delta ** 2)).sum(1)
    for x in ([0.3, 0.4], [1.5, -0.5], [-2.0, 2.0]):
        x = torch.tensor([x], dtype=torch.float64)
        post = prior * torch.exp(-((grid - x) ** 2).sum(1) / (2 * sigma ** 2))
        numeric = (post[:, None] * grid).sum(0) / post.sum()
        assert torch.allclose(analytic.smoothed_denoiser(x, sigma, train, delta)[0], numeric, atol=1e-6)


def test_log_density_matches_mixture_formula():
    train, x = _points(5, d=3), _points(4, d=3, seed=7)
    sigma = 0.9
    comps = torch.distributions.MultivariateNormal(train, sigma ** 2 * torch.eye(3, dtype=torch.float64))
    ref = torch.logsumexp(comps.log_prob(x[:, None, :]), dim=1) - math.log(5)
    assert torch.allclose(analytic.log_density(x, sigma, train), ref, atol=1e-10)


def test_collapse_sigma_formula():
    # sigma_c^2 = v / (N^(2/D) - 1)
    assert analytic.collapse_sigma(100, 2, 1.0) == pytest.approx(math.sqrt(1 / 99))
    assert analytic.collapse_sigma(1000, 64, 0.25) > analytic.collapse_sigma(1000, 16, 0.25)


def test_bad_inputs_raise():
    train = _points(3)
    with pytest.raises(ValueError, match="sigma"):
        analytic.optimal_denoiser(_points(2), 0.0, train)
    with pytest.raises(ValueError, match="need x"):
        analytic.optimal_denoiser(_points(2, d=2), 1.0, train)
    with pytest.raises(ValueError, match="delta"):
        analytic.smoothed_denoiser(_points(2), 1.0, train, -1.0)
    with pytest.raises(ValueError, match="sigma must be a float"):
        analytic.optimal_denoiser(_points(2), torch.ones(3), train)
