"""Speed and memory of the optimal denoiser against a plain matrix product of the same shapes.

Prints a table: for each (M, N, D, sigma), the median time of ``optimal_denoiser``, the median time
of the two plain products it needs (x @ train.T and weights @ train), the median of their ratio
(1.0 = as fast as plain matrix products; the target is >= 0.5) with its range over repetitions,
the ratio of the best times, and the size of the denoiser's one (M, N)-shaped buffer (a chunk of
logits). The two are timed alternately, one repetition of each at a time, so that background load
on a shared machine affects both alike. On a machine busy with other
jobs, ``--clock cpu`` times the process's CPU time instead of wall time (run it with
OMP_NUM_THREADS=1: then time spent waiting for a core is not counted, and no thread waits for
another).

Run: python benchmarks/bench_analytic.py [--repeat R] [--small] [--clock wall|cpu]
"""

import argparse
import statistics
import time

import torch

from diffgen_lib import analytic

SHAPES = [(1024, 1000, 64), (2048, 5000, 784), (4096, 20000, 64)]
SIGMAS = (0.05, 0.5, 5.0)


def interleaved_times(fns, repeat, clock=time.perf_counter):
    """Per-repetition times of each function, run alternately (after one warm-up call each)."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times):
            t = clock()
            fn()
            out.append(clock() - t)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed repetitions per shape and sigma")
    parser.add_argument("--small", action="store_true", help="only the smallest shape")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the process's CPU time (for busy machines, with one thread)")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.repeat} interleaved "
          f"repetitions, {args.clock} clock")
    print(f"{'M':>6} {'N':>6} {'D':>5} {'sigma':>7} {'denoiser s':>11} {'matmul s':>9} "
          f"{'rate ratio':>10} {'(min-max)':>11} {'of best':>7} {'buffer MB':>9}")
    for m, n, d in SHAPES[:1] if args.small else SHAPES:
        train = torch.rand(n, d) * 2 - 1
        x = train[torch.randint(n, (m,))] + 0.3 * torch.randn(m, d)
        weights = torch.softmax(torch.randn(m, n), 1)

        def plain():
            (x @ train.T)
            (weights @ train)

        rows, cols = analytic.chunk_shape(m, n)
        buffer_mb = rows * cols * 4 / 2**20  # float32
        for sigma in SIGMAS:
            def denoiser():
                analytic.optimal_denoiser(x, sigma, train)

            t_plain, t_den = interleaved_times([plain, denoiser], args.repeat, clock)
            ratios = [p / q for p, q in zip(t_plain, t_den)]
            spread = f"({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"{m:>6} {n:>6} {d:>5} {sigma:>7} {statistics.median(t_den):>11.4f} "
                  f"{statistics.median(t_plain):>9.4f} {statistics.median(ratios):>10.2f} {spread:>11} "
                  f"{min(t_plain) / min(t_den):>7.2f} {buffer_mb:>9.1f}")
    # the subnormal trap: the same product with weights that are mostly subnormal floats
    w = torch.full((1024, 5000), 1e-40)
    ones = torch.ones_like(w)
    train = torch.rand(5000, 64)
    t_sub, t_norm = interleaved_times([lambda: w @ train, lambda: ones @ train], 3, clock)
    print(f"subnormal weights: product {min(t_sub) / min(t_norm):.1f}x slower than with normal floats "
          "(the denoiser zeroes negligible weights to avoid this)")


if __name__ == "__main__":
    main()
