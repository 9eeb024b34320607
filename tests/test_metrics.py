"""Metrics against closed forms: FD, nearest neighbours, memorization ratio, the denoising gap."""

import numpy as np
import pytest
import torch

from diffgen_lib import analytic
from diffgen_lib.measure import metrics

torch.set_num_threads(2)


def test_fd_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 6))
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_two_gaussians_matches_the_formula():
    rng = np.random.default_rng(1)
    d = 4
    a1, a2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a1 @ a1.T + 0.1 * np.eye(d), a2 @ a2.T + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    from scipy.linalg import sqrtm

    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert metrics.gaussian_frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)
    # diagonal covariances: sum (sqrt(a) - sqrt(b))^2
    da, db = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    fd = metrics.gaussian_frechet_distance(np.zeros(2), np.diag(da), np.ones(2), np.diag(db))
    assert fd == pytest.approx(2 + np.sum((np.sqrt(da) - np.sqrt(db)) ** 2))
    # and from samples, approximately
    xa = rng.multivariate_normal(mu1, s1, size=200_000)
    xb = rng.multivariate_normal(mu2, s2, size=200_000)
    assert metrics.frechet_distance(xa, xb) == pytest.approx(ref, rel=0.03)


def test_fd_handles_singular_covariances_and_rejects_non_psd():
    rng = np.random.default_rng(2)
    a = np.zeros((100, 5))
    a[:, :2] = rng.normal(size=(100, 2))  # rank 2 in 5 dimensions
    b = a + 0.5
    assert metrics.frechet_distance(a, b) == pytest.approx(5 * 0.25, rel=1e-6)
    bad = -np.eye(3)
    with pytest.raises(ValueError, match="complex"):
        metrics.gaussian_frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), bad)


def _fd_cases():
    rng = np.random.default_rng(7)
    full = (rng.normal(size=(300, 20)), rng.normal(size=(250, 20)) * 1.3 + 0.2)
    rank2 = np.zeros((100, 5))
    rank2[:, :2] = rng.normal(size=(100, 2))  # singular: rank 2 in 5 dimensions
    few = (rng.normal(size=(20, 50)), rng.normal(size=(30, 50)) + 0.1)  # singular: n < d
    return {"full rank": (*full, 1e-9), "rank 2 of 5": (rank2, rank2 + 0.5, 1e-9),
            # 30 eigenvalues of S1^(1/2) S2 S1^(1/2) are round-off (~1e-16), their square roots
            # ~1e-8: both implementations carry that error, so they agree to ~1e-9 only
            "n < d": (*few, 1e-8)}


@pytest.mark.parametrize("case", ["full rank", "rank 2 of 5", "n < d"])
def test_fd_torch_path_matches_numpy(case):
    a, b, rel = _fd_cases()[case]
    ref = metrics.frechet_distance(a, b)
    assert metrics.frechet_distance(a, b, device="cpu") == pytest.approx(ref, rel=rel)
    ta, tb = torch.from_numpy(a).float(), torch.from_numpy(b).float()  # float32 features
    ref32 = metrics.frechet_distance(ta, tb)  # CPU tensors: the NumPy path, as before
    assert ref32 == metrics.frechet_distance(ta.numpy(), tb.numpy())
    assert metrics.frechet_distance(ta, tb, device="cpu") == pytest.approx(ref32, rel=rel)
    scale = np.trace(np.cov(a, rowvar=False))
    assert abs(metrics.frechet_distance(a, a, device="cpu")) <= 1e-6 * scale
    if case == "full rank":
        assert metrics.frechet_distance(a, a, device="cpu") == pytest.approx(0.0, abs=1e-10)


def test_gaussian_stats_in_chunks_and_torch_fd_errors():
    x = np.random.default_rng(8).normal(size=(103, 6)) * 3 + 1
    mu, cov = metrics.gaussian_stats(torch.from_numpy(x).float(), chunk=10)
    assert mu.dtype == torch.float64 and cov.shape == (6, 6)
    x32 = x.astype(np.float32).astype(np.float64)
    assert np.allclose(mu.numpy(), x32.mean(0), rtol=0, atol=1e-12)
    assert np.allclose(cov.numpy(), np.cov(x32, rowvar=False), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="complex"):
        metrics.gaussian_frechet_distance(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64),
                                          torch.zeros(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="dimensions"):
        metrics.frechet_distance(x, x[:, :5], device="cpu")
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(x[:1], x, device="cpu")


def test_inference_gap_torch_path_matches_numpy():
    rng = np.random.default_rng(9)
    train, val, gen = rng.normal(size=(400, 8)), rng.normal(size=(100, 8)), rng.normal(size=(150, 8)) + 0.3
    subsets = metrics.matched_subsets(np.zeros(400, int), np.zeros(100, int), 3)
    ref = metrics.inference_gap(gen, train, val, subsets)
    dev = metrics.inference_gap(gen, torch.from_numpy(train), val, subsets, device="cpu")
    for field in ("fd_val", "fd_train", "gap", "fd_train_vs_val", "fd_train_vs_train"):
        assert getattr(dev, field) == pytest.approx(getattr(ref, field), rel=1e-9)


