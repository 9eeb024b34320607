"""The book's training runs, defined once.

Several chapters use the same trained networks: the training-gap chapter trains them, the
inference, trajectory and factor chapters load them from the cache. Building every config here
keeps their cache keys identical across chapters. Each function takes the chapter parameters
that change a run and returns a :class:`~diffgen_lib.train.TrainConfig`.

The U-Net's architecture comes from a named preset (:data:`MODEL_PRESETS`, the chapters'
``model`` parameter): ``"small"``, the book's CPU-sized network, and ``"ddpmpp"``, a
DDPM++-sized network for 32x32 images on a GPU.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..measure import evaluation
from . import run_parameters
from ..train import TrainConfig, TrainedRun, train

# Every run keeps this many evenly spaced snapshots, so all runs can be followed through training.
N_SNAPSHOTS = 6
# Classifier-free guidance needs the NULL label during training (Ho & Salimans 2022 use 0.1-0.2).
CFG_LABEL_DROPOUT = 0.1

MODEL_PRESETS: Dict[str, Dict[str, Any]] = {
    # The book's CPU-sized U-Net: TrainConfig's defaults (0.38M parameters at channels 32).
    "small": dict(channel_mult=(1, 2), num_blocks=1, attention=False, upsample_conv=False),
    # DDPM++-sized for 32x32 images (CIFAR-10), after EDM's CIFAR-10 network (Karras et al.
    # 2022): three levels 32/16/8 px of 2x the base width, 4 residual blocks per level, one
    # self-attention layer (here at the lowest level, 8x8, where this U-Net puts it; EDM's is
    # at 16x16), Adam at lr 1e-3 with a short linear warmup. At channels 128 it has 44.8M
    # parameters (EDM's: 56M, with one more decoder block per level) and costs 35 GFLOP per
    # 32x32 image forward, 105 GFLOP forward + backward (a conv after each upsampling, as
    # DDPM++'s up-sampling blocks have). Unlike EDM it keeps dropout 0, as the book's other runs
    # do: the overfitting the book measures is not regularized away. Like every run it keeps
    # EDM's EMA of the weights beside the raw weights (TrainConfig.ema_halflife_kimg).
    "ddpmpp": dict(channel_mult=(2, 2, 2), num_blocks=4, attention=True, upsample_conv=True,
                   lr=1e-3, lr_warmup_steps=1000),
}
"""U-Net presets: name -> the :class:`TrainConfig` fields it sets (the chapters' ``model``)."""


def snapshot_schedule(max_steps: int, n: int = N_SNAPSHOTS) -> Tuple[int, ...]:
    """n evenly spaced steps ending at max_steps (duplicates removed for tiny runs)."""
    if max_steps < 1 or n < 1:
        raise ValueError(f"need max_steps >= 1 and n >= 1, got {max_steps}, {n}")
    return tuple(sorted({max(1, round(max_steps * (k + 1) / n)) for k in range(n)}))


def model_preset(name: str) -> Dict[str, Any]:
    """The TrainConfig fields of U-Net preset ``name`` (a copy); ValueError names the presets."""
    if name not in MODEL_PRESETS:
        raise ValueError(f"unknown model preset {name!r}; presets: {', '.join(MODEL_PRESETS)}")
    return dict(MODEL_PRESETS[name])


def gap_run(dataset: str = "digits", n_train: int = 300, channels: int = 32, steps: int = 1500,
            labels: str = "none", n_clusters: int = 0, seed: int = 0, device: str = "auto",
            n_val: int = 500, n_feature: int = 500, root=None, model: str = "small",
            batch_size: int = 64, precision: str = "fp32", compile: bool = False,
            threads: Optional[int] = None, **overrides) -> TrainConfig:
    """The book's main run (the training-gap chapter's defaults) and its variants.

    ``model`` names a U-Net preset of :data:`MODEL_PRESETS`; ``batch_size``, ``precision``
    ("fp32" or "bf16") and ``compile`` go to the :class:`TrainConfig` fields of the same names.
    ``threads`` (default :func:`run_threads`) is the CPU thread count each run trains with.
    Conditional runs (``labels`` "class" or "kmeans") drop the label with probability
    :data:`CFG_LABEL_DROPOUT`, so the same network also serves classifier-free guidance.
    """
    conditional = labels == "class" or (labels == "kmeans" and n_clusters > 0)
    config = TrainConfig(dataset=dataset, n_train=n_train, n_val=n_val, n_feature=n_feature,
                         labels=labels, n_clusters=n_clusters, channels=channels, max_steps=steps,
                         snapshot_steps=snapshot_schedule(steps),
                         label_dropout=CFG_LABEL_DROPOUT if conditional else 0.0,
                         batch_size=batch_size, precision=precision, compile=compile,
                         seed=seed, device=device, root=None if root is None else str(root),
                         threads=run_threads() if threads is None else threads, **model_preset(model))
    return replace(config, **overrides) if overrides else config


RUN_THREADS = 1
"""CPU threads every run of the book trains with, wherever it trains (:attr:`TrainConfig.threads`,
in the run's key: the thread count splits float sums, so it changes a run's bits). One thread per
run, and more cores train more runs side by side (:func:`train.train_many`): the same weights on a
laptop, a 2-core CI machine and a 64-core server. The book's small networks use a second thread
poorly anyway."""


def run_threads() -> int:
    """Threads per CPU training run of the book: :data:`RUN_THREADS`, on every machine."""
    return RUN_THREADS


def width_runs(widths: Sequence[int], **kwargs) -> Dict[int, TrainConfig]:
    """One run per U-Net base width at equal steps (model size, claim C2)."""
    return {w: gap_run(channels=w, **kwargs) for w in widths}


def size_runs(n_trains: Sequence[int], **kwargs) -> Dict[int, TrainConfig]:
    """One run per training-set size at equal steps (dataset size)."""
    return {n: gap_run(n_train=n, **kwargs) for n in n_trains}


# The chapters' parameters that define a run (:mod:`run_parameters` declares them once; n_eval
# is an evaluation setting, and the training seed is each chapter's own).
RUN_PARAMETERS = tuple(name for name in run_parameters.SPECS
                       if name not in ("n_eval", "n_seeds") and not name.startswith("scale2_")) + ("seed",)


def trained_with_curves(configs: Dict[int, TrainConfig], n_eval: int = 200) -> Tuple[
        Dict[int, TrainConfig], Dict[int, TrainedRun], Dict[int, "evaluation.GapCurves"]]:
    """The runs of ``configs`` with their training-gap curves (``n_eval`` train and val images,
    as in the training-gap chapter), trained or loaded from the cache: (configs, runs, curves),
    with the keys of ``configs``."""
    runs = {n: train(c) for n, c in configs.items()}
    return configs, runs, {n: evaluation.gap_curves(run, n_eval=n_eval) for n, run in runs.items()}


def load_size_runs(n_trains: Sequence[int], n_eval: int = 200, **kwargs):
    """:func:`trained_with_curves` of the size runs, keyed by the training-set size."""
    return trained_with_curves(size_runs(n_trains, **kwargs), n_eval)


def run_kwargs(values: Dict[str, Any], exclude: Sequence[str] = ()) -> Dict[str, Any]:
    """The run-defining values among a chapter's parameter ``values`` (:data:`RUN_PARAMETERS`,
    less ``exclude``), as keyword arguments of :func:`gap_run` and the run families."""
    return {k: values[k] for k in RUN_PARAMETERS if k not in exclude}


def second_scale_run(params: Dict[str, Any], exclude: Sequence[str] = (),
                     n_train: Optional[int] = None) -> TrainConfig:
    """The second-scale run of a chapter's parameters ``params``: the main run's recipe (network,
    batch, validation and feature splits, seed) on ``scale2_dataset`` with ``scale2_n_train``
    training images (or ``n_train``, for the second scale's dataset-size runs) and
    ``scale2_steps`` steps; ``exclude`` as in :func:`run_kwargs` (a chapter whose ``seed`` seeds
    its sample sets excludes it: the run keeps the default training seed). ``scale2_threads``
    (0 or absent: :func:`run_threads`) is the CPU threads it trains with (more, on a machine with
    cores to spare, for a run that trains alone)."""
    common = run_kwargs(params, exclude=("dataset", "n_train", "steps", *exclude))
    return gap_run(dataset=params["scale2_dataset"],
                   n_train=params["scale2_n_train"] if n_train is None else n_train,
                   steps=params["scale2_steps"], threads=params.get("scale2_threads") or None, **common)


def second_scale_sizes(params: Dict[str, Any]) -> List[int]:
    """The second scale's training-set sizes, ascending: ``scale2_n_train`` and the chapter's
    ``scale2_sizes`` (absent: none)."""
    return sorted({int(params["scale2_n_train"]), *map(int, params.get("scale2_sizes", ()))})


def second_scale_size_runs(params: Dict[str, Any], exclude: Sequence[str] = ()) -> Dict[int, TrainConfig]:
    """One second-scale run per size of :func:`second_scale_sizes`, at equal steps, keyed by the
    training-set size (the dataset-size comparison at the second scale)."""
    return {n: second_scale_run(params, exclude, n_train=n) for n in second_scale_sizes(params)}


def training_seeds(params: Dict[str, Any], scale: int = 1) -> List[int]:
    """The training seeds of a scale's main run: ``seed``, ``seed + 1``, ... (``n_seeds`` of them
    at the first scale, ``scale2_n_seeds`` at the second; one when the parameter is absent)."""
    n = int(params.get("n_seeds" if scale == 1 else "scale2_n_seeds", 1))
    return [int(params.get("seed", 0)) + k for k in range(n)]


def main_seed_runs(params: Dict[str, Any]) -> Dict[int, TrainConfig]:
    """The main run of the first scale with each of its training seeds (the first is the main run)."""
    common = run_kwargs(params, exclude=("seed",))
    return {s: gap_run(**{**common, "seed": s}) for s in training_seeds(params, 1)}


def second_scale_seed_runs(params: Dict[str, Any]) -> Dict[int, TrainConfig]:
    """The second-scale run with each of its training seeds (the first is the second-scale run)."""
    return {s: second_scale_run({**params, "seed": s}) for s in training_seeds(params, 2)}


def shared_runs(params: Dict[str, Any]) -> Dict[str, TrainConfig]:
    """Every run the training-gap chapter trains for its parameters ``params`` (the main run,
    the model-size, dataset-size and class-conditional runs and the second scale's runs, which
    later chapters load, then the main run and the narrowest and widest network with the further
    training seeds of ``n_seeds``), keyed by a short label, each run once. ``python -m diffgen_lib.book train`` trains them, also under
    ``torchrun``."""
    common = run_kwargs(params, exclude=("n_train", "channels"))
    runs = {"main": gap_run(n_train=params["n_train"], channels=params["channels"], **common)}
    runs.update({f"width {w}": c for w, c in width_runs(params["widths"], n_train=params["n_train"],
                                                           **common).items()})
    runs.update({f"N={n}": c for n, c in size_runs(params["size_trains"], channels=params["channels"],
                                                     **common).items()})
    runs["class-conditional"] = gap_run(n_train=params["n_train"], channels=params["channels"],
                                        labels="class", **common)
    runs["second scale"] = second_scale_run(params)
    runs.update({f"second scale, N={n}": c for n, c in second_scale_size_runs(params).items()})
    for s in range(params["seed"] + 1, params["seed"] + int(params.get("n_seeds", 1))):
        seeded = {**common, "seed": s}
        runs[f"main, seed {s}"] = gap_run(n_train=params["n_train"], channels=params["channels"], **seeded)
        for w in sorted({min(params["widths"]), max(params["widths"])}):
            runs[f"width {w}, seed {s}"] = gap_run(n_train=params["n_train"], channels=w, **seeded)
    for label, config in second_scale_seed_runs(params).items():
        runs[f"second scale, seed {label}"] = config
    unique: Dict[str, TrainConfig] = {}
    for label, config in runs.items():
        if config not in unique.values():
            unique[label] = config
    return unique
