"""Reference draws, the held-out pool and the fitted Gaussian (diffgen_lib.measure.references)."""

import numpy as np
import pytest
import torch

from diffgen_lib.measure import metrics, references
from synthetic import gaussian_mixture


def test_reference_size_caps():
    assert references.reference_size(300, 500, 300) == 300
    assert references.reference_size(600, 500, 1000) == 400
    assert references.reference_size(150, 500, 300) == 150
    with pytest.raises(ValueError):
        references.reference_size(300, 50, 300)


def test_draw_references_sets():
    ltr = np.arange(300) % 10
    lva = np.arange(500) % 10
    d = references.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=3)
    np.testing.assert_array_equal(d.train_ref, np.arange(300))  # the whole training set fits
    assert len(d.val_ref) == 300 and len(np.unique(d.val_ref)) == 300
    np.testing.assert_array_equal(np.bincount(lva[d.val_ref]), np.bincount(ltr[d.train_ref]))  # class counts
    assert len(d.null) == 250 and not set(d.null) & set(d.val_ref)  # the null never meets the val reference
    assert len(np.unique(d.null)) < 250  # drawn with replacement from the 200 left over
    assert len(d.copier) == 250 and d.copier.min() >= 0 and d.copier.max() < 300
    again = references.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=3)
    np.testing.assert_array_equal(again.copier, d.copier)  # seeded
    other = references.draw_references(ltr, lva, n_gen=250, n_ref=300, seed=4)
    assert not np.array_equal(other.val_ref, d.val_ref)


def test_draw_references_subset_when_training_set_is_large():
    ltr = np.arange(600) % 10
    lva = np.arange(500) % 10
    d = references.draw_references(ltr, lva, n_gen=300, n_ref=1000, seed=0)
    assert len(d.train_ref) == len(d.val_ref) == 400  # 500 val images less 100 for the null
    assert len(np.unique(d.train_ref)) == 400
    # the copier draws from all 600 training images, not only the 400 of the train reference
    assert len(d.copier) == 300 and d.copier.min() >= 0 and d.copier.max() < 600
    assert d.copier.max() >= 400  # an index that a draw from 400 images could not give
    assert not np.isin(d.copier, d.train_ref).all()  # some copies are outside the train reference


def test_gaussian_fit_learns_the_moments_and_copies_nothing():
    tr, _ = gaussian_mixture(400, 1)
    fit = references.GaussianFit(tr)
    x = fit.sample(4000, seed=2)
    assert x.shape == (4000, 1, 4, 4)
    flat, ref = x.reshape(4000, -1).double(), tr.reshape(400, -1).double()
    torch.testing.assert_close(flat.mean(0), ref.mean(0), atol=0.15, rtol=0)
    torch.testing.assert_close(torch.cov(flat.T), torch.cov(ref.T), atol=0.35, rtol=0.1)
    torch.testing.assert_close(fit.sample(5, seed=2), x[:5])  # sample i depends only on (seed, i)
    assert metrics.copy_fraction(metrics.memorization_ratio(x[:500], tr)) < 0.05


def test_heldout_pool_is_val_then_unused_images():
    from types import SimpleNamespace

    from diffgen_lib import data

    sp = data.load_splits("digits", 300, 500, 500, seed=0)
    run = SimpleNamespace(config=SimpleNamespace(dataset="digits", n_train=300, n_val=500, n_feature=500,
                                                 split_seed=0, root=None), splits=sp, clusters=None)
    images, labels = references.heldout_pool(run)
    assert len(images) == 500 + 497  # 1797 digits less 1300 in the splits
    torch.testing.assert_close(images[:500], sp.val.images)
    assert len(images) == len(labels)
    # the extra held-out images are none of the images the splits use (the digits are all distinct)
    used = torch.cat([sp.train.images, sp.val.images, sp.feature.images]).flatten(1)
    extra = images[500:].flatten(1)
    assert len(torch.unique(torch.cat([used, extra]), dim=0)) == len(used) + len(extra)
    # the extra images are the ones a larger training set of the same seed would add
    larger = data.load_splits("digits", 797, 500, 500, seed=0)
    torch.testing.assert_close(larger.train.images[:300], sp.train.images)
    torch.testing.assert_close(images[500:], larger.train.images[300:])
    assert set(larger.train.indices[300:].tolist()).isdisjoint(
        torch.cat([sp.train.indices, sp.val.indices, sp.feature.indices]).tolist())
    small, _ = references.heldout_pool(run, max_extra=10)
    assert len(small) == 510
    torch.testing.assert_close(small, images[:510])
