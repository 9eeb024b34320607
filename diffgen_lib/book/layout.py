"""Where the book lives, and the constants the pipeline's modules share."""

from __future__ import annotations

from pathlib import Path

LIB = Path(__file__).resolve().parent.parent
ROOT = LIB.parent
BOOK = ROOT / "book"

#: pages that read the other chapters' notebooks: executed last, re-executed when any changes
AGGREGATE_PAGES = ("intro", "scales", "claims", "timings")
#: notebook cells tagged like this get ``hide-input`` in the written notebook (folded in the HTML): the
#: parameters papermill injects for a run; the chapter's own parameters cell stays open, a reader
#: wants to see what can be changed
PARAMETER_TAGS = ("injected-parameters",)
#: the thread counts of OpenMP and the BLAS libraries, set with torch's wherever threads are pinned
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` where the
    platform lacks it)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def book_threads() -> int:
    """The threads the whole build may use: ``DIFFGEN_THREADS``, else every core this process may
    run on. They decide how many runs and chapters go side by side, never a run's own thread
    count (:data:`diffgen_lib.studies.experiments.RUN_THREADS`), so the numbers do not depend on it."""
    import os

    value = os.environ.get("DIFFGEN_THREADS")
    return max(1, int(value)) if value else available_cores()


def chapter_threads() -> int:
    """The threads a chapter computes with: ``DIFFGEN_CHAPTER_THREADS`` (its share when the build
    executes chapters side by side), else :func:`book_threads`."""
    import os

    value = os.environ.get("DIFFGEN_CHAPTER_THREADS")
    return max(1, int(value)) if value else book_threads()


#: addresses that name no repository of this project: the placeholder it once carried, and the
#: one Jupyter Book uses when ``repository.url`` is missing
PLACEHOLDER_REPOSITORIES = ("https://github.com/diffgen/diffgen", "https://github.com/executablebooks/jupyter-book")


def repository_url(root: Path = ROOT) -> str | None:
    """The project's repository, ``repository.url`` of ``<root>/_config.yml`` (the one place it is
    written), or None while that is empty or a placeholder."""
    import yaml

    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8")) or {}
    url = str((config.get("repository") or {}).get("url") or "").strip().rstrip("/")
    return url if url and url not in PLACEHOLDER_REPOSITORIES else None


def _rel(path: Path, root: Path = ROOT) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
