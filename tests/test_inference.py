"""Tests of the inference-gap measurements: sampler records, references, FD protocol, probe."""

import math

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion
from diffgen_lib.measure import inference, metrics
from diffgen_lib.seeds import GUIDED_SAMPLES


def gaussian_denoiser(sd):
    """The exact denoiser of N(0, sd^2 I) data: D(x; s) = x sd^2 / (sd^2 + s^2)."""
    return lambda x, s: x * (sd ** 2 / (sd ** 2 + s.view(-1, *([1] * (x.ndim - 1))) ** 2))


def test_record_matches_early_stop_and_final_sample():
    den = gaussian_denoiser(0.5)
    seeds = inference.sample_seeds(5, seed=3)
    rec = inference.record_sampler(den, seeds, (1, 2, 2), n_steps=10, batch_size=2)
    assert rec["states"].shape == (10, 5, 1, 2, 2) and rec["denoised"].shape == (10, 5, 1, 2, 2)
    final = diffusion.generate(den, seeds, (1, 2, 2), n_steps=10)
    torch.testing.assert_close(rec["final"], final)
    for k in (0, 4, 9):
        stopped = diffusion.generate(den, seeds, (1, 2, 2), n_steps=10, early_stop=k)
        torch.testing.assert_close(rec["denoised"][k], stopped)
    # the state at step 0 is the initial noise times sigma_max
    torch.testing.assert_close(rec["states"][0], diffusion.per_sample_noise(seeds, (1, 2, 2)) * 80.0)


def test_record_follows_the_exact_ode_for_gaussian_data():
    # For N(0, sd^2) data the ODE maps x(s) = x(smax) sqrt(s^2 + sd^2) / sqrt(smax^2 + sd^2).
    sd = 0.5
    rec = inference.record_sampler(gaussian_denoiser(sd), inference.sample_seeds(4), (3,), n_steps=40)
    x0 = rec["states"][0].double()
    for k in (10, 25, 39):
        s = float(rec["sigmas"][k])
        exact = x0 * math.sqrt(s ** 2 + sd ** 2) / math.sqrt(80.0 ** 2 + sd ** 2)
        torch.testing.assert_close(rec["states"][k].double(), exact, rtol=1.5e-2, atol=1e-3)  # Heun, 40 steps


def test_fd_reference_floor_and_identity():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 4))
    val = rng.normal(size=(100, 4)) + 3.0  # a shifted val set
    subsets = [np.arange(k * 100, (k + 1) * 100) for k in range(3)]
    # generated = the val set itself: FD to val is 0, gap is exactly -1
    ref = metrics.FDReference(train, val, subsets)
    g = ref.gap(val)
    assert abs(g.fd_val) < 1e-8 and g.gap == pytest.approx(-1.0, abs=1e-8)
    # generated = a copy of train subset 0: closer to train than to val, positive gap
    g = ref.gap(train[:100])
    assert g.gap > 1.0 and g.fd_train_vs_val > 10 * g.fd_train_vs_train


def test_describe_regimes():
    labels = ["generalizes", "generalizes", "in between", "copies"]
    text = inference.describe_regimes([250, 500, 750, 1000], labels)
    assert text == "generalizes at steps 250-500, in between at step 750, copies at step 1000"


def test_map_index_regimes():
    labels = inference.map_index_regimes([(-0.1, 0.2), (0.1, 0.4), (0.8, 0.9), (0.0, 0.1)],
                                         [0.0, 0.0, 0.0, 0.2])
    assert labels == ["generalizes", "in between", "copies", "copies"]
    assert inference.map_index_regimes([(0.2, 0.3)], [0.0], generalizes_below=0.5) == ["generalizes"]


def test_sample_set_is_per_sample_and_uses_labels():
    def den(x, s, labels):
        return torch.zeros_like(x) + labels.view(-1, 1, 1, 1).to(x.dtype)  # collapses onto the label

    labels = torch.tensor([0, 1, 2, 3, 4])
    a = inference.sample_set(den, 5, (1, 2, 2), labels, n_steps=6)
    b = diffusion.generate(den, GUIDED_SAMPLES.seeds(5), (1, 2, 2), 6, batch_size=2, labels=labels)
    assert torch.equal(a, b)  # per-sample noise and labels: the batch does not matter
    assert torch.allclose(a.flatten(1).mean(1), labels.float(), atol=1e-4)  # ODE ends at D's target
    u = inference.sample_set(lambda x, s: torch.zeros_like(x), 3, (1, 2, 2), None, n_steps=6)
    assert u.abs().max() < 1e-4
