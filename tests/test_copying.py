"""The data-copying statistic C_T (Meehan et al. 2020) on the paper's KDE family and against scipy."""

import numpy as np
import pytest
import torch

from diffgen_lib.measure import copying, metrics

torch.set_num_threads(2)


def _blobs(n: int, seed: int, d: int = 5) -> np.ndarray:
    """A mixture of four unit Gaussians in d dimensions (fixed centres), n draws."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(scale=4.0, size=(4, d))
    return centres[rng.integers(0, 4, n)] + rng.normal(size=(n, d))


@pytest.fixture(scope="module")
def data():
    train, test = _blobs(2000, 1), _blobs(1000, 2)
    spacing = float(np.median(metrics.nearest_neighbors(train, train, k=2)[0][:, 1]))
    return train, test, spacing


def test_kde_copies_are_negative_and_wide_kernels_positive(data):
    train, test, spacing = data
    copies = copying.data_copying_test(train, test, copying.kde_samples(train, spacing / 50, 1000, seed=3), k=5)
    assert copies.c_t < -3
    assert (copies.z[copies.used] < 0).all()
    wide = copying.data_copying_test(train, test, copying.kde_samples(train, 3 * spacing, 1000, seed=3), k=5)
    assert wide.c_t > 3
    # C_T increases with the bandwidth across the family
    cts = [copying.data_copying_test(train, test, copying.kde_samples(train, s * spacing, 1000, seed=3), k=5).c_t
           for s in (0.02, 0.3, 1.0, 3.0)]
    assert cts == sorted(cts)


def test_fresh_draws_give_a_small_statistic(data):
    train, test, _ = data
    res = copying.data_copying_test(train, test, _blobs(1000, 7), k=5)
    assert abs(res.c_t) < 2
    assert res.used.all() and res.k == 5
    assert res.weights.sum() == pytest.approx(1.0)
    assert res.n_train.sum() == 2000 and res.n_test.sum() == 1000 and res.n_generated.sum() == 1000
    used = res.used
    assert res.c_t == pytest.approx(res.weights[used] @ res.z[used] / res.weights[used].sum())


def test_z_matches_scipy_normal_approximation():
    from scipy.stats import mannwhitneyu, norm

    rng = np.random.default_rng(0)
    test_d, gen_d = rng.exponential(size=37), rng.exponential(size=23) * 0.7
    p = mannwhitneyu(gen_d, test_d, alternative="greater", use_continuity=False, method="asymptotic").pvalue
    assert copying.mann_whitney_z(test_d, gen_d) == pytest.approx(norm.isf(p), rel=1e-9)
    # the sign: generated closer than the test points -> negative
    assert copying.mann_whitney_z([2.0, 3.0, 4.0], [0.1, 0.2]) < 0
    # ties count one half: U = 1 / 2 of the single pair
    assert copying.mann_whitney_z([1.0], [1.0]) == pytest.approx(0.0)


def test_deterministic_with_a_seed_and_accepts_tensors(data):
    train, test, spacing = data
    gen = copying.kde_samples(train, spacing, 600, seed=5)
    a = copying.data_copying_test(train, test, gen, k=4, seed=11)
    b = copying.data_copying_test(torch.from_numpy(train), torch.from_numpy(test), torch.from_numpy(gen),
                                  k=4, seed=11)
    assert a.c_t == b.c_t
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_array_equal(a.n_test, b.n_test)
    with pytest.raises(Exception):
        a.c_t = 0.0  # frozen
    mixed = copying.data_copying_test(train.astype(np.float32), test, gen, k=4, seed=11)  # dtypes mixed
    assert mixed.c_t == pytest.approx(a.c_t, abs=0.05)


def test_threshold_excludes_sparse_cells_and_within_cell_option(data):
    train, test, _ = data
    gen = _blobs(1000, 8)
    counts = copying.data_copying_test(train, test, gen, k=5, min_generated=1).n_generated
    tau = int(np.sort(counts)[2])  # the three largest cells qualify
    res = copying.data_copying_test(train, test, gen, k=5, min_generated=tau)
    assert res.used.sum() == 3 and (res.used == (counts >= tau)).all()
    with pytest.raises(ValueError, match="no cell holds at least"):
        copying.data_copying_test(train, test, gen, k=5, min_generated=int(counts.max()) + 1)
    within = copying.data_copying_test(train, test, gen, k=5, within_cell=True)
    assert abs(within.c_t) < 2


def test_kde_samples():
    train = np.arange(12.0).reshape(4, 3)
    exact = copying.kde_samples(train, 0.0, 50, seed=1)
    assert exact.shape == (50, 3)
    assert all(any((row == t).all() for t in train) for row in exact)
    assert np.array_equal(exact, copying.kde_samples(train, 0.0, 50, seed=1))
    t = copying.kde_samples(torch.zeros(3, 1, 2, 2), 1.0, 5, seed=0)
    assert isinstance(t, torch.Tensor) and t.shape == (5, 1, 2, 2) and t.dtype == torch.float32


def test_bad_inputs():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        copying.data_copying_test(x, x, np.zeros((10, 4)), k=2)
    with pytest.raises(ValueError, match="k must be"):
        copying.data_copying_test(x, x, x, k=11)


def test_given_distances_and_a_subset_fit_keep_the_statistic(data):
    train, test, spacing = data
    gen = copying.kde_samples(train, spacing / 50, 1000, seed=3)
    full = copying.data_copying_test(train, test, gen, k=5)
    d_gen = metrics.nearest_neighbors(gen, train, k=2)[0][:, 0]
    given = copying.data_copying_test(train, test, gen, k=5, generated_distances=d_gen)
    assert given.c_t == pytest.approx(full.c_t, rel=1e-9)
    with pytest.raises(ValueError, match="generated_distances"):
        copying.data_copying_test(train, test, gen, k=5, generated_distances=d_gen[:10])
    d_test = metrics.nearest_neighbors(test, train, k=2)[0][:, 0]
    both = copying.data_copying_test(train, test, gen, k=5, generated_distances=d_gen, test_distances=d_test)
    assert both.c_t == pytest.approx(full.c_t, rel=1e-9)
    with pytest.raises(ValueError, match="test_distances"):
        copying.data_copying_test(train, test, gen, k=5, test_distances=d_test[:10])
    # k-means fitted on a seeded half of the training set: every training point still gets a cell,
    # copies stay far below 0 and fresh draws near it
    half = copying.data_copying_test(train, test, gen, k=5, fit_max=1000)
    assert half.n_train.sum() == 2000 and half.c_t < -3
    assert abs(copying.data_copying_test(train, test, _blobs(1000, 7), k=5, fit_max=1000).c_t) < 2
