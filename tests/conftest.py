"""Test settings shared by the unit tests and the nbval-run chapter notebooks.

`make test` runs pytest on every core (pytest-xdist, one notebook or test file per worker, the
longest notebooks first). Set before any kernel starts, so every notebook kernel inherits them:
each worker computes with its share of the cores (the numbers do not depend on the thread count:
tests/test_thread_invariance.py; the runs train with one thread each wherever they train), and
the repository is importable as ``diffgen_lib``.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def _threads_here() -> int:
    """This process's share of the cores: all of them, or cores / workers in an xdist worker."""
    from diffgen_lib.book.layout import book_threads

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, book_threads() // max(1, workers))


if "PYTEST_XDIST_WORKER" in os.environ:  # a worker: its share, whatever the controller set
    _threads = os.environ["DIFFGEN_THREADS"] = str(_threads_here())
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = _threads
else:
    _threads = os.environ.setdefault("DIFFGEN_THREADS", str(_threads_here()))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep (same numbers)
os.environ.setdefault("DIFFGEN_EXECUTION", "batch")  # the chapters run as `make book` runs them
# no progress bars in the re-executed notebooks: a widget bar in a checked cell is an output the
# committed notebook (whose bars went to a file) does not have
os.environ.setdefault("DIFFGEN_PROGRESS", "off")
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if str(ROOT) not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + _paths)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def requested_chapters(config) -> list:
    """The chapter notebooks of ``book/`` this pytest invocation runs, from its paths (none given:
    the testpaths of pytest.ini, which include book/)."""
    args = [a.split("::")[0] for a in config.args] or [str(ROOT / p) for p in config.getini("testpaths")]
    stems = set()
    for arg in args:
        path = Path(arg)
        path = (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()
        if path == BOOK:
            stems.update(p.stem for p in BOOK.glob("*.ipynb"))
        elif path.suffix == ".ipynb" and path.parent == BOOK:
            stems.add(path.stem)
        elif path == ROOT:
            stems.update(p.stem for p in BOOK.glob("*.ipynb"))
    return sorted(stems)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Before any notebook runs (and before pytest-xdist starts its workers), train the runs of the
    chapters this session executes (their default parameters) side by side on every core and
    longest first, as ``make book`` does; the notebooks then load them from the cache. Only in
    the main process: a worker finds them trained."""
    config = session.config
    if hasattr(config, "workerinput") or config.option.collectonly:
        return
    stems = requested_chapters(config)
    if stems:
        from diffgen_lib.book.cli import train_chapter_runs

        train_chapter_runs(ROOT, stems)  # a run that fails to train fails its chapter's cells as well


def pytest_collection_modifyitems(session, config, items):
    """Notebooks first, the costliest (as recorded: ``runner.longest_seconds``) first, then the unit
    tests in their order: with one file per worker (``--dist loadfile --no-loadscope-reorder``) the
    long notebooks start at once and the short files fill the other workers."""
    from diffgen_lib.book.runner import longest_seconds

    seconds = {}

    def key(item):
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            return (1, 0.0)
        if path not in seconds:
            seconds[path] = longest_seconds(path)
        return (0, -seconds[path])

    items[:] = sorted(items, key=key)  # stable: a file's items keep their order


@pytest.fixture
def close_figures():
    """For tests that draw figures: the non-interactive backend, and every figure closed afterwards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")
