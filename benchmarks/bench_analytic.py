"""Speed and memory of the optimal denoiser against a plain matrix product of the same shapes.

Prints a table: for each (M, N, D, sigma), the time of ``optimal_denoiser``, the time of the two
plain products it needs (x @ train.T and weights @ train), their ratio (1.0 = as fast as plain
matrix products), and the peak extra memory of one call. Run: python benchmarks/bench_analytic.py
"""

import time

import torch

from diffgen_lib import analytic


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'M':>6} {'N':>6} {'D':>5} {'sigma':>7} {'denoiser s':>11} {'matmul s':>9} {'rate ratio':>10} {'chunk MB':>9}")
    for m, n, d in [(1024, 1000, 64), (2048, 5000, 784), (4096, 20000, 64)]:
        train = torch.rand(n, d) * 2 - 1
        x = train[torch.randint(n, (m,))] + 0.3 * torch.randn(m, d)
        weights = torch.softmax(torch.randn(m, n), 1)

        def plain():
            (x @ train.T)
            (weights @ train)

        t_plain = best_of(plain)
        for sigma in (0.05, 0.5, 5.0):
            t_den = best_of(lambda: analytic.optimal_denoiser(x, sigma, train))
            rows = max(1, min(m, max(analytic.MAX_PAIRS_PER_CHUNK // n, min(analytic.MIN_ROWS, analytic.MEMORY_PAIRS // n))))
            extra_mb = 3 * rows * n * 4 / 2**20  # logits, weights and a temporary, float32
            print(f"{m:>6} {n:>6} {d:>5} {sigma:>7} {t_den:>11.4f} {t_plain:>9.4f} {t_plain / t_den:>10.2f} {extra_mb:>9.0f}")
    # the subnormal trap: the same product with weights that are mostly subnormal floats
    w = torch.full((1024, 5000), 1e-40)
    train = torch.rand(5000, 64)
    t_sub = best_of(lambda: w @ train)
    t_norm = best_of(lambda: torch.ones_like(w) @ train)
    print(f"subnormal weights: product {t_sub / t_norm:.1f}x slower than with normal floats "
          "(the denoiser zeroes negligible weights to avoid this)")


if __name__ == "__main__":
    main()
