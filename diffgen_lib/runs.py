"""Training runs as data: :class:`TrainConfig` (every setting of a run, defaults in one place),
its cache key (:func:`run_key`: the config, the arithmetic settings that change its bits, the
package version and the source that decides a trained result) and :class:`TrainedRun`, the
trained network's snapshots with the data they were trained on: what every measurement receives.

:func:`diffgen_lib.train.train` produces a run; :func:`load_cached` reads a finished one back.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from . import __version__
from . import cache as cache_lib
from . import distributed
from .data import DATASETS, Clusters, Splits, fit_clusters, load_splits, relabel
from .diffusion import EDMPrecond
from .networks import MLPDenoiser, UNet, resolve_device

Tensor = torch.Tensor

# Modules whose source decides a trained result; editing one of them invalidates the cache.
_RESULT_MODULES = ("data.py", "networks.py", "diffusion.py", "runs.py", "train.py", "optim.py")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # training arithmetic: autocast dtype (None: fp32)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; the defaults are the book's CPU-sized run.

    The defaults train a 0.38M-parameter U-Net on 300 of scikit-learn's 8x8 digits for 1500
    steps of 64 images (about 40 s on two CPU cores). It overfits visibly: the relative gap
    between held-out and training denoising error grows through training, is largest at
    sigma ~ 0.2 (about 1.4 after 1500 steps) and is near zero at sigma >= 2.

    ``max_seconds`` caps the wall-clock time of one :func:`train` call. A capped run stops
    early, saves a resumable checkpoint and returns ``complete=False`` with the snapshots it
    reached plus the current step. It is not part of the cache key (it does not change the
    weights, only how far one call gets): the next call with the same config resumes from the
    checkpoint and, once ``max_steps`` is reached, stores the finished run, which every later
    call loads. ``root`` (where dataset files live) and ``device`` are not in the key either;
    the device *type* that ``device`` resolves to is, as CPU and CUDA arithmetic differ.
    """

    # data
    dataset: str = "digits"
    n_train: int = 300
    n_val: int = 500
    n_feature: int = 500
    split_seed: int = 0
    labels: str = "none"  # "none", "class" (dataset classes) or "kmeans" (n_clusters ids)
    n_clusters: int = 0  # k-means clusters of the training images; 0 = unconditional
    # network
    model: str = "unet"  # "unet" or "mlp"
    channels: int = 32  # U-Net base width
    channel_mult: Tuple[int, ...] = (1, 2)  # U-Net levels and their width multipliers
    num_blocks: int = 1  # U-Net residual blocks per level
    kernel_size: int = 3  # U-Net convolution kernel (with the levels, sets the receptive field)
    attention: bool = False  # U-Net self-attention at the lowest resolution
    norm: str = "group"  # U-Net normalization: "group" or "pixel" (strictly local)
    dropout: float = 0.0  # U-Net dropout in the residual blocks
    upsample_conv: bool = False  # U-Net: a conv after each nearest-neighbour upsampling
    channels_last: bool = True  # U-Net in channels-last memory format (~15% faster on CPU and GPU)
    mlp_width: int = 256
    mlp_depth: int = 4
    # optimization
    label_dropout: float = 0.0  # probability of the NULL label (classifier-free guidance)
    batch_size: int = 64  # global: split evenly over the processes of a torchrun launch
    lr: float = 2e-3
    lr_warmup_steps: int = 0  # linear warmup from 0 to lr
    # EMA of the weights, kept beside them (snapshots store both; the raw weights do not depend
    # on it): EDM's half-life in thousands of training images and its ramp-up (the half-life is at
    # most this fraction of the images seen so far), EDM's CIFAR-10 defaults. ``ema`` (a fixed
    # decay per step) replaces the half-life when set; ema_halflife_kimg None = no EMA.
    ema_halflife_kimg: Optional[float] = 500.0
    ema_rampup_ratio: Optional[float] = 0.05
    ema: Optional[float] = None
    max_steps: int = 1500
    snapshot_steps: Tuple[int, ...] = ()  # max_steps is always added
    max_seconds: Optional[float] = None
    seed: int = 0
    device: str = "auto"
    P_mean: float = -1.2  # noise-level distribution ln(sigma) ~ N(P_mean, P_std^2) (EDM)
    P_std: float = 1.2
    sigma_data: Optional[float] = None  # None = std of the training pixels
    # arithmetic (in the key: each changes the trained weights)
    precision: str = "fp32"  # "fp32" or "bf16" (forward/backward under bf16 autocast, fp32 weights)
    compile: bool = False  # torch.compile the network for training (GPU runs; minutes of compile)
    threads: int = 0  # CPU threads of training (0: the process's torch thread count); in the key
    root: Optional[str] = None  # folder with dataset files (see data.py)

    def __post_init__(self):
        for name in ("channel_mult", "snapshot_steps"):  # lists from callers become tuples
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if self.root is not None and not isinstance(self.root, str):
            object.__setattr__(self, "root", str(self.root))
        self.validate()

    @property
    def keeps_ema(self) -> bool:
        """True when training keeps an EMA of the weights (snapshots of both)."""
        return self.ema is not None or self.ema_halflife_kimg is not None

    @property
    def conditional(self) -> bool:
        return self.labels == "class" or (self.labels == "kmeans" and self.n_clusters > 0)

    def validate(self) -> None:
        """Raise ValueError naming the first bad field, what is allowed and what was given."""
        def fail(field, allowed):
            raise ValueError(f"TrainConfig.{field} must be {allowed}, got {getattr(self, field)!r}")

        def is_int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        def is_num(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if self.dataset not in DATASETS:
            fail("dataset", f"one of {list(DATASETS)}")
        for field, low in (("n_train", 1), ("n_val", 0), ("n_feature", 0), ("split_seed", 0),
                           ("channels", 1), ("num_blocks", 1), ("mlp_width", 1), ("mlp_depth", 1),
                           ("batch_size", 1), ("lr_warmup_steps", 0), ("max_steps", 1), ("seed", 0),
                           ("threads", 0)):
            if not is_int(getattr(self, field)) or getattr(self, field) < low:
                fail(field, f"an int >= {low}")
        size = DATASETS[self.dataset].size
        if self.n_train + self.n_val + self.n_feature > size:
            fail("n_train", f"at most {size} - n_val - n_feature = "
                            f"{size - self.n_val - self.n_feature} for dataset {self.dataset!r} "
                            f"({size} images)")
        if self.labels not in ("none", "class", "kmeans"):
            fail("labels", "'none', 'class' or 'kmeans'")
        if not is_int(self.n_clusters) or not 0 <= self.n_clusters <= self.n_train:
            fail("n_clusters", f"an int in [0, n_train = {self.n_train}]")
        if self.n_clusters and self.labels != "kmeans":
            fail("n_clusters", "0 unless labels == 'kmeans'")
        if self.model not in ("unet", "mlp"):
            fail("model", "'unet' or 'mlp'")
        if (not isinstance(self.channel_mult, tuple) or not self.channel_mult
                or not all(is_int(m) and m >= 1 for m in self.channel_mult)):
            fail("channel_mult", "a non-empty tuple of ints >= 1")
        if not is_int(self.kernel_size) or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            fail("kernel_size", "an odd int >= 1")
        if not isinstance(self.attention, bool):
            fail("attention", "True or False")
        if self.norm not in ("group", "pixel"):
            fail("norm", "'group' or 'pixel'")
        if not is_num(self.dropout) or not 0 <= self.dropout < 1:
            fail("dropout", "a number in [0, 1)")
        if not is_num(self.label_dropout) or not 0 <= self.label_dropout < 1:
            fail("label_dropout", "a number in [0, 1)")
        if self.label_dropout > 0 and not self.conditional:
            fail("label_dropout", "0 for an unconditional model (labels 'none' or n_clusters 0)")
        if not is_num(self.lr) or self.lr <= 0:
            fail("lr", "a number > 0")
        if self.ema is not None and (not is_num(self.ema) or not 0 < self.ema < 1):
            fail("ema", "None or a decay in (0, 1)")
        for field in ("ema_halflife_kimg", "ema_rampup_ratio"):
            value = getattr(self, field)
            if value is not None and (not is_num(value) or value <= 0):
                fail(field, "None or a number > 0")
        if (not isinstance(self.snapshot_steps, tuple)
                or not all(is_int(s) and 1 <= s <= self.max_steps for s in self.snapshot_steps)):
            fail("snapshot_steps", f"a tuple of ints in [1, max_steps = {self.max_steps}]")
        if self.max_seconds is not None and (not is_num(self.max_seconds) or self.max_seconds <= 0):
            fail("max_seconds", "None or a number > 0")
        if not isinstance(self.device, str) or not (
                self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            fail("device", "'auto', 'cpu', 'cuda' or 'cuda:N'")
        if not is_num(self.P_mean):
            fail("P_mean", "a finite number")
        if not is_num(self.P_std) or self.P_std <= 0:
            fail("P_std", "a number > 0")
        if self.sigma_data is not None and (not is_num(self.sigma_data) or self.sigma_data <= 0):
            fail("sigma_data", "None or a number > 0")
        if self.precision not in PRECISIONS:
            fail("precision", f"one of {list(PRECISIONS)}")
        for field in ("upsample_conv", "channels_last", "compile"):
            if not isinstance(getattr(self, field), bool):
                fail(field, "True or False")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**d)


# Fields that do not change the trained weights (see TrainConfig's docstring); ``threads`` does,
# and enters the key as the thread count of :func:`arithmetic_settings`.
_NOT_IN_KEY = ("root", "device", "max_seconds", "threads")


# Process-wide torch settings that change a run's bits besides its config: the fp32 precision
# of oneDNN (CPU) and of cuBLAS / cuDNN (TF32, bf16 passes). Read with the torch 2.9+ names; a
# name an older torch lacks reads as None.
_CPU_SETTINGS = ("backends.fp32_precision", "backends.mkldnn.enabled", "backends.mkldnn.fp32_precision",
                 "backends.mkldnn.matmul.fp32_precision", "backends.mkldnn.conv.fp32_precision")
_CUDA_SETTINGS = ("backends.fp32_precision", "backends.cuda.matmul.fp32_precision",
                  "backends.cuda.matmul.allow_bf16_reduced_precision_reduction",
                  "backends.cudnn.enabled", "backends.cudnn.conv.fp32_precision")


def _torch_setting(path: str):
    obj = torch
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj if obj is None or isinstance(obj, (bool, int, float, str)) else str(obj)


def compile_backend() -> str:
    """The ``torch.compile`` backend of ``compile=True`` runs: ``$DIFFGEN_COMPILE_BACKEND``,
    default "inductor" (others: "aot_eager", "eager", ...)."""
    return os.environ.get("DIFFGEN_COMPILE_BACKEND", "inductor")


def arithmetic_settings(device_type: str, compile: bool = False, threads: int = 0) -> dict:
    """What besides the config changes a run's bits: on the CPU the thread count of training
    (``threads``, or 0 for this process's torch thread count: how float sums are split; 30 steps
    at 1 and 2 threads differ by up to 6e-6) and oneDNN's fp32 precision; on CUDA the TF32 /
    reduced-precision settings; the compile backend."""
    paths = _CUDA_SETTINGS if device_type == "cuda" else _CPU_SETTINGS
    settings = {path: _torch_setting(path) for path in paths}
    if device_type == "cpu":
        settings["threads"] = int(threads) or torch.get_num_threads()
    if compile:
        settings["compile_backend"] = compile_backend()
    return settings


def run_key(config: TrainConfig) -> str:
    """Cache key: sha256 of the config (minus ``_NOT_IN_KEY``), the resolved device type, the
    :func:`arithmetic_settings` of this process, the package version and the source of the
    modules that decide a trained result. A ``torchrun`` launch stores its run under the key
    of one of its processes (the process count is not in the key; the per-process thread count is)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _NOT_IN_KEY}
    here = Path(__file__).resolve().parent
    device_type = resolve_device(config.device).type
    return cache_lib.stable_hash({
        "config": fields,
        "device_type": device_type,
        "arithmetic": arithmetic_settings(device_type, config.compile, config.threads),
        "version": __version__,
        "source": cache_lib.source_hash(here / name for name in _RESULT_MODULES),
    })


def run_dir(config: TrainConfig) -> Path:
    """The cache folder of a run: ``<cache>/train/<key>``."""
    return cache_lib.cache_dir() / "train" / run_key(config)


# ----------------------------------------------------------------------------------------------
# Results


@dataclass
class TrainedRun:
    """A trained (or cached) run. ``snapshots[step]`` is an :class:`EDMPrecond` in eval mode
    with the raw weights at that step, on the config's device, without gradients;
    :attr:`ema_snapshots` the same with the EMA weights (empty when the config keeps no EMA)."""

    config: TrainConfig
    splits: Splits  # labels are cluster ids when config.labels == "kmeans"
    sigma_data: float
    snapshots: Dict[int, EDMPrecond]
    history: Tensor  # mean training loss of every step, (step,) float32 on the CPU
    steps_per_second: float  # measured while training (stored with the cached run)
    complete: bool  # False when max_seconds stopped it before max_steps
    step: int  # steps trained
    key: str
    clusters: Optional[Clusters] = None
    ema_states: Dict[int, Dict[str, Tensor]] = dataclasses.field(default_factory=dict, repr=False)
    _ema_built: Dict[int, EDMPrecond] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def denoiser(self) -> EDMPrecond:
        """The last snapshot."""
        return self.snapshots[max(self.snapshots)]

    def ema_snapshot(self, step: int) -> EDMPrecond:
        """The EMA weights at ``step`` as an :class:`EDMPrecond` (built on first use)."""
        if step not in self.ema_states:
            raise KeyError(f"run has no EMA snapshot at step {step}; it has {sorted(self.ema_states)}"
                           + ("" if self.ema_states else " (its config keeps no EMA)"))
        if step not in self._ema_built:
            device = next(self.denoiser.parameters()).device
            self._ema_built[step] = _snapshot(self.config, self.splits, self.n_classes, self.sigma_data,
                                              self.ema_states[step], device)
        return self._ema_built[step]

    @property
    def ema_snapshots(self) -> Dict[int, EDMPrecond]:
        """{step: EMA denoiser} for every snapshot step (empty without EMA)."""
        return {step: self.ema_snapshot(step) for step in sorted(self.ema_states)}

    @property
    def n_classes(self) -> int:
        """Labels the network accepts (0 when unconditional); the NULL label is n_classes."""
        return self.splits.n_classes if self.config.conditional else 0


def build_network(config: TrainConfig, image_shape, n_classes: int) -> nn.Module:
    """The raw network F(x_in, c_noise, labels) that ``config`` describes."""
    if config.model == "mlp":
        return MLPDenoiser(image_shape, width=config.mlp_width, depth=config.mlp_depth,
                           n_classes=n_classes)
    return UNet(image_shape, channels=config.channels, channel_mult=config.channel_mult,
                num_blocks=config.num_blocks, kernel_size=config.kernel_size,
                attention=config.attention, n_classes=n_classes, norm=config.norm,
                dropout=config.dropout, channels_last=config.channels_last,
                upsample_conv=config.upsample_conv)


def _prepare_splits(config: TrainConfig, centroids: Optional[Tensor] = None):
    splits = load_splits(config.dataset, config.n_train, config.n_val, config.n_feature,
                         seed=config.split_seed, root=config.root)
    clusters = None
    if config.labels == "kmeans" and config.n_clusters > 0:
        clusters = (Clusters(centroids) if centroids is not None
                    else fit_clusters(splits.train.images, config.n_clusters, seed=config.split_seed))
        splits = relabel(splits, clusters)
    return splits, clusters


def _snapshot(config, splits, n_classes, sigma_data, state, device) -> EDMPrecond:
    with torch.random.fork_rng(devices=[]):  # initial weights are overwritten: keep the global RNG
        net = build_network(config, splits.image_shape, n_classes)
    net.load_state_dict(state)
    net.requires_grad_(False)
    return EDMPrecond(net, sigma_data).to(device).eval()


def load_cached(config: TrainConfig) -> Optional[TrainedRun]:
    """The finished run of ``config`` from the cache, or None (a corrupt entry is removed)."""
    path = run_dir(config) / "run.pt"
    if not path.exists():
        return None
    try:
        saved = cache_lib.read_checked(path)
    except cache_lib.CorruptCacheEntry as exc:
        warnings.warn(f"corrupt cache entry, rebuilding it: {exc}", RuntimeWarning, stacklevel=2)
        path.unlink(missing_ok=True)
        return None
    splits, clusters = _prepare_splits(config, saved["centroids"])
    device = distributed.device_for(resolve_device(config.device), distributed.world())
    n_classes = splits.n_classes if config.conditional else 0
    snapshots = {step: _snapshot(config, splits, n_classes, saved["sigma_data"], state, device)
                 for step, state in sorted(saved["snapshots"].items())}
    return TrainedRun(config=config, splits=splits, sigma_data=saved["sigma_data"],
                      snapshots=snapshots, history=saved["history"],
                      steps_per_second=saved["steps_per_second"], complete=True,
                      step=saved["step"], key=path.parent.name, clusters=clusters,
                      ema_states=dict(saved.get("ema_snapshots") or {}))
