"""The toy-model chapter's measurements: probes, curve sets, the Monte-Carlo check, samples and
the claim statistics."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion, toy
from diffgen_lib.studies import toy_study

torch.set_num_threads(2)


def test_circle_angles_and_probes_hit_every_point():
    pts = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, -1.0]])
    assert np.allclose(toy_study.circle_angles(pts), [0, math.pi / 2, math.pi, 3 * math.pi / 2])
    train, val = toy.circle_data(6)
    angles = toy_study.probe_angles(train, val, n_grid=11)
    assert len(angles) == 11 + 6 and np.all(np.diff(angles) >= 0)
    assert np.isin(toy_study.circle_angles(train), angles).all() and np.isin(toy_study.circle_angles(val), angles).all()


def test_curve_sets_are_the_toy_models_curves_and_their_peaks():
    train, val = toy.circle_data(8)
    sigmas = diffusion.edm_sigmas(12).numpy()
    curves = toy_study.delta_curves(train, val, sigmas, [2.0, 1.0], n_noise=5, seed=1)
    assert list(curves) == [2.0, 1.0]
    assert np.array_equal(curves[1.0], toy.gap_curve(train, val, sigmas, 1.0, n_noise=5, seed=1))
    peaks = toy_study.peaks_of(sigmas, curves)
    assert peaks[1.0]["peak_gap"] == curves[1.0].max() and peaks[1.0]["peak_sigma"] == sigmas[np.argmax(curves[1.0])]
    density = toy_study.density_curves([3, 5], sigmas, 1.0, n_noise=5)
    assert np.array_equal(density[5], toy.gap_curve(*toy.circle_data(10), sigmas, 1.0, n_noise=5))
    guided = toy_study.guided_curves(train, val, sigmas, 1.0, 1.5, [0.0, 1.0], n_noise=5)
    assert np.array_equal(guided[0.0], toy.gap_curve(train, val, sigmas, 1.0, n_noise=5))  # w = 0: unguided


def test_effective_deltas_of_the_unguided_model_are_its_own_delta():
    peaks = {0.0: {"peak_sigma": 1.3, "peak_gap": 0.5}}
    by_weight, by_peak = toy_study.effective_deltas(peaks, 1.2, 1.6, [2.0, 1.0], {2.0: {"peak_gap": 0.2},
                                                                                  1.0: {"peak_gap": 0.8}})
    assert by_weight[0.0] == pytest.approx(1.2)
    assert by_peak[0.0] == pytest.approx(1.5)  # 0.5 halfway between 0.2 (delta 2) and 0.8 (delta 1)


def test_end_gap_is_the_larger_end():
    assert toy_study.end_gap(np.array([-0.3, 5.0, 0.1])) == 0.3
    assert toy_study.end_gap(np.array([0.0, 5.0, -0.4])) == 0.4


def test_monte_carlo_check_reuses_the_paired_curve_of_its_seed():
    train, val = toy.circle_data(8)
    sigmas = diffusion.edm_sigmas(10).numpy()
    fake = np.linspace(0, 1, len(sigmas))
    mc = toy_study.monte_carlo_check(train, val, sigmas, 1.5, n_noise=4, seed=0, paired_curve=fake)
    assert mc.delta == 1.5 and mc.peaks["paired"][0] == 1.0 and mc.ends["paired"] >= 1.0
    assert len(mc.peaks["independent"]) == 3 and math.isfinite(mc.shared_peak)
    seed1 = toy.gap_curve(train, val, sigmas, 1.5, n_noise=4, seed=1, paired=False)
    assert mc.peaks["independent"][1] == seed1.max()


def test_generated_distances_of_the_training_points_themselves():
    train = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]])
    val = train + np.array([0.0, 1.0])
    dist = toy_study.generated_distances({0.0: train, 1.0: train + 0.05}, [0.0, 1.0], train, val, recall_tol=0.1)
    assert np.allclose(dist.nn_train, [0.0, math.hypot(0.05, 0.05)])
    assert np.allclose(dist.nn_val[0], 1.0) and np.allclose(dist.recall, [1.0, 1.0])
    assert dist.fd_train[0] == pytest.approx(0.0, abs=1e-6) and dist.fd_floor == pytest.approx(1.0, abs=1e-6)


def test_sample_endpoints_are_the_last_states_and_paths_only_where_asked():
    train, _ = toy.circle_data(6)
    endpoints, paths = toy_study.sample_endpoints(train, {0.5, 0.0}, [0.5], n_gen=4, n_steps=3, seed=0)
    assert list(endpoints) == [0.0, 0.5] and list(paths) == [0.5]
    assert paths[0.5].shape == (4, 4, 2) and np.array_equal(paths[0.5][-1], endpoints[0.5])


def test_claim_statistics_of_hand_made_curves():
    sigmas = np.array([4.0, 2.0, 1.0, 0.5])
    curves = {2.0: np.array([0.0, 1.0, 0.5, 0.1]), 1.0: np.array([0.0, 0.5, 2.0, 0.0])}
    density = {5: np.array([0, 3.0, 0, 0]), 10: np.array([0, 1.0, 0, 0])}
    guided = {0.0: np.array([0, 1.0, 0, 0]), 1.0: np.array([0, 2.0, 0, 0])}
    st = toy_study.claim_statistics(curves, density, guided, sigmas, [2.0, 1.0], [5, 10], [0.0, 1.0])
    assert st["rho_delta"] == pytest.approx(-1.0) and st["rho_density"] == pytest.approx(-1.0)
    assert st["rho_guidance"] == pytest.approx(1.0)
    assert st["end_ratio"] == pytest.approx(0.1)   # |0.1| / peak 1.0 at delta 2
    assert st["peak_off"] == pytest.approx(1.0)    # both peak at sigma = delta
