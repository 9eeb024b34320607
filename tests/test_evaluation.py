"""Shared runs, the cached training-gap evaluation, cached results and progress bars."""

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch

from diffgen_lib import cache, progress, train
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


def test_cached_result_computes_once_and_recovers_from_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3)}

    a = cache.cached_result("thing", {"n": 3}, compute)
    b = cache.cached_result("thing", {"n": 3}, compute)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"])
    cache.cached_result("thing", {"n": 4}, compute)
    assert len(calls) == 2
    for p in (tmp_path / "results").glob("thing-*.pt"):
        p.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        c = cache.cached_result("thing", {"n": 3}, compute)
    assert len(calls) == 3 and torch.equal(c["x"], a["x"])


def _compute_slowly(log: str, folder: str) -> list:
    """A process computing a cached entry that takes a second (counted in ``log``)."""
    os.environ["DIFFGEN_CACHE"] = folder

    def compute():
        with open(log, "a") as handle:
            handle.write("x")
        time.sleep(1.0)
        return {"v": torch.arange(4)}

    return cache.cached_result("slow", {"k": 1}, compute)["v"].tolist()


def test_processes_side_by_side_compute_a_shared_entry_once(tmp_path):
    log = tmp_path / "computed.log"
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        values = list(pool.map(_compute_slowly, [str(log)] * 2, [str(tmp_path)] * 2))
    assert values == [[0, 1, 2, 3]] * 2 and log.read_text() == "x"


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
    again = evaluation.gap_curves(run, n_eval=20, sigmas=sigmas)
    assert np.array_equal(again.val_error, curves.val_error)
    # every image's error is kept beside the means (float32), for intervals over the images
    assert curves.train_errors.shape == (len(config.snapshot_steps), 3, 20) == curves.val_errors.shape
    assert np.allclose(curves.val_errors[-1].mean(-1), manual, rtol=1e-6)
    assert np.allclose(curves.train_errors.mean(-1), curves.train_error, rtol=1e-6)
    assert curves.peak()["peak_sigma"] in sigmas
    with pytest.raises(ValueError, match="no snapshots"):
        evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, steps=[5])
    # the EMA weights: same images and noise, their own cache entry
    ema = evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, weights="ema")
    manual = metrics.denoising_errors(run.ema_snapshot(int(ema.steps[-1])), x_va, sigmas,
                                      evaluation.NOISE_SEED + 20).mean(1)
    assert np.allclose(manual, ema.val_error[-1]) and not np.allclose(ema.val_error, curves.val_error)
    with pytest.raises(ValueError, match="weights"):
        evaluation.gap_curves(run, n_eval=20, sigmas=sigmas, weights="swa")


def test_progress_modes(monkeypatch):
    monkeypatch.setenv("DIFFGEN_PROGRESS", "off")
    assert list(progress.progress_bar(range(3))) == [0, 1, 2]
    monkeypatch.setenv("DIFFGEN_PROGRESS", "file")
    monkeypatch.delenv("DIFFGEN_PROGRESS_FILE", raising=False)
    bar = progress.progress_bar(range(2), leave=False)  # no file named: silent
    assert bar.disable and bar.leave and list(bar) == [0, 1]
    monkeypatch.setenv("DIFFGEN_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="DIFFGEN_PROGRESS"):
        progress.progress_bar(range(2))


def test_file_progress_stays_out_of_the_output(tmp_path, monkeypatch, capsys):
    log = tmp_path / "progress.log"
    monkeypatch.setenv("DIFFGEN_PROGRESS", "file")
    monkeypatch.setenv("DIFFGEN_PROGRESS_FILE", str(log))
    assert progress.last_progress_line(log) == ""
    assert list(progress.progress_bar(range(5), desc="counting")) == list(range(5))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    last = progress.last_progress_line(log)
    assert last.startswith("counting: 100%") and "5/5" in last


def test_load_size_runs_returns_matching_configs_runs_and_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    kwargs = dict(n_val=40, n_feature=0, channels=8, steps=6)
    configs, runs, curves = experiments.load_size_runs([30, 40], **kwargs)
    assert sorted(configs) == sorted(runs) == sorted(curves) == [30, 40]
    assert configs[30] == experiments.gap_run(n_train=30, **kwargs)
    assert runs[40].config == configs[40] and len(runs[40].splits.train) == 40
    assert list(curves[30].steps) == list(configs[30].snapshot_steps)


