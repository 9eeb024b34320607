"""Throughput of the CPU and GPU profiles, and the effect of bf16 autocast on the measured gap.

    python benchmarks/bench_scale.py [--quick] [--compile] [--threads 2]
    python benchmarks/bench_scale.py --bf16-effect [--n-eval 200]

Default mode: one markdown table with, per profile and precision,

* training samples/s: the library's training step (``train._Trainer.train_step``, the step
  :func:`diffgen_lib.train.train` runs: CPU-drawn batch, data on the device, EDM loss under the
  config's autocast, fused Adam), timed after warm-up steps;
* sampler images/s: :func:`diffgen_lib.diffusion.generate`, 18 EDM Heun steps (35 network
  evaluations per image), per-sample CPU noise included;
* evaluation images/s: :func:`diffgen_lib.measure.metrics.denoising_errors` at the 64 sigmas of the
  measurement grid (one image = 64 network evaluations).

Profiles: "cpu" -- the book's default U-Net on the 8x8 digits, and a wider U-Net (channels 64)
on the 14x14 ``mnist5k14``, on the CPU; "gpu" -- a DDPM++-sized U-Net (channels 128, channel_mult
(2, 2, 2), 2 blocks per level, attention) on random data of CIFAR-10 shape (3x32x32), batch 256,
fp32 and bf16 autocast, channels-last, ``--compile`` for torch.compile. Throughput does not
depend on the pixel values, so the GPU profile needs no dataset. Without CUDA its rows read
"not measured (no GPU)".

``--bf16-effect``: trains the default run (``TrainConfig()``, five extra snapshots kept, which
does not change training) in fp32 and under bf16 autocast, in a temporary cache, measures both
runs' training-gap curves with :func:`diffgen_lib.measure.evaluation.gap_curves` (evaluation in fp32 for
both) and prints the peak gaps, their sigmas and the largest difference of the gap curves.

Timings on a shared machine vary; run it on an idle one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib import diffusion, train as train_lib
from diffgen_lib.measure import metrics
from diffgen_lib.data import Dataset, Splits  # noqa: E402
from diffgen_lib.diffusion import EDMPrecond  # noqa: E402
from diffgen_lib.networks import count_parameters, resolve_device  # noqa: E402
from diffgen_lib.runs import TrainConfig  # noqa: E402

N_SIGMAS = 64
SAMPLER_STEPS = 18
NOT_MEASURED = "not measured (no GPU)"


@dataclasses.dataclass(frozen=True)
class Profile:
    device: str         # "cpu" or "cuda"
    name: str
    config: TrainConfig
    random_shape: Optional[tuple] = None  # data of this shape instead of config.dataset
    sample_batch: int = 256
    eval_batch: int = 512


def profiles(compile_: bool) -> List[Profile]:
    gpu = TrainConfig(channels=128, channel_mult=(2, 2, 2), num_blocks=2, attention=True,
                      batch_size=256, lr=1e-3, channels_last=True, compile=compile_, device="cuda")
    return [
        Profile("cpu", "digits 8x8, default U-Net", TrainConfig(device="cpu")),
        Profile("cpu", "mnist5k14 14x14, U-Net channels 64",
                TrainConfig(dataset="mnist5k14", n_train=1000, channels=64, device="cpu")),
        Profile("cuda", "CIFAR-10 shape 3x32x32 (random), DDPM++-size U-Net", gpu,
                random_shape=(3, 32, 32), sample_batch=1000, eval_batch=1000),
        Profile("cuda", "CIFAR-10 shape 3x32x32 (random), DDPM++-size U-Net",
                dataclasses.replace(gpu, precision="bf16"), random_shape=(3, 32, 32),
                sample_batch=1000, eval_batch=1000),
    ]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_splits(shape: tuple, n: int = 2048, seed: int = 0) -> Splits:
    """Uniform [-1, 1] images with 10 random labels: the throughput of a dataset of this shape."""
    g = torch.Generator().manual_seed(seed)
    data = Dataset(torch.rand((n,) + tuple(shape), generator=g) * 2 - 1,
                   torch.randint(10, (n,), generator=g))
    return Splits("random", data, data, data, 10, tuple(shape), float(data.images.std()))


def splits_of(profile: Profile) -> Splits:
    if profile.random_shape is not None:
        return random_splits(profile.random_shape)
    return train_lib._prepare_splits(profile.config)[0]


def training_rate(config: TrainConfig, splits: Splits, device: torch.device, warmup: int,
                  steps: int) -> tuple:
    """(samples/s, trainer) of the library's training step, timed after ``warmup`` steps."""
    trainer = train_lib._Trainer(config, splits, float(splits.sigma_data), 0, device)
    for _ in range(warmup):  # includes torch.compile's compilation when config.compile
        trainer.train_step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _sync(device)
    seconds = time.perf_counter() - start
    if not torch.isfinite(trainer.history[:trainer.step]).all():
        raise FloatingPointError("training loss is not finite")
    return steps * config.batch_size / seconds, trainer


