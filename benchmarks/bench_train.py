"""Training speed of the default networks: steps/s and the share of time in forward/backward.

    python benchmarks/bench_train.py [--steps 200] [--threads 2] [--device auto]
    python benchmarks/bench_train.py --evaluation [--n-eval 200]

For each config it trains ``--steps`` steps with :func:`diffgen_lib.train.train` (no cache) and
times a bare loop of forward + backward on one fixed batch; "fwd/bwd share" is the bare loop's
time per step over the full training step's (the rest: batch drawing, Adam, EMA, bookkeeping).
Prints one table. Timings on a shared machine vary; run it on an idle one.

``--evaluation``: the training-gap chapter's main run (:func:`diffgen_lib.studies.experiments.gap_run`,
its snapshots included) trained in a temporary cache, then
:func:`diffgen_lib.measure.evaluation.gap_curves` of all its snapshots (64 sigmas, ``--n-eval`` train and
val images); prints both times and the evaluation's cost as a fraction of the training's.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib.diffusion import EDMPrecond, edm_loss, sample_training_sigmas  # noqa: E402
from diffgen_lib.networks import count_parameters, resolve_device  # noqa: E402
from diffgen_lib.runs import TrainConfig, build_network  # noqa: E402
from diffgen_lib.train import train  # noqa: E402

CONFIGS = {
    "unet (default)": TrainConfig(),
    "unet channels=16": TrainConfig(channels=16),
    "unet channels=48": TrainConfig(channels=48),
    "unet class-cond.": TrainConfig(labels="class", label_dropout=0.1),
    "unet mnist5k14": TrainConfig(dataset="mnist5k14", n_train=1000),
    "mlp": TrainConfig(model="mlp", batch_size=128, lr=1e-3),
}


def forward_backward_seconds(config: TrainConfig, steps: int, device: torch.device) -> float:
    """Seconds per forward + backward on one fixed batch (no optimizer, no batch drawing)."""
    from diffgen_lib.data import load_splits

    splits = load_splits(config.dataset, config.n_train, config.n_val, config.n_feature)
    n_classes = 10 if config.conditional else 0
    torch.manual_seed(0)
    net = build_network(config, splits.image_shape, n_classes).to(device)
    denoiser = EDMPrecond(net, splits.sigma_data)
    gen = torch.Generator().manual_seed(0)
    y = splits.train.images[:config.batch_size].to(device)
    sigma = sample_training_sigmas(config.batch_size, gen).to(device)
    noise = torch.randn(y.shape, generator=gen).to(device)
    labels = splits.train.labels[:config.batch_size].to(device) if n_classes else None
    for i in range(steps + 5):
        if i == 5:
            _sync(device)
            start = time.perf_counter()
        net.zero_grad(set_to_none=True)
        edm_loss(denoiser, y, sigma, noise, labels).mean().backward()
    _sync(device)
    return (time.perf_counter() - start) / steps


def evaluation_against_training(n_eval: int, device: str) -> None:
    """Time the main run's training and the per-sigma evaluation of its snapshots (fresh cache)."""
    from diffgen_lib.measure import evaluation
    from diffgen_lib.studies import experiments

    config = experiments.gap_run(device=device)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DIFFGEN_CACHE"] = tmp
        start = time.perf_counter()
        run = train(config, progress=False)
        t_train = time.perf_counter() - start
        start = time.perf_counter()
        curves = evaluation.gap_curves(run, n_eval=n_eval)
        t_eval = time.perf_counter() - start
    n_fwd = len(curves.steps) * len(curves.sigmas) * 2 * curves.n_eval
    print(f"main run: {config.max_steps} steps x batch {config.batch_size}, {len(run.snapshots)} snapshots")
    print(f"training {t_train:.1f} s ({config.max_steps * config.batch_size:,} images forward + backward)")
    print(f"evaluation {t_eval:.1f} s ({n_fwd:,} forward passes: {len(curves.steps)} snapshots x "
          f"{len(curves.sigmas)} sigmas x {2 * curves.n_eval} images)")
    print(f"evaluation / training: {t_eval / t_train:.2f}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--evaluation", action="store_true",
                        help="time the main run's per-sigma evaluation against its training")
    parser.add_argument("--n-eval", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.evaluation:
        print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
        evaluation_against_training(args.n_eval, args.device)
        return

    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{args.steps} steps per config")
    header = f"{'config':<18} {'params':>9} {'batch':>5} {'image':>8} {'steps/s':>8} " \
             f"{'images/s':>9} {'fwd/bwd share':>13}"
    print(header)
    print("-" * len(header))
    for name, config in CONFIGS.items():
        config = dataclasses.replace(config, max_steps=args.steps, device=args.device)
        run = train(config, progress=False, cache=False)
        bare = forward_backward_seconds(config, max(20, args.steps // 4), device)
        params = count_parameters(run.denoiser.model)
        shape = "x".join(map(str, run.splits.image_shape[1:]))
        print(f"{name:<18} {params:>9,} {config.batch_size:>5} {shape:>8} "
              f"{run.steps_per_second:>8.1f} {run.steps_per_second * config.batch_size:>9.0f} "
              f"{bare * run.steps_per_second:>13.0%}", flush=True)


if __name__ == "__main__":
    main()
