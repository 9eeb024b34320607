"""Shared runs and the cached training-gap evaluation."""

import numpy as np
import pytest
import torch

from diffgen_lib import train
from diffgen_lib.measure import evaluation, metrics
from diffgen_lib.studies import experiments

torch.set_num_threads(2)


def test_snapshot_schedule():
    assert experiments.snapshot_schedule(1500) == (250, 500, 750, 1000, 1250, 1500)
    assert experiments.snapshot_schedule(3, 6) == (1, 2, 3)
    with pytest.raises(ValueError):
        experiments.snapshot_schedule(0)


def test_gap_run_variants_share_everything_but_what_they_vary():
    base = experiments.gap_run()
    assert base.labels == "none" and base.label_dropout == 0.0
    assert base.snapshot_steps[-1] == base.max_steps
    cond = experiments.gap_run(labels="class")
    assert cond.conditional and cond.label_dropout == experiments.CFG_LABEL_DROPOUT
    widths = experiments.width_runs([16, 32])
    assert widths[32] == base and widths[16].channels == 16
    assert experiments.size_runs([300])[300] == base
    assert train.run_key(experiments.gap_run()) == train.run_key(base)


def test_gap_curves_of_a_tiny_run_are_cached_and_consistent(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    config = experiments.gap_run(n_train=40, n_val=40, n_feature=0, channels=8, steps=12)
    sigmas = [0.01, 0.5, 50.0]
    run = train.train(config, progress=False)
    curves = evaluation.gap_curves(run, n_eval=20, sigmas=sigmas)
    assert curves.train_error.shape == (len(config.snapshot_steps), 3) == curves.val_error.shape
    assert list(curves.steps) == list(config.snapshot_steps)
    assert np.allclose(curves.gap, (curves.val_error - curves.train_error) / curves.train_error)
    # recompute one entry by hand with the documented noise seeds
    x_tr, _, x_va, _ = evaluation.evaluation_sets(run, 20)
    manual = metrics.denoising_errors(run.snapshots[int(curves.steps[-1])], x_va, sigmas,
                                      evaluation.NOISE_SEED + 20).mean(1)
    assert np.allclose(manual, curves.val_error[-1])
    with monkeypatch.context() as m:  # the second call reads the cache: nothing is recomputed
        m.setattr(metrics, "denoising_errors", lambda *a, **k: pytest.fail("gap curves recomputed"))
        again = evaluation.gap_curves(run, n_eval=20, sigmas=sigmas)
    assert np.array_equal(again.val_error, curves.val_error)
    # every image's error is kept beside the means (float32), for intervals over the images
    assert curves.train_errors.shape == (len(config.snapshot_steps), 3, 20) == curves.val_errors.shape
    assert np.allclose(curves.val_errors[-1].mean(-1), manual, rtol=1e-6)
    assert np.allclose(curves.train_errors.mean(-1), curves.train_error, rtol=1e-6)
    # the peak is the last snapshot's largest relative gap, found by hand
    last = [(v - t) / t for v, t in zip(curves.val_error[-1], curves.train_error[-1])]
    k = max(range(len(sigmas)), key=last.__getitem__)
    peak = curves.peak()
    assert peak["index"] == k and peak["peak_sigma"] == sigmas[k]
    assert peak["peak_gap"] == pytest.approx(last[k])
    with pytest.raises(ValueError, match="no snapshots"):
        evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, steps=[5])
    # the EMA weights: same images and noise, their own cache entry
    ema = evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, weights="ema")
    manual = metrics.denoising_errors(run.ema_snapshot(int(ema.steps[-1])), x_va, sigmas,
                                      evaluation.NOISE_SEED + 20).mean(1)
    assert np.allclose(manual, ema.val_error[-1]) and not np.allclose(ema.val_error, curves.val_error)
    with pytest.raises(ValueError, match="weights"):
        evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, weights="swa")


def test_load_size_runs_returns_matching_configs_runs_and_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    kwargs = dict(n_val=40, n_feature=0, channels=8, steps=6)
    configs, runs, curves = experiments.load_size_runs([30, 40], **kwargs)
    assert sorted(configs) == sorted(runs) == sorted(curves) == [30, 40]
    assert configs[30] == experiments.gap_run(n_train=30, **kwargs)
    assert runs[40].config == configs[40] and len(runs[40].splits.train) == 40
    assert list(curves[30].steps) == list(configs[30].snapshot_steps)