def denoiser_of(net: torch.nn.Module, sigma_data: float, precision: str, device: torch.device,
                compile_: bool) -> Callable:
    """D(x; sigma) of the network in eval mode under the precision's autocast (output float32)."""
    net = net.eval().requires_grad_(False)
    precond = EDMPrecond(torch.compile(net) if compile_ else net, sigma_data)

    def denoise(x, sigma, labels=None):
        with train_lib.autocast(precision, device):
            return precond(x, sigma, labels).float()

    return denoise


def sampler_rate(denoise: Callable, shape: tuple, device: torch.device, n: int, batch: int) -> float:
    """Images/s of :func:`diffusion.generate` (18 Heun steps), after one warm-up batch."""
    diffusion.generate(denoise, list(range(batch)), shape, SAMPLER_STEPS, device, batch)
    start = time.perf_counter()
    out = diffusion.generate(denoise, list(range(n)), shape, SAMPLER_STEPS, device, batch)
    seconds = time.perf_counter() - start  # generate returns CPU tensors: already synchronized
    if not torch.isfinite(out).all():
        raise FloatingPointError("sampler output is not finite")
    return n / seconds


def evaluation_rate(denoise: Callable, images: torch.Tensor, device: torch.device, batch: int) -> float:
    """Images/s of :func:`metrics.denoising_errors` at the 64 sigmas (64 evaluations per image)."""
    sigmas = diffusion.log_sigma_grid(N_SIGMAS).numpy()
    metrics.denoising_errors(denoise, images[:batch], sigmas[:2], batch_size=batch, device=device)
    start = time.perf_counter()
    err = metrics.denoising_errors(denoise, images, sigmas, batch_size=batch, device=device)
    seconds = time.perf_counter() - start  # the errors come back to the host: synchronized
    if not np.isfinite(err).all():
        raise FloatingPointError("denoising errors are not finite")
    return len(images) / seconds


