"""Feature extractors: pixels, the cached feature classifier, user-supplied callables."""

import numpy as np
import pytest
import torch

from diffgen_lib import features

torch.set_num_threads(2)


def _blobs(n=120, seed=0):
    """Three classes of 8x8 images that differ in which third of the image is bright."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = -torch.ones(n, 1, 8, 8) + 0.1 * torch.randn(n, 1, 8, 8, generator=g)
    for c in range(3):
        images[labels == c, :, :, c * 2:c * 2 + 3] += 1.5
    return images.clamp(-1, 1), labels


def test_pixel_features_flatten():
    x = torch.randn(4, 1, 8, 8)
    f = features.PixelFeatures()(x)
    assert f.shape == (4, 64) and f.dtype == np.float64 and np.allclose(f[1], x[1].flatten().numpy())


def test_classifier_learns_and_is_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    images, labels = _blobs()
    cfg = features.ClassifierConfig(width=8, feature_dim=8, epochs=20, batch_size=16)
    f1 = features.train_classifier(images, labels, 3, cfg)
    assert f1.train_accuracy > 0.9
    val_images, val_labels = _blobs(seed=1)
    assert f1.accuracy(val_images, val_labels) > 0.9
    assert len(list(tmp_path.glob("classifier-*.pt"))) == 1
    f2 = features.train_classifier(images, labels, 3, cfg)  # from the cache
    f3 = features.train_classifier(images, labels, 3, cfg, use_cache=False)  # retrained
    assert np.array_equal(f1(val_images), f2(val_images))
    assert np.array_equal(f1(val_images), f3(val_images))
    assert f1(val_images).shape == (len(val_images), 8)


def test_corrupt_classifier_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFGEN_CACHE", str(tmp_path))
    images, labels = _blobs(60)
    cfg = features.ClassifierConfig(width=4, feature_dim=4, epochs=1)
    f1 = features.train_classifier(images, labels, 3, cfg)
    (entry,) = tmp_path.glob("classifier-*.pt")
    entry.write_bytes(entry.read_bytes()[:100])
    f2 = features.train_classifier(images, labels, 3, cfg)
    assert np.array_equal(f1(images), f2(images))


def test_bad_config_and_user_extractor_shape_check():
    with pytest.raises(ValueError, match="feature_dim"):
        features.ClassifierConfig(feature_dim=0).validate()
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        features.as_numpy_features(lambda x: np.zeros(3), torch.zeros(3, 1, 2, 2))
    out = features.as_numpy_features(lambda x: x.flatten(1)[:, :2], torch.ones(3, 1, 2, 2))
    assert out.shape == (3, 2)
