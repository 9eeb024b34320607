"""Datasets, splits, file loaders (on tiny fixture files) and k-means labels."""

import gzip
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from diffgen_lib import data

torch.set_num_threads(2)


# ----------------------------------------------------------------------------------------------
# Splits


def test_digits_splits_are_disjoint_stratified_and_deterministic():
    splits = data.load_splits("digits", n_train=300, n_val=200, n_feature=100, seed=3)
    parts = [splits.train, splits.val, splits.feature]
    assert [len(p) for p in parts] == [300, 200, 100]
    sets = [set(p.indices.tolist()) for p in parts]
    assert all(len(s) == len(p) for s, p in zip(sets, parts))
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])

    pool = data.load_pool("digits")
    share = np.bincount(pool.labels.numpy(), minlength=10) / len(pool)
    for part in parts:
        counts = np.bincount(part.labels.numpy(), minlength=10)
        assert np.abs(counts - share * len(part)).max() <= 1.5, counts
        assert torch.equal(part.images, pool.images[part.indices])
        assert torch.equal(part.labels, pool.labels[part.indices])

    again = data.load_splits("digits", n_train=300, n_val=200, n_feature=100, seed=3)
    other = data.load_splits("digits", n_train=300, n_val=200, n_feature=100, seed=4)
    assert torch.equal(again.train.indices, splits.train.indices)
    assert not torch.equal(other.train.indices, splits.train.indices)


def test_val_fixed_and_train_nested_across_n_train():
    small = data.load_splits("digits", n_train=100, n_val=200, n_feature=100)
    large = data.load_splits("digits", n_train=400, n_val=200, n_feature=100)
    assert torch.equal(small.val.indices, large.val.indices)
    assert torch.equal(small.feature.indices, large.feature.indices)
    assert set(small.train.indices.tolist()) <= set(large.train.indices.tolist())


def test_images_range_shape_and_sigma_data():
    splits = data.load_splits("digits", n_train=300, n_val=10, n_feature=0)
    images = splits.train.images
    assert images.dtype == torch.float32 and splits.train.labels.dtype == torch.int64
    assert images.shape == (300, 1, 8, 8) and splits.image_shape == (1, 8, 8)
    assert images.min() >= -1 and images.max() <= 1 and images.min() == -1
    assert splits.n_classes == 10 and len(splits.feature) == 0
    assert splits.sigma_data == pytest.approx(float(images.double().std()), rel=1e-9)
    assert 0.5 < splits.sigma_data < 1.0


def test_mnist5k_and_its_14x14_pooling():
    full = data.load_pool("mnist5k")
    small = data.load_pool("mnist5k14")
    assert full.images.shape == (5000, 1, 28, 28) and small.images.shape == (5000, 1, 14, 14)
    assert full.images.min() == -1 and full.images.max() == 1
    pooled = torch.nn.functional.avg_pool2d(full.images[:5], 2)
    assert torch.allclose(small.images[:5], pooled, atol=1e-6)
    assert torch.equal(full.labels, small.labels)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="imagenet"), "unknown dataset 'imagenet'; known datasets: digits, mnist5k"),
    (dict(name="digits", n_train=1000, n_val=500, n_feature=500), "exceeds the 1797 images"),
    (dict(name="digits", n_train=0), "n_train must be an int >= 1"),
    (dict(name="digits", n_val=-1), "n_val must be an int >= 0"),
    (dict(name="digits", n_feature=2.5), "n_feature must be an int >= 0"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_splits(**kwargs)


# ----------------------------------------------------------------------------------------------
# File loaders on fixture files


def _write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def _write_mnist(root, folder, gz, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train + n_test) % 10
    suffix = ".gz" if gz else ""
    _write_idx(raw / f"train-images-idx3-ubyte{suffix}", images[:n_train], gz)
    _write_idx(raw / f"train-labels-idx1-ubyte{suffix}", labels[:n_train], gz)
    _write_idx(raw / f"t10k-images-idx3-ubyte{suffix}", images[n_train:], gz)
    _write_idx(raw / f"t10k-labels-idx1-ubyte{suffix}", labels[n_train:], gz)
    return images, labels


@pytest.mark.parametrize("name, folder, gz", [("mnist", "MNIST", False),
                                              ("fashion_mnist", "FashionMNIST", True)])
def test_idx_loader_on_fixture(tmp_path, name, folder, gz):
    images, labels = _write_mnist(tmp_path, folder, gz)
    pool = data.load_pool(name, root=tmp_path)
    assert pool.images.shape == (40, 1, 28, 28)
    expected = torch.tensor(images, dtype=torch.float32)[:, None] / 127.5 - 1
    assert torch.allclose(pool.images, expected)
    assert torch.equal(pool.labels, torch.tensor(labels, dtype=torch.int64))

    small = data.load_pool(name + "14", root=tmp_path)
    assert small.images.shape == (40, 1, 14, 14)
    assert torch.allclose(small.images, torch.nn.functional.avg_pool2d(expected, 2), atol=1e-6)

    splits = data.load_splits(name, n_train=20, n_val=10, n_feature=10, root=tmp_path)
    assert [len(splits.train), len(splits.val), len(splits.feature)] == [20, 10, 10]
    for part in (splits.train, splits.val, splits.feature):
        assert np.bincount(part.labels.numpy(), minlength=10).max() - \
            np.bincount(part.labels.numpy(), minlength=10).min() <= 1


def test_cifar_loader_on_fixture(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows, labels = [], []
    for name in data.CIFAR_FILES:
        batch_rows = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        batch_labels = rng.integers(0, 10, size=4).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": batch_rows, b"labels": batch_labels, b"batch_label": name.encode()},
                        f, protocol=2)
        rows.append(batch_rows)
        labels += batch_labels
    rows = np.concatenate(rows)
    pool = data.load_pool("cifar10", root=tmp_path)
    assert pool.images.shape == (24, 3, 32, 32)
    # A row holds the red plane, then green, then blue, each row-major 32x32.
    image, channel, y, x = 13, 2, 5, 7
    expected = rows[image, channel * 1024 + y * 32 + x] / 127.5 - 1
    assert pool.images[image, channel, y, x] == pytest.approx(expected)
    assert pool.labels.tolist() == labels


def test_missing_files_say_which_files_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_pool("mnist", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    for name in data.IDX_FILES:
        assert name in message
    assert "DIFFGEN_DATA" in message

    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        data.load_pool("cifar10", root=tmp_path)
    message = str(info.value)
    assert "Missing: data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch" in message


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 8)
    with pytest.raises(ValueError, match="unsigned-byte IDX"):
        data.read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 5) + b"\x01\x02")
    with pytest.raises(ValueError, match="header says"):
        data.read_idx(short)