def measure(profile: Profile, quick: bool) -> dict:
    config = profile.config
    device = resolve_device(config.device)
    gpu = device.type == "cuda"
    splits = splits_of(profile)
    warmup = (3 if quick else 10) if not config.compile else 20
    steps = (20 if quick else 100) if not gpu else (50 if quick else 200)
    samples_s, trainer = training_rate(config, splits, device, warmup, steps)
    denoise = denoiser_of(trainer.net, float(splits.sigma_data), config.precision, device,
                          config.compile)
    n_sample = profile.sample_batch * (1 if quick or not gpu else 4)
    if not gpu:
        n_sample = 128 if quick else 512
    images_s = sampler_rate(denoise, splits.image_shape, device, n_sample, min(profile.sample_batch, n_sample))
    n_eval = (128 if quick else 512) if not gpu else profile.eval_batch * (2 if quick else 8)
    images = splits.train.images
    images = images.repeat((n_eval + len(images) - 1) // len(images), 1, 1, 1)[:n_eval]
    eval_s = evaluation_rate(denoise, images, device, min(profile.eval_batch, n_eval))
    return {"params": count_parameters(trainer.net), "train": samples_s, "sampler": images_s,
            "eval": eval_s}


def throughput_table(quick: bool, compile_: bool) -> str:
    rows = ["| device | profile | params | batch | precision | training samples/s "
            f"| sampler images/s ({SAMPLER_STEPS} Heun steps) | evaluation images/s ({N_SIGMAS} sigmas) |",
            "|---|---|---|---|---|---|---|---|"]
    cuda = torch.cuda.is_available()
    for p in profiles(compile_):
        c = p.config
        precision = c.precision + (", channels-last" if c.channels_last else "") + (
            ", compiled" if c.compile else "")
        if p.device == "cuda" and not cuda:
            rows.append(f"| cuda | {p.name} | - | {c.batch_size} | {precision} | {NOT_MEASURED} "
                        f"| {NOT_MEASURED} | {NOT_MEASURED} |")
            continue
        r = measure(p, quick)
        name = torch.cuda.get_device_name() if p.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
        rows.append(f"| {name} | {p.name} | {r['params'] / 1e6:.2f}M | {c.batch_size} | {precision} "
                    f"| {r['train']:,.0f} | {r['sampler']:,.1f} | {r['eval']:,.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(rows)


# ----------------------------------------------------------------------------------------------
# bf16 effect on the measured training gap


def bf16_effect(n_eval: int, device: str, channels: int = 32) -> str:
    from diffgen_lib.measure import evaluation

    snapshots = (250, 500, 750, 1000, 1250)  # kept copies of the weights; training is unchanged
    configs = {p: TrainConfig(precision=p, channels=channels, snapshot_steps=snapshots, device=device)
               for p in ("fp32", "bf16")}
    curves, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DIFFGEN_CACHE"] = tmp
        for p, config in configs.items():
            run = train_lib.train(config, progress=False)
            curves[p] = evaluation.gap_curves(run, n_eval=n_eval)
            seconds[p] = config.max_steps / run.steps_per_second
    a, b = curves["fp32"], curves["bf16"]
    diff = np.abs(a.gap - b.gap)
    lines = [f"default run (TrainConfig(channels={channels}), {configs['fp32'].max_steps} steps), gap curves at "
             f"{len(a.sigmas)} sigmas, n_eval {a.n_eval}, snapshots {list(a.steps)}",
             "| precision | training s (measured while training) | peak gap (last snapshot) | peak sigma | peak gap per snapshot |",
             "|---|---|---|---|---|"]
    for p, c in curves.items():
        pk = c.peak()
        per = ", ".join(f"{c.peak(k)['peak_gap']:.3f}" for k in range(len(c.steps)))
        lines.append(f"| {p} | {seconds[p]:.1f} | {pk['peak_gap']:.4f} | {pk['peak_sigma']:.4g} | {per} |")
    lines.append(f"max |gap_bf16 - gap_fp32|: last snapshot {diff[-1].max():.4f} "
                 f"(at sigma {a.sigmas[diff[-1].argmax()]:.4g}), all snapshots {diff.max():.4f}; "
                 f"relative to the fp32 peak gap: {diff[-1].max() / a.peak()['peak_gap']:.1%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and images (a few minutes on a CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the GPU profile's network")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16-effect", action="store_true", help="bf16 vs fp32 training gap of the default run")
    parser.add_argument("--n-eval", type=int, default=200, help="evaluation images per split (--bf16-effect)")
    parser.add_argument("--device", default="cpu", help="device of the --bf16-effect runs")
    parser.add_argument("--channels", type=int, default=32, help="U-Net width of the --bf16-effect runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}", flush=True)
    if args.bf16_effect:
        print(bf16_effect(args.n_eval, args.device, args.channels))
    else:
        print(throughput_table(args.quick, args.compile))


if __name__ == "__main__":
    main()
