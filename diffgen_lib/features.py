"""Feature spaces for the FD and nearest-neighbour metrics.

The paper measures FD in DINOv2 and Inception features; both need downloaded weights. The book
uses feature spaces that need none: raw pixels, and a small classifier trained here on the
"feature" split, which is disjoint from the train and val splits that the metrics compare. Any
callable mapping an image batch (N, C, H, W) to an (N, d) array plugs in as an extractor.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from . import __version__, cache

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
    if use_cache and path.exists():
        try:
            state = cache.read_checked(path)
            net.load_state_dict(state["weights"])
            return ClassifierFeatures(net.to(device), state["train_accuracy"])
        except cache.CorruptCacheEntry:
            path.unlink()
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
    if use_cache:
        cache.write_checked(path, {"weights": net.state_dict(), "train_accuracy": features.train_accuracy})
    features.net.to(device)
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
