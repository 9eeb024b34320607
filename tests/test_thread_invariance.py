"""The measurements give the same bits with one thread as with two, so the book may execute its
chapters side by side with one thread each (``make book``) and nbval re-execute them with two."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from diffgen_lib import diffusion, train
from diffgen_lib.measure import evaluation, metrics
from diffgen_lib.studies import experiments


def _at_threads(n, fn):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            return fn()
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def book_network(tmp_path_factory):
    """The book's 8x8 U-Net (its default width), briefly trained: a run like the chapters'."""
    import os

    old = os.environ.get("DIFFGEN_CACHE")
    os.environ["DIFFGEN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        config = experiments.gap_run(n_train=64, n_val=64, n_feature=0, steps=4, threads=1)
        yield train.train(config, progress=False)
    finally:
        if old is None:
            os.environ.pop("DIFFGEN_CACHE")
        else:
            os.environ["DIFFGEN_CACHE"] = old


def test_denoising_errors_do_not_depend_on_the_thread_count(book_network):
    run = book_network
    images = evaluation.evaluation_sets(run, 64)
    sigmas = diffusion.log_sigma_grid(8).numpy()
    den = run.snapshots[max(run.snapshots)]
    one = _at_threads(1, lambda: evaluation.train_val_errors(den, images, sigmas))
    two = _at_threads(2, lambda: evaluation.train_val_errors(den, images, sigmas))
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])


def test_sampling_does_not_depend_on_the_thread_count(book_network):
    den = book_network.snapshots[max(book_network.snapshots)]
    shape = book_network.splits.image_shape
    one = _at_threads(1, lambda: diffusion.generate(den, range(96), shape, n_steps=6))
    two = _at_threads(2, lambda: diffusion.generate(den, range(96), shape, n_steps=6))
    assert torch.equal(one, two)


def test_frechet_distance_does_not_depend_on_the_thread_count():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 196)), rng.normal(size=(800, 196)) @ rng.normal(size=(196, 196))  # 14x14 pixels
    one = _at_threads(1, lambda: metrics.frechet_distance(a, b))
    two = _at_threads(2, lambda: metrics.frechet_distance(a, b))
    assert one == two
