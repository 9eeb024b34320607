"""A run's calibrated statistics (diffgen_lib.measure.calibrated_run)."""

import numpy as np

from diffgen_lib.measure import calibrated_run


def test_run_calibration_indices():
    S, R, K = 3, 5, 4
    model = np.full((2, S, R), 0.5)
    final = {"pixels/nn_gap": {"model": model, "gaussian": np.zeros((2, S, R)),
                               "null": np.zeros((2, R)), "copier": np.full((2, R), 2.0)}}
    partial = {"pixels/nn_gap": {"model": np.ones((S, R, K)), "null": np.zeros((R, K)),
                                 "copier": np.tile([1.0, 2.0, 4.0, 8.0], (R, 1))}}
    rc = calibrated_run.RunCalibration(np.array([10, 20]), 300, 997, 1.0, final, {}, partial, np.arange(K) + 1.0)
    np.testing.assert_allclose(rc.index("pixels/nn_gap"), 0.25)
    np.testing.assert_allclose(rc.index("pixels/nn_gap", which="gaussian"), 0.0)
    np.testing.assert_allclose(rc.partial_index("pixels/nn_gap")[0, 0], [1.0, 0.5, 0.25, 0.125])
    assert rc.partial_index("pixels/nn_gap").shape == (S, R, K)


def test_optimal_run_calibration_reads_the_cached_tensors(monkeypatch):
    import torch

    from diffgen_lib.measure import calibration

    cached = {"final/pixels/nn_gap": torch.ones(2, 3), "ratios": torch.zeros(2, 5),
              "partial/pixels/nn_gap": torch.full((2, 3, 4), 0.5), "decided": torch.linspace(0, 1, 8).reshape(2, 4)}
    monkeypatch.setattr(calibration, "optimal_calibration", lambda run, seeds, **kw: cached)
    oc = calibrated_run.optimal_run_calibration(None, [0, 1])
    assert list(oc.final) == ["pixels/nn_gap"] and list(oc.partial) == ["pixels/nn_gap"]
    np.testing.assert_array_equal(oc.final["pixels/nn_gap"], np.ones((2, 3)))
    assert oc.partial["pixels/nn_gap"].shape == (2, 3, 4) and oc.ratios.shape == (2, 5)
    np.testing.assert_allclose(oc.decided[1, -1], 1.0)
