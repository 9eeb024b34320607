"""What a cold ``make book`` would take on more cores: a prediction from measured job times.

    python benchmarks/predict_build.py [--cores 2 4 8] [--fixed SECONDS] [--floor]

The build trains the chapters' runs first, one thread each, as many side by side as there are
cores, longest first; then it executes the chapters side by side (one thread each when there are
at least as many cores as chapters), longest first; then the aggregate pages and the HTML. This
script reads the measured times of those jobs from this checkout (each cached run's training
time: its steps over the steps per second it trained at; each chapter's costliest recorded
execution, the one that computed its measurements, from its committed notebook) and replays the
build's schedule on P cores (list scheduling, longest first).
The times were measured with the jobs sharing the machine as the build shares it on two cores, so
the prediction assumes a job takes as long on a bigger machine: it ignores memory bandwidth shared
by more jobs and a faster or slower core. ``--fixed`` adds the parts that do not parallelize (the
environment, the aggregate pages, the HTML and the PDF), measured separately.

``--floor`` also prints the least time the runs' training arithmetic can take here: the FLOPs of
every run (steps x batch x the forward + backward FLOPs of one training image, counted as
``bench_flops.py`` counts them) at this machine's one-thread fp32 matrix-product rate on every
core, i.e. with the networks at 100% of that rate (they train at about 70%).
"""

from __future__ import annotations

import argparse
import heapq
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffgen_lib import cache  # noqa: E402
from diffgen_lib.book import AGGREGATE_PAGES, ROOT, toc_chapters  # noqa: E402
from diffgen_lib.book.params import parse_spec  # noqa: E402
from diffgen_lib.book.runner import longest_seconds  # noqa: E402
from diffgen_lib.studies import book_runs  # noqa: E402


def makespan(durations, workers: int) -> float:
    """Wall time of independent jobs on ``workers`` workers, each new job (longest first) going
    to the first free worker."""
    free = [0.0] * max(1, workers)
    for d in sorted(durations, reverse=True):
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
    return max(free)


def book_configs() -> list:
    """The configs of every run the build trains (the chapters' default parameters)."""
    values_of = {}
    for stem in book_runs.CHAPTER_RUNS:
        specs = parse_spec(stem, ROOT / "book")
        values_of[stem] = {name: spec.default for name, spec in specs.items()}
    return book_runs.runs_of_chapters(values_of)


def run_seconds() -> list:
    """The training time of every run the build trains (from its cache entry), in seconds."""
    out = []
    for config in book_configs():
        path = book_runs.run_dir(config) / "run.pt"
        if not path.exists():
            raise SystemExit(f"run not in the cache ({path}): run `make book` first")
        saved = cache.read_checked(path)
        out.append(saved["step"] / saved["steps_per_second"])
    return out


def chapter_seconds() -> list:
    """Each chapter's costliest recorded execution (:func:`runner.longest_seconds`: the one that
    computed its measurements; a later execution that loads them from the cache is far shorter)."""
    return [longest_seconds(ROOT / "book" / f"{stem}.ipynb") for stem in toc_chapters(ROOT)
            if stem not in AGGREGATE_PAGES]


def training_gflop() -> float:
    """GFLOP of training every run of the build: steps x batch x forward + backward per image."""
    from bench_flops import counted_flops

    return sum(c.max_steps * c.batch_size * counted_flops(c)[0] / 1e9 for c in book_configs())


def print_floor(cores) -> None:
    from bench_flops import matmul_gflops

    gflop, rate = training_gflop(), matmul_gflops(1)
    print(f"training arithmetic: {gflop:,.0f} GFLOP; one-thread fp32 product rate {rate:.1f} GFLOP/s")
    for p in cores:
        seconds = gflop / (rate * p)
        print(f"{p:>5} cores at the product rate: {seconds:>6.0f} s ({seconds / 60:.1f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--fixed", type=float, default=0.0, help="seconds that do not parallelize")
    parser.add_argument("--floor", action="store_true", help="also the runs' arithmetic at the product rate")
    args = parser.parse_args()
    runs, chapters = run_seconds(), chapter_seconds()
    print(f"{len(runs)} runs ({sum(runs):.0f} s of training), {len(chapters)} chapters ({sum(chapters):.0f} s)")
    print(f"{'cores':>5} {'runs':>7} {'chapters':>9} {'fixed':>6} {'predicted':>10}")
    for p in args.cores:
        r, c = makespan(runs, p), makespan(chapters, p)
        total = r + c + args.fixed
        print(f"{p:>5} {r:>7.0f} {c:>9.0f} {args.fixed:>6.0f} {total:>7.0f} s ({total / 60:.1f} min)")
    if args.floor:
        print_floor(args.cores)


if __name__ == "__main__":
    main()
