"""Feature spaces for the FD and nearest-neighbour metrics.

The paper measures FD in DINOv2 and Inception features; both need downloaded weights. The book
uses feature spaces that need none: raw pixels, and a small classifier trained here on the
"feature" split, which is disjoint from the train and val splits that the metrics compare. Any
callable mapping an image batch (N, C, H, W) to an (N, d) array plugs in as an extractor.

When the weights are on disk, :func:`pretrained_features` loads them (:class:`PretrainedFeatures`:
the TorchScript Inception-v3 of FID, a TorchScript export of DINOv2, or any TorchScript network)
and the FD and nearest-neighbour measurements add that feature space to the two above.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Protocol, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__, cache
from .networks import resolve_device

Tensor = torch.Tensor


class FeatureExtractor(Protocol):
    """Maps images (N, C, H, W) in [-1, 1] to features (N, d)."""

    name: str

    def __call__(self, images: Tensor) -> np.ndarray: ...


class PixelFeatures:
    """The identity feature space: flattened pixels."""

    name = "pixels"

    def __call__(self, images: Tensor) -> np.ndarray:
        return images.detach().cpu().reshape(len(images), -1).double().numpy()


@dataclass(frozen=True)
class ClassifierConfig:
    """A small CNN classifier whose penultimate layer is the feature space."""

    width: int = 32
    feature_dim: int = 32
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def validate(self) -> None:
        for name in ("width", "feature_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ClassifierConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr <= 1:
            raise ValueError(f"ClassifierConfig.lr must be in (0, 1], got {self.lr}")


class SmallClassifier(nn.Module):
    """Two conv blocks, global average pooling, a feature layer and a linear head."""

    def __init__(self, channels: int, n_classes: int, width: int, feature_dim: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.SiLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(8 * width, feature_dim), nn.SiLU(),
        )
        self.head = nn.Linear(feature_dim, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class ClassifierFeatures:
    """Penultimate-layer features of a :class:`SmallClassifier`."""

    name = "classifier"

    def __init__(self, net: SmallClassifier, train_accuracy: float):
        self.net = net.eval()
        self.train_accuracy = train_accuracy

    @torch.no_grad()
    def __call__(self, images: Tensor, batch_size: int = 1024) -> np.ndarray:
        device = next(self.net.parameters()).device
        out = [self.net.body(images[i:i + batch_size].to(device)).double().cpu()
               for i in range(0, len(images), batch_size)]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """Classification accuracy on a labelled set (say, the val split)."""
        device = next(self.net.parameters()).device
        pred = self.net(images.to(device)).argmax(1).cpu()
        return float((pred == labels.cpu()).double().mean())


def train_classifier(images: Tensor, labels: Tensor, n_classes: int, config: ClassifierConfig = ClassifierConfig(),
                     device: str = "cpu", use_cache: bool = True) -> ClassifierFeatures:
    """Train the feature classifier on the feature split, or load it from the cache.

    The cache key covers the config, the exact images and labels, the library version and
    this module's source.
    """
    config.validate()
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (> 0), got {len(images)} and {len(labels)}")
    net = SmallClassifier(images.shape[1], n_classes, config.width, config.feature_dim)
    digest = hashlib.sha256(images.cpu().numpy().tobytes() + labels.cpu().numpy().tobytes()).hexdigest()
    key = cache.stable_hash({"kind": "classifier", "config": asdict(config), "data": digest,
                             "n_classes": n_classes, "version": __version__,
                             "source": cache.source_hash([Path(__file__)])})
    path = cache.cache_dir() / f"classifier-{key[:20]}.pt"
    if not use_cache:
        features = _fit_classifier(images, labels, n_classes, config, device)
        features.net.to(device)
        return features
    with cache.computed_once(path):  # processes side by side train it once
        if path.exists():
            try:
                state = cache.read_checked(path)
                net.load_state_dict(state["weights"])
                return ClassifierFeatures(net.to(device), state["train_accuracy"])
            except cache.CorruptCacheEntry:
                path.unlink()
        features = _fit_classifier(images, labels, n_classes, config, device)
        cache.write_checked(path, {"weights": features.net.state_dict(), "train_accuracy": features.train_accuracy})
        features.net.to(device)
        return features


def _fit_classifier(images: Tensor, labels: Tensor, n_classes: int, config: ClassifierConfig,
                    device: str) -> ClassifierFeatures:
    """Train the feature classifier on ``device`` (:func:`train_classifier` without the cache);
    returns it on the CPU."""
    torch.manual_seed(config.seed)
    net = SmallClassifier(images.shape[1], n_classes, config.width, config.feature_dim).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    x_all, y_all = images.to(device), labels.to(device)
    for _ in range(config.epochs):
        order = torch.randperm(len(images), generator=gen).to(device)
        for start in range(0, len(images), config.batch_size):
            idx = order[start:start + config.batch_size]
            loss = nn.functional.cross_entropy(net(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    features = ClassifierFeatures(net.cpu(), 0.0)
    features.train_accuracy = features.accuracy(images, labels)
    return features


def as_numpy_features(extractor, images: Tensor) -> np.ndarray:
    """Run an extractor and return float64 (N, d) features, checking the shape."""
    feats = extractor(images)
    if isinstance(feats, torch.Tensor):
        feats = feats.detach().cpu().numpy()
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or len(feats) != len(images):
        raise ValueError(f"an extractor must return (N, d) features, got shape {feats.shape} for N = {len(images)}")
    return feats


# ----------------------------------------------------------------------------------------------
# Pretrained networks loaded from local files


PRETRAINED_KINDS = ("inception", "dinov2", "torchscript")
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DINOV2_RESOLUTION = 224

_HOW_TO_GET = {
    "inception": f"download NVIDIA's TorchScript Inception-v3 of FID, inception-2015-12-05.pt, from {INCEPTION_URL}",
    "dinov2": ("export DINOv2 once as TorchScript, e.g. net = torch.hub.load('facebookresearch/dinov2', "
               "'dinov2_vitl14').eval(); torch.jit.trace(net, torch.zeros(1, 3, 224, 224)).save('dinov2_vitl14.pt')"),
    "torchscript": ("save a network that maps images in [-1, 1] to (N, d) features with "
                    "torch.jit.script(net).save('features.pt')"),
}


def file_sha256(path: Union[str, os.PathLike], chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes (the identity of a weights file in cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_kind(kind: str) -> None:
    if kind not in PRETRAINED_KINDS:
        raise ValueError(f"feature network kind must be one of {list(PRETRAINED_KINDS)}, got {kind!r}")


def _forward_arguments(net) -> list:
    """Argument names of ``net.forward`` (TorchScript schema or Python signature; [] if unknown)."""
    schema = getattr(getattr(net, "forward", None), "schema", None)
    if schema is not None:
        return [a.name for a in schema.arguments]
    try:
        return list(inspect.signature(net.forward).parameters)
    except (TypeError, ValueError, AttributeError):
        return []


def load_network(path: Union[str, os.PathLike], device="cpu", allow_pickle: bool = False):
    """A network from a TorchScript file (``torch.jit.load``), in eval mode on ``device``.

    A file that is not TorchScript is loaded as a pickled ``nn.Module`` only with
    ``allow_pickle=True``: unpickling runs code from the file, so only for files you trust.
    """
    device = resolve_device(device)
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format these networks ship in
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load.*", category=DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device)
    except RuntimeError as exc:
        if not allow_pickle:
            raise ValueError(f"{path} is not a TorchScript file ({str(exc).splitlines()[0]}); if it is a "
                             "pickled nn.Module from a source you trust, pass allow_pickle=True") from None
        net = torch.load(str(path), map_location=device, weights_only=False)
        if not isinstance(net, nn.Module):
            raise ValueError(f"{path} holds a {type(net).__name__}, not a TorchScript network or an "
                             "nn.Module (a state dict needs its model class; export the model with "
                             "torch.jit.script or torch.jit.trace instead)") from None
        net = net.to(device)
    return net.eval()


class PretrainedFeatures:
    """Features of a network loaded from a local file, with the preprocessing of its ``kind``.

    - ``"inception"``: the TorchScript Inception-v3 of FID (NVIDIA's inception-2015-12-05.pt):
      RGB in the uint8 range 0..255 as floats (the network resizes to 299 x 299 itself), called
      with ``return_features=True`` when its forward takes that argument: 2048 pool features.
    - ``"dinov2"``: a TorchScript DINOv2 ViT: RGB in [0, 1] resized to 224 x 224 (bicubic,
      antialiased), normalized with the ImageNet mean and std; returns the CLS embedding.
    - ``"torchscript"``: any network; gets the images in [-1, 1] as they are.

    The first two kinds clamp the images to [-1, 1] and repeat a grayscale channel to RGB.
    Features are computed in batches without gradients on ``device`` and returned as float64
    (N, d) arrays. :attr:`identity` (kind and the file's sha256) goes into cache keys.
    """

    def __init__(self, path: Union[str, os.PathLike], kind: str = "inception", device="auto",
                 batch_size: int = 64, allow_pickle: bool = False):
        _check_kind(kind)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"no {kind} weights at {str(path)!r}: {_HOW_TO_GET[kind]}; put the file in a folder of "
                f"your choice and pass its path (features.pretrained_features(path, {kind!r})); an empty path "
                "means no pretrained network.")
        self.path, self.kind, self.batch_size = path, kind, int(batch_size)
        self.device = resolve_device(device)
        self.sha256 = file_sha256(path)
        self.net = load_network(path, self.device, allow_pickle)
        self.name = f"{kind} ({path.name})"
        self.short_name = kind  # the feature space's key next to "pixels" and "classifier"
        self._return_features = kind == "inception" and "return_features" in _forward_arguments(self.net)

    @property
    def identity(self) -> dict:
        """What decides the features: the kind (preprocessing) and the weights file's sha256."""
        return {"kind": self.kind, "sha256": self.sha256}

    def preprocess(self, images: Tensor) -> Tensor:
        """Images (N, C, H, W) in [-1, 1] as the network of this kind expects them (float32)."""
        x = images.float()
        if self.kind == "torchscript":
            return x
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"{self.name} needs 1 or 3 channels, got images of shape {tuple(images.shape)}")
        x = x.clamp(-1.0, 1.0)
        if self.kind == "inception":
            return (x + 1.0) * 127.5
        x = F.interpolate((x + 1.0) / 2.0, size=(DINOV2_RESOLUTION, DINOV2_RESOLUTION), mode="bicubic",
                          align_corners=False, antialias=True)
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def __call__(self, images: Tensor) -> np.ndarray:
        if len(images) == 0:
            raise ValueError(f"{self.name}: no images to compute features of")
        out = []
        for start in range(0, len(images), self.batch_size):
            x = self.preprocess(images[start:start + self.batch_size].to(self.device))
            y = self.net(x, return_features=True) if self._return_features else self.net(x)
            if not isinstance(y, torch.Tensor) or y.ndim != 2 or len(y) != len(x):
                shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
                raise ValueError(f"{self.name} returned {shape} for a batch of {len(x)} images; a feature "
                                 f"network must return (N, d) features (kind {self.kind!r}: "
                                 f"{'the 2048 pool features' if self.kind == 'inception' else 'one vector per image'})")
            out.append(y.double().cpu())
        return torch.cat(out).numpy()


def pretrained_features(path: Union[str, os.PathLike, None], kind: str = "inception", device="auto",
                        batch_size: int = 64, allow_pickle: bool = False) -> Optional[PretrainedFeatures]:
    """The entry point for a path parameter: :class:`PretrainedFeatures` of a local weights file, or None
    for an empty path (no pretrained network: pixels and the classifier only)."""
    _check_kind(kind)
    if path is None or not str(path).strip():
        return None
    return PretrainedFeatures(str(path).strip(), kind, device, batch_size, allow_pickle)


# ----------------------------------------------------------------------------------------------
# The feature spaces of a run's inference measurements (one protocol for every measurement)


def class_splits(config):
    """A run's data splits with the dataset's class labels (a k-means run relabels its own splits
    with cluster ids; those label its training, not the data)."""
    from .data import load_splits

    return load_splits(config.dataset, config.n_train, config.n_val, config.n_feature,
                       seed=config.split_seed, root=config.root)


def run_classifier(config, device="cpu") -> "ClassifierFeatures":
    """The classifier whose penultimate layer is the book's learned feature space for a run:
    trained (cached) on the run's feature split, disjoint from its training and val images, with
    the dataset's class labels, so every run of one data split shares it."""
    splits = class_splits(config)
    return train_classifier(splits.feature.images, splits.feature.labels, splits.n_classes, device=str(device))


def feature_spaces(config, extra: Optional["PretrainedFeatures"] = None, device="cpu") -> dict:
    """The feature spaces of a run's FD and nearest-neighbour statistics: pixels, the run's
    feature classifier (:func:`run_classifier`) and a pretrained network from a local file when
    one is given (keyed by its kind)."""
    spaces = {"pixels": PixelFeatures(), "classifier": run_classifier(config, device)}
    if extra is not None:
        spaces[extra.short_name] = extra
    return spaces


def describe_feature_spaces(extra: Optional[PretrainedFeatures] = None) -> str:
    """The feature spaces of the FD and nearest-neighbour measurements, as a phrase."""
    if extra is None:
        return "pixels and classifier (trained on the feature split); no pretrained network (feature_net is empty)"
    return f"pixels, classifier (trained on the feature split) and {extra.name}"


def with_features_identity(key: dict, extra: Optional[PretrainedFeatures] = None) -> dict:
    """A results cache key with the pretrained network's identity added; the key itself when
    there is none (so the entries computed without one keep their keys)."""
    if extra is None:
        return key
    return {**key, "features": extra.identity}
