"""The 2-D toy model: data layout, regimes of the gap, trajectories."""

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion, toy
from diffgen_lib.measure import summaries

torch.set_num_threads(2)


def test_symmetric_circle_alternates_train_and_val():
    train, val = toy.circle_data(20)
    assert train.shape == val.shape == (10, 2)
    angles = 2 * np.pi * (np.arange(20) / 20 + 1e-2)
    assert np.allclose(train[1], 10 * np.array([np.cos(angles[2]), np.sin(angles[2])]))
    assert np.allclose(val[0], 10 * np.array([np.cos(angles[1]), np.sin(angles[1])]))
    assert np.allclose(np.linalg.norm(train, axis=1), 10)


def test_random_circle_is_seeded_first_half_val():
    train, val = toy.circle_data(10, symmetric=False, seed=3)
    train2, val2 = toy.circle_data(10, symmetric=False, seed=3)
    assert np.array_equal(train, train2) and np.array_equal(val, val2)
    angles = np.random.default_rng(3).uniform(0, 2 * np.pi, 10)
    assert np.allclose(val[:, 0], 10 * np.cos(angles[:5]))
    with pytest.raises(ValueError, match="n must be"):
        toy.circle_data(1)


def test_gap_regimes_and_monotone_in_delta():
    train, val = toy.circle_data(20)
    sigmas = diffusion.edm_sigmas(120).numpy()
    peaks = []
    for delta in (2.2, 1.6, 1.2):
        gap = toy.gap_curve(train, val, sigmas, delta, n_noise=100)
        top = summaries.peak(sigmas, gap)
        peak, where = top["peak_gap"], top["peak_sigma"]
        peaks.append(peak)
        assert 0.3 < where < 5.0                          # gap peaks near sigma ~ delta
        assert abs(gap[-1]) < 0.1 * peak and abs(gap[0]) < 0.1 * peak  # ~0 at both ends
    assert peaks[0] < peaks[1] < peaks[2]                  # smaller model error, larger gap


def test_denser_support_shrinks_the_gap():
    sigmas = diffusion.edm_sigmas(60).numpy()
    peaks = [summaries.peak(sigmas, toy.gap_curve(*toy.circle_data(2 * n), sigmas, 1.6, n_noise=100))["peak_gap"]
             for n in (8, 12, 15)]
    assert peaks[0] > peaks[1] > peaks[2]


def test_autoguidance_raises_the_gap_and_needs_blurrier_negative():
    train, val = toy.circle_data(20)
    sigmas = diffusion.edm_sigmas(60).numpy()
    p0 = summaries.peak(sigmas, toy.gap_curve(train, val, sigmas, 1.8, n_noise=100))["peak_gap"]
    p2 = summaries.peak(sigmas, toy.gap_curve(train, val, sigmas, 1.8, n_noise=100, guidance=2.0,
                                              delta_neg=2.2))["peak_gap"]
    assert p2 > p0
    with pytest.raises(ValueError, match="delta_neg"):
        toy.gap_curve(train, val, sigmas, 1.8, guidance=1.0, delta_neg=1.0)


def test_gap_along_circle_zero_at_training_points_max_between():
    train, _ = toy.circle_data(20)
    angles = 2 * np.pi * (np.arange(20) / 20 + 1e-2)
    gap = toy.gap_along_circle(train, angles, sigma=1.0, delta=1.4)
    assert np.allclose(gap[0::2], 0, atol=1e-12)
    assert (gap[1::2] > 0.1).all()


def test_trajectories_end_on_training_points_without_model_error():
    train, _ = toy.circle_data(20)
    states, sigmas = toy.sample_trajectories(train, delta=0.0, n_samples=16, n_steps=40, seed=1)
    assert states.shape == (41, 16, 2) and sigmas.shape == (40,)
    d = np.linalg.norm(states[-1][:, None, :] - train[None], axis=2).min(1)
    assert d.max() < 1e-3
    # with model error the endpoints spread off the training points
    states2, _ = toy.sample_trajectories(train, delta=2.0, n_samples=16, n_steps=40, seed=1)
    assert np.linalg.norm(states2[-1][:, None, :] - train[None], axis=2).min(1).mean() > 0.1


