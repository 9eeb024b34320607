"""Feature extractors: pixels, the cached feature classifier, user-supplied callables."""

import hashlib
import types

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


# ----------------------------------------------------------------------------------------------
# Pretrained networks from local files (a tiny random network saved by the test)

N_STATS = 7  # the tiny network's first outputs: 3 channel means, min, max, height, width


def _input_stats(x: torch.Tensor) -> torch.Tensor:
    """Statistics of a network's input (N, 3, H, W) as (N, 7); sizes as tensor ops (traceable)."""
    height = torch.ones_like(x[:, 0, :, 0]).sum(1)
    width = torch.ones_like(x[:, 0, 0, :]).sum(1)
    return torch.stack([x[:, 0].mean((1, 2)), x[:, 1].mean((1, 2)), x[:, 2].mean((1, 2)),
                        x.amin((1, 2, 3)), x.amax((1, 2, 3)), height, width], 1)


class _StatsNet(torch.nn.Module):
    """A tiny random conv net that reports statistics of its input next to 4 conv features."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([_input_stats(x), torch.tanh(self.conv(x)).mean((2, 3))], 1)


class _FlaggedStatsNet(_StatsNet):
    """Like the FID Inception export: features only with return_features=True (else 1-D)."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        out = torch.cat([_input_stats(x), torch.tanh(self.conv(x)).mean((2, 3))], 1)
        return out if return_features else out.sum(1)


def _scripted(tmp_path, net, name):
    path = tmp_path / name
    torch.jit.script(net).save(str(path))
    return path


def _traced(tmp_path, name, size=8):
    path = tmp_path / name
    torch.jit.trace(_StatsNet().eval(), torch.randn(2, 3, size, size)).save(str(path))
    return path


def _gray(n=7, seed=0):
    """Grayscale images spanning [-1, 1] exactly."""
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    x[:, :, 0, 0], x[:, :, 0, 1] = -1.0, 1.0
    return x


def test_inception_kind_gets_uint8_range_rgb_and_return_features(tmp_path):
    path = _scripted(tmp_path, _FlaggedStatsNet(), "inception-tiny.pt")
    ext = features.pretrained_features(path, "inception", device="cpu", batch_size=3)
    assert ext.name == "inception (inception-tiny.pt)" and ext.short_name == "inception"
    x = _gray()
    f = ext(x)
    assert f.shape == (7, N_STATS + 4) and f.dtype == np.float64
    expected_mean = ((x + 1) * 127.5).mean((1, 2, 3)).double().numpy()
    for c in range(3):  # the gray channel repeated to RGB, in 0..255
        assert np.allclose(f[:, c], expected_mean, atol=1e-3)
    assert np.allclose(f[:, 3], 0.0) and np.allclose(f[:, 4], 255.0)
    assert np.all(f[:, 5] == 8) and np.all(f[:, 6] == 8)  # no resizing here: the network resizes
    assert np.array_equal(f, ext(x))  # deterministic
    whole = features.PretrainedFeatures(path, "inception", device="cpu", batch_size=100)(x)
    assert np.allclose(f, whole, atol=1e-6)  # batching does not change the features
    # out-of-range values are clamped to the image range
    assert ext(x * 3)[:, 3:5].tolist() == [[0.0, 255.0]] * 7


def test_dinov2_kind_gets_imagenet_normalized_224(tmp_path):
    path = _traced(tmp_path, "dinov2-tiny.pt", size=features.DINOV2_RESOLUTION)
    ext = features.pretrained_features(str(path), "dinov2", device="cpu")
    value = 0.2  # a constant gray image: (0.2 + 1) / 2 = 0.6 in [0, 1] on every RGB channel
    f = ext(torch.full((3, 1, 8, 8), value))
    mean, std = np.array(features.IMAGENET_MEAN), np.array(features.IMAGENET_STD)
    expected = (0.6 - mean) / std
    assert np.allclose(f[:, :3], expected, atol=1e-5)
    assert np.allclose(f[:, 3], expected.min(), atol=1e-5) and np.allclose(f[:, 4], expected.max(), atol=1e-5)
    assert np.all(f[:, 5] == 224) and np.all(f[:, 6] == 224)
    rgb = torch.rand(5, 3, 14, 14, generator=torch.Generator().manual_seed(1)) * 2 - 1
    g = ext(rgb)
    assert g.shape == (5, N_STATS + 4) and np.array_equal(g, ext(rgb))
    assert np.all(g[:, 5] == 224) and not np.allclose(g[:, 0], g[0, 0])


def test_torchscript_kind_passes_images_as_they_are(tmp_path):
    ext = features.pretrained_features(_traced(tmp_path, "generic.pt"), "torchscript", device="cpu")
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(2)) * 2  # beyond [-1, 1]
    f = ext(x)
    assert f.shape == (6, N_STATS + 4)
    for c in range(3):
        assert np.allclose(f[:, c], x[:, c].mean((1, 2)).double().numpy(), atol=1e-6)
    assert np.allclose(f[:, 3], x.amin((1, 2, 3)).double().numpy()) and np.all(f[:, 5] == 8)


def test_output_must_be_two_dimensional(tmp_path):
    # the flagged network returns 1-D outputs unless called with return_features=True
    path = _scripted(tmp_path, _FlaggedStatsNet(), "flagged.pt")
    ext = features.pretrained_features(path, "torchscript", device="cpu")
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        ext(torch.zeros(2, 3, 8, 8))


