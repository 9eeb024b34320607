"""The guidance loop and its results (diffgen_lib.studies.guidance), on stand-in denoisers."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from diffgen_lib import diffusion
from diffgen_lib.measure import inference
from diffgen_lib.seeds import GUIDED_SAMPLES
from diffgen_lib.studies import guidance

torch.set_num_threads(1)


def _stand_in_run(conditional=True, label_dropout=0.1):
    """A run with a positive denoiser that returns its label and an early snapshot that returns 0."""
    def pos(x, sigma, labels=None):
        return torch.zeros_like(x) + (0.0 if labels is None else labels.view(-1, 1, 1, 1).to(x.dtype))

    def early(x, sigma, labels=None):
        return torch.zeros_like(x)

    config = SimpleNamespace(conditional=conditional, label_dropout=label_dropout, device="cpu")
    return SimpleNamespace(config=config, denoiser=pos, snapshots={5: early, 10: pos},
                           splits=SimpleNamespace(image_shape=(1, 2, 2)))


def test_guided_rows_measures_each_kind_weight_and_set_and_shares_w0():
    run = _stand_in_run()
    labels = torch.tensor([1, 2, 3])
    calls = []

    def measure(den, samples):
        calls.append(samples)
        return samples.flatten(1).mean(1)

    rows = guidance.guided_rows(run, [0.0, 1.0], 5, [0, 2], labels, measure, n_gen=3, n_steps=6, progress=False)
    kinds = diffusion.GUIDANCE_KINDS
    assert set(rows) == {(k, w) for k in kinds for w in (0.0, 1.0)}
    assert len(calls) == 2 + 2 * len(kinds)  # w = 0 once per set, w = 1 per kind and set
    for k in kinds:
        assert all(a is b for a, b in zip(rows[k, 0.0], rows[kinds[0], 0.0]))  # D_0 = D_pos, shared
    # set s starts from the noise of GUIDED_SAMPLES.seed(s, i): the sampler run by hand agrees
    expected = diffusion.generate(run.denoiser, GUIDED_SAMPLES.seeds(3, 2), (1, 2, 2), 6, labels=labels)
    torch.testing.assert_close(rows[kinds[0], 0.0][1], expected.flatten(1).mean(1))
    # autoguidance with D_neg = 0 and D_pos = label: D_1 = 2 * label, the ODE ends at it
    np.testing.assert_allclose(rows["auto", 1.0][0], 2.0 * labels.numpy(), atol=1e-3)


def test_guidance_needs_a_conditional_run_with_label_dropout_and_the_snapshot():
    with pytest.raises(ValueError, match="label dropout"):
        guidance.check_guidance_run(_stand_in_run(label_dropout=0.0), 5)
    with pytest.raises(ValueError, match="label dropout"):
        guidance.check_guidance_run(_stand_in_run(conditional=False), 5)
    with pytest.raises(ValueError, match="no snapshot at step 7"):
        guidance.check_guidance_run(_stand_in_run(), 7)
    guidance.check_guidance_run(_stand_in_run(), 5)


def test_guidance_calibration_index_puts_null_at_zero_and_copier_at_one():
    null, copier = {"s": np.array([0.0, 1.0])}, {"s": np.array([2.0, 3.0])}
    gc = guidance.GuidanceCalibration(
        [0.0, 2.0], 100, 400, {("cfg", 0.0): {"s": np.array([[0.0, 1.0]])}, ("cfg", 2.0): {"s": np.array([[1.0, 3.0]])}},
        null, copier, {"s": np.array([[2.0, 2.0]])}, {})
    np.testing.assert_allclose(gc.index("cfg", 0, "s"), [[0.0, 0.0]])
    np.testing.assert_allclose(gc.index("cfg", 2, "s"), [[0.5, 1.0]])
    np.testing.assert_allclose(gc.gaussian_index("s"), [[1.0, 0.5]])
    np.testing.assert_array_equal(gc.values("cfg", 2.0, "s"), [[1.0, 3.0]])


def test_sample_set_default_is_guided_set_zero():
    den = _stand_in_run().denoiser
    labels = torch.tensor([0, 1])
    a = inference.sample_set(den, 2, (1, 2, 2), labels, n_steps=4)
    b = diffusion.generate(den, GUIDED_SAMPLES.seeds(2, 0), (1, 2, 2), 4, labels=labels)
    torch.testing.assert_close(a, b)
