"""The runs the chapters train, gathered so that the book build trains them all together.

The training-gap chapter trains the shared runs and the factors chapter its guidance and
k-means runs. Trained one chapter at a time, two workers idle whenever a chapter's last, longest
run trains alone; gathered, every independent run of the book goes to :func:`train.train_many`
at once, longest first, and the chapters then load them from the cache (their own
``train_many`` calls find nothing left to train). The configs come from the same functions the
chapters call, so the cache keys are the same.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List

from ..runs import TrainConfig, run_dir
from ..train import train_many
from . import experiments, factors

IMAGE_PIXELS = {"digits": 64, "mnist5k": 784, "mnist5k14": 196, "mnist": 784, "mnist14": 196,
                "fashion_mnist": 784, "fashion_mnist14": 196, "cifar10": 3072}
"""Pixels per image (all channels) of each dataset, for :func:`training_cost` (a test checks it
against the loaders)."""

CHAPTER_RUNS: Dict[str, Callable[[Dict[str, Any]], List[TrainConfig]]] = {
    "03_training_gap": lambda values: list(experiments.shared_runs(values).values()),
    "06_factors": lambda values: factors.factor_runs(values).all(),
}
"""Chapter stem -> the configs it trains for its parameter values."""


def training_cost(config: TrainConfig) -> float:
    """A run's training work up to a constant: images seen x pixels x the squared width of its
    widest layer (the cost of a convolution grows with in x out channels)."""
    width = config.mlp_width if config.model == "mlp" else config.channels * max(config.channel_mult)
    return float(config.max_steps * config.batch_size * IMAGE_PIXELS.get(config.dataset, 3072) * width ** 2)


def longest_first(configs: Iterable[TrainConfig]) -> List[TrainConfig]:
    """``configs`` without repeats, the most costly first (the order in which two workers finish
    a set of independent runs soonest: each new run goes to the first free worker)."""
    unique: Dict[str, TrainConfig] = {}
    for config in configs:
        unique.setdefault(repr(config), config)
    return sorted(unique.values(), key=training_cost, reverse=True)


def runs_of_chapters(values_of: Dict[str, Dict[str, Any]]) -> List[TrainConfig]:
    """Every config the chapters of ``values_of`` (stem -> parameter values) train, longest
    first; chapters that train nothing of their own contribute nothing."""
    configs = [c for stem, values in values_of.items() if stem in CHAPTER_RUNS
               for c in CHAPTER_RUNS[stem](values)]
    return longest_first(configs)


def train_together(configs: Iterable[TrainConfig], progress: bool = True) -> List[TrainConfig]:
    """Train the configs not yet in the cache, side by side and longest first
    (:func:`train.train_many`); returns the ones that were missing."""
    todo = [c for c in longest_first(configs) if not (run_dir(c) / "run.pt").exists()]
    if todo:
        train_many(todo, progress=progress)
    return todo