def test_nearest_neighbors_exact_against_brute_force():
    rng = np.random.default_rng(3)
    q, r = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(101, 5)).astype(np.float32)
    d, i = metrics.nearest_neighbors(q, r, k=3, chunk=8)
    full = np.linalg.norm(q[:, None] - r[None], axis=2)
    assert np.array_equal(i, np.argsort(full, axis=1)[:, :3])
    assert np.allclose(d, np.sort(full, axis=1)[:, :3], atol=1e-5)
    cos, ci = metrics.nearest_neighbors(q, r, k=1, metric="cosine")
    qn, rn = q / np.linalg.norm(q, axis=1, keepdims=True), r / np.linalg.norm(r, axis=1, keepdims=True)
    assert np.array_equal(ci[:, 0], np.argmax(qn @ rn.T, axis=1))
    assert np.allclose(metrics.nn_cosine_similarity(q, r), (qn @ rn.T).max(1), atol=1e-6)
    d2, i2 = metrics.nearest_neighbors(torch.from_numpy(q), r, k=3, chunk=8, device="cpu")
    assert np.array_equal(i2, i) and np.array_equal(d2, d)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_on_cuda_match_the_cpu():
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(2000, 64)), rng.normal(size=(1500, 64)) * 1.1
    ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
    assert metrics.frechet_distance(ta, tb) == pytest.approx(metrics.frechet_distance(a, b), rel=1e-9)
    q, r = torch.randn(300, 32), torch.randn(5000, 32)
    d, i = metrics.nearest_neighbors(q.cuda(), r.cuda(), k=2)
    d_cpu, i_cpu = metrics.nearest_neighbors(q, r, k=2)
    assert (i == i_cpu).mean() > 0.999 and np.allclose(d, d_cpu, atol=1e-4)
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    torch.nn.init.constant_(net.weight, 0.1)
    torch.nn.init.zeros_(net.bias)
    den = lambda x, s: net(x)
    images = torch.randn(50, 1, 8, 8)
    e_cpu = metrics.denoising_errors(den, images, [0.1, 1.0], device="cpu")
    net.cuda()
    e_gpu = metrics.denoising_errors(den, images, [0.1, 1.0], device="cuda", batch_size=16)
    assert np.allclose(e_gpu, e_cpu, rtol=1e-2)  # cuDNN convolutions may run in TF32


def test_memorization_ratio_zero_for_copies_and_copy_fraction():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(50, 16)).astype(np.float32)
    ratios = metrics.memorization_ratio(train[:10], train)
    assert np.all(ratios == 0)
    far = rng.normal(size=(10, 16)).astype(np.float32) * 5
    both = np.concatenate([metrics.memorization_ratio(far, train), ratios])
    assert metrics.copy_fraction(both) == pytest.approx(0.5)


def test_matched_subsets_keep_class_counts_and_are_disjoint():
    train_labels = np.repeat(np.arange(3), 40)
    val_labels = np.array([0] * 5 + [1] * 10 + [2] * 3)
    subsets = metrics.matched_subsets(train_labels, val_labels, n_subsets=3, seed=0)
    for s in subsets:
        assert np.array_equal(np.bincount(train_labels[s], minlength=3), [5, 10, 3])
    assert len(set(np.concatenate(subsets))) == 3 * 18
    with pytest.raises(ValueError, match="class"):
        metrics.matched_subsets(train_labels, np.zeros(41, int), 1)
    # a class too rare: with the fallback, plain random subsets of the reference's size, seeded
    rare = metrics.matched_subsets(train_labels, np.zeros(41, int), 2, seed=3, fallback=True)
    assert [len(s) for s in rare] == [41, 41] and all(len(np.unique(s)) == 41 and s.max() < 120 for s in rare)
    again = metrics.matched_subsets(train_labels, np.zeros(41, int), 2, seed=3, fallback=True)
    assert all(np.array_equal(a, b) for a, b in zip(rare, again))
    assert metrics.matched_subsets(train_labels, val_labels, 3, seed=0, fallback=True)[0].tolist() == subsets[0].tolist()


def test_inference_gap_protocol_on_known_cases():
    rng = np.random.default_rng(5)
    train, val = rng.normal(size=(400, 3)), rng.normal(size=(100, 3))
    subsets = metrics.matched_subsets(np.zeros(400, int), np.zeros(100, int), 3)
    r = metrics.inference_gap(val, train, val, subsets)       # a generator that returns the val set
    assert r.fd_val == pytest.approx(0, abs=1e-9) and r.gap == pytest.approx(-1)
    assert r.fd_train == pytest.approx(r.fd_train_vs_val)
    assert r.fd_train_vs_train > 0
    r1 = metrics.inference_gap(train[subsets[0]], train, val, subsets[:1])  # one that copies train_0
    assert r1.fd_train == pytest.approx(0, abs=1e-9) and np.isnan(r1.fd_train_vs_train)