def test_flow_field_points_to_prediction():
    train, _ = toy.circle_data(20)
    gx, gy, u, v = toy.flow_field(train, sigma=1e4, delta=0.0, resolution=5)
    # at huge sigma the prediction is the mean of the training points (the origin)
    assert np.allclose(u, -gx, atol=1e-3) and np.allclose(v, -gy, atol=1e-3)


def test_point_noise_is_independent_per_point_and_reproducible():
    a = toy.point_noise(6, 500, seed=3)
    assert a.shape == (6, 500, 2) and a.dtype == torch.float64
    assert torch.equal(a, toy.point_noise(6, 500, seed=3))          # reproducible
    assert torch.equal(a[:4], toy.point_noise(4, 500, seed=3))      # a point's draws do not depend
    assert torch.equal(a[:, :100], toy.point_noise(6, 100, seed=3))  # on the set's size or on more draws
    assert not torch.equal(a, toy.point_noise(6, 500, seed=4))
    assert not torch.equal(a, toy.point_noise(6, 500, seed=3, stream=toy.VAL_STREAM))
    flat = a.reshape(6, -1).numpy()
    corr = np.corrcoef(flat)[np.triu_indices(6, 1)]                 # different points: uncorrelated
    assert np.abs(corr).max() < 4 / np.sqrt(flat.shape[1])
    assert abs(flat.mean()) < 0.05 and abs(flat.std() - 1) < 0.05
    with pytest.raises(ValueError):
        toy.point_noise(3, 0)


def test_gap_curve_draws_are_per_point_and_seeded():
    train, val = toy.circle_data(20)
    sigmas = diffusion.edm_sigmas(30).numpy()
    g = toy.gap_curve(train, val, sigmas, 1.6, n_noise=200, seed=1)
    assert np.array_equal(g, toy.gap_curve(train, val, sigmas, 1.6, n_noise=200, seed=1))
    assert not np.array_equal(g, toy.gap_curve(train, val, sigmas, 1.6, n_noise=200, seed=2))
    # by hand: every point its own draws in its (radial, tangential) frame; val j pairs with train j
    tt, vt = torch.from_numpy(train), torch.from_numpy(val)
    own = toy.point_noise(10, 200, seed=1)
    e_tr = toy._errors(tt, sigmas, tt, 1.6, toy.local_frame(tt, own)).mean(1)
    e_va = toy._errors(vt, sigmas, tt, 1.6, toy.local_frame(vt, own)).mean(1)
    assert np.allclose(g, (e_va - e_tr) / e_tr)
    # paired draws: where the model treats train and val alike (both ends) the gap is exactly ~0;
    # independent draws leave Monte-Carlo noise there
    assert abs(g[0]) < 1e-9 and abs(g[-1]) < 1e-4
    indep = toy.gap_curve(train, val, sigmas, 1.6, n_noise=200, seed=1, paired=False)
    assert abs(indep[-1]) > 1e-4
    assert summaries.peak(sigmas, indep)["peak_gap"] == pytest.approx(summaries.peak(sigmas, g)["peak_gap"], rel=0.15)


def test_errors_chunking_does_not_change_the_result():
    train, val = toy.circle_data(20)
    tt, vt = torch.from_numpy(train), torch.from_numpy(val)
    noise = toy.point_noise(10, 50, seed=0)
    sigmas = diffusion.edm_sigmas(12).numpy()
    whole = toy._errors(vt, sigmas, tt, 1.2, noise)
    assert np.allclose(whole, toy._errors(vt, sigmas, tt, 1.2, noise, max_rows=700))
