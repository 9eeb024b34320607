"""Where the book lives, and the constants the pipeline's modules share."""

from __future__ import annotations

from pathlib import Path

LIB = Path(__file__).resolve().parent.parent
ROOT = LIB.parent
BOOK = ROOT / "book"

#: pages that read the other chapters' notebooks: executed last, re-executed when any changes
AGGREGATE_PAGES = ("claims", "timings")
#: notebook cells tagged like this get ``hide-input`` in the written notebook (HTML shows outputs only)
PARAMETER_TAGS = ("parameters", "injected-parameters")
DEFAULT_THREADS = 2
#: the thread counts of OpenMP and the BLAS libraries, set with torch's wherever threads are pinned
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def chapter_threads() -> int:
    """The threads a chapter computes with: ``DIFFGEN_CHAPTER_THREADS`` (its share when the build
    executes chapters side by side), else ``DIFFGEN_THREADS`` (default 2)."""
    import os

    return int(os.environ.get("DIFFGEN_CHAPTER_THREADS") or os.environ.get("DIFFGEN_THREADS", DEFAULT_THREADS))


def _rel(path: Path, root: Path = ROOT) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
