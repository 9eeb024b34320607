"""The memorization check at MNIST's scale on the CPU.

    python benchmarks/bench_memorization.py [--threads N] [--samples 10000] [--train 60000]
                                            [--heldout 10000] [--dims 784] [--draws 5] [--n-ref 1000]

Times :func:`diffgen_lib.measure.memorization_check.check_memorization` (pixels, the default
feature space) of ``--samples`` random images against ``--train`` random training images and
``--heldout`` random held-out images of ``--dims`` pixels (float32 in [-1, 1] from seeded
generators, shaped (N, 1, 28, 28) when ``--dims`` is 784, else (N, dims)), with ``--threads``
threads (default: every core this process may use). Prints one table row: the wall-clock
seconds of the whole check and of each of its stages (``MemorizationReport.timings``).

Where the time goes at the default sizes (2 cores): nearest-neighbour searches on the
matrix-product path (the held-out images' two nearest training images for the null's copy
fraction, the samples' for theirs and for the gallery and C_T, the copier pool against each
draw's references), k-means for C_T's cells (fitted on at most 10,000 training images) and the
fitted Gaussian's samples. README ("Check your own model") gives the measured times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib.measure.memorization_check import check_memorization  # noqa: E402
from diffgen_lib.book.layout import available_cores  # noqa: E402


def random_images(n: int, dims: int, seed: int) -> torch.Tensor:
    x = torch.rand(n, dims, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x.reshape(n, 1, 28, 28) if dims == 784 else x


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--heldout", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=784)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--n-ref", type=int, default=1000)
    parser.add_argument("--progress", action="store_true", help="show the stages' progress bar")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    samples = random_images(args.samples, args.dims, 0)
    train = random_images(args.train, args.dims, 1)
    heldout = random_images(args.heldout, args.dims, 2)
    start = time.perf_counter()
    report = check_memorization(samples, train, heldout, n_draws=args.draws, n_ref=args.n_ref,
                                progress=args.progress)
    total = time.perf_counter() - start
    stages = list(report.timings)
    head = ["samples", "train", "heldout", "dims", "draws", "threads", "seconds"] + stages
    row = [args.samples, args.train, args.heldout, args.dims, args.draws, args.threads, f"{total:.1f}"] + \
          [f"{report.timings[s]:.1f}" for s in stages]
    widths = [max(len(str(h)), len(str(v))) for h, v in zip(head, row)]
    print(" | ".join(str(h).rjust(w) for h, w in zip(head, widths)))
    print(" | ".join(str(v).rjust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    main()
