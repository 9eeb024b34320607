"""The training-gap chapter's measurements: optimal-denoiser curves, reconstructions, spacing and
the claim summaries."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import analytic, diffusion
from diffgen_lib.studies import training_gap
from diffgen_lib.data import load_splits
from diffgen_lib.measure.evaluation import NOISE_SEED, GapCurves
from diffgen_lib.studies.experiments import gap_run
from diffgen_lib.runs import TrainedRun

torch.set_num_threads(2)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    return tmp_path


def _data_only_run(config):
    """What the optimal denoiser needs of a run: its config and its data splits (no network)."""
    from types import SimpleNamespace

    return SimpleNamespace(config=config, splits=load_splits(config.dataset, config.n_train, config.n_val,
                                                             config.n_feature))


def test_optimal_curves_limits_and_cache(tmp_cache):
    from diffgen_lib.measure import evaluation

    config = gap_run(n_train=60, n_val=40, n_feature=0)
    sigmas = [0.002, 0.05, 1.0, 80.0]
    curves = evaluation.optimal_curves(_data_only_run(config), n_eval=20, sigmas=sigmas)
    assert curves.n_eval == 20 and curves.train_error.shape == (1, 4) and curves.train_errors.shape == (1, 4, 20)
    c = type("C", (), {"train_error": curves.train_error[0], "val_error": curves.val_error[0]})
    splits = load_splits("digits", 60, 40, 0)
    tr, va = splits.train.images, splits.val.images
    flat_tr = tr.reshape(60, -1).double()
    # sigma -> 0: a noisy training image is denoised to itself: error ~ 0 (far below sigma^2 = 4e-6)
    assert c.train_error[0] < 1e-8
    # ... and a noisy val image to its nearest training image: error = ||y - NN(y)||^2 / D
    nn_err = (torch.cdist(va[:20].reshape(20, -1).double(), flat_tr).min(1).values ** 2 / 64).mean()
    assert c.val_error[0] == pytest.approx(float(nn_err), rel=1e-4)
    # sigma -> inf: every image is denoised to the training mean (both sets)
    mean = flat_tr.mean(0)
    for images, err in ((tr[:20], c.train_error[-1]), (va[:20], c.val_error[-1])):
        expected = ((images.reshape(20, -1).double() - mean) ** 2).mean(1).mean()
        assert err == pytest.approx(float(expected), rel=2e-2)
    # the memorizer: val error far above train error below the spacing of the images (at sigma = 80
    # both sets are denoised to the mean, and their errors differ only by the choice of images)
    assert np.all(c.val_error[:3] > 3 * c.train_error[:3])
    assert len(list((tmp_cache / "results").glob("optimal-curves-*.pt"))) == 1
    again = evaluation.optimal_curves(_data_only_run(config), n_eval=20, sigmas=sigmas)
    np.testing.assert_array_equal(again.val_error[0], c.val_error)
    assert np.isinf(curves.gap[0, 0]) or curves.gap[0, 0] > 1e3  # the memorizer's gap is unbounded at sigma -> 0


def test_optimal_denoiser_fn_class_conditional():
    torch.manual_seed(0)
    train = torch.randn(10, 1, 2, 2, dtype=torch.float64)
    labels = torch.tensor([0, 1] * 5)
    den = analytic.image_denoiser(train, labels)
    x = train[:4] + 0.01 * torch.randn(4, 1, 2, 2, dtype=torch.float64)
    sig = torch.full((4,), 50.0)
    out = den(x, sig, labels[:4])
    # at huge sigma the conditional denoiser returns the class mean (nearly), not the global mean
    for k in range(4):
        class_mean = train[labels == labels[k]].mean(0)
        assert torch.allclose(out[k], class_mean, atol=1e-2)
    uncond = den(x, sig)
    assert torch.allclose(uncond, analytic.optimal_denoiser(x.reshape(4, -1), sig, train.reshape(10, -1)).reshape(x.shape))


class _Shrink(torch.nn.Module):
    """D(x; sigma) = x / (1 + sigma^2): a denoiser with a known output."""

    def forward(self, x, sigma, labels=None):
        return x / (1 + sigma.view(-1, 1, 1, 1) ** 2)


def _fake_run(n_train=12, n_val=8):
    splits = load_splits("digits", n_train, n_val, 0)
    config = gap_run(n_train=n_train, n_val=n_val, n_feature=0)
    return TrainedRun(config=config, splits=splits, sigma_data=splits.sigma_data,
                      snapshots={1: _Shrink(), 2: _Shrink()}, history=torch.zeros(2),
                      steps_per_second=1.0, complete=True, step=2, key="fake")


def test_reconstructions_use_the_evaluation_noise():
    run = _fake_run()
    r = training_gap.reconstructions(run, sigma=0.5, n_images=3, n_eval=8)
    n = 8
    noise_tr = diffusion.per_sample_noise([NOISE_SEED + j for j in range(3)], (1, 8, 8))
    noise_va = diffusion.per_sample_noise([NOISE_SEED + n + j for j in range(3)], (1, 8, 8))
    y_tr, y_va = run.splits.train.images[:3], run.splits.val.images[:3]
    assert torch.allclose(r.train[1], (y_tr + 0.5 * noise_tr) / 1.25, atol=1e-6)
    assert torch.allclose(r.val[2], (y_va + 0.5 * noise_va) / 1.25, atol=1e-6)
    assert r.steps == [1, 2]
    own = float((((y_tr + 0.5 * noise_tr) / 1.25 - y_tr) ** 2).flatten(1).mean(1).mean())
    assert r.train_own[1] == pytest.approx(own, rel=1e-5)
    # a perfect memorizer returns its own image for train and the nearest training image for val
    opt = analytic.image_denoiser(run.splits.train.images)
    m = training_gap.reconstructions(run, sigma=1e-3, n_images=3, n_eval=8, denoisers={"opt": opt})
    assert m.train_own["opt"] < 1e-10 and m.val_nn["opt"] < 1e-10 and m.val_own["opt"] > 1e-3
    assert m.train_nn["opt"] > 1e-3   # the own image is excluded from the "nearest other" distance


def test_distances_exclude_own_image():
    train = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]]).reshape(3, 1, 1, 2)
    recon = train[:1].clone()
    own, nn = training_gap.distances(recon, train[:1], train, torch.tensor([0]))
    assert own == 0.0 and nn == pytest.approx(0.5)   # nearest other: (0, 1), 1 / D = 1 / 2
    own, nn = training_gap.distances(recon, train[1:2], train)
    assert own == pytest.approx(4.5) and nn == 0.0


def test_spacing_closed_form():
    # training points on a line with spacing 2 (D = 4): nearest-neighbour distance 2
    train = torch.zeros(5, 1, 2, 2)
    train[:, 0, 0, 0] = torch.arange(5) * 2.0
    val = train[:3] + torch.tensor([0.0, 0.0, 0.0, 0.5]).reshape(1, 1, 2, 2)
    s = training_gap.spacing(train, val, sigma_data=1.0)
    assert s.dim == 4 and s.n_train == 5
    assert s.train_nn == pytest.approx(2.0) and s.val_nn == pytest.approx(0.5)
    assert s.per_pixel == pytest.approx(1.0)
    assert s.resolve_sigma == pytest.approx(0.5 / (2 * math.sqrt(2 * math.log(5))))


def test_peak_shape_and_seed_band():
    sig = np.geomspace(0.002, 80, 8)
    gap = np.array([0.05, 0.2, 0.6, 1.0, 0.4, 0.1, 0.02, -0.01])
    d = training_gap.peak_shape(sig, gap, margin=1)
    assert d["index"] == 3 and d["sigma"] == sig[3] and d["inside"] and d["peak"] == 1.0
    assert d["end_ratio"] == pytest.approx(0.05) and d["low_end"] == pytest.approx(0.05)
    assert d["high_end"] == pytest.approx(0.01)
    edge = training_gap.peak_shape(sig, gap[::-1] * 0 + np.arange(8), margin=1)
    assert not edge["inside"]
    band = training_gap.seed_band([gap, 2 * gap, 3 * gap])
    assert np.allclose(band["mean"], 2 * gap)
    assert np.allclose(band["min"], np.minimum(gap, 3 * gap)) and np.allclose(band["max"], np.maximum(gap, 3 * gap))


def _curves(sigmas, steps, train_errors, val_errors):
    return GapCurves(sigmas, steps, train_errors.mean(-1), val_errors.mean(-1), train_errors.shape[-1],
                     train_errors, val_errors)


def test_c2a_passes_a_growing_gap_and_its_exchanged_null_fails():
    """A gap that grows with every snapshot and peaks inside the grid passes C2a; two fresh sets
    (equal errors up to noise) do not grow and FAIL it, so the claim is decided; were the control's
    gap to grow as well, the claim could not fail and would be INCONCLUSIVE."""
    rng = np.random.default_rng(0)
    sigmas = np.geomspace(0.01, 10, 9)
    bump = np.exp(-np.log(sigmas) ** 2)  # peak at sigma = 1, near 0 at the ends
    steps = np.array([100, 200, 300])
    growing, exchanged = {}, {}
    for seed in range(3):
        tr = 1 + 0.01 * rng.random((3, 9, 40))
        growing[seed] = _curves(sigmas, steps, tr, tr * (1 + np.arange(1, 4)[:, None, None] * bump[None, :, None]))
        exchanged[seed] = _curves(sigmas, steps, tr, tr[:, :, ::-1] * (1 + 0.01 * rng.standard_normal((3, 9, 40))))
    r = training_gap.c2a(growing, exchanged)
    assert r.raw_verdict == "PASS" and r.controls[0].verdict == "FAIL" and r.verdict == "PASS"
    assert training_gap.c2a(exchanged, exchanged).verdict == "FAIL"
    assert training_gap.c2a(growing, growing).verdict == "INCONCLUSIVE"  # a control that grows: cannot fail


def test_c3_passes_an_interior_peak_and_the_optimal_denoiser_fails():
    sigmas = np.geomspace(0.01, 10, 9)
    bump = np.exp(-np.log(sigmas) ** 2)
    steps = np.array([100, 200])
    tr = np.ones((2, 9, 20))
    seeds = {s: _curves(sigmas, steps, tr, tr * (1 + (1 + 0.1 * s) * bump[None, :, None])) for s in range(3)}
    memorizer_train = np.ones((1, 9, 20)) * np.linspace(0, 1, 9)[None, :, None]  # 0 at the smallest sigma
    optimal = _curves(sigmas, np.array([0]), memorizer_train, np.ones((1, 9, 20)))
    r = training_gap.c3(seeds, optimal)
    assert r.controls[0].verdict == "FAIL" and r.verdict == "PASS"
    assert training_gap.c3_statistics(optimal)["end_ratio"] == 1.0


def test_c2b_with_a_same_width_control():
    peaks = {(8, 0): 0.2, (8, 1): 0.25, (8, 2): 0.22, (32, 0): 1.3, (32, 1): 1.2, (32, 2): 1.4}
    r = training_gap.c2b(peaks, 8, 32, [0, 1, 2], factor=1.5)
    assert r.verdict == "PASS" and r.controls[0].verdict == "FAIL"
    assert training_gap.c2b(peaks, 8, 32, [0, 1, 2], factor=1.0).verdict == "INCONCLUSIVE"
