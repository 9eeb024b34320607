"""Exact nearest-neighbour search at the memorization check's scale on the CPU.

    python benchmarks/bench_nearest.py [--threads N] [--queries 10000] [--references 60000]
                                       [--dims 784] [--k 2] [--chunk 1024] [--repeats 1]

Times :func:`diffgen_lib.measure.metrics.nearest_neighbors` (Euclidean, k = 2: the memorization
ratio d1 / d2) of ``--queries`` random query rows against ``--references`` random reference rows
of ``--dims`` dimensions (float32, from seeded generators: MNIST's 60,000 training images of
28 x 28 against 10,000 samples by default), with ``--threads`` threads (default: every core this
process may use). A small warm-up search runs first. Prints one table: the median wall-clock
seconds of ``--repeats`` searches, and the rate of the q @ r.T products they contain
(2 Q R D FLOPs) over that whole time, so the share of the time spent elsewhere (distances,
top-k, copies) shows as a lower rate than the machine's matrix-product rate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib.measure import metrics  # noqa: E402
from diffgen_lib.book.layout import available_cores  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--references", type=int, default=60_000)
    parser.add_argument("--dims", type=int, default=784)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=None, help="query chunk (default: nearest_neighbors' own)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    reference = torch.randn(args.references, args.dims, generator=torch.Generator().manual_seed(0))
    query = torch.randn(args.queries, args.dims, generator=torch.Generator().manual_seed(1))
    kwargs = {"k": args.k} if args.chunk is None else {"k": args.k, "chunk": args.chunk}
    metrics.nearest_neighbors(query[:64], reference[:4096], **kwargs)  # warm-up: threads, allocator
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        metrics.nearest_neighbors(query, reference, **kwargs)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    gflops = 2 * args.queries * args.references * args.dims / seconds / 1e9

    header = f"{'queries':>8} {'references':>10} {'dims':>5} {'k':>2} {'threads':>7} {'seconds':>8} {'GFLOP/s':>8}"
    print(header)
    print("-" * len(header))
    print(f"{args.queries:>8} {args.references:>10} {args.dims:>5} {args.k:>2} {args.threads:>7} "
          f"{seconds:>8.2f} {gflops:>8.1f}")


if __name__ == "__main__":
    main()
