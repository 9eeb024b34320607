"""Training and evaluation throughput of the book's run families as a share of this machine's
fp32 matrix-product rate.

    python benchmarks/bench_flops.py [--steps 300] [--threads 2] [--repeats 3]

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the network the book
trains (:func:`diffgen_lib.studies.experiments.gap_run`: the 8x8 digits run, and the same recipe
on 14x14 MNIST-5k with N = 1,000): forward + backward of the EDM loss per training image, forward
per evaluation image (matrix products and convolutions; elementwise work is not counted, so the
shares are lower bounds of the arithmetic done). The machine's rate is the best median GFLOP/s of
square fp32 matrix products (n = 512, 1024, 2048) with the same thread count. Training is timed by
:func:`diffgen_lib.train.train` itself (steps/s of its loop, no cache); evaluation by
:func:`diffgen_lib.measure.metrics.denoising_errors` over 16 noise levels, as the gap curves run it.
Each figure is the median of ``--repeats`` repetitions. Prints one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib import diffusion  # noqa: E402
from diffgen_lib.data import load_splits  # noqa: E402
from diffgen_lib.measure import metrics  # noqa: E402
from diffgen_lib.runs import TrainConfig, build_network  # noqa: E402
from diffgen_lib.studies import experiments  # noqa: E402
from diffgen_lib.train import train  # noqa: E402

FAMILIES = {
    "8x8 digits, N=300": experiments.gap_run(device="cpu"),
    "14x14 MNIST-5k, N=1000": experiments.gap_run(dataset="mnist5k14", n_train=1000, device="cpu"),
}


def matmul_gflops(threads: int, repeats: int = 7) -> float:
    """The best median rate (GFLOP/s) of square fp32 matrix products with ``threads`` threads."""
    torch.set_num_threads(threads)
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - start)
        best = max(best, 2 * n ** 3 / statistics.median(times) / 1e9)
    return best


def counted_flops(config: TrainConfig):
    """(forward + backward FLOPs per training image, forward FLOPs per image) of the config's network."""
    splits = load_splits(config.dataset, config.n_train, config.n_val, config.n_feature)
    net = build_network(config, splits.image_shape, 0)
    denoiser = diffusion.EDMPrecond(net, splits.sigma_data)
    batch = config.batch_size
    y = splits.train.images[:batch]
    sigma = torch.full((batch,), 0.5)
    noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        diffusion.edm_loss(denoiser, y, sigma, noise).mean().backward()
    train_flops = counter.get_total_flops() / batch
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        denoiser(y + sigma.view(-1, 1, 1, 1) * noise, sigma)
    return train_flops, counter.get_total_flops() / batch


def evaluation_images_per_second(config: TrainConfig, n_images: int = 200) -> float:
    splits = load_splits(config.dataset, config.n_train, config.n_val, config.n_feature)
    denoiser = diffusion.EDMPrecond(build_network(config, splits.image_shape, 0), splits.sigma_data).eval()
    sigmas = diffusion.log_sigma_grid()[::4].numpy()
    images = splits.val.images[:n_images]
    metrics.denoising_errors(denoiser, images[:20], sigmas[:2], 0)  # warm-up
    start = time.perf_counter()
    metrics.denoising_errors(denoiser, images, sigmas, 0)
    return len(images) * len(sigmas) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rate = statistics.median(matmul_gflops(args.threads) for _ in range(args.repeats))
    print(f"{args.threads} threads, torch {torch.__version__}: fp32 matrix products {rate:.1f} GFLOP/s")
    header = (f"{'run family':<24} {'batch':>5} {'GFLOP/img f+b':>13} {'train img/s':>11} {'train share':>11} "
              f"{'GFLOP/img f':>11} {'eval img/s':>10} {'eval share':>10}")
    print(header)
    print("-" * len(header))
    for name, config in FAMILIES.items():
        config = dataclasses.replace(config, max_steps=args.steps, snapshot_steps=(), threads=args.threads)
        fb, f = counted_flops(config)
        torch.set_num_threads(args.threads)
        train_rate = statistics.median(train(config, progress=False, cache=False).steps_per_second * config.batch_size
                                       for _ in range(args.repeats))
        eval_rate = statistics.median(evaluation_images_per_second(config) for _ in range(args.repeats))
        print(f"{name:<24} {config.batch_size:>5} {fb / 1e9:>13.4f} {train_rate:>11.0f} "
              f"{train_rate * fb / 1e9 / rate:>11.0%} {f / 1e9:>11.4f} {eval_rate:>10.0f} "
              f"{eval_rate * f / 1e9 / rate:>10.0%}", flush=True)


if __name__ == "__main__":
    main()