@pytest.mark.parametrize("device", [None, "cpu"])  # NumPy, and the torch path
def test_fd_reference_reused_equals_the_one_shot_protocol(device):
    rng = np.random.default_rng(11)
    train, val = rng.normal(size=(300, 5)), rng.normal(size=(100, 5)) + 0.5
    subsets = metrics.matched_subsets(np.zeros(300, int), np.zeros(100, int), 3)
    ref = metrics.FDReference(train, val, subsets, device)
    for shift in (0.0, 0.3, 2.0):  # several generated sets against the same reference
        gen = rng.normal(size=(120, 5)) + shift
        assert ref.gap(gen) == metrics.inference_gap(gen, train, val, subsets, device=device)
    # a known square root gives the same FD, bit for bit
    mu1, s1, mu2, s2 = *ref.train_stats[0], *ref.val_stats
    assert (metrics.gaussian_frechet_distance(mu1, s1, mu2, s2, sqrt_s1=metrics.psd_sqrt(s1))
            == metrics.gaussian_frechet_distance(mu1, s1, mu2, s2))


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_denoising_errors_fixed_noise_and_optimal_denoiser_memorizes():
    g = torch.Generator().manual_seed(0)
    train, val = torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g)
    den = lambda x, s: analytic.optimal_denoiser(x, s, train)
    sig = [0.01, 0.5, 100.0]
    e_train = metrics.denoising_errors(den, train, sig, noise_seed=1)
    again = metrics.denoising_errors(den, train, sig, noise_seed=1, batch_size=7)
    assert np.allclose(e_train, again)  # same noise whatever the batching
    e_val = metrics.denoising_errors(den, val, sig, noise_seed=1)
    assert e_train[0].mean() < 1e-6 and e_val[0].mean() > 0.5  # memorizer: perfect on train only
    gap = metrics.relative_gap(e_val.mean(1), e_train.mean(1))
    assert gap[1] > 1  # at intermediate sigma the memorizer is far better on its training set


def test_denoising_errors_of_a_network_equal_a_direct_computation():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 16), torch.nn.Unflatten(1, (1, 4, 4)))
    den = lambda x, s: net(x) * (1 / (1 + s.view(-1, 1, 1, 1)))
    images = torch.randn(11, 1, 4, 4)
    sig = np.array([0.05, 0.7, 3.0])
    err = metrics.denoising_errors(den, images, sig, noise_seed=5)
    assert np.allclose(metrics.denoising_errors(den, images, sig, noise_seed=5, batch_size=4), err, rtol=1e-6)
    noise = torch.stack([torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(5 + j)) for j in range(11)])
    with torch.no_grad():
        for k, s in enumerate(sig):
            pred = den(images + float(s) * noise, torch.full((11,), float(s)))
            assert np.array_equal(err[k], ((pred - images) ** 2).flatten(1).mean(1).double().numpy())
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()


def test_overfitting_threshold_picks_validation_minimum():
    val = np.array([[3.0, 2.0], [1.0, 2.5], [2.0, 1.0]])
    train = np.array([[1.0, 1.0], [0.5, 1.0], [0.25, 0.5]])
    thr = metrics.overfitting_threshold(val, train)
    assert np.allclose(thr, [(1.0 - 0.5) / 0.5, (1.0 - 0.5) / 0.5])


def test_subset_nearest_is_exact_and_does_not_depend_on_chunks_or_threads():
    """The nearest distance within each subset equals the exact one (copies at distance 0); the
    largest cosine likewise; the values do not depend on the chunk of queries or the threads."""
    import torch
    from threadpoolctl import threadpool_limits

    g = torch.Generator().manual_seed(0)
    ref = torch.randn(400, 48, generator=g)
    query = torch.cat([ref[:7], torch.randn(93, 48, generator=g)])
    subsets = [None, np.arange(0, 400, 3), np.sort(np.random.default_rng(1).choice(400, 50, replace=False))]
    near = metrics.subset_nearest(query, ref, subsets)
    for j, s in enumerate(subsets):
        r = ref if s is None else ref[torch.as_tensor(s)]
        exact = torch.cdist(query, r, compute_mode="donot_use_mm_for_euclid_dist").min(1).values.numpy()
        np.testing.assert_allclose(near[j], exact, rtol=1e-5, atol=1e-6)
    assert (near[0, :7] == 0).all()  # exact copies of reference rows
    cos = metrics.subset_nearest(query, ref, subsets, metric="cosine")
    qn, rn = query / query.norm(dim=1, keepdim=True), ref / ref.norm(dim=1, keepdim=True)
    np.testing.assert_allclose(cos[0], (qn @ rn.T).max(1).values.numpy(), rtol=1e-5)
    assert (metrics.subset_nearest(query, ref, subsets, chunk_elements=1000) == near).all()
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            with threadpool_limits(limits=n):
                assert (metrics.subset_nearest(query, ref, subsets) == near).all()
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError):
        metrics.subset_nearest(query, ref, subsets, metric="manhattan")