# ----------------------------------------------------------------------------------------------
# k-means labels


def test_kmeans_labels_and_assignment_of_val():
    splits = data.load_splits("digits", n_train=200, n_val=100, n_feature=0)
    assert data.kmeans_labels(splits.train.images, 0) is None
    ids = data.kmeans_labels(splits.train.images, 5, seed=1)
    assert ids.dtype == torch.int64 and ids.shape == (200,) and set(ids.tolist()) == set(range(5))
    assert torch.equal(ids, data.kmeans_labels(splits.train.images, 5, seed=1))

    clusters = data.fit_clusters(splits.train.images, 5, seed=1)
    assert clusters.centroids.shape == (5, 64)
    val_ids = clusters.assign(splits.val.images)
    flat = splits.val.images.flatten(1)
    nearest = torch.cdist(flat.double(), clusters.centroids.double()).argmin(1)
    assert torch.equal(val_ids, nearest)

    relabelled = data.relabel(splits, clusters)
    assert relabelled.n_classes == 5
    assert torch.equal(relabelled.val.labels, val_ids)
    assert torch.equal(relabelled.train.images, splits.train.images)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        data.fit_clusters(splits.train.images, -1)


# ----------------------------------------------------------------------------------------------
# pool sizes (what the command line checks n_train against) and damaged files


def test_pool_sizes_match_the_loaders():
    """The static table agrees with the loaders: the shipped datasets always, the others when
    their files are in the data folder."""
    assert set(data.POOL_SIZES) == set(data.DATASETS)
    for name, source in data.DATASETS.items():
        assert source.size == data.POOL_SIZES[name] == data.dataset_size(name)
        if source.needs_root and not (data.default_data_root()).is_dir():
            continue
        try:
            pool = data.load_pool(name)
        except FileNotFoundError:
            continue
        assert len(pool) == data.dataset_size(name), name
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        data.dataset_size("nope")


def test_dataset_size_imports_no_torch():
    code = ("import sys; from diffgen_lib.data import dataset_size; "
            "assert dataset_size('cifar10') == 60000; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(data.__file__).parent.parent)


@pytest.mark.parametrize("content", [b"not a pickle at all", pickle.dumps({b"data": 1})[:-5],
                                     pickle.dumps({b"labels": [1]}),
                                     pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]})])
def test_damaged_cifar_batch_names_the_file(tmp_path, content):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in data.CIFAR_FILES:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, f)
    (folder / "data_batch_3").write_bytes(content)
    with pytest.raises(ValueError) as info:
        data.load_pool("cifar10", root=tmp_path)
    message = str(info.value)
    assert str(folder / "data_batch_3") in message and "\n" not in message


def test_truncated_idx_files_name_the_file(tmp_path):
    header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 10, 28, 28)
    full = header + bytes(10 * 28 * 28)
    for size, match in ((5000, "header says"), (10, "truncated IDX header")):
        path = tmp_path / f"cut{size}"
        path.write_bytes(full[:size])
        with pytest.raises(ValueError, match=match) as info:
            data.read_idx(path)
        assert str(path) in str(info.value)
    packed = gzip.compress(full)
    path = tmp_path / "cut-idx3-ubyte.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cannot be decompressed") as info:
        data.read_idx(path)
    assert str(path) in str(info.value)
