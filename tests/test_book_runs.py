"""The book's runs gathered for training side by side: what the chapters train, in which order."""

import dataclasses
from pathlib import Path

import pytest

from diffgen_lib import data
from diffgen_lib.book import cli
from diffgen_lib.book.params import parse_spec
from diffgen_lib.runs import TrainConfig, run_dir
from diffgen_lib.studies import book_runs, experiments, factors

ROOT = Path(__file__).resolve().parent.parent


def chapter_defaults(stem):
    return {name: spec.default for name, spec in parse_spec(stem, ROOT / "book").items()}


@pytest.mark.parametrize("name", ["digits", "mnist5k", "mnist5k14"])
def test_image_pixels_match_the_loaders(name):
    assert book_runs.IMAGE_PIXELS[name] == data.load_pool(name).images[0].numel()


def test_every_dataset_has_its_pixel_count():
    assert set(book_runs.IMAGE_PIXELS) == set(data.DATASETS)


def test_longest_first_orders_by_cost_and_drops_repeats():
    small = experiments.gap_run(channels=8)
    big = experiments.gap_run(dataset="mnist5k14", n_train=1000, steps=6000)
    main = experiments.gap_run()
    assert book_runs.longest_first([small, main, big, main]) == [big, main, small]
    assert book_runs.training_cost(big) > book_runs.training_cost(main) > book_runs.training_cost(small)


def test_the_chapters_runs_are_the_runs_they_train():
    """The build trains exactly what the training-gap and factors chapters train for their default
    parameters (the configs come from the functions the chapters call), each run once."""
    v3, v6 = chapter_defaults("03_training_gap"), chapter_defaults("06_factors")
    gathered = book_runs.runs_of_chapters({"03_training_gap": v3, "06_factors": v6, "04_inference_gap": {}})
    shared = list(experiments.shared_runs(v3).values())
    chapter6 = factors.factor_runs(v6)
    assert all(c in gathered for c in shared + chapter6.all())
    assert len(gathered) == len({repr(c) for c in shared + chapter6.all()})
    # the factors chapter's unconditional and K = 0 runs are the training-gap chapter's seed runs
    assert chapter6.clusters[(0, v6["seed"])] == chapter6.main == experiments.shared_runs(v3)["main"]
    assert chapter6.unconditional_seeds[v6["seed"] + 1] == experiments.shared_runs(v3)[f"main, seed {v6['seed'] + 1}"]
    assert chapter6.receptive_field == experiments.shared_runs(v3)["second scale"]
    assert gathered[0] == chapter6.receptive_field  # the longest run first


def test_build_trains_the_chapters_runs_before_they_execute(tmp_path, monkeypatch, capsys):
    """train_chapter_runs trains what a chapter's entry lists (once: a second call trains
    nothing) and skips chapters without one."""
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    tiny = [TrainConfig(n_train=40, n_val=20, n_feature=0, channels=8, batch_size=8, max_steps=6,
                        snapshot_steps=(6,), device="cpu", threads=1, seed=s) for s in (0, 1)]
    monkeypatch.setattr(book_runs, "CHAPTER_RUNS", {"03_training_gap": lambda values: tiny})
    assert cli.train_chapter_runs(ROOT, ["01_optimal_denoiser"]) == 0
    assert not any((run_dir(c) / "run.pt").exists() for c in tiny)
    assert cli.train_chapter_runs(ROOT, ["01_optimal_denoiser", "03_training_gap"]) == 0
    assert all((run_dir(c) / "run.pt").exists() for c in tiny)
    assert "trained 2 of the 2 runs of 03_training_gap" in capsys.readouterr().out
    assert cli.train_chapter_runs(ROOT, ["03_training_gap"]) == 0
    assert "trained" not in capsys.readouterr().out
    def fails(configs, progress=True):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(book_runs, "CHAPTER_RUNS", {"03_training_gap": lambda values: [
        dataclasses.replace(tiny[0], seed=2)]})
    monkeypatch.setattr(book_runs, "train_many", fails)
    assert cli.train_chapter_runs(ROOT, ["03_training_gap"]) == 1
    assert "runs: FAILED: RuntimeError: out of memory" in capsys.readouterr().err