def test_missing_file_wrong_kind_and_empty_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt") as err:
        features.pretrained_features(tmp_path / "nothing.pt", "inception")
    assert "pretrained_features(path" in str(err.value) and features.INCEPTION_URL in str(err.value)
    with pytest.raises(FileNotFoundError, match="torch.jit.trace"):
        features.PretrainedFeatures(tmp_path / "nothing.pt", "dinov2")
    with pytest.raises(ValueError, match="one of"):
        features.pretrained_features(_traced(tmp_path, "a.pt"), "clip")
    with pytest.raises(ValueError, match="one of"):  # a bad kind is reported even without a path
        features.pretrained_features("", "clip")
    assert features.pretrained_features("", "inception") is None
    assert features.pretrained_features(None, "dinov2") is None
    assert "no pretrained network" in features.describe_feature_spaces(None)


def test_pickled_module_only_with_allow_pickle(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.manual_seed(0)
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten()), path)
    with pytest.raises(ValueError, match="allow_pickle"):
        features.pretrained_features(path, "torchscript", device="cpu")
    ext = features.pretrained_features(path, "torchscript", device="cpu", allow_pickle=True)
    assert ext(torch.zeros(4, 3, 8, 8)).shape == (4, 5)


def test_fd_through_a_pretrained_network(tmp_path):
    from diffgen_lib.measure import metrics

    ext = features.pretrained_features(_scripted(tmp_path, _FlaggedStatsNet(), "i.pt"), "inception", device="cpu")
    a = features.as_numpy_features(ext, _gray(60, seed=3))
    b = features.as_numpy_features(ext, _gray(60, seed=3))
    assert np.array_equal(a, b)
    scale = np.trace(np.cov(a, rowvar=False))  # rank-deficient covariance (3 equal channels): round-off ~1e-8 of it
    assert scale > 1.0 and abs(metrics.frechet_distance(a, b)) < 1e-6 * scale
    shifted = features.as_numpy_features(ext, (_gray(60, seed=4) * 0.5 + 0.4))
    assert metrics.frechet_distance(a, shifted) > 0.01 * scale


# ----------------------------------------------------------------------------------------------
# Cache keys of the inference and factor results


class _Captured(Exception):
    pass


@pytest.fixture
def captured_keys(monkeypatch):
    """Make cached_result record (kind, key) and stop before computing anything."""
    from diffgen_lib import cache

    keys = []

    def capture(kind, key, compute, sources=()):
        keys.append((kind, key))
        raise _Captured

    monkeypatch.setattr(cache, "cached_result", capture)
    return keys


def test_cache_keys_unchanged_without_and_extended_with_a_network(tmp_path, captured_keys, monkeypatch):
    from diffgen_lib.measure import calibration
    from diffgen_lib.studies import experiments, factors, guidance
    from diffgen_lib.runs import run_key

    ext = features.pretrained_features(_traced(tmp_path, "net.pt"), "torchscript", device="cpu")
    identity = {"kind": "torchscript", "sha256": hashlib.sha256((tmp_path / "net.pt").read_bytes()).hexdigest()}
    assert ext.identity == identity

    def stand_in(config, progress=True):  # a trained run's key and snapshots, without training it
        return types.SimpleNamespace(config=config, key=run_key(config), snapshots={250: None, 1500: None})

    main = experiments.gap_run()
    for extra in (None, ext):
        with pytest.raises(_Captured):
            calibration.snapshot_calibration(stand_in(main), 1500, [0, 1, 2], extra_features=extra)
    # the key without a pretrained network
    old = {"run": run_key(main), "step": 1500, "seeds": [0, 1, 2], "n_draws": 5, "n_gen": 300, "n_steps": 18,
           "n_ref": 300, "partial": False, "ref_seed": 0}
    assert captured_keys[0] == ("snapshot-calibration", old)
    assert captured_keys[1] == ("snapshot-calibration", {**old, "features": identity})

    captured_keys.clear()
    cond = experiments.gap_run(labels="class")
    for extra in (None, ext):
        with pytest.raises(_Captured):
            guidance.guidance_sweep(stand_in(cond), [0.0, 1.0], 250, sigmas=[0.1, 1.0], extra_features=extra)
    old = {"run": run_key(cond), "weights": [0.0, 1.0], "negative_step": 250, "n_gen": 300, "n_steps": 18,
           "n_ref": 150, "n_subsets": 4, "n_eval": 200, "sigmas": [0.1, 1.0], "seed": 0}
    assert captured_keys[0] == ("factors-guidance", old)
    assert captured_keys[1] == ("factors-guidance", {**old, "features": identity})

    captured_keys.clear()
    monkeypatch.setattr(factors.evaluation, "gap_curves", lambda *a, **k: None)
    for extra in (None, ext):
        with pytest.raises(_Captured):
            factors.kmeans_sweep({0: stand_in(factors.kmeans_config(0))}, extra_features=extra)
    old = {"run": run_key(factors.kmeans_config(0)), "n_gen": 300, "n_steps": 18, "n_ref": 150,
           "n_subsets": 4, "seed": 0}
    assert captured_keys[0] == ("factors-kmeans-inference", old)
    assert captured_keys[1] == ("factors-kmeans-inference", {**old, "features": identity})


def test_feature_spaces_include_the_network_under_its_kind(tmp_path, monkeypatch):
    ext = features.pretrained_features(_traced(tmp_path, "net.pt"), "torchscript", device="cpu")
    monkeypatch.setattr(features, "run_classifier", lambda config, device="cpu": "clf")
    assert list(features.feature_spaces(None)) == ["pixels", "classifier"]
    spaces = features.feature_spaces(None, ext)
    assert list(spaces) == ["pixels", "classifier", "torchscript"] and spaces["torchscript"] is ext
    assert features.describe_feature_spaces(ext).endswith("and torchscript (net.pt)")
