"""Where the time of a book build goes: py-spy samples every process of the build (the runs'
workers, the chapters' kernels) and this script sorts the samples into kinds of work.

    python benchmarks/profile_build.py record OUT.txt -- python -m diffgen_lib.book build --force
    python benchmarks/profile_build.py report OUT.txt [--wall SECONDS] [--cores N]

``record`` runs the command under ``py-spy record --subprocesses --format raw`` (py-spy from PyPI;
50 samples per second, idle threads left out). ``report`` reads the collapsed stacks and prints
one table: core-seconds per kind of work, the innermost matching frame deciding (a nearest-
neighbour search inside the partial-inference calibration counts as a nearest-neighbour search).
With ``--wall`` and ``--cores`` it adds the idle core-seconds: wall x cores minus what was sampled
(cores waiting while one long job finishes, and time outside Python that py-spy cannot see).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 50  # samples per second

# (kind, pattern of a frame "function (file:line)"), innermost first wins
KINDS = [
    ("figures (matplotlib)", re.compile(r"\((?:[^)]*/)?(matplotlib|PIL)/")),
    ("bootstrap intervals", re.compile(r"^(bootstrap|nested_bootstrap|group_means_bootstrap|paired_bootstrap|"
                                       r"bootstrap_interval|summarize|bootstrap_spearman|image_bootstrap)\b")),
    ("Frechet distances", re.compile(r"^(gaussian_frechet_distance|psd_sqrt|gen_stats|_gaussian|gaussian_stats)\b")),
    ("nearest-neighbour distances", re.compile(r"^(nearest_neighbors|memorization_ratio|cdist|_cdist|statistics|"
                                               r"nn_distances|normalized_nn_distance)\b")),
    ("optimal-denoiser posteriors", re.compile(r"^(_posterior_pass|posterior_stats|optimal_denoiser|log_density)\b")),
    ("feature extraction", re.compile(r"^(as_numpy_features|__call__ \([^)]*features\.py)")),
    ("training", re.compile(r"^(train_step|_run_loop|_fit_classifier|train_classifier)\b")),
    ("sampling (sampler steps)", re.compile(r"^(sample|generate|record_sampler)\b")),
    ("denoising errors (gap curves, reconstructions)", re.compile(r"^(denoising_errors|reconstruct|train_val_errors)\b")),
    ("process start and imports", re.compile(r"^(<module>|_find_and_load|_load_unlocked|exec_module)\b")),
]
OTHER = "other"


def kind_of(stack: str) -> str:
    """The kind of work of one collapsed stack (frames separated by ';', outermost first)."""
    frames = stack.split(";")
    for frame in reversed(frames):  # innermost first
        for kind, pattern in KINDS:
            if pattern.search(frame):
                return kind
    return OTHER


def report(path: Path, wall: float | None, cores: int | None) -> None:
    totals: Counter = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        totals[kind_of(stack)] += int(count)
    sampled = sum(totals.values()) / RATE
    rows = [(kind, n / RATE) for kind, n in totals.most_common()]
    if wall is not None and cores is not None:
        rows.append(("idle cores (wall x cores - sampled)", max(0.0, wall * cores - sampled)))
    total = sum(s for _, s in rows)
    print(f"{'kind of work':<52} {'core-s':>8} {'share':>6}")
    print("-" * 68)
    for kind, seconds in rows:
        print(f"{kind:<52} {seconds:>8.0f} {seconds / total:>6.0%}")
    print("-" * 68)
    print(f"{'total':<52} {total:>8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out")
    rec.add_argument("cmd", nargs=argparse.REMAINDER)
    rep = sub.add_parser("report")
    rep.add_argument("path")
    rep.add_argument("--wall", type=float)
    rep.add_argument("--cores", type=int)
    args = parser.parse_args()
    if args.command == "record":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        spy = str(Path(sys.executable).parent / "py-spy")
        sys.exit(subprocess.call([spy, "record", "-r", str(RATE), "-f", "raw", "-o", args.out, "--subprocesses",
                                  "--nonblocking", "--", *cmd]))
    report(Path(args.path), args.wall, args.cores)


if __name__ == "__main__":
    main()
